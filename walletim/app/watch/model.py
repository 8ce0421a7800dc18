"""What the watcher hands out: alerts, outflow thresholds, and where an event happened."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypedDict

from walletim.chain.units import ETHER_UNITS, format_amount, parse_amount
from walletim.errors import InputError, shown, text_input

if TYPE_CHECKING:
    from walletim.app.defi import Asset

Kind = Literal["incoming", "unsigned", "approval", "outflow", "spoofing", "summary"]
KINDS: tuple[Kind, ...] = ("incoming", "unsigned", "approval", "outflow", "spoofing", "summary")
RATE_LIMIT = 3  # alerts per contract per account per window (see walletim.app.watch)
RATE_WINDOW_S = 3600
LOG_CHUNK = 500  # blocks per scanned chunk (one eth_getLogs pair, one cursor update)
BLOCK_BATCH = 50  # full blocks fetched per batched request
REORG_RESCAN = 12  # blocks looked at again when the chain is shorter than the cursor
ZERO = "0x" + "0" * 40

_THRESHOLD = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]*)?|\.[0-9]+)\s*(\S+)?\s*$")


@dataclass(frozen=True, slots=True)
class Threshold:
    """Outflows of one asset strictly above ``amount`` (base units) raise an alert."""

    asset: str | None  # the token's address; None: ETH
    symbol: str
    decimals: int
    amount: int

    @property
    def text(self) -> str:
        return f"{format_amount(self.amount, self.decimals)} {self.symbol}"


#: Outflow thresholds by asset (None: ETH).
Limits = dict[str | None, Threshold]


def parse_threshold(text: str, asset: Callable[[str], Asset]) -> Threshold:
    """``1eth``, ``0.5``, ``20 gwei`` (ETH), ``500 USDC``, ``500USDC`` or ``100 0xTOKEN``
    (``asset`` names a token). Raises InputError: a malformed amount or an unknown token."""
    text = text_input(text, "a threshold (such as '1eth' or '500 USDC')")
    m = _THRESHOLD.match(text) if len(text) <= 256 else None  # bounded backtracking
    if m is None:
        raise InputError(f"not a threshold: {shown(text)} (e.g. 1eth, 0.5, 500 USDC, 100 0xTOKEN)")
    number, unit = m.group(1), m.group(2)
    if unit is None or unit.lower() in ETHER_UNITS:
        return Threshold(None, "ETH", 18, parse_amount(number, default_unit=unit or "eth"))
    found = asset(unit)
    if found.is_eth:
        return Threshold(None, "ETH", 18, parse_amount(number))
    assert found.address is not None
    amount = parse_amount(number, decimals=found.decimals)
    return Threshold(found.address, found.symbol, found.decimals, amount)


class AlertJson(TypedDict):
    kind: str
    text: str
    hash: str
    block: int
    log_index: int | None
    account: str
    chain_id: int
    asset: str | None
    symbol: str
    decimals: int
    amount: str | None
    amount_text: str | None
    token_id: str | None
    counterparty: str | None
    unlimited: bool
    threshold: str | None
    key: str
    message_id: int | None
    source: str | None


@dataclass(frozen=True, slots=True)
class Alert:
    """One posted alert. ``amount`` is in the asset's base units (None for an NFT or an
    ApprovalForAll); ``counterparty`` is the sender (incoming), the recipient (outflow,
    unsigned) or the spender (approval)."""

    kind: str  # one of KINDS
    key: str  # dedupe key: the same event always has the same key
    text: str  # the human line posted in the conversation with yourself
    account: str  # the watched address
    chain_id: int
    block: int
    hash: str  # the transaction's hash
    log_index: int | None
    asset: str | None  # token or collection address; None: ETH
    symbol: str
    decimals: int
    amount: int | None
    token_id: int | None
    counterparty: str | None
    unlimited: bool = False
    threshold: int | None = None  # outflow: the threshold it exceeded (base units)
    message_id: int | None = None  # the chat message showing it (set once posted)
    source: str | None = None  # the contract whose event it is (None: not from an event)
    limited: bool = False  # counted against the source's rate limit

    def to_json(self) -> AlertJson:
        """JSON-friendly: amounts as decimal strings of base units (and ``amount_text``)."""
        amount = self.amount
        return {
            "kind": self.kind,
            "text": self.text,
            "hash": self.hash,
            "block": self.block,
            "log_index": self.log_index,
            "account": self.account,
            "chain_id": self.chain_id,
            "asset": self.asset,
            "symbol": self.symbol,
            "decimals": self.decimals,
            "amount": None if amount is None else str(amount),
            "amount_text": None if amount is None else format_amount(amount, self.decimals),
            "token_id": None if self.token_id is None else str(self.token_id),
            "counterparty": self.counterparty,
            "unlimited": self.unlimited,
            "threshold": None if self.threshold is None else str(self.threshold),
            "key": self.key,
            "message_id": self.message_id,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """Where an event happened; ``key`` identifies it (the alert's key adds its kind)."""

    account: str
    chain_id: int
    block: int
    hash: str
    log_index: int | None
    key: str

    def alert(
        self,
        kind: Kind,
        text: str,
        *,
        amount: int | None,
        counterparty: str | None,
        asset: str | None = None,
        symbol: str = "ETH",
        decimals: int = 18,
        token_id: int | None = None,
        unlimited: bool = False,
        threshold: int | None = None,
        source: str | None = None,
        limited: bool = False,
    ) -> Alert:
        return Alert(
            kind, f"{kind}:{self.key}", text, self.account, self.chain_id, self.block, self.hash,
            self.log_index, asset, symbol, decimals, amount, token_id, counterparty, unlimited,
            threshold, None, source, limited,
        )  # fmt: skip


__all__ = [
    "BLOCK_BATCH",
    "KINDS",
    "LOG_CHUNK",
    "RATE_LIMIT",
    "RATE_WINDOW_S",
    "REORG_RESCAN",
    "Alert",
    "AlertJson",
    "Event",
    "Kind",
    "Limits",
    "Threshold",
    "parse_threshold",
]
