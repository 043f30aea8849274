"""A run's figures agree with its rows: after kills and resumes, `runs.stats` is recounted from the tables."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from conftest import REPO, Handler, Project, Site, follow_spider

PAGES = 80


def serve(site: Site) -> None:
    def page(handler: Handler) -> None:
        time.sleep(0.01)
        if handler.path.endswith("7"):
            return handler.send_text(404, "gone")  # an error row for every tenth page
        handler.send_text(200, f"<h1>{handler.path}</h1>" + "x" * int(handler.path.rsplit("/", 1)[1]))

    site.page("/", "".join(f'<a href="/p/{i}">{i}</a>' for i in range(PAGES)))
    for i in range(PAGES):
        site.routes[f"/p/{i}"] = page


def start(project: Project, site: Site, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harvester",
            "crawl",
            "follow",
            "-a",
            f"base={site.url}",
            "-s",
            "fetch.concurrency=4",
            "-s",
            "fetch.per_host=4",
            *extra,
        ],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


def test_figures_after_kills_and_resumes_are_the_rows(project: Project, site: Site):
    serve(site)
    project.spider("follow", follow_spider("follow"))
    for round, hits in enumerate((20, 40, 60)):
        crawl = start(project, site, *(["--resume"] if round else []))
        deadline = time.monotonic() + 30
        while sum(site.hits.values()) < hits and time.monotonic() < deadline:
            time.sleep(0.005)
        crawl.send_signal(signal.SIGKILL)
        crawl.communicate(timeout=30)
    last = start(project, site, "--resume")
    out, err = last.communicate(timeout=60)
    assert last.returncode == 0, err

    (stats,) = project.sql("select stats from runs where id = 1")[0]
    figures = json.loads(stats)
    pages, size = project.sql("select count(*), sum(size) from pages")[0]
    assert (figures["pages"], figures["bytes"]) == (pages, size)
    assert figures["items"] == project.sql("select count(*) from items")[0][0] == PAGES - PAGES // 10
    assert figures["errors"] == project.sql("select count(*) from errors")[0][0] == PAGES // 10
    assert figures["errors_by_kind"] == {"http": PAGES // 10}
    assert figures["statuses"] == {
        str(status): n for status, n in project.sql("select status, count(*) from pages group by status")
    }
    assert f"run 1 finished: {pages} pages, {PAGES - PAGES // 10} items, {PAGES // 10} errors" in out
