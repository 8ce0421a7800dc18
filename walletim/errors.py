"""Every error walletim raises on purpose.

::

    WalletimError                      base; carries ``message`` and ``exit_code``
    ├── UsageError                     a command was called wrongly (exit 2)
    ├── InputError                     bad user input: an amount, an address, a file (exit 1)
    │   ├── Aborted                    the user said no at a confirmation prompt
    │   ├── InsufficientFunds          not enough ETH or tokens for what was asked (also a
    │   │                              ChainError for callers that catch that); exit 1 for
    │   │                              both, like any other input that cannot be done
    │   ├── FeeCapExceeded             the most a transaction's fees can cost is above the
    │   │                              user's fee cap (also a ChainError); exit 1
    │   ├── NonceUsed                  --nonce names one a mined transaction used (also a
    │   │                              ChainError); exit 1
    │   └── RiskRefused                a risky send (to the zero address, ETH to a token
    │                                  contract, a swap with a very high price impact)
    │                                  refused unless --force (``--yes`` is not enough)
    ├── ConfigError                    the home or its settings are unusable (exit 1)
    ├── KeysError                      keys, vault, keystores, signing (exit 1)
    │   ├── InvalidMnemonic            ``reason`` says which check failed; ``position`` (1-based)
    │   ├── InvalidDerivationPath      ``path``
    │   ├── InvalidPrivateKey
    │   ├── WrongPassword              the vault / keystore password did not decrypt
    │   ├── PasswordRequired           no password source in non-interactive use
    │   ├── VaultCorrupt               a vault or wallet file that does not parse / authenticate
    │   │   └── WalletFileTampered     a wallet file whose contents fail their MAC under the
    │   │                              home's key: changed outside walletim (``path``)
    │   ├── KeystoreError              a v3 keystore file that is malformed or hostile
    │   │   └── KeystoreAddressMismatch  decrypted key does not match the file's ``address``
    │   ├── WalletNotFound / WalletExists   ``name``
    │   ├── KeyAlreadyHeld             an imported key is already an account here (``spec``)
    │   ├── AgentError                 the home's agent (``walletim agent``): already running,
    │   │                              not private, not answering, or it failed a request
    │   └── SigningError               refused to sign (e.g. no chain id)
    │       ├── PolicyRefused          outside the agent's policy of the account (``account``,
    │       │                          ``reason``); nothing was signed
    │       ├── TypedDataChainRefused  EIP-712 domain for another chain than the network's
    │       │                          (``chain_id``, ``expected``), not explicitly allowed
    │       └── TypedDataAnyChainRefused  EIP-712 domain without chainId (valid on every
    │                                  chain), not explicitly allowed
    ├── ChainError                     talking to a chain (exit 3)
    │   ├── RpcError                   ``response`` keeps the raw JSON-RPC error object
    │   ├── ChainIdMismatch            ``expected`` / ``actual``
    │   ├── ContractRefused            the contract's own answer to a read is no answer of the
    │   │   │                          kind asked: "not this kind of contract" (never a node
    │   │   │                          failure, which is an RpcError: not "nothing there")
    │   │   ├── ContractReverted       ``reason`` is the decoded revert reason
    │   │   │   └── ContractHalted     its code stopped on an invalid instruction, a bad jump,
    │   │   │                          the stack or gas (``reason``: the node's words)
    │   │   └── UnreadableAnswer       it returned nothing, or data that does not decode as
    │   │                              asked (``error.type`` "ChainError" in --json)
    │   ├── InconsistentAnswer         a node's answer that does not check out (``method``,
    │   │                              ``why``): a transaction that does not hash to its hash,
    │   │                              a block header that does not hash to its hash, a log not
    │   │                              in its block's bloom; nothing is signed or verified on it
    │   ├── SuspiciousNonce            the node's nonce contradicts this home's own records
    │   │                              (``node``, ``known``); nothing was signed
    │   └── SuggestedFeeTooHigh        the node suggests a fee per gas above walletim's limit
    │                                  for a suggestion (``fee``, ``limit``); nothing was signed
    ├── MessagingError                 chat and relay (exit 4)
    │   ├── RelayUnavailable           cannot reach the relay, or the connection was lost (``url``)
    │   ├── RelayRefused               the relay answered a request with an error (``code``;
    │   │                              ``retry_after`` seconds when it is temporary)
    │   ├── RelayKeyChanged            the relay at a pinned URL presented another key (``url``,
    │   │                              ``pinned``, ``presented``); nothing was signed for it
    │   ├── PeerNotFound               no published chat keys for an address (``address``)
    │   └── MessageRejected            an envelope that failed authentication, a replay, or
    │                                  one not meant for us (``reason``); never shown as a message
    └── StoreError                     the local encrypted database (exit 1)

Messages never contain secrets: no passwords, mnemonics, private keys or
plaintext derived from them. Construct errors with the facts a user needs to act.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

__all__ = [
    "CLI_ADVICE",
    "Aborted",
    "AgentError",
    "ChainError",
    "ChainIdMismatch",
    "ConfigError",
    "ContractHalted",
    "ContractRefused",
    "ContractReverted",
    "FeeCapExceeded",
    "InconsistentAnswer",
    "InputError",
    "InsufficientFunds",
    "InvalidDerivationPath",
    "InvalidMnemonic",
    "InvalidPrivateKey",
    "KeyAlreadyHeld",
    "KeysError",
    "KeystoreAddressMismatch",
    "KeystoreError",
    "MessageRejected",
    "MessagingError",
    "NonceUsed",
    "PasswordRequired",
    "PeerNotFound",
    "PolicyRefused",
    "RelayKeyChanged",
    "RelayRefused",
    "RelayUnavailable",
    "RiskRefused",
    "RpcError",
    "SigningError",
    "StepFailed",
    "StoreError",
    "SuggestedFeeTooHigh",
    "SuspiciousNonce",
    "TypedDataAnyChainRefused",
    "TypedDataChainRefused",
    "UnreadableAnswer",
    "UsageError",
    "VaultCorrupt",
    "WalletExists",
    "WalletFileTampered",
    "WalletNotFound",
    "WalletimError",
    "WrongPassword",
    "shown",
    "text_input",
]


def shown(text: object, limit: int = 44) -> str:
    """How user input appears in an error message: quoted if short, else only its length.

    Long input is never echoed: a private key or mnemonic pasted into the wrong field must
    not end up in a terminal's scrollback or a log.
    """
    value = str(text)
    if len(value) > limit or len(value.split()) > 3:
        return f"<{len(value)} characters, not shown>"
    return repr(value)


#: What a refusal advises doing about it, by name (``WalletimError.advice``), in the command
#: line's words: ``str(err)`` ends with them (the CLI's line and its --json ``message``). A
#: front end with other means words it its own way (the app: ``walletim.tui.text.ADVICE``).
#: ``{name}`` in the words is one of the refusal's ``advice_args`` (what to give instead).
CLI_ADVICE = {
    "force": " (--force to do it anyway)",
    "pay-again": "; pass --force to pay again",
    "nonce": " (check with another --rpc-url, run `walletim tx history` to re-check this "
    "home's transactions, or give --nonce)",
    "fees": " (give --max-fee / --priority-fee to pay more on purpose)",
    "shares": " (at most --shares {shares})",
    "unblock": " (walletim chat unblock)",
}


class WalletimError(Exception):
    """Base of every walletim error; ``str(err)`` is one line fit for a user: ``facts``
    and, if it names one, its ``advice`` (a key of :data:`CLI_ADVICE`) in the CLI's words,
    with ``advice_args`` (the figures it gives) put in."""

    exit_code: ClassVar[int] = 1

    def __init__(
        self,
        message: str,
        *,
        advice: str | None = None,
        advice_args: Mapping[str, object] | None = None,
    ) -> None:
        self.advice_args = dict(advice_args or {})
        advised = CLI_ADVICE[advice].format(**self.advice_args) if advice is not None else ""
        text = message + advised
        super().__init__(text)
        self.message = text
        self.facts = message
        self.advice = advice

    def __str__(self) -> str:
        return self.message

    @property
    def kind(self) -> str:
        """The class name, used as ``error.type`` in ``--json`` output."""
        return type(self).__name__


class UsageError(WalletimError):
    exit_code = 2


class InputError(WalletimError):
    exit_code = 1


class Aborted(InputError):
    def __init__(self, message: str = "aborted: nothing was changed") -> None:
        super().__init__(message)


class Interrupted(WalletimError):
    """The user pressed Ctrl-C (SIGINT). ``message`` says what was already done, e.g. which
    transactions were broadcast and where they stand; ``details`` is that, for --json."""

    exit_code = 130

    def __init__(self, message: str, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


class ConfigError(WalletimError):
    exit_code = 1


class RiskRefused(InputError):
    """A send the risk policy (walletim.app.risk) refuses unless forced: ``code`` names the
    risk (``zero-address``, ``precompile``, ``eth-to-token``, ``token-to-token``,
    ``price-impact``)."""

    def __init__(self, message: str, *, code: str, advice: str | None) -> None:
        super().__init__(message, advice=advice)
        self.code = code


class KeysError(WalletimError):
    exit_code = 1


class InvalidMnemonic(KeysError):
    """``reason`` is one of: length, word, checksum, passphrase.

    ``position`` is the 1-based index of the offending word when ``reason == "word"``.
    """

    def __init__(self, message: str, *, reason: str, position: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.position = position


class InvalidDerivationPath(KeysError):
    def __init__(self, path: str, why: str) -> None:
        # shown(): a mnemonic or key pasted into --path is not echoed.
        super().__init__(f"invalid derivation path {shown(path)}: {why}")
        self.path = path
        self.why = why


class InvalidPrivateKey(KeysError):
    """A private key that is not 32 bytes (64 hex digits) in the secp256k1 range."""


class WrongPassword(KeysError):
    def __init__(self, what: str = "the walletim home") -> None:
        super().__init__(f"wrong password for {what}")
        self.what = what


class PasswordRequired(KeysError):
    pass


class VaultCorrupt(KeysError):
    pass


class WalletFileTampered(VaultCorrupt):
    """A wallet file whose contents (addresses, public nodes, path template, name: everything
    but the MAC) do not match its MAC under the home's key, or that lost its MAC. ``path``."""

    def __init__(self, path: object, why: str) -> None:
        super().__init__(
            f"wallet file {path} was modified outside walletim ({why}); it is not used: "
            "nothing is shown or signed from it (remove it with `walletim wallet remove` and "
            "import the wallet again from its mnemonic or key)"
        )
        self.path = str(path)
        self.why = why


