"""Chat sessions (pure core): X3DH, the Double Ratchet, and sealed envelopes.

The cryptography is python-x3dh and python-doubleratchet (Signal's specifications, with the
recommended primitives: X25519, HKDF-SHA-256, AES-256-CBC + HMAC-SHA-256); this module only
configures them, frames their output, and keeps their state as versioned JSON. Their APIs are
``async`` but never wait on anything, so :func:`_run` drives them synchronously: no event loop.

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

import functools
import json
import os
import time
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import doubleratchet
import x3dh
import xeddsa
from doubleratchet.recommended import (
    HashFunction,
    aead_aes_hmac,
    diffie_hellman_ratchet_curve25519,
    kdf_hkdf,
    kdf_separate_hmacs,
)
from x3dh.identity_key_pair import IdentityKeyPairSeed

from walletim import safejson
from walletim.errors import MessageRejected, MessagingError
from walletim.keys.chat import ChatIdentityKey
from walletim.messaging.envelope import CounterTracker, Frame, Payload, pad, unpad
from walletim.messaging.protocol import SPK_CONTEXT

INFO = b"walletim chat v1"
MESSAGE_CHAIN_CONSTANT = b"\x01\x02"
MAX_SKIPPED_KEYS = 2000  # libsignal's MAX_MESSAGE_KEYS
MAX_SESSIONS = 5  # per conversation, newest first
MAX_EPOCHS = 4  # a peer's counter epochs remembered per conversation
STATE_VERSION = 1
PREKEYS_VERSION = 1
DEFAULT_OPKS = 100
SPK_ROTATION_SECONDS = 7 * 24 * 3600
RATCHET_HEADER = 32 + 4 + 4

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Drive a coroutine that never suspends (the libraries' crypto is synchronous)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a crypto coroutine tried to suspend")


# -- configuration of the libraries -----------------------------------------------------------


class _X3DH(x3dh.BaseState):
    @staticmethod
    def _encode_public_key(key_format: x3dh.IdentityKeyFormat, pub: bytes) -> bytes:
        prefix = SPK_CONTEXT if key_format is x3dh.IdentityKeyFormat.CURVE_25519 else b"\xed"
        return prefix + pub


class _AEAD(aead_aes_hmac.AEAD):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256

    @staticmethod
    def _get_info() -> bytes:
        return INFO + b" message keys"


class _RootKDF(kdf_hkdf.KDF):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256

    @staticmethod
    def _get_info() -> bytes:
        return INFO + b" root chain"


class _MessageKDF(kdf_separate_hmacs.KDF):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256


class _Ratchet(doubleratchet.DoubleRatchet):
    @staticmethod
    def _build_associated_data(associated_data: bytes, header: doubleratchet.Header) -> bytes:
        return len(associated_data).to_bytes(2, "big") + associated_data + _ratchet_header(header)


_DR = (
    diffie_hellman_ratchet_curve25519.DiffieHellmanRatchet,
    _RootKDF,
    _MessageKDF,
    MESSAGE_CHAIN_CONSTANT,
    MAX_SKIPPED_KEYS,  # DoS protection: keys derived for one message at most
    MAX_SKIPPED_KEYS,  # skipped keys kept
    _AEAD,
)
_X3DH_ARGS = (x3dh.IdentityKeyFormat.ED_25519, x3dh.HashFunction.SHA_256, INFO)
_RATCHET_FAILURES = (
    doubleratchet.AuthenticationFailedException,
    doubleratchet.DecryptionFailedException,
    doubleratchet.DoSProtectionException,
    doubleratchet.DuplicateMessageException,
)
#: What the libraries raise for keys from outside that are not valid curve points.
_BAD_KEY = (xeddsa.XEdDSAException, ValueError)


def _ratchet_header(header: doubleratchet.Header) -> bytes:
    if len(header.ratchet_pub) != 32 or not (
        0 <= header.previous_sending_chain_length < 2**32
        and 0 <= header.sending_chain_length < 2**32
    ):
        raise MessagingError("ratchet header out of range")
    return (
        header.ratchet_pub
        + header.previous_sending_chain_length.to_bytes(4, "big")
        + header.sending_chain_length.to_bytes(4, "big")
    )


def _parse_ratchet_header(data: bytes) -> doubleratchet.Header:
    if len(data) != RATCHET_HEADER:
        raise MessagingError("bad ratchet header")
    return doubleratchet.Header(
        data[:32], int.from_bytes(data[32:36], "big"), int.from_bytes(data[36:40], "big")
    )


def _hex(data: bytes) -> str:
    return data.hex()


def _unhex(value: Any, what: str, size: int | None = None) -> bytes:
    try:
        raw = bytes.fromhex(str(value))
    except ValueError as exc:
        raise MessagingError(f"malformed session state ({what})") from exc
    if size is not None and len(raw) != size:
        raise MessagingError(f"malformed session state ({what})")
    return raw


# -- our prekeys (the passive side of X3DH) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishedKeys:
    """What to publish: the signed prekey (X25519 public, its Ed25519 signature, when it was
    made) and one-time prekeys (X25519 publics)."""

    spk: bytes
    spk_sig: bytes
    spk_created: int
    opks: tuple[bytes, ...]


class Prekeys:
    """An account's X3DH prekeys: the signed prekey (and the previous one, for a grace
    period) and the one-time prekeys' private halves, deleted as they are used.

    Serialized by :meth:`to_json` *without* the identity key's secret, which stays in the vault.
    """

    def __init__(self, state: _X3DH, identity: ChatIdentityKey) -> None:
        self._state = state
        self.identity = identity

    @classmethod
    def create(cls, identity: ChatIdentityKey, opks: int = DEFAULT_OPKS) -> Prekeys:
        state = _X3DH.create(*_X3DH_ARGS, IdentityKeyPairSeed(identity.seed))
        state.generate_pre_keys(opks)
        return cls(state, identity)

    def to_json(self) -> dict[str, Any]:
        doc = dict(self._state.json)
        doc["identity_key"] = None  # the seed lives in the vault, not in the store
        return {"version": PREKEYS_VERSION, "x3dh": doc}

    @classmethod
    def from_json(cls, doc: Any, identity: ChatIdentityKey) -> Prekeys:
        """Raises MessagingError on a malformed or newer state."""
        if not isinstance(doc, dict) or not isinstance(doc.get("x3dh"), dict):
            raise MessagingError("malformed prekey state")
        if doc.get("version") != PREKEYS_VERSION:
            raise MessagingError(f"prekey state version {doc.get('version')!r} is not supported")
        inner = dict(doc["x3dh"])
        # (IdentityKeyPair.json calls pydantic's deprecated .json(); go through the model.)
        inner["identity_key"] = json.loads(
            IdentityKeyPairSeed(identity.seed).model.model_dump_json()
        )
        try:
            state, _ = _X3DH.from_json(inner, *_X3DH_ARGS)
        except Exception as exc:  # pydantic validation and friends
            raise MessagingError("malformed prekey state") from exc
        from walletim.keys.chat import verify_ed25519
        from walletim.messaging.protocol import spk_signed_bytes

        # Check the signed prekey's signature against this identity (from the model: the
        # bundle property would derive every one-time prekey's public key, ~3 ms).
        try:
            spk = state.model.signed_pre_key
            spk_public = xeddsa.priv_to_curve25519_pub(spk.priv)
        except _BAD_KEY as exc:
            raise MessagingError("malformed prekey state") from exc
        if not verify_ed25519(identity.public_key, spk_signed_bytes(spk_public), spk.sig):
            raise MessagingError("prekey state belongs to another chat identity")
        return cls(state, identity)

    def copy(self) -> Prekeys:
        return Prekeys.from_json(self.to_json(), self.identity)

    @property
    def published(self) -> PublishedKeys:
        bundle = self._state.bundle
        spk_created = self._state.model.signed_pre_key.timestamp
        return PublishedKeys(
            bundle.signed_pre_key,
            bundle.signed_pre_key_sig,
            int(spk_created),
            tuple(sorted(bundle.pre_keys)),
        )

    @property
    def opk_count(self) -> int:
        return self._state.get_num_visible_pre_keys()

    def add_opks(self, count: int) -> tuple[bytes, ...]:
        """Generate ``count`` one-time prekeys; returns the new public keys (to publish)."""
        before = set(self._state.bundle.pre_keys)
        self._state.generate_pre_keys(count)
        return tuple(sorted(set(self._state.bundle.pre_keys) - before))

    def rotate_if_due(self, now: int, period: int = SPK_ROTATION_SECONDS) -> bool:
        """Rotate the signed prekey when older than ``period`` seconds (the previous one keeps
        working until the next rotation). Returns True if it rotated."""
        if now - self.published.spk_created < period:
            return False
        self._state.rotate_signed_pre_key()
        return True

    def _passive(self, header: x3dh.Header) -> tuple[bytes, bytes, bytes]:
        """X3DH as the responder: (shared secret, associated data, SPK private key). Deletes
        the one-time prekey used. Raises MessageRejected("expired-prekey")."""
        try:
            secret, ad, spk = _run(
                self._state.get_shared_secret_passive(header, require_pre_key=False)
            )
        except x3dh.KeyAgreementException as exc:
            raise MessageRejected(
                "expired-prekey", "the sender used a prekey this account no longer has"
            ) from exc
        except _BAD_KEY as exc:
            raise MessageRejected("malformed", "a key in the session header is invalid") from exc
        if header.pre_key is not None:
            self._state.delete_pre_key(header.pre_key)
        return secret, ad, spk.priv


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
    ratchet: dict[str, Any]  # python-doubleratchet's own versioned JSON
    init: bytes | None  # X3DH header to attach while we initiated and the peer has not replied

    def to_json(self) -> dict[str, Any]:
        return {
            "peer": _hex(self.peer),
            "base": _hex(self.base_key),
            "ad": _hex(self.ad),
            "init": None if self.init is None else _hex(self.init),
            "ratchet": self.ratchet,
        }

    @classmethod
    def from_json(cls, doc: Any) -> Session:
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

    def load(self) -> _Ratchet:
        try:
            return _Ratchet.from_json(self.ratchet, *_DR)
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

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "epoch": self.epoch,
            "next": self.next_counter,
            "sessions": [s.to_json() for s in self.sessions],
            "trackers": [[e, t.to_json()] for e, t in self.trackers],
        }

    @classmethod
    def from_json(cls, doc: Any) -> Conversation:
        """Raises MessagingError on a malformed state or one newer than this walletim."""
        doc = migrate_conversation(doc)
        try:
            sessions = tuple(Session.from_json(s) for s in doc["sessions"])
            trackers = tuple((str(e), CounterTracker.from_json(t)) for e, t in doc["trackers"])
            next_counter = doc["next"]
            epoch = doc["epoch"]
        except (KeyError, TypeError, ValueError) as exc:
            raise MessagingError("malformed conversation state") from exc
        if type(next_counter) is not int or next_counter < 1 or not isinstance(epoch, str):
            raise MessagingError("malformed conversation state")
        return cls(epoch, next_counter, sessions[:MAX_SESSIONS], trackers[:MAX_EPOCHS])


#: Upgrades from older stored conversation states: version -> function to the next version.
#: Version 1 is the first; add an entry here (never edit one) when the format changes.
CONVERSATION_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate_conversation(doc: Any) -> dict[str, Any]:
    """Bring a stored conversation state to :data:`STATE_VERSION`. Raises MessagingError."""
    if not isinstance(doc, dict) or type(doc.get("version")) is not int:
        raise MessagingError("malformed conversation state")
    state: dict[str, Any] = doc
    version = int(state["version"])
    if version > STATE_VERSION:
        raise MessagingError(
            f"conversation state version {version} is newer than this walletim ({STATE_VERSION})"
        )
    while version < STATE_VERSION:
        step = CONVERSATION_MIGRATIONS.get(version)
        if step is None:
            raise MessagingError(f"no migration from conversation state version {version}")
        state = step(state)
        version = int(state["version"])
    return state


# -- sealing ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _curve_public(identity_key: bytes) -> bytes:
    """An Ed25519 identity key as X25519 (public data; cached: ~50 us per conversion)."""
    import nacl.bindings
    import nacl.exceptions

    try:
        return bytes(nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(identity_key))
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise MessagingError("the recipient's identity key is not a valid Ed25519 key") from exc


def seal(recipient_identity: bytes, frame: bytes) -> bytes:
    """Pad ``frame`` to a bucket and seal it to the recipient's identity key (as X25519)."""
    import nacl.bindings

    return bytes(nacl.bindings.crypto_box_seal(pad(frame), _curve_public(recipient_identity)))


