"""What an interrupted command says (walletim.app.chain.flights): each transaction it signed,
where it stands and how to follow it; never "nothing was changed" once one was broadcast."""

from __future__ import annotations

from walletim.app.chain.flights import LISTED, FlightLog, interrupted_text

H1, H2 = "0x" + "a" * 64, "0x" + "b" * 64
ME = "0x" + "11" * 20


def test_nothing_signed_says_so() -> None:
    assert interrupted_text([]) == "interrupted: no transaction was signed; nothing was sent"


def test_each_state_is_told_with_how_to_follow_it() -> None:
    log = FlightLog()
    log.signed(H1, 7, ME)
    [signed] = log.all()
    assert "was signed: " in interrupted_text([signed])
    assert "may already have it" in interrupted_text([signed])
    log.seen(H1, "pending")
    text = interrupted_text(log.all())
    assert f"broadcast: {H1} (nonce 7) is pending;" in text
    assert f"`walletim tx status {H1}`" in text and "nothing was" not in text
    log.seen(H1, "mined", block=87, seen=1, wanted=3)
    assert "mined in block 87 (1/3 confirmations)" in interrupted_text(log.all())
    assert log.all()[0].json()["confirmations_wanted"] == 3
    log.seen(H2, "pending")  # not signed by this process: not followed
    assert [f.hash for f in log.all()] == [H1]


def test_a_batch_is_told_as_counts() -> None:
    log = FlightLog()
    for n in range(LISTED + 2):
        h = "0x" + f"{n:064x}"
        log.signed(h, n, ME)
        log.seen(h, "mined" if n % 2 else "pending", block=10 if n % 2 else None, seen=1)
    text = interrupted_text(log.all())
    assert f"after {LISTED + 2} transactions were signed (nonces 0-{LISTED + 1}; " in text
    assert "3 pending, 2 mined" in text and "`walletim tx history`" in text
