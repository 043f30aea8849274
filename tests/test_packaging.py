"""Packaging that cannot collide: built-in pipelines and migrations inside the harvester namespace.

What an install holds is what setuptools' `build_py` lays out from pyproject.toml (the wheel's
contents): `harvester/pipelines/` and `harvester/migrations/`, and no top-level `pipelines` or
`migrations`. A project may then have its own top-level `pipelines.py`, as Scrapy's layout has.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import FAST_CONFIG, REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_every_folder_of_harvester_with_code_or_templates_is_a_listed_package() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    folders = {
        ".".join(folder.relative_to(REPO).parts)
        for folder in (REPO / "harvester").rglob("*")
        if folder.is_dir()
        and folder.name != "__pycache__"
        and any(f.suffix in (".py", ".tmpl") for f in folder.iterdir())
    }
    assert folders - listed == set()
    assert {"harvester", "harvester.pipelines", "harvester.migrations", "harvester.migrations.versions"} <= listed
    assert not any(name.split(".")[0] != "harvester" for name in listed)


def test_the_distribution_name_is_not_the_taken_one_but_the_command_stays_harvester() -> None:
    assert PYPROJECT["project"]["name"] == "harvester-crawler"
    assert PYPROJECT["project"]["scripts"] == {"harvester": "harvester.cli.main:main"}


def test_an_install_lays_out_pipelines_and_migrations_inside_harvester_only(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("harvester", "pipelines", "migrations"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    built = tmp_path / "built"
    subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py", "--build-lib", str(built)],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert sorted(p.name for p in built.iterdir()) == ["harvester"]  # no top-level pipelines/, migrations/
    for name in (
        "pipelines/store.py",
        "pipelines/validate.py",
        "pipelines/dedupe.py",
        "pipelines/export.py",
        "pipelines/email_report.py",
        "migrations/env.py",
        "migrations/script.py.mako",
        "migrations/versions/0001_initial.py",
        "templates/project/harvester.toml.tmpl",
        "py.typed",
    ):
        assert (built / "harvester" / name).is_file(), name

    # The laid-out package works on its own: pipelines load by short name, migrations upgrade a database.
    check = (
        "import harvester, harvester.pipelines.store as store, harvester.migrations as m; "
        "from harvester.pipeline import load_pipeline; "
        "from harvester.storage.database import open_engine; from harvester.storage.migrate import ensure_current, head; "
        "engine = open_engine('sqlite:///' + __import__('sys').argv[1]); ensure_current(engine); "
        "print(store.__file__.startswith(__import__('sys').argv[2]), m.__file__.startswith(__import__('sys').argv[2]), "
        "load_pipeline('store') is store.StorePipeline, head())"
    )
    result = subprocess.run(
        [sys.executable, "-c", check, str(tmp_path / "h.db"), str(built)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(built)},
    )
    assert result.returncode == 0, result.stderr
    newest = sorted(p.name[:4] for p in (REPO / "migrations" / "versions").glob("0*.py"))[-1]
    assert result.stdout.split() == ["True", "True", "True", newest]


def test_from_a_checkout_the_same_names_import_from_the_repository_folders(tmp_path: Path) -> None:
    check = "import harvester.pipelines.store as s, harvester.migrations as m; print(s.__file__); print(m.__file__)"
    result = subprocess.run(
        [sys.executable, "-c", check],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    assert result.stdout.splitlines() == [
        str(REPO / "pipelines" / "store.py"),
        str(REPO / "migrations" / "__init__.py"),
    ]


OWN_PIPELINES = '''
"""The project's own pipelines, in a top-level pipelines.py as Scrapy lays a project out."""

from harvester import DropItem, HarvesterError, RunContext


class Shout:
    def process_item(self, item, run: RunContext):
        if item["page"] == "skip":
            raise DropItem("not wanted")
        return {**item, "page": item["page"].upper(), "spider": run.spider_name}


class Census:
    def close(self, run: RunContext):
        rows = run.query("select count(*) as n from items where run_id = :id", {"id": run.id})
        try:
            run.query("delete from items")
            refused = "no"
        except HarvesterError as exc:
            refused = type(exc).__name__
        with open("census.txt", "w") as out:
            out.write(f"{rows[0]['n']} {refused}")

    def process_item(self, item, run):
        return None
'''


def test_a_project_s_own_pipelines_py_runs_through_the_cli(project, site) -> None:
    from conftest import follow_spider

    site.page("/", '<a href="/p/one">1</a> <a href="/p/two">2</a> <a href="/p/skip">3</a>')
    for name in ("one", "two", "skip"):
        site.page(f"/p/{name}", "page")
    project.spider("follow", follow_spider("follow"))
    project.write("pipelines.py", OWN_PIPELINES)
    project.write(
        "harvester.toml",
        FAST_CONFIG.replace('pipelines = ["store"]', 'pipelines = ["pipelines.Shout", "store", "pipelines.Census"]'),
    )
    result = project.run("crawl", "follow", "-a", f"base={site.url}")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    stored = sorted(project.sql("select json_extract(data, '$.page'), json_extract(data, '$.spider') from items"))
    assert stored == [("ONE", "follow"), ("TWO", "follow")]
    assert (project.root / "census.txt").read_text() == "2 QueryError"  # the delete was refused
    assert project.sql("select count(*) from items") == [(2,)]


def test_the_old_name_of_a_built_in_still_loads_with_a_warning_naming_the_short_one(project, site) -> None:
    from conftest import follow_spider

    site.page("/", '<a href="/p/one">1</a>')
    site.page("/p/one", "page")
    project.spider("follow", follow_spider("follow"))
    project.write("harvester.toml", FAST_CONFIG.replace('pipelines = ["store"]', 'pipelines = ["pipelines.store"]'))
    result = project.run("crawl", "follow", "-a", f"base={site.url}")
    assert result.returncode == 0, result.stderr
    assert "pipeline 'pipelines.store' is an old name: write 'store'" in result.stderr
    assert project.sql("select json_extract(data, '$.page') from items") == [("one",)]


def test_an_unknown_pipeline_name_is_one_line(project, site) -> None:
    from conftest import follow_spider

    project.spider("follow", follow_spider("follow"))
    project.write("harvester.toml", FAST_CONFIG.replace('pipelines = ["store"]', 'pipelines = ["stor"]'))
    result = project.run("crawl", "follow", "-a", f"base={site.url}")
    assert result.returncode == 2, result.stderr
    assert "no pipeline 'stor': the built-ins are validate, dedupe, store, export, email_report" in result.stderr
    assert "Traceback" not in result.stderr
