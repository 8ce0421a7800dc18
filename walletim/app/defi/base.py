"""What every DeFi action shares (:class:`DefiCore`): who signs, balances and allowances,
exact approvals, deadlines, and plans checked by simulation before they are shown."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from walletim.app.chain import SendRequest
from walletim.app.contracts import ContractService, Figures, Plan, Step
from walletim.app.defi.assets import Asset, Names
from walletim.app.defi.logs import LogScanner
from walletim.app.risk import Risk, RiskPolicy, enforce, risks_json, unannounced_outflows
from walletim.chain.rpc import Q, answered
from walletim.contracts.abi import Value, calldata
from walletim.errors import (
    ContractRefused,
    ContractReverted,
    InputError,
    InsufficientFunds,
    RpcError,
)
from walletim.keys.hd import to_checksum_address

DEFAULT_SLIPPAGE_BPS = 50  # 0.5 %
DEFAULT_DEADLINE_S = 20 * 60
#: ERC-165's interface id of ERC-721.
ERC721_INTERFACE = bytes.fromhex("80ac58cd")


@dataclass(frozen=True, eq=False)
class DefiCore:
    """The collaborators of the DeFi actions and the helpers they share.

    ``c`` (a ContractService) reads, describes, simulates and executes; ``names`` names
    assets and the devnet world's contracts; ``logs`` finds logs; ``account_address(spec)``
    is a wallet account's address; ``resolve(text)`` an address, account or contact.
    """

    c: ContractService
    names: Names
    logs: LogScanner
    account_address: Callable[[str], str]
    resolve: Callable[[str], str]

    def sender(self, account: str) -> str:
        return to_checksum_address(self.account_address(account))

    @property
    def risks(self) -> RiskPolicy:
        """The one policy for risky sends (walletim.app.risk)."""
        return RiskPolicy(self.c.has_code, self.c.token_label)

    def deadline(self, seconds: int) -> int:
        if not 1 <= seconds <= 7 * 24 * 3600:
            raise InputError("the deadline must be 1 second .. 7 days from now")
        return self.c.next_timestamp() + seconds

    def read(
        self, to: str, signature: str, *args: object, returns: Sequence[str]
    ) -> tuple[Value, ...]:
        return self.c.read(to, signature, *args, returns=returns)

    def read_int(self, to: str, signature: str, *args: object) -> int:
        """A view function's one uint256."""
        (value,) = self.c.read(to, signature, *args, returns=["uint256"])
        return int(value)

    def try_read(
        self,
        to: str,
        signature: str,
        *args: object,
        returns: Sequence[str],
        default: tuple[Value, ...],
    ) -> tuple[Value, ...]:
        """:meth:`read`, or ``default`` when the contract does not answer it (it reverts, or
        answers nothing or data that does not decode). Raises RpcError: a node failure is
        never taken for the contract's answer."""
        try:
            return self.c.read(to, signature, *args, returns=returns)
        except ContractRefused:
            return default

    def is_erc721(self, contract: str) -> bool:
        """ERC-165 says ERC-721 (no: it answers otherwise or not at all). Raises RpcError."""
        (yes,) = self.try_read(
            contract, "supportsInterface(bytes4)", ERC721_INTERFACE, returns=["bool"],
            default=(False,),
        )  # fmt: skip
        return bool(yes)

    def balance(self, asset: Asset, holder: str) -> int:
        """``holder``'s balance of ``asset`` (``holder``: an address, a wallet account or a
        contact, as :attr:`resolve` reads it). Raises InputError."""
        holder = self.resolve(holder)
        if asset.address is None:
            return self.c.rpc.get(Q.balance(holder))
        from walletim.app.chain.tokens import token_balance  # as `balance --token` reads it

        return token_balance(self.c.rpc, asset.address, holder)

    def allowance(self, token: Asset, owner: str, spender: str) -> int:
        """What ``owner`` lets ``spender`` take of ``token`` (each as :meth:`balance`'s
        holder)."""
        assert token.address is not None
        owner, spender = self.resolve(owner), self.resolve(spender)
        return self.read_int(token.address, "allowance(address,address)", owner, spender)

    def need(
        self, asset: Asset, holder: str, amount: int, who: str, have: int | None = None
    ) -> None:
        """Raises InsufficientFunds unless ``holder`` has ``amount`` of ``asset`` (``have``:
        the balance just read, else read now)."""
        have = self.balance(asset, holder) if have is None else have
        if have < amount:
            raise InsufficientFunds(
                f"insufficient {asset.symbol}: {who} has {asset.fmt(have)}, this needs "
                f"{asset.fmt(amount)}; nothing was signed"
            )

    def transfer_checks(
        self, account: str, sender: str, to: str, asset: Asset, amount: int, *, force: bool
    ) -> list[Risk]:
        """The risk policy on sending ``amount`` of ``asset`` to ``to`` (a refusal raises
        RiskRefused unless ``force``), then the funds check (InsufficientFunds): the
        recipient's code and the sender's balance are read in one round trip."""
        if asset.address is None:
            code, funds = self.c.rpc.gather(Q.code(to), Q.balance(sender))
            have = None if isinstance(funds, RpcError) else funds
        else:
            call = Q.call(asset.address, calldata("balanceOf(address)", sender))
            code, raw = self.c.rpc.gather(Q.code(to), call)
            # Anything but one word (an error, a revert) is read again the usual way, which
            # raises the decoded error.
            word = raw if isinstance(raw, bytes) and len(raw) == 32 else None
            have = None if word is None else int.from_bytes(word, "big")
        policy = self.risks.knowing(to, bool(answered(code)))
        risks = policy.transfer(sender, to, amount, asset.address, asset.symbol)
        enforce(risks, force)
        self.need(asset, sender, amount, account, have)
        return risks

    def step(
        self, label: str, to: str, data: bytes, *, kind: str, sender: str, value: int = 0
    ) -> Step:
        """A step described from its own calldata (see ContractService.step)."""
        return self.c.step(label, SendRequest(to, value, data, kind=kind), sender=sender)

    def approval_steps(self, token: Asset, owner: str, spender: str, amount: int) -> list[Step]:
        """An exact approval when the current allowance is short (none otherwise); first an
        approval of 0 when the token refuses to change a non-zero allowance otherwise (USDT:
        its approve then reverts, and the plan could never be made)."""
        allowed = self.allowance(token, owner, spender)
        if allowed >= amount:
            return []
        return self.approve_steps(token, owner, spender, amount, allowed=allowed)

    def approve_steps(
        self, token: Asset, owner: str, spender: str, amount: int, *, allowed: int | None = None
    ) -> list[Step]:
        """approve(spender, amount); first approve(spender, 0) when a non-zero allowance
        (``allowed``, else read) is one the token changes only to 0 (USDT)."""
        assert token.address is not None
        if allowed is None:
            allowed = self.allowance(token, owner, spender)
        data = calldata("approve(address,uint256)", spender, amount)
        steps = [self.step("approve", token.address, data, kind="approve", sender=owner)]
        if allowed and amount and self._refuses(token.address, owner, data):
            zero = calldata("approve(address,uint256)", spender, 0)
            steps.insert(0, self.step("approve", token.address, zero, kind="approve", sender=owner))
        return steps

    def _refuses(self, token: str, owner: str, data: bytes) -> bool:
        """Whether ``owner``'s ERC-20 call ``data`` to ``token`` reverts or answers false
        now. Raises RpcError."""
        from walletim.app.chain.tokens import answers_false

        try:
            return answers_false(data, self.c.call_raw(token, data, sender=owner))
        except ContractReverted:
            return True

    def outflows(self, plan: Plan, sender: str, named: Sequence[str]) -> list[Risk]:
        """What the checked ``plan``'s dry run takes from ``sender`` beyond the ``named``
        tokens it says it moves (a contract's code is whatever its deployer wrote):
        walletim.app.risk.unannounced_outflows, each token named as the token lists name it."""
        from walletim.chain.units import format_amount

        def fmt(token: str, value: int) -> str:
            meta = self.c.token_meta(token)
            if meta is None:
                return f"{value} base units of {token}"
            return f"{format_amount(value, meta.decimals)} {meta.symbol} ({token})"

        return unannounced_outflows(plan, sender, named, fmt)

    def plan(
        self,
        title: str,
        account: str,
        sender: str,
        steps: Sequence[Step],
        notes: Sequence[str] = (),
        figures: Figures | None = None,
    ) -> Plan:
        """The plan, simulated (raises ContractReverted naming a step that would fail)."""
        plan = Plan(title, account, sender, tuple(steps), tuple(notes), figures or {})
        return self.c.check(plan)


