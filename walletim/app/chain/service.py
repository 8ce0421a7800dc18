"""Sending and tracking transactions: the Python API behind ``balance``, ``send``, ``fees``
and ``tx``.

Guarantees:

- The node's chain id is checked against the network profile before anything is signed.
- Every transaction is recorded in the encrypted store (status ``signed``) in the same
  database transaction that hands out its nonce, *before* it is broadcast; it then moves
  through pending -> mined / failed / dropped / replaced. Receipts are stored
  (:mod:`~walletim.app.chain.tracking`).
- Nonces come from a per-(chain, sender) counter in the store, taken under SQLite's write
  lock (:mod:`~walletim.app.chain.nonces`): concurrent processes never reuse or skip one,
  and a node's nonce that contradicts this home's records is refused.
- A pre-flight (balance, gas estimate, dry run with the revert reason decoded, fee cap)
  stops what would fail before a nonce is spent (:mod:`~walletim.app.chain.planning`);
  every fee comes from the one policy, :mod:`walletim.chain.fees`.

Amounts are ints in wei; fees are wei per gas.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar, cast

from walletim.chain.fee_limits import DEFAULT_BUMP_PERCENT
from walletim.chain.rpc import JsonObject, Q, Query, RpcClient, answered
from walletim.errors import (
    ChainError,
    ChainIdMismatch,
    ContractReverted,
    InputError,
    RpcError,
    StoreError,
)
from walletim.keys.address import to_checksum_address

if TYPE_CHECKING:
    # Built on first use (below): `balance` needs none of the sending machinery.
    from walletim.app.chain.batch import BatchSender
    from walletim.app.chain.broadcast import Broadcaster
    from walletim.app.chain.flight import Flight
    from walletim.app.chain.flights import FlightLog
    from walletim.app.chain.model import (
        BatchPlan,
        BatchResult,
        BatchRow,
        SendRequest,
        SendResult,
        TxPlan,
    )
    from walletim.app.chain.nonces import NonceKeeper
    from walletim.app.chain.planning import Planner
    from walletim.app.chain.ports import (
        Allowed,
        Chain,
        Clock,
        Notify,
        Progress,
        Signer,
        SignerFor,
        Sleep,
    )
    from walletim.app.chain.tracking import Held, Tracker
    from walletim.app.networks import Network
    from walletim.chain.fees import FeeSuggestion
    from walletim.store.txs import ReceiptRecord, TxRecord, TxRepo, TxStatus

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Lookup:
    """What :meth:`ChainService.look_up` found of one transaction: its state (mined, failed,
    pending, replaced, ...), its receipt, this home's record of it (None: not this home's),
    whether the node re-checked it (else ``why``), and the node's JSON of a foreign one."""

    hash: str
    status: str
    receipt: ReceiptRecord | None
    record: TxRecord | None
    checked: bool
    why: str | None
    transaction: JsonObject | None = None


#: Confirms a plan before it is signed; raises (e.g. Aborted) to stop.
Confirm = Callable[["TxPlan"], None]


