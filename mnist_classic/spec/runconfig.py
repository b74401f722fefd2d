"""What a run asks for: :class:`RunConfig`, the values each option accepts, and the configuration resolved.

:func:`resolve` checks every option of a :class:`RunConfig`, loads the plugins it
names and parses its pipelines (grids expanded, estimator objects wrapped, the
engine named): a bad configuration fails here, before any data is loaded or
anything written. The runner (:mod:`mnist_classic.bench.plan`) then loads the data
and checks users' estimators.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .cluster import ClusterSpec, cluster_spec
from .engines import get_engine, list_engines
from .pipelines import DEFAULT_PIPELINES
from .plugins import load_entry_points, load_plugins
from .selectors.objects import configure
from .selectors.parse import SEARCHES, ConfiguredPipeline, Tuning, expand_selector, tuned_grid

__all__ = [
    "BACKENDS",
    "LATENCY_IMAGES",
    "MEASURES",
    "SEARCHES",
    "THREADS",
    "TUNING_KEYS",
    "WARMUPS",
    "RunConfig",
    "available_engines",
    "check_latency",
    "check_splits",
    "dataset_names",
    "parse_splits",
    "resolve",
]

logger = logging.getLogger(__name__)

#: What ``run --backend`` accepts: joblib's loky processes, or Dask.
BACKENDS: tuple[str, ...] = ("loky", "dask")
#: What ``run --measure`` accepts: seconds (the default) or instructions under callgrind.
MEASURES: tuple[str, ...] = ("time", "instructions")
#: What ``run --warmup`` accepts (see :func:`mnist_classic.bench.case.run_case`).
WARMUPS: tuple[str, ...] = ("small", "full", "none")
#: What ``run --threads`` accepts.
THREADS: tuple[str, ...] = ("free", "all")
#: The options of ``run --tune``, which a run file may also set per pipeline.
TUNING_KEYS: tuple[str, ...] = ("tune", "validation", "cv", "budget", "search")
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
    cluster : ClusterSpec, mapping, str or None, default=None
        Batch jobs to run the cases on (see :mod:`.cluster`): ``"slurm"``, or
        a run file's ``[cluster]`` table (kind, jobs, cores, memory, walltime,
        queue, account, extra, python). The run starts them through
        dask-jobqueue, runs the cases on their Dask workers (the Dask
        backend, ``execution`` ``dask-slurm``) and cancels them at the end.
    plugins : sequence of str, default=()
        Modules or ``.py`` files to load first; their ``register_pipeline``
        and ``register_dataset`` calls add entries (see :mod:`.plugins`).
    config_text : str or None, default=None
        The run file this configuration came from, stored beside the CSV
        (``<stem>.configs/<sha256>.toml``) and named by ``config_sha256`` in
        every row, so that the run can be repeated exactly.
    check_contract : bool, default=True
        Try every estimator that is not a built-in pipeline on ~50 images
        before the first case (see :mod:`mnist_classic.bench.contract`).
    engine : str, default="sklearn"
        What runs the estimators (see :mod:`.engines`): ``sklearn`` (stock)
        or ``sklearnex`` (Intel Extension for Scikit-learn). Another engine
        than the default is part of each case's identity: ``svm@sklearnex``.
    measure : {"time", "instructions"}, default="time"
        ``time`` measures seconds in this process (or its ``--timeout``
        child); ``instructions`` counts each case's fit and predict (and each
        step) under valgrind's callgrind, in a child process per case, on one
        thread (:mod:`mnist_classic.bench.counted`): counts that no other process on the machine
        can move. Cases may then run ``n_jobs`` at a time.
    warmup : {"small", "full", "none"}, default="small"
        Timed runs one case at a time: an untimed warm-up before the first
        case of each pipeline (``small``: fit on 1,000 images and predict
        500; ``full``: the whole case once), so that the first repeat is not
        a cold one (:func:`~mnist_classic.bench.case.run_case`).
    threads : {"free", "all"}, default="free"
        Timed runs one case at a time: ``free`` gives a case no more
        BLAS/OpenMP threads than the cores other processes leave free
        (sampled before it starts; recorded in ``fit_threads`` and
        ``predict_threads`` when fewer than all); ``all`` leaves the
        libraries' defaults.
    splits : str, int or None, default=None
        Resampled splits instead of the canonical one (:mod:`mnist_classic.bench.splits`):
        ``"5x2"`` (five replications of a stratified 2-fold split of the
        training images; the test set unused) or ``K`` (K stratified
        resplits of the pooled images at ``n_train``/``n_test``). Each split
        is one row per pipeline, labelled in the ``split`` column and paired
        across pipelines by its seed. Cases then run one at a time in this
        process (``n_jobs=1``, no ``timeout``, ``measure="time"``), one
        repeat each, without ``resume``.
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
    tune : bool, default=False
        Every selector with a grid becomes one tuned case: its candidates
        scored on validation data carved from the training set only, the best
        refitted on the whole training set and scored once on the test set
        (:mod:`mnist_classic.bench.tuning`). Selectors without a grid run as before.
    validation : float or None, default=None
        The fraction of the training set held out to score candidates,
        stratified and seeded (default 1/6: 10,000 of MNIST's 60,000).
    cv : int or None, default=None
        Score candidates by this many stratified folds of the training set instead.
    budget : int or None, default=None
        At most this many candidates scored per tuned case (drawn at random
        from the grid with the case's seed; halving: as many full-size fits).
    search : {"grid", "random", "halving"} or None, default=None
        scikit-learn's GridSearchCV, RandomizedSearchCV or HalvingGridSearchCV;
        None is ``grid``, or ``random`` when a budget is smaller than the grid.
    pipeline_tuning : mapping, default={}
        Per selector (as written in ``pipelines``), values of the keys above
        that override the run's (a run file's tables).
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
    cluster: ClusterSpec | Mapping[str, Any] | str | None = None
    plugins: Sequence[str] = ()
    config_text: str | None = None
    check_contract: bool = True
    engine: str = "sklearn"
    measure: str = "time"
    warmup: str = "small"
    threads: str = "free"
    splits: str | int | None = None
    latency: int | None = None
    side: str | None = None
    ab_round: int | None = None
    tune: bool = False
    validation: float | None = None
    cv: int | None = None
    budget: int | None = None
    search: str | None = None
    pipeline_tuning: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _tuning(values: Mapping[str, Any], where: str) -> Tuning | None:
    """The checked tuning options (``where``: "" for the run's, or " of pipeline X"); None when not tuned."""
    tune, validation, cv, budget, search = (values.get(k) for k in TUNING_KEYS)
    if tune is not None and not isinstance(tune, bool):
        msg = f"The 'tune' parameter{where} must be true or false. Got {tune!r} instead."
        raise ValueError(msg)
    if validation is not None and (
        isinstance(validation, bool) or not isinstance(validation, (int, float)) or not 0 < validation < 1
    ):
        got = f"Got {validation!r} instead."
        msg = f"The 'validation' parameter{where} must be a fraction in (0, 1) of the training set. {got}"
        raise ValueError(msg)
    if cv is not None and (isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or cv < 2):
        msg = f"The 'cv' parameter{where} must be an int >= 2 (stratified folds). Got {cv!r} instead."
        raise ValueError(msg)
    if validation is not None and cv is not None:
        msg = f"The 'validation' and 'cv' parameters{where} are two protocols: give one. Got {validation!r} and {cv!r}."
        raise ValueError(msg)
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1):
        got = f"Got {budget!r} instead."
        msg = f"The 'budget' parameter{where} must be an int >= 1 (candidates scored per tuned case). {got}"
        raise ValueError(msg)
    if search is not None and search not in SEARCHES:
        msg = f"The 'search' parameter{where} must be one of {', '.join(SEARCHES)}. Got {search!r} instead."
        raise ValueError(msg)
    if not tune:
        return None
    return Tuning(search or "", validation, None if cv is None else int(cv), None if budget is None else int(budget))


