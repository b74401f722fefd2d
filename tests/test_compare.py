"""compare: synthetic result files with known differences, and the determinism check."""

from __future__ import annotations

import json

import numpy as np
import pytest
from synthetic import SHA, predictions, write_run

from mnist_classic.analysis.runs import load_runs
from mnist_classic.analysis.stats import mcnemar_exact, wilson_interval
from mnist_classic.analysis.verdicts.compare import compare_runs
from mnist_classic.bench.runner import RunConfig, run_benchmark
from mnist_classic.cli import main

N = 10_000


@pytest.fixture(scope="module")
def truth():
    return np.random.default_rng(0).integers(0, 10, size=N)


def cmp_cli(capsys, base, new, *extra):
    code = main(["compare", str(base), str(new), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def write_runs(folder, truth, cases, runs=3, drift=0.01):
    """A folder of ``runs`` runs of the same cases, each run's times ``1 + drift * k`` times the first's."""
    folder.mkdir()
    for k in range(runs):
        scaled = [
            {**c, **{m: [t * (1 + drift * k) for t in c[m]] for m in ("fit", "predict") if m in c}} for c in cases
        ]
        write_run(folder / f"run{k}.csv", truth, scaled, run_id=f"{folder.name}{k}")
    return folder


def test_identical_runs_are_the_same(tmp_path, truth, capsys):
    cases = [{"pipeline": "svm", "pred": predictions(truth)}, {"pipeline": "knn", "pred": predictions(truth, 9700)}]
    base = write_run(tmp_path / "base.csv", truth, cases)
    new = write_run(tmp_path / "new.csv", truth, cases)
    code, out, _ = cmp_cli(capsys, base, new)
    assert code == 0
    assert "identical predictions" in out
    assert "worse" not in out and "better" not in out
    assert "no regression in 2 matched case(s)" in out


def test_times_scaled_by_1_5_fail_naming_the_case(tmp_path, truth, capsys):
    pred = predictions(truth)
    base = write_runs(
        tmp_path / "base",
        truth,
        [
            {"pipeline": "svm", "pred": pred, "fit": [10.0], "predict": [2]},
            {"pipeline": "knn", "pred": pred, "fit": [1.0], "predict": [5]},
        ],
    )
    new = write_runs(
        tmp_path / "new",
        truth,
        [
            {"pipeline": "svm", "pred": pred, "fit": [15.0], "predict": [3]},
            {"pipeline": "knn", "pred": pred, "fit": [1.0], "predict": [5]},
        ],
    )
    code, out, _ = cmp_cli(capsys, base, new)
    assert code == 1
    assert "REGRESSION in 2 metric(s): svm n_train=60000 (fit_time_s), svm n_train=60000 (predict_time_s)" in out
    assert "x1.500 [" in out  # the ratio over runs, with its interval
    assert "knn" not in out.splitlines()[-1]
    knn = [line for line in out.splitlines() if line.startswith("knn") and " fit " in line]
    assert knn and "same" in knn[0]  # equal over three runs: the interval lies inside the margin


def test_one_run_per_side_is_unknown_and_fail_on_unknown_exits_3(tmp_path, truth, capsys):
    pred = predictions(truth)
    base = write_run(tmp_path / "base.csv", truth, [{"pipeline": "svm", "pred": pred, "fit": [10.0], "predict": [2]}])
    new = write_run(tmp_path / "new.csv", truth, [{"pipeline": "svm", "pred": pred, "fit": [15.0], "predict": [2]}])
    code, out, _ = cmp_cli(capsys, base, new)
    assert code == 0 and "unknown (1 run(s) vs 1: the run-to-run spread is not measured" in out
    code, out, _ = cmp_cli(capsys, base, new, "--fail-on-unknown", "--format", "json")
    doc = json.loads(out)
    assert code == 3 and doc["unknown"] == 1 and doc["regressed"] is False
    fit = next(r for r in doc["rows"] if r["metric"] == "fit_time_s")
    assert fit["verdict"] == "unknown" and fit["runs"] == [1, 1] and fit["ci"] is None
    predict = next(r for r in doc["rows"] if r["metric"] == "predict_time_s")
    assert predict["verdict"] == "same" and "resolution" in predict["note"]  # 0 s apart: under the resolution


def test_a_margin_narrower_than_the_spread_is_unknown(tmp_path, truth, capsys):
    pred = predictions(truth)
    base = write_runs(tmp_path / "base", truth, [{"pipeline": "svm", "pred": pred, "fit": [100.0]}], drift=0.03)
    new = write_runs(tmp_path / "new", truth, [{"pipeline": "svm", "pred": pred, "fit": [100.5]}], drift=0.03)
    code, out, _ = cmp_cli(capsys, base, new, "--format", "json")
    fit = next(r for r in json.loads(out)["rows"] if r["metric"] == "fit_time_s")
    assert code == 0 and fit["verdict"] == "same"
    code, out, _ = cmp_cli(capsys, base, new, "--format", "json", "--margin", "1.01")
    fit = next(r for r in json.loads(out)["rows"] if r["metric"] == "fit_time_s")
    assert fit["verdict"] == "unknown" and ("runs per side would decide" in fit["note"] or "too wide" in fit["note"])
    code, _, err = cmp_cli(capsys, base, new, "--margin", "0.9")
    assert code == 2 and "'margin' parameter must be a ratio > 1" in err


def test_faster_is_better_not_a_failure(tmp_path, truth, capsys):
    pred = predictions(truth)
    base = write_runs(tmp_path / "base", truth, [{"pipeline": "svm", "pred": pred, "fit": [10.0]}])
    new = write_runs(tmp_path / "new", truth, [{"pipeline": "svm", "pred": pred, "fit": [5.0]}])
    code, out, _ = cmp_cli(capsys, base, new)
    assert code == 0 and "better" in out


@pytest.mark.parametrize(("flipped", "code", "verdict"), [(50, 1, "worse"), (2, 0, "same")])
def test_flipped_predictions(tmp_path, truth, capsys, flipped, code, verdict):
    pred = predictions(truth)
    worse = pred.copy()
    worse[:flipped] = (truth[:flipped] + 1) % 10  # right -> wrong on the first images
    base = write_run(tmp_path / "base.csv", truth, [{"pipeline": "svm", "pred": pred}])
    new = write_run(tmp_path / "new.csv", truth, [{"pipeline": "svm", "pred": worse}])
    got, out, _ = cmp_cli(capsys, base, new, "--format", "json")
    assert got == code
    doc = json.loads(out)
    acc = next(r for r in doc["rows"] if r["metric"] == "accuracy")
    assert acc["verdict"] == verdict
    assert acc["changed_predictions"] == flipped
    assert acc["change"] == pytest.approx(-100 * flipped / N)
    assert acc["p_value"] == pytest.approx(mcnemar_exact(flipped, 0))
    if flipped == 50:
        assert acc["p_value"] < 0.01
        assert doc["regressed"] is True
    else:
        assert acc["p_value"] == pytest.approx(0.5)


def test_different_dataset_payloads_are_refused(tmp_path, truth, capsys):
    cases = [{"pipeline": "svm", "pred": predictions(truth)}]
    base = write_run(tmp_path / "base.csv", truth, cases)
    new = write_run(tmp_path / "new.csv", truth, cases, sha={**SHA, "sha256_test_images": "f" * 64})
    code, out, err = cmp_cli(capsys, base, new)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "different mnist payloads: sha256_test_images" in err


def test_missing_case_is_listed(tmp_path, truth, capsys):
    pred = predictions(truth)
    base = write_run(
        tmp_path / "base.csv", truth, [{"pipeline": "svm", "pred": pred}, {"pipeline": "rf", "pred": pred}]
    )
    new = write_run(tmp_path / "new.csv", truth, [{"pipeline": "svm", "pred": pred}, {"pipeline": "knn", "pred": pred}])
    code, out, _ = cmp_cli(capsys, base, new)
    assert code == 0
    assert "only in baseline: mnist rf n_train=60000 n_test=10000" in out
    assert "only in new: mnist knn n_train=60000 n_test=10000" in out
    code, _, _ = cmp_cli(capsys, base, new, "--fail-on-missing")
    assert code == 1


@pytest.mark.parametrize("content", ["a,b\n1,2\n", "", "\x00\x01garbage\n", 'run_id,dataset\n"unterminated\n'])
def test_malformed_csv_one_line_exit_2(tmp_path, truth, capsys, content):
    base = write_run(tmp_path / "base.csv", truth, [{"pipeline": "svm", "pred": predictions(truth)}])
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    code, out, err = cmp_cli(capsys, base, bad)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "bad.csv" in err


def test_missing_file_and_missing_sidecar(tmp_path, truth, capsys):
    base = write_run(tmp_path / "base.csv", truth, [{"pipeline": "svm", "pred": predictions(truth)}])
    code, _, err = cmp_cli(capsys, base, tmp_path / "nope.csv")
    assert code == 2 and "No such results file or folder" in err
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "copy.csv").write_text(base.read_text())  # the CSV without its .predictions folder
    code, _, err = cmp_cli(capsys, base, alone)
    assert code == 2 and "keep the .predictions folder beside its CSV" in err


def test_case_that_now_errors_is_worse(tmp_path, truth, capsys):
    pred = predictions(truth)
    base = write_run(tmp_path / "base.csv", truth, [{"pipeline": "svm", "pred": pred}])
    new = write_run(tmp_path / "new.csv", truth, [{"pipeline": "svm", "pred": pred, "status": "error"}])
    code, out, _ = cmp_cli(capsys, base, new)
    assert code == 1 and "baseline ok, new error" in out


def test_noise_between_repeats_is_not_a_regression(tmp_path, truth):
    pred = predictions(truth)
    rng = np.random.default_rng(3)
    (tmp_path / "base").mkdir()
    (tmp_path / "new").mkdir()
    # three runs a side, each at its own level (the machine's, not the code's), steady within itself
    for k, (lb, ln) in enumerate(zip((0.9, 1.1, 1.0), (1.25, 1.0, 1.15), strict=True)):
        b = list(10 * lb * (1 + rng.uniform(-0.02, 0.02, size=3)))
        n = list(10 * ln * (1 + rng.uniform(-0.02, 0.02, size=3)))
        write_run(tmp_path / "base" / f"{k}.csv", truth, [{"pipeline": "rf", "pred": pred, "fit": b}], run_id=f"b{k}")
        write_run(tmp_path / "new" / f"{k}.csv", truth, [{"pipeline": "rf", "pred": pred, "fit": n}], run_id=f"n{k}")
    result = compare_runs(load_runs([tmp_path / "base"]), load_runs([tmp_path / "new"]))
    fit = next(r for r in result.rows if r.metric == "fit_time_s")
    assert fit.change > 1.10  # beyond the threshold...
    assert fit.verdict == "unknown"  # ...but inside the spread between runs
    assert fit.p_value is not None and fit.p_value > 0.01 and fit.runs == (3, 3)


def test_significant_slowdown_with_repeats(tmp_path, truth):
    pred = predictions(truth)
    b = [10.0, 10.1, 9.9, 10.05, 9.95]
    n = [x * 1.5 for x in b]
    base = write_runs(tmp_path / "base", truth, [{"pipeline": "rf", "pred": pred, "fit": b, "predict": [1] * 5}])
    new = write_runs(tmp_path / "new", truth, [{"pipeline": "rf", "pred": pred, "fit": n, "predict": [1] * 5}])
    result = compare_runs(load_runs([base]), load_runs([new]))
    fit = next(r for r in result.rows if r.metric == "fit_time_s")
    assert fit.verdict == "worse" and fit.p_value < 0.01
    assert result.exit_code() == 1


def test_markdown_output(tmp_path, truth, capsys):
    cases = [{"pipeline": "svm[C=5]", "pred": predictions(truth)}]
    base = write_run(tmp_path / "base.csv", truth, cases)
    code, out, _ = cmp_cli(capsys, base, base, "--format", "md")
    assert code == 0
    assert out.startswith("| case | metric | baseline | new | change | p | verdict |\n|---|")
    assert "**no regression in 1 matched case(s)**" in out


def test_folders_of_csvs(tmp_path, truth, capsys):
    cases = [{"pipeline": "svm", "pred": predictions(truth)}]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_run(tmp_path / "a" / "x.csv", truth, cases)
    write_run(tmp_path / "b" / "y.csv", truth, cases)
    code, out, _ = cmp_cli(capsys, tmp_path / "a", tmp_path / "b")
    assert code == 0 and "identical predictions" in out


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [("--max-slowdown", "0.9", "'max_slowdown'"), ("--alpha", "2", "'alpha'"), ("--max-accuracy-drop", "-1", "drop")],
)
def test_bad_gate_options(tmp_path, truth, capsys, option, value, match):
    base = write_run(tmp_path / "base.csv", truth, [{"pipeline": "svm", "pred": predictions(truth)}])
    code, _, err = cmp_cli(capsys, base, base, option, value)
    assert code == 2 and match in err


