"""Group ids bound to their creator (pure).

Anyone who knows a group's id can sign a create for it. A group made by this version has an
id that only its creator's create can match: 48 lowercase hex digits, the first 24 bytes of::

    SHA-256("walletim group id v1" NUL creator's checksummed address NUL salt)

where ``salt`` is 16 random bytes the creator chose, carried (0x + 32 hex digits) in the
signed create. A create signed by anyone else (whose address is the ``creator`` a create
must name) matches that id only by a second preimage of SHA-256 cut to 192 bits. The old
ids (32 hex digits, 16 random bytes, bound to nobody) have another length, so one cannot
be passed off as the other: a 48-digit id is always checked as bound.

A member being added checks a bound group's history from its create
(:mod:`walletim.app.chat.grouplog`), so no roster is taken for it that does not come from
its creator's create. Groups made before keep their 32-digit ids and work as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

BOUND_HEX = 48  # digits of an id bound to its creator
LEGACY_HEX = 32  # digits of an id made before (random, bound to nobody)
SALT_BYTES = 16
_DOMAIN = b"walletim group id v1\x00"


def derive(creator: str, salt: bytes) -> str:
    """The id of the group ``creator`` (checksummed) makes with ``salt``."""
    data = _DOMAIN + creator.encode() + b"\x00" + salt
    return hashlib.sha256(data).hexdigest()[:BOUND_HEX]


def new_id(creator: str, randbytes: Callable[[int], bytes]) -> tuple[str, str]:
    """A new group's (id, salt as 0x hex) for ``creator``."""
    salt = randbytes(SALT_BYTES)
    return derive(creator, salt), "0x" + salt.hex()


def is_bound(group_id: str) -> bool:
    """True if ``group_id`` is bound to its creator (made by this version or later)."""
    return len(group_id) == BOUND_HEX


def binding_refusal(group_id: str, creator: str, salt: str | None) -> str | None:
    """Why a create naming ``creator`` with ``salt`` (0x hex, or None) is not the create
    of ``group_id``, or None."""
    if not is_bound(group_id):
        return None if salt is None else "a salt on a group id not derived from one"
    if salt is None:
        return "a create without the salt its group id is derived from"
    if derive(creator, bytes.fromhex(salt[2:])) != group_id:
        return "a create signed by someone other than the creator its group id is bound to"
    return None
