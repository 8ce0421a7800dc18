"""The agent's policy of each account, sealed in its wallet file (beside the wallet's
secrets: encrypted, and authenticated by the file's MAC and the AEAD tag).

Writing one needs the home password (the vault unlocked here, never the agent), so a
program that uses the agent cannot lift its own limits; the agent reads the policy from
the file at every request it checks (:mod:`walletim.agent.service`). A policy that does
not parse makes the agent refuse to sign for the account (it fails closed).
"""

from __future__ import annotations

import json

from walletim import safejson
from walletim.agent.policy import Policy, PolicyError
from walletim.app.wallets.keys import LocalKeys
from walletim.app.wallets.model import parse_account_spec, single_key_error
from walletim.errors import VaultCorrupt
from walletim.keys.vault import WalletSecret


def policies_of(secret: WalletSecret, wallet: str) -> dict[int, Policy]:
    """The policies sealed in a wallet's secret, by account index. Raises VaultCorrupt."""
    text = secret.get("policy")
    if not text:
        return {}
    try:
        doc = safejson.loads(text)
        if not isinstance(doc, dict):
            raise PolicyError("not an object")
        return {_index(key): Policy.from_json(value) for key, value in doc.items()}
    except (ValueError, PolicyError) as exc:
        raise VaultCorrupt(f"wallet {wallet!r}: its agent policy does not parse ({exc})") from exc


def _index(key: str) -> int:
    if not key.isdigit() or not key.isascii() or int(key) >= 2**31:
        raise PolicyError("an account index is 0 .. 2**31-1")
    return int(key)


def read_policy(keys: LocalKeys, spec: str) -> Policy | None:
    """The policy of account ``spec`` (None: not limited). Raises VaultCorrupt."""
    name, index = parse_account_spec(spec)
    record = keys.load(name)
    return policies_of(keys.unlocked.open(record), name).get(index)


def write_policy(keys: LocalKeys, spec: str, policy: Policy | None) -> None:
    """Seal ``policy`` for ``spec`` (None: remove it) in one atomic rewrite of its file."""
    name, index = parse_account_spec(spec)
    with keys.vault.lock():
        record = keys.load(name)
        if record.kind == "private-key" and index != 0:
            raise single_key_error(name)
        secret = keys.unlocked.open(record)
        policies = policies_of(secret, name)
        if policy is None:
            policies.pop(index, None)
        else:
            policies[index] = policy
        if policies:
            secret["policy"] = json.dumps(
                {str(i): p.to_json() for i, p in sorted(policies.items())}, sort_keys=True
            )
        else:
            secret.pop("policy", None)
        keys.unlocked.seal(record, secret)
        keys.vault.save(record, keys.unlocked)
