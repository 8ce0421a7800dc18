"""How walletim configures python-x3dh and python-doubleratchet (pure): Signal's
specifications with the recommended primitives (X25519, HKDF-SHA-256, AES-256-CBC +
HMAC-SHA-256), walletim's info strings, and the ratchet header on the wire.

The libraries' APIs are ``async`` but never wait on anything, so :func:`drive` runs them
synchronously: no event loop.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TypeVar

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

from walletim.errors import MessagingError
from walletim.messaging.envelope import RATCHET_HEADER
from walletim.messaging.protocol import SPK_CONTEXT

INFO = b"walletim chat v1"
MESSAGE_CHAIN_CONSTANT = b"\x01\x02"
MAX_SKIPPED_KEYS = 2000  # libsignal's MAX_MESSAGE_KEYS

T = TypeVar("T")


def drive(coro: Coroutine[object, object, T]) -> T:
    """Drive a coroutine that never suspends (the libraries' crypto is synchronous)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a crypto coroutine tried to suspend")


class X3DHState(x3dh.BaseState):
    @staticmethod
    def _encode_public_key(key_format: x3dh.IdentityKeyFormat, pub: bytes) -> bytes:
        prefix = SPK_CONTEXT if key_format is x3dh.IdentityKeyFormat.CURVE_25519 else b"\xed"
        return prefix + pub


class _SHA256:
    """The hash every primitive here uses."""

    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256


class _AEAD(_SHA256, aead_aes_hmac.AEAD):
    @staticmethod
    def _get_info() -> bytes:
        return INFO + b" message keys"


class _RootKDF(_SHA256, kdf_hkdf.KDF):
    @staticmethod
    def _get_info() -> bytes:
        return INFO + b" root chain"


class _MessageKDF(_SHA256, kdf_separate_hmacs.KDF):
    pass


class Ratchet(doubleratchet.DoubleRatchet):
    @staticmethod
    def _build_associated_data(associated_data: bytes, header: doubleratchet.Header) -> bytes:
        return len(associated_data).to_bytes(2, "big") + associated_data + ratchet_header(header)


DR_ARGS = (
    diffie_hellman_ratchet_curve25519.DiffieHellmanRatchet,
    _RootKDF,
    _MessageKDF,
    MESSAGE_CHAIN_CONSTANT,
    MAX_SKIPPED_KEYS,  # DoS protection: keys derived for one message at most
    MAX_SKIPPED_KEYS,  # skipped keys kept
    _AEAD,
)
X3DH_ARGS = (x3dh.IdentityKeyFormat.ED_25519, x3dh.HashFunction.SHA_256, INFO)
RATCHET_FAILURES = (
    doubleratchet.AuthenticationFailedException,
    doubleratchet.DecryptionFailedException,
    doubleratchet.DoSProtectionException,
    doubleratchet.DuplicateMessageException,
)
#: What the libraries raise for keys from outside that are not valid curve points.
BAD_KEY = (xeddsa.XEdDSAException, ValueError)


def ratchet_header(header: doubleratchet.Header) -> bytes:
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


def parse_ratchet_header(data: bytes) -> doubleratchet.Header:
    if len(data) != RATCHET_HEADER:
        raise MessagingError("bad ratchet header")
    return doubleratchet.Header(
        data[:32], int.from_bytes(data[32:36], "big"), int.from_bytes(data[36:40], "big")
    )
