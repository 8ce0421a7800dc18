"""What the chain service is asked and what it answers: requests, plans, results, batch
rows. Amounts are ints in wei (or a token's base units); fees are wei per gas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from walletim.chain.fees import Fees
from walletim.store.txs import ReceiptRecord, TxStatus

if TYPE_CHECKING:
    from walletim.app.chain.ports import Progress
    from walletim.app.risk import Risk


@dataclass(frozen=True, slots=True)
class SendRequest:
    """What to send. ``value`` in wei; fee fields in wei per gas (None: suggested)."""

    to: str | None
    value: int = 0
    data: bytes = b""
    nonce: int | None = None
    gas_limit: int | None = None
    max_fee: int | None = None
    priority_fee: int | None = None
    legacy: bool = False
    fee_level: str = "normal"
    kind: str = "send"
    note: str | None = None
    fee_cap: int | None = None  # wei; None: the network profile's cap (geth's default 1 ether)
    #: Sign even what the risk policy refuses of how it is signed (a nonce gap, a fee under
    #: the base fee: :func:`walletim.app.risk.signing_risks`), as ``--force``.
    force: bool = False
    #: Gas a dry run of the whole plan used for this step moments ago: its limit is signed no
    #: higher than the plan's fee bound counted from it (a limit from the estimate is higher
    #: by the refunds and the 1/64 a call keeps back), unless the estimate needs more.
    simulated_gas: int | None = None


#: A transaction's fields as the signer takes them (web3 field names).
TxFields = dict[str, int | str | bytes | None]


@dataclass(frozen=True, slots=True)
class TxPlan:
    """A transaction ready to sign, and what the user is asked to confirm."""

    network: str
    chain_id: int
    sender: str
    to: str | None
    value: int
    data: bytes
    nonce: int | None  # None: taken from the nonce manager at signing time
    gas_limit: int
    tx_type: int
    max_fee: int | None
    priority_fee: int | None
    gas_price: int | None
    kind: str = "send"
    note: str | None = None
    #: What the risk policy says of how it is signed (:func:`~walletim.app.risk.signing_risks`,
    #: passed with ``force``): shown in the plan, and in ``send --json`` under ``warnings``.
    risks: tuple[Risk, ...] = ()

    @classmethod
    def of(
        cls,
        network: str,
        chain_id: int,
        sender: str,
        call: tuple[str | None, int, bytes],
        *,
        nonce: int | None,
        gas_limit: int,
        fees: Fees,
        kind: str = "send",
        note: str | None = None,
        risks: tuple[Risk, ...] = (),
    ) -> TxPlan:
        """A plan of ``call`` = (to, value, data) paying ``fees``."""
        to, value, data = call
        return cls(
            network, chain_id, sender, to, value, data, nonce, gas_limit,
            fees.tx_type, fees.max_fee, fees.priority_fee, fees.gas_price, kind, note, risks,
        )  # fmt: skip

    @property
    def fees(self) -> Fees:
        return Fees(self.max_fee, self.priority_fee, self.gas_price)

    @property
    def max_total_fee(self) -> int:
        return self.fees.max_total(self.gas_limit)

    def tx_dict(self, nonce: int) -> TxFields:
        tx: TxFields = {
            "chainId": self.chain_id,
            "nonce": nonce,
            "gas": self.gas_limit,
            "value": self.value,
            "data": self.data,
        }
        if self.to is not None:
            tx["to"] = self.to
        if self.tx_type == 2:
            tx["maxFeePerGas"] = self.max_fee
            tx["maxPriorityFeePerGas"] = self.priority_fee
        else:
            tx["gasPrice"] = self.gas_price
        return tx


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a send became: ``status`` is mined | failed | pending | dropped | replaced (and
    ``receipt`` once mined, ``confirmations`` deep); ``plan`` is what was signed."""

    hash: str
    nonce: int
    status: TxStatus
    plan: TxPlan
    receipt: ReceiptRecord | None = None
    confirmations: int = 0
    #: Transactions an earlier command signed and recorded but never got to the node (it
    #: was killed, or the node was unreachable), broadcast first so this one is not stuck
    #: behind their nonces.
    recovered: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One payment of a ``send --batch`` file: ``value`` in wei, or in base units of
    ``token`` (an ERC-20 address; None: ETH)."""

    row: int  # 1-based line number in the file (after the header, if any)
    to: str
    value: int  # wei or token base units
    token: str | None = None
    #: Its recipient and token as the file writes them ("to,token", lowercased; token ""
    #: for ether): with ``row`` and ``value``, what the batch id keeps of it, so that a
    #: name resolving otherwise later is the same row ("": not from a file).
    written: str = ""


@dataclass
class BatchResult:
    row: int
    to: str
    value: int
    token: str | None
    hash: str | None
    status: str
    error: str | None = None
    already_sent: bool = False
    block: int | None = None  # where it was mined (or failed)
    confirmations: int = 0  # blocks deep when last waited for (its own included)
    #: The row's earlier transaction that never made it on chain (refused at broadcast,
    #: dropped, its nonce used by another): this run paid the row again.
    replaces: str | None = None
    #: Paid by ``hash``, a transaction this key signed elsewhere (a speed-up in another
    #: wallet) that replaced the row's: not this home's, not waited for.
    elsewhere: bool = False


@dataclass(frozen=True, slots=True)
class TokenTotal:
    """What the rows of a batch about to be signed send of one token, against the balance."""

    token: str  # its address
    symbol: str
    decimals: int
    total: int  # base units, over the rows to sign
    rows: int
    balance: int  # the sender's, at the pending block


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What a batch is about to sign, shown before it is: every funds check has passed
    (ETH for the values and the most the fees can cost, each token's total against its
    balance) and each transaction's fee is under ``fee_cap``."""

    sender: str
    signing: int  # transactions about to be signed
    already: int  # rows an earlier run recorded: not signed again
    again: int  # rows paid again: their earlier transaction never made it on chain
    rejected: tuple[BatchResult, ...]  # rows whose estimate failed (they would revert)
    value: int  # wei sent as ETH by the rows to sign
    eth_rows: int
    max_fees: int  # wei: the most all of them can cost in fees
    eth_balance: int  # wei, at the pending block
    tokens: tuple[TokenTotal, ...]
    fees: Fees  # per gas, the same for every row
    fee_cap: int  # wei per transaction (0: none)
    #: What the risk policy says of how every row is signed (a fee under the base fee),
    #: forced: :func:`walletim.app.risk.signing_risks`.
    risks: tuple[Risk, ...] = ()


__all__ = [
    "BatchPlan",
    "BatchResult",
    "BatchRow",
    "ReceiptRecord",
    "SendRequest",
    "SendResult",
    "TokenTotal",
    "TxFields",
    "TxPlan",
    "Until",
]


@dataclass(frozen=True, slots=True)
class Until:
    """How long to wait for a transaction: ``confirmations`` blocks (its own included), at
    most ``timeout`` seconds, telling ``progress`` how it goes."""

    confirmations: int = 1
    timeout: float = 120.0
    progress: Progress | None = None
