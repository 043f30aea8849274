"""Bad days: a locked, full, vanished or replaced database.

A database locked by another process, or full, is retried for `[storage]
patience` seconds: a shorter trouble is ridden through (every page fetched
once); a longer one fails the run with one line on stderr and status
`failed`, and `--resume` then completes it, fetching again at most the
requests that were in flight or waiting to be written. The locks are real (`BEGIN IMMEDIATE` held by
another connection) and so is the full disk (SQLite's `max_page_count`, set
by a project pipeline on the crawl's own connections).
"""

from __future__ import annotations

import collections
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from conftest import REPO, Handler, Project, Site, follow_spider

PAGES = 40
CONCURRENCY = 2
# Requests that may be fetched again after the database gave out: those in flight, and the finished
# ones still waiting to be written (at most 4 at this concurrency; new requests wait for them).
AT_STAKE = CONCURRENCY + 4

# A project pipeline that fills the "disk" once `-a full_after=N` items went by, for `-a full_for`
# seconds (0: for good): SQLite's page limit, set on each connection the crawl takes from its pool.
FULL = """
import time

from sqlalchemy import event


class Full:
    def open(self, run):
        self.after = int(getattr(run.spider, "full_after", 0) or 0)
        self.seconds = float(getattr(run.spider, "full_for", 0) or 0)
        self.count, self.since = 0, None
        event.listen(run.engine, "checkout", self.checkout)

    def full(self):
        if self.since is None:
            return False
        return not self.seconds or time.monotonic() - self.since < self.seconds

    def checkout(self, connection, record, proxy):
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages if self.full() else 1073741823}")

    def process_item(self, item, run):
        self.count += 1
        if self.after and self.count == self.after:
            self.since = time.monotonic()
        return item
"""


def serve(site: Site, on_hit=None) -> None:
    def page(handler: Handler) -> None:
        if on_hit is not None:
            on_hit(sum(site.hits.values()))
        time.sleep(0.02)
        handler.send_text(200, f"<h1>{handler.path}</h1>")

    site.page("/", "".join(f'<a href="/p/{i}">{i}</a>' for i in range(PAGES)))
    for i in range(PAGES):
        site.routes[f"/p/{i}"] = page


def crawl(project: Project, site: Site, *extra: str, patience: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "harvester",
            "crawl",
            "follow",
            "-a",
            f"base={site.url}",
            "-s",
            f"fetch.concurrency={CONCURRENCY}",
            "-s",
            f"fetch.per_host={CONCURRENCY}",
            "-s",
            f"storage.patience={patience}",
            *extra,
        ],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def lock_for(project: Project, seconds: float) -> None:
    """Take the database's write lock as another process would, and hold it for `seconds`."""
    connection = sqlite3.connect(project.root / "harvest.db", timeout=10, isolation_level=None, check_same_thread=False)
    connection.execute("BEGIN IMMEDIATE")

    def release() -> None:
        time.sleep(seconds)
        connection.execute("COMMIT")
        connection.close()

    threading.Thread(target=release, daemon=True).start()


def page_hits(site: Site) -> collections.Counter[str]:
    return collections.Counter({path: n for path, n in site.hits.items() if path.startswith("/p/")})


def assert_complete(project: Project, site: Site, repeated: int) -> None:
    """Every page fetched (at most `repeated` twice), stored once, and the run's figures match its rows."""
    hits = page_hits(site)
    assert len(hits) == PAGES
    assert sum(n - 1 for n in hits.values()) <= repeated
    assert site.hits["/"] == 1
    assert project.sql("select count(*), count(distinct json_extract(data, '$.page')) from items") == [(PAGES, PAGES)]
    assert project.sql("select count(*), count(distinct url) from pages") == [(PAGES + 1, PAGES + 1)]
    assert project.sql("select id, status from runs") == [(1, "finished")]
    (stats,) = project.sql("select stats from runs")[0]
    figures = json.loads(stats)
    assert (figures["pages"], figures["items"], figures["errors"]) == (PAGES + 1, PAGES, 0)
    assert figures["bytes"] == project.sql("select sum(size) from pages")[0][0]


def one_failure_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if "failed" in line or "error" in line.lower()]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def follow(project: Project) -> Project:
    project.spider("follow", follow_spider("follow"))
    return project


def test_a_database_locked_for_a_while_is_waited_for_and_every_page_fetched_once(follow: Project, site: Site):
    serve(site, lambda hits: hits == 10 and lock_for(follow, 5.0))  # SQLite itself waits 2 s of it
    result = crawl(follow, site, patience=8)
    assert result.returncode == 0, result.stderr
    assert "run 1 finished" in result.stdout
    assert "database is locked" in result.stderr and "works again" in result.stderr
    assert "Traceback" not in result.stderr
    assert_complete(follow, site, repeated=0)


