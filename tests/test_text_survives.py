"""Text that survives: a lone surrogate from a JSON API is replaced once, so the database,
every `-o` format, every `query` format and the errors table agree on U+FFFD."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import Project, Site

SPIDER = """
from harvester import Spider

class Api(Spider):
    name = "api"
    base = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [self.base + "/api"]

    def parse(self, response):
        for record in response.json()["records"]:
            yield record
        raise ValueError(response.json()["records"][0]["name"])
"""

# JSON escapes as an API sends them: a lone high and low surrogate, a valid pair, a NUL
BODY = (
    r'{"records": [{"sku": "1", "name": "bad \ud800 half", "tags": ["\udfff", "ok"]},'
    r' {"sku": "2", "name": "pair \ud83d\ude00", "nul": "a\u0000b"}]}'
)
EXPECTED = [
    {"sku": "1", "name": "bad \ufffd half", "tags": ["\ufffd", "ok"]},
    {"sku": "2", "name": "pair \U0001f600", "nul": "a\ufffdb"},
]


@pytest.fixture
def api(project: Project, site: Site) -> Project:
    site.page("/api", BODY, content_type="application/json")
    project.spider("api", SPIDER)
    return project


def test_the_body_really_holds_lone_surrogates():
    assert json.loads(BODY)["records"][0]["name"] == "bad \ud800 half"


@pytest.mark.parametrize("suffix", ["jsonl", "json", "csv"])
def test_a_lone_surrogate_is_stored_exported_and_queried_alike(api: Project, site: Site, suffix: str):
    out = api.root / f"items.{suffix}"
    crawl = api.run("crawl", "api", "-a", f"base={site.url}", "-o", str(out))
    assert crawl.returncode == 0, crawl.stderr
    assert "Traceback" not in crawl.stderr

    stored = [json.loads(data) for (data,) in api.sql("select data from items order by id")]
    assert stored == EXPECTED
    text = out.read_text("utf-8")
    if suffix == "jsonl":
        assert [json.loads(line) for line in text.splitlines()] == EXPECTED
    elif suffix == "json":
        assert json.loads(text) == EXPECTED
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [row["name"] for row in rows] == ["bad \ufffd half", "pair \U0001f600"]
        assert json.loads(rows[0]["tags"]) == ["\ufffd", "ok"]

    for fmt in ("table", "json", "jsonl", "csv"):
        query = api.run("query", "--spider", "api", "--format", fmt)
        assert query.returncode == 0, query.stderr
        assert "bad \ufffd half" in query.stdout and "pair \U0001f600" in query.stdout
        raw = api.run("query", "select message from errors", "--format", fmt)
        assert raw.returncode == 0, raw.stderr
        assert "bad \ufffd half" in raw.stdout
    as_json = json.loads(api.run("query", "--spider", "api", "--format", "json").stdout)
    assert [row["data"] for row in as_json] == EXPECTED
    lines = api.run("query", "--spider", "api", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["data"] for line in lines] == EXPECTED
    rows = list(csv.DictReader(io.StringIO(api.run("query", "--spider", "api", "--format", "csv").stdout)))
    assert [row["name"] for row in rows] == ["bad \ufffd half", "pair \U0001f600"]


def test_rows_stored_with_surrogates_by_an_older_harvester_are_still_readable(api: Project, site: Site):
    assert api.run("crawl", "api", "-a", f"base={site.url}").returncode == 0
    api.sql("""update items set data = '{"sku": "1", "name": "old \\ud800 text", "\\udfff": 1}' where id = 1""")
    assert json.loads(api.sql("select data from items where id = 1")[0][0])["name"] == "old \ud800 text"
    for fmt in ("table", "json", "jsonl", "csv"):
        query = api.run("query", "--spider", "api", "--format", fmt)
        assert query.returncode == 0, query.stderr
        assert "old \ufffd text" in query.stdout
        raw = api.run("query", "select * from items", "--format", fmt)  # JSON text as stored, or its fields
        assert raw.returncode == 0, raw.stderr
        assert "old \ufffd text" in raw.stdout or "old \\\\ud800 text" in raw.stdout


def test_the_email_report_shows_the_same_text(api: Project, site: Site):
    import email
    import email.policy

    from aiosmtpd.controller import Controller

    received = []

    class Recorder:
        async def handle_DATA(self, server, session, envelope):
            received.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
            return "250 Message accepted"

    class Loopback(Controller):
        def _trigger_server(self):
            self.port = self.server.sockets[0].getsockname()[1]
            super()._trigger_server()

    controller = Loopback(Recorder(), hostname="127.0.0.1", port=0)
    controller.start()
    try:
        config = (
            (api.root / "harvester.toml")
            .read_text()
            .replace('pipelines = ["store"]', 'pipelines = ["store", "email_report"]')
        )
        api.write(
            "harvester.toml",
            config
            + f"""
[email]
host = "127.0.0.1"
port = {controller.port}
security = "none"
sender = "harvester@example.org"
to = ["team@example.org"]
attach_csv = true
timeout = 5
""",
        )
        result = api.run("crawl", "api", "-a", f"base={site.url}")
    finally:
        controller.stop()
    assert result.returncode == 0, result.stderr
    (message,) = received
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    (part,) = message.iter_attachments()
    assert part.get_content_type() == "text/csv" and part.get_content_charset() == "utf-8"
    attachment = part.get_content()
    for text in (plain, html, attachment):
        assert "bad \ufffd half" in text
        assert "\ud800" not in text
    assert "pair \U0001f600" in attachment
