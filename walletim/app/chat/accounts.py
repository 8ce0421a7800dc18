"""An account's chat identity (its key, its EIP-712 binding, its prekeys kept in the store),
its conversations' ratchet state, and how peers are named: addresses, wallet accounts of
this home, contact names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from walletim.app.chat.peer_devices import was_listed
from walletim.app.chat.ports import Env, WalletsPort
from walletim.errors import InputError, LinkedDevice, RelayUnavailable, shown
from walletim.keys.chat import ChatIdentityKey
from walletim.messaging.fanout import DeviceStates
from walletim.messaging.kinds import GROUP_PREFIX
from walletim.messaging.session import Conversation, Prekeys
from walletim.store import device_outbox as D
from walletim.store.chat import ChatTx

OPK_TARGET = 100  # one-time prekeys kept listed on the relay


@dataclass(frozen=True, slots=True)
class Me:
    """One of this home's accounts, as chat uses it."""

    spec: str
    address: str
    identity: ChatIdentityKey
    binding: dict[str, object]
    #: A wallet held here only as a linked device (no seed): chat goes over its device key
    #: alone (walletim.app.chat.linked); ``identity`` is that key, ``binding`` empty.
    linked: bool = False


class Accounts:
    """This home's accounts as chat uses them. ``join(spec)`` (optional) makes this home a
    device of the account's wallet (walletim.app.devices): see :meth:`me`."""

    def __init__(
        self, env: Env, wallets: WalletsPort, join: Callable[[str], object] | None = None
    ) -> None:
        self.env = env
        self.wallets = wallets
        self._join = join
        self._cache: dict[str, Me] = {}

    def address(self, account: str) -> str:
        """The address of ``account`` (NAME or NAME:INDEX). Raises InputError, KeysError."""
        return self.wallets.account(account).address

    def me(self, account: str) -> Me:
        """The account's address, chat identity and binding (made and stored on first use)."""
        acct = self.wallets.account(account)
        spec = acct.spec
        if spec in self._cache:
            return self._cache[spec]
        try:
            identity = self.wallets.chat_identity(spec)
        except LinkedDevice:
            device = self.wallets.device_key(spec).key
            self._cache[spec] = Me(spec, acct.address, device, {}, linked=True)
            return self._cache[spec]
        repo = self.env.repo()
        row = repo.prekeys(acct.address)
        if row is not None and row.identity_key == identity.public_key:
            binding = row.binding
        else:
            binding = self.wallets.bind_chat_identity(spec, int(self.env.clock())).to_json()
            with repo.tx() as tx:
                prekeys = Prekeys.create(identity, OPK_TARGET)
                tx.reset_prekeys(acct.address)
                tx.save_prekeys(acct.address, identity.public_key, binding, 1, prekeys.to_json())
        me = Me(spec, acct.address, identity, binding)
        self._become_device(me)
        self._cache[spec] = me
        return me

    def _become_device(self, me: Me) -> None:
        """A home that chats before ``chat init`` (a script, the app, ``chat send`` first)
        becomes a device of its wallet first, as ``chat init`` makes it (issue 17): peers
        that fan out write only to listed devices. Once: a home that was ever listed (so
        also one revoked since) is left as it is, told by the store alone. A relay out of
        reach leaves it to the next command. Raises what joining raises (TooManyDevices, a
        stale list served, ...)."""
        if self._join is None:
            return
        device = self.wallets.device_key(me.spec).id
        if was_listed(self.env.repo().store, me.address, device):
            return
        try:
            self._join(me.spec)
        except RelayUnavailable:
            return

    def resolve_peer(self, text: str) -> str:
        """A 0x address, a wallet account of this home (NAME / NAME:INDEX) or a contact name,
        as a checksummed address. Raises InputError."""
        from walletim.app.names import resolve
        from walletim.app.risk import keyless

        def contact_address(name: str) -> str | None:
            contact = self.env.repo().contact_named(name)
            return None if contact is None else contact.address

        def unknown(candidate: str, _reason: str) -> InputError:
            return InputError(
                f"unknown peer {shown(candidate)}: not a contact name, a wallet account of this "
                "home, or a 0x address"
            )

        address = resolve(text, self.address, contact_address, unknown)
        what = keyless(address)
        if what is not None:
            raise InputError(
                f"{address} is {what}, not a person: nobody holds its key to read a chat "
                "message, claim a red packet or pay a request (nothing was sent)"
            )
        return address


def conversation_state(tx: ChatTx, cid: str, randbytes: Callable[[int], bytes]) -> Conversation:
    """The ratchet state of conversation ``cid`` as stored, or a new one (a fresh epoch)."""
    state = tx.load_session(cid)
    return Conversation.from_json(state) if state else Conversation.new(randbytes)


def missing_from(tx: ChatTx, account: str, peer: str) -> tuple[int, ...]:
    """The message counters ``peer`` used that have not reached ``account`` here: in the
    session with their account key and in those with each of their devices. None for a
    group (its members' counters are in each member's own conversation)."""
    state = tx.load_session(tx.conversation(account, peer))
    missing = tuple(Conversation.from_json(state).missing) if state else ()
    if peer.startswith(GROUP_PREFIX):
        return missing
    devices = D.load_device_states(tx.conn, account, peer)
    return missing + (DeviceStates.from_json(devices).missing if devices else ())
