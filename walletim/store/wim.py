"""Repository of the wallet-IM records (adapter: the store): payments claimed in chats and
what the chain said of them, payment requests, split bills, red packets and shared DeFi
actions. Each row belongs to one account of the home and, where it came from a chat, to the
message that carried it.

Amounts are decimal strings of base units (wei; a token's smallest unit) in the database and
``int`` here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Literal, TypeVar

from walletim.store.db import Store
from walletim.store.sql import Sql, now_ms, one_row
from walletim.store.unsent import (
    known_withdrawn,
    offers_never_sent,
    settlement_undone,
    take_later,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

#: What the chain says of a payment or shared action a message cites (see :class:`Verdict`).
VerdictState = Literal["pending", "verified", "failed", "mismatch"]
STATES: tuple[VerdictState, ...] = ("pending", "verified", "failed", "mismatch")
#: A row as sqlcipher3 returns it.
Row = Sequence[object]
R = TypeVar("R")
D = TypeVar("D", bound="DataclassInstance")
T = TypeVar("T")
#: The columns a check against the chain sets (payments and shared actions alike).
_VERDICT_COLUMNS = (
    "state = ?, reason = ?, confirmations = ?, checked_ms = ?, final = ?, "
    "block_number = COALESCE(?, block_number), block_hash = COALESCE(?, block_hash)"
)
#: Rows still to check: pending, or verified in a block that is not final yet.
_UNSETTLED = "(state = 'pending' OR (state = 'verified' AND final = 0))"
#: ... or a mismatch for the reason given as its one parameter (one that may yet change).
_UNSETTLED_OR = f"({_UNSETTLED} OR (state = 'mismatch' AND reason = ?))"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the chain says of a payment or shared action a message cites (the ledger's
    check: :mod:`walletim.app.wim.verify`), as the payments and actions tables keep it."""

    state: VerdictState
    reason: str
    confirmations: int
    final: bool = False  # verified, and its block is final on this network
    block: tuple[int, str] | None = None  # (number, hash) where it was mined
    nonce: int | None = None  # a payment's transaction's nonce, as its signed bytes say

    @property
    def shown(self) -> str:
        """The state as people read it: verified says whether it is final yet."""
        if self.state == "verified":
            if self.final:
                return "verified, final"
            return f"verified, {self.confirmations} confirmation(s), not final"
        return self.state


def _row(
    cls: Callable[..., R], r: Row, *, ints: tuple[int, ...] = (), bools: tuple[int, ...] = ()
) -> R:
    """``cls`` from a row whose columns ``ints`` are amounts stored as decimal text (NULL
    stays None) and ``bools`` are 0/1."""
    args = list(r)
    for i in ints:
        args[i] = None if args[i] is None else int(str(args[i]))
    for i in bools:
        args[i] = bool(args[i])
    return cls(*args)


def _table(
    cls: type[D], *, amounts: tuple[str, ...] = ()
) -> tuple[str, Callable[[Row], D], Callable[[D], tuple[object, ...]]]:
    """The columns of a row dataclass (its fields, in order: what is selected and inserted),
    the parser of a row selected with them and the values that insert a row in them:
    ``amounts`` hold decimal text, fields typed ``bool`` hold 0/1."""
    names = [f.name for f in fields(cls)]
    ints = tuple(i for i, n in enumerate(names) if n in amounts)
    bools = tuple(i for i, f in enumerate(fields(cls)) if f.type in ("bool", bool))

    def parse(r: Row) -> D:
        return _row(cls, r, ints=ints, bools=bools)

    def values(row: D) -> tuple[object, ...]:
        out = [getattr(row, name) for name in names]
        for i in ints:
            out[i] = None if out[i] is None else str(out[i])
        for i in bools:
            out[i] = int(bool(out[i]))
        return tuple(out)

    return ", ".join(names), parse, values


