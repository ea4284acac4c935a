"""What a collection searches: FAISS shards of any type over float16 rows of the vectors (vector_rows.py).

Every vector added is written to the vector store as well as to the index, so that
- a compressed index's shortlist is re-ranked with exact scores,
- the index can be rebuilt as another type (or after corruption) without re-embedding,
- vectors can be read back by id whatever the index type.
``save`` makes the store durable before it writes the index files, so a saved index never
refers to vectors the store lacks.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from retrieval.index import sharded_index
from retrieval.index.plan import IVFPQ, IndexPlan, default_nprobe, shortlist_depth
from retrieval.index.sharded_index import ShardedIndex
from retrieval.index.vector_index import VectorIndex
from retrieval.index.vector_rows import VectorRows

log = logging.getLogger(__name__)

ROWS_FILE = "vectors.f16"


class SearchIndex:
    def __init__(self, folder: str, shards: ShardedIndex, rows: VectorRows, nprobe: int | None = None):
        self.folder = folder
        self.shards = shards
        self.rows = rows
        self.nprobe = nprobe
        self.changes = 0  # counts adds, removals and rebuilds: a copy of the vectors elsewhere knows it is stale
        self._apply_nprobe()

    # -- construction -----------------------------------------------------------------

    @classmethod
    def create(cls, folder: str, dim: int, shard_count: int = 1, nprobe: int | None = None) -> "SearchIndex":
        """An empty flat index (flat needs no training; ``rebuild`` changes the type later)."""
        os.makedirs(folder, exist_ok=True)
        shards = ShardedIndex([VectorIndex(dim) for _ in range(max(1, shard_count))])
        return cls(folder, shards, VectorRows(os.path.join(folder, ROWS_FILE), dim), nprobe)

    @classmethod
    def load(cls, folder: str, nprobe: int | None = None) -> "SearchIndex":
        """Raises IndexFileError when an index file is missing, truncated or corrupt."""
        shards = ShardedIndex.load(folder)
        rows = VectorRows(os.path.join(folder, ROWS_FILE), shards.dim)
        index = cls(folder, shards, rows, nprobe)
        index._fill_rows_from_flat()
        return index

    @staticmethod
    def exists(folder: str) -> bool:
        return sharded_index.exists(folder)

    def _fill_rows_from_flat(self) -> None:
        """Collections saved before the vector store existed: copy the flat index's vectors."""
        if self.kind != "flat" or not len(self.shards):
            return
        ids = self.shards.ids()
        if self.rows.rows > int(ids.max()):
            return
        log.info("writing the vector store of %s from its flat index", self.folder)
        self.rows.write(ids, np.stack([self.shards.reconstruct(int(i)) for i in ids]))
        self.rows.flush()

    def _apply_nprobe(self) -> None:
        if self.kind != "flat":
            self.shards.set_nprobe(self.nprobe or default_nprobe(self.kind, self.shards.nlist))

    # -- what it is -------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self.shards.dim

    @property
    def kind(self) -> str:
        return self.shards.kind

    @property
    def nlist(self) -> int:
        return self.shards.nlist

    @property
    def shard_count(self) -> int:
        return len(self.shards.shards)

    def __len__(self) -> int:
        return len(self.shards)

    def ids(self) -> np.ndarray:
        return self.shards.ids()

    def describe(self) -> dict:
        return {"type": self.kind, "lists": self.nlist, "nprobe": self.shards.shards[0].nprobe,
                "shards": self.shard_count, "vectors": len(self)}

    # -- changes ----------------------------------------------------------------------

    def add(self, ids, vectors) -> None:
        self.rows.write(ids, vectors)
        self.shards.add(ids, vectors)
        self.changes += 1

    def remove(self, ids) -> int:
        self.changes += 1
        return self.shards.remove(ids)

    def reconstruct(self, vector_id: int) -> np.ndarray:
        if self.kind == "flat":
            return self.shards.reconstruct(vector_id)
        return self.rows.get([int(vector_id)])[0]

    def save(self) -> None:
        self.rows.flush()  # vectors on disk before any index file that lists their ids
        self.shards.save(self.folder)

    # -- search -----------------------------------------------------------------------

    def search(self, queries, k: int, allowed_ids=None, shortlist: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids); a compressed index's shortlist (``shortlist`` long, by
        default deep enough for the recall goal) is re-scored exactly."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        shards = self.shards  # one reference: a rebuild may swap in new shards meanwhile
        if shards.kind != IVFPQ:
            return shards.search(queries, k, allowed_ids)
        _, candidates = shards.search(queries, max(k, shortlist or shortlist_depth(k, len(shards))), allowed_ids)
        return self._rerank(queries, candidates, k)

    def _rerank(self, queries: np.ndarray, shortlist: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, shortlist.shape[1])
        scores = np.zeros((len(queries), k), np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        for row, (query, candidates) in enumerate(zip(queries, shortlist)):
            candidates = candidates[candidates >= 0]
            exact = self.rows.get(candidates) @ query
            best = np.argsort(-exact, kind="stable")[:k]
            scores[row, :len(best)], ids[row, :len(best)] = exact[best], candidates[best]
        return scores, ids

    # -- rebuilding -------------------------------------------------------------------

    def rebuild(self, plan: IndexPlan, ids, shard_count: int | None = None, seed: int = 0) -> None:
        """Become an index of ``plan``'s type over ``ids``, read from the vector store, and save.

        The new shards are built aside while searches go on in the old ones; the switch
        is one attribute assignment here and one manifest rename on disk (the new
        generation's files are written first).
        """
        started = time.monotonic()
        ids = np.asarray(ids, dtype=np.int64)
        template = VectorIndex(self.dim, plan.factory(self.dim))
        if not template.is_trained:
            rng = np.random.default_rng(seed)
            sample = np.sort(rng.choice(ids, size=plan.train_size(len(ids)), replace=False))
            template.train(self.rows.get(sample))
        shards = ShardedIndex([template.empty_copy() for _ in range(shard_count or self.shard_count)],
                              generation=self.shards.generation + 1)
        for part, vectors in self.rows.iter_chunks(ids):
            shards.add(part, vectors)
        if plan.kind != "flat":
            shards.set_nprobe(self.nprobe or default_nprobe(plan.kind, shards.nlist))
        self.rows.flush()
        shards.save(self.folder)
        self.shards = shards
        self.changes += 1
        log.info("built a %s index of %d vectors in %.1f s", plan.describe(), len(ids), time.monotonic() - started)
