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


#: The four people: alice is dev:0, bob dev:1, carol dev:2, dave dev:3.
NAMES = ("alice", "bob", "carol", "dave")
#: A relay nobody listens on: the template homes are made without one.
NO_RELAY = "ws://127.0.0.1:9"


@pytest.fixture(scope="session")
def people_homes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four homes as far as they need no relay and no chain, made once: each wallet
    imported, its chat identity, binding and prekeys made and stored, the others accepted.
    Each test's ``people`` copies them and publishes on its own relay (``chat init``): making
    them in every test cost ~0.2 s of CPU in each of ~100 tests."""
    from walletim.app.session import Session

    root = tmp_path_factory.mktemp("people")
    out: dict[str, Person] = {}
    for n, name in enumerate(NAMES):
        s = Session(root / name, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True)
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        s.chat.delivery_key(f"dev:{n}")  # makes the identity, binding and prekeys first
        out[name] = Person(name, f"dev:{n}", s)
    accept_each_other(out.values())
    for p in out.values():
        p.session.close()
    return root


@pytest.fixture
def people(
    world: World, relay: RelayProcess, tmp_path: Path, people_homes: Path
) -> Iterator[dict[str, Person]]:
    import shutil

    from walletim.app.session import Session

    out: dict[str, Person] = {}
    sessions = []
    for n, name in enumerate(NAMES):
        home = shutil.copytree(people_homes / name, tmp_path / name)
        s = Session(home, HOME_PASSWORD, rpc_url=world.url, relay_url=relay.url, fast_kdf=True)
        sessions.append(s)  # no world manifest: each home finds the world on the chain
        out[name] = Person(name, f"dev:{n}", s)
        s.chat.init(f"dev:{n}")
    try:
        yield out
    finally:
        for s in sessions:
            s.close()
