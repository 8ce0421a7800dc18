"""Contract calls with safety first: read calls, and plans of transactions that are described,
checked, simulated and confirmed before anything is signed.

A :class:`Plan` is one user action as the transactions it takes (an exact approval, then
the action). Before a nonce is spent:

1. every step's calldata is decoded into a human-readable line with risk flags (approvals,
   unlimited approvals, operator approvals, unknown functions), and the calls it carries
   (multicalls, permits, Permit2) each on a line of their own, approvals among them flagged:
   :mod:`walletim.contracts.describe`;
2. the caller's pre-flight checks run (balances, allowances, quotes, slippage);
3. all steps are simulated together with ``eth_simulateV1`` (an approval and the swap that
   needs it, in one go), so a revert is reported with its reason before signing; nodes
   without ``eth_simulateV1`` get an ``eth_call`` of the first step;
4. the whole plan is confirmed once.

Each step is then sent through :class:`walletim.app.chain.ChainService` (nonce manager,
records in the store, receipts), which dry-runs it once more right before signing.

Amounts are integers in base units.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from walletim.app.chain import ChainService, SendRequest, SendResult, decode_revert
from walletim.chain.rpc import RpcClient, quantity
from walletim.errors import ChainError, ContractReverted, InputError, RpcError, shown
from walletim.keys.hd import to_checksum_address

MAX_UINT256 = 2**256 - 1
UNLIMITED_FROM = 2**255  # an allowance this large is "unlimited" for all practical purposes


def selector(signature: str) -> bytes:
    from eth_utils.abi import function_signature_to_4byte_selector

    return bytes(function_signature_to_4byte_selector(signature))


def calldata(signature: str, *args: Any) -> bytes:
    """``signature`` like ``approve(address,uint256)``; args as Python values."""
    from eth_abi.abi import encode

    types = signature[signature.index("(") + 1 : -1]
    type_list = _split_types(types)
    return selector(signature) + encode(type_list, list(args))


def _split_types(types: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in types:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur:
        out.append(cur)
    return out


@dataclass(frozen=True, slots=True)
class TokenMeta:
    """An ERC-20's symbol and decimals as shown: with a TokenBook, ``symbol`` is the
    book's ``display`` (unlisted and impostor tokens marked) and ``label`` its TokenLabel."""

    address: str
    symbol: str
    decimals: int
    name: str = ""
    label: Any = None


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
    ok: bool
    gas_used: int | None
    reason: str | None  # the decoded revert reason when not ok
    logs: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    title: str
    account: str
    sender: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()  # quotes, previews, limits: shown with the confirmation
    figures: dict[str, Any] = field(default_factory=dict)  # for --json and scripts
    simulation: tuple[Simulated, ...] = ()

    @property
    def flags(self) -> frozenset[str]:
        out: frozenset[str] = frozenset()
        for step in self.steps:
            out |= step.flags
        return out


@dataclass(frozen=True, slots=True)
class StepResult:
    label: str
    hash: str
    status: str  # mined | failed | pending | dropped | replaced
    gas_used: int | None
    events: tuple[Any, ...]  # decoded events (walletim.contracts.abi.DecodedEvent)


@dataclass(frozen=True, slots=True)
class Outcome:
    plan: Plan
    steps: tuple[StepResult, ...]

    @property
    def ok(self) -> bool:
        return all(s.status == "mined" for s in self.steps)

    @property
    def hash(self) -> str:
        """The last (main) transaction's hash."""
        return self.steps[-1].hash


