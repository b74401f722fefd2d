"""benchmarks/rejudge.py: a noise.py folder's ab comparisons judged again at another alpha, look by look."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
from synthetic import predictions, write_run

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
HEADER = "method,slowdown_pct,condition,trial,exit,rounds,seconds,load_avg,settings\n"  # noise.py's outcomes.csv
#: Log ratios NEW/BASE of a fit, five rounds a batch: worse after 5 rounds at alpha 0.05 (3 looks), after 10 at 0.01.
LOGS = [0.10, 0.06, 0.12, 0.04, 0.08] * 2


def folder_of_one_ab(tmp_path: Path) -> Path:
    """A noise.py folder holding one interleaved ab, live at alpha 0.01: worse at its second look (10 of 15 rounds)."""
    truth = np.random.default_rng(0).integers(0, 10, size=2000)
    pred = predictions(truth)
    rows = [
        {"pipeline": "work", "pred": pred, "fit": [fit], "predict": [0.5], "columns": {"side": side, "ab_round": k}}
        for k, log in enumerate(LOGS, start=1)
        for side, fit in (("base", 1.0), ("new", math.exp(log)))
    ]
    write_run(tmp_path / "interleave-5-quiet-0.csv", truth, rows)
    command = "mnist-classic ab --base w0 --new w5 --mode interleave --rounds 5 --max-slowdown 1.03 --alpha 0.01 "
    command += "--max-rounds 15 --max-time 600 --pipelines work --output interleave-5-quiet-0.csv"
    rounds = [{"round": k, "seconds": {"base": 2.0, "new": 2.0}} for k in range(1, 11)]
    entry = {"command": command, "mode": "interleave", "looks": 3, "rounds": rounds}
    (tmp_path / "interleave-5-quiet-0.ab.json").write_text(json.dumps({"ab_runs": [entry]}))
    (tmp_path / "outcomes.csv").write_text(HEADER + "interleave,5,quiet,0,1,10,45.0,1.00,alpha=0.01\n")
    return tmp_path


def rejudge(folder: Path, alpha: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / "rejudge.py"), str(folder), "--alpha", alpha],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_live_alpha_gives_back_the_live_verdict_and_a_looser_one_stops_earlier(tmp_path):
    folder = folder_of_one_ab(tmp_path)
    same = rejudge(folder, "0.01")
    assert same.returncode == 0, same.stderr
    assert "| interleave | not run | not run | not run | not run | not run | 1 / 0 of 1 | not run | 10.0 | 45 s |" in (
        same.stdout
    )
    assert "0 of 1 differ from the live verdicts" in same.stdout
    looser = rejudge(folder, "0.05")
    assert "interleave +5% quiet #0: live worse in 10 rounds, now worse in 5 rounds" in looser.stdout
    assert "| 1 / 0 of 1 | not run | 5.0 | 25 s |" in looser.stdout  # 45 s less the 5 rounds' 20 s of runs


def test_a_stricter_alpha_that_needs_rounds_never_run_says_so(tmp_path):
    folder = folder_of_one_ab(tmp_path)
    stricter = rejudge(folder, "0.00001")
    assert "more rounds: 1 decided live would still be unknown at their last look" in stricter.stdout
    assert "live worse in 10 rounds, now more rounds" in stricter.stdout


def test_bad_input_is_one_line(tmp_path):
    for argv, message in ((["--alpha", "2"], "--alpha: expected a level between 0 and 1, got 2.0"), ([], "--alpha")):
        done = subprocess.run(
            [sys.executable, str(BENCHMARKS / "rejudge.py"), str(tmp_path), *argv], capture_output=True, text=True
        )
        assert done.returncode == 2 and message in done.stderr
    done = rejudge(tmp_path, "0.05")
    assert done.returncode == 2 and "expected a noise.py --out folder with an outcomes.csv" in done.stderr
