"""Deploying the devnet world (see :mod:`walletim.app.world`): the build artifacts, the
plan of its transactions, and sending them as one pipelined batch mined in one block.

Aave V3's deployment (:mod:`walletim.app.lending.deploy`) is built and sent with the same
pieces: :func:`artifact`, :func:`init_code`, :class:`Builder` and :func:`send_blocks`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from walletim import safejson
from walletim.app.world.manifest import (
    ANVIL_ACCOUNT_0,
    ANVIL_ACCOUNTS,
    DEVNET_CHAIN_IDS,
    POOLS,
    PROXY,
    PROXY_CODE,
    PROXY_DEPLOY_GAS,
    SALT,
    WorldManifest,
    _manifest,
    code_hash,
    code_hashes,
    genesis_hash,
    load_world,
    save_world,
)
from walletim.chain.anvil import Dev, UnsignedTx
from walletim.chain.rpc import Q, Receipt, RpcClient
from walletim.errors import ChainError, ConfigError, RpcError
from walletim.keys.hd import to_checksum_address
from walletim.retry import Backoff

FAUCET = {"USDC": 10_000 * 10**6, "DAI": 10_000 * 10**18}
ETH_PRICE = 3_000  # USDC and DAI per ETH in the seeded pools
POOL_ETH = 1_000 * 10**18  # in each of WETH/USDC and WETH/DAI (account 0 holds 10,000 ETH)
STABLE_POOL = 1_000_000  # USDC and DAI (whole units) in the USDC/DAI pool
NFTS = ((0, 3), (1, 2))  # (account index, how many)
DEPLOY_GAS = 6_000_000
CALL_GAS = 600_000
FAR_DEADLINE = 2**40
RECEIPT_TIMEOUT = 30.0


# -- artifacts ---------------------------------------------------------------------------------


def _roots() -> list[Path]:
    here = Path(__file__).resolve()  # walletim/app/world/deploy.py: the checkout is 3 up
    roots = [here.parents[3], Path.cwd()]
    return [r for n, r in enumerate(roots) if r not in roots[:n]]


def artifact(relative: str) -> dict[str, object]:
    """The JSON build artifact at ``relative`` (from the checkout or the current directory).
    Raises ConfigError."""
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
    doc = artifact(relative)
    code = doc.get("bytecode")
    if isinstance(code, dict):  # some builds nest it
        code = code.get("object")
    if not isinstance(code, str) or not code:
        raise ConfigError(f"{relative} has no bytecode")
    return bytes.fromhex(code[2:] if code.startswith("0x") else code)


UNISWAP_CORE = "node_modules/@uniswap/v2-core/build/"
UNISWAP_PERIPHERY = "node_modules/@uniswap/v2-periphery/build/"
FIXTURES = "anvil-fixtures/artifacts/"


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


def _selector_call(signature: str, *args: object) -> bytes:
    from eth_abi.abi import encode
    from eth_utils.abi import function_signature_to_4byte_selector

    inner = signature[signature.index("(") + 1 : -1]
    types = [t for t in inner.split(",") if t]
    return bytes(function_signature_to_4byte_selector(signature)) + encode(types, list(args))


def init_code(bytecode: bytes, types: list[str], args: list[object]) -> bytes:
    """Creation code with its constructor's arguments ABI-encoded after it."""
    from eth_abi.abi import encode

    return bytecode + (encode(types, args) if types else b"")


@dataclass(frozen=True, slots=True)
class WorldPlan:
    """The world's transactions in order, all from ``sender`` (Anvil's account 0); a
    deployment is a call to ``PROXY``. ``addresses`` holds every contract of the world, the
    pools included; ``deployments`` which transaction deploys which contract."""

    sender: str
    txs: tuple[UnsignedTx, ...]
    addresses: dict[str, str]
    deployments: dict[str, int]


def pair_address(factory: str, token_a: str, token_b: str, pair_init_code_hash: bytes) -> str:
    """UniswapV2Factory's CREATE2 address of the pair of two tokens (UniswapV2Library.pairFor)."""
    from walletim.keys.hd import keccak256

    t0, t1 = sorted((token_a, token_b), key=lambda x: int(x, 16))
    salt = keccak256(bytes.fromhex(t0[2:]) + bytes.fromhex(t1[2:]))
    return create2_address(factory, salt, pair_init_code_hash)


