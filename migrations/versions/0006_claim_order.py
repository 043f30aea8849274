"""claim order index; items.run_id served by the (run_id, source, seq) index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

Claims take queued requests by priority, highest first, then in the order
found: an index in that order (priority descending) gives them without
sorting the run's whole queue at every claim. The plain index on
items.run_id repeated the first column of the unique (run_id, source, seq)
one and cost every insert its upkeep.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("frontier", schema=None) as batch_op:
        batch_op.drop_index("ix_frontier_run_id_state_priority_id")
        batch_op.create_index("ix_frontier_claim_order", ["run_id", "state", sa.text("priority DESC"), "id"])
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_run_id")


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index("ix_items_run_id", ["run_id"])
    with op.batch_alter_table("frontier", schema=None) as batch_op:
        batch_op.drop_index("ix_frontier_claim_order")
        batch_op.create_index("ix_frontier_run_id_state_priority_id", ["run_id", "state", "priority", "id"])
