"""Device fan-out benchmark (issue 17): what one send costs the sender when the message goes
to every device of the recipient and to the sender's own other devices (Sesame: each pair
its own Double Ratchet session), against one device's send, measured in the same run.

A send to one device is walletim's session core as the app runs it per message: load the
conversation state from its JSON text, encrypt 200 bytes (Double Ratchet, framing, padding,
sealing to the device's key), store the state back as JSON text. Fan-out to 3+3 devices (a
recipient with 3 devices, a sender with 3: 3 + 2 copies) does that once per target
session; "with the list checked" also verifies the recipient's signed device list
(EIP-712, ecrecover) once per send, the worst case of a reader that does not cache it.
Sessions are established first (X3DH), so every timed step is a symmetric ratchet step.

Run alone: ``.venv/bin/python bench/devices.py [COUNT]`` prints a markdown section. The
issue's goal: fan-out to 3+3 devices costs at most 6x one device's send.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chat import _dumps, _message_text, _Party, _send, log, median_p90, ms, verdict  # noqa: E402

GOAL = 6.0  # the bound for 3+3 devices


def _paired(sender: _Party, target: _Party, text: str) -> None:
    """Establish sender -> target (X3DH) and back, as a first exchange does."""
    from walletim.messaging import session as S

    published = target.load_prekeys().published
    bundle = S.PeerBundle(target.me.public_key, published.spk, published.spk_sig, published.opks[0])
    first = _send(sender, target, text, target.load_prekeys(), bundle)
    target.prekeys_text = _dumps(first.prekeys.to_json())
    _send(target, sender, text, sender.load_prekeys())


def _encrypt_to(sender: Any, states: dict[str, str], target: _Party, text: str) -> int:
    """One copy: the conversation state with ``target`` from JSON, encrypt, back to JSON."""
    from walletim.messaging import session as S

    conv = S.Conversation.from_json(json.loads(states[target.name]))
    out = S.encrypt(sender, {}, conv, target.me.public_key, "text", {"text": text})
    states[target.name] = _dumps(out.conversation.to_json())
    return len(out.envelope)


def _timed(sender: _Party, states: dict[str, str], targets: list[_Party], text: str,
           device_list: Any = None) -> float:  # fmt: skip
    start = time.perf_counter()
    if device_list is not None and not device_list.verify():
        raise AssertionError("the device list does not verify")
    for target in targets:
        _encrypt_to(sender.me, states, target, text)
    return time.perf_counter() - start


def _interleaved(sender: _Party, states: dict[str, str], runs: dict[str, tuple[list[_Party], Any]],
                 text: str, count: int) -> dict[str, list[float]]:  # fmt: skip
    """Each round times every kind of send once, in turn: load from other processes falls
    on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    gc.collect()
    for _ in range(count):
        for name, (targets, device_list) in runs.items():
            times[name].append(_timed(sender, states, targets, text, device_list))
    return times


def bench_fanout(count: int = 1000) -> list[str]:
    from walletim.keys.signing import LocalSigner
    from walletim.messaging import devices as dv

    text = _message_text()
    sender = _Party.create("alice-laptop")
    theirs = [_Party.create(f"bob-{i}") for i in range(3)]
    mine = [_Party.create(f"alice-{i}") for i in range(2)]  # the sender's own other devices
    log("devices: establishing 5 sessions (X3DH)")
    states: dict[str, str] = {}
    for target in (*theirs, *mine):
        sender.conv_text = None
        _paired(sender, target, text)
        states[target.name] = sender.conv_text or ""
    bob_list = dv.sign_device_list(
        LocalSigner(os.urandom(31) + b"\x01"),
        3,
        [dv.make_device(os.urandom(16), p.me.public_key, 1, p.name) for p in theirs],
    )
    runs = {
        "one": (theirs[:1], None),
        "fan": ([*theirs, *mine], None),
        "checked": ([*theirs, *mine], bob_list),
    }
    _interleaved(sender, states, runs, text, 30)  # warm-up
    log(f"devices: one device, 3+3, 3+3 with the list verified: {count} rounds, interleaved")
    got = _interleaved(sender, states, runs, text, count)
    one, fan, checked = got["one"], got["fan"], got["checked"]
    (one_m, one_p), (fan_m, fan_p), (chk_m, chk_p) = (
        median_p90(one), median_p90(fan), median_p90(checked)
    )  # fmt: skip
    one_a, fan_a, chk_a = (statistics.fmean(t) for t in (one, fan, checked))
    return [
        "## Device fan-out (issue 17)",
        "",
        f"One send of 200 bytes, sender side, {count} sends each, median (p90); sessions "
        "established, state JSON round-tripped per copy as the app stores it.",
        "",
        "| send | median | p90 | mean | vs one device (mean) |",
        "|---|---|---|---|---|",
        f"| one device (reference) | {ms(one_m)} | {ms(one_p)} | {ms(one_a)} | 1.0x |",
        f"| 3+3 devices: 5 copies | {ms(fan_m)} | {ms(fan_p)} | {ms(fan_a)} "
        f"| {fan_a / one_a:.1f}x |",
        f"| 3+3 devices, the recipient's list verified each send | {ms(chk_m)} | {ms(chk_p)} "
        f"| {ms(chk_a)} | {chk_a / one_a:.1f}x |",
        "",
        f"Goal: fan-out to 3+3 devices at most {GOAL:.0f}x one device's send (mean: the total "
        f"work): {verdict(fan_a / one_a <= GOAL)} ({fan_a / one_a:.1f}x; medians "
        f"{fan_m / one_m:.1f}x; {chk_a / one_a:.1f}x if the recipient's list were verified on "
        "every send instead of once per version).",
    ]


if __name__ == "__main__":
    print("\n".join(bench_fanout(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)))
