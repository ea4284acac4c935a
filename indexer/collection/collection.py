"""A collection: one data dir holding the metadata store and the vector index of some folders."""

from __future__ import annotations

import logging
import os
import threading
import time

import numpy as np

from indexer.collection.errors import CollectionError, ModelMismatch
from indexer.collection.hits import Hit, SearchFilters, hit_of_row
from indexer.collection.locks import writer_lock
from indexer.collection.paths import is_inside
from indexer.collection.switch import finish_switch
from indexer.store import OK, Store, sqlite_url
from retrieval.index.device_search import DeviceExactSearch, cuda_if_present, fits
from retrieval.index.duplicates import near_duplicate_groups
from retrieval.index.plan import DEFAULT_MEMORY_MB, IndexConfig, outgrown, plan_for
from retrieval.index.search_index import SearchIndex
from retrieval.index.vector_index import IndexFileError
from retrieval.index.vector_rows import VectorRowsError
from retrieval.models import canonical_spec

log = logging.getLogger(__name__)

class Collection:
    """One data dir: the metadata store and the vector index of some folders."""

    def __init__(self, data_dir: str, database_url: str | None = None, index_config: IndexConfig | None = None):
        self.data_dir = os.path.abspath(data_dir)
        finish_switch(self.data_dir)  # a re-index with a new model that a crash cut short
        os.makedirs(self.data_dir, exist_ok=True)
        self.store = Store(database_url or sqlite_url(self.data_dir))
        self.index_config = index_config or IndexConfig()
        self._index: SearchIndex | None = None
        self._device_search = None  # exact search on a GPU, when the config asks and the vectors fit
        self._loading = threading.Lock()  # concurrent searches load the file once

    def close(self) -> None:
        self.store.close()

    def writer_lock(self, name: str = "images"):
        """Exclusive right to write one index file ("images" or "texts"): a saved index
        is a whole file, so two writers would each overwrite what the other added."""
        return writer_lock(self.data_dir, name)

    # -- model ------------------------------------------------------------------------

    @property
    def model_spec(self) -> str | None:
        return self.store.get_meta("model")

    @property
    def embed_dim(self) -> int | None:
        dim = self.store.get_meta("embed_dim")
        return int(dim) if dim else None

    def check_model(self, spec: str) -> None:
        built_with = self.model_spec
        if built_with is not None and canonical_spec(spec) != built_with:
            raise ModelMismatch(
                f"this collection ({self.data_dir}) was built with model {built_with!r}; "
                f"it cannot be used with {canonical_spec(spec)!r}. Use --model {built_with!r}, "
                f"or index into a new --data-dir with the other model."
            )

    def bind_model(self, spec: str, embed_dim: int) -> None:
        """Record the model on first use; refuse a different one afterwards."""
        self.check_model(spec)
        if self.model_spec is None or self.embed_dim is None:
            self.store.set_meta_many({"model": canonical_spec(spec), "embed_dim": str(int(embed_dim))})

    # -- folders ----------------------------------------------------------------------

    def follows_links(self, asked: bool | None = None) -> bool:
        """Whether links out of the indexed folders are followed (indexed and served):
        ``asked`` (then remembered), else what was asked last, else no."""
        if asked is not None:
            if self.store.get_meta("follow_links") != ("1" if asked else "0"):
                self.store.set_meta("follow_links", "1" if asked else "0")
            return asked
        return self.store.get_meta("follow_links") == "1"

    def holds_path(self, path: str) -> bool:
        """Whether ``path``, links resolved, lies in the indexed folders (or links out of
        them are followed): what the server may read and send."""
        return self.follows_links() or is_inside(path, [os.path.realpath(r) for r in self.store.roots()])

    # -- index ------------------------------------------------------------------------

    def has_index_file(self) -> bool:
        return SearchIndex.exists(self.data_dir)

    def load_index(self, repair: bool = False) -> SearchIndex:
        """The vector index; a missing file is an empty index.

        With ``repair``, a corrupt index file is rebuilt from the stored vectors (or, if
        those are missing too, moved aside so that indexing re-embeds what it held);
        without, the error is raised.
        """
        if self._index is not None:
            return self._index
        with self._loading:
            if self._index is None:
                self._index = self._read_index(repair)
            return self._index

    def _read_index(self, repair: bool) -> SearchIndex:
        dim = self.embed_dim
        if dim is None:
            raise CollectionError(f"{self.data_dir} holds no indexed collection yet: run `clipdex index FOLDER`")
        if not self.has_index_file():
            if repair and self.store.vector_ids():  # the index files were lost: the vectors were not
                return self._rebuilt_from_store(dim) or self._empty_index(dim)
            return self._empty_index(dim)
        try:
            index = SearchIndex.load(self.data_dir, self.index_config.nprobe)
        except IndexFileError as exc:
            if not repair:
                raise
            log.warning("%s; rebuilding it", exc)
            index = self._rebuilt_from_store(dim) or self._set_aside(dim)
        if index.dim != dim:
            raise CollectionError(f"index dimension {index.dim} does not match the collection's {dim}")
        return index

    def _rebuilt_from_store(self, dim: int) -> SearchIndex | None:
        """A new index from the stored float16 vectors of every indexed file; None when
        the vector store does not hold them all."""
        ids = sorted(self.store.vector_ids())
        index = self._empty_index(dim)
        if ids and index.rows.rows <= ids[-1]:
            return None
        try:
            index.rebuild(self._plan(len(ids), dim), ids)
        except VectorRowsError:
            return None
        log.warning("rebuilt the index of %s from its %d stored vectors (nothing re-embedded)", self.data_dir, len(ids))
        return index

    def _set_aside(self, dim: int) -> SearchIndex:
        for name in os.listdir(self.data_dir):
            if (name.startswith("vectors") and name.endswith(".faiss")) or name == "index.json":
                os.replace(os.path.join(self.data_dir, name), os.path.join(self.data_dir, name + ".corrupt"))
        log.warning("moved the index files of %s aside (*.corrupt): their files will be re-embedded", self.data_dir)
        return self._empty_index(dim)

    def _empty_index(self, dim: int) -> SearchIndex:
        return SearchIndex.create(self.data_dir, dim, self._chosen("shards", 1), self.index_config.nprobe)

    def rebuild_index(self) -> SearchIndex:
        """Build the index again from the stored vectors, as the index settings ask."""
        index = self.load_index(repair=True)
        index.rebuild(self._plan(len(index), index.dim), index.ids(), self._chosen("shards", index.shard_count))
        return index

    def _chosen(self, name: str, default):
        """An index setting: given now (and then remembered), else remembered, else the default."""
        given = getattr(self.index_config, name)
        if given is not None:
            if self.store.get_meta(f"index_{name}") != str(given):
                self.store.set_meta(f"index_{name}", str(given))
            return given
        remembered = self.store.get_meta(f"index_{name}")
        if remembered is None:
            return default
        return remembered if name == "kind" else int(remembered)

    def _plan(self, count: int, dim: int):
        return plan_for(count, dim, self._chosen("kind", "auto"), self._chosen("memory_mb", DEFAULT_MEMORY_MB))

    def save_index(self) -> None:
        """Save the index, rebuilt first as another type when the collection has outgrown
        its type (or the settings ask for another type or shard count)."""
        index = self._index
        if index is None:
            return
        plan = self._plan(len(index), index.dim)
        shards = self._chosen("shards", index.shard_count)
        if len(index) and (outgrown(index.kind, index.nlist, plan) or shards != index.shard_count):
            index.rebuild(plan, index.ids(), shards)
        else:
            index.save()

    # -- search -----------------------------------------------------------------------

    def search(
        self,
        queries: np.ndarray,
        k: int,
        offset: int = 0,
        min_score: float | None = None,
        filters: "SearchFilters | None" = None,
        timings: dict | None = None,
    ) -> list[list[Hit]]:
        """Best matches by dot product, ``offset`` of them skipped (pagination).

        ``timings``, when given, receives the seconds spent in the index and in the
        metadata lookup.
        """
        started = time.perf_counter()
        queries = np.atleast_2d(queries)
        if self.embed_dim is None:  # nothing indexed yet
            return [[] for _ in range(len(queries))]
        index = self.load_index()
        allowed = self.store.vector_ids_matching(filters) if filters and filters.active() else None
        if len(index) == 0 or (allowed is not None and not len(allowed)):
            return [[] for _ in range(len(queries))]
        on_device = self._searcher(index)
        scores, ids = (on_device or index).search(queries, k + offset, allowed_ids=allowed)
        scores, ids = scores[:, offset:], ids[:, offset:]
        searched = time.perf_counter()
        rows = self.store.rows_by_vector_ids({int(v) for v in ids.ravel() if v >= 0})
        if timings is not None:
            timings["search"] = searched - started
            timings["lookup"] = time.perf_counter() - searched
        results = []
        for score_row, id_row in zip(scores, ids):
            hits = []
            for score, vector_id in zip(score_row, id_row):
                row = rows.get(int(vector_id))
                if vector_id < 0 or row is None or (min_score is not None and score < min_score):
                    continue
                hits.append(hit_of_row(row, score))
            results.append(hits)
        return results

    def _searcher(self, index: SearchIndex):
        """The exact search on a GPU for this index, when the config asks for one and the
        vectors fit (made again when the index is another or has changed); None: FAISS searches."""
        device = self.index_config.search_device
        if device == "cpu" or self._device_search is False:
            return None
        current = self._device_search
        if current is not None and current[0] == (id(index), index.changes):
            return current[1]
        if device == "auto":
            device = cuda_if_present()
            if device is None:
                self._device_search = False  # nothing to gain on a CPU: FAISS
                return None
        ids = index.ids()
        if not fits(len(ids), index.dim, device):
            log.info("the vectors do not fit in %s's memory: FAISS searches", device)
            return None
        searcher = DeviceExactSearch(index.rows, ids, device)
        self._device_search = ((id(index), index.changes), searcher)
        return searcher

    def duplicates(self, threshold: float, neighbours: int = 16) -> list[list[Hit]]:
        """Groups of near-duplicate files (largest first); a hit's score is its similarity
        to the group's first file."""
        if self.embed_dim is None:
            return []
        index = self.load_index()
        groups = near_duplicate_groups(index, sorted(self.store.vector_ids()), threshold, neighbours)
        rows = self.store.rows_by_vector_ids({i for group in groups for i in group})
        out = []
        for group in groups:
            vectors = index.rows.get(group)
            scores = vectors @ vectors[0]
            out.append([hit_of_row(rows[i], score) for i, score in zip(group, scores) if i in rows])
        return [group for group in out if len(group) > 1]

    def vector_of_file(self, file_id: int) -> np.ndarray | None:
        """The stored vector of an indexed file, by its id; None when not indexed."""
        return self._vector_of_row(self.store.get_row(int(file_id)))

    def _vector_of_row(self, row: dict | None) -> np.ndarray | None:
        if not row or row["vector_id"] is None or row["status"] != OK:
            return None
        try:
            return self.load_index().reconstruct(row["vector_id"])
        except RuntimeError:  # indexed by a run whose index this process has not loaded yet
            return None

    def reload_index(self) -> None:
        """Read the saved index again (after another writer saved it) and swap it in:
        searches keep using the old one until the new one is loaded."""
        if self.embed_dim is not None:
            fresh = self._read_index(repair=False)
            self._index = fresh

    def vector_of_path(self, path: str) -> np.ndarray | None:
        """The stored vector of an indexed file, for image→image search by an indexed image."""
        return self._vector_of_row(self.store.row_by_path(os.path.abspath(path)))
