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
