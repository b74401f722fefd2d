"""Users' own estimators, grids, plugins, run files and datasets: benchmarked like the built-ins."""

from __future__ import annotations

import json
import re
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier
from synthetic import toy_arrays, write_toy_dir

from mnist_classic import read_results
from mnist_classic.bench.contract import ContractError, contract_sample
from mnist_classic.bench.runner import RunConfig, run_benchmark
from mnist_classic.cli import main
from mnist_classic.data.datasets import DATASET_ORIGINS, DATASETS
from mnist_classic.results import ResultsSchemaError, ResultWriter
from mnist_classic.spec import plugins
from mnist_classic.spec.pipelines import PIPELINES
from mnist_classic.spec.selectors.parse import expand_selector, parse_selector

SMALL = {"n_train": [300], "n_test": 100}

# A module of users' estimators, good and broken, importable by the tests (see the `usermod` fixture).
USER_MODULE = """
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.neighbors import KNeighborsClassifier


class Good(ClassifierMixin, BaseEstimator):
    def __init__(self, k=1, random_state=None):
        self.k = k
        self.random_state = random_state

    def fit(self, X, y):
        self.model_ = KNeighborsClassifier(n_neighbors=self.k).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)


def make_good():
    return Good(k=3)


class RaisesInFit(Good):
    def fit(self, X, y):
        raise RuntimeError("boom in fit")


class WrongCount(Good):
    def predict(self, X):
        return super().predict(X)[:-1]


class AlienLabels(Good):
    def predict(self, X):
        return np.full(len(X), 42)


class Unclonable(Good):
    def __init__(self, k=1, random_state=None):
        self.k = k + 1  # breaks the contract: __init__ must store parameters unchanged
        self.random_state = random_state


class NoStore(Good):
    def __init__(self, k=1, random_state=None):
        self.random_state = random_state  # k is not stored: get_params raises AttributeError


class NeverFits(Good):
    def fit(self, X, y):
        import time

        while True:
            time.sleep(0.2)


class DiesInFit(Good):
    def fit(self, X, y):
        import os

        os._exit(3)


def not_an_estimator():
    return 3
"""