class Builder:
    """A deployment's transactions in order, all from ``owner`` (Anvil's account 0)."""

    def __init__(self, owner: str, call_gas: int = CALL_GAS) -> None:
        self.owner = owner
        self.call_gas = call_gas
        self.txs: list[UnsignedTx] = []
        self.deployments: dict[str, int] = {}

    def deploy(
        self, name: str, code: bytes, *, salt: bytes = SALT, gas: int = PROXY_DEPLOY_GAS
    ) -> str:
        """A CREATE2 of ``code`` through the proxy; the address it deploys to."""
        from walletim.keys.hd import keccak256

        self.deployments[name] = len(self.txs)
        self.txs.append(UnsignedTx(self.owner, PROXY, salt + code, 0, gas))
        return create2_address(PROXY, salt, keccak256(code))

    def call(self, to: str, data: bytes, value: int = 0, gas: int | None = None) -> None:
        self.txs.append(UnsignedTx(self.owner, to, data, value, gas or self.call_gas))


def _deploy_contracts(b: Builder) -> dict[str, str]:
    """Deploy WETH, the tokens, Uniswap V2, the vault, the NFTs and RedPacket; their
    addresses by name."""
    owner = b.owner
    token_code = artifact_bytecode(FIXTURES + "WalletimToken.json")
    token_args = ["string", "string", "uint8", "address"]
    weth = b.deploy("WETH", artifact_bytecode(UNISWAP_PERIPHERY + "WETH9.json"))
    usdc = b.deploy("USDC", init_code(token_code, token_args, ["USD Coin", "USDC", 6, owner]))
    dai = b.deploy("DAI", init_code(token_code, token_args, ["Dai Stablecoin", "DAI", 18, owner]))
    factory_code = artifact_bytecode(UNISWAP_CORE + "UniswapV2Factory.json")
    factory = b.deploy("UniswapV2Factory", init_code(factory_code, ["address"], [owner]))
    router_code = artifact_bytecode(UNISWAP_PERIPHERY + "UniswapV2Router02.json")
    router = b.deploy(
        "UniswapV2Router02", init_code(router_code, ["address", "address"], [factory, weth])
    )
    vault = b.deploy(
        "wvDAI",
        init_code(
            artifact_bytecode(FIXTURES + "WalletimVault.json"),
            ["address", "string", "string"],
            [dai, "walletim DAI Vault", "wvDAI"],
        ),
    )
    nft = b.deploy(
        "WIMC",
        init_code(
            artifact_bytecode(FIXTURES + "WalletimCollectibles.json"),
            ["string", "string", "string", "address"],
            ["walletim Collectibles", "WIMC", "https://walletim.invalid/wimc/", owner],
        ),
    )
    redpacket = b.deploy("RedPacket", artifact_bytecode(FIXTURES + "RedPacket.json"))
    return {
        "WETH": weth, "USDC": usdc, "DAI": dai, "UniswapV2Factory": factory,
        "UniswapV2Router02": router, "wvDAI": vault, "WIMC": nft, "RedPacket": redpacket,
    }  # fmt: skip


def _seed(b: Builder, at: dict[str, str]) -> None:
    """Fill the pools (leaving no allowance behind), then the faucet and the NFTs."""
    owner, usdc, dai, router = b.owner, at["USDC"], at["DAI"], at["UniswapV2Router02"]
    usdc_pool = ETH_PRICE * POOL_ETH // 10**18 * 10**6
    dai_pool = ETH_PRICE * POOL_ETH
    b.call(usdc, _selector_call("mint(address,uint256)", owner, usdc_pool + STABLE_POOL * 10**6))
    b.call(dai, _selector_call("mint(address,uint256)", owner, dai_pool + STABLE_POOL * 10**18))
    for token in (usdc, dai):
        b.call(token, _selector_call("approve(address,uint256)", router, 2**256 - 1))
    add_eth = "addLiquidityETH(address,uint256,uint256,uint256,address,uint256)"
    # Each first deposit creates its pair (CREATE2 of the pair contract): deployment gas.
    for token, amount in ((usdc, usdc_pool), (dai, dai_pool)):
        data = _selector_call(add_eth, token, amount, 0, 0, owner, FAR_DEADLINE)
        b.call(router, data, POOL_ETH, DEPLOY_GAS)
    add = "addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)"
    stable = (STABLE_POOL * 10**6, STABLE_POOL * 10**18)
    data = _selector_call(add, usdc, dai, *stable, 0, 0, owner, FAR_DEADLINE)
    b.call(router, data, gas=DEPLOY_GAS)
    for token in (usdc, dai):
        b.call(token, _selector_call("approve(address,uint256)", router, 0))
    for account in ANVIL_ACCOUNTS:
        b.call(usdc, _selector_call("mint(address,uint256)", account, FAUCET["USDC"]))
        b.call(dai, _selector_call("mint(address,uint256)", account, FAUCET["DAI"]))
    for index, count in NFTS:
        for _ in range(count):
            b.call(at["WIMC"], _selector_call("mint(address)", ANVIL_ACCOUNTS[index]))


