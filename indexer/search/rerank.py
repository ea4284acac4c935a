"""Re-ranking a text search's hits: the hits' files are read and decoded again and the
cross-encoder re-scores them. A file that can no longer be read keeps its place after
the re-scored ones, with no re-rank score."""

from __future__ import annotations

import dataclasses

from indexer.collection.collection import Hit
from retrieval.images.decode import ImageError, decode_image


def rerank_hits(reranker, text: str, hits: list[Hit], max_pixels: int) -> list[Hit]:
    readable, pictures, unreadable = [], [], []
    for hit in hits:
        try:
            with open(hit.path, "rb") as handle:
                pictures.append(decode_image(handle.read(), max_pixels=max_pixels).image)
            readable.append(hit)
        except (OSError, ImageError):
            unreadable.append(hit)
    ranked = [dataclasses.replace(hit, rerank_score=score) for score, hit in reranker.rerank(text, readable, pictures)]
    return ranked + unreadable
