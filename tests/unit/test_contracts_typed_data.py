"""walletim.contracts.typed_data: EIP-2612, DAI and Permit2 payloads (built by hand as dapps
send them, and checked to be signable EIP-712) said plainly; values read as eth-account
signs them; anything else is None."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.contracts.describe import TokenMeta
from walletim.contracts.typed_data import (
    MAX_UINT160,
    PERMIT2_ADDRESS,
    TypedDataDescription,
    _bool,
    _Malformed,
    _uint,
    describe_typed_data,
)
from walletim.errors import InputError
from walletim.keys.signing import typed_data_digest

USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
DAI = "0x6B175474E89094C44Da98b954EedeAC495271d0F"
WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
OWNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
SPENDER = "0x3fC91A3afd70395Cd496C647d5a6CC9D4B2b7FAD"  # Uniswap's Universal Router
NOW = 1_795_000_000  # 2026-11-18 11:06:40 UTC
DAY = 86_400
TOKENS = {USDC: TokenMeta("USDC", 6), DAI: TokenMeta("DAI", 18), WETH: TokenMeta("WETH", 18)}

DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
PERMIT2_DOMAIN_TYPE = [DOMAIN_TYPE[0], DOMAIN_TYPE[2], DOMAIN_TYPE[3]]
PERMIT2_DOMAIN = {"name": "Permit2", "chainId": 1, "verifyingContract": PERMIT2_ADDRESS}


def _fresh(build: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Each payload its own deep copy: tests (and the fuzzers) change them in place."""

    @functools.wraps(build)
    def fresh(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return copy.deepcopy(build(*args, **kwargs))

    return fresh


def fields(*pairs: str) -> list[dict[str, str]]:
    return [{"name": n, "type": t} for n, t in (p.split(":") for p in pairs)]


@_fresh
def eip2612(value: Any, deadline: Any) -> dict[str, Any]:
    return {
        "types": {
            "EIP712Domain": DOMAIN_TYPE,
            "Permit": fields(
                "owner:address",
                "spender:address",
                "value:uint256",
                "nonce:uint256",
                "deadline:uint256",
            ),
        },
        "primaryType": "Permit",
        "domain": {"name": "USD Coin", "version": "2", "chainId": 1, "verifyingContract": USDC},
        "message": {
            "owner": OWNER,
            "spender": SPENDER,
            "value": value,
            "nonce": 0,
            "deadline": deadline,
        },
    }


@_fresh
def dai(allowed: Any, expiry: int) -> dict[str, Any]:
    return {
        "types": {
            "EIP712Domain": DOMAIN_TYPE,
            "Permit": fields(
                "holder:address",
                "spender:address",
                "nonce:uint256",
                "expiry:uint256",
                "allowed:bool",
            ),
        },
        "primaryType": "Permit",
        "domain": {
            "name": "Dai Stablecoin",
            "version": "1",
            "chainId": 1,
            "verifyingContract": DAI,
        },
        "message": {
            "holder": OWNER,
            "spender": SPENDER,
            "nonce": 3,
            "expiry": expiry,
            "allowed": allowed,
        },
    }


DETAILS = fields("token:address", "amount:uint160", "expiration:uint48", "nonce:uint48")


@_fresh
def permit_batch(entries: list[tuple[str, int, int]], sig_deadline: int) -> dict[str, Any]:
    return {
        "types": {
            "EIP712Domain": PERMIT2_DOMAIN_TYPE,
            "PermitBatch": fields(
                "details:PermitDetails[]", "spender:address", "sigDeadline:uint256"
            ),
            "PermitDetails": DETAILS,
        },
        "primaryType": "PermitBatch",
        "domain": dict(PERMIT2_DOMAIN),
        "message": {
            "details": [
                {"token": t, "amount": str(a), "expiration": str(e), "nonce": "0"}
                for t, a, e in entries
            ],
            "spender": SPENDER,
            "sigDeadline": str(sig_deadline),
        },
    }


@_fresh
def permit_single(amount: int, expiration: int, sig_deadline: int) -> dict[str, Any]:
    """As the Uniswap app asks for it: amounts as decimal strings."""
    doc = permit_batch([(USDC, amount, expiration)], sig_deadline)
    doc["types"]["PermitSingle"] = fields(
        "details:PermitDetails", "spender:address", "sigDeadline:uint256"
    )
    del doc["types"]["PermitBatch"]
    doc["primaryType"] = "PermitSingle"
    doc["message"]["details"] = doc["message"]["details"][0]
    return doc


@_fresh
def transfer_from(
    entries: list[tuple[str, int]], deadline: int, *, witness: bool = False
) -> dict[str, Any]:
    batch = len(entries) > 1
    name = "Permit" + ("Batch" if batch else "") + ("Witness" if witness else "") + "TransferFrom"
    types = fields(
        "permitted:TokenPermissions" + ("[]" if batch else ""),
        "spender:address",
        "nonce:uint256",
        "deadline:uint256",
    )
    permitted: Any = [{"token": t, "amount": str(a)} for t, a in entries]
    doc: dict[str, Any] = {
        "types": {
            "EIP712Domain": PERMIT2_DOMAIN_TYPE,
            name: types,
            "TokenPermissions": fields("token:address", "amount:uint256"),
        },
        "primaryType": name,
        "domain": dict(PERMIT2_DOMAIN),
        "message": {
            "permitted": permitted if batch else permitted[0],
            "spender": SPENDER,
            "nonce": "7",
            "deadline": str(deadline),
        },
    }
    if witness:  # UniswapX: the order is the witness
        types.append({"name": "witness", "type": "ExclusiveDutchOrder"})
        doc["types"]["ExclusiveDutchOrder"] = fields("swapper:address", "inputAmount:uint256")
        doc["message"]["witness"] = {"swapper": OWNER, "inputAmount": "1"}
    return doc


def described(doc: dict[str, Any], now: int | None = NOW) -> TypedDataDescription:
    typed_data_digest(doc)  # every payload here is valid EIP-712 that eth-account signs
    d = describe_typed_data(doc, token=TOKENS.get, now=now)
    assert d is not None
    return d


# -- EIP-2612 --------------------------------------------------------------------------------------


def test_eip2612_unlimited_permit() -> None:
    d = described(eip2612(str(2**256 - 1), NOW + 600))
    assert d.kind == "eip2612-permit" and d.flags == {"permit", "unlimited"}
    assert (d.owner, d.spender, d.chain_id, d.verifying_contract) == (OWNER, SPENDER, 1, USDC)
    assert [(g.token, g.amount, g.unlimited, g.text) for g in d.grants] == [
        (USDC, 2**256 - 1, True, "UNLIMITED USDC")
    ]
    assert d.expires is None and d.signature_deadline == NOW + 600
    assert d.lines == (
        f"EIP-2612 permit: {SPENDER} may spend UNLIMITED USDC of {OWNER}.",
        "The allowance it sets does not expire: it lasts until used up or revoked.",
        "Anyone holding this signature can submit it until 2026-11-18 11:16 UTC.",
    )
    assert d.summary == d.lines[0]


@_fresh
def eip3009(value: Any, before: Any, primary: str = "TransferWithAuthorization") -> dict[str, Any]:
    """USDC's transferWithAuthorization (EIP-3009), as a dapp asks for it."""
    return {
        "types": {
            "EIP712Domain": DOMAIN_TYPE,
            primary: fields(
                "from:address", "to:address", "value:uint256", "validAfter:uint256",
                "validBefore:uint256", "nonce:bytes32",
            ),
        },
        "primaryType": primary,
        "domain": {"name": "USD Coin", "version": "2", "chainId": 1, "verifyingContract": USDC},
        "message": {
            "from": OWNER, "to": SPENDER, "value": value, "validAfter": 0,
            "validBefore": before, "nonce": "0x" + "11" * 32,
        },
    }  # fmt: skip


def test_eip3009_transfer_authorization_is_a_transfer_of_its_value() -> None:
    d = described(eip3009(5_000 * 10**6, NOW + 3600))
    assert d.kind == "eip3009-transfer" and d.flags == {"permit", "transfer"}
    assert (d.owner, d.spender, d.verifying_contract) == (OWNER, SPENDER, USDC)
    assert [(g.token, g.amount, g.text) for g in d.grants] == [(USDC, 5_000 * 10**6, "5000 USDC")]
    assert d.lines[0] == (
        f"EIP-3009 transfer authorization: SENDS 5000 USDC from {OWNER} to {SPENDER} (no "
        "allowance: the tokens move as soon as it is submitted)."
    )
    assert d.lines[1] == "It can be submitted by anyone holding it, until 2026-11-18 12:06 UTC."
    receive = described(eip3009(1, NOW + 3600, "ReceiveWithAuthorization"))
    assert receive.lines[1].startswith(f"It can be submitted by only {SPENDER}")
    odd = eip3009(1, NOW)
    odd["types"]["TransferWithAuthorization"][5]["type"] = "uint256"  # not the standard's types
    assert "nonstandard-types" in described(odd).flags


def test_eip2612_exact_expired_and_never() -> None:
    exact = described(eip2612("0x2faf080", NOW - 1))  # hex strings are numbers too
    assert exact.grants[0].text == "50 USDC" and exact.flags == {"permit", "expired"}
    assert exact.lines[2].endswith("(already expired).")
    never = described(eip2612(1, 2**256 - 1))
    assert never.flags == {"permit", "long-lived"}
    assert never.lines[2] == (
        "Anyone holding this signature can submit it at any time (it never expires)."
    )
    month = described(eip2612(1, NOW + 31 * DAY))
    assert "long-lived" in month.flags
    assert "long-lived" not in described(eip2612(1, NOW + 31 * DAY), now=None).flags
    unknown_token = describe_typed_data(eip2612(7, NOW))
    assert unknown_token is not None and unknown_token.grants[0].text == f"7 base units of {USDC}"


# -- DAI -------------------------------------------------------------------------------------------


def test_dai_permit_allows_everything_or_revokes() -> None:
    d = described(dai(True, 0))
    assert d.kind == "dai-permit" and d.flags == {"permit", "unlimited", "long-lived"}
    assert d.grants[0].amount is None and d.grants[0].text == "UNLIMITED DAI"
    assert d.lines[2] == "The signature can be submitted at any time (it never expires)."
    revoke = described(dai(False, NOW + 60))
    assert revoke.flags == {"permit", "revoke"} and "REVOKES" in revoke.summary
    assert revoke.grants == ()


@pytest.mark.parametrize(
    ("allowed", "revokes"),
    [(False, True), ("false", True), ("False", True), ("0", True), (0, True), ("", True),
     (True, False), ("true", False), ("FALSE", False), ("no", False), (1, False)],
)  # fmt: skip
def test_dai_allowed_is_read_as_eth_account_signs_it(allowed: Any, revokes: bool) -> None:
    """eth-account encodes any truthy value except "False"/"false"/"0" as true: a payload
    saying "FALSE" grants an unlimited allowance, and must be described so. Only JSON
    true/false and "true"/"false" (as cast reads them) are signed at all: the rest is
    refused before anything is hashed."""
    from eth_account._utils.encode_typed_data.encoding_and_hashing import encode_field

    assert encode_field({}, "allowed", "bool", allowed) == ("bool", not revokes)
    doc = dai(allowed, NOW + 60)
    if isinstance(allowed, bool) or allowed in ("true", "false"):
        d = described(doc)
    else:
        with pytest.raises(InputError, match=r"typed data refused: message\.allowed \(bool\)"):
            typed_data_digest(doc)
        d = describe_typed_data(doc, token=TOKENS.get, now=NOW)
        assert d is not None
    assert ("revoke" in d.flags) == revokes and ("unlimited" in d.flags) == (not revokes)


# -- Permit2 ---------------------------------------------------------------------------------------


def test_permit2_single_unlimited_and_long_lived() -> None:
    d = described(permit_single(MAX_UINT160, NOW + 90 * DAY, NOW + 1800))
    assert d.kind == "permit2-allowance"
    assert d.flags == {"permit", "permit2", "unlimited", "long-lived"}
    assert d.spender == SPENDER and d.owner is None and d.verifying_contract == PERMIT2_ADDRESS
    assert d.expires == NOW + 90 * DAY and d.signature_deadline == NOW + 1800
    assert d.summary == (
        f"Permit2 allowance: {SPENDER} may spend, through Permit2, UNLIMITED USDC until "
        "2027-02-16 11:06 UTC."
    )


def test_permit2_single_exact_short_and_same_block() -> None:
    d = described(permit_single(100 * 10**6, NOW + 3600, NOW + 1800))
    assert d.flags == {"permit", "permit2"} and d.grants[0].text == "100 USDC"
    assert d.grants[0].expires == NOW + 3600
    zero = described(permit_single(5, 0, NOW + 1800))
    assert "only in the block it is used in" in zero.summary


def test_permit2_batch_says_each_token() -> None:
    d = described(
        permit_batch([(USDC, 10**6, NOW + 3600), (DAI, MAX_UINT160, 2**48 - 1)], NOW + 1800)
    )
    assert d.flags == {"permit", "permit2", "unlimited", "long-lived"}
    assert d.summary == (
        f"Permit2 allowance: {SPENDER} may spend, through Permit2, 1 USDC until 2026-11-18 "
        "12:06 UTC and UNLIMITED DAI forever (it never expires)."
    )
    assert [g.unlimited for g in d.grants] == [False, True]


def test_permit2_signature_transfers() -> None:
    one = described(transfer_from([(WETH, 10**18)], NOW + 600))
    assert one.kind == "permit2-transfer" and one.flags == {"permit", "permit2"}
    assert one.summary == f"Permit2 transfer: {SPENDER} may take up to 1 WETH from you, once."
    assert one.expires == one.signature_deadline == NOW + 600
    batch = described(transfer_from([(USDC, 5), (WETH, 2**256 - 1)], NOW - 5))
    assert batch.flags == {"permit", "permit2", "unlimited", "expired"}
    assert "0.000005 USDC, UNLIMITED WETH" in batch.summary
    witness = described(transfer_from([(WETH, 10**18)], NOW + 600, witness=True))
    assert witness.kind == "permit2-transfer" and "nonstandard-types" not in witness.flags
    assert "witness" in witness.lines[-1]
    batch_witness = described(transfer_from([(USDC, 1), (DAI, 2)], NOW + 600, witness=True))
    assert batch_witness.kind == "permit2-transfer" and len(batch_witness.grants) == 2


def test_permit2_at_another_address_and_unknown_kinds() -> None:
    doc = permit_single(1, NOW + 60, NOW + 60)
    doc["domain"]["verifyingContract"] = USDC
    d = described(doc)
    assert "noncanonical-permit2" in d.flags and "not the canonical Permit2" in d.lines[-1]
    other = permit_single(1, NOW + 60, NOW + 60)
    other["types"]["PermitFuture"] = other["types"].pop("PermitSingle")
    other["primaryType"] = "PermitFuture"
    u = described(other)
    assert u.kind == "permit2-unknown" and u.flags == {"permit", "permit2"}


# -- the types must be the standard ones -----------------------------------------------------------


def test_nonstandard_types_are_flagged() -> None:
    doc = eip2612(5, NOW + 60)
    doc["types"]["Permit"][2]["type"] = "uint128"
    d = described(doc)
    assert "nonstandard-types" in d.flags and "not the standard one" in d.lines[-1]
    doc = permit_single(5, NOW + 60, NOW + 60)
    doc["types"]["PermitDetails"] = [
        *doc["types"]["PermitDetails"][:3],
        {"name": "nonce", "type": "uint256"},
    ]
    assert "nonstandard-types" in described(doc).flags
    bare = copy.deepcopy(eip2612(5, NOW + 60))
    del bare["types"]
    d = describe_typed_data(bare)
    assert d is not None and "nonstandard-types" in d.flags


def test_other_permits_and_plain_typed_data() -> None:
    nft_permit = {  # EIP-4494: a signature that approves an NFT
        "types": {
            "EIP712Domain": DOMAIN_TYPE,
            "Permit": fields(
                "spender:address", "tokenId:uint256", "nonce:uint256", "deadline:uint256"
            ),
        },
        "primaryType": "Permit",
        "domain": {"name": "Apes", "version": "1", "chainId": 1, "verifyingContract": WETH},
        "message": {"spender": SPENDER, "tokenId": 7, "nonce": 0, "deadline": NOW},
    }
    d = described(nft_permit)
    assert d.kind == "unknown-permit" and d.flags == {"permit"} and "may grant" in d.summary
    mail = {
        "types": {"EIP712Domain": DOMAIN_TYPE[:1], "Mail": fields("contents:string")},
        "primaryType": "Mail",
        "domain": {"name": "Ether Mail"},
        "message": {"contents": "hi"},
    }
    assert describe_typed_data(mail) is None
    for junk in (None, [], "Permit", {"primaryType": 5}, {"primaryType": "Permit", "domain": 1}):
        assert describe_typed_data(junk) is None


# -- malformed -------------------------------------------------------------------------------------


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    target = doc
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "path", "value"),
    [
        (eip2612(1, NOW), "message.value", -5),
        (eip2612(1, NOW), "message.value", 1.5),
        (eip2612(1, NOW), "message.value", "1e18"),
        (eip2612(1, NOW), "message.value", True),
        (eip2612(1, NOW), "message.value", str(2**256)),
        (eip2612(1, NOW), "message.spender", "0x1234"),
        (eip2612(1, NOW), "message.owner", None),
        (eip2612(1, NOW), "domain.verifyingContract", 5),
        (dai(True, 0), "message.allowed", {"x": 1}),
        (permit_single(1, 1, 1), "message.details.amount", str(2**160)),
        (permit_single(1, 1, 1), "message.details.expiration", str(2**48)),
        (permit_single(1, 1, 1), "message.details", "x"),
        (permit_single(1, 1, 1), "message.sigDeadline", None),
        (permit_batch([(USDC, 1, 1)], 1), "message.details", []),
        (permit_batch([(USDC, 1, 1)], 1), "message.details", [5]),
        (transfer_from([(USDC, 1)], 1), "message.permitted", []),
        (transfer_from([(USDC, 1)], 1), "message.permitted.token", "not an address"),
        (transfer_from([(USDC, 1)], 1), "message", "nope"),
        (transfer_from([(USDC, 1)], 1), "domain.verifyingContract", []),
    ],
)
def test_malformed_payloads_are_described_as_malformed(
    doc: dict[str, Any], path: str, value: Any
) -> None:
    d = describe_typed_data(_set(doc, path, value), token=TOKENS.get, now=NOW)
    assert d is not None and "malformed" in d.flags and "MALFORMED" in d.summary
    assert d.kind in ("permit-malformed", "permit2-malformed")


