"""The app's periodic check of money not final (walletim.tui.model.Doer.check), on fakes:
the node is asked whether it answers only while something is open or it was down."""

from __future__ import annotations

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


def test_an_idle_app_asks_the_node_nothing_until_money_is_open() -> None:
    node = FakeNode().on("eth_blockNumber", "0x5")
    rpc = node.client()
    wim = _Wim(rpc)
    doer = Doer(lambda: SimpleNamespace(chain=SimpleNamespace(rpc=rpc), wim=wim), "dev")  # type: ignore[arg-type,return-value]
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


def test_a_message_is_sent_while_the_check_waits_for_a_hung_node() -> None:
    """The node takes the check's question and does not answer: a message typed meanwhile
    is sent at once (chat needs no node), not after the node's 30 s timeout."""
    import threading

    answer = threading.Event()
    node = FakeNode().on("eth_blockNumber", lambda _: "0x5" if answer.wait(30) else "0x0")
    chat = _Chat()
    session = SimpleNamespace(chain=SimpleNamespace(rpc=node.client()), wim=_Wim(None), chat=chat)
    doer = Doer(lambda: session, "dev")  # type: ignore[arg-type,return-value]
    checking = threading.Thread(target=doer.check)
    checking.start()
    try:
        for _ in range(1000):
            if doer.pinging:
                break
            threading.Event().wait(0.01)
        assert doer.pinging
        sending = threading.Thread(target=doer.send, args=("0x" + "ab" * 20, "你好"))
        sending.start()
        sending.join(10)
        assert not sending.is_alive() and chat.sent == ["你好"] and doer.pinging
    finally:
        answer.set()
        checking.join()
    assert doer.node_error is None and not doer.pinging
