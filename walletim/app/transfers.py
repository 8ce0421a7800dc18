"""``walletim send``: ether, or an ERC-20 token through the decoded and simulated step the
DeFi layer plans (:meth:`walletim.app.contracts.ContractService.step` / ``check``), then
the chain service's nonce manager; and the rows of ``send --batch``.

One path per kind of transfer: the CLI parses, calls :meth:`Transfers.prepare` and
:meth:`Transfers.send` (or :meth:`Transfers.prepare_batch` and
:meth:`Transfers.send_batch`) and renders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, replace
from typing import Protocol

from walletim.app.chain import (
    BatchResult,
    BatchRow,
    ChainService,
    SendRequest,
    SendResult,
    TxPlan,
    parse_batch_csv,
)
from walletim.app.chain.model import BatchPlan, Until
from walletim.app.contracts import Plan, Simulated, Step
from walletim.app.defi import ETH, Asset
from walletim.app.risk import MAX_RESERVED_ADDRESS, Risk, RiskPolicy, enforce, short_delivery
from walletim.chain.rpc import Q, answered
from walletim.chain.units import parse_amount, token_unit
from walletim.display import plural
from walletim.errors import InputError, InsufficientFunds, RiskRefused, RpcError, shown

#: A send with every choice left to the node's suggestions and the network profile.
DEFAULTS = SendRequest(None)
#: How long a batch waits unless told: each row mined, five minutes for all of them.
BATCH_WAIT = Until(timeout=300.0)
#: A batch's token rows dry-run this many to a simulated block (each row's short delivery).
SIMULATED_ROWS = 100


class Assets(Protocol):
    """Tokens by symbol or address, with the decimals that scale amounts
    (:class:`walletim.app.defi.DefiService`)."""

    def token(self, text: str) -> Asset: ...
    def decimals_note(self, asset: Asset, amount: int) -> str: ...
    def balance(self, asset: Asset, holder: str) -> int: ...


class Steps(Protocol):
    """Decoded, simulated steps (:class:`walletim.app.contracts.ContractService`)."""

    def step(self, label: str, request: SendRequest, *, sender: str | None = None) -> Step: ...
    def check(self, plan: Plan) -> Plan: ...
    def simulate(
        self, sender: str, steps: Sequence[Step], *, reuse_time: bool = ...
    ) -> tuple[Simulated, ...]: ...


@dataclass(frozen=True, slots=True)
class Transfer:
    """One transfer, planned and (for a token) simulated, ready to confirm and send."""

    account: str
    sender: str
    recipient: str
    asset: Asset  # ETH or the token
    value: int  # wei, or the token's base units
    request: SendRequest
    note: str | None = None  # a token's amount in base units and where its decimals come from
    #: What the risk policy (walletim.app.risk) says of it: shown in the plan before signing.
    risks: tuple[Risk, ...] = ()

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(r.line for r in self.risks)


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A batch file's rows as one account sends them."""

    account: str
    sender: str
    batch_id: str
    rows: tuple[BatchRow, ...]
    eth_total: int  # wei over the ether rows
    token_notes: tuple[str, ...]  # per token: the total in base units and its decimals
    risks: tuple[tuple[int, Risk], ...] = ()  # the risk policy's warnings: (line, risk)
    units: tuple[tuple[str, str, int], ...] = ()  # per token: (address, symbol, decimals)

    @property
    def warnings(self) -> tuple[str, ...]:
        """The risk policy's warnings as the plan shows them, each naming its line."""
        return tuple(f"line {row}: {risk.line}" for row, risk in self.risks)


