"""The plan of Aave V3's devnet deployment (no I/O but reading the artifacts): the published
``@aave/core-v3`` 1.19.3 build artifacts with their logic libraries linked by their
``linkReferences`` (no recompiling), the reserves' risk parameters, and every transaction in
order, built with the world's :class:`~walletim.app.world.Builder` (CREATE2 through the
deterministic deployment proxy). See :mod:`walletim.app.lending.deploy` for what it deploys.
"""

from __future__ import annotations

from dataclasses import dataclass

from walletim.app.world import ANVIL_ACCOUNT_0, SALT, Builder, artifact, create_address, init_code
from walletim.chain.anvil import UnsignedTx
from walletim.contracts.abi import calldata
from walletim.errors import ConfigError
from walletim.keys.hd import keccak256, to_checksum_address

AAVE_ARTIFACTS = "node_modules/@aave/core-v3/artifacts/contracts/"
MARKET_ID = "walletim devnet"
DEAD = "0x000000000000000000000000000000000000dEaD"  # holds the seeded liquidity's aTokens
ZERO = "0x" + "00" * 20
PRICE_DECIMALS = 8  # AaveOracle base currency: USD with 8 decimals (as Chainlink feeds)
RAY = 10**27
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
TOKEN_KINDS = ("AToken", "StableDebtToken", "VariableDebtToken")


# -- artifacts -------------------------------------------------------------------------------


def linked_bytecode(name: str, libraries: dict[str, str]) -> bytes:
    """The creation bytecode of the artifact ``name`` with every library it links replaced by
    its address in ``libraries`` (Hardhat ``linkReferences``: byte offsets of 20-byte holes).

    Raises:
        ConfigError: the artifact is missing or malformed, or names a library not given.
    """
    relative = AAVE_ARTIFACTS + PATHS[name]
    try:
        doc = artifact(relative)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (npm installs @aave/core-v3)") from exc
    text = doc.get("bytecode")
    if not isinstance(text, str):
        raise ConfigError(f"{relative} is not a Hardhat build artifact")
    hexcode = list(text[2:] if text.startswith("0x") else text)  # holes are `__$..$__` text
    refs = doc.get("linkReferences") or {}
    for by_name in refs.values() if isinstance(refs, dict) else ():
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
        return bytes.fromhex("".join(hexcode))
    except ValueError as exc:
        raise ConfigError(f"{name} links a library walletim does not know") from exc


def _ray(fraction: float) -> int:
    return round(fraction * 10_000) * RAY // 10_000


def feed_salt(symbol: str) -> bytes:
    """The CREATE2 salt of an asset's price feed (the feeds' init codes can be equal)."""
    return keccak256(f"walletim aave price feed {symbol}".encode())


def deploy_gas(code: bytes) -> int:
    """A gas limit for a CREATE2 of ``code`` through the proxy: its calldata, the code it
    stores (at most the init code's size, 200 gas a byte) and room for a constructor.
    Tight limits let the node pack the deployment into few blocks."""
    return 100_000 + 16 * len(code) + 200 * len(code) + 300_000


# -- the plan --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AavePlan:
    """The deployment's transactions in order, all from ``sender``. ``addresses`` names every
    contract it makes (the reserves' token proxies are read from the Pool afterwards);
    ``deployments`` which transaction deploys which contract."""

    sender: str
    txs: tuple[UnsignedTx, ...]
    addresses: dict[str, str]
    deployments: dict[str, int]


