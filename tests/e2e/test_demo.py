"""The main job (`walletim demo`, what `make demo` runs) completes and checks itself."""

from __future__ import annotations

import json

from tests.conftest import Cli


def test_demo_runs_end_to_end(scripted: Cli) -> None:
    out = scripted.subprocess("--json", "demo", timeout=300)
    assert out.code == 0, out.err
    summary = json.loads(out.out)
    assert summary["keystore_roundtrip"] and summary["message_signature_valid"]
    assert summary["typed_data_signature_valid"] and summary["cross_check_rejected"]
    assert summary["chain_sends_mined"] and summary["batch_mined"] == 20
    assert summary["batch_rerun_skipped"] == 20
    assert summary["chat_restored_identity"] and summary["chat_messages"] == 3
    assert summary["chat_safety_numbers_match"] and not summary["relay_plaintext_leaked"]
    assert int(summary["defi_swap_received"]) > 2900 * 10**6  # USDC for 1 ETH
    assert summary["defi_vault_assets"] == str(1000 * 10**18)
    assert summary["defi_approvals_left"] == 0
    assert summary["wim_payment_state"] == "verified" and summary["wim_request_settled"]
    assert summary["wim_split_settled"] == 1 and summary["wim_packet_claimed"] == str(2 * 10**17)
    assert summary["wim_verified_payments"] == 3
    assert {"incoming", "unsigned", "outflow"} <= set(summary["alerts"])
    assert summary["alerts_repeated"] == 0
    assert summary["lending_alerts"] == ["lending-health"]  # issue 18: supply, borrow, alert
    assert summary["lending_alerts_repeated"] == 0 and summary["lending_health_factor"] == "1.65"
