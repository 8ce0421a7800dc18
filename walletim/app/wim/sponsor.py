"""Sponsored red-packet claims: a newcomer with no ETH for gas still receives their share.

The claimer signs its claim (``SponsoredClaim{packetId, claimer, deadline}``, EIP-712 in the
red-packet contract's domain: this chain, this contract) and sends it, with the creator's
voucher, to the packet's creator in a ``sponsored-claim`` chat message. The creator's client
checks it and submits ``RedPacket.claimFor``, paying the gas; the contract pays the share to
the claimer, never to whoever submits it, and at most once. Both sides see the claim from the
contract's own ``Claimed`` log.

What a client sponsors without asking (``chat inbox`` / ``chat listen``), so that a hostile
message cannot spend more than gas, nor anything else: only claims of packets this account
made, by the address the voucher names, who sent the message themselves (1:1, never in a
group); one submission per packet and claimer (a flood of copies is one row); the
transaction is built here, from this home's own packet record, to the pinned red-packet
contract, with no value; it is simulated before signing (nothing is sent if it would fail:
already claimed, expired, a bad signature) and its fee is capped (``auto_cap`` wei, the
``--sponsor-cap`` of the CLI). A claim above the cap waits for ``walletim redpacket sponsor``,
which shows the plan and asks like any transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from walletim.app.wim.ledger import Ledger
from walletim.app.wim.model import sender_of
from walletim.app.wim.packets import Packets
from walletim.app.wim.ports import MoneyPorts
from walletim.errors import (
    Aborted,
    ChainError,
    ContractReverted,
    InputError,
    MessagingError,
    RpcError,
    StepFailed,
)
from walletim.keys.hd import to_checksum_address
from walletim.messaging.kinds import SponsoredClaim, is_group_peer, parse_sponsored_claim
from walletim.store.sponsor import SponsorRepo, SponsorRow

if TYPE_CHECKING:
    from walletim.app.contracts import Outcome, Plan
    from walletim.store.chat import StoredMessage

#: What ``chat inbox`` / ``chat listen`` pay at most in gas for one claim without asking
#: (wei): 0.002 ETH, about 100,000 gas at 20 gwei.
AUTO_SPONSOR_CAP = 2 * 10**15


@dataclass(frozen=True, slots=True)
class AskResult:
    """A sponsored claim asked of the packet's creator: the claim signed by this account,
    and the message that carries it."""

    claim: SponsoredClaim
    creator: str
    message: StoredMessage
    delivered: bool  # False: not held by the relay yet (down, or no chat keys): it waits


@dataclass(frozen=True, slots=True)
class SponsorResult:
    """A sponsor's attempt at submitting a claim."""

    row: SponsorRow  # as it stands after this attempt
    outcome: Outcome | None  # the transaction, when one was sent
    fee: int | None = None  # wei this account paid in gas


