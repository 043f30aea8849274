"""The email report of `harvester crawl`, received by a real SMTP server (aiosmtpd) on loopback:
a run whose every page failed says so in its subject; the CSV attachment says it is UTF-8."""

from __future__ import annotations

import csv
import io

from conftest import FAST_CONFIG, Project, Site
from test_report import smtp  # noqa: F401 - the fixture

SPIDER = """
from harvester import Spider


class Shop(Spider):
    name = "shop"
    start_urls = ["{url}/", "{url}/a"]

    def parse(self, response):
        yield {{"title": response.css("h1::text").get(), "path": response.url.rsplit("/", 1)[1]}}
"""


def report_project(project: Project, site: Site, port: int) -> None:
    config = FAST_CONFIG.replace('pipelines = ["store"]', 'pipelines = ["store", "email_report"]')
    project.write(
        "harvester.toml",
        config
        + f"""
[email]
host = "127.0.0.1"
port = {port}
security = "none"
sender = "harvester@example.org"
to = ["team@example.org"]
attach_csv = true
timeout = 10
""",
    )
    project.spider("shop", SPIDER.format(url=site.url))


def test_a_run_whose_every_page_failed_says_so_in_the_subject(project: Project, site: Site, smtp) -> None:  # noqa: F811
    controller, recorder = smtp()
    site.page("/", "down", status=500)
    site.page("/a", "gone", status=404)
    report_project(project, site, controller.port)
    project.run("crawl", "shop")  # its exit status is the engine's business; the report is what is checked here
    subject = recorder.only_message()["Subject"]
    assert subject.startswith("[harvester] FAILED: every page failed: shop finished: 2 pages, 0 items"), subject
    body = recorder.only_message().get_body(("plain",)).get_content()
    assert "every page failed" in body


def test_a_run_with_good_pages_is_not_failed_and_its_csv_is_utf8(project: Project, site: Site, smtp) -> None:  # noqa: F811
    controller, recorder = smtp()
    site.page("/", "<h1>Poésie & Poetry</h1>")
    site.page("/a", "gone", status=404)
    report_project(project, site, controller.port)
    result = project.run("crawl", "shop")
    assert result.returncode == 0, result.stderr
    message = recorder.only_message()
    assert "FAILED" not in message["Subject"]
    assert message["Subject"].startswith("[harvester] shop finished: 2 pages, 1 items"), message["Subject"]
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_content_charset() == "utf-8"
    rows = list(csv.DictReader(io.StringIO(attachment.get_content())))
    assert [row["title"] for row in rows] == ["Poésie & Poetry"]
