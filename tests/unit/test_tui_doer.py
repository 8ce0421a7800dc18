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
