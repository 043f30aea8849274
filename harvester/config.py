"""harvester.toml -> typed, frozen settings: the first step of the data path.

The file is read once with `tomllib`, every key is checked against the
dataclasses below (an unknown section or key is an error naming it), then
`-s section.key=value` overrides are applied. Secrets never live in the file:
a `password_env` key names the environment variable that holds them, and the
environment is passed in as an argument.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harvester.credentials import auth_origin, split_userinfo
from harvester.exceptions import ConfigError
from harvester.scrapy_settings import harvester_key

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


class Size(int):
    """A byte count written as 256MB, 10KB, 1GB (powers of 1024) or a plain number."""


def parse_size(value: object) -> Size:
    """`value` (an int, or text such as `"256MB"`) as a byte count; `ValueError` if it is not one."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        return Size(value)
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"not a size: {value!r} (use B, KB, MB or GB)")
    number, unit = match.groups()
    return Size(int(float(number) * _UNITS[(unit or "B").upper()]))


@dataclass(frozen=True)
class ProjectSettings:
    """`[project]`: what the project is made of.

    Attributes:
        spiders: Modules or packages scanned for Spider classes (`harvester list` shows what they hold).
        pipelines: Item pipelines, run in this order: the built-ins by short name (`validate`,
            `dedupe`, `store`, `export`, `email_report`), a project's own by dotted path
            (`myproject.pipelines.Clean`, or `pipelines.Clean` for a top-level `pipelines.py`).
        middlewares: The project's fetch middlewares, in order, each by dotted path (`mymodule.AddHeader`);
            a class is constructed with the settings. They run after retries, before the per-host throttle.
        subscribers: A project's run-event subscribers, each by dotted path: a class with a
            `subscribe(events)` method, or such a function (`harvester.events`).
    """

    spiders: tuple[str, ...] = ("spiders",)
    pipelines: tuple[str, ...] = ("store",)
    middlewares: tuple[str, ...] = ()  # fetch middlewares by dotted path, in order (harvester.middleware)
    subscribers: tuple[str, ...] = ()


@dataclass(frozen=True)
class StorageSettings:
    """`[storage]`: the harvest database.

    Attributes:
        url: SQLAlchemy URL of the harvest database. A relative SQLite path is relative to the folder
            holding harvester.toml; `postgresql+psycopg://user@host/db` to share a crawl between workers.
        password_env: The environment variable holding the database password (never written in `url`).
    """

    url: str = "sqlite:///harvest.db"
    password_env: str = ""
    patience: float = 60.0  # seconds a locked, full or lost database is retried before the run fails


@dataclass(frozen=True)
class CrawlSettings:
    """`[crawl]`: how far a run goes.

    Attributes:
        depth_limit: Links followed from a start URL at most this deep; 0: no limit.
        max_pages: Pages fetched in a run at most; 0: no limit.
        lease: Seconds a worker holds a claimed request before another worker may take it over.
    """

    depth_limit: int = 0
    max_pages: int = 0  # the run closes after this many pages (0: no limit); each is one `pages` row
    max_items: int = 0  # ... after this many items passed the pipelines
    max_errors: int = 0  # ... after this many `errors` rows
    max_seconds: float = 0.0  # ... after this long (the whole run, across resumes)
    lease: float = 60.0