# -- values are read as eth-account encodes them ---------------------------------------------------


def _signed_uint(value: Any, bits: int) -> int | None:
    """What eth-account would sign for a uintN field: the int, or None if it refuses."""
    from eth_abi import is_encodable
    from eth_account._utils.encode_typed_data.encoding_and_hashing import encode_field

    try:
        _, encoded = encode_field({}, "x", f"uint{bits}", value)
    except Exception:
        return None
    return encoded if isinstance(encoded, int) and is_encodable(f"uint{bits}", encoded) else None  # type: ignore[return-value]


_UINT_INPUTS = (
    st.integers(-(2**260), 2**260)
    | st.integers(0, 2**64).map(str)
    | st.integers(0, 2**170).map(hex)
    | st.sampled_from(
        [" 5", "5 ", "+5", "1_000", "0x", "0X10", "0x-1", "-0", "1e3", "", "٣", True, False, None]
    )
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
)


@settings(max_examples=400, deadline=None)
@given(_UINT_INPUTS, st.sampled_from([48, 160, 256]))
def test_uint_fields_read_like_eth_account(value: Any, bits: int) -> None:
    expected = _signed_uint(value, bits)
    try:
        ours: int | None = _uint(value, bits)
    except _Malformed:
        ours = None
    assert ours == expected


