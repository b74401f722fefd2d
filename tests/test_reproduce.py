"""``mnist-classic reproduce``: rows run again from what they recorded; nothing from a CSV imported unless allowed."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mnist_classic.bench.reproduce import ImportRefusedError, named_modules, reproduce_rows
from mnist_classic.cli import main
from mnist_classic.spec import plugins
from mnist_classic.spec.pipelines import PIPELINES

RUN = ["--n-train", "200", "--n-test", "100", "-q"]

USERMOD = """
from sklearn.neighbors import KNeighborsClassifier

def make_knn(k=3):
    return KNeighborsClassifier(n_neighbors=k)
"""

PLUGIN = """
from sklearn.tree import DecisionTreeClassifier
from mnist_classic import register_pipeline

@register_pipeline("tree2r", "a depth-2 decision tree (a plugin's pipeline)")
def _tree2():
    return DecisionTreeClassifier(max_depth=2)
"""


@pytest.fixture
def clean_registry():
    pipes, loaded = dict(PIPELINES), set(plugins._LOADED)
    yield
    PIPELINES.clear()
    PIPELINES.update(pipes)
    plugins._LOADED.clear()
    plugins._LOADED.update(loaded)


@pytest.fixture(scope="module")
def builtin_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "r.csv"
    assert main(["run", "--pipelines", "dummy", "knn", "rf[n_estimators=5]", "-o", str(out), *RUN]) == 0
    return out


def _edit(src: Path, dst: Path, **changes: dict[str, str]) -> Path:
    """A copy of ``src`` with cells changed: ``row1={"column": "value"}`` (1-based rows)."""
    with src.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for key, cells in changes.items():
        rows[int(key.removeprefix("row")) - 1].update(cells)
    with dst.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return dst


@pytest.mark.slow
def test_a_fresh_run_of_builtin_pipelines_reproduces(builtin_run, capsys):
    assert main(["reproduce", str(builtin_run)]) == 0
    out = capsys.readouterr().out
    assert out.count("same predictions (sha256 ") == 3 and "3 of 3 rows reproduced" in out
    assert "row 3 rf[n_estimators=5] n_train=200 seed=0: same predictions" in out


def test_rows_are_chosen_by_number_range_or_pipeline(builtin_run, capsys):
    assert main(["reproduce", str(builtin_run), "2"]) == 0
    assert "1 of 1 rows reproduced" in capsys.readouterr().out
    outcomes = reproduce_rows(builtin_run, ["1-2", "knn"])
    assert [o.row for o in outcomes] == [1, 2]
    assert main(["reproduce", str(builtin_run), "7"]) == 2
    assert "ROW must be a row number in [1, 3]" in capsys.readouterr().err


def test_a_row_that_does_not_reproduce_exits_1_and_says_what_differs(builtin_run, tmp_path, capsys):
    edited = _edit(
        builtin_run,
        tmp_path / "e.csv",
        row2={"predictions_sha256": "0" * 64, "sklearn_version": "0.24.2", "blas_threads": "64"},
    )
    assert main(["reproduce", str(edited), "1", "2"]) == 1
    out = capsys.readouterr().out
    assert "row 1 dummy n_train=200 seed=0: same predictions" in out
    assert "row 2 knn n_train=200 seed=0: DIFFERENT predictions (sha256 000000000000 -> " in out
    assert "  environment: sklearn_version 0.24.2 -> " in out and "blas_threads 64 -> " in out
    assert "1 of 2 rows reproduced" in out


@pytest.mark.slow
def test_rows_naming_modules_are_refused_in_one_line_unless_allowed(tmp_path, monkeypatch, capsys):
    (tmp_path / "usermod_r.py").write_text(USERMOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "r.csv"
    sels = ["usermod_r:make_knn[n_neighbors=5]", "sklearn.svm:SVC[kernel=linear]"]
    assert main(["run", "--pipelines", *sels, "-o", str(out), *RUN]) == 0
    capsys.readouterr()
    assert main(["reproduce", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "row(s) 1, 2 name module(s) sklearn.svm, usermod_r" in err
    assert "--allow-import sklearn.svm --allow-import usermod_r" in err
    assert main(["reproduce", str(out), "--allow-import", "sklearn", "--allow-import", "usermod_r"]) == 0
    assert "2 of 2 rows reproduced" in capsys.readouterr().out


def test_a_csv_naming_any_callable_imports_and_calls_nothing(builtin_run, tmp_path, capsys):
    marker = tmp_path / "pwned"
    crafted = f"os:system[command='touch {marker}']+subprocess:Popen[args=x]"
    edited = _edit(builtin_run, tmp_path / "e.csv", row1={"pipeline": crafted})
    with pytest.raises(ImportRefusedError, match=r"module\(s\) os, subprocess"):
        reproduce_rows(edited, ["1"], allow_import=["sklearn"])
    assert main(["reproduce", str(edited)]) == 2
    assert "--allow-import os --allow-import subprocess" in capsys.readouterr().err
    assert not marker.exists()


def test_the_module_scan_sees_every_depth_quoted_or_not():
    sel = "sklearn.multiclass:OneVsRestClassifier[estimator='a.b:C[x=1]']+svm[C=0.5]+d.e.F"
    assert named_modules(sel) == ["a.b", "d.e", "sklearn.multiclass"]
    assert named_modules("svm[C=1e-3,gamma=scale]") == []


@pytest.mark.slow
def test_a_plugin_pipeline_needs_its_plugin(tmp_path, capsys, clean_registry):
    plugin = tmp_path / "plug_r.py"
    plugin.write_text(PLUGIN)
    out = tmp_path / "r.csv"
    assert main(["run", "--plugin", str(plugin), "--pipelines", "tree2r", "-o", str(out), *RUN]) == 0
    PIPELINES.pop("tree2r")
    plugins._LOADED.clear()
    capsys.readouterr()
    assert main(["reproduce", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "row 1: pipeline 'tree2r' cannot be rebuilt here" in err and "--plugin" in err
    assert main(["reproduce", str(out), "--plugin", str(plugin)]) == 0


def test_data_that_differs_from_the_rows_is_misuse(builtin_run, tmp_path, capsys):
    edited = _edit(builtin_run, tmp_path / "e.csv", row1={"sha256_test_images": "f" * 64})
    assert main(["reproduce", str(edited), "1"]) == 2
    assert "row 1: the data differs from the row's (test_images)" in capsys.readouterr().err


def test_output_keeps_the_new_rows(builtin_run, tmp_path):
    out = tmp_path / "again.csv"
    assert main(["reproduce", str(builtin_run), "1", "-o", str(out)]) == 0
    assert out.is_file() and len(out.read_text().splitlines()) == 2


def test_the_blas_recorded_does_not_depend_on_import_order(monkeypatch):
    import threadpoolctl

    from mnist_classic.measure import environment

    numpy_blas = {"user_api": "blas", "internal_api": "openblas", "version": "0.3.31", "num_threads": 2}
    numpy_blas["filepath"] = "/site-packages/numpy.libs/libscipy_openblas64_.so"
    scipy_blas = dict(numpy_blas, version="0.3.30", num_threads=4, filepath="/site-packages/scipy.libs/libopenblas.so")
    for order in ([numpy_blas, scipy_blas], [scipy_blas, numpy_blas]):
        monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda order=order: list(order))
        assert environment._threadpools()["blas"] == "openblas 0.3.31"
        assert environment._threadpools()["blas_threads"] == 2
