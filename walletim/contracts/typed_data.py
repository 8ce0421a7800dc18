"""What an EIP-712 payload allows, said plainly before ``sign typed-data`` signs it (pure).

Recognised (anything else is plain typed data, described as None):

- EIP-2612 ``Permit{owner, spender, value, nonce, deadline}``: the token is the domain's
  ``verifyingContract``. The allowance it sets does not expire; ``deadline`` only limits
  when the signature can be submitted.
- DAI-style ``Permit{holder, spender, nonce, expiry, allowed}``: ``allowed`` true sets an
  UNLIMITED allowance, false revokes it.
- Uniswap Permit2 (domain name "Permit2", canonical address :data:`PERMIT2_ADDRESS`),
  AllowanceTransfer ``PermitSingle`` / ``PermitBatch`` (``details{token, amount (uint160),
  expiration (uint48), nonce}``, ``spender``, ``sigDeadline``): an allowance through Permit2
  that lasts until ``expiration``; and SignatureTransfer ``PermitTransferFrom`` /
  ``PermitBatchTransferFrom`` / ``PermitWitnessTransferFrom`` /
  ``PermitBatchWitnessTransferFrom`` (``permitted{token, amount}``, ``spender``, ``nonce``,
  ``deadline``): one transfer of up to ``amount``.
- Any other primary type named like a permit (EIP-4494 NFT permits, a token's own variant):
  ``unknown-permit``, so it is never shown as harmless plain data.

Values are read the way eth-account encodes them for signing (``"0x10"`` and ``"16"`` are
both 16; a bool is false only for false, 0, "", "0", "false", "False"), so the description
is of what is signed. A value the signer would refuse (out of range, not an address) makes
the payload "malformed". Amounts are base units, shown in the token's decimals when the
``token`` callback knows them.

Calls carried inside typed data are described as calls (:func:`carried_calls`): a struct with
a ``bytes`` field named ``data`` / ``callData`` / ``calldata`` / ``func`` / ``functionSignature``
is a call the verifying contract will make: to its ``to`` / ``target`` / ``dest`` address (an
ERC-4337 user operation: its ``sender`` account; a meta-transaction without one: the verifying
contract), as its ``from`` (EIP-2771 forwarders, meta-transactions), as the Safe (``SafeTx``;
``operation`` 1 is a DELEGATECALL) or as the account (ERC-4337). Each is described by
:func:`walletim.contracts.describe.describe_call`, multicalls and Permit2 inside included, and
its approvals are the payload's approvals.

Flags: permit, permit2, unlimited, long-lived (usable for more than 30 days, or forever),
expired (the deadline is before ``now``), revoke, nonstandard-types (the ``types`` are not
the standard ones: the signature may mean something else to the contract), noncanonical-permit2
(a "Permit2" domain at another address), malformed; and for carried calls: carries-call,
approval, operator-approval, nested-approval, delegatecall, unknown-call, too-complex.

Whatever the payload, its **domain** says where the signature is valid: :func:`typed_domain`
reads it exactly as the signer hashes it (chainId, verifyingContract, name, version, salt),
:func:`describe_domain` says it in words (the chain by name, "this network" or not, the
contract), and :func:`check_domain_chain` refuses a domain for another chain than the
network's, or one without chainId (valid on every chain), unless explicitly allowed.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from walletim.contracts.describe import (
    MULTICALL3_ADDRESS,
    PERMIT2_ADDRESS,
    UNLIMITED_FROM,
    TokenMetaLike,
    clean_text,
)
from walletim.errors import InputError, TypedDataAnyChainRefused, TypedDataChainRefused

#: Contracts deployed at the same address on every chain (CREATE2 through the same deployer),
#: so their name holds whatever the chain.
SAME_ON_EVERY_CHAIN: Mapping[str, str] = {
    PERMIT2_ADDRESS: "Uniswap Permit2",
    MULTICALL3_ADDRESS: "Multicall3",
}
MAX_UINT160 = 2**160 - 1
MAX_UINT48 = 2**48 - 1
LONG_LIVED = 30 * 24 * 3600
NEVER_FROM = 2**40  # a timestamp this far out (year 36812) means "never"
FLAGS = frozenset(
    {
        "permit",
        "permit2",
        "unlimited",
        "long-lived",
        "expired",
        "revoke",
        "nonstandard-types",
        "noncanonical-permit2",
        "malformed",
        "carries-call",
        "approval",
        "operator-approval",
        "nested-approval",
        "delegatecall",
        "unknown-call",
        "too-complex",
    }
)
"""Every flag a :class:`TypedDataDescription` may carry (see the module docstring)."""

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
}
_STANDARD_TYPES["PermitWitnessTransferFrom"] = _STANDARD_TYPES["PermitTransferFrom"]
_STANDARD_TYPES["PermitBatchWitnessTransferFrom"] = _STANDARD_TYPES["PermitBatchTransferFrom"]
_SIGNATURE_TRANSFER = (
    "PermitTransferFrom",
    "PermitBatchTransferFrom",
    "PermitWitnessTransferFrom",
    "PermitBatchWitnessTransferFrom",
)


@dataclass(frozen=True, slots=True)
class Grant:
    token: str  # checksummed
    amount: int | None  # base units; None: everything (DAI's allowed = true)
    unlimited: bool
    text: str  # e.g. "UNLIMITED USDC", "100 USDC", "5 base units of 0x..."
    expires: int | None = None  # Permit2 allowances: this token's expiration (unix time)


@dataclass(frozen=True, slots=True)
class TypedDataDescription:
    kind: str  # eip2612-permit | dai-permit | permit2-allowance | permit2-transfer |
    # permit2-unknown | unknown-permit
    owner: str | None  # who grants (None when the payload does not say: Permit2 = the signer)
    spender: str | None
    grants: tuple[Grant, ...]
    expires: int | None  # when the permission (or the one-time transfer) ends; None: never
    signature_deadline: int | None  # until when the signature can be submitted
    flags: frozenset[str]
    lines: tuple[str, ...]  # plain sentences for the user; the first is the summary
    chain_id: int | None = None
    verifying_contract: str | None = None
    calls: tuple[Any, ...] = ()  # CallDescription of each call it carries

    @property
    def summary(self) -> str:
        return self.lines[0] if self.lines else self.kind


class _Malformed(Exception):
    pass


def _uint(value: Any, bits: int = 256) -> int:
    """As eth-account encodes a uintN: an int, a 0x-hex string, or a decimal string (Python
    ``int()`` rules); out of range or anything else: malformed (it would not sign)."""
    if isinstance(value, str):
        try:
            value = int(value, 16) if value.startswith("0x") else int(value)
        except ValueError as exc:
            raise _Malformed("not an integer") from exc
    if type(value) is not int or not 0 <= value < 2**bits:
        raise _Malformed(f"not a uint{bits}")
    return value


def _bool(value: Any) -> bool:
    """As eth-account encodes a bool: false only for falsy values and "False"/"false"/"0"."""
    if value is None or isinstance(value, dict | list):
        raise _Malformed("not a bool")
    return not (not value or value in ("False", "false", "0"))


def _addr(value: Any) -> str:
    """A 20-byte address as eth_abi accepts it (0x optional; the checksum is not checked by
    the signer, so not here either): checksummed."""
    from walletim.keys.hd import to_checksum_address

    if not isinstance(value, str):
        raise _Malformed("not an address")
    body = value[2:] if value.startswith("0x") else value
    if len(body) != 40 or any(c not in "0123456789abcdefABCDEF" for c in body):
        raise _Malformed("not an address")
    return to_checksum_address(body)


def _when(ts: int) -> str:
    if ts >= NEVER_FROM:
        return "never"
    try:
        return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return str(ts)


class _Describer:
    def __init__(
        self, doc: dict[str, Any], token: Callable[[str], TokenMetaLike | None], now: int | None
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


def describe_typed_data(
    doc: Any,
    *,
    token: Callable[[str], TokenMetaLike | None] = lambda _a: None,
    now: int | None = None,
    name: Callable[[str], str | None] = lambda _a: None,
) -> TypedDataDescription | None:
    """Recognise a permit-like EIP-712 payload (eth_signTypedData_v4 JSON as a dict; see the
    module docstring), and the calls it carries. ``token(address)`` gives symbol and decimals
    (it may raise: then the amount is shown in base units); ``name(address)`` labels
    addresses; ``now`` (unix seconds) enables expired / long-lived.

    Returns None for plain typed data. Never raises: a payload of a known shape with bad
    fields is described as malformed.
    """
    found = _describe_permit(doc, token, now)
    try:
        calls = carried_calls(doc)
    except Exception:
        calls = []
    if not calls:
        return found
    return _with_calls(found, calls, token, name)


def _describe_permit(
    doc: Any, token: Callable[[str], TokenMetaLike | None], now: int | None
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
    d: _Describer, primary: str, domain: dict[str, Any], m: dict[str, Any], is_permit2: bool
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
    if "permit" in primary.lower():
        d.flags.add("permit")
        verifier = domain.get("verifyingContract")
        return _unknown(d, "unknown-permit", primary, _addr(verifier) if verifier else None)
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


def _eip2612(d: _Describer, domain: dict[str, Any], m: dict[str, Any]) -> TypedDataDescription:
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


def _dai(d: _Describer, domain: dict[str, Any], m: dict[str, Any]) -> TypedDataDescription:
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
    d: _Describer, primary: str, m: dict[str, Any], verifier: str | None
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
    d: _Describer, primary: str, m: dict[str, Any], verifier: str | None
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


# -- the domain: where a signature is valid ---------------------------------------------------

_DOMAIN_TYPES = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
    ("salt", "bytes32"),
)


@dataclass(frozen=True, slots=True)
class TypedDomain:
    """An EIP-712 domain as it is signed. None: the field is not in the domain."""

    name: str | None
    version: str | None
    chain_id: int | None  # None: the signature is valid on every chain
    verifying_contract: str | None  # checksummed; None: it binds no contract
    salt: str | None  # 0x + 64 hex


def typed_domain(doc: dict[str, Any]) -> TypedDomain:
    """The domain of an eth_signTypedData_v4 document, each field read exactly as the signer
    encodes it (eth-account: the five standard fields at their standard types, whatever
    ``types.EIP712Domain`` says; ``"0x01"``, ``"1"`` and ``1`` are all chain 1).

    Raises:
        InputError: the domain would not encode (then nothing can be signed either).
    """
    from eth_abi.abi import encode
    from eth_account._utils.encode_typed_data.encoding_and_hashing import encode_field

    from walletim.keys.hd import to_checksum_address

    domain = doc.get("domain") if isinstance(doc, dict) else None
    if not isinstance(domain, dict):
        raise InputError("typed data has no domain object")
    unknown = [k for k in domain if k not in dict(_DOMAIN_TYPES)]
    if unknown:
        raise InputError(f"typed data domain has a field EIP-712 does not define: {unknown[0]!r}")
    words: dict[str, bytes] = {}
    raw: dict[str, Any] = {}
    for key, typ in _DOMAIN_TYPES:
        if key not in domain:
            continue
        raw[key] = domain[key]
        try:
            enc_type, value = encode_field({}, key, typ, domain[key])
            words[key] = bytes(encode([enc_type], [value]))
        except Exception as exc:  # eth-account / eth-abi raise many types
            raise InputError(f"typed data domain field {key!r} does not encode") from exc

    def text(key: str) -> str | None:
        if key not in raw:
            return None
        value = raw[key]
        return clean_text(value if isinstance(value, str) else repr(value), 60)

    return TypedDomain(
        name=text("name"),
        version=text("version"),
        chain_id=int.from_bytes(words["chainId"], "big") if "chainId" in words else None,
        verifying_contract=to_checksum_address(words["verifyingContract"][12:].hex())
        if "verifyingContract" in words
        else None,
        salt="0x" + words["salt"].hex() if "salt" in words else None,
    )


def describe_domain(
    domain: TypedDomain,
    *,
    home_chain: int,
    network: str,
    profiles: Mapping[int, str] | None = None,
    contract_name: Callable[[str], str | None] = lambda _a: None,
) -> tuple[str, ...]:
    """Where the signature is valid, in words: the chain (by name, and whether it is this
    network), the contract it binds (with any name walletim knows), and the domain's own
    name and version (the payload's word, so quoted). ``contract_name(address)`` may raise."""
    from walletim.chain.chains import chain_label

    lines = []
    if domain.chain_id is None:
        lines.append(
            "Valid on EVERY chain: its domain has no chainId, so the same signature can be "
            "used on any network where the contract exists."
        )
    else:
        where = chain_label(
            domain.chain_id, home_chain=home_chain, network=network, profiles=profiles
        )
        if domain.chain_id == home_chain:
            lines.append(f"Valid on {where}.")
        else:
            lines.append(f"Valid on {where}: NOT this network ({network}, chain {home_chain}).")
    contract = domain.verifying_contract
    if contract is None:
        lines.append(
            "It binds no contract (no verifyingContract): any contract that accepts this "
            "message may use the signature."
        )
    else:
        name = SAME_ON_EVERY_CHAIN.get(contract)
        if name is None:
            try:
                found = contract_name(contract)
            except Exception:
                found = None
            name = clean_text(found, 40) if isinstance(found, str) and found else None
        lines.append(f"For contract {contract}" + (f" ({name})." if name else "."))
    app = [f"name {domain.name!r}"] if domain.name is not None else []
    if domain.version is not None:
        app.append(f"version {domain.version!r}")
    if domain.salt is not None:
        app.append(f"salt {domain.salt}")
    if app:
        lines.append("Its domain (as the payload names itself): " + ", ".join(app) + ".")
    return tuple(lines)


def check_domain_chain(
    domain: TypedDomain,
    home_chain: int,
    *,
    network: str = "",
    allow_chains: Collection[int] = (),
    allow_any_chain: bool = False,
    profiles: Mapping[int, str] | None = None,
) -> None:
    """Refuse to sign for another chain than ``home_chain`` unless that chain is in
    ``allow_chains``, and a domain without chainId unless ``allow_any_chain``.

    Raises:
        TypedDataChainRefused: the domain's chainId is another chain, not allowed.
        TypedDataAnyChainRefused: the domain has no chainId, and that was not allowed.
    """
    from walletim.chain.chains import chain_label

    if domain.chain_id is None:
        if not allow_any_chain:
            raise TypedDataAnyChainRefused()
        return
    if domain.chain_id != home_chain and domain.chain_id not in set(allow_chains):
        raise TypedDataChainRefused(
            domain.chain_id,
            home_chain,
            chain_label(domain.chain_id, profiles=profiles),
            network or "the network in use",
        )


# -- calls carried inside typed data ----------------------------------------------------------

_CALLDATA_FIELDS = ("data", "callData", "calldata", "func", "functionSignature")
_TARGET_FIELDS = ("to", "target", "dest")
MAX_TYPED_STRUCTS = 512
"""Struct values of one payload looked into for carried calls (a bound against hostile nesting)."""
MAX_TYPED_CALLS = 16
"""Calls carried by one payload that are described (more is flagged too-complex)."""


@dataclass(frozen=True, slots=True)
class CarriedCall:
    """A call a typed-data payload asks its verifying contract to make."""

    where: str  # the struct it is in, e.g. "ForwardRequest" or "Batch.calls[1]"
    target: str
    data: bytes
    value: int
    executor: str | None  # who the call runs as (None: not said by the payload)
    delegatecall: bool


def _bytes_value(value: Any) -> bytes:
    """A ``bytes`` field as eth-account encodes it (0x-hex, else UTF-8 text, else an int)."""
    from eth_utils.conversions import to_bytes
    from eth_utils.hexadecimal import is_hexstr

    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and is_hexstr(value) and value.startswith("0x"):
        return bytes(to_bytes(hexstr=value))
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int) and not isinstance(value, bool):
        return bytes(to_bytes(max(value, 0)))
    raise _Malformed("not bytes")


