"""The relay's tunables and quota arithmetic (pure, stdlib only): what one connection, one
sender and one mailbox may use, and the token buckets that count it.

One place for the numbers: the server, both stores and ``walletim relay serve``'s option
defaults read them from here.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_MAX_MAILBOX = 10_000  # messages one mailbox may hold
DEFAULT_TTL_S = 30 * 24 * 3600
DEFAULT_RATE = 2000.0  # frames per second per connection
DEFAULT_BURST = 4000
DEFAULT_BUNDLE_RATE = 1.0  # lookups (bundles, device lists) per second per connection
DEFAULT_BUNDLE_BURST = 30
MAX_WATCH = 1024  # directories one connection may watch
#: Connections open at once from one IP address (a NAT may hide many users behind one).
MAX_PER_IP = 1000
#: One-time prekeys handed out per directory, across all connections: beyond this budget
#: bundles are served without one (X3DH still works; the prekeys are not drained).
DEFAULT_OPK_PER_HOUR = 100
DEFAULT_OPK_RATE = DEFAULT_OPK_PER_HOUR / 3600  # per second
DEFAULT_OPK_BURST = DEFAULT_OPK_PER_HOUR
#: Of a mailbox's room, how much envelopes from strangers (senders without the owner's
#: delivery token) may take at most, by default: a tenth. The rest is kept for contacts.
DEFAULT_STRANGER_SHARE_DIVISOR = 10
#: Envelopes one stranger (a sender without the recipient's delivery token) may leave in one
#: mailbox per window: per sender (the logged-in mailbox, else the IP address) and per
#: connection; and from one IP address, whoever is logged in on its connections.
DEFAULT_STRANGER_QUOTA = 30
DEFAULT_STRANGER_IP_QUOTA = 120
DEFAULT_STRANGER_WINDOW_S = 3600
DEFAULT_MAX_BACKUP = 16 * 1024 * 1024  # bytes of one encrypted chat backup, at most
DEFAULT_BACKUPS_PER_HOUR = 10  # backup uploads one IP address may start per hour
#: Bytes of every stored backup together, at most: past it an upload is refused (nothing
#: kept is evicted for a stranger's upload), until backups are replaced smaller, deleted or
#: expire.
DEFAULT_MAX_BACKUPS_TOTAL = 4 * 1024**3
#: A stored backup not replaced for this long is deleted (a home backs up again by then).
DEFAULT_BACKUP_TTL_S = 365 * 24 * 3600
DEFAULT_FULL_RETRY_S = 60  # the retry hint for a full mailbox (seconds)
#: How long (at most) an acknowledged message's id is remembered, so a sender retrying an
#: already delivered message is told ``sent`` and nothing is delivered twice.
DEFAULT_DEDUPE_MS = 24 * 3600 * 1000
MAX_BUCKETS = 100_000  # rate-limit keys tracked in memory (least recently used dropped)

#: A quota bucket: (key, tokens per second, at most this many saved up).
BucketSpec = tuple[str, float, int]


@dataclass(frozen=True, slots=True)
class RelayLimits:
    """The relay's tunables (all per connection unless said otherwise)."""

    ttl_s: int = DEFAULT_TTL_S  # undelivered mail older than this is deleted
    rate: float = DEFAULT_RATE  # frames/s; over the limit the connection is closed (4429)
    burst: int = DEFAULT_BURST
    bundle_rate: float = DEFAULT_BUNDLE_RATE  # lookups/s; over: error rate_limited
    bundle_burst: int = DEFAULT_BUNDLE_BURST
    max_watch: int = MAX_WATCH
    opk_rate: float = DEFAULT_OPK_RATE  # one-time prekeys handed out per directory per second
    opk_burst: int = DEFAULT_OPK_BURST
    dedupe_ms: int = DEFAULT_DEDUPE_MS  # how long acknowledged ids are remembered
    max_per_ip: int = MAX_PER_IP  # connections from one address (0: any); beyond: closed (1013)
    #: Envelopes without the recipient's delivery token one mailbox may hold at most (None:
    #: a tenth of the mailbox); the rest of the mailbox is kept for the owner's contacts.
    stranger_share: int | None = None
    stranger_quota: int = DEFAULT_STRANGER_QUOTA  # per sender and per connection, per mailbox
    stranger_ip_quota: int = DEFAULT_STRANGER_IP_QUOTA  # per IP address per mailbox (0: off)
    stranger_window_s: int = DEFAULT_STRANGER_WINDOW_S  # the quotas' window (seconds)
    full_retry_s: int = DEFAULT_FULL_RETRY_S  # retry hint when a mailbox is full
    max_backup: int = DEFAULT_MAX_BACKUP  # bytes of one stored chat backup (0: none stored)
    backups_per_hour: int = DEFAULT_BACKUPS_PER_HOUR  # uploads started per IP (all nodes)
    max_backups_total: int = DEFAULT_MAX_BACKUPS_TOTAL  # bytes of all stored backups (all nodes)
    backup_ttl_s: int = DEFAULT_BACKUP_TTL_S  # a backup not replaced for this long is deleted

    def share(self, max_mailbox: int) -> int:
        """Strangers' envelopes a mailbox may hold."""
        if self.stranger_share is not None:
            return max(0, min(self.stranger_share, max_mailbox))
        return max(1, max_mailbox // DEFAULT_STRANGER_SHARE_DIVISOR)

    def quota_retry_s(self) -> int:
        """Seconds until a stranger's empty quota bucket has a token again."""
        return max(1, math.ceil(self.stranger_window_s / max(1, self.stranger_quota)))

    def stranger_buckets(
        self, connection: str, mailbox: str | None, address: str
    ) -> tuple[BucketSpec, ...]:
        """The quota buckets a stranger's send takes a token from (each per recipient
        mailbox): the connection's; the sender's (its ``mailbox`` once logged in, else its IP
        ``address``); and its IP address's, whoever is logged in (if that quota is on)."""
        window = max(1, self.stranger_window_s)
        quota = max(0, self.stranger_quota)
        rate = quota / window
        sender = "a:" + mailbox if mailbox is not None else "s:" + address
        buckets: list[BucketSpec] = [("c:" + connection, rate, quota), (sender, rate, quota)]
        if self.stranger_ip_quota > 0:
            ip_quota = self.stranger_ip_quota
            buckets.append(("i:" + address, ip_quota / window, ip_quota))
        return tuple(buckets)


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        if self.available():
            self.tokens -= 1.0
            return True
        return False

    def available(self) -> bool:
        """Refill for the time passed; True if a token can be taken."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens >= 1.0


class Buckets:
    """Token buckets by key, in memory; beyond ``limit`` keys the least recently used is
    dropped (it comes back full)."""

    def __init__(self, limit: int = MAX_BUCKETS) -> None:
        self.limit = limit
        self._table: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._table)

    def get(self, key: str, rate: float, burst: float) -> TokenBucket:
        bucket = self._table.pop(key, None) or TokenBucket(rate, burst)
        self._table[key] = bucket
        while len(self._table) > self.limit:
            self._table.popitem(last=False)
        return bucket

    def take(self, key: str, rate: float, burst: float) -> bool:
        """Take one token from bucket ``key``; False when it is empty."""
        return self.get(key, rate, burst).take()

    def take_all(self, specs: Iterable[BucketSpec], prefix: str = "") -> bool:
        """Take one token from each bucket, or (if any is empty) none at all."""
        buckets = [self.get(prefix + key, rate, burst) for key, rate, burst in specs]
        if not all(b.available() for b in buckets):
            return False
        for b in buckets:
            b.tokens -= 1.0
        return True
