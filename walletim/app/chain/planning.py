"""Planning a transaction: gas, fees (the one policy of :mod:`walletim.chain.fees`), funds
and a dry run, before anything is signed or a nonce spent.

A pre-flight (gas estimate, a dry run with the revert reason decoded, fee cap,
balance) stops what would fail. A fee per gas the node suggests is signed only up to
``fees.MAX_SUGGESTED_FEE_PER_GAS``; above it only when the user gives the fee explicitly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from walletim.app.chain.model import SendRequest, TxPlan
from walletim.app.networks import Network
from walletim.chain import fees as policy
from walletim.chain.fees import FeeHistory, Fees, FeeSuggestion
from walletim.chain.reverts import revert_from
from walletim.chain.rpc import Q, Query, RpcClient, answered
from walletim.errors import ChainError, InputError, InsufficientFunds, NonceUsed, RpcError
from walletim.keys.hd import to_checksum_address

if TYPE_CHECKING:
    from walletim.app.risk import Risk


def _raise_revert(exc: RpcError) -> None:
    reverted = revert_from(exc)
    if reverted is not None:
        raise reverted from exc


# A fee history read for a plan shown to the user is reused when the transaction is signed
# within this many seconds: the fee signed is the fee shown, and one round trip is saved.
# Two mainnet blocks: the suggested max fee (2x base fee) covers base-fee growth over them.
FEE_HISTORY_REUSE_S = 24.0


class Planner:
    """Plans transactions on one network (no signing, no nonces).

    ``clock`` (monotonic seconds) dates the fee history last shown with a plan (read beside
    its simulation, or by :meth:`shown_fees`), reused by :meth:`plan` for
    :data:`FEE_HISTORY_REUSE_S`; :meth:`suggest_fees` (``walletim fees``, replacements) always
    reads it again and keeps nothing.
    """

    def __init__(
        self, network: Network, rpc: RpcClient, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.network = network
        self.rpc = rpc
        self.clock = clock
        self._history: tuple[float, FeeHistory] | None = None

    # -- fees ---------------------------------------------------------------------------

    def remember(self, history: FeeHistory) -> FeeHistory:
        """Keep ``history`` (just read, e.g. beside a simulation) for the plan shown next."""
        self._history = (self.clock(), history)
        return history

    def _recent_history(self) -> FeeHistory | None:
        if self._history is None:
            return None
        read_at, history = self._history
        return history if self.clock() - read_at <= FEE_HISTORY_REUSE_S else None

    def _fee_history(self) -> FeeHistory:
        """The node's fee history now. Raises ChainError (no eth_feeHistory: --legacy)."""
        return _history_of(self.rpc.gather_all([Q.fee_history()])[0])

    def legacy(self, req: SendRequest) -> bool:
        """Whether ``req`` pays a gas price (type 0): asked for, or on a network without
        EIP-1559 (its profile's ``legacy``)."""
        return req.legacy or self.network.legacy

    def suggest_fees(self) -> dict[str, FeeSuggestion]:
        """The node's fee levels now (always read again; not kept for a plan); on a network
        without EIP-1559, its gas price at every level (no base fee). Raises ChainError."""
        if self.network.legacy:
            return policy.price_levels(answered(self.rpc.gather_all([Q.gas_price()])[0]))
        return policy.suggest(self._fee_history())

    def shown_fees(self) -> dict[str, FeeSuggestion]:
        """The fee levels to show with a plan: from the history read moments ago beside its
        simulation, if any, else read now and kept (then the fee shown is the fee
        :meth:`plan` signs); on a network without EIP-1559, its gas price now."""
        if self.network.legacy:
            return self.suggest_fees()
        history = self._recent_history()
        if history is None:
            history = self.remember(self._fee_history())
        return policy.suggest(history)

    def suggestion_now(self) -> FeeSuggestion | None:
        """The normal level now, or None when the node cannot say (for replacements, which
        then pay their bump only)."""
        try:
            return self.suggest_fees()["normal"]
        except ChainError:
            return None

    def gas_price_now(self) -> int | None:
        """The node's gas price now (what a legacy transaction pays), or None when the node
        cannot say (for legacy replacements, which then pay their bump only)."""
        try:
            return self.rpc.get(Q.gas_price())
        except ChainError:
            return None

    def network_fee_bound(self, gas_used: Sequence[int]) -> int:
        """About the most steps simulated at ``gas_used`` pay in fees (wei), at the normal
        level's max fee. Raises ChainError."""
        return policy.network_fee_bound(gas_used, self.shown_fees()["normal"])

    def signing_bounds(
        self, reqs: Sequence[SendRequest], gas_used: Sequence[int]
    ) -> list[tuple[int, int]]:
        """Each request's (gas limit, max fee per gas) as it would be signed now, its gas from
        a dry run moments ago (``gas_used``): what a policy counting fees sees. The fee reads
        take one round trip at most (none while the history read beside the dry run is
        fresh). Raises ChainError (fee policy), RpcError."""
        reads = [self.fee_reads(r) for r in reqs]
        queries = [q for _h, q in reads if q is not None]
        answers = iter(self.rpc.gather_all(queries) if queries else [])
        bounds = []
        for req, used, read in zip(reqs, gas_used, reads, strict=True):
            fees = self.fees_read(req, read, next(answers) if read[1] is not None else None)
            gas = req.gas_limit if req.gas_limit is not None else self.gas_limit(used, req.data)
            bounds.append((gas, fees.per_gas))
        return bounds

    def fees(self, req: SendRequest, history: FeeHistory | None, gas_price: int | None) -> Fees:
        """The fees of ``req`` given the node's fee history / gas price (None: not asked,
        because the user gave every fee)."""
        if self.legacy(req):
            return policy.legacy(req.max_fee, gas_price)
        suggestion = None if history is None else policy.suggest(history)[req.fee_level]
        return policy.dynamic(suggestion, max_fee=req.max_fee, priority_fee=req.priority_fee)

    def fee_reads(self, req: SendRequest) -> tuple[FeeHistory | None, Query[Any] | None]:
        """What the fees of ``req`` need from the node: (the fee history read moments ago,
        if it is reused; the query still to ask: its gas price for a legacy transaction,
        else its fee history; None when the user gave every fee or the history is fresh).
        :meth:`fees_read` turns the answer into fees.

        Raises:
            InputError: a legacy transaction asked for a priority fee or a fee level (it
                pays one gas price: the node's, or the one given as its max fee).
        """
        if self.legacy(req):
            if req.priority_fee is not None or req.fee_level != "normal":
                raise InputError(
                    "a legacy transaction pays one gas price: give it with --max-fee "
                    "(--priority-fee and --fee-level are for EIP-1559 transactions)"
                )
            return None, (Q.gas_price() if req.max_fee is None else None)
        if req.max_fee is not None and req.priority_fee is not None:
            return None, None
        history = self._recent_history()
        return history, (Q.fee_history() if history is None else None)

    @staticmethod
    def base_fee_read(
        req: SendRequest, reads: tuple[FeeHistory | None, Query[Any] | None]
    ) -> Query[FeeHistory] | None:
        """What to ask for the base fee a max fee given is held to (see
        :func:`signing_checked`), when :meth:`fee_reads` (``reads``) reads no fee history
        already: a suggested max fee is twice the base fee or more, nothing to ask."""
        return Q.fee_history() if req.max_fee is not None and reads == (None, None) else None

    def fees_read(
        self, req: SendRequest, reads: tuple[FeeHistory | None, Query[Any] | None], answer: object
    ) -> Fees:
        """The fees of ``req`` from :meth:`fee_reads` and the node's ``answer`` to its query
        (ignored when there was none). Raises the answer's RpcError, ChainError (policy)."""
        history, query = reads
        price: int | None = None
        if query is not None:
            value: Any = answer
            if self.legacy(req):
                price = answered(value)
            else:
                history = _history_of(value)
        return self.fees(req, history, price)

    def _preflight(
        self, req: SendRequest, sender: str, estimate: Query[int] | None
    ) -> tuple[Fees, int | RpcError, int | RpcError | None, tuple[Risk, ...]]:
        """In one round trip: the gas estimate (when asked), what the fees of ``req`` need
        from the node (:meth:`fee_reads`), the sender's pending balance and, for a nonce or
        a max fee given, what the risk policy needs; the fees and the risk policy's warnings
        (:func:`signing_checked`). Errors of the balance and the estimate are returned, not
        raised.

        Raises:
            NonceUsed; RiskRefused (a nonce gap, a fee under the base fee, unless forced).
        """
        reads = self.fee_reads(req)
        given = req.nonce is not None
        wanted: dict[str, Query[Any] | None] = {
            "estimate": estimate,
            "mined": Q.nonce(sender, "latest") if given else None,  # is it free?
            "next": Q.nonce(sender, "pending") if given else None,  # is it the next?
            "fees": reads[1],
            "base": self.base_fee_read(req, reads),
        }
        asked = {name: q for name, q in wanted.items() if q is not None}
        funds, *rest = self.rpc.gather_all([Q.balance(sender, "pending"), *asked.values()])
        got = dict(zip(asked, rest, strict=True))
        if req.nonce is not None and req.nonce < (mined := answered(got["mined"])):
            raise NonceUsed(sender, req.nonce, mined)
        estimated = got.get("estimate")
        if isinstance(estimated, RpcError):
            _raise_revert(estimated)
        fees = self.fees_read(req, reads, got.get("fees"))
        history = reads[0] or got.get("fees" if reads[1] is not None else "base")
        return fees, funds, estimated, signing_checked(req, fees, got.get("next"), history)

    # -- gas ----------------------------------------------------------------------------

    def contract_gas(self, estimate: int) -> int:
        """The gas limit for a contract call estimated at ``estimate`` (see
        :func:`~walletim.chain.fees.contract_gas_limit`); a large one is held under the
        latest block's gas limit (a transaction above it is never mined)."""
        limit = policy.contract_gas_limit(estimate)
        if limit <= policy.CHECK_BLOCK_ABOVE:
            return limit
        latest = Q.block("latest")
        block = self.rpc.get(latest)
        if block is None:
            raise RpcError("the node has no latest block", method=latest.method)
        return policy.contract_gas_limit(estimate, block.gas_limit)

    def next_block_time(self) -> int | None:
        """The earliest time the next block carries: a second after the latest block's, or
        the node's pending block's if later (None: the node has no latest block)."""
        latest, pending = self.rpc.gather(Q.block("latest"), Q.block("pending"))
        if isinstance(latest, RpcError) or latest is None:
            return None
        later = 0 if isinstance(pending, RpcError) or pending is None else pending.timestamp
        return max(latest.timestamp + 1, later)

    def check_gas_limit(self, gas_limit: int) -> None:
        """Refuse (InputError) a gas limit given above the latest block's: no block takes
        it (the node refused it only after it was signed and recorded)."""
        if gas_limit <= policy.CHECK_BLOCK_ABOVE:
            return
        block = self.rpc.get(Q.block("latest"))
        if block is not None and gas_limit > block.gas_limit:
            raise InputError(
                f"the gas limit {gas_limit} is above the block gas limit {block.gas_limit}: "
                "no block can include it; nothing was signed"
            )

    def gas_limit(self, estimate: int, data: bytes) -> int:
        return self.contract_gas(estimate) if data else estimate

    def signed_gas(self, estimate: int, req: SendRequest) -> int:
        """The gas limit to sign for ``req`` estimated at ``estimate``: :meth:`gas_limit`, held
        to the limit its plan's simulation counted (``req.simulated_gas``: the fee bound the
        plan showed and a policy checked) while that still covers the estimate."""
        limit = self.gas_limit(estimate, req.data)
        if req.simulated_gas is None or not req.data:
            return limit
        shown = self.gas_limit(req.simulated_gas, req.data)
        return shown if estimate <= shown < limit else limit

    # -- a whole plan -------------------------------------------------------------------

    def plan(self, sender: str, req: SendRequest) -> TxPlan:
        """Gas, fees, dry run and pre-flight checks, without signing or touching nonces.

        Raises:
            InputError (a nonce or gas limit no transaction can have), ContractReverted (dry
            run), ChainError (fee cap, funds, fee suggestion), RpcError.
        """
        check_fields(req)
        sender = to_checksum_address(sender)
        to = None if req.to is None else to_checksum_address(req.to)
        estimate = None
        if req.gas_limit is None:
            # A contract call is estimated in the next block's second (its gas may branch on
            # the time: Uniswap V2 writes each pool's price oracle on its first trade in a
            # new second, ~45,000 gas a fresh pool, more than the buffer leaves two hops).
            when = self.next_block_time() if req.data else None
            estimate = Q.estimate_gas(to, req.data, sender=sender, value=req.value,
                                      block_time=when)  # fmt: skip
        fees, balance, estimated, risks = self._preflight(req, sender, estimate)
        if isinstance(estimated, RpcError) and estimate is not None and len(estimate.params) > 1:
            # Not a revert (raised above): a node that takes no block override on it.
            plain = Q.estimate_gas(to, req.data, sender=sender, value=req.value)
            estimated = self.rpc.gather_all([plain])[0]
            if isinstance(estimated, RpcError):
                _raise_revert(estimated)
        if estimated is None:
            assert req.gas_limit is not None
            gas_limit = req.gas_limit
            self.check_gas_limit(gas_limit)
        else:
            gas_limit = self.signed_gas(answered(estimated), req)
        plan = TxPlan.of(
            self.network.name, self.network.chain_id, sender, (to, req.value, req.data),
            nonce=req.nonce, gas_limit=gas_limit, fees=fees,
            kind=req.kind, note=req.note, risks=risks,
        )  # fmt: skip
        cap = self.network.fee_cap_wei if req.fee_cap is None else req.fee_cap
        advice = f"--fee-cap where the command takes it, or {self.network.fee_cap_advice}"
        policy.check_fee_cap(plan.gas_limit, plan.fees, cap, advice)
        self.check_funds(sender, answered(balance), plan.value + plan.max_total_fee)
        if req.gas_limit is not None:
            # The estimate ran the call (a revert raised above, its reason decoded); with the
            # gas given there was none: a dry run reports a revert before signing.
            self.dry_run(sender, to, req.value, req.data)
        return plan

    def dry_run(
        self, sender: str, to: str | None, value: int, data: bytes, block: str = "pending"
    ) -> None:
        """A call on the ``block`` state. Raises ContractReverted (decoded), RpcError."""
        try:
            self.rpc.get(Q.call(to, data, sender=sender, value=value, block=block))
        except RpcError as exc:
            _raise_revert(exc)
            raise

    @staticmethod
    def check_funds(sender: str, balance: int, needed: int, what: str = "") -> None:
        """Raises InsufficientFunds when ``balance`` is below ``needed`` (value + max fee)."""
        if balance >= needed:
            return
        from walletim.chain.units import format_amount

        if what:
            raise InsufficientFunds(
                f"insufficient funds for {what}: needs up to {format_amount(needed)} ETH, "
                f"{sender} has {format_amount(balance)} ETH; nothing was signed"
            )
        raise InsufficientFunds(
            f"insufficient funds: {sender} has {format_amount(balance)} ETH, needs up to "
            f"{format_amount(needed)} ETH (value + max fee); nothing was signed"
        )


