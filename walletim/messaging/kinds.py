"""The wallet-IM message kinds (pure): what a payment, a request, a red packet, a shared DeFi
action, a group message and a membership change carry, checked field by field.

Bodies arrive from peers, inside the encryption but written by whoever sent them: every
parser here validates types, sizes and addresses and raises only
:class:`~walletim.errors.MessagingError`. What a body *claims* is then checked elsewhere
against the chain (payments, packets, actions) or against signatures (payment claims,
membership changes).

Signed statements:

- a payment claim is the payer's EIP-712 signature over
  ``Payment{chainId, tx, from, to, asset, amount, requestId, note}`` (domain walletim/1), so
  a claim is bound to the payer's address even outside the chat;
- a membership change is the acting member's EIP-191 signature over
  ``walletim group v2`` + the canonical JSON of the change, chained to the one before it by
  its hash (see :mod:`walletim.messaging.groups`, which holds the rules). Changes in the
  old ``walletim group v1`` form (:class:`Membership`) carry no chain: they are still shown
  in old histories, and refused when they arrive.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from walletim.errors import MessagingError

MAX_NOTE = 280
MAX_NAME = 64
MAX_MEMBERS = 50
ZERO = "0x" + "00" * 20
_HEX = re.compile(r"^0x[0-9a-fA-F]*$")
GROUP_PREFIX = "group:"


def _addr(value: Any, what: str) -> str:
    from walletim.errors import KeysError
    from walletim.keys.hd import to_checksum_address

    if not isinstance(value, str) or len(value) != 42 or not _HEX.match(value):
        raise MessagingError(f"malformed {what}")
    try:
        return to_checksum_address(value)
    except KeysError as exc:
        raise MessagingError(f"malformed {what}") from exc


def _hex(value: Any, what: str, size: int | None = None, limit: int = 4096) -> str:
    if not isinstance(value, str) or not _HEX.match(value) or len(value) % 2 or len(value) > limit:
        raise MessagingError(f"malformed {what}")
    if size is not None and len(value) != 2 + 2 * size:
        raise MessagingError(f"malformed {what}")
    return value.lower()


_GROUP_ID = re.compile(r"^[0-9a-f]{32}$")


def _group_id(value: Any) -> str:
    """Group ids are 16 random bytes as 32 lowercase hex digits (no 0x)."""
    if not isinstance(value, str) or not _GROUP_ID.match(value):
        raise MessagingError("malformed group id")
    return value


def _uint(value: Any, what: str, bits: int = 256) -> int:
    if isinstance(value, bool):
        raise MessagingError(f"malformed {what}")
    if isinstance(value, str) and value.isdigit() and len(value) <= 78:
        value = int(value)
    if not isinstance(value, int) or not 0 <= value < 2**bits:
        raise MessagingError(f"malformed {what}")
    return value


def _text(value: Any, what: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise MessagingError(f"malformed {what}")
    return value


def _dict(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise MessagingError(f"malformed {what}")
    return body


def _symbol(value: Any) -> str:
    text = _text(value, "symbol", 16)
    return "".join(c for c in text if c.isalnum() or c in "._-") or "?"


def _fmt(amount: int, decimals: int, symbol: str) -> str:
    from walletim.chain.units import format_amount

    return f"{format_amount(amount, decimals)} {symbol}"


# -- payments and requests ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Asset:
    address: str | None  # None: ETH
    symbol: str
    decimals: int

    def to_json(self) -> dict[str, Any]:
        return {"asset": self.address, "symbol": self.symbol, "decimals": self.decimals}


def _asset(body: dict[str, Any]) -> Asset:
    raw = body.get("asset")
    address = None if raw in (None, ZERO) else _addr(raw, "asset")
    decimals = _uint(body.get("decimals", 18), "decimals", 8)
    if decimals > 36:
        raise MessagingError("malformed decimals")
    return Asset(address, "ETH" if address is None else _symbol(body.get("symbol")), decimals)


@dataclass(frozen=True, slots=True)
class PaymentClaim:
    chain_id: int
    tx: str  # 0x + 64 hex
    payer: str
    payee: str
    asset: Asset
    amount: int
    note: str
    request_id: str | None
    signature: str  # 0x + 130 hex: the payer's EIP-712 signature of the claim

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "tx": self.tx,
            "from": self.payer,
            "to": self.payee,
            **self.asset.to_json(),
            "amount": str(self.amount),
            "note": self.note,
            "request_id": self.request_id,
            "signature": self.signature,
        }

    def typed_data(self) -> dict[str, Any]:
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
) -> dict[str, Any]:
    """The EIP-712 statement a payer signs about a payment (eth_signTypedData_v4 form)."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
            ],
            "Payment": [
                {"name": "chainId", "type": "uint256"},
                {"name": "tx", "type": "bytes32"},
                {"name": "from", "type": "address"},
                {"name": "to", "type": "address"},
                {"name": "asset", "type": "address"},
                {"name": "amount", "type": "uint256"},
                {"name": "requestId", "type": "bytes32"},
                {"name": "note", "type": "string"},
            ],
        },
        "primaryType": "Payment",
        "domain": {"name": "walletim", "version": "1"},
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


