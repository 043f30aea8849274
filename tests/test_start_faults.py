"""A spider or pipeline that raises while the run starts: one line on stderr, never a traceback."""

from __future__ import annotations

SPIDER = """
from harvester import Spider


class Picky(Spider):
    name = "picky"
    start_urls = ["http://127.0.0.1:1/"]
    pages = "10"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pages = int(self.pages)
"""


def test_a_spider_that_raises_in_init_stops_with_one_line(project):
    project.spider("picky", SPIDER)
    result = project.run("crawl", "picky", "-a", "pages=ten")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "harvester: error: spider 'picky' failed to start: ValueError: invalid literal for int() with base 10: 'ten'"
    ]


def test_a_pipeline_that_raises_when_opened_fails_the_run_with_one_line(project):
    project.write(
        "warehouse.py",
        """
        class Warehouse:
            def open(self, run):
                raise RuntimeError("no credentials for the warehouse")

            def process_item(self, item, run):
                return item
    """,
    )
    config = (project.root / "harvester.toml").read_text()
    project.write("harvester.toml", config.replace('pipelines = ["store"]', 'pipelines = ["warehouse", "store"]'))
    project.spider("picky", SPIDER)
    result = project.run("crawl", "picky")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "harvester: error: a pipeline failed to open: RuntimeError: no credentials for the warehouse"
    )
    assert project.sql("select status from runs") == [("failed",)]


def test_a_start_url_without_a_scheme_costs_one_error_and_the_other_start_urls_are_crawled(project, site):
    site.page("/ok", "<h1>ok</h1>")
    site.page("/also", "<h1>also</h1>")
    project.spider(
        "starts",
        """
        from harvester import Spider


        class Starts(Spider):
            name = "starts"
            base = ""

            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.start_urls = ["example", self.base + "/ok", "//nohost", self.base + "/also"]

            def parse(self, response):
                yield {"title": response.css("h1::text").get()}
    """,
    )
    result = project.run("crawl", "starts", "-a", f"base={site.url}")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert site.hits["/ok"] == 1 and site.hits["/also"] == 1
    assert sorted(project.sql("select json_extract(data, '$.title') from items")) == [("also",), ("ok",)]
    errors = project.sql("select kind, url, message from errors order by id")
    assert [(kind, url) for kind, url, _ in errors] == [("url", "example"), ("url", "//nohost")]
    assert all("invalid URL" in message for _, _, message in errors), errors
    assert project.sql("select status from runs") == [("finished",)]
    shown = [line for line in result.stderr.splitlines() if "invalid URL" in line]
    assert any("'example': no scheme" in line for line in shown) and any("'//nohost'" in line for line in shown), (
        result.stderr
    )


def test_a_start_url_that_does_not_parse_never_shows_its_password(project, site):
    site.page("/ok", "<h1>ok</h1>")
    project.spider(
        "secretive",
        """
        from harvester import Spider


        class Secretive(Spider):
            name = "secretive"
            base = ""

            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.start_urls = ["http://alice:s3cret@exa mple.com/", self.base + "/ok"]

            def parse(self, response):
                yield {"title": response.css("h1::text").get()}
    """,
    )
    result = project.run("crawl", "secretive", "-a", f"base={site.url}")
    assert result.returncode == 0, result.stderr
    assert site.hits["/ok"] == 1
    [(url, message)] = project.sql("select url, message from errors")
    assert url == "http://***@exa mple.com/" and "invalid URL" in message
    shown = result.stdout + result.stderr
    assert "invalid URL 'http://***@exa mple.com/'" in shown
    assert "s3cret" not in shown + message and "alice" not in shown + message
