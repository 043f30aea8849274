"""keyed items: key, first_seen, last_seen, changed_run_id, and item_history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

Items stored before this revision have no key; each counts as first and last
seen when it was created, and as changed in its own run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "item_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_item_history_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_history")),
    )
    with op.batch_alter_table("item_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_history_item_id"), ["item_id"], unique=False)

    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("first_seen", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("changed_run_id", sa.Integer(), nullable=True))

    op.execute("update items set first_seen = created_at, last_seen = created_at, changed_run_id = run_id")

    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.alter_column("first_seen", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column("last_seen", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column("changed_run_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f("ix_items_changed_run_id"), ["changed_run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_items_spider_key"), ["spider", "key"], unique=True)
        batch_op.drop_index(batch_op.f("ix_items_spider"))  # (spider, key) serves it


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_items_spider"), ["spider"], unique=False)
        batch_op.drop_index(batch_op.f("ix_items_spider_key"))
        batch_op.drop_index(batch_op.f("ix_items_changed_run_id"))
        batch_op.drop_column("changed_run_id")
        batch_op.drop_column("last_seen")
        batch_op.drop_column("first_seen")
        batch_op.drop_column("key")

    with op.batch_alter_table("item_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_history_item_id"))

    op.drop_table("item_history")
