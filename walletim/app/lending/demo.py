"""The demo's lending part (``walletim demo``): supply, borrow, and a health alert."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def run_lending_demo(session: Any, say: Callable[[str], None]) -> dict[str, object]:
    """Supply 2 WETH to Aave V3 as devtest:1, borrow 3,000 USDC against it, drop the WETH
    price on the devnet feed and show the health alert posted to yourself (once)."""
    from walletim.app.lending import lending_for
    from walletim.app.lending.alerts import LendingWatch
    from walletim.app.lending.feeds import set_price
    from walletim.app.lending.position import hf_text

    lend = lending_for(session)
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
    position = lend.position(me)
    hf = position.figures.health_factor
    say(
        f"    Position: health factor {hf_text(hf)} (checked against the Pool's "
        "getUserAccountData)."
    )
    watch = LendingWatch(lend, session.open_store)
    rpc = session.rpc
    start = rpc.block_number()
    watch.scan(me, session.network.chain_id, start, start, account=who)
    change = set_price(rpc, "WETH", "2000")
    say("    Moved the devnet's WETH price feed to $2000 (walletim devnet price WETH 2000).")
    alerts = watch.scan(me, session.network.chain_id, start, rpc.block_number(), account=who)
    for a in alerts:
        say(f"    Alert to yourself: {a.text}")
    again = watch.scan(me, session.network.chain_id, start, rpc.block_number(), account=who)
    say(f"    Scanned again: {len(again)} more alert(s) (each crossing alerts once).")
    set_price(rpc, "WETH", "3000")
    if not (alerts and not again and change.new == 2000 * 10**8 and hf > 10**18):
        raise RuntimeError("the lending demo's own checks failed")
    return {
        "lending_health_factor": hf_text(hf),
        "lending_alerts": [a.kind for a in alerts],
        "lending_alerts_repeated": len(again),
    }
