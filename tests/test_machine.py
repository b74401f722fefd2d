"""Clean timings and the machine's state: warm-up, CPU seconds, load and speed per case, and compare that knows them.

Two tests start a busy neighbour on purpose (``python -c "while True: pass"``,
killed by its pid when the test ends) to see the machine's state move.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
from synthetic import predictions, write_run

from mnist_classic.analysis.runs import load_runs
from mnist_classic.analysis.verdicts.compare import compare_runs
from mnist_classic.analysis.verdicts.machine import speed_note, threads_note
from mnist_classic.bench.case import Case, forget_warmups, run_case
from mnist_classic.cli import main
from mnist_classic.measure.machine import MachineWatch, calibrate, free_cores
from mnist_classic.spec.selectors.parse import parse_selector

N = 2_000
QUIET = {"others_cores": 0.05, "steal_fraction": 0.0, "calibration_s": 0.0100}


@pytest.fixture(scope="module")
def truth():
    return np.random.default_rng(0).integers(0, 10, size=N)


@contextmanager
def busy_neighbour():
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _side(tmp_path, truth, name, fit, columns, pred=None, runs=3):
    """``runs`` runs of a side (a folder of CSVs: the run is the unit a time verdict replicates), a little apart."""
    folder = tmp_path / name
    folder.mkdir()
    for k in range(runs):
        case = {"pipeline": "work", "pred": predictions(truth, 1900) if pred is None else pred}
        case["fit"], case["columns"] = [t * (1 + 0.01 * k) for t in fit], columns
        write_run(folder / f"run{k}.csv", truth, [case], run_id=f"{name}{k}")
    return load_runs([folder])


def _fit(cmp):
    return next(r for r in cmp.rows if r.metric == "fit_time_s")


def test_a_real_slowdown_on_a_quiet_machine_is_found(tmp_path, truth):
    base = _side(tmp_path, truth, "base", [10.0, 10.3, 10.1], QUIET)
    new = _side(tmp_path, truth, "new", [13.0, 13.2, 12.9], QUIET)
    cmp = compare_runs(base, new)
    assert _fit(cmp).verdict == "worse" and cmp.exit_code() == 1


def test_a_busy_neighbour_is_not_judged(tmp_path, truth, capsys):
    base = write_run(tmp_path / "base.csv", truth, [_case(truth, [10.0, 10.3, 10.1], QUIET)])
    busy = {**QUIET, "others_cores": 1.0}
    new = write_run(tmp_path / "new.csv", truth, [_case(truth, [23.0, 21.2, 22.9], busy)])
    assert main(["compare", str(base), str(new)]) == 0
    out = capsys.readouterr().out
    assert "not judged: other processes used 1.0 cores during the new runs" in out
    assert "time verdict(s) not judged: the machine differed" in out


def _case(truth, fit, columns):
    return {"pipeline": "work", "pred": predictions(truth, 1900), "fit": fit, "columns": columns}


def test_a_slower_machine_by_its_speed_index_is_not_judged(tmp_path, truth):
    base = _side(tmp_path, truth, "base", [10.0, 10.3, 10.1], QUIET)
    new = _side(tmp_path, truth, "new", [13.0, 13.2, 12.9], {**QUIET, "calibration_s": 0.0135})
    fit = _fit(compare_runs(base, new))
    assert fit.verdict == "unknown" and "speed index differs (x1.35)" in fit.note


# The speed index of one quiet run on the reference VM (ms, one value per case and repeat): two groups.
_FAST_RUN = [6.42, 4.90, 6.71, 4.87, 6.74, 4.69, 4.76, 6.29, 6.58, 6.23, 4.61, 4.63, 4.87, 4.58, 6.64, 4.97, 6.38, 4.66]
_SLOW_RUN = [6.56, 5.17, 6.74, 6.77, 6.87, 6.81, 5.44, 5.74, 5.14, 5.08, 6.60, 6.58, 6.54, 6.68, 6.73, 6.34, 4.80, 6.52]


def _index(ms):
    return pd.DataFrame({"calibration_s": np.asarray(ms) / 1000})


def test_the_speed_index_is_judged_over_whole_runs():
    # Two real runs a minute apart, both quiet: the first one's machine was faster (its pca_svm, rf times too).
    assert speed_note(_index(_FAST_RUN), _index(_SLOW_RUN)) == "not judged: the machine's speed index differs (x1.33)"
    # The same values in another order: one run's index against itself never differs, though its spread is ~45%.
    assert speed_note(_index(_SLOW_RUN), _index(_SLOW_RUN[::-1])) == ""
    # Medians apart by x1.36 only because two groups swapped majorities (10:8, then 8:10): the test does not find it.
    fast = [4.60, 4.65, 4.70, 4.75, 4.80, 4.85, 4.90, 4.95, 5.00, 5.05]
    slow = [6.40, 6.45, 6.50, 6.55, 6.60, 6.65, 6.70, 6.75]
    assert speed_note(_index(fast + slow), _index(fast[:8] + slow + [6.8, 6.85])) == ""
    # The whole set 11% slower is found.
    assert speed_note(_index(_SLOW_RUN), _index(np.asarray(_SLOW_RUN) * 1.11)).endswith("(x1.11)")
    # Too few values to test (older files, one case): the difference must exceed either side's spread.
    assert speed_note(_index([10.0, 10.1, 10.0]), _index([13.5, 13.5, 13.4])).endswith("(x1.35)")
    assert speed_note(_index([6.4, 4.9, 6.7]), _index([6.5, 6.6, 6.8])) == ""


def test_fewer_threads_are_not_a_code_change(tmp_path, truth):
    base = _side(tmp_path, truth, "base", [10.0, 10.3, 10.1], QUIET)
    # one thread on the new side; and its predictions moved a lot (as thread-dependent pipelines' do, a little)
    new = _side(
        tmp_path, truth, "new", [19.0, 19.2, 18.9], {**QUIET, "fit_threads": 1, "predict_threads": 1},
        pred=predictions(truth, 1800),
    )  # fmt: skip
    cmp = compare_runs(base, new)
    assert _fit(cmp).verdict == "unknown" and _fit(cmp).note == "not judged: threads differ (all vs 1)"
    acc = next(r for r in cmp.rows if r.metric == "accuracy")
    assert acc.verdict == "same" and "predictions move with the thread count; not judged" in acc.note
    assert cmp.exit_code() == 0


def test_one_repeat_on_fewer_threads_does_not_make_a_side_differ():
    # A quiet run whose free-core sample saw a brief neighbour before one repeat: the median is every core.
    quiet = pd.DataFrame({"fit_threads": [np.nan, np.nan, 1.0]})
    assert threads_note(quiet, pd.DataFrame({"fit_threads": [np.nan] * 3}), "fit") == ""
    assert threads_note(pd.DataFrame({"x": [1]}), quiet, "fit") == ""  # older rows: no column, every core
    assert threads_note(pd.DataFrame({"fit_threads": [1.0, 1, np.nan]}), quiet, "fit") == "threads differ (1 vs all)"


def test_rows_without_machine_columns_are_judged_as_before(tmp_path, truth):
    base = _side(tmp_path, truth, "base", [10.0, 10.3, 10.1], {})
    new = _side(tmp_path, truth, "new", [13.0, 13.2, 12.9], {})
    assert _fit(compare_runs(base, new)).verdict == "worse"


def test_one_run_per_side_is_unknown_however_far_apart(tmp_path, truth, capsys):
    # The reference VM ran the same svm predict at 9.0 s and 12.8 s in two runs: one run per side cannot tell.
    base = write_run(tmp_path / "base.csv", truth, [_case(truth, [9.0, 9.1, 9.0], QUIET)])
    new = write_run(tmp_path / "new.csv", truth, [_case(truth, [12.8, 12.9, 12.8], QUIET)])
    assert main(["compare", str(base), str(new)]) == 0
    out = capsys.readouterr().out
    assert "unknown (1 run(s) vs 1: the run-to-run spread is not measured" in out
    assert "1 verdict(s) unknown" in out
    assert main(["compare", str(base), str(new), "--fail-on-unknown"]) == 3


def test_a_case_records_warm_up_cpu_seconds_and_the_machine(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.random((300, 16)).astype(np.float32), np.arange(300) % 3
    case = Case(0, parse_selector("sklearn.linear_model:LogisticRegression[max_iter=50]"), 300, 0, 0)
    forget_warmups()  # as a run does when it starts
    first = run_case(case, X, y, X[:50], y[:50], warmup="small", machine=True)
    again = run_case(case, X, y, X[:50], y[:50], warmup="small", machine=True)
    assert first["status"] == "ok" and first["warmup"] == "small" and again["warmup"] == "warm"
    assert first["fit_cpu_s"] > 0 and first["predict_cpu_s"] >= 0
    assert first["calibration_s"] > 0 and 0 <= first["others_cores"] <= (os.cpu_count() or 1)
    assert first["load_avg"] >= 0
    plain = run_case(case, X, y, X[:50], y[:50])
    assert "warmup" not in plain and "others_cores" not in plain


def test_a_run_records_the_columns(tmp_path, capsys):
    out = tmp_path / "r.csv"
    argv = ["run", "--pipelines", "dummy", "--n-train", "200", "--n-test", "100", "--repeats", "2", "-o", str(out)]
    assert main([*argv, "-q"]) == 0
    df = pd.read_csv(out)
    assert list(df["warmup"]) == ["small", "warm"]
    assert df["calibration_s"].notna().all() and df["others_cores"].notna().all() and df["fit_cpu_s"].notna().all()
    assert set(df["measure"]) == {"time"}
    assert main([*argv, "--warmup", "none", "--threads", "all", "-q", "-o", str(tmp_path / "n.csv")]) == 0
    none = pd.read_csv(tmp_path / "n.csv")
    assert none["warmup"].isna().all() and none["fit_threads"].isna().all()
    assert main([*argv, "--warmup", "some"]) == 2
    assert "invalid choice: 'some'" in capsys.readouterr().err


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores to leave one free")
def test_free_cores_and_the_watch_see_a_busy_neighbour():
    with busy_neighbour():
        assert free_cores() <= (os.cpu_count() or 1) - 1
        with MachineWatch() as watch:
            time.sleep(1.0)
    assert watch.values["others_cores"] >= 0.6
    assert calibrate() > 0


# A side of a duet: enters the watch, says so, leaves it when told, prints its others_cores.
_SIDE = """
import sys
from mnist_classic.measure.machine import MachineWatch
with MachineWatch() as watch:
    print("in", flush=True)
    sys.stdin.readline()
