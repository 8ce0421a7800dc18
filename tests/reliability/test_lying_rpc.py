"""A lying JSON-RPC node (issue 8): walletim produces no signature it should not, and shows no
payment as verified that the chain does not hold.

A :class:`~tests.reliability.lying_rpc.LyingRpc` proxy sits in front of a real Anvil with the
devnet world. Each test turns one kind of lie on, case after case (amounts, tokens, accounts
and the size of the lie drawn from a seeded RNG; ``budget()`` sets how many), drives walletim
through its Python API and its CLI (``--rpc-url`` pointing at the proxy), and checks every
transaction the proxy saw signed (``proxy.sent``, decoded with eth-account, not walletim) and
every payment state walletim shows.
"""

from __future__ import annotations

import random  # noqa: TID251 - seeded, reproducible test cases; nothing secret
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, Cli, RelayProcess, World, wait_receipt
from tests.integration.conftest import accept_each_other
from tests.reliability import budget, record
from tests.reliability.lying_rpc import UNSUPPORTED, LyingRpc, Sent, decode_sent, transfer_amount
from walletim.app.chain import NONCE_SLACK, BatchRow, SendRequest
from walletim.chain.fees import MAX_SUGGESTED_FEE_PER_GAS
from walletim.errors import (
    ChainError,
    ChainIdMismatch,
    SuggestedFeeTooHigh,
    SuspiciousNonce,
    WalletimError,
)

GWEI = 10**9
E18 = 10**18
CHAIN_ID = 31337
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


# -- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def proxy(world: World) -> Iterator[LyingRpc]:
    with LyingRpc(world.url) as p:
        yield p


def home_via(home: Path, url: str, world: World | None) -> Any:
    """A home holding Anvil's dev wallet whose node is ``url``; with ``world`` it also keeps
    the world's manifest (a record: every home recognises the world's tokens on the chain)."""
    from walletim.app.session import Session
    from walletim.app.world import save_world

    s = Session(home, HOME_PASSWORD, rpc_url=url, fast_kdf=True)
    if not s.wallets.exists("dev"):
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
    if world is not None:
        save_world(home, world.manifest)
    return s


def cli_for(home: Path, url: str) -> Any:
    """The CLI on ``home`` with ``--rpc-url url --yes`` put in front of every command."""
    cli = Cli(
        home,
        {
            "WALLETIM_HOME": str(home),
            "WALLETIM_UNSAFE_FAST_KDF": "1",
            "WALLETIM_PASSWORD": HOME_PASSWORD,
            "WALLETIM_NETWORK": None,  # type: ignore[dict-item]
        },
    )

    def run(*args: str) -> Any:
        return cli("--rpc-url", url, "--yes", *args)

    return run


def signed_since(proxy: LyingRpc, mark: int) -> list[Sent]:
    return [decode_sent(raw) for raw in proxy.sent[mark:]]


def amount_text(rng: random.Random, places: int = 2) -> str:
    whole = rng.randrange(1, 50)
    frac = rng.randrange(0, 10**places)
    return f"{whole}.{frac:0{places}d}".rstrip("0").rstrip(".")


def units(text: str, decimals: int) -> int:
    return int(Decimal(text) * (Decimal(10) ** decimals))


def one_clean_line(result: Any) -> bool:
    """A refused CLI command: non-zero exit, no traceback, and one error line, the last one
    (a refusal after the confirmation was shown follows it)."""
    errors = [line for line in result.err_lines if line.lower().startswith("error")]
    return (
        result.code != 0
        and "Traceback" not in result.err
        and len(errors) == 1
        and result.err_lines[-1] == errors[0]
    )


class Tally:
    def __init__(self) -> None:
        self.tried = 0
        self.failed = 0
        self.notes: list[str] = []
        self.started = time.monotonic()

    def case(self, ok: bool, note: str) -> None:
        self.tried += 1
        if not ok:
            self.failed += 1
            if len(self.notes) < 5:
                self.notes.append(note)

    def done(self, check: str, what: str) -> None:
        seconds = time.monotonic() - self.started
        detail = f"{what}; {seconds:.1f} s" + (f"; e.g. {self.notes}" if self.notes else "")
        record(check, self.tried, self.failed, detail)
        assert self.failed == 0, self.notes


# -- 1. a node on another chain ------------------------------------------------------------------


