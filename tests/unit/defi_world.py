"""A small DeFi world on the fake node (tests/fakes/evm.py): USDC and WETH on a token list,
a Uniswap V2 factory / router / WETH-USDC pair answering from reserves, and the services
over it (no Anvil: the real protocols are in tests/integration/test_defi.py)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.evm import FakeEvm
from walletim.app.chain import SendRequest, SendResult, TxPlan
from walletim.app.contracts import ContractService
from walletim.app.defi import DefiService
from walletim.app.tokens import RpcTokenReader, TokenBook
from walletim.app.world import TokenInfo, WorldManifest
from walletim.contracts.tokenlist import ListedToken
from walletim.keys.hd import to_checksum_address
from walletim.store.txs import ReceiptRecord

ALICE = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
USDC = to_checksum_address("0x" + "a1" * 20)
WETH = to_checksum_address("0x" + "a2" * 20)
FACTORY = to_checksum_address("0x" + "f1" * 20)
ROUTER = to_checksum_address("0x" + "f2" * 20)
PAIR = to_checksum_address("0x" + "f3" * 20)
VAULT = to_checksum_address("0x" + "f4" * 20)
NFT = to_checksum_address("0x" + "f5" * 20)
ZERO = "0x" + "00" * 20
E18, E6 = 10**18, 10**6


@dataclass
class FakeChain:
    """The chain service as ContractService sees it (ChainPort): sends are recorded and
    mined at once; ``logs`` go into every receipt."""

    chain_id: int = 31337
    repo: Any = None
    genesis: str | None = None  # never checked: a world is looked for on the node
    sent: list[SendRequest] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)

    def send(
        self,
        account: str,
        sender: str,
        req: SendRequest,
        *,
        timeout: float = 120.0,
        progress: Callable[[str], None] | None = None,
    ) -> SendResult:
        n = len(self.sent)
        self.sent.append(req)
        plan = TxPlan("anvil", 31337, sender, req.to, req.value, req.data, n, 100_000, 2,
                      10**9, 10**8, None, req.kind)  # fmt: skip
        tx_hash = "0x%064x" % (n + 1)
        receipt = ReceiptRecord(tx_hash, 31337, 101 + n, "0x" + "ee" * 32, 1, 60_000, 10**9,
                                None, list(self.logs))  # fmt: skip
        return SendResult(tx_hash, n, "mined", plan, receipt)

    def suggest_fees(self) -> dict[str, Any]:
        raise LookupError("no fee history on the fake chain")

    def network_fee_bound(self, gas_used: Any) -> int:
        from walletim.errors import RpcError

        raise RpcError("no fee history on the fake chain", method="eth_feeHistory")


@dataclass
class DefiWorld:
    evm: FakeEvm
    chain: FakeChain
    contracts: ContractService
    defi: DefiService
    reserves: dict[str, int]  # token address -> its reserve in the WETH/USDC pair
    balances: dict[tuple[str, str], int]  # (token, holder) -> balance
    allowances: dict[tuple[str, str, str], int]  # (token, owner, spender) -> allowance


def amount_out(amount_in: int, r_in: int, r_out: int) -> int:
    """Uniswap V2's getAmountOut (0.3 % fee)."""
    return amount_in * 997 * r_out // (r_in * 1000 + amount_in * 997)


def make_world(*, simulate: bool = True) -> DefiWorld:
    evm = FakeEvm(simulate=simulate)
    rpc = evm.node.client()
    reserves = {WETH: 100 * E18, USDC: 300_000 * E6}
    balances: dict[tuple[str, str], int] = {(USDC, ALICE): 5_000 * E6, (WETH, ALICE): 2 * E18}
    allowances: dict[tuple[str, str, str], int] = {}
    for token in (USDC, WETH):
        evm.view(
            token,
            "balanceOf(address)(uint256)",
            lambda who, t=token: balances.get((t, to_checksum_address(who)), 0),
        )
        evm.view(
            token,
            "allowance(address,address)(uint256)",
            lambda o, s, t=token: allowances.get(
                (t, to_checksum_address(o), to_checksum_address(s)), 0
            ),
        )
        evm.view(token, "decimals()(uint8)", lambda t=token: 6 if t == USDC else 18)
        evm.view(token, "totalSupply()(uint256)", lambda: 10**30)
    evm.view(
        FACTORY,
        "getPair(address,address)(address)",
        lambda a, b: PAIR if {a.lower(), b.lower()} == {USDC.lower(), WETH.lower()} else ZERO,
    )
    token0, token1 = sorted([USDC, WETH], key=str.lower)
    evm.view(PAIR, "token0()(address)", lambda: token0)
    evm.view(
        PAIR,
        "getReserves()(uint112,uint112,uint32)",
        lambda: (reserves[token0], reserves[token1], 0),
    )

    def amounts_out(amount: int, path: list[str]) -> list[int]:
        out = [amount]
        for x, y in itertools.pairwise(path):
            rx, ry = reserves[to_checksum_address(x)], reserves[to_checksum_address(y)]
            out.append(amount_out(out[-1], rx, ry))
        return out

    evm.view(ROUTER, "getAmountsOut(uint256,address[])(uint256[])", amounts_out)  # fmt: skip
    chain = FakeChain()
    book = TokenBook(
        31337,
        lambda: [("test list", [ListedToken(31337, USDC, "USDC", 6, "USD Coin"),
                                ListedToken(31337, WETH, "WETH", 18, "Wrapped Ether"),
                                ListedToken(31337, NFT, "WIMC", 0, "Collectibles", ("erc721",))])],
        RpcTokenReader(rpc),
    )  # fmt: skip
    contracts = ContractService(chain, rpc, name_of=lambda a: None, tokens=lambda: book)
    manifest = WorldManifest(
        31337, "0x" + "00" * 32, ALICE, 1,
        {"UniswapV2Router02": ROUTER, "UniswapV2Factory": FACTORY, "WETH": WETH, "USDC": USDC,
         "wvDAI": VAULT, "WIMC": NFT, "WETH/USDC": PAIR},
        {"USDC": TokenInfo(USDC, 6, "USD Coin"), "WETH": TokenInfo(WETH, 18, "Wrapped Ether")},
    )  # fmt: skip
    defi = DefiService(
        contracts,
        Path("/nonexistent"),
        resolve_address=lambda text: {"bob": BOB, "alice": ALICE}.get(text, text),
        account_address=lambda spec: ALICE,
        tokens=lambda: book,
        world=lambda: manifest,
    )
    return DefiWorld(evm, chain, contracts, defi, reserves, balances, allowances)
