"""The fetcher: a transport per scheme behind an ordered list of fetch middlewares.

Each step is a middleware `async (request, call_next) -> Response`
(`harvester.middleware`); the list is composed outermost first, in one place
(`Fetcher.middlewares`, built in `fetcher.py`):

    robots -> revalidate -> redirect -> retry -> [project's, spider's] -> throttle -> auth -> cookies
      -> deadline -> transport (by scheme)
"""

from __future__ import annotations

from harvester.fetching.base import Fetch
from harvester.fetching.fetcher import Fetcher, load_middlewares

__all__ = ["Fetch", "Fetcher", "load_middlewares"]
