"""The app's periodic check of money not final (walletim.tui.model.Doer.check), on fakes:
the node is asked whether it answers only while something is open or it was down."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from tests.fakes.rpc import FakeNode
from walletim.tui.model import Doer


class _Wim:
    """The ledger's check: asks the node for its head while ``open`` (money not final)."""

    def __init__(self, rpc: Any) -> None:
        self.rpc, self.open = rpc, False

    def check(self, account: str) -> int:
        if self.open:
            from walletim.chain.queries import Q

            self.rpc.get(Q.head())
        return 0


def _session(rpc: Any, wim: Any, chat: Any = None) -> Any:
    """What a Doer reads of a Session: the node's client, the ledger, the chat."""
    return SimpleNamespace(chain=SimpleNamespace(rpc=rpc), wim=wim, chat=chat, open_store=dict)


def test_an_idle_app_asks_the_node_nothing_until_money_is_open() -> None:
    node = FakeNode().on("eth_blockNumber", "0x5")
    rpc = node.client()
    wim = _Wim(rpc)
    doer = Doer(lambda: _session(rpc, wim), "dev")
    assert doer.check() is True and node.round_trips == 1  # the first: is the node there?
    assert doer.check() is None and node.round_trips == 1  # nothing open: nothing asked
    assert doer.check(down=True) is True and node.round_trips == 2  # said down: asked again
    wim.open = True  # a payment not final: the ledger asks, then every check asks the head
    assert doer.check() is None and node.round_trips == 3
    assert doer.check() is True and node.round_trips == 5
    node.down = True
    assert doer.check() is False


class _Chat:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, account: str, peer: str, text: str) -> str:
        self.sent.append(text)
        return "sent"


def sent_at_once(doer: Doer, chat: _Chat) -> None:
    """A message sent while a check waits for the node goes at once; the check still waits."""
    sending = threading.Thread(target=doer.send, args=("0x" + "ab" * 20, "你好"))
    sending.start()
    sending.join(10)
    assert not sending.is_alive() and chat.sent == ["你好"] and doer.asking


def test_a_message_is_sent_while_the_check_waits_for_a_hung_node() -> None:
    """The node takes the check's question and does not answer: a message typed meanwhile
    is sent at once (chat needs no node), not after the node's 30 s timeout."""
    answer = threading.Event()
    node = FakeNode().on("eth_blockNumber", lambda _: "0x5" if answer.wait(30) else "0x0")
    chat = _Chat()
    session = _session(node.client(), _Wim(None), chat)
    doer = Doer(lambda: session, "dev")
    checking = threading.Thread(target=doer.check)
    checking.start()
    try:
        for _ in range(1000):
            if doer.asking:
                break
            threading.Event().wait(0.01)
        assert doer.asking
        sent_at_once(doer, chat)
    finally:
        answer.set()
        checking.join()
    assert doer.node_error is None and not doer.asking


class _HungWim:
    """The ledger's check held on its question to the node until ``answer`` is set."""

    def __init__(self, answer: Any) -> None:
        self.answer, self.asked = answer, threading.Event()

    def check(self, account: str) -> int:
        self.asked.set()
        self.answer.wait(30)
        return 0


def test_a_message_is_sent_while_the_ledgers_check_waits_for_a_hung_node() -> None:
    """The node answers whether it is there, then holds the ledger's questions: the check
    is said to wait for the node (the app counts how long), and a message typed meanwhile
    is sent at once, not after the node's timeout (the ledger held the actions' lock)."""
    answer = threading.Event()
    node = FakeNode().on("eth_blockNumber", "0x5")
    chat, wim = _Chat(), _HungWim(answer)
    session = _session(node.client(), wim, chat)
    doer = Doer(lambda: session, "dev")
    reached: list[bool | None] = []
    checking = threading.Thread(target=lambda: reached.append(doer.check()))
    checking.start()
    try:
        assert wim.asked.wait(10)
        assert doer.asking  # the ledger's questions wait for the node too
        sent_at_once(doer, chat)
    finally:
        answer.set()
        checking.join()
    assert reached == [True] and not doer.asking
