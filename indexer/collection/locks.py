"""Writer locks: one writer at a time for each index file of a collection, across processes
(a POSIX record lock on a file in the data dir) and across threads of one process."""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from contextlib import contextmanager

from indexer.collection.errors import CollectionBusy

_PROCESS_LOCKS: dict[str, threading.Lock] = {}  # writer lock files held by a thread of this process
_PROCESS_LOCKS_GUARD = threading.Lock()


@contextmanager
def writer_lock(data_dir: str, name: str = "images"):
    """Exclusive right to write one index file ("images" or "texts"): a saved index
    is a whole file, so two writers would each overwrite what the other added."""
    path = os.path.realpath(os.path.join(data_dir, f"{name}.lock"))
    busy = CollectionBusy(f"another clipdex process or task is writing {data_dir}; wait for it to finish")
    # A POSIX record lock never stops another thread of this process (a server's
    # re-index job beside a request), and closing any handle of the file frees it:
    # threads first take a lock of the process, before the file is even opened.
    with _PROCESS_LOCKS_GUARD:
        in_process = _PROCESS_LOCKS.setdefault(path, threading.Lock())
    if not in_process.acquire(blocking=False):
        raise busy
    try:
        # A POSIX record lock belongs to this process alone: decode workers forked while
        # it is held do not inherit it, so a killed indexer frees it at once.
        with open(path, "w") as handle:
            try:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise busy from None
            try:
                yield
            finally:
                fcntl.lockf(handle, fcntl.LOCK_UN)
    finally:
        in_process.release()
