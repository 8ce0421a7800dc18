"""The main job, end to end, in a throwaway home (``walletim demo`` / ``make demo``).

At this stage: create two wallets, derive addresses on two standard paths, export a v3
keystore and import it back, sign a message and EIP-712 typed data, and verify both.
Everything happens in a temporary directory that is deleted afterwards; the password is
random and never shown.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from walletim.app.wallets import Wallets
from walletim.keys import signing

MAIL_TYPED_DATA = {
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


def run_demo(say: Callable[[str], None] = print, *, fast_kdf: bool = False) -> dict[str, object]:
    """Run the demo; ``say`` receives each narrated line. Returns a summary for --json."""
    home = Path(tempfile.mkdtemp(prefix="walletim-demo-"))
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
        say("3. alice's first accounts on MetaMask's path (derived without the password):")
        for a in accounts:
            say(f"     {a.path:<22} {a.address}")
        ledger = wallets.addresses("alice", count=2, template="ledger-live")
        say("   and on Ledger Live's path:")
        for a in ledger:
            say(f"     {a.path:<22} {a.address}")
        keystore_file = home / "alice-1.json"
        ks_password = secrets.token_urlsafe(12)
        wallets.export_keystore("alice:1", keystore_file, ks_password)
        imported = wallets.import_keystore("alice-1", keystore_file.read_bytes(), ks_password)
        kdf = json.loads(keystore_file.read_text())["crypto"]["kdf"]
        say(f"4. Exported alice:1 as a v3 keystore ({kdf}) and imported it back as alice-1:")
        say(f"     {imported.address} (same address: {imported.address == accounts[1].address})")
        text = "gm from walletim"
        sig = wallets.sign_message("alice", text.encode())
        ok = signing.verify_message(alice.info.address, text.encode(), sig.bytes)
        say(f"5. alice signed {text!r} (EIP-191): {sig.hex[:20]}...  verified: {ok}")
        typed = wallets.sign_typed_data("bob", MAIL_TYPED_DATA)
        ok712 = signing.verify_typed_data(bob.info.address, MAIL_TYPED_DATA, typed.bytes)
        say(f"6. bob signed the EIP-712 'Mail' example: {typed.hex[:20]}...  verified: {ok712}")
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
        say("Done: every step checked.")
        return summary
    finally:
        shutil.rmtree(home, ignore_errors=True)
