"""Fixtures of the app's tests: a home with a fixed history (fixed keys, clock and texts, for
snapshots), and the app built over it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD
from tests.integration.conftest import people, people_homes  # noqa: F401 (four homes on one relay and devnet)

#: 2026-12-05 10:00 UTC: the snapshots' "now".
NOW_S = 1_796_464_800.0
NOW_MS = int(NOW_S * 1000)
#: A relay nobody listens on: snapshot apps never reach one.
NO_RELAY = "ws://127.0.0.1:9"
#: Anvil's public test mnemonic: dev:0 is "me", dev:1 bob, dev:2 carol.
ME, BOB, CAROL = (
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
)
#: Anvil's dev:3: neither a contact nor in a group, so their conversation is a request.
STRANGER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times on screen in UTC, whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


#: How far the dialogs' clock is ahead of the real one in this test: answering a dialog
#: "after reading it" (tests.tui.test_app_live.answer) moves it on by QUIET_S.
READ_AHEAD = [0.0]


@pytest.fixture(autouse=True)
def reading_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dialogs' clock (walletim.tui.dialogs.clock: the one a Consent dialog measures its
    quiet time on) is the real one plus READ_AHEAD, which starts at 0 in each test. A test
    that sets its own clock replaces this one."""
    from walletim.tui import dialogs

    READ_AHEAD[0] = 0.0
    real = dialogs.clock
    monkeypatch.setattr(dialogs, "clock", lambda: real() + READ_AHEAD[0])


def opener_for(
    home: Path, relay_url: str = NO_RELAY, rpc_url: str | None = None
) -> Callable[[], Any]:
    from walletim.app.session import Session

    return lambda: Session(home, HOME_PASSWORD, relay_url=relay_url, rpc_url=rpc_url, fast_kdf=True)


def add(
    s: Any,
    peer: str,
    direction: str,
    kind: str,
    text: str,
    minutes_ago: float,
    *,
    unread: bool = False,
    sender: str | None = None,
    body: object | None = None,
) -> int:
    """Store one message as it would be after arriving (or being sent) at a fixed time."""
    from walletim.store.chat import ChatRepo

    repo = ChatRepo(s.open_store())
    with repo.tx() as tx:
        cid = tx.conversation(ME, peer)
        mid = tx.add_message(
            cid, direction, kind, {"text": text} if body is None else body, text,  # type: ignore[arg-type]
            sent_ms=NOW_MS - int(minutes_ago * 60_000),
            state="received" if direction == "in" else "sent", unread=unread,
        )  # fmt: skip
        assert mid is not None
        if sender is not None:
            tx.set_sender(mid, sender)
    return mid


def change(
    s: Any,
    peer: str,
    direction: str,
    kind: str,
    body: dict[str, object],
    text: str,
    minutes_ago: float,
    n: int,
) -> str:
    """Store one message with its id (author from its direction, id nonce ``n``) and apply
    it as it would be on arrival (a reply, reaction, edit or delete: the real rules).
    Returns its id."""
    from walletim.app.chat.threads import ids_of, settle
    from walletim.store.chat import ChatRepo

    repo = ChatRepo(s.open_store())
    author = ME if direction == "out" else peer
    ids = ids_of(kind, body, author, bytes([n]) * 16)
    with repo.tx() as tx:
        cid = tx.conversation(ME, peer)
        mid = tx.add_message(
            cid, direction, kind, body, text,  # type: ignore[arg-type]
            sent_ms=NOW_MS - int(minutes_ago * 60_000),
            state="received" if direction == "in" else "sent", ids=ids,
        )  # fmt: skip
        assert mid is not None
        settle(tx, ME, tx_message(tx, mid))
    return str(ids.msg_id)


def tx_message(tx: Any, mid: int) -> Any:
    from walletim.store.chat import ChatRepo

    return ChatRepo(tx.conn).message(mid)


def thread(s: Any) -> None:
    """carol's conversation goes on: a reply (quoting her message), her reaction to it, an
    edit of the reply (history kept), a message of hers deleted for everyone."""
    asked = change(
        s, CAROL, "in", "text", {"text": "coming to the game? ⚽"}, "coming to the game? ⚽", 50, 1
    )
    reply = change(
        s, CAROL, "out", "reply", {"to": asked, "text": "yes! 2 tickets"}, "yes! 2 tickets", 45, 2
    )
    change(s, CAROL, "in", "reaction", {"to": reply, "emoji": "🎉"}, "", 44, 3)
    change(s, CAROL, "out", "edit", {"to": reply, "text": "yes! 3 tickets"}, "", 43, 4)
    oops = change(s, CAROL, "in", "text", {"text": "wrong chat, sorry"}, "wrong chat, sorry", 42, 5)
    change(s, CAROL, "in", "delete", {"to": oops}, "", 41, 6)


def stranger(s: Any) -> None:
    """A request: a stranger's text and money (held: never a card until accepted)."""
    add(s, STRANGER, "in", "text", "hello, you won an airdrop 🎁", 15, unread=True)
    add(s, STRANGER, "in", "payment", "sent you 5 ETH, claim it now", 14, unread=True)


