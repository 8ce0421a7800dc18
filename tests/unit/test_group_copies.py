"""Copies of group traffic from this wallet's other devices (walletim.app.chat.group_copies),
through a real SQLCipher store: one copy per member arrives, one message is kept; a copy of
a change is checked like a member's (signed, and made by this wallet); a group this account
left takes no copy. (Who may send a copy at all:
tests/unit/test_fanout.py::test_only_our_own_devices_may_send_a_copy.)"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests.unit.test_group_history import ALICE, BOB, CAROL, GID, KEY, create, step, unsigned
from walletim.app.chat import grouplog
from walletim.app.chat.accounts import Me
from walletim.app.chat.group_copies import store_group_copy
from walletim.errors import MessageRejected
from walletim.keys.chat import identity_from_seed
from walletim.messaging import groups as G
from walletim.messaging.envelope import Payload, WireKind
from walletim.messaging.kinds import group_peer
from walletim.store.chat import ChatRepo
from walletim.store.db import Store

ME = Me("dev", ALICE, identity_from_seed(bytes(32)), {})


def _copy(kind: WireKind, body: object, to: str, counter: int) -> Payload:
    return Payload("00" * 8, counter, 1000 + counter, kind, body, copy_to=to)


def _store(repo: ChatRepo, payload: Payload, mid: str) -> int | None:
    with repo.tx() as tx:
        return store_group_copy(tx, ME, payload.copy_to or BOB, mid, payload, [], 5)


def test_one_message_kept_of_the_copies_sent_per_member(tmp_path: Path) -> None:
    c = create(ALICE, BOB, CAROL)
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        for n, to in enumerate((BOB, CAROL)):  # the change, once per member
            _store(repo, _copy("membership", G.bundle(c, []), to, n), f"m{n}")
        g = repo.group(ALICE, GID)
        assert g is not None and g.verified and g.members == tuple(sorted([ALICE, BOB, CAROL]))
        body = {"group": GID, "k": "text", "b": {"text": "dinner?"}, "i": "cd" * 16}
        first = _store(repo, _copy("group", body, BOB, 3), "g1")
        assert first is not None
        assert _store(repo, _copy("group", body, CAROL, 4), "g2") is None
        kept = repo.message(first)
        assert (kept.direction, kept.kind, kept.text) == ("out", "text", "dinner?")
        assert kept.peer == group_peer(GID)


def test_a_copy_of_a_change_is_checked_as_a_members_is(tmp_path: Path) -> None:
    """A change Bob made, or one claiming to be Alice's but not signed by her, is not taken
    from a copy (a device passes on only what its wallet signed)."""
    c = create(ALICE, BOB, CAROL)
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        _store(repo, _copy("membership", G.bundle(c, []), BOB, 1), "m1")
        promote = step(c, "promote", BOB, ALICE)
        with repo.tx() as tx:
            assert grouplog.ingest(tx, ALICE, promote, now_ms=2).state == "applied"
        bobs = step(promote, "remove", CAROL, BOB)
        with pytest.raises(MessageRejected, match="did not make"):
            _store(repo, _copy("membership", G.bundle(bobs, [promote]), CAROL, 2), "m2")
        forged = unsigned(step(promote, "remove", BOB, ALICE))
        with pytest.raises(MessageRejected, match="not signed"):
            _store(repo, _copy("membership", G.bundle(forged, [promote]), CAROL, 3), "m3")
        g = repo.group(ALICE, GID)
        assert g is not None and g.members == tuple(sorted([ALICE, BOB, CAROL]))


def test_a_group_this_account_left_takes_no_copy(tmp_path: Path) -> None:
    c = create(ALICE, BOB, CAROL)
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        _store(repo, _copy("membership", G.bundle(c, []), BOB, 1), "m1")
        promote = step(c, "promote", BOB, ALICE)
        left = step(promote, "leave", None, ALICE)
        for n, change in enumerate((promote, left)):
            with repo.tx() as tx:
                assert grouplog.ingest(tx, ALICE, change, now_ms=2 + n).state == "applied"
        body = {"group": GID, "k": "text", "b": {"text": "late"}, "i": "ef" * 16}
        with pytest.raises(MessageRejected, match="left"):
            _store(repo, _copy("group", body, BOB, 2), "g1")


def test_a_groups_history_from_our_own_device_is_checked_as_a_welcome(tmp_path: Path) -> None:
    """A device that joined after the group was made gets its history from another device
    of its wallet (walletim.app.chat.group_sync): changes anyone made are taken, each
    signature and rule checked here; a forged one changes nothing."""
    from walletim.app.chat.group_copies import store_group_history

    c = create(ALICE, BOB)
    promote = step(c, "promote", BOB, ALICE)
    adds = step(promote, "add", CAROL, BOB)  # made by Bob, not by this wallet
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        forged = unsigned(step(promote, "add", CAROL, BOB))
        with repo.tx() as tx, pytest.raises(MessageRejected, match="not signed"):
            body = G.bundle(forged, [promote, c])
            store_group_history(
                tx, ME, "h0", _copy("membership", body, ALICE, 0), [], 5, older=False
            )
        assert repo.group(ALICE, GID) is None
        with repo.tx() as tx:
            body = G.bundle(adds, [promote, c])
            got = store_group_history(
                tx, ME, "h1", _copy("membership", body, ALICE, 1), [], 5, older=False
            )
        assert got is not None
        g = repo.group(ALICE, GID)
        assert g is not None and g.verified and g.version == 3 and g.head == adds.hash
        assert g.members == tuple(sorted([ALICE, BOB, CAROL]))
        with repo.tx() as tx:  # given again (by another device): the same history
            body = G.bundle(adds, [promote, c])
            assert (
                store_group_history(
                    tx, ME, "h2", _copy("membership", body, ALICE, 2), [], 5, older=False
                )
                is None
            )


def test_a_look_alike_is_told_whichever_group_arrives_first(tmp_path: Path) -> None:
    """Bob's "ｆａｍｉｌｙ" reaches this device before Alice's own "family" (a device given
    both by another one, in any order): the notice is told in hers, naming who made each;
    two groups Alice made herself tell nothing."""
    from tests.unit.test_group_history import sign

    bobs = sign(G.new_group("1b" * 16, "ｆａｍｉｌｙ", [ALICE, BOB], BOB))
    mine = create(ALICE, BOB)
    again = sign(G.new_group("2c" * 16, "club", [ALICE, CAROL], ALICE))
    also = sign(G.new_group("3d" * 16, "Club", [ALICE, BOB], ALICE))
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        told = []
        for c in (bobs, mine, again, also):
            with repo.tx() as tx:
                told.append(grouplog.ingest(tx, ALICE, c, now_ms=5).notices)
        assert [[n.kind for n in t] for t in told] == [[], ["look-alike"], [], []]
        [notice] = told[1]
        assert notice.group_id == GID and "[1b1b1b1b] made by " + BOB in notice.text
        assert notice.text.endswith("this one was made by you")


def test_a_create_sent_first_by_someone_gives_way_to_an_older_devices_history(
    tmp_path: Path,
) -> None:
    """Anyone who knows a group's id (a removed member) can sign a create of their own for
    it and send it to a device new to the wallet before the wallet's history arrives: that
    device then held the impostor's roster for good (the real history held, never applied;
    the members refused). The history a device added before it gives replaces it; one a
    device added after it gives (which may be the fooled one) does not, nor a forged one.
    (A group made before ids were bound to their creator, as GID is; for a bound one such a
    create is refused outright: tests/e2e/test_cli_device_groups.py::
    test_a_create_a_removed_member_sends_a_new_device_first_is_refused_for_the_wallets_history.)"""
    from tests.unit.test_group_history import MALLORY, sign
    from walletim.app.chat.group_copies import store_group_history

    real = create(ALICE, BOB, CAROL)
    fake = sign(G.new_group(GID, "family", (ALICE, MALLORY), MALLORY))
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        with repo.tx() as tx:
            assert grouplog.ingest(tx, ALICE, fake, [], now_ms=5).state == "applied"

        def give(change: G.GroupChange, mid: str, *, older: bool) -> list[grouplog.GroupNotice]:
            notices: list[grouplog.GroupNotice] = []
            body = G.bundle(change, [])
            with repo.tx() as tx, contextlib.suppress(MessageRejected):  # refused: in the tx
                payload = _copy("membership", body, ALICE, 0)
                store_group_history(tx, ME, mid, payload, notices, 5, older=older)
            return notices

        give(real, "h0", older=False)
        assert repo.group(ALICE, GID).creator == MALLORY  # type: ignore[union-attr]
        give(unsigned(real), "h1", older=True)
        g = repo.group(ALICE, GID)
        assert g is not None and g.verified and g.creator == MALLORY
        notices = give(real, "h2", older=True)
        g = repo.group(ALICE, GID)
        assert g is not None and g.verified and g.members == tuple(sorted([ALICE, BOB, CAROL]))
        assert [n.kind for n in notices][:1] == ["conflict"] and MALLORY in notices[0].text


def test_a_history_from_this_wallets_device_may_start_after_a_bound_groups_create(
    tmp_path: Path,
) -> None:
    """A member being added takes a group whose id is bound to its creator only from its
    create (tests/unit/test_group_history.py::test_a_bound_group_is_joined_only_from_its_create);
    a history this wallet's own device gives (one too long to carry whole) may start later,
    as that device holds the group: a forged create for the id is still refused there."""
    from tests.unit.test_group_history import DAVE, MALLORY, bound_create, sign
    from walletim.app.chat.group_copies import store_group_history

    real = bound_create(CAROL, by=BOB)
    c2 = step(real, "add", ALICE, BOB)
    c3 = step(c2, "add", DAVE, BOB)
    hers = G.GroupChange(
        real.group_id, "family", 1, G.ZERO_HASH, "create", None, tuple(sorted((ALICE, MALLORY))),
        (MALLORY,), MALLORY, MALLORY, "", real.salt,
    )  # fmt: skip
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)

        def give(change: G.GroupChange, context: list[G.GroupChange], mid: str) -> str:
            with repo.tx() as tx:
                payload = _copy("membership", G.bundle(change, context), ALICE, 0)
                try:
                    store_group_history(tx, ME, mid, payload, [], 5, older=True)
                except MessageRejected as exc:
                    return exc.detail
            return "taken"

        assert "bound to" in give(sign(hers), [], "h0")
        assert repo.group(ALICE, real.group_id) is None
        assert give(c3, [c2], "h1") == "taken"
        g = repo.group(ALICE, real.group_id)
        assert g is not None and g.verified and g.head == c3.hash and g.checked_from == 2


def test_a_long_history_from_our_own_device_comes_in_parts_and_is_held_from_its_create(
    tmp_path: Path,
) -> None:
    """A device new to its wallet is given each group's history (group_sync): one too long
    for one message came as its newest part only, so the new device held the group from a
    later version and could add nobody to it. It now comes in parts, held until every one
    is here (in any order), then checked whole: the device holds it from its create."""
    from tests.unit.test_group_history import long_history
    from walletim.app.chat.group_copies import store_group_history
    from walletim.messaging.group_parts import bodies

    earlier = long_history(140, CAROL)
    parts = bodies(earlier[0], earlier[1:])
    assert parts is not None and len(parts) >= 3
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        got = []
        for k, body in enumerate([parts[-1], *parts[:-1]]):
            with repo.tx() as tx:
                payload = _copy("membership", body, ALICE, k)
                got.append(store_group_history(tx, ME, f"h{k}", payload, [], 5, older=False))
        assert got[:-1] == [None] * (len(parts) - 1) and got[-1] is not None
        g = repo.group(ALICE, earlier[0].group_id)
        assert g is not None and g.verified and g.head == earlier[0].hash
        assert g.checked_from == 1 and g.version == len(earlier)


def test_a_long_history_in_parts_still_replaces_a_create_someone_sent_first(
    tmp_path: Path,
) -> None:
    """The history a device added before this one gives replaces a create someone else sent
    this device first (above), also when it comes in parts: the parts are kept while this
    device holds the impostor's roster (the inbox replays held messages after each part),
    then the whole history replaces it."""
    from tests.unit.test_group_history import MALLORY, sign
    from walletim.app.chat.group_copies import store_group_history
    from walletim.app.chat.held import settle
    from walletim.messaging.group_parts import bodies

    chain = [create(ALICE, BOB, CAROL)]
    for i in range(140):
        chain.insert(0, step(chain[0], "demote" if i % 2 else "promote", BOB, ALICE))
    parts = bodies(chain[0], chain[1:])
    assert parts is not None and len(parts) >= 3
    fake = sign(G.new_group(GID, "family", (ALICE, MALLORY), MALLORY))
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        with repo.tx() as tx:
            assert grouplog.ingest(tx, ALICE, fake, [], now_ms=5).state == "applied"
        notices: list[grouplog.GroupNotice] = []
        for k, body in enumerate(parts):
            with repo.tx() as tx:
                payload = _copy("membership", body, ALICE, k)
                store_group_history(tx, ME, f"h{k}", payload, notices, 5, older=True)
                settle(tx, ME, notices, lambda *_: None)
        g = repo.group(ALICE, GID)
        assert g is not None and g.head == chain[0].hash and g.creator == ALICE
        assert "conflict" in [n.kind for n in notices]
