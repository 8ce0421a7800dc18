"""Red packets (红包) on chain: the Python API behind ``walletim redpacket``.

The contract (anvil-fixtures/contracts/RedPacket.sol) escrows ETH or an ERC-20 into shares;
a share is claimed with a voucher, the creator's EIP-712 signature over
``Claim{packetId, claimer}`` in the domain {name "walletim RedPacket", version "1", chain
id, the contract}. walletim delivers each recipient's voucher inside the encrypted chat
(:mod:`walletim.app.wim`): the chain decides who gets what, the chat carries the packet.

The contract is walletim's own, found on any chain at one address by its runtime code hash
(:func:`walletim.app.world.find_redpacket`). Everything said of a packet (creator, asset,
total, shares, expiry, what is left) is read from its ``packets(id)`` view, and a claim
counts only from its own ``Claimed`` log for that packet and claimer (:func:`claim_of`): a
log with the same signature from any other address, e.g. a token's transfer(), is ignored.

Amounts are base units inside; ``*_text`` arguments are decimals of the asset.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from walletim.app.chain import SendRequest
from walletim.app.contracts import Outcome, Plan, calldata
from walletim.app.defi import Asset, DefiService
from walletim.app.wim.logs import CLAIMED, CREATED, claim_of, creator_of
from walletim.chain.units import format_amount
from walletim.errors import ChainError, InputError
from walletim.keys.hd import to_checksum_address
from walletim.keys.signing import eip712_fields

if TYPE_CHECKING:
    from walletim.keys.signing import Signature
    from walletim.messaging.kinds import PacketOffer, SponsoredClaim
    from walletim.store.wim import PacketRow

#: An EIP-712 document (eth_signTypedData_v4 JSON).
TypedDoc = dict[str, Any]
DEFAULT_EXPIRY_S = 24 * 3600
MAX_SHARES = 1000
DOMAIN_NAME = "walletim RedPacket"
#: How long a claimer's signature for a sponsored claim is valid by default (at most until the
#: packet expires): long enough for the creator to come online, short enough that a sponsor
#: cannot keep it to pick the block a random share is drawn in for long.
SPONSORED_CLAIM_S = 3 * 24 * 3600


def voucher_typed_data(chain_id: int, contract: str, packet_id: str, claimer: str) -> TypedDoc:
    """The EIP-712 document a creator signs so that ``claimer`` may claim one share."""
    return {
        "types": {
            "EIP712Domain": eip712_fields(
                "string name", "string version", "uint256 chainId", "address verifyingContract"
            ),
            "Claim": eip712_fields("bytes32 packetId", "address claimer"),
        },
        "primaryType": "Claim",
        "domain": {
            "name": DOMAIN_NAME,
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(contract),
        },
        "message": {"packetId": packet_id, "claimer": to_checksum_address(claimer)},
    }


def sponsored_claim_typed_data(
    chain_id: int, contract: str, packet_id: str, claimer: str, deadline: int
) -> TypedDoc:
    """The EIP-712 document a claimer signs so that anyone may submit its claim
    (``RedPacket.claimFor``): ``SponsoredClaim{packetId, claimer, deadline}``, same domain."""
    doc = voucher_typed_data(chain_id, contract, packet_id, claimer)
    doc["types"] = {
        "EIP712Domain": doc["types"]["EIP712Domain"],
        "SponsoredClaim": [
            {"name": "packetId", "type": "bytes32"},
            {"name": "claimer", "type": "address"},
            {"name": "deadline", "type": "uint256"},
        ],
    }
    doc["primaryType"] = "SponsoredClaim"
    doc["message"]["deadline"] = deadline
    return doc


def claimer_signer(claim: SponsoredClaim) -> str | None:
    """Who signed ``claim`` as its claimer (None if it does not parse)."""
    from walletim.keys.signing import recover_digest, typed_data_digest

    try:
        doc = sponsored_claim_typed_data(
            claim.chain_id, claim.contract, claim.packet_id, claim.claimer, claim.deadline
        )
        return str(recover_digest(typed_data_digest(doc), bytes.fromhex(claim.signature[2:])))
    except Exception:
        return None


def voucher_signer(
    chain_id: int, contract: str, packet_id: str, claimer: str, voucher: bytes
) -> str | None:
    """Who signed ``voucher`` for ``claimer`` (None if it does not parse)."""
    from walletim.keys.signing import recover_digest, typed_data_digest

    try:
        digest = typed_data_digest(voucher_typed_data(chain_id, contract, packet_id, claimer))
        return str(recover_digest(digest, voucher))
    except Exception:
        return None


@dataclass(frozen=True, slots=True)
class NewPacket:
    """A red packet being made: the plan that creates it on the red-packet contract, its
    figures, and a voucher signed for each recipient (what lets them claim a share)."""

    plan: Plan
    packet_id: str  # 0x + 64 hex
    contract: str
    chain_id: int
    asset: Asset
    total: int
    shares: int
    random: bool
    expiry: int  # unix seconds (chain time)
    vouchers: dict[str, str]  # recipient address -> 0x voucher


@dataclass(frozen=True, slots=True)
class OnChainPacket:
    """A packet as the red-packet contract's ``packets(id)`` returns it."""

    packet_id: str
    creator: str
    asset: Asset
    total: int
    remaining: int
    shares: int
    shares_left: int
    random: bool
    expiry: int


