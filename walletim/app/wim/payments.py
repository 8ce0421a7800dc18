"""Paying, asking and splitting in chats: ``walletim pay | request | split`` (telling a
chat about a swap or vault deposit just made: :mod:`walletim.app.wim.shares`).

A payment is planned and checked (one simulation, one balance read) before anything is
signed; its claim is signed by the payer, stored before the relay is reached, and judged
from the payer's own signed bytes and the receipt it waited for.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from walletim.app.wim.ledger import Ledger
from walletim.app.wim.model import (
    MAX_SPLIT,
    PayResult,
    RequestResult,
    SplitResult,
    SplitStatus,
    check_note,
    request_id,
    split_shares,
)
from walletim.app.wim.ports import Item, MoneyPorts
from walletim.chain.units import format_amount
from walletim.errors import ChainError, InputError, Interrupted, StepFailed, WalletimError
from walletim.messaging.kinds import (
    Asset as ClaimAsset,
)
from walletim.messaging.kinds import (
    PaymentClaim,
    PaymentRequest,
    SplitBill,
    eip681,
    is_group_peer,
    payment_typed_data,
)
from walletim.store.wim import PaymentRow, RequestRow, SplitRow

if TYPE_CHECKING:
    from walletim.app.chain.flight import Flight
    from walletim.app.contracts import Outcome, Plan
    from walletim.app.defi import Asset
    from walletim.chain.evidence import ChainTx
    from walletim.store.chat import StoredMessage
    from walletim.store.txs import ReceiptRecord


#: The same payment (payee, asset, amount, request) made this recently is refused unless
#: forced: an interrupted ``pay`` run again, a command repeated from the shell history.
PAID_TWICE_WINDOW_MS = 60 * 60 * 1000
#: How the transfer stood when a command stopped that says nothing was paid by it.
_UNPAID = ("dropped", "failed", "replaced")


@dataclass(frozen=True, slots=True)
class _Paying:
    """What one ``pay`` pays: to whom, which asset, how much (base units), request, note."""

    payee: str
    asset: Asset
    amount: int
    rid: str | None
    note: str


class Payments:
    def __init__(self, ports: MoneyPorts, ledger: Ledger) -> None:
        self.p = ports
        self.ledger = ledger

    # -- paying -----------------------------------------------------------------------------

    def pay(
        self,
        account: str,
        peer: str | None,
        amount_text: str | None,
        *,
        token: str | None = None,
        note: str = "",
        request_id: str | None = None,
        confirm: Callable[[Plan], None] | None = None,
        progress: Callable[[str], None] | None = None,
        uri: str | None = None,
        force: bool = False,
        legacy: bool = False,
    ) -> PayResult:
        """Pay ``peer`` (or the request ``request_id`` received in a chat, or the EIP-681
        payment ``uri``) and tell them in the chat with a signed payment claim. The transfer
        is planned and checked before signing (``legacy``: type 0); the claim is stored before
        the relay is reached. The same payment made moments ago (here or on another device of
        the wallet: taken in first), or still pending, is refused unless ``force``.

        Raises:
            InputError: unknown peer or request, an already paid request, amounts, balance,
                a malformed URI or one for another chain.
            RiskRefused: the same payment was just made (``code`` "paid-twice").
            ChainError: the transfer failed on chain (nothing is said in the chat).
            Interrupted: Ctrl-C after the transfer went out (what was done, where it stands).
        """
        me = self.p.address_of(account)
        unchecked = self._first(account, me)
        payee, asset, amount_text, note, request = self._what(me, peer, amount_text, token,
                                                              note, request_id, uri)  # fmt: skip
        self._tellable(me, payee, note)
        plan = self._plan(account, payee, asset, amount_text, note, request, legacy)
        rid = request.request_id if request is not None else None
        what = _Paying(payee, asset, _arrives(plan, asset, payee), rid, note)
        if not force:
            self._not_twice(me, what)
        signed = len(self.p.own.in_flight())  # the transfer's flight is the next one
        try:
            outcome = self._transfer(plan, confirm, progress)
        except (KeyboardInterrupt, ChainError) as exc:  # Ctrl-C, or the node failed meanwhile
            flight = next(iter(self.p.own.in_flight()[signed : signed + 1]), None)
            if flight is None or (isinstance(exc, ChainError) and flight.status in _UNPAID):
                raise  # nothing was signed, or it paid nothing
            raise self._interrupted(account, me, what, flight, exc) from exc
        status = outcome.steps[-1].status
        (message, claim), row = self._tell(account, me, what, outcome.hash, status)
        try:
            delivered = self._deliver(account, message.id)
        except KeyboardInterrupt as exc:  # the payment and its claim are stored already
            [flight] = self.p.own.in_flight()[-1:]
            raise self._told(flight, message.id, False) from exc
        message = self.p.chats().message(message.id)
        row = self.ledger.check_payment(row, claim, message, self._own_evidence(outcome))
        if row.state == "pending" and self.follow_replaced(account, me):
            row = self.p.repo().payment(row.id) or row
        if request is not None:
            request = self.p.repo().request(me, request.request_id, "in", payee)
        return PayResult(outcome, row, message, delivered, request, unchecked)

    def _tellable(self, me: str, payee: str, note: str) -> None:
        """Refuse before signing a claim that cannot be told (too long a note, a blocked payee)."""
        check_note(note)
        self.p.refuse_blocked(me, [payee])

    def _plan(self, account: str, payee: str, asset: Asset, amount_text: str, note: str,
              request: RequestRow | None, legacy: bool) -> Plan:  # fmt: skip
        """The transfer paying ``payee``, its plan showing the ``note`` the payer's signed
        claim will carry (the requester's words when copied from the ``request`` paid): words
        signed are words seen, cleaned as any peer's text is. ``legacy``: a type-0 transfer."""
        from walletim.display import quoted

        plan = self.p.defi().transfer(account, asset.address or "ETH", payee, amount_text)
        lines = [self._never_counted(asset, request)] if asset.address is not None else []
        lines.append(_short_claim(plan, asset, payee, request))
        if note:
            whose = "request's note" if request is not None and note == request.note else "note"
            lines.append(f"your signed chat message will carry the {whose} {quoted(note)}")
        steps = tuple(replace(s, request=replace(s.request, legacy=legacy)) for s in plan.steps)
        return replace(plan, steps=steps, notes=(*plan.notes, *(x for x in lines if x)))

    def _never_counted(self, asset: Asset, request: RequestRow | None) -> str:
        """The line a plan paying in a token no payment is ever verified in (an impostor)
        shows before signing: a mismatch on both ends, settling no request ("" if not)."""
        why = self.ledger.verifier.token_problem(str(asset.address))
        if not why:
            return ""
        settles = f", and it will not settle request {request.request_id}" if request else ""
        return (
            f"WARNING: this payment will never read paid ({why}): the payee's walletim and "
            f"yours show it as a mismatch{settles}; the tokens still leave your account"
        )

    def _first(self, account: str, me: str) -> str:
        """What the guards read, brought up to date: what this wallet's other devices paid,
        taken in from the relay (:meth:`MoneyPorts.take_in_other_devices`, whose answer it
        returns), then our pending payments, when there are any: one whose transaction was
        sped up or cancelled meanwhile (``tx speedup`` / ``tx cancel``) is followed, so the
        guards read what was really paid (a cancelled one does not block paying again)."""
        unchecked = self.p.take_in_other_devices(account, me)
        if any(p.direction == "out" for p in self.p.repo().payments(me, states=("pending",))):
            self.follow_replaced(account, me)
        return unchecked

    def follow_replaced(self, account: str, me: str) -> int:
        """See :func:`walletim.app.wim.replaced.follow_replaced`."""
        from walletim.app.wim.replaced import follow_replaced

        return follow_replaced(self, account, me)

    def _what(self, me: str, peer: str | None, amount_text: str | None, token: str | None,
              note: str, request_id: str | None, uri: str | None,
              ) -> tuple[str, Asset, str, str, RequestRow | None]:  # fmt: skip
        """(payee, asset, amount text, note, request) of what ``pay`` was asked to pay."""
        if uri is not None:
            payee, asset, amount_text = self._from_uri(uri)
            return payee, asset, amount_text, note, None
        if request_id is not None:
            request = self._request_to_pay(me, request_id)
            if peer is not None and self.p.chat().resolve_peer(peer) != request.peer:
                raise InputError("that request came from someone else; leave PEER out")
            asset = self.p.defi().asset(request.asset or "ETH")
            # The raw amount asked is what counts, in the token's real decimals (the book's),
            # never the decimals the request claimed.
            text = format_amount(request.amount, asset.decimals)
            return request.peer, asset, text, note or request.note, request
        if peer is None or amount_text is None:
            raise InputError("pay needs PEER and AMOUNT (or --request ID)")
        payee = self.p.chat().resolve_peer(peer)
        return payee, self.p.defi().asset(token or "ETH"), amount_text, note, None

    def _not_twice(self, me: str, what: _Paying) -> None:
        """Refuse ``what`` when the same payment (payee, asset, amount, request) is pending or
        was made within :data:`PAID_TWICE_WINDOW_MS` (a pay run twice). Raises RiskRefused."""
        from walletim.errors import RiskRefused

        now = self.p.now_ms()
        for p in self.p.repo().payments(me, states=("pending", "verified"), limit=200):
            same = (p.direction, p.payee, p.asset, p.amount, p.request_id, p.chain_id) == (
                "out", what.payee, what.asset.address, what.amount, what.rid, self.p.chain_id
            )  # fmt: skip
            if same and (p.state == "pending" or now - p.created_ms < PAID_TWICE_WINDOW_MS):
                minutes = max(0, now - p.created_ms) // 60_000
                gone = p.message_id is not None and self.p.chats().tell_again(p.message_id)
                untold = (
                    "; they were never told (its chat message never went): it goes again "
                    "with your next chat command (walletim chat inbox)"
                ) if gone else ""  # fmt: skip
                raise RiskRefused(
                    f"you already paid {format_amount(p.amount, p.decimals)} {p.symbol} to "
                    f"{p.payee} {minutes} min ago in transaction {p.tx_hash} ({p.state}; "
                    f"`walletim tx status` follows it){untold}: nothing was sent",
                    code="paid-twice",
                    advice="pay-again",
                )

    def _tell(
        self, account: str, me: str, what: _Paying, tx_hash: str, status: str,
        replaces: str | None = None,
    ) -> tuple[tuple[StoredMessage, PaymentClaim], PaymentRow]:  # fmt: skip
        """Sign the claim for ``tx_hash`` (its transfer ``status`` now; ``replaces``: the
        transaction of ours it replaced, a speed-up: told once by any process of this home),
        store it in the outbox and record the payment, all of it or none (a Ctrl-C waits for
        the end): ((message, claim), payment). Raises StepFailed when the claim cannot be
        signed: the money moved, so never "nothing was signed"."""
        from walletim.app.interrupts import held_interrupts

        with held_interrupts():
            try:
                claim = self._claim(account, me, what, tx_hash)
            except WalletimError as exc:
                raise StepFailed(
                    f"paid: transaction {tx_hash} is {status}, but its chat claim could not be "
                    f"signed ({str(exc).removesuffix('; nothing was signed')}), so {what.payee} "
                    "was not told in the chat; do not pay "
                    "again (walletim tx status shows the transfer)",
                    tx_hash=tx_hash,
                    status=status,
                ) from exc
            body, text = claim.to_json(), claim.text
            raw = self.p.own.raw(tx_hash) if status != "mined" else None
            if raw is not None:  # its nonce, for a payee whose node never holds it (a cancel)
                body["raw"] = "0x" + raw.hex()
            if replaces is not None:  # the chat says who sent it; the chain checks the rest
                body["replaces"] = replaces
                text += f" (sped up: replaces {replaces[:10]}…)"
            once = replaces and f"speed-up:{self.p.chain_id}:{tx_hash.lower()}"
            item = (what.payee, "payment", body, text)
            [message], _ = self.p.chat().post(account, [item], deliver=False, once=once)
            a = what.asset
            row = self.p.repo().add_payment(
                account=me, message_id=message.id, direction="out", peer=what.payee,
                chain_id=self.p.chain_id, tx_hash=tx_hash, asset=a.address, symbol=a.display,
                decimals=a.decimals, amount=what.amount, payer=me, payee=what.payee,
                note=what.note, request_id=what.rid,
            )  # fmt: skip
        return (message, claim), row

    def _deliver(self, account: str, message_id: int) -> bool:
        """Send what waits in the outbox (the claim first): whether the relay holds message
        ``message_id`` now (else it waits: the relay out of reach, no chat keys of theirs)."""
        _none, reached = self.p.chat().post(account, [])
        return reached and self.p.chats().message(message_id).state == "sent"

    def _interrupted(
        self, account: str, me: str, what: _Paying, flight: Flight, exc: BaseException
    ) -> Interrupted | ChainError:
        """Ctrl-C (or the node failing: ``exc``) after the transfer was signed: the payment
        and its claim are stored (a second Ctrl-C waits), the claim goes to the relay if it
        can now (else later), so the same pay again is refused. Returns what to raise: what
        went out, where it stands, how to follow it (after the node's error)."""
        (message, _claim), _row = self._tell(account, me, what, flight.hash, flight.status)
        try:
            delivered = self._deliver(account, message.id)
        except (KeyboardInterrupt, WalletimError):
            delivered = False
        return self._told(flight, message.id, delivered, exc)

    def _told(
        self, flight: Flight, message_id: int, delivered: bool, exc: BaseException | None = None
    ) -> Interrupted | ChainError:
        from walletim.app.chain.flights import interrupted_text

        told = "the chat message telling them " + ("was sent" if delivered else (
            "waits in your outbox and goes out with your next chat command (`walletim chat inbox`)"
        ))  # fmt: skip
        failed = isinstance(exc, ChainError)
        text = (
            f"{interrupted_text([flight], 'stopped' if failed else 'interrupted')}; the payment "
            f"is recorded (`walletim payments`) and {told}; running the same pay again is "
            "refused unless --force"
        )
        return ChainError(f"{exc}; {text}") if failed else Interrupted(text, [flight.json()])

    def _from_uri(self, uri: str) -> tuple[str, Asset, str]:
        """(payee, asset, amount text) of an EIP-681 payment URI for this chain."""
        from walletim.chain.eip681 import parse_eip681

        asked = parse_eip681(uri)
        if asked.chain_id is not None and asked.chain_id != self.p.chain_id:
            raise InputError(
                f"the URI asks for payment on chain {asked.chain_id}; this network is "
                f"chain {self.p.chain_id} (--network)"
            )
        if not asked.amount:
            raise InputError("the URI names no amount to pay")
        asset = self.p.defi().asset(asked.token or "ETH")
        return asked.recipient, asset, format_amount(asked.amount, asset.decimals)

    def _transfer(
        self,
        plan: Plan,
        confirm: Callable[[Plan], None] | None,
        progress: Callable[[str], None] | None,
    ) -> Outcome:
        """Confirm, send and wait for the planned transfer. Raises ChainError when it failed
        on chain."""
        # One simulation: the plan's; the chain dry-runs the transfer again right before
        # signing it (its gas estimate, in the same round trip as the fees and the balance).
        try:
            outcome = self.p.defi().execute(plan, confirm=confirm, progress=progress, recheck=False)
        except StepFailed as exc:
            # Pending past the wait, or replaced meanwhile (`tx speedup` in another terminal):
            # it may pay yet, so it is recorded and told as pending, and followed (a speed-up:
            # :mod:`walletim.app.wim.replaced`); one a mined cancel replaced paid nothing.
            from walletim.app.contracts.plans import Outcome
            from walletim.app.wim.replaced import cancelled_by

            if exc.status not in ("pending", "replaced"):
                raise
            if exc.status == "replaced" and (winner := cancelled_by(self.p, exc.tx_hash)):
                raise ChainError(f"the transfer {exc.tx_hash} was replaced by {winner}, which "
                                 "does not make it (a cancel): nothing was paid, nor said in "
                                 "the chat") from exc  # fmt: skip
            return Outcome.waiting(plan, [exc.tx_hash])
        status = outcome.steps[-1].status
        if status not in ("mined", "pending"):
            raise ChainError(
                f"the transfer {outcome.hash} {status} on chain; nothing was said in the chat"
            )
        return outcome

    def _claim(self, account: str, me: str, what: _Paying, tx: str) -> PaymentClaim:
        """The payment claim, signed by ``account``."""
        a = what.asset
        doc = payment_typed_data(
            self.p.chain_id, tx, me, what.payee, a.address, what.amount, what.rid, what.note
        )
        # walletim's own claim: its domain has no chainId, the chain id is in the message.
        signature = self.p.sign(account, doc, allow_any_chain=True)
        return PaymentClaim(
            self.p.chain_id, tx, me, what.payee, ClaimAsset(a.address, a.symbol, a.decimals),
            what.amount, what.note, what.rid, "0x" + bytes(signature.bytes).hex(),
        )  # fmt: skip

    def _own_evidence(self, outcome: Outcome) -> tuple[ChainTx, ReceiptRecord] | None:
        """Our signed transaction and the receipt we waited for (None: not mined yet)."""
        if outcome.steps[-1].status != "mined":
            return None
        signed, receipt = self.p.own.signed(outcome.hash), self.p.own.receipt(outcome.hash)
        if signed is None or receipt is None:
            return None
        return signed, receipt

    def _request_to_pay(self, me: str, text: str) -> RequestRow:
        rid = request_id(text)
        repo = self.p.repo()
        request = repo.request(me, rid, "in")
        if request is None:
            raise InputError(
                f"no request {rid} was received by this account (run `walletim chat inbox` "
                "to fetch new messages)"
            )
        if request.state == "settled":
            self.ledger.check(me)  # a reorg may have undone that payment
            request = repo.request(me, rid, "in") or request
        if request.state == "settled":
            raise InputError(f"request {rid} is already paid ({request.paid_tx})")
        if request.chain_id != self.p.chain_id:
            raise InputError(
                f"request {rid} asks for payment on chain {request.chain_id}; this network is "
                f"chain {self.p.chain_id} (--network)"
            )
        paid = [
            p
            for p in repo.payments(me, states=("pending", "verified"))
            if p.direction == "out" and p.request_id == rid and p.payee == request.peer
        ]
        if paid:  # pending, or verified short of what was asked (a fee-taking token)
            first = paid[0]
            short = ", less than asked arrived: the request stays open"
            short = "" if first.state == "pending" else short
            raise InputError(
                f"request {rid} was already paid by {first.tx_hash} ({first.state}{short})"
            )
        return request

    # -- requests and split bills -------------------------------------------------------------

    def request(
        self,
        account: str,
        peer: str,
        amount_text: str,
        *,
        token: str | None = None,
        note: str = "",
        split_id: str | None = None,
    ) -> RequestResult:
        """Ask ``peer`` to pay ``amount_text`` of ``token`` (default ETH) to this account.
        The request (with its EIP-681 URI) goes into the chat; it is settled when a payment
        citing its id is verified. Raises InputError."""
        defi = self.p.defi()
        asset = defi.asset(token or "ETH")
        amount = defi.amount(asset, amount_text)
        [r] = self._requests(account, [(peer, amount)], asset, note, split_id, None)
        return r

    def _requests(
        self,
        account: str,
        asks: Sequence[tuple[str, int]],
        asset: Asset,
        note: str,
        split_id: str | None,
        bill: SplitBill | None,
    ) -> list[RequestResult]:
        check_note(note)
        me = self.p.address_of(account)
        chat = self.p.chat()
        made: list[tuple[str, PaymentRequest]] = []
        items: list[Item] = []
        for peer, amount in asks:
            payee = chat.resolve_peer(peer)
            if payee == me:
                raise InputError("you cannot ask yourself for money")
            rid = "0x" + secrets.token_hex(16)
            req = PaymentRequest(
                rid, self.p.chain_id, me, ClaimAsset(asset.address, asset.symbol, asset.decimals),
                amount, note, eip681(self.p.chain_id, me, asset.address, amount), split_id,
                bill,
            )  # fmt: skip
            made.append((payee, req))
            items.append((payee, "request", req.to_json(), req.text))
        messages, _ = chat.post(account, items, deliver=False)  # recorded, then delivered
        repo, out = self.p.repo(), []
        for (payee, req), message in zip(made, messages, strict=True):
            repo.save_request(RequestRow(
                me, req.request_id, "out", payee, self.p.chain_id, asset.address, asset.display,
                asset.decimals, req.amount, note, req.uri, split_id, "open", None, message.id,
                self.p.now_ms(),
            ))  # fmt: skip
        chat.post(account, [])  # deliver what was just recorded (and anything waiting)
        for (_payee, req), message in zip(made, messages, strict=True):
            now, row = self.p.chats().message(message.id), repo.request(me, req.request_id, "out")
            assert row is not None
            out.append(RequestResult(row, now))  # delivered: its own message's state
        return out

    def split(
        self,
        account: str,
        total_text: str,
        peers: Sequence[str],
        *,
        token: str | None = None,
        note: str = "",
        include_self: bool = True,
        where: str | None = None,
    ) -> SplitResult:
        """Split a bill of ``total_text`` between ``peers`` (and this account, unless
        ``include_self`` is off): one request per peer, tracked together. ``where``: the
        group conversation (``group:ID``) the bill was split in, which gets a local note
        naming the split (kind ``system``: never from the wire; a front end draws the bill
        there from this home's records). Raises InputError."""
        if not peers:
            raise InputError("split needs at least one PEER")
        chat = self.p.chat()
        resolved = [chat.resolve_peer(p) for p in peers]
        me = self.p.address_of(account)
        if len(set(resolved)) != len(resolved) or me in resolved:
            raise InputError("each PEER once, and not yourself (you are included by default)")
        if len(resolved) > MAX_SPLIT:
            raise InputError(f"a split has at most {MAX_SPLIT} peers")
        defi = self.p.defi()
        asset = defi.asset(token or "ETH")
        total = defi.amount(asset, total_text)
        _own, shares = split_shares(total, len(resolved), include_self=include_self)
        check_note(note)  # what would refuse the requests, before the bill is recorded
        self.p.refuse_blocked(me, resolved)
        split_id = "0x" + secrets.token_hex(16)
        row = SplitRow(me, split_id, asset.address, asset.display, asset.decimals, total,
                       note, self.p.now_ms())  # fmt: skip
        self.p.repo().save_split(row)
        bill = SplitBill(total, len(resolved), include_self)  # for this wallet's other devices
        results = self._requests(
            account, list(zip(resolved, shares, strict=True)), asset, note, split_id, bill
        )
        if where is not None and is_group_peer(where):
            self._split_note(me, where, split_id, f"{total_text} {asset.display}")
        return SplitResult(
            self.split_status(account, split_id),
            tuple(r.message for r in results),
            all(r.delivered for r in results),
        )

    def _split_note(self, me: str, where: str, split_id: str, what: str) -> None:
        text = f"you split a bill of {what}: each member got a request for their share"
        with self.p.chats().tx() as tx:
            cid = tx.conversation(me, where)
            body = {"text": text, "split": split_id}
            tx.add_message(cid, "in", "system", body, text, sent_ms=self.p.now_ms(),
                           state="received")  # fmt: skip

    def split_status(self, account: str, split_id: str, *, check: bool = True) -> SplitStatus:
        """Who has paid their share of a split (pending payments asked about again first,
        unless ``check`` is off: then no network, what the ledger last recorded). Raises
        InputError for an unknown split."""
        me = self.p.address_of(account)
        sid = request_id(split_id, "split id")
        repo = self.p.repo()
        split = repo.split(me, sid)
        if split is None:
            raise InputError(f"no split {sid} was made by this account")
        if check:
            self.ledger.check(me)
        requests = tuple(repo.requests(me, split_id=sid))
        own = split.total - sum(r.amount for r in requests)
        return SplitStatus(split, own, requests)

    def splits(self, account: str) -> list[SplitStatus]:
        me = self.p.address_of(account)
        return [self.split_status(account, s.split_id) for s in self.p.repo().splits(me)]

    def requests(self, account: str) -> list[RequestRow]:
        return self.p.repo().requests(self.p.address_of(account))

    def requests_of(self, account: str, message_ids: Sequence[int]) -> list[RequestRow]:
        """The requests these messages carry, as recorded (no network)."""
        me, repo = self.p.address_of(account), self.p.repo()
        found = (repo.request_for_message(me, mid) for mid in message_ids)
        return [r for r in found if r is not None]

    def payments_citing(self, account: str, request_ids: Sequence[str]) -> list[PaymentRow]:
        """The payments recorded citing these requests, in any state (no network)."""
        return self.p.repo().payments_citing(self.p.address_of(account), request_ids)

    def payments(self, account: str, *, check: bool = True) -> list[PaymentRow]:
        """This account's payments (newest first), pending ones checked again first."""
        me = self.p.address_of(account)
        if check:
            self.ledger.check(me)
            self.follow_replaced(account, me)
        return self.p.repo().payments(me)


def _arrives(plan: Plan, asset: Asset, payee: str) -> int:
    """What the claim says: what reaches ``payee`` in the dry run (a fee-on-transfer token's
    less: a claim of what is sent read "mismatch", as if the payer lied)."""
    from walletim.app.risk import dry_run_moved

    sent = int(plan.figures["raw"])
    got = (
        None
        if asset.address is None
        else dry_run_moved(plan, asset.address, plan.sender, payee, net=True)
    )
    return got if got is not None and 0 < got < sent else sent


def _short_claim(plan: Plan, asset: Asset, payee: str, request: RequestRow | None) -> str:
    """The plan's line when the claim says less than is sent ("" when it does not)."""
    arrives = _arrives(plan, asset, payee)
    if arrives == int(plan.figures["raw"]):
        return ""
    unsettled = request is not None and arrives < request.amount
    return f"your signed chat claim will say {asset.fmt(arrives)} arrived" + (
        f": it does not settle request {request.request_id}, which asks for "
        f"{asset.fmt(request.amount)}" if unsettled and request is not None else ""
    )  # fmt: skip


__all__ = ["Payments"]
