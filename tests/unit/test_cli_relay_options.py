"""``relay serve``'s options reach the relay's limits and configuration: each option named
after a RelayLimits field goes into that field, the rest as the command derives them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from walletim.cli import cli
from walletim.relay import run
from walletim.relay.limits import RelayLimits
from walletim.relay.run import RelayConfig


def _served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> RelayConfig:
    got: list[RelayConfig] = []

    def serve(config: RelayConfig, on_listening: Callable[[object], None]) -> None:
        got.append(config)

    monkeypatch.setattr(run, "serve", serve)
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "relay", "serve", *args])
    assert result.exit_code == 0, result.output
    [config] = got
    return config


def test_every_limit_option_sets_its_own_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    given = {  # option -> (field, value): every value distinct, none a default
        "--ttl": ("ttl_s", 101),
        "--max-connections-per-ip": ("max_per_ip", 102),
        "--stranger-share": ("stranger_share", 103),
        "--stranger-quota": ("stranger_quota", 104),
        "--stranger-ip-quota": ("stranger_ip_quota", 105),
        "--stranger-window": ("stranger_window_s", 106),
        "--full-retry-after": ("full_retry_s", 107),
        "--max-backup": ("max_backup", 108),
        "--backups-per-hour": ("backups_per_hour", 109),
    }
    args = [str(part) for option, (_, value) in given.items() for part in (option, value)]
    config = _served(
        monkeypatch, tmp_path, *args, "--rate", "7", "--prekey-budget", "360",
        "--max-mailbox", "110", "--port", "0",
    )  # fmt: skip
    limits = config.limits
    assert {field: getattr(limits, field) for field, _ in given.values()} == dict(given.values())
    assert (limits.rate, limits.burst, limits.opk_rate, limits.opk_burst) == (7.0, 14, 0.1, 360)
    assert config.max_mailbox == 110 and config.port == 0
    assert config.db == tmp_path / "relay" / "mailboxes.db"


def test_no_option_given_leaves_the_relays_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    limits = _served(monkeypatch, tmp_path).limits
    defaults = RelayLimits()
    assert dataclasses.asdict(limits) == dataclasses.asdict(defaults)
