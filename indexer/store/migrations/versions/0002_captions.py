"""The caption cache: one row per (image content, captioner, prompt).

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "captions",
        sa.Column("content_hash", sa.String(64), primary_key=True),
        sa.Column("captioner", sa.String(512), primary_key=True),
        sa.Column("prompt", sa.String(512), primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime),
    )


def downgrade() -> None:
    op.drop_table("captions")
