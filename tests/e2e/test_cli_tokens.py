"""``walletim token list add FILE|URL | show | remove`` end to end, against a real Anvil with
the devnet world and a token list served over HTTP by the test (loopback)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import World

HOSTILE = "0x000000000000000000000000000000000000dEaD"
OTHER = "0x1234567890123456789012345678901234567890"


def a_list(name: str, tokens: list[dict[str, Any]], minor: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "timestamp": "2026-12-01T00:00:00Z",
        "version": {"major": 1, "minor": minor, "patch": 0},
        "tokens": tokens,
    }


def token(address: str, symbol: str, decimals: int = 18, chain: int = 31337) -> dict[str, Any]:
    return {"chainId": chain, "address": address, "symbol": symbol, "name": symbol,
            "decimals": decimals}  # fmt: skip


class Served:
    """An HTTP server on 127.0.0.1 answering each path with the bytes put in ``pages``
    (a 3xx when the value is ("redirect", URL))."""

    def __init__(self) -> None:
        self.pages: dict[str, Any] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = pages.get(self.path)
                if isinstance(page, tuple):
                    self.send_response(302)
                    self.send_header("Location", page[1])
                    self.end_headers()
                    return
                if page is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client stopped reading: fine
                    self.wfile.write(page)

            def log_message(self, *args: Any) -> None:
                pass

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hung up is not a test failure (and prints nothing)

        self.server = Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served()
    yield s
    s.close()


def test_add_a_file_and_a_url_show_and_remove(world: World, served: Served, tmp_path: Path) -> None:
    cli = world.cli()
    base = ["--rpc-url", world.url]
    usdc = world.manifest.contracts["USDC"]
    # The devnet world's list is there without any file.
    shown = cli(*base, "--json", "token", "list", "show")
    assert shown.code == 0, shown.err
    doc = shown.json()
    assert [x["name"] for x in doc["lists"]] == ["walletim devnet world"]
    assert doc["lists"][0]["builtin"] and doc["chain_id"] == 31337
    assert {t["symbol"] for t in doc["tokens"]} >= {"USDC", "DAI", "WETH", "wvDAI", "WIMC"}
    # A file: its tokens on this chain resolve by symbol; those of other chains do not.
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps(a_list("Mine", [token(OTHER, "OTH", 8), token(HOSTILE, "MAIN", 6, chain=1)]))
    )
    added = cli(*base, "--json", "token", "list", "add", str(path))
    assert added.code == 0, added.err
    got = added.json()
    assert (got["name"], got["version"], got["tokens"], got["chains"]) == (
        "Mine",
        "1.0.0",
        1,
        [1, 31337],
    )
    assert got["source"] == str(path.resolve()) and got["replaced"] is None
    human = cli(*base, "token", "list", "add", str(path))
    assert human.code == 0 and "already stored" in human.out
    # A URL on loopback (http): a hostile list claiming USDC at another address.
    served.pages["/hostile.json"] = json.dumps(
        a_list("Hostile", [token(HOSTILE, "USDC", 6)])
    ).encode()
    via_url = cli(*base, "token", "list", "add", served.url + "/hostile.json")
    assert via_url.code == 0, via_url.err
    assert "added token list 'Hostile' 1.0.0: 1 token(s) on this network" in via_url.out
    assert "USDC is now claimed by 2 tokens" in via_url.err
    # USDC is now ambiguous: refused by symbol, fine by address.
    info = cli(*base, "token", "info", "USDC")
    assert info.code == 1 and len(info.err_lines) == 1 and "ambiguous" in info.err
    assert cli(*base, "token", "info", usdc).code == 0
    listing = cli(*base, "token", "list", "show")
    assert listing.code == 0 and "USDC is ambiguous here" in listing.out
    assert f"USDC (0x{usdc[2:6]}…{usdc[-4:]})" in listing.out
    doc = cli(*base, "--json", "token", "list", "show").json()
    assert [x["name"] for x in doc["lists"]] == ["walletim devnet world", "Mine", "Hostile"]
    assert doc["ambiguous"] == {"USDC": [usdc, HOSTILE]}
    # A newer version by URL replaces it; removing it makes USDC plain again.
    served.pages["/hostile.json"] = json.dumps(
        a_list("Hostile", [token(HOSTILE, "USDC", 6), token(OTHER, "OTH", 8)], minor=1)
    ).encode()
    update = cli(*base, "--json", "token", "list", "add", served.url + "/hostile.json").json()
    assert update["replaced"] == "1.0.0" and update["version"] == "1.1.0"
    assert cli(*base, "token", "list", "remove", "hostile").code == 0
    assert cli(*base, "--json", "token", "info", "USDC").json()["address"] == usdc
    # A token of another chain in the same list names nothing here.
    main = cli(*base, "token", "info", "MAIN")
    assert main.code == 1 and "unknown token 'MAIN'" in main.err


def test_bad_lists_and_sources_are_refused_in_one_line(
    world: World, served: Served, tmp_path: Path
) -> None:
    cli = world.cli()
    base = ["--rpc-url", world.url]
    usdc = world.manifest.contracts["USDC"]
    files = {
        "garbage.json": b"{not json",
        "empty.json": json.dumps(a_list("Empty", [])).encode(),
        "bidi.json": json.dumps(a_list("Bidi", [token(OTHER, "USDC\u202e")])).encode(),
        "decimals.json": json.dumps(a_list("Liar", [token(usdc, "USDC", 18)])).encode(),
        "huge.json": b" " * (16 * 1024 * 1024 + 1),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    served.pages["/big.json"] = b"[" + b" " * (16 * 1024 * 1024 + 10) + b"]"
    served.pages["/away.json"] = ("redirect", "http://192.0.2.1/list.json")
    cases = [
        (str(tmp_path / "garbage.json"), "not JSON"),
        (str(tmp_path / "empty.json"), "tokens must be an array"),
        (str(tmp_path / "bidi.json"), "invisible"),
        (str(tmp_path / "decimals.json"), "gives " + usdc + " 18 decimals"),
        (str(tmp_path / "huge.json"), "larger than"),
        (str(tmp_path / "missing.json"), "does not exist"),
        (served.url + "/big.json", "larger than"),
        (served.url + "/nothing.json", "HTTP 404"),
        (served.url + "/away.json", "plain http only from this machine"),
        ("http://192.0.2.1/list.json", "plain http only from this machine"),
        ("ftp://127.0.0.1/list.json", "use an https URL or a file"),
    ]
    for source, why in cases:
        result = cli(*base, "token", "list", "add", source)
        assert result.code == 1, (source, result.out, result.err)
        assert len(result.err_lines) == 1 and why in result.err, (source, result.err)
        assert "Traceback" not in result.err
    as_json = cli(*base, "--json", "token", "list", "add", str(tmp_path / "garbage.json"))
    assert json.loads(as_json.err)["error"]["type"] == "TokenListError"
    # Nothing was stored by any of them.
    doc = cli(*base, "--json", "token", "list", "show").json()
    assert [x["name"] for x in doc["lists"]] == ["walletim devnet world"]
    assert not (world.home / "tokenlists").exists() or not list(
        (world.home / "tokenlists").glob("*.json")
    )
