"""What a deployment asks of a case (issue #31): model bytes, one-image latency, MACs, n_params, probability scores."""

from __future__ import annotations

import csv
import itertools
import math
import pickle

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from mnist_classic.analysis.explore.explorer import confidently_wrong
from mnist_classic.analysis.report.neural import neural_tables
from mnist_classic.analysis.runs import load_runs
from mnist_classic.analysis.verdicts.compare import compare_runs
from mnist_classic.bench.runner import RunConfig, run_benchmark
from mnist_classic.cli import main
from mnist_classic.measure.calibration import aligned, probability_scores, reliability
from mnist_classic.measure.footprint import classical_n_params, forward_macs, model_bytes
from mnist_classic.measure.latency import latency_sample, one_image_latency
from mnist_classic.results import (
    COLUMNS,
    DEPLOYMENT_COLUMNS,
    OLDER_SCHEMAS,
    ResultsSchemaError,
    load_probabilities,
    predictions_dir,
    read_results,
    row_probabilities,
    save_probabilities,
)
from mnist_classic.spec.runconfig import check_latency


def _blobs(n: int = 300, d: int = 20, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    X = rng.normal(size=(n, d)).astype(np.float32) + y[:, None].astype(np.float32)
    return X, y


# --- measure: model bytes, parameters, MACs -------------------------------------------------------------------------


def test_model_bytes_is_the_pickle_length():
    X, y = _blobs()
    est = KNeighborsClassifier().fit(X, y)
    n, what = model_bytes(est)
    assert what == "pickle"
    assert n == len(pickle.dumps(est, protocol=5))
    assert n >= X.nbytes  # a kNN model is its training set


class _Unpicklable(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.hook_ = lambda x: x  # a lambda cannot be pickled
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_model_bytes_of_an_unpicklable_model_is_none_with_the_reason():
    X, y = _blobs()
    n, why = model_bytes(_Unpicklable().fit(X, y))
    assert n is None
    assert "lambda" in why or "pickle" in why.lower()


def test_classical_n_params_counts_what_is_learned():
    X, y = _blobs()
    lr = LogisticRegression(max_iter=500).fit(X, y)
    assert classical_n_params(lr) == lr.coef_.size + lr.intercept_.size == 3 * 20 + 3
    svc = SVC().fit(X, y)
    assert classical_n_params(svc) == svc.support_vectors_.shape[0] * 20
    rf = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    assert classical_n_params(rf) == sum(t.tree_.node_count for t in rf.estimators_)
    pipe = Pipeline([("scaler", StandardScaler()), ("lr", LogisticRegression(max_iter=500))]).fit(X, y)
    assert classical_n_params(pipe) == 20 + 20 + 3 * 20 + 3
    assert classical_n_params(KNeighborsClassifier().fit(X, y)) is None  # no meaningful count
    assert classical_n_params(Pipeline([("s", StandardScaler()), ("k", KNeighborsClassifier())]).fit(X, y)) is None


def _hand_macs(module, side: int = 28) -> int:
    """LeNet-5's multiply-adds from its layers' shapes: conv out_c x in_c x k x k per output pixel, linear in x out."""
    from torch import nn

    h = w = side
    total = 0
    for layer in module:
        if isinstance(layer, nn.Conv2d):
            (kh, kw), (ph, pw), (sh, sw) = layer.kernel_size, layer.padding, layer.stride
            h, w = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
            total += layer.out_channels * (layer.in_channels // layer.groups) * kh * kw * h * w
        elif isinstance(layer, nn.MaxPool2d | nn.AvgPool2d):
            k = layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[0]
            h, w = h // k, w // k
        elif isinstance(layer, nn.Linear):
            total += layer.in_features * layer.out_features
    return total


@pytest.mark.slow  # importing torch takes seconds
def test_lenet5_macs_match_the_hand_count_from_its_layer_shapes():
    pytest.importorskip("torch")
    from mnist_classic.estimators.lenet import LeNet5Classifier

    module = LeNet5Classifier()._build_module(10)
    hand = _hand_macs(module)
    # 6x1x5x5x28x28 + 16x6x5x5x10x10 + 400x120 + 120x84 + 84x10
    assert hand == 117_600 + 240_000 + 48_000 + 10_080 + 840 == 416_520
    counted = forward_macs(module)
    assert abs(counted - hand) <= 0.10 * hand, (counted, hand)
    assert module.training  # put back as it was


@pytest.mark.slow  # importing torch takes seconds
def test_vit_macs_count_its_attention_from_its_layer_shapes():
    pytest.importorskip("torch")
    from mnist_classic.estimators.vit import ViTClassifier

    module = ViTClassifier()._build_module(10)
    conv = module.patches
    tokens = module.pos.shape[1]  # patches (and a class token, if any)
    patches = (28 // conv.kernel_size[0]) ** 2
    hand = conv.out_channels * conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1] * patches
    for layer in module.encoder.layers:
        d = layer.self_attn.embed_dim
        hand += tokens * 3 * d * d + tokens * d * d  # the q, k, v projections and the output projection
        hand += 2 * tokens * tokens * d  # q k^T and the weighted sum of v, over all heads
        hand += tokens * layer.linear1.in_features * layer.linear1.out_features
        hand += tokens * layer.linear2.in_features * layer.linear2.out_features
    hand += module.head.in_features * module.head.out_features
    assert forward_macs(module) == hand


@pytest.mark.slow  # importing torch takes seconds
def test_model_bytes_of_a_network_is_its_state_dict():
    torch = pytest.importorskip("torch")
    import io

    from mnist_classic.estimators.lenet import LeNet5Classifier

    est = LeNet5Classifier()
    est.module_ = est._build_module(10)
    n, what = model_bytes(est)
    buf = io.BytesIO()
    torch.save(est.module_.state_dict(), buf)
    assert what == "state_dict"
    assert n == buf.getbuffer().nbytes
    assert n >= 61_706 * 4  # its float32 weights


# --- measure: one-image latency -------------------------------------------------------------------------------------


def test_latency_sample_is_fixed_and_without_repeats():
    a, b = latency_sample(1000, 50), latency_sample(1000, 50)
    assert a.tolist() == b.tolist()
    assert len(set(a.tolist())) == 50


def test_one_image_latency_percentiles_are_ordered_and_n_jobs_restored():
    X, y = _blobs()
    est = KNeighborsClassifier(n_jobs=2).fit(X, y)
    calls = []
    original = est.predict

    def counting(x):
        calls.append((len(x), est.n_jobs))
        return original(x)

    est.predict = counting  # type: ignore[method-assign]
    p50, p99 = one_image_latency(est, X, 25)
    assert 0 < p50 <= p99
    assert len(calls) == 25 + 10  # timed calls and the warm-up
    assert all(n == 1 and jobs == 1 for n, jobs in calls)  # one image, one thread
    assert est.n_jobs == 2


@pytest.mark.parametrize("n", [0, -1, 301, True])
def test_one_image_latency_rejects_sizes_outside_the_test_set(n):
    X, y = _blobs()
    with pytest.raises(ValueError, match=r"The 'n' parameter of one_image_latency must be an int in \[1, 300\]"):
        one_image_latency(LogisticRegression().fit(X, y), X, n)


def test_check_latency_default_and_bounds():
    assert check_latency(None, 10_000) == 200
    assert check_latency(None, 50) == 50
    assert check_latency(0, 50) == 0
    with pytest.raises(ValueError, match=r"must be an int in \[0, 50\] \(the test images\); 0 turns it off. Got 51"):
        check_latency(51, 50)
    with pytest.raises(ValueError, match=r"must be a non-negative int; 0 turns it off. Got -1"):
        check_latency(-1)


# --- probability scores ---------------------------------------------------------------------------------------------


def test_probability_scores_match_scikit_learn_and_a_hand_ece():
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(4), size=500)
    y = rng.integers(0, 4, 500)
    classes = np.arange(4)
    s = probability_scores(proba, classes, y)
    assert s["log_loss"] == pytest.approx(log_loss(y, proba, labels=classes))
    assert s["brier"] == pytest.approx(brier_score_loss(y, proba, labels=classes, scale_by_half=False))
    # ECE by hand: 15 bins of (b/15, (b+1)/15], |accuracy - confidence| weighted by the bin's share
    conf, pred = proba.max(axis=1), proba.argmax(axis=1)
    ece = 0.0
    for b in range(15):
        inside = (conf > b / 15) & (conf <= (b + 1) / 15)
        if inside.any():
            ece += inside.mean() * abs((pred[inside] == y[inside]).mean() - conf[inside].mean())
    assert s["ece"] == pytest.approx(ece)


def test_reliability_of_a_perfectly_calibrated_bin():
    proba = np.array([[0.75, 0.25]] * 4)
    r = reliability(proba, np.array([0, 1]), np.array([0, 0, 0, 1]))
    assert r.count.sum() == 4
    assert r.ece == pytest.approx(0.0)


def test_a_class_the_model_never_saw_gets_probability_zero():
    proba = np.array([[0.8, 0.2], [0.3, 0.7]])
    full, labels = aligned(proba, np.array([1, 3]), np.array([1, 2]))
    assert labels.tolist() == [1, 2, 3]
    assert full.tolist() == [[0.8, 0.0, 0.2], [0.3, 0.0, 0.7]]
    s = probability_scores(proba, np.array([1, 3]), np.array([1, 2]))
    assert math.isfinite(s["log_loss"]) and s["log_loss"] > 10  # the clipped log of a zero probability


# --- the sidecar ----------------------------------------------------------------------------------------------------


def test_probabilities_round_trip_and_check_their_hash(tmp_path):
    proba = np.random.default_rng(0).dirichlet(np.ones(3), size=20)
    sha = save_probabilities(tmp_path, proba, np.array([0, 1, 2]))
    back, classes = load_probabilities(tmp_path, sha)
    assert back.dtype == np.float32 and np.array_equal(back, proba.astype(np.float32))
    assert classes.tolist() == [0, 1, 2]
    assert save_probabilities(tmp_path, back, classes) == sha  # the stored copy hashes to its name
    with open(tmp_path / f"{sha}.npz", "wb") as f:
        np.savez_compressed(f, proba=back[::-1], classes=classes)
    with pytest.raises(ResultsSchemaError, match="do not match their SHA-256"):
        load_probabilities(tmp_path, sha)
    with pytest.raises(ValueError, match="one label per column"):
        save_probabilities(tmp_path, proba, np.array([0, 1]))


def test_csvs_without_the_deployment_columns_still_read(tmp_path):
    # the files of the release before: they lack this round's columns (the deployment ones among them)
    lacks = OLDER_SCHEMAS["0.3.0.dev0 (before resampled splits, tuning, clusters, deployment, process and CPU columns)"]
    assert set(DEPLOYMENT_COLUMNS) <= set(lacks)
    before = [c for c in COLUMNS if c not in lacks]
    path = tmp_path / "old.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(before)
        w.writerow(
            ["1" if c in ("n_train", "n_test", "seed", "repeat") else "ok" if c == "status" else "" for c in before]
        )
    df = read_results(path)
    assert tuple(df.columns) == COLUMNS
    assert df["model_bytes"].isna().all() and df["probabilities_sha256"].isna().all()
    assert row_probabilities({**df.iloc[0].to_dict(), "_source": str(path)}) is None


def test_explore_ranks_confident_mistakes_first():
    proba = np.array([[0.6, 0.4], [0.2, 0.8], [0.95, 0.05], [0.6, 0.4]])
    assert confidently_wrong(proba, np.array([0, 1]), np.array([1, 1, 1, 1]), n=2) == [(2, 0, 0.95), (0, 0, 0.6)]


# --- a run, its report, compare ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("deploy") / "r.csv"
    pipes = ["knn", "logreg", "svm"]
    result = run_benchmark(RunConfig(pipelines=pipes, n_train=[300], n_test=120, latency=15, output=out, warmup="none"))
    return result, out


def test_a_run_fills_the_deployment_columns(tiny_run):
    result, out = tiny_run
    df = read_results(out)
    rows = {r["pipeline"]: r for _, r in df.iterrows()}
    assert (df["status"] == "ok").all()
    assert (df["model_bytes"] > 0).all()
    assert rows["knn"]["model_bytes"] >= 300 * 784 * 4
    assert (df["latency_n"] == 15).all()
    assert (df["latency_ms_p50"] <= df["latency_ms_p99"]).all()
    assert rows["logreg"]["n_params"] == 2 * 784 + 784 * 10 + 10  # scaler mean_ and scale_, coef_, intercept_
    for name in ("knn", "logreg"):
        assert rows[name]["log_loss"] > 0 and 0 <= rows[name]["ece"] <= 1 and 0 <= rows[name]["brier"] <= 2
    r = rows["svm"]  # SVC without probability=True has no predict_proba: empty, and a note
    assert math.isnan(r["log_loss"]) and math.isnan(r["ece"]) and not isinstance(r["probabilities_sha256"], str)
    noted = {r["pipeline"]: r.get("notes", []) for r in result.rows}
    assert any("no predict_proba" in n for n in noted["svm"])
    assert not noted["knn"]


def test_the_row_scores_are_those_of_the_stored_probabilities(tiny_run):
    _, out = tiny_run
    df = load_runs([out])
    row = df[df["pipeline"] == "logreg"].iloc[0]
    proba, classes = load_probabilities(predictions_dir(out), row["probabilities_sha256"])
    from mnist_classic.results import row_labels

    scores = probability_scores(proba, classes, row_labels(row, "truth_sha256"))
    assert row["log_loss"] == pytest.approx(scores["log_loss"], abs=1e-6)
    assert row["ece"] == pytest.approx(scores["ece"], abs=1e-6)
    assert row["brier"] == pytest.approx(scores["brier"], abs=1e-6)
    assert float(np.mean(classes[proba.argmax(axis=1)] == row_labels(row, "truth_sha256"))) == pytest.approx(
        row["accuracy"], abs=0.02
    )


def test_an_unpicklable_model_is_recorded_with_empty_model_bytes(tmp_path, caplog):
    out = tmp_path / "r.csv"
    with caplog.at_level("WARNING"):
        result = run_benchmark(
            RunConfig(
                pipelines=[("lambda", _Unpicklable())],
                n_train=[100],
                n_test=50,
                latency=5,
                output=out,
                check_contract=False,
                warmup="none",
            )
        )
    row = read_results(out).iloc[0]
    assert row["status"] == "ok" and math.isnan(row["model_bytes"])
    assert "model_bytes left empty" in caplog.text
    assert result.exit_code == 0


class _OddProba(_Unpicklable):
    """predict_proba of the wrong shape (``shape="wrong"``) or with NaN (``shape="nan"``)."""

    def __init__(self, shape: str = "wrong") -> None:
        self.shape = shape

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        if self.shape == "wrong":
            return np.ones((len(X), 1))
        return np.full((len(X), len(self.classes_)), np.nan)


@pytest.mark.parametrize("shape", ["wrong", "nan"])
def test_odd_probabilities_leave_the_scores_empty_never_fail_the_case(tmp_path, caplog, shape):
    out = tmp_path / "r.csv"
    with caplog.at_level("WARNING"):
        config = RunConfig(pipelines=[("odd", _OddProba(shape))], n_train=[100], n_test=50, latency=0, output=out,
                           check_contract=False, warmup="none")  # fmt: skip
        assert run_benchmark(config).exit_code == 0
    row = read_results(out).iloc[0]
    assert row["status"] == "ok" and math.isnan(row["log_loss"]) and math.isnan(row["latency_ms_p50"])
    assert "predict_proba failed" in caplog.text if shape == "wrong" else "left empty" in caplog.text


@pytest.mark.parametrize("value", ["-1", "121"])
def test_cli_latency_out_of_range_is_one_line_and_exit_2(tmp_path, capsys, value):
    out = tmp_path / "r.csv"
    code = main(["run", "--pipelines", "logreg", "--n-train", "100", "--n-test", "120", "--latency", value,
                 "--output", str(out), "-q"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "The 'latency' parameter must be" in err[0] and f"Got {value} instead" in err[0]
    assert not out.exists()


def test_report_has_the_cost_table(tiny_run):
    from mnist_classic.analysis.report.render import render_markdown
    from mnist_classic.analysis.report.summary import build_report

    _, out = tiny_run
    text = render_markdown(build_report(load_runs([out])))
    assert "what a deployment costs" in text
    assert "| pipeline | n_train | k | accuracy % | model size | p50 ms | p99 ms | MACs | params |" in text


@pytest.mark.slow  # matplotlib's first figure takes seconds
def test_report_draws_latency_and_reliability_figures(tiny_run, tmp_path):
    pytest.importorskip("matplotlib")
    from mnist_classic.analysis.report.deployment import deployment_figures

    _, out = tiny_run
    figs = deployment_figures(load_runs([out]), tmp_path, formats=["png"])
    assert [f.name for f in figs] == ["latency-mnist", "reliability-mnist"]
    assert all(p.stat().st_size > 0 for f in figs for p in f.paths)


def test_explore_payload_lists_confident_mistakes_of_cases_with_probabilities(tiny_run):
    from mnist_classic.analysis.explore.explorer import explore_payload
    from mnist_classic.results import row_labels

    _, out = tiny_run
    df = load_runs([out])
    payload = explore_payload(df)
    cases = {c["pipeline"]: c for c in payload["cases"]}
    assert cases["svm"]["confident_wrong"] is None  # no predict_proba
    row = df[df["pipeline"] == "logreg"].iloc[0]
    proba, classes = load_probabilities(predictions_dir(out), row["probabilities_sha256"])
    expected = confidently_wrong(proba, classes, row_labels(row, "truth_sha256"))
    assert [tuple(e) for e in cases["logreg"]["confident_wrong"]] == expected
    assert expected and all(a[2] >= b[2] for a, b in itertools.pairwise(expected))
    assert payload["confident_wrong_max"] == 120


def test_the_neural_table_gains_macs():
    import pandas as pd

    row = {c: None for c in COLUMNS}
    row.update(dataset="mnist", n_test=100, pipeline="lenet5", n_train=100, seed=0, status="ok", accuracy=0.9,
               device="cpu", n_params=61706, macs=416520, predict_time_s=0.1, learning_curves="")  # fmt: skip
    table = neural_tables(pd.DataFrame([row]))[0]
    assert "MACs" in table.head
    assert table.rows[0][table.head.index("MACs")] == "416,520"


def test_compare_shows_deployment_columns_and_gates_model_growth_only_when_asked(tiny_run):
    _, out = tiny_run
    base = load_runs([out])
    new = base.copy()
    new["model_bytes"] = new["model_bytes"].astype(float)
    new.loc[new["pipeline"] == "knn", "model_bytes"] *= 1.5
    shown = compare_runs(base, new)
    knn = {r.metric: r for r in shown.rows if r.pipeline == "knn"}
    assert {"model_bytes", "latency_ms_p50", "latency_ms_p99", "log_loss", "ece", "brier"} <= set(knn)
    assert knn["model_bytes"].verdict == "same" and knn["model_bytes"].change == pytest.approx(1.5)
    assert not shown.regressions
    gated = compare_runs(base, new, max_model_growth=1.2)
    assert [(r.pipeline, r.metric) for r in gated.regressions] == [("knn", "model_bytes")]
    with pytest.raises(ValueError, match=r"The 'max_model_growth' parameter must be a ratio > 1\. Got 0\.9"):
        compare_runs(base, new, max_model_growth=0.9)


def test_history_shows_deployment_columns_and_gates_model_growth_only_when_asked(tiny_run):
    import pandas as pd

    from mnist_classic.analysis.history.dashboard import render_dashboard
    from mnist_classic.analysis.history.series import build_history, format_markdown

    _, out = tiny_run
    base = load_runs([out])
    new = base.copy()
    new["run_id"], new["started_at"] = "later", "2099-01-01T00:00:00+00:00"
    new["model_bytes"] = new["model_bytes"].astype(float)
    new.loc[new["pipeline"] == "knn", "model_bytes"] *= 1.5
    rows = pd.concat([base, new], ignore_index=True)
    shown = build_history(rows, axis="started_at")
    assert shown.exit_code == 0
    md = format_markdown(shown)
    assert "| model size |" in md and "| log-loss |" in md and "shown, not gated" in md
    assert "deployment</th>" in render_dashboard(shown)
    gated = build_history(rows, axis="started_at", max_model_growth=1.2)
    assert [(s.pipeline, r.metric) for s, r in gated.regressions] == [("knn", "model_bytes")]


# --- the "done when" check, on the full test set ---------------------------------------------------------


@pytest.mark.slow
def test_done_when_knn_rf_logreg_at_5000_with_latency_200(tmp_path, capsys):
    out = tmp_path / "r.csv"
    code = main(["run", "--pipelines", "knn", "rf", "logreg", "--n-train", "5000", "--latency", "200",
                 "--output", str(out), "-q"])  # fmt: skip
    assert code == 0
    df = read_results(out)
    rows = {r["pipeline"]: r for _, r in df.iterrows()}
    assert set(rows) == {"knn", "rf", "logreg"}
    assert rows["knn"]["model_bytes"] >= 5000 * 784 * 4
    for r in rows.values():
        assert r["model_bytes"] > 0
        assert r["latency_n"] == 200 and r["latency_ms_p50"] <= r["latency_ms_p99"]
        assert r["log_loss"] > 0 and 0 <= r["ece"] <= 1 and r["brier"] >= 0
    print(df[["pipeline", "accuracy", "model_bytes", "n_params", "log_loss", "ece", "brier"]].to_string())
    rep = tmp_path / "rep"
    assert main(["report", str(out), "--out", str(rep)]) == 0
    assert "what a deployment costs" in (rep / "report.md").read_text()
    assert (rep / "figures" / "latency-mnist.png").stat().st_size > 0
    assert (rep / "figures" / "latency-mnist.svg").stat().st_size > 0


@pytest.mark.slow
def test_done_when_lenet5_macs_within_ten_percent_of_the_hand_count(tmp_path):
    pytest.importorskip("torch")
    from mnist_classic.estimators.lenet import LeNet5Classifier

    out = tmp_path / "r.csv"
    code = main(["run", "--pipelines", "lenet5[max_epochs=1]", "--n-train", "500", "--n-test", "300",
                 "--latency", "20", "--output", str(out), "-q"])  # fmt: skip
    assert code == 0
    row = read_results(out).iloc[0]
    hand = _hand_macs(LeNet5Classifier()._build_module(10))
    assert abs(row["macs"] - hand) <= 0.10 * hand, (row["macs"], hand)
    assert row["model_bytes"] >= 61_706 * 4
    assert row["log_loss"] > 0 and row["latency_ms_p50"] <= row["latency_ms_p99"]


def test_sizes_and_counts_roll_over_to_the_next_unit_once_rounded():
    from mnist_classic.analysis.report.deployment import _bytes, _count

    assert [_count(n) for n in (999_550, 9_418, 512, 9_172_800)] == ["1 M", "9.42 k", "512", "9.17 M"]
    assert [_bytes(n) for n in (999_999, 51_362, 12)] == ["1 MB", "51.4 kB", "12 B"]
    assert _count(float("nan")) == _bytes(float("nan")) == "—"