def test_a_database_locked_too_long_fails_the_run_and_resume_completes_it(follow: Project, site: Site):
    serve(site, lambda hits: hits == 10 and lock_for(follow, 4.5))
    first = crawl(follow, site, patience=3)
    assert first.returncode == 1
    line = one_failure_line(first.stderr)
    assert line.startswith("harvester: error: run 1 failed: cannot ") and "database is locked" in line
    assert "finished" not in first.stdout
    assert follow.sql("select status from runs") == [("failed",)]
    assert len(page_hits(site)) < PAGES

    second = crawl(follow, site, "--resume", patience=3)
    assert second.returncode == 0, second.stderr
    assert "run 1 finished" in second.stdout
    assert_complete(follow, site, repeated=AT_STAKE)


def test_a_disk_full_for_a_while_is_waited_for_and_every_page_fetched_once(follow: Project, site: Site):
    serve(site)
    follow.write("full.py", FULL)
    result = crawl(
        follow,
        site,
        "-s",
        'project.pipelines=["full", "store"]',
        "-a",
        "full_after=10",
        "-a",
        "full_for=2",
        patience=30,
    )
    assert result.returncode == 0, result.stderr
    assert "database or disk is full" in result.stderr and "works again" in result.stderr
    assert_complete(follow, site, repeated=0)


def test_a_full_disk_fails_the_run_and_resume_completes_it(follow: Project, site: Site):
    serve(site)
    follow.write("full.py", FULL)
    pipelines = ("-s", 'project.pipelines=["full", "store"]')
    first = crawl(follow, site, *pipelines, "-a", "full_after=10", patience=2)
    assert first.returncode == 1
    line = one_failure_line(first.stderr)
    assert line.startswith("harvester: error: run 1 failed: cannot ") and "database or disk is full" in line
    assert follow.sql("select status from runs") == [("failed",)]
    assert len(page_hits(site)) < PAGES

    second = crawl(follow, site, *pipelines, "--resume", patience=2)  # the disk has room again
    assert second.returncode == 0, second.stderr
    assert "run 1 finished" in second.stdout
    assert_complete(follow, site, repeated=AT_STAKE)


def test_a_run_without_resume_after_a_failed_one_starts_anew(follow: Project, site: Site):
    serve(site)
    follow.write("full.py", FULL)
    pipelines = ("-s", 'project.pipelines=["full", "store"]')
    assert crawl(follow, site, *pipelines, "-a", "full_after=5", patience=0).returncode == 1
    again = crawl(follow, site, *pipelines, patience=0)
    assert again.returncode == 0, again.stderr
    assert follow.sql("select id, status from runs") == [(1, "failed"), (2, "finished")]


def test_a_database_file_deleted_under_the_run_fails_it(follow: Project, site: Site):
    def delete(hits: int) -> None:
        if hits == 10:
            for name in ("harvest.db", "harvest.db-wal", "harvest.db-shm"):
                (follow.root / name).unlink(missing_ok=True)

    serve(site, delete)
    result = crawl(follow, site, patience=2)
    assert result.returncode == 1
    line = one_failure_line(result.stderr)
    assert line.startswith("harvester: error: run 1 failed: the database file ")
    assert "vanished during the run" in line or "was replaced during the run" in line
    assert "finished" not in result.stdout


def test_a_database_file_replaced_under_the_run_fails_it(follow: Project, site: Site):
    def replace(hits: int) -> None:
        if hits == 10:  # a copy of the database put in its place, as a restore from backup would
            copy = sqlite3.connect(follow.root / "copy.db")
            with sqlite3.connect(follow.root / "harvest.db") as live:
                live.backup(copy)
            copy.close()
            os.replace(follow.root / "copy.db", follow.root / "harvest.db")

    serve(site, replace)
    result = crawl(follow, site, patience=2)
    assert result.returncode == 1
    line = one_failure_line(result.stderr)
    assert line.startswith("harvester: error: run 1 failed: the database file ")
    assert "was replaced during the run" in line
    assert "finished" not in result.stdout
    assert follow.sql("select status from runs") == [("running",)]  # as copied: the run did not close in it


def test_a_database_locked_when_the_crawl_starts_is_waited_for_or_one_line(follow: Project, site: Site):
    serve(site)
    assert crawl(follow, site, patience=0).returncode == 0  # the database exists

    lock_for(follow, 2.0)
    waited = crawl(follow, site, patience=10)
    assert waited.returncode == 0, waited.stderr
    assert "run 2 finished" in waited.stdout

    lock_for(follow, 4.0)
    refused = crawl(follow, site, patience=1)
    assert refused.returncode == 2, refused.stderr  # the run never started: unreachable database
    line = one_failure_line(refused.stderr)
    assert line.startswith("harvester: error: cannot ") and "database is locked" in line
    time.sleep(4.0)
    assert follow.sql("select id, status from runs") == [(1, "finished"), (2, "finished")]
