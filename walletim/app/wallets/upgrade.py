"""The one-time upgrade of a home made before wallet files had MACs (vault version 1).

On its first unlock every wallet file gets its MAC, then vault.json is rewritten as version 2
(:meth:`walletim.keys.vault.Vault.finish_upgrade`). A file without a MAC is accepted only if
its public part is exactly what its own sealed secret derives
(:func:`~walletim.app.wallets.public.public_matches_secret`) and no other file shares its id
(a secret copied from another wallet of the home): what the MAC then covers is the wallet's
own. All files are checked before any is written.
"""

from __future__ import annotations

from walletim.app.wallets.public import public_matches_secret
from walletim.errors import WalletFileTampered
from walletim.keys.vault import UnlockedVault, Vault, WalletRecord


def upgrade_home(vault: Vault, unlocked: UnlockedVault) -> None:
    """Give every wallet file of a version-1 home its MAC, then mark the home version 2.

    Raises WalletFileTampered (nothing is written then) for a file whose public part is not
    what its secret derives, or whose id another file shares.
    """
    with vault.lock():
        if not vault.needs_upgrade():
            vault.finish_upgrade(unlocked)
            return
        seen: dict[str, str] = {}
        legacy: list[WalletRecord] = []
        for name in vault.names():
            record = vault.load(name)
            path = vault.wallet_path(name)
            if record.wallet_id in seen:
                raise WalletFileTampered(
                    path, f"it shares its id with wallet {seen[record.wallet_id]!r}"
                )
            seen[record.wallet_id] = name
            if record.mac is not None:  # written by an upgrade that was interrupted
                unlocked.check(record, path)
            else:
                if not public_matches_secret(record, unlocked.open(record)):
                    raise WalletFileTampered(
                        path, "its addresses are not the ones its own keys derive"
                    )
                legacy.append(record)
        for record in legacy:
            vault.save(record, unlocked)
        vault.finish_upgrade(unlocked)
