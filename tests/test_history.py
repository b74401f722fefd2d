"""history: synthetic histories with planted steps and pure noise, the gate, the dashboard (parsed and in Chromium)."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from synthetic import predictions, write_run

from mnist_classic.analysis.history import series as hist
from mnist_classic.analysis.history.series import HistoryPoint, build_history
from mnist_classic.analysis.runs import load_runs
from mnist_classic.cli import main

N = 2_000
VERSIONS = ["1.2", "1.3", "1.4", "1.5", "1.8", "1.9", "1.10", "1.11"]  # 1.10 after 1.9: sorted as versions


@pytest.fixture(scope="module")
def truth():
    return np.random.default_rng(0).integers(0, 10, size=N)


def _write_history(path, truth, *, fit, flip_from=None, seed=0, runs=1):
    """``runs`` runs per version; fit times per version (3 repeats, 2% noise); 60 images flipped from ``flip_from``."""
    rng = np.random.default_rng(seed)
    good = predictions(truth, correct=1900)
    bad = good.copy()
    right = np.flatnonzero(good == truth)[:60]
    bad[right] = (truth[right] + 1) % 10
    for i, (version, level) in enumerate(zip(VERSIONS, fit, strict=True)):
        pred = bad if flip_from is not None and i >= flip_from else good
        for k in range(runs):
            times = list(level * (1 + 0.02 * rng.standard_normal(3)))
            case = {"pipeline": "svm", "pred": pred, "fit": times, "predict": [1.0, 1.01, 0.99]}
            commit = f"{i}" + "a" * 39
            extra = {"sklearn_version": version, "git_commit": commit, "started_at": f"2026-01-{i + 1:02d}T00:0{k}:00"}
            write_run(path, truth, [case], run_id=f"r{i}" + (f"-{k}" if k else ""), extra=extra)
    return path


def test_planted_steps_are_found_at_the_right_point(tmp_path, truth):
    csv = _write_history(tmp_path / "h.csv", truth, fit=[10.0] * 4 + [15.0] * 4, flip_from=6)
    h = build_history(load_runs([csv]), axis="sklearn_version")
    assert h.axis_values == VERSIONS
    (series,) = h.series
    steps = {(s.metric, s.index): s for s in series.steps}
    assert set(steps) == {("fit_time_s", 4), ("accuracy", 6)}
    fit, acc = steps["fit_time_s", 4], steps["accuracy", 6]
    assert fit.verdict == "worse" and fit.change == pytest.approx(1.5, rel=0.05) and fit.method == "change point"
    assert acc.verdict == "worse" and acc.change == pytest.approx(-3.0) and acc.p_value < 1e-10
    assert h.exit_code == 0  # the latest point is level with the one before it
    md = hist.format_markdown(h)
    assert "| svm n_train=60000 | fit | 1.5 → 1.8 |" in md
    assert "| svm n_train=60000 | accuracy | 1.9 → 1.10 |" in md


def test_a_regression_at_the_latest_point_fails_the_gate(tmp_path, truth, capsys):
    csv = _write_history(tmp_path / "h.csv", truth, fit=[10.0] * 7 + [15.0], runs=3)
    out = tmp_path / "dash"
    code = main(["history", str(csv), "--axis", "git_commit", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 1
    assert "REGRESSION at the latest point in 1 metric(s): svm n_train=60000 (fit_time_s)" in printed
    assert (out / "history.md").read_text().count("worse") >= 1
    # a looser gate lets it through
    assert main(["history", str(csv), "--axis", "git_commit", "--out", str(out), "--max-slowdown", "2"]) == 0


def test_one_run_per_point_leaves_the_latest_time_unknown(tmp_path, truth, capsys):
    csv = _write_history(tmp_path / "h.csv", truth, fit=[10.0] * 7 + [15.0])
    out = tmp_path / "dash"
    assert main(["history", str(csv), "--axis", "git_commit", "--out", str(out)]) == 0
    assert "1 verdict(s) unknown at the latest point" in capsys.readouterr().out
    assert main(["history", str(csv), "--axis", "git_commit", "--out", str(out), "--fail-on-unknown"]) == 3


def test_commits_follow_run_time_and_runs_are_points(tmp_path, truth):
    csv = _write_history(tmp_path / "h.csv", truth, fit=[10.0] * 8)
    df = load_runs([csv])
    h = build_history(df.iloc[::-1].reset_index(drop=True), axis="git_commit")  # rows in reverse: time decides
    assert h.axis_values == [f"{i}" + "a" * 39 for i in range(8)]
    assert [p.run_ids for p in build_history(df, axis="started_at").series[0].points] == [[f"r{i}"] for i in range(8)]
    assert not h.series[0].steps


def test_unknown_axis_names_the_parameter(tmp_path, truth, capsys):
    csv = _write_history(tmp_path / "h.csv", truth, fit=[10.0] * 8)
    assert main(["history", str(csv), "--axis", "nope", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "The 'axis' parameter must be one of git_commit, started_at, python_version" in err
    assert "Got 'nope' instead." in err


@pytest.mark.slow
def test_false_alarm_rate_on_pure_noise():
    """Pure noise (3 repeats a point, 5% noise, 4-20 points): how often is a time step found?

    Measured: 0.2% at 4 and 5 points, 0.0% at 8, 12 and 20 (1,000 series each);
    without the floor from the repeats' spread it was 3-10% at 4-12 points.
    """
    rates = {}
    for n in (4, 5, 8, 12, 20):
        alarms = 0
        for seed in range(1000):
            reps = 10 * (1 + 0.05 * np.random.default_rng(seed).standard_normal((n, 3)))
            points = [
                HistoryPoint(
                    str(i), [], [], {}, "", 3, "ok", fit_time_s=float(np.median(r)), sd={"fit_time_s": r.std(ddof=1)}
                )
                for i, r in enumerate(reps)
            ]
            alarms += bool(hist._time_steps(points, {"max_slowdown": 1.1, "time_resolution": 0.05}))
        rates[n] = alarms / 1000
    assert max(rates.values()) <= 0.005, rates


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.tags, self.titles, self.refs = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]
        if tag not in ("meta", "br", "rect", "line", "polyline"):
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if tag in ("rect", "line", "polyline"):
            return
        assert self.stack and self.stack[-1] == tag, (self.stack[-3:], tag)
        self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "title":
            self.titles.append(data)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory, truth):
    folder = tmp_path_factory.mktemp("history")
    csv = _write_history(folder / "h.csv", truth, fit=[10.0] * 4 + [15.0] * 4, flip_from=6)
    written = hist.write_history(build_history(load_runs([csv])), folder / "out")
    return written[0]


def test_the_dashboard_is_self_contained_and_well_formed(dashboard):
    text = dashboard.read_text(encoding="utf-8")
    parser = _Collect()
    parser.feed(text)
    parser.close()
    assert parser.stack == [] or parser.stack == ["html"]  # every element closed (html may be implicit)
    assert "script" not in parser.tags and not parser.refs  # no script, no external file
    assert parser.tags.count("svg") == 3  # fit, predict, accuracy of the one series
    assert parser.tags.count("circle") == 3 * len(VERSIONS)
    hovers = [t for t in parser.titles if t.startswith("sklearn_version = ")]
    assert len(hovers) == 3 * len(VERSIONS)
    assert "runs: r4" in hovers[4] and "commit: 4aaaaaaaaaaa" in hovers[4] and "sklearn 1.8" in hovers[4]


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None, reason="needs Chromium (Debian: apt-get install chromium)")
def test_the_dashboard_opens_in_headless_chromium_without_console_errors(dashboard, tmp_path):
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        dashboard.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "History along" in proc.stdout and "<svg" in proc.stdout
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
