"""What money in chats needs from the rest of walletim (``typing.Protocol`` ports).

:class:`~walletim.app.wim.service.WalletIM` and its parts take these in their constructors;
:class:`~walletim.app.session.Session` wires the real services in, unit tests pass fakes.
Each port is only what is used: the chain as far as evidence checks it, this home's own
transactions, the chat (resolving, posting) and its records, the signer, the DeFi layer
(assets, plans), the token book and the red-packet contract.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from walletim.app.contracts.ports import Executes
from walletim.errors import InputError
from walletim.messaging.envelope import WireKind

if TYPE_CHECKING:
    from walletim.app.chain.flight import Flight
    from walletim.app.chat.consent import RequestInfo
    from walletim.app.contracts import Outcome, Plan
    from walletim.app.defi import Asset
    from walletim.app.evidence import Mined
    from walletim.app.redpacket import NewPacket, OnChainPacket, PacketStatus
    from walletim.app.tokens import TokenLabel
    from walletim.chain.evidence import ChainTx
    from walletim.keys.signing import Signature
    from walletim.messaging.kinds import SponsoredClaim
    from walletim.store.chat import ChatTx, GroupRow, StoredMessage
    from walletim.store.txs import ReceiptRecord
    from walletim.store.wim import WimRepo

#: Seconds since the epoch (time.time).
Clock = Callable[[], float]
#: The checksummed address of a wallet account of this home (NAME / NAME:INDEX).
AddressOf = Callable[[str], str]
#: One chat message to post: (peer, kind, body, text).
Item = tuple[str, str, object, str]


class ChainReads(Protocol):
    """The node, as far as :mod:`walletim.app.evidence` checks what it says."""

    def mined(self, tx_hash: str, *, confirmations: int) -> tuple[ChainTx | None, Mined | None]: ...

    def held(self, tx_hashes: Sequence[str]) -> set[str]:
        """Which of ``tx_hashes`` the node holds (lowercase), asked in one round trip; one
        it could not answer for is not among them. Raises RpcError."""
        ...

    def head(self) -> int: ...

    def finalized_height(self) -> int | None: ...

    def nonce(self, address: str, block: int) -> int:
        """How many transactions of ``address`` are mined up to block ``block`` (its next
        nonce there). Raises RpcError."""
        ...


class OwnTxs(Protocol):
    """The transactions this home signed (its transactions table)."""

    def receipt(self, tx_hash: str) -> ReceiptRecord | None: ...

    def signed(self, tx_hash: str) -> ChainTx | None:
        """The transaction as the signed bytes this home broadcast say (None: not ours)."""
        ...

    def raw(self, tx_hash: str) -> bytes | None:
        """The signed bytes this home broadcast (None: not ours)."""
        ...

    def rebroadcast(self, tx_hash: str) -> None:
        """Send one of ours again if the node lost it (same bytes). Raises WalletimError."""
        ...

    def replaced_by(self, tx_hash: str) -> str | None:
        """The mined transaction that took the nonce of ``tx_hash``, one of ours replaced
        (``tx speedup`` / ``tx cancel``, or signed elsewhere); None while nothing did.
        Raises WalletimError."""
        ...

    def in_flight(self) -> list[Flight]:
        """What this process signed, each as last seen (what an interrupted command tells)."""
        ...


class Delivery(Protocol):
    @property
    def message(self) -> StoredMessage: ...


class Chat(Protocol):
    """Resolving people and groups, and posting into conversations."""

    def resolve_peer(self, text: str) -> str: ...

    def resolve_group(self, account: str, text: str, *, sync: bool = ...) -> GroupRow: ...

    def requests(self, account: str, *, everything: bool = ...) -> list[RequestInfo]: ...

    def post(
        self, account: str, items: Sequence[Item], *, deliver: bool = ..., once: str | None = ...
    ) -> tuple[list[StoredMessage], bool]: ...

    def group_send(
        self,
        account: str,
        group: str,
        kind: WireKind,
        body: object,
        text: str,
        *,
        keep: bool = ...,
    ) -> tuple[StoredMessage, Sequence[Delivery]]: ...


class ChatRecords(Protocol):
    """The chat's stored messages and groups (walletim.store.chat.ChatRepo)."""

    def message(self, message_id: int) -> StoredMessage: ...

    def group(self, account: str, group_id: str) -> GroupRow | None: ...

    def tx(self) -> AbstractContextManager[ChatTx]: ...

    def tell_again(self, message_id: int) -> bool: ...


class TypedDataSigner(Protocol):
    def __call__(
        self, account: str, doc: dict[str, Any], /, *, allow_any_chain: bool = ...
    ) -> Signature: ...


class Defi(Executes, Protocol):
    """Assets and checked, simulated plans (walletim.app.defi.DefiService)."""

    def asset(self, text: str) -> Asset: ...

    def amount(self, asset: Asset | str, text: str) -> int: ...

    def transfer(
        self, account: str, asset_text: str, to_text: str, amount_text: str, *, force: bool = ...
    ) -> Plan: ...

    def received(self, outcome: Outcome) -> int | None: ...

    def vault(self, text: str | None) -> tuple[str, str, Asset, int]: ...