@dataclass(eq=False)
class Transfers:
    """``send`` and ``send --batch`` on one network. Collaborators: ``chain``, ``steps``
    (decoded, simulated steps), ``assets`` (tokens and their decimals), ``resolve(text)``
    (an address, account or contact as a checksummed address), ``address_of(account)`` (the
    address of a wallet account, NAME[:INDEX]) and ``risks``, the one policy for risky
    sends."""

    chain: ChainService
    steps: Steps
    assets: Assets
    _: KW_ONLY
    resolve: Callable[[str], str]
    address_of: Callable[[str], str]
    risks: RiskPolicy

    def prepare(
        self,
        account: str,
        to: str,
        amount: str,
        token: str | None = None,
        how: SendRequest = DEFAULTS,
        *,
        force: bool = False,
    ) -> Transfer:
        """Resolve, scale and (for a token) plan and simulate a transfer; nothing is signed.
        ``how`` carries the nonce, gas and fee choices (its recipient and amount are ignored).
        The risk policy warns (``Transfer.risks``) or refuses unless ``force`` (of how it
        is signed, a nonce or a fee: when planned, :attr:`TxPlan.risks`).

        Raises:
            InputError (an amount, a name, a token), RiskRefused, InsufficientFunds (a
            token: ETH is checked with the fees when planned), ChainIdMismatch,
            ContractReverted (the token transfer would fail), ChainError, RpcError.
        """
        sender, recipient = self.address_of(account), self.resolve(to)
        amount, token = self._token_unit(amount, token)  # "100 USDC": --token USDC
        if token is None:
            value = parse_amount(amount)
            # The risk policy's one question to the node (is the recipient a contract?) goes
            # with the chain-id check: one round trip.
            code = self.chain.checked(Q.code(recipient))
            risks = self.risks.knowing(recipient, bool(code)).transfer(
                sender, recipient, value, None
            )
            enforce(risks, force)
            request = replace(how, to=recipient, value=value, data=b"", force=force)
            return Transfer(account, sender, recipient, ETH, value, request, risks=tuple(risks))
        self.chain.check_chain()
        asset = self.assets.token(token)
        if asset.address is None:
            raise InputError("ETH is not an ERC-20 token here")
        # Decimals pinned by a token list where one lists the token, else the token's own
        # answer through the node: the note says which, and the base units to be signed.
        value = parse_amount(amount, decimals=asset.decimals)
        risks = self.risks.transfer(sender, recipient, value, asset.address, asset.display)
        enforce(risks, force)
        have = self.assets.balance(asset, sender)
        if have < value:
            raise InsufficientFunds(
                f"insufficient {asset.display}: {account} has {asset.fmt(have)}, this needs "
                f"{asset.fmt(value)}; nothing was signed"
            )
        from walletim.app.chain import token_transfer_data

        data = token_transfer_data(recipient, value)
        request = replace(
            how, to=asset.address, value=0, data=data, kind="token-transfer", force=force
        )
        step = self.steps.step("transfer", request, sender=sender)
        plan = Plan(f"transfer {asset.fmt(value)}", account, sender, (step,))
        plan = self.steps.check(plan)  # simulated: a transfer that would revert is never signed
        risks += short_delivery(plan, asset.address, sender, recipient, value, asset.fmt)
        note = self.assets.decimals_note(asset, value)
        return Transfer(account, sender, recipient, asset, value, step.request, note, tuple(risks))

    def _token_unit(self, amount: str, token: str | None) -> tuple[str, str | None]:
        """``100 USDC`` names its token as ``--token USDC`` does (CLI.md: a token amount in
        the token's own decimals); with ``--token`` too, both must name one token. Raises
        InputError (an unknown token, or two)."""
        number, unit = token_unit(amount)
        if unit is None:
            return amount, token
        self.chain.check_chain()
        try:
            named = self.assets.token(unit)
        except InputError as exc:
            raise InputError(
                f"unknown unit {shown(unit)}: not wei, gwei or eth, and {exc}"
            ) from exc
        if token is not None and self.assets.token(token).address != named.address:
            raise InputError(f"the amount is in {unit}, --token names {token}: which one?")
        return number, token or unit

    def send(
        self, transfer: Transfer, confirm: Callable[[TxPlan], None], until: Until | None
    ) -> SendResult:
        """Confirm, sign, record, broadcast and wait ``until`` it is mined deep enough
        (None: return once broadcast); see :meth:`walletim.app.chain.ChainService.send`."""
        wait = until or Until()
        return self.chain.send(
            transfer.account,
            transfer.sender,
            transfer.request,
            confirm=confirm,
            wait=until is not None,
            confirmations=wait.confirmations,
            timeout=wait.timeout,
            progress=wait.progress,
        )

    def prepare_batch(
        self,
        account: str,
        content: bytes,
        source: str,
        *,
        force: bool = False,
        token: str | None = None,
    ) -> PreparedBatch:
        """The rows of a ``to,amount[,token]`` CSV file (``content``, from ``source``), each
        amount scaled by its token's decimals, checked by the risk policy (refusals pass only
        with ``force``). ``token``: the token of rows that name none (default ether); a row's
        token ``ETH`` is ether. Raises InputError, RiskRefused (naming the line)."""
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"batch file {source} is not UTF-8 text") from exc
        self.chain.check_chain()
        sender = self.address_of(account)
        assets: dict[str, Asset] = {}  # token text -> Asset (pinned decimals where known)

        def parse_value(amount: str, token: str | None) -> int:
            if token is None:
                return parse_amount(amount)
            asset = assets.get(token) or (
                ETH if token.upper() == ETH.symbol else self.assets.token(token)
            )
            assets[token] = asset
            return parse_amount(amount, decimals=asset.decimals)

        parsed = parse_batch_csv(
            text, parse_value=parse_value, resolve=self.resolve, default_token=token
        )
        rows = tuple(
            r if r.token is None else replace(r, token=assets[r.token].address) for r in parsed
        )
        symbols = {a.address: a.display for a in assets.values() if a.address}
        risks = self._batch_risks(sender, rows, symbols, force)
        risks += self._short_deliveries(
            account, sender, rows, {a.address: a for a in assets.values() if a.address}
        )
        notes = []
        for asset in {a.address: a for a in assets.values() if a.address}.values():
            units = sum(r.value for r in rows if r.token == asset.address)
            notes.append(self.assets.decimals_note(asset, units))
        return PreparedBatch(
            account,
            sender,
            self.chain.batches.id_for(sender, rows, content),
            rows,
            sum(r.value for r in rows if r.token is None),
            tuple(notes),
            risks,
            tuple((a.address, a.symbol, a.decimals) for a in assets.values() if a.address),
        )

    def _batch_risks(
        self, sender: str, rows: tuple[BatchRow, ...], symbols: dict[str, str], force: bool
    ) -> tuple[tuple[int, Risk], ...]:
        """The risk policy on every row, as on a single send (the zero and reserved
        addresses, token contracts known by a list or by probing, yourself), with whether
        each recipient holds code read for all of them in one round trip. ``symbols``: each
        token's name by address. Raises RiskRefused naming the line (unless ``force``)."""
        asked = sorted({r.to for r in rows if int(r.to, 16) > MAX_RESERVED_ADDRESS})
        codes = self.chain.checked_all([Q.code(a) for a in asked])
        has_code = {a: bool(answered(code)) for a, code in zip(asked, codes, strict=True)}
        policy = self.risks.knowing_all(has_code)
        found: list[tuple[int, Risk]] = []
        for r in rows:
            symbol = ETH.symbol if r.token is None else symbols[r.token]
            risks = policy.transfer(sender, r.to, r.value, r.token, symbol)
            try:
                enforce(risks, force)
                found += [(r.row, risk) for risk in risks]
            except RiskRefused as exc:
                raise RiskRefused(
                    f"batch line {r.row}: {exc.facts}", code=exc.code, advice=exc.advice
                ) from exc
        return tuple(found)

    def _short_deliveries(
        self, account: str, sender: str, rows: tuple[BatchRow, ...], assets: dict[str, Asset]
    ) -> tuple[tuple[int, Risk], ...]:
        """The ``short-delivery`` warning of each token row, as a single send gives it: the
        token rows dry-run in order, ``SIMULATED_ROWS`` to a simulation (a block's gas). A
        row that would revert or answer false has none: it is rejected, saying so. A node
        that fails to simulate fails nothing: the batch is checked as without simulateV1."""
        from walletim.app.chain import token_transfer_data
        from walletim.app.chain.tokens import answers_false

        paid = [r for r in rows if r.token is not None]
        found: list[tuple[int, Risk]] = []
        for start in range(0, len(paid), SIMULATED_ROWS):
            chunk = paid[start : start + SIMULATED_ROWS]
            # Only simulated, never shown: not described (10,000 rows took seconds).
            steps = [
                Step(
                    "transfer",
                    replace(DEFAULTS, to=r.token, data=token_transfer_data(r.to, r.value)),
                    f"line {r.row}",
                )
                for r in chunk
            ]
            try:
                sims = self.steps.simulate(sender, steps, reuse_time=True)  # chunk to chunk
            except RpcError:  # a node that will not run them: no warning, as without simulateV1
                break  # (each row's estimate and call still reject a row that would fail)
            for r, step, sim in zip(chunk, steps, sims, strict=False):  # one without simulateV1
                asset = assets[r.token or ""]
                plan = Plan("transfer", account, sender, (step,), simulation=(sim,))
                risks = short_delivery(plan, asset.address or "", sender, r.to, r.value, asset.fmt)
                if sim.ok and not answers_false(step.request.data, sim.returned):
                    found += [(r.row, risk) for risk in risks]
        return tuple(found)

    def send_batch(
        self,
        batch: PreparedBatch,
        how: SendRequest = DEFAULTS,
        until: Until | None = BATCH_WAIT,
        confirm: Callable[[BatchPlan], None] | None = None,
    ) -> list[BatchResult]:
        """Sign and pipeline the rows, each with the fee choices and fee cap of ``how`` (its
        nonce and gas limit do not apply to a batch: refused), and wait ``until`` each is
        deep enough (None: return once broadcast); each row paid once per batch id (see
        :meth:`walletim.app.chain.ChainService.send_batch`). ``confirm(plan)`` sees what is
        about to be signed (:func:`batch_plan_lines`), every check passed, and raises to
        stop.

        Raises:
            InputError: ``how`` names a nonce or a gas limit. InsufficientFunds (ETH, or a
            token's total over its balance), ChainError, RpcError, Aborted.
        """
        if how.nonce is not None or how.gas_limit is not None:
            raise InputError("a batch takes no nonce or gas limit: each row has its own")
        wait = until or BATCH_WAIT
        return self.chain.send_batch(
            batch.account, batch.sender, batch.rows, batch_id=batch.batch_id,
            wait=until is not None, timeout=wait.timeout, confirmations=wait.confirmations,
            how=how, confirm=confirm,
            units={address: (symbol, decimals) for address, symbol, decimals in batch.units},
        )  # fmt: skip


