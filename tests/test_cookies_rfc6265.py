"""Cookies as a crawl meets them (RFC 6265), against real loopback servers.

What a user checks: which `Cookie` header each request carries, that the run
finishes, and that nothing a site sends in `Set-Cookie` costs a page. The
bounds of issue 12 (IP hosts, per-domain and total caps, the header's size)
are here too; the http-state suite is `test_cookies_http_state.py`.
"""

from __future__ import annotations

import asyncio
import random
import time

from conftest import Handler, Site, _start

from harvester import Request, Spider
from harvester.config import build
from harvester.cookies import MAX_COOKIES, MAX_HEADER, MAX_PER_DOMAIN, CookieStore
from harvester.crawler import crawl


def run(tmp_path, spider_cls, **fetch):
    options = {"fetch": {"retries": 0, "timeout": 10, "obey_robots": False, **fetch}}
    return asyncio.run(crawl(build(options, root=tmp_path), spider_cls))


def sent_cookie(handler: Handler) -> bytes | None:
    """The request's `Cookie` header as the bytes on the wire (http.server decodes as latin-1)."""
    value = handler.headers.get("Cookie")
    return value.encode("latin-1") if value is not None else None


def recorder(seen: list[bytes | None], headers: dict[str, str] | None = None):
    def route(handler: Handler) -> None:
        seen.append(sent_cookie(handler))
        handler.send_text(200, "<h1>ok</h1>", headers=headers)

    return route


def chain(name: str, urls: list[str]) -> type[Spider]:
    """A spider that fetches `urls` one after the other, each once its predecessor is in."""

    class Chain(Spider):
        def start_requests(self):
            yield Request(urls[0], callback=self.parse, cb_kwargs={"step": 0})

        def parse(self, response, step):
            if step + 1 < len(urls):
                yield Request(urls[step + 1], callback=self.parse, cb_kwargs={"step": step + 1})

    Chain.name = name
    return Chain


def test_a_non_ascii_cookie_goes_back_as_the_bytes_it_came_as(project, site):
    """http-state charset0001: a UTF-8 value crashed the next request (UnicodeEncodeError, run failed)."""
    value = "foo=春节回家路·春运完全手册"
    on_wire = value.encode().decode("latin-1")  # send_header writes latin-1: these are the UTF-8 bytes
    seen: list[bytes | None] = []
    site.page("/", '<h1>home</h1><a href="/next">next</a>', headers={"Set-Cookie": on_wire})
    site.routes["/next"] = recorder(seen)
    project.spider(
        "utf8",
        f"""
        from harvester import Spider

        class Utf8(Spider):
            name = "utf8"
            start_urls = ["{site.url}/"]

            def parse(self, response):
                yield {{"url": response.url}}
                yield from response.follow_all()
        """,
    )
    result = project.run("crawl", "utf8")
    assert result.returncode == 0, result.stderr
    assert seen == [value.encode()]
    assert project.sql("select status from runs") == [("finished",)]
    assert project.sql("select count(*) from pages") == [(2,)]
    assert project.sql("select count(*) from errors") == [(0,)]


def test_max_age_0_deletes_and_a_bad_attribute_drops_only_itself(tmp_path, site):
    seen: list[bytes | None] = []
    site.routes["/login"] = lambda h: h.send_text(
        200,
        "in",
        headers={
            "Set-Cookie": "sid=1; Path=/",
        },
    )
    site.routes["/prefs"] = lambda h: (
        h.send_response(200),
        h.send_header("Set-Cookie", "theme=dark; Expires=someday; Max-Age=soon; Path=/"),  # bad dates
        h.send_header("Set-Cookie", "lang=en; Path=/nowhere; Path=/"),  # the last Path wins
        h.send_header("Content-Length", "0"),
        h.end_headers(),
    )
    site.routes["/check"] = recorder(seen)
    site.routes["/logout"] = lambda h: h.send_text(200, "out", headers={"Set-Cookie": "sid=; Max-Age=0"})
    site.routes["/check-again"] = recorder(seen)
    run(
        tmp_path,
        chain(
            "steps",
            [site.url + p for p in ("/login", "/prefs", "/check", "/logout", "/check-again")],
        ),
    )
    assert seen == [b"sid=1; theme=dark; lang=en", b"theme=dark; lang=en"]


