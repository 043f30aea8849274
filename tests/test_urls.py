"""URL canonicalization, request fingerprints and domain checks: the dedupe identity."""

from __future__ import annotations

import pytest

from harvester import Request
from harvester.exceptions import InvalidURL
from harvester.urls import canonicalize, domain_allowed, fingerprint, host_of


def test_canonicalize_drops_the_fragment() -> None:
    assert canonicalize("http://example.com/page#section-2") == "http://example.com/page"


def test_canonicalize_sorts_query_arguments() -> None:
    url = "http://example.com/s?q=books&page=2&a=1"
    assert canonicalize(url) == "http://example.com/s?a=1&page=2&q=books"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
    ],
)
def test_canonicalize_removes_the_default_port(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


def test_canonicalize_keeps_a_non_default_port() -> None:
    assert canonicalize("http://example.com:8080/a") == "http://example.com:8080/a"
    assert canonicalize("https://example.com:80/a") == "https://example.com:80/a"
    assert canonicalize("http://example.com:443/a") == "http://example.com:443/a"


def test_canonicalize_lower_cases_the_host_but_not_the_path() -> None:
    url = "http://WWW.Example.COM/Books/Index.html"
    assert canonicalize(url) == "http://www.example.com/Books/Index.html"


def test_canonicalize_keeps_blank_query_values() -> None:
    assert canonicalize("http://example.com/s?b=&a=1") == "http://example.com/s?a=1&b="


def test_canonicalize_gives_an_empty_path_a_slash() -> None:
    assert canonicalize("http://example.com") == canonicalize("http://example.com/")


def test_equivalent_urls_share_a_fingerprint() -> None:
    a = fingerprint("HTTP://Example.com:80/list?page=2&sort=asc#top")
    b = fingerprint("http://example.com/list?sort=asc&page=2")
    assert a == b


def test_different_urls_have_different_fingerprints() -> None:
    assert fingerprint("http://example.com/a") != fingerprint("http://example.com/b")
    assert fingerprint("http://example.com/a?x=1") != fingerprint("http://example.com/a?x=2")
    assert fingerprint("http://example.com/a") != fingerprint("https://example.com/a")
    assert fingerprint("http://example.com:8080/a") != fingerprint("http://example.com/a")


def test_fingerprint_depends_on_method_and_body() -> None:
    url = "http://example.com/search"
    assert fingerprint(url, "GET") != fingerprint(url, "POST")
    assert fingerprint(url, "POST", b"q=a") != fingerprint(url, "POST", b"q=b")
    assert fingerprint(url, "POST", b"q=a") == fingerprint(url, "POST", b"q=a")
    assert fingerprint(url, "get") == fingerprint(url, "GET")


def test_domain_allowed_accepts_the_domain_and_its_subdomains() -> None:
    allowed = ["example.com"]
    assert domain_allowed("http://example.com/a", allowed)
    assert domain_allowed("https://books.example.com/a", allowed)
    assert domain_allowed("https://a.b.example.com/a", allowed)
    assert domain_allowed("http://EXAMPLE.com:8080/a", allowed)


def test_domain_allowed_rejects_lookalike_and_other_domains() -> None:
    allowed = ["example.com"]
    assert not domain_allowed("http://notexample.com/", allowed)
    assert not domain_allowed("http://example.com.evil.org/", allowed)
    assert not domain_allowed("http://example.org/", allowed)
    assert not domain_allowed("http://com/", allowed)


def test_domain_allowed_matches_an_international_domain_in_either_form() -> None:
    assert domain_allowed("http://bücher.example/a", ["bücher.example"])
    assert domain_allowed(Request("http://shop.bücher.example/a").url, ["BÜCHER.example"])
    assert domain_allowed("http://xn--bcher-kva.example/a", ["bücher.example"])
    assert not domain_allowed("http://xn--bcher-kva.example/a", ["bucher.example"])


def test_domain_allowed_with_no_domains_allows_everything() -> None:
    assert domain_allowed("http://anything.example/", [])


def test_host_of_gives_host_and_only_a_non_default_port() -> None:
    assert host_of("http://Example.COM/a") == "example.com"
    assert host_of("http://example.com:80/a") == "example.com"
    assert host_of("https://example.com:443/a") == "example.com"
    assert host_of("http://example.com:8080/a") == "example.com:8080"
    assert host_of("https://intranet.example.org:80/") == "intranet.example.org:80"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8088/p/1.html",
        "http://a.com:80/x",
        "https://a.com:443/",
        "https://a.com:80/",
        "http://A.com/x",
        "http://a.com",
        "http://a.com./x",
        "http://a.com/a%20b",
        "http://a.com/a b",
        "http://a.com:0080/x",
        "http://a.com:99999/x",
        "http://a.com:65535/x",
        "http://a.com/x?b=1&a=2",
        "http://u@a.com/x",
        "http://a.com/é",
        "http://a.com/~x/(y)",
        "http://a.com/x#top",
        " http://a.com/x",
    ],
)
def test_parse_takes_its_shortcut_only_for_urls_already_parsed(url: str) -> None:
    from harvester.urls import parse, parse_slow

    def outcome(function):
        try:
            return function(url)
        except InvalidURL as exc:
            return type(exc)

    assert outcome(parse) == outcome(parse_slow)


def test_the_url_cache_is_bounded_by_characters_not_entries() -> None:
    from harvester.urls import ByteBoundedCache

    cache = ByteBoundedCache(budget=10_000, largest=1_000)
    for i in range(1_000):
        cache.put(f"k{i:03d}" + "x" * 200, "v" * 100)
    assert cache.size <= 10_000
    assert cache.get("k999" + "x" * 200) == "v" * 100  # the newest are kept
    assert cache.get("k000" + "x" * 200) is None  # the oldest evicted
    cache.put("huge", "y" * 5_000)
    assert cache.get("huge") is None  # larger than any entry may be: never kept
