"""Pipeline: items -> a file or standard output (`-o FILE` appends, `-O FILE` overwrites).

Formats (`harvester.exporters`): JSON lines (`.jsonl`, `.jl`), a JSON array
(`.json`), XML (`.xml`, Scrapy's shape) and CSV (`.csv`), or any of them
named as `FILE:FORMAT`; `-` is standard output. Missing parent folders are
created. A new export file is created 0600 (`harvester.storage.files`); one
that exists keeps its permissions.

Appending (`-o`) keeps each format one valid document: JSON lines and CSV
rows are added at the end (a CSV keeps its header; a field it lacks adds a
column, the file rewritten once at close); a JSON array or XML document is
extended before its closing `]` or `</items>`. A file that is not a JSON array
(or does not end with `</items>`) is refused before the run starts, in one
line. JSON lines, JSON and XML are written as items arrive; CSV needs every
column first, so its items are spooled and written at close, in bounded memory.

A resumed run (`--resume`) writes its part of the file again: first the
items the run stored before (read back from the database, so the store
pipeline must be on), then the new ones. Where its part begins is kept, while
the run is unfinished, in a hidden file beside the export (`.NAME.harvester-run`);
with `-o`, what the file held before the run is kept, and with `-O` nothing.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from harvester.exceptions import ConfigError
from harvester.exporters import Export, csv_cell, format_of
from harvester.items import as_dict
from harvester.run import Run
from harvester.storage.files import open_private
from harvester.storage.recount import run_items


class ExportPipeline:
    def __init__(self, target: str | Path | Export) -> None:
        self.export = target if isinstance(target, Export) else Export.parse(target)
        self.path = self.export.path
        self.format = format_of(self.export.format)
        self.csv = self.export.format == "csv"
        if self.path is not None:  # checked before the run starts, not at open
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"cannot export to {self.path}: {exc.strerror} ({exc.filename})") from None
            if self.path.is_dir():
                raise ConfigError(f"cannot export to {self.path}: it is a directory")
            if not (self.export.overwrite or self.csv or self._marker.exists()) and self._has_content():
                self.format.resume_point(self.path)  # one that cannot be extended is refused now
        self._file: IO[str] | None = None
        self._count = 0
        self._start = 0  # where this run's part of the file begins
        self._header: list[str] = []  # an appended CSV's columns

    # -- the run ----------------------------------------------------------------------------------

    def open(self, run: Run) -> None:
        if self.path is None:
            self._file = tempfile.TemporaryFile("w+", encoding="utf-8") if self.csv else sys.stdout
            self._file.write(self.format.head if not self.csv else "")
        else:
            try:
                self._open_file(run)
            except OSError as exc:
                raise ConfigError(f"cannot export to {self.path}: {exc.strerror}") from None
        if run.resumed:
            for data in run_items(run.engine, run.id):
                self._write(data)

    def process_item(self, item: Any, run: Run) -> None:
        self._write(as_dict(item))

    def close(self, run: Run) -> None:
        if self._file is None:
            return
        if self.csv:
            self._write_csv(self._file, run)
        else:
            self._file.write(self.format.tail)
            if self._file is sys.stdout:
                self._file.flush()
            else:
                self._file.close()
        self._file = None
        if self.path is not None and run.status == "finished":
            self._marker.unlink(missing_ok=True)

    def _write(self, data: dict[str, Any]) -> None:
        assert self._file is not None
        if self.csv:
            self._file.write(json.dumps(data, ensure_ascii=False) + "\n")
        else:
            self._file.write(self.format.item(data, first=self._count == 0))
        self._count += 1

    # -- the file -------------------------------------------------------------------------------

    @property
    def _marker(self) -> Path:
        """The hidden file beside the export that says where an unfinished run's part begins."""
        assert self.path is not None
        return self.path.with_name(f".{self.path.name}.harvester-run")

    def _has_content(self) -> bool:
        assert self.path is not None
        return self.path.exists() and self.path.stat().st_size > 0

    def _open_file(self, run: Run) -> None:
        assert self.path is not None
        mark = self._read_marker(run) if run.resumed else None
        if self.export.overwrite or not self._has_content() or (mark is not None and mark[0] == 0):
            start, holds = 0, False
        elif mark is not None:
            start, holds = mark
        else:
            start, holds = (self.path.stat().st_size, True) if self.csv else self.format.resume_point(self.path)
        if start == 0:
            self._file = open_private(self.path, "w", encoding="utf-8", newline="")
        else:
            os.truncate(self.path, start)  # a closing `]` or `</items>`, or a stopped part of this run
            self._file = open_private(self.path, "a", encoding="utf-8", newline="")
        self._start = start
        self._write_marker(run, start, holds)
        if self.csv:
            self._header = _csv_header(self.path) if start else []
            self._spool, self._out = tempfile.TemporaryFile("w+", encoding="utf-8"), self._file
            self._file = self._spool
        elif start == 0:
            self._file.write(self.format.head)
        self._count = 1 if holds else 0  # a JSON array with items goes on after a comma

    def _read_marker(self, run: Run) -> tuple[int, bool] | None:
        try:
            mark = json.loads(self._marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if mark.get("run") != run.id or not self._has_content():
            return None
        return min(int(mark["start"]), self.path.stat().st_size), bool(mark["holds"])  # type: ignore[union-attr]

    def _write_marker(self, run: Run, start: int, holds: bool) -> None:
        with open_private(self._marker, "w", encoding="utf-8") as file:
            json.dump({"run": run.id, "spider": run.spider_name, "start": start, "holds": holds}, file)

    # -- CSV at close -----------------------------------------------------------------------------

    def _write_csv(self, spool: IO[str], run: Run) -> None:
        spool.seek(0)
        fields: dict[str, None] = dict.fromkeys(self._header)
        for line in spool:
            fields.update(dict.fromkeys(json.loads(line)))
        spool.seek(0)
        if self.path is None:
            _csv_rows(sys.stdout, list(fields), spool, header=True)
            spool.close()
            return
        out = self._out
        if not self._header or len(fields) == len(self._header):
            _csv_rows(out, list(fields), spool, header=not self._header)
            out.close()
        else:  # a field the appended file lacks: its header grows, the file is written again
            out.close()
            self._rewrite_csv(list(fields), spool, run)
        spool.close()

    def _rewrite_csv(self, fields: list[str], spool: IO[str], run: Run) -> None:
        assert self.path is not None
        fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        shutil.copymode(self.path, name)
        with open(fd, "w", encoding="utf-8", newline="") as out, self.path.open(encoding="utf-8", newline="") as old:
            writer = csv.writer(out)
            reader = csv.reader(old)
            next(reader, None)
            writer.writerow(fields)
            for row in reader:
                writer.writerow(row + [""] * (len(fields) - len(row)))
            out.flush()
            start = out.tell()
            _csv_rows(out, fields, spool, header=False)
        os.replace(name, self.path)
        self._write_marker(run, start, True)


def _csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as file:
        return next(csv.reader(file), [])


def _csv_rows(out: IO[str], fields: list[str], spool: IO[str], header: bool) -> None:
    writer = csv.DictWriter(out, fieldnames=fields)
    if header:
        writer.writeheader()
    for line in spool:
        writer.writerow({k: csv_cell(v) for k, v in json.loads(line).items()})
