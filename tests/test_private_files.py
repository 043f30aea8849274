"""Files holding what was fetched are created 0600 whatever the umask: the database, its -wal
and -shm files (seen while the crawl runs), and every `-o` export."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, Project, Site, follow_spider


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def crawl(project: Project, site: Site, umask: int, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harvester", "crawl", "follow", "-a", f"base={site.url}", *extra],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=lambda: os.umask(umask),
    )


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_the_database_and_its_wal_and_shm_are_0600(project: Project, site: Site, umask: int):
    seen: dict[str, int | None] = {}

    def page(handler):  # the crawl is running: its database is open, in WAL mode
        for name in ("harvest.db", "harvest.db-wal", "harvest.db-shm"):
            path = project.root / name
            seen[name] = mode(path) if path.exists() else None
        handler.send_text(200, "<h1>one</h1>")

    site.page("/", '<a href="/p/1">1</a>')
    site.routes["/p/1"] = page
    project.spider("follow", follow_spider("follow"))
    result = crawl(project, site, umask)
    assert result.returncode == 0, result.stderr
    assert seen == {"harvest.db": 0o600, "harvest.db-wal": 0o600, "harvest.db-shm": 0o600}
    assert mode(project.root / "harvest.db") == 0o600
    assert project.sql("select count(*) from items") == [(1,)]


@pytest.mark.parametrize("suffix", ["jsonl", "json", "csv"])
def test_exports_are_0600(project: Project, site: Site, suffix: str):
    site.page("/", '<a href="/p/1">1</a>')
    site.page("/p/1", "<h1>one</h1>")
    project.spider("follow", follow_spider("follow"))
    out = project.root / f"items.{suffix}"
    result = crawl(project, site, 0o000, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert mode(out) == 0o600
    assert "1" in out.read_text()


def test_an_existing_database_keeps_the_permissions_its_owner_gave_it(project: Project, site: Site):
    site.page("/", "<h1>home</h1>")
    project.spider("follow", follow_spider("follow"))
    assert crawl(project, site, 0o022).returncode == 0
    (project.root / "harvest.db").chmod(0o640)
    assert crawl(project, site, 0o022).returncode == 0
    assert mode(project.root / "harvest.db") == 0o640