class KeystoreError(KeysError):
    """A keystore file (Web3 Secret Storage, as geth writes it) that is malformed or asks for
    a KDF cost out of bounds (a wrong password is :class:`WrongPassword`)."""


class KeystoreAddressMismatch(KeystoreError):
    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(
            f"keystore says its address is {expected} but its key belongs to {actual}; not imported"
        )
        self.expected = expected
        self.actual = actual


class LinkedDevice(KeysError):
    """A key this home does not hold: the wallet is here only as a chat device linked by
    code (``chat device link``), with its own device key and no seed."""


class WalletNotFound(KeysError):
    def __init__(self, name: str) -> None:
        # shown(): a private key pasted where an account goes (MetaMask exports them without
        # 0x) is a "name" too, and must not reach the terminal's scrollback.
        super().__init__(f"no wallet named {shown(name)} in this home (see `walletim wallet list`)")
        self.name = name


class WalletExists(KeysError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a wallet named {shown(name)} already exists in this home")
        self.name = name


class KeyAlreadyHeld(KeysError):
    """A key being imported is already an account of a wallet of this home: a second wallet of
    it would be a second chat device of the same address in one home."""

    def __init__(self, spec: str, address: str) -> None:
        super().__init__(f"{address} is already in this home as {spec}; not imported")
        self.spec = spec
        self.address = address


class SigningError(KeysError):
    """What was to be signed is refused or malformed: nothing was signed."""


class AgentError(KeysError):
    """The signing agent's answer is not what was asked for (another key, transaction or
    account): nothing it sent is used."""


class PolicyRefused(SigningError):
    """The agent refused to sign for ``account``: outside its policy (``reason``)."""

    def __init__(self, account: str, reason: str) -> None:
        super().__init__(
            f"refused by the agent's policy for {account}: {reason}; nothing was signed"
        )
        self.account = account
        self.reason = reason


class TypedDataChainRefused(SigningError):
    """EIP-712 data whose domain ``chainId`` is not the network's and was not allowed."""

    def __init__(self, chain_id: int, expected: int, chain: str, network: str) -> None:
        super().__init__(
            f"refused: this typed data is valid on {chain}, not on this network "
            f"({network}, chain {expected}); nothing was signed (to sign it for chain "
            f"{chain_id} on purpose, allow that chain: --allow-chain {chain_id})"
        )
        self.chain_id = chain_id
        self.expected = expected


class TypedDataAnyChainRefused(SigningError):
    """EIP-712 data whose domain has no ``chainId``: its signature is valid on every chain."""

    def __init__(self) -> None:
        super().__init__(
            "refused: this typed data's domain has no chainId, so its signature is valid on "
            "EVERY chain; nothing was signed (to sign it anyway: --allow-any-chain)"
        )


class ChainError(WalletimError):
    exit_code = 3


class InsufficientFunds(InputError, ChainError):
    """Not enough ETH (value plus the most the fees can cost) or not enough of a token for
    what was asked; nothing was signed. Exit 1, for ETH and tokens alike (an input that
    cannot be done), and a ChainError too, for scripts that catch that."""

    exit_code = 1


class FeeCapExceeded(InputError, ChainError):
    """The most a transaction's fees can cost is above the fee cap the user set (--fee-cap,
    the network profile's); nothing was signed. Exit 1, as any input that cannot be done
    (raise the cap, or lower the fees); a ChainError too, for callers that catch that."""

    exit_code = 1


class NonceUsed(InputError, ChainError):
    """``--nonce`` names a nonce a mined transaction of the sender already used: no
    transaction at it can be mined (nor replace that one); nothing was signed. Exit 1."""

    exit_code = 1

    def __init__(self, address: str, nonce: int, next_nonce: int) -> None:
        super().__init__(
            f"nonce {nonce} of {address} is already used by a mined transaction (its next "
            f"nonce is {next_nonce}); nothing was signed"
        )
        self.nonce = nonce
        self.next_nonce = next_nonce


class RpcError(ChainError):
    """A JSON-RPC call failed; ``response`` is the node's raw error object (or None)."""

    def __init__(self, message: str, *, method: str = "", response: object = None) -> None:
        super().__init__(message)
        self.method = method
        self.response = response


class ChainIdMismatch(ChainError):
    def __init__(self, expected: int, actual: int, url: str = "") -> None:
        where = f" at {url}" if url else ""
        super().__init__(
            f"the node{where} reports chain id {actual}, but this network is pinned to "
            f"{expected}: that node is not used (nothing is read from it or signed for it)"
        )
        self.expected = expected
        self.actual = actual


class ContractRefused(ChainError):
    """The contract itself answered a read with no answer of the kind asked: it reverted
    (:class:`ContractReverted`), or returned nothing or data that does not decode
    (:class:`UnreadableAnswer`). This, and only this, means "not a contract of this kind"
    (no vault, no such token id, no allowance function): a node that fails (HTTP 500, a lost
    connection, an error that is not a revert) raises :class:`RpcError`, which must reach the
    user as a node failure (exit 3), never read as "nothing there"."""


class ContractReverted(ContractRefused):
    def __init__(self, reason: str, *, data: str | None = None) -> None:
        super().__init__(f"execution reverted: {reason}")
        self.reason = reason
        self.data = data


class ContractHalted(ContractReverted):
    """The contract's code stopped with an exceptional halt (an invalid or undefined
    instruction, a jump nowhere, the stack, out of gas): its own answer, as a revert is."""

    def __init__(self, reason: str) -> None:
        ContractRefused.__init__(self, f"the contract's code halted: {reason}")
        self.reason = reason
        self.data = None


class AnsweredFalse(ContractReverted):
    """An ERC-20 ``transfer``/``transferFrom``/``approve`` that answered ``false``: it did
    not revert, but moves or approves nothing (a failure, as SafeERC20 reads it)."""

    def __init__(self, reason: str) -> None:
        ContractRefused.__init__(self, reason)
        self.reason = reason
        self.data = None

    @property
    def kind(self) -> str:
        return "ContractReverted"  # the --json error.type scripts already know for this


class UnreadableAnswer(ContractRefused):
    """A read call answered with nothing, or with data that does not decode as asked."""

    @property
    def kind(self) -> str:
        return "ChainError"  # the --json error.type scripts already know for this


class StepFailed(ChainError):
    """A transaction of a plan was sent and did not succeed (``status``: failed, dropped,
    replaced, pending past the wait): gas may have been spent, unlike a refusal before
    signing."""

    def __init__(self, message: str, *, tx_hash: str, status: str) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash
        self.status = status

    @property
    def kind(self) -> str:
        return "ChainError"  # the --json error.type scripts already know for this


class InconsistentAnswer(ChainError):
    """A node's answer that does not check out against what it commits to (a transaction that
    does not hash to the hash asked for, a header that does not hash to its block hash, ...).
    Nothing is signed or shown as verified on such an answer."""

    def __init__(self, why: str, *, method: str = "") -> None:
        where = f" to {method}" if method else ""
        super().__init__(f"the node's answer{where} does not check out: {why}")
        self.method = method
        self.why = why


class SuspiciousNonce(ChainError):
    """The node's next nonce for ``address`` contradicts this home's records: lower than a
    nonce this home saw mined, or far above anything it can account for."""

    def __init__(self, address: str, node: int, known: int, why: str) -> None:
        super().__init__(
            f"the node says the next nonce of {address} is {node}, but {why}; the node may be "
            "lying or out of sync: nothing was signed",
            advice="nonce",
        )
        self.address = address
        self.node = node
        self.known = known


class SuggestedFeeTooHigh(ChainError):
    """The node suggests a fee per gas (wei) above the limit walletim signs on a suggestion."""

    def __init__(self, what: str, fee: int, limit: int) -> None:
        super().__init__(
            f"the node suggests a {what} of {fee / 10**9:,.9g} gwei per gas, above the "
            f"{limit / 10**9:,.9g} gwei walletim accepts from a suggestion; nothing was signed",
            advice="fees",
        )
        self.what = what
        self.fee = fee
        self.limit = limit


class MessagingError(WalletimError):
    exit_code = 4
    #: The messages it stopped are stored and go out with the next pass (set only by
    #: walletim.app.chat.outbox.not_stored): typed again, they would go twice.
    saved = False


class RelayUnavailable(MessagingError):
    """The relay cannot be reached, or it went away mid-request. ``url`` carries no secrets."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the chat relay at {url}: {reason}")
        self.url = url
        self.reason = reason


class RelayRefused(MessagingError):
    """The relay answered with an error; ``code`` is the protocol's error code.
    ``retry_after`` (seconds) is set when the refusal is temporary (e.g. ``mailbox_full``)."""

    def __init__(self, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(f"the relay refused: {message} ({code})" if message else code)
        self.code = code
        self.retry_after = retry_after


class RelayKeyChanged(MessagingError):
    """The relay at ``url`` presented a key other than the one this home pinned for that URL
    (hex fingerprints ``pinned`` and ``presented``). Nothing was signed for it."""

    def __init__(self, url: str, pinned: str, presented: str) -> None:
        super().__init__(
            f"the relay at {url} presented key {presented[:16]}…, not the key this home pinned "
            f"for that URL ({pinned[:16]}…): it may be an impostor or a forwarding relay; if "
            f"its operator replaced the key on purpose, trust the new one with "
            f"`walletim relay pin {url}`"
        )
        self.url = url
        self.pinned = pinned
        self.presented = presented


class PeerNotFound(MessagingError):
    def __init__(self, address: str) -> None:
        super().__init__(f"{address} has not published chat keys to this relay yet")
        self.address = address


class MessageRejected(MessagingError):
    """An incoming envelope that is not accepted. ``reason`` is one of: sealed (not for us or
    damaged), malformed, unknown-sender, binding, authentication (tampered, or meant for
    other wallets), replay, expired-prekey, unlisted-device, not-own-device."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"message rejected ({reason}){': ' + detail if detail else ''}")
        self.reason = reason
        self.detail = detail


class StoreError(WalletimError):
    exit_code = 1


def text_input(value: object, what: str) -> str:
    """``value`` when it is text; else InputError naming ``what`` and the type given (a
    script's ``None`` or int where a name, address or amount is asked)."""
    if isinstance(value, str):
        return value
    raise InputError(f"{what} must be text (str), not {type(value).__name__}")
