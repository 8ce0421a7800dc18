"""Mnemonic validation errors and derivation path parsing."""

from __future__ import annotations

import pytest

from walletim.errors import InvalidDerivationPath, InvalidMnemonic
from walletim.keys import mnemonic, paths

ANVIL = "test test test test test test test test test test test junk"


def test_generate_lengths_and_validity() -> None:
    for words in (12, 15, 18, 21, 24):
        phrase = mnemonic.generate(words)
        assert len(phrase.split()) == words
        assert mnemonic.validate(phrase) == phrase
    with pytest.raises(InvalidMnemonic) as err:
        mnemonic.generate(13)
    assert err.value.reason == "length"


def test_generate_uses_the_given_entropy_source() -> None:
    calls: list[int] = []

    def fake(n: int) -> bytes:
        calls.append(n)
        return bytes(n)

    assert mnemonic.generate(12, randbytes=fake).split()[-1] == "about"
    assert calls == [16]


def test_normalization() -> None:
    assert (
        mnemonic.validate("  TEST test\ttest test test test test test test test test  junk\n")
        == ANVIL
    )


@pytest.mark.parametrize(
    ("phrase", "reason", "position"),
    [
        ("test " * 11 + "junk junk", "length", None),
        ("", "length", None),
        ("test test test test test test test test test test test junq", "word", 12),
        ("test tost test test test test test test test test test junk", "word", 2),
        ("test test test test test test test test test test test test", "checksum", None),
        ("junk test test test test test test test test test test test", "checksum", None),
    ],
)
def test_invalid_mnemonics_say_why(phrase: str, reason: str, position: int | None) -> None:
    with pytest.raises(InvalidMnemonic) as err:
        mnemonic.validate(phrase)
    assert err.value.reason == reason
    assert err.value.position == position
    if reason == "word":
        # The word itself is never echoed: it may be a typo of a secret word.
        assert "junq" not in str(err.value) and "tost" not in str(err.value)
        assert f"word {position}" in str(err.value)


def _in(language: str, entropy: bytes = bytes(range(16))) -> str:
    from mnemonic import Mnemonic

    return str(Mnemonic(language).to_mnemonic(entropy))


@pytest.mark.parametrize(
    ("phrase", "said", "position"),
    [
        (_in("chinese_simplified", bytes(16)), "Chinese (simplified) or Chinese (trad", 1),
        (_in("chinese_simplified"), "Chinese (simplified) word list", 1),
        (_in("chinese_simplified").replace(" ", ""), "Chinese (simplified) word list", 1),
        (_in("chinese_traditional"), "Chinese (traditional)", 1),
        (_in("japanese"), "Japanese", 1),
        (_in("spanish", bytes(32)), "Spanish", 1),
    ],
)
def test_a_mnemonic_of_another_bip39_language_is_named(
    phrase: str, said: str, position: int
) -> None:
    """A valid Chinese mnemonic (imToken writes them) was refused as if mistyped ("word 1 of
    the mnemonic is not in the BIP-39 English word list"), or, written without spaces, as
    "this one has 1" word: the error now names its word list."""
    with pytest.raises(InvalidMnemonic) as err:
        mnemonic.validate(phrase)
    assert str(err.value).startswith(f"the mnemonic's words are from the BIP-39 {said}")
    assert str(err.value).endswith("walletim imports English mnemonics only")
    assert (err.value.reason, err.value.position) == ("word", position)


def test_parse_path() -> None:
    assert paths.parse_path("m/44'/60'/0'/0/7") == (
        44 | paths.HARDENED,
        60 | paths.HARDENED,
        paths.HARDENED,
        0,
        7,
    )
    assert paths.parse_path("m/44h/60H/0'") == paths.parse_path("m/44'/60'/0'")
    assert paths.parse_path("m") == ()
    assert paths.format_path(paths.parse_path("m/1/2'/3")) == "m/1/2'/3"


@pytest.mark.parametrize(
    "bad", ["", "44'/60'", "m/", "m//1", "m/-1", "m/2147483648", "m/01", "m/1''", "m/a", "m/１"]
)
def test_bad_paths(bad: str) -> None:
    with pytest.raises(InvalidDerivationPath):
        paths.parse_path(bad)


def test_templates() -> None:
    default = paths.parse_template("default")
    assert default.path(3) == "m/44'/60'/0'/0/3"
    assert default.public_parent == paths.parse_path("m/44'/60'/0'/0")
    ledger = paths.parse_template("ledger-live")
    assert ledger.path(2) == "m/44'/60'/2'/0/0"
    assert ledger.public_parent is None
    custom = paths.parse_template("m/44'/60'/1'/0/{i}")
    assert custom.path(0) == "m/44'/60'/1'/0/0"
    assert paths.parse_template("m/44h/60h/0h/0/{i}").template == paths.DEFAULT_TEMPLATE
    for bad in ("m/44'/60'/0'/0", "m/{i}/{i}", "m/{j}", "m/{i}x"):
        with pytest.raises(InvalidDerivationPath):
            paths.parse_template(bad)
    with pytest.raises(InvalidDerivationPath):
        default.path(2**31)


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("44'/60'/{i}", "it must start with 'm/'"),
        ("m/44'/60'/0'/0/{i}/", "'' is not an index"),
        ("m/44''/60'/{i}", "\"44''\" is not an index"),
    ],
)
def test_a_bad_template_is_named_as_typed(typed: str, why: str) -> None:
    """The error names the template the user typed, not the half of it that failed
    (``m/`` for a trailing slash, ``44'/60'`` for a missing ``m/``)."""
    with pytest.raises(InvalidDerivationPath) as err:
        paths.parse_template(typed)
    assert str(err.value) == f"invalid derivation path {typed!r}: {why}"


@pytest.mark.parametrize(
    "pasted",
    [
        "test test test test test test test test test test test junk",
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        "m/0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d/{i}",
    ],
)
def test_a_secret_pasted_as_a_path_is_not_echoed(pasted: str) -> None:
    """A mnemonic or private key pasted into --path must not reach the terminal or a log."""
    for parse in (paths.parse_template, paths.parse_path):
        with pytest.raises(InvalidDerivationPath) as err:
            parse(pasted)
        assert "59c6995e" not in str(err.value) and "junk" not in str(err.value)
