"""``send --batch``: many transfers signed and pipelined, each row paid exactly once per
batch id, even across a crash and a rerun.

Rows already recorded for a batch are not signed again (their stored transaction is
re-checked, and re-broadcast if the node lost it). The rest are estimated in one round
trip, checked against the funds and the fee cap together, recorded with consecutive nonces
in one store transaction, broadcast in one round trip and waited for together.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
from collections.abc import Callable, Sequence
from typing import Any

from walletim.app.chain.broadcast import Broadcaster, sign_into
from walletim.app.chain.model import BatchResult, BatchRow, SendRequest, TxPlan, Until
from walletim.app.chain.nonces import NonceKeeper
from walletim.app.chain.planning import Planner
from walletim.app.chain.ports import Chain, ChainPart, Signer
from walletim.app.chain.tokens import token_transfer_data
from walletim.app.chain.tracking import Tracker
from walletim.chain import fees as policy
from walletim.chain.reverts import revert_from
from walletim.chain.rpc import Q, Query, answered
from walletim.errors import InputError, RpcError
from walletim.keys.hd import to_checksum_address
from walletim.store.txs import TxRecord, TxRepo

MAX_BATCH_ROWS = 10_000


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
    ) -> list[BatchResult]:
        """``how``: the fee choices and fee cap every row is signed with (its recipient,
        value, nonce and gas limit are not used: each row has its own); ``until``: how deep
        and how long to wait for the rows (None: return once broadcast)."""
        if len(rows) > MAX_BATCH_ROWS:
            raise InputError(f"a batch has at most {MAX_BATCH_ROWS} rows")
        done = self.repo().batch_rows(batch_id)
        results = {
            r.row: BatchResult(
                r.row, r.to, r.value, r.token, done[r.row], "pending", already_sent=True
            )
            for r in rows
            if r.row in done
        }
        self._tracker.recheck_sent([res for res in results.values() if res.hash])
        todo = [r for r in rows if r.row not in done]
        known: dict[str, TxRecord] = {}
        if todo:
            key = signer()  # the account must hold the sender's key before anything is asked
            plans = self._plan(sender, batch_id, todo, how, results)
            with contextlib.ExitStack() as broadcasting:
                records = self._record((sender, batch_id), plans, key, broadcasting)
                self._broadcast(records, results)
            known = {rec.hash: rec for _r, rec in records}
        if until is not None:
            waited = [res for res in results.values() if res.hash]
            self._tracker.wait_many(waited, until.timeout, known, until.confirmations)
        return [results[r.row] for r in rows]

    def _plan(
        self,
        sender: str,
        batch_id: str,
        todo: Sequence[BatchRow],
        how: SendRequest,
        results: dict[int, BatchResult],
    ) -> list[tuple[BatchRow, TxPlan]]:
        """Estimate every row, read the balance and what the fees need, in one round trip;
        rows that would revert are rejected. Then the fee cap of each transaction and the
        funds for all of them. Raises ChainError (nothing signed)."""
        calls = [row_call(r) for r in todo]
        reads = self.planner.fee_reads(how)
        head: list[Query[Any]] = [Q.balance(sender, "pending")]
        if reads[1] is not None:
            head.append(reads[1])
        answers = self.rpc.gather_all(
            [*head, *(Q.estimate_gas(to, data, sender=sender, value=v) for to, v, data in calls)]
        )
        fees = self.planner.fees_read(how, reads, answers[len(head) - 1])
        balance: int = answered(answers[0])
        plans: list[tuple[BatchRow, TxPlan]] = []
        network = self.planner.network
        cap = network.fee_cap_wei if how.fee_cap is None else how.fee_cap
        for r, call, est in zip(todo, calls, answers[len(head) :], strict=True):
            if isinstance(est, RpcError):
                why = str(revert_from(est) or est)
                results[r.row] = BatchResult(r.row, r.to, r.value, r.token, None, "rejected", why)
                continue
            plan = TxPlan.of(
                network.name, self.chain_id, sender, call, nonce=None,
                gas_limit=self.planner.gas_limit(est, call[2]), fees=fees, kind="batch",
                note=f"batch {batch_id[:12]} row {r.row}",
            )  # fmt: skip
            policy.check_fee_cap(plan.gas_limit, plan.fees, cap)
            plans.append((r, plan))
        total = sum(p.value + p.max_total_fee for _r, p in plans)
        self.planner.check_funds(sender, balance, total, "the batch")
        return plans

    def _record(
        self,
        batch: tuple[str, str],
        plans: Sequence[tuple[BatchRow, TxPlan]],
        signer: Signer,
        broadcasting: contextlib.ExitStack[bool | None],
    ) -> list[tuple[BatchRow, TxRecord]]:
        """Sign every plan at consecutive nonces and record it with its row, in one store
        transaction; the in-flight lock is taken inside it and held by ``broadcasting``.
        ``batch``: (sender, batch id)."""
        sender, batch_id = batch
        repo = self.repo()
        records: list[tuple[BatchRow, TxRecord]] = []
        with repo.transaction() as conn:
            first: int | None = None
            for n, (r, plan) in enumerate(plans):
                if first is None:
                    first = self._nonces.allocate(conn, sender, None)
                    TxRepo.set_next_nonce(conn, self.chain_id, sender, first)
                nonce = self._nonces.allocate(conn, sender, first + n)
                record = sign_into(conn, self.chain_id, signer, plan, nonce)
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
                status, error = "pending", None
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


def parse_batch_csv(
    text: str,
    *,
    parse_value: Callable[[str, str | None], int],
    resolve: Callable[[str], str],
    default_token: str | None = None,
) -> list[BatchRow]:
    """Parse ``to,amount[,token]`` lines (an optional header line is skipped).

    ``parse_value(amount_text, token)`` turns an amount into base units; ``resolve`` turns a
    name or address into a checksummed address; ``default_token`` is the token of a row
    whose token cell is missing or empty (None: ether).

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
        row = _row(line_no, [c.strip() for c in fields], (parse_value, resolve), default_token)
        if row is not None:
            rows.append(row)
    if not rows:
        raise InputError("the batch file has no rows")
    return rows


def _row(
    line_no: int,
    cells: list[str],
    parsers: tuple[Callable[[str, str | None], int], Callable[[str], str]],
    default_token: str | None,
) -> BatchRow | None:
    parse_value, resolve = parsers
    if not cells or not any(cells) or cells[0].startswith("#"):
        return None
    if line_no == 1 and cells[0].lower() in ("to", "address", "recipient"):
        return None
    if len(cells) not in (2, 3):
        raise InputError(f"batch line {line_no}: expected to,amount[,token]")
    token = cells[2] if len(cells) == 3 and cells[2] else default_token
    try:
        to = resolve(cells[0])
        value = parse_value(cells[1], token)
    except InputError as exc:
        raise InputError(f"batch line {line_no}: {exc}") from exc
    if value <= 0:
        raise InputError(f"batch line {line_no}: the amount must be positive")
    return BatchRow(line_no, to, value, token)


def batch_id_for(chain_id: int, sender: str, content: bytes) -> str:
    """A stable id for one batch file sent by one account on one chain."""
    return hashlib.sha256(f"{chain_id}:{sender}:".encode() + content).hexdigest()