@settings(max_examples=300, deadline=None)
@given(
    st.integers(-(2**70), 2**70) | st.integers(0, 2**70).map(hex) | st.integers().map(str),
    st.sampled_from(["uint8", "int8", "uint64", "int64", "int16"]),
)
def test_integers_past_their_type_are_refused_in_its_words(value: Any, kind: str) -> None:
    """An integer its type cannot hold is refused naming the field and the type's range
    (cast refuses it too), never with eth-account's words (its Python classes)."""
    from hypothesis import assume

    from walletim.keys.signing import typed_data_digest

    assume(not (kind[0] == "u" and str(value)[0] == "-" and isinstance(value, str)))  # no integer
    bits = int(kind.removeprefix("u").removeprefix("int"))
    low, high = (0, 2**bits - 1) if kind[0] == "u" else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    number = int(value, 16) if isinstance(value, str) and value[:2] == "0x" else int(value)
    doc = {
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}],
                  "M": [{"name": "n", "type": kind}]},
        "primaryType": "M",
        "domain": {"name": "x"},
        "message": {"n": value},
    }  # fmt: skip
    if low <= number <= high:
        assert len(typed_data_digest(doc)) == 32
        return
    with pytest.raises(InputError) as caught:
        typed_data_digest(doc)
    assert (
        str(caught.value)
        == f"typed data refused: message.n ({kind}) is out of its range ({low} to {high})"
    )


