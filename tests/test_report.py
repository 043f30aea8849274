"""Email reports received by a real SMTP server (aiosmtpd) on loopback: plain, STARTTLS, TLS, login, refusals."""

from __future__ import annotations

import asyncio
import csv
import email
import email.policy
import io
import ssl
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from conftest import Site
from harvester.pipelines.email_report import send_report
from products import PRODUCTS, Products, serve_products
from sqlalchemy import create_engine, text

from harvester.config import build
from harvester.crawler import crawl
from harvester.mail import send
from harvester.report import Report, compose

PASSWORD = "s3cret"


class Recorder:
    """aiosmtpd handler: keeps each message as received; refuses recipients when asked."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.received: list[tuple[list[str], EmailMessage, bool]] = []  # (recipients, message, authenticated)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message, bool(session.authenticated)))
        return "250 Message accepted"

    def only_message(self) -> EmailMessage:
        assert len(self.received) == 1, self.received
        return self.received[0][1]


class LoopbackController(Controller):
    """A Controller on port 0: the port is read back once the server listens."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"bot", PASSWORD.encode())
    return AuthResult(success=ok)


@pytest.fixture
def smtp(ca) -> Iterator[Callable[..., tuple[LoopbackController, Recorder]]]:
    """Start an SMTP server: `smtp(mode="none"|"starttls"|"tls", login=False, refuse=False)`."""
    controllers: list[LoopbackController] = []

    def start(mode: str = "none", login: bool = False, refuse: bool = False) -> tuple[LoopbackController, Recorder]:
        recorder = Recorder(refuse)
        context = None
        if mode != "none":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1").configure_cert(context)
        options: dict[str, Any] = {"hostname": "127.0.0.1", "port": 0}
        if mode == "starttls":
            options.update(tls_context=context, require_starttls=True)
        elif mode == "tls":  # aiosmtpd counts only STARTTLS as TLS for AUTH; this whole session is TLS
            options.update(ssl_context=context, auth_require_tls=False)
        if login:
            options.update(authenticator=check_login, auth_required=True)
        controller = LoopbackController(recorder, **options)
        controller.start()
        controllers.append(controller)
        return controller, recorder

    yield start
    for controller in controllers:
        controller.stop()


def run_products(
    site: Site, tmp_path: Path, email_settings: dict[str, Any], pipelines: tuple[str, ...] = ("store", "email_report")
):
    Products.start_urls = [site.url + "/"]
    settings = build(
        {
            "project": {"pipelines": list(pipelines)},
            "storage": {"url": f"sqlite:///{tmp_path / 'harvest.db'}"},
            "fetch": {"obey_robots": False, "revalidate": False, "retries": 0},
            "email": {"sender": "harvester@example.org", "to": ["team@example.org"], "timeout": 5, **email_settings},
        },
        env={"SMTP_PASSWORD": PASSWORD},
    )
    return asyncio.run(crawl(settings, Products))


def report_errors(tmp_path: Path) -> list[tuple[str, str]]:
    engine = create_engine(f"sqlite:///{tmp_path / 'harvest.db'}")
    with engine.connect() as connection:
        rows = connection.execute(text("select kind, message from errors where kind = 'report'")).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def parts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def test_the_report_has_the_figures_errors_and_changed_items_with_a_csv(site: Site, tmp_path: Path, smtp) -> None:
    controller, recorder = smtp()
    products = dict(PRODUCTS)
    serve_products(site, products, broken=("X9",))
    settings = {"host": "127.0.0.1", "port": controller.port, "attach_csv": True}
    run_products(site, tmp_path, settings)
    recorder.received.clear()
    products["B2"] = 21.5
    products["D4"] = 40.0
    run = run_products(site, tmp_path, settings)

    assert run.status == "finished"
    recipients, message, _ = recorder.received[0]
    assert recipients == ["team@example.org"] and len(recorder.received) == 1
    assert message["Subject"] == ("[harvester] products finished: 6 pages, 4 items (1 new, 1 changed), 1 errors")
    assert message["From"] == "harvester@example.org" and message["To"] == "team@example.org"
    plain, html = parts(message)
    for needle in (
        "run 2 of products: finished",
        "pages        6",
        "items        4 (1 new, 1 changed",
        "previous run 1, finished, 3 items",
        "http: 1",
        "/p/X9",
        "HTTP 404",
        "New items: 1",
        "  D4",
        "Changed items: 1",
        "B2: price 20.0 -> 21.5",
    ):
        assert needle in plain, (needle, plain)
    assert "<th align='left'>pages</th><td>6</td>" in html and "B2: price 20.0 -&gt; 21.5" in html

    attachments = list(message.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["products-run2-changes.csv"]
    rows = list(csv.DictReader(io.StringIO(attachments[0].get_content())))
    assert [(row["key"], row["change"], row["price"]) for row in rows] == [
        ("B2", "changed", "21.5"),
        ("D4", "new", "40.0"),
    ]


def test_the_report_over_starttls_with_login(site: Site, tmp_path: Path, smtp, ca) -> None:
    controller, recorder = smtp("starttls", login=True)
    serve_products(site, dict(PRODUCTS), broken=("X9",))
    run = run_products(
        site,
        tmp_path,
        {
            "host": "127.0.0.1",
            "port": controller.port,
            "security": "starttls",
            "ca_file": str(ca.path),
            "username": "bot",
            "password_env": "SMTP_PASSWORD",
        },
    )
    assert run.status == "finished" and report_errors(tmp_path) == []
    _, message, authenticated = recorder.received[0]
    assert authenticated
    assert "3 new" in message["Subject"] and message.get_body(("html",)) is not None


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_report_over_implicit_tls_with_login(site: Site, tmp_path: Path, smtp, ca) -> None:
    controller, recorder = smtp("tls", login=True)
    serve_products(site, dict(PRODUCTS), broken=("X9",))
    run = run_products(
        site,
        tmp_path,
        {
            "host": "127.0.0.1",
            "port": controller.port,
            "security": "tls",
            "ca_file": str(ca.path),
            "username": "bot",
            "password_env": "SMTP_PASSWORD",
        },
    )
    assert run.status == "finished" and report_errors(tmp_path) == []
    assert recorder.received[0][2]


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("failure", ["recipient refused", "closed port", "untrusted certificate", "wrong password"])
def test_a_report_that_cannot_be_sent_is_recorded_and_the_run_still_finishes(
    site: Site, tmp_path: Path, smtp, ca, failure: str
) -> None:
    settings: dict[str, Any] = {"host": "127.0.0.1"}
    if failure == "recipient refused":
        controller, _ = smtp(refuse=True)
        settings["port"] = controller.port
    elif failure == "closed port":
        settings["port"] = closed_port()
    elif failure == "untrusted certificate":
        controller, _ = smtp("starttls")
        settings.update(port=controller.port, security="starttls")  # no ca_file: the test CA is not trusted
    else:
        controller, _ = smtp("starttls", login=True)
        settings.update(
            port=controller.port,
            security="starttls",
            ca_file=str(ca.path),
            username="bot",
            password_env="OTHER_PASSWORD",
        )
    serve_products(site, dict(PRODUCTS), broken=("X9",))
    run = run_products(site, tmp_path, settings)

    assert run.status == "finished"
    errors = report_errors(tmp_path)
    assert len(errors) == 1, errors
    expected = {
        "recipient refused": "550",
        "closed port": "Connection refused",
        "untrusted certificate": "CERTIFICATE_VERIFY_FAILED",
        "wrong password": "OTHER_PASSWORD",
    }[failure]
    assert expected in errors[0][1]
    engine = create_engine(f"sqlite:///{tmp_path / 'harvest.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from items")).scalar() == 3  # the data is kept
        status, stats = connection.execute(text("select status, json_extract(stats, '$.errors') from runs")).one()
    engine.dispose()
    assert (status, stats) == ("finished", 2)  # the 404 and the report


