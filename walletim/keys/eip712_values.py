"""What an EIP-712 document's values must be before it is hashed and signed (pure).

eth-account encodes more than MetaMask and cast sign, and what it makes of it is not what a
reader of the JSON sees: a ``uint256[2]`` given three values (or one), a struct field missing
or ``null`` (hashed as zero), ``1`` for a ``bool``, ``"0xabc"`` for ``bytes`` (hashed as
``0x0abc``), ``5`` for a ``string``, `` 5`` or ``"٣"`` for an integer. :func:`check_values`
refuses each in one line, naming the field, before anything is hashed; cast (alloy) refuses
them alike. Five bytes for a ``bytes4`` are refused too (cast signs the first four). What the
encoder refuses itself (``256`` for a ``uint8``, ``"vitalik.eth"`` for an ``address``) is
refused here too, in the type's words rather than its Python classes'. What every signer
takes is kept: integers as JSON numbers, decimal or 0x-hex strings; booleans as true/false
(or "true"/"false", as cast reads them); bytes as 0x-hex of whole bytes (a ``bytesN`` of
fewer than N bytes is right-padded by every signer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from walletim.errors import InputError

_INTEGER = re.compile(r"(u?)int(\d*)")
_BYTES_N = re.compile(r"bytes(\d+)")
_WHOLE_BYTES = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
#: A JSON escape such as "\\ud800" alone: no character, so no UTF-8 to hash.
_SURROGATE = re.compile("[\ud800-\udfff]")
_DECIMAL = re.compile(r"-?[0-9]+")
_HEX_NUMBER = re.compile(r"0x[0-9a-fA-F]+")
#: What eth-account encodes as an address (cast takes the same but for a capital 0X).
_ADDRESS = re.compile(r"(?:0[xX])?[0-9a-fA-F]{40}")


#: EIP-712's domain fields, each at its type, in the order the EIP gives them.
DOMAIN_FIELDS = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
    ("salt", "bytes32"),
)


class _Refused(Exception):
    pass


def check_values(doc: Mapping[str, object]) -> None:
    """Refuse a document whose domain or message is not exactly of its types (see the module
    docstring). Types or fields it does not know are left to the encoder, which refuses them.

    Raises:
        InputError: one line naming the field (``message.who.wallet``) and what is wrong.
    """
    types = doc.get("types")
    if not isinstance(types, Mapping):
        return
    try:
        _definitions(types)
        _domain_type(types.get("EIP712Domain"))
        _domain_declared(types.get("EIP712Domain"), doc.get("domain"))
        if "EIP712Domain" in types:
            _value(types, "EIP712Domain", doc.get("domain"), "domain")
        _value(types, str(doc.get("primaryType")), doc.get("message"), "message")
    except _Refused as exc:
        raise InputError(f"typed data refused: {exc}") from exc


def _definitions(types: Mapping[str, object]) -> None:
    """Each type a list of fields, each field ``{"name": text, "type": text}``, as MetaMask's
    schema and cast require of every type (the encoder's refusal is a Python ``KeyError``)."""
    for kind, fields in types.items():
        if not isinstance(fields, list):
            raise _Refused(f"types.{kind} is not a list of fields")
        for n, field in enumerate(fields):
            if not (
                isinstance(field, Mapping)
                and isinstance(field.get("name"), str)
                and isinstance(field.get("type"), str)
            ):
                raise _Refused(f'types.{kind}[{n}] is not a field {{"name": ..., "type": ...}}')


def _domain_type(fields: object) -> None:
    """``types.EIP712Domain`` as EIP-712 defines it: some of its five fields, each at its
    type, in its order. eth-account (and cast) hash the domain so whatever the document
    lists; MetaMask and geth hash it as listed: a domain type in another order or at other
    types would be signed as neither a reader of the file nor MetaMask sees it."""
    if not isinstance(fields, list):
        return  # no domain type (or not a list: refused by _definitions)
    place = {field: n for n, field in enumerate(DOMAIN_FIELDS)}
    last = -1
    for field in fields:
        name, kind = field["name"], field["type"]
        n = place.get((name, kind))
        if n is None:
            known = ", ".join(f"{kind} {name}" for name, kind in DOMAIN_FIELDS)
            raise _Refused(f"types.EIP712Domain has '{kind} {name}': EIP-712's are {known}")
        if n <= last:
            raise _Refused(
                f"types.EIP712Domain lists {name} out of EIP-712's order (name, version, "
                "chainId, verifyingContract, salt): MetaMask and cast would sign it differently"
            )
        last = n


def _domain_declared(fields: object, domain: object) -> None:
    """Every field of the domain declared in ``types.EIP712Domain`` (none without one).
    MetaMask hashes only the declared ones (an empty domain when the type is missing);
    eth-account and cast hash the fields the domain has."""
    if not isinstance(domain, Mapping):
        return
    declared = {f["name"] for f in fields} if isinstance(fields, list) else set()
    for name in domain:
        if name not in declared:
            raise _Refused(
                f"domain.{name} is not declared in types.EIP712Domain: MetaMask would sign "
                "the domain without it, cast with it"
            )


def _value(types: Mapping[str, object], kind: str, value: object, where: str) -> None:
    if kind.endswith("]") and "[" in kind:
        _array(types, kind, value, where)
    elif kind in types:
        _struct(types, kind, value, where)
    else:
        _atomic(kind, value, where)


def _array(types: Mapping[str, object], kind: str, value: object, where: str) -> None:
    inner, _, size = kind[:-1].rpartition("[")
    if not isinstance(value, list):
        raise _Refused(f"{where} ({kind}) is not a list")
    if size and (not size.isdecimal() or len(value) != int(size)):
        count = f"{len(value)} value" + ("" if len(value) == 1 else "s")
        raise _Refused(f"{where} ({kind}) has {count}, not {size}")
    for i, item in enumerate(value):
        _value(types, inner, item, f"{where}[{i}]")


def _struct(types: Mapping[str, object], kind: str, value: object, where: str) -> None:
    fields = types[kind]
    if not isinstance(value, Mapping):
        raise _Refused(f"{where} ({kind}) is {'null' if value is None else 'not an object'}")
    if not isinstance(fields, list):
        return
    for field in fields:
        if not isinstance(field, Mapping):
            continue
        name, inner = field.get("name"), field.get("type")
        if not isinstance(name, str) or not isinstance(inner, str):
            continue
        if value.get(name) is None:
            said = "null" if name in value else "missing"
            raise _Refused(f"{where}.{name} ({inner}) is {said}")
        _value(types, inner, value[name], f"{where}.{name}")


def _atomic(kind: str, value: object, where: str) -> None:
    if kind == "bool":
        ok = isinstance(value, bool) or value in ("true", "false")
    elif kind == "string":
        ok = isinstance(value, str)
        if isinstance(value, str) and _SURROGATE.search(value):
            raise _Refused(f"{where} (string) holds a lone UTF-16 surrogate: it is not text")
    elif kind == "bytes" or _BYTES_N.fullmatch(kind):
        ok = isinstance(value, bytes) or (
            isinstance(value, str) and _WHOLE_BYTES.fullmatch(value) is not None
        )
        if ok and kind != "bytes" and isinstance(value, bytes | str):
            _fits(kind, value, where)
    elif kind == "address":
        ok = (isinstance(value, bytes) and len(value) == 20) or (
            isinstance(value, str) and _ADDRESS.fullmatch(value) is not None
        )
    elif (integer := _INTEGER.fullmatch(kind)) is not None:
        ok = _integer(value, signed=not integer.group(1))
        if ok and isinstance(value, int | str):
            _in_range(kind, value, where, integer.group(2), signed=not integer.group(1))
    else:
        return  # an unknown type: the encoder's own checks
    if not ok:
        raise _Refused(f"{where} ({kind}) is not {_WANTED.get(kind.rstrip('0123456789'), kind)}")


def _fits(kind: str, value: bytes | str, where: str) -> None:
    """Refuse a ``bytesN`` value of more than N bytes (fewer are right-padded by every
    signer), in the type's words (the encoder's names its Python classes). A size that is no
    Solidity type is the encoder's."""
    size = int(kind[5:])
    length = len(value) if isinstance(value, bytes) else (len(value) - 2) // 2
    if 1 <= size <= 32 and length > size:
        raise _Refused(f"{where} ({kind}) has {length} bytes, more than {size}")


def _integer(value: object, *, signed: bool) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if not isinstance(value, str):
        return False
    if _HEX_NUMBER.fullmatch(value):
        return True
    return _DECIMAL.fullmatch(value) is not None and (signed or not value.startswith("-"))


def _in_range(kind: str, value: int | str, where: str, bits: str, *, signed: bool) -> None:
    """Refuse an integer its type cannot hold, in the type's own words (the encoder's message
    names its Python classes, and of a 5,000-digit string suggests
    ``sys.set_int_max_str_digits()``). A size that is no Solidity type is the encoder's."""
    size = int(bits or 256)
    if size % 8 or not 8 <= size <= 256:
        return
    low, high = (-(2 ** (size - 1)), 2 ** (size - 1) - 1) if signed else (0, 2**size - 1)
    if isinstance(value, int):
        number: int | None = value
    elif len(value) > 80:  # 2**256 has 78 digits: out of range, and int() never sees it
        number = None
    else:
        number = int(value, 16) if value.startswith("0x") else int(value)
    if number is None or not low <= number <= high:
        bounds = (
            f"{low} to {high}"
            if size <= 64
            else f"-2**{size - 1} to 2**{size - 1}-1"
            if signed
            else f"0 to 2**{size}-1"
        )
        raise _Refused(f"{where} ({kind}) is out of its range ({bounds})")


_WANTED = {
    "address": "an address (0x and 40 hex digits)",
    "bool": "true or false",
    "string": "a string",
    "bytes": "0x-hex of whole bytes",
    "uint": "an integer (a number, or a decimal or 0x-hex string)",
    "int": "an integer (a number, or a decimal or 0x-hex string)",
}
