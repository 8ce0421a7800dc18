"""``walletim tx history``: the account's history, not only what this home signed.

Entries come from three places:

- this home's transactions (signed here, stored with their receipts): their ETH, the ERC-20
  transfers their receipts log (a token transfer shows its token amount, not "0 ETH to the
  token contract"; one still pending shows what its calldata moves), their fee;
- ERC-20 ``Transfer`` logs to or from the accounts over the last ``blocks`` blocks (tokens
  received, or sent by a spender or by another wallet holding the same key);
- the same blocks read in full for plain ETH to the accounts (and transactions from them that
  this home did not sign). ETH moved by contracts (internal transfers) leaves no log and no
  transaction of its own: it is not seen. Older blocks are not read (``blocks`` is the bound).

Nothing read from the chain is stored: with the node down, what the home stored is shown and
the result says it could not be checked. Dates are block times (UTC) when known, else when
this home signed the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from walletim.app.wallets import parse_address
from walletim.chain.rpc import Q, Receipt, RpcClient
from walletim.contracts.abi import KNOWN_ABIS, decode_log
from walletim.errors import RpcError, WalletimError
from walletim.store.txs import GONE, TxStatus

if TYPE_CHECKING:
    from walletim.app.chain import ChainService
    from walletim.app.contracts.plans import TokenMeta
    from walletim.chain.rpc import Block, Log
    from walletim.store.txs import TxRecord

#: Blocks read back from the head by default (full blocks for ETH, logs for tokens).
DEFAULT_BLOCKS = 1000
MAX_BLOCKS = 100_000
BLOCK_BATCH = 50
_TRANSFER = tuple(e for e in KNOWN_ABIS if e.name == "Transfer" and e.indexed == 2)  # ERC-20
TRANSFER_TOPIC = _TRANSFER[0].topic0
TRANSFER_SELECTOR = bytes.fromhex("a9059cbb")

TokenMetaOf = Callable[[str], "TokenMeta | None"]
NameOf = Callable[[str], "str | None"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One movement of one asset for one of the accounts. ``amount`` in base units of
    ``asset`` (None: ETH); ``fee`` in wei, on the first entry of a transaction the account
    paid for; ``direction`` out / in / self (between the accounts) / call (moved nothing)."""

    hash: str
    direction: str
    account: str
    counterparty: str | None
    asset: str | None
    symbol: str
    decimals: int | None  # None: a token that does not say
    amount: int
    status: TxStatus
    block: int | None = None
    time: int | None = None  # seconds since the epoch
    fee: int | None = None
    nonce: int | None = None
    replaced_by: str | None = None
    source: str = "home"  # home: signed here; chain: found on the chain
    name: str | None = None  # the counterparty's name (a contact, a wallet, a known contract)
    note: str = ""


@dataclass
class HistoryResult:
    entries: list[Entry]
    checked: bool  # the node was asked (statuses re-checked, the chain read)
    why: str | None = None  # why it was not
    scanned: tuple[int, int, int] | None = None  # blocks read: (first, first in full, last)


@dataclass
class _Scan:
    blocks: dict[int, Block] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)


