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
message (walletim.store.alerts), so it is posted exactly once, whatever rescans, crashes or
concurrent watchers do. Only the figures the Pool gives are used (the position is checked
against ``getUserAccountData``: walletim.app.lending.service); a network without walletim's
Aave deployment gives no lending alerts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from walletim.app.lending.markets import WAD, usd
from walletim.app.lending.position import NO_DEBT, hf_text, remedy
from walletim.chain.rpc import Q
from walletim.chain.units import format_amount
from walletim.errors import InputError
from walletim.keys.hd import to_checksum_address
from walletim.store.alerts import AlertRepo
from walletim.store.chat import ChatTx
from walletim.store.lending_alerts import REARM_KIND, claimed, episode

if TYPE_CHECKING:
    from walletim.app.lending.markets import Market
    from walletim.app.lending.service import LendingService, Position
    from walletim.store.db import Store

DEFAULT_THRESHOLD = WAD * 12 // 10  # 1.2
CRITICAL = WAD * 105 // 100  # 1.05
REARM_MARGIN = WAD // 50  # 0.02
KINDS = ("lending-health", "lending-liquidation")
T_LIQUIDATION_CALL = "0xe413a321e8681d831f4dbccbca790d2952b56f977908e45be37335533e005286"
T_TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


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
    details: dict[str, Any] = field(default_factory=dict)
    message_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "key": self.key,
            "account": self.account,
            "chain_id": self.chain_id,
            "block": self.block,
            "hash": self.hash,
            "health_factor": _hf(self.health_factor),
            "raw_health_factor": None if self.health_factor is None else str(self.health_factor),
            "level": _hf(self.level),
            "message_id": self.message_id,
            "source": "aave",
            **self.details,
        }


def _short(market: Market, amount: int) -> str:
    """An amount for a sentence: at most 6 decimals (the JSON has the exact base units)."""
    return f"{format_amount(amount, market.decimals, max_places=6)} {market.symbol}"


def _hf(wad: int | None) -> str | None:
    from walletim.app.lending.position import format_hf

    return None if wad is None else format_hf(wad)


