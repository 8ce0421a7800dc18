"""The rules of group membership (walletim.messaging.groups), pure and in memory: who may
change what, the hash chain, held gaps, and conflicts resolved from the set of changes
alone (any delivery order converges), then the same through the store (grouplog)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walletim.app.chat import grouplog
from walletim.app.chat.accounts import Me
from walletim.app.chat.group_parts import whole_history
from walletim.app.chat.held import settle
from walletim.errors import MessagingError
from walletim.keys.chat import identity_from_seed
from walletim.keys.signing import LocalSigner
from walletim.messaging import groups as G
from walletim.messaging.group_ids import BOUND_HEX, new_id
from walletim.messaging.group_parts import MAX_PARTS, bodies, part_of, split
from walletim.messaging.groups_v1 import Membership
from walletim.messaging.kinds import text_of
from walletim.store import held as H
from walletim.store.chat import ChatRepo, GroupRow
from walletim.store.db import Store

SIGNERS = [LocalSigner(bytes([i + 1]) * 32) for i in range(6)]
ALICE, BOB, CAROL, DAVE, ERIN, MALLORY = (s.address for s in SIGNERS)
BY_ADDRESS = {s.address: s for s in SIGNERS}
GID = "0f" * 16
KEY = bytes(range(32))


def sign(c: G.GroupChange) -> G.GroupChange:
    sig = BY_ADDRESS[c.by].sign_message(c.statement())
    return replace(c, signature="0x" + bytes(sig.bytes).hex())


def unsigned(c: G.GroupChange) -> G.GroupChange:
    return replace(c, signature="0x" + "00" * 65)


def create(*members: str, by: str = ALICE) -> G.GroupChange:
    return sign(G.new_group(GID, "family", members, by))


def step(
    parent: G.GroupChange | G.GroupState, action: str, subject: str | None, by: str
) -> G.GroupChange:
    state = parent if isinstance(parent, G.GroupState) else parent.state()
    return sign(G.propose(state, action, subject, by))


def forge(parent: G.GroupState, **fields: object) -> G.GroupChange:
    """A change built by hand (no rule checked), then signed by its ``by``."""
    base = G.GroupChange(
        parent.group_id, parent.name, parent.version + 1, parent.head, "add", None,
        parent.members, parent.admins, parent.creator, MALLORY, "",
    )  # fmt: skip
    return sign(replace(base, **fields))  # type: ignore[arg-type]


# -- the rules ------------------------------------------------------------------------------------


def test_a_change_round_trips_and_is_signed_by_its_author() -> None:
    c = create(BOB, CAROL)
    assert G.parse_change(json.loads(json.dumps(c.to_json()))) == c
    assert c.signed() and G.check_create(c) is None
    assert c.admins == (ALICE,) and c.creator == ALICE and c.prev == G.ZERO_HASH
    assert not replace(c, by=BOB).signed()  # the signature names its author
    assert not replace(c, members=(ALICE, BOB)).signed()  # and covers the roster
    head, context = G.parse_bundle(G.bundle(step(c, "add", DAVE, ALICE), [c]))
    assert context == (c,) and head.prev == c.hash
    assert text_of("membership", head.to_json()) == f"{ALICE} added {DAVE}"


def test_malformed_changes_and_the_old_format_are_refused() -> None:
    c = create(BOB).to_json()
    cases = [
        {**c, "v": 1},
        Membership(
            GID, "family", 3, "remove", ALICE, (BOB, MALLORY), MALLORY, "0x" + "00" * 65
        ).to_json(),
        {**c, "version": 2},  # a create must be version 1 on the zero hash
        {**c, "action": "add", "prev": G.ZERO_HASH},
        {**c, "members": [ALICE, ALICE]},
        {**c, "admins": [CAROL]},  # an admin who is not a member
        {**c, "action": "crown"},
        {**c, "name": "  "},
        {**c, "members": []},
    ]
    for body in cases:
        with pytest.raises(MessagingError):
            G.parse_change(body)
    with pytest.raises(MessagingError):
        G.parse_bundle({**c, "context": [c] * (G.MAX_CONTEXT + 1)})
    with pytest.raises(MessagingError):
        G.parse_bundle({**c, "context": [{**c, "group": "1f" * 16}]})


def bound_create(*members: str, by: str = ALICE) -> G.GroupChange:
    """A create of a group whose id is bound to ``by`` (as walletim makes them now)."""
    gid, salt = new_id(by, lambda n: b"\x5a" * n)
    return sign(G.new_group(gid, "family", members, by, salt))


def test_a_bound_group_id_takes_a_create_only_from_its_creator() -> None:
    """Anyone who knows a group's id can sign a create for it: a new group's id is derived
    from its creator's address and a salt the signed create carries, so only that creator's
    create matches it. An id from before (32 digits) stays bound to nobody."""
    real = bound_create(BOB, CAROL)
    gid = real.group_id
    assert len(gid) == BOUND_HEX and G.check_create(real) is None and real.signed()
    assert G.parse_change(json.loads(json.dumps(real.to_json()))) == real
    assert not replace(real, salt="0x" + "00" * 16).signed()  # the salt is signed
    roster = tuple(sorted((MALLORY, BOB)))
    hers = G.GroupChange(
        gid, "family", 1, G.ZERO_HASH, "create", None, roster, (MALLORY,), MALLORY, MALLORY,
        "", real.salt,
    )  # fmt: skip
    for forged in (hers, replace(hers, salt="0x" + "11" * 16), replace(hers, salt=None)):
        assert G.check_create(sign(forged)) is not None, forged.salt
    with pytest.raises(G.ChangeRefused, match="bound to"):
        G.new_group(gid, "family", (BOB,), MALLORY, real.salt)
    # A legacy id: any member's create checks (as before), and it carries no salt.
    legacy = create(BOB, CAROL)
    assert "salt" not in legacy.to_json() and G.check_create(legacy) is None
    assert G.check_create(replace(legacy, salt=real.salt)) is not None
    # Only a create carries a salt.
    nxt = step(real, "add", DAVE, ALICE).to_json()
    with pytest.raises(MessagingError, match="only a create carries a salt"):
        G.parse_change({**nxt, "salt": real.salt})
    with pytest.raises(MessagingError, match="malformed group id salt"):
        G.parse_change({**real.to_json(), "salt": "0x1234"})


def test_a_bound_group_is_joined_only_from_its_create(tmp_path: Path) -> None:
    """A history that does not reach a bound group's create (one "checked from version N")
    is refused: a removed member could sign one that adds you to a roster of theirs. The
    same history with its create applies; a legacy group's still applies from version N."""
    real = bound_create(BOB, CAROL)
    c2 = step(real, "add", DAVE, ALICE)
    c3 = step(c2, "add", ERIN, ALICE)
    legacy = create(BOB, CAROL)
    l2 = step(legacy, "add", DAVE, ALICE)
    l3 = step(l2, "add", ERIN, ALICE)
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        with repo.tx() as tx:
            out = grouplog.ingest(tx, ERIN, c3, [c2], now_ms=1)
        assert out.state == "refused" and out.reason == grouplog.BOUND_FROM_CREATE
        assert repo.group(ERIN, real.group_id) is None
        with repo.tx() as tx:
            assert grouplog.ingest(tx, ERIN, c3, [c2, real], now_ms=2).state == "applied"
            assert grouplog.ingest(tx, ERIN, l3, [l2], now_ms=3).state == "applied"
        g = repo.group(ERIN, real.group_id)
        assert g is not None and g.verified and g.head == c3.hash and g.checked_from == 1
        g = repo.group(ERIN, GID)
        assert g is not None and g.verified and g.checked_from == 2


