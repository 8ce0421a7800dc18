"""The protocol's sizes, ids and signed statements (pure): what a client and a relay both
compute the same way. See :mod:`walletim.messaging.protocol` for the whole protocol."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from walletim.errors import MessagingError
from walletim.messaging.envelope import BUCKETS

#: 3: chat backups (bput, bget, bdel); 4: device lists (dput, dget); 5: a bundle per device
#: (publish's ``dev``, listed at :func:`device_directory_id`).
PROTOCOL_VERSION = 5
DEVICE_BUNDLES_VERSION = 5  # the first protocol whose relay lists a bundle per device
MIN_PROTOCOL_VERSION = 2  # the oldest relay a client still chats through (without backups)
SEAL_OVERHEAD = 48  # crypto_box_seal: ephemeral public key (32) + Poly1305 tag (16)
ENVELOPE_SIZES = frozenset(b + SEAL_OVERHEAD for b in BUCKETS)
MAX_ENVELOPE = max(ENVELOPE_SIZES)
MAX_FRAME_BYTES = 128 * 1024  # base64 of the largest envelope + JSON fields fits
BACKUP_PART = 48 * 1024  # bytes of a backup per bput / backup frame (base64 fits a frame)
MAX_BACKUP_SIZE = 1 << 31  # the largest backup size a frame may name (a relay sets its own limit)
BACKUP_TOKEN_BYTES = 32  # the write token a backup's id is the hash of
MAX_BATCH = 256  # mids per ack, messages per deliver, dirs per watch
MAX_OPKS = 200  # one-time prekeys a client may keep listed on the relay
ID_HEX = 32  # mailbox, directory and message ids: 16 bytes as hex

AUTH_CONTEXT = b"walletim relay auth v2\x00"
#: The close reason of a login signed for a URL that is not one of the relay's public URLs.
WRONG_URL = "authentication failed (the login is signed for another relay URL)"
CHALLENGE_CONTEXT = b"walletim relay challenge v2\x00"
DELIVERY_KEY_BYTES = 16  # a mailbox owner's delivery key (given to peers, end-to-end)
DELIVERY_TOKEN_BYTES = 16  # the key as presented to one relay
DELIVERY_HASH_BYTES = 32  # what the owner registers with the relay
MAX_URL = 512  # characters of a relay URL in an auth frame
MAX_RETRY_S = 86_400  # the largest retry hint a relay may give
SPK_CONTEXT = b"\x05"  # how a signed prekey's public key is encoded under its signature


def mailbox_id(identity_key: bytes) -> str:
    """The mailbox of a chat identity key (32-byte Ed25519 public key), as 32 hex digits."""
    if len(identity_key) != 32:
        raise MessagingError("a chat identity key is 32 bytes")
    return hashlib.blake2b(identity_key, digest_size=16, person=b"wim-mailbox-v1").hexdigest()


def directory_id(address: str | bytes) -> str:
    """Where ``address``'s prekey bundle is listed, as 32 hex digits (not the raw address)."""
    raw = address if isinstance(address, bytes) else _address_bytes(address)
    if len(raw) != 20:
        raise MessagingError("an address is 20 bytes")
    return hashlib.blake2b(raw, digest_size=16, person=b"wim-dir-v1").hexdigest()


def device_directory_id(address: str | bytes, device_id: bytes) -> str:
    """Where device ``device_id`` of ``address`` lists its own prekey bundle (32 hex digits):
    each device of a wallet its own bundle, so no device's prekeys replace another's."""
    raw = address if isinstance(address, bytes) else _address_bytes(address)
    if len(raw) != 20 or len(device_id) != 16:
        raise MessagingError("an address is 20 bytes and a device id 16")
    return hashlib.blake2b(raw + device_id, digest_size=16, person=b"wim-devdir-v1").hexdigest()


def device_binding(wallet: str, device_id: bytes) -> dict[str, object]:
    """What a device's own bundle carries as its binding (protocol 5): the wallet and the
    device id. The wallet's signed device list is what binds the device's key; a reader
    checks the key it is served against that list, never against this."""
    if len(device_id) != 16:
        raise MessagingError("a device id is 16 bytes")
    return {"wallet": "0x" + _address_bytes(wallet).hex(), "device": device_id.hex()}


