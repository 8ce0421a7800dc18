"""Finding logs over the whole chain, and the events the DeFi reads decode them with
(through :func:`walletim.contracts.abi.decode_log`)."""

from __future__ import annotations

from collections.abc import Sequence

from walletim.chain.rpc import Log, Q, RpcClient
from walletim.contracts.abi import parse_event
from walletim.errors import RpcError

LOG_CHUNK = 50_000  # blocks per log query

ERC721_TRANSFER = parse_event(
    "Transfer(address indexed from, address indexed to, uint256 indexed tokenId)"
)
ERC20_APPROVAL = parse_event(
    "Approval(address indexed owner, address indexed spender, uint256 value)"
)
ERC721_APPROVAL = parse_event(
    "Approval(address indexed owner, address indexed approved, uint256 indexed tokenId)"
)
APPROVAL_FOR_ALL = parse_event(
    "ApprovalForAll(address indexed owner, address indexed operator, bool approved)"
)
T_TRANSFER = ERC721_TRANSFER.topic0  # ERC-20's Transfer has the same topic0 (one index less)
T_APPROVAL = ERC20_APPROVAL.topic0  # ERC-721's Approval too
T_APPROVAL_FOR_ALL = APPROVAL_FOR_ALL.topic0

#: A topic filter position: one topic, any of several, or any (None).
Topic = str | Sequence[str] | None


def topic_of(address: str) -> str:
    """An address as an indexed topic (32 bytes, left-padded)."""
    return "0x" + "0" * 24 + address[2:].lower()


class LogScanner:
    """Logs from block 0 to the head, in chunks of up to ``chunk`` blocks. A range the node
    refuses (public RPCs limit the blocks or the results of one query) is asked again in
    halves, down to one block; later chunks stay below the smallest refused size, and grow
    back towards it. (This halving is not a retry: each range is asked once.)"""

    def __init__(self, rpc: RpcClient, chunk: int = LOG_CHUNK) -> None:
        self.rpc = rpc
        self.chunk = chunk

    def scan(self, topics: Sequence[Topic], address: str | None = None) -> list[Log]:
        """Raises RpcError: the node is unreachable, refuses even a single block, or
        answers with logs that do not parse."""
        head = self.rpc.get(Q.head())
        out: list[Log] = []
        start, size, refused = 0, self.chunk, self.chunk + 1
        while start <= head:
            end = min(head, start + size - 1)
            query = Q.logs(address=address, topics=topics, from_block=start, to_block=end)
            try:
                # Asked and parsed apart: only the node's refusal halves the range.
                answer = self.rpc.call(query.method, query.params)
            except RpcError as exc:
                if exc.response is None or end == start:
                    raise
                refused = min(refused, end - start + 1)
                size = max(1, (end - start + 1) // 2)
                continue
            out += query.parse(answer)
            start = end + 1
            size = max(1, min(size * 2, refused - 1, self.chunk))
        return out
