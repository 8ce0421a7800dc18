"""Network profiles: the built-in ``anvil`` plus user-defined ones in ``HOME/networks.json``.

A profile pins its chain id: before anything is signed the node is asked ``eth_chainId``
and a node reporting another chain gets nothing signed. ``--rpc-url`` overrides the URL of
the chosen profile, never its chain id.

The built-in ``anvil`` profile is this home's devnet: once ``walletim devnet up`` records one
(``HOME/devnet.json``, on whatever port it got, ``--port 0`` included) the profile points at
it, with its chain id; without one it is 127.0.0.1:8545, chain 31337.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from walletim import fsio, safejson
from walletim.chain.fee_limits import DEFAULT_FEE_CAP_WEI
from walletim.chain.units import MAX_CHAIN_ID
from walletim.config import DEFAULT_CHAIN_ID, DEFAULT_NETWORK, DEFAULT_RPC_URL
from walletim.errors import ConfigError, InputError, shown

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}\Z")
MAX_FILE = 256 * 1024
#: The most confirmations a payment check may ask for: each is a header checked one by one
#: (walletim.app.evidence.MAX_LINKED_HEADERS).
MAX_CONFIRMATIONS = 64
#: Finality on the devnet: a block this deep (its own included) is treated as final. Anvil has
#: no consensus; its own `finalized` tag trails the head by 64 blocks, which on a devnet that
#: mines one block per transaction would keep payments "not final" for a long time.
DEVNET_FINALITY = 3
#: ``Network.finality`` value meaning "ask the node for its ``finalized`` block".
FINALIZED_TAG = 0


def parse_finality(text: str) -> int:
    """``--finality``: ``finalized`` (:data:`FINALIZED_TAG`) or a depth in blocks (checked
    against the confirmations when the profile is added). Raises InputError."""
    t = text.strip().lower()
    if t == "finalized":
        return FINALIZED_TAG
    if t.isascii() and t.isdigit() and 0 < int(t) <= MAX_CONFIRMATIONS:
        return int(t)
    raise InputError(
        f"--finality is 'finalized' or a depth of 1 .. {MAX_CONFIRMATIONS} blocks, "
        f"not {shown(text)}"
    )


@dataclass(frozen=True, slots=True)
class Network:
    """A network profile: the node to ask, the chain id it must answer with, and the
    rules for fees and for when a payment is verified and final."""

    name: str
    rpc_url: str
    chain_id: int
    currency: str = "ETH"
    fee_cap_wei: int = DEFAULT_FEE_CAP_WEI  # refuse a tx whose max fee exceeds this (0: no cap)
    #: Blocks (its own included) before a payment in a chat shows as verified, 1 .. 64.
    confirmations: int = 1
    #: When a verified payment is final (no longer checked for reorgs): FINALIZED_TAG (0) to
    #: follow the node's ``finalized`` block (a depth of 64 where the node has no such tag),
    #: or a depth in blocks, ``confirmations`` .. 64.
    finality: int = FINALIZED_TAG
    #: The chain has no EIP-1559 (before London, or never): every transaction walletim signs
    #: on it pays the node's gas price (type 0), a plan's and a red packet's as a send's.
    legacy: bool = False
    #: What to do when no node answers at ``rpc_url`` (said with the error); not saved.
    hint: str = ""

    def finality_text(self) -> str:
        if self.finality == FINALIZED_TAG:
            return "the node's finalized block"
        return f"{self.finality} blocks deep"

    @property
    def fee_cap_advice(self) -> str:
        """How its fee cap is raised (for a command without a ``--fee-cap`` of its own)."""
        return (
            f"`walletim network add {self.name} --fee-cap AMOUNT`, giving its --rpc-url and "
            f"--chain-id {self.chain_id} again"
        )

    def with_url(self, url: str | None) -> Network:
        if not url:
            return self
        return replace(self, rpc_url=url, hint="")


BUILTIN = {
    DEFAULT_NETWORK: Network(
        DEFAULT_NETWORK, DEFAULT_RPC_URL, DEFAULT_CHAIN_ID, "ETH", finality=DEVNET_FINALITY
    )
}
#: Where ``walletim devnet up`` records the devnet it started (walletim.app.devnet).
DEVNET_RECORD = "devnet.json"
NO_DEVNET_HINT = (
    "no devnet runs for this home: start one with `walletim devnet up`, or point at a node "
    "with --rpc-url URL"
)


def recorded_devnet(home: Path) -> tuple[str, int] | None:
    """(url, chain id) of the devnet this home started (``HOME/devnet.json``), or None."""
    try:
        doc = json.loads((home / DEVNET_RECORD).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    url, chain_id = doc.get("url"), doc.get("chain_id")
    if not isinstance(url, str) or not url.startswith("http://127.0.0.1:"):
        return None
    if not isinstance(chain_id, int) or isinstance(chain_id, bool) or chain_id <= 0:
        return None
    return url, chain_id


def devnet_profile(home: Path) -> Network:
    """The built-in ``anvil`` profile for ``home``: its recorded devnet's URL and chain id,
    else 127.0.0.1:8545; with what to do when nothing answers there."""
    base = BUILTIN[DEFAULT_NETWORK]
    found = recorded_devnet(home)
    if found is None:
        return replace(base, hint=NO_DEVNET_HINT)
    url, chain_id = found
    return replace(
        base,
        rpc_url=url,
        chain_id=chain_id,
        hint=f"this home's devnet at {url} does not answer: see `walletim devnet status`, "
        "or start it again with `walletim devnet down` and `walletim devnet up`",
    )


def _flag(value: object) -> bool:
    """A stored true/false (anything else: the file is malformed). Raises TypeError."""
    if not isinstance(value, bool):
        raise TypeError("not a boolean")
    return value


class Networks:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = home / "networks.json"

    def _load(self) -> dict[str, Network]:
        if not self.path.exists():
            return {}
        try:
            doc = safejson.loads(fsio.read_bytes(self.path, limit=MAX_FILE, what="networks file"))
            return {
                name: Network(
                    name,
                    str(v["rpc_url"]),
                    int(v["chain_id"]),
                    str(v.get("currency", "ETH")),
                    int(v.get("fee_cap_wei", DEFAULT_FEE_CAP_WEI)),
                    int(v.get("confirmations", 1)),
                    int(v.get("finality", FINALIZED_TAG)),
                    _flag(v.get("legacy", False)),
                )
                for name, v in doc["networks"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{self.path} is malformed") from exc

    def user_defined(self) -> dict[str, Network]:
        """The profiles the user added (``networks.json``), without the built-in ones."""
        return self._load()

    def all(self) -> dict[str, Network]:
        return {DEFAULT_NETWORK: devnet_profile(self.home), **self._load()}

    def names_by_chain(self) -> dict[int, str]:
        """The profiles' names by chain id (the first name in order for each id)."""
        names: dict[int, str] = {}
        for name, net in sorted(self.all().items()):
            names.setdefault(net.chain_id, name)
        return names

    def get(self, name: str) -> Network:
        """Raises ConfigError for an unknown profile."""
        found = self.all().get(name)
        if found is None:
            known = ", ".join(sorted(self.all()))
            raise ConfigError(
                f"unknown network {name!r} (known: {known}; add one with `walletim network add`)"
            )
        return found

    def add(self, network: Network) -> None:
        """Add or replace a user profile. Raises InputError on a bad name/URL/chain id."""
        if not NAME_RE.match(network.name):
            raise InputError("network names are 1-40 of a-z 0-9 _ . - (lower case)")
        if not network.rpc_url.startswith(("http://", "https://")):
            raise InputError("the RPC URL must start with http:// or https://")
        if not 0 < network.chain_id <= MAX_CHAIN_ID:
            raise InputError(f"the chain id must be 1 .. {MAX_CHAIN_ID} (EIP-2294)")
        if network.fee_cap_wei < 0:
            raise InputError("the fee cap must not be negative")
        if not isinstance(network.legacy, bool):
            raise InputError("a network's legacy setting is true or false")
        if not 1 <= network.confirmations <= MAX_CONFIRMATIONS:
            raise InputError(f"confirmations must be 1 .. {MAX_CONFIRMATIONS}")
        if network.finality != FINALIZED_TAG and not (
            network.confirmations <= network.finality <= MAX_CONFIRMATIONS
        ):
            raise InputError(
                f"finality is 'finalized' or a depth of {network.confirmations} .. "
                f"{MAX_CONFIRMATIONS} blocks (at least the confirmations)"
            )
        fsio.ensure_private_dir(self.home)
        with fsio.locked(self.home / ".lock"):
            current = self._load()
            current[network.name] = network
            self._write(current)

    def remove(self, name: str) -> None:
        with fsio.locked(self.home / ".lock"):
            current = self._load()
            if name not in current:
                raise InputError(f"no user-defined network named {name!r}")
            del current[name]
            self._write(current)

    def _write(self, networks: dict[str, Network]) -> None:
        doc = {
            "networks": {
                n: {k: v for k, v in asdict(p).items() if k not in ("name", "hint")}
                for n, p in networks.items()
            }
        }
        fsio.write_private(self.path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
