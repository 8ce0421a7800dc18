"""The agent's service and socket without a separate process: the peer-uid check (a seam, as
a second uid cannot be had in a test), locking (TTL, idle time, `agent lock`) that wipes the
master key, policy refusals that sign nothing, and the client's own checks of the socket."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.agent import client, protocol
from walletim.agent.policy import DAY, Cap, Policy
from walletim.agent.server import AgentServer
from walletim.agent.service import AgentService, Limits, ServiceFailure
from walletim.app.wallets import Wallets
from walletim.app.wallets.agentkeys import AgentKeys
from walletim.errors import AgentError
from walletim.keys.signing import LocalSigner
from walletim.messaging.devices import Device, sign_device_list

PASSWORD = "correct horse battery staple"
MNEMONIC = "test test test test test test test test test test test junk"
DEV = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
E18 = 10**18


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "h"
    wallets = Wallets(home, PASSWORD, fast_kdf=True, agent=False)
    wallets.import_mnemonic("dev", MNEMONIC)
    wallets.set_policy("dev", Policy(chains=(31337,), eth=Cap(E18, 2 * E18), calls=()))
    return home


def service(home: Path, clock: Clock, ttl: int = 0, idle: int = 0) -> AgentService:
    found = AgentService(home, Limits(ttl, idle), clock=clock, wall=clock)
    found.unlock(PASSWORD)
    return found


def request(op: str, **args: object) -> protocol.Request:
    return protocol.parse_request({"op": op, "args": args})


def tx(value: int, chain: int = 31337, **extra: object) -> dict[str, object]:
    return {
        "chainId": chain,
        "nonce": 0,
        "gas": 21000,
        "maxFeePerGas": 10**9,
        "maxPriorityFeePerGas": 1,
        "to": BOB,
        "value": value,
        "data": "0x",
        **extra,
    }


FEE = 21000 * 10**9  # tx()'s gas limit x max fee per gas: the most it can pay in fees


def test_it_signs_within_the_policy_and_refuses_outside_signing_nothing(home: Path) -> None:
    agent = service(home, Clock())
    signed = agent.handle(request("sign_tx", account="dev", tx=tx(E18 - FEE)))
    assert signed["sender"] == DEV and signed["raw"].startswith("0x02")
    for bad, why in (
        (tx(E18 - FEE + 1), "over its cap of 1 ETH per transaction"),
        (tx(1, chain=1), r"chain 1 is not among the chains it may sign for \(31337\)"),
        (tx(0, data="0xa9059cbb" + "00" * 64), "is not among the calls it may make"),
        (tx(E18 // 2 + E18 // 2 + 1), "over its cap"),
    ):
        with pytest.raises(ServiceFailure, match=why) as refused:
            agent.handle(request("sign_tx", account="dev", tx=bad))
        assert refused.value.code == protocol.REFUSED
    assert agent.ledger.spent(DEV, "ETH") == E18  # refusals counted nothing
    agent.handle(request("sign_tx", account="dev", tx=tx(E18 - FEE)))
    with pytest.raises(ServiceFailure, match=r"would make 2\.000021 ETH in 24 hours"):
        agent.handle(request("sign_tx", account="dev", tx=tx(0)))  # its fee alone


def test_a_32_byte_message_is_not_signed_under_a_policy(home: Path) -> None:
    """A Safe takes an owner's eth_sign of a transaction's hash as approving it: signed as
    a 32-byte EIP-191 message, any transfer from the Safe passed the policy unchecked (the
    same transaction as typed data was refused). Text is signed as before."""
    agent = service(home, Clock())
    with pytest.raises(ServiceFailure, match="32 bytes, as the hash of a transaction") as no:
        agent.handle(request("sign_message", account="dev", message="0x" + "ab" * 32))
    assert no.value.code == protocol.REFUSED
    for text in ("0x6869", "0x" + "ab" * 33):
        assert agent.handle(request("sign_message", account="dev", message=text))["signature"]


def test_fees_count_against_the_eth_caps(home: Path) -> None:
    """A process using the agent cannot burn the balance in fees under any cap: what a
    transaction can take is its value and at most gas limit x max fee per gas."""
    agent = service(home, Clock())
    burner = tx(10**16, gas=50_000, maxFeePerGas=200_000 * 10**9, maxPriorityFeePerGas=10**9)
    with pytest.raises(
        ServiceFailure, match=r"10\.01 ETH \(at most 10 ETH of it in fees\) is over"
    ):
        agent.handle(request("sign_tx", account="dev", tx=burner))
    legacy = {k: v for k, v in burner.items() if not k.startswith("max")} | {
        "gasPrice": 200_000 * 10**9, "type": 0,
    }  # fmt: skip
    with pytest.raises(ServiceFailure, match="over its cap"):
        agent.handle(request("sign_tx", account="dev", tx=legacy))
    assert agent.ledger.spent(DEV, "ETH") == 0


def test_lock_overwrites_the_master_key_and_refuses_to_sign(home: Path) -> None:
    agent = service(home, Clock())
    wallets = agent._wallets
    assert wallets is not None
    master = wallets.unlock().master  # the very bytearray the vault holds
    assert any(master)
    agent.handle(request("lock"))
    assert not any(master), "locking must overwrite the master key in place"
    with pytest.raises(ServiceFailure) as locked:
        agent.handle(request("sign_message", account="dev", message="0x6869"))
    assert locked.value.code == protocol.LOCKED
    assert agent.handle(request("status"))["locked"] is True


def test_ttl_and_idle_time_lock_it(home: Path) -> None:
    clock = Clock()
    agent = service(home, clock, ttl=3600, idle=60)
    clock.now += 59
    agent.handle(request("sign_message", account="dev", message="0x6869"))  # a use: idle resets
    clock.now += 59
    assert agent.expiry() is None
    clock.now += 1
    assert agent.expiry() == "it was idle too long"
    with pytest.raises(ServiceFailure, match="idle too long"):
        agent.handle(request("store_key"))
    agent.unlock(PASSWORD)
    clock.now += 3600
    with pytest.raises(ServiceFailure, match="time to live ran out"):
        agent.handle(request("store_key"))


# -- the socket ------------------------------------------------------------------------------


def serve(home: Path, peer_uid: Any) -> tuple[AgentServer, threading.Thread]:
    server = AgentServer(service(home, Clock()), peer_uid=peer_uid, tick=0.05)
    server.claim()
    server.bind()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def raw_call(path: Path, op: str | None, **args: object) -> protocol.Failure | dict[str, Any]:
    """``op``'s answer (None: send nothing, read what the agent says first)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    with client.socket_address(path) as address:
        sock.connect(address)
    try:
        if op is not None:
            # A refused peer may find the connection closed already: its answer is there.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(protocol.request(op, **args))
        decoder = protocol.FrameDecoder()
        while True:
            data = sock.recv(65536)
            assert data, "the agent closed the connection without an answer"
            docs = decoder.feed(data)
            if docs:
                return protocol.parse_answer(docs[0])
    finally:
        sock.close()


