"""`harvester shell [URL]`: a Python console to try selectors on live pages.

The console (IPython when installed, Python's own otherwise) starts with
`response`, `request`, `spider`, `settings`, `fetch(url_or_request)`,
`Selector`, `Request` and `shelp()`. Pages are fetched through a crawl's
fetch path by a `BlockingSession`, so cookies persist from one fetch to the next.
"""

from __future__ import annotations

import argparse
import code
import sys
from typing import Any

from harvester.cli.fetch import status_line
from harvester.cli.help import command
from harvester.cli.options import add_spider_options
from harvester.cli.session import BlockingSession
from harvester.exceptions import ConfigError, FetchError
from harvester.request import FormRequest, Request
from harvester.selector import Selector

CONSOLES = ("auto", "ipython", "python")


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = command(
        commands,
        "shell",
        common,
        help="a Python console with a fetched page ready",
        description="A Python console (IPython when installed) with a page fetched as a crawl\n"
        "would fetch it. Ready: response, request, spider, settings, Selector,\n"
        "Request, FormRequest, fetch(url_or_request) to fetch another page (it\n"
        "replaces response and request), shelp() to list these again.",
        examples=(
            "harvester shell https://books.example/",
            "harvester shell --spider books https://books.example/catalogue/",
            "harvester shell page.html          # a local file",
            """harvester shell https://books.example/ -c 'response.css("h1::text").getall()'""",
            "harvester shell --console python   # Python's own console, no page yet",
        ),
    )
    parser.add_argument("url", nargs="?", help="the page to fetch first (a bare host gets http://)")
    parser.add_argument("--spider", metavar="S", help="fetch as this spider of the project does")
    parser.add_argument(
        "-c",
        dest="code",
        metavar="CODE",
        help="evaluate CODE with the page ready, print its value and exit (no console)",
    )
    parser.add_argument(
        "--console",
        choices=CONSOLES,
        default="auto",
        help="which console: IPython when installed (auto), ipython or python",
    )
    add_spider_options(parser)
    parser.set_defaults(handler=run, anywhere=True)


class Shell:
    """The console's namespace and the `fetch()` and `shelp()` it offers."""

    def __init__(self, session: BlockingSession) -> None:
        self.session = session
        inner = session.session
        self.namespace: dict[str, Any] = {
            "request": None,
            "response": None,
            "spider": inner.spider,
            "settings": inner.settings,
            "fetch": self.fetch,
            "shelp": self.shelp,
            "Selector": Selector,
            "Request": Request,
            "FormRequest": FormRequest,
        }

    def fetch(self, url_or_request: str | Request) -> None:
        """Fetch a URL or Request; `response` and `request` become the new ones."""
        self.load(url_or_request)

    def load(self, url_or_request: str | Request) -> bool:
        """`fetch()`, saying how it went on stderr; False when it failed."""
        try:
            response = self.session.fetch(url_or_request)
        except (FetchError, ConfigError) as exc:
            kind = getattr(exc, "kind", "error")
            print(f"[s] fetch failed: {kind}: {exc}; response is unchanged", file=sys.stderr)
            return False
        self.namespace["response"], self.namespace["request"] = response, response.request
        print(f"[s] {status_line(response)} {response.url} ({len(response.body)} bytes)", file=sys.stderr)
        return True

    def shelp(self) -> None:
        """What the console holds."""
        ns = self.namespace
        print("[s] Available Harvester objects:")
        for name in ("request", "response", "spider", "settings"):
            value = "<Settings>" if name == "settings" else repr(ns[name])
            print(f"[s]   {name:<10} {value}")
        print("[s]   Selector, Request, FormRequest")
        print("[s] Useful shortcuts:")
        print("[s]   fetch(url_or_request)   fetch a page; updates response and request")
        print("[s]   shelp()                 this help")


def run(args: argparse.Namespace) -> int:
    session = BlockingSession(args)
    try:
        shell = Shell(session)
        if args.url and not shell.load(args.url) and args.code is not None:
            return 1
        if args.code is not None:
            print(eval(args.code, shell.namespace))  # noqa: S307 - the user's own expression, as Scrapy's -c
            return 0
        shell.shelp()
        interact(shell.namespace, args.console)
    finally:
        session.close()
    return 0


def interact(namespace: dict[str, Any], console: str) -> None:
    """IPython's console when asked for, or by default when installed; Python's own otherwise."""
    if console != "python":
        try:
            from IPython import start_ipython
        except ImportError:
            if console == "ipython":
                raise ConfigError("IPython is not installed (pip install ipython), or use --console python") from None
        else:
            start_ipython(  # type: ignore[no-untyped-call]
                argv=["--no-banner", "--no-confirm-exit"], user_ns=namespace
            )
            return
    try:
        import readline
        import rlcompleter

        readline.set_completer(rlcompleter.Completer(namespace).complete)
        readline.parse_and_bind("tab: complete")
    except ImportError:
        pass
    code.interact(banner="", local=namespace, exitmsg="")
    sys.stdout.flush()
