"""Files that hold what a crawl fetched, created readable by their owner only (mode 0600).

The harvest database keeps cached bodies of pages fetched with credentials, and
exports (`-o FILE`) hold the items, so both are created 0600 whatever the
umask. SQLite creates a database's `-wal` and `-shm` files with the
database file's own permissions, so creating the database file first is
enough for all three. A file that exists already keeps its permissions: the
operator chose them.

`FileIdentity` tells whether a database file is still the one a run opened.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import Engine

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


@dataclass(frozen=True)
class FileIdentity:
    """A SQLite database file as it was opened (device and inode), to notice it vanish or be replaced.

    A process that has SQLite open writes on into a file deleted or renamed
    away under it, and nobody will ever read that; a run must fail instead.
    """

    path: str
    device: int
    inode: int

    @classmethod
    def of(cls, engine: Engine) -> FileIdentity | None:
        """The file of a SQLite engine (None for another database, or memory)."""
        url = engine.url
        path = url.database
        if url.get_backend_name() != "sqlite" or path in (None, "", ":memory:") or url.query.get("uri"):
            return None
        try:
            found = os.stat(path)
        except OSError:
            return None
        return cls(os.path.abspath(path), found.st_dev, found.st_ino)

    def change(self) -> str | None:
        """What happened to the file since it was opened, or None if it is still there."""
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return f"the database file {self.path} vanished during the run"
        except OSError as exc:
            return f"the database file {self.path} cannot be checked: {exc.strerror}"
        if (found.st_dev, found.st_ino) != (self.device, self.inode):
            return f"the database file {self.path} was replaced during the run"
        return None
