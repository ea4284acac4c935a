"""A FAISS inner-product index with stable int64 ids and atomic, checksummed files.

Vectors are expected L2-normalised, so inner product is cosine similarity. The index
type is a FAISS factory string: "Flat" (exact, the default), "IVF4096,Flat" (inverted
lists of full vectors) or "IVF16384,PQ128x4fs" (compressed codes, approximate
scores). The inverted-file types take ids of their own and support add and remove
after training, so no rebuild is needed as a collection changes. The file format is a
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
            # Flat has no ids of its own: IDMap2 adds them (and keeps reconstruct by id).
            spec = f"IDMap2,{factory}" if factory == "Flat" else factory
            _index = faiss.index_factory(self.dim, spec, faiss.METRIC_INNER_PRODUCT)
        self._index = _index
        self._ivf = _ivf_of(_index)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def kind(self) -> str:
        """"flat" (exact), "ivf" (inverted lists of full vectors, exact scores) or
        "ivfpq" (compressed codes: approximate scores, re-rank them)."""
        if self._ivf is None:
            return "flat"
        faiss = _faiss()
        return "ivf" if isinstance(faiss.downcast_index(self._ivf), faiss.IndexIVFFlat) else "ivfpq"

    @property
    def nlist(self) -> int:
        return int(self._ivf.nlist) if self._ivf is not None else 0

    @property
    def nprobe(self) -> int:
        return int(self._ivf.nprobe) if self._ivf is not None else 0

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if self._ivf is not None:
            self._ivf.nprobe = max(1, min(int(value), self.nlist))

    @property
    def is_trained(self) -> bool:
        return bool(self._index.is_trained)

    def train(self, sample: np.ndarray, iterations: int = 20) -> None:
        """Train the coarse quantizer (and PQ/OPQ) on a sample of the vectors."""
        sample = self._check(sample)
        if self._ivf is not None:
            self._ivf.cp.niter = iterations
            # FAISS subsamples above this many points per centroid; below, it only warns.
            self._ivf.cp.max_points_per_centroid = max(1, -(-len(sample) // self.nlist))
        self._index.train(sample)

    def empty_copy(self) -> "VectorIndex":
        """A trained index of the same type with no vectors (one per shard)."""
        clone = _faiss().clone_index(self._index)
        clone.reset()
        return VectorIndex(self.dim, self.factory, _index=clone)

    def ids(self) -> np.ndarray:
        faiss = _faiss()
        if self._ivf is None:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)
        lists = self._ivf.invlists
        parts = [np.zeros(0, np.int64)]
        for list_no in range(self._ivf.nlist):
            size = lists.list_size(list_no)
            if size:
                parts.append(faiss.rev_swig_ptr(lists.get_ids(list_no), size).copy())
        return np.concatenate(parts).astype(np.int64)

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
            if not self.is_trained:
                raise RuntimeError(f"a {self.factory} index must be trained before vectors are added")
            self._index.add_with_ids(vectors, ids)

    def remove(self, ids) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if not len(ids):
            return 0
        return int(self._index.remove_ids(_faiss().IDSelectorBatch(len(ids), _faiss().swig_ptr(ids))))

    def reconstruct(self, vector_id: int) -> np.ndarray:
        if self._ivf is not None:
            raise RuntimeError("an inverted-file index does not keep vectors by id; read them from the vector store")
        return self._index.reconstruct(int(vector_id))

    def search(self, queries, k: int, allowed_ids=None, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query; rows are padded with id -1 when fewer exist.

        ``allowed_ids``: only these ids may be returned (a filter applied inside FAISS,
        so that k results come back even when the filter is selective).
        ``nprobe``: inverted lists visited (IVF types), instead of the index's default.
        """
        faiss = _faiss()
        queries = self._check(np.atleast_2d(queries))
        k = max(1, min(int(k), max(len(self), 1)))
        selector = None
        if allowed_ids is not None:
            allowed = np.ascontiguousarray(allowed_ids, dtype=np.int64)
            if not len(allowed):
                return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
            selector = faiss.IDSelectorBatch(len(allowed), faiss.swig_ptr(allowed))
        if self._ivf is not None:
            params = faiss.SearchParametersIVF(nprobe=max(1, min(int(nprobe or self.nprobe), self.nlist)))
            if selector is not None:
                params.sel = selector
            return self._index.search(queries, k, params=params)
        if selector is None:
            return self._index.search(queries, k)
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


def _ivf_of(index):
    """The inverted-file part of an index (behind an OPQ rotation, say), or None."""
    try:
        return _faiss().extract_index_ivf(index)
    except RuntimeError:
        return None
