"""``run --processes P``: the run P times in fresh processes, into one output, as P runs that compare judges over."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mnist_classic import read_results
from mnist_classic.cli import main


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mnist_classic", *args], capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_three_processes_write_three_runs_that_compare_judges_over(tmp_path):
    out = tmp_path / "r.csv"
    small = ["--pipelines", "dummy", "--n-train", "100", "--n-test", "100", "--repeats", "2", "--latency", "0"]
    proc = _cli("run", *small, "--processes", "3", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "process 3 of 3" in proc.stdout and "3 runs, one per process" in proc.stdout
    rows = read_results(out)
    assert len(rows) == 6 and rows["run_id"].nunique() == 3
    assert rows.groupby("run_id")["process_id"].nunique().eq(1).all()  # one process per run...
    assert rows["process_id"].nunique() == 3  # ... and a fresh one for each
    assert rows.groupby("run_id")["repeat"].apply(sorted).map(list).tolist() == [[0, 1]] * 3
    # Against itself: 3 runs a side give compare its interval over the runs; one run a side gives none.
    one = tmp_path / "one.csv"
    assert _cli("run", *small, "-o", str(one)).returncode == 0
    for path, runs in ((out, 3), (one, 1)):
        judged = _cli("compare", str(path), str(path), "--format", "json")
        assert judged.returncode == 0, judged.stderr
        fit = next(r for r in json.loads(judged.stdout)["rows"] if r["metric"] == "fit_time_s")
        assert (fit["ci"] is not None) == (runs > 1), fit


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--processes", "0"], "The 'processes' parameter must be a positive int (runs in fresh processes). Got 0"),
        (["--processes", "2", "--resume"], "The 'processes' parameter does not go with 'resume'"),
        (["--processes", "2", "--repeats", "0"], "'repeats' parameter must be a positive int"),
    ],
)
def test_bad_processes_are_refused_in_one_line_before_any_process_starts(tmp_path, capsys, extra, message):
    out = tmp_path / "r.csv"
    code = main(["run", "--pipelines", "dummy", "--n-train", "100", "--n-test", "100", "-o", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not out.exists()  # nothing written
