"""The connection to the relay: its pinned key, the login, the account's delivery key, and
what the account publishes there (its binding and prekeys); peers' keys fetched and checked.

The key each relay URL presents is pinned on first use (a different key at a pinned URL is
refused before anything is signed: :class:`~walletim.errors.RelayKeyChanged`), and the login
is signed for that URL and key. Each account has a delivery key, given to the peers it
writes to inside the encryption; presenting a peer's key lets our envelopes use their whole
mailbox instead of the strangers' share.
"""

from __future__ import annotations

from collections.abc import Sequence

from walletim.app.chat.accounts import OPK_TARGET, Me
from walletim.app.chat.ports import AuthInfo, Connector, Env, RelayConnection, run
from walletim.app.chat.results import InitResult
from walletim.errors import InputError, MessagingError, RelayKeyChanged, RelayUnavailable, shown
from walletim.keys.chat import ChatIdentityKey
from walletim.messaging import protocol
from walletim.messaging.identity import IdentityBinding
from walletim.messaging.prekeys import SPK_ROTATION_SECONDS, stored_summary
from walletim.messaging.session import PeerBundle, Prekeys
from walletim.store.chat import ChatTx, Contact
from walletim.store.relay import RelayPin


def peer_delivery_keys(env: Env) -> dict[str, bytes]:
    """Mailbox id -> the delivery key its owner gave us with the chat key it derives from
    (an account's, or one device's): what a send to that mailbox presents."""
    keys = env.relays().peer_delivery_keys()
    return {protocol.mailbox_id(identity): key for identity, key in keys.items()}


OPK_REFILL_BELOW = 25
MAX_LOCAL_OPKS = 400  # unused one-time prekeys kept locally before starting a fresh set


