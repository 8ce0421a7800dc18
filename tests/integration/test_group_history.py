"""Group rosters follow a signed, gap-free history (issue 13): separate homes (vaults,
SQLCipher stores) talking through a real relay process, one of them a hostile member who
signs membership changes by hand and sends them over her own real sessions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HOME_PASSWORD, RelayProcess
from walletim.app.session import Session
from walletim.app.wallets import Wallets
from walletim.errors import InputError
from walletim.messaging import groups as G
from walletim.messaging.groups_v1 import Membership, membership_statement
from walletim.messaging.kinds import group_peer
from walletim.store.chat import GroupRow


@dataclass
class Person:
    name: str
    s: Session

    @property
    def address(self) -> str:
        return str(self.s.wallets.account(self.name).address)

    def inbox(self) -> Any:
        return self.s.chat.inbox(self.name)

    def group(self, gid: str) -> GroupRow:
        g = self.s.chat.repo.group(self.address, gid)
        assert g is not None
        return g

    def state(self, gid: str) -> G.GroupState:
        g = self.group(gid)
        return G.GroupState(g.group_id, g.name, g.version, g.head, g.members, g.admins, g.creator)

    def sign(self, c: G.GroupChange) -> G.GroupChange:
        sig = self.s.wallets.sign_message(self.name, c.statement())
        return replace(c, signature="0x" + bytes(sig.bytes).hex())

    def post(self, to: list[Person], body: Any) -> None:
        """Send a membership change body, as crafted, to ``to`` only."""
        self.s.chat.send_many(self.name, [(p.address, "membership", body, "") for p in to])

    def notices(self, gid: str) -> list[str]:
        history = self.s.chat.read(self.name, group_peer(gid), 200, mark_read=False).messages
        return [m.text for m in history if m.kind == "group-notice"]

    def changes(self, gid: str) -> list[str]:
        history = self.s.chat.read(self.name, group_peer(gid), 200, mark_read=False).messages
        return [m.text for m in history if m.kind == "membership"]


@pytest.fixture
def crew(tmp_path: Path, relay: RelayProcess) -> Iterator[dict[str, Person]]:
    people: dict[str, Person] = {}
    for name in ("alice", "bob", "carol", "dave", "erin", "mallory"):
        home = tmp_path / name
        Wallets(home, HOME_PASSWORD, fast_kdf=True).create(name)
        s = Session(home, HOME_PASSWORD, relay_url=relay.url, fast_kdf=True)
        s.chat.init(name)
        people[name] = Person(name, s)
    yield people
    for p in people.values():
        p.s.close()


def family(crew: dict[str, Person], *names: str) -> str:
    """alice creates 'family' with ``names``; everyone named fetches it. Returns its id."""
    alice = crew["alice"]
    g, _ = alice.s.chat.group_create("alice", "family", [crew[n].address for n in names])
    for n in names:
        crew[n].inbox()
    return g.group_id


def rejected(result: Any) -> list[tuple[str, str]]:
    return [(r.reason, r.detail) for r in result.rejected]


def test_a_change_numbered_ahead_is_held_not_applied_and_applies_in_order_later(
    crew: dict[str, Person],
) -> None:
    """The issue's example: mallory, a member, sends bob alone a signed change numbered two
    versions ahead whose roster drops the creator and adds erin. Bob's roster stays as it
    was and his next message goes to the real members only."""
    alice, bob, carol, erin, mallory = (
        crew[n] for n in ("alice", "bob", "carol", "erin", "mallory")
    )
    gid = family(crew, "bob", "carol", "mallory")
    before = bob.group(gid)
    assert (before.version, before.verified, before.checked_from) == (1, True, 1)
    roster = tuple(sorted((bob.address, carol.address, erin.address, mallory.address)))

    # As in the issue: an old-format (v1) change at version 3, signed by mallory.
    statement = membership_statement(gid, "family", 3, "add", erin.address, roster)
    sig = mallory.s.wallets.sign_message("mallory", statement)
    v1 = Membership(
        gid,
        "family",
        3,
        "add",
        erin.address,
        roster,
        mallory.address,
        "0x" + bytes(sig.bytes).hex(),
    )
    mallory.post([bob], v1.to_json())
    # v2, numbered ahead: on a change bob has never seen (held), or on his head (refused).
    s1 = bob.state(gid)
    unseen = G.GroupChange(
        gid, "family", 3, "0x" + "5a" * 32, "add", erin.address, roster, (mallory.address,),
        alice.address, mallory.address, "",
    )  # fmt: skip
    mallory.post([bob], G.bundle(mallory.sign(unseen), []))
    skipping = replace(unseen, prev=s1.head)
    mallory.post([bob], G.bundle(mallory.sign(skipping), []))
    got = bob.inbox()
    assert [r[0] for r in rejected(got)] == ["membership", "membership"]
    assert "old format" in rejected(got)[0][1] and "next version is 2" in rejected(got)[1][1]
    assert [n.kind for n in got.group_notices] == ["held"]
    assert "what it builds on has not arrived" in got.group_notices[0].text
    after = bob.group(gid)
    assert (after.version, after.members, after.head, after.creator) == (
        before.version, before.members, before.head, alice.address,
    )  # fmt: skip
    assert alice.address in after.members and erin.address not in after.members
    assert bob.notices(gid) == [n.text for n in got.group_notices]  # shown in the group too

    # bob's next message goes to the real members, not to erin.
    _, sent = bob.s.chat.group_send("bob", gid, "text", {"text": "who is here?"}, "who is here?")
    assert sorted(r.peer for r in sent) == sorted((alice.address, carol.address, mallory.address))
    assert erin.inbox().received == []

    # An honest gap: alice adds carol's friend dave (version 2) then erin (version 3), and
    # bob gets version 3 first (a relay reordering, or a change sent without its history).
    dave = crew["dave"]
    c2 = alice.sign(G.propose(alice.state(gid), "add", dave.address, alice.address))
    c3 = alice.sign(G.propose(c2.state(), "add", erin.address, alice.address))
    alice.post([bob], G.bundle(c3, []))
    got = bob.inbox()
    assert got.received == [] and [n.kind for n in got.group_notices] == ["held"]
    assert bob.group(gid).version == 1
    alice.post([bob], G.bundle(c2, []))
    got = bob.inbox()
    assert [m.message.text for m in got.received] == [f"{alice.address} added {dave.address}"]
    assert [n.kind for n in got.group_notices] == ["applied"]
    g = bob.group(gid)
    assert (g.version, g.head) == (3, c3.hash) and {dave.address, erin.address} <= set(g.members)
    assert bob.changes(gid)[-2:] == [
        f"{alice.address} added {dave.address}",
        f"{alice.address} added {erin.address}",
    ]
    # mallory's held change still never applies: it does not build on this history.
    assert bob.group(gid).creator == alice.address and alice.address in bob.group(gid).members


def test_a_member_who_is_not_an_admin_cannot_remove_the_creator(crew: dict[str, Person]) -> None:
    alice, bob, carol, mallory = (crew[n] for n in ("alice", "bob", "carol", "mallory"))
    gid = family(crew, "bob", "carol", "mallory")
    with pytest.raises(InputError, match="not an admin"):
        mallory.s.chat.group_remove("mallory", gid, alice.address)
    with pytest.raises(InputError, match="not an admin"):
        mallory.s.chat.group_promote("mallory", gid, mallory.address)
    s1 = mallory.state(gid)
    # Signed by hand at exactly the next version, on the real head, roster "following".
    members = tuple(m for m in s1.members if m != alice.address)
    coup = G.GroupChange(
        gid, "family", 2, s1.head, "remove", alice.address, members, (), alice.address,
        mallory.address, "",
    )  # fmt: skip
    crown = G.GroupChange(
        gid, "family", 2, s1.head, "promote", mallory.address, s1.members,
        (alice.address, mallory.address), alice.address, mallory.address, "",
    )  # fmt: skip
    for change in (coup, crown):
        mallory.post([alice, bob, carol], G.bundle(mallory.sign(change), []))
    for p in (alice, bob, carol):
        got = p.inbox()
        assert [r[0] for r in rejected(got)] == ["membership", "membership"], p.name
        assert all("is not an admin" in d for _, d in rejected(got)), rejected(got)
        g = p.group(gid)
        assert (g.version, g.head, g.admins) == (1, s1.head, (alice.address,)), p.name
        assert alice.address in g.members and g.creator == alice.address


def test_a_create_for_a_known_group_is_refused(crew: dict[str, Person]) -> None:
    alice, bob, carol, erin, mallory = (
        crew[n] for n in ("alice", "bob", "carol", "erin", "mallory")
    )
    gid = family(crew, "bob", "carol", "mallory")
    before = bob.group(gid)
    roster = tuple(sorted((bob.address, carol.address, erin.address, mallory.address)))
    again = G.GroupChange(
        gid, "family", 1, G.ZERO_HASH, "create", None, roster, (mallory.address,),
        mallory.address, mallory.address, "", "0x" + "11" * 16,
    )  # fmt: skip
    again = mallory.sign(again)
    mallory.post([bob, carol], G.bundle(again, []))
    for p in (bob, carol):
        got = p.inbox()
        assert rejected(got) == [("membership", "a create for a group that already exists")]
        g = p.group(gid)
        assert (g.creator, g.members, g.version, g.head) == (
            alice.address, before.members, 1, before.head,
        )  # fmt: skip
    # Nor can a hand-made v2 carry a second create in its history to re-anchor the group.
    s1 = mallory.state(gid)
    leave = mallory.sign(G.propose(s1, "leave", None, mallory.address))
    mallory.post([bob], G.bundle(leave, [again]))
    bob.inbox()
    g = bob.group(gid)
    assert g.creator == alice.address and mallory.address not in g.members and g.version == 2


def test_a_removed_member_cannot_give_a_person_about_to_be_added_a_roster_of_their_own(
    crew: dict[str, Person],
) -> None:
    """Mallory, removed from alice's group, knows its id. Before alice adds erin, mallory
    sends erin a create she signed for that id (and a change numbered later, with no create
    before it, that "adds" erin to a roster of hers). Erin refuses both: the id is bound to
    alice, and a history not reaching the create is not taken. Alice's add then applies and
    erin's messages go to alice's roster."""
    alice, bob, erin, mallory = (crew[n] for n in ("alice", "bob", "erin", "mallory"))
    gid = family(crew, "bob", "mallory")
    alice.s.chat.group_remove("alice", gid, mallory.address)
    bob.inbox()
    mallory.inbox()
    assert mallory.address not in bob.group(gid).members
    hers = tuple(sorted((mallory.address, erin.address)))
    forged = G.GroupChange(
        gid, "family", 1, G.ZERO_HASH, "create", None, hers, (mallory.address,),
        mallory.address, mallory.address, "",
    )  # fmt: skip
    mallory.post([erin], G.bundle(mallory.sign(forged), []))
    later = G.GroupChange(
        gid, "family", 4, "0x" + "5a" * 32, "add", erin.address, hers, (mallory.address,),
        alice.address, mallory.address, "",
    )  # fmt: skip
    mallory.post([erin], G.bundle(mallory.sign(later), []))
    alice.s.chat.group_add("alice", gid, erin.address)  # reaches erin after mallory's
    got = erin.inbox()
    assert [r[0] for r in rejected(got)] == ["membership", "membership"], rejected(got)
    assert "bound to" in rejected(got)[0][1] or "salt" in rejected(got)[0][1]
    assert "does not reach the group's create" in rejected(got)[1][1]
    g, real = erin.group(gid), alice.group(gid)
    assert (g.verified, g.members, g.head, g.creator) == (
        True,
        real.members,
        real.head,
        alice.address,
    )
    assert mallory.address not in g.members and erin.address in g.members
    _, sent = erin.s.chat.group_send("erin", gid, "text", {"text": "hi all"}, "hi all")
    assert sorted(r.peer for r in sent) == sorted((alice.address, bob.address))


def test_a_removed_admins_fork_that_adds_a_new_member_gives_way_to_the_real_add(
    crew: dict[str, Person],
) -> None:
    """Mallory, made admin then removed, cannot forge a create, but holds the real history
    up to her removal: she signs an add of erin on it where she was still an admin and
    sends it to erin first. Erin takes it (it checks from the create); alice's real add,
    coming with the history from the create, wins the fork (the creator's change) and erin
    ends with alice's roster, told of the conflict."""
    from walletim.app.chat.grouplog import applied_chain

    alice, bob, erin, mallory = (crew[n] for n in ("alice", "bob", "erin", "mallory"))
    gid = family(crew, "bob", "mallory")
    alice.s.chat.group_promote("alice", gid, mallory.address)
    mallory.inbox()
    with mallory.s.chat.repo.tx() as tx:
        hers = applied_chain(tx, mallory.address, gid)  # the create and the promote
    alice.s.chat.group_remove("alice", gid, mallory.address)
    fork = mallory.sign(G.propose(hers[0].state(), "add", erin.address, mallory.address))
    mallory.post([erin], G.bundle(fork, hers))
    assert erin.inbox().rejected == [] and mallory.address in erin.group(gid).members
    alice.s.chat.group_add("alice", gid, erin.address)
    got = erin.inbox()
    assert [n.kind for n in got.group_notices] == ["conflict", "applied"], got.group_notices
    g, real = erin.group(gid), alice.group(gid)
    assert (g.members, g.head, g.version) == (real.members, real.head, real.version)
    assert mallory.address not in g.members
    _, sent = erin.s.chat.group_send("erin", gid, "text", {"text": "hi"}, "hi")
    assert sorted(r.peer for r in sent) == sorted((alice.address, bob.address))


def test_a_new_member_takes_a_history_too_long_for_one_message_in_parts(
    crew: dict[str, Person],
) -> None:
    """A new member checks a group's history from its create. A long-lived group's no longer
    fits in one change (64 changes, 40,000 bytes): the admin could then add nobody again.
    It goes in parts (walletim.messaging.group_parts), held until every part is here, then
    checked from the create: the new member ends with the true roster and messages flow."""
    alice, bob, erin = crew["alice"], crew["bob"], crew["erin"]
    gid = family(crew, "bob")
    bob.s.chat.group_send("bob", gid, "text", {"text": "hi"}, "hi")  # alice: no stranger
    alice.inbox()
    for i in range(G.MAX_CONTEXT // 2 + 4):
        alice.s.chat.group_promote("alice", gid, bob.address, sync=i == 0)
        alice.s.chat.group_demote("alice", gid, bob.address, sync=False)
    _, sent = alice.s.chat.group_add("alice", gid, erin.address)
    assert sorted(r.peer for r in sent) == sorted((bob.address, erin.address))  # one each
    assert all(r.message.state == "sent" for r in sent)
    got = erin.inbox()
    assert got.rejected == [], rejected(got)
    mine, real = erin.group(gid), alice.group(gid)
    assert (mine.verified, mine.members, mine.head, mine.checked_from) == (
        True,
        real.members,
        real.head,
        1,
    )
    assert real.version == G.MAX_CONTEXT + 10 and erin.address in real.members
    _, sent = erin.s.chat.group_send("erin", gid, "text", {"text": "hi all"}, "hi all")
    assert sorted(r.peer for r in sent) == sorted((alice.address, bob.address))
    assert alice.inbox().rejected == []
    said = alice.s.chat.read("alice", group_peer(gid), 5, mark_read=False).messages
    assert said[-1].text == "hi all"
    assert bob.inbox().rejected == [] and bob.group(gid).head == real.head


def test_concurrent_changes_by_two_admins_converge_and_everyone_sees_the_conflict(
    crew: dict[str, Person],
) -> None:
    alice, bob, carol, dave = (crew[n] for n in ("alice", "bob", "carol", "dave"))
    gid = family(crew, "bob", "carol", "dave")
    alice.s.chat.group_promote("alice", gid, bob.address)
    for p in (bob, carol, dave):
        p.inbox()
    assert bob.group(gid).admins == (alice.address, bob.address)
    # At version 2, without seeing each other's: alice removes dave, bob removes carol.
    mine, _ = alice.s.chat.group_remove("alice", gid, dave.address, sync=False)
    theirs, _ = bob.s.chat.group_remove("bob", gid, carol.address, sync=False)
    assert (mine.version, theirs.version) == (3, 3) and mine.head != theirs.head
    seen = {p.name: p.inbox() for p in (bob, alice, carol, dave)}
    views = {
        n: (crew[n].group(gid).version, crew[n].group(gid).head, crew[n].group(gid).members)
        for n in seen
    }
    assert len(set(views.values())) == 1, views
    version, head, members = views["alice"]
    # The creator ranks first: her change is kept, bob's undone, on every device.
    assert (version, head) == (3, mine.head)
    assert members == tuple(sorted((alice.address, bob.address, carol.address)))
    for name, got in seen.items():
        conflicts = [n.text for n in got.group_notices if n.kind == "conflict"]
        assert len(conflicts) == 1 and "conflict resolved at version 3" in conflicts[0], name
        assert any("conflict resolved" in t for t in crew[name].notices(gid)), name
    [told] = [n.text for n in seen["bob"].group_notices]
    assert "undone: your change (removed " in told and "make it again" in told
    # bob makes it again, on the new head: everyone applies it.
    again, _ = bob.s.chat.group_remove("bob", gid, carol.address)
    assert again.version == 4
    for p in (alice, carol):
        p.inbox()
        assert p.group(gid).members == tuple(sorted((alice.address, bob.address)))
    _, sent = alice.s.chat.group_send("alice", gid, "text", {"text": "just us"}, "just us")
    assert [r.peer for r in sent] == [bob.address]


def test_group_messages_for_a_group_nobody_created_leave_its_roster_unverified(
    crew: dict[str, Person],
) -> None:
    bob, mallory = crew["bob"], crew["mallory"]
    gid = "77" * 16
    body = {"group": gid, "k": "text", "b": {"text": "paid you, see?"}}
    mallory.s.chat.send_many("mallory", [(bob.address, "group", body, "")])
    got = bob.inbox()
    assert [m.message.text for m in got.received] == ["paid you, see?"]
    g = bob.group(gid)
    assert (g.verified, g.checked_from, g.head) == (False, 0, "")
    # A signed change that is neither a create naming bob nor an add of him does not make
    # the roster verified: it is refused.
    fake = G.GroupState(
        gid,
        "(unverified group)",
        4,
        "0x" + "11" * 32,
        (bob.address, mallory.address),
        (mallory.address,),
        mallory.address,
    )
    leave_nothing = mallory.sign(G.propose(fake, "promote", bob.address, mallory.address))
    mallory.post([bob], G.bundle(leave_nothing, []))
    got = bob.inbox()
    assert rejected(got) == [("membership", "a change of a group this account was never added to")]
    assert bob.group(gid).verified is False


def test_a_change_the_relay_dropped_comes_along_with_the_next_one(crew: dict[str, Person]) -> None:
    """Each change carries the ones before it: a member who missed one (a relay dropping
    it) checks and applies both, in order; a forged earlier change is not taken along."""
    alice, bob, dave, erin, mallory = (crew[n] for n in ("alice", "bob", "dave", "erin", "mallory"))
    gid = family(crew, "bob", "carol", "mallory")
    c2 = alice.sign(G.propose(alice.state(gid), "add", dave.address, alice.address))
    c3 = alice.sign(G.propose(c2.state(), "add", erin.address, alice.address))
    # mallory's forgery of a version 2 "by alice" (her own signature) along with it.
    fake2 = replace(c2, signature=mallory.sign(replace(c2, by=mallory.address)).signature)
    alice.post([bob], G.bundle(c3, [fake2]))
    got = bob.inbox()
    assert got.received == [] and [n.kind for n in got.group_notices] == ["held"]
    assert bob.group(gid).version == 1
    # The same version 3 again, with its real history: both apply, in order.
    alice.post([bob], G.bundle(c3, [c2]))
    got = bob.inbox()
    assert [m.message.text for m in got.received] == [f"{alice.address} added {erin.address}"]
    assert [n.kind for n in got.group_notices] == ["applied"]
    assert "it came along with a later change" in got.group_notices[0].text
    g = bob.group(gid)
    assert (g.version, g.head) == (3, c3.hash)
    assert bob.changes(gid)[-2:] == [
        f"{alice.address} added {dave.address}",
        f"{alice.address} added {erin.address}",
    ]
    # Once applied, the same change again is a replay.
    alice.post([bob], G.bundle(c3, [c2]))
    assert rejected(bob.inbox()) == [("replay", "an old membership change (version 3)")]


def test_chat_listen_reports_a_held_change(crew: dict[str, Person]) -> None:
    alice, bob, erin, mallory = (crew[n] for n in ("alice", "bob", "erin", "mallory"))
    gid = family(crew, "bob", "mallory")
    s1 = mallory.state(gid)
    ahead = G.GroupChange(
        gid, "family", 3, "0x" + "5a" * 32, "add", erin.address,
        tuple(sorted((*s1.members, erin.address))), s1.admins, alice.address, mallory.address, "",
    )  # fmt: skip
    mallory.post([bob], G.bundle(mallory.sign(ahead), []))
    events: list[Any] = []
    bob.s.chat.listen("bob", events.append, timeout=4)
    notices = [e.item for e in events if e.kind == "group"]
    assert [(n.group_id, n.kind) for n in notices] == [(gid, "held")]
    assert bob.group(gid).version == 1
