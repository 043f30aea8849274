"""Scheduled jobs: list, run now, serve on schedule, no overlapping runs, a missed run caught up, SIGTERM."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

from conftest import REPO, Handler, follow_spider

SPIDER = """
from harvester import Spider

class Pages(Spider):
    name = "pages"
    base = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.base + "/"]

    def parse(self, response):
        yield {"title": response.css("h1::text").get(), "tag": getattr(self, "tag", None)}
"""


def jobs_project(project, site, schedule: str, extra: str = "") -> None:
    project.spider("pages", SPIDER)
    config = (project.root / "harvester.toml").read_text()
    project.write(
        "harvester.toml",
        config
        + f"""
[jobs.pages-job]
spider = "pages"
schedule = "{schedule}"
args = {{ base = "{site.url}", tag = "scheduled" }}
settings = {{ "fetch.concurrency" = 2 }}
{extra}
""",
    )


def wait_until(condition, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def count(project, query: str) -> int:
    """A count from the project's database, or 0 while it is still being created."""
    try:
        return project.sql(query)[0][0]
    except sqlite3.OperationalError:
        return 0


def popen(project, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "harvester", *args],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


def test_jobs_run_records_a_run_of_the_job_and_list_shows_it(project, site):
    site.page("/", "<h1>home</h1>")
    jobs_project(project, site, "0 3 * * *")
    result = project.run("jobs", "run", "pages-job")
    assert result.returncode == 0, result.stderr
    assert project.sql("select spider, job, status from runs") == [("pages", "pages-job", "finished")]
    assert project.sql("select json_extract(data, '$.tag') from items") == [("scheduled",)]
    listing = project.run("jobs", "list").stdout
    assert "pages-job" in listing and "0 3 * * *" in listing and "1 finished" in listing


def test_an_overlapping_run_of_a_job_is_refused(project, site):
    def slow(handler: Handler) -> None:
        time.sleep(3)
        handler.send_text(200, "<h1>slow</h1>")

    site.routes["/"] = slow
    jobs_project(project, site, "0 3 * * *")
    first = popen(project, "jobs", "run", "pages-job")
    assert wait_until(lambda: site.hits["/"] >= 1)
    second = project.run("jobs", "run", "pages-job")
    first.communicate(timeout=30)
    assert second.returncode == 2
    assert second.stderr.count("\n") == 1 and "already running" in second.stderr
    assert project.sql("select count(*) from runs") == [(1,)]


def test_serve_runs_a_job_on_schedule_and_stops_on_sigterm(project, site):
    site.page("/", "<h1>tick</h1>")
    jobs_project(project, site, "* * * * * */2")  # every two seconds (seconds last)
    server = popen(project, "jobs", "serve")
    try:
        assert wait_until(lambda: count(project, "select count(*) from runs where status = 'finished'") >= 2)
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "Traceback" not in err
    statuses = {status for _, status in project.sql("select job, status from runs")}
    assert statuses <= {"finished", "interrupted"}
    assert {job for job, _ in project.sql("select job, status from runs")} == {"pages-job"}


def test_serve_catches_up_a_run_missed_while_stopped(project, site):
    site.page("/", "<h1>late</h1>")
    jobs_project(project, site, "0 3 * * *")
    assert project.run("jobs", "run", "pages-job").returncode == 0
    with sqlite3.connect(project.root / "harvest.db") as db:
        db.execute("update runs set started_at = datetime('now', '-3 days')")
    server = popen(project, "jobs", "serve")
    try:
        assert wait_until(lambda: count(project, "select count(*) from runs") == 2, seconds=15)
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert server.returncode == 0


def test_a_bad_schedule_is_one_clear_line(project, site):
    jobs_project(project, site, "every day at noon")
    result = project.run("jobs", "list")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "schedule" in result.stderr


def closing_lines(stderr: str, run_id: int) -> list[str]:
    """The lines a run ends with on stderr (not its log lines), its run id written as N."""
    lines = [line for line in stderr.splitlines() if line.startswith(("errors by kind", "  ", "harvester: error"))]
    return [line.replace(f"run_id = {run_id}", "run_id = N").replace(f"run {run_id} ", "run N ") for line in lines]


def test_jobs_run_ends_with_the_error_lines_and_exit_status_of_crawl(project, site):
    site.page("/", '<h1>home</h1><a href="/gone">gone</a>')
    jobs_project(project, site, "0 3 * * *")
    project.spider("pages", follow_spider("pages"))
    crawled = project.run("crawl", "pages", "-a", f"base={site.url}")
    job = project.run("jobs", "run", "pages-job")
    assert (crawled.returncode, job.returncode) == (0, 0), job.stderr
    assert (
        closing_lines(job.stderr, 2)
        == closing_lines(crawled.stderr, 1)
        == [
            'errors by kind (all of them: harvester query "select * from errors where run_id = N"):',
            f"  http      1  e.g. {site.url}/gone: HTTP 404",
        ]
    )
    assert "stored in sqlite:///" in job.stdout

    site.routes.clear()  # every request fails now: both exit 1 and say why
    crawled = project.run("crawl", "pages", "-a", f"base={site.url}")
    job = project.run("jobs", "run", "pages-job")
    assert (crawled.returncode, job.returncode) == (1, 1), job.stderr
    assert closing_lines(job.stderr, 4) == closing_lines(crawled.stderr, 3)
    assert (
        closing_lines(job.stderr, 4)[-1]
        == "harvester: error: run N fetched no page: every request failed (exit status 1)"
    )