class Sponsorship:
    def __init__(self, ports: MoneyPorts, ledger: Ledger, packets: Packets) -> None:
        self.p = ports
        self.ledger = ledger
        self.packets = packets

    def repo(self) -> SponsorRepo:
        return SponsorRepo(self.p.repo().store)

    # -- the claimer ------------------------------------------------------------------------

    def ask(self, account: str, packet_id: str) -> AskResult:
        """Sign ``account``'s claim of a packet offered to it and send it to the packet's
        creator, who submits it and pays the gas. Raises InputError (as a claim would:
        no voucher, already claimed, expired, nothing left)."""
        from walletim.app.redpacket import _packet_id

        me = self.p.address_of(account)
        pid = _packet_id(packet_id)
        self.packets.claim_plan(account, pid)  # the checks of a claim (the offer, the chain)
        row = self.p.repo().packet(me, pid, "in")
        assert row is not None and row.voucher is not None
        claim = self.p.packets().sign_claim(account, pid, row.voucher)
        body = claim.to_json()
        [message], delivered = self.p.chat().post(
            account, [(row.peer, "sponsored-claim", body, f"asked to submit my claim of {pid}")]
        )
        self.repo().save(
            SponsorRow(
                me, pid, me, "out", row.peer, json.dumps(body), claim.deadline, "asked",
                message_id=message.id, updated_ms=self.p.now_ms(),
            )
        )  # fmt: skip
        return AskResult(claim, row.peer, message, delivered)

    def check_asked(self, me: str) -> int:
        """The claims this account asked others to submit, looked up on chain: each one the
        contract's ``Claimed`` log now shows is recorded (the amount, a notice in the
        conversation). Returns how many changed. No error if the node cannot be asked."""
        changed = 0
        for row in self.repo().rows(me, "out", ("asked",)):
            try:
                st = self.p.packets().status(row.packet_id)
            except (InputError, RpcError, ChainError):
                continue
            amount = next((v for a, v in st.claims if a == me), None)
            if amount is None:
                changed += self._lapsed(me, row, st.state)
                continue
            self.repo().set_state(row, "claimed", amount=amount, now_ms=self.p.now_ms())
            self.p.repo().set_claimed(me, row.packet_id, amount)
            self.ledger.notice(
                me, row.peer, f"your claim of red packet {row.packet_id[:18]}… is on chain "
                f"(submitted for you, gas paid by another): you received {st.asset.fmt(amount)}",
            )  # fmt: skip
            changed += 1
        return changed

    def _lapsed(self, me: str, row: SponsorRow, state: str) -> int:
        """An asked claim that can no longer be paid (the packet is no longer open, or the
        signature's deadline passed unsubmitted): 'refused', said once; 1 if so, else 0."""
        if state == "open" and row.deadline * 1000 >= self.p.now_ms():
            return 0
        why = (
            f"the red packet is {state}"
            if state != "open"
            else "no one submitted it before its deadline (`walletim redpacket claim` signs "
            "a new one)"
        )
        self.repo().set_state(row, "refused", reason=why, now_ms=self.p.now_ms())
        self.ledger.notice(me, row.peer, f"your claim of red packet {row.packet_id[:18]}… "
                           f"was not submitted: {why}")  # fmt: skip
        return 1

    # -- the creator (or any sponsor) -----------------------------------------------------------

    def record_request(self, me: str, message: StoredMessage) -> None:
        """An incoming ``sponsored-claim``: recorded 'asked' when it may be submitted (see the
        module docstring). One that may not is not recorded at all (its message shows why:
        :func:`refusal`), so a flood of them leaves nothing to do. One claim per packet and
        claimer: a copy replaces only a claim refused before signing, or one not submitted yet
        by a later deadline (the claimer signed anew); never one being submitted, on chain, or
        failed on chain (gas was spent: nothing resubmits it by itself; any other sponsor can
        still submit the claimer's file). Raises MessagingError (malformed)."""
        claim = parse_sponsored_claim(message.body)
        sender = sender_of(message)
        if refusal(self.p, me, claim, sender, is_group_peer(message.peer)):
            return
        row = SponsorRow(
            me, claim.packet_id, to_checksum_address(claim.claimer), "in", sender,
            json.dumps(claim.to_json()), claim.deadline, "asked",
            message_id=message.id, updated_ms=self.p.now_ms(),
        )  # fmt: skip
        old = self.repo().get(me, row.packet_id, row.claimer, "in")
        if old is None or old.state == "refused":
            self.repo().save(row)
        elif old.state in ("asked", "waiting") and claim.deadline > old.deadline:
            self.repo().save(replace(row, state=old.state, reason=old.reason))

    def pending(self, account: str) -> list[SponsorRow]:
        """Claims asked of ``account`` and not submitted yet."""
        return self.repo().rows(self.p.address_of(account), "in", ("asked", "waiting"))

    def sponsor(
        self,
        account: str,
        *,
        auto_cap: int | None = None,
        only: Callable[[SponsorRow], bool] = lambda _row: True,
        confirm: Callable[[Plan], None] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> list[SponsorResult]:
        """Submit the claims asked of ``account`` (those ``only`` keeps), paying their gas.
        ``auto_cap`` (wei): no confirmation, at most that fee each; a claim above it is left
        'waiting'. Without it, each plan goes through ``confirm`` (which raises to stop).
        A claim asked by someone this account blocked since is not submitted while they stay
        blocked (nothing a blocked peer asks is acted on)."""
        me = self.p.address_of(account)
        out = []
        for row in self.repo().rows(me, "in", ("asked", "waiting", "sending")):
            if self.p.blocked(me, row.peer):
                continue
            if only(row) and (auto_cap is None or row.state != "waiting"):
                result = self._submit(account, row, auto_cap, confirm, progress)
                if result is not None:
                    out.append(result)
        return out

    def _submit(
        self,
        account: str,
        row: SponsorRow,
        auto_cap: int | None,
        confirm: Callable[[Plan], None] | None,
        progress: Callable[[str], None] | None,
    ) -> SponsorResult | None:
        if not self.repo().take(row, self.p.now_ms()):
            return None  # another process is submitting it
        claim = parse_sponsored_claim(json.loads(row.body))
        try:
            plan = self.p.packets().claim_for(account, claim, fee_cap=auto_cap)
            outcome = self.p.defi().execute(plan, confirm=confirm, progress=progress)
        except Aborted:
            self._mark(row, row.state, row.reason)  # as it was: asked again next time
            raise
        except (InputError, ContractReverted) as exc:  # it would fail, or may not be sent
            return self._mark(row, "refused", str(exc))
        except StepFailed as exc:  # sent, and it failed on chain: never again by itself
            self.repo().set_state(row, "failed", reason=str(exc), tx_hash=exc.tx_hash,
                                  now_ms=self.p.now_ms())  # fmt: skip
            failed = replace(row, state="failed", reason=str(exc), tx_hash=exc.tx_hash)
            return SponsorResult(failed, None)
        except ChainError as exc:  # above the cap, or the node: it waits for `redpacket
            return self._mark(row, "waiting", str(exc))  # sponsor` (which asks first)
        except BaseException:
            self._mark(row, row.state, row.reason)
            raise
        return self._settled(row, claim, outcome)

    def _mark(self, row: SponsorRow, state: str, reason: str) -> SponsorResult:
        self.repo().set_state(row, state, reason=reason, now_ms=self.p.now_ms())
        return SponsorResult(replace(row, state=state, reason=reason), None)

    def _settled(self, row: SponsorRow, claim: SponsoredClaim, outcome: Outcome) -> SponsorResult:
        """Record what the submitted claim did, from the contract's own Claimed log."""
        amount = self.p.packets().claimed_amount(outcome, claim.packet_id, claim.claimer)
        state = "claimed" if outcome.ok and amount is not None else "failed"
        tx = outcome.steps[-1].hash if outcome.steps else None
        self.repo().set_state(row, state, tx_hash=tx, amount=amount, now_ms=self.p.now_ms())
        fee = self._fee(outcome)
        return SponsorResult(replace(row, state=state, tx_hash=tx, amount=amount), outcome, fee)

    def _fee(self, outcome: Outcome) -> int | None:
        receipt = self.p.own.receipt(outcome.steps[-1].hash) if outcome.steps else None
        if receipt is None or receipt.effective_gas_price is None:
            return None
        return int(receipt.gas_used) * int(receipt.effective_gas_price)

    def submit_claim(
        self,
        account: str,
        claim: SponsoredClaim,
        *,
        confirm: Callable[[Plan], None] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> SponsorResult:
        """Any sponsor: submit ``claim`` (given by its claimer, e.g. as the JSON ``redpacket
        claim --sponsored --json`` prints) and pay its gas, after ``confirm``."""
        me = self.p.address_of(account)
        row = SponsorRow(
            me, claim.packet_id, to_checksum_address(claim.claimer), "in", claim.claimer,
            json.dumps(claim.to_json()), claim.deadline, "asked", updated_ms=self.p.now_ms(),
        )  # fmt: skip
        plan = self.p.packets().claim_for(account, claim)
        outcome = self.p.defi().execute(plan, confirm=confirm, progress=progress)
        self.repo().save(row)
        return self._settled(row, claim, outcome)


def refusal(ports: MoneyPorts, me: str, claim: SponsoredClaim, sender: str, in_group: bool) -> str:
    """Why the account at ``me`` does not sponsor ``claim`` sent by ``sender`` ("" if it may).
    Local checks only (no node is asked, nothing is spent): sent one to one by the claimer
    themselves, for this network and walletim's red-packet contract, of a packet this account
    made, signed by the claimer, with a voucher this account signed for them, not expired."""
    from walletim.app.redpacket import claimer_signer, voucher_signer
    from walletim.app.world_pins import REDPACKET

    if in_group:
        return "a sponsored claim is asked one to one, not in a group"
    if to_checksum_address(claim.claimer) != sender:
        return f"it is {claim.claimer}'s claim, sent by {sender}"
    if claim.chain_id != ports.chain_id:
        return f"it is for chain {claim.chain_id}, not this network's"
    if claim.contract.lower() != REDPACKET[0].lower():
        return "it names a contract that is not walletim's red-packet contract"
    if ports.repo().packet(me, claim.packet_id, "out") is None:
        return "it is not a red packet this account made"
    if claimer_signer(claim) != sender:
        return "the claimer's signature does not check"
    voucher = bytes.fromhex(claim.voucher[2:])
    if voucher_signer(claim.chain_id, claim.contract, claim.packet_id, sender, voucher) != me:
        return "its voucher is not one this account signed for the claimer"
    if claim.deadline * 1000 < ports.now_ms():
        return "the claimer's signature has expired"
    return ""


def parse_claim_document(data: bytes) -> SponsoredClaim:
    """A signed claim as a file holds it: the ``claim`` object ``redpacket claim --sponsored
    --json`` prints, or that whole document. Raises InputError."""
    from walletim import safejson

    doc = safejson.loads_document(data, max_bytes=16 * 1024, what="the claim", error=InputError)
    if isinstance(doc, dict) and isinstance(doc.get("claim"), dict):
        doc = doc["claim"]
    try:
        return parse_sponsored_claim(doc)
    except MessagingError as exc:
        raise InputError(f"not a signed red-packet claim: {exc}") from exc


def claims_of(rows: Sequence[SponsorRow]) -> list[SponsoredClaim]:
    return [parse_sponsored_claim(json.loads(r.body)) for r in rows]


__all__ = [
    "AUTO_SPONSOR_CAP",
    "AskResult",
    "SponsorResult",
    "Sponsorship",
    "claims_of",
    "parse_claim_document",
    "refusal",
]
