"""Permits recognised in typed data (pure): EIP-2612, DAI-style, Permit2 allowances and
signature transfers, EIP-3009 transfer authorizations (USDC's transferWithAuthorization), and
anything else named like a permit."""

from __future__ import annotations

from collections.abc import Callable

from walletim.contracts.describe import PERMIT2_ADDRESS, UNLIMITED_FROM, TokenMetaLike, clean_text
from walletim.contracts.typed_data.values import (
    LONG_LIVED,
    MAX_UINT160,
    NEVER_FROM,
    Grant,
    Json,
    TypedDataDescription,
    _addr,
    _bool,
    _Malformed,
    _uint,
    _when,
)

_ADDR, _U256 = "address", "uint256"
_STANDARD_TYPES: dict[str, list[tuple[str, str]]] = {
    "eip2612": [
        ("owner", _ADDR),
        ("spender", _ADDR),
        ("value", _U256),
        ("nonce", _U256),
        ("deadline", _U256),
    ],
    "dai": [
        ("holder", _ADDR),
        ("spender", _ADDR),
        ("nonce", _U256),
        ("expiry", _U256),
        ("allowed", "bool"),
    ],
    "PermitSingle": [("details", "PermitDetails"), ("spender", _ADDR), ("sigDeadline", _U256)],
    "PermitBatch": [("details", "PermitDetails[]"), ("spender", _ADDR), ("sigDeadline", _U256)],
    "PermitDetails": [
        ("token", _ADDR),
        ("amount", "uint160"),
        ("expiration", "uint48"),
        ("nonce", "uint48"),
    ],
    "PermitTransferFrom": [
        ("permitted", "TokenPermissions"),
        ("spender", _ADDR),
        ("nonce", _U256),
        ("deadline", _U256),
    ],
    "PermitBatchTransferFrom": [
        ("permitted", "TokenPermissions[]"),
        ("spender", _ADDR),
        ("nonce", _U256),
        ("deadline", _U256),
    ],
    "TokenPermissions": [("token", _ADDR), ("amount", _U256)],
    "eip3009": [
        ("from", _ADDR),
        ("to", _ADDR),
        ("value", _U256),
        ("validAfter", _U256),
        ("validBefore", _U256),
        ("nonce", "bytes32"),
    ],
}
#: EIP-3009: a signed transfer anyone (Transfer...) or only the payee (Receive...) submits.
_EIP3009 = ("TransferWithAuthorization", "ReceiveWithAuthorization")
_STANDARD_TYPES["PermitWitnessTransferFrom"] = _STANDARD_TYPES["PermitTransferFrom"]
_STANDARD_TYPES["PermitBatchWitnessTransferFrom"] = _STANDARD_TYPES["PermitBatchTransferFrom"]
_SIGNATURE_TRANSFER = (
    "PermitTransferFrom",
    "PermitBatchTransferFrom",
    "PermitWitnessTransferFrom",
    "PermitBatchWitnessTransferFrom",
)


