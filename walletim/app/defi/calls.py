"""Any contract: read-only calls (``walletim call``) and transactions (``walletim contract
send``) by signature, or by a function of an ABI file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from walletim.app.contracts import Plan
from walletim.app.defi.assets import ETH
from walletim.app.defi.base import DefiProtocol
from walletim.chain.units import format_amount, parse_amount
from walletim.contracts.abi import FunctionSig
from walletim.errors import ChainError, InputError


@dataclass(frozen=True, slots=True)
class CallResult:
    to: str
    signature: str
    values: list[object]  # JSON-friendly (walletim.contracts.abi.render_values)
    raw: str


class Calls(DefiProtocol):
    def function(self, signature: str, abi_file: str | None) -> FunctionSig:
        """``balanceOf(address)(uint256)``, or a function (by name or signature) of an ABI
        file. Raises InputError."""
        from walletim.contracts.abi import find_function, load_abi, parse_signature

        if abi_file is None:
            return parse_signature(signature)
        from walletim import fsio, safejson
        from walletim.errors import ConfigError

        try:
            text = fsio.read_bytes(
                Path(abi_file).expanduser(), limit=16 * 1024 * 1024, what="ABI file"
            )
        except ConfigError as exc:
            raise InputError(str(exc)) from exc
        try:
            doc = safejson.loads(text)
        except ValueError as exc:
            raise InputError(f"ABI file {abi_file} is not JSON") from exc
        return find_function(load_abi(doc), signature)

    def call(
        self,
        to_text: str,
        signature: str,
        args: Sequence[str],
        *,
        abi_file: str | None = None,
        block: str = "latest",
        sender: str | None = None,
    ) -> CallResult:
        """A read-only call: ``balanceOf(address)(uint256)`` style, or a function of an ABI file.

        ``block``: a tag, a number or a block hash (:func:`walletim.chain.units.parse_block`);
        ``sender``: the call's ``from`` (its ``msg.sender``; None: the node's default, the
        zero address on most nodes), a checksummed address. Where an ``address`` goes, an
        argument may name a wallet account or a contact (nowhere else).
        Raises InputError (signature, arguments, block), ContractReverted, ChainError.
        """
        from walletim.chain.units import parse_block
        from walletim.contracts.abi import decode_output, encode_call, render_values

        at = parse_block(block)
        fn = self.function(signature, abi_file)
        to = self.core.names.resolve_contract(to_text)
        data = encode_call(fn, list(args), self.core.resolve)
        raw = self.core.c.call_raw(to, data, sender=sender, block=at)
        if fn.outputs and not raw:
            raise ChainError(
                f"{to} returned nothing for {fn.signature}: is it a contract with that function?"
            )
        values = render_values(fn.outputs, decode_output(fn.outputs, raw)) if fn.outputs else []
        return CallResult(to, fn.signature, values, "0x" + raw.hex())

    def contract_send(
        self,
        account: str,
        to_text: str,
        signature: str,
        args: Sequence[str],
        *,
        value_text: str | None = None,
        abi_file: str | None = None,
    ) -> Plan:
        from walletim.contracts.abi import encode_call

        core = self.core
        sender = core.sender(account)
        fn = self.function(signature, abi_file)
        to = core.names.resolve_contract(to_text)
        if not core.c.has_code(to):
            raise InputError(f"{to} has no contract code on this network; nothing was signed")
        data = encode_call(fn, list(args), self.core.resolve)
        value = 0 if value_text is None else parse_amount(value_text)
        if value:  # the funds check every ETH-spending action makes (InsufficientFunds)
            core.need(ETH, sender, value, account)
        shown_args = _shown_arguments(fn, data)
        note = (
            f"you asked for {fn.signature} with ({shown_args if len(shown_args) < 300 else '...'})"
        )
        step = core.step("call", to, data, kind="contract", sender=sender, value=value)
        return core.plan(
            f"{fn.signature} on {core.c.label(to)}",
            account,
            sender,
            [step],
            [] if "unknown-function" not in step.flags else [note],
            figures={
                "to": to,
                "function": fn.signature,
                "value": str(value),  # wei, as it always was
                "raw": str(value),
                "amount": format_amount(value),
                "symbol": "ETH",
            },
        )


def _shown_arguments(fn: FunctionSig, data: bytes) -> str:
    """The arguments as encoded (a name where an address goes: the address it stood for)."""
    import json

    from walletim.contracts.abi import decode_output, render_values

    values = render_values(fn.inputs, decode_output(fn.inputs, data[4:]))
    return ", ".join(v if isinstance(v, str) else json.dumps(v) for v in values)
