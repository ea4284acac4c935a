"""All SQL of a collection: the schema, file rows, roots and meta, and the migrations that
make and upgrade the schema on SQLite and PostgreSQL alike.

Modules (test file in brackets):

- schema.py    the tables (files, roots, meta, texts, captions) as SQLAlchemy Core sees them (tests/unit/indexer/test_store.py)
- files.py     Store: file rows, roots, meta; batched row updates (tests/unit/indexer/test_store.py)
- ocr_texts.py text read in pictures, by content and engine; trigram candidate search (tests/integration/test_ocr_collection.py)
- prepared_locations.py what showing where needs of each picture, by content and recipe (tests/integration/test_locate_prepared.py)
- migrate.py   alembic upgrade on open; databases made before migrations existed (tests/unit/indexer/test_store.py)
- migrations/  alembic's environment and the versions
"""

from indexer.store.files import (
    FAILED,
    OK,
    PENDING,
    SQLITE_FILE,
    FileState,
    RowUpdates,
    Store,
    StoreError,
    sqlite_url,
)
from indexer.store.schema import captions_table, files_table, meta_table, metadata, roots_table, texts_table

__all__ = ["FAILED", "OK", "PENDING", "SQLITE_FILE", "FileState", "RowUpdates", "Store", "StoreError", "captions_table",
           "files_table", "meta_table", "metadata", "roots_table", "sqlite_url", "texts_table"]
