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
  :data:`RESERVES` (LTV, liquidation threshold and bonus, reserve factor, supply and borrow
  caps, liquidation protocol fee), variable-rate borrowing on, stable rate off;
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
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from walletim import safejson
from walletim.chain.rpc import RpcClient, quantity
from walletim.errors import ChainError, ConfigError, RpcError
from walletim.keys.hd import to_checksum_address

AAVE_ARTIFACTS = "node_modules/@aave/core-v3/artifacts/contracts/"
MARKET_ID = "walletim devnet"
DEAD = "0x000000000000000000000000000000000000dEaD"  # holds the seeded liquidity's aTokens
PRICE_DECIMALS = 8  # AaveOracle base currency: USD with 8 decimals (as Chainlink feeds)
RAY = 10**27
EIP1967_IMPLEMENTATION = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc"
CALL_GAS = 300_000  # most configuration calls use 50-120 k
PROXY_GAS = 1_500_000  # the provider making and initialising a proxy (~0.9 M)
INIT_RESERVES_GAS = 8_500_000  # three reserves: nine token proxies, each initialised (~6.9 M)
SUPPLY_GAS = 400_000  # a first supply (~0.23 M)

# The interest-rate strategies (DefaultReserveInterestRateStrategy, ray): Aave V3 Ethereum's
# shapes. (optimal usage, base variable, slope 1, slope 2, stable slope 1, stable slope 2,
# base stable offset, stable excess offset, optimal stable/total debt)
STRATEGIES: dict[str, tuple[float, ...]] = {
    "volatile": (0.80, 0.0, 0.033, 0.80, 0.04, 0.80, 0.02, 0.05, 0.20),
    "stable": (0.90, 0.0, 0.04, 0.60, 0.005, 0.60, 0.01, 0.08, 0.20),
}


@dataclass(frozen=True, slots=True)
class ReserveParams:
    """One reserve's risk parameters: basis points (LTV 8000 = 80 %; bonus 10500 = a 5 %
    bonus), caps in whole tokens, the price in USD with PRICE_DECIMALS."""

    symbol: str
    decimals: int
    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int
    reserve_factor: int
    supply_cap: int
    borrow_cap: int
    liquidation_protocol_fee: int
    strategy: str
    price: int
    seed: int  # whole tokens supplied at deployment


RESERVES = (
    ReserveParams("WETH", 18, 8000, 8250, 10500, 1500, 20_000, 16_000, 1000, "volatile",
                  3_000 * 10**PRICE_DECIMALS, 1_000),
    ReserveParams("USDC", 6, 7700, 8000, 10450, 1000, 50_000_000, 45_000_000, 1000, "stable",
                  10**PRICE_DECIMALS, 2_000_000),
    ReserveParams("DAI", 18, 7500, 8000, 10500, 1000, 50_000_000, 45_000_000, 1000, "stable",
                  10**PRICE_DECIMALS, 2_000_000),
)  # fmt: skip

LIBRARIES = (
    "SupplyLogic",
    "BorrowLogic",
    "LiquidationLogic",
    "EModeLogic",
    "BridgeLogic",
    "PoolLogic",
    "ConfiguratorLogic",
    "FlashLoanLogic",  # links BorrowLogic
)
PATHS = {
    **{n: f"protocol/libraries/logic/{n}.sol/{n}.json" for n in LIBRARIES},
    "PoolAddressesProvider": "protocol/configuration/PoolAddressesProvider.sol/"
    "PoolAddressesProvider.json",
    "ACLManager": "protocol/configuration/ACLManager.sol/ACLManager.json",
    "Pool": "protocol/pool/Pool.sol/Pool.json",
    "PoolConfigurator": "protocol/pool/PoolConfigurator.sol/PoolConfigurator.json",
    "AaveOracle": "misc/AaveOracle.sol/AaveOracle.json",
    "AaveProtocolDataProvider": "misc/AaveProtocolDataProvider.sol/AaveProtocolDataProvider.json",
    "MockAggregator": "mocks/oracle/CLAggregators/MockAggregator.sol/MockAggregator.json",
    "AToken": "protocol/tokenization/AToken.sol/AToken.json",
    "StableDebtToken": "protocol/tokenization/StableDebtToken.sol/StableDebtToken.json",
    "VariableDebtToken": "protocol/tokenization/VariableDebtToken.sol/VariableDebtToken.json",
    "DefaultReserveInterestRateStrategy": "protocol/pool/DefaultReserveInterestRateStrategy.sol/"
    "DefaultReserveInterestRateStrategy.json",
}
INIT_RESERVE = (
    "(address,address,address,uint8,address,address,address,address,"
    "string,string,string,string,string,string,bytes)"
)


