"""One home, one network: wires the wallets, the network profile, the RPC client and the
encrypted store together for the CLI and for scripts.

    from walletim.app.session import Session
    s = Session("~/.walletim", password="...", network="anvil")
    result = s.send("alice", "0x...", parse_amount("0.1eth"))
    s.chat.send("alice", "bob", "paid you")          # chat over the relay (relay_url=...)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walletim.app.chain import ChainService, SendRequest, SendResult
from walletim.app.networks import Network, Networks
from walletim.app.wallets import PasswordSource, Wallets
from walletim.chain.rpc import RpcClient
from walletim.config import DEFAULT_RELAY_URL
from walletim.errors import (
    InputError,
    KeysError,
    PasswordRequired,
    VaultCorrupt,
    WrongPassword,
    shown,
)
from walletim.store.db import DB_NAME, Store

if TYPE_CHECKING:
    from walletim.app.chat import ChatService
    from walletim.app.contracts import ContractService
    from walletim.app.defi import DefiService
    from walletim.app.redpacket import RedPackets
    from walletim.app.tokens import TokenBook
    from walletim.app.wim import WalletIM

ACCOUNT_SCAN = 20  # indexes per wallet searched when finding which account holds an address


class Session:
    def __init__(
        self,
        home: str | Path,
        password: str | PasswordSource | None = None,
        *,
        network: str = "anvil",
        rpc_url: str | None = None,
        relay_url: str = DEFAULT_RELAY_URL,
        fast_kdf: bool = False,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        """``notify(text)`` is told of things done on the user's behalf that they did not ask
        for in this call (e.g. broadcasting a transaction an interrupted command signed)."""
        self.home = Path(home).expanduser()
        self._notify = notify
        self.relay_url = relay_url
        self.wallets = Wallets(self.home, password, network=network, fast_kdf=fast_kdf)
        self.networks = Networks(self.home)
        self._network_name = network
        self._rpc_url = rpc_url
        self._network: Network | None = None
        self._rpc: RpcClient | None = None
        self._store: Store | None = None
        self._chain: ChainService | None = None
        self._chat: ChatService | None = None
        self._contracts: ContractService | None = None
        self._defi: DefiService | None = None
        self._wim: WalletIM | None = None
        self._tokens: TokenBook | None = None
        self._aave: dict[str, str] | None = None  # issue 18 (lending)

    @property
    def network(self) -> Network:
        if self._network is None:
            self._network = self.networks.get(self._network_name).with_url(self._rpc_url)
        return self._network

    @property
    def rpc(self) -> RpcClient:
        if self._rpc is None:
            self._rpc = RpcClient(self.network.rpc_url)
        return self._rpc

    def open_store(self) -> Store:
        """Unlock the home and open its encrypted store (once per session)."""
        if self._store is None:
            key = self.wallets.unlock().subkey("store")
            self._store = Store.open(self.home / DB_NAME, key)
        return self._store

    @property
    def chain(self) -> ChainService:
        if self._chain is None:
            self._chain = ChainService(
                self.network,
                self.rpc,
                signer_for=self.wallets.signer,
                store=self.open_store,
                notify=self._notify,
            )
        return self._chain

    @property
    def contracts(self) -> ContractService:
        """Read calls and checked, simulated plans of transactions (walletim.app.contracts)."""
        if self._contracts is None:
            from walletim.app.contracts import ContractService

            self._contracts = ContractService(
                self.chain, self.rpc, name_of=self.name_of, tokens=lambda: self.tokens
            )
        return self._contracts

    @property
    def defi(self) -> DefiService:
        """Tokens, WETH, Uniswap V2, ERC-4626 vaults, ERC-721, approvals (walletim.app.defi)."""
        if self._defi is None:
            from walletim.app.defi import DefiService

            self._defi = DefiService(
                self.contracts,
                self.home,
                resolve_address=self.resolve_address,
                account_address=lambda spec: self.wallets.account(spec).address,
                tokens=lambda: self.tokens,
            )
        return self._defi

    @property
    def tokens(self) -> TokenBook:
        """Names tokens through this network's token lists: the devnet world's and those added
        to this home (walletim.app.tokens). ``label(address)``, ``resolve(text)``."""
        if self._tokens is None:
            from walletim.app.tokens import RpcTokenReader, TokenBook

            self._tokens = TokenBook(
                self.network.chain_id, self._token_sources, RpcTokenReader(self.rpc)
            )
        return self._tokens

    def world_token_list(self) -> Any | None:
        """The devnet world's token list (a TokenList derived from its manifest), or None
        when the node runs no world of this network's chain."""
        from walletim.app.tokens import world_list

        world = self.defi.world()
        if world is None or int(world.chain_id) != self.network.chain_id:
            return None
        return world_list(world)

    def _token_sources(self) -> list[tuple[str, Any]]:
        """The token lists of this network, in precedence order: the devnet world's (derived
        from its manifest), then those added to this home, oldest first."""
        from walletim.app.tokens import TokenLists

        chain_id = self.network.chain_id
        out: list[tuple[str, Any]] = []
        world = self.world_token_list()
        if world is not None:
            out.append((world.name, world.for_chain(chain_id)))
        out += TokenLists(self.home).for_chain(chain_id)
        return out

    @property
    def redpackets(self) -> RedPackets:
        """Red packets on chain (walletim.app.redpacket); the chat carries their vouchers."""
        from walletim.app.redpacket import RedPackets

        return RedPackets(self.defi, self.wallets.sign_typed_data)

    def name_of(self, address: str) -> str | None:
        """A name for an address, for confirmations: a devnet-world contract, a wallet of this
        home (account 0, from its checked file, only once the home is unlocked), or a contact
        (only if the store is already open: naming an address never asks for the password)."""
        from walletim.keys.hd import to_checksum_address

        target = to_checksum_address(address)
        if self._defi is not None:
            world = self._defi.world()
            if world is not None:
                for name, addr in world.contracts.items():
                    if to_checksum_address(addr) == target:
                        return str(name)
                aave = self._aave_names()  # issue 18 (lending): Aave V3 of the devnet world
                if target in aave:
                    return aave[target]
        if self.wallets.is_unlocked:
            for info in self.wallets.list():
                if info.address == target:
                    return info.name
        if self._store is not None:
            from walletim.store.chat import ChatRepo

            contact = ChatRepo(self._store).contact(target)
            if contact is not None and contact.name:
                return contact.name
        return None

    def _aave_names(self) -> dict[str, str]:
        """issue 18 (lending): names of walletim's pinned Aave V3 devnet deployment, if the node
        has it (walletim.app.lending.deploy.load_aave), asked once per session."""
        if self._aave is None:
            from walletim.app.lending.deploy import load_aave

            market = load_aave(self.rpc, chain_id=self.network.chain_id)
            self._aave = {} if market is None else market.names()
        return self._aave

    @property
    def chat(self) -> ChatService:
        """End-to-end encrypted chat over the relay at ``relay_url``."""
        if self._chat is None:
            from walletim.app.chat import ChatService

            self._chat = ChatService(self.wallets, self.open_store, self.relay_url)
            # Money in chats is recorded and checked whichever command fetches the messages.
            self._chat.on_message(lambda me, message: self.wim.record_incoming(me, message))
        return self._chat

    @property
    def wim(self) -> WalletIM:
        """Payments, requests, split bills, red packets and shared actions in chats
        (walletim.app.wim)."""
        if self._wim is None:
            from walletim.app.wim import WalletIM

            self._wim = WalletIM(
                self,
                min_confirmations=self.network.confirmations,
                finality=self.network.finality,
            )
        return self._wim

    def close(self) -> None:
        if self._chain is not None:
            self._chain.close()
        if self._store is not None:
            self._store.close()
        if self._rpc is not None:
            self._rpc.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- names -> addresses --------------------------------------------------------------

    def resolve_address(self, text: str) -> str:
        """A 0x address, a wallet account (NAME / NAME:INDEX) or a chat contact's name, as a
        checksummed address. Contacts live in the encrypted store: naming one unlocks it.

        Raises:
            InputError: none of these.
        """
        from walletim.app.wallets import parse_address

        candidate = text.strip()
        if candidate[:2].lower() == "0x":
            return parse_address(candidate)
        try:
            return self.wallets.account(candidate).address
        except (VaultCorrupt, WrongPassword, PasswordRequired):
            raise  # a wallet file changed outside walletim is an error, not "maybe a contact"
        except (KeysError, InputError) as exc:
            reason = str(exc)
        if (self.home / DB_NAME).exists():
            from walletim.store.chat import ChatRepo

            contact = ChatRepo(self.open_store()).contact_named(candidate)
            if contact is not None:
                return contact.address
        raise InputError(
            f"{shown(candidate)} is neither an address, a wallet account nor a contact ({reason})"
        )

    def resolve_token(self, text: str) -> str:
        """An ERC-20's address: a 0x address, or a symbol a token list of this network lists
        once (the devnet world's USDC, DAI, WETH, ...). Raises InputError (unknown, ambiguous
        or look-alike symbol; ETH, which is not a token)."""
        candidate = text.strip()
        if candidate[:2].lower() == "0x":
            from walletim.app.wallets import parse_address

            return parse_address(candidate)
        asset = self.defi.token(candidate)
        assert asset.address is not None
        return asset.address

    def account_for(self, address: str) -> str:
        """The NAME:INDEX of this home's account holding ``address``. Raises InputError."""
        from walletim.keys.hd import to_checksum_address

        target = to_checksum_address(address)
        for info in self.wallets.list():
            count = 1 if info.kind == "private-key" else ACCOUNT_SCAN
            for acct in self.wallets.addresses(info.name, count=count):
                if acct.address == target:
                    return acct.spec
        raise InputError(f"{target} is not an account of this home")

    # -- shortcuts for scripts --------------------------------------------------------------

    def balance(self, who: str) -> int:
        """Balance in wei of an address or wallet account."""
        return self.chain.balance(self.resolve_address(who))

    def sign_typed_data(
        self,
        account: str,
        doc: dict[str, Any],
        *,
        allow_chains: tuple[int, ...] = (),
        allow_any_chain: bool = False,
    ) -> Any:
        """EIP-712 sign ``doc`` as ``account`` for this session's network: a domain for
        another chain, or without chainId, is refused unless allowed
        (:meth:`walletim.app.wallets.Wallets.sign_typed_data`)."""
        return self.wallets.sign_typed_data(
            account, doc, allow_chains=allow_chains, allow_any_chain=allow_any_chain
        )

    def send(self, account: str, to: str, value: int, **kwargs: Any) -> SendResult:
        """Send ``value`` wei from ``account`` (NAME[:INDEX]) to an address or account."""
        sender = self.wallets.account(account).address
        wait = kwargs.pop("wait", True)
        confirmations = kwargs.pop("confirmations", 1)
        req = SendRequest(to=self.resolve_address(to), value=value, **kwargs)
        return self.chain.send(account, sender, req, wait=wait, confirmations=confirmations)
