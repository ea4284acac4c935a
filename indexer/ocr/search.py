"""Finding pictures by the words in them: candidates from the store's trigram index, scored
by the forgiving matcher (retrieval/ocr/matching.py), joined to the files that hold them.

Alone, hits rank by how well their text matches. With a semantic query vector too, only the
pictures whose text matches are hits, ranked by match quality first and the meaning of the
query among equals (every exact match scores 1.0, so among them the query's meaning decides).
"""

from __future__ import annotations

import numpy as np

from indexer.collection import Collection, CollectionError, Hit, SearchFilters, hit_of_row
from indexer.ocr.run import engine_name
from indexer.store.ocr_texts import OcrTexts
from retrieval.ocr.matching import match_lines, query_words

CANDIDATES = 2000  # readings scored per query, at most
MAX_QUERY_CHARS = 500


def search_text_in_images(collection: Collection, text: str, k: int, offset: int = 0,
                          filters: SearchFilters | None = None, query_vector: np.ndarray | None = None,
                          min_score: float | None = None) -> list[Hit]:
    """Pictures whose text matches ``text``, best first; each hit's ``regions`` are its
    matching lines and ``text_score`` how well they match. ``query_vector``: a semantic
    query's vector, to rank by meaning among equal matches (``score`` is then its similarity)."""
    engine = engine_name(collection)
    if engine is None:
        raise CollectionError("the text in this collection's pictures has not been read: run `clipdex index-ocr` "
                              "(or `clipdex index --ocr`)")
    if len(text) > MAX_QUERY_CHARS:
        raise ValueError(f"the text to find is {len(text)} characters; at most {MAX_QUERY_CHARS}")
    words = query_words(text)
    if not words:
        raise ValueError("the text to find has no letters or digits")
    matches = {}
    for reading in OcrTexts(collection.store).candidates(engine, words, CANDIDATES, enough=offset + k):
        found = match_lines(text, reading.text.split("\n"))
        if found is not None:
            matches[reading.content_hash] = (found, reading)
    rows = collection.store.ok_rows_with_content(matches)
    if filters is not None and filters.active():
        allowed = set(collection.store.vector_ids_matching(filters).tolist())
        rows = [row for row in rows if row["vector_id"] in allowed]
    hits = []
    for row in rows:
        found, reading = matches[row["content_hash"]]
        hit = hit_of_row(row, found.score)
        hit.text_score = found.score
        hit.regions = [reading.lines[i] for i in found.lines]
        hits.append(hit)
    if query_vector is not None and hits:
        vectors = collection.load_index().rows.get([h.vector_id for h in hits])
        for hit, similarity in zip(hits, vectors.astype(np.float32) @ np.asarray(query_vector, np.float32).ravel()):
            hit.score = float(similarity)
    hits.sort(key=lambda h: (-h.text_score, -h.score, h.path))
    if min_score is not None:
        hits = [h for h in hits if h.score >= min_score]
    return hits[offset:offset + k]


def text_of_file(collection: Collection, file_id: int):
    """(engine name, reading or None) of an indexed file; engine None when the collection
    was never read."""
    engine = engine_name(collection)
    row = collection.store.get_row(file_id)
    if engine is None or row is None or not row.get("content_hash"):
        return engine, None
    return engine, OcrTexts(collection.store).readings([row["content_hash"]], engine).get(row["content_hash"])
