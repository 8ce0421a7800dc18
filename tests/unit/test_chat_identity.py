"""Chat identity keys (own derivation path) and the EIP-712 address binding."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.app.wallets import Wallets
from walletim.errors import MessagingError
from walletim.keys import chat, hd, mnemonic, paths
from walletim.messaging import identity

ANVIL = "test test test test test test test test test test test junk"
ANVIL0_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def test_chat_key_is_not_the_spending_key_and_restores_from_mnemonic(tmp_path: Path) -> None:
    seed = mnemonic.to_seed(ANVIL)
    ident0 = chat.derive_chat_identity(seed, 0)
    ident1 = chat.derive_chat_identity(seed, 1)
    spending = (
        hd.HDNode.from_seed(seed).derive(paths.parse_template("default").steps(0)).private_key()
    )
    assert ident0.seed != spending and ident0.public_key != ident1.public_key
    assert chat.derive_chat_identity(seed, 0) == ident0
    first = Wallets(tmp_path / "a", "password123", fast_kdf=True)
    first.import_mnemonic("dev", ANVIL)
    second = Wallets(tmp_path / "b", "password456", fast_kdf=True)
    second.import_mnemonic("restored", ANVIL)
    assert first.chat_identity("dev:1").public_key == second.chat_identity("restored:1").public_key
    assert "seed=<secret>" in repr(ident0) and ident0.seed.hex() not in repr(ident0)


def test_ed25519_signatures() -> None:
    ident = chat.derive_chat_identity(mnemonic.to_seed(ANVIL), 0)
    sig = ident.sign(b"challenge")
    assert chat.verify_ed25519(ident.public_key, b"challenge", sig)
    assert not chat.verify_ed25519(ident.public_key, b"challengf", sig)
    assert not chat.verify_ed25519(ident.public_key[:31], b"challenge", sig)
    assert len(ident.x25519_private_key()) == 32


def test_private_key_wallet_gets_a_stable_random_identity(tmp_path: Path) -> None:
    w = Wallets(tmp_path, "password123", fast_kdf=True)
    w.import_private_key("k", "0x" + "46" * 32)
    a = w.chat_identity("k")
    assert Wallets(tmp_path, "password123").chat_identity("k") == a
    raw = b"".join(p.read_bytes() for p in tmp_path.rglob("*.json"))
    assert a.seed.hex().encode() not in raw


def test_binding_verifies_with_ecrecover_and_matches_eth_account(tmp_path: Path) -> None:
    w = Wallets(tmp_path, "password123", fast_kdf=True)
    w.import_mnemonic("dev", ANVIL)
    binding = w.bind_chat_identity("dev", created=1_795_000_000)
    assert binding.verify()
    assert binding.wallet == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert binding.identity_key == w.chat_identity("dev").public_key
    reference = Account.sign_message(
        encode_typed_data(full_message=binding.typed_data()), ANVIL0_KEY
    )
    assert bytes(reference.signature) == binding.signature
    parsed = identity.IdentityBinding.from_json(json.loads(json.dumps(binding.to_json())))
    assert parsed == binding and parsed.verify()


def test_forged_bindings_do_not_verify(tmp_path: Path) -> None:
    w = Wallets(tmp_path, "password123", fast_kdf=True)
    w.import_mnemonic("dev", ANVIL)
    good = w.bind_chat_identity("dev", created=100)
    other = w.bind_chat_identity("dev:1", created=100)
    forgeries = [
        dataclasses.replace(good, identity_key=other.identity_key),  # someone else's key
        dataclasses.replace(good, wallet=other.wallet),  # claims another address
        dataclasses.replace(good, created=101),
        dataclasses.replace(good, signature=other.signature),
        dataclasses.replace(good, signature=b"\x00" * 65),
    ]
    assert not any(f.verify() for f in forgeries)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["wallet", "identity_key", "created", "signature"]),
        st.one_of(st.text(max_size=140), st.integers(), st.none()),
        max_size=4,
    )
)
def test_malformed_bindings_are_messaging_errors(doc: dict[str, object]) -> None:
    with contextlib.suppress(MessagingError):
        identity.IdentityBinding.from_json(doc).verify()


def test_safety_number_is_symmetric_and_key_sensitive() -> None:
    seed = mnemonic.to_seed(ANVIL)
    a, b = chat.derive_chat_identity(seed, 0), chat.derive_chat_identity(seed, 1)
    alice = (a.public_key, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
    bob = (b.public_key, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
    number = identity.safety_number(alice, bob)
    assert number == identity.safety_number(bob, alice)
    groups = number.split()
    assert len(groups) == 12 and all(len(g) == 5 and g.isdigit() for g in groups)
    mallory = (chat.derive_chat_identity(seed, 2).public_key, bob[1])
    assert identity.safety_number(alice, mallory) != number


def test_each_home_is_its_own_chat_device(tmp_path: Path) -> None:
    """Two homes of one mnemonic get different device keys (random, not from the seed); a
    home keeps its own across reopening; the key is sealed, never in the wallet file in
    clear; each account has its own."""
    first = Wallets(tmp_path / "a", "password123", fast_kdf=True)
    first.import_mnemonic("dev", ANVIL)
    second = Wallets(tmp_path / "b", "password456", fast_kdf=True)
    second.import_mnemonic("restored", ANVIL)
    mine, theirs = first.device_key("dev"), second.device_key("restored")
    assert mine.id != theirs.id and mine.key.public_key != theirs.key.public_key
    assert mine.key != first.chat_identity("dev")  # not the seed-derived key
    again = Wallets(tmp_path / "a", "password123", fast_kdf=True)
    assert again.device_key("dev") == mine
    assert again.device_key("dev:1") not in (mine, again.device_key("dev:2"))
    files = b"".join(p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert mine.key.seed.hex().encode() not in files and mine.key.seed not in files
    assert "seed" not in repr(mine) or mine.key.seed.hex() not in repr(mine)


# SLIP-0010's ed25519 test vector 1 (seed 000102...0f): (path, private key, public key).
SLIP10_VECTOR_1 = (
    ("m", "2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7",
     "a4b2856bfec510abab89753fac1ac0e1112364e7d250545963f135f2a33188ed"),
    ("m/0'/1'/2'/2'/1000000000'",
     "8f94d394a8e8fd6b1bc2f3f49f5c47e385281d5c17e65324b0f62483e37e8793",
     "3c24da049451555d51a7014a37337aa4e12d41e485abccfa46b47dfb2af54b7a"),
)  # fmt: skip


def test_slip10_ed25519_gives_the_slip10_vectors() -> None:
    seed = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    for path, private, public in SLIP10_VECTOR_1:
        assert chat.slip10_ed25519(seed, path, "it") == (
            bytes.fromhex(private),
            bytes.fromhex(public),
        )


@settings(max_examples=60)
@given(st.binary(min_size=16, max_size=64), st.integers(0, paths.HARDENED - 1))
def test_slip10_ed25519_derives_as_bip_utils(seed: bytes, index: int) -> None:
    from bip_utils import Bip32Slip10Ed25519

    node = Bip32Slip10Ed25519.FromSeed(seed).DerivePath(chat.chat_path(index))
    expected = (
        bytes(node.PrivateKey().Raw().ToBytes()),
        bytes(node.PublicKey().RawCompressed().ToBytes())[-32:],
    )
    assert chat.slip10_ed25519(seed, chat.chat_path(index), "it") == expected


def test_slip10_ed25519_refuses_a_short_seed_and_a_step_that_is_not_hardened() -> None:
    import pytest

    from walletim.errors import KeysError

    for seed, path in ((bytes(15), "m/13'/60'/0'"), (bytes(32), "m/13'/60'/0"), (bytes(32), "x")):
        with pytest.raises(KeysError, match="cannot derive it from this seed"):
            chat.slip10_ed25519(seed, path, "it")


def test_a_chat_identity_is_derived_without_importing_bip_utils() -> None:
    """bip-utils' import (~0.3 s) was every chat command's, for this derivation alone."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    probe = (
        "import sys; from walletim.keys import chat, mnemonic\n"
        f"chat.derive_chat_identity(mnemonic.to_seed({ANVIL!r}), 0)\n"
        "print('bip_utils' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    ).stdout  # fmt: skip
    assert out.split() == ["False"]
