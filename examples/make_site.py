#!/usr/bin/env python3
"""Generate the bundled "Harvester Books" example website.

A small, deterministic static bookshop used by Harvester's examples and tests.
Stdlib only; the same seed always produces byte-identical output.

Usage:
    python examples/make_site.py [--out DIR]   # default: examples/site/
"""

from __future__ import annotations

import argparse
import html
import json
import random
from collections import deque
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

SEED = 2026
NUM_BOOKS = 300
PER_PAGE = 20
NUM_PAGES = (NUM_BOOKS + PER_PAGE - 1) // PER_PAGE  # 15

CATEGORIES = [
    ("fiction", "Fiction"),
    ("mystery", "Mystery & Thriller"),
    ("science", "Science"),
    ("history", "History"),
    ("poetry", "Poésie & Poetry"),
    ("travel", "Travel"),
]

ADJECTIVES = [
    "Silent",
    "Crimson",
    "Hidden",
    "Last",
    "Golden",
    "Broken",
    "Distant",
    "Forgotten",
    "Little",
    "Wandering",
    "Quiet",
    "Northern",
    "Naïve",
    "Über",
    "Secret",
    "Burning",
    "Frozen",
    "Electric",
    "Midnight",
    "Paper",
]
NOUNS = [
    "Garden",
    "River",
    "Clockmaker",
    "Lighthouse",
    "Café",
    "Orchard",
    "Atlas",
    "Harbour",
    "Cartographer",
    "Library",
    "Season",
    "Mountain",
    "Island",
    "Letters",
    "Engine",
    "Fjörd",
    "Kingdom",
    "Señor",
    "Station",
    "Tide",
]
PATTERNS = [
    "The {adj} {noun}",
    "{adj} {noun}",
    "A {noun} of {noun2}s",
    "The {noun} and the {noun2}",
    "{noun2}: The {adj} {noun}",
]
LOREM = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
    "laboris",
    "nisi",
    "aliquip",
    "ex",
    "ea",
    "commodo",
    "consequat",
    "duis",
    "aute",
    "irure",
    "in",
    "reprehenderit",
    "voluptate",
    "velit",
    "esse",
    "cillum",
    "fugiat",
    "nulla",
    "pariatur",
    "excepteur",
    "sint",
    "occaecat",
    "cupidatat",
    "non",
    "proident",
    "sunt",
    "culpa",
    "qui",
    "officia",
    "deserunt",
    "mollit",
    "anim",
    "id",
    "est",
    "laborum",
]

E = html.escape


def page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{E(title)}</title>\n"
        "</head>\n"
        "<body>\n"
        f"{body}"
        "</body>\n"
        "</html>\n"
    )


def book_id(n: int) -> str:
    return f"{n:04d}"


def make_books(rng: random.Random) -> list[dict]:
    books = []
    seen: set[str] = set()
    for n in range(1, NUM_BOOKS + 1):
        while True:
            title = rng.choice(PATTERNS).format(
                adj=rng.choice(ADJECTIVES),
                noun=rng.choice(NOUNS),
                noun2=rng.choice(NOUNS),
            )
            if title not in seen:
                break
            title = f"{title}, Volume {rng.randint(2, 9)}"
            if title not in seen:
                break
        seen.add(title)
        in_stock = rng.random() >= 0.15
        others = [m for m in range(1, NUM_BOOKS + 1) if m != n]
        books.append(
            {
                "n": n,
                "id": book_id(n),
                "title": title,
                "price": rng.randint(500, 6000) / 100,
                "stock": rng.randint(1, 25) if in_stock else 0,
                "category": rng.randrange(len(CATEGORIES)),
                "description": " ".join(rng.choice(LOREM) for _ in range(60)).capitalize() + ".",
                "related": rng.sample(others, 3),
            }
        )
    return books


def render_index() -> str:
    cats = "".join(
        f'<li><a href="catalogue/category/{slug}/index.html">{E(name)}</a></li>\n' for slug, name in CATEGORIES
    )
    body = (
        "<header><h1>Harvester Books</h1></header>\n"
        "<main>\n"
        "<p>A small demo bookshop for practising web crawling with Harvester.</p>\n"
        '<h2>Categories</h2>\n<ul class="categories">\n' + cats + "</ul>\n"
        '<p><a class="catalogue" href="catalogue/page-1.html">Browse all books</a></p>\n'
        "</main>\n"
        '<footer><a href="admin/index.html">Staff area</a></footer>\n'
    )
    return page("Harvester Books", body)


def render_admin() -> str:
    body = (
        "<h1>Staff area</h1>\n"
        "<p>This page is disallowed by robots.txt; polite crawlers never fetch it.</p>\n"
        '<p><a href="../index.html">Back to the shop</a></p>\n'
    )
    return page("Staff area | Harvester Books", body)


def book_item(b: dict, href: str) -> str:
    return f'<li class="book"><a href="{href}">{E(b["title"])}</a> <span class="price">£{b["price"]:.2f}</span></li>\n'


