"""Sending one message over SMTP as `[email]` says: plain, STARTTLS or implicit TLS, with login.

Blocking (smtplib): callers run it in a worker thread. Certificates are
verified against the system's CAs plus `ca_file`; login is only ever done
over an encrypted connection. Every failure is an `OSError` or an
`smtplib.SMTPException` (or `ConfigError` for a login asked over a plain
connection), for the caller to record.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from harvester.config import EmailSettings
from harvester.exceptions import ConfigError


def tls_context(settings: EmailSettings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.ca_file:
        context.load_verify_locations(cafile=settings.ca_file)
    return context


def send(message: EmailMessage, settings: EmailSettings, password: str | None = None) -> None:
    """Deliver `message` from `settings.sender` to `settings.to`; raises when any recipient is refused."""
    if settings.username and settings.security == "none":
        raise ConfigError("[email] refusing to log in over a plain connection: set security to starttls or tls")
    if settings.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=tls_context(settings)
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        client.ehlo()
        if settings.security == "starttls":
            client.starttls(context=tls_context(settings))  # fails when the server does not offer it
            client.ehlo()
        if settings.username:
            client.login(settings.username, password or "")
        refused = client.send_message(message, from_addr=settings.sender, to_addrs=list(settings.to))
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)


def describe(exc: BaseException) -> str:
    """One line saying why a send failed."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipients refused: " + ", ".join(
            f"{address} ({code} {_text(reply)})" for address, (code, reply) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())
