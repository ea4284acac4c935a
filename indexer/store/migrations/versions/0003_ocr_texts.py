"""Text read in pictures (OCR), cached by image content and engine, with an index for
forgiving lexical search: SQLite FTS5 with the trigram tokenizer, PostgreSQL pg_trgm.

Revision ID: 0003
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

log = logging.getLogger(__name__)

# The FTS5 index mirrors ocr_texts.folded (an external-content table kept in step by triggers).
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE ocr_fts USING fts5(folded, content='ocr_texts', content_rowid='id', tokenize='trigram')",
    # How many readings hold each trigram: a near-match search asks by the rarer ones.
    "CREATE VIRTUAL TABLE ocr_fts_vocab USING fts5vocab(ocr_fts, 'row')",
    "CREATE TRIGGER ocr_texts_ai AFTER INSERT ON ocr_texts BEGIN "
    "INSERT INTO ocr_fts(rowid, folded) VALUES (new.id, new.folded); END",
    "CREATE TRIGGER ocr_texts_ad AFTER DELETE ON ocr_texts BEGIN "
    "INSERT INTO ocr_fts(ocr_fts, rowid, folded) VALUES ('delete', old.id, old.folded); END",
    "CREATE TRIGGER ocr_texts_au AFTER UPDATE ON ocr_texts BEGIN "
    "INSERT INTO ocr_fts(ocr_fts, rowid, folded) VALUES ('delete', old.id, old.folded); "
    "INSERT INTO ocr_fts(rowid, folded) VALUES (new.id, new.folded); END",
]


def upgrade() -> None:
    op.create_table(
        "ocr_texts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("engine", sa.String(512), nullable=False),
        sa.Column("lines", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("folded", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime),
        sa.UniqueConstraint("content_hash", "engine", name="uq_ocr_texts_content_engine"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_ocr_texts_content_hash", "ocr_texts", ["content_hash"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        try:
            with bind.begin_nested():
                for statement in SQLITE_FTS:
                    bind.exec_driver_sql(statement)
        except sa.exc.OperationalError as exc:  # an SQLite built without FTS5 or before 3.34 (trigram)
            log.warning("no full-text index for text in pictures (%s): text searches scan every row", exc)
    elif bind.dialect.name == "postgresql":
        try:
            with bind.begin_nested():
                bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                bind.exec_driver_sql("CREATE INDEX ix_ocr_texts_folded_trgm ON ocr_texts USING gin (folded gin_trgm_ops)")
        except sa.exc.DBAPIError as exc:  # the account may not create extensions
            log.warning("no trigram index for text in pictures (%s): ask an administrator for "
                        "`CREATE EXTENSION pg_trgm`; text searches scan every row meanwhile", exc)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("ocr_texts_ai", "ocr_texts_ad", "ocr_texts_au"):
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        bind.exec_driver_sql("DROP TABLE IF EXISTS ocr_fts_vocab")
        bind.exec_driver_sql("DROP TABLE IF EXISTS ocr_fts")
    op.drop_table("ocr_texts")
