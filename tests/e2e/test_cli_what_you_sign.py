"""Issue 13, "what you sign is what you see": every signature request says the chain it is
valid on and the contract it binds; a typed-data domain for another chain than the home's
network is refused unless that chain is allowed by name; approvals carried inside other calls
(multicall, permits, Permit2) are shown as approvals. Real Anvil with the devnet world."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from tests.conftest import World

MAINNET_USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
ATTACKER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

PERMIT_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
}


def mainnet_permit(chain: Any = 1) -> dict[str, Any]:
    """The issue's example: an EIP-2612 permit for mainnet USDC (chain 1), 5000 USDC."""
    return copy.deepcopy(
        {
            "types": PERMIT_TYPES,
            "primaryType": "Permit",
            "domain": {
                "name": "USD Coin",
                "version": "2",
                "chainId": chain,
                "verifyingContract": MAINNET_USDC,
            },
            "message": {
                "owner": DEV,
                "spender": ATTACKER,
                "value": 5_000_000_000,
                "nonce": 0,
                "deadline": 4_000_000_000,
            },
        }
    )


def _file(tmp_path: Path, doc: dict[str, Any], name: str = "permit.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def sign(world: World, *args: str, input: str | None = None) -> Any:
    return world.cli()(
        "--rpc-url", world.url, "sign", "typed-data", "--from", "dev", *args, input=input
    )


def test_a_mainnet_permit_on_a_devnet_home_is_refused_with_its_chain_shown(
    world: World, tmp_path: Path
) -> None:
    path = _file(tmp_path, mainnet_permit())
    # Asked interactively (the user would answer yes): the chain is shown, then refused.
    asked = sign(world, path, input="y\n")
    assert asked.code == 1, asked.err
    assert "Valid on chain 1 (Ethereum mainnet): NOT this network (anvil, chain 31337)" in asked.err
    assert f"For contract {MAINNET_USDC}" in asked.err
    assert "5000000000 base units" in asked.err or "5000" in asked.err
    assert asked.err_lines[-1].startswith("error: refused: this typed data is valid on chain 1")
    assert "--allow-chain 1" in asked.err_lines[-1] and "nothing was signed" in asked.err
    assert "Sign Permit" not in asked.err and not asked.out  # never got to the question
    for extra in (("--yes",), ("--yes", "--allow-chain", "10"), ("--yes", "--allow-any-chain")):
        refused = world.cli()(
            "--rpc-url", world.url, *extra[:1], "sign", "typed-data", "--from", "dev",
            *extra[1:], path,
        )  # fmt: skip
        assert refused.code == 1 and "chain 1 (Ethereum mainnet)" in refused.err, extra
        assert "0x" + "00" * 10 not in refused.out and not refused.out, extra
    as_json = world.cli()(
        "--rpc-url", world.url, "--json", "--yes", "sign", "typed-data", "--from", "dev", path
    )
    err = json.loads(as_json.err)["error"]
    assert as_json.code == 1 and err["type"] == "TypedDataChainRefused"
    # The chain id written as hex, or as a decimal string, is the same chain to the signer.
    for chain in ("0x1", "0x01", "1"):
        other = sign(world, "--yes", _file(tmp_path, mainnet_permit(chain), f"p{chain}.json"))
        assert other.code == 1 and "chain 1 (Ethereum mainnet)" in other.err, chain


def test_the_mainnet_permit_signs_only_when_chain_1_is_allowed_by_name(
    world: World, tmp_path: Path
) -> None:
    doc = mainnet_permit()
    signed = world.cli()(
        "--rpc-url", world.url, "--json", "--yes", "sign", "typed-data", "--from", "dev",
        "--allow-chain", "1", _file(tmp_path, doc),
    )  # fmt: skip
    assert signed.code == 0, signed.err
    out = signed.json()
    expected = Account.sign_message(encode_typed_data(full_message=doc), DEV_KEY)
    assert out["signature"].removeprefix("0x") == expected.signature.hex().removeprefix("0x")
    assert out["domain"]["chain_id"] == 1 and out["domain"]["this_network"] is False
    assert out["domain"]["verifying_contract"] == MAINNET_USDC
    human = sign(world, "--yes", "--allow-chain", "1", _file(tmp_path, doc))
    assert human.code == 0 and "WARNING: signing for chain 1 (--allow-chain)" in human.err


def test_a_domain_without_chain_id_needs_allow_any_chain(world: World, tmp_path: Path) -> None:
    doc = mainnet_permit()
    del doc["domain"]["chainId"]
    doc["types"]["EIP712Domain"] = [
        f for f in PERMIT_TYPES["EIP712Domain"] if f["name"] != "chainId"
    ]
    path = _file(tmp_path, doc)
    refused = sign(world, "--yes", path)
    assert refused.code == 1 and "Valid on EVERY chain" in refused.err
    assert "--allow-any-chain" in refused.err_lines[-1]
    allowed = sign(world, "--yes", "--allow-any-chain", path)
    assert allowed.code == 0, allowed.err
    assert "WARNING: signing for EVERY chain" in allowed.err


def test_a_permit_for_this_network_shows_it_and_signs(world: World, tmp_path: Path) -> None:
    doc = mainnet_permit(31337)
    doc["domain"]["verifyingContract"] = world.manifest.contracts["USDC"]
    doc["message"]["spender"] = world.address("dev:2")
    done = sign(world, "--yes", _file(tmp_path, doc))
    assert done.code == 0, done.err
    assert "Valid on chain 31337 (this network: anvil)." in done.err
    assert f"For contract {world.manifest.contracts['USDC']} (a token calling itself 'USDC')" in (
        done.err
    )
    assert "may spend 5000 USDC" in done.err


def test_the_python_api_refuses_the_same(world: World) -> None:
    from walletim.errors import TypedDataAnyChainRefused, TypedDataChainRefused

    doc = mainnet_permit()
    with pytest.raises(TypedDataChainRefused) as caught:
        world.session.sign_typed_data("dev", doc)
    assert caught.value.chain_id == 1 and caught.value.expected == 31337
    with pytest.raises(TypedDataChainRefused):
        world.session.wallets.sign_typed_data("dev", doc)
    with pytest.raises(TypedDataChainRefused):
        world.session.wallets.sign_typed_data("dev", doc, allow_chains=(10,))
    sig = world.session.wallets.sign_typed_data("dev", doc, allow_chains=(1,))
    assert sig.bytes == Account.sign_message(encode_typed_data(full_message=doc), DEV_KEY).signature
    del doc["domain"]["chainId"]
    doc["types"]["EIP712Domain"] = (
        doc["types"]["EIP712Domain"][:2] + doc["types"]["EIP712Domain"][3:]
    )
    with pytest.raises(TypedDataAnyChainRefused):
        world.session.sign_typed_data("dev", doc, allow_chains=(1, 31337))
    assert world.session.sign_typed_data("dev", doc, allow_any_chain=True).bytes


# -- approvals carried inside other calls, in transaction plans ------------------------------------

PERMIT2 = "0x000000000022D473030F116dDEE9F6B43aC78BA3"
MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"
ROUTER = "0x3fC91A3afd70395Cd496C647d5a6CC9D4B2b7FAD"
MULTICALL_DAPP = "0x00000000000000000000000000000000000b0b00"


def _calldata(signature: str, *args: Any) -> str:
    from eth_abi.abi import encode

    from walletim.contracts.abi import parse_signature

    fn = parse_signature(signature)
    return "0x" + (fn.selector + encode(list(fn.inputs), list(args))).hex()


def test_approvals_inside_multicalls_and_permit2_show_in_the_plan(world: World) -> None:
    """What a dapp hands `contract send` (or a script hands Session.defi): calls that carry
    an unlimited approval inside a multicall, a Multicall3 aggregate, a Universal Router
    Permit2 permit, or a Permit2 approve. The plan shown before signing names each as an
    APPROVAL. The contracts are stand-ins (code 0x00 accepts any call): what is shown is
    read from the calldata alone, as it must be."""
    from eth_abi.abi import encode

    rpc = world.anvil.rpc()
    for address in (PERMIT2, MULTICALL3, ROUTER, MULTICALL_DAPP):
        rpc.call("anvil_setCode", [address, "0x00"])
    usdc = world.manifest.contracts["USDC"]
    approve = _calldata("approve(address,uint256)", ATTACKER, 2**256 - 1)
    permit_input = encode(
        ["((address,uint160,uint48,uint48),address,uint256)", "bytes"],
        [((usdc, 2**160 - 1, 2**48 - 1, 0), ATTACKER, 2**40), b"\x01" * 65],
    )
    transfer = _calldata("transfer(address,uint256)", ATTACKER, 1)
    max160 = str(2**160 - 1)
    cases = [
        (MULTICALL_DAPP, "multicall(bytes[])", [f"[{transfer},{approve}]"]),
        (MULTICALL3, "aggregate3((address,bool,bytes)[])", [f"[({usdc},false,{approve})]"]),
        (ROUTER, "execute(bytes,bytes[],uint256)", ["0x0a", f"[0x{permit_input.hex()}]", "9"]),
        (PERMIT2, "approve(address,address,uint160,uint48)", [usdc, ATTACKER, max160, "0"]),
    ]
    for to, signature, args in cases:
        r = world.cli()(
            "--rpc-url", world.url, "contract", "send", "--from", "dev:1", to, signature, *args,
            input="n\n",
        )  # fmt: skip
        assert r.code == 1 and "aborted" in r.err, (signature, r.err)
        assert "network anvil (chain id 31337" in r.err and "valid on this chain only" in r.err
        assert "UNLIMITED APPROVAL" in r.err, (signature, r.err)
        if to != PERMIT2:
            assert "APPROVAL INSIDE" in r.err and "WARNING: an approval is carried inside" in r.err
        assert ATTACKER in r.err, (signature, r.err)
        assert to == MULTICALL_DAPP or "UNLIMITED USDC" in r.err, (signature, r.err)
    # Through the Python API, the plan's step carries the same flags and lines.
    plan = world.session.defi.contract_send(
        "dev:1", MULTICALL3, "aggregate3((address,bool,bytes)[])", [f"[({usdc},false,{approve})]"]
    )
    [step] = plan.steps
    assert {"approval", "unlimited-approval", "nested-approval"} <= step.flags
    assert any("UNLIMITED USDC" in line for line in step.details)


def test_every_transaction_plan_says_its_chain(world: World, tmp_path: Path) -> None:
    base = ("--rpc-url", world.url)
    chain = "anvil (chain id 31337, a local development chain (Anvil / Hardhat))"
    sent = world.cli()(*base, "send", "--from", "dev", "dev:1", "0.1", input="n\n")
    assert sent.code == 1 and f"network   {chain}: valid on this chain only" in sent.err
    token = world.cli()(
        *base, "send", "--from", "dev", "dev:1", "1", "--token", "USDC", input="n\n"
    )
    assert token.code == 1 and "call      transfer 1 USDC to" in token.err and chain in token.err
    approve = world.cli()(
        *base, "token", "approve", "--from", "dev", "USDC", ATTACKER, "5", input="n\n"
    )
    assert approve.code == 1 and f"network {chain}" in approve.err
    batch = tmp_path / "batch.csv"
    batch.write_text(f"{ATTACKER},0.01\n")
    rows = world.cli()(*base, "send", "--from", "dev", "--batch", str(batch), input="n\n")
    assert rows.code == 1 and f"on network {chain}" in rows.err


def test_a_plan_shows_the_fees_signed_to_the_wei(world: World) -> None:
    """Fees per gas were cut to 4 places: a max fee of 2.000000001 gwei read "2 gwei"."""
    base = ("--rpc-url", world.url, "send", "--from", "dev", "dev:1", "0.1")
    fees = ("--max-fee", "2.000000001gwei", "--priority-fee", "0.000000123gwei")
    sent = world.cli()(*base, *fees, input="n\n")
    assert sent.code == 1 and "fees      max 2.000000001 gwei, priority 123 wei" in sent.err
    legacy = world.cli()(*base, "--legacy", "--max-fee", "3.000000007gwei", input="n\n")
    assert legacy.code == 1 and "gas price 3.000000007 gwei (legacy)" in legacy.err, legacy.err


# -- approvals carried inside typed data -----------------------------------------------------------


def _typed(primary: str, fields: str, domain: dict[str, Any], message: dict[str, Any]) -> Any:
    domain_types = [
        {"name": k, "type": {"chainId": "uint256", "verifyingContract": "address"}.get(k, "string")}
        for k in domain
    ]
    types = {
        "EIP712Domain": domain_types,
        primary: [{"name": n, "type": t} for n, t in (f.split(":") for f in fields.split())],
    }
    return {"types": types, "primaryType": primary, "domain": domain, "message": message}


def test_approvals_inside_typed_data_are_shown_as_approvals(world: World, tmp_path: Path) -> None:
    usdc = world.manifest.contracts["USDC"]
    forwarder = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    approve = _calldata("approve(address,uint256)", ATTACKER, 2**256 - 1)
    wrapped = _calldata("multicall(bytes[])", [bytes.fromhex(approve[2:])])
    request = _typed(
        "ForwardRequest",
        "from:address to:address value:uint256 gas:uint256 nonce:uint256 data:bytes",
        {"name": "MinimalForwarder", "version": "0.0.1", "chainId": 31337,
         "verifyingContract": forwarder},
        {"from": DEV, "to": usdc, "value": 0, "gas": 100_000, "nonce": 0, "data": wrapped},
    )  # fmt: skip
    shown = sign(world, _file(tmp_path, request, "forward.json"), input="n\n")
    assert shown.code == 1 and "aborted" in shown.err
    assert "Valid on chain 31337 (this network: anvil)." in shown.err
    assert "It carries a call (ForwardRequest)" in shown.err
    assert f"it APPROVES: call 1: approve {ATTACKER} to spend UNLIMITED USDC" in shown.err
    assert "WARNING: it carries an APPROVAL inside a call" in shown.err
    assert "WARNING: it grants an UNLIMITED amount." in shown.err
    done = world.cli()(
        "--rpc-url", world.url, "--json", "--yes", "sign", "typed-data", "--from", "dev",
        _file(tmp_path, request, "forward.json"),
    )  # fmt: skip
    rec = done.json()["recognized"]
    assert {"carries-call", "approval", "nested-approval", "unlimited"} <= set(rec["flags"])
    assert rec["calls"][0]["approvals"] and "unlimited-approval" in rec["calls"][0]["flags"]
    # Permit2's own typed data: an allowance, loud when unlimited (Permit2 on this chain).
    single = _typed(
        "PermitSingle",
        "details:PermitDetails spender:address sigDeadline:uint256",
        {"name": "Permit2", "chainId": 31337, "verifyingContract": PERMIT2},
        {
            "details": {"token": usdc, "amount": str(2**160 - 1), "expiration": str(2**48 - 1),
                        "nonce": 0},
            "spender": ATTACKER,
            "sigDeadline": 4_000_000_000,
        },
    )  # fmt: skip
    single["types"]["PermitDetails"] = [
        {"name": "token", "type": "address"},
        {"name": "amount", "type": "uint160"},
        {"name": "expiration", "type": "uint48"},
        {"name": "nonce", "type": "uint48"},
    ]
    permit2 = sign(world, _file(tmp_path, single, "permit2.json"), input="n\n")
    assert permit2.code == 1 and f"For contract {PERMIT2} (Uniswap Permit2)." in permit2.err
    assert "Permit2 allowance" in permit2.err and "UNLIMITED USDC" in permit2.err
    assert "WARNING: it grants an UNLIMITED amount." in permit2.err
    # A Safe transaction that DELEGATECALLs: said loudly.
    safe_tx = _typed(
        "SafeTx",
        "to:address value:uint256 data:bytes operation:uint8 safeTxGas:uint256 baseGas:uint256 "
        "gasPrice:uint256 gasToken:address refundReceiver:address nonce:uint256",
        {"chainId": 31337, "verifyingContract": forwarder},
        {"to": MULTICALL3, "value": 0, "data": _calldata(
            "aggregate3((address,bool,bytes)[])", [(usdc, False, bytes.fromhex(approve[2:]))]),
         "operation": 1, "safeTxGas": 0, "baseGas": 0, "gasPrice": 0,
         "gasToken": "0x" + "00" * 20, "refundReceiver": "0x" + "00" * 20, "nonce": 0},
    )  # fmt: skip
    safe = sign(world, _file(tmp_path, safe_tx, "safe.json"), input="n\n")
    assert safe.code == 1 and "DELEGATECALL" in safe.err and "UNLIMITED USDC" in safe.err
