"""The tutorial (docs/tutorial.md) runs as written and prints what the page shows.

The page marks what a reader does: `<!-- tutorial: file PATH -->` before a code block
writes that file, `<!-- tutorial: run -->` before a console block runs its `$ ` commands
in order (each one's output is compared with the lines under it), and
`<!-- tutorial: background NAME -->` starts a server the reader keeps running in another
terminal (its output is compared at the end; `...` stands for lines left out). The test
does the same in a temporary folder, through the real CLI, against the tutorial's site and
an SMTP server on 127.0.0.1. Ports and the reader's folder are swapped for the test's own,
and times, dates and rates are normalized on both sides.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TUTORIAL = REPO / "docs" / "tutorial.md"
PAGE_HOME = "/home/you"  # the reader's folder on the page
PAGE_PORTS = ("8765", "8025")  # the tutorial site's port, the SMTP server's port
BLOCK = re.compile(r"<!-- tutorial: (\w+)(?: ([^\n]*?))? -->\n```(\w*)\n(.*?)```", re.S)


@dataclass
class Step:
    kind: str  # file | run | background
    arg: str
    body: str
    commands: list[tuple[str, list[str]]] = field(default_factory=list)  # (command, output lines)


def steps(text: str) -> list[Step]:
    found = []
    for kind, arg, _lang, body in BLOCK.findall(text):
        step = Step(kind, (arg or "").strip(), body)
        if kind in ("run", "background"):
            for line in body.splitlines():
                if line.startswith("$ "):
                    step.commands.append((line[2:], []))
                else:
                    step.commands[-1][1].append(line)
        found.append(step)
    return found


def normalize(line: str) -> str:
    line = re.sub(r"\(\d+(?:\.\d+)? pages/s\)", "(RATE)", line)
    line = re.sub(r"\b\d+(?:\.\d+)? s\b", "SECONDS", line)
    line = re.sub(r"\d{4}-\d{2}-\d{2}", "DATE", line)
    line = re.sub(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?", "TIME", line)
    line = re.sub(r"-{2,}", "--", line)
    return " ".join(line.split())


def lines_of(text: str) -> list[str]:
    return [normalize(line) for line in text.splitlines() if line.strip()]


def in_order(expected: list[str], actual: list[str]) -> bool:
    """Every expected line appears in `actual`, in order; `...` stands for lines left out."""
    position = 0
    for line in expected:
        if line == "...":
            continue
        while position < len(actual) and actual[position] != line:
            position += 1
        if position == len(actual):
            return False
        position += 1
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "a tutorial server exited at start"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listening on 127.0.0.1:{port}")


def test_the_tutorial_page_marks_its_steps():
    found = steps(TUTORIAL.read_text(encoding="utf-8"))
    kinds = [step.kind for step in found]
    assert kinds.count("background") == 2 and kinds.count("file") >= 3 and kinds.count("run") >= 5
    commands = [command for step in found for command, _ in step.commands]
    for needed in ("harvester startproject quotes", "harvester crawl quotes", "harvester jobs run nightly-quotes"):
        assert needed in commands


def test_the_tutorial_runs_as_written(tmp_path):
    home = tmp_path / "you"
    home.mkdir()
    ports = {page: str(free_port()) for page in PAGE_PORTS}

    def local(text: str) -> str:
        for page, port in ports.items():
            text = text.replace(page, port)
        return text.replace(PAGE_HOME, str(home))

    def command_line(command: str) -> str:
        """The page's command, run by this test's Python (`python` and `harvester` alike)."""
        command = local(command)
        for program, replacement in (("python ", ""), ("harvester ", "-m harvester ")):
            if command.startswith(program):
                return f"{shlex.quote(sys.executable)} {replacement}{command[len(program) :]}"
        return command

    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
        COLUMNS="200",
        TERM="dumb",
    )
    cwd = home
    servers: list[tuple[Step, subprocess.Popen, Path]] = []
    try:
        for step in steps(TUTORIAL.read_text(encoding="utf-8")):
            if step.kind == "file":
                (cwd / step.arg).write_text(local(step.body), encoding="utf-8")
            elif step.kind == "background":
                command = command_line(step.commands[0][0])
                log = tmp_path / f"{step.arg}.log"
                with log.open("wb") as out:
                    process = subprocess.Popen(
                        shlex.split(command), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
                    )
                servers.append((step, process, log))
                wait_for_port(int(re.search(r"(\d+)\s*$", command).group(1)), process)
            else:
                for command, shown in step.commands:
                    command = command_line(command)
                    if command.startswith("cd "):
                        cwd = cwd / command[3:].strip()
                        continue
                    result = subprocess.run(
                        command,
                        shell=True,
                        cwd=cwd,
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        text=True,
                        timeout=120,
                        stdin=subprocess.DEVNULL,
                    )
                    printed = result.stdout
                    assert result.returncode == 0, f"$ {command}\n{printed}"
                    assert lines_of(printed) == lines_of(local("\n".join(shown))), f"$ {command}\n{printed}"
        deadline = time.monotonic() + 10
        for step, _process, log in servers:
            expected = lines_of(local("\n".join(step.commands[0][1])))
            while not in_order(expected, lines_of(log.read_text(errors="replace"))) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert in_order(expected, lines_of(log.read_text(errors="replace"))), log.read_text(errors="replace")
    finally:
        for _step, process, _log in servers:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