def parse_payment(body: Any) -> PaymentClaim:
    b = _dict(body, "payment")
    request = b.get("request_id")
    return PaymentClaim(
        _uint(b.get("chain_id"), "chain id", 64),
        _hex(b.get("tx"), "transaction hash", 32),
        _addr(b.get("from"), "payer"),
        _addr(b.get("to"), "payee"),
        _asset(b),
        _uint(b.get("amount"), "amount"),
        _text(b.get("note"), "note", MAX_NOTE),
        None if request is None else _hex(request, "request id", 16),
        _hex(b.get("signature"), "signature", 65),
    )


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    request_id: str  # 0x + 32 hex
    chain_id: int
    payee: str
    asset: Asset
    amount: int
    note: str
    uri: str  # EIP-681
    split_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "chain_id": self.chain_id,
            "to": self.payee,
            **self.asset.to_json(),
            "amount": str(self.amount),
            "note": self.note,
            "uri": self.uri,
            "split_id": self.split_id,
        }

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


def parse_request(body: Any) -> PaymentRequest:
    b = _dict(body, "request")
    split = b.get("split_id")
    chain_id = _uint(b.get("chain_id"), "chain id", 64)
    payee = _addr(b.get("to"), "payee")
    asset = _asset(b)
    amount = _uint(b.get("amount"), "amount")
    if amount == 0:
        raise MessagingError("a request for nothing")
    return PaymentRequest(
        _hex(b.get("request_id"), "request id", 16),
        chain_id,
        payee,
        asset,
        amount,
        _text(b.get("note"), "note", MAX_NOTE),
        eip681(chain_id, payee, asset.address, amount),  # recomputed, never taken as given
        None if split is None else _hex(split, "split id", 16),
    )


# -- red packets and shared actions -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PacketOffer:
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

    def to_json(self) -> dict[str, Any]:
        return {
            "packet_id": self.packet_id,
            "chain_id": self.chain_id,
            "contract": self.contract,
            "creator": self.creator,
            **self.asset.to_json(),
            "total": str(self.total),
            "shares": self.shares,
            "random": self.random,
            "expiry": self.expiry,
            "vouchers": dict(self.vouchers),
            "note": self.note,
        }

    @property
    def text(self) -> str:
        kind = "random" if self.random else "equal"
        note = f": {self.note}" if self.note else ""
        amount = _fmt(self.total, self.asset.decimals, self.asset.symbol)
        return f"red packet of {amount} in {self.shares} {kind} share(s){note}"


def parse_packet(body: Any) -> PacketOffer:
    b = _dict(body, "red packet")
    vouchers = b.get("vouchers")
    if not isinstance(vouchers, dict) or not 0 < len(vouchers) <= MAX_MEMBERS:
        raise MessagingError("malformed vouchers")
    random = b.get("random")
    if not isinstance(random, bool):
        raise MessagingError("malformed red packet")
    return PacketOffer(
        _hex(b.get("packet_id"), "packet id", 32),
        _uint(b.get("chain_id"), "chain id", 64),
        _addr(b.get("contract"), "contract"),
        _addr(b.get("creator"), "creator"),
        _asset(b),
        _uint(b.get("total"), "total"),
        _uint(b.get("shares"), "shares", 16),
        random,
        _uint(b.get("expiry"), "expiry", 64),
        {_addr(k, "claimer"): _hex(v, "voucher", 65) for k, v in vouchers.items()},
        _text(b.get("note"), "note", MAX_NOTE),
    )


#: issue 18 (lending): shared Aave actions (walletim.app.lending.share checks them)
LEND_ACTIONS = ("lend-supply", "lend-borrow", "lend-repay", "lend-withdraw")


@dataclass(frozen=True, slots=True)
class SharedAction:
    chain_id: int
    tx: str
    action: str  # swap | vault-deposit
    claim: dict[str, str]
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "tx": self.tx,
            "action": self.action,
            "claim": self.claim,
            "note": self.note,
        }

    @property
    def text(self) -> str:
        c = self.claim
        if self.action == "swap":
            gave = f"{c.get('amount_in')} {c.get('symbol_in')}"
            return f"swapped {gave} for {c.get('amount_out')} {c.get('symbol_out')}"
        if self.action in LEND_ACTIONS:  # issue 18 (lending)
            verb = self.action.removeprefix("lend-")
            return f"{verb} {c.get('amount')} {c.get('symbol')} on Aave"
        return f"deposited {c.get('assets')} {c.get('symbol')} into a vault"


