"""The public API: what spiders and pipelines import from `harvester`."""

import harvester

PUBLIC = {
    "CSVFeedSpider",
    "CloseSpider",
    "CrawlSpider",
    "DropItem",
    "ErrorKind",
    "FormRequest",
    "HarvesterError",
    "JSONFeedSpider",
    "Link",
    "LinkExtractor",
    "ParseError",
    "Pipeline",
    "Request",
    "Response",
    "Rule",
    "RunContext",
    "RunStatus",
    "Selector",
    "SelectorList",
    "SitemapSpider",
    "Spider",
    "XMLFeedSpider",
    # run events (harvester.events)
    "ErrorRecorded",
    "Events",
    "ItemDropped",
    "ItemScraped",
    "RequestFiltered",
    "RequestScheduled",
    "ResponseReceived",
    "RunClosed",
    "RunOpened",
}


def test_public_names_are_exactly_these_and_sorted():
    assert set(harvester.__all__) == PUBLIC
    assert harvester.__all__ == sorted(harvester.__all__)
    for name in PUBLIC:
        assert getattr(harvester, name) is not None


def test_status_and_error_kinds_keep_the_values_the_database_holds():
    assert [str(status) for status in harvester.RunStatus] == ["running", "finished", "failed", "interrupted"]
    kinds = {str(kind) for kind in harvester.ErrorKind}
    assert {
        "http",
        "network",
        "timeout",
        "too_large",
        "truncated",
        "redirect",
        "robots",
        "url",
        "request",
        "parse",
        "spider",
        "pipeline",
        "validate",
        "report",
        "interrupted",
        "internal",
        "fetch",
    } <= kinds
    assert harvester.ErrorKind("too_large") == "too_large"


def test_importing_the_command_line_leaves_out_what_a_crawl_does_not_use():
    import subprocess
    import sys

    from conftest import REPO

    check = (
        "import sys, harvester.cli.main; "
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'alembic', 'click', 'croniter', 'mako', 'rich'}), "
        "'httpx._main' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", check], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "False"]
