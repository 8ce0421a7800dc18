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
- ``RedPacket`` (anvil-fixtures): red packets escrowed for recipients holding a voucher.

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

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from walletim import fsio, safejson
from walletim.chain.rpc import RpcClient, quantity
from walletim.errors import ChainError, ConfigError, RpcError
from walletim.keys.hd import to_checksum_address

MANIFEST_VERSION = 1
ANVIL_ACCOUNT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ANVIL_ACCOUNTS = (  # m/44'/60'/0'/0/{0..9} of the test mnemonic: eth_accounts
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
)
FAUCET = {"USDC": 10_000 * 10**6, "DAI": 10_000 * 10**18}
ETH_PRICE = 3_000  # USDC and DAI per ETH in the seeded pools
POOL_ETH = 1_000 * 10**18  # in each of WETH/USDC and WETH/DAI (account 0 holds 10,000 ETH)
STABLE_POOL = 1_000_000  # USDC and DAI (whole units) in the USDC/DAI pool
NFTS = ((0, 3), (1, 2))  # (account index, how many)
DEPLOY_GAS = 6_000_000
CALL_GAS = 600_000
FAR_DEADLINE = 2**40
RECEIPT_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class TokenInfo:
    address: str
    decimals: int
    name: str


REQUIRED_CONTRACTS = ("UniswapV2Router02", "UniswapV2Factory", "WETH", "USDC", "wvDAI", "WIMC")


