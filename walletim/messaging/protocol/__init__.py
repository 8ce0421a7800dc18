"""The relay wire protocol (pure): ids, the auth statement, and every frame, both ways.

Shared by the client (:mod:`walletim.messaging.relay_client`) and the relay
(:mod:`walletim.relay`): the only code both sides run. Its modules: :mod:`.ids` (sizes, ids,
signed statements), :mod:`.fields` (reading and writing fields, the prekey bundle),
:mod:`.client_frames` and :mod:`.server_frames` (one dataclass per ``op``, each direction's
encoder and decoder); everything is re-exported here.

A client and a relay talk over one websocket; each websocket message is one JSON object
(UTF-8 text) with an ``op``. Binary blobs are standard base64; ids are lowercase hex.

What the relay learns per message is ``to`` (a mailbox id), ``mid`` (a random id the sender
picks, for idempotent sends and acks), the envelope's size (a padding bucket + 48) and
times. The envelope is sealed to the recipient (see :mod:`walletim.messaging.session`), so the
sender's identity, the ratchet headers and the text are inside it.

Ids:

- ``mailbox_id(identity_key)`` = BLAKE2b-128(chat identity key, person "wim-mailbox-v1"):
  where mail for that chat key waits. A client proves it owns a mailbox by signing the
  relay's challenge with that key (Ed25519).
- ``directory_id(address)`` = BLAKE2b-128(20-byte address, person "wim-dir-v1"): where a
  wallet's prekey bundle is listed. The relay lists a bundle only if its EIP-712 binding
  verifies for that address and names the authenticated chat key.

Frames, client to relay (``rid`` is an optional request id echoed in the reply)::

    auth     {key, sig, url}                  -> ok {mailbox, queued, prekeys, dkey}
    dkey     {hash}                           -> ok {}                    (authenticated)
    publish  {binding, spk, opks, replace, dev?} -> ok {prekeys}          (authenticated)
    bundle   {dir, opk?}                      -> bundle {bundle} | error not_found
    send     {to, mid, env, dk?}              -> sent {mid}  (after it is durably stored)
    fetch    {limit}                          -> deliver {msgs, more}     (authenticated)
    ack      {mids}                           -> ok {}  (if rid given)    (authenticated)
    listen   {}                               -> ok {}, then deliver pushes (authenticated)
    watch    {dirs}                           -> ok {}, then published pushes
    bput     {bid, tok, off, total, data, end} -> ok {off} | ok {ver, size} (on end)
    bget     {bid, off}                       -> backup {ver, size, off, data} | not_found
    bdel     {bid, tok}                       -> ok {deleted}
    dput     {devices}                        -> ok {version} | error stale_devices
    dget     {dir}                            -> devices {devices} | error not_found

relay to client: ``challenge {v, relay, key, nonce, sig, limits}`` first, then replies and
pushes (``deliver`` without rid, ``published {dir}``), or ``error {code, message, retry?}``.

Login is bound to one relay (protocol v2). The challenge carries the relay's long-term
Ed25519 key and the relay's signature over the nonce (:func:`challenge_message`); the client
pins that key per relay URL on first use. The client signs :func:`auth_message`: the
normalised URL it dialled (:func:`normalize_relay_url`), the relay's key and the nonce. A
relay accepts the login only for one of its own public URLs and its own key, so a relay that
passes another relay's challenge to a user and forwards her answer gets a signature the
other relay refuses. (A man in the middle at the SAME URL is a transparent proxy: only TLS,
``wss://``, keeps it out.)

Mailbox quotas (in the spirit of Signal's sealed-sender "unidentified access" keys): each
mailbox owner keeps a random *delivery key* and gives it to the peers it talks to, inside
the end-to-end encryption. For one relay the key becomes a *delivery token*
(:func:`delivery_token`: a keyed hash of the relay's key, so one relay cannot use it at
another); the owner registers only the token's hash (``dkey``). A ``send`` that presents
the recipient's token (``dk``) may use the whole mailbox; without it (a stranger) the
envelope counts against a bounded stranger share of the mailbox and per-connection,
per-sender and per-IP quotas. ``mailbox_full`` and ``rate_limited`` are temporary: the error
carries ``retry`` (seconds) and the sender keeps the message and tries again later.

Chat backups (protocol v3; :mod:`walletim.keys.backup`): an encrypted archive is stored
under ``bid`` = BLAKE2b-128(write token, person "wim-backup-id-v1"); both come from the
wallet's seed, so only its owner can name the id, and a write (``bput``, ``bdel``) must
present the token that hashes to it (``forbidden`` otherwise): nobody else can replace or
delete a backup, nor claim its id first. A backup travels in parts of at most
:data:`BACKUP_PART` bytes, staged per connection and committed by the ``end`` part, which
replaces the stored one at once; a relay refuses a backup over its size limit with
``backup_too_large``. Reading needs only the id (the archive is ciphertext bound to the
account); a relay of protocol 2 knows none of these frames.

Device lists (protocol v4; :mod:`walletim.messaging.devices`): a wallet's chat devices, an
EIP-712 list signed by the wallet's account key, are published with ``dput`` (no login: the
signature is what counts) and listed at the wallet's directory. The relay refuses a list that
does not verify (``bad_devices``) and keeps only a version newer than the one it has: an
older version, or the same version with other content, is refused (``stale_devices``).
Readers check the list again (the relay is not trusted) and refuse one older than the newest
they know. A relay of protocol 2 or 3 knows neither frame.

A bundle per device (protocol v5): a device publishes its own bundle with ``dev`` (its
16-byte id, hex) and the relay lists it at ``device_directory_id(address, dev)`` =
BLAKE2b-128(address || dev, person "wim-devdir-v1"), only if the wallet's device list the
relay keeps names that device with the logged-in key (``bad_bundle`` otherwise: a device
never listed, or revoked, lists nothing). Peers fetch each device's bundle with ``bundle``
at that directory; the wallet's own directory keeps the single bundle older clients read.
Such a bundle's ``binding`` is only ``{wallet, device}`` (:func:`device_binding`): the
wallet's signed device list binds the device's key, and readers check a served key
against that list.

Close codes: 1009 frame too large, 4400 malformed frame, 4401 authentication failed,
4429 rate limit exceeded, 1001 relay shutting down.

Every decoder here is bounded and raises only :class:`~walletim.errors.MessagingError`
(:class:`FrameError` for a frame that must close the connection).
"""

