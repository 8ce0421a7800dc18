"""BIP-32 derivation paths and account path templates (pure).

A *template* is a path with exactly one ``{i}`` placeholder for the account index,
e.g. ``m/44'/60'/0'/0/{i}`` (MetaMask, Foundry ``cast``, Trezor: the default) or
``m/44'/60'/{i}'/0/0`` (Ledger Live). Hardened steps are written ``'`` or ``h``.
"""

from __future__ import annotations

from dataclasses import dataclass

from walletim.errors import InvalidDerivationPath, shown

HARDENED = 0x8000_0000
MAX_DEPTH = 255

DEFAULT_TEMPLATE = "m/44'/60'/0'/0/{i}"
LEDGER_LIVE_TEMPLATE = "m/44'/60'/{i}'/0/0"
LEDGER_LEGACY_TEMPLATE = "m/44'/60'/0'/{i}"

#: Named templates users may pass instead of writing the path out.
PRESETS: dict[str, str] = {
    "default": DEFAULT_TEMPLATE,
    "metamask": DEFAULT_TEMPLATE,
    "bip44": DEFAULT_TEMPLATE,
    "ledger-live": LEDGER_LIVE_TEMPLATE,
    "ledger-legacy": LEDGER_LEGACY_TEMPLATE,
}


def parse_path(path: str) -> tuple[int, ...]:
    """Parse ``m/44'/60'/0'/0/0`` into child indexes (hardened ones have bit 31 set).

    Raises:
        InvalidDerivationPath: on anything but ``m`` followed by ``/``-separated indexes
            below 2**31, each optionally hardened, at most 255 deep.
    """
    text = path.strip()
    parts = text.split("/")
    if not parts or parts[0] not in ("m", "M"):
        raise InvalidDerivationPath(path, "it must start with 'm/'")
    steps: list[int] = []
    for part in parts[1:]:
        hardened = part.endswith(("'", "h", "H"))
        digits = part[:-1] if hardened else part
        if not digits.isdigit() or not digits.isascii() or (len(digits) > 1 and digits[0] == "0"):
            raise InvalidDerivationPath(path, f"{shown(part)} is not an index")
        value = int(digits)
        if value >= HARDENED:
            raise InvalidDerivationPath(path, f"index {value} is not below 2**31")
        steps.append(value | HARDENED if hardened else value)
    if len(steps) > MAX_DEPTH:
        raise InvalidDerivationPath(path, f"deeper than {MAX_DEPTH} levels")
    return tuple(steps)


def format_path(steps: tuple[int, ...]) -> str:
    """Inverse of :func:`parse_path`, using ``'`` for hardened steps."""
    out = ["m"]
    for step in steps:
        out.append(f"{step - HARDENED}'" if step >= HARDENED else str(step))
    return "/".join(out)


@dataclass(frozen=True, slots=True)
class PathTemplate:
    """A derivation path with one ``{i}`` slot for the account index."""

    template: str
    prefix: tuple[int, ...]  # steps before the slot
    hardened_slot: bool
    suffix: tuple[int, ...]  # steps after the slot

    def path(self, index: int) -> str:
        """The concrete path of account ``index``.

        Raises:
            InvalidDerivationPath: if ``index`` is negative or not below 2**31.
        """
        return format_path(self.steps(index))

    def steps(self, index: int) -> tuple[int, ...]:
        if not 0 <= index < HARDENED:
            raise InvalidDerivationPath(self.template, f"account index {index} is out of range")
        slot = index | HARDENED if self.hardened_slot else index
        return (*self.prefix, slot, *self.suffix)

    @property
    def public_parent(self) -> tuple[int, ...] | None:
        """Steps of the parent whose public key derives every account, or None.

        That is the case when the slot is the last step and not hardened (the default
        template); other templates need the seed, or a cache, to list addresses.
        """
        if not self.hardened_slot and not self.suffix:
            return self.prefix
        return None


def parse_template(template: str) -> PathTemplate:
    """Parse a template (or a preset name such as ``ledger-live``).

    Raises:
        InvalidDerivationPath: if the text is not a path with exactly one ``{i}`` step.
    """
    text = PRESETS.get(template.strip().lower(), template.strip())
    parts = text.split("/")
    slots = [n for n, part in enumerate(parts) if part.startswith("{i}")]
    if len(slots) != 1:
        raise InvalidDerivationPath(text, "a template needs exactly one '{i}' step")
    at = slots[0]
    slot = parts[at]
    if slot not in ("{i}", "{i}'", "{i}h", "{i}H"):
        raise InvalidDerivationPath(text, f"{shown(slot)} is not a valid account step")
    try:  # the error names the template as typed, not the half that failed
        prefix = parse_path("/".join(parts[:at]))
        suffix = parse_path("/".join(["m", *parts[at + 1 :]]))
    except InvalidDerivationPath as exc:
        raise InvalidDerivationPath(text, exc.why) from None
    if len(prefix) + 1 + len(suffix) > MAX_DEPTH:
        raise InvalidDerivationPath(text, f"deeper than {MAX_DEPTH} levels")
    normal = "/".join(
        [
            format_path(prefix),
            "{i}'" if slot != "{i}" else "{i}",
            *format_path(suffix).split("/")[1:],
        ]
    )
    return PathTemplate(normal, prefix, slot != "{i}", suffix)