def test_a_peer_of_another_uid_is_refused_before_anything_is_read(home: Path) -> None:
    """SO_PEERCRED says who connected; a test cannot be another user, so the seam fakes it."""
    server, thread = serve(home, lambda _conn: os.geteuid() + 1)
    try:
        answer = raw_call(client.socket_path(home), None)
        assert isinstance(answer, protocol.Failure) and answer.code == protocol.DENIED
    finally:
        server.stop()
        thread.join(5)


CHAT_SEND = {
    "account": "dev",
    "peer": BOB,
    "text": "sent as you",
    "network": "anvil",
    "rpc_url": None,
    "relay_url": "ws://127.0.0.1:9",
}


def test_a_peer_of_another_uid_cannot_send_chat_as_the_user(home: Path) -> None:
    """The chat operations are behind the same door: refused before the request is read,
    no chat engine started."""
    server, thread = serve(home, lambda _conn: os.geteuid() + 1)
    try:
        answer = raw_call(client.socket_path(home), "chat_send", **CHAT_SEND)
        assert isinstance(answer, protocol.Failure) and answer.code == protocol.DENIED
        assert server.service._chat is None
    finally:
        server.stop()
        thread.join(5)


def test_a_locked_agent_runs_no_chat_and_key_requests_carry_none(home: Path) -> None:
    server, thread = serve(home, client.peer_uid)
    path = client.socket_path(home)
    try:
        server.service.lock("locked by a test")
        answer = raw_call(path, "chat_send", **CHAT_SEND)
        assert isinstance(answer, protocol.Failure) and answer.code == protocol.LOCKED
        assert server.service._chat is None
    finally:
        server.stop()
        thread.join(5)
    with pytest.raises(ServiceFailure) as refused:
        inbox = {k: v for k, v in CHAT_SEND.items() if k not in ("peer", "text")}
        service(home, Clock()).handle(request("chat_inbox", **inbox, sponsor=False))
    assert refused.value.code == protocol.BAD_REQUEST


