"""The parsers of `chat device link` (messaging/linkcode.py): a typed code, a hello, a slot
of frames, and a frame as the relay hands it over, whatever arrives, raise only their own
one-line errors (never a traceback)."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import fuzz
from walletim.messaging import linkcode as L

NOW = 1_800_000_000
KEYS = L.link_keys(L.new_code(bytes(16), NOW))
GOOD = L.new_code(bytes(range(16)), NOW).text
near = st.builds(
    lambda i, c: GOOD[:i] + c + GOOD[i + 1 :],
    st.integers(0, len(GOOD) - 1),
    st.sampled_from(list(L.ALPHABET + "oOiIlL -_*é")),
)


@fuzz("fuzz linkcode: a typed code", 300, 3000)
@given(st.text(max_size=300) | near)
def test_code_parse(text: str) -> None:
    with contextlib.suppress(L.LinkCodeError):
        code = L.parse_code(text, NOW)
        assert L.parse_code(code.text, NOW) == code


@fuzz("fuzz linkcode: a slot and its frames", 200, 2000)
@given(st.binary(max_size=2000), st.integers(0, 3))
def test_slot_and_frame_parse(blob: bytes, seq: int) -> None:
    with contextlib.suppress(L.LinkFrameError):
        for frame in L.split_frames(blob):
            _kind, body = L.open_frame(KEYS.a_to_b, L.A_TO_B, seq, KEYS.start, frame)
            L.parse_hello(body)


@fuzz("fuzz linkcode: what the other end of the code seals", 200, 2000)
@given(st.binary(max_size=600))
def test_a_sealed_frame_of_any_plaintext(plain: bytes) -> None:
    """The other end holds the code, so it can seal anything: what opens is still parsed
    with one error only."""
    import nacl.bindings as nb

    frame = nb.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plain, L._ad(L.A_TO_B, 0, KEYS.start), L._nonce(L.A_TO_B, 0), KEYS.a_to_b
    )
    with contextlib.suppress(L.LinkFrameError):
        _kind, body = L.open_frame(KEYS.a_to_b, L.A_TO_B, 0, KEYS.start, bytes(frame))
        L.parse_hello(body)