from walletim.messaging.protocol.client_frames import (
    Ack,
    Auth,
    BackupDelete,
    BackupGet,
    BackupPut,
    BundleRequest,
    ClientFrame,
    DeliveryKey,
    DevicesGet,
    DevicesPut,
    Fetch,
    Listen,
    Publish,
    Send,
    Watch,
    decode_client_frame,
    encode_client_frame,
)
from walletim.messaging.protocol.fields import (
    CLOSE_AUTH_FAILED,
    CLOSE_GOING_AWAY,
    CLOSE_MALFORMED,
    CLOSE_RATE_LIMITED,
    CLOSE_TOO_LARGE,
    CLOSE_TRY_LATER,
    ERROR_CODES,
    Binding,
    Bundle,
    FrameError,
    SignedPrekey,
    b64,
    hex_id,
    unb64,
)
from walletim.messaging.protocol.ids import (
    AUTH_CONTEXT,
    BACKUP_PART,
    BACKUP_TOKEN_BYTES,
    CHALLENGE_CONTEXT,
    DELIVERY_HASH_BYTES,
    DELIVERY_KEY_BYTES,
    DELIVERY_TOKEN_BYTES,
    DEVICE_BUNDLES_VERSION,
    ENVELOPE_SIZES,
    ID_HEX,
    MAX_BACKUP_SIZE,
    MAX_BATCH,
    MAX_ENVELOPE,
    MAX_FRAME_BYTES,
    MAX_OPKS,
    MAX_RETRY_S,
    MAX_URL,
    MIN_PROTOCOL_VERSION,
    PROTOCOL_VERSION,
    SEAL_OVERHEAD,
    SPK_CONTEXT,
    WRONG_URL,
    auth_message,
    backup_id,
    challenge_message,
    delivery_token,
    delivery_token_hash,
    device_binding,
    device_directory_id,
    directory_id,
    mailbox_id,
    normalize_relay_url,
    parse_device_binding,
    spk_signed_bytes,
    valid_envelope_length,
)
from walletim.messaging.protocol.server_frames import (
    BackupPart,
    BundleReply,
    Challenge,
    Deliver,
    Delivered,
    DevicesReply,
    Error,
    Ok,
    Published,
    Sent,
    ServerFrame,
    decode_server_frame,
    encode_server_frame,
    expired_field,
)

__all__ = [
    "AUTH_CONTEXT",
    "BACKUP_PART",
    "BACKUP_TOKEN_BYTES",
    "CHALLENGE_CONTEXT",
    "CLOSE_AUTH_FAILED",
    "CLOSE_GOING_AWAY",
    "CLOSE_MALFORMED",
    "CLOSE_RATE_LIMITED",
    "CLOSE_TOO_LARGE",
    "CLOSE_TRY_LATER",
    "DELIVERY_HASH_BYTES",
    "DELIVERY_KEY_BYTES",
    "DELIVERY_TOKEN_BYTES",
    "DEVICE_BUNDLES_VERSION",
    "ENVELOPE_SIZES",
    "ERROR_CODES",
    "ID_HEX",
    "MAX_BACKUP_SIZE",
    "MAX_BATCH",
    "MAX_ENVELOPE",
    "MAX_FRAME_BYTES",
    "MAX_OPKS",
    "MAX_RETRY_S",
    "MAX_URL",
    "MIN_PROTOCOL_VERSION",
    "PROTOCOL_VERSION",
    "SEAL_OVERHEAD",
    "SPK_CONTEXT",
    "WRONG_URL",
    "Ack",
    "Auth",
    "BackupDelete",
    "BackupGet",
    "BackupPart",
    "BackupPut",
    "Binding",
    "Bundle",
    "BundleReply",
    "BundleRequest",
    "Challenge",
    "ClientFrame",
    "Deliver",
    "Delivered",
    "DeliveryKey",
    "DevicesGet",
    "DevicesPut",
    "DevicesReply",
    "Error",
    "Fetch",
    "FrameError",
    "Listen",
    "Ok",
    "Publish",
    "Published",
    "Send",
    "Sent",
    "ServerFrame",
    "SignedPrekey",
    "Watch",
    "auth_message",
    "b64",
    "backup_id",
    "challenge_message",
    "decode_client_frame",
    "decode_server_frame",
    "delivery_token",
    "delivery_token_hash",
    "device_binding",
    "device_directory_id",
    "directory_id",
    "encode_client_frame",
    "encode_server_frame",
    "expired_field",
    "hex_id",
    "mailbox_id",
    "normalize_relay_url",
    "parse_device_binding",
    "spk_signed_bytes",
    "unb64",
    "valid_envelope_length",
]