def test_wrong_chain_id_gets_no_signature(world: World, proxy: LyingRpc, tmp_path: Path) -> None:
    rng = random.Random(8101)
    home = tmp_path / "h"
    home_via(home, proxy.url, world).close()
    cli = cli_for(home, proxy.url)
    usdc = world.manifest.tokens["USDC"].address
    dev1 = world.address("dev:1")
    tally = Tally()

    def api_send(s: Any) -> None:
        s.send("dev", "dev:1", rng.randrange(1, E18))

    def api_token(s: Any) -> None:
        s.defi.execute(s.defi.transfer("dev", usdc, "dev:1", amount_text(rng)))

    def api_batch(s: Any) -> None:
        rows = [BatchRow(n + 1, dev1, rng.randrange(1, 10**15)) for n in range(3)]
        s.chain.send_batch("dev", world.address("dev"), rows, batch_id=f"b{rng.random()}")

    def api_legacy(s: Any) -> None:
        s.send("dev", "dev:1", 1, legacy=True)

    for n in range(budget(8, 80)):
        proxy.honest()
        wrong = rng.choice([1, 5, 10, 137, 8453, 31338, 2**32, rng.randrange(1, 2**53)])
        proxy.lies.chain_id = wrong if wrong != CHAIN_ID else 1
        mark = len(proxy.sent)
        op = n % 6
        if op < 4:
            s = home_via(home, proxy.url, world)
            try:
                [api_send, api_token, api_batch, api_legacy][op](s)
                refused, why = False, "no error"
            except ChainIdMismatch as exc:
                refused, why = exc.actual == proxy.lies.chain_id, str(exc)
            except WalletimError as exc:  # the world is not found on "another chain": also fine
                refused, why = True, str(exc)
            finally:
                s.close()
        elif op == 4:
            result = cli("send", "--from", "dev", "dev:1", "0.01")
            refused, why = one_clean_line(result) and "chain id" in result.err, result.err
        else:
            result = cli("send", "--from", "dev", "--token", usdc, "dev:1", amount_text(rng))
            refused, why = one_clean_line(result), result.err
        sent = signed_since(proxy, mark)
        tally.case(refused and not sent, f"op {op}, chain {proxy.lies.chain_id}: {why[:120]}")
    tally.done(
        "lying RPC: wrong chain id (no signature)",
        "API send/token/batch/legacy and CLI send/send --token; eth_chainId and net_version lie",
    )


# -- 2. spoofed nonces ---------------------------------------------------------------------------


def test_spoofed_nonce_is_refused_or_never_reuses_one(
    world: World, proxy: LyingRpc, tmp_path: Path
) -> None:
    rng = random.Random(8102)
    home = tmp_path / "h"
    s = home_via(home, proxy.url, world)
    cli = cli_for(home, proxy.url)
    spec, to = "dev:7", world.address("dev:8")
    sender = world.address(spec)
    tally = Tally()
    kinds = ["lower", "higher-absurd", "both-absurd", "higher-small", "latest-lower"]
    try:
        for n in range(budget(10, 100)):
            proxy.honest()
            s.send(spec, to, 1)  # honest history: this home's records and the chain agree
            truth = int(proxy.call_upstream("eth_getTransactionCount", [sender, "pending"]), 16)
            kind = kinds[n % len(kinds)]
            if kind == "lower":
                low = rng.randrange(0, truth)
                proxy.lies.nonce_pending = lambda _n, low=low: low
                proxy.lies.nonce_latest = rng.choice([None, lambda _n, low=low: low])
            # A jump is absurd past NONCE_SLACK plus this home's own open transactions (a lie
            # "higher-small" leaves some: swallowed, they stay pending until a later send
            # finds them gone and reuses their nonces).
            least = NONCE_SLACK + 1 + len(s.chain.repo.open_transactions(CHAIN_ID, sender))
            if kind == "higher-absurd":
                jump = rng.choice([least, least + 1000, rng.randrange(least, 10**9)])
                proxy.lies.nonce_pending = lambda n, jump=jump: n + jump
            elif kind == "both-absurd":
                jump = rng.choice([least, rng.randrange(least, 10**9)])
                proxy.lies.nonce_pending = lambda n, jump=jump: n + jump
                proxy.lies.nonce_latest = lambda n, jump=jump: n + jump
            elif kind == "higher-small":
                jump = rng.randrange(1, NONCE_SLACK + 1)
                proxy.lies.nonce_pending = lambda n, jump=jump: n + jump
                proxy.lies.swallow_sends = True  # keep the node's queue clean for later cases
            else:
                proxy.lies.nonce_latest = lambda n: max(0, n - rng.randrange(1, 5))
            mark = len(proxy.sent)
            via = rng.choice(["api", "batch", "cli"])
            refused, why = False, ""
            if via == "api":
                try:
                    s.send(spec, to, rng.randrange(1, 10**15), wait=False)
                except SuspiciousNonce as exc:
                    refused, why = True, str(exc)
            elif via == "batch":
                rows = [BatchRow(k + 1, to, rng.randrange(1, 10**12)) for k in range(2)]
                try:
                    s.chain.send_batch(spec, sender, rows, batch_id=f"n{n}", wait=False)
                except SuspiciousNonce as exc:
                    refused, why = True, str(exc)
            else:
                result = cli("send", "--from", spec, "--no-wait", "dev:8", "1wei")
                refused = one_clean_line(result) and "nonce" in result.err
                why = result.err
            sent = signed_since(proxy, mark)
            reused = [t.nonce for t in sent if t.nonce < truth]
            must_refuse = kind in ("lower", "higher-absurd", "both-absurd")
            ok = not reused and (
                (refused and not sent) if must_refuse else (bool(sent) and not refused)
            )
            if kind == "latest-lower":
                ok = ok and all(t.nonce == truth + k for k, t in enumerate(sent))
            tally.case(ok, f"{kind} via {via}: truth {truth}, signed {[t.nonce for t in sent]}")
            if not ok and why:
                tally.notes.append(why[:160])
    finally:
        s.close()
    tally.done(
        "lying RPC: spoofed nonce (refused, never a used nonce)",
        "lower than mined / far above latest / latest far above the home's records refused; "
        "small lies never reuse a nonce; API send, batch, CLI",
    )


