"""The Scrapy tutorial's spiders run in Harvester unchanged but for the import.

Each spider below is the tutorial's ("Scrapy Tutorial", sections "Our first Spider",
"Following links", "A shortcut for creating Requests", "More examples and patterns" and
"Using spider arguments"; `async def start()` is Scrapy 2.13's), as written there;
`ported()` makes the only two changes: ``import scrapy`` becomes ``import harvester as
scrapy``, and the site's address becomes that of a small copy of quotes.toscrape.com
served on loopback: 10 pages of 10 quotes (100 quotes by 50 authors), the authors'
pages and tag pages, in the site's markup. Each spider is crawled with ``harvester
crawl``, as a user runs it, and gives the items the tutorial's site gives.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata

import pytest
from conftest import Project, Site

TUTORIAL_HOST = "https://quotes.toscrape.com"

# "Our first Spider": start() requests two pages, parse() saves each body to a file.
FIRST = """
from pathlib import Path

import scrapy


class QuotesSpider(scrapy.Spider):
    name = "quotes"

    async def start(self):
        urls = [
            "https://quotes.toscrape.com/page/1/",
            "https://quotes.toscrape.com/page/2/",
        ]
        for url in urls:
            yield scrapy.Request(url=url, callback=self.parse)

    def parse(self, response):
        page = response.url.split("/")[-2]
        filename = f"quotes-{page}.html"
        Path(filename).write_bytes(response.body)
        self.log(f"Saved file {filename}")
"""

# "Following links": the next page joined by hand and requested with scrapy.Request.
QUOTES_REQUEST = """
import scrapy


class QuotesSpider(scrapy.Spider):
    name = "quotes"
    start_urls = [
        "https://quotes.toscrape.com/page/1/",
    ]

    def parse(self, response):
        for quote in response.css("div.quote"):
            yield {
                "text": quote.css("span.text::text").get(),
                "author": quote.css("small.author::text").get(),
                "tags": quote.css("div.tags a.tag::text").getall(),
            }

        next_page = response.css("li.next a::attr(href)").get()
        if next_page is not None:
            next_page = response.urljoin(next_page)
            yield scrapy.Request(next_page, callback=self.parse)
"""

# "A shortcut for creating Requests": response.follow with the relative URL.
QUOTES_FOLLOW = """
import scrapy


class QuotesSpider(scrapy.Spider):
    name = "quotes"
    start_urls = [
        "https://quotes.toscrape.com/page/1/",
    ]

    def parse(self, response):
        for quote in response.css("div.quote"):
            yield {
                "text": quote.css("span.text::text").get(),
                "author": quote.css("span small::text").get(),
                "tags": quote.css("div.tags a.tag::text").getall(),
            }

        next_page = response.css("li.next a::attr(href)").get()
        if next_page is not None:
            yield response.follow(next_page, callback=self.parse)
"""

# The same section's last step: the pager's links through follow_all(css=...).
QUOTES_FOLLOW_ALL = """
import scrapy


class QuotesSpider(scrapy.Spider):
    name = "quotes"
    start_urls = [
        "https://quotes.toscrape.com/page/1/",
    ]

    def parse(self, response):
        for quote in response.css("div.quote"):
            yield {
                "text": quote.css("span.text::text").get(),
                "author": quote.css("span small::text").get(),
                "tags": quote.css("div.tags a.tag::text").getall(),
            }

        yield from response.follow_all(css="ul.pager a", callback=self.parse)
"""

# "More examples and patterns": author pages through follow_all(selectors, callback).
AUTHOR = """
import scrapy


class AuthorSpider(scrapy.Spider):
    name = "author"

    start_urls = ["https://quotes.toscrape.com/"]

    def parse(self, response):
        author_page_links = response.css(".author + a")
        yield from response.follow_all(author_page_links, self.parse_author)

        pagination_links = response.css("li.next a")
        yield from response.follow_all(pagination_links, self.parse)

    def parse_author(self, response):
        def extract_with_css(query):
            return response.css(query).get(default="").strip()

        yield {
            "name": extract_with_css("h3.author-title::text"),
            "birthdate": extract_with_css(".author-born-date::text"),
            "bio": extract_with_css(".author-description::text"),
        }