# -- artifacts -------------------------------------------------------------------------------


def _roots() -> list[Path]:
    here = Path(__file__).resolve()
    roots = [here.parents[3], Path.cwd()]
    return [r for n, r in enumerate(roots) if r not in roots[:n]]


def _artifact(name: str) -> dict[str, Any]:
    relative = AAVE_ARTIFACTS + PATHS[name]
    for root in _roots():
        path = root / relative
        if path.exists():
            try:
                doc = safejson.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigError(f"cannot read {path}: {exc}") from exc
            if not isinstance(doc, dict) or not isinstance(doc.get("bytecode"), str):
                raise ConfigError(f"{path} is not a Hardhat build artifact")
            return doc
    raise ConfigError(f"{relative} not found: run `make setup` (npm installs @aave/core-v3)")


def linked_bytecode(name: str, libraries: dict[str, str]) -> bytes:
    """The creation bytecode of the artifact ``name`` with every library it links replaced by
    its address in ``libraries`` (Hardhat ``linkReferences``: byte offsets of 20-byte holes).

    Raises:
        ConfigError: the artifact is missing or malformed, or names a library not given.
    """
    doc = _artifact(name)
    text = str(doc["bytecode"])
    hexcode = list(text[2:] if text.startswith("0x") else text)  # holes are `__$..$__` text
    refs = doc.get("linkReferences") or {}
    for by_name in refs.values():
        for lib, spots in by_name.items():
            if lib not in libraries:
                raise ConfigError(f"{name} links {lib}, which is not deployed first")
            raw = to_checksum_address(libraries[lib])[2:].lower()
            for spot in spots:
                start, length = int(spot["start"]), int(spot["length"])
                if length != 20 or 2 * (start + 20) > len(hexcode):
                    raise ConfigError(f"{name}: a malformed link reference to {lib}")
                hexcode[2 * start : 2 * start + 40] = raw
    try:
        code = bytes.fromhex("".join(hexcode))
    except ValueError as exc:
        raise ConfigError(f"{name} links a library walletim does not know") from exc
    return code


# -- encoding --------------------------------------------------------------------------------


def _types(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1 : signature.rindex(")")]
    out, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur:
        out.append(cur)
    return out


def encode_call(signature: str, *args: Any) -> bytes:
    """Calldata of ``signature`` (canonical types, tuples as ``(a,b)``) with ``args``."""
    from eth_abi.abi import encode
    from eth_utils.abi import function_signature_to_4byte_selector

    return bytes(function_signature_to_4byte_selector(signature)) + encode(
        _types(signature), list(args)
    )


def _ctor(code: bytes, types: list[str], args: list[Any]) -> bytes:
    from eth_abi.abi import encode

    return code + (encode(types, args) if types else b"")


def _ray(fraction: float) -> int:
    return round(fraction * 10_000) * RAY // 10_000


def feed_salt(symbol: str) -> bytes:
    """The CREATE2 salt of an asset's price feed (the feeds' init codes can be equal)."""
    from walletim.keys.hd import keccak256

    return keccak256(f"walletim aave price feed {symbol}".encode())


def deploy_gas(init_code: bytes) -> int:
    """A gas limit for a CREATE2 of ``init_code`` through the proxy: its calldata, the code
    it stores (at most the init code's size, 200 gas a byte) and room for a constructor.
    Tight limits let the node pack the deployment into few blocks."""
    return 100_000 + 16 * len(init_code) + 200 * len(init_code) + 300_000


# -- the plan --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AavePlan:
    """The deployment's transactions in order, all from ``sender``. ``addresses`` names every
    contract it makes (the reserves' token proxies are read from the Pool afterwards)."""

    sender: str
    txs: tuple[dict[str, Any], ...]
    addresses: dict[str, str]
    deployments: dict[str, int] = field(default_factory=dict)


