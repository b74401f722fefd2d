"""One case: what it is, how it is fitted, measured and turned into a row's values.

A case is one cell of the grid (configured pipeline x n_train x repeat). The
sequential runner, the child process of ``--timeout`` (:mod:`.isolation`) and
the parallel backends (:mod:`.parallel`) all run a case through :func:`run_case`,
so a case is measured the same way wherever it runs.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
import warnings
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from time import process_time
from typing import Any

import numpy as np

from ..measure.footprint import classical_n_params, final_step, forward_macs, model_bytes
from ..measure.latency import one_image_latency
from ..measure.machine import MachineWatch, speed_index
from ..measure.threads import limit_threads
from ..measure.timing import PeakMemory, Region, timed_fit, timed_predict
from ..spec.engines import get_engine
from ..spec.selectors.parse import ConfiguredPipeline, effective_params
from .tuning import search_candidate

__all__ = ["Case", "deployment_fields", "forget_warmups", "neural_fields", "plan_cases", "run_case"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Case:
    """One cell of the grid."""

    index: int
    pipeline: ConfiguredPipeline
    n_train: int
    repeat: int
    seed: int
    dataset: str = ""  # set when a run covers several datasets, for progress lines
    split: str = ""  # run --splits: the split's label (5x2:rep=3:fold=1, resplit:7); empty for the canonical split

    @property
    def label(self) -> str:
        """``[dataset] pipeline n_train=N repeat=R`` (or ``split=S``), for progress lines."""
        where = f"{self.dataset} " if self.dataset else ""
        which = f"split={self.split}" if self.split else f"repeat={self.repeat}"
        return f"{where}{self.pipeline.name} n_train={self.n_train} {which}"


def plan_cases(
    pipelines: Sequence[ConfiguredPipeline],
    n_train: Sequence[int],
    repeats: int,
    seed: int,
    *,
    start: int = 0,
    dataset: str = "",
) -> list[Case]:
    """The grid in run order: by training size, then pipeline, then repeat; indices from ``start``."""
    cases: list[Case] = []
    for n in n_train:
        for p in pipelines:
            for r in range(repeats):
                cases.append(Case(start + len(cases), p, n, r, seed + r, dataset))
    return cases


def run_case(
    case: Case,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    thread_budget: int | None = None,
    predict_budget: Callable[[], int] | None = None,
    region: Region | None = None,
    warmup: str = "none",
    machine: bool = False,
    latency: int = 0,
    probabilities: bool = True,
) -> dict[str, Any]:
    """Fit and predict one case; never raises for the estimator's own errors.

    Parameters
    ----------
    case : Case
    X_train, y_train, X_test, y_test : numpy.ndarray
        The training arrays are cut to ``case.n_train`` here.
    thread_budget : int or None, default=None
        When set (cases running side by side), BLAS/OpenMP pools are limited
        to this many threads (threadpoolctl), every ``*n_jobs`` parameter not
        set by the selector gets this value, and a one-core ``predict``
        (``serial_predict`` pipelines) is split over this many threads.
    predict_budget : callable or None, default=None
        Called when ``predict`` starts (after ``fit``), it returns the threads
        ``predict`` may use from then on (the cores may have been freed by
        cases that ended meanwhile); used instead of ``thread_budget`` for
        ``predict``.
    region : callable or None, default=None
        Entered around each measured call with its name (``fit/svc``), as
        :func:`~.measure.timed_fit` does: the instruction counts of
        ``--measure instructions`` (:mod:`mnist_classic.measure.callgrind`).
    warmup : {"none", "small", "full"}, default="none"
        An untimed fit and predict before the first case of this pipeline in
        this process (see :data:`~mnist_classic.spec.runconfig.WARMUPS`); the row's ``warmup`` says what
        preceded it (``warm`` when an earlier case of the pipeline had).
    machine : bool, default=False
        Record the machine's state around the case and a calibration before
        it (:mod:`mnist_classic.measure.machine`).
    latency : int, default=0
        Test images predicted one at a time, on one thread, after the timed
        predict (:func:`~mnist_classic.measure.latency.one_image_latency`):
        ``latency_ms_p50``, ``latency_ms_p99`` and ``latency_n``; 0 takes none.
    probabilities : bool, default=True
        Call ``predict_proba`` on the test set after the timed predict
        (untimed) where the estimator has it: ``probabilities`` and
        ``classes`` in the result, scored and stored by the runner.

    Returns
    -------
    dict
        ``status``, ``accuracy``, ``fit_time_s``, ``predict_time_s``,
        ``step_times`` (JSON), ``peak_memory_mb``, ``params`` (JSON),
        ``error``, ``accelerated`` (JSON: per step, whether the engine ran it
        accelerated), ``predictions`` (the labels array, or None), with a
        budget ``fit_threads`` and ``predict_threads``, and what the fitted
        model costs (:func:`deployment_fields`): ``model_bytes``, ``n_params``
        or ``macs``, the latency columns, ``probabilities`` (float32 array or
        None), ``classes`` and ``notes`` (a list of strings). A tuned grid
        (``case.pipeline.candidates``) first runs its search on the training
        set (:mod:`.tuning`, ``thread_budget`` or all cores for its workers),
        adds its columns (``tuned_params``, ``validation_accuracy``, ...),
        then runs the chosen candidate as this case.
    """
    out: dict[str, Any] = {"status": "ok", "error": "", "predictions": None}
    if case.pipeline.candidates:
        n_jobs = thread_budget or os.cpu_count() or 1
        try:
            n = case.n_train
            chosen, tuned = search_candidate(case.pipeline, X_train[:n], y_train[:n], case.seed, n_jobs=n_jobs)
        except Exception as exc:
            logger.debug("search of %s failed:\n%s", case.label, traceback.format_exc())
            out.update(status="error", error=f"tuning: {type(exc).__name__}: {exc}".replace("\n", " "))
            return out
        out.update(tuned)
        case = replace(case, pipeline=chosen)  # the winner runs as an untuned case would
    if warmup != "none":
        out["warmup"] = _warm_up(case, X_train, y_train, X_test, y_test, warmup, thread_budget)
    watch: Any = nullcontext()
    if machine:
        out["calibration_s"] = speed_index()
        watch = MachineWatch()
    out["started_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    X, y = X_train[: case.n_train], y_train[: case.n_train]
    mem = PeakMemory()
    chunks = 1
    counted: dict[str, Region] = {} if region is None else {"region": region}
    limits = nullcontext() if thread_budget is None else limit_threads(thread_budget)
    try:
        with mem, limits, watch:
            engine = get_engine(case.pipeline.engine)
            est = engine.prepare(case.pipeline.build(random_state=case.seed))
            jobs: list[str] = []
            if thread_budget is not None:
                # *n_jobs left at None (one core) by the factory and the selector follow the budget.
                jobs = case.pipeline.free_params(est, "n_jobs")
                chunks = _set_budget(est, case, jobs, thread_budget)
            out["params"] = effective_params(est)
            with engine.activate() as trace:
                with warnings.catch_warnings():
                    # Estimators whose n_jobs is deprecated (LogisticRegression) warn about the budget's value.
                    warnings.filterwarnings("ignore", message=".*'n_jobs' has no effect", category=FutureWarning)
                    cpu0 = process_time()
                    fit_s, fit_steps = timed_fit(est, X, y, **counted)
                    fit_cpu = process_time() - cpu0
                threads = thread_budget
                if predict_budget is not None:
                    threads = predict_budget()  # cores may have been freed while this case was fitting
                    chunks = _set_budget(est, case, jobs, threads)
                if thread_budget is not None:
                    out.update(fit_threads=thread_budget, predict_threads=threads)
                # A split predict runs its chunks on as many threads, one BLAS thread each (PCA before SVC).
                inner = nullcontext() if threads is None else limit_threads(1 if chunks > 1 else threads)
                with inner:
                    cpu0 = process_time()
                    pred, predict_s, predict_steps = timed_predict(est, X_test, chunks=chunks, **counted)
                    predict_cpu = process_time() - cpu0
            out["accelerated"] = json.dumps(engine.accelerated(est, trace), sort_keys=True)
            out.update(neural_fields(est))
    except Exception as exc:
        logger.debug("case %s failed:\n%s", case.label, traceback.format_exc())
        out.update(status="error", error=f"{type(exc).__name__}: {exc}".replace("\n", " "))
        out["peak_memory_mb"] = mem.peak_mb
        out.update(getattr(watch, "values", {}))
        return out
    out.update(getattr(watch, "values", {}))
    # What the fitted model costs, measured after (and outside) the timed, memory-watched and machine-watched block.
    limits = nullcontext() if thread_budget is None else limit_threads(thread_budget)
    with limits, engine.activate():
        out.update(deployment_fields(est, X_test, latency=latency, probabilities=probabilities, label=case.label))
    steps = {k: {"fit": round(fit_steps[k], 6), "predict": _round(predict_steps.get(k))} for k in fit_steps}
    out.update(
        accuracy=float(np.mean(np.asarray(pred) == y_test)),
        fit_time_s=round(fit_s, 6),
        predict_time_s=round(predict_s, 6),
        fit_cpu_s=round(fit_cpu, 6),
        predict_cpu_s=round(predict_cpu, 6),
        step_times=json.dumps(steps, sort_keys=True) if steps else "",
        peak_memory_mb=round(mem.peak_mb, 1) if mem.peak_mb is not None else None,
        predictions=np.asarray(pred),
        predict_chunks=chunks,
    )
    return out


#: Warm-ups before the first timed case of a pipeline in a process: ``small`` fits on the first
#: :data:`WARMUP_TRAIN` images and predicts :data:`WARMUP_TEST` (imports, first calls and code paths
#: warmed at little cost), ``full`` runs the whole case once untimed (as pyperf's warm-up values);
#: the names are :data:`~mnist_classic.spec.runconfig.WARMUPS`.
WARMUP_TRAIN, WARMUP_TEST = 1000, 500
_WARMED: set[tuple[str, int | None]] = set()  # (pipeline, n_train for "full") warmed in this run (see forget_warmups)


def forget_warmups() -> None:
    """Start a run cold: its first case of each pipeline is warmed up again, whatever ran in this process before."""
    _WARMED.clear()


def _warm_up(
    case: Case,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    mode: str,
    thread_budget: int | None,
) -> str:
    """Run the untimed warm-up ``mode`` unless this process already ran this pipeline; return what was done."""
    key = (case.pipeline.name, case.n_train if mode == "full" else None)
    if key in _WARMED:
        return "warm"
    if mode == "full":
        run_case(case, X_train, y_train, X_test, y_test, thread_budget=thread_budget, probabilities=False)
    else:
        n, m = min(case.n_train, WARMUP_TRAIN), min(len(y_test), WARMUP_TEST)
        small = replace(case, n_train=n)
        run_case(small, X_train, y_train, X_test[:m], y_test[:m], thread_budget=thread_budget, probabilities=False)
    _WARMED.add(key)
    return mode


_CURVES = (("epoch_s", "epoch_times_"), ("loss", "loss_curve_"), ("train_accuracy", "train_accuracy_curve_"))


def neural_fields(est: Any) -> dict[str, Any]:
    """A fitted network's ``device``, ``n_params`` and ``learning_curves`` (JSON) columns; empty for other estimators.

    A network is an estimator (or a pipeline's last step) with ``device_``:
    the suite's torch models, or any estimator that follows their
    attributes. ``learning_curves`` holds the per-epoch lists it has, under
    short keys: ``epoch_s`` (``epoch_times_``), ``loss`` (``loss_curve_``)
    and ``train_accuracy`` (``train_accuracy_curve_``).
    """
    final = est.steps[-1][1] if hasattr(est, "steps") else est
    if not hasattr(final, "device_"):
        return {}
    curves = {key: [round(float(v), 5) for v in getattr(final, attr)] for key, attr in _CURVES if hasattr(final, attr)}
    return {
        "device": str(final.device_),
        "n_params": getattr(final, "n_params_", None),
        "learning_curves": json.dumps(curves, separators=(",", ":")) if curves else "",
    }


def deployment_fields(
    est: Any, X_test: np.ndarray, *, latency: int = 0, probabilities: bool = True, label: str = ""
) -> dict[str, Any]:
    """What a fitted model costs to ship and to answer one request; never raises for the estimator's errors.

    ``model_bytes`` (:func:`~mnist_classic.measure.footprint.model_bytes`; empty
    with the reason logged when the model cannot be serialized), ``macs`` of a
    network or ``n_params`` of a classical model
    (:mod:`~mnist_classic.measure.footprint`), ``latency_ms_p50``,
    ``latency_ms_p99`` and ``latency_n`` when ``latency`` > 0, and
    ``probabilities`` (``predict_proba`` on ``X_test`` as float32, or None) with
    ``classes``. ``notes`` lists what could not be measured, for the progress line.
    """
    out: dict[str, Any] = {"probabilities": None, "classes": None, "notes": []}
    size, what = model_bytes(est)
    out["model_bytes"] = size
    if size is None:
        logger.warning("%s: model_bytes left empty: the model cannot be serialized (%s)", label, what)
        out["notes"].append("model not serializable")
    final = final_step(est)
    try:
        if hasattr(final, "module_"):
            out["macs"] = forward_macs(final.module_)
        elif not hasattr(final, "device_"):
            out["n_params"] = classical_n_params(est)
    except Exception as exc:  # a count that cannot be taken is an empty cell, not a failed case
        logger.warning("%s: macs/n_params left empty: %s: %s", label, type(exc).__name__, exc)
    if probabilities:
        if hasattr(est, "predict_proba"):
            try:
                proba, classes = np.asarray(est.predict_proba(X_test), dtype=np.float32), np.asarray(est.classes_)
                if proba.shape != (len(X_test), len(classes)):
                    msg = f"predict_proba gave shape {proba.shape} for {len(X_test)} images and {len(classes)} classes"
                    raise ValueError(msg)
                out.update(probabilities=proba, classes=classes)
            except Exception as exc:
                logger.warning(
                    "%s: predict_proba failed, probability columns empty: %s: %s", label, type(exc).__name__, exc
                )
                out["notes"].append("predict_proba failed")
        else:
            logger.info("%s has no predict_proba: log_loss, ece and brier are empty", label)
            out["notes"].append("no predict_proba: log_loss, ece, brier empty")
    if latency:
        try:
            p50, p99 = one_image_latency(est, X_test, latency)
            out.update(latency_ms_p50=round(p50, 4), latency_ms_p99=round(p99, 4), latency_n=latency)
        except Exception as exc:
            logger.warning("%s: latency not measured: %s: %s", label, type(exc).__name__, exc)
            out["notes"].append("latency not measured")
    return out


def _set_budget(est: Any, case: Case, jobs: list[str], threads: int) -> int:
    """Give ``est``'s ``jobs`` parameters ``threads``; return how many chunks ``predict`` is split into.

    ``n_jobs=None`` already means one core: only a budget of 2 or more is set.
    """
    est.set_params(**dict.fromkeys(jobs, threads if threads > 1 else None))
    return threads if threads > 1 and case.pipeline.serial_predict else 1


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
