"""A small catalogue shop on the loopback test server, and the keyed spider that crawls it.

Shared by the storage and report tests: prices may change between runs, a
product may disappear (404), and the catalogue may link a page that never existed.
"""

from __future__ import annotations

from conftest import Site

from harvester import Spider

PRODUCTS = {"A1": 10.0, "B2": 20.0, "C3": 30.0}


def serve_products(site: Site, products: dict[str, float], broken: tuple[str, ...] = ()) -> None:
    """A catalogue page linking one page per product (and the `broken` ones); `products` may change."""

    def catalogue(handler):
        links = "".join(f'<a href="/p/{sku}">{sku}</a>' for sku in [*products, *broken])
        handler.send_text(200, f"<html>{links}</html>")

    def product(handler):
        sku = handler.path.rsplit("/", 1)[1]
        if sku not in products:
            return handler.send_text(404, "gone")
        handler.send_text(200, f'<h1>{sku}</h1><p class="price">{products[sku]}</p>')

    site.routes["/"] = catalogue
    for sku in ("A1", "B2", "C3", "D4", *broken):
        site.routes[f"/p/{sku}"] = product


class Products(Spider):
    name = "products"
    allowed_domains = ["127.0.0.1"]
    item_key = ("sku",)

    def parse(self, response):
        sku = response.css("h1::text").get()
        if sku:
            yield {"sku": sku, "price": float(response.css("p.price::text").get()), "name": f"Product {sku}"}
        for link in response.links():
            yield response.follow(link)
