"""Database URLs for tests that must pass on SQLite and on PostgreSQL.

PostgreSQL runs when CLIPDEX_TEST_POSTGRES_URL names a server (an account that may create
databases; .ci/run starts one on loopback): each test gets a database of its own,
dropped afterwards. Without the variable, the PostgreSQL cases are skipped, saying why.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

POSTGRES_ENV = "CLIPDEX_TEST_POSTGRES_URL"


@contextmanager
def fresh_database(kind: str, tmp_path):
    """A URL of an empty database of ``kind`` ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    import pytest

    admin_url = os.environ.get(POSTGRES_ENV)
    if not admin_url:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL server to test against")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"clipdex_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
