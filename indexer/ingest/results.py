"""Recording what an embedding pass found: vectors into the index, results into the rows."""

from __future__ import annotations

import time

from indexer.collection import Collection
from indexer.ingest.options import IndexOptions, IndexReport
from indexer.store import FAILED, OK, FileState, RowUpdates


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
