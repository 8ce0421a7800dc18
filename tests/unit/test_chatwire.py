"""The chat results an agent hands back (walletim.app.chatwire): the same objects come out
as went in; anything else is a ValueError, never a call into an arbitrary type."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.app import chatwire
from walletim.app.chat.results import InboxResult, Received, Rejection, SendResult
from walletim.app.chatcmds import InboxOutcome, SendOutcome
from walletim.store.chat import ConversationInfo, StoredMessage
from walletim.store.relay import OutboxWait


def message(n: int, body: object = None, text: str = "gm 小明") -> StoredMessage:
    return StoredMessage(
        n, "c1", "0xA", "0xB", "out", "e", n, 1_700_000_000_000, 1_700_000_000_001, "text",
        body, text, "sent", "r1", False, msg_id="m" + str(n), nonce="00ff",
    )  # fmt: skip


def through_json(value: object) -> Any:
    return chatwire.load(json.loads(json.dumps(chatwire.dump(value))))


def test_send_and_inbox_outcomes_come_back_as_the_same_objects() -> None:
    wait = OutboxWait("r1", "0xA", "rate_limited", "slow down", 2, 5)
    sent = SendOutcome(SendResult("0xB", message(1), True, 3, wait), {"0xB": "bob"})
    assert through_json(sent) == sent
    body = {"amount": "1", "list": [1, 2, {"x": None}], "flag": True}
    inbox = InboxOutcome(
        InboxResult(
            "0xA",
            received=[Received(message(2, body), "gap", (1, 3), request=True)],
            rejected=[Rejection(None, "replay", "seen")],
            failed=[(message(3), "why")],
            waiting=[(message(4), wait)],
            key_changes=["0xC"],
        ),
        conversations=[ConversationInfo("c1", "0xA", "0xB", "bob", 2, message(5))],
        names={"0xB": "bob"},
        pending=frozenset({"0xD"}),
    )
    back = through_json(inbox)
    assert back == inbox
    assert isinstance(back.result.received[0].missing, tuple)
    assert back.result.failed[0] == (message(3), "why")


def test_only_walletim_dataclasses_are_rebuilt() -> None:
    for doc in (
        {"$dc": "subprocess:Popen", "v": {"args": ["id"]}},
        {"$dc": "walletim.app.chatwire:load", "v": {}},
        {"$dc": "walletim.store.chat:StoredMessage", "v": {"nope": 1}},
        {"$en": "os:system", "v": "id"},
        {"$dc": "walletim..x:Y", "v": {}},
        {"$by": "zz"},
        {"unknown": 1},
    ):
        with pytest.raises(ValueError):
            chatwire.load(doc)
    with pytest.raises(ValueError):
        chatwire.dump(object())


def test_no_module_outside_walletim_is_even_imported() -> None:
    """Importing runs a module's code (``this`` prints, ``antigravity`` opens a browser)."""
    sys.modules.pop("this", None)
    for tag in ("$dc", "$en"):
        with pytest.raises(ValueError):
            chatwire.load({tag: "this:s", "v": {}})
    assert "this" not in sys.modules


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_any_json_is_a_result_or_a_value_error(doc: object) -> None:
    with contextlib.suppress(ValueError):
        chatwire.load(doc)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_any_body_a_message_carries_comes_back(body: object) -> None:
    assert through_json(message(1, body)) == message(1, body)
