"""How money messages show in a chat: from this home's own checked records (what the chain
said when last asked, the request this account made), never from the sender's words except
their note. No network here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from walletim.app.wim.model import MoneyView, Verdict, named, sender_of
from walletim.app.wim.packets import Packets
from walletim.app.wim.ports import MoneyPorts
from walletim.app.wim.verify import Verifier
from walletim.chain.units import format_amount
from walletim.errors import MessagingError, WalletimError
from walletim.keys.hd import to_checksum_address
from walletim.messaging.kinds import (
    LEND_ACTIONS,
    SharedAction,
    base_units,
    parse_action,
    parse_packet,
)
from walletim.store.wim import ActionRow, VerdictState

if TYPE_CHECKING:
    from walletim.store.chat import StoredMessage


_MONEY = frozenset({"payment", "request", "redpacket", "action"})


class Views:
    def __init__(self, ports: MoneyPorts, verifier: Verifier, packets: Packets) -> None:
        self.p = ports
        self.verifier = verifier
        self.packets = packets

    def verdicts(self, address: str, message_ids: Sequence[int]) -> dict[int, Verdict]:
        """What the chain said (when last asked) of the payments and shared actions carried by
        these messages of the account at ``address``."""
        repo = self.p.repo()
        out = {}
        for mid in message_ids:
            payment = repo.payment_for_message(mid)
            if payment is not None:
                out[mid] = Verdict(
                    payment.state, payment.reason, payment.confirmations, payment.final
                )
                continue
            action = repo.action(address, mid)
            if action is not None:
                out[mid] = Verdict(action.state, action.reason, action.confirmations, action.final)
        return out

    def views(self, address: str, messages: Sequence[StoredMessage]) -> dict[int, MoneyView]:
        """How each money message among ``messages`` of the account at ``address`` shows.
        Incoming money in a conversation the account has not consented to (a request from a
        stranger) has no view: it is not money until the conversation is accepted."""
        out: dict[int, MoneyView] = {}
        consent: dict[str, bool] = {}
        for m in messages:
            if m.direction == "in" and m.kind in _MONEY:
                if m.peer not in consent:
                    consent[m.peer] = self.p.consented(address, m.peer)
                if not consent[m.peer]:
                    continue
            view = self.view(address, m)
            if view is not None:
                out[m.id] = view
        return out

    def view(self, me: str, m: StoredMessage) -> MoneyView | None:
        if m.kind == "payment":
            return self._payment(m)
        if m.kind == "request":
            return self._request(me, m)
        if m.kind == "redpacket":
            return self._packet(me, m)
        if m.kind == "action":
            return self._action(me, m)
        if m.kind == "sponsored-claim":
            return self._sponsored(me, m)
        return None

    def _sponsored(self, me: str, m: StoredMessage) -> MoneyView | None:
        """A claim signed for someone else to submit: what became of it (this home's record of
        that packet and claimer, the amount from the contract's Claimed log), never what the
        message says; one asked of us that may not be sponsored shows why (a forgery, another
        account's packet, another chain...)."""
        from walletim.app.wim.sponsor import refusal
        from walletim.messaging.kinds import is_group_peer, parse_sponsored_claim
        from walletim.store.sponsor import SponsorRepo

        try:
            claim = parse_sponsored_claim(m.body)
        except MessagingError:
            return None
        claimer, sender = to_checksum_address(claim.claimer), sender_of(m)
        incoming = m.direction == "in"
        rows = SponsorRepo(self.p.repo().store)
        row = rows.get(me, claim.packet_id, claimer, "in" if incoming else "out")
        why = ""
        if incoming and not (row is not None and row.state == "claimed" and claimer == sender):
            why = refusal(self.p, me, claim, sender, is_group_peer(m.peer))
        states: dict[str, VerdictState] = {
            "claimed": "verified", "refused": "mismatch", "failed": "failed"
        }  # fmt: skip
        if why:
            row, verdict = None, Verdict("mismatch", why, 0)
        elif row is None:
            verdict = Verdict("pending", "not recorded", 0)
        else:
            verdict = Verdict(states.get(row.state, "pending"), row.reason or row.state, 0)
        amount = ""
        packet = self.p.repo().packet(me, claim.packet_id, "out" if incoming else "in")
        if row is not None and row.amount is not None and packet is not None:
            amount = f"{format_amount(row.amount, packet.decimals)} {packet.symbol}"
        return MoneyView("sponsored-claim", verdict, amount, claimer, claimer, "", claim.packet_id)

    def _payment(self, m: StoredMessage) -> MoneyView | None:
        p = self.p.repo().payment_for_message(m.id)
        if p is None:
            return None
        verdict = Verdict(p.state, p.reason, p.confirmations, p.final)
        amount = f"{format_amount(p.amount, p.decimals)} {p.symbol}"
        money = (p.asset, p.symbol, p.amount, p.decimals)
        return MoneyView(
            "payment", verdict, amount, p.payer, p.payee, p.note, p.tx_hash, money=money,
            request_id=p.request_id,
        )  # fmt: skip

    def _request(self, me: str, m: StoredMessage) -> MoneyView | None:
        r = self.p.repo().request_for_message(me, m.id)
        if r is None:
            return None
        payee = me if r.direction == "out" else r.peer
        payer = r.peer if r.direction == "out" else me
        amount = f"{format_amount(r.amount, r.decimals)} {r.symbol}"
        verdict = (  # a block withdrew it, or the relay refused it for good: it asks nobody
            Verdict("failed", "never sent: blocked while it waited in your outbox, or refused", 0)
            if r.state == "withdrawn"
            else None
        )
        return MoneyView(
            "request", verdict, amount, payer, payee, r.note, r.request_id, r.state == "open",
            money=(r.asset, r.symbol, r.amount, r.decimals),
        )  # fmt: skip

    def _packet(self, me: str, m: StoredMessage) -> MoneyView:
        check = self.packets.check(me, m)
        row = (
            self.p.repo().packet(me, check.packet_id, m.direction)
            if check.packet_id is not None
            else None
        )
        try:
            note = parse_packet(m.body).note
        except MessagingError:
            note = ""
        creator = sender_of(m)
        verdict = Verdict(check.state, check.reason, check.confirmations, check.final)
        if m.direction == "in":
            verdict = self.verifier.group_gate(m, creator) or verdict
        money = None
        if check.text is None or row is None:
            amount = "an offer the red-packet contract does not bear out"
        else:
            money = (row.asset, row.symbol, row.total, row.decimals)
            kind = "random" if row.random else "equal"
            amount = (
                f"{format_amount(row.total, row.decimals)} {row.symbol} in {row.shares} "
                f"{kind} share(s)"
            )
        # open: not claimed by us; None: nothing to claim with (no voucher of ours in it)
        unclaimed = (
            None
            if row is None or (row.direction == "in" and row.voucher is None)
            else row.claimed_amount is None
        )
        return MoneyView(
            "redpacket", verdict, amount, creator, None, note, check.packet_id, unclaimed,
            check.text, money,
        )  # fmt: skip

    def _action(self, me: str, m: StoredMessage) -> MoneyView | None:
        a: ActionRow | None = self.p.repo().action(me, m.id)
        if a is None:
            return None
        verdict = Verdict(a.state, a.reason, a.confirmations, a.final)
        actor = me if a.direction == "out" else sender_of(m)
        try:
            summary = self.action_summary(parse_action(m.body))
        except MessagingError:
            return None
        return MoneyView("action", verdict, summary, actor, None, "", a.tx_hash)

    def action_summary(self, action: SharedAction) -> str:
        """A shared action in words, its assets named by this network's token lists (never by
        the symbols the message carries); amounts are the raw ones its logs were checked for."""
        c = action.claim
        if action.action == "swap":
            gave = self._amount(action.chain_id, c.get("raw_in", ""), c.get("token_in"))
            got = self._amount(action.chain_id, c.get("raw_out", ""), c.get("token_out"))
            return f"swapped {gave} for {got}"
        if action.action in LEND_ACTIONS:  # named by our lists, the Pool by its role
            from walletim.app.lending.share import describe

            amount = self._amount(action.chain_id, c.get("raw", ""), c.get("token"))
            return describe(action.action, amount, "Aave")
        vault = c.get("vault", "")
        try:
            address, _symbol, asset, _decimals = self.p.defi().vault(vault)
            raw = c.get("raw_assets", "")
            assets = self._amount(action.chain_id, raw, asset.address or "ETH")
            label = named(self.p.tokens, self.p.chain_id, action.chain_id, address, 0)[0]
        except WalletimError:
            return f"deposited {c.get('raw_assets', '?')} base units into the vault {vault[:42]}"
        return f"deposited {assets} into the vault {label}"

    def _amount(self, chain_id: int, raw: str, token: str | None) -> str:
        value = base_units(raw)
        if value is None:
            return "?"
        if token in (None, "ETH"):
            return f"{format_amount(value)} ETH"
        try:
            address = to_checksum_address(str(token))
            symbol, decimals = named(self.p.tokens, self.p.chain_id, chain_id, address, 0)
        except WalletimError:
            return f"{raw} base units of {str(token)[:42]}"
        return f"{format_amount(value, decimals)} {symbol}"


#: How loud a verdict is: verified (green), not final or unchecked (yellow), refuted (red),
#: an ask (cyan), a red packet (magenta). Front ends map tones to their colours.
Tone = str


def badge_words(view: MoneyView, reason_limit: int = 160) -> tuple[str, Tone]:
    """walletim's own verdict on a money message, in words and a tone: what every front end
    shows first, before any of the sender's words (the CLI in brackets, the app on a card).
    The reason is the chain's or walletim's, cleaned for one line."""
    from walletim.display import one_line

    v = view.verdict
    reason = one_line(v.reason, reason_limit) if v is not None and v.reason else ""
    if view.kind in ("payment", "action"):
        what = "PAID" if view.kind == "payment" else "SHARED ACTION"
        if v is None:
            return f"… PENDING {what}", "yellow"
        if v.state == "verified":
            text = f"✓ {what}"
            if not v.final:
                text += f", {v.confirmations} confirmation(s), not final"
            return (f"{text}; {reason}", "yellow") if reason else (text, "green")
        if v.state == "pending":
            return f"… PENDING {what}" + (f": {reason}" if reason else ""), "yellow"
        return f"✗ {v.state.upper()}" + (f": {reason}" if reason else ""), "red"
    if view.kind == "request":
        if v is not None:  # withdrawn, never sent
            return f"✗ REQUEST WITHDRAWN: {reason}", "red"
        return ("REQUEST" if view.open else "REQUEST, settled"), "cyan"
    if view.kind == "sponsored-claim":  # a red-packet claim signed for someone else to submit
        if v is None:
            return "SPONSORED CLAIM", "cyan"
        if v.state == "verified":
            return "✓ SPONSORED CLAIM, on chain", "green"
        if v.state == "pending":
            return f"… SPONSORED CLAIM, not on chain yet ({reason})", "yellow"
        return f"✗ SPONSORED CLAIM {v.state.upper()}: {reason}", "red"
    if v is None or (v.state == "verified" and v.final):
        return "RED PACKET", "magenta"
    if v.state == "verified":  # its escrow's block may still leave the chain
        return f"RED PACKET, {v.confirmations} confirmation(s), not final", "yellow"
    if v.state == "pending":
        what = "not read from the chain yet" if view.line is None else "not verified yet"
        return f"… RED PACKET, {what}" + (f": {reason}" if reason else ""), "yellow"
    return f"✗ RED PACKET MISMATCH: {reason}", "red"


__all__ = ["Tone", "Views", "badge_words", "named"]
