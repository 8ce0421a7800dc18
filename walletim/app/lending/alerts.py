"""Lending alerts into the conversation with yourself: the watcher (``watch``, ``chat listen
--watch``, the app) calls :meth:`LendingWatch.scan` on each scan of an account.

- ``lending-health``: the account's Aave health factor fell under the user's threshold
  (default 1.2) or under :data:`CRITICAL` (1.05): once per crossing of each level, with what
  to repay (in the largest debt) or add (to the largest collateral) to get back to the
  threshold. A level is re-armed when the health factor is back at or above it plus
  :data:`REARM_MARGIN` (so a position hovering at a level does not alert on every wobble);
  the next fall under it alerts again. A fall through both levels at once is one message.
- ``lending-liquidation``: a ``LiquidationCall`` of the Pool naming the account (read from
  the blocks scanned): who liquidated, how much debt was repaid and what collateral was
  taken (its USD value at the oracle's price now).

Each alert is claimed in the store's ``alerts`` table in the same transaction that stores its
message (walletim.store.alerts, walletim.store.lending_alerts), so it is posted exactly once,
whatever rescans, crashes or concurrent watchers do. Only the figures the Pool gives are used
(the position is checked against ``getUserAccountData``: walletim.app.lending.reads); a
network without walletim's Aave deployment gives no lending alerts. Logs are decoded through
:func:`walletim.contracts.abi.decode_log`. The sentences are :mod:`.alert_text`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from typing import TYPE_CHECKING

from walletim.app.lending.alert_text import health_text, liquidation_text
from walletim.app.lending.markets import WAD
from walletim.app.lending.ports import Positions, StoreFactory
from walletim.app.lending.position import NO_DEBT, Position, format_hf, hf_wad
from walletim.app.watch.post import SelfChat
from walletim.chain.rpc import Log, Q
from walletim.contracts.abi import (
    AAVE_V3_POOL_ABI,
    DecodedEvent,
    EventSig,
    Value,
    decode_log,
    events_of_abi,
    parse_event,
)
from walletim.errors import InputError
from walletim.jsonview import same_fields
from walletim.keys.hd import to_checksum_address
from walletim.store.alerts import AlertRepo, Conn
from walletim.store.lending_alerts import REARM_KIND, claimed, episode

if TYPE_CHECKING:
    from walletim.app.lending.markets import Market

DEFAULT_THRESHOLD = WAD * 12 // 10  # 1.2
CRITICAL = WAD * 105 // 100  # 1.05
REARM_MARGIN = WAD // 50  # 0.02
KINDS = ("lending-health", "lending-liquidation")
LIQUIDATION_CALL = next(e for e in events_of_abi(AAVE_V3_POOL_ABI) if e.name == "LiquidationCall")
TRANSFER = parse_event("Transfer(address indexed from, address indexed to, uint256 value)")
ZERO = "0x" + "00" * 20


@dataclass(frozen=True, slots=True)
class LendingAlert:
    """One posted lending alert (the watcher shows ``kind`` and ``text``). Amounts in base
    units; ``health_factor`` in wad (None: no debt)."""

    kind: str  # one of KINDS
    key: str
    text: str
    account: str
    chain_id: int
    block: int
    hash: str | None  # the liquidation's transaction
    health_factor: int | None
    level: int | None = None  # lending-health: the lowest level crossed (wad)
    details: dict[str, str | list[str | None] | None] = field(default_factory=dict)
    message_id: int | None = None

    def to_json(self) -> dict[str, object]:
        hf = self.health_factor
        return {
            **same_fields(self, "kind", "text", "key", "account", "chain_id", "block", "hash"),
            "health_factor": None if hf is None else format_hf(hf),
            "raw_health_factor": None if hf is None else str(hf),
            "level": None if self.level is None else format_hf(self.level),
            "message_id": self.message_id,
            "source": "aave",
            **self.details,
        }


def _uint(value: Value) -> int:
    return value if isinstance(value, int) else 0


def _events(logs: Sequence[Log], sig: EventSig, emitter: str) -> Iterator[DecodedEvent]:
    """``emitter``'s own ``sig`` events among ``logs`` (removed and malformed ones left out)."""
    for log in logs:
        if log.removed or log.address != emitter.lower():
            continue
        event = decode_log(log, [sig])
        if event is not None:
            yield event


