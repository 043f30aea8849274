"""Files that hold what a crawl fetched, created readable by their owner only (mode 0600).

The harvest database keeps cached bodies of pages fetched with credentials, and
exports (`-o FILE`) hold the items, so both are created 0600 whatever the
umask. SQLite creates a database's `-wal` and `-shm` files with the
database file's own permissions, so creating the database file first is
enough for all three. A file that exists already keeps its permissions: the
operator chose them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

PRIVATE = 0o600


def create_private(path: str | Path) -> bool:
    """Create `path` empty with mode 0600 unless it exists; whether it was created."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE)
    except FileExistsError:
        return False
    try:
        os.fchmod(descriptor, PRIVATE)  # exactly 0600: the umask only ever takes bits away
    finally:
        os.close(descriptor)
    return True


def open_private(path: str | Path, mode: str = "w", **options: Any) -> IO[Any]:
    """`open(path, mode, ...)`, the file created 0600 if it is new."""
    create_private(path)
    return open(path, mode, **options)  # noqa: SIM115 - the caller closes it
