"""Chroma's ``$regex`` (Rust ``regex`` crate syntax) translated to a PostgreSQL ARE that matches the same texts.

Only whether a document matches counts, so greediness does not matter. Every character class is written out as
explicit code point ranges from the tables of Chroma's own engine (:mod:`vectorops.store.regex_unicode`, generated
from ``regex-syntax`` 0.8.10, the version built into chromadb 1.5.9: Unicode 16.0.0), so no match depends on the
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
- ``\\b \\B \\< \\> \\b{start} \\b{end} \\b{start-half} \\b{end-half}`` are word boundaries by that ``\\w`` ("RL1.4
  Simple Word Boundaries"), written as look-arounds over the ``\\w`` class (PostgreSQL's own ``\\y`` takes word
  characters from the collation, without marks: ``e\\u0301`` would end a word after ``e``).
- POSIX classes (``[[:alpha:]]``) are ASCII-only, as in Rust ("RL1.2a").
- ``.`` matches anything but ``\\n`` (``[^\\n]``) unless the ``s`` flag is on; ``^`` / ``$`` are the text's ends,
  or line ends under ``m`` (as look-arounds); ``\\A`` / ``\\z`` become ``\\A`` / ``\\Z``; ``\\xHH``, ``\\x{H..}``,
  ``\\u{H..}`` become ``\\U`` escapes; named groups become plain groups; a repeated repetition or anchor (``a**``,
  ``^*``, valid in Rust) is grouped first (``(?:a*)*``), as PostgreSQL repeats only atoms.

Anything without an exact counterpart raises :class:`UnsupportedFilter`, naming the construct and its offset:
look-around and back-references (Rust has neither), ``\\p{..}`` classes, nested classes and class set operations,
negated POSIX classes, the ``x``, ``R`` and ``-u`` flags, repetition counts above 255 (PostgreSQL's limit), and what
Rust or Chroma reject (unknown escapes, repeated flags, a class that matches no character: Chroma's "Byte pattern is
not allowed").
"""

from __future__ import annotations

import string
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache

from vectorops.store.errors import UnsupportedFilter
from vectorops.store.regex_unicode import CASE_FOLD_ORBITS, PERL_DECIMAL, PERL_SPACE, PERL_WORD

#: inclusive code point ranges, sorted and disjoint, never inside the surrogates
Ranges = tuple[tuple[int, int], ...]

_MAX = 0x10FFFF
_SURROGATES = (0xD800, 0xDFFF)
_PG_META = set("^$.[]()|*+?{}\\")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_ASSERTIONS = {"A": "\\A", "z": "\\Z"}
_WORD_BOUNDARIES = {"b": "boundary", "B": "not-boundary", "<": "start", ">": "end"}
_PERL_CLASSES = {"d": PERL_DECIMAL, "s": PERL_SPACE, "w": PERL_WORD}
_POSIX: dict[str, Ranges] = {
    "alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)), "alpha": ((0x41, 0x5A), (0x61, 0x7A)),
    "ascii": ((0x0, 0x7F),), "blank": ((0x9, 0x9), (0x20, 0x20)), "cntrl": ((0x0, 0x1F), (0x7F, 0x7F)),
    "digit": ((0x30, 0x39),), "graph": ((0x21, 0x7E),), "lower": ((0x61, 0x7A),), "print": ((0x20, 0x7E),),
    "punct": ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)), "space": ((0x9, 0xD), (0x20, 0x20)),
    "upper": ((0x41, 0x5A),), "word": ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)),
    "xdigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
}
#: matches no character (:func:`to_postgres` refuses a class that matches nothing, as Chroma does)
_NOTHING = "[^\\u0000-\\U0010FFFF]"
MAX_REPEAT = 255


def _merge(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sorted, disjoint ranges of the same code points, with the surrogates taken out (they are not characters)."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(piece for lo, hi in out for piece in (
        ((lo, hi),) if hi < _SURROGATES[0] or lo > _SURROGATES[1] else
        tuple(p for p in ((lo, _SURROGATES[0] - 1), (_SURROGATES[1] + 1, hi)) if p[0] <= p[1])))


def _negate(ranges: Ranges) -> Ranges:
    """Every character not in ``ranges``."""
    out, start = [], 0
    for lo, hi in ranges:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= _MAX:
        out.append((start, _MAX))
    return _merge(out)


def _subtract(ranges: Ranges, other: Ranges) -> Ranges:
    """The characters of ``ranges`` that are not in ``other``."""
    keep = _negate(other)
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
    return _merge([*ranges, *extra]) if extra else ranges


