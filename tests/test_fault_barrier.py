"""The fault barrier: nothing one request meets ends the run; each bad thing is one `errors` row.

A hostile site on loopback (127.0.0.1 and 127.0.0.2) serves links with control
characters and malformed hosts, a cookie with a non-ASCII value, callbacks that
raise or yield junk, an unknown callback name and bad encodings. The real CLI
crawls it and must finish (exit 0, run `finished`) with every good page fetched
once and one error row per bad thing. `allowed_domains` keeps every host but the
two loopback ones off-site, so nothing leaves 127.0.0.0/8.
"""

from __future__ import annotations

import sqlite3
import subprocess
from urllib.parse import urlsplit

from hostile import HostileSite, send, serve, stop_while_serving

SPIDER = """
from harvester import Request, Spider

CALLBACKS = {"/cb/raise": "parse_raise", "/cb/junk": "parse_junk", "/cb/unknown": "no_such_callback",
             "/cb/int": "parse_int", "/cb/badreq": "parse_badreq", "/cb/scheme": "parse_scheme",
             "/cb/meta": "parse_meta", "/cb/json": "parse_json"}


class Hostile(Spider):
    name = "hostile"
    base = ""
    allowed_domains = ["127.0.0.1", "127.0.0.2"]

    def start_requests(self):
        yield Request(self.base + "/", callback=self.parse)

    def parse(self, response):
        yield {"url": response.url, "title": response.css("title::text").get()}
        for link in response.links():
            path = link.split("/", 3)[-1]
            callback = next((name for prefix, name in CALLBACKS.items() if ("/" + path).startswith(prefix)), None)
            yield response.follow(link, callback=callback, errback="on_error" if "missing" in link else None)

    def on_error(self, failure):
        raise RuntimeError("an errback bug")

    def parse_raise(self, response):
        yield {"url": response.url, "before": "the fault"}
        raise ValueError("a spider bug")

    def parse_junk(self, response):
        yield 42
        yield object()
        yield {"url": response.url, "after": "the junk"}

    def parse_int(self, response):
        return 7

    def parse_badreq(self, response):
        yield {"url": response.url, "before": "the bad request"}
        yield Request("http://[::1/bad-ipv6")

    def parse_scheme(self, response):
        yield Request("javascript:alert(1)")

    def parse_json(self, response):
        yield response.json()  # the page is HTML

    def parse_meta(self, response):
        yield Request(response.url + "?next", meta={"handle": object()})
        yield {"url": response.url, "after": "the unqueued request"}
"""

# hrefs with control characters: browsers drop tab/newline and percent-encode other C0 controls
CONTROL = {
    "tab": "/ctl/tab\tx.html",
    "nl": "/ctl/nl\nx.html",
    "cr": "/ctl/cr\rx.html",
    "soh": "/ctl/soh\x01x.html",
    "esc": "/ctl/esc\x1bx.html",
    "nbsp": "/ctl/nbsp\u00a0x.html",
}
# hosts no browser fetches, or only as hosts that are off-site here
MALFORMED = [
    "http://[::1/m1",
    "http://exa mple.org/m2",
    "http://a..b/m3",
    "http://%zz/m4",
    "http://127.0.0.1\x00.evil.example/m5",
    "http://user@[bad/m6",
    "http://127.0.0.1.example/m7",
    "https://127.0.0.1:99999/m8",
]
CALLBACK_PAGES = [
    "/cb/raise.html",
    "/cb/junk.html",
    "/cb/unknown.html",
    "/cb/int.html",
    "/cb/badreq.html",
    "/cb/scheme.html",
    "/cb/meta.html",
    "/cb/json.html",
]
GOOD = [
    "/",
    "/good/1.html",
    "/good/2.html",
    "/good/3.html",
    "/enc/unknown-charset.html",
    "/enc/invalid-utf8.html",
    "/enc/mislabelled.html",
    *CALLBACK_PAGES,
]


def anchors(hrefs: list[str]) -> str:
    return "".join(f'<a href="{href}">x</a>' for href in hrefs)


def build(site: HostileSite, other: HostileSite) -> None:
    site.page(
        "/",
        "<title>home</title>"
        + anchors(
            [
                *GOOD[1:],
                *CONTROL.values(),
                *MALFORMED,
                f"{other.url}/cookie.html",
                "/enc/bad-gzip.html",
                "/cb/missing.html",
            ]
        ),
    )
    for i in (1, 2, 3):
        site.page(f"/good/{i}.html", f"<title>good {i}</title>" + anchors(["/", "/good/1.html", f"/good/{i}.html"]))
    site.page("/ctl/*", "<title>cleaned</title>")
    for path in CALLBACK_PAGES:
        site.page(path, f"<title>{path}</title>")
    site.page(
        "/enc/unknown-charset.html",
        "<title>unknown charset</title>",
        headers={"Content-Type": "text/html; charset=x-no-such-charset"},
    )
    site.page("/enc/invalid-utf8.html", b"<title>invalid \xff\xfe utf-8</title>")
    site.page(
        "/enc/mislabelled.html",
        "<title>caf\u00e9 \u65e5\u672c</title>".encode("utf-16-le"),
        headers={"Content-Type": "text/html; charset=ascii"},
    )
    site.routes["/enc/bad-gzip.html"] = lambda h: send(
        h, 200, b"\x1f\x8b\x08not gzip at all", headers={"Content-Encoding": "gzip"}
    )
    cookie = "bad=caf\u00e9; Path=/".encode()
    other.routes["/cookie.html"] = lambda h: send(
        h,
        200,
        b"<title>cookie</title>" + anchors(["/after-cookie.html"]).encode(),
        raw_headers=[b"Set-Cookie: " + cookie],
    )
    other.page("/after-cookie.html", "<title>after the cookie</title>")