@pytest.fixture
def usermod(tmp_path, monkeypatch):
    folder = tmp_path / "usercode"
    folder.mkdir()
    (folder / "usermod.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(folder))
    return "usermod"


@pytest.fixture
def clean_registries():
    """Plugins register into the process-wide registries: put them back as they were."""
    pipes, data, origins, loaded = dict(PIPELINES), dict(DATASETS), dict(DATASET_ORIGINS), set(plugins._LOADED)
    yield
    for reg, saved in ((PIPELINES, pipes), (DATASETS, data), (DATASET_ORIGINS, origins)):
        reg.clear()
        reg.update(saved)
    plugins._LOADED.clear()
    plugins._LOADED.update(loaded)


# --- selectors ---------------------------------------------------------------------------------------------------


def test_imported_estimators_and_their_canonical_names():
    assert parse_selector("sklearn.ensemble:ExtraTreesClassifier[n_estimators=30]").name == (
        "sklearn.ensemble:ExtraTreesClassifier[n_estimators=30]"
    )
    # the dotted spelling the issue tried, normalized to one identity
    assert parse_selector("sklearn.ensemble.ExtraTreesClassifier").name == "sklearn.ensemble:ExtraTreesClassifier"
    est = parse_selector("sklearn.ensemble:ExtraTreesClassifier[n_estimators=30]").build(random_state=7)
    assert type(est).__name__ == "ExtraTreesClassifier" and est.n_estimators == 30 and est.random_state == 7


def test_steps_compose_as_make_pipeline_with_per_step_parameters():
    sel = "sklearn.preprocessing:StandardScaler+sklearn.svm:SVC[gamma=0.001,C=5]"
    configured = parse_selector(sel)
    assert configured.name == "sklearn.preprocessing:StandardScaler+sklearn.svm:SVC[C=5,gamma=0.001]"
    est = configured.build(random_state=3)
    assert [n for n, _ in est.steps] == ["standardscaler", "svc"]
    assert est.get_params()["svc__gamma"] == 0.001 and est.get_params()["svc__random_state"] == 3
    # registered pipelines are steps too, and a paper's kNN with p=1 behind a scaler is one selector
    knn = parse_selector("sklearn.preprocessing:StandardScaler+knn[p=1]").build()
    assert knn.steps[1][1].p == 1


def test_explicit_parameters_are_not_overwritten_by_seed_or_thread_budget():
    est = parse_selector("sklearn.ensemble:RandomForestClassifier[random_state=5,n_estimators=3]").build(
        random_state=0, n_jobs=2
    )
    assert est.random_state == 5 and est.n_jobs == 2
    est = parse_selector("sklearn.ensemble:RandomForestClassifier[n_jobs=1]").build(random_state=0, n_jobs=2)
    assert est.n_jobs == 1 and est.random_state == 0


def test_a_list_value_is_a_grid_and_several_lists_their_product():
    assert [p.name for p in expand_selector("svm[C=[1,10,100]]")] == ["svm[C=1]", "svm[C=10]", "svm[C=100]"]
    grid = "sklearn.preprocessing:StandardScaler+svm[C=[1,10],gamma=[0.1,scale]]"
    names = [p.name for p in expand_selector(grid)]
    assert len(names) == 4 and len(set(names)) == 4
    assert "sklearn.preprocessing:StandardScaler+svm[C=10,gamma=scale]" in names
    with pytest.raises(ValueError, match="grid of 3 configurations"):
        parse_selector("svm[C=[1,10,100]]")
    # a tuple is a value, not a grid
    assert parse_selector("sklearn.neural_network:MLPClassifier[hidden_layer_sizes=(10,10)]").build().hidden_layer_sizes


def test_a_list_value_is_named_so_that_its_name_reads_back_as_the_same_case():
    # [[100,100]] is a grid of one list value; its name must not read back as a grid of two values
    [one] = expand_selector("mlp[hidden_layer_sizes=[[100,100]]]")
    assert one.name == "mlp[hidden_layer_sizes=[[100, 100]]]"
    assert one.build().get_params()["hidden_layer_sizes"] == [100, 100]
    [again] = expand_selector(one.name)
    assert again.name == one.name and again.build().get_params() == one.build().get_params()
    two = expand_selector("mlp[hidden_layer_sizes=[[100,100],[50]]]")
    assert [p.name for p in two] == ["mlp[hidden_layer_sizes=[[100, 100]]]", "mlp[hidden_layer_sizes=[[50]]]"]
    assert [p.name for p in expand_selector(two[1].name)] == [two[1].name]


@pytest.mark.parametrize(
    ("selector", "match"),
    [
        ("sklearn.ensembl:ExtraTreesClassifier", r"Cannot import module 'sklearn.ensembl' named by selector"),
        ("sklearn.ensemble:ExtraTreesClassifer", r"has no attribute 'ExtraTreesClassifer'.*did you mean 'ExtraTreesC"),
        ("sklearn.ensemble:ExtraTreesClassifier[n_estimator=3]", r"Unknown parameter 'n_estimator'.*'n_estimators'"),
        ("svm[C=[]]", r"empty grid"),
        ("sklearn.svm:SVC+", r"Malformed pipeline selector"),
        ("os:getcwd", r"must give a scikit-learn estimator"),
        ("svx", r"Unknown pipeline 'svx'; valid pipelines: svm"),
    ],
)
def test_bad_selectors_are_one_line_and_exit_2(selector, match, tmp_path, capsys):
    with pytest.raises(ValueError, match=match):
        expand_selector(selector)
    out = tmp_path / "r.csv"
    assert main(["run", "--pipelines", selector, "--n-train", "100", "--n-test", "50", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mnist-classic: error:")
    assert not out.exists()


# --- the contract check ------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("RaisesInFit", r"fit on \d+ images raised: RuntimeError: boom in fit"),
        ("WrongCount", r"predict returned shape \(\d+,\) for \d+ images"),
        ("AlienLabels", r"predict returned labels not among the training labels: \[42\]"),
        ("Unclonable", r"sklearn.base.clone raised"),
    ],
)
def test_a_broken_estimator_stops_the_run_before_any_row(usermod, tmp_path, capsys, name, match):
    out = tmp_path / "r.csv"
    config = RunConfig(pipelines=["dummy", f"{usermod}:{name}"], output=out, **SMALL)
    with pytest.raises(ContractError, match=rf"Estimator 'usermod:{name}' failed the contract check: {match}"):
        run_benchmark(config)
    assert not out.exists()
    argv = ["run", "--pipelines", "dummy", f"{usermod}:{name}", "--n-train", "300", "--n-test", "100", "-o", str(out)]
    assert main(argv) == 2
    stdout, err = capsys.readouterr()
    assert stdout.startswith("contract check: usermod:")  # dummy is built in: not checked
    assert err.count("\n") == 1 and err.startswith("mnist-classic: error:") and f"usermod:{name}" in err
    assert not out.exists() and not out.with_suffix(".predictions").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("NoStore", r"get_params raised AttributeError: 'NoStore' object has no attribute 'k'"),
        ("NeverFits", r"it did not finish within 2 s \(the run's timeout\) on 50 images"),
        ("DiesInFit", r"process ended without an answer \(exit code 3\)"),
    ],
)
def test_an_estimator_that_raises_anywhere_or_never_returns_is_one_line_and_exit_2(
    usermod, tmp_path, capsys, name, match
):
    out = tmp_path / "r.csv"
    argv = ["run", "--pipelines", "dummy", f"{usermod}:{name}", "--n-train", "300", "--n-test", "100", "-o", str(out)]
    started = time.monotonic()
    assert main([*argv, "--timeout", "2", "--quiet"]) == 2
    assert time.monotonic() - started < 60
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(match, err), err
    assert not out.exists() and not out.with_suffix(".predictions").exists()


