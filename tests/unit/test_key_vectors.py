"""Published vectors: BIP-39 (Trezor), BIP-32 1-5, EIP-155, EIP-712 "Mail", Web3 Secret
Storage v3, and Anvil's default accounts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from walletim.errors import InputError, KeysError
from walletim.keys import hd, keystore, mnemonic, paths, signing

DATA = Path(__file__).resolve().parent.parent / "data"
BIP39 = json.loads((DATA / "bip39_vectors.json").read_text())["english"]
BIP32 = json.loads((DATA / "bip32_vectors.json").read_text())


@pytest.mark.parametrize(
    ("entropy", "phrase", "seed", "xprv"), BIP39, ids=[v[1][:20] for v in BIP39]
)
def test_bip39_trezor_vectors(entropy: str, phrase: str, seed: str, xprv: str) -> None:
    assert mnemonic.from_entropy(bytes.fromhex(entropy)) == phrase
    assert mnemonic.to_entropy(phrase).hex() == entropy
    assert mnemonic.to_seed(phrase, "TREZOR").hex() == seed
    assert hd.HDNode.from_seed(bytes.fromhex(seed)).extended_private_key() == xprv


CHAINS = [
    (n, vector["seed"], path, xpub, xprv)
    for n, vector in enumerate(BIP32["valid"], start=1)
    for path, xpub, xprv in vector["chains"]
]


@pytest.mark.parametrize(("vector", "seed", "path", "xpub", "xprv"), CHAINS)
def test_bip32_vectors(vector: int, seed: str, path: str, xpub: str, xprv: str) -> None:
    node = hd.HDNode.from_seed(bytes.fromhex(seed)).derive(paths.parse_path(path))
    assert node.extended_public_key() == xpub
    assert node.extended_private_key() == xprv
    # Parsing the serialized forms gives the same keys back.
    assert hd.HDNode.from_extended_key(xprv).extended_private_key() == xprv
    assert hd.HDNode.from_extended_key(xpub).extended_public_key() == xpub


@pytest.mark.parametrize(("why", "key"), BIP32["invalid"], ids=[w for w, _ in BIP32["invalid"]])
def test_bip32_vector5_invalid_keys(why: str, key: str) -> None:
    with pytest.raises(KeysError):
        hd.HDNode.from_extended_key(key)


def test_eip155_example() -> None:
    """The worked example in the EIP-155 text."""
    signer = signing.LocalSigner(bytes.fromhex("46" * 32))
    tx = {
        "nonce": 9,
        "gasPrice": 20 * 10**9,
        "gas": 21000,
        "to": "0x" + "35" * 20,
        "value": 10**18,
        "data": b"",
        "chainId": 1,
    }
    from walletim.keys import txcodec

    assert txcodec.signing_hash(tx, 0).hex() == (
        "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"
    )
    signed = signer.sign_transaction(tx)
    assert signed.raw.hex() == (
        "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7640000"
        "8025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f"
        "761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
    )


def test_no_signature_without_chain_id() -> None:
    signer = signing.LocalSigner(bytes.fromhex("46" * 32))
    tx = {"nonce": 0, "gasPrice": 1, "gas": 21000, "to": "0x" + "35" * 20, "value": 1}
    with pytest.raises(KeysError, match="chain id"):
        signer.sign_transaction(tx)
    with pytest.raises(KeysError, match="chain id"):
        signer.sign_transaction({**tx, "chainId": 0})


ANVIL_KEY_1 = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
MAIL = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
        "Mail": [
            {"name": "from", "type": "Person"},
            {"name": "to", "type": "Person"},
            {"name": "contents", "type": "string"},
        ],
    },
    "primaryType": "Mail",
    "domain": {
        "name": "Ether Mail",
        "version": "1",
        "chainId": 1,
        "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
    },
    "message": {
        "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
        "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
        "contents": "Hello, Bob!",
    },
}


def test_eip712_mail_example() -> None:
    """The "Mail" example of the EIP-712 text: key keccak256("cow")."""
    signer = signing.LocalSigner(hd.keccak256(b"cow"))
    assert signer.address == "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"
    sig = signer.sign_typed_data(MAIL)
    assert sig.digest.hex() == "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
    assert sig.v == 28
    assert sig.r == 0x4355C47D63924E8A72E509B65029052EB6C299D53A04E167C5775FD466751C9D
    assert sig.s == 0x07299936D304C153F6443DFA05F40FF007D72911B6F72307F996231605B91562
    assert signing.verify_typed_data(signer.address, MAIL, sig.bytes)
    tampered = json.loads(json.dumps(MAIL))
    tampered["message"]["contents"] = "Hello, Eve!"
    assert not signing.verify_typed_data(signer.address, tampered, sig.bytes)


#: MetaMask test-dapp's eth_signTypedData_v4 example: its "Group" type is used by nothing.
MM_V4 = {
    "domain": {
        "chainId": "137",
        "name": "Ether Mail",
        "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
        "version": "1",
    },
    "message": {
        "contents": "Hello, Bob!",
        "from": {
            "name": "Cow",
            "wallets": [
                "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826",
                "0xDeaDbeefdEAdbeefdEadbEEFdeadbeEFdEaDbeeF",
            ],
        },
        "to": [
            {
                "name": "Bob",
                "wallets": [
                    "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB",
                    "0xB0BdaBea57B0BDABeA57b0bdABEA57b0BDabEa57",
                    "0xB0B0b0b0b0b0B000000000000000000000000000",
                ],
            }
        ],
    },
    "primaryType": "Mail",
    "types": {
        "EIP712Domain": MAIL["types"]["EIP712Domain"],  # type: ignore[index]
        "Group": [{"name": "name", "type": "string"}, {"name": "members", "type": "Person[]"}],
        "Mail": [
            {"name": "from", "type": "Person"},
            {"name": "to", "type": "Person[]"},
            {"name": "contents", "type": "string"},
        ],
        "Person": [{"name": "name", "type": "string"}, {"name": "wallets", "type": "address[]"}],
    },
}


def test_types_the_primary_type_does_not_reach_are_not_signed() -> None:
    """MetaMask's own v4 example was refused ("Unable to determine primary type"): it has a
    type nothing uses. It signs as `cast wallet sign --data` does, and an unused type added
    to the EIP-712 Mail example leaves its digest as it was."""
    signer = signing.LocalSigner(bytes.fromhex(ANVIL_KEY_1))
    assert signer.sign_typed_data(MM_V4).hex == (
        "0x073a4dce1c558b03a85e45236b903585169a5a8e84aa177a35c8cdcfc32246e4"
        "4910fc39f76765ab869c265533ff2740e4f8fa2af1ab515fd37603a06e41d2eb1b"
    )
    extra = json.loads(json.dumps(MAIL))
    extra["types"]["Unused"] = [{"name": "x", "type": "uint256"}]
    assert signing.typed_data_digest(extra) == signing.typed_data_digest(MAIL)


def test_primary_type_eip712domain_signs_the_domain_alone_as_cast_and_metamask() -> None:
    """A document whose primaryType is EIP712Domain was refused with eth-account's "Unable to
    determine primary type"; MetaMask, geth and `cast wallet sign --data` sign
    keccak256(0x1901 || domainSeparator), no message: the signature below is cast's."""
    domain_type = [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}]
    doc = {
        "types": {"EIP712Domain": domain_type},
        "primaryType": "EIP712Domain",
        "domain": {"name": "X", "chainId": 31337},
        "message": {"name": "X", "chainId": 31337},
    }
    signer = signing.LocalSigner(bytes.fromhex(ANVIL_KEY_1))
    assert signer.sign_typed_data(doc).hex == (
        "0x2713413274d2e1b737853825a419f954fdb82709641b25037742141a6577e1cf"
        "3a9e15473d1653c4e0af59165adab37baee42bab4fef263f00777d5cd01548ee1c"
    )
    with pytest.raises(InputError, match=r"domain\.chainId"):  # the domain checked as ever
        signing.typed_data_digest({**doc, "domain": {"name": "X", "chainId": "x"}})