def _decimals(value: Any) -> int:
    """A token's decimals from a manifest: an ERC-20's uint8 (10**decimals must stay cheap)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
        raise ConfigError("malformed world manifest: token decimals")
    return value


@dataclass(frozen=True, slots=True)
class WorldManifest:
    """What the world holds on one devnet. ``contracts`` maps names (WETH, USDC, DAI,
    UniswapV2Factory, UniswapV2Router02, wvDAI, WIMC, and pools as "WETH/USDC") to addresses;
    ``tokens`` the ERC-20s by symbol."""

    chain_id: int
    genesis_hash: str
    deployer: str
    block: int
    contracts: dict[str, str]
    tokens: dict[str, TokenInfo]
    deployed_at: int = 0
    seconds: float = 0.0  # how long the deployment took
    transactions: int = 0
    version: int = MANIFEST_VERSION
    accounts: tuple[str, ...] = field(default=ANVIL_ACCOUNTS)

    @property
    def router(self) -> str:
        return self.contracts["UniswapV2Router02"]

    @property
    def factory(self) -> str:
        return self.contracts["UniswapV2Factory"]

    @property
    def weth(self) -> str:
        return self.contracts["WETH"]

    @property
    def vault(self) -> str:
        return self.contracts["wvDAI"]

    @property
    def nft(self) -> str:
        return self.contracts["WIMC"]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "chain_id": self.chain_id,
            "genesis_hash": self.genesis_hash,
            "deployer": self.deployer,
            "block": self.block,
            "deployed_at": self.deployed_at,
            "seconds": self.seconds,
            "transactions": self.transactions,
            "contracts": dict(self.contracts),
            "tokens": {
                s: {"address": t.address, "decimals": t.decimals, "name": t.name}
                for s, t in self.tokens.items()
            },
        }

    @classmethod
    def from_json(cls, doc: Any) -> WorldManifest:
        """Raises ConfigError on a malformed or newer manifest."""
        try:
            if doc["version"] != MANIFEST_VERSION:
                raise ConfigError(f"world manifest version {doc['version']!r:.40} is not supported")
            tokens = {
                str(s): TokenInfo(
                    to_checksum_address(t["address"]), _decimals(t["decimals"]), str(t["name"])
                )
                for s, t in doc["tokens"].items()
            }
            contracts = {str(k): to_checksum_address(v) for k, v in doc["contracts"].items()}
            missing = [n for n in REQUIRED_CONTRACTS if n not in contracts]
            if missing:  # the properties above (and load_world's probes) need them
                raise ConfigError(f"the world manifest names no {', '.join(missing)}")
            return cls(
                int(doc["chain_id"]),
                str(doc["genesis_hash"]),
                to_checksum_address(doc["deployer"]),
                int(doc["block"]),
                contracts,
                tokens,
                int(doc.get("deployed_at", 0)),
                float(doc.get("seconds", 0.0)),
                int(doc.get("transactions", 0)),
            )
        except ConfigError:
            raise
        except Exception as exc:  # KeyError, TypeError, ValueError, KeysError
            raise ConfigError("malformed world manifest") from exc


# -- artifacts ---------------------------------------------------------------------------------


def _roots() -> list[Path]:
    here = Path(__file__).resolve()
    roots = [here.parents[2], Path.cwd()]
    return [r for n, r in enumerate(roots) if r not in roots[:n]]


def _artifact(relative: str) -> dict[str, Any]:
    for root in _roots():
        path = root / relative
        if path.exists():
            try:
                doc = safejson.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigError(f"cannot read {path}: {exc}") from exc
            if not isinstance(doc, dict):
                raise ConfigError(f"{path} is not a build artifact")
            return doc
    raise ConfigError(f"{relative} not found: run `make setup` (and `make fixtures`)")


def artifact_bytecode(relative: str) -> bytes:
    doc = _artifact(relative)
    code = doc.get("bytecode")
    if isinstance(code, dict):  # some builds nest it
        code = code.get("object")
    if not isinstance(code, str) or not code:
        raise ConfigError(f"{relative} has no bytecode")
    return bytes.fromhex(code[2:] if code.startswith("0x") else code)


UNISWAP_CORE = "node_modules/@uniswap/v2-core/build/"
UNISWAP_PERIPHERY = "node_modules/@uniswap/v2-periphery/build/"
FIXTURES = "anvil-fixtures/artifacts/"


# -- deploying ---------------------------------------------------------------------------------

# The deterministic deployment proxy (github.com/Arachnid/deterministic-deployment-proxy):
# calldata salt (32 bytes) ++ init code; it CREATE2s the contract and returns its address.
PROXY = "0x4e59b44847b379578588920cA78FbF26c0B4956C"
PROXY_CODE = bytes.fromhex(
    "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035"
    "828234f58015156039578182fd5b8082525050506014600cf3"
)
SALT = bytes(32)  # one fixed salt: each contract's address follows from its init code alone
DEVNET_CHAIN_IDS = frozenset({31337})  # Anvil's (and Hardhat's) default chain id
PROXY_DEPLOY_GAS = 8_000_000  # a CREATE2 through the proxy: the init code's calldata + 1/64
TOKENS = {  # symbol: (contract name, decimals, name)
    "WETH": ("WETH", 18, "Wrapped Ether"),
    "USDC": ("USDC", 6, "USD Coin"),
    "DAI": ("DAI", 18, "Dai Stablecoin"),
    "wvDAI": ("wvDAI", 18, "walletim DAI Vault"),
}
POOLS = (("WETH/USDC", "WETH", "USDC"), ("WETH/DAI", "WETH", "DAI"), ("USDC/DAI", "USDC", "DAI"))


def create_address(sender: str, nonce: int) -> str:
    """The address a CREATE from ``sender`` at ``nonce`` deploys to."""
    import rlp

    from walletim.keys.hd import keccak256

    raw = bytes.fromhex(to_checksum_address(sender)[2:])
    return to_checksum_address("0x" + keccak256(rlp.encode([raw, nonce]))[12:].hex())


def create2_address(deployer: str, salt: bytes, init_code_hash: bytes) -> str:
    """The address a CREATE2 from ``deployer`` with ``salt`` and that init code hash deploys to
    (EIP-1014)."""
    from walletim.keys.hd import keccak256

    raw = b"\xff" + bytes.fromhex(to_checksum_address(deployer)[2:]) + salt + init_code_hash
    return to_checksum_address("0x" + keccak256(raw)[12:].hex())


def code_hash(code: Any) -> str | None:
    """keccak-256 of an ``eth_getCode`` answer (0x hex); None for no code or a malformed one."""
    from walletim.keys.hd import keccak256

    if not isinstance(code, str) or not code.startswith("0x") or len(code) <= 2:
        return None
    try:
        return "0x" + keccak256(bytes.fromhex(code[2:])).hex()
    except ValueError:
        return None


def _selector_call(signature: str, *args: Any) -> bytes:
    from eth_abi.abi import encode
    from eth_utils.abi import function_signature_to_4byte_selector

    inner = signature[signature.index("(") + 1 : -1]
    types = [t for t in inner.split(",") if t]
    return bytes(function_signature_to_4byte_selector(signature)) + encode(types, list(args))


def _ctor(bytecode: bytes, types: list[str], args: list[Any]) -> bytes:
    from eth_abi.abi import encode

    return bytecode + (encode(types, args) if types else b"")


def genesis_hash(rpc: RpcClient) -> str:
    block = rpc.get_block(0)
    if not block or not isinstance(block.get("hash"), str):
        raise RpcError("the node has no genesis block", method="eth_getBlockByNumber")
    return str(block["hash"]).lower()


@dataclass(frozen=True, slots=True)
class WorldPlan:
    """The world's transactions in order, all from ``sender`` (Anvil's account 0); a
    deployment is a call to ``PROXY``. ``addresses`` holds every contract of the world, the
    pools included; ``deployments`` which transaction deploys which contract."""

    sender: str
    txs: tuple[dict[str, Any], ...]
    addresses: dict[str, str]
    deployments: dict[str, int]


def pair_address(factory: str, token_a: str, token_b: str, pair_init_code_hash: bytes) -> str:
    """UniswapV2Factory's CREATE2 address of the pair of two tokens (UniswapV2Library.pairFor)."""
    from walletim.keys.hd import keccak256

    t0, t1 = sorted((token_a, token_b), key=lambda x: int(x, 16))
    salt = keccak256(bytes.fromhex(t0[2:]) + bytes.fromhex(t1[2:]))
    return create2_address(factory, salt, pair_init_code_hash)


