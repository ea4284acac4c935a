"""The collection's texts for image->text search: rows in SQL, vectors in their own FAISS index.

Texts come from the API or from files (`clipdex index-texts`, files.py).
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timezone

import numpy as np
from sqlalchemy import bindparam, delete, func, select, update

from indexer.collection import Collection
from indexer.store import texts_table
from retrieval.index.vector_index import IndexFileError, VectorIndex

log = logging.getLogger(__name__)

TEXT_INDEX_FILE = "texts.faiss"
MAX_TEXT_CHARS = 10_000


class TextCollection:
    def __init__(self, collection: Collection):
        self.collection = collection
        self.store = collection.store
        self.path = os.path.join(collection.data_dir, TEXT_INDEX_FILE)
        self._index: VectorIndex | None = None
        self._stamp: int | None = None
        self._lock = threading.Lock()

    def _load(self, dim: int, encoder=None) -> VectorIndex:
        """The text index as saved. When the file is damaged or lost, the texts are still
        in the database: with an ``encoder`` they are embedded again (under the writer
        lock: only writers pass one), else the error says how to do that."""
        # Another process (`clipdex index-texts` beside a server) may have saved the file
        # since: read it again when it changed, so that no one writes back a stale copy.
        stamp = os.stat(self.path).st_mtime_ns if os.path.exists(self.path) else None
        if self._index is None or stamp != self._stamp:
            try:
                if stamp is None and self.count():
                    raise IndexFileError(f"{self.path} is missing")
                self._index = VectorIndex.load(self.path) if stamp is not None else VectorIndex(dim)
                self._repair()
            except IndexFileError as exc:
                if encoder is None:
                    raise IndexFileError(f"the text index cannot be read ({exc}); its {self.count()} texts are "
                                         f"kept in the database: `clipdex index-texts --rebuild` embeds them "
                                         f"again") from None
                log.warning("the text index cannot be read (%s); embedding its texts again", exc)
                self._rebuild(encoder)
            self._stamp = os.stat(self.path).st_mtime_ns if os.path.exists(self.path) else None
        return self._index

    def ensure_readable(self, encoder_factory) -> bool:
        """Embed the texts again if their index is damaged or lost (the model is made only
        then); returns whether it was."""
        if not self.collection.embed_dim:
            return False
        try:
            with self._lock:
                self._load(self.collection.embed_dim)
            return False
        except IndexFileError:
            self.rebuild(encoder_factory())
            return True

    def rebuild(self, encoder) -> int:
        """Embed every text again into a new text index (a damaged or lost one); returns
        how many."""
        self.collection.bind_model(encoder.spec, encoder.dim)
        with self._lock, self.collection.writer_lock("texts"):
            self._rebuild(encoder)
            self._stamp = os.stat(self.path).st_mtime_ns
            return len(self._index)

    def _rebuild(self, encoder, batch: int = 1024) -> None:
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(texts_table.c.id, texts_table.c.text).order_by(texts_table.c.id)).all()
        index = VectorIndex(encoder.dim)
        for start in range(0, len(rows), batch):
            part = rows[start:start + batch]
            index.add([int(i) for i, _ in part], encoder.embed_texts([text for _, text in part]))
        index.save(self.path)
        self._index = index

    def _repair(self) -> None:
        """Vectors saved for rows whose transaction never committed are dropped."""
        with self.store.engine.connect() as conn:
            rows = set(conn.execute(select(texts_table.c.id)).scalars())
        orphans = set(self._index.ids().tolist()) - rows
        if orphans:
            self._index.remove(sorted(orphans))

    def count(self) -> int:
        with self.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(texts_table)).scalar())

    def texts_by_source(self, prefix: str) -> dict[str, list[tuple[int, str]]]:
        """{source: [(text id, text), ...]} of the texts whose source starts with ``prefix``."""
        query = (select(texts_table.c.id, texts_table.c.text, texts_table.c.source)
                 .where(texts_table.c.source.startswith(prefix, autoescape=True)).order_by(texts_table.c.id))
        by_source: dict[str, list[tuple[int, str]]] = {}
        with self.store.engine.connect() as conn:
            for text_id, text, source in conn.execute(query):
                by_source.setdefault(source, []).append((int(text_id), text))
        return by_source

    def rename_sources(self, renames: dict[str, str]) -> None:
        """Give the texts of each old source the new one (their vectors stay as they are)."""
        if not renames:
            return
        pairs = [{"old": old, "new": new} for old, new in renames.items()]
        statement = (update(texts_table).where(texts_table.c.source == bindparam("old"))
                     .values(source=bindparam("new")))
        with self.store.engine.begin() as conn:
            conn.execute(statement, pairs)

    def ids_of_sources(self, sources: list[str]) -> list[int]:
        """The ids of the texts of any of ``sources``."""
        return [text_id for text_id, _ in self._ids_and_sources(sources)]

    def _ids_and_sources(self, sources: list[str]) -> list[tuple[int, str]]:
        wanted, pairs = sorted(set(sources)), []
        with self.store.engine.connect() as conn:
            for start in range(0, len(wanted), 500):  # databases bound the parameters of one query
                pairs += [(int(i), s) for i, s in conn.execute(
                    select(texts_table.c.id, texts_table.c.source)
                    .where(texts_table.c.source.in_(wanted[start:start + 500])))]
        return pairs

    def add(self, texts: list[str], encoder, source: str | list[str] | None = None) -> list[int]:
        """Add texts with one source for all, or a list of sources, one per text."""
        sources = source if isinstance(source, list) else [source] * len(texts)
        if len(sources) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(sources)} sources")
        for text in texts:
            if not text.strip():
                raise ValueError("texts must not be empty")
            if len(text) > MAX_TEXT_CHARS:
                raise ValueError(f"a text is longer than {MAX_TEXT_CHARS} characters")
        self.collection.bind_model(encoder.spec, encoder.dim)
        vectors = encoder.embed_texts(texts)
        with self._lock, self.collection.writer_lock("texts"):
            index = self._load(encoder.dim, encoder)
            now = datetime.now(timezone.utc).replace(tzinfo=None)
            with self.store.engine.begin() as conn:
                ids = [
                    int(conn.execute(texts_table.insert().values(text=t, source=src, added_at=now)).inserted_primary_key[0])
                    for t, src in zip(texts, sources)
                ]
                # Vectors are saved inside the transaction: if the commit fails the saved
                # vectors are orphans, which the next load drops.
                index.add(ids, vectors)
                index.save(self.path)
            self._stamp = os.stat(self.path).st_mtime_ns
        return ids

    def remove(self, ids: list[int]) -> int:
        with self._lock, self.collection.writer_lock("texts"):
            removed = 0
            with self.store.engine.begin() as conn:
                for start in range(0, len(ids), 500):  # databases bound the parameters of one query
                    chunk = ids[start:start + 500]
                    removed += conn.execute(delete(texts_table).where(texts_table.c.id.in_(chunk))).rowcount
            if self.collection.embed_dim:
                index = self._load(self.collection.embed_dim)
                index.remove(ids)
                index.save(self.path)
                self._stamp = os.stat(self.path).st_mtime_ns
        return removed

    def best_by_source(self, vector: np.ndarray, depth: int, prefix: str) -> dict[str, float]:
        """Among the ``depth`` texts nearest ``vector``, the best score of each source that
        starts with ``prefix``."""
        best: dict[str, float] = {}
        for hit in self.search(vector, depth):
            source = hit["source"] or ""
            if source.startswith(prefix) and hit["score"] > best.get(source, -2.0):
                best[source] = hit["score"]
        return best

    def scores_of_sources(self, vector: np.ndarray, sources: list[str]) -> dict[str, float]:
        """The best score against ``vector`` of the texts of each of ``sources``, exactly
        (from their stored vectors), whatever their rank."""
        if not sources or not self.collection.embed_dim:
            return {}
        pairs = self._ids_and_sources(sources)
        best: dict[str, float] = {}
        with self._lock:
            index = self._load(self.collection.embed_dim)
            for text_id, source in pairs:
                try:
                    score = float(index.reconstruct(int(text_id)) @ vector)
                except RuntimeError:  # a row whose vector was never saved
                    continue
                best[source] = max(score, best.get(source, -2.0))
        return best

    def search(self, vector: np.ndarray, k: int, offset: int = 0) -> list[dict]:
        if not self.collection.embed_dim:
            return []
        with self._lock:
            index = self._load(self.collection.embed_dim)
            if len(index) == 0 or offset >= len(index):
                return []
            scores, ids = index.search(vector, k + offset)
        pairs = [(float(s), int(i)) for s, i in zip(scores[0], ids[0]) if i >= 0][offset:offset + k]
        with self.store.engine.connect() as conn:
            query = select(texts_table).where(texts_table.c.id.in_([i for _, i in pairs]))
            rows = {row["id"]: dict(row) for row in conn.execute(query).mappings()}
        return [{"id": i, "text": rows[i]["text"], "source": rows[i]["source"], "score": s} for s, i in pairs if i in rows]
