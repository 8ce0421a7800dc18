"""Security alerts to yourself: the Python API behind ``walletim watch`` and
``walletim chat listen --watch``.

Example (a script)::

    from walletim.app.session import Session
    from walletim.app.watch import watcher_for

    with Session("~/.walletim", password="...") as s:
        w = watcher_for(s)
        limits = [w.parse_threshold("1eth"), w.parse_threshold("500 USDC")]
        w.scan("alice", limits)            # first run: starts at the head, no alerts
        for alert in w.scan("alice", limits):
            print(alert.kind, alert.text)

A scan looks at the blocks after the account's cursor (the first scan of an account on a
chain only records the head) and posts an alert into the account's conversation with
itself for each of:

- ``incoming``: ETH sent to the account (a successful transaction's value; ETH moved by a
  contract's internal call is not seen), an ERC-20 or ERC-721 Transfer to it;
- ``unsigned``: a transaction from the account that this home did not sign (it is not in
  the home's transactions table): the key may be compromised;
- ``approval``: an ERC-20 Approval with a non-zero amount (flagged unlimited from 2**255),
  an ERC-721 single-token approval, or ApprovalForAll(approved=true), granted by the account;
- ``outflow``: ETH or an ERC-20 leaving the account above a threshold set for that asset
  (also when this home signed it);
- ``spoofing``: an event that pretends something happened to the account: an Approval
  naming it as owner in a transaction it did not send that no permit it signed explains
  (checked: the permit's signature must recover to the account; for a listed token the
  allowance must really be there), or a transfer of an impostor token;
- ``summary``: alerts held back by the rate limit, counted in one line.

Tokens are named only through the token lists (walletim.app.tokens): an unlisted token by its
address, marked unlisted (or IMPOSTOR), and on an event from an unlisted contract no
address is given a contact's or wallet's name (the contract chose those addresses). Alerts
from one contract are rate-limited per account: at most RATE_LIMIT per RATE_WINDOW_S for an
unlisted contract (and for incoming transfers of a listed one), the rest claimed (never
posted later) and counted in one summary line per contract per window, so a hostile contract
cannot bury the other alerts. Alerts that are not from a contract (ETH, transactions this
home did not sign) and approvals and outflows of listed tokens are never held back.

Each alert has a dedupe key (kind, chain id, block hash, transaction hash, log index): it is
claimed in the same database transaction that stores its message and moves the cursor, so
re-scanning blocks (two watchers, a crash before the cursor moved, ``from_block``) never
posts it twice, and a crash cannot lose one. Amounts are ints in base units (wei for ETH).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from walletim.app.contracts import UNLIMITED_FROM
from walletim.app.defi import T_APPROVAL, T_APPROVAL_FOR_ALL, T_TRANSFER, DefiService
from walletim.chain.rpc import quantity
from walletim.chain.units import ETHER_UNITS, format_amount, parse_amount
from walletim.errors import ChainError, InputError, RpcError, shown
from walletim.keys.hd import to_checksum_address
from walletim.store.alerts import AlertRepo
from walletim.store.chat import ChatTx
from walletim.store.db import Store
from walletim.store.txs import TxRepo

if TYPE_CHECKING:
    from walletim.app.chain import ChainService
    from walletim.app.session import Session

KINDS = ("incoming", "unsigned", "approval", "outflow", "spoofing", "summary")
RATE_LIMIT = 3  # alerts per contract per account per window (see the module docstring)
RATE_WINDOW_S = 3600
PERMIT = "0xd505accf"  # permit(address,address,uint256,uint256,uint8,bytes32,bytes32)
PERMIT_TYPEHASH = bytes.fromhex(
    "6e71edae12b1b97f4d1f60370fef10105fa2faae0126114a169c64845d6126c9"
)  # keccak("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)")
LOG_CHUNK = 500  # blocks per scanned chunk (one eth_getLogs pair, one cursor update)
BLOCK_BATCH = 50  # full blocks fetched per batched request
REORG_RESCAN = 12  # blocks looked at again when the chain is shorter than the cursor

_ZERO = "0x" + "0" * 40
_THRESHOLD = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]*)?|\.[0-9]+)\s*(\S+)?\s*$")


@dataclass(frozen=True, slots=True)
class Threshold:
    """Outflows of one asset strictly above ``amount`` (base units) raise an alert."""

    asset: str | None  # the token's address; None: ETH
    symbol: str
    decimals: int
    amount: int

    @property
    def text(self) -> str:
        return f"{format_amount(self.amount, self.decimals)} {self.symbol}"


@dataclass(frozen=True, slots=True)
class Alert:
    """One posted alert. ``amount`` is in the asset's base units (None for an NFT or an
    ApprovalForAll); ``counterparty`` is the sender (incoming), the recipient (outflow,
    unsigned) or the spender (approval)."""

    kind: str  # one of KINDS
    key: str  # dedupe key: the same event always has the same key
    text: str  # the human line posted in the conversation with yourself
    account: str  # the watched address
    chain_id: int
    block: int
    hash: str  # the transaction's hash
    log_index: int | None
    asset: str | None  # token or collection address; None: ETH
    symbol: str
    decimals: int
    amount: int | None
    token_id: int | None
    counterparty: str | None
    unlimited: bool = False
    threshold: int | None = None  # outflow: the threshold it exceeded (base units)
    message_id: int | None = None  # the chat message showing it (set once posted)
    source: str | None = None  # the contract whose event it is (None: not from an event)
    limited: bool = False  # counted against the source's rate limit

    def to_json(self) -> dict[str, Any]:
        """JSON-friendly: amounts as decimal strings of base units (and ``amount_text``)."""
        return {
            "kind": self.kind,
            "text": self.text,
            "hash": self.hash,
            "block": self.block,
            "log_index": self.log_index,
            "account": self.account,
            "chain_id": self.chain_id,
            "asset": self.asset,
            "symbol": self.symbol,
            "decimals": self.decimals,
            "amount": None if self.amount is None else str(self.amount),
            "amount_text": (
                None if self.amount is None else format_amount(self.amount, self.decimals)
            ),
            "token_id": None if self.token_id is None else str(self.token_id),
            "counterparty": self.counterparty,
            "unlimited": self.unlimited,
            "threshold": None if self.threshold is None else str(self.threshold),
            "key": self.key,
            "message_id": self.message_id,
            "source": self.source,
        }


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


def _topic_address(topic: Any) -> str:
    return to_checksum_address("0x" + str(topic)[-40:])


def _word(data: Any) -> int:
    """The first 32-byte word of a log's data (0 if there is none)."""
    text = str(data or "0x")[2:66]
    return int(text, 16) if text else 0


