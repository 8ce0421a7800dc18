"""The :class:`~walletim.app.wallets.keys.KeyHolder` of a home whose agent runs unlocked:
every use of the keys is a request to the agent (:mod:`walletim.agent`), which signs in its
own process. What comes back is checked here before it is used: a signature recovers to the
account's address, a signed transaction hashes to its hash and names its sender, a chat
identity's public key is its seed's.

The agent may refuse: locked meanwhile (TTL, idle time, ``agent lock``) or stopped, and the
command goes on with the password (:class:`AgentUnavailable`); outside the account's
policy, :class:`~walletim.errors.PolicyRefused` with the agent's reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walletim.agent import protocol
from walletim.agent.client import AgentClient, AgentGone, connect
from walletim.app.wallets.keys import AccountSigner, ChainRules, TxSigner
from walletim.errors import (
    AgentError,
    ConfigError,
    InputError,
    KeysError,
    LinkedDevice,
    PolicyRefused,
    SigningError,
    VaultCorrupt,
    WalletFileTampered,
    WalletimError,
    WalletNotFound,
)
from walletim.keys.address import hex_bytes
from walletim.keys.vault import MAC_MISMATCH, WalletRecord, mac_tag

if TYPE_CHECKING:
    from walletim.keys.backup import BackupKey
    from walletim.keys.chat import ChatIdentityKey, DeviceKey
    from walletim.keys.signing import Signature, SignedTransaction
    from walletim.messaging.devices import Device, DeviceList
    from walletim.messaging.identity import IdentityBinding

MAX_ADDRESSES = 1000  # per request (the agent's bound)


class AgentUnavailable(AgentError):
    """The agent locked or went away during the command: go on with the password."""


#: Errors the agent reports that are rebuilt as the same class here (message only); a
#: linked device's (no seed) is its own, as chat tells it from other key errors.
_KINDS: dict[str, type[WalletimError]] = {
    cls.__name__: cls
    for cls in (KeysError, SigningError, InputError, VaultCorrupt, ConfigError, LinkedDevice)
}


def find_agent_keys(home: Path) -> AgentKeys | None:
    """The agent of ``home`` if one runs unlocked, else None. Raises AgentError when its
    socket is not private (:func:`walletim.agent.client.connect`)."""
    client = connect(home)
    if client is None:
        return None
    try:
        status = client.call("status")
    except AgentGone:
        client.close()
        return None
    if isinstance(status, protocol.Failure) or status.get("locked") is not False:
        client.close()
        return None
    return AgentKeys(client)


class AgentKeys:
    """Keys held by the agent (see the module docstring)."""

    def __init__(self, client: AgentClient) -> None:
        self._client = client

    def __repr__(self) -> str:
        return "AgentKeys()"

    def close(self) -> None:
        self._client.close()

    def _call(self, op: str, account: str = "", **args: object) -> dict[str, Any]:
        if account:
            args["account"] = account
        try:
            answer = self._client.call(op, **args)
        except AgentGone as exc:
            raise AgentUnavailable(str(exc)) from exc
        if not isinstance(answer, protocol.Failure):
            return answer
        if answer.code == protocol.LOCKED:
            raise AgentUnavailable("the agent is locked")
        if answer.code == protocol.REFUSED:
            raise PolicyRefused(account, answer.message)
        if answer.kind == "WalletNotFound":
            raise WalletNotFound(str(args.get("wallet") or account.partition(":")[0]))
        raise _KINDS.get(answer.kind, AgentError)(answer.message)

    def check(self, record: WalletRecord, path: Path) -> None:
        tag = mac_tag(record, path)
        body = record.authenticated_bytes().decode("ascii")
        if self._call("check", body=body, tag=tag).get("valid") is not True:
            raise WalletFileTampered(path, MAC_MISMATCH)

    def store_key(self) -> bytes:
        key = _hex(self._call("store_key").get("key"))
        if len(key) != 32:
            raise AgentError("the agent's answer does not hold a store key")
        return key

    def seed_addresses(
        self, record: WalletRecord, template: str, start: int, count: int
    ) -> list[str]:
        out: list[str] = []
        while len(out) < count:
            n = min(MAX_ADDRESSES, count - len(out))
            found = self._call(
                "addresses", wallet=record.name, template=template, start=start + len(out), count=n
            ).get("addresses")
            if not isinstance(found, list) or len(found) != n:
                raise AgentError("the agent's answer does not hold the addresses asked for")
            out += [str(a) for a in found]
        return out

    def signer(self, spec: str, address: str) -> TxSigner:
        return AccountSigner(self.sign_transaction, spec, address, "AgentSigner")

    def check_plan(self, spec: str, address: str, txs: list[dict[str, Any]]) -> None:
        if len(txs) <= protocol.MAX_LIST:
            self._call("check_plan", spec, txs=[_wire(tx) for tx in txs])
            return
        # Longer than one request carries (a batch of many rows): the agent's own policy and
        # 24-hour counts, checked here by the same pure rules before the first is signed (the
        # agent still checks each transaction it signs).
        from walletim.agent.policy import Policy, Refused, check_plan, transaction_spends

        found = self._call("policy", spec)
        if not found.get("policy"):
            return
        try:
            policy = Policy.from_json(found["policy"])
            counted = _Counted({str(k): int(v) for k, v in dict(found.get("spent") or {}).items()})
            plan = [transaction_spends(policy, tx, address) for tx in txs]
            check_plan(policy, address, plan, counted)
        except Refused as exc:
            raise PolicyRefused(spec, str(exc)) from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise AgentError("the agent's policy answer is malformed") from exc

    def sign_transaction(self, spec: str, address: str, tx: dict[str, Any]) -> SignedTransaction:
        from walletim.keys.hd import keccak256
        from walletim.keys.signing import SignedTransaction

        got = self._call("sign_tx", spec, tx=_wire(tx))
        raw = _hex(got.get("raw"))
        signed = SignedTransaction(
            raw,
            "0x" + keccak256(raw).hex(),
            str(got.get("sender")),
            int(tx["nonce"]),
            int(got.get("type", -1)),
        )
        if signed.hash != got.get("hash") or signed.sender != address:
            raise AgentError("the agent's signed transaction is not the one asked for")
        return signed

    def _signature(self, got: dict[str, Any], address: str) -> Signature:
        from walletim.keys.signing import Signature, recover_digest

        digest, sig = _hex(got.get("digest")), _hex(got.get("signature"))
        if len(sig) != 65 or recover_digest(digest, sig) != address:
            raise AgentError("the agent's signature is not by the account asked for")
        return Signature(
            digest, int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
        )

    def sign_message(self, spec: str, address: str, message: bytes) -> Signature:
        from walletim.keys.signing import personal_digest

        got = self._call("sign_message", spec, message="0x" + message.hex())
        signature = self._signature(got, address)
        if signature.digest != personal_digest(message):
            raise AgentError("the agent signed another message")
        return signature

    def sign_typed_data(
        self, spec: str, address: str, doc: dict[str, object], rules: ChainRules
    ) -> Signature:
        from walletim.keys.signing import typed_data_digest

        got = self._call(
            "sign_typed_data",
            spec,
            doc=doc,
            chain_id=rules.chain_id,
            network=rules.network,
            allow_chains=list(rules.allow_chains),
            allow_any_chain=rules.allow_any_chain,
            profiles=[[k, v] for k, v in sorted(rules.profiles.items())][: protocol.MAX_LIST],
        )
        signature = self._signature(got, address)
        if signature.digest != typed_data_digest(doc):
            raise AgentError("the agent signed other typed data")
        return signature

    def chat_identity(self, spec: str) -> ChatIdentityKey:
        from walletim.keys.chat import identity_from_seed

        got = self._call("chat_identity", spec)
        identity = identity_from_seed(_hex(got.get("seed")))
        if identity.public_key != _hex(got.get("public")):
            raise AgentError("the agent's chat identity does not match its seed")
        return identity

    def backup_key(self, spec: str) -> BackupKey:
        from walletim.keys.backup import BackupKey

        root = _hex(self._call("backup_key", spec).get("root"))
        if len(root) != 32:
            raise AgentError("the agent's backup key is not 32 bytes")
        return BackupKey(root)

    def device_key(self, spec: str) -> DeviceKey:
        from walletim.keys.chat import DeviceKey, identity_from_seed

        got = self._call("device_key", spec)
        identity = identity_from_seed(_hex(got.get("seed")))
        dev_id = _hex(got.get("id"))
        if identity.public_key != _hex(got.get("public")) or len(dev_id) != 16:
            raise AgentError("the agent's device key does not match its seed")
        return DeviceKey(dev_id, identity)

    def sign_device_list(
        self, spec: str, address: str, version: int, devices: tuple[Device, ...]
    ) -> DeviceList:
        from walletim.errors import MessagingError
        from walletim.messaging.devices import DeviceList

        entries = [d.to_json() for d in devices]
        got = self._call("sign_device_list", spec, version=version, devices=entries)
        try:
            signed = DeviceList.from_json(got)
        except MessagingError as exc:
            raise AgentError("the agent's device list is malformed") from exc
        if (signed.wallet, signed.version, signed.devices) != (address, version, devices) or (
            not signed.verify()
        ):
            raise AgentError("the agent signed another device list")
        return signed

    def bind_chat_identity(self, spec: str, address: str, created: int) -> IdentityBinding:
        from walletim.messaging.identity import IdentityBinding

        got = self._call("bind_chat_identity", spec, created=created)
        binding = IdentityBinding.from_json(got)
        if binding.wallet != address or binding.created != created or not binding.verify():
            raise AgentError("the agent's identity binding is not the account's")
        return binding


@dataclass(frozen=True, slots=True)
class _Counted:
    """What the agent said it signed in the last 24 hours (base units by asset), as the
    ledger :func:`walletim.agent.policy.check_plan` reads."""

    spent_by_asset: dict[str, int]

    def spent(self, _address: str, asset: str) -> int:
        return self.spent_by_asset.get(asset, 0)


def _wire(tx: dict[str, Any]) -> dict[str, Any]:
    """A transaction's fields as the protocol carries them (bytes as 0x-hex)."""
    return {k: ("0x" + v.hex() if isinstance(v, bytes | bytearray) else v) for k, v in tx.items()}


def _hex(value: object) -> bytes:
    raw = hex_bytes(value, prefix=True)
    if raw is None:
        raise AgentError("the agent's answer is malformed")
    return raw
