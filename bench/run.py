"""walletim benchmarks: every figure is measured beside a reference in the same run.

Run with ``make bench``; results are written to BENCHMARKS.md (one section per benchmark,
regenerated whole). Goals come from the issues; the ratios matter more than the absolute
numbers, which depend on the machine.
"""

from __future__ import annotations

import glob
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WALLETIM = str(ROOT / ".venv" / "bin" / "walletim")
PYTHON = sys.executable
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def median_seconds(cmd: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_startup(runs: int = 21) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ, WALLETIM_HOME=str(Path(tmp) / "home"), WALLETIM_PASSWORD="bench-password-1"
        )
        env["WALLETIM_UNSAFE_FAST_KDF"] = "1"
        for name in ("alice", "bob", "carol"):
            subprocess.run(
                [WALLETIM, "--json", "wallet", "create", name],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        del env["WALLETIM_PASSWORD"]
        for cmd in ([WALLETIM, "--help"], [WALLETIM, "wallet", "list"]):  # warm the page cache
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        python = median_seconds([PYTHON, "-c", "pass"], runs, env)
        click_only = median_seconds([PYTHON, "-c", "import click"], runs, env)
        helped = median_seconds([WALLETIM, "--help"], runs, env)
        listed = median_seconds([WALLETIM, "wallet", "list"], runs, env)
    goal = 0.120
    rows = [
        "## Start-up (issue 2)",
        "",
        f"Median of {runs} runs each, a home with three wallets, no password given.",
        "",
        "| command | median | vs `python -c pass` | goal |",
        "|---|---|---|---|",
        f"| `python -c pass` (reference) | {python * 1000:.1f} ms | 1.0x | |",
        f"| `python -c 'import click'` (reference) | {click_only * 1000:.1f} ms | {click_only / python:.1f}x | |",
        f"| `walletim --help` | {helped * 1000:.1f} ms | {helped / python:.1f}x | <= 120 ms: "
        f"{'met' if helped <= goal else 'NOT met'} |",
        f"| `walletim wallet list` | {listed * 1000:.1f} ms | {listed / python:.1f}x | <= 120 ms: "
        f"{'met' if listed <= goal else 'NOT met'} |",
        "",
    ]
    return rows


def rate(fn: Callable[[], int], min_seconds: float = 1.0) -> float:
    """Items per second of ``fn`` (which returns how many items it made), over >= min_seconds."""
    done = 0
    start = time.perf_counter()
    while True:
        done += fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def find_cast() -> str | None:
    found = sorted(glob.glob(str(ROOT / "node_modules/@foundry-rs/cast-*/bin/cast")))
    return found[0] if found else None


def bench_derivation() -> list[str]:
    from eth_account import Account

    from walletim.keys import hd, mnemonic, paths

    Account.enable_unaudited_hdwallet_features()
    seed = mnemonic.to_seed(ANVIL_MNEMONIC)
    template = paths.parse_template(paths.DEFAULT_TEMPLATE)
    parent_steps = template.public_parent
    assert parent_steps is not None
    node = hd.HDNode.from_seed(seed).derive(parent_steps).public_node()
    counter = iter(range(10**9))

    def ours() -> int:
        start = next(counter) * 1000
        node.child_addresses(start, 1000)
        return 1000

    ours_rate = rate(ours, 2.0)
    index = iter(range(10**9))

    def reference() -> int:
        Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{next(index)}")
        return 1

    ref_rate = rate(reference, 2.0)
    # Same addresses from both, as a sanity check of what is being timed.
    check = [
        Account.from_mnemonic(ANVIL_MNEMONIC, account_path=template.path(i)).address
        for i in range(3)
    ]
    assert check == node.child_addresses(0, 3), "derivation disagrees with eth-account"
    rows = [
        "## Address derivation (issue 2)",
        "",
        "Default path m/44'/60'/0'/0/{i}: walletim derives the parent once and then only the last,",
        "non-hardened step (CKDpub with coincurve), needing no secret.",
        "",
        "| implementation | addresses/s | vs eth-account | goal |",
        "|---|---|---|---|",
        f"| eth-account `Account.from_mnemonic` loop (reference) | {ref_rate:,.0f} | 1.0x | |",
        f"| walletim `PublicNode.child_addresses` | {ours_rate:,.0f} | {ours_rate / ref_rate:.0f}x | "
        f">= 10,000/s: {'met' if ours_rate >= 10_000 else 'NOT met'} |",
    ]
    cast = find_cast()
    if cast:
        count = 255  # cast caps --accounts at 255
        with tempfile.TemporaryDirectory() as tmp:
            mfile = Path(tmp) / "m.txt"
            mfile.write_text(ANVIL_MNEMONIC)
            start = time.perf_counter()
            out = subprocess.run(
                [cast, "wallet", "derive", "--accounts", str(count), str(mfile)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            cast_rate = count / (time.perf_counter() - start)
        assert node.child_addresses(count - 1, 1)[0].lower() in out.lower(), "cast disagrees"
        rows.append(
            f"| Foundry `cast wallet derive --accounts {count}` (whole process) | {cast_rate:,.0f} | "
            f"{cast_rate / ref_rate:.0f}x | |"
        )
    else:
        rows.append(
            "| Foundry `cast wallet derive` | not measured: cast not installed (run `make setup`) | | |"
        )
    rows.append("")
    return rows


def _raw_post(conn: Any, body: bytes) -> bytes:
    conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
    return bytes(conn.getresponse().read())


def bench_rpc_reads(n: int = 3000) -> list[str]:
    """eth_getBalance / eth_call through walletim's adapter vs a raw kept-alive HTTP request."""
    import http.client
    import json

    from walletim.app.devnet import Anvil
    from walletim.chain.rpc import RpcClient

    addr = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    call = {"to": addr, "data": "0x"}
    rows = [
        "## Chain reads (issue 3)",
        "",
        f"{n} sequential requests each against one local Anvil; per-request mean.",
        "",
        "| request | raw http.client keep-alive (reference) | walletim RpcClient | ratio | web3.py defaults | goal |",
        "|---|---|---|---|---|---|",
    ]
    with Anvil.start() as anvil:
        from web3 import Web3

        w3 = Web3(Web3.HTTPProvider(anvil.url))
        for label, method, params in (
            ("eth_getBalance", "eth_getBalance", [addr, "latest"]),
            ("eth_call", "eth_call", [call, "latest"]),
        ):
            body = json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
            ).encode()
            conn = http.client.HTTPConnection("127.0.0.1", anvil.port)
            _raw_post(conn, body)
            start = time.perf_counter()
            for _ in range(n):
                _raw_post(conn, body)
            raw = (time.perf_counter() - start) / n
            conn.close()
            client = RpcClient(anvil.url)
            client.call(method, params)
            start = time.perf_counter()
            for _ in range(n):
                client.call(method, params)
            ours = (time.perf_counter() - start) / n
            client.close()
            w3_n = max(200, n // 5)
            fn: Callable[[], object] = (
                (lambda: w3.eth.get_balance(addr))
                if method == "eth_getBalance"
                else (lambda: w3.eth.call({"to": addr, "data": "0x"}))
            )
            fn()
            start = time.perf_counter()
            for _ in range(w3_n):
                fn()
            web3_t = (time.perf_counter() - start) / w3_n
            ratio = ours / raw
            rows.append(
                f"| {label} | {raw * 1e3:.3f} ms | {ours * 1e3:.3f} ms | {ratio:.2f}x | "
                f"{web3_t * 1e3:.3f} ms ({web3_t / raw:.1f}x) | <= 2x: {'met' if ratio <= 2 else 'NOT met'} |"
            )
    rows.append("")
    return rows


def bench_batch(count: int = 300) -> list[str]:
    """send --batch of ``count`` transfers vs a naive web3.py loop vs the raw ceiling."""
    from eth_account import Account
    from web3 import Web3

    from walletim.app.chain import BatchRow
    from walletim.app.devnet import Anvil
    from walletim.app.session import Session

    Account.enable_unaudited_hdwallet_features()
    recipients = [
        Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").address
        for i in range(5, 10)
    ]
    results: dict[str, float] = {}

    # 1. naive web3.py, as a script would be written: per transfer ask the node for the
    #    nonce, chain id, gas and fees, sign, send, wait_for_transaction_receipt (defaults).
    with Anvil.start() as anvil:
        w3 = Web3(Web3.HTTPProvider(anvil.url))
        acct = Account.from_mnemonic(ANVIL_MNEMONIC, account_path="m/44'/60'/0'/0/1")
        start = time.perf_counter()
        for i in range(count):
            base = {"from": acct.address, "to": recipients[i % 5], "value": 10**15}
            tip = w3.eth.max_priority_fee
            base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
            tx = {
                **base,
                "nonce": w3.eth.get_transaction_count(acct.address),
                "chainId": w3.eth.chain_id,
                "gas": w3.eth.estimate_gas(base),
                "maxFeePerGas": 2 * base_fee + tip,
                "maxPriorityFeePerGas": tip,
            }
            del tx["from"]
            signed = acct.sign_transaction(tx)
            h = w3.eth.send_raw_transaction(signed.raw_transaction)
            w3.eth.wait_for_transaction_receipt(h)
        results["naive"] = time.perf_counter() - start

    # 2. the raw ceiling: pre-signed, pushed back to back over one connection, then receipts.
    import http.client
    import json

    with Anvil.start() as anvil:
        acct = Account.from_mnemonic(ANVIL_MNEMONIC, account_path="m/44'/60'/0'/0/2")
        raws = []
        for i in range(count):
            tx = {
                "to": recipients[i % 5],
                "value": 10**15,
                "gas": 21000,
                "nonce": i,
                "chainId": 31337,
                "maxFeePerGas": 3 * 10**9,
                "maxPriorityFeePerGas": 10**9,
            }
            raws.append(acct.sign_transaction(tx))
        conn = http.client.HTTPConnection("127.0.0.1", anvil.port)
        start = time.perf_counter()
        for i, signed in enumerate(raws):
            _raw_post(
                conn,
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": i,
                        "method": "eth_sendRawTransaction",
                        "params": ["0x" + signed.raw_transaction.hex()],
                    }
                ).encode(),
            )
        last = "0x" + raws[-1].hash.hex()
        while True:
            reply = json.loads(
                _raw_post(
                    conn,
                    json.dumps(
                        {
                            "jsonrpc": "2.0",
                            "id": 0,
                            "method": "eth_getTransactionReceipt",
                            "params": [last],
                        }
                    ).encode(),
                )
            )
            if reply.get("result"):
                break
        results["raw"] = time.perf_counter() - start
        conn.close()

    # 3. walletim: Session.chain.send_batch (nonces, store records, fee suggestion, receipts).
    with Anvil.start() as anvil, tempfile.TemporaryDirectory() as tmp:
        session = Session(Path(tmp) / "home", "bench-password-1", rpc_url=anvil.url, fast_kdf=True)
        session.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        sender = session.wallets.account("dev:3").address
        rows = [BatchRow(i + 1, recipients[i % 5], 10**15) for i in range(count)]
        session.open_store()  # unlocking the home is not part of the batch
        start = time.perf_counter()
        out = session.chain.send_batch("dev:3", sender, rows, batch_id="bench")
        results["walletim"] = time.perf_counter() - start
        assert all(r.status == "mined" for r in out), "batch did not mine"
        session.close()

    speedup = results["naive"] / results["walletim"]
    vs_raw = results["walletim"] / results["raw"]
    return [
        "## send --batch (issue 3)",
        "",
        f"{count} ETH transfers to 5 recipients, each measurement on a fresh Anvil (automine).",
        "",
        "| implementation | seconds | tx/s | |",
        "|---|---|---|---|",
        f"| naive web3.py loop: per tx nonce, chain id, gas, fees, sign, send, wait for receipt (reference) | {results['naive']:.2f} | "
        f"{count / results['naive']:.0f} | |",
        f"| raw ceiling: pre-signed, pushed back to back on one connection (reference) | {results['raw']:.2f} | "
        f"{count / results['raw']:.0f} | |",
        f"| walletim `send_batch` (signing, store records, receipts stored) | {results['walletim']:.2f} | "
        f"{count / results['walletim']:.0f} | {speedup:.1f}x faster than naive (goal >= 10x: "
        f"{'met' if speedup >= 10 else 'NOT met'}); {vs_raw:.2f}x the raw ceiling (goal <= 2x: "
        f"{'met' if vs_raw <= 2 else 'NOT met'}) |",
        "",
    ]


def main() -> None:
    sections = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (bench/run.py); every ratio is against a reference measured in the",
        f"same run. Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
    ]
    import aave  # bench/aave.py, app.py, backup.py, chat.py, commands.py, relay.py, ...
    import app
    import backup
    import chat
    import commands
    import devices
    import relay
    import roundtrips
    import world

    sections += bench_startup()
    sections += bench_derivation()
    sections += bench_rpc_reads()
    sections += bench_batch()
    sections += chat.bench_chat_crypto()
    sections += chat.bench_chat_search()
    sections += relay.bench_relay()
    sections += relay.bench_relay_redis()
    sections += world.bench_world()
    sections += aave.bench_aave()
    sections += roundtrips.bench_roundtrips()
    sections += commands.bench_commands()
    sections += app.bench_app()
    sections += backup.bench_backup()
    sections += devices.bench_fanout()
    text = "\n".join(sections) + "\n"
    (ROOT / "BENCHMARKS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
