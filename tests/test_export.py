"""Export to pytest-benchmark and github-action-benchmark formats, on a synthetic results CSV."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from mnist_classic.analysis.report.export import (
    benchmark_stats,
    to_github_benchmark,
    to_pytest_benchmark,
    write_github_benchmark,
    write_pytest_benchmark,
)
from mnist_classic.results import COLUMNS, ResultsSchemaError

BASE = {
    "dataset": "mnist",
    "params": "{}",
    "n_test": 10000,
    "subset": "first",
    "python_version": "3.11.7",
    "numpy_version": "2.4.6",
    "scipy_version": "1.17.1",
    "sklearn_version": "1.9.1",
    "blas": "openblas",
    "blas_threads": 1,
    "cpu_model": "Test CPU",
    "cpu_count": 2,
    "platform": "Linux-x86_64",
    "suite_version": "0.1.0",
    "git_commit": "0123456789abcdef0123456789abcdef01234567",
}


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({**BASE, **r})
    return path


def case(pipeline, fits, predicts, accs, n_train=60000, run_id="r1", **extra):
    return [
        {
            "run_id": run_id,
            "pipeline": pipeline,
            "n_train": n_train,
            "seed": i,
            "repeat": i,
            "status": "ok",
            "fit_time_s": f,
            "predict_time_s": p,
            "accuracy": a,
            "started_at": f"2026-01-0{i + 1}T00:00:00+00:00",
            **extra,
        }
        for i, (f, p, a) in enumerate(zip(fits, predicts, accs, strict=True))
    ]


@pytest.fixture
def results(tmp_path):
    rows = [
        *case("svm[C=10]", [10.0, 11.0, 12.5], [2.0, 2.1, 2.2], [0.9837, 0.9837, 0.9836]),
        *case("knn", [0.1, 0.2], [30.0, 31.0], [0.97, 0.97], n_train=1000),
        {"run_id": "r1", "pipeline": "rf", "n_train": 60000, "seed": 0, "repeat": 0, "status": "error", "error": "x"},
    ]
    return write_csv(tmp_path / "run.csv", rows)


def test_pytest_benchmark_document(results):
    doc = to_pytest_benchmark(results)
    assert set(doc) == {"machine_info", "commit_info", "benchmarks", "datetime", "version"}
    assert doc["commit_info"]["id"] == BASE["git_commit"]
    assert doc["commit_info"]["dirty"] is False
    assert doc["machine_info"]["cpu"]["brand_raw"] == "Test CPU"
    assert doc["datetime"] == "2026-01-03T00:00:00+00:00"
    names = [b["name"] for b in doc["benchmarks"]]
    assert names == [
        "fit[knn n_train=1000 n_test=10000]",
        "predict[knn n_train=1000 n_test=10000]",
        "fit[svm[C=10] n_train=60000 n_test=10000]",
        "predict[svm[C=10] n_train=60000 n_test=10000]",
    ]  # the failed rf case is left out
    svm_fit = doc["benchmarks"][2]
    assert svm_fit["group"] == "mnist fit"
    assert svm_fit["stats"]["rounds"] == 3
    assert svm_fit["stats"]["median"] == 11.0
    assert svm_fit["stats"]["data"] == [10.0, 11.0, 12.5]
    assert svm_fit["extra_info"]["accuracy_median"] == pytest.approx(0.9837)
    json.dumps(doc, allow_nan=False)


def test_dirty_commit(tmp_path):
    path = write_csv(tmp_path / "d.csv", case("knn", [1.0], [2.0], [0.9], git_commit="abc-dirty"))
    assert to_pytest_benchmark(path)["commit_info"] == {
        "id": "abc",
        "time": None,
        "author_time": None,
        "dirty": True,
        "project": "mnist-classic",
        "branch": None,
    }


def test_two_commits_refused(tmp_path):
    rows = case("knn", [1.0], [2.0], [0.9], git_commit="aaa") + case("knn", [1.0], [2.0], [0.9], git_commit="bbb")
    path = write_csv(tmp_path / "two.csv", rows)
    with pytest.raises(ValueError, match=r"rows from 2 different git_commit values \(aaa, bbb\)"):
        to_pytest_benchmark(path)


def test_not_a_results_csv(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ResultsSchemaError):
        to_pytest_benchmark(path)
    with pytest.raises(ResultsSchemaError):
        to_github_benchmark(path)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8, 9, 13])
def test_stats_match_pytest_benchmark(n):
    stats_mod = pytest.importorskip("pytest_benchmark.stats")
    data = list(np.random.default_rng(n).lognormal(size=n))
    data[0] *= 5  # an outlier
    theirs = stats_mod.Stats()
    for t in data:
        theirs.update(t)
    ours = benchmark_stats(data)
    for field in stats_mod.Stats.fields:
        assert ours[field] == pytest.approx(getattr(theirs, field)), field


def test_stats_need_a_time():
    with pytest.raises(ValueError, match="The 'times' parameter of benchmark_stats must hold at least one time"):
        benchmark_stats([])


def test_pytest_benchmark_compare_reads_the_file(results, tmp_path):
    pytest.importorskip("pytest_benchmark")
    out = write_pytest_benchmark(results, tmp_path / "0001_export.json")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", str(out), "--columns", "min,median,max,rounds"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "fit[svm[C=10] n_train=60000 n_test=10000]" in proc.stdout
    assert "mnist predict" in proc.stdout  # a group


def test_github_benchmark_lists(results):
    data = to_github_benchmark(results)
    smaller, bigger = data["customSmallerIsBetter"], data["customBiggerIsBetter"]
    assert [e["name"] for e in smaller] == [
        "fit knn n_train=1000 n_test=10000",
        "predict knn n_train=1000 n_test=10000",
        "fit svm[C=10] n_train=60000 n_test=10000",
        "predict svm[C=10] n_train=60000 n_test=10000",
    ]
    svm_fit = smaller[2]
    assert svm_fit == {
        "name": "fit svm[C=10] n_train=60000 n_test=10000",
        "unit": "s",
        "value": 11.0,
        "range": "10 - 12.5",
        "extra": "3 repeats; scikit-learn 1.9.1; commit 0123456789ab",
    }
    assert [e["name"] for e in bigger] == [
        "accuracy knn n_train=1000 n_test=10000",
        "accuracy svm[C=10] n_train=60000 n_test=10000",
    ]
    assert bigger[1]["unit"] == "%"
    assert bigger[1]["value"] == pytest.approx(98.37)
    for entry in smaller + bigger:
        assert set(entry) == {"name", "unit", "value", "range", "extra"}
        assert isinstance(entry["value"], float)


def test_write_github_benchmark(results, tmp_path):
    small, big = write_github_benchmark(results, tmp_path / "out")
    assert small.name == "smaller_is_better.json"
    assert big.name == "bigger_is_better.json"
    assert len(json.loads(small.read_text())) == 4
    assert len(json.loads(big.read_text())) == 2


def test_dataset_named_when_not_mnist(tmp_path):
    path = write_csv(tmp_path / "f.csv", case("knn", [1.0], [2.0], [0.9], dataset="fashion"))
    assert (
        to_github_benchmark(path)["customBiggerIsBetter"][0]["name"]
        == "accuracy fashion: knn n_train=60000 n_test=10000"
    )


def test_export_command(results, tmp_path, capsys):
    from mnist_classic.cli import main

    assert main(["export", str(results), "--format", "pytest-benchmark"]) == 0
    assert json.loads(capsys.readouterr().out) == to_pytest_benchmark(results)
    out = tmp_path / "bench.json"
    assert main(["export", str(results), "--format", "pytest-benchmark", "--output", str(out)]) == 0
    assert json.loads(out.read_text()) == to_pytest_benchmark(results)
    assert main(["export", str(results), "--format", "github-action", "--output", str(tmp_path / "gh")]) == 0
    printed = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[-1] for p in printed[-2:]] == ["smaller_is_better.json", "bigger_is_better.json"]
    smaller = json.loads((tmp_path / "gh" / "smaller_is_better.json").read_text())
    assert smaller == to_github_benchmark(results)["customSmallerIsBetter"]
