"""`harvester query` reads safely: read-only database, writes refused unless --write, --limit,
CSV headers on empty results, and the README's examples on the bundled example crawl."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, Project, Site
from test_cli import add_spider, ok, one_line_error, serve_three_pages

pytest_plugins = ["pg"]

WRITES = [
    "delete from items",
    "update items set spider = 'x'",
    "insert into runs (spider, status, started_at) values ('x', 'running', '2026-01-01')",
    "drop table items",
    "create table mine (x integer)",
    "create temp table mine (x integer)",
    "pragma user_version = 7",
    "attach 'other.db' as other",
    "vacuum into 'copy.db'",
]


@pytest.fixture
def crawled(project: Project, site: Site) -> Project:
    serve_three_pages(site)
    add_spider(project, site)
    ok(project.run("crawl", "pages"))
    return project


def files(root: Path) -> set[str]:
    return {path.name for path in root.iterdir()}


@pytest.mark.parametrize("sql", WRITES)
def test_a_statement_that_writes_is_refused_in_one_line(crawled: Project, sql: str) -> None:
    before = files(crawled.root)
    result = crawled.run("query", sql)
    assert result.returncode == 2
    assert "--write" in one_line_error(result)
    assert crawled.sql("select count(*) from items") == [(3,)]
    assert crawled.sql("select count(*) from runs") == [(1,)]
    assert crawled.sql("pragma user_version") == [(0,)]
    assert files(crawled.root) - before <= {"harvest.db-wal", "harvest.db-shm"}  # no attached or vacuumed copy


def test_with_write_the_statement_changes_the_database(crawled: Project) -> None:
    ok(crawled.run("query", "--write", "delete from items where id = 1"))
    assert crawled.sql("select count(*) from items") == [(2,)]


def test_reading_still_works_with_every_format(crawled: Project) -> None:
    out = ok(crawled.run("query", "select count(*) as n from items", "--format", "csv"))
    assert out.splitlines() == ["n", "3"]


def run_read_only(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`harvester ARGS` in `root`, a folder nobody may write: a read-only bind mount of it when
    the tests run as root (who ignores file modes), else the folder and its files made 0555/0444."""
    command = [sys.executable, "-m", "harvester", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if os.geteuid() != 0:
        for path in root.iterdir():
            path.chmod(0o444 if path.is_file() else 0o555)
        root.chmod(0o555)
        try:
            return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120, env=env)
        finally:
            root.chmod(0o755)
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to make a read-only folder as root")
    script = f"mount --bind -o ro {shlex.quote(str(root))} {shlex.quote(str(root))} && exec {shlex.join(command)}"
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], cwd=root, capture_output=True, text=True, timeout=120, env=env
    )
    if "mount:" in result.stderr or "unshare:" in result.stderr:
        pytest.skip(f"cannot make a read-only mount here: {result.stderr.strip()}")
    return result


def test_a_database_in_a_read_only_folder_can_be_queried(crawled: Project) -> None:
    db = crawled.root / "harvest.db"
    db.chmod(0o444)
    assert not (crawled.root / "harvest.db-shm").exists()  # the crawl closed it: SQLite must make one to read
    assert db.read_bytes()[18:20] == b"\x02\x02"  # WAL mode
    out = run_read_only(crawled.root, "query", "select count(*) as n from items", "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["n", "3"]
    items = run_read_only(crawled.root, "query", "--spider", "pages", "--format", "jsonl")
    assert len(items.stdout.splitlines()) == 3, items.stderr
    refused = run_read_only(crawled.root, "query", "delete from items")
    assert refused.returncode == 2 and "--write" in one_line_error(refused)
    assert crawled.sql("select count(*) from items") == [(3,)]


def test_a_read_only_folder_whose_wal_holds_changes_is_refused_in_one_line(crawled: Project) -> None:
    db = crawled.root / "harvest.db"
    writer = (
        "import os, sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('pragma wal_autocheckpoint=0'); "
        "c.execute(\"update items set spider = 'later'\"); c.commit(); os._exit(0)"
    )  # dies, WAL kept
    subprocess.run([sys.executable, "-c", writer, str(db)], check=True, timeout=60)
    assert (crawled.root / "harvest.db-wal").stat().st_size > 0
    (crawled.root / "harvest.db-shm").unlink()  # as after a copy or a reboot: SQLite would rebuild it
    result = run_read_only(crawled.root, "query", "select count(*) from items")
    assert result.returncode == 2
    assert "harvest.db-wal" in one_line_error(result)
    assert crawled.sql("select distinct spider from items") == [("later",)]  # nothing was lost (writable again)


def test_the_python_api_reads_only_unless_asked_to_write(crawled: Project) -> None:
    script = f"""
from harvester.exceptions import QueryError
from harvester.query import open_database, run_sql
db = open_database({crawled.db_url!r})
try:
    run_sql(db, "delete from items")
except QueryError as exc:
    print("refused:", exc)
writer = open_database({crawled.db_url!r}, write=True)
run_sql(writer, "delete from items where id = 1")
print(list(run_sql(db, "select count(*) as n from items")[1]))
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].startswith("refused:")
    assert out.stdout.splitlines()[1] == "[{'n': 2}]"


def test_a_sqlite_uri_given_to_the_python_api_is_read_only_too(crawled: Project) -> None:
    url = f"sqlite:///file:{crawled.root / 'harvest.db'}?uri=true"
    script = f"""
from harvester.exceptions import QueryError
from harvester.query import open_database, run_sql
db = open_database({url!r})
for sql in ("delete from items", "attach 'other.db' as other"):
    try:
        run_sql(db, sql)
    except QueryError as exc:
        print("refused:", exc)
print(list(run_sql(db, "select count(*) as n from items")[1]))
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=crawled.root,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line.startswith("refused:") for line in lines[:2]] == [True, True], lines
    assert lines[2] == "[{'n': 3}]"
    assert not (crawled.root / "other.db").exists()


