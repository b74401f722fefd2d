"""benchmarks/noise.py's bookkeeping: its table is made from outcomes.csv, and a second run adds only what is missing.

The comparisons themselves (minutes each, timed alone) are not run here: a fake comparison stands in.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def noise():
    sys.path.insert(0, str(BENCHMARKS))  # noise.py imports its sibling workload.py
    try:
        spec = importlib.util.spec_from_file_location("noise_evidence", BENCHMARKS / "noise.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


def args(comparisons: int, trials: int, sizes: str = "15", conditions: str = "quiet,busy") -> argparse.Namespace:
    return argparse.Namespace(comparisons=comparisons, trials=trials, sizes=sizes, conditions=conditions)


def test_a_second_run_adds_only_the_comparisons_not_recorded(noise, tmp_path):
    log = tmp_path / "outcomes.csv"
    log.write_text(noise.HEADER)
    calls = []

    def fake(base, new, tag):  # A/A: same; +15%: worse in 10 rounds
        calls.append(tag)
        return (1, 10) if new == "15" else (0, 10)

    noise.evaluate("interleave", fake, args(comparisons=2, trials=1), log, "n_train=1")
    assert calls == ["interleave-0-quiet-0", "interleave-0-busy-1", "interleave-15-quiet-0", "interleave-15-busy-0"]
    calls.clear()
    noise.evaluate("interleave", fake, args(comparisons=4, trials=2), log, "n_train=1")  # two more of each
    assert calls == [
        "interleave-0-quiet-2",
        "interleave-0-busy-3",
        "interleave-15-quiet-1",
        "interleave-15-busy-1",
    ]
    rows = noise._outcomes(log)
    assert len(rows) == 8 and {r["settings"] for r in rows} == {"n_train=1"}
    line = noise.table(rows, ["interleave", "duet"])[-1]  # duet: no comparison recorded, no line
    assert line.startswith("| interleave | 0 / 0 of 4 | 2 / 0 of 2 | 2 / 0 of 2 | not run |")


def test_quiet_only_runs_the_quiet_comparisons_and_a_later_run_adds_the_busy_ones(noise, tmp_path):
    log = tmp_path / "outcomes.csv"
    log.write_text(noise.HEADER)
    calls = []

    def fake(base, new, tag):
        calls.append(tag)
        return 0, 10

    noise.evaluate("duet", fake, args(comparisons=2, trials=2, conditions="quiet"), log, "s")
    assert calls == ["duet-0-quiet-0", "duet-15-quiet-0", "duet-15-quiet-1"]
    calls.clear()
    noise.evaluate("duet", fake, args(comparisons=2, trials=2), log, "s")
    assert calls == ["duet-0-busy-1", "duet-15-busy-0", "duet-15-busy-1"]


def test_the_table_counts_worse_and_unknown_per_cell(noise):
    rows = [
        {"method": "duet", "slowdown_pct": "0", "condition": c, "exit": e, "rounds": "10", "seconds": "60"}
        for c, e in (("quiet", "0"), ("busy", "3"), ("busy", "1"))
    ]
    rows.append({"method": "duet", "slowdown_pct": "5", "condition": "busy", "exit": "3"})
    rows[-1].update(rounds="30", seconds="240")
    head, rule, line = noise.table(rows, ["duet"])
    assert head.startswith("| method | A/A | 15% quiet |") and rule.startswith("|---|")
    assert line == "| duet | 1 / 1 of 3 | not run | not run | not run | not run | not run | 0 / 1 of 1 | 15.0 | 105 s |"


def test_a_folder_of_other_settings_is_refused_and_left_as_it_was(noise, tmp_path):
    log = tmp_path / "outcomes.csv"
    text = noise.HEADER + "duet,0,quiet,0,0,10,60.0,0.50,n_train=9 n_test=9\n"
    log.write_text(text)
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "noise.py"), "--out", str(tmp_path), "--methods", "duet", "--table"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "holds comparisons made with 'n_train=9 n_test=9'" in done.stderr and "use another --out" in done.stderr
    assert log.read_text() == text


def test_table_needs_a_folder_and_methods_are_checked(tmp_path):
    for argv, message in (
        (["--table"], "--table: needs --out DIR"),
        (["--methods", "fast"], "--methods: expected"),
        (["--conditions", "loud"], "--conditions: expected quiet, busy or quiet,busy, got 'loud'"),
        (["--alpha", "5"], "--alpha: expected a level between 0 and 1, got 5.0"),
    ):
        done = subprocess.run(
            [sys.executable, str(BENCHMARKS / "noise.py"), *argv], capture_output=True, text=True, check=False
        )
        assert done.returncode == 2 and message in done.stderr


def test_a_comparison_that_crashed_is_not_recorded_and_runs_again(noise, tmp_path):
    log = tmp_path / "outcomes.csv"
    log.write_text(noise.HEADER)
    codes = iter([2, 0])  # the first A/A fails to run (exit 2: a misuse or a crash), the second run retries it
    noise.evaluate("duet", lambda base, new, tag: (next(codes), 0), args(comparisons=1, trials=0), log, "s")
    assert noise._outcomes(log) == []
    noise.evaluate("duet", lambda base, new, tag: (next(codes), 10), args(comparisons=1, trials=0), log, "s")
    assert [(r["trial"], r["exit"]) for r in noise._outcomes(log)] == [("0", "0")]


def test_an_empty_outcomes_file_is_refused_in_one_line(tmp_path):
    (tmp_path / "outcomes.csv").write_text("")
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "noise.py"), "--out", str(tmp_path), "--table"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "is not an outcomes file of this script" in done.stderr
    assert "Traceback" not in done.stderr and (tmp_path / "outcomes.csv").read_text() == ""


def test_a_comparison_stopped_before_its_verdict_leaves_nothing_for_the_next_attempt(noise, tmp_path):
    """An ab stopped mid-run leaves its CSV: the retry must not append its rounds to the stopped one's."""
    stopped = ["duet-0-busy-11.csv", "duet-0-busy-11.csv.lock", "duet-0-busy-11.predictions/a.npy"]
    kept = ["duet-0-busy-1.csv", "duet-0-busy-1.ab.json", "sequential-0-busy-11-a/run0.csv"]
    for name in [*stopped, *kept]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    removed = noise.clear_leftovers(tmp_path, "duet-0-busy-11")
    assert removed == ["duet-0-busy-11.csv", "duet-0-busy-11.csv.lock", "duet-0-busy-11.predictions"]
    assert all((tmp_path / name).exists() for name in kept)
    assert not any((tmp_path / name).exists() for name in stopped)
    assert noise.clear_leftovers(tmp_path, "sequential-0-busy-11") == ["sequential-0-busy-11-a"]