def with_risks(plan: Plan, risks: Sequence[Risk]) -> Plan:
    """``plan`` with ``risks`` found in its dry run: their lines first in its notes, and in
    its ``--json`` ``warnings`` after those found before it ran."""
    if not risks:
        return plan
    earlier = plan.figures.get("warnings")
    warnings = [*(earlier if isinstance(earlier, list) else []), *risks_json(risks)]
    figures = {**plan.figures, "warnings": warnings}
    return replace(plan, notes=(*(r.line for r in risks), *plan.notes), figures=figures)


class DefiProtocol:
    """One protocol's actions (a module of this package), over the shared core."""

    def __init__(self, core: DefiCore) -> None:
        self.core = core


#: The most slippage any action takes (``--slippage`` is bounded by the same 50 %).
MAX_SLIPPAGE_BPS = 5000


def check_slippage(slippage_bps: int) -> int:
    """``slippage_bps`` when it is an int of basis points 0 .. 5000 (0 % .. 50 %); else
    InputError: a float made float minimums, 100 % made them 0 (anything goes)."""
    if type(slippage_bps) is not int:
        raise InputError(f"slippage_bps is an int of basis points (50: 0.5%), not {slippage_bps!r}")
    if not 0 <= slippage_bps <= MAX_SLIPPAGE_BPS:
        raise InputError("slippage must be 0% .. 50%")
    return slippage_bps


def min_after_slippage(amount: int, slippage_bps: int) -> int:
    """The least ``amount`` may become under ``slippage_bps`` (checked: :func:`check_slippage`)."""
    return amount * (10_000 - check_slippage(slippage_bps)) // 10_000
