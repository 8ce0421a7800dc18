"""Property tests: derivation, signing and keystores cross-checked against eth-account."""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walletim.errors import InvalidMnemonic, WrongPassword
from walletim.keys import hd, keystore, mnemonic, paths, signing, txcodec

Account.enable_unaudited_hdwallet_features()

entropy_st = st.sampled_from([16, 20, 24, 28, 32]).flatmap(
    lambda n: st.binary(min_size=n, max_size=n)
)
passphrase_st = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12
)
key_st = st.integers(min_value=1, max_value=hd.SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entropy=entropy_st, passphrase=passphrase_st, index=st.integers(0, 2**31 - 1))
def test_derivation_matches_eth_account(entropy: bytes, passphrase: str, index: int) -> None:
    phrase = mnemonic.from_entropy(entropy)
    template = paths.parse_template(paths.DEFAULT_TEMPLATE)
    ours = hd.HDNode.from_seed(mnemonic.to_seed(phrase, passphrase)).derive(template.steps(index))
    theirs = Account.from_mnemonic(phrase, passphrase=passphrase, account_path=template.path(index))
    assert ours.address() == theirs.address
    assert ours.private_key() == bytes(theirs.key)


@settings(max_examples=20, deadline=None)
@given(entropy=entropy_st, start=st.integers(0, 2**31 - 20), count=st.integers(0, 5))
def test_public_derivation_equals_private(entropy: bytes, start: int, count: int) -> None:
    seed = mnemonic.to_seed(mnemonic.from_entropy(entropy))
    template = paths.parse_template(paths.DEFAULT_TEMPLATE)
    master = hd.HDNode.from_seed(seed)
    parent = template.public_parent
    assert parent is not None
    public = master.derive(parent).public_node().child_addresses(start, count)
    private = [master.derive(template.steps(i)).address() for i in range(start, start + count)]
    assert public == private


@settings(max_examples=15, deadline=None)
@given(entropy=entropy_st, index=st.integers(0, 50))
def test_ledger_live_template_matches_eth_account(entropy: bytes, index: int) -> None:
    phrase = mnemonic.from_entropy(entropy)
    template = paths.parse_template("ledger-live")
    ours = hd.HDNode.from_seed(mnemonic.to_seed(phrase)).derive(template.steps(index)).address()
    assert ours == Account.from_mnemonic(phrase, account_path=f"m/44'/60'/{index}'/0/0").address


@settings(max_examples=60, deadline=None)
@given(key=key_st, message=st.binary(max_size=200))
def test_personal_sign_matches_eth_account(key: bytes, message: bytes) -> None:
    ours = signing.LocalSigner(key).sign_message(message)
    theirs = Account.sign_message(encode_defunct(primitive=message), key)
    assert ours.bytes == bytes(theirs.signature)
    assert signing.verify_message(Account.from_key(key).address, message, ours.bytes)


tx_st = st.fixed_dictionaries(
    {
        "chainId": st.integers(1, 2**32),
        "nonce": st.integers(0, 2**64 - 1),
        "gas": st.integers(21000, 30_000_000),
        "value": st.integers(0, 2**200),
        "data": st.binary(max_size=64),
        "to": st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()),
    }
)


@settings(max_examples=60, deadline=None)
@given(key=key_st, tx=tx_st, tx_type=st.sampled_from([0, 1, 2]), fee=st.integers(1, 10**12))
def test_transaction_bytes_match_eth_account(
    key: bytes, tx: dict[str, object], tx_type: int, fee: int
) -> None:
    fields = dict(tx)
    if tx_type == 2:
        fields.update(maxFeePerGas=fee, maxPriorityFeePerGas=fee // 2)
    else:
        fields["gasPrice"] = fee
    if tx_type == 1:
        fields["accessList"] = [{"address": "0x" + "ab" * 20, "storageKeys": ["0x" + "01" * 32]}]
    ours = signing.LocalSigner(key).sign_transaction(fields)
    reference = dict(fields)
    reference["to"] = hd.to_checksum_address(str(fields["to"]))
    if tx_type:
        reference["type"] = tx_type
    theirs = Account.sign_transaction(reference, key)
    assert ours.raw == bytes(theirs.raw_transaction)
    assert ours.hash == "0x" + bytes(theirs.hash).hex()
    assert txcodec.signing_hash(fields, tx_type) is not None


@settings(max_examples=8, deadline=None)
@given(key=key_st, password=st.text(min_size=1, max_size=20), log_n=st.integers(1, 6))
def test_keystore_round_trip(key: bytes, password: str, log_n: int) -> None:
    doc = keystore.encrypt(key, password, scrypt_n=2**log_n)
    text = json.dumps(doc)
    assert keystore.decrypt(text, password) == key
    assert bytes(Account.decrypt(doc, password)) == key  # eth-account reads what we write
    with pytest.raises(WrongPassword):
        keystore.decrypt(text, password + "x")


@settings(max_examples=30, deadline=None)
@given(entropy=entropy_st, position=st.integers(0, 23))
def test_any_single_word_swap_is_caught_or_still_valid(entropy: bytes, position: int) -> None:
    words = mnemonic.from_entropy(entropy).split()
    position %= len(words)
    words[position] = "zoo" if words[position] != "zoo" else "abandon"
    try:
        mnemonic.validate(" ".join(words))
    except InvalidMnemonic as exc:
        assert exc.reason == "checksum"
