"""What an EIP-712 payload allows, said plainly before ``sign typed-data`` signs it (pure).

Recognised (anything else is plain typed data, described as None):

- EIP-2612 ``Permit{owner, spender, value, nonce, deadline}``: the token is the domain's
  ``verifyingContract``. The allowance it sets does not expire; ``deadline`` only limits
  when the signature can be submitted.
- DAI-style ``Permit{holder, spender, nonce, expiry, allowed}``: ``allowed`` true sets an
  UNLIMITED allowance.
- Uniswap Permit2 (domain name "Permit2"), AllowanceTransfer ``PermitSingle`` /
  ``PermitBatch`` (``details{token, amount, expiration, nonce}``, ``spender``,
  ``sigDeadline``): an allowance through Permit2 that lasts until ``expiration``; and
  SignatureTransfer ``PermitTransferFrom`` / ``PermitBatchTransferFrom`` /
  ``PermitWitnessTransferFrom`` (``permitted{token, amount}``, ``spender``, ``nonce``,
  ``deadline``): one transfer of up to ``amount``.

Flags: permit, permit2, unlimited, long-lived (more than 30 days), expired (its deadline is
in the past, when ``now`` is given), malformed.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from walletim.contracts.describe import UNLIMITED_FROM, TokenMetaLike

PERMIT2_ADDRESS = "0x000000000022D473030F116dDEE9F6B43aC78BA3"
MAX_UINT160 = 2**160 - 1
MAX_UINT48 = 2**48 - 1
LONG_LIVED = 30 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Grant:
    token: str
    amount: int | None  # base units; None: everything (DAI's allowed=true)
    unlimited: bool
    text: str  # e.g. "UNLIMITED USDC", "100 USDC"


@dataclass(frozen=True, slots=True)
class TypedDataDescription:
    kind: str  # eip2612-permit | dai-permit | permit2-allowance | permit2-transfer
    owner: str | None
    spender: str | None
    grants: tuple[Grant, ...]
    expires: int | None  # when the permission (or the one-time transfer) ends; None: never
    signature_deadline: int | None
    flags: frozenset[str]
    lines: tuple[str, ...]  # plain sentences for the user

    @property
    def summary(self) -> str:
        return self.lines[0] if self.lines else self.kind


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("bool is not an integer here")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    raise ValueError("not an integer")


def _addr(value: Any) -> str:
    from walletim.errors import KeysError
    from walletim.keys.hd import to_checksum_address

    if not isinstance(value, str):
        raise ValueError("not an address")
    try:
        return to_checksum_address(value)
    except KeysError as exc:
        raise ValueError("not an address") from exc


def _when(ts: int) -> str:
    if ts >= MAX_UINT48 or ts >= 2**40:
        return "never"
    try:
        return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return str(ts)


class _Describer:
    def __init__(self, token: Callable[[str], TokenMetaLike | None], now: int | None) -> None:
        self._token = token
        self.now = now
        self.flags: set[str] = set()

    def meta(self, address: str) -> TokenMetaLike | None:
        try:
            return self._token(address)
        except Exception:
            return None

    def grant(self, token: str, amount: int | None, unlimited_from: int) -> Grant:
        meta = self.meta(token)
        symbol = meta.symbol if meta else token
        if amount is None or amount >= unlimited_from:
            self.flags.add("unlimited")
            return Grant(token, amount, True, f"UNLIMITED {symbol}")
        if meta is None:
            return Grant(token, amount, False, f"{amount} base units of {token}")
        from walletim.chain.units import format_amount

        return Grant(token, amount, False, f"{format_amount(amount, meta.decimals)} {symbol}")

    def timing(self, expires: int | None) -> None:
        if expires is None or self.now is None:
            return
        if expires < self.now:
            self.flags.add("expired")
        elif expires - self.now > LONG_LIVED:
            self.flags.add("long-lived")


def describe_typed_data(
    doc: Any,
    *,
    token: Callable[[str], TokenMetaLike | None] = lambda _a: None,
    now: int | None = None,
) -> TypedDataDescription | None:
    """Recognise a permit-like payload (see the module docstring); None for anything else.
    Never raises: a payload of a known shape with bad fields is described as malformed."""
    if not isinstance(doc, dict):
        return None
    primary, domain, message = doc.get("primaryType"), doc.get("domain"), doc.get("message")
    if (
        not isinstance(primary, str)
        or not isinstance(domain, dict)
        or not isinstance(message, dict)
    ):
        return None
    d = _Describer(token, now)
    is_permit2 = str(domain.get("name", "")) == "Permit2"
    try:
        if is_permit2 and primary in ("PermitSingle", "PermitBatch"):
            return _permit2_allowance(d, primary, message)
        if is_permit2 and "permitted" in message:
            return _permit2_transfer(d, primary, message)
        if primary == "Permit" and {"owner", "spender", "value", "deadline"} <= set(message):
            return _eip2612(d, domain, message)
        if primary == "Permit" and {"holder", "spender", "allowed"} <= set(message):
            return _dai(d, domain, message)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        kind = "permit2" if is_permit2 else "permit"
        return TypedDataDescription(
            kind,
            None,
            None,
            (),
            None,
            None,
            frozenset({kind, "malformed"}),
            (f"a MALFORMED {primary} payload: its fields do not parse; do not sign it",),
        )
    if is_permit2:
        d.flags.add("permit2")
        return TypedDataDescription(
            "permit2-unknown",
            None,
            None,
            (),
            None,
            None,
            frozenset(d.flags),
            (f"a Permit2 payload of an unknown kind ({primary[:40]}): it may grant token access",),
        )
    return None


def _eip2612(d: _Describer, domain: dict[str, Any], m: dict[str, Any]) -> TypedDataDescription:
    token = _addr(domain["verifyingContract"])
    owner, spender = _addr(m["owner"]), _addr(m["spender"])
    value, deadline = _int(m["value"]), _int(m["deadline"])
    d.flags.add("permit")
    grant = d.grant(token, value, UNLIMITED_FROM)
    d.timing(deadline)
    lines = (
        f"EIP-2612 permit: {spender} may spend {grant.text} of {owner}.",
        "The allowance it sets does not expire: it lasts until used up or revoked.",
        f"Anyone holding this signature can submit it until {_when(deadline)}.",
    )
    return TypedDataDescription(
        "eip2612-permit", owner, spender, (grant,), None, deadline, frozenset(d.flags), lines
    )


def _dai(d: _Describer, domain: dict[str, Any], m: dict[str, Any]) -> TypedDataDescription:
    token = _addr(domain["verifyingContract"])
    owner, spender = _addr(m["holder"]), _addr(m["spender"])
    allowed = m["allowed"]
    if not isinstance(allowed, bool):
        raise ValueError("allowed must be a bool")
    expiry = _int(m.get("expiry", 0))
    d.flags.add("permit")
    if not allowed:
        d.flags.add("revoke")
        revoked = (f"DAI-style permit: REVOKES {spender}'s allowance on {owner}'s tokens.",)
        return TypedDataDescription(
            "dai-permit", owner, spender, (), None, expiry or None, frozenset(d.flags), revoked
        )
    grant = d.grant(token, None, UNLIMITED_FROM)
    d.timing(expiry or None)
    submit_until = _when(expiry) if expiry else "forever (expiry 0)"
    lines = (
        f"DAI-style permit: {spender} may spend {grant.text} of {owner} (allowed = true).",
        "The allowance does not expire: it lasts until revoked.",
        f"The signature can be submitted until {submit_until}.",
    )
    return TypedDataDescription(
        "dai-permit", owner, spender, (grant,), None, expiry or None, frozenset(d.flags), lines
    )


def _permit2_allowance(d: _Describer, primary: str, m: dict[str, Any]) -> TypedDataDescription:
    details = m["details"]
    items = details if primary == "PermitBatch" else [details]
    if not isinstance(items, list) or not items:
        raise ValueError("no details")
    spender = _addr(m["spender"])
    deadline = _int(m["sigDeadline"])
    grants, expiries = [], []
    for item in items:
        grants.append(d.grant(_addr(item["token"]), _int(item["amount"]), MAX_UINT160))
        expiries.append(_int(item["expiration"]))
    expires = max(expiries)
    d.flags.update({"permit2", "permit"})
    d.timing(expires if expires else None)
    what = ", ".join(g.text for g in grants)
    until = "the block it is used in (expiration 0)" if expires == 0 else _when(expires)
    lines = (
        f"Permit2 allowance: {spender} may spend {what} of yours through Permit2 "
        f"({PERMIT2_ADDRESS}).",
        f"It lasts until {until}.",
        f"The signature can be submitted until {_when(deadline)}.",
    )
    return TypedDataDescription(
        "permit2-allowance",
        None,
        spender,
        tuple(grants),
        expires,
        deadline,
        frozenset(d.flags),
        lines,
    )


def _permit2_transfer(d: _Describer, primary: str, m: dict[str, Any]) -> TypedDataDescription:
    permitted = m["permitted"]
    items = permitted if isinstance(permitted, list) else [permitted]
    if not items:
        raise ValueError("nothing permitted")
    spender = _addr(m["spender"])
    deadline = _int(m["deadline"])
    grants = [d.grant(_addr(i["token"]), _int(i["amount"]), UNLIMITED_FROM) for i in items]
    d.flags.update({"permit2", "permit"})
    d.timing(deadline)
    what = ", ".join(g.text for g in grants)
    lines = (
        f"Permit2 transfer: {spender} may take up to {what} from you, once.",
        f"Valid until {_when(deadline)}"
        + (
            "; it carries extra data (a witness) the spender's contract checks."
            if "Witness" in primary
            else "."
        ),
    )
    return TypedDataDescription(
        "permit2-transfer",
        None,
        spender,
        tuple(grants),
        deadline,
        deadline,
        frozenset(d.flags),
        lines,
    )
