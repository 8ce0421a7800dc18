"""Sending and tracking transactions: the Python API behind ``balance``, ``send`` and ``tx``.

Guarantees:

- The node's chain id is checked against the network profile before anything is signed.
- Every transaction is recorded in the encrypted store (status ``signed``) in the same
  database transaction that hands out its nonce, *before* it is broadcast; it then moves
  through pending -> mined / failed / dropped / replaced. Receipts are stored.
- Nonces come from a per-(chain, sender) counter in the store, taken under SQLite's write
  lock, so concurrent walletim processes on one home never reuse or skip one. When the
  node has forgotten transactions (dropped), the gap is found and its nonce reused.
  A node's nonce that contradicts this home's records (below a nonce it saw mined, or far
  beyond what it can account for) is refused, never signed at (``_node_nonce``).
- A pre-flight (balance, gas estimate, ``eth_call`` dry run with the revert reason
  decoded, fee cap) stops what would fail before a nonce is spent. A fee per gas the node
  suggests is signed only up to ``fees.MAX_SUGGESTED_FEE_PER_GAS``; above it only when the
  user gives the fee explicitly.

Amounts are ints in wei; fees are wei per gas.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from walletim.app.networks import Network
from walletim.chain import fees as feepolicy
from walletim.chain.rpc import RpcClient, quantity
from walletim.errors import (
    ChainError,
    ChainIdMismatch,
    ContractReverted,
    InputError,
    RpcError,
    StoreError,
    SuspiciousNonce,
)
from walletim.keys.hd import to_checksum_address
from walletim.store.db import Store
from walletim.store.txs import ReceiptRecord, TxRecord, TxRepo

REORG_DEPTH = 64  # how far back stored receipts are re-checked against the canonical chain
DEFAULT_BUMP_PERCENT = 12.5
NODE_MIN_BUMP_PERCENT = 10.0
TRANSFER_SELECTOR = bytes.fromhex("a9059cbb")
MAX_BATCH_ROWS = 10_000
#: While waiting for many transactions, how often to check that the node still holds them.
LOST_CHECK_SECONDS = 3.0
#: How far a node's nonce may run ahead of what this home can account for (see _node_nonce).
NONCE_SLACK = 64
#: A fee suggestion this young is used again rather than asked anew (seconds).
FEES_FRESH_S = 2.0


@dataclass(frozen=True, slots=True)
class SendRequest:
    """What to send. ``value`` in wei; fee fields in wei per gas (None: suggested)."""

    to: str | None
    value: int = 0
    data: bytes = b""
    nonce: int | None = None
    gas_limit: int | None = None
    max_fee: int | None = None
    priority_fee: int | None = None
    legacy: bool = False
    fee_level: str = "normal"
    kind: str = "send"
    note: str | None = None
    fee_cap: int | None = None  # wei; None: the network profile's cap (geth's default 1 ether)


@dataclass(frozen=True, slots=True)
class TxPlan:
    """A transaction ready to sign, and what the user is asked to confirm."""

    network: str
    chain_id: int
    sender: str
    to: str | None
    value: int
    data: bytes
    nonce: int | None  # None: taken from the nonce manager at signing time
    gas_limit: int
    tx_type: int
    max_fee: int | None
    priority_fee: int | None
    gas_price: int | None
    kind: str = "send"
    note: str | None = None

    @property
    def max_total_fee(self) -> int:
        per_gas = self.max_fee if self.max_fee is not None else (self.gas_price or 0)
        return self.gas_limit * per_gas

    def tx_dict(self, nonce: int) -> dict[str, Any]:
        tx: dict[str, Any] = {
            "chainId": self.chain_id,
            "nonce": nonce,
            "gas": self.gas_limit,
            "value": self.value,
            "data": self.data,
        }
        if self.to is not None:
            tx["to"] = self.to
        if self.tx_type == 2:
            tx["maxFeePerGas"] = self.max_fee
            tx["maxPriorityFeePerGas"] = self.priority_fee
        else:
            tx["gasPrice"] = self.gas_price
        return tx


@dataclass(frozen=True, slots=True)
class SendResult:
    hash: str
    nonce: int
    status: str
    plan: TxPlan
    receipt: ReceiptRecord | None = None
    confirmations: int = 0
    #: Transactions an earlier command signed and recorded but never got to the node (it
    #: was killed, or the node was unreachable), broadcast first so this one is not stuck
    #: behind their nonces.
    recovered: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BatchRow:
    row: int  # 1-based line number in the file (after the header, if any)
    to: str
    value: int  # wei or token base units
    token: str | None = None


@dataclass
class BatchResult:
    row: int
    to: str
    value: int
    token: str | None
    hash: str | None
    status: str
    error: str | None = None
    already_sent: bool = False


@dataclass
class Progress:
    """Called while waiting; the CLI draws a spinner from it."""

    callback: Callable[[str], None] | None = None
    last: float = field(default=0.0)

    def __call__(self, text: str) -> None:
        if self.callback is not None:
            self.callback(text)


def decode_revert(data: Any) -> str:
    """Human reason from revert data: Error(string), Panic(uint256), or the raw selector."""
    if not isinstance(data, str) or not data.startswith("0x"):
        return "no reason given"
    try:
        raw = bytes.fromhex(data[2:])
    except ValueError:
        return "no reason given"
    if len(raw) < 4:
        return "no reason given"
    from eth_abi.abi import decode

    try:
        if raw[:4] == bytes.fromhex("08c379a0"):
            return str(decode(["string"], raw[4:])[0])
        if raw[:4] == bytes.fromhex("4e487b71"):
            code = int(decode(["uint256"], raw[4:])[0])
            return f"panic 0x{code:02x}"
    except Exception:  # noqa: S110 - malformed revert data: fall through and show the selector
        pass
    return f"custom error 0x{raw[:4].hex()}"


_FEE_HISTORY_PARAMS = [hex(feepolicy.HISTORY_BLOCKS), "latest", list(feepolicy.PERCENTILES)]


def _answer(value: Any) -> Any:
    """A batched answer, or its RpcError raised."""
    if isinstance(value, RpcError):
        raise value
    return value


def _suggestion(history: Any) -> dict[str, feepolicy.FeeSuggestion]:
    if not isinstance(history, dict):
        raise RpcError("eth_feeHistory returned a malformed result", method="eth_feeHistory")
    return feepolicy.suggest(history)


def _revert_from(exc: RpcError) -> ContractReverted | None:
    err = exc.response if isinstance(exc.response, dict) else {}
    message = str(err.get("message", ""))
    data = err.get("data")
    if isinstance(data, dict):  # some nodes nest it
        data = data.get("data")
    if "revert" not in message.lower() and not data:
        return None
    reason = decode_revert(data) if data else message.replace("execution reverted:", "").strip()
    return ContractReverted(
        reason or "no reason given", data=data if isinstance(data, str) else None
    )


class InFlight:
    """Which processes are between recording transactions as 'signed' and settling their
    broadcast, through a lock file beside the store.

    Each holds a shared ``flock`` from inside the store transaction that records its
    transactions until their broadcast is settled; the kernel drops it when the process
    dies. A process that takes the lock exclusively, while it holds the store's write lock
    (so nobody can record more), knows that every 'signed' record is an orphan: its command
    stopped between signing and broadcasting.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self._held = 0

    def _open(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise StoreError(
                    f"cannot open {self._path}: {os.strerror(exc.errno or 0)}"
                ) from exc
        return self._fd

    def alone(self) -> bool:
        """True if no other process is between recording and broadcasting (call under the
        store's write lock; False while this one holds the lock itself)."""
        if self._held:
            return False
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the shared lock (re-entrant within this object)."""
        fd = self._open()
        if not self._held:
            fcntl.flock(fd, fcntl.LOCK_SH)
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if not self._held:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._held = 0


class ChainService:
    """Transactions on one network for the accounts of one home."""

    def __init__(
        self,
        network: Network,
        rpc: RpcClient,
        *,
        signer_for: Callable[[str], Any] | None = None,
        store: Store | Callable[[], Store] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        """``signer_for(account_spec)`` returns a LocalSigner; ``store`` may be a factory so the
        home is only unlocked when a command needs it; ``notify(text)`` hears of transactions
        broadcast on the user's behalf that an interrupted command had signed."""
        self.network = network
        self.rpc = rpc
        self._signer_for = signer_for
        self._store_arg = store
        self._store: Store | None = None
        self._chain_checked = False
        self._clock = clock
        self._sleep = sleep
        self._notify = notify
        self._inflight: InFlight | None = None
        self._fees: tuple[float, dict[str, feepolicy.FeeSuggestion]] | None = None
        self._recovered: list[str] = []

    # -- plumbing -----------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        return self.network.chain_id

    @property
    def store(self) -> Store:
        if self._store is None:
            if self._store_arg is None:
                raise StoreError("this operation needs the home's store")
            self._store = (
                self._store_arg if isinstance(self._store_arg, Store) else self._store_arg()
            )
        return self._store

    @property
    def repo(self) -> TxRepo:
        return TxRepo(self.store)

    @property
    def inflight(self) -> InFlight:
        if self._inflight is None:
            self._inflight = InFlight(self.store.path.with_name(self.store.path.name + ".inflight"))
        return self._inflight

    def close(self) -> None:
        """Release the lock file (the store and the RPC client belong to the caller)."""
        if self._inflight is not None:
            self._inflight.close()

    def check_chain(self) -> None:
        """Raises ChainIdMismatch if the node is not on the profile's chain."""
        if self._chain_checked:
            return
        actual = self.rpc.chain_id()
        if actual != self.chain_id:
            raise ChainIdMismatch(self.chain_id, actual, self.rpc.shown_url)
        self._chain_checked = True

    # -- reads ----------------------------------------------------------------------------

    def balance(self, address: str, block: str = "latest") -> int:
        """Balance in wei."""
        return self.rpc.get_balance(to_checksum_address(address), block)

    def suggest_fees(self) -> dict[str, feepolicy.FeeSuggestion]:
        """The node's fee suggestion, as a confirmation shows it (the next plan within
        FEES_FRESH_S signs with it rather than asking again)."""
        suggestion = self._suggest()
        self._fees = (self._clock(), suggestion)
        return suggestion

    def _suggest(self) -> dict[str, feepolicy.FeeSuggestion]:
        return _suggestion(self.rpc.call("eth_feeHistory", _FEE_HISTORY_PARAMS))

    def _shown_fees(self) -> dict[str, feepolicy.FeeSuggestion] | None:
        """The suggestion :meth:`suggest_fees` gave in the last FEES_FRESH_S seconds (a
        confirmation showing it), used once: the fee shown is the fee signed."""
        shown, self._fees = self._fees, None
        if shown is None or self._clock() - shown[0] > FEES_FRESH_S:
            return None
        return shown[1]

    def _preflight(self, sender: str, req: SendRequest, call: dict[str, Any]) -> dict[str, Any]:
        """What :meth:`plan` asks the node, in one round trip: the gas estimate, the fee
        history (or gas price), the sender's pending balance and the dry run, each as
        :meth:`plan` needs it. Answers by method; an error is kept, not raised."""
        calls: list[tuple[str, Sequence[Any]]] = []
        if req.gas_limit is None:
            calls.append(("eth_estimateGas", [call]))
        if req.legacy and req.max_fee is None:
            calls.append(("eth_gasPrice", []))
        wants_fees = not req.legacy and (req.max_fee is None or req.priority_fee is None)
        fees = self._shown_fees() if wants_fees else None
        if wants_fees and fees is None:
            calls.append(("eth_feeHistory", _FEE_HISTORY_PARAMS))
        calls.append(("eth_getBalance", [sender, "pending"]))
        if req.data or req.gas_limit is not None:
            calls.append(("eth_call", [call, "pending"]))
        out = dict(zip((m for m, _ in calls), self.rpc.batch(calls), strict=True))
        if "eth_feeHistory" in out:
            try:
                fees = _suggestion(_answer(out["eth_feeHistory"]))
            except RpcError as exc:
                out["fees"] = exc
        out.setdefault("fees", fees)
        return out

    def _contract_gas(self, estimate: int) -> int:
        """The gas limit for a contract call estimated at ``estimate`` (see
        :func:`~walletim.chain.fees.contract_gas_limit`); a large one is held under the
        latest block's gas limit (a transaction above it is never mined)."""
        limit = feepolicy.contract_gas_limit(estimate)
        if limit <= feepolicy.CHECK_BLOCK_ABOVE:
            return limit
        block = self.rpc.call("eth_getBlockByNumber", ["latest", False])
        if not isinstance(block, dict):
            raise RpcError("eth_getBlockByNumber returned no block", method="eth_getBlockByNumber")
        return feepolicy.contract_gas_limit(estimate, quantity(block.get("gasLimit"), "gasLimit"))

    # -- planning -------------------------------------------------------------------------

    def plan(self, sender: str, req: SendRequest) -> TxPlan:
        """Gas, fees, dry run and pre-flight checks, without signing or touching nonces.

        Raises:
            ChainIdMismatch, ContractReverted (dry run), ChainError (fee cap, funds), RpcError.
        """
        self.check_chain()
        sender = to_checksum_address(sender)
        to = None if req.to is None else to_checksum_address(req.to)
        call: dict[str, Any] = {
            "from": sender,
            "value": hex(req.value),
            "data": "0x" + req.data.hex(),
        }
        if to is not None:
            call["to"] = to
        pre = self._preflight(sender, req, call)
        gas_limit = req.gas_limit
        if gas_limit is None:
            try:
                estimate = quantity(_answer(pre["eth_estimateGas"]), "eth_estimateGas")
            except RpcError as exc:
                reverted = _revert_from(exc)
                if reverted is not None:
                    raise reverted from exc
                raise
            gas_limit = self._contract_gas(estimate) if req.data else estimate
        if req.legacy:
            gas_price = req.max_fee
            if gas_price is None:
                gas_price = quantity(_answer(pre["eth_gasPrice"]), "eth_gasPrice")
                feepolicy.check_suggested("gas price", gas_price)
            plan = TxPlan(
                self.network.name,
                self.chain_id,
                sender,
                to,
                req.value,
                req.data,
                req.nonce,
                gas_limit,
                0,
                None,
                None,
                gas_price,
                req.kind,
                req.note,
            )
        else:
            max_fee, tip = req.max_fee, req.priority_fee
            if max_fee is None or tip is None:
                suggestion = _answer(pre["fees"])[req.fee_level]
                if tip is None:
                    tip = suggestion.max_priority_fee_per_gas
                    feepolicy.check_suggested("priority fee", tip)
                if max_fee is None:
                    max_fee = max(suggestion.max_fee_per_gas, 2 * suggestion.base_fee + tip)
                    feepolicy.check_suggested("max fee", max_fee)
            if tip > max_fee:
                raise InputError("the priority fee is higher than the max fee")
            plan = TxPlan(
                self.network.name,
                self.chain_id,
                sender,
                to,
                req.value,
                req.data,
                req.nonce,
                gas_limit,
                2,
                max_fee,
                tip,
                None,
                req.kind,
                req.note,
            )
        cap = self.network.fee_cap_wei if req.fee_cap is None else req.fee_cap
        feepolicy.check_fee_cap(plan.gas_limit, plan.max_fee or plan.gas_price or 0, cap)
        balance = quantity(_answer(pre["eth_getBalance"]), "eth_getBalance")
        if balance < plan.value + plan.max_total_fee:
            from walletim.chain.units import format_amount

            raise ChainError(
                f"insufficient funds: {sender} has {format_amount(balance)} ETH, needs up to "
                f"{format_amount(plan.value + plan.max_total_fee)} ETH (value + max fee); "
                "nothing was signed"
            )
        if req.data or req.gas_limit is not None:
            # The estimate already ran the call for plain sends; with explicit gas or calldata
            # do an explicit dry run so a revert is reported before signing.
            try:
                _answer(pre["eth_call"])
            except RpcError as exc:
                reverted = _revert_from(exc)
                if reverted is not None:
                    raise reverted from exc
                raise
        return plan

    # -- nonces -----------------------------------------------------------------------------

    def _allocate_nonce(self, conn: Any, sender: str, explicit: int | None) -> int:
        """The next nonce for ``sender`` (call inside a store transaction: the write lock
        makes this safe across processes).

        It is the larger of the node's pending count and our own counter, except when our
        counter is ahead and the node's next nonce is a gap: a transaction we broadcast and
        the node no longer holds (dropped), or none at all. Then that nonce is reused.
        A transaction recorded as ``signed`` (about to be broadcast, maybe by another
        process) is not a gap.
        """
        local = TxRepo.next_nonce(conn, self.chain_id, sender)
        if explicit is not None:
            TxRepo.set_next_nonce(conn, self.chain_id, sender, max(local or 0, explicit + 1))
            return explicit
        chain_pending = self._node_nonce(sender)
        if (
            local is not None
            and local > chain_pending
            and self.inflight.alone()
            and self._send_orphans(conn, sender, chain_pending)
        ):
            chain_pending = self._node_nonce(sender)
        nonce = max(chain_pending, local or 0)
        if local is not None and local > chain_pending:
            ours = self.repo.at_nonce(self.chain_id, sender, chain_pending)
            in_flight = [r for r in ours if r.status == "signed"]
            if not in_flight:
                alive = [
                    r
                    for r in ours
                    if r.status == "pending" and self.rpc.get_transaction(r.hash) is not None
                ]
                if not alive:
                    for r in ours:
                        if r.status == "pending":
                            TxRepo.set_status(conn, r.hash, "dropped")
                    nonce = chain_pending
        TxRepo.set_next_nonce(conn, self.chain_id, sender, max(local or 0, nonce + 1))
        return nonce

    def _send_orphans(self, conn: Any, sender: str, start: int) -> bool:
        """Broadcast what earlier commands recorded as 'signed' at nonces from ``start`` but
        never got to the node (killed between the two, or the node was unreachable, which
        the user was told would be retried), so the nonce about to be handed out does not
        wait behind them for ever. Only call when no other process is between recording and
        broadcasting (``InFlight.alone``). One the node now refuses is marked dropped, and
        its nonce is handed out again. Returns whether any was accepted.

        Raises:
            RpcError: the node is unreachable (the records stay 'signed').
        """
        records = [
            r
            for r in self.repo.open_transactions(self.chain_id, sender)
            if r.status == "signed" and r.nonce >= start
        ]
        if not records:
            return False
        outcomes = self._broadcast_all(records)
        for outcome in outcomes:
            if outcome is not None and outcome.response is None:
                raise outcome
        accepted = [r.hash for r, outcome in zip(records, outcomes, strict=True) if outcome is None]
        for rec, outcome in zip(records, outcomes, strict=True):
            if outcome is not None:
                TxRepo.set_status(conn, rec.hash, "dropped")
                self._tell(
                    f"{rec.hash} (nonce {rec.nonce}), signed earlier by a command that did not "
                    f"get it to the node, is refused now and marked dropped: {outcome}"
                )
            else:
                self._tell(
                    f"broadcast {rec.hash} (nonce {rec.nonce}) first: an earlier command signed "
                    "it and stopped before the node had it"
                )
        TxRepo.mark_pending(conn, accepted)
        self._recovered.extend(accepted)
        return bool(accepted)

    def _broadcast_all(self, records: Sequence[TxRecord]) -> list[RpcError | None]:
        """Send every raw transaction in one batch. For each: None if the node has it now
        (accepted, already known, or refused as ours from an earlier attempt whose answer
        was lost: "nonce too low" once mined), else the error (``response`` None: a transport
        failure, the outcome unknown). Raises RpcError (checking what the node holds)."""
        sent = self.rpc.batch(
            [("eth_sendRawTransaction", ["0x" + rec.raw.hex()]) for rec in records]
        )
        outcomes: list[RpcError | None] = [
            a if isinstance(a, RpcError) and "already known" not in str(a).lower() else None
            for a in sent
        ]
        refused = [
            rec.hash
            for rec, outcome in zip(records, outcomes, strict=True)
            if outcome is not None and outcome.response is not None
        ]
        held = self._node_holds(refused) if refused else set()
        return [
            None if rec.hash in held else outcome
            for rec, outcome in zip(records, outcomes, strict=True)
        ]

    def _tell(self, text: str) -> None:
        if self._notify is not None:
            self._notify(text)

    def _node_nonce(self, sender: str) -> int:
        """The node's pending nonce for ``sender``, unless it contradicts this home's records.

        A node can lie about nonces. Signed at a nonce already used, a transaction can never be
        mined; signed at a nonce far ahead, it waits unseen until the account catches up, then
        moves money long after the user forgot it. So this refuses (SuspiciousNonce) a pending
        nonce that is
        - below the node's own ``latest`` count, or more than NONCE_SLACK above it beyond this
          home's open transactions in between (no node keeps that many unknown pending
          transactions of one account), or
        - lower than one past the highest nonce this home saw mined or failed, or with a
          ``latest`` count more than NONCE_SLACK above that (beyond this home's open
          transactions in between: that many sent elsewhere is not believable unless the user
          says so with --nonce), while the node still has the receipt of that transaction.
          A node that no longer knows it is on a chain that forgot it (a devnet started
          afresh, a reorg deeper than it); its count is then the truth of that chain.
        A small lie upwards within these bounds, or a liar that also hides this home's
        receipts, is not detectable from one node; such a transaction waits (``walletim tx
        cancel``, or a later send finds the gap and reuses its nonce)."""
        pending, latest = self.rpc.batch(
            [
                ("eth_getTransactionCount", [sender, "pending"]),
                ("eth_getTransactionCount", [sender, "latest"]),
            ]
        )
        for answer in (pending, latest):
            if isinstance(answer, RpcError):
                raise answer
        node = quantity(pending, "eth_getTransactionCount")
        mined = quantity(latest, "eth_getTransactionCount")
        if node < mined:
            raise SuspiciousNonce(
                sender, node, mined, f"the same node counts {mined} mined transactions"
            )
        ours = 0
        if node - mined > NONCE_SLACK:
            ours = len(self.repo.open_nonces(self.chain_id, sender, mined, node))
        if node - mined - ours > NONCE_SLACK:
            raise SuspiciousNonce(
                sender, node, mined + ours,
                f"it has mined only {mined} and this home knows of {ours} pending in between",
            )  # fmt: skip
        highest = self.repo.highest_settled(self.chain_id, sender)
        if highest is None:
            return node
        settled, settled_hash = highest
        far = mined - (settled + 1) > NONCE_SLACK
        if far:
            ours = len(self.repo.open_nonces(self.chain_id, sender, settled + 1, mined))
            far = mined - (settled + 1) - ours > NONCE_SLACK
        if (node <= settled or far) and self._still_mined(settled_hash):
            # Only a contradiction while the node still holds that transaction: a devnet
            # started afresh (or a reorg deeper than it) has forgotten it, and then its count
            # is the truth of the new chain (the gap logic of _allocate_nonce takes over).
            if node <= settled:
                raise SuspiciousNonce(
                    sender, node, settled + 1,
                    f"this home saw its transaction at nonce {settled} mined, and the node "
                    "still has its receipt",
                )  # fmt: skip
            raise SuspiciousNonce(
                sender, mined, settled + 1 + ours,
                f"it counts {mined} mined transactions while this home saw its own mined up "
                f"to nonce {settled} (and knows of {ours} pending after it)",
            )  # fmt: skip
        return node

    def _still_mined(self, tx_hash: str) -> bool:
        receipt = self.rpc.get_transaction_receipt(tx_hash)
        return receipt is not None and receipt.get("blockNumber") is not None

    # -- sending ------------------------------------------------------------------------------

    def _sign_and_record(
        self, conn: Any, account: str, signer: Any, plan: TxPlan
    ) -> tuple[TxRecord, Any]:
        nonce = self._allocate_nonce(conn, plan.sender, plan.nonce)
        return self._sign_into(conn, signer, plan, nonce)

    def _sign_into(self, conn: Any, signer: Any, plan: TxPlan, nonce: int) -> tuple[TxRecord, Any]:
        """Sign ``plan`` at ``nonce`` and record it as 'signed' (inside ``conn``'s transaction)."""
        signed = signer.sign_transaction(plan.tx_dict(nonce))
        record = TxRecord(
            hash=signed.hash.lower(),
            chain_id=self.chain_id,
            sender=plan.sender,
            nonce=nonce,
            recipient=plan.to,
            value=plan.value,
            tx_type=plan.tx_type,
            gas_limit=plan.gas_limit,
            max_fee=plan.max_fee,
            priority_fee=plan.priority_fee,
            gas_price=plan.gas_price,
            data=plan.data,
            raw=signed.raw,
            status="signed",
            kind=plan.kind,
            note=plan.note,
        )
        TxRepo.insert(conn, record)
        return record, signed

    def _signer(self, account: str, expected: str) -> Any:
        if self._signer_for is None:
            raise ChainError("no signer available")
        signer = self._signer_for(account)
        if to_checksum_address(signer.address) != expected:
            raise ChainError("the signer does not match the sending account")
        return signer

    def send(
        self,
        account: str,
        sender: str,
        req: SendRequest,
        *,
        confirm: Callable[[TxPlan], None] | None = None,
        wait: bool = True,
        confirmations: int = 1,
        timeout: float = 120.0,
        progress: Callable[[str], None] | None = None,
    ) -> SendResult:
        """Plan, confirm, sign, record, broadcast, and (unless ``wait=False``) wait.

        ``confirm(plan)`` raises (e.g. Aborted) to stop before signing.

        Raises:
            ChainIdMismatch, ContractReverted, ChainError, RpcError, Aborted.
        """
        plan = self.plan(sender, req)
        if confirm is not None:
            confirm(plan)
        signer = self._signer(account, plan.sender)
        self.check_chain()
        self._recovered = []
        with contextlib.ExitStack() as broadcasting:
            with self.store.transaction() as conn:
                record, _signed = self._sign_and_record(conn, account, signer, plan)
                broadcasting.enter_context(self.inflight.held())
            self._broadcast(record)
        recovered = tuple(self._recovered)
        if not wait:
            return SendResult(record.hash, record.nonce, "pending", plan, recovered=recovered)
        status, receipt, confs = self.wait(
            record.hash, confirmations=confirmations, timeout=timeout, progress=progress
        )
        return SendResult(record.hash, record.nonce, status, plan, receipt, confs, recovered)

    def _broadcast(self, record: TxRecord) -> None:
        """Send the raw transaction; record the outcome. Raises ChainError/RpcError."""
        try:
            self.rpc.send_raw_transaction(record.raw)
        except RpcError as exc:
            message = str(exc).lower()
            if "already known" in message or "already imported" in message:
                pass
            elif exc.response is None:
                # Transport failure: the node may or may not have it. Keep it 'signed'; the
                # next command re-checks and re-broadcasts (_send_orphans, reconcile).
                raise RpcError(
                    f"{exc}; transaction {record.hash} (nonce {record.nonce}) is signed and "
                    "kept: the next send from this account, or `walletim tx history`, "
                    "broadcasts it (`walletim tx cancel` replaces it)",
                    method=exc.method,
                ) from exc
            elif self._node_holds([record.hash]):
                # An earlier attempt got through and its answer was lost (the client retried
                # across a node restart): "nonce too low" here is this very transaction.
                pass
            else:
                with self.store.transaction() as conn:
                    TxRepo.set_status(conn, record.hash, "dropped")
                    if "nonce too low" not in message:
                        # The nonce was never used on chain: hand it out again.
                        current = TxRepo.next_nonce(conn, self.chain_id, record.sender)
                        if current == record.nonce + 1:
                            TxRepo.set_next_nonce(conn, self.chain_id, record.sender, record.nonce)
                raise ChainError(f"the node rejected the transaction: {exc}") from exc
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE transactions SET status = 'pending' WHERE hash = ? AND status = 'signed'",
                (record.hash,),
            )

    # -- tracking -----------------------------------------------------------------------------

    def _receipt_record(self, tx_hash: str, receipt: dict[str, Any]) -> ReceiptRecord:
        return ReceiptRecord(
            hash=tx_hash,
            chain_id=self.chain_id,
            block_number=quantity(receipt["blockNumber"], "receipt.blockNumber"),
            block_hash=str(receipt["blockHash"]),
            status=quantity(receipt.get("status", "0x1"), "receipt.status"),
            gas_used=quantity(receipt["gasUsed"], "receipt.gasUsed"),
            effective_gas_price=(
                quantity(receipt["effectiveGasPrice"], "receipt.effectiveGasPrice")
                if receipt.get("effectiveGasPrice")
                else None
            ),
            contract_address=receipt.get("contractAddress"),
            logs=list(receipt.get("logs") or []),
        )

    def _record_mined(self, rec: TxRecord, receipt: ReceiptRecord) -> str:
        with self.store.transaction() as conn:
            return self._record_mined_in(conn, rec, receipt)

    def _record_mined_in(
        self, conn: Any, rec: TxRecord, receipt: ReceiptRecord, *, settle: bool = True
    ) -> str:
        """Store a receipt and the statuses it implies (inside the caller's transaction).

        With ``settle=False`` the caller marks replaced transactions itself afterwards
        (``TxRepo.settle_replaced``), once for many receipts."""
        status = "mined" if receipt.status == 1 else "failed"
        TxRepo.save_receipt(conn, receipt)
        TxRepo.set_status(
            conn,
            rec.hash,
            status,
            block_number=receipt.block_number,
            block_hash=receipt.block_hash,
        )
        if settle:
            for other in self.repo.at_nonce(self.chain_id, rec.sender, rec.nonce):
                if other.hash != rec.hash and other.status in ("signed", "pending", "dropped"):
                    TxRepo.set_status(conn, other.hash, "replaced", replaced_by=rec.hash)
        return status

    def refresh(self, tx_hash: str) -> TxRecord:
        """Bring one stored transaction up to date with the chain. Raises InputError if unknown."""
        rec = self.repo.get(tx_hash)
        if rec is None:
            raise InputError(f"transaction {tx_hash[:70]} is not in this home's history")
        self.check_chain()
        self._refresh(rec)
        updated = self.repo.get(rec.hash)
        assert updated is not None
        return updated

    def _poll(self, tx_hash: str) -> tuple[TxRecord, int]:
        """:meth:`refresh` and the node's head, asked in one round trip."""
        rec = self.repo.get(tx_hash)
        if rec is None:
            raise InputError(f"transaction {tx_hash[:70]} is not in this home's history")
        self.check_chain()
        receipt, head = self.rpc.batch(
            [("eth_getTransactionReceipt", [rec.hash]), ("eth_blockNumber", [])]
        )
        self._refresh(rec, _answer(receipt))
        updated = self.repo.get(rec.hash)
        assert updated is not None
        return updated, quantity(_answer(head), "eth_blockNumber")

    def _refresh(self, rec: TxRecord, receipt: Any = False) -> None:
        """``receipt``: the node's answer when already asked (False: ask now)."""
        if receipt is False:
            receipt = self.rpc.get_transaction_receipt(rec.hash)
        if receipt is not None and receipt.get("blockNumber"):
            stored = self.repo.receipt(rec.hash)
            record = self._receipt_record(rec.hash, receipt)
            if (
                stored is None
                or stored.block_hash != record.block_hash
                or rec.status not in ("mined", "failed")
            ):
                self._record_mined(rec, record)
            return
        if rec.status in ("mined", "failed"):
            # Its block left the canonical chain (reorg): forget the receipt and re-check.
            with self.store.transaction() as conn:
                TxRepo.delete_receipt(conn, rec.hash)
                TxRepo.set_status(conn, rec.hash, "pending")
            rec = replace(rec, status="pending", block_number=None, block_hash=None)
        if rec.status not in ("signed", "pending"):
            return
        if self.rpc.get_transaction(rec.hash) is not None:
            if rec.status == "signed":
                with self.store.transaction() as conn:
                    TxRepo.set_status(conn, rec.hash, "pending")
            return
        latest = self.rpc.get_transaction_count(rec.sender, "latest")
        if latest > rec.nonce:
            # The nonce was used by another transaction.
            winner = next(
                (
                    o
                    for o in self.repo.at_nonce(self.chain_id, rec.sender, rec.nonce)
                    if o.hash != rec.hash and o.status == "mined"
                ),
                None,
            )
            with self.store.transaction() as conn:
                TxRepo.set_status(
                    conn, rec.hash, "replaced", replaced_by=winner.hash if winner else None
                )
            return
        # The node does not know it and its nonce is unused: re-broadcast what we signed
        # (after a node restart or a reorg), else it stays dropped.
        try:
            self.rpc.send_raw_transaction(rec.raw)
            with self.store.transaction() as conn:
                TxRepo.set_status(conn, rec.hash, "pending")
        except RpcError as exc:
            if exc.response is None:
                raise
            with self.store.transaction() as conn:
                TxRepo.set_status(conn, rec.hash, "dropped")

    def reconcile(self, sender: str | None = None) -> list[TxRecord]:
        """Re-check every open transaction and the receipts of recent blocks (reorgs).

        Returns the transactions whose status or block changed.
        """
        self.check_chain()
        before = {
            r.hash: (r.status, r.block_hash)
            for r in self.repo.open_transactions(self.chain_id, sender)
        }
        head = self.rpc.block_number()
        recent = self.repo.mined_since(self.chain_id, max(0, head - REORG_DEPTH))
        for rec in recent:
            if sender and rec.sender != sender:
                continue
            block = (
                self.rpc.get_block(rec.block_number or 0) if rec.block_number is not None else None
            )
            if block is None or block.get("hash") != rec.block_hash:
                before.setdefault(rec.hash, (rec.status, rec.block_hash))
                self._refresh(rec)
        for rec in self.repo.open_transactions(self.chain_id, sender):
            self._refresh(rec)
        changed = []
        for tx_hash, old in before.items():
            now = self.repo.get(tx_hash)
            if now is not None and (now.status, now.block_hash) != old:
                changed.append(now)
        return changed

    def wait(
        self,
        tx_hash: str,
        *,
        confirmations: int = 1,
        timeout: float = 120.0,
        progress: Callable[[str], None] | None = None,
    ) -> tuple[str, ReceiptRecord | None, int]:
        """Poll until mined with ``confirmations`` blocks (or failed/dropped/replaced).

        Returns (status, receipt, confirmations seen). Polls quickly at first (25 ms, backing
        off to 1 s). On timeout the transaction stays pending and tracked.
        """
        deadline = self._clock() + timeout
        delay = 0.025
        while True:
            rec, head = self._poll(tx_hash)
            if rec.status in ("mined", "failed"):
                receipt = self.repo.receipt(rec.hash)
                seen = head - (rec.block_number or head) + 1
                if seen >= confirmations:
                    return rec.status, receipt, seen
                if progress:
                    progress(
                        f"{rec.status} in block {rec.block_number}; "
                        f"{seen}/{confirmations} confirmations"
                    )
            elif rec.status in ("dropped", "replaced"):
                return rec.status, None, 0
            elif progress:
                progress(f"pending (nonce {rec.nonce})")
            if self._clock() >= deadline:
                return "pending", None, 0
            self._sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def history(self, sender: str | None = None, limit: int = 100) -> list[TxRecord]:
        return self.repo.history(
            self.chain_id, to_checksum_address(sender) if sender else None, limit
        )

    # -- replacement ---------------------------------------------------------------------------

    def _replacement_fees(
        self, rec: TxRecord, bump_percent: float
    ) -> tuple[int | None, int | None, int | None]:
        if bump_percent < NODE_MIN_BUMP_PERCENT:
            raise InputError(
                f"the bump must be at least {NODE_MIN_BUMP_PERCENT:g}% (the node's minimum)"
            )
        if rec.tx_type == 2:
            assert rec.max_fee is not None and rec.priority_fee is not None
            tip = feepolicy.bump(rec.priority_fee, bump_percent, NODE_MIN_BUMP_PERCENT)
            max_fee = feepolicy.bump(rec.max_fee, bump_percent, NODE_MIN_BUMP_PERCENT)
            try:
                current = self._suggest()["normal"]
                # An absurd suggestion is ignored here (SuggestedFeeTooHigh is a ChainError):
                # the replacement then pays the bump over its own fees, nothing more.
                feepolicy.check_suggested("max fee", current.max_fee_per_gas)
                tip = max(tip, current.max_priority_fee_per_gas)
                max_fee = max(max_fee, current.max_fee_per_gas, tip)
            except ChainError:
                pass
            return max_fee, tip, None
        assert rec.gas_price is not None
        return None, None, feepolicy.bump(rec.gas_price, bump_percent, NODE_MIN_BUMP_PERCENT)

    def _replace(
        self,
        rec: TxRecord,
        account: str,
        *,
        cancel: bool,
        bump_percent: float,
        confirm: Callable[[TxPlan], None] | None,
    ) -> TxRecord:
        self.check_chain()
        self._refresh(rec)
        fresh = self.repo.get(rec.hash)
        assert fresh is not None
        if fresh.status in ("mined", "failed"):
            raise ChainError(
                f"transaction {rec.hash} is already mined in block {fresh.block_number}"
            )
        if self.rpc.get_transaction_count(rec.sender, "latest") > rec.nonce:
            raise ChainError(f"nonce {rec.nonce} of {rec.sender} is already used on chain")
        max_fee, tip, gas_price = self._replacement_fees(rec, bump_percent)
        plan = TxPlan(
            self.network.name,
            self.chain_id,
            rec.sender,
            rec.sender if cancel else rec.recipient,
            0 if cancel else rec.value,
            b"" if cancel else rec.data,
            rec.nonce,
            21_000 if cancel else rec.gas_limit,
            rec.tx_type if rec.tx_type == 2 else 0,
            max_fee,
            tip,
            gas_price,
            "cancel" if cancel else "speedup",
            f"replaces {rec.hash}",
        )
        feepolicy.check_fee_cap(
            plan.gas_limit, plan.max_fee or plan.gas_price or 0, self.network.fee_cap_wei
        )
        if confirm is not None:
            confirm(plan)
        signer = self._signer(account, rec.sender)
        with contextlib.ExitStack() as broadcasting:
            with self.store.transaction() as conn:
                new, _signed = self._sign_into(conn, signer, plan, rec.nonce)
                broadcasting.enter_context(self.inflight.held())
            self._broadcast(new)
        return new

    def speedup(
        self,
        tx_hash: str,
        account_for: Callable[[str], str],
        *,
        bump_percent: float = DEFAULT_BUMP_PERCENT,
        confirm: Callable[[TxPlan], None] | None = None,
    ) -> TxRecord:
        """Re-send a pending transaction at the same nonce with both fees raised.

        ``account_for(address)`` names the wallet account that holds the sender's key.
        """
        rec = self._get(tx_hash)
        return self._replace(
            rec, account_for(rec.sender), cancel=False, bump_percent=bump_percent, confirm=confirm
        )

    def cancel(
        self,
        tx_hash: str | None,
        account_for: Callable[[str], str],
        *,
        sender: str | None = None,
        nonce: int | None = None,
        bump_percent: float = DEFAULT_BUMP_PERCENT,
        confirm: Callable[[TxPlan], None] | None = None,
    ) -> TxRecord:
        """Replace a pending transaction (by hash, or by sender and nonce) with a zero-value
        self-transfer at the same nonce."""
        if tx_hash is not None:
            rec = self._get(tx_hash)
        else:
            if sender is None or nonce is None:
                raise InputError("give a transaction hash, or --from and --nonce")
            candidates = [
                r
                for r in self.repo.at_nonce(self.chain_id, to_checksum_address(sender), nonce)
                if r.status in ("signed", "pending")
            ]
            if not candidates:
                raise InputError(
                    f"no pending transaction of {sender} at nonce {nonce} in this home"
                )
            rec = candidates[-1]
        return self._replace(
            rec, account_for(rec.sender), cancel=True, bump_percent=bump_percent, confirm=confirm
        )

    def _get(self, tx_hash: str) -> TxRecord:
        rec = self.repo.get(tx_hash)
        if rec is None:
            raise InputError(f"transaction {tx_hash[:70]} is not in this home's history")
        return rec

    # -- batches -------------------------------------------------------------------------------

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
    ) -> list[BatchResult]:
        """Sign and pipeline many transfers; each row is paid exactly once per ``batch_id``,
        even across a crash and a rerun.

        Rows already recorded for this batch are not signed again (their stored transaction
        is re-checked, and re-broadcast if the node lost it).
        """
        self.check_chain()
        sender = to_checksum_address(sender)
        if len(rows) > MAX_BATCH_ROWS:
            raise InputError(f"a batch has at most {MAX_BATCH_ROWS} rows")
        done = self.repo.batch_rows(batch_id)
        known: dict[str, TxRecord] = {}
        todo = [r for r in rows if r.row not in done]
        results: dict[int, BatchResult] = {}
        for r in rows:
            if r.row in done:
                results[r.row] = BatchResult(
                    r.row, r.to, r.value, r.token, done[r.row], "pending", already_sent=True
                )
        self._recheck_sent([res for res in results.values() if res.hash])
        if todo:
            signer = self._signer(account, sender)
            suggestion = self._suggest()[fee_level]
            feepolicy.check_suggested("priority fee", suggestion.max_priority_fee_per_gas)
            feepolicy.check_suggested("max fee", suggestion.max_fee_per_gas)
            calls: list[tuple[str, Sequence[Any]]] = []
            payloads: list[tuple[str, bytes, int]] = []
            for r in todo:
                to, data, value = self._row_call(r)
                payloads.append((to, data, value))
                calls.append(
                    (
                        "eth_estimateGas",
                        [
                            {
                                "from": sender,
                                "to": to,
                                "value": hex(value),
                                "data": "0x" + data.hex(),
                            }
                        ],
                    )
                )
            estimates = self.rpc.batch(calls)
            plans: list[tuple[BatchRow, TxPlan]] = []
            for r, (to, data, value), est in zip(todo, payloads, estimates, strict=True):
                if isinstance(est, RpcError):
                    reverted = _revert_from(est)
                    results[r.row] = BatchResult(
                        r.row, r.to, r.value, r.token, None, "rejected", str(reverted or est)
                    )
                    continue
                gas = quantity(est, "eth_estimateGas")
                plan = TxPlan(
                    self.network.name,
                    self.chain_id,
                    sender,
                    to,
                    value,
                    data,
                    None,
                    self._contract_gas(gas) if data else gas,
                    2,
                    suggestion.max_fee_per_gas,
                    suggestion.max_priority_fee_per_gas,
                    None,
                    "batch",
                    f"batch {batch_id[:12]} row {r.row}",
                )
                feepolicy.check_fee_cap(plan.gas_limit, plan.max_fee or 0, self.network.fee_cap_wei)
                plans.append((r, plan))
            total = sum(p.value + p.max_total_fee for _r, p in plans if p.data == b"") + sum(
                p.max_total_fee for _r, p in plans if p.data
            )
            balance = self.rpc.get_balance(sender, "pending")
            if balance < total:
                from walletim.chain.units import format_amount

                raise ChainError(
                    f"insufficient funds for the batch: needs up to {format_amount(total)} ETH, "
                    f"{sender} has {format_amount(balance)} ETH; nothing was signed"
                )
            records: list[tuple[BatchRow, TxRecord]] = []
            with contextlib.ExitStack() as broadcasting:
                with self.store.transaction() as conn:
                    first: int | None = None
                    for n, (r, plan) in enumerate(plans):
                        if first is None:
                            first = self._allocate_nonce(conn, sender, None)
                            TxRepo.set_next_nonce(conn, self.chain_id, sender, first)
                        record, _ = self._sign_and_record(
                            conn, account, signer, replace(plan, nonce=first + n)
                        )
                        TxRepo.insert_batch_row(
                            conn,
                            batch_id,
                            r.row,
                            self.chain_id,
                            sender,
                            r.to,
                            r.value,
                            r.token,
                            record.hash,
                        )
                        records.append((r, record))
                    broadcasting.enter_context(self.inflight.held())
                outcomes = self._broadcast_all([rec for _r, rec in records])
                accepted: list[str] = []
                with self.store.transaction() as conn:
                    for (r, rec), outcome in zip(records, outcomes, strict=True):
                        if outcome is not None:
                            if outcome.response is None:
                                results[r.row] = BatchResult(
                                    r.row, r.to, r.value, r.token, rec.hash, "signed", str(outcome)
                                )
                                continue
                            TxRepo.set_status(conn, rec.hash, "dropped")
                            results[r.row] = BatchResult(
                                r.row, r.to, r.value, r.token, rec.hash, "dropped", str(outcome)
                            )
                        else:
                            accepted.append(rec.hash)
                            results[r.row] = BatchResult(
                                r.row, r.to, r.value, r.token, rec.hash, "pending"
                            )
                    TxRepo.mark_pending(conn, accepted)
            known.update({rec.hash: rec for _r, rec in records})
        if wait:
            self._wait_many([res for res in results.values() if res.hash], timeout, known)
        return [results[r.row] for r in rows]

    def _recheck_sent(self, results: list[BatchResult]) -> None:
        """Bring the transactions of rows an earlier run recorded up to date before anything
        waits for them: one the node never got (the run was killed between recording and
        broadcasting, or the node restarted and forgot it) is broadcast again, as signed, at
        its nonce, so it is never paid twice and waiting for it cannot hang."""
        if not results:
            return
        receipts = self.rpc.batch([("eth_getTransactionReceipt", [res.hash]) for res in results])
        mined: list[BatchResult] = []
        for res, receipt in zip(results, receipts, strict=True):
            if isinstance(receipt, RpcError):
                raise receipt
            if isinstance(receipt, dict) and receipt.get("blockNumber"):
                mined.append(res)
            else:
                assert res.hash is not None
                res.status = self.refresh(res.hash).status
        self._wait_many(mined, 0.0)  # records their receipts, in one commit

    def _node_holds(self, hashes: list[str]) -> set[str]:
        """Which of ``hashes`` the node has, pending or mined. Raises RpcError."""
        found = self.rpc.batch([("eth_getTransactionByHash", [h]) for h in hashes])
        for answer in found:
            if isinstance(answer, RpcError):
                raise answer
        return {h for h, answer in zip(hashes, found, strict=True) if answer is not None}

    def _row_call(self, r: BatchRow) -> tuple[str, bytes, int]:
        to = to_checksum_address(r.to)
        if r.token is None:
            return to, b"", r.value
        return to_checksum_address(r.token), token_transfer_data(to, r.value), 0

    def _wait_many(
        self, results: list[BatchResult], timeout: float, known: dict[str, TxRecord] | None = None
    ) -> None:
        known = known or {}
        deadline = self._clock() + timeout
        next_check = self._clock() + LOST_CHECK_SECONDS
        delay = 0.025
        open_results = [r for r in results if r.status not in ("rejected", "dropped", "replaced")]
        while open_results:
            hashes = [r.hash for r in open_results if r.hash]
            receipts = self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
            still: list[BatchResult] = []
            mined: list[tuple[BatchResult, dict[str, Any]]] = []
            for res, receipt in zip(open_results, receipts, strict=True):
                if isinstance(receipt, dict) and receipt.get("blockNumber"):
                    mined.append((res, receipt))
                else:
                    still.append(res)
            if mined:
                # One durable commit for every receipt of this poll, not one per transaction.
                with self.store.transaction() as conn:
                    senders = set()
                    records: list[ReceiptRecord] = []
                    for res, receipt in mined:
                        assert res.hash is not None
                        rec = known.get(res.hash) or self._get(res.hash)
                        senders.add(rec.sender)
                        record = self._receipt_record(rec.hash, receipt)
                        records.append(record)
                        res.status = "mined" if record.status == 1 else "failed"
                    TxRepo.save_receipts(conn, records)
                    for sender in senders:
                        TxRepo.settle_replaced(conn, self.chain_id, sender)
            open_results = still
            if not open_results:
                return
            if self._clock() >= deadline:
                for res in open_results:
                    assert res.hash is not None
                    res.status = self.refresh(res.hash).status
                return
            if self._clock() >= next_check:
                open_results = self._recover_lost(open_results)
                next_check = self._clock() + LOST_CHECK_SECONDS
            self._sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def _recover_lost(self, results: list[BatchResult]) -> list[BatchResult]:
        """While waiting: transactions the node no longer holds (it restarted, or dropped
        them) are re-checked (``_refresh``: broadcast again as signed, at their nonce, or
        found replaced) instead of being waited for until the timeout. Returns those still
        to wait for."""
        held = self._node_holds([r.hash for r in results if r.hash])
        still: list[BatchResult] = []
        for res in results:
            assert res.hash is not None
            if res.hash not in held:
                self._refresh(self._get(res.hash))
                res.status = self._get(res.hash).status
            if res.status in ("signed", "pending"):
                still.append(res)
        return still