print(watch.values["others_cores"], flush=True)
"""


def _watched_beside_a_partner(duet: bool, partner_ends: bool) -> float:
    """others_cores of a process whose sibling (another child of this test, as ab's two sides are) kept a core busy."""
    env = {k: v for k, v in os.environ.items() if k != "MNIST_CLASSIC_DUET"}
    env |= {"MNIST_CLASSIC_DUET": "1"} if duet else {}
    side = subprocess.Popen(
        [sys.executable, "-c", _SIDE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    assert side.stdout is not None and side.stdin is not None
    assert side.stdout.readline().strip() == "in"
    work = "import time\nt = time.perf_counter()\nwhile time.perf_counter() - t < 0.8: pass"
    partner = subprocess.Popen([sys.executable, "-c", work if partner_ends else "while True: pass"])
    try:
        if partner_ends:
            partner.wait()  # reaped, as ab reaps the side that ends first: its seconds move to our children times
        else:
            time.sleep(0.8)
        out, _ = side.communicate("go\n", timeout=60)
    finally:
        partner.kill()
        partner.wait()
    return float(out.strip())


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores: a side and its partner, each on one")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a reaped child's times: Linux's accounting")
@pytest.mark.parametrize("partner_ends", [False, True], ids=["partner running", "partner ended and reaped"])
def test_a_duet_side_does_not_count_the_other_side_as_load(partner_ends):
    plain = _watched_beside_a_partner(duet=False, partner_ends=partner_ends)
    duet = _watched_beside_a_partner(duet=True, partner_ends=partner_ends)
    assert plain >= 0.5  # the busy sibling is "other processes" for a plain run ...
    assert duet <= plain - 0.4  # ... and not for a side of a duet, whether it is still running or has ended


def test_the_watch_records_the_process_and_its_cpu():
    with MachineWatch() as watch:
        pass
    assert watch.values["process_id"] == os.getpid()
    cpu = watch.values["cpu"]
    assert cpu is None or 0 <= cpu < (os.cpu_count() or 1)


def test_the_free_core_monitor_sleeps_only_when_its_window_is_too_short_or_too_long(monkeypatch):
    from mnist_classic.measure import machine

    n = os.cpu_count() or 1
    clock = {"t": 100.0, "busy": 0.0, "own": 0.0}
    slept = []

    def sleep(s):
        slept.append(s)
        clock["t"] += s

    monkeypatch.setattr(machine.time, "sleep", sleep)
    monitor = machine.FreeCoresMonitor(sample_s=0.25, max_window_s=2.0)
    monitor._reading = lambda: (clock["busy"], clock["own"], clock["t"])
    assert monitor() == n and slept == [0.25]  # the first call samples
    for _ in range(50):  # trivial cases of 2 ms each, this process busy, nobody else: no more sleeps
        clock["t"] += 0.002
        clock["busy"] += 0.002
        clock["own"] += 0.002
        assert monitor() == n
    assert slept == [0.25] and monitor.samples == 1
    clock["t"] += 1.0  # a case of one second while a neighbour kept a core busy: read as it stands
    clock["busy"] += 1.0
    assert monitor() == max(1, n - 1) and slept == [0.25]
    clock["t"] += 10.0  # a long case: its window says too little about now, so a fresh sample
    assert monitor() == n and slept == [0.25, 0.25] and monitor.samples == 2