def _tuned(selector: str, configs: list[ConfiguredPipeline], tuning: Tuning) -> ConfiguredPipeline:
    """The tuned case of a grid, its search settled against the grid's size."""
    size, budget = len(configs), tuning.budget
    search = tuning.search or ("random" if budget is not None and budget < size else "grid")
    if budget is not None and budget > size:
        logger.warning(
            "the budget %d is larger than the grid of %s (%d candidates): all %d are scored",
            budget,
            selector,
            size,
            size,
        )
    if search == "grid" and budget is not None and budget < size:
        msg = (
            f"The 'budget' parameter ({budget}) is smaller than the grid of {selector} ({size} candidates), which "
            "search 'grid' scores whole: use search 'random' (or leave search unset) or 'halving'."
        )
        raise ValueError(msg)
    return tuned_grid(selector, configs, replace(tuning, search=search))


def _configure(config: RunConfig) -> list[ConfiguredPipeline]:
    """The pipelines of ``config``: selectors expanded, or one tuned case per grid (``tune``)."""
    overrides = config.pipeline_tuning or {}
    run_values = {k: getattr(config, k) for k in TUNING_KEYS}
    run_tuning = _tuning(run_values, "")
    pipelines: list[ConfiguredPipeline] = []
    tuned = 0
    for item in config.pipelines:
        if not isinstance(item, str):
            pipelines += configure([item])
            continue
        own = {k: v for k, v in (overrides.get(item) or {}).items() if v is not None}
        tuning = _tuning(run_values | own, f" of pipeline {item!r}") if own else run_tuning
        configs = expand_selector(item)
        if tuning is not None and len(configs) > 1:
            pipelines.append(_tuned(item, configs, tuning))
            tuned += 1
        elif tuning is not None and own.get("tune"):
            msg = f"The 'tune' parameter of pipeline {item!r} needs a grid, such as knn[n_neighbors=[1,3,5,7]]."
            raise ValueError(msg)
        else:
            pipelines += configs
    if run_tuning is not None and not tuned:
        names = ", ".join(str(p) for p in config.pipelines if isinstance(p, str))
        msg = f"The 'tune' parameter needs a selector with a grid, such as knn[n_neighbors=[1,3,5,7]]. Got {names}."
        raise ValueError(msg)
    given = [k for k in TUNING_KEYS[1:] if run_values[k] is not None]
    if given and not tuned:
        got = f"{given[0]}={run_values[given[0]]!r}"
        msg = f"The '{given[0]}' parameter works with tune (run --tune). Got {got} without it."
        raise ValueError(msg)
    return pipelines


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
    pipelines = [replace(p, engine=engine.name) for p in _configure(config)]
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
    cluster = cluster_spec(config.cluster)
    if cluster is not None and config.n_jobs != 1:
        msg = (
            "The 'n_jobs' parameter is not used with a cluster: its cases run one per batch job, "
            f"'cluster.jobs' (--cluster-jobs). Got n_jobs={config.n_jobs!r}."
        )
        raise ValueError(msg)
    if cluster is not None and config.scheduler is not None:
        msg = "The 'cluster' parameter starts its own Dask scheduler: give 'cluster' or 'scheduler', not both."
        raise ValueError(msg)
    for name, accepted in (("warmup", WARMUPS), ("threads", THREADS)):
        if getattr(config, name) not in accepted:
            msg = f"The '{name}' parameter must be one of {', '.join(accepted)}. Got {getattr(config, name)!r} instead."
            raise ValueError(msg)
    if config.measure not in MEASURES:
        msg = f"The 'measure' parameter must be one of {', '.join(MEASURES)}. Got {config.measure!r} instead."
        raise ValueError(msg)
    counting = config.measure == "instructions"
    if counting and any(p.candidates for p in pipelines):
        msg = (
            "The 'tune' parameter does not work with measure='instructions' (a search under callgrind would take "
            "hours): run --tune first, then count the chosen candidate (its tuned_params) without --tune."
        )
        raise ValueError(msg)
    if counting:
        if cluster is not None:
            msg = "The 'cluster' parameter is not used with measure='instructions' (counted cases run on this machine)."
            raise ValueError(msg)
        if config.backend != "loky" or config.scheduler is not None:
            msg = "The 'backend' parameter is not used with measure='instructions' (counted cases are child processes)."
            raise ValueError(msg)
    if config.n_jobs > 1 or config.backend == "dask" or cluster is not None:
        for name in ("check_determinism",) if counting else ("timeout", "check_determinism"):
            if getattr(config, name):
                msg = f"The '{name}' parameter works with cases run one at a time (n_jobs=1, backend loky, no cluster)."
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
    if config.splits is not None:
        check_splits(config)
    return pipelines