def plan_aave(tokens: dict[str, str]) -> AavePlan:
    """Build the deployment for the world's ``tokens`` (symbol -> address: WETH, USDC, DAI).
    No I/O but reading the artifacts. Raises ConfigError."""
    from walletim.app.world import ANVIL_ACCOUNT_0, PROXY, SALT, create2_address, create_address
    from walletim.keys.hd import keccak256

    owner = ANVIL_ACCOUNT_0
    txs: list[dict[str, Any]] = []
    addresses: dict[str, str] = {}
    deployments: dict[str, int] = {}

    def deploy(name: str, init_code: bytes, salt: bytes = SALT) -> str:
        deployments[name] = len(txs)
        txs.append({"to": PROXY, "data": salt + init_code, "gas": deploy_gas(init_code)})
        addresses[name] = create2_address(PROXY, salt, keccak256(init_code))
        return addresses[name]

    def call(to: str, signature: str, *args: Any, value: int = 0, gas: int = CALL_GAS) -> None:
        txs.append({"to": to, "data": encode_call(signature, *args), "gas": gas, "value": value})

    libs: dict[str, str] = {}
    for lib in LIBRARIES:
        libs[lib] = deploy(lib, linked_bytecode(lib, libs))
    provider = deploy(
        "PoolAddressesProvider",
        _ctor(
            linked_bytecode("PoolAddressesProvider", {}), ["string", "address"], [MARKET_ID, owner]
        ),
    )
    call(provider, "setACLAdmin(address)", owner)
    acl = deploy("ACLManager", _ctor(linked_bytecode("ACLManager", {}), ["address"], [provider]))
    call(provider, "setACLManager(address)", acl)
    for role in ("addPoolAdmin", "addAssetListingAdmin", "addRiskAdmin", "addEmergencyAdmin"):
        call(acl, f"{role}(address)", owner)
    pool_impl = deploy("PoolImpl", _ctor(linked_bytecode("Pool", libs), ["address"], [provider]))
    call(pool_impl, "initialize(address)", provider)  # nobody can initialise it later
    call(provider, "setPoolImpl(address)", pool_impl, gas=PROXY_GAS)
    pool = addresses["Pool"] = create_address(provider, 1)  # the provider's first CREATE
    configurator_impl = deploy("PoolConfiguratorImpl", linked_bytecode("PoolConfigurator", libs))
    call(configurator_impl, "initialize(address)", provider)
    call(provider, "setPoolConfiguratorImpl(address)", configurator_impl, gas=PROXY_GAS)
    configurator = addresses["PoolConfigurator"] = create_address(provider, 2)

    feed_code = linked_bytecode("MockAggregator", {})
    feeds = [
        deploy(
            f"PriceFeed:{r.symbol}", _ctor(feed_code, ["int256"], [r.price]), feed_salt(r.symbol)
        )
        for r in RESERVES
    ]
    assets = [to_checksum_address(tokens[r.symbol]) for r in RESERVES]
    zero = "0x" + "00" * 20
    oracle = deploy(
        "AaveOracle",
        _ctor(
            linked_bytecode("AaveOracle", {}),
            ["address", "address[]", "address[]", "address", "address", "uint256"],
            [provider, assets, feeds, zero, zero, 10**PRICE_DECIMALS],
        ),
    )
    call(provider, "setPriceOracle(address)", oracle)
    data_provider = deploy(
        "AaveProtocolDataProvider",
        _ctor(linked_bytecode("AaveProtocolDataProvider", {}), ["address"], [provider]),
    )
    call(provider, "setPoolDataProvider(address)", data_provider)

    impls = {}
    for kind in ("AToken", "StableDebtToken", "VariableDebtToken"):
        impls[kind] = deploy(f"{kind}Impl", _ctor(linked_bytecode(kind, {}), ["address"], [pool]))
    call(
        impls["AToken"],
        "initialize(address,address,address,address,uint8,string,string,bytes)",
        pool, zero, zero, zero, 0, "ATOKEN_IMPL", "ATOKEN_IMPL", b"",
    )  # fmt: skip
    for kind in ("StableDebtToken", "VariableDebtToken"):
        call(
            impls[kind],
            "initialize(address,address,address,uint8,string,string,bytes)",
            pool, zero, zero, 0, f"{kind}_IMPL", f"{kind}_IMPL", b"",
        )  # fmt: skip
    strategies = {}
    strategy_code = linked_bytecode("DefaultReserveInterestRateStrategy", {})
    for name, shape in STRATEGIES.items():
        strategies[name] = deploy(
            f"RateStrategy:{name}",
            _ctor(strategy_code, ["address"] + ["uint256"] * 9, [provider, *map(_ray, shape)]),
        )

    inputs = [
        (
            impls["AToken"],
            impls["StableDebtToken"],
            impls["VariableDebtToken"],
            r.decimals,
            strategies[r.strategy],
            tokens[r.symbol],
            owner,
            zero,
            f"Aave walletim {r.symbol}",
            f"aWim{r.symbol}",
            f"Aave walletim Variable Debt {r.symbol}",
            f"variableDebtWim{r.symbol}",
            f"Aave walletim Stable Debt {r.symbol}",
            f"stableDebtWim{r.symbol}",
            b"",
        )
        for r in RESERVES
    ]
    call(configurator, f"initReserves({INIT_RESERVE}[])", inputs, gas=INIT_RESERVES_GAS)
    for r in RESERVES:
        asset = tokens[r.symbol]
        call(
            configurator,
            "configureReserveAsCollateral(address,uint256,uint256,uint256)",
            asset, r.ltv, r.liquidation_threshold, r.liquidation_bonus,
        )  # fmt: skip
        call(configurator, "setReserveBorrowing(address,bool)", asset, True)
        call(configurator, "setReserveFactor(address,uint256)", asset, r.reserve_factor)
        call(configurator, "setSupplyCap(address,uint256)", asset, r.supply_cap)
        call(configurator, "setBorrowCap(address,uint256)", asset, r.borrow_cap)
        call(
            configurator,
            "setLiquidationProtocolFee(address,uint256)",
            asset,
            r.liquidation_protocol_fee,
        )

    # Seed liquidity, supplied for 0x…dEaD: account 0 wraps and mints it, approves exactly.
    for r in RESERVES:
        asset, amount = tokens[r.symbol], r.seed * 10**r.decimals
        if r.symbol == "WETH":
            call(asset, "deposit()", value=amount, gas=100_000)
        else:
            call(asset, "mint(address,uint256)", owner, amount, gas=200_000)
        call(asset, "approve(address,uint256)", pool, amount, gas=100_000)
        call(pool, "supply(address,uint256,address,uint16)", asset, amount, DEAD, 0, gas=SUPPLY_GAS)
    addresses.update({"Pool": pool, "PoolConfigurator": configurator})
    return AavePlan(owner, tuple(txs), addresses, deployments)


