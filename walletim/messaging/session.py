"""Chat sessions (pure core): X3DH, the Double Ratchet, and sealed envelopes.

The cryptography is python-x3dh and python-doubleratchet (Signal's specifications, with the
recommended primitives: X25519, HKDF-SHA-256, AES-256-CBC + HMAC-SHA-256, configured in
:mod:`walletim.messaging.ratchet`); this module frames their output and keeps their state as
versioned JSON (an account's prekeys: :mod:`walletim.messaging.prekeys`).

What goes on the wire (to the relay, in a ``send`` frame's ``env``)::

    env = crypto_box_seal(recipient's identity key as X25519, pad(frame))

with ``frame`` as in :mod:`walletim.messaging.envelope`. Sealing hides the sender, the
headers and the length (the size is a padding bucket + 48) from the relay. Authenticity comes
from inside: the ratchet's AEAD covers the payload and both identity keys; a session's first
messages carry the X3DH header and the sender's EIP-712 binding, so a first contact's
address is verified before anything is shown.

Robustness, as Signal does it: an initiator attaches the X3DH header to every message until
the peer replies, so any of them can start the session if the first is lost; a conversation
keeps up to :data:`MAX_SESSIONS` sessions (simultaneous first messages from both sides both
decrypt) and sends on the one that last received; skipped message keys are bounded
(:data:`MAX_SKIPPED_KEYS`, as libsignal bounds them). A failed decryption changes no state:
every function here takes state in and returns new state out, and the caller stores it only
when it accepts the message.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from walletim.errors import MessageRejected, MessagingError
from walletim.keys.address import hex_bytes
from walletim.keys.chat import ChatIdentityKey
from walletim.messaging.envelope import (
    RATCHET_HEADER,
    CounterTracker,
    Frame,
    InitialHeader,
    Payload,
    WireKind,
)
from walletim.messaging.prekeys import (
    DEFAULT_OPKS,
    PREKEYS_VERSION,
    SPK_ROTATION_SECONDS,
    Prekeys,
    PublishedKeys,
)
from walletim.messaging.sealing import seal, unseal

if TYPE_CHECKING:  # python-doubleratchet and python-x3dh load only to encrypt or decrypt
    import doubleratchet
    from doubleratchet.types import JSONObject

    from walletim.messaging.ratchet import Ratchet

MAX_SESSIONS = 5  # per conversation, newest first
MAX_EPOCHS = 4  # a peer's counter epochs remembered per conversation
STATE_VERSION = 1


def _hex(data: bytes) -> str:
    return data.hex()


def _unhex(value: object, what: str, size: int | None = None) -> bytes:
    raw = hex_bytes(value, prefix=False, size=size)
    if raw is None:
        raise MessagingError(f"malformed session state ({what})")
    return raw


# -- a peer's keys, as fetched from the relay and verified by the caller -----------------------


@dataclass(frozen=True, slots=True)
class PeerBundle:
    """A peer's X3DH bundle. The caller has verified the EIP-712 binding of ``identity_key``
    to the peer's address; the signed prekey's signature is checked here."""

    identity_key: bytes
    spk: bytes
    spk_sig: bytes
    opk: bytes | None


# -- conversation state ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Session:
    peer: bytes  # the peer's identity key in this session
    base_key: bytes  # the X3DH ephemeral public key: names the session on both sides
    ad: bytes  # X3DH associated data
    ratchet: JSONObject  # python-doubleratchet's own versioned JSON
    init: bytes | None  # X3DH header to attach while we initiated and the peer has not replied

    def to_json(self) -> dict[str, object]:
        return {
            "peer": _hex(self.peer),
            "base": _hex(self.base_key),
            "ad": _hex(self.ad),
            "init": None if self.init is None else _hex(self.init),
            "ratchet": self.ratchet,
        }

    @classmethod
    def from_json(cls, doc: object) -> Session:
        if not isinstance(doc, dict) or not isinstance(doc.get("ratchet"), dict):
            raise MessagingError("malformed session state")
        init = doc.get("init")
        return cls(
            _unhex(doc.get("peer"), "peer", 32),
            _unhex(doc.get("base"), "base", 32),
            _unhex(doc.get("ad"), "ad"),
            doc["ratchet"],
            None if init is None else _unhex(init, "init"),
        )

    def load(self) -> Ratchet:
        from walletim.messaging.ratchet import DR_ARGS, Ratchet

        try:
            return Ratchet.from_json(self.ratchet, *DR_ARGS)
        except Exception as exc:
            raise MessagingError("malformed ratchet state") from exc


@dataclass(frozen=True, slots=True)
class Conversation:
    """One account's state with one peer address: sessions (newest first), our next counter
    and epoch, and what we have seen of the peer's counters per epoch."""

    epoch: str
    next_counter: int = 1
    sessions: tuple[Session, ...] = ()
    trackers: tuple[tuple[str, CounterTracker], ...] = ()  # (peer epoch, tracker), newest first

    @classmethod
    def new(cls, randbytes: Callable[[int], bytes] = os.urandom) -> Conversation:
        return cls(epoch=randbytes(8).hex())

    def active_for(self, peer: bytes) -> Session | None:
        return next((s for s in self.sessions if s.peer == peer), None)

    def tracker(self, epoch: str) -> CounterTracker | None:
        return next((t for e, t in self.trackers if e == epoch), None)

    @property
    def missing(self) -> list[int]:
        """Counters of the peer's current epoch not (yet) received: dropped or late."""
        return sorted(self.trackers[0][1].missing) if self.trackers else []

    def to_json(self) -> dict[str, object]:
        return {
            "version": STATE_VERSION,
            "epoch": self.epoch,
            "next": self.next_counter,
            "sessions": [s.to_json() for s in self.sessions],
            "trackers": [[e, t.to_json()] for e, t in self.trackers],
        }

    @classmethod
    def from_json(cls, doc: object) -> Conversation:
        """Raises MessagingError on a malformed state or one newer than this walletim."""
        state = migrate_conversation(doc)
        raw_sessions, raw_trackers = state.get("sessions"), state.get("trackers")
        next_counter, epoch = state.get("next"), state.get("epoch")
        if not isinstance(raw_sessions, list) or not isinstance(raw_trackers, list):
            raise MessagingError("malformed conversation state")
        try:
            sessions = tuple(Session.from_json(s) for s in raw_sessions)
            trackers = tuple((str(e), CounterTracker.from_json(t)) for e, t in raw_trackers)
        except (KeyError, TypeError, ValueError) as exc:
            raise MessagingError("malformed conversation state") from exc
        if type(next_counter) is not int or next_counter < 1 or not isinstance(epoch, str):
            raise MessagingError("malformed conversation state")
        return cls(epoch, next_counter, sessions[:MAX_SESSIONS], trackers[:MAX_EPOCHS])