def unseal(identity: ChatIdentityKey, envelope: bytes) -> Frame:
    """Open a sealed envelope addressed to ``identity``. Raises MessageRejected."""
    import nacl.bindings
    import nacl.exceptions

    try:
        padded = nacl.bindings.crypto_box_seal_open(
            envelope, _curve_public(identity.public_key), identity.x25519_private_key()
        )
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise MessageRejected("sealed", "not addressed to this chat key, or damaged") from exc
    try:
        return Frame.decode(unpad(padded))
    except MessagingError as exc:
        raise MessageRejected("malformed", str(exc)) from exc


# -- the initial header ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InitialHeader:
    """X3DH header + the sender's binding JSON + the ratchet header of this message."""

    ephemeral: bytes
    spk: bytes
    opk: bytes | None
    binding: dict[str, Any]
    ratchet: bytes

    def x3dh_part(self) -> bytes:
        opk = b"\x00" if self.opk is None else b"\x01" + self.opk
        return self.ephemeral + self.spk + opk

    def encode(self) -> bytes:
        binding = json.dumps(self.binding, separators=(",", ":")).encode()
        return self.x3dh_part() + self.ratchet + len(binding).to_bytes(2, "big") + binding

    @classmethod
    def decode(cls, data: bytes) -> InitialHeader:
        """Raises MessageRejected("malformed")."""
        try:
            if len(data) < 65:
                raise ValueError("short")
            ephemeral, spk, flag = data[:32], data[32:64], data[64]
            pos = 65
            opk = None
            if flag == 1:
                opk, pos = data[65:97], 97
                if len(opk) != 32:
                    raise ValueError("short opk")
            elif flag != 0:
                raise ValueError("bad opk flag")
            ratchet = data[pos : pos + RATCHET_HEADER]
            pos += RATCHET_HEADER
            size = int.from_bytes(data[pos : pos + 2], "big")
            raw = data[pos + 2 : pos + 2 + size]
            if len(ratchet) != RATCHET_HEADER or len(raw) != size or pos + 2 + size != len(data):
                raise ValueError("bad lengths")
            binding = safejson.loads(raw)
            if not isinstance(binding, dict):
                raise ValueError("binding is not an object")
        except (ValueError, IndexError, RecursionError) as exc:
            raise MessageRejected("malformed", "bad session header") from exc
        return cls(ephemeral, spk, opk, binding, ratchet)


