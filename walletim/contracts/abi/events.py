"""Events (pure): signatures, topics, and :func:`decode_log`, the one place where walletim
reads a log."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from walletim.contracts.abi.decode import decode_values
from walletim.contracts.abi.signatures import (
    _IDENT,
    Value,
    _abi_type,
    _closing,
    _is_array,
    _param_list,
    keccak,
)
from walletim.errors import InputError, shown


class EventParam(NamedTuple):
    name: str
    type: str  # canonical
    indexed: bool


@dataclass(frozen=True, slots=True)
class EventSig:
    name: str
    inputs: tuple[EventParam, ...]
    anonymous: bool = False

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(p.type for p in self.inputs)})"

    @property
    def topic0(self) -> str:
        """0x-hex keccak256 of the signature (lowercase), the log's first topic."""
        return "0x" + keccak(self.signature.encode()).hex()

    @property
    def indexed(self) -> int:
        """How many parameters are indexed (topics after topic0)."""
        return sum(1 for p in self.inputs if p.indexed)


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    """``args`` maps parameter names (``arg<N>`` when unnamed) to values: ints, checksummed
    addresses, bytes; an indexed string/bytes/array/tuple is only its 32-byte keccak hash."""

    name: str
    signature: str
    address: str  # the emitting contract, checksummed
    args: dict[str, Value]


def parse_event(text: str) -> EventSig:
    """``Transfer(address indexed from, address indexed to, uint256 value)`` (an ``event``
    prefix and an ``anonymous`` suffix are allowed).

    Raises:
        InputError: it does not parse.
    """
    s = text.strip()
    if s.startswith("event "):
        s = s[6:].strip()
    open_at = s.find("(")
    name = s[:open_at].strip() if open_at > 0 else ""
    if not _IDENT.match(name):
        raise InputError(f"not an event signature: {shown(text)}")
    close = _closing(s[open_at:]) + open_at
    tail = s[close + 1 :].strip()
    if tail not in ("", "anonymous"):
        raise InputError(f"unexpected {shown(tail)} after the event's parameters")
    params = _param_list(s[open_at + 1 : close])
    return EventSig(name, tuple(EventParam(n, t, i) for t, n, i in params), tail == "anonymous")


def _event_of_entry(e: Mapping[str, object]) -> EventSig:
    inputs = e.get("inputs") or []
    if not isinstance(inputs, list) or not isinstance(e.get("name"), str):
        raise InputError("malformed event entry")
    return EventSig(
        str(e["name"]),
        tuple(
            EventParam(str(i.get("name") or ""), _abi_type(i), bool(i.get("indexed")))
            for i in inputs
        ),
        bool(e.get("anonymous", False)),
    )


def events_of_abi(abi: Sequence[Mapping[str, object]]) -> tuple[EventSig, ...]:
    """The events declared in an ABI (malformed event entries are skipped)."""
    out = []
    for e in abi:
        if isinstance(e, Mapping) and e.get("type") == "event":
            try:
                out.append(_event_of_entry(e))
            except InputError:
                continue
    return tuple(out)


def _hashed_when_indexed(t: str) -> bool:
    """Indexed strings, bytes, arrays (even fixed-size) and tuples are stored as a hash."""
    return t in ("string", "bytes") or _is_array(t) or t.startswith("(")


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        return bytes.fromhex(value[2:])
    raise ValueError("not 0x-hex")


class LogLike(Protocol):
    """A log as :class:`walletim.chain.rpc.Log` holds it (or any object with these)."""

    @property
    def address(self) -> str: ...

    @property
    def topics(self) -> Sequence[str]: ...

    @property
    def data(self) -> bytes: ...


def _log_parts(log: Mapping[str, object] | LogLike) -> tuple[str, list[bytes], bytes] | None:
    """(checksummed address, topics, data) of a log, or None when they do not read."""
    from walletim.keys.hd import to_checksum_address

    try:
        raw_topics: object
        raw_data: object
        raw_address: object
        if isinstance(log, Mapping):
            raw_topics, raw_data, raw_address = (
                log.get("topics") or [],
                log.get("data") or b"",
                log.get("address"),
            )
        else:
            raw_topics, raw_data, raw_address = log.topics, log.data, log.address
        if not isinstance(raw_topics, list | tuple):
            return None
        topics = [_as_bytes(t) for t in raw_topics]
        data = _as_bytes(raw_data)
        if not isinstance(raw_address, str | bytes):
            return None
        address = to_checksum_address(raw_address)
    except Exception:
        return None
    if not topics or any(len(t) != 32 for t in topics):
        return None
    return address, topics, data


def _event_sig(item: EventSig | Mapping[str, object]) -> EventSig | None:
    """An EventSig, or the event of a JSON ABI entry (None: not a usable event)."""
    try:
        sig = item if isinstance(item, EventSig) else None
        if sig is None and isinstance(item, Mapping) and item.get("type") == "event":
            sig = _event_of_entry(item)
    except InputError:
        return None
    return None if sig is None or sig.anonymous else sig


def _args(sig: EventSig, topics: list[bytes], data: bytes) -> dict[str, Value]:
    """The event's arguments by name. Raises (anything) when the log does not fit."""
    plain = [p.type for p in sig.inputs if not p.indexed]
    values = iter(decode_values(plain, data, strict=False) if plain else [])
    indexed = iter(topics[1:])
    args: dict[str, Value] = {}
    for n, p in enumerate(sig.inputs):
        key = p.name or f"arg{n}"
        if p.indexed:
            raw = next(indexed)
            args[key] = raw if _hashed_when_indexed(p.type) else decode_values([p.type], raw)[0]
        else:
            args[key] = next(values)
    return args


def decode_log(
    log: Mapping[str, object] | LogLike, abis: Iterable[EventSig | Mapping[str, object]]
) -> DecodedEvent | None:
    """Decode one log (``address``, ``topics``, ``data``: 0x-hex strings as JSON-RPC gives
    them, or bytes; a mapping, or a :class:`LogLike` such as walletim.chain.rpc's ``Log``)
    with the first event whose topic0 and number of indexed topics match; ``abis`` holds
    :class:`EventSig` s and/or JSON ABI entries (e.g. ``KNOWN_ABIS``, or ``load_abi(...)``).
    ERC-20 and ERC-721 ``Transfer`` share topic0: they differ in the number of indexed
    topics (2 vs 3). Returns None for an unknown or malformed log."""
    parts = _log_parts(log)
    if parts is None:
        return None
    address, topics, data = parts
    topic0 = "0x" + topics[0].hex()
    for item in abis:
        sig = _event_sig(item)
        if sig is None or sig.topic0 != topic0 or sig.indexed != len(topics) - 1:
            continue
        try:
            args = _args(sig, topics, data)
        except Exception:  # noqa: S112 - a log that does not fit this event: try the next
            continue
        return DecodedEvent(sig.name, sig.signature, address, args)
    return None