"""

# "Using spider arguments": `-a tag=humor`, read in Scrapy 2.13's `async def start()`.
QUOTES_TAG = """
import scrapy


class QuotesSpider(scrapy.Spider):
    name = "quotes"

    async def start(self):
        url = "https://quotes.toscrape.com/"
        tag = getattr(self, "tag", None)
        if tag is not None:
            url = url + "tag/" + tag
        yield scrapy.Request(url, self.parse)

    def parse(self, response):
        for quote in response.css("div.quote"):
            yield {
                "text": quote.css("span.text::text").get(),
                "author": quote.css("small.author::text").get(),
            }

        next_page = response.css("li.next a::attr(href)").get()
        if next_page is not None:
            yield response.follow(next_page, self.parse)
"""

# --- a small quotes.toscrape.com ------------------------------------------------------------

AUTHORS = [
    "Albert Einstein",
    "J.K. Rowling",
    "Jane Austen",
    "Marilyn Monroe",
    "André Gide",
    "Thomas A. Edison",
    "Eleanor Roosevelt",
    "Steve Martin",
    "Bob Marley",
    "Dr. Seuss",
    "Douglas Adams",
    "Elie Wiesel",
    "Friedrich Nietzsche",
    "Mark Twain",
    "Allen Saunders",
    "Pablo Neruda",
    "Ralph Waldo Emerson",
    "Mother Teresa",
    "Garrison Keillor",
    "Jim Henson",
    "Charles M. Schulz",
    "William Nicholson",
    "Jorge Luis Borges",
    "George Eliot",
    "George R.R. Martin",
    "C.S. Lewis",
    "Martin Luther King Jr.",
    "James Baldwin",
    "Haruki Murakami",
    "Alexandre Dumas fils",
    "Stephenie Meyer",
    "Ernest Hemingway",
    "Helen Keller",
    "George Bernard Shaw",
    "Charles Bukowski",
    "Suzanne Collins",
    "J.R.R. Tolkien",
    "Alfred Tennyson",
    "Terry Pratchett",
    "J.D. Salinger",
    "George Carlin",
    "John Lennon",
    "W.C. Fields",
    "Ayn Rand",
    "Jimi Hendrix",
    "J.M. Barrie",
    "E.E. Cummings",
    "Khaled Hosseini",
    "Harper Lee",
    "Madeleine L'Engle",
]
TAGS = ["love", "inspirational", "life", "humor", "books", "reading", "friendship", "truth"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
PAGES, PER_PAGE = 10, 10


def slug(name: str) -> str:
    """The site's author path: "André Gide" -> "Andre-Gide", "J.K. Rowling" -> "J-K-Rowling"."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-")


def quotes() -> list[dict]:
    """The 100 quotes, in page order: each author twice, on two different pages."""
    out = []
    for i in range(PAGES * PER_PAGE):
        author = AUTHORS[(i * 7) % len(AUTHORS)]
        tags = [TAGS[(i + k) % len(TAGS)] for k in range(i % 4)]  # 0 to 3 tags
        text = f"“Quote {i + 1} by {author}: it’s <not> markup & it stays text.”"
        out.append({"text": text, "author": author, "tags": tags})
    return out


def author_details(index: int, name: str) -> dict:
    return {
        "name": name,
        "birthdate": f"{MONTHS[index % 12]} {index % 28 + 1}, {1800 + index * 3}",
        "bio": f"{name} wrote things people quote. Born on a {['Monday', 'Friday'][index % 2]}.",
    }


