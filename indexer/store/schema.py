"""The tables of a collection's database, as SQLAlchemy Core sees them. The schema itself is
made and upgraded by the alembic migrations (migrations/versions); these mirror them.
Paths are kept as the raw bytes the OS uses, so names that are not valid UTF-8 survive."""

from __future__ import annotations

import os

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class FsPath(TypeDecorator):
    """A filesystem path stored as its OS bytes (lossless for non-UTF-8 names)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else os.fsencode(value)

    def process_result_value(self, value, dialect):
        return None if value is None else os.fsdecode(bytes(value))


metadata = MetaData()

meta_table = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

roots_table = Table(
    "roots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("path", FsPath, nullable=False, unique=True),
    sqlite_autoincrement=True,
)

files_table = Table(
    "files",
    metadata,
    # sqlite_autoincrement: ids are never reused, so a new file's vector id can never
    # collide with a vector id a moved file carried over from a deleted row.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("path", FsPath, nullable=False, unique=True),
    Column("ext", String(16), index=True),  # lower-case extension without the dot, for type filters
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("content_hash", String(64), index=True),
    Column("width", Integer),
    Column("height", Integer),
    Column("taken_at", DateTime),
    Column("status", String(16), nullable=False, index=True),
    Column("error", Text),
    Column("vector_id", BigInteger, unique=True),
    Column("indexed_at", DateTime),
    sqlite_autoincrement=True,
)


texts_table = Table(
    "texts",
    metadata,
    # The text collection for image->text search: captions, labels, product names...
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("text", Text, nullable=False),
    Column("source", Text),
    Column("added_at", DateTime),
    sqlite_autoincrement=True,
)


captions_table = Table(
    "captions",
    metadata,
    # Captions a captioner wrote, keyed by image content: a result is captioned once, and a
    # moved or copied file keeps its caption. ``captioner`` names the weights too.
    Column("content_hash", String(64), primary_key=True),
    Column("captioner", String(512), primary_key=True),
    Column("prompt", String(512), primary_key=True),  # "" for none
    Column("text", Text, nullable=False),
    Column("created_at", DateTime),
)


ocr_texts_table = Table(
    "ocr_texts",
    metadata,
    # Text an OCR engine read in a picture, keyed by image content and engine (whose name
    # carries its version): a picture is read once, and a moved or copied file keeps its text.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("content_hash", String(64), nullable=False, index=True),
    Column("engine", String(512), nullable=False),
    Column("lines", Text, nullable=False),  # JSON: the lines as Region dicts (text, box, corners, confidence)
    Column("text", Text, nullable=False),  # the lines' text, one a line
    Column("folded", Text, nullable=False),  # the text as forgiving search compares it (retrieval/ocr/matching.py)
    Column("error", Text),  # the picture could not be read; it is not tried again until it changes
    Column("created_at", DateTime),
    UniqueConstraint("content_hash", "engine", name="uq_ocr_texts_content_engine"),
    sqlite_autoincrement=True,
)


prepared_locations_table = Table(
    "prepared_locations",
    metadata,
    # What showing where needs of a picture (retrieval/locate/prepared.py), keyed by image
    # content and recipe (the model and how windows and regions are made): worked out once.
    Column("content_hash", String(64), primary_key=True),
    Column("recipe", String(512), primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", DateTime),
)


# What migration 0003 makes for text search beyond these tables: SQLite's FTS5 index (and the
# shadow tables FTS5 keeps) and its vocabulary, PostgreSQL's trigram index. Queries name them
# in SQL text (ocr_texts.py), not through this metadata.
SEARCH_INDEX_TABLES = ("ocr_fts", "ocr_fts_vocab")  # and ocr_fts_* (FTS5's own)
SEARCH_INDEXES = ("ix_ocr_texts_folded_trgm",)
