"""A collection's data dir: its name, finding it, and what its embedded database records,
read with the standard library's sqlite3 alone.

Nothing here imports SQLAlchemy (a third of a second to import): a cold `clipdex search`
learns its collection and model from here, and starts opening its text tower while the
rest of the collection opens (api/cli/search.py).
"""

from __future__ import annotations

import os
import pathlib
import sqlite3

DATA_DIR_NAME = ".clipdex"
SQLITE_FILE = "clipdex.sqlite3"  # the embedded database, in the data dir


def default_data_dir(folder: str) -> str:
    return os.path.join(os.path.abspath(folder), DATA_DIR_NAME)


def find_data_dir(start: str | None = None) -> str | None:
    """The nearest ``.clipdex`` folder at or above ``start`` (like git finds .git) that
    holds a collection: one that was never indexed into does not take over."""
    here = os.path.abspath(start or os.getcwd())
    while True:
        candidate = os.path.join(here, DATA_DIR_NAME)
        if os.path.isdir(candidate) and _was_indexed(candidate):
            return candidate
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def recorded_model(data_dir: str) -> str | None:
    """The model spec the embedded database of ``data_dir`` records, read without changing
    anything; None where there is no such database, it records none, or it cannot be read."""
    try:
        row = _read_meta(data_dir, "model")
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _was_indexed(data_dir: str) -> bool:
    """Whether an embedded (SQLite) collection has a model; a data dir whose database lives
    elsewhere (PostgreSQL) has index files instead."""
    if not os.path.exists(os.path.join(data_dir, SQLITE_FILE)):
        return os.path.exists(os.path.join(data_dir, "index.json")) or any(
            name.startswith("vectors") for name in os.listdir(data_dir))
    try:
        return _read_meta(data_dir, "model") is not None
    except sqlite3.Error:
        return True  # unreadable here: let opening it say what is wrong


def _read_meta(data_dir: str, key: str) -> tuple | None:
    """The meta row ``key`` of the embedded database (read-only; raises sqlite3.Error where
    there is none or it cannot be read)."""
    database = os.path.join(os.path.abspath(data_dir), SQLITE_FILE)
    if not os.path.exists(database):
        raise sqlite3.OperationalError(f"no database at {database}")
    # A URI, so that mode=ro applies; as_uri escapes the '?' and '#' a folder name may hold.
    conn = sqlite3.connect(pathlib.Path(database).as_uri() + "?mode=ro", uri=True)
    try:
        return conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    finally:
        conn.close()
