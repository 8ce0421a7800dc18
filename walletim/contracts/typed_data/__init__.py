"""What an EIP-712 payload allows, said plainly before ``sign typed-data`` signs it (pure).

Recognised (anything else is plain typed data, described as None):

- EIP-2612 ``Permit{owner, spender, value, nonce, deadline}``: the token is the domain's
  ``verifyingContract``. The allowance it sets does not expire; ``deadline`` only limits
  when the signature can be submitted.
- DAI-style ``Permit{holder, spender, nonce, expiry, allowed}``: ``allowed`` true sets an
  UNLIMITED allowance, false revokes it.
- Uniswap Permit2 (domain name "Permit2", canonical address :data:`PERMIT2_ADDRESS`),
  AllowanceTransfer ``PermitSingle`` / ``PermitBatch`` (``details{token, amount (uint160),
  expiration (uint48), nonce}``, ``spender``, ``sigDeadline``): an allowance through Permit2
  that lasts until ``expiration``; and SignatureTransfer ``PermitTransferFrom`` /
  ``PermitBatchTransferFrom`` / ``PermitWitnessTransferFrom`` /
  ``PermitBatchWitnessTransferFrom`` (``permitted{token, amount}``, ``spender``, ``nonce``,
  ``deadline``): one transfer of up to ``amount``.
- Any other primary type named like a permit (EIP-4494 NFT permits, a token's own variant):
  ``unknown-permit``, so it is never shown as harmless plain data.

Values are read the way eth-account encodes them for signing (``"0x10"`` and ``"16"`` are
both 16; a bool is false only for false, 0, "", "0", "false", "False"), so the description
is of what is signed. A value the signer would refuse (out of range, not an address) makes
the payload "malformed". Amounts are base units, shown in the token's decimals when the
``token`` callback knows them.

Calls carried inside typed data are described as calls (:func:`carried_calls`): a struct with
a ``bytes`` field named ``data`` / ``callData`` / ``calldata`` / ``func`` / ``functionSignature``
is a call the verifying contract will make: to its ``to`` / ``target`` / ``dest`` address (an
ERC-4337 user operation: its ``sender`` account; a meta-transaction without one: the verifying
contract), as its ``from`` (EIP-2771 forwarders, meta-transactions), as the Safe (``SafeTx``;
``operation`` 1 is a DELEGATECALL) or as the account (ERC-4337). Each is described by
:func:`walletim.contracts.describe.describe_call`, multicalls and Permit2 inside included, and
its approvals are the payload's approvals.

Flags: permit, permit2, unlimited, long-lived (usable for more than 30 days, or forever),
expired (the deadline is before ``now``), revoke, nonstandard-types (the ``types`` are not
the standard ones: the signature may mean something else to the contract), noncanonical-permit2
(a "Permit2" domain at another address), malformed; and for carried calls: carries-call,
approval, operator-approval, nested-approval, delegatecall, unknown-call, too-complex.

Whatever the payload, its **domain** says where the signature is valid: :func:`typed_domain`
reads it exactly as the signer hashes it (chainId, verifyingContract, name, version, salt),
:func:`describe_domain` says it in words (the chain by name, "this network" or not, the
contract), and :func:`check_domain_chain` refuses a domain for another chain than the
network's, or one without chainId (valid on every chain), unless explicitly allowed.

The package, by meaning: :mod:`.values` (field values as signed, the description),
:mod:`.permits` (permits and Permit2), :mod:`.domain` (where a signature is valid),
:mod:`.calls` (calls carried inside). Everything is importable from here.
"""

from __future__ import annotations

from collections.abc import Callable

from walletim.contracts.describe import PERMIT2_ADDRESS, TokenMetaLike
from walletim.contracts.typed_data.calls import (
    MAX_TYPED_CALLS,
    MAX_TYPED_STRUCTS,
    CarriedCall,
    _unread_call,
    _with_calls,
    carried_calls,
    carries_calldata,
)
from walletim.contracts.typed_data.domain import (
    SAME_ON_EVERY_CHAIN,
    TypedDomain,
    check_domain_chain,
    describe_domain,
    typed_domain,
)
from walletim.contracts.typed_data.permits import _describe_permit
from walletim.contracts.typed_data.values import (
    FLAGS,
    LONG_LIVED,
    MAX_UINT48,
    MAX_UINT160,
    NEVER_FROM,
    Grant,
    Json,
    TypedDataDescription,
    _bool,
    _Malformed,
    _uint,
)


def describe_typed_data(
    doc: object,
    *,
    token: Callable[[str], TokenMetaLike | None] = lambda _a: None,
    now: int | None = None,
    name: Callable[[str], str | None] = lambda _a: None,
) -> TypedDataDescription | None:
    """Recognise a permit-like EIP-712 payload (eth_signTypedData_v4 JSON as a dict; see the
    module docstring), and the calls it carries. ``token(address)`` gives symbol and decimals
    (it may raise: then the amount is shown in base units); ``name(address)`` labels
    addresses; ``now`` (unix seconds) enables expired / long-lived.

    Returns None for plain typed data. Never raises: a payload of a known shape with bad
    fields is described as malformed.
    """
    found = _describe_permit(doc, token, now)
    if not isinstance(doc, dict):
        return found
    try:
        calls = carried_calls(doc)
    except Exception:  # a field it cannot parse: the call is there, not described
        calls = []
    if not calls:
        return _unread_call(found) if carries_calldata(doc) else found
    return _with_calls(found, calls, token, name)


__all__ = [
    "FLAGS",
    "LONG_LIVED",
    "MAX_TYPED_CALLS",
    "MAX_TYPED_STRUCTS",
    "MAX_UINT48",
    "MAX_UINT160",
    "NEVER_FROM",
    "PERMIT2_ADDRESS",
    "SAME_ON_EVERY_CHAIN",
    "CarriedCall",
    "Grant",
    "Json",
    "TypedDataDescription",
    "TypedDomain",
    "_Malformed",
    "_bool",
    "_uint",
    "carried_calls",
    "carries_calldata",
    "check_domain_chain",
    "describe_domain",
    "describe_typed_data",
    "typed_domain",
]
