"""What showing where needs of each picture, worked out when it was indexed
(`clipdex index --locate`): one row per (image content, recipe).

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "prepared_locations",
        sa.Column("content_hash", sa.String(64), primary_key=True),
        sa.Column("recipe", sa.String(512), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime),
    )


def downgrade() -> None:
    op.drop_table("prepared_locations")
