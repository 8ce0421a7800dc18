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

from walletim.lazy import exported, lazy_exports, reexports

if TYPE_CHECKING:
    from walletim.app.chat.consent import Consent as Consent
    from walletim.app.chat.consent import RequestInfo as RequestInfo
    from walletim.app.chat.grouplog import GroupNotice as GroupNotice
    from walletim.app.chat.ports import AuthInfo as AuthInfo
    from walletim.app.chat.ports import Connector as Connector
    from walletim.app.chat.ports import Hook as Hook
    from walletim.app.chat.ports import RelayConnection as RelayConnection
    from walletim.app.chat.ports import WalletsPort as WalletsPort
    from walletim.app.chat.ports import websocket_connector as websocket_connector
    from walletim.app.chat.results import Accepted as Accepted
    from walletim.app.chat.results import Blocked as Blocked
    from walletim.app.chat.results import Dropped as Dropped
    from walletim.app.chat.results import InboxResult as InboxResult
    from walletim.app.chat.results import InitResult as InitResult
    from walletim.app.chat.results import Item as Item
    from walletim.app.chat.results import ListenEvent as ListenEvent
    from walletim.app.chat.results import Posted as Posted
    from walletim.app.chat.results import ReadResult as ReadResult
    from walletim.app.chat.results import Received as Received
    from walletim.app.chat.results import Rejection as Rejection
    from walletim.app.chat.results import SendResult as SendResult
    from walletim.app.chat.results import Unblocked as Unblocked
    from walletim.app.chat.results import VerifyResult as VerifyResult
    from walletim.app.chat.service import ChatService as ChatService
    from walletim.app.chat.threads import Quote as Quote

# Names load on first use (walletim.lazy): ``chat inbox`` with nothing new, or a command
# whose chat runs in the agent, imports a result type without the whole service.
_EXPORTS = reexports(__file__)
__getattr__ = lazy_exports(__name__, _EXPORTS)

__all__ = exported(_EXPORTS)