class LendingWatch:
    """Health and liquidation alerts of Aave positions. Collaborators: the LendingService
    (reads, checked) and the home's store (alerts, the conversation with yourself)."""

    def __init__(
        self,
        lending: LendingService,
        store: Callable[[], Store],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lending = lending
        self._store = store
        self._clock = clock

    def scan(
        self,
        address: str,
        chain_id: int,
        first_block: int,
        last_block: int,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        account: str | None = None,
    ) -> list[LendingAlert]:
        """Check ``address``'s position now and the Pool's LiquidationCall logs of blocks
        ``first_block`` .. ``last_block``; post what is new. ``threshold``: the health factor
        (wad) under which to alert first (CRITICAL is the second level); ``account``: its
        NAME[:INDEX] for the commands an alert suggests (default: the address).

        Raises:
            InputError: a threshold not above 1.0. InconsistentAnswer (the node's figures do
            not add up), RpcError, StoreError.
        """
        if threshold <= WAD:
            raise InputError("the health-factor alert threshold must be above 1.0")
        try:
            aave = self.lending.aave()
        except InputError:
            return []  # no Aave here: nothing to watch
        user = to_checksum_address(address)
        position = self.lending.position(user)
        found = self._liquidations(user, chain_id, aave.pool, first_block, last_block, position)
        return self._post(user, chain_id, aave.pool, position, threshold, found, account or user)

    # -- liquidations ------------------------------------------------------------------------

    def _liquidations(
        self,
        user: str,
        chain_id: int,
        pool: str,
        first: int,
        last: int,
        position: Position,
    ) -> list[LendingAlert]:
        if last < first:
            return []
        from eth_abi.abi import decode

        topic = "0x" + "0" * 24 + user[2:].lower()
        logs = self.lending.rpc.get(
            Q.logs(
                address=pool,
                topics=[T_LIQUIDATION_CALL, None, None, topic],
                from_block=first,
                to_block=last,
            )
        )
        markets = {h.market.asset: h.market for h in position.holdings}
        out = []
        for log in logs:
            if log.removed or len(log.topics) != 4 or log.address != pool.lower():
                continue
            try:
                debt_covered, taken, liquidator, _as_atoken = decode(
                    ["uint256", "uint256", "address", "bool"], log.data
                )
            except Exception:  # noqa: S112 - not the Pool's event after all
                continue
            collateral = to_checksum_address("0x" + log.topics[1][-40:])
            debt = to_checksum_address("0x" + log.topics[2][-40:])
            c_market, d_market = markets.get(collateral), markets.get(debt)
            liquidator = to_checksum_address(liquidator)
            fee = self._protocol_fee(user, liquidator, c_market, log.tx_hash)
            taken = int(taken) + fee
            if c_market is not None:
                worth = usd(c_market.value(taken))
                took = f"{_short(c_market, taken)} of your collateral (${worth} now"
                if fee:
                    took += (
                        f"; {_short(c_market, taken - fee)} to the liquidator, "
                        f"{_short(c_market, fee)} Aave's fee"
                    )
                took += ", bonus included)"
            else:
                took = f"{taken} base units of {collateral} (your collateral)"
            repaid = (
                _short(d_market, int(debt_covered)) if d_market else f"{debt_covered} of {debt}"
            )
            hf = position.figures.health_factor
            text = (
                f"LIQUIDATED on Aave: {liquidator} repaid {repaid} of your debt and took "
                f"{took} (block "
                f"{log.block_number}, tx {log.tx_hash}). Health factor now {hf_text(hf)}; "
                f"walletim lend position {user} shows what is left."
            )
            out.append(
                LendingAlert(
                    "lending-liquidation",
                    f"lending-liquidation:{chain_id}:{log.block_hash}:{log.tx_hash}:{log.log_index}",
                    text,
                    user,
                    chain_id,
                    log.block_number or 0,
                    log.tx_hash,
                    None if hf >= NO_DEBT else hf,
                    details={
                        "collateral_asset": collateral,
                        "collateral_taken": str(taken),
                        "protocol_fee": str(fee),
                        "debt_asset": debt,
                        "debt_repaid": str(int(debt_covered)),
                        "liquidator": liquidator,
                    },
                )
            )
        return out

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
        me, zero = "0x" + "0" * 24 + user[2:].lower(), "0x" + "0" * 64
        skip = {zero, "0x" + "0" * 24 + liquidator[2:].lower()}
        fee = 0
        for log in receipt.logs:
            if (
                log.address == market.a_token.lower()
                and len(log.topics) == 3
                and log.topics[0] == T_TRANSFER
                and log.topics[1] == me
                and log.topics[2] not in skip
                and len(log.data) == 32
            ):
                fee += int.from_bytes(log.data, "big")
        return fee

    # -- health ------------------------------------------------------------------------------

    def _health_text(
        self, account: str, position: Position, level: int, threshold: int, also: list[int]
    ) -> str:
        f = position.figures
        under = hf_text(level) + ("".join(f" (and {hf_text(x)})" for x in also))
        lines = [
            f"Aave health factor {hf_text(f.health_factor)} fell under {under} (block "
            f"{position.block}): collateral ${usd(f.total_collateral)}, debt "
            f"${usd(f.total_debt)}; "
            + (
                "it can be liquidated NOW (under 1.0)."
                if f.health_factor < WAD
                else "it can be liquidated under 1.0."
            )
        ]
        fix = remedy(position.holdings, threshold)
        if fix is not None:
            options = []
            if fix.repay_market is not None and fix.repay:
                amount = format_amount(fix.repay, fix.repay_market.decimals)
                options.append(
                    f"repay {fix.repay_market.fmt(fix.repay)} (walletim lend repay --from "
                    f"{account} {amount} {fix.repay_market.symbol})"
                )
            if fix.add_market is not None and fix.add:
                amount = format_amount(fix.add, fix.add_market.decimals)
                options.append(
                    f"add {fix.add_market.fmt(fix.add)} of collateral (walletim lend supply "
                    f"--from {account} {amount} {fix.add_market.symbol})"
                )
            if options:
                lines.append(f"To get back to {hf_text(threshold)}: " + " or ".join(options) + ".")
        return " ".join(lines)

    def _post(
        self,
        user: str,
        chain_id: int,
        pool: str,
        position: Position,
        threshold: int,
        liquidations: list[LendingAlert],
        account: str,
    ) -> list[LendingAlert]:
        """Claim and post, in one store transaction: liquidations, the health levels crossed
        (one message for the lowest), re-arming the levels the position is back above."""
        hf = position.figures.health_factor
        levels = sorted({threshold, CRITICAL}, reverse=True)
        levels = [lv for lv in levels if lv <= threshold]
        now_ms = int(self._clock() * 1000)
        posted: list[LendingAlert] = []
        store = self._store()
        with store.transaction() as conn:
            chat = ChatTx(conn)
            cid: str | None = None

            def show(alert: LendingAlert, also_keys: Sequence[str] = ()) -> None:
                nonlocal cid
                if not AlertRepo.claim(conn, user, alert.key, alert.kind, now_ms):
                    return
                for key in also_keys:
                    AlertRepo.claim(conn, user, key, alert.kind, now_ms)
                if cid is None:
                    cid = chat.conversation(user, user)
                body = alert.to_json()
                del body["message_id"]
                message_id = chat.add_message(
                    cid, "in", "alert", body, alert.text, sent_ms=now_ms, state="received",
                    unread=True,
                )  # fmt: skip
                if message_id is not None:
                    AlertRepo.link(conn, user, alert.key, message_id)
                posted.append(
                    LendingAlert(
                        alert.kind,
                        alert.key,
                        alert.text,
                        alert.account,
                        alert.chain_id,
                        alert.block,
                        alert.hash,
                        alert.health_factor,
                        alert.level,
                        alert.details,
                        message_id,
                    )
                )

            for alert in liquidations:
                show(alert)
            crossed: list[tuple[int, str]] = []
            for level in levels:
                prefix = f"lending-hf:{chain_id}:{pool.lower()}:{level}:"
                n = episode(conn, user, prefix)
                key = f"{prefix}alert:{n}"
                if hf < level:
                    if not claimed(conn, user, key):
                        crossed.append((level, key))
                elif hf >= level + REARM_MARGIN and claimed(conn, user, key):
                    AlertRepo.claim(conn, user, f"{prefix}rearm:{n}", REARM_KIND, now_ms)
            if crossed:
                lowest, key = crossed[-1]
                others = [lv for lv, _k in crossed[:-1]]
                text = self._health_text(account, position, lowest, threshold, others)
                show(
                    LendingAlert(
                        "lending-health",
                        key,
                        text,
                        user,
                        chain_id,
                        position.block,
                        None,
                        hf,
                        lowest,
                        details={
                            "threshold": _hf(threshold),
                            "levels": [_hf(x) for x in (*others, lowest)],
                        },
                    ),
                    [k for _lv, k in crossed[:-1]],
                )
        return posted


def parse_threshold(text: str) -> int:
    """``1.2`` -> the health-factor threshold in wad. Raises InputError (not a number above
    1.0 and at most 100)."""
    from walletim.app.lending.position import hf_wad

    try:
        value = hf_wad(text)
    except (ValueError, ArithmeticError) as exc:
        raise InputError(f"not a health factor: {text[:40]!r} (e.g. 1.2)") from exc
    if not WAD < value <= 100 * WAD:
        raise InputError("the health-factor alert threshold must be above 1.0 (e.g. 1.2)")
    return value


def lending_watch_for(session: Any) -> LendingWatch:
    """A LendingWatch over a Session (its LendingService and store)."""
    from walletim.app.lending import lending_for

    return LendingWatch(lending_for(session), session.open_store)
