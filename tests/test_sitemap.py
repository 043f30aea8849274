"""SitemapSpider: robots.txt Sitemap lines, indexes, gzipped sitemaps, rules and limits."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

from conftest import Site

from harvester import SitemapSpider
from harvester.config import build
from harvester.crawler import crawl

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml"'


def urlset(*locs: str, extra: str = "") -> str:
    entries = "".join(
        f"<url><loc>{loc}</loc><lastmod>2024-01-0{i % 9 + 1}</lastmod>{extra}</url>" for i, loc in enumerate(locs)
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {NS}>{entries}</urlset>'


def index(*locs: str) -> str:
    entries = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex {NS}>{entries}</sitemapindex>'


class Shop(SitemapSpider):
    name = "shop"
    sitemap_rules = [(r"/product/", "parse_product"), (r"", "parse_page")]
    sitemap_follow = [r"/sitemaps/"]

    def parse_product(self, response):
        yield {"kind": "product", "url": response.url}

    def parse_page(self, response):
        yield {"kind": "page", "url": response.url}


def run(tmp_path: Path, spider: type, urls: list[str]):
    spider.sitemap_urls = urls
    options = {"fetch": {"obey_robots": False, "retries": 0, "timeout": 5}}
    return asyncio.run(crawl(build(options, root=tmp_path), spider))


def serve_pages(site: Site, *paths: str) -> None:
    for path in paths:
        site.page(path, f"<h1>{path}</h1>")


def test_robots_index_and_gzipped_sitemaps_lead_to_pages_by_rule(tmp_path, site: Site, sql):
    base = site.url
    site.page(
        "/robots.txt", f"User-agent: *\nDisallow:\nSitemap: {base}/sitemaps/index.xml\n", content_type="text/plain"
    )
    site.page(
        "/sitemaps/index.xml",
        index(f"{base}/sitemaps/products.xml.gz", f"{base}/sitemaps/pages.xml", f"{base}/elsewhere/skipped.xml"),
        content_type="application/xml",
    )
    products = gzip.compress(urlset(f"{base}/product/1", f"{base}/product/2").encode())
    site.routes["/sitemaps/products.xml.gz"] = lambda h: h.send_text(200, products, "application/gzip")
    site.page("/sitemaps/pages.xml", urlset(f"{base}/about", f"{base}/contact"), content_type="application/xml")
    serve_pages(site, "/product/1", "/product/2", "/about", "/contact")
    result = run(tmp_path, Shop, [base + "/robots.txt"])
    got = sorted(sql(tmp_path, "select json_extract(data, '$.kind'), json_extract(data, '$.url') from items"))
    assert got == [
        ("page", f"{base}/about"),
        ("page", f"{base}/contact"),
        ("product", f"{base}/product/1"),
        ("product", f"{base}/product/2"),
    ]
    assert site.hits["/elsewhere/skipped.xml"] == 0  # not matched by sitemap_follow
    assert result.stats.errors == 0


def test_a_sitemap_never_leads_to_a_local_file(tmp_path, site: Site, sql):
    secret = tmp_path / "secret.html"
    secret.write_text("<h1>secret</h1>")
    site.page("/sitemap.xml", urlset(secret.as_uri(), site.url + "/ok"), content_type="application/xml")
    serve_pages(site, "/ok")
    run(tmp_path, Shop, [site.url + "/sitemap.xml"])
    assert sql(tmp_path, "select json_extract(data, '$.url') from items") == [(site.url + "/ok",)]
    assert sql(tmp_path, "select count(*) from pages where url like 'file:%'") == [(0,)]


def test_alternate_links_and_the_entry_filter_hook(tmp_path, site: Site, sql):
    alternate = f'<xhtml:link rel="alternate" hreflang="de" href="{site.url}/de/about"/>'
    site.page(
        "/sitemap.xml", urlset(site.url + "/about", site.url + "/old", extra=alternate), content_type="application/xml"
    )
    serve_pages(site, "/about", "/de/about", "/old")

    class Filtered(Shop):
        name = "filtered"
        sitemap_alternate_links = True

        def sitemap_filter(self, entries):
            return [entry for entry in entries if not entry["loc"].endswith("/old")]

    run(tmp_path, Filtered, [site.url + "/sitemap.xml"])
    assert sorted(row[0] for row in sql(tmp_path, "select json_extract(data, '$.url') from items")) == [
        site.url + "/about",
        site.url + "/de/about",
    ]
    assert site.hits["/old"] == 0


def test_more_than_50000_urls_is_a_parse_error_after_the_first_50000(tmp_path, site: Site, sql):
    site.page("/huge.xml", urlset(*(f"{site.url}/p/{i}" for i in range(50_001))), content_type="application/xml")

    class NoPages(SitemapSpider):
        name = "nopages"
        sitemap_rules = [(r"/never/", "parse")]  # count the entries, fetch none

    run(tmp_path, NoPages, [site.url + "/huge.xml"])
    [(kind, message)] = sql(tmp_path, "select kind, message from errors")
    assert kind == "parse" and "more than 50000 URLs" in message


def test_a_sitemap_inflating_past_50_mb_is_refused(tmp_path, site: Site, sql):
    head = urlset(site.url + "/first").replace("</urlset>", "").encode()
    filler = b"<!--" + b"x" * 1000 + b"-->\n"
    bomb = gzip.compress(head + filler * (51 * 1024) + b"</urlset>", compresslevel=1)  # 51 MB inflated
    site.routes["/bomb.xml.gz"] = lambda h: h.send_text(200, bomb, "application/gzip")
    serve_pages(site, "/first")
    run(tmp_path, Shop, [site.url + "/bomb.xml.gz"])
    assert sql(tmp_path, "select json_extract(data, '$.url') from items") == [(site.url + "/first",)]
    [(kind, message)] = sql(tmp_path, "select kind, message from errors")
    assert kind == "too_large" and str(50 * 1024 * 1024) in message


def test_a_page_that_is_not_a_sitemap_is_a_parse_error(tmp_path, site: Site, sql):
    site.page("/sitemap.xml", "<html><body><a href='/x'>x</a></body></html>", content_type="text/html")
    run(tmp_path, Shop, [site.url + "/sitemap.xml"])
    [(kind, message)] = sql(tmp_path, "select kind, message from errors")
    assert kind == "parse" and "not a sitemap" in message


def test_blank_lines_before_the_declaration_and_an_escaped_ampersand_are_read(tmp_path, site: Site, sql):
    body = "\ufeff\r\n\n  \t" + urlset(site.url + "/page?a=1&amp;b=2", site.url + "/product/7")
    site.page("/sitemap.xml", body, content_type="application/xml")
    serve_pages(site, "/page", "/product/7")
    result = run(tmp_path, Shop, [site.url + "/sitemap.xml"])
    got = sorted(row[0] for row in sql(tmp_path, "select json_extract(data, '$.url') from items"))
    assert got == [site.url + "/page?a=1&b=2", site.url + "/product/7"]
    assert site.hits["/page?a=1&b=2"] == 1
    assert result.stats.errors == 0


def test_an_entity_the_sitemap_declares_is_left_out_never_expanded(tmp_path, site: Site, sql):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY xxe SYSTEM "{secret.as_uri()}">'
        f'<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        f"<urlset {NS}><url><loc>{site.url}/a&xxe;</loc></url><url><loc>{site.url}/b&lol2;</loc></url></urlset>"
    )
    site.page("/sitemap.xml", body, content_type="application/xml")
    serve_pages(site, "/a", "/b")
    run(tmp_path, Shop, [site.url + "/sitemap.xml"])
    assert sorted(row[0] for row in sql(tmp_path, "select json_extract(data, '$.url') from items")) == [
        site.url + "/a",
        site.url + "/b",
    ]
    assert not any("TOPSECRET" in path or "lol" in path for path in site.hits)


def test_a_loc_that_does_not_parse_is_left_out_and_the_rest_of_the_sitemap_kept(tmp_path, site: Site, sql):
    site.page(
        "/sitemap.xml", urlset("http://[not-a-host/", "/after", f"{site.url}/product/9"), content_type="application/xml"
    )
    serve_pages(site, "/after", "/product/9")
    run(tmp_path, Shop, [site.url + "/sitemap.xml"])
    got = sorted(sql(tmp_path, "select json_extract(data, '$.url') from items"))
    assert got == [(f"{site.url}/after",), (f"{site.url}/product/9",)]
