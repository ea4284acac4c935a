"""`clipdex index --locate`: work out once, for every indexed picture, what showing where
by windows needs of it (its window embeddings and its regions: retrieval/locate/prepared.py),
so that a search's `--locate` / `locate=true` meets the query with them in a few small
matrix products instead of reading each hit's file and running the encoder 36 times.

It costs 36 encoder passes a picture, once, so it is asked for: the collection remembers
it (``prepare_locating`` in its meta) and each later index run prepares what is new. Records
are committed a batch at a time: a crash or Ctrl-C keeps what was done, and the rerun
prepares only the rest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from indexer.captions import read_images
from indexer.collection import Collection
from indexer.ingest.progress import Progress
from indexer.store.prepared_locations import PreparedLocations
from retrieval.images.decode import DEFAULT_MAX_PIXELS
from retrieval.locate import DenseLocator
from retrieval.locate.methods import WINDOWS
from retrieval.locate.prepared import recipe

REMEMBERED = "prepare_locating"  # meta key: "1" while new pictures are prepared
BATCH = 32


@dataclass
class PrepareReport:
    prepared: int = 0
    failed: int = 0
    dropped: int = 0  # records of content no file holds any more, or of another model
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)


def prepares_locating(collection: Collection) -> bool:
    """Whether the collection prepares showing where for its pictures."""
    return collection.store.get_meta(REMEMBERED) == "1"


def set_prepares_locating(collection: Collection, on: bool) -> None:
    collection.store.set_meta(REMEMBERED, "1" if on else "")


def prepare_locating(collection: Collection, encoder_factory: Callable, max_pixels: int = DEFAULT_MAX_PIXELS,
                     progress: bool = True) -> PrepareReport:
    """Prepare every indexed picture the collection's recipe has not prepared yet, with the
    encoder ``encoder_factory`` builds (the collection's model; built only if there is work)."""
    started = time.monotonic()
    key = recipe(collection.model_spec)
    set_prepares_locating(collection, True)  # searches locate by windows from now on, and index runs prepare
    with collection.writer_lock("locate"):
        records = PreparedLocations(collection.store)
        report = PrepareReport(dropped=records.drop_stale(key))
        todo = records.unprepared(key)
        locator = DenseLocator(encoder_factory(), WINDOWS) if todo else None
        bar = Progress(len(todo), progress, what="preparing to show where")
        try:
            for start in range(0, len(todo), BATCH):
                rows = [{"id": content, "path": path} for content, path in todo[start:start + BATCH]]
                images, readable, errors = read_images(rows, max_pixels)
                prepared = locator.prepare(images) if images else []
                records.put({row["id"]: one.to_bytes() for row, one in zip(readable, prepared)}, key)
                report.prepared += len(prepared)
                report.failed += len(errors)
                paths = dict(todo[start:start + BATCH])
                report.failures += [(paths[content], error) for content, error in errors.items()]
                bar.update(len(rows))
        finally:
            bar.close()
    report.seconds = time.monotonic() - started
    return report