@pytest.mark.slow
def test_the_check_has_a_default_limit_and_says_it_is_running(usermod, tmp_path, capsys, monkeypatch):
    from mnist_classic.bench import contract

    monkeypatch.setattr(contract, "DEFAULT_CONTRACT_TIMEOUT", 1.5)
    out = tmp_path / "r.csv"
    argv = ["run", "--pipelines", f"{usermod}:NeverFits", "--n-train", "300", "--n-test", "100", "-o", str(out)]
    assert main(argv) == 2
    stdout, err = capsys.readouterr()
    assert stdout == f"contract check: {usermod}:NeverFits on ~50 images (1.5 s limit each)\n"
    assert err.count("\n") == 1
    assert "did not finish within 1.5 s (the default limit; set another with --timeout)" in err
    assert not out.exists()


def test_an_estimator_of_main_is_checked_in_this_process(tmp_path, monkeypatch):
    import sys

    class Knn(KNeighborsClassifier):  # as if defined in a notebook: pickled by reference to __main__
        pass

    Knn.__module__, Knn.__qualname__ = "__main__", "KnnOfMain"
    monkeypatch.setattr(sys.modules["__main__"], "KnnOfMain", Knn, raising=False)
    result = run_benchmark(RunConfig(pipelines=[("main-knn", Knn(n_neighbors=3))], output=tmp_path / "r.csv", **SMALL))
    assert result.exit_code == 0 and result.rows[0]["status"] == "ok"


def test_a_script_without_the_main_guard_is_not_run_again_by_the_check(tmp_path, monkeypatch):
    import sys
    import types

    from mnist_classic.bench import contract

    guarded, bare = tmp_path / "guarded.py", tmp_path / "bare.py"
    guarded.write_text('if __name__ == "__main__":\n    run()\n')
    bare.write_text("run()\n")
    for path, safe in ((guarded, True), (bare, False), (tmp_path / "gone.py", False)):
        main = types.ModuleType("__main__")
        main.__file__ = str(path)
        monkeypatch.setitem(sys.modules, "__main__", main)
        assert contract._main_is_spawn_safe() is safe
    used = []
    monkeypatch.setattr(contract, "_in_thread", lambda *args: used.append("thread"))
    monkeypatch.setattr(contract, "_in_child", lambda *args: used.append("child"))
    X, y = np.zeros((20, 4)), np.repeat(np.arange(2), 10)
    contract.check_contract(expand_selector("sklearn.neighbors:KNeighborsClassifier"), X, y, X)
    assert used == ["thread"]


def test_an_unpicklable_estimator_is_checked_in_a_thread_with_the_same_limit(tmp_path, monkeypatch):
    import threading

    from mnist_classic.bench import contract

    release = threading.Event()

    class Stuck(ClassifierMixin, BaseEstimator):  # a local class: not picklable, so not sent to a child
        def fit(self, X, y):
            release.wait(30)
            return self

        def predict(self, X):
            return np.zeros(len(X), dtype=int)

    monkeypatch.setattr(contract, "DEFAULT_CONTRACT_TIMEOUT", 1.0)
    try:
        with pytest.raises(ContractError, match=r"did not finish within 1 s"):
            run_benchmark(RunConfig(pipelines=[("stuck", Stuck())], output=tmp_path / "r.csv", **SMALL))
    finally:
        release.set()
    assert not (tmp_path / "r.csv").exists()