#: Upgrades from older stored conversation states: version -> function to the next version.
#: Version 1 is the first; add an entry here (never edit one) when the format changes.
CONVERSATION_MIGRATIONS: dict[int, Callable[[dict[str, object]], dict[str, object]]] = {}


def migrate_conversation(doc: object) -> dict[str, object]:
    """Bring a stored conversation state to :data:`STATE_VERSION`. Raises MessagingError."""
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or type(version) is not int:
        raise MessagingError("malformed conversation state")
    state: dict[str, object] = doc
    if version > STATE_VERSION:
        raise MessagingError(
            f"conversation state version {version} is newer than this walletim ({STATE_VERSION})"
        )
    while version < STATE_VERSION:
        step = CONVERSATION_MIGRATIONS.get(version)
        if step is None:
            raise MessagingError(f"no migration from conversation state version {version}")
        state = step(state)
        version = state.get("version")
        if type(version) is not int:
            raise MessagingError("malformed conversation state")
    return state


# -- encrypting ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What :func:`encrypt` gives: store ``conversation`` (the ratchet stepped), send
    ``envelope``; ``counter`` is the message's number in the conversation."""

    conversation: Conversation
    envelope: bytes
    counter: int


def encrypt(
    me: ChatIdentityKey,
    my_binding: Mapping[str, object],
    conversation: Conversation,
    peer: bytes,
    kind: WireKind,
    body: object,
    *,
    bundle: PeerBundle | None = None,
    now_ms: int | None = None,
    delivery_key: bytes | None = None,
    nonce: bytes | None = None,
    copy_to: str | None = None,
    recipient: str,
) -> Outgoing:
    """Encrypt one message to ``peer`` (their identity key), meant for wallet ``recipient``
    (the peer's; our own for a copy to our other devices), and seal it. Both wallets, ours
    (``my_binding``'s) and ``recipient``, are authenticated with it (:func:`wallets_ad`).

    Uses the newest session with that key; without one, ``bundle`` (the peer's verified
    prekey bundle) starts a new session with X3DH. ``delivery_key`` (ours) travels inside
    the encryption, so the peer can present it to the relay when writing to us; ``nonce``
    is the message's id nonce (see :mod:`walletim.messaging.refs`); ``copy_to`` marks a copy
    to one of our own other devices (see :mod:`walletim.messaging.fanout`).

    Raises:
        MessagingError: no session and no bundle, a bundle whose signed prekey does not
            verify, or a message too large.
    """
    sent = int(time.time() * 1000) if now_ms is None else now_ms
    wallet = my_binding.get("wallet")
    if not isinstance(wallet, str):
        raise MessagingError("our binding names no wallet")
    wallets = wallets_ad(wallet, recipient)
    payload = Payload(
        conversation.epoch, conversation.next_counter, sent, kind, body, delivery_key, nonce,
        copy_to,
    ).encode()  # fmt: skip
    session = conversation.active_for(peer)
    if session is None:
        if bundle is None:
            raise MessagingError("no session with this peer and no prekey bundle to start one")
        if bundle.identity_key != peer:
            raise MessagingError("the prekey bundle is for another identity key")
        session, encrypted = _start(me, bundle, payload, wallets)
    else:
        from walletim.messaging.ratchet import drive

        ratchet = session.load()
        encrypted = drive(ratchet.encrypt_message(payload, session.ad + wallets))
        session = replace(session, ratchet=dict(ratchet.json))
    envelope = seal(peer, _frame(me, my_binding, session, encrypted).encode())
    others = tuple(s for s in conversation.sessions if s.base_key != session.base_key)
    updated = replace(
        conversation,
        next_counter=conversation.next_counter + 1,
        sessions=(session, *others)[:MAX_SESSIONS],
    )
    return Outgoing(updated, envelope, conversation.next_counter)


