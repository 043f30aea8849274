"""Scrapy's compressed-body cases (tests/data/scrapy-compressed), served on loopback and crawled.

Each file is served with the Content-Encoding Scrapy's tests give it; the
crawl must hand the callback what Scrapy's tests expect: the whole page for
every coding (zstd out of the box, three stacked codings), the readable part
of a truncated body with one `truncated` error row, and a refusal for bombs
over `max_size`.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from conftest import Site

from harvester import Spider
from harvester.config import build
from harvester.crawler import crawl

DATA = Path(__file__).parent / "data" / "scrapy-compressed"
WHOLE = {  # Scrapy's FORMAT table: file, Content-Encoding
    "gzip": ("html-gzip.bin", "gzip"),
    "x-gzip": ("html-gzip.bin", "x-gzip"),
    "rawdeflate": ("html-rawdeflate.bin", "deflate"),
    "zlibdeflate": ("html-zlibdeflate.bin", "deflate"),
    "gzip-deflate": ("html-gzip-deflate.bin", "gzip, deflate"),
    "gzip-deflate-gzip": ("html-gzip-deflate-gzip.bin", "gzip, deflate, gzip"),
    "br": ("html-br.bin", "br"),
    "zstd-static-content-size": ("html-zstd-static-content-size.bin", "zstd"),
    "zstd-static-no-content-size": ("html-zstd-static-no-content-size.bin", "zstd"),
    "zstd-streaming-no-content-size": ("html-zstd-streaming-no-content-size.bin", "zstd"),
}
HALVED = (
    "gzip",
    "zlibdeflate",
    "br",
    "zstd-static-content-size",
    "zstd-static-no-content-size",
    "zstd-streaming-no-content-size",
)  # Scrapy's test_process_truncated_response_* cases
BROKEN_GZIP = ("truncated-crc-error.gz", "truncated-crc-error-short.gz", "unexpected-eof.gz")  # its test_utils_gz
BOMBS = ("br", "deflate", "gzip", "zstd")  # 11,511,612 bytes each once inflated


class Bodies(Spider):
    name = "bodies"

    def parse(self, response):
        body = response.body
        yield {
            "case": response.url.rsplit("/", 1)[1],
            "size": len(body),
            "head": body[:9].decode("latin-1"),
            "tail": body[-7:].decode("latin-1"),
            "sha": hashlib.sha256(body).hexdigest(),
            "text": response.text if "eof" in response.url else None,
        }


def serve(site: Site, path: str, body: bytes, coding: str, content_type: str = "text/html") -> str:
    headers = {"Content-Encoding": coding}
    site.routes[path] = lambda h: h.send_text(200, body, content_type, headers)
    return site.url + path


def test_scrapy_compressed_cases_crawl_as_scrapy_reads_them(tmp_path, site: Site, sql):
    urls = [serve(site, f"/whole/{case}", (DATA / name).read_bytes(), coding) for case, (name, coding) in WHOLE.items()]
    for case in HALVED:
        name, coding = WHOLE[case]
        data = (DATA / name).read_bytes()
        urls.append(serve(site, f"/half/{case}", data[: len(data) // 2], coding))
    for name in BROKEN_GZIP:
        urls.append(serve(site, f"/gz/{name}", (DATA / name).read_bytes(), "gzip", "text/html; charset=cp1252"))
    for coding in BOMBS:
        urls.append(serve(site, f"/bomb/{coding}", (DATA / f"bomb-{coding}.bin").read_bytes(), coding))
    Bodies.start_urls = urls
    settings = build({"fetch": {"obey_robots": False, "max_size": "10MB", "retries": 0}}, root=tmp_path)
    assert asyncio.run(crawl(settings, Bodies)).status == "finished"

    rows = sql(
        tmp_path,
        "select json_extract(data, '$.case'), json_extract(data, '$.size'), json_extract(data,"
        " '$.head'), json_extract(data, '$.tail'), json_extract(data, '$.sha'),"
        " json_extract(data, '$.text'), url from items",
    )
    got = {url.split("/", 3)[3]: (size, head, tail, sha, text) for _, size, head, tail, sha, text, url in rows}
    errors = sql(tmp_path, "select url, kind, message from errors")
    error_kinds = {url.split("/", 3)[3]: kind for url, kind, _ in errors}
    assert len(errors) == len(error_kinds)  # one row per page at most

    # every coding decodes to the same whole page, zstd and "gzip, deflate, gzip" included
    page = got["whole/gzip"]
    assert page[1] == "<!DOCTYPE" and page[2] == "</html>\n"[-7:]
    deflated = got["whole/rawdeflate"]  # Scrapy's two deflate samples are of a slightly different page
    for case in WHOLE:
        assert got[f"whole/{case}"][3] == (deflated if case in ("rawdeflate", "zlibdeflate") else page)[3], case
        assert f"whole/{case}" not in error_kinds
    assert deflated[1:3] == page[1:3]

    # half a body: its readable part reaches the callback (none for zstd: its one block is cut), one row each
    for case in HALVED:
        size, head = got[f"half/{case}"][:2]
        assert (head == "<!DOCTYPE" and size > 20_000) if "zstd" not in case else size == 0, case
        assert error_kinds[f"half/{case}"] == "truncated"

    assert got["gz/truncated-crc-error.gz"][2].endswith("</html")
    assert got["gz/truncated-crc-error-short.gz"][2].endswith("</html>")
    expected = (DATA / "unexpected-eof-output.txt").read_text(encoding="utf-8")
    assert got["gz/unexpected-eof.gz"][4] == expected
    for name in BROKEN_GZIP:
        assert error_kinds[f"gz/{name}"] == "truncated"

    for coding in BOMBS:
        assert f"bomb/{coding}" not in got
        assert error_kinds[f"bomb/{coding}"] == "too_large"
    assert len(got) == len(WHOLE) + len(HALVED) + len(BROKEN_GZIP)
