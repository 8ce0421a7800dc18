"""walletim.keys.eip712 hashes plain EIP-712 documents as eth-account does (the reference
here), and leaves every other document to it: walletim's own documents (identity bindings,
device lists) are hashed and checked without importing eth-account (~0.7 s of every chat
command and relay)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walletim.keys.eip712 import NotPlain, plain_digest
from walletim.keys.hd import keccak256, to_checksum_address
from walletim.keys.signing import typed_data_digest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_FIELDS = (
    ("name", "string", st.text(max_size=8)),
    ("version", "string", st.text(max_size=3)),
    ("chainId", "uint256", st.integers(0, 2**256 - 1)),
    ("verifyingContract", "address", st.binary(min_size=20, max_size=20)),
    ("salt", "bytes32", st.binary(min_size=32, max_size=32)),
)


def reference(doc: dict[str, Any]) -> bytes:
    from eth_account.messages import encode_typed_data

    signable = encode_typed_data(full_message=doc)
    return keccak256(b"\x19" + signable.version + signable.header + signable.body)


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


def _address(raw: bytes, lower: bool) -> str:
    return "0x" + raw.hex() if lower else to_checksum_address("0x" + raw.hex())


def _atomic() -> st.SearchStrategy[tuple[str, Any]]:
    sizes = st.sampled_from([8, 16, 64, 128, 256])
    return st.one_of(
        st.tuples(st.just("string"), st.text(max_size=12)),
        st.tuples(st.just("bytes"), st.binary(max_size=40).map(_hex)),
        st.tuples(st.just("bool"), st.booleans()),
        st.builds(_address, st.binary(min_size=20, max_size=20), st.booleans()).map(
            lambda a: ("address", a)
        ),
        st.integers(1, 32).flatmap(
            lambda n: st.tuples(st.just(f"bytes{n}"), st.binary(min_size=n, max_size=n).map(_hex))
        ),
        sizes.flatmap(lambda b: st.tuples(st.just(f"uint{b}"), st.integers(0, 2**b - 1))),
        sizes.flatmap(
            lambda b: st.tuples(st.just(f"int{b}"), st.integers(-(2 ** (b - 1)), 2 ** (b - 1) - 1))
        ),
    )


@st.composite
def plain_documents(draw: st.DrawFn) -> dict[str, Any]:
    inner = draw(st.lists(_atomic(), min_size=1, max_size=3))
    types: dict[str, Any] = {
        "Item": [{"name": f"i{n}", "type": t} for n, (t, _) in enumerate(inner)]
    }
    item = {f"i{n}": v for n, (_, v) in enumerate(inner)}
    if draw(st.booleans()):  # a type only another struct reaches, sorted before the others
        types["Abc"] = [{"name": "a", "type": "uint8"}, {"name": "b", "type": "string"}]
        types["Item"].append({"name": "abc", "type": "Abc"})
        item["abc"] = {"a": draw(st.integers(0, 255)), "b": draw(st.text(max_size=4))}
    fields = draw(st.lists(_atomic(), max_size=4))
    message = {f"f{n}": v for n, (_, v) in enumerate(fields)}
    types["Mail"] = [{"name": f"f{n}", "type": t} for n, (t, _) in enumerate(fields)]
    if draw(st.booleans()):
        types["Mail"].append({"name": "item", "type": "Item"})
        message["item"] = item
    if draw(st.booleans()) or not types["Mail"]:
        types["Mail"].append({"name": "items", "type": "Item[]"})
        message["items"] = [item] * draw(st.integers(0, 3))
    if draw(st.booleans()):
        types["Zed"] = [{"name": "z", "type": "bool"}]
        types["Mail"].append({"name": "zed", "type": "Zed"})
        message["zed"] = {"z": draw(st.booleans())}
    if not any(f["type"].startswith("Item") for f in types["Mail"]):
        del types["Item"]  # (eth-account refuses a type nothing reaches; walletim drops it)
        types.pop("Abc", None)
    if draw(st.booleans()):  # an array of an atomic type
        kind, value = inner[0]
        types["Mail"].append({"name": "many", "type": f"{kind}[]"})
        message["many"] = [value] * draw(st.integers(0, 3))
    chosen = [f for f in DOMAIN_FIELDS if draw(st.booleans())] or [DOMAIN_FIELDS[0]]
    domain = {}
    for name, _, values in chosen:
        value = draw(values)
        domain[name] = "0x" + value.hex() if isinstance(value, bytes) else value
    types["EIP712Domain"] = [{"name": name, "type": kind} for name, kind, _ in chosen]
    return {"types": types, "primaryType": "Mail", "domain": domain, "message": message}


@given(plain_documents())
def test_a_plain_document_hashes_as_eth_account_hashes_it(doc: dict[str, Any]) -> None:
    assert plain_digest(doc) == reference(doc)
    assert typed_data_digest(doc) == reference(doc)


@given(plain_documents())
def test_walletims_own_domain_reads_as_eth_account_reads_it(doc: dict[str, Any]) -> None:
    """The words of a walletim domain (read without eth-account: ``pay`` checks its claim's
    chain) are eth-account's words for it."""
    from eth_abi.abi import encode
    from eth_account._utils.encode_typed_data.encoding_and_hashing import encode_field

    from walletim.contracts.typed_data.domain import _domain_words

    domain = {**doc["domain"], "name": "walletim " + str(doc["domain"].get("name", ""))}
    expected = {}
    for name, kind, _ in DOMAIN_FIELDS:
        if name in domain:
            enc_type, value = encode_field({}, name, kind, domain[name])
            expected[name] = bytes(encode([enc_type], [value]))
    assert _domain_words(domain) == expected


