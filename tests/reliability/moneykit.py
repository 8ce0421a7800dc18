"""Shared by the interrupted-money tests: an Anvil that can be stopped and restarted on the
same port (state dumped and loaded), a home whose ``dev`` wallet is Anvil's account 0, the
CLI as a subprocess, batch files to fresh addresses, and the consistency checks."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, ROOT
from walletim.app.devnet import Anvil, find_binary, free_port
from walletim.app.session import Session
from walletim.chain.rpc import RpcClient
from walletim.store.txs import TxRepo

SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
CHAIN_ID = 31337
WALLETIM = str(ROOT / ".venv/bin/walletim")


class Node:
    """Anvil on a fixed port; :meth:`restart` stops it (SIGTERM: it dumps its state when
    started with a state file) and starts it again on the same port from that state."""

    def __init__(self, tmp: Path, *args: str, state: bool = False) -> None:
        self.port = free_port()
        self.args = list(args)
        self.state = tmp / "anvil-state.json" if state else None
        self.log = tmp / "anvil.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *extra: str) -> None:
        cmd = [find_binary("anvil"), "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += [*self.args, *extra]
        if self.state is not None:
            if self.state.exists():
                cmd += ["--load-state", str(self.state)]
            cmd += ["--dump-state", str(self.state)]
        with self.log.open("ab") as log:
            for _ in range(100):  # the port may linger a moment after a stop
                self.proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
                )
                try:
                    Anvil(self.proc, self.proc.pid, self.port, CHAIN_ID)._wait_ready(10)
                    return
                except Exception:
                    self.stop()
                    time.sleep(0.05)
        raise RuntimeError(f"anvil does not start on port {self.port}: see {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def restart(self, *extra: str) -> None:
        self.stop()
        self.start(*extra)

    def rpc(self) -> RpcClient:
        return RpcClient(self.url)


@dataclass
class Home:
    path: Path

    @classmethod
    def create(cls, path: Path, url: str) -> Home:
        s = Session(path, HOME_PASSWORD, rpc_url=url, fast_kdf=True)
        try:
            s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        finally:
            s.close()
        return cls(path)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "WALLETIM_HOME": str(self.path),
            "WALLETIM_PASSWORD": HOME_PASSWORD,
            "WALLETIM_UNSAFE_FAST_KDF": "1",
        }

    def popen(self, url: str, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [WALLETIM, "--rpc-url", url, "--json", "--yes", *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, url: str, *args: str, timeout: float = 120) -> tuple[int, Any, str]:
        """Run the CLI to the end: (exit code, parsed JSON output or None, stderr)."""
        p = self.popen(url, *args)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            return -1, None, f"timed out after {timeout} s: {err}"
        doc = None
        with contextlib.suppress(ValueError):
            doc = json.loads(out)
        return p.returncode, doc, err

    def store_view(self, url: str) -> dict[str, Any]:
        """What the store holds now: transactions by hash (status, nonce), batch rows, and
        the nonce counter of the sender."""
        s = Session(self.path, HOME_PASSWORD, rpc_url=url, fast_kdf=True)
        try:
            store = s.open_store()
            txs = {
                str(r[0]): (str(r[1]), int(r[2]), r[3])
                for r in store.execute(
                    "SELECT hash, status, nonce, block_hash FROM transactions WHERE sender = ?",
                    (SENDER,),
                ).fetchall()
            }
            batches = {
                (str(r[0]), int(r[1])): str(r[2])
                for r in store.execute(
                    "SELECT batch_id, row_number, tx_hash FROM batches"
                ).fetchall()
            }
            with store.transaction(immediate=False) as conn:
                counter = TxRepo.next_nonce(conn, CHAIN_ID, SENDER)
            return {"txs": txs, "batches": batches, "next_nonce": counter}
        finally:
            s.close()


def batch_file(path: Path, n: int, base: int) -> list[tuple[str, int]]:
    """A CSV of ``n`` rows to fresh random addresses, amounts base+i wei (all distinct)."""
    rows = [("0x" + os.urandom(20).hex(), base + i) for i in range(n)]
    path.write_text("to,amount\n" + "".join(f"{a},{v}wei\n" for a, v in rows))
    return rows


def chain_nonce(rpc: RpcClient, block: str = "latest") -> int:
    return rpc.get_transaction_count(SENDER, block)


def check_paid_once(rpc: RpcClient, rows: list[tuple[str, int]]) -> list[str]:
    """Every recipient got exactly its amount (fresh addresses: 0 before), once."""
    got = rpc.batch([("eth_getBalance", [a, "latest"]) for a, _ in rows])
    problems = []
    for (addr, amount), bal in zip(rows, got, strict=True):
        value = int(bal, 16) if isinstance(bal, str) else None
        if value != amount:
            times = "?" if value is None else f"{value / amount:g}x"
            problems.append(f"{addr} got {value} wei, not {amount} ({times})")
    return problems


def check_consistent(home: Home, rpc: RpcClient, *, history_url: str) -> list[str]:
    """After everything settled: ``tx history`` (which reconciles with the node) shows each
    transaction as the chain has it, nothing open that the chain mined, and the store's
    nonce counter equals the node's count."""
    problems: list[str] = []
    code, doc, err = home.run(history_url, "tx", "history", "--limit", "100000")
    if code != 0 or doc is None:
        return [f"tx history failed ({code}): {err[-300:]}"]
    shown = {t["hash"]: t for t in doc["transactions"]}
    hashes = list(shown)
    receipts = rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
    for h, receipt in zip(hashes, receipts, strict=True):
        t = shown[h]
        if isinstance(receipt, dict) and receipt.get("blockNumber"):
            want = "mined" if int(receipt["status"], 16) == 1 else "failed"
            if t["state"] != want or t["block_hash"] != receipt["blockHash"]:
                problems.append(f"history shows {h} {t['state']}, the chain has it {want}")
        elif t["state"] in ("mined", "failed", "signed", "pending"):
            problems.append(f"history shows {h} {t['state']}, the chain has no receipt")
    view = home.store_view(history_url)
    node = chain_nonce(rpc)
    if node != chain_nonce(rpc, "pending"):
        problems.append("the node still has pending transactions of the sender")
    if view["next_nonce"] != node:
        problems.append(f"the store's next nonce is {view['next_nonce']}, the node counts {node}")
    mined_nonces = sorted(n for s, n, _b in view["txs"].values() if s in ("mined", "failed"))
    if mined_nonces != list(range(node)):
        problems.append("the mined transactions' nonces are not exactly 0..n-1")
    return problems
