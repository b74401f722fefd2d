"""The engine registry: contract over every engine, fallback detection, entry points, sklearnex if installed."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import textwrap

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from mnist_classic.spec import engines
from mnist_classic.spec.engines import ENGINES, Engine, Trace, get_engine, list_engines, register_engine

HAS_SKLEARNEX = importlib.util.find_spec("sklearnex") is not None
needs_sklearnex = pytest.mark.skipif(not HAS_SKLEARNEX, reason="scikit-learn-intelex is not installed")


@pytest.fixture
def toy():
    rng = np.random.default_rng(0)
    X = rng.random((120, 20), dtype=np.float32)
    y = (X[:, 0] + X[:, 1] > 1).astype(np.int64) + 2 * (X[:, 2] > 0.5)
    return X, y


def test_builtins_registered():
    assert {"sklearn", "sklearnex"} <= set(list_engines())
    assert get_engine("sklearn").available()
    import sklearn

    assert get_engine("sklearn").version() == sklearn.__version__


def test_unknown_engine_names_the_parameter():
    with pytest.raises(ValueError, match=r"The 'engine' parameter must be one of .*sklearn.*Got 'nope' instead"):
        get_engine("nope")


def test_duplicate_registration_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_engine(Engine("sklearn", "again", available=lambda: True, version=lambda: None))


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_engine_contract(name, toy):
    """Every available engine: prepare gives a fresh estimator, activate a Trace, accelerated one bool per step."""
    engine = ENGINES[name]
    if not engine.available():
        pytest.skip(f"engine {name} is not available here")
    assert isinstance(engine.version(), str)
    X, y = toy
    stock = Pipeline([("scaler", StandardScaler()), ("logreg", LogisticRegression(max_iter=200))])
    est = engine.prepare(stock)
    with engine.activate() as trace:
        est.fit(X, y)
        pred = est.predict(X)
    assert isinstance(trace, Trace)
    assert pred.shape == y.shape
    flags = engine.accelerated(est, trace)
    assert list(flags) == ["scaler", "logreg"]
    assert all(isinstance(v, bool) for v in flags.values())
    assert not hasattr(stock.named_steps["logreg"], "coef_")  # the stock pipeline was not fitted in place


def test_sklearn_engine_never_accelerated(toy):
    engine = get_engine("sklearn")
    est = engine.prepare(SVC())
    with engine.activate() as trace:
        est.fit(*toy)
    assert engine.accelerated(est, trace) == {"svc": False}


def test_fallback_read_from_the_sklearnex_log():
    """The detection logic, without sklearnex: records in its log format decide per step."""
    engine = ENGINES["sklearnex"]
    log = logging.getLogger("sklearnex")
    pipe = Pipeline([("pca", PCA(n_components=2)), ("svc", SVC())])
    with engine.activate() as trace:
        log.info("sklearn.decomposition.PCA.fit_transform: fallback to original Scikit-learn. All input data ...")
        log.info("sklearn.svm.SVC.fit: running accelerated version on CPU")
        log.info("sklearn.svm.SVC.predict: running accelerated version on CPU")
        log.info("some other message")
    assert [(c.estimator, c.method, c.accelerated) for c in trace.calls] == [
        ("PCA", "fit_transform", False),
        ("SVC", "fit", True),
        ("SVC", "predict", True),
    ]
    assert engine.accelerated(pipe, trace) == {"pca": False, "svc": True}
    # one fallback among accelerated calls makes the step not accelerated; no call at all neither
    trace.calls.append(engines.Call("SVC", "predict", False))
    assert engine.accelerated(pipe, trace) == {"pca": False, "svc": False}
    assert engine.accelerated(pipe, Trace()) == {"pca": False, "svc": False}


def test_activate_restores_the_sklearnex_logger():
    log = logging.getLogger("sklearnex")
    before = (log.level, list(log.handlers), log.propagate)
    with ENGINES["sklearnex"].activate():
        assert log.level == logging.INFO
    assert (log.level, list(log.handlers), log.propagate) == before


def test_entry_point_engine_is_loaded(tmp_path, monkeypatch):
    (tmp_path / "fake_engine_plugin.py").write_text(
        textwrap.dedent(
            """
            from mnist_classic.spec.engines import Engine
            ENGINE = Engine("fake", "a plugin engine", available=lambda: True, version=lambda: "0.0")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [
        importlib.metadata.EntryPoint("fake", "fake_engine_plugin:ENGINE", engines.ENTRY_POINT_GROUP),
        importlib.metadata.EntryPoint("broken", "no_such_module_xyz:ENGINE", engines.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(engines.importlib.metadata, "entry_points", lambda group: eps)
    monkeypatch.setattr(engines, "ENGINES", dict(engines.ENGINES))
    monkeypatch.setattr(engines, "_entry_points_loaded", False)
    assert "fake" in engines.list_engines()  # the broken one is logged and skipped
    assert engines.get_engine("fake").version() == "0.0"


@needs_sklearnex
def test_sklearnex_swaps_classes_and_reports_acceleration(toy):
    engine = get_engine("sklearnex")
    assert engine.available()
    est = engine.prepare(Pipeline([("scaler", StandardScaler()), ("svc", SVC(C=3.0))]))
    assert type(est.named_steps["svc"]).__module__.startswith("sklearnex")
    assert est.named_steps["svc"].C == 3.0
    assert type(est.named_steps["scaler"]) is StandardScaler  # nothing to swap: kept, cloned
    with engine.activate() as trace:
        est.fit(*toy)
        est.predict(toy[0])
    assert engine.accelerated(est, trace) == {"scaler": False, "svc": True}


@needs_sklearnex
def test_sklearnex_fallback_is_detected(toy):
    """Randomized PCA is not in oneDAL (sklearnex 2026.2): the call falls back and says so."""
    engine = get_engine("sklearnex")
    est = engine.prepare(PCA(n_components=3, svd_solver="randomized", random_state=0))
    with engine.activate() as trace:
        est.fit_transform(toy[0])
    assert engine.accelerated(est, trace) == {"pca": False}
    assert any(not c.accelerated for c in trace.calls)


# --- an engine in a run: the row's columns and the case's identity --------------------------------------------------


@pytest.fixture
def fake_engine(monkeypatch):
    """An engine that 'accelerates' every step (it only records the calls), registered for one test."""
    from contextlib import contextmanager

    from mnist_classic.spec.engines import Call

    @contextmanager
    def activate():
        trace = Trace()
        yield trace
        trace.calls.append(Call("DummyClassifier", "fit", True))

    def accelerated(est, trace):
        return {
            name: any(c.estimator == type(step).__name__ for c in trace.calls) for name, step in engines._steps(est)
        }

    engine = Engine(
        "fake", "test", available=lambda: True, version=lambda: "9.9", activate=activate, accelerated=accelerated
    )
    monkeypatch.setitem(ENGINES, "fake", engine)
    return engine


def test_the_engine_is_part_of_the_name():
    from mnist_classic.spec.selectors.parse import parse_selector

    p = parse_selector("svm[C=10]")
    assert p.name == "svm[C=10]"
    assert replace_engine(p, "sklearnex").name == "svm[C=10]@sklearnex"
    assert replace_engine(p, "sklearn").name == "svm[C=10]"


def replace_engine(p, engine):
    from dataclasses import replace

    return replace(p, engine=engine)


def test_a_run_with_an_engine_records_it_and_report_tells_it_from_stock(tmp_path, fake_engine, capsys):
    from synthetic import report_cli

    from mnist_classic.cli import main
    from mnist_classic.results import read_results

    out = tmp_path / "r.csv"
    base = ["run", "--pipelines", "dummy", "--n-train", "100", "--n-test", "50", "-q", "-o", str(out)]
    assert main(base) == 0
    assert main([*base, "--engine", "fake"]) == 0
    df = read_results(out)
    assert df["pipeline"].tolist() == ["dummy", "dummy@fake"]
    assert df["engine"].tolist() == ["sklearn", "fake"]
    assert df["engine_version"].tolist()[1] == "9.9"
    assert df["accelerated"].tolist() == ['{"dummyclassifier": false}', '{"dummyclassifier": true}']
    capsys.readouterr()
    assert report_cli(out, "--reference", "dummy", "--no-figures", "--format", "md", "--out", tmp_path / "rep") == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    # the first table's row (the cost table of the deployment columns lists the case again)
    line = next(row for row in md.splitlines() if row.startswith("| `dummy@fake`"))
    assert "+0.00 pt, p = 1" in line  # McNemar against stock: the same predictions
    # compare and history match cases by that name: stock and accelerated are never mixed
    assert main(["compare", str(out), str(out)]) == 0


def test_an_engine_that_does_not_import_is_refused_before_the_run(tmp_path, monkeypatch, capsys):
    from mnist_classic.cli import main

    monkeypatch.setitem(ENGINES, "gone", Engine("gone", "x", available=lambda: False, version=lambda: None))
    out = tmp_path / "r.csv"
    assert main(["run", "--pipelines", "dummy", "--engine", "gone", "-o", str(out)]) == 2
    assert "The 'engine' parameter must name an engine installed here" in capsys.readouterr().err
    assert not out.exists()
