"""Fuzzing the parsers of outside input the other fuzzers do not reach: EIP-681 URIs, CSV
batches, amounts, bounded-depth JSON, the devnet world manifest, the wallet-IM message kinds
(payments, requests, red packets, shared actions, groups, membership), identity bindings,
chat payloads, vault KDF parameters, event signatures and percentages.

Each raises only its documented error (InputError, ConfigError, MessagingError,
VaultCorrupt; ValueError for ``safejson.loads``), and what parses satisfies the parser's
promises (checksummed addresses, amounts in range, round trips)."""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

# eth-account raises the recursion limit when first imported; do it before hypothesis runs.
import eth_account.messages  # noqa: F401
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import fuzz
from walletim import safejson
from walletim.app.chain import parse_batch_csv
from walletim.app.contracts import parse_percent
from walletim.app.wallets import parse_address
from walletim.app.world import TokenInfo, WorldManifest
from walletim.chain.eip681 import parse_eip681
from walletim.chain.units import MAX_UINT256, format_amount, parse_amount
from walletim.contracts.abi import parse_event
from walletim.errors import ConfigError, InputError, MessagingError, VaultCorrupt
from walletim.keys.crypto import KdfParams
from walletim.keys.hd import to_checksum_address
from walletim.messaging import groups as GR
from walletim.messaging import kinds as K
from walletim.messaging.envelope import Payload
from walletim.messaging.identity import IdentityBinding

A = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
B = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
C = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
TX = "0x" + "ab" * 32
SIG = "0x" + "11" * 65

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**300), 2**300)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(
        [A, B.lower(), "0x", "0x00", TX, SIG, str(2**256), "-1", "1e18", "ab" * 16, ""]
    ),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=5),
    max_leaves=20,
)


