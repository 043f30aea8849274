"""Alembic, driven from Harvester: upgrade, current revision, and the start-up check.

A database with no tables is brought to the newest revision on first use; one
at an older revision is refused with a line telling the user to upgrade.

The start-up check needs no Alembic: the database's revision is one row of
`alembic_version`, and the revisions are read from the scripts in
`migrations/versions` without running them. Alembic (and Mako, ~11 MB) is
imported only to upgrade or downgrade.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import column, inspect, select, table
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

import harvester.migrations as migrations
from harvester.exceptions import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config

VERSIONS = Path(migrations.__file__).parent / "versions"
VERSION_TABLE = table("alembic_version", column("version_num"))  # Alembic's default name


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def head() -> str:
    """The newest revision of the scripts in migrations/versions."""
    revisions = _revisions()
    parents = {parent for down in revisions.values() for parent in down}
    heads = sorted(set(revisions) - parents)
    if len(heads) != 1:
        raise DatabaseError(f"the migrations have {len(heads)} heads ({', '.join(heads)}), not one")
    return heads[0]


def current(connection: Connection) -> str | None:
    """The database's revision; None for a database Alembic has never touched."""
    if not inspect(connection).has_table(VERSION_TABLE.name):
        return None
    rows = connection.execute(select(VERSION_TABLE.c.version_num)).scalars().all()
    if len(rows) > 1:
        raise DatabaseError(f"database is at several revisions at once ({', '.join(sorted(rows))})")
    return rows[0] if rows else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    _run(command.upgrade, engine, revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    _run(command.downgrade, engine, revision)


def _run(step: Callable[[Config, str], None], engine: Engine, revision: str) -> None:
    from alembic.util import CommandError

    config = alembic_config(engine)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)
    except CommandError as exc:
        raise DatabaseError(f"cannot migrate the database: {exc}") from None


@cache
def _revisions() -> dict[str, tuple[str, ...]]:
    """Each revision of migrations/versions with the revisions it follows (its `down_revision`).

    Read from the scripts' module-level assignments, as Alembic would find them
    by importing each script (which would import Alembic).
    """
    revisions: dict[str, tuple[str, ...]] = {}
    for path in sorted(VERSIONS.glob("*.py")):
        if path.name.startswith("_"):
            continue
        names: dict[str, Any] = {}
        for node in ast.parse(path.read_bytes(), str(path)).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                names[target.id] = ast.literal_eval(value)
        revision, down = names.get("revision"), names.get("down_revision")
        if not isinstance(revision, str):
            continue  # not a revision script; Alembic skips it too
        revisions[revision] = (down,) if isinstance(down, str) else tuple(down or ())
    return revisions


def ensure_current(engine: Engine, patience: float = 15.0) -> None:
    """Create a new database at the newest revision; refuse one at an older revision.

    Several processes may start on one new database at once (workers): one
    migrates it, the others wait for the newest revision to appear.
    """
    newest = head()
    deadline = time.monotonic() + patience
    while True:
        with engine.connect() as connection:
            revision = current(connection)
            has_tables = bool(inspect(connection).get_table_names())
        if revision == newest:
            return
        if revision is None and not has_tables:
            try:
                upgrade(engine)
                return
            except (DatabaseError, SQLAlchemyError):
                if time.monotonic() > deadline:
                    raise
        elif revision is not None or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # another process is creating it
    if revision is None:
        raise DatabaseError(
            f"{engine.url.render_as_string()} holds tables but no Harvester revision; "
            "use a new database or run `harvester db upgrade`"
        )
    if revision not in _revisions():
        raise DatabaseError(f"database is at revision {revision}, which this Harvester does not know (newer version?)")
    raise DatabaseError(f"database is at an older revision ({revision}, newest {newest}); run `harvester db upgrade`")