def test_the_socket_is_private_and_serves_its_own_user(home: Path) -> None:
    server, thread = serve(home, client.peer_uid)
    path = client.socket_path(home)
    held = server.service._wallets
    assert held is not None
    master = held.unlock().master
    try:
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
        assert oct(os.stat(path.parent).st_mode & 0o777) == "0o700"
        answer = raw_call(path, "status")
        assert isinstance(answer, dict) and answer["locked"] is False
        second = AgentServer(AgentService(home, Limits(0, 0)))
        with pytest.raises(AgentError, match="already running"):
            second.claim()
    finally:
        server.stop()
        thread.join(5)
    assert not path.exists(), "a stopped agent removes its socket"
    assert server.service.locked and not any(master), "stopping (SIGTERM) wipes the key"


def test_the_client_refuses_a_listener_of_another_uid(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, thread = serve(home, client.peer_uid)
    try:
        monkeypatch.setattr(client, "peer_uid", lambda _sock: os.geteuid() + 1)
        with pytest.raises(AgentError, match=r"runs as uid \d+, not as you"):
            client.connect(home)
    finally:
        server.stop()
        thread.join(5)


def test_the_client_refuses_a_socket_others_can_reach_or_a_symlink(home: Path) -> None:
    server, thread = serve(home, client.peer_uid)
    path = client.socket_path(home)
    try:
        os.chmod(path.parent, 0o755)  # noqa: S103 - the attack under test
        with pytest.raises(AgentError, match="can be reached by other users"):
            client.connect(home)
        os.chmod(path.parent, 0o700)
        os.chmod(path, 0o666)  # noqa: S103 - the attack under test
        with pytest.raises(AgentError, match="can be reached by other users"):
            client.connect(home)
        os.chmod(path, 0o600)
        found = client.connect(home)
        assert found is not None
        found.close()
    finally:
        server.stop()
        thread.join(5)
    os.symlink("/tmp/elsewhere.sock", path)
    with pytest.raises(AgentError, match="is not a socket"):
        client.connect(home)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["op", "args", "x"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=12), inner, max_size=4)
            ),
            max_leaves=12,
        ),
    )
)
def test_any_document_is_a_request_or_a_protocol_error(doc: dict[str, object]) -> None:
    with contextlib.suppress(protocol.ProtocolError):
        protocol.parse_request(doc)


def test_no_answer_carries_the_seed_or_a_spending_key(home: Path) -> None:
    """What a same-user process can ask the agent: every operation, answered; none of the
    answers holds the mnemonic, the seed or an account's private key."""
    agent = service(home, Clock())
    local = Wallets(home, PASSWORD, agent=False)
    secrets = {local.private_key(f"dev:{i}").hex() for i in range(3)}
    secrets.add(local.local_keys().unlocked.master.hex())
    body = (home / "wallets" / "dev.json").read_text() if (home / "wallets").exists() else ""
    calls: dict[str, dict[str, object]] = {
        "status": {},
        "check": {"body": body[:100], "tag": "00"},
        "store_key": {},
        "addresses": {"wallet": "dev", "template": None, "start": 0, "count": 3},
        "chat_identity": {"account": "dev"},
        "backup_key": {"account": "dev"},
        "bind_chat_identity": {"account": "dev", "created": 1},
        "device_key": {"account": "dev"},
        "sign_device_list": {"account": "dev", "version": 1, "devices": [DEVICE.to_json()]},
        "sign_message": {"account": "dev", "message": "0x6869"},
        "sign_tx": {"account": "dev", "tx": tx(1)},
        "check_plan": {"account": "dev", "txs": [tx(1)]},
        "policy": {"account": "dev"},
    }
    # chat_send / chat_inbox answer with a chat command's outcome (messages, names; run by
    # the server, tests/e2e/test_cli_agent_chat.py).
    others = {"lock", "stop", "unlock", "sign_typed_data", *protocol.CHAT_OPS}
    assert set(calls) | others == set(protocol.OPS)
    answers = repr([agent.handle(request(op, **args)) for op, args in calls.items()])
    assert not any(secret in answers.lower() for secret in secrets)
    assert MNEMONIC not in answers