def render_listing(books: list[dict], p: int) -> str:
    chunk = books[(p - 1) * PER_PAGE : p * PER_PAGE]
    items = "".join(book_item(b, f"book/{b['id']}.html") for b in chunk)
    pager = ""
    if p > 1:
        pager += f'<li class="previous"><a href="page-{p - 1}.html">previous</a></li>\n'
    pager += f'<li class="current">Page {p} of {NUM_PAGES}</li>\n'
    if p < NUM_PAGES:
        pager += f'<li class="next"><a href="page-{p + 1}.html">next</a></li>\n'
    body = (
        '<nav class="breadcrumb"><a href="../index.html">Home</a></nav>\n'
        f"<h1>All books — page {p}</h1>\n"
        '<ol class="books">\n' + items + "</ol>\n"
        '<ul class="pager">\n' + pager + "</ul>\n"
    )
    return page(f"All books, page {p} | Harvester Books", body)


def render_category(books: list[dict], ci: int) -> str:
    slug, name = CATEGORIES[ci]
    mine = [b for b in books if b["category"] == ci]
    items = "".join(book_item(b, f"../../book/{b['id']}.html") for b in mine)
    body = (
        '<nav class="breadcrumb"><a href="../../../index.html">Home</a> / '
        f"{E(name)}</nav>\n"
        f"<h1>{E(name)}</h1>\n"
        f'<p class="count">{len(mine)} books</p>\n'
        '<ul class="books">\n' + items + "</ul>\n"
    )
    return page(f"{name} | Harvester Books", body)


def render_book(books: list[dict], b: dict) -> str:
    slug, cname = CATEGORIES[b["category"]]
    r1, r2, r3 = (books[m - 1] for m in b["related"])
    related = (
        # plain relative, root-relative, and relative with a fragment
        f'<li><a href="{r1["id"]}.html">{E(r1["title"])}</a></li>\n'
        f'<li><a href="/catalogue/book/{r2["id"]}.html">{E(r2["title"])}</a></li>\n'
        f'<li><a href="../book/{r3["id"]}.html#reviews">{E(r3["title"])}</a></li>\n'
    )
    avail = f"In stock ({b['stock']} available)" if b["stock"] else "Out of stock"
    listing = (b["n"] - 1) // PER_PAGE + 1
    body = (
        '<nav class="breadcrumb"><a href="../../index.html">Home</a> / '
        f'<a href="../page-{listing}.html">All books</a></nav>\n'
        '<article class="product">\n'
        f"<h1>{E(b['title'])}</h1>\n"
        f'<p class="price">£{b["price"]:.2f}</p>\n'
        f'<p class="sku">BK-{b["id"]}</p>\n'
        f'<p class="availability">{avail}</p>\n'
        f'<p>Category: <a class="category" href="../category/{slug}/index.html">{E(cname)}</a></p>\n'
        f'<div class="description"><p>{E(b["description"])}</p></div>\n'
        '<section class="related">\n<h2>Related books</h2>\n<ul>\n' + related + "</ul>\n</section>\n"
        '<section id="reviews">\n<h2>Reviews</h2>\n'
        '<p><a class="external" href="https://www.example.com/review">Read reviews elsewhere</a></p>\n'
        '<p><a class="contact" href="mailto:shop@example.com">Email the shop</a></p>\n'
        "</section>\n"
        "</article>\n"
    )
    return page(f"{b['title']} | Harvester Books", body)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def count_reachable(out: Path) -> int:
    """Count HTML pages reachable from index.html (same host, outside /admin/)."""
    base = "http://site.invalid/"
    seen = {base + "index.html"}
    queue = deque(seen)
    while queue:
        url = queue.popleft()
        parser = _Links()
        parser.feed((out / urlsplit(url).path.lstrip("/")).read_text(encoding="utf-8"))
        for href in parser.hrefs:
            target = urldefrag(urljoin(url, href))[0]
            parts = urlsplit(target)
            if parts.scheme != "http" or parts.netloc != "site.invalid":
                continue
            if parts.path.startswith("/admin/") or target in seen:
                continue
            seen.add(target)
            queue.append(target)
    return len(seen)


def write(out: Path, rel: str, text: str) -> None:
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "site")
    out: Path = ap.parse_args().out

    rng = random.Random(SEED)
    books = make_books(rng)

    write(out, "index.html", render_index())
    write(out, "admin/index.html", render_admin())
    write(out, "robots.txt", "User-agent: *\nDisallow: /admin/\n")
    for p in range(1, NUM_PAGES + 1):
        write(out, f"catalogue/page-{p}.html", render_listing(books, p))
    for ci, (slug, _) in enumerate(CATEGORIES):
        write(out, f"catalogue/category/{slug}/index.html", render_category(books, ci))
    for b in books:
        write(out, f"catalogue/book/{b['id']}.html", render_book(books, b))

    manifest = {"books": NUM_BOOKS, "pages": count_reachable(out), "categories": len(CATEGORIES)}
    write(out, "manifest.json", json.dumps(manifest, indent=2) + "\n")
    print(f"wrote site to {out}: {manifest}")


if __name__ == "__main__":
    main()