@pytest.mark.parametrize(
    ("domain_type", "said"),
    [
        (["uint256 chainId", "string name"], "lists name out of EIP-712's order"),
        (["string name", "string name"], "lists name out of EIP-712's order"),
        (["string name", "uint64 chainId"], "has 'uint64 chainId': EIP-712's are string name"),
        (["string name", "string foo"], "has 'string foo': EIP-712's are"),
    ],
)
def test_a_domain_type_signed_otherwise_than_it_reads_is_refused(
    domain_type: list[str], said: str
) -> None:
    """types.EIP712Domain listing chainId before name, or chainId as a uint64, was signed with
    the domain hashed as EIP-712 orders and types it (eth-account, cast), where MetaMask and
    geth hash it as listed: two signatures for one file. It is refused, saying which field."""
    doc = json.loads(json.dumps(MAIL))
    doc["types"]["EIP712Domain"] = signing.eip712_fields(*domain_type)
    doc["domain"] = {"name": "Ether Mail", "chainId": 1, "foo": "x"}
    with pytest.raises(InputError, match=f"^typed data refused: types.EIP712Domain {said}"):
        signing.typed_data_digest(doc)


def test_a_domain_field_its_type_does_not_declare_is_refused() -> None:
    """A domain field types.EIP712Domain does not declare (or a domain with no such type)
    was signed as eth-account and cast hash it (with the field) where MetaMask hashes only
    what is declared (an empty domain when the type is missing), or read eth-account's
    "The fields provided in `domain` were `['name', ...` cut short. It is refused, naming it."""
    extra = json.loads(json.dumps(MAIL))
    extra["domain"]["salt"] = "0x" + "00" * 32
    undeclared = json.loads(json.dumps(MAIL))
    del undeclared["types"]["EIP712Domain"]
    for doc, name in ((extra, "salt"), (undeclared, "name")):
        with pytest.raises(InputError, match=rf"^typed data refused: domain\.{name} is not decl"):
            signing.typed_data_digest(doc)
    undeclared["domain"] = {}  # no domain at all: signed as before, as everyone signs it
    assert len(signing.typed_data_digest(undeclared)) == 32


