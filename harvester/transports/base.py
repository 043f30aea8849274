"""The transport protocol: one request in, one response out, one transport per scheme.

A transport class declares the schemes it fetches and their policy in a `schemes`
attribute (`harvester.schemes.Scheme` values); the registry (`harvester.schemes`)
chooses it by scheme. A project's own transport is built as `cls(settings)`.
"""

from __future__ import annotations

from typing import Protocol

from harvester.request import Request
from harvester.response import Response


class Transport(Protocol):
    """Fetches the URLs of its schemes: `fetch(request) -> Response`, `aclose()` at the end of a crawl."""

    async def fetch(self, request: Request) -> Response:
        """Fetch one request once: no retries, no redirects followed.

        Raises a `FetchError` subclass when no response could be had.
        """
        ...

    async def aclose(self) -> None:
        """Release connections, threads and files; called once when the crawl ends."""
        ...