@dataclass(frozen=True)
class FetchSettings:
    """`[fetch]`: how pages are fetched, politely and within bounds.

    Attributes:
        concurrency: Requests in flight at once.
        per_host: Requests in flight to one host at once (across all workers on PostgreSQL).
        delay: Seconds between the starts of two requests to one host.
        adaptive_delay: Space requests to a host by its observed latency (on top of `delay`).
        timeout: Seconds for a whole fetch, body included.
        retries: Retries of connection errors, timeouts, 408, 429, 500, 502, 503 and 504, with backoff.
        backoff: Seconds before the first retry; doubled for each next one.
        retry_after_cap: The longest `Retry-After` (seconds) honoured on a 429 or 503.
        max_crawl_delay: The longest robots.txt `Crawl-delay` (seconds) honoured.
        max_size: Bound of each buffered body and each decoded body; a larger one is refused and
            recorded as `too_large`.
        feed_max_size: Bound of a streamed feed or sitemap (they are not buffered); 0: none.
        user_agent: The `User-Agent` header, and the name matched in robots.txt.
        obey_robots: Fetch and obey each host's robots.txt (RFC 9309).
        revalidate: Keep validators and a compressed copy of pages, and ask again with
            `If-None-Match` / `If-Modified-Since` on later runs.
        pools: httpx connection pools; 0: one per request in flight, up to 64.
        proxies: A proxy URL per scheme, such as `{ http = "http://127.0.0.1:3128" }`.
        proxy_username: The proxy login; sent to the proxy only.
        proxy_password_env: The environment variable holding the proxy password.
        proxy_list: Proxies the `harvester.middlewares.RotatingProxy` middleware takes in turn
            (`http://[user:password@]host:port`); the login goes to that proxy only.
        proxy_rest: Seconds a proxy that refused a connection or timed out is left out of the rotation.
        ca_file: An extra CA bundle to trust, such as a private CA.
        insecure_hosts: Hosts whose TLS certificates are not verified.
        resolve: Host name to IP address to connect to, as `curl --resolve`; the name stays in the
            URL, the Host header, TLS SNI and the certificate check.
    """

    concurrency: int = 64
    per_host: int = 8
    delay: float = 0.0
    adaptive_delay: bool = False  # space requests to a host by its observed latency
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5  # seconds before the first retry, doubling after
    retry_after_cap: float = 60.0
    max_crawl_delay: float = 30.0
    max_size: Size = Size(256 * 1024**2)
    feed_max_size: Size = Size(0)
    feed_timeout: float = 0.0  # seconds a streamed feed may take in all (0: no limit); each read has `timeout`
    field_size: Size = Size(128 * 1024)  # longest CSV field: the csv module's field_size_limit
    memory_budget: Size = Size(1024**3)  # buffered bodies of all requests in flight together
    user_agent: str = "harvester (+https://example.invalid/bot)"
    obey_robots: bool = True
    revalidate: bool = True  # keep validators and a compressed copy of pages, re-fetch conditionally
    pools: int = 0  # httpx connection pools; 0: one per request in flight, up to 64
    proxies: Mapping[str, str] = field(default_factory=dict)  # scheme -> proxy URL
    proxy_username: str = ""
    proxy_password_env: str = ""
    proxy_list: tuple[str, ...] = ()  # proxies RotatingProxy takes in turn, http://[user:password@]host:port
    proxy_rest: float = 60.0  # seconds a failing proxy is left out of the rotation
    ca_file: str = ""  # an extra CA bundle to trust
    insecure_hosts: tuple[str, ...] = ()  # hosts whose TLS certificates are not verified
    resolve: Mapping[str, str] = field(default_factory=dict)  # host -> IP address to connect to (curl --resolve)


@dataclass(frozen=True)
class AuthSettings:
    """`[auth."ORIGIN"]`: a login sent to exactly one origin (`scheme://host[:port]`).

    Attributes:
        username: The login name.
        password_env: The environment variable holding the password.
        scheme: `basic` or `digest` for http(s); for `ftp://` origins the FTP login.
    """

    username: str = ""
    password_env: str = ""
    scheme: str = "basic"


@dataclass(frozen=True)
class EmailSettings:
    """`[email]`: the SMTP server the report pipeline sends through.

    Attributes:
        host: The SMTP server's host.
        port: The SMTP server's port.
        security: `none`, `starttls` or `tls`.
        username: The SMTP login, only over `starttls` or `tls`; empty: no login.
        password_env: The environment variable holding the SMTP password.
        ca_file: An extra CA to trust for the SMTP server's certificate.
        sender: The `From` address.
        to: The recipients.
        attach_csv: Attach the run's new and changed items as a CSV file.
        timeout: Seconds for each SMTP step; a report that cannot be sent is recorded as an error.
    """

    host: str = "localhost"
    port: int = 25
    security: str = "none"
    username: str = ""
    password_env: str = ""
    ca_file: str = ""
    sender: str = ""
    to: tuple[str, ...] = ()
    attach_csv: bool = False  # the run's new and changed items as a CSV attachment
    timeout: float = 30.0  # seconds for each SMTP step; a report that cannot be sent is recorded


