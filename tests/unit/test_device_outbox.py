"""Fan-out's storage (store/device_outbox.py, migration 14): device sessions per (account,
wallet), and a message's copies per device: the message is sent once no copy to the peer's
devices is still sending (copies to our own devices do not hold it back), failed only if
none of them reached the relay; a confirmed copy's envelope is dropped."""

from __future__ import annotations

import os
from pathlib import Path

from walletim.store import consent as C
from walletim.store import device_outbox as D
from walletim.store.chat import ChatRepo
from walletim.store.db import Store
from walletim.store.unsent import _remember, take_later, withdrawn_for_devices, withdrawn_key

KEY = bytes(range(32))
ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20


def queued(repo: ChatRepo, text: str) -> int:
    with repo.tx() as tx:
        cid = tx.conversation(ALICE, BOB)
        mid = tx.add_message(cid, "out", "text", {"text": text}, text, sent_ms=1, state="queued")
        assert mid is not None
        return mid


def copies(mid: int, *owns: bool) -> list[D.Copy]:
    return [
        D.Copy(
            mid, os.urandom(16), own, os.urandom(16).hex(), os.urandom(16).hex(), b"env", "sending"
        )
        for own in owns
    ]


def test_device_sessions_per_account_and_wallet(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store, store.transaction() as conn:
        assert D.load_device_states(conn, ALICE, BOB) is None
        D.save_device_states(conn, ALICE, BOB, 1, {"devices": {"x": 1}}, 5)
        D.save_device_states(conn, ALICE, ALICE, 1, {"devices": {}}, 5)  # our own devices
        D.save_device_states(conn, ALICE, BOB.upper().replace("0X", "0x"), 1, {"v": 2}, 6)
        assert D.load_device_states(conn, ALICE, BOB) == {"v": 2}  # one row per wallet
        assert D.load_device_states(conn, ALICE, ALICE) == {"devices": {}}
        assert D.load_device_states(conn, BOB, BOB) is None


def test_a_message_is_sent_once_every_peer_copy_is(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        mid = queued(repo, "hi")
        made = copies(mid, False, False, True)
        with repo.tx() as tx:
            D.add_copies(tx.conn, mid, "e" * 16, 1, made)
        message = repo.message(mid)
        assert message.state == "sending" and message.relay_id == made[0].relay_id
        in_order = sorted(made, key=lambda c: (c.own, c.relay_id))  # the peer's copies first
        assert [c.relay_id for c in D.sending_copies(store, ALICE)] == [
            c.relay_id for c in in_order
        ]
        with repo.tx() as tx:
            assert D.settle_copy(tx.conn, made[0].relay_id, "sent") == mid
            assert D.settle_copy(tx.conn, "nope", "sent") is None
        assert repo.message(mid).state == "sending"  # bob's second device: not yet
        with repo.tx() as tx:
            D.settle_copy(tx.conn, made[1].relay_id, "failed")  # that device's mailbox is gone
        assert repo.message(mid).state == "sent"  # reached one of bob's devices
        assert [c.own for c in D.sending_copies(store, ALICE)] == [True]  # ours still goes
        left = {c.relay_id: c for c in D.copies_of(store, mid)}
        assert left[made[0].relay_id].envelope is None and left[made[2].relay_id].envelope == b"env"


def test_a_message_fails_only_if_no_peer_copy_reached_the_relay(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        mid = queued(repo, "hi")
        made = copies(mid, False, True)
        with repo.tx() as tx:
            D.add_copies(tx.conn, mid, "e" * 16, 1, made)
            D.settle_copy(tx.conn, made[1].relay_id, "sent")  # our own device got it
        assert repo.message(mid).state == "sending"
        with repo.tx() as tx:
            D.settle_copy(tx.conn, made[0].relay_id, "failed")
        assert repo.message(mid).state == "failed"


def test_a_request_whose_message_failed_for_good_reads_withdrawn(tmp_path: Path) -> None:
    """A request the relay refused for good (bob's mailbox gone), on the device path or the
    account key's, read open for ever although bob never got it: it reads withdrawn (never
    sent), as one a block withdrew; one that reached a device of bob's stays open."""
    from walletim.store.wim import RequestRow, WimRepo

    with Store.open(tmp_path / "w.db", KEY) as store:
        repo, wim = ChatRepo(store), WimRepo(store)
        mids = [queued(repo, f"request {n}") for n in range(3)]
        for n, mid in enumerate(mids):
            wim.save_request(RequestRow(ALICE, f"r{n}", "out", BOB, 1, None, "ETH", 18, 5, "",
                                        "ethereum:x", None, "open", None, mid, 1))  # fmt: skip
        made = [copies(mid, False, True) for mid in mids[:2]]
        with repo.tx() as tx:
            for n, (mid, both) in enumerate(zip(mids, made, strict=False)):
                D.add_copies(tx.conn, mid, "e" * 16, n + 1, both)
            D.settle_copy(tx.conn, made[0][0].relay_id, "failed")  # fan-out: refused
            D.settle_copy(tx.conn, made[1][0].relay_id, "sent")
            tx.conn.execute("UPDATE messages SET relay_id = 'm3' WHERE id = ?", (mids[2],))
            tx.mark_failed("m3")  # the account key's outbox: refused
        states = [wim.request(ALICE, f"r{n}", "out", BOB) for n in range(3)]
        assert [r.state if r else None for r in states] == ["withdrawn", "open", "withdrawn"]
        # This wallet's other devices, holding copies of them open, are told with a consent
        # mark: the decision held here (none: undecided, changing nothing), naming them.
        assert C.for_devices(store, ALICE) == [(BOB, "undecided", 0)]
        assert withdrawn_for_devices(store, ALICE, BOB) == ["r0", "r2"]
        # Another process withdraws one more while the mark is on its way: it is not lost.
        with repo.tx() as tx:
            _remember(tx.conn, withdrawn_key(ALICE, BOB), ["r9"])
        C.sent_to_devices(store, ALICE, BOB, "undecided", 0, ["r0", "r2"])
        assert withdrawn_for_devices(store, ALICE, BOB) == ["r9"]
        assert C.for_devices(store, ALICE) == [(BOB, "undecided", 0)]  # with the next mark
        C.sent_to_devices(store, ALICE, BOB, "undecided", 0, ["r9"])
        assert C.for_devices(store, ALICE) == []


def test_a_withdrawal_told_before_the_request_s_copy_arrives_holds(tmp_path: Path) -> None:
    """Another device's mark withdrawing a request reached this one before the request's
    own copy (the relay does not keep their order): the copy, stored later, read open for
    ever. It takes the later state known already (open < withdrawn < settled); a request
    stored for another peer, or one of theirs to us, is not touched."""
    from walletim.store.unsent import withdrawn_elsewhere
    from walletim.store.wim import RequestRow, WimRepo

    def row(rid: str, direction: str = "out", peer: str = BOB) -> RequestRow:
        return RequestRow(ALICE, rid, direction, peer, 1, None, "ETH", 18, 5, "", "ethereum:x",
                          None, "open", None, None, 1)  # fmt: skip

    carol = "0x" + "c3" * 20
    rid, known = "0x" + "ab" * 16, "0x" + "cd" * 16
    with Store.open(tmp_path / "w.db", KEY) as store:
        wim = WimRepo(store)
        wim.save_request(row(known))
        with store.transaction() as conn:
            withdrawn_elsewhere(conn, ALICE, BOB, [rid.upper().replace("0X", "0x"), known])
        assert wim.request(ALICE, known, "out", BOB).state == "withdrawn"  # type: ignore[union-attr]
        assert wim.save_request(row(rid, peer=carol)).state == "open"
        assert wim.save_request(row(rid, "in")).state == "open"
        assert wim.save_request(row(rid)).state == "withdrawn"
        # the later state still wins after it: paid, it reads settled
        with store.transaction() as conn:
            assert take_later(conn, (ALICE, "out", BOB, rid), "settled", "0x" + "11" * 32)
            assert not take_later(conn, (ALICE, "out", BOB, rid), "withdrawn")
        assert wim.request(ALICE, rid, "out", BOB).state == "settled"  # type: ignore[union-attr]


def test_what_happened_to_a_red_packet_s_offers_that_never_went(tmp_path: Path) -> None:
    """A red packet's offers that never went: one the relay refused for good on the device
    path, one on the account key's, one a block withdrew. redpacket list said all three
    were withdrawn by a block; each refusal is now an event that tells them apart."""
    from walletim.app.wim.model import never_went
    from walletim.store.consent import withdraw_unsent
    from walletim.store.unsent import offers_never_sent

    pid = "0x" + "77" * 16
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        mids = []
        for _ in range(3):
            with repo.tx() as tx:
                mid = tx.add_message(tx.conversation(ALICE, BOB), "out", "redpacket",
                                     {"packet_id": pid}, "", sent_ms=1, state="queued")  # fmt: skip
                assert mid is not None
                mids.append(mid)
        [peer, own] = copies(mids[0], False, True)
        with repo.tx() as tx:
            D.add_copies(tx.conn, mids[0], "e" * 16, 1, [peer, own])
            D.settle_copy(tx.conn, peer.relay_id, "failed")  # fan-out: refused for good
            tx.conn.execute("UPDATE messages SET relay_id = 'm2', state = 'sending' WHERE id = ?",
                            (mids[1],))  # fmt: skip
            tx.mark_failed("m2")  # the account key's outbox: refused for good
            assert withdraw_unsent(tx.conn, ALICE, BOB) == 1  # the third, still queued
        assert offers_never_sent(store, ALICE, pid.upper().replace("0X", "0x")) == (1, 2)
        assert [e.kind for e in repo.events(ALICE)] == ["send-failed"] * 2
    assert "(1 withdrawn by a block, 2 refused by the relay for good)" in never_went(1, 2)
    assert "3 of its offers never went (withdrawn by a block)" in never_went(3, 0)
    assert never_went(0, 0) == ""


def test_a_red_packet_s_offers_that_never_went_read_so_on_the_other_device(
    tmp_path: Path,
) -> None:
    """alice's laptop offered a red packet to bob: one offer the relay refused for good,
    one a block withdrew (two packets). Her phone, holding copies of both, read them sent,
    and its redpacket list said nothing never went, while the laptop said refused and
    withdrawn. The laptop tells the phone with the consent mark that tells it of withdrawn
    requests (why included); there the copies read failed and redpacket list says the same;
    a mark that came before its copy holds as the copy arrives (sent < failed)."""
    from walletim.app.chat.consent_sync import consent_messages
    from walletim.messaging.kinds import parse_consent
    from walletim.store.consent import withdraw_unsent
    from walletim.store.unsent import known_unsent_offer, offers_never_sent, withdrawn_elsewhere

    refused, blocked, late = ("0x" + d * 32 for d in ("71", "72", "73"))

    def offer(repo: ChatRepo, pid: str, state: str) -> int:
        with repo.tx() as tx:
            relay_id = None if state == "queued" else os.urandom(8).hex()  # a copy has one
            mid = tx.add_message(tx.conversation(ALICE, BOB), "out", "redpacket",
                                 {"packet_id": pid}, "", sent_ms=1, state=state,
                                 relay_id=relay_id)  # fmt: skip
            assert mid is not None
            return mid

    with Store.open(tmp_path / "laptop.db", KEY) as laptop:
        repo = ChatRepo(laptop)
        [peer] = copies(offer(repo, refused, "queued"), False)
        offer(repo, blocked, "queued")
        with repo.tx() as tx:
            D.add_copies(tx.conn, peer.message_id, "e" * 16, 1, [peer])
            D.settle_copy(tx.conn, peer.relay_id, "failed")  # refused for good
            assert withdraw_unsent(tx.conn, ALICE, BOB) == 1  # the other, still queued
        assert [offers_never_sent(laptop, ALICE, p) for p in (refused, blocked)] == [(0, 1), (1, 0)]
        told = withdrawn_for_devices(laptop, ALICE, BOB)
        [(_, state, at)] = C.for_devices(laptop, ALICE)
        [message] = consent_messages([(BOB, state, at)], 5, {BOB: told})
    mark = parse_consent(message.body)
    assert mark.withdrawn == () and mark.offers == ((refused, "refused"), (blocked, "blocked"))

    with Store.open(tmp_path / "phone.db", KEY) as phone:
        repo = ChatRepo(phone)
        copied = [offer(repo, pid, "sent") for pid in (refused, blocked)]
        with repo.tx() as tx:
            withdrawn_elsewhere(
                tx.conn, ALICE, BOB, mark.withdrawn, (*mark.offers, (late, "refused"))
            )
            withdrawn_elsewhere(tx.conn, ALICE, BOB, (), mark.offers)  # told twice: the same
        assert [repo.message(m).state for m in copied] == ["failed", "failed"]
        assert [offers_never_sent(phone, ALICE, p) for p in (refused, blocked)] == [(0, 1), (1, 0)]
        arrived = offer(repo, late, "sent")  # its copy after the mark
        with repo.tx() as tx:
            known_unsent_offer(tx.conn, arrived)
        assert repo.message(arrived).state == "failed"
        assert offers_never_sent(phone, ALICE, late) == (0, 1)


class _Relay:
    """A relay connection that answers each mailbox as told (None: stored)."""

    def __init__(self, answers: dict[str, Exception | None]) -> None:
        self.answers = answers
        self.sent: list[str] = []

    async def send(self, to: str, mid: str, env: bytes, delivery_key: bytes | None = None) -> None:
        answer = self.answers.get(to)
        if answer is not None:
            raise answer
        self.sent.append(mid)


def test_flush_settles_sent_fails_gone_and_waits_full_copies(tmp_path: Path) -> None:
    """A copy the relay stored is settled; one to a mailbox it no longer knows fails; one to
    a full mailbox waits (recorded with a backoff, as the outbox does) and goes with the next
    flush, which settles the message."""
    import asyncio
    import time
    from typing import Any

    from walletim.app.chat.fanout_send import FanoutSender, ThisDevice
    from walletim.app.chat.ports import Env
    from walletim.errors import RelayRefused
    from walletim.keys.chat import DeviceKey, identity_from_seed
    from walletim.store.relay import RelayRepo

    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        env = Env(lambda: repo, lambda: RelayRepo(store), time.time, os.urandom)
        me = ThisDevice(ALICE, DeviceKey(os.urandom(16), identity_from_seed(os.urandom(32))), {})
        mid = queued(repo, "hi")
        ok, full, gone = copies(mid, False, False, True)
        with repo.tx() as tx:
            D.add_copies(tx.conn, mid, "e" * 16, 1, [ok, full, gone])
        relay = _Relay(
            {
                full.mailbox: RelayRefused("mailbox_full", "full", 30),
                gone.mailbox: RelayRefused("unknown_mailbox", "gone"),
            }
        )
        conn: Any = relay
        sent, why = asyncio.run(FanoutSender(env).flush(conn, me))
        assert sent == 1 and len(why) == 1 and "unknown_mailbox" in why[0]
        assert repo.message(mid).state == "sending"  # bob's second device waits
        waits = RelayRepo(store).waits(ALICE)
        assert set(waits) == {full.relay_id} and waits[full.relay_id].reason == "mailbox_full"
        relay.answers = {}
        assert asyncio.run(FanoutSender(env).flush(conn, me)) == (1, [])
        assert repo.message(mid).state == "sent" and RelayRepo(store).waits(ALICE) == {}
        assert relay.sent == [ok.relay_id, full.relay_id]