class ContractService:
    """Reads and plans against contracts on the session's network."""

    def __init__(
        self,
        chain: ChainService,
        rpc: RpcClient,
        *,
        name_of: Callable[[str], str | None] = lambda _a: None,
        tokens: Callable[[], Any] | None = None,
    ) -> None:
        """``tokens()``: the network's TokenBook (walletim.app.tokens); every token this
        service names goes through it. Without one, tokens are named by what they answer."""
        self.chain = chain
        self.rpc = rpc
        self._name_of = name_of
        self._book = tokens
        self._tokens: dict[str, TokenMeta | None] = {}
        self._pinned: set[str] = set()

    # -- reading ---------------------------------------------------------------------------

    def eth_call(
        self, to: str, data: bytes, *, sender: str | None = None, block: str = "latest"
    ) -> bytes:
        """Raw ``eth_call``. Raises ContractReverted (decoded reason), RpcError."""
        call: dict[str, Any] = {"to": to_checksum_address(to), "data": "0x" + data.hex()}
        if sender is not None:
            call["from"] = sender
        try:
            result = self.rpc.call("eth_call", [call, block])
        except RpcError as exc:
            reverted = _reverted(exc)
            if reverted is not None:
                raise reverted from exc
            raise
        if not isinstance(result, str) or not result.startswith("0x"):
            raise RpcError("eth_call returned a malformed result", method="eth_call")
        return bytes.fromhex(result[2:])

    def read(self, to: str, signature: str, *args: Any, returns: Sequence[str]) -> tuple[Any, ...]:
        """Call a view function and decode its return values.

        Raises:
            ChainError: not a contract, or the answer does not decode as ``returns``.
            ContractReverted.
        """
        from eth_abi.abi import decode

        raw = self.eth_call(to, calldata(signature, *args))
        if not raw and returns:
            raise ChainError(
                f"{to} returned nothing for {signature.split('(')[0]}(): is it the right contract?"
            )
        try:
            return tuple(decode(list(returns), raw))
        except Exception as exc:
            raise ChainError(
                f"{to} answered {signature.split('(')[0]}() with data that does not decode"
            ) from exc

    def read_at(
        self, to: str, signature: str, *args: Any, returns: Sequence[str], block: str
    ) -> tuple[Any, ...]:
        """:meth:`read` at ``block`` (a hex number or a tag). Raises as :meth:`read`."""
        from eth_abi.abi import decode

        raw = self.eth_call(to, calldata(signature, *args), block=block)
        if not raw and returns:
            raise ChainError(f"{to} returned nothing for {signature.split('(')[0]}()")
        try:
            return tuple(decode(list(returns), raw))
        except Exception as exc:
            raise ChainError(
                f"{to} answered {signature.split('(')[0]}() with data that does not decode"
            ) from exc

    def has_code(self, address: str) -> bool:
        code = self.rpc.call("eth_getCode", [to_checksum_address(address), "latest"])
        return isinstance(code, str) and len(code) > 2

    def token_label(self, address: str) -> Any | None:
        """The TokenBook's TokenLabel of ``address`` (None without a book)."""
        return None if self._book is None else self._book().label(address)

    def token_meta(self, address: str) -> TokenMeta | None:
        """Symbol (as shown) and decimals of an ERC-20, None if it does not answer like one.
        With a TokenBook: the list's symbol and decimals for a listed token, else the
        token's address marked unlisted/impostor and its own decimals. Cached.

        Raises:
            RpcError: the node could not be asked (with a TokenBook).
        """
        from walletim.app.chain import token_decimals, token_symbol

        key = to_checksum_address(address)
        if self._book is not None:
            label = self._book().label(key)
            if not label.decimals_known or "erc721" in label.tags:
                return None
            return TokenMeta(key, label.display, label.decimals, label.name, label)
        if key not in self._tokens:
            try:
                decimals = token_decimals(self.rpc, key)
                meta: TokenMeta | None = TokenMeta(
                    key, token_symbol(self.rpc, key) or key[:10], decimals
                )
            except InputError:
                meta = None
            self._tokens[key] = meta
        return self._tokens[key]

    def remember_token(self, meta: TokenMeta) -> None:
        """Pin a token's symbol and decimals (from a source this home trusts, such as its
        devnet world manifest): :meth:`token_meta` answers them without asking the node."""
        key = to_checksum_address(meta.address)
        self._tokens[key] = meta
        self._pinned.add(key)

    def pinned(self, address: str) -> bool:
        """Whether the token's metadata is pinned by this home (a token list lists it; else
        it is the node's word)."""
        if self._book is not None:
            return bool(self._book().label(address).listed)
        return to_checksum_address(address) in self._pinned

    def name_of(self, address: str) -> str | None:
        return self._name_of(to_checksum_address(address))

    def label(self, address: str) -> str:
        """``Name (0x1234…abcd)`` or the checksummed address."""
        addr = to_checksum_address(address)
        name = self._name_of(addr)
        return f"{name} ({addr[:6]}…{addr[-4:]})" if name else addr

    def latest_timestamp(self) -> int:
        block = self.rpc.get_block("latest")
        if not block:
            raise RpcError("the node has no latest block", method="eth_getBlockByNumber")
        return quantity(block.get("timestamp"), "timestamp")

    # -- describing and simulating ---------------------------------------------------------

    def step(self, label: str, request: SendRequest, *, sender: str | None = None) -> Step:
        """A step whose summary and flags come from decoding its own calldata (``sender``:
        who signs, so proceeds sent elsewhere are flagged)."""
        from walletim.contracts.describe import describe_call

        assert request.to is not None
        described = describe_call(
            request.to,
            request.data,
            request.value,
            token=self._describe_token,
            name=self.name_of,
            asset_of=self.vault_asset,
            sender=sender,
        )
        return Step(
            label, request, described.summary, frozenset(described.flags), described.details
        )

    def _describe_token(self, address: str) -> Any | None:
        """For describe_call: the TokenLabel (symbol, decimals, display, status) of an
        ERC-20, None for anything else."""
        if self._book is None:
            return self.token_meta(address)
        label = self._book().label(address)
        if not label.decimals_known or "erc721" in label.tags:
            return None
        return label

    def vault_asset(self, vault: str) -> str | None:
        """An ERC-4626 vault's asset() (None if it is not one)."""
        try:
            (asset,) = self.read(vault, "asset()", returns=["address"])
        except (ChainError, RpcError):
            return None
        return to_checksum_address(asset)

    def simulate(self, sender: str, steps: Sequence[Step]) -> tuple[Simulated, ...]:
        """Run all steps in order on top of the latest state (``eth_simulateV1``), or the first
        step with ``eth_call`` where the node lacks it. Nothing is signed or sent."""
        calls = []
        for s in steps:
            call: dict[str, Any] = {
                "from": sender,
                "to": s.request.to,
                "value": hex(s.request.value),
                "data": "0x" + s.request.data.hex(),
            }
            if s.request.gas_limit is not None:
                call["gas"] = hex(s.request.gas_limit)
            calls.append(call)
        try:
            blocks = self.rpc.call(
                "eth_simulateV1",
                [{"blockStateCalls": [{"calls": calls}], "validation": False}, "latest"],
            )
        except RpcError as exc:
            if _unsupported(exc):
                return self._simulate_first(sender, steps)
            raise
        try:
            results = blocks[0]["calls"]
            out = []
            for r in results:
                ok = r.get("status") == "0x1"
                error = r.get("error") or {}
                reason = None
                if not ok:
                    data = error.get("data") or r.get("returnData")
                    reason = decode_revert(data) if data and data != "0x" else None
                    reason = reason or str(error.get("message") or "reverted")
                gas = r.get("gasUsed")
                out.append(
                    Simulated(
                        ok,
                        int(gas, 16) if isinstance(gas, str) else None,
                        reason,
                        tuple(r.get("logs") or ()),
                    )
                )
            return tuple(out)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise RpcError(
                "eth_simulateV1 returned a malformed result", method="eth_simulateV1"
            ) from exc

    def _simulate_first(self, sender: str, steps: Sequence[Step]) -> tuple[Simulated, ...]:
        first = steps[0].request
        assert first.to is not None
        try:
            call = {
                "from": sender,
                "to": first.to,
                "value": hex(first.value),
                "data": "0x" + first.data.hex(),
            }
            self.rpc.call("eth_call", [call, "pending"])
        except RpcError as exc:
            reverted = _reverted(exc)
            if reverted is None:
                raise
            return (Simulated(False, None, reverted.reason),)
        return (Simulated(True, None, None),)

    def check(self, plan: Plan) -> Plan:
        """Simulate ``plan``; raise ContractReverted naming the step that would fail."""
        simulated = self.simulate(plan.sender, plan.steps)
        for index, (step, sim) in enumerate(zip(plan.steps, simulated, strict=False)):
            if not sim.ok:
                where = (
                    f"step {index + 1} of {len(plan.steps)} ({step.label})"
                    if len(plan.steps) > 1
                    else step.label
                )
                raise ContractReverted(
                    f"{sim.reason or 'no reason given'} — {where} would fail; nothing was signed"
                )
        return Plan(
            plan.title,
            plan.account,
            plan.sender,
            plan.steps,
            plan.notes,
            plan.figures,
            simulated,
        )

    # -- executing ------------------------------------------------------------------------

    def execute(
        self,
        plan: Plan,
        *,
        confirm: Callable[[Plan], None] | None = None,
        progress: Callable[[str], None] | None = None,
        timeout: float = 120.0,
        recheck: bool = True,
    ) -> Outcome:
        """Confirm (``confirm`` raises to stop), then send each step and wait for it.

        ``recheck=False`` trusts the plan's own simulation for a plan of one step: the chain
        dry-runs that step again right before signing it (its gas estimate), so a second
        simulation would only repeat that.

        Raises:
            ChainError: a step failed on chain (later steps are not sent);
            ContractReverted: a step's dry run right before signing reverted (state moved
                since the plan: e.g. the price, a deadline); Aborted.
        """
        if confirm is not None:
            confirm(plan)
        # State may have moved since the plan was made (a price, a deadline, a balance):
        # simulate every step again now, so nothing is signed if any of them would fail.
        if recheck or len(plan.steps) != 1 or not plan.simulation:
            self.check(plan)
        results: list[StepResult] = []
        for index, step in enumerate(plan.steps):
            try:
                sent: SendResult = self.chain.send(
                    plan.account, plan.sender, step.request, timeout=timeout, progress=progress
                )
            except ContractReverted as exc:
                done = (
                    f" (after {index} step(s) were sent: {', '.join(r.hash for r in results)})"
                    if results
                    else ""
                )
                raise ContractReverted(
                    f"{exc.reason} — {step.label} would fail now; it was not signed{done}",
                    data=exc.data,
                ) from exc
            events = self.decode_events(sent.receipt.logs if sent.receipt else [])
            results.append(
                StepResult(
                    step.label,
                    sent.hash,
                    sent.status,
                    sent.receipt.gas_used if sent.receipt else None,
                    events,
                )
            )
            if sent.status != "mined":
                raise ChainError(
                    f"{step.label} transaction {sent.hash} is {sent.status}{_why(sent)}"
                    + ("; later steps were not sent" if index + 1 < len(plan.steps) else "")
                )
        return Outcome(plan, tuple(results))

    def decode_events(self, logs: Sequence[Any]) -> tuple[Any, ...]:
        from walletim.contracts.abi import KNOWN_ABIS, decode_log

        out = []
        for log in logs:
            if isinstance(log, dict):
                decoded = decode_log(log, KNOWN_ABIS)
                if decoded is not None:
                    out.append(decoded)
        return tuple(out)


