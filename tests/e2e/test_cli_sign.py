"""``walletim sign message|typed-data`` and ``walletim verify``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from tests.conftest import ANVIL_MNEMONIC, Cli
from tests.unit.test_key_vectors import MAIL

ANVIL0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ANVIL0_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def _setup(scripted: Cli) -> None:
    assert scripted("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC).code == 0


def test_sign_message_matches_eth_account_and_verifies(scripted: Cli) -> None:
    _setup(scripted)
    out = scripted("--json", "sign", "message", "--from", "dev", "gm walletim")
    assert out.code == 0, out.err
    doc = out.json()
    expected = Account.sign_message(encode_defunct(text="gm walletim"), ANVIL0_KEY).signature.hex()
    assert doc["signature"].removeprefix("0x") == expected.removeprefix("0x")
    assert doc["address"] == ANVIL0
    ok = scripted("--json", "verify", ANVIL0, "gm walletim", doc["signature"])
    assert ok.code == 0 and ok.json()["valid"] is True
    bad = scripted("--json", "verify", ANVIL0, "gm walletim!", doc["signature"])
    assert bad.code == 1 and bad.json()["valid"] is False
    other = scripted(
        "verify", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "gm walletim", doc["signature"]
    )
    assert other.code == 1 and "INVALID" in other.out
    # ADDRESS may be an account of the home (or a contact), as anywhere an address is asked.
    mine = scripted("--json", "verify", "dev", "gm walletim", doc["signature"])
    assert mine.code == 0 and mine.json() == {"address": ANVIL0, "valid": True, "recovered": ANVIL0}
    assert scripted("verify", "dev:1", "gm walletim", doc["signature"]).code == 1


def test_sign_hex_message(scripted: Cli) -> None:
    _setup(scripted)
    out = scripted("--json", "sign", "message", "--from", "dev:0", "--hex", "0xdeadbeef")
    expected = Account.sign_message(encode_defunct(primitive=bytes.fromhex("deadbeef")), ANVIL0_KEY)
    assert out.json()["signature"].removeprefix("0x") == expected.signature.hex().removeprefix("0x")
    assert scripted("verify", "--hex", ANVIL0, "deadbeef", out.json()["signature"]).code == 0
    # Without --hex the same words were checked as text and read INVALID, with nothing
    # saying why (cast and MetaMask sign a 0x message as its bytes); signing one as text
    # said nothing either. Both now say how it was taken, on stderr (--json unchanged).
    text = scripted("verify", ANVIL0, "0xdeadbeef", out.json()["signature"])
    assert text.code == 1 and "looks like hex; it was checked as text" in text.err
    as_text = scripted("--json", "sign", "message", "--from", "dev", "0xdeadbeef")
    assert as_text.code == 0 and "looks like hex; it was signed as text" in as_text.err
    plain = Account.sign_message(encode_defunct(text="0xdeadbeef"), ANVIL0_KEY).signature.hex()
    assert as_text.json()["signature"].removeprefix("0x") == plain.removeprefix("0x")
    assert "looks like hex" not in scripted("sign", "message", "--from", "dev", "0xdead beef").err
    # cast signs "0X..." as text, as walletim does: no note (it said they took
    # its bytes); cast signs "0x" alone as the empty message: noted (it said nothing).
    assert "looks like hex" not in scripted("sign", "message", "--from", "dev", "0XDEADBEEF").err
    assert "looks like hex" in scripted("sign", "message", "--from", "dev", "0x").err
    # Hex with white space inside is two texts for one value (ARCHITECTURE: hex_bytes), as
    # is a signature with a space in it: each is refused in one line, nothing signed.
    spaced = scripted("sign", "message", "--from", "dev", "--hex", "0xdead beef")
    assert spaced.code == 1 and spaced.err_lines == [
        "error: the message is not valid hex (an even number of hex digits)"
    ]
    sig = out.json()["signature"]
    split = scripted("verify", "--hex", ANVIL0, "deadbeef", f"{sig[:20]} {sig[20:]}")
    assert split.code == 1 and "the signature is not hex" in split.err


def test_sign_typed_data(scripted: Cli, tmp_path: Path) -> None:
    _setup(scripted)
    f = tmp_path / "mail.json"
    f.write_text(json.dumps(MAIL))
    # The EIP-712 "Mail" vector is for chain 1: on this home's network (anvil, 31337) it is
    # refused unless chain 1 is allowed by name (issue 13 made this explicit).
    refused = scripted("--json", "--yes", "sign", "typed-data", "--from", "dev", str(f))
    assert refused.code == 1 and "TypedDataChainRefused" in refused.err
    allow = ("--allow-chain", "1")
    unconfirmed = scripted("sign", "typed-data", "--from", "dev", *allow, str(f))
    assert unconfirmed.code == 1  # no terminal to confirm, no --yes
    out = scripted("--json", "--yes", "sign", "typed-data", "--from", "dev", *allow, str(f))
    assert out.code == 0, out.err
    assert out.json()["domain"]["chain_id"] == 1 and out.json()["domain"]["this_network"] is False
    doc = out.json()
    expected = Account.sign_message(encode_typed_data(full_message=MAIL), ANVIL0_KEY)
    assert doc["signature"].removeprefix("0x") == expected.signature.hex().removeprefix("0x")
    assert doc["digest"] == "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
    ok = scripted("--json", "verify", "--typed-data", str(f), ANVIL0, "-", doc["signature"])
    assert ok.code == 0 and ok.json()["valid"]


def test_typed_data_of_the_domain_alone_signs_and_verifies_as_cast(
    scripted: Cli, tmp_path: Path
) -> None:
    """primaryType EIP712Domain was refused ("typed data does not encode: Unable to determine
    primary type"); `cast wallet sign --data` and MetaMask sign the domain separator alone.
    It is signed so, saying that no message is part of it, and verifies."""
    _setup(scripted)
    f = tmp_path / "domain.json"
    domain_type = [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}]
    domain = {"name": "X", "chainId": 31337}
    doc = {"types": {"EIP712Domain": domain_type}, "primaryType": "EIP712Domain"}
    f.write_text(json.dumps({**doc, "domain": domain, "message": domain}))
    out = scripted("--yes", "sign", "typed-data", "--from", "dev", str(f))
    assert out.code == 0, out.err
    cast = (  # cast wallet sign --data --from-file domain.json (Anvil's account 0)
        "0x80062371eabc882d9144d5ab78c95222e04f5ee8272baf67fa37a3b561b77a15"
        "35ae0482dda49523a2c5048e6fba8ecd8df955c3693b2fc56c5afcade13fb4d11b"
    )
    assert out.out.strip() == cast
    assert "no message is part of the signature" in out.err
    ok = scripted("--json", "verify", "--typed-data", str(f), ANVIL0, "-", cast)
    assert ok.code == 0 and ok.json()["valid"]


def test_bad_sign_inputs(scripted: Cli, tmp_path: Path) -> None:
    _setup(scripted)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{nope")
    incomplete = tmp_path / "incomplete.json"
    incomplete.write_text(json.dumps({"types": {}, "message": {}}))
    cases = [
        ("--yes", "sign", "typed-data", "--from", "dev", str(bad_json)),
        ("--yes", "sign", "typed-data", "--from", "dev", str(incomplete)),
        ("--yes", "sign", "typed-data", "--from", "dev", str(tmp_path / "missing.json")),
        ("sign", "message", "--from", "ghost", "x"),
        ("sign", "message", "--from", "dev:abc", "x"),
        ("sign", "message", "--from", "dev", "--hex", "0xzz"),
        ("verify", "0x1234", "x", "0x" + "00" * 65),
        ("verify", ANVIL0, "x", "0x1234"),
        ("verify", ANVIL0, "x", "0x" + "00" * 65),
        ("verify", "ghost", "x", "0x" + "00" * 65),
    ]
    for args in cases:
        out = scripted(*args)
        assert out.code == 1, (args, out.err)
        assert len(out.err_lines) == 1 and out.err.startswith("error:"), (args, out.err)
    usage = scripted("sign", "message", "x")
    assert usage.code == 2


def test_secrets_pasted_into_the_wrong_field_are_not_echoed(scripted: Cli) -> None:
    _setup(scripted)
    key = "0x" + "5c" * 32
    for args in (
        ["verify", key, "x", "0x" + "00" * 65],
        ["--yes", "send", "--from", "dev", key, "1"],
        ["--yes", "send", "--from", "dev", "dev:1", ANVIL_MNEMONIC],
        ["wallet", "addresses", key],
        ["wallet", "addresses", key[2:]],  # as MetaMask exports a key: no 0x
        ["--yes", "send", "--from", "dev", key[2:], "1"],
        ["--yes", "send", "--from", key[2:], "dev:1", "1"],
        ["sign", "message", "--from", key[2:], "x"],
        ["balance", key[2:]],
        ["sign", "message", "--from", ANVIL_MNEMONIC, "x"],
    ):
        out = scripted(*args)
        assert out.code in (1, 2), (args, out.err)
        assert "5c5c5c5c" not in out.err and "test test test" not in out.err, out.err


def _typed(**changes: object) -> dict[str, object]:
    """A document of every kind of field, for this network (chain 31337); ``changes``
    replace message fields (None: the field is left out)."""
    message: dict[str, object] = {
        "flag": True,
        "data": "0xabcd",
        "nums": [1, "0x2"],
        "who": {"name": "a", "wallet": ANVIL0},
        "note": "hi",
        "tag": "0x0102",
    }
    message.update(changes)
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            "Mail": [
                {"name": "flag", "type": "bool"},
                {"name": "data", "type": "bytes"},
                {"name": "nums", "type": "uint256[2]"},
                {"name": "who", "type": "Person"},
                {"name": "note", "type": "string"},
                {"name": "tag", "type": "bytes4"},
            ],
            "Person": [
                {"name": "name", "type": "string"},
                {"name": "wallet", "type": "address"},
            ],
        },
        "primaryType": "Mail",
        "domain": {"name": "x", "chainId": 31337},
        "message": {k: v for k, v in message.items() if v is not None},
    }


PAST = "is out of its range (0 to 2**256-1)"
NOT_ADDRESS = "message.who.wallet (address) is not an address (0x and 40 hex digits)"


def test_typed_data_that_does_not_say_what_is_signed_is_refused_as_cast_does(
    scripted: Cli, tmp_path: Path, cast: str
) -> None:
    """eth-account signs each of these (an array of another length hashed as given, a missing
    field as zero, 1 as true, "0xabc" as 0x0abc): what a reader of the file sees is not what
    would be signed. walletim refuses each in one line before anything is signed (and
    `verify` says the same), as cast does; a good document is signed as cast signs it."""
    import subprocess

    _setup(scripted)

    def both(name: str, doc: dict[str, object]) -> tuple[subprocess.CompletedProcess[str], Any]:
        f = tmp_path / f"{name}.json"
        f.write_text(json.dumps(doc))
        theirs = subprocess.run(
            [cast, "wallet", "sign", "--data", "--from-file", str(f), "--private-key", ANVIL0_KEY],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        return theirs, scripted("--json", "--yes", "sign", "typed-data", "--from", "dev", str(f))

    theirs, ours = both("good", _typed())
    assert theirs.returncode == 0 and ours.code == 0, (theirs.stderr, ours.err)
    assert ours.json()["signature"] == theirs.stdout.strip()
    no_who = _typed(who=None)
    null_note = _typed()
    null_note["message"]["note"] = None  # type: ignore[index]
    no_name = _typed()
    no_name["types"]["Person"][0] = {"type": "string"}  # type: ignore[index]
    fields_by_name = _typed()
    fields_by_name["types"]["Person"] = {"name": "string", "wallet": "address"}  # type: ignore[index]
    cases = {
        "a field without a name": (no_name, 'types.Person[0] is not a field {"name": ..., "type"'),
        "fields as an object": (fields_by_name, "types.Person is not a list of fields"),
        "three values": (_typed(nums=[1, 2, 3]), "message.nums (uint256[2]) has 3 values, not 2"),
        "one value": (_typed(nums=[1]), "message.nums (uint256[2]) has 1 value, not 2"),
        "missing field": (_typed(note=None), "message.note (string) is missing"),
        "null field": (null_note, "message.note (string) is null"),
        "missing struct": (no_who, "message.who (Person) is missing"),
        "missing inner": (_typed(who={"name": "a"}), "message.who.wallet (address) is missing"),
        "1 for a bool": (_typed(flag=1), "message.flag (bool) is not true or false"),
        "odd hex": (_typed(data="0xabc"), "message.data (bytes) is not 0x-hex of whole bytes"),
        "odd hex bytes4": (_typed(tag="0x010"), "message.tag (bytes4) is not 0x-hex"),
        "a number for a string": (_typed(note=5), "message.note (string) is not a string"),
        "spaces in an integer": (_typed(nums=[" 1", 2]), "message.nums[0] (uint256) is not an"),
        "past uint256": (_typed(nums=[1, str(2**256)]), f"message.nums[1] (uint256) {PAST}"),
        "hex past uint256": (_typed(nums=[hex(2**256), 1]), f"message.nums[0] (uint256) {PAST}"),
        "5000 digits": (_typed(nums=["9" * 5000, 1]), f"message.nums[0] (uint256) {PAST}"),
        "short address": (_typed(who={"name": "a", "wallet": "0xdeadbeef"}), NOT_ADDRESS),
        "ENS name": (_typed(who={"name": "a", "wallet": "vitalik.eth"}), NOT_ADDRESS),
    }
    for name, (doc, said) in cases.items():
        theirs, ours = both(name.replace(" ", "-"), doc)
        assert theirs.returncode != 0, (name, theirs.stdout)
        assert ours.code == 1, (name, ours.out, ours.err)
        error = json.loads(ours.err)["error"]
        assert error["message"].startswith(f"typed data refused: {said}"), (name, ours.err)
        assert error["type"] == "InputError" and ours.out == ""
        f = tmp_path / f"{name.replace(' ', '-')}.json"
        verify = scripted("verify", "--typed-data", str(f), ANVIL0, "-", "0x" + "11" * 65)
        assert verify.code == 1 and len(verify.err_lines) == 1, (name, verify.err)
        assert verify.err.startswith(f"error: typed data refused: {said}"), (name, verify.err)


def test_a_bytes_n_value_longer_than_n_is_refused_in_the_types_words(
    scripted: Cli, tmp_path: Path
) -> None:
    """A bytes4 of five bytes was "typed data does not encode: Value `b'...'` of type <class
    'bytes'> cannot be encoded by BytesEncoder" (cast signs it as its first four bytes: not
    what the file says). It is refused naming the field and the sizes, by sign and verify."""
    _setup(scripted)
    f = tmp_path / "long.json"
    f.write_text(json.dumps(_typed(tag="0x0102030405")))
    said = "typed data refused: message.tag (bytes4) has 5 bytes, more than 4"
    ours = scripted("--yes", "sign", "typed-data", "--from", "dev", str(f))
    assert ours.code == 1 and ours.err_lines == [f"error: {said}"], ours.err
    verify = scripted("verify", "--typed-data", str(f), ANVIL0, "-", "0x" + "11" * 65)
    assert verify.code == 1 and verify.err_lines == [f"error: {said}"], verify.err
    f.write_text(json.dumps(_typed(tag="0x01020304")))  # exactly four: signed
    assert scripted("--yes", "sign", "typed-data", "--from", "dev", str(f)).code == 0


def test_a_high_s_signature_verifies_as_with_ecrecover_and_cast_with_a_note(
    scripted: Cli,
) -> None:
    """verify refused a high-s signature ("error: signature has a high s value"), where cast
    and the ecrecover precompile say it was made by the address (it was: the other s of the
    same signature). It is valid now, with a note on stderr naming its low-s form, the one
    OpenZeppelin's ECDSA takes; --json keeps its three fields."""
    from walletim.keys.hd import SECP256K1_N

    low = Account.sign_message(encode_defunct(text="红包 🎉"), ANVIL0_KEY).signature
    s = int.from_bytes(low[32:64], "big")
    for v in (low[64], low[64] - 27):  # 27/28 and 0/1 alike
        high = (
            low[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([(v ^ 1) if v < 2 else 55 - v])
        )
        out = scripted("--json", "verify", ANVIL0, "红包 🎉", "0x" + high.hex())
        assert out.code == 0, out.err
        assert out.json() == {"address": ANVIL0, "valid": True, "recovered": ANVIL0}
        assert "high s" in out.err and f"low-s form 0x{low[:64].hex()}" in out.err
        other = scripted("verify", ANVIL0, "红包", "0x" + high.hex())
        assert other.code == 1 and "INVALID" in other.out
    plain = scripted("verify", ANVIL0, "红包 🎉", "0x" + low.hex())
    assert plain.code == 0 and "high s" not in plain.err
