"""A FAISS inner-product index with stable int64 ids and atomic, checksummed files.

Vectors are expected L2-normalised, so inner product is cosine similarity. The index
type is a FAISS factory string; "Flat" (exact) is the default. The file format is a
small header (magic, format version, SHA-256 of the payload) followed by FAISS's own
serialisation, so that a truncated or corrupt file is detected on load.
"""

from __future__ import annotations

import hashlib
import os
import struct

import numpy as np

from retrieval.atomic_io import atomic_write_bytes

_MAGIC = b"CLIPDEXI"
_FORMAT = 1
_HEADER = struct.Struct("<8sI32s")


class IndexFileError(RuntimeError):
    """An index file that is missing, truncated or corrupt."""


def _faiss():
    import faiss

    return faiss


class VectorIndex:
    def __init__(self, dim: int, factory: str = "Flat", _index=None):
        faiss = _faiss()
        self.dim = int(dim)
        self.factory = factory
        if _index is None:
            _index = faiss.index_factory(self.dim, f"IDMap2,{factory}", faiss.METRIC_INNER_PRODUCT)
        self._index = _index

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        return _faiss().vector_to_array(self._index.id_map).astype(np.int64)

    def _check(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        return vectors

    def add(self, ids, vectors) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = self._check(vectors)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if len(ids):
            self._index.add_with_ids(vectors, ids)

    def remove(self, ids) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if not len(ids):
            return 0
        return int(self._index.remove_ids(_faiss().IDSelectorBatch(len(ids), _faiss().swig_ptr(ids))))

    def reconstruct(self, vector_id: int) -> np.ndarray:
        return self._index.reconstruct(int(vector_id))

    def search(self, queries, k: int, allowed_ids=None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query; rows are padded with id -1 when fewer exist.

        ``allowed_ids``: only these ids may be returned (a filter applied inside FAISS,
        so that k results come back even when the filter is selective).
        """
        queries = self._check(np.atleast_2d(queries))
        k = max(1, min(int(k), max(len(self), 1)))
        if allowed_ids is None:
            return self._index.search(queries, k)
        faiss = _faiss()
        allowed = np.ascontiguousarray(allowed_ids, dtype=np.int64)
        if not len(allowed):
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        selector = faiss.IDSelectorBatch(len(allowed), faiss.swig_ptr(allowed))
        return self._index.search(queries, k, params=faiss.SearchParameters(sel=selector))

    def to_bytes(self) -> bytes:
        payload = _faiss().serialize_index(self._index).tobytes()
        return _HEADER.pack(_MAGIC, _FORMAT, hashlib.sha256(payload).digest()) + payload

    def save(self, path: str | os.PathLike) -> None:
        atomic_write_bytes(path, self.to_bytes())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "VectorIndex":
        path = os.fspath(path)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise IndexFileError(f"index file {path} does not exist") from None
        if len(data) < _HEADER.size:
            raise IndexFileError(f"index file {path} is truncated ({len(data)} bytes)")
        magic, version, digest = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise IndexFileError(f"{path} is not a clipdex index file")
        if version != _FORMAT:
            raise IndexFileError(f"{path} has index format {version}; this clipdex reads {_FORMAT}")
        payload = data[_HEADER.size:]
        if hashlib.sha256(payload).digest() != digest:
            raise IndexFileError(
                f"index file {path} is corrupt or truncated (checksum mismatch); "
                f"delete it and run `clipdex index` again to rebuild it"
            )
        faiss = _faiss()
        index = faiss.deserialize_index(np.frombuffer(payload, dtype=np.uint8))
        return cls(index.d, factory="loaded", _index=index)
