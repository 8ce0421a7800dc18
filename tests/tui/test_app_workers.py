"""What the app's workers (sending, money, a dialog's action, the listener, the check of
money not final) do when they fail or hang: a failure that is not walletim's own (a bug, an
OSError) is said in one line, without its text, and the app goes on; a node that answers
whether it is there but hangs on the ledger's questions is said unreachable, as one that
hangs on the first question is, and a message typed meanwhile does not wait for it."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HOME_PASSWORD
from tests.tui.conftest import BOB, ME, NO_RELAY, add, opener_for, snapshot_app
from tests.tui.screen import aio, screen_text
from tests.tui.test_app_live import until

#: What the user's words or a path could be: never on the screen after a failure.
PRIVATE = "the secret words 你好 /home/me/.walletim"


def status(app: Any) -> str:
    return str(app.query_one("#status").render())


@aio
async def test_a_bug_in_sending_is_said_in_one_line_and_the_app_goes_on(
    filled_home: Path,
) -> None:
    """A send that fails with a bug (not a walletim error) said nothing: "sending…" stayed
    on the status line. It says the CLI's internal error line, naming the exception's type
    only (its text may carry the user's words), and the next message is sent."""
    app = snapshot_app(filled_home)

    def broken(peer: str, text: str) -> Any:
        raise KeyError(PRIVATE)

    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        app.doer.send = broken
        await pilot.press("enter", "h", "i", "enter")
        await until(pilot, lambda: "internal error" in status(app), "the failure said", 10)
        line = status(app)
        assert line.startswith("the action failed: internal error (KeyError)") and "\n" not in line
        assert "WALLETIM_DEBUG=1" in line and app.last_error == line
        assert "secret" not in screen_text(app) and "Traceback" not in screen_text(app)
        app.doer.send = lambda peer, text: []  # the relay took it
        await pilot.press("o", "k", "enter")
        await until(pilot, lambda: status(app) == "sent", "the next message sent", 10)


@aio
async def test_a_bug_in_an_action_or_a_dialogs_action_is_said_and_the_app_goes_on(
    filled_home: Path,
) -> None:
    """Any action run on a worker (a dialog's, a money command's) failing with an OSError
    says so, without the error's text (a path, a file name)."""
    app = snapshot_app(filled_home)

    def job() -> str:
        raise OSError(13, "Permission denied", PRIVATE)

    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        app.status("accept…")
        app._work(job)
        await until(pilot, lambda: "internal error" in status(app), "the failure said", 10)
        assert status(app).startswith("the action failed: internal error (PermissionError)")
        assert "secret" not in screen_text(app)
        app._work(lambda: "accepted")
        await until(pilot, lambda: status(app) == "accepted", "the next action", 10)


@aio
async def test_a_bug_in_the_money_check_is_said_once_and_checks_go_on(
    filled_home: Path,
) -> None:
    """The periodic check failing with a bug says so once (not again every few seconds over
    what the user's actions say), and the checks go on: one that ends well clears it."""
    app = snapshot_app(filled_home)
    asked: list[bool] = []

    def broken(*, down: bool = False) -> bool | None:
        asked.append(down)
        raise TypeError(PRIVATE)

    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        app.doer.check = broken
        app._check_money()
        await until(pilot, lambda: "internal error" in status(app), "the failure said", 10)
        assert status(app).startswith("the check of money not final failed: internal error")
        assert "secret" not in screen_text(app)
        await until(pilot, lambda: not app._checking, "the check's end", 10)
        app.status("sent", "green")
        app._check_money()  # fails again: not said again
        await until(pilot, lambda: len(asked) == 2 and not app._checking, "the second check", 10)
        await pilot.pause(0.2)
        assert status(app) == "sent"
        app.doer.check = lambda *, down=False: True
        app._check_money()
        await until(pilot, lambda: not app._checking, "a check that ends well", 10)
        await pilot.pause(0.2)
        app.doer.check = broken
        app._check_money()  # failing after one that ended well: said again
        await until(pilot, lambda: "internal error" in status(app), "said again", 10)


class _Listening:
    """A listener that fails with a bug as it starts."""

    def run(self) -> None:
        raise RuntimeError(PRIVATE)

    def stop(self) -> None:
        return


@aio
async def test_a_bug_in_the_listener_says_listening_stopped(filled_home: Path) -> None:
    from walletim.tui.app import build

    app = build(opener_for(filled_home), "dev", listen=False)
    app.live = _Listening()  # type: ignore[assignment]
    app.doer.check = lambda *, down=False: None  # type: ignore[method-assign]
    async with app.run_test(size=(100, 24)) as pilot:
        await until(pilot, lambda: "internal error" in status(app), "the failure said", 10)
        assert status(app).startswith("relay: listening stopped: internal error (RuntimeError)")
        assert app.listening.startswith("listening stopped")
        assert "secret" not in screen_text(app)


def test_the_app_and_the_cli_say_an_internal_error_in_the_same_words() -> None:
    from walletim.config import internal_error_text

    text = internal_error_text(KeyError(PRIVATE))
    assert text == (
        "internal error (KeyError); rerun with WALLETIM_DEBUG=1 for details and report it"
    )


# -- a node that answers whether it is there, then hangs ---------------------------------------

#: What the node answers at once: whether it is there (its head), and which chain it is.
ANSWERED = {"eth_blockNumber": "0x64", "eth_chainId": "0x7a69"}


class HalfHungNode:
    """A node on loopback that answers :data:`ANSWERED` at once and holds every other
    question (a receipt, logs, a call) until :attr:`released`, then refuses it."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.held = 0
        handler = type("Handler", (_Handler,), {"node": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reply(self, request: Any) -> Any:
        """The answer to one request or a batch, once every question in it may be answered."""
        batch = request if isinstance(request, list) else [request]
        if any(r.get("method") not in ANSWERED for r in batch):
            self.held += 1
            self.released.wait(60)
        replies = []
        for r in batch:
            reply: dict[str, Any] = {"jsonrpc": "2.0", "id": r.get("id")}
            if r.get("method") in ANSWERED:
                reply["result"] = ANSWERED[r["method"]]
            else:
                reply["error"] = {"code": -32000, "message": "header not found"}
            replies.append(reply)
        return replies if isinstance(request, list) else replies[0]

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    """One HTTP/1.1 keep-alive connection to :attr:`node` (set by the subclass it makes)."""

    protocol_version = "HTTP/1.1"
    node: HalfHungNode

    def log_message(self, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        payload = json.dumps(self.node.reply(json.loads(body))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


#: Anvil's dev:1 key (bob's): he signs the claim of the payment to me not checked yet.
BOB_KEY = bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")


def payment_to_check(home: Path) -> None:
    """A payment from bob, his claim signed, that the ledger has not found on chain yet:
    each check asks the node for its transaction."""
    from walletim.app.session import Session
    from walletim.keys.signing import LocalSigner
    from walletim.messaging.kinds import Asset, PaymentClaim
    from walletim.store.wim import WimRepo

    tx = "0x" + "e1" * 32
    unsigned = PaymentClaim(31337, tx, BOB, ME, Asset(None, "ETH", 18), 10**17, "", None, "")
    signature = LocalSigner(BOB_KEY).sign_typed_data(unsigned.typed_data())
    claim = dataclasses.replace(unsigned, signature="0x" + signature.bytes.hex())
    with Session(home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
        mid = add(s, BOB, "in", "payment", "paid 0.1 ETH", 1, body=claim.to_json())
        WimRepo(s.open_store()).add_payment(
            account=ME, message_id=mid, direction="in", peer=BOB, chain_id=31337,
            tx_hash=tx, asset=None, symbol="ETH", decimals=18, amount=10**17, payer=BOB,
            payee=ME, note="", request_id=None,
        )  # fmt: skip


@pytest.fixture
def half_hung() -> Iterator[HalfHungNode]:
    node = HalfHungNode()
    try:
        yield node
    finally:
        node.close()


class _Quiet:
    """A listener that hears nothing until stopped (the app's checks run while it listens)."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def run(self) -> None:
        self._stop.wait(60)

    def stop(self) -> None:
        self._stop.set()


@aio
async def test_a_node_that_answers_the_ping_but_hangs_on_the_ledger_is_said_unreachable(
    filled_home: Path, half_hung: HalfHungNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node answers whether it is there, then holds the ledger's questions about a
    payment not final: the cards just stayed as they were, no word, and a message typed
    meanwhile waited for the node's 30 s timeout (the check held the actions' lock). Now
    a message is not held, and the check not ended within the app's limit is the node not
    answering (title, status line); released, the node answers again."""
    from walletim.tui import app as tui_app
    from walletim.tui.app import build

    payment_to_check(filled_home)
    monkeypatch.setattr(tui_app, "CHECK_EVERY", 0.25)
    app = build(opener_for(filled_home, rpc_url=half_hung.url), "dev", listen=False)
    app.live = _Quiet()  # type: ignore[assignment]
    app.node_silent_s = 1.0
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: half_hung.held > 0, "the ledger's question held", 20)
        assert "unreachable" not in app.sub_title  # it answered whether it is there
        await pilot.press("enter", "h", "i", "enter")  # no relay: refused at once
        await until(pilot, lambda: "not sent" in status(app), "the send's end", 5)
        await until(pilot, lambda: "node unreachable since" in app.sub_title, "the title", 10)
        assert app.status_line == "node unreachable: no answer within 1 s"
        assert half_hung.held == 1 and app._checking  # said while the question still waits
        half_hung.released.set()
        await until(pilot, lambda: "unreachable" not in app.sub_title, "the node again", 20)
        assert app.status_line == "node answers again"


@aio
async def test_with_walletim_debug_a_bug_ends_the_app_to_be_shown_whole(
    filled_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The line says "rerun with WALLETIM_DEBUG=1 for details": then the app ends on the
    bug (exit status 70, as the CLI's), its traceback shown after the screen is gone."""
    monkeypatch.setenv("WALLETIM_DEBUG", "1")
    app = snapshot_app(filled_home)

    def job() -> str:
        raise ZeroDivisionError("a bug")

    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        app._work(job)
        await until(pilot, lambda: app.return_code is not None, "the app's end", 10)
    assert app.return_code == 70