class _Describer:
    def __init__(
        self, doc: Json, token: Callable[[str], TokenMetaLike | None], now: int | None
    ) -> None:
        self.types = doc.get("types")
        self._token = token
        self.now = now
        self.flags: set[str] = set()
        self.notes: list[str] = []

    def meta(self, address: str) -> tuple[str, int] | None:
        try:
            meta = self._token(address)
            if meta is None:
                return None
            symbol, decimals = meta.symbol, meta.decimals
            display = getattr(meta, "display", None)  # a TokenBook label: unlisted marked
        except Exception:
            return None
        if type(decimals) is not int or not 0 <= decimals <= 77 or not isinstance(symbol, str):
            return None
        if isinstance(display, str) and display:
            return clean_text(display, 120) or "?", decimals
        return clean_text(symbol, 20) or "?", decimals

    def grant(
        self, token: str, amount: int | None, unlimited_from: int, expires: int | None = None
    ) -> Grant:
        meta = self.meta(token)
        symbol = meta[0] if meta else f"tokens of {token}"
        if amount is None or amount >= unlimited_from:
            self.flags.add("unlimited")
            return Grant(token, amount, True, f"UNLIMITED {symbol}", expires)
        if meta is None:
            return Grant(token, amount, False, f"{amount} base units of {token}", expires)
        from walletim.chain.units import format_amount

        return Grant(token, amount, False, f"{format_amount(amount, meta[1])} {symbol}", expires)

    def until(self, ts: int | None, *, zero: str = "", never: str = "at any time") -> str:
        """A deadline in words: "until <date>" (with "already expired" when before ``now``),
        or ``never`` + "(it never expires)"."""
        if ts is None or ts >= NEVER_FROM:
            return f"{never} (it never expires)"
        if ts == 0 and zero:
            return zero
        text = f"until {_when(ts)}"
        if self.now is not None and ts < self.now:
            text += " (already expired)"
        return text

    def timing(self, ts: int | None) -> None:
        """Flags for how long something stays usable: None or far out is forever."""
        if ts is None or ts >= NEVER_FROM:
            self.flags.add("long-lived")
        elif self.now is not None:
            if ts < self.now:
                self.flags.add("expired")
            elif ts - self.now > LONG_LIVED:
                self.flags.add("long-lived")

    def check_types(self, name: str, key: str | None = None, *, witness: bool = False) -> None:
        """Compare ``types[name]`` with the standard definition ``key`` (default ``name``)."""
        expected = _STANDARD_TYPES[key or name]
        fields = self.types.get(name) if isinstance(self.types, dict) else None
        try:
            actual = [(f["name"], f["type"]) for f in fields] if fields is not None else None
        except (TypeError, KeyError):
            actual = None
        ok = actual is not None and (
            actual[: len(expected)] == expected and len(actual) == len(expected) + 1
            if witness
            else actual == expected
        )
        if not ok and "nonstandard-types" not in self.flags:
            self.flags.add("nonstandard-types")
            self.notes.append(
                f"Its type definition of {clean_text(name, 40)} is not the standard one: "
                "the contract may read this signature differently."
            )


def _describe_permit(
    doc: object, token: Callable[[str], TokenMetaLike | None], now: int | None
) -> TypedDataDescription | None:
    if not isinstance(doc, dict):
        return None
    primary, domain, message = doc.get("primaryType"), doc.get("domain"), doc.get("message")
    if not isinstance(primary, str) or not isinstance(domain, dict):
        return None
    d = _Describer(doc, token, now)
    is_permit2 = domain.get("name") == "Permit2"
    try:
        if not isinstance(message, dict):
            if is_permit2 or "permit" in primary.lower():
                raise _Malformed("the message is not an object")
            return None
        found = _recognise(d, primary, domain, message, is_permit2)
    except (_Malformed, ValueError, TypeError, KeyError, AttributeError, OverflowError):
        kind = "permit2" if is_permit2 else "permit"
        return TypedDataDescription(
            f"{kind}-malformed",
            None,
            None,
            (),
            None,
            None,
            frozenset({kind, "permit", "malformed"}),
            (
                f"a MALFORMED {clean_text(primary, 40)} payload: its fields do not parse as "
                "the standard says; do not sign it",
            ),
        )
    if found is None:
        return None
    chain_id = domain.get("chainId")
    try:
        chain = _uint(chain_id) if chain_id is not None else None
    except _Malformed:
        chain = None
    lines = found.lines + tuple(d.notes)
    return TypedDataDescription(
        found.kind,
        found.owner,
        found.spender,
        found.grants,
        found.expires,
        found.signature_deadline,
        frozenset(d.flags),
        lines,
        chain,
        found.verifying_contract,
    )


