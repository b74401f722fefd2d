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
from mnist_classic.bench.parallel.backends import ProbeTimes, estimate_cost, longest_first, probe_times, thread_budget
from mnist_classic.bench.parallel.ledger import CoreLedger, LedgerState, claim, release
from mnist_classic.bench.runner import RunConfig, run_benchmark
from mnist_classic.spec.pipelines import PIPELINES, register_pipeline
from mnist_classic.spec.selectors.parse import parse_selector

GRID = {"pipelines": ["dummy", "rf[n_estimators=20]", "pca_svm", "logreg"], "n_train": [1000, 2000], "n_test": 500}


def _hashes(path: Path) -> dict:
    df = read_results(path)
    assert (df["status"] == "ok").all()
    return dict(zip(zip(df["pipeline"], df["n_train"], df["seed"], strict=True), df["predictions_sha256"], strict=True))


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    out = tmp_path_factory.mktemp("seq") / "r.csv"
    # threads="all": no budget at all one case at a time (with "free", a busy machine gives cases a budget)
    run_benchmark(RunConfig(**GRID, output=out, threads="all"))
    return out


@pytest.mark.slow
def test_loky_gives_the_sequential_predictions(sequential, tmp_path, caplog):
    out = tmp_path / "par.csv"
    with caplog.at_level("INFO", logger="mnist_classic.bench.parallel.backends"):
        result = run_benchmark(RunConfig(**GRID, output=out, n_jobs=2))
    assert result.exit_code == 0
    assert _hashes(out) == _hashes(sequential)
    df = read_results(out)
    assert set(df["execution"]) == {"loky"} and set(df["n_jobs"]) == {2}
    assert set(df["thread_budget"]) == {thread_budget(2)}
    cores = len(os.sched_getaffinity(0))
    for col in ("fit_threads", "predict_threads"):
        assert df[col].between(1, cores).all()
    svm = df[df["pipeline"] == "pca_svm"]
    assert (svm["predict_chunks"] == svm["predict_threads"]).all()  # a one-core predict is split over its budget
    # The ledger's high-water mark: the cases never held more threads at once than there are cores.
    (peak, on_cores) = next(r.args for r in caplog.records if r.msg.startswith("cases held at most"))
    assert 1 <= peak <= on_cores == cores
    rf = json.loads(df.loc[df["pipeline"] == "rf[n_estimators=20]", "params"].iloc[0])
    assert rf["n_jobs"] in (None, thread_budget(2))  # None is one core: only a larger budget is set
    seq = read_results(sequential)
    assert set(seq["execution"]) == {"inprocess"} and seq["thread_budget"].isna().all()
    assert seq["fit_threads"].isna().all() and seq["predict_threads"].isna().all()


@pytest.mark.slow
def test_more_jobs_than_cores_is_a_warning(tmp_path, caplog):
    jobs = len(os.sched_getaffinity(0)) + 1
    with caplog.at_level("WARNING", logger="mnist_classic.bench.parallel.backends"):
        result = run_benchmark(
            RunConfig(pipelines=["dummy"], n_train=[200], n_test=100, output=tmp_path / "r.csv", n_jobs=jobs)
        )
    assert result.exit_code == 0
    assert any(f"--n-jobs {jobs} is more than the {jobs - 1} cores" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
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


def test_predict_gets_the_budget_claimed_when_it_starts():
    seen = {}

    class Probe(_ThreadProbe):
        def fit(self, X, y):
            seen["fit"] = max(p["num_threads"] for p in threadpool_info())
            return super().fit(X, y)

        def predict(self, X):
            seen["predict"] = max(p["num_threads"] for p in threadpool_info())
            seen["n_jobs"] = self.n_jobs
            return super().predict(X)

    register_pipeline("probe", "records its thread pools")(Probe)
    try:
        X, y = np.zeros((20, 4), np.float32), np.arange(20) % 2
        case = Case(0, parse_selector("probe"), 20, 0, 0)
        claims = []
        out = run_case(case, X, y, X, y, thread_budget=1, predict_budget=lambda: claims.append(1) or 2)
        assert claims == [1]  # asked once, after fit
        assert (out["fit_threads"], out["predict_threads"], out["predict_chunks"]) == (1, 2, 1)
        assert seen["fit"] == 1 and seen["predict"] <= 2 and seen["n_jobs"] == 2
        assert json.loads(out["params"])["n_jobs"] is None  # the params of the fit
        out = run_case(case, X, y, X, y, thread_budget=2, predict_budget=lambda: 1)
        assert (out["fit_threads"], out["predict_threads"]) == (2, 1)
        assert seen["predict"] == 1 and seen["n_jobs"] is None
    finally:
        del PIPELINES["probe"]


def test_a_split_predict_is_rebudgeted_when_it_starts():
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(200, 64)).astype(np.float32), np.arange(200) % 3
    case = Case(0, parse_selector("pca_svm"), 200, 0, 0)
    one = run_case(case, X, y, X, y, thread_budget=1)
    two = run_case(case, X, y, X, y, thread_budget=1, predict_budget=lambda: 2)
    assert (one["predict_chunks"], two["predict_chunks"]) == (1, 2)
    assert (two["fit_threads"], two["predict_threads"]) == (1, 2)
    np.testing.assert_array_equal(one["predictions"], two["predictions"])


