"""Showing where in each hit the query is: the hits' files read (upright, within the pixel
limit), located in one batch, each hit given its box and heat map. A file that cannot be
read any more costs only its own box."""

from __future__ import annotations

import numpy as np

from indexer.captions import read_images
from indexer.collection import Hit

HEAT_DECIMALS = 2


def heat_rows(heat: np.ndarray) -> list[list[float]]:
    """A heat map as JSON carries it: rows of values 0..1, rounded."""
    return np.round(np.asarray(heat, np.float32), HEAT_DECIMALS).tolist()


def locate_hits(hits: list[Hit], locator, vector: np.ndarray, label: str, max_pixels: int) -> dict[int, str]:
    """Add to each hit the box of ``vector`` (``label`` names it) and its heat map; returns
    {file id: error} of hits whose file could not be read."""
    rows = [{"id": hit.file_id, "path": hit.path} for hit in hits]
    images, readable, errors = read_images(rows, max_pixels)
    located = locator.locate(images, vector, [label]) if images else []
    found = {row["id"]: place for row, place in zip(readable, located)}
    for hit in hits:
        place = found.get(hit.file_id)
        if place is not None:
            hit.regions.append(place.region)
            hit.heatmap = heat_rows(place.heat)
    return errors
