"""`clipdex index --ocr` and `clipdex index-ocr`: read the text of every indexed picture the
collection's OCR engine has not read yet, and keep it.

The engine is remembered by the collection (``ocr_engine`` in its meta, like the model); its
name (version and options) keys the readings, so a rerun reads nothing again and a new
engine reads everything once. Readings are committed every few seconds: a crash or Ctrl-C
keeps what was read, and the rerun reads only the rest. One reader per collection at a time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from indexer.collection import Collection
from indexer.ingest.progress import Progress
from indexer.store.ocr_texts import OcrTexts, Reading
from retrieval.cpu_info import usable_cpus
from retrieval.images.decode import DEFAULT_MAX_PIXELS
from retrieval.ocr import OcrEngine, load_ocr_engine
from retrieval.ocr.worker import read_file
from retrieval.ocr.workers import read_in_workers

log = logging.getLogger(__name__)

ENGINE_SPEC, ENGINE_NAME = "ocr_engine", "ocr_engine_name"  # meta keys
IN_PROCESS_BELOW = 8  # fewer pictures than this are read in this process (a pool costs seconds to start)


@dataclass
class OcrOptions:
    workers: int | None = None  # worker processes; None: one per core; 0: this process
    threads: int | None = 1  # engine threads per worker (this process: the engine's default)
    max_pixels: int = DEFAULT_MAX_PIXELS
    checkpoint_seconds: float = 10.0
    progress: bool = True
    on_progress: Callable[[int, int], None] | None = None
    device: str | None = None  # for VLM engines
    # Another way to read the pictures (Ray): (spec, [(hash, path)], max_pixels) -> (hash, lines, error)
    distributor: Callable[[str, list, int], Iterator] | None = None


@dataclass
class OcrReport:
    engine: str = ""
    read: int = 0
    with_text: int = 0
    failed: int = 0
    skipped: int = 0  # changed or gone since they were indexed (the next index run reads them)
    dropped: int = 0  # readings of content no file holds any more
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)


def remembered_engine(collection: Collection) -> str | None:
    """The OCR engine new pictures are read with; None: the collection does not read text."""
    return collection.store.get_meta(ENGINE_SPEC) or None


def stop_reading(collection: Collection) -> None:
    """New pictures are no longer read (what was read stays searchable)."""
    collection.store.set_meta(ENGINE_SPEC, "")


def engine_name(collection: Collection) -> str | None:
    """The name of the engine whose readings the collection searches (None: never read)."""
    return collection.store.get_meta(ENGINE_NAME)


def read_collection_texts(collection: Collection, spec: str | None = None, options: OcrOptions | None = None,
                          engine: OcrEngine | None = None) -> OcrReport:
    """Read what the engine ``spec`` (else the collection's) has not read yet. ``engine``: an
    engine already loaded for ``spec`` (the caller's)."""
    options = options or OcrOptions()
    spec = spec or remembered_engine(collection)
    if spec is None:
        raise ValueError("no OCR engine: give one (clipdex index-ocr --ocr rapidocr)")
    started = time.monotonic()
    with collection.writer_lock("ocr"):
        texts = OcrTexts(collection.store)
        report = OcrReport(dropped=texts.drop_orphans())
        engine = engine or load_ocr_engine(spec, device=options.device)
        report.engine = engine.name
        collection.store.set_meta_many({ENGINE_SPEC: spec, ENGINE_NAME: engine.name})
        todo = texts.unread(engine.name)
        if todo:
            _read_all(texts, engine, spec, todo, options, report)
    report.seconds = time.monotonic() - started
    return report


def default_ocr_workers() -> int:
    """Worker processes of one engine thread each: one a core, at most 8 (bench/ocr.py
    measures one worker of two threads against two of one on 2 cores)."""
    return max(1, min(8, usable_cpus()))


def _readings(engine: OcrEngine, spec: str, todo: list[tuple[str, str]], options: OcrOptions) -> Iterator:
    if options.distributor is not None:
        return options.distributor(spec, todo, options.max_pixels)
    workers = default_ocr_workers() if options.workers is None else options.workers
    if workers == 0 or len(todo) < IN_PROCESS_BELOW or not engine.name.startswith(("rapidocr", "tesseract")):
        # VLMs read in this process: one model, on its device
        return ((content, *read_file(engine, content, path, options.max_pixels)) for content, path in todo)
    return read_in_workers(spec, todo, options.max_pixels, workers, options.threads or 1)


def _read_all(texts: OcrTexts, engine: OcrEngine, spec: str, todo: list[tuple[str, str]], options: OcrOptions,
              report: OcrReport) -> None:
    progress = Progress(len(todo), options.progress, options.on_progress, what="reading text")
    paths = dict(todo)
    batch: list[Reading] = []
    last = time.monotonic()
    try:
        for content, lines, error in _readings(engine, spec, todo, options):
            progress.update(1)
            if lines is None:
                report.skipped += 1
                continue
            batch.append(Reading(content, lines, error))
            report.read += 1
            report.with_text += bool(lines)
            if error:
                report.failed += 1
                report.failures.append((paths[content], error))
            if time.monotonic() - last >= options.checkpoint_seconds:
                texts.put(batch, engine.name)
                batch, last = [], time.monotonic()
    finally:  # Ctrl-C or a failure: what was read is kept
        texts.put(batch, engine.name)
        progress.close()
