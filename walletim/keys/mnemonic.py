"""BIP-39 mnemonics: generate, validate with a precise reason, and stretch to a seed (pure)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from walletim.errors import InvalidMnemonic

if TYPE_CHECKING:
    from mnemonic import Mnemonic

#: Allowed mnemonic lengths in words and the entropy they carry in bytes.
WORD_COUNTS: dict[int, int] = {12: 16, 15: 20, 18: 24, 21: 28, 24: 32}


@lru_cache(maxsize=1)
def _english() -> Mnemonic:
    from mnemonic import Mnemonic

    return Mnemonic("english")


def generate(words: int = 12, randbytes: Callable[[int], bytes] | None = None) -> str:
    """A new English mnemonic of ``words`` words from ``randbytes`` (default: ``secrets``).

    Raises:
        InvalidMnemonic: if ``words`` is not 12, 15, 18, 21 or 24.
    """
    if words not in WORD_COUNTS:
        raise InvalidMnemonic(
            f"a mnemonic has 12, 15, 18, 21 or 24 words, not {words}", reason="length"
        )
    if randbytes is None:
        import secrets

        randbytes = secrets.token_bytes
    entropy = randbytes(WORD_COUNTS[words])
    if len(entropy) != WORD_COUNTS[words]:
        raise ValueError("randbytes returned the wrong number of bytes")
    return str(_english().to_mnemonic(entropy))


def from_entropy(entropy: bytes) -> str:
    """The English mnemonic encoding ``entropy`` (16, 20, 24, 28 or 32 bytes)."""
    if len(entropy) not in WORD_COUNTS.values():
        raise InvalidMnemonic("entropy must be 16, 20, 24, 28 or 32 bytes", reason="length")
    return str(_english().to_mnemonic(entropy))


def normalize(phrase: str) -> str:
    """NFKD, lower case, single spaces: the form BIP-39 hashes."""
    return " ".join(unicodedata.normalize("NFKD", phrase).lower().split())


def validate(phrase: str) -> str:
    """Check a mnemonic and return its normalized form.

    The error says which check failed, and never echoes the phrase (an unknown word is
    named by position only, since it is likely a typo of a secret word).

    Raises:
        InvalidMnemonic: ``reason`` "length" (not 12/15/18/21/24 words), "word" (a word
            outside the BIP-39 English list, ``position`` 1-based) or "checksum".
    """
    norm = normalize(phrase)
    words = norm.split(" ") if norm else []
    index = {w: n for n, w in enumerate(_english().wordlist)}
    if len(words) not in WORD_COUNTS:
        _refuse_other_language(words, index)
        raise InvalidMnemonic(
            f"a mnemonic has 12, 15, 18, 21 or 24 words; this one has {len(words)}",
            reason="length",
        )
    bits = 0
    for n, word in enumerate(words, start=1):
        value = index.get(word)
        if value is None:
            _refuse_other_language(words, index)
            raise InvalidMnemonic(
                f"word {n} of the mnemonic is not in the BIP-39 English word list",
                reason="word",
                position=n,
            )
        bits = (bits << 11) | value
    total = len(words) * 11
    checksum_bits = total // 33
    entropy = (bits >> checksum_bits).to_bytes((total - checksum_bits) // 8, "big")
    import hashlib

    expected = hashlib.sha256(entropy).digest()[0] >> (8 - checksum_bits)
    if expected != bits & ((1 << checksum_bits) - 1):
        raise InvalidMnemonic(
            "the mnemonic's checksum does not match: a word is wrong or out of order",
            reason="checksum",
        )
    return norm


@lru_cache(maxsize=1)
def _word_lists() -> tuple[tuple[str, frozenset[str]], ...]:
    """Every BIP-39 word list python-mnemonic ships, by language, its words normalized."""
    from mnemonic import Mnemonic

    return tuple(
        (language, frozenset(normalize(w) for w in Mnemonic(language).wordlist))
        for language in sorted(Mnemonic.list_languages())
    )


def _refuse_other_language(words: list[str], english: dict[str, int]) -> None:
    """Raises InvalidMnemonic (reason "word") naming the language when every word of a phrase
    that is not English is in one other BIP-39 word list (a Chinese phrase written without
    spaces: every character), so that a valid Chinese or Spanish mnemonic is not called a
    mistyped one. Returns when none is."""
    first = next((n for n, w in enumerate(words, start=1) if w not in english), None)
    if first is None:
        return
    found = []
    for language, listed in _word_lists():
        unspaced = language.startswith("chinese") and len(words) < min(WORD_COUNTS)
        if all(w in listed for w in ("".join(words) if unspaced else words)):
            found.append(language)
    if found and "english" not in found:
        names = " or ".join(
            lang.replace("_", " (").capitalize() + ")" * ("_" in lang) for lang in found
        )
        raise InvalidMnemonic(
            f"the mnemonic's words are from the BIP-39 {names} word list; walletim imports "
            "English mnemonics only",
            reason="word",
            position=1 if len(words) < min(WORD_COUNTS) else first,
        )


def to_entropy(phrase: str) -> bytes:
    """The entropy a valid mnemonic encodes. Raises InvalidMnemonic."""
    return bytes(_english().to_entropy(validate(phrase)))


def to_seed(phrase: str, passphrase: str = "") -> bytes:
    """The 64-byte BIP-39 seed (PBKDF2-HMAC-SHA512, 2048 rounds) of a valid mnemonic.

    Raises:
        InvalidMnemonic: if the phrase does not validate.
    """
    import hashlib

    norm = validate(phrase)
    salt = "mnemonic" + unicodedata.normalize("NFKD", passphrase)
    return hashlib.pbkdf2_hmac("sha512", norm.encode(), salt.encode(), 2048)
