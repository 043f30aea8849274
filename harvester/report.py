"""Run reports: a run's figures, read back from the harvest database, as one email message.

The last step of the data path: storage -> reports. `gather(run)` reads what
a run did (its figures, counted from its rows; errors by kind with a few examples, the items new or
changed in it, with the fields that changed); `compose(report, ...)` makes
one `EmailMessage` with a plain-text part, an HTML alternative and, if asked,
the new and changed items as a CSV attachment (declared UTF-8). Its subject
starts with `FAILED` when the run failed, or every page of it failed (errors,
and no page whose final status is below 400): the subject is what people scan.

Scraped text never reaches a header as it is: header values are folded to
one line (every line break and run of whitespace becomes one space) and
capped, and the message's policy refuses a header holding CR or LF anyway.
In the HTML part everything is escaped.
"""

from __future__ import annotations

import csv
import datetime as dt
import email.policy
import email.utils
import html
import io
import json
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from harvester.exporters import csv_cell
from harvester.query import change_of_item
from harvester.run import Run
from harvester.storage.recount import count_rows
from harvester.storage.tables import errors, item_history, items, runs
from harvester.utc import aware

EXAMPLES = 5
MAX_HEADER = 200
# CRLF line ends; a header holding CR or LF is refused. Lines up to RFC 5322's hard limit, since
# the stdlib's folder puts a long unstructured header's whole value on a continuation line,
# which readers then show with a leading space.
POLICY = email.policy.SMTP.clone(max_line_length=998)


@dataclass
class ErrorKind:
    kind: str
    count: int
    examples: list[tuple[str | None, str]]  # (url, message)


@dataclass
class ChangedItem:
    id: int
    key: str | None
    url: str | None
    data: dict[str, Any]
    diff: list[tuple[str, Any, Any]] = field(default_factory=list)  # (field, before, after)


@dataclass
class Report:
    run_id: int
    spider: str
    job: str | None
    status: str
    started_at: dt.datetime | None
    seconds: float
    pages: int
    items: int
    dropped: int
    errors: int
    error_kinds: list[ErrorKind] = field(default_factory=list)
    new: int = 0
    changed: int = 0
    new_examples: list[ChangedItem] = field(default_factory=list)
    changed_examples: list[ChangedItem] = field(default_factory=list)
    previous: dict[str, Any] | None = None  # the spider's run before this one: id, status, items
    csv: str | None = None  # the new and changed items, when attached
    good_pages: int = 0  # pages whose final status was below 400 (304 included)

    @property
    def alarm(self) -> str | None:
        """What a reader must see first, in the subject: a failed run, or one where every page failed."""
        if self.status == "failed":
            return "FAILED"
        if self.errors and not self.good_pages:
            return "FAILED: every page failed"
        return None


def gather(run: Run, attach_csv: bool = False) -> Report:
    """The report of `run`, its items already written (blocking: call it off the event loop)."""
    stats = run.stats
    report = Report(
        run.id,
        run.spider_name,
        run.job,
        run.status,
        None,
        stats.seconds(),
        stats.pages,
        stats.items,
        stats.dropped,
        stats.errors,
    )
    with run.engine.connect() as connection:
        row = connection.execute(select(runs.c.started_at, runs.c.job).where(runs.c.id == run.id)).first()
        if row is not None:
            report.started_at, report.job = row.started_at, run.job or row.job
        counted = count_rows(connection, run.id)  # the rows, whatever was counted in memory across resumes
        report.pages, report.errors = counted["pages"], counted["errors"]
        report.good_pages = sum(n for status, n in counted["statuses"].items() if _good_status(status))
        if counted["items"]:  # the run stores its items (without the store, the figure counted is all)
            report.items = counted["items"]
        report.error_kinds = _errors(connection, run.id, counted["errors_by_kind"])
        _changes(connection, report)
        report.previous = _previous(connection, run.id, run.spider_name)
        if attach_csv:
            report.csv = _csv(connection, run.id)
    return report


