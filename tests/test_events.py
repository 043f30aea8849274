"""Run events and per-spider settings, through `harvester crawl` in a scratch project.

Each project adds its own module (a subscriber, spiders) and changes no Harvester
file; a loopback server stands in for the site. What is checked is what a user would:
what the subscriber wrote, the run's figures in `runs.stats`, the times the server saw.
"""

from __future__ import annotations

import json
import threading
import time

from conftest import Handler

COUNTER = """
import asyncio
import json

from harvester import ErrorRecorded, Events, ItemScraped, ResponseReceived, RunClosed, RunOpened


class CountItems:
    \"\"\"Counts what a run emits and writes it to counts.json when the run closes.\"\"\"

    def __init__(self):
        self.counts = {"opened": 0, "items": 0, "pages": 0, "errors": {}}

    def subscribe(self, events: Events) -> None:
        events.on(RunOpened, self.opened)
        events.on(ItemScraped, self.scraped)
        events.on(ResponseReceived, self.page)
        events.on(ErrorRecorded, self.error)
        events.on(RunClosed, self.closed)

    def opened(self, event):
        self.counts["opened"] += 1
        self.counts["delay"] = event.settings.fetch.delay

    async def scraped(self, event):  # an async handler: awaited before the run closes
        await asyncio.sleep(0.001)
        self.counts["items"] += 1

    def page(self, event):
        self.counts["pages"] += 1

    def error(self, event):
        self.counts["errors"][event.kind] = self.counts["errors"].get(event.kind, 0) + 1

    def closed(self, event):
        self.counts.update(reason=event.reason, status=event.status, stats_items=event.stats["items"])
        with open("counts.json", "w") as file:
            json.dump(self.counts, file)
"""

LINKS_SPIDER = """
import json

from harvester import Events, RequestFiltered, Spider


class Links(Spider):
    name = "links"
    allowed_domains = ["127.0.0.1"]
    base = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.base + "/"]
        self.filtered = {}

    def subscribe(self, events: Events) -> None:
        events.on(RequestFiltered, self.on_filtered)

    def on_filtered(self, event):
        self.filtered[event.reason] = self.filtered.get(event.reason, 0) + 1

    def parse(self, response):
        if "/p/" in response.url:
            yield {"page": response.url.rsplit("/", 1)[1]}
        yield from response.follow_all()

    def closed(self, reason):
        with open("closed.json", "w") as file:
            json.dump({"reason": reason, "filtered": self.filtered}, file)
"""


def linked_site(site, pages: int = 6) -> None:
    """`/` links to /p/0.. (each links back to `/`), a missing page and an offsite host."""
    links = "".join(f'<a href="/p/{i}">{i}</a>' for i in range(pages))
    site.page("/", links + '<a href="/missing">gone</a><a href="http://offsite.invalid/">away</a>')
    for i in range(pages):
        site.page(f"/p/{i}", '<a href="/">home</a>')


def stats_of(project) -> dict:
    return json.loads(project.sql("select stats from runs")[0][0])


def test_a_project_subscriber_counts_the_items_of_a_run(project, site):
    linked_site(site)
    project.write("countitems.py", COUNTER)
    project.write(
        "harvester.toml",
        (project.root / "harvester.toml")
        .read_text()
        .replace("[project]", '[project]\nsubscribers = ["countitems.CountItems"]'),
    )
    project.spider("links", LINKS_SPIDER)
    result = project.run("crawl", "links", "-a", f"base={site.url}")
    assert result.returncode == 0, result.stderr
    counts = json.loads((project.root / "counts.json").read_text())
    stats = stats_of(project)
    assert counts["items"] == 6 == stats["items"] == counts["stats_items"]
    assert project.sql("select count(*) from items") == [(6,)]
    assert counts["pages"] == stats["pages"] == 8  # /, six pages and the 404
    assert counts["errors"] == stats["errors_by_kind"] == {"http": 1}
    assert counts["opened"] == 1 and counts["delay"] == 0.0
    assert (counts["reason"], counts["status"]) == ("finished", "finished")


def test_closed_is_called_with_finished_and_a_spider_sees_the_filtered_requests(project, site):
    linked_site(site)
    project.spider("links", LINKS_SPIDER)
    result = project.run("crawl", "links", "-a", f"base={site.url}")
    assert result.returncode == 0, result.stderr
    closed = json.loads((project.root / "closed.json").read_text())
    assert closed["reason"] == "finished"
    assert closed["filtered"] == stats_of(project)["filtered"]
    assert closed["filtered"] == {"offsite": 1, "duplicate": 6}  # each page's link back to /


def test_a_handler_that_raises_is_logged_once_and_the_run_goes_on(project, site):
    linked_site(site)
    project.write(
        "noisy.py",
        """
        from harvester import ResponseReceived


        def subscribe(events):
            events.on(ResponseReceived, broken)


        def broken(event):
            raise RuntimeError("subscriber bug")
    """,
    )
    project.write(
        "harvester.toml",
        (project.root / "harvester.toml")
        .read_text()
        .replace("[project]", '[project]\nsubscribers = ["noisy.subscribe"]'),
    )
    project.spider("links", LINKS_SPIDER)
    result = project.run("crawl", "links", "-a", f"base={site.url}")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("subscriber bug") == 1
    assert "event handler broken raised 8 times in this run" in result.stderr
    assert project.sql("select count(*) from items") == [(6,)]
    assert project.sql("select status from runs") == [("finished",)]