def test_wilson_and_mcnemar_known_values():
    lo, hi = wilson_interval(9837, 10000)
    assert (round(lo, 4), round(hi, 4)) == (0.981, 0.986)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(2, 0) == pytest.approx(0.5)
    assert mcnemar_exact(50, 0) == pytest.approx(2 * 0.5**50)
    assert mcnemar_exact(10, 10) == pytest.approx(1.0)


@pytest.mark.slow
def test_two_real_runs_compare_clean_and_determinism(tmp_path, capsys):
    paths = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.csv"
        config = RunConfig(
            pipelines=["pca_svm", "rf[n_estimators=20]", "dummy"],
            n_train=[1000],
            n_test=500,
            output=out,
            check_determinism=True,
        )
        result = run_benchmark(config)
        assert result.exit_code == 0 and result.nondeterministic == []
        paths.append(out)
    code, out, _ = cmp_cli(capsys, *paths, "--time-resolution", "0.5")
    assert code == 0, out
    assert out.count("identical predictions") == 3


def test_determinism_check_catches_an_unseeded_pipeline(tmp_path, capsys):
    out = tmp_path / "r.csv"
    code = main(
        [
            "run",
            "--pipelines",
            "dummy[random_state=None,strategy=uniform]",
            "dummy",
            "--n-train",
            "200",
            "--n-test",
            "500",
            "--check-determinism",
            "-o",
            str(out),
            "-q",
        ]
    )
    stdout = capsys.readouterr().out
    assert code == 1
    assert "non-deterministic with a fixed seed: dummy[random_state=None,strategy=uniform]" in stdout
    text = out.read_text()
    assert ",False," in text and ",True," in text


