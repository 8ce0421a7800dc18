"""The main job, end to end, in a throwaway home (``walletim demo`` / ``make demo``).

Keys: create two wallets, derive addresses on two standard paths, export a v3 keystore and
import it on a second home (the first refuses a key it holds), sign a message and EIP-712
typed data, and verify both.
Chain: start a local Anvil devnet with its DeFi world, import Anvil's public test mnemonic
(a TEST key, funded by Anvil; never use it for real funds), send ETH (EIP-1559 and legacy),
a pipelined batch, show the history from the encrypted store; swap ETH for USDC on Uniswap V2,
stake DAI in the ERC-4626 vault, list approvals (and approve and revoke one); stop the devnet.
Chat: start a relay, give bob his own home (his wallet restored from its mnemonic, which
restores his chat identity too), publish both identities, chat both ways end to end
encrypted, compare safety numbers, and check the relay's database holds no plaintext.
Everything happens in a temporary directory that is deleted afterwards; the password is
random and never shown.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from walletim.app.session import Session
from walletim.app.wallets import WalletInfo, Wallets
from walletim.errors import KeyAlreadyHeld
from walletim.keys import signing

#: A small EIP-712 document of the demo's own (the EIP's "Mail" example lives in the tests).
DEMO_TYPED_DATA: dict[str, object] = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
        ],
        "Greeting": [
            {"name": "to", "type": "address"},
            {"name": "text", "type": "string"},
            {"name": "round", "type": "uint256"},
        ],
    },
    "primaryType": "Greeting",
    "domain": {"name": "walletim demo", "version": "1", "chainId": 31337},
    "message": {
        "to": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "text": "gm from the demo",
        "round": 1,
    },
}


def run_demo(
    say: Callable[[str], None] = print, *, fast_kdf: bool = False, keep: Path | None = None
) -> dict[str, object]:
    """Run the demo; ``say`` gets each line; a summary for --json. ``keep``: see app_hint."""
    home = _demo_dir(keep)
    summary: dict[str, object] = {"home": str(home)}
    try:
        password = secrets.token_urlsafe(18)  # random, never shown
        wallets = Wallets(home / "home", password, fast_kdf=fast_kdf)
        say(f"1. A throwaway home in {home} (random password, deleted at the end).")
        alice = wallets.create("alice")
        bob = wallets.create("bob", words=24)
        say(f"2. Created wallet alice (12 words): {alice.info.address}")
        say(f"   Created wallet bob   (24 words): {bob.info.address}")
        accounts = wallets.addresses("alice", count=3)
        say("3. alice's first accounts on MetaMask's path (from her wallet file, its MAC checked):")
        for a in accounts:
            say(f"     {a.path:<22} {a.address}")
        ledger = wallets.addresses("alice", count=2, template="ledger-live")
        say("   and on Ledger Live's path:")
        for a in ledger:
            say(f"     {a.path:<22} {a.address}")
        imported = _keystore_round_trip(wallets, home, password, fast_kdf, say)
        text = "gm from walletim"
        sig = wallets.sign_message("alice", text.encode())
        ok = signing.verify_message(alice.info.address, text.encode(), sig.bytes)
        say(f"5. alice signed {text!r} (EIP-191): {sig.hex[:20]}...  verified: {ok}")
        typed = wallets.sign_typed_data("bob", DEMO_TYPED_DATA)
        ok712 = signing.verify_typed_data(bob.info.address, DEMO_TYPED_DATA, typed.bytes)
        say(f"6. bob signed an EIP-712 Greeting: {typed.hex[:20]}...  verified: {ok712}")
        forged = signing.verify_message(bob.info.address, text.encode(), sig.bytes)
        say(f"7. alice's signature checked as bob's: verified: {forged} (as it should be)")
        summary.update(
            wallets=[alice.info.address, bob.info.address],
            keystore_roundtrip=imported.address == accounts[1].address,
            message_signature_valid=ok,
            typed_data_signature_valid=ok712,
            cross_check_rejected=not forged,
        )
        if not (ok and ok712 and not forged and summary["keystore_roundtrip"]):
            raise RuntimeError("the demo's own checks failed")
        summary.update(run_chain_demo(home, password, say, fast_kdf=fast_kdf))
        bob_password = secrets.token_urlsafe(18)
        summary.update(
            run_chat_demo(home, password, bob.mnemonic, say, bob_password, fast_kdf=fast_kdf)
        )
        summary.update(run_wim_demo(home, password, bob_password, say, fast_kdf=fast_kdf))
        say("Done: every step checked.")
        if keep is not None:  # the homes stay, each with its password in a 0600 file
            summary["kept"] = app_hint(home, {"home": password, "bob-home": bob_password}, say)
        return summary
    finally:
        if keep is None:
            shutil.rmtree(home, ignore_errors=True)


def _keystore_round_trip(
    wallets: Wallets, home: Path, password: str, fast_kdf: bool, say: Callable[[str], None]
) -> WalletInfo:
    """Step 4: alice:1 as a v3 keystore, imported on a second home (another machine); the
    first home refuses it, a key it already holds."""
    keystore_file = home / "alice-1.json"
    ks_password = secrets.token_urlsafe(12)
    wallets.export_keystore("alice:1", keystore_file, ks_password)
    laptop = Wallets(home / "laptop", password, fast_kdf=fast_kdf)
    imported = laptop.import_keystore("alice-1", keystore_file.read_bytes(), ks_password)
    kdf = json.loads(keystore_file.read_text())["crypto"]["kdf"]
    say(f"4. Exported alice:1 as a v3 keystore ({kdf}) and imported it on a second home:")
    same = imported.address == wallets.account("alice:1").address
    say(f"     {imported.address} (same address: {same})")
    try:
        wallets.import_keystore("alice-1", keystore_file.read_bytes(), ks_password)
    except KeyAlreadyHeld as exc:
        say(f"   (importing it into the first home again is refused: {exc})")
    return imported


def _demo_dir(keep: Path | None) -> Path:
    """A throwaway directory, or ``keep`` (created; it must be new or empty)."""
    if keep is None:
        return Path(tempfile.mkdtemp(prefix="walletim-demo-"))
    from walletim.errors import InputError
    from walletim.fsio import ensure_private_dir

    if keep.exists() and any(keep.iterdir()):
        raise InputError(f"{keep} is not empty: give a new or empty directory to keep the homes")
    return ensure_private_dir(keep.absolute())


def app_hint(root: Path, passwords: dict[str, str], say: Callable[[str], None]) -> dict[str, str]:
    """Keep the demo's homes: each home's password in a 0600 file beside it (throwaway
    homes holding Anvil's public TEST keys), and tell how to open the app on them."""
    from walletim.fsio import write_private

    files = {}
    for name, password in passwords.items():
        path = root / f"{name}.password"
        write_private(path, password.encode() + b"\n")
        files[name] = str(path)
    say(f"The demo's homes are kept in {root} (the devnet and the relay have stopped: the app")
    say("shows their history and cards, offline). Open the messenger on them:")
    for name, account in (("home", "alice"), ("bob-home", "bob")):
        say(f"  walletim --home {root / name} --password-file {files[name]} app --from {account}")
    return files


def run_chain_demo(
    home: Path, password: str, say: Callable[[str], None], *, fast_kdf: bool = False
) -> dict[str, object]:
    """Part two: a devnet, sends, a batch, the history; the devnet is stopped at the end."""
    from walletim.app.devnet import ANVIL_DEFAULT_MNEMONIC, Anvil
    from walletim.app.lending.demo import run_lending_demo
    from walletim.app.world import deploy_world

    with Anvil.start() as anvil:
        say(f"8. Started a local Anvil devnet at {anvil.url} (chain id {anvil.chain_id}).")
        world = deploy_world(anvil.rpc())  # found on the chain by any home: no file to copy
        say(
            f"   Deployed its DeFi world in {world.seconds:.2f} s: WETH9 and Uniswap V2 (the "
            "published builds), USDC, DAI, pools, an ERC-4626 vault, NFTs."
        )
        with Session(home / "home", password, rpc_url=anvil.url, fast_kdf=fast_kdf) as session:
            session.wallets.import_mnemonic("devtest", ANVIL_DEFAULT_MNEMONIC)
            say("   Imported Anvil's public TEST mnemonic as wallet devtest: a test key, funded by")
            say("   Anvil, known to everyone; never send real funds to it.")
            say(f"   Its account 0: {session.wallets.account('devtest').address}")
            summary = _chain_sends(session, say)
            summary.update(_chain_batch(session, say))
            summary.update(run_defi_demo(session, say))
            summary.update(run_lending_demo(session.defi, session.lending, session.open_store, say))
    say("13. Stopped the devnet.")
    return summary


def _chain_sends(session: Session, say: Callable[[str], None]) -> dict[str, object]:
    """Step 9: one EIP-1559 and one legacy (EIP-155) transfer from the test key."""
    first = session.send("devtest", "alice", 10**18)
    say(
        f"9. Sent 1 ETH to alice (EIP-1559): {first.hash} -> {first.status}, block "
        f"{first.receipt.block_number if first.receipt else '?'}"
    )
    legacy = session.send("devtest", "bob", 5 * 10**17, legacy=True)
    say(f"   Sent 0.5 ETH to bob (legacy, EIP-155): {legacy.hash} -> {legacy.status}")
    if not (first.status == "mined" and legacy.status == "mined"):
        raise RuntimeError("the chain demo's own checks failed")
    return {"chain_sends_mined": True}


def _chain_batch(session: Session, say: Callable[[str], None]) -> dict[str, object]:
    """Steps 10-11: a pipelined batch run twice (nothing paid twice), then the history."""
    from walletim.app.chain import BatchRow
    from walletim.chain.units import format_amount

    dev = session.wallets.account("devtest")
    alice = session.wallets.account("alice").address
    bob = session.wallets.account("bob").address
    rows = [BatchRow(n + 1, alice if n % 2 else bob, 10**16) for n in range(20)]
    results = session.chain.send_batch("devtest", dev.address, rows, batch_id="demo-batch")
    mined = sum(1 for r in results if r.status == "mined")
    say(f"10. A pipelined batch of {len(rows)} transfers: {mined} mined.")
    rerun = session.chain.send_batch("devtest", dev.address, rows, batch_id="demo-batch")
    again = sum(1 for r in rerun if r.already_sent)
    say(
        f"    Ran the same batch again: {again} of {len(rows)} rows recognised as already "
        "paid, nothing sent twice."
    )
    history = session.chain.history(dev.address)
    say(f"11. History from the encrypted store ({len(history)} transactions), newest first:")
    for rec in history[:3]:
        say(
            f"     nonce {rec.nonce:>3}  {rec.status:<6} {rec.hash[:18]}...  "
            f"{format_amount(rec.value)} ETH"
        )
    balances = {n: format_amount(session.balance(n)) for n in ("alice", "bob")}
    say(f"    Balances now: alice {balances['alice']} ETH, bob {balances['bob']} ETH")
    if not (mined == len(rows) and again == len(rows) and len(history) == len(rows) + 2):
        raise RuntimeError("the chain demo's own checks failed")
    return {"batch_mined": mined, "batch_rerun_skipped": again, "history_length": len(history)}


def run_defi_demo(session: Session, say: Callable[[str], None]) -> dict[str, object]:
    """Part two and a half: a swap, a vault deposit, approvals listed and revoked."""
    d = session.defi
    me = session.wallets.account("devtest").address
    plan = d.swap("devtest", "1", "ETH", "USDC", slippage_bps=50)
    say(f"12. Swap on Uniswap V2, checked and simulated before signing: {plan.steps[0].summary}")
    swapped = d.execute(plan)
    got = d.received(swapped) or 0
    say(f"    Received {d.asset('USDC').fmt(got)} (quote {plan.figures['quote']}).")
    stake = d.vault_deposit("devtest", "1000")
    for n, step in enumerate(stake.steps, 1):
        say(f"    Stake DAI, step {n}: {step.summary}")
    staked = d.execute(stake)
    position = d.vault_position(me)
    shares = f"{position.shares / 10**position.decimals:g} {position.symbol}"
    say(f"    Vault position: {position.asset.fmt(position.assets)} as {shares}.")
    left = d.approvals(me)
    say(f"    Approvals in force after both: {len(left)} (each was exact and is used up).")
    bob = session.wallets.account("bob").address
    d.execute(d.approve("devtest", "USDC", bob, "5"))
    usdc = d.asset("USDC")
    listed = [
        f"{usdc.fmt(a.amount or 0)} for {a.spender_name or a.spender}" for a in d.approvals(me)
    ]
    say(f"    Approved bob for exactly 5 USDC; approvals list now shows: {', '.join(listed)}")
    d.execute(d.revoke("devtest", "USDC", bob))
    after = d.approvals(me)
    say(f"    Revoked it; approvals in force: {len(after)}.")
    ok = (
        swapped.ok
        and got >= int(plan.figures["raw_min_out"])
        and staked.ok
        and not left
        and not after
    )
    ok = ok and position.assets == 1000 * 10**18 and len(listed) == 1
    if not ok:
        raise RuntimeError("the DeFi demo's own checks failed")
    return {
        "defi_swap_received": str(got),
        "defi_vault_assets": str(position.assets),
        "defi_approvals_left": len(after),
    }


#: What alice and bob say in the chat demo; none of it may reach the relay's database.
CHAT_TEXTS = ("gm bob! lunch at noon?", "gm alice, noon works. the usual place?", "see you there")


@dataclass(frozen=True)
class _ChatStory:
    same_identity: bool  # bob's restored home has the chat identity alice's home derives
    first_inbox: list[str]  # what bob's first inbox decrypted
    history: list[str]  # alice's conversation with bob, from her store
    match: bool  # the two safety numbers are equal


def run_chat_demo(
    home: Path,
    password: str,
    bob_mnemonic: str,
    say: Callable[[str], None],
    bob_password: str,
    *,
    fast_kdf: bool = False,
) -> dict[str, object]:
    """Part three: two people, two homes, one relay; chat both ways and verify each other."""
    from walletim.app.relay import EmbeddedRelay

    relay_db = home / "relay" / "mailboxes.db"
    relay_db.parent.mkdir()
    with EmbeddedRelay(relay_db) as relay:
        say(f"14. Started a chat relay at {relay.url}: it stores sealed envelopes only.")
        with (
            Session(home / "home", password, relay_url=relay.url, fast_kdf=fast_kdf) as alice_s,
            Session(
                home / "bob-home", bob_password, relay_url=relay.url, fast_kdf=fast_kdf
            ) as bob_s,
        ):
            story = _chat_story(alice_s, bob_s, bob_mnemonic, say)
    relay_bytes = b"".join(
        f.read_bytes() for f in relay_db.parent.iterdir() if f.name.startswith(relay_db.name)
    )
    leaked = [t for t in CHAT_TEXTS if t.encode() in relay_bytes]
    say(
        f"19. The relay's database ({len(relay_bytes)} bytes) contains none of the texts: "
        f"{not leaked}."
    )
    ok = (
        story.same_identity
        and story.first_inbox == [CHAT_TEXTS[0]]
        and story.history == list(CHAT_TEXTS)
        and story.match
        and not leaked
    )
    if not ok:
        raise RuntimeError("the chat demo's own checks failed")
    return {
        "chat_restored_identity": story.same_identity,
        "chat_messages": len(story.history),
        "chat_safety_numbers_match": story.match,
        "relay_plaintext_leaked": bool(leaked),
    }


def _chat_story(
    alice_s: Session, bob_s: Session, bob_mnemonic: str, say: Callable[[str], None]
) -> _ChatStory:
    """Steps 15-18: bob restores his home, both publish identities, chat, compare numbers."""
    texts = CHAT_TEXTS
    bob_s.wallets.import_mnemonic("bob", bob_mnemonic)
    same_identity = (
        bob_s.wallets.chat_identity("bob").public_key
        == alice_s.wallets.chat_identity("bob").public_key
    )
    say(
        "15. bob gets a home of his own, restored from his mnemonic: the same chat "
        f"identity comes back with it ({same_identity})."
    )
    a_init = alice_s.chat.init("alice")
    b_init = bob_s.chat.init("bob")
    say(
        "    Both publish a chat key bound to their address by an EIP-712 signature, "
        f"with {b_init.prekeys} one-time prekeys each."
    )
    bob_s.chat.contacts_add("alice", a_init.address)  # in alice's home, bob is a wallet
    alice_s.chat.send("alice", "bob", texts[0])
    got = bob_s.chat.inbox("bob").received
    say(f"16. alice -> bob: {texts[0]!r}; bob's inbox decrypts {len(got)} message:")
    for r in got:
        say(f"      from {r.message.peer}: {r.message.text!r}")
    bob_s.chat.send("bob", "alice", texts[1])
    alice_s.chat.inbox("alice")
    alice_s.chat.send("alice", "bob", texts[2])
    bob_s.chat.inbox("bob")
    va = alice_s.chat.contacts_verify("alice", "bob")
    vb = bob_s.chat.contacts_verify("bob", "alice")
    match = va.safety_number == vb.safety_number
    say(f"17. Safety numbers, compared out of band: match = {match}")
    say(f"      {va.safety_number}")
    if match and va.binding_verified and vb.binding_verified:
        alice_s.chat.contacts_verify("alice", "bob", confirm=True)
        bob_s.chat.contacts_verify("bob", "alice", confirm=True)
    history = alice_s.chat.read("alice", "bob").messages
    say("18. alice's conversation with bob, from her encrypted store:")
    for m in history:
        arrow = "->" if m.direction == "out" else "<-"
        say(f"      {arrow} {m.text}")
    return _ChatStory(
        same_identity, [r.message.text for r in got], [m.text for m in history], match
    )


def run_wim_demo(
    home: Path,
    password: str,
    bob_password: str,
    say: Callable[[str], None],
    *,
    fast_kdf: bool = False,
) -> dict[str, object]:
    """Part four, the wallet IM: money inside the conversation, every payment checked on chain;
    a request, a split bill, a group with a red packet, and security alerts."""
    from walletim.app.devnet import Anvil
    from walletim.app.relay import EmbeddedRelay
    from walletim.app.world import deploy_world

    with Anvil.start() as anvil, EmbeddedRelay(home / "relay" / "mailboxes.db") as relay:
        # Neither home gets a file: each finds the world on the chain (addresses, code hashes).
        deploy_world(anvil.rpc())
        alice_s = Session(
            home / "home", password, rpc_url=anvil.url, relay_url=relay.url, fast_kdf=fast_kdf
        )
        bob_s = Session(
            home / "bob-home", bob_password, rpc_url=anvil.url, relay_url=relay.url,
            fast_kdf=fast_kdf,
        )  # fmt: skip
        try:
            return _wim_story(alice_s, bob_s, anvil, say)
        finally:
            alice_s.close()
            bob_s.close()


def _fund_story(alice_s: Session, people: tuple[str, str], say: Callable[[str], None]) -> None:
    """Step 20: the test key gives each person 5 ETH and 500 USDC."""
    d = alice_s.defi
    for who in people:  # the test key pays for the story
        d.execute(d.transfer("devtest", "ETH", who, "5"))
        d.execute(d.transfer("devtest", "USDC", who, "500"))
    say(
        "20. The wallet IM, on a fresh devnet and the same relay: alice and bob each get 5 ETH "
        "and 500 USDC from the test key."
    )


def _wim_story(
    alice_s: Session, bob_s: Session, anvil: object, say: Callable[[str], None]
) -> dict[str, object]:
    from walletim.app.watch import watcher_for
    from walletim.app.world import wait_receipts
    from walletim.chain.anvil import Dev, UnsignedTx, impersonating

    a, b = alice_s.wim, bob_s.wim
    alice = alice_s.wallets.account("alice").address
    bob = bob_s.wallets.account("bob").address
    watcher = watcher_for(bob_s)
    watcher.scan("bob")  # the first run starts at the chain's head
    _fund_story(alice_s, (alice, bob), say)
    paid = a.pay("alice", bob, "0.1", note="lunch, thanks!")
    got = bob_s.chat.inbox("bob").received
    seen = b.verdicts(bob, [r.message.id for r in got])
    [(line, state)] = [(r.message.text, seen[r.message.id].state) for r in got]
    say(f"21. alice pays bob in the chat: {paid.outcome.hash[:18]}... ")
    say(f"      bob sees {line!r}: {state} on chain (sender, amount, receipt checked)")
    asked = b.request("bob", alice, "12", token="USDC", note="movie tickets")  # noqa: S106
    alice_s.chat.inbox("alice")
    say(f"22. bob asks alice for 12 USDC (request {asked.request.request_id[:10]}...):")
    say(f"      {asked.request.uri}")
    settled = a.pay("alice", None, None, request_id=asked.request.request_id)
    bob_s.chat.inbox("bob")
    [bob_view] = [r for r in b.requests("bob") if r.request_id == asked.request.request_id]
    hers = settled.request is not None and settled.request.state == "settled"
    say(f"    alice pays it; settled on her side: {hers}, on bob's: {bob_view.state == 'settled'}")
    bill = b.split("bob", "90", [alice], token="USDC", note="dinner")  # noqa: S106
    alice_s.chat.inbox("alice")
    [share] = [r for r in a.requests("alice") if r.split_id == bill.status.split.split_id]
    a.pay("alice", None, None, request_id=share.request_id)
    bob_s.chat.inbox("bob")
    status = b.split_status("bob", bill.status.split.split_id)
    say(
        f"23. bob splits a 90 USDC dinner with alice: she owes {share.amount / 10**6:g} USDC, "
        f"pays it; {len(status.settled)} of {len(status.requests)} share(s) settled."
    )
    group, _ = alice_s.chat.group_create("alice", "lunch club", [bob])
    bob_s.chat.inbox("bob")
    packet = a.packet_create("alice", "0.2", 1, group="lunch club", note="红包 for the club")
    bob_s.chat.inbox("bob")
    claim = b.packet_claim("bob", packet.packet.packet_id)
    say(
        f"24. alice makes a group {group.name!r} with bob (membership signed) and drops a red "
        f"packet of 0.2 ETH in it; bob claims {claim.asset.fmt(claim.amount or 0)}."
    )
    # A stolen key: someone signs for bob outside his home (Anvil impersonation stands in).
    rpc = bob_s.rpc
    with impersonating(rpc, bob):
        stolen = rpc.get(Dev.send_unsigned(UnsignedTx(bob, alice, value=2 * 10**18)))
    wait_receipts(rpc, [stolen])  # automine answers before the block is mined
    limit = watcher.parse_threshold("1eth")
    alerts = watcher.scan("bob", [limit])
    again = watcher.scan("bob", [limit])
    money = _WimMoney(state, hers, bob_view.state, len(status.settled), claim.amount)
    return _wim_verdict(bob_s, money, alerts, again, say)


class _Alert(Protocol):
    """What the story shows of a watcher's alert (walletim.app.watch)."""

    @property
    def kind(self) -> str: ...
    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class _WimMoney:
    """What steps 21-24 did, for the checks at the end of the wallet-IM story."""

    payment_state: str  # bob's verdict on alice's payment in the chat
    request_settled_hers: bool  # alice's side of the request she paid
    request_state_his: str  # bob's side of it
    split_settled: int  # shares of bob's split bill settled
    claimed: int | None  # wei bob claimed from alice's red packet


def _wim_verdict(
    bob_s: Session,
    money: _WimMoney,
    alerts: Sequence[_Alert],
    again: Sequence[_Alert],
    say: Callable[[str], None],
) -> dict[str, object]:
    """Step 25 (the watcher's alerts), the wallet-IM story's own checks, and its summary."""
    m = money
    kinds = sorted({al.kind for al in alerts})
    listed = ", ".join(kinds)
    say(f"25. bob's watcher posts {len(alerts)} alerts to his chat with himself ({listed}):")
    for al in alerts:
        say(f"      [{al.kind}] {al.text}")
    say(f"    Scanning again posts {len(again)}: each alert fires once for its event.")
    verified = [
        p for p in bob_s.wim.payments("bob") if p.direction == "in" and p.state == "verified"
    ]
    checks = {
        f"payment {m.payment_state}": m.payment_state == "verified",
        "request unsettled for alice": m.request_settled_hers,
        f"request {m.request_state_his} for bob": m.request_state_his == "settled",
        f"{m.split_settled} split shares settled": m.split_settled == 1,
        f"packet claim {m.claimed}": m.claimed == 2 * 10**17,
        f"{len(verified)} payments verified": len(verified) == 3,
        f"alerts {listed}": {"incoming", "unsigned", "outflow"} <= set(kinds),
        f"{len(again)} alerts repeated": not again,
    }
    failed = [what for what, ok in checks.items() if not ok]
    if failed:
        raise RuntimeError(f"the wallet-IM demo's own checks failed: {'; '.join(failed)}")
    return {
        "wim_payment_state": m.payment_state,
        "wim_request_settled": m.request_state_his == "settled",
        "wim_split_settled": m.split_settled,
        "wim_packet_claimed": str(m.claimed),
        "wim_verified_payments": len(verified),
        "alerts": kinds,
        "alerts_repeated": len(again),
    }
