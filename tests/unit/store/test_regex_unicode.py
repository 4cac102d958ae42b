"""The Unicode side of the ``$regex`` translation, without a database: the generated tables (their shape, their
agreement with Python's older Unicode data, the regex-syntax version in chromadb's wheel), the translation of each
Unicode case of issue 26, the refusals, and the table generator. tests/store/test_regex_semantics.py runs the same
cases on PostgreSQL against Chroma's own engine."""

from __future__ import annotations

import importlib.util
import mmap
import unicodedata
from itertools import pairwise
from pathlib import Path
from types import ModuleType

import pytest

from vectorops.store.errors import UnsupportedFilter
from vectorops.store.regex import to_postgres
from vectorops.store.regex_case_folding import CASE_FOLD_ORBITS
from vectorops.store.regex_classes import case_fold, case_partners, class_text
from vectorops.store.regex_unicode_classes import (
    PERL_DECIMAL,
    PERL_SPACE,
    PERL_WORD,
    REGEX_SYNTAX_VERSION,
    UNICODE_VERSION,
)

GENERATOR = Path(__file__).resolve().parents[3] / "tools" / "generate_regex_unicode.py"
TABLES = {"PERL_WORD": PERL_WORD, "PERL_DECIMAL": PERL_DECIMAL, "PERL_SPACE": PERL_SPACE}


def _members(ranges: tuple[tuple[int, int], ...]) -> set[int]:
    return {c for lo, hi in ranges for c in range(lo, hi + 1)}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _assigned_in_python(code: int) -> bool:
    """Assigned in Python's Unicode data (14.0 on 3.11), which is older than the tables' 16.0."""
    return unicodedata.category(chr(code)) not in ("Cn", "Cs")


@pytest.mark.parametrize("name", sorted(TABLES))
def test_tables_are_sorted_disjoint_ranges(name: str) -> None:
    ranges = TABLES[name]
    assert ranges and all(lo <= hi for lo, hi in ranges)
    assert all(a[1] + 1 < b[0] for a, b in pairwise(ranges)), "ranges overlap or touch"


def test_case_fold_orbits_partition_characters() -> None:
    seen: set[int] = set()
    for orbit in CASE_FOLD_ORBITS:
        assert len(orbit) >= 2 and list(orbit) == sorted(set(orbit))
        assert not seen & set(orbit)
        seen |= set(orbit)
    assert REGEX_SYNTAX_VERSION == "0.8.10" and UNICODE_VERSION == "16.0.0"


def test_tables_agree_with_python_unicode_data() -> None:
    """Where Python's data knows a character, \\d is exactly Nd, \\w holds every letter, mark, digit, connector
    and letter number, and a character with a one-character lower case shares its case-fold class."""
    # a Python whose Unicode is newer than the tables' knows characters they lack: regenerate them (a failure, no skip)
    assert _version(unicodedata.unidata_version) <= _version(UNICODE_VERSION), unicodedata.unidata_version
    digits, word = _members(PERL_DECIMAL), _members(PERL_WORD)
    orbit_of = {c: orbit for orbit in CASE_FOLD_ORBITS for c in orbit}
    for code in range(0x110000):
        if not _assigned_in_python(code):
            continue
        category = unicodedata.category(chr(code))
        assert (code in digits) == (category == "Nd"), hex(code)
        if category[0] in "LM" or category in ("Nd", "Nl", "Pc"):
            assert code in word, hex(code)
        lower = chr(code).lower()
        if len(lower) == 1 and lower != chr(code):
            assert ord(lower) in orbit_of.get(code, ()), hex(code)
    assert _members(PERL_SPACE) == {*range(0x9, 0xE), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028,
                                    0x2029, 0x202F, 0x205F, 0x3000}
    assert {0x200C, 0x200D, 0x203F, 0x2040, 0x301, 0x1E030} <= word  # Join_Control, Pc, Mn, Unicode 15's Lm


@pytest.mark.parametrize("name", sorted(TABLES))
def test_perl_classes_are_closed_under_case_folding(name: str) -> None:
    """Rust folds \\w, \\d, \\s nowhere because folding changes none of them; neither does it here."""
    assert case_fold(TABLES[name]) == TABLES[name]


def test_tables_come_from_the_regex_syntax_in_chromadb() -> None:
    """The wheel's Rust library names the regex-syntax crate it was built with; a chromadb upgrade that changes it
    means the tables are regenerated (tools/generate_regex_unicode.py)."""
    spec = importlib.util.find_spec("chromadb_rust_bindings")
    assert spec is not None and spec.submodule_search_locations, "chromadb's Rust library is not installed"
    library = next(Path(next(iter(spec.submodule_search_locations))).glob("chromadb_rust_bindings*.so"))
    with library.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        assert data.find(f"regex-syntax-{REGEX_SYNTAX_VERSION}/".encode()) >= 0


