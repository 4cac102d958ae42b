"""Regenerate ``plugins/vectorops/store/regex_unicode_classes.py`` (``\\w``, ``\\d``, ``\\s``) and
``plugins/vectorops/store/regex_case_folding.py`` (simple case folding) from the Unicode tables of Rust's
``regex-syntax`` crate.

Chroma matches ``$regex`` with Rust's ``regex`` crate; its Unicode data (``\\w``, ``\\d``, ``\\s`` and simple case
folding) lives in ``regex-syntax/src/unicode_tables/``, generated there by ``ucd-generate`` from the Unicode
Character Database. Reading those files, not Python's ``unicodedata`` (Unicode 14.0 on Python 3.11, and without
simple case folding), gives the store exactly the tables Chroma's engine uses.

Usage, with the ``regex-syntax`` version that Chroma's wheel is built with (``strings
chromadb_rust_bindings.abi3.so | grep -o 'regex-syntax-[0-9.]*'``; 0.8.10 for chromadb 1.5.9)::

    git clone https://github.com/rust-lang/regex && git -C regex checkout regex-syntax-0.8.10
    python tools/generate_regex_unicode.py regex/regex-syntax

or a crate unpacked by cargo (``~/.cargo/registry/src/*/regex-syntax-0.8.10``). ``--check`` compares instead of
writing (exit status 1 when a committed module differs).
"""

from __future__ import annotations

import argparse
import re
import sys
from itertools import pairwise
from pathlib import Path

STORE = Path(__file__).resolve().parents[1] / "plugins" / "vectorops" / "store"
CLASSES_OUTPUT = STORE / "regex_unicode_classes.py"
CASE_FOLDING_OUTPUT = STORE / "regex_case_folding.py"
_CHAR = r"'(?:\\u\{[0-9a-fA-F]+\}|\\[tnr0'\\\"]|[^'\\])'"
_RANGE = re.compile(rf"\(\s*({_CHAR})\s*,\s*({_CHAR})\s*\)")
_FOLD = re.compile(rf"\(\s*({_CHAR})\s*,\s*&\[([^\]]*)\]\s*\)")
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "0": "\0", "'": "'", "\\": "\\", '"': '"'}


def rust_char(literal: str) -> int:
    """The code point of a Rust ``char`` literal (``'a'``, ``'\\u{85}'``, ``'\\t'``)."""
    body = literal[1:-1]
    if body.startswith("\\u{"):
        return int(body[3:-1], 16)
    if body.startswith("\\"):
        return ord(_ESCAPES[body[1]])
    return ord(body)


def _table(text: str, name: str) -> str:
    start = text.index(f"pub const {name}:")
    return text[start:text.index("];", start)]


def unicode_version(text: str) -> str:
    found = re.search(r"^// Unicode version: ([0-9.]+)\.$", text, re.MULTILINE)
    if not found:
        raise SystemExit("no '// Unicode version' line in a table file")
    return found.group(1)


def ranges(text: str, name: str) -> list[tuple[int, int]]:
    """The ``(char, char)`` ranges of table ``name``, checked sorted and disjoint."""
    out = [(rust_char(a), rust_char(b)) for a, b in _RANGE.findall(_table(text, name))]
    if not out or any(lo > hi for lo, hi in out) or any(a[1] >= b[0] for a, b in pairwise(out)):
        raise SystemExit(f"{name}: not a sorted list of disjoint ranges")
    return out


def fold_orbits(text: str) -> list[tuple[int, ...]]:
    """The equivalence classes of simple case folding, from the all-pairs table (each char → every other char of
    its class), checked to be a partition."""
    mapping: dict[int, set[int]] = {}
    for key, values in _FOLD.findall(_table(text, "CASE_FOLDING_SIMPLE")):
        mapping[rust_char(key)] = {rust_char(v) for v in re.findall(_CHAR, values)}
    orbits: dict[int, tuple[int, ...]] = {}
    for key, others in mapping.items():
        orbit = tuple(sorted({key, *others}))
        for member in orbit:
            if orbits.setdefault(member, orbit) != orbit or mapping.get(member, set()) != set(orbit) - {member}:
                raise SystemExit(f"CASE_FOLDING_SIMPLE: U+{member:04X} is not in exactly one class")
    return sorted(set(orbits.values()))


