"""Moments in UTC: the clock every stored timestamp is taken from, and timestamps read back.

Harvester stores every timestamp in UTC. SQLite gives one back without its
zone; `aware` puts UTC back on it, so moments read from any database compare
with `now()`.
"""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """The current moment, in UTC."""
    return dt.datetime.now(dt.UTC)


def aware(moment: dt.datetime) -> dt.datetime:
    """`moment` with its zone; one read back without a zone is UTC, as Harvester stored it."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
