"""Contacts: names for peers, what is known of their chat keys, and safety numbers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from walletim.app.chat.accounts import Accounts
from walletim.app.chat.link import RelayLink
from walletim.app.chat.ports import Env, Named, run
from walletim.app.chat.results import VerifyResult
from walletim.errors import InputError, MessagingError
from walletim.messaging.identity import IdentityBinding, safety_number
from walletim.store.chat import Contact


class Contacts:
    def __init__(
        self, env: Env, accounts: Accounts, link: RelayLink, wallets: Callable[[], Sequence[Named]]
    ) -> None:
        self.env = env
        self._accounts = accounts
        self._link = link
        self._wallets = wallets

    def add(self, name: str, peer: str) -> Contact:
        """See :meth:`walletim.app.chat.ChatService.contacts_add`."""
        from walletim.localnames import check_name, refuse_look_alike

        name = check_name(name)
        if name.lower().startswith("0x"):
            raise InputError("a contact name cannot start with 0x")
        wallets = [w.name for w in self._wallets()]
        if any(w.casefold() == name.casefold() for w in wallets):
            raise InputError(f"{name!r} is a wallet of this home: pick another contact name")
        address = self._accounts.resolve_peer(peer)
        repo = self.env.repo()
        others = [c.name for c in repo.contacts() if c.name and c.address != address]
        refuse_look_alike(name, [*wallets, *others], "contact")
        repo.set_contact_name(address, name)
        contact = repo.contact(address)
        assert contact is not None
        return contact

    def verify(self, account: str, peer: str, *, confirm: bool) -> VerifyResult:
        """See :meth:`walletim.app.chat.ChatService.contacts_verify`."""
        me = self._accounts.me(account)
        address = self._accounts.resolve_peer(peer)
        if address == me.address:
            raise InputError(
                "that is this account's own address: a safety number is compared with a peer "
                "(your devices: walletim chat device list)"
            )
        repo = self.env.repo()
        contact = repo.contact(address)
        if contact is None or contact.identity_key is None:
            run(self._learn(contact, address))
            contact = repo.contact(address)
        assert contact is not None and contact.identity_key is not None
        verified = _binding_checks(contact)
        number = safety_number(
            (me.identity.public_key, me.address), (contact.identity_key, address)
        )
        if confirm:
            if not verified:
                raise MessagingError(
                    f"{address}'s chat key binding does not verify: not marking it confirmed"
                )
            repo.confirm_contact(address)
            contact = repo.contact(address)
            assert contact is not None
        return VerifyResult(me.address, contact, number, verified)

    async def _learn(self, contact: Contact | None, address: str) -> None:
        """Learn ``address``'s binding from the relay (without taking a one-time prekey)."""
        conn = await self._link.dial()
        try:
            fetched = await self._link.peer_bundle(conn, contact, address, with_opk=False)
        finally:
            await conn.close()
        if fetched is None:
            raise MessagingError(
                f"{address} has not published chat keys to this relay yet: nothing to verify"
            )
        _, binding = fetched
        with self.env.repo().tx() as tx:
            tx.learn_identity(address, binding.identity_key, binding.to_json(), binding.created)


def _binding_checks(contact: Contact) -> bool:
    """The contact's stored binding verifies for its address and key."""
    if contact.binding is None:
        return False
    with contextlib.suppress(MessagingError):
        binding = IdentityBinding.from_json(contact.binding)
        return (
            binding.verify()
            and binding.wallet == contact.address
            and binding.identity_key == contact.identity_key
        )
    return False