def _lines(items: list[str], indent: str = "    ", width: int = 120) -> str:
    lines, line = [], indent
    for item in items:
        if len(line) + len(item) + 2 > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += item + ", "
    lines.append(line.rstrip())
    return "\n".join(lines)


def _hex_ranges(values: list[tuple[int, int]]) -> str:
    return _lines([f"(0x{lo:X}, 0x{hi:X})" for lo, hi in values])


def render(crate: Path) -> dict[Path, str]:
    """The text of each generated module (by its path) for the ``regex-syntax`` crate at ``crate``."""
    tables = crate / "src" / "unicode_tables"
    texts = {name: (tables / f"{name}.rs").read_text(encoding="utf-8")
             for name in ("perl_word", "perl_decimal", "perl_space", "case_folding_simple")}
    versions = {unicode_version(text) for text in texts.values()}
    if len(versions) != 1:
        raise SystemExit(f"the table files disagree on the Unicode version: {sorted(versions)}")
    crate_version = re.search(r'^version\s*=\s*"([^"]+)"', (crate / "Cargo.toml").read_text(), re.MULTILINE)
    if not crate_version:
        raise SystemExit(f"no version in {crate / 'Cargo.toml'}")
    orbits = fold_orbits(texts["case_folding_simple"])
    orbit_items = ["(" + ", ".join(f"0x{c:X}" for c in orbit) + ")" for orbit in orbits]
    unicode = versions.pop()
    classes = f'''"""Rust ``regex``'s Unicode ``\\\\w``, ``\\\\d`` and ``\\\\s``, as Chroma's ``$regex`` uses them.

GENERATED by ``tools/generate_regex_unicode.py`` from ``regex-syntax {crate_version.group(1)}``
(``src/unicode_tables``, Unicode {unicode}); do not edit. Ranges are inclusive code point pairs, sorted and
disjoint.
"""

from __future__ import annotations

REGEX_SYNTAX_VERSION = "{crate_version.group(1)}"
UNICODE_VERSION = "{unicode_version(texts["perl_word"])}"

#: ``\\w``: Alphabetic, Mark, Decimal_Number, Connector_Punctuation, Join_Control (``perl_word.rs``)
PERL_WORD: tuple[tuple[int, int], ...] = (
{_hex_ranges(ranges(texts["perl_word"], "PERL_WORD"))}
)

#: ``\\d``: Decimal_Number (``perl_decimal.rs``)
PERL_DECIMAL: tuple[tuple[int, int], ...] = (
{_hex_ranges(ranges(texts["perl_decimal"], "DECIMAL_NUMBER"))}
)

#: ``\\s``: White_Space (``perl_space.rs``)
PERL_SPACE: tuple[tuple[int, int], ...] = (
{_hex_ranges(ranges(texts["perl_space"], "WHITE_SPACE"))}
)
'''
    case_folding = f'''"""Rust ``regex``'s Unicode simple case folding, as Chroma's ``$regex`` uses it for ``(?i)``.

GENERATED by ``tools/generate_regex_unicode.py`` from ``regex-syntax {crate_version.group(1)}``
(``src/unicode_tables``, Unicode {unicode}); do not edit.
"""

from __future__ import annotations

#: the equivalence classes of Unicode simple case folding (CaseFolding.txt, statuses C and S) with more than one
#: member, each sorted (``case_folding_simple.rs``)
CASE_FOLD_ORBITS: tuple[tuple[int, ...], ...] = (
{_lines(orbit_items)}
)
'''
    return {CLASSES_OUTPUT: classes, CASE_FOLDING_OUTPUT: case_folding}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("crate", type=Path, help="the regex-syntax crate's directory (with Cargo.toml and src/)")
    parser.add_argument("--check", action="store_true", help="compare with the committed modules, write nothing")
    args = parser.parse_args(argv)
    outputs = render(args.crate)
    if args.check:
        differing = 0
        for path, text in outputs.items():
            same = path.read_text(encoding="utf-8") == text
            differing += not same
            print(f"{path}: {'up to date' if same else 'differs'}")
        return 1 if differing else 0
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
