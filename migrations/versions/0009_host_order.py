"""frontier: a host's queued requests in claim order (priority descending, then found)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

A shared run's claim takes, for each host with a free slot, its first queued
requests by priority: with the (run_id, host, state) index every claim read and
sorted all the host's queued rows (a one-host crawl of 20,000 pages: most of
each worker's CPU). The index in that order gives them, and a host's highest
queued priority, without a sort. It starts with the columns of the index it
replaces.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("frontier", schema=None) as batch_op:
        batch_op.drop_index("ix_frontier_host_state")
        batch_op.create_index("ix_frontier_host_order", ["run_id", "host", "state", sa.text("priority DESC"), "id"])


def downgrade() -> None:
    with op.batch_alter_table("frontier", schema=None) as batch_op:
        batch_op.drop_index("ix_frontier_host_order")
        batch_op.create_index("ix_frontier_host_state", ["run_id", "host", "state"])
