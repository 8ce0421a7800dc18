"""The state of one description (pure): the callbacks (made safe: a lookup never breaks a
description), the flags gathered, and the budget shared by every level of calls inside calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from walletim.contracts.describe.model import (
    ETH,
    LP,
    MAX_INNER_BYTES,
    MAX_INNER_CALLS,
    UNLIMITED_FROM,
    CallDescription,
    TokenMeta,
    TokenMetaLike,
    _eth,
    _fmt_amount,
    clean_text,
)

#: How a call is described (walletim.contracts.describe.calls._describe): carried calls are
#: described by the same function, handed down in the context (no import circle).
Describe = Callable[["_Ctx", bytes, int], CallDescription]


class _Budget:
    """What is left for calls inside calls, shared by every level of one description."""

    def __init__(self) -> None:
        self.calls = MAX_INNER_CALLS
        self.bytes = MAX_INNER_BYTES


@dataclass(eq=False)
class _Ctx:
    to: str
    _token: Callable[[str], TokenMetaLike | None]
    _name: Callable[[str], str | None]
    _asset_of: Callable[[str], str | None]
    sender: str | None
    _run: Describe
    budget: _Budget = field(default_factory=_Budget)
    depth: int = 0
    flags: set[str] = field(default_factory=set)
    details: list[str] = field(default_factory=list)  # lines under the summary
    inner: list[CallDescription] = field(default_factory=list)
    approvals: list[str] = field(default_factory=list)  # of the calls inside (own: at the end)
    inner_flags: set[str] = field(default_factory=set)

    def child(self, to: str, sender: str | None) -> _Ctx:
        """The context of a call this one carries: the same callbacks and budget."""
        return _Ctx(
            to, self._token, self._name, self._asset_of, sender, self._run, self.budget,
            self.depth + 1,
        )  # fmt: skip

    def describe(self, data: bytes, value: int) -> CallDescription:
        """Describe a call of this context (a carried call: made with :meth:`child`)."""
        return self._run(self, data, value)

    def token(self, address: str) -> TokenMetaLike | None:
        """The callback's answer if it is usable; a lookup must never break a description.
        An answer with a ``display`` (a TokenBook label) is shown by it, and its ``status``
        (unlisted / impostor) flags the description."""
        try:
            meta = self._token(address)
            if meta is None:
                return None
            symbol, decimals = meta.symbol, meta.decimals
            display = getattr(meta, "display", None)
            status = getattr(meta, "status", None)
        except Exception:
            return None
        if type(decimals) is not int or not 0 <= decimals <= 77 or not isinstance(symbol, str):
            return None
        if status in ("unlisted", "impostor"):
            self.flags.add(f"{status}-token")
        if isinstance(display, str) and display:
            return TokenMeta(clean_text(display, 120) or "?", decimals)
        return TokenMeta(clean_text(symbol, 20) or "?", decimals)

    def label(self, address: str) -> str:
        try:
            name = self._name(address)
        except Exception:
            name = None
        name = clean_text(name) if isinstance(name, str) else None
        short = f"{address[:6]}…{address[-4:]}"
        return f"{name} ({short})" if name else address

    def symbol(self, token_address: str) -> str:
        meta = self.token(token_address)
        return meta.symbol if meta else self.label(token_address)

    def amount(self, token_address: str | None, value: int) -> str:
        """``value`` base units of a token (or wei when ``token_address`` is None / ETH)."""
        if token_address is None or token_address == ETH:
            return _eth(value)
        if token_address == LP:
            return f"{_fmt_amount(value, 18)} LP tokens"
        meta = self.token(token_address)
        if meta is None:
            return f"{value} base units of {self.label(token_address)}"
        return f"{_fmt_amount(value, meta.decimals)} {meta.symbol}"

    def limit(self, token_address: str, value: int) -> str:
        """An allowance: UNLIMITED from 2**255 up."""
        if value >= UNLIMITED_FROM:
            return self.unlimited(token_address)
        return self.amount(token_address, value)

    def unlimited(self, token_address: str) -> str:
        meta = self.token(token_address)
        return (
            f"UNLIMITED {meta.symbol}"
            if meta
            else f"UNLIMITED amounts of {self.label(token_address)}"
        )

    def is_sender(self, address: str) -> bool:
        return self.sender is not None and address.lower() == self.sender.lower()

    def recipient(self, address: str) -> str:
        if self.sender is not None and address.lower() != self.sender.lower():
            self.flags.add("third-party-recipient")
            return f"{self.label(address)} (NOT you)"
        return self.label(address)

    def asset_of(self, vault: str) -> str | None:
        try:
            asset = self._asset_of(vault)
        except Exception:
            return None
        return asset if isinstance(asset, str) else None
