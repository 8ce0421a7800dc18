"""The devnet world as found on a node and as a home records it: its manifest, the code
hashes that recognise it, and where a home keeps its own record (see :mod:`walletim.app.world`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, overload

from walletim import fsio, safejson
from walletim.chain.rpc import Block, Q, RpcClient
from walletim.errors import ConfigError, RpcError
from walletim.keys.hd import to_checksum_address

MANIFEST_VERSION = 1
ANVIL_ACCOUNT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ANVIL_ACCOUNTS = (  # m/44'/60'/0'/0/{0..9} of the test mnemonic: the node's accounts
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


@dataclass(frozen=True, slots=True)
class TokenInfo:
    address: str
    decimals: int
    name: str


REQUIRED_CONTRACTS = ("UniswapV2Router02", "UniswapV2Factory", "WETH", "USDC", "wvDAI", "WIMC")


def _decimals(value: object) -> int:
    """A token's decimals from a manifest: an ERC-20's uint8 (10**decimals must stay cheap)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
        raise ConfigError("malformed world manifest: token decimals")
    return value


class _Contracts(Protocol):
    @property
    def contracts(self) -> Mapping[str, str]: ...


class Pinned:
    """A read-only attribute of a deployment record: the address its ``contracts`` maps
    ``name`` to (``router = Pinned("UniswapV2Router02")``), one line per well-known contract
    instead of a property each."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, record: None, owner: type | None = None) -> Pinned: ...

    @overload
    def __get__(self, record: _Contracts, owner: type | None = None) -> str: ...

    def __get__(self, record: _Contracts | None, owner: type | None = None) -> str | Pinned:
        return self if record is None else record.contracts[self.name]


#: The manifest's plain fields, in the order its file lists them (then contracts, tokens).
_MANIFEST_FIELDS = (
    "version", "chain_id", "genesis_hash", "deployer", "block", "deployed_at", "seconds",
    "transactions",
)  # fmt: skip


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

    router = Pinned("UniswapV2Router02")
    factory = Pinned("UniswapV2Factory")
    weth = Pinned("WETH")
    vault = Pinned("wvDAI")
    nft = Pinned("WIMC")

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {name: getattr(self, name) for name in _MANIFEST_FIELDS}
        doc["contracts"] = dict(self.contracts)
        doc["tokens"] = {
            s: {"address": t.address, "decimals": t.decimals, "name": t.name}
            for s, t in self.tokens.items()
        }
        return doc

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


def check_devnet_chain(chain_id: int) -> None:
    """Raises ConfigError unless the world can be recognised on ``chain_id`` (its tokens'
    owner is a public test key: on another chain anyone could deploy the same code)."""
    if chain_id not in DEVNET_CHAIN_IDS:
        allowed = ", ".join(str(c) for c in sorted(DEVNET_CHAIN_IDS))
        raise ConfigError(
            f"the devnet world is only recognised on chain id {allowed} (its tokens' owner is a "
            "public test key): use that chain id, or add --no-world"
        )


def code_hash(code: object) -> str | None:
    """keccak-256 of the code at an address as the node sent it (0x hex); None for no code,
    a malformed answer or an error."""
    from walletim.keys.hd import keccak256

    if not isinstance(code, str) or not code.startswith("0x") or len(code) <= 2:
        return None
    try:
        return "0x" + keccak256(bytes.fromhex(code[2:])).hex()
    except ValueError:
        return None


def code_hashes(rpc: RpcClient, addresses: Sequence[str]) -> list[str | None]:
    """:func:`code_hash` of the code at each address, asked in one round trip (an error of
    one answer: None). Raises RpcError when the node cannot be asked."""
    return [code_hash(c) for c in rpc.gather_all([Q.as_sent(Q.code(a)) for a in addresses])]


def genesis_hash(rpc: RpcClient) -> str:
    genesis = Q.block(0)
    block = rpc.get(genesis)
    if block is None or not block.hash:
        raise RpcError("the node has no genesis block", method=genesis.method)
    return block.hash


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
    home: Path | None, rpc: RpcClient, *, chain_id: int | None = None, genesis: str | None = None
) -> WorldManifest | None:
    """The devnet world on the node behind ``rpc``, recognised by its addresses and the code
    hashes pinned in :mod:`walletim.app.world_pins`; None when the node is not on a devnet
    chain id (or not on ``chain_id``, the network profile's, when given) or the world is not
    all there. No file is needed; this home's own manifest of the same world, if it has one,
    adds when and how fast it was deployed. ``genesis``: the node's genesis hash, from a
    caller that checked the node runs ``chain_id`` (neither is asked again). Raises nothing
    for an unreachable node (None).
    """
    from walletim.app.world_pins import REDPACKET, WORLD

    if chain_id is None or genesis is None:
        try:
            node_chain_id, block = rpc.gather(Q.chain_id(), Q.block(0))
        except RpcError:
            return None
        if isinstance(node_chain_id, RpcError) or not isinstance(block, Block):
            return None
        genesis = block.hash
    else:
        node_chain_id = chain_id
    if node_chain_id not in DEVNET_CHAIN_IDS or chain_id not in (None, node_chain_id):
        return None
    pins = {**WORLD, "RedPacket": REDPACKET}
    try:
        hashes = code_hashes(rpc, [address for address, _ in pins.values()])
    except RpcError:
        return None
    if hashes != [expected for _, expected in pins.values()]:
        return None
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
    if code_hash(rpc.get(Q.as_sent(Q.code(address)))) != expected:
        return None
    return address
