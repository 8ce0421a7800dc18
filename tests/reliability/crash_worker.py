"""Helper of the crash tests: a fork server whose children write until they are SIGKILLed.

Run as ``python crash_worker.py HOME PASSWORD``. It imports walletim once, then reads
commands on stdin, one a line (a child costs a fork, not an interpreter start):

``spawn store SLOT DBNAME``
    a store writer: it unlocks the home's vault with PASSWORD (the real key path:
    ``Vault.unlock(...).subkey("store")``), opens ``HOME/DBNAME`` with ``Store.open`` and
    writes through the real repositories until killed.
``spawn password I HEX``
    HEX is the hex of the UTF-8 text ``PW0\nPW1\nPW2``: changes the home password round
    that list, starting from PWi (the current one):
    ``Wallets.change_password``; reports ``p J`` once PWj is in place.
``spawn export N OUTDIR``
    exports the keystore of wallet ``k`` again and again (``Wallets.export_keystore``, light
    scrypt) to ``OUTDIR/ks-N.json``, ``ks-N+1.json``, ...; reports ``x N`` once written.
``spawn open N NAME@T``
    unlocks the home, waits until wall-clock time T, opens (creating) ``HOME/NAME`` with
    ``Store.open``, reports ``o N`` and exits 0: several of them race to create one database.
``reap PID``
    wait for that child (killed by the test) and answer ``reaped PID STATUS``.
``quit``

The server answers ``spawned PID`` to a spawn. Children report on stdout after the write
returned (``os.write`` of one short line: atomic on a pipe, nothing buffered in the process).
A store writer reports:

``m ID``      a chat message (ChatRepo: conversation + message, FTS triggers)
``t HASH N``  a transaction at nonce N with its batch row and the nonce counter moved, in one
              database transaction (TxRepo.insert, insert_batch_row, set_next_nonce)
``r HASH``    a receipt stored and its transaction marked mined (TxRepo.save_receipts)
``e TEXT``    an error: the writer stops (the test counts it as a failure)

Children keep their pid until reaped (the server never reaps on its own), so the test never
signals a recycled pid.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

from walletim.app.wallets import Wallets
from walletim.keys.vault import Vault
from walletim.store.chat import ChatRepo
from walletim.store.db import Store
from walletim.store.txs import ReceiptRecord, TxRecord, TxRepo

CHAIN = 31337
SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
RECIPIENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BATCH = "crash-batch"


def say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def writer(home: Path, password: str, slot: int, dbname: str) -> None:
    key = Vault(home).unlock(password).subkey("store")
    store = Store.open(home / dbname, key)
    chat = ChatRepo(store)
    mine: list[str] = []
    n = 0
    while True:
        n += 1
        op = n % 4
        if op in (0, 2):
            with chat.tx() as t:
                cid = t.conversation(f"acct-{slot}", f"peer-{n % 3}")
                mid = t.add_message(
                    cid,
                    "out",
                    "text",
                    {"text": f"hello {n}"},
                    f"hello from writer {slot} number {n} " + "x" * (n % 300),
                    sent_ms=int(time.time() * 1000),
                    state="sent",
                    relay_id=os.urandom(12).hex(),
                )
            say(f"m {mid}")
        elif op == 1 or not mine:
            tx_hash = "0x" + os.urandom(32).hex()
            with store.transaction() as conn:
                nonce = TxRepo.next_nonce(conn, CHAIN, SENDER) or 0
                TxRepo.insert(
                    conn,
                    TxRecord(
                        hash=tx_hash,
                        chain_id=CHAIN,
                        sender=SENDER,
                        nonce=nonce,
                        recipient=RECIPIENT,
                        value=10**18 + nonce,
                        tx_type=2,
                        gas_limit=21_000,
                        max_fee=2 * 10**9,
                        priority_fee=10**9,
                        gas_price=None,
                        data=b"",
                        raw=os.urandom(110 + n % 50),
                        status="signed",
                        kind="batch",
                    ),
                )
                TxRepo.insert_batch_row(
                    conn, BATCH, nonce, CHAIN, SENDER, RECIPIENT, 10**18 + nonce, None, tx_hash
                )
                TxRepo.set_next_nonce(conn, CHAIN, SENDER, nonce + 1)
            mine.append(tx_hash)
            say(f"t {tx_hash} {nonce}")
        else:
            tx_hash = mine.pop(0)
            with store.transaction() as conn:
                TxRepo.save_receipts(
                    conn,
                    [
                        ReceiptRecord(
                            tx_hash, CHAIN, n, "0x" + os.urandom(32).hex(), 1, 21_000, 1, None, []
                        )
                    ],
                )
            say(f"r {tx_hash}")


def passwords(home: Path, start: int, words: list[str]) -> None:
    current = start
    while True:
        wallets = Wallets(home, words[current], fast_kdf=True)
        nxt = (current + 1) % len(words)
        wallets.change_password(words[nxt])
        current = nxt
        say(f"p {current}")


def exports(home: Path, password: str, start: int, out: Path) -> None:
    wallets = Wallets(home, password, fast_kdf=True)
    n = start
    while True:
        wallets.export_keystore("k", out / f"ks-{n}.json", "keystore password")
        say(f"x {n}")
        n += 1


def main() -> int:
    home, password = Path(sys.argv[1]), sys.argv[2]
    for raw in sys.stdin:
        cmd = raw.split()
        if not cmd:
            continue
        if cmd[0] == "quit":
            return 0
        if cmd[0] == "spawn":
            job, number, arg = cmd[1], int(cmd[2]), cmd[3]
            if job == "export":
                import eth_keyfile.keyfile  # noqa: F401 - once here, not in every child

            pid = os.fork()
            if pid == 0:
                try:
                    if job == "store":
                        writer(home, password, number, arg)
                    elif job == "open":
                        name, start = arg.rsplit("@", 1)
                        key = Vault(home).unlock(password).subkey("store")
                        time.sleep(max(0.0, float(start) - time.time()))
                        Store.open(home / name, key).close()
                        say(f"o {number}")
                        os._exit(0)
                    elif job == "password":
                        passwords(home, number, bytes.fromhex(arg).decode().split("\n"))
                    else:
                        exports(home, password, number, Path(arg))
                except BaseException:
                    say("e " + traceback.format_exc().replace("\n", " | ")[-3000:])
                os._exit(1)
            say(f"spawned {pid}")
        elif cmd[0] == "reap":
            pid = int(cmd[1])
            _, status = os.waitpid(pid, 0)
            say(f"reaped {pid} {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
