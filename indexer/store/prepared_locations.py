"""What showing where needs of each picture (retrieval/locate/prepared.py), in SQL: one row
per (image content, recipe), the record as bytes. Keyed by content, so a moved or copied
file keeps it; keyed by recipe (the model, and how windows and regions are made), so a new
model or recipe works everything out once more and never reads a stale record."""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError

from indexer.store.files import OK, Store
from indexer.store.schema import files_table, prepared_locations_table

TABLE = prepared_locations_table
CHUNK = 500  # keys a query binds at most


# In the driver's SQL, on the driver's cursor, not through SQLAlchemy's compiler and result
# rows: locating a search's hits takes a few hundredths of a millisecond a hit, and
# SQLAlchemy's part of this query cost as much as the query.
# The model is read in the query, so the recipe costs no query of its own.
_OF_FILES = ("SELECT files.id, prepared_locations.data FROM files JOIN prepared_locations "
             "ON prepared_locations.content_hash = files.content_hash WHERE files.id IN ({ids}) "
             "AND prepared_locations.recipe = (SELECT value FROM meta WHERE meta.key = 'model') || {mark}")


class PreparedLocations:
    def __init__(self, store: Store):
        self.store = store

    def get(self, hashes: list[str], recipe: str) -> dict[str, bytes]:
        """{content hash: record} of the hashes prepared by ``recipe``."""
        return {content: bytes(data) for content, data in self._each(hashes, recipe, TABLE.c.content_hash, TABLE.c.data)}

    def _kept(self, hashes: list[str], recipe: str) -> set[str]:
        """Which of the hashes ``recipe`` has prepared: their keys alone, not the records."""
        return {content for (content,) in self._each(hashes, recipe, TABLE.c.content_hash)}

    def _each(self, hashes: list[str], recipe: str, *columns):
        """``columns`` of the rows of these hashes and ``recipe``, a query per CHUNK keys."""
        wanted = sorted(set(hashes))
        with self.store.engine.connect() as conn:
            for start in range(0, len(wanted), CHUNK):
                yield from conn.execute(select(*columns).where(
                    TABLE.c.recipe == recipe, TABLE.c.content_hash.in_(wanted[start:start + CHUNK])))

    def of_files(self, file_ids: list[int], recipe_suffix: str) -> dict[int, bytes]:
        """{file id: record} of the files whose content the recipe of the collection's model
        and ``recipe_suffix`` prepared (one query: the model is read in it)."""
        ids = sorted(set(file_ids))
        if not ids:
            return {}
        mark = "?" if self.store.engine.dialect.paramstyle == "qmark" else "%s"  # SQLite; psycopg
        query = _OF_FILES.format(ids=", ".join([mark] * len(ids)), mark=mark)
        with contextlib.closing(self.store.engine.raw_connection()) as conn:  # (pooled; closing returns it)
            found = conn.driver_connection.execute(query, (*ids, recipe_suffix)).fetchall()
        return {file_id: bytes(data) for file_id, data in found}

    def put(self, records: dict[str, bytes], recipe: str) -> None:
        """Keep records (one already kept for a hash and recipe stays)."""
        if not records:
            return
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        known = self._kept(list(records), recipe)
        rows = [{"content_hash": content, "recipe": recipe, "data": data, "created_at": now}
                for content, data in records.items() if content not in known]
        if not rows:
            return
        try:
            with self.store.engine.begin() as conn:
                conn.execute(TABLE.insert(), rows)
        except IntegrityError:
            pass  # another process prepared the same pictures meanwhile: theirs are as good

    def unprepared(self, recipe: str) -> list[tuple[str, str]]:
        """(content hash, a path holding it) of indexed pictures ``recipe`` has not prepared."""
        f = files_table.c
        done = exists().where(TABLE.c.content_hash == f.content_hash, TABLE.c.recipe == recipe)
        query = select(f.content_hash, f.path).where(f.status == OK, f.content_hash.is_not(None), ~done).order_by(f.id)
        first_path: dict[str, str] = {}
        with self.store.engine.connect() as conn:
            for content, path in conn.execute(query):
                first_path.setdefault(content, path)  # copies of one picture are prepared once
        return list(first_path.items())

    def drop_stale(self, recipe: str) -> int:
        """Remove the records of content no file of the collection holds any more, and those
        of other recipes (another model's windows are of no use to this one's queries)."""
        f = files_table.c
        held = exists().where(f.content_hash == TABLE.c.content_hash)
        with self.store.engine.begin() as conn:
            return conn.execute(delete(TABLE).where(~held | (TABLE.c.recipe != recipe))).rowcount or 0
