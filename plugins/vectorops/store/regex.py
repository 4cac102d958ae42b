"""Chroma's ``$regex`` (Rust ``regex`` crate syntax) translated to a PostgreSQL ARE that matches the same texts.

Only whether a document matches counts, so greediness does not matter. Character classes, ``(?i)`` case
folding and the Unicode-aware ``\\w \\d \\s`` are written out as explicit code point ranges by
:mod:`vectorops.store.regex_classes` (which documents those rules), so no match depends on the database's
collation or Unicode version; :mod:`vectorops.store.regex_escapes` reads the pattern and its escapes. The other
Rust behaviour each rule follows (regex crate ``UNICODE.md``, and ``regex-syntax``'s ``hir/translate.rs``):

- ``\\b \\B \\< \\> \\b{start} \\b{end} \\b{start-half} \\b{end-half}`` are word boundaries by the Unicode
  ``\\w`` ("RL1.4 Simple Word Boundaries"), written as look-arounds over the ``\\w`` class (PostgreSQL's own
  ``\\y`` takes word characters from the collation, without marks: ``e\\u0301`` would end a word after ``e``).
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

from dataclasses import replace

from vectorops.store.regex_classes import (
    POSIX_CLASSES,
    bracket_char,
    case_fold,
    case_partners,
    class_text,
    merge,
    negate,
)
from vectorops.store.regex_escapes import ASSERTIONS, PG_META, Flags, PatternReader

MAX_REPEAT = 255


def _literal(ch: str) -> str:
    return "\\" + ch if ch in PG_META else ch


class _Translator(PatternReader):
    def __init__(self, pattern: str) -> None:
        super().__init__(pattern)
        self.out: list[str] = []
        #: where the last thing a repetition may follow starts in ``out`` (-1: nothing), and what it is
        self.last_start = -1
        self.last = "atom"
        self.names: set[str] = set()

    def char_class(self, flags: Flags) -> str:
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
                    if name not in POSIX_CLASSES:
                        raise self.error(f"the class [:{name}:]")
                    written.extend(case_fold(POSIX_CLASSES[name]) if flags.i else POSIX_CLASSES[name])
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
        own = merge(written)
        folded = case_fold(own) if flags.i else own
        if not (negate(folded) if negated else folded):
            # Rust compiles it to a byte class, and Chroma refuses those ("Byte pattern is not allowed")
            raise self.error("a class that matches no character", start)
        return class_text(negate(folded)) if negated else class_text(folded, own)

    def group_open(self, flags: Flags) -> tuple[Flags, bool]:
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

    def apply_flags(self, spec: str, flags: Flags, start: int, scoped: bool) -> Flags:
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

    def case_literal(self, code: int, text: str, flags: Flags) -> str:
        """A literal character: itself, or under ``i`` the class of it and its case partners."""
        partners = case_partners(code) if flags.i else ()
        return "[" + bracket_char(code) + "".join(map(bracket_char, partners)) + "]" if partners else text

    def run(self) -> str:
        stack: list[tuple[Flags, int]] = []
        flags = Flags()
        while self.pos < len(self.p):
            ch = self.p[self.pos]
            self.pos += 1
            if ch == "\\":
                escaped = self.escape(in_class=False)
                if escaped.literal is not None:
                    self.atom(self.case_literal(escaped.literal, escaped.text, flags))
                else:
                    self.atom(escaped.text, "anchor" if escaped.text in ASSERTIONS.values() else "atom")
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
