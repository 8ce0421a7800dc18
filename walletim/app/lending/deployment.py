"""Aave V3 as found on a node: walletim's devnet deployment recognised by the addresses, runtime
code hashes and proxy implementations pinned in :mod:`walletim.app.lending.pins`, on devnet
chain ids only (its admin is a public test key)."""

from __future__ import annotations

from dataclasses import dataclass

from walletim.app.lending.plan import RESERVES
from walletim.app.world import DEVNET_CHAIN_IDS, Pinned, code_hashes, load_world
from walletim.chain.rpc import Q, RpcClient
from walletim.errors import ChainError, RpcError
from walletim.keys.hd import to_checksum_address

#: The EIP-1967 storage slot of a proxy's implementation.
EIP1967_IMPLEMENTATION = 0x360894A13BA1A3210667C828492DB98DCA3E2076CC3735A920A3CA505D382BBC


@dataclass(frozen=True, slots=True)
class ReserveTokens:
    """One reserve: its underlying ERC-20 and the tokens the Pool made for it."""

    symbol: str
    underlying: str
    a_token: str
    stable_debt: str
    variable_debt: str
    price_feed: str


@dataclass(frozen=True, slots=True)
class AaveMarket:
    """Aave V3 as found on a node (addresses checksummed). ``contracts``: every pinned
    contract by name; ``reserves``: by the world's symbol."""

    chain_id: int
    contracts: dict[str, str]
    reserves: dict[str, ReserveTokens]
    seconds: float = 0.0  # how long the deployment took (0: found, not deployed now)
    transactions: int = 0

    pool = Pinned("Pool")
    provider = Pinned("PoolAddressesProvider")
    oracle = Pinned("AaveOracle")
    configurator = Pinned("PoolConfigurator")
    data_provider = Pinned("AaveProtocolDataProvider")

    def names(self) -> dict[str, str]:
        """Checksummed address -> a name to show (``Aave Pool``, ``Aave AToken WETH``, ...)."""
        out = {}
        for name, address in self.contracts.items():
            kind, _, symbol = name.partition(":")
            out[address] = f"Aave {kind}{' ' + symbol if symbol else ''}"
        out[self.pool] = "Aave Pool"
        return out

    def reserve(self, address: str) -> ReserveTokens | None:
        """The reserve of an underlying token's address, or None."""
        target = to_checksum_address(address)
        return next((r for r in self.reserves.values() if r.underlying == target), None)

    def to_json(self) -> dict[str, object]:
        return {
            "chain_id": self.chain_id,
            "contracts": dict(self.contracts),
            "reserves": {
                s: {
                    "underlying": r.underlying,
                    "a_token": r.a_token,
                    "variable_debt": r.variable_debt,
                    "stable_debt": r.stable_debt,
                    "price_feed": r.price_feed,
                }
                for s, r in self.reserves.items()
            },
            "seconds": self.seconds,
            "transactions": self.transactions,
        }


def market_of(chain_id: int, contracts: dict[str, str], tokens: dict[str, str]) -> AaveMarket:
    """The market from the pinned names (``AToken:WETH`` ...) and the world's tokens."""
    reserves = {
        r.symbol: ReserveTokens(
            r.symbol,
            to_checksum_address(tokens[r.symbol]),
            contracts[f"AToken:{r.symbol}"],
            contracts[f"StableDebtToken:{r.symbol}"],
            contracts[f"VariableDebtToken:{r.symbol}"],
            contracts[f"PriceFeed:{r.symbol}"],
        )
        for r in RESERVES
    }
    return AaveMarket(chain_id, dict(contracts), reserves)


def world_tokens(rpc: RpcClient) -> tuple[int, dict[str, str]]:
    """(chain id, {WETH, USDC, DAI: address}) of the devnet world on the node.

    Raises:
        ChainError: no devnet world there (Aave lists its tokens).
    """
    world = load_world(None, rpc)
    if world is None:
        raise ChainError(
            "the devnet world (WETH, USDC, DAI) is not on this node: Aave lists its tokens, "
            "so deploy the world first (walletim devnet world)"
        )
    return world.chain_id, {s: world.tokens[s].address for s in ("WETH", "USDC", "DAI")}


def load_aave(rpc: RpcClient, *, chain_id: int | None = None) -> AaveMarket | None:
    """Aave V3 on the node behind ``rpc``, recognised by the pinned addresses, runtime code
    hashes and proxy implementation slots (:mod:`walletim.app.lending.pins`); None when the
    node is not on a devnet chain id (or not on ``chain_id``), the devnet world is not there,
    or any pinned contract is missing or different. Raises RpcError when the node fails: that
    is not "no Aave here" (which is remembered for a while)."""
    from walletim.app.lending.pins import AAVE

    if not AAVE:
        return None
    node_chain = rpc.get(Q.chain_id())
    if node_chain not in DEVNET_CHAIN_IDS or chain_id not in (None, node_chain):
        return None
    try:
        _chain, tokens = world_tokens(rpc)
    except RpcError:
        raise
    except ChainError:  # no devnet world on this node
        return None
    if not _all_pinned(rpc):
        return None
    return market_of(node_chain, {n: a for n, (a, _h) in AAVE.items()}, tokens)


def _all_pinned(rpc: RpcClient) -> bool:
    """Whether every pinned contract has its pinned code and every proxy its pinned
    implementation (two round trips). Raises RpcError."""
    from walletim.app.lending.pins import AAVE, IMPLEMENTATIONS

    names = list(AAVE)
    if code_hashes(rpc, [AAVE[n][0] for n in names]) != [AAVE[n][1] for n in names]:
        return False
    proxies = list(IMPLEMENTATIONS)
    slots = rpc.gather_all([Q.storage(AAVE[p][0], EIP1967_IMPLEMENTATION) for p in proxies])
    for proxy, slot in zip(proxies, slots, strict=True):
        if isinstance(slot, RpcError):
            raise slot  # the node failed: not "a different implementation"
        if to_checksum_address("0x" + slot[-20:].hex()) != AAVE[IMPLEMENTATIONS[proxy]][0]:
            return False
    return True


__all__ = [
    "EIP1967_IMPLEMENTATION",
    "AaveMarket",
    "ReserveTokens",
    "load_aave",
    "market_of",
    "world_tokens",
]
