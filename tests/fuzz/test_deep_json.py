"""Deeply nested JSON must be a clean error, never a crash.

Importing eth-account raises the recursion limit to 100,000 (py_ecc does it); after that,
json.loads("[" * 100000) overflows the C stack and kills the process (a segfault). Run in
a subprocess, so a crash fails this test instead of killing the test run.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT
from tests.reliability import record

SCRIPT = r"""
import eth_account, sys
assert sys.getrecursionlimit() >= 100000  # the condition that made json.loads crash
from walletim.errors import WalletimError
from walletim.messaging import protocol
from walletim.messaging.envelope import Payload
from walletim.messaging.session import InitialHeader
from walletim.keys.signing import parse_typed_data
from walletim.keys import keystore
from walletim.contracts.abi import load_abi
from walletim import safejson

def header(bomb):
    raw = bomb.encode()[:65000]
    return InitialHeader.decode(bytes(65 + 40) + len(raw).to_bytes(2, "big") + raw)

bombs = ["[" * 100000, '{"a":' * 60000, "[" * 50000 + "]" * 50000]
parsers = {
    "client frame": protocol.decode_client_frame,
    "server frame": protocol.decode_server_frame,
    "payload": lambda b: Payload.decode(b.encode()),
    "session header": header,
    "typed data": parse_typed_data,
    "keystore": lambda b: keystore.decrypt(b, "password"),
    "abi": load_abi,
    "safejson": safejson.loads,
}
for name, parse in parsers.items():
    for bomb in bombs:
        try:
            parse(bomb)
        except (WalletimError, ValueError):
            pass
        else:
            raise SystemExit(f"{name} accepted a bomb")
# Legitimately nested data still parses.
assert safejson.loads("[" * 60 + "]" * 60) is not None
assert safejson.loads('{"a": "[[[[[[' + "[" * 500 + '"}')["a"].startswith("[[")
print("clean")
"""


def test_deep_nesting_is_refused_by_every_parser_of_outside_json() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    clean = proc.returncode == 0 and proc.stdout.strip() == "clean"
    record(
        "fuzz: deeply nested JSON bombs, every parser of outside JSON",
        8 * 3,
        0 if clean else 1,
        "8 parsers x 3 bombs (100,000 deep), in a subprocess so a segfault fails the test",
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.strip() == "clean"
