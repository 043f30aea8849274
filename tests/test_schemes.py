"""Whole crawls over ftp:// and file:// trees, and the fetch-safety rule for file:// URLs."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote

from test_ftp import ftp, tree  # noqa: F401 - fixtures: a pyftpdlib server over a tmp tree

from harvester import Request, Spider
from harvester.config import build
from harvester.crawler import crawl


class Tree(Spider):
    """Walks a directory tree: an item per file with its size, and every child followed."""

    name = "tree"

    def parse(self, response):
        if response.url.endswith("/"):
            yield from response.follow_all()
        else:
            yield {"url": response.url, "size": len(response.body), "head": response.body[:10].decode()}


def run(tmp_path, urls, env=None, **sections):
    Tree.start_urls = list(urls)
    options = {"fetch": {"retries": 0, "timeout": 5}, **sections}
    return asyncio.run(crawl(build(options, root=tmp_path, env=env or {}), Tree))


def test_an_ftp_tree_is_crawled_completely_with_login(tmp_path, ftp, tree, sql):  # noqa: F811
    port = ftp()
    result = run(
        tmp_path,
        [f"ftp://127.0.0.1:{port}/"],
        env={"FTP_PW": "s3cret"},
        auth={f"ftp://127.0.0.1:{port}": {"username": "alice", "password_env": "FTP_PW"}},
    )
    files = sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file())
    rows = sql(tmp_path, "select json_extract(data, '$.url') from items")
    urls = sorted(row[0].split(f":{port}/", 1)[1] for row in rows)
    assert [unquote(u) for u in urls] == files
    assert result.stats.errors == 0
    assert ("sku,title\r",) in sql(tmp_path, "select json_extract(data, '$.head') from items")


def test_a_wrong_ftp_password_is_recorded_not_a_crash(tmp_path, ftp, sql):  # noqa: F811
    port = ftp()
    result = run(
        tmp_path,
        [f"ftp://127.0.0.1:{port}/"],
        env={"FTP_PW": "wrong"},
        auth={f"ftp://127.0.0.1:{port}": {"username": "alice", "password_env": "FTP_PW"}},
    )
    assert result.status == "finished"
    assert sql(tmp_path, "select kind, message from errors") == [("http", "HTTP 401")]


def test_a_file_tree_is_crawled(tmp_path, sql):
    root = tmp_path / "data"
    (root / "a" / "b").mkdir(parents=True)
    (root / "one.csv").write_text("x\n1\n")
    (root / "a" / "two.xml").write_text("<r/>")
    (root / "a" / "b" / "three.txt").write_text("three")
    run(tmp_path, [root.as_uri() + "/"])
    heads = sorted(row[0] for row in sql(tmp_path, "select json_extract(data, '$.head') from items"))
    assert heads == ["<r/>", "three", "x\n1\n"]


def test_a_remote_page_linking_to_a_local_file_does_not_read_it(tmp_path, site, sql):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    site.page("/", f'<a href="{secret.as_uri()}">secret</a><a href="file:///etc/passwd">pw</a>')

    class Follow(Spider):
        name = "follow"
        start_urls = [site.url + "/"]

        def parse(self, response):
            yield {"url": response.url, "body": response.text}
            yield from response.follow_all()
            yield Request(secret.as_uri())  # yielded by hand: the scheduler refuses it

    result = asyncio.run(crawl(build({"fetch": {"obey_robots": False}}, root=tmp_path), Follow))
    bodies = [row[0] for row in sql(tmp_path, "select json_extract(data, '$.body') from items")]
    assert len(bodies) == 1 and "do not read" not in bodies[0]
    assert sql(tmp_path, "select count(*) from pages where url like 'file:%'") == [(0,)]
    assert result.stats.filtered["unsafe_scheme"] == 1
