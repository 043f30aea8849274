"""Scrapy's setting names, as a Scrapy user types them after `-s`, and their Harvester keys.

`COUNTERPARTS` is the one table: a Scrapy setting with a Harvester counterpart
is that `section.key` of harvester.toml (`-s DOWNLOAD_DELAY=1` is
`-s fetch.delay=1`). `WITHOUT_COUNTERPART` names the Scrapy settings Harvester
has no key for, each with what comes nearest (a key, an option or a note),
which the error a user meets repeats. The README shows both tables.
"""

from __future__ import annotations

from harvester.exceptions import ConfigError

COUNTERPARTS: dict[str, str] = {
    "AUTOTHROTTLE_ENABLED": "fetch.adaptive_delay",
    "CLOSESPIDER_ERRORCOUNT": "crawl.max_errors",
    "CLOSESPIDER_ITEMCOUNT": "crawl.max_items",
    "CLOSESPIDER_PAGECOUNT": "crawl.max_pages",
    "CLOSESPIDER_TIMEOUT": "crawl.max_seconds",
    "CONCURRENT_REQUESTS": "fetch.concurrency",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "fetch.per_host",
    "DEPTH_LIMIT": "crawl.depth_limit",
    "DOWNLOAD_DELAY": "fetch.delay",
    "DOWNLOAD_MAXSIZE": "fetch.max_size",
    "DOWNLOAD_TIMEOUT": "fetch.timeout",
    "RETRY_TIMES": "fetch.retries",
    "ROBOTSTXT_OBEY": "fetch.obey_robots",
    "USER_AGENT": "fetch.user_agent",
}

WITHOUT_COUNTERPART: dict[str, str] = {
    "AUTOTHROTTLE_MAX_DELAY": "nearest: fetch.adaptive_delay",
    "AUTOTHROTTLE_START_DELAY": "nearest: fetch.adaptive_delay",
    "AUTOTHROTTLE_TARGET_CONCURRENCY": "nearest: fetch.adaptive_delay",
    "CONCURRENT_REQUESTS_PER_IP": "nearest: fetch.per_host (per host name, not per address)",
    "DNS_TIMEOUT": "nearest: fetch.timeout (the whole fetch)",
    "DOWNLOAD_WARNSIZE": "nearest: fetch.max_size",
    "FEEDS": "use -o FILE (append) or -O FILE (overwrite)",
    "FEED_FORMAT": "use -o FILE:FORMAT",
    "FEED_URI": "use -o FILE (append) or -O FILE (overwrite)",
    "HTTPCACHE_ENABLED": "nearest: fetch.revalidate (later runs re-fetch pages conditionally)",
    "HTTPPROXY_ENABLED": "nearest: fetch.proxies",
    "ITEM_PIPELINES": "nearest: project.pipelines (a list, run in its order)",
    "JOBDIR": "use crawl --resume (every run's frontier is kept in the harvest database)",
    "LOG_LEVEL": "use -v (debug logging)",
    "RANDOMIZE_DOWNLOAD_DELAY": "nearest: fetch.delay",
    "REDIRECT_MAX_TIMES": "redirects are followed, at most 10 per request",
    "RETRY_ENABLED": "nearest: fetch.retries (0: no retries)",
    "RETRY_HTTP_CODES": "408, 429, 500, 502, 503 and 504 are retried",
    "SPIDER_MODULES": "nearest: project.spiders",
}


def harvester_key(name: str) -> str | None:
    """The Harvester `section.key` for the Scrapy setting `name`; None when `name` is not one of
    Scrapy's settings Harvester knows. A Scrapy setting without a counterpart is a ConfigError
    naming it and what comes nearest."""
    if name in COUNTERPARTS:
        return COUNTERPARTS[name]
    if name in WITHOUT_COUNTERPART:
        hint = WITHOUT_COUNTERPART[name]
        raise ConfigError(f"-s {name}: Scrapy's setting has no Harvester counterpart; {hint}")
    return None
