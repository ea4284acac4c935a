"""Searching what OCR read the way a person types: case, accents, OCR's confusions, lost or
extra spaces and parts of words or codes all still match; unrelated text does not."""

import pytest

from retrieval.ocr.matching import EXACT, FOLDED, MIN_SCORE, fold, match_lines, plain, query_words

READ = ["INVOlCENo.2024-0173", "Total due: 1,250.00 EUR", "Café Muller, HauptstraBe 5", "RE16TGK"]


def test_folding_forgets_what_ocr_and_typing_change():
    assert plain("Café Müller, Haupt-Straße 5") == "cafemullerhauptstrasse5"
    assert fold("INVOICE No. 2024") == fold("INVOlCE N0 2O24") == fold("invoice no 2024")
    assert fold("Straße") == fold("STRABE") == fold("strasse")  # OCR reads ß as B; people type ss
    assert query_words("  RE16   tgk ") == ["rel6", "tgk"]  # folded, longest first
    assert query_words("-- ! —") == []  # nothing to find


@pytest.mark.parametrize("query, line", [
    ("Invoice No. 2024-0173", 0),  # l for I, lost spaces
    ("invoice", 0),
    ("2024-0173", 0),
    ("total due", 1),
    ("1250.00", 1),
    ("Müller", 2),  # the accent OCR lost
    ("muller", 2),
    ("Hauptstraße", 2),  # ß that OCR read as B
    ("Hauptstrasse", 2),  # ß typed as ss
    ("RE16", 3),  # half a code (Immich #23689)
    ("re16 tgk", 3),  # extra space
    ("TGK RE16", 3),  # words in another order
    ("muller cafe", 2),
    ("Invoce", 0),  # a typo: a near match
])
def test_each_way_of_typing_finds_its_line(query, line):
    found = match_lines(query, READ)
    assert found is not None and found.score >= MIN_SCORE and line in found.lines


def test_exact_matches_rank_above_folded_and_near_ones():
    assert match_lines("RE16", READ).score == EXACT
    assert match_lines("Hauptstraße", READ).score == FOLDED  # equal only once ß and B are made one
    near = match_lines("Invoce", READ).score
    assert MIN_SCORE <= near < FOLDED


@pytest.mark.parametrize("query", ["dog", "RE17", "Invoice Paris", "zzzz", "...", ""])
def test_unrelated_text_does_not_match(query):
    assert match_lines(query, READ) is None


def test_short_words_match_exactly_or_not_at_all():
    assert match_lines("EUR", READ) is not None
    assert match_lines("EUX", READ) is None  # three letters: no near matches
    assert match_lines("abc", []) is None


def test_a_phrase_across_two_lines_names_both():
    found = match_lines("EUR Café", ["Total due 12 EUR", "Café Muller"])
    assert found is not None and found.lines == [0, 1]
