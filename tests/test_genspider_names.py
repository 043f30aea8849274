"""`harvester genspider`: a name that is too long or not an identifier is one line and exit 2, never a traceback."""

from __future__ import annotations

import pytest
from conftest import Project


@pytest.mark.parametrize(
    "name",
    ["s" * 300, "s" * 65, "a/b", "../x", "a b", "naïve", "", "x.y"],
    ids=["300 characters", "65 characters", "slash", "dot-dot", "space", "non-ASCII", "empty", "dot"],
)
def test_a_bad_spider_name_is_one_line_and_exit_2(project: Project, name: str):
    result = project.run("genspider", name, "example.com")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harvester: error: bad spider name")
    assert len(lines[0]) < 200
    assert sorted(p.name for p in (project.root / "spiders").iterdir()) == ["__init__.py"]


def test_a_name_of_64_characters_is_fine(project: Project):
    name = "s" * 64
    result = project.run("genspider", name, "example.com")
    assert result.returncode == 0, result.stderr
    assert (project.root / "spiders" / f"{name}.py").exists()
    assert project.run("list").stdout.split() == [name]
