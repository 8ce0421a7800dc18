"""Our payments whose transaction was replaced while pending (``tx speedup``, ``tx cancel``).

The chat claim names the original transaction, which is never mined once its replacement is.
When the replacement is mined, a speed-up (the same transfer at the same nonce) is told to
the payee in a second signed claim naming the replacement, its ``replaces`` field the
original (the payee's ledger then retires the original claim: one payment, counted once);
anything else (a cancel) paid nothing. Either way the original reads failed here, so it
neither counts nor blocks paying its request again.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from walletim.app.wim.model import Verdict
from walletim.errors import WalletimError

if TYPE_CHECKING:
    from walletim.app.wim.payments import Payments
    from walletim.app.wim.ports import MoneyPorts
    from walletim.store.wim import PaymentRow


def follow_replaced(money: Payments, account: str, me: str) -> int:
    """Settle ``account``'s (at ``me``) pending payments whose transaction a mined one
    replaced (see the module docstring). Returns how many changed. A speed-up to a payee the
    account has blocked since is not told (nothing could carry it: never signed, queued or
    tried again). One the node cannot be asked about, or a speed-up whose claim cannot be
    signed now, stays as it was (pending), followed by a later check."""
    p = money.p
    repo = p.repo()
    changed = 0
    for row in repo.payments(me, states=("pending", "mismatch"), limit=200):
        if row.direction != "out" or row.chain_id != p.chain_id:
            continue
        winner = p.own.replaced_by(row.tx_hash)
        if winner is None:
            continue
        try:
            same = _same_transfer(p, row.tx_hash, winner)
            blocked = same and p.blocked(me, row.payee)
            if same and not blocked:
                _tell_replacement(money, account, me, row, winner)
        except WalletimError:
            continue  # the node, or signing (locked, a policy): a later check follows it
        if blocked:  # nothing can tell them: never signed, queued or tried again
            why = _paid_untold(money, row, winner)
        elif same:
            why = f"replaced by its speed-up {winner}, which paid it"
        else:
            why = (
                f"replaced by {winner}, which does not make this payment (a cancel, or "
                "another transaction at its nonce): nothing was paid by it"
            )
        repo.set_payment_state(row.id, Verdict("failed", why, 0))
        changed += 1
    return changed


def _paid_untold(money: Payments, row: PaymentRow, winner: str) -> str:
    """Why ``row`` reads failed when its speed-up ``winner`` paid it but cannot be told (the
    payee is blocked): the request it paid is settled by ``winner`` here (its receipt, which
    this home waited for, says it succeeded), so it is not paid again once unblocked."""
    from dataclasses import replace

    receipt = money.p.own.receipt(winner)
    if receipt is not None and receipt.status == 1:
        money.ledger.settle(replace(row, tx_hash=winner.lower()))
    return (
        f"replaced by its speed-up {winner}, which paid it; not told in the chat: you "
        f"blocked {row.payee}"
    )


def cancelled_by(p: MoneyPorts, tx_hash: str) -> str | None:
    """The mined transaction that replaced our ``tx_hash`` without making its transfer (a
    cancel, or another transaction at its nonce), else None (not replaced, not mined yet,
    a speed-up, or the node cannot tell now)."""
    try:
        winner = p.own.replaced_by(tx_hash)
        if winner is None or _same_transfer(p, tx_hash, winner):
            return None
    except WalletimError:
        return None
    return winner


def _same_transfer(p: MoneyPorts, original: str, winner: str) -> bool:
    """Whether ``winner`` makes the very transfer ``original`` made (a speed-up: ours, or
    one the same keys signed elsewhere, e.g. another wallet app, read from the chain).
    Raises WalletimError when the node cannot be asked."""
    a, b = p.own.signed(original), p.own.signed(winner)
    if b is None:
        b = p.chain.mined(winner, confirmations=1)[0]
    if a is None or b is None:
        return False
    return (a.sender, a.nonce, (a.to or "").lower(), a.value, a.data) == (
        b.sender, b.nonce, (b.to or "").lower(), b.value, b.data,
    )  # fmt: skip


def _tell_replacement(money: Payments, account: str, me: str, row: PaymentRow, winner: str) -> None:
    """The claim for ``winner`` (once: not again if already recorded; the store claims it
    where it queues the claim, so two processes of this home never both tell it), sent and
    checked as the payment it is."""
    from walletim.app.wim.payments import _Paying

    repo = money.p.repo()
    if any(r.tx_hash == winner and r.direction == "out" for r in repo.payments(me, limit=1000)):
        return
    asset = money.p.defi().asset(row.asset or "ETH")
    what = _Paying(row.payee, asset, row.amount, row.request_id, row.note)
    (message, claim), new = money._tell(account, me, what, winner, "mined", replaces=row.tx_hash)
    with contextlib.suppress(WalletimError):  # else it waits in the outbox
        money._deliver(account, message.id)
    signed, receipt = money.p.own.signed(winner), money.p.own.receipt(winner)
    own = None if signed is None or receipt is None else (signed, receipt)
    money.ledger.check_payment(new, claim, money.p.chats().message(message.id), own)


__all__ = ["cancelled_by", "follow_replaced"]