def plan_world() -> WorldPlan:
    """Build the deployment (no I/O but reading the artifacts). Raises ConfigError."""
    from walletim.keys.hd import keccak256

    owner = ANVIL_ACCOUNT_0
    weth_code = artifact_bytecode(UNISWAP_PERIPHERY + "WETH9.json")
    factory_code = artifact_bytecode(UNISWAP_CORE + "UniswapV2Factory.json")
    pair_code = artifact_bytecode(UNISWAP_CORE + "UniswapV2Pair.json")
    router_code = artifact_bytecode(UNISWAP_PERIPHERY + "UniswapV2Router02.json")
    token_code = artifact_bytecode(FIXTURES + "WalletimToken.json")
    vault_code = artifact_bytecode(FIXTURES + "WalletimVault.json")
    nft_code = artifact_bytecode(FIXTURES + "WalletimCollectibles.json")

    txs: list[dict[str, Any]] = []
    deployments: dict[str, int] = {}

    def deploy(name: str, init_code: bytes) -> str:
        deployments[name] = len(txs)
        txs.append({"to": PROXY, "data": SALT + init_code, "gas": PROXY_DEPLOY_GAS})
        return create2_address(PROXY, SALT, keccak256(init_code))

    def call(to: str, data: bytes, value: int = 0, gas: int = CALL_GAS) -> None:
        txs.append({"to": to, "data": data, "gas": gas, "value": value})

    token_args = ["string", "string", "uint8", "address"]
    weth = deploy("WETH", weth_code)
    usdc = deploy("USDC", _ctor(token_code, token_args, ["USD Coin", "USDC", 6, owner]))
    dai = deploy("DAI", _ctor(token_code, token_args, ["Dai Stablecoin", "DAI", 18, owner]))
    factory = deploy("UniswapV2Factory", _ctor(factory_code, ["address"], [owner]))
    router = deploy(
        "UniswapV2Router02", _ctor(router_code, ["address", "address"], [factory, weth])
    )
    vault = deploy(
        "wvDAI",
        _ctor(vault_code, ["address", "string", "string"], [dai, "walletim DAI Vault", "wvDAI"]),
    )
    nft = deploy(
        "WIMC",
        _ctor(
            nft_code,
            ["string", "string", "string", "address"],
            ["walletim Collectibles", "WIMC", "https://walletim.invalid/wimc/", owner],
        ),
    )
    redpacket = deploy("RedPacket", artifact_bytecode(FIXTURES + "RedPacket.json"))
    usdc_pool = ETH_PRICE * POOL_ETH // 10**18 * 10**6
    dai_pool = ETH_PRICE * POOL_ETH
    call(usdc, _selector_call("mint(address,uint256)", owner, usdc_pool + STABLE_POOL * 10**6))
    call(dai, _selector_call("mint(address,uint256)", owner, dai_pool + STABLE_POOL * 10**18))
    for token in (usdc, dai):
        call(token, _selector_call("approve(address,uint256)", router, 2**256 - 1))
    add_eth = "addLiquidityETH(address,uint256,uint256,uint256,address,uint256)"
    # Each first deposit creates its pair (CREATE2 of the pair contract): deployment gas.
    call(
        router,
        _selector_call(add_eth, usdc, usdc_pool, 0, 0, owner, FAR_DEADLINE),
        POOL_ETH,
        DEPLOY_GAS,
    )
    call(
        router,
        _selector_call(add_eth, dai, dai_pool, 0, 0, owner, FAR_DEADLINE),
        POOL_ETH,
        DEPLOY_GAS,
    )
    add = "addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)"
    call(
        router,
        _selector_call(
            add, usdc, dai, STABLE_POOL * 10**6, STABLE_POOL * 10**18, 0, 0, owner, FAR_DEADLINE
        ),
        gas=DEPLOY_GAS,
    )
    for token in (usdc, dai):
        call(token, _selector_call("approve(address,uint256)", router, 0))  # leave no allowance
    for account in ANVIL_ACCOUNTS:
        call(usdc, _selector_call("mint(address,uint256)", account, FAUCET["USDC"]))
        call(dai, _selector_call("mint(address,uint256)", account, FAUCET["DAI"]))
    for index, count in NFTS:
        for _ in range(count):
            call(nft, _selector_call("mint(address)", ANVIL_ACCOUNTS[index]))

    addresses = {"WETH": weth, "USDC": usdc, "DAI": dai, "UniswapV2Factory": factory}
    addresses.update({"UniswapV2Router02": router, "wvDAI": vault, "WIMC": nft})
    addresses["RedPacket"] = redpacket
    pair_hash = keccak256(pair_code)
    for name, a, b in POOLS:
        addresses[name] = pair_address(factory, addresses[a], addresses[b], pair_hash)
    return WorldPlan(owner, tuple(txs), addresses, deployments)


