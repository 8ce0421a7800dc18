"""The message kinds (pure): the one registry of what each kind carries, how it is checked,
what it shows, and whether a peer may send it.

A message kind is one entry of :data:`KINDS` (a :class:`KindSpec`: its parser, its text, how
a screen shows it, whether it may travel inside a group message) plus its name in the
``Literal`` it belongs to: :data:`~walletim.messaging.envelope.WireKind` for what a peer may
send (the envelope codec refuses any other), :data:`LocalKind` for what only this home writes
(``system`` notices, the watcher's ``alert`` messages, ``group-notice`` lines). A unit test
checks the two agree. What a layer above does with an incoming message of a kind (the money
layer records and checks payments, requests, red packets and shared actions) it registers
with :meth:`walletim.app.chat.ChatService.on_incoming`.

Bodies arrive from peers, inside the encryption but written by whoever sent them: every
parser here validates types, sizes and addresses (:mod:`walletim.messaging.fields`) and
raises only :class:`~walletim.errors.MessagingError`. What a body *claims* is then checked
elsewhere against the chain (payments, packets, actions) or against signatures (payment
claims, membership changes).

Signed statements:

- a payment claim is the payer's EIP-712 signature over
  ``Payment{chainId, tx, from, to, asset, amount, requestId, note}`` (domain walletim/1), so
  a claim is bound to the payer's address even outside the chat;
- a membership change is the acting member's EIP-191 signature over
  ``walletim group v2`` + the canonical JSON of the change, chained to the one before it by
  its hash (see :mod:`walletim.messaging.groups`, which holds the rules). Changes in the
  old ``walletim group v1`` form (:mod:`walletim.messaging.groups_v1`) carry no chain: they
  are still shown in old histories, and refused when they arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias, TypeGuard

from walletim.chain.units import MAX_DECIMALS
from walletim.errors import MessagingError
from walletim.jsonview import DECIMAL, INLINE, UNLESS_NONE, record
from walletim.messaging import fields as F
from walletim.messaging.envelope import WIRE_KINDS as WIRE_KINDS
from walletim.messaging.envelope import WireKind as WireKind
from walletim.messaging.fields import ZERO
from walletim.messaging.groups import GroupChange, is_change, parse_change
from walletim.messaging.groups_v1 import Membership, parse_membership
from walletim.messaging.refs import (
    delete_text,
    edit_text,
    parse_delete,
    parse_edit,
    parse_nonce,
    parse_reaction,
    parse_reply,
    reaction_text,
)
from walletim.messaging.sponsored import SponsoredClaim as SponsoredClaim
from walletim.messaging.sponsored import parse_sponsored_claim as parse_sponsored_claim

MAX_NOTE = 280
MAX_MEMBERS = 50
GROUP_PREFIX = "group:"
#: What every front end shows for a money message this home could not record (malformed, or
#: false in a way that leaves nothing to check, e.g. a request for someone else's payee):
#: never its sender's words, which would pass for money.
NO_RECORD = "a money message walletim has no checked record of"


def _fmt(amount: int, decimals: int, symbol: str) -> str:
    from walletim.chain.units import format_amount

    return f"{format_amount(amount, decimals)} {symbol}"


# -- payments and requests ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Asset:
    """What an amount is in: the ERC-20 at ``address`` (None: ETH), with the symbol and
    decimals the sender gave."""

    address: str | None  # None: ETH
    symbol: str
    decimals: int

    def to_json(self) -> dict[str, object]:
        return record(self, address="asset")


def _asset(body: dict[str, object]) -> Asset:
    raw = body.get("asset")
    address = None if raw in (None, ZERO) else F.address(raw, "asset")
    decimals = F.uint(body.get("decimals", 18), "decimals", 8)
    if decimals > MAX_DECIMALS:  # a token walletim pays in is told, never refused here
        raise MessagingError("malformed decimals")
    return Asset(address, "ETH" if address is None else F.symbol(body.get("symbol")), decimals)


@dataclass(frozen=True, slots=True)
class PaymentClaim:
    """The payer's signed word that transaction ``tx`` on ``chain_id`` paid ``amount`` of
    ``asset`` to ``payee`` (what it claims is checked against the chain)."""

    chain_id: int
    tx: str  # 0x + 64 hex
    payer: str
    payee: str
    asset: Asset
    amount: int
    note: str
    request_id: str | None
    signature: str  # 0x + 130 hex: the payer's EIP-712 signature of the claim

    def to_json(self) -> dict[str, object]:
        return record(self, payer="from", payee="to", asset=INLINE, amount=DECIMAL)

    def typed_data(self) -> dict[str, object]:
        return payment_typed_data(
            self.chain_id, self.tx, self.payer, self.payee, self.asset.address, self.amount,
            self.request_id, self.note,
        )  # fmt: skip

    @property
    def text(self) -> str:
        note = f": {self.note}" if self.note else ""
        return f"paid {_fmt(self.amount, self.asset.decimals, self.asset.symbol)}{note}"


def payment_typed_data(
    chain_id: int,
    tx: str,
    payer: str,
    payee: str,
    asset: str | None,
    amount: int,
    request_id: str | None,
    note: str,
) -> dict[str, object]:
    """The EIP-712 statement a payer signs about a payment (eth_signTypedData_v4 form)."""
    from walletim.messaging.identity import BINDING_DOMAIN, DOMAIN_FIELDS, eip712_fields

    payment = eip712_fields(
        "uint256 chainId", "bytes32 tx", "address from", "address to", "address asset",
        "uint256 amount", "bytes32 requestId", "string note",
    )  # fmt: skip
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, "Payment": payment},
        "primaryType": "Payment",
        "domain": dict(BINDING_DOMAIN),
        "message": {
            "chainId": chain_id,
            "tx": tx,
            "from": payer,
            "to": payee,
            "asset": asset or ZERO,
            "amount": amount,
            "requestId": "0x" + (request_id[2:] if request_id else "").rjust(64, "0"),
            "note": note,
        },
    }


def parse_payment(body: object) -> PaymentClaim:
    b = F.obj(body, "payment")
    request = b.get("request_id")
    return PaymentClaim(
        F.uint(b.get("chain_id"), "chain id", 64),
        F.hex_string(b.get("tx"), "transaction hash", 32),
        F.address(b.get("from"), "payer"),
        F.address(b.get("to"), "payee"),
        _asset(b),
        F.uint(b.get("amount"), "amount"),
        F.text(b.get("note"), "note", MAX_NOTE),
        None if request is None else F.hex_string(request, "request id", 16),
        F.hex_string(b.get("signature"), "signature", 65),
    )


@dataclass(frozen=True, slots=True)
class SplitBill:
    """A split's whole bill, carried by each of its requests (the requester's other devices
    show its total): base units, how many ``peers`` got a request, the requester's share?"""

    total: int
    peers: int
    own: bool

    def to_json(self) -> dict[str, object]:
        return record(self, total=DECIMAL)