# -- encrypting ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outgoing:
    conversation: Conversation
    envelope: bytes
    counter: int


def encrypt(
    me: ChatIdentityKey,
    my_binding: dict[str, Any],
    conversation: Conversation,
    peer: bytes,
    kind: str,
    body: Any,
    *,
    bundle: PeerBundle | None = None,
    now_ms: int | None = None,
    delivery_key: bytes | None = None,
) -> Outgoing:
    """Encrypt one message to ``peer`` (their identity key) and seal it.

    Uses the newest session with that key; without one, ``bundle`` (the peer's verified
    prekey bundle) starts a new session with X3DH. ``delivery_key`` (ours) travels inside
    the encryption, so the peer can present it to the relay when writing to us.

    Raises:
        MessagingError: no session and no bundle, a bundle whose signed prekey does not
            verify, or a message too large.
    """
    sent = int(time.time() * 1000) if now_ms is None else now_ms
    payload = Payload(
        conversation.epoch, conversation.next_counter, sent, kind, body, delivery_key
    ).encode()
    session = conversation.active_for(peer)
    if session is None:
        if bundle is None:
            raise MessagingError("no session with this peer and no prekey bundle to start one")
        if bundle.identity_key != peer:
            raise MessagingError("the prekey bundle is for another identity key")
        session, encrypted = _start(me, bundle, payload)
    else:
        ratchet = session.load()
        encrypted = _run(ratchet.encrypt_message(payload, session.ad))
        session = replace(session, ratchet=dict(ratchet.json))
    ratchet_header = _ratchet_header(encrypted.header)
    if session.init is not None:
        x3dh_part = session.init
        header = InitialHeader(
            x3dh_part[:32],
            x3dh_part[32:64],
            x3dh_part[65:97] if x3dh_part[64] == 1 else None,
            my_binding,
            ratchet_header,
        ).encode()
        frame = Frame("initial", me.public_key, header, encrypted.ciphertext)
    else:
        frame = Frame("message", me.public_key, ratchet_header, encrypted.ciphertext)
    envelope = seal(peer, frame.encode())
    others = tuple(s for s in conversation.sessions if s.base_key != session.base_key)
    updated = replace(
        conversation,
        next_counter=conversation.next_counter + 1,
        sessions=(session, *others)[:MAX_SESSIONS],
    )
    return Outgoing(updated, envelope, conversation.next_counter)