def _insert(table: str, columns: str, verb: str = "INSERT") -> str:
    """``verb INTO table (columns) VALUES (?, ...)``: one placeholder for each column."""
    marks = ", ".join("?" * len(columns.split(", ")))
    return f"{verb} INTO {table} ({columns}) VALUES ({marks})"


@dataclass(frozen=True, slots=True)
class PaymentRow:
    """A payment claimed in a chat, sent (out) or received (in), and what the chain said of it."""

    id: int
    account: str
    message_id: int | None
    direction: str  # in | out
    peer: str
    chain_id: int
    tx_hash: str
    asset: str | None  # None: ETH
    symbol: str
    decimals: int
    amount: int
    payer: str
    payee: str
    note: str
    request_id: str | None
    state: VerdictState
    reason: str
    confirmations: int
    created_ms: int
    checked_ms: int | None
    final: bool = False  # its block is final on its network: never checked again
    block_number: int | None = None  # where it was mined when last checked
    block_hash: str | None = None
    #: the payer's nonce of ``tx_hash``, from its signed bytes once a node held it (a
    #: transaction the node then forgets while that nonce is used was replaced: a cancel)
    nonce: int | None = None


#: No insert values: add_payment inserts a payment without its id (SQLite numbers it).
_PAYMENT, _payment = _table(PaymentRow, amounts=("amount",))[:2]


@dataclass(frozen=True, slots=True)
class RequestRow:
    """A payment request this account sent to ``peer`` (out) or got from ``peer`` (in)."""

    account: str
    request_id: str
    direction: str  # out: we asked peer; in: peer asked us
    peer: str
    chain_id: int
    asset: str | None
    symbol: str
    decimals: int
    amount: int
    note: str
    uri: str
    split_id: str | None
    state: str  # open | settled | withdrawn (never sent: a block withdrew it)
    paid_tx: str | None
    message_id: int | None
    created_ms: int


_REQUEST, _request, _request_values = _table(RequestRow, amounts=("amount",))


@dataclass(frozen=True, slots=True)
class SplitRow:
    """A split bill this account made: its ``total``, asked for by the requests that carry
    its ``split_id``."""

    account: str
    split_id: str
    asset: str | None
    symbol: str
    decimals: int
    total: int
    note: str
    created_ms: int


_SPLIT, _split, _split_values = _table(SplitRow, amounts=("total",))


@dataclass(frozen=True, slots=True)
class PacketRow:
    """A red packet this account made (out) or was offered (in)."""

    account: str
    packet_id: str
    direction: str  # out: we made it; in: offered to us
    peer: str  # in: the creator; out: a recipient, or a group's conversation peer
    chain_id: int
    contract: str
    asset: str | None
    symbol: str
    decimals: int
    total: int
    shares: int
    random: bool
    expiry: int  # unix seconds
    voucher: str | None  # in: our voucher (0x hex)
    claimed_amount: int | None
    message_id: int | None
    created_ms: int
    # ok: the figures above and ``peer`` (the creator, for 'in') are the red-packet contract's;
    # pending: not read from the chain yet (``reason``), the figures are the offer's and are
    # never shown; forged: the contract says another address made it (never claimable); an
    # 'ok' row's ``reason``: why its token is not what its symbol says (an impostor).
    state: str = "pending"
    reason: str = ""
    #: the block of the contract's ``Created`` log for the packet (None: not found yet) and
    #: its depth when last read: an escrow counts by the payments' rules (Verifier.at_depth)
    block_number: int | None = None
    block_hash: str | None = None
    confirmations: int = 0
    final: bool = False


_PACKET, _packet, _packet_values = _table(PacketRow, amounts=("total", "claimed_amount"))


@dataclass(frozen=True, slots=True)
class ActionRow:
    """A DeFi action shared in a chat (sent or received) and what the chain said of it."""

    account: str
    message_id: int
    direction: str
    peer: str
    chain_id: int
    tx_hash: str
    action: str  # swap | vault-deposit
    state: VerdictState
    reason: str
    confirmations: int
    created_ms: int
    checked_ms: int | None
    final: bool = False
    block_number: int | None = None
    block_hash: str | None = None


