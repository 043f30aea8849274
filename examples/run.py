"""The main job: serve the bundled bookshop site on loopback and crawl it into harvest.db.

    python examples/run.py

Starts a static HTTP server for examples/site on 127.0.0.1 (a free port),
runs `harvester crawl books` against it, prints the run's summary, and stops
the server. Nothing leaves the machine.
"""

from __future__ import annotations

import functools
import http.server
import os
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> int:
    handler = functools.partial(QuietHandler, directory=str(HERE / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(f"serving examples/site at {base_url}", flush=True)
    os.chdir(PROJECT)
    from harvester.cli.main import main as harvester

    try:
        return harvester(["crawl", "books", "-a", f"base_url={base_url}", *sys.argv[1:]])
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