def _manifest(
    chain_id: int,
    genesis: str,
    contracts: dict[str, str],
    block: int = 0,
    deployed_at: int = 0,
    seconds: float = 0.0,
    transactions: int = 0,
) -> WorldManifest:
    tokens = {
        symbol: TokenInfo(contracts[name], decimals, full)
        for symbol, (name, decimals, full) in TOKENS.items()
    }
    return WorldManifest(
        chain_id,
        genesis,
        ANVIL_ACCOUNT_0,
        block,
        dict(contracts),
        tokens,
        deployed_at,
        seconds,
        transactions,
    )


def ensure_proxy(rpc: RpcClient) -> None:
    """Make sure the deterministic deployment proxy is on the node: Anvil preinstalls it; a
    devnet without it gets it through ``anvil_setCode``.

    Raises:
        ChainError: other code sits at its address, or it is missing and cannot be set.
    """
    expected = code_hash("0x" + PROXY_CODE.hex())
    found = code_hash(rpc.call("eth_getCode", [PROXY, "latest"]))
    if found is None:
        try:
            rpc.call("anvil_setCode", [PROXY, "0x" + PROXY_CODE.hex()])
        except RpcError as exc:
            raise ChainError(
                f"the node has no deterministic deployment proxy at {PROXY} and cannot be "
                "given one (is it an Anvil devnet?)"
            ) from exc
        found = code_hash(rpc.call("eth_getCode", [PROXY, "latest"]))
    if found != expected:
        raise ChainError(f"the code at {PROXY} is not the deterministic deployment proxy")


