"""The public API: what spiders and pipelines import from `harvester`."""

import harvester


def test_public_names_are_exported_and_sorted():
    assert harvester.__all__ == sorted(harvester.__all__)
    for name in ("Spider", "Request", "FormRequest", "Response", "Selector", "DropItem", "CrawlSpider", "Rule",
                 "LinkExtractor", "XMLFeedSpider", "CSVFeedSpider", "JSONFeedSpider", "SitemapSpider", "ParseError",
                 "CloseSpider"):
        assert name in harvester.__all__
        assert getattr(harvester, name) is not None


def test_importing_the_command_line_leaves_out_what_a_crawl_does_not_use():
    import subprocess
    import sys

    from conftest import REPO

    check = ("import sys, harvester.cli.main; "
             "print(sorted({name.split('.')[0] for name in sys.modules} & {'alembic', 'click', 'croniter', 'mako', 'rich'}), "
             "'httpx._main' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", check], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "False"]
