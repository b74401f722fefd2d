"""Run files: a whole benchmark written once in TOML, run with ``mnist-classic run --config FILE``.

Example (every key is optional; command-line options override the file)::

    datasets = ["mnist", "data/fashion"]            # names, or directories (relative to this file)
    plugins = ["my_models.py"]                      # modules or .py files whose register_* calls add entries
    n_train = [1000, 10000]                         # or 60000, or "all"
    n_test = 10000
    repeats = 3
    seed = 0
    output = "results.csv"                          # relative to this file
    n_jobs = 1
    tune = true                                     # every grid below is ONE tuned case (run --tune)
    validation = 0.1667                             # or cv = 5; budget = 10; search = "random"
    pipelines = [
        "svm[C=[1,10]]",                             # a selector, as on the command line
        { estimator = "sklearn.ensemble:ExtraTreesClassifier", params = { n_estimators = 300 } },
        { steps = [ "sklearn.preprocessing:StandardScaler",
                    { estimator = "sklearn.svm:SVC", params = { gamma = 0.001, C = [1, 10] } } ] },
        # an estimator as a value, at any depth; a named list as [name, estimator] pairs:
        { estimator = "sklearn.multiclass:OneVsRestClassifier", params = { estimator = "logreg" } },
        { estimator = "sklearn.ensemble:VotingClassifier", params = { estimators = [["lr", "logreg"], ["k", "knn"]] } },
        # the tuning keys per pipeline, in its table (a selector string goes under 'selector'):
        { selector = "knn[n_neighbors=[1,3,5,7]]", tune = true, cv = 5 },
    ]

    [cluster]                                       # cases on SLURM batch jobs (the [slurm] extra); after the keys
    kind = "slurm"
    jobs = 4                                        # one Dask worker per job, one case at a time
    cores = 8                                       # CPUs per job: the threads of each case
    memory = "16GB"                                 # per job
    walltime = "02:00:00"
    queue = "cpu"                                   # the partition
    account = "my-project"
    extra = ["--qos=normal"]                        # more #SBATCH directives
    python = "/shared/venv/bin/python"              # the workers' Python (default: this one)

A table in ``pipelines`` is written as the equivalent selector, so a case has
the same identity whichever way it was named; a list value is a grid, so a
parameter whose value is a sequence is a list in a list
(``hidden_layer_sizes = [[100, 100]]``: TOML has no tuples). An unknown key, at
the top or in a table, is an error naming the valid ones.
"""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path
from typing import Any

from ..data.datasets import DATASETS
from .cluster import CLUSTER_KEYS
from .runconfig import TUNING_KEYS
from .selectors.syntax import format_value

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["RUN_FILE_KEYS", "read_run_file", "table_to_selector"]

#: Top-level keys of a run file, with what each holds.
RUN_FILE_KEYS: dict[str, str] = {
    "datasets": "dataset names or directories (a list, or one string)",
    "data_dir": "the directory of the (single) dataset's files",
    "data_home": "downloads and decoded cache",
    "plugins": "modules or .py files to load first",
    "suites": "named sets of pipelines (mnist-classic list suites), run before 'pipelines'",
    "pipelines": "selectors, or tables {estimator|pipeline, params} / {steps}",
    "n_train": "training sizes: an int, a list, or 'all'",
    "n_test": "test size",
    "repeats": "repeats per case",
    "seed": "base seed",
    "timeout": "seconds per case",
    "output": "the results CSV",
    "n_jobs": "cases run at once",
    "backend": "loky or dask",
    "scheduler": "a Dask scheduler address",
    "cluster": "a table: batch jobs to run the cases on (kind = 'slurm', jobs, cores, memory, walltime, ...)",
    "resume": "skip cases already in the output",
    "check_determinism": "fit every case twice",
    "engine": "what runs the estimators: sklearn (stock) or sklearnex",
    "measure": "time (seconds, the default) or instructions (counted under valgrind's callgrind)",
    "warmup": "small (default), full or none: the untimed warm-up before a pipeline's first case",
    "threads": "free (default: no more threads than the cores other processes leave free) or all",
    "splits": "resampled splits: '5x2' (Dietterich's 5x2cv) or K (K stratified resplits); default the canonical split",
    "tune": "true: every grid is one tuned case, chosen on validation data (also per pipeline, in its table)",
    "validation": "the fraction of the training set held out to tune (default 1/6)",
    "cv": "tune by this many stratified folds instead",
    "budget": "at most this many candidates scored per tuned case",
    "search": "grid, random or halving",
    "latency": "test images predicted one at a time for latency_ms_p50/p99 (0: none; default 200)",
}
_STEP_KEYS = ("estimator", "pipeline", "params", "steps")