def long_history(n: int, *members: str) -> list[G.GroupChange]:
    """A bound group Alice made with Bob (and ``members``) after ``n`` more changes (Bob
    made admin, then not, and again), newest first."""
    chain = [bound_create(BOB, *members)]
    for i in range(n):
        chain.append(step(chain[-1], "demote" if i % 2 else "promote", BOB, ALICE))
    chain.reverse()
    return chain


def test_a_history_too_long_for_one_message_is_taken_from_its_parts_in_any_order(
    tmp_path: Path,
) -> None:
    """A long-lived group's history no longer fits in one change, and a person being added
    checks it from its create: it comes in parts (walletim.messaging.group_parts), each
    held until every one is here, whatever their order, a part again taken once; then the
    whole history is checked from the create. Alone, the newest part is not taken."""
    earlier = long_history(150)
    add = step(earlier[0], "add", ERIN, ALICE)
    gid = add.group_id
    parts = bodies(add, earlier)
    assert parts is not None and len(parts) >= 3 and not G.carries_all(earlier)
    assert [G.parse_bundle(p)[0] for p in parts] == [add] * len(parts)
    assert [part_of(p) for p in parts] == [(i, len(parts)) for i in range(1, len(parts) + 1)]
    assert G.parse_bundle(parts[0])[1][-1] == earlier[-1]  # the first carries the create
    order = [parts[-1], parts[0], parts[0], *parts[1:-1]]
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        for i, body in enumerate(order):
            notices: list[grouplog.GroupNotice] = []
            with repo.tx() as tx:
                head, context = G.parse_bundle(body)
                whole = whole_history(tx, ERIN, ALICE, f"m{i}", body, head, context, notices)
                if whole is not None:
                    assert i == len(order) - 1 and len(whole) == len(earlier)
                    assert grouplog.ingest(tx, ERIN, head, whole, now_ms=5).state == "applied"
                    continue
            assert [n.kind for n in notices] == (["held"] if i == 0 else [])
            assert repo.group(ERIN, gid) is None
        g = repo.group(ERIN, gid)
        assert g is not None and g.verified and g.head == add.hash and g.checked_from == 1
        assert g.members == tuple(sorted((ALICE, BOB, ERIN))) and g.version == 152
        with repo.tx() as tx:
            assert H.parts(tx.conn, ERIN, gid, ALICE) == []  # the parts are forgotten


