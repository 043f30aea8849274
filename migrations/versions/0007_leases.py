"""shared runs: lease tokens, host slots, live workers

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

A claim gets a token, so the outcome of a request whose lease another worker
took over is not written. `frontier_hosts` is used now: one row per host of a
run, locked while a worker claims from that host, holding the earliest next
start; its `in_flight` counter is dropped (what is in flight is counted from
the host's claimed rows, which a dead worker cannot leave wrong). `workers`
lists a shared run's live workers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("frontier", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_frontier_host_state", ["run_id", "host", "state"])
    with op.batch_alter_table("frontier_hosts", schema=None) as batch_op:
        batch_op.drop_column("in_flight")
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_workers_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workers_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workers_run_id"))
    op.drop_table("workers")
    with op.batch_alter_table("frontier_hosts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("in_flight", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("frontier", schema=None) as batch_op:
        batch_op.drop_index("ix_frontier_host_state")
        batch_op.drop_column("token")
