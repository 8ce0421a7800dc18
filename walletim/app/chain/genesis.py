"""Which chain this home's transactions are on. A chain id names many chains: a devnet
started afresh at the same URL is chain 31337 again, with none of the old one's blocks. Its
genesis (block 0) hash tells them apart, so each transaction records the genesis of the
chain it was signed on and the store the genesis last seen at each chain id
(:meth:`walletim.store.txs.TxRepo.see_chain`): a transaction of another genesis belongs to a
chain that is gone. It reads as ``gone``, is never broadcast again (re-broadcasting what the
node lost is for reorgs and nodes that lost their pool, on the same chain: on a new chain it
would pay an old payment again), and holds none of the new chain's nonces.

A node whose block 0 changed but that still holds the blocks of this home's newest mined
transactions runs the same chain (Anvil restarted from its dumped state more than once may
serve a block 0 of its restart's time, its later blocks unchanged): the transactions take the
new hash and nothing is gone. Nothing mined to look for: another chain, as the safe reading.

Transactions recorded before genesis hashes were kept are claimed by the first chain seen
at their chain id afterwards when it still holds the block of one of the newest of them that
were mined (or none was mined); else they are an earlier chain's.
"""

from __future__ import annotations

from walletim.app.chain.ports import Chain
from walletim.chain.rpc import Q
from walletim.errors import RpcError
from walletim.store.txs import TxRepo

#: How many of the newest mined transactions are looked for on the chain when its block 0
#: is not the one recorded (one round trip, once per change).
SAMPLE = 16


def bind(chain: Chain, genesis: str) -> None:
    """Record that the node runs the chain whose block 0 is ``genesis`` (a store write only
    when that changes). Raises RpcError (looking for older transactions' blocks)."""
    repo = chain.repo()
    seen = repo.chain_genesis(chain.chain_id)
    if seen == genesis:
        return
    if seen is not None and _holds_one(chain, repo.blocks_on(chain.chain_id, seen, SAMPLE)):
        with repo.transaction() as conn:
            TxRepo.regenesis(conn, chain.chain_id, seen, genesis)
        return
    ours = seen is None and _claims_legacy(chain, repo)
    with repo.transaction() as conn:
        TxRepo.see_chain(conn, chain.chain_id, genesis, genesis if ours else "")


def _claims_legacy(chain: Chain, repo: TxRepo) -> bool:
    """Whether this home's transactions recorded before genesis hashes were kept are on the
    node's chain: none was mined, or the node holds the block of one of the newest mined."""
    blocks = repo.unstamped_blocks(chain.chain_id, SAMPLE)
    return not blocks or _holds_one(chain, blocks)


def _holds_one(chain: Chain, blocks: list[tuple[int, str]]) -> bool:
    """Whether the node's chain holds one of ``blocks`` (number, hash) (one round trip;
    False for none)."""
    if not blocks:
        return False
    found = chain.rpc.gather_all([Q.block_hash(number) for number, _hash in blocks])
    for answer in found:
        if isinstance(answer, RpcError):
            raise answer
    return any(answer == block_hash for answer, (_n, block_hash) in zip(found, blocks, strict=True))
