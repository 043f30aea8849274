"""The public API: what spiders and pipelines import from `harvester`."""

import harvester


def test_public_names_are_exported_and_sorted():
    assert harvester.__all__ == sorted(harvester.__all__)
    for name in ("Spider", "Request", "FormRequest", "Response", "Selector", "DropItem", "CrawlSpider", "Rule",
                 "LinkExtractor", "XMLFeedSpider", "CSVFeedSpider", "JSONFeedSpider", "SitemapSpider", "ParseError"):
        assert name in harvester.__all__
        assert getattr(harvester, name) is not None
