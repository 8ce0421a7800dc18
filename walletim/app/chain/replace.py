"""``tx speedup`` / ``tx cancel``: a pending transaction replaced at its nonce, with fees
raised by the one bump rule (:func:`walletim.chain.fees.replacement`)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from walletim.app.chain.model import TxPlan
from walletim.app.networks import Network
from walletim.chain import fees as policy
from walletim.chain.fees import Fees, FeeSuggestion
from walletim.errors import ChainError, InputError
from walletim.keys.hd import to_checksum_address
from walletim.store.txs import GONE, TxRecord, TxRepo

if TYPE_CHECKING:
    from walletim.chain.rpc import RpcClient
    from walletim.chain.values import JsonObject

CANCEL_GAS = 21_000


def record_fees(rec: TxRecord) -> Fees:
    """The fees ``rec`` was signed with."""
    if rec.tx_type == 2:
        return Fees(max_fee=rec.max_fee, priority_fee=rec.priority_fee)
    return Fees(gas_price=rec.gas_price)


def outbid(rec: TxRecord, at_nonce: list[TxRecord]) -> Fees:
    """The fees a replacement of ``rec`` raises: the highest of ``rec``'s and the open
    transactions at its nonce (``at_nonce``: this home's, and one its key signed elsewhere
    that the node holds there), each fee apart (a legacy gas price counts as both). The node
    holds the highest: a second speed-up of the same hash must outbid the first one's fees
    (bumped from ``rec``'s again it was the very same transaction, or refused as
    underpriced)."""
    bids = [
        record_fees(r) for r in at_nonce if r.hash == rec.hash or r.status in ("signed", "pending")
    ]
    own = record_fees(rec)
    if own.gas_price is not None:  # the node wants its price over another's max fee and tip
        return Fees(gas_price=max([own.gas_price, *(b.per_gas for b in bids)]))
    return Fees(  # a legacy price is both a max fee and a tip
        max_fee=max([own.max_fee or 0, *(b.per_gas for b in bids)]),
        priority_fee=max([own.priority_fee or 0, *(_tip(b) for b in bids)]),
    )


def replacement_plan(
    network: Network,
    rec: TxRecord,
    *,
    cancel: bool,
    bump_percent: float,
    current: FeeSuggestion | int | None,
    at_nonce: list[TxRecord] | None = None,
    held: TxRecord | None = None,
) -> TxPlan:
    """The plan replacing ``rec`` at its nonce: the same transaction (a speed-up) or a
    zero-value transfer to its sender (a cancellation), with fees bumped over the highest
    of this home's at that nonce (``at_nonce``, see :func:`outbid`) and of ``held``, what
    the node holds there signed elsewhere (:func:`node_holder`), and at least the node's
    ``current`` suggestion (:func:`walletim.chain.fees.replacement`).

    Raises:
        InputError: a bump under the node's minimum. ChainError: over the fee cap.
    """
    bids = [*(at_nonce or []), *([held] if held is not None else [])]
    fees = policy.replacement(outbid(rec, bids), bump_percent, current)
    note = f"replaces {rec.hash}"
    if held is not None:
        note += (
            f" and outbids {held.hash}, which this key signed elsewhere and the node holds "
            "at this nonce instead (that one is then never mined)"
        )
    if cancel:
        call: tuple[str | None, int, bytes] = (rec.sender, 0, b"")
    else:
        call = (rec.recipient, rec.value, rec.data)
        note += _undoes_cancel(rec, at_nonce or [])
    plan = TxPlan.of(
        network.name, network.chain_id, rec.sender, call, nonce=rec.nonce,
        gas_limit=CANCEL_GAS if cancel else rec.gas_limit, fees=fees,
        kind="cancel" if cancel else "speedup", note=note,
    )  # fmt: skip
    policy.check_fee_cap(plan.gas_limit, plan.fees, network.fee_cap_wei, network.fee_cap_advice)
    return plan


def _undoes_cancel(rec: TxRecord, at_nonce: list[TxRecord]) -> str:
    """What a speed-up of ``rec`` says when this home's open cancellation of it holds the
    nonce: the speed-up outbids the cancellation, and what was cancelled goes out after all."""
    held = [r for r in at_nonce if r.kind == "cancel" and r.status in ("signed", "pending")]
    if not held:
        return ""
    return (
        f" and outbids your cancellation {held[-1].hash}: what you cancelled goes out "
        "after all (to keep it cancelled, answer no)"
    )


def check_replaceable(rec: TxRecord, mined_count: int) -> None:
    """Raises ChainError when ``rec`` (as just refreshed) can no longer be replaced: mined,
    or its nonce used on chain (``mined_count``: the sender's ``latest`` count), or
    signed on a chain that is gone (replaced there, it would be paid again here)."""
    if rec.status == GONE:
        raise ChainError(
            f"transaction {rec.hash} was signed on a chain that is gone (the node runs another "
            "chain with this chain id): it is not replaced here"
        )
    if rec.status in ("mined", "failed"):
        outcome = "it succeeded" if rec.status == "mined" else "it failed: reverted"
        raise ChainError(
            f"transaction {rec.hash} is already mined in block {rec.block_number} ({outcome}): "
            "it can no longer be replaced"
        )
    if mined_count > rec.nonce:
        raise ChainError(f"nonce {rec.nonce} of {rec.sender} is already used on chain")


def node_holder(rpc: RpcClient, repo: TxRepo, chain_id: int, rec: TxRecord) -> TxRecord | None:
    """What the node holds at ``rec``'s nonce (as just refreshed) in its place, when this
    key signed it elsewhere (cast, another wallet): a replacement of ``rec`` must outbid it
    too, or the node refuses it as underpriced. Asked only when the node holds another
    transaction than this home's there (``rec`` replaced by none of this home's); None
    when it holds none, or one of this home's. Raises ChainError (the nonce was used),
    RpcError, InconsistentAnswer."""
    if rec.status != "replaced" or rec.replaced_by is not None:
        return None
    try:
        held = held_elsewhere(rpc, chain_id, rec.sender, rec.nonce)
    except InputError:  # none in the pool (or the node cannot say which)
        return None
    return None if repo.get(held.hash) is not None else held


def pending_at(repo: TxRepo, chain_id: int, sender: str, nonce: int) -> TxRecord | None:
    """The newest open transaction of this home of ``sender`` at ``nonce``, if any. Raises
    InputError (no nonce)."""
    from walletim.chain.units import MAX_NONCE

    if not 0 <= nonce <= MAX_NONCE:
        raise InputError(f"a nonce is 0 .. {MAX_NONCE}: {nonce} is none (EIP-2681)")
    candidates = [
        r
        for r in repo.at_nonce(chain_id, to_checksum_address(sender), nonce)
        if r.status in ("signed", "pending")
    ]
    return candidates[-1] if candidates else None


def foreign_record(chain_id: int, tx: JsonObject, *, resend: bool = False) -> TxRecord:
    """A pending transaction this home did not sign (its key used elsewhere: ``cast send``,
    another wallet), from the node's JSON of it: what a cancellation outbids (its sender,
    nonce and fees), or a speed-up sends again with higher fees. Never stored itself: its
    replacement is.

    The fees are the sender's own: the JSON is rebuilt into the signed bytes, which must hash
    to the hash the node gives and recover to the sender it names (a node cannot make a
    cancellation outbid fees nobody signed, nor a speed-up send what nobody signed).
    ``resend``: for a speed-up, which signs its call again without an access list or an
    authorization list (refused: the same limit may not cover it, or it does something else).

    Raises:
        InputError: a blob transaction (only another blob transaction replaces it); with
            ``resend``, one carrying an access or authorization list.
        InconsistentAnswer: the JSON is no transaction its sender signed (or of a type
            walletim cannot rebuild).
    """
    from walletim.chain.evidence import decode_signed, encode_from_json
    from walletim.chain.values import quantity
    from walletim.errors import InconsistentAnswer

    def q(name: str) -> int:
        return quantity(tx.get(name), f"the transaction's {name}")

    tx_type = q("type") if tx.get("type") is not None else 0
    if tx_type == 3:
        raise InputError(
            "that transaction carries blobs (EIP-4844): only another blob transaction "
            "replaces it in the node's pool, and walletim signs none"
        )
    if resend and (tx.get("accessList") or tx.get("authorizationList")):
        raise InputError(
            "that transaction carries an access list or an EIP-7702 authorization list, which "
            "a speed-up by walletim would leave out: cancel it, or speed it up where it was made"
        )
    signed = decode_signed(encode_from_json(dict(tx)))
    said = (str(tx.get("hash", "")).lower(), str(tx.get("from", "")).lower())
    if said != (signed.hash, signed.sender.lower()) or signed.chain_id not in (None, chain_id):
        raise InconsistentAnswer("the node's transaction is not what its signature says")
    dynamic = tx_type >= 2  # EIP-1559 fees (types 2 and 4); types 0 and 1 pay a gas price
    return TxRecord(
        hash=signed.hash, chain_id=chain_id, sender=signed.sender, nonce=signed.nonce,
        recipient=signed.to, value=signed.value, tx_type=2 if dynamic else 0, gas_limit=q("gas"),
        max_fee=q("maxFeePerGas") if dynamic else None,
        priority_fee=q("maxPriorityFeePerGas") if dynamic else None,
        gas_price=None if dynamic else q("gasPrice"),
        data=signed.data, raw=b"", status="pending",
    )  # fmt: skip


def held_elsewhere(
    rpc: RpcClient,
    chain_id: int,
    sender: str,
    nonce: int | None,
    tx_hash: str | None = None,
    *,
    resend: bool = False,
) -> TxRecord:
    """The pending transaction of ``sender`` at ``nonce`` (or ``tx_hash``) this home did not
    sign, as the node holds it (:func:`foreign_record`): by hash from any node; by nonce from
    one that answers ``eth_getTransactionBySenderAndNonce`` (Anvil, Erigon, Reth) or
    ``txpool_contentFrom`` (geth).

    Raises:
        InputError: the node holds none (or cannot say which); ChainError: the nonce is
        used on chain (it was mined); RpcError.
    """
    from walletim.chain.rpc import Q, Query, answered
    from walletim.errors import InconsistentAnswer

    if tx_hash is not None:
        tx = rpc.get(Q.transaction(tx_hash))
        if tx is None:
            raise InputError(
                f"transaction {tx_hash} is not in this home's history, nor known to the node"
            )
        rec = foreign_record(chain_id, tx, resend=resend)
        sender, nonce = rec.sender, rec.nonce
        mined: int = rpc.get(Q.nonce(sender, "latest"))
    else:
        assert nonce is not None
        sender = to_checksum_address(sender)
        asked: list[Query[Any]] = [
            Q.nonce(sender, "latest"), Q.transaction_at(sender, nonce), Q.pool_from(sender)
        ]  # fmt: skip
        count, held, pool = rpc.gather_all(asked)
        mined = answered(count)
        found = held if isinstance(held, dict) else _pooled(pool, nonce)
        if found is None and mined <= nonce:
            raise InputError(
                f"no pending transaction of {sender} at nonce {nonce}: none in this home, and "
                "the node holds none (or cannot say which: give its hash)"
            )
    if mined > nonce:
        raise ChainError(f"nonce {nonce} of {sender} is already used on chain")
    if tx_hash is None:
        rec = foreign_record(chain_id, found or {}, resend=resend)
    if (rec.sender, rec.nonce) != (sender, nonce) or rec.hash != (tx_hash or rec.hash):
        raise InconsistentAnswer(f"the node answered another transaction than {sender}'s")
    return rec


def _pooled(pool: object, nonce: int) -> JsonObject | None:
    """The transaction at ``nonce`` in a ``txpool_contentFrom`` answer (or its error)."""
    if not isinstance(pool, dict):
        return None
    for part in ("pending", "queued"):
        held = pool.get(part)
        tx = held.get(str(nonce)) if isinstance(held, dict) else None
        if isinstance(tx, dict):
            return tx
    return None


def check_outbids(repo: TxRepo, plan: TxPlan, rpc: RpcClient | None = None) -> None:
    """Refuse, before anything is signed, a transaction at a nonce it names (``send --nonce
    N``) where this home's open transaction, or else one its key signed elsewhere that the
    node holds (asked of ``rpc``, :func:`held_elsewhere`), has fees it does not raise by the
    node's replacement minimum, each of them: once signed the node refuses it ("replacement
    transaction underpriced"). The fees it needs are said exactly.

    Raises:
        InputError: naming the transaction at that nonce and the fees a replacement needs.
    """
    from walletim.chain.units import format_gwei

    if plan.nonce is None:
        return
    held = repo.at_nonce(plan.chain_id, to_checksum_address(plan.sender), plan.nonce)
    held = [r for r in held if r.status in ("signed", "pending")]
    whose = "this home's pending"
    if not held and rpc is not None:
        with contextlib.suppress(InputError):  # nothing holds it (or the node cannot say)
            held = [held_elsewhere(rpc, plan.chain_id, plan.sender, plan.nonce)]
        whose = "a transaction signed elsewhere with this key,"
    if not held:
        return
    cap = policy.bump(max(record_fees(r).per_gas for r in held), policy.NODE_MIN_BUMP_PERCENT)
    tip = policy.bump(max(_tip(record_fees(r)) for r in held), policy.NODE_MIN_BUMP_PERCENT)
    mine = Fees(max_fee=plan.max_fee, priority_fee=plan.priority_fee, gas_price=plan.gas_price)
    if mine.per_gas >= cap and _tip(mine) >= tip:
        return
    if mine.gas_price is not None:
        needed = f"a gas price of at least {format_gwei(max(cap, tip), exact=True)}"
        options = "--max-fee"
    else:
        needed = (
            f"a max fee of at least {format_gwei(cap, exact=True)} and a priority fee of at "
            f"least {format_gwei(tip, exact=True)}"
        )
        options = "--max-fee and --priority-fee"
    raise InputError(
        f"nonce {plan.nonce} is held by {whose} {held[-1].hash}: a transaction "
        f"replacing it needs {needed} (10% over it), or the node refuses it as underpriced; "
        f"give {options}, or use `walletim tx speedup` or `tx cancel`; nothing was signed"
    )


def _tip(fees: Fees) -> int:
    """What ``fees`` pays the block producer at most per gas (a legacy price is all tip)."""
    return fees.gas_price if fees.gas_price is not None else fees.priority_fee or 0
