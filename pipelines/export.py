"""Pipeline: items -> a file (`-o FILE`): JSON lines, a JSON array, or CSV.

JSON lines and JSON are written as items arrive. CSV needs every column
before the first row, so items go to a JSON-lines spool file first and the
CSV is written at close with the union of their fields, in bounded memory.
A new export file is created 0600 (`harvester.storage.files`).

On a resumed run (`--resume`) the file is written from the start again: first
the items the run stored before (read back from the database, so the store
pipeline must be on), then the new ones. The file holds every item of the run
once, whatever became of the file the stopped part wrote.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path
from typing import IO, Any

from harvester.exceptions import ConfigError
from harvester.items import as_dict
from harvester.run import Run
from harvester.storage.files import open_private
from harvester.storage.recount import run_items

FORMATS = (".jsonl", ".json", ".csv")


class ExportPipeline:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.format = self.path.suffix.lower()
        if self.format not in FORMATS:
            raise ConfigError(f"cannot export to {self.path.name}: use a .jsonl, .json or .csv file")
        if not self.path.parent.is_dir():  # checked before the run starts, not at open
            raise ConfigError(f"cannot export to {self.path}: no directory {self.path.parent}")
        self._file: IO[str] | None = None
        self._count = 0

    def open(self, run: Run) -> None:
        if self.format == ".csv":
            self._file = tempfile.TemporaryFile("w+", encoding="utf-8")
        else:
            try:
                self._file = open_private(self.path, "w", encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot export to {self.path}: {exc.strerror}") from None
            if self.format == ".json":
                self._file.write("[")
        if run.resumed:
            for data in run_items(run.engine, run.id):
                self._write(data)

    def process_item(self, item: Any, run: Run) -> None:
        self._write(as_dict(item))

    def _write(self, data: dict[str, Any]) -> None:
        assert self._file is not None
        line = json.dumps(data, ensure_ascii=False)
        if self.format == ".json":
            self._file.write(("," if self._count else "") + "\n" + line)
        else:
            self._file.write(line + "\n")
        self._count += 1

    def close(self, run: Run) -> None:
        if self._file is None:
            return
        if self.format == ".json":
            self._file.write("\n]\n" if self._count else "]\n")
        elif self.format == ".csv":
            self._write_csv(self._file)
        self._file.close()
        self._file = None

    def _write_csv(self, spool: IO[str]) -> None:
        spool.seek(0)
        fields: dict[str, None] = {}
        for line in spool:
            fields.update(dict.fromkeys(json.loads(line)))
        spool.seek(0)
        with open_private(self.path, "w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(fields))
            writer.writeheader()
            for line in spool:
                writer.writerow({k: _cell(v) for k, v in json.loads(line).items()})


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
