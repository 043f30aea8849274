"""The tutorial's site: a small quote collection served on 127.0.0.1.

    python -m harvester.tutorial_site           # http://127.0.0.1:8765/ until Ctrl-C
    python -m harvester.tutorial_site --port 0   # a free port, printed on the first line

Three listing pages of three quotes each (with a "Next" link), one page per
author, and a robots.txt that keeps crawlers out of /private/. The pages are
built in memory; nothing is read from or written to disk, nothing leaves the
machine.
"""

from __future__ import annotations

import argparse
import html
import http.server
import sys
import urllib.parse

QUOTES = [
    ("The world as we have created it is a process of our thinking.", "Albert Einstein", ["change", "thinking"]),
    ("It is our choices that show what we truly are.", "J.K. Rowling", ["choices"]),
    ("There are only two ways to live your life.", "Albert Einstein", ["life", "miracles"]),
    ("The person who does not read has no advantage.", "Mark Twain", ["books", "reading"]),
    ("Imperfection is beauty, madness is genius.", "Marilyn Monroe", ["beauty"]),
    ("Try not to become a man of success.", "Albert Einstein", ["success", "value"]),
    ("It is better to be hated for what you are.", "André Gide", ["life", "love"]),
    ("I have not failed. I've just found 10,000 ways that won't work.", "Thomas A. Edison", ["failure", "paraphrased"]),
    ("A day without sunshine is like, you know, night.", "Steve Martin", ["humor", "simile"]),
]
PER_PAGE = 3
AUTHORS = {
    "Albert Einstein": "1879-03-14",
    "J.K. Rowling": "1965-07-31",
    "Mark Twain": "1835-11-30",
    "Marilyn Monroe": "1926-06-01",
    "André Gide": "1869-11-22",
    "Thomas A. Edison": "1847-02-11",
    "Steve Martin": "1945-08-14",
}


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-").replace("--", "-")


def page(title: str, body: str) -> bytes:
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"</head>\n<body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    ).encode()


def listing(number: int) -> bytes | None:
    start = (number - 1) * PER_PAGE
    if number < 1 or start >= len(QUOTES):
        return None
    parts = []
    for text, author, tags in QUOTES[start : start + PER_PAGE]:
        tag_links = " ".join(f'<a class="tag" href="/tag/{t}/">{t}</a>' for t in tags)
        parts.append(
            f'<div class="quote">\n  <span class="text">{html.escape(text)}</span>\n'
            f'  <small class="author">{html.escape(author)}</small>\n'
            f'  <a href="/author/{slug(author)}/">about</a>\n  <div class="tags">{tag_links}</div>\n</div>'
        )
    if start + PER_PAGE < len(QUOTES):
        parts.append(f'<nav><a class="next" href="/page/{number + 1}/">Next</a></nav>')
    return page(f"Quotes, page {number}", "\n".join(parts))


def author(name_slug: str) -> bytes | None:
    for name, born in AUTHORS.items():
        if slug(name) == name_slug:
            return page(name, f'<p class="born">{born}</p>')
    return None


def respond(path: str) -> tuple[int, str, bytes]:
    if path == "/robots.txt":
        return 200, "text/plain", b"User-agent: *\nDisallow: /private/\n"
    if path == "/":
        body = listing(1)
    elif path.startswith("/page/") and path.endswith("/") and path[6:-1].isdigit():
        body = listing(int(path[6:-1]))
    elif path.startswith("/author/") and path.endswith("/"):
        body = author(path[8:-1])
    elif path.startswith("/tag/") and path.endswith("/"):
        tag = path[5:-1]
        found = [text for text, _, tags in QUOTES if tag in tags]
        body = page(f"Tag {tag}", "\n".join(f"<p>{html.escape(t)}</p>" for t in found)) if found else None
    else:
        body = None
    if body is None:
        return 404, "text/html; charset=utf-8", page("Not found", "<p>No such page.</p>")
    return 200, "text/html; charset=utf-8", body


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, content_type, body = respond(urllib.parse.unquote(self.path.split("?", 1)[0]))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(port: int = 8765) -> http.server.ThreadingHTTPServer:
    """The site's server on 127.0.0.1:`port` (0: a free one), not yet serving."""
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description="Serve the tutorial's quotes site on 127.0.0.1.")
    options.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: a free one)")
    args = options.parse_args(argv)
    server = serve(args.port)
    print(f"serving the tutorial site at http://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
