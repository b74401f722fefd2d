"""The explorer at full size: ten cases on the 10,000 MNIST test images, its file size and the time to open it.

Makes ten real cases (``knn`` with n_neighbors 1, 3, 5, 7, 9 and uniform or
distance weights, trained on the first 2,000 images, tested on all 10,000),
or takes results CSVs (``--results``, ``--cases``); writes their explorer page, then opens
it in headless Chromium (Debian's ``/usr/bin/chromium``, through Playwright, as
the tests do) ``--rounds`` times, each in a fresh offline context, and prints
the file size and, from the page's own performance timing, the milliseconds
from navigation start to the load event's end and to the page drawn (the
``explore-ready`` mark: data inflated, tables, matrices and the first galleries
drawn). Then it clicks the largest off-diagonal cell of case A's confusion
matrix and times the click's handler in the page (its gallery built and drawn
on the canvases, before the browser paints). Fails on any console error or request. The 1-minute load
average is printed: on a shared machine, times are upper bounds.

Usage::

    python benchmarks/explorer_open.py [--rounds 5] [--results CSV ...] [--cases NAME ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' browser set-up, shared

from browser import OpenedPage, biggest_error_cell, chromium

from mnist_classic.analysis.explore.explorer import explore
from mnist_classic.cli import main as cli

TEN = "knn[n_neighbors=[1,3,5,7,9],weights=[uniform,distance]]"


def _summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.0f} ms (min {min(values):.0f}, max {max(values):.0f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="times the page is opened (default 5)")
    parser.add_argument("--results", nargs="+", default=None, help="results CSVs to explore (default: make ten cases)")
    parser.add_argument("--cases", nargs="+", default=None, help="the cases to explore (default: all)")
    parser.add_argument("--out", default=None, help="folder for the CSV and the page (default: a temporary one)")
    args = parser.parse_args(argv)
    folder = Path(args.out or tempfile.mkdtemp(prefix="explorer-open-"))
    csvs = [Path(r) for r in args.results] if args.results else [folder / "ten.csv"]
    if not args.results and not csvs[0].exists():
        code = cli(["run", "--pipelines", TEN, "--n-train", "2000", "--output", str(csvs[0]), "-q"])
        if code:
            return code
    t0 = time.perf_counter()
    page_path = explore(csvs, out=folder, cases=args.cases)
    written = time.perf_counter() - t0
    size = page_path.stat().st_size
    load, ready, click = [], [], []
    with chromium() as browser:
        for _ in range(args.rounds):
            opened = OpenedPage(browser, page_path)
            timing = opened.timing()
            load.append(timing["load"])
            ready.append(timing["ready"])
            t, p = biggest_error_cell(opened.page, "confusion-a")
            cell = f'#confusion-a td[data-t="{t}"][data-p="{p}"]'
            click.append(  # the click handler's time, in the page: the gallery's images drawn, before paint
                opened.page.evaluate(
                    "(sel) => { const t0 = performance.now(); document.querySelector(sel).click(); "
                    "return performance.now() - t0; }",
                    cell,
                )
            )
            if opened.problems:
                print("problems:", *opened.problems, sep="\n  ", file=sys.stderr)
                return 1
            cases = opened.page.locator("#case-table tr[data-case]").count()
            n = opened.page.evaluate("JSON.parse(document.getElementById('explore-data').textContent).n_test")
            opened.close()
    print(f"page: {page_path} ({cases} cases, {n:,} test images), written in {written:.2f} s")
    print(f"size: {size:,} bytes ({size / 2**20:.2f} MiB)")
    print(f"load event end: {_summary(load)}")
    print(f"page drawn (explore-ready): {_summary(ready)}")
    print(f"click on the largest error cell of case A, its handler: {_summary(click)}")
    print(f"load average (1 min): {os.getloadavg()[0]:.2f}; {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