def _history_of(answer: Any) -> FeeHistory:
    """A fee history answered, or its error raised: a node without ``eth_feeHistory`` (before
    London, or a chain without EIP-1559) as the ChainError saying --legacy, not its words."""
    from walletim.chain.rpc import unsupported

    if isinstance(answer, RpcError) and answer.response is not None and unsupported(answer):
        raise ChainError(
            f"the node has no EIP-1559 fee history ({answer}); use --legacy (send and pay "
            "take it: a gas-price transaction)"
        ) from answer
    history: FeeHistory = answered(answer)
    return history


def signing_checked(
    req: SendRequest, fees: Fees, next_nonce: int | RpcError | None, history: object
) -> tuple[Risk, ...]:
    """The risk policy's word on how ``req`` is signed: its nonce above the node's
    ``next_nonce`` (its answer), its fee under the base fee of ``history`` (a FeeHistory;
    anything else, e.g. the error of a node without EIP-1559: no base fee known). Raises
    RiskRefused unless ``req.force``."""
    from walletim.app.risk import enforce, signing_risks

    base = None
    if isinstance(history, FeeHistory) and history.base_fees and req.max_fee is not None:
        base = history.base_fees[-1]
    nonce = answered(next_nonce) if next_nonce is not None else 0
    risks = tuple(signing_risks(req.nonce, nonce, policy.under_base_fee(fees, base)))
    enforce(risks, req.force)
    return risks