def deploy_world(rpc: RpcClient) -> WorldManifest:
    """Deploy the world (see the module docstring) from Anvil's account 0 and return its
    manifest (not yet saved: :func:`save_world`). On a node that already holds the world,
    nothing is sent and the world found there is returned (``transactions`` 0).

    Raises:
        ConfigError: artifacts missing (run ``make setup``), or the chain id is not a devnet's.
        ChainError: a transaction failed, the node is not an Anvil with account 0 unlocked, or
        part of the world's addresses hold other code.
    """
    from walletim.app.lending.deploy import deploy_aave  # issue 18 (lending)
    from walletim.app.world_pins import REDPACKET, WORLD

    started = time.perf_counter()
    chain_id = rpc.chain_id()
    if chain_id not in DEVNET_CHAIN_IDS:
        raise ConfigError(
            f"the devnet world is for a devnet (chain id {', '.join(map(str, DEVNET_CHAIN_IDS))}), "
            f"not chain {chain_id}: its tokens' owner is a public test key"
        )
    ensure_proxy(rpc)
    plan = plan_world()
    names = list(plan.addresses)
    codes = rpc.batch([("eth_getCode", [plan.addresses[n], "latest"]) for n in names])
    found = {n: code_hash(c) for n, c in zip(names, codes, strict=True)}
    present = {n: h for n, h in found.items() if h is not None}
    pins = {**WORLD, "RedPacket": REDPACKET}
    for name, got in present.items():
        if name not in pins or pins[name] != (plan.addresses[name], got):
            raise ChainError(
                f"{plan.addresses[name]} (the world's {name}) holds other code on this node"
            )
    genesis = genesis_hash(rpc)
    if len(present) == len(names):
        deploy_aave(rpc)  # issue 18 (lending): Aave V3 after the world, if not there yet
        return _manifest(chain_id, genesis, plan.addresses)
    if set(present) - {"RedPacket"}:
        raise ChainError(
            f"part of the devnet world is already on this node ({', '.join(sorted(present))}) "
            "but not all of it: start a fresh devnet"
        )
    skip = {plan.deployments[n] for n in present}  # RedPacket, deployed by someone before
    txs = [tx for n, tx in enumerate(plan.txs) if n not in skip]
    # Automine would give each transaction its own block (and then mine empty blocks, one
    # per queued transaction): hold it while sending, then mine the batch in one block.
    automine = _automine(rpc)
    if automine:
        rpc.call("evm_setAutomine", [False])
    try:
        hashes = _send_all(rpc, plan.sender, txs)
        receipts = wait_receipts(rpc, hashes, mine=automine is not None)
    finally:
        if automine:
            rpc.call("evm_setAutomine", [True])
    for n, receipt in enumerate(receipts):
        if receipt.get("status") != "0x1":
            raise ChainError(f"deploying the world failed at transaction {n + 1} of {len(txs)}")
    deploy_aave(rpc)  # issue 18 (lending): Aave V3 after the world
    return _manifest(
        chain_id,
        genesis,
        plan.addresses,
        quantity(receipts[-1].get("blockNumber"), "blockNumber"),
        int(time.time()),
        time.perf_counter() - started,
        len(txs),
    )