@dataclass(frozen=True)
class JobSettings:
    """`[jobs.NAME]`: a spider run on a schedule by `harvester jobs serve`.

    Attributes:
        spider: The spider's name (required).
        schedule: A cron expression: five fields, or six with seconds last.
        tz: The time zone of the schedule (such as `Europe/Paris`); empty: local time.
        args: Spider attributes, as `-a key=value`.
        settings: Setting overrides for the job's runs, as `-s`: `{ "fetch.delay" = 1.0 }`.
        report: Email a report after each run, even when `email_report` is not in the pipelines.
    """

    spider: str = ""
    schedule: str = ""
    tz: str = ""
    args: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    report: bool = False


@dataclass(frozen=True)
class Settings:
    """The whole configuration: one frozen object per section, built once by `load()`.

    Attributes:
        auth: Logins keyed by the origin they are sent to.
        jobs: Scheduled jobs by name.
        root: The folder holding harvester.toml.
        env: The environment `*_env` keys are read from.
        pinned: The `section.key`s set by `-s` or a job's settings: a spider's `custom_settings`
            leave them as they are.
    """

    project: ProjectSettings = ProjectSettings()
    storage: StorageSettings = StorageSettings()
    crawl: CrawlSettings = CrawlSettings()
    fetch: FetchSettings = FetchSettings()
    email: EmailSettings = EmailSettings()
    auth: Mapping[str, AuthSettings] = field(default_factory=dict)  # keyed by origin, scheme://host[:port]
    jobs: Mapping[str, JobSettings] = field(default_factory=dict)
    root: Path = Path(".")  # the directory holding harvester.toml
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    pinned: frozenset[str] = field(default=frozenset(), repr=False)

    def secret(self, variable: str) -> str | None:
        """The value of the environment variable a `*_env` key names."""
        return self.env.get(variable) if variable else None

    def database_url(self) -> str:
        """The storage URL, with the password from `password_env` filled in."""
        from sqlalchemy.engine import make_url

        url = make_url(self.storage.url)
        password = self.secret(self.storage.password_env)
        if password:
            url = url.set(password=password)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            path = Path(url.database)
            if not path.is_absolute():
                url = url.set(database=str(self.root / path))
        return url.render_as_string(hide_password=False)


# harvester.toml's sections, in the order the reference shows them: those of one table of keys,
# then those of a table per key (`[auth."ORIGIN"]`, `[jobs.NAME]`) with what their key names.
SECTIONS: Mapping[str, type] = types.MappingProxyType(
    {
        "project": ProjectSettings,
        "storage": StorageSettings,
        "crawl": CrawlSettings,
        "fetch": FetchSettings,
        "email": EmailSettings,
    }
)
KEYED_SECTIONS: Mapping[str, tuple[type, str]] = types.MappingProxyType(
    {
        "auth": (AuthSettings, '"ORIGIN"'),
        "jobs": (JobSettings, "NAME"),
    }
)


