"""Aave V3 on the devnet: deployed from the published ``@aave/core-v3`` 1.19.3 artifacts (no
recompiling: the logic libraries are linked into Pool, PoolConfigurator and FlashLoanLogic by
their ``linkReferences``), after the devnet world (walletim.app.world) whose WETH, USDC and
DAI it lists.

:func:`deploy_aave` sends, from Anvil's account 0 (the public test key, as for the world):

- the logic libraries, ``PoolAddressesProvider`` ("walletim devnet"), ``ACLManager`` (account
  0 is ACL admin, pool admin, asset-listing, risk and emergency admin), the ``Pool`` and
  ``PoolConfigurator`` implementations (each initialised) and their proxies (made and
  initialised by the provider), ``AaveOracle`` over one ``MockAggregator`` per asset (USD, 8
  decimals: WETH 3,000, USDC 1, DAI 1; ``devnet price`` moves them), ``AaveProtocolDataProvider``,
  the AToken / StableDebtToken / VariableDebtToken implementations, two
  ``DefaultReserveInterestRateStrategy`` (volatile for WETH, stable for USDC and DAI);
- the three reserves (``PoolConfigurator.initReserves``) with the parameters in
  :data:`~walletim.app.lending.plan.RESERVES` (LTV, liquidation threshold and bonus, reserve
  factor, supply and borrow caps, liquidation protocol fee), variable-rate borrowing on, stable
  rate off;
- seeded liquidity: 1,000 WETH, 2,000,000 USDC and 2,000,000 DAI supplied on behalf of
  ``0x…dEaD`` (nobody's: the liquidity stays, and no test account starts with a position).

Every contract walletim deploys goes through the deterministic deployment proxy (CREATE2)
with a fixed salt; the Pool and PoolConfigurator proxies are CREATEs of the provider, the
reserves' token proxies CREATEs of the configurator proxy: every address is the same on each
fresh devnet. :func:`load_aave` recognises the deployment by those addresses, each runtime
code hash and each proxy's EIP-1967 implementation slot, all pinned in
:mod:`walletim.app.lending.pins` (``anvil-fixtures/pin_aave.py`` writes it; a test checks it),
on devnet chain ids only: its admin is a public key.

Left out of Aave V3 here: e-mode categories, isolation mode and siloed borrowing (none
configured), flash loans (the Pool has them; walletim never calls them), stable-rate
borrowing (disabled on every reserve), the Collector treasury (fees accrue to account 0),
incentives, L2Pool, the WrappedTokenGateway (supply WETH, not ETH) and the price-oracle
sentinel.

The modules: :mod:`.plan` (artifacts, parameters, the transactions), :mod:`.deployment`
(what is deployed, found again), this one (sending it, and writing the pins).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from walletim.app.lending.deployment import (
    EIP1967_IMPLEMENTATION,
    AaveMarket,
    ReserveTokens,
    load_aave,
    world_tokens,
)
from walletim.app.lending.plan import (
    DEAD,
    PRICE_DECIMALS,
    RESERVES,
    TOKEN_KINDS,
    AavePlan,
    plan_aave,
)
from walletim.app.world import DEVNET_CHAIN_IDS, code_hashes, ensure_proxy, send_blocks
from walletim.chain.anvil import UnsignedTx
from walletim.chain.rpc import Q, RpcClient
from walletim.contracts.abi import calldata, decode_values
from walletim.errors import ChainError, ConfigError
from walletim.keys.hd import to_checksum_address


def deploy_aave(rpc: RpcClient) -> AaveMarket:
    """Deploy Aave V3 (see the module docstring) onto the devnet world behind ``rpc``; on a
    node that already holds it, send nothing and return what is there (``transactions`` 0).
    The node's mining mode is left as it was. Call it after ``deploy_world``.

    Raises:
        ConfigError: the artifacts are missing (run ``make setup``), or not a devnet chain id.
        ChainError: no world on the node, a transaction failed, part of Aave's addresses
            hold other code (start a fresh devnet), or the result does not match the pins.
    """
    from walletim.app.lending.pins import AAVE

    started = time.perf_counter()
    chain_id = rpc.get(Q.chain_id())
    if chain_id not in DEVNET_CHAIN_IDS:
        raise ConfigError(f"Aave's devnet deployment is for a devnet, not chain {chain_id}")
    _chain, tokens = world_tokens(rpc)
    found = load_aave(rpc)
    if found is not None:
        return found
    names = list(AAVE)
    hashes = code_hashes(rpc, [AAVE[n][0] for n in names])
    present = [n for n, h in zip(names, hashes, strict=True) if h is not None]
    if present:
        raise ChainError(
            f"part of Aave's devnet deployment is on this node ({', '.join(present[:4])}"
            f"{', ...' if len(present) > 4 else ''}) but not all of it, or not as pinned: "
            "start a fresh devnet"
        )
    sent = send_plan(rpc, plan_aave(tokens).txs)
    market = load_aave(rpc)
    if market is None:
        raise ChainError(
            "Aave was deployed but does not match walletim/app/lending/pins.py (regenerate it "
            "with anvil-fixtures/pin_aave.py after changing the deployment)"
        )
    return AaveMarket(
        market.chain_id, market.contracts, market.reserves, time.perf_counter() - started, sent
    )


def send_plan(rpc: RpcClient, txs: Sequence[UnsignedTx]) -> int:
    """Send a plan's transactions (from an account the node holds unlocked) in batches that
    each fit a block, and wait until all are mined (automine held while sending, then
    restored: :func:`walletim.app.world.send_blocks`). Returns how many were sent.

    Raises:
        ChainError: the node refused one, or one failed.
    """
    ensure_proxy(rpc)
    block = rpc.get(Q.block("latest"))
    limit = 30_000_000 if block is None else block.gas_limit
    blocks: list[list[UnsignedTx]] = [[]]
    used = 0
    for tx in txs:  # each batch fits one block: the node drops what a block cannot hold
        gas = tx.gas or 0
        if blocks[-1] and used + gas > limit:
            blocks.append([])
            used = 0
        blocks[-1].append(tx)
        used += gas
    receipts = send_blocks(rpc, blocks, what="Aave")
    for n, receipt in enumerate(receipts):
        if not receipt.succeeded:
            raise ChainError(f"deploying Aave failed at transaction {n + 1} of {len(txs)}")
    return len(txs)


# -- pins ------------------------------------------------------------------------------------


def _token_proxies(rpc: RpcClient, pool: str, tokens: dict[str, str]) -> dict[str, str]:
    """Each reserve's aToken and debt-token proxies, as the Pool reports them."""
    names: dict[str, str] = {}
    for r in RESERVES:
        data = calldata("getReserveData(address)", tokens[r.symbol])
        words = decode_values(["uint256"] * 15, rpc.get(Q.call(pool, data)))
        for kind, word in zip(TOKEN_KINDS, words[8:11], strict=True):
            if not isinstance(word, int):
                raise ChainError("getReserveData does not decode")
            names[f"{kind}:{r.symbol}"] = to_checksum_address(f"0x{word:040x}")
    return names


