"""Security alerts to yourself: the Python API behind ``walletim watch`` and
``walletim chat listen --watch``.

Example (a script)::

    from walletim.app.session import Session
    with Session("~/.walletim", password="...") as s:
        w = s.watcher()
        limits = [w.parse_threshold("1eth"), w.parse_threshold("500 USDC")]
        w.scan("alice", limits)            # first run: starts at the head, no alerts
        for alert in w.scan("alice", limits):
            print(alert.kind, alert.text)

A scan looks at the blocks after the account's cursor (the first scan of an account on a
chain only records the head) and posts an alert into the account's conversation with
itself for each of:

- ``incoming``: ETH sent to the account (a successful transaction's value; ETH moved by a
  contract's internal call is not seen), an ERC-20 or ERC-721 Transfer to it;
- ``unsigned``: a transaction from the account that this home did not sign (it is not in
  the home's transactions table): the key may be compromised;
- ``approval``: an ERC-20 Approval with a non-zero amount (flagged unlimited from 2**255),
  an ERC-721 single-token approval, or ApprovalForAll(approved=true), granted by the account;
- ``outflow``: ETH or an ERC-20 leaving the account above a threshold set for that asset
  (also when this home signed it);
- ``spoofing``: an event that pretends something happened to the account: an Approval
  naming it as owner in a transaction it did not send that no permit it signed explains
  (checked: the permit's signature must recover to the account; for a listed token the
  allowance must really be there), or a transfer of an impostor token;
- ``summary``: alerts held back by the rate limit, counted in one line;
- with a lending collaborator (``Session.watcher`` wires it): Aave's ``lending-health`` and
  ``lending-liquidation`` (walletim.app.lending.alerts), after the blocks are scanned.

Tokens are named only through the token lists (walletim.app.tokens): an unlisted token by its
address, marked unlisted (or IMPOSTOR), and on an event from an unlisted contract no
address is given a contact's or wallet's name (the contract chose those addresses). Alerts
from one contract are rate-limited per account: at most RATE_LIMIT per RATE_WINDOW_S for an
unlisted contract (and for incoming transfers of a listed one), the rest claimed (never
posted later) and counted in one summary line per contract per window, so a hostile contract
cannot bury the other alerts. Alerts that are not from a contract (ETH, transactions this
home did not sign) and approvals and outflows of listed tokens are never held back.

Each alert has a dedupe key (kind, chain id, block hash, transaction hash, log index): it is
claimed in the same database transaction that stores its message and moves the cursor, so
re-scanning blocks (two watchers, a crash before the cursor moved, ``from_block``) never
posts it twice, and a crash cannot lose one. Amounts are ints in base units (wei for ETH).

Modules: :mod:`~walletim.app.watch.scan` (the Watcher: cursor, chunks, reorgs),
:mod:`~walletim.app.watch.alerts` (the alert kinds, from decoded token events),
:mod:`~walletim.app.watch.permits` (is a spoofed-looking approval real),
:mod:`~walletim.app.watch.post` (posting once each, the rate limit),
:mod:`~walletim.app.watch.ports` (what it needs, as Protocols).
"""

from __future__ import annotations

from typing import Protocol

from walletim.app.watch.model import KINDS, LOG_CHUNK, RATE_LIMIT, Alert, Threshold
from walletim.app.watch.ports import Clock, Shown
from walletim.app.watch.scan import Watcher


class WatcherSource(Protocol):
    """What wires a Watcher (a Session): this module never imports the session itself."""

    def watcher(self, *, clock: Clock | None = None, chunk: int | None = None) -> Watcher: ...


def watcher_for(
    session: WatcherSource, *, clock: Clock | None = None, chunk: int | None = None
) -> Watcher:
    """A Watcher over a Session's services (``Session.watcher``)."""
    return session.watcher(clock=clock, chunk=chunk)


__all__ = [
    "KINDS",
    "LOG_CHUNK",
    "RATE_LIMIT",
    "Alert",
    "Shown",
    "Threshold",
    "Watcher",
    "watcher_for",
]