def crawl(project, site: HostileSite, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return project.run("crawl", "hostile", "-a", f"base={site.url}", *extra, timeout=timeout)


def errors_about(project, fragment: str) -> list[tuple[str, str]]:
    return [
        (kind, message)
        for url, kind, message in project.sql("select url, kind, message from errors")
        if url is not None and fragment in url
    ]


def test_a_hostile_site_costs_one_error_row_per_bad_thing_and_the_run_finishes(project):
    project.spider("hostile", SPIDER)
    with serve("127.0.0.1") as site, serve("127.0.0.2") as other:
        build(site, other)
        result = crawl(project, site)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert project.sql("select status from runs") == [("finished",)]
    for path in GOOD:
        assert site.hits[path] == 1, path  # every good page fetched once
    assert other.hits["/cookie.html"] == 1

    # each control-character link: fetched once in its cleaned form, or refused as one `url` error
    for name in CONTROL:
        fetched = site.hits_under(f"/ctl/{name}")
        refused = errors_about(project, f"/ctl/{name}")
        assert fetched + len(refused) == 1, (name, fetched, refused)
        assert all(kind == "url" for kind, _ in refused), refused
    # malformed hosts are never fetched: off-site, or one `url` error
    for href in MALFORMED:
        marker = href.rsplit("/", 1)[1]
        assert site.hits_under(f"/{marker}") == 0
        assert {kind for kind, _ in errors_about(project, f"/{marker}")} <= {"url"}, href
    # nothing left loopback: every page and every network-level error is on 127.0.0.0/8
    for (url,) in project.sql("select url from pages"):
        assert urlsplit(url).hostname.startswith("127."), url
    for (url,) in project.sql("select url from errors where kind in ('network', 'timeout', 'request')"):
        assert urlsplit(url).hostname.startswith("127."), url

    # the non-ASCII cookie: the next request to that host is made, or costs one error row
    assert other.hits["/after-cookie.html"] + len(errors_about(project, "/after-cookie.html")) == 1

    # callbacks: one `spider` row each, with the outputs before (and around) the fault kept
    def kinds(path: str) -> list[str]:
        return sorted(kind for kind, _ in errors_about(project, path))

    assert kinds("/cb/raise.html") == ["spider"]
    assert kinds("/cb/junk.html") == ["spider", "spider"]  # the int and the object
    assert kinds("/cb/unknown.html") == ["spider"]
    assert "no_such_callback" in errors_about(project, "/cb/unknown.html")[0][1]
    assert kinds("/cb/int.html") == ["spider"]
    # a URL that does not parse: refused when queued, or by Request() itself (then the callback stops there)
    assert [kind for kind, _ in errors_about(project, "[::1/bad-ipv6") + errors_about(project, "/cb/badreq")] == ["url"]
    # a scheme Harvester does not fetch: Request() refuses it (kind url once that is an InvalidURL)
    assert kinds("/cb/scheme.html") in (["url"], ["spider"])
    assert kinds("/cb/meta.html") == ["spider"]
    assert kinds("/cb/json.html") == ["parse"]
    assert kinds("/cb/missing.html") == ["http", "spider"]  # the 404, then the errback that raised on it
    assert "on_error: RuntimeError: an errback bug" in dict(errors_about(project, "/cb/missing.html"))["spider"]
    stored = {url.rsplit("/", 1)[1] for (url,) in project.sql("select json_extract(data, '$.url') from items")}
    assert {"raise.html", "junk.html", "badreq.html", "meta.html"} <= stored
    # bad encodings: read leniently (an item with the title), or one error row for the body
    for path in ("/enc/unknown-charset.html", "/enc/invalid-utf8.html", "/enc/mislabelled.html"):
        assert path.rsplit("/", 1)[1] in stored
    assert len(errors_about(project, "/enc/bad-gzip.html")) == 1

    # every error row was logged to stderr as it happened
    rows = project.sql("select kind, url from errors")
    logged = [line for line in result.stderr.splitlines() if " WARNING harvester.errors: " in line]
    assert len(logged) == len(rows)
    print(
        f"hostile site: {len(project.sql('select 1 from pages'))} pages, "
        f"{len(project.sql('select 1 from items'))} items, errors by kind "
        f"{dict(project.sql('select kind, count(*) from errors group by kind'))}, exit {result.returncode}"
    )


RESUME_SPIDER = """
from harvester import Request, Spider


class Hostile(Spider):
    name = "hostile"
    base = ""
    allowed_domains = ["127.0.0.1"]

    def start_requests(self):
        yield Request(self.base + "/", callback=self.parse)

    def parse(self, response):
        yield {"url": response.url}
        yield Request(self.base + "/slow.html", priority=10)
        for link in response.links():
            yield response.follow(link, callback=self.CALLBACK if "/r/" in link else None)
        yield Request(self.base + "/h/1.html", headers={"X-Note": "\u65e5\u672c"})  # no HTTP stack sends it
"""


def test_resume_survives_bad_links_and_a_renamed_callback_and_export_holds_every_item(project):
    """A run stopped with bad requests and `parse_item` requests queued; the callback is renamed; resumed."""
    project.spider(
        "hostile",
        RESUME_SPIDER.replace("self.CALLBACK", '"parse_item"')
        + "\n    def parse_item(self, response):\n        yield {'url': response.url}\n",
    )
    with serve("127.0.0.1") as site:
        site.page(
            "/", anchors(["/ctl/tab\tx.html", "/ctl/soh\x01x.html", "/i/1.html", "/i/2.html", "/r/1.html", "/r/2.html"])
        )
        site.page("/ctl/*", "cleaned")
        site.page("/i/*", "item page")
        site.page("/r/*", "renamed page")
        site.page("/h/*", "header page")
        stop_while_serving(
            project,
            site,
            "/slow.html",
            "crawl",
            "hostile",
            "-a",
            f"base={site.url}",
            "-s",
            "fetch.concurrency=1",
            "-o",
            "out.jsonl",
        )
        first_items = project.sql("select count(*) from items")[0][0]
        assert first_items == 2  # "/" and the slow page

        project.spider(
            "hostile",
            RESUME_SPIDER.replace("self.CALLBACK", '"parse_item"')
            + "\n    def parse_product(self, response):\n        yield {'url': response.url}\n",
        )
        result = crawl(project, site, "--resume", "-o", "out.jsonl")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert project.sql("select status from runs") == [("finished",)]
    for path in ("/", "/slow.html", "/i/1.html", "/i/2.html", "/r/1.html", "/r/2.html"):
        assert site.hits[path] == 1, path
    for name in ("tab", "soh"):
        assert site.hits_under(f"/ctl/{name}") + len(errors_about(project, f"/ctl/{name}")) == 1
    assert site.hits["/h/1.html"] + len(errors_about(project, "/h/1.html")) == 1
    renamed = [errors_about(project, f"/r/{i}.html") for i in (1, 2)]
    assert [[kind for kind, _ in rows] for rows in renamed] == [["spider"], ["spider"]]
    assert "parse_item" in renamed[0][0][1]
    stored = project.sql("select count(*) from items")[0][0]
    assert stored == 4 + site.hits_under("/ctl/")  # "/", the slow page, /i/1, /i/2 and any link cleaned
    lines = (project.root / "out.jsonl").read_text().splitlines()
    assert len(lines) == stored


def test_resume_survives_requests_an_earlier_version_queued(project):
    """A frontier written by an earlier Harvester may hold requests this one refuses: one error row each."""
    project.spider("hostile", RESUME_SPIDER.replace("self.CALLBACK", "None"))
    with serve("127.0.0.1") as site:
        site.page("/", anchors(["/i/1.html", "/i/2.html", "/i/3.html"]))
        site.page("/i/*", "item page")
        stop_while_serving(
            project, site, "/slow.html", "crawl", "hostile", "-a", f"base={site.url}", "-s", "fetch.concurrency=1"
        )
        queued = dict(project.sql("select request ->> 'url', id from frontier where state != 'done'"))
        assert len(queued) == 4  # three item pages and /h/1.html
        edits = {
            "/i/1.html": "json_set(request, '$.url', 'http://[::1/x')",  # a host the URL parser refuses
            "/i/2.html": "json_set(request, '$.url', 'javascript:alert(1)')",
            "/i/3.html": "json_set(request, '$.retired_option', 1)",  # a field this version lacks
        }
        with sqlite3.connect(project.root / "harvest.db") as connection:
            for path, change in edits.items():
                connection.execute(f"update frontier set request = {change} where id = ?", (queued[site.url + path],))
        result = crawl(project, site, "--resume")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert project.sql("select status from runs") == [("finished",)]
    assert site.hits["/i/3.html"] == 1
    assert site.hits["/i/1.html"] == site.hits["/i/2.html"] == 0
    kinds = dict(project.sql("select url, kind from errors where url not like '%/h/1.html'"))
    assert kinds.keys() == {"http://[::1/x", "javascript:alert(1)"}
    assert kinds["http://[::1/x"] == "url"
    assert kinds["javascript:alert(1)"] in ("url", "forbidden")
