"""The demo's lending part (``walletim demo``): supply, borrow, and a health alert."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from walletim.app.defi import DefiService
from walletim.app.lending.alerts import LendingWatch
from walletim.app.lending.feeds import set_price
from walletim.app.lending.position import hf_text
from walletim.app.lending.service import LendingService
from walletim.chain.rpc import Q, RpcClient
from walletim.store.db import Store


class DemoSession(Protocol):
    """What the lending demo uses of a Session."""

    @property
    def rpc(self) -> RpcClient: ...

    @property
    def defi(self) -> DefiService: ...

    @property
    def lending(self) -> LendingService: ...

    def open_store(self) -> Store: ...


def run_lending_demo(session: DemoSession, say: Callable[[str], None]) -> dict[str, object]:
    """Supply 2 WETH to Aave V3 as devtest:1, borrow 3,000 USDC against it, drop the WETH
    price on the devnet feed and show the health alert posted to yourself (once)."""
    lend, rpc = session.lending, session.rpc
    who = "devtest:1"
    me = lend.address(who)
    session.defi.execute(session.defi.wrap(who, "2"))
    supply = lend.supply(who, "2", "WETH")
    for n, step in enumerate(supply.steps, 1):
        say(f"    Aave V3, supply step {n}: {step.summary}")
    lend.execute(supply)
    borrow = lend.borrow(who, "3000", "USDC")
    say(f"    Borrow: {borrow.steps[0].summary}; {borrow.notes[0]}")
    lend.execute(borrow)
    hf = lend.position(me).figures.health_factor
    checked = "checked against the Pool's getUserAccountData"
    say(f"    Position: health factor {hf_text(hf)} ({checked}).")
    watch = LendingWatch(lend, session.open_store)
    chain_id = lend.aave().chain_id
    start = rpc.get(Q.head())
    watch.scan(me, chain_id, start, start, account=who)
    change = set_price(rpc, "WETH", "2000")
    say("    Moved the devnet's WETH price feed to $2000 (walletim devnet price WETH 2000).")
    alerts = watch.scan(me, chain_id, start, rpc.get(Q.head()), account=who)
    for a in alerts:
        say(f"    Alert to yourself: {a.text}")
    again = watch.scan(me, chain_id, start, rpc.get(Q.head()), account=who)
    say(f"    Scanned again: {len(again)} more alert(s) (each crossing alerts once).")
    set_price(rpc, "WETH", "3000")
    if not (alerts and not again and change.new == 2000 * 10**8 and hf > 10**18):
        raise RuntimeError("the lending demo's own checks failed")
    return {
        "lending_health_factor": hf_text(hf),
        "lending_alerts": [a.kind for a in alerts],
        "lending_alerts_repeated": len(again),
    }