def test_a_string_with_a_lone_surrogate_is_refused_naming_the_field() -> None:
    """A JSON string escaping half a UTF-16 pair ("\\ud800") is no text (cast refuses the
    file); it read "typed data does not encode: 'utf-8' codec can't encode character
    '\\ud800' in position 1: surrogates not allowed". It is refused naming the field."""
    text = json.dumps(MAIL).replace('"Hello, Bob!"', '"Hello, \\ud800Bob!"')
    with pytest.raises(InputError, match=r"^typed data refused: message\.contents \(string\) "):
        signing.typed_data_digest(signing.parse_typed_data(text))


def test_typed_data_saved_with_a_byte_order_mark_reads() -> None:
    """A file Windows Notepad saved (UTF-8 with a BOM) was "typed data is not valid JSON"."""
    text = json.dumps(MAIL)
    for saved in ("\ufeff" + text, b"\xef\xbb\xbf" + text.encode()):
        assert signing.parse_typed_data(saved) == MAIL


def test_typed_data_nested_too_deep_says_so_not_that_it_is_not_json() -> None:
    """Well-formed typed data nested past safejson's bound (structs 70 deep) read "typed data
    is not valid JSON"; it says how deep it may nest now. Text that is not JSON is as before."""
    message: dict[str, object] = {"v": 1}
    for _ in range(69):
        message = {"c": message}
    text = json.dumps({**MAIL, "message": message})
    with pytest.raises(InputError, match=r"^typed data nests arrays and objects deeper than 64"):
        signing.parse_typed_data(text)
    with pytest.raises(InputError, match=r"^typed data is not valid JSON$"):
        signing.parse_typed_data(json.dumps(MAIL)[:-1])
    with pytest.raises(InputError, match=r"^typed data nests"):  # unclosed and too deep
        signing.parse_typed_data("[" * 100_000)


V3_PASSWORD = "testpassword"
V3_KEY = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d"
V3_PBKDF2 = {
    "crypto": {
        "cipher": "aes-128-ctr",
        "cipherparams": {"iv": "6087dab2f9fdbbfaddc31a909735c1e6"},
        "ciphertext": "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
        "kdf": "pbkdf2",
        "kdfparams": {
            "c": 262144,
            "dklen": 32,
            "prf": "hmac-sha256",
            "salt": "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd",
        },
        "mac": "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2",
    },
    "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
    "version": 3,
}
V3_SCRYPT = {
    "crypto": {
        "cipher": "aes-128-ctr",
        "cipherparams": {"iv": "83dbcc02d8ccb40e466191a123791e0e"},
        "ciphertext": "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
        "kdf": "scrypt",
        "kdfparams": {
            "dklen": 32,
            "n": 262144,
            "r": 1,
            "p": 8,
            "salt": "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19",
        },
        "mac": "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097",
    },
    "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
    "version": 3,
}


@pytest.mark.parametrize("doc", [V3_PBKDF2, V3_SCRYPT], ids=["pbkdf2", "scrypt"])
def test_web3_secret_storage_v3_vectors(doc: dict[str, object]) -> None:
    assert keystore.decrypt(json.dumps(doc), V3_PASSWORD).hex() == V3_KEY


#: Anvil's ten default accounts, as Anvil itself prints them at start-up.
ANVIL_ACCOUNTS = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
]


def test_anvil_default_mnemonic_accounts() -> None:
    seed = mnemonic.to_seed("test test test test test test test test test test test junk")
    master = hd.HDNode.from_seed(seed)
    template = paths.parse_template(paths.DEFAULT_TEMPLATE)
    private = [master.derive(template.steps(i)).address() for i in range(10)]
    parent = template.public_parent
    assert parent is not None
    public = master.derive(parent).public_node().child_addresses(0, 10)
    assert private == public == ANVIL_ACCOUNTS
