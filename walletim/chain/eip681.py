"""EIP-681 payment URIs (pure): what a QR code or a link asks a wallet to pay.

walletim reads the two forms that move money, and refuses every other one with a clear
:class:`~walletim.errors.InputError`:

- an ether payment: ``ethereum:0xPAYEE@1?value=2.014e18`` (``value`` in wei);
- an ERC-20 transfer: ``ethereum:0xTOKEN@1/transfer?address=0xPAYEE&uint256=1``
  (``uint256`` in the token's base units).

The grammar (EIP-681)::

    request        = "ethereum" ":" [ "pay-" ] target_address [ "@" chain_id ]
                     [ "/" function_name ] [ "?" parameters ]
    chain_id       = 1*DIGIT
    parameters     = parameter *( "&" parameter )
    parameter      = key "=" value
    key            = "value" / "gas" / "gasLimit" / "gasPrice" / TYPE
    number         = [ "-" / "+" ] *DIGIT [ "." 1*DIGIT ] [ ( "e" / "E" ) [ 1*DIGIT ] ]

Numbers may use scientific notation (``2.014e18``) but must come out as an exact,
non-negative integer below 2**256. Addresses are hex: mixed case must be a valid EIP-55
checksum (all-lowercase or all-uppercase carries none and is taken as is). ENS names
are refused: resolving one would trust a name service this wallet does not consult. A URI
without ``@chain_id`` leaves ``chain_id`` None (EIP-681: the wallet's current network).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from walletim.errors import InputError, KeysError, shown
from walletim.keys.hd import parse_checksummed

__all__ = ["MAX_URI", "PaymentUri", "parse_eip681"]

MAX_URI = 2048  # a QR code holds at most ~4,300 alphanumeric characters; payment URIs are short
MAX_NUMBER = 100  # characters of one number (78 digits of 2**256, a point, an exponent)
_NUMBER = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]+))?(?:[eE]([0-9]{1,4}))?")
_CHAIN = re.compile(r"[0-9]{1,20}")
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9]{0,31}")
_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
_GAS_KEYS = {"gas": "gas limit", "gasLimit": "gas limit", "gasPrice": "gas price"}
_ALLOWED = {
    None: {"value", "gas", "gasLimit", "gasPrice"},
    "transfer": {"address", "uint256", "value", "gas", "gasLimit", "gasPrice"},
}


@dataclass(frozen=True, slots=True)
class PaymentUri:
    """One parsed payment request.

    ``target`` is the address the transaction goes to: the payee for an ether payment, the
    token contract for ``transfer``. ``recipient`` is who gets paid either way. ``amount`` is
    in base units of the asset (wei, or the token's smallest unit); None if the URI names no
    amount. ``gas_limit`` / ``gas_price`` are the requester's suggestions (walletim's own fee
    policy decides)."""

    target: str
    chain_id: int | None
    function: str | None  # None: an ether payment; "transfer": an ERC-20 transfer
    recipient: str
    amount: int | None
    gas_limit: int | None = None
    gas_price: int | None = None

    @property
    def token(self) -> str | None:
        """The token contract of a transfer; None for ether."""
        return self.target if self.function == "transfer" else None


def parse_eip681(text: str) -> PaymentUri:
    """Parse an EIP-681 payment URI.

    Raises:
        InputError: not an ``ethereum:`` URI, an ENS name, a bad checksum, a chain id that is
            not a positive decimal, a function other than ``transfer``, a missing, repeated or
            unknown parameter, or a number that is negative, fractional, or above 2**256-1.
    """
    if not isinstance(text, str):
        raise InputError("an EIP-681 URI is text")
    uri = text.strip()
    if len(uri) > MAX_URI:
        raise InputError(f"the payment URI is longer than {MAX_URI} characters")
    scheme, colon, rest = uri.partition(":")
    if not colon or scheme.lower() != "ethereum":
        raise InputError(f"not an EIP-681 payment URI: {shown(uri)} (it starts with ethereum:)")
    if "#" in rest:
        raise InputError("an EIP-681 payment URI has no #fragment")
    if rest[:4].lower() == "pay-":
        rest = rest[4:]
    rest, question, query = rest.partition("?")
    target_text, slash, function = rest.partition("/")
    address_text, at, chain_text = target_text.partition("@")
    target = _address(address_text, "the target")
    chain_id = None
    if at:
        if not _CHAIN.fullmatch(chain_text) or not 0 < int(chain_text) < 2**64:
            raise InputError(f"the chain id {shown(chain_text)} is not a positive decimal number")
        chain_id = int(chain_text)
    fn: str | None = None
    if slash:
        if function != "transfer":
            raise InputError(
                f"walletim pays ether or an ERC-20 `transfer`; this URI calls {shown(function)}"
            )
        fn = "transfer"
    params = _parameters(query if question else "", fn)
    gas_limit = _number(params["gas"], "the gas limit") if "gas" in params else None
    gas_price = _number(params["gasPrice"], "the gas price") if "gasPrice" in params else None
    value = _number(params["value"], "the value") if "value" in params else None
    if fn is None:
        return PaymentUri(target, chain_id, None, target, value, gas_limit, gas_price)
    if value:
        raise InputError("a token transfer URI that also sends ether (value=) is not supported")
    if "address" not in params:
        raise InputError("a transfer URI names its payee with address=")
    recipient = _address(params["address"], "the payee (address=)")
    amount = _number(params["uint256"], "the amount (uint256=)") if "uint256" in params else None
    return PaymentUri(target, chain_id, fn, recipient, amount, gas_limit, gas_price)


def _address(text: str, what: str) -> str:
    if text[:2] not in ("0x", "0X"):
        if "." in text:
            raise InputError(
                f"{what} is an ENS name ({shown(text)}); walletim does not resolve ENS names: "
                "ask for the 0x address"
            )
        raise InputError(f"{what} is not a 0x address: {shown(text)}")
    if not _ADDRESS.fullmatch(text):
        raise InputError(f"{what} is not a 0x address (40 hex digits): {shown(text)}")
    try:
        return parse_checksummed(text)
    except KeysError as exc:
        if "checksum" in str(exc):
            raise InputError(f"{what}: {exc}") from exc
        raise InputError(f"{what} is not a 0x address: {shown(text)}") from exc


def _parameters(query: str, function: str | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if not query:
        return params
    for part in query.split("&"):
        key, eq, raw = part.partition("=")
        if not eq or not _KEY.fullmatch(key):
            raise InputError(f"malformed URI parameter {shown(part)} (expected key=value)")
        if key not in _ALLOWED[function]:
            raise InputError(f"unsupported URI parameter {shown(key)}")
        canonical = "gas" if key == "gasLimit" else key
        if canonical in params:
            raise InputError(f"the URI parameter {shown(key)} is given twice")
        try:
            value = unquote(raw, errors="strict")
        except UnicodeDecodeError as exc:
            raise InputError(f"the URI parameter {shown(key)} is not UTF-8") from exc
        params[canonical] = value
    return params


def _number(text: str, what: str) -> int:
    """An EIP-681 number as an exact integer in 0 .. 2**256-1."""
    m = _NUMBER.fullmatch(text) if len(text) <= MAX_NUMBER else None
    if m is None or not (m.group(2) or m.group(3)):
        raise InputError(f"{what} is not a number: {shown(text)} (e.g. 1, 2.014e18)")
    sign, whole, frac, exp = m.group(1), m.group(2), m.group(3) or "", m.group(4)
    digits = (whole + frac).lstrip("0")
    if not digits:
        return 0
    if sign == "-":
        raise InputError(f"{what} is negative: {shown(text)}")
    shift = int(exp or 0) - len(frac)  # value = int(whole + frac) * 10**shift
    if len(digits) + shift > 78:  # 2**256 has 78 digits; also keeps 10**shift small
        raise InputError(f"{what} is too large: {shown(text)}")
    mantissa = int(digits)
    scale: int = 10 ** abs(shift)
    if shift < 0:
        value, rest = divmod(mantissa, scale)
        if rest:
            raise InputError(f"{what} is not a whole number of base units: {shown(text)}")
    else:
        value = mantissa * scale
    if value >= 2**256:
        raise InputError(f"{what} is too large: {shown(text)}")
    return value