@dataclass(eq=False)
class LendingWatch:
    """Health and liquidation alerts of Aave positions. Collaborators: ``lending`` (Aave on
    this network and checked positions: the LendingService), ``store`` (alerts, the
    conversation with yourself) and ``clock`` (seconds since the epoch)."""

    lending: Positions
    store: StoreFactory
    _: KW_ONLY
    clock: Callable[[], float] = time.time

    def check_threshold(self, threshold: int) -> int:
        """``threshold`` if :meth:`scan` takes it (:func:`check_threshold`), else InputError."""
        return check_threshold(threshold)

    def scan(
        self,
        address: str,
        chain_id: int,
        first_block: int,
        last_block: int,
        *,
        threshold: int | None = None,
        account: str | None = None,
    ) -> list[LendingAlert]:
        """Check ``address``'s position now and the Pool's LiquidationCall logs of blocks
        ``first_block`` .. ``last_block``; post what is new. ``threshold``: the health factor
        (wad) under which to alert first (default 1.2; CRITICAL is the second level);
        ``account``: its NAME[:INDEX] for the commands an alert suggests (default: the
        address).

        Raises:
            InputError: a threshold not above 1.0. InconsistentAnswer (the node's figures do
            not add up), RpcError, StoreError.
        """
        threshold = DEFAULT_THRESHOLD if threshold is None else check_threshold(threshold)
        try:
            pool = self.lending.aave().pool
        except InputError:
            return []  # no Aave here: nothing to watch
        user = to_checksum_address(address)
        position = self.lending.position(user)
        found = self._liquidations(position, chain_id, pool, first_block, last_block)
        return self._post(position, chain_id, pool, threshold, found, account or user)

    # -- liquidations ------------------------------------------------------------------------

    def _liquidations(
        self, position: Position, chain_id: int, pool: str, first: int, last: int
    ) -> list[LendingAlert]:
        if last < first:
            return []
        user = position.address
        topic = "0x" + "0" * 24 + user[2:].lower()
        query = Q.logs(address=pool, topics=[LIQUIDATION_CALL.topic0, None, None, topic],
                       from_block=first, to_block=last)  # fmt: skip
        logs = self.lending.rpc.get(query)
        out = []
        for log in logs:
            event = next(_events([log], LIQUIDATION_CALL, pool), None)
            if event is not None and str(event.args["user"]) == user:
                out.append(self._liquidation(position, chain_id, log, event))
        return out

    def _liquidation(
        self, position: Position, chain_id: int, log: Log, event: DecodedEvent
    ) -> LendingAlert:
        a = event.args
        markets = {h.market.asset: h.market for h in position.holdings}
        collateral, debt = str(a["collateralAsset"]), str(a["debtAsset"])
        liquidator = str(a["liquidator"])
        fee = self._protocol_fee(position.address, liquidator, markets.get(collateral), log.tx_hash)
        taken, repaid = _uint(a["liquidatedCollateralAmount"]) + fee, _uint(a["debtToCover"])
        hf = position.figures.health_factor
        text = liquidation_text(
            position, log, liquidator, (markets.get(collateral), collateral, taken, fee),
            (markets.get(debt), debt, repaid),
        )  # fmt: skip
        return LendingAlert(
            "lending-liquidation",
            f"lending-liquidation:{chain_id}:{log.block_hash}:{log.tx_hash}:{log.log_index}",
            text, position.address, chain_id, log.block_number or 0, log.tx_hash,
            None if hf >= NO_DEBT else hf,
            details={
                "collateral_asset": collateral, "collateral_taken": str(taken),
                "protocol_fee": str(fee), "debt_asset": debt, "debt_repaid": str(repaid),
                "liquidator": liquidator,
            },
        )  # fmt: skip

    def _protocol_fee(
        self, user: str, liquidator: str, market: Market | None, tx_hash: str | None
    ) -> int:
        """The collateral a liquidation moved from ``user`` to Aave's treasury (the protocol's
        share of the bonus, not in the LiquidationCall log): the collateral aToken's Transfer
        logs of that transaction from the user to anyone but the liquidator or a burn."""
        if market is None or tx_hash is None:
            return 0
        receipt = self.lending.rpc.get(Q.receipt(tx_hash))
        if receipt is None:
            return 0
        skip = {ZERO, liquidator.lower()}
        return sum(
            _uint(e.args["value"])
            for e in _events(receipt.logs, TRANSFER, market.a_token)
            if str(e.args["from"]) == user and str(e.args["to"]).lower() not in skip
        )

    # -- posting -----------------------------------------------------------------------------

    def _post(
        self,
        position: Position,
        chain_id: int,
        pool: str,
        threshold: int,
        liquidations: list[LendingAlert],
        account: str,
    ) -> list[LendingAlert]:
        """Claim and post, in one store transaction: liquidations, the health levels crossed
        (one message for the lowest), re-arming the levels the position is back above."""
        user, hf = position.address, position.figures.health_factor
        now_ms = int(self.clock() * 1000)
        posted: list[LendingAlert] = []
        with self.store().transaction() as conn:
            here = SelfChat(conn, user, now_ms)
            for alert in liquidations:
                if AlertRepo.claim(conn, user, alert.key, alert.kind, now_ms):
                    posted.append(replace(alert, message_id=here.show(alert)))
            prefix = f"lending-hf:{chain_id}:{pool.lower()}:"
            crossed = _crossings(conn, user, prefix, hf, threshold, now_ms)
            if crossed:
                (lowest, key), others = crossed[-1], [lv for lv, _k in crossed[:-1]]
                text = health_text(account, position, lowest, threshold, others)
                alert = LendingAlert(
                    "lending-health", key, text, user, chain_id, position.block, None, hf, lowest,
                    details={"threshold": format_hf(threshold),
                             "levels": [format_hf(x) for x in (*others, lowest)]},
                )  # fmt: skip
                if AlertRepo.claim(conn, user, key, alert.kind, now_ms):
                    for _level, other in crossed[:-1]:
                        AlertRepo.claim(conn, user, other, alert.kind, now_ms)
                    posted.append(replace(alert, message_id=here.show(alert)))
        return posted