def _errors(connection: Connection, run_id: int, counts: dict[str, int]) -> list[ErrorKind]:
    kinds = []
    for kind, count in sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])):
        query = (
            select(errors.c.url, errors.c.message)
            .where(errors.c.run_id == run_id, errors.c.kind == kind)
            .order_by(errors.c.id)
            .limit(3)
        )
        kinds.append(ErrorKind(kind, count, [(url, message) for url, message in connection.execute(query)]))
    return kinds


def _changes(connection: Connection, report: Report) -> None:
    change = change_of_item()
    mine = items.c.changed_run_id == report.run_id
    for name, count in connection.execute(select(change, func.count()).where(mine).group_by(change)):
        setattr(report, name, count)
    for name, examples in (("new", report.new_examples), ("changed", report.changed_examples)):
        query = (
            select(items.c.id, items.c.key, items.c.url, items.c.data)
            .where(mine, change == name)
            .order_by(items.c.id)
            .limit(EXAMPLES)
        )
        examples.extend(ChangedItem(row.id, row.key, row.url, row.data) for row in connection.execute(query))
    for example in report.changed_examples:
        before = connection.execute(
            select(item_history.c.data)
            .where(item_history.c.item_id == example.id)
            .order_by(item_history.c.id.desc())
            .limit(1)
        ).scalar()
        if isinstance(before, dict):
            names = list(dict.fromkeys([*before, *example.data]))
            example.diff = [
                (n, before.get(n), example.data.get(n)) for n in names if before.get(n) != example.data.get(n)
            ]