@dataclass(frozen=True, slots=True)
class PacketStatus(OnChainPacket):
    """A packet as the contract holds it, with every claim from its own ``Claimed`` logs."""

    expired: bool
    claims: tuple[tuple[str, int], ...]  # (claimer, amount) in order
    claimed_in: tuple[int, ...] = ()  # the block of each claim's log, in the same order

    @property
    def state(self) -> str:
        if self.shares_left == 0 and self.remaining == 0:
            return "refunded" if len(self.claims) < self.shares else "empty"
        return "expired" if self.expired else "open"


class RedPackets:
    def __init__(
        self, defi: DefiService, sign_typed_data: Callable[[str, TypedDoc], Signature]
    ) -> None:
        self.defi = defi
        self.c = defi.c
        self._sign = sign_typed_data
        self._contract: str | None = None

    @property
    def contract(self) -> str:
        """walletim's red-packet contract on this network: the same address on every chain,
        recognised by its runtime code hash (:func:`walletim.app.world.find_redpacket`).

        Raises:
            InputError: the code at that address is not walletim's RedPacket (or there is none).
            RpcError: the node cannot be asked.
        """
        if self._contract is None:
            from walletim.app.world import find_redpacket
            from walletim.app.world_pins import REDPACKET

            found = find_redpacket(self.c.rpc)
            if found is None:
                raise InputError(
                    f"no red-packet contract is known on this network (walletim's is at "
                    f"{REDPACKET[0]} on every chain; here that address holds no such code: "
                    "`walletim devnet up` deploys it on a devnet); nothing was signed"
                )
            self._contract = found
        return self._contract

    def on_chain(self, packet_id: str) -> OnChainPacket | None:
        """The packet as the red-packet contract holds it (no claims: see :meth:`status`);
        None if the contract has no such packet. Raises InputError (no contract here),
        RpcError, ChainError."""
        pid = _packet_id(packet_id)
        fields = self.c.read(
            self.contract,
            "packets(bytes32)",
            bytes.fromhex(pid[2:]),
            returns=[
                "address",
                "address",
                "uint256",
                "uint256",
                "uint32",
                "uint32",
                "bool",
                "uint64",
            ],
        )
        creator, token, total, remaining, shares, shares_left, random, expiry = fields
        if int(creator, 16) == 0:
            return None
        asset = (
            self.defi.asset("ETH")
            if int(token, 16) == 0
            else self.defi.asset(to_checksum_address(token))
        )
        return OnChainPacket(
            pid, to_checksum_address(creator), asset, int(total), int(remaining), int(shares),
            int(shares_left), bool(random), int(expiry),
        )  # fmt: skip

    def create(
        self,
        account: str,
        total_text: str,
        shares: int,
        recipients: Sequence[str],
        *,
        token_text: str | None = None,
        random: bool = False,
        expiry_s: int = DEFAULT_EXPIRY_S,
    ) -> NewPacket:
        """Plan a packet and sign a voucher for each recipient (addresses).

        Raises InputError (shares, amounts, balance), ContractReverted (simulation).
        """
        _check_shape(shares, recipients, expiry_s)
        defi = self.defi
        sender = defi._sender(account)
        asset = defi.asset(token_text or "ETH")
        total = defi.amount(asset, total_text)
        if total < shares:
            raise InputError(f"{asset.fmt(total)} cannot be split into {shares} shares")
        defi._need(asset, sender, total, account)
        contract = self.contract
        salt = os.urandom(32)
        (packet_id_raw,) = self.c.read(
            contract, "packetId(address,bytes32)", sender, salt, returns=["bytes32"]
        )
        packet_id = "0x" + bytes(packet_id_raw).hex()
        expiry = self.c.next_timestamp() + expiry_s  # an idle chain's latest block is old
        data = calldata(
            "create(bytes32,address,uint256,uint32,bool,uint64)",
            salt, "0x" + "00" * 20 if asset.is_eth else str(asset.address), total, shares,
            random, expiry,
        )  # fmt: skip
        steps = [] if asset.is_eth else defi._approval_steps(asset, sender, contract, total)
        request = SendRequest(contract, total if asset.is_eth else 0, data, kind="redpacket")
        steps.append(self.c.step("create", request, sender=sender))
        notes = _plan_notes(asset.fmt(total), shares, random, len(recipients), expiry_s)
        notes += defi.token_warnings(asset)
        figures = {
            "packet_id": packet_id,
            "raw": str(total),
            "amount": format_amount(total, asset.decimals),
            "shares": shares,
        }
        plan = defi._plan(
            f"red packet of {asset.fmt(total)}", account, sender, steps, notes, figures
        )
        chain_id = self.c.chain.chain_id
        vouchers = self._vouchers(account, chain_id, contract, packet_id, recipients)
        return NewPacket(
            plan, packet_id, contract, chain_id, asset, total, shares, random, expiry, vouchers
        )

    def _vouchers(
        self, account: str, chain_id: int, contract: str, packet_id: str, recipients: Sequence[str]
    ) -> dict[str, str]:
        """Each recipient's voucher (0x hex), signed by ``account``."""
        vouchers = {}
        for r in recipients:
            addr = to_checksum_address(r)
            sig = self._sign(account, voucher_typed_data(chain_id, contract, packet_id, addr))
            vouchers[addr] = "0x" + bytes(sig.bytes).hex()
        return vouchers

    def status(self, packet_id: str) -> PacketStatus:
        """What the contract says of a packet, with every claim from its own ``Claimed`` logs.
        Raises InputError if there is none (or no red-packet contract on this network)."""
        pid = _packet_id(packet_id)
        p = self.on_chain(pid)
        if p is None:
            raise InputError(f"no red packet {pid[:18]}… on this network")
        claims, blocks = self._claims(self.contract, pid)
        # The contract's clock: a refund's dry run runs at the latest block's time, so a
        # packet reads expired once that passed (on a quiet devnet, after its next block).
        expired = self.c.latest_timestamp() > p.expiry
        return PacketStatus(
            pid, p.creator, p.asset, p.total, p.remaining, p.shares, p.shares_left, p.random,
            p.expiry, expired, claims, blocks,
        )  # fmt: skip

    def created_in(self, packet_id: str, creator: str) -> tuple[int, str] | None:
        """The block (number, hash) of the contract's own ``Created`` log of the packet by
        ``creator``: where its escrow was made (None: no such log). Raises InputError,
        RpcError."""
        contract, pid = self.contract, _packet_id(packet_id)
        for log in self.defi._logs([CREATED.topic0, pid], contract):
            if (creator_of(log, contract, pid) or "").lower() == creator.lower():
                with contextlib.suppress(ValueError):
                    return int(str(log.get("blockNumber")), 16), str(log.get("blockHash")).lower()
        return None

    def _claims(
        self, contract: str, packet_id: str
    ) -> tuple[tuple[tuple[str, int], ...], tuple[int, ...]]:
        """Every claim of the packet from the contract's own logs, and the block of each."""
        out, blocks = [], []
        for log in self.defi._logs([CLAIMED.topic0, packet_id], contract):
            claim = claim_of(log, contract, packet_id)
            if claim is not None:
                out.append(claim)
                try:
                    blocks.append(int(str(log.get("blockNumber")), 16))
                except ValueError:
                    blocks.append(0)
        return tuple(out), tuple(blocks)

    def _claimable(
        self, pid: str, claimer: str, who: str, voucher: str
    ) -> tuple[PacketStatus, bytes]:
        """The packet, and the voucher's bytes, if ``claimer`` may claim a share now with
        ``voucher``. Raises InputError: already claimed, expired, nothing left, a voucher that
        is not the creator's for ``claimer``."""
        st = self.status(pid)
        (already,) = self.c.read(
            self.contract, "claimed(bytes32,address)", bytes.fromhex(pid[2:]), claimer,
            returns=["bool"],
        )  # fmt: skip
        if already:
            raise InputError(f"{who} already claimed this red packet; nothing was signed")
        if st.expired:
            raise InputError("this red packet has expired; nothing was signed")
        if st.shares_left == 0:
            raise InputError("every share of this red packet is claimed; nothing was signed")
        try:
            sig = bytes.fromhex(voucher[2:] if voucher.startswith("0x") else voucher)
        except ValueError as exc:
            raise InputError("the voucher is not hex") from exc
        signer = voucher_signer(self.c.chain.chain_id, self.contract, pid, claimer, sig)
        if signer != st.creator:
            raise InputError(
                f"this voucher does not authorise {who} to claim (it is not the creator's "
                "signature for this address); nothing was signed"
            )
        return st, sig

    def claim(self, account: str, packet_id: str, voucher: str) -> Plan:
        """Plan a claim with ``voucher`` (0x hex). Refused before signing when it would fail:
        already claimed, expired, nothing left, or a voucher not made for this account."""
        pid = _packet_id(packet_id)
        sender = self.defi._sender(account)
        st, sig = self._claimable(pid, sender, account, voucher)
        data = calldata("claim(bytes32,bytes)", bytes.fromhex(pid[2:]), sig)
        step = self.c.step(
            "claim", SendRequest(self.contract, 0, data, kind="redpacket-claim"), sender=sender
        )
        notes = [f"claim one of {st.shares_left} share(s) left of {st.asset.fmt(st.remaining)}"]
        notes += self.defi.token_warnings(st.asset)
        return self.defi._plan(
            "claim a red packet", account, sender, [step], notes, {"packet_id": pid}
        )

    def gas_short(self, plan: Plan) -> int:
        """How much ETH (wei) the plan's sender lacks to pay its gas at today's fees (0: it
        can pay)."""
        need = self.c.chain.network_fee_bound([s.gas_used or 100_000 for s in plan.simulation])
        have = self.defi.balance(self.defi.asset("ETH"), plan.sender)
        return max(0, need - have)

    def sign_claim(
        self, account: str, packet_id: str, voucher: str, valid_s: int = SPONSORED_CLAIM_S
    ) -> SponsoredClaim:
        """``account``'s signed claim of one share, for anyone to submit and pay the gas of
        (:meth:`claim_for`); valid ``valid_s`` seconds, at most until the packet expires.
        Checked first as a claim is (raises InputError the same way)."""
        from walletim.messaging.kinds import SponsoredClaim

        pid = _packet_id(packet_id)
        sender = self.defi._sender(account)
        st, sig = self._claimable(pid, sender, account, voucher)
        deadline = min(st.expiry, self.c.next_timestamp() + valid_s)
        chain_id, contract = self.c.chain.chain_id, self.contract
        doc = sponsored_claim_typed_data(chain_id, contract, pid, sender, deadline)
        signature = "0x" + bytes(self._sign(account, doc).bytes).hex()
        return SponsoredClaim(
            pid, chain_id, contract, sender, "0x" + sig.hex(), deadline, signature
        )

    def claim_for(self, account: str, claim: SponsoredClaim, *, fee_cap: int | None = None) -> Plan:
        """Plan ``account`` submitting ``claim`` (``claimFor``) and paying its gas, at most
        ``fee_cap`` wei of it (None: the network's cap); the share goes to the claimer. Refused
        before signing: another chain or contract, a deadline passed, a signature that is not
        the claimer's, and everything :meth:`claim` refuses."""
        pid = _packet_id(claim.packet_id)
        if claim.chain_id != self.c.chain.chain_id:
            raise InputError(f"this claim is for chain {claim.chain_id}; nothing was signed")
        if claim.contract.lower() != self.contract.lower():
            raise InputError("this claim names another contract; nothing was signed")
        if claim.deadline < self.c.next_timestamp():
            raise InputError("the claimer's signature has expired; nothing was signed")
        if claimer_signer(claim) != to_checksum_address(claim.claimer):
            raise InputError("this claim is not signed by its claimer; nothing was signed")
        sender = self.defi._sender(account)
        st, voucher = self._claimable(pid, claim.claimer, claim.claimer, claim.voucher)
        data = calldata(
            "claimFor(bytes32,address,bytes,uint256,bytes)", bytes.fromhex(pid[2:]),
            claim.claimer, voucher, claim.deadline, bytes.fromhex(claim.signature[2:]),
        )  # fmt: skip
        request = SendRequest(self.contract, 0, data, kind="redpacket-sponsor", fee_cap=fee_cap)
        step = self.c.step("sponsor", request, sender=sender)
        notes = [
            f"the packet has {st.shares_left} share(s) left of {st.asset.fmt(st.remaining)}; "
            "its creator's voucher and the claimer's signature check"
        ]
        figures = {"packet_id": pid, "claimer": claim.claimer}
        plan = self.defi._plan(
            "sponsor a red-packet claim", account, sender, [step], notes, figures
        )
        if fee_cap is not None:
            bound = self.c.chain.network_fee_bound([s.gas_used or 0 for s in plan.simulation])
            if bound > fee_cap:
                up_to = format_amount(-(-bound // 10**12) * 10**12)  # rounded up, 6 places
                raise ChainError(
                    f"its gas may cost up to {up_to} ETH, above the "
                    f"{format_amount(fee_cap)} ETH sponsored without asking (`walletim "
                    "redpacket sponsor` asks first); nothing was signed"
                )
        return plan

    def refund(self, account: str, packet_id: str) -> Plan:
        pid = _packet_id(packet_id)
        sender = self.defi._sender(account)
        st = self.status(pid)
        if st.creator != sender:
            raise InputError(f"only the creator ({st.creator}) can take back this red packet")
        if not st.expired:
            raise InputError("this red packet has not expired yet; nothing was signed")
        if st.remaining == 0:
            raise InputError("nothing is left in this red packet")
        data = calldata("refund(bytes32)", bytes.fromhex(pid[2:]))
        step = self.c.step(
            "refund", SendRequest(self.contract, 0, data, kind="redpacket-refund"), sender=sender
        )
        return self.defi._plan(
            f"take back {st.asset.fmt(st.remaining)}",
            account,
            sender,
            [step],
            figures={"packet_id": pid},
        )

    def claimed_amount(self, outcome: Outcome, packet_id: str, claimer: str) -> int | None:
        """What a claim paid ``claimer`` from packet ``packet_id``: the amount in the red-packet
        contract's own ``Claimed`` log in the claim's receipt. A log with the same signature
        from any other address (a token's transfer() can emit one) is ignored; None: no such
        log (nothing is recorded)."""
        contract = self.contract
        pid = _packet_id(packet_id)
        for step in outcome.steps:
            receipt = self.c.chain.repo.receipt(step.hash)
            for log in receipt.logs if receipt else []:
                claim = claim_of(log, contract, pid)
                if claim is not None and claim[0] == to_checksum_address(claimer):
                    return claim[1]
        return None


def _plan_notes(
    amount: str, shares: int, random: bool, recipients: int, expiry_s: int
) -> list[str]:
    """What a packet's plan says before signing: the escrow and when it comes back."""
    kind = "random" if random else "equal"
    return [
        f"escrow {amount} in {shares} {kind} share(s) for {recipients} recipient(s); what is "
        f"unclaimed after {_duration(expiry_s)} can be taken back (redpacket refund)"
    ]


def _duration(seconds: int) -> str:
    """``seconds`` exactly, in the largest unit that divides them (``90 min``, ``2 h``)."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _check_shape(shares: int, recipients: Sequence[str], expiry_s: int) -> None:
    """Raises InputError for a packet that cannot work, before anything is signed: each
    recipient holds one voucher and claims once, so a share beyond the recipients could be
    claimed by nobody and its money would sit in escrow until the refund after expiry."""
    if not 1 <= shares <= MAX_SHARES:
        raise InputError(f"a red packet has 1 .. {MAX_SHARES} shares")
    if not recipients:
        raise InputError("a red packet needs at least one recipient")
    n = len({r.lower() for r in recipients})
    if shares > n:
        raise InputError(
            f"{shares} shares for {n} recipient(s): each recipient claims one share, so "
            f"{shares - n} could be claimed by nobody; nothing was signed",
            advice="shares",
            advice_args={"shares": n},
        )
    if not 60 <= expiry_s <= 30 * 24 * 3600:
        raise InputError("a red packet expires 1 minute .. 30 days after it is made")


def _amount(raw: int, decimals: int, symbol: str) -> str:
    return f"{format_amount(raw, decimals)} {symbol}"


def packet_line(row: PacketRow, note: str = "") -> str:
    """A packet as the chat shows it, from ``row``'s figures (the contract's, once read)."""
    kind = "random" if row.random else "equal"
    amount = _amount(row.total, row.decimals, row.symbol)
    return f"red packet of {amount} in {row.shares} {kind} share(s)" + (f": {note}" if note else "")


def offer_disagreement(offer: PacketOffer, row: PacketRow) -> str:
    """How a chat offer differs from the packet the contract holds (``row``, read from the
    chain); "" when it agrees in asset, total, shares, kind and expiry."""
    import time

    chain_asset = (row.asset or "").lower()
    offer_asset = (offer.asset.address or "").lower()
    # The symbol is the sender's name for the token (their lists'): ours names it, marked.
    same_asset = chain_asset == offer_asset and offer.asset.decimals == row.decimals
    if (
        same_asset
        and offer.total == row.total
        and offer.shares == row.shares
        and offer.random == row.random
        and offer.expiry == row.expiry
    ):
        return ""

    expiry_differs = offer.expiry != row.expiry

    def describe(
        asset: str, total: int, decimals: int, symbol: str, shares: int, random: bool, expiry: int
    ) -> str:
        what = _amount(total, decimals, symbol)
        if not same_asset and asset:
            what += f" (token {to_checksum_address(asset)})"
        text = f"{what} in {shares} {'random' if random else 'equal'} share(s)"
        if expiry_differs:
            stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(min(expiry, 2**37)))
            text += f", expiring {stamp}"
        return text

    chain = describe(
        chain_asset, row.total, row.decimals, row.symbol, row.shares, row.random, row.expiry
    )
    said = describe(
        offer_asset, offer.total, offer.asset.decimals, offer.asset.symbol, offer.shares,
        offer.random, offer.expiry,
    )  # fmt: skip
    return f"the red-packet contract holds {chain}; the message says {said}"


def _packet_id(text: str) -> str:
    t = text.strip().lower()
    if not t.startswith("0x"):
        t = "0x" + t
    if len(t) != 66 or any(c not in "0123456789abcdef" for c in t[2:]):
        raise InputError("a red packet id is 32 bytes of hex (0x + 64 digits)")
    return t


__all__ = [
    "NewPacket",
    "OnChainPacket",
    "PacketStatus",
    "RedPackets",
    "claim_of",
    "claimer_signer",
    "offer_disagreement",
    "packet_line",
    "sponsored_claim_typed_data",
    "voucher_signer",
    "voucher_typed_data",
]
