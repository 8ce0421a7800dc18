"""``walletim agent``, end to end with real processes: the CLI as a subprocess, the agent as
the daemon it starts, Anvil with the world. Unlock once, then commands of the home sign
without the password; the account's policy is enforced by the agent (chains, caps,
contracts); the socket is private; TTL, idle time, `agent lock`, `agent stop` and SIGTERM
lock it and remove the socket."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import HOME_PASSWORD, ROOT, RelayProcess, Result, World, no_secrets


class Home:
    """The world's home driven as a user's shell would: ``run(...)`` without any password
    (no WALLETIM_PASSWORD, no terminal), ``run(..., password=True)`` from a password file."""

    def __init__(self, world: World, tmp: Path) -> None:
        self.world = world
        self.home = world.home
        self.pwfile = tmp / "pw"
        self.pwfile.write_text(HOME_PASSWORD + "\n")
        os.chmod(self.pwfile, 0o600)

    @property
    def agent_dir(self) -> Path:
        return self.home / "agent"

    def run(self, *args: str, password: bool = False, env: dict[str, str] | None = None) -> Result:
        full = {k: v for k, v in os.environ.items() if k != "WALLETIM_PASSWORD"}
        full.update({"WALLETIM_HOME": str(self.home), "WALLETIM_UNSAFE_FAST_KDF": "1"})
        full.pop("WALLETIM_NETWORK", None)
        full.update(env or {})
        head = ["--rpc-url", self.world.url]
        if password:
            head += ["--password-file", str(self.pwfile)]
        proc = subprocess.run(
            [str(ROOT / ".venv/bin/walletim"), *head, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=full,
            timeout=90,
        )
        return no_secrets(args, Result(proc.returncode, proc.stdout, proc.stderr), False)

    def ok(self, *args: str, password: bool = False) -> Result:
        found = self.run(*args, password=password)
        assert found.code == 0, (args, found.err)
        return found

    def pid(self) -> int | None:
        try:
            return int((self.agent_dir / "agent.pid").read_text())
        except (OSError, ValueError):
            return None

    def nonce(self, spec: str) -> int:
        from walletim.chain.queries import Q

        return int(self.world.anvil.rpc().get(Q.nonce(self.world.address(spec))))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0] != "Z"
    return True


@pytest.fixture
def home(world: World, tmp_path: Path) -> Iterator[Home]:
    found = Home(world, tmp_path)
    try:
        yield found
    finally:
        pid = found.pid()
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGKILL)


def send(h: Home, amount: str, *extra: str, to: str = "dev:1") -> Result:
    return h.run("--yes", "send", "--from", "dev", to, amount, *extra)


def test_unlock_once_then_send_sign_and_chat_keys_need_no_password(home: Home) -> None:
    before = send(home, "0.5")
    assert before.code == 1 and "password needed" in before.err  # no agent: as before

    started = home.ok("--json", "agent", "start", "--ttl", "1h", "--idle", "10m", password=True)
    status = started.json()
    assert status["running"] and not status["locked"] and status["pid"] == home.pid()
    assert stat.S_IMODE(os.stat(home.agent_dir).st_mode) == 0o700
    sock = home.agent_dir / "agent.sock"
    assert stat.S_ISSOCK(os.lstat(sock).st_mode) and stat.S_IMODE(os.lstat(sock).st_mode) == 0o600

    sent = home.run("--json", "--yes", "send", "--from", "dev", "dev:1", "0.5")
    assert sent.code == 0, sent.err
    assert sent.json()["status"] == "mined"
    signed = home.ok("--json", "sign", "message", "--from", "dev", "gm")
    dev = home.world.address("dev")
    assert home.ok("--json", "verify", dev, "gm", signed.json()["signature"]).json()["valid"]
    home.ok("wallet", "list")
    shown = home.ok("--json", "agent", "status").json()
    assert shown["ttl"] == 3600 and shown["idle"] == 600 and 0 < shown["ttl_left"] <= 3600

    again = home.run("agent", "start", password=True)
    assert again.code == 1 and "already running" in again.err

    locked = home.ok("--json", "agent", "lock").json()
    assert locked["running"] and locked["locked"]
    refused = send(home, "0.1")
    assert refused.code == 1 and "password needed" in refused.err
    home.ok("agent", "start", password=True)  # unlocks the running agent
    assert send(home, "0.1").code == 0

    pid = home.pid()
    assert pid is not None
    assert home.ok("--json", "agent", "stop").json() == {"stopped": True}
    assert not sock.exists() and not (home.agent_dir / "agent.pid").exists()
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)
    assert "no agent is running" in home.ok("agent", "status").out
    assert send(home, "0.1").code == 1


def test_the_policy_is_enforced_by_the_agent(home: Home) -> None:
    world = home.world
    usdc, dai = world.manifest.contracts["USDC"], world.manifest.contracts["DAI"]
    unset = home.run("agent", "policy", "set", "dev", "--chain", "1")
    assert unset.code == 1 and "password needed" in unset.err  # setting one needs the password
    home.ok("agent", "policy", "set", "dev", "--chain", "1", password=True)
    home.ok("agent", "start", password=True)
    nonce = home.nonce("dev")

    wrong_chain = send(home, "0.1")
    assert wrong_chain.code == 1
    assert wrong_chain.err_lines[-1] == (
        "error: refused by the agent's policy for dev: chain 31337 is not among the chains it "
        "may sign for (1); nothing was signed"
    )
    home.ok(
        "agent", "policy", "set", "dev",
        "--chain", "31337", "--eth-per-tx", "1", "--eth-per-day", "1.5",
        "--token-cap", "USDC", "5", "-",
        "--allow-call", "USDC:transfer(address,uint256)",
        password=True,
    )  # fmt: skip
    over = send(home, "2")
    assert over.code == 1 and "in fees) is over its cap of 1 ETH per transaction" in over.err
    at_cap = send(home, "1")  # 1 ETH and its fee are more than 1 ETH: a fee is ETH leaving
    assert at_cap.code == 1 and "over its cap of 1 ETH per transaction" in at_cap.err
    assert send(home, "0.9").code == 0
    daily = send(home, "0.6")
    assert daily.code == 1
    assert "ETH in 24 hours, over its cap of 1.5 ETH" in daily.err
    tokens = send(home, "6", "--token", "USDC")
    assert tokens.code == 1 and "6 USDC is over its cap of 5 USDC per transaction" in tokens.err
    assert send(home, "4", "--token", "USDC").code == 0
    other = send(home, "1", "--token", "DAI")
    assert other.code == 1 and f"function 0xa9059cbb on {dai} is not among the calls" in other.err
    assert usdc != dai
    assert home.nonce("dev") == nonce + 2  # the refusals signed nothing

    # A password in the environment does not lift the policy; the agent turned off does.
    with_env = home.run("--yes", "send", "--from", "dev", "dev:1", "2", env={
        "WALLETIM_PASSWORD": HOME_PASSWORD})  # fmt: skip
    assert with_env.code == 1 and "over its cap" in with_env.err
    off = home.run(
        "--yes", "send", "--from", "dev", "dev:1", "2",
        env={"WALLETIM_PASSWORD": HOME_PASSWORD, "WALLETIM_AGENT": "off"},
    )  # fmt: skip
    assert off.code == 0, off.err

    shown = home.ok("--json", "agent", "policy", "show", "dev").json()
    assert shown["policy"]["chains"] == [31337]
    human = home.ok("agent", "policy", "show", "dev").out
    assert "signed in the last 24 hours: 0.90" in human and " ETH, 4 USDC" in human, human
    human = home.ok("agent", "policy", "show", "dev").out
    assert "signed in the last 24 hours: 0.90" in human and " ETH, 4 USDC" in human, human
    spent = Decimal(shown["spent_24h"]["ETH"]["amount"])  # 0.9 and at most the two fees
    assert Decimal("0.9") < spent < Decimal("0.901"), spent
    assert shown["spent_24h"][usdc]["amount"] == "4"
    # dev:1 has no policy: what the agent signed for it was not counted, not "nothing".
    unlimited = home.ok("agent", "policy", "show", "dev:1").out
    assert "signed in the last 24 hours: not counted (the agent counts only" in unlimited
    home.ok("agent", "policy", "clear", "dev", password=True)
    assert send(home, "2").code == 0  # read from the wallet file at each request


def test_ttl_idle_and_sigterm_lock_and_remove_the_socket(home: Home) -> None:
    # The agent locks at its next request once the time is over (the same clock as ours:
    # monotonic), so a sleep a little longer than the TTL or idle time is enough.
    home.ok("agent", "start", "--ttl", "1s", password=True)
    time.sleep(1.2)
    status = home.ok("--json", "agent", "status").json()
    assert status["locked"] and status["locked_reason"] == "its time to live ran out"
    assert send(home, "0.1").code == 1
    home.ok("agent", "start", "--idle", "1s", password=True)
    time.sleep(1.2)
    status = home.ok("--json", "agent", "status").json()
    assert status["locked"] and status["locked_reason"] == "it was idle too long"

    pid = home.pid()
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)
    assert not (home.agent_dir / "agent.sock").exists()
    assert "stopping" in (home.agent_dir / "agent.log").read_text()
    assert "no agent is running" in home.ok("agent", "status").out


def test_an_agent_socket_others_can_reach_is_not_used(home: Home) -> None:
    home.ok("agent", "start", password=True)
    os.chmod(home.agent_dir, 0o755)  # noqa: S103 - the attack under test
    try:
        found = send(home, "0.1")
        assert found.code == 1
        assert "can be reached by other users (mode 0755); the agent is not used" in found.err
    finally:
        os.chmod(home.agent_dir, 0o700)
    assert send(home, "0.1").code == 0


def test_a_wrong_password_starts_nothing(home: Home) -> None:
    home.pwfile.write_text("not the password\n")
    found = home.run("agent", "start", password=True)
    assert found.code == 1 and len(found.err_lines) == 1
    assert not (home.agent_dir / "agent.sock").exists()
    assert "no agent is running" in home.ok("agent", "status").out


def test_a_plan_the_policy_refuses_in_part_signs_none_of_it(home: Home) -> None:
    """A swap is an approval then the swap: the policy allows the first and not the second,
    so neither is signed (no approval left behind)."""
    home.ok("agent", "policy", "set", "dev", "--allow-call", "USDC", password=True)
    home.ok("agent", "start", password=True)
    nonce = home.nonce("dev")
    swap = home.run("--yes", "swap", "--from", "dev", "10", "USDC", "DAI")
    assert swap.code == 1
    assert swap.err_lines[-1].startswith("error: refused by the agent's policy for dev: a call of")
    assert swap.err_lines[-1].endswith("is not among the calls it may make; nothing was signed")
    assert home.nonce("dev") == nonce


def test_a_plan_whose_fees_pass_the_cap_only_in_part_signs_none_of_it(home: Home) -> None:
    """A swap's approval alone fits the day's ETH cap in fees, the approval and the swap do
    not: the plan is refused whole before the approval is signed (the pre-check counts each
    step's gas at the fee it would be signed with, not only the ETH it sends)."""
    from walletim.chain.queries import Query

    rpc = home.world.anvil.rpc()
    rpc.get(Query("anvil_setNextBlockBaseFeePerGas", (hex(400 * 10**9),), lambda r: r))
    rpc.get(Query("evm_mine", (), lambda r: r))
    home.ok("agent", "policy", "set", "dev", "--eth-per-day", "0.1", password=True)
    home.ok("agent", "start", password=True)
    nonce = home.nonce("dev")
    swap = home.run("--yes", "swap", "--from", "dev", "10", "USDC", "DAI")
    assert swap.code == 1, swap.err
    assert "in 24 hours, over its cap of 0.1 ETH per day (0 ETH already" in swap.err, swap.err
    assert swap.err_lines[-1].endswith("nothing was signed"), swap.err
    assert home.nonce("dev") == nonce  # no approval left behind


def test_chat_through_the_agent_needs_no_password(tmp_path: Path, relay: RelayProcess) -> None:
    from tests.e2e.test_cli_chat import address_of, person

    alice, bob = person(tmp_path, "alice", relay.url), person(tmp_path, "bob", relay.url)
    assert bob("chat", "init", "--from", "bob").code == 0
    b_addr = address_of(bob, "bob")
    env = {k: v for k, v in os.environ.items() if k != "WALLETIM_PASSWORD"}
    env.update({"WALLETIM_HOME": str(alice.home), "WALLETIM_UNSAFE_FAST_KDF": "1"})
    env["WALLETIM_RELAY"] = relay.url

    def quiet(*args: str) -> Result:
        proc = subprocess.run(
            [str(ROOT / ".venv/bin/walletim"), *args],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=90,
        )  # fmt: skip
        return no_secrets(args, Result(proc.returncode, proc.stdout, proc.stderr), False)

    assert alice("agent", "start").code == 0
    try:
        assert quiet("chat", "init", "--from", "alice").code == 0
        sent = quiet("chat", "send", "--from", "alice", b_addr, "gm from the agent")
        assert sent.code == 0, sent.err
        got = bob("--json", "chat", "inbox", "--from", "bob")
        assert got.code == 0 and "gm from the agent" in got.out
        read = quiet("chat", "read", "--from", "alice", b_addr)
        assert read.code == 0 and "gm from the agent" in read.out
        # A backup's key comes from the seed on its own path: the agent derives it.
        archive = tmp_path / "alice.wimbak"
        made = quiet("--json", "chat", "backup", "--from", "alice", "--to", str(archive))
        assert made.code == 0 and archive.exists(), made.err
        # This home's device key and the signed device list: through the agent too.
        joined = quiet("--json", "chat", "device", "join", "--from", "alice", "--name", "a")
        assert joined.code == 0 and json.loads(joined.out)["listed"], joined.err
    finally:
        alice("agent", "stop")
    after = quiet("chat", "read", "--from", "alice", b_addr)
    assert after.code == 1 and "password needed" in after.err


def test_the_password_reaches_the_agent_only_on_a_pipe(home: Home) -> None:
    """Started with WALLETIM_PASSWORD: the agent's argv and environment do not hold it, nor
    does its log; it sees the password once, on its standard input."""
    started = home.run("agent", "start", env={"WALLETIM_PASSWORD": HOME_PASSWORD})
    assert started.code == 0, started.err
    pid = home.pid()
    assert pid is not None
    assert HOME_PASSWORD.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert HOME_PASSWORD.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
    assert send(home, "0.1").code == 0
    home.ok("agent", "stop")
    log = (home.agent_dir / "agent.log").read_text()
    assert HOME_PASSWORD not in log and "junk" not in log


def test_a_killed_agent_leaves_a_stale_socket_that_nothing_uses(home: Home) -> None:
    home.ok("agent", "start", password=True)
    pid = home.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (home.agent_dir / "agent.sock").exists()  # nobody removed it
    assert "no agent is running" in home.ok("agent", "status").out
    stale = send(home, "0.1")
    assert stale.code == 1 and "password needed" in stale.err  # as without an agent
    home.ok("agent", "start", password=True)  # a new agent takes the path over
    assert send(home, "0.1").code == 0


def test_typed_data_through_the_agent_keeps_the_chain_rules_and_the_policy(
    home: Home, tmp_path: Path
) -> None:
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    from tests.unit.test_key_vectors import MAIL

    f = tmp_path / "mail.json"
    f.write_text(json.dumps(MAIL))  # the EIP-712 "Mail" vector: chain 1
    home.ok("agent", "start", password=True)
    refused = home.run("--yes", "sign", "typed-data", "--from", "dev", str(f))
    assert refused.code == 1 and "chain" in refused.err_lines[-1]  # not this network's
    out = home.ok(
        "--json", "--yes", "sign", "typed-data", "--from", "dev", "--allow-chain", "1", str(f)
    )
    key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    expected = Account.sign_message(encode_typed_data(full_message=MAIL), key).signature.hex()
    assert out.json()["signature"].removeprefix("0x") == expected.removeprefix("0x")
    home.ok("agent", "policy", "set", "dev", "--chain", "31337", password=True)
    by_policy = home.run(
        "--yes", "sign", "typed-data", "--from", "dev", "--allow-chain", "1", str(f)
    )
    assert by_policy.code == 1
    assert by_policy.err_lines[-1] == (
        "error: refused by the agent's policy for dev: it is for chain 1, not among the chains "
        "it may sign for (31337); nothing was signed"
    )


@pytest.mark.parametrize("rows", [3, 70])  # 70: more than one agent request carries
def test_a_batch_the_policy_refuses_signs_nothing_and_counts_nothing(
    home: Home, tmp_path: Path, rows: int
) -> None:
    """A batch over the daily cap is refused whole before its first row is signed (checked by
    the agent, or for a long batch by the agent's own policy and counts read from it): no row
    signed, nothing counted, and a send within the cap still goes through."""
    home.ok("agent", "policy", "set", "dev", "--eth-per-day", "1", password=True)
    home.ok("agent", "start", password=True)
    each = "0.4" if rows == 3 else "0.02"  # 1.2 and 1.4 ETH: over the 1 ETH a day
    to = home.world.address("dev:1")
    batch = tmp_path / "batch.csv"
    batch.write_text("".join(f"{to},{each}\n" for _ in range(rows)))
    nonce = home.nonce("dev")
    refused = home.run("--yes", "send", "--from", "dev", "--batch", str(batch))
    assert refused.code == 1, refused.err
    assert "over its cap of 1 ETH per day" in refused.err and "nothing was signed" in refused.err
    assert home.nonce("dev") == nonce
    shown = home.ok("--json", "agent", "policy", "show", "dev").json()
    assert all(v["raw"] == "0" for v in shown["spent_24h"].values()), shown
    assert send(home, "0.3").code == 0


def test_an_agent_started_again_counts_what_the_one_before_it_signed(home: Home) -> None:
    """The caps per day were counted in the agent's memory only: `agent stop` (which needs no
    password) and a `start` gave another day's cap at once. The first signature of a new
    agent is answered at once and counted by the next one."""
    home.ok("agent", "policy", "set", "dev", "--eth-per-day", "1", password=True)
    home.ok("agent", "start", password=True)
    assert send(home, "0.6").code == 0
    home.ok("agent", "stop")
    stopped = home.ok("agent", "policy", "show", "dev", password=True).out
    assert "signed in the last 24 hours: (kept by the agent, which is not running)" in stopped
    home.ok("agent", "start", password=True)
    again = send(home, "0.6")
    assert again.code == 1 and "over its cap of 1 ETH per day (0.60" in again.err, again.err
    shown = home.ok("--json", "agent", "policy", "show", "dev").json()
    assert Decimal("0.6") < Decimal(shown["spent_24h"]["ETH"]["amount"]) < Decimal("0.601")
    assert send(home, "0.3").code == 0


def test_a_home_password_with_a_line_break_starts_the_agent(tmp_path: Path) -> None:
    """A home made with WALLETIM_PASSWORD holding a line break (or a trailing CR, from a
    Windows file read by `$(cat ...)`) opened for every command but `agent start`, which
    said "wrong password": the agent read the password as a line."""
    password = "correct horse\nbattery\r"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WALLETIM_")}
    env.update(
        WALLETIM_HOME=str(tmp_path / "h"), WALLETIM_UNSAFE_FAST_KDF="1", WALLETIM_PASSWORD=password
    )

    def run(*args: str, stdin: str = "") -> Result:
        proc = subprocess.run(
            [str(ROOT / ".venv/bin/walletim"), *args],
            input=stdin, capture_output=True, text=True, env=env, timeout=90,
        )  # fmt: skip
        return Result(proc.returncode, proc.stdout, proc.stderr)

    mnemonic = "test test test test test test test test test test test junk"
    assert run("wallet", "import", "w", "--mnemonic-stdin", stdin=mnemonic).code == 0
    try:
        started = run("agent", "start")
        assert started.code == 0, started.err
        assert "unlocked" in run("agent", "status").out
    finally:
        run("agent", "stop")
