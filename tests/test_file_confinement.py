"""file:// confinement: nothing outside the tree the operator gave is ever read.

The attacks of issue 12 through the real CLI: a page inside the root links
out with encoded dot segments (`%2e%2e/`, `..%2f`), climbs to /etc/passwd,
and a symlink inside the root leads out. The file transport also refuses on
its own what it opened outside the roots (a symlink swapped in after
admission), by the real path of the open descriptor.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

from harvester.config import build
from harvester.exceptions import Forbidden
from harvester.request import Request
from harvester.transports.file import FileRoots, FileTransport

SPIDER = """
from harvester import Spider

class Files(Spider):
    name = "files"
    start = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.start]

    def parse(self, response):
        if not response.url.endswith("/"):
            yield {"url": response.url, "body": response.text}
        yield from response.follow_all()
"""
SECRET = "SECRET-OUTSIDE-THE-ROOT"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tmp_path/data/root is the operator's tree; tmp_path/data/outside.txt and tmp_path/private lie outside."""
    data = tmp_path / "data"
    root = data / "root"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "private").mkdir()
    (data / "outside.txt").write_text(SECRET + " 1")
    (tmp_path / "private" / "key.txt").write_text(SECRET + " 2")
    (root / "sub" / "inner.txt").write_text("inside, under sub")
    (root / "inside.txt").write_text("inside")
    (root / "link-out.txt").symlink_to(data / "outside.txt")
    (root / "dir-out").symlink_to(tmp_path / "private", target_is_directory=True)
    (root / "link-in.txt").symlink_to(root / "inside.txt")
    climb = "%2e%2e/" * 12
    private = str(tmp_path / "private" / "key.txt").lstrip("/")
    links = [
        "inside.txt",
        "sub/inner.txt",
        "link-in.txt",
        "%2e%2e/outside.txt",
        "%2E%2E/outside.txt",
        "sub/..%2f..%2foutside.txt",
        "sub/%2e%2e%2f%2e%2e/outside.txt",
        climb + "etc/passwd",
        "%2e%2e/" * 7 + "etc/passwd",
        climb + private,
        "link-out.txt",
        "dir-out/key.txt",
        "dir-out/",
        "./",
        "sub/",
        "file:///etc/passwd",
        (data / "outside.txt").as_uri(),
    ]
    (root / "index.html").write_text("".join(f'<a href="{link}">x</a>\n' for link in links))
    return root


def stored_text(project) -> str:
    """Every byte the crawl left on disk: the database and its journal files, as text."""
    blobs = [path.read_bytes() for path in project.root.glob("harvest.db*")]
    return b"".join(blobs).decode("latin-1")


def test_links_and_symlinks_out_of_the_root_are_never_read(project, tree: Path) -> None:
    project.spider("files", SPIDER)
    result = project.run("crawl", "files", "-a", f"start={(tree / 'index.html').as_uri()}")
    assert result.returncode == 0, result.stderr
    bodies = sorted(row[0] for row in project.sql("select json_extract(data, '$.body') from items"))
    assert bodies == sorted(["inside", "inside", "inside, under sub", (tree / "index.html").read_text()])
    fetched = [row[0] for row in project.sql("select url from pages")]
    assert all(url.startswith(tree.as_uri() + "/") for url in fetched), fetched
    everything = stored_text(project) + result.stdout + result.stderr
    assert SECRET not in everything
    assert "root:x:0:0" not in everything
    assert project.sql("select count(*) from pages where status != 200") == [(0,)]


def test_a_directory_root_confines_its_listing_links(project, tree: Path) -> None:
    project.spider("files", SPIDER)
    result = project.run("crawl", "files", "-a", f"start={tree.as_uri()}/")
    assert result.returncode == 0, result.stderr
    bodies = {row[0] for row in project.sql("select json_extract(data, '$.body') from items")}
    assert {"inside", "inside, under sub"} <= bodies
    assert SECRET not in stored_text(project) + result.stdout + result.stderr


def fetch(roots: FileRoots, url: str):
    async def run():
        transport = FileTransport(build({}), roots)
        try:
            return await transport.fetch(Request(url))
        finally:
            await transport.aclose()

    return asyncio.run(run())


def test_the_transport_refuses_what_it_opened_outside_the_roots(tree: Path) -> None:
    roots = FileRoots([(tree / "index.html").as_uri()])
    assert fetch(roots, (tree / "inside.txt").as_uri()).body == b"inside"
    assert fetch(roots, (tree / "link-in.txt").as_uri()).body == b"inside"
    for url in [
        (tree / "link-out.txt").as_uri(),
        tree.as_uri() + "/%2e%2e/outside.txt",
        tree.as_uri() + "/sub/..%2f..%2foutside.txt",
        tree.as_uri() + "/dir-out/",
        tree.as_uri() + "/" + "%2e%2e/" * 12 + "etc/passwd",
    ]:
        with pytest.raises(Forbidden, match="outside the file:// trees"):
            fetch(roots, url)


def test_a_symlink_swapped_in_after_admission_is_refused_when_opened(tree: Path) -> None:
    roots = FileRoots([tree.as_uri() + "/"])
    target = tree / "report.txt"
    target.write_text("fine")
    assert roots.admits(target.as_uri())  # the scheduler lets it in...
    target.unlink()
    os.symlink(tree.parent / "outside.txt", target)  # ...then it becomes a way out
    with pytest.raises(Forbidden):
        fetch(roots, target.as_uri())


def test_a_start_file_that_is_a_symlink_is_read_but_gives_no_tree_beyond_its_directory(tree: Path) -> None:
    roots = FileRoots([(tree / "link-out.txt").as_uri()])  # the operator named it: it is read
    assert fetch(roots, (tree / "link-out.txt").as_uri()).body.startswith(SECRET.encode())
    assert not roots.admits((tree.parent / "outside.txt").as_uri().replace("outside", "other"))
    assert roots.admits((tree / "inside.txt").as_uri())


def test_a_resumed_file_crawl_still_reads_its_tree_and_nothing_else(project, tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(40):
        (root / f"f{i:02}.txt").write_text(f"file {i}")
    (root / "out.txt").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "secret.txt").write_text(SECRET)
    project.spider(
        "files",
        SPIDER.replace(
            "    def parse(self, response):\n",
            "    def parse(self, response):\n        __import__('time').sleep(0.05)\n",
        ),
    )
    args = ["crawl", "files", "-a", f"start={root.as_uri()}/", "-s", "fetch.concurrency=1"]
    process = subprocess.Popen(
        [sys.executable, "-m", "harvester", *args],
        cwd=project.root,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.1)
        with contextlib.suppress(sqlite3.Error):
            if project.sql("select count(*) from items")[0][0] >= 5:
                break
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert project.sql("select status from runs") == [("interrupted",)]
    resumed = project.run(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert project.sql("select status from runs") == [("finished",)]
    assert project.sql("select count(distinct url), count(*) from items") == [(40, 40)]
    assert project.sql("select count(*) from errors") == [(0,)]
    assert SECRET not in stored_text(project)
