"""Pipeline: one email report per run, sent when the run closes, over SMTP as `[email]` says.

The report (`harvester.report`) has the run's spider, job, status, duration,
pages, items, errors by kind with a few examples, and the items new or
changed in the run, as plain text and HTML; with `[email] attach_csv = true`
those items are attached as CSV. It is built and sent in a worker thread.

A report that cannot be sent (refused, unreachable, bad login, bad
certificate) is logged and recorded as one `errors` row of kind `report`;
the run keeps its status and its data.

`send_report(run)` is the same, for callers that are not a pipeline: a job
with `report = true` whose pipelines do not list this one calls it after the
run (the error row, if any, is written then).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import replace
from typing import Any

from harvester import mail
from harvester.exceptions import DatabaseError
from harvester.report import compose, gather
from harvester.run import Run

log = logging.getLogger("harvester.report")


class EmailReportPipeline:
    def process_item(self, item: Any, run: Run) -> None:
        return None

    async def close(self, run: Run) -> None:
        await send_report(run)


async def send_report(run: Run) -> bool:
    """Build and send the report of `run`; False (recorded, logged) when it could not be sent."""
    settings = run.settings.email
    password = run.settings.secret(settings.password_env)
    if not settings.to:
        return await _failed(run, "report not sent: no recipients ([email] to is empty)")
    if settings.username and not password:
        return await _failed(run, f"report not sent: no SMTP password (set {settings.password_env or 'password_env'})")
    if not settings.sender:
        settings = replace(settings, sender=f"harvester@{socket.gethostname()}")

    def build_and_send() -> None:
        report = gather(run, attach_csv=settings.attach_csv)
        mail.send(compose(report, settings.sender, settings.to), settings, password)

    try:
        await asyncio.to_thread(build_and_send)
    except Exception as exc:  # noqa: BLE001 - any failure to report is recorded, never fatal
        where = f"{', '.join(settings.to)} via {settings.host}:{settings.port}"
        return await _failed(run, f"report not sent to {where}: {mail.describe(exc)}")
    log.info("report of run %d sent to %s", run.id, ", ".join(settings.to))
    return True


async def _failed(run: Run, message: str) -> bool:
    log.warning("%s", message)
    run.record_error("report", message)
    with contextlib.suppress(DatabaseError):  # a run whose database failed has said so already
        await run.journal.flush()  # written now, even when the run is closed already
    return False
