"""The first schema: files, roots, meta, texts.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from indexer.store.schema import FsPath

revision = "0001"
down_revision = None


def _id():
    # SQLite: INTEGER PRIMARY KEY AUTOINCREMENT (ids never reused); elsewhere BIGINT identity.
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table("meta", sa.Column("key", sa.String(64), primary_key=True),
                    sa.Column("value", sa.Text, nullable=False))
    op.create_table("roots", sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("path", FsPath, nullable=False, unique=True), sqlite_autoincrement=True)
    op.create_table(
        "files", _id(),
        sa.Column("path", FsPath, nullable=False, unique=True),
        sa.Column("ext", sa.String(16)),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("content_hash", sa.String(64)),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("taken_at", sa.DateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("vector_id", sa.BigInteger, unique=True),
        sa.Column("indexed_at", sa.DateTime),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_files_ext", "files", ["ext"])
    op.create_index("ix_files_content_hash", "files", ["content_hash"])
    op.create_index("ix_files_status", "files", ["status"])
    op.create_table("texts", _id(), sa.Column("text", sa.Text, nullable=False), sa.Column("source", sa.Text),
                    sa.Column("added_at", sa.DateTime), sqlite_autoincrement=True)


def downgrade() -> None:
    for table in ("texts", "files", "roots", "meta"):
        op.drop_table(table)
