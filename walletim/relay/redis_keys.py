"""Where the relay's Redis store keeps what (pure): key and channel names, and stream ids
as message ``seq`` numbers.

Layout (``P`` is the key prefix, ``walletim:`` by default; ``{id}`` is a hash tag):

- ``P{mailbox}:m`` hash: ``ik`` (the owner's identity key: the mailbox is known), ``dir``
  (its directory), ``ms``/``n`` (the last stream id handed out), ``dk`` (the registered
  delivery-token hash);
- ``P{mailbox}:q`` a Redis Stream, one entry per queued envelope (fields ``m`` mid, ``e``
  envelope, ``t`` unix ms), ids ``<ms>-<n>`` with ``ms`` >= the message's ``t`` (so expiry is
  a range of the stream) and strictly increasing (so a stream id is the message's ``seq``);
- ``P{mailbox}:i`` hash mid -> stream id (idempotent enqueue, ack by mid);
- ``P{mailbox}:a`` sorted set of acknowledged mids by ack time (a late retry is ``sent``
  without a second delivery; forgotten after the dedupe window, on every node alike);
- ``P{mailbox}:f`` set of the nodes following the mailbox (a client of theirs listens);
- ``P{mailbox}:x`` set of the mids of strangers' envelopes queued (the stranger share);
  ``P{mailbox}:r:KEY`` the stranger quota buckets (per connection, sender, IP), each
  expiring once full again;
- ``P{directory}:b`` hash (the bundle), ``P{directory}:o`` list of one-time prekeys,
  ``Pused`` set of one-time prekeys ever handed out, ``Pactive`` set of mailboxes with mail,
  ``Prl:KEY`` token buckets (shared rate limits), ``Prelay_id``, ``Prelay_key`` (the seed
  of the relay's Ed25519 key, created once and shared by every node: anyone who can read
  this Redis can also read every mailbox, so it is kept with them);
- ``P{bid}:kv`` hash (``v`` the version id, ``t`` when stored) and ``P{bid}:kb`` string
  (the encrypted archive) of a chat backup, written and read together in MULTI;
  ``Pbackup_bytes`` the bytes of every stored backup together (the relay-wide bound) and
  ``Pbackup_times`` a sorted set of backup ids by when each was stored (their expiry),
  kept with the backups by the same scripts;
- ``P{dir}:dv`` hash: a wallet's device list (``v`` version, ``d`` JSON);
- channels: ``Px:NODE`` (new mail for the mailboxes a node follows), ``Pd:DIRECTORY``
  (a directory published a bundle).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PREFIX = "walletim:"
SEQ_SHIFT = 20  # seq = ms << 20 | n (n < 2**20 per ms: the script moves to the next ms)


def seq_of(stream_id: bytes | str) -> int:
    """A stream id ``ms-n`` as the integer ``seq`` (order preserved)."""
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    ms, _, n = text.partition("-")
    return (int(ms) << SEQ_SHIFT) | int(n or 0)


def stream_id(seq: int) -> str:
    return f"{seq >> SEQ_SHIFT}-{seq & ((1 << SEQ_SHIFT) - 1)}"


def shown_url(url: str) -> str:
    """A Redis URL without its password (safe to show and log)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        path = parts.path
    except ValueError:
        return "<invalid Redis URL>"
    if parts.scheme == "unix":
        return f"unix://{path}"
    return f"{parts.scheme}://{host}{port}{path}" if parts.scheme else "<invalid Redis URL>"


@dataclass(frozen=True, slots=True)
class Keys:
    """The names under one ``prefix``."""

    prefix: str

    def mailbox(self, mailbox: str) -> list[str]:
        """``:m``, ``:q``, ``:i``, ``:a`` of ``mailbox``, then ``active`` (the order the
        scripts take them in)."""
        base = f"{self.prefix}{{{mailbox}}}"
        return [f"{base}:m", f"{base}:q", f"{base}:i", f"{base}:a", self.active]

    def meta(self, mailbox: str) -> str:
        return f"{self.prefix}{{{mailbox}}}:m"

    def queue(self, mailbox: str) -> str:
        return f"{self.prefix}{{{mailbox}}}:q"

    def followers(self, mailbox: str) -> str:
        return f"{self.prefix}{{{mailbox}}}:f"

    def expired(self, mailbox: str) -> str:
        """How much of ``mailbox``'s mail expired undelivered, and when (a hash: n, at)."""
        return f"{self.prefix}{{{mailbox}}}:e"

    def strangers(self, mailbox: str) -> str:
        return f"{self.prefix}{{{mailbox}}}:x"

    def quota(self, mailbox: str, bucket: str) -> str:
        return f"{self.prefix}{{{mailbox}}}:r:{bucket}"

    def directory(self, directory: str) -> tuple[str, str]:
        """The bundle hash and the one-time prekey list of ``directory``."""
        base = f"{self.prefix}{{{directory}}}"
        return f"{base}:b", f"{base}:o"

    def device_list(self, directory: str) -> str:
        """The hash (``v`` the version as 20 digits, ``d`` the JSON) of a wallet's device
        list."""
        return f"{self.prefix}{{{directory}}}:dv"

    def backup(self, bid: str) -> tuple[str, str]:
        """The version hash and the data string of backup ``bid``."""
        base = f"{self.prefix}{{{bid}}}"
        return f"{base}:kv", f"{base}:kb"

    @property
    def backup_totals(self) -> tuple[str, str]:
        """The relay-wide bytes of stored backups, and the backup ids by time stored."""
        return self.prefix + "backup_bytes", self.prefix + "backup_times"

    @property
    def active(self) -> str:
        return self.prefix + "active"

    @property
    def used(self) -> str:
        return self.prefix + "used"

    def rate(self, key: str) -> str:
        return f"{self.prefix}rl:{key}"

    def node_channel(self, node: str) -> str:
        """The channel ``node`` hears new mail on, for the mailboxes it follows."""
        return f"{self.prefix}x:{node}"

    @property
    def published_prefix(self) -> str:
        return self.prefix + "d:"

    def publish_channel(self, directory: str) -> str:
        return self.published_prefix + directory
