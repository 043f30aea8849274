"""The transport protocol: one request in, one response out, one transport per scheme."""

from __future__ import annotations

from typing import Protocol

from harvester.request import Request
from harvester.response import Response


class Transport(Protocol):
    async def fetch(self, request: Request) -> Response:
        """Fetch one request once: no retries, no redirects followed.

        Raises a `FetchError` subclass when no response could be had.
        """
        ...

    async def aclose(self) -> None: ...
