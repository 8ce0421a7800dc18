"""Fuzzing what a hostile peer can put in a money message (a payment claim, a request, a
shared action): each field of a well-formed body is replaced by hostile JSON (digits of
other scripts, exponents, huge or negative numbers, wrong types). Recording it raises only a
walletim error, and the recipient's views and both front ends' renderings of it raise
nothing at all: one hostile message must never make a conversation unreadable."""

from __future__ import annotations

import atexit
import copy
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.money import ALICE, ALICE_KEY, BOB, CHAIN_ID, USDC, MoneyHome, sign_tx
from tests.fuzz.harness import fuzz
from tests.unit.test_wim_service import claim
from walletim.errors import WalletimError
from walletim.messaging.kinds import Asset, PaymentRequest

TX = sign_tx(ALICE_KEY, to=BOB, value=10**17)
REQUEST = PaymentRequest(
    "0x" + "11" * 16, CHAIN_ID, BOB, Asset(USDC, "USDC", 6), 25 * 10**6, "票", "", None
)
SWAP = {
    "chain_id": CHAIN_ID,
    "tx": TX.hash,
    "action": "swap",
    "claim": {"token_in": "ETH", "token_out": USDC, "raw_in": str(10**17), "raw_out": "1"},
    "note": "",
}
LEND = {**SWAP, "action": "lend-supply", "claim": {"token": USDC, "raw": "5", "amount": "5"}}
VAULT = {**SWAP, "action": "vault-deposit", "claim": {"vault": USDC, "raw_assets": "1"}}
BODIES: dict[str, list[dict[str, Any]]] = {
    "payment": [claim(TX.hash, 10**17)],
    "request": [REQUEST.to_json()],
    "action": [SWAP, LEND, VAULT],
}

HOSTILE_TEXT = ["²", "١٢", "٣", "1e18", "-1", " 1", "1 ", "0x10", "9" * 100, "", "NaN", "∞", "💰"]
HOSTILE = [*HOSTILE_TEXT, "\u202e1", None, True, -1, 2**256, 1.5, [], {}, {"a": "²"}]
hostile = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from(HOSTILE_TEXT)
    | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=8,
)

_home: list[MoneyHome] = []


def home() -> MoneyHome:
    """One recipient for every example (a store per example would be most of the time)."""
    if not _home:
        where = tempfile.mkdtemp(prefix="fuzz-money-")
        atexit.register(shutil.rmtree, where, True)  # a store left in a tmpfs stays in memory
        bob = MoneyHome(Path(where))
        bob.chain.mine(TX, block=9)
        _home.append(bob)
    return _home[0]


def mutated(body: dict[str, Any], path: tuple[str, ...], value: object) -> dict[str, Any]:
    out = copy.deepcopy(body)
    where = out
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = value
    return out


def paths(body: dict[str, Any]) -> list[tuple[str, ...]]:
    """Every field, and every field of a nested object (a claim, an asset)."""
    found: list[tuple[str, ...]] = []
    for key, value in body.items():
        found.append((key,))
        if isinstance(value, dict):
            found += [(key, inner) for inner in value]
    return found


def read_back(kind: str, body: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    """``body`` with the field at ``path`` set to ``value`` arrives from a hostile peer: it is
    refused (a walletim error), or stored and then read in the CLI and the app."""
    from walletim.cli.chat.render import message_json, message_line
    from walletim.tui.model import Row
    from walletim.tui.text import card_text, row_text

    bob = home()
    try:
        message = bob.receive(ALICE, kind, mutated(body, path, value), "hostile")
    except WalletimError:
        return  # refused as malformed: nothing stored to read
    view = bob.wim.views(bob.me, [message]).get(message.id)
    names = {ALICE: "爱丽丝"}
    message_line(message, names, view, bob.me)
    message_json(message, view)
    row = Row(message, view)
    row_text(row, names, time.time())
    if view is not None:  # as the app's MessageItem draws it
        card_text(row, names, time.time(), mine=bob.me)


def test_every_field_of_every_money_body_with_every_hostile_value() -> None:
    """Each field of each body, set to each of :data:`HOSTILE` in turn (the cases a random
    search would rarely hit together: a figure of a shared action written "²")."""
    for kind, bodies in BODIES.items():
        for body in bodies:
            for path in paths(body):
                for value in HOSTILE:
                    read_back(kind, body, path, value)


@fuzz("fuzz money: hostile fields of payments, requests and shared actions", 150, 3000)
@given(st.data(), hostile)
def test_a_hostile_money_message_never_breaks_reading(data: st.DataObject, value: object) -> None:
    kind = data.draw(st.sampled_from(sorted(BODIES)))
    body = data.draw(st.sampled_from(BODIES[kind]))
    read_back(kind, body, data.draw(st.sampled_from(paths(body))), value)