def test_a_member_added_back_after_a_long_history_takes_it_from_its_parts(
    tmp_path: Path,
) -> None:
    """Erin left; the group went on past what one change carries; alice adds her back. Her
    device holds the history up to her leave: the parts are gathered as for a person new to
    the group (each alone was a change seen again, refused as a replay, or one too many
    held), then the gap is checked and applied on what she holds."""
    earlier = long_history(3, ERIN)
    left = sign(G.propose(earlier[0].state(), "leave", None, ERIN))
    chain = [left, *earlier]
    for i in range(140):
        chain.insert(0, step(chain[0], "promote" if i % 2 else "demote", BOB, ALICE))
    add = step(chain[0], "add", ERIN, ALICE)
    parts = bodies(add, chain)
    assert parts is not None and len(parts) >= 3
    erin = Me("dev", ERIN, identity_from_seed(bytes(32)), {})
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        with repo.tx() as tx:
            assert grouplog.ingest(tx, ERIN, earlier[0], earlier[1:], now_ms=1).state == "applied"
            assert grouplog.ingest(tx, ERIN, left, own=True, now_ms=1).state == "applied"
        states = []
        for i, body in enumerate([parts[-1], *parts[:-1]]):
            with repo.tx() as tx:
                head, context = G.parse_bundle(body)
                whole = whole_history(tx, ERIN, ALICE, f"m{i}", body, head, context, [])
                if whole is not None:
                    states.append(grouplog.ingest(tx, ERIN, head, whole, now_ms=5).state)
                assert settle(tx, erin, [], lambda *_: None) == []  # as the inbox does
        assert states == ["applied"]
        g = repo.group(ERIN, add.group_id)
        assert g is not None and g.head == add.hash and ERIN in g.members
        assert g.checked_from == 1 and g.version == len(chain) + 1


def test_a_history_needing_more_parts_than_a_receiver_holds_is_refused_before_sending() -> None:
    """What truly cannot be sent is still refused at once, in one line."""
    from walletim.app.chat.groups import _unwelcoming

    gid, salt = new_id(ALICE, lambda n: b"\x5a" * n)
    chain = [G.new_group(gid, "family", (BOB,), ALICE, salt)]
    for i in range(MAX_PARTS * G.MAX_CONTEXT + 1):
        chain.append(G.propose(chain[-1].state(), "demote" if i % 2 else "promote", BOB, ALICE))
    earlier = chain[::-1]
    assert split(earlier) is None and split(earlier[: G.MAX_CONTEXT]) is not None
    row = GroupRow(ALICE, gid, "family", (ALICE, BOB), len(chain), ALICE, True)
    why = _unwelcoming(row, earlier)
    assert why is not None and f"even in {MAX_PARTS} messages" in why


