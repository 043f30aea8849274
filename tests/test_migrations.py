"""Alembic: upgrade to head, models and migrations agree, downgrade to base; the start-up check."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import REPO
from sqlalchemy import inspect, text

from harvester.exceptions import DatabaseError
from harvester.storage import migrate
from harvester.storage.database import open_engine

pytest_plugins = ["pg"]  # db_url: SQLite and PostgreSQL


@pytest.fixture
def engine(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'harvest.db'}")
    yield engine
    engine.dispose()


def test_upgrade_check_and_downgrade(engine):
    migrate.upgrade(engine)
    assert {"runs", "items", "pages", "errors"} <= set(inspect(engine).get_table_names())
    config = migrate.alembic_config(engine)
    command.check(config)  # raises when the models and the migrations differ
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}


def test_a_new_database_is_created_at_the_newest_revision(engine):
    migrate.ensure_current(engine)
    with engine.connect() as connection:
        assert migrate.current(connection) == migrate.head()


def test_head_and_current_agree_with_alembic(engine):
    scripts = ScriptDirectory.from_config(migrate.alembic_config(engine))
    assert migrate.head() == scripts.get_current_head()
    for revision in [None, *(script.revision for script in reversed(list(scripts.walk_revisions())))]:
        if revision is not None:
            migrate.upgrade(engine, revision)
        with engine.connect() as connection:
            assert migrate.current(connection) == MigrationContext.configure(connection).get_current_revision()
            assert migrate.current(connection) == revision


def test_checking_a_database_at_the_newest_revision_does_not_import_alembic(engine):
    migrate.upgrade(engine)
    check = (
        "import sys; from harvester.storage import migrate; from harvester.storage.database import open_engine; "
        f"migrate.ensure_current(open_engine({str(engine.url)!r})); "
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('alembic', 'mako')))"
    )
    out = subprocess.run([sys.executable, "-c", check], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_database_at_another_revision_is_refused_with_a_hint(engine):
    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("update alembic_version set version_num = 'ffff'"))
    with pytest.raises(DatabaseError, match="does not know"):
        migrate.ensure_current(engine)


def test_tables_without_a_revision_are_not_touched(engine):
    with engine.begin() as connection:
        connection.execute(text("create table items (id integer primary key)"))
    with pytest.raises(DatabaseError, match="harvester db upgrade"):
        migrate.ensure_current(engine, patience=0.5)


def test_an_unreachable_database_is_one_clear_error(tmp_path):
    with pytest.raises(DatabaseError, match="cannot open database"):
        open_engine(f"sqlite:///{tmp_path}/no/such/dir/harvest.db")


def test_0008_drops_the_frontier_url_and_depth_and_downgrading_fills_them_from_the_request(db_url):
    """The request JSON holds the URL and depth: queued requests survive both ways, on SQLite and PostgreSQL."""
    import json

    engine = open_engine(db_url)
    migrate.upgrade(engine, "0007")
    request = {"url": "http://127.0.0.1:1/a?b=1", "depth": 2, "callback": "parse_item"}
    with engine.begin() as connection:
        run_id = connection.execute(
            text(
                "insert into runs (spider, started_at, status, stats) values ('s', '2026-12-01', 'running', '{}') "
                "returning id"
            )
        ).scalar()
        connection.execute(
            text(
                "insert into frontier (run_id, fingerprint, url, host, priority, depth, request, state) "
                "values (:run, 'f1', :url, '127.0.0.1:1', 0, 2, :request, 'queued'), "
                "(:run, 'f2', 'http://127.0.0.1:1/', '127.0.0.1:1', 0, 0, :root, 'done')"
            ),
            {
                "run": run_id,
                "url": request["url"],
                "request": json.dumps(request),
                "root": json.dumps({"url": "http://127.0.0.1:1/"}),
            },
        )
    migrate.upgrade(engine)
    columns = {column["name"] for column in inspect(engine).get_columns("frontier")}
    assert "url" not in columns and "depth" not in columns
    command.check(migrate.alembic_config(engine))
    with engine.connect() as connection:
        stored = connection.execute(text("select request from frontier where fingerprint = 'f1'")).scalar()
    assert (json.loads(stored) if isinstance(stored, str) else stored) == request
    migrate.downgrade(engine, "0007")
    with engine.connect() as connection:
        rows = connection.execute(text("select fingerprint, url, depth from frontier order by fingerprint")).all()
    assert [tuple(row) for row in rows] == [("f1", request["url"], 2), ("f2", "http://127.0.0.1:1/", 0)]
    migrate.downgrade(engine, "base")
    engine.dispose()