def _frame(
    me: ChatIdentityKey,
    my_binding: Mapping[str, object],
    session: Session,
    encrypted: doubleratchet.EncryptedMessage,
) -> Frame:
    """An "initial" frame (X3DH header attached) while the peer has not replied, else a
    "message" frame."""
    from walletim.messaging.ratchet import ratchet_header

    header_bytes = ratchet_header(encrypted.header)
    if session.init is None:
        return Frame("message", me.public_key, header_bytes, encrypted.ciphertext)
    x3dh_part = session.init
    header = InitialHeader(
        x3dh_part[:32],
        x3dh_part[32:64],
        x3dh_part[65:97] if x3dh_part[64] == 1 else None,
        my_binding,
        header_bytes,
    ).encode()
    return Frame("initial", me.public_key, header, encrypted.ciphertext)


def wallets_ad(sender: str, recipient: str) -> bytes:
    """What every message authenticates besides X3DH's associated data: the sender's and the
    recipient's wallets (20 bytes each), as the sender meant them. A device key is bound to
    a wallet only by that wallet's signed device list, and nothing stops a wallet from
    listing another's device key: without this a hostile wallet and relay could have a
    message meant for one wallet opened as written to another, or one wallet's words shown
    as another's (an unknown key-share). The receiver authenticates with the sender its
    lists name and its own wallet: any other pair does not decrypt. Raises MessagingError
    (not an address)."""
    out = b"wim-wallets"
    for wallet in (sender, recipient):
        raw = wallet.removeprefix("0x") if isinstance(wallet, str) else ""
        if len(raw) != 40 or not all(c in "0123456789abcdefABCDEF" for c in raw):
            raise MessagingError("a message's wallets are 0x addresses")
        out += bytes.fromhex(raw)
    return out