def carried_calls(doc: dict[str, Any]) -> list[CarriedCall]:
    """The calls an eth_signTypedData_v4 payload carries (see the module docstring), in the
    order they appear; at most :data:`MAX_TYPED_CALLS` + 1 (the extra one says "more").
    Raises _Malformed / ValueError / TypeError on fields that do not parse."""
    types = doc.get("types")
    raw_domain = doc.get("domain")
    domain: dict[str, Any] = raw_domain if isinstance(raw_domain, dict) else {}
    verifier = domain.get("verifyingContract")
    verifier = _addr(verifier) if isinstance(verifier, str) else None
    if not isinstance(types, dict):
        return []
    out: list[CarriedCall] = []
    budget = [MAX_TYPED_STRUCTS]

    def visit(type_name: str, value: Any, where: str, depth: int) -> None:
        fields = types.get(type_name)
        if depth > 16 or budget[0] <= 0 or len(out) > MAX_TYPED_CALLS:
            return
        if not isinstance(fields, list) or not isinstance(value, dict):
            return
        budget[0] -= 1
        ftypes = {
            f["name"]: f["type"]
            for f in fields
            if isinstance(f, dict)
            and isinstance(f.get("name"), str)
            and isinstance(f.get("type"), str)
        }
        field = next((f for f in _CALLDATA_FIELDS if ftypes.get(f) == "bytes"), None)
        if field is not None and value.get(field) is not None:
            target_field = next((f for f in _TARGET_FIELDS if ftypes.get(f) == "address"), None)
            account = _addr(value["sender"]) if ftypes.get("sender") == "address" else None
            if target_field is not None:
                target: str | None = _addr(value[target_field])
            else:
                target = account or verifier
            if ftypes.get("from") == "address":
                executor: str | None = _addr(value["from"])
            elif "operation" in ftypes and "safeTxGas" in ftypes:
                executor = verifier  # SafeTx: the Safe makes the call
            else:
                executor = account
            amount = (
                _uint(value.get("value", 0)) if ftypes.get("value", "").startswith("uint") else 0
            )
            delegate = "operation" in ftypes and _uint(value.get("operation", 0), 256) == 1
            if target is not None:
                out.append(
                    CarriedCall(
                        where, target, _bytes_value(value[field]), amount, executor, delegate
                    )
                )
        for fname, ftype in ftypes.items():
            base = ftype.split("[", 1)[0]
            if base not in types or fname not in value:
                continue
            items = value[fname] if ftype.endswith("]") else [value[fname]]
            if not isinstance(items, list):
                continue
            for n, item in enumerate(items):
                label = f"{where}.{fname}" + (f"[{n}]" if ftype.endswith("]") else "")
                visit(base, item, label, depth + 1)

    primary = doc.get("primaryType")
    if isinstance(primary, str):
        visit(primary, doc.get("message"), clean_text(primary, 40), 0)
    return out


