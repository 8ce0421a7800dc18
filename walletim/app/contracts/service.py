"""ContractService: read calls, names for tokens and addresses, and plans of transactions
described from their own calldata, simulated (:mod:`.simulate`) and executed
(:mod:`.execute`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from walletim.app.contracts.execute import Executor, decode_events
from walletim.app.contracts.plans import Plan, Step, TokenMeta
from walletim.app.contracts.ports import ChainPort, NameOf, TokenNames
from walletim.app.contracts.simulate import Simulator
from walletim.chain.fees import FeeHistory
from walletim.chain.rpc import Q, RpcClient
from walletim.contracts.abi import DecodedEvent, Value, calldata, reverted
from walletim.contracts.abi.words import decode_words
from walletim.errors import (
    ContractHalted,
    ContractRefused,
    ContractReverted,
    RpcError,
    UnreadableAnswer,
)
from walletim.keys.hd import to_checksum_address

if TYPE_CHECKING:
    from walletim.app.chain import SendRequest
    from walletim.app.tokens import TokenLabel


class ContractService:
    """Reads and plans against contracts on one network.

    Collaborators: ``chain`` sends and records transactions (:class:`ChainPort`), ``rpc``
    asks the node, ``name_of(address)`` names wallets, contacts and devnet contracts,
    ``tokens()`` is the network's TokenBook (every token this service names goes through
    it; without one, tokens are named by what they answer).
    """

    def __init__(
        self,
        chain: ChainPort,
        rpc: RpcClient,
        *,
        name_of: NameOf = lambda _a: None,
        tokens: Callable[[], TokenNames] | None = None,
        on_fee_history: Callable[[FeeHistory], object] | None = None,
        allowed: Callable[[Plan], None] | None = None,
        block_time: Callable[[], int | None] | None = None,
    ) -> None:
        """``allowed(plan)`` raises when the signer would refuse a step of ``plan`` (see
        :class:`~walletim.app.contracts.execute.Executor`); ``block_time()`` is the next
        block's earliest time, the steps' simulation's (see
        :class:`~walletim.app.contracts.simulate.Simulator`)."""
        self.chain = chain
        self.rpc = rpc
        self._name_of = name_of
        self._book = tokens
        self._tokens: dict[str, TokenMeta | None] = {}
        self._pinned: set[str] = set()
        self.simulator = Simulator(rpc, on_fee_history, block_time)
        self.executor = Executor(chain, self.simulator.check, allowed)
        #: Run steps on the latest state (:meth:`.simulate.Simulator.simulate`).
        self.simulate = self.simulator.simulate
        #: Simulate a plan; ContractReverted names the step that would fail.
        self.check = self.simulator.check
        #: Confirm, simulate again (unless ``recheck=False`` for a plan just simulated), send
        #: each step and wait for it (:meth:`.execute.Executor.execute`).
        self.execute = self.executor.execute

    # -- reading ---------------------------------------------------------------------------

    def call_raw(
        self, to: str, data: bytes, *, sender: str | None = None, block: str = "latest"
    ) -> bytes:
        """A read-only call's return data. Raises ContractReverted (decoded reason), RpcError."""
        try:
            return self.rpc.get(Q.call(to_checksum_address(to), data, sender=sender, block=block))
        except RpcError as exc:
            why = reverted(exc)
            if why is not None:
                raise why from exc
            raise

    def read(
        self, to: str, signature: str, *args: object, returns: Sequence[str]
    ) -> tuple[Value, ...]:
        """Call a view function and decode its return values.

        Raises:
            ContractRefused: the contract's own answer is none of this kind: it reverted
                (ContractReverted), or answered nothing or data that does not decode as
                ``returns`` (UnreadableAnswer; also a call to no contract at all).
            RpcError: the node could not answer (never a ContractRefused).
        """
        return self.read_at(to, signature, *args, returns=returns, block="latest")

    def read_at(
        self, to: str, signature: str, *args: object, returns: Sequence[str], block: str
    ) -> tuple[Value, ...]:
        """:meth:`read` at ``block`` (a hex number or a tag). Raises as :meth:`read`; a
        revert names the read (a command makes many: "no reason given" alone names none)."""
        try:
            raw = self.call_raw(to, calldata(signature, *args), block=block)
        except ContractReverted as exc:
            raise _read_reverted(exc, to, signature) from exc
        hint = ": is it the right contract?" if block == "latest" else ""
        return _decoded(to, signature, raw, returns, hint)

    def has_code(self, address: str) -> bool:
        return bool(self.rpc.get(Q.code(to_checksum_address(address))))

    def latest_timestamp(self) -> int:
        query = Q.block("latest")
        block = self.rpc.get(query)
        if block is None:
            raise RpcError("the node has no latest block", method=query.method)
        return block.timestamp

    def next_timestamp(self) -> int:
        """The time the next block will carry as the node sees it now: its pending block's,
        never before the latest block's (the latest's where it has no pending block). A
        devnet idle for an hour has a latest block an hour old: a deadline counted from it
        has passed before anything is mined. Raises RpcError."""
        latest, pending = self.rpc.gather(Q.block("latest"), Q.block("pending"))
        if isinstance(latest, RpcError):
            raise latest
        if latest is None:
            raise RpcError("the node has no latest block", method="eth_getBlockByNumber")
        if isinstance(pending, RpcError) or pending is None:
            return latest.timestamp
        return max(latest.timestamp, pending.timestamp)

    # -- naming ----------------------------------------------------------------------------

    def token_label(self, address: str) -> TokenLabel | None:
        """The TokenBook's TokenLabel of ``address`` (None without a book)."""
        return None if self._book is None else self._book().label(address)

    def token_meta(self, address: str) -> TokenMeta | None:
        """Symbol (as shown) and decimals of an ERC-20, None if it does not answer like one.
        With a TokenBook: the list's symbol and decimals for a listed token, else the
        token's address marked unlisted/impostor and its own decimals. Cached.

        Raises:
            RpcError: the node could not be asked.
        """
        key = to_checksum_address(address)
        if self._book is not None:
            label = self._book().label(key)
            if not label.decimals_known or "erc721" in label.tags:
                return None
            return TokenMeta(key, label.display, label.decimals, label.name, label)
        if key not in self._tokens:
            self._tokens[key] = self._ask_token(key)
        return self._tokens[key]

    def _ask_token(self, key: str) -> TokenMeta | None:
        """What the token says of itself (no TokenBook): None if it does not answer sanely."""
        from walletim.app.tokens import RpcTokenReader
        from walletim.chain.units import MAX_DECIMALS

        reader = RpcTokenReader(self.rpc)
        decimals = reader.decimals(key)  # RpcError: the node failed, not an answer
        if decimals is None or decimals > MAX_DECIMALS:
            return None
        return TokenMeta(key, reader.symbol(key) or key[:10], decimals)

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

    def vault_asset(self, vault: str) -> str | None:
        """An ERC-4626 vault's asset() (None if it is not one). Raises RpcError."""
        try:
            (asset,) = self.read(vault, "asset()", returns=["address"])
        except ContractRefused:
            return None
        return to_checksum_address(asset)

    # -- describing, simulating, executing -------------------------------------------------

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

    def _describe_token(self, address: str) -> TokenMeta | TokenLabel | None:
        """For describe_call: the TokenLabel (symbol, decimals, display, status) of an
        ERC-20, None for anything else."""
        if self._book is None:
            return self.token_meta(address)
        label = self._book().label(address)
        if not label.decimals_known or "erc721" in label.tags:
            return None
        return label

    def decode_events(self, logs: Sequence[object]) -> tuple[DecodedEvent, ...]:
        return decode_events(logs)

    def max_network_fee(self, plan: Plan) -> int | None:
        """At most about what a simulated plan's network fees come to (wei), by the one fee
        policy (:func:`walletim.chain.fees.network_fee_bound`). None: not simulated, or no
        fee suggestion (fees are informative here: the chain service plans each step's own)."""
        from walletim.errors import WalletimError

        used = [sim.gas_used or 0 for sim in plan.simulation]
        if not sum(used):
            return None
        try:
            return self.chain.network_fee_bound(used)
        except WalletimError:
            return None


def _read_reverted(exc: ContractReverted, to: str, signature: str) -> ContractReverted:
    """``exc`` (a read of ``signature`` from ``to`` that reverted) naming the read."""
    reason = f"{exc.reason} — reading {signature} of {to_checksum_address(to)}"
    if isinstance(exc, ContractHalted):
        return ContractHalted(reason)
    return ContractReverted(reason, data=exc.data)


def _decoded(
    to: str, signature: str, raw: bytes, returns: Sequence[str], hint: str
) -> tuple[Value, ...]:
    name = signature.split("(")[0]
    if not raw and returns:
        raise UnreadableAnswer(f"{to} returned nothing for {name}(){hint}")
    words = decode_words(returns, raw)
    if words is not None:
        return tuple(words)
    from eth_abi.abi import decode

    try:
        return tuple(decode(list(returns), raw))
    except Exception as exc:
        raise UnreadableAnswer(f"{to} answered {name}() with data that does not decode") from exc