def test_a_host_only_cookie_stays_on_its_host_and_a_domain_cookie_reaches_subdomains(tmp_path, site):
    names = {"shop.example.org", "www.shop.example.org", "example.org"}
    seen: dict[str, bytes | None] = {}

    def setter(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Set-Cookie", "host=1")
        handler.send_header("Set-Cookie", "shop=2; Domain=shop.example.org")
        handler.send_header("Set-Cookie", "org=3; Domain=org")  # a public suffix: refused
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def check(handler: Handler) -> None:
        seen[handler.headers["Host"].split(":")[0]] = sent_cookie(handler)
        handler.send_text(200, "ok")

    site.routes["/set"], site.routes["/check"] = setter, check
    urls = [f"http://shop.example.org:{site.port}/set"] + [f"http://{n}:{site.port}/check" for n in sorted(names)]
    run(tmp_path, chain("hosts", urls), resolve={name: "127.0.0.1" for name in names})
    assert seen == {
        "shop.example.org": b"host=1; shop=2",
        "www.shop.example.org": b"shop=2",
        "example.org": None,
    }


def test_a_secure_cookie_is_set_and_sent_over_https_only(tmp_path, site, tls_site, ca):
    """Both servers are 127.0.0.1: cookies are not kept apart by port, but Secure ones by scheme."""
    seen: dict[str, bytes | None] = {}

    def setter(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Set-Cookie", f"{site_of(handler)}_secure=1; Secure")
        handler.send_header("Set-Cookie", f"{site_of(handler)}_plain=2")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def site_of(handler: Handler) -> str:
        return "tls" if handler.server.site is tls_site else "http"

    def check(handler: Handler) -> None:
        seen[site_of(handler)] = sent_cookie(handler)
        handler.send_text(200, "ok")

    for server in (site, tls_site):
        server.routes["/set"], server.routes["/check"] = setter, check
    urls = [site.url + "/set", tls_site.url + "/set", site.url + "/check", tls_site.url + "/check"]
    run(tmp_path, chain("secure", urls), ca_file=str(ca.path))
    assert seen == {
        "http": b"http_plain=2; tls_plain=2",
        "tls": b"http_plain=2; tls_secure=1; tls_plain=2",
    }


# -- issue 12: IP hosts, caps -----------------------------------------------------------------------


def test_an_ip_host_domain_matches_only_itself(tmp_path, site):
    """`Domain=0.1` from 127.0.0.1 was sent to 127.1.0.1; an IP address matches only itself (§5.1.3)."""
    other = Site(host="127.1.0.1")
    server = _start(other)
    try:
        here: list[bytes | None] = []
        there: list[bytes | None] = []
        site.routes["/set"] = lambda h: (
            h.send_response(200),
            h.send_header("Set-Cookie", "wide=1; Domain=0.1"),
            h.send_header("Set-Cookie", "exact=2; Domain=127.0.0.1"),
            h.send_header("Set-Cookie", "plain=3"),
            h.send_header("Content-Length", "0"),
            h.end_headers(),
        )
        site.routes["/check"] = recorder(here)
        other.routes["/check"] = recorder(there)
        run(tmp_path, chain("ips", [site.url + "/set", other.url + "/check", site.url + "/check"]))
        assert there == [None]
        assert here == [b"exact=2; plain=3"]
    finally:
        server.shutdown()
        server.server_close()


def test_forty_pages_of_2500_cookies_keep_the_header_small_and_the_crawl_fast(tmp_path, site):
    """The attack of issue 12: it made a 1.1 MB Cookie header and requests 25 times slower."""
    pages, per_page = 40, 2500
    sizes: list[int] = []
    counts: list[int] = []

    def page(handler: Handler) -> None:
        number = int(handler.path.rsplit("/", 1)[1])
        cookie = sent_cookie(handler) or b""
        sizes.append(len(cookie))
        counts.append(cookie.count(b"=") if cookie else 0)
        lines = [b"HTTP/1.1 200 OK"] + [b"Set-Cookie: p%dc%d=v" % (number, i) for i in range(per_page)]
        body = b'<a href="/p/%d">next</a>' % (number + 1) if number + 1 < pages else b"end"
        lines += [b"Content-Type: text/html", b"Content-Length: %d" % len(body), b"", body]
        handler.wfile.write(b"\r\n".join(lines))

    for number in range(pages):
        site.routes[f"/p/{number}"] = page

    class Follow(Spider):
        name = "follow"
        start_urls = [site.url + "/p/0"]

        def parse(self, response):
            yield from response.follow_all()

    started = time.monotonic()
    run(tmp_path, Follow)
    elapsed = time.monotonic() - started
    assert len(sizes) == pages
    assert max(counts) == MAX_PER_DOMAIN  # the newest 180: those the last page set
    assert max(sizes) <= MAX_HEADER
    assert elapsed < 60, elapsed


def test_the_cookie_header_is_capped_and_keeps_the_first_cookies_of_its_order(tmp_path, site):
    seen: list[bytes | None] = []
    big = "x" * 200

    def setter(handler: Handler) -> None:
        handler.send_response(200)
        for i in range(100):  # 100 cookies of 200 bytes: 20 KB, over the 8 KiB cap
            handler.send_header("Set-Cookie", f"c{i:03}={big}")
        handler.send_header("Set-Cookie", f"deep={big}; Path=/check")  # a longer path: first in the header
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    site.routes["/set"], site.routes["/check"] = setter, recorder(seen)
    run(tmp_path, chain("big", [site.url + "/set", site.url + "/check"]))
    [header] = seen
    assert header is not None and len(header) <= MAX_HEADER
    names = [part.split(b"=")[0] for part in header.split(b"; ")]
    assert names[0] == b"deep"
    assert names[1:] == [b"c%03d" % i for i in range(len(names) - 1)]  # then by creation
    assert len(names) == MAX_HEADER // (len(big) + 6)


def test_past_the_total_cap_the_least_recently_used_cookies_go_first(tmp_path, site):
    """3000 cookies in all: 17 hosts × 180 cookies evict the 60 the first host set first."""
    hosts = [f"h{i}.example.net" for i in range(17)]
    seen: list[bytes | None] = []

    def setter(handler: Handler) -> None:
        host = handler.headers["Host"].split(".")[0]
        handler.send_response(200)
        for i in range(MAX_PER_DOMAIN):
            handler.send_header("Set-Cookie", f"{host}c{i:03}=1")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    site.routes["/set"], site.routes["/check"] = setter, recorder(seen)
    urls = [f"http://{host}:{site.port}/set" for host in hosts] + [f"http://{hosts[0]}:{site.port}/check"]
    run(tmp_path, chain("many", urls), resolve={host: "127.0.0.1" for host in hosts})
    evicted = len(hosts) * MAX_PER_DOMAIN - MAX_COOKIES
    [header] = seen
    assert header is not None
    assert header.split(b"; ") == [b"h0c%03d=1" % i for i in range(evicted, MAX_PER_DOMAIN)]


# -- nothing a site sends makes cookie handling raise ----------------------------------------------


HOSTILE = [
    "max=1; Max-Age=" + "9" * 5000,
    "max2=1; Max-Age=-" + "9" * 1000,
    "exp=1; Expires=Fri, 31 Dec 99999 23:59:59 GMT",
    "exp2=1; Expires=Thu, 01 Jan 1601 00:00:00 GMT",
    "dom=1; Domain=" + "b\u00fccher.example".encode().decode("latin-1"),
    "dom2=1; Domain=xn--zz.example",
    "dom3=1; Domain=.",
    "dom4=1; Domain=[::1]",
    "big=" + "v" * 5000,
    "=novalue",
    ";;;;=;=;",
    "\u00ff\u00fe=\u0080; Path=\u00e9",
    'q="unbalanced; Path="/',
]


def test_hostile_set_cookie_headers_cost_nothing(tmp_path, site):
    seen: list[bytes | None] = []

    def setter(handler: Handler) -> None:
        handler.send_response(200)
        for line in HOSTILE:
            handler.send_header("Set-Cookie", line)
        handler.send_header("Set-Cookie", "good=1")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    site.routes["/set"], site.routes["/check"] = setter, recorder(seen)
    result = run(tmp_path, chain("hostile", [site.url + "/set", site.url + "/check"]))
    assert result.status == "finished"
    [header] = seen
    assert header is not None and b"good=1" in header
    assert b"big=" not in header  # over 4096 bytes: ignored


def test_the_store_never_raises_on_random_headers():
    """Parsing and storing are total: 20,000 random headers from a hostile alphabet."""
    rng = random.Random(6265)
    pieces = [
        "=",
        ";",
        " ",
        "\t",
        ",",
        '"',
        "a",
        "Z",
        "0",
        "9",
        "-",
        ".",
        "/",
        ":",
        "\u00e9",
        "\u00ff",
        "\x00",
        "\x7f",
        "\x80",
        "expires=",
        "max-age=",
        "domain=",
        "path=",
        "secure",
        "httponly",
        "Thu, 01 Jan 2099 00:00:00 GMT",
        "example.org",
        ".org",
        "127.0.0.1",
        "::1",
    ]
    store = CookieStore()
    for _ in range(20_000):
        header = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30)))
        host = rng.choice(["example.org", "a.example.org", "127.0.0.1", "::1", "localhost"])
        store.set(header, rng.choice(["http", "https"]), host, rng.choice(["/", "/a/b", "", "x"]))
        store.header(rng.choice(["http", "https"]), host, rng.choice(["/", "/a/b/c"]))
    assert len(store) <= MAX_COOKIES
