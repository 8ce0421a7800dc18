"""Parsers of outside input raise only documented walletim errors, whatever they are fed."""

from __future__ import annotations

import contextlib
import json

# eth-account raises the recursion limit when first imported; do it before hypothesis runs.
import eth_account.messages  # noqa: F401
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import fuzz
from walletim.errors import WalletimError
from walletim.keys import hd, keystore, mnemonic, paths, signing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _only_documented(fn, *args: object) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(WalletimError):
        fn(*args)


@fuzz("fuzz keys: keystore parse raw", 300, 3000)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_keystore_parse_raw(data: bytes | str) -> None:
    _only_documented(keystore.parse, data)


keystore_like = st.fixed_dictionaries(
    {
        "version": st.sampled_from([3, 3, 1, "3", None]),
        "crypto": st.fixed_dictionaries(
            {
                "cipher": st.sampled_from(["aes-128-ctr", "x", None]),
                "cipherparams": st.fixed_dictionaries(
                    {"iv": st.sampled_from(["00" * 16, "zz", 5])}
                ),
                "ciphertext": st.sampled_from(["00" * 32, "", "0x" + "11" * 32, None]),
                "mac": st.sampled_from(["00" * 32, "short"]),
                "kdf": st.sampled_from(["scrypt", "pbkdf2", "other"]),
                "kdfparams": st.fixed_dictionaries(
                    {
                        "dklen": st.sampled_from([32, 16, "32"]),
                        "salt": st.sampled_from(["00" * 16, "", "xyz"]),
                        "n": st.sampled_from([2, 4, 3, 2**30, -1, "8"]),
                        "r": st.integers(-2, 10**7),
                        "p": st.integers(-2, 10**7),
                        "c": st.integers(-2, 10**10),
                        "prf": st.sampled_from(["hmac-sha256", "hmac-sha1"]),
                    }
                ),
            }
        ),
        "address": st.sampled_from([None, "00" * 20, "0x" + "11" * 20, "bad"]),
    }
)


@fuzz("fuzz keys: keystore decrypt structured", 300, 3000)
@given(keystore_like)
def test_keystore_decrypt_structured(doc: dict[str, object]) -> None:
    _only_documented(keystore.decrypt, json.dumps(doc), "pw")


@fuzz("fuzz keys: paths", 500, 5000)
@given(st.text(max_size=60))
def test_paths(text: str) -> None:
    _only_documented(paths.parse_path, text)
    _only_documented(paths.parse_template, text)


@fuzz("fuzz keys: path shaped", 300, 3000)
@given(
    st.lists(
        st.sampled_from(["m", "/", "'", "h", "{i}", "0", "44", "2147483648", "01", "x"]),
        max_size=12,
    )
)
def test_path_shaped(parts: list[str]) -> None:
    text = "".join(parts)
    _only_documented(paths.parse_path, text)
    _only_documented(paths.parse_template, text)


@fuzz("fuzz keys: typed data", 300, 3000)
@given(json_values)
def test_typed_data(doc: object) -> None:
    text = json.dumps(doc)
    try:
        parsed = signing.parse_typed_data(text)
        signing.typed_data_digest(parsed)
    except WalletimError:
        pass


@fuzz("fuzz keys: typed data shaped", 300, 3000)
@given(
    st.fixed_dictionaries(
        {
            "types": st.fixed_dictionaries(
                {
                    "EIP712Domain": st.just([{"name": "name", "type": "string"}]),
                    "M": st.lists(
                        st.fixed_dictionaries(
                            {
                                "name": st.sampled_from(["a", "b"]),
                                "type": st.sampled_from(
                                    [
                                        "uint256",
                                        "address",
                                        "string",
                                        "bytes32",
                                        "M",
                                        "Nope",
                                        "uint7",
                                        "bool[]",
                                    ]
                                ),
                            }
                        ),
                        max_size=3,
                    ),
                }
            ),
            "primaryType": st.sampled_from(["M", "EIP712Domain", "Nope"]),
            "domain": st.fixed_dictionaries({"name": st.text(max_size=5)}),
            "message": st.dictionaries(st.sampled_from(["a", "b"]), json_values, max_size=2),
        }
    )
)
def test_typed_data_shaped(doc: dict[str, object]) -> None:
    with contextlib.suppress(WalletimError):
        signing.typed_data_digest(signing.parse_typed_data(json.dumps(doc)))


@fuzz("fuzz keys: mnemonic and keys", 300, 3000)
@given(st.text(max_size=200))
def test_mnemonic_and_keys(text: str) -> None:
    _only_documented(mnemonic.validate, text)
    _only_documented(hd.parse_private_key, text)
    _only_documented(signing.parse_signature, text)
    _only_documented(hd.to_checksum_address, text)


@fuzz("fuzz keys: signature recovery", 200, 2000)
@given(st.binary(max_size=70), st.binary(min_size=32, max_size=32))
def test_signature_recovery(sig: bytes, digest: bytes) -> None:
    _only_documented(signing.recover_digest, digest, sig)