def test_send_report_after_the_run_is_closed_records_its_failure(site: Site, tmp_path: Path, smtp) -> None:
    """What a job with `report = true` does when the pipeline is not listed."""
    controller, recorder = smtp()
    serve_products(site, dict(PRODUCTS), broken=("X9",))
    run = run_products(site, tmp_path, {"host": "127.0.0.1", "port": controller.port}, ("store",))
    assert recorder.received == []
    assert asyncio.run(send_report(run)) is True
    assert "3 new" in recorder.only_message()["Subject"]

    refused = run_products(site, tmp_path, {"host": "127.0.0.1", "port": closed_port()}, ("store",))
    assert asyncio.run(send_report(refused)) is False
    assert len(report_errors(tmp_path)) == 1


def test_scraped_text_with_line_breaks_yields_one_subject_header(smtp) -> None:
    controller, recorder = smtp()
    evil = "books\r\nBcc: victim@example.org\r\n\r\nforged body"
    report = Report(
        run_id=7,
        spider=evil,
        job="nightly\nX-Injected: 1",
        status="finished",
        started_at=None,
        seconds=1.0,
        pages=1,
        items=1,
        dropped=0,
        errors=0,
    )
    message = compose(report, "harvester@example.org", ["team@example.org"])
    settings = build(
        {
            "email": {
                "host": "127.0.0.1",
                "port": controller.port,
                "sender": "harvester@example.org",
                "to": ["team@example.org"],
            }
        }
    ).email
    send(message, settings)

    recipients, received, _ = recorder.received[0]
    assert recipients == ["team@example.org"]
    assert received.get_all("Subject") is not None and len(received.get_all("Subject")) == 1
    assert received["Bcc"] is None and received["X-Injected"] is None
    assert "victim@example.org" in received["Subject"]  # folded into the subject as text, harmlessly
    assert "\n" not in received["Subject"] and "\r" not in received["Subject"]
    with pytest.raises(ValueError):  # and the message's policy refuses a raw line break outright
        message["X-Test"] = "a\r\nBcc: victim@example.org"


def test_login_over_a_plain_connection_is_refused_by_the_config() -> None:
    from harvester.exceptions import ConfigError

    with pytest.raises(ConfigError, match="username"):
        build({"email": {"username": "bot", "security": "none"}})


@pytest.mark.parametrize("listed", [None, "email_report", "harvester.pipelines.email_report.EmailReportPipeline"])
def test_a_job_with_report_sends_one_report_whether_the_pipeline_is_listed_or_not(project, site, smtp, listed) -> None:
    from conftest import FAST_CONFIG, follow_spider

    controller, recorder = smtp()
    site.page("/", '<a href="/p/one">1</a>')
    site.page("/p/one", "page")
    project.spider("follow", follow_spider("follow"))
    project.write(
        "harvester.toml",
        FAST_CONFIG.replace(
            'pipelines = ["store"]', f'pipelines = ["store", "{listed}"]' if listed else 'pipelines = ["store"]'
        )
        + f"""
[email]
host = "127.0.0.1"
port = {controller.port}
sender = "harvester@example.org"
to = ["team@example.org"]
timeout = 5

[jobs.nightly]
spider = "follow"
schedule = "0 3 * * *"
args = {{ base = "{site.url}" }}
report = true
""",
    )
    result = project.run("jobs", "run", "nightly")
    assert result.returncode == 0, result.stderr
    assert "1 new" in recorder.only_message()["Subject"]  # one report, not one per way of asking
