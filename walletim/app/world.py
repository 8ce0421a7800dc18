"""The devnet's DeFi world: real protocol code deployed on a local Anvil, and its manifest.

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

Addresses are computed before sending (CREATE: deployer + nonce), so the whole deployment
goes to the node as one pipelined batch with explicit nonces and is mined in one block; on a
fresh Anvil the addresses are the same every time (see ``plan_world``) and the world is block 1.
The node's mining mode (automine, ``--no-mining``, ``--block-time``) is left as it was.

The manifest is written under the home (``HOME/worlds/<chain id>-<genesis hash>.json``) and
found again by the node's genesis block hash and the presence of its contracts' code (two
Anvils started in the same second share a genesis hash), so a manifest of an earlier devnet
is never applied to a new one. That is how USDC, DAI and WETH resolve by symbol.
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


def create_address(sender: str, nonce: int) -> str:
    """The address a CREATE from ``sender`` at ``nonce`` deploys to."""
    import rlp
    from eth_utils.crypto import keccak

    raw = bytes.fromhex(to_checksum_address(sender)[2:])
    return to_checksum_address("0x" + keccak(rlp.encode([raw, nonce]))[12:].hex())


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
    """The world's transactions in order (``to`` absent: a deployment) and the addresses
    they create, for ``deployer`` starting at ``nonce``."""

    deployer: str
    nonce: int
    txs: tuple[dict[str, Any], ...]
    addresses: dict[str, str]


def plan_world(deployer: str, nonce: int) -> WorldPlan:
    """Build the deployment (no I/O but reading the artifacts). Raises ConfigError."""
    deployer = to_checksum_address(deployer)
    weth_code = artifact_bytecode(UNISWAP_PERIPHERY + "WETH9.json")
    factory_code = artifact_bytecode(UNISWAP_CORE + "UniswapV2Factory.json")
    router_code = artifact_bytecode(UNISWAP_PERIPHERY + "UniswapV2Router02.json")
    token_code = artifact_bytecode(FIXTURES + "WalletimToken.json")
    vault_code = artifact_bytecode(FIXTURES + "WalletimVault.json")
    nft_code = artifact_bytecode(FIXTURES + "WalletimCollectibles.json")

    txs: list[dict[str, Any]] = []

    def deploy(code: bytes) -> str:
        address = create_address(deployer, nonce + len(txs))
        txs.append({"data": code, "gas": DEPLOY_GAS})
        return address

    def call(to: str, data: bytes, value: int = 0, gas: int = CALL_GAS) -> None:
        txs.append({"to": to, "data": data, "gas": gas, "value": value})

    weth = deploy(weth_code)
    usdc = deploy(
        _ctor(
            token_code, ["string", "string", "uint8", "address"], ["USD Coin", "USDC", 6, deployer]
        )
    )
    dai = deploy(
        _ctor(
            token_code,
            ["string", "string", "uint8", "address"],
            ["Dai Stablecoin", "DAI", 18, deployer],
        )
    )
    factory = deploy(_ctor(factory_code, ["address"], [deployer]))
    router = deploy(_ctor(router_code, ["address", "address"], [factory, weth]))
    vault = deploy(
        _ctor(vault_code, ["address", "string", "string"], [dai, "walletim DAI Vault", "wvDAI"])
    )
    nft = deploy(
        _ctor(
            nft_code,
            ["string", "string", "string", "address"],
            ["walletim Collectibles", "WIMC", "https://walletim.invalid/wimc/", deployer],
        )
    )
    usdc_pool = ETH_PRICE * POOL_ETH // 10**18 * 10**6
    dai_pool = ETH_PRICE * POOL_ETH
    call(usdc, _selector_call("mint(address,uint256)", deployer, usdc_pool + STABLE_POOL * 10**6))
    call(dai, _selector_call("mint(address,uint256)", deployer, dai_pool + STABLE_POOL * 10**18))
    for token in (usdc, dai):
        call(token, _selector_call("approve(address,uint256)", router, 2**256 - 1))
    add_eth = "addLiquidityETH(address,uint256,uint256,uint256,address,uint256)"
    # Each first deposit creates its pair (CREATE2 of the pair contract): deployment gas.
    call(
        router,
        _selector_call(add_eth, usdc, usdc_pool, 0, 0, deployer, FAR_DEADLINE),
        POOL_ETH,
        DEPLOY_GAS,
    )
    call(
        router,
        _selector_call(add_eth, dai, dai_pool, 0, 0, deployer, FAR_DEADLINE),
        POOL_ETH,
        DEPLOY_GAS,
    )
    add = "addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)"
    call(
        router,
        _selector_call(
            add, usdc, dai, STABLE_POOL * 10**6, STABLE_POOL * 10**18, 0, 0, deployer, FAR_DEADLINE
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
    redpacket = deploy(artifact_bytecode(FIXTURES + "RedPacket.json"))  # last: keeps addresses

    addresses = {"WETH": weth, "USDC": usdc, "DAI": dai, "UniswapV2Factory": factory}
    addresses.update({"UniswapV2Router02": router, "wvDAI": vault, "WIMC": nft})
    addresses["RedPacket"] = redpacket
    return WorldPlan(deployer, nonce, tuple(txs), addresses)


def deploy_world(rpc: RpcClient, *, deployer: str | None = None) -> WorldManifest:
    """Deploy the world (see the module docstring) from ``deployer``, an account the node
    has unlocked (default: Anvil's account 0), and return its manifest (not yet saved:
    :func:`save_world`).

    Raises:
        ConfigError: artifacts missing (run ``make setup``). ChainError: a transaction failed
        or the node is not an Anvil with that account unlocked.
    """
    started = time.perf_counter()
    deployer = to_checksum_address(deployer or ANVIL_ACCOUNT_0)
    plan = plan_world(deployer, rpc.get_transaction_count(deployer, "pending"))
    txs = list(plan.txs)
    weth, usdc, dai = (plan.addresses[k] for k in ("WETH", "USDC", "DAI"))
    factory, router = plan.addresses["UniswapV2Factory"], plan.addresses["UniswapV2Router02"]
    vault, nft = plan.addresses["wvDAI"], plan.addresses["WIMC"]
    # Automine would give each transaction its own block (and then mine empty blocks, one
    # per queued transaction): hold it while sending, then mine the batch in one block.
    automine = _automine(rpc)
    if automine:
        rpc.call("evm_setAutomine", [False])
    try:
        hashes = _send_all(rpc, deployer, plan.nonce, txs)
        receipts = wait_receipts(rpc, hashes, mine=automine is not None)
    finally:
        if automine:
            rpc.call("evm_setAutomine", [True])
    for n, receipt in enumerate(receipts):
        if receipt.get("status") != "0x1":
            raise ChainError(f"deploying the world failed at transaction {n + 1} of {len(txs)}")
    pairs = {}
    for name, a, b in (("WETH/USDC", weth, usdc), ("WETH/DAI", weth, dai), ("USDC/DAI", usdc, dai)):
        raw = rpc.call(
            "eth_call",
            [
                {
                    "to": factory,
                    "data": "0x" + _selector_call("getPair(address,address)", a, b).hex(),
                },
                "latest",
            ],
        )
        pairs[name] = to_checksum_address("0x" + str(raw)[-40:])
    contracts = {
        "WETH": weth,
        "USDC": usdc,
        "DAI": dai,
        "UniswapV2Factory": factory,
        "UniswapV2Router02": router,
        "wvDAI": vault,
        "WIMC": nft,
        "RedPacket": plan.addresses["RedPacket"],
        **pairs,
    }
    tokens = {
        "WETH": TokenInfo(weth, 18, "Wrapped Ether"),
        "USDC": TokenInfo(usdc, 6, "USD Coin"),
        "DAI": TokenInfo(dai, 18, "Dai Stablecoin"),
        "wvDAI": TokenInfo(vault, 18, "walletim DAI Vault"),
    }
    return WorldManifest(
        rpc.chain_id(),
        genesis_hash(rpc),
        deployer,
        quantity(receipts[-1].get("blockNumber"), "blockNumber"),
        contracts,
        tokens,
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


def _send_all(rpc: RpcClient, sender: str, nonce: int, txs: list[dict[str, Any]]) -> list[str]:
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


def load_world(home: Path, rpc: RpcClient) -> WorldManifest | None:
    """The manifest of the world on the node behind ``rpc``, if this home deployed one."""
    try:
        chain_id, block = rpc.batch([("eth_chainId", []), ("eth_getBlockByNumber", ["0x0", False])])
    except RpcError:
        return None
    if isinstance(chain_id, Exception) or not isinstance(block, dict):
        return None
    path = manifest_path(
        home, quantity(chain_id, "eth_chainId"), str(block.get("hash", "")).lower()
    )
    try:
        doc = safejson.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the world manifest {path}: {exc}") from exc
    manifest = WorldManifest.from_json(doc)
    # Two Anvils started in the same second share a genesis hash: the manifest only applies
    # if its contracts are really there.
    probes = [manifest.router, manifest.contracts["USDC"], manifest.nft]
    codes = rpc.batch([("eth_getCode", [a, "latest"]) for a in probes])
    if any(not isinstance(c, str) or len(c) <= 2 for c in codes):
        return None
    return manifest
