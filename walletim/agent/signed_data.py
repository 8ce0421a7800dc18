"""What signing typed data (EIP-712) or a message (EIP-191) lets be spent under an account's
policy (pure; the policy itself and the checks of transactions: :mod:`walletim.agent.policy`).

Typed data is held to the policy's chain ids (its domain's ``chainId``; without one it is
valid everywhere: refused) and, when the policy lists contracts, to them (its verifying
contract acts on the signature as a call would). Its permits of a capped token count like
approvals (EIP-2612, DAI, Permit2, EIP-3009 transfer authorizations); what it cannot read is
refused under caps: calls it carries (a forwarder's request, a user operation of an account
delegated by EIP-7702), a permit of a kind of its own on a capped token's domain, a Permit2
payload of no known kind. A message of 32 bytes (a transaction's hash, which a Safe takes as
its owner's approval) is refused under any policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from walletim.agent.policy import UNLIMITED, Policy, Refused, Spend, _ids, _in
from walletim.keys.hd import to_checksum_address

if TYPE_CHECKING:  # not at import: the agent's client imports the policy
    from walletim.contracts.typed_data import TypedDataDescription

#: approve(address,uint256): what a signed permit does.
_APPROVE = bytes.fromhex("095ea7b3")


def typed_data_spends(policy: Policy, doc: Mapping[str, Any], chain_id: int | None) -> list[Spend]:
    """What signing typed data ``doc`` (domain ``chain_id``, None when it has none) lets be
    spent under ``policy``. Raises :class:`Refused`.

    walletim's own payment claim (``messaging.kinds.payment_typed_data``, signed after the
    transfer it tells of) acts on no contract and moves nothing; its domain has no chainId
    because its message names the chain, which is the one checked."""
    claimed = _payment_claim_chain(doc)
    if claimed is not None:
        if policy.chains is not None and claimed not in policy.chains:
            raise Refused(f"it claims a payment on chain {claimed}, not among {_ids(policy)}")
        return []
    if policy.chains is not None:
        if chain_id is None:
            raise Refused(
                "its domain has no chainId (valid on every chain), and this account may sign "
                f"only for chains {_ids(policy)}"
            )
        if chain_id not in policy.chains:
            raise Refused(
                f"it is for chain {chain_id}, not among the chains it may sign for {_ids(policy)}"
            )
    if policy.calls is not None:
        _check_verifying_contract(policy, doc)
    if not policy.tokens and policy.calls is None and policy.eth.empty:
        return []  # under an ETH cap too: a call it carries may run as the account (EIP-7702)
    from walletim.contracts.describe import TokenMeta
    from walletim.contracts.typed_data import describe_typed_data

    def meta(address: str) -> TokenMeta | None:
        found = policy.token_cap(to_checksum_address(address))
        return None if found is None else TokenMeta(found.symbol, found.decimals)

    described = describe_typed_data(dict(doc), token=meta)
    if described is not None and "carries-call" in described.flags:  # read or not
        raise Refused("it carries calls a contract will make, which the policy cannot check")
    if described is None or described.kind in _UNREAD_PERMITS:  # its grants are not read
        _refuse_unknown_on_capped(policy, doc, described)
        if described is None:
            return []
    out: list[Spend] = []
    for grant in described.grants:
        capped = policy.token_cap(to_checksum_address(grant.token))
        if capped is None:
            continue
        amount = UNLIMITED if grant.amount is None or grant.unlimited else grant.amount
        what = "a transfer authorization" if "transfer" in described.flags else "a permit"
        out.append(
            Spend(capped.token, amount, f"{what} of {_in(amount, capped.decimals, capped.symbol)}")
        )
    return out


def check_message(message: bytes) -> None:
    """An EIP-191 message under any policy: one of 32 bytes is refused (Raises
    :class:`Refused`). It is what the hash of a transaction is, and a contract wallet (a
    Safe) takes such a signature as its owner approving that transaction, which moves what
    the policy cannot see; walletim's own messages are text."""
    if len(message) == 32:
        raise Refused(
            "it is 32 bytes, as the hash of a transaction is: a contract wallet (a Safe) "
            "takes its signature as approving that transaction, which the policy cannot check"
        )


#: Typed data named like a permit whose grants are not read (a kind of its own, malformed).
_UNREAD_PERMITS = {"unknown-permit", "permit-malformed", "permit2-unknown", "permit2-malformed"}


def _refuse_unknown_on_capped(
    policy: Policy, doc: Mapping[str, Any], described: TypedDataDescription | None = None
) -> None:
    """Typed data for a capped token's own domain that is no permit the policy reads: the
    token may act on it (a permit of its own kind) and nothing would be counted. Under token
    caps, a permit it does not read for Permit2 (which moves any capped token approved to it)
    or for no contract named (a capped token's, for all it says) is refused too."""
    from walletim.contracts.typed_data import typed_domain

    contract = typed_domain(dict(doc)).verifying_contract
    if described is not None and policy.tokens:
        if described.kind.startswith("permit2"):
            raise Refused(
                "it is a Permit2 payload of a kind (or with fields) the policy does not read, "
                "and Permit2 can move the capped tokens approved to it"
            )
        if contract is None:
            raise Refused(
                "it is a permit the policy does not read for no contract named: it may be a "
                "capped token's, uncounted"
            )
    capped = None if contract is None else policy.token_cap(to_checksum_address(contract))
    if capped is not None:
        raise Refused(
            f"it is signed for {capped.symbol}'s own contract and is no permit the policy "
            "counts against the token's caps"
        )


def _payment_claim_chain(doc: Mapping[str, Any]) -> int | None:
    """The chain a walletim payment claim names, or None when ``doc`` is anything else (it
    must be exactly the statement walletim builds from its own message's fields)."""
    from walletim.messaging.kinds import payment_typed_data

    message = doc.get("message")
    if doc.get("primaryType") != "Payment" or not isinstance(message, dict):
        return None
    chain = message.get("chainId")
    fields = ("tx", "from", "to", "asset", "amount", "requestId", "note")
    if type(chain) is not int or any(f not in message for f in fields):
        return None
    rebuilt = payment_typed_data(chain, *(message[f] for f in fields))
    return chain if rebuilt == dict(doc) else None


def _check_verifying_contract(policy: Policy, doc: Mapping[str, Any]) -> None:
    """A policy that lists the contracts the account may call holds a signature to them too:
    signed typed data acts on its verifying contract (a permit, an order) as a call would."""
    from walletim.contracts.typed_data import typed_domain

    contract = typed_domain(dict(doc)).verifying_contract
    if contract is None:
        raise Refused(
            "its domain names no verifying contract, and this account may act only on the "
            "contracts it may call"
        )
    rules = [r for r in policy.calls or () if r.to == to_checksum_address(contract)]
    if not rules:
        raise Refused(f"its verifying contract {contract} is not among the contracts it may call")
    if not any(r.selector in (None, _APPROVE) for r in rules):
        # A permit is an approval signed: `USDC function transfer` allowed no approve.
        allowed = ", ".join(f"0x{(r.selector or b'').hex()}" for r in rules)
        raise Refused(
            f"its verifying contract {contract} may be called only for function {allowed}; a "
            "signature it takes (a permit) acts as approve, which is not among them"
        )