def parse_action(body: Any) -> SharedAction:
    b = _dict(body, "shared action")
    action = b.get("action")
    if action not in ("swap", "vault-deposit", *LEND_ACTIONS):  # issue 18: lending actions
        raise MessagingError("unknown shared action")
    claim = b.get("claim")
    if not isinstance(claim, dict) or len(claim) > 12:
        raise MessagingError("malformed shared action")
    clean = {str(k)[:32]: str(v)[:100] for k, v in claim.items() if isinstance(v, str | int)}
    return SharedAction(
        _uint(b.get("chain_id"), "chain id", 64),
        _hex(b.get("tx"), "transaction hash", 32),
        str(action),
        clean,
        _text(b.get("note"), "note", MAX_NOTE),
    )


# -- groups ---------------------------------------------------------------------------------------


def group_peer(group_id: str) -> str:
    """The conversation 'peer' of a group (its conversation id derives from it)."""
    return GROUP_PREFIX + group_id


def is_group_peer(peer: str) -> bool:
    return peer.startswith(GROUP_PREFIX)


@dataclass(frozen=True, slots=True)
class GroupMessage:
    group_id: str
    kind: str
    body: Any


def parse_group(body: Any) -> GroupMessage:
    b = _dict(body, "group message")
    kind = b.get("k")
    if kind not in ("text", "payment", "request", "redpacket", "action"):
        raise MessagingError("unsupported group message kind")
    return GroupMessage(_group_id(b.get("group")), str(kind), b.get("b"))


@dataclass(frozen=True, slots=True)
class Membership:
    """A ``walletim group v1`` change (kept to show old histories; no longer accepted)."""

    group_id: str
    name: str
    version: int
    action: str  # create | add | remove | leave
    subject: str | None  # the member added/removed/leaving (None for create)
    members: tuple[str, ...]  # the roster after the change, sorted
    by: str
    signature: str

    def statement(self) -> bytes:
        return membership_statement(
            self.group_id, self.name, self.version, self.action, self.subject, self.members
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group_id,
            "name": self.name,
            "version": self.version,
            "action": self.action,
            "subject": self.subject,
            "members": list(self.members),
            "by": self.by,
            "signature": self.signature,
        }

    @property
    def text(self) -> str:
        if self.action == "create":
            return f"{self.by} created the group {self.name!r} with {len(self.members)} members"
        if self.action == "add":
            return f"{self.by} added {self.subject}"
        if self.action == "leave":
            return f"{self.by} left the group"
        return f"{self.by} removed {self.subject}"


def membership_statement(
    group_id: str,
    name: str,
    version: int,
    action: str,
    subject: str | None,
    members: tuple[str, ...],
) -> bytes:
    doc = {
        "group": group_id,
        "name": name,
        "version": version,
        "action": action,
        "subject": subject,
        "members": sorted(members),
    }
    return b"walletim group v1\n" + json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def parse_membership(body: Any) -> Membership:
    b = _dict(body, "membership change")
    action = b.get("action")
    if action not in ("create", "add", "remove", "leave"):
        raise MessagingError("unknown membership action")
    members = b.get("members")
    if not isinstance(members, list) or not 0 < len(members) <= MAX_MEMBERS:
        raise MessagingError("malformed group members")
    roster = tuple(sorted({_addr(m, "member") for m in members}))
    subject = b.get("subject")
    name = _text(b.get("name"), "group name", MAX_NAME)
    return Membership(
        _group_id(b.get("group")),
        name,
        _uint(b.get("version"), "version", 32),
        str(action),
        None if subject is None else _addr(subject, "member"),
        roster,
        _addr(b.get("by"), "member"),
        _hex(b.get("signature"), "signature", 65),
    )


def text_of(kind: str, body: Any) -> str:
    """What a message of ``kind`` shows and is searched by. Raises MessagingError."""
    if kind == "text":
        b = _dict(body, "text message")
        return _text(b.get("text"), "text", 64 * 1024)
    if kind == "payment":
        return parse_payment(body).text
    if kind == "request":
        return parse_request(body).text
    if kind == "redpacket":
        return parse_packet(body).text
    if kind == "action":
        return parse_action(body).text
    if kind == "membership":
        from walletim.messaging.groups import is_change, parse_change

        return parse_change(body).text if is_change(body) else parse_membership(body).text
    if kind in ("system", "alert", "group-notice"):
        return _text(_dict(body, kind).get("text"), "text", 4096)
    raise MessagingError(f"unsupported message kind {kind[:20]!r}")
