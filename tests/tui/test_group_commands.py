"""Group commands typed in the app's compose box (walletim.tui.groups): what parses, and
every mistake one line with the usage; a member command outside a group is refused with
the words back in the box."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tui.conftest import BOB, snapshot_app
from tests.tui.screen import aio, parsed_or_one_line, screen_text, until_shown
from walletim.errors import InputError
from walletim.tui.groups import GroupCommand, is_group_command, parse


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("/group 火锅 0xA bob", GroupCommand("group", "火锅", ("0xA", "bob"))),
        ('/group "hot pot" bob', GroupCommand("group", "hot pot", ("bob",))),
        ("/add bob", GroupCommand("add", peers=("bob",))),
        ("  /remove   carol ", GroupCommand("remove", peers=("carol",))),
        ("/promote bob", GroupCommand("promote", peers=("bob",))),
        ("/demote bob", GroupCommand("demote", peers=("bob",))),
        ("/leave", GroupCommand("leave")),
        # A Chinese input method in full-width mode types U+3000 between words: /pay split
        # there, /group read it all as one word ("not a group command").
        ("/group\u3000家人\u3000小明 老王", GroupCommand("group", "家人", ("小明", "老王"))),
        ("/add\u3000小明", GroupCommand("add", peers=("小明",))),
        ('/group "家人\u3000朋友" 小明', GroupCommand("group", "家人\u3000朋友", ("小明",))),
    ],
)
def test_group_commands_parse(text: str, want: GroupCommand) -> None:
    assert is_group_command(text)
    assert parse(text) == want


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/group lonely", "usage: /group NAME PEER [PEER...]"),
        ("/add", "usage: /add PEER"),
        ("/add bob carol", "usage: /add PEER"),
        ("/leave now", "usage: /leave"),
        ('/group "hot pot bob', "a quote is not closed"),
        ('/add ""', "usage: /add PEER"),
        ('/group "" bob', "usage: /group NAME PEER [PEER...]"),
    ],
)
def test_bad_group_commands_say_the_usage(text: str, says: str) -> None:
    with pytest.raises(InputError, match=re.escape(says)):
        parse(text)


def test_text_that_is_no_group_command_is_a_message() -> None:
    for text in ("/adder bob", "add bob", "/pay 1", "", "/"):
        assert not is_group_command(text)


@settings(max_examples=400)
@given(
    st.sampled_from(["/group ", "/add ", "/remove ", "/promote ", "/demote ", "/leave", "/"]),
    st.text(max_size=80) | st.sampled_from(['"', "'a b", '"火锅" 0x1', "\\", "a\nb c"]),
)
def test_any_typed_text_parses_or_is_one_input_error(head: str, text: str) -> None:
    """Whatever follows a group command's name (quotes unclosed, backslashes, line breaks,
    any script) parses or is refused in one line: never another exception."""
    line = head + text
    cmd = parsed_or_one_line(parse, line) if is_group_command(line) else None
    if cmd is None:
        return
    assert all(p.strip() for p in cmd.peers)
    if cmd.kind == "group":
        assert cmd.name.strip() and cmd.peers
    else:
        assert len(cmd.peers) == (cmd.kind != "leave") and not cmd.name


@aio
async def test_a_member_command_outside_a_group_is_refused_with_the_words_kept(
    filled_home: Path,
) -> None:
    """/add in bob's conversation (no group) is refused in one line before anything is asked,
    and the command goes back into the box."""
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.open_conversation(BOB)
        app.compose_box.text = "/add carol"
        await pilot.press("enter")
        await until_shown(pilot, app, "is for a group")
        assert "/add is for a group's conversation" in screen_text(app)
        assert len(app.screen_stack) == 1 and app.compose_box.text == "/add carol"