LAYOUT = """<!DOCTYPE html>
<html lang="en">
<head>
	<meta charset="UTF-8">
	<title>Quotes to Scrape</title>
    <link rel="stylesheet" href="/static/bootstrap.min.css">
    <link rel="stylesheet" href="/static/main.css">
</head>
<body>
    <div class="container">
        <div class="row header-box">
            <div class="col-md-8">
                <h1>
                    <a href="/" style="text-decoration: none">Quotes to Scrape</a>
                </h1>
            </div>
            <div class="col-md-4">
                <p>
                    <a href="/login">Login</a>
                </p>
            </div>
        </div>
    {content}
    </div>
    <footer class="footer">
        <div class="container">
            <p class="text-muted">
                Quotes by: <a href="https://www.goodreads.com/quotes">GoodReads.com</a>
            </p>
            <p class="copyright">
                Made with <span class='sh-red'>❤</span> by <a href="https://www.zyte.com">Zyte</a>
            </p>
        </div>
    </footer>
</body>
</html>
"""

QUOTE = """
    <div class="quote" itemscope itemtype="http://schema.org/CreativeWork">
        <span class="text" itemprop="text">{text}</span>
        <span>by <small class="author" itemprop="author">{author}</small>
        <a href="/author/{slug}">(about)</a>
        </span>
        <div class="tags">
            Tags:
            <meta class="keywords" itemprop="keywords" content="{keywords}" /    > {tags}
        </div>
    </div>
"""

TAG = """
            <a class="tag" href="/tag/{tag}/page/1/">{tag}</a>
"""


def list_page(number: int, page_quotes: list[dict], pages: int = PAGES, prefix: str = "") -> str:
    """A page of quotes; its pager links to `prefix`/page/N/, as the site's (and its tags')."""
    body = "".join(
        QUOTE.format(
            text=html.escape(q["text"], quote=False),
            author=html.escape(q["author"]),
            slug=slug(q["author"]),
            keywords=",".join(q["tags"]),
            tags="".join(TAG.format(tag=t) for t in q["tags"]),
        )
        for q in page_quotes
    )
    pager = ""
    if number > 1:
        pager += f"""
            <li class="previous">
                <a href="{prefix}/page/{number - 1}/"><span aria-hidden="true">&larr;</span> Previous</a>
            </li>"""
    if number < pages:
        pager += f"""
            <li class="next">
                <a href="{prefix}/page/{number + 1}/">Next <span aria-hidden="true">&rarr;</span></a>
            </li>"""
    side = "".join(
        f'\n            <span class="tag-item">\n            <a class="tag" style="font-size: 28px" '
        f'href="/tag/{t}/">{t}</a>\n            </span>'
        for t in TAGS
    )
    content = f"""
<div class="row">
    <div class="col-md-8">
{body}
    <nav>
        <ul class="pager">
            {pager}
        </ul>
    </nav>
    </div>
    <div class="col-md-4 tags-box">
            <h2>Top Ten tags</h2>
            {side}
    </div>
</div>
"""
    return LAYOUT.format(content=content)


def author_page(details: dict) -> str:
    content = f"""
<div class="author-details">
    <h3 class="author-title">{html.escape(details["name"])}
    </h3>
    <p><strong>Born:</strong> <span class="author-born-date">{details["birthdate"]}</span> <span class="author-born-location">in Somewhere, Earth</span></p>
    <p><strong>Description:</strong></p>
    <div class="author-description">
        {html.escape(details["bio"])}
    </div>
</div>
"""
    return LAYOUT.format(content=content)


