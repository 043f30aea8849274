#!/usr/bin/env python3
"""Harvester against Scrapy on the 20,000-page benchmark site, in one run.

    python benchmarks/site_vs_scrapy.py            # needs: apt-get install nginx; a Scrapy venv (below)

Generates the site with benchmarks/rig/gen_site.py (once, into /tmp/benchsite),
serves it with the rig's nginx on 127.0.0.1:8088, then runs, one after the other:
Scrapy at 64 in flight with CONCURRENT_ITEMS=16 (its best here), Harvester in
one process, and Harvester in two worker processes sharing the frontier. It
prints pages/s, CPU seconds and peak RSS of each, and Harvester's ratios to
Scrapy. Scrapy runs from its own venv: python3 -m venv /tmp/scrapyvenv &&
/tmp/scrapyvenv/bin/pip install scrapy. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE / "rig"  # copied from the shared benchmark rig, unchanged


def run(label: str, command: list[str]) -> dict:
    print(f"-- {label}: {' '.join(command)}", flush=True)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as timing:
        done = subprocess.run(["/usr/bin/time", "-v", "-o", timing.name, *command], capture_output=True, text=True)
        text = timing.read()
    if done.returncode:
        sys.exit(f"{label} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "cpu_s" not in result:  # a single process: /usr/bin/time measured it
        result["cpu_s"] = round(
            sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", text)), 1
        )
        result["peak_rss_mb_total"] = round(
            int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024, 1
        )
    result["label"] = label
    print(json.dumps(result), flush=True)  # the counts to check: pages, 404s, items, robots, fetched twice
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scrapy", default="/tmp/scrapyvenv/bin/python")
    parser.add_argument("-c", "--concurrency", type=int, default=64)
    args = parser.parse_args()
    if not Path("/tmp/benchsite/manifest.json").exists():
        subprocess.run([sys.executable, str(BENCH / "gen_site.py")], check=True)
    subprocess.run(["sh", str(BENCH / "serve.sh"), "start"], check=False)
    results = [
        run(
            "scrapy",
            [
                args.scrapy,
                str(BENCH / "scrapy_crawl.py"),
                "-c",
                str(args.concurrency),
                "--out",
                "none",
                "-s",
                "CONCURRENT_ITEMS=16",
                "--log-level",
                "WARNING",
            ],
        ),
        run("harvester x1", [sys.executable, str(HERE / "harvester_crawl.py"), "-c", str(args.concurrency)]),
        run(
            "harvester x2",
            [sys.executable, str(HERE / "harvester_crawl.py"), "-c", str(args.concurrency // 2), "-p", "2"],
        ),
    ]
    scrapy = results[0]
    print(
        f"\n{'crawler':<14}{'pages 200':>10}{'items':>8}{'pages/s':>10}{'CPU s':>8}{'peak RSS MB':>13}"
        f"{'x Scrapy pages/s':>18}{'x Scrapy RSS':>14}"
    )
    for result in results:
        print(
            f"{result['label']:<14}{result['pages_200']:>10}{result['items']:>8}{result['pages_per_s']:>10}"
            f"{result['cpu_s']:>8}{result['peak_rss_mb_total']:>13}"
            f"{result['pages_per_s'] / scrapy['pages_per_s']:>18.2f}"
            f"{result['peak_rss_mb_total'] / scrapy['peak_rss_mb_total']:>14.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