@settings(max_examples=200, deadline=None)
@given(
    st.none()
    | st.booleans()
    | st.integers(-2, 2)
    | st.text(max_size=6)
    | st.sampled_from(["false", "False", "0", "FALSE"])
)
def test_bool_fields_read_like_eth_account(value: Any) -> None:
    from eth_account._utils.encode_typed_data.encoding_and_hashing import encode_field

    try:
        expected: bool | None = bool(encode_field({}, "x", "bool", value)[1])
    except ValueError:
        expected = None
    try:
        ours: bool | None = _bool(value)
    except _Malformed:
        ours = None
    assert ours == expected


# -- the domain: where a signature is valid (issue 13) ---------------------------------------------


def _with_domain(**domain: Any) -> dict[str, Any]:
    doc = eip2612(5_000_000_000, NOW + DAY)
    doc["domain"] = domain
    order = ["name", "version", "chainId", "verifyingContract", "salt"]
    types = {"name": "string", "version": "string", "chainId": "uint256"}
    types |= {"verifyingContract": "address", "salt": "bytes32"}
    doc["types"]["EIP712Domain"] = [{"name": k, "type": types[k]} for k in order if k in domain]
    return doc


@settings(max_examples=200, deadline=None)
@given(
    chain=st.integers(0, 2**256 - 1),
    form=st.sampled_from(["int", "hex", "HEX0", "dec", "padded"]),
)
def test_the_domain_chain_is_read_as_the_signer_hashes_it(chain: int, form: str) -> None:
    """Whatever way the chain id is written, typed_domain reads the value that is signed:
    the digest of the document equals the digest of the same document with that int."""
    from walletim.contracts.typed_data import typed_domain

    written: Any = {
        "int": chain,
        "hex": hex(chain),
        "HEX0": "0x" + format(chain, "064x"),
        "dec": str(chain),
        "padded": str(chain).rjust(5, "0") if chain else "0",
    }[form]
    doc = _with_domain(name="USD Coin", version="2", chainId=written, verifyingContract=USDC)
    try:
        digest = typed_data_digest(doc)
    except Exception:
        return  # the signer refuses it: nothing to describe
    domain = typed_domain(doc)
    assert domain.chain_id == chain
    assert digest == typed_data_digest(
        _with_domain(name="USD Coin", version="2", chainId=chain, verifyingContract=USDC)
    )