def test_only_admins_add_and_remove_and_nobody_removes_the_creator() -> None:
    c1 = create(BOB, CAROL, MALLORY)
    s1 = c1.state()
    for action, subject in (("add", ERIN), ("remove", BOB), ("promote", MALLORY)):
        with pytest.raises(G.ChangeRefused, match="not an admin"):
            G.propose(s1, action, subject, MALLORY)
    # Signed by hand so the roster "follows": still refused, by the rule on who may.
    hostile = forge(s1, action="remove", subject=ALICE, members=(BOB, CAROL, MALLORY), admins=())
    assert "not an admin" in (G.check(s1, hostile) or "")
    c2 = step(c1, "promote", BOB, ALICE)
    s2 = c2.state()
    assert s2.admins == (ALICE, BOB) and s2.rank(ALICE) == 0 and s2.rank(MALLORY) == 2
    with pytest.raises(G.ChangeRefused, match="creator cannot be removed"):
        G.propose(s2, "remove", ALICE, BOB)
    with pytest.raises(G.ChangeRefused, match="creator cannot be demoted"):
        G.propose(s2, "demote", ALICE, BOB)
    c3 = step(c2, "promote", CAROL, BOB)  # an admin may promote; carol ranks after bob
    with pytest.raises(G.ChangeRefused, match="more senior admin"):
        G.propose(c3.state(), "remove", BOB, CAROL)
    c4 = step(c3, "remove", CAROL, BOB)  # bob is senior to carol
    assert c4.state().admins == (ALICE, BOB) and CAROL not in c4.state().members
    with pytest.raises(G.ChangeRefused, match="last admin cannot leave"):
        G.propose(create(BOB).state(), "leave", None, ALICE)
    assert step(c4, "leave", None, MALLORY).state().members == tuple(sorted((ALICE, BOB)))


def test_a_change_applies_only_at_the_next_version_on_the_current_head() -> None:
    c1 = create(BOB, CAROL, MALLORY)
    s1 = c1.state()
    ahead = forge(s1, version=3, action="leave", members=(ALICE, BOB, CAROL), by=MALLORY)
    assert "next version is 2" in (G.check(s1, ahead) or "")
    elsewhere = forge(s1, prev="0x" + "ab" * 32, action="leave", members=(ALICE, BOB, CAROL))
    assert "does not build on" in (G.check(s1, elsewhere) or "")
    # The example: roster loses the creator and gains someone new, "by" one change.
    swap = forge(s1, action="add", subject=ERIN, members=(BOB, CAROL, ERIN, MALLORY), by=ALICE)
    assert "does not follow" in (G.check(s1, swap) or "")
    again = replace(create(BOB, DAVE), by=ALICE)
    assert "create for a group that already exists" in (G.check(s1, again) or "")
    renamed = forge(s1, action="leave", name="ours", members=(ALICE, BOB, CAROL))
    assert "name or creator" in (G.check(s1, renamed) or "")


def test_a_gap_is_held_then_applied_in_order() -> None:
    c1 = create(BOB, CAROL)
    c2 = step(c1, "add", DAVE, ALICE)
    c3 = step(c2, "add", ERIN, ALICE)
    anchor = c1.state()
    held = G.resolve(anchor, [c3])
    assert held.state == anchor and held.pending == {c3.hash} and held.chain == ()
    done = G.resolve(anchor, [c3, c2])
    assert done.chain == (c2, c3) and done.state.members == tuple(
        sorted((ALICE, BOB, CAROL, DAVE, ERIN))
    )
    # A change built on a refused one is refused with it, not held for ever.
    bad = forge(anchor, action="remove", subject=ALICE, members=(BOB, CAROL), by=BOB)
    child = forge(bad.state(), action="leave", members=(BOB,), by=CAROL)
    r = G.resolve(anchor, [bad, child])
    assert set(r.refused) == {bad.hash, child.hash} and r.state == anchor


