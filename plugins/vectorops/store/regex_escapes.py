"""Reading a Rust ``regex`` pattern: the cursor over its text and its backslash escapes (``\\xHH``, ``\\u{..}``, the
Perl classes, ``\\A \\z`` and the word boundaries), each as the PostgreSQL text that matches the same characters.
:mod:`vectorops.store.regex` builds the whole translation on it."""

from __future__ import annotations

import string
from dataclasses import dataclass

from vectorops.store.errors import UnsupportedFilter
from vectorops.store.regex_classes import MAX_CODE_POINT, PERL_CLASSES, SURROGATES, Ranges, perl_class

PG_META = set("^$.[]()|*+?{}\\")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
ASSERTIONS = {"A": "\\A", "z": "\\Z"}
_WORD_BOUNDARIES = {"b": "boundary", "B": "not-boundary", "<": "start", ">": "end"}


def _word_boundary(kind: str) -> str:
    """A Rust word boundary assertion as look-arounds over the ``\\w`` class."""
    w = perl_class("w")[1]
    before, not_before, after, not_after = f"(?<={w})", f"(?<!{w})", f"(?={w})", f"(?!{w})"
    return "(?:" + {
        "boundary": f"{before}{not_after}|{not_before}{after}",
        "not-boundary": f"{before}{after}|{not_before}{not_after}",
        "start": not_before + after, "end": before + not_after,
        "start-half": not_before, "end-half": not_after,
    }[kind] + ")"


@dataclass(frozen=True)
class Flags:
    """The inline flags in force: ``i`` case folding, ``m`` multi-line anchors, ``s`` dot matches ``\\n``."""

    i: bool = False
    m: bool = False
    s: bool = False


@dataclass(frozen=True)
class Escape:
    """What a backslash escape stands for: a literal character, a class, or a ready PostgreSQL text."""

    text: str
    literal: int | None = None
    members: Ranges | None = None


def _unsupported(pattern: str, pos: int, what: str) -> UnsupportedFilter:
    return UnsupportedFilter(f"$regex {pattern!r}: {what} at offset {pos} is invalid or has no exact PostgreSQL "
                             "equivalent")


class PatternReader:
    """A position in ``pattern`` and the escapes read from it; errors name the pattern and the offset."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.pos = 0

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
        if not 0 <= code <= MAX_CODE_POINT or SURROGATES[0] <= code <= SURROGATES[1]:
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

    def escape(self, in_class: bool) -> Escape:
        """Translate the escape after a backslash."""
        start = self.pos - 1
        ch = self.peek()
        if not ch:
            raise self.error("a trailing backslash", start)
        self.pos += 1
        if ch in ("x", "u", "U"):
            code = self.hex_escape()
            return Escape(f"\\U{code:08X}", literal=code)
        if ch in _SIMPLE_ESCAPES:
            return Escape("\\" + ch, literal=ord(_SIMPLE_ESCAPES[ch]))
        if ch.lower() in PERL_CLASSES:
            members, text = perl_class(ch)
            return Escape(text, members=members)
        if ch in ASSERTIONS or ch in _WORD_BOUNDARIES:
            if in_class:
                raise self.error(f"the assertion \\{ch} inside a class", start)
            if ch in ASSERTIONS:
                return Escape(ASSERTIONS[ch])
            return Escape(_word_boundary(self.word_boundary_name(start) if ch == "b" else _WORD_BOUNDARIES[ch]))
        if not ch.isascii() or ch.isalnum():
            raise self.error(f"the escape \\{ch}", start)
        return Escape("\\" + ch if ch in PG_META else ch, literal=ord(ch))

    def class_atom(self) -> Escape:
        ch = self.peek()
        self.pos += 1
        if ch == "\\":
            return self.escape(in_class=True)
        return Escape(ch, literal=ord(ch))