def test_the_domain_is_described_with_its_chain_and_contract() -> None:
    from walletim.contracts.typed_data import describe_domain, typed_domain

    mainnet = typed_domain(
        _with_domain(name="USD Coin", version="2", chainId=1, verifyingContract=USDC.lower())
    )
    assert (mainnet.chain_id, mainnet.verifying_contract) == (1, USDC)
    lines = describe_domain(
        mainnet, home_chain=31337, network="anvil", contract_name=lambda a: "USDC (listed)"
    )
    assert lines[0] == "Valid on chain 1 (Ethereum mainnet): NOT this network (anvil, chain 31337)."
    assert lines[1] == f"For contract {USDC} (USDC (listed))."
    assert lines[2] == "Its domain (as the payload names itself): name 'USD Coin', version '2'."
    home = typed_domain(_with_domain(name="x", chainId=31337, verifyingContract=PERMIT2_ADDRESS))
    lines = describe_domain(home, home_chain=31337, network="anvil", contract_name=lambda a: 1 / 0)
    assert lines[0] == "Valid on chain 31337 (this network: anvil)."
    assert lines[1] == f"For contract {PERMIT2_ADDRESS} (Uniswap Permit2)."
    profile = typed_domain(_with_domain(chainId=8453))
    lines = describe_domain(profile, home_chain=1, network="mainnet", profiles={8453: "base"})
    assert lines[0].startswith("Valid on chain 8453 (Base; your network profile base): NOT")
    assert "binds no contract" in lines[1]
    unknown = describe_domain(
        typed_domain(_with_domain(chainId=77777777)), home_chain=1, network="m"
    )
    assert "chain 77777777 (unknown to walletim)" in unknown[0]
    anywhere = describe_domain(
        typed_domain(_with_domain(name="\u202eevil\nline")), home_chain=1, network="m"
    )
    assert anywhere[0].startswith("Valid on EVERY chain") and "\n" not in "".join(anywhere)
    assert "\u202e" not in "".join(anywhere)


