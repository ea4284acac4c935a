"""Indexing folders into a collection: scan -> plan -> decode (workers) -> embed -> write.

Incremental: unchanged files (same path, size, mtime) are skipped; moved or renamed files
are recognised by content hash and keep their vector; deleted files leave the index.

Resumable and crash-safe: new files are first written as ``pending`` rows, and results are
checkpointed every few seconds. The saved index and the database keep one rule: the
database never points at a vector the saved index lacks (vectors are saved before the rows
that use them are committed; rows are deleted before their vectors). Whatever a crash
leaves over (vectors no row uses, rows still pending) is repaired at the next run, and
nothing committed before the crash is embedded again.

The run knows nothing of what else hangs on files (captions): it tells ``FileEvents``
which files changed, moved or left.
"""

from __future__ import annotations

import time
from typing import Callable

from indexer.collection import Collection
from indexer.ingest.contracts import EmbedPass, FileEvents, NoFileEvents
from indexer.ingest.local_pass import local_embed_pass
from indexer.ingest.options import IndexOptions, IndexReport
from indexer.ingest.plan import Plan, checked_roots, plan_run
from indexer.ingest.progress import Progress
from indexer.ingest.reconcile import reconcile, vectors_to_hand_on
from indexer.store import OK, FileState, RowUpdates


def index_folders(
    collection: Collection,
    roots: list[str],
    model_spec: str,
    encoder_factory: Callable,
    options: IndexOptions | None = None,
    embed_pass: EmbedPass | None = None,
    events: FileEvents | None = None,
) -> IndexReport:
    """Bring the collection up to date with ``roots`` (all known roots when empty).

    ``encoder_factory()`` is called only when something needs embedding, so that a
    no-change re-index never loads the model. One run at a time per collection: a
    second one (another process, or the server's re-index job) is refused.

    ``embed_pass`` embeds the files the plan says need it; by default decode workers
    and the model in this process (``indexer.ingest.ray_pass`` passes one that runs on a
    Ray cluster). ``events`` hears which files changed, moved or left.
    """
    with collection.writer_lock():
        return _run(collection, roots, model_spec, encoder_factory, options or IndexOptions(),
                    embed_pass or local_embed_pass, events or NoFileEvents())


def _run(collection: Collection, roots: list[str], model_spec: str, encoder_factory: Callable,
         options: IndexOptions, embed_pass: EmbedPass, events: FileEvents) -> IndexReport:
    started = time.monotonic()
    collection.check_model(model_spec)
    plan = plan_run(collection, checked_roots(collection, roots), collection.follows_links(options.follow_links))
    report = IndexReport(scanned=plan.scanned, new=len(plan.new), changed=len(plan.changed),
                         unchanged=plan.unchanged, scan_errors=plan.scan_errors, links_out=plan.links_out)
    if plan.nothing_to_do:
        report.seconds = time.monotonic() - started
        return report  # the model and the index are never loaded

    collection.store.insert_pending(plan.new)
    collection.store.mark_changed(plan.changed)
    events.changed([file_id for file_id, _, _ in plan.changed] + plan.unusable_were_indexed)
    report.failed += collection.store.record_unusable(plan.unusable)  # listed in status with the rest

    encoder = None
    if collection.embed_dim is None:  # first run: the model decides the dimension
        encoder = encoder_factory()
        collection.bind_model(encoder.spec, encoder.dim)
    index = collection.load_index(repair=True)
    report.repaired = reconcile(collection, index)
    held = set(index.ids().tolist())
    moved_by_hash = vectors_to_hand_on(plan.gone, held)

    leaving = plan.pending_gone()  # deleted while still pending (a crash before): they only leave
    pending = [item for item in collection.store.pending() if item[0] not in leaving]
    progress = Progress(len(pending), options.progress, options.on_progress)
    try:
        if pending:
            encoder = encoder or encoder_factory()
            collection.bind_model(encoder.spec, encoder.dim)
            again = embed_pass(collection, index, encoder, pending, moved_by_hash, options, report, progress)
            if again:  # copies of a moved file beyond the first need their own vector
                embed_pass(collection, index, encoder, again, {}, options, report, progress)
    finally:
        progress.close()
    _remove_gone(collection, index, plan, moved_by_hash, held, report, events)
    report.seconds = time.monotonic() - started
    return report


def _remove_gone(collection: Collection, index, plan: Plan, moved_by_hash: dict[str, list[FileState]],
                 held: set[int], report: IndexReport, events: FileEvents) -> None:
    """Files that disappeared and were not found elsewhere leave the collection: rows
    first, then their vectors (a crash in between leaves only orphan vectors)."""
    left = [s for states in moved_by_hash.values() for s in states]
    left += [s for s in plan.gone if s.status != OK or s.vector_id not in held or not s.content_hash]
    _tell_moves(collection, plan.gone, left, events)
    if left:
        updates = RowUpdates.empty()
        updates.deletes.update(s.id for s in left)
        collection.store.apply(updates)
        index.remove([s.vector_id for s in left if s.vector_id is not None])
        collection.save_index()
        report.removed = len(left)
    elif report.repaired:
        collection.save_index()


def _tell_moves(collection: Collection, gone: list[FileState], left: list[FileState], events: FileEvents) -> None:
    """A moved file's old id -> the row that took its vector; the rest of the vanished
    files left."""
    leaving = {s.id for s in left}
    moved_from = [s for s in gone if s.id not in leaving]
    rows = collection.store.rows_by_vector_ids([s.vector_id for s in moved_from])
    moves = {s.id: rows[s.vector_id]["id"] for s in moved_from
             if s.vector_id in rows and rows[s.vector_id]["id"] != s.id}
    events.moved(moves)
    unmatched = {s.id for s in moved_from} - moves.keys()
    events.removed(sorted(leaving | unmatched))
