"""``$regex`` on PostgreSQL matches what Chroma's own engine (Rust's ``regex`` crate, inside chromadb) matches, for
the Unicode cases of issue 26: simple case folding under ``(?i)`` (Kelvin sign, long s, final sigma, ẞ, Ohm and
Ångström signs, micro sign, theta symbol), in literals, classes, negated classes and ranges; Unicode ``\\w``
(combining marks, joiners, connectors), ``\\d``, ``\\s`` and word boundaries. Every case runs on both backends on
the same documents; the Unicode tables are checked against Chroma for every character; generated patterns are
compared, and a pattern the store refuses must be one Chroma's engine refuses too."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest
from chromadb.errors import InvalidArgumentError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vectorops.store import UnsupportedFilter
from vectorops.store.regex_case_folding import CASE_FOLD_ORBITS
from vectorops.store.regex_unicode_classes import PERL_DECIMAL, PERL_SPACE, PERL_WORD

# the case-fold classes of issue 26 (Unicode simple case folding, CaseFolding.txt statuses C and S)
ORBITS = ["kK\u212a", "sS\u017f", "σςΣ", "ß\u1e9e", "ωΩ\u2126", "åÅ\u212b", "μµΜ", "θϑΘϴ", "ιΙ\u0345\u1fbe",
          "ǆǅǄ", "\u1c8a\u1c89"]
TEXTS = ["e\u0301", "x\u0301y", "cafe\u0301 au lait", "e", "e ", "a\u200db", "a\u200cb", "a\u203fb", "a_b", "a-b",
         "\u0663\u0664", "\u0967", "\uff11", "²", "Ⅷ", "42", "a\u00a0b", "a\u2003b", "a\u3000b", "a\u0085b",
         "a\u200bb", "a b", "a\tb", "a\nb", "İ", "ı", "i", "I", "ŉ", "ﬀ", "Kelvin 5\u212a", "straße", "STRASSE",
         "ΟΔΥΣΣΕΥΣ", "ὀδυσσεύς", "\U0001e030", "日本語", "x", "K9", "Ωmega", "1\u0301"]
DOCUMENTS = sorted({*(c for orbit in ORBITS for c in orbit), *TEXTS})


@pytest.fixture(scope="module")
def pair(stores: dict[str, Any]) -> dict[str, Any]:
    """The documents in one collection on each backend."""
    name = f"regex-{uuid.uuid4().hex[:8]}"
    cols = {backend: store.get_or_create_collection(name) for backend, store in stores.items()}
    for col in cols.values():
        col.add(ids=[f"d{i:03d}" for i in range(len(DOCUMENTS))], documents=DOCUMENTS,
                embeddings=np.ones((len(DOCUMENTS), 3), np.float32))
    return cols


def _documents(col: Any, pattern: str, op: str = "$regex") -> set[str]:
    got = col.get(where_document={op: pattern}, include=["documents"])
    return set(got["documents"])


def _same(pair: dict[str, Any], pattern: str, op: str = "$regex") -> set[str]:
    """The documents ``pattern`` matches, the same on both backends."""
    chroma, postgres = _documents(pair["chroma"], pattern, op), _documents(pair["postgres"], pattern, op)
    assert postgres == chroma, (pattern, "only Chroma:", sorted(chroma - postgres), "only PostgreSQL:",
                                sorted(postgres - chroma))
    return postgres


@pytest.mark.parametrize("orbit", ORBITS)
def test_case_insensitive_literal_matches_the_whole_case_fold_class(pair: dict[str, Any], orbit: str) -> None:
    for char in orbit:
        assert {d for d in _same(pair, f"(?i)^{char}$") if len(d) == 1} == set(orbit), char
        assert _same(pair, f"^{char}$") == {char}


@pytest.mark.parametrize("orbit", ORBITS)
def test_case_insensitive_negated_class_excludes_the_whole_class(pair: dict[str, Any], orbit: str) -> None:
    for char in orbit:
        matched = _same(pair, f"(?i)^[^{char}]$")
        assert not matched & set(orbit) and "x" in matched, char
        assert set(orbit) - {char} <= _same(pair, f"^[^{char}]$")  # without (?i), only the character itself


def test_case_insensitive_ranges_fold_every_member(pair: dict[str, Any]) -> None:
    assert {"\u212a", "\u017f", "k", "K", "s", "S", "x", "e", "i", "I"} <= _same(pair, "(?i)^[a-z]$")
    assert not {"\u212a", "\u017f"} & _same(pair, "(?i)^[^a-z]$")
    assert {"\u212a", "\u017f"} <= _same(pair, "(?i)^[[:lower:]]$") and "\u212a" not in _same(pair, "^[[:lower:]]$")
    assert set("ςϑµΩ\u2126ϴΣΘ\u1fbe\u0345") <= _same(pair, "(?i)^[α-ω]$")
    assert "\u212b" in _same(pair, "(?i)^[à-ÿ]$") and "\u1e9e" in _same(pair, "(?i)^[ß-ß]$")
    assert {"ΟΔΥΣΣΕΥΣ", "ὀδυσσεύς"} <= _same(pair, "(?i)δυσσ") and "ὀδυσσεύς" in _same(pair, "(?i)ΣΣΕ\u038eΣ$")
    assert _same(pair, "(?i)STRASSE") == {"STRASSE"}  # full folding (ß → ss) is not Rust's
    assert "straße" in _same(pair, "(?i)STRA\u1e9eE")


def test_word_class_holds_marks_joiners_and_connectors(pair: dict[str, Any]) -> None:
    words = _same(pair, r"^\w+$")
    assert {"e\u0301", "x\u0301y", "a\u200db", "a\u200cb", "a\u203fb", "a_b", "\u0663\u0664", "\U0001e030",
            "1\u0301", "\u0345"} <= words
    assert not {"a-b", "a b", "²", "a\u00a0b"} & words
    assert not {"e\u0301", "a\u200db", "a\u203fb"} & _same(pair, r"\W")
    assert {"e\u0301", "x\u0301y"} <= _same(pair, r"^[\w]+$") - _same(pair, r"[^\w]")


def test_digits_are_decimal_numbers_of_every_script(pair: dict[str, Any]) -> None:
    assert {"\u0663\u0664", "\u0967", "\uff11", "42"} <= _same(pair, r"^\d+$")
    assert not {"²", "Ⅷ"} & _same(pair, r"\d")
    assert "\u0663\u0664" not in _same(pair, r"\D")


def test_spaces_are_unicode_white_space(pair: dict[str, Any]) -> None:
    assert _same(pair, r"^a\sb$") == {"a\u00a0b", "a\u2003b", "a\u3000b", "a\u0085b", "a b", "a\tb", "a\nb"}
    assert "a\u200bb" in _same(pair, r"^a\Sb$")  # ZERO WIDTH SPACE is not White_Space


def test_word_boundaries_see_combining_marks(pair: dict[str, Any]) -> None:
    assert "e\u0301" not in _same(pair, r"e\b") and "e " in _same(pair, r"e\b")
    assert "e\u0301" in _same(pair, r"e\B") and "e\u0301" in _same(pair, "\u0301\\b")
    assert "cafe\u0301 au lait" in _same(pair, "\\bcafe\u0301\\b") and "cafe\u0301 au lait" not in _same(
        pair, r"\bcafe\b")
    assert "x" in _same(pair, r"^\w\b{end-half}") and "x\u0301y" not in _same(pair, r"^\w\b{end-half}")
    assert "x" in _same(pair, r"x\>") and "x\u0301y" not in _same(pair, r"x\>")
    assert "a\u200db" not in _same(pair, r"a\b") and "a-b" in _same(pair, r"a\b{end}")
    assert {"e\u0301", "1\u0301"} <= _same(pair, r"\<\w+\>$") and not _same(pair, r"\b{start}\u0301")
    assert _same(pair, r"\b+a") == _same(pair, r"\ba")  # Rust repeats an assertion
    assert not _same(pair, r"a\b{start-half}")


def test_not_regex_is_the_complement(pair: dict[str, Any]) -> None:
    for pattern in ("(?i)k", r"^\w+$", r"e\b", r"\d"):
        assert _same(pair, pattern, "$not_regex") == set(DOCUMENTS) - _same(pair, pattern)


def _chroma_engine(col: Any, pattern: str, op: str) -> set[str] | None:
    """What Chroma's engine itself answers (no translation in front of it); ``None`` when it refuses."""
    try:
        return set(col.chroma.get(where_document={op: pattern}, include=["documents"])["documents"])
    except InvalidArgumentError:
        return None


