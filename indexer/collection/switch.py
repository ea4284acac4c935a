"""The switch of a re-index with another model (indexer/reindex.py builds ``DATA_DIR.next``
beside the collection): two renames, and what to do when a crash came between them.
Run whenever a collection is opened, so it knows nothing of collections itself."""

from __future__ import annotations

import os
import shutil

COMPLETE_MARKER = "REINDEX_COMPLETE"


def next_dir(data_dir: str) -> str:
    return os.path.abspath(data_dir) + ".next"


def previous_dir(data_dir: str) -> str:
    return os.path.abspath(data_dir) + ".previous"


def finish_switch(data_dir: str) -> None:
    """Complete a switch that a crash interrupted, and drop what a finished one left."""
    data_dir = os.path.abspath(data_dir)
    pending = next_dir(data_dir)
    if not os.path.exists(data_dir) and os.path.exists(os.path.join(pending, COMPLETE_MARKER)):
        os.replace(pending, data_dir)
    if os.path.exists(data_dir) and os.path.isdir(previous_dir(data_dir)):
        shutil.rmtree(previous_dir(data_dir), ignore_errors=True)
