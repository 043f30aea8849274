"""Headers a step adds for the wire only: a login's `Authorization`, the jar's `Cookie`.

The step sends a copy of the request carrying the header (`with_header`) and hands back
what comes of it naming the request it was given (`sent_as`): the response's `request` and a
fetch error's `request` are the one the chain above passed down, so a middleware, a retry,
an errback or an error row never sees the password or the session cookie.
"""

from __future__ import annotations

from harvester.exceptions import FetchError
from harvester.middleware import CallNext
from harvester.request import Request
from harvester.response import Response


def has_header(request: Request, name: str) -> bool:
    """Whether the request carries a header `name` (any case) of its own."""
    lowered = name.lower()
    return bool(request.headers) and any(key.lower() == lowered for key in request.headers or ())


def with_header(request: Request, name: str, value: str) -> Request:
    """A copy of the request carrying `name: value` besides its own headers."""
    return request.replace(headers={**(request.headers or {}), name: value})


async def sent_as(request: Request, sent: Request, call_next: CallNext) -> Response:
    """`call_next(sent)`, with the response and any fetch error naming `request` instead of `sent`."""
    try:
        response = await call_next(sent)
    except FetchError as exc:
        if exc.request is sent:
            exc.request = request
        raise
    if response.request is sent:
        response.request = request
    return response
