"""The shape every fetch step shares: `async (request) -> Response`."""

from __future__ import annotations

from typing import Protocol

from harvester.request import Request
from harvester.response import Response


class Fetch(Protocol):
    async def __call__(self, request: Request) -> Response: ...