def parse_bill(body: object) -> SplitBill:
    b = F.obj(body, "split bill")
    total, peers = F.uint(b.get("total"), "bill total"), F.uint(b.get("peers"), "bill peers", 8)
    if total == 0 or peers == 0 or not isinstance(own := b.get("own"), bool):
        raise MessagingError("malformed split bill")
    return SplitBill(total, peers, own)


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """``payee`` asks for ``amount`` of ``asset`` on ``chain_id``; ``uri`` is its EIP-681
    form, recomputed when parsed (never taken as given)."""

    request_id: str  # 0x + 32 hex
    chain_id: int
    payee: str
    asset: Asset
    amount: int
    note: str
    uri: str  # EIP-681
    split_id: str | None
    bill: SplitBill | None = None  # a split's request: the whole bill

    def to_json(self) -> dict[str, object]:
        return record(self, payee="to", asset=INLINE, amount=DECIMAL, bill=UNLESS_NONE)

    @property
    def text(self) -> str:
        note = f": {self.note}" if self.note else ""
        split = " (a share of a split bill)" if self.split_id else ""
        return f"requests {_fmt(self.amount, self.asset.decimals, self.asset.symbol)}{split}{note}"


def eip681(chain_id: int, payee: str, asset: str | None, amount: int) -> str:
    """An EIP-681 payment URI (``ethereum:0x...@1?value=...`` or a token transfer)."""
    if asset is None:
        return f"ethereum:{payee}@{chain_id}?value={amount}"
    return f"ethereum:{asset}@{chain_id}/transfer?address={payee}&uint256={amount}"


def parse_request(body: object) -> PaymentRequest:
    b = F.obj(body, "request")
    split = b.get("split_id")
    chain_id = F.uint(b.get("chain_id"), "chain id", 64)
    payee = F.address(b.get("to"), "payee")
    asset = _asset(b)
    amount = F.uint(b.get("amount"), "amount")
    if amount == 0:
        raise MessagingError("a request for nothing")
    return PaymentRequest(
        F.hex_string(b.get("request_id"), "request id", 16),
        chain_id,
        payee,
        asset,
        amount,
        F.text(b.get("note"), "note", MAX_NOTE),
        eip681(chain_id, payee, asset.address, amount),  # recomputed, never taken as given
        None if split is None else F.hex_string(split, "split id", 16),
        None if split is None or b.get("bill") is None else parse_bill(b.get("bill")),
    )


