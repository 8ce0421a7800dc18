"""Is an approval logged in a transaction the owner did not send real? (the ``spoofing``
alert's check): an EIP-2612 ``permit`` the owner signed explains it, or, for a listed token
only (its word can be trusted), the allowance or operator approval is really in force."""

from __future__ import annotations

from collections.abc import Mapping

from walletim.app.watch.ports import ContractReads
from walletim.errors import ContractRefused
from walletim.keys.hd import to_checksum_address

PERMIT = "0xd505accf"  # permit(address,address,uint256,uint256,uint8,bytes32,bytes32)
PERMIT_TYPEHASH = bytes.fromhex(
    "6e71edae12b1b97f4d1f60370fef10105fa2faae0126114a169c64845d6126c9"
)  # keccak("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)")
#: A transaction as the node's JSON gives it (``to``, ``input``).
TxJson = Mapping[str, object]


def granted_without_sending(
    reads: ContractReads,
    contract: str,
    listed: bool,
    event: str,
    owner: str,
    spender: str,
    amount: int,
    token_id: int | None,
    block: int,
    tx: TxJson | None,
) -> bool:
    """Whether an ``event`` (Approval / ApprovalForAll) logged in a transaction the owner
    did not send is real: the transaction calls the contract's EIP-2612 ``permit`` with a
    signature that recovers to the owner for exactly this spender and amount, or (a listed
    token only) the allowance or operator approval is really in force after it."""
    if (
        event == "Approval"
        and token_id is None
        and permit_signed(reads, contract, owner, spender, amount, block, tx)
    ):
        return True
    if not listed:
        return False
    at = hex(block)
    try:
        if event == "ApprovalForAll":
            (ok,) = reads.read_at(
                contract, "isApprovedForAll(address,address)", owner, spender,
                returns=["bool"], block=at,
            )  # fmt: skip
            return bool(ok)
        if token_id is not None:
            (current,) = reads.read_at(
                contract, "getApproved(uint256)", token_id, returns=["address"], block=at
            )
            return to_checksum_address(str(current)) == to_checksum_address(spender)
        (allowance,) = reads.read_at(
            contract, "allowance(address,address)", owner, spender, returns=["uint256"], block=at
        )
        return isinstance(allowance, int) and allowance > 0
    except ContractRefused:  # RpcError propagates: the scan tries the blocks again
        return False


def permit_signed(
    reads: ContractReads,
    contract: str,
    owner: str,
    spender: str,
    amount: int,
    block: int,
    tx: TxJson | None,
) -> bool:
    """The transaction is ``contract.permit(owner, spender, amount, ...)`` signed by
    ``owner`` (EIP-2612 digest over the contract's DOMAIN_SEPARATOR at that block)."""
    fields = _permit_call(contract, tx)
    if fields is None:
        return False
    p_owner, p_spender, value, deadline, v, r, sig_s = fields
    if (to_checksum_address(p_owner), to_checksum_address(p_spender), value) != (
        to_checksum_address(owner),
        to_checksum_address(spender),
        amount,
    ):
        return False
    try:
        (domain,) = reads.read_at(
            contract, "DOMAIN_SEPARATOR()", returns=["bytes32"], block=hex(block)
        )
        (nonce,) = reads.read_at(
            contract, "nonces(address)", owner, returns=["uint256"], block=hex(block - 1)
        )
    except ContractRefused:  # RpcError propagates: the scan tries the blocks again
        return False
    if not isinstance(domain, bytes) or not isinstance(nonce, int):
        return False
    signature = r + sig_s + bytes([v])
    for n in range(nonce, nonce + 4):  # other permits in the same block
        digest = _permit_digest(domain, p_owner, p_spender, value, n, deadline)
        if _recovers(digest, signature, owner):
            return True
    return False


def _permit_call(
    contract: str, tx: TxJson | None
) -> tuple[str, str, int, int, int, bytes, bytes] | None:
    """The arguments of ``contract.permit(...)`` called by ``tx`` (None: it is not that)."""
    if tx is None or str(tx.get("to") or "").lower() != contract.lower():
        return None
    data = str(tx.get("input") or tx.get("data") or "")
    if not data.lower().startswith(PERMIT) or len(data) != 10 + 7 * 64:
        return None
    from eth_abi.abi import decode

    try:
        owner, spender, value, deadline, v, r, s = decode(
            ["address", "address", "uint256", "uint256", "uint8", "bytes32", "bytes32"],
            bytes.fromhex(data[10:]),
        )
    except Exception:
        return None
    return str(owner), str(spender), int(value), int(deadline), int(v), bytes(r), bytes(s)


def _permit_digest(
    domain: bytes, owner: str, spender: str, value: int, nonce: int, deadline: int
) -> bytes:
    from eth_abi.abi import encode

    from walletim.contracts.abi import keccak

    inner = keccak(
        encode(
            ["bytes32", "address", "address", "uint256", "uint256", "uint256"],
            [PERMIT_TYPEHASH, owner, spender, value, nonce, deadline],
        )
    )
    return keccak(b"\x19\x01" + domain + inner)


def _recovers(digest: bytes, signature: bytes, owner: str) -> bool:
    from walletim.keys.signing import recover_digest

    try:
        return str(recover_digest(digest, signature)).lower() == owner.lower()
    except Exception:
        return False


__all__ = ["PERMIT", "granted_without_sending", "permit_signed"]
