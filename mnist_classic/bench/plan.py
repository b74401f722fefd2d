"""A run's plan: the configuration resolved, the data loaded and users' estimators checked, before anything is written.

:func:`prepare` hands the :class:`~mnist_classic.spec.runconfig.RunConfig` to
:func:`~mnist_classic.spec.runconfig.resolve` (options, plugins, pipelines), then
loads every dataset, checks the training sizes against it and runs the contract
check on users' estimators: a bad configuration fails here, with nothing written.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.loader import Dataset, load_dataset
from ..measure.callgrind import require_instructions
from ..spec.runconfig import RunConfig, check_latency, check_splits, dataset_names, resolve
from ..spec.selectors.parse import ConfiguredPipeline
from .contract import check_contract
from .tuning import check_tuning

__all__ = ["Plan", "check_free_space", "finished_cases", "prepare"]


def finished_cases(df: Any, sha256: dict[str, str], n_test: int) -> set[tuple[str, int, int]]:
    """(pipeline, n_train, seed) of the ok rows of results ``df`` for these payloads and test size."""
    mask = (df["status"] == "ok") & (df["n_test"] == n_test)
    for role, sha in sha256.items():
        mask &= df[f"sha256_{role}"] == sha
    done = df[mask]
    return {(p, int(n), int(s)) for p, n, s in zip(done["pipeline"], done["n_train"], done["seed"], strict=True)}


def check_free_space(path: Path, n_cases: int) -> None:
    """Refuse to start when the output's disk cannot hold the run's rows and predictions."""
    # generous: a row is ~2 KB, compressed predictions ~10 KB, probabilities up to 0.4 MB (10,000 x 10 float32)
    need = (1 << 20) + n_cases * (640 << 10)
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the output's folder may not exist yet: ask its nearest ancestor
    free = shutil.disk_usage(folder).free
    if free < need:
        msg = f"only {free // 1024} KiB free for {path}; this run of {n_cases} cases needs about {need // 1024} KiB"
        raise OSError(errno.ENOSPC, msg)


@dataclass
class Plan:
    """A checked configuration: its pipelines, and each dataset loaded with its training sizes."""

    pipelines: list[ConfiguredPipeline]
    datasets: list[tuple[str, Dataset, list[int]]]  # (the name given, the data, sizes)


def prepare(config: RunConfig, on_check: Callable[[list[str], float], None] | None = None) -> Plan:
    """Resolve a config (:func:`~mnist_classic.spec.runconfig.resolve`), load its data, and check users' estimators.

    Raises before anything is written. ``on_check(names, limit)`` is called when
    the contract check starts (see :mod:`.contract`).
    """
    pipelines = resolve(config)
    if config.measure == "instructions":
        require_instructions()  # valgrind and the client requests, or one line saying how to get them
    loaded = []
    for name in dataset_names(config):
        # K resplits pool every image: the test set is loaded whole and each split draws n_test of the pool
        resplit = config.splits is not None and check_splits(config)[0] == "resplit"
        n_test = None if resplit else config.n_test
        ds = load_dataset(name, data_dir=config.data_dir, n_test=n_test, data_home=config.data_home)
        check_latency(config.latency, len(ds.y_test))  # each dataset's own default is taken by the runner
        available = len(ds.y_train)
        sizes = []
        for n in config.n_train:
            if n is not None and n > available:
                msg = f"The 'n_train' parameter must be an int in [1, {available}] for {ds.name}. Got {n} instead."
                raise ValueError(msg)
            sizes.append(available if n is None else int(n))
        if len(set(sizes)) != len(sizes):
            msg = f"The 'n_train' parameter lists a size twice: {sizes}"
            raise ValueError(msg)
        for p in pipelines:
            for n in sizes:
                check_tuning(p, ds.y_train[:n])  # the holdout or folds of a tuned grid, on this training set
        if config.check_contract:
            n = max(sizes)
            check_contract(
                pipelines,
                ds.X_train[:n],
                ds.y_train[:n],
                ds.X_test,
                seed=config.seed,
                timeout=config.timeout,
                plugins=config.plugins,
                on_check=on_check,
            )
        loaded.append((name, ds, sizes))
    return Plan(pipelines, loaded)
