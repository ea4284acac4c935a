"""Hybrid text search: image similarity and caption similarity together.

When the collection's captions are indexed as texts (`clipdex index-captions`, sources
``caption:FILE_ID``), a text query is scored against each image twice: against its
image vector (the dual encoder's cross-modal similarity) and against its captions (text
to text, which catches what the captioner saw and put into words). The hybrid score is
``(1 - weight) * image + weight * caption``; an image without a caption counts its image
score for both. Candidates are the best ``depth`` of each list, scored exactly on the
other side (stored vectors), so neither list alone decides what is considered.
"""

from __future__ import annotations

import numpy as np

from indexer.captions import CAPTION_SOURCE, caption_source, file_id_of
from indexer.collection import Collection, Hit, SearchFilters, hit_of_row
from indexer.texts import TextCollection

MAX_DEPTH = 2000  # candidates per list: deep pages of a hybrid search are not worth their cost


def hybrid_search(
    collection: Collection,
    texts: TextCollection,
    query: np.ndarray,
    k: int,
    offset: int = 0,
    weight: float = 0.5,
    filters: SearchFilters | None = None,
    min_score: float | None = None,
) -> list[Hit]:
    if not 0.0 <= weight <= 1.0:
        raise ValueError("the caption weight must be between 0 and 1")
    query = np.asarray(query, dtype=np.float32).ravel()
    if k + offset > MAX_DEPTH:
        raise ValueError(f"hybrid search pages reach {MAX_DEPTH} results at the most (k + offset)")
    depth = min(MAX_DEPTH, max(100, 4 * (k + offset)))
    hits = {h.file_id: h for h in collection.search(query, depth, filters=filters)[0]}
    captions = _by_file(texts.best_by_source(query, depth, CAPTION_SOURCE))
    allowed = collection.store.vector_ids_matching(filters) if filters and filters.active() else None
    for file_id in captions.keys() - hits.keys():  # found by its caption only: its image score, exactly
        row = collection.store.get_row(file_id)
        vector = collection.vector_of_file(file_id) if row else None
        if vector is not None and (allowed is None or row["vector_id"] in allowed):
            hits[file_id] = hit_of_row(row, float(vector @ query))
    exact = texts.scores_of_sources(query, [caption_source(i) for i in hits.keys() - captions.keys()])
    captions.update(_by_file(exact))
    for file_id, hit in hits.items():
        hit.hybrid_score = (1 - weight) * hit.score + weight * captions.get(file_id, hit.score)
    ranked = sorted(hits.values(), key=lambda h: h.hybrid_score, reverse=True)
    if min_score is not None:
        ranked = [h for h in ranked if h.hybrid_score >= min_score]
    return ranked[offset:offset + k]


def _by_file(scores: dict[str, float]) -> dict[int, float]:
    by_file = {file_id_of(source): score for source, score in scores.items()}
    by_file.pop(None, None)  # a text someone gave a "caption:..." source of their own
    return by_file
