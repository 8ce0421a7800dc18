"""Parsing a typed 0x address (its own module: ``walletim balance 0x...`` and the names of a
home parse addresses without loading the wallet model's classes)."""

from __future__ import annotations

from walletim.errors import InputError, KeysError, shown, text_input
from walletim.keys.address import parse_checksummed


def parse_address(text: str) -> str:
    """A 0x address as EIP-55 checksummed. Raises InputError (the input shown only if short)."""
    candidate = text_input(text, "an address").strip()
    try:
        return parse_checksummed(candidate)
    except KeysError as exc:
        if "checksum" in str(exc):
            raise InputError(str(exc)) from exc
        raise InputError(f"not an address: {shown(candidate)}") from exc