CHARS = ["k", "K", "\u212a", "s", "\u017f", "σ", "ς", "ß", "\u1e9e", "Ω", "\u2126", "å", "\u212b", "µ", "μ", "θ",
         "ϑ", "ι", "\u0345", "e", "a", "b", "x", "\u0301", "_", " ", "1", "\u0663", "-", "İ", "ı"]
CLASS_ITEMS = [*(c for c in CHARS if c != "-"), r"\w", r"\W", r"\d", r"\D", r"\s", r"\S", "[:lower:]",
               "[:upper:]", "[:alpha:]", "a-z", "A-Z", "k-s", "α-ω", "Α-Ω", "\u0300-\u036f", "0-9", "\u212a-\u212b",
               r"\x{17F}", r"\u00B5"]
ESCAPES = [r"\w", r"\W", r"\d", r"\D", r"\s", r"\S", r"\b", r"\B", r"\<", r"\>", r"\b{start}", r"\b{end}",
           r"\b{start-half}", r"\b{end-half}", r"\x{212A}", r"\u017F", ".", "^", "$", r"\A", r"\z"]
classes = st.builds(lambda negated, items: "[" + "^" * negated + "".join(items) + "]", st.booleans(),
                    st.lists(st.sampled_from(CLASS_ITEMS), min_size=1, max_size=3))
pieces = st.builds(lambda atom, repeat: atom + repeat,
                   st.one_of(st.sampled_from(CHARS), st.sampled_from(ESCAPES), classes),
                   st.sampled_from(["", "", "", "+", "*", "?", "{1,2}", "+?"]))