def test_a_read_only_file_can_be_queried(crawled: Project) -> None:
    (crawled.root / "harvest.db").chmod(0o444)
    assert ok(crawled.run("query", "select count(*) as n from items", "--format", "csv")).splitlines() == ["n", "3"]


def test_limit_for_sql_and_filters(crawled: Project) -> None:
    out = ok(crawled.run("query", "select id from items order by id", "--format", "csv", "--limit", "2"))
    assert out.splitlines() == ["id", "1", "2"]
    out = ok(crawled.run("query", "--spider", "pages", "--format", "jsonl", "--limit", "1"))
    assert len(out.splitlines()) == 1
    assert ok(crawled.run("query", "--spider", "pages", "--format", "jsonl", "--limit", "0")) == ""
    result = crawled.run("query", "select 1", "--limit", "many")
    assert result.returncode == 2 and "many" in result.stderr


def test_an_empty_csv_result_prints_its_header(crawled: Project) -> None:
    out = ok(crawled.run("query", "select id, url from items where id < 0", "--format", "csv"))
    assert out.splitlines() == ["id,url"]
    out = ok(crawled.run("query", "--spider", "nobody", "--format", "csv"))
    assert out.splitlines() == ["id,run_id,spider,url,created_at"]


# --- the README's examples on the bundled example --------------------------------------------------


def readme_query_examples() -> list[list[str]]:
    """Every `harvester query ...` line of the sh blocks of the README and of the manual it leads to."""
    text = (REPO / "README.md").read_text() + (REPO / "docs" / "guides" / "manual.md").read_text()
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith("harvester query"):
                commands.append(shlex.split(line)[1:])
    return commands


def test_the_readme_query_examples_return_rows_after_the_main_job(tmp_path: Path) -> None:
    for name in ("harvester.toml", "spiders", "examples"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    crawl = subprocess.run(
        [sys.executable, "examples/run.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env
    )
    assert crawl.returncode == 0, crawl.stderr
    examples = readme_query_examples()
    assert any("--where" in args for args in examples), examples
    for args in examples:  # as written, the way a user copies them
        result = subprocess.run(
            [sys.executable, "-m", "harvester", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert result.returncode == 0, (args, result.stderr)
        lines = result.stdout.strip().splitlines()
        if "csv" in args:
            assert len(lines) >= 2, (args, result.stdout)
        else:
            assert re.fullmatch(r"\(\d+ rows?\)", lines[-1]) and lines[-1] != "(0 rows)", (args, result.stdout)


# --- PostgreSQL -----------------------------------------------------------------------------------


def test_postgresql_reads_in_a_read_only_transaction(pg_url: str, tmp_path: Path) -> None:
    def query(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "harvester", "query", "--db", pg_url, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )

    ok(query("--write", "create table notes (x integer)"))
    ok(query("--write", "insert into notes values (1)"))
    for sql in (
        "insert into notes values (2)",
        "delete from notes",
        "drop table notes",
        "set transaction read write; delete from notes",
        "commit; delete from notes",
    ):
        result = query(sql)
        assert result.returncode == 2, (sql, result.stdout)
        one_line_error(result)
    assert ok(query("select count(*) as n from notes", "--format", "csv")).splitlines() == ["n", "1"]
    assert "--write" in one_line_error(query("delete from notes"))