def test_serial_predict_is_split_over_the_budget():
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(200, 64)).astype(np.float32), np.arange(200) % 3
    case = Case(0, parse_selector("svm"), 200, 0, 0)
    one = run_case(case, X, y, X, y)
    two = run_case(case, X, y, X, y, thread_budget=2)
    assert one["predict_chunks"] == 1 and two["predict_chunks"] == 2
    np.testing.assert_array_equal(one["predictions"], two["predictions"])
    assert json.loads(two["step_times"] or "{}") == {}


def _times(fit: tuple[float, float], predict: tuple[float, float], prior: float = 1.0) -> ProbeTimes:
    return ProbeTimes((500, 1000), 500, fit, predict, prior)


def test_longest_expected_cases_start_first():
    import pandas as pd

    cases = plan_cases([parse_selector(p) for p in ("dummy", "knn", "svm", "rf")], [1000, 60000], 1, 0)
    fake = {
        "dummy": _times((0.001, 0.001), (0.001, 0.001)),
        "knn": _times((0.001, 0.001), (0.05, 0.1)),  # predict grows with n_train
        "svm": _times((0.05, 0.2), (0.05, 0.1)),  # fit grows as n_train ** 2
        "rf": None,  # the probe failed
    }
    probed = []

    def probe(p):
        probed.append(p.name)
        return fake[p.name]

    order = [(c.pipeline.name, c.n_train) for c in longest_first(cases, probe=probe, n_test=10000)]
    assert sorted(probed) == sorted(fake)  # one probe per configured pipeline, not per case
    assert order[:2] == [("svm", 60000), ("knn", 60000)]
    assert order[-2:] == [("rf", 1000), ("rf", 60000)]  # unknown cost: last, in the plan's order
    assert estimate_cost(parse_selector("svm"), 60000) == -1.0  # neither rows nor probe
    history = pd.DataFrame(
        {"pipeline": ["dummy"], "n_train": [1000], "status": ["ok"], "fit_time_s": [5000.0], "predict_time_s": [1.0]}
    )
    assert longest_first(cases, history, probe)[0].pipeline.name == "dummy"  # earlier rows beat the probe


def test_probe_extrapolates_fit_and_predict_by_the_growth_it_measured():
    # Fit quadratic, predict linear in n_train (a kernel SVM): x60 training images, x20 test images.
    svm = _times((0.05, 0.2), (0.03, 0.06))
    assert svm.exponents() == pytest.approx((2.0, 1.0))
    assert svm.extrapolate(60000, 10000) == pytest.approx(0.2 * 60**2 + 0.06 * 60 * 20)
    # A forest: fit n log n (measured exponent between 1 and 2), predict hardly grows with n_train.
    rf = _times((0.4, 0.9), (0.02, 0.021))
    e_fit, e_predict = rf.exponents()
    assert _times((0.4, 0.5), (0.02, 0.021), prior=1.2).exponents()[0] == 1.2  # fit grows at least as the prior
    assert e_fit == pytest.approx(np.log2(0.9 / 0.4)) and e_predict == pytest.approx(np.log2(0.021 / 0.02))
    assert rf.extrapolate(1000) == pytest.approx(0.9 + 0.021)  # at the probe's own size: as measured
    # Growth beyond what estimators do is clamped; shrinking times give exponent 0.
    assert _times((0.01, 0.5), (0.5, 0.02)).exponents() == (1.0, 0.0)  # fit too short at 500: the prior
    assert _times((0.1, 1.0), (0.5, 0.02)).exponents() == (2.0, 0.0)
    # Times too short to measure growth from fall back to the registry's exponent (<= 1 for predict).
    assert _times((0.001, 0.002), (0.001, 0.004), prior=1.7).exponents() == (1.7, 1.0)
    assert _times((0.001, 0.002), (0.001, 0.004)).extrapolate(100000) == pytest.approx(0.002 * 100 + 0.004 * 100)