def test_a_domain_for_another_chain_or_none_is_refused_unless_allowed() -> None:
    from walletim.contracts.typed_data import check_domain_chain, typed_domain
    from walletim.errors import TypedDataAnyChainRefused, TypedDataChainRefused

    mainnet = typed_domain(_with_domain(chainId="0x1", verifyingContract=USDC))
    with pytest.raises(TypedDataChainRefused, match=r"chain 1 \(Ethereum mainnet\)") as caught:
        check_domain_chain(mainnet, 31337, network="anvil")
    assert (caught.value.chain_id, caught.value.expected) == (1, 31337)
    assert "--allow-chain 1" in str(caught.value)
    with pytest.raises(TypedDataChainRefused):
        check_domain_chain(mainnet, 31337, allow_chains=[10, 31337], allow_any_chain=True)
    check_domain_chain(mainnet, 31337, allow_chains=[1])
    check_domain_chain(mainnet, 1)
    none = typed_domain(_with_domain(name="x", verifyingContract=USDC))
    with pytest.raises(TypedDataAnyChainRefused, match="EVERY chain"):
        check_domain_chain(none, 31337, allow_chains=[1, 31337])
    check_domain_chain(none, 31337, allow_any_chain=True)


@pytest.mark.parametrize(
    "domain",
    [{"chainId": None}, {"chainId": True}, {"chainId": -1}, {"chainId": "one"}, {"foo": 1},
     {"verifyingContract": "0x1234"}],
)  # fmt: skip
def test_a_domain_that_does_not_encode_is_an_input_error(domain: dict[str, Any]) -> None:
    from walletim.contracts.typed_data import typed_domain

    doc = eip2612(1, NOW)
    doc["domain"] = domain
    with pytest.raises(InputError):
        typed_domain(doc)