class RelayLink:
    def __init__(self, env: Env, relay_url: str, connector: Connector) -> None:
        self.env = env
        self.relay_url = relay_url
        self._connector = connector
        self._first_pins: set[str] = set()  # URLs pinned by this link's dials (first use)

    # -- the relay's key --------------------------------------------------------------------

    async def dial(self) -> RelayConnection:
        """Connect to the relay and check its key against this home's pin for the URL
        (pinning it on first use). Raises RelayUnavailable, RelayKeyChanged."""
        conn = await self._connector(self.relay_url)
        try:
            self._check_pin(conn)
        except BaseException:
            await conn.close()
            raise
        return conn

    def _check_pin(self, conn: RelayConnection) -> None:
        relays = self.env.relays()
        pin = relays.pin(conn.dialled)
        if pin is None:
            pin = relays.pin_first(conn.dialled, conn.relay_key, conn.relay_id)
            self._first_pins.add(conn.dialled)
        if pin.key != conn.relay_key:
            raise RelayKeyChanged(conn.dialled, pin.key.hex(), conn.relay_key.hex())

    def pin_relays(
        self, urls: Sequence[str] | None, expect_key: bytes | None
    ) -> list[tuple[RelayPin, RelayPin | None]]:
        """See :meth:`walletim.app.chat.ChatService.pin_relays`."""
        wanted = list(urls) if urls else [u.strip() for u in self.relay_url.split(",")]
        wanted = [u for u in wanted if u]
        for url in wanted:
            try:
                protocol.normalize_relay_url(url)
            except MessagingError as exc:
                raise InputError(f"{shown(url)} is not a relay URL (ws:// or wss://)") from exc

        async def go() -> list[RelayConnection]:
            conns: list[RelayConnection] = []
            try:
                for url in wanted:
                    conns.append(await self._connector(url))
            finally:
                for conn in conns:
                    await conn.close()
            return conns

        conns = run(go())
        for conn in conns:
            if expect_key is not None and conn.relay_key != expect_key:
                raise MessagingError(
                    f"the relay at {conn.dialled} presents key {conn.relay_key.hex()[:16]}…, not "
                    f"the expected {expect_key.hex()[:16]}…: nothing was pinned"
                )
        relays = self.env.relays()
        out = []
        for conn in conns:
            before = relays.pin(conn.dialled)
            out.append((relays.repin(conn.dialled, conn.relay_key, conn.relay_id), before))
        return out

    # -- delivery keys and the login --------------------------------------------------------

    def delivery_key(self, address: str) -> bytes:
        """The delivery key of this home's account ``address``, made on first use: given to
        the peers it writes to, and registered for the account's mailbox and this device's."""
        relays = self.env.relays()
        key = relays.own_delivery_key(address)
        if key is None:
            key = relays.set_own_delivery_key(
                address, self.env.randbytes(protocol.DELIVERY_KEY_BYTES), replace=False
            )
        return key

    def rotate_delivery_key(self, me: Me, device: ChatIdentityKey | None = None) -> bool:
        """See :meth:`walletim.app.chat.ChatService.rotate_delivery_key`; ``device``: this
        home's device key, whose mailbox registers the new key too."""
        self.env.relays().set_own_delivery_key(
            me.address, self.env.randbytes(protocol.DELIVERY_KEY_BYTES), replace=True
        )

        async def go() -> None:
            conn, _ = await self.connect(me)
            await conn.close()
            if device is not None:
                conn = await self.dial()
                try:
                    await self.login(conn, me.address, device)
                finally:
                    await conn.close()

        try:
            run(go())
        except RelayUnavailable:
            return False
        return True

    async def connect(self, me: Me) -> tuple[RelayConnection, AuthInfo]:
        """Dial (pin checked), log in, and register our delivery key's hash if this relay
        does not have it."""
        conn = await self.dial()
        try:
            info = await self.login(conn, me.address, me.identity)
        except BaseException:
            await conn.close()
            raise
        return conn, info

    async def login(self, conn: RelayConnection, address: str, key: ChatIdentityKey) -> AuthInfo:
        """Log ``conn`` in to the mailbox of chat key ``key`` (the account's, or this home's
        device key for ``address``) and register the account's delivery key there if the
        relay lacks it: a peer we gave it to uses that mailbox's whole room, on the device's
        mailbox as on the account's."""
        try:
            info = await conn.authenticate(key.public_key, key.sign)
        except RelayUnavailable as exc:
            if exc.reason != protocol.WRONG_URL:
                raise
            raise self._not_its_url(conn, exc.url) from exc
        delivery = self.delivery_key(address)
        if info.dkey != conn.delivery_hash(delivery):
            await conn.register_delivery_key(delivery)
        return info

    def _not_its_url(self, conn: RelayConnection, shown_url: str) -> RelayUnavailable:
        """The relay refused a login for the URL dialled (not one of its public URLs: a path
        it does not serve, a proxy it is not told of). A pin this link made of that URL is
        removed: the URL leads to no relay one can use."""
        said = ""
        if conn.dialled in self._first_pins:
            self._first_pins.discard(conn.dialled)
            self.env.relays().unpin(conn.dialled)
            said = "; nothing was pinned"
        return RelayUnavailable(
            shown_url,
            f"authentication failed: it takes no logins for {conn.dialled} (check --relay; a "
            f"relay behind a proxy needs that URL as its --public-url){said}",
        )

    # -- publishing ---------------------------------------------------------------------------

    async def publish(self, conn: RelayConnection, info: AuthInfo, me: Me) -> int | None:
        """Publish the binding and prekeys if this relay lacks them, refill one-time prekeys,
        rotate the signed prekey when due. Local state is stored before anything is
        published, so every published key has its private half. Returns the one-time
        prekeys now listed on the relay, or None if nothing needed publishing."""
        repo = self.env.repo()
        with repo.tx() as tx:
            row = tx.prekeys(me.address)
            if row is None:
                raise MessagingError("chat keys are missing for this account")
            fresh = row.published_at is None or row.relay_id != conn.relay_id
            if not fresh and self._nothing_due(row.state, info):
                return None  # told from the stored state's shape: no X3DH parse, no import
            prekeys = Prekeys.from_json(row.state, me.identity)
            rotated = prekeys.rotate_if_due(int(self.env.clock()))
            new_opks: tuple[bytes, ...] = ()
            if prekeys.opk_count > MAX_LOCAL_OPKS:
                prekeys = Prekeys.create(me.identity, OPK_TARGET)
                fresh = True
            elif not fresh and info.prekeys < OPK_REFILL_BELOW:
                new_opks = prekeys.add_opks(OPK_TARGET - info.prekeys)
            if not (fresh or rotated or new_opks):
                return None
            tx.save_prekeys(me.address, me.identity.public_key, me.binding, 1, prekeys.to_json())
        published = prekeys.published
        spk = protocol.SignedPrekey(published.spk, published.spk_sig, published.spk_created)
        opks = published.opks if fresh else new_opks
        listed = await conn.publish(me.binding, spk, opks[: protocol.MAX_OPKS], replace=fresh)
        with repo.tx() as tx:
            tx.save_prekeys(
                me.address, me.identity.public_key, me.binding, 1, prekeys.to_json(),
                relay_id=conn.relay_id, published_at=int(self.env.clock()),
            )  # fmt: skip
        return listed

    def _nothing_due(self, state: object, info: AuthInfo) -> bool:
        """Whether :meth:`publish` would publish nothing (the relay has these keys): no
        rotation due, no refill, no fresh set. False when the state cannot be read so."""
        summary = stored_summary(state)
        if summary is None:
            return False
        spk_created, opks = summary
        rotate = int(self.env.clock()) - spk_created >= SPK_ROTATION_SECONDS
        return not rotate and opks <= MAX_LOCAL_OPKS and info.prekeys >= OPK_REFILL_BELOW

    def init(self, me: Me) -> InitResult:
        """See :meth:`walletim.app.chat.ChatService.init`."""

        async def go() -> InitResult:
            conn, info = await self.connect(me)
            try:
                listed = await self.publish(conn, info, me)
            finally:
                await conn.close()
            return InitResult(
                me.address,
                me.identity.public_key,
                info.mailbox,
                info.prekeys if listed is None else listed,
                self.relay_url,
                listed is not None,
            )

        return run(go())

    # -- peers' keys --------------------------------------------------------------------------

    async def peer_bundle(
        self,
        conn: RelayConnection,
        known: Contact | None,
        address: str,
        *,
        with_opk: bool = True,
    ) -> tuple[PeerBundle, IdentityBinding] | None:
        """Fetch and verify a peer's bundle (``with_opk=False``: without taking one of their
        one-time prekeys). None if they never published.

        Raises MessagingError if the binding does not verify for ``address`` or is older than
        the one we already hold (a relay rolling a key back)."""
        bundle = await conn.fetch_bundle(protocol.directory_id(address), with_opk=with_opk)
        if bundle is None:
            return None
        try:
            binding = IdentityBinding.from_json(bundle.binding)
        except MessagingError as exc:
            raise MessagingError(
                f"the relay served malformed chat keys for {address}; not sending"
            ) from exc
        if not binding.verify() or binding.wallet != address:
            raise MessagingError(
                f"the relay served chat keys for {address} whose binding does not verify; "
                "not sending"
            )
        if (
            known is not None
            and known.identity_key is not None
            and known.identity_key != binding.identity_key
            and (known.binding_created or 0) > binding.created
        ):
            raise MessagingError(
                f"the relay served an older chat key for {address} than the one already known; "
                "refusing it (possible rollback)"
            )
        peer = PeerBundle(binding.identity_key, bundle.spk.key, bundle.spk.sig, bundle.opk)
        return peer, binding


def learn_binding(tx: ChatTx, me: Me, address: str, binding: IdentityBinding) -> bool:
    """Record the peer's verified binding; True (and an event) if their key changed."""
    learned = tx.learn_identity(address, binding.identity_key, binding.to_json(), binding.created)
    if learned == "changed":
        tx.add_event(me.address, address, "key-changed", "their chat key changed")
    return learned == "changed"
