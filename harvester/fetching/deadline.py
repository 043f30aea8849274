"""Fetch step: a total deadline per attempt, and the choice of transport by scheme."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from harvester.exceptions import FetchTimeout, Forbidden
from harvester.request import Request
from harvester.response import Response
from harvester.transports.base import Transport


class Dispatch:
    """Sends each request to the transport of its scheme, within `timeout` seconds in all."""

    def __init__(self, transports: Mapping[str, Transport], timeout: float) -> None:
        self.transports = transports
        self.timeout = timeout

    async def __call__(self, request: Request) -> Response:
        scheme = request.url.partition(":")[0]  # a parsed URL: its scheme in lower case
        transport = self.transports.get(scheme)
        if transport is None:
            raise Forbidden(f"no transport for {scheme}:// URLs", request)
        try:
            async with asyncio.timeout(self.timeout):
                return await transport.fetch(request)
        except TimeoutError:
            raise FetchTimeout(f"no complete response within {self.timeout:g} s", request) from None
