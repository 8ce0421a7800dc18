"""Red packets in chats: escrowed on chain (:mod:`walletim.app.redpacket`), their vouchers
carried in the chat. Everything shown of a packet is the red-packet contract's word: an
offer is recorded as the contract holds it, a claim counts from the contract's own log."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from walletim.app.wim.ledger import Ledger
from walletim.app.wim.model import (
    ClaimResult,
    PacketCheck,
    PacketResult,
    PacketView,
    check_note,
    misnamed,
    named,
    never_went,
    sender_of,
)
from walletim.app.wim.ports import Item, MoneyPorts
from walletim.app.wim.verify import Verifier
from walletim.errors import (
    ChainError,
    InputError,
    Interrupted,
    MessagingError,
    RpcError,
    StepFailed,
    WalletimError,
)
from walletim.keys.hd import to_checksum_address
from walletim.messaging.kinds import Asset as ClaimAsset
from walletim.messaging.kinds import PacketOffer, group_peer, parse_packet
from walletim.store.wim import PacketRow, VerdictState

if TYPE_CHECKING:
    from walletim.app.chain.flight import Flight
    from walletim.app.contracts import Outcome, Plan
    from walletim.app.defi import Asset
    from walletim.app.redpacket import NewPacket, PacketStatus
    from walletim.store.chat import StoredMessage


@dataclass(eq=False)
class Packets:
    """Red packets in chats. Collaborators: ``p`` (the money ports), ``verifier`` and
    ``ledger``."""

    p: MoneyPorts
    verifier: Verifier
    ledger: Ledger

    # -- making and claiming ------------------------------------------------------------------

    def create(
        self,
        account: str,
        total_text: str,
        shares: int,
        *,
        to: Sequence[str] = (),
        group: str | None = None,
        token: str | None = None,
        random: bool = False,
        expiry_s: int | None = None,
        note: str = "",
        confirm: Callable[[Plan], None] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> PacketResult:
        """Escrow a red packet on chain for ``to`` (peers) or every other member of
        ``group``, then deliver each recipient's voucher in the chat (to a group: one group
        message holding every member's voucher). Raises InputError, ChainError."""
        from walletim.app.redpacket import DEFAULT_EXPIRY_S

        if bool(to) == (group is not None):
            raise InputError("name the recipients with --to PEER... or --group GROUP (one)")
        check_note(note)
        me = self.p.address_of(account)
        group_id, recipients = self._recipients(account, me, to, group)
        # Where the vouchers go must be reachable (a blocked member still gets a group's).
        self.p.refuse_blocked(me, recipients if group_id is None else [group_peer(group_id)])
        new = self.p.packets().create(
            account, total_text, shares, recipients, token_text=token, random=random,
            expiry_s=expiry_s or DEFAULT_EXPIRY_S,
        )  # fmt: skip
        try:
            outcome = self.p.defi().execute(new.plan, confirm=confirm, progress=progress)
        except KeyboardInterrupt as exc:
            flights = self.p.own.in_flight()
            if len(flights) < len(new.plan.steps):
                raise  # the escrow itself was not signed: there is no packet to offer
            raise self._interrupted(account, me, new, (group_id, recipients, note),
                                    flights[-1]) from exc  # fmt: skip
        except StepFailed as exc:
            outcome = self._escrow_waits(new, exc)
        if not outcome.ok and outcome.steps[-1].status != "pending":
            raise ChainError(
                f"creating the red packet failed ({outcome.hash}: {outcome.steps[-1].status}); "
                "nothing was sent in the chat"
            )
        messages, delivered, peer = self._deliver(account, me, new, group_id, recipients, note)
        if outcome.ok:  # it just mined with these figures, in the receipt's block
            receipt = self.p.own.receipt(outcome.hash)
            made = None if receipt is None else (receipt.block_number, receipt.block_hash)
            self._save(me, new, messages[0].id, peer, "ok", made=made)
        else:
            self._save(me, new, messages[0].id, peer, "pending", "its escrow is not mined yet")
        return PacketResult(new, outcome, messages, delivered)

    def _escrow_waits(self, new: NewPacket, failed: StepFailed) -> Outcome:
        """The outcome of a packet whose escrow was sent and was not mined when the wait
        ended (pending past it, or replaced meanwhile by a speed-up of ours): it may still
        make the packet (read from the contract by its id, whichever transaction does), so
        its offer goes out as for a Ctrl-C. Raises ChainError when a mined cancel replaced
        it, ``failed`` for anything else."""
        from walletim.app.contracts.plans import Outcome as Outcomes
        from walletim.app.wim.replaced import cancelled_by

        flights = self.p.own.in_flight()[-len(new.plan.steps) :]
        if failed.status not in ("pending", "replaced") or len(flights) < len(new.plan.steps):
            raise failed
        if failed.status == "replaced" and (winner := cancelled_by(self.p, failed.tx_hash)):
            raise ChainError(f"the red packet's escrow {failed.tx_hash} was replaced by "
                             f"{winner}, which does not make it (a cancel): no packet was "
                             "made, nothing was sent in the chat") from failed  # fmt: skip
        return Outcomes.waiting(new.plan, [f.hash for f in flights])

    def _save(self, me: str, new: NewPacket, message_id: int, peer: str, state: str,
              reason: str = "", made: tuple[int, str] | None = None) -> None:  # fmt: skip
        """Store the packet this account made (``made``: the block its escrow mined in; its
        depth is read again by the next check if the node cannot say it now)."""
        row = PacketRow(
            me, new.packet_id, "out", peer[:2000], new.chain_id, new.contract,
            new.asset.address, new.asset.display, new.asset.decimals, new.total, new.shares,
            new.random, new.expiry, None, None, message_id, self.p.now_ms(), state,
            reason or impostor(new.asset),
        )  # fmt: skip
        if made is not None:
            with contextlib.suppress(RpcError, ChainError):
                row = self._escrowed(row, (made[0], made[1].lower()))
        self.p.repo().save_packet(row)

    def _interrupted(
        self,
        account: str,
        me: str,
        new: NewPacket,
        whom: tuple[str | None, list[str], str],
        flight: Flight,
    ) -> Interrupted:
        """Ctrl-C once the escrow was signed: the offer (the vouchers) is stored in the
        outbox with the packet (a second Ctrl-C waits for that) and sent if the relay answers
        at once, else with the next chat command; an offer for an escrow that never mines
        stays pending with its recipients, never claimable. Returns what to raise."""
        from walletim.app.chain.flights import interrupted_text
        from walletim.app.interrupts import held_interrupts

        group_id, recipients, note = whom
        state = "ok" if flight.status == "mined" else "pending"
        reason = "" if state == "ok" else "its escrow was not mined when the command stopped"
        delivered = False
        try:
            if group_id is None:
                with held_interrupts():
                    stored, _ = self._deliver(account, me, new, None, recipients, note, False)[:2]
                    self._save(me, new, stored[0].id, ",".join(recipients), state, reason)
                _none, reached = self.p.chat().post(account, [])
                delivered = reached and self.p.chats().message(stored[0].id).state == "sent"
            else:
                stored, delivered, peer = self._deliver(account, me, new, group_id, [], note)
                self._save(me, new, stored[0].id, peer, state, reason)
        except (KeyboardInterrupt, WalletimError):
            delivered = False
        told = (
            "its offer was sent in the chat"
            if delivered
            else "its offer waits in your outbox and goes out with your next chat command "
            "(`walletim chat inbox`)"
        )
        return Interrupted(
            f"{interrupted_text([flight])}; red packet {new.packet_id}: {told}; "
            f"`walletim redpacket status {new.packet_id}` reads it from the chain",
            [flight.json()],
        )

    def _recipients(
        self, account: str, me: str, to: Sequence[str], group: str | None
    ) -> tuple[str | None, list[str]]:
        """(the group's id or None, the recipients' addresses): a group's members from its
        verified roster, the inbox fetched first (a member removed on another device of this
        wallet gets no voucher). Raises InputError, RelayUnavailable."""
        chat = self.p.chat()
        if group is not None:
            g = chat.resolve_group(account, group, sync=True)
            return g.group_id, [m for m in g.members if m != me]
        recipients = list(dict.fromkeys(chat.resolve_peer(p) for p in to))
        if me in recipients:
            raise InputError("a red packet is for others: leave yourself out of --to")
        return None, recipients

    def _deliver(
        self,
        account: str,
        me: str,
        new: NewPacket,
        group_id: str | None,
        recipients: list[str],
        note: str,
        deliver: bool = True,
    ) -> tuple[tuple[StoredMessage, ...], bool, str]:
        """Post the vouchers (``deliver``: to the relay now too, else stored in the outbox):
        (messages, delivered, the packet's peer as stored)."""

        def offer(vouchers: dict[str, str]) -> PacketOffer:
            return PacketOffer(
                new.packet_id, new.chain_id, new.contract, me,
                ClaimAsset(new.asset.address, new.asset.symbol, new.asset.decimals), new.total,
                new.shares, new.random, new.expiry, vouchers, note,
            )  # fmt: skip

        chat = self.p.chat()
        if group_id is not None:
            o = offer(new.vouchers)
            copy, sent = chat.group_send(
                account, group_id, "redpacket", o.to_json(), o.text, keep=True
            )
            delivered = all(r.message.state == "sent" for r in sent)
            return (copy,), delivered, group_peer(group_id)
        items: list[Item] = []
        for r in recipients:
            o = offer({r: new.vouchers[r]})
            items.append((r, "redpacket", o.to_json(), o.text))
        stored, delivered = chat.post(account, items, deliver=deliver)
        return tuple(stored), delivered, ",".join(recipients)

    def claim(
        self,
        account: str,
        packet_id: str,
        *,
        confirm: Callable[[Plan], None] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> ClaimResult:
        """Claim a share of a red packet whose voucher reached this account in a chat.

        Raises InputError (no voucher, already claimed, expired, empty, another contract, an
        offer the red-packet contract does not bear out)."""
        from walletim.app.redpacket import _packet_id

        pid = _packet_id(packet_id)
        plan = self.claim_plan(account, pid)
        defi, contract = self.p.defi(), self.p.packets()
        outcome = defi.execute(plan, confirm=confirm, progress=progress)
        me = self.p.address_of(account)
        amount = contract.claimed_amount(outcome, pid, me) if outcome.ok else None
        if amount is not None:
            self.p.repo().set_claimed(me, pid, amount)
        row = self.p.repo().packet(me, pid, "in")
        return ClaimResult(
            outcome, pid, amount, defi.asset(row.asset if row and row.asset else "ETH")
        )

    def needs_sponsor(self, account: str, packet_id: str) -> int:
        """How much ETH (wei) ``account`` lacks to pay the gas of claiming the packet itself
        (0: it can; else a sponsored claim gets it its share). Raises as :meth:`claim`."""
        return self.p.packets().gas_short(self.claim_plan(account, packet_id))

    def claim_plan(self, account: str, packet_id: str) -> Plan:
        """The checked, simulated plan of :meth:`claim` (raises the same way)."""
        from walletim.app.redpacket import _packet_id

        me = self.p.address_of(account)
        pid = _packet_id(packet_id)
        repo = self.p.repo()
        row = repo.packet(me, pid, "in")
        if row is None or row.voucher is None:
            if row is not None:
                raise InputError(
                    f"red packet {pid[:18]}… came without a voucher its creator signed for "
                    f"{account}: only the recipients it names can claim it; nothing was signed"
                )
            waiting = sum(r.money for r in self.p.chat().requests(account))
            raise InputError(
                f"no red packet {pid[:18]}… was offered to {account} in a chat"
                + (
                    f" by someone you accepted: {waiting} money message(s) from senders you "
                    f"have not accepted wait in `walletim chat requests --from {account}`"
                    if waiting
                    else " (run `walletim chat inbox` to fetch new messages)"
                )
                + "; nothing was signed"
            )
        if row.chain_id != self.p.chain_id:
            raise InputError(f"this red packet is on chain {row.chain_id} (--network)")
        contract = self.p.packets()
        if row.contract != contract.contract:
            raise InputError(
                "this red packet names a contract that is not this network's red-packet "
                "contract; nothing was signed"
            )
        voucher = row.voucher
        if row.state != "ok":
            row = self._recheck(row)
            if row.state != "ok":
                raise InputError(f"this red packet cannot be claimed: {row.reason}")
        return contract.claim(account, pid, voucher)

    def check_claims(self, me: str) -> int:
        """Read the claims of the packets offered to the account at ``me`` that are still open
        with no claim recorded here, from the red-packet contract's own logs: one claimed on
        another of this wallet's devices shows claimed here too. Returns how many changed. No
        error if the node cannot be asked."""
        changed, repo, now = 0, self.p.repo(), self.p.clock()
        for row in repo.packets(me):
            if not self._unclaimed_offer(row, now):
                continue
            try:
                st = self.p.packets().status(row.packet_id)
            except (InputError, RpcError, ChainError):
                continue
            mine = next((v for a, v in st.claims if a == me), None)
            if mine is not None:
                repo.set_claimed(me, row.packet_id, mine)
                changed += 1
        return changed

    def _unclaimed_offer(self, row: PacketRow, now: float) -> bool:
        """An offer to this account, read from this chain, unexpired, with no claim recorded."""
        offered = row.direction == "in" and row.voucher is not None and row.state == "ok"
        here = row.chain_id == self.p.chain_id and row.expiry >= now
        return offered and here and row.claimed_amount is None

    def status(self, packet_id: str) -> PacketStatus:
        """What the red-packet contract says of a packet now (claims from its own logs)."""
        return self.p.packets().status(packet_id)

    # -- reading ------------------------------------------------------------------------------

    def packets(self, account: str) -> list[PacketRow]:
        """The red packets this account made or was offered; those not yet read from the
        chain are read again first (no error if the node cannot be asked)."""
        me = self.p.address_of(account)
        rows = self.p.repo().packets(me)
        return [self._recheck(r) if self._unsettled(r) else r for r in rows]

    def views(self, account: str) -> list[PacketView]:
        """Each packet of :meth:`packets` with what the contract says of it now (remaining,
        claims, this account's claim), or why that cannot be read."""
        me = self.p.address_of(account)
        return [self._view(me, row) for row in self.packets(account)]

    def _view(self, me: str, row: PacketRow) -> PacketView:
        if row.state != "ok":
            return PacketView(row, None, None, row.reason)
        if row.chain_id != self.p.chain_id:
            return PacketView(row, None, None, f"on chain {row.chain_id} (--network)")
        try:
            st = self.p.packets().status(row.packet_id)
        except (InputError, RpcError, ChainError) as exc:
            return PacketView(row, None, None, f"cannot read it now: {exc}")
        claims = dict(zip((a for a, _ in st.claims), st.claimed_in, strict=False))
        mine = next((v for a, v in st.claims if a == me), None)
        depth, final = 0, False
        if mine is not None and me in claims:
            depth, final = self.verifier.depth_of(claims[me])
        if row.direction == "in" and row.claimed_amount != mine:
            self.p.repo().set_claimed(me, row.packet_id, mine)
            if mine is None:  # recorded once, gone from the chain now: a reorg
                self.ledger.notice(
                    me, row.peer, f"your claim of red packet {row.packet_id[:18]}… is no "
                    "longer on the chain: a reorganisation removed it; claim it again",
                )  # fmt: skip
        return PacketView(row, st, mine, self._unsent(me, row), depth, final)

    def _unsent(self, me: str, row: PacketRow) -> str:
        """A packet's note: its token an impostor, how many of our offers never went."""
        unsent = (0, 0) if row.direction == "in" else self.p.repo().unsent_offers(me, row.packet_id)
        return "; ".join(x for x in (row.reason, never_went(*unsent)) if x)

    def checks(self, address: str, messages: Sequence[StoredMessage]) -> dict[int, PacketCheck]:
        """For each red-packet message among ``messages`` of the account at ``address``: what
        the red-packet contract said of it when last read, and the line to show (from the
        chain, with the sender's note), or None when the chain has not borne it out. No
        network."""
        return {m.id: self.check(address, m) for m in messages if m.kind == "redpacket"}

    def check(self, me: str, m: StoredMessage) -> PacketCheck:
        """One red-packet message of :meth:`checks`."""
        from walletim.app.redpacket import offer_disagreement, packet_line

        try:
            offer = parse_packet(m.body)
        except (MessagingError, ValueError, TypeError, KeyError):
            return PacketCheck("mismatch", "not a well-formed red packet", 0, None, None)
        pid = offer.packet_id.lower()
        sender = sender_of(m)
        problem = _offer_problem(offer, sender)
        if problem:
            return PacketCheck("mismatch", problem, 0, None, pid)
        row = self.p.repo().packet(me, pid, m.direction)
        if row is None:
            return PacketCheck("pending", "not read from the chain yet", 0, None, pid)
        if row.state in ("pending", "forged"):
            state: VerdictState = "pending" if row.state == "pending" else "mismatch"
            return PacketCheck(state, row.reason, 0, None, pid)
        if m.direction == "in" and row.peer != sender:
            why = f"the red-packet contract says {row.peer} made it, not {sender}"
            return PacketCheck("mismatch", why, 0, None, pid)
        shown = packet_line(row, offer.note)
        # An 'ok' row's reason: the chain's packet is in an impostor token (as a payment).
        differs = offer_disagreement(offer, row) or self._misnamed(offer) or row.reason
        if differs:
            return PacketCheck("mismatch", differs, 0, shown, pid)
        if row.block_number is None:
            why = "its escrow's block is not read from the chain yet"
            return PacketCheck("pending", why, 0, shown, pid)
        # The escrow counts as a payment does: its confirmations, final by the same rules.
        v = self.verifier.at_depth(row.confirmations, row.final)
        return PacketCheck(v.state, v.reason, v.confirmations, shown, pid, v.final)

    def _misnamed(self, offer: PacketOffer) -> str:
        """Why the offer names its token by another listed token's symbol ("" if it does
        not): the payments' rule (:func:`~walletim.app.wim.model.misnamed`)."""
        if offer.asset.address is None:
            return ""
        try:
            return misnamed(self.p.tokens(), offer.asset.address, offer.asset.symbol, "offer")
        except WalletimError:
            return ""

    # -- the chain's word -----------------------------------------------------------------------

    def record_offer(self, me: str, message: StoredMessage) -> None:
        """Record a red-packet offer as the red-packet contract holds it. Not recorded (and
        shown as a mismatch by :meth:`checks`): an offer naming a creator other than its
        sender, or a contract other than walletim's. A voucher not signed by the creator for
        ``me`` is dropped. Raises MessagingError (malformed)."""
        from walletim.app.redpacket import voucher_signer

        offer = parse_packet(message.body)
        sender = sender_of(message)
        if _offer_problem(offer, sender):
            return
        voucher = offer.vouchers.get(to_checksum_address(me))
        if voucher is not None:
            signer = voucher_signer(
                offer.chain_id, offer.contract, offer.packet_id, me, bytes.fromhex(voucher[2:])
            )
            if signer != offer.creator:
                voucher = None
        self._save_offer(me, message, offer, sender, voucher)

    def record_copy(self, me: str, message: StoredMessage) -> None:
        """Record a red packet this wallet made on another of its devices (the copy of an
        offer it sent), as the red-packet contract holds it: only one naming this wallet as
        its creator and walletim's contract (else not recorded, and shown as a mismatch),
        and 'forged' if the contract names another creator. Each recipient's copy adds its
        peer. Raises MessagingError (malformed)."""
        offer = parse_packet(message.body)
        if _offer_problem(offer, me):
            return
        pid, repo = offer.packet_id.lower(), self.p.repo()
        known = repo.packet(me, pid, "out")
        if known is not None:
            if message.peer not in known.peer.split(","):
                repo.set_packet_state(replace(known, peer=f"{known.peer},{message.peer}"[:2000]))
            return
        symbol, decimals = named(
            self.p.tokens, self.p.chain_id, offer.chain_id, offer.asset.address,
            offer.asset.decimals,
        )  # fmt: skip
        row = PacketRow(
            me, pid, "out", message.peer, offer.chain_id, offer.contract, offer.asset.address,
            symbol, decimals, offer.total, offer.shares, offer.random, offer.expiry, None, None,
            message.id, self.p.now_ms(),
        )  # fmt: skip
        repo.save_packet(self._read(row))

    def _save_offer(self, me: str, message: StoredMessage, offer: PacketOffer, sender: str,
                    voucher: str | None) -> None:  # fmt: skip
        symbol, decimals = named(
            self.p.tokens,
            self.p.chain_id,
            offer.chain_id,
            offer.asset.address,
            offer.asset.decimals,
        )
        row = PacketRow(
            me, offer.packet_id.lower(), "in", sender, offer.chain_id, offer.contract,
            offer.asset.address, symbol, decimals, offer.total,
            offer.shares, offer.random, offer.expiry, voucher, None, message.id, self.p.now_ms(),
        )  # fmt: skip
        self.p.repo().save_packet(self._read(row))

    def _read(self, row: PacketRow) -> PacketRow:
        """``row`` as the red-packet contract holds it now: 'ok' with the contract's figures
        and its escrow's depth, 'forged' if the contract names another creator, 'pending'
        (with why) if it cannot be read (another network, no contract here, the node
        unreachable, no such packet yet). A row read 'ok' before stays as it was when the
        node cannot be asked now (that says nothing of the packet)."""
        if row.chain_id != self.p.chain_id:
            return replace(row, state="pending", reason=f"on chain {row.chain_id} (--network)")
        try:
            reader = self.p.packets()
            contract = reader.contract
        except InputError:
            why = "no red-packet contract is known on this network"
            return replace(row, state="pending", reason=why)
        except (RpcError, ChainError) as exc:
            return self._unread(row, exc)
        try:
            p = reader.on_chain(row.packet_id)
            if p is None:
                why = "the red-packet contract has no such packet (yet)"
                return replace(row, state="pending", reason=why)
            creator = row.peer if row.direction == "in" else row.account
            if p.creator != creator:
                why = f"the red-packet contract says {p.creator} made it, not {creator}"
                return replace(row, state="forged", reason=why)
            return self._escrowed(replace(
                row, contract=contract, asset=p.asset.address, symbol=p.asset.display,
                decimals=p.asset.decimals, total=p.total, shares=p.shares, random=p.random,
                expiry=p.expiry, state="ok", reason=impostor(p.asset),
            ), reader.created_in(row.packet_id, p.creator))  # fmt: skip
        except InputError as exc:  # e.g. its token does not answer like an ERC-20
            return replace(row, state="pending", reason=f"cannot read it: {exc}")
        except (RpcError, ChainError) as exc:
            return self._unread(row, exc)

    @staticmethod
    def _unread(row: PacketRow, exc: WalletimError) -> PacketRow:
        """``row`` when the node could not be asked: as it was if read 'ok' before."""
        return row if row.state == "ok" else replace(row, state="pending",
                                                     reason=f"cannot check now: {exc}")  # fmt: skip

    def _escrowed(self, row: PacketRow, made: tuple[int, str] | None) -> PacketRow:
        """``row`` with its escrow's block ``made`` (None: not found) and how deep that block
        is now, by the payments' rules (:meth:`Verifier.depth_of`). Raises RpcError."""
        if made is None:
            return replace(row, block_number=None, block_hash=None, confirmations=0, final=False)
        depth, final = self.verifier.depth_of(made[0])
        return replace(row, block_number=made[0], block_hash=made[1], confirmations=depth,
                       final=final)  # fmt: skip

    def _unsettled(self, row: PacketRow) -> bool:
        """Whether ``row`` is to be read from the chain again: not read yet, or read on this
        chain with its escrow's block not final (a reorganisation may still remove it)."""
        return row.state != "ok" or (row.chain_id == self.p.chain_id and not row.final)

    def check_escrows(self, me: str) -> int:
        """Read again the packets of the account at ``me`` whose escrow is not final yet (its
        depth, or a reorganisation that removed it), and the newest :data:`PENDING_READS` on
        this chain not read yet (an offer that came before its escrow was mined; a bound, as
        a peer may offer packets that never exist); returns how many changed. No error if
        the node cannot be asked."""
        rows = self.p.repo().packets(me)  # newest first
        ok = [r for r in rows if r.state == "ok" and self._unsettled(r)]
        waiting = [r for r in rows if r.state == "pending" and r.chain_id == self.p.chain_id]
        return sum(self._recheck(r) != r for r in ok + waiting[:PENDING_READS])

    def _recheck(self, row: PacketRow) -> PacketRow:
        checked = self._read(row)
        if checked != row:
            self.p.repo().set_packet_state(checked)
        return checked


#: How many packets not read from the chain yet each check reads again (newest first).
PENDING_READS = 8


def impostor(asset: Asset) -> str:
    """Why money in ``asset`` is not what its symbol says: a token imitating a listed one's
    symbol, as a payment in it reads ("" for any other asset)."""
    label = asset.label
    return f"impostor: {label.display}" if label is not None and label.status == "impostor" else ""


def _offer_problem(offer: PacketOffer, sender: str) -> str:
    """Why an offer is not walletim's red packet from its sender ("" if it may be)."""
    from walletim.app.world_pins import REDPACKET

    if offer.contract.lower() != REDPACKET[0].lower():
        return (
            f"it names the contract {offer.contract}, not walletim's red-packet contract: "
            "not a red packet you can claim"
        )
    if offer.creator != sender:
        return f"it says {offer.creator} made it, but {sender} sent it"
    return ""


__all__ = ["Packets"]