def _with_calls(
    found: TypedDataDescription | None,
    calls: list[CarriedCall],
    token: Callable[[str], TokenMetaLike | None],
    name: Callable[[str], str | None],
) -> TypedDataDescription:
    from walletim.contracts.describe import APPROVING, describe_call, flag_marker

    flags = set(found.flags) if found else set()
    flags.add("carries-call")
    lines: list[str] = []
    described = []
    for call in calls[:MAX_TYPED_CALLS]:
        d = describe_call(call.target, call.data, call.value, token=token, name=name,
                          sender=call.executor)  # fmt: skip
        described.append(d)
        who = f" as {call.executor}" if call.executor else ""
        lines.append(
            f"It carries a call ({call.where}) that {call.target} will receive{who}: "
            f"{d.summary}{flag_marker(d.flags)}"
        )
        lines.extend(f"    {line}" for line in d.details)
        if call.delegatecall:
            flags.add("delegatecall")
            lines.append(
                f"    DELEGATECALL: the code of {call.target} runs as the signing account or "
                "Safe itself: it can change anything there"
            )
        if d.flags & APPROVING:
            flags.update({"approval", "nested-approval"})
            lines.extend(f"    it APPROVES: {a}" for a in d.approvals)
        if "unlimited-approval" in d.flags:
            flags.add("unlimited")
        if "operator-approval" in d.flags:
            flags.add("operator-approval")
        if d.flags & {"unknown-function", "malformed"}:
            flags.add("unknown-call")
        if "too-complex" in d.flags:
            flags.add("too-complex")
    if len(calls) > MAX_TYPED_CALLS:
        flags.add("too-complex")
        lines.append(f"It carries more than {MAX_TYPED_CALLS} calls: the rest is NOT DESCRIBED.")
    if found is None:
        head = (
            "Typed data carrying call(s) that a contract will execute on your signature"
            + ("; it carries APPROVALS" if "approval" in flags else "")
            + "."
        )
        return TypedDataDescription(
            "carries-call", None, None, (), None, None, frozenset(flags), (head, *lines),
            calls=tuple(described),
        )  # fmt: skip
    return TypedDataDescription(
        found.kind, found.owner, found.spender, found.grants, found.expires,
        found.signature_deadline, frozenset(flags), found.lines + tuple(lines), found.chain_id,
        found.verifying_contract, tuple(described),
    )  # fmt: skip