_ACTION, _action, _action_values = _table(ActionRow)


class WimRepo:
    """Reads and writes of the wallet-IM tables; each write is its own transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- payments ---------------------------------------------------------------------------

    def _all(self, sql: str, params: Sequence[object], parse: Callable[[Row], T]) -> list[T]:
        return [parse(r) for r in self.store.execute(sql, params).fetchall()]

    def _write(self, sql: str, params: Sequence[object]) -> bool:
        """One statement in its own write transaction; whether it changed a row."""
        with self.store.transaction() as conn:
            return bool(conn.execute(sql, params).rowcount)

    def _set_verdict(
        self, table: str, where: str, key: Sequence[object], v: Verdict, also: str = ""
    ) -> None:
        """Record what the chain said of a payment or shared action; a verdict without a
        ``block`` keeps the last block it was seen in (a reorg that removed it stays known).
        ``also``: more ``column = ?`` settings, each given the verdict's nonce."""
        number, block_hash = v.block if v.block is not None else (None, None)
        self._write(
            f"UPDATE {table} SET {_VERDICT_COLUMNS}{also} WHERE {where}",
            (v.state, v.reason, v.confirmations, now_ms(), int(v.final), number, block_hash,
             *[v.nonce] * also.count("?"), *key),
        )  # fmt: skip

    def add_payment(
        self,
        *,
        account: str,
        message_id: int | None,
        direction: str,
        peer: str,
        chain_id: int,
        tx_hash: str,
        asset: str | None,
        symbol: str,
        decimals: int,
        amount: int,
        payer: str,
        payee: str,
        note: str,
        request_id: str | None,
        state: VerdictState = "pending",
        reason: str = "",
    ) -> PaymentRow:
        """Insert a payment (once per message; a second call for the same message returns
        the stored row)."""
        with self.store.transaction() as conn:
            if message_id is not None:
                row = conn.execute(
                    f"SELECT {_PAYMENT} FROM payments WHERE message_id = ?", (message_id,)
                ).fetchone()
                if row is not None:
                    return _payment(row)
            cur = conn.execute(
                "INSERT INTO payments (account, message_id, direction, peer, chain_id, tx_hash, "
                "asset, symbol, decimals, amount, payer, payee, note, request_id, state, reason, "
                "created_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    account, message_id, direction, peer, chain_id, tx_hash.lower(), asset,
                    symbol, decimals, str(amount), payer, payee, note, request_id, state, reason,
                    now_ms(),
                ),
            )  # fmt: skip
            payment_id = int(cur.lastrowid)
        found = self.payment(payment_id)
        assert found is not None
        return found

    def payment(self, payment_id: int) -> PaymentRow | None:
        return one_row(
            self.store, f"SELECT {_PAYMENT} FROM payments WHERE id = ?", (payment_id,), _payment
        )

    def payment_for_message(self, message_id: int) -> PaymentRow | None:
        sql = f"SELECT {_PAYMENT} FROM payments WHERE message_id = ?"
        return one_row(self.store, sql, (message_id,), _payment)

    def payments(
        self, account: str, *, states: tuple[VerdictState, ...] = STATES, limit: int = 1000
    ) -> list[PaymentRow]:
        marks = ",".join("?" * len(states))
        sql = (
            f"SELECT {_PAYMENT} FROM payments WHERE account = ? AND state IN ({marks}) "
            "ORDER BY id DESC LIMIT ?"
        )
        return self._all(sql, (account, *states, limit), _payment)

    def payments_citing(self, account: str, request_ids: Sequence[str]) -> list[PaymentRow]:
        """The payments of ``account`` citing any of ``request_ids``, oldest first."""
        if not request_ids:
            return []
        marks = ",".join("?" * len(request_ids))
        sql = (
            f"SELECT {_PAYMENT} FROM payments WHERE account = ? AND request_id IN ({marks}) "
            "ORDER BY id"
        )
        return self._all(sql, (account, *(r.lower() for r in request_ids)), _payment)

    def first_claim(
        self, account: str, direction: str, tx_hash: str, payer: str, before: int
    ) -> PaymentRow | None:
        """The earliest payment of ``account`` before id ``before`` citing ``tx_hash`` as paid
        by ``payer`` (the transaction's own sender) that is verified or still pending: one
        transaction pays once. Claims by anyone else, and claims found false, do not count,
        so nobody can squat an honest payment by claiming it first."""
        sql = (
            f"SELECT {_PAYMENT} FROM payments WHERE account = ? AND direction = ? "
            "AND tx_hash = ? AND payer = ? AND id < ? AND state IN ('pending', 'verified') "
            "ORDER BY id LIMIT 1"
        )
        return one_row(
            self.store, sql, (account, direction, tx_hash.lower(), payer, before), _payment
        )

    def mismatches(self, account: str, reason: str, limit: int) -> list[PaymentRow]:
        """The newest ``limit`` payments of ``account`` found a mismatch for ``reason``."""
        sql = (
            f"SELECT {_PAYMENT} FROM payments WHERE account = ? AND state = 'mismatch' "
            "AND reason = ? ORDER BY id DESC LIMIT ?"
        )
        return self._all(sql, (account, reason, limit), _payment)

    def set_payment_state(self, payment_id: int, verdict: Verdict) -> None:
        """Record what the chain said of payment ``payment_id`` (and its transaction's nonce,
        once known)."""
        also = ", nonce = COALESCE(?, nonce)"
        self._set_verdict("payments", "id = ?", (payment_id,), verdict, also)

    def unsettled_payments(
        self, account: str, limit: int = 1000, *, again: str = ""
    ) -> list[PaymentRow]:
        """Payments still to check: pending ones, verified ones whose block is not final,
        and mismatches found for the reason ``again`` (one that may yet change)."""
        sql = f"SELECT {_PAYMENT} FROM payments WHERE account = ? AND {_UNSETTLED_OR}"
        return self._all(sql + " ORDER BY id LIMIT ?", (account, again, limit), _payment)

    def link_payment(self, payment_id: int, message_id: int) -> None:
        self._write("UPDATE payments SET message_id = ? WHERE id = ?", (message_id, payment_id))

    # -- requests -----------------------------------------------------------------------------

    def save_request(self, r: RequestRow) -> RequestRow:
        """Insert a request unless it is already there (same account, direction, peer, id;
        ours withdrawn before it came: :func:`~walletim.store.unsent.known_withdrawn`)."""
        with self.store.transaction() as conn:
            conn.execute(_insert("requests", _REQUEST, "INSERT OR IGNORE"), _request_values(r))
            if r.direction == "out":
                known_withdrawn(conn, r.account, r.peer, r.request_id)
        found = self.request(r.account, r.request_id, r.direction, r.peer)
        assert found is not None
        return found

    def request(
        self, account: str, request_id: str, direction: str, peer: str | None = None
    ) -> RequestRow | None:
        sql = (
            f"SELECT {_REQUEST} FROM requests WHERE account = ? AND request_id = ? "
            "AND direction = ?"
        )
        params: tuple[str, ...] = (account, request_id.lower(), direction)
        if peer is not None:
            sql += " AND peer = ?"
            params += (peer,)
        return one_row(self.store, sql + " ORDER BY created_ms LIMIT 1", params, _request)

    def request_for_message(self, account: str, message_id: int) -> RequestRow | None:
        sql = f"SELECT {_REQUEST} FROM requests WHERE account = ? AND message_id = ? LIMIT 1"
        return one_row(self.store, sql, (account, message_id), _request)

    def requests(
        self, account: str, *, split_id: str | None = None, limit: int = 1000
    ) -> list[RequestRow]:
        """This account's requests (newest first); with ``split_id``, the shares of that split:
        only the requests this account made (a peer's request to it naming the split is no
        share of it)."""
        base = f"SELECT {_REQUEST} FROM requests WHERE account = ?"
        if split_id is None:
            return self._all(base + " ORDER BY created_ms DESC LIMIT ?", (account, limit), _request)
        sql = base + " AND split_id = ? AND direction = 'out' ORDER BY created_ms, peer"
        return self._all(sql, (account, split_id), _request)

    def settle_request(
        self, account: str, request_id: str, direction: str, peer: str, tx_hash: str
    ) -> bool:
        """Mark a request settled by ``tx_hash`` (a verified payment of it: an open one, or
        one withdrawn that was paid all the same, :func:`~walletim.store.unsent.take_later`);
        False if it was settled already."""
        key = (account, direction, peer, request_id.lower())
        with self.store.transaction() as conn:
            return take_later(conn, key, "settled", tx_hash.lower())

    def reopen_request(
        self, account: str, request_id: str, direction: str, peer: str, tx_hash: str
    ) -> str | None:
        """The payment ``tx_hash`` that settled a request left the chain in a reorg: the
        request reads as before it, open or withdrawn
        (:func:`~walletim.store.unsent.settlement_undone`); None if it was not settled by it."""
        key = (account, direction, peer, request_id.lower())
        with self.store.transaction() as conn:
            return settlement_undone(conn, key, tx_hash)

    # -- splits -------------------------------------------------------------------------------

    def save_split(self, s: SplitRow) -> None:
        with self.store.transaction() as conn:
            conn.execute(_insert("splits", _SPLIT), _split_values(s))

    def save_split_seen(self, s: SplitRow) -> None:
        """A split made on another device of this wallet, as its requests seen here add up:
        inserted, or its total raised (never lowered: the device that made it knows it)."""
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT total FROM splits WHERE account = ? AND split_id = ?",
                (s.account, s.split_id),
            ).fetchone()
            if row is None:
                conn.execute(_insert("splits", _SPLIT), _split_values(s))
            elif int(row[0]) < s.total:
                conn.execute(
                    "UPDATE splits SET total = ? WHERE account = ? AND split_id = ?",
                    (str(s.total), s.account, s.split_id),
                )

    def split(self, account: str, split_id: str) -> SplitRow | None:
        sql = f"SELECT {_SPLIT} FROM splits WHERE account = ? AND split_id = ?"
        return one_row(self.store, sql, (account, split_id.lower()), _split)

    def splits(self, account: str) -> list[SplitRow]:
        sql = f"SELECT {_SPLIT} FROM splits WHERE account = ? ORDER BY created_ms DESC"
        return self._all(sql, (account,), _split)

    # -- red packets ----------------------------------------------------------------------------

    def save_packet(self, p: PacketRow) -> None:
        """Insert a packet. A packet offered again replaces the row only while that row is
        not 'ok' (read from the chain), or to add a voucher to an 'ok' row that had none: a
        checked packet and its first valid voucher are never overwritten by a later offer."""
        cols = _PACKET.split(", ")
        update = ", ".join(
            f"{c} = excluded.{c}" for c in cols if c not in ("account", "packet_id", "direction")
        )
        with self.store.transaction() as conn:
            conn.execute(
                _insert("packets", _PACKET)
                + f" ON CONFLICT (account, packet_id, direction) DO UPDATE SET {update} "
                "WHERE packets.state != 'ok' OR (packets.voucher IS NULL AND excluded.state = "
                "'ok' AND excluded.voucher IS NOT NULL AND excluded.peer = packets.peer)",
                _packet_values(p),
            )

    def set_packet_state(self, p: PacketRow) -> None:
        """Record what the chain said of a packet already stored: its figures, creator (for
        'in'), state, reason and its escrow's block and depth (the voucher, message and claim
        are kept)."""
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE packets SET peer = ?, chain_id = ?, contract = ?, asset = ?, symbol = ?, "
                "decimals = ?, total = ?, shares = ?, random = ?, expiry = ?, state = ?, "
                "reason = ?, block_number = ?, block_hash = ?, confirmations = ?, final = ? "
                "WHERE account = ? AND packet_id = ? AND direction = ?",
                (
                    p.peer, p.chain_id, p.contract, p.asset, p.symbol, p.decimals, str(p.total),
                    p.shares, int(p.random), p.expiry, p.state, p.reason, p.block_number,
                    p.block_hash, p.confirmations, int(p.final), p.account,
                    p.packet_id.lower(), p.direction,
                ),
            )  # fmt: skip

    def packet(self, account: str, packet_id: str, direction: str) -> PacketRow | None:
        sql = f"SELECT {_PACKET} FROM packets WHERE account = ? AND packet_id = ? AND direction = ?"
        return one_row(self.store, sql, (account, packet_id.lower(), direction), _packet)

    def packet_for_message(self, account: str, message_id: int) -> PacketRow | None:
        sql = f"SELECT {_PACKET} FROM packets WHERE account = ? AND message_id = ? LIMIT 1"
        return one_row(self.store, sql, (account, message_id), _packet)

    def packets(self, account: str) -> list[PacketRow]:
        sql = f"SELECT {_PACKET} FROM packets WHERE account = ? ORDER BY created_ms DESC"
        return self._all(sql, (account,), _packet)

    def unsent_offers(self, account: str, packet_id: str) -> tuple[int, int]:
        """See :func:`walletim.store.unsent.offers_never_sent`."""
        return offers_never_sent(self.store, account, packet_id)

    def set_claimed(self, account: str, packet_id: str, amount: int | None) -> None:
        """Record this account's claim of a packet offered to it (None: no claim on chain)."""
        self._write(
            "UPDATE packets SET claimed_amount = ? WHERE account = ? AND packet_id = ? "
            "AND direction = 'in'",
            (None if amount is None else str(amount), account, packet_id.lower()),
        )

    # -- shared actions -------------------------------------------------------------------------

    def save_action(
        self,
        *,
        account: str,
        message_id: int,
        direction: str,
        peer: str,
        chain_id: int,
        tx_hash: str,
        action: str,
    ) -> None:
        row = ActionRow(
            account=account, message_id=message_id, direction=direction, peer=peer,
            chain_id=chain_id, tx_hash=tx_hash.lower(), action=action, state="pending",
            reason="", confirmations=0, created_ms=now_ms(), checked_ms=None,
        )  # fmt: skip
        with self.store.transaction() as conn:
            conn.execute(_insert("actions", _ACTION, "INSERT OR IGNORE"), _action_values(row))

    def action(self, account: str, message_id: int) -> ActionRow | None:
        sql = f"SELECT {_ACTION} FROM actions WHERE account = ? AND message_id = ?"
        return one_row(self.store, sql, (account, message_id), _action)

    def set_action_state(self, account: str, message_id: int, verdict: Verdict) -> None:
        """Record what the chain said of the action shared in message ``message_id``."""
        where = "account = ? AND message_id = ?"
        self._set_verdict("actions", where, (account, message_id), verdict)

    def unsettled_actions(
        self, account: str, limit: int = 1000, *, again: str = ""
    ) -> list[ActionRow]:
        """Shared actions still to check: pending, or verified and not final, and mismatches
        found for the reason ``again``."""
        sql = f"SELECT {_ACTION} FROM actions WHERE account = ? AND {_UNSETTLED_OR}"
        return self._all(sql + " ORDER BY created_ms LIMIT ?", (account, again, limit), _action)


#: The tables holding what money a message said (each row names its message).
_MONEY_TABLES = ("payments", "requests", "packets", "actions")


def forget_records(conn: Sql, message_id: int) -> None:
    """Forget what money message ``message_id`` said (in the caller's transaction), before
    the message itself is taken back (:func:`walletim.store.held.take_back`)."""
    for table in _MONEY_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE message_id = ?", (message_id,))
