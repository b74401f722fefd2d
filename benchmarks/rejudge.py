"""What would ``ab`` have said at another ``--alpha``? Replays the sequential rounds of ``noise.py``'s comparisons.

    python benchmarks/rejudge.py DIR --alpha A [--conditions quiet,busy]

``DIR`` is a ``noise.py --out`` folder. For each ``ab`` comparison recorded in its
``outcomes.csv`` (``interleave`` and ``duet``), this judges the rounds the ab ran
as the ab judged them after each batch: ``ab --results`` on its first
``rounds x look`` rounds, at the ab's gate and time resolution, with alpha ``A``
split over the looks its ab planned; and it stops where the ab would have: at the
first look with no speed verdict unknown, or at the look the live ab ended on
when that ended on its ``--max-rounds`` or ``--max-time`` (an unknown).

The replay is exact where it stops within the rounds the ab ran: always when
``A`` is at least the live alpha (a looser test decides at the same look or an
earlier one, and the rounds up to that look are the ones it would have had);
when ``A`` is smaller, a comparison the live ab decided that is still unknown at
its last look would have needed rounds that were never run: it is shown as
``more rounds``, not guessed, unless the ab's budget was spent there (its
``--max-rounds``, or runs whose own wall seconds reach ``--max-time``: the ab's
clock counts those and more), where the replay's unknown is the ab's. The looks
are taken from the logged command (logs written before ab recorded them lack them).
A replay at the live alpha gives back every live verdict and round count (the
check of this script: it says how many differ).

Prints the ``noise.py`` table of the replayed verdicts (seconds per verdict: the
live seconds less the logged wall time of the rounds the replay did not need, a
duet round costing the longer of its two runs), then every comparison whose
verdict changed. Reads files and judges them; it times nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from noise import VERDICT, _outcomes, table

NOT_SPEED = ("accuracy", "status")  # an unknown of any other metric makes ab run another batch


def option(command: list[str], name: str) -> str | None:
    """The value of ``name`` in a logged ab command, if given."""
    return command[command.index(name) + 1] if name in command else None


def judge(csv_path: Path, log: dict, upto: int, argv: list[str]) -> list[tuple[str, str]]:
    """The (metric, verdict) of every row ``ab --results`` prints on the rounds up to ``upto``."""
    with tempfile.TemporaryDirectory() as tmp:
        part = Path(tmp) / csv_path.name
        with csv_path.open(newline="") as f, part.open("w", newline="") as g:
            reader = csv.DictReader(f)
            writer = csv.DictWriter(g, fieldnames=reader.fieldnames or [])
            writer.writeheader()
            writer.writerows(r for r in reader if int(r["ab_round"]) <= upto)
        runs = [{**e, "rounds": [r for r in e["rounds"] if r["round"] <= upto]} for e in log["ab_runs"]]
        kept = {**log, "ab_runs": runs}
        part.with_suffix(".ab.json").write_text(json.dumps(kept))
        predictions = csv_path.with_suffix(".predictions")  # what accuracy is judged on
        if predictions.exists():
            part.with_suffix(".predictions").symlink_to(predictions.resolve())
        done = subprocess.run(
            [sys.executable, "-m", "mnist_classic", "ab", "--results", str(part), "--format", "json", *argv],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode not in VERDICT:
        raise SystemExit(f"rejudge.py: ab --results {csv_path} failed: {done.stderr.strip().splitlines()[-1:]}")
    return [(r["metric"], r["verdict"]) for r in json.loads(done.stdout)["rows"]]


def replay(folder: Path, row: dict[str, str], alpha: float) -> dict[str, str]:
    """One comparison judged at ``alpha``: its outcome row with exit, rounds and seconds replaced ('' if unknowable)."""
    tag = f"{row['method']}-{row['slowdown_pct']}-{row['condition']}-{row['trial']}"
    csv_path = folder / f"{tag}.csv"
    log = json.loads(csv_path.with_suffix(".ab.json").read_text())
    command = shlex.split(log["ab_runs"][-1]["command"])
    batch = int(option(command, "--rounds") or 10)
    planned = int(option(command, "--max-rounds") or batch)
    # The looks the ab planned, from its command: logs written before ab recorded them have none.
    log = {**log, "ab_runs": [{**e, "looks": math.ceil(planned / batch)} for e in log["ab_runs"]]}
    argv = ["--alpha", str(alpha), "--max-slowdown", option(command, "--max-slowdown") or "1.10"]
    resolution = option(command, "--time-resolution")
    argv += ["--time-resolution", resolution] if resolution else []
    max_time = float(option(command, "--max-time") or "inf")
    cost = max if row["method"] == "duet" else sum  # a round's wall seconds: a duet's two runs went at once

    def spent(upto: int) -> float:
        """The wall seconds of the runs of the rounds up to ``upto`` (the ab's clock also counts what is between)."""
        return sum(cost(r["seconds"].values()) for e in log["ab_runs"] for r in e["rounds"] if r["round"] <= upto)

    ran = int(row["rounds"])
    last = math.ceil(ran / batch)
    for look in range(1, last + 1):
        upto = min(look * batch, ran)
        verdicts = judge(csv_path, log, upto, argv)
        speed = [v for m, v in verdicts if m not in NOT_SPEED]
        if "unknown" not in speed or look == last:
            break
    # Still unknown where the live ab decided: this alpha would have run another batch, unless the budget was spent
    # (its runs alone took --max-time, or --max-rounds were run). The rounds it would have had were never run.
    if "unknown" in speed and row["exit"] != "3" and upto < planned and spent(upto) < max_time:
        return {**row, "exit": ""}
    every = [v for _, v in verdicts]
    code = 1 if "worse" in every else 3 if "unknown" in every else 0
    saved = spent(ran) - spent(upto)
    return {**row, "exit": str(code), "rounds": str(upto), "seconds": f"{float(row['seconds']) - saved:.1f}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a noise.py --out folder")
    parser.add_argument("--alpha", type=float, required=True, help="the alpha to judge every ab comparison at")
    parser.add_argument("--conditions", default="quiet,busy", help="judge only these comparisons: quiet, busy or both")
    args = parser.parse_args()
    if not 0 < args.alpha < 1:
        parser.error(f"--alpha: expected a level between 0 and 1, got {args.alpha!r}")
    if not args.conditions or set(args.conditions.split(",")) - {"quiet", "busy"}:
        parser.error(f"--conditions: expected quiet, busy or quiet,busy, got {args.conditions!r}")
    log = args.folder / "outcomes.csv"
    if not log.is_file():
        parser.error(f"folder: expected a noise.py --out folder with an outcomes.csv, got {str(args.folder)!r}")
    conditions = args.conditions.split(",")
    live = [r for r in _outcomes(log) if r["method"] in ("interleave", "duet") and r["condition"] in conditions]
    again = [replay(args.folder, r, args.alpha) for r in live]
    known = [r for r in again if r["exit"]]
    print(f"Judged again at alpha {args.alpha:g} (split over each ab's looks): {len(again)} ab comparisons.")
    print("Each cell: worse / unknown of comparisons (A/A: false worse / unknown).\n")
    print("\n".join(table(known, [m for m in ("interleave", "duet") if any(r["method"] == m for r in known)])))
    more = [r for r in again if not r["exit"]]
    if more:
        print(f"\nmore rounds: {len(more)} decided live would still be unknown at their last look (not in the table)")
    changed = [(a, b) for a, b in zip(live, again, strict=True) if (a["exit"], a["rounds"]) != (b["exit"], b["rounds"])]
    print(f"\n{len(changed)} of {len(live)} differ from the live verdicts:")
    for a, b in changed:
        now = f"{VERDICT[int(b['exit'])]} in {b['rounds']} rounds" if b["exit"] else "more rounds"
        print(
            f"  {a['method']} +{a['slowdown_pct']}% {a['condition']} #{a['trial']}: "
            f"live {VERDICT[int(a['exit'])]} in {a['rounds']} rounds, now {now}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