def test_contract_sample_takes_every_class():
    y = np.repeat(np.arange(10), 100)
    idx = contract_sample(y)
    assert len(idx) == 50 and set(y[idx]) == set(range(10))


# --- Python API ----------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_estimator_objects_and_pairs_are_cloned_for_every_case(usermod, tmp_path):
    import usermod as um

    mine = um.Good(k=5)
    out = tmp_path / "r.csv"
    items = [("mine", mine), KNeighborsClassifier(n_neighbors=2), "dummy"]
    result = run_benchmark(RunConfig(pipelines=items, repeats=2, output=out, **SMALL))
    assert result.exit_code == 0
    df = read_results(out)
    assert list(dict.fromkeys(df["pipeline"])) == [
        "mine",
        "sklearn.neighbors._classification:KNeighborsClassifier[n_neighbors=2]",
        "dummy",
    ]
    assert not hasattr(mine, "model_")  # the object given was cloned, never fitted itself
    assert json.loads(df.loc[df["pipeline"] == "mine", "params"].iloc[0])["k"] == 5


# --- plugins and entry points --------------------------------------------------------------------------------------

PLUGIN = """
from sklearn.tree import DecisionTreeClassifier
from mnist_classic import register_dataset, register_pipeline, DatasetSpec, FileSpec

@register_pipeline("tree3", "a depth-3 decision tree (a plugin's pipeline)")
def _tree3():
    return DecisionTreeClassifier(max_depth=3)

FILES = tuple(FileSpec(role, role + ".gz") for role in ("train_images", "train_labels", "test_images", "test_labels"))
register_dataset(DatasetSpec("plugged", "a dataset a plugin adds", "CC0", files=FILES))
"""


def test_a_plugin_file_adds_entries_that_list_shows_with_their_origin(tmp_path, capsys, clean_registries):
    plugin = tmp_path / "my_models.py"
    plugin.write_text(PLUGIN)
    assert main(["list", "--plugin", str(plugin)]) == 0
    out = capsys.readouterr().out
    assert f"tree3     a depth-3 decision tree (a plugin's pipeline)  [plugin: {plugin}]" in out
    assert "plugged" in out and f"[plugin: {plugin}]" in out
    assert PIPELINES["svm"].origin == "built-in"


@pytest.mark.slow
def test_a_plugin_runs_in_parallel_workers_too(tmp_path, clean_registries):
    plugin = tmp_path / "my_models.py"
    plugin.write_text(PLUGIN)
    out = tmp_path / "r.csv"
    argv = ["run", "--plugin", str(plugin), "--pipelines", "tree3", "dummy", "--n-train", "300", "--n-test", "100"]
    assert main([*argv, "--n-jobs", "2", "-o", str(out), "-q"]) == 0
    assert sorted(read_results(out)["pipeline"]) == ["dummy", "tree3"]


def test_plugin_errors_are_one_line(tmp_path, capsys, clean_registries):
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('plugin broke')\n")
    assert main(["list", "--plugin", str(bad)]) == 2
    assert "Plugin " in capsys.readouterr().err
    assert main(["list", "--plugin", "no_such_module_xyz"]) == 2
    assert "Cannot import plugin 'no_such_module_xyz'" in capsys.readouterr().err
    shadow = tmp_path / "shadow.py"
    shadow.write_text("from mnist_classic import register_pipeline\nregister_pipeline('svm', 'mine')(lambda: None)\n")
    assert main(["list", "--plugin", str(shadow)]) == 2
    assert "Pipeline 'svm' is already registered (built-in)" in capsys.readouterr().err


# --- run files and several datasets --------------------------------------------------------------------------------


def _toy(folder: Path, seed: int) -> Path:
    arrays = toy_arrays(seed=seed, n_train=200, n_test=60, side=28)
    arrays["train_labels"] = (np.arange(200) % 10).astype(np.uint8)
    write_toy_dir(folder, arrays)
    return folder


