"""Membership changes in the old ``walletim group v1`` form (pure): kept to show old
histories, refused when they arrive (:func:`walletim.messaging.kinds.parse_any_membership`
tells them from the signed, chained v2 changes of :mod:`walletim.messaging.groups`).

A v1 change carries the acting member's signature over :func:`membership_statement` and no
link to the change before it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from walletim.errors import MessagingError
from walletim.jsonview import record
from walletim.messaging import fields as F
from walletim.messaging.groups import MAX_MEMBERS, MAX_NAME


@dataclass(frozen=True, slots=True)
class Membership:
    """A ``walletim group v1`` change (kept to show old histories; no longer accepted)."""

    group_id: str
    name: str
    version: int
    action: str  # create | add | remove | leave
    subject: str | None  # the member added/removed/leaving (None for create)
    members: tuple[str, ...]  # the roster after the change, sorted
    by: str
    signature: str

    def statement(self) -> bytes:
        return membership_statement(
            self.group_id, self.name, self.version, self.action, self.subject, self.members
        )

    def to_json(self) -> dict[str, object]:
        return record(self, group_id="group")

    @property
    def text(self) -> str:
        if self.action == "create":
            return f"{self.by} created the group {self.name!r} with {len(self.members)} members"
        if self.action == "add":
            return f"{self.by} added {self.subject}"
        if self.action == "leave":
            return f"{self.by} left the group"
        return f"{self.by} removed {self.subject}"


def membership_statement(
    group_id: str,
    name: str,
    version: int,
    action: str,
    subject: str | None,
    members: tuple[str, ...],
) -> bytes:
    doc = {
        "group": group_id,
        "name": name,
        "version": version,
        "action": action,
        "subject": subject,
        "members": sorted(members),
    }
    return b"walletim group v1\n" + json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def parse_membership(body: object) -> Membership:
    b = F.obj(body, "membership change")
    action = b.get("action")
    if action not in ("create", "add", "remove", "leave"):
        raise MessagingError("unknown membership action")
    members = b.get("members")
    if not isinstance(members, list) or not 0 < len(members) <= MAX_MEMBERS:
        raise MessagingError("malformed group members")
    roster = tuple(sorted({F.address(m, "member") for m in members}))
    subject = b.get("subject")
    name = F.text(b.get("name"), "group name", MAX_NAME)
    return Membership(
        F.group_id(b.get("group")),
        name,
        F.uint(b.get("version"), "version", 32),
        str(action),
        None if subject is None else F.address(subject, "member"),
        roster,
        F.address(b.get("by"), "member"),
        F.hex_string(b.get("signature"), "signature", 65),
    )