# -- red packets and shared actions -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PacketOffer:
    """A red packet ``creator`` made on the red-packet ``contract``: ``total`` in ``shares``
    (equal, or ``random``) until ``expiry``, a claim voucher for each recipient. The
    contract's figures replace the offer's once read from the chain."""

    packet_id: str
    chain_id: int
    contract: str
    creator: str
    asset: Asset
    total: int
    shares: int
    random: bool
    expiry: int
    vouchers: dict[str, str]  # claimer -> 0x voucher
    note: str

    def to_json(self) -> dict[str, object]:
        return record(self, asset=INLINE, total=DECIMAL)

    @property
    def text(self) -> str:
        kind = "random" if self.random else "equal"
        note = f": {self.note}" if self.note else ""
        amount = _fmt(self.total, self.asset.decimals, self.asset.symbol)
        return f"red packet of {amount} in {self.shares} {kind} share(s){note}"


def parse_packet(body: object) -> PacketOffer:
    b = F.obj(body, "red packet")
    vouchers = b.get("vouchers")
    if not isinstance(vouchers, dict) or not 0 < len(vouchers) <= MAX_MEMBERS:
        raise MessagingError("malformed vouchers")
    random = b.get("random")
    if not isinstance(random, bool):
        raise MessagingError("malformed red packet")
    return PacketOffer(
        F.hex_string(b.get("packet_id"), "packet id", 32),
        F.uint(b.get("chain_id"), "chain id", 64),
        F.address(b.get("contract"), "contract"),
        F.address(b.get("creator"), "creator"),
        _asset(b),
        F.uint(b.get("total"), "total"),
        F.uint(b.get("shares"), "shares", 16),
        random,
        F.uint(b.get("expiry"), "expiry", 64),
        {F.address(k, "claimer"): F.hex_string(v, "voucher", 65) for k, v in vouchers.items()},
        F.text(b.get("note"), "note", MAX_NOTE),
    )


#: Shared Aave actions (walletim.app.lending.share checks them from the Pool's logs).
LEND_ACTIONS = ("lend-supply", "lend-borrow", "lend-repay", "lend-withdraw")
#: Every action a chat message may share.
SHARED_ACTIONS = ("swap", "vault-deposit", *LEND_ACTIONS)


def base_units(text: object) -> int | None:
    """A shared action's figure (``raw_in``, ``raw``, ...) as base units, or None: the claim
    is a peer's text, and only ASCII decimal digits below 2**256 are a figure ("²" passes
    ``str.isdigit`` and breaks ``int``; "١٢" passes both)."""
    try:
        return F.uint(text, "figure")
    except MessagingError:
        return None


@dataclass(frozen=True, slots=True)
class SharedAction:
    """A DeFi transaction ``tx`` the sender shares (one of :data:`SHARED_ACTIONS`) with its
    figures (``claim``), checked against the transaction's logs."""

    chain_id: int
    tx: str
    action: str  # one of SHARED_ACTIONS
    claim: dict[str, str]
    note: str

    def to_json(self) -> dict[str, object]:
        return record(self)

    @property
    def text(self) -> str:
        c = {k: v for k, v in self.claim.items() if v}
        if self.action == "swap":
            gave = f"{c.get('amount_in', '?')} {c.get('symbol_in', '?')}"
            return f"swapped {gave} for {c.get('amount_out', '?')} {c.get('symbol_out', '?')}"
        if self.action in LEND_ACTIONS:
            verb = self.action.removeprefix("lend-")
            return f"{verb} {c.get('amount', '?')} {c.get('symbol', '?')} on Aave"
        return f"deposited {c.get('assets', '?')} {c.get('symbol', '?')} into a vault"


def parse_action(body: object) -> SharedAction:
    b = F.obj(body, "shared action")
    action = b.get("action")
    if action not in SHARED_ACTIONS:
        raise MessagingError("unknown shared action")
    claim = b.get("claim")
    if not isinstance(claim, dict) or len(claim) > 12:
        raise MessagingError("malformed shared action")
    clean = {str(k)[:32]: str(v)[:100] for k, v in claim.items() if isinstance(v, str | int)}
    return SharedAction(
        F.uint(b.get("chain_id"), "chain id", 64),
        F.hex_string(b.get("tx"), "transaction hash", 32),
        str(action),
        clean,
        F.text(b.get("note"), "note", MAX_NOTE),
    )


