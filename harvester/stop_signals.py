"""Ctrl-C and SIGTERM: the signals that ask a crawl, or the job scheduler, to stop.

A command installs its handler on the running event loop for both (in place
of Python's `KeyboardInterrupt`) and removes it when done, so a second crawl
in the same process starts with the defaults back.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def install(on_signal: Callable[[signal.Signals], object]) -> None:
    """Call `on_signal(signal)` on the running loop at each Ctrl-C or SIGTERM."""
    loop = asyncio.get_running_loop()
    for sig in SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)


def remove() -> None:
    """Give Ctrl-C and SIGTERM back their default handling on the running loop."""
    loop = asyncio.get_running_loop()
    for sig in SIGNALS:
        loop.remove_signal_handler(sig)
