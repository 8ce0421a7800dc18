"""Fixtures of the integration tests: people, each with a home of their own, on one devnet
and one relay."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, RelayProcess, World


@dataclass
class Person:
    name: str
    spec: str
    session: Any

    @property
    def address(self) -> str:
        return str(self.session.wallets.account(self.spec).address)

    def inbox(self) -> Any:
        return self.session.chat.inbox(self.spec)

    def payments(self) -> list[Any]:
        return list(self.session.wim.payments(self.spec))

    def last_payment(self) -> Any:
        return self.payments()[0]


def accept_each_other(people: Iterable[Any]) -> None:
    """People who pay each other know each other: each accepts the others (consent,
    walletim.app.chat.consent), so money between them is recorded and checked."""
    everyone = list(people)
    for p in everyone:
        for other in everyone:
            if other is not p:
                p.session.chat.accept(p.spec, other.address)


@pytest.fixture
def people(world: World, relay: RelayProcess, tmp_path: Path) -> Iterator[dict[str, Person]]:
    from walletim.app.session import Session

    out: dict[str, Person] = {}
    sessions = []
    for n, name in enumerate(("alice", "bob", "carol", "dave")):
        home = tmp_path / name
        s = Session(home, HOME_PASSWORD, rpc_url=world.url, relay_url=relay.url, fast_kdf=True)
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        sessions.append(s)  # no world manifest: each home finds the world on the chain
        out[name] = Person(name, f"dev:{n}", s)
        s.chat.init(f"dev:{n}")
    accept_each_other(out.values())
    try:
        yield out
    finally:
        for s in sessions:
            s.close()