def test_a_subscriber_that_cannot_load_is_one_line(project):
    project.write(
        "harvester.toml",
        (project.root / "harvester.toml")
        .read_text()
        .replace("[project]", '[project]\nsubscribers = ["nowhere.Counter"]'),
    )
    project.spider("links", LINKS_SPIDER)
    result = project.run("crawl", "links", "-a", "base=http://127.0.0.1:9")
    assert result.returncode == 2
    assert result.stderr.startswith("harvester: error: subscriber 'nowhere.Counter' failed to import")
    assert len(result.stderr.strip().splitlines()) == 1


TIMED_SPIDERS = """
from harvester import Spider


class Slow(Spider):
    name = "slow"
    base = ""
    custom_settings = {"fetch.delay": 0.6}

    def start_requests(self):
        return (self.request(f"{self.base}/slow/{i}") for i in range(4))

    def request(self, url):
        from harvester import Request
        return Request(url, callback=self.parse)

    def parse(self, response):
        yield {"url": response.url}


class Fast(Slow):
    name = "fast"
    custom_settings = {}

    def start_requests(self):
        return (self.request(f"{self.base}/fast/{i}") for i in range(4))
"""


def timed_site(site) -> dict[str, list[float]]:
    """/slow/N and /fast/N; the times (server side) each group's requests arrived."""
    seen: dict[str, list[float]] = {"slow": [], "fast": []}
    lock = threading.Lock()

    def page(handler: Handler) -> None:
        with lock:
            seen[handler.path.split("/")[1]].append(time.monotonic())
        handler.send_text(200, "<p>ok</p>")

    for i in range(4):
        site.routes[f"/slow/{i}"] = site.routes[f"/fast/{i}"] = page
    return seen


def spaced(times: list[float]) -> bool:
    """Four requests spaced by a 0.6 s delay, as a loaded server's clock sees them: its
    threads may note an arrival late, so each gap is only bounded loosely, the whole span closely."""
    return min(b - a for a, b in zip(times, times[1:])) >= 0.3 and times[-1] - times[0] >= 1.5


def test_custom_settings_change_one_spiders_delay_and_not_anothers(project, site):
    seen = timed_site(site)
    project.spider("timed", TIMED_SPIDERS)
    for name in ("slow", "fast"):
        result = project.run("crawl", name, "-a", f"base={site.url}")
        assert result.returncode == 0, result.stderr
    slow, fast = sorted(seen["slow"]), sorted(seen["fast"])
    assert len(slow) == len(fast) == 4
    assert spaced(slow)  # fetch.delay = 0.6, start to start
    assert fast[-1] - fast[0] < 0.5  # the default: no delay
    assert project.sql("select spider, count(*) from items group by spider order by spider") == [
        ("fast", 4),
        ("slow", 4),
    ]


def test_a_key_given_with_s_wins_over_custom_settings(project, site):
    seen = timed_site(site)
    project.spider("timed", TIMED_SPIDERS)
    result = project.run("crawl", "slow", "-a", f"base={site.url}", "-s", "fetch.delay=0")
    assert result.returncode == 0, result.stderr
    slow = sorted(seen["slow"])
    assert len(slow) == 4 and slow[-1] - slow[0] < 0.5


def test_scrapy_names_in_custom_settings_are_read_as_their_key(project, site):
    seen = timed_site(site)
    project.spider("timed", TIMED_SPIDERS.replace('{"fetch.delay": 0.6}', '{"DOWNLOAD_DELAY": 0.6}'))
    result = project.run("crawl", "slow", "-a", f"base={site.url}")
    assert result.returncode == 0, result.stderr
    assert spaced(sorted(seen["slow"]))


def test_a_bad_custom_setting_is_one_line_naming_the_spider(project):
    for custom, expected in (
        ('{"fetch.dleay": 1.0}', "harvester: error: spider 'slow': custom_settings: unknown key 'dleay' in [fetch]"),
        ('{"fetch.delay": "soon"}', "harvester: error: spider 'slow': custom_settings: [fetch] delay: "),
        ('{"fetch.delay": -1}', "harvester: error: spider 'slow': custom_settings: [fetch] delay must not be negative"),
        (
            '{"JOBDIR": "x"}',
            "harvester: error: spider 'slow': custom_settings: JOBDIR: Scrapy's setting has no Harvester counterpart",
        ),
    ):
        project.spider("timed", TIMED_SPIDERS.replace('{"fetch.delay": 0.6}', custom))
        result = project.run("crawl", "slow", "-a", "base=http://127.0.0.1:9")
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith(expected), result.stderr
    assert not (project.root / "harvest.db").exists() or project.sql("select count(*) from runs") == [(0,)]