def test_a_devnet_started_afresh_is_not_taken_for_a_lie(tmp_path: Path) -> None:
    """The same chain id, a new chain that never saw this home's transactions (a devnet run
    again): its low nonce is the truth there, not a lie (the node has no receipt of them)."""
    from walletim.app.devnet import Anvil

    home = tmp_path / "h"
    with Anvil.start() as first:
        s = home_via(home, first.url, None)
        done = [s.send("dev:3", "dev:4", 1).nonce for _ in range(3)]
        s.close()
    with Anvil.start() as again:
        s = home_via(home, again.url, None)
        try:
            fresh = s.send("dev:3", "dev:4", 2)
        finally:
            s.close()
    assert done == [0, 1, 2] and fresh.status == "mined" and fresh.nonce == 0


# -- 3. absurd fees ------------------------------------------------------------------------------


def test_absurd_fee_suggestions_are_refused(world: World, proxy: LyingRpc, tmp_path: Path) -> None:
    rng = random.Random(8103)
    home = tmp_path / "h"
    s = home_via(home, proxy.url, world)
    cli = cli_for(home, proxy.url)
    spec = "dev:4"
    to = world.address("dev:5")
    sender = world.address(spec)
    tally = Tally()
    kinds = ["base", "reward", "gas-price", "priority-only", "moderate", "explicit", "speedup"]
    try:
        for n in range(budget(14, 140)):
            proxy.honest()
            kind = kinds[n % len(kinds)]
            absurd = rng.choice(
                [10_000 * GWEI, MAX_SUGGESTED_FEE_PER_GAS + 1, rng.randrange(1001, 10**7) * GWEI]
            )
            explicit: int | None = None
            target = None
            if kind == "speedup":  # a pending transaction (swallowed), then the lie
                proxy.lies.swallow_sends = True
                target = s.send(spec, to, 1, wait=False).hash
            mark = len(proxy.sent)
            if kind == "base":
                proxy.lies.base_fee = absurd // 2 + 1
            elif kind == "reward":
                proxy.lies.reward = absurd
            elif kind == "gas-price":
                proxy.lies.gas_price = absurd
            elif kind == "priority-only":  # walletim does not use eth_maxPriorityFeePerGas
                proxy.lies.priority_fee = absurd
            elif kind == "moderate":
                proxy.lies.base_fee = rng.randrange(2, 400) * GWEI
            elif kind == "explicit":
                proxy.lies.base_fee = absurd
                explicit = rng.randrange(1001, 3000) * GWEI
            else:
                proxy.lies.base_fee = absurd
            via = rng.choice(["api", "cli"]) if kind not in ("speedup", "explicit") else "api"
            refused, why = False, ""
            legacy = kind == "gas-price"
            try:
                if kind == "speedup":
                    assert target is not None
                    s.chain.speedup(target, s.account_for)
                elif via == "api":
                    if kind == "explicit":  # under the lie's base fee: signed only forced
                        s.send(spec, to, 1, max_fee=explicit, priority_fee=GWEI, wait=False,
                               force=True)  # fmt: skip
                    elif rng.random() < 0.3 and not legacy:
                        rows = [BatchRow(1, to, 5), BatchRow(2, to, 6)]
                        s.chain.send_batch(spec, sender, rows, batch_id=f"f{n}", wait=False)
                    else:
                        s.send(spec, to, rng.randrange(1, 10**15), legacy=legacy, wait=False)
                else:
                    args = ["send", "--from", spec, "--no-wait", "dev:5", "0.001"]
                    result = cli(*args, *(["--legacy"] if legacy else []))
                    refused = one_clean_line(result) and "suggests" in result.err
                    why = result.err
            except SuggestedFeeTooHigh as exc:
                refused, why = True, str(exc)
            sent = signed_since(proxy, mark)
            over = [t.max_fee for t in sent if t.max_fee > MAX_SUGGESTED_FEE_PER_GAS]
            if kind in ("base", "reward", "gas-price"):
                ok = refused and not sent
            elif kind == "explicit":
                ok = [t.max_fee for t in sent] == [explicit]
            else:  # signed, but never above the limit
                ok = not refused and bool(sent) and not over
            tally.case(
                ok, f"{kind} via {via}: lie {absurd}, signed fees {[t.max_fee for t in sent]}"
            )
            if not ok and why:
                tally.notes.append(why[:160])
            if kind in ("moderate", "priority-only") and sent:
                proxy.honest()  # let what was really broadcast be mined before the next case
                for t in s.chain.repo.open_transactions(CHAIN_ID, sender):
                    s.chain.refresh(t.hash)
    finally:
        s.close()
    tally.done(
        "lying RPC: absurd fee suggestion (refused)",
        "feeHistory base fee / rewards, eth_gasPrice (--legacy) above 1,000 gwei refused; "
        "eth_maxPriorityFeePerGas unused; speedup ignores the lie; explicit --max-fee honoured",
    )


# -- 4. fake token decimals and symbol when paying ------------------------------------------------


