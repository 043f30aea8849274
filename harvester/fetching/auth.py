"""Fetch step: HTTP logins (Basic, RFC 7617; Digest, RFC 7616) sent to exactly their origin.

Which login goes with a request is `harvester.credentials`'s answer: the
login its URL came with, else its origin's `[auth]` entry, and none once a
redirect has left the origin the request was meant for (the redirect step
turns `Request.credentials` off). The step sits inside redirects and retries,
so each hop and each attempt is asked again, and outside the cookie step, so
a 401's `Set-Cookie` is kept and sent with the answer to its challenge.

Basic goes with the first request. Digest answers the server's 401 challenge,
and later requests with that login reuse the challenge (one flow per
configured login, as httpx keeps it). The `Authorization` header is added to
the copy sent on, never to the request the redirect and retry steps hold; a
request with its own `Authorization` header is sent with that one. A proxy's
login is not this step's: the transport sends it to the proxy alone
(`Request.proxy`, `[fetch] proxies`). An FTP login is part of the FTP session,
not a header: the ftp transport asks the same `Credentials` for it.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable

import httpx

from harvester import schemes
from harvester.credentials import Credentials, Login
from harvester.fetching.headers import has_header, sent_as, with_header
from harvester.middleware import CallNext
from harvester.request import Request
from harvester.response import Response


class Auth:
    """Adds the `Authorization` header of the request's login, answering digest challenges."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self._digests: dict[Login, httpx.DigestAuth] = {}  # one per configured login: it keeps its nonce

    def __call__(self, request: Request, call_next: CallNext) -> Awaitable[Response]:
        login = self.credentials.for_request(request)
        if login is None or not schemes.current().speaks_http(request.url) or has_header(request, "Authorization"):
            return call_next(request)  # nothing to add: no coroutine of this step's own
        if login.scheme != "digest":
            return sent_as(request, with_header(request, "Authorization", _basic(login)), call_next)
        return self._digest(request, login, call_next)

    async def _digest(self, request: Request, login: Login, call_next: CallNext) -> Response:
        """Digest comes only from [auth] (URL userinfo is Basic): one flow per entry, kept."""
        if (digest := self._digests.get(login)) is None:
            digest = self._digests[login] = httpx.DigestAuth(login.username, login.password)
        flow = digest.auth_flow(httpx.Request(request.method, request.url))
        sent = next(flow)  # with the header of the challenge known from earlier, if any
        response = await sent_as(request, _authorized(request, sent.headers.get("Authorization")), call_next)
        challenges = [
            (b"WWW-Authenticate", value) for name, value in response.headers.raw if name.lower() == b"www-authenticate"
        ]
        try:
            answer = flow.send(httpx.Response(response.status, headers=challenges, request=sent))
        except StopIteration:
            return response  # not a 401 with a digest challenge: the response is the answer
        except httpx.HTTPError:
            return response  # a challenge that cannot be read: the 401 stands
        await response.aclose()
        return await sent_as(request, _authorized(request, answer.headers.get("Authorization")), call_next)


def _basic(login: Login) -> str:
    """The Basic credentials of a login (user and password as UTF-8, as httpx and browsers send them)."""
    token = base64.b64encode(f"{login.username}:{login.password}".encode())
    return "Basic " + token.decode("ascii")


def _authorized(request: Request, value: str | None) -> Request:
    """A copy of the request carrying `Authorization: value` (the request itself when there is none)."""
    return request if value is None else with_header(request, "Authorization", value)