def _recognise(
    d: _Describer, primary: str, domain: Json, m: Json, is_permit2: bool
) -> TypedDataDescription | None:
    if is_permit2:
        d.flags.update({"permit", "permit2"})
        verifier = _addr(domain["verifyingContract"]) if "verifyingContract" in domain else None
        if verifier != PERMIT2_ADDRESS:
            d.flags.add("noncanonical-permit2")
            d.notes.append(
                f"Its domain says Permit2 but the contract is {verifier or 'not given'}, "
                f"not the canonical Permit2 ({PERMIT2_ADDRESS})."
            )
        if primary in ("PermitSingle", "PermitBatch"):
            return _permit2_allowance(d, primary, m, verifier)
        if primary in _SIGNATURE_TRANSFER:
            return _permit2_transfer(d, primary, m, verifier)
        return _unknown(d, "permit2-unknown", primary, verifier)
    if primary == "Permit" and "owner" in m and "value" in m:
        return _eip2612(d, domain, m)
    if primary == "Permit" and "holder" in m and "allowed" in m:
        return _dai(d, domain, m)
    if primary in _EIP3009:
        return _eip3009(d, primary, domain, m)
    if "permit" in primary.lower():
        d.flags.add("permit")
        contract = domain.get("verifyingContract")
        return _unknown(d, "unknown-permit", primary, _addr(contract) if contract else None)
    return None


def _unknown(d: _Describer, kind: str, primary: str, verifier: str | None) -> TypedDataDescription:
    what = "a Permit2 payload" if kind == "permit2-unknown" else "a permit-like payload"
    line = (
        f"{what} of a kind walletim does not recognise ({clean_text(primary, 40)}): "
        "it may grant someone access to your tokens; check every field before signing."
    )
    return TypedDataDescription(
        kind, None, None, (), None, None, frozenset(), (line,), None, verifier
    )


def _eip2612(d: _Describer, domain: Json, m: Json) -> TypedDataDescription:
    d.check_types("Permit", "eip2612")
    token = _addr(domain["verifyingContract"])
    owner, spender = _addr(m["owner"]), _addr(m["spender"])
    value, deadline = _uint(m["value"]), _uint(m["deadline"])
    _uint(m.get("nonce", 0))
    d.flags.add("permit")
    grant = d.grant(token, value, UNLIMITED_FROM)
    d.timing(deadline)
    lines = (
        f"EIP-2612 permit: {spender} may spend {grant.text} of {owner}.",
        "The allowance it sets does not expire: it lasts until used up or revoked.",
        f"Anyone holding this signature can submit it {d.until(deadline)}.",
    )
    return TypedDataDescription(
        "eip2612-permit", owner, spender, (grant,), None, deadline, frozenset(), lines, None, token
    )


def _eip3009(d: _Describer, primary: str, domain: Json, m: Json) -> TypedDataDescription:
    """A signed transfer of ``value`` from ``from`` to ``to``: no allowance, the tokens move
    when it is submitted (between validAfter and validBefore), once (its nonce)."""
    d.check_types(primary, "eip3009")
    token = _addr(domain["verifyingContract"])
    owner, payee = _addr(m["from"]), _addr(m["to"])
    after, before = _uint(m["validAfter"]), _uint(m["validBefore"])
    grant = d.grant(token, _uint(m["value"]), UNLIMITED_FROM, before)
    d.flags.update({"permit", "transfer"})
    d.timing(before)
    who = f"only {payee}" if primary == "ReceiveWithAuthorization" else "anyone holding it"
    lines = (
        f"EIP-3009 transfer authorization: SENDS {grant.text} from {owner} to {payee} "
        "(no allowance: the tokens move as soon as it is submitted).",
        f"It can be submitted by {who}{f' after {_when(after)}' if after else ''}, "
        f"{d.until(before)}.",
    )
    return TypedDataDescription(
        "eip3009-transfer", owner, payee, (grant,), before, before, frozenset(), lines, None, token
    )


