"""Group messages held while their group is unverified (walletim.app.chat.held), through a
real SQLCipher store: a hostile sender cannot fill the disk (bounded per sender and per
group, the rest refused, never held), and once a signed change verifies the group the held
messages are replayed through the normal checks: a member's stored, a non-member's refused,
one shown from the unverified roster whose sender the history does not list taken back.
(On real processes: tests/e2e/test_cli_device_groups.py::
test_members_messages_before_the_history_arrives_are_held_not_lost.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_group_history import ALICE, BOB, CAROL, DAVE, GID, KEY, MALLORY, create
from walletim.app.chat import grouplog
from walletim.app.chat.accounts import Me
from walletim.app.chat.held import hold, settle
from walletim.errors import MessageRejected
from walletim.keys.chat import identity_from_seed
from walletim.messaging.envelope import Payload
from walletim.store import held as H
from walletim.store.chat import ChatRepo, ChatTx, GroupRow
from walletim.store.db import Store
from walletim.store.sql import now_ms

ME = Me("dev", ALICE, identity_from_seed(bytes(32)), {})


def _text(n: int) -> Payload:
    body = {"group": GID, "k": "text", "b": {"text": f"m{n}"}, "i": f"{n:032x}"}
    return Payload("00" * 8, n, 1000 + n, "group", body, nonce=bytes(16))


def _unverified(repo: ChatRepo) -> None:
    with repo.tx() as tx:
        tx.save_group(GroupRow(ALICE, GID, "(unverified group)", (ALICE, BOB), 0, BOB, False))


def test_a_hostile_member_flooding_held_messages_is_bounded(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        _unverified(repo)
        with repo.tx() as tx:
            for n in range(H.PER_SENDER):
                hold(tx, ME, MALLORY, f"x{n}", GID, _text(n), [])
            with pytest.raises(MessageRejected, match="too many messages are held"):
                hold(tx, ME, MALLORY, "x-more", GID, _text(999), [])
            hold(tx, ME, CAROL, "c0", GID, _text(0), [])  # another sender still has room
        with repo.tx() as tx:
            count = tx.conn.execute("SELECT count(*) FROM held_group_messages").fetchone()[0]
        assert count == H.PER_SENDER + 1
        with repo.tx() as tx:  # and the group as a whole is bounded too
            senders = [f"0x{n:040x}" for n in range(H.PER_GROUP // H.PER_SENDER + 1)]
            with pytest.raises(MessageRejected):
                for s in senders:
                    for n in range(H.PER_SENDER):
                        hold(tx, ME, s, f"{s}:{n}", GID, _text(n), [])


def test_held_messages_across_many_made_up_groups_are_bounded_in_all(tmp_path: Path) -> None:
    """A stranger makes up group ids (each known here only from its first message) and an
    accomplice, whom no such roster lists, writes to each: the per-group bounds alone would
    let them hold without end, unseen and never replayed."""
    with Store.open(tmp_path / "w.db", KEY) as store:
        with store.transaction() as conn:
            rows = [
                (ALICE, f"g{n // H.PER_SENDER}", f"0x{n // 100:040x}", f"x{n}", "{}", now_ms())
                for n in range(H.PER_ACCOUNT)
            ]
            conn.executemany(
                "INSERT INTO held_group_messages (account, group_id, sender, relay_id, "
                "payload, held_ms) VALUES (?,?,?,?,?,?)",
                rows,
            )
        with ChatRepo(store).tx() as tx:
            with pytest.raises(MessageRejected, match="too many messages are held"):
                hold(tx, ME, CAROL, "one-more", "a-new-group", _text(0), [])
            assert H.room(tx.conn, BOB, "a-new-group", MALLORY)  # another account of this home


def test_held_messages_are_replayed_once_the_group_is_verified(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    def store(tx: object, me: Me, peer: str, mid: str, p: Payload, notices: object) -> int:
        seen.append((peer, mid))
        return len(seen)

    with Store.open(tmp_path / "w.db", KEY) as store_:
        repo = ChatRepo(store_)
        _unverified(repo)
        with repo.tx() as tx:
            hold(tx, ME, CAROL, "c0", GID, _text(0), [])
            hold(tx, ME, CAROL, "c0", GID, _text(0), [])  # delivered again: held once
            assert settle(tx, ME, [], store) == []  # still unverified: nothing replayed
        assert seen == []
        with repo.tx() as tx:
            out = grouplog.ingest(tx, ALICE, create(ALICE, BOB, CAROL), [], now_ms=5)
            assert out.state == "applied"
            notices: list[grouplog.GroupNotice] = []
            assert settle(tx, ME, notices, store) == [1]
            assert "1 held message(s) shown" in notices[-1].text
            assert settle(tx, ME, [], store) == []  # replayed once
        assert seen == [(CAROL, "c0")]


def test_each_group_verified_at_once_tells_its_own_held_messages(tmp_path: Path) -> None:
    other = "1e" * 16
    with Store.open(tmp_path / "w.db", KEY) as store_:
        repo = ChatRepo(store_)
        _unverified(repo)
        with repo.tx() as tx:
            hold(tx, ME, CAROL, "c0", GID, _text(0), [])
            hold(tx, ME, CAROL, "c1", other, _text(1), [])
            for gid in (GID, other):
                tx.save_group(GroupRow(ALICE, gid, gid[:4], (ALICE, BOB, CAROL), 1, BOB, True))
            notices: list[grouplog.GroupNotice] = []
            assert settle(tx, ME, notices, lambda *_: 7) == [7, 7]
        assert [n.text for n in notices] == [
            "the group's signed history arrived: 1 held message(s) shown"
        ] * 2


def test_a_held_message_whose_sender_was_blocked_meanwhile_is_not_shown(tmp_path: Path) -> None:
    """Held unseen, its sender blocked, then the history arrives: a blocked sender's mail is
    dropped unread, this one too (it was never shown)."""
    from walletim.store import consent as C

    with Store.open(tmp_path / "w.db", KEY) as store_:
        repo = ChatRepo(store_)
        _unverified(repo)
        with repo.tx() as tx:
            hold(tx, ME, CAROL, "c0", GID, _text(0), [])
            hold(tx, ME, DAVE, "d0", GID, _text(1), [])
            C.decide(tx.conn, ALICE, CAROL, "blocked")
            out = grouplog.ingest(tx, ALICE, create(ALICE, BOB, CAROL, DAVE), [], now_ms=5)
            assert out.state == "applied"
            seen: list[str] = []
            settle(tx, ME, [], lambda _tx, _me, peer, *_: seen.append(peer) or len(seen))
        assert seen == [DAVE]
        assert C.decision(store_, ALICE, CAROL).dropped == 1  # type: ignore[union-attr]


def test_a_blocked_groups_messages_are_dropped_not_held(tmp_path: Path) -> None:
    from walletim.app.chat.inbox import Inbox
    from walletim.app.chat.results import Dropped
    from walletim.messaging.kinds import group_peer
    from walletim.store import consent as C

    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        _unverified(repo)
        inbox = Inbox(None)  # type: ignore[arg-type]  # storing needs only the transaction
        with repo.tx() as tx:
            assert inbox.store_message(tx, ME, CAROL, "c0", _text(0), []) is None  # held
            C.decide(tx.conn, ALICE, group_peer(GID), "blocked")
            got = inbox.store_message(tx, ME, CAROL, "c1", _text(1), [])
            assert got == Dropped(group_peer(GID))
            count = tx.conn.execute("SELECT count(*) FROM held_group_messages").fetchone()[0]
        assert count == 1
        assert C.decision(store, ALICE, group_peer(GID)).dropped == 1  # type: ignore[union-attr]


def _fill(tx: ChatTx, senders: list[str]) -> int:
    """Each sender writes to group ids made up one after another (each known here only
    from its first message, whose sender alone is its roster) until refused; how many
    were held."""
    held = 0
    for g in range(H.PER_ACCOUNT // H.PER_SENDER + 1):
        for sender in senders:
            try:
                for n in range(H.PER_SENDER):
                    hold(tx, ME, sender, f"{sender}:{g}:{n}", f"{g:032x}", _text(n), [])
                    held += 1
            except MessageRejected:
                return held
    return held


def test_two_hostile_senders_cannot_take_every_members_room(tmp_path: Path) -> None:
    """A stranger and an accomplice made up 40 group ids and held 50 messages in each: the
    2,000 messages held for the account were all theirs, and every real member's message
    to a group still waiting for its history was refused (lost). Now one sender holds at
    most PER_SENDER_ALL across every group: members keep the rest."""
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        _unverified(repo)
        with repo.tx() as tx:
            assert _fill(tx, [MALLORY, DAVE]) <= 2 * H.PER_SENDER_ALL < H.PER_ACCOUNT
            hold(tx, ME, CAROL, "c0", GID, _text(0), [])  # a real member's is held
            assert not H.room(tx.conn, ALICE, "another", MALLORY)


def test_held_messages_are_dropped_after_a_week(tmp_path: Path) -> None:
    """Messages held for a group whose history never came stayed for ever, and once the
    account's room was full, nothing more was held. Held longer than the held membership
    changes (grouplog.HOLD_MS), they are dropped, with a notice in the group, when the
    store next holds or replays: never replayed then."""
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        _unverified(repo)
        week_ago = now_ms() - grouplog.HOLD_MS - 1
        with store.transaction() as conn:
            rows = [
                (ALICE, f"g{n // H.PER_SENDER}", f"0x{n // 100:040x}", f"x{n}", "{}", week_ago)
                for n in range(H.PER_ACCOUNT)
            ]
            conn.executemany(
                "INSERT INTO held_group_messages (account, group_id, sender, relay_id, "
                "payload, held_ms) VALUES (?,?,?,?,?,?)",
                rows,
            )
        notices: list[grouplog.GroupNotice] = []
        with repo.tx() as tx:
            hold(tx, ME, CAROL, "c0", GID, _text(0), notices)
            assert H.groups_waiting(tx.conn, ALICE) == [GID]
        expired = [n for n in notices if n.kind == "expired"]
        assert len(expired) == H.PER_ACCOUNT // H.PER_SENDER
        assert "held for 7 days" in expired[0].text and expired[0].group_id == "g0"
        with store.transaction() as conn:  # one held a week ago is not replayed
            conn.execute("UPDATE held_group_messages SET held_ms = ?", (week_ago,))
        with repo.tx() as tx:
            tx.save_group(GroupRow(ALICE, GID, "g", (ALICE, BOB, CAROL), 1, BOB, True))
            notices = []
            assert settle(tx, ME, notices, lambda *_: 7) == []
        assert [n.kind for n in notices] == ["expired"]


def test_money_shown_from_an_unverified_roster_is_taken_back_with_its_record(
    tmp_path: Path,
) -> None:
    """Mallory, who knows a group's id (removed from it, say), wrote in it first to a device
    that had not had its signed history yet: the device showed her payment claim from the
    unverified roster and the money layer recorded it. When the history came and said she
    is not a member, taking her message back failed ("FOREIGN KEY constraint failed": the
    payment's record named it), so the history was never applied and every later fetch
    failed on it again. Her message is taken back with the money records made from it."""
    from walletim.app.chat.inbox import Inbox
    from walletim.store.wim import WimRepo

    with Store.open(tmp_path / "w.db", KEY) as store:
        repo, money = ChatRepo(store), WimRepo(store)
        with repo.tx() as tx:
            mid = Inbox(None).store_message(tx, ME, MALLORY, "m0", _text(0), [])  # type: ignore[arg-type]
        assert isinstance(mid, int)
        money.add_payment(
            account=ALICE, message_id=mid, direction="in", peer=MALLORY, chain_id=1,
            tx_hash="0x" + "ab" * 32, asset=None, symbol="ETH", decimals=18, amount=10**18,
            payer=MALLORY, payee=ALICE, note="", request_id=None,
        )  # fmt: skip
        with repo.tx() as tx:
            assert grouplog.ingest(tx, ALICE, create(ALICE, BOB, CAROL), [], now_ms=5).state == (
                "applied"
            )
            notices: list[grouplog.GroupNotice] = []
            assert settle(tx, ME, notices, lambda *_: 7) == []
        assert "1 refused (not a member)" in notices[-1].text
        assert money.payment_for_message(mid) is None and money.payments(ALICE) == []
        assert (
            store.execute("SELECT count(*) FROM messages WHERE id = ?", (mid,)).fetchone()[0] == 0
        )


def test_a_hostile_sender_flooding_history_parts_is_bounded_and_applies_nothing(
    tmp_path: Path,
) -> None:
    """A group's history sent in parts is held until every part is here
    (walletim.app.chat.group_parts), within the held messages' bounds: a sender claiming
    parts without end holds no more than the messages it could send, other senders keep
    their room, and parts that complete into a history not chained from the group's true
    create (a part carrying a create someone else signed) apply nothing and are dropped."""
    from tests.unit.test_group_history import ERIN, bound_create, long_history, sign, step
    from walletim.app.chat.group_parts import whole_history
    from walletim.messaging import groups as G
    from walletim.messaging.group_parts import bodies

    hers = bound_create(BOB, by=MALLORY)
    fake = step(hers, "add", ALICE, MALLORY)  # a signed add of this account
    claims = [(1, n) for n in range(2, 51)] + [(2, 50), (3, 50)]
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        with repo.tx() as tx:
            for k, (part, parts) in enumerate(claims[: H.PER_SENDER]):
                body = {**fake.to_json(), "context": [], "part": part, "parts": parts}
                assert whole_history(tx, ALICE, MALLORY, f"x{k}", body, fake, (), []) is None
            body = {**fake.to_json(), "context": [], "part": 3, "parts": 50}
            with pytest.raises(MessageRejected, match="too many messages from"):
                whole_history(tx, ALICE, MALLORY, "x-more", body, fake, (), [])
            assert len(H.parts(tx.conn, ALICE, fake.group_id, MALLORY)) == H.PER_SENDER
            assert H.room(tx.conn, ALICE, fake.group_id, CAROL)
        assert repo.group(ALICE, fake.group_id) is None
        with repo.tx() as tx:  # once the group is held whole, the parts left are dropped
            tx.save_group(GroupRow(ALICE, fake.group_id, "x", (ALICE, BOB), 1, BOB, True))
            assert settle(tx, ME, [], lambda *_: 7) == []
            assert H.parts(tx.conn, ALICE, fake.group_id, MALLORY) == []
        # The real history of alice's group, one part carrying mallory's own create instead.
        earlier = long_history(130, DAVE)
        add = step(earlier[0], "add", ERIN, ALICE)
        parts = bodies(add, earlier)
        assert parts is not None and len(parts) >= 3
        forged = G.GroupChange(
            add.group_id, "family", 1, G.ZERO_HASH, "create", None,
            tuple(sorted((ALICE, BOB, MALLORY))), (MALLORY,), MALLORY, MALLORY, "",
            earlier[-1].salt,
        )  # fmt: skip
        first = parts[0]["context"]
        assert isinstance(first, list)
        parts[0] = {**parts[0], "context": [*first[:-1], sign(forged).to_json()]}
        with repo.tx() as tx:
            for k, body in enumerate(reversed(parts)):
                head, context = G.parse_bundle(body)
                whole = whole_history(tx, ERIN, ALICE, f"p{k}", body, head, context, [])
            assert whole is not None
            out = grouplog.ingest(tx, ERIN, add, whole, now_ms=5)
            assert out.state == "refused" and out.reason == grouplog.BOUND_FROM_CREATE
            assert H.parts(tx.conn, ERIN, add.group_id, ALICE) == []
        assert repo.group(ERIN, add.group_id) is None