def _unknown(key: str, valid: Any, where: str, path: Path) -> ValueError:
    close = difflib.get_close_matches(key, list(valid), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    msg = f"{path}: unknown key {key!r} {where}{hint}; valid keys: {', '.join(valid)}"
    return ValueError(msg)


def _is_named_list(value: Any) -> bool:
    """``[["lr", {...}], ["knn", "knn"]]``: a list of [name, estimator] pairs."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], (str, dict))
            for v in value
        )
    )


def _is_estimator_table(value: Any) -> bool:
    return isinstance(value, dict) and bool(set(value) & {"estimator", "pipeline", "steps"})


def _value_text(value: Any, path: Path, where: str) -> str:
    """A parameter's value as a selector writes it: estimator tables and named lists as selectors, at any depth."""
    if _is_estimator_table(value):
        return _estimator_text(value, path, where)
    if _is_named_list(value):
        items = (f"{n}={_value_text(v, path, f'{where}[{i}]')}" for i, (n, v) in enumerate(value))
        return "(" + ",".join(items) + ")"
    if isinstance(value, list) and any(_is_estimator_table(v) or _is_named_list(v) for v in value):
        return "[" + ",".join(_value_text(v, path, f"{where}[{i}]") for i, v in enumerate(value)) + "]"  # a grid
    return format_value(value, item=True)  # a list in a run file is a grid


def _step_to_selector(step: Any, path: Path, where: str) -> str:
    if isinstance(step, str):
        return step
    if not isinstance(step, dict):
        msg = f"{path}: {where} must be a selector string or a table; got {type(step).__name__}"
        raise ValueError(msg)
    for key in step:
        if key not in ("estimator", "pipeline", "params"):
            raise _unknown(key, ("estimator", "pipeline", "params"), f"in {where}", path)
    targets = [step[k] for k in ("estimator", "pipeline") if k in step]
    if len(targets) != 1 or not isinstance(targets[0], str):
        msg = (
            f"{path}: {where} needs exactly one of 'estimator' (package.module:Name) or 'pipeline' (a registered name)"
        )
        raise ValueError(msg)
    params = step.get("params", {})
    if not isinstance(params, dict):
        msg = f"{path}: 'params' in {where} must be a table; got {type(params).__name__}"
        raise ValueError(msg)
    if not params:
        return targets[0]
    inner = ",".join(f"{k}={_value_text(v, path, f'{where}.params.{k}')}" for k, v in params.items())
    return f"{targets[0]}[{inner}]"


def _estimator_text(item: Any, path: Path, where: str) -> str:
    """A selector string, a step table, or ``{steps = [...]}``, as a selector."""
    if isinstance(item, dict) and "steps" in item:
        for key in item:
            if key != "steps":
                raise _unknown(key, ("steps",), f"in {where} (a table with 'steps' has nothing else)", path)
        steps = item["steps"]
        if not isinstance(steps, list) or not steps:
            msg = f"{path}: 'steps' in {where} must be a non-empty list"
            raise ValueError(msg)
        return "+".join(_step_to_selector(s, path, f"{where}.steps[{i}]") for i, s in enumerate(steps))
    return _step_to_selector(item, path, where)


def table_to_selector(item: Any, path: Path | str = "<run file>", index: int = 0) -> str:
    """One ``pipelines`` entry of a run file as a selector string.

    A parameter's value may itself be an estimator: a selector string, a table
    ``{estimator|pipeline, params}`` or ``{steps}``, at any depth; a list of
    ``[name, estimator]`` pairs is a named list (``VotingClassifier``'s
    ``estimators``); a list of estimators is a grid of them.

    Examples
    --------
    >>> table_to_selector({"estimator": "sklearn.svm:SVC", "params": {"C": [1, 10], "gamma": "scale"}})
    'sklearn.svm:SVC[C=[1, 10],gamma=scale]'
    >>> table_to_selector({"steps": ["sklearn.preprocessing:StandardScaler", {"pipeline": "knn"}]})
    'sklearn.preprocessing:StandardScaler+knn'
    >>> table_to_selector({"estimator": "sklearn.ensemble:VotingClassifier",
    ...                    "params": {"estimators": [["lr", {"pipeline": "logreg"}], ["knn", "knn"]]}})
    'sklearn.ensemble:VotingClassifier[estimators=(lr=logreg,knn=knn)]'
    """
    return _estimator_text(item, Path(path), f"pipelines[{index}]")


def _tuning_keys(item: Any, path: Path, index: int) -> tuple[Any, dict[str, Any]]:
    """A ``pipelines`` entry without its tuning keys (``tune``, ``cv``...), and those keys; ``selector`` unwrapped."""
    if not isinstance(item, dict):
        return item, {}
    own = {k: v for k, v in item.items() if k in TUNING_KEYS}
    rest = {k: v for k, v in item.items() if k not in TUNING_KEYS}
    if "selector" in rest:
        if set(rest) != {"selector"} or not isinstance(rest["selector"], str):
            msg = f"{path}: pipelines[{index}] with 'selector' (a string) takes only the tuning keys beside it"
            raise ValueError(msg)
        return rest["selector"], own
    return rest, own


def _relative(value: Any, base: Path) -> Any:
    """A path written in the run file, taken relative to the file's folder."""
    if isinstance(value, str) and not os.path.isabs(value):
        return str(base / value)
    return value


def read_run_file(path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """Read a run file into :class:`~mnist_classic.bench.runner.RunConfig` keywords, and its text.

    Parameters
    ----------
    path : path-like
        A TOML file (see this module's documentation for the keys).

    Returns
    -------
    values : dict
        Keywords for ``RunConfig`` (``datasets`` becomes ``dataset``;
        ``n_train`` a list with ``None`` for "all"; ``pipelines`` selector
        strings; paths made relative to the file's folder).
    text : str
        The file's content, to be stored with the run.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not TOML, an unknown key (the message lists the valid ones), or a
        value of the wrong kind.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"The '--config' option must name a TOML run file. No such file: {path}"
        raise FileNotFoundError(msg)
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not a valid TOML run file: {exc}"
        raise ValueError(msg) from None
    base = path.parent
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in RUN_FILE_KEYS:
            raise _unknown(key, RUN_FILE_KEYS, "at the top level", path)
        if key == "datasets":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                msg = f"{path}: 'datasets' must be a dataset name, a directory, or a list of them"
                raise ValueError(msg)
            # a registered name stays a name; anything else is a directory, relative to this file
            out["dataset"] = [n if n in DATASETS or not (base / n).exists() else _relative(n, base) for n in names]
        elif key == "pipelines":
            items = value if isinstance(value, list) else [value]
            out["pipelines"], tuning = [], {}
            for i, item in enumerate(items):
                item, own = _tuning_keys(item, path, i)
                out["pipelines"].append(table_to_selector(item, path, i))
                if own:
                    tuning[out["pipelines"][-1]] = own
            if tuning:
                out["pipeline_tuning"] = tuning
        elif key == "suites":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(p, str) for p in items):
                msg = f"{path}: 'suites' must be a suite name or a list of them"
                raise ValueError(msg)
            out["suites"] = items
        elif key == "plugins":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(p, str) for p in items):
                msg = f"{path}: 'plugins' must be a module name, a .py file, or a list of them"
                raise ValueError(msg)
            out["plugins"] = [_relative(p, base) if p.endswith(".py") else p for p in items]
        elif key == "n_train":
            items = value if isinstance(value, list) else [value]
            sizes: list[int | None] = []
            for n in items:
                if isinstance(n, str) and n.lower() in ("all", "full"):
                    sizes.append(None)
                elif isinstance(n, int) and not isinstance(n, bool):
                    sizes.append(n)
                else:
                    msg = f"{path}: 'n_train' takes positive integers or 'all'; got {n!r}"
                    raise ValueError(msg)
            out["n_train"] = sizes
        elif key == "cluster":
            if not isinstance(value, dict):
                msg = f"{path}: 'cluster' must be a table ([cluster] with kind, jobs, cores, memory, ...)"
                raise ValueError(msg)
            for inner in value:
                if inner not in CLUSTER_KEYS:
                    raise _unknown(inner, CLUSTER_KEYS, "in [cluster]", path)
            table = dict(value)
            if isinstance(table.get("python"), str) and ("/" in table["python"] or "\\" in table["python"]):
                table["python"] = _relative(table["python"], base)
            out["cluster"] = table
        elif key in ("output", "data_dir", "data_home"):
            if not isinstance(value, str):
                msg = f"{path}: {key!r} must be a path (a string); got {value!r}"
                raise ValueError(msg)
            out[key] = _relative(value, base)
        else:
            out[key] = value
    return out, text
