"""Showing where in each hit the query is: from the records `clipdex index --locate`
prepared, where the locator works by windows and the collection has them (no file read, no
encoder pass); else the hits' files read (upright, within the pixel limit) and located in
one batch. Each hit gets its box and heat map; a file that cannot be read any more costs
only its own box."""

from __future__ import annotations

import numpy as np

from indexer.captions import read_images
from indexer.collection import Collection, Hit
from indexer.store.prepared_locations import PreparedLocations
from retrieval.locate.methods import WINDOWS
from retrieval.locate.prepared import Prepared, read_records, recipe_suffix

HEAT_DECIMALS = 2


def heat_rows(heat: np.ndarray) -> list[list[float]]:
    """A heat map as JSON carries it: rows of values 0..1, rounded."""
    return np.asarray(heat, np.float64).round(HEAT_DECIMALS).tolist()  # (float32 would print 0.05000000074)


def _prepared(hits: list[Hit], locator, collection: Collection | None) -> tuple[list[int], Prepared | None]:
    """(the file ids of the hits that have a prepared record the locator can use, those
    records stacked)."""
    if collection is None or locator.method != WINDOWS or not hits:
        return [], None
    found = PreparedLocations(collection.store).of_files([hit.file_id for hit in hits], recipe_suffix())
    ids = list(found)
    usable, records = read_records([found[file_id] for file_id in ids])  # others: located from their files
    return [ids[number] for number in usable], records


def locate_hits(hits: list[Hit], locator, vector: np.ndarray, label: str, max_pixels: int,
                collection: Collection | None = None) -> dict[int, str]:
    """Add to each hit the box of ``vector`` (``label`` names it) and its heat map, from
    ``collection``'s prepared records where it has them; returns {file id: error} of hits
    whose file could not be read."""
    prepared, records = _prepared(hits, locator, collection)
    found = dict(zip(prepared, locator.locate_prepared(records, vector, [label]))) if prepared else {}
    rows = [{"id": hit.file_id, "path": hit.path} for hit in hits if hit.file_id not in found]
    images, readable, errors = read_images(rows, max_pixels)
    located = locator.locate(images, vector, [label]) if images else []
    found.update((row["id"], place) for row, place in zip(readable, located))
    for hit in hits:
        place = found.get(hit.file_id)
        if place is not None:
            hit.regions.append(place.region)
            hit.heatmap = heat_rows(place.heat)
    return errors
