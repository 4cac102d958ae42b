"""Chroma's ``$regex`` (Rust ``regex`` crate syntax) translated to a PostgreSQL ARE that matches the same texts.

Only whether a document matches counts, so greediness does not matter. What the translation does:

- ``.`` matches anything but ``\\n`` (``[^\\n]``) unless the ``s`` flag is on; ``^`` / ``$`` are the text's ends,
  or line ends under ``m`` (as look-arounds); ``i`` turns letters into both cases (``[aA]``).
- ``\\b`` / ``\\B`` / ``\\<`` / ``\\>`` / ``\\z`` become ``\\y`` / ``\\Y`` / ``\\m`` / ``\\M`` / ``\\Z``; ``\\xHH``,
  ``\\x{H..}``, ``\\u{H..}`` become ``\\u`` / ``\\U`` escapes; named groups become plain groups.
- POSIX classes (ASCII-only in Rust) become explicit ASCII ranges; ``\\d \\s \\w`` stay and are evaluated under a
  Unicode collation (``pg_unicode_fast``), as Rust's are Unicode-aware.

Anything without an exact counterpart raises :class:`UnsupportedFilter`: look-around and back-references (Rust has
neither), ``\\p{..}`` classes, nested classes and class set operations, the ``x``, ``R`` and ``-u`` flags,
repetition counts above 255 (PostgreSQL's limit).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from vectorops.store.errors import UnsupportedFilter

_PG_META = set("^$.[]()|*+?{}\\")
_SIMPLE_ESCAPES = {"n": "\\n", "t": "\\t", "r": "\\r", "f": "\\f", "v": "\\v", "a": "\\a"}
_ASSERTIONS = {"b": "\\y", "B": "\\Y", "A": "\\A", "z": "\\Z", "<": "\\m", ">": "\\M"}
_PERL_CLASSES = "dDsSwW"
_PUNCT = "!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~"
_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\u0000-\\u007F", "blank": "\\t ",
    "cntrl": "\\u0000-\\u001F\\u007F", "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~",
    "punct": _PUNCT, "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
MAX_REPEAT = 255


@dataclass(frozen=True)
class _Flags:
    i: bool = False
    m: bool = False
    s: bool = False


def _unsupported(pattern: str, pos: int, what: str) -> UnsupportedFilter:
    return UnsupportedFilter(f"$regex {pattern!r}: {what} at offset {pos} is invalid or has no exact PostgreSQL "
                             "equivalent")


def _literal(ch: str) -> str:
    return "\\" + ch if ch in _PG_META else ch


def _class_literal(ch: str) -> str:
    return "\\" + ch if ch in "]\\[^-" else ch


def _cases(ch: str) -> list[str]:
    """``ch`` and its other-case forms that are single characters."""
    found = [ch]
    for other in (ch.lower(), ch.upper(), ch.swapcase()):
        if len(other) == 1 and other not in found:
            found.append(other)
    return found


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.pos = 0
        self.out: list[str] = []

    def error(self, what: str, at: int | None = None) -> UnsupportedFilter:
        return _unsupported(self.p, self.pos if at is None else at, what)

    def peek(self, k: int = 0) -> str:
        i = self.pos + k
        return self.p[i] if i < len(self.p) else ""

    def hex_escape(self) -> str:
        """After ``\\x`` or ``\\u`` / ``\\U``: the code point as a PostgreSQL ``\\U`` escape."""
        kind = self.p[self.pos - 1]
        if self.peek() == "{":
            end = self.p.find("}", self.pos)
            digits = self.p[self.pos + 1:end] if end > 0 else ""
            self.pos = end + 1 if end > 0 else self.pos
        else:
            width = {"x": 2, "u": 4, "U": 8}[kind]
            digits = self.p[self.pos:self.pos + width]
            self.pos += width
        try:
            code = int(digits, 16)
            if not digits or code > 0x10FFFF:
                raise ValueError(digits)
        except ValueError:
            raise self.error(f"invalid escape \\{kind}{digits}") from None
        return f"\\U{code:08X}"

    def escape(self, in_class: bool) -> tuple[str, str | None]:
        """Translate the escape after a backslash: (PostgreSQL text, the literal character or ``None``)."""
        start = self.pos - 1
        ch = self.peek()
        if not ch:
            raise self.error("a trailing backslash", start)
        self.pos += 1
        if ch in ("x", "u", "U"):
            text = self.hex_escape()
            return text, chr(int(text[2:], 16))
        if ch in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[ch], None
        if ch in _PERL_CLASSES:
            if in_class and ch.isupper():
                raise self.error(f"\\{ch} inside a class", start)
            return "\\" + ch, None
        if not in_class and ch in _ASSERTIONS:
            if ch == "b" and self.peek() == "{":
                end = self.p.find("}", self.pos)
                name = self.p[self.pos + 1:end] if end > 0 else ""
                if name not in ("start", "end"):
                    raise self.error(f"\\b{{{name}}}", start)
                self.pos = end + 1
                return ("\\m" if name == "start" else "\\M"), None
            return _ASSERTIONS[ch], None
        if ch.isalnum():
            raise self.error(f"the escape \\{ch}", start)
        return ("\\" + ch if in_class or ch in _PG_META else ch), ch

    def char_class(self, flags: _Flags) -> None:
        start = self.pos
        self.pos += 1
        negated = self.peek() == "^"
        if negated:
            self.pos += 1
        items: list[str] = []
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
                    items.append(_POSIX[name] if not flags.i or name not in ("lower", "upper") else "A-Za-z")
                    self.pos = end + 2
                    continue
                raise self.error("a nested class or set operation")
            if self.p.startswith(("&&", "--", "~~"), self.pos):
                raise self.error("a class set operation")
            low_text, low = self.class_atom()
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.pos += 1
                high_text, high = self.class_atom()
                if low is None or high is None or low > high:
                    raise self.error("an invalid class range", start)
                items.append(self.case_range(low, high, flags) if flags.i else f"{low_text}-{high_text}")
            elif low is not None and flags.i:
                items.extend(_class_literal(c) for c in _cases(low))
            else:
                items.append(low_text)
        self.out.append("[" + ("^" if negated else "") + "".join(items) + "]")

    def class_atom(self) -> tuple[str, str | None]:
        ch = self.peek()
        self.pos += 1
        if ch == "\\":
            return self.escape(in_class=True)
        return _class_literal(ch), ch

    def case_range(self, low: str, high: str, flags: _Flags) -> str:
        text = f"{_class_literal(low)}-{_class_literal(high)}"
        if ("a" <= low <= high <= "z") or ("A" <= low <= high <= "Z"):
            other = f"{_class_literal(low.swapcase())}-{_class_literal(high.swapcase())}"
            return text + other
        if any(c.isalpha() for c in map(chr, range(ord(low), min(ord(high), ord(low) + 4096) + 1))):
            raise self.error("a case-insensitive range other than a-z / A-Z")
        return text

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
            if end < 0:
                raise self.error("an unclosed group name", start)
            self.pos = end + 1
            self.out.append("(")
            return flags, True
        end = min((i for i in (self.p.find(":", self.pos), self.p.find(")", self.pos)) if i >= 0), default=-1)
        if end < 0:
            raise self.error("an unclosed group", start)
        spec = self.p[self.pos:end]
        inner = self.apply_flags(spec, flags, start)
        self.pos = end + 1
        if self.p[end] == ":":
            self.out.append("(?:")
            return inner, True
        return inner, False

    def apply_flags(self, spec: str, flags: _Flags, start: int) -> _Flags:
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

    def repetition(self) -> None:
        start = self.pos
        end = self.p.find("}", self.pos)
        body = self.p[self.pos + 1:end] if end > 0 else ""
        parts = body.split(",")
        if end < 0 or len(parts) > 2 or not parts[0].isdigit() or (len(parts) == 2 and parts[1]
                                                                    and not parts[1].isdigit()):
            raise self.error("an invalid repetition", start)
        if any(int(x) > MAX_REPEAT for x in parts if x):
            raise self.error(f"a repetition count above {MAX_REPEAT}", start)
        self.pos = end + 1
        self.out.append("{" + body + "}")

    def run(self) -> str:
        stack: list[_Flags] = []
        flags = _Flags()
        while self.pos < len(self.p):
            ch = self.p[self.pos]
            self.pos += 1
            if ch == "\\":
                text, literal = self.escape(in_class=False)
                if literal is not None and flags.i and len(_cases(literal)) > 1:
                    self.out.append("[" + "".join(_class_literal(c) for c in _cases(literal)) + "]")
                else:
                    self.out.append(text)
            elif ch == "[":
                self.pos -= 1
                self.char_class(flags)
            elif ch == "(":
                inner, opened = self.group_open(flags)
                if opened:
                    stack.append(flags)
                flags = inner
            elif ch == ")":
                if not stack:
                    raise self.error("an unmatched )", self.pos - 1)
                flags = stack.pop()
                self.out.append(")")
            elif ch == ".":
                self.out.append("." if flags.s else "[^\\n]")
            elif ch == "^":
                self.out.append("(?:^|(?<=\\n))" if flags.m else "^")
            elif ch == "$":
                self.out.append("(?:$|(?=\\n))" if flags.m else "$")
            elif ch in "|*+?":
                self.out.append(ch)
            elif ch == "{":
                self.pos -= 1
                self.repetition()
            elif flags.i and len(_cases(ch)) > 1:
                self.out.append("[" + "".join(_class_literal(c) for c in _cases(ch)) + "]")
            else:
                self.out.append(_literal(ch))
        if stack:
            raise self.error("an unclosed group", len(self.p))
        return "".join(self.out)


def to_postgres(pattern: str) -> str:
    """The PostgreSQL ARE for a Chroma ``$regex`` pattern.

    :raises UnsupportedFilter: naming the construct that has no exact PostgreSQL equivalent.
    """
    return _Translator(pattern).run()