# -- groups ---------------------------------------------------------------------------------------


def group_peer(group_id: str) -> str:
    """The conversation 'peer' of a group (its conversation id derives from it)."""
    return GROUP_PREFIX + group_id


def is_group_peer(peer: str) -> bool:
    return peer.startswith(GROUP_PREFIX)


@dataclass(frozen=True, slots=True)
class GroupMessage:
    """A message to a group (each member gets a copy): the wrapped message's ``kind`` and
    ``body``."""

    group_id: str
    kind: str
    body: object
    nonce: bytes | None = None  # the wrapped message's id nonce, the same for every member


def parse_group(body: object) -> GroupMessage:
    """``{"group": ID, "k": kind, "b": body, "i": id nonce (optional)}``."""
    b = F.obj(body, "group message")
    kind = b.get("k")
    if not isinstance(kind, str) or kind not in GROUP_KINDS:
        raise MessagingError("unsupported group message kind")
    raw = b.get("i")
    nonce = None if raw is None else parse_nonce(raw)
    return GroupMessage(F.group_id(b.get("group")), kind, b.get("b"), nonce)


def parse_any_membership(body: object) -> GroupChange | Membership:
    """A membership change as stored: signed and chained (v2), or an old v1 one."""
    return parse_change(body) if is_change(body) else parse_membership(body)


# -- the registry ---------------------------------------------------------------------------------

#: Kinds only this home writes: no peer can make its words look like walletim's own.
LocalKind = Literal["system", "alert", "group-notice"]
MessageKind: TypeAlias = WireKind | LocalKind
#: An outgoing message is queued (no session or keys yet), sending (encrypted, not confirmed
#: by the relay), sent or failed (refused for good); an incoming one is received.
MessageState = Literal["received", "queued", "sending", "sent", "failed"]
Direction = Literal["in", "out"]
#: How a screen shows a kind: a peer's words after walletim's own ("said"), walletim's own
#: words ("walletim"), an event of a group's roster ("group-event"), a change to another
#: message (a reaction, an edit, a delete: "control"), shown on that message, not as a line
#: of its own.
Display = Literal["said", "walletim", "group-event", "control"]


@dataclass(frozen=True, slots=True)
class KindSpec:
    """What walletim knows of one message kind."""

    parse: Callable[[object], object]  # the body checked field by field (MessagingError)
    text: Callable[[object], str]  # what the message shows and is searched by
    display: Display
    in_group: bool = False  # may travel inside a group message


def _text_body(body: object) -> str:
    return F.text(F.obj(body, "text message").get("text"), "text", 64 * 1024)


def _local(kind: LocalKind) -> KindSpec:
    def text(body: object) -> str:
        return F.text(F.obj(body, kind).get("text"), "text", 4096)

    return KindSpec(text, text, "group-event" if kind == "group-notice" else "walletim")


def parse_read(body: object) -> int:
    """A read mark, sent only between one's own devices: the conversation (named by the
    copy, or by ``group`` for a group's) was read up to this time (the newest read message's
    ``sent_ms``)."""
    b = F.obj(body, "read mark")
    read_group(b)
    return F.uint(b.get("upto"), "upto", 63)


def read_group(body: object) -> str | None:
    """The group a read mark names (``{"upto": ..., "group": ID}``), or None for a one-to-one
    conversation's. Raises MessagingError."""
    raw = F.obj(body, "read mark").get("group")
    return None if raw is None else F.group_id(raw)


#: Why a red-packet offer of ours never went: a block withdrew it, or the relay refused it.
OfferWhy = Literal["blocked", "refused"]
OFFER_WHYS: tuple[OfferWhy, ...] = ("blocked", "refused")
ConsentState = Literal["allowed", "blocked", "ignored", "undecided"]
_CONSENT_STATES: tuple[ConsentState, ...] = ("allowed", "blocked", "ignored", "undecided")


@dataclass(frozen=True, slots=True)
class ConsentMark:
    """An accept/block decision, sent only between one's own devices (to the wallet itself):
    ``peer`` (a checksummed address or ``group:ID``) was decided ``state`` at ``at`` (ms;
    the newest decision wins on every device). A block that withdrew requests of this wallet
    to the peer, never sent, names them in ``withdrawn`` (their request ids): the device's
    copies of them read withdrawn too; its red-packet offers that never went, in ``offers``
    (packet id, why: a block withdrew it or the relay refused it for good), likewise."""

    peer: str
    state: ConsentState
    at: int
    withdrawn: tuple[str, ...] = ()
    offers: tuple[tuple[str, OfferWhy], ...] = ()


