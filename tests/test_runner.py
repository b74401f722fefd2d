"""The runner and the results CSV, on a small real-MNIST subsample."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist_classic import COLUMNS, ResultsSchemaError, load_labels, read_results
from mnist_classic.bench.case import plan_cases
from mnist_classic.bench.progress import summary_table
from mnist_classic.bench.runner import RunConfig, run_benchmark
from mnist_classic.results import ResultWriter, labels_sha256, predictions_dir, save_labels
from mnist_classic.spec.selectors.parse import parse_selector

N_TRAIN, N_TEST = 2000, 1000

# Accuracy bands on the first 2000 training / first 1000 test images of MNIST
# (measured with scikit-learn 1.9: svm 91.2, pca_svm 93.5, knn 87.6, rf 89.4,
# logreg 84.5, dummy 9.9 percent); +-2.5 points leave room for library versions.
BANDS = {
    "svm": (0.887, 0.937),
    "pca_svm": (0.910, 0.960),
    "knn": (0.851, 0.901),
    "rf": (0.869, 0.919),
    "logreg": (0.820, 0.870),
    "dummy": (0.074, 0.124),
}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "results.csv"
    config = RunConfig(pipelines=list(BANDS), n_train=[N_TRAIN], n_test=N_TEST, output=out, command="test")
    return run_benchmark(config), out


@pytest.mark.slow
def test_rows_record_the_checkouts_commit(small_run):
    import subprocess
    from pathlib import Path

    import mnist_classic

    root = Path(mnist_classic.__file__).resolve().parents[1]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    if head.returncode != 0 or not (root / ".git").exists():
        pytest.skip("the package does not run from a git checkout")
    commits = set(read_results(small_run[1])["git_commit"])
    assert commits <= {head.stdout.strip(), head.stdout.strip() + "-dirty"}, commits


def test_small_run_accuracy_in_band(small_run):
    result, _ = small_run
    assert result.exit_code == 0
    got = {r["pipeline"]: r["accuracy"] for r in result.rows}
    for name, (lo, hi) in BANDS.items():
        assert lo <= got[name] <= hi, (name, got[name])


def test_rows_round_trip_through_csv(small_run):
    result, out = small_run
    df = read_results(out)
    assert tuple(df.columns) == COLUMNS
    assert len(df) == len(result.rows) == len(BANDS)
    assert df["pipeline"].tolist() == list(BANDS)
    assert (df["status"] == "ok").all()
    assert (df["n_train"] == N_TRAIN).all() and (df["n_test"] == N_TEST).all()
    assert df["run_id"].nunique() == 1
    np.testing.assert_allclose(df["accuracy"], [r["accuracy"] for r in result.rows])
    assert (df["fit_time_s"] > 0).all() and (df["predict_time_s"] >= 0).all()
    assert (df["peak_memory_mb"] > 0).all()
    assert df["sha256_train_images"].iloc[0] == "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    for col in (
        "python_version",
        "numpy_version",
        "scipy_version",
        "sklearn_version",
        "blas",
        "cpu_model",
        "platform",
        "suite_version",
        "git_commit",
        "command",
    ):
        assert df[col].notna().all(), col


def test_multi_step_pipelines_record_each_step(small_run):
    result, _ = small_run
    rows = {r["pipeline"]: r for r in result.rows}
    steps = json.loads(rows["pca_svm"]["step_times"])
    assert list(steps) == ["pca", "svc"]
    total = steps["pca"]["fit"] + steps["svc"]["fit"]
    assert total <= rows["pca_svm"]["fit_time_s"] + 1e-6
    assert rows["svm"]["step_times"] == ""


def test_predictions_sidecar_reproduces_accuracy(small_run):
    result, out = small_run
    folder = predictions_dir(out)
    for row in result.rows:
        pred = load_labels(folder, row["predictions_sha256"])
        truth = load_labels(folder, row["truth_sha256"])
        assert len(pred) == len(truth) == N_TEST
        assert np.mean(pred == truth) == pytest.approx(row["accuracy"])


def test_same_seed_same_predictions_other_seed_differs(tmp_path):
    out = tmp_path / "r.csv"
    config = RunConfig(pipelines=["rf[n_estimators=10]"], n_train=[500], n_test=300, repeats=2, seed=5, output=out)
    first = run_benchmark(config).rows
    again = run_benchmark(config).rows
    assert [r["seed"] for r in first] == [5, 6]
    assert [r["predictions_sha256"] for r in first] == [r["predictions_sha256"] for r in again]
    assert first[0]["predictions_sha256"] != first[1]["predictions_sha256"]
    df = read_results(out)  # the second run appended to the first
    assert len(df) == 4 and df["run_id"].nunique() == 2


def test_failing_case_is_recorded_and_run_goes_on(tmp_path):
    out = tmp_path / "r.csv"
    config = RunConfig(pipelines=["knn[n_neighbors=500]", "dummy"], n_train=[100], n_test=50, output=out)
    result = run_benchmark(config)
    assert result.exit_code == 1
    assert [r["status"] for r in result.rows] == ["error", "ok"]
    assert "n_neighbors" in result.rows[0]["error"] or "n_samples" in result.rows[0]["error"]
    df = read_results(out)
    assert df["status"].tolist() == ["error", "ok"]
    assert np.isnan(df["accuracy"].iloc[0])


@pytest.mark.slow
def test_timeout_is_recorded(tmp_path):
    out = tmp_path / "r.csv"
    config = RunConfig(pipelines=["dummy", "rf[n_estimators=20000]"], n_train=[2000], n_test=100, timeout=4, output=out)
    result = run_benchmark(config)
    assert [r["status"] for r in result.rows] == ["ok", "timeout"]
    assert result.exit_code == 1
    df = read_results(out)
    assert df["execution"].tolist() == ["subprocess", "subprocess"]
    assert "timeout" in df["error"].iloc[1]


def test_sweep_of_training_sizes(tmp_path):
    out = tmp_path / "r.csv"
    config = RunConfig(pipelines=["dummy", "logreg"], n_train=[100, 300], n_test=100, output=out)
    rows = run_benchmark(config).rows
    assert [(r["n_train"], r["pipeline"]) for r in rows] == [
        (100, "dummy"),
        (100, "logreg"),
        (300, "dummy"),
        (300, "logreg"),
    ]


def test_plan_cases_order_and_seeds():
    ps = [parse_selector("dummy"), parse_selector("svm")]
    cases = plan_cases(ps, [10, 20], repeats=2, seed=7)
    assert [(c.n_train, c.pipeline.name, c.repeat, c.seed) for c in cases][:4] == [
        (10, "dummy", 0, 7),
        (10, "dummy", 1, 8),
        (10, "svm", 0, 7),
        (10, "svm", 1, 8),
    ]
    assert [c.index for c in cases] == list(range(8))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pipelines": ["nope"]}, "Unknown pipeline 'nope'"),
        ({"pipelines": []}, "at least one pipeline"),
        ({"pipelines": ["svm", "svm"]}, "selected twice"),
        ({"n_train": [0]}, "'n_train' parameter must be a positive int"),
        ({"n_train": [60001]}, r"'n_train' parameter must be an int in \[1, 60000\]"),
        ({"n_train": [100, 100]}, "lists a size twice"),
        ({"repeats": 0}, "'repeats' parameter"),
        ({"seed": -1}, "'seed' parameter"),
        ({"timeout": 0}, "'timeout' parameter"),
        ({"n_test": 0}, "'n_test' parameter"),
        ({"dataset": "no-such-set"}, "Unknown dataset 'no-such-set'"),
    ],
)
def test_bad_config_fails_before_writing(tmp_path, kwargs, match):
    out = tmp_path / "r.csv"
    config = RunConfig(**{"pipelines": ["dummy"], "n_train": [100], "n_test": 100, "output": out, **kwargs})
    with pytest.raises(ValueError, match=match):
        run_benchmark(config)
    assert not out.exists()


def test_writer_refuses_other_header_and_keeps_file(tmp_path):
    out = tmp_path / "other.csv"
    out.write_text("a,b\n1,2\n")
    with pytest.raises(ResultsSchemaError, match="another header"):
        ResultWriter(out)
    with pytest.raises(ResultsSchemaError, match="another header"):
        run_benchmark(RunConfig(pipelines=["dummy"], n_train=[50], n_test=50, output=out))
    assert out.read_text() == "a,b\n1,2\n"


def test_writer_appends_and_rejects_unknown_columns(tmp_path):
    out = tmp_path / "r.csv"
    w = ResultWriter(out)
    w.append({"run_id": "x", "status": "ok", "pipeline": "svm"})
    ResultWriter(out).append({"run_id": "y", "status": "ok", "pipeline": "knn"})
    df = read_results(out)
    assert df["run_id"].tolist() == ["x", "y"]
    with pytest.raises(ValueError, match="Unknown result columns"):
        w.append({"nope": 1})


def test_read_results_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ResultsSchemaError, match="not a results CSV"):
        read_results(bad)


def test_labels_sidecar_checks_hash(tmp_path):
    labels = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    sha = save_labels(tmp_path, labels)
    assert sha == labels_sha256(labels.astype(np.int32))  # hash is over canonical int64
    np.testing.assert_array_equal(load_labels(tmp_path, sha), labels)
    other = save_labels(tmp_path, labels[::-1])
    (tmp_path / f"{other}.npz").replace(tmp_path / f"{sha}.npz")
    with pytest.raises(ResultsSchemaError, match="do not match"):
        load_labels(tmp_path, sha)


def test_summary_table_lists_every_row(small_run):
    result, _ = small_run
    table = summary_table(result.rows)
    for name in BANDS:
        assert name in table
    assert "%" in table
