"""Re-ranking a text search's hits: the hits' files are read and decoded again and the
cross-encoder re-scores them. A file that can no longer be read keeps its place after
the re-scored ones, with no re-rank score."""

from __future__ import annotations

import dataclasses

from indexer.collection import Hit
from retrieval.images.decode import ImageError, read_image_file


def rerank_hits(reranker, text: str, hits: list[Hit], max_pixels: int) -> list[Hit]:
    readable, pictures, unreadable = [], [], []
    for hit in hits:
        try:
            pictures.append(read_image_file(hit.path, max_pixels).image)
            readable.append(hit)
        except ImageError:
            unreadable.append(hit)
    ranked = [dataclasses.replace(hit, rerank_score=score) for score, hit in reranker.rerank(text, readable, pictures)]
    return ranked + unreadable
