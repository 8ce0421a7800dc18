"""What the agent may sign for an account without the password (pure): the policy, its
JSON form, and the checks of a transaction or typed data against it.

A :class:`Policy` (one per account, sealed in its wallet file: :mod:`walletim.app.wallets`)
says which chain ids the account may sign for, how much ETH and how much of each named
ERC-20 it may spend per transaction and per day, and which contracts (and functions of
them) it may call. An account without a policy is not limited (as with ssh-agent).

What a transaction spends is read from what would be signed, with
:func:`walletim.contracts.describe.describe_call`: its ``value`` in ETH, and on a capped
token's contract a ``transfer``, ``transferFrom`` from the signer, ``approve``,
``increaseAllowance`` or ``permit`` for its amount (an approval lets the spender take that
much: it counts as spent). Calls inside calls (a multicall, a Safe or ERC-4337 call,
Permit2) are refused under token caps or a list of calls, and a call of the account itself
with calldata under any cap (an account delegated by EIP-7702 runs it as itself). What typed
data and messages let be spent: :mod:`walletim.agent.signed_data`.

"Per day" is a rolling 24 hours, counted by the agent (:class:`Ledger`) from what it signed:
a signed transaction counts even if it is never broadcast or is replaced. The agent keeps
the counts in an encrypted file too (:mod:`walletim.store.agent_spent`): an agent started
again counts what the one before it signed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from walletim.chain.units import format_amount
from walletim.jsonview import same_fields
from walletim.keys.hd import to_checksum_address

ETH = "ETH"
DAY = 24 * 3600
MAX_RULES = 64
UNLIMITED = 2**256  # an unlimited approval, or an amount not known: over any cap


class PolicyError(ValueError):
    """A policy document that does not parse (said in one line)."""


@dataclass(frozen=True, slots=True)
class Cap:
    """Base units (wei for ETH); None: no cap."""

    per_tx: int | None = None
    per_day: int | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "per_tx": None if self.per_tx is None else str(self.per_tx),
            "per_day": None if self.per_day is None else str(self.per_day),
        }

    @classmethod
    def from_json(cls, doc: object) -> Cap:
        if not isinstance(doc, dict) or set(doc) != {"per_tx", "per_day"}:
            raise PolicyError("a cap is {per_tx, per_day}")
        return cls(_amount(doc["per_tx"]), _amount(doc["per_day"]))

    @property
    def empty(self) -> bool:
        return self.per_tx is None and self.per_day is None


@dataclass(frozen=True, slots=True)
class TokenCap:
    token: str  # checksummed ERC-20 address
    symbol: str  # as the token book named it when the policy was set (for messages)
    decimals: int
    cap: Cap

    def to_json(self) -> dict[str, object]:
        return {**same_fields(self, "token", "symbol", "decimals"), **self.cap.to_json()}

    @classmethod
    def from_json(cls, doc: object) -> TokenCap:
        if not isinstance(doc, dict) or set(doc) != {
            "token",
            "symbol",
            "decimals",
            "per_tx",
            "per_day",
        }:
            raise PolicyError("a token cap is {token, symbol, decimals, per_tx, per_day}")
        decimals, symbol = doc["decimals"], doc["symbol"]
        if type(decimals) is not int or not 0 <= decimals <= 77:
            raise PolicyError("a token's decimals are 0 .. 77")
        if not isinstance(symbol, str) or len(symbol) > 32:
            raise PolicyError("a token's symbol is a string of at most 32 characters")
        cap = Cap(_amount(doc["per_tx"]), _amount(doc["per_day"]))
        return cls(_address(doc["token"]), symbol, decimals, cap)


@dataclass(frozen=True, slots=True)
class CallRule:
    """A contract the account may call: any of its functions (``selector`` None) or one."""

    to: str  # checksummed
    selector: bytes | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"to": self.to, "selector": None if self.selector is None else self.selector.hex()}

    @classmethod
    def from_json(cls, doc: object) -> CallRule:
        if not isinstance(doc, dict) or set(doc) != {"to", "selector"}:
            raise PolicyError("a call rule is {to, selector}")
        selector = doc["selector"]
        if selector is None:
            return cls(_address(doc["to"]))
        if not isinstance(selector, str) or len(selector) != 8:
            raise PolicyError("a selector is 4 bytes of hex")
        try:
            return cls(_address(doc["to"]), bytes.fromhex(selector))
        except ValueError as exc:
            raise PolicyError("a selector is 4 bytes of hex") from exc

    def allows(self, to: str, selector: bytes) -> bool:
        return self.to == to and (self.selector is None or self.selector == selector)

    @property
    def text(self) -> str:
        return self.to if self.selector is None else f"{self.to} function 0x{self.selector.hex()}"


@dataclass(frozen=True, slots=True)
class Policy:
    """One account's limits (see the module docstring). ``None`` fields: no limit."""

    chains: tuple[int, ...] | None = None
    eth: Cap = field(default_factory=Cap)
    tokens: tuple[TokenCap, ...] = ()
    calls: tuple[CallRule, ...] | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "version": 1,
            "chains": None if self.chains is None else list(self.chains),
            "eth": self.eth.to_json(),
            "tokens": [t.to_json() for t in self.tokens],
            "calls": None if self.calls is None else [c.to_json() for c in self.calls],
        }

    @classmethod
    def from_json(cls, doc: object) -> Policy:
        """Raises PolicyError on anything but a policy this version wrote."""
        if not isinstance(doc, dict) or doc.get("version") != 1:
            raise PolicyError("not a version-1 agent policy")
        if set(doc) != {"version", "chains", "eth", "tokens", "calls"}:
            raise PolicyError("a policy is {version, chains, eth, tokens, calls}")
        chains, tokens, calls = doc["chains"], doc["tokens"], doc["calls"]
        if chains is not None and not (
            isinstance(chains, list)
            and len(chains) <= MAX_RULES
            and all(type(c) is int and 0 < c < 2**256 for c in chains)
        ):
            raise PolicyError("chains are a list of chain ids")
        if not isinstance(tokens, list) or len(tokens) > MAX_RULES:
            raise PolicyError(f"tokens are a list of at most {MAX_RULES} caps")
        if calls is not None and (not isinstance(calls, list) or len(calls) > MAX_RULES):
            raise PolicyError(f"calls are a list of at most {MAX_RULES} rules")
        return cls(
            None if chains is None else tuple(chains),
            Cap.from_json(doc["eth"]),
            tuple(TokenCap.from_json(t) for t in tokens),
            None if calls is None else tuple(CallRule.from_json(c) for c in calls),
        )

    def token_cap(self, token: str) -> TokenCap | None:
        return next((t for t in self.tokens if t.token == token), None)

    def lines(self) -> list[str]:
        """The policy in words, one limit per line."""
        out = [
            "chains: "
            + ("any" if self.chains is None else ", ".join(map(str, self.chains)) or "none")
        ]
        out.append(f"ETH: {_cap_text(self.eth, 18, ETH)}")
        out += [
            f"{t.symbol} ({t.token}): {_cap_text(t.cap, t.decimals, t.symbol)}" for t in self.tokens
        ]
        if self.calls is None:
            out.append("calls: any contract")
        else:
            out.append(
                "calls: " + ("; ".join(c.text for c in self.calls) or "none (ETH transfers only)")
            )
        return out