def _doc() -> dict[str, Any]:
    return {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}],
            "Mail": [{"name": "to", "type": "address"}, {"name": "n", "type": "uint8"}],
        },
        "primaryType": "Mail",
        "domain": {"name": "x"},
        "message": {"to": "0x" + "ab" * 20, "n": 5},
    }


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["message"].update(n="5"),  # a number as a string
        lambda d: d["message"].update(n=True),
        lambda d: d["message"].update(extra=1),
        lambda d: d["message"].update(to="0x" + "AB" * 20),  # upper case: no checksum
        lambda d: d["message"].update(to="0xAb" + "ab" * 19),  # a wrong checksum
        lambda d: d["types"]["Mail"].__setitem__(1, {"name": "n", "type": "uint"}),
        lambda d: d["types"]["Mail"].__setitem__(1, {"name": "n", "type": "uint8[2]"}),
        lambda d: d["types"]["Mail"].append({"name": "me", "type": "Mail"}),  # recursive
        lambda d: d["types"].pop("EIP712Domain"),
        lambda d: d.update(primaryType="EIP712Domain"),
    ],
)
def test_anything_else_is_left_to_eth_account(change: Any) -> None:
    doc = _doc()
    change(doc)
    with pytest.raises(NotPlain):
        plain_digest(doc)


_PROBE = """
import json, sys
from walletim.messaging.identity import sign_binding
from walletim.messaging.devices import make_device, sign_device_list
from walletim.keys.signing import LocalSigner
signer = LocalSigner(bytes([7]) * 32)
binding = sign_binding(signer, b"k" * 32, 1_700_000_000)
listed = sign_device_list(signer, 1, [make_device(b"d" * 16, b"k" * 32, 1, "phone 手机")])
ok = [binding.verify(), listed.verify()]
print(json.dumps({"ok": ok, "eth_account": "eth_account" in sys.modules}))
"""


def test_walletims_own_documents_are_signed_and_checked_without_eth_account() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert json.loads(out.splitlines()[-1]) == {"ok": [True, True], "eth_account": False}


def test_anyone_elses_typed_data_is_always_hashed_by_eth_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hand-written hasher serves walletim's own statements only: a dapp's document
    (another domain name, however plain) is eth-account's to hash, as it always was."""
    import walletim.keys.eip712 as eip712
    from walletim.keys.signing import typed_data_digest

    doc: dict[str, Any] = {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}],
            "Mail": [{"name": "text", "type": "string"}],
        },
        "primaryType": "Mail",
        "domain": {"name": "walletimX"},
        "message": {"text": "你好"},
    }
    want = typed_data_digest(doc)
    calls: list[object] = []
    real = eip712.plain_digest
    monkeypatch.setattr(eip712, "plain_digest", lambda d: calls.append(d) or real(d))
    assert typed_data_digest(doc) == want and calls == []
    doc["domain"] = {"name": "walletim"}
    typed_data_digest(doc)
    assert len(calls) == 1
