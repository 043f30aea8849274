"""The harvest database's tables, as SQLAlchemy Core metadata.

Alembic revisions in `migrations/` create and evolve these; `alembic check`
in the tests keeps the two in step. The columns listed in DESIGN.md are the
contract users query.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from harvester.storage.backend import Json as JsonType

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)
Json = JsonType()
Timestamp = DateTime(timezone=True)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("spider", String(200), nullable=False),
    Column("job", String(200), nullable=True),
    Column("started_at", Timestamp, nullable=False),
    Column("finished_at", Timestamp, nullable=True),
    Column("status", String(20), nullable=False),
    Column("stats", Json, nullable=False),
    Column("owner", String(200), nullable=True),  # host:pid of the process running it
    Column("heartbeat_at", Timestamp, nullable=True),  # renewed at each write; a stale one is a dead run
    Index(None, "spider", "started_at"),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),  # indexed below
    Column("spider", String(200), nullable=False),  # indexed by (spider, key) below
    Column("url", Text, nullable=True),
    Column("data", Json, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    # Keyed items (a spider's `item_key`, an item class's `key`) are one row per spider and
    # key, updated in place; keyless items have no key and are appended. NULLs are distinct in
    # a unique index on SQLite and PostgreSQL alike, so the index binds keyed rows only.
    Column("key", String(255), nullable=True),
    Column("first_seen", Timestamp, nullable=False),
    Column("last_seen", Timestamp, nullable=False),  # run_id is the run that saw it last
    Column("changed_run_id", Integer, nullable=False, index=True),  # the run its data last changed in
    # A keyless item's place in its run: the frontier row of the request it came from and its
    # number among that request's items. A request whose items were partly written when the
    # run stopped (a long feed) is done again on resume; its items already stored are skipped.
    Column("source", Integer, nullable=True),
    Column("seq", Integer, nullable=True),
    Index(None, "spider", "key", unique=True),
    Index(None, "run_id", "source", "seq", unique=True),
)

# Earlier versions of keyed items: `data` as stored by run `run_id`, replaced at `changed_at`.
item_history = Table(
    "item_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("run_id", Integer, nullable=False),
    Column("data", Json, nullable=False),
    Column("changed_at", Timestamp, nullable=False),
)

pages = Table(
    "pages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("final_url", Text, nullable=True),
    Column("status", Integer, nullable=False),
    Column("content_type", String(200), nullable=True),
    Column("size", Integer, nullable=False),
    Column("fetched_at", Timestamp, nullable=False),
    Column("redirects", Json, nullable=True),  # URLs passed through before final_url, oldest first
)

errors = Table(
    "errors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("url", Text, nullable=True),
    Column("kind", String(40), nullable=False),
    Column("message", Text, nullable=False),
    Column("at", Timestamp, nullable=False),
)

# Validators and a compressed copy of each page fetched before, per spider, for
# conditional re-fetching (If-None-Match / If-Modified-Since; a 304 is served from here).
http_cache = Table(
    "http_cache",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("spider", String(200), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("etag", Text, nullable=True),
    Column("last_modified", Text, nullable=True),
    Column("headers", Json, nullable=False),
    Column("body", LargeBinary, nullable=False),  # zlib-compressed
    Column("stored_at", Timestamp, nullable=False),
    UniqueConstraint("spider", "fingerprint"),
)

# The persistent frontier: every request of a run, once per fingerprint, as JSON
# (callbacks by name). A claim is a lease: `worker` holds it until `lease_until`
# (renewed while the request is in progress), and `token` names that one claim, so
# the outcome of a request whose lease was taken over by another worker is not written.
frontier = Table(
    "frontier",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("fingerprint", String(80), nullable=False),
    Column("host", String(255), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("request", Json, nullable=False),  # the request (its url, depth, callback ...): what is read back
    Column("state", String(10), nullable=False),  # queued | claimed | done
    Column("worker", String(64), nullable=True),
    Column("lease_until", Timestamp, nullable=True),
    Column("token", String(32), nullable=True),
    UniqueConstraint("run_id", "fingerprint"),
)
# Claims take the highest priority first, then the order found: this order, so no sort.
Index("ix_frontier_claim_order", frontier.c.run_id, frontier.c.state, frontier.c.priority.desc(), frontier.c.id)
# A host's queued and claimed requests, in claim order (host-aware claims of a shared run): no sort.
Index(
    "ix_frontier_host_order",
    frontier.c.run_id,
    frontier.c.host,
    frontier.c.state,
    frontier.c.priority.desc(),
    frontier.c.id,
)

# One row per host of a run: the host's slot lock in a shared run, and the earliest moment
# a worker may start its next request (delay, Crawl-delay, Retry-After, for every worker).
frontier_hosts = Table(
    "frontier_hosts",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("host", String(255), primary_key=True),
    Column("next_start", Timestamp, nullable=True),
)

# The live workers of a shared run: who they are and when they last renewed their leases.
workers = Table(
    "workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("heartbeat_at", Timestamp, nullable=False),
)