def test_a_fork_goes_to_the_senior_author_unless_the_other_was_built_on() -> None:
    c1 = create(BOB, CAROL, DAVE)
    c2 = step(c1, "promote", BOB, ALICE)
    a3 = step(c2, "remove", DAVE, ALICE)  # concurrently, at version 3
    b3 = step(c2, "remove", CAROL, BOB)
    anchor = c1.state()
    r = G.resolve(anchor, [c2, b3, a3])
    assert r.state.head == a3.hash and r.side == {b3.hash}
    assert [(f.version, f.kept, f.others) for f in r.forks] == [(3, a3, (b3,))]
    # carol built on bob's before alice's arrived: acknowledged beats senior.
    c4 = step(b3, "leave", None, DAVE)
    r = G.resolve(anchor, [c2, b3, a3, c4])
    assert r.chain == (c2, b3, c4)
    # One author's two changes at one version: the lower hash, on every device.
    x3, y3 = step(c2, "add", ERIN, ALICE), step(c2, "add", MALLORY, ALICE)
    assert G.resolve(anchor, [c2, x3, y3]).chain[-1].hash == min(x3.hash, y3.hash)


def test_a_removed_admin_cannot_undo_history_with_a_late_fork() -> None:
    c1 = create(BOB, CAROL, MALLORY)
    c2 = step(c1, "promote", MALLORY, ALICE)
    c3 = step(c2, "promote", BOB, ALICE)
    c4 = step(c3, "add", DAVE, BOB)
    c5 = step(c4, "remove", MALLORY, ALICE)
    anchor = c1.state()
    # mallory (senior to bob) forks at version 4, where she was still an admin.
    late = step(c3, "remove", CAROL, MALLORY)
    r = G.resolve(anchor, [c2, c3, c4, c5, late])
    assert r.state.head == c5.hash and MALLORY not in r.state.members and late.hash in r.side
    # Nor can a plain member's late "leave" at an old version win over what others built.
    old_leave = step(c1, "leave", None, CAROL)
    assert G.resolve(anchor, [c2, c3, c4, c5, old_leave]).state.head == c5.hash


def test_a_roster_from_v1_changes_gets_a_head_every_member_computes_alike() -> None:
    a = G.legacy_state(GID, "family", 4, [CAROL, ALICE, BOB], ALICE)
    b = G.legacy_state(GID, "family", 4, [ALICE, BOB, CAROL], ALICE)
    assert a == b and a.admins == (ALICE,) and a.version == 4
    nxt = step(a, "add", DAVE, ALICE)
    assert G.check(a, nxt) is None and nxt.version == 5
    assert G.legacy_state(GID, "family", 4, [BOB, CAROL], ALICE).admins == tuple(
        sorted((BOB, CAROL), key=str.lower)
    )


# -- any delivery order converges ------------------------------------------------------------------


def moves(state: G.GroupState) -> list[tuple[str, str | None, str]]:
    """Every (action, subject, author) the rules allow on ``state``."""
    people = [ALICE, BOB, CAROL, DAVE, ERIN, MALLORY]
    out = []
    for by in state.members:
        for action in G.ACTIONS[1:]:
            for subject in [None] if action == "leave" else people:
                try:
                    G.propose(state, action, subject, by)
                except G.ChangeRefused:
                    continue
                out.append((action, subject, by))
    return out


@st.composite
def histories(draw: st.DrawFn, signed: bool = False) -> tuple[G.GroupChange, list[G.GroupChange]]:
    """A create and a tree of valid changes (forks included: a change may build on any of
    the last few), plus hostile ones: numbered ahead, by a non-admin, or on an unknown
    change."""
    seal = sign if signed else unsigned
    first = seal(G.new_group(GID, "g", [ALICE, BOB, CAROL, DAVE], ALICE))
    nodes = [first]
    for _ in range(draw(st.integers(1, 9))):
        parent = draw(st.sampled_from(nodes[-3:]))
        state = parent.state()
        allowed = moves(state)
        if allowed and draw(st.integers(0, 4)):
            action, subject, by = draw(st.sampled_from(allowed))
            nodes.append(seal(G.propose(state, action, subject, by)))
            continue
        by = draw(st.sampled_from(state.members))
        bad = G.GroupChange(
            GID, "g", state.version + draw(st.integers(1, 2)),
            draw(st.sampled_from([state.head, "0x" + "ab" * 32])), "remove", ALICE,
            tuple(m for m in state.members if m != ALICE) or (by,), (), ALICE, by, "",
        )  # fmt: skip
        nodes.append(seal(bad))
    return first, nodes[1:]


