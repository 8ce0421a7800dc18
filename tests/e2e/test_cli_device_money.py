"""Money on every device (issue 17): Bob on two joined homes (one mnemonic) and Alice
joined; Alice pays Bob and asks him for money: the claim and the request reach both of
Bob's homes, and each checks the payment on chain by itself and records it. Real Anvil
with the world, a real relay."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, Cli, RelayProcess, World
from tests.e2e.test_cli_wim import User, users  # noqa: F401 - the fixture


def test_a_payment_is_verified_and_recorded_on_every_device(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    from walletim.app.session import Session

    alice, bob = users["alice"], users["bob"]
    home = tmp_path / "bob-phone"
    with Session(home, HOME_PASSWORD, fast_kdf=True) as s:
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
    phone = User(Cli(home, {**world.cli().env, "WALLETIM_HOME": str(home)}), bob.spec, world, relay)
    phone.ok("chat", "accept", "--from", phone.spec, alice.address)
    for user in (alice, bob, phone):
        user.ok("chat", "device", "join", "--from", user.spec)
        user.ok("chat", "inbox", "--from", user.spec)

    paid = alice.ok("pay", "--from", "dev", bob.address, "0.25", "--note", "lunch")
    assert paid["state"] == "verified" and paid["delivered"] is True
    asked = alice.ok("request", "--from", "dev", bob.address, "3", "--token", "USDC")
    for device in (bob, phone):
        device.ok("chat", "inbox", "--from", device.spec)
        seen = device.ok("payments", "--from", device.spec)
        assert [(p["state"], p["direction"], p["from"], p["hash"]) for p in seen["payments"]] == [
            ("verified", "in", alice.address, paid["hash"])
        ]
        assert [r["request_id"] for r in seen["requests"]] == [asked["request_id"]]
        texts = [
            m["text"]
            for m in device.ok("chat", "read", "--from", device.spec, alice.address)["messages"]
        ]
        assert any("lunch" in t for t in texts), texts
