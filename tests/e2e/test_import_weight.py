"""Each command imports only what it uses (issue 15, "fast commands"): the modules a whole
``walletim`` process loaded, read from ``sys.modules`` in a fresh interpreter after the
command ran against a real Anvil. Not timing: bench/commands.py measures the time."""

from __future__ import annotations

import ast
import importlib
import json
import os
import pkgutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HOME_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
DEV = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

#: Never for a read of the chain: pydantic (through eth_utils, python-doubleratchet or
#: python-x3dh) costs ~100-200 ms to import; cffi's in-line mode parses C with pycparser;
#: http.client loads the email package (~30 ms: an http:// node is spoken to through
#: walletim.chain.http11), and ssl is for https:// nodes only.
HEAVY = (
    "http.client",
    "email",
    "ssl",
    "pydantic",
    "eth_utils",
    "eth_abi",
    "eth_account",
    "doubleratchet",
    "x3dh",
    "textual",
    "bip_utils",
    "pycparser",
    "websockets",
    "asyncio",
    "walletim.app.chat",
    "walletim.messaging.session",
)

_PROBE = """
import json, sys
from walletim.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
else:
    code = 0
print("\\n" + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def loaded(
    home: Path, *args: str, env: dict[str, str] | None = None, agent: bool = False
) -> set[str]:
    """The modules a process running ``walletim ARGS`` imported (the command must succeed);
    ``env`` adds to its environment; ``agent``: the home's agent is used (no password)."""
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("WALLETIM_")}
    env.update(
        WALLETIM_HOME=str(home),
        WALLETIM_UNSAFE_FAST_KDF="1",
        WALLETIM_PASSWORD=HOME_PASSWORD,
        WALLETIM_AGENT="off",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    if agent:
        del env["WALLETIM_AGENT"], env["WALLETIM_PASSWORD"]
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    doc: dict[str, Any] = json.loads(proc.stdout.rsplit("\n", 2)[-2])
    assert doc["code"] in (0, None), proc.stderr
    return set(doc["modules"])


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_reads_of_the_chain_import_nothing_heavy(world: Any) -> None:
    usdc = world.manifest.contracts["USDC"]
    sent = world.session.send("dev", BOB, 1)
    url = ["--rpc-url", world.url]
    for args in (
        ["balance", DEV],
        ["call", usdc, "balanceOf(address)(uint256)", DEV],
        ["tx", "status", sent.hash],
    ):
        assert heavy(loaded(world.home, *url, *args)) == [], args


#: What unlocking the home or opening its store needs: ``balance`` of an address needs
#: neither (the wallets are built, and walletim.app.wallets loads them, on first use).
KEY_MACHINERY = (
    "walletim.app.wallets.manager",
    "walletim.app.wallets.model",
    "walletim.keys.vault",
    "walletim.store.db",
    "sqlcipher3",
)


def test_the_balance_of_an_address_loads_no_key_machinery(world: Any) -> None:
    modules = loaded(world.home, "--rpc-url", world.url, "balance", DEV)
    assert sorted(set(KEY_MACHINERY) & modules) == []
    # A balance is a quantity: no receipt, block or log dataclasses, no key derivation, no
    # fee policy (its numbers are in walletim.chain.fee_limits).
    unused = {"walletim.chain.answers", "walletim.keys.hd", "walletim.keys.paths"}
    assert sorted((unused | {"walletim.chain.fees"}) & modules) == []


def test_tx_status_with_the_agent_builds_no_wallets(world: Any) -> None:
    """``tx status`` of this home's transaction opens the store with the key the agent
    gives: the wallets (vault, key derivation, models) are not loaded for it."""
    sent = world.session.send("dev", BOB, 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WALLETIM_")}
    env.update(WALLETIM_HOME=str(world.home), WALLETIM_UNSAFE_FAST_KDF="1", PYTHONPATH=str(ROOT))
    probe = "from walletim.cli import main; main()"
    start = subprocess.run(
        [sys.executable, "-c", probe, "agent", "start", "--ttl", "10m"],
        env={**env, "WALLETIM_PASSWORD": HOME_PASSWORD},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert start.returncode == 0, start.stderr
    try:
        modules = loaded(
            world.home, "--rpc-url", world.url, "tx", "status", sent.hash,
            env={"WALLETIM_AGENT": "on"},
        )  # fmt: skip
    finally:
        subprocess.run([sys.executable, "-c", probe, "agent", "stop"], env=env, timeout=60)
    assert "sqlcipher3" in modules  # the store was opened
    assert sorted(set(KEY_MACHINERY[:3]) & modules) == []
    assert sorted(set(NOT_FOR_A_STATUS) & modules) == []


#: What ``tx status`` signs, waits and exports nothing with: the fee policy, the retry
#: policy (polling, a store's WAL switch retried while locked), the send/batch models, blocks,
#: CSV; nor the chat's repositories, nor the migrations (every table's DDL: a store at
#: SCHEMA_VERSION opens without them), nor a signed transaction's flight, nor token balances,
#: nor event logs (the receipt of an ETH transfer has none).
NOT_FOR_A_STATUS = (
    "walletim.store.schema",
    "walletim.chain.logs",
    "walletim.store.inflight",
    "walletim.app.chain.flight",
    "walletim.app.chain.tokens",
    "walletim.store.held",
    "walletim.chain.fees",
    "walletim.retry",
    "walletim.app.chain.model",
    "walletim.app.chain.planning",
    "walletim.app.chain.nonces",
    "walletim.chain.blocks",
    "csv",
)


def test_help_imports_no_service(tmp_path: Path) -> None:
    modules = loaded(tmp_path / "home", "--help")
    assert "walletim.app.session" not in modules
    assert heavy(modules) == []


def test_lazy_namespaces_keep_every_subcommand() -> None:
    """A group whose subcommands another module adds (``token list``) still has them."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", "from walletim.cli import main; main()", "token", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "  list " in proc.stdout


_LAZY_PACKAGES = (
    "walletim.app.chat",
    "walletim.app.chain",
    "walletim.app.contracts",
    "walletim.app.defi",
    "walletim.app.wallets",
    "walletim.contracts.abi",
    "walletim.cli.defi",
)


@pytest.mark.parametrize("package", _LAZY_PACKAGES)
def test_lazy_packages_export_what_they_list(package: str) -> None:
    """Every name a lazily-loaded package lists in ``__all__`` resolves (walletim.lazy), to
    the object its module defines; none is also a submodule's name (importing the submodule
    would make the name the module)."""
    module = importlib.import_module(package)
    submodules = {m.name for m in pkgutil.iter_modules(module.__path__)}
    assert not set(module.__all__) & submodules
    for name in module.__all__:
        value = getattr(module, name)
        assert not isinstance(value, types.ModuleType), (package, name)
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


@pytest.mark.parametrize("package", _LAZY_PACKAGES)
def test_lazy_packages_type_check_what_they_export(package: str) -> None:
    """What a lazily-loaded package's ``TYPE_CHECKING`` imports give type checkers is what it
    exports at run time (``__all__``, read from those lines by walletim.lazy.reexports): an
    import written so that it misses is caught here."""
    module = importlib.import_module(package)
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    checked = {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for imported in node.body
        if isinstance(imported, ast.ImportFrom)
        for alias in imported.names
    }
    assert checked == set(module.__all__)
    assert len(module.__all__) == len(set(module.__all__))


#: What decrypting, encrypting or making prekeys needs, and nothing else does.
SESSION_CRYPTO = ("doubleratchet", "x3dh", "xeddsa", "pydantic", "walletim.messaging.ratchet")


def test_an_empty_inbox_loads_no_session_cryptography(tmp_path: Path, relay: Any) -> None:
    """``chat inbox`` with nothing new decrypts nothing: python-doubleratchet, python-x3dh
    and pydantic (~220 ms of imports) stay out, and so does parsing the stored prekeys to
    learn that none need publishing."""
    from tests.e2e.test_cli_chat import person

    alice, bob = person(tmp_path, "alice", relay.url), person(tmp_path, "bob", relay.url)
    for cli, name in ((alice, "alice"), (bob, "bob")):
        assert cli("chat", "init", "--from", name).code == 0
    bob_addr = bob("--json", "wallet", "addresses", "bob", "--count", "1").json()["addresses"]
    assert alice("chat", "contacts", "add", "bob", bob_addr[0]["address"]).code == 0
    assert alice("chat", "send", "--from", "alice", "bob", "gm").code == 0
    assert bob("chat", "inbox", "--from", "bob").code == 0  # takes what was sent
    env = {"WALLETIM_RELAY": relay.url}
    modules = loaded(bob.home, "chat", "inbox", "--from", "bob", env=env)
    assert sorted(m for m in modules if m.split(".")[0] in SESSION_CRYPTO[:4]) == []
    assert SESSION_CRYPTO[4] not in modules
    # Nor bip-utils (~0.3 s: the chat key is derived by SLIP-0010 in walletim.keys.chat) or
    # eth-account (~0.7 s: bindings and device lists are hashed by walletim.keys.eip712).
    assert not {"bip_utils", "eth_account"} & modules


def test_chat_through_the_agent_loads_no_session_cryptography(tmp_path: Path, relay: Any) -> None:
    """With the home's agent unlocked, ``chat send`` (until the relay acknowledges) and
    ``chat inbox`` run in the agent, which keeps the ratchet libraries loaded: the command's
    own process imports none of them, nor the chat service (issue 15: each <= 20x
    ``python -c pass``, measured by bench/commands.py)."""
    from tests.e2e.test_cli_chat import address_of, person

    alice, bob = person(tmp_path, "alice", relay.url), person(tmp_path, "bob", relay.url)
    for cli, name in ((alice, "alice"), (bob, "bob")):
        assert cli("chat", "init", "--from", name).code == 0
    assert alice("chat", "contacts", "add", "bob", address_of(bob, "bob")).code == 0
    env = {"WALLETIM_RELAY": relay.url}
    for cli in (alice, bob):
        assert cli("agent", "start").code == 0
    try:
        sent = loaded(
            alice.home, "chat", "send", "--from", "alice", "bob", "gm", env=env, agent=True
        )
        fetched = loaded(bob.home, "chat", "inbox", "--from", "bob", env=env, agent=True)
        for modules in (sent, fetched):
            assert sorted(m for m in modules if m.split(".")[0] in SESSION_CRYPTO[:4]) == []
            assert not {SESSION_CRYPTO[4], "walletim.app.chat.service", "websockets"} & modules
    finally:
        for cli in (alice, bob):
            cli("agent", "stop")


def test_a_command_ends_without_collecting_what_the_os_frees() -> None:
    """At exit the interpreter would collect every cycle of the ~100,000 objects a command
    left alive (~10 ms of a ~100 ms command; bench/commands.py measures it): walletim.cli
    freezes them (gc.freeze) in the last exit handler to run. A handler registered before
    walletim.cli runs after it and sees them frozen."""
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count(), file=sys.stderr))\n"
        "from walletim.cli import main\n"
        "main(['--version'])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    frozen = int(proc.stderr.rsplit("frozen ", 1)[1].split()[0])
    assert frozen > 10_000, proc.stderr


def test_reexports_reads_wrapped_and_plain_imports(tmp_path: Path) -> None:
    """The formatter wraps an import too long for one line; both forms are read, in order,
    and imports that re-export nothing (no ``as`` of the same name) are not."""
    from walletim.lazy import reexports

    init = tmp_path / "__init__.py"
    init.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from a.b import X as X\n"
        "    from a.c import (\n        LongName as LongName,\n    )\n"
        "    from a.b import Y as Y\n"
        "    from a.d import Z as Other\n",
        encoding="utf-8",
    )
    assert reexports(str(init)) == {"a.b": ("X", "Y"), "a.c": ("LongName",)}


def test_a_payment_signs_its_claim_without_eth_account(world: Any, relay: Any) -> None:
    """``pay`` signs its claim (walletim's own EIP-712 statement) and checks its domain's
    chain without eth-account (~0.8 s to import here: its keystore code loads py_ecc's BLS
    curves); a dapp's typed data is still eth-account's (tests/unit/test_typed_data*.py)."""
    env = {"WALLETIM_RELAY": relay.url}
    url = ["--rpc-url", world.url]
    assert not {"eth_account"} & loaded(world.home, *url, "chat", "init", "--from", "dev", env=env)
    modules = loaded(world.home, *url, "--yes", "pay", "--from", "dev", BOB, "0.01", env=env)
    assert "walletim.app.wim.payments" in modules  # it paid, and signed its claim
    assert "eth_account" not in modules