def deliver(anchor: G.GroupState, order: list[G.GroupChange]) -> G.GroupState:
    """A member's view after changes arrive one by one (refused ones are forgotten)."""
    held: dict[str, G.GroupChange] = {}
    for c in order:
        held[c.hash] = c
        for h in G.resolve(anchor, held.values()).refused:
            held.pop(h, None)
    return G.resolve(anchor, held.values()).state


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_delivery_order_of_a_history_converges(data: st.DataObject) -> None:
    first, changes = data.draw(histories())
    anchor = first.state()
    want = G.resolve(anchor, changes).state
    for _ in range(3):
        order = data.draw(st.permutations(changes))
        assert deliver(anchor, order) == want


def _view(
    store: Store, me: str, first: G.GroupChange, order: list[G.GroupChange]
) -> tuple[object, ...]:
    repo = ChatRepo(store)
    with repo.tx() as tx:
        grouplog.ingest(tx, me, first, now_ms=1)
    for c in order:
        with repo.tx() as tx:
            grouplog.ingest(tx, me, c, now_ms=2)
    g = repo.group(me, GID)
    assert g is not None and g.verified
    return (g.version, g.head, g.members, g.admins)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_members_converge_through_the_store_whatever_the_order(data: st.DataObject) -> None:
    """The same, through grouplog and a real SQLCipher store, signatures checked: two
    members (or one member twice) given one history in two orders hold the same roster."""
    first, changes = data.draw(histories(signed=True))
    want = G.resolve(first.state(), changes).state
    with tempfile.TemporaryDirectory() as d, Store.open(Path(d) / "w.db", KEY) as store:
        one = _view(store, BOB, first, data.draw(st.permutations(changes)))
        two = _view(store, CAROL, first, data.draw(st.permutations(changes)))
    assert one == two == (want.version, want.head, want.members, want.admins)


def test_a_group_from_before_the_migration_continues_with_chained_changes(tmp_path: Path) -> None:
    """A roster stored from v1 changes (schema before migration 9) keeps working: it gets
    the legacy head every member computes alike, its creator as admin, and v2 changes on it
    apply, while a change numbered ahead of it is held."""
    from walletim.store.schema import MIGRATIONS

    path = tmp_path / "w.db"
    old = [m for m in MIGRATIONS if m.version < 9]
    with Store.open(path, KEY, migrations=old) as store, store.transaction() as conn:
        conn.execute(
            "INSERT INTO groups (account, group_id, name, members, version, creator, verified, "
            "updated_ms) VALUES (?,?,?,?,?,?,1,1)",
            (BOB, GID, "family", json.dumps(sorted([ALICE, BOB, CAROL])), 4, ALICE),
        )
    with Store.open(path, KEY) as store:
        repo = ChatRepo(store)
        legacy = G.legacy_state(GID, "family", 4, [ALICE, BOB, CAROL], ALICE)
        ahead = step(step(legacy, "add", DAVE, ALICE), "add", ERIN, ALICE)
        with repo.tx() as tx:
            assert grouplog.ingest(tx, BOB, ahead, now_ms=1).state == "held"
        nxt = step(legacy, "add", DAVE, ALICE)
        with repo.tx() as tx:
            assert grouplog.ingest(tx, BOB, nxt, now_ms=2).state == "applied"
        g = repo.group(BOB, GID)
        assert g is not None and (g.version, g.head, g.admins) == (6, ahead.hash, (ALICE,))
        assert g.checked_from == 0 and g.verified  # signed changes, but from before chaining
