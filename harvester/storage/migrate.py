"""Alembic, driven from Harvester: upgrade, current revision, and the start-up check.

A database with no tables is brought to the newest revision on first use; one
at an older revision is refused with a line telling the user to upgrade.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

import migrations
from harvester.exceptions import DatabaseError


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def head(engine: Engine) -> str:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head() or ""


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(command.upgrade, engine, revision)


def downgrade(engine: Engine, revision: str) -> None:
    _run(command.downgrade, engine, revision)


def _run(step: Callable[[Config, str], None], engine: Engine, revision: str) -> None:
    config = alembic_config(engine)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)
    except CommandError as exc:
        raise DatabaseError(f"cannot migrate the database: {exc}") from None


def ensure_current(engine: Engine, patience: float = 15.0) -> None:
    """Create a new database at the newest revision; refuse one at an older revision.

    Several processes may start on one new database at once (workers): one
    migrates it, the others wait for the newest revision to appear.
    """
    newest = head(engine)
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
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    if revision not in {script.revision for script in scripts.walk_revisions()}:
        raise DatabaseError(
            f"database is at revision {revision}, which this Harvester does not know (newer version?)"
        )
    raise DatabaseError(
        f"database is at an older revision ({revision}, newest {newest}); run `harvester db upgrade`"
    )
