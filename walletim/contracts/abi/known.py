"""The well-known ABIs walletim uses (minimal, hand-written: what walletim calls, decodes and
describes) and their events, ready for :func:`~walletim.contracts.abi.events.decode_log`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

from walletim.contracts.abi.events import EventSig, events_of_abi
from walletim.contracts.abi.files import human_abi
from walletim.contracts.abi.signatures import AbiEntry

ERC20_ABI = human_abi(
    [
        "function name() view returns (string)",
        "function symbol() view returns (string)",
        "function decimals() view returns (uint8)",
        "function totalSupply() view returns (uint256)",
        "function balanceOf(address account) view returns (uint256)",
        "function allowance(address owner, address spender) view returns (uint256)",
        "function transfer(address to, uint256 value) returns (bool)",
        "function transferFrom(address from, address to, uint256 value) returns (bool)",
        "function approve(address spender, uint256 value) returns (bool)",
        "function increaseAllowance(address spender, uint256 addedValue) returns (bool)",
        "function decreaseAllowance(address spender, uint256 subtractedValue) returns (bool)",
        "event Transfer(address indexed from, address indexed to, uint256 value)",
        "event Approval(address indexed owner, address indexed spender, uint256 value)",
    ]
)
"""ERC-20 (with OpenZeppelin's increase/decreaseAllowance)."""

ERC2612_ABI = human_abi(
    [
        "function permit(address owner, address spender, uint256 value, uint256 deadline, "
        "uint8 v, bytes32 r, bytes32 s)",
        "function nonces(address owner) view returns (uint256)",
        "function DOMAIN_SEPARATOR() view returns (bytes32)",
    ]
)
"""EIP-2612 permit, an extension of ERC-20."""

ERC721_ABI = human_abi(
    [
        "function name() view returns (string)",
        "function symbol() view returns (string)",
        "function tokenURI(uint256 tokenId) view returns (string)",
        "function balanceOf(address owner) view returns (uint256)",
        "function ownerOf(uint256 tokenId) view returns (address)",
        "function getApproved(uint256 tokenId) view returns (address)",
        "function isApprovedForAll(address owner, address operator) view returns (bool)",
        "function approve(address to, uint256 tokenId)",
        "function setApprovalForAll(address operator, bool approved)",
        "function transferFrom(address from, address to, uint256 tokenId)",
        "function safeTransferFrom(address from, address to, uint256 tokenId)",
        "function safeTransferFrom(address from, address to, uint256 tokenId, bytes data)",
        "event Transfer(address indexed from, address indexed to, uint256 indexed tokenId)",
        "event Approval(address indexed owner, address indexed approved, uint256 indexed tokenId)",
        "event ApprovalForAll(address indexed owner, address indexed operator, bool approved)",
    ]
)

ERC4626_ABI = human_abi(
    [
        "function asset() view returns (address)",
        "function totalAssets() view returns (uint256)",
        "function convertToShares(uint256 assets) view returns (uint256)",
        "function convertToAssets(uint256 shares) view returns (uint256)",
        "function maxDeposit(address receiver) view returns (uint256)",
        "function previewDeposit(uint256 assets) view returns (uint256)",
        "function deposit(uint256 assets, address receiver) returns (uint256 shares)",
        "function maxMint(address receiver) view returns (uint256)",
        "function previewMint(uint256 shares) view returns (uint256)",
        "function mint(uint256 shares, address receiver) returns (uint256 assets)",
        "function maxWithdraw(address owner) view returns (uint256)",
        "function previewWithdraw(uint256 assets) view returns (uint256)",
        "function withdraw(uint256 assets, address receiver, address owner) "
        "returns (uint256 shares)",
        "function maxRedeem(address owner) view returns (uint256)",
        "function previewRedeem(uint256 shares) view returns (uint256)",
        "function redeem(uint256 shares, address receiver, address owner) returns (uint256 assets)",
        "event Deposit(address indexed sender, address indexed owner, uint256 assets, "
        "uint256 shares)",
        "event Withdraw(address indexed sender, address indexed receiver, address indexed owner, "
        "uint256 assets, uint256 shares)",
    ]
)
"""The ERC-4626 additions (a vault is also an ERC-20 of its shares)."""

WETH9_ABI = human_abi(
    [
        "function deposit() payable",
        "function withdraw(uint256 wad)",
        "event Deposit(address indexed dst, uint256 wad)",
        "event Withdrawal(address indexed src, uint256 wad)",
    ]
)
"""WETH9's additions to ERC-20."""

UNISWAP_V2_PAIR_ABI = human_abi(
    [
        "function factory() view returns (address)",
        "function token0() view returns (address)",
        "function token1() view returns (address)",
        "function getReserves() view returns (uint112 reserve0, uint112 reserve1, "
        "uint32 blockTimestampLast)",
        "event Swap(address indexed sender, uint256 amount0In, uint256 amount1In, "
        "uint256 amount0Out, uint256 amount1Out, address indexed to)",
        "event Sync(uint112 reserve0, uint112 reserve1)",
        "event Mint(address indexed sender, uint256 amount0, uint256 amount1)",
        "event Burn(address indexed sender, uint256 amount0, uint256 amount1, address indexed to)",
    ]
)

UNISWAP_V2_FACTORY_ABI = human_abi(
    [
        "function getPair(address tokenA, address tokenB) view returns (address pair)",
        "function allPairs(uint256 index) view returns (address pair)",
        "function allPairsLength() view returns (uint256)",
        "function createPair(address tokenA, address tokenB) returns (address pair)",
        "event PairCreated(address indexed token0, address indexed token1, address pair, "
        "uint256 allPairsLength)",
    ]
)

_PATH_SWAP = "address[] path, address to, uint256 deadline) returns (uint256[] amounts)"
_PATH_SWAP_FOT = "address[] path, address to, uint256 deadline)"
_RM = "address to, uint256 deadline"
_PERMIT = "bool approveMax, uint8 v, bytes32 r, bytes32 s"

UNISWAP_V2_ROUTER02_ABI = human_abi(
    [
        "function factory() view returns (address)",
        "function WETH() view returns (address)",
        "function quote(uint256 amountA, uint256 reserveA, uint256 reserveB) "
        "pure returns (uint256 amountB)",
        "function getAmountsOut(uint256 amountIn, address[] path) view returns (uint256[] amounts)",
        "function getAmountsIn(uint256 amountOut, address[] path) view returns (uint256[] amounts)",
        f"function swapExactTokensForTokens(uint256 amountIn, uint256 amountOutMin, {_PATH_SWAP}",
        f"function swapTokensForExactTokens(uint256 amountOut, uint256 amountInMax, {_PATH_SWAP}",
        f"function swapExactETHForTokens(uint256 amountOutMin, {_PATH_SWAP}".replace(
            ") returns", ") payable returns"
        ),
        f"function swapTokensForExactETH(uint256 amountOut, uint256 amountInMax, {_PATH_SWAP}",
        f"function swapExactTokensForETH(uint256 amountIn, uint256 amountOutMin, {_PATH_SWAP}",
        f"function swapETHForExactTokens(uint256 amountOut, {_PATH_SWAP}".replace(
            ") returns", ") payable returns"
        ),
        "function swapExactTokensForTokensSupportingFeeOnTransferTokens(uint256 amountIn, "
        f"uint256 amountOutMin, {_PATH_SWAP_FOT}",
        "function swapExactETHForTokensSupportingFeeOnTransferTokens(uint256 amountOutMin, "
        f"{_PATH_SWAP_FOT} payable",
        "function swapExactTokensForETHSupportingFeeOnTransferTokens(uint256 amountIn, "
        f"uint256 amountOutMin, {_PATH_SWAP_FOT}",
        "function addLiquidity(address tokenA, address tokenB, uint256 amountADesired, "
        "uint256 amountBDesired, uint256 amountAMin, uint256 amountBMin, address to, "
        "uint256 deadline) returns (uint256 amountA, uint256 amountB, uint256 liquidity)",
        "function addLiquidityETH(address token, uint256 amountTokenDesired, "
        "uint256 amountTokenMin, uint256 amountETHMin, address to, uint256 deadline) "
        "payable returns (uint256 amountToken, uint256 amountETH, uint256 liquidity)",
        "function removeLiquidity(address tokenA, address tokenB, uint256 liquidity, "
        f"uint256 amountAMin, uint256 amountBMin, {_RM}) "
        "returns (uint256 amountA, uint256 amountB)",
        "function removeLiquidityETH(address token, uint256 liquidity, uint256 amountTokenMin, "
        f"uint256 amountETHMin, {_RM}) returns (uint256 amountToken, uint256 amountETH)",
        "function removeLiquidityWithPermit(address tokenA, address tokenB, uint256 liquidity, "
        f"uint256 amountAMin, uint256 amountBMin, {_RM}, {_PERMIT}) "
        "returns (uint256 amountA, uint256 amountB)",
        "function removeLiquidityETHWithPermit(address token, uint256 liquidity, "
        f"uint256 amountTokenMin, uint256 amountETHMin, {_RM}, {_PERMIT}) "
        "returns (uint256 amountToken, uint256 amountETH)",
        "function removeLiquidityETHSupportingFeeOnTransferTokens(address token, "
        f"uint256 liquidity, uint256 amountTokenMin, uint256 amountETHMin, {_RM}) "
        "returns (uint256 amountETH)",
        "function removeLiquidityETHWithPermitSupportingFeeOnTransferTokens(address token, "
        f"uint256 liquidity, uint256 amountTokenMin, uint256 amountETHMin, {_RM}, {_PERMIT}) "
        "returns (uint256 amountETH)",
    ]
)

REDPACKET_ABI = human_abi(
    [
        "function create(bytes32 salt, address token, uint256 total, uint32 shares, bool random, "
        "uint64 expiry) payable returns (bytes32 id)",
        "function claim(bytes32 id, bytes voucher) returns (uint256 amount)",
        "function claimFor(bytes32 id, address claimer, bytes voucher, uint256 deadline, "
        "bytes claimerSig) returns (uint256 amount)",
        "function refund(bytes32 id) returns (uint256 amount)",
        "function packetId(address creator, bytes32 salt) pure returns (bytes32)",
        "function claimed(bytes32 id, address claimer) view returns (bool)",
        "event Created(bytes32 indexed id, address indexed creator, address token, uint256 total, "
        "uint32 shares, bool random, uint64 expiry)",
        "event Claimed(bytes32 indexed id, address indexed claimer, uint256 amount)",
        "event Refunded(bytes32 indexed id, address indexed creator, uint256 amount)",
    ]
)
"""walletim's red-packet contract (anvil-fixtures/contracts/RedPacket.sol)."""

AAVE_V3_POOL_ABI = human_abi(
    [
        "function supply(address asset, uint256 amount, address onBehalfOf, uint16 referralCode)",
        "function withdraw(address asset, uint256 amount, address to) returns (uint256)",
        "function borrow(address asset, uint256 amount, uint256 interestRateMode, "
        "uint16 referralCode, address onBehalfOf)",
        "function repay(address asset, uint256 amount, uint256 interestRateMode, "
        "address onBehalfOf) returns (uint256)",
        "function setUserUseReserveAsCollateral(address asset, bool useAsCollateral)",
        "function liquidationCall(address collateralAsset, address debtAsset, address user, "
        "uint256 debtToCover, bool receiveAToken)",
        "event Supply(address indexed reserve, address user, address indexed onBehalfOf, "
        "uint256 amount, uint16 indexed referralCode)",
        "event Withdraw(address indexed reserve, address indexed user, address indexed to, "
        "uint256 amount)",
        "event Borrow(address indexed reserve, address user, address indexed onBehalfOf, "
        "uint256 amount, uint8 interestRateMode, uint256 borrowRate, uint16 indexed referralCode)",
        "event Repay(address indexed reserve, address indexed user, address indexed repayer, "
        "uint256 amount, bool useATokens)",
        "event ReserveUsedAsCollateralEnabled(address indexed reserve, address indexed user)",
        "event ReserveUsedAsCollateralDisabled(address indexed reserve, address indexed user)",
        "event LiquidationCall(address indexed collateralAsset, address indexed debtAsset, "
        "address indexed user, uint256 debtToCover, uint256 liquidatedCollateralAmount, "
        "address liquidator, bool receiveAToken)",
    ]
)
"""Aave V3's Pool (``@aave/core-v3`` IPool, issue 18): the calls walletim makes and their
events."""

WELL_KNOWN_ABIS: dict[str, list[AbiEntry]] = {
    "erc20": ERC20_ABI,
    "erc2612": ERC2612_ABI,
    "erc721": ERC721_ABI,
    "erc4626": ERC4626_ABI,
    "weth9": WETH9_ABI,
    "uniswap-v2-pair": UNISWAP_V2_PAIR_ABI,
    "uniswap-v2-factory": UNISWAP_V2_FACTORY_ABI,
    "uniswap-v2-router02": UNISWAP_V2_ROUTER02_ABI,
    "walletim-redpacket": REDPACKET_ABI,
    "aave-v3-pool": AAVE_V3_POOL_ABI,
}
"""The registry, by name: minimal hand-written ABIs (JSON ABI form) of what walletim uses."""


def _known_events() -> tuple[EventSig, ...]:
    seen: set[tuple[str, int]] = set()
    out = []
    for abi in WELL_KNOWN_ABIS.values():
        for sig in events_of_abi(abi):
            key = (sig.topic0, sig.indexed)
            if key not in seen:
                seen.add(key)
                out.append(sig)
    return tuple(out)


class _KnownEvents(Sequence[EventSig]):
    """:func:`_known_events`, computed on first use: their topics are Keccak hashes, and
    a command that decodes no log (``balance``, ``tx status``) should not load Keccak."""

    def __init__(self) -> None:
        self._events: tuple[EventSig, ...] | None = None

    def _all(self) -> tuple[EventSig, ...]:
        if self._events is None:
            self._events = _known_events()
        return self._events

    @overload
    def __getitem__(self, index: int) -> EventSig: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[EventSig]: ...

    def __getitem__(self, index: int | slice) -> EventSig | Sequence[EventSig]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[EventSig]:
        return iter(self._all())

    def __repr__(self) -> str:
        return f"KNOWN_ABIS({len(self)} events)"


KNOWN_ABIS: Sequence[EventSig] = _KnownEvents()
"""Every event of :data:`WELL_KNOWN_ABIS`, ready for :func:`decode_log` (computed on first use)."""