#: The most request ids (and, apart, offers) one consent mark names (what one block withdrew).
MAX_WITHDRAWN = 100


def parse_consent(body: object) -> ConsentMark:
    """``{"peer": ADDRESS | "group:ID", "state": ..., "at": MS, "withdrawn"?: [ID...],
    "offers"?: [{"packet_id": ID, "why": ...}]}``. Raises MessagingError."""
    b = F.obj(body, "consent mark")
    raw = b.get("peer")
    if isinstance(raw, str) and raw.startswith(GROUP_PREFIX):
        peer = group_peer(F.group_id(raw.removeprefix(GROUP_PREFIX)))
    else:
        peer = F.address(raw, "consent peer")
    state = next((s for s in _CONSENT_STATES if s == b.get("state")), None)
    if state is None:
        raise MessagingError("malformed consent state")
    ids = b.get("withdrawn", [])
    if not isinstance(ids, list) or len(ids) > MAX_WITHDRAWN:
        raise MessagingError("malformed withdrawn requests")
    withdrawn = tuple(F.hex_string(i, "request id", 16) for i in ids)
    return ConsentMark(peer, state, F.uint(b.get("at"), "at", 63), withdrawn, _offers(b))


def _offers(body: dict[str, object]) -> tuple[tuple[str, OfferWhy], ...]:
    """A consent mark's ``offers``: ``[{"packet_id": ID, "why": "blocked" | "refused"}]``."""
    offers = body.get("offers", [])
    if not isinstance(offers, list) or len(offers) > MAX_WITHDRAWN:
        raise MessagingError("malformed offers that never went")
    out: list[tuple[str, OfferWhy]] = []
    for item in offers:
        o = F.obj(item, "offer that never went")
        why = next((w for w in OFFER_WHYS if w == o.get("why")), None)
        if why is None:
            raise MessagingError("malformed offer that never went")
        out.append((F.hex_string(o.get("packet_id"), "packet id", 32), why))
    return tuple(out)


def _unwrapped(body: object) -> str:
    raise MessagingError("a group message is shown as the message it carries")


KINDS: dict[str, KindSpec] = {
    "text": KindSpec(_text_body, _text_body, "said", in_group=True),
    "payment": KindSpec(parse_payment, lambda b: parse_payment(b).text, "said", in_group=True),
    "request": KindSpec(parse_request, lambda b: parse_request(b).text, "said", in_group=True),
    "redpacket": KindSpec(parse_packet, lambda b: parse_packet(b).text, "said", in_group=True),
    "action": KindSpec(parse_action, lambda b: parse_action(b).text, "said", in_group=True),
    "reply": KindSpec(parse_reply, lambda b: parse_reply(b).text, "said", in_group=True),
    "reaction": KindSpec(parse_reaction, reaction_text, "control", in_group=True),
    "edit": KindSpec(parse_edit, edit_text, "control", in_group=True),
    "delete": KindSpec(parse_delete, delete_text, "control", in_group=True),
    # 1:1 only: a claimer to a red packet's creator (or any sponsor).
    "read": KindSpec(parse_read, lambda b: "", "control"),
    "consent": KindSpec(parse_consent, lambda b: "", "control"),
    "sponsored-claim": KindSpec(
        parse_sponsored_claim, lambda b: parse_sponsored_claim(b).text, "said"
    ),
    "group": KindSpec(parse_group, _unwrapped, "said"),
    "membership": KindSpec(
        parse_any_membership, lambda b: parse_any_membership(b).text, "group-event"
    ),
    "system": _local("system"),
    "alert": _local("alert"),
    "group-notice": _local("group-notice"),
}
#: Kinds a group message may carry.
GROUP_KINDS = frozenset(k for k, spec in KINDS.items() if spec.in_group)


def is_kind(kind: str) -> TypeGuard[MessageKind]:
    return kind in KINDS


def is_wire_kind(kind: str) -> TypeGuard[WireKind]:
    """True for a kind a peer may send (see :data:`~walletim.messaging.envelope.WIRE_KINDS`)."""
    return kind in WIRE_KINDS


def spec_of(kind: str) -> KindSpec:
    """The registry entry of ``kind``. Raises MessagingError for a kind walletim does not know."""
    found = KINDS.get(kind)
    if found is None:
        raise MessagingError(f"unsupported message kind {kind[:20]!r}")
    return found


def text_of(kind: str, body: object) -> str:
    """What a message of ``kind`` shows and is searched by. Raises MessagingError."""
    return spec_of(kind).text(body)