def check_fields(req: SendRequest) -> None:
    """Refuse (InputError) a nonce or gas limit outside what a transaction can carry and this
    home can record (:data:`~walletim.chain.units.MAX_NONCE`, ``MAX_GAS_LIMIT``), before any
    plan is shown: past them the store's 64-bit integers overflowed after the plan was
    printed."""
    from walletim.chain.units import MAX_GAS_LIMIT, MAX_NONCE

    for name in ("value", "nonce", "gas_limit", "max_fee", "priority_fee", "fee_cap"):
        _check_whole(name, getattr(req, name))
    if req.nonce is not None and not 0 <= req.nonce <= MAX_NONCE:
        raise InputError(f"a nonce is 0 .. {MAX_NONCE}: {req.nonce} is none (EIP-2681)")
    if req.gas_limit is not None and not 0 < req.gas_limit <= MAX_GAS_LIMIT:
        raise InputError(f"a gas limit is 1 .. {MAX_GAS_LIMIT}: {req.gas_limit} is none")


def _check_whole(name: str, value: object) -> None:
    """Refuse (InputError) a field of a script's SendRequest that is no whole number of wei
    (or gas, or a nonce) below 2**256: a float such as ``0.1`` (ether meant: in wei it is no
    amount), a string or a negative value went as far as the node or the signer before."""
    from walletim.chain.units import MAX_UINT256

    if value is None and name != "value":
        return
    if type(value) is not int:
        hint = " (amounts are ints of wei: parse_amount('0.1eth'))" if name == "value" else ""
        raise InputError(f"{name} must be an int, not {type(value).__name__}{hint}")
    if not 0 <= value <= MAX_UINT256:
        raise InputError(f"{name} must be 0 .. 2**256-1: {value} is not")
