"""Indexing folders into a collection: scan -> plan -> decode (workers) -> embed -> write.

Incremental: unchanged files (same path, size, mtime) are skipped; moved or renamed files
are recognised by content hash and keep their vector; deleted files leave the index.

Resumable and crash-safe: new files are first written as ``pending`` rows, and results are
checkpointed every few seconds. The saved index and the database keep one rule: the
database never points at a vector the saved index lacks (vectors are saved before the rows
that use them are committed; rows are deleted before their vectors). Whatever a crash
leaves over (vectors no row uses, rows still pending) is repaired at the next run, and
nothing committed before the crash is embedded again.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from indexer.captions.sync import drop_caption_texts, move_caption_texts
from indexer.collection.collection import Collection
from indexer.ingest.decode import DecodeDataset, collate, read_blobs
from indexer.ingest.scan import scan_folders
from indexer.store.files import FAILED, OK, FileState, RowUpdates
from retrieval.images.decode import DEFAULT_MAX_PIXELS

log = logging.getLogger(__name__)


@dataclass
class IndexReport:
    scanned: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    embedded: int = 0
    moved: int = 0
    failed: int = 0
    removed: int = 0
    repaired: int = 0
    captions_dropped: int = 0  # caption texts of changed or removed files (`clipdex index-captions` redoes them)
    scan_errors: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def up_to_date(self) -> bool:
        return not (self.new or self.changed or self.embedded or self.moved or self.failed or self.removed)


@dataclass
class IndexOptions:
    batch_size: int = 64
    num_workers: int | None = None  # None: chosen from the core count
    max_pixels: int = DEFAULT_MAX_PIXELS
    checkpoint_seconds: float = 30.0
    progress: bool = True
    # Where JPEGs are decoded: "auto" (on the model's GPU when it has one), "cpu" (PIL in
    # the workers), or "device" (torch decode + resize on the model's device, even a CPU).
    decode: str = "auto"
    # Which GPU JPEG decoder: "auto" or "torchvision" (nvJPEG through torchvision, the
    # faster one measured in this pipeline), or "nvimgcodec" (the GPU's hardware JPEG
    # engines, `pip install clipdex[gpu]`; torchvision's with a warning where unavailable).
    jpeg_decoder: str = "auto"
    decode_threads: int = 4  # GPU path: threads preparing batches while the model runs
    on_progress: Callable[[int, int], None] | None = None  # (done, total) after each batch


def default_workers(gpu_decode: bool = False) -> int:
    """Worker processes: a few when they decode (the model waits on them anyway, and the
    machine stays usable). When they only read, hash and probe files for the GPU's
    decoder, up to 8 (on an H100 machine 8 did 18,800 files/s, twice what the decoders
    take), leaving at least two cores to the process that feeds the GPU."""
    cores = os.cpu_count() or 2
    return max(1, min(8, cores - 2)) if gpu_decode else max(1, min(4, cores))


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


class _Progress:
    """A tqdm bar on a terminal; a log line every 30 s otherwise."""

    def __init__(self, total: int, enabled: bool, callback: Callable[[int, int], None] | None = None):
        self.callback = callback
        self.total, self.done, self.start, self.last_log = total, 0, time.monotonic(), time.monotonic()
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="img", desc="indexing")

    def update(self, n: int) -> None:
        self.done += n
        if self.callback is not None:
            self.callback(self.done, self.total)
        if self.bar is not None:
            self.bar.update(n)
        elif time.monotonic() - self.last_log > 30:
            self.last_log = time.monotonic()
            rate = self.done / max(self.last_log - self.start, 1e-9)
            log.info("indexed %d/%d files (%.1f images/s)", self.done, self.total, rate)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def index_folders(
    collection: Collection,
    roots: list[str],
    model_spec: str,
    encoder_factory: Callable,
    options: IndexOptions | None = None,
    embed_pass: Callable | None = None,
) -> IndexReport:
    """Bring the collection up to date with ``roots`` (all known roots when empty).

    ``encoder_factory()`` is called only when something needs embedding, so that a
    no-change re-index never loads the model. One run at a time per collection: a
    second one (another process, or the server's re-index job) is refused.

    ``embed_pass`` embeds the files the plan says need it; by default decode workers
    and the model in this process (``indexer.ray_index`` passes one that runs on a
    Ray cluster). It takes the arguments of ``_embed_pass`` and returns what it does.
    """
    with collection.writer_lock():
        return _index_folders(collection, roots, model_spec, encoder_factory, options, embed_pass or _embed_pass)


def _index_folders(collection, roots, model_spec, encoder_factory, options, embed_pass) -> IndexReport:
    options = options or IndexOptions()
    started = time.monotonic()
    report = IndexReport()
    collection.check_model(model_spec)

    for root in roots:
        if not os.path.exists(root):
            raise FileNotFoundError(f"no such file or folder: {root}")
    roots = [os.path.abspath(r) for r in roots]
    collection.store.add_roots(roots)
    roots = roots or collection.store.roots()
    if not roots:
        raise ValueError("no folders to index: give at least one folder")

    scan = scan_folders(roots)
    report.scan_errors = scan.errors
    report.scanned = len(scan.files)
    unreadable_roots = [path for path, _ in scan.errors if path in roots]
    live_roots = [r for r in roots if r not in unreadable_roots and os.path.exists(r)]

    known = collection.store.file_states()
    found_paths = set()
    new, changed = [], []
    for found in scan.files:
        found_paths.add(found.path)
        state = known.get(found.path)
        if state is None:
            new.append(found)
        elif (state.size, state.mtime_ns) != (found.size, found.mtime_ns):
            changed.append((state.id, found.size, found.mtime_ns))
        elif state.status in (OK, FAILED):
            report.unchanged += 1
    gone = [s for p, s in known.items() if p not in found_paths and _under(p, live_roots)]
    has_pending = any(s.status not in (OK, FAILED) for s in known.values())
    index_missing = any(s.status == OK for s in known.values()) and not collection.has_index_file()

    report.new, report.changed = len(new), len(changed)
    if not (new or changed or gone or has_pending or index_missing):
        report.seconds = time.monotonic() - started
        return report  # nothing to do: the model and the index are never loaded

    collection.store.insert_pending(new)
    collection.store.mark_changed(changed)
    # A caption describes content: a changed file's no longer fits (`clipdex index-captions`
    # captions it again).
    report.captions_dropped = drop_caption_texts(collection, [file_id for file_id, _, _ in changed])

    encoder = None
    if collection.embed_dim is None:  # first run: the model decides the dimension
        encoder = encoder_factory()
        collection.bind_model(encoder.spec, encoder.dim)
    index = collection.load_index(repair=True)
    report.repaired = _reconcile(collection, index)

    # Only vectors the (reconciled) index really holds can be handed to a moved file.
    held = set(index.ids().tolist())
    moved_by_hash: dict[str, list[FileState]] = {}
    for state in gone:
        if state.status == OK and state.vector_id in held and state.content_hash:
            moved_by_hash.setdefault(state.content_hash, []).append(state)

    pending = collection.store.pending()
    progress = _Progress(len(pending), options.progress, options.on_progress)
    try:
        if pending:
            encoder = encoder or encoder_factory()
            collection.bind_model(encoder.spec, encoder.dim)
            again = embed_pass(collection, index, encoder, pending, moved_by_hash, options, report, progress)
            if again:  # copies of a moved file beyond the first need their own vector
                embed_pass(collection, index, encoder, again, {}, options, report, progress)
    finally:
        progress.close()

    # Files that disappeared and were not found elsewhere leave the collection:
    # rows first, then their vectors (a crash in between leaves only orphan vectors).
    left = [s for states in moved_by_hash.values() for s in states]
    left += [s for s in gone if s.status != OK or s.vector_id not in held or not s.content_hash]
    _captions_follow(collection, gone, left, report)
    if left:
        updates = RowUpdates.empty()
        updates.deletes.update(s.id for s in left)
        collection.store.apply(updates)
        index.remove([s.vector_id for s in left if s.vector_id is not None])
        collection.save_index()
        report.removed = len(left)
    elif report.repaired:
        collection.save_index()
    report.seconds = time.monotonic() - started
    return report


def _captions_follow(collection: Collection, gone: list[FileState], left: list[FileState],
                     report: IndexReport) -> None:
    """Captions of moved files go to their new ids (the row that took the old vector);
    those of files that left the collection go with them."""
    leaving = {s.id for s in left}
    moved_from = [s for s in gone if s.id not in leaving]
    rows = collection.store.rows_by_vector_ids([s.vector_id for s in moved_from])
    moves = {s.id: rows[s.vector_id]["id"] for s in moved_from
             if s.vector_id in rows and rows[s.vector_id]["id"] != s.id}
    move_caption_texts(collection, moves)
    unmatched = {s.id for s in moved_from} - moves.keys()
    report.captions_dropped += drop_caption_texts(collection, sorted(leaving | unmatched))


def _reconcile(collection: Collection, index) -> int:
    """Repair what a crash can leave: vectors no row uses, rows whose vector is missing."""
    in_index = set(index.ids().tolist())
    in_rows = collection.store.vector_ids()
    orphans = in_index - in_rows
    missing = in_rows - in_index
    if orphans:
        index.remove(sorted(orphans))
    if missing:
        collection.store.reset_missing_vectors(sorted(missing))
    if orphans or missing:
        log.info("repaired collection: %d orphan vectors removed, %d files to re-embed", len(orphans), len(missing))
    return len(orphans) + len(missing)


def _embed_pass(
    collection: Collection,
    index,
    encoder,
    items: list[tuple[int, str]],
    moved_by_hash: dict[str, list[FileState]],
    options: IndexOptions,
    report: IndexReport,
    progress: _Progress,
) -> list[tuple[int, str]]:
    from torch.utils.data import DataLoader

    on_device = _device_preprocessor(encoder, options.decode, options.jpeg_decoder)
    workers = default_workers(on_device is not None) if options.num_workers is None else options.num_workers
    if len(items) < 2 * options.batch_size:
        workers = min(workers, 1)
    dataset = DecodeDataset(
        items,
        encoder.preprocess,
        frozenset(moved_by_hash),
        options.max_pixels,
        min_side=encoder.loaded.image_size,
        jpeg_to_device=on_device is not None,
    )
    loader = DataLoader(
        dataset,
        batch_size=options.batch_size,
        num_workers=workers,
        collate_fn=collate,
        prefetch_factor=4 if workers else None,
        # JPEG bytes go to the decoder from plain memory; only worker-decoded pixels gain by pinning.
        pin_memory=str(encoder.device).startswith("cuda") and on_device is None,
    )
    results = ResultWriter(collection, index, moved_by_hash, options, report)
    prepared = _prepared(loader, on_device, encoder, options.max_pixels, options.decode_threads)
    for batch, pixels, decoded in prepared:
        vectors = encoder.embed_pixels(pixels) if pixels is not None else None
        progress.update(results.record(vectors, decoded, batch["moved"], batch["failed"]))
        if results.due():
            results.checkpoint()
    results.checkpoint()
    return results.again


class ResultWriter:
    """Records what an embedding pass found: vectors into the index, results into the rows.

    ``checkpoint`` saves the index, then commits the rows that point at it. A file whose
    content belongs to a file that disappeared takes over that file's vector; a further
    copy of it is left in ``again`` (still pending) for a pass that embeds it.
    """

    def __init__(self, collection: Collection, index, moved_by_hash: dict[str, list[FileState]],
                 options: IndexOptions, report: IndexReport):
        self.collection, self.index, self.moved_by_hash = collection, index, moved_by_hash
        self.checkpoint_seconds = options.checkpoint_seconds
        self.report = report
        self.updates = RowUpdates.empty()
        self.again: list[tuple[int, str]] = []
        self.last_checkpoint = time.monotonic()

    def record(self, vectors, decoded: list[dict], moved: list[dict], failed: list[dict]) -> int:
        """Take one batch: ``vectors`` (rows in the order of ``decoded``, or None when
        nothing was decoded), files moved (id, path, hash) and failed (id, error, hash).
        Returns the number of files handled."""
        updates, report = self.updates, self.report
        if vectors is not None:
            ids = [item["id"] for item in decoded]
            self.index.add(ids, vectors)
            for item in decoded:
                updates.done(
                    item["id"],
                    status=OK,
                    error=None,
                    content_hash=item["hash"],
                    width=item["width"],
                    height=item["height"],
                    taken_at=item["taken_at"],
                    vector_id=item["id"],
                )
            report.embedded += len(ids)
        for item in moved:
            candidates = self.moved_by_hash.get(item["hash"])
            if not candidates:
                self.again.append((item["id"], item["path"]))
                continue
            old = candidates.pop()
            old_row = self.collection.store.get_row(old.id) or {}
            updates.deletes.add(old.id)
            updates.done(
                item["id"],
                status=OK,
                error=None,
                content_hash=item["hash"],
                width=old_row.get("width"),
                height=old_row.get("height"),
                taken_at=old_row.get("taken_at"),
                vector_id=old.vector_id,
            )
            report.moved += 1
        for item in failed:
            updates.done(item["id"], status=FAILED, error=item["error"], content_hash=item["hash"], vector_id=None)
            report.failed += 1
        return len(decoded) + len(moved) + len(failed)

    def due(self) -> bool:
        return time.monotonic() - self.last_checkpoint >= self.checkpoint_seconds

    def checkpoint(self) -> None:
        if len(self.updates):
            self.collection.save_index()  # vectors first, then the rows that point at them
            self.collection.store.apply(self.updates)
        self.updates = RowUpdates.empty()
        self.last_checkpoint = time.monotonic()


def _device_preprocessor(encoder, decode: str, jpeg_decoder: str = "auto"):
    """The on-device JPEG preprocessor, or None to decode everything in the workers."""
    if decode not in ("auto", "cpu", "device"):
        raise ValueError(f"decode must be auto, cpu or device, not {decode!r}")
    if decode == "cpu" or (decode == "auto" and not str(encoder.device).startswith("cuda")):
        return None
    if encoder.loaded.family != "open_clip":  # a transformers model's own image processor decides
        return None
    from retrieval.images.gpu_preprocess import TensorPreprocessor

    preprocessor = TensorPreprocessor.from_model(encoder.model, encoder.device, jpeg_decoder)
    if preprocessor is None:
        log.info("this model's image transform is not reproduced on the device; decoding on the CPU")
    return preprocessor


def _batch_pixels(batch: dict, on_device, encoder, max_pixels: int):
    """(pixels, items) of a batch: worker-decoded images plus JPEGs decoded on the device.

    A JPEG the device decoder refuses is handed to PIL, which either decodes it or
    names the error; the item then joins the batch's failures.
    """
    import numpy as np
    import torch

    from retrieval.images.decode import ImageError, decode_image
    from retrieval.images.gpu_preprocess import orient

    parts, items = [], []
    dtype = torch.float32 if encoder.amp_dtype is None else encoder.amp_dtype
    if batch["pixels"] is not None:
        parts.append(batch["pixels"])
        items.extend(batch["decoded"])
    if batch["jpegs"]:
        images, ok = [], []
        blobs = read_blobs(batch["jpegs"])
        readable = [blob for blob in blobs if blob is not None]
        decoded_iter = iter(on_device.decode(readable))
        for item, blob in zip(batch["jpegs"], blobs):
            if blob is None:
                batch["failed"].append({**item, "kind": "failed", "error": "cannot read file: it vanished"})
                continue
            image = next(decoded_iter)
            if image is None:
                try:
                    picture = decode_image(blob, max_pixels=max_pixels).image
                except ImageError as exc:
                    batch["failed"].append({**item, "kind": "failed", "error": str(exc)})
                    continue
                image = torch.from_numpy(np.asarray(picture).copy()).permute(2, 0, 1)  # upright already
            else:
                image = orient(image, item["orientation"])
            images.append(image)
            ok.append(item)
        if images:
            if parts:
                parts = [parts[0].to(encoder.device, dtype)]
            parts.append(on_device.batch(images, dtype=dtype))
            items.extend(ok)
    if not parts:
        return None, []
    return (parts[0] if len(parts) == 1 else torch.cat(parts)), items


_DONE = object()
_SWITCH_INTERVAL = 1e-4  # seconds; see _prepared


def _prepared(loader, on_device, encoder, max_pixels: int, threads: int = 4):
    """Yield (batch, pixels, items) for each loader batch, in no particular order.

    On CUDA, ``threads`` background threads take batches from the loader and prepare
    them (JPEG decode, resize, copy to the GPU), each on its own side stream, while the
    model runs on a stream of its own. Several threads because file reads, header parsing
    and (with torchvision's nvJPEG) Huffman decoding run on the CPU, and they, like torch
    ops, release the GIL while they run.
    """
    if not str(encoder.device).startswith("cuda"):
        for batch in loader:
            yield (batch, *_batch_pixels(batch, on_device, encoder, max_pixels))
        return

    import queue
    import threading

    import torch

    ready: queue.Queue = queue.Queue(maxsize=2 * threads)
    stop = threading.Event()
    batches = iter(loader)
    take = threading.Lock()

    def produce() -> None:
        side = torch.cuda.Stream(device=encoder.device)
        try:
            with torch.cuda.stream(side):
                while not stop.is_set():
                    with take:
                        batch = next(batches, _DONE)
                    if batch is _DONE:
                        break
                    pixels, items = _batch_pixels(batch, on_device, encoder, max_pixels)
                    if pixels is not None:
                        pixels = pixels.to(encoder.device, non_blocking=True)
                    done = torch.cuda.Event()
                    done.record(side)
                    ready.put((batch, pixels, items, done))
            ready.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            ready.put(exc)

    workers = [threading.Thread(target=produce, name=f"clipdex-prepare-{i}", daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    # The model runs on a stream of its own too: libraries that queue work on the
    # legacy default stream would otherwise wait for the model, and the model for them.
    model_stream = torch.cuda.Stream(device=encoder.device)
    # The preparing threads let go of the GIL and take it back many times per batch (file
    # reads, nvImageCodec per image); each time another thread holds it, the wait lasts up
    # to the switch interval, 5 ms by default. Shorter while indexing: +20% images/s for
    # the nvJPEG path in an A/B run on an H100.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, _SWITCH_INTERVAL))
    finished = 0
    try:
        while finished < threads:
            got = ready.get()
            if got is _DONE:
                finished += 1
                continue
            if isinstance(got, BaseException):
                raise got
            batch, pixels, items, done = got
            with torch.cuda.stream(model_stream):
                if pixels is not None:
                    model_stream.wait_event(done)
                    pixels.record_stream(model_stream)  # a side stream's allocator must not reuse it early
                yield batch, pixels, items
    finally:
        sys.setswitchinterval(switch_interval)
        stop.set()
        while any(worker.is_alive() for worker in workers):  # unblock producers on a full queue
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                pass
