"""`[fetch] resolve`: host names connected to at an address the operator gives, as curl's `--resolve`.

Only the address connected to changes: the URL, the Host header, TLS SNI and
the certificate check keep the name. Every address here is loopback.
"""

from __future__ import annotations

import asyncio
import ssl

import pytest
from conftest import Site, _start
from test_cli import one_line_error

from harvester import Spider
from harvester.config import build
from harvester.crawler import crawl


class Titles(Spider):
    name = "titles"

    def parse(self, response):
        yield {"url": response.url, "h1": response.css("h1::text").get()}


def run(tmp_path, urls, **fetch):
    Titles.start_urls = urls
    options = {"fetch": {"retries": 0, "timeout": 10, "obey_robots": False, **fetch}}
    return asyncio.run(crawl(build(options, root=tmp_path), Titles))


def test_a_resolved_name_stays_in_the_url_and_the_host_header(tmp_path, site, sql):
    site.page("/", "<h1>shop</h1>")
    run(
        tmp_path,
        [f"http://shop.example.org:{site.port}/"],
        resolve={"shop.example.org": "127.0.0.1"},
    )
    assert sql(tmp_path, "select url, json_extract(data, '$.h1') from items") == [
        (f"http://shop.example.org:{site.port}/", "shop")
    ]
    assert [headers["Host"] for _, _, headers in site.requests] == [f"shop.example.org:{site.port}"]


def test_over_https_the_name_is_the_one_sni_and_the_certificate_check_see(tmp_path, ca, sql):
    """The server's certificate names only `secure.example.org`, and it is reached at 127.0.0.1."""
    names: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("secure.example.org").configure_cert(context)
    context.sni_callback = lambda connection, name, ctx: names.append(name)
    site = Site()
    server = _start(site, context)
    try:
        site.page("/", "<h1>secure</h1>")
        run(
            tmp_path,
            [f"https://secure.example.org:{site.port}/"],
            ca_file=str(ca.path),
            resolve={"Secure.Example.org": "127.0.0.1"},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert sql(tmp_path, "select json_extract(data, '$.h1') from items") == [("secure",)]
    assert sql(tmp_path, "select count(*) from errors") == [(0,)]
    assert names == ["secure.example.org"]


@pytest.mark.parametrize("address", ['"localhost"', '"127.0.0.1:8080"', "7"])
def test_a_resolve_value_that_is_not_an_ip_address_is_a_one_line_config_error(project, address):
    project.write(
        "spiders/nothing.py",
        """
        from harvester import Spider

        class Nothing(Spider):
            name = "nothing"
        """,
    )
    result = project.run("crawl", "nothing", "-s", f'fetch.resolve={{"shop.example.org" = {address}}}')
    line = one_line_error(result)
    assert "resolve" in line and "shop.example.org" in line and "not an IP address" in line


@pytest.mark.parametrize("host", ["shop.example.org:8080", "http://shop.example.org", ""])
def test_a_resolve_key_that_is_not_a_host_name_is_a_one_line_config_error(project, host):
    project.write(
        "harvester.toml",
        f"""
        [fetch]
        resolve = {{ "{host}" = "127.0.0.1" }}
        """,
    )
    line = one_line_error(project.run("list"))
    assert "resolve" in line and "not a host name" in line
