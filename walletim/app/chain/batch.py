"""``send --batch``: many transfers signed and pipelined, each row paid exactly once per
batch id, even across a crash and a rerun.

Rows already recorded for a batch are not signed again (their stored transaction is
re-checked, and re-broadcast if the node lost it) unless it never made it on chain and never
can: refused at broadcast or dropped, not mined, not pending, and neither is another of this
home's transactions at its nonce making the same call (a speed-up). Such a row is paid again
at its own nonce while that is unused (only one of the two can ever be mined), or at a new
one once another transaction used it; one whose nonce another transaction holds in the
node's pool waits for it (:meth:`BatchSender._unpaid`).

The rest are estimated in one round trip with the ETH and token balances, checked against
the fee cap and the funds (ETH and each token's total) together, shown (``confirm``),
recorded with consecutive nonces in one store transaction, broadcast in one round trip and
waited for together.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from walletim.app.chain.batch_file import batch_id_for, content_batch_id, paying
from walletim.app.chain.broadcast import Broadcaster, sign_into
from walletim.app.chain.model import (
    BatchPlan,
    BatchResult,
    BatchRow,
    SendRequest,
    TokenTotal,
    TxPlan,
    Until,
)
from walletim.app.chain.nonces import NonceKeeper
from walletim.app.chain.planning import Planner, signing_checked
from walletim.app.chain.ports import Chain, ChainPart, Signer
from walletim.app.chain.tokens import (
    answers_false,
    balance_of_data,
    read_balances,
    token_transfer_data,
)
from walletim.app.chain.tracking import OPEN, SETTLED, Tracker
from walletim.chain import fees as policy
from walletim.chain.reverts import revert_from
from walletim.chain.rpc import Q, Query, Receipt, answered
from walletim.chain.units import format_amount
from walletim.errors import InputError, InsufficientFunds, RpcError
from walletim.keys.hd import to_checksum_address
from walletim.store.txs import GONE, Conn, TxRecord, TxRepo, TxStatus

MAX_BATCH_ROWS = 10_000


def _would_fail(estimate: object, returned: object, data: bytes) -> str | None:
    """Why a row would fail, or None: its estimate reverted, or its token transfer answers
    false (:func:`~walletim.app.chain.tokens.answers_false`: it would move nothing)."""
    if isinstance(estimate, RpcError):
        return str(revert_from(estimate) or estimate)
    if isinstance(returned, bytes) and answers_false(data, returned):
        return "the token answers false: the transfer would move nothing"
    return None


def row_call(r: BatchRow) -> tuple[str, int, bytes]:
    """(to, value, data) of a row: a transfer of ETH, or of a token's base units."""
    to = to_checksum_address(r.to)
    if r.token is None:
        return to, r.value, b""
    return to_checksum_address(r.token), 0, token_transfer_data(to, r.value)


