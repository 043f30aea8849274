"""The file:// transport over a tree in tmp_path."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from pathlib import Path

import pytest

from harvester.config import build
from harvester.exceptions import TooLarge
from harvester.request import Request
from harvester.response import Response
from harvester.transports.file import FileTransport

ACCENTED = "donn\u00e9es \u00e9t\u00e9.csv"
ACCENTED_URL = "donn%C3%A9es%20%C3%A9t%C3%A9.csv"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "feeds" / "2024").mkdir(parents=True)
    (root / "feeds" / "books.csv").write_bytes(b"sku,title\r\n1,Dune\r\n")
    (root / "feeds" / "books.xml").write_bytes(b"<books/>")
    (root / "feeds" / ACCENTED).write_bytes(b"a,b\n1,2\n")
    (root / "big.bin").write_bytes(b"\0" * 300_000)
    return root


def fetch(url: str, max_size: str = "1MB", method: str = "GET") -> Response:
    async def run() -> Response:
        transport = FileTransport(build({"fetch": {"max_size": max_size}}))
        try:
            return await transport.fetch(Request(url, method=method))
        finally:
            await transport.aclose()

    return asyncio.run(run())


def test_file_bytes_with_type_and_length(tree: Path) -> None:
    response = fetch((tree / "feeds" / "books.csv").as_uri())
    assert response.status == 200
    assert response.body == b"sku,title\r\n1,Dune\r\n"
    assert response.headers["content-type"] == "text/csv"
    assert response.headers["content-length"] == str(len(response.body))
    assert "last-modified" in response.headers


def test_directory_lists_sorted_children_as_links(tree: Path) -> None:
    base = (tree / "feeds").as_uri() + "/"
    response = fetch(base)
    assert response.status == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    children = ["2024/", "books.csv", "books.xml", ACCENTED_URL]
    assert list(response.links()) == [base + child for child in children]


def test_directory_path_without_trailing_slash_lists_its_children(tree: Path) -> None:
    response = fetch((tree / "feeds").as_uri())
    assert response.status == 200
    assert (tree / "feeds").as_uri() + "/2024/" in list(response.links())


def test_missing_path_answers_404(tree: Path) -> None:
    assert fetch((tree / "nope.csv").as_uri()).status == 404
    assert fetch((tree / "nowhere").as_uri() + "/").status == 404
    assert fetch((tree / "feeds" / "books.csv").as_uri() + "/").status == 404


def test_file_over_max_size_raises_too_large(tree: Path) -> None:
    with pytest.raises(TooLarge):
        fetch((tree / "big.bin").as_uri(), max_size="100KB")


def test_endless_file_is_cut_off_at_max_size_while_read() -> None:
    with pytest.raises(TooLarge):  # st_size is 0: only counting the bytes read stops it
        fetch("file:///dev/zero", max_size="100KB")


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tree: Path) -> None:
    os.mkfifo(tree / "pipe")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(fetch, (tree / "pipe").as_uri())
        try:
            response = pending.result(timeout=5)
        except concurrent.futures.TimeoutError:
            with open(tree / "pipe", "wb"):  # a writer ends the blocked read, so the test ends
                pass
            pytest.fail("the fetch waited for a writer to the pipe")
    assert response.status == 403


def test_percent_encoded_name_is_decoded(tree: Path) -> None:
    response = fetch((tree / "feeds").as_uri() + "/" + ACCENTED_URL)
    assert response.status == 200
    assert response.body == b"a,b\n1,2\n"
