"""The report's neural table and figures, from synthetic rows with the neural columns (no torch needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic import predictions, write_run

from mnist_classic import read_results
from mnist_classic.analysis.report.neural import neural_cases
from mnist_classic.analysis.report.summary import build_report, write_report
from mnist_classic.analysis.runs import load_runs

N = 10_000
RESULTS = Path(__file__).resolve().parents[1] / "results"


def _net(n_params: int, epochs: list[float]) -> dict[str, object]:
    loss = [1.0 / (i + 1) for i in range(len(epochs))]
    curves = {"epoch_s": epochs, "loss": loss, "train_accuracy": [0.9] * len(epochs)}
    return {"device": "cpu", "n_params": n_params, "learning_curves": json.dumps(curves)}


@pytest.fixture(scope="module")
def run_csv(tmp_path_factory):
    truth = np.random.default_rng(0).integers(0, 10, size=N)
    cases = [
        {"pipeline": "svm", "preds": [predictions(truth, 9837)]},
        {"pipeline": "lenet5", "preds": [predictions(truth, 9915)], "predict": [2.0]},
        {"pipeline": "vit[depth=2]", "preds": [predictions(truth, 9810)], "predict": [8.0]},
    ]
    cases[1]["columns"] = _net(61706, [60.0, 50.0, 55.0])
    cases[2]["columns"] = _net(60634, [90.0])
    return write_run(tmp_path_factory.mktemp("runs") / "run.csv", truth, cases, dataset="digits")


def test_neural_table_lists_only_the_networks(run_csv):
    report = build_report(load_runs([run_csv]))
    table = next(t for t in report.tables if "neural networks" in t.title)
    assert table.head == [
        "pipeline", "architecture", "year", "n_train", "device", "parameters", "MACs", "epochs", "s / epoch",
        "images / s", "accuracy %",
    ]  # fmt: skip
    assert [r[0] for r in table.rows] == ["lenet5", "vit[depth=2]"]
    lenet, vit = table.rows
    # no macs in these rows (as in rows written before the column): a dash
    assert lenet[1:] == ["LeNet-5", "1998", "60,000", "cpu", "61,706", "\N{EM DASH}", "3", "55", "5,000", "99.15"]
    assert vit[1:3] == ["ViT", "2020"] and vit[9] == "1,250"  # 10,000 images in 8 s
    assert table.left == {0, 1, 4}
    # the summary table of every row is still first, and keeps its own alignment
    assert report.tables[0].left == {0, 4} and "svm" in [r[0] for r in report.tables[0].rows]


def test_report_files_carry_the_neural_table_and_figures(tmp_path, run_csv):
    pytest.importorskip("matplotlib")
    written = write_report(load_runs([run_csv]), tmp_path, figure_formats=("png",))
    names = {p.name for p in written}
    assert {"neural-inference-digits.png", "neural-years-digits.png", "neural-curves-digits.png"} <= names
    md = (tmp_path / "report.md").read_text()
    assert "## digits: neural networks, 10,000 test images" in md and "Error by architecture year" in md
    assert "\\begin{tabular}" in (tmp_path / "report.tex").read_text()


def test_rows_without_a_device_are_not_neural(tmp_path):
    truth = np.zeros(100, dtype=int)
    path = write_run(tmp_path / "r.csv", truth, [{"pipeline": "mlp", "pred": truth}])
    df = load_runs([path])
    assert neural_cases(df).empty
    assert not any("neural" in t.title for t in build_report(df).tables)


def test_files_of_the_schema_before_the_neural_columns_still_read():
    df = read_results(RESULTS / "mnist-neural.csv")  # written by 0.2, before device, n_params, learning_curves
    assert df["device"].isna().all() and df["n_params"].isna().all()
