"""What a command that ran a crawl prints when the run closes, and the status it exits with.

`harvester jobs run` ends here; `crawl`, `worker` and `runspider` end the same way
(`cli/crawl.py`). In order: the summary line (stdout, or stderr when the items go to
stdout), the run's errors by kind with an example of each, why the run failed or fetched
nothing (stderr), and where it was stored.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import TextIO

from harvester import logs
from harvester.run import Run, RunStatus

EXIT = {RunStatus.FINISHED: 0, RunStatus.INTERRUPTED: 130, RunStatus.FAILED: 1}
NOTHING_FETCHED = 1  # the run finished, but every request failed


def close_run(
    args: argparse.Namespace, result: Run, headline: str, stored: str, summary_out: TextIO | None = None
) -> int:
    """Print what `result` ended with, as `harvester crawl` does, and return the exit status.

    `headline` names the run (`books`, `job nightly-books`); `stored` says where it went.
    `-q` leaves out the summary and `stored`, never the error lines; with `--logfile` every
    line is also logged there.
    """
    out = summary_out or sys.stdout
    stats = result.stats
    reason = stats.close_reason
    why = f" ({reason})" if reason and reason != result.status else ""  # closed by a limit or CloseSpider
    summary = f"{headline}: run {result.id} {result.status}{why}: {stats.summary()}"
    seen = getattr(args, "errors_seen", None)
    problems = logs.closing_lines(result.id, stats.error_kinds, seen.examples if seen else {})
    if result.failure:
        problems.append(f"harvester: error: run {result.id} failed: {result.failure}")
    status = EXIT.get(result.status, 1)
    if status == 0 and nothing_fetched(stats.errors, stats.statuses):
        problems.append(
            f"harvester: error: run {result.id} fetched no page: every request failed (exit status {NOTHING_FETCHED})"
        )
        status = NOTHING_FETCHED
    quiet = getattr(args, "quiet", False)
    if not quiet:
        print(summary, file=out, flush=True)
    if problems:
        print("\n".join(problems), file=sys.stderr, flush=True)
    if not quiet:
        print(stored, file=out)
    if logs.to_file():
        for line in [summary, *problems, stored]:
            logs.closing_log.info("%s", line)
    return status


def nothing_fetched(errors: int, statuses: Mapping[int, int]) -> bool:
    """Whether a run recorded errors and not one response below 400: every request failed."""
    return errors > 0 and not any(status < 400 for status, count in statuses.items() if count)