def plan_world() -> WorldPlan:
    """Build the deployment (no I/O but reading the artifacts). Raises ConfigError."""
    from walletim.keys.hd import keccak256

    b = Builder(ANVIL_ACCOUNT_0)
    addresses = _deploy_contracts(b)
    _seed(b, addresses)
    pair_hash = keccak256(artifact_bytecode(UNISWAP_CORE + "UniswapV2Pair.json"))
    for name, x, y in POOLS:
        addresses[name] = pair_address(
            addresses["UniswapV2Factory"], addresses[x], addresses[y], pair_hash
        )
    return WorldPlan(b.owner, tuple(b.txs), addresses, b.deployments)


def ensure_proxy(rpc: RpcClient) -> None:
    """Make sure the deterministic deployment proxy is on the node: Anvil preinstalls it; a
    devnet without it is given it (Anvil sets code at an address on request).

    Raises:
        ChainError: other code sits at its address, or it is missing and cannot be set.
    """
    expected = code_hash("0x" + PROXY_CODE.hex())
    found = code_hash(rpc.get(Q.as_sent(Q.code(PROXY))))
    if found is None:
        try:
            rpc.get(Dev.set_code(PROXY, PROXY_CODE))
        except RpcError as exc:
            raise ChainError(
                f"the node has no deterministic deployment proxy at {PROXY} and cannot be "
                "given one (is it an Anvil devnet?)"
            ) from exc
        found = code_hash(rpc.get(Q.as_sent(Q.code(PROXY))))
    if found != expected:
        raise ChainError(f"the code at {PROXY} is not the deterministic deployment proxy")


def deploy_world(rpc: RpcClient) -> WorldManifest:
    """Deploy the world (see the module docstring) from Anvil's account 0 and return its
    manifest (not yet saved: :func:`save_world`). On a node that already holds the world,
    nothing is sent and the world found there is returned (``transactions`` 0). Aave V3
    (:func:`walletim.app.lending.deploy.deploy_aave`) follows in both cases; the manifest's
    figures (transactions, seconds, block) are the world's own.

    Raises:
        ConfigError: artifacts missing (run ``make setup``), or the chain id is not a devnet's.
        ChainError: a transaction failed, the node is not an Anvil with account 0 unlocked, or
        part of the world's addresses hold other code.
    """
    from walletim.app.lending.deploy import deploy_aave  # the world ends with Aave V3

    started = time.perf_counter()
    chain_id = rpc.get(Q.chain_id())
    if chain_id not in DEVNET_CHAIN_IDS:
        raise ConfigError(
            f"the devnet world is for a devnet (chain id {', '.join(map(str, DEVNET_CHAIN_IDS))}), "
            f"not chain {chain_id}: its tokens' owner is a public test key"
        )
    ensure_proxy(rpc)
    plan = plan_world()
    present = _present(rpc, plan)
    genesis = genesis_hash(rpc)
    if len(present) == len(plan.addresses):
        deploy_aave(rpc)  # a world from before Aave gets it now (nothing sent if there)
        return _manifest(chain_id, genesis, plan.addresses)
    skip = {plan.deployments[n] for n in present}  # RedPacket, deployed by someone before
    txs = [tx for n, tx in enumerate(plan.txs) if n not in skip]
    receipts = _send_world(rpc, txs)
    for n, receipt in enumerate(receipts):
        if not receipt.succeeded:
            raise ChainError(f"deploying the world failed at transaction {n + 1} of {len(txs)}")
    seconds = time.perf_counter() - started  # the world's own (Aave's: its AaveMarket's)
    deploy_aave(rpc)
    return _manifest(
        chain_id, genesis, plan.addresses, receipts[-1].block_number, int(time.time()), seconds,
        len(txs),
    )  # fmt: skip


def _present(rpc: RpcClient, plan: WorldPlan) -> set[str]:
    """The world's contracts already on the node: all of them, none, or only RedPacket
    (walletim's own, which anyone may deploy). Raises ChainError for anything else."""
    from walletim.app.world_pins import REDPACKET, WORLD

    names = list(plan.addresses)
    found = dict(zip(names, code_hashes(rpc, [plan.addresses[n] for n in names]), strict=True))
    present = {n: h for n, h in found.items() if h is not None}
    pins = {**WORLD, "RedPacket": REDPACKET}
    for name, got in present.items():
        if name not in pins or pins[name] != (plan.addresses[name], got):
            raise ChainError(
                f"{plan.addresses[name]} (the world's {name}) holds other code on this node"
            )
    if len(present) < len(names) and set(present) - {"RedPacket"}:
        raise ChainError(
            f"part of the devnet world is already on this node ({', '.join(sorted(present))}) "
            "but not all of it: start a fresh devnet"
        )
    return set(present)


def _send_world(rpc: RpcClient, txs: Sequence[UnsignedTx]) -> list[Receipt]:
    """Send ``txs`` as one pipelined batch, mined in one block; their receipts."""
    return send_blocks(rpc, [txs], what="world")


