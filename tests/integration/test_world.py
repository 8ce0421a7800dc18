"""The devnet DeFi world (walletim.app.world) on real Anvil processes: what it deploys (through
the CREATE2 proxy), the seeded pools (and that the router's pairs are the factory's), the
funded accounts, how any home recognises the world by address and code hash (the pins), the
manifest in the home, and ``walletim devnet up|status|world``.

Contract reads go through eth_abi here (not walletim's DeFi layer), so these tests check
the world itself."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from eth_abi.abi import decode, encode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.crypto import keccak

from tests.conftest import ROOT, Cli, World, wait_receipt
from walletim.app.world import (
    ANVIL_ACCOUNT_0,
    ANVIL_ACCOUNTS,
    PROXY,
    WorldManifest,
    create2_address,
    deploy_world,
    find_redpacket,
    load_world,
    manifest_path,
    pins_text,
    plan_world,
)
from walletim.chain.rpc import RpcClient
from walletim.errors import ChainError, ConfigError

E18 = 10**18
E6 = 10**6
# Deterministic: CREATE2 through the deployment proxy, the same on every devnet (and
# RedPacket on every chain), whatever the node did before.
ADDRESSES = {
    "WETH": "0x29F9484Dd5B678b8d44BA88ea6BDD86895a1586f",
    "USDC": "0xF8D3aD5A739E7BC847bfDEC39A9d58498Fd3Bc41",
    "DAI": "0xAfeC54e0d65E81F72a6E01Ed541f1a2B71e31C70",
    "UniswapV2Factory": "0x6FCa436015694eEfC73b0C298d0Be77293CE7488",
    "UniswapV2Router02": "0x8C9EC9F5F2A308f1473631fb2A51E6cCBBbFDD95",
    "wvDAI": "0xfb3608262CB1E766E1E292f12edB6f48B9E5c48f",
    "WIMC": "0x85d4D916D9E0249d1037a46e9017376012981c6e",
    "RedPacket": "0xb4F6854D146c5A131B6501636eF791e2656342a0",
    "WETH/USDC": "0x62D6E87C8eBd1561341FF5D48864B8Db34232265",
    "WETH/DAI": "0x32b5a8413cebd644833aEd153B9385c1D10EbC1c",
    "USDC/DAI": "0x73351E56b70e3Fea2e415aef296c5885D39032De",
}
# (token, amount) on each side of each pool: 1 ETH = 3,000 USDC = 3,000 DAI; USDC:DAI 1:1.
POOLS = {
    "WETH/USDC": (("WETH", 1_000 * E18), ("USDC", 3_000_000 * E6)),
    "WETH/DAI": (("WETH", 1_000 * E18), ("DAI", 3_000_000 * E18)),
    "USDC/DAI": (("USDC", 1_000_000 * E6), ("DAI", 1_000_000 * E18)),
}


def read(rpc: RpcClient, to: str, signature: str, *args: Any) -> tuple[Any, ...]:
    """Call ``name(inputs)(outputs)`` (cast-style) and decode the answer."""
    call, _, outputs = signature.partition(")(")
    call += ")"
    inputs = [t for t in call[call.index("(") + 1 : -1].split(",") if t]
    data = function_signature_to_4byte_selector(call) + encode(inputs, list(args))
    raw = rpc.call("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"])
    types = [t for t in outputs.rstrip(")").split(",") if t]
    return tuple(decode(types, bytes.fromhex(raw[2:])))


def send(
    rpc: RpcClient,
    sender: str,
    to: str,
    signature: str,
    *args: Any,
    value: int = 0,
    ok: bool = True,
) -> dict[str, Any]:
    """Send from an unlocked account; wait for the receipt; check its status is ``ok``."""
    inputs = [t for t in signature[signature.index("(") + 1 : -1].split(",") if t]
    data = function_signature_to_4byte_selector(signature) + encode(inputs, list(args))
    # An explicit gas limit: Anvil's own estimate for a swap made in the same second as the
    # pool's last update leaves out the price accumulators the pair writes once a later
    # second mines it (out of gas under load).
    tx = {"from": sender, "to": to, "data": "0x" + data.hex(), "value": hex(value),
          "gas": hex(1_000_000)}  # fmt: skip
    tx_hash = rpc.call("eth_sendTransaction", [tx])
    for _ in range(500):
        receipt = rpc.get_transaction_receipt(tx_hash)
        if receipt is not None:
            assert receipt["status"] == ("0x1" if ok else "0x0"), signature
            return receipt
        time.sleep(0.01)
    raise AssertionError(f"{signature} was not mined")


def amount_out(amount_in: int, r_in: int, r_out: int) -> int:
    """UniswapV2Library.getAmountOut: the constant product with the 0.3 % fee."""
    return amount_in * 997 * r_out // (r_in * 1000 + amount_in * 997)


def test_the_world_is_deterministic_in_one_block_and_every_contract_has_code(
    world: World,
) -> None:
    m, rpc = world.manifest, world.anvil.rpc()
    assert m.contracts == ADDRESSES
    assert (m.chain_id, m.deployer, m.block, m.transactions) == (31337, ANVIL_ACCOUNT_0, 1, 42)
    assert m.genesis_hash == rpc.get_block(0)["hash"]  # type: ignore[index]
    assert m.seconds < 3.0
    codes = rpc.batch([("eth_getCode", [a, "latest"]) for a in m.contracts.values()])
    assert all(isinstance(c, str) and len(c) > 2 for c in codes)
    # One block (then Aave V3's three: walletim.app.lending.deploy), and the node still mines
    # each transaction as it comes (automine restored).
    assert rpc.block_number() == 1 + 3 and rpc.call("anvil_getAutomine") is True
    assert {s: (t.address, t.decimals, t.name) for s, t in m.tokens.items()} == {
        "WETH": (ADDRESSES["WETH"], 18, "Wrapped Ether"),
        "USDC": (ADDRESSES["USDC"], 6, "USD Coin"),
        "DAI": (ADDRESSES["DAI"], 18, "Dai Stablecoin"),
        "wvDAI": (ADDRESSES["wvDAI"], 18, "walletim DAI Vault"),
    }
    for symbol, t in m.tokens.items():
        assert read(rpc, t.address, "symbol()(string)") == (symbol,)
        assert read(rpc, t.address, "decimals()(uint8)") == (t.decimals,)
        assert read(rpc, t.address, "name()(string)") == (t.name,)


def test_pools_hold_the_intended_reserves_and_are_the_factorys_pairs(world: World) -> None:
    m, rpc = world.manifest, world.anvil.rpc()
    assert read(rpc, m.factory, "allPairsLength()(uint256)") == (3,)
    assert read(rpc, m.router, "factory()(address)")[0].lower() == m.factory.lower()
    assert read(rpc, m.router, "WETH()(address)")[0].lower() == m.weth.lower()
    pair_build = json.loads(
        (ROOT / "node_modules/@uniswap/v2-core/build/UniswapV2Pair.json").read_text()
    )
    init_code_hash = keccak(bytes.fromhex(pair_build["bytecode"].removeprefix("0x")))
    # UniswapV2Library.pairFor (inside the router) hard-codes the pair's init code hash.
    assert init_code_hash.hex() in rpc.call("eth_getCode", [m.router, "latest"])
    for name, ((a, amount_a), (b, amount_b)) in POOLS.items():
        pair = m.contracts[name]
        token_a, token_b = m.contracts[a], m.contracts[b]
        assert (
            read(rpc, m.factory, "getPair(address,address)(address)", token_a, token_b)[0].lower()
            == pair.lower()
        )
        t0, t1 = sorted((token_a, token_b), key=lambda x: int(x, 16))
        salt = keccak(bytes.fromhex(t0[2:]) + bytes.fromhex(t1[2:]))
        create2 = keccak(b"\xff" + bytes.fromhex(m.factory[2:]) + salt + init_code_hash)[12:]
        assert "0x" + create2.hex() == pair.lower()  # what the router computes
        r0, r1, _ = read(rpc, pair, "getReserves()(uint112,uint112,uint32)")
        assert read(rpc, pair, "token0()(address)")[0].lower() == t0.lower()
        expected = (amount_a, amount_b) if t0 == token_a else (amount_b, amount_a)
        assert (r0, r1) == expected, name
        # All the liquidity is the deployer's (minus the 1000 locked wei); no allowance left.
        supply = read(rpc, pair, "totalSupply()(uint256)")[0]
        assert read(rpc, pair, "balanceOf(address)(uint256)", m.deployer) == (supply - 1000,)
    for symbol in ("USDC", "DAI"):
        token = m.contracts[symbol]
        allowance = read(rpc, token, "allowance(address,address)(uint256)", m.deployer, m.router)
        assert allowance == (0,)


def test_a_router_swap_pays_the_constant_product_amount_and_moves_the_price_a_little(
    world: World,
) -> None:
    m, rpc = world.manifest, world.anvil.rpc()
    me = ANVIL_ACCOUNTS[5]
    pair, usdc = m.contracts["WETH/USDC"], m.contracts["USDC"]
    weth_is_0 = int(m.weth, 16) < int(usdc, 16)

    def reserves() -> tuple[int, int]:
        r0, r1, _ = read(rpc, pair, "getReserves()(uint112,uint112,uint32)")
        return (r0, r1) if weth_is_0 else (r1, r0)

    r_weth, r_usdc = reserves()
    expected = amount_out(E18, r_weth, r_usdc)
    quoted = read(rpc, m.router, "getAmountsOut(uint256,address[])(uint256[])", E18, [m.weth, usdc])
    assert quoted == ((E18, expected),)
    before = read(rpc, usdc, "balanceOf(address)(uint256)", me)[0]
    swap = "swapExactETHForTokens(uint256,address[],address,uint256)"
    send(rpc, me, m.router, swap, expected, [m.weth, usdc], me, 2**40, value=E18)
    assert read(rpc, usdc, "balanceOf(address)(uint256)", me)[0] - before == expected
    assert reserves() == (r_weth + E18, r_usdc - expected)
    # 1 ETH into a 1,000 ETH pool: ~2,988 USDC (0.3 % fee, ~0.1 % impact); the pool's
    # price moves by ~0.2 %.
    assert 2_987 * E6 < expected < 2_989 * E6
    price_before, price_after = r_usdc / r_weth, (r_usdc - expected) / (r_weth + E18)
    assert 0.0015 < 1 - price_after / price_before < 0.0025


def test_accounts_are_funded_the_vault_is_over_dai_and_nfts_are_minted(world: World) -> None:
    m, rpc = world.manifest, world.anvil.rpc()
    usdc, dai = m.contracts["USDC"], m.contracts["DAI"]
    assert [a.lower() for a in ANVIL_ACCOUNTS] == rpc.call("eth_accounts")
    for account in ANVIL_ACCOUNTS:
        assert read(rpc, usdc, "balanceOf(address)(uint256)", account) == (10_000 * E6,)
        assert read(rpc, dai, "balanceOf(address)(uint256)", account) == (10_000 * E18,)
    assert read(rpc, m.vault, "asset()(address)")[0].lower() == dai.lower()
    assert read(rpc, m.vault, "totalAssets()(uint256)") == (0,)
    assert read(rpc, m.vault, "previewDeposit(uint256)(uint256)", 5 * E18) == (5 * E18,)
    owners = [read(rpc, m.nft, "ownerOf(uint256)(address)", i)[0] for i in range(1, 6)]
    assert [o.lower() for o in owners] == [
        a.lower() for a in ANVIL_ACCOUNTS[:1] * 3 + ANVIL_ACCOUNTS[1:2] * 2
    ]
    assert read(rpc, m.nft, "tokenURI(uint256)(string)", 4) == ("https://walletim.invalid/wimc/4",)
    assert read(rpc, m.nft, "nextTokenId()(uint256)") == (6,)
    for contract in (usdc, dai, m.nft):  # the deployer keeps the faucets
        assert read(rpc, contract, "owner()(address)")[0].lower() == m.deployer.lower()
    # Tokens are mintable by their owner (the faucet) and by no one else.
    send(rpc, m.deployer, usdc, "mint(address,uint256)", ANVIL_ACCOUNTS[9], 5 * E6)
    assert read(rpc, usdc, "balanceOf(address)(uint256)", ANVIL_ACCOUNTS[9]) == (10_005 * E6,)
    send(rpc, ANVIL_ACCOUNTS[9], usdc, "mint(address,uint256)", ANVIL_ACCOUNTS[9], 1, ok=False)


def test_the_committed_pins_are_what_a_fresh_deployment_has(world: World) -> None:
    """walletim/app/world_pins.py (addresses and runtime code hashes every home checks) is
    exactly what anvil-fixtures/pin_world.py writes from a new deployment."""
    committed = (ROOT / "walletim" / "app" / "world_pins.py").read_text()
    assert pins_text(world.anvil.rpc()) == committed
    plan = plan_world()
    assert plan.addresses == ADDRESSES
    for name, n in plan.deployments.items():  # each address follows from its init code alone
        data = plan.txs[n].data
        assert plan.txs[n].to == PROXY
        assert create2_address(PROXY, data[:32], keccak(data[32:])) == ADDRESSES[name]


def test_any_home_finds_the_world_on_the_chain_without_a_file(world: World, tmp_path: Any) -> None:
    m, rpc = world.manifest, world.anvil.rpc()
    stranger = tmp_path / "stranger"  # a home that never saw a manifest
    found = load_world(stranger, rpc)
    assert found is not None and found.contracts == ADDRESSES and found.tokens == m.tokens
    assert (found.chain_id, found.genesis_hash, found.deployer) == (
        31337,
        m.genesis_hash,
        m.deployer,
    )
    assert not (stranger / "worlds").exists()
    assert load_world(None, rpc) == found
    assert load_world(world.home, rpc) == m  # the deploying home's record adds its figures
    assert load_world(stranger, rpc, chain_id=1) is None  # the network profile says chain 1
    # The record is never the source of an address: a home file naming another USDC is ignored.
    path = manifest_path(world.home, m.chain_id, m.genesis_hash)
    doc = m.to_json()
    doc["tokens"]["USDC"]["address"] = ANVIL_ACCOUNTS[9]
    doc["contracts"]["USDC"] = ANVIL_ACCOUNTS[9]
    path.write_text(json.dumps(doc))
    assert load_world(world.home, rpc) == found
    path.write_text("{not json")
    assert load_world(world.home, rpc) == found
    # Other code at one of the world's addresses: not the world (one contract is enough).
    rpc.call("anvil_setCode", [m.contracts["USDC"], rpc.call("eth_getCode", [m.weth, "latest"])])
    assert load_world(stranger, rpc) is None
    rpc.call("anvil_setCode", [m.router, "0x"])
    assert load_world(stranger, rpc) is None
    assert find_redpacket(rpc) == ADDRESSES["RedPacket"]  # still itself
    rpc.call("anvil_setCode", [ADDRESSES["RedPacket"], "0x00"])
    assert find_redpacket(rpc) is None


def test_the_manifest_round_trips_and_is_written_privately(world: World) -> None:
    m = world.manifest
    assert WorldManifest.from_json(json.loads(json.dumps(m.to_json()))) == m
    path = manifest_path(world.home, m.chain_id, m.genesis_hash)
    assert path == world.home / "worlds" / f"31337-{m.genesis_hash[2:18]}.json"
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    path.write_text(json.dumps({**m.to_json(), "version": 99}))
    with pytest.raises(ConfigError, match="version 99"):
        WorldManifest.from_json(json.loads(path.read_text()))
    with pytest.raises(ConfigError, match="malformed"):
        WorldManifest.from_json({"version": 1})


def test_devnet_tokens_are_never_recognised_on_another_chain_but_the_red_packet_is(
    world: World,
) -> None:
    from walletim.app.devnet import Anvil

    devnet = world.anvil.rpc()
    with Anvil.start(chain_id=5) as node:
        rpc = node.rpc()
        # Even a chain serving the devnet's exact runtime code at the world's addresses (here
        # put there by anvil_setCode; a lying node could answer so too) is not the devnet.
        for address in ADDRESSES.values():
            rpc.call("anvil_setCode", [address, devnet.call("eth_getCode", [address, "latest"])])
        assert load_world(None, rpc) is None and load_world(None, rpc, chain_id=5) is None
        assert find_redpacket(rpc) == ADDRESSES["RedPacket"]
    with Anvil.start(chain_id=5) as node:
        rpc = node.rpc()
        with pytest.raises(ConfigError, match="not chain 5"):
            deploy_world(rpc)
        # Someone sends the very same transactions on chain 5 (anyone could: the tokens'
        # owner is a public test key): the same addresses, yet no home takes them for the
        # devnet's USDC or DAI there.
        plan = plan_world()
        hashes = [rpc.call("eth_sendTransaction", [tx.params()]) for tx in plan.txs]
        for h in hashes:
            assert wait_receipt(rpc, h)["status"] == "0x1"
        assert rpc.call("eth_getCode", [ADDRESSES["USDC"], "latest"]) != "0x"
        assert load_world(None, rpc) is None
        assert load_world(None, rpc, chain_id=5) is None
        # walletim's own ownerless red-packet contract: same address, same code, on any chain.
        assert find_redpacket(rpc) == ADDRESSES["RedPacket"]


def test_deploy_keeps_the_nodes_mining_mode_and_finds_a_world_already_there() -> None:
    from walletim.app.devnet import Anvil

    with Anvil.start(args=["--no-mining"]) as node:
        rpc = node.rpc()
        # Account 0 already sent transactions: CREATE2 addresses do not follow its nonce.
        sender = ANVIL_ACCOUNT_0
        rpc.call("eth_sendTransaction", [{"from": sender, "to": sender, "value": "0x1"}])
        rpc.call("evm_mine")
        m = deploy_world(rpc)
        assert m.contracts == ADDRESSES and m.block == 2 and m.transactions == 42
        assert read(rpc, m.contracts["USDC"], "owner()(address)")[0].lower() == sender.lower()
        # Still not mining: a transaction waits in the pool.
        assert rpc.call("anvil_getAutomine") is False
        rpc.call("eth_sendTransaction", [{"from": sender, "to": sender, "value": "0x1"}])
        assert rpc.block_number() == 2 + 3  # the world's block, then Aave V3's three
        # Deploying again sends nothing: the world is there.
        again = deploy_world(rpc)
        assert again.contracts == ADDRESSES and again.transactions == 0
    with Anvil.start(args=["--block-time", "1"]) as node:
        rpc = node.rpc()
        deploy_world(rpc)
        start = rpc.block_number()
        deadline = time.monotonic() + 5
        while rpc.block_number() == start:  # interval mining goes on
            assert time.monotonic() < deadline, "the node stopped mining blocks"
            time.sleep(0.05)


def test_deploy_refuses_a_node_where_world_addresses_hold_other_code() -> None:
    from walletim.app.devnet import Anvil

    with Anvil.start() as node:
        rpc = node.rpc()
        rpc.call("anvil_setCode", [ADDRESSES["DAI"], "0x00"])
        with pytest.raises(ChainError, match="the world's DAI\\) holds other code"):
            deploy_world(rpc)
    with Anvil.start() as node:  # someone deployed walletim's RedPacket first: reused
        rpc = node.rpc()
        plan = plan_world()
        tx = plan.txs[plan.deployments["RedPacket"]]
        h = rpc.call("eth_sendTransaction", [tx.params()])
        wait_receipt(rpc, h)
        m = deploy_world(rpc)
        assert m.contracts == ADDRESSES and m.transactions == 41
    with Anvil.start() as node:  # a node without the proxy gets it (anvil_setCode)
        rpc = node.rpc()
        rpc.call("anvil_setCode", [PROXY, "0x"])
        assert deploy_world(rpc).contracts == ADDRESSES


# `devnet up` in-process (tests/e2e/test_cli_defi.py runs it as a subprocess).
def test_devnet_up_status_world_and_down_through_the_cli(cli: Cli) -> None:
    no_devnet = cli("devnet", "world")
    assert no_devnet.code == 1 and no_devnet.err_lines == [
        "error: no devnet is running for this home (no devnet recorded in this home): "
        "walletim devnet up"
    ]
    bare = cli("--json", "devnet", "up", "--port", "0", "--no-world")
    assert bare.code == 0, bare.err
    try:
        up = bare.json()
        assert up["world"] is None and up["running"] and up["chain_id"] == 31337
        assert set(up) >= {"url", "pid", "port", "chain_id", "running"}
        status = cli("devnet", "status")
        assert status.code == 0 and "no DeFi world (walletim devnet world)" in status.out
        assert cli("--json", "devnet", "status").json()["world"] is None
        deployed = cli("--json", "devnet", "world").json()
        assert deployed["deployed"] is True and deployed["world"] == ADDRESSES
        assert deployed["url"] == up["url"]
        status = cli("--json", "devnet", "status").json()
        assert status["world"] == ADDRESSES and status["running"]
        assert "DeFi world deployed" in cli("devnet", "status").out
        again = cli("devnet", "world")
        assert again.code == 0 and again.out.startswith("The world is already deployed:")
        assert ADDRESSES["UniswapV2Router02"] in again.out
        with RpcClient(up["url"]) as rpc:
            assert load_world(cli.home, rpc).tokens["USDC"].address == ADDRESSES["USDC"]  # type: ignore[union-attr]
    finally:
        assert cli("devnet", "down").code == 0
    other_chain = cli("devnet", "up", "--port", "0", "--chain-id", "1337")
    assert other_chain.code == 1 and "only recognised on chain id 31337" in other_chain.err
    assert "add --no-world" in other_chain.err
    text = cli("devnet", "up", "--port", "0")
    assert text.code == 0, text.err
    try:
        assert "Deployed the DeFi world in" in text.out and "(42 transactions)" in text.out
        for name in ("WETH", "USDC", "DAI", "UniswapV2Router02", "wvDAI", "WIMC", "WETH/USDC"):
            assert ADDRESSES[name] in text.out, name
        assert cli("--json", "devnet", "status").json()["world"] == ADDRESSES
    finally:
        assert cli("devnet", "down").code == 0
