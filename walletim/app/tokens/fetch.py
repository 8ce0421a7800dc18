"""Fetching a token list: from a file, or a URL (https; plain http only to this machine),
bounded in size and time, redirects held to the same rules."""

from __future__ import annotations

import ipaddress
import time
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPMessage, HTTPResponse
from pathlib import Path
from typing import IO

from walletim import fsio
from walletim.contracts.tokenlist import MAX_LIST_BYTES
from walletim.errors import ConfigError, InputError, shown

FETCH_TIMEOUT_S = 30.0


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_url(url: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return parts
    if parts.scheme == "http" and _loopback(parts.hostname):
        return parts
    if parts.scheme == "http":
        raise InputError(
            "a token list is fetched over https (plain http only from this machine, "
            "127.0.0.1 / localhost)"
        )
    raise InputError(f"cannot fetch a token list from {shown(url)}: use an https URL or a file")


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Redirects under the rules of the first URL: never from https to http."""

    max_redirections = 5

    def __init__(self, first: urllib.parse.SplitResult) -> None:
        self.first = first

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        target = _check_url(newurl)
        if self.first.scheme == "https" and target.scheme != "https":
            raise InputError("the token list URL redirects from https to http: refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def read_source(
    source: str, *, limit: int = MAX_LIST_BYTES, timeout: float = FETCH_TIMEOUT_S
) -> bytes:
    """The bytes of a token list from a file or a URL (https, or http to loopback), at most
    ``limit`` bytes within ``timeout`` seconds; redirects must follow the same rules.

    Raises:
        InputError: a refused URL, a failed fetch, too large, too slow, unreadable file.
    """
    if "://" not in source:
        try:
            return fsio.read_bytes(Path(source).expanduser(), limit=limit, what="token list")
        except ConfigError as exc:
            raise InputError(str(exc)) from exc
    first = _check_url(source)
    handlers: list[urllib.request.BaseHandler] = [_Redirects(first)]
    if _loopback(first.hostname):
        handlers.append(urllib.request.ProxyHandler({}))  # never send loopback to a proxy
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        source, headers={"Accept": "application/json", "User-Agent": "walletim"}
    )
    where = f"{first.scheme}://{first.netloc}"
    try:
        with opener.open(request, timeout=min(10.0, timeout)) as response:
            return _read_bounded(response, where, limit, time.monotonic() + timeout, timeout)
    except urllib.error.HTTPError as exc:
        raise InputError(f"fetching the token list from {where} failed: HTTP {exc.code}") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason if isinstance(exc.reason, str) else type(exc.reason).__name__
        raise InputError(f"cannot fetch the token list from {where}: {str(reason)[:80]}") from exc
    except TimeoutError as exc:
        raise InputError(f"fetching the token list from {where} timed out") from exc
    except OSError as exc:
        raise InputError(
            f"cannot fetch the token list from {where}: {exc.strerror or exc}"
        ) from exc


def _read_bounded(
    response: HTTPResponse, where: str, limit: int, deadline: float, timeout: float
) -> bytes:
    """The body, at most ``limit`` bytes, read before ``deadline`` (a monotonic time)."""
    length = response.headers.get("Content-Length")
    if length is not None and length.isascii() and length.isdigit() and int(length) > limit:
        raise InputError(f"the token list at {where} is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise InputError(f"fetching the token list from {where} took over {timeout:g} s")
        chunk = response.read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise InputError(f"the token list at {where} is larger than {limit} bytes")
        chunks.append(chunk)
