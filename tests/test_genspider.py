"""`harvester genspider`: each template gives a spider that `harvester list` shows and `crawl` runs."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest
from conftest import Project, Site

from harvester.cli.genspider import TEMPLATES
from harvester.cli.main import main


def serve_site(site: Site) -> None:
    site.page("/", '<title>Home</title><h1>Home</h1><a href="/a">a</a>')
    site.page("/a", "<title>Alpha</title><h1>Alpha</h1>")
    site.page(
        "/feed.xml",
        '<rss><item id="1"><title>One</title><link>/a</link></item><item id="2"><title>Two</title></item></rss>',
        content_type="application/xml",
    )
    site.page("/feed.csv", "sku,title\n1,One\n2,Two\n", content_type="text/csv")
    site.page("/feed.json", json.dumps([{"sku": "1"}, {"sku": "2"}]), content_type="application/json")
    site.page(
        "/sitemap.xml",
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.url}/</loc></url><url><loc>{site.url}/a</loc></url></urlset>",
        content_type="application/xml",
    )


@pytest.fixture(autouse=True)
def isolated_imports() -> Iterator[None]:
    """genspider runs in this process here: forget the project's modules and path after each test."""
    modules, path = set(sys.modules), list(sys.path)
    yield
    for name in set(sys.modules) - modules:
        del sys.modules[name]
    sys.path[:] = path


def genspider(project: Project, *args: str) -> int:
    return main(["genspider", *args, "--config", str(project.root / "harvester.toml")])


def test_every_template_gives_a_spider_that_lists_and_crawls(project: Project, site: Site):
    serve_site(site)
    domain = f"127.0.0.1:{site.port}"
    for template in TEMPLATES:
        assert genspider(project, f"my_{template}", domain, "--template", template) == 0
        path = project.root / "spiders" / f"my_{template}.py"
        source = path.read_text()
        assert f'name = "my_{template}"' in source and 'allowed_domains = ["127.0.0.1"]' in source
        path.write_text(source.replace("https://", "http://"))  # the loopback site speaks plain http
    listed = project.run("list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == sorted(f"my_{template}" for template in TEMPLATES)
    expected = {"basic": 2, "crawl": 1, "xmlfeed": 2, "csvfeed": 2, "jsonfeed": 2, "sitemap": 2}
    for template, count in expected.items():
        result = project.run("crawl", f"my_{template}")
        assert result.returncode == 0, result.stderr
        rows = project.sql(f"select count(*) from items where spider = 'my_{template}'")
        assert rows == [(count,)], (template, result.stdout)
    assert project.sql("select count(*) from errors") == [(0,)]


def test_a_bad_name_or_an_existing_spider_is_one_clear_line(project: Project, capsys):
    assert genspider(project, "books", "example.com") == 0
    assert "created spider 'books'" in capsys.readouterr().out
    for args, expected in (
        (("9lives", "example.com"), "bad spider name '9lives'"),
        (("my-spider", "example.com"), "bad spider name 'my-spider'"),
        (("class", "example.com"), "bad spider name 'class'"),
        (("books", "example.com"), "exists already; not overwritten"),
        (("fine", "not a domain"), "bad domain 'not a domain'"),
    ):
        assert genspider(project, *args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0]
    assert not (project.root / "spiders" / "fine.py").exists()


def test_a_url_given_as_domain_is_reduced_to_its_host(project: Project):
    assert genspider(project, "shop", "https://shop.example.org/catalogue/", "-t", "sitemap") == 0
    source = (project.root / "spiders" / "shop.py").read_text()
    assert 'sitemap_urls = ["https://shop.example.org/sitemap.xml"]' in source
    compile(source, "shop.py", "exec")


def test_an_unknown_template_is_refused_by_the_command_line(project: Project):
    with pytest.raises(SystemExit) as stop:
        genspider(project, "x", "example.com", "--template", "nope")
    assert stop.value.code == 2