# -- calls carried inside typed data (issue 13) ----------------------------------------------------

EVIL = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
APPROVE_MAX = bytes.fromhex("095ea7b3") + bytes(12) + bytes.fromhex(EVIL[2:]) + b"\xff" * 32


def _carrying(primary: str, types: dict[str, list[dict[str, str]]], message: Any) -> Any:
    return {
        "types": {"EIP712Domain": DOMAIN_TYPE, **types},
        "primaryType": primary,
        "domain": {"name": "x", "version": "1", "chainId": 1, "verifyingContract": WETH},
        "message": message,
    }


def test_calls_carried_by_meta_transactions_user_ops_and_batches() -> None:
    from walletim.contracts.typed_data import carried_calls

    meta = _carrying(
        "MetaTransaction",
        {"MetaTransaction": fields("nonce:uint256", "from:address", "functionSignature:bytes")},
        {"nonce": 0, "from": OWNER, "functionSignature": "0x" + APPROVE_MAX.hex()},
    )
    [call] = carried_calls(meta)
    assert (call.target, call.executor, call.data) == (WETH, OWNER, APPROVE_MAX)
    d = described(meta)
    assert d is not None and d.kind == "carries-call"
    assert {"carries-call", "approval", "nested-approval", "unlimited"} <= d.flags
    assert f"approve {EVIL} to spend UNLIMITED WETH" in " ".join(d.lines)
    typed_data_digest(meta)  # it is signable as written
    user_op = _carrying(
        "PackedUserOperation",
        {"PackedUserOperation": fields("sender:address", "nonce:uint256", "initCode:bytes",
                                       "callData:bytes")},
        {"sender": SPENDER, "nonce": 1, "initCode": "0x", "callData": "0x" + APPROVE_MAX.hex()},
    )  # fmt: skip
    [op] = carried_calls(user_op)
    assert (op.target, op.executor) == (SPENDER, SPENDER)
    batch = _carrying(
        "Batch",
        {
            "Batch": fields("calls:Call[]", "nonce:uint256"),
            "Call": fields("to:address", "value:uint256", "data:bytes"),
        },
        {
            "calls": [
                {"to": USDC, "value": 0, "data": "0x"},
                {"to": DAI, "value": 5, "data": "0x" + APPROVE_MAX.hex()},
            ],
            "nonce": 0,
        },
    )
    calls = carried_calls(batch)
    assert [(c.where, c.target, c.value) for c in calls] == [
        ("Batch.calls[0]", USDC, 0),
        ("Batch.calls[1]", DAI, 5),
    ]
    d = described(batch)
    assert d is not None and "UNLIMITED DAI" in " ".join(d.lines)
    # A bytes field written as plain text is refused before signing ("0x12" would be hex or
    # text?); eth-account would sign its UTF-8 bytes, and it is described as such.
    text = _carrying(
        "Req", {"Req": fields("to:address", "data:bytes")}, {"to": USDC, "data": "hello"}
    )
    [as_text] = carried_calls(text)
    assert as_text.data == b"hello"
    with pytest.raises(InputError, match=r"message\.data \(bytes\) is not 0x-hex"):
        typed_data_digest(text)
    shown = describe_typed_data(text, token=TOKENS.get, now=NOW)
    assert shown is not None and "unknown-call" in shown.flags


