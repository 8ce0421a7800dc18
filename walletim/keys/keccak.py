"""Keccak-256 (Ethereum's hash, not NIST SHA3-256) through pycryptodome's compiled keccak.

pycryptodome's Python wrapper (``Crypto.Hash.keccak``) loads that library through cffi
whenever cffi is importable, and cffi's in-line mode parses the C declarations with pycparser
when it loads: ~50 ms of every command that checksums one address. The library is the same
one loaded here with ctypes, the backend pycryptodome itself falls back to without cffi; when
it cannot be loaded so (an unusual install), the wrapper is used.
"""

from __future__ import annotations

from collections.abc import Callable

_RATE_CAPACITY = 64  # Keccak-256: capacity 2 x 256 bits
_ROUNDS = 24
_PADDING = 0x01  # original Keccak (SHA3 uses 0x06)

_impl: Callable[[bytes], bytes] | None = None


def keccak256(data: bytes) -> bytes:
    """The 32-byte Keccak-256 digest of ``data``."""
    global _impl
    if _impl is None:
        _impl = _load()
    return _impl(data)


def _load() -> Callable[[bytes], bytes]:
    try:
        return _ctypes_keccak()
    except (OSError, ImportError, AttributeError):
        return _wrapper_keccak


def _wrapper_keccak(data: bytes) -> bytes:
    from Crypto.Hash import keccak

    return bytes(keccak.new(digest_bits=256, data=data).digest())


def _ctypes_keccak() -> Callable[[bytes], bytes]:
    import ctypes
    from importlib.util import find_spec

    spec = find_spec("Crypto.Hash._keccak")
    if spec is None or not spec.origin:
        raise ImportError("pycryptodome's _keccak library is not installed")
    lib = ctypes.CDLL(spec.origin)
    lib.keccak_init.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_uint8]
    lib.keccak_absorb.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.keccak_digest.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint8]
    lib.keccak_destroy.argtypes = [ctypes.c_void_p]
    for fn in (lib.keccak_init, lib.keccak_absorb, lib.keccak_digest, lib.keccak_destroy):
        fn.restype = ctypes.c_int

    def digest(data: bytes) -> bytes:
        state = ctypes.c_void_p()
        if lib.keccak_init(ctypes.byref(state), _RATE_CAPACITY, _ROUNDS):
            raise MemoryError("keccak: cannot allocate its state")
        try:
            out = ctypes.create_string_buffer(32)
            data = bytes(data)
            if lib.keccak_absorb(state, data, len(data)) or lib.keccak_digest(
                state, out, 32, _PADDING
            ):
                raise ValueError("keccak: the library refused the input")
            return out.raw
        finally:
            lib.keccak_destroy(state)

    return digest