def send_blocks(
    rpc: RpcClient, blocks: Sequence[Sequence[UnsignedTx]], *, what: str
) -> list[Receipt]:
    """Send each of ``blocks`` (transactions from one account) as one pipelined batch mined
    in a block of its own, in order; their receipts. ``what`` names the deployment in errors.

    Automine would give each transaction its own block (and then mine empty blocks, one per
    queued transaction): it is held while sending, then each batch is mined in one block.

    Raises:
        ChainError: the node refused a transaction, or they were not mined in time.
    """
    automine = _automine(rpc)
    if automine:
        rpc.get(Dev.set_automine(False))
    try:
        receipts: list[Receipt] = []
        for txs in blocks:
            hashes = _send_all(rpc, txs, what)
            receipts += wait_receipts(rpc, hashes, mine=automine is not None)
        return receipts
    finally:
        if automine:
            rpc.get(Dev.set_automine(True))


def _automine(rpc: RpcClient) -> bool | None:
    """Whether the node mines each transaction as it arrives; None: not an Anvil (it mines on
    its own). A node without automine is never switched: on Anvil, switching automine on and
    off again would also end ``--block-time`` interval mining."""
    try:
        return rpc.get(Dev.automine())
    except RpcError:
        return None


def _send_all(rpc: RpcClient, txs: Sequence[UnsignedTx], what: str) -> list[str]:
    """Send ``txs`` (all from one account) at consecutive nonces in one round trip."""
    if not txs:
        return []
    nonce = rpc.get(Q.nonce(txs[0].sender, "pending"))
    results = rpc.gather_all(
        [Dev.send_unsigned(replace(tx, nonce=nonce + n)) for n, tx in enumerate(txs)]
    )
    hashes = []
    for n, result in enumerate(results):
        if isinstance(result, RpcError):
            raise ChainError(
                f"the node refused {what} transaction {n + 1} of {len(txs)} ({result}); is it "
                "an Anvil devnet with its default accounts?"
            )
        hashes.append(result)
    return hashes


#: Polls for the world's receipts: 5 ms at first, doubling to 0.2 s.
RECEIPT_POLL = Backoff(first=0.005, factor=2.0, cap=0.2)


def wait_receipts(rpc: RpcClient, hashes: Sequence[str], *, mine: bool = False) -> list[Receipt]:
    """The receipts of ``hashes``, polled until all are there (Anvil's automine answers
    a transaction it signs itself before it mines); with ``mine``, a block is mined before
    each poll.

    Raises:
        ChainError: not all mined within RECEIPT_TIMEOUT seconds. RpcError.
    """
    if not hashes:
        return []
    found: dict[str, Receipt] = {}
    delays = RECEIPT_POLL.delays(deadline=time.monotonic() + RECEIPT_TIMEOUT)
    while True:
        missing = [h for h in hashes if h not in found]
        if mine:
            rpc.get(Dev.mine())
        answers = rpc.gather_all([Q.receipt(h) for h in missing])
        found.update(
            {h: r for h, r in zip(missing, answers, strict=True) if isinstance(r, Receipt)}
        )
        if len(found) == len(set(hashes)):
            return [found[h] for h in hashes]
        delay = next(delays, None)
        if delay is None:
            raise ChainError(f"{len(missing)} transaction(s) were not mined in time")
        time.sleep(delay)


def deploy_at(home: Path, url: str) -> WorldManifest:
    """Deploy the world on the devnet at ``url`` and record its manifest in ``home`` (a
    record only: every home finds the world on the chain). Raises as :func:`deploy_world`
    (a ChainError says that the devnet is still running)."""
    with RpcClient(url) as rpc:
        try:
            manifest = deploy_world(rpc)
        except ChainError as exc:
            raise ChainError(
                f"{exc}; Anvil is still running at {url}: retry with `walletim devnet world`"
            ) from exc
    save_world(home, manifest)
    return manifest


def found_at(home: Path | None, url: str) -> WorldManifest | None:
    """The world on the node at ``url`` (see :func:`load_world`), or None."""
    with RpcClient(url) as rpc:
        return load_world(home, rpc)


def pins_text(rpc: RpcClient) -> str:
    """The source of :mod:`walletim.app.world_pins` for the world on the node behind ``rpc``
    (a fresh devnet where :func:`deploy_world` just ran): every address from the plan, every
    runtime code hash as the node answers it. Raises ConfigError, RpcError."""
    plan = plan_world()
    names = list(plan.addresses)
    hashes = dict(zip(names, code_hashes(rpc, [plan.addresses[n] for n in names]), strict=True))
    missing = [n for n, h in hashes.items() if h is None]
    if missing:
        raise ConfigError(f"the world is not deployed on this node ({', '.join(missing)})")
    lines = [
        '"""The devnet world\'s addresses and runtime code hashes (keccak-256 of the code).',
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
