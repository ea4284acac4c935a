"""Text read in pictures, in SQL: one row per (image content, OCR engine), and the
candidate search behind forgiving text search (SQLite FTS5 trigrams, PostgreSQL pg_trgm).

Rows are keyed by content, so a moved or copied file keeps its text and a rerun reads
nothing again; ``drop_orphans`` removes the text of content no file has any more.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import and_, bindparam, delete, exists, func, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from indexer.store.files import OK, Store
from indexer.store.schema import files_table, ocr_texts_table
from retrieval.ocr.base import full_text
from retrieval.ocr.matching import fold
from retrieval.regions import Region

TABLE = ocr_texts_table
NEAR_LIMIT = 200  # near-match candidates a query scores, at most
NEAR_WORD_SIMILARITY = 0.3  # PostgreSQL: pg_trgm word_similarity a near match shares with a query word


@dataclass
class Reading:
    """What an engine read in one picture (``error`` set when it could not)."""

    content_hash: str
    lines: list[Region]
    error: str | None = None


@dataclass
class StoredReading:
    id: int
    content_hash: str
    text: str  # the lines' text, one a line
    error: str | None
    lines_json: str

    @functools.cached_property
    def lines(self) -> list[Region]:
        """The lines with their boxes (parsed when asked for: a search scores many readings by text alone)."""
        return [Region.from_dict(d) for d in json.loads(self.lines_json)]


def _row_reading(row) -> StoredReading:
    return StoredReading(row.id, row.content_hash, row.text, row.error, row.lines)


class OcrTexts:
    def __init__(self, store: Store):
        self.store = store
        self._fts: bool | None = None

    @property
    def engine(self):
        return self.store.engine

    def put(self, readings: Iterable[Reading], engine: str) -> int:
        """Keep readings (those already kept for this content and engine are left); returns how many are new."""
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        rows = [{"content_hash": r.content_hash, "engine": engine, "lines": json.dumps([line.as_dict() for line in r.lines]),
                 "text": full_text(r.lines), "folded": fold(full_text(r.lines)), "error": r.error, "created_at": now}
                for r in readings]
        if not rows:
            return 0
        with self.engine.begin() as conn:
            known = set(conn.execute(select(TABLE.c.content_hash).where(
                TABLE.c.engine == engine, TABLE.c.content_hash.in_([r["content_hash"] for r in rows]))).scalars())
            fresh = list({r["content_hash"]: r for r in rows if r["content_hash"] not in known}.values())
            try:
                if fresh:
                    with conn.begin_nested():
                        conn.execute(TABLE.insert(), fresh)
            except IntegrityError:  # another process kept the same readings meanwhile: theirs are as good
                return 0
        return len(fresh)

    def unread(self, engine: str) -> list[tuple[str, str]]:
        """(content hash, a path holding it) of indexed pictures this engine has not read."""
        f = files_table.c
        read = exists().where(TABLE.c.content_hash == f.content_hash, TABLE.c.engine == engine)
        query = select(f.content_hash, f.path).where(f.status == OK, f.content_hash.is_not(None), ~read).order_by(f.id)
        with self.engine.connect() as conn:
            first_path: dict[str, str] = {}
            for content, path in conn.execute(query):
                first_path.setdefault(content, path)  # copies of one picture are read once
        return list(first_path.items())

    def counts(self, engine: str) -> dict[str, int]:
        """Readings of indexed pictures by this engine: read, with text, failed."""
        f = files_table.c
        held = select(f.content_hash).where(f.status == OK).distinct()
        query = select(func.count(), func.count().filter(TABLE.c.text != ""), func.count().filter(TABLE.c.error.is_not(None))
                       ).where(TABLE.c.engine == engine, TABLE.c.content_hash.in_(held))
        with self.engine.connect() as conn:
            read, with_text, failed = conn.execute(query).one()
        return {"read": read, "with_text": with_text, "failed": failed}

    def failures(self, engine: str, limit: int = 20) -> list[tuple[str, str]]:
        """(path, error) of indexed pictures this engine could not read."""
        f = files_table.c
        query = (select(f.path, TABLE.c.error).join(TABLE, TABLE.c.content_hash == f.content_hash)
                 .where(TABLE.c.engine == engine, TABLE.c.error.is_not(None), f.status == OK).order_by(f.path).limit(limit))
        with self.engine.connect() as conn:
            return [(row.path, row.error) for row in conn.execute(query)]

    def readings(self, content_hashes: Iterable[str], engine: str) -> dict[str, StoredReading]:
        hashes = sorted(set(content_hashes))
        out = {}
        with self.engine.connect() as conn:
            for start in range(0, len(hashes), 500):
                query = select(TABLE).where(TABLE.c.engine == engine, TABLE.c.content_hash.in_(hashes[start:start + 500]))
                out.update({row.content_hash: _row_reading(row) for row in conn.execute(query)})
        return out

    def drop_orphans(self) -> int:
        """Remove the text of content that no file of the collection holds any more."""
        f = files_table.c
        held = exists().where(f.content_hash == TABLE.c.content_hash)
        with self.engine.begin() as conn:
            return conn.execute(delete(TABLE).where(~held)).rowcount or 0

    def drop_for_files(self, file_ids: list[int]) -> int:
        """Remove the text of content that only these files hold (they changed or leave);
        called while their rows still name their old content."""
        f = files_table.c
        ids = sorted(set(file_ids))
        dropped = 0
        with self.engine.begin() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                hashes = select(f.content_hash).where(f.id.in_(chunk), f.content_hash.is_not(None))
                elsewhere = exists().where(f.content_hash == TABLE.c.content_hash, f.id.not_in(chunk))
                dropped += conn.execute(delete(TABLE).where(TABLE.c.content_hash.in_(hashes), ~elsewhere)).rowcount or 0
        return dropped

    # -- candidate search ---------------------------------------------------------------

    def has_trigram_index(self) -> bool:
        if self._fts is None:
            with self.engine.connect() as conn:
                if self.engine.dialect.name == "sqlite":
                    self._fts = "ocr_fts" in inspect(conn).get_table_names()
                elif self.engine.dialect.name == "postgresql":
                    self._fts = bool(conn.execute(text(
                        "SELECT 1 FROM pg_indexes WHERE indexname = 'ix_ocr_texts_folded_trgm'")).first())
                else:
                    self._fts = False
        return self._fts

    def candidates(self, engine: str, words: list[str], limit: int, enough: int | None = None) -> list[StoredReading]:
        """Readings that may match the folded query ``words``: first those holding every
        word of 3 characters or more (up to ``limit``), then, when they are fewer than
        ``enough``, those sharing the most trigrams with them (OCR errors, up to NEAR_LIMIT
        more); never a scan of every row when the trigram index exists and a word has 3
        characters."""
        long_words = [w for w in words if len(w) >= 3]
        dialect = self.engine.dialect.name
        enough = limit if enough is None else enough
        with self.engine.connect() as conn:
            if long_words and self.has_trigram_index() and dialect == "sqlite":
                ids = self._sqlite_candidates(conn, engine, long_words, limit, enough)
            elif long_words and self.has_trigram_index() and dialect == "postgresql":
                ids = self._postgres_candidates(conn, engine, long_words, limit, enough)
            else:  # short words, or no trigram index: a scan of the folded texts
                condition = and_(*(TABLE.c.folded.contains(w, autoescape=True) for w in words))
                ids = list(conn.execute(select(TABLE.c.id).where(TABLE.c.engine == engine, condition).limit(limit)).scalars())
            rows = conn.execute(select(TABLE).where(TABLE.c.id.in_(ids))).all() if ids else []
        order = {row_id: n for n, row_id in enumerate(ids)}
        return sorted((_row_reading(row) for row in rows), key=lambda r: order[r.id])

    def _sqlite_candidates(self, conn, engine: str, words: list[str], limit: int, enough: int) -> list[int]:
        query = text("SELECT t.id FROM ocr_fts JOIN ocr_texts t ON t.id = ocr_fts.rowid "
                     "WHERE ocr_fts MATCH :match AND t.engine = :engine ORDER BY rank LIMIT :limit")
        every = " AND ".join(f'"{w}"' for w in words)  # folded words are [a-z0-9]: nothing to escape
        ids = list(conn.execute(query, {"match": every, "engine": engine, "limit": limit}).scalars())
        if len(ids) < enough:  # near matches: the rarer half of the query's trigrams, best ranked first
            grams = sorted({w[i:i + 3] for w in words for i in range(len(w) - 2)})
            some = " OR ".join(f'"{g}"' for g in self._rarest(conn, grams))
            held = set(ids)
            more = conn.execute(query, {"match": some, "engine": engine, "limit": NEAR_LIMIT}).scalars()
            ids += [i for i in more if i not in held]
        return ids

    @staticmethod
    def _rarest(conn, grams: list[str]) -> list[str]:
        """The rarer half of the ``grams`` some reading holds (at least two): a reading with a
        slip or two still shares some of them, and common trigrams' long lists are not ranked."""
        try:
            counts = dict(conn.execute(text("SELECT term, doc FROM ocr_fts_vocab WHERE term IN :grams")
                                       .bindparams(bindparam("grams", expanding=True)), {"grams": grams}).all())
        except DBAPIError:  # no vocabulary table: all of them
            return grams
        held = [g for g in grams if counts.get(g)]  # a trigram no reading holds finds nothing (an OCR slip's own)
        return sorted(held, key=counts.get)[:max(2, (len(held) + 1) // 2)] or grams

    def _postgres_candidates(self, conn, engine: str, words: list[str], limit: int, enough: int) -> list[int]:
        every = and_(*(TABLE.c.folded.contains(w) for w in words))  # LIKE '%w%': the trigram index serves it
        ids = list(conn.execute(select(TABLE.c.id).where(TABLE.c.engine == engine, every).limit(limit)).scalars())
        if len(ids) < enough:
            query = text("SELECT id FROM ocr_texts WHERE engine = :engine AND :q <% folded "
                         "ORDER BY word_similarity(:q, folded) DESC LIMIT :limit")
            # (inside the connection's own transaction, which ends with it)
            conn.execute(text(f"SET LOCAL pg_trgm.word_similarity_threshold = {NEAR_WORD_SIMILARITY}"))
            held = set(ids)
            for word in words:
                more = conn.execute(query, {"engine": engine, "q": word, "limit": NEAR_LIMIT}).scalars()
                ids += [i for i in more if i not in held]
                held.update(ids)
        return ids
