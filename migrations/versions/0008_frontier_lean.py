"""frontier: the url and depth columns dropped (the request JSON holds both)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Every frontier row wrote its URL and depth twice, in their own columns and in
the `request` JSON; nothing read the columns. The frontier is Harvester's own
bookkeeping (not one of the stable tables DESIGN.md lists), so they go, and
each row found costs that much less to write. Downgrading puts them back,
filled from the JSON.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("frontier", schema=None) as batch_op:
        batch_op.drop_column("depth")
        batch_op.drop_column("url")


def downgrade() -> None:
    with op.batch_alter_table("frontier", schema=None) as batch_op:
        batch_op.add_column(sa.Column("url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("depth", sa.Integer(), nullable=True))
    frontier = sa.table(
        "frontier", sa.column("request", sa.JSON()), sa.column("url", sa.Text()), sa.column("depth", sa.Integer())
    )
    op.execute(
        frontier.update().values(
            url=frontier.c.request["url"].as_string(),
            depth=sa.func.coalesce(frontier.c.request["depth"].as_integer(), 0),
        )
    )
    with op.batch_alter_table("frontier", schema=None) as batch_op:
        batch_op.alter_column("url", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("depth", existing_type=sa.Integer(), nullable=False)