class AccountHistory:
    """The history of some accounts on one network (see the module docstring)."""

    def __init__(
        self,
        chain: ChainService,
        rpc: RpcClient,
        token_meta: TokenMetaOf,
        name_of: NameOf,
        resolve: Callable[[str], str] = parse_address,
    ) -> None:
        """``resolve(text)``: an account named as on the command line (an address, a wallet
        account or a contact) as its checksummed address; by default 0x addresses only."""
        self.chain = chain
        self.rpc = rpc
        self._token_meta = token_meta
        self._name_of = name_of
        self._resolve = resolve
        self._metas: dict[str, TokenMeta | None] = {}

    def history(
        self,
        accounts: Sequence[str],
        *,
        limit: int = 50,
        refresh: bool = True,
        blocks: int = DEFAULT_BLOCKS,
        eth_blocks: int | None = None,
        only: str | None = None,
    ) -> HistoryResult:
        """Newest first, at most ``limit`` entries. ``accounts``: whose history it is (each
        an address, a wallet account or a contact); ``only``: just this one's. ``refresh``:
        re-check this home's open transactions and read the chain (else only what is stored):
        token logs over the last ``blocks`` blocks, whole blocks (for ETH) over the last
        ``eth_blocks`` of them (None: as many; each is a full block to download, cheap on a
        devnet only). Raises InputError (an account named nothing)."""
        only = None if only is None else self._resolve(only)
        mine = {self._resolve(a).lower() for a in ([only] if only else accounts)}
        result = HistoryResult([], checked=False)
        scan = _Scan()
        if refresh and mine:
            try:
                self.chain.reconcile(only)
                eth = blocks if eth_blocks is None else min(blocks, eth_blocks)
                result.scanned = self._scan(mine, blocks, eth, scan)
                result.checked = True
            except WalletimError as exc:
                result.why = str(exc)
        own = self.chain.history(only, max(limit, 1) * 4)
        own = [r for r in own if r.sender.lower() in mine]
        known = {r.hash for r in own}
        entries = [e for r in own for e in self._own_entries(r, mine)]
        entries += [e for e in scan.entries if e.hash not in known]
        if result.checked:
            self._dates(entries, scan.blocks)
        entries = [self._named(e) for e in entries]
        entries.sort(key=_newest_first)
        result.entries = entries[:limit]
        return result

    # -- what this home signed -------------------------------------------------------------

    def _own_entries(self, rec: TxRecord, mine: set[str]) -> list[Entry]:
        receipt = self.chain.receipt(rec.hash) if rec.status in ("mined", "failed") else None
        fee = None
        if receipt is not None and receipt.effective_gas_price is not None:
            fee = receipt.gas_used * receipt.effective_gas_price
        base = Entry(
            rec.hash, "out", rec.sender, rec.recipient, None, "ETH", 18, rec.value, rec.status,
            block=rec.block_number, time=rec.created_at or None, nonce=rec.nonce,
            replaced_by=rec.replaced_by, note=rec.note or "",
        )  # fmt: skip
        moves: list[Entry] = []
        if rec.value:
            moves.append(_directed(base, rec.sender, rec.recipient, mine))
        logs = receipt.logs if receipt is not None and receipt.status == 1 else []
        moves += [e for log in logs if (e := self._token_entry(base, log, mine)) is not None]
        if receipt is None and rec.recipient and rec.data[:4] == TRANSFER_SELECTOR:
            moves += self._calldata_entry(base, rec)
        if not moves:  # no ETH, no token moved
            moves = [_called(base, bool(rec.data))]
        moves[0] = replace(moves[0], fee=fee)
        return moves

    def _calldata_entry(self, base: Entry, rec: TxRecord) -> list[Entry]:
        """A token transfer not mined (yet): what its calldata moves."""
        data = rec.data
        if len(data) != 4 + 64 or rec.recipient is None:
            return []
        to = "0x" + data[4 + 12 : 4 + 32].hex()
        amount = int.from_bytes(data[36:68], "big")
        asset, symbol, decimals = self._token(rec.recipient)
        return [
            replace(base, counterparty=_checksum(to), amount=amount, asset=asset, symbol=symbol,
                    decimals=decimals)
        ]  # fmt: skip

    def _token_entry(self, base: Entry, log: object, mine: set[str]) -> Entry | None:
        event = decode_log(log, _TRANSFER) if isinstance(log, dict) else None
        if event is None:
            return None
        src, dst, value = event.args.get("from"), event.args.get("to"), event.args.get("value")
        if not (isinstance(src, str) and isinstance(dst, str) and isinstance(value, int)):
            return None
        if src.lower() not in mine and dst.lower() not in mine:
            return None
        asset, symbol, decimals = self._token(event.address)
        entry = replace(base, amount=value, asset=asset, symbol=symbol, decimals=decimals)
        return _directed(entry, src, dst, mine)

    def _token(self, address: str) -> tuple[str, str, int | None]:
        """(address, symbol as shown, decimals) of a token, by the token lists."""
        key = address.lower()
        if key not in self._metas:
            try:
                self._metas[key] = self._token_meta(address)
            except WalletimError:
                self._metas[key] = None
        meta = self._metas[key]
        shown = f"{address[:6]}…{address[-4:]}"
        if meta is None:
            return _checksum(address), shown, None
        return _checksum(address), meta.symbol, meta.decimals

    # -- the chain ---------------------------------------------------------------------------

    def _scan(
        self, mine: set[str], blocks: int, eth_blocks: int, scan: _Scan
    ) -> tuple[int, int, int]:
        """Read the last ``blocks`` blocks' token transfers from logs, and the last
        ``eth_blocks`` blocks in full for ETH: (first, first for ETH, head). Raises RpcError."""
        head = self.rpc.get(Q.head())
        first = max(0, head - max(1, min(blocks, MAX_BLOCKS)) + 1)
        eth_first = max(first, head - max(0, eth_blocks) + 1)
        padded = ["0x" + "0" * 24 + a[2:] for a in sorted(mine)]
        got_in, got_out = self.rpc.gather(
            Q.logs(topics=[TRANSFER_TOPIC, None, padded], from_block=first, to_block=head),
            Q.logs(topics=[TRANSFER_TOPIC, padded], from_block=first, to_block=head),
        )
        for n in range(eth_first, head + 1, BLOCK_BATCH):
            numbers = range(n, min(head, n + BLOCK_BATCH - 1) + 1)
            for block in self.rpc.gather_all([Q.block(b, full=True) for b in numbers]):
                if isinstance(block, RpcError):
                    raise block
                if block is not None:
                    scan.blocks[block.number] = block
        eth = self._eth_entries(mine, scan.blocks.values())
        seen: set[tuple[str | None, int | None]] = set()
        for log in [*_ok(got_in), *_ok(got_out)]:
            if log.removed or len(log.topics) != 3 or (log.tx_hash, log.log_index) in seen:
                continue
            seen.add((log.tx_hash, log.log_index))
            base = Entry(log.tx_hash or "", "in", "", None, None, "", None, 0, "mined",
                         block=log.block_number, source="chain")  # fmt: skip
            entry = self._token_entry(base, dict(log.raw), mine)
            if entry is not None:
                scan.entries.append(entry)
        scan.entries += _merged(eth, scan.entries)
        return first, eth_first, head

    def _eth_entries(self, mine: set[str], blocks: Iterable[Block]) -> list[Entry]:
        """Plain ETH to the accounts, and transactions from them, in ``blocks``; statuses and
        fees from their receipts (one round trip)."""
        found: list[tuple[Block, dict[str, object]]] = []
        for block in blocks:
            for tx in block.transactions:
                if not isinstance(tx, dict):
                    continue
                src, dst = str(tx.get("from") or "").lower(), str(tx.get("to") or "").lower()
                if src in mine or (dst in mine and _int(tx.get("value")) > 0):
                    found.append((block, tx))
        hashes = [str(tx.get("hash")).lower() for _b, tx in found]
        receipts = self.rpc.gather_all([Q.receipt(h) for h in hashes])
        out: list[Entry] = []
        for (block, tx), tx_hash, answer in zip(found, hashes, receipts, strict=True):
            receipt = answer if isinstance(answer, Receipt) else None
            src, to = str(tx.get("from") or ""), str(tx.get("to") or "")
            recipient = to or None
            fee = None
            if receipt and src.lower() in mine and receipt.effective_gas_price is not None:
                fee = receipt.gas_used * receipt.effective_gas_price
            status: TxStatus = "failed" if receipt is not None and receipt.status == 0 else "mined"
            entry = Entry(
                tx_hash, "out", src, recipient, None, "ETH", 18, _int(tx.get("value")), status,
                block=block.number, time=block.timestamp, fee=fee,
                nonce=_int(tx.get("nonce")), source="chain",
            )  # fmt: skip
            data = len(str(tx.get("input") or "")) > 2
            out.append(_called(_directed(entry, src, recipient or "", mine), data))
        return out

    def _dates(self, entries: list[Entry], blocks: dict[int, Block]) -> None:
        """Block times for entries whose block was not read (one round trip); not for those
        of a chain that is gone (their block numbers are that chain's)."""
        entries_here = [e for e in entries if e.block is not None and e.status != GONE]
        missing = sorted({e.block for e in entries_here if e.block is not None} - set(blocks))
        for n, block in zip(
            missing, self.rpc.gather_all([Q.block(n) for n in missing]), strict=True
        ):
            if not isinstance(block, RpcError) and block is not None:
                blocks[n] = block
        for i, e in enumerate(entries):
            if e.block is not None and e.block in blocks and e.status != GONE:
                entries[i] = replace(e, time=blocks[e.block].timestamp)

    def _named(self, e: Entry) -> Entry:
        name = self._name_of(e.counterparty) if e.counterparty else None
        return replace(e, name=name, account=_checksum(e.account) if e.account else e.account)


