"""Cookies and logins as steps of the fetch chain: every hop, retry and challenge passes them.

Real loopback servers record what each request carried; the crawl runs through
the default middleware list with a spider middleware of its own around it.
"""

from __future__ import annotations

import base64
import hashlib
import re

from conftest import Handler
from test_http_behaviour import Collect, h1s, run  # the same spider and one-crawl helper


def cookies_at(site, path):
    return [headers.get("Cookie") for _, at, headers in site.requests if at == path]


def test_each_hop_of_a_redirect_chain_carries_the_cookies_set_before_it(tmp_path, site, sql):
    site.page("/a", "", 302, headers={"Location": "/b", "Set-Cookie": "first=1; Path=/"})
    site.page("/b", "", 302, headers={"Location": "/c", "Set-Cookie": "second=2; Path=/"})
    site.page("/c", "<h1>end</h1>")
    run(tmp_path, Collect, [site.url + "/a"])
    assert h1s(sql, tmp_path) == ["end"]
    assert cookies_at(site, "/a") == [None]
    assert cookies_at(site, "/b") == ["first=1"]
    assert cookies_at(site, "/c") == ["first=1; second=2"]


def test_a_retry_carries_the_cookie_its_failed_attempt_set(tmp_path, site, sql):
    def flaky(handler: Handler) -> None:
        if "attempt=1" in (handler.headers.get("Cookie") or ""):
            handler.send_text(200, "<h1>second try</h1>")
        else:
            handler.send_text(503, "busy", headers={"Set-Cookie": "attempt=1"})

    site.routes["/flaky"] = flaky
    run(tmp_path, Collect, [site.url + "/flaky"], fetch={"retries": 1, "backoff": 0.01})
    assert h1s(sql, tmp_path) == ["second try"]
    assert cookies_at(site, "/flaky") == [None, "attempt=1"]


def digest_with_affinity(handler: Handler, user: str, password: str) -> None:
    """A digest area whose challenge sets a cookie the answer must bring back (a sticky session)."""
    realm, nonce = "area", "n0nce"
    header = handler.headers.get("Authorization") or ""
    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', header))
    if header.startswith("Digest ") and "node=7" in (handler.headers.get("Cookie") or ""):
        md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731
        ha1 = md5(f"{user}:{realm}:{password}")
        ha2 = md5(f"{handler.command}:{fields['uri']}")
        if fields.get("response") == md5(f"{ha1}:{nonce}:{fields['nc']}:{fields['cnonce']}:{fields['qop']}:{ha2}"):
            handler.send_text(200, '<h1>digest ok</h1><a href="/after">after</a>')
            return
    handler.send_text(
        401,
        "no",
        headers={
            "WWW-Authenticate": f'Digest realm="{realm}", nonce="{nonce}", qop="auth", algorithm=MD5',
            "Set-Cookie": "node=7",
        },
    )


def test_a_digest_challenge_that_sets_a_cookie_is_answered_with_it_and_the_jar_keeps_it(tmp_path, site, sql):
    site.routes["/area"] = lambda h: digest_with_affinity(h, "alice", "wonder")
    site.routes["/after"] = lambda h: h.send_text(200, f"<h1>after {h.headers.get('Cookie')}</h1>")

    class Follow(Collect):
        name = "follow"

        def parse(self, response):
            yield from super().parse(response)
            yield from response.follow_all()

    run(
        tmp_path,
        Follow,
        [site.url + "/area"],
        env={"AREA_PW": "wonder"},
        auth={site.url: {"username": "alice", "password_env": "AREA_PW", "scheme": "digest"}},
    )
    assert h1s(sql, tmp_path) == ["after node=7", "digest ok"]
    assert cookies_at(site, "/area") == [None, "node=7"]


def test_spider_middlewares_never_handle_the_login_or_the_jar_and_their_own_cookie_wins(tmp_path, site, sql):
    expected = "Basic " + base64.b64encode(b"alice:wonder").decode()
    seen: list[dict[str, str]] = []

    def area(handler: Handler) -> None:
        if handler.headers.get("Authorization") != expected:
            handler.send_text(401, "no", headers={"WWW-Authenticate": 'Basic realm="area"'})
        elif handler.path == "/area":
            handler.send_text(200, '<h1>area</h1><a href="/area/own">own</a>', headers={"Set-Cookie": "sid=jar"})
        else:
            handler.send_text(200, "<h1>own</h1>")

    site.routes["/area"] = site.routes["/area/own"] = area

    async def watch(request, call_next):
        seen.append(dict(request.headers or {}))
        if request.url.endswith("/own"):
            request = request.replace(headers={**(request.headers or {}), "Cookie": "sid=mine"})
        return await call_next(request)

    class Watched(Collect):
        name = "watched"
        middlewares = [watch]

        def parse(self, response):
            yield from super().parse(response)
            yield from response.follow_all()

    run(
        tmp_path,
        Watched,
        [site.url + "/area"],
        env={"AREA_PW": "wonder"},
        auth={site.url: {"username": "alice", "password_env": "AREA_PW"}},
    )
    assert h1s(sql, tmp_path) == ["area", "own"]
    assert seen == [{}, {}]  # neither the Authorization header nor the jar's Cookie passed through it
    assert [headers.get("Authorization") for _, _, headers in site.requests] == [expected, expected]
    assert cookies_at(site, "/area/own") == ["sid=mine"]


def test_the_login_and_the_jars_cookie_stay_on_the_wire_never_in_what_the_spider_sees(tmp_path, site, sql):
    """An errback's failure and a middleware's response name the request as the spider made it."""

    def area(handler: Handler) -> None:
        if handler.path == "/area":
            links = '<a href="/area/big">big</a><a href="/area/small">small</a>'
            handler.send_text(200, f"<h1>area</h1>{links}", headers={"Set-Cookie": "sid=secret"})
        elif handler.path == "/area/big":
            handler.send_text(200, "<h1>big</h1>" + "x" * 5000)  # over max_size: a fetch error
        else:
            handler.send_text(200, "<h1>small</h1>")

    for path in ("/area", "/area/big", "/area/small"):
        site.routes[path] = area
    answered: list[dict[str, str]] = []
    failed: list[dict[str, str]] = []

    async def watch(request, call_next):
        response = await call_next(request)
        answered.append(dict(response.request.headers or {}))
        return response

    class Careful(Collect):
        name = "careful"
        middlewares = [watch]

        def parse(self, response):
            yield from super().parse(response)
            for link in response.links():
                yield response.follow(link, errback=self.on_error)

        def on_error(self, failure):
            failed.append(dict(failure.request.headers or {}))

    run(
        tmp_path,
        Careful,
        [site.url + "/area"],
        env={"AREA_PW": "wonder"},
        auth={site.url: {"username": "alice", "password_env": "AREA_PW"}},
        fetch={"max_size": 1000},
    )
    sent = {path: headers for _, path, headers in site.requests}
    assert sent["/area/big"].get("Authorization", "").startswith("Basic ")  # the login did go out
    assert sent["/area/big"].get("Cookie") == "sid=secret"  # and the jar's cookie
    assert h1s(sql, tmp_path) == ["area", "small"]
    assert len(failed) == 1 and len(answered) == 2
    for headers in [*failed, *answered]:
        assert not {name.lower() for name in headers} & {"authorization", "cookie"}, headers