# -- what is deployed ------------------------------------------------------------------------


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

    @property
    def pool(self) -> str:
        return self.contracts["Pool"]

    @property
    def provider(self) -> str:
        return self.contracts["PoolAddressesProvider"]

    @property
    def oracle(self) -> str:
        return self.contracts["AaveOracle"]

    @property
    def configurator(self) -> str:
        return self.contracts["PoolConfigurator"]

    @property
    def data_provider(self) -> str:
        return self.contracts["AaveProtocolDataProvider"]

    def names(self) -> dict[str, str]:
        """Checksummed address -> a name to show (``Aave Pool``, ``Aave aToken WETH``, ...)."""
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

    def to_json(self) -> dict[str, Any]:
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


def _market(chain_id: int, contracts: dict[str, str], tokens: dict[str, str]) -> AaveMarket:
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


def _world_tokens(rpc: RpcClient) -> tuple[int, dict[str, str]]:
    """(chain id, {WETH, USDC, DAI: address}) of the devnet world on the node.

    Raises:
        ChainError: no devnet world there (Aave lists its tokens).
    """
    from walletim.app.world import load_world

    world = load_world(None, rpc)
    if world is None:
        raise ChainError(
            "the devnet world (WETH, USDC, DAI) is not on this node: Aave lists its tokens, "
            "so deploy the world first (walletim devnet world)"
        )
    return world.chain_id, {s: world.tokens[s].address for s in ("WETH", "USDC", "DAI")}


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
    from walletim.app.world import DEVNET_CHAIN_IDS, code_hash

    started = time.perf_counter()
    chain_id = rpc.chain_id()
    if chain_id not in DEVNET_CHAIN_IDS:
        raise ConfigError(f"Aave's devnet deployment is for a devnet, not chain {chain_id}")
    _chain, tokens = _world_tokens(rpc)
    found = load_aave(rpc)
    if found is not None:
        return found
    names = list(AAVE)
    codes = rpc.batch([("eth_getCode", [AAVE[n][0], "latest"]) for n in names])
    present = [n for n, c in zip(names, codes, strict=True) if code_hash(c) is not None]
    if present:
        raise ChainError(
            f"part of Aave's devnet deployment is on this node ({', '.join(present[:4])}"
            f"{', ...' if len(present) > 4 else ''}) but not all of it, or not as pinned: "
            "start a fresh devnet"
        )
    plan = plan_aave(tokens)
    sent = send_plan(rpc, plan.sender, plan.txs)
    market = load_aave(rpc)
    if market is None:
        raise ChainError(
            "Aave was deployed but does not match walletim/app/lending/pins.py (regenerate it "
            "with anvil-fixtures/pin_aave.py after changing the deployment)"
        )
    return AaveMarket(
        market.chain_id, market.contracts, market.reserves, time.perf_counter() - started, sent
    )


