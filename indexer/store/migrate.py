"""Bring a store's schema up to date with alembic: the same migrations for SQLite and
PostgreSQL (indexer/migrations/versions). A database created before migrations existed
holds exactly the first revision's tables and is stamped with it."""

from __future__ import annotations

import os

from sqlalchemy import inspect
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")
FIRST_REVISION = "0001"


class SchemaTooNew(RuntimeError):
    pass


def upgrade(engine: Engine) -> str:
    """Migrate to the newest revision this clipdex knows; returns it."""
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
