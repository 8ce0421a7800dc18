"""End-to-end encrypted chat between wallet addresses: the Python API behind ``walletim chat``.

Example (a script)::

    from walletim.app.session import Session
    with Session("~/.walletim", password="...", relay_url="ws://127.0.0.1:8765") as s:
        s.chat.init("alice")                         # publish binding + prekeys
        s.chat.send("alice", "0xBob...", "gm")       # or a contact name, or a wallet account
        for m in s.chat.inbox("alice").received:     # fetch, decrypt, store, acknowledge
            print(m.message.peer, m.message.text)

:class:`ChatService` (:mod:`walletim.app.chat.service`) is the API; the modules beside it
each hold one part of chat and are named in its docstring.
"""

from typing import TYPE_CHECKING

from walletim.lazy import lazy_exports

if TYPE_CHECKING:
    from walletim.app.chat.consent import Consent, RequestInfo
    from walletim.app.chat.grouplog import GroupNotice
    from walletim.app.chat.ports import (
        AuthInfo,
        Connector,
        Hook,
        RelayConnection,
        WalletsPort,
        websocket_connector,
    )
    from walletim.app.chat.results import (
        Accepted,
        Blocked,
        Dropped,
        InboxResult,
        InitResult,
        Item,
        ListenEvent,
        Posted,
        ReadResult,
        Received,
        Rejection,
        SendResult,
        VerifyResult,
    )
    from walletim.app.chat.service import ChatService
    from walletim.app.chat.threads import Quote

__all__ = [
    "Accepted",
    "AuthInfo",
    "Blocked",
    "ChatService",
    "Connector",
    "Consent",
    "Dropped",
    "GroupNotice",
    "Hook",
    "InboxResult",
    "InitResult",
    "Item",
    "ListenEvent",
    "Posted",
    "Quote",
    "ReadResult",
    "Received",
    "Rejection",
    "RelayConnection",
    "RequestInfo",
    "SendResult",
    "VerifyResult",
    "WalletsPort",
    "websocket_connector",
]

# Names load on first use (walletim.lazy): ``chat inbox`` with nothing new, or a command
# whose chat runs in the agent, imports a result type without the whole service.
__getattr__ = lazy_exports(
    __name__,
    {
        "walletim.app.chat.consent": (
            "Consent",
            "RequestInfo",
        ),
        "walletim.app.chat.grouplog": ("GroupNotice",),
        "walletim.app.chat.ports": (
            "AuthInfo",
            "Connector",
            "Hook",
            "RelayConnection",
            "WalletsPort",
            "websocket_connector",
        ),
        "walletim.app.chat.results": (
            "Accepted",
            "Blocked",
            "Dropped",
            "InboxResult",
            "InitResult",
            "Item",
            "ListenEvent",
            "Posted",
            "ReadResult",
            "Received",
            "Rejection",
            "SendResult",
            "VerifyResult",
        ),
        "walletim.app.chat.service": ("ChatService",),
        "walletim.app.chat.threads": ("Quote",),
    },
)