# the Unicode cases of issue 26: (?i) literal → its whole simple case-fold class
@pytest.mark.parametrize(("char", "partners"), [
    ("k", "K\u212a"), ("\u212a", "Kk"), ("s", "S\u017f"), ("\u017f", "Ss"), ("ς", "Σσ"), ("σ", "Σς"),
    ("ß", "\u1e9e"), ("\u1e9e", "ß"), ("ω", "Ω\u2126"), ("\u2126", "Ωω"), ("å", "Å\u212b"), ("\u212b", "Åå"),
    ("µ", "Μμ"), ("μ", "µΜ"), ("θ", "Θϑϴ"), ("ϑ", "Θθϴ"), ("ǅ", "Ǆǆ"), ("ι", "\u0345Ι\u1fbe"),
    ("\u1c8a", "\u1c89"),  # Unicode 16
])
def test_case_partners_are_the_simple_case_folding_class(char: str, partners: str) -> None:
    assert case_partners(ord(char)) == tuple(sorted(map(ord, partners)))


@pytest.mark.parametrize("char", ["1", "İ", "ı", "ŉ", "ﬀ", "\u0301"])
def test_characters_without_simple_case_partners(char: str) -> None:
    """İ and ı fold only under Turkic or full folding, ŉ and ﬀ only to several characters: simple folding, as
    Rust applies it, leaves them alone."""
    assert case_partners(ord(char)) == ()
    assert to_postgres(f"(?i){char}") == to_postgres(char)


@pytest.mark.parametrize(("rust", "postgres"), [
    ("(?i)k", "[kK\\u212A]"), ("(?i)K", "[Kk\\u212A]"), ("(?i)\\x{212A}", "[\\u212AKk]"),
    ("(?i)^[^k]$", "^[^Kk\\u212A]$"), ("(?i)[k]", "[kK\\u212A]"), ("(?i)ß", "[\\u00DF\\u1E9E]"),
    ("(?i)[^σ]", "[^\\u03A3\\u03C2\\u03C3]"), ("(?i)[a-c]", "[a-cA-C]"), ("(?i)[a-z]", "[a-zA-Z\\u017F\\u212A]"),
    ("(?i)[[:lower:]]", "[A-Za-z\\u017F\\u212A]"), ("[[:lower:]]", "[a-z]"), ("(?i)^h", "^[hH]"),
    (r"\s", "[\\u0009-\\u000D \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"),
    (r"[\s\S]", "."), (r"[\t-\r]", "[\\u0009-\\u000D]"), ("a**", "(?:a*)*"), ("^*a", "(?:^)*a"),
    ("a{2}{3}", "(?:a{2}){3}"), ("a+?", "a+?"), ("a??", "a??"), ("a???", "(?:a??)?"),
])
def test_translation(rust: str, postgres: str) -> None:
    assert to_postgres(rust) == postgres


def test_unicode_classes_are_explicit_ranges() -> None:
    """\\w, \\d and \\b carry Rust's own tables, not PostgreSQL's collation-dependent classes."""
    word = to_postgres(r"\w")
    assert word == class_text(PERL_WORD) and word.startswith("[0-9A-Z_a-z") and "\\u0300-\\u0374" in word
    assert to_postgres(r"\W") == "[^" + word[1:]
    assert "\\u0660-\\u0669" in to_postgres(r"\d") and "\\y" not in to_postgres(r"\bx\b")
    assert to_postgres(r"\b") == f"(?:(?<={word})(?!{word})|(?<!{word})(?={word}))"
    assert to_postgres(r"\B") == f"(?:(?<={word})(?={word})|(?<!{word})(?!{word}))"
    assert to_postgres(r"\<") == to_postgres(r"\b{start}") == f"(?:(?<!{word})(?={word}))"
    assert to_postgres(r"\>") == to_postgres(r"\b{end}") == f"(?:(?<={word})(?!{word}))"
    assert to_postgres(r"\b{start-half}") == f"(?:(?<!{word}))"
    assert to_postgres(r"\b{end-half}") == f"(?:(?!{word}))"
    assert to_postgres(r"\b{2}") == to_postgres(r"\b") + "{2}"  # a repetition of \b, as in Rust
    assert to_postgres(r"(?i)[\w]") == word  # folding adds nothing to \w


