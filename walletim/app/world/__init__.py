"""The devnet's DeFi world: real protocol code deployed on a local Anvil, found again by any home.

``deploy_world`` deploys, from Anvil's unlocked test account 0 (the public test mnemonic):

- WETH9, UniswapV2Factory and UniswapV2Router02: the published builds from the
  ``@uniswap/v2-core`` and ``@uniswap/v2-periphery`` npm packages;
- USDC (6 decimals) and DAI (18 decimals): ``WalletimToken`` (OpenZeppelin ERC-20 with
  EIP-2612 permit), the vault ``wvDAI`` (OpenZeppelin ERC-4626 over DAI) and the collection
  ``WIMC`` (OpenZeppelin ERC-721), compiled from ``anvil-fixtures/`` (``make fixtures``);
- pools WETH/USDC and WETH/DAI at 1 ETH = 3,000 (1,000 ETH against 3,000,000 USDC or DAI)
  and USDC/DAI at 1:1 (1,000,000 each): a 1 ETH swap moves the pool's price by ~0.2 %;
- 10,000 USDC and 10,000 DAI for each of Anvil's 10 default accounts, and NFTs #1-#3 for
  account 0 and #4-#5 for account 1;
- ``RedPacket`` (anvil-fixtures): red packets escrowed for recipients holding a voucher;
- then Aave V3 from the published ``@aave/core-v3`` artifacts, listing WETH, USDC and DAI
  (:mod:`walletim.app.lending.deploy`: three more blocks).

Every contract goes through the deterministic deployment proxy (``PROXY``: the CREATE2
deployer Anvil preinstalls and public chains carry) with a fixed salt, so its address depends
only on its init code: the world is at the same addresses on every fresh devnet, whatever
happened on it before, and the pools are the factory's own CREATE2 pairs. Constructor
arguments that name an owner (the token faucets, the NFT minter, the factory's fee setter)
are Anvil's public account 0: this world is test money on a devnet only. The whole
deployment goes to the node as one pipelined batch and is mined in one block; the node's
mining mode (automine, ``--no-mining``, ``--block-time``) is left as it was.

Finding the world needs no file: :func:`load_world` asks the node for the code at the
world's addresses and compares each contract's runtime code hash with the hashes pinned in
:mod:`walletim.app.world_pins` (generated from a real deployment, checked by a test). The
devnet tokens are recognised only on devnet chain ids (``DEVNET_CHAIN_IDS``): their owner
is a public key, so on a public chain anyone could deploy the very same code. ``RedPacket``
is walletim's own ownerless contract without immutables: :func:`find_redpacket` recognises it
by address and code hash on any chain. The manifest a home writes (``HOME/worlds/``) is a
record of its own deployment, never the source of an address.
"""

from walletim.app.world.deploy import (
    CALL_GAS,
    DEPLOY_GAS,
    ETH_PRICE,
    FAR_DEADLINE,
    FAUCET,
    FIXTURES,
    NFTS,
    POOL_ETH,
    RECEIPT_TIMEOUT,
    STABLE_POOL,
    UNISWAP_CORE,
    UNISWAP_PERIPHERY,
    Builder,
    WorldPlan,
    artifact,
    artifact_bytecode,
    create2_address,
    create_address,
    deploy_at,
    deploy_world,
    ensure_proxy,
    found_at,
    init_code,
    pair_address,
    pins_text,
    plan_world,
    send_blocks,
    wait_receipts,
)
from walletim.app.world.deploy import (
    _selector_call as _selector_call,  # tests build fixture calls with it
)
from walletim.app.world.manifest import (
    ANVIL_ACCOUNT_0,
    ANVIL_ACCOUNTS,
    DEVNET_CHAIN_IDS,
    MANIFEST_VERSION,
    POOLS,
    PROXY,
    PROXY_CODE,
    PROXY_DEPLOY_GAS,
    REQUIRED_CONTRACTS,
    SALT,
    TOKENS,
    TokenInfo,
    WorldManifest,
    check_devnet_chain,
    code_hash,
    code_hashes,
    find_redpacket,
    genesis_hash,
    load_world,
    manifest_path,
    save_world,
)

__all__ = [
    "ANVIL_ACCOUNTS",
    "ANVIL_ACCOUNT_0",
    "CALL_GAS",
    "DEPLOY_GAS",
    "DEVNET_CHAIN_IDS",
    "ETH_PRICE",
    "FAR_DEADLINE",
    "FAUCET",
    "FIXTURES",
    "MANIFEST_VERSION",
    "NFTS",
    "POOLS",
    "POOL_ETH",
    "PROXY",
    "PROXY_CODE",
    "PROXY_DEPLOY_GAS",
    "RECEIPT_TIMEOUT",
    "REQUIRED_CONTRACTS",
    "SALT",
    "STABLE_POOL",
    "TOKENS",
    "UNISWAP_CORE",
    "UNISWAP_PERIPHERY",
    "Builder",
    "TokenInfo",
    "WorldManifest",
    "WorldPlan",
    "artifact",
    "artifact_bytecode",
    "check_devnet_chain",
    "code_hash",
    "code_hashes",
    "create2_address",
    "create_address",
    "deploy_at",
    "deploy_world",
    "ensure_proxy",
    "find_redpacket",
    "found_at",
    "genesis_hash",
    "init_code",
    "load_world",
    "manifest_path",
    "pair_address",
    "pins_text",
    "plan_world",
    "save_world",
    "send_blocks",
    "wait_receipts",
]
