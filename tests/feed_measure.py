"""For the feed limit tests: a crawl run in a child process with its peak RSS and CPU time,
and routes that stream a generated body (endless, or trickling) from the loopback server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from conftest import REPO, Handler, Project

# The child's only child is the crawl, so RUSAGE_CHILDREN is the crawl's own figures.
MEASURE = (
    "import json, resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(json.dumps([done.returncode, usage.ru_maxrss, usage.ru_utime + usage.ru_stime]))"
)


@dataclass
class Measured:
    returncode: int
    peak_mb: float
    cpu_seconds: float
    stderr: str


def measured_crawl(project: Project, *args: str, timeout: float = 120) -> Measured:
    """`harvester crawl ARGS` in a child process: its exit status, peak RSS (MB) and CPU seconds."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-m", "harvester", "crawl", *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    returncode, peak_kb, cpu = json.loads(done.stdout.strip().splitlines()[-1])
    return Measured(returncode, peak_kb / 1024, cpu, done.stderr)


def streamed(
    pieces: Callable[[], Iterable[bytes]], content_type: str, pause: float = 0.0, seconds: float = 60
) -> Callable[[Handler], None]:
    """A route sending `pieces()` chunked, `pause` seconds apart, until they end, the client
    leaves, or `seconds` pass (so a server thread never outlives its test for long)."""

    def route(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        ends = time.monotonic() + seconds
        try:
            for piece in pieces():
                if time.monotonic() > ends:
                    return
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                handler.wfile.flush()
                if pause:
                    time.sleep(pause)
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:  # the crawler hung up: what the test wants
            pass
        handler.close_connection = True

    return route


def endless(head: bytes, filler: bytes, size: int = 64 * 1024) -> Callable[[], Iterable[bytes]]:
    """`head`, then `filler` repeated in pieces of `size` bytes, for ever."""

    def pieces() -> Iterable[bytes]:
        yield head
        block = filler * (size // len(filler))
        while True:
            yield block

    return pieces
