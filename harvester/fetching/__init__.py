"""The fetcher: a transport per scheme wrapped in cross-cutting behaviour.

The wrappers are composed in one ordered list, outermost first; each is a
callable `async (request) -> Response` that holds the next one:

    robots -> revalidate -> redirect -> retry -> throttle -> deadline -> transport (by scheme)
"""

from __future__ import annotations

from harvester.fetching.base import Fetch
from harvester.fetching.fetcher import Fetcher

__all__ = ["Fetch", "Fetcher"]