def pins_text(rpc: RpcClient) -> str:
    """The source of :mod:`walletim.app.lending.pins` for the deployment on the node behind
    ``rpc`` (a fresh devnet where ``deploy_world`` and :func:`deploy_aave` just ran): the
    planned addresses, the reserves' token proxies as the Pool reports them, every runtime
    code hash as the node answers it. Raises ConfigError, ChainError, RpcError."""
    _chain, tokens = world_tokens(rpc)
    plan = plan_aave(tokens)
    names = {**plan.addresses, **_token_proxies(rpc, plan.addresses["Pool"], tokens)}
    order = list(names)
    hashes = dict(zip(order, code_hashes(rpc, [names[n] for n in order]), strict=True))
    missing = [n for n, h in hashes.items() if h is None]
    if missing:
        raise ConfigError(f"Aave is not deployed on this node ({', '.join(missing)})")
    implementations = {"Pool": "PoolImpl", "PoolConfigurator": "PoolConfiguratorImpl"}
    for r in RESERVES:
        for kind in TOKEN_KINDS:
            implementations[f"{kind}:{r.symbol}"] = f"{kind}Impl"
    lines = [
        '"""Aave V3 on the devnet: addresses and runtime code hashes (keccak-256 of',
        "``eth_getCode``), and the implementation behind each proxy (its EIP-1967 slot).",
        "",
        "GENERATED by ``anvil-fixtures/pin_aave.py`` from a deployment on a fresh Anvil: do not",
        "edit (tests/integration/test_lending.py checks it against a new deployment). Every",
        "address follows from the deployment's init codes and order; the hashes hold on devnet",
        'chain ids only (immutables: addresses, the chain id)."""',
        "",
        "# name: (address, runtime code hash)",
        "AAVE: dict[str, tuple[str, str]] = {",
    ]
    for n in order:
        lines += [f'    "{n}": (', f'        "{names[n]}",', f'        "{hashes[n]}",', "    ),"]
    lines += [
        "}",
        "",
        "# proxy name: the name of the implementation its EIP-1967 slot must hold",
        "IMPLEMENTATIONS: dict[str, str] = {",
    ]
    lines += [f'    "{p}": "{i}",' for p, i in implementations.items()]
    lines += ["}", ""]
    return "\n".join(lines)


__all__ = [
    "DEAD",
    "EIP1967_IMPLEMENTATION",
    "PRICE_DECIMALS",
    "RESERVES",
    "AaveMarket",
    "AavePlan",
    "ReserveTokens",
    "deploy_aave",
    "load_aave",
    "pins_text",
    "plan_aave",
    "send_plan",
    "world_tokens",
]