def test_rows_with_bad_values_are_malformed(tmp_path, truth, capsys):
    base = write_run(tmp_path / "base.csv", truth, [{"pipeline": "svm", "pred": predictions(truth)}])
    text = base.read_text().splitlines()
    header, row = text[0], text[1].split(",")
    cols = header.split(",")
    bad = list(row)
    bad[cols.index("fit_time_s")] = "fast"
    (tmp_path / "bad.csv").write_text(header + "\n" + ",".join(bad) + "\n")
    code, _, err = cmp_cli(capsys, base, tmp_path / "bad.csv")
    assert code == 2 and "line 2: column 'fit_time_s' must be a number, got 'fast'" in err


def test_run_to_run_drift_in_a_folder_of_baselines_is_noise(tmp_path, truth):
    pred = predictions(truth)
    (tmp_path / "base").mkdir()
    # Two baseline runs, each steady within itself, 15% apart from each other.
    for i, level in enumerate((10.0, 11.5)):
        write_run(
            tmp_path / "base" / f"{i}.csv",
            truth,
            [{"pipeline": "rf", "pred": pred, "fit": [level] * 3, "predict": [1] * 3}],
            run_id=f"run{i}",
        )
    new = write_run(
        tmp_path / "new.csv",
        truth,
        [{"pipeline": "rf", "pred": pred, "fit": [12.0] * 3, "predict": [1] * 3}],
        run_id="new",
    )
    fit = next(
        r for r in compare_runs(load_runs([tmp_path / "base"]), load_runs([new])).rows if r.metric == "fit_time_s"
    )
    assert fit.change == pytest.approx(12.0 / (10.0 * 11.5) ** 0.5)  # over 1.10 (geometric means of runs) ...
    assert fit.noise == pytest.approx(1.5 / 10.75)
    assert fit.verdict == "unknown"  # ... but within the drift between the baseline runs
    assert fit.runs == (2, 1) and fit.ci is not None and fit.ci[0] < 1
    only_first = compare_runs(load_runs([tmp_path / "base" / "0.csv"]), load_runs([new]))
    assert next(r for r in only_first.rows if r.metric == "fit_time_s").verdict == "unknown"  # the drift unseen


def test_the_resolution_never_hides_a_significant_slowdown_of_a_metric_longer_than_itself(tmp_path, truth):
    # 5% of a 0.65 s fit is 33 ms, under the default 0.05 s resolution, but significant and beyond a 1.03 gate;
    # the 5 ms predict's x1.2 is under the resolution, and a metric that short is not judged by its ratio.
    pred = predictions(truth)
    b = [0.65, 0.651, 0.649]
    base = write_runs(tmp_path / "base", truth, [{"pipeline": "work", "pred": pred, "fit": b, "predict": [0.005] * 3}])
    new = write_runs(
        tmp_path / "new",
        truth,
        [{"pipeline": "work", "pred": pred, "fit": [x * 1.05 for x in b], "predict": [0.006] * 3}],
        drift=0.004,
    )
    result = compare_runs(load_runs([base]), load_runs([new]), max_slowdown=1.03)
    fit, predict = (next(r for r in result.rows if r.metric == m) for m in ("fit_time_s", "predict_time_s"))
    assert fit.verdict == "worse" and 0.65 * (fit.change - 1) < 0.05
    assert predict.verdict == "same" and predict.note == "difference under the 0.05 s resolution"
    assert result.exit_code() == 1