def parse_splits(value: object) -> tuple[str, int]:
    """``"5x2"`` -> ``("5x2", 10)``; ``"K"`` or K -> ``("resplit", K)``; raises naming what is accepted.

    Examples
    --------
    >>> parse_splits("5x2"), parse_splits("7"), parse_splits(3)
    (('5x2', 10), ('resplit', 7), ('resplit', 3))
    """
    text = str(value).strip().lower() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if text == "5x2":
        return "5x2", 10
    if text.isdigit() and int(text) >= 2:
        return "resplit", int(text)
    msg = f"The 'splits' parameter must be '5x2' or a number of resplits K >= 2. Got {value!r} instead."
    raise ValueError(msg)


def check_splits(config: RunConfig) -> tuple[str, int]:
    """The scheme and number of splits of ``config.splits``; raises when the other options do not go with them."""
    scheme, count = parse_splits(config.splits)
    if config.n_jobs != 1 or config.backend != "loky" or config.timeout is not None or config.measure != "time":
        msg = (
            "The 'splits' parameter works with cases run one at a time in this process "
            "(n_jobs=1, backend loky, no timeout, measure time)."
        )
        raise ValueError(msg)
    if config.repeats != 1 or config.resume:
        what = "repeats" if config.repeats != 1 else "resume"
        msg = f"The 'splits' parameter replaces repeats and does not go with '{what}': a split is one row per pipeline."
        raise ValueError(msg)
    return scheme, count