branches = st.lists(pieces, min_size=1, max_size=4).map("".join)
patterns = st.builds(lambda flags, body, grouped: flags + (f"(?:{body})+" if grouped else body),
                     st.sampled_from(["", "(?i)", "(?i)", "(?m)", "(?s)", "(?im)"]),
                     st.lists(branches, min_size=1, max_size=2).map("|".join), st.booleans())


@settings(max_examples=300, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pattern=patterns, op=st.sampled_from(["$regex", "$regex", "$not_regex"]))
def test_generated_patterns_match_chromas_engine(pair: dict[str, Any], pattern: str, op: str) -> None:
    """Chroma's engine is the reference: the same documents, or a refusal where it refuses too."""
    want = _chroma_engine(pair["chroma"], pattern, op)
    try:
        got = _documents(pair["postgres"], pattern, op)
    except UnsupportedFilter:
        assert want is None, f"{pattern!r} is refused, but Chroma answers it"
        return
    assert want is not None, f"{pattern!r}: Chroma refuses it, the store answers"
    assert got == want, (pattern, op, "only Chroma:", sorted(want - got), "only PostgreSQL:", sorted(got - want))


def _signature_documents(block: int = 0x10000) -> dict[str, str]:
    """Every character but NUL and the surrogates, once: per block of code points, one document for each
    combination of \\w / \\d / \\s membership (by the store's tables) that occurs in it."""
    member = [bytearray(0x110000) for _ in range(3)]
    for flags, table in zip(member, (PERL_WORD, PERL_DECIMAL, PERL_SPACE), strict=True):
        for lo, hi in table:
            flags[lo:hi + 1] = b"\x01" * (hi - lo + 1)
    docs: dict[str, list[str]] = {}
    for code in range(1, 0x110000):
        if not 0xD800 <= code <= 0xDFFF:
            key = f"{code // block:02x}-{member[0][code]}{member[1][code]}{member[2][code]}"
            docs.setdefault(key, []).append(chr(code))
    return {key: "".join(chars) for key, chars in docs.items()}


def test_unicode_classes_agree_with_chroma_for_every_character(stores: dict[str, Any]) -> None:
    """``^\\w+$`` and ``^\\W+$`` (and the same for \\d, \\s) over documents that hold every character: both
    backends select exactly the documents the tables say, so the tables are Chroma's, character for character."""
    docs = _signature_documents()
    name = f"regex-classes-{uuid.uuid4().hex[:8]}"
    cols = {backend: store.get_or_create_collection(name) for backend, store in stores.items()}
    for col in cols.values():
        col.add(ids=list(docs), documents=list(docs.values()), embeddings=np.ones((len(docs), 3), np.float32))
    for position, letter in enumerate("wds"):
        for pattern, flag in ((rf"^\{letter}+$", "1"), (rf"^\{letter.upper()}+$", "0")):
            want = {key for key in docs if key[3 + position] == flag}
            for backend, col in cols.items():
                got = set(col.get(where_document={"$regex": pattern}, include=[])["ids"])
                assert got == want, (backend, pattern, sorted(got ^ want)[:5])


def test_case_folding_agrees_with_chroma_for_every_character(stores: dict[str, Any]) -> None:
    """Each case-fold class gets a number; for each bit of the number (and of its complement), ``(?i)^[...]$`` over
    one member of every class with that bit must select exactly those classes' members. Any class Chroma splits,
    merges or extends differently changes some character's answers; the documents also hold every character Python
    knows to have a case mapping."""
    numbered = {char: index + 1 for index, orbit in enumerate(CASE_FOLD_ORBITS) for char in orbit}
    cased = {c for c in map(chr, range(0x110000)) if not 0xD800 <= ord(c) <= 0xDFFF and (c.lower() != c or
                                                                                        c.upper() != c)}
    chars = sorted({*map(chr, numbered), *(c for c in cased), *(m for c in cased for m in (c.lower(), c.upper())
                                                                if len(m) == 1)})
    name = f"regex-fold-{uuid.uuid4().hex[:8]}"
    cols = {backend: store.get_or_create_collection(name) for backend, store in stores.items()}
    ids = [f"u{ord(c):06x}" for c in chars]
    for col in cols.values():
        col.add(ids=ids, documents=chars, embeddings=np.ones((len(chars), 3), np.float32))
    bits = max(numbered.values()).bit_length()
    for bit in range(bits):
        for wanted in (1, 0):
            chosen = [orbit for index, orbit in enumerate(CASE_FOLD_ORBITS) if (index + 1) >> bit & 1 == wanted]
            pattern = "(?i)^[" + "".join(f"\\x{{{orbit[-1]:X}}}" for orbit in chosen) + "]$"
            want = {f"u{c:06x}" for orbit in chosen for c in orbit}
            for backend, col in cols.items():
                got = set(col.get(where_document={"$regex": pattern}, include=[])["ids"])
                assert got == want, (backend, bit, wanted, sorted(got ^ want)[:5])
