"""Fetch step: conditional re-fetching of pages a spider fetched on an earlier run.

A GET for a page stored before carries `If-None-Match` / `If-Modified-Since`.
A 304 is transparent: the stored copy is handed on as the response
(`from_cache` true, so the engine records status 304 for the page). A fresh
200 with a validator replaces the stored copy.
"""

from __future__ import annotations

from harvester.middleware import CallNext
from harvester.request import Request
from harvester.response import Response
from harvester.storage.http_cache import HttpCache


class Revalidate:
    """Asks again with the stored validators; a 304 hands on the stored copy."""

    def __init__(self, cache: HttpCache) -> None:
        self.cache = cache

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        if request.method != "GET" or request.stream:
            return await call_next(request)
        key = request.fingerprint
        stored = await self.cache.get(key)
        if stored is not None:
            conditions = {}
            if stored.etag:
                conditions["If-None-Match"] = stored.etag
            if stored.last_modified:
                conditions["If-Modified-Since"] = stored.last_modified
            request = request.replace(headers={**conditions, **(request.headers or {})})
        response = await call_next(request)
        if response.status == 304 and stored is not None:
            return Response(
                url=response.url,
                status=200,
                headers=stored.headers,
                body=stored.body,
                request=response.request,
                from_cache=True,
                redirects=response.redirects,
            )
        validated = "etag" in response.headers or "last-modified" in response.headers
        if response.status == 200 and validated and response.truncated is None:  # never a part as the whole
            await self.cache.put(key, response.url, response.headers, response.body)
        return response
