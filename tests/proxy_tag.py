"""A proxy.py plugin for the proxy tests: each request it forwards carries `X-Via: $PROXY_TAG`,
so the loopback site can tell which proxy a request came through."""

from __future__ import annotations

import os

from proxy.http.parser import HttpParser
from proxy.http.proxy import HttpProxyBasePlugin


class Tag(HttpProxyBasePlugin):
    """Tags every forwarded request with the proxy's name."""

    def handle_client_request(self, request: HttpParser) -> HttpParser | None:
        request.add_header(b"X-Via", os.environ.get("PROXY_TAG", "?").encode())
        return request
