"""The collection's metadata in SQL (SQLAlchemy Core): one row per file, plus roots and meta.

SQLite in the data dir is the default; PostgreSQL (``postgresql+psycopg://...``) works the
same. The schema is made and upgraded by alembic migrations (migrations/, schema.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Iterator

from sqlalchemy import bindparam, create_engine, delete, event, func, select, update
from sqlalchemy.engine import URL, Engine

from indexer.data_dir import SQLITE_FILE
from indexer.store.schema import files_table, meta_table, roots_table

SCHEMA_VERSION = 1

PENDING, OK, FAILED = "pending", "ok", "failed"


@dataclass(frozen=True)
class FileState:
    id: int
    path: str
    size: int
    mtime_ns: int
    status: str
    content_hash: str | None
    vector_id: int | None


class StoreError(RuntimeError):
    pass


def sqlite_url(data_dir: str) -> URL:
    """The embedded database's URL, as an object: a string would be parsed again, and a
    folder named with '?', '#' or '%' would put the database somewhere else."""
    return URL.create("sqlite", database=os.path.join(os.path.abspath(data_dir), SQLITE_FILE))


def _ext(path: str) -> str:
    return os.path.splitext(path)[1].lower().lstrip(".")[:16]


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Store:
    def __init__(self, url: str | URL):
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        from indexer.store.migrate import SchemaTooNew, migration_lock, upgrade

        # Two first runs on a new data dir would both create the tables: one at a time.
        with migration_lock(self.engine):
            try:
                upgrade(self.engine)  # the same alembic migrations on SQLite and PostgreSQL
            except SchemaTooNew as exc:
                raise StoreError(str(exc)) from None
            version = self.get_meta("schema_version")
            if version is None:
                self.set_meta("schema_version", str(SCHEMA_VERSION))
        if version is not None and int(version) > SCHEMA_VERSION:
            raise StoreError(
                f"the collection database has schema version {version}; this clipdex "
                f"understands up to {SCHEMA_VERSION}: upgrade clipdex"
            )

    def close(self) -> None:
        self.engine.dispose()

    # -- meta -------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(meta_table.c.value).where(meta_table.c.key == key)).scalar()

    def set_meta(self, key: str, value: str) -> None:
        self.set_meta_many({key: value})

    def set_meta_many(self, values: dict[str, str]) -> None:
        """Set several keys in one transaction: all or none."""
        with self.engine.begin() as conn:
            for key, value in values.items():
                conn.execute(delete(meta_table).where(meta_table.c.key == key))
                conn.execute(meta_table.insert().values(key=key, value=value))

    # -- roots ------------------------------------------------------------------------

    def roots(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(roots_table.c.path).order_by(roots_table.c.id)).scalars())

    def add_roots(self, paths: Iterable[str]) -> None:
        known = set(self.roots())
        new = [p for p in dict.fromkeys(os.path.abspath(p) for p in paths) if p not in known]
        if new:
            with self.engine.begin() as conn:
                conn.execute(roots_table.insert(), [{"path": p} for p in new])

    # -- files ------------------------------------------------------------------------

    def file_states(self) -> dict[str, FileState]:
        c = files_table.c
        query = select(c.id, c.path, c.size, c.mtime_ns, c.status, c.content_hash, c.vector_id)
        with self.engine.connect() as conn:
            return {row.path: FileState(*row) for row in conn.execute(query)}

    def insert_pending(self, files: Iterable) -> None:
        rows = [
            {"path": f.path, "ext": _ext(f.path), "size": f.size, "mtime_ns": f.mtime_ns, "status": PENDING}
            for f in files
        ]
        with self.engine.begin() as conn:
            for start in range(0, len(rows), 5000):
                conn.execute(files_table.insert(), rows[start:start + 5000])

    def record_unusable(self, entries: Iterable[tuple[str, str]]) -> int:
        """(path, reason) of entries that look like images by name but are no files clipdex
        can read (a FIFO, a link that loops or leaves the folders): failed rows, so status
        lists them with the rest. Returns how many rows are new or changed."""
        entries = list(entries)
        if not entries:
            return 0
        c = files_table.c
        written = 0
        with self.engine.begin() as conn:
            for path, reason in entries:
                row = conn.execute(select(c.id, c.status, c.error).where(c.path == path)).first()
                if row is None:
                    conn.execute(files_table.insert().values(path=path, ext=_ext(path), size=0, mtime_ns=0,
                                                             status=FAILED, error=reason, indexed_at=_now()))
                elif (row.status, row.error) != (FAILED, reason):
                    conn.execute(update(files_table).where(c.id == row.id).values(
                        size=0, mtime_ns=0, status=FAILED, error=reason, vector_id=None, content_hash=None,
                        indexed_at=_now()))
                else:
                    continue
                written += 1
        return written

    def mark_changed(self, changes: Iterable[tuple[int, int, int]]) -> None:
        """(id, size, mtime_ns) of files whose content may have changed: back to pending."""
        with self.engine.begin() as conn:
            for file_id, size, mtime_ns in changes:
                conn.execute(
                    update(files_table)
                    .where(files_table.c.id == file_id)
                    .values(size=size, mtime_ns=mtime_ns, status=PENDING, error=None, vector_id=None)
                )

    def pending(self) -> list[tuple[int, str]]:
        c = files_table.c
        query = select(c.id, c.path).where(c.status == PENDING).order_by(c.id)
        with self.engine.connect() as conn:
            return [(row.id, row.path) for row in conn.execute(query)]

    def vector_ids(self) -> set[int]:
        c = files_table.c
        query = select(c.vector_id).where(c.status == OK, c.vector_id.is_not(None))
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def reset_missing_vectors(self, vector_ids: Iterable[int]) -> int:
        """Rows whose vector is not in the index go back to pending."""
        ids = list(vector_ids)
        with self.engine.begin() as conn:
            for start in range(0, len(ids), 500):
                conn.execute(
                    update(files_table)
                    .where(files_table.c.vector_id.in_(ids[start:start + 500]))
                    .values(status=PENDING, vector_id=None)
                )
        return len(ids)

    def get_row(self, file_id: int) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(files_table).where(files_table.c.id == file_id)).mappings().first()
            return dict(row) if row else None

    def paths_of(self, file_ids: Iterable[int]) -> dict[int, str]:
        """{file id: path} of these files (one query per 500)."""
        ids = sorted({int(i) for i in file_ids})
        out: dict[int, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                query = select(files_table.c.id, files_table.c.path).where(files_table.c.id.in_(ids[start:start + 500]))
                out.update((file_id, path) for file_id, path in conn.execute(query))
        return out

    def rows_by_vector_ids(self, vector_ids: Iterable[int]) -> dict[int, dict]:
        ids = [int(v) for v in vector_ids]
        out: dict[int, dict] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                query = select(files_table).where(files_table.c.vector_id.in_(ids[start:start + 500]))
                for row in conn.execute(query).mappings():
                    out[row["vector_id"]] = dict(row)
        return out

    def vector_ids_matching(self, filters):
        """Vector ids (int64 array) of indexed files that pass the filters (folder, types, dates)."""
        import numpy as np
        from sqlalchemy import and_

        c = files_table.c
        conditions = [c.status == OK, c.vector_id.is_not(None)]
        if filters.folder:
            folder = os.path.abspath(filters.folder).rstrip(os.sep)
            # Byte order: every path under "folder/" sorts between "folder/" and "folder0".
            conditions += [c.path >= folder + os.sep, c.path < folder + chr(ord(os.sep) + 1)]
        if filters.file_types:
            extensions = set()
            for kind in filters.file_types:
                kind = kind.lower().lstrip(".")
                extensions |= {"jpg", "jpeg"} if kind in ("jpg", "jpeg") else {"tif", "tiff"} if kind in ("tif", "tiff") else {kind}
            conditions.append(c.ext.in_(sorted(extensions)))
        if filters.date_from:
            conditions.append(c.taken_at >= filters.date_from)
        if filters.date_to:
            conditions.append(c.taken_at <= filters.date_to)
        with self.engine.connect() as conn:
            ids = list(conn.execute(select(c.vector_id).where(and_(*conditions))).scalars())
        return np.asarray(ids, dtype=np.int64)

    def ok_rows_with_content(self, content_hashes) -> list[dict]:
        """Rows of indexed files holding any of these contents (copies are rows of their own)."""
        hashes = sorted(set(content_hashes))
        out: list[dict] = []
        with self.engine.connect() as conn:
            for start in range(0, len(hashes), 500):
                # By content hash alone: with the status in the query too, SQLite (no statistics)
                # walks the status index, every indexed file, instead of the hash index.
                query = select(files_table).where(files_table.c.content_hash.in_(hashes[start:start + 500]))
                out.extend(dict(row) for row in conn.execute(query).mappings() if row["status"] == OK)
        return out

    def row_by_path(self, path: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(files_table).where(files_table.c.path == path)).mappings().first()
            return dict(row) if row else None

    def apply(self, batch: "RowUpdates") -> None:
        """Write one checkpoint's results in a single transaction."""
        c = files_table.c
        with self.engine.begin() as conn:
            # Deletes first: a moved file's new row takes over the vector id of its old row.
            ids = list(batch.deletes)
            for start in range(0, len(ids), 500):
                conn.execute(delete(files_table).where(c.id.in_(ids[start:start + 500])))
            # One executemany per set of columns: far fewer round trips than a statement a row.
            groups: dict[tuple, list[dict]] = {}
            for file_id, values in batch.updates.items():
                row = {"b_id": file_id, **{f"v_{k}": v for k, v in values.items()}}
                groups.setdefault(tuple(sorted(values)), []).append(row)
            for keys, rows in groups.items():
                statement = (
                    update(files_table)
                    .where(c.id == bindparam("b_id"))
                    .values({key: bindparam(f"v_{key}") for key in keys})
                )
                conn.execute(statement, rows)

    def counts(self) -> dict[str, int]:
        c = files_table.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.status, func.count()).group_by(c.status)).all()
        out = {PENDING: 0, OK: 0, FAILED: 0}
        out.update({status: n for status, n in rows})
        return out

    def file_types(self) -> dict[str, int]:
        """Indexed files by extension ("" for none), most first: what a type filter can offer."""
        c = files_table.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.ext, c.status, func.count()).group_by(c.ext, c.status)).all()
        counted = {}
        for ext, status, n in rows:
            if status == OK:
                counted[ext or ""] = counted.get(ext or "", 0) + n
        return dict(sorted(counted.items(), key=lambda item: (-item[1], item[0])))

    def last_indexed(self) -> datetime | None:
        """When a file was last indexed (UTC), or None before the first."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(files_table.c.indexed_at))).scalar()

    def failures(self, limit: int | None = None) -> list[tuple[str, str]]:
        c = files_table.c
        query = select(c.path, c.error).where(c.status == FAILED).order_by(c.path)
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [(row.path, row.error) for row in conn.execute(query)]

    def iter_ok(self) -> Iterator[dict]:
        with self.engine.connect() as conn:
            yield from (dict(r) for r in conn.execute(select(files_table).where(files_table.c.status == OK)).mappings())


@dataclass
class RowUpdates:
    """Row changes gathered between two checkpoints."""

    updates: dict
    deletes: set

    @classmethod
    def empty(cls) -> "RowUpdates":
        return cls(updates={}, deletes=set())

    def __len__(self) -> int:
        return len(self.updates) + len(self.deletes)

    def done(self, file_id: int, **values) -> None:
        values.setdefault("indexed_at", _now())
        self.updates[file_id] = values


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the API) never block the indexer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()