def load(
    path: Path | str | None = None,
    overrides: list[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Read `path` (default ./harvester.toml), apply `section.key=value` overrides."""
    env = dict(os.environ if env is None else env)
    if path is None:
        path = Path("harvester.toml")
        data: dict[str, Any] = _read(path) if path.exists() else {}
    else:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file not found: {path}")
        data = _read(path)
    for override in overrides or []:
        _apply_override(data, override)
    settings = build(data, root=path.resolve().parent, env=env)
    pinned = frozenset(override.partition("=")[0].strip() for override in overrides or [])
    return dataclasses.replace(settings, pinned=pinned) if pinned else settings


def build(data: Mapping[str, Any], root: Path = Path("."), env: Mapping[str, str] | None = None) -> Settings:
    """Settings from parsed TOML `data`: every section and key checked, `ConfigError` naming a bad one."""
    for section in data:
        if section not in SECTIONS and section not in KEYED_SECTIONS:
            raise ConfigError(f"unknown section [{section}] in harvester.toml")
    values: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        values[name] = _section(cls, data.get(name, {}), name)
    values["auth"] = _auth(_table(data, "auth"))
    values["jobs"] = {name: _section(JobSettings, body, f"jobs.{name}") for name, body in _table(data, "jobs").items()}
    settings = Settings(**values, root=root, env=dict(env or {}))
    _validate(settings)
    return settings


def override(settings: Settings, values: Mapping[str, Any]) -> Settings:
    """`settings` with `{"section.key": value}` applied (a job's setting overrides), checked as at load."""
    changed: dict[str, Any] = {}
    for dotted, value in values.items():
        section, _, key = dotted.partition(".")
        if section not in SECTIONS or not key:
            *names, last = SECTIONS
            raise ConfigError(f"bad setting override {dotted!r}: expected section.key ({', '.join(names)} or {last})")
        current = changed.get(section, getattr(settings, section))
        body = {f.name: getattr(current, f.name) for f in dataclasses.fields(current)}
        if key not in body:
            raise ConfigError(f"unknown key {key!r} in [{section}]")
        changed[section] = dataclasses.replace(
            current, **{key: _section(SECTIONS[section], {key: value}, section).__dict__[key]}
        )
    result = dataclasses.replace(settings, **changed, pinned=settings.pinned | set(values))
    _validate(result)
    return result


def for_spider(settings: Settings, spider: str, custom: object) -> Settings:
    """`settings` with a spider's `custom_settings` applied: `{"fetch.delay": 1.0}` (or Scrapy's name,
    `{"DOWNLOAD_DELAY": 1.0}`), checked as at load; a key set by `-s` or a job keeps its value.
    A bad key or value is a ConfigError naming the spider."""
    if not custom:
        return settings
    where = f"spider {spider!r}: custom_settings"
    if not isinstance(custom, Mapping):
        raise ConfigError(f"{where} must be a dict of section.key: value, got {type(custom).__name__}")
    values: dict[str, Any] = {}
    try:
        for name, value in custom.items():
            key = name if "." in str(name) else harvester_key(str(name))
            if key is None:
                raise ConfigError(f"unknown setting {name!r}: use section.key as in harvester.toml")
            if key not in settings.pinned:
                values[key] = value
        result = override(settings, values)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {str(exc).removeprefix('-s ')}") from None
    return dataclasses.replace(result, pinned=settings.pinned)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _apply_override(data: dict[str, Any], override: str) -> None:
    key, sep, raw = override.partition("=")
    parts = key.strip().split(".")
    if not sep or len(parts) < 2 or not all(parts):
        raise ConfigError(f"bad -s {override!r}: expected section.key=value")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word is a string
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"bad -s {override!r}: {part} is not a section")
    node[parts[-1]] = value


def _table(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] must be a table")
    return table


def _auth(table: Mapping[str, Any]) -> dict[str, AuthSettings]:
    """`[auth."KEY"]` entries keyed by the origin each key names (`harvester.credentials`)."""
    entries: dict[str, AuthSettings] = {}
    for key, body in table.items():
        try:
            origin = auth_origin(key)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if origin in entries:
            raise ConfigError(f'[auth."{key}"]: a second entry for the origin {origin}')
        entries[origin] = _section(AuthSettings, body, f'auth."{key}"')
    return entries


def _section(cls: type, body: object, where: str) -> Any:
    if not isinstance(body, dict):
        raise ConfigError(f"[{where}] must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for key, value in body.items():
        if key not in known:
            raise ConfigError(f"unknown key {key!r} in [{where}]")
        try:
            values[key] = _coerce(hints[key], value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[{where}] {key}: {exc}") from None
    return cls(**values)


def _coerce(kind: Any, value: object) -> object:
    origin = typing.get_origin(kind)
    if kind is Size:
        return parse_size(value)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise ValueError(f"expected true or false, got {value!r}")
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"expected an integer, got {value!r}")
        return int(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"expected a number, got {value!r}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        return value
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {value!r}")
        return tuple(_coerce(typing.get_args(kind)[0], v) for v in value)
    if origin in (Mapping, dict) or kind is Any or isinstance(kind, types.GenericAlias):
        if origin in (Mapping, dict) and not isinstance(value, dict):
            raise ValueError(f"expected a table, got {value!r}")
        return value
    return value


def _validate(settings: Settings) -> None:
    fetch = settings.fetch
    checks = [
        (fetch.concurrency >= 1, "[fetch] concurrency must be at least 1"),
        (fetch.per_host >= 1, "[fetch] per_host must be at least 1"),
        (fetch.delay >= 0, "[fetch] delay must not be negative"),
        (fetch.timeout > 0, "[fetch] timeout must be positive"),
        (fetch.retries >= 0, "[fetch] retries must not be negative"),
        (fetch.max_size > 0, "[fetch] max_size must be positive"),
        (fetch.feed_timeout >= 0, "[fetch] feed_timeout must not be negative"),
        (fetch.field_size > 0, "[fetch] field_size must be positive"),
        (fetch.memory_budget >= 2 * 1024**2, "[fetch] memory_budget must be at least 2MB"),
        (fetch.pools >= 0, "[fetch] pools must not be negative"),
        (fetch.proxy_rest >= 0, "[fetch] proxy_rest must not be negative"),
        *(_proxy_check("proxy_list", proxy) for proxy in fetch.proxy_list),
        *(
            (scheme in ("http", "https"), f"[fetch] proxies: {scheme!r} is not a scheme proxied (http or https)")
            for scheme in fetch.proxies
        ),
        *(_proxy_check(f"proxies.{scheme}", proxy) for scheme, proxy in fetch.proxies.items()),
        (settings.crawl.depth_limit >= 0, "[crawl] depth_limit must not be negative"),
        *(
            (getattr(settings.crawl, key) >= 0, f"[crawl] {key} must not be negative")
            for key in ("max_pages", "max_items", "max_errors", "max_seconds")
        ),
        (settings.storage.patience >= 0, "[storage] patience must not be negative"),
        (settings.email.security in ("none", "starttls", "tls"), "[email] security must be none, starttls or tls"),
        (
            not settings.email.username or settings.email.security != "none",
            "[email] username needs security = starttls or tls: no login over a plain connection",
        ),
        (settings.email.timeout > 0, "[email] timeout must be positive"),
    ]
    for host, address in fetch.resolve.items():
        checks.append(
            (
                bool(host) and not any(c in host for c in ":/@ "),
                f"[fetch] resolve: {host!r} is not a host name (no scheme, port or path)",
            )
        )
        checks.append((_is_ip(address), f"[fetch] resolve: {host} = {address!r} is not an IP address"))
    for host, auth in settings.auth.items():
        checks.append((auth.scheme in ("basic", "digest"), f'[auth."{host}"] scheme must be basic or digest'))
    for name, job in settings.jobs.items():
        checks.append((bool(job.spider), f"[jobs.{name}] needs a spider"))
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def _proxy_check(key: str, proxy: str) -> tuple[bool, str]:
    """Whether `proxy` is a proxy URL, and the line saying it is not (its login left out)."""
    shown = split_userinfo(proxy)[0].rpartition("@")[2]
    return proxy_url(
        proxy
    ) is not None, f"[fetch] {key}: {shown!r} is not an http:// or https:// proxy URL (scheme://host:port)"


def proxy_url(value: str) -> str | None:
    """`value` if it is a proxy URL (`http://` or `https://`, a host, no path beyond `/`), else None."""
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        return None
    return value.strip()


def _is_ip(value: object) -> bool:
    """True for an IP address written as a string (`127.0.0.1`, `::1`)."""
    try:
        ipaddress.ip_address(value if isinstance(value, str) else "")
    except ValueError:
        return False
    return True
