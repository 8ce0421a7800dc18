"""How a relay connection's end and URL are shown (pure): close codes as sentences, and a
relay URL without user info, path or query (safe to show and log)."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from walletim.messaging import protocol as p


class Closed(Protocol):
    """A closed websocket (``websockets``' ClientConnection)."""

    @property
    def close_code(self) -> int | None: ...

    @property
    def close_reason(self) -> str | None: ...


CLOSE_REASONS = {
    1000: "the connection was closed",
    1001: "the relay is shutting down",
    1006: "connection lost",
    1009: "a frame was too large for the relay",
    p.CLOSE_TRY_LATER: "the relay refused the connection: too many from this address",
    p.CLOSE_MALFORMED: "the relay rejected a malformed frame",
    p.CLOSE_AUTH_FAILED: "authentication failed",
    p.CLOSE_RATE_LIMITED: "rate limit exceeded",
}


def display_url(url: str) -> str:
    """``url`` without user info, path, query or fragment (safe to show and log)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid relay URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}" if parts.scheme and host else "<invalid relay URL>"


def close_reason(ws: Closed) -> str:
    code = ws.close_code
    if code is None:
        return "connection lost"
    if code == p.CLOSE_AUTH_FAILED:
        # The relay says why (e.g. the login names another relay's URL): printable only.
        said = "".join(c for c in (ws.close_reason or "")[:120] if c.isprintable())
        if said.startswith("authentication failed"):
            return said
    return CLOSE_REASONS.get(code, f"connection closed by the relay (code {code})")