def _cap_text(cap: Cap, decimals: int, unit: str) -> str:
    def one(value: int | None) -> str:
        return "no cap" if value is None else f"{format_amount(value, decimals)} {unit}"

    return f"{one(cap.per_tx)} per transaction, {one(cap.per_day)} per day"


def _amount(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.isdigit() or not value.isascii() or len(value) > 78:
        raise PolicyError("an amount is a decimal string of base units")
    amount = int(value)
    if amount >= 2**256:
        raise PolicyError("an amount is below 2**256")
    return amount


def _address(value: object) -> str:
    if not isinstance(value, str):
        raise PolicyError("an address is a 0x string")
    try:
        return to_checksum_address(value)
    except ValueError as exc:
        raise PolicyError("not an address") from exc
    except Exception as exc:  # KeysError
        raise PolicyError("not an address") from exc


# -- what a request spends ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spend:
    asset: str  # ETH or a token's checksummed address
    amount: int  # base units; UNLIMITED: everything
    what: str  # e.g. "a transfer of 5 USDC"


class Refused(Exception):
    """Outside the policy; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_NESTING_FLAGS = frozenset({"too-complex", "permit2", "nested-approval", "delegatecall"})


def transaction_spends(policy: Policy, tx: Mapping[str, Any], sender: str) -> list[Spend]:
    """What ``tx`` (checked fields: ``chainId``, ``to``, ``value``, ``data`` bytes) spends
    under ``policy``. Raises :class:`Refused` for a chain, a contract or a function the
    policy does not allow, or calls inside calls it cannot see through."""
    chain_id = int(tx["chainId"])
    if policy.chains is not None and chain_id not in policy.chains:
        raise Refused(f"chain {chain_id} is not among the chains it may sign for {_ids(policy)}")
    to, data, value = tx.get("to"), bytes(tx.get("data") or b""), int(tx.get("value", 0))
    spends = _eth_spends(tx, value)
    if to is None:
        if policy.calls is not None:
            raise Refused("it deploys a contract, which is not among the calls it may make")
        return spends
    target = to_checksum_address(str(to))
    if not data:
        return spends
    if target.lower() == sender.lower() and (policy.tokens or not policy.eth.empty):
        raise Refused("it calls the account itself: delegated (EIP-7702), it runs code uncounted")
    if policy.calls is not None and not any(r.allows(target, data[:4]) for r in policy.calls):
        raise Refused(
            f"a call of function 0x{data[:4].hex()} on {target} is not among the calls it may make"
        )
    if not policy.tokens and policy.calls is None:
        return spends
    return spends + _token_spends(policy, target, data, value, sender)


def _eth_spends(tx: Mapping[str, Any], value: int) -> list[Spend]:
    """The ETH a transaction can take from the account: its value and, at most, gas limit x
    max fee per gas (or gas price) in fees. A fee is ETH leaving too: a process that may use
    the agent could otherwise burn the balance in fees under any cap."""
    fee = int(tx.get("gas", 0)) * int(tx.get("maxFeePerGas", tx.get("gasPrice", 0)))
    if not value and not fee:
        return []
    what = f"{format_amount(value + fee, 18)} ETH"
    if fee:
        what += f" (at most {format_amount(fee, 18)} ETH of it in fees)"
    return [Spend(ETH, value + fee, what)]


def _token_spends(policy: Policy, to: str, data: bytes, value: int, sender: str) -> list[Spend]:
    from walletim.contracts.describe import TokenMeta, describe_call

    capped = policy.token_cap(to)

    def meta(address: str) -> TokenMeta | None:
        found = policy.token_cap(to_checksum_address(address))
        return None if found is None else TokenMeta(found.symbol, found.decimals)

    described = describe_call(to, data, value, token=meta, sender=sender)
    if described.inner or described.flags & _NESTING_FLAGS:
        raise Refused(
            "it carries calls inside a call (a multicall, a Safe or account call, Permit2), "
            "whose token movements the policy cannot check"
        )
    if capped is None:
        return []
    if described.signature is None or (
        described.signature not in _AMOUNT_AT and described.signature not in _MOVES_NONE
    ):
        # transferAndCall, increaseApproval, ERC-777 send, a function of its own: any may
        # move the token, and none is counted; a capped token is called only as counted.
        called = described.signature or f"function 0x{data[:4].hex()}"
        raise Refused(
            f"its call of {called} on {capped.symbol} is none the policy counts against the "
            "token's caps (transfer, approve, increaseAllowance, permit, transferFrom)"
        )
    if "malformed" in described.flags:
        # A token of ABI coder v1 (USDT, WETH9, DAI) masks an address's high bytes: what
        # does not decode here may still be a transfer there.
        raise Refused(
            f"its call of {described.signature} on {capped.symbol} does not decode, so what "
            "it moves cannot be counted against the token's caps"
        )
    amount = _erc20_amount(described.signature, [a.value for a in described.args], sender)
    if amount is None:
        return []
    sig = described.signature
    verb = "an approval" if "pprov" in sig or "ermit" in sig else "a transfer"
    return [Spend(capped.token, amount, f"{verb} of {_in(amount, capped.decimals, capped.symbol)}")]


#: The functions of a capped token whose amount is counted: where in its arguments
#: (:func:`_erc20_amount`).
_AMOUNT_AT = {
    "transfer(address,uint256)": 1,
    "approve(address,uint256)": 1,
    "increaseAllowance(address,uint256)": 1,
    "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)": 2,
    "transferFrom(address,address,uint256)": 2,  # counted when it takes the signer's own
}
#: Those that move none of the signer's tokens away: a lower allowance, WETH's wrap and unwrap
#: (ETH in, or the signer's own WETH back as ETH to the signer).
_MOVES_NONE = frozenset({"decreaseAllowance(address,uint256)", "deposit()", "withdraw(uint256)"})


def _erc20_amount(signature: str, args: list[object], sender: str) -> int | None:
    """The amount an ERC-20 call moves or lets move (None: it moves nothing of the signer's)."""
    position = _AMOUNT_AT.get(signature)
    if signature.startswith("transferFrom(") and str(args[0]).lower() != sender.lower():
        return None
    if position is None or position >= len(args) or type(args[position]) is not int:
        return None
    amount = int(args[position])  # type: ignore[call-overload]
    return UNLIMITED if amount >= 2**255 else amount


def _ids(policy: Policy) -> str:
    return "(" + ", ".join(map(str, policy.chains or ())) + ")"


# -- caps ------------------------------------------------------------------------------------


class Keep(Protocol):
    """Where a ledger keeps what it records, so that the counts outlive the agent."""

    def __call__(self, address: str, asset: str, when: float, amount: int) -> None: ...


class Ledger:
    """What the agent signed per (account address, asset) over the last 24 hours; each
    spend recorded is also given to ``keep`` (set by the agent: its file of spends)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._entries: dict[tuple[str, str], list[tuple[float, int]]] = {}
        self.keep: Keep | None = None

    def restore(self, kept: Iterable[tuple[str, str, float, int]]) -> None:
        """Count spends kept by an earlier agent (address, asset, when, amount) too."""
        seen = {(k, e) for k, entries in self._entries.items() for e in entries}
        for address, asset, when, amount in kept:
            if ((address, asset), (when, amount)) not in seen:
                self._entries.setdefault((address, asset), []).append((when, amount))

    def spent(self, address: str, asset: str) -> int:
        now = self._clock()
        kept = [(t, a) for t, a in self._entries.get((address, asset), []) if now - t < DAY]
        self._entries[(address, asset)] = kept
        return sum(a for _t, a in kept)

    def record(self, address: str, spends: Iterable[Spend]) -> None:
        now = self._clock()
        for spend in spends:
            self._entries.setdefault((address, spend.asset), []).append((now, spend.amount))
            if self.keep is not None:
                self.keep(address, spend.asset, now, spend.amount)

    def totals(self, address: str) -> dict[str, int]:
        return {
            asset: self.spent(addr, asset)
            for (addr, asset) in list(self._entries)
            if addr == address
        }


def _in(value: int, decimals: int, unit: str) -> str:
    if value >= UNLIMITED:
        return f"UNLIMITED {unit}"
    return f"{format_amount(value, decimals)} {unit}"


def check_caps(policy: Policy, address: str, spends: list[Spend], ledger: Ledger) -> None:
    """Raise :class:`Refused` if ``spends`` (of one request: the amounts of one asset add
    up) go over a per-transaction or a daily cap."""
    check_plan(policy, address, [spends], ledger)


class Counts(Protocol):
    """What was signed in the last 24 hours (a :class:`Ledger`, or the agent's answer)."""

    def spent(self, address: str, asset: str) -> int: ...


def check_plan(policy: Policy, address: str, plan: list[list[Spend]], ledger: Counts) -> None:
    """Raise :class:`Refused` if a transaction of ``plan`` (what each spends) goes over a
    per-transaction cap, or all of them together over a daily cap."""
    total: dict[str, int] = {}
    for spends in plan:
        for asset, amount in _by_asset(spends).items():
            total[asset] = total.get(asset, 0) + amount
            cap, decimals, unit = _cap_of(policy, asset)
            if cap is not None and cap.per_tx is not None and amount > cap.per_tx:
                said = [s.what for s in spends if s.asset == asset]
                raise Refused(
                    f"{said[0] if len(said) == 1 else _in(amount, decimals, unit)} is over its "
                    f"cap of {_in(cap.per_tx, decimals, unit)} per transaction"
                )
    for asset, amount in total.items():
        cap, decimals, unit = _cap_of(policy, asset)
        if cap is None or cap.per_day is None:
            continue
        before = ledger.spent(address, asset)
        if before + amount > cap.per_day:
            raise Refused(
                f"{_in(amount, decimals, unit)} would make "
                f"{_in(before + amount, decimals, unit)} in 24 hours, over its cap of "
                f"{_in(cap.per_day, decimals, unit)} per day "
                f"({_in(before, decimals, unit)} already signed)"
            )


def _by_asset(spends: list[Spend]) -> dict[str, int]:
    out: dict[str, int] = {}
    for spend in spends:
        out[spend.asset] = out.get(spend.asset, 0) + spend.amount
    return out


def _cap_of(policy: Policy, asset: str) -> tuple[Cap | None, int, str]:
    if asset == ETH:
        return policy.eth, 18, ETH
    token = policy.token_cap(asset)
    if token is None:
        return None, 0, ""
    return token.cap, token.decimals, token.symbol