def token_transfer_data(to: str, value: int) -> bytes:
    """Calldata of ERC-20 ``transfer(to, value)`` (value in the token's base units)."""
    from eth_abi.abi import encode

    return TRANSFER_SELECTOR + encode(["address", "uint256"], [to_checksum_address(to), value])


def token_decimals(rpc: RpcClient, token: str) -> int:
    """``decimals()`` of an ERC-20 token. Raises InputError if it does not answer sanely."""
    try:
        raw = rpc.call(
            "eth_call", [{"to": to_checksum_address(token), "data": "0x313ce567"}, "latest"]
        )
        decimals = quantity(raw, "decimals()")
    except (RpcError, ValueError) as exc:
        raise InputError(f"{token} does not answer decimals(): is it an ERC-20 token?") from exc
    if decimals > 77:
        raise InputError(f"{token} reports {decimals} decimals; refusing")
    return decimals


def token_balance(rpc: RpcClient, token: str, holder: str) -> int:
    """ERC-20 ``balanceOf(holder)`` in the token's base units. Raises InputError."""
    from eth_abi.abi import encode

    data = "0x70a08231" + encode(["address"], [to_checksum_address(holder)]).hex()
    try:
        return quantity(
            rpc.call("eth_call", [{"to": to_checksum_address(token), "data": data}, "latest"]),
            "balanceOf()",
        )
    except (RpcError, ValueError) as exc:
        raise InputError(f"{token} does not answer balanceOf(): is it an ERC-20 token?") from exc


