"""The split card's reads (walletim.tui.splits) over a fixed home: what it shows comes from
the split and the requests this home recorded, a share is paid only when the ledger settled
its request, and the group's card hangs only on this home's own note."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.tui.conftest import BOB, CAROL, GROUP, ME, NOW_MS, add, opener_for
from walletim.messaging.kinds import KINDS

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=80)
bodies = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
) | st.fixed_dictionaries({"split": json_scalars, "text": st.text(max_size=20)})


@given(st.sampled_from(sorted(KINDS)), bodies)
def test_only_this_homes_own_note_names_a_split(kind: str, body: Any) -> None:
    """Any message body of any kind: a split is named only by a local ``system`` note (a
    kind no peer can send), by a string; everything else names none and never fails."""
    from dataclasses import replace

    from walletim.tui.splits import split_noted

    m = replace(_message(), kind=kind, body=body)
    got = split_noted(m)
    if kind != "system" or not isinstance(body, dict) or not isinstance(body.get("split"), str):
        assert got is None
    else:
        assert got == body["split"]


def _message() -> Any:
    from walletim.store.chat import StoredMessage

    return StoredMessage(1, "c", ME, GROUP, "in", "", None, NOW_MS, NOW_MS, "system", {}, "",
                         "received", None, False)  # fmt: skip


def test_a_share_is_paid_only_when_its_request_is_settled(split_home: Path) -> None:
    """bob's payment citing carol's share (verified on chain, but from bob) does not make
    her share paid; a note naming a split this home never made is no card; the bill's
    amounts are the recorded split's, whatever the messages say."""
    from walletim.store.wim import Verdict, WimRepo
    from walletim.tui.model import Reader

    s = opener_for(split_home)()
    try:
        wim = WimRepo(s.open_store())
        carols = next(r for r in wim.requests(ME) if r.peer == CAROL and r.split_id)
        mid = add(s, BOB, "in", "payment", "I paid carol's share ✓ PAID", 1)
        pay = wim.add_payment(
            account=ME, message_id=mid, direction="in", peer=BOB, chain_id=31337,
            tx_hash="0x" + "ee" * 32, asset=None, symbol="ETH", decimals=18, amount=10**17,
            payer=BOB, payee=ME, note="", request_id=carols.request_id,
        )  # fmt: skip
        wim.set_payment_state(pay.id, Verdict("verified", "", 5, final=True))
        add(s, GROUP, "in", "system", "a bill", 0, body={"text": "x", "split": "0x" + "99" * 16})
        reader = Reader(s, "dev")
        cards = [r.split for r in reader.tail(GROUP) if r.split is not None]
        assert len(cards) == 1  # the stray note is no card
        [card] = cards
        assert card.total == 3 * 10**17 and card.symbol == "ETH" and card.own == 10**17
        paid = {sh.peer: sh.paid for sh in card.shares}
        assert paid == {BOB: True, CAROL: False}
        [bobs] = [sh for sh in card.shares if sh.peer == BOB]
        assert bobs.confirmations == 3 and not bobs.final
    finally:
        s.close()


def test_a_share_whose_request_a_block_withdrew_is_not_owed(split_home: Path) -> None:
    """carol's share was never sent (a block withdrew its request), bob's is paid: the card
    says so, counts nobody as owing, and does not call the bill all paid."""
    from walletim.store.wim import WimRepo
    from walletim.tui.model import Reader
    from walletim.tui.splits import badge, split_text

    s = opener_for(split_home)()
    try:
        store = s.open_store()
        carols = next(r for r in WimRepo(store).requests(ME) if r.peer == CAROL and r.split_id)
        with store.transaction() as conn:
            conn.execute(
                "UPDATE requests SET state = 'withdrawn' WHERE request_id = ? AND peer = ?",
                (carols.request_id, CAROL),
            )
        [card] = [r.split for r in Reader(s, "dev").tail(GROUP) if r.split is not None]
        assert card.owing == ()
        assert badge(card)[0] == "SPLIT BILL, the rest paid, 1 never sent"
        assert "withdrawn, never sent" in split_text(card, {}, ME).plain
    finally:
        s.close()


def test_the_cards_columns_line_up_whatever_script_the_names_are_in() -> None:
    """A Chinese name takes two columns a character: the amounts still start at one column,
    and a name too long for its 14 columns is cut there, never inside a character."""
    from walletim.display import width
    from walletim.tui.splits import Share, SplitCard, split_text

    names = {BOB: "小明", CAROL: "王小明" * 6, GROUP: "alice"}
    shares = tuple(Share(p, 10**18, paid=False) for p in (BOB, CAROL, GROUP))
    card = SplitCard("0x" + "11" * 16, ME, "ETH", 18, 3 * 10**18, 10**18, shares, "火锅")
    lines = split_text(card, names, ME).plain.splitlines()[1:]
    assert len(lines) == 4  # your own, then each share
    starts = {width(line[: line.index("1 ETH")]) for line in lines}
    assert starts == {17}, lines  # two spaces, 14 columns of name, a space
    assert all("王小明" in line or "小明" in line or "alice" in line for line in lines[1:])
