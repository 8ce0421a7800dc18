"""A red-packet claim signed by its claimer for someone else to submit (pure): the body of
the ``sponsored-claim`` message kind (registered in :mod:`walletim.messaging.kinds`)."""

from __future__ import annotations

from dataclasses import dataclass

from walletim.jsonview import record
from walletim.messaging import fields as F


@dataclass(frozen=True, slots=True)
class SponsoredClaim:
    """A red-packet claim its claimer signed for someone else to submit and pay the gas of
    (``RedPacket.claimFor``): the creator's ``voucher`` for ``claimer``, and the claimer's
    EIP-712 ``signature`` over ``SponsoredClaim{packetId, claimer, deadline}`` in the
    red-packet contract's domain (this chain, this contract). Whoever submits it pays the gas;
    the share goes to ``claimer``."""

    packet_id: str
    chain_id: int
    contract: str
    claimer: str
    voucher: str  # 0x + 130 hex: the creator's signature of Claim{packetId, claimer}
    deadline: int  # unix seconds: the contract refuses the signature after it
    signature: str  # 0x + 130 hex: the claimer's

    def to_json(self) -> dict[str, object]:
        return record(self)

    @property
    def text(self) -> str:
        return (
            f"asks you to submit their claim of red packet {self.packet_id[:18]}… (you pay the gas)"
        )


def parse_sponsored_claim(body: object) -> SponsoredClaim:
    b = F.obj(body, "sponsored claim")
    return SponsoredClaim(
        F.hex_string(b.get("packet_id"), "packet id", 32).lower(),
        F.uint(b.get("chain_id"), "chain id", 64),
        F.address(b.get("contract"), "contract"),
        F.address(b.get("claimer"), "claimer"),
        F.hex_string(b.get("voucher"), "voucher", 65),
        F.uint(b.get("deadline"), "deadline", 64),
        F.hex_string(b.get("signature"), "signature", 65),
    )
