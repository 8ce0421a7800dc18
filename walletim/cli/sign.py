"""``walletim sign message|typed-data`` and ``walletim verify``."""

from __future__ import annotations

from pathlib import Path

import click

from walletim.cli.base import Ctx, ExitStatus, Integer, pass_ctx, with_home
from walletim.errors import InputError

MAX_TYPED_DATA_FILE = 256 * 1024


def _read_typed_data(path: str) -> dict[str, object]:
    from walletim import fsio
    from walletim.errors import ConfigError
    from walletim.keys.signing import parse_typed_data

    try:
        text = fsio.read_bytes(Path(path), limit=MAX_TYPED_DATA_FILE, what="typed data file")
    except ConfigError as exc:
        raise InputError(str(exc)) from exc
    return parse_typed_data(text)


@click.group()
def sign() -> None:
    """Sign messages (EIP-191) and typed data (EIP-712)."""


@sign.command()
@click.option("--from", "account", required=True, help="NAME or NAME:INDEX.")
@click.option("--hex", "hex_input", is_flag=True, help="MESSAGE is hex bytes, not text.")
@click.argument("message")
@with_home
def message(ctx: Ctx, account: str, hex_input: bool, message: str) -> None:
    """EIP-191 personal_sign MESSAGE, its text (--hex: its bytes), as MetaMask and `cast
    wallet sign` sign the same bytes; they read a 0x... MESSAGE as bytes: give --hex."""
    from walletim.keys.signing import message_bytes

    data = message_bytes(message, hex_input=hex_input)
    wallets = ctx.wallets()
    acct = wallets.account(account)
    if not ctx.json:
        click.echo(
            "Note: an EIP-191 message signature is bound to no chain and no contract: it is "
            "valid wherever this text is accepted.",
            err=True,
        )
    if not hex_input:
        _hex_note(message, "signed")
    sig = wallets.sign_message(account, data)
    ctx.emit({"address": acct.address, "message": message, "signature": sig.hex}, sig.hex)


@sign.command(name="typed-data")
@click.option("--from", "account", required=True, help="NAME or NAME:INDEX.")
@click.option(
    "--allow-chain",
    "allow_chains",
    type=Integer(1, 2**256 - 1),
    multiple=True,
    help="Sign even though the domain's chainId is this chain, not this network's (repeatable).",
)
@click.option(
    "--allow-any-chain",
    is_flag=True,
    help="Sign a domain without chainId (its signature is valid on EVERY chain).",
)
@click.argument("file", type=click.Path(dir_okay=False))
@with_home
def typed_data(
    ctx: Ctx, account: str, allow_chains: tuple[int, ...], allow_any_chain: bool, file: str
) -> None:
    """EIP-712 sign FILE (JSON as eth_signTypedData_v4 takes it).

    Before anything is signed it says where the signature is valid: the domain's chain (by
    name, and whether it is this network), the contract it binds, and what a permit, a
    Permit2 payload or a call carried inside would allow. A domain for another chain than
    this network's is refused unless named with --allow-chain ID; a domain without chainId
    (valid on every chain) unless --allow-any-chain. --yes alone never signs either.
    """
    from walletim.app.contracts.typed import review_typed_data

    doc = _read_typed_data(file)
    wallets = ctx.wallets()
    network = wallets.network()
    review = review_typed_data(
        doc,
        home=ctx.home,
        network=network.name,
        rpc_url=ctx.rpc_url,
        chain_id=network.chain_id,
        profiles=wallets.network_names(),
    )
    shown = not (ctx.json and ctx.yes)
    for line in review.lines() if shown else ():
        click.echo(line, err=True)
    # Refused here, before the password is asked for: --yes does not change this.
    review.check(allow_chains=allow_chains, allow_any_chain=allow_any_chain)
    warning = review.allowed_elsewhere()
    if shown and warning is not None:
        click.echo(warning, err=True)
    acct = wallets.account(account)
    ctx.confirm(
        f"Sign {review.primary_type} typed data (digest 0x{review.digest.hex()}) as {acct.address}?"
    )
    sig = wallets.sign_typed_data(
        account, doc, allow_chains=allow_chains, allow_any_chain=allow_any_chain
    )
    ctx.emit(review.to_json(acct.address, sig.hex), sig.hex)


@click.command()
@click.argument("address")
@click.argument("message")
@click.argument("signature")
@click.option(
    "--typed-data",
    "typed_file",
    type=click.Path(dir_okay=False),
    help="Verify an EIP-712 signature of this JSON file (MESSAGE is then ignored; pass '-').",
)
@click.option("--hex", "hex_input", is_flag=True, help="MESSAGE is hex bytes, not text.")
@pass_ctx
def verify(
    ctx: Ctx, address: str, message: str, signature: str, typed_file: str | None, hex_input: bool
) -> None:
    """Check that SIGNATURE over MESSAGE was made by ADDRESS (a 0x address, an account
    NAME[:INDEX] or a contact); exit 1 if not."""
    from walletim.app.wallets import parse_address
    from walletim.keys.signing import (
        low_s_form,
        message_bytes,
        parse_signature,
        personal_digest,
        recover_digest,
        typed_data_digest,
    )

    if address.strip()[:2].lower() == "0x":
        expected = parse_address(address)  # no home needed
    else:
        from walletim.cli.base import open_session

        with open_session(ctx) as s:
            expected = s.resolve_address(address)
    sig = parse_signature(signature)
    if typed_file:
        digest = typed_data_digest(_read_typed_data(typed_file))
    else:
        digest = personal_digest(message_bytes(message, hex_input=hex_input))
    low = low_s_form(sig)
    recovered = recover_digest(digest, sig if low is None else low)
    valid = recovered == expected
    if low is not None:  # on stderr, --json too: the document keeps its fields
        click.echo(
            "Note: this signature has a high s (not canonical, EIP-2). ecrecover and cast "
            "accept it; OpenZeppelin's ECDSA and walletim's own checks take only its low-s "
            f"form 0x{low.hex()}.",
            err=True,
        )
    ctx.emit(
        {"address": expected, "valid": valid, "recovered": recovered},
        f"valid: signed by {expected}"
        if valid
        else f"INVALID: signed by {recovered}, not {expected}",
    )
    if not valid:
        if not typed_file and not hex_input:
            _hex_note(message, "checked")
        raise ExitStatus(1)


def _hex_note(message: str, done: str) -> None:
    """On stderr (--json too): a MESSAGE that looks like hex is taken as its text here, where
    MetaMask and `cast wallet sign` take its bytes."""
    from walletim.keys.signing import looks_hex

    if looks_hex(message):
        click.echo(
            f"Note: MESSAGE looks like hex; it was {done} as text. MetaMask and `cast wallet "
            "sign` take 0x messages as bytes: give --hex for that.",
            err=True,
        )