def _unpinned_copies(world: World) -> dict[str, Any]:
    """USDC and DAI deployed again by an ordinary CREATE (the same code, other addresses: no
    world pins them), with 10,000 of each for dev:1 .. dev:3."""
    from eth_abi.abi import encode

    from walletim.app.world import (
        ANVIL_ACCOUNT_0,
        ANVIL_ACCOUNTS,
        FIXTURES,
        TokenInfo,
        _selector_call,
        artifact_bytecode,
    )

    rpc = world.anvil.rpc()
    code = artifact_bytecode(FIXTURES + "WalletimToken.json")
    out = {}
    for symbol, decimals, name in (("USDC", 6, "USD Coin"), ("DAI", 18, "Dai Stablecoin")):
        args = encode(
            ["string", "string", "uint8", "address"], [name, symbol, decimals, ANVIL_ACCOUNT_0]
        )
        h = rpc.call(
            "eth_sendTransaction", [{"from": ANVIL_ACCOUNT_0, "data": "0x" + (code + args).hex()}]
        )
        address = wait_receipt(rpc, h)["contractAddress"]
        for account in ANVIL_ACCOUNTS[1:4]:
            mint = _selector_call("mint(address,uint256)", account, 10_000 * 10**decimals)
            tx = {"from": ANVIL_ACCOUNT_0, "to": address, "data": "0x" + mint.hex()}
            wait_receipt(rpc, rpc.call("eth_sendTransaction", [tx]))
        out[symbol] = TokenInfo(address, decimals, name)
    return out


def test_fake_token_metadata_never_scales_what_is_signed_unseen(
    world: World, proxy: LyingRpc, tmp_path: Path
) -> None:
    rng = random.Random(8104)
    pinned_home, bare_home = tmp_path / "pinned", tmp_path / "bare"
    home_via(pinned_home, proxy.url, world).close()
    home_via(bare_home, proxy.url, None).close()
    cli_pinned, cli_bare = cli_for(pinned_home, proxy.url), cli_for(bare_home, proxy.url)
    # Every home on the devnet pins the world's own USDC and DAI (recognised by code hash):
    # the unpinned case uses copies of them that the world does not vouch for, at addresses
    # of their own, where the node's word is all there is.
    tokens = world.manifest.tokens
    unpinned = _unpinned_copies(world)
    tally = Tally()
    for n in range(budget(12, 120)):
        proxy.honest()
        symbol = rng.choice(["USDC", "DAI"])
        use_pinned = n % 2 == 0
        info = tokens[symbol] if use_pinned else unpinned[symbol]
        lie = rng.choice([d for d in (0, 2, 6, 8, 12, 18, 24, 30) if d != info.decimals])
        fake_symbol = rng.choice(["DAI", "USDC", "ETH", "WETH", "USD₮"])
        proxy.lies.decimals[info.address.lower()] = lie
        proxy.lies.symbol[info.address.lower()] = fake_symbol
        text = amount_text(rng)
        via = rng.choice(["api", "cli"])
        expected = units(text, info.decimals if use_pinned else lie)
        spec = f"dev:{1 + n % 3}"
        mark = len(proxy.sent)
        shown = ""
        if via == "api":
            # A session asks a token's metadata once (then caches it): a fresh one per
            # case, so this case's lie is the one it hears.
            s = home_via(pinned_home if use_pinned else bare_home, proxy.url, None)
            token = rng.choice([symbol, info.address]) if use_pinned else info.address
            try:
                plan = s.defi.transfer(spec, token, "dev:6", text)
                shown = " ".join(plan.notes)
                s.defi.execute(plan)
            except WalletimError as exc:  # more than the balance: refused before signing
                shown = shown or str(exc)
            finally:
                s.close()
        else:
            cli = cli_pinned if use_pinned else cli_bare
            token = symbol if use_pinned else info.address
            result = cli("send", "--from", spec, "--token", token, "dev:6", text)
            shown = result.err
        sent = signed_since(proxy, mark)
        amounts = [transfer_amount(t.data) for t in sent]
        # What was signed is the amount the user typed in the token's real decimals where
        # this home pins them; else in the decimals the node gave, which the confirmation
        # then shows next to the exact base units signed.
        decimals_used = info.decimals if use_pinned else lie
        ok = all(a == expected for a in amounts) and len(amounts) <= 1
        if amounts:
            ok = ok and f"{decimals_used} decimals" in shown and f"= {expected} base" in shown
            ok = ok and ("pinned" in shown) == use_pinned
        tally.case(
            ok,
            f"{symbol} pinned={use_pinned} via {via}: {text} lie {lie} -> signed {amounts}, "
            f"expected {expected}; shown {shown[-160:]!r}",
        )
    tally.done(
        "lying RPC: fake token decimals/symbol (amount never scaled unseen)",
        "pinned tokens use the manifest's decimals; others show decimals and base units in the "
        "confirmation; API transfer and CLI send --token",
    )


# -- 5. payments in a chat, checked through a lying node -----------------------------------------


@dataclass
class Person:
    spec: str
    session: Any

    @property
    def address(self) -> str:
        return str(self.session.wallets.account(self.spec).address)


