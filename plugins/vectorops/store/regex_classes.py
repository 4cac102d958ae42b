"""Character classes for the ``$regex`` translation (:mod:`vectorops.store.regex`): code point range sets, Unicode
simple case folding, the Perl and POSIX classes, and their PostgreSQL bracket expressions.

Every class is written out as explicit code point ranges from the tables of Chroma's own engine
(:mod:`vectorops.store.regex_unicode_classes` and :mod:`vectorops.store.regex_case_folding`, generated from
``regex-syntax`` 0.8.10, the version built into chromadb 1.5.9: Unicode 16.0.0), so no match depends on the
database's collation or Unicode version. The Rust behaviour each rule follows (regex crate ``UNICODE.md``, and
``regex-syntax``'s ``hir/translate.rs``):

- ``(?i)`` is Unicode *simple* case folding ("RL1.5 Simple Loose Matches": "it uses the 'simple' case folding
  mapping ... all characters classes are case folded as well"). A literal becomes the class of its equivalence
  class (``(?i)k`` → ``[kK\\u212A]``, KELVIN SIGN included); a bracket class (literals, ranges, ``\\w``-style and
  POSIX items) gets every member's case partners added *before* it is negated (``unicode_fold_and_negate``: "we
  must apply case folding before negation"), so ``(?i)[^k]`` matches none of ``k``, ``K``, U+212A.
- ``\\w \\d \\s`` and ``\\W \\D \\S``, inside classes too, are Unicode-aware ("RL1.2a": "the ``\\w``, ``\\s`` and
  ``\\d`` character classes **are** Unicode aware"): ``\\w`` = Alphabetic + Mark + Decimal_Number +
  Connector_Punctuation + Join_Control (``regex_syntax::is_word_character``), ``\\d`` = Decimal_Number, ``\\s`` =
  White_Space.
- POSIX classes (``[[:alpha:]]``) are ASCII-only, as in Rust ("RL1.2a").
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from functools import cache

from vectorops.store.regex_case_folding import CASE_FOLD_ORBITS
from vectorops.store.regex_unicode_classes import PERL_DECIMAL, PERL_SPACE, PERL_WORD

#: inclusive code point ranges, sorted and disjoint, never inside the surrogates
Ranges = tuple[tuple[int, int], ...]

MAX_CODE_POINT = 0x10FFFF
SURROGATES = (0xD800, 0xDFFF)
PERL_CLASSES = {"d": PERL_DECIMAL, "s": PERL_SPACE, "w": PERL_WORD}
POSIX_CLASSES: dict[str, Ranges] = {
    "alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)), "alpha": ((0x41, 0x5A), (0x61, 0x7A)),
    "ascii": ((0x0, 0x7F),), "blank": ((0x9, 0x9), (0x20, 0x20)), "cntrl": ((0x0, 0x1F), (0x7F, 0x7F)),
    "digit": ((0x30, 0x39),), "graph": ((0x21, 0x7E),), "lower": ((0x61, 0x7A),), "print": ((0x20, 0x7E),),
    "punct": ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)), "space": ((0x9, 0xD), (0x20, 0x20)),
    "upper": ((0x41, 0x5A),), "word": ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)),
    "xdigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
}
#: matches no character (:func:`vectorops.store.regex.to_postgres` refuses a class that matches nothing, as Chroma
#: does)
_NOTHING = "[^\\u0000-\\U0010FFFF]"


def merge(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sorted, disjoint ranges of the same code points, with the surrogates taken out (they are not characters)."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(piece for lo, hi in out for piece in (
        ((lo, hi),) if hi < SURROGATES[0] or lo > SURROGATES[1] else
        tuple(p for p in ((lo, SURROGATES[0] - 1), (SURROGATES[1] + 1, hi)) if p[0] <= p[1])))


def negate(ranges: Ranges) -> Ranges:
    """Every character not in ``ranges``."""
    out, start = [], 0
    for lo, hi in ranges:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= MAX_CODE_POINT:
        out.append((start, MAX_CODE_POINT))
    return merge(out)


def _subtract(ranges: Ranges, other: Ranges) -> Ranges:
    """The characters of ``ranges`` that are not in ``other``."""
    keep = negate(other)
    out, j = [], 0
    for lo, hi in ranges:
        while j < len(keep) and keep[j][1] < lo:
            j += 1
        k = j
        while k < len(keep) and keep[k][0] <= hi:
            out.append((max(lo, keep[k][0]), min(hi, keep[k][1])))
            k += 1
    return tuple(out)


@cache
def _orbits() -> tuple[list[int], dict[int, tuple[int, ...]]]:
    """Every character with case partners (sorted), and the equivalence class of each."""
    orbit_of = {c: orbit for orbit in CASE_FOLD_ORBITS for c in orbit}
    return sorted(orbit_of), orbit_of


def case_partners(ch: int) -> tuple[int, ...]:
    """The characters that ``(?i)`` makes ``ch`` match besides itself (Unicode simple case folding), in code
    point order.

    :param ch: a code point.
    """
    return tuple(c for c in _orbits()[1].get(ch, ()) if c != ch)


def case_fold(ranges: Ranges) -> Ranges:
    """``ranges`` with every case partner of each member added: the set ``(?i)`` makes a class match.

    :param ranges: sorted, disjoint code point ranges.
    """
    foldable, orbit_of = _orbits()
    extra = [(partner, partner) for lo, hi in ranges
             for c in foldable[bisect_left(foldable, lo):bisect_right(foldable, hi)] for partner in orbit_of[c]]
    return merge([*ranges, *extra]) if extra else ranges


def _bridged(ranges: Ranges) -> list[tuple[int, int]]:
    """``ranges`` with neighbours either side of the surrogates joined: no text holds a surrogate, and one range
    reads shorter than two."""
    out: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if out and out[-1][1] == SURROGATES[0] - 1 and lo == SURROGATES[1] + 1:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def bracket_char(code: int) -> str:
    """One character inside a PostgreSQL bracket expression: printable ASCII as itself, the rest as an escape."""
    ch = chr(code)
    if 0x20 <= code < 0x7F:
        return "\\" + ch if ch in "]\\[^-" else ch
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _items(ranges: Iterable[tuple[int, int]]) -> str:
    return "".join(bracket_char(lo) if lo == hi
                   else bracket_char(lo) + ("" if hi == lo + 1 else "-") + bracket_char(hi) for lo, hi in ranges)


def class_text(members: Ranges, written: Ranges = ()) -> str:
    """A PostgreSQL bracket expression for exactly ``members``: the shorter of ``[...]`` and ``[^...]``.

    :param members: the characters to match (sorted, disjoint ranges).
    :param written: part of ``members`` to list first (as the pattern wrote it; case partners follow).
    """
    listed, complement = _bridged(members), _bridged(negate(members))
    if not listed:
        return _NOTHING
    if not complement:
        return "."  # every character (no translation turns on PostgreSQL's newline-sensitive mode)
    if len(complement) < len(listed):
        return "[^" + _items(complement) + "]"
    if written:
        return "[" + _items(_bridged(written)) + _items(_bridged(_subtract(members, written))) + "]"
    return "[" + _items(listed) + "]"


@cache
def perl_class(letter: str) -> tuple[Ranges, str]:
    """``\\d \\s \\w \\D \\S \\W``: the characters, and their bracket expression."""
    members = merge(PERL_CLASSES[letter.lower()])
    members = negate(members) if letter.isupper() else members
    return members, class_text(members)