def test_probe_of_a_pipeline_and_of_one_that_cannot_fit():
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(1200, 16)).astype(np.float32), np.arange(1200) % 3
    times = probe_times(parse_selector("knn"), X, y, X)
    assert times is not None and times.sizes == (500, 1000) and times.n_test == 500
    assert min(times.fit + times.predict) > 0 and times.prior == PIPELINES["knn"].cost[1]
    assert probe_times(parse_selector("knn[n_neighbors=900]"), X[:800], y[:800], X) is None  # > 500 neighbours
    small = probe_times(parse_selector("knn"), X[:600], y[:600], X)
    assert small is not None and small.sizes == (500, 600)  # no more images than there are
    assert estimate_cost(parse_selector("knn"), 60000, probe=lambda p: small, n_test=10000) > 0


def test_ledger_gives_freed_cores_to_the_cases_still_running():
    s = LedgerState(cores=2, workers=2, waiting=[0, 1, 2])
    assert (claim(s, 0), claim(s, 1)) == (1, 1)  # both start: one core each
    release(s, 1)
    assert claim(s, 0) == 1  # case 0's predict: a core is kept for case 2, about to start
    assert claim(s, 2) == 1
    release(s, 0)  # nothing waits any more
    assert claim(s, 2) == 2  # case 2's predict starts alone: split over both cores
    assert s.peak == 2


def test_ledger_keeps_a_core_for_each_worker_about_to_start():
    s = LedgerState(cores=8, workers=3, waiting=list(range(5)))
    assert claim(s, 0) == 2  # 8 cores, 2 other idle workers with cases to start: 8 // 3
    assert claim(s, 1) == 3  # 6 free, 1 idle worker to leave a share to
    assert claim(s, 2) == 3
    release(s, 0), release(s, 1)
    assert claim(s, 3) == 2  # 5 free, one more case (4) to start on the other idle worker
    assert claim(s, 4) == 3
    assert s.waiting == [] and s.peak <= 8


@pytest.mark.parametrize("seed", range(20))
def test_ledger_never_holds_more_threads_than_cores(seed):
    """Random interleavings of starts, predicts, ends and worker deaths keep the invariant."""
    rng = np.random.default_rng(seed)
    cores, workers, n = int(rng.integers(1, 9)), 0, int(rng.integers(1, 15))
    workers = int(rng.integers(1, cores + 1))
    s = LedgerState(cores=cores, workers=workers, waiting=list(range(n)))
    running: dict[int, str] = {}  # case -> phase
    while s.waiting or running:
        events = [("start", c) for c in s.waiting[: workers - len(running)]]
        events += [(("predict", "end", "die")[int(rng.integers(3))], c) for c in running]
        kind, case = events[int(rng.integers(len(events)))]
        if kind == "start" or (kind == "predict" and running[case] == "fit"):
            claim(s, case)
            running[case] = "fit" if kind == "start" else "predict"
        elif kind in ("end", "die"):
            release(s, case, retry=kind == "die" and rng.random() < 0.5)
            del running[case]
        idle = workers - len(s.held)
        assert sum(s.held.values()) + min(idle, len(s.waiting)) <= cores
        assert all(b >= 1 for b in s.held.values())
    assert s.peak <= cores and s.held == {}


def test_core_ledger_file_is_shared_state(tmp_path):
    ledger = CoreLedger.create(tmp_path / "l.json", cores=2, workers=2, waiting=[0, 1])
    again = CoreLedger(ledger.path)  # what a worker unpickles: the path
    assert ledger.claim(0) == 1 and again.claim(1) == 1
    again.release(1)
    assert ledger.claim(0) == 2
    ledger.release(0, retry=True)
    state = again.read()
    assert state.held == {} and state.waiting == [0] and state.peak == 2


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


@pytest.mark.slow
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


@pytest.mark.slow
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
    # stops at a point that depends on the summation order (docs/usage.md, "Parallel cases and clusters"), the
    # others do not.
    thread_free = {k: v for k, v in _hashes(sequential).items() if k[0] != "logreg"}
    assert {k: v for k, v in _hashes(out).items() if k[0] != "logreg"} == thread_free
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert set(df["thread_budget"]) == {cpus}  # each worker has one thread: the case gets the CPUs
