"""Lexical matching that forgives OCR: what a person types against what an engine read.

Both sides are *folded* before they are compared: accents dropped (Müller = Muller),
case ignored, characters OCR confuses made one (I l 1 | !, O 0, B 8 ß ss, S 5, Z 2), and
everything that is not a letter or a digit dropped, so lost or extra spaces and
punctuation do not matter (``INVOlCENo.2024-0173`` matches "Invoice No. 2024-0173").
A query matches a reading when its folded form, or each of its words, appears in the
folded reading: exactly, or nearly (an edit distance within a fifth of its length), so
parts of words and codes match too ("RE16" finds "RE16 TGK").

Scores: 1.0 for a match before the confusable characters are made one, 0.97 after, at most
0.95 for a near match; ``MIN_SCORE`` is the least that counts.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Sequence

EXACT, FOLDED, NEAR = 1.0, 0.97, 0.95
MIN_SCORE = 0.8 * NEAR  # a near match of at least 80 % similarity
MIN_NEAR_CHARS = 4  # shorter words match exactly or not at all
_CONFUSABLE = str.maketrans({"i": "l", "1": "l", "|": "l", "!": "l", "0": "o", "8": "b", "5": "s", "2": "z"})


def plain(text: str) -> str:
    """Accents dropped, case folded, only letters and digits kept."""
    text = text.replace("ß", "ss").replace("ẞ", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed.casefold() if c.isalnum() and not unicodedata.combining(c))


def fold(text: str) -> str:
    """``plain``, with the characters OCR confuses made one: ß as B, which is how OCR reads
    it, and so ss as well (what people type for ß)."""
    return plain(text.replace("ß", "B").replace("ẞ", "B")).translate(_CONFUSABLE).replace("ss", "b")


def query_words(query: str) -> list[str]:
    """The folded words of a query, longest first (the candidate search keys on them)."""
    words = {fold(word) for word in query.split()}
    return sorted((w for w in words if w), key=len, reverse=True)


@dataclass
class TextMatch:
    score: float
    lines: list[int]  # which lines of the reading hold the match


def _near(needle: str, haystack: str) -> tuple[float, int, int]:
    """(similarity 0..1, start, end in ``haystack``) of the best alignment of ``needle``."""
    from rapidfuzz import fuzz

    found = fuzz.partial_ratio_alignment(needle, haystack)
    if found is None:
        return 0.0, 0, 0
    return found.score / 100.0, found.dest_start, found.dest_end


def _part_score(needle_plain: str, needle: str, reading_plain: str, reading: str) -> tuple[float, int, int]:
    """Score of one folded needle in the folded reading, and where it lies in ``reading``."""
    at = reading.find(needle)
    if at >= 0:
        return (EXACT if needle_plain and needle_plain in reading_plain else FOLDED), at, at + len(needle)
    if len(needle) < MIN_NEAR_CHARS:
        return 0.0, 0, 0
    similarity, start, end = _near(needle, reading)
    return NEAR * similarity, start, end


def match_lines(query: str, lines: Sequence[str]) -> TextMatch | None:
    """How well ``query`` matches a reading (its lines), and which lines hold it; None when
    it does not (below ``MIN_SCORE``). The whole query, spaces dropped, or each of its words
    apart (in any order, anywhere) must be found."""
    folded_lines = [fold(line) for line in lines]
    reading = "".join(folded_lines)
    reading_plain = "".join(plain(line) for line in lines)
    phrase = fold(query)
    if not phrase or not reading:
        return None
    best = _part_score(plain(query), phrase, reading_plain, reading)
    spans = [best[1:]]
    words = query.split()
    if len(words) > 1:
        parts = [_part_score(plain(w), fold(w), reading_plain, reading) for w in words if fold(w)]
        worst = min(score for score, _, _ in parts)
        if worst * 0.99 > best[0]:  # the words, apart, match better than the phrase
            best, spans = (worst * 0.99, 0, 0), [(start, end) for _, start, end in parts]
    if best[0] < MIN_SCORE:
        return None
    return TextMatch(score=round(best[0], 4), lines=_lines_at(folded_lines, spans))


def _lines_at(folded_lines: list[str], spans: list[tuple[int, int]]) -> list[int]:
    """Indexes of the lines that overlap any of the spans of the joined reading."""
    held, start = [], 0
    for number, line in enumerate(folded_lines):
        end = start + len(line)
        if line and any(s < end and e > start for s, e in spans):
            held.append(number)
        start = end
    return held
