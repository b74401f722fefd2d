"""What a run asks for: :class:`RunConfig`, the values each option accepts, and the configuration resolved.

:func:`resolve` checks every option of a :class:`RunConfig`, loads the plugins it
names and parses its pipelines (grids expanded, estimator objects wrapped, the
engine named): a bad configuration fails here, before any data is loaded or
anything written. The runner (:mod:`mnist_classic.bench.plan`) then loads the data
and checks users' estimators.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .engines import get_engine, list_engines
from .objects import configure
from .pipelines import DEFAULT_PIPELINES
from .plugins import load_entry_points, load_plugins
from .selectors import ConfiguredPipeline

__all__ = [
    "BACKENDS",
    "LATENCY_IMAGES",
    "MEASURES",
    "THREADS",
    "WARMUPS",
    "RunConfig",
    "available_engines",
    "check_latency",
    "dataset_names",
    "resolve",
]

#: What ``run --backend`` accepts: joblib's loky processes, or Dask.
BACKENDS: tuple[str, ...] = ("loky", "dask")
#: What ``run --measure`` accepts: seconds (the default) or instructions under callgrind.
MEASURES: tuple[str, ...] = ("time", "instructions")
#: What ``run --warmup`` accepts (see :func:`mnist_classic.bench.case.run_case`).
WARMUPS: tuple[str, ...] = ("small", "full", "none")
#: What ``run --threads`` accepts.
THREADS: tuple[str, ...] = ("free", "all")
#: Test images predicted one at a time for the latency columns by default (``run --latency``).
LATENCY_IMAGES = 200


@dataclass
class RunConfig:
    """What to run; the CLI's options (and a run file's keys), as data.

    Parameters
    ----------
    dataset : str or sequence of str, default="mnist"
        Registered names or directories (see :func:`~mnist_classic.load_dataset`);
        several run one after the other into the same CSV.
    data_dir : str or None, default=None
        Directory holding the (single) dataset's files instead of its own copy.
    pipelines : sequence, default=DEFAULT_PIPELINES
        Selectors (``svm[C=10]``, ``sklearn.ensemble:ExtraTreesClassifier``,
        ``a:B+c:D[x=1]``; a list value is a grid), estimator objects, or
        ``(name, estimator)`` pairs; objects are cloned for every case.
    n_train : sequence of int or None, default=(None,)
        Training-set sizes (first ``n`` images); ``None`` is the whole set.
    n_test : int or None, default=None
        Test-set size (first ``n`` images); ``None`` is the whole set.
    repeats : int, default=1
        Repeats per (pipeline, n_train); repeat ``r`` uses seed ``seed + r``.
    seed : int, default=0
        Base seed, given to every ``*random_state`` parameter.
    timeout : float or None, default=None
        Seconds per case; when set, cases run in a child process.
    output : str or os.PathLike, default="mnist_classic_results.csv"
        The CSV to create or append to.
    data_home : str or None, default=None
        Downloads and decoded cache (see :func:`~mnist_classic.data.fetch.get_data_home`).
    command : str, default=""
        The command line, recorded in every row.
    check_determinism : bool, default=False
        Fit and predict every case a second time with the same seed (untimed
        for the row) and record in ``deterministic`` whether the predictions
        were identical.
    resume : bool, default=False
        Skip every case already in ``output`` with status ok for the same
        dataset payloads, configured pipeline, n_train, n_test and seed.
    n_jobs : int, default=1
        Cases run at once. 1 (the default) runs them one after the other in
        this process: the cleanest timings. More run them side by side in
        worker processes, longest expected first, each with a thread budget.
    backend : {"loky", "dask"}, default="loky"
        The engine for parallel cases: joblib's loky processes, or Dask.
    scheduler : str or None, default=None
        Address of a Dask scheduler (backend "dask"); without one a
        LocalCluster of ``n_jobs`` workers on 127.0.0.1 is started and closed.
    plugins : sequence of str, default=()
        Modules or ``.py`` files to load first; their ``register_pipeline``
        and ``register_dataset`` calls add entries (see :mod:`.plugins`).
    config_text : str or None, default=None
        The run file this configuration came from, stored beside the CSV
        (``<stem>.configs/<sha256>.toml``) and named by ``config_sha256`` in
        every row, so that the run can be repeated exactly.
    check_contract : bool, default=True
        Try every estimator that is not a built-in pipeline on ~50 images
        before the first case (see :mod:`.contract`).
    engine : str, default="sklearn"
        What runs the estimators (see :mod:`.engines`): ``sklearn`` (stock)
        or ``sklearnex`` (Intel Extension for Scikit-learn). Another engine
        than the default is part of each case's identity: ``svm@sklearnex``.
    measure : {"time", "instructions"}, default="time"
        ``time`` measures seconds in this process (or its ``--timeout``
        child); ``instructions`` counts each case's fit and predict (and each
        step) under valgrind's callgrind, in a child process per case, on one
        thread (:mod:`.counted`): counts that no other process on the machine
        can move. Cases may then run ``n_jobs`` at a time.
    warmup : {"small", "full", "none"}, default="small"
        Timed runs one case at a time: an untimed warm-up before the first
        case of each pipeline (``small``: fit on 1,000 images and predict
        500; ``full``: the whole case once), so that the first repeat is not
        a cold one (:func:`~.case.run_case`).
    threads : {"free", "all"}, default="free"
        Timed runs one case at a time: ``free`` gives a case no more
        BLAS/OpenMP threads than the cores other processes leave free
        (sampled before it starts; recorded in ``fit_threads`` and
        ``predict_threads`` when fewer than all); ``all`` leaves the
        libraries' defaults.
    latency : int or None, default=None
        Timed runs: after each case's timed predict, this many test images
        (a fixed seeded sample) are predicted one at a time on one thread,
        after ten untimed calls: ``latency_ms_p50`` and ``latency_ms_p99``.
        0 takes none; at most the test set's size. None: :data:`LATENCY_IMAGES`
        (200), or the whole test set when it is smaller. Not taken with
        ``measure="instructions"``.
    side, ab_round : str or None, int or None, default=None
        Set by ``mnist-classic ab`` on each of its runs: the side (``base``
        or ``new``) and round recorded in every row.
    """

    dataset: str | Sequence[str] = "mnist"
    data_dir: str | None = None
    pipelines: Sequence[Any] = DEFAULT_PIPELINES
    n_train: Sequence[int | None] = (None,)
    n_test: int | None = None
    repeats: int = 1
    seed: int = 0
    timeout: float | None = None
    output: str | os.PathLike[str] = "mnist_classic_results.csv"
    data_home: str | None = None
    command: str = ""
    check_determinism: bool = False
    resume: bool = False
    n_jobs: int = 1
    backend: str = "loky"
    scheduler: str | None = None
    plugins: Sequence[str] = ()
    config_text: str | None = None
    check_contract: bool = True
    engine: str = "sklearn"
    measure: str = "time"
    warmup: str = "small"
    threads: str = "free"
    latency: int | None = None
    side: str | None = None
    ab_round: int | None = None


def _check_positive(value: Any, name: str, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        extra = " or None" if allow_none else ""
        msg = f"The '{name}' parameter must be a positive int{extra}. Got {value!r} instead."
        raise ValueError(msg)


def check_latency(latency: Any, n_test: int | None = None) -> int:
    """The images the one-image latency takes: ``latency`` checked, or the default for ``n_test`` images.

    Raises ValueError unless ``latency`` is None or an int in [0, n_test]
    (any non-negative int when ``n_test`` is None).
    """
    if latency is None:
        return LATENCY_IMAGES if n_test is None else min(LATENCY_IMAGES, n_test)
    bad = isinstance(latency, bool) or not isinstance(latency, (int, np.integer)) or latency < 0
    if bad or (n_test is not None and latency > n_test):
        accepted = f"an int in [0, {n_test}] (the test images)" if n_test is not None else "a non-negative int"
        msg = f"The 'latency' parameter must be {accepted}; 0 turns it off. Got {latency!r} instead."
        raise ValueError(msg)
    return int(latency)


def dataset_names(config: RunConfig) -> list[str]:
    """The datasets a config names, checked: at least one, none twice, ``data_dir`` only with one."""
    names = [config.dataset] if isinstance(config.dataset, (str, os.PathLike)) else list(config.dataset)
    if not names or not all(isinstance(n, (str, os.PathLike)) and str(n).strip() for n in names):
        msg = f"The 'dataset' parameter must name one or more datasets or directories. Got {config.dataset!r} instead."
        raise ValueError(msg)
    names = [str(n) for n in names]
    if len(set(names)) != len(names):
        msg = f"The 'dataset' parameter lists a dataset twice: {names}"
        raise ValueError(msg)
    if config.data_dir is not None and len(names) > 1:
        msg = "The 'data_dir' parameter works with one dataset; name directories in 'dataset' instead."
        raise ValueError(msg)
    return names


def available_engines() -> list[str]:
    """Names of the registered engines that can run here."""
    return [name for name in list_engines() if get_engine(name).available()]


def resolve(config: RunConfig) -> list[ConfiguredPipeline]:
    """Check every option of ``config``, load its plugins, and parse its pipelines; raises before anything is loaded.

    Returns
    -------
    list of ConfiguredPipeline
        The configured pipelines, each with the config's engine.

    Raises
    ------
    ValueError
        An option out of its accepted values, naming the option, what it accepts and what was given.
    """
    load_entry_points()
    load_plugins(config.plugins)
    if isinstance(config.pipelines, str) or not config.pipelines:
        got = config.pipelines
        msg = f"The 'pipelines' parameter must name at least one pipeline (selector or estimator). Got {got!r} instead."
        raise ValueError(msg)
    engine = get_engine(config.engine) if isinstance(config.engine, str) else None
    if engine is None or not engine.available():
        msg = (
            f"The 'engine' parameter must name an engine installed here ({', '.join(available_engines())}). "
            f"Got {config.engine!r}{', which does not import here,' if engine is not None else ''} instead."
        )
        raise ValueError(msg)
    pipelines = [replace(p, engine=engine.name) for p in configure(config.pipelines)]
    names = [p.name for p in pipelines]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        msg = (
            f"Pipeline selected twice: {', '.join(dupes)} (use --repeats to repeat a case; a list value is a grid "
            "of its items: write a sequence value as a tuple (100,100) or a list in a list [[100,100]])"
        )
        raise ValueError(msg)
    _check_positive(config.repeats, "repeats")
    if isinstance(config.seed, bool) or not isinstance(config.seed, (int, np.integer)) or config.seed < 0:
        msg = f"The 'seed' parameter must be a non-negative int. Got {config.seed!r} instead."
        raise ValueError(msg)
    _check_positive(config.n_jobs, "n_jobs")
    check_latency(config.latency, config.n_test)
    if config.backend not in BACKENDS:
        msg = f"The 'backend' parameter must be one of {', '.join(BACKENDS)}. Got {config.backend!r} instead."
        raise ValueError(msg)
    if config.scheduler is not None and config.backend != "dask":
        msg = "The 'scheduler' parameter needs the 'dask' backend (--backend dask)."
        raise ValueError(msg)
    for name, accepted in (("warmup", WARMUPS), ("threads", THREADS)):
        if getattr(config, name) not in accepted:
            msg = f"The '{name}' parameter must be one of {', '.join(accepted)}. Got {getattr(config, name)!r} instead."
            raise ValueError(msg)
    if config.measure not in MEASURES:
        msg = f"The 'measure' parameter must be one of {', '.join(MEASURES)}. Got {config.measure!r} instead."
        raise ValueError(msg)
    counting = config.measure == "instructions"
    if counting:
        if config.backend != "loky" or config.scheduler is not None:
            msg = "The 'backend' parameter is not used with measure='instructions' (counted cases are child processes)."
            raise ValueError(msg)
    if config.n_jobs > 1 or config.backend == "dask":
        for name in ("check_determinism",) if counting else ("timeout", "check_determinism"):
            if getattr(config, name):
                msg = f"The '{name}' parameter works with cases run one at a time (n_jobs=1, backend loky)."
                raise ValueError(msg)
    if config.timeout is not None and not config.timeout > 0:
        msg = f"The 'timeout' parameter must be a positive number of seconds. Got {config.timeout!r} instead."
        raise ValueError(msg)
    if isinstance(config.n_train, (int, str)) or not config.n_train:
        msg = f"The 'n_train' parameter must be a non-empty list of sizes. Got {config.n_train!r} instead."
        raise ValueError(msg)
    for n in config.n_train:
        _check_positive(n, "n_train", allow_none=True)
    dataset_names(config)
    return pipelines