def token_symbol(rpc: RpcClient, token: str) -> str:
    """``symbol()`` of a token (string or bytes32 ABI), or "" if it has none."""
    from eth_abi.abi import decode

    try:
        raw = rpc.call(
            "eth_call", [{"to": to_checksum_address(token), "data": "0x95d89b41"}, "latest"]
        )
        data = bytes.fromhex(str(raw)[2:])
        if len(data) == 32:
            return data.rstrip(b"\0").decode("utf-8", "replace")[:32]
        return str(decode(["string"], data)[0])[:32]
    except Exception:  # a token without a sane symbol() is still a token
        return ""


def parse_batch_csv(
    text: str, *, parse_value: Callable[[str, str | None], int], resolve: Callable[[str], str]
) -> list[BatchRow]:
    """Parse ``to,amount[,token]`` lines (an optional header line is skipped).

    ``parse_value(amount_text, token)`` turns an amount into base units; ``resolve`` turns a
    name or address into a checksummed address.

    Raises:
        InputError: naming the line of the first malformed row.
    """
    rows: list[BatchRow] = []
    reader = csv.reader(io.StringIO(text, newline=""))  # "" as csv wants: \r, \r\n, \n
    records = enumerate(reader, start=1)
    while True:
        try:
            line_no, fields = next(records)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a NUL byte, a field over the csv module's limit
            raise InputError(f"batch line {reader.line_num}: not CSV ({exc})") from exc
        cells = [c.strip() for c in fields]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if line_no == 1 and cells[0].lower() in ("to", "address", "recipient"):
            continue
        if len(cells) not in (2, 3):
            raise InputError(f"batch line {line_no}: expected to,amount[,token]")
        token = cells[2] if len(cells) == 3 and cells[2] else None
        try:
            to = resolve(cells[0])
            value = parse_value(cells[1], token)
        except InputError as exc:
            raise InputError(f"batch line {line_no}: {exc}") from exc
        if value <= 0:
            raise InputError(f"batch line {line_no}: the amount must be positive")
        rows.append(BatchRow(line_no, to, value, token))
    if not rows:
        raise InputError("the batch file has no rows")
    return rows


def batch_id_for(chain_id: int, sender: str, content: bytes) -> str:
    """A stable id for one batch file sent by one account on one chain."""
    return hashlib.sha256(f"{chain_id}:{sender}:".encode() + content).hexdigest()
