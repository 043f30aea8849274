#!/usr/bin/env python3
"""Per-link cost of `response.links()` and of `follow()` + fingerprint, on a page of a few thousand links.

    python benchmarks/links_per_second.py                  # the harvester on sys.path
    PYTHONPATH=/path/to/other/checkout python benchmarks/links_per_second.py   # another version

The page mixes the link styles of the benchmark site (`../shared/bench/gen_site.py`,
not needed here): root-relative, relative (`7.html`, `../2/7.html`), absolute,
some with `#fragment`, off-site, `mailto:` and `javascript:`. Each figure is the
best of several rounds, in CPU nanoseconds per link found on the page; a fresh
`Response` per round, so parsing the page is counted. Prints one JSON line.
Compare figures from one run of each version on the same machine (shared
machines are noisy).
"""

from __future__ import annotations

import argparse
import json
import random
import time

import httpx

from harvester import Response

BASE = "http://127.0.0.1:8088/p/1/1234.html"


def page(links: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    hrefs = []
    for i in range(links):
        target, x = rng.randrange(20_000), rng.random()
        if x < 0.40:
            href = f"/p/{target // 1000}/{target}.html"
        elif x < 0.60:
            href = f"{target}.html"
        elif x < 0.75:
            href = f"../{target // 1000}/{target}.html"
        elif x < 0.85:
            href = f"http://127.0.0.1:8088/p/{target // 1000}/{target}.html"
        elif x < 0.95:
            href = rng.choice(
                [
                    "https://www.example.com/a",
                    "//cdn.example.org/assets/x",
                    "mailto:s@example.com",
                    "javascript:void(0)",
                    "/search?q=a+b&page=2",
                    "/p/./1/2.html",
                ]
            )
        else:
            href = f"/p/{target // 1000}/{target}.html?ref=list&sort=price"
        if rng.random() < 0.1:
            href += "#reviews"
        hrefs.append(f'<li><a href="{href}">link {i}</a></li>')
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>t</title></head><body><ul>"
        + "\n".join(hrefs)
        + "</ul></body></html>"
    ).encode()


def response(body: bytes) -> Response:
    return Response(BASE, 200, httpx.Headers({"Content-Type": "text/html; charset=utf-8"}), body)


def best(rounds: int, work) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()  # CPU time: less disturbed by other processes on a shared machine
        work()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    body = page(args.links)
    found = len(list(response(body).links()))

    def links() -> None:
        list(response(body).links())

    def follow() -> None:
        page_ = response(body)
        for link in page_.links():
            page_.follow(link).fingerprint  # noqa: B018 - what the frontier computes per request

    per = 1e9 / args.links
    print(
        json.dumps(
            {
                "links_on_page": args.links,
                "links_found": found,
                "links_ns_per_link": round(best(args.rounds, links) * per),
                "links_follow_fingerprint_ns_per_link": round(best(args.rounds, follow) * per),
            }
        )
    )


if __name__ == "__main__":
    main()
