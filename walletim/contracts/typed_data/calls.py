"""Calls carried inside typed data (pure): found in the payload's structs, each described by
:func:`walletim.contracts.describe.describe_call`, their approvals the payload's approvals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from walletim.contracts.describe import TokenMetaLike, clean_text
from walletim.contracts.typed_data.values import (
    Json,
    TypedDataDescription,
    _addr,
    _bytes_value,
    _uint,
)

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


def carried_calls(doc: Json) -> list[CarriedCall]:
    """The calls an eth_signTypedData_v4 payload carries (see the package docstring), in the
    order they appear; at most :data:`MAX_TYPED_CALLS` + 1 (the extra one says "more").
    Raises _Malformed / ValueError / TypeError on fields that do not parse."""
    types = doc.get("types")
    raw_domain = doc.get("domain")
    domain: Json = raw_domain if isinstance(raw_domain, dict) else {}
    verifier = domain.get("verifyingContract")
    if not isinstance(types, dict):
        return []
    finder = _CallFinder(types, _addr(verifier) if isinstance(verifier, str) else None)
    primary = doc.get("primaryType")
    if isinstance(primary, str):
        finder.visit(primary, doc.get("message"), clean_text(primary, 40), 0)
    return finder.found


def carries_calldata(doc: Json) -> bool:
    """Whether a type of ``doc`` has a field a call's bytes go in, as :func:`carried_calls`
    looks for them: where that reader does not find the call (a field it cannot parse, too
    deep, behind too many structs), the call is still there."""
    types = doc.get("types")
    return isinstance(types, dict) and any(
        isinstance(f, dict) and f.get("type") == "bytes" and f.get("name") in _CALLDATA_FIELDS
        for fields in types.values()
        if isinstance(fields, list)
        for f in fields
    )


def _unread_call(found: TypedDataDescription | None) -> TypedDataDescription:
    """``found`` (or plain typed data) carrying a call :func:`carried_calls` did not read."""
    flags = frozenset({*(found.flags if found else ()), "carries-call", "too-complex"})
    line = (
        "It carries a call's bytes walletim could not read: what a contract will do on this "
        "signature is NOT DESCRIBED."
    )
    if found is None:
        return TypedDataDescription(
            "carries-call", None, None, (), None, None, flags,
            ("Typed data carrying a call that a contract will execute on your signature.", line),
        )  # fmt: skip
    return replace(found, flags=flags, lines=(*found.lines, line))


class _CallFinder:
    """Walks a payload's structs (at most :data:`MAX_TYPED_STRUCTS`, 16 levels deep) for the
    calls they carry."""

    def __init__(self, types: Json, verifier: str | None) -> None:
        self.types = types
        self.verifier = verifier
        self.found: list[CarriedCall] = []
        self.budget = MAX_TYPED_STRUCTS

    def visit(self, type_name: str, value: object, where: str, depth: int) -> None:
        fields = self.types.get(type_name)
        if depth > 16 or self.budget <= 0 or len(self.found) > MAX_TYPED_CALLS:
            return
        if not isinstance(fields, list) or not isinstance(value, dict):
            return
        self.budget -= 1
        ftypes = {
            f["name"]: f["type"]
            for f in fields
            if isinstance(f, dict)
            and isinstance(f.get("name"), str)
            and isinstance(f.get("type"), str)
        }
        call = self._call(ftypes, value, where)
        if call is not None:
            self.found.append(call)
        for fname, ftype in ftypes.items():
            base = ftype.split("[", 1)[0]
            if base not in self.types or fname not in value:
                continue
            items = value[fname] if ftype.endswith("]") else [value[fname]]
            if not isinstance(items, list):
                continue
            for n, item in enumerate(items):
                label = f"{where}.{fname}" + (f"[{n}]" if ftype.endswith("]") else "")
                self.visit(base, item, label, depth + 1)

    def _call(self, ftypes: dict[str, str], value: Json, where: str) -> CarriedCall | None:
        """The call this struct carries (a bytes field named like calldata), or None."""
        field = next((f for f in _CALLDATA_FIELDS if ftypes.get(f) == "bytes"), None)
        if field is None or value.get(field) is None:
            return None
        target_field = next((f for f in _TARGET_FIELDS if ftypes.get(f) == "address"), None)
        account = _addr(value["sender"]) if ftypes.get("sender") == "address" else None
        target = (
            _addr(value[target_field]) if target_field is not None else account or self.verifier
        )
        if ftypes.get("from") == "address":
            executor: str | None = _addr(value["from"])
        elif "operation" in ftypes and "safeTxGas" in ftypes:
            executor = self.verifier  # SafeTx: the Safe makes the call
        else:
            executor = account
        amount = _uint(value.get("value", 0)) if ftypes.get("value", "").startswith("uint") else 0
        delegate = "operation" in ftypes and _uint(value.get("operation", 0), 256) == 1
        if target is None:
            return None
        return CarriedCall(where, target, _bytes_value(value[field]), amount, executor, delegate)


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
