"""Tokens are who they claim to be: token lists per network, and how a token is named.

Anyone can deploy a contract whose ``symbol()`` says "USDC". walletim therefore names a
token by a symbol only when a **token list** (the Uniswap token-list JSON schema,
:mod:`walletim.contracts.tokenlist`) lists it at that address on this network's chain:

- the devnet world's own list, derived from the world manifest (``load_world``), so every
  home on the devnet has it without files;
- the lists added to this home (``walletim token list add FILE|URL``), kept in
  ``HOME/tokenlists/`` (atomic writes); a list applies only to its chain ids.

Everything that names a token goes through :class:`TokenBook` (``Session.tokens``):
:meth:`TokenBook.label` gives a :class:`TokenLabel` (``display`` is what to print) and
:meth:`TokenBook.resolve` turns what a user typed into an address.

Rules when lists disagree:

- **a symbol claimed by two addresses** (the same symbol, compared case-insensitively,
  across or within lists) is *ambiguous*: it does not resolve (give the address), and such
  tokens are displayed with their address (``USDC (0xA0b8…eB48)``); so are listed tokens
  whose symbols only *look* alike (Unicode confusables);
- **one address listed with different decimals** by two lists: the list that came first
  wins (the devnet world's, then lists in the order they were added) and ``token list add``
  refuses a list that contradicts a stored one; different *symbols* for one address are all
  names of it (each resolves if unambiguous), the first one is displayed.

A token on no list is *unlisted*: shown by its short address with its self-declared symbol
in quotes (read from the chain, sanitised: no control or bidi characters, at most 20
characters). An unlisted token whose declared symbol equals or looks like a listed symbol
(TR39 skeletons: Cyrillic "USDС", fullwidth "ＵＳＤＣ"), or like the native "ETH", is an
*impostor*.

The package: :mod:`.book` (naming: TokenBook, TokenLabel, readers), :mod:`.lists` (the lists
of a network: the devnet world's, those stored in the home), :mod:`.fetch` (reading a list
from a file or URL; imported only when one is fetched).
"""

from __future__ import annotations

from walletim.app.tokens.book import (
    DECLARED_LIMIT,
    NATIVE_SYMBOLS,
    RpcTokenReader,
    Status,
    TokenBook,
    TokenLabel,
    TokenReader,
    clean_declared,
    short_address,
)
from walletim.app.tokens.lists import (
    LISTS_DIR,
    STORED_FORMAT,
    WORLD_LIST,
    Added,
    NetworkLists,
    Overview,
    Sources,
    StoredList,
    TokenLists,
    world_list,
)

__all__ = [
    "DECLARED_LIMIT",
    "LISTS_DIR",
    "NATIVE_SYMBOLS",
    "STORED_FORMAT",
    "WORLD_LIST",
    "Added",
    "NetworkLists",
    "Overview",
    "RpcTokenReader",
    "Sources",
    "Status",
    "StoredList",
    "TokenBook",
    "TokenLabel",
    "TokenLists",
    "TokenReader",
    "clean_declared",
    "short_address",
    "world_list",
]