DEVICE = Device(b"\x01" * 16, b"\x02" * 32, 5, "laptop")


def test_the_agent_gives_this_homes_device_key_and_signs_its_device_list(home: Path) -> None:
    agent = service(home, Clock())
    local = Wallets(home, PASSWORD, agent=False)
    keys = AgentKeys(_Direct(agent))  # type: ignore[arg-type]
    mine = keys.device_key("dev")
    assert mine == local.device_key("dev") and mine.key != local.chat_identity("dev")
    signed = keys.sign_device_list("dev", DEV, 3, (DEVICE,))
    assert signed.verify() and signed.version == 3 and signed.wallet == DEV
    other = sign_device_list(LocalSigner(bytes.fromhex("11" * 32)), 3, (DEVICE,))
    with pytest.raises(AgentError, match="another device list"):
        AgentKeys(_Impostor(other.to_json())).sign_device_list("dev", DEV, 3, (DEVICE,))  # type: ignore[arg-type]
    with pytest.raises((ServiceFailure, protocol.ProtocolError)):
        agent.handle(request("sign_device_list", account="dev", version=1, devices=[{"x": 1}]))


class _Direct:
    """Calls the agent service in this process (no socket)."""

    def __init__(self, agent: AgentService) -> None:
        self.agent = agent

    def call(self, op: str, **args: object) -> object:
        return self.agent.handle(request(op, **args))


class _Impostor:
    """A listener that answers like an agent but signs with another key."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def call(self, op: str, **args: object) -> dict[str, Any]:
        return self.answer

    def close(self) -> None:
        pass


def test_the_client_checks_what_the_agent_answers(home: Path) -> None:
    from walletim.app.wallets.agentkeys import AgentKeys
    from walletim.keys.signing import LocalSigner

    other = LocalSigner(bytes.fromhex("11" * 32))
    forged = other.sign_message(b"hi")
    keys = AgentKeys(_Impostor({"digest": "0x" + forged.digest.hex(), "signature": forged.hex}))  # type: ignore[arg-type]
    with pytest.raises(AgentError, match="not by the account asked for"):
        keys.sign_message("dev", DEV, b"hi")
    signed = other.sign_transaction(
        {"chainId": 1, "nonce": 0, "gas": 21000, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1,
         "to": BOB, "value": 1, "data": b""}
    )  # fmt: skip
    keys = AgentKeys(
        _Impostor(  # type: ignore[arg-type]
            {
                "raw": "0x" + signed.raw.hex(),
                "hash": signed.hash,
                "sender": signed.sender,
                "type": 2,
            }
        )
    )
    with pytest.raises(AgentError, match="not the one asked for"):
        keys.sign_transaction("dev", DEV, {"nonce": 0, "chainId": 1})


def test_a_plan_is_checked_whole_and_counts_nothing(home: Path) -> None:
    agent = service(home, Clock())
    half = E18 // 2 - FEE
    ok = agent.handle(request("check_plan", account="dev", txs=[tx(half), tx(half)]))
    assert ok == {"allowed": True} and agent.ledger.spent(DEV, "ETH") == 0
    with pytest.raises(ServiceFailure, match="is not among the calls it may make"):
        agent.handle(request("check_plan", account="dev", txs=[tx(1), tx(0, data="0x12345678")]))
    whole = E18 - FEE
    with pytest.raises(ServiceFailure, match=r"would make 2\.5 ETH in 24 hours"):
        agent.handle(request("check_plan", account="dev", txs=[tx(whole), tx(whole), tx(half)]))


def test_a_restarted_agent_counts_what_the_one_before_it_signed(home: Path) -> None:
    """The caps per day counted only in the agent's memory: an agent started again (a
    reboot, a kill, `agent stop` then `start`) signed another day's cap at once. The counts
    are kept in the home's encrypted store; a day later they are gone."""
    clock = Clock()
    first = service(home, clock)
    first.handle(request("sign_tx", account="dev", tx=tx(E18 - FEE)))
    first.handle(request("stop"))
    clock.now += 3600
    again = service(home, clock)

    def spent(agent: AgentService) -> dict[str, str]:
        return agent.handle(request("policy", account="dev"))["spent"]  # type: ignore[no-any-return]

    assert spent(again) == {"ETH": str(E18)}
    again.handle(request("sign_tx", account="dev", tx=tx(E18 - FEE)))
    with pytest.raises(ServiceFailure, match=r"would make 2\.000021 ETH in 24 hours"):
        again.handle(request("sign_tx", account="dev", tx=tx(0)))
    again.handle(request("lock"))
    again.handle(request("unlock", password=PASSWORD, ttl=0, idle=0))  # not counted twice
    assert spent(again) == {"ETH": str(2 * E18)}
    clock.now += DAY - 1800  # the first is a day old, the second not yet
    assert spent(service(home, clock)) == {"ETH": str(E18)}


