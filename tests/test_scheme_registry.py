"""One scheme registry: a project's own transport through the real command line, and the policy
every scheme gets from it (allowed_domains for every scheme with a host, ftp included)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from test_ftp import ftp, tree  # noqa: F401 - fixtures: a pyftpdlib server over a tmp tree

from harvester import Request, Response, Spider, schemes
from harvester.config import build
from harvester.crawler import crawl
from harvester.exceptions import InvalidURL

MEMO_TRANSPORT = '''
"""This project's transport: memo://NOTEBOOK/NAME, read from memos.json; each URL asked is logged."""

import json
from pathlib import Path

import httpx

from harvester import Response
from harvester.schemes import Follow, Scheme


class MemoTransport:
    schemes = (Scheme("memo", default_port=None, follow=Follow.OWN_SCHEME),)

    def __init__(self, settings):
        self.notes = json.loads(Path("memos.json").read_text())

    async def fetch(self, request):
        with open("asked.log", "a") as log:
            log.write(request.url + "\\n")
        notebook, _, name = request.url.removeprefix("memo://").partition("/")
        text = self.notes.get(notebook, {}).get("/" + name)
        if text is None:
            return Response(request.url, 404, httpx.Headers({"Content-Type": "text/plain"}), b"no memo", request)
        headers = httpx.Headers({"Content-Type": "text/html; charset=utf-8"})
        return Response(request.url, 200, headers, text.encode(), request)

    async def aclose(self):
        pass
'''

MEMO_SPIDER = """
from harvester import Spider


class Memos(Spider):
    name = "memos"
    transports = ["memo_transport.MemoTransport"]
    start_urls = ["memo://work/"]
    allowed_domains = ["work"]

    def parse(self, response):
        yield {"memo": response.url, "title": response.css("h1::text").get()}
        yield from response.follow_all()
"""

MEMOS = {
    "work": {
        "/": '<h1>index</h1><a href="todo">todo</a><a href="memo://home/diary">diary</a>'
        '<a href="data:text/html,<h1>inline</h1>">inline</a>',
        "/todo": '<h1>todo</h1><a href="/">back</a><a href="missing">gone</a>',
    },
    "home": {"/diary": "<h1>diary</h1>"},
}


def test_a_project_transport_crawls_its_own_scheme_through_the_command_line(project):
    project.write("memo_transport.py", MEMO_TRANSPORT)
    project.spider("memos", MEMO_SPIDER)
    project.write("memos.json", json.dumps(MEMOS))
    result = project.run("crawl", "memos", "-s", "fetch.obey_robots=true")
    assert result.returncode == 0, result.stderr
    titles = {row[0] for row in project.sql("select json_extract(data, '$.title') from items")}
    assert titles == {"index", "todo"}  # memo://home/ is off the allowed domains; the data: link is no page
    assert project.sql("select kind, url from errors") == [("http", "memo://work/missing")]
    asked = (project.root / "asked.log").read_text().split()
    assert sorted(asked) == ["memo://work/", "memo://work/missing", "memo://work/todo"]  # no robots.txt
    stats = json.loads(project.sql("select stats from runs")[0][0])
    assert stats["filtered"]["offsite"] == 1


def test_a_spider_naming_a_transport_that_does_not_load_is_one_line(project):
    project.spider("memos", MEMO_SPIDER)  # memo_transport.py is missing
    result = project.run("crawl", "memos")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "memo_transport.MemoTransport" in result.stderr


class Tree(Spider):
    name = "tree"

    def parse(self, response):
        yield {"url": response.url}
        yield from response.follow_all()


@pytest.mark.parametrize(("allowed", "expected"), [(["books.example"], 1), (["127.0.0.1"], 12)])
def test_allowed_domains_holds_for_ftp_links_too(tmp_path, ftp, sql, allowed, expected):  # noqa: F811
    port = ftp(anonymous=True)
    Tree.start_urls = [f"ftp://127.0.0.1:{port}/"]
    Tree.allowed_domains = allowed
    try:
        result = asyncio.run(crawl(build({"fetch": {"retries": 0, "timeout": 5}}, root=tmp_path), Tree))
    finally:
        Tree.allowed_domains = ()
    assert sql(tmp_path, "select count(*) from pages") == [(expected,)]
    assert result.stats.filtered.get("offsite", 0) == (0 if expected > 1 else 3)


def test_the_built_in_policy_is_what_each_scheme_declares():
    registry = schemes.builtin()
    assert registry.names == ("data", "file", "ftp", "http", "https")
    assert [registry.has_robots(name) for name in registry.names] == [False, False, False, True, True]
    assert [registry.may_redirect_to(f"{name}://h/") for name in registry.names] == [False, False, False, True, True]
    assert [registry.get(name).has_host for name in registry.names] == [False, False, True, True, True]
    assert [registry.get(name).default_port for name in registry.names] == [None, None, 21, 80, 443]
    assert registry.link_prefixes("http://h/") == ("http:", "https:")
    assert registry.link_prefixes("ftp://h/") == ("http:", "https:", "ftp:")
    assert registry.link_prefixes("file:///d/") == ("http:", "https:", "file:")
    assert registry.link_prefixes("data:,x") == ("http:", "https:")


def test_the_registry_ports_agree_with_the_url_parser():
    from harvester.urls import DEFAULT_PORTS

    registry = schemes.builtin()
    assert {name: registry.get(name).default_port for name in DEFAULT_PORTS} == DEFAULT_PORTS


def test_links_on_a_listing_keep_its_own_scheme_and_web_pages_do_not():
    body = b'<a href="ftp://h/f">f</a><a href="file:///etc/passwd">p</a><a href="data:,x">d</a><a href="/n">n</a>'
    headers = httpx.Headers({"Content-Type": "text/html"})
    assert list(Response("ftp://h/", 200, headers, body).links()) == ["ftp://h/f", "ftp://h/n"]
    assert list(Response("http://h/", 200, headers, body).links()) == ["http://h/n"]


def test_a_request_outside_a_crawl_knows_only_the_built_in_schemes():
    assert Request("data:,x").url == "data:,x"
    with pytest.raises(InvalidURL):
        Request("memo://work/")


class Notes:
    """A transport defined in the test: note://h/NAME answers NAME as text."""

    schemes = (schemes.Scheme("note", follow=schemes.Follow.OWN_SCHEME),)

    def __init__(self, settings):
        self.settings = settings

    async def fetch(self, request):
        body = request.url.rsplit("/", 1)[1].encode()
        return Response(request.url, 200, httpx.Headers({"Content-Type": "text/plain"}), body, request)

    async def aclose(self):
        pass


def test_two_crawls_in_one_process_keep_their_own_schemes(tmp_path, sql):
    class WithNotes(Spider):
        name = "with_notes"
        transports = [Notes]
        start_urls = ["note://h/one"]

        def parse(self, response):
            yield {"text": response.text}

    class Without(Spider):
        name = "without"
        start_urls = ["data:,plain"]

        def parse(self, response):
            yield {"text": response.text}
            yield Request("note://h/two")  # InvalidURL here: this crawl has no note transport

    async def both():
        settings = build({"fetch": {"retries": 0, "obey_robots": False}}, root=tmp_path)
        return await asyncio.gather(crawl(settings, WithNotes), crawl(settings, Without))

    first, second = asyncio.run(both())
    assert sorted(row[0] for row in sql(tmp_path, "select json_extract(data, '$.text') from items")) == ["one", "plain"]
    assert sql(tmp_path, "select kind from errors") == [("url",)]
    assert first.stats.errors == 0 and second.stats.errors == 1