@pytest.mark.slow
def test_a_run_file_with_several_datasets_grids_and_repeats(tmp_path, capsys):
    _toy(tmp_path / "toyset", seed=1)
    run_file = tmp_path / "bench.toml"
    run_file.write_text(
        textwrap.dedent(
            """
            datasets = ["mnist", "toyset"]
            n_train = [150]
            n_test = 60
            repeats = 2
            seed = 3
            output = "out/results.csv"
            pipelines = [
                "dummy",
                { estimator = "sklearn.neighbors:KNeighborsClassifier", params = { n_neighbors = [1, 3], p = 1 } },
                { steps = ["sklearn.preprocessing:StandardScaler", { pipeline = "logreg", params = { C = 0.5 } }] },
            ]
            """
        )
    )
    assert main(["run", "--config", str(run_file), "--repeats", "1", "-q"]) == 0  # the option overrides the file
    out = tmp_path / "out" / "results.csv"
    df = read_results(out)
    assert sorted(set(df["dataset"])) == ["mnist", "toyset"]
    assert len(df) == 2 * 4 and set(df["seed"]) == {3}
    assert "sklearn.neighbors:KNeighborsClassifier[n_neighbors=3,p=1]" in set(df["pipeline"])
    assert "sklearn.preprocessing:StandardScaler+logreg[logreg__C=0.5]" in set(df["pipeline"])
    # the file itself is stored with the run, named by its hash in every row
    (sha,) = set(df["config_sha256"])
    stored = out.with_suffix(".configs") / f"{sha}.toml"
    assert stored.read_text() == run_file.read_text()


def test_run_file_errors_name_the_valid_keys(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('pipeline = ["svm"]\n')
    assert main(["run", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'pipeline' at the top level (did you mean 'pipelines'?); valid keys: datasets," in err
    bad.write_text('pipelines = [{ estimator = "sklearn.svm:SVC", param = { C = 1 } }]\n')
    assert main(["run", "--config", str(bad)]) == 2
    assert "unknown key 'param' in pipelines[0] (did you mean 'params'?)" in capsys.readouterr().err
    bad.write_text("pipelines = [\n")
    assert main(["run", "--config", str(bad)]) == 2
    assert "not a valid TOML run file" in capsys.readouterr().err
    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 2


def test_several_datasets_on_the_command_line(tmp_path):
    toy = _toy(tmp_path / "toyset", seed=2)
    out = tmp_path / "r.csv"
    argv = ["run", "--dataset", "mnist", str(toy), "--pipelines", "dummy", "--n-train", "100", "-o", str(out)]
    assert main(argv) == 0
    assert sorted(read_results(out)["dataset"]) == ["mnist", "toyset"]


# --- safety and earlier files --------------------------------------------------------------------------------------


def test_nothing_read_from_a_results_file_is_imported(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "evilmod.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Thing: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "r.csv"
    assert main(["run", "--pipelines", "dummy", "--n-train", "100", "--n-test", "50", "-o", str(out), "-q"]) == 0
    text = out.read_text().replace(",dummy,", ",evilmod:Thing[x=1],")
    out.write_text(text)
    other = tmp_path / "other.csv"
    other.write_text(text)
    main(["summary", str(out)])
    main(["compare", str(out), str(other)])
    main(["report", str(out), "--reference", "evilmod:Thing[x=1]", "--no-figures", "--out", str(tmp_path / "rep")])
    main(["run", "--pipelines", "dummy", "--n-train", "100", "--n-test", "50", "-o", str(out), "--resume", "-q"])
    assert not marker.exists()


def test_files_of_the_previous_schema_are_read_but_not_appended_to(tmp_path):

    from mnist_classic.results import OLDER_SCHEMAS

    out = tmp_path / "r.csv"
    assert main(["run", "--pipelines", "dummy", "--n-train", "100", "--n-test", "50", "-o", str(out), "-q"]) == 0
    old = tmp_path / "old.csv"
    lacks = list(OLDER_SCHEMAS["0.1"])
    pd.read_csv(out, dtype=str).drop(columns=lacks).to_csv(old, index=False)
    df = read_results(old)
    assert df["pipeline"].tolist() == ["dummy"] and df[lacks].isna().all().all()
    with pytest.raises(ResultsSchemaError, match="another header"):
        ResultWriter(old)
    # the committed reference results are files of that schema
    assert len(read_results(Path(__file__).resolve().parents[1] / "results" / "mnist-default.csv")) == 5


def test_the_decision_tree_is_deterministic_under_the_suites_seed():
    # a user's estimator that takes random_state gets the case's seed, like the built-ins
    a = parse_selector("sklearn.tree:DecisionTreeClassifier").build(random_state=11)
    assert isinstance(a, DecisionTreeClassifier) and a.random_state == 11
