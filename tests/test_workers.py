"""Workers: several processes share one run's frontier; every page once, one run, finished."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from conftest import REPO, Handler, follow_spider

PAGES = 120
pytest_plugins = ["pg"]  # db_url: SQLite and PostgreSQL

SPIDER = follow_spider("shared")


def page_linking_on(handler: Handler) -> None:
    """A page /p/N linking to three others, so the site is one graph the workers share."""
    number = int(handler.path.rsplit("/", 1)[1])
    links = "".join(f'<a href="/p/{(number * 7 + k) % PAGES}">x</a>' for k in range(3))
    handler.send_text(200, f"<h1>{number}</h1>{links}")


def serve_pages(site, page) -> None:
    site.page("/", "".join(f'<a href="/p/{i}">{i}</a>' for i in range(0, PAGES, 10)))
    for i in range(PAGES):
        site.routes[f"/p/{i}"] = page


def start_workers(project, site, *settings: str, named: bool = False) -> list[subprocess.Popen]:
    """Two `harvester worker` processes on the shared spider; `named`: each its own User-Agent."""
    project.spider("shared", SPIDER)
    command = [sys.executable, "-m", "harvester", "worker", "shared", "-a", f"base={site.url}"]
    for setting in settings:
        command += ["-s", setting]
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    return [
        subprocess.Popen(
            [*command, *(["-s", f"fetch.user_agent=worker-{n}"] if named else [])],
            cwd=project.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(2)
    ]


def test_two_workers_share_one_run_and_fetch_every_page_once(project, site):
    # Each worker claims at most `concurrency` (4) requests and the host has 8 slots, so the first
    # pages a worker asks for are held until the other worker asks for one too: however late the
    # second starts, both fetch pages (the wait's bound only keeps a broken run from hanging).
    both_came = threading.Event()

    def page(handler: Handler) -> None:
        with site._lock:
            asking = {headers.get("User-Agent") for _, path, headers in site.requests if path.startswith("/p/")}
        if len(asking) == 2:
            both_came.set()
        both_came.wait(timeout=50)
        time.sleep(0.01)
        page_linking_on(handler)

    serve_pages(site, page)
    # each named by its User-Agent so the server tells who fetched what
    workers = start_workers(project, site, "fetch.concurrency=4", "fetch.timeout=60", named=True)
    results = [worker.communicate(timeout=90) for worker in workers]
    for worker, (out, err) in zip(workers, results):
        assert worker.returncode == 0, err
    reached = {path for path in site.hits if path.startswith("/p/")}
    fetched_by = {headers.get("User-Agent") for _, path, headers in site.requests if path.startswith("/p/")}
    assert fetched_by == {"worker-0", "worker-1"}  # both took part
    assert both_came.is_set()
    assert all(site.hits[path] == 1 for path in reached)
    assert site.hits["/"] == 1
    assert project.sql("select id, status from runs") == [(1, "finished")]
    stored = project.sql("select json_extract(data, '$.page'), count(*) from items group by 1")
    assert len(stored) == len(reached) and {n for _, n in stored} == {1}
    ((stats,),) = project.sql("select stats from runs")
    assert json.loads(stats)["pages"] == len(reached) + 1
    assert project.sql("select count(*) from pages") == [(len(reached) + 1,)]
    assert project.sql("select count(*) from frontier") == [(0,)]  # a finished run's queue is cleared


def test_workers_closed_by_max_pages_end_the_run_finished_with_its_reason(project, site):
    serve_pages(site, page_linking_on)
    workers = start_workers(project, site, "fetch.concurrency=2", "crawl.max_pages=5")
    for worker in workers:
        _, err = worker.communicate(timeout=90)
        assert worker.returncode == 0, err
    assert project.sql("select id, status from runs") == [(1, "finished")]
    ((stats,),) = project.sql("select stats from runs")
    assert json.loads(stats)["close_reason"] == "max_pages"
    assert project.sql("select count(*) from frontier") == [(0,)]  # nothing left to resume
    assert len(site.hits) < PAGES  # closed long before the site was crawled


def test_max_pages_holds_for_two_workers_together(project, site, db_url):
    """Issue 11: `max_pages` is never exceeded at any concurrency, and two workers are one run."""
    from sqlalchemy import create_engine, text

    max_pages = 7

    def page(handler: Handler) -> None:
        time.sleep(0.02)  # both workers have requests in flight at once
        page_linking_on(handler)

    serve_pages(site, page)
    workers = start_workers(
        project, site, "fetch.concurrency=4", f"crawl.max_pages={max_pages}", f"storage.url={db_url}", named=True
    )
    for worker in workers:
        _, err = worker.communicate(timeout=90)
        assert worker.returncode == 0, err
    assert 0 < sum(site.hits.values()) <= max_pages  # what the server saw
    engine = create_engine(db_url)
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from pages")).scalar() <= max_pages
        [(status, stats)] = connection.execute(text("select status, stats from runs")).all()
    engine.dispose()
    stats = json.loads(stats) if isinstance(stats, str) else stats
    assert status == "finished" and stats["close_reason"] == "max_pages"
    assert stats["pages"] <= max_pages


def test_a_claim_whose_lease_ran_out_does_not_count_against_max_pages(tmp_path):
    """A worker killed while holding claims: its share of max_pages goes back to the others."""
    import datetime as dt

    from sqlalchemy import insert

    from harvester.storage.database import open_engine
    from harvester.storage.leases import budget
    from harvester.storage.migrate import upgrade
    from harvester.storage.tables import frontier, runs

    engine = open_engine(f"sqlite:///{tmp_path / 'harvest.db'}")
    upgrade(engine)
    moment = dt.datetime.now(dt.UTC)
    with engine.begin() as connection:
        run_id = connection.execute(
            insert(runs).values(spider="s", status="running", started_at=moment, stats={})
        ).inserted_primary_key[0]
        rows = [
            {
                "run_id": run_id,
                "host": "h",
                "fingerprint": f"f{n}",
                "priority": 0,
                "request": {},
                "state": "claimed",
                "lease_until": moment + dt.timedelta(seconds=60 if n < 2 else -60),
            }
            for n in range(5)
        ]  # two live claims, three whose worker died a minute ago
        connection.execute(insert(frontier), rows)
    with engine.begin() as connection:
        left, pages_done, _ = budget(connection, run_id, max_pages=7, max_items=0)
    engine.dispose()
    assert (left, pages_done) == (5, 0)  # 7 less the two live claims
