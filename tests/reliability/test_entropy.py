"""Entropy (issue 8): key material and nonces come only from ``secrets`` / ``os.urandom``.

Every module under walletim/ is parsed with ``ast`` (tests/reliability/entropy_lint.py):
no ``random`` module anywhere, no ``numpy.random``, no ``uuid1``/``uuid4``, no seeding, no
clock/pid values hashed or stored as keys, nonces or salts, and every randomness parameter
defaults to a CSPRNG. Every place that draws randomness is listed below with what it makes;
a new one fails this test until it is reviewed and added. The libraries that make walletim's
chat keys are held to the same rule. A fixture of bad snippets proves the lint can fail.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from tests.reliability import record
from tests.reliability.entropy_lint import lint

ROOT = Path(__file__).resolve().parents[2]

# (module, enclosing function, API) -> (count, what it makes). "randbytes (injected)" is a call
# of the randomness a constructor was given: os.urandom by default (checked by the lint),
# a deterministic one only in tests.
ALLOWED: dict[tuple[str, str, str], tuple[int, str]] = {
    ("walletim/keys/mnemonic.py", "generate", "secrets.token_bytes"): (1, "default entropy source"),
    ("walletim/keys/mnemonic.py", "generate", "randbytes (injected)"): (1, "BIP-39 entropy"),
    # A message's id nonce (walletim.messaging.refs): unpredictable, so no one can name a
    # message before it is sent; 16 bytes from the chat Env's randbytes (os.urandom).
    ("walletim/app/chat/groups.py", "Groups.send", "randbytes (injected)"): (1, "group msg id"),
    ("walletim/app/chat/outbox.py", "Outbox.queue", "randbytes (injected)"): (1, "message id"),
    ("walletim/keys/crypto.py", "KdfParams.new", "os.urandom"): (1, "default of randbytes"),
    ("walletim/keys/crypto.py", "KdfParams.new", "randbytes (injected)"): (1, "argon2id salt"),
    ("walletim/keys/vault.py", "Vault.__init__", "os.urandom"): (1, "default of randbytes"),
    ("walletim/keys/vault.py", "Vault.initialize", "randbytes (injected)"): (1, "vault master key"),
    ("walletim/keys/vault.py", "Vault._seal_master", "randbytes (injected)"): (1, "key-wrap nonce"),
    ("walletim/keys/vault.py", "Vault.new_record", "randbytes (injected)"): (1, "wallet id"),
    ("walletim/keys/vault.py", "UnlockedVault.__init__", "os.urandom"): (1, "default"),
    ("walletim/keys/vault.py", "UnlockedVault.seal", "randbytes (injected)"): (1, "seal nonce"),
    ("walletim/keys/keystore.py", "encrypt", "secrets.token_bytes"): (1, "keystore uuid"),
    ("walletim/app/wallets/manager.py", "Wallets.__init__", "os.urandom"): (
        1,
        "default of randbytes",
    ),
    ("walletim/app/wallets/keys.py", "LocalKeys.chat_identity", "randbytes (injected)"): (
        1,
        "chat identity seed of a private-key wallet",
    ),
    ("walletim/app/wallets/keys.py", "LocalKeys.device_key", "randbytes (injected)"): (
        1,
        "this home's own chat device: its id and Ed25519 seed (issue 17)",
    ),
    ("walletim/app/chat/service.py", "ChatService.__init__", "os.urandom"): (
        1,
        "default of randbytes",
    ),
    # A group id's salt (walletim.messaging.group_ids): Groups.create hands it the chat Env's.
    ("walletim/messaging/group_ids.py", "new_id", "randbytes (injected)"): (1, "group id salt"),
    # Linking a device by code (issue 17, walletim.app.linking): the code's 128-bit secret,
    # the new device's id and Ed25519 seed, the history archive's id.
    ("walletim/app/linking.py", "LinkService", "secrets.token_bytes"): (1, "default"),
    ("walletim/app/linking.py", "LinkService.offer", "randbytes (injected)"): (1, "link secret"),
    ("walletim/app/linking.py", "LinkService.accept", "randbytes (injected)"): (1, "device key"),
    ("walletim/app/linking.py", "LinkService._archive", "randbytes (injected)"): (1, "archive id"),
    ("walletim/app/chat/outbox.py", "Outbox._seal", "secrets.token_hex"): (1, "message id"),
    ("walletim/app/chat/fanout_send.py", "_copy", "secrets.token_hex"): (1, "copy relay id"),
    ("walletim/app/chat/read_sync.py", "send_sealed", "randbytes (injected)"): (
        1,
        "relay id of a read mark or group history to our own devices",
    ),
    ("walletim/messaging/fanout.py", "encrypt_fanout", "os.urandom"): (1, "default of randbytes"),
    ("walletim/messaging/fanout.py", "decrypt_from", "os.urandom"): (1, "default of randbytes"),
    ("walletim/retry.py", "Backoff.delay", "secrets.randbelow"): (1, "backoff jitter"),
    ("walletim/app/chat/link.py", "RelayLink.delivery_key", "randbytes (injected)"): (
        1,
        "an account's delivery key (mailbox quotas)",
    ),
    ("walletim/app/chat/link.py", "RelayLink.rotate_delivery_key", "randbytes (injected)"): (
        1,
        "a rotated delivery key",
    ),
    ("walletim/app/wim/payments.py", "Payments._requests", "secrets.token_hex"): (1, "request id"),
    ("walletim/app/wim/payments.py", "Payments.split", "secrets.token_hex"): (1, "split id"),
    ("walletim/app/redpacket.py", "RedPackets.create", "os.urandom"): (1, "red packet salt"),
    ("walletim/app/demo.py", "run_demo", "secrets.token_urlsafe"): (2, "demo passwords"),
    ("walletim/app/demo.py", "_keystore_round_trip", "secrets.token_urlsafe"): (
        1,
        "the demo keystore's password",
    ),
    ("walletim/fsio.py", "_create_temp", "secrets.token_hex"): (1, "temp file name"),
    ("walletim/messaging/session.py", "Conversation.new", "os.urandom"): (1, "default"),
    ("walletim/messaging/session.py", "Conversation.new", "randbytes (injected)"): (
        1,
        "conversation epoch",
    ),
    ("walletim/relay/conn.py", "Connection.__init__", "secrets.token_bytes"): (
        1,
        "auth challenge nonce",
    ),
    ("walletim/relay/sqlite_schema.py", "open_database", "secrets.token_hex"): (
        1,
        "relay id",
    ),
    ("walletim/relay/redis_store.py", "RedisMailboxStore.__init__", "secrets.token_hex"): (
        1,
        "relay node id",
    ),
    ("walletim/relay/redis_store.py", "RedisMailboxStore.open", "secrets.token_hex"): (
        1,
        "relay id",
    ),
    ("walletim/relay/redis_store.py", "RedisMailboxStore.open", "secrets.token_bytes"): (
        1,
        "the relay's signing key seed (shared by the nodes)",
    ),
    ("walletim/relay/sqlite_schema.py", "open_database", "secrets.token_bytes"): (
        1,
        "the relay's signing key seed",
    ),
    ("walletim/relay/login.py", "RelayIdentity.__init__", "secrets.token_bytes"): (
        1,
        "a signing key seed for a relay built without a store's key",
    ),
    ("walletim/relay/conn.py", "Connection.__init__", "secrets.token_hex"): (
        1,
        "a connection's quota bucket id",
    ),
    ("walletim/app/backup/service.py", "BackupService", "secrets.token_bytes"): (
        1,
        "default of randbytes (a chat backup's archive id)",
    ),
    ("walletim/app/backup/service.py", "BackupService.backup", "randbytes (injected)"): (
        1,
        "a chat backup's archive id (salts its key)",
    ),
    ("walletim/relay/backups.py", "Backups._commit", "secrets.token_hex"): (
        1,
        "a stored backup's version id",
    ),
}

# The libraries that generate walletim's chat and account keys (X3DH prekeys and ephemeral
# keys, ratchet keys, XEdDSA nonces, keystore salt/IV, sealed boxes, BIP-32/39): the same rule.
LIBRARIES = ["x3dh", "doubleratchet", "xeddsa", "nacl", "mnemonic", "bip_utils", "eth_keyfile"]
LIBRARY_EXCEPTIONS = {  # uuid4 (os.urandom inside) makes a keystore's "id" field, not a key
    "eth_keyfile/keyfile.py": {"calls uuid.uuid4"},
}


def _walletim_report() -> tuple[list[str], Counter[tuple[str, str, str]], int]:
    violations: list[str] = []
    sites: Counter[tuple[str, str, str]] = Counter()
    files = sorted((ROOT / "walletim").rglob("*.py"))
    for path in files:
        report = lint(path.read_text(), str(path.relative_to(ROOT)))
        violations += report.violations
        sites += report.sites
    return violations, sites, len(files)


def test_walletim_draws_randomness_only_from_a_csprng_at_reviewed_places() -> None:
    violations, sites, files = _walletim_report()
    allowed = Counter({key: count for key, (count, _) in ALLOWED.items()})
    new = {k: n for k, n in sites.items() if allowed.get(k, 0) < n}
    gone = {k: n for k, n in allowed.items() if sites.get(k, 0) < n}
    record(
        "entropy: randomness in walletim/ only from secrets / os.urandom, at reviewed sites",
        files,
        len(violations) + len(new),
        f"{files} modules parsed; {sum(sites.values())} call sites at {len(sites)} places, "
        "all listed in tests/reliability/test_entropy.py",
    )
    assert not violations, violations
    assert not new, f"new randomness call sites: review them and add them to ALLOWED: {new}"
    assert not gone, f"listed call sites that are gone: remove them from ALLOWED: {gone}"


@pytest.mark.parametrize("package", LIBRARIES)
def test_the_key_generating_libraries_use_no_weak_randomness(package: str) -> None:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None
    root = Path(spec.origin).parent
    bad = []
    for path in sorted(root.rglob("*.py")):
        relative = str(path.relative_to(root.parent))
        for v in lint(path.read_text(errors="replace"), relative).violations:
            if v.split(": ", 1)[1] not in LIBRARY_EXCEPTIONS.get(relative, set()):
                bad.append(v)
    assert not bad, bad


BAD_SNIPPETS = {
    "import random": "imports random",
    "import random as r\nx = r.random()": "imports random",
    "from random import randint": "imports random.randint",
    "import numpy as np\nkey = np.random.bytes(32)": "uses numpy.random.bytes",
    "from numpy import random": "imports numpy.random",
    "import numpy.random": "imports numpy.random",
    "rnd = __import__('random')": "imports random dynamically",
    "import importlib\nr = importlib.import_module('random')": "imports random dynamically",
    "import uuid\nkey = uuid.uuid4().bytes": "calls uuid.uuid4",
    "import uuid\nnonce = uuid.uuid1().hex": "calls uuid.uuid1",
    "import os\nseed = os.getrandom(32)": "calls os.getrandom",
    "import hashlib, time\nkey = hashlib.sha256(str(time.time()).encode()).digest()": (
        "hashes a predictable value"
    ),
    "import time\nnonce = int(time.time() * 1000)": "from a predictable value",
    "import os\nsalt = os.getpid().to_bytes(4, 'big')": "from a predictable value",
    "def f(x):\n    master_key = id(x)": "from a predictable value",
    "from hashlib import sha256\nimport time\nk = sha256(str(time.time_ns()).encode())": (
        "hashes a predictable value"
    ),
    "gen.seed(1234)": "seeds a generator",
    "def new(randbytes=lambda n: bytes(n)):\n    return randbytes(32)": "defaults to",
    "def new(*, rng=my_prng):\n    return rng(32)": "defaults to",
}


@pytest.mark.parametrize("snippet", sorted(BAD_SNIPPETS))
def test_the_lint_flags_weak_randomness(snippet: str) -> None:
    violations = lint(snippet).violations
    assert any(BAD_SNIPPETS[snippet] in v for v in violations), violations


def test_the_lint_lists_new_call_sites_and_passes_good_code() -> None:
    good = (
        "import os, secrets, time\n"
        "from secrets import token_bytes as tb\n"
        "def f(randbytes=os.urandom, random=False):\n"
        "    started = time.time()\n"
        "    key = randbytes(32)\n"
        "    return key, tb(16), secrets.token_hex(8), random\n"
    )
    report = lint(good, "m.py")
    assert report.violations == []
    assert report.sites == Counter(
        {
            ("m.py", "f", "os.urandom"): 1,
            ("m.py", "f", "randbytes (injected)"): 1,
            ("m.py", "f", "secrets.token_bytes"): 1,
            ("m.py", "f", "secrets.token_hex"): 1,
        }
    )