def _bridged(ranges: Ranges) -> list[tuple[int, int]]:
    """``ranges`` with neighbours either side of the surrogates joined: no text holds a surrogate, and one range
    reads shorter than two."""
    out: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if out and out[-1][1] == _SURROGATES[0] - 1 and lo == _SURROGATES[1] + 1:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _char(code: int) -> str:
    """One character inside a PostgreSQL bracket expression: printable ASCII as itself, the rest as an escape."""
    ch = chr(code)
    if 0x20 <= code < 0x7F:
        return "\\" + ch if ch in "]\\[^-" else ch
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _items(ranges: Iterable[tuple[int, int]]) -> str:
    return "".join(_char(lo) if lo == hi else _char(lo) + ("" if hi == lo + 1 else "-") + _char(hi)
                   for lo, hi in ranges)


def class_text(members: Ranges, written: Ranges = ()) -> str:
    """A PostgreSQL bracket expression for exactly ``members``: the shorter of ``[...]`` and ``[^...]``.

    :param members: the characters to match (sorted, disjoint ranges).
    :param written: part of ``members`` to list first (as the pattern wrote it; case partners follow).
    """
    listed, complement = _bridged(members), _bridged(_negate(members))
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
def _perl_class(letter: str) -> tuple[Ranges, str]:
    """``\\d \\s \\w \\D \\S \\W``: the characters, and their bracket expression."""
    members = _merge(_PERL_CLASSES[letter.lower()])
    members = _negate(members) if letter.isupper() else members
    return members, class_text(members)


def _word_boundary(kind: str) -> str:
    """A Rust word boundary assertion as look-arounds over the ``\\w`` class."""
    w = _perl_class("w")[1]
    before, not_before, after, not_after = f"(?<={w})", f"(?<!{w})", f"(?={w})", f"(?!{w})"
    return "(?:" + {
        "boundary": f"{before}{not_after}|{not_before}{after}",
        "not-boundary": f"{before}{after}|{not_before}{not_after}",
        "start": not_before + after, "end": before + not_after,
        "start-half": not_before, "end-half": not_after,
    }[kind] + ")"


@dataclass(frozen=True)
class _Flags:
    i: bool = False
    m: bool = False
    s: bool = False


@dataclass(frozen=True)
class _Escape:
    """What a backslash escape stands for: a literal character, a class, or a ready PostgreSQL text."""

    text: str
    literal: int | None = None
    members: Ranges | None = None


def _unsupported(pattern: str, pos: int, what: str) -> UnsupportedFilter:
    return UnsupportedFilter(f"$regex {pattern!r}: {what} at offset {pos} is invalid or has no exact PostgreSQL "
                             "equivalent")