def _start(
    me: ChatIdentityKey, bundle: PeerBundle, payload: bytes, wallets: bytes
) -> tuple[Session, doubleratchet.EncryptedMessage]:
    import x3dh
    from x3dh.identity_key_pair import IdentityKeyPairSeed

    from walletim.messaging.ratchet import BAD_KEY, DR_ARGS, X3DH_ARGS, Ratchet, X3DHState, drive

    state = X3DHState.create(*X3DH_ARGS, IdentityKeyPairSeed(me.seed))
    peer_bundle = x3dh.Bundle(
        bundle.identity_key,
        bundle.spk,
        bundle.spk_sig,
        frozenset() if bundle.opk is None else frozenset({bundle.opk}),
    )
    try:
        secret, ad, header = drive(
            state.get_shared_secret_active(peer_bundle, require_pre_key=False)
        )
        ratchet, encrypted = drive(
            Ratchet.encrypt_initial_message(*DR_ARGS, secret, bundle.spk, payload, ad + wallets)
        )
    except x3dh.KeyAgreementException as exc:
        raise MessagingError(
            "the peer's signed prekey does not verify: not starting a session"
        ) from exc
    except BAD_KEY as exc:
        raise MessagingError("the peer's published keys are not valid curve points") from exc
    opk = b"\x00" if header.pre_key is None else b"\x01" + header.pre_key
    init = header.ephemeral_key + header.signed_pre_key + opk
    session = Session(bundle.identity_key, header.ephemeral_key, ad, dict(ratchet.json), init)
    return session, encrypted


# -- decrypting ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opened:
    """An unsealed envelope: who claims to send it and, for an initial message, their binding
    (parse and verify it before trusting the sender's address)."""

    sender: bytes
    frame: Frame
    initial: InitialHeader | None

    @property
    def binding(self) -> Mapping[str, object] | None:
        return None if self.initial is None else self.initial.binding


