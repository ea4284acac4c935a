"""Full-precision copies of the vectors on disk: float16 rows addressed by id, memory-mapped.

An approximate index (IVF-PQ) keeps only compressed codes in memory; this file keeps the
vectors themselves, so that a shortlist can be re-ranked exactly, an index of another
type can be built without re-embedding anything, and a corrupt index file can be rebuilt.
Row ``i`` of the file is the vector with id ``i``; ids are the collection's small
integer ids, so the file is dense. Rows are written in place (no rewrite of the whole
file) and made durable by ``flush``, which an index save calls before it writes the index.
"""

from __future__ import annotations

import os

import numpy as np

DTYPE = np.float16


class VectorRowsError(RuntimeError):
    pass


class VectorRows:
    def __init__(self, path: str | os.PathLike, dim: int):
        self.path = os.fspath(path)
        self.dim = int(dim)
        self.row_bytes = self.dim * np.dtype(DTYPE).itemsize
        os.makedirs(os.path.dirname(os.path.abspath(self.path)) or ".", exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        size = os.fstat(self._fd).st_size
        if size % self.row_bytes:  # a write cut short by a crash: its row was never used
            os.ftruncate(self._fd, size - size % self.row_bytes)
        self._view: np.memmap | None = None
        self._dirty = False

    def close(self) -> None:
        self._view = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self):  # each SearchIndex opens its own store, so this closes no one else's
        try:
            self.close()
        except Exception:
            pass

    @property
    def rows(self) -> int:
        return os.fstat(self._fd).st_size // self.row_bytes

    def write(self, ids, vectors) -> None:
        """Store ``vectors[i]`` as the row of ``ids[i]`` (runs of consecutive ids in one write)."""
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(ids) != len(vectors) or (len(ids) and vectors.shape[1] != self.dim):
            raise ValueError(f"expected {len(ids)} vectors of dimension {self.dim}, got {vectors.shape}")
        if not len(ids):
            return
        if ids.min() < 0:
            raise ValueError("vector ids must be >= 0")
        order = np.argsort(ids, kind="stable")
        ids, rows = ids[order], vectors[order].astype(DTYPE)
        breaks = np.flatnonzero(np.diff(ids) != 1) + 1
        for run_ids, run_rows in zip(np.split(ids, breaks), np.split(rows, breaks)):
            os.pwrite(self._fd, run_rows.tobytes(), int(run_ids[0]) * self.row_bytes)
        self._dirty = True

    def flush(self) -> None:
        if self._dirty:
            os.fsync(self._fd)
            self._dirty = False

    def _mapped(self, need_rows: int) -> np.ndarray:
        if self._view is None or len(self._view) < need_rows:
            rows = self.rows
            if rows < need_rows:
                raise VectorRowsError(
                    f"{self.path} holds {rows} rows; id {need_rows - 1} is beyond it (vectors file truncated?)"
                )
            self._view = np.memmap(self.path, dtype=DTYPE, mode="r", shape=(rows, self.dim))
        return self._view

    def get(self, ids) -> np.ndarray:
        """float32 vectors of ``ids`` (in that order)."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros((0, self.dim), np.float32)
        return np.asarray(self._mapped(int(ids.max()) + 1)[ids], dtype=np.float32)

    def iter_chunks(self, ids, chunk: int = 65536):
        """(ids, float32 vectors) in chunks, for building an index without holding all vectors."""
        ids = np.asarray(ids, dtype=np.int64)
        for start in range(0, len(ids), chunk):
            part = ids[start:start + chunk]
            yield part, self.get(part)