class TokenLookup:
    """Token names for describing payloads that may be signed offline (typed data): through
    the token lists of the payload's chain (the home's lists, the devnet world's when the
    node is that devnet), so a listed token is named without a node; an unlisted one is asked
    of this network's node only when it is on that chain. Every failure is just "unknown"."""

    def __init__(self, home: Any, network: str, rpc_url: str | None, chain_id: Any = None) -> None:
        self._args = (home, network, rpc_url, chain_id)
        self._rpc: RpcClient | None = None
        self._dead = False
        self._book: Any = None

    def _client(self) -> RpcClient | None:
        if self._rpc is None and not self._dead:
            from walletim.app.networks import Networks

            home, network, rpc_url, chain_id = self._args
            try:
                net = Networks(home).get(network).with_url(rpc_url)
                if chain_id is not None and int(chain_id) != net.chain_id:
                    raise LookupError("another chain")
                self._rpc = RpcClient(net.rpc_url, timeout=3.0)
                if self._rpc.chain_id() != net.chain_id:
                    raise LookupError("the node is on another chain")
            except Exception:
                self._dead = True
                self.close()
        return self._rpc

    def _tokens(self) -> Any:
        if self._book is None:
            from pathlib import Path

            from walletim.app.networks import Networks
            from walletim.app.tokens import (
                WORLD_LIST,
                RpcTokenReader,
                TokenBook,
                TokenLists,
                world_list,
            )

            home, network, _rpc_url, chain_id = self._args
            try:
                chain = (
                    int(chain_id) if chain_id is not None else Networks(home).get(network).chain_id
                )
            except Exception:
                chain = 0
            rpc = self._client()

            def sources() -> list[tuple[str, Any]]:
                out: list[tuple[str, Any]] = []
                if rpc is not None:
                    from walletim.app.world import load_world

                    try:
                        world = load_world(Path(home), rpc)
                    except Exception:
                        world = None
                    if world is not None and int(world.chain_id) == chain:
                        out.append((WORLD_LIST, world_list(world).for_chain(chain)))
                with contextlib.suppress(Exception):  # a damaged list: tokens named unknown
                    out += TokenLists(Path(home)).for_chain(chain)
                return out

            self._book = TokenBook(chain, sources, None if rpc is None else RpcTokenReader(rpc))
        return self._book

    def __call__(self, address: str) -> Any | None:
        """The TokenLabel of an ERC-20 (symbol, decimals, display, status), or None."""
        try:
            label = self._tokens().label(address)
        except Exception:
            return None
        if not label.decimals_known or "erc721" in label.tags:
            return None
        return label

    def close(self) -> None:
        if self._rpc is not None:
            self._rpc.close()
            self._rpc = None