def _literal(ch: str) -> str:
    return "\\" + ch if ch in _PG_META else ch


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.pos = 0
        self.out: list[str] = []
        #: where the last thing a repetition may follow starts in ``out`` (-1: nothing), and what it is
        self.last_start = -1
        self.last = "atom"
        self.names: set[str] = set()

    def error(self, what: str, at: int | None = None) -> UnsupportedFilter:
        return _unsupported(self.p, self.pos if at is None else at, what)

    def peek(self, k: int = 0) -> str:
        i = self.pos + k
        return self.p[i] if i < len(self.p) else ""

    def hex_escape(self) -> int:
        """After ``\\x`` or ``\\u`` / ``\\U``: the code point."""
        kind, start = self.p[self.pos - 1], self.pos - 2
        if self.peek() == "{":
            end = self.p.find("}", self.pos)
            digits = self.p[self.pos + 1:end] if end > 0 else ""
            self.pos = end + 1 if end > 0 else self.pos
        else:
            width = {"x": 2, "u": 4, "U": 8}[kind]
            digits = self.p[self.pos:self.pos + width]
            self.pos += width
        code = int(digits, 16) if digits and all(c in string.hexdigits for c in digits) else -1
        if not 0 <= code <= _MAX or _SURROGATES[0] <= code <= _SURROGATES[1]:
            raise self.error(f"invalid escape \\{kind}{digits}", start)
        return code

    def word_boundary_name(self, start: int) -> str:
        """After ``\\b``: ``boundary``, or the kind a following ``{start}`` / ``{end}`` / ``{start-half}`` /
        ``{end-half}`` names (``\\b{2}`` is a repetition of ``\\b``, as in Rust)."""
        if self.peek() != "{" or not (self.peek(1).isascii() and (self.peek(1).isalpha() or self.peek(1) == "-")):
            return "boundary"
        end = self.p.find("}", self.pos)
        name = self.p[self.pos + 1:end] if end > 0 else ""
        if name not in ("start", "end", "start-half", "end-half"):
            raise self.error(f"\\b{{{name}}}", start)
        self.pos = end + 1
        return name

    def escape(self, in_class: bool) -> _Escape:
        """Translate the escape after a backslash."""
        start = self.pos - 1
        ch = self.peek()
        if not ch:
            raise self.error("a trailing backslash", start)
        self.pos += 1
        if ch in ("x", "u", "U"):
            code = self.hex_escape()
            return _Escape(f"\\U{code:08X}", literal=code)
        if ch in _SIMPLE_ESCAPES:
            return _Escape("\\" + ch, literal=ord(_SIMPLE_ESCAPES[ch]))
        if ch.lower() in _PERL_CLASSES:
            members, text = _perl_class(ch)
            return _Escape(text, members=members)
        if ch in _ASSERTIONS or ch in _WORD_BOUNDARIES:
            if in_class:
                raise self.error(f"the assertion \\{ch} inside a class", start)
            if ch in _ASSERTIONS:
                return _Escape(_ASSERTIONS[ch])
            return _Escape(_word_boundary(self.word_boundary_name(start) if ch == "b" else _WORD_BOUNDARIES[ch]))
        if not ch.isascii() or ch.isalnum():
            raise self.error(f"the escape \\{ch}", start)
        return _Escape("\\" + ch if ch in _PG_META else ch, literal=ord(ch))

    def char_class(self, flags: _Flags) -> str:
        start = self.pos
        self.pos += 1
        negated = self.peek() == "^"
        if negated:
            self.pos += 1
        written: list[tuple[int, int]] = []
        first = True
        while True:
            ch = self.peek()
            if not ch:
                raise self.error("an unclosed character class", start)
            if ch == "]" and not first:
                self.pos += 1
                break
            first = False
            if ch == "[":
                if self.p.startswith("[:", self.pos):
                    end = self.p.find(":]", self.pos + 2)
                    name = self.p[self.pos + 2:end] if end > 0 else ""
                    if name not in _POSIX:
                        raise self.error(f"the class [:{name}:]")
                    written.extend(case_fold(_POSIX[name]) if flags.i else _POSIX[name])
                    self.pos = end + 2
                    continue
                raise self.error("a nested class or set operation")
            if self.p.startswith(("&&", "--", "~~"), self.pos):
                raise self.error("a class set operation")
            low = self.class_atom()
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.pos += 1
                high = self.class_atom()
                if low.literal is None or high.literal is None or low.literal > high.literal:
                    raise self.error("an invalid class range", start)
                written.append((low.literal, high.literal))
            elif low.members is not None:
                written.extend(low.members)
            elif low.literal is not None:
                written.append((low.literal, low.literal))
        own = _merge(written)
        folded = case_fold(own) if flags.i else own
        if not (_negate(folded) if negated else folded):
            # Rust compiles it to a byte class, and Chroma refuses those ("Byte pattern is not allowed")
            raise self.error("a class that matches no character", start)
        return class_text(_negate(folded)) if negated else class_text(folded, own)

    def class_atom(self) -> _Escape:
        ch = self.peek()
        self.pos += 1
        if ch == "\\":
            return self.escape(in_class=True)
        return _Escape(ch, literal=ord(ch))

    def group_open(self, flags: _Flags) -> tuple[_Flags, bool]:
        """After ``(``: emit the group's opening; return the flags inside and whether it opened a group."""
        start = self.pos - 1
        if self.peek() != "?":
            self.out.append("(")
            return flags, True
        self.pos += 1
        if self.peek() in ("=", "!") or self.p.startswith(("<=", "<!"), self.pos):
            raise self.error("look-around", start)
        if (self.peek() == "P" and self.peek(1) == "<") or self.peek() == "<":
            end = self.p.find(">", self.pos)
            name = self.p[self.p.index("<", self.pos) + 1:end] if end >= 0 else ""
            if not name or not (name[0] == "_" or name[0].isalpha()) or name in self.names or not all(
                    c in "_.[]" or c.isalnum() for c in name):
                raise self.error("an unclosed, invalid or repeated group name", start)
            self.names.add(name)
            self.pos = end + 1
            self.out.append("(")
            return flags, True
        end = min((i for i in (self.p.find(":", self.pos), self.p.find(")", self.pos)) if i >= 0), default=-1)
        if end < 0:
            raise self.error("an unclosed group", start)
        spec = self.p[self.pos:end]
        inner = self.apply_flags(spec, flags, start, scoped=self.p[end] == ":")
        self.pos = end + 1
        if self.p[end] == ":":
            self.out.append("(?:")
            return inner, True
        return inner, False

    def apply_flags(self, spec: str, flags: _Flags, start: int, scoped: bool) -> _Flags:
        """Flags as Rust parses them: each at most once, one ``-`` and never last; ``(?)`` is an error."""
        if not spec and not scoped:
            raise self.error("an empty flag group", start)
        if len(set(spec.replace("-", ""))) < len(spec.replace("-", "")) or spec.count("-") > 1 or spec.endswith("-"):
            raise self.error(f"the flags {spec!r} (a flag repeated, or a dangling -)", start)
        on = True
        for ch in spec:
            if ch == "-":
                on = False
            elif ch in "ims":
                flags = replace(flags, **{ch: on})
            elif ch == "U":
                continue  # greediness: irrelevant to whether a text matches
            elif ch == "u" and on:
                continue
            else:
                raise self.error(f"the flag {'' if on else '-'}{ch}", start)
        return flags

    def repetition(self) -> str:
        """At ``{``: the counted repetition ``{n}``, ``{n,}`` or ``{n,m}``."""
        start = self.pos
        end = self.p.find("}", self.pos)
        body = self.p[self.pos + 1:end] if end > 0 else ""
        parts = body.split(",")
        if end < 0 or len(parts) > 2 or not parts[0].isdigit() or (len(parts) == 2 and parts[1]
                                                                    and not parts[1].isdigit()):
            raise self.error("an invalid repetition", start)
        if any(int(x) > MAX_REPEAT for x in parts if x):
            raise self.error(f"a repetition count above {MAX_REPEAT}", start)
        if len(parts) == 2 and parts[1] and int(parts[0]) > int(parts[1]):
            raise self.error("a repetition range whose start is above its end", start)
        self.pos = end + 1
        return "{" + body + "}"

    def atom(self, text: str, kind: str = "atom") -> None:
        """Emit something a repetition may follow: an ``atom``, or an ``anchor`` (PostgreSQL repeats an anchor
        only inside a group)."""
        self.last_start, self.last = len(self.out), kind
        self.out.append(text)

    def repeat(self, op: str, start: int) -> None:
        """Emit a repetition operator. Rust repeats a repetition (``a**``, ``a{2}*``) and an anchor (``^*``);
        PostgreSQL only a group of them. A ``?`` right after a repetition makes it lazy, in both."""
        if self.last_start < 0:
            raise self.error("a repetition with nothing to repeat", start)
        if op == "?" and self.last == "repeat":
            self.last = "lazy"
        elif self.last != "atom":
            self.out[self.last_start:] = ["(?:" + "".join(self.out[self.last_start:]) + ")"]
            self.last = "repeat"
        else:
            self.last = "repeat"
        self.out.append(op)

    def case_literal(self, code: int, text: str, flags: _Flags) -> str:
        """A literal character: itself, or under ``i`` the class of it and its case partners."""
        partners = case_partners(code) if flags.i else ()
        return "[" + _char(code) + "".join(map(_char, partners)) + "]" if partners else text

    def run(self) -> str:
        stack: list[tuple[_Flags, int]] = []
        flags = _Flags()
        while self.pos < len(self.p):
            ch = self.p[self.pos]
            self.pos += 1
            if ch == "\\":
                escaped = self.escape(in_class=False)
                if escaped.literal is not None:
                    self.atom(self.case_literal(escaped.literal, escaped.text, flags))
                else:
                    self.atom(escaped.text, "anchor" if escaped.text in _ASSERTIONS.values() else "atom")
            elif ch == "[":
                self.pos -= 1
                self.atom(self.char_class(flags))
            elif ch == "(":
                opened_at = len(self.out)
                inner, opened = self.group_open(flags)
                if opened:
                    stack.append((flags, opened_at))
                flags, self.last_start = inner, -1
            elif ch == ")":
                if not stack:
                    raise self.error("an unmatched )", self.pos - 1)
                flags, opened_at = stack.pop()
                self.out.append(")")
                self.last_start, self.last = opened_at, "atom"
            elif ch == ".":
                self.atom("." if flags.s else "[^\\n]")
            elif ch == "^":
                self.atom("(?:^|(?<=\\n))" if flags.m else "^", "atom" if flags.m else "anchor")
            elif ch == "$":
                self.atom("(?:$|(?=\\n))" if flags.m else "$", "atom" if flags.m else "anchor")
            elif ch == "|":
                self.out.append(ch)
                self.last_start = -1
            elif ch in "*+?":
                self.repeat(ch, self.pos - 1)
            elif ch == "{":
                self.pos -= 1
                start = self.pos
                self.repeat(self.repetition(), start)
            else:
                self.atom(self.case_literal(ord(ch), _literal(ch), flags))
        if stack:
            raise self.error("an unclosed group", len(self.p))
        return "".join(self.out)


def to_postgres(pattern: str) -> str:
    """The PostgreSQL ARE for a Chroma ``$regex`` pattern.

    :raises UnsupportedFilter: naming the construct that has no exact PostgreSQL equivalent.
    """
    return _Translator(pattern).run()