@pytest.fixture
def quotes_site(site: Site) -> Site:
    """quotes.toscrape.com's pages and author pages on a loopback server."""
    all_quotes = quotes()
    for number in range(1, PAGES + 1):
        page = list_page(number, all_quotes[(number - 1) * PER_PAGE : number * PER_PAGE])
        site.page(f"/page/{number}/", page)
        if number == 1:
            site.page("/", page)
    for index, name in enumerate(AUTHORS):
        site.page(f"/author/{slug(name)}", author_page(author_details(index, name)))
    for tag in TAGS:
        tagged = [q for q in all_quotes if tag in q["tags"]]
        pages = -(-len(tagged) // PER_PAGE)
        for number in range(1, pages + 1):
            page = list_page(number, tagged[(number - 1) * PER_PAGE : number * PER_PAGE], pages, f"/tag/{tag}")
            site.page(f"/tag/{tag}/page/{number}/", page)
            if number == 1:
                site.page(f"/tag/{tag}", page)
    return site


def ported(source: str, site: Site) -> str:
    """The tutorial's spider with its import and its site's address changed, nothing else."""
    assert source.count("\nimport scrapy\n") == 1 and TUTORIAL_HOST in source
    return source.replace("\nimport scrapy\n", "\nimport harvester as scrapy\n").replace(TUTORIAL_HOST, site.url)


def crawl(project: Project, spider: str, *args: str) -> list[dict]:
    done = project.run("crawl", spider, *args, timeout=120)
    assert done.returncode == 0, done.stderr
    assert project.sql("select kind, message from errors") == []
    return [json.loads(data) for (data,) in project.sql("select data from items order by id")]


def test_the_first_spider_saves_the_two_pages(project, quotes_site) -> None:
    project.spider("quotes_spider", ported(FIRST, quotes_site))

    assert crawl(project, "quotes") == []

    for number in (1, 2):
        saved = (project.root / f"quotes-{number}.html").read_text(encoding="utf-8")
        assert saved == list_page(number, quotes()[(number - 1) * PER_PAGE : number * PER_PAGE])


def test_the_quotes_site_is_as_the_tutorial_describes_it() -> None:
    assert len(AUTHORS) == len(set(AUTHORS)) == 50
    assert len({slug(a) for a in AUTHORS}) == 50 and slug("André Gide") == "Andre-Gide"
    assert {q["author"] for q in quotes()} == set(AUTHORS)


@pytest.mark.parametrize(
    "source", [QUOTES_REQUEST, QUOTES_FOLLOW, QUOTES_FOLLOW_ALL], ids=["request-urljoin", "follow", "follow_all-css"]
)
def test_the_quotes_spider_gets_the_100_quotes_of_the_10_pages(project, quotes_site, source) -> None:
    project.spider("quotes_spider", ported(source, quotes_site))

    items = crawl(project, "quotes", "-o", "quotes.json")

    expected = quotes()
    assert len(items) == 100
    assert sorted(items, key=lambda q: q["text"]) == sorted(expected, key=lambda q: q["text"])
    exported = json.loads((project.root / "quotes.json").read_text())
    assert sorted(exported, key=lambda q: q["text"]) == sorted(items, key=lambda q: q["text"])
    assert all(quotes_site.hits[f"/page/{n}/"] == 1 for n in range(1, PAGES + 1))
    assert not any(path.startswith(("/author/", "/tag/")) for path in quotes_site.hits)


def test_the_author_spider_visits_each_author_page_once(project, quotes_site) -> None:
    project.spider("author_spider", ported(AUTHOR, quotes_site))

    items = crawl(project, "author")

    expected = [author_details(i, name) for i, name in enumerate(AUTHORS)]
    assert len(items) == 50
    assert sorted(items, key=lambda a: a["name"]) == sorted(expected, key=lambda a: a["name"])
    author_hits = {path: n for path, n in quotes_site.hits.items() if path.startswith("/author/")}
    assert len(author_hits) == 50 and set(author_hits.values()) == {1}  # 100 links, 50 pages, once each
    assert quotes_site.hits["/"] == 1
    assert all(quotes_site.hits[f"/page/{n}/"] == 1 for n in range(2, PAGES + 1))


def test_the_spider_arguments_example_gets_the_quotes_of_one_tag(project, quotes_site) -> None:
    project.spider("quotes_spider", ported(QUOTES_TAG, quotes_site))

    items = crawl(project, "quotes", "-o", "quotes-humor.json", "-a", "tag=humor")

    expected = [{"text": q["text"], "author": q["author"]} for q in quotes() if "humor" in q["tags"]]
    assert len(expected) > PER_PAGE  # two pages: the pagination is followed
    assert sorted(items, key=lambda q: q["text"]) == sorted(expected, key=lambda q: q["text"])
    assert quotes_site.hits["/tag/humor"] == quotes_site.hits["/tag/humor/page/2/"] == 1
    assert not any(path.startswith("/page/") for path in quotes_site.hits)
