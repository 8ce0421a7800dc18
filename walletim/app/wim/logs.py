"""The events money in chats checks, decoded once through
:func:`walletim.contracts.abi.decode_log` (no hand-written topic matching).

A log counts only if it was emitted by the contract expected (a token for its Transfer,
WETH for its Withdrawal, the vault for its Deposit, the red-packet contract for its Claimed:
any contract can emit an event of the same shape), is not marked removed, and decodes
exactly: its data holds exactly the event's non-indexed words (a longer or shorter one is
malformed and refused) and every indexed address is a clean 20-byte value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from walletim.contracts.abi import DecodedEvent, EventSig, decode_log, parse_event

TRANSFER = parse_event("Transfer(address indexed from, address indexed to, uint256 value)")
WITHDRAWAL = parse_event("Withdrawal(address indexed src, uint256 wad)")  # WETH9
DEPOSIT = parse_event(  # ERC-4626
    "Deposit(address indexed sender, address indexed owner, uint256 assets, uint256 shares)"
)
CLAIMED = parse_event(  # walletim's red-packet contract
    "Claimed(bytes32 indexed id, address indexed claimer, uint256 amount)"
)
CREATED = parse_event(  # the same contract, when a packet's escrow is made
    "Created(bytes32 indexed id, address indexed creator, address token, uint256 total, "
    "uint32 shares, bool random, uint64 expiry)"
)

#: A log as a node reports it in a receipt (address, topics, data: 0x-hex strings).
RawLog = Mapping[str, object]


def _data_words(log: RawLog) -> int | None:
    data = log.get("data")
    if isinstance(data, bytes | bytearray):
        size = len(data)
    elif isinstance(data, str) and data[:2] in ("0x", "0X"):
        size, odd = divmod(len(data) - 2, 2)
        if odd:
            return None
    else:
        return None
    words, rest = divmod(size, 32)
    return None if rest else words


def events(logs: Sequence[object], sig: EventSig, emitter: str | None) -> Iterator[DecodedEvent]:
    """Each log of ``logs`` that is ``sig`` emitted by ``emitter`` (any emitter if None),
    decoded; removed and malformed logs are skipped."""
    plain = sum(1 for p in sig.inputs if not p.indexed)
    for log in logs:
        if not isinstance(log, Mapping) or log.get("removed") is True:
            continue
        if emitter is not None and str(log.get("address", "")).lower() != emitter.lower():
            continue
        if _data_words(log) != plain:
            continue
        event = decode_log(log, [sig])
        if event is not None:
            yield event


def moved(logs: Sequence[object], token: str, payer: str, payee: str) -> int:
    """What ``token``'s own Transfer logs move from ``payer`` to ``payee`` (base units)."""
    return sum(
        int(e.args["value"])
        for e in events(logs, TRANSFER, token)
        if str(e.args["from"]).lower() == payer.lower()
        and str(e.args["to"]).lower() == payee.lower()
    )


def arrived(logs: Sequence[object], token: str, payer: str, payee: str) -> int:
    """What ``payee`` nets of ``token`` from ``payer`` by its own Transfer logs (base units):
    :func:`moved` from the payer, less what the same logs take out of the payee's hands to
    anyone else (a token that logs the whole amount arriving and then takes a tax back from
    the recipient); never below 0."""
    return max(0, moved(logs, token, payer, payee) - _taken(logs, token, payee))


def netted(logs: Sequence[object], token: str, holder: str) -> int:
    """What ``holder`` nets of ``token`` by its own Transfer logs: what they move to it from
    anyone, less what they take out of its hands (never below 0)."""
    got = sum(
        int(e.args["value"])
        for e in events(logs, TRANSFER, token)
        if str(e.args["to"]).lower() == holder.lower()
        and str(e.args["from"]).lower() != holder.lower()
    )
    return max(0, got - _taken(logs, token, holder))


def _taken(logs: Sequence[object], token: str, holder: str) -> int:
    """What ``token``'s own Transfer logs move out of ``holder``'s hands to anyone else."""
    return sum(
        int(e.args["value"])
        for e in events(logs, TRANSFER, token)
        if str(e.args["from"]).lower() == holder.lower()
        and str(e.args["to"]).lower() != holder.lower()
    )


def paid_out(logs: Sequence[object], token: str, payer: str) -> int:
    """What ``token``'s own Transfer logs move from ``payer`` to anyone, together (a token
    taking a fee on transfer logs the amount in two: what arrives, and the fee)."""
    return sum(
        int(e.args["value"])
        for e in events(logs, TRANSFER, token)
        if str(e.args["from"]).lower() == payer.lower()
    )


def withdrawn(logs: Sequence[object], weth: str, value: int) -> bool:
    """Whether the real WETH logged a Withdrawal of exactly ``value``."""
    return any(int(e.args["wad"]) == value for e in events(logs, WITHDRAWAL, weth))


def deposited(logs: Sequence[object], vault: str, owner: str, assets: int, shares: int) -> bool:
    """Whether ``vault`` logged a Deposit of ``assets`` for ``shares`` to ``owner``."""
    return any(
        str(e.args["owner"]).lower() == owner.lower()
        and int(e.args["assets"]) == assets
        and int(e.args["shares"]) == shares
        for e in events(logs, DEPOSIT, vault)
    )


def claim_of(log: object, contract: str, packet_id: str) -> tuple[str, int] | None:
    """(claimer, amount) if ``log`` is ``contract``'s own ``Claimed`` log for ``packet_id``
    (a removed log, another emitter, another packet or a malformed one: None)."""
    for e in events([log], CLAIMED, contract):
        if "0x" + bytes(e.args["id"]).hex() == packet_id.lower():
            return str(e.args["claimer"]), int(e.args["amount"])
    return None


def creator_of(log: object, contract: str, packet_id: str) -> str | None:
    """The creator if ``log`` is ``contract``'s own ``Created`` log for ``packet_id`` (else
    None, as :func:`claim_of`)."""
    for e in events([log], CREATED, contract):
        if "0x" + bytes(e.args["id"]).hex() == packet_id.lower():
            return str(e.args["creator"])
    return None


__all__ = [
    "CLAIMED",
    "CREATED",
    "DEPOSIT",
    "TRANSFER",
    "WITHDRAWAL",
    "arrived",
    "claim_of",
    "creator_of",
    "deposited",
    "events",
    "moved",
    "netted",
    "paid_out",
    "withdrawn",
]
