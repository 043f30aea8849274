"""Cookies, auth, cross-origin redirects, proxies and TLS against real loopback servers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re

import pytest
from conftest import Handler, Site, _start

from harvester import FormRequest, Request, Spider
from harvester.config import build
from harvester.crawler import crawl


class Collect(Spider):
    name = "collect"

    def parse(self, response):
        yield {"url": response.url, "h1": response.css("h1::text").get()}


def run(tmp_path, spider_cls, urls=None, env=None, **sections):
    if urls is not None:
        spider_cls.start_urls = list(urls)
    options = {"fetch": {"retries": 0, "timeout": 5, "obey_robots": False}}
    for name, values in sections.items():
        options.setdefault(name, {}).update(values)
    return asyncio.run(crawl(build(options, root=tmp_path, env=env or {}), spider_cls))


def h1s(sql, tmp_path):
    return sorted(row[0] for row in sql(tmp_path, "select json_extract(data, '$.h1') from items"))


# -- cookies -------------------------------------------------------------------------------------


def test_login_form_then_session_cookie_then_private_pages(tmp_path, site, sql):
    site.page(
        "/login",
        '<form action="/session" method="post"><input type="hidden" name="csrf" value="t0k">'
        '<input name="user"><input type="password" name="pw"><button>go</button></form>',
    )

    def session(handler: Handler) -> None:
        body = handler.rfile.read(int(handler.headers["Content-Length"])).decode()
        if "csrf=t0k" in body and "user=alice" in body and "pw=pw1" in body:
            handler.send_text(302, "", headers={"Location": "/private/1", "Set-Cookie": "sid=good; Path=/; HttpOnly"})
        else:
            handler.send_text(403, "no")

    def private(handler: Handler) -> None:
        if "sid=good" in (handler.headers.get("Cookie") or ""):
            page = handler.path.rsplit("/", 1)[1]
            handler.send_text(200, f'<h1>private {page}</h1><a href="/private/2">next</a>')
        else:
            handler.send_text(401, "who are you")

    site.routes["/session"] = session
    site.routes["/private/1"] = site.routes["/private/2"] = private

    class Login(Spider):
        name = "login"
        start_urls = [site.url + "/login"]

        def parse(self, response):
            yield FormRequest.from_response(
                response, formdata={"user": "alice", "pw": "pw1"}, callback=self.parse_private
            )

        def parse_private(self, response):
            yield {"h1": response.css("h1::text").get()}
            yield from response.follow_all(callback=self.parse_private)

    run(tmp_path, Login)
    assert h1s(sql, tmp_path) == ["private 1", "private 2"]
    assert sql(tmp_path, "select count(*) from errors") == [(0,)]


def test_a_cookie_for_a_public_suffix_is_not_stored(tmp_path, site, sql):
    """Through a loopback proxy, so real host names reach our server without DNS."""
    seen: dict[str, str] = {}

    def setter(handler: Handler) -> None:
        handler.send_text(200, "<h1>set</h1>", headers={"Set-Cookie": "suffix=1; Domain=co.uk; Path=/"})

    def setter2(handler: Handler) -> None:
        handler.send_text(200, "<h1>set2</h1>", headers={"Set-Cookie": "site=1; Domain=example.co.uk; Path=/"})

    def check(handler: Handler) -> None:
        seen["cookie"] = handler.headers.get("Cookie") or ""
        handler.send_text(200, "<h1>check</h1>")

    site.routes["http://shop.example.co.uk/set"] = setter
    site.routes["http://shop.example.co.uk/set2"] = setter2
    site.routes["http://other.example.co.uk/check"] = check

    class Sequence(Spider):
        name = "sequence"

        def start_requests(self):
            yield Request("http://shop.example.co.uk/set", callback=self.second)

        def second(self, response):
            yield Request("http://shop.example.co.uk/set2", callback=self.third)

        def third(self, response):
            yield Request("http://other.example.co.uk/check", callback=self.parse)

        def parse(self, response):
            yield {"h1": "done"}

    run(tmp_path, Sequence, fetch={"proxies": {"http": site.url}})
    assert seen["cookie"] == "site=1"


def test_secure_cookies_are_not_sent_over_http(tmp_path, site, sql):
    site.page("/set", "<h1>set</h1>", headers={"Set-Cookie": "token=1; Secure; Path=/"})
    got: list[str] = []

    def check(handler: Handler) -> None:
        got.append(handler.headers.get("Cookie") or "")
        handler.send_text(200, "<h1>check</h1>")

    site.routes["/check"] = check

    class Two(Spider):
        name = "two"
        start_urls = [site.url + "/set"]

        def parse(self, response):
            yield Request(site.url + "/check", callback=self.done)

        def done(self, response):
            yield {"h1": "x"}

    run(tmp_path, Two)
    assert got == [""]


# -- auth ----------------------------------------------------------------------------------------


def basic_area(handler: Handler, user: str, password: str) -> None:
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    if handler.headers.get("Authorization") == expected:
        handler.send_text(200, "<h1>basic ok</h1>")
    else:
        handler.send_text(401, "no", headers={"WWW-Authenticate": 'Basic realm="area"'})


def digest_area(handler: Handler, user: str, password: str) -> None:
    realm, nonce = "area", "n0nce"
    header = handler.headers.get("Authorization") or ""
    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', header))
    if header.startswith("Digest ") and fields.get("username") == user:
        md5 = lambda text: hashlib.md5(text.encode()).hexdigest()
        ha1 = md5(f"{user}:{realm}:{password}")
        ha2 = md5(f"{handler.command}:{fields['uri']}")
        expected = md5(f"{ha1}:{nonce}:{fields['nc']}:{fields['cnonce']}:{fields['qop']}:{ha2}")
        if fields.get("response") == expected:
            handler.send_text(200, "<h1>digest ok</h1>")
            return
    handler.send_text(
        401, "no", headers={"WWW-Authenticate": f'Digest realm="{realm}", nonce="{nonce}", qop="auth", algorithm=MD5'}
    )


@pytest.mark.parametrize("scheme", ["basic", "digest"])
def test_protected_areas_are_harvested_with_configured_credentials(tmp_path, site, sql, scheme):
    area = basic_area if scheme == "basic" else digest_area
    site.routes["/area"] = lambda h: area(h, "alice", "wonder")
    run(
        tmp_path,
        Collect,
        [site.url + "/area"],
        env={"AREA_PW": "wonder"},
        auth={site.url: {"username": "alice", "password_env": "AREA_PW", "scheme": scheme}},
    )
    assert h1s(sql, tmp_path) == [f"{scheme} ok"]


def test_wrong_credentials_end_as_an_http_error(tmp_path, site, sql):
    site.routes["/area"] = lambda h: basic_area(h, "alice", "wonder")
    run(
        tmp_path,
        Collect,
        [site.url + "/area"],
        env={"AREA_PW": "guess"},
        auth={site.url: {"username": "alice", "password_env": "AREA_PW"}},
    )
    assert sql(tmp_path, "select kind, message from errors") == [("http", "HTTP 401")]


def test_credentials_are_not_sent_to_other_hosts_by_link(tmp_path, site, other_site, sql):
    site.routes["/area"] = lambda h: (
        h.send_text(200, f'<a href="{other_site.url}/page">x</a>')
        if h.headers.get("Authorization")
        else basic_area(h, "alice", "wonder")
    )
    other_site.page("/page", "<h1>other</h1>")

    class Follow(Collect):
        name = "follow"
        start_urls = [site.url + "/area"]

        def parse(self, response):
            yield from super().parse(response)
            yield from response.follow_all()

    run(tmp_path, Follow, env={"AREA_PW": "wonder"}, auth={site.url: {"username": "alice", "password_env": "AREA_PW"}})
    assert other_site.hits["/page"] == 1
    assert [headers.get("Authorization") for _, _, headers in other_site.requests] == [None]


# -- redirects across origins --------------------------------------------------------------------


@pytest.mark.parametrize("target", ["same origin", "port change", "host change", "http to https", "https to http"])
def test_redirects_across_origins_carry_no_credentials_or_cookies(
    tmp_path, target, site, other_site, tls_site, ca, sql
):
    port_site = Site()  # a third server: same host as `site`, another port
    server = _start(port_site)
    try:
        start = tls_site if target == "https to http" else site
        destination = {
            "same origin": site,
            "port change": port_site,
            "host change": other_site,
            "http to https": tls_site,
            "https to http": site,
        }[target]
        start.routes["/start"] = lambda h: (
            basic_area(h, "alice", "wonder")
            if not h.headers.get("Authorization")
            else h.send_text(302, "", headers={"Location": destination.url + "/landing", "Set-Cookie": "sid=s3cret"})
        )
        destination.page("/landing", "<h1>landed</h1>")
        run(
            tmp_path,
            Collect,
            [start.url + "/start"],
            env={"AREA_PW": "wonder"},
            fetch={"ca_file": str(ca.path)},
            auth={start.url: {"username": "alice", "password_env": "AREA_PW"}},
        )
        landing = [headers for _, path, headers in destination.requests if path == "/landing"]
        assert h1s(sql, tmp_path) == ["landed"]
        assert len(landing) == 1
        assert bool(landing[0].get("Authorization")) == (target == "same origin")
        # The cookie (no Domain: host-only, 127.0.0.1) goes where RFC 6265 sends it: cookies are kept
        # apart by host, not by port or scheme (§8.5), so to 127.0.0.1 on any port, never to 127.0.0.2.
        assert bool(landing[0].get("Cookie")) == (target != "host change")
    finally:
        server.shutdown()
        server.server_close()


def test_post_becomes_get_after_303_and_meta_refresh_is_followed(tmp_path, site, sql):
    site.page("/form", "", status=303, headers={"Location": "/refresh"})
    site.page("/refresh", '<meta http-equiv="refresh" content="0; url=/final">')
    site.page("/final", "<h1>final</h1>")

    class Post(Collect):
        name = "post"

        def start_requests(self):
            yield FormRequest(site.url + "/form", formdata={"a": "1"})

    run(tmp_path, Post)
    assert [method for method, path, _ in site.requests] == ["POST", "GET", "GET"]
    assert sql(tmp_path, "select final_url from pages") == [(site.url + "/final",)]


# -- proxies and TLS -----------------------------------------------------------------------------


def test_requests_go_through_the_configured_proxy_with_its_credentials(tmp_path, site, sql):
    site.page("http://books.invalid/", "<h1>via proxy</h1>")
    run(
        tmp_path,
        Collect,
        ["http://books.invalid/"],
        env={"PROXY_PW": "pp"},
        fetch={"proxies": {"http": site.url}, "proxy_username": "bob", "proxy_password_env": "PROXY_PW"},
    )
    assert h1s(sql, tmp_path) == ["via proxy"]
    ((_, path, headers),) = site.requests
    assert path == "http://books.invalid/"
    assert headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"bob:pp").decode()


def test_proxy_credentials_never_reach_an_origin_fetched_directly(tmp_path, site, tls_site, ca, sql):
    tls_site.page("/", "<h1>direct</h1>")
    run(
        tmp_path,
        Collect,
        [tls_site.url + "/"],
        env={"PROXY_PW": "pp"},
        fetch={
            "proxies": {"http": site.url},
            "proxy_username": "bob",
            "proxy_password_env": "PROXY_PW",
            "ca_file": str(ca.path),
        },
    )
    assert h1s(sql, tmp_path) == ["direct"]
    assert all("Proxy-Authorization" not in headers for _, _, headers in tls_site.requests)
    assert site.requests == []


def test_tls_is_verified_by_default(tmp_path, tls_site, sql):
    tls_site.page("/", "<h1>secret</h1>")
    run(tmp_path, Collect, [tls_site.url + "/"])
    ((kind, message),) = sql(tmp_path, "select kind, message from errors")
    assert kind == "network" and "certificate" in message.lower()
    assert tls_site.requests == []


def test_tls_trusts_a_configured_ca_or_an_insecure_host(tmp_path, tls_site, ca, sql):
    tls_site.page("/", "<h1>secret</h1>")
    run(tmp_path, Collect, [tls_site.url + "/"], fetch={"ca_file": str(ca.path)})
    run(tmp_path, Collect, [tls_site.url + "/"], fetch={"insecure_hosts": ["127.0.0.1"]})
    assert h1s(sql, tmp_path) == ["secret", "secret"]


# -- conditional re-fetch ------------------------------------------------------------------------


def test_a_second_run_revalidates_and_304s_are_transparent(tmp_path, site, sql):
    """30 pages; 3 change between runs: validators for every page, 27 304s, the whole site crawled."""
    version = {i: 1 for i in range(30)}

    def page(i: int):
        def route(handler: Handler) -> None:
            etag = f'"p{i}-v{version[i]}"'
            if handler.headers.get("If-None-Match") == etag:
                handler.send_not_modified(etag)
                return
            links = f'<a href="/p/{i + 1}">next</a>' if i < 29 else ""
            handler.send_text(200, f"<h1>page {i} v{version[i]}</h1>{links}", headers={"ETag": etag})

        return route

    for i in range(30):
        site.routes[f"/p/{i}"] = page(i)

    class Chain(Spider):
        name = "chain"
        start_urls = [site.url + "/p/0"]

        def parse(self, response):
            yield {"h1": response.css("h1::text").get(), "cached": response.from_cache}
            yield from response.follow_all()

    run(tmp_path, Chain)
    for i in (3, 14, 27):
        version[i] = 2
    site.requests.clear()
    run(tmp_path, Chain)

    conditional = [headers.get("If-None-Match") for _, _, headers in site.requests]
    assert len(conditional) == 30 and all(conditional)
    statuses = sql(tmp_path, "select status, count(*) from pages where run_id = 2 group by status")
    assert statuses == [(200, 3), (304, 27)]
    second = sql(
        tmp_path, "select json_extract(data, '$.h1'), json_extract(data, '$.cached') from items where run_id = 2"
    )
    assert len(second) == 30
    assert sorted(h1 for h1, cached in second if not cached) == ["page 14 v2", "page 27 v2", "page 3 v2"]