def _dai(d: _Describer, domain: Json, m: Json) -> TypedDataDescription:
    d.check_types("Permit", "dai")
    token = _addr(domain["verifyingContract"])
    owner, spender = _addr(m["holder"]), _addr(m["spender"])
    allowed = _bool(m["allowed"])
    expiry = _uint(m.get("expiry", 0))
    _uint(m.get("nonce", 0))
    d.flags.add("permit")
    deadline = expiry or None  # DAI: expiry 0 means the signature never expires
    submit = f"The signature can be submitted {d.until(deadline)}."
    if not allowed:
        d.flags.add("revoke")
        revoke = (
            f"DAI-style permit: REVOKES {spender}'s allowance on {owner}'s tokens ({token}).",
            submit,
        )
        return TypedDataDescription(
            "dai-permit", owner, spender, (), None, deadline, frozenset(), revoke, None, token
        )
    grant = d.grant(token, None, UNLIMITED_FROM)
    d.timing(deadline)
    lines = (
        f"DAI-style permit: {spender} may spend {grant.text} of {owner} (allowed = true).",
        "The allowance does not expire: it lasts until revoked.",
        submit,
    )
    return TypedDataDescription(
        "dai-permit", owner, spender, (grant,), None, deadline, frozenset(), lines, None, token
    )


def _permit2_allowance(
    d: _Describer, primary: str, m: Json, verifier: str | None
) -> TypedDataDescription:
    d.check_types(primary)
    d.check_types("PermitDetails")
    details = m["details"]
    items = details if primary == "PermitBatch" else [details]
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise _Malformed("no details")
    spender = _addr(m["spender"])
    deadline = _uint(m["sigDeadline"])
    grants = []
    for item in items:
        expiration = _uint(item["expiration"], 48)
        _uint(item["nonce"], 48)
        grants.append(
            d.grant(_addr(item["token"]), _uint(item["amount"], 160), MAX_UINT160, expiration)
        )
        # Permit2 stores expiration 0 as "now": usable only in the block it is submitted in.
        d.timing(expiration if expiration else deadline)
    expires = max(g.expires or 0 for g in grants)
    parts = [
        f"{g.text} {d.until(g.expires, zero='only in the block it is used in', never='forever')}"
        for g in grants
    ]
    lines = (
        f"Permit2 allowance: {spender} may spend, through Permit2, {' and '.join(parts)}.",
        "Permit2 can move only tokens you have approved Permit2 itself to spend.",
        f"Anyone holding the signature can submit it {d.until(deadline)}.",
    )
    return TypedDataDescription(
        "permit2-allowance",
        None,
        spender,
        tuple(grants),
        expires,
        deadline,
        frozenset(),
        lines,
        None,
        verifier,
    )


def _permit2_transfer(
    d: _Describer, primary: str, m: Json, verifier: str | None
) -> TypedDataDescription:
    witness = "Witness" in primary
    d.check_types(primary, witness=witness)
    d.check_types("TokenPermissions")
    permitted = m["permitted"]
    batch = "Batch" in primary
    items = permitted if batch else [permitted]
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise _Malformed("nothing permitted")
    spender = _addr(m["spender"])
    deadline = _uint(m["deadline"])
    _uint(m["nonce"])
    grants = [d.grant(_addr(i["token"]), _uint(i["amount"]), UNLIMITED_FROM) for i in items]
    d.timing(deadline)
    lines = [
        f"Permit2 transfer: {spender} may take up to {', '.join(g.text for g in grants)} "
        "from you, once.",
        f"The signature can be used {d.until(deadline)}.",
    ]
    if witness:
        lines.append("It carries extra data (a witness) that the spender's contract checks.")
    return TypedDataDescription(
        "permit2-transfer",
        None,
        spender,
        tuple(grants),
        deadline,
        deadline,
        frozenset(),
        tuple(lines),
        None,
        verifier,
    )
