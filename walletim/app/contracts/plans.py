"""Plans and their outcomes (values only): a :class:`Plan` is one user action as the
transactions it takes, each a :class:`Step` described from its own calldata; an
:class:`Outcome` says what became of each step."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from walletim.chain.rpc import Log
from walletim.errors import InputError, shown

if TYPE_CHECKING:
    from walletim.app.chain import SendRequest
    from walletim.app.tokens import TokenLabel
    from walletim.contracts.abi import DecodedEvent
    from walletim.store.txs import TxStatus

#: An action's numbers, for --json and scripts: JSON values (text, numbers, addresses, lists)
#: by name. Scripts read them by the names each action documents.
Figures = dict[str, Any]

MAX_UINT256 = 2**256 - 1
UNLIMITED_FROM = 2**255  # an allowance this large is "unlimited" for all practical purposes


@dataclass(frozen=True, slots=True)
class TokenMeta:
    """An ERC-20's symbol and decimals as shown: with a TokenBook, ``symbol`` is the
    book's ``display`` (unlisted and impostor tokens marked) and ``label`` its TokenLabel."""

    address: str
    symbol: str
    decimals: int
    name: str = ""
    label: TokenLabel | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One transaction of a plan: what to send and how it reads."""

    label: str  # e.g. "approve", "swap"
    request: SendRequest
    summary: str  # one line, from the calldata (never from what we meant it to be)
    flags: frozenset[str] = frozenset()
    #: Lines under the summary: the calls it carries (multicalls, permits, Permit2), each
    #: with its approvals flagged (see walletim.contracts.describe).
    details: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Simulated:
    """One step's dry run on the node (:mod:`walletim.app.contracts.simulate`)."""

    ok: bool
    gas_used: int | None
    reason: str | None  # the decoded revert reason when not ok
    logs: tuple[Log, ...] = ()
    returned: bytes = b""  # the call's return data when ok


@dataclass(frozen=True, slots=True)
class Plan:
    """Transactions to sign in order, decoded and shown before any is signed; checked once
    ``simulation`` holds a passing dry run of every step."""

    title: str
    account: str
    sender: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()  # quotes, previews, limits: shown with the confirmation
    figures: Figures = field(default_factory=dict)  # for --json and scripts
    simulation: tuple[Simulated, ...] = ()  # empty until the plan is checked

    @property
    def flags(self) -> frozenset[str]:
        out: frozenset[str] = frozenset()
        for step in self.steps:
            out |= step.flags
        return out

    @property
    def simulated(self) -> bool:
        """Whether every step has been simulated (and passed: a failing plan is refused)."""
        return len(self.simulation) == len(self.steps) and all(s.ok for s in self.simulation)

    def with_simulation(self, simulation: tuple[Simulated, ...]) -> Plan:
        return replace(self, simulation=simulation)


@dataclass(frozen=True, slots=True)
class StepResult:
    """What became of one step's transaction."""

    label: str
    hash: str
    status: TxStatus
    gas_used: int | None
    events: tuple[DecodedEvent, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A plan and what became of each of its steps."""

    plan: Plan
    steps: tuple[StepResult, ...]

    @property
    def ok(self) -> bool:
        return all(s.status == "mined" for s in self.steps)

    @classmethod
    def waiting(cls, plan: Plan, hashes: list[str]) -> Outcome:
        """A plan whose last step's transaction (the last of ``hashes``, one per step, those
        before it mined) was not mined when the wait ended (pending past it, or replaced
        meanwhile by a speed-up or a cancel of ours): it, or what replaced it, may still
        be mined."""
        *mined, last = hashes
        steps = [
            StepResult(s.label, h, "mined", None, ())
            for s, h in zip(plan.steps, mined, strict=False)
        ]
        return cls(plan, (*steps, StepResult(plan.steps[-1].label, last, "pending", None, ())))

    @property
    def hash(self) -> str:
        """The last (main) transaction's hash."""
        return self.steps[-1].hash


def parse_percent(text: str, *, what: str = "slippage", maximum: float = 50.0) -> int:
    """``0.5`` / ``0.5%`` -> basis points (50), rounded down: never more slippage than asked
    (``0.129`` is 12, not 13). Raises InputError outside 0 .. ``maximum``%."""
    from walletim.numbers import decimal

    exact = decimal(text.strip().removesuffix("%").strip())  # ASCII digits: never nan or ５
    if exact is None:
        raise InputError(f"{what} must be a percentage like 0.5 or 1%: got {shown(text)}")
    if not 0 <= exact <= maximum:
        raise InputError(f"{what} must be between 0% and {maximum:g}%")
    return int(exact * 100)


def now() -> int:
    return int(time.time())
