"""Is a money message true? What the chain says of a payment claim or a shared DeFi action.

A payment message carries the payer's EIP-712 signature over {chain id, transaction, from,
to, asset, amount, request id, note}; it is checked against the chat sender, then the chain:
the transaction's sender, its receipt status, the recipient and amount (the value for ETH,
the token's Transfer log otherwise, decoded through :mod:`walletim.app.wim.logs`), the token
as this network's token lists name it, and the number of confirmations. One transaction pays
one claim: citing it again is a mismatch.

Nor is the node taken at its word for someone else's claim: the transaction's fields come
from its signed bytes and its receipt's block must check out
(:mod:`walletim.app.evidence`, behind the :class:`~walletim.app.wim.ports.ChainReads` port).
A payment this home just made itself is judged from its own signed bytes and the receipt it
waited for (:meth:`Verifier.own_payment`): no second fetch of what it already has.

States: ``pending`` (not mined yet, not enough confirmations, or on another network),
``verified`` (final or not), ``failed`` (reverted) and ``mismatch`` (the claim does not match
the chain). Raises RpcError / ChainError when the node cannot be asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from walletim.app.wim import logs
from walletim.app.wim.model import GRACE_S, MAX_FINALITY_DEPTH, Verdict, misnamed, sender_of
from walletim.app.wim.ports import MoneyPorts
from walletim.chain.units import format_amount
from walletim.messaging.kinds import (
    GROUP_PREFIX,
    LEND_ACTIONS,
    PaymentClaim,
    SharedAction,
    base_units,
    is_group_peer,
)

if TYPE_CHECKING:
    from walletim.app.evidence import Mined
    from walletim.chain.evidence import ChainTx
    from walletim.store.chat import StoredMessage
    from walletim.store.txs import ReceiptRecord
    from walletim.store.wim import PaymentRow

NOT_ON_CHAIN = "the transaction is not on chain (yet)"
#: A payment's transaction the node has never seen, long after its claim came.
NO_SUCH_TX = "no such transaction on this chain"
#: A payment's transaction the node held once (its nonce recorded) and forgot, that nonce since
#: used by a mined transaction of the payer: replaced (a cancel, or a speed-up told apart).
REPLACED_UNTOLD = "replaced by another transaction of the payer"
#: Money said in a group whose roster no signed change has verified, long after it came (a
#: mismatch checked again: the group's history may still arrive).
UNVERIFIED_GROUP = "said in a group whose roster is not verified"


@dataclass(slots=True)
class Rules:
    """When a payment counts: ``min_confirmations`` make it verified; it is final
    ``finality`` blocks deep (0: at or below the node's ``finalized`` block); a cited
    transaction the node has never seen is a mismatch ``grace_s`` seconds after its message
    arrived."""

    min_confirmations: int = 1
    finality: int = 0
    grace_s: int = GRACE_S


class Verifier:
    """Judges payment claims and shared actions against the chain (see the module docstring)
    by its :class:`Rules`."""

    def __init__(self, ports: MoneyPorts, rules: Rules | None = None) -> None:
        self.p = ports
        self.rules = rules or Rules()

    # -- payments ---------------------------------------------------------------------------

    def verify_payment(
        self, claim: PaymentClaim, message: StoredMessage, row: PaymentRow
    ) -> Verdict:
        """What the chain says of ``claim`` carried by ``message`` (stored as ``row``).
        Raises RpcError / ChainError when the node cannot be asked (the caller
        keeps the payment pending)."""
        early = self._claim_problem(claim, message)
        if early is not None:
            return early
        unknown = Verdict("pending", NOT_ON_CHAIN, 0)
        if self._late(message):
            unknown = Verdict("mismatch", NO_SUCH_TX, 0)
        found = self._mined(claim.tx, claim.payer, unknown)
        if found is unknown:
            return self._nonce_used(row, _told_nonce(claim, message, self.p.chain_id)) or unknown
        if isinstance(found, Verdict):
            return found
        tx, where = found
        return self._judge(claim, row, tx, where.receipt.get("logs"), where)

    def _nonce_used(self, row: PaymentRow, told: int | None = None) -> Verdict | None:
        """Failed, replaced, when the claimed transaction (one the node does not hold now) was
        signed with a nonce of the payer's (its own bytes said so: when the node held it, or
        ``told``, from the bytes the payer's message carries, which hash to it) that a
        transaction in a final block has used since: it can never be mined (the chain's
        word, not the payer's; final, so no reorg or lagging node makes a mined payment read
        so); pending while that block is not final (however long finality takes, never a
        mismatch meanwhile). Not for this home's own payments: it follows those itself
        (:func:`~walletim.app.wim.replaced.follow_replaced` tells a speed-up)."""
        nonce = row.nonce if row.nonce is not None else told
        if nonce is None or (row.direction == "out" and self.p.own.signed(row.tx_hash)):
            return None
        chain, head = self.p.chain, self.p.chain.head()
        if chain.nonce(row.payer, head) <= nonce:
            return None  # its nonce is unused: it may still be mined
        used = f"{REPLACED_UNTOLD} at its nonce {nonce} (a cancel, or a speed-up not told here)"
        if self.rules.finality > 0:
            final: int | None = head - self.rules.finality + 1
        else:
            final = chain.finalized_height()
            final = head - MAX_FINALITY_DEPTH + 1 if final is None else final
        if final is None or final < 0 or chain.nonce(row.payer, final) <= nonce:
            return Verdict("pending", f"{used}, in a block not final yet", 0)
        return Verdict("failed", f"{used}: it can never be mined, and paid nothing", 0)

    def own_payment(
        self,
        claim: PaymentClaim,
        row: PaymentRow,
        signed: ChainTx,
        receipt: ReceiptRecord,
    ) -> Verdict:
        """The verdict on a payment this home just made: from its own signed bytes and the
        receipt it waited for (no second fetch; the block checks are for others' claims)."""
        if signed.hash.lower() != claim.tx.lower() or receipt.hash.lower() != claim.tx.lower():
            return Verdict("mismatch", "the claim cites another transaction", 0)
        problem = self._tx_problem(signed, claim.payer)
        if problem is not None:
            return problem
        if receipt.status != 1:
            return Verdict("failed", "the transaction reverted", 1)
        where = _Seen(receipt.block_number, receipt.block_hash.lower(), 1)
        return self._judge(claim, row, signed, receipt.logs, where)

    def _claim_problem(self, claim: PaymentClaim, message: StoredMessage) -> Verdict | None:
        """Why the claim is false or not yet judgeable before asking the chain (None: ask)."""
        from walletim.keys.signing import verify_typed_data

        sender = sender_of(message)
        if claim.payer != sender:
            return Verdict(
                "mismatch", f"the claim says {claim.payer} paid, but {sender} sent it", 0
            )
        payee = message.account if message.direction == "in" else message.peer
        if not is_group_peer(message.peer) and claim.payee != payee:
            whom = "you" if message.direction == "in" else f"{payee}, to whom it was sent"
            return Verdict("mismatch", f"the claim pays {claim.payee}, not {whom}", 0)
        gate = self.group_gate(message, sender)
        if gate is not None:
            return gate
        try:
            good = verify_typed_data(
                claim.payer, claim.typed_data(), bytes.fromhex(claim.signature[2:])
            )
        except Exception:
            good = False
        if not good:
            return Verdict("mismatch", "the payer's signature on the claim does not verify", 0)
        if claim.chain_id != self.p.chain_id:
            return Verdict(
                "mismatch",
                f"the claim is for chain {claim.chain_id}; this network is chain {self.p.chain_id}",
                0,
            )
        return None

    def _judge(
        self,
        claim: PaymentClaim,
        row: PaymentRow,
        tx: ChainTx,
        receipt_logs: object,
        where: _Seen | Mined,
    ) -> Verdict:
        # One transaction pays once: only its own sender's earlier claims count, so nobody
        # can squat an honest payment by claiming it first.
        earlier = self.p.repo().first_claim(row.account, row.direction, claim.tx, claim.payer,
                                           row.id)  # fmt: skip
        if earlier is not None:
            return Verdict(
                "mismatch", "this transaction was already claimed by an earlier message", 0
            )
        problem = self._moves(claim, tx, receipt_logs if isinstance(receipt_logs, list) else [])
        if problem:
            return Verdict("mismatch", problem, where.confirmations)
        verdict = self._confirmed(where)
        if verdict.state == "verified" and claim.asset.address is not None:
            label = self.p.tokens().label(claim.asset.address)
            if not label.listed:  # verified, but say that no token list vouches for the token
                verdict = Verdict("verified", f"unlisted token: {label.display}",
                                  verdict.confirmations, verdict.final, verdict.block)  # fmt: skip
        return verdict

    def _moves(self, claim: PaymentClaim, tx: ChainTx, receipt_logs: Sequence[object]) -> str:
        """Why the transaction does not move what the claim says ("" if it does)."""
        asset = claim.asset
        if asset.address is None:
            if (tx.to or "").lower() != claim.payee.lower():
                return "the transaction pays someone else"
            if tx.value != claim.amount:
                return (
                    f"the transaction moves {format_amount(tx.value)} ETH, the claim says "
                    f"{format_amount(claim.amount)} ETH"
                )
            return ""
        # The token is named by this network's token lists (the TokenBook), never by the claim
        # or, for a listed token, the node: a claim naming a listed symbol for a token at
        # another address, or a token imitating a listed symbol, is an impostor.
        if problem := self.token_problem(asset.address):
            return problem
        book = self.p.tokens()
        label = book.label(asset.address)
        if wrong := misnamed(book, label.address, asset.symbol, "claim"):
            return wrong
        if asset.decimals != label.decimals:
            return (
                f"the claim says {label.display} has {asset.decimals} decimals; it has "
                f"{label.decimals}"
            )
        moved = logs.arrived(receipt_logs, asset.address, claim.payer, claim.payee)
        if moved == 0:
            return f"the transaction moves no {label.display} from the payer to the payee"
        if moved != claim.amount:
            return (
                f"the transaction moves {format_amount(moved, label.decimals)} {label.display}, "
                f"the claim says {format_amount(claim.amount, label.decimals)}"
            )
        return ""

    def token_problem(self, address: str) -> str:
        """Why no payment in the token at ``address`` is ever verified, whatever it moves
        ("" if one may be): not an ERC-20 token, or an impostor of a listed one (a mismatch
        on every end; what a payer is told before signing one). Raises RpcError."""
        label = self.p.tokens().label(address)
        if not label.decimals_known:
            return f"{address} is not an ERC-20 token"
        if label.status == "impostor":
            return f"impostor: {label.display}"
        return ""

    # -- shared actions ---------------------------------------------------------------------

    def verify_action(self, action: SharedAction, actor: str) -> Verdict:
        """Check a shared swap, vault deposit or lending action made by ``actor`` against its
        receipt's logs (a lending action against the event of this network's pinned Aave
        Pool, never the address the claim names). Raises RpcError when the node cannot be
        asked."""
        if action.chain_id != self.p.chain_id:
            return Verdict(
                "mismatch",
                f"the action is on chain {action.chain_id}; this is chain {self.p.chain_id}",
                0,
            )
        found = self._mined(action.tx, actor, Verdict("pending", NOT_ON_CHAIN, 0))
        if isinstance(found, Verdict):
            return found
        tx, where = found
        receipt_logs = where.receipt.get("logs")
        shown = receipt_logs if isinstance(receipt_logs, list) else []
        if action.action in LEND_ACTIONS:
            from walletim.app.lending.share import check_logs

            why = check_logs(action.action, action.claim, shown, actor, self.p.aave_pool())
            if why:
                return Verdict("mismatch", why, 0)
        elif action.action == "swap":
            if not self._swapped(action.claim, actor, tx, shown):
                return Verdict("mismatch", "the swap's logs do not show these amounts", 0)
        elif not _deposit_logged(action.claim, actor, shown):
            return Verdict("mismatch", "the vault's Deposit log does not show this", 0)
        return self._confirmed(where)

    def _swapped(
        self, c: Mapping[str, str], actor: str, tx: ChainTx, receipt_logs: Sequence[object]
    ) -> bool:
        raw_in, raw_out = _raw(c.get("raw_in", "")), _raw(c.get("raw_out", ""))
        gave, got = c.get("token_in"), c.get("token_out")
        if gave == "ETH":
            ok_in = tx.value == raw_in
        else:
            # What the swapper paid of it (to the pool, and any fee the token takes).
            ok_in = gave is not None and logs.paid_out(receipt_logs, gave, actor) == raw_in
        if got == "ETH":
            # ETH out of a Uniswap V2 swap is WETH unwrapped by the router: only the real
            # WETH's Withdrawal counts (any contract can emit an event of that shape).
            weth = self.p.weth()
            ok_out = weth is not None and logs.withdrawn(receipt_logs, weth, raw_out)
        else:
            # What the swapper nets of it (a token that taxes its recipient takes some back).
            ok_out = got is not None and logs.netted(receipt_logs, got, actor) == raw_out
        return ok_in and ok_out

    # -- the chain ---------------------------------------------------------------------------

    def _mined(
        self, tx_hash: str, sender: str, unknown: Verdict
    ) -> Verdict | tuple[ChainTx, Mined]:
        """(transaction, where it was mined, successfully) of ``tx_hash`` sent by ``sender``,
        or the verdict when it is not that: ``unknown`` if the node has never seen it, a
        mismatch for another sender or another chain, pending before it is mined, failed if
        it reverted. Raises InconsistentAnswer (a ChainError: stays pending), RpcError."""
        tx, where = self.p.chain.mined(tx_hash, confirmations=self.depth)
        if tx is None:
            return unknown
        problem = self._tx_problem(tx, sender)
        if problem is not None:
            return problem
        if where is None:
            return Verdict("pending", "not mined yet", 0, nonce=tx.nonce)
        if not where.succeeded:
            return Verdict("failed", "the transaction reverted", where.confirmations)
        return tx, where

    def _tx_problem(self, tx: ChainTx, sender: str) -> Verdict | None:
        if tx.chain_id is not None and tx.chain_id != self.p.chain_id:
            return Verdict("mismatch", f"the transaction is signed for chain {tx.chain_id}", 0)
        if tx.sender.lower() != sender.lower():
            return Verdict("mismatch", "the transaction was sent by someone else", 0)
        return None

    @property
    def depth(self) -> int:
        """How many headers after a block a check links and hash-checks."""
        return max(self.rules.min_confirmations, self.rules.finality)

    def _confirmed(self, where: _Seen | Mined) -> Verdict:
        """Verified (final or not) or pending, by how deep ``where`` is."""
        n = where.confirmations
        final = n >= self.rules.min_confirmations and self._is_final(where.block_number, n)
        return self.at_depth(n, final, (where.block_number, where.block_hash))

    def at_depth(
        self, confirmations: int, final: bool, block: tuple[int, str] | None = None
    ) -> Verdict:
        """Verified (``final`` or not) with ``confirmations``, or pending with fewer than
        the rules want: the one rule for money in a block (no network; ``final`` as
        :meth:`depth_of` said)."""
        n, wanted = confirmations, self.rules.min_confirmations
        if n < wanted:
            return Verdict("pending", f"{n} of {wanted} confirmations", n, False, block)
        return Verdict("verified", "", n, final, block)

    def _is_final(self, block: int, confirmations: int) -> bool:
        """Deep enough on a network with a finality depth; at or below the node's
        ``finalized`` block otherwise (a depth of 64 on a node without that tag)."""
        if self.rules.finality > 0:
            return confirmations >= self.rules.finality
        height = self.p.chain.finalized_height()
        if height is None:
            return confirmations >= MAX_FINALITY_DEPTH
        return block <= height

    def depth_of(self, block: int) -> tuple[int, bool]:
        """(confirmations, final) of a block at height ``block`` of the node's chain (a log's
        block, read from the node's current chain). Raises RpcError."""
        depth = max(0, self.p.chain.head() - block + 1)
        return depth, self._is_final(block, depth)

    # -- groups -------------------------------------------------------------------------------

    def _late(self, message: StoredMessage) -> bool:
        return self.p.clock() - message.stored_ms / 1000 > self.rules.grace_s

    def group_gate(self, message: StoredMessage, sender: str) -> Verdict | None:
        """Money said in a group counts only if the group's roster is verified (it comes from
        signed membership changes) and the sender is in it, or was (the chat stored the
        message from a member: one who left or was removed since does not undo it); else why
        not (pending while the roster may still arrive, a mismatch after the grace period)."""
        from walletim.store.groups import GroupTx

        if not is_group_peer(message.peer):
            return None
        gid = message.peer[len(GROUP_PREFIX) :]
        group = self.p.chats().group(message.account, gid)
        if group is not None and group.verified:
            if sender in group.members:
                return None
            if GroupTx(self.p.repo().store).ever_member(message.account, gid, sender):
                return None
        if self._late(message):
            return Verdict("mismatch", UNVERIFIED_GROUP, 0)
        return Verdict("pending", UNVERIFIED_GROUP + " (yet)", 0)


class _Seen:
    """Where our own transaction was mined, from the receipt we waited for."""

    __slots__ = ("block_hash", "block_number", "confirmations")

    def __init__(self, block_number: int, block_hash: str, confirmations: int) -> None:
        self.block_number = block_number
        self.block_hash = block_hash
        self.confirmations = confirmations


#: The most bytes of a signed transaction a payment message's ``raw`` is read from.
MAX_RAW_TX = 4096


def _told_nonce(claim: PaymentClaim, message: StoredMessage, chain_id: int) -> int | None:
    """The nonce of the claimed transaction from the signed bytes the payer's message
    carries (``raw``, sent while it was pending), only if they hash to that transaction
    and were signed by the payer on this chain: the transaction's own word, as a node's
    would be, so no lie about it is taken (None otherwise)."""
    from walletim.chain.evidence import verified_transaction
    from walletim.errors import WalletimError

    body = message.body
    raw = body.get("raw") if isinstance(body, dict) else None
    if not isinstance(raw, str) or not raw.startswith("0x") or len(raw) > 2 + 2 * MAX_RAW_TX:
        return None
    try:
        tx = verified_transaction(claim.tx, bytes.fromhex(raw[2:]))
    except (WalletimError, ValueError, TypeError, IndexError):
        return None
    if tx.sender.lower() != claim.payer.lower() or tx.chain_id not in (None, chain_id):
        return None
    return tx.nonce


def _raw(text: str) -> int:
    """A claim's raw amount (:func:`~walletim.messaging.kinds.base_units`), or -1 (matches
    nothing)."""
    value = base_units(text)
    return -1 if value is None else value


def _deposit_logged(c: Mapping[str, str], actor: str, receipt_logs: Sequence[object]) -> bool:
    vault = c.get("vault")
    return vault is not None and logs.deposited(
        receipt_logs, vault, actor, _raw(c.get("raw_assets", "")), _raw(c.get("raw_shares", ""))
    )


__all__ = ["NOT_ON_CHAIN", "NO_SUCH_TX", "REPLACED_UNTOLD", "UNVERIFIED_GROUP", "Rules", "Verifier"]