def _paths(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document (the root first)."""
    out = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*path, i))
    return out


@st.composite
def mutated(draw: Any, bases: list[Any]) -> Any:
    """A valid document with up to three places removed, or replaced by junk or by a value
    that is valid elsewhere."""
    doc = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(0, 3))):
        places = [p for p in _paths(doc) if p]
        if not places:
            return doc
        path = places[draw(st.integers(0, len(places) - 1))]
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        how = draw(st.integers(0, 4))
        if how == 0:
            del parent[path[-1]]
        elif how == 1:  # a value valid somewhere, put somewhere else
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(_leaves(bases))))
        else:
            parent[path[-1]] = draw(json_values)
    return doc


def _leaves(bases: list[Any]) -> list[Any]:
    out: list[Any] = []
    for doc in bases:
        for path in _paths(doc):
            value = doc
            for key in path:
                value = value[key]
            out.append(value)
    return out


# -- EIP-681 payment URIs -----------------------------------------------------------------------

_URI_PARTS = st.sampled_from(
    [
        *("ethereum:", "ETHEREUM:", "pay-", A, B.lower(), A.upper(), "0x", "@", "1", "31337"),
        *("/", "transfer", "approve", "?", "&", "=", "value", "uint256", "address", "gas"),
        *("gasLimit", "gasPrice", "2.014e18", "1e", "-", "+", ".", "e", "E", "9" * 80, "%"),
        *("%41", "#", " ", "alice.eth", "0", "00", "label", "ü"),
    ]
)


def _check_uri(text: str) -> None:
    try:
        uri = parse_eip681(text)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert uri.target == to_checksum_address(uri.target)
    assert uri.recipient == to_checksum_address(uri.recipient)
    assert uri.function in (None, "transfer")
    assert uri.chain_id is None or 0 < uri.chain_id < 2**64
    for n in (uri.amount, uri.gas_limit, uri.gas_price):
        assert n is None or 0 <= n <= MAX_UINT256
    if uri.function is None:
        assert uri.recipient == uri.target and uri.token is None
        again = K.eip681(uri.chain_id or 1, uri.recipient, None, uri.amount or 0)
    else:
        assert uri.token == uri.target
        again = K.eip681(uri.chain_id or 1, uri.recipient, uri.token, uri.amount or 0)
    back = parse_eip681(again)
    assert (back.recipient, back.token, back.amount) == (
        uri.recipient,
        uri.token,
        uri.amount or 0,
    )


@fuzz("fuzz inputs: EIP-681 URIs, any text", 500, 5000)
@given(st.text(max_size=200))
def test_eip681_any_text(text: str) -> None:
    _check_uri(text)
    _check_uri("ethereum:" + text)


@fuzz("fuzz inputs: EIP-681 URIs from real parts", 500, 5000)
@given(
    st.sampled_from(["ethereum:", "ethereum:pay-", "ETHEREUM:", ""]),
    st.sampled_from([A, B.lower(), A.upper(), A[:-1] + "9", "0x12", "alice.eth", ""]),
    st.lists(_URI_PARTS, max_size=16).map("".join),
)
def test_eip681_from_parts(scheme: str, target: str, rest: str) -> None:
    _check_uri(scheme + target + rest)


_VALUES = st.sampled_from(
    [
        *("1", "0", "2.014e18", "1e", "-1", "-0", "1.5", "9" * 80, "+1E3", ".5e1", "1e9999"),
        *("12500000", "0x10", "1e77", "1_000", A, B.lower(), "alice.eth", "%41", "", "%31"),
    ]
)
_KEYS = st.sampled_from(["value", "uint256", "address", "gas", "gasLimit", "gasPrice", "x", ""])


@fuzz("fuzz inputs: EIP-681 URIs, grammar-shaped", 500, 5000)
@given(
    st.sampled_from(["ethereum:", "ethereum:pay-", "ETHEREUM:"]),
    st.sampled_from([A, B.lower(), A.upper(), A[:-1] + "9", "0x12", "alice.eth"]),
    st.sampled_from(["", "@1", "@31337", "@0", "@x", "@" + "9" * 25, "@1@2"]),
    st.sampled_from(["", "/transfer", "/approve", "/", "/transfer/x"]),
    st.lists(st.tuples(_KEYS, st.sampled_from(["=", "=", ""]), _VALUES), max_size=4),
    st.booleans(),
)
def test_eip681_grammar_shaped(
    scheme: str,
    target: str,
    chain: str,
    function: str,
    params: list[tuple[str, str, str]],
    question: bool,
) -> None:
    query = "&".join(k + eq + v for k, eq, v in params)
    _check_uri(scheme + target + chain + function + ("?" + query if question else ""))


@fuzz("fuzz inputs: EIP-681 URIs, valid ones with characters changed", 500, 5000)
@given(
    st.sampled_from(
        [
            f"ethereum:{B}@31337?value=2.014e18",
            f"ethereum:pay-{B}?value=1&gas=21000&gasPrice=1e9",
            f"ethereum:{A}@1/transfer?address={B}&uint256=12500000",
        ]
    ),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 2), st.text(max_size=3)), max_size=4),
)
def test_eip681_valid_with_changes(base: str, changes: list[tuple[int, int, str]]) -> None:
    text = base
    for at, how, new in changes:
        at %= len(text) + 1
        if how == 0:
            text = text[:at] + new + text[at + 1 :]
        elif how == 1:
            text = text[:at] + new + text[at:]
        else:
            text = text[:at] + text[at + len(new) + 1 :]
    _check_uri(text)


# -- CSV batches and amounts --------------------------------------------------------------------


def _resolve(text: str) -> str:
    return parse_address(text)


def _value(amount: str, token: str | None) -> int:
    return parse_amount(amount, decimals=6 if token else 18)


_CSV_PARTS = st.sampled_from(
    [
        *(",", ",", "\n", "\r\n", '"', " ", "#", "to", "address", "1", "0", "1.5", "0.000001"),
        *(
            "1e18",
            "-1",
            "eth",
            "gwei",
            "1_000",
            A,
            B.lower(),
            "0x12",
            "USDC",
            ".",
            "\ufeff",
            "\x00",
        ),
        *("9" * 80, "a,b,c,d", '""'),
    ]
)


def _check_batch(text: str) -> None:
    try:
        rows = parse_batch_csv(text, parse_value=_value, resolve=_resolve)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert rows
    for r in rows:
        assert r.to == to_checksum_address(r.to) and 0 < r.value <= MAX_UINT256


@fuzz("fuzz inputs: CSV batch files, any text", 300, 3000)
@given(st.text(max_size=300))
def test_batch_any_text(text: str) -> None:
    _check_batch(text)


@fuzz("fuzz inputs: CSV batch files from real parts", 500, 5000)
@given(st.lists(_CSV_PARTS, max_size=30).map("".join))
def test_batch_from_parts(text: str) -> None:
    _check_batch(text)


@fuzz("fuzz inputs: amounts (parse_amount)", 500, 5000)
@given(
    st.text(alphabet=st.sampled_from(list("0123456789._ eEthgwiWx-+\t٣")), max_size=40)
    | st.text(max_size=40),
    st.integers(0, 77),
    st.sampled_from([None, "wei", "gwei", "eth", "x"]),
)
def test_amounts(text: str, decimals: int, unit: str | None) -> None:
    try:
        value = parse_amount(text, decimals=decimals, default_unit=unit)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert 0 <= value <= MAX_UINT256


@fuzz("fuzz inputs: amounts round trip (format_amount -> parse_amount)", 300, 3000)
@given(st.integers(0, MAX_UINT256), st.integers(0, 77))
def test_amounts_round_trip(value: int, decimals: int) -> None:
    text = format_amount(value, decimals)
    try:
        assert parse_amount(text, decimals=decimals) == value
    except InputError as exc:  # only: more digits than 2**256 allows in whole units
        assert "too large" in str(exc)
        assert value // 10**decimals >= 10**78 or len(text) > 256


# -- bounded-depth JSON ---------------------------------------------------------------------------


def _depth(doc: Any) -> int:
    if isinstance(doc, dict):
        return 1 + max((_depth(v) for v in doc.values()), default=0)
    if isinstance(doc, list):
        return 1 + max((_depth(v) for v in doc), default=0)
    return 0


_JSON_PARTS = st.sampled_from([*'[]{}",:\\ 1a', '\\"', '"\\', "null", "NaN", "[[[[", "]]]]"])


@fuzz("fuzz inputs: safejson.loads, any text", 500, 5000)
@given(
    st.text(max_size=200)
    | st.binary(max_size=200)
    | st.lists(_JSON_PARTS, max_size=120).map("".join)
)
def test_safejson_any_text(data: str | bytes) -> None:
    try:
        doc = safejson.loads(data)
    except ValueError:
        return
    assert _depth(doc) <= safejson.MAX_DEPTH
    assert json.dumps(doc) == json.dumps(json.loads(data))  # as dumps: NaN != NaN


@fuzz("fuzz inputs: safejson depth bound is exact", 300, 3000)
@given(json_values, st.integers(0, 80), st.sampled_from(["[", '{"k":']))
def test_safejson_depth(doc: Any, wrap: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    text = opener * wrap + json.dumps(doc) + closer * wrap
    depth = _depth(doc) + wrap
    try:
        parsed = safejson.loads(text)
    except safejson.TooDeep:
        assert depth > safejson.MAX_DEPTH
        return
    assert depth <= safejson.MAX_DEPTH and parsed == json.loads(text)


# -- the devnet world manifest --------------------------------------------------------------------

MANIFEST = WorldManifest(
    31337,
    "0x" + "cd" * 32,
    B,
    42,
    {
        "WETH": A,
        "USDC": B,
        "DAI": C,
        "UniswapV2Factory": A,
        "UniswapV2Router02": B,
        "wvDAI": C,
        "WIMC": A,
        "RedPacket": B,
        "WETH/USDC": C,
    },
    {"USDC": TokenInfo(B, 6, "USD Coin"), "DAI": TokenInfo(C, 18, "Dai Stablecoin")},
    1_700_000_000,
    0.5,
    30,
).to_json()


def _check_manifest(doc: Any) -> None:
    try:
        m = WorldManifest.from_json(doc)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    # Everything the rest of walletim reads from a manifest works on one that parsed.
    assert all((m.router, m.factory, m.weth, m.vault, m.nft, m.contracts["USDC"]))
    for info in m.tokens.values():
        assert 0 <= info.decimals <= 255
        format_amount(10**info.decimals + 1, info.decimals)
    assert WorldManifest.from_json(json.loads(json.dumps(m.to_json()))) == m


@fuzz("fuzz inputs: world manifest, any JSON", 300, 3000)
@given(json_values)
def test_manifest_any_json(doc: Any) -> None:
    _check_manifest(doc)


@fuzz("fuzz inputs: world manifest, real one with fields changed", 500, 5000)
@given(mutated([MANIFEST]))
def test_manifest_mutated(doc: Any) -> None:
    _check_manifest(doc)


def test_a_real_manifest_round_trips() -> None:
    assert WorldManifest.from_json(MANIFEST).to_json() == MANIFEST


# -- the wallet-IM message kinds ------------------------------------------------------------------

ETH = K.Asset(None, "ETH", 18)
USDC = K.Asset(A, "USDC", 6)
GROUP = "0f" * 16
BODIES: dict[str, list[Any]] = {
    "payment": [
        K.PaymentClaim(31337, TX, A, B, ETH, 10**18, "lunch", None, SIG).to_json(),
        K.PaymentClaim(1, TX, B, C, USDC, 5, "", "0x" + "12" * 16, SIG).to_json(),
    ],
    "request": [
        K.PaymentRequest(
            "0x" + "34" * 16, 31337, B, USDC, 12_500_000, "split", "", "0x" + "56" * 16
        ).to_json(),
        K.PaymentRequest("0x" + "34" * 16, 1, C, ETH, 1, "", "", None).to_json(),
        K.PaymentRequest(
            "0x" + "34" * 16, 1, C, ETH, 10, "", "", "0x" + "56" * 16, K.SplitBill(30, 2, True)
        ).to_json(),
    ],
    "redpacket": [
        K.PacketOffer(
            TX, 31337, A, B, ETH, 10**18, 3, True, 2**40, {C: SIG, A: SIG}, "红包"
        ).to_json()
    ],
    "action": [
        K.SharedAction(
            31337, TX, "swap", {"amount_in": "1", "symbol_in": "ETH", "amount_out": "2"}, ""
        ).to_json(),
        K.SharedAction(1, TX, "vault-deposit", {"assets": "5", "symbol": "DAI"}, "x").to_json(),
    ],
    "membership": [
        K.Membership(GROUP, "friends", 1, "create", None, (A, B, C), A, SIG).to_json(),
        K.Membership(GROUP, "friends", 2, "remove", C, (A, B), A, SIG).to_json(),
    ],
    "text": [{"text": "hi"}],
    "system": [{"text": "note"}],
}
_CREATE = GR.GroupChange(
    GROUP, "friends", 1, GR.ZERO_HASH, "create", None, (A, B, C), (A,), A, A, SIG
)
_PROMOTE = GR.GroupChange(
    GROUP, "friends", 2, _CREATE.hash, "promote", B, (A, B, C), (A, B), A, A, SIG
)
BODIES["change"] = [_CREATE.to_json(), _PROMOTE.to_json()]
BODIES["bundle"] = [GR.bundle(_PROMOTE, [_CREATE])]
BODIES["group"] = [{"group": GROUP, "k": k, "b": b} for k in ("text", "payment") for b in BODIES[k]]
PARSERS = {
    "payment": K.parse_payment,
    "request": K.parse_request,
    "redpacket": K.parse_packet,
    "action": K.parse_action,
    "membership": K.parse_membership,
    "group": K.parse_group,
    "change": GR.parse_change,
    "bundle": GR.parse_bundle,
}
ALL_BODIES = [b for bodies in BODIES.values() for b in bodies]


def _check_kinds(body: Any) -> None:
    for kind, parse in PARSERS.items():
        try:
            parsed = parse(body)
        except MessagingError as exc:
            assert "\n" not in str(exc)
            continue
        if hasattr(parsed, "to_json"):  # parse(to_json(x)) == x: nothing lost or invented
            assert parse(json.loads(json.dumps(parsed.to_json()))) == parsed, kind
    for kind in [*PARSERS, "text", "system", "alert", "bogus"]:
        with contextlib.suppress(MessagingError):
            assert isinstance(K.text_of(kind, body), str)


@fuzz("fuzz inputs: chat message kinds, any JSON", 500, 5000)
@given(json_values)
def test_kinds_any_json(body: Any) -> None:
    _check_kinds(body)


@fuzz("fuzz inputs: chat message kinds, real bodies with fields changed", 1000, 10000)
@given(st.sampled_from(sorted(BODIES)).flatmap(lambda kind: mutated(BODIES[kind])))
def test_kinds_mutated(body: Any) -> None:
    _check_kinds(body)


def test_real_bodies_parse() -> None:
    for kind, parse in PARSERS.items():
        for body in BODIES[kind]:
            parse(body)
            if kind != "group":
                assert K.text_of("membership" if kind in ("change", "bundle") else kind, body)


# -- identity bindings, chat payloads, KDF parameters, events, percentages -----------------------

BINDING = {"wallet": A, "identity_key": "ab" * 32, "created": 1_700_000_000, "signature": SIG}
KDF = {"name": "argon2id", "opslimit": 2, "memlimit": 65536, "salt": "00" * 16}
PAYLOAD = {"v": 1, "e": "0123456789abcdef", "n": 1, "t": 5, "k": "text", "b": {"text": "hi"}}


@fuzz("fuzz inputs: identity bindings, KDF parameters, payloads (JSON)", 500, 5000)
@given(json_values | mutated([BINDING, KDF, PAYLOAD]))
def test_bindings_kdf_payloads(doc: Any) -> None:
    with contextlib.suppress(MessagingError):
        binding = IdentityBinding.from_json(doc)
        assert IdentityBinding.from_json(binding.to_json()) == binding
        assert binding.verify() in (True, False)
    with contextlib.suppress(VaultCorrupt):
        KdfParams.from_json(doc)
    with contextlib.suppress(MessagingError):
        Payload.decode(json.dumps(doc).encode())


_EVENT_PARTS = st.sampled_from(
    [
        *("event ", "Transfer", "(", ")", ",", " ", "address", "indexed", "uint256", "from"),
        *("anonymous", "bytes32[]", "(uint8,bool)", "string", "x", "[2]", "uint7", "$"),
    ]
)


@fuzz("fuzz inputs: event signatures and percentages", 500, 5000)
@given(st.lists(_EVENT_PARTS, max_size=14).map("".join) | st.text(max_size=60))
def test_events_and_percentages(text: str) -> None:
    with contextlib.suppress(InputError):
        event = parse_event(text)
        assert len(event.topic0) == 66
    with contextlib.suppress(InputError):
        assert 0 <= parse_percent(text) <= 5000
