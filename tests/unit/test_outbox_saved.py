"""Which send errors mean the messages are stored and go out with the next pass
(walletim.app.chat.outbox.saved): the app leaves the compose box empty for those only."""

from __future__ import annotations

from walletim.app.chat.outbox import SAVED, not_stored, saved
from walletim.errors import RelayRefused, RelayUnavailable


def test_only_what_not_stored_made_is_saved() -> None:
    gone = not_stored(RelayUnavailable("ws://relay", "connection closed"))
    full = not_stored(RelayRefused("unavailable", "disk full"))
    assert gone is not None and saved(gone) and full is not None and saved(full)
    assert not_stored(RelayRefused("mailbox_full", "full")) is None


def test_a_relays_refusal_that_quotes_the_saved_words_is_not_saved() -> None:
    """A hostile relay refusing for good with the words walletim says of kept messages: the
    message is not kept, and its words must go back into the compose box, not be dropped."""
    assert not saved(RelayRefused("forbidden", f"no; {SAVED}"))
    assert not saved(RelayUnavailable("ws://relay", f"closed: {SAVED}"))
