"""A private, throwaway PostgreSQL cluster for the storage tests, and a `db_url` on both databases.

The cluster is made once per session with `initdb` in a temporary directory
(as the `postgres` system user when the tests run as root, since PostgreSQL
refuses to run as root), started with `pg_ctl` on a free loopback port with
its unix socket in that directory, and stopped at the end of the session.
Logins over TCP need a password (scram-sha-256), so `password_env` is
exercised for real. Each test gets a database of its own.

Test modules use it as a plugin:

    pytest_plugins = ["pg"]

Where PostgreSQL is not installed the PostgreSQL cases fail (never skip, so a
missing server cannot pass for a passing suite): `scripts/test` installs it
from apt, as CI does.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSWORD = "harvest-secret"


@dataclass
class Postgres:
    """A running cluster: `url(db)` is a SQLAlchemy URL for one of its databases."""

    port: int
    root: Path
    password: str = PASSWORD

    def url(self, database: str = "postgres", password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql+psycopg://postgres{secret}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; its name."""
        import psycopg

        name = "h_" + uuid.uuid4().hex[:12]
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", password=PASSWORD, dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'create database "{name}"')
        return name


def _binary(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version)
    return found[-1] if found else shutil.which(name)


def _version(path: str) -> float:
    try:
        return float(Path(path).parent.parent.name)
    except ValueError:
        return 0.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.fail("PostgreSQL is not installed: scripts/test installs it with apt (initdb and pg_ctl)")
    as_root = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="harvester-pg-", dir="/tmp" if as_root else None))  # postgres can reach it
    if as_root:
        shutil.chown(root, "postgres", "postgres")
    data, log = root / "data", root / "server.log"
    (root / "pw").write_text(PASSWORD + "\n")
    if as_root:
        shutil.chown(root / "pw", "postgres", "postgres")
    subprocess.run(
        _as_postgres(
            [
                initdb,
                "-D",
                str(data),
                "-U",
                "postgres",
                "--pwfile",
                str(root / "pw"),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    port = _free_port()
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        _as_postgres([pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
        check=True,
        capture_output=True,
    )
    try:
        yield Postgres(port, root)
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(postgres: Postgres) -> str:
    """A new empty PostgreSQL database for one test, its password in the URL."""
    return postgres.url(postgres.create_database())


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty harvest database for one test, on SQLite and again on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'harvest.db'}"
    return request.getfixturevalue("pg_url")
