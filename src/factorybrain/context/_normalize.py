"""Normalisation of identifiers and names before they are compared.

Silos write the same code with other cases, separators, zero padding and spellings: ``PRS-03``,
``L3_PRS03``, ``prs3``; ``0003100526``, ``3100526``, ``B3100526``; ``Krüger`` and ``KRUEGER``.
These functions bring them to one shape; they know no plant's names.
"""

from __future__ import annotations

import functools
import re
import unicodedata

# German letters as SAP-style exports transliterate them (upper-case exports drop umlauts).
_TRANSLITERATION = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_BOUNDARY = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_DIGITS = re.compile(r"[0-9]+")
_ADJACENT = re.compile(r"(?<![0-9])([0-9]+)[-/ .]([0-9]+)(?![0-9])")


def fold(text: str) -> str:
    """Lower-case, transliterate umlauts and drop accents: ``"Süd"`` becomes ``"sued"``."""
    lowered = str(text).lower().translate(_TRANSLITERATION)
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """Split into words and numbers; numbers lose their zero padding.

    Example:
        >>> tokens("L3_PRS03.VIB_RMS")
        ['l', '3', 'prs', '3', 'vib', 'rms']
    """
    return list(_tokens(str(text)))


@functools.lru_cache(maxsize=1 << 18)
def _tokens(text: str) -> tuple[str, ...]:
    # Matching splits the same codes again and again (every pair, both passes): kept once.
    folded = _BOUNDARY.sub(" ", _NON_ALNUM.sub(" ", fold(text)))
    return tuple(token.lstrip("0") or "0" if token.isdigit() else token for token in folded.split())


def numbers(text: str) -> set[str]:
    """The numbers written in ``text``, without zero padding.

    Two numbers written one after the other with only a separator between them also count
    joined, so ``25-40`` matches ``2540``.
    """
    runs = _DIGITS.findall(str(text))
    found = {d.lstrip("0") or "0" for d in runs}
    for match in _ADJACENT.finditer(str(text)):
        found.add((match.group(1) + match.group(2)).lstrip("0") or "0")
    return found


_PATH = re.compile(r"[\\/]")
_LETTER = re.compile(r"[^\W\d_]")


def own_part(identifier: str) -> str:
    r"""The part of a path identifier that names the thing itself: its last segment.

    Hierarchies write an element under its server, site and line
    (``\\AF-SRV02\Plant\Line 4\Mixer 07``); only ``Mixer 07`` is the element's own name. A
    code whose last segment has no letter (a lot ``AB/24/0311``) is one code and stays whole.

    Example:
        >>> own_part(r"\\AF-SRV02\Plant\Line 4\Mixer 07")
        'Mixer 07'
        >>> own_part("AB/24/0311")
        'AB/24/0311'
    """
    text = str(identifier)
    last = _PATH.split(text)[-1]
    return last if last != text and _LETTER.search(last) else text


def key_number(identifier: str) -> str | None:
    """The longest digit run of an identifier without zero padding (its serial part), if any.

    ``"0003100526"``, ``"B3100526"`` and ``"3100526"`` all give ``"3100526"``; a path identifier
    gives the number of its own part (:func:`own_part`).
    """
    runs = _DIGITS.findall(own_part(identifier))
    if not runs:
        return None
    longest = max(runs, key=lambda run: len(run.lstrip("0")))
    return longest.lstrip("0") or "0"


def words(text: str) -> list[str]:
    """The alphabetic tokens of ``text`` (at least two letters)."""
    return [t for t in tokens(text) if not t.isdigit() and len(t) >= 2]


def compact(text: str) -> str:
    """Letters and digits only, numbers without zero padding: the shape used for n-grams."""
    return " ".join(tokens(text))