@pytest.mark.parametrize(("pattern", "message"), [
    (r"[^\s\S]", r"$regex '[^\\s\\S]': a class that matches no character at offset 0 is invalid or has no exact "
                 "PostgreSQL equivalent"),
    (r"(?i)[^\w\W]", r"$regex '(?i)[^\\w\\W]': a class that matches no character at offset 4 is invalid or has no "
                     "exact PostgreSQL equivalent"),
    ("(?i-i)k", "$regex '(?i-i)k': the flags 'i-i' (a flag repeated, or a dangling -) at offset 0 is invalid or has "
                "no exact PostgreSQL equivalent"),
    ("a{5,2}", "$regex 'a{5,2}': a repetition range whose start is above its end at offset 1 is invalid or has no "
               "exact PostgreSQL equivalent"),
    (r"\é", "$regex '\\\\é': the escape \\é at offset 0 is invalid or has no exact PostgreSQL equivalent"),
    (r"[\<]", "$regex '[\\\\<]': the assertion \\< inside a class at offset 1 is invalid or has no exact PostgreSQL "
              "equivalent"),
    (r"\x{D800}", "$regex '\\\\x{D800}': invalid escape \\xD800 at offset 0 is invalid or has no exact PostgreSQL "
                  "equivalent"),
    ("*a", "$regex '*a': a repetition with nothing to repeat at offset 0 is invalid or has no exact PostgreSQL "
           "equivalent"),
    ("(?)a", "$regex '(?)a': an empty flag group at offset 0 is invalid or has no exact PostgreSQL equivalent"),
    ("(?P<n>a)(?P<n>b)", "$regex '(?P<n>a)(?P<n>b)': an unclosed, invalid or repeated group name at offset 8 is "
                         "invalid or has no exact PostgreSQL equivalent"),
    (r"\pL", "$regex '\\\\pL': the escape \\p at offset 0 is invalid or has no exact PostgreSQL equivalent"),
    ("[[:^alpha:]]", "$regex '[[:^alpha:]]': the class [:^alpha:] at offset 1 is invalid or has no exact PostgreSQL "
                     "equivalent"),
])
def test_refused_with_the_construct_named(pattern: str, message: str) -> None:
    with pytest.raises(UnsupportedFilter) as caught:
        to_postgres(pattern)
    assert str(caught.value) == message


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_regex_unicode", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_reads_regex_syntax_tables(tmp_path: Path) -> None:
    """The generator on a miniature regex-syntax crate: Rust char literals, ranges, and the all-pairs case-folding
    table turned into classes."""
    generator = _generator()
    tables = tmp_path / "src" / "unicode_tables"
    tables.mkdir(parents=True)
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "regex-syntax"\nversion = "9.9.9"  #:version\n')
    header = "// Unicode version: 99.0.0.\n"
    (tables / "perl_word.rs").write_text(header + "pub const PERL_WORD: &'static [(char, char)] = &[\n"
                                         "    ('0', '9'),\n    ('A', 'Z'),\n    ('\\u{300}', '\\u{36f}'),\n];\n")
    (tables / "perl_decimal.rs").write_text(header + "pub const DECIMAL_NUMBER: &'static [(char, char)] = "
                                            "&[('0', '9')];\n")
    (tables / "perl_space.rs").write_text(header + "pub const BY_NAME: &'static [(&'static str, "
                                          "&'static [(char, char)])] = &[];\n"
                                          "pub const WHITE_SPACE: &'static [(char, char)] = &[('\\t', '\\r'), "
                                          "(' ', ' ')];\n")
    (tables / "case_folding_simple.rs").write_text(
        header + "pub const CASE_FOLDING_SIMPLE: &'static [(char, &'static [char])] = &[\n"
        "    ('K', &['k', '\\u{212a}']),\n    ('k', &['K', '\\u{212a}']),\n    ('\\u{212a}', &['K', 'k']),\n];\n")
    namespace: dict[str, object] = {}
    for text in generator.render(tmp_path).values():
        exec(text, namespace)  # the modules it generated from the files just written
    assert namespace["REGEX_SYNTAX_VERSION"] == "9.9.9" and namespace["UNICODE_VERSION"] == "99.0.0"
    assert namespace["PERL_WORD"] == ((0x30, 0x39), (0x41, 0x5A), (0x300, 0x36F))
    assert namespace["PERL_SPACE"] == ((0x9, 0xD), (0x20, 0x20))
    assert namespace["CASE_FOLD_ORBITS"] == ((0x4B, 0x6B, 0x212A),)
    (tables / "case_folding_simple.rs").write_text(
        header + "pub const CASE_FOLDING_SIMPLE: &'static [(char, &'static [char])] = &[('K', &['k'])];\n")
    with pytest.raises(SystemExit, match="not in exactly one class"):
        generator.render(tmp_path)
