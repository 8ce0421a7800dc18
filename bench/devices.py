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
from collections.abc import Callable
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
    """One device's send as the app runs it: the conversation state from JSON, encrypt,
    back to JSON (the reference)."""
    from walletim.messaging import session as S

    conv = S.Conversation.from_json(json.loads(states[target.name]))
    out = S.encrypt(sender, {}, conv, target.me.public_key, "text", {"text": text})
    states[target.name] = _dumps(out.conversation.to_json())
    return len(out.envelope)


def _fan_out(sender: Any, texts: dict[str, str], targets: Any, text: str) -> int:
    """A fanned-out send through messaging/fanout.py: the sessions with the peer's devices
    and with our own from JSON, every copy sealed, both back to JSON."""
    from walletim.messaging import fanout as F

    states = (
        F.DeviceStates.from_json(json.loads(texts["peer"])),
        F.DeviceStates.from_json(json.loads(texts["own"])),
    )
    fanned = F.encrypt_fanout(sender, {}, states, targets, F.Message("text", {"text": text}, 1))
    texts["peer"], texts["own"] = _dumps(fanned.peer.to_json()), _dumps(fanned.own.to_json())
    return len(fanned.sealed)


def _interleaved(runs: dict[str, Callable[[], object]], count: int) -> dict[str, list[float]]:
    """Each round times every kind of send once, in turn: load from other processes falls
    on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    gc.collect()
    for _ in range(count):
        for name, send in runs.items():
            start = time.perf_counter()
            send()
            times[name].append(time.perf_counter() - start)
    return times


def _device_states(parties: list[_Party], ids: list[bytes], states: dict[str, str]) -> str:
    from walletim.messaging import fanout as F
    from walletim.messaging import session as S

    out = F.DeviceStates()
    for party, dev_id in zip(parties, ids, strict=True):
        out = out.with_state(dev_id, S.Conversation.from_json(json.loads(states[party.name])))
    return _dumps(out.to_json())


def _setup(text: str) -> tuple[_Party, _Party, dict[str, str], dict[str, str], Any, Any, Any]:
    """Alice's laptop with sessions established (X3DH) to Bob's 3 devices and to Alice's 2
    other devices (one of Bob's also as the one-device reference); both wallets' signed
    device lists; the fan-out targets."""
    from walletim.keys.signing import LocalSigner
    from walletim.messaging import devices as dv
    from walletim.messaging import fanout as F

    sender = _Party.create("alice-laptop")
    theirs = [_Party.create(f"bob-{i}") for i in range(3)]
    mine = [_Party.create(f"alice-{i}") for i in range(2)]  # the sender's own other devices
    log("devices: establishing 5 sessions (X3DH)")
    states: dict[str, str] = {}
    for target in (*theirs, *mine):
        sender.conv_text = None
        _paired(sender, target, text)
        states[target.name] = sender.conv_text or ""
    bob_ids, my_ids = [os.urandom(16) for _ in theirs], [os.urandom(16) for _ in range(3)]
    bob_list = dv.sign_device_list(
        LocalSigner(os.urandom(31) + b"\x01"), 3,
        [dv.make_device(i, p.me.public_key, 1, p.name) for i, p in zip(bob_ids, theirs, strict=True)],
    )  # fmt: skip
    alice_list = dv.sign_device_list(
        LocalSigner(os.urandom(31) + b"\x02"), 2,
        [dv.make_device(i, p.me.public_key, 1, p.name)
         for i, p in zip(my_ids, [sender, *mine], strict=True)],
    )  # fmt: skip
    texts = {
        "peer": _device_states(theirs, bob_ids, states),
        "own": _device_states(mine, my_ids[1:], states),
    }
    targets = F.targets_for(bob_list, alice_list, my_ids[0])
    assert len(targets) == 5
    return sender, theirs[0], states, texts, targets, bob_list, alice_list


def bench_fanout(count: int = 1000) -> list[str]:
    from walletim.messaging import devices as dv
    from walletim.messaging import fanout as F

    text = _message_text()
    sender, one_target, states, texts, targets, bob_list, alice_list = _setup(text)
    cache = F.DeviceListCache()
    relayed = [dv.DeviceList.from_json(d.to_json()) for d in (bob_list, alice_list)]

    def cached() -> None:  # what a reader does per send: the lists from its cache
        for doc in relayed:
            cache.accept(doc)
        _fan_out(sender.me, texts, targets, text)

    def verified() -> None:  # the worst case: both lists' signatures checked every send
        for doc in relayed:
            assert doc.verify()
        _fan_out(sender.me, texts, targets, text)

    runs: dict[str, Callable[[], object]] = {
        "one": lambda: _encrypt_to(sender.me, states, one_target, text),
        "fan": lambda: _fan_out(sender.me, texts, targets, text),
        "cached": cached,
        "checked": verified,
    }
    _interleaved(runs, 30)  # warm-up
    log(f"devices: one device, 3+3 (plain, lists cached, lists verified): {count} rounds")
    got = _interleaved(runs, count)
    assert cache.verifications == 2, cache.verifications  # once per list version
    stats = {k: (*median_p90(v), statistics.fmean(v)) for k, v in got.items()}
    one_a = stats["one"][2]
    rows = {
        "one": "one device (reference)",
        "fan": "3+3 devices: 5 copies (messaging/fanout.py)",
        "cached": "3+3, both device lists taken from the cache (verified once a version)",
        "checked": "3+3, both device lists verified on every send",
    }
    fan_ratio = stats["fan"][2] / one_a
    return [
        "## Device fan-out (issue 17)",
        "",
        f"One send of 200 bytes, sender side, {count} sends each, median (p90); sessions "
        "established, state JSON round-tripped per send as the app stores it.",
        "",
        "| send | median | p90 | mean | vs one device (mean) |",
        "|---|---|---|---|---|",
        *(
            f"| {label} | {ms(stats[k][0])} | {ms(stats[k][1])} | {ms(stats[k][2])} "
            f"| {stats[k][2] / one_a:.1f}x |"
            for k, label in rows.items()
        ),
        "",
        f"Goal: fan-out to 3+3 devices at most {GOAL:.0f}x one device's send (mean: the total "
        f"work): {verdict(fan_ratio <= GOAL)} ({fan_ratio:.1f}x; with the lists from the "
        f"cache {stats['cached'][2] / one_a:.1f}x; {stats['checked'][2] / one_a:.1f}x if "
        "both lists were verified on every send instead of once per version).",
    ]


if __name__ == "__main__":
    print("\n".join(bench_fanout(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)))