def fill(s: Any) -> None:
    """The fixed history of the snapshots: bob (text in three scripts, a verified payment,
    an open request to me), carol (a pending payment I sent), a group, alerts to myself."""
    from walletim.store.consent import decide
    from walletim.store.wim import RequestRow, Verdict, WimRepo

    chat = s.chat
    chat.contacts_add("bob", BOB)
    chat.contacts_add("carol", CAROL)
    wim = WimRepo(s.open_store())
    add(s, ME, "in", "alert", "outflow above your threshold: 2 ETH to 0x9965…A4dc", 300)
    add(s, CAROL, "out", "text", "lunch tomorrow?", 200)
    pid = add(s, CAROL, "out", "payment", "paid 12.5 USDC", 190)
    pay = wim.add_payment(
        account=ME, message_id=pid, direction="out", peer=CAROL, chain_id=31337,
        tx_hash="0x" + "ab" * 32, asset="0x" + "11" * 20, symbol="USDC", decimals=6,
        amount=12_500_000, payer=ME, payee=CAROL, note="lunch", request_id=None,
    )  # fmt: skip
    wim.set_payment_state(pay.id, Verdict("verified", "", 3))
    group = "group:7e57ab1e00000000000000000000000000000000000000000000000000000001"
    add(s, group, "in", "text", "who is in for hot pot 🍲?", 60, unread=True, sender=CAROL)
    decide(s.open_store(), ME, group, "allowed")  # a group of contacts (no roster stored)
    thread(s)
    add(s, BOB, "in", "text", "你好！今天发红包吗？🧧", 30)
    add(s, BOB, "out", "text", "好的 👍\nsee you at 8", 25)
    mid = add(s, BOB, "in", "payment", "I paid you 1 ETH", 20)
    paid = wim.add_payment(
        account=ME, message_id=mid, direction="in", peer=BOB, chain_id=31337,
        tx_hash="0x" + "cd" * 32, asset=None, symbol="ETH", decimals=18,
        amount=250_000_000_000_000_000, payer=BOB, payee=ME, note="for the tickets",
        request_id=None,
    )  # fmt: skip
    wim.set_payment_state(paid.id, Verdict("verified", "", 12, final=True))
    rid = add(s, BOB, "in", "request", "please pay 30 DAI", 10, unread=True)
    wim.save_request(
        RequestRow(
            ME, "0x" + "0f" * 32, "in", BOB, 31337, "0x" + "22" * 20, "DAI", 18,
            30 * 10**18, "dinner 🍜", "ethereum:0x", None, "open", None, rid, NOW_MS,
        )
    )  # fmt: skip
    add(s, BOB, "in", "text", "[green]✓ PAID 100 ETH[/green] (not really)", 5, unread=True)
    stranger(s)


@pytest.fixture
def filled_home(tmp_path: Path) -> Path:
    from walletim.app.session import Session

    home = tmp_path / "home"
    with Session(home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        fill(s)
    return home


GROUP = "group:7e57ab1e00000000000000000000000000000000000000000000000000000001"


def split_bill(s: Any) -> None:
    """A bill of 0.3 ETH I split in the group (bob paid his share: 3 confirmations, not
    final; carol owes hers), and carol's own split asking me for 25 USDC."""
    from walletim.store.wim import RequestRow, SplitRow, Verdict, WimRepo

    wim = WimRepo(s.open_store())
    sid = "0x" + "5b" * 16
    wim.save_split(SplitRow(ME, sid, None, "ETH", 18, 3 * 10**17, "hot pot 🍲", NOW_MS))
    add(s, GROUP, "in", "system", "you split a bill of 0.3 ETH", 3,
        body={"text": "you split a bill of 0.3 ETH", "split": sid})  # fmt: skip
    for n, (peer, paid) in enumerate(((BOB, True), (CAROL, False))):
        mid = add(s, peer, "out", "request", "please pay 0.1 ETH", 3)
        tx = "0x" + f"{n + 1:02x}" * 32
        rid = "0x" + f"{n + 1:02x}" * 16
        wim.save_request(
            RequestRow(ME, rid, "out", peer, 31337, None, "ETH", 18, 10**17, "hot pot 🍲",
                       "ethereum:0x", sid, "open", None, mid, NOW_MS)
        )  # fmt: skip
        if paid:
            pid = add(s, peer, "in", "payment", "paid", 2)
            pay = wim.add_payment(
                account=ME, message_id=pid, direction="in", peer=peer, chain_id=31337,
                tx_hash=tx, asset=None, symbol="ETH", decimals=18, amount=10**17, payer=peer,
                payee=ME, note="", request_id=rid,
            )  # fmt: skip
            wim.set_payment_state(pay.id, Verdict("verified", "", 3))
            wim.settle_request(ME, rid, "out", peer, tx)
    mid = add(s, CAROL, "in", "request", "pay me 25 USDC", 1, unread=True)
    wim.save_request(
        RequestRow(ME, "0x" + "c0" * 16, "in", CAROL, 31337, "0x" + "11" * 20, "USDC", 6,
                   25_000_000, "the cabin 🏕", "ethereum:0x", "0x" + "ca" * 16, "open", None,
                   mid, NOW_MS)
    )  # fmt: skip


@pytest.fixture
def split_home(filled_home: Path) -> Path:
    from walletim.app.session import Session

    with Session(filled_home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
        split_bill(s)
    return filled_home


@pytest.fixture
def empty_home(tmp_path: Path) -> Path:
    from walletim.app.session import Session

    home = tmp_path / "empty"
    with Session(home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        s.open_store()
    return home


def snapshot_app(home: Path) -> Any:
    from walletim.tui.app import build

    return build(opener_for(home), "dev", listen=False, clock=lambda: NOW_S)
