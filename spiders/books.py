"""The example spider: every book of the bundled bookshop site (examples/site).

harvester crawl books -a base_url=http://127.0.0.1:8000/
"""

from __future__ import annotations

from urllib.parse import urlsplit

from harvester import Spider


class BooksSpider(Spider):
    name = "books"
    base_url = "http://127.0.0.1:8000/"
    item_key = ("sku",)  # a later run updates each book's row (query --changed shows what changed)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.allowed_domains = [urlsplit(self.base_url).hostname]  # -a base_url=... decides the site
        self.start_urls = [self.base_url]

    def parse(self, response):
        if response.css("article.product"):
            yield self.parse_book(response)
        for link in response.links():
            yield response.follow(link, callback=self.parse)

    def parse_book(self, response):
        return {
            "sku": response.css("p.sku::text").get(),
            "title": response.css("article.product h1::text").get(),
            "price": float(response.css("p.price::text").re_first(r"[\d.]+") or 0),
            "in_stock": response.css("p.availability::text").get("").startswith("In stock"),
            "category": response.css("a.category::text").get(),
        }