def test_a_permit_that_also_carries_a_call_says_both() -> None:
    doc = eip2612(1, NOW + DAY)
    doc["types"]["Permit"].append({"name": "data", "type": "bytes"})
    doc["types"]["Permit"].append({"name": "to", "type": "address"})
    doc["message"].update(data="0x" + APPROVE_MAX.hex(), to=DAI)
    d = described(doc)
    assert d is not None and d.kind == "eip2612-permit" and "nonstandard-types" in d.flags
    assert {"carries-call", "nested-approval"} <= d.flags and len(d.calls) == 1


def test_carried_calls_are_bounded() -> None:
    from walletim.contracts.typed_data import MAX_TYPED_CALLS, carried_calls

    many = _carrying(
        "Batch",
        {"Batch": fields("calls:Call[]"), "Call": fields("to:address", "data:bytes")},
        {"calls": [{"to": USDC, "data": "0x" + APPROVE_MAX.hex()}] * 500},
    )
    assert len(carried_calls(many)) == MAX_TYPED_CALLS + 1
    d = described(many)
    assert d is not None and "too-complex" in d.flags and len(d.calls) == MAX_TYPED_CALLS


def test_a_call_the_reader_cannot_read_is_said_not_described() -> None:
    """A call's bytes the reader of carried calls does not find (a field it cannot parse,
    too deep, behind more structs than it reads) left the payload described as carrying
    nothing: `sign typed-data` showed no warning for a call a contract makes on the
    signature. It is flagged (WARNING: part of it is not described)."""
    call = "to:address", "data:bytes"
    carried = {"to": USDC, "data": "0x" + APPROVE_MAX.hex()}
    named = _carrying(
        "Req", {"Req": fields(*call, "operation:string")}, {**carried, "operation": "call"}
    )
    types = {"Req": fields("pads:Pad[]", "call:Call"), "Pad": fields("x:uint256")}
    behind = _carrying(
        "Req",
        {**types, "Call": fields(*call)},
        {"pads": [{"x": n} for n in range(600)], "call": carried},
    )
    for doc in (named, behind):
        typed_data_digest(doc)  # typed data a signer signs
        d = described(doc)
        assert d is not None and {"carries-call", "too-complex"} <= d.flags and not d.calls
        assert "NOT DESCRIBED" in d.lines[-1]
    permit = eip2612(1, NOW + DAY)  # a permit keeps what it says, with the warning
    permit["types"]["Permit"] += fields("to:address", "data:bytes", "operation:string")
    permit["message"].update(carried, operation="call")
    d = described(permit)
    assert d is not None and d.kind == "eip2612-permit" and "too-complex" in d.flags
    assert d.grants and "NOT DESCRIBED" in d.lines[-1]
    assert described(eip2612(1, NOW + DAY)).flags.isdisjoint({"carries-call", "too-complex"})
