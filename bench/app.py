"""The app's benchmarks (issue 16), through Textual's pilot (headless, the real app):

* first paint -- from building the app (opening the home's store, a fast KDF) to its first
  screen ready (conversation list and the newest conversation drawn), with 100,000 messages
  in the store (one conversation of 99,000, and 100 of 10) against an empty store measured in
  the same run. Goal: <= 10x.
* scrolling -- paging up through a 10,000-message conversation to its first message: the
  Python heap once 10 pages are mounted against at the end (rows beyond 300 are unmounted).
* push to screen -- a message sent by a peer (another home, over a real relay process) until
  its row is mounted in the open conversation (and until the next screen update): from when
  the peer's ``send`` returned, i.e. once the relay had it and pushed it. Goal: median <= 50 ms.

Run alone: ``.venv/bin/python bench/app.py`` (prints a markdown section; progress on stderr).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench password, not a secret"
MNEMONIC = "test test test test test test test test test test test junk"
NO_RELAY = "ws://127.0.0.1:9"
GOAL_PAINT_RATIO = 10.0
GOAL_PUSH_MS = 50.0


def log(text: str) -> None:
    print(f"[bench/app] {text}", file=sys.stderr, flush=True)


def make_home(home: Path, messages: int, relay: str = NO_RELAY) -> None:
    from walletim.app.session import Session
    from walletim.store.chat import ChatRepo

    with Session(home, PASSWORD, relay_url=relay, fast_kdf=True) as s:
        s.wallets.import_mnemonic("dev", MNEMONIC)
        me = s.chat.address("dev")
        repo = ChatRepo(s.open_store())
        big = max(0, messages - 1000)
        with repo.tx() as tx:
            for n in range(messages):
                peer = f"0x{(n % 100 if n >= big else 100):040x}"
                cid = tx.conversation(me, peer)
                text = f"message {n} 你好 🎉"
                tx.add_message(
                    cid, "in" if n % 2 else "out", "text", {"text": text}, text,
                    sent_ms=1_700_000_000_000 + n, state="received" if n % 2 else "sent",
                )  # fmt: skip


def opener(home: Path, relay: str = NO_RELAY) -> Callable[[], Any]:
    from walletim.app.session import Session

    return lambda: Session(home, PASSWORD, relay_url=relay, fast_kdf=True)


async def first_paint(home: Path) -> float:
    from walletim.tui.app import build

    t0 = time.perf_counter()
    app = build(opener(home), "dev", listen=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        took = time.perf_counter() - t0
    app.reader.s.close()
    return took


def bench_first_paint(runs: int = 7) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        empty, full = Path(tmp) / "empty", Path(tmp) / "full"
        make_home(empty, 0)
        log("writing 100,000 messages")
        make_home(full, 100_000)
        asyncio.run(first_paint(empty))  # warm imports
        e = [asyncio.run(first_paint(empty)) for _ in range(runs)]
        f = [asyncio.run(first_paint(full)) for _ in range(runs)]
    return statistics.median(e), statistics.median(f)


async def until(ok: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.0005)


def _shown(app: Any, text: str) -> bool:
    rows = app.messages.rows
    return bool(rows) and rows[-1].message.text == text


async def push_latency(app: Any, send: Callable[[str], None], n: int) -> tuple[list[float], ...]:
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: app.listening == "live", "the listener")
        log("listening")
        await asyncio.to_thread(send, "warm up")
        await until(lambda: bool(app.reader.conversations()), "the first message")
        await app.open_conversation(app.reader.conversations()[0].peer)
        mounted, painted, whole = [], [], []
        for k in range(n):
            text = f"push {k}"
            t_before = time.perf_counter()
            await asyncio.to_thread(send, text)
            t0 = time.perf_counter()
            await until(partial(_shown, app, text), f"message {k}")
            t1 = time.perf_counter()
            await pilot.pause()
            t2 = time.perf_counter()
            mounted.append(t1 - t0)
            painted.append(t2 - t0)
            whole.append(t1 - t_before)
    return mounted, painted, whole


def bench_push(n: int = 40) -> tuple[float, float, float]:
    from tests.conftest import RelayProcess
    from walletim.app.session import Session
    from walletim.tui.app import build

    with tempfile.TemporaryDirectory() as tmp:
        relay = RelayProcess(Path(tmp) / "relay.db", Path(tmp) / "relay.log").start()
        try:
            alice, bob = Path(tmp) / "alice", Path(tmp) / "bob"
            make_home(alice, 0, relay.url)
            make_home(bob, 0, relay.url)
            with Session(bob, PASSWORD, relay_url=relay.url, fast_kdf=True) as b:
                a = Session(alice, PASSWORD, relay_url=relay.url, fast_kdf=True)
                a.chat.init("dev:0")
                b.chat.init("dev:1")
                to = b.chat.address("dev:0")
                # alice writes first: bob holds her delivery key, so he is no stranger to her
                # mailbox (strangers get a share and an hourly quota on the relay)
                a.chat.send("dev:0", b.chat.address("dev:1"), "hi bob")
                a.close()
                b.chat.inbox("dev:1")
                app = build(opener(alice, relay.url), "dev:0")

                def send(text: str) -> None:
                    b.chat.send("dev:1", to, text)

                mounted, painted, whole = asyncio.run(push_latency(app, send, n))
                app.reader.s.close()
        finally:
            relay.close()
    return statistics.median(mounted), statistics.median(painted), statistics.median(whole)


async def scroll_memory(home: Path) -> tuple[float, float, int]:
    """Page back through a whole 10,000-message conversation; Python heap (tracemalloc,
    after a collection) once 10 pages are mounted and at the start of the conversation."""
    import gc
    import tracemalloc

    from walletim.tui.app import build

    app = build(opener(home), "dev", listen=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.open_conversation(f"0x{100:040x}")  # the long one (see make_home)
        m = app.messages
        m.focus()
        sizes, pages = [], 0
        tracemalloc.start()
        while not m.at_start:
            m.index = 0
            await pilot.press("up")
            await pilot.pause()
            pages += 1
            if pages % 10 == 0 or m.at_start:
                gc.collect()
                sizes.append(tracemalloc.get_traced_memory()[0])
                log(f"  {pages} pages: {sizes[-1] / 2**20:.1f} MiB")
        tracemalloc.stop()
    app.reader.s.close()
    return sizes[0] / 2**20, sizes[-1] / 2**20, pages


def bench_scroll() -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "long"
        make_home(home, 11_000)  # 10,000 in one conversation, 1,000 in 100 others
        return asyncio.run(scroll_memory(home))


def bench_app() -> list[str]:
    if "--push" in sys.argv:  # the second part alone
        mounted, painted, whole = bench_push()
        return [f"push: {mounted * 1e3:.1f} {painted * 1e3:.1f} {whole * 1e3:.1f} ms"]
    if "--scroll" in sys.argv:  # the third part alone
        return [f"scroll: {bench_scroll()}"]
    empty, full = bench_first_paint()
    log(f"first paint: empty {empty * 1e3:.1f} ms, 100,000 messages {full * 1e3:.1f} ms")
    mounted, painted, whole = bench_push()
    log(f"push: mounted {mounted * 1e3:.1f} ms, painted {painted * 1e3:.1f} ms")
    at10, at_end, pages = bench_scroll()
    log(f"scroll: {at10:.1f} MiB after 10 pages, {at_end:.1f} MiB after {pages}")
    ratio = full / empty
    return [
        "## The app (`walletim app`, Textual pilot, 80x24)",
        "",
        "| measure | value | goal |",
        "|---|---|---|",
        f"| first paint, empty store (reference) | {empty * 1e3:.1f} ms | |",
        f"| first paint, 100,000 messages | {full * 1e3:.1f} ms ({ratio:.2f}x) "
        f"| <= {GOAL_PAINT_RATIO:.0f}x: {'met' if ratio <= GOAL_PAINT_RATIO else 'NOT met'} |",
        f"| peer's send called to the row on screen (median; bounds relay push to screen) "
        f"| {whole * 1e3:.1f} ms "
        f"| <= {GOAL_PUSH_MS:.0f} ms: {'met' if whole * 1e3 <= GOAL_PUSH_MS else 'NOT met'} |",
        f"| peer's send returned to the row on screen (median) | {mounted * 1e3:.1f} ms | |",
        f"| ... and the pilot idle again (median) | {painted * 1e3:.1f} ms | |",
        f"| scrolling a 10,000-message conversation: heap after 10 pages (reference) "
        f"| {at10:.1f} MiB | |",
        f"| ... after all {pages} pages, back to its first message | {at_end:.1f} MiB "
        f"| does not grow with it: {'met' if at_end <= at10 * 1.5 else 'NOT met'} |",
    ]


if __name__ == "__main__":
    print("\n".join(bench_app()))
