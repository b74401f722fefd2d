"""The evidence for wall-time verdicts on a shared machine: false alarms, detection, and time to a verdict.

    python benchmarks/noise.py [--methods sequential,interleave,duet,instructions] [--comparisons 20]
                               [--trials 5] [--n-train 5000] [--n-test 2000] [--rounds 10]
                               [--units 1000] [--sizes 15,10,5] [--max-slowdown 1.03] [--out DIR]
                               [--runs 3] [--max-rounds N] [--max-time SEC] [--conditions quiet,busy]
                               [--time-resolution SEC] [--alpha A] [--table]

Each method compares a baseline and a new version of one pipeline, ``work``
(a user's package: a fixed number of units of deterministic one-thread work in
``fit``, then a nearest-centroid classifier; the new version does 5%, 10% or 15%
more units, or the same):

- ``sequential``: ``--runs`` plain ``run``s per side (3 repeats each, warm-up
  and machine state as every run has them), judged by ``compare`` over the runs;
- ``interleave`` and ``duet``: ``mnist-classic ab`` on the two versions
  installed as packages (``--rounds`` rounds, randomized order or both at once;
  with ``--max-rounds``, sequential rounds up to that many, ``--max-time`` each);
- ``instructions``: two ``run --measure instructions`` (one repeat each), judged by ``compare``.

Every comparison runs with ``--fail-on-unknown``, so its exit says its verdict:
1 worse, 3 unknown, 0 same. Per method it prints: false ``worse`` and
``unknown`` over ``--comparisons`` A/A comparisons (half of them beside a
process that keeps one core busy, started and ended by this script), how often
a 5%, 10% and 15% slowdown are found (``worse``) and left ``unknown`` (``--trials``
each, quiet and busy), the mean rounds of an ``ab`` verdict and the mean
seconds per verdict; the load average at each comparison's end is in the log. Every comparison,
A/A included, is judged at one gate, ``--max-slowdown`` (default 1.03: the
default gate, 1.10, is above a 5% slowdown, which could then never be found), and
at one ``--time-resolution`` when given (else ``ab``'s and ``compare``'s default,
0.05 s, under which a 5% slowdown of a fit under a second can be called same),
and at one ``--alpha`` when given (else ``ab`` at 0.05, its default when the README's table was
made, and ``compare`` at its default, 0.01: so that folders made then resume as they were made).
Each comparison is appended to ``DIR/outcomes.csv`` as it ends (method, size,
condition, trial, exit, rounds, seconds, load average, the settings), and the
table is made from that file: run again with the same ``--out DIR`` and the
same settings, the script runs only the comparisons not yet recorded there (more
``--comparisons`` or ``--trials`` add to the table; a folder made with other
settings is refused); ``--table`` prints the table of ``DIR`` and runs nothing.
``--conditions quiet`` runs only the quiet comparisons (A/A and slowdowns), so
that the quiet cells, where the goals are, can grow first; a later run adds the busy ones
(with ``--table``, it prints the table of those comparisons only).
Run it alone.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from workload import package_source, plugin_source

PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "noise-work"
version = "{version}"
dependencies = ["mnist-classic"]

[project.entry-points."mnist_classic.pipelines"]
work = "noise_work:register"
"""


def make_versions(folder: Path, units: int) -> dict[str, dict[str, Path]]:
    """For each size (0, 0.05, 0.10, 0.15): a plugin file and an installable package of ``work``."""
    out: dict[str, dict[str, Path]] = {}
    for label, extra in (("0", 0.0), ("5", 0.05), ("10", 0.10), ("15", 0.15)):
        root = folder / f"work{label}"
        (root / "noise_work").mkdir(parents=True, exist_ok=True)
        (root / "noise_work" / "__init__.py").write_text(package_source(extra, units))
        (root / "pyproject.toml").write_text(PYPROJECT.format(version=f"1.0.{label}"))
        plugin = folder / f"plugin{label}" / "work_plugin.py"
        plugin.parent.mkdir(exist_ok=True)
        plugin.write_text(plugin_source(extra, units))
        out[label] = {"package": root, "plugin": plugin}
    return out


def cli(*argv: str) -> int:
    """Run ``mnist-classic ARGV`` to its end; its exit code (a misuse or a crash is said, in one line)."""
    code, err = run_child([sys.executable, "-m", "mnist_classic", *argv])
    if code not in (0, 1, 3):  # a misuse or a crash is not a verdict: say what it was
        print(f"exit {code} from {argv[0]}: {err.strip().splitlines()[-1:]}", flush=True)
    return code


