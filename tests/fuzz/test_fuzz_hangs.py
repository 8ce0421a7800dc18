"""No parser of outside input hangs on large hostile text.

Hypothesis's small examples cannot show a parser that is quadratic (a regex that
backtracks, a scan restarted at every quote): here short hostile fragments are repeated to
~100 KB (a relay frame's limit is 128 KiB, a batch file's 16 MiB) and every parser of text
must answer in a bounded time. Found this way: ``safejson.loads`` and the ABI loader took
~30 s on 100 KB of ``["\\"\\"\\"...`` (the relay's event loop blocked that long), and
``parse_amount`` was quadratic on a long run of spaces (a batch file could hang ``send
--batch``)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

# eth-account raises the recursion limit when first imported; do it before hypothesis runs.
import eth_account.messages  # noqa: F401
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import fuzz
from tests.reliability import record
from walletim import safejson
from walletim.app.chain import parse_batch_csv
from walletim.app.contracts import parse_percent
from walletim.app.wallets import parse_account_spec, parse_address
from walletim.chain.eip681 import parse_eip681
from walletim.chain.units import parse_amount
from walletim.contracts import abi
from walletim.errors import WalletimError
from walletim.keys import hd, keystore, mnemonic, paths, signing
from walletim.messaging import protocol
from walletim.messaging.envelope import Payload

SIZE = 100_000
LIMIT = 2.0  # seconds per parser call; each takes milliseconds on linear-time parsing

FRAGMENTS = [
    *(" ", '"', '\\"', "\\", "[", "{", "]", "}", '{"a":', "[1,", '"a",', "1", "0", "e", "."),
    *(",", "_", "x", "0x", "(", ")", "[]", "(uint8,", "uint256 ", "a ", "abandon ", "/", "'"),
    *("/0'", "\n", "\r", ",1\n", "\t", "1 ", "%", "&value=1", "=", "ü", "\x00"),
]


def _batch(text: str) -> Any:
    return parse_batch_csv(
        text, parse_value=lambda a, t: parse_amount(a), resolve=lambda a: parse_address(a)
    )


PARSERS: dict[str, Callable[[str], Any]] = {
    "safejson.loads": safejson.loads,
    "abi.load_abi": abi.load_abi,
    "typed data": signing.parse_typed_data,
    "keystore": keystore.parse,
    "client frame": protocol.decode_client_frame,
    "server frame": protocol.decode_server_frame,
    "chat payload": lambda t: Payload.decode(t.encode()),
    "amount": parse_amount,
    "EIP-681": parse_eip681,
    "CSV batch": _batch,
    "function signature": abi.parse_signature,
    "event signature": abi.parse_event,
    "arguments": lambda t: abi.encode_args(["uint256", "string[]", "(uint8,bool)"], [t, t, t]),
    "derivation path": paths.parse_path,
    "path template": paths.parse_template,
    "mnemonic": mnemonic.validate,
    "private key": hd.parse_private_key,
    "signature": signing.parse_signature,
    "address": parse_address,
    "account spec": parse_account_spec,
    "percentage": parse_percent,
}


PREFIXES = ["", "[" * 70, '{"a":' * 70, "ethereum:0x", "0x"]  # 70 > safejson's depth bound


def _slow_parsers(text: str) -> list[str]:
    slow = []
    for name, parse in PARSERS.items():
        documented = ValueError if name == "safejson.loads" else WalletimError
        started = time.perf_counter()
        with contextlib.suppress(documented):
            parse(text)
        took = time.perf_counter() - started
        if took > LIMIT:
            slow.append(f"{name} on {text[:12]!r}...: {took:.1f} s")
    return slow


def test_every_fragment_repeated_after_every_prefix() -> None:
    """The whole grid, every run: each prefix, then each fragment repeated to ~100 KB."""
    started = time.perf_counter()
    slow = []
    for prefix in PREFIXES:
        for body in FRAGMENTS:
            slow += _slow_parsers(prefix + body * ((SIZE - len(prefix)) // len(body)))
    tried = len(PREFIXES) * len(FRAGMENTS) * len(PARSERS)
    seconds = time.perf_counter() - started
    record(
        "fuzz hangs: every text parser on ~100 KB of each hostile fragment (grid)",
        tried,
        len(slow),
        f"{len(PREFIXES)} prefixes x {len(FRAGMENTS)} fragments x {len(PARSERS)} parsers, "
        f"limit {LIMIT} s per call, {seconds:.1f} s",
    )
    assert not slow, slow


@fuzz("fuzz hangs: text parsers on ~100 KB of repeated fragment mixes", 25, 300, timeout=60)
@given(
    st.sampled_from(PREFIXES),
    st.lists(st.sampled_from(FRAGMENTS), min_size=2, max_size=4).map("".join),
    st.text(max_size=4),
)
def test_no_parser_is_slow_on_large_hostile_text(prefix: str, body: str, tail: str) -> None:
    text = prefix + body * ((SIZE - len(prefix)) // len(body)) + tail
    slow = _slow_parsers(text)
    assert not slow, slow