@pytest.fixture
def pair(
    world: World, proxy: LyingRpc, relay: RelayProcess, tmp_path: Path
) -> Iterator[tuple[Person, Person, Person]]:
    """alice (honest node), bob (through the proxy, pins the world), carol (honest)."""
    from walletim.app.session import Session
    from walletim.app.world import save_world

    out = []
    for n, name in enumerate(("alice", "bob", "carol")):
        home = tmp_path / name
        url = proxy.url if name == "bob" else world.url
        s = Session(home, HOME_PASSWORD, rpc_url=url, relay_url=relay.url, fast_kdf=True)
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        save_world(home, world.manifest)
        s.chat.init(f"dev:{n}")
        out.append(Person(f"dev:{n}", s))
    accept_each_other(out)  # they pay each other: money between them is not a stranger's
    for p in out:  # ... and have talked: each holds the others' delivery keys (whole mailbox)
        for other in out:
            if other is not p:
                p.session.chat.send(p.spec, other.address, "hi")
    for p in out:
        p.session.chat.inbox(p.spec)
    try:
        yield out[0], out[1], out[2]
    finally:
        for p in out:
            p.session.close()


def _claim(p: Person, tx: str, payee: str, amount: int, asset: Any = None) -> dict[str, Any]:
    from walletim.messaging.kinds import Asset, PaymentClaim, payment_typed_data

    a = asset or Asset(None, "ETH", 18)
    doc = payment_typed_data(CHAIN_ID, tx, p.address, payee, a.address, amount, None, "")
    sig = p.session.wallets.sign_typed_data(p.spec, doc, allow_any_chain=True)  # chain in message
    claim = PaymentClaim(
        CHAIN_ID, tx, p.address, payee, a, amount, "", None, "0x" + bytes(sig.bytes).hex()
    )
    return dict(claim.to_json())


def _deliver(alice: Person, bob: Person, claim: dict[str, Any]) -> Any:
    """alice says it in the chat; bob fetches it (his client checks it through the proxy)."""
    alice.session.chat.send_payload(alice.spec, bob.address, "payment", claim, "paid")
    got = bob.session.chat.inbox(bob.spec)
    [message] = [r.message for r in got.received]
    row = bob.session.wim.repo.payment_for_message(message.id)
    assert row is not None
    return row


def _log(token: str, src: str, dst: str, amount: int, block: dict[str, Any], tx: str) -> Any:
    return {
        "address": token.lower(),
        "topics": [
            TRANSFER_TOPIC,
            "0x" + src[2:].lower().rjust(64, "0"),
            "0x" + dst[2:].lower().rjust(64, "0"),
        ],
        "data": "0x" + amount.to_bytes(32, "big").hex(),
        "blockHash": block["hash"],
        "blockNumber": block["number"],
        "transactionHash": tx,
        "transactionIndex": "0x0",
        "logIndex": "0x0",
        "removed": False,
    }