@dataclass(frozen=True, slots=True)
class _Event:
    """Where an event happened; ``key`` identifies it (the alert's key adds its kind)."""

    account: str
    chain_id: int
    block: int
    hash: str
    log_index: int | None
    key: str

    def alert(
        self,
        kind: str,
        text: str,
        *,
        amount: int | None,
        counterparty: str | None,
        asset: str | None = None,
        symbol: str = "ETH",
        decimals: int = 18,
        token_id: int | None = None,
        unlimited: bool = False,
        threshold: int | None = None,
        source: str | None = None,
        limited: bool = False,
    ) -> Alert:
        return Alert(
            kind, f"{kind}:{self.key}", text, self.account, self.chain_id, self.block, self.hash,
            self.log_index, asset, symbol, decimals, amount, token_id, counterparty, unlimited,
            threshold, None, source, limited,
        )  # fmt: skip


class Watcher:
    """Scans the chain for one home's accounts and posts alerts to their own conversation.

    Not thread-safe: use it on the thread that owns the session's store.
    """

    def __init__(
        self,
        *,
        wallets: Any,
        chain: ChainService,
        store: Callable[[], Store],
        defi: DefiService,
        clock: Callable[[], float] = time.time,
        chunk: int = LOG_CHUNK,
        lending: Any = None,  # issue 18: a walletim.app.lending.alerts.LendingWatch
    ) -> None:
        self.wallets = wallets
        self.chain = chain
        self.rpc = chain.rpc
        self._store = store
        self.defi = defi
        self._clock = clock
        self._chunk = max(1, chunk)
        self.lending = lending  # issue 18 (lending)

    # -- inputs ------------------------------------------------------------------------------

    def address(self, account: str) -> str:
        """The checksummed address of a wallet account (NAME / NAME:INDEX) of this home.

        Raises:
            InputError, WalletNotFound: not an account of this home.
        """
        return str(self.wallets.account(account).address)

    def parse_threshold(self, text: str) -> Threshold:
        """``1eth``, ``0.5``, ``20 gwei`` (ETH), ``500 USDC``, ``500USDC`` or ``100 0xTOKEN``.

        Raises:
            InputError: a malformed amount or an unknown token.
        """
        m = _THRESHOLD.match(text) if len(text) <= 256 else None  # bounded backtracking
        if m is None:
            raise InputError(
                f"not a threshold: {shown(text)} (e.g. 1eth, 0.5, 500 USDC, 100 0xTOKEN)"
            )
        number, unit = m.group(1), m.group(2)
        if unit is None or unit.lower() in ETHER_UNITS:
            return Threshold(None, "ETH", 18, parse_amount(number, default_unit=unit or "eth"))
        asset = self.defi.asset(unit)
        if asset.is_eth:
            return Threshold(None, "ETH", 18, parse_amount(number))
        assert asset.address is not None
        return Threshold(
            asset.address,
            asset.symbol,
            asset.decimals,
            parse_amount(number, decimals=asset.decimals),
        )

    def cursor(self, account: str) -> int | None:
        """The last block scanned for ``account`` on this network (None: never watched)."""
        repo = AlertRepo(self._store())
        return repo.cursor(self.address(account), self.chain.chain_id)

    # -- scanning ----------------------------------------------------------------------------

    def scan(
        self,
        account: str,
        thresholds: Sequence[Threshold] = (),
        *,
        from_block: int | None = None,
        health: int | None = None,  # issue 18: the Aave health-factor threshold (wad)
    ) -> list[Alert]:
        """Scan the blocks after the cursor up to the head and post what they hold. Returns
        the alerts posted now (an event alerted before is not returned again).

        The first scan of an account on a chain only records the head (no alerts for
        history); ``from_block`` rescans from that block (already posted alerts stay
        single). Blocks are read in chunks of at most ``chunk`` blocks; each chunk's alerts
        and the cursor are stored in one transaction.

        Raises:
            InputError: an unknown account, a ``from_block`` beyond the head, two thresholds
                for one asset.
            ChainError: the node is unreachable or on another chain (ChainIdMismatch).
            StoreError.
        """
        address = self.address(account)
        limits: dict[str | None, Threshold] = {}
        for t in thresholds:
            if t.asset in limits:
                raise InputError(f"two thresholds for {t.symbol}: give one per asset")
            limits[t.asset] = t
        self.chain.check_chain()
        chain_id = self.chain.chain_id
        repo = AlertRepo(self._store())
        at = repo.cursor_at(address, chain_id)
        cursor, cursor_hash = (None, None) if at is None else at
        head, seen_hash = self._head(cursor if from_block is None else None)
        if from_block is not None:
            if not 0 <= from_block <= head:
                raise InputError(f"--from-block must be 0 .. {head} (the head)")
            start = from_block
        elif cursor is None:
            repo.set_cursor(address, chain_id, head, seen_hash)
            return []
        elif cursor > head:  # the chain is shorter than what we saw: a reorg or a rollback
            start = max(0, head - REORG_RESCAN + 1)
            cursor = None
        elif cursor_hash is not None and seen_hash != cursor_hash:
            # The block we stopped at was replaced (a reorg, the chain no shorter): what the
            # new branch holds is scanned (alerts already posted stay single).
            start = max(0, cursor - REORG_RESCAN + 1)
            cursor = None
        else:
            start = cursor + 1
        self.defi.world()  # loading the world names its tokens without RPC calls
        posted: list[Any] = []  # issue 18: Alert, or LendingAlert (same kind/text/to_json)
        for first in range(start, head + 1, self._chunk):
            last = min(head, first + self._chunk - 1)
            found, last_hash = self._scan_range(address, chain_id, first, last, limits)
            if cursor is not None and cursor > last:  # a --from-block rescan behind the cursor
                last, last_hash = cursor, cursor_hash
            posted += self._post(address, chain_id, found, last, last_hash)
        if self.lending is not None:  # issue 18 (lending): Aave health and liquidations
            kwargs = {} if health is None else {"threshold": health}
            posted += self.lending.scan(address, chain_id, start, head, account=account, **kwargs)
        return posted

    def _head(self, cursor: int | None) -> tuple[int, str | None]:
        """The head's number and the hash of block ``cursor`` (of the head if None), in one
        round trip. Raises RpcError."""
        calls: list[tuple[str, Sequence[Any]]] = [("eth_getBlockByNumber", ["latest", False])]
        if cursor is not None:
            calls.append(("eth_getBlockByNumber", [hex(cursor), False]))
        blocks = self._batch(calls)
        head = quantity((blocks[0] or {}).get("number"), "eth_getBlockByNumber")
        value = (blocks[-1] or {}).get("hash")
        return head, value.lower() if isinstance(value, str) else None

    def _batch(self, calls: list[tuple[str, Sequence[Any]]]) -> list[Any]:
        results = self.rpc.batch(calls)
        for r in results:
            if isinstance(r, RpcError):
                raise r
        return results

    def _scan_range(
        self,
        address: str,
        chain_id: int,
        first: int,
        last: int,
        limits: dict[str | None, Threshold],
    ) -> tuple[list[Alert], str | None]:
        """The alerts of blocks ``first`` .. ``last``, and the hash of block ``last``."""
        me = address.lower()
        topic = "0x" + "0" * 24 + me[2:]
        span = {"fromBlock": hex(first), "toBlock": hex(last)}
        logs_in, logs_out = self._batch(
            [
                ("eth_getLogs", [{**span, "topics": [T_TRANSFER, None, topic]}]),
                (
                    "eth_getLogs",
                    [{**span, "topics": [[T_TRANSFER, T_APPROVAL, T_APPROVAL_FOR_ALL], topic]}],
                ),
            ]
        )
        blocks: list[dict[str, Any]] = []
        for n in range(first, last + 1, BLOCK_BATCH):
            numbers = range(n, min(last, n + BLOCK_BATCH - 1) + 1)
            got = self._batch([("eth_getBlockByNumber", [hex(b), True]) for b in numbers])
            blocks += [b for b in got if isinstance(b, dict)]
        # Transactions from or to the account; receipts only for those whose value matters.
        ours: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for block in blocks:
            for tx in block.get("transactions") or []:
                if not isinstance(tx, dict):
                    continue
                sender = str(tx.get("from") or "").lower()
                to = str(tx.get("to") or "").lower()
                if sender == me or (to == me and quantity(tx.get("value", "0x0"), "value") > 0):
                    ours.append((block, tx))
        need = [tx["hash"] for _b, tx in ours if quantity(tx.get("value", "0x0"), "value") > 0]
        receipts = dict(
            zip(need, self._batch([("eth_getTransactionReceipt", [h]) for h in need]), strict=True)
        )
        found: list[tuple[tuple[int, int, int, int], Alert]] = []
        for block, tx in ours:
            for alert in self._tx_alerts(address, chain_id, block, tx, receipts, limits):
                order = (alert.block, quantity(tx.get("transactionIndex", "0x0"), "index"), -1)
                found.append(((*order, KINDS.index(alert.kind)), alert))
        txs = {
            str(tx.get("hash")).lower(): tx
            for block in blocks
            for tx in block.get("transactions") or []
            if isinstance(tx, dict)
        }
        seen_logs: set[tuple[str, int]] = set()
        for log in [*(logs_in or []), *(logs_out or [])]:
            if not isinstance(log, dict) or log.get("removed"):
                continue
            ident = (str(log.get("transactionHash")), quantity(log.get("logIndex"), "logIndex"))
            if ident in seen_logs:
                continue
            seen_logs.add(ident)
            log_alert = self._log_alert(address, chain_id, log, limits, txs)
            if log_alert is not None:
                order = (
                    log_alert.block,
                    quantity(log.get("transactionIndex", "0x0"), "index"),
                    ident[1],
                )
                found.append(((*order, KINDS.index(log_alert.kind)), log_alert))
        found.sort(key=lambda item: item[0])
        last_hash = next(
            (
                str(b["hash"]).lower()
                for b in blocks
                if isinstance(b.get("hash"), str) and quantity(b.get("number"), "number") == last
            ),
            None,
        )
        return [a for _o, a in found], last_hash

    def _tx_alerts(
        self,
        address: str,
        chain_id: int,
        block: dict[str, Any],
        tx: dict[str, Any],
        receipts: dict[str, Any],
        limits: dict[str | None, Threshold],
    ) -> list[Alert]:
        me = address.lower()
        tx_hash = str(tx["hash"]).lower()
        number = quantity(block.get("number"), "number")
        event = _Event(
            address,
            chain_id,
            number,
            tx_hash,
            None,
            f"{chain_id}:{str(block.get('hash')).lower()}:{tx_hash}",
        )
        sender = to_checksum_address(tx["from"])
        to = None if not tx.get("to") else to_checksum_address(tx["to"])
        value = quantity(tx.get("value", "0x0"), "value")
        receipt = receipts.get(tx["hash"])
        ok = isinstance(receipt, dict) and receipt.get("status") == "0x1"
        out: list[Alert] = []
        if sender.lower() == me:
            if TxRepo(self._store()).get(tx_hash) is None:
                what = f"{format_amount(value)} ETH to " if value else "a call to "
                dest = "(a contract creation)" if to is None else self._label(to)
                text = (
                    f"SECURITY: a transaction from {address} that this home did not sign was "
                    f"mined in block {number} ({what}{dest}, tx {tx_hash}). Your key may be "
                    "compromised: move your funds to a new wallet now."
                )
                out.append(event.alert("unsigned", text, amount=value, counterparty=to))
            limit = limits.get(None)
            if ok and limit is not None and value > limit.amount and (to or "").lower() != me:
                dest = "a new contract" if to is None else self._label(to)
                text = (
                    f"outflow above your threshold: {format_amount(value)} ETH to {dest} "
                    f"(threshold {limit.text}; tx {tx_hash})"
                )
                out.append(
                    event.alert(
                        "outflow", text, amount=value, counterparty=to, threshold=limit.amount
                    )
                )
        elif ok and value > 0:
            text = f"incoming: {format_amount(value)} ETH from {self._label(sender)} (tx {tx_hash})"
            out.append(event.alert("incoming", text, amount=value, counterparty=sender))
        return out

    def _log_alert(
        self,
        address: str,
        chain_id: int,
        log: dict[str, Any],
        limits: dict[str | None, Threshold],
        txs: dict[str, dict[str, Any]] | None = None,
    ) -> Alert | None:
        topics = [str(t).lower() for t in log.get("topics") or []]
        if len(topics) < 3:
            return None
        me = address.lower()
        try:
            contract = to_checksum_address(log["address"])
            first, second = _topic_address(topics[1]), _topic_address(topics[2])
            amount = _word(log.get("data"))
            token_id = int(topics[3], 16) if len(topics) == 4 else None
        except (KeyError, ValueError, TypeError):
            return None  # not a standard event after all
        tx_hash = str(log.get("transactionHash")).lower()
        index = quantity(log.get("logIndex"), "logIndex")
        block = quantity(log.get("blockNumber"), "blockNumber")
        event = _Event(
            address,
            chain_id,
            block,
            tx_hash,
            index,
            f"{chain_id}:{str(log.get('blockHash')).lower()}:{tx_hash}:{index}",
        )
        label = self._token_label(contract)
        listed = label.listed
        # An unlisted contract chose every address in its events: none gets a name.
        who = self._label if listed else (lambda a: a)
        unlisted_note = "" if listed else " (unlisted token: the sender is only its own word)"
        common: dict[str, Any] = {
            "asset": contract,
            "symbol": label.symbol,
            "source": contract,
            "limited": not listed,
        }
        if topics[0] == T_TRANSFER:
            if first.lower() == second.lower():
                return None  # to oneself: neither in nor out
            if second.lower() == me:
                if token_id is None and amount == 0:
                    return None  # zero-value transfers are address-poisoning spam
                origin = "minted" if first == _ZERO else f"from {who(first)}"
                what = (
                    f"#{token_id}"
                    if token_id is not None
                    else self._amount(amount, label.decimals, label.decimals_known)
                )
                if label.status == "impostor":
                    return event.alert(
                        "spoofing",
                        f"SPOOFING ATTEMPT: {label.display} logged {what} sent to you "
                        f"{'minted' if first == _ZERO else f'from {first}'} (tx {tx_hash}). It is "
                        f"not {label.imitates}: nothing of {label.imitates} arrived; do not "
                        "interact with that contract.",
                        decimals=label.decimals if token_id is None else 0,
                        amount=amount if token_id is None else None,
                        token_id=token_id,
                        counterparty=first,
                        **common,
                    )
                common["limited"] = True  # incoming transfers are rate-limited, listed or not
                if token_id is not None:
                    return event.alert(
                        "incoming",
                        f"incoming: {label.display} #{token_id} {origin}{unlisted_note} "
                        f"(tx {tx_hash})",
                        decimals=0,
                        amount=None,
                        token_id=token_id,
                        counterparty=first,
                        **common,
                    )
                return event.alert(
                    "incoming",
                    f"incoming: {what} {label.display} {origin}{unlisted_note} (tx {tx_hash})",
                    decimals=label.decimals,
                    amount=amount,
                    counterparty=first,
                    **common,
                )
            if first.lower() != me or token_id is not None:
                return None
            limit = limits.get(contract)
            if limit is None or amount <= limit.amount:
                return None
            return event.alert(
                "outflow",
                f"outflow above your threshold: {self._amount(amount, label.decimals, True)} "
                f"{label.display} to {who(second)} (threshold {limit.text}; tx {tx_hash})",
                decimals=label.decimals,
                amount=amount,
                counterparty=second,
                threshold=limit.amount,
                **common,
            )
        if first.lower() != me:
            return None
        if topics[0] == T_APPROVAL_FOR_ALL:
            if amount == 0:
                return None  # a revocation
        elif topics[0] != T_APPROVAL:
            return None
        elif token_id is not None:
            if second == _ZERO:
                return None  # an ERC-721 approval cleared
        elif amount == 0:
            return None  # an ERC-20 revocation
        sender = self._tx_sender(tx_hash, txs)
        if sender is not None and sender.lower() != me:
            real = self._granted_without_sending(
                contract, label, address, second, amount, token_id, topics[0], block,
                (txs or {}).get(tx_hash),
            )  # fmt: skip
            if not real:
                what = (
                    "ALL your tokens (setApprovalForAll)"
                    if topics[0] == T_APPROVAL_FOR_ALL
                    else f"your #{token_id}"
                    if token_id is not None
                    else "UNLIMITED amounts"
                    if amount >= UNLIMITED_FROM
                    else f"up to {self._amount(amount, label.decimals, label.decimals_known)}"
                )
                return event.alert(
                    "spoofing",
                    f"SPOOFING ATTEMPT: {label.display} logged an approval of {what} of your "
                    f"tokens to {second} in a transaction sent by {sender}, not by you, that no "
                    f"permit you signed explains (tx {tx_hash}). You approved nothing; do not "
                    "interact with that contract.",
                    decimals=label.decimals,
                    amount=None if token_id is not None else amount,
                    token_id=token_id,
                    counterparty=second,
                    **{**common, "limited": True},
                )
        spender = who(second)
        revoke = "If you did not mean this, revoke it (walletim approvals --help)."
        by = "" if sender is None or sender.lower() == me else f", by a permit sent by {sender}"
        if topics[0] == T_APPROVAL_FOR_ALL:
            return event.alert(
                "approval",
                f"approval: {spender} may now transfer ALL your {label.display} tokens "
                f"(setApprovalForAll{by}; tx {tx_hash}). {revoke}",
                decimals=0,
                amount=None,
                counterparty=second,
                unlimited=True,
                **common,
            )
        if token_id is not None:  # ERC-721: one token
            return event.alert(
                "approval",
                f"approval: {spender} may now transfer your {label.display} #{token_id}"
                f"{by} (tx {tx_hash})",
                decimals=0,
                amount=None,
                token_id=token_id,
                counterparty=second,
                **common,
            )
        unlimited = amount >= UNLIMITED_FROM
        if unlimited:
            text = (
                f"approval: {spender} may now spend UNLIMITED {label.display}{by} "
                f"(tx {tx_hash}). {revoke}"
            )
        else:
            text = (
                f"approval: {spender} may now spend up to "
                f"{self._amount(amount, label.decimals, label.decimals_known)} {label.display}"
                f"{by} (tx {tx_hash})"
            )
        return event.alert(
            "approval",
            text,
            decimals=label.decimals,
            amount=amount,
            counterparty=second,
            unlimited=unlimited,
            **common,
        )

    @staticmethod
    def _amount(amount: int, decimals: int, known: bool) -> str:
        return format_amount(amount, decimals) if known else f"{amount} base units of"

    def _tx_sender(self, tx_hash: str, txs: dict[str, dict[str, Any]] | None) -> str | None:
        """Who sent the transaction (from the scanned blocks, else asked of the node)."""
        tx = (txs or {}).get(tx_hash)
        if tx is None:
            try:
                tx = self.rpc.call("eth_getTransactionByHash", [tx_hash])
            except RpcError:
                return None
            if isinstance(tx, dict) and txs is not None:
                txs[tx_hash] = tx
        if not isinstance(tx, dict) or not tx.get("from"):
            return None
        return to_checksum_address(str(tx["from"]))

    def _granted_without_sending(
        self,
        contract: str,
        label: Any,
        owner: str,
        spender: str,
        amount: int,
        token_id: int | None,
        topic: str,
        block: int,
        tx: dict[str, Any] | None,
    ) -> bool:
        """Whether an approval logged in a transaction the owner did not send is real: the
        transaction calls the contract's EIP-2612 ``permit`` with a signature that recovers
        to the owner for exactly this spender and amount, or (a listed token only: its word
        can be trusted) the allowance or operator approval is really in force after it."""
        if (
            topic == T_APPROVAL
            and token_id is None
            and self._permit_signed(contract, owner, spender, amount, block, tx)
        ):
            return True
        if not label.listed:
            return False
        at = hex(block)
        try:
            if topic == T_APPROVAL_FOR_ALL:
                (ok,) = self.defi.c.read_at(
                    contract, "isApprovedForAll(address,address)", owner, spender,
                    returns=["bool"], block=at,
                )  # fmt: skip
                return bool(ok)
            if token_id is not None:
                (current,) = self.defi.c.read_at(
                    contract, "getApproved(uint256)", token_id, returns=["address"], block=at
                )
                return to_checksum_address(current) == to_checksum_address(spender)
            (allowance,) = self.defi.c.read_at(
                contract, "allowance(address,address)", owner, spender,
                returns=["uint256"], block=at,
            )  # fmt: skip
            return int(allowance) > 0
        except (ChainError, RpcError):
            return False

    def _permit_signed(
        self,
        contract: str,
        owner: str,
        spender: str,
        amount: int,
        block: int,
        tx: dict[str, Any] | None,
    ) -> bool:
        """The transaction is ``contract.permit(owner, spender, amount, ...)`` signed by
        ``owner`` (EIP-2612 digest over the contract's DOMAIN_SEPARATOR at that block)."""
        if not isinstance(tx, dict) or str(tx.get("to") or "").lower() != contract.lower():
            return False
        data = str(tx.get("input") or tx.get("data") or "")
        if not data.lower().startswith(PERMIT) or len(data) != 10 + 7 * 64:
            return False
        from eth_abi.abi import decode, encode

        from walletim.contracts.abi import keccak
        from walletim.keys.signing import recover_digest

        try:
            p_owner, p_spender, value, deadline, v, r, sig_s = decode(
                ["address", "address", "uint256", "uint256", "uint8", "bytes32", "bytes32"],
                bytes.fromhex(data[10:]),
            )
        except Exception:
            return False
        if (to_checksum_address(p_owner), to_checksum_address(p_spender), int(value)) != (
            to_checksum_address(owner),
            to_checksum_address(spender),
            amount,
        ):
            return False
        try:
            (domain,) = self.defi.c.read_at(
                contract, "DOMAIN_SEPARATOR()", returns=["bytes32"], block=hex(block)
            )
            (nonce,) = self.defi.c.read_at(
                contract, "nonces(address)", owner, returns=["uint256"], block=hex(block - 1)
            )
        except (ChainError, RpcError):
            return False
        signature = bytes(r) + bytes(sig_s) + bytes([int(v)])
        for n in range(int(nonce), int(nonce) + 4):  # other permits in the same block
            inner = keccak(
                encode(
                    ["bytes32", "address", "address", "uint256", "uint256", "uint256"],
                    [PERMIT_TYPEHASH, p_owner, p_spender, int(value), n, int(deadline)],
                )
            )
            digest = keccak(b"\x19\x01" + bytes(domain) + inner)
            try:
                if recover_digest(digest, signature).lower() == owner.lower():
                    return True
            except Exception:
                return False
        return False

    # -- names -------------------------------------------------------------------------------

    def _label(self, address: str) -> str:
        return str(self.defi.c.label(address))

    def _token_label(self, contract: str) -> Any:
        """How the token lists name ``contract`` (walletim.app.tokens.TokenLabel)."""
        return self.defi.tokens.label(contract)

    # -- posting -----------------------------------------------------------------------------

    def _post(
        self,
        address: str,
        chain_id: int,
        alerts: list[Alert],
        cursor: int,
        cursor_hash: str | None,
    ) -> list[Alert]:
        """Claim each alert's key, store its message in the conversation with yourself, and
        move the cursor: one transaction, so a crash neither loses nor repeats an alert.

        An alert counted against its source's rate limit beyond RATE_LIMIT in the last
        RATE_WINDOW_S is claimed without a message (so it is never posted later either); one
        summary line per source and window says how many were held back."""
        posted: list[Alert] = []
        store = self._store()
        now_ms = int(self._clock() * 1000)
        window_start = now_ms - RATE_WINDOW_S * 1000
        held: dict[str, Alert] = {}  # source -> one of its held alerts (for the summary)
        with store.transaction() as conn:
            chat = ChatTx(conn)
            cid = None

            def show(alert: Alert) -> None:
                nonlocal cid
                if cid is None:
                    cid = chat.conversation(address, address)
                body = alert.to_json()
                del body["message_id"]
                message_id = chat.add_message(
                    cid, "in", "alert", body, alert.text, sent_ms=now_ms, state="received",
                    unread=True,
                )  # fmt: skip
                if message_id is not None:
                    AlertRepo.link(conn, address, alert.key, message_id)
                posted.append(replace(alert, message_id=message_id))

            for alert in alerts:
                source = alert.source
                if (
                    alert.limited
                    and source is not None
                    and AlertRepo.shown_from(conn, address, source, window_start) >= RATE_LIMIT
                ):
                    if AlertRepo.claim(conn, address, alert.key, f"held:{source}", now_ms):
                        held.setdefault(source, alert)
                    continue
                if not AlertRepo.claim(conn, address, alert.key, alert.kind, now_ms):
                    continue
                show(alert)
            for source, example in held.items():
                last = AlertRepo.last_summary(conn, address, source)
                if last is not None and last[0] >= window_start:
                    continue  # one summary per source and window: the next one counts these
                count = AlertRepo.held_after(conn, address, source, -1 if last is None else last[1])
                label = self._token_label(source)
                until = time.strftime("%H:%M", time.localtime(now_ms / 1000 + RATE_WINDOW_S))
                summary = Alert(
                    "summary",
                    f"summary:{chain_id}:{source}:{now_ms}",
                    f"rate limit: {count} more alert(s) from {label.display} ({source}) were "
                    f"not shown one by one: at most {RATE_LIMIT} per contract per "
                    f"{RATE_WINDOW_S // 60} minutes, so one contract cannot bury the others; "
                    f"any more from it until {until} are counted in its next summary.",
                    address, chain_id, example.block, example.hash, None, source,
                    label.symbol, label.decimals, count, None, source, source=source,
                )  # fmt: skip
                if AlertRepo.claim(conn, address, summary.key, "summary", now_ms):
                    show(summary)
            AlertRepo.set_cursor_in(conn, address, chain_id, cursor, cursor_hash)
        return posted


def watcher_for(session: Session) -> Watcher:
    """A Watcher over a Session's wallets, chain, store and DeFi names."""
    return Watcher(
        wallets=session.wallets,
        chain=session.chain,
        store=session.open_store,
        defi=session.defi,
        lending=_lending_watch(session),  # issue 18 (lending)
    )


def _lending_watch(session: Session) -> Any:
    """issue 18 (lending): the Aave health and liquidation alerts of a Session."""
    from walletim.app.lending.alerts import lending_watch_for

    return lending_watch_for(session)