def batch_plan_lines(batch: PreparedBatch, plan: BatchPlan) -> list[str]:
    """What a batch is about to sign, line by line, every check stated: each asset's total
    against its balance, the fees, the recipients' checks, the rows not signed."""
    from walletim.chain.units import format_amount, format_gwei

    sent = (
        f"{format_amount(plan.value)} ETH in {_rows(plan.eth_rows)}, plus" if plan.eth_rows else ""
    )
    lines = [
        f"ETH       {sent or 'no ETH rows;'} at most {format_amount(plan.max_fees)} ETH in "
        f"fees; ETH balance {format_amount(plan.eth_balance)}: enough"
    ]
    for t in plan.tokens:
        lines.append(
            f"{t.symbol:<9} {format_amount(t.total, t.decimals)} {t.symbol} in {_rows(t.rows)}; "
            f"{t.symbol} balance {format_amount(t.balance, t.decimals)}: enough"
        )
    fees = plan.fees
    if fees.tx_type == 2:
        per_gas = (
            f"max fee {format_gwei(fees.max_fee or 0)}, "
            f"priority {format_gwei(fees.priority_fee or 0)} (EIP-1559)"
        )
    else:
        per_gas = f"gas price {format_gwei(fees.gas_price or 0)} (legacy)"
    cap = (
        f"each under the fee cap of {format_amount(plan.fee_cap)} ETH"
        if plan.fee_cap
        else "no fee cap"
    )
    lines.append(f"fees      {per_gas} per gas; {cap}")
    lines.extend(f"          {risk.line}" for risk in plan.risks)
    lines.append(
        f"checks    recipients checked as for a single send (zero, precompile and reserved "
        f"addresses, token contracts): {_rows(len(batch.rows))}, "
        + (f"{len(batch.warnings)} warning(s):" if batch.warnings else "nothing to warn of")
    )
    lines.extend(batch.warnings)
    lines.extend(f"and {note}" for note in batch.token_notes)
    if plan.already:
        lines.append(f"{_rows(plan.already)} sent by an earlier run: not signed again")
    if plan.again:
        lines.append(
            f"{_rows(plan.again)} paid again: the earlier transaction never made it on chain "
            "and never can (its nonce is used by another, or it is signed again at it)"
        )
    lines.extend(f"row {r.row} not sent, it would fail: {r.error}" for r in plan.rejected)
    return lines


def _rows(n: int) -> str:
    return plural(n, "row")