def _unsupported(exc: RpcError) -> bool:
    err = exc.response if isinstance(exc.response, dict) else {}
    code = err.get("code")
    message = str(err.get("message", "")).lower()
    return (
        code == -32601
        or "not found" in message
        or "not supported" in message
        or "unsupported" in message
    )


def _reverted(exc: RpcError) -> ContractReverted | None:
    from walletim.app.chain import _revert_from

    return _revert_from(exc)


def parse_percent(text: str, *, what: str = "slippage", maximum: float = 50.0) -> int:
    """``0.5`` / ``0.5%`` -> basis points (50). Raises InputError outside 0 .. ``maximum``%."""
    value = text.strip().removesuffix("%").strip()
    try:
        pct = float(value)
    except ValueError as exc:
        raise InputError(f"{what} must be a percentage like 0.5 or 1%: got {shown(text)}") from exc
    if not 0 <= pct <= maximum or pct != pct:
        raise InputError(f"{what} must be between 0% and {maximum:g}%")
    return round(pct * 100)


def now() -> int:
    return int(time.time())


def _why(sent: SendResult) -> str:
    """What a receipt tells of a failure: out of gas, or reverted (the reason is not kept)."""
    receipt = sent.receipt
    if receipt is None or receipt.status != 0:
        return ""
    used, limit = receipt.gas_used, sent.plan.gas_limit
    if used >= limit:
        return f" (out of gas in block {receipt.block_number}: all {limit:,} of its limit used)"
    return f" (reverted in block {receipt.block_number} after {used:,} of {limit:,} gas)"
