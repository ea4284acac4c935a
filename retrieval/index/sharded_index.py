"""An index split into shards: vectors go to shard ``id % n``; a search asks every shard
and merges their top-k by score.

Shards let a collection outgrow one index file and let shards be filled (and searched)
in parallel threads: FAISS releases the GIL. The shard files are listed in a small
manifest written last, so a rebuild writes new files under a new generation and the
switch to them is one atomic rename; ordinary saves rewrite each file atomically.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from retrieval.atomic_io import atomic_write_bytes
from retrieval.index.vector_index import IndexFileError, VectorIndex

MANIFEST = "index.json"
LEGACY_FILE = "vectors.faiss"  # a single flat index, as collections were first saved


class ShardedIndex:
    def __init__(self, shards: list[VectorIndex], generation: int = 0):
        if not shards:
            raise ValueError("an index needs at least one shard")
        self.shards = shards
        self.generation = generation
        self._pool = ThreadPoolExecutor(len(shards)) if len(shards) > 1 else None

    @property
    def dim(self) -> int:
        return self.shards[0].dim

    @property
    def kind(self) -> str:
        return self.shards[0].kind

    @property
    def nlist(self) -> int:
        return self.shards[0].nlist

    def __len__(self) -> int:
        return sum(len(s) for s in self.shards)

    def _each(self, work, items):
        if self._pool is None:
            return [work(item) for item in items]
        return list(self._pool.map(work, items))

    def _routed(self, ids: np.ndarray):
        """(shard, positions of ``ids`` that belong to it) for each shard with some."""
        owner = ids % len(self.shards)
        for number, shard in enumerate(self.shards):
            positions = np.flatnonzero(owner == number)
            if len(positions):
                yield shard, positions

    def ids(self) -> np.ndarray:
        return np.concatenate([s.ids() for s in self.shards])

    def add(self, ids, vectors) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32)
        self._each(lambda pair: pair[0].add(ids[pair[1]], vectors[pair[1]]), list(self._routed(ids)))

    def remove(self, ids) -> int:
        ids = np.asarray(ids, dtype=np.int64)
        return sum(shard.remove(ids[positions]) for shard, positions in self._routed(ids))

    def reconstruct(self, vector_id: int) -> np.ndarray:
        return self.shards[int(vector_id) % len(self.shards)].reconstruct(vector_id)

    def set_nprobe(self, nprobe: int) -> None:
        for shard in self.shards:
            shard.nprobe = nprobe

    def search(self, queries, k: int, allowed_ids=None) -> tuple[np.ndarray, np.ndarray]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        parts = self._each(lambda shard: shard.search(queries, k, allowed_ids), self.shards)
        if len(parts) == 1:
            return parts[0]
        return merge_top_k(parts, k)

    # -- files ------------------------------------------------------------------------

    def save(self, folder: str) -> None:
        names = shard_file_names(len(self.shards), self.generation)
        self._each(lambda pair: pair[0].save(os.path.join(folder, pair[1])), list(zip(self.shards, names)))
        manifest = {"format": 1, "generation": self.generation, "dim": self.dim, "kind": self.kind, "shards": names}
        try:
            unchanged = _read_manifest(folder) == manifest
        except IndexFileError:  # a damaged manifest is what a rebuild replaces
            unchanged = False
        if not unchanged:
            atomic_write_bytes(os.path.join(folder, MANIFEST), json.dumps(manifest, indent=1).encode())
        _remove_unlisted(folder, set(names))

    @classmethod
    def load(cls, folder: str, attempts: int = 5) -> "ShardedIndex":
        # A writer may switch to a new generation between our reading the manifest and
        # the files it lists (and delete those): the manifest has changed then, and the
        # files it lists now are complete.
        for attempt in range(attempts):
            manifest = _read_manifest(folder)
            names = manifest["shards"] if manifest else [LEGACY_FILE]
            try:
                shards = [VectorIndex.load(os.path.join(folder, name)) for name in names]
                break
            except IndexFileError:
                if attempt + 1 == attempts or _read_manifest(folder) == manifest:
                    raise
        if manifest is None:
            return cls(shards)
        if len({s.dim for s in shards}) != 1:
            raise IndexFileError(f"the shards listed in {folder}/{MANIFEST} differ in dimension")
        return cls(shards, generation=int(manifest.get("generation", 0)))


def exists(folder: str) -> bool:
    """Whether the index files are all there (a damaged manifest counts: loading reports it)."""
    try:
        manifest = _read_manifest(folder)
    except IndexFileError:
        return True
    names = manifest["shards"] if manifest else [LEGACY_FILE]
    return all(os.path.exists(os.path.join(folder, name)) for name in names)


def shard_file_names(count: int, generation: int) -> list[str]:
    if count == 1 and generation == 0:
        return [LEGACY_FILE]
    return [f"vectors-g{generation}-{number}.faiss" for number in range(count)]


def merge_top_k(parts: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` of several (scores, ids) results, per query row; missing slots are id -1."""
    scores = np.concatenate([p[0] for p in parts], axis=1)
    ids = np.concatenate([p[1] for p in parts], axis=1)
    scores = np.where(ids < 0, -np.inf, scores)
    k = min(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top_scores = np.take_along_axis(scores, order, axis=1)
    top_ids = np.take_along_axis(ids, order, axis=1)
    return np.where(np.isinf(top_scores), 0.0, top_scores).astype(np.float32), top_ids


def _read_manifest(folder: str) -> dict | None:
    path = os.path.join(folder, MANIFEST)
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read())
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):
        raise IndexFileError(f"{path} is corrupt: `clipdex index` or `clipdex rebuild-index` rebuilds the "
                             f"index from the stored vectors") from None


def _remove_unlisted(folder: str, keep: set[str]) -> None:
    """Shard files of an older generation, once the manifest no longer lists them."""
    for name in os.listdir(folder):
        if name.endswith(".faiss") and name.startswith("vectors") and name not in keep:
            os.unlink(os.path.join(folder, name))
