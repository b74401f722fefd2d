"""Parallel cases: loky and Dask give the sequential predictions, with thread budgets, surviving a dead worker."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from threadpoolctl import threadpool_info

from mnist_classic import read_results
from mnist_classic.bench.case import Case, plan_cases, run_case
from mnist_classic.bench.parallel import estimate_cost, longest_first, thread_budget
from mnist_classic.bench.pipelines import PIPELINES, register_pipeline
from mnist_classic.bench.runner import RunConfig, run_benchmark
from mnist_classic.bench.selectors import parse_selector

GRID = {"pipelines": ["dummy", "rf[n_estimators=20]", "pca_svm", "logreg"], "n_train": [1000, 2000], "n_test": 500}


def _hashes(path: Path) -> dict:
    df = read_results(path)
    assert (df["status"] == "ok").all()
    return dict(zip(zip(df["pipeline"], df["n_train"], df["seed"], strict=True), df["predictions_sha256"], strict=True))


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    out = tmp_path_factory.mktemp("seq") / "r.csv"
    run_benchmark(RunConfig(**GRID, output=out))
    return out


def test_loky_gives_the_sequential_predictions(sequential, tmp_path):
    out = tmp_path / "par.csv"
    result = run_benchmark(RunConfig(**GRID, output=out, n_jobs=2))
    assert result.exit_code == 0
    assert _hashes(out) == _hashes(sequential)
    df = read_results(out)
    assert set(df["execution"]) == {"loky"} and set(df["n_jobs"]) == {2}
    assert set(df["thread_budget"]) == {thread_budget(2)}
    rf = json.loads(df.loc[df["pipeline"] == "rf[n_estimators=20]", "params"].iloc[0])
    assert rf["n_jobs"] in (None, thread_budget(2))  # None is one core: only a larger budget is set
    seq = read_results(sequential)
    assert set(seq["execution"]) == {"inprocess"} and seq["thread_budget"].isna().all()


def test_dask_local_cluster_gives_the_sequential_predictions(sequential, tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "dask.csv"
    result = run_benchmark(RunConfig(**GRID, output=out, n_jobs=2, backend="dask"))
    assert result.exit_code == 0
    assert _hashes(out) == _hashes(sequential)
    assert set(read_results(out)["execution"]) == {"dask"}


class _ThreadProbe(ClassifierMixin, BaseEstimator):
    """Records the largest BLAS/OpenMP thread count it sees while fitting."""

    def __init__(self, n_jobs=None):
        self.n_jobs = n_jobs

    def fit(self, X, y):
        self.seen_ = max(p["num_threads"] for p in threadpool_info())
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_threads_inside_a_case_never_exceed_its_budget():
    seen = []

    class Probe(_ThreadProbe):
        def fit(self, X, y):
            seen.append(max(p["num_threads"] for p in threadpool_info()))
            return super().fit(X, y)

    register_pipeline("probe", "records its thread pools")(Probe)
    try:
        X, y = np.zeros((20, 4), np.float32), np.arange(20) % 2
        case = Case(0, parse_selector("probe"), 20, 0, 0)
        for budget in (1, 2):
            out = run_case(case, X, y, X, y, thread_budget=budget)
            assert seen[-1] <= budget
            assert json.loads(out["params"])["n_jobs"] == (None if budget == 1 else budget)
        run_case(case, X, y, X, y)  # no budget: the pools keep their own size
        assert seen[-1] >= seen[0]
    finally:
        del PIPELINES["probe"]


def test_serial_predict_is_split_over_the_budget():
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(200, 64)).astype(np.float32), np.arange(200) % 3
    case = Case(0, parse_selector("svm"), 200, 0, 0)
    one = run_case(case, X, y, X, y)
    two = run_case(case, X, y, X, y, thread_budget=2)
    assert one["predict_chunks"] == 1 and two["predict_chunks"] == 2
    np.testing.assert_array_equal(one["predictions"], two["predictions"])
    assert json.loads(two["step_times"] or "{}") == {}


def test_longest_expected_cases_start_first(tmp_path):
    cases = plan_cases([parse_selector(p) for p in ("dummy", "knn", "svm", "rf")], [1000, 60000], 1, 0)
    order = [(c.pipeline.name, c.n_train) for c in longest_first(cases)]
    assert order[0] == ("svm", 60000) and order[-1] == ("dummy", 1000)
    assert estimate_cost(parse_selector("svm"), 60000) > estimate_cost(parse_selector("svm[C=5]"), 30000)
    import pandas as pd

    history = pd.DataFrame(
        {"pipeline": ["dummy"], "n_train": [1000], "status": ["ok"], "fit_time_s": [500.0], "predict_time_s": [1.0]}
    )
    assert longest_first(cases, history)[0].pipeline.name == "dummy"  # measured beats modelled


def _worker_pids() -> list[int]:
    me = os.getpid()
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            pid = int(stat.parent.name)
            cmd = (stat.parent / "cmdline").read_bytes()
            if b"loky" in cmd and b"resource_tracker" not in cmd:
                pids.append(pid)
    return pids


def test_a_worker_killed_mid_run_loses_no_case(tmp_path):
    out = tmp_path / "r.csv"
    config = RunConfig(
        pipelines=["rf[n_estimators=60]", "svm"],
        n_train=[1500, 2500, 3500],
        n_test=500,
        repeats=2,
        output=out,
        n_jobs=2,
    )
    killed = []

    def killer():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            pids = _worker_pids()
            if pids and out.exists() and out.read_text().count("\n") >= 2:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.05)

    thread = threading.Thread(target=killer)
    thread.start()
    result = run_benchmark(config)
    thread.join()
    assert killed, "a worker was killed during the run"
    df = read_results(out)
    assert len(df) == 12  # nothing lost ...
    assert not df.duplicated(["pipeline", "n_train", "seed"]).any()  # ... nothing written twice
    assert (df["status"] == "ok").all()  # the cases of the dead worker were retried
    assert result.exit_code == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_jobs": 0}, "'n_jobs' parameter"),
        ({"backend": "threads"}, "'backend' parameter must be one of loky, dask"),
        ({"scheduler": "tcp://127.0.0.1:1"}, "needs the 'dask' backend"),
        ({"n_jobs": 2, "timeout": 5}, "'timeout' parameter works with cases run one at a time"),
        ({"n_jobs": 2, "check_determinism": True}, "'check_determinism' parameter works"),
    ],
)
def test_bad_parallel_options(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_benchmark(RunConfig(pipelines=["dummy"], n_train=[100], n_test=100, output=tmp_path / "r.csv", **kwargs))


def test_dask_with_a_running_scheduler(sequential, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        out = tmp_path / "remote.csv"
        result = run_benchmark(
            RunConfig(**GRID, output=out, n_jobs=2, backend="dask", scheduler=cluster.scheduler_address)
        )
        assert result.exit_code == 0
    df = read_results(out)
    # A remote worker's budget is its CPUs (here 2), the sequential run's one BLAS thread: logreg's lbfgs
    # stops at a point that depends on the summation order (README, "Parallel cases"), the others do not.
    thread_free = {k: v for k, v in _hashes(sequential).items() if k[0] != "logreg"}
    assert {k: v for k, v in _hashes(out).items() if k[0] != "logreg"} == thread_free
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert set(df["thread_budget"]) == {cpus}  # each worker has one thread: the case gets the CPUs
