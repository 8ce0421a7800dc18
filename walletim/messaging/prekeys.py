"""An account's X3DH prekeys (pure): the passive side of a session's start.

The signed prekey (and the previous one, for a grace period) and the one-time prekeys'
private halves, deleted as they are used; stored as versioned JSON *without* the identity
key's secret, which stays in the vault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from walletim.errors import MessageRejected, MessagingError
from walletim.keys.chat import ChatIdentityKey

if TYPE_CHECKING:  # python-x3dh (and pydantic) load only when keys are made or used
    import x3dh

    from walletim.messaging.ratchet import X3DHState

PREKEYS_VERSION = 1
DEFAULT_OPKS = 100
SPK_ROTATION_SECONDS = 7 * 24 * 3600


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

    def __init__(self, state: X3DHState, identity: ChatIdentityKey) -> None:
        self._state = state
        self.identity = identity

    @classmethod
    def create(cls, identity: ChatIdentityKey, opks: int = DEFAULT_OPKS) -> Prekeys:
        from x3dh.identity_key_pair import IdentityKeyPairSeed

        from walletim.messaging.ratchet import X3DH_ARGS, X3DHState

        state = X3DHState.create(*X3DH_ARGS, IdentityKeyPairSeed(identity.seed))
        state.generate_pre_keys(opks)
        return cls(state, identity)

    def to_json(self) -> dict[str, object]:
        doc = dict(self._state.json)
        doc["identity_key"] = None  # the seed lives in the vault, not in the store
        return {"version": PREKEYS_VERSION, "x3dh": doc}

    @classmethod
    def from_json(cls, doc: object, identity: ChatIdentityKey) -> Prekeys:
        """Raises MessagingError on a malformed or newer state."""
        if not isinstance(doc, dict) or not isinstance(doc.get("x3dh"), dict):
            raise MessagingError("malformed prekey state")
        if doc.get("version") != PREKEYS_VERSION:
            raise MessagingError(f"prekey state version {doc.get('version')!r} is not supported")
        import xeddsa
        from x3dh.identity_key_pair import IdentityKeyPairSeed

        from walletim.messaging.ratchet import BAD_KEY, X3DH_ARGS, X3DHState

        inner = dict(doc["x3dh"])
        # (IdentityKeyPair.json calls pydantic's deprecated .json(); go through the model.)
        inner["identity_key"] = json.loads(
            IdentityKeyPairSeed(identity.seed).model.model_dump_json()
        )
        try:
            state, _ = X3DHState.from_json(inner, *X3DH_ARGS)
        except Exception as exc:  # pydantic validation and friends
            raise MessagingError("malformed prekey state") from exc
        from walletim.keys.chat import verify_ed25519
        from walletim.messaging.protocol import spk_signed_bytes

        # Check the signed prekey's signature against this identity (from the model: the
        # bundle property would derive every one-time prekey's public key, ~3 ms).
        try:
            spk = state.model.signed_pre_key
            spk_public = xeddsa.priv_to_curve25519_pub(spk.priv)
        except BAD_KEY as exc:
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

    def respond(self, header: x3dh.Header) -> tuple[bytes, bytes, bytes]:
        """X3DH as the responder: (shared secret, associated data, SPK private key). Deletes
        the one-time prekey used. Raises MessageRejected("expired-prekey")."""
        import x3dh

        from walletim.messaging.ratchet import BAD_KEY, drive

        try:
            secret, ad, spk = drive(
                self._state.get_shared_secret_passive(header, require_pre_key=False)
            )
        except x3dh.KeyAgreementException as exc:
            raise MessageRejected(
                "expired-prekey", "the sender used a prekey this account no longer has"
            ) from exc
        except BAD_KEY as exc:
            raise MessageRejected("malformed", "a key in the session header is invalid") from exc
        if header.pre_key is not None:
            self._state.delete_pre_key(header.pre_key)
        return secret, ad, spk.priv


def stored_summary(doc: object) -> tuple[int, int] | None:
    """(when the signed prekey was made, how many one-time prekeys) read from a stored state
    without parsing its keys (python-x3dh, ~200 ms of imports): enough to tell whether
    anything needs publishing. None when the state is not of the expected shape (then
    :meth:`Prekeys.from_json` says what is wrong)."""
    inner = doc.get("x3dh") if isinstance(doc, dict) else None
    spk = inner.get("signed_pre_key") if isinstance(inner, dict) else None
    created = spk.get("timestamp") if isinstance(spk, dict) else None
    opks = inner.get("pre_keys") if isinstance(inner, dict) else None
    if type(created) is not int or not isinstance(opks, list):
        return None
    return created, len(opks)