def send_plan(rpc: RpcClient, sender: str, txs: Sequence[dict[str, Any]]) -> int:
    """Send a plan's transactions (``to``, ``data``, ``gas``, ``value``) from the unlocked
    ``sender`` in batches that each fit a block, and wait until all are mined (automine held
    while sending, then restored). Returns how many were sent.

    Raises:
        ChainError: the node refused one, or one failed.
    """
    from walletim.app.world import ensure_proxy, wait_receipts

    ensure_proxy(rpc)
    limit = _gas_limit(rpc)
    chunks: list[list[dict[str, Any]]] = [[]]
    used = 0
    for tx in txs:  # each chunk fits one block: the node drops what a block cannot hold
        if chunks[-1] and used + tx["gas"] > limit:
            chunks.append([])
            used = 0
        chunks[-1].append(tx)
        used += tx["gas"]
    automine = _automine(rpc)
    if automine:
        rpc.call("evm_setAutomine", [False])
    receipts: list[dict[str, Any]] = []
    try:
        nonce = rpc.get_transaction_count(sender, "pending")
        for chunk in chunks:
            hashes = _send_all(rpc, sender, chunk, nonce)
            nonce += len(chunk)
            receipts += wait_receipts(rpc, hashes, mine=automine is not None)
    finally:
        if automine:
            rpc.call("evm_setAutomine", [True])
    for n, receipt in enumerate(receipts):
        if receipt.get("status") != "0x1":
            raise ChainError(f"deploying Aave failed at transaction {n + 1} of {len(txs)}")
    return len(txs)


def _gas_limit(rpc: RpcClient) -> int:
    block = rpc.get_block("latest")
    return quantity((block or {}).get("gasLimit", "0x1c9c380"), "gasLimit")


def _automine(rpc: RpcClient) -> bool | None:
    """Whether the node mines each transaction as it arrives; None: not an Anvil."""
    try:
        return bool(rpc.call("anvil_getAutomine"))
    except RpcError:
        return None


def _send_all(rpc: RpcClient, sender: str, txs: list[dict[str, Any]], nonce: int) -> list[str]:
    """``eth_sendTransaction`` every tx from the unlocked ``sender`` in one batch."""
    calls = [
        (
            "eth_sendTransaction",
            [
                {
                    "from": sender,
                    "to": tx["to"],
                    "nonce": hex(nonce + n),
                    "gas": hex(tx["gas"]),
                    "data": "0x" + tx["data"].hex(),
                    "value": hex(tx.get("value", 0)),
                }
            ],
        )
        for n, tx in enumerate(txs)
    ]
    hashes = []
    for n, result in enumerate(rpc.batch(calls)):
        if isinstance(result, RpcError):
            raise ChainError(
                f"the node refused Aave transaction {n + 1} of {len(txs)} ({result}); is it an "
                "Anvil devnet with its default accounts?"
            )
        hashes.append(str(result))
    return hashes


