"""Printing query results: an aligned table, JSON, JSON lines or CSV.

Item rows carry `data` as an object: JSON formats keep it nested; in CSV and
table output its fields become columns after the item's own. An empty CSV
result is its header alone. Text that cannot be printed (lone surrogates in
rows stored before items were scrubbed) is shown as U+FFFD, as newer rows
hold it.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from harvester.exporters import csv_cell
from harvester.items import safe_text

FORMATS = ("table", "json", "jsonl", "csv")
MAX_CELL = 60


def write(rows: Iterable[dict[str, Any]], fmt: str, out: TextIO = sys.stdout, header: Sequence[str] = ()) -> int:
    """Print `rows` in `fmt`; the number of rows printed.

    `header` is the CSV header when there are no rows (a query's column names), so an
    empty result is still a CSV file with its columns.
    """
    if fmt == "json":
        return _json(rows, out)
    if fmt == "jsonl":
        count = 0
        for count, row in enumerate(rows, 1):
            out.write(json.dumps(_plain(row), ensure_ascii=False) + "\n")
        return count
    flat = [_flatten(row) for row in rows]
    columns = list(dict.fromkeys(key for row in flat for key in row))
    if fmt == "csv":
        columns = columns or [name for name in header if name != "data"]
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in flat)
    else:
        _table(flat, columns, out)
    return len(flat)


def _json(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    count = 0
    out.write("[")
    for count, row in enumerate(rows, 1):
        out.write(("," if count > 1 else "") + "\n" + json.dumps(_plain(row), ensure_ascii=False))
    out.write("\n]\n" if count else "]\n")
    return count


def _table(rows: list[dict[str, Any]], columns: list[str], out: TextIO) -> None:
    if not columns:
        out.write("(no rows)\n")
        return
    cells = [[_short(_cell(row.get(c))) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    out.writelines("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() + "\n" for line in cells)
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    data = row.get("data")
    if isinstance(data, str) and set(row) >= {"run_id", "spider"}:
        try:
            data = json.loads(data)  # raw SQL on SQLite returns JSON as text
        except ValueError:
            pass
    if not isinstance(data, dict):
        return dict(row)
    flat = {k: v for k, v in row.items() if k != "data"}
    for key, value in data.items():
        key = safe_text(str(key))
        flat[key if key not in flat else f"data.{key}"] = value
    return flat


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in row.items()}


def _value(value: Any) -> Any:
    if isinstance(value, str):
        return safe_text(value)  # text stored before items were scrubbed (`as_dict`) may hold surrogates
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {safe_text(str(k)): _value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return str(value)


def _cell(value: Any) -> str:
    return csv_cell(_value(value))


def _short(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"
