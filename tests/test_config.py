"""harvester.toml loading: defaults, the documented file, validation, overrides, secrets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from harvester import config
from harvester.exceptions import ConfigError

FULL_CONFIG = """
[project]
spiders = ["spiders"]
pipelines = ["validate", "store"]

[storage]
url = "sqlite:///harvest.db"
password_env = "HARVEST_DB_PASSWORD"

[crawl]
depth_limit = 0
max_pages = 0

[fetch]
concurrency = 64
per_host = 8
delay = 0.0
timeout = 30
retries = 3
max_size = "256MB"
user_agent = "harvester (+https://example.invalid/bot)"
obey_robots = true

[auth."intranet.example.org"]
username = "alice"
password_env = "INTRANET_PASSWORD"
scheme = "digest"

[email]
host = "localhost"
port = 25
security = "starttls"
username = "bot"
password_env = "SMTP_PASSWORD"
ca_file = "/etc/ssl/private-ca.pem"
sender = "harvester@example.org"
to = ["data-team@example.org"]

[jobs.nightly-books]
spider = "books"
schedule = "0 3 * * *"
args = { category = "fiction" }
report = true
"""


def write_config(directory: Path, text: str) -> Path:
    path = directory / "harvester.toml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_defaults_apply_when_the_project_has_no_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = config.load(env={})
    assert settings.project.spiders == ("spiders",)
    assert settings.storage.url == "sqlite:///harvest.db"
    assert settings.fetch.concurrency == 64
    assert settings.fetch.per_host == 8
    assert settings.fetch.retries == 3
    assert settings.fetch.max_size == 256 * 1024**2
    assert settings.fetch.obey_robots is True
    assert settings.crawl.depth_limit == 0
    assert settings.auth == {}
    assert settings.jobs == {}


def test_a_named_config_file_that_does_not_exist_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        config.load(tmp_path / "missing.toml", env={})


def test_the_documented_full_config_loads(tmp_path: Path) -> None:
    settings = config.load(write_config(tmp_path, FULL_CONFIG), env={})

    assert settings.project.pipelines == ("validate", "store")
    assert settings.storage.password_env == "HARVEST_DB_PASSWORD"
    assert settings.fetch.timeout == 30.0
    assert settings.fetch.max_size == 256 * 1024**2
    assert settings.fetch.user_agent == "harvester (+https://example.invalid/bot)"

    auth = settings.auth["https://intranet.example.org"]
    assert auth.username == "alice"
    assert auth.password_env == "INTRANET_PASSWORD"
    assert auth.scheme == "digest"

    email = settings.email
    assert (email.host, email.port, email.security) == ("localhost", 25, "starttls")
    assert email.username == "bot"
    assert email.ca_file == "/etc/ssl/private-ca.pem"
    assert email.sender == "harvester@example.org"
    assert list(email.to) == ["data-team@example.org"]

    job = settings.jobs["nightly-books"]
    assert job.spider == "books"
    assert job.schedule == "0 3 * * *"
    assert dict(job.args) == {"category": "fiction"}
    assert job.report is True


def test_an_unknown_section_is_rejected_naming_it(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[fetcher]\nconcurrency = 4\n")
    with pytest.raises(ConfigError, match="fetcher"):
        config.load(path, env={})


def test_an_unknown_key_is_rejected_naming_it(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[fetch]\nconcurency = 4\n")
    with pytest.raises(ConfigError, match="concurency"):
        config.load(path, env={})


def test_an_unknown_key_in_a_job_or_auth_table_is_rejected_naming_it(tmp_path: Path) -> None:
    job = write_config(tmp_path, '[jobs.nightly]\nspider = "books"\nshedule = "0 3 * * *"\n')
    with pytest.raises(ConfigError, match="shedule"):
        config.load(job, env={})
    auth = write_config(tmp_path, '[auth."intranet.example.org"]\nusername = "a"\npasword = "x"\n')
    with pytest.raises(ConfigError, match="pasword"):
        config.load(auth, env={})


@pytest.mark.parametrize(
    ("written", "size"),
    [
        ('"256MB"', 256 * 1024**2),
        ('"10KB"', 10 * 1024),
        ('"1GB"', 1024**3),
        ("5000", 5000),
        ('"512B"', 512),
    ],
)
def test_sizes_are_powers_of_1024(tmp_path: Path, written: str, size: int) -> None:
    settings = config.load(write_config(tmp_path, f"[fetch]\nmax_size = {written}\n"), env={})
    assert settings.fetch.max_size == size


def test_a_size_with_an_unknown_unit_names_the_key(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[fetch]\nmax_size = "12XB"\n')
    with pytest.raises(ConfigError, match="max_size"):
        config.load(path, env={})


def test_a_value_of_the_wrong_type_names_the_key(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[fetch]\nconcurrency = "many"\n')
    with pytest.raises(ConfigError, match="concurrency"):
        config.load(path, env={})


def test_overrides_set_numbers_bare_words_and_quoted_strings(tmp_path: Path) -> None:
    path = write_config(tmp_path, FULL_CONFIG)
    settings = config.load(
        path,
        overrides=["fetch.concurrency=4", "fetch.user_agent=bot", 'storage.url="sqlite:///x.db"'],
        env={},
    )
    assert settings.fetch.concurrency == 4
    assert settings.fetch.user_agent == "bot"
    assert settings.storage.url == "sqlite:///x.db"
    assert settings.fetch.per_host == 8  # untouched keys keep the file's values


def test_overrides_apply_without_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = config.load(overrides=["fetch.obey_robots=false", "fetch.max_size=10KB"], env={})
    assert settings.fetch.obey_robots is False
    assert settings.fetch.max_size == 10 * 1024


def test_an_override_of_an_unknown_key_or_a_malformed_override_is_rejected(tmp_path: Path) -> None:
    path = write_config(tmp_path, FULL_CONFIG)
    with pytest.raises(ConfigError, match="turbo"):
        config.load(path, overrides=["fetch.turbo=1"], env={})
    with pytest.raises(ConfigError, match="concurrency"):
        config.load(path, overrides=["fetch.concurrency=many"], env={})
    with pytest.raises(ConfigError):
        config.load(path, overrides=["concurrency=4"], env={})


def test_password_env_fills_the_database_password_from_the_environment(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        [storage]
        url = "postgresql+psycopg://harvest@db.example:5432/harvest"
        password_env = "HARVEST_DB_PASSWORD"
        """,
    )
    secret = "s3cr@t/pass"
    settings = config.load(path, env={"HARVEST_DB_PASSWORD": secret})

    url = make_url(settings.database_url())
    assert url.password == secret
    assert (url.username, url.host, url.port) == ("harvest", "db.example", 5432)
    assert url.database == "harvest"
    assert secret not in path.read_text()
    assert secret not in settings.storage.url
    assert secret not in repr(settings)


def test_database_url_has_no_password_when_the_variable_is_unset(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        [storage]
        url = "postgresql+psycopg://harvest@db.example/harvest"
        password_env = "HARVEST_DB_PASSWORD"
        """,
    )
    settings = config.load(path, env={})
    assert make_url(settings.database_url()).password is None


def test_a_relative_sqlite_path_resolves_against_the_config_files_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    path = write_config(project, '[storage]\nurl = "sqlite:///data/harvest.db"\n')
    monkeypatch.chdir(elsewhere)

    settings = config.load(path, env={})

    database = make_url(settings.database_url()).database
    assert Path(database) == project.resolve() / "data" / "harvest.db"


def test_an_absolute_sqlite_path_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "abs.db"
    path = write_config(tmp_path, f'[storage]\nurl = "sqlite:///{target}"\n')
    settings = config.load(path, env={})
    assert Path(make_url(settings.database_url()).database) == target
