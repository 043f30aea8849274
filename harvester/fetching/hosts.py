"""The per-host state the fetch steps share: delays, `Retry-After` pauses, requests in flight.

One object holds it for a run and is given to each step that needs it (robots
sets a host's Crawl-delay, retry pauses a host that sent `Retry-After`, the
throttle spaces and counts its requests, the progress display reads the
waits), so no step reaches into another. Today that object is the run's
`Throttle`, which keeps the records; the steps see only this protocol.
"""

from __future__ import annotations

from typing import Protocol


class Hosts(Protocol):
    """Politeness per host, shared by the fetch steps."""

    def set_delay(self, host: str, seconds: float) -> None:
        """Raise the start-to-start delay of `host` (robots.txt Crawl-delay)."""
        ...

    def pause(self, host: str, seconds: float) -> None:
        """Start nothing on `host` for `seconds` (a `Retry-After` it sent)."""
        ...

    def waiting(self) -> dict[str, float]:
        """Seconds each host must still wait before its next start."""
        ...
