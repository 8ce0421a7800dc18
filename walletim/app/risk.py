"""The one policy for risky sends, applied before anything is signed.

Every path that moves ETH or a token to an address (``send``, ``send --token``, ``token
transfer``, ``pay``, the rows of ``send --batch``) and every swap asks :class:`RiskPolicy`
while it plans. A risk is either a warning (shown in the plan before the confirmation, and
in ``--json`` under ``warnings``) or a refusal (:class:`~walletim.errors.RiskRefused`, exit
1) that only ``--force`` passes: ``--yes`` answers the confirmation, it never overrides a
refusal.

=====================  ==========================================================  =========
risk                   when                                                        outcome
=====================  ==========================================================  =========
``zero-address``       the recipient is 0x0000…0000 (nothing can move it again)     refused
``precompile``         the recipient is 0x0000…0001 to 0x0000…ffff: a precompile    refused
                       or reserved address (nobody holds its key: what is sent is
                       lost; ETH sent to a precompile may also run out of gas)
``eth-to-token``       ETH to a token contract (it reverts, or the ETH is stuck)    refused
``token-to-token``     tokens to a token contract (the token itself or another)     refused
``self``               the recipient is the sender: only the fee moves              warning
``zero-amount``        an amount of zero: only the fee is paid                      warning
``price-impact``       a swap moving the pool's price over 5 % (15 %: refused)      both
``short-delivery``     the token's own Transfer logs in the dry run pay the         warning
                       recipient less than the amount (a fee-on-transfer token),
                       a swap's buyer less than the quote, or a vault's depositor
                       fewer shares than its previewDeposit
``rounding``           a vault deposit's shares worth over 1 % less than it (a       warning
                       withdrawal's burned shares over 1 % more) at the vault's
                       price: a share inflated by a donation rounds it away; over
                       1 % of a liquidity deposit the pool mints nothing for (one
                       unit of a token of few decimals worth much)
``overcharge``         a vault withdrawal's dry run burns more of the withdrawer's   warning
                       shares than its previewWithdraw says
``unsimulated``        a swap quote that could not be dry-run (the account holds    warning
                       less than it swaps): only the pools' arithmetic
``nonce-gap``          ``send --nonce N`` above the sender's next nonce: it waits    refused
                       unmined until the nonces below it are used, then goes out
                       with the next transaction (geth queues it, Anvil too)
``under-base-fee``     a max fee (or legacy gas price) given below the base fee:   refused
                       no block takes it until the base fee falls that low
                       (:func:`walletim.chain.fees.under_base_fee`)
=====================  ==========================================================  =========

The last two are of how a transaction is signed, not where it goes: the planner asks
:func:`signing_risks` with the node's answers (:mod:`walletim.app.chain.planning`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from walletim.errors import RiskRefused

if TYPE_CHECKING:
    from walletim.app.contracts import Plan
    from walletim.app.tokens import TokenLabel

ZERO_ADDRESS = "0x" + "00" * 20
#: Addresses up to this are precompiles (0x01-0x11, 0x100 ...) or reserved: nobody can hold
#: the key of an address with 18 leading zero bytes.
MAX_RESERVED_ADDRESS = 0xFFFF
#: A swap's price impact (beyond the pool fee) above this is shown as a warning ...
PRICE_IMPACT_WARN_BPS = 500
#: ... and above this it is refused unless forced.
PRICE_IMPACT_FORCE_BPS = 1500
#: A vault deposit's shares worth less than it (a withdrawal's burned shares worth more)
#: by over this at the vault's price are shown as a warning.
ROUNDING_WARN_BPS = 100


def keyless(address: str) -> str | None:
    """What ``address`` is when nobody can hold its key (the zero address, a precompile or a
    reserved one), else None. Such an address can be sent to (and loses what it gets), but
    never reads a chat message, claims a red packet or pays a request."""
    value = int(address, 16)
    if value == 0:
        return "the zero address"
    return "a precompile or reserved address" if value <= MAX_RESERVED_ADDRESS else None


@dataclass(frozen=True, slots=True)
class Risk:
    """One risk of a plan: ``code`` (see the module's table), the line shown, and whether it
    is refused unless forced."""

    code: str
    text: str
    refused: bool = False

    @property
    def line(self) -> str:
        """As a plan shows it."""
        return f"WARNING{' (needs --force)' if self.refused else ''}: {self.text}"


def enforce(risks: Sequence[Risk], force: bool) -> tuple[str, ...]:
    """The plan's warning lines; raises RiskRefused for the first refused risk unless
    ``force``."""
    for risk in risks:
        if risk.refused and not force:
            raise RiskRefused(
                f"refused: {risk.text}; nothing was signed", code=risk.code, advice="force"
            )
    return tuple(r.line for r in risks)


def risks_json(risks: Sequence[Risk]) -> list[dict[str, object]]:
    """For ``--json`` (``warnings``): each risk's code, text and whether it was forced."""
    return [{"code": r.code, "text": r.text, "forced": r.refused} for r in risks]


def dry_run_moved(
    plan: Plan, token: str, sender: str, recipient: str, *, net: bool = False
) -> int | None:
    """What ``token``'s own Transfer logs move from ``sender`` to ``recipient`` in the
    checked ``plan``'s last step's dry run (``net``: what the recipient nets of it, less what
    the logs take back out of its hands: walletim.app.wim.logs.arrived); None when the node
    ran no full simulation (``eth_call`` alone shows no logs)."""
    from walletim.app.wim.logs import arrived, moved

    sim = plan.simulation[-1] if plan.simulation else None
    if sim is None or sim.gas_used is None:
        return None
    return (arrived if net else moved)([log.raw for log in sim.logs], token, sender, recipient)


def unannounced_outflows(
    plan: Plan, sender: str, named: Sequence[str], fmt: Callable[[str, int], str]
) -> list[Risk]:
    """An ``unannounced-outflow`` warning for each token, other than the ``named`` ones the
    plan says it moves, whose own Transfer logs in the checked ``plan``'s dry run (any step)
    move something out of ``sender``'s hands: a contract taking, with an approval given it
    once, what the plan does not say (none when the node ran no full simulation). ``fmt``
    names an amount of a token (its address)."""
    from walletim.app.wim.logs import TRANSFER, events

    known, me = {a.lower() for a in named}, sender.lower()
    taken: dict[str, int] = {}
    for sim in plan.simulation:
        raw = [log.raw for log in sim.logs] if sim.gas_used is not None else []
        for e in events(raw, TRANSFER, None):
            if e.address.lower() in known or str(e.args["from"]).lower() != me:
                continue
            if str(e.args["to"]).lower() != me:
                taken[e.address] = taken.get(e.address, 0) + int(e.args["value"])
    return [
        Risk(
            "unannounced-outflow",
            f"the dry run also moves {fmt(token, value)} out of {sender}, which this plan "
            "does not say: the contract takes it (with an approval you gave it)",
        )
        for token, value in taken.items()
        if value
    ]


def signing_risks(nonce: int | None, next_nonce: int, under_base_fee: str | None) -> list[Risk]:
    """The ``nonce-gap`` and ``under-base-fee`` refusals of a transaction to be signed at
    ``nonce`` (None: the next one) when the sender's next nonce on the node (its pending
    count) is ``next_nonce``; ``under_base_fee``: why its fee is below the base fee
    (:func:`walletim.chain.fees.under_base_fee`), or None."""
    risks = []
    if nonce is not None and nonce > next_nonce:
        below = (
            f"nonce {next_nonce} is"
            if nonce == next_nonce + 1
            else f"nonces {next_nonce} .. {nonce - 1} are"
        )
        risks.append(
            Risk(
                "nonce-gap",
                f"nonce {nonce} is above the sender's next nonce {next_nonce}: it is not "
                f"mined until {below} used, then it goes out with them, unannounced",
                refused=True,
            )
        )
    if under_base_fee is not None:
        risks.append(Risk("under-base-fee", under_base_fee, refused=True))
    return risks


def short_delivery(
    plan: Plan,
    token: str,
    sender: str,
    recipient: str,
    value: int,
    fmt: Callable[[int], str],
    why: str = "move the rest elsewhere (a fee or a burn)",
) -> list[Risk]:
    """The ``short-delivery`` warning when the checked ``plan``'s last step (a transfer of
    ``value`` base units of ``token``) logs less reaching ``recipient`` in its dry run, net
    of what they take back from it: a token that takes a fee or burns on transfer, or taxes
    its recipient (none when the node ran no full simulation,
    ``eth_call`` alone shows no logs). ``fmt`` names an amount of the token; ``why`` what
    the logs do with the rest."""
    got = dry_run_moved(plan, token, sender, recipient, net=True)
    if got is None or not value or got >= value:
        return []
    return [
        Risk(
            "short-delivery",
            f"{recipient} would receive {fmt(got)}, not {fmt(value)}: the token's own "
            f"Transfer logs in the dry run {why}",
        )
    ]


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


def _token_name(label: TokenLabel) -> str:
    if label.listed and label.symbol:
        return f"{label.symbol} ({_short(label.address)})"
    return label.display


class RiskPolicy:
    """The risks of a transfer or a swap. Collaborators: ``has_code(address)`` (whether the
    address holds contract code: one node round trip), ``token_label(address)`` (how the
    token lists name an address, None without a book; asked only for contracts)."""

    def __init__(
        self,
        has_code: Callable[[str], bool],
        token_label: Callable[[str], TokenLabel | None],
    ) -> None:
        self._has_code = has_code
        self._token_label = token_label

    def knowing(self, address: str, has_code: bool) -> RiskPolicy:
        """This policy with whether ``address`` holds code already known (read in one round
        trip with a plan's other checks): it is not asked of the node again."""
        return self.knowing_all({address: has_code})

    def knowing_all(self, has_code: Mapping[str, bool]) -> RiskPolicy:
        """This policy with whether each address of ``has_code`` holds code already known
        (e.g. every recipient of a batch, read in one round trip)."""
        known, ask = {a.lower(): c for a, c in has_code.items()}, self._has_code
        return RiskPolicy(
            lambda a: known[a.lower()] if a.lower() in known else ask(a), self._token_label
        )

    def transfer(
        self, sender: str, recipient: str, value: int, token: str | None, symbol: str = "ETH"
    ) -> list[Risk]:
        """The risks of sending ``value`` base units of ``token`` (None: ETH, named
        ``symbol``) from ``sender`` to ``recipient`` (checksummed addresses)."""
        risks = self.plain(sender, recipient, value, symbol)
        if int(recipient, 16) <= MAX_RESERVED_ADDRESS:
            return risks  # refused already: no need to ask the node about it
        if token is not None and recipient.lower() == token.lower():
            risks.append(
                Risk(
                    "token-to-token",
                    f"the recipient is the {symbol} token contract itself, not a person: "
                    f"{symbol} sent to it is lost",
                    refused=True,
                )
            )
            return risks
        label = self._token_at(recipient)
        if label is not None:
            risks.append(_to_token(label, token is None, symbol))
        return risks

    @staticmethod
    def plain(sender: str, recipient: str, value: int, symbol: str = "ETH") -> list[Risk]:
        """The risks that need no node: the zero or a reserved address, yourself, zero."""
        risks: list[Risk] = []
        if int(recipient, 16) == 0:
            risks.append(
                Risk(
                    "zero-address",
                    f"the recipient is the zero address ({ZERO_ADDRESS}): {symbol} sent there "
                    "can never be moved again (it is burnt)",
                    refused=True,
                )
            )
        elif keyless(recipient):
            risks.append(
                Risk(
                    "precompile",
                    f"the recipient {recipient} is a precompile or reserved address, not a "
                    f"person: nobody holds its key, {symbol} sent there is lost",
                    refused=True,
                )
            )
        if recipient.lower() == sender.lower():
            risks.append(
                Risk("self", f"you are sending to yourself ({sender}): only the fee moves")
            )
        if value == 0:
            risks.append(
                Risk("zero-amount", f"the amount is 0 {symbol}: nothing is sent, only the fee")
            )
        return risks

    def _token_at(self, address: str) -> TokenLabel | None:
        """The token at ``address`` (listed, or answering ``decimals()``), else None."""
        if not self._has_code(address):
            return None
        label = self._token_label(address)
        if label is None or not (label.listed or label.decimals_known):
            return None
        return label

    @staticmethod
    def swap(impact_bps: int) -> list[Risk]:
        """A swap's price impact (basis points beyond the pool fee)."""
        if impact_bps <= PRICE_IMPACT_WARN_BPS:
            return []
        pct = f"{impact_bps / 100:.2f}%"
        if impact_bps > PRICE_IMPACT_FORCE_BPS:
            return [
                Risk(
                    "price-impact",
                    f"HIGH PRICE IMPACT {pct}: this swap moves the pool's price by more than "
                    f"{PRICE_IMPACT_FORCE_BPS // 100}% and you get that much less than its "
                    "price (swap less, or in parts)",
                    refused=True,
                )
            ]
        return [
            Risk(
                "price-impact",
                f"HIGH PRICE IMPACT {pct}: you get that much less than the pool's price "
                f"(over {PRICE_IMPACT_WARN_BPS // 100}%)",
            )
        ]


def _to_token(label: TokenLabel, eth: bool, symbol: str) -> Risk:
    name = _token_name(label)
    if eth:
        # Even WETH: not every WETH turns plain ETH sent to it into WETH (the devnet's
        # WETH9 build has no fallback and reverts); `weth wrap` calls deposit().
        wrap = label.listed and label.symbol.upper() == "WETH"
        how = (
            "to wrap ETH use `walletim weth wrap`"
            if wrap
            else f"to send {label.symbol or 'a token'} use --token, to buy it `walletim swap`"
        )
        return Risk(
            "eth-to-token",
            f"{name} is a token contract: sending it ETH would revert (a token refuses ETH) "
            f"or lose it (a token cannot send it back); {how}",
            refused=True,
        )
    return Risk(
        "token-to-token",
        f"the recipient {name} is a token contract, not a person: {symbol} sent to it is lost",
        refused=True,
    )


__all__ = [
    "MAX_RESERVED_ADDRESS",
    "PRICE_IMPACT_FORCE_BPS",
    "PRICE_IMPACT_WARN_BPS",
    "ZERO_ADDRESS",
    "Risk",
    "RiskPolicy",
    "enforce",
    "risks_json",
    "short_delivery",
    "unannounced_outflows",
]