def test_unreadable_counts_refuse_what_the_caps_count_and_nothing_else(home: Path) -> None:
    """A file of counts that does not open (damaged, another home's) signs nothing a cap
    counts, naming the file; the agent still answers and signs what no cap counts."""
    (home / "agent").mkdir(mode=0o700)
    (home / "agent" / "spent.db").write_bytes(b"\x01" * 8192)
    agent = service(home, Clock())
    assert agent.handle(request("status"))["locked"] is False
    assert agent.handle(request("sign_message", account="dev", message="0x6869"))["signature"]
    with pytest.raises(ServiceFailure, match=r"spent\.db does not open .* caps per day") as no:
        agent.handle(request("sign_tx", account="dev", tx=tx(1)))
    assert no.value.code == protocol.KEYS
    with pytest.raises(ServiceFailure, match=r"spent\.db does not open"):
        agent.handle(request("sign_tx", account="dev", tx=tx(1)))  # not signed uncounted later


def test_a_home_too_long_for_a_socket_address_is_served(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    wallets = Wallets(deep, PASSWORD, fast_kdf=True, agent=False)
    wallets.import_mnemonic("dev", MNEMONIC)
    assert len(str(client.socket_path(deep))) > 108
    server, thread = serve(deep, client.peer_uid)
    try:
        found = client.connect(deep)
        assert found is not None
        answer = found.call("status")
        found.close()
        assert isinstance(answer, dict) and answer["locked"] is False
    finally:
        server.stop()
        thread.join(5)
    assert not client.socket_path(deep).exists()


def test_typed_data_a_reader_would_misread_is_refused_by_the_agent_too(home: Path) -> None:
    """A process talking to the agent's socket directly cannot have it sign a document that
    eth-account would take but MetaMask and cast refuse (here 1 for a bool): one rule, in
    the signer, for the CLI and the agent alike, with or without a policy."""
    Wallets(home, PASSWORD, agent=False).set_policy("dev", None)  # else: no contract, refused
    agent = service(home, Clock())
    doc = {
        "types": {
            "EIP712Domain": [{"name": "chainId", "type": "uint256"}],
            "Vote": [{"name": "yes", "type": "bool"}],
        },
        "primaryType": "Vote",
        "domain": {"chainId": 31337},
        "message": {"yes": True},
    }
    rules = {"chain_id": 31337, "network": "anvil", "allow_chains": [],
             "allow_any_chain": False, "profiles": []}  # fmt: skip
    assert agent.handle(request("sign_typed_data", account="dev", doc=doc, **rules))["signature"]
    doc["message"] = {"yes": 1}
    with pytest.raises(ServiceFailure, match=r"typed data refused: message\.yes \(bool\)"):
        agent.handle(request("sign_typed_data", account="dev", doc=doc, **rules))