# -- finding it ------------------------------------------------------------------------------


def load_aave(rpc: RpcClient, *, chain_id: int | None = None) -> AaveMarket | None:
    """Aave V3 on the node behind ``rpc``, recognised by the pinned addresses, runtime code
    hashes and proxy implementation slots (:mod:`walletim.app.lending.pins`); None when the
    node is not on a devnet chain id (or not on ``chain_id``), the devnet world is not there,
    or any pinned contract is missing or different. Raises nothing for an unreachable node."""
    from walletim.app.lending.pins import AAVE, IMPLEMENTATIONS
    from walletim.app.world import DEVNET_CHAIN_IDS, code_hash

    if not AAVE:
        return None
    try:
        node_chain = quantity(rpc.call("eth_chainId"), "eth_chainId")
    except RpcError:
        return None
    if node_chain not in DEVNET_CHAIN_IDS or chain_id not in (None, node_chain):
        return None
    try:
        _chain, tokens = _world_tokens(rpc)
    except ChainError:
        return None
    names = list(AAVE)
    proxies = list(IMPLEMENTATIONS)
    calls: list[tuple[str, list[Any]]] = [("eth_getCode", [AAVE[n][0], "latest"]) for n in names]
    calls += [("eth_getStorageAt", [AAVE[p][0], EIP1967_IMPLEMENTATION, "latest"]) for p in proxies]
    try:
        answers = rpc.batch(calls)
    except RpcError:
        return None
    for name, code in zip(names, answers[: len(names)], strict=True):
        if code_hash(code) != AAVE[name][1]:
            return None
    for proxy, slot in zip(proxies, answers[len(names) :], strict=True):
        if not isinstance(slot, str) or len(slot) != 66:
            return None
        expected = AAVE[IMPLEMENTATIONS[proxy]][0]
        if to_checksum_address("0x" + slot[-40:]) != expected:
            return None
    return _market(node_chain, {n: a for n, (a, _h) in AAVE.items()}, tokens)


# -- pins ------------------------------------------------------------------------------------


def pins_text(rpc: RpcClient) -> str:
    """The source of :mod:`walletim.app.lending.pins` for the deployment on the node behind
    ``rpc`` (a fresh devnet where ``deploy_world`` and :func:`deploy_aave` just ran): the
    planned addresses, the reserves' token proxies as the Pool reports them, every runtime
    code hash as the node answers it. Raises ConfigError, ChainError, RpcError."""
    from eth_abi.abi import decode

    from walletim.app.world import code_hash

    _chain, tokens = _world_tokens(rpc)
    plan = plan_aave(tokens)
    names = dict(plan.addresses)
    for r in RESERVES:
        raw = rpc.call(
            "eth_call",
            [
                {
                    "to": names["Pool"],
                    "data": "0x" + encode_call("getReserveData(address)", tokens[r.symbol]).hex(),
                },
                "latest",
            ],
        )
        words = decode(["uint256"] * 15, bytes.fromhex(str(raw)[2:]))
        names[f"AToken:{r.symbol}"] = to_checksum_address(f"0x{words[8]:040x}")
        names[f"StableDebtToken:{r.symbol}"] = to_checksum_address(f"0x{words[9]:040x}")
        names[f"VariableDebtToken:{r.symbol}"] = to_checksum_address(f"0x{words[10]:040x}")
    order = list(names)
    codes = rpc.batch([("eth_getCode", [names[n], "latest"]) for n in order])
    hashes = dict(zip(order, (code_hash(c) for c in codes), strict=True))
    missing = [n for n, h in hashes.items() if h is None]
    if missing:
        raise ConfigError(f"Aave is not deployed on this node ({', '.join(missing)})")
    implementations = {"Pool": "PoolImpl", "PoolConfigurator": "PoolConfiguratorImpl"}
    for r in RESERVES:
        for kind in ("AToken", "StableDebtToken", "VariableDebtToken"):
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
