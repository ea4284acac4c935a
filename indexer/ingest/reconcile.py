"""Repairs at the start of an index run: what a crash can leave between the saved index and
the rows, and which vanished files' vectors a moved file may take over."""

from __future__ import annotations

import logging

from indexer.collection import Collection
from indexer.store import OK, FileState

log = logging.getLogger(__name__)


def reconcile(collection: Collection, index) -> int:
    """Vectors no row uses are removed; rows whose vector is missing are embedded again.
    Returns how many were repaired."""
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


def vectors_to_hand_on(gone: list[FileState], held: set[int]) -> dict[str, list[FileState]]:
    """{content hash: vanished files with it}: a new file with that content takes over one of
    their vectors (a move or rename). Only vectors the index really holds are handed on."""
    by_hash: dict[str, list[FileState]] = {}
    for state in gone:
        if state.status == OK and state.vector_id in held and state.content_hash:
            by_hash.setdefault(state.content_hash, []).append(state)
    return by_hash
