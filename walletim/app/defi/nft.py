"""ERC-721 tokens: what an account owns (from Transfer logs, confirmed with ownerOf), and
transfers (safeTransferFrom)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from walletim.app.contracts import Plan
from walletim.app.defi.base import DefiProtocol, with_risks
from walletim.app.defi.logs import ERC721_TRANSFER, T_TRANSFER, topic_of
from walletim.app.risk import RiskPolicy, enforce, risks_json
from walletim.contracts.abi import calldata, decode_log
from walletim.errors import ContractRefused, InputError
from walletim.keys.hd import to_checksum_address


@dataclass(frozen=True, slots=True)
class Nft:
    collection: str
    symbol: str
    token_id: int


class Nfts(DefiProtocol):
    def nfts(self, holder: str, collections: Sequence[str] | None = None) -> list[Nft]:
        """ERC-721 tokens ``holder`` owns now: found from Transfer logs to them, confirmed with
        ownerOf. ``collections``: contract addresses/symbols (default: any collection)."""
        names = self.core.names
        holder = self.core.resolve(holder)  # an address, a wallet account or a contact
        addresses = [names.resolve_contract(c) for c in collections] if collections else [None]
        seen: dict[tuple[str, int], None] = {}
        for address in addresses:
            for log in self.core.logs.scan([T_TRANSFER, None, topic_of(holder)], address):
                # ERC-721 only: its tokenId is indexed (ERC-20's Transfer has one topic less)
                event = decode_log(log, [ERC721_TRANSFER])
                if event is not None:
                    seen[(event.address, int(event.args["tokenId"]))] = None
        owned = [
            Nft(collection, names.collection(collection), token_id)
            for collection, token_id in seen
            if self._owner(collection, token_id) == holder
        ]
        return sorted(owned, key=lambda n: (n.collection, n.token_id))

    def _owner(self, collection: str, token_id: int) -> str | None:
        """ownerOf(token_id), or None (burned, or not an ERC-721 after all: the contract's
        own answer). Raises RpcError: a failing node is not "not owned"."""
        try:
            (owner,) = self.core.read(collection, "ownerOf(uint256)", token_id, returns=["address"])
        except ContractRefused:
            return None
        return to_checksum_address(owner)

    def nft_transfer(
        self, account: str, collection_text: str, token_id: int, to_text: str, *,
        force: bool = False,
    ) -> Plan:  # fmt: skip
        """safeTransferFrom ``token_id`` of a collection to ``to_text``. The risk policy's
        checks that need no node (walletim.app.risk) warn, or refuse unless ``force``: a
        precompile holds no code, so safeTransferFrom does not ask it, and the NFT is lost.
        A contract that cannot hold NFTs fails in the simulation."""
        core, names = self.core, self.core.names
        sender = core.sender(account)
        collection = names.resolve_contract(collection_text)
        to = core.resolve(to_text)
        owner = self._owner(collection, token_id)
        if owner is None and not core.is_erc721(collection):
            raise InputError(
                f"{core.c.label(collection)} is not an ERC-721 contract (it answers neither "
                f"ownerOf nor ERC-165 as one): no NFT to transfer; nothing was signed"
            )
        if owner is None:
            raise InputError(f"token #{token_id} does not exist in {collection}")
        if owner != sender:
            raise InputError(
                f"token #{token_id} of {names.collection(collection)} belongs to "
                f"{owner}, not {account}; nothing was signed"
            )
        what = f"{names.collection(collection)} #{token_id}"
        risks = RiskPolicy.plain(sender, to, 1, what)
        warnings = enforce(risks, force)
        data = calldata("safeTransferFrom(address,address,uint256)", sender, to, token_id)
        title = f"transfer {what} to {core.c.label(to)}"
        step = core.step("transfer", collection, data, kind="nft-transfer", sender=sender)
        figures = {
            "collection": collection, "token_id": str(token_id), "to": to,
            "warnings": risks_json(risks),
        }  # fmt: skip
        plan = core.plan(title, account, sender, [step], warnings, figures)
        return with_risks(plan, core.outflows(plan, sender, []))  # it moves no ERC-20
