"""One home, one network: wires the wallets, the network profile, the RPC client and the
encrypted store together for the CLI and for scripts.

    from walletim.app.session import Session
    s = Session("~/.walletim", password="...", network="anvil")
    result = s.send("alice", "0x...", parse_amount("0.1eth"))
    s.chat.send("alice", "bob", "paid you")          # chat over the relay (relay_url=...)
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walletim.app.networks import Network, Networks
from walletim.config import DEFAULT_RELAY_URL
from walletim.errors import ChainError, RpcError, StoreError

if TYPE_CHECKING:
    from walletim.app.backup import BackupService
    from walletim.app.chain import ChainService, SendResult
    from walletim.app.chat import ChatService
    from walletim.app.contracts import ContractService
    from walletim.app.contracts.plans import Plan
    from walletim.app.defi import Asset, DefiService
    from walletim.app.devices import DeviceService
    from walletim.app.history import AccountHistory
    from walletim.app.lending.service import LendingService
    from walletim.app.linking import LinkService
    from walletim.app.names import Names
    from walletim.app.redpacket import RedPackets
    from walletim.app.tokens import TokenBook
    from walletim.app.transfers import Transfers
    from walletim.app.wallets import Account, PasswordSource, WalletInfo, Wallets
    from walletim.app.watch import Watcher
    from walletim.app.wim import WalletIM
    from walletim.chain.rpc import RpcClient
    from walletim.contracts.tokenlist import ListedToken, TokenList
    from walletim.keys.signing import Signature
    from walletim.store.db import Store
    from walletim.store.txs import TxRepo


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
        ask_after_refusal: bool = False,
        agent: bool | None = None,
    ) -> None:
        """``notify(text)`` is told of things done on the user's behalf that they did not ask
        for in this call (e.g. broadcasting a transaction an interrupted command signed).
        ``ask_after_refusal``, ``agent``: see :class:`~walletim.app.wallets.Wallets`."""
        self.home = Path(home).expanduser()
        self._notify = notify
        self.relay_url = relay_url
        # Built on first use: `balance 0x...` and `tx status` load no key machinery.
        self._wallet_args = (password, network, fast_kdf, ask_after_refusal, agent)
        self.networks = Networks(self.home)
        self._network_name = network
        self._rpc_url = rpc_url
        self._store: Store | None = None

    @cached_property
    def wallets(self) -> Wallets:
        """The home's wallets (walletim.app.wallets)."""
        from walletim.app.wallets import Wallets

        password, network, fast_kdf, ask_after_refusal, agent = self._wallet_args
        return Wallets(
            self.home,
            password,
            network=network,
            fast_kdf=fast_kdf,
            notify=self._notify,
            ask_after_refusal=ask_after_refusal,
            agent=agent,
        )

    @cached_property
    def names(self) -> Names:
        """Names <-> addresses: wallets, contacts, the devnet world (walletim.app.names)."""
        from walletim.app.names import Names, StoreContacts
        from walletim.store import DB_NAME

        contacts = StoreContacts(self.home / DB_NAME, self.open_store, lambda: self._store)
        book = _WalletBook(self)  # the wallets built only when a name needs them
        return Names(book, contacts, world=self._known_contracts)

    @cached_property
    def network(self) -> Network:
        return self.networks.get(self._network_name).with_url(self._rpc_url)

    @cached_property
    def rpc(self) -> RpcClient:
        from walletim.chain.rpc import RpcClient  # not at import: chat needs no node

        return RpcClient(self.network.rpc_url, hint=self.network.hint)

    def open_store(self) -> Store:
        """Open the home's encrypted store (once per session): its key from the agent when
        one runs unlocked, else from the vault unlocked by the password."""
        if self._store is None:
            from walletim.store.db import DB_NAME, Store

            key = None
            if not self._built("wallets") and self._wallet_args[4] is not False:
                # the agent's key, building no wallets (if it can)
                from walletim.app.wallets.agentstore import agent_store_key

                key = agent_store_key(self.home)
            if key is None:
                key = self.wallets.store_key()
            self._store = Store.open(self.home / DB_NAME, key)
        return self._store

    @cached_property
    def chain(self) -> ChainService:
        from walletim.app.chain import ChainService  # not at import: a chat command

        def txs() -> TxRepo:  # needs no transaction machinery, `balance` no store
            from walletim.store.txs import TxRepo

            return TxRepo(self.open_store())

        return ChainService(
            self.network,
            self.rpc,
            txs=txs,
            signer_for=lambda spec: self.wallets.signer(spec),
            notify=self._notify,
            allowed=lambda spec, txs: self.wallets.check_plan(spec, txs),  # wallets: on use
        )

    @property
    def history(self) -> AccountHistory:
        """The accounts' history: what this home signed, and what the chain shows of them
        (walletim.app.history)."""
        from walletim.app.history import AccountHistory

        return AccountHistory(
            self.chain, self.rpc, self.contracts.token_meta, self.name_of, self.resolve_address
        )

    @cached_property
    def contracts(self) -> ContractService:
        """Read calls and checked, simulated plans of transactions (walletim.app.contracts)."""
        from walletim.app.contracts import ContractService

        return ContractService(
            self.chain,
            self.rpc,
            name_of=self.name_of,
            tokens=lambda: self.tokens,
            on_fee_history=lambda history: self.chain.planner.remember(history),
            allowed=self._plan_allowed,
            block_time=lambda: self.chain.planner.next_block_time(),
        )

    @cached_property
    def defi(self) -> DefiService:
        """Tokens, WETH, Uniswap V2, ERC-4626 vaults, ERC-721, approvals (walletim.app.defi)."""
        from walletim.app.defi import DefiService

        return DefiService(
            self.contracts,
            self.home,
            resolve_address=self.resolve_address,
            account_address=lambda spec: self.wallets.account(spec).address,
            tokens=lambda: self.tokens,
        )

    @property
    def transfers(self) -> Transfers:
        """``send`` and ``send --batch``: ether, or a token through the decoded, simulated
        plan the DeFi layer uses (walletim.app.transfers)."""
        from walletim.app.risk import RiskPolicy
        from walletim.app.transfers import Transfers

        return Transfers(
            self.chain,
            self.contracts,
            _TokenAssets(lambda: self.defi),  # an ETH send builds no DeFi service
            resolve=self.resolve_address,
            address_of=lambda spec: self.wallets.account(spec).address,
            risks=RiskPolicy(self.contracts.has_code, self.contracts.token_label),
        )

    @cached_property
    def tokens(self) -> TokenBook:
        """Names tokens through this network's token lists: the devnet world's and those added
        to this home (walletim.app.tokens). ``label(address)``, ``resolve(text)``."""
        from walletim.app.tokens import RpcTokenReader, TokenBook

        return TokenBook(self.network.chain_id, self._token_sources, RpcTokenReader(self.rpc))

    def world_token_list(self) -> TokenList | None:
        """The devnet world's token list (a TokenList derived from its manifest), or None
        when the node runs no world of this network's chain."""
        from walletim.app.tokens import world_list

        world = self.defi.world()
        if world is None or int(world.chain_id) != self.network.chain_id:
            return None
        return world_list(world)

    def _token_sources(self) -> list[tuple[str, Sequence[ListedToken]]]:
        """The token lists of this network, in precedence order: the devnet world's (derived
        from its manifest), then those added to this home, oldest first."""
        from walletim.app.tokens import TokenLists

        chain_id = self.network.chain_id
        out: list[tuple[str, Sequence[ListedToken]]] = []
        world = self.world_token_list()
        if world is not None:
            out.append((world.name, world.for_chain(chain_id)))
        out += TokenLists(self.home).for_chain(chain_id)
        return out

    @cached_property
    def redpackets(self) -> RedPackets:
        """Red packets on chain (walletim.app.redpacket); the chat carries their vouchers."""
        from walletim.app.redpacket import RedPackets

        return RedPackets(self.defi, self.wallets.sign_typed_data)

    def name_of(self, address: str) -> str | None:
        """A name for an address, for confirmations (:meth:`walletim.app.names.Names.name_of`):
        never asks for the password nor dials the node."""
        return self.names.name_of(address)

    def _plan_allowed(self, plan: Plan) -> None:
        """Raise PolicyRefused when the agent's policy would refuse a step of ``plan`` (a
        simulated plan: each step counted with the fees it would be signed with)."""
        chain_id, reqs = self.chain.chain_id, [s.request for s in plan.steps]
        used = [s.gas_used or 0 for s in plan.simulation]
        used += [0] * (len(reqs) - len(used))  # without eth_simulateV1: the first step's alone
        bounds = self.chain.signing_bounds(reqs, used)
        txs: list[dict[str, Any]] = [
            {
                "chainId": chain_id,
                "to": req.to,
                "value": req.value,
                "data": req.data,
                "gas": gas,
                "maxFeePerGas": per_gas,
            }
            for req, (gas, per_gas) in zip(reqs, bounds, strict=True)
        ]
        self.wallets.check_plan(plan.account, txs)

    def _known_contracts(self) -> Mapping[str, str]:
        """The devnet world's contracts and Aave V3's (name -> address), each only once its
        service has looked them up (naming an address never dials the node: recognising the
        world costs two round trips, Aave a few more)."""
        known: dict[str, str] = {}
        if self._built("defi") and getattr(self.defi, "_world_loaded", False):
            world = self.defi.world()
            if world is not None:
                known.update(world.contracts)
        if self._built("lending"):
            known.update({name: a for a, name in self.lending.known_names().items()})
        return known

    @cached_property
    def lending(self) -> LendingService:
        """Lending and borrowing on Aave V3 (walletim.app.lending), wired to this session's
        node, contracts and DeFi services."""
        from walletim.app.lending.service import LendingService

        return LendingService(
            self.rpc,
            self.contracts,
            self.defi,
            account_address=lambda spec: self.wallets.account(spec).address,
            resolve_address=self.resolve_address,
            chain_id=lambda: self.network.chain_id,
        )

    @cached_property
    def chat(self) -> ChatService:
        """End-to-end encrypted chat over the relay at ``relay_url``."""
        from walletim.app.chat import ChatService

        # A home that chats before `chat init` joins its wallet's devices first (issue 17).
        join = self._join_devices
        chat = ChatService(self.wallets, self.open_store, self.relay_url, join=join)
        # Money in chats is recorded and checked whichever command fetches the messages.
        chat.on_message(lambda me, message: self.wim.record_incoming(me, message))
        # ... and a payment or request made on another device of this wallet (its copy).
        chat.on_sent_copy(lambda me, message: self.wim.record_copy(me, message))
        return chat

    @cached_property
    def backups(self) -> BackupService:
        """Encrypted chat backups to a file or the relay, and restoring them."""
        from walletim.app.backup import BackupService

        return BackupService(
            self.wallets, self.open_store, self.chat.dial_relay, networks=self.networks,
            revoked=lambda spec: self.devices.list(spec).revoked,
        )  # fmt: skip

    @cached_property
    def devices(self) -> DeviceService:
        """This home as a chat device of its accounts, and their signed device lists."""
        from walletim.app.devices import DeviceService

        return DeviceService(self.wallets, self.open_store, self.chat.dial_relay)

    def _join_devices(self, spec: str) -> None:
        self.devices.join_unless_revoked(spec)

    @cached_property
    def linking(self) -> LinkService:
        """Linking a new device by a one-time code (``chat device link``), both ends."""
        from walletim.app.linking import LinkService

        return LinkService(self.wallets, self.devices, self.open_store, self.chat.dial_relay)

    @cached_property
    def wim(self) -> WalletIM:
        """Payments, requests, split bills, red packets and shared actions in chats
        (walletim.app.wim), wired to this session's services."""
        from walletim.app.wim import WalletIM
        from walletim.app.wim.adapters import HomeTxs, NodeEvidence
        from walletim.app.wim.ports import MoneyPorts
        from walletim.app.wim.verify import Rules
        from walletim.store.chat import ChatRepo
        from walletim.store.consent import blocked
        from walletim.store.wim import WimRepo

        def weth() -> str | None:
            world = self.defi.world()
            return None if world is None else str(world.weth)

        ports = MoneyPorts(
            chain_id=self.network.chain_id,
            chain=NodeEvidence(lambda: self.rpc),
            own=HomeTxs(lambda: self.chain),
            address_of=lambda spec: str(self.wallets.account(spec).address),
            sign=self.wallets.sign_typed_data,
            chat=lambda: self.chat,
            chats=lambda: ChatRepo(self.open_store()),
            repo=lambda: WimRepo(self.open_store()),
            defi=lambda: self.defi,
            tokens=lambda: self.tokens,
            packets=lambda: self.redpackets,
            weth=weth,
            aave_pool=lambda: self.lending.known_pool(),
            consented=lambda address, peer: self.chat.consented(address, peer),
            blocked=lambda address, peer: blocked(self.open_store(), address, peer),
            other_devices=self._other_devices,
            fetch=lambda account: self.chat.inbox(account),
        )
        rules = Rules(self.network.confirmations, self.network.finality)
        return WalletIM(ports, rules)

    def _other_devices(self, address: str) -> bool:
        """See :func:`walletim.app.chat.peer_devices.has_other_devices`."""
        from walletim.app.chat.peer_devices import has_other_devices

        return has_other_devices(self.open_store(), address)

    def watcher(
        self, *, clock: Callable[[], float] | None = None, chunk: int | None = None
    ) -> Watcher:
        """Security alerts to yourself (walletim.app.watch), wired to this session's
        services; ``clock`` and ``chunk`` (blocks per scanned chunk) for tests."""
        import time

        from walletim.app.lending.alerts import LendingWatch
        from walletim.app.watch import LOG_CHUNK, Watcher
        from walletim.app.watch.adapters import DefiNames, HomeTxs

        clock = time.time if clock is None else clock
        return Watcher(
            rpc=self.rpc,
            chain_id=self.network.chain_id,
            check_chain=self.chain.check_chain,
            address_of=lambda spec: str(self.wallets.account(spec).address),
            store=self.open_store,
            names=DefiNames(lambda: self.defi),
            reads=self.contracts,
            own=HomeTxs(self.open_store),
            clock=clock,
            chunk=LOG_CHUNK if chunk is None else chunk,
            lending=LendingWatch(self.lending, self.open_store, clock=clock),
        )

    def _built(self, service: str) -> bool:
        """Whether this session has built ``service`` (one of its cached properties) yet."""
        return service in self.__dict__

    def close(self) -> None:
        if self._built("wallets"):
            self.wallets.close()
        if self._built("chain"):
            self.chain.close()
        if self._store is not None:
            self._store.close()
        if self._built("rpc"):
            self.rpc.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.close()
        if isinstance(exc, KeyboardInterrupt) and self._built("chain"):
            # Ctrl-C: say what this command signed and broadcast, and where each stands.
            from walletim.app.chain.flights import interrupted_text
            from walletim.errors import Interrupted

            flights = self.chain.in_flight()
            raise Interrupted(interrupted_text(flights), [f.json() for f in flights]) from exc
        failed = isinstance(exc, StoreError | ChainError) and self._built("chain")
        # one the node refused (dropped) does not go on: the node's error tells it alone
        if failed and (flights := [f for f in self.chain.in_flight() if f.status != "dropped"]):
            # the store failed (a full disk) or the node did (while waiting for a receipt)
            # after signing: its error alone reads as nothing sent, and a user would pay
            # again; say what was signed and broadcast, unless the error names it already
            from walletim.app.chain.flights import interrupted_text

            if any(f.hash in str(exc) for f in flights):
                return
            text = f"{exc}; {interrupted_text(flights, 'stopped')}"
            if isinstance(exc, RpcError):
                raise RpcError(text, method=exc.method, response=exc.response) from exc
            raise (StoreError if isinstance(exc, StoreError) else ChainError)(text) from exc

    # -- names -> addresses --------------------------------------------------------------

    def resolve_address(self, text: str) -> str:
        """A 0x address, a wallet account (NAME / NAME:INDEX) or a chat contact's name, as a
        checksummed address (:meth:`walletim.app.names.Names.resolve_address`; naming a
        contact unlocks the store). Raises InputError."""
        return self.names.resolve_address(text)

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
        return self.names.account_for(address)

    # -- shortcuts for scripts --------------------------------------------------------------

    def balance(self, who: str) -> int:
        """Balance in wei of an address or wallet account."""
        return self.chain.balance(self.resolve_address(who))

    def sign_typed_data(
        self,
        account: str,
        doc: dict[str, object],
        *,
        allow_chains: tuple[int, ...] = (),
        allow_any_chain: bool = False,
    ) -> Signature:
        """EIP-712 sign ``doc`` as ``account`` for this session's network: a domain for
        another chain, or without chainId, is refused unless allowed
        (:meth:`walletim.app.wallets.Wallets.sign_typed_data`)."""
        return self.wallets.sign_typed_data(
            account, doc, allow_chains=allow_chains, allow_any_chain=allow_any_chain
        )

    def send(
        self,
        account: str,
        to: str,
        value: int,
        *,
        data: bytes = b"",
        nonce: int | None = None,
        gas_limit: int | None = None,
        max_fee: int | None = None,
        priority_fee: int | None = None,
        legacy: bool = False,
        fee_level: str = "normal",
        fee_cap: int | None = None,
        note: str | None = None,
        force: bool = False,
        wait: bool = True,
        confirmations: int = 1,
    ) -> SendResult:
        """Send ``value`` wei from ``account`` (NAME[:INDEX]) to an address, account or
        contact (fees in wei per gas; None: suggested), waiting for ``confirmations`` unless
        ``wait=False`` (see :class:`~walletim.app.chain.SendRequest`; ``force`` signs a nonce
        gap or a fee under the base fee). Raises InputError for a value that is no int of
        wei (``parse_amount("0.1eth")`` reads ether), RiskRefused."""
        sender = self.wallets.account(account).address
        from walletim.app.chain import SendRequest

        req = SendRequest(
            to=self.resolve_address(to), value=value, data=data, nonce=nonce,
            gas_limit=gas_limit, max_fee=max_fee, priority_fee=priority_fee, legacy=legacy,
            fee_level=fee_level, fee_cap=fee_cap, note=note, force=force,
        )  # fmt: skip
        return self.chain.send(account, sender, req, wait=wait, confirmations=confirmations)


class _TokenAssets:
    """The tokens :class:`~walletim.app.transfers.Transfers` asks about (its ``Assets`` port),
    from the DeFi service built on first use: sending ether asks nothing of it."""

    def __init__(self, defi: Callable[[], DefiService]) -> None:
        self._defi = defi

    def token(self, text: str) -> Asset:
        return self._defi().token(text)

    def decimals_note(self, asset: Asset, amount: int) -> str:
        return self._defi().decimals_note(asset, amount)

    def balance(self, asset: Asset, holder: str) -> int:
        return self._defi().balance(asset, holder)


class _WalletBook:
    """What :class:`~walletim.app.names.Names` asks of the wallets (its ``WalletBook`` port),
    from the session's wallets built on first use: parsing a 0x address builds none."""

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def is_unlocked(self) -> bool:
        return self._session.wallets.is_unlocked

    def account(self, spec: str) -> Account:
        return self._session.wallets.account(spec)

    def list(self) -> builtins.list[WalletInfo]:
        return self._session.wallets.list()

    def addresses(self, name: str, count: int = 1) -> builtins.list[Account]:
        return self._session.wallets.addresses(name, count)
