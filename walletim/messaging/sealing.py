"""Sealed envelopes (pure): a chat frame padded to a bucket and sealed to the recipient's
identity key as X25519 (``crypto_box_seal``), as :mod:`walletim.messaging.session` describes.
Apart from the session module so that sealing needs no ratchet."""

from __future__ import annotations

import functools

from walletim.errors import MessageRejected, MessagingError
from walletim.keys.chat import ChatIdentityKey
from walletim.messaging.envelope import Frame, pad, unpad


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