def _start(
    me: ChatIdentityKey, bundle: PeerBundle, payload: bytes
) -> tuple[Session, doubleratchet.EncryptedMessage]:
    state = _X3DH.create(*_X3DH_ARGS, IdentityKeyPairSeed(me.seed))
    peer_bundle = x3dh.Bundle(
        bundle.identity_key,
        bundle.spk,
        bundle.spk_sig,
        frozenset() if bundle.opk is None else frozenset({bundle.opk}),
    )
    try:
        secret, ad, header = _run(
            state.get_shared_secret_active(peer_bundle, require_pre_key=False)
        )
        ratchet, encrypted = _run(
            _Ratchet.encrypt_initial_message(*_DR, secret, bundle.spk, payload, ad)
        )
    except x3dh.KeyAgreementException as exc:
        raise MessagingError(
            "the peer's signed prekey does not verify: not starting a session"
        ) from exc
    except _BAD_KEY as exc:
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
    def binding(self) -> dict[str, Any] | None:
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
) -> Incoming:
    """Decrypt an opened envelope in ``conversation`` (the sender's, as the caller resolved it).

    ``prekeys`` (or a function loading them: only a session's first message needs them) is
    the account's X3DH state. Nothing passed in is modified; on success the new states are
    returned.

    Raises:
        MessageRejected: authentication (tampered, or no session to decrypt it), replay
            (a message already received), expired-prekey, malformed.
    """
    frame, sender = opened.frame, opened.sender
    used_prekeys: Prekeys | None = None
    plaintext: bytes | None = None
    chosen: Session | None = None
    replay = False
    new_session = False
    with warnings.catch_warnings():
        # python-doubleratchet warns (instead of failing) when a peer skipped more keys than
        # the DoS bound in a previous chain; those messages show up as a counter gap.
        warnings.simplefilter("ignore")
        if opened.initial is not None:
            header = _parse_ratchet_header(opened.initial.ratchet)
            encrypted = doubleratchet.EncryptedMessage(header, frame.ciphertext)
            existing = next(
                (
                    s
                    for s in conversation.sessions
                    if s.base_key == opened.initial.ephemeral and s.peer == sender
                ),
                None,
            )
            if existing is not None:
                plaintext, chosen, replay = _try_session(existing, encrypted)
            else:
                used_prekeys = (prekeys if isinstance(prekeys, Prekeys) else prekeys()).copy()
                x3dh_header = x3dh.Header(
                    sender, opened.initial.ephemeral, opened.initial.spk, opened.initial.opk
                )
                secret, ad, spk_priv = used_prekeys._passive(x3dh_header)
                try:
                    ratchet, plaintext = _run(
                        _Ratchet.decrypt_initial_message(*_DR, secret, spk_priv, encrypted, ad)
                    )
                except (*_RATCHET_FAILURES, *_BAD_KEY) as exc:
                    raise MessageRejected(
                        "authentication", "the first message of a session"
                    ) from exc
                chosen = Session(sender, opened.initial.ephemeral, ad, dict(ratchet.json), None)
                new_session = True
        else:
            header = _parse_ratchet_header(frame.header)
            encrypted = doubleratchet.EncryptedMessage(header, frame.ciphertext)
            for session in conversation.sessions:
                if session.peer != sender:
                    continue
                plaintext, chosen, dup = _try_session(session, encrypted)
                replay = replay or dup
                if plaintext is not None:
                    break
    if plaintext is None or chosen is None:
        if replay:
            raise MessageRejected("replay", "a message already received")
        raise MessageRejected("authentication", "no session of this conversation decrypts it")
    try:
        payload = Payload.decode(plaintext)
    except MessagingError as exc:
        raise MessageRejected("malformed", str(exc)) from exc
    tracker = conversation.tracker(payload.epoch)
    tracker = CounterTracker() if tracker is None else tracker.copy()
    verdict, _ = tracker.observe(payload.counter)
    if verdict == "duplicate":
        raise MessageRejected("replay", f"message {payload.counter} was already received")
    if chosen.init is not None:
        chosen = replace(chosen, init=None)  # the peer has the session: stop attaching X3DH
    others = tuple(s for s in conversation.sessions if s.base_key != chosen.base_key)
    trackers = (
        (payload.epoch, tracker),
        *((e, t) for e, t in conversation.trackers if e != payload.epoch),
    )
    updated = replace(
        conversation,
        sessions=(chosen, *others)[:MAX_SESSIONS],
        trackers=trackers[:MAX_EPOCHS],
    )
    return Incoming(
        updated, used_prekeys, payload, verdict, tuple(sorted(tracker.missing)), new_session
    )


def _try_session(
    session: Session, encrypted: doubleratchet.EncryptedMessage
) -> tuple[bytes | None, Session | None, bool]:
    """(plaintext, updated session, was-a-duplicate) — plaintext None when it fails."""
    ratchet = session.load()
    try:
        plaintext = _run(ratchet.decrypt_message(encrypted, session.ad))
    except doubleratchet.DuplicateMessageException:
        return None, None, True
    except (*_RATCHET_FAILURES, *_BAD_KEY):
        return None, None, False
    return plaintext, replace(session, ratchet=dict(ratchet.json)), False


__all__ = [
    "CONVERSATION_MIGRATIONS",
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
]