def _previous(connection: Connection, run_id: int, spider: str) -> dict[str, Any] | None:
    row = connection.execute(
        select(runs.c.id, runs.c.status, runs.c.stats)
        .where(runs.c.spider == spider, runs.c.id < run_id)
        .order_by(runs.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return {"id": row.id, "status": row.status, "items": (row.stats or {}).get("items", 0)}


def _csv(connection: Connection, run_id: int) -> str:
    query = (
        select(items.c.id, items.c.key, change_of_item().label("change"), items.c.url, items.c.data)
        .where(items.c.changed_run_id == run_id)
        .order_by(items.c.id)
    )
    rows = [dict(row) for row in connection.execute(query).mappings()]
    fields = list(dict.fromkeys(k for row in rows for k in (row["data"] or {})))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["id", "key", "change", "url", *fields])
    for row in rows:
        data = row["data"] or {}
        writer.writerow(
            [
                row["id"],
                row["key"] or "",
                row["change"],
                row["url"] or "",
                *(csv_cell(data.get(name)) for name in fields),
            ]
        )
    return out.getvalue()


# -- the message ------------------------------------------------------------------------------


def one_line(value: object, limit: int = MAX_HEADER) -> str:
    """`value` as a single line: line breaks and runs of whitespace become one space; capped."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _good_status(status: str) -> bool:
    return status.isdigit() and int(status) < 400


def subject(report: Report) -> str:
    """`[harvester] SPIDER (JOB) STATUS: figures`, led by `FAILED...` when the run or every page failed."""
    job = f" ({report.job})" if report.job else ""
    alarm = f"{report.alarm}: " if report.alarm else ""
    return one_line(
        f"[harvester] {alarm}{report.spider}{job} {report.status}: {report.pages} pages, {report.items} items "
        f"({report.new} new, {report.changed} changed), {report.errors} errors"
    )


def compose(report: Report, sender: str, to: list[str] | tuple[str, ...]) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    message["Subject"] = subject(report)
    message["From"] = one_line(sender)
    message["To"] = ", ".join(one_line(address) for address in to)
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = email.utils.make_msgid(domain=_domain(sender))
    message.set_content(plain_text(report))
    message.add_alternative(html_text(report), subtype="html")
    if report.csv is not None:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{report.spider}-run{report.run_id}-changes") + ".csv"
        message.add_attachment(report.csv, subtype="csv", charset="utf-8", filename=name)  # says its charset
    return message


def _figures(report: Report) -> list[tuple[str, str]]:
    started = "?"
    if report.started_at is not None:  # SQLite gives it back without its zone: it is UTC
        started = aware(report.started_at).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    figures = [
        ("spider", report.spider),
        ("job", report.job or "-"),
        ("run", str(report.run_id)),
        ("status", report.status),
        ("started", started),
        ("duration", _duration(report.seconds)),
        ("pages", str(report.pages)),
        ("items", f"{report.items} ({report.new} new, {report.changed} changed since the previous run)"),
        ("dropped", str(report.dropped)),
        ("errors", str(report.errors)),
    ]
    if report.previous:
        previous = report.previous
        figures.append(("previous run", f"{previous['id']}, {previous['status']}, {previous['items']} items"))
    return figures


def plain_text(report: Report) -> str:
    lines = [f"Harvester run {report.run_id} of {one_line(report.spider)}: {report.status}", ""]
    if report.alarm:
        lines[1:1] = [report.alarm]
    lines += [f"  {name:<13}{one_line(value, 300)}" for name, value in _figures(report)]
    if report.error_kinds:
        lines += ["", "Errors by kind"]
        for kind in report.error_kinds:
            lines.append(f"  {kind.kind}: {kind.count}")
            lines += [f"    {one_line(url or '-', 120)}  {one_line(message, 160)}" for url, message in kind.examples]
    for title, count, examples in (
        ("New items", report.new, report.new_examples),
        ("Changed items", report.changed, report.changed_examples),
    ):
        if count:
            lines += ["", f"{title}: {count}" + (f" (first {len(examples)})" if count > len(examples) else "")]
            lines += [f"  {_label(item)}{_diff_text(item)}" for item in examples]
    if report.csv is not None:
        lines += ["", "The new and changed items are attached as CSV."]
    return "\n".join(lines) + "\n"


def html_text(report: Report) -> str:
    e = html.escape
    parts = [
        f"<html><body><h2>Harvester run {report.run_id} of {e(report.spider)}: {e(report.status)}</h2>",
        f"<p><b>{e(report.alarm)}</b></p>" if report.alarm else "",
        "<table>",
    ]
    parts += [f"<tr><th align='left'>{e(name)}</th><td>{e(value)}</td></tr>" for name, value in _figures(report)]
    parts.append("</table>")
    if report.error_kinds:
        parts.append("<h3>Errors by kind</h3><ul>")
        for kind in report.error_kinds:
            shown = "".join(f"<li>{e(url or '-')}: {e(one_line(message, 300))}</li>" for url, message in kind.examples)
            parts.append(f"<li><b>{e(kind.kind)}</b>: {kind.count}<ul>{shown}</ul></li>")
        parts.append("</ul>")
    for title, count, examples in (
        ("New items", report.new, report.new_examples),
        ("Changed items", report.changed, report.changed_examples),
    ):
        if count:
            rows = "".join(f"<li>{e(_label(item))}{e(_diff_text(item))}</li>" for item in examples)
            parts.append(f"<h3>{title}: {count}</h3><ul>{rows}</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _label(item: ChangedItem) -> str:
    if item.key is not None:
        return one_line(item.key, 80)
    return one_line(json.dumps(item.data, ensure_ascii=False), 160)


def _diff_text(item: ChangedItem) -> str:
    if not item.diff:
        return ""
    return ": " + "; ".join(f"{name} {_short(before)} -> {_short(after)}" for name, before, after in item.diff[:5])


def _short(value: Any) -> str:
    return one_line(json.dumps(value, ensure_ascii=False), 60)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _domain(sender: str) -> str:
    address = email.utils.parseaddr(sender)[1]
    return address.rpartition("@")[2] or "harvester.invalid"
