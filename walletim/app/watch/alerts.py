"""The alert kinds: what a transaction or a token event of a scanned block means for the
watched account (``incoming``, ``unsigned``, ``approval``, ``outflow``, ``spoofing``; the
rate limit's ``summary`` is made where alerts are posted).

Token events are decoded once through :func:`walletim.contracts.abi.decode_log` (ERC-20 and
ERC-721 ``Transfer`` / ``Approval``, ``ApprovalForAll``); a log that does not decode as one
of them is not an alert. Tokens are named only through the token lists: an unlisted
contract chose every address in its events, so none of them gets a contact's or wallet's
name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from walletim.app.contracts import UNLIMITED_FROM
from walletim.app.watch.model import ZERO, Alert, Event, Limits
from walletim.app.watch.permits import TxJson, granted_without_sending
from walletim.app.watch.ports import ContractReads, Names, OwnTxs
from walletim.chain.units import format_amount
from walletim.contracts.abi import KNOWN_ABIS, EventSig, decode_log
from walletim.keys.hd import to_checksum_address

if TYPE_CHECKING:
    from walletim.app.tokens import TokenLabel
    from walletim.chain.rpc import Log

#: The token events an alert can come from (ERC-20 and ERC-721 share Transfer's and
#: Approval's topic0: they differ in the number of indexed topics).
WATCHED: tuple[EventSig, ...] = tuple(
    e for e in KNOWN_ABIS if e.name in ("Transfer", "Approval", "ApprovalForAll")
)


#: topic0 of Transfer (ERC-20 and ERC-721), Approval (both) and ApprovalForAll.
def _topic0(name: str) -> str:
    return next(e.topic0 for e in WATCHED if e.name == name)


TOKEN_TOPICS = (_topic0("Transfer"), _topic0("Approval"), _topic0("ApprovalForAll"))
REVOKE = "If you did not mean this, revoke it (walletim approvals --help)."


class _Source(TypedDict):
    asset: str
    symbol: str
    source: str
    limited: bool


@dataclass(frozen=True, slots=True)
class Scope:
    """One scan of one account: its outflow thresholds and the scanned blocks' transactions
    (by lower-case hash; a transaction asked for later is added)."""

    address: str
    chain_id: int
    limits: Limits
    txs: dict[str, TxJson]

    @property
    def me(self) -> str:
        return self.address.lower()


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """A decoded token event: ``first`` the sender / owner, ``second`` the recipient /
    spender / operator; ``amount`` the value (ApprovalForAll: 1 approved, 0 revoked; an
    NFT: 0) and ``token_id`` for ERC-721."""

    name: str  # Transfer | Approval | ApprovalForAll
    contract: str
    first: str
    second: str
    amount: int
    token_id: int | None


def token_event(log: Log) -> TokenEvent | None:
    decoded = decode_log(log.raw, WATCHED)
    if decoded is None:
        return None
    values = list(decoded.args.values())
    first, second, third = str(values[0]), str(values[1]), values[2]
    nft = decoded.name != "ApprovalForAll" and len(log.topics) == 4
    amount = 0 if nft else int(third)  # ApprovalForAll: approved is 1
    return TokenEvent(
        decoded.name, decoded.address, first, second, amount, int(third) if nft else None
    )


class AlertMaker:
    def __init__(
        self,
        names: Names,
        reads: ContractReads,
        own: OwnTxs,
        transaction: Callable[[str], TxJson | None],
    ) -> None:
        """``transaction(hash)``: a transaction the scanned blocks did not hold, asked of the
        node (None if it cannot be)."""
        self.names = names
        self.reads = reads
        self.own = own
        self._transaction = transaction

    # -- transactions ----------------------------------------------------------------------

    def for_tx(
        self, scope: Scope, number: int, block_hash: str, tx: TxJson, ok: bool
    ) -> list[Alert]:
        """Alerts of a transaction from or to the account (``ok``: it succeeded)."""
        tx_hash = str(tx["hash"]).lower()
        key = f"{scope.chain_id}:{block_hash.lower()}:{tx_hash}"
        event = Event(scope.address, scope.chain_id, number, tx_hash, None, key)
        sender = to_checksum_address(str(tx["from"]))
        to = None if not tx.get("to") else to_checksum_address(str(tx["to"]))
        value = _quantity(tx.get("value", "0x0"))
        if sender.lower() != scope.me:
            if not (ok and value > 0):
                return []
            who = self.names.label(sender)
            text = f"incoming: {format_amount(value)} ETH from {who} (tx {tx_hash})"
            return [event.alert("incoming", text, amount=value, counterparty=sender)]
        out: list[Alert] = []
        if not self.own.signed_here(tx_hash):
            what = f"{format_amount(value)} ETH to " if value else "a call to "
            dest = "(a contract creation)" if to is None else self.names.label(to)
            text = (
                f"SECURITY: a transaction from {scope.address} that this home did not sign was "
                f"mined in block {number} ({what}{dest}, tx {tx_hash}). Your key may be "
                "compromised: move your funds to a new wallet now."
            )
            out.append(event.alert("unsigned", text, amount=value, counterparty=to))
        limit = scope.limits.get(None)
        if ok and limit is not None and value > limit.amount and (to or "").lower() != scope.me:
            dest = "a new contract" if to is None else self.names.label(to)
            text = (
                f"outflow above your threshold: {format_amount(value)} ETH to {dest} "
                f"(threshold {limit.text}; tx {tx_hash})"
            )
            out.append(
                event.alert("outflow", text, amount=value, counterparty=to, threshold=limit.amount)
            )
        return out

    # -- token events --------------------------------------------------------------------------

    def for_log(self, scope: Scope, log: Log) -> Alert | None:
        """The alert of a token event of the account's, or None."""
        ev = token_event(log)
        if ev is None or log.block_number is None or log.log_index is None:
            return None
        tx_hash = str(log.tx_hash)
        key = f"{scope.chain_id}:{log.block_hash}:{tx_hash}:{log.log_index}"
        where = Event(scope.address, scope.chain_id, log.block_number, tx_hash, log.log_index,
                      key)  # fmt: skip
        label = self.names.token(ev.contract)
        if ev.name == "Transfer":
            return self._transfer(scope, where, ev, label)
        if ev.first.lower() != scope.me:
            return None
        if ev.name == "ApprovalForAll" and ev.amount == 0:
            return None  # a revocation
        if ev.name == "Approval" and (ev.second == ZERO if ev.token_id is not None else
                                      ev.amount == 0):  # fmt: skip
            return None  # an ERC-721 approval cleared, an ERC-20 revocation
        return self._approval(scope, where, ev, label)

    def _who(self, label: TokenLabel) -> Callable[[str], str]:
        # An unlisted contract chose every address in its events: none gets a name.
        return self.names.label if label.listed else (lambda a: a)

    @staticmethod
    def _common(ev: TokenEvent, label: TokenLabel, *, limited: bool | None = None) -> _Source:
        """An unlisted contract's alerts count against its rate limit (``limited``: say)."""
        return {
            "asset": ev.contract,
            "symbol": label.symbol,
            "source": ev.contract,
            "limited": not label.listed if limited is None else limited,
        }

    def _transfer(
        self, scope: Scope, where: Event, ev: TokenEvent, label: TokenLabel
    ) -> Alert | None:
        if ev.first.lower() == ev.second.lower():
            return None  # to oneself: neither in nor out
        if ev.second.lower() == scope.me:
            return self._incoming(where, ev, label)
        if ev.first.lower() != scope.me or ev.token_id is not None:
            return None
        limit = scope.limits.get(ev.contract)
        if limit is None or ev.amount <= limit.amount:
            return None
        return where.alert(
            "outflow",
            f"outflow above your threshold: {_amount(ev.amount, label.decimals, True)} "
            f"{label.display} to {self._who(label)(ev.second)} (threshold {limit.text}; "
            f"tx {where.hash})",
            decimals=label.decimals, amount=ev.amount, counterparty=ev.second,
            threshold=limit.amount, **self._common(ev, label),
        )  # fmt: skip

    def _incoming(self, where: Event, ev: TokenEvent, label: TokenLabel) -> Alert | None:
        nft = ev.token_id is not None
        if not nft and ev.amount == 0:
            return None  # zero-value transfers are address-poisoning spam
        minted = ev.first == ZERO
        origin = "minted" if minted else f"from {self._who(label)(ev.first)}"
        what = f"#{ev.token_id}" if nft else _amount(ev.amount, label.decimals,
                                                     label.decimals_known)  # fmt: skip
        common = self._common(ev, label)
        if label.status == "impostor":
            return where.alert(
                "spoofing",
                f"SPOOFING ATTEMPT: {label.display} logged {what} sent to you "
                f"{'minted' if minted else f'from {ev.first}'} (tx {where.hash}). It is not "
                f"{label.imitates}: nothing of {label.imitates} arrived; do not interact with "
                "that contract.",
                decimals=0 if nft else label.decimals, amount=None if nft else ev.amount,
                token_id=ev.token_id, counterparty=ev.first, **common,
            )  # fmt: skip
        common = self._common(ev, label, limited=True)  # incoming: limited, listed or not
        unlisted = "" if label.listed else " (unlisted token: the sender is only its own word)"
        if nft:
            text = f"incoming: {label.display} #{ev.token_id} {origin}{unlisted} (tx {where.hash})"
        else:
            text = f"incoming: {what} {label.display} {origin}{unlisted} (tx {where.hash})"
        return where.alert(
            "incoming", text, decimals=0 if nft else label.decimals,
            amount=None if nft else ev.amount, token_id=ev.token_id, counterparty=ev.first,
            **common,
        )  # fmt: skip

    def _approval(self, scope: Scope, where: Event, ev: TokenEvent, label: TokenLabel) -> Alert:
        sender = self._sender(scope, where.hash)
        if sender is not None and sender.lower() != scope.me:
            real = granted_without_sending(
                self.reads, ev.contract, label.listed, ev.name, scope.address, ev.second,
                ev.amount, ev.token_id, where.block, scope.txs.get(where.hash),
            )  # fmt: skip
            if not real:
                return self._spoofed(where, ev, label, sender)
        spender = self._who(label)(ev.second)
        by = (
            ""
            if sender is None or sender.lower() == scope.me
            else f", by a permit sent by {sender}"
        )
        common = self._common(ev, label)
        if ev.name == "ApprovalForAll":
            return where.alert(
                "approval",
                f"approval: {spender} may now transfer ALL your {label.display} tokens "
                f"(setApprovalForAll{by}; tx {where.hash}). {REVOKE}",
                decimals=0, amount=None, counterparty=ev.second, unlimited=True,
                **common,
            )  # fmt: skip
        if ev.token_id is not None:  # ERC-721: one token
            return where.alert(
                "approval",
                f"approval: {spender} may now transfer your {label.display} #{ev.token_id}"
                f"{by} (tx {where.hash})",
                decimals=0, amount=None, token_id=ev.token_id, counterparty=ev.second,
                **common,
            )  # fmt: skip
        unlimited = ev.amount >= UNLIMITED_FROM
        if unlimited:
            text = (
                f"approval: {spender} may now spend UNLIMITED {label.display}{by} "
                f"(tx {where.hash}). {REVOKE}"
            )
        else:
            shown = _amount(ev.amount, label.decimals, label.decimals_known)
            text = f"approval: {spender} may now spend up to {shown} {label.display}{by} " + (
                f"(tx {where.hash})"
            )
        return where.alert(
            "approval", text, decimals=label.decimals, amount=ev.amount, counterparty=ev.second,
            unlimited=unlimited, **common,
        )  # fmt: skip

    def _spoofed(self, where: Event, ev: TokenEvent, label: TokenLabel, sender: str) -> Alert:
        if ev.name == "ApprovalForAll":
            what = "ALL your tokens (setApprovalForAll)"
        elif ev.token_id is not None:
            what = f"your #{ev.token_id}"
        elif ev.amount >= UNLIMITED_FROM:
            what = "UNLIMITED amounts of your tokens"
        else:  # "5 of your tokens"; without decimals, "5 base units of your tokens"
            shown = _amount(ev.amount, label.decimals, label.decimals_known)
            what = f"up to {shown.removesuffix(' of')} of your tokens"
        return where.alert(
            "spoofing",
            f"SPOOFING ATTEMPT: {label.display} logged an approval of {what} to "
            f"{ev.second} in a transaction sent by {sender}, not by you, that no permit you "
            f"signed explains (tx {where.hash}). You approved nothing; do not interact with "
            "that contract.",
            decimals=label.decimals, amount=None if ev.token_id is not None else ev.amount,
            token_id=ev.token_id, counterparty=ev.second,
            **self._common(ev, label, limited=True),
        )  # fmt: skip

    def _sender(self, scope: Scope, tx_hash: str) -> str | None:
        """Who sent the transaction (from the scanned blocks, else asked of the node)."""
        tx = scope.txs.get(tx_hash)
        if tx is None:
            tx = self._transaction(tx_hash)
            if tx is not None:
                scope.txs[tx_hash] = tx
        if tx is None or not tx.get("from"):
            return None
        return to_checksum_address(str(tx["from"]))


def _amount(amount: int, decimals: int, known: bool) -> str:
    return format_amount(amount, decimals) if known else f"{amount} base units of"


def _quantity(value: object) -> int:
    from walletim.chain.rpc import quantity

    return quantity(value, "value")


__all__ = ["TOKEN_TOPICS", "WATCHED", "AlertMaker", "Scope", "TokenEvent", "token_event"]