def _automine(rpc: RpcClient) -> bool | None:
    """Whether the node mines each transaction as it arrives; None: not an Anvil (it mines on
    its own). A node without automine is never switched: on Anvil, switching automine on and
    off again would also end ``--block-time`` interval mining."""
    try:
        return bool(rpc.call("anvil_getAutomine"))
    except RpcError:
        return None


def _send_all(rpc: RpcClient, sender: str, txs: list[dict[str, Any]]) -> list[str]:
    nonce = rpc.get_transaction_count(sender, "pending")
    calls = []
    for n, tx in enumerate(txs):
        params: dict[str, Any] = {
            "from": sender,
            "nonce": hex(nonce + n),
            "gas": hex(tx["gas"]),
            "data": "0x" + tx["data"].hex(),
            "value": hex(tx.get("value", 0)),
        }
        if "to" in tx:
            params["to"] = tx["to"]
        calls.append(("eth_sendTransaction", [params]))
    results = rpc.batch(calls)
    hashes = []
    for n, result in enumerate(results):
        if isinstance(result, RpcError):
            raise ChainError(
                f"the node refused world transaction {n + 1} of {len(txs)} ({result}); is it an "
                "Anvil devnet with its default accounts?"
            )
        hashes.append(str(result))
    return hashes


def wait_receipts(rpc: RpcClient, hashes: list[str], *, mine: bool = False) -> list[dict[str, Any]]:
    """The receipts of ``hashes``, polled until all are there (Anvil's automine answers
    ``eth_sendTransaction`` before it mines); with ``mine``, ``evm_mine`` before each poll.

    Raises:
        ChainError: not all mined within RECEIPT_TIMEOUT seconds. RpcError.
    """
    deadline = time.monotonic() + RECEIPT_TIMEOUT
    found: dict[str, dict[str, Any]] = {}
    delay = 0.005
    while True:
        missing = [h for h in hashes if h not in found]
        if not missing:
            return [found[h] for h in hashes]
        if mine:
            rpc.call("evm_mine")
        for h, r in zip(
            missing, rpc.batch([("eth_getTransactionReceipt", [h]) for h in missing]), strict=True
        ):
            if isinstance(r, dict):
                found[h] = r
        if time.monotonic() > deadline:
            raise ChainError(f"{len(missing)} transaction(s) were not mined in time")
        if len(found) < len(hashes):
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


# -- the manifest in the home ------------------------------------------------------------------


def manifest_path(home: Path, chain_id: int, genesis: str) -> Path:
    return home / "worlds" / f"{chain_id}-{genesis[2:18]}.json"


def save_world(home: Path, manifest: WorldManifest) -> Path:
    """Write the manifest atomically under the home. Raises ConfigError."""
    path = manifest_path(home, manifest.chain_id, manifest.genesis_hash)
    fsio.ensure_private_dir(path.parent)
    fsio.write_private(path, (json.dumps(manifest.to_json(), indent=2) + "\n").encode())
    return path


def load_world(
    home: Path | None, rpc: RpcClient, *, chain_id: int | None = None
) -> WorldManifest | None:
    """The devnet world on the node behind ``rpc``, recognised by its addresses and the code
    hashes pinned in :mod:`walletim.app.world_pins`; None when the node is not on a devnet
    chain id (or not on ``chain_id``, the network profile's, when given) or the world is not
    all there. No file is needed; this home's own manifest of the same world, if it has one,
    adds when and how fast it was deployed. Raises nothing for an unreachable node (None).
    """
    from walletim.app.world_pins import REDPACKET, WORLD

    try:
        node_chain, block = rpc.batch(
            [("eth_chainId", []), ("eth_getBlockByNumber", ["0x0", False])]
        )
    except RpcError:
        return None
    if isinstance(node_chain, Exception) or not isinstance(block, dict):
        return None
    try:
        node_chain_id = quantity(node_chain, "eth_chainId")
    except (RpcError, ValueError):
        return None
    if node_chain_id not in DEVNET_CHAIN_IDS or chain_id not in (None, node_chain_id):
        return None
    pins = {**WORLD, "RedPacket": REDPACKET}
    try:
        codes = rpc.batch([("eth_getCode", [address, "latest"]) for address, _ in pins.values()])
    except RpcError:
        return None
    for (_, expected), code in zip(pins.values(), codes, strict=True):
        if code_hash(code) != expected:
            return None
    genesis = str(block.get("hash", "")).lower()
    found = _manifest(node_chain_id, genesis, {n: a for n, (a, _) in pins.items()})
    return _own_record(home, found) or found