class _Plan:
    """The deployment being built: the transactions and the addresses they make."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.b = Builder(ANVIL_ACCOUNT_0, CALL_GAS)
        self.owner = self.b.owner
        self.tokens = tokens
        self.at: dict[str, str] = {}

    def deploy(self, name: str, code: bytes, salt: bytes = SALT) -> str:
        self.at[name] = self.b.deploy(name, code, salt=salt, gas=deploy_gas(code))
        return self.at[name]

    def call(
        self, to: str, signature: str, *args: object, value: int = 0, gas: int = CALL_GAS
    ) -> None:
        self.b.call(to, calldata(signature, *args), value, gas)

    def made(self, name: str, code_name: str, types: list[str], args: list[object]) -> str:
        """Deploy the artifact ``code_name`` (no libraries) with constructor ``args``."""
        return self.deploy(name, init_code(linked_bytecode(code_name, {}), types, args))


def _core(p: _Plan) -> tuple[str, str]:
    """The libraries, the provider, the ACL, the Pool and its configurator (proxies made by
    the provider); (provider, pool)."""
    libs: dict[str, str] = {}
    for lib in LIBRARIES:
        libs[lib] = p.deploy(lib, linked_bytecode(lib, libs))
    provider = p.made(
        "PoolAddressesProvider",
        "PoolAddressesProvider",
        ["string", "address"],
        [MARKET_ID, p.owner],
    )
    p.call(provider, "setACLAdmin(address)", p.owner)
    acl = p.made("ACLManager", "ACLManager", ["address"], [provider])
    p.call(provider, "setACLManager(address)", acl)
    for role in ("addPoolAdmin", "addAssetListingAdmin", "addRiskAdmin", "addEmergencyAdmin"):
        p.call(acl, f"{role}(address)", p.owner)
    pool_impl = p.deploy(
        "PoolImpl", init_code(linked_bytecode("Pool", libs), ["address"], [provider])
    )
    p.call(pool_impl, "initialize(address)", provider)  # nobody can initialise it later
    p.call(provider, "setPoolImpl(address)", pool_impl, gas=PROXY_GAS)
    pool = p.at["Pool"] = create_address(provider, 1)  # the provider's first CREATE
    configurator_impl = p.deploy("PoolConfiguratorImpl", linked_bytecode("PoolConfigurator", libs))
    p.call(configurator_impl, "initialize(address)", provider)
    p.call(provider, "setPoolConfiguratorImpl(address)", configurator_impl, gas=PROXY_GAS)
    p.at["PoolConfigurator"] = create_address(provider, 2)
    return provider, pool


def _oracle(p: _Plan, provider: str) -> None:
    """A MockAggregator per asset, the AaveOracle over them, the data provider."""
    feed_code = linked_bytecode("MockAggregator", {})
    feeds = [
        p.deploy(
            f"PriceFeed:{r.symbol}",
            init_code(feed_code, ["int256"], [r.price]),
            feed_salt(r.symbol),
        )
        for r in RESERVES
    ]
    assets = [to_checksum_address(p.tokens[r.symbol]) for r in RESERVES]
    oracle = p.made(
        "AaveOracle",
        "AaveOracle",
        ["address", "address[]", "address[]", "address", "address", "uint256"],
        [provider, assets, feeds, ZERO, ZERO, 10**PRICE_DECIMALS],
    )
    p.call(provider, "setPriceOracle(address)", oracle)
    data_provider = p.made(
        "AaveProtocolDataProvider", "AaveProtocolDataProvider", ["address"], [provider]
    )
    p.call(provider, "setPoolDataProvider(address)", data_provider)


def _implementations(p: _Plan, provider: str, pool: str) -> tuple[dict[str, str], dict[str, str]]:
    """The token implementations (initialised: nobody can later) and the rate strategies."""
    impls = {kind: p.made(f"{kind}Impl", kind, ["address"], [pool]) for kind in TOKEN_KINDS}
    p.call(
        impls["AToken"],
        "initialize(address,address,address,address,uint8,string,string,bytes)",
        pool,
        ZERO,
        ZERO,
        ZERO,
        0,
        "ATOKEN_IMPL",
        "ATOKEN_IMPL",
        b"",
    )
    for kind in ("StableDebtToken", "VariableDebtToken"):
        p.call(
            impls[kind],
            "initialize(address,address,address,uint8,string,string,bytes)",
            pool,
            ZERO,
            ZERO,
            0,
            f"{kind}_IMPL",
            f"{kind}_IMPL",
            b"",
        )
    strategy_code = linked_bytecode("DefaultReserveInterestRateStrategy", {})
    strategies = {
        name: p.deploy(
            f"RateStrategy:{name}",
            init_code(strategy_code, ["address"] + ["uint256"] * 9, [provider, *map(_ray, shape)]),
        )
        for name, shape in STRATEGIES.items()
    }
    return impls, strategies


def _reserves(p: _Plan, impls: dict[str, str], strategies: dict[str, str]) -> None:
    """The three reserves (PoolConfigurator.initReserves) and their risk parameters."""
    configurator = p.at["PoolConfigurator"]
    inputs = [
        (
            impls["AToken"],
            impls["StableDebtToken"],
            impls["VariableDebtToken"],
            r.decimals,
            strategies[r.strategy],
            p.tokens[r.symbol],
            p.owner,
            ZERO,
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
    p.call(configurator, f"initReserves({INIT_RESERVE}[])", inputs, gas=INIT_RESERVES_GAS)
    for r in RESERVES:
        asset = p.tokens[r.symbol]
        p.call(
            configurator,
            "configureReserveAsCollateral(address,uint256,uint256,uint256)",
            asset,
            r.ltv,
            r.liquidation_threshold,
            r.liquidation_bonus,
        )
        p.call(configurator, "setReserveBorrowing(address,bool)", asset, True)
        p.call(configurator, "setReserveFactor(address,uint256)", asset, r.reserve_factor)
        p.call(configurator, "setSupplyCap(address,uint256)", asset, r.supply_cap)
        p.call(configurator, "setBorrowCap(address,uint256)", asset, r.borrow_cap)
        p.call(
            configurator,
            "setLiquidationProtocolFee(address,uint256)",
            asset,
            r.liquidation_protocol_fee,
        )


def _seed(p: _Plan, pool: str) -> None:
    """Seed liquidity, supplied for 0x…dEaD: account 0 wraps and mints it, approves exactly."""
    for r in RESERVES:
        asset, amount = p.tokens[r.symbol], r.seed * 10**r.decimals
        if r.symbol == "WETH":
            p.call(asset, "deposit()", value=amount, gas=100_000)
        else:
            p.call(asset, "mint(address,uint256)", p.owner, amount, gas=200_000)
        p.call(asset, "approve(address,uint256)", pool, amount, gas=100_000)
        p.call(
            pool, "supply(address,uint256,address,uint16)", asset, amount, DEAD, 0, gas=SUPPLY_GAS
        )


def plan_aave(tokens: dict[str, str]) -> AavePlan:
    """Build the deployment for the world's ``tokens`` (symbol -> address: WETH, USDC, DAI).
    No I/O but reading the artifacts. Raises ConfigError."""
    p = _Plan(tokens)
    provider, pool = _core(p)
    _oracle(p, provider)
    impls, strategies = _implementations(p, provider, pool)
    _reserves(p, impls, strategies)
    _seed(p, pool)
    return AavePlan(p.owner, tuple(p.b.txs), p.at, p.b.deployments)


__all__ = [
    "DEAD",
    "PRICE_DECIMALS",
    "RESERVES",
    "STRATEGIES",
    "TOKEN_KINDS",
    "AavePlan",
    "ReserveParams",
    "deploy_gas",
    "feed_salt",
    "linked_bytecode",
    "plan_aave",
]