class BatchSender(ChainPart):
    """Sends batches on one chain (see the module docstring), with the service's planner,
    nonces, broadcaster and tracker."""

    def __init__(
        self, chain: Chain, parts: tuple[Planner, NonceKeeper, Broadcaster, Tracker]
    ) -> None:
        super().__init__(chain)
        self.planner, self._nonces, self._broadcaster, self._tracker = parts

    def send(
        self,
        sender: str,
        batch_id: str,
        rows: Sequence[BatchRow],
        signer: Callable[[], Signer],
        *,
        how: SendRequest,
        until: Until | None,
        confirm: Callable[[BatchPlan], None] | None = None,
        units: Mapping[str, tuple[str, int]] | None = None,
        allowed: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> list[BatchResult]:
        """``how``: the fee choices and fee cap every row is signed with (its recipient,
        value, nonce and gas limit are not used: each row has its own); ``until``: how deep
        and how long to wait for the rows (None: return once broadcast); ``confirm(plan)``
        sees what is about to be signed, every check passed, and raises to stop; ``units``:
        each token's (symbol, decimals) by address, for what is shown; ``allowed(txs)`` raises
        (PolicyRefused) when the agent's policy would refuse one of them, or all of them
        together: checked whole before anything is signed, so a batch does not stop half-way
        with its daily cap spent."""
        if len(rows) > MAX_BATCH_ROWS:
            raise InputError(f"a batch has at most {MAX_BATCH_ROWS} rows")
        done = self.repo().batch_rows(batch_id)
        _same_payments(self.repo().batch_payments(batch_id), rows)
        results = {
            r.row: BatchResult(
                r.row, r.to, r.value, r.token, done[r.row], "pending", already_sent=True
            )
            for r in rows
            if r.row in done
        }
        self._tracker.recheck_sent([res for res in results.values() if res.hash])
        again = self._unpaid((sender, batch_id), [res for res in results.values() if res.hash])
        todo = [r for r in rows if r.row not in done or r.row in again]
        known: dict[str, TxRecord] = {}
        if todo:
            key = signer()  # the account must hold the sender's key before anything is asked
            plans, shown = self._plan((sender, batch_id), todo, how, results, units or {})
            if plans and allowed is not None:
                allowed([dict(p.tx_dict(0)) for _r, p in plans])  # the nonce is not checked
            if plans and confirm is not None:
                paid_again = sum(1 for r, _p in plans if r.row in again)
                confirm(replace(shown, already=len(done) - len(again), again=paid_again))
            with contextlib.ExitStack() as broadcasting:
                records = self._record((sender, batch_id), plans, key, broadcasting, again)
                self._broadcast(records, results)
            known = {rec.hash: rec for _r, rec in records}
            for r, rec in records:
                earlier = again[r.row].hash if r.row in again else None
                results[r.row].replaces = earlier if earlier != rec.hash else None
        if until is not None:
            waited = [res for res in results.values() if res.hash and not res.elsewhere]
            self._tracker.wait_many(waited, until.timeout, known, until.confirmations)
        return [results[r.row] for r in rows]

    def id_for(self, sender: str, rows: Sequence[BatchRow], content: bytes) -> str:
        """The id a batch file's ``rows`` are paid under (each row once per id): its rows'
        (:func:`~walletim.app.chain.batch_file.batch_id_for`), or the id of the file's
        bytes an earlier walletim recorded exactly these rows under (a batch begun then is
        not paid again now)."""
        new = batch_id_for(self.chain_id, sender, rows)
        old = content_batch_id(self.chain_id, sender, content)
        repo = self.repo()
        stored = {} if repo.batch_rows(new) else repo.batch_payments(old)
        pays = {r.row: paying(r.to, r.value, r.token) for r in rows}
        mine = bool(stored) and all(paying(*p) == pays.get(row) for row, p in stored.items())
        return old if mine else new

    def _plan(
        self,
        batch: tuple[str, str],
        todo: Sequence[BatchRow],
        how: SendRequest,
        results: dict[int, BatchResult],
        units: Mapping[str, tuple[str, int]],
    ) -> tuple[list[tuple[BatchRow, TxPlan]], BatchPlan]:
        """Estimate every row and read the ETH and token balances and what the fees need,
        in one round trip; rows that would revert are rejected. Then the fee cap of each
        transaction, and the funds for all of them: ETH for the values and the most the
        fees can cost, each token's total against its balance. ``batch``: (sender, batch
        id). Raises ChainError, InsufficientFunds (nothing signed)."""
        sender, batch_id = batch
        calls = [row_call(r) for r in todo]
        tokens = sorted({r.token for r in todo if r.token is not None})
        reads = self.planner.fee_reads(how)
        base = self.planner.base_fee_read(how, reads)
        answers, ahead, dry = self._ask(sender, todo, calls, tokens, reads[1] or base)
        held = read_balances([(sender, t) for t in tokens], answers[1 : 1 + len(tokens)])
        balances = dict(zip(tokens, held, strict=True))
        # Every row's amount first, those that would revert too: a row past the balance is
        # the batch short of funds (exit 1, nothing signed), not a row rejected as it reverts.
        eth_values = sum(r.value for r in todo if r.token is None)
        self._check_funds(
            sender, answered(answers[0]), eth_values, _token_totals(todo, balances, units)
        )
        fees = self.planner.fees_read(how, reads, answers[ahead - 1])
        # A max fee given under the base fee: refused unless forced, as a single send's.
        risks = signing_checked(how, fees, None, reads[0] or answers[ahead - 1])
        network = self.planner.network
        cap = network.fee_cap_wei if how.fee_cap is None else how.fee_cap
        plans: list[tuple[BatchRow, TxPlan]] = []
        rejected: list[BatchResult] = []
        estimates = answers[ahead : ahead + len(calls)]
        returned = dict(zip(dry, answers[ahead + len(calls) :], strict=True))
        for n, (r, call, est) in enumerate(zip(todo, calls, estimates, strict=True)):
            why = _would_fail(est, returned.get(n), call[2])
            if why is not None:
                rejected.append(BatchResult(r.row, r.to, r.value, r.token, None, "rejected", why))
                results[r.row] = rejected[-1]
                continue
            plan = TxPlan.of(
                network.name, self.chain_id, sender, call, nonce=None,
                gas_limit=self.planner.gas_limit(answered(est), call[2]), fees=fees, kind="batch",
                note=f"batch {batch_id[:12]} row {r.row}",
            )  # fmt: skip
            policy.check_fee_cap(plan.gas_limit, plan.fees, cap)
            plans.append((r, plan))
        totals = _token_totals([r for r, _p in plans], balances, units)
        shown = BatchPlan(
            sender, len(plans), 0, 0, tuple(rejected),
            sum(p.value for _r, p in plans), sum(1 for r, _p in plans if r.token is None),
            sum(p.max_total_fee for _r, p in plans), answered(answers[0]), totals, fees, cap,
            risks,
        )  # fmt: skip
        self._check_funds(sender, shown.eth_balance, shown.value + shown.max_fees, totals)
        return plans, shown

    def _ask(
        self,
        sender: str,
        todo: Sequence[BatchRow],
        calls: Sequence[tuple[str, int, bytes]],
        tokens: Sequence[str],
        fee_read: Query[Any] | None,
    ) -> tuple[list[Any], int, list[int]]:
        """One round trip: the ETH balance, each token's, the fee read, each row's gas
        estimate, and each token row's call (a transfer that answers false moves nothing yet
        succeeds). Returns the answers, how many come before the estimates, and the indexes
        of the token rows."""
        head: list[Query[Any]] = [
            Q.balance(sender, "pending"),
            *(Q.call(t, balance_of_data(sender), block="pending") for t in tokens),
            *([fee_read] if fee_read is not None else []),
        ]
        dry = [n for n, r in enumerate(todo) if r.token is not None]
        answers = self.rpc.gather_all(
            [
                *head,
                *(Q.estimate_gas(to, data, sender=sender, value=v) for to, v, data in calls),
                *(Q.call(calls[n][0], calls[n][2], sender=sender, block="pending") for n in dry),
            ]
        )
        return answers, len(head), dry

    def _check_funds(
        self, sender: str, eth: int, needed: int, tokens: Sequence[TokenTotal]
    ) -> None:
        """``needed`` wei (values, and the most the fees can cost once they are known) against
        ``eth``, each token's total against its balance. Raises InsufficientFunds (nothing is
        signed)."""
        self.planner.check_funds(sender, eth, needed, "the batch")
        for t in tokens:
            if t.balance < t.total:
                raise InsufficientFunds(
                    f"insufficient {t.symbol}: the batch's {t.rows} {t.symbol} rows need "
                    f"{format_amount(t.total, t.decimals)} {t.symbol}, {sender} has "
                    f"{format_amount(t.balance, t.decimals)} {t.symbol}; nothing was signed"
                )

    def _unpaid(self, batch: tuple[str, str], results: Sequence[BatchResult]) -> dict[int, Unpaid]:
        """The rows an earlier run recorded whose transaction never made it on chain and
        never can (refused at broadcast or dropped, not mined, not pending), to be paid
        again: at a new nonce once its nonce was used by another transaction (then it can
        never be mined), else at its own nonce (then only one of the two can be). A row
        that another of this home's transactions at its nonce carrying the same call (a
        speed-up, or the row signed again) paid or is paying follows that one instead; a
        row whose nonce another transaction holds in the node's pool waits (its error
        says so). Never a row that could still be mined: nothing is paid twice. A row paid
        on a chain that is gone (another genesis at this chain id: a devnet started afresh)
        is paid on this one at a new nonce: once per chain, as the batch id says."""
        sender, batch_id = batch
        lost = [res for res in results if res.status not in (*OPEN, *SETTLED)]
        if not lost:
            return {}
        repo = self.repo()
        records = {res.row: self._tracker.get(_hash(res)) for res in lost}
        same = {
            row: [o for o in repo.at_nonce(self.chain_id, sender, rec.nonce) if _same_call(o, rec)]
            for row, rec in records.items()
        }
        hashes = sorted({o.hash for found in same.values() for o in found})
        answers: list[Any] = self.rpc.gather_all(
            [Q.nonce(sender, "latest"), Q.nonce(sender, "pending"),
             *(Q.receipt(h) for h in hashes), *(Q.transaction(h) for h in hashes)]
        )  # fmt: skip
        latest, pending = answered(answers[0]), answered(answers[1])
        receipts, held = answers[2 : 2 + len(hashes)], answers[2 + len(hashes) :]
        alive = {
            h for h, receipt, tx in zip(hashes, receipts, held, strict=True)
            if answered(receipt) is not None or answered(tx) is not None
        }  # fmt: skip
        elsewhere = self._paid_elsewhere(records, latest)
        again: dict[int, Unpaid] = {}
        for res in lost:
            rec = records[res.row]
            paying = next((o for o in same[res.row] if o.hash in alive), None)
            if paying is not None:
                self._follow(batch_id, res, paying)
            elif res.row in elsewhere:
                (res.hash, res.block), res.status, res.elsewhere = elsewhere[res.row], "mined", True
                res.error = (
                    f"paid by {res.hash}, the same transfer signed elsewhere with this key at "
                    f"its nonce in another wallet (a speed-up, or the row sent again there) in "
                    f"place of {rec.hash}"
                )
            elif latest > rec.nonce or rec.status == GONE:
                again[res.row] = Unpaid(rec.hash, None)
            elif pending > rec.nonce:
                res.error = (
                    f"not paid: another transaction holds its nonce {rec.nonce} in the node's "
                    "pool; run the batch again once that one is mined (nothing is paid twice)"
                )
            else:
                again[res.row] = Unpaid(rec.hash, rec.nonce)
        return again

    def _paid_elsewhere(
        self, records: Mapping[int, TxRecord], latest: int
    ) -> dict[int, tuple[str, int]]:
        """The rows (with the hash and block of what paid them) whose nonce was used by a
        transaction making the same call that this key signed elsewhere (a speed-up in
        another wallet, or the row sent again there after the node dropped it), mined
        without failing: paid by it, never again. Its call is read from its signed bytes
        (:func:`~walletim.app.chain.replace.foreign_record`), not the node's word; asked
        only for rows whose nonce none of this home's used (``latest``: the sender's
        mined count)."""
        from walletim.app.chain.replace import foreign_record

        winners = self._winners_elsewhere(records, latest)
        hashes = sorted(set(winners.values()))
        asked: list[Any] = self.rpc.gather_all(
            [q for h in hashes for q in (Q.transaction(h), Q.receipt(h))]
        )
        paid: dict[int, tuple[str, int]] = {}
        for row, h in winners.items():
            n = 2 * hashes.index(h)
            tx, receipt = answered(asked[n]), answered(asked[n + 1])
            if tx is None or not isinstance(receipt, Receipt) or receipt.status == 0:
                continue
            with contextlib.suppress(InputError):  # a blob transaction: no transfer of ours
                if _same_call(foreign_record(self.chain_id, tx), records[row]):
                    paid[row] = (h, receipt.block_number)
        return paid

    def _winners_elsewhere(self, records: Mapping[int, TxRecord], latest: int) -> dict[int, str]:
        """Per row, the transaction this home did not sign that used its nonce: the one the
        tracker found replacing it, or (a dropped row's) the one the chain shows there."""
        repo, found = self.repo(), {}
        for row, rec in records.items():
            winner = rec.replaced_by if rec.status == "replaced" else None
            if winner is None and rec.status in ("dropped", "replaced") and latest > rec.nonce:
                winner = self._tracker.winner_on_chain(rec)
            if winner is not None and repo.get(winner) is None:
                found[row] = winner
        return found

    def _follow(self, batch_id: str, res: BatchResult, paying: TxRecord) -> None:
        """``res``'s row is paid by ``paying`` (the same call at its nonce): it is the
        row's transaction from now on."""
        with self.repo().transaction() as conn:
            TxRepo.repoint_batch_row(conn, batch_id, res.row, paying.hash)
        res.hash, res.status = paying.hash, self._tracker.refresh(paying).status

    def _nonces_for(
        self,
        conn: Conn,
        sender: str,
        plans: Sequence[tuple[BatchRow, TxPlan]],
        again: Mapping[int, Unpaid],
    ) -> list[int]:
        """The nonce of each plan: a row paid again at its own nonce keeps it, the others
        take consecutive nonces from the next one handed out, around those."""
        fixed = {r.row: again[r.row].nonce for r, _p in plans if r.row in again}
        taken = {n for n in fixed.values() if n is not None}
        out: list[int] = []
        candidate: int | None = None
        for r, _plan in plans:
            nonce = fixed.get(r.row)
            if nonce is None:
                if candidate is None:
                    candidate = self._nonces.allocate(conn, sender, None)
                    TxRepo.set_next_nonce(conn, self.chain_id, sender, candidate)
                while candidate in taken:
                    candidate += 1
                nonce, candidate = candidate, candidate + 1
            out.append(self._nonces.allocate(conn, sender, nonce))
        return out

    def _sign(self, conn: Conn, signer: Signer, plan: TxPlan, nonce: int) -> TxRecord:
        """``plan`` signed at ``nonce`` and recorded, for a row paid again; when this home
        signed the very same transaction before (same nonce, fields and fees: the same
        signature), that record, to be broadcast again as signed."""
        for prev in self.repo().at_nonce(self.chain_id, plan.sender, nonce):
            if _same_tx(prev, plan):
                TxRepo.set_status(conn, prev.hash, "signed")
                return replace(prev, status="signed")
        return sign_into(conn, self.chain_id, signer, plan, nonce)

    def _record(
        self,
        batch: tuple[str, str],
        plans: Sequence[tuple[BatchRow, TxPlan]],
        signer: Signer,
        broadcasting: contextlib.ExitStack[bool | None],
        again: Mapping[int, Unpaid],
    ) -> list[tuple[BatchRow, TxRecord]]:
        """Sign every plan at its nonce (:meth:`_nonces_for`) and record it with its row
        (a row paid ``again`` is pointed at its new transaction), in one store transaction;
        the in-flight lock is taken inside it and held by ``broadcasting``. ``batch``:
        (sender, batch id)."""
        sender, batch_id = batch
        repo = self.repo()
        records: list[tuple[BatchRow, TxRecord]] = []
        with repo.transaction() as conn:
            _unchanged_since_read(repo.batch_rows(batch_id), plans, again)
            nonces = self._nonces_for(conn, sender, plans, again)
            for (r, plan), nonce in zip(plans, nonces, strict=True):
                record = self._sign(conn, signer, plan, nonce) if r.row in again else None
                record = record or sign_into(conn, self.chain_id, signer, plan, nonce)
                if r.row in again:
                    TxRepo.repoint_batch_row(conn, batch_id, r.row, record.hash)
                else:
                    TxRepo.insert_batch_row(
                        conn, batch_id, r.row, self.chain_id, sender, r.to, r.value,
                        r.token, record.hash,
                    )  # fmt: skip
                records.append((r, record))
            broadcasting.enter_context(repo.inflight.held())
        for _r, record in records:
            self.flights.signed(record.hash, record.nonce, record.sender)
        return records

    def _broadcast(
        self, records: Sequence[tuple[BatchRow, TxRecord]], results: dict[int, BatchResult]
    ) -> None:
        """Broadcast in one round trip and record how each went."""
        outcomes = self._broadcaster.broadcast_all([rec for _r, rec in records])
        accepted: list[str] = []
        with self.repo().transaction() as conn:
            for (r, rec), outcome in zip(records, outcomes, strict=True):
                status: TxStatus = "pending"
                error = None
                if outcome is not None:
                    error = str(outcome)
                    status = "signed" if outcome.response is None else "dropped"
                if status == "dropped":
                    TxRepo.set_status(conn, rec.hash, "dropped")
                if status == "pending":
                    accepted.append(rec.hash)
                results[r.row] = BatchResult(r.row, r.to, r.value, r.token, rec.hash, status, error)
                self.flights.seen(rec.hash, status)
            TxRepo.mark_pending(conn, accepted)


@dataclass(frozen=True, slots=True)
class Unpaid:
    """A row whose transaction (``hash``) never made it on chain: paid again at ``nonce``
    (its own, still unused) or, when None, at a new one (its own was used by another)."""

    hash: str
    nonce: int | None


def _unchanged_since_read(
    now: Mapping[int, str | None],
    plans: Sequence[tuple[BatchRow, TxPlan]],
    again: Mapping[int, Unpaid],
) -> None:
    """Refuse (nothing signed is kept) when another command recorded one of these rows
    since this one read the batch (the same file sent twice at once): signing it here too
    would pay the row twice, or fail on the stored row."""
    for r, _plan in plans:
        if now.get(r.row) != again[r.row].hash if r.row in again else r.row in now:
            raise InputError(
                f"row {r.row} of this batch was just recorded by another walletim command "
                "sending the same batch; nothing was signed here: run it again once that "
                "command is done (rows already paid are not paid again)"
            )


def _same_payments(
    stored: Mapping[int, tuple[str, int, str | None]], rows: Sequence[BatchRow]
) -> None:
    """Refuse (nothing signed) rows that a batch of the same id recorded paying something
    else (another amount, token or recipient): reported "sent before", the transfer of the
    other payment would stand for a payment never made."""
    for r in rows:
        was = stored.get(r.row)
        if was is not None and paying(*was) != paying(r.to, r.value, r.token):
            raise InputError(
                f"row {r.row} of this batch was recorded paying {was[1]} (base units of "
                f"{was[2] or 'ETH'}) to {was[0]}, not {r.value} (of {r.token or 'ETH'}) to "
                f"{r.to}: not the same payment, so neither said paid nor paid here; nothing "
                "was signed (to pay it, send it as another batch: a file with other rows, or "
                "a '# date' line at its top)"
            )


def _same_call(a: TxRecord, b: TxRecord) -> bool:
    """Whether two transactions make the same call (recipient, value, calldata)."""
    return ((a.recipient or "").lower(), a.value, a.data) == (
        (b.recipient or "").lower(),
        b.value,
        b.data,
    )


def _same_tx(rec: TxRecord, plan: TxPlan) -> bool:
    """Whether ``plan`` signed at ``rec``'s nonce is ``rec`` (signatures are deterministic)."""
    fields = (plan.value, plan.data, plan.gas_limit, plan.tx_type, plan.max_fee)
    fees = (plan.priority_fee, plan.gas_price)
    return (
        (rec.recipient or "").lower() == (plan.to or "").lower()
        and (rec.value, rec.data, rec.gas_limit, rec.tx_type, rec.max_fee) == fields
        and (rec.priority_fee, rec.gas_price) == fees
    )


def _hash(result: BatchResult) -> str:
    if result.hash is None:
        raise ValueError(f"batch row {result.row} has no transaction")
    return result.hash


def _token_totals(
    rows: Sequence[BatchRow],
    balances: Mapping[str, int],
    units: Mapping[str, tuple[str, int]],
) -> tuple[TokenTotal, ...]:
    """Per token what ``rows`` send: its total and row count, against the balance."""
    out = []
    for token, balance in balances.items():
        values = [r.value for r in rows if r.token == token]
        if values:
            symbol, decimals = units.get(token, (token, 0))
            out.append(TokenTotal(token, symbol, decimals, sum(values), len(values), balance))
    return tuple(out)