def open_envelope(me: ChatIdentityKey, envelope: bytes) -> Opened:
    """Unseal and parse. Raises MessageRejected (sealed / malformed)."""
    frame = unseal(me, envelope)
    initial = InitialHeader.decode(frame.header) if frame.kind == "initial" else None
    if initial is None and len(frame.header) != RATCHET_HEADER:
        raise MessageRejected("malformed", "bad ratchet header")
    return Opened(frame.sender, frame, initial)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message accepted. Store ``conversation`` (and ``prekeys`` when not None) with it."""

    conversation: Conversation
    prekeys: Prekeys | None  # changed (a one-time prekey used up) when not None
    payload: Payload
    verdict: str  # "ok" | "gap" (messages before this one are missing)
    missing: tuple[int, ...]  # counters of this epoch not received yet
    new_session: bool


def decrypt(
    me: ChatIdentityKey,
    prekeys: Prekeys | Callable[[], Prekeys],
    opened: Opened,
    conversation: Conversation,
    *,
    sender: str,
    recipient: str,
) -> Incoming:
    """Decrypt an opened envelope in ``conversation`` (the sender's, as the caller resolved it)
    from wallet ``sender`` (whose binding or device list holds the sending key) to wallet
    ``recipient`` (ours): a message the sender meant for other wallets does not decrypt
    (:func:`wallets_ad`).

    ``prekeys`` (or a function loading them: only a session's first message needs them) is
    the account's X3DH state. Nothing passed in is modified; on success the new states are
    returned.

    Raises:
        MessageRejected: authentication (tampered, meant for other wallets, or no session to
            decrypt it), replay
            (a message already received), expired-prekey, malformed.
    """
    used_prekeys: Prekeys | None = None
    with warnings.catch_warnings():
        # python-doubleratchet warns (instead of failing) when a peer skipped more keys than
        # the DoS bound in a previous chain; those messages show up as a counter gap.
        warnings.simplefilter("ignore")
        wallets = wallets_ad(sender, recipient)
        if opened.initial is not None:
            tried, used_prekeys = _open_initial(
                prekeys, opened, opened.initial, conversation, wallets
            )
        else:
            tried = _open_message(opened, conversation, wallets)
    if tried.plaintext is None or tried.session is None:
        if tried.replay:
            raise MessageRejected("replay", "a message already received")
        raise MessageRejected(
            "authentication",
            "no session of this conversation decrypts it (tampered, or meant for another wallet)",
        )
    try:
        payload = Payload.decode(tried.plaintext)
    except MessagingError as exc:
        raise MessageRejected("malformed", str(exc)) from exc
    tracker = conversation.tracker(payload.epoch)
    tracker = CounterTracker() if tracker is None else tracker.copy()
    verdict, _ = tracker.observe(payload.counter)
    if verdict == "duplicate":
        raise MessageRejected("replay", f"message {payload.counter} was already received")
    updated = _accepted(conversation, tried.session, payload.epoch, tracker)
    missing = tuple(sorted(tracker.missing))
    return Incoming(updated, used_prekeys, payload, verdict, missing, used_prekeys is not None)


@dataclass(frozen=True, slots=True)
class _Tried:
    """What trying to decrypt gave: the plaintext and the session that opened it (None when
    none did), and whether a session knew it as already received."""

    plaintext: bytes | None
    session: Session | None
    replay: bool = False


def _open_initial(
    prekeys: Prekeys | Callable[[], Prekeys],
    opened: Opened,
    initial: InitialHeader,
    conversation: Conversation,
    wallets: bytes,
) -> tuple[_Tried, Prekeys | None]:
    """A session's first message(s): in the session it started, if we have it; else X3DH as
    the responder (using up a one-time prekey: the prekeys returned are the changed ones)."""
    import doubleratchet
    import x3dh

    from walletim.messaging.ratchet import (
        BAD_KEY,
        DR_ARGS,
        RATCHET_FAILURES,
        Ratchet,
        drive,
        parse_ratchet_header,
    )

    encrypted = doubleratchet.EncryptedMessage(
        parse_ratchet_header(initial.ratchet), opened.frame.ciphertext
    )
    for s in conversation.sessions:
        if s.base_key == initial.ephemeral and s.peer == opened.sender:
            return _try_session(s, encrypted, wallets), None
    used = (prekeys if isinstance(prekeys, Prekeys) else prekeys()).copy()
    header = x3dh.Header(opened.sender, initial.ephemeral, initial.spk, initial.opk)
    secret, ad, spk_priv = used.respond(header)
    try:
        ratchet, plaintext = drive(
            Ratchet.decrypt_initial_message(*DR_ARGS, secret, spk_priv, encrypted, ad + wallets)
        )
    except (*RATCHET_FAILURES, *BAD_KEY) as exc:
        raise MessageRejected(
            "authentication",
            "the first message of a session (tampered, or meant for another wallet)",
        ) from exc
    session = Session(opened.sender, initial.ephemeral, ad, dict(ratchet.json), None)
    return _Tried(plaintext, session), used


def _open_message(opened: Opened, conversation: Conversation, wallets: bytes) -> _Tried:
    """A message in an established session: each of the sender's sessions is tried."""
    import doubleratchet

    from walletim.messaging.ratchet import parse_ratchet_header

    header = parse_ratchet_header(opened.frame.header)
    encrypted = doubleratchet.EncryptedMessage(header, opened.frame.ciphertext)
    replay = False
    for session in conversation.sessions:
        if session.peer != opened.sender:
            continue
        tried = _try_session(session, encrypted, wallets)
        replay = replay or tried.replay
        if tried.plaintext is not None:
            return _Tried(tried.plaintext, tried.session, replay)
    return _Tried(None, None, replay)


def _accepted(
    conversation: Conversation, chosen: Session, epoch: str, tracker: CounterTracker
) -> Conversation:
    """The conversation after accepting a message: ``chosen`` first, the tracker updated."""
    if chosen.init is not None:
        chosen = replace(chosen, init=None)  # the peer has the session: stop attaching X3DH
    others = tuple(s for s in conversation.sessions if s.base_key != chosen.base_key)
    trackers = ((epoch, tracker), *((e, t) for e, t in conversation.trackers if e != epoch))
    return replace(
        conversation,
        sessions=(chosen, *others)[:MAX_SESSIONS],
        trackers=trackers[:MAX_EPOCHS],
    )


def _try_session(
    session: Session, encrypted: doubleratchet.EncryptedMessage, wallets: bytes
) -> _Tried:
    """The plaintext and updated session, or None and whether it was a duplicate."""
    import doubleratchet

    from walletim.messaging.ratchet import BAD_KEY, RATCHET_FAILURES, drive

    ratchet = session.load()
    try:
        plaintext = drive(ratchet.decrypt_message(encrypted, session.ad + wallets))
    except doubleratchet.DuplicateMessageException:
        return _Tried(None, None, True)
    except (*RATCHET_FAILURES, *BAD_KEY):
        return _Tried(None, None, False)
    return _Tried(plaintext, replace(session, ratchet=dict(ratchet.json)))


__all__ = [
    "CONVERSATION_MIGRATIONS",
    "DEFAULT_OPKS",
    "PREKEYS_VERSION",
    "SPK_ROTATION_SECONDS",
    "Conversation",
    "Incoming",
    "InitialHeader",
    "Opened",
    "Outgoing",
    "PeerBundle",
    "Prekeys",
    "PublishedKeys",
    "Session",
    "decrypt",
    "encrypt",
    "migrate_conversation",
    "open_envelope",
    "seal",
    "unseal",
    "wallets_ad",
]
