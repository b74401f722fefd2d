"""Reproduce rows of a results CSV: run each again from what it recorded, and say whether the result is the same.

A row records its configuration (the pipeline's canonical name, a selector),
the dataset and the SHA-256 of its four payloads, ``n_train``, ``n_test``, the
seed and the engine. :func:`reproduce_rows` runs that case again, through the
same runner as ``mnist-classic run``, and compares: the predictions (by their
SHA-256), the accuracy, the fit and predict times, and the environment columns
that may explain a difference (versions, BLAS, threads, CPU).

**Safety.** A CSV may come from anywhere, and a selector may name any callable
with arguments of its choosing (``os:system[command=...]``). So nothing a row
names is imported unless the user allowed it: built-in pipelines need nothing,
pipelines of a plugin need that plugin (``plugins``), and every module a row's
selector names, at any depth, must be in ``allow_import`` (a module allows its
submodules: ``sklearn`` allows ``sklearn.svm``). The modules are found by
reading the selector's text, before anything is parsed or imported, and the
parser enforces the same list (:func:`.targets.allowed_imports`).
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..data.datasets import DATASETS
from ..data.loader import load_dataset
from ..results import read_results
from ..spec.plugins import load_entry_points, load_plugins
from ..spec.runconfig import RunConfig
from ..spec.selectors.parse import ConfiguredPipeline, expand_selector, parse_selector, tuned_grid
from ..spec.selectors.targets import allowed_imports
from .runner import run_benchmark
from .tuning import tuning_of_row

__all__ = ["ENVIRONMENT_COLUMNS", "ImportRefusedError", "Reproduction", "named_modules", "reproduce_rows"]
__all__ += ["select_rows"]

#: Columns compared between a row and its reproduction, as possible explanations of a difference
#: (the environment, and how the case ran: in process or side by side, with how many threads).
ENVIRONMENT_COLUMNS: tuple[str, ...] = (
    "python_version",
    "numpy_version",
    "scipy_version",
    "sklearn_version",
    "engine_version",
    "blas",
    "blas_threads",
    "openmp_threads",
    "cpu_model",
    "cpu_count",
    "platform",
    "suite_version",
    "git_commit",
    "execution",
    "fit_threads",
    "predict_threads",
)
_ROLES = ("train_images", "train_labels", "test_images", "test_labels")
_TOKEN = re.compile(r"[A-Za-z_][\w.]*(?::[A-Za-z_][\w.]*)?")


class ImportRefusedError(ValueError):
    """Rows name modules the user did not allow."""


@dataclass
class Reproduction:
    """One row, run again: what it recorded, what the run gave, and whether they agree.

    Attributes
    ----------
    row : int
        The row's number, 1-based (the first row under the header is 1).
    old, new : dict
        The row as recorded, and the new run's row.
    same : bool
        The same predictions (``predictions_sha256``) for a row that was ``ok``
        (and for a tuned row, the same candidate chosen: ``tuned_params``);
        the same status for one that was not.
    environment : list of (str, str, str)
        The columns of :data:`ENVIRONMENT_COLUMNS` that differ: (column, recorded, now).
    """

    row: int
    old: dict[str, Any]
    new: dict[str, Any]
    same: bool
    environment: list[tuple[str, str, str]] = field(default_factory=list)  # (column, recorded, now)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def named_modules(selector: str) -> list[str]:
    """Every module a selector could import, at any depth, read from its text alone (nothing is imported).

    Conservative: any ``a.b:C`` or dotted word counts, quoted or not.

    Examples
    --------
    >>> named_modules("sklearn.multiclass:OneVsRestClassifier[estimator=os:system[command='x.sh']]+svm[C=0.5]")
    ['os', 'sklearn.multiclass', 'x']
    """
    found = set()
    for token in _TOKEN.findall(selector):
        if ":" in token:
            found.add(token.partition(":")[0])
        elif "." in token:
            found.add(token.rpartition(".")[0])
    return sorted(m for m in found if m)


def _allowed(module: str, allow: Sequence[str]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allow)


def select_rows(df: Any, picks: Sequence[str], csv: str = "the CSV") -> list[int]:
    """0-based indices of the rows ``picks`` names: row numbers (1-based), ranges ``3-5``, run ids or pipelines.

    No pick is every row.
    """
    n = len(df)
    if not picks:
        return list(range(n))
    chosen: list[int] = []
    for pick in picks:
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", pick.strip())
        if match:
            lo, hi = int(match[1]), int(match[2] or match[1])
            if not 1 <= lo <= hi <= n:
                msg = f"ROW must be a row number in [1, {n}] of {csv} (or a range, a run id, a pipeline). Got {pick!r}"
                raise ValueError(msg)
            idx = list(range(lo - 1, hi))
        else:
            idx = [i for i in range(n) if pick in (df["run_id"].iloc[i], df["pipeline"].iloc[i])]
            if not idx:
                msg = f"ROW must be a row number in [1, {n}], a range, a run id or a pipeline of {csv}. Got {pick!r}"
                raise ValueError(msg)
        chosen += [i for i in idx if i not in chosen]
    return chosen


def _selector_of(row: dict[str, Any]) -> tuple[str, str]:
    """The row's selector without its ``@engine`` suffix, and the engine."""
    engine = _text(row.get("engine")) or "sklearn"
    name = str(row["pipeline"])
    suffix = f"@{engine}"
    return (name[: -len(suffix)] if name.endswith(suffix) else name), engine