def _own_record(home: Path | None, found: WorldManifest) -> WorldManifest | None:
    """This home's manifest of ``found`` (same chain, genesis and contracts), if it wrote one:
    only its deployment figures are used. A missing, unreadable or different file: None."""
    if home is None:
        return None
    path = manifest_path(home, found.chain_id, found.genesis_hash)
    try:
        mine = WorldManifest.from_json(safejson.loads(path.read_text()))
    except (OSError, ValueError, ConfigError):
        return None
    if (mine.chain_id, mine.genesis_hash, mine.contracts, mine.tokens) != (
        found.chain_id,
        found.genesis_hash,
        found.contracts,
        found.tokens,
    ):
        return None
    return mine


def find_redpacket(rpc: RpcClient) -> str | None:
    """walletim's red-packet contract on the node behind ``rpc`` (any chain: it is ownerless
    and has the same address and runtime code everywhere), or None when the code at its
    address is not the pinned one. Raises RpcError when the node cannot be asked."""
    from walletim.app.world_pins import REDPACKET

    address, expected = REDPACKET
    if code_hash(rpc.call("eth_getCode", [address, "latest"])) != expected:
        return None
    return address


def pins_text(rpc: RpcClient) -> str:
    """The source of :mod:`walletim.app.world_pins` for the world on the node behind ``rpc``
    (a fresh devnet where :func:`deploy_world` just ran): every address from the plan, every
    runtime code hash as the node answers it. Raises ConfigError, RpcError."""
    plan = plan_world()
    names = list(plan.addresses)
    codes = rpc.batch([("eth_getCode", [plan.addresses[n], "latest"]) for n in names])
    hashes = dict(zip(names, (code_hash(c) for c in codes), strict=True))
    missing = [n for n, h in hashes.items() if h is None]
    if missing:
        raise ConfigError(f"the world is not deployed on this node ({', '.join(missing)})")
    lines = [
        '"""The devnet world\'s addresses and runtime code hashes (keccak-256 of ``eth_getCode``).',
        "",
        "GENERATED by ``anvil-fixtures/pin_world.py`` from a deployment on a fresh Anvil: do not",
        "edit (tests/integration/test_world.py checks it against a new deployment). The world is",
        "deployed through the CREATE2 proxy, so each address follows from its init code; the",
        "runtime code of USDC, DAI, the router and the vault holds immutables (its own address,",
        "the chain id, constructor arguments), so these hashes hold on the devnet chain ids only,",
        'except RedPacket\'s: it has no immutables and is the same on every chain."""',
        "",
        "# name: (address, runtime code hash), on devnet chain ids only",
        "WORLD: dict[str, tuple[str, str]] = {",
    ]
    for n in names:
        if n != "RedPacket":
            lines += [f'    "{n}": (', f'        "{plan.addresses[n]}",', f'        "{hashes[n]}",']
            lines.append("    ),")
    lines += [
        "}",
        "",
        "# walletim's red-packet contract, on every chain",
        "REDPACKET = (",
        f'    "{plan.addresses["RedPacket"]}",',
        f'    "{hashes["RedPacket"]}",',
        ")",
        "",
    ]
    return "\n".join(lines)
