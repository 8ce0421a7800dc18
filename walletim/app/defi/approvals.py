"""Approvals an account granted that are still in force (ERC-20 allowances, ERC-721 operators
and single-token approvals: found from their logs, confirmed against current state), and
revoking them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from walletim.app.contracts import UNLIMITED_FROM, Plan
from walletim.app.defi.base import ERC721_INTERFACE as ERC721_INTERFACE
from walletim.app.defi.base import DefiProtocol
from walletim.app.defi.logs import (
    APPROVAL_FOR_ALL,
    ERC20_APPROVAL,
    ERC721_APPROVAL,
    T_APPROVAL,
    T_APPROVAL_FOR_ALL,
    topic_of,
)
from walletim.app.risk import ZERO_ADDRESS
from walletim.chain.rpc import Log
from walletim.chain.units import format_amount
from walletim.contracts.abi import calldata, decode_log
from walletim.errors import ContractRefused, InputError
from walletim.keys.hd import to_checksum_address

Kind = Literal["erc20", "erc721-operator", "erc721-token"]
#: (kind, contract, spender, token id) of an approval found in the logs.
_Key = tuple[Kind, str, str, int | None]


@dataclass(frozen=True, slots=True)
class Approval:
    kind: Kind
    contract: str
    symbol: str
    spender: str
    spender_name: str | None
    amount: int | None  # ERC-20 allowance now (base units); None for ERC-721
    unlimited: bool
    token_id: int | None = None
    block: int = 0  # where it was (last) granted
    decimals: int = 18  # of an ERC-20's amount

    @property
    def amount_text(self) -> str | None:
        """``UNLIMITED``, the allowance in the token's decimals, or None (ERC-721)."""
        if self.amount is None:
            return None
        return "UNLIMITED" if self.unlimited else format_amount(self.amount, self.decimals)


def _key(log: Log) -> _Key | None:
    """What an Approval / ApprovalForAll log granted (None: neither)."""
    event = decode_log(log, [APPROVAL_FOR_ALL, ERC721_APPROVAL, ERC20_APPROVAL])
    if event is None:
        return None
    if event.name == "ApprovalForAll":
        return ("erc721-operator", event.address, event.args["operator"], None)
    if "tokenId" in event.args:
        if int(event.args["approved"], 16) == 0:  # approve(0, id): an approval withdrawn
            return None
        return ("erc721-token", event.address, event.args["approved"], int(event.args["tokenId"]))
    return ("erc20", event.address, event.args["spender"], None)


class Approvals(DefiProtocol):
    def approvals(self, owner: str) -> list[Approval]:
        """Every approval ``owner`` has granted that is still in force: found from Approval and
        ApprovalForAll logs on any contract, confirmed against current state."""
        owner = self.core.resolve(owner)  # an address, a wallet account or a contact
        latest: dict[_Key, int] = {}
        for log in self.core.logs.scan([[T_APPROVAL, T_APPROVAL_FOR_ALL], topic_of(owner)]):
            key = _key(log)
            if key is not None:
                latest[key] = max(log.block_number or 0, latest.get(key, 0))
        out = []
        for key, block in latest.items():
            try:
                item = self._now(key, owner, block)
            except ContractRefused:  # not the contract its log claims (RpcError propagates)
                continue
            if item is not None:
                out.append(item)
        return sorted(out, key=lambda a: (-a.block, a.contract, a.spender))

    def _now(self, key: _Key, owner: str, block: int) -> Approval | None:
        """The approval as it stands now (None: no longer in force)."""
        kind, contract, spender, token_id = key
        core = self.core
        name = core.c.name_of(spender)
        if kind == "erc20":
            meta = core.c.token_meta(contract)
            amount = core.read_int(contract, "allowance(address,address)", owner, spender)
            if amount == 0:
                return None
            symbol, decimals = (meta.symbol, meta.decimals) if meta else (contract[:10], 18)
            return Approval(
                kind, contract, symbol, spender, name, amount, amount >= UNLIMITED_FROM, None,
                block, decimals,
            )  # fmt: skip
        if kind == "erc721-operator":
            if not self._operator(contract, owner, spender):
                return None
            symbol = core.names.collection(contract)
            return Approval(kind, contract, symbol, spender, name, None, True, None, block)
        (current,) = core.read(contract, "getApproved(uint256)", token_id, returns=["address"])
        (holder,) = core.read(contract, "ownerOf(uint256)", token_id, returns=["address"])
        if to_checksum_address(current) != spender or to_checksum_address(holder) != owner:
            return None
        symbol = core.names.collection(contract)
        return Approval(kind, contract, symbol, spender, name, None, False, token_id, block)

    def _operator(self, contract: str, owner: str, operator: str) -> bool:
        (approved,) = self.core.read(
            contract, "isApprovedForAll(address,address)", owner, operator, returns=["bool"]
        )
        return bool(approved)

    def revoke(self, account: str, token_text: str, spender_text: str) -> Plan:
        """Set an ERC-20 allowance to zero, or withdraw what ERC-721 approvals ``approvals``
        lists of the spender on the collection (operator, and each single token's)."""
        core = self.core
        sender = core.sender(account)
        contract = core.names.resolve_contract(token_text)
        spender = core.resolve(spender_text)
        if core.is_erc721(contract):
            calls = self._nft_revokes(contract, sender, spender)
            if not calls:
                raise InputError(
                    f"{core.c.label(spender)} is neither an operator of {account}'s "
                    f"{core.names.collection(contract)} nor approved for one of its tokens; "
                    "nothing to revoke"
                )
        else:
            if self._allowance(contract, sender, spender) == 0:
                raise InputError(
                    f"{core.c.label(spender)} has no allowance on {account}'s tokens at "
                    f"{contract}; nothing to revoke"
                )
            calls = [calldata("approve(address,uint256)", spender, 0)]
        title = f"revoke {core.c.label(spender)} on {contract}"
        steps = [core.step("revoke", contract, d, kind="revoke", sender=sender) for d in calls]
        figures = {"contract": contract, "spender": spender}
        return core.plan(title, account, sender, steps, figures=figures)

    def _allowance(self, contract: str, owner: str, spender: str) -> int:
        """``allowance(owner, spender)`` of what is not an ERC-721 collection; InputError when
        the contract's own answer says it is no ERC-20 token either (RpcError propagates)."""
        try:
            return self.core.read_int(contract, "allowance(address,address)", owner, spender)
        except ContractRefused as exc:
            raise InputError(
                f"{self.core.c.label(contract)} answers neither as an ERC-20 token "
                "(allowance()) nor as an ERC-721 collection: nothing to revoke there"
            ) from exc

    def _nft_revokes(self, contract: str, owner: str, spender: str) -> list[bytes]:
        """The calls withdrawing ``spender``'s approvals on ``owner``'s NFTs of ``contract``
        that are in force: as operator, and for each token (found from its Approval logs,
        confirmed as :meth:`approvals` confirms them)."""
        calls = []
        if self._operator(contract, owner, spender):
            calls.append(calldata("setApprovalForAll(address,bool)", spender, False))
        topics = [T_APPROVAL, topic_of(owner), topic_of(spender)]
        latest: dict[_Key, int] = {}
        for log in self.core.logs.scan(topics, contract):
            key = _key(log)
            if key is not None and key[0] == "erc721-token":
                latest[key] = max(log.block_number or 0, latest.get(key, 0))
        for key, block in sorted(latest.items(), key=lambda k: k[0][3] or 0):
            if self._now(key, owner, block) is not None:
                calls.append(calldata("approve(address,uint256)", ZERO_ADDRESS, key[3]))
        return calls
