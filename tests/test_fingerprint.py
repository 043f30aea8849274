"""The dedupe identity: what a fingerprint merges, what it never merges, and a crawl that relies on it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import Site

from harvester import Request, Spider
from harvester.config import build
from harvester.crawler import crawl
from harvester.urls import canonicalize, fingerprint

# Each pair names one resource: RFC 3986 §6.2.2 equivalents, the WHATWG form, and the conventions.
MUST_MERGE = [
    ("http://h/~user/", "http://h/%7Euser/"),  # unreserved characters decoded
    ("http://h/~user/", "http://h/%7euser/"),
    ("http://h/A", "http://h/%41"),
    ("http://h/q?x=%7E", "http://h/q?x=~"),
    ("http://h/a%2fb", "http://h/a%2Fb"),  # percent-encoding case
    ("http://h/s?q=caf%e9", "http://h/s?q=caf%E9"),
    ("http://h/a/./b/../c", "http://h/a/c"),  # dot segments
    ("http://h/a/%2e%2E/c", "http://h/c"),
    ("http://bücher.example/", "http://xn--bcher-kva.example/"),  # IDNA ASCII host
    ("http://BÜCHER.example/", "http://xn--bcher-kva.example/"),
    ("HTTP://Example.COM/x", "http://example.com/x"),
    ("http://h:80/x", "http://h/x"),  # default port
    ("https://h:443/x", "https://h/x"),
    ("http://h", "http://h/"),
    ("http://h/x#top", "http://h/x"),  # fragment dropped
    ("http://h/list?page=2&sort=asc", "http://h/list?sort=asc&page=2"),  # query arguments sorted
    ("http://h/é", "http://h/%C3%A9"),  # what a browser sends
    ("http://h/a b", "http://h/a%20b"),
    ("http://h/a\tb\n", "http://h/ab"),
    ("http:\\\\h\\a", "http://h/a"),
    ("http://0x7f.1/", "http://127.0.0.1/"),
]

# Each pair names two resources: their bytes differ beyond what the rules above merge.
MUST_NOT_MERGE = [
    ("http://h/s?q=caf%E9", "http://h/s?q=caf%E8"),  # latin-1 query bytes
    ("http://h/s?q=caf%E9", "http://h/s?q=caf%C3%A9"),  # latin-1 and UTF-8 é
    ("http://h/s?q=caf%E9", "http://h/s?q=caf%EF%BF%BD"),  # never decoded with replacement
    ("http://h/a%2Fb", "http://h/a/b"),  # a reserved character, escaped or not
    ("http://h/s?a=%26b", "http://h/s?a=&b"),
    ("http://h/s?q=a+b", "http://h/s?q=a%20b"),
    ("http://h/a;b", "http://h/a%3Bb"),
    ("http://h/A", "http://h/a"),
    ("http://h/x", "http://h/x?"),
    ("http://h/s?a=1", "http://h/s?a=1&"),
    ("http://h/s?a=1&b=2", "http://h/s?a=1;b=2"),
    ("http://h/x", "https://h/x"),
    ("http://h:8080/x", "http://h/x"),
    ("http://u@h/x", "http://h/x"),
    ("http://h.example./x", "http://h.example/x"),
    ("http://h/~user/", "http://h/%7Fuser/"),
]


@pytest.mark.parametrize(("a", "b"), MUST_MERGE)
def test_equivalent_urls_are_one_request(a: str, b: str) -> None:
    assert canonicalize(a) == canonicalize(b)
    assert Request(a).fingerprint == Request(b).fingerprint


@pytest.mark.parametrize(("a", "b"), MUST_NOT_MERGE)
def test_different_resources_are_never_merged(a: str, b: str) -> None:
    assert fingerprint(a) != fingerprint(b)
    assert Request(a).fingerprint != Request(b).fingerprint


def test_the_canonical_form_is_readable() -> None:
    assert (
        canonicalize("HTTP://Bücher.Example:80/a/./%7e%41/../b?z=%e9&a=1#x")
        == "http://xn--bcher-kva.example/a/b?a=1&z=%E9"
    )


# A crawl that relies on it --------------------------------------------------------------------


class Everything(Spider):
    name = "everything"

    def parse(self, response):
        yield {"url": response.url}
        yield from response.follow_all()


def build_site(site: Site) -> None:
    links = [
        "/latin",
        "/latin?q=caf%E8",
        "/~user/",
        "/%7Euser/",
        "/%7euser/",
        "/a/../same",
        "/same",
        "/ctl\n.html",
        "/ctl\t2.html",
        " /lead\u00a0",
        "http://[bad",
        "http://bad host/",
        "/sp\u00a0ace",
    ]
    anchors = "".join(f'<a href="{href}">x</a>' for href in links)
    site.page("/", f"<html><body>{anchors}<a href='/y'>y</a></body></html>")
    site.page("/?q=1", "<html><body><a href='/x'>x</a></body></html>")
    site.page(
        "/latin",
        "<a href='/latin?q=café'>café</a>".encode("windows-1252"),  # the browser sends caf%E9
        content_type="text/html; charset=windows-1252",
    )
    for path in [
        "/latin?q=caf%E9",
        "/latin?q=caf%E8",
        "/~user/",
        "/%7Euser/",
        "/%7euser/",
        "/same",
        "/ctl.html",
        "/ctl2.html",
        "/lead%C2%A0",
        "/sp%C2%A0ace",
        "/x",
        "/y",
    ]:
        site.page(path, "<html><body>leaf</body></html>")


def test_a_crawl_fetches_each_resource_once_as_a_browser_names_it(tmp_path: Path, site: Site) -> None:
    build_site(site)
    Everything.start_urls = [site.url + "?q=1", site.url + "#!/app"]  # URLs with no path
    settings = build(
        {"storage": {"url": "sqlite:///harvest.db"}, "fetch": {"retries": 0, "timeout": 10, "obey_robots": False}},
        root=tmp_path,
    )
    run = asyncio.run(crawl(settings, Everything))

    assert run.status == "finished"
    hits = site.hits
    assert hits["/latin?q=caf%E9"] == hits["/latin?q=caf%E8"] == 1  # two pages of a latin-1 site
    assert hits["/~user/"] + hits["/%7Euser/"] + hits["/%7euser/"] == 1
    assert hits["/same"] == 1 and hits["/a/../same"] == 0
    assert hits["/ctl.html"] == hits["/ctl2.html"] == 1  # tab and newline removed, as browsers do
    assert hits["/lead%C2%A0"] == hits["/sp%C2%A0ace"] == 1  # NBSP kept and percent-encoded
    assert hits["/x"] == 1  # root-relative on http://h?q=1
    assert hits["/y"] == 1  # and on http://h#!/app
    assert not [path for path in hits if path.startswith(("/%5B", "/bad", "/http"))]
    assert hits["/latin"] == 1
    assert sum(hits.values()) == 13  # "/", "/?q=1", "/latin" and the ten pages above
