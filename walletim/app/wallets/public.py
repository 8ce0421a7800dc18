"""The public part of a wallet file: what its secret derives, kept in clear so that listing
addresses needs no key stretching.

A mnemonic wallet keeps its account-0 ``address``, the public ``nodes`` of the non-hardened
parents of its paths (addresses of any index follow from them) and, for a template whose
account step is hardened (Ledger Live), a ``cache`` of its first addresses. It is written at
creation (:func:`mnemonic_public`), read for addresses (:func:`public_addresses`) only once the
file's MAC checks, and compared with the secret when a legacy home is upgraded
(:func:`public_matches_secret`). A private-key wallet keeps only its ``address``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from walletim.errors import KeyAlreadyHeld, KeysError, WalletFileTampered
from walletim.keys import hd, mnemonic, paths
from walletim.keys.vault import (
    WalletRecord,
    WalletSecret,
)

#: Addresses cached at creation for templates whose account step is hardened
#: (Ledger Live), so listing them needs no password.
CACHED_ADDRESSES = 10
#: At most this many cached addresses are re-derived when a legacy wallet file (without a
#: MAC) is checked against its seed during the upgrade; walletim writes 10.
MAX_LEGACY_CACHE = 1_000
#: A single key being imported is compared with this many accounts of each mnemonic wallet
#: (BIP-44's address gap limit), as MetaMask refuses to import an account it already has.
HELD_SCAN = 20


def refuse_held(
    names: Iterable[str],
    load: Callable[[str], WalletRecord],
    address: str,
    template: str | None = None,
) -> None:
    """Raises KeyAlreadyHeld when a new wallet would repeat one of ``names`` (each read by
    ``load``, its MAC checked; a tampered file is passed over, refused where it is used).

    A single key (``template`` None) repeats a wallet holding that ``address`` as one of its
    first :data:`HELD_SCAN` accounts on its own path; a mnemonic wallet on ``template`` with
    account 0 at ``address`` repeats the same seed on the same path, or a chat device linked
    for that address. The same seed on another path (Ledger Live beside BIP-44) is a wallet of
    other accounts: it shares only account 0."""
    for name in names:
        try:
            record = load(name)
        except WalletFileTampered:
            continue
        held = _held_as(record, address, template)
        if held is not None:
            raise KeyAlreadyHeld(held, address)


def _held_as(record: WalletRecord, address: str, template: str | None) -> str | None:
    if record.kind != "mnemonic":
        same = record.public.get("address") == address
        return record.name if same and (template is None or record.kind == "linked") else None
    own = record.template or paths.DEFAULT_TEMPLATE
    if template is not None:
        same = own == template and record.public.get("address") == address
        return f"{record.name}:0" if same else None
    found = public_addresses(record, paths.parse_template(own), 0, HELD_SCAN) or []
    return f"{record.name}:{found.index(address)}" if address in found else None


def master_node(secret: WalletSecret) -> hd.HDNode:
    """The BIP-32 master node of a mnemonic wallet's sealed secret."""
    return hd.HDNode.from_seed(seed_of(secret))


def seed_of(secret: WalletSecret) -> bytes:
    """The BIP-39 seed of a mnemonic wallet's sealed secret (mnemonic + passphrase)."""
    return mnemonic.to_seed(secret["mnemonic"], secret.get("passphrase", ""))


def mnemonic_public(master: hd.HDNode, tmpl: paths.PathTemplate) -> dict[str, object]:
    """The public part of a new mnemonic wallet on ``tmpl``: its address, the public nodes
    of the default path's and ``tmpl``'s parents, and a cache when ``tmpl`` has none."""
    nodes: dict[str, dict[str, str]] = {}
    for parent in {
        paths.parse_template(paths.DEFAULT_TEMPLATE).public_parent,
        tmpl.public_parent,
    }:
        if parent is not None:
            nodes[paths.format_path(parent)] = master.derive(parent).public_node().to_json()
    cache: dict[str, list[str]] = {}
    if tmpl.public_parent is None:
        cache[tmpl.template] = seed_addresses(master, tmpl, 0, CACHED_ADDRESSES)
    address = master.derive(tmpl.steps(0)).address()
    return {"address": address, "nodes": nodes, "cache": cache}


def public_addresses(
    record: WalletRecord, tmpl: paths.PathTemplate, start: int, count: int
) -> list[str] | None:
    """Addresses ``start .. start+count-1`` on ``tmpl`` from the file's public nodes or cache,
    or None when they hold no answer (derive from the seed then: :func:`seed_addresses`)."""
    parent = tmpl.public_parent
    nodes = record.public.get("nodes", {})
    if parent is not None and paths.format_path(parent) in nodes:
        node = hd.PublicNode.from_json(nodes[paths.format_path(parent)])
        return node.child_addresses(start, count)
    cache = record.public.get("cache", {}).get(tmpl.template, [])
    if start + count <= len(cache):
        return [str(a) for a in cache[start : start + count]]
    return None


def seed_addresses(
    master: hd.HDNode, tmpl: paths.PathTemplate, start: int, count: int
) -> list[str]:
    """Addresses ``start .. start+count-1`` on ``tmpl`` derived from the master node."""
    parent = tmpl.public_parent
    if parent is not None:
        return master.derive(parent).public_node().child_addresses(start, count)
    return [master.derive(tmpl.steps(i)).address() for i in range(start, start + count)]


def public_matches_secret(record: WalletRecord, secret: WalletSecret) -> bool:
    """Whether the file's public part is exactly what its own sealed secret derives (and
    holds nothing else). A malformed part is a mismatch, never an error."""
    public = record.public
    try:
        if record.kind == "private-key":
            key = bytes.fromhex(secret["private_key"])
            return set(public) <= {"address"} and public.get(
                "address"
            ) == hd.address_from_private_key(key)
        return _public_matches_seed(record, master_node(secret))
    except (KeysError, KeyError, TypeError, ValueError, AttributeError):
        return False


def _public_matches_seed(record: WalletRecord, master: hd.HDNode) -> bool:
    public = record.public
    if not set(public) <= {"address", "nodes", "cache"}:
        return False
    tmpl = paths.parse_template(record.template or paths.DEFAULT_TEMPLATE)
    if public.get("address") != master.derive(tmpl.steps(0)).address():
        return False
    for path_text, node in dict(public.get("nodes", {})).items():
        stored = hd.PublicNode.from_json(node)
        if stored != master.derive(paths.parse_path(path_text)).public_node():
            return False
    cache = dict(public.get("cache", {}))
    if sum(len(v) for v in cache.values()) > MAX_LEGACY_CACHE:
        return False
    for template_text, addresses in cache.items():
        cached = paths.parse_template(template_text)
        for index, address in enumerate(addresses):
            if address != master.derive(cached.steps(index)).address():
                return False
    return True
