"""Split bills as cards: one card per split, on the request message of each share.

What a card says comes from this home's own records, read through the same read model as
``walletim splits`` (:meth:`walletim.app.wim.WalletIM.split_status`, without asking the
chain: the app's checker does that) and never from any message's text:

- the requester's card (a request it sent, citing a split it made) holds the whole bill:
  the total and asset as recorded when the split was made (the token list's name and
  decimals), its own share, and each member's share with whether it is paid;
- a member's card (a request received citing a split) holds that member's share only: the
  rest of the bill is between the requester and the others.

A share is paid when its request is settled, which the ledger does only on a payment
verified on chain, to the requester, from the member asked, in the asset and chain asked,
of at least the share (walletim.app.wim.ledger); the confirmations and finality shown are
that payment's, as the checker last recorded them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from walletim.app.session import Session
    from walletim.store.chat import StoredMessage
    from walletim.store.wim import PaymentRow, RequestRow

#: Shares listed on a card at most (the rest counted on one line).
MAX_LINES = 12


@dataclass(frozen=True, slots=True)
class Share:
    """One member's share: ``paid`` only from a settled request; ``paying``: a payment
    citing it that the chain has not borne out yet (pending); ``withdrawn``: its request
    was never sent (a block withdrew it), so nobody owes it."""

    peer: str
    amount: int
    paid: bool
    paying: bool = False
    tx: str | None = None
    confirmations: int = 0
    final: bool = False
    withdrawn: bool = False


@dataclass(frozen=True, slots=True)
class SplitCard:
    """A split bill as this home knows it. ``total`` None: a member's card (only the
    requester holds the whole bill); ``own``: the requester's own share."""

    split_id: str
    requester: str
    symbol: str
    decimals: int
    total: int | None
    own: int
    shares: tuple[Share, ...]
    note: str

    @property
    def owing(self) -> tuple[Share, ...]:
        return tuple(s for s in self.shares if not (s.paid or s.withdrawn))

    @property
    def collected(self) -> int:
        return sum(s.amount for s in self.shares if s.paid)


def split_cards(
    s: Session, account: str, me: str, messages: Sequence[StoredMessage]
) -> dict[int, SplitCard]:
    """The split card of each message among ``messages`` that stands for a split (by
    message id): a request citing one (the money view's messages only), or this home's own
    note in the group the bill was split in. Reads the store only (no network)."""
    ids = [m.id for m in messages if m.kind == "request"]
    notes = {m.id: sid for m in messages if (sid := split_noted(m)) is not None}
    chain_id = s.network.chain_id if ids else 0
    asked = [
        r
        for r in (s.wim.requests_of(account, ids) if ids else [])
        if r.split_id and r.chain_id == chain_id
    ]
    out: dict[int, SplitCard] = {}
    for r in asked:
        card = _card(s, account, me, r)
        if card is not None and r.message_id is not None:
            out[r.message_id] = card
    for mid, sid in notes.items():
        card = _bill(s, account, me, sid)
        if card is not None:
            out[mid] = card
    return out


def split_noted(m: StoredMessage) -> str | None:
    """The split a local note names (kind ``system``: written by this home only, never
    taken from the wire), else None."""
    if m.kind != "system" or not isinstance(m.body, dict):
        return None
    sid = m.body.get("split")
    return sid if isinstance(sid, str) else None


def _card(s: Session, account: str, me: str, r: RequestRow) -> SplitCard | None:
    assert r.split_id is not None
    if r.direction == "in":  # a member's share of someone else's bill
        payments = s.wim.payments_citing(account, [r.request_id])
        share = _share(r, me, r.peer, "out", payments)
        return SplitCard(r.split_id, r.peer, r.symbol, r.decimals, None, 0, (share,), r.note)
    return _bill(s, account, me, r.split_id)