def _crossings(
    conn: Conn, user: str, prefix: str, hf: int, threshold: int, now_ms: int
) -> list[tuple[int, str]]:
    """(level, alert key) of each level (the threshold, then CRITICAL under it) the health
    factor is under and whose crossing is not claimed yet, highest first; a level the health
    factor is back above (plus REARM_MARGIN) is re-armed for its next crossing."""
    crossed = []
    for level in sorted({lv for lv in (threshold, CRITICAL) if lv <= threshold}, reverse=True):
        level_prefix = f"{prefix}{level}:"
        n = episode(conn, user, level_prefix)
        key = f"{level_prefix}alert:{n}"
        if hf < level:
            if not claimed(conn, user, key):
                crossed.append((level, key))
        elif hf >= level + REARM_MARGIN and claimed(conn, user, key):
            AlertRepo.claim(conn, user, f"{level_prefix}rearm:{n}", REARM_KIND, now_ms)
    return crossed


def parse_threshold(text: str) -> int:
    """``1.2`` -> the health-factor threshold in wad. Raises InputError (not a number above
    1.0 and at most 100)."""
    try:
        value = hf_wad(text)
    except (ValueError, ArithmeticError) as exc:
        raise InputError(f"not a health factor: {text[:40]!r} (e.g. 1.2)") from exc
    return check_threshold(value)


def check_threshold(threshold: int) -> int:
    """``threshold`` when it is a health factor in wad (an int) above 1.0 and at most 100.
    Raises InputError: a script's ``health=1.2`` was told "must be above 1.0"."""
    if type(threshold) is not int:
        raise InputError(
            f"a health-factor threshold is an int in wad (1.2 is {WAD * 12 // 10}: "
            f"parse_threshold('1.2')), not {type(threshold).__name__}"
        )
    if not WAD < threshold <= 100 * WAD:
        raise InputError("the health-factor alert threshold must be above 1.0 (e.g. 1.2)")
    return threshold


__all__ = [
    "CRITICAL",
    "DEFAULT_THRESHOLD",
    "KINDS",
    "REARM_MARGIN",
    "LendingAlert",
    "LendingWatch",
    "check_threshold",
    "parse_threshold",
]
