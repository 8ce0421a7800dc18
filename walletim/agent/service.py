"""The agent's state and its answer to each request (the socket loop is
:mod:`walletim.agent.server`).

It holds one home's :class:`~walletim.app.wallets.Wallets`, unlocked here by the password
(the vault's master key in memory; every other key is derived from the sealed secrets for one
request and dropped). Locking (TTL, idle time, ``agent lock``, ``stop``, SIGTERM) overwrites
the master key and drops the wallets; a locked agent answers ``status``, ``unlock`` and
``stop``, and :data:`~walletim.agent.protocol.LOCKED` to the rest.

Before it signs a transaction or typed data, it reads the account's policy from its wallet
file and checks the request against it (:mod:`walletim.agent.policy`); a refusal carries the
reason. What it signed counts towards the account's daily caps (:class:`Ledger`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walletim.agent import protocol
from walletim.agent.policy import (
    DAY,
    Ledger,
    Policy,
    Refused,
    check_caps,
    check_plan,
    transaction_spends,
)
from walletim.agent.signed_data import check_message, typed_data_spends
from walletim.app.wallets import StaticPassword, Wallets
from walletim.app.wallets.keys import ChainRules, LocalKeys
from walletim.app.wallets.policies import read_policy
from walletim.errors import WalletimError

if TYPE_CHECKING:
    from walletim.app.chat_engine import ChatEngine
    from walletim.store.db import Store

MAX_ADDRESSES = 1000
#: Operations a locked agent answers.
WHILE_LOCKED = frozenset({"status", "lock", "stop", "unlock"})


class ServiceFailure(Exception):
    """A request the agent answers with an error (``code``, one line, the error's class)."""

    def __init__(self, code: str, message: str, kind: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Limits:
    """Seconds after unlocking (``ttl``) and after the last use of a key (``idle``) when
    the agent locks itself; 0: never."""

    ttl: int
    idle: int


class AgentService:
    """One home's keys, policy checks and daily counts (see the module docstring)."""

    def __init__(
        self,
        home: Path,
        limits: Limits,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        fast_kdf: bool = False,
    ) -> None:
        self.home = home
        self.limits = limits
        self._clock = clock
        self._fast_kdf = fast_kdf
        self._wallets: Wallets | None = None
        self._keys: LocalKeys | None = None
        self._wall = wall
        self.ledger = Ledger(wall)
        self._store: Store | None = None  # where the ledger keeps its counts, while unlocked
        self.unlocked_at = 0.0
        self.last_used = 0.0
        self.locked_reason: str | None = "not unlocked yet"
        self.stopping = False
        self._chat: ChatEngine | None = None

    @property
    def locked(self) -> bool:
        return self._keys is None

    def unlock(self, password: str) -> None:
        """Unlock with the home password (argon2id). Raises WrongPassword, ConfigError."""
        wallets = Wallets(self.home, StaticPassword(password), agent=False, fast_kdf=self._fast_kdf)
        keys = wallets.local_keys()
        wallets.drop_password()
        self.lock("unlocked again")  # a previous key, if any, is forgotten first
        self._wallets, self._keys = wallets, keys
        self.unlocked_at = self.last_used = self._clock()
        self.locked_reason = None

    def _counts(self) -> Ledger:
        """The ledger, counting what this home's agents signed in the last 24 hours (a
        restarted agent does not start from zero) and keeping what this one signs, in the
        agent's own encrypted file (:mod:`walletim.store.agent_spent`). Opened at the first
        request that needs it, in the process that serves (never before the daemon forks).
        Raises StoreError (nothing is signed then)."""
        if self._store is not None:
            return self.ledger
        from walletim.agent.client import agent_dir
        from walletim.errors import StoreError
        from walletim.store import agent_spent

        key = self._ready()[1].unlocked.subkey(agent_spent.KEY_LABEL)
        store = None
        try:
            store = agent_spent.open_spent(agent_dir(self.home), key)
            self.ledger.restore(agent_spent.since(store, self._wall() - DAY))
        except StoreError as exc:
            if store is not None:
                store.close()
            raise StoreError(
                f"{exc}: the agent keeps what it signed there for its caps per day (removing "
                "it forgets those counts)"
            ) from exc

        def keep(address: str, asset: str, when: float, amount: int) -> None:
            agent_spent.add(store, address, asset, when, amount)

        self.ledger.keep, self._store = keep, store
        return self.ledger

    def lock(self, reason: str) -> None:
        """Forget the keys (the master key overwritten in place)."""
        self.ledger.keep = None
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._wallets is not None:
            self._wallets.lock()
        self._wallets = self._keys = None
        self.locked_reason = reason

    def expiry(self) -> str | None:
        """Why the agent must lock now (its TTL or idle time is over), or None."""
        if self.locked:
            return None
        now = self._clock()
        if self.limits.ttl and now - self.unlocked_at >= self.limits.ttl:
            return "its time to live ran out"
        if self.limits.idle and now - self.last_used >= self.limits.idle:
            return "it was idle too long"
        return None

    def seconds_left(self) -> tuple[float | None, float | None]:
        """Seconds until the TTL and the idle time end (None: no such limit, or locked)."""
        if self.locked:
            return None, None
        now = self._clock()
        ttl = self.limits.ttl - (now - self.unlocked_at) if self.limits.ttl else None
        idle = self.limits.idle - (now - self.last_used) if self.limits.idle else None
        return ttl, idle

    # -- requests --------------------------------------------------------------------------

    def handle(self, request: protocol.Request) -> dict[str, Any]:
        """The result of ``request``. Raises ServiceFailure."""
        reason = self.expiry()
        if reason is not None:
            self.lock(reason)
        if request.op not in WHILE_LOCKED and self.locked:
            raise ServiceFailure(protocol.LOCKED, f"the agent is locked ({self.locked_reason})")
        if request.op in protocol.CHAT_OPS:  # the server runs them: chat()
            raise ServiceFailure(protocol.BAD_REQUEST, f"{request.op} is not a key operation")
        handler: Callable[[dict[str, Any]], dict[str, Any]] = getattr(self, "_op_" + request.op)
        try:
            result = handler(request.args)
        except Refused as refusal:
            raise ServiceFailure(protocol.REFUSED, refusal.reason) from refusal
        except protocol.ProtocolError as exc:
            raise ServiceFailure(protocol.BAD_REQUEST, str(exc)) from exc
        except WalletimError as exc:
            raise ServiceFailure(protocol.KEYS, str(exc), exc.kind) from exc
        if request.op not in WHILE_LOCKED:
            self.last_used = self._clock()
        return result

    # -- chat commands (walletim.app.chat_engine) -------------------------------------------

    def admit_chat(self) -> None:
        """Whether a chat request may run (under the keys' lock): the agent is unlocked; it
        counts as a use. Raises ServiceFailure (LOCKED)."""
        reason = self.expiry()
        if reason is not None:
            self.lock(reason)
        if self.locked:
            raise ServiceFailure(protocol.LOCKED, f"the agent is locked ({self.locked_reason})")
        self.last_used = self._clock()

    def chat(self, request: protocol.Request) -> dict[str, Any]:
        """Run a ``chat_send`` / ``chat_inbox`` request, *outside* the keys' lock: its session
        asks this agent for the store's and the chat keys over the socket, as any client.
        Raises ServiceFailure: LOCKED when the agent locked meanwhile, FAILED with the
        command's error (its walletim error class in ``kind``)."""
        from walletim.app.chat_engine import ChatEngine, LockedDuring

        if self._chat is None:
            self._chat = ChatEngine(self.home)
        try:
            return self._chat.run(request.op, request.args)
        except LockedDuring as exc:
            raise ServiceFailure(protocol.LOCKED, str(exc)) from exc
        except WalletimError as exc:
            raise ServiceFailure(protocol.FAILED, str(exc), error_class(exc)) from exc

    def _ready(self) -> tuple[Wallets, LocalKeys]:
        assert self._wallets is not None and self._keys is not None
        return self._wallets, self._keys

    def _op_status(self, _args: dict[str, Any]) -> dict[str, Any]:
        ttl, idle = self.seconds_left()
        return {
            "locked": self.locked,
            "locked_reason": self.locked_reason,
            "pid": os.getpid(),
            "home": str(self.home),
            "ttl": self.limits.ttl,
            "idle": self.limits.idle,
            "ttl_left": ttl,
            "idle_left": idle,
        }

    def _op_lock(self, _args: dict[str, Any]) -> dict[str, Any]:
        self.lock("locked by `walletim agent lock`")
        return {"locked": True}

    def _op_stop(self, _args: dict[str, Any]) -> dict[str, Any]:
        self.lock("stopped")
        self.stopping = True
        return {"stopping": True}

    def _op_unlock(self, args: dict[str, Any]) -> dict[str, Any]:
        self.unlock(args["password"])
        self.limits = Limits(args["ttl"], args["idle"])
        return {"locked": False}

    def _op_check(self, args: dict[str, Any]) -> dict[str, Any]:
        body: str = args["body"]
        if not body.isascii():
            return {"valid": False}
        return {"valid": self._ready()[1].unlocked.mac_matches(body.encode("ascii"), args["tag"])}

    def _op_store_key(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {"key": "0x" + self._ready()[1].store_key().hex()}

    def _op_addresses(self, args: dict[str, Any]) -> dict[str, Any]:
        count = args["count"]
        if count > MAX_ADDRESSES:
            raise protocol.ProtocolError(f"addresses: at most {MAX_ADDRESSES} per request")
        wallets, _keys = self._ready()
        found = wallets.addresses(args["wallet"], count, args["start"], args["template"])
        return {"addresses": [a.address for a in found]}

    def _op_chat_identity(self, args: dict[str, Any]) -> dict[str, Any]:
        identity = self._ready()[0].chat_identity(args["account"])
        return {"seed": "0x" + identity.seed.hex(), "public": "0x" + identity.public_key.hex()}

    def _op_backup_key(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"root": "0x" + self._ready()[0].backup_key(args["account"]).root.hex()}

    def _op_device_key(self, args: dict[str, Any]) -> dict[str, Any]:
        device = self._ready()[0].device_key(args["account"])
        return {
            "id": "0x" + device.id.hex(),
            "seed": "0x" + device.key.seed.hex(),
            "public": "0x" + device.key.public_key.hex(),
        }

    def _op_sign_device_list(self, args: dict[str, Any]) -> dict[str, Any]:
        from walletim.errors import MessagingError
        from walletim.messaging.devices import Device

        try:
            devices = tuple(Device.from_json(d) for d in args["devices"])
        except MessagingError as exc:
            raise protocol.ProtocolError(f"sign_device_list: {exc}") from exc
        wallets = self._ready()[0]
        return wallets.sign_device_list(args["account"], args["version"], devices).to_json()

    def _op_bind_chat_identity(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._ready()[0].bind_chat_identity(args["account"], args["created"]).to_json()

    def _op_sign_message(self, args: dict[str, Any]) -> dict[str, Any]:
        wallets, keys = self._ready()
        spec, message = args["account"], protocol.unhex(args["message"])
        policy = read_policy(keys, spec)
        if policy is not None:
            check_message(message)  # any policy: a hash's approval escapes them all
        signature = wallets.sign_message(spec, message)
        return {"digest": "0x" + signature.digest.hex(), "signature": signature.hex}

    def _op_sign_typed_data(self, args: dict[str, Any]) -> dict[str, Any]:
        from walletim.contracts.typed_data import typed_domain

        wallets, keys = self._ready()
        spec, doc = args["account"], args["doc"]
        rules = ChainRules(
            args["chain_id"],
            args["network"],
            tuple(args["allow_chains"]),
            args["allow_any_chain"],
            {int(k): str(v) for k, v in args["profiles"]},
        )
        rules.check(doc)  # the same rules as without the agent, before the policy's
        address = wallets.account(spec).address
        policy = read_policy(keys, spec)
        spends = []
        if policy is not None:
            spends = typed_data_spends(policy, doc, typed_domain(doc).chain_id)
            check_caps(policy, address, spends, self._counts())
        signature = keys.sign_typed_data(spec, address, doc, rules)
        self.ledger.record(address, spends)
        return {"digest": "0x" + signature.digest.hex(), "signature": signature.hex}

    def _op_sign_tx(self, args: dict[str, Any]) -> dict[str, Any]:
        wallets, keys = self._ready()
        spec, tx = args["account"], protocol.transaction(args["tx"])
        address = wallets.account(spec).address
        policy = read_policy(keys, spec)
        spends = []
        if policy is not None:
            if "chainId" not in tx:
                raise Refused("it has no chain id")
            spends = transaction_spends(policy, tx, address)
            check_caps(policy, address, spends, self._counts())
        signed = keys.signer(spec, address).sign_transaction(tx)
        self.ledger.record(address, spends)
        return {
            "raw": "0x" + signed.raw.hex(),
            "hash": signed.hash,
            "sender": signed.sender,
            "type": signed.tx_type,
        }

    def _op_check_plan(self, args: dict[str, Any]) -> dict[str, Any]:
        """Whether the policy lets every transaction of a plan be signed (each within the
        per-transaction caps, all together within the daily ones): checked before the first
        is signed, so that a plan is not stopped half-way (an approval sent, its swap
        refused). Signs and counts nothing."""
        wallets, keys = self._ready()
        spec = args["account"]
        address = wallets.account(spec).address
        policy = read_policy(keys, spec)
        if policy is None:
            return {"allowed": True}
        plan = []
        for doc in args["txs"]:
            tx = protocol.transaction(doc)
            if "chainId" not in tx:
                raise Refused("it has no chain id")
            plan.append(transaction_spends(policy, tx, address))
        check_plan(policy, address, plan, self._counts())
        return {"allowed": True}

    def _op_policy(self, args: dict[str, Any]) -> dict[str, Any]:
        wallets, keys = self._ready()
        spec = args["account"]
        address = wallets.account(spec).address
        policy: Policy | None = read_policy(keys, spec)
        spent = {asset: str(amount) for asset, amount in self._counts().totals(address).items()}
        return {"policy": None if policy is None else policy.to_json(), "spent": spent}


def error_class(exc: WalletimError) -> str:
    """The name of the nearest class of ``exc`` that walletim.errors defines (a client
    rebuilds the error as that class: the same exit code and ``--json`` type)."""
    from walletim import errors

    for cls in type(exc).__mro__:
        if getattr(errors, cls.__name__, None) is cls:
            return str(cls.__name__)
    return "WalletimError"