class ChainService:
    """Transactions on one network for the accounts of one home."""

    def __init__(
        self,
        network: Network,
        rpc: RpcClient,
        *,
        txs: TxRepo | Callable[[], TxRepo] | None = None,
        signer_for: SignerFor | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        notify: Notify | None = None,
        allowed: Allowed | None = None,
    ) -> None:
        """``txs`` is the repository of this home's transactions, or a factory of it so the
        home is only unlocked when a command needs it; ``signer_for(account_spec)`` returns
        the account's signer; ``notify(text)`` hears of transactions broadcast on the user's
        behalf that an interrupted command had signed; ``allowed(account_spec, txs)`` raises
        when the agent's policy would refuse one of many transactions (a batch), before the
        first is signed."""
        self.network = network
        self.rpc = rpc
        self._txs = txs
        # A repository, or a factory of one (not imported here: `balance` opens no store).
        self._repo: TxRepo | None = None if txs is None or callable(txs) else txs
        self._signer_for = signer_for
        self._chain_checked = False
        #: The node's genesis hash, once its chain id was checked (None: not asked yet, or
        #: the node would not tell), and whether this home's transactions were tied to it.
        self.genesis: str | None = None
        self._bound = False
        self._clock, self._sleep, self._notify = clock, sleep, notify
        self._allowed = allowed

    # -- the parts, each built (and imported) on first use ------------------------------

    @functools.cached_property
    def _chain(self) -> Chain:
        from walletim.app.chain.ports import Chain

        return Chain(self.rpc, lambda: self.repo, self.network.chain_id)

    @functools.cached_property
    def flights(self) -> FlightLog:
        return self._chain.flights

    @functools.cached_property
    def planner(self) -> Planner:
        from walletim.app.chain.planning import Planner

        return Planner(self.network, self.rpc, self._clock)

    @functools.cached_property
    def broadcaster(self) -> Broadcaster:
        from walletim.app.chain.broadcast import Broadcaster

        return Broadcaster(self._chain)

    @functools.cached_property
    def nonces(self) -> NonceKeeper:
        from walletim.app.chain.nonces import NonceKeeper

        return NonceKeeper(self._chain, self.broadcaster, self._notify)

    @functools.cached_property
    def tracker(self) -> Tracker:
        from walletim.app.chain.tracking import Tracker

        return Tracker(self._chain, self.broadcaster, self._clock, self._sleep)

    @functools.cached_property
    def batches(self) -> BatchSender:
        from walletim.app.chain.batch import BatchSender

        return BatchSender(self._chain, (self.planner, self.nonces, self.broadcaster, self.tracker))

    # -- plumbing -----------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        return self.network.chain_id

    @property
    def repo(self) -> TxRepo:
        """This home's transactions (opening the store on first use)."""
        if self._repo is None:
            if self._txs is None or not callable(self._txs):
                raise StoreError("this operation needs the home's store")
            self._repo = self._txs()
        return self._repo

    @property
    def notify(self) -> Notify | None:
        return self.nonces.notify if "nonces" in self.__dict__ else self._notify

    @notify.setter
    def notify(self, notify: Notify | None) -> None:
        self._notify = notify
        if "nonces" in self.__dict__:
            self.nonces.notify = notify

    def close(self) -> None:
        """Release the lock file (the store and the RPC client belong to the caller)."""
        if self._repo is not None:
            self._repo.close()

    def check_chain(self) -> None:
        """Raises ChainIdMismatch if the node is not on the profile's chain."""
        if not self._chain_checked:
            self.checked_all([])

    def _on_chain(self) -> None:
        """The chain-id check, then, once, this home's transactions tied to the chain the
        node runs (by its genesis hash: :mod:`walletim.app.chain.genesis`), before anything
        tracked is read or signed: a transaction of a chain that is gone (a devnet started
        afresh) is never broadcast again. A node that answers no genesis cannot be told
        from another chain with its chain id: the home's transactions are taken as its."""
        self.check_chain()
        if self._bound:
            return
        if self.genesis is None:
            try:
                self.genesis = self.rpc.get(Q.block_hash(0))
            except RpcError as exc:
                if exc.response is None:
                    raise
        if self.genesis is not None:
            from walletim.app.chain.genesis import bind

            bind(self._chain, self.genesis)
        self._bound = True

    def _chain_is(self, actual: int) -> None:
        if actual != self.chain_id:
            raise ChainIdMismatch(self.chain_id, actual, self.rpc.shown_url)
        self._chain_checked = True

    def checked_all(self, queries: Sequence[Query[Any]]) -> list[Any]:
        """The answers to ``queries`` (each parsed, or its RpcError), asked in the same
        round trip as the chain-id check when that is still to be done (ChainIdMismatch, or
        the check's RpcError, is raised first), with the genesis hash (for
        :meth:`_on_chain`)."""
        if self._chain_checked:
            return self.rpc.gather_all(queries)
        actual, genesis, *answers = self.rpc.gather_all([Q.chain_id(), Q.block_hash(0), *queries])
        self._chain_is(answered(actual))
        if isinstance(genesis, str):
            self.genesis = genesis
        return answers

    def checked(self, query: Query[T]) -> T:
        """The answer to ``query``, asked in the same round trip as the chain-id check when
        that is still to be done (ChainIdMismatch comes first). Raises RpcError."""
        if self._chain_checked:
            return self.rpc.get(query)
        return cast("T", answered(self.checked_all([query])[0]))

    def _signer(self, account: str, expected: str) -> Signer:
        if self._signer_for is None:
            raise ChainError("no signer available")
        signer = self._signer_for(account)
        if to_checksum_address(signer.address) != expected:
            raise ChainError("the signer does not match the sending account")
        return signer

    # -- reads --------------------------------------------------------------------------

    def balance(self, address: str, block: str = "latest") -> int:
        """Balance in wei."""
        return self.rpc.get(Q.balance(to_checksum_address(address), block))

    def balances(self, holdings: Sequence[tuple[str, str | None]]) -> list[int]:
        """The balance of each (holder, token) pair (token None: ether, in wei; else an
        ERC-20's base units), in one round trip (with the chain-id check, when still to be
        done). Raises ChainIdMismatch, RpcError, InputError (a token that does not answer
        ``balanceOf``)."""
        from walletim.app.chain import tokens  # not for `tx status`

        answers = self.checked_all(tokens.balance_queries(holdings))
        return tokens.read_balances(holdings, answers)

    def suggest_fees(self) -> dict[str, FeeSuggestion]:
        """Fee suggestions per level (low / normal / high). Raises ChainError."""
        return self.planner.suggest_fees()

    def network_fee_bound(self, gas_used: Sequence[int]) -> int:
        """About the most a plan whose steps simulated at ``gas_used`` pays in fees (wei)."""
        return self.planner.network_fee_bound(gas_used)

    def signing_bounds(
        self, reqs: Sequence[SendRequest], gas_used: Sequence[int]
    ) -> list[tuple[int, int]]:
        """Each request's (gas limit, max fee per gas) as it would be signed now, after a dry
        run at ``gas_used`` (see :meth:`Planner.signing_bounds`)."""
        return self.planner.signing_bounds(reqs, gas_used)

    def history(self, sender: str | None = None, limit: int = 100) -> list[TxRecord]:
        return self.repo.history(
            self.chain_id, to_checksum_address(sender) if sender else None, limit
        )

    def receipt(self, tx_hash: str) -> ReceiptRecord | None:
        """The stored receipt of a transaction of this home."""
        return self.repo.receipt(tx_hash)

    def look_up(self, tx_hash: str) -> Lookup:
        """Any transaction's state and receipt: one of this home's is re-checked with the
        node (and stored); another's is asked of the node (not stored). With the node down,
        this home's shows as stored, with why it could not be re-checked. Raises InputError
        (not this home's and the node does not know it), RpcError (not this home's and the
        node cannot be asked)."""
        from walletim.app.chain.tracking import receipt_record

        rec = self.repo.get(tx_hash)
        if rec is None:
            receipt, held = self._receipt_and_transaction(tx_hash)
            if isinstance(receipt, RpcError):
                raise receipt
            if isinstance(held, RpcError):
                raise held
            if receipt is None and held is None:
                raise InputError(f"the node does not know transaction {tx_hash}")
            stored = None if receipt is None else receipt_record(self.chain_id, tx_hash, receipt)
            status = "pending" if stored is None else ("mined" if stored.status else "failed")
            return Lookup(tx_hash, status, stored, None, True, None, held)
        try:
            rec = self.refresh(tx_hash)
        except (RpcError, ChainError) as exc:
            return Lookup(tx_hash, rec.status, self.repo.receipt(tx_hash), rec, False, str(exc))
        return Lookup(tx_hash, rec.status, self.repo.receipt(tx_hash), rec, True, None)

    def in_flight(self) -> list[Flight]:
        """The transactions this process signed, each as last seen (no node, no store)."""
        return self.flights.all()

    # -- sending ------------------------------------------------------------------------

    def plan(self, sender: str, req: SendRequest) -> TxPlan:
        """Gas, fees, dry run and pre-flight checks, without signing or touching nonces.

        Raises:
            ChainIdMismatch, ContractReverted (dry run), ChainError (fee cap, funds), RpcError.
        """
        self.check_chain()
        return self.planner.plan(sender, req)

    def send(
        self,
        account: str,
        sender: str,
        req: SendRequest,
        *,
        confirm: Confirm | None = None,
        wait: bool = True,
        confirmations: int = 1,
        timeout: float = 120.0,
        progress: Progress | None = None,
    ) -> SendResult:
        """Plan, confirm, sign, record, broadcast, and (unless ``wait=False``, or it was
        forced past a nonce gap: it waits for the nonces below) wait.

        ``confirm(plan)`` raises (e.g. Aborted) to stop before signing.

        Raises:
            ChainIdMismatch, ContractReverted, ChainError, RpcError, Aborted.
        """
        from walletim.app.chain.model import SendResult
        from walletim.app.chain.replace import check_outbids

        plan = self.plan(sender, req)
        check_outbids(self.repo, plan, self.rpc)  # --nonce onto a pending one: not underpriced
        if confirm is not None:
            confirm(plan)
        signer = self._signer(account, plan.sender)
        self._on_chain()
        self.nonces.reset()
        record = self._sign_and_broadcast(signer, plan)
        recovered = tuple(self.nonces.recovered)
        if not wait or any(r.code == "nonce-gap" for r in plan.risks):
            # Forced past a nonce gap it is not mined until the nonces below are used:
            # waiting would only run out the timeout.
            return SendResult(record.hash, record.nonce, "pending", plan, recovered=recovered)
        status, receipt, confs = self.wait(
            record.hash, confirmations=confirmations, timeout=timeout, progress=progress
        )
        return SendResult(record.hash, record.nonce, status, plan, receipt, confs, recovered)

    def _sign_and_broadcast(
        self, signer: Signer, plan: TxPlan, *, replacing: bool = False
    ) -> TxRecord:
        """Take a nonce (the plan's when it names one; a replacement signs at its own without
        taking one), sign and record in one store transaction, then broadcast while holding
        the in-flight lock."""
        from walletim.app.chain.broadcast import sign_into

        repo = self.repo
        with contextlib.ExitStack() as broadcasting:
            with repo.transaction() as conn:
                if replacing and plan.nonce is not None:
                    at = plan.nonce
                else:
                    at = self.nonces.allocate(conn, plan.sender, plan.nonce)
                record = sign_into(conn, self.chain_id, signer, plan, at)
                broadcasting.enter_context(repo.inflight.held())
            self.flights.signed(record.hash, record.nonce, record.sender)
            self.broadcaster.broadcast(record)
        return replace(record, status="pending")  # as broadcast() recorded it

    def send_batch(
        self,
        account: str,
        sender: str,
        rows: Sequence[BatchRow],
        *,
        batch_id: str,
        wait: bool = True,
        timeout: float = 300.0,
        fee_level: str = "normal",
        how: SendRequest | None = None,
        confirmations: int = 1,
        confirm: Callable[[BatchPlan], None] | None = None,
        units: Mapping[str, tuple[str, int]] | None = None,
    ) -> list[BatchResult]:
        """Sign and pipeline many transfers; each row is paid exactly once per ``batch_id``,
        even across a crash and a rerun (:mod:`~walletim.app.chain.batch`). ``how``: the
        fee choices and fee cap of every row (default: ``fee_level``'s suggestion, the
        network's cap); with ``wait``, wait up to ``timeout`` seconds for each row to be
        ``confirmations`` blocks deep. ``confirm(plan)`` sees what is about to be signed,
        every funds check passed, and raises (e.g. Aborted) to stop; ``units``: each
        token's (symbol, decimals) by address, for what is shown.

        Raises:
            ChainIdMismatch, InsufficientFunds (ETH or a token), ChainError (fee cap),
            RpcError, Aborted.
        """
        from walletim.app.chain.model import SendRequest, Until

        self._on_chain()
        sender = to_checksum_address(sender)
        return self.batches.send(
            sender,
            batch_id,
            rows,
            lambda: self._signer(account, sender),
            how=how or SendRequest(None, fee_level=fee_level),
            until=Until(confirmations, timeout) if wait else None,
            confirm=confirm,
            units=units,
            allowed=None if self._allowed is None else functools.partial(self._allowed, account),
        )

    # -- tracking -----------------------------------------------------------------------

    def refresh(self, tx_hash: str) -> TxRecord:
        """Bring one stored transaction up to date with the chain. Raises InputError if unknown."""
        self.tracker.get(tx_hash)
        asked = self._receipt_and_transaction(tx_hash)
        self._on_chain()
        return self.tracker.refresh(self.tracker.get(tx_hash), asked)

    def _receipt_and_transaction(self, tx_hash: str) -> Held:
        """What the node holds of ``tx_hash`` (its receipt, the transaction; each None, or
        an RpcError), in one round trip with the chain-id check when that is still to be
        done (ChainIdMismatch first)."""
        receipt, held = self.checked_all([Q.receipt(tx_hash), Q.transaction(tx_hash)])
        return receipt, held

    def wait(
        self,
        tx_hash: str,
        *,
        confirmations: int = 1,
        timeout: float = 120.0,
        progress: Progress | None = None,
    ) -> tuple[TxStatus, ReceiptRecord | None, int]:
        """Poll until mined with ``confirmations`` blocks (or failed/dropped/replaced).

        Returns (status, receipt, confirmations seen). Polls quickly at first (25 ms, backing
        off to 1 s). On timeout the transaction stays pending and tracked.
        """
        from walletim.app.chain.model import Until

        self.tracker.get(tx_hash)
        self._on_chain()
        return self.tracker.wait(tx_hash, Until(confirmations, timeout, progress))

    def reconcile(self, sender: str | None = None) -> list[TxRecord]:
        """Re-check every open transaction and the receipts of recent blocks (reorgs).

        Returns the transactions whose status or block changed.
        """
        self._on_chain()
        return self.tracker.reconcile(sender)

    # -- replacement --------------------------------------------------------------------

    def speedup(
        self,
        tx_hash: str,
        account_for: Callable[[str], str],
        *,
        bump_percent: float = DEFAULT_BUMP_PERCENT,
        confirm: Confirm | None = None,
    ) -> TxRecord:
        """Re-send a pending transaction at the same nonce with both fees raised: this
        home's, or one its key signed elsewhere (``cast send``, another wallet) that the node
        holds, as it was signed (:func:`replace.held_elsewhere`: the node cannot change it).

        ``account_for(address)`` names the wallet account that holds the sender's key.
        """
        from walletim.app.chain.replace import held_elsewhere

        self._on_chain()
        rec = self.repo.get(tx_hash)
        if rec is None:
            rec = held_elsewhere(self.rpc, self.chain_id, "", None, tx_hash, resend=True)
        return self._replace(rec, account_for(rec.sender), False, bump_percent, confirm)

    def cancel(
        self,
        tx_hash: str | None,
        account_for: Callable[[str], str],
        *,
        sender: str | None = None,
        nonce: int | None = None,
        bump_percent: float = DEFAULT_BUMP_PERCENT,
        confirm: Confirm | None = None,
    ) -> TxRecord:
        """Replace a pending transaction (by hash, or by sender and nonce) with a zero-value
        self-transfer at the same nonce: this home's, or one its key signed elsewhere (``cast
        send``, another wallet) that the node holds (:func:`replace.held_elsewhere`)."""
        from walletim.app.chain.replace import held_elsewhere, pending_at

        if tx_hash is None and (sender is None or nonce is None):
            raise InputError("give a transaction hash, or --from and --nonce")
        self._on_chain()
        if tx_hash is not None:
            rec = self.repo.get(tx_hash)
        else:
            assert sender is not None and nonce is not None
            rec = pending_at(self.repo, self.chain_id, sender, nonce)
        if rec is None:
            assert sender is not None or tx_hash is not None
            rec = held_elsewhere(self.rpc, self.chain_id, sender or "", nonce, tx_hash)
        return self._replace(rec, account_for(rec.sender), True, bump_percent, confirm)

    def _would_succeed(self, rec: TxRecord) -> None:
        """A speed-up of a call is simulated first, on the latest state (the pending one holds
        the original, run before it): one that reverts now (a swap past its deadline) would
        be mined and fail, its fee paid for nothing. Asked only when ``rec`` is the next
        nonce: behind pending ones of the sender it depends on them (an approval).
        Raises ContractReverted, RpcError."""
        try:
            self.planner.dry_run(rec.sender, rec.recipient, rec.value, rec.data, "latest")
        except ContractReverted as exc:
            raise ContractReverted(
                f"{exc.reason} (sped up, it would be mined and fail, paying its fee for "
                "nothing: cancel it instead)",
                data=exc.data,
            ) from exc

    def _replace(
        self,
        rec: TxRecord,
        account: str,
        cancel: bool,
        bump_percent: float,
        confirm: Confirm | None,
    ) -> TxRecord:
        from walletim.app.chain.replace import check_replaceable, node_holder, replacement_plan

        self._on_chain()
        fresh = self._fresh(rec)
        mined_count = self.rpc.get(Q.nonce(rec.sender, "latest"))
        check_replaceable(fresh, mined_count)
        if not cancel and rec.data and rec.nonce == mined_count:
            self._would_succeed(rec)
        planner = self.planner  # what the node suggests now, for the type of ``rec``
        current = planner.suggestion_now() if rec.tx_type == 2 else planner.gas_price_now()
        plan = replacement_plan(
            self.network, rec, cancel=cancel, bump_percent=bump_percent, current=current,
            at_nonce=self.repo.at_nonce(self.chain_id, rec.sender, rec.nonce),
            held=node_holder(self.rpc, self.repo, self.chain_id, fresh),
        )  # fmt: skip
        if confirm is not None:
            confirm(plan)
        signer = self._signer(account, rec.sender)
        try:
            new = self._sign_and_broadcast(signer, plan, replacing=True)
        except RpcError:
            raise  # not a refusal: the node could not be asked (the replacement is kept)
        except ChainError:
            # Refused ("nonce too low"): the original was mined (or replaced) since it was
            # checked. That is said, its outcome recorded (the replacement, never sent,
            # reads dropped), rather than the node's words.
            fresh = self._fresh(rec)
            check_replaceable(fresh, self.rpc.get(Q.nonce(rec.sender, "latest")))
            raise
        return self.tracker.get(new.hash)  # as stored: when it was made, on which chain

    def _fresh(self, rec: TxRecord) -> TxRecord:
        """``rec`` as the node has it now: this home's refreshed (and stored); one signed
        elsewhere as the node just showed it (never stored: its nonce says if it was mined)."""
        return rec if self.repo.get(rec.hash) is None else self.tracker.refresh(rec)