def _fake_pair(
    tx: str, src: str, dst: str, value: int, block: dict[str, Any], logs: list[Any], to: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A made-up transaction and receipt for ``tx``, mined (so it says) in ``block``."""
    fake_tx = {
        "hash": tx, "type": "0x2", "chainId": hex(CHAIN_ID), "nonce": "0x0", "gas": "0x5208",
        "maxFeePerGas": "0x77359400", "maxPriorityFeePerGas": "0x1", "gasPrice": "0x77359400",
        "from": src.lower(), "to": to.lower(), "value": hex(value), "input": "0x",
        "accessList": [], "v": "0x0", "yParity": "0x0", "r": "0x" + "11" * 32,
        "s": "0x" + "22" * 32, "blockHash": block["hash"], "blockNumber": block["number"],
        "transactionIndex": "0x0",
    }  # fmt: skip
    receipt = {
        "type": "0x2", "status": "0x1", "cumulativeGasUsed": "0x5208", "logs": logs,
        "logsBloom": "0x" + "00" * 256, "transactionHash": tx, "transactionIndex": "0x0",
        "blockHash": block["hash"], "blockNumber": block["number"], "gasUsed": "0x5208",
        "effectiveGasPrice": "0x77359400", "from": src.lower(), "to": to.lower(),
        "contractAddress": None,
    }  # fmt: skip
    return fake_tx, receipt


def test_fake_receipts_and_transactions_never_verify_a_payment(
    world: World, proxy: LyingRpc, pair: tuple[Person, Person, Person], tmp_path: Path
) -> None:
    from walletim.app.contracts import calldata
    from walletim.messaging.kinds import Asset

    rng = random.Random(8105)
    alice, bob, carol = pair
    rpc = world.anvil.rpc()
    usdc = world.manifest.tokens["USDC"].address
    usdc_asset = Asset(usdc, "USDC", 6)
    tally = Tally()

    # The control: an honest payment through the same proxy is verified.
    paid = alice.session.send(alice.spec, bob.address, E18 // 100)
    row = _deliver(alice, bob, _claim(alice, paid.hash, bob.address, E18 // 100))
    assert row.state == "verified", row.reason
    true_claims = {paid.hash.lower()}  # claims the chain does hold (only the node lied)

    kinds = [
        "made-up-eth", "made-up-token", "value", "recipient", "sender", "block-number",
        "block-hash", "status-and-log", "token-metadata",
    ]  # fmt: skip
    for n in range(budget(18, 180)):
        proxy.honest()
        kind = kinds[n % len(kinds)]
        amount = rng.randrange(1, 10**17)
        latest = rpc.get_block("latest")
        assert latest is not None
        if kind in ("made-up-eth", "made-up-token"):
            tx = "0x" + rng.randbytes(32).hex()
            token = kind == "made-up-token"
            logs = [_log(usdc, alice.address, bob.address, amount, latest, tx)] if token else []
            fake_tx, receipt = _fake_pair(
                tx, alice.address, bob.address, 0 if token else amount, latest, logs,
                usdc if token else bob.address,
            )  # fmt: skip
            proxy.lies.txs[tx] = fake_tx
            proxy.lies.receipts[tx] = receipt
            raw_lie = rng.choice(["absent", "unsupported", "other"])
            if raw_lie == "unsupported":
                proxy.lies.raws[tx] = UNSUPPORTED
            elif raw_lie == "other":
                proxy.lies.raws[tx] = rpc.call("eth_getRawTransactionByHash", [paid.hash])
            if rng.random() < 0.5:  # and list it in the real block (its header still hashes)
                proxy.lies.block_inserts[str(latest["hash"]).lower()] = [tx]
            claim = _claim(alice, tx, bob.address, amount, usdc_asset if token else None)
            what = f"{kind} (raw {raw_lie})"
        elif kind == "value":
            real = alice.session.send(alice.spec, bob.address, amount)
            said = amount * rng.randrange(2, 1000)
            proxy.lies.tx_edits[real.hash] = {"value": hex(said)}
            if rng.random() < 0.5:
                proxy.lies.raws[real.hash] = UNSUPPORTED
            claim = _claim(alice, real.hash, bob.address, said)
            what = f"value {amount} said {said}"
        elif kind == "recipient":  # alice paid carol; the node says bob
            real = alice.session.send(alice.spec, carol.address, amount)
            proxy.lies.tx_edits[real.hash] = {"to": bob.address.lower()}
            proxy.lies.receipt_edits[real.hash] = {"to": bob.address.lower()}
            if rng.random() < 0.5:
                proxy.lies.raws[real.hash] = UNSUPPORTED
            claim = _claim(alice, real.hash, bob.address, amount)
            what = "recipient"
        elif kind == "sender":  # carol paid bob; the node says alice did, alice claims it
            real = carol.session.send(carol.spec, bob.address, amount)
            proxy.lies.tx_edits[real.hash] = {"from": alice.address.lower()}
            proxy.lies.receipt_edits[real.hash] = {"from": alice.address.lower()}
            if rng.random() < 0.5:
                proxy.lies.raws[real.hash] = UNSUPPORTED
            claim = _claim(alice, real.hash, bob.address, amount)
            what = "sender"
        elif kind in ("block-number", "block-hash"):
            # A real payment whose receipt points elsewhere: the node wants it counted as
            # deeper (more confirmations) or in a block of its own making.
            real = alice.session.send(alice.spec, bob.address, amount)
            if kind == "block-number":
                number = rng.randrange(0, int(latest["number"], 16))
                proxy.lies.receipt_edits[real.hash] = {"blockNumber": hex(number)}
            else:
                proxy.lies.receipt_edits[real.hash] = {"blockHash": "0x" + rng.randbytes(32).hex()}
            claim = _claim(alice, real.hash, bob.address, amount)
            true_claims.add(real.hash.lower())
            what = kind
        elif kind == "status-and-log":  # a reverted token transfer shown as a success
            data = calldata("transfer(address,uint256)", bob.address, 10**15)  # > her balance
            tx = rpc.call(
                "eth_sendTransaction",
                [{"from": alice.address, "to": usdc, "data": "0x" + data.hex(), "gas": hex(10**5)}],
            )
            block = rpc.get_block(int(wait_receipt(rpc, tx)["blockNumber"], 16))
            assert block is not None
            proxy.lies.receipt_edits[tx] = {
                "status": "0x1",
                "logs": [_log(usdc, alice.address, bob.address, 10**15, block, tx)],
            }
            claim = _claim(alice, tx, bob.address, 10**15, usdc_asset)
            what = "status-and-log"
        else:  # token-metadata: a real USDC payment claimed as 18-decimal "DAI"; node agrees
            sent = alice.session.defi.execute(
                alice.session.defi.transfer(alice.spec, "USDC", bob.address, "1")
            )
            fake = Asset(usdc, rng.choice(["DAI", "USDC"]), rng.choice([0, 2, 8, 18]))
            proxy.lies.decimals[usdc.lower()] = fake.decimals
            proxy.lies.symbol[usdc.lower()] = fake.symbol
            claim = _claim(alice, sent.hash, bob.address, 10**6, fake)
            what = f"token-metadata {fake.symbol}/{fake.decimals}"
        row = _deliver(alice, bob, claim)
        tally.case(row.state != "verified", f"{what}: {row.state} ({row.reason[:120]})")

    # The CLI shows the same: through the proxy, nothing false is verified; `payments`
    # checks the pending ones again (with the last lie still on, then with none: a true claim
    # the node had lied about may then verify, a false one never).
    cli = cli_for(tmp_path / "bob", proxy.url)
    for lying in (True, False):
        if not lying:
            proxy.honest()
        result = cli("--json", "payments", "--from", bob.spec)
        assert result.code == 0, result.err
        verified = {p["hash"] for p in result.json()["payments"] if p["state"] == "verified"}
        tally.case(
            paid.hash.lower() in verified and verified <= true_claims,
            f"CLI payments (lying={lying}) verified false claims {verified - true_claims}",
        )
    tally.done(
        "lying RPC: fake receipt/transaction (no payment verified)",
        "made-up tx + receipt (ETH, token; raw absent/unsupported/another; listed in a real "
        "block), altered value/to/from/blockNumber/blockHash, reverted shown as success with a "
        "fake Transfer log, lying token metadata; chat inbox + CLI payments",
    )


def test_altered_log_amount_is_caught_by_the_receipts_root(
    world: World, proxy: LyingRpc, pair: tuple[Person, Person, Person]
) -> None:
    """A real 1 USDC payment claimed as N USDC, the node altering the Transfer log's amount
    (the bloom covers addresses and topics, not data): the receipts root catches it."""
    from walletim.messaging.kinds import Asset

    rng = random.Random(8106)
    alice, bob, _carol = pair
    usdc = world.manifest.tokens["USDC"].address
    tally = Tally()
    for _ in range(budget(2, 10)):
        proxy.honest()
        sent = alice.session.defi.execute(
            alice.session.defi.transfer(alice.spec, "USDC", bob.address, "1")
        )
        said = rng.randrange(2, 1000) * 10**6
        receipt = world.anvil.rpc().get_transaction_receipt(sent.hash)
        assert receipt is not None
        logs = [dict(log) for log in receipt["logs"]]
        logs[0]["data"] = "0x" + said.to_bytes(32, "big").hex()
        proxy.lies.receipt_edits[sent.hash] = {"logs": logs}
        row = _deliver(
            alice, bob, _claim(alice, sent.hash, bob.address, said, Asset(usdc, "USDC", 6))
        )
        tally.case(row.state != "verified", f"said {said}: {row.state}")
    tally.done(
        "lying RPC: altered Transfer log amount (caught by the header's receiptsRoot)",
        "a real 1 USDC transfer; the node rewrites the Transfer log's data to the claimed amount",
    )


def test_a_node_without_block_receipts_still_verifies_and_still_catches_lies(
    world: World, proxy: LyingRpc, pair: tuple[Person, Person, Person]
) -> None:
    """No eth_getBlockReceipts (an older or trimmed node): the receipts are fetched one by
    one and checked against the same receiptsRoot, so an honest payment verifies and an
    altered Transfer amount is still caught."""
    from walletim.messaging.kinds import Asset

    alice, bob, _carol = pair
    usdc = Asset(world.manifest.tokens["USDC"].address, "USDC", 6)
    proxy.lies.unsupported = {"eth_getBlockReceipts"}
    paid = alice.session.defi.execute(
        alice.session.defi.transfer(alice.spec, "USDC", bob.address, "2")
    )
    row = _deliver(alice, bob, _claim(alice, paid.hash, bob.address, 2 * 10**6, usdc))
    assert row.state == "verified", row.reason
    assert proxy.calls["eth_getBlockReceipts"] >= 1
    lied = alice.session.defi.execute(
        alice.session.defi.transfer(alice.spec, "USDC", bob.address, "1")
    )
    receipt = world.anvil.rpc().get_transaction_receipt(lied.hash)
    assert receipt is not None
    logs = [dict(log) for log in receipt["logs"]]
    logs[0]["data"] = "0x" + (500 * 10**6).to_bytes(32, "big").hex()
    proxy.lies.receipt_edits[lied.hash] = {"logs": logs}
    row = _deliver(alice, bob, _claim(alice, lied.hash, bob.address, 500 * 10**6, usdc))
    assert row.state != "verified"


def test_chain_error_types_are_one_line(world: World, proxy: LyingRpc, tmp_path: Path) -> None:
    """The refusals above are ChainErrors (exit 3) whose message is one line."""
    s = home_via(tmp_path / "h", proxy.url, world)
    try:
        proxy.lies.base_fee = 10_000 * GWEI
        with pytest.raises(SuggestedFeeTooHigh) as fee:
            s.chain.plan(world.address("dev"), SendRequest(world.address("dev:1"), 1))
        assert fee.value.fee > 20_000 * GWEI and fee.value.limit == MAX_SUGGESTED_FEE_PER_GAS
        assert "20,001 gwei per gas" in str(fee.value) and "nothing was signed" in str(fee.value)
        proxy.honest()
        s.send("dev:9", "dev:1", 1)
        proxy.lies.nonce_pending = lambda n: 0
        with pytest.raises(SuspiciousNonce) as nonce:
            s.send("dev:9", "dev:1", 1)
        for err in (fee.value, nonce.value):
            assert isinstance(err, ChainError) and err.exit_code == 3 and "\n" not in str(err)
    finally:
        s.close()


def test_any_altered_header_or_transaction_never_checks_out(world: World) -> None:
    """Every field of a real header, every byte of a real signed transaction: changed by a
    liar, the checks of walletim.chain.evidence refuse them with InconsistentAnswer only."""
    from walletim.chain import evidence
    from walletim.chain.evidence import BASE_HEADER, FORK_HEADER
    from walletim.errors import InconsistentAnswer

    rng = random.Random(8107)
    rpc = world.anvil.rpc()
    for n in range(3):  # a few blocks with transactions of several types
        rpc.call(
            "eth_sendTransaction",
            [{"from": world.address("dev:2"), "to": world.address("dev:3"), "value": hex(n + 1)}],
        )
    legacy = rpc.call(
        "eth_sendTransaction",
        [{"from": world.address("dev:2"), "to": world.address("dev:3"), "gasPrice": hex(3 * GWEI)}],
    )
    wait_receipt(rpc, legacy)  # automine answers before it mines
    head = rpc.block_number()
    blocks = [b for b in (rpc.get_block(k) for k in range(head + 1)) if b is not None]
    txs = [
        (h, rpc.call("eth_getRawTransactionByHash", [h])) for b in blocks for h in b["transactions"]
    ]
    fields = ["hash", *(name for name, _kind in (*BASE_HEADER, *FORK_HEADER))]
    tally = Tally()
    for _ in range(budget(300, 5000)):
        if rng.random() < 0.5:
            real = rng.choice(blocks)
            block = dict(real)
            name = rng.choice([f for f in fields if block.get(f) is not None])
            block[name] = _flip_hex_digit(str(block[name]), rng)
            try:
                evidence.check_header(block, str(real["hash"]), int(real["number"], 16))
                tally.case(False, f"header with {name} changed passed")
            except InconsistentAnswer:
                tally.case(True, "")
            except Exception as exc:  # anything but InconsistentAnswer is a bug
                tally.case(False, f"header {name}: {type(exc).__name__}: {exc}")
        else:
            tx_hash, raw_hex = rng.choice(txs)
            raw = bytearray(bytes.fromhex(raw_hex[2:]))
            at = rng.randrange(len(raw))
            raw[at] ^= rng.randrange(1, 256)
            try:
                evidence.verified_transaction(tx_hash, bytes(raw))
                tally.case(False, f"transaction with byte {at} changed passed")
            except InconsistentAnswer:
                tally.case(True, "")
            except Exception as exc:
                tally.case(False, f"tx byte {at}: {type(exc).__name__}: {exc}")
            try:  # decoding alone may yield another transaction, never another error
                evidence.decode_signed(bytes(raw))
            except InconsistentAnswer:
                pass
            except Exception as exc:
                tally.case(False, f"decoding tx byte {at}: {type(exc).__name__}: {exc}")
    # and the unchanged ones pass
    for block in blocks:
        evidence.check_header(block, str(block["hash"]), int(block["number"], 16))
    for tx_hash, raw_hex in txs:
        assert evidence.verified_transaction(tx_hash, bytes.fromhex(raw_hex[2:])).hash == tx_hash
    tally.done(
        "lying RPC: altered header field / signed transaction byte (never checks out)",
        f"{len(blocks)} real headers (Prague fields), {len(txs)} real transactions (types 0, 2)",
    )


def _flip_hex_digit(value: str, rng: random.Random) -> str:
    """``value`` (0x-hex) with one digit changed (``0x`` becomes ``0x01``)."""
    digits = list(value[2:])
    if not digits:
        return "0x01"
    at = rng.randrange(len(digits))
    digits[at] = rng.choice([d for d in "0123456789abcdef" if d != digits[at].lower()])
    return "0x" + "".join(digits)


def test_a_transfer_to_an_address_without_code_is_never_shown_failed_on_the_nodes_word(
    anvil: Any, tmp_path: Path
) -> None:
    """A node answering a receipt with status 0 for a plain transfer that succeeded made
    `send` and `tx status` say "failed" (exit 3): the user sent again and paid twice. A
    transfer to an address that holds no code cannot fail, so such a receipt is a lie, one
    line naming the transaction, and the transaction is not recorded failed; a transfer to
    a contract that reverted still reads failed."""
    from walletim.errors import InconsistentAnswer

    with LyingRpc(anvil.url) as proxy:
        s = home_via(tmp_path / "h", proxy.url, None)
        try:
            sent = s.send("dev", "dev:1", 10**15, wait=False)
            wait_receipt(anvil.rpc(), sent.hash)
            proxy.lies.receipt_edits[sent.hash] = {"status": "0x0"}
            with pytest.raises(InconsistentAnswer, match=sent.hash):
                s.chain.refresh(sent.hash)
            assert s.chain.repo.get(sent.hash).status == "pending"  # type: ignore[union-attr]
            shown = cli_for(tmp_path / "h", proxy.url)("tx", "status", sent.hash)
            assert "failed" not in shown.out and "does not check out" in shown.out + shown.err
            proxy.honest()
            assert s.chain.refresh(sent.hash).status == "mined"
            # A contract that reverts when the transfer is mined: failed, on the node's word.
            target = "0x" + "77" * 20
            anvil.rpc().call("anvil_setCode", [target, "0x00"])
            anvil.rpc().call("evm_setAutomine", [False])
            reverted = s.send("dev", target, 1, gas_limit=60_000, wait=False)
            anvil.rpc().call("anvil_setCode", [target, "0x60006000fd"])
            anvil.rpc().call("anvil_mine", ["0x1"])
            assert s.chain.refresh(reverted.hash).status == "failed"
        finally:
            s.close()
