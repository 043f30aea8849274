"""The shape of a composed fetch chain, or of any part of it: `async (request) -> Response`.

Each step is a middleware `(request, call_next) -> Response` (`harvester.middleware`);
`Fetch` is what `call_next` is, and what the whole chain is once composed.
"""

from __future__ import annotations

from typing import Protocol

from harvester.request import Request
from harvester.response import Response


class Fetch(Protocol):
    """A fetch chain: one request in, its response out."""

    async def __call__(self, request: Request) -> Response: ...