def _check_imports(rows: dict[int, dict[str, Any]], allow: Sequence[str]) -> None:
    """Refuse, in one line, rows naming modules not allowed."""
    refused: dict[str, list[int]] = {}
    for i, row in rows.items():
        for module in named_modules(_selector_of(row)[0]):
            if not _allowed(module, allow):
                refused.setdefault(module, []).append(i + 1)
    if refused:
        rows_named = sorted({r for rs in refused.values() for r in rs})
        options = " ".join(f"--allow-import {m}" for m in sorted(refused))
        msg = (
            f"row(s) {', '.join(map(str, rows_named))} name module(s) {', '.join(sorted(refused))}, which nothing "
            f"read from a CSV imports unless you allow it: add {options} if you trust them"
        )
        raise ImportRefusedError(msg)


def _configured(row: dict[str, Any], index: int, allow: Sequence[str]) -> ConfiguredPipeline:
    selector, engine = _selector_of(row)
    try:
        with allowed_imports(tuple(allow)):
            if _text(row.get("tuning_scores")):  # a tuned case: the search is run again, with its options
                configured = tuned_grid(selector, expand_selector(selector), tuning_of_row(str(row["tuning_scores"])))
            else:
                configured = parse_selector(selector)
    except ValueError as exc:
        hint = " (a pipeline of a plugin needs --plugin; an estimator object given from Python has no selector)"
        msg = f"row {index + 1}: pipeline {selector!r} cannot be rebuilt here: {str(exc).splitlines()[0]}{hint}"
        raise ValueError(msg) from None
    return replace(configured, engine=engine)


def _check_data(row: dict[str, Any], index: int, data_dir: str | None, data_home: str | None) -> str:
    """The dataset to run (a name or a directory), after checking its payloads are the row's."""
    name = _text(row.get("dataset"))
    if name not in DATASETS and data_dir is None:
        msg = f"row {index + 1}: dataset {name!r} is not registered here; give its files with --data-dir"
        raise ValueError(msg)
    source = name if name in DATASETS else str(data_dir)
    ds = load_dataset(
        source, data_dir=data_dir if name in DATASETS else None, n_test=int(row["n_test"]), data_home=data_home
    )
    differ = [r for r in _ROLES if _text(row.get(f"sha256_{r}")) not in ("", ds.sha256.get(r))]
    if differ:
        msg = f"row {index + 1}: the data differs from the row's ({', '.join(differ)}); give its files with --data-dir"
        raise ValueError(msg)
    return source


def _compare(index: int, old: dict[str, Any], new: dict[str, Any]) -> Reproduction:
    if _text(old.get("status")) == "ok":
        same = new.get("status") == "ok" and _text(old.get("predictions_sha256")) == _text(new["predictions_sha256"])
        same = same and _text(old.get("tuned_params")) == _text(new.get("tuned_params"))  # the same candidate won
    else:
        same = new.get("status") == _text(old.get("status"))
    env = [(c, _text(old.get(c)), _text(new.get(c))) for c in ENVIRONMENT_COLUMNS]
    return Reproduction(index + 1, old, new, same, [e for e in env if e[1] != e[2]])


def reproduce_rows(
    csv: str | Path,
    rows: Sequence[str] = (),
    *,
    allow_import: Sequence[str] = (),
    plugins: Sequence[str] = (),
    data_dir: str | None = None,
    data_home: str | None = None,
    timeout: float | None = None,
    output: str | Path | None = None,
    on_row: Callable[[Reproduction], None] | None = None,
) -> list[Reproduction]:
    """Run rows of a results CSV again and compare each with what it recorded.

    Parameters
    ----------
    csv : path-like
        A results CSV written by ``mnist-classic run``.
    rows : sequence of str, default=()
        Row numbers (1-based, ``3`` or ``3-5``), run ids or pipeline names;
        none is every row.
    allow_import : sequence of str, default=()
        Modules the rows' selectors may import (with their submodules).
    plugins : sequence of str, default=()
        Plugins to load first (modules or ``.py`` files), for rows naming
        their pipelines.
    data_dir, data_home : str or None, default=None
        The dataset's files (needed for a dataset not registered here), and
        the downloads and decoded cache.
    timeout : float or None, default=None
        Seconds per case (the case then runs in a child process).
    output : path-like or None, default=None
        A CSV to append the new rows to; None keeps them in a temporary
        folder, removed at the end.
    on_row : callable or None, default=None
        Called with each :class:`Reproduction` as it is done.

    Raises
    ------
    ImportRefusedError
        Rows naming modules not in ``allow_import`` (nothing has run).
    ValueError
        A row that names no row, a pipeline that cannot be rebuilt, data
        that is missing or differs from the row's (nothing has run).
    """
    df = read_results(csv)
    records = df.to_dict("records")
    picked = {i: records[i] for i in select_rows(df, rows, str(csv))}
    _check_imports(picked, allow_import)
    load_entry_points()
    load_plugins(plugins)
    plans = {i: (_configured(r, i, allow_import), _check_data(r, i, data_dir, data_home)) for i, r in picked.items()}
    done = []
    with tempfile.TemporaryDirectory(prefix="mnist-classic-reproduce-") as tmp:
        target = Path(output) if output is not None else Path(tmp) / "reproduced.csv"
        for i, row in picked.items():
            configured, source = plans[i]
            config = RunConfig(
                dataset=source,
                data_dir=data_dir if source in DATASETS else None,
                pipelines=[configured],
                n_train=[int(row["n_train"])],
                n_test=int(row["n_test"]),
                seed=int(row["seed"]),
                timeout=timeout,
                output=target,
                data_home=data_home,
                plugins=tuple(plugins),
                engine=configured.engine,
                command=f"mnist-classic reproduce {csv} {i + 1}",
            )
            result = run_benchmark(config)
            if result.write_error:
                raise OSError(result.write_error)
            if result.interrupted or not result.rows:
                raise KeyboardInterrupt
            outcome = _compare(i, row, result.rows[0])
            done.append(outcome)
            if on_row is not None:
                on_row(outcome)
    return done