class TokenNames(Protocol):
    """This network's token lists (walletim.app.tokens.TokenBook)."""

    def label(self, address: str) -> TokenLabel: ...

    def listed_with(self, symbol: str) -> list[str]: ...


class PacketContract(Protocol):
    """walletim's red-packet contract (walletim.app.redpacket.RedPackets)."""

    @property
    def contract(self) -> str: ...

    def on_chain(self, packet_id: str) -> OnChainPacket | None: ...

    def created_in(self, packet_id: str, creator: str) -> tuple[int, str] | None: ...

    def status(self, packet_id: str) -> PacketStatus: ...

    def create(
        self,
        account: str,
        total_text: str,
        shares: int,
        recipients: Sequence[str],
        *,
        token_text: str | None = ...,
        random: bool = ...,
        expiry_s: int = ...,
    ) -> NewPacket: ...

    def claim(self, account: str, packet_id: str, voucher: str) -> Plan: ...

    def gas_short(self, plan: Plan) -> int: ...

    def sign_claim(self, account: str, packet_id: str, voucher: str) -> SponsoredClaim: ...

    def claim_for(
        self, account: str, claim: SponsoredClaim, *, fee_cap: int | None = ...
    ) -> Plan: ...

    def claimed_amount(self, outcome: Outcome, packet_id: str, claimer: str) -> int | None: ...


@dataclass(frozen=True, slots=True)
class MoneyPorts:
    """Every collaborator of money in chats, given once: each part of
    :class:`~walletim.app.wim.service.WalletIM` reads the ones it uses. Services that need
    the home unlocked (the chat, the store, the DeFi layer) come as factories, asked on use."""

    chain_id: int  # this network's
    chain: ChainReads
    own: OwnTxs
    address_of: AddressOf
    sign: TypedDataSigner
    chat: Callable[[], Chat]
    chats: Callable[[], ChatRecords]
    repo: Callable[[], WimRepo]
    defi: Callable[[], Defi]
    tokens: Callable[[], TokenNames]
    packets: Callable[[], PacketContract]
    weth: Callable[[], str | None] = lambda: None  # the devnet world's WETH, if any
    aave_pool: Callable[[], str | None] = lambda: None  # walletim's pinned Aave Pool, if any
    #: Whether the account (address) consented to a conversation's peer (an address or
    #: ``group:ID``, walletim.app.chat.consent): money from a stranger is not shown as money.
    consented: Callable[[str, str], bool] = lambda address, peer: True
    #: Whether the account (address) blocked a peer (an address or ``group:ID``): nothing
    #: can be sent to them (walletim.store.consent.blocked).
    blocked: Callable[[str, str], bool] = lambda address, peer: False
    clock: Clock = time.time
    #: Whether the account (address) has other chat devices, by the device list this home
    #: keeps (no relay asked): what one of them pays is told to this home's mailbox.
    other_devices: Callable[[str], bool] = lambda address: False
    #: Take in what the relay holds for this home as a device of the account (NAME or
    #: NAME:INDEX), as ``chat inbox`` does. Raises MessagingError.
    fetch: Callable[[str], object] = lambda account: None

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def take_in_other_devices(self, account: str, address: str) -> str:
        """Before a payment is signed: when the account (at ``address``) has other devices,
        take in what the relay holds for this one, so a payment one of them made (its claim's
        copy, waiting in this device's mailbox) is recorded here and the guards against
        paying twice see it. No relay is asked for a wallet of one device. Returns why the
        other devices could not be checked ("" when they were, or there are none): the
        payment still goes ahead (paying offline is a feature). Not a lock: two devices
        paying in the same second both pay."""
        from walletim.errors import MessagingError

        if not self.other_devices(address):
            return ""
        try:
            self.fetch(account)
        except MessagingError as exc:
            return str(exc)
        return ""

    def refuse_blocked(self, address: str, peers: Sequence[str]) -> None:
        """Raises InputError when the account at ``address`` blocked one of ``peers`` (an
        address, or a group's ``group:ID``), or one is that account itself: the chat message
        that tells them (a payment's claim, a red packet's voucher, a shared action) cannot
        be sent, so the money is not moved either."""
        for peer in peers:
            if peer.lower() == address.lower():
                raise InputError(
                    "that is this account's own address: nothing in a chat can tell it; pick "
                    "another peer; nothing was signed"
                )
            if self.blocked(address, peer):
                group = peer.startswith("group:")
                whom = f"the group {peer[6:]}: unblock it" if group else f"{peer}: unblock them"
                raise InputError(f"you blocked {whom} first; nothing was signed", advice="unblock")


__all__ = [
    "AddressOf",
    "ChainReads",
    "Chat",
    "ChatRecords",
    "Clock",
    "Defi",
    "Delivery",
    "Item",
    "MoneyPorts",
    "OwnTxs",
    "PacketContract",
    "TokenNames",
    "TypedDataSigner",
]
