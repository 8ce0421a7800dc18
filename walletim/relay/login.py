"""Who the relay is, and the login bound to it (pure but for the relay's own signing key).

Each connection gets a challenge carrying the relay's Ed25519 key and its signature over a
fresh nonce (see :mod:`walletim.messaging.protocol`); a login is accepted only if the URL it
is signed for is one of the relay's public URLs (``public_urls``: by default the ws:// URLs
of the address it listens on, loopback aliases included; never the Host header a forwarder
sets), it names the relay's own key, and the chat identity key's signature verifies.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
from collections.abc import Iterable

from nacl.signing import SigningKey

from walletim.errors import MessagingError
from walletim.keys.chat import verify_ed25519
from walletim.messaging import protocol as p
from walletim.relay.limits import RelayLimits

_LOOPBACK_NAMES = ("localhost",)
_WILDCARDS = ("", "0.0.0.0", "::", "*")  # noqa: S104 - recognised, to refuse them

#: Why a login is refused (the close reason the client shows).
WRONG_URL = p.WRONG_URL
BAD_SIGNATURE = "authentication failed"


def default_public_urls(host: str, port: int) -> list[str]:
    """The URLs a login may name when no public URL is configured: ``ws://HOST:PORT`` of the
    address the relay listens on, plus ``localhost`` for a loopback address.

    Raises:
        MessagingError: ``host`` is a wildcard (every address): the relay cannot know which
            URL its clients dial; it needs public URLs.
    """
    if host in _WILDCARDS:
        raise MessagingError(
            f"listening on all addresses ({host or '*'}) needs --public-url URL (each URL "
            "clients dial, e.g. wss://relay.example.com): logins are signed for the relay's URL"
        )
    names = [host]
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_loopback:
            names.append("localhost")
    if host in _LOOPBACK_NAMES:
        names += ["127.0.0.1", "::1"]
    urls = []
    for name in names:
        shown = f"[{name}]" if ":" in name else name
        urls.append(p.normalize_relay_url(f"ws://{shown}:{port}"))
    return list(dict.fromkeys(urls))


def check_public_urls(host: str, urls: Iterable[str]) -> list[str]:
    """``urls`` normalised, or (none given) a check that ``host`` can have default ones.

    Raises:
        MessagingError: a URL that is not ws:// or wss://, or a wildcard ``host`` without URLs.
    """
    given = [p.normalize_relay_url(url) for url in urls]
    if not given:
        default_public_urls(host, 1)
    return list(dict.fromkeys(given))


def advertised(limits: RelayLimits, max_mailbox: int) -> dict[str, int]:
    """The limits a challenge tells every client."""
    return {
        "max_frame": p.MAX_FRAME_BYTES,
        "max_batch": p.MAX_BATCH,
        "max_opks": p.MAX_OPKS,
        "rate": int(limits.rate),
        "burst": limits.burst,
        "bundle_burst": limits.bundle_burst,
        "max_watch": limits.max_watch,
        "max_mailbox": max_mailbox,
        "ttl": limits.ttl_s,
        "stranger_share": limits.share(max_mailbox),
        "stranger_quota": limits.stranger_quota,
        "stranger_ip_quota": limits.stranger_ip_quota,
        "stranger_window": limits.stranger_window_s,
        "max_backup": limits.max_backup,
    }


class RelayIdentity:
    """The relay's id, long-term signing key and public URLs: it signs challenges and
    checks logins. ``seed``: the 32-byte key seed the store keeps (None: a fresh key)."""

    def __init__(self, relay_id: str, seed: bytes | None, public_urls: Iterable[str] = ()) -> None:
        self.relay_id = relay_id
        self._signing = SigningKey(seed or secrets.token_bytes(32))
        #: The relay's long-term public key (what clients pin).
        self.key = bytes(self._signing.verify_key)
        #: The normalised URLs a login may be signed for (see :meth:`listening_on`).
        self.public_urls: tuple[str, ...] = tuple(
            dict.fromkeys(p.normalize_relay_url(u) for u in public_urls)
        )

    def listening_on(self, host: str, port: int) -> None:
        """Without configured public URLs, accept logins for the address listened on."""
        if not self.public_urls:
            self.public_urls = tuple(default_public_urls(host, port))

    def challenge(self, nonce: bytes, limits: dict[str, int]) -> p.Challenge:
        signed = p.challenge_message(self.relay_id, self.key, nonce)
        sig = self._signing.sign(signed).signature
        return p.Challenge(self.relay_id, nonce, limits, self.key, sig)

    def refusal(self, login: p.Auth, nonce: bytes) -> str | None:
        """Why ``login`` (an answer to the challenge with ``nonce``) is refused; None if
        it opens the mailbox of ``login.key``."""
        if login.url not in self.public_urls:
            # Signed for a URL this relay does not serve: another relay passed our challenge
            # on (or a proxy in front of this one is missing from --public-url).
            return WRONG_URL
        if not verify_ed25519(login.key, p.auth_message(login.url, self.key, nonce), login.sig):
            return BAD_SIGNATURE
        return None