def _merged(eth: list[Entry], tokens: list[Entry]) -> list[Entry]:
    """``eth`` without the 0 ETH calls that moved tokens (their token entries say what moved;
    the fee goes onto the first of those, in place in ``tokens``)."""
    first: dict[str, int] = {}
    for i, e in enumerate(tokens):
        first.setdefault(e.hash, i)
    out = []
    for e in eth:
        if e.amount == 0 and e.hash in first:
            i = first[e.hash]
            tokens[i] = replace(tokens[i], fee=e.fee, nonce=e.nonce)
        else:
            out.append(e)
    return out


def _directed(entry: Entry, src: str, dst: str | None, mine: set[str]) -> Entry:
    """``entry`` seen from the accounts: out (from one of them), in (to one), self (both)."""
    ours_src, ours_dst = src.lower() in mine, (dst or "").lower() in mine
    if ours_src and ours_dst:
        return replace(entry, direction="self", account=src, counterparty=_checksum(dst or ""))
    if ours_src:
        return replace(entry, direction="out", account=src, counterparty=dst and _checksum(dst))
    return replace(entry, direction="in", account=dst or "", counterparty=_checksum(src))


def _called(entry: Entry, data: bool) -> Entry:
    """``entry`` read as a contract call when it moved no ETH and carried calldata: the one
    rule for a transaction signed here and one read from the chain (cast's, MetaMask's)."""
    return replace(entry, direction="call") if data and not entry.amount else entry


def _checksum(address: str) -> str:
    from walletim.keys.hd import to_checksum_address

    try:
        return to_checksum_address(address)
    except Exception:  # shown as given when it is not an address
        return address


def _int(value: object) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return int(value, 16)
        except ValueError:
            return 0
    return 0


def _ok(logs: object) -> list[Log]:
    if isinstance(logs, RpcError):
        raise logs
    return list(logs) if isinstance(logs, list) else []


def _newest_first(e: Entry) -> tuple[int, int]:
    return (-(e.time or 0), -(e.block if e.block is not None else 1 << 62))


__all__ = ["DEFAULT_BLOCKS", "AccountHistory", "Entry", "HistoryResult"]