def stop_on_term() -> None:
    """A TERM (kill, pkill) ends the script through its finally blocks: the busy neighbour and the running command."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def run_child(command: list[str]) -> tuple[int, str]:
    """Run ``command`` to its end, its output captured; its exit code and standard error.

    Stopping this script (TERM, Ctrl-C) ends the command and every process it
    started (``ab``'s runs, a run's workers): the command runs in a session of
    its own, whose process group is killed when the wait is interrupted. The
    wait wakes every second, because a TERM can reach one of numpy's BLAS
    threads rather than the main thread, whose handler then runs only when the
    main thread next runs Python code (seen: over 40 s, an ``ab`` going on to
    its next rounds).
    """
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as child:
        try:
            while True:
                try:
                    _, err = child.communicate(timeout=1.0)
                    return child.returncode, err
                except subprocess.TimeoutExpired:
                    continue
        except BaseException:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:  # the group is gone already
                pass
            raise


def clear_leftovers(folder: Path, tag: str) -> list[str]:
    """Remove what a comparison ``tag`` stopped before its verdict left in ``folder``; return the names removed.

    Only comparisons not in ``outcomes.csv`` run, so whatever their files hold is
    an unfinished attempt (the script stopped, or a crash): a second attempt must
    start from nothing, not append its rounds or runs to the first one's.

    Examples
    --------
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("duet-0-busy-1.csv", "duet-0-busy-11.csv", "sequential-5-quiet-0-a/run0.csv"):
    ...     (folder / name).parent.mkdir(exist_ok=True)
    ...     _ = (folder / name).write_text("")
    >>> clear_leftovers(folder, "duet-0-busy-1"), clear_leftovers(folder, "sequential-5-quiet-0")
    (['duet-0-busy-1.csv'], ['sequential-5-quiet-0-a'])
    >>> sorted(p.name for p in folder.iterdir())
    ['duet-0-busy-11.csv']
    """
    removed = []
    for path in sorted([*folder.glob(f"{tag}.*"), folder / f"{tag}-a", folder / f"{tag}-b"]):
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        removed.append(path.name)
    return removed


def method(name: str, args: argparse.Namespace, versions: dict[str, dict[str, Path]], folder: Path) -> Callable:
    """A function (base, new, tag) -> (the verdict's exit code, rounds or runs a side) for one comparison."""
    size = ["--n-train", str(args.n_train), "--n-test", str(args.n_test), "-q"]
    resolution = [] if args.time_resolution is None else ["--time-resolution", str(args.time_resolution)]
    resolution += [] if args.alpha is None else ["--alpha", str(args.alpha)]
    # ab's default alpha was 0.05 until d042293: a folder made without --alpha keeps it, whatever ab's default now.
    ab_alpha = ["--alpha", "0.05"] if args.alpha is None else []

    def runs(base: str, new: str, tag: str, extra: list[str]) -> tuple[int, int]:
        clear_leftovers(folder, tag)
        a, b = folder / f"{tag}-a", folder / f"{tag}-b"
        n = 1 if extra else args.runs  # counts: one run a side decides, of one repeat (a count repeats exactly)
        repeats = "1" if extra else "3"
        for k in range(n):  # the sides' runs alternate, so that a slow spell of the machine meets both
            for label, out in ((base, a), (new, b)):
                plugin = str(versions[label]["plugin"])
                argv = ["run", "--pipelines", "work", "--plugin", plugin, "--repeats", repeats, *size, *extra]
                cli(*argv, "-o", str(out / f"run{k}.csv"))
        gate = ["--max-slowdown", str(args.max_slowdown), "--fail-on-unknown", *resolution]
        return cli("compare", str(a), str(b), *gate), n

    def ab(base: str, new: str, tag: str, mode: str) -> tuple[int, int]:
        reqs = [str(versions[base]["package"]), str(versions[new]["package"])]
        argv = ["ab", "--base", reqs[0], "--new", reqs[1], "--mode", mode, "--rounds", str(args.rounds)]
        argv += ["--max-slowdown", str(args.max_slowdown), "--fail-on-unknown", *resolution, *ab_alpha]
        if args.max_rounds:
            argv += ["--max-rounds", str(args.max_rounds)]
            argv += ["--max-time", str(args.max_time)] if args.max_time else []
        out = folder / f"{tag}.csv"
        clear_leftovers(folder, tag)
        code = cli(*argv, "--pipelines", "work", *size, "--output", str(out))
        rounds = 0
        if out.exists():
            with out.open(newline="") as f:
                rounds = max((int(r["ab_round"]) for r in csv.DictReader(f)), default=0)
        return code, rounds

    return {
        "sequential": lambda b, n, t: runs(b, n, t, []),
        "instructions": lambda b, n, t: runs(b, n, t, ["--measure", "instructions"]),
        "interleave": lambda b, n, t: ab(b, n, t, "interleave"),
        "duet": lambda b, n, t: ab(b, n, t, "duet"),
    }[name]


def evaluate(name: str, compare_once: Callable, args: argparse.Namespace, log: Path, settings: str) -> None:
    """Run one method's comparisons (A/A, then each size, quiet and busy) not yet in ``log``, appending each."""
    done = {(r["slowdown_pct"], r["condition"], int(r["trial"])) for r in _outcomes(log) if r["method"] == name}

    def once(new: str, busy: bool, i: int) -> None:
        condition = "busy" if busy else "quiet"
        if (new, condition, i) in done:  # recorded by an earlier run of the script into this folder
            return
        if condition not in args.conditions.split(","):
            return
        neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            t0 = time.perf_counter()
            code, k = compare_once("0", new, f"{name}-{new}-{condition}-{i}")
            seconds = time.perf_counter() - t0
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()
        if code not in VERDICT:  # a misuse or a crash is no verdict: not recorded, so that a second run retries it
            print(f"{name}: +{new}% {condition} #{i}: exit {code} (error, not recorded)", flush=True)
            return
        with log.open("a") as f:
            f.write(f"{name},{new},{condition},{i},{code},{k},{seconds:.1f},{os.getloadavg()[0]:.2f},{settings}\n")
        print(f"{name}: +{new}% {condition} #{i}: exit {code} ({VERDICT[code]})", flush=True)

    for i in range(args.comparisons):
        once("0", i % 2 == 1, i)
    for new in args.sizes.split(","):
        for busy in (False, True):
            for i in range(args.trials):
                once(new, busy, i)


def _outcomes(log: Path) -> list[dict[str, str]]:
    """The comparisons recorded in ``log`` (``outcomes.csv``), oldest first."""
    with log.open(newline="") as f:
        return list(csv.DictReader(f))


def table(rows: list[dict[str, str]], methods: list[str]) -> list[str]:
    """The README's table (markdown) from recorded comparisons: one line per method, in ``methods``' order.

    A cell is ``worse / unknown of n`` (A/A: false worse / unknown); then the mean rounds (``ab``) or
    runs a side (the others), and the mean seconds per verdict, over every comparison of the method.

    Examples
    --------
    >>> rows = [dict(method="duet", slowdown_pct="0", condition="busy", exit="3", rounds="20", seconds="200"),
    ...         dict(method="duet", slowdown_pct="15", condition="quiet", exit="1", rounds="10", seconds="100")]
    >>> table(rows, ["duet"])[-1]
    '| duet | 0 / 1 of 1 | 1 / 0 of 1 | not run | not run | not run | not run | not run | 15.0 | 150 s |'
    """
    lines = [
        "| method | A/A | 15% quiet | 15% busy | 10% quiet | 10% busy | 5% quiet | 5% busy "
        "| rounds or runs a side | time per verdict |",
        "|---|---|---|---|---|---|---|---|---:|---:|",
    ]
    for name in methods:
        mine = [r for r in rows if r["method"] == name]
        if not mine:
            continue
        codes: dict[tuple[str, str], list[int]] = {}
        for r in mine:
            codes.setdefault((r["slowdown_pct"], r["condition"]), []).append(int(r["exit"]))
        aa = codes.get(("0", "quiet"), []) + codes.get(("0", "busy"), [])
        cells = [aa] + [codes.get((n, c), []) for n in ("15", "10", "5") for c in ("quiet", "busy")]
        text = [f"{v.count(1)} / {v.count(3)} of {len(v)}" if v else "not run" for v in cells]
        rounds = statistics.mean(float(r["rounds"]) for r in mine)
        seconds = statistics.mean(float(r["seconds"]) for r in mine)
        lines.append(f"| {name} | {' | '.join(text)} | {rounds:.1f} | {seconds:.0f} s |")
    return lines


VERDICT = {0: "same", 1: "worse", 3: "unknown"}
HEADER = "method,slowdown_pct,condition,trial,exit,rounds,seconds,load_avg,settings\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="sequential,interleave,duet,instructions")
    parser.add_argument("--comparisons", type=int, default=20, help="A/A comparisons, half beside a busy process")
    parser.add_argument("--trials", type=int, default=5, help="comparisons per slowdown size and condition")
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--units", type=int, default=1000, help="units of work in fit (1000: 2-4 s at 5,000 images)")
    parser.add_argument("--sizes", default="15,10,5", help="the slowdowns to detect, in percent: any of 15, 10, 5")
    parser.add_argument("--max-slowdown", type=float, default=1.03, help="the gate of every comparison")
    parser.add_argument("--out", default=None)
    parser.add_argument("--runs", type=int, default=3, help="sequential: runs per side (compare judges over runs)")
    parser.add_argument("--max-rounds", type=int, default=None, help="ab: sequential rounds up to this many")
    parser.add_argument("--max-time", type=float, default=None, help="ab: no batch of rounds after SEC seconds")
    parser.add_argument(
        "--conditions", default="quiet,busy", help="run (and with --table, show) only these: quiet, busy or both"
    )
    parser.add_argument(
        "--time-resolution",
        type=float,
        default=None,
        metavar="SEC",
        help="the --time-resolution of every ab and compare (default: theirs, 0.05 s)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=None,
        metavar="A",
        help="the --alpha of every ab and compare (default: ab 0.05, as when the README's table was made; "
        "compare its own, 0.01)",
    )
    parser.add_argument("--table", action="store_true", help="print the table of the comparisons in --out; run none")
    args = parser.parse_args()
    if args.table and not args.out:
        parser.error("--table: needs --out DIR, the folder of an earlier run (its outcomes.csv)")
    unknown = set(args.methods.split(",")) - {"sequential", "interleave", "duet", "instructions"}
    if unknown:
        parser.error(f"--methods: expected some of sequential, interleave, duet, instructions, got {args.methods!r}")
    if not args.sizes or set(args.sizes.split(",")) - {"15", "10", "5"}:
        parser.error(f"--sizes: expected some of 15, 10, 5 separated by commas, got {args.sizes!r}")
    if not args.conditions or set(args.conditions.split(",")) - {"quiet", "busy"}:
        parser.error(f"--conditions: expected quiet, busy or quiet,busy, got {args.conditions!r}")
    if args.time_resolution is not None and not args.time_resolution >= 0:
        parser.error(f"--time-resolution: expected seconds >= 0, got {args.time_resolution!r}")
    if args.alpha is not None and not 0 < args.alpha < 1:
        parser.error(f"--alpha: expected a level between 0 and 1, got {args.alpha!r}")
    stop_on_term()
    folder = Path(args.out or tempfile.mkdtemp(prefix="noise-"))
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "outcomes.csv"
    methods = args.methods.split(",")
    # What makes two comparisons the same experiment: a folder resumed with other settings is refused.
    keys = ("n_train", "n_test", "rounds", "units", "max_slowdown", "runs", "max_rounds", "max_time")
    if args.time_resolution is not None:  # only when given, so that folders made before this option still resume
        keys += ("time_resolution",)
    if args.alpha is not None:  # the same: only when given
        keys += ("alpha",)
    settings = " ".join(f"{k}={getattr(args, k)}" for k in keys)
    if not log.exists():
        log.write_text(HEADER)
    elif log.read_text().splitlines()[:1] != [HEADER.strip()]:
        sys.exit(f"noise.py: {log} is not an outcomes file of this script (its header differs); use another --out")
    other = {r["settings"] for r in _outcomes(log)} - {settings}
    if other:
        sys.exit(
            f"noise.py: {log} holds comparisons made with {sorted(other)[0]!r}, not {settings!r}: use another --out"
        )
    if not args.table:
        versions = make_versions(folder, args.units)
        for name in methods:
            evaluate(name, method(name, args, versions, folder), args, log, settings)
    print(f"\n{settings}; outcomes in {log}")
    print("Each cell: worse / unknown of comparisons (A/A: false worse / unknown).\n")
    shown = [r for r in _outcomes(log) if r["condition"] in args.conditions.split(",")]
    print("\n".join(table(shown, methods)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