def parse_device_binding(doc: object) -> tuple[str, bytes]:
    """(wallet address, device id) of a device bundle's binding. Raises MessagingError."""
    if not isinstance(doc, dict) or set(doc) != {"wallet", "device"}:
        raise MessagingError("a device's binding names its wallet and device only")
    wallet, device = doc["wallet"], doc["device"]
    if not isinstance(wallet, str) or not isinstance(device, str) or len(device) != 32:
        raise MessagingError("malformed device binding")
    raw = _address_bytes(wallet)
    try:
        dev = bytes.fromhex(device)
    except ValueError as exc:
        raise MessagingError("malformed device binding") from exc
    if len(raw) != 20 or len(dev) != 16:
        raise MessagingError("malformed device binding")
    return "0x" + raw.hex(), dev


def _address_bytes(address: str) -> bytes:
    text = address[2:] if address[:2].lower() == "0x" else address
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise MessagingError("not an address") from exc
    return raw


_DEFAULT_PORTS = {"ws": 80, "wss": 443}


def _ipv6(host: str) -> str:
    """``host`` (from between a URL's brackets) as an IPv6 address, lower case. Raises
    MessagingError: not one (``ws://[::]@[:`` names the host ``:``)."""
    import ipaddress

    try:
        return str(ipaddress.IPv6Address(host))
    except ValueError as exc:
        raise MessagingError("not a valid relay URL") from exc


def normalize_relay_url(url: str) -> str:
    """``url`` as a login names it: scheme and host lower case, the default port left out,
    no user info, query or fragment, no trailing slash (``ws://Relay.example:80/`` ->
    ``ws://relay.example``). Two spellings of one relay URL normalise alike.

    Raises:
        MessagingError: not a ws:// or wss:// URL with a host.
    """
    if not isinstance(url, str) or len(url) > MAX_URL:
        raise MessagingError("a relay URL is ws:// or wss:// text")
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        port = parts.port
    except ValueError as exc:
        raise MessagingError("not a valid relay URL") from exc
    if scheme not in _DEFAULT_PORTS or not host:
        raise MessagingError("a relay URL is ws://HOST[:PORT] or wss://HOST[:PORT]")
    if any(c.isspace() or c in "/?#@[]" for c in host):
        raise MessagingError("not a valid relay URL")
    if ":" in host:
        host = f"[{_ipv6(host)}]"
    shown_port = "" if port is None or port == _DEFAULT_PORTS[scheme] else f":{port}"
    path = parts.path.rstrip("/")
    return f"{scheme}://{host}{shown_port}{path}"


def auth_message(url: str, relay_key: bytes, nonce: bytes) -> bytes:
    """What a client signs with its chat key to open its mailbox: the normalised relay URL
    it dialled, the relay's key (as the challenge gave it and the client pinned) and the
    challenge's nonce. A relay accepts it only for its own URL and key."""
    raw = url.encode("utf-8")
    return AUTH_CONTEXT + len(raw).to_bytes(2, "big") + raw + relay_key + nonce


def challenge_message(relay_id: str, relay_key: bytes, nonce: bytes) -> bytes:
    """What the relay signs with its own key in each challenge (proof it holds the key)."""
    return CHALLENGE_CONTEXT + relay_key + nonce + relay_id.encode("ascii", "replace")


def delivery_token(delivery_key: bytes, relay_key: bytes) -> bytes:
    """The token a sender presents to the relay whose key is ``relay_key`` for a mailbox
    whose owner's delivery key is ``delivery_key`` (a keyed hash: it proves knowing the key
    and is worth nothing at another relay)."""
    if len(delivery_key) != DELIVERY_KEY_BYTES:
        raise MessagingError(f"a delivery key is {DELIVERY_KEY_BYTES} bytes")
    return hashlib.blake2b(
        relay_key, key=delivery_key, digest_size=DELIVERY_TOKEN_BYTES, person=b"wim-dtoken-v1"
    ).digest()


def delivery_token_hash(token: bytes) -> bytes:
    """What the mailbox owner registers with the relay (``dkey``) and the relay compares a
    presented token's hash with (a leaked relay database reveals no token)."""
    return hashlib.blake2b(token, digest_size=DELIVERY_HASH_BYTES, person=b"wim-dkhash-v1").digest()


def backup_id(token: bytes) -> str:
    """The relay id of the chat backup whose write token is ``token``: BLAKE2b-128(token,
    person "wim-backup-id-v1"). The relay checks a write's token against it."""
    return hashlib.blake2b(token, digest_size=16, person=b"wim-backup-id-v1").hexdigest()


def spk_signed_bytes(spk_public: bytes) -> bytes:
    """The bytes a signed prekey's signature covers (X3DH's Encode(SPK))."""
    return SPK_CONTEXT + spk_public


def valid_envelope_length(length: int) -> bool:
    return length in ENVELOPE_SIZES