def _bill(s: Session, account: str, me: str, split_id: str) -> SplitCard | None:
    """The requester's card: the whole bill, from the split this home recorded."""
    from walletim.errors import InputError

    try:
        st = s.wim.split_status(account, split_id, check=False)
    except InputError:  # not a split this home made: no bill
        return None
    sp = st.split
    payments = s.wim.payments_citing(account, [q.request_id for q in st.requests])
    shares = tuple(_share(q, q.peer, me, "in", payments) for q in st.requests)
    return SplitCard(sp.split_id, me, sp.symbol, sp.decimals, sp.total, st.own_share, shares,
                     sp.note)  # fmt: skip


def _share(
    r: RequestRow, payer: str, payee: str, direction: str, payments: Sequence[PaymentRow]
) -> Share:
    """The share asked by request ``r`` of ``payer``, with the payment that settled it (or
    one citing it, still pending) as recorded for this home (``direction`` its side)."""
    citing = [
        p
        for p in payments
        if p.request_id == r.request_id and p.direction == direction
        and p.payer == payer and p.payee == payee
    ]  # fmt: skip
    if r.state == "settled":
        paid = next((p for p in citing if p.tx_hash == r.paid_tx), None)
        conf, final = (0, False) if paid is None else (paid.confirmations, paid.final)
        return Share(payer, r.amount, True, False, r.paid_tx, conf, final)
    if r.state == "withdrawn":
        return Share(payer, r.amount, False, withdrawn=True)
    pending = next((p for p in citing if p.state == "pending"), None)
    tx = None if pending is None else pending.tx_hash
    return Share(payer, r.amount, False, pending is not None, tx)


# -- how a card reads -----------------------------------------------------------------------


def badge(card: SplitCard) -> tuple[str, str]:
    """walletim's words on the bill first, and their style."""
    if card.total is None:
        [share] = card.shares
        if share.paid:
            return "SPLIT BILL, your share paid", "bold green"
        return "SPLIT BILL, you owe your share", "bold cyan"
    owing, withdrawn = len(card.owing), sum(sh.withdrawn for sh in card.shares)
    if not owing:
        if withdrawn:  # never asked: not paid either
            return f"SPLIT BILL, the rest paid, {withdrawn} never sent", "bold yellow"
        return "SPLIT BILL, all paid", "bold green"
    return f"SPLIT BILL, {owing} of {len(card.shares)} still owe", "bold yellow"


def split_text(card: SplitCard, names: dict[str, str], mine: str) -> Text:
    """The bill under the badge: the total (the requester's card), then each share, who
    owes it and whether it is paid (with the paying transaction's confirmations)."""
    from walletim.chain.units import format_amount
    from walletim.display import pad
    from walletim.tui.text import label

    def amount(n: int) -> str:
        return f"{format_amount(n, card.decimals)} {card.symbol}"

    def who(address: str) -> str:
        return "you" if address == mine else label(address, names, width=14)

    shown = card.shares[:MAX_LINES]
    width = max([len(amount(s.amount)) for s in shown] + [len(amount(card.own))])
    out = Text()
    if card.total is None:
        out.append(amount(card.shares[0].amount), style="bold")
        out.append(f": your share of a bill {who(card.requester)} split")
    else:
        asked = sum(s.amount for s in card.shares)
        out.append(amount(card.total), style="bold")
        out.append(f" split by you · {amount(card.collected)} of {amount(asked)} collected")
        if card.own:
            out.append(f"\n  {pad('you', 14)} {amount(card.own):>{width}}  your own", style="dim")
    for s in shown:
        out.append(f"\n  {pad(who(s.peer), 14)} {amount(s.amount):>{width}}  ")
        out.append_text(_state(s))
    if len(card.shares) > MAX_LINES:
        more = len(card.shares) - MAX_LINES
        out.append(f"\n  … and {more} more (`walletim splits`)", style="dim")
    return out


def _state(s: Share) -> Text:
    if s.paid:
        if s.final:
            return Text("✓ paid, final", style="green")
        return Text(f"✓ paid, {s.confirmations} conf., not final", style="yellow")
    if s.paying:
        return Text("… paying: being checked", style="yellow")
    if s.withdrawn:
        return Text("withdrawn, never sent", style="dim")
    return Text("owes", style="bold red")


__all__ = ["Share", "SplitCard", "badge", "split_cards", "split_text"]
