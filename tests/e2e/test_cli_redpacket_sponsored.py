"""Sponsored red-packet claims through the CLI (issue 15: red packets work for newcomers),
against Anvil with the world and a real relay process, each person in a home of their own.

alice (the world's home, dev:0) makes the packet; newbie is a wallet created a minute ago,
with 0 ETH; bob (dev:1) is another recipient who has ETH."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, Cli, RelayProcess, World

E18 = 10**18


class User:
    def __init__(self, cli: Cli, spec: str, address: str, world: World, relay: RelayProcess):
        self.cli, self.spec, self.address, self.world, self.relay = cli, spec, address, world, relay

    def run(self, *args: str, input: str | None = None) -> Any:
        return self.cli("--rpc-url", self.world.url, "--relay", self.relay.url, *args, input=input)

    def ok(self, *args: str) -> Any:
        r = self.run("--json", "--yes", *args)
        assert r.code == 0, (args, r.err)
        return r.json()

    def eth(self) -> int:
        return int(self.world.anvil.rpc().call("eth_getBalance", [self.address, "latest"]), 16)

    def nonce(self) -> int:
        rpc = self.world.anvil.rpc()
        return int(rpc.call("eth_getTransactionCount", [self.address, "latest"]), 16)


@pytest.fixture
def users(world: World, relay: RelayProcess, tmp_path: Path) -> dict[str, User]:
    from walletim.app.session import Session

    alice = User(world.cli(), "dev", world.address("dev"), world, relay)
    home = tmp_path / "bob"
    with Session(home, HOME_PASSWORD, fast_kdf=True) as s:
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
    bob = User(
        Cli(home, {**world.cli().env, "WALLETIM_HOME": str(home)}), "dev:1",
        world.address("dev:1"), world, relay,
    )  # fmt: skip
    # newbie: a brand-new wallet, made with the CLI, that never held any ETH.
    home = tmp_path / "newbie"
    cli = Cli(home, {**world.cli().env, "WALLETIM_HOME": str(home)})
    made = cli("--json", "wallet", "create", "newbie")
    assert made.code == 0, made.err
    newbie = User(cli, "newbie", made.json()["address"], world, relay)
    assert newbie.eth() == 0
    out = {"alice": alice, "bob": bob, "newbie": newbie}
    for u in out.values():
        u.ok("chat", "init", "--from", u.spec)
    for u in (bob, newbie):  # alice is a friend (consent: a stranger's red packet waits)
        u.ok("chat", "accept", "--from", u.spec, alice.address)
    return out


def _packet(alice: User, *to: str, total: str = "0.2") -> str:
    made = alice.ok(
        "redpacket", "create", "--from", "dev", "--total", total, "--shares", str(len(to)),
        "--to", *to, "--expiry", "3600",
    )  # fmt: skip
    return str(made["packet_id"])


def test_a_wallet_with_no_eth_gets_its_share_through_the_creators_inbox(
    users: dict[str, User],
) -> None:
    alice, bob, newbie = users["alice"], users["bob"], users["newbie"]
    pid = _packet(alice, newbie.address, bob.address)
    newbie.ok("chat", "inbox", "--from", newbie.spec)
    # No ETH for gas: the claim is signed and sent to alice, by itself.
    asked = newbie.ok("redpacket", "claim", "--from", newbie.spec, pid)
    assert (asked["state"], asked["sponsored"], asked["creator"]) == ("asked", True, alice.address)
    assert asked["delivered"] is True and int(asked["short_raw"]) > 0
    assert asked["claim"]["claimer"] == newbie.address and asked["claim"]["chain_id"] == 31337
    human = newbie.run("redpacket", "claim", "--from", newbie.spec, pid)
    assert human.code == 0 and "ETH for the gas of this claim" in human.out

    # alice's inbox submits it (her own packet, within the default cap) and pays the gas.
    before = alice.eth()
    inbox = alice.ok("chat", "inbox", "--from", "dev")
    [done] = inbox["sponsored"]
    assert (done["packet_id"], done["claimer"], done["state"]) == (pid, newbie.address, "claimed")
    assert done["raw"] == str(E18 // 10) and int(done["fee_raw"]) > 0
    assert alice.eth() == before - int(done["fee_raw"])  # gas only: nothing of the packet
    assert newbie.eth() == E18 // 10
    # The request and the copy sent again (the human command above) are one claim, paid once.
    assert alice.ok("chat", "inbox", "--from", "dev")["sponsored"] == []
    read = alice.ok("chat", "read", "--from", "dev", newbie.address)["messages"]
    claims = [m for m in read if m["kind"] == "sponsored-claim"]
    assert claims and all(m["packet_id"] == pid for m in claims)
    assert claims[0]["verification"]["state"] == "verified"

    # newbie's client reads it from the contract's Claimed log.
    newbie.ok("chat", "inbox", "--from", newbie.spec)
    [row] = newbie.ok("redpacket", "list", "--from", newbie.spec)["packets"]
    assert (row["packet_id"], row["claimed"]) == (pid, str(E18 // 10))
    text = newbie.run("chat", "read", "--from", newbie.spec, alice.address).out
    assert "is on chain (submitted for you, gas paid by another): you received 0.1 ETH" in text
    again = newbie.run("--yes", "redpacket", "claim", "--from", newbie.spec, pid)
    assert again.code == 1 and "already claimed" in again.err
    # bob, who has ETH, claims as before (not sponsored).
    bob.ok("chat", "inbox", "--from", bob.spec)
    got = bob.ok("redpacket", "claim", "--from", bob.spec, pid)
    assert (got["state"], got["raw"]) == ("claimed", str(E18 // 10))


def test_a_claim_asked_by_someone_blocked_since_is_not_submitted(users: dict[str, User]) -> None:
    """newbie asked alice to submit a claim; alice then blocked newbie. Her next inbox paid
    the gas of that claim anyway (a blocked peer's ask acted on); `redpacket sponsor` too.
    Nothing of it is submitted while newbie stays blocked; unblocked, it is."""
    alice, bob, newbie = users["alice"], users["bob"], users["newbie"]
    pid = _packet(alice, newbie.address, bob.address)
    newbie.ok("chat", "inbox", "--from", newbie.spec)
    newbie.ok("redpacket", "claim", "--from", newbie.spec, pid)
    assert alice.ok("chat", "inbox", "--from", "dev", "--sponsor-cap", "0")["sponsored"] == []
    alice.ok("chat", "block", "--from", "dev", newbie.address)
    nonce = alice.nonce()
    assert alice.ok("chat", "inbox", "--from", "dev")["sponsored"] == []
    assert alice.ok("redpacket", "sponsor", "--from", "dev")["sponsored"] == []
    assert alice.nonce() == nonce and newbie.eth() == 0
    alice.ok("chat", "unblock", "--from", "dev", newbie.address)
    [done] = alice.ok("chat", "inbox", "--from", "dev")["sponsored"]
    assert (done["claimer"], done["state"]) == (newbie.address, "claimed")


def test_the_creators_cap_and_asking_first_are_respected(users: dict[str, User]) -> None:
    alice, bob, newbie = users["alice"], users["bob"], users["newbie"]
    pid = _packet(alice, newbie.address, bob.address)
    newbie.ok("chat", "inbox", "--from", newbie.spec)
    newbie.ok("redpacket", "claim", "--from", newbie.spec, pid)
    nonce = alice.nonce()
    # --sponsor-cap 0: never without asking.
    assert alice.ok("chat", "inbox", "--from", "dev", "--sponsor-cap", "0")["sponsored"] == []
    # A cap below what the gas may cost: left waiting, with why.
    [low] = alice.ok("chat", "inbox", "--from", "dev", "--sponsor-cap", "0.000000001")["sponsored"]
    assert low["state"] == "waiting" and "above the 0.000000001 ETH" in low["reason"]
    assert low["hash"] is None and alice.nonce() == nonce and newbie.eth() == 0
    # Waiting claims are not retried by the inbox; `redpacket sponsor` asks first.
    assert alice.ok("chat", "inbox", "--from", "dev")["sponsored"] == []
    no = alice.run("redpacket", "sponsor", "--from", "dev", input="n\n")
    assert no.code == 1 and "aborted: nothing was changed" in no.err
    assert "claim of a share of red packet" in no.err and "the share goes to them" in no.err
    assert "UNKNOWN FUNCTION" not in no.err
    shown = alice.run("chat", "read", "--from", "dev", newbie.address).out
    assert "SPONSORED CLAIM, not on chain yet (its gas may cost up to " in shown
    assert "(walletim redpacket sponsor --from dev)" in shown
    assert alice.nonce() == nonce and newbie.eth() == 0
    listed = alice.run("redpacket", "sponsor", "--from", "dev", "--claimer", bob.address)
    assert listed.code == 0 and "no red-packet claims are waiting" in listed.out
    [done] = alice.ok("redpacket", "sponsor", "--from", "dev", pid)["sponsored"]
    assert done["state"] == "claimed" and newbie.eth() == E18 // 10
    assert alice.nonce() == nonce + 1


def test_any_sponsor_can_submit_a_claim_file_and_gains_nothing(
    users: dict[str, User], tmp_path: Path
) -> None:
    alice, bob, newbie = users["alice"], users["bob"], users["newbie"]
    pid = _packet(alice, newbie.address)
    newbie.ok("chat", "inbox", "--from", newbie.spec)
    asked = newbie.ok("redpacket", "claim", "--from", newbie.spec, pid, "--sponsored")
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(asked))
    before = bob.eth()
    [done] = bob.ok("redpacket", "sponsor", "--from", bob.spec, "--claim-file", str(path))[
        "sponsored"
    ]
    assert done["state"] == "claimed" and done["raw"] == str(E18 // 5)
    assert bob.eth() == before - int(done["fee_raw"]) and newbie.eth() == E18 // 5
    # The same file again: refused before signing, nothing spent.
    nonce = bob.nonce()
    twice = bob.run("--yes", "redpacket", "sponsor", "--from", bob.spec, "--claim-file", str(path))
    assert twice.code == 1 and "already claimed" in twice.err and bob.nonce() == nonce
    bad = tmp_path / "bad.json"
    for junk in (b"\xff\xfe", b"{}", b'{"claim": {"packet_id": 1}}'):
        bad.write_bytes(junk)
        r = bob.run("--yes", "redpacket", "sponsor", "--from", bob.spec, "--claim-file", str(bad))
        assert r.code == 1 and len(r.err_lines) == 1, r.err
    # alice (asked too) finds it on chain already: nothing is sent.
    nonce = alice.nonce()
    alice.ok("chat", "inbox", "--from", "dev")
    assert alice.nonce() == nonce


def test_listen_submits_a_claim_as_it_arrives(users: dict[str, User]) -> None:
    alice, newbie = users["alice"], users["newbie"]
    for n, total in enumerate(("0.2", "0.3")):
        pid = _packet(alice, newbie.address, total=total)
        newbie.ok("chat", "inbox", "--from", newbie.spec)
        # The second time newbie has ETH (the first share): --sponsored asks all the same.
        newbie.ok("redpacket", "claim", "--from", newbie.spec, pid, "--sponsored")
        listen = ("chat", "listen", "--from", "dev", "--count", "1", "--timeout", "20")
        if n == 0:
            r = alice.run("--json", *listen)
            assert r.code == 0, r.err
            events = [json.loads(line) for line in r.out.splitlines()]
            [msg] = [e for e in events if e.get("kind") == "sponsored-claim"]
            assert msg["packet_id"] == pid
            [done] = [e for e in events if e.get("event") == "sponsored"]
            assert (done["packet_id"], done["state"], done["raw"]) == (
                pid,
                "claimed",
                str(E18 // 5),
            )
        else:
            r = alice.run(*listen)
            assert r.code == 0, r.err
            assert "asks you to submit their claim of red packet" in r.out
            assert f"claim of red packet {pid[:18]}…: on chain (0x" in r.out
            assert "of gas); the share went to them" in r.out
    assert newbie.eth() == E18 // 2


def test_a_claim_no_one_submitted_before_the_packet_expired_is_said_once(
    users: dict[str, User], world: World
) -> None:
    alice, newbie = users["alice"], users["newbie"]
    pid = _packet(alice, newbie.address)
    newbie.ok("chat", "inbox", "--from", newbie.spec)
    newbie.ok("redpacket", "claim", "--from", newbie.spec, pid)
    assert alice.ok("chat", "inbox", "--from", "dev", "--sponsor-cap", "0")["sponsored"] == []
    rpc = world.anvil.rpc()
    rpc.call("evm_increaseTime", [3601])
    rpc.call("evm_mine")
    for _ in range(2):
        newbie.ok("chat", "inbox", "--from", newbie.spec)
    text = newbie.run("chat", "read", "--from", newbie.spec, alice.address).out
    assert text.count("was not submitted: the red packet is expired") == 1, text
    nonce = alice.nonce()
    [late] = alice.ok("redpacket", "sponsor", "--from", "dev")["sponsored"]
    assert late["state"] == "refused" and "expired" in late["reason"]
    assert alice.nonce() == nonce and newbie.eth() == 0
    again = newbie.run("--yes", "redpacket", "claim", "--from", newbie.spec, pid)
    assert again.code == 1 and "expired" in again.err and len(again.err_lines) == 1
