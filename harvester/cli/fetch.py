"""`harvester fetch URL`: one page through a crawl's fetch path, printed.

robots.txt, redirects, retries, cookies and the `[auth]` credentials apply as
in a crawl (of `--spider`, or with the project's settings); the body goes to
stdout as received, or with `--headers` the status and response headers.
"""

from __future__ import annotations

import argparse
import sys
from http import HTTPStatus
from typing import Any

from harvester import loop
from harvester.cli.help import command
from harvester.cli.options import add_spider_options
from harvester.cli.session import Session
from harvester.exceptions import FetchError
from harvester.response import Response


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = command(
        commands,
        "fetch",
        common,
        help="fetch a URL as a crawl would and print it",
        description="Fetch URL through the crawl's fetch path (robots.txt, redirects, retries,\n"
        "cookies, [auth] credentials) and print the body, or with --headers the\n"
        "status line and the response headers. In a project its settings apply;\n"
        "--spider S fetches as that spider's crawl would. Exit status 1 when the\n"
        "fetch fails (refused by robots.txt, network error, redirect loop ...).",
        examples=(
            "harvester fetch https://example.org/ > page.html",
            "harvester fetch --headers https://example.org/",
            "harvester fetch --spider books https://books.example/catalogue/",
            "harvester fetch -s fetch.obey_robots=false https://example.org/private",
        ),
    )
    parser.add_argument("url", help="the URL (a bare host gets http://, a local file file://)")
    parser.add_argument("--headers", action="store_true", help="print the status and response headers, not the body")
    parser.add_argument("--spider", metavar="S", help="fetch as this spider of the project does")
    add_spider_options(parser)
    parser.set_defaults(handler=run, anywhere=True)


def status_line(response: Response) -> str:
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    return f"{response.status} {reason}".strip()


def fetch_failed(exc: FetchError, url: str) -> int:
    """One line on stderr for a fetch that got no usable response; exit status 1."""
    where = exc.request.url if exc.request is not None else url
    print(f"harvester: error: {exc.kind}: {exc} ({where})", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    async def main() -> Response:
        session = Session.from_args(args)
        try:
            return await session.fetch(args.url)
        finally:
            await session.aclose()

    try:
        response = loop.run(main())
    except FetchError as exc:
        return fetch_failed(exc, args.url)
    if args.headers:
        print(status_line(response))
        for name, value in response.headers.raw:  # as the server spelt them
            print(f"{name.decode('latin-1')}: {value.decode('latin-1')}")
    else:
        sys.stdout.buffer.write(response.body)
        sys.stdout.buffer.flush()
    return 0