def test_a_term_ends_the_script_and_everything_its_command_started(tmp_path):
    """Stopping noise.py mid-comparison must not leave the command's own processes (ab's runs) going on."""
    pidfile = tmp_path / "grandchild.pid"
    grandchild = "import time; time.sleep(120)"
    command = (
        "import subprocess, sys, time; "
        f"p = subprocess.Popen([sys.executable, '-c', {grandchild!r}]); "
        f"open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(120)"
    )
    driver = (  # as main() does: the TERM handler, then a command run to its end (numpy's threads imported)
        f"import sys; sys.path.insert(0, {str(BENCHMARKS)!r}); import noise; noise.stop_on_term(); "
        f"noise.run_child([sys.executable, '-c', {command!r}])"
    )
    script = subprocess.Popen([sys.executable, "-c", driver])
    try:
        for _ in range(300):
            if pidfile.exists() and pidfile.read_text():
                break
            time.sleep(0.1)
        pid = int(pidfile.read_text())
        script.terminate()
        assert script.wait(timeout=30) == 143
        for _ in range(100):  # the group was killed: the grandchild ends (a zombie at most, if nothing reaps it)
            if not _running(pid):
                break
            time.sleep(0.1)
        assert not _running(pid)
    finally:
        script.kill()
        script.wait()


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_ab_is_judged_at_its_alpha_of_the_readmes_table_unless_one_is_given(noise, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(noise, "cli", lambda *argv: calls.append(argv) or 0)
    monkeypatch.setattr(noise, "clear_leftovers", lambda folder, tag: [])
    versions = {v: {"package": tmp_path / f"work{v}", "plugin": tmp_path / f"plugin{v}"} for v in ("0", "5")}
    settings = dict(n_train=1, n_test=1, rounds=2, max_slowdown=1.03, max_rounds=None, runs=1, time_resolution=None)
    for alpha, ab_wants, compare_wants in ((None, ["0.05"], []), (0.01, ["0.01"], ["0.01"])):
        calls.clear()
        given = argparse.Namespace(**settings, alpha=alpha)
        noise.method("duet", given, versions, tmp_path)("0", "5", "duet-5-quiet-0")
        noise.method("sequential", given, versions, tmp_path)("0", "5", "sequential-5-quiet-0")
        ab, compare = calls[0], calls[-1]
        assert ab[0] == "ab" and [ab[i + 1] for i, a in enumerate(ab) if a == "--alpha"] == ab_wants
        assert compare[0] == "compare" and [compare[i + 1] for i, a in enumerate(compare) if a == "--alpha"] == (
            compare_wants
        )


def test_the_table_shows_only_the_conditions_asked_for(noise, tmp_path):
    settings = "n_train=5000 n_test=2000 rounds=10 units=1000 max_slowdown=1.03 runs=3 max_rounds=None max_time=None"
    rows = ["duet,0,quiet,0,0,10,40.0,1.00", "duet,0,busy,1,3,30,190.0,2.90"]
    (tmp_path / "outcomes.csv").write_text(noise.HEADER + "".join(f"{r},{settings}\n" for r in rows))
    argv = [sys.executable, str(BENCHMARKS / "noise.py"), "--out", str(tmp_path), "--methods", "duet", "--table"]
    cells = "not run | " * 6
    for conditions, line in (
        ("busy", f"| duet | 0 / 1 of 1 | {cells}30.0 | 190 s |"),
        ("quiet,busy", f"| duet | 0 / 1 of 2 | {cells}20.0 | 115 s |"),
    ):
        done = subprocess.run([*argv, "--conditions", conditions], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == line
