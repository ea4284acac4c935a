"""Bring a store's schema up to date with alembic: the same migrations for SQLite and
PostgreSQL (indexer/migrations/versions). A database created before migrations existed
holds exactly the first revision's tables and is stamped with it."""

from __future__ import annotations

import contextlib
import fcntl
import os

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")
FIRST_REVISION = "0001"
ADVISORY_LOCK_KEY = 0x636C6970646578  # "clipdex": PostgreSQL's lock of the migrations


class SchemaTooNew(RuntimeError):
    pass


@contextlib.contextmanager
def migration_lock(engine: Engine):
    """One process migrates a database at a time; the others wait, then find it done.
    SQLite: a POSIX lock on a file beside the database; PostgreSQL: an advisory lock."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        try:
            handle = open(database + ".migrate.lock", "a")
        except OSError:  # a read-only data dir: nothing can migrate it anyway
            yield
            return
        with handle:
            fcntl.lockf(handle, fcntl.LOCK_EX)  # waits; freed when the process ends, however it ends
            try:
                yield
            finally:
                fcntl.lockf(handle, fcntl.LOCK_UN)
    elif engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
    else:
        yield


def newest_revision() -> str:
    """The head revision, read from the migration files' names (NNNN_what.py, one line of
    history) without importing alembic: a database already there opens in milliseconds."""
    names = os.listdir(os.path.join(MIGRATIONS_DIR, "versions"))
    return max(name.partition("_")[0] for name in names if name[:4].isdigit())


def current_revision(engine: Engine) -> str | None:
    """The database's revision, or None where it has no alembic_version table."""
    with engine.connect() as conn:
        if "alembic_version" not in inspect(conn).get_table_names():
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> str:
    """Migrate to the newest revision this clipdex knows; returns it."""
    head = newest_revision()
    if current_revision(engine) == head:
        return head
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    with engine.begin() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return head
        known = {revision.revision for revision in script.walk_revisions()}
        if current is not None and current not in known:
            raise SchemaTooNew(f"the collection database is at schema revision {current}, newer than this clipdex "
                               f"knows ({head}): upgrade clipdex")
        config.attributes["connection"] = conn
        if current is None and "files" in inspect(conn).get_table_names():
            command.stamp(config, FIRST_REVISION)  # made by create_all before there were migrations
        command.upgrade(config, "head")
    return head
