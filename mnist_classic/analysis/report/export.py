"""Export a results CSV to the formats of other benchmark tools.

- :func:`to_pytest_benchmark`: the JSON that ``pytest --benchmark-json`` and
  ``--benchmark-autosave`` write (``machine_info``, ``commit_info``,
  ``benchmarks``, ``datetime``, ``version``), one benchmark per case and
  timed phase (fit, predict), its ``stats`` over the case's repeats, computed
  as pytest-benchmark's ``Stats`` does. ``pytest-benchmark compare`` reads
  the file; so does anything built on that format.
- :func:`to_github_benchmark`: the lists that github-action-benchmark reads
  with ``tool: customSmallerIsBetter`` (fit and predict seconds, the median
  over repeats) and ``tool: customBiggerIsBetter`` (accuracy in percent),
  each entry ``{"name", "unit", "value", "range", "extra"}``.

Only rows with status ``ok`` are exported (pytest-benchmark leaves failed
benchmarks out of its file too); a case with no such row is left out.
A case is (dataset, pipeline, n_train, n_test); its repeats are its rows.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from bisect import bisect_left, bisect_right
from pathlib import Path
from typing import Any

from ...results import read_results

__all__ = [
    "PYTEST_BENCHMARK_FORMAT_VERSION",
    "benchmark_stats",
    "to_github_benchmark",
    "to_pytest_benchmark",
    "write_github_benchmark",
    "write_pytest_benchmark",
]

#: Written in the ``version`` field: the pytest-benchmark release whose file layout this follows.
PYTEST_BENCHMARK_FORMAT_VERSION = "5.1.0"

_KEY = ["dataset", "pipeline", "n_train", "n_test"]
_PHASES = (("fit", "fit_time_s"), ("predict", "predict_time_s"))


def _quartiles(data: list[float]) -> tuple[float, float]:
    """Q1 and Q3 as pytest-benchmark computes them (Wikipedia's methods 2 and 3)."""
    n = len(data)
    if n == 1:
        return data[0], data[0]
    if n % 2 == 0:
        return statistics.median(data[: n // 2]), statistics.median(data[n // 2 :])
    k, r = n // 4, n % 4
    if r == 1:
        return 0.25 * data[k - 1] + 0.75 * data[k], 0.75 * data[3 * k] + 0.25 * data[3 * k + 1]
    return 0.75 * data[k] + 0.25 * data[k + 1], 0.25 * data[3 * k + 1] + 0.75 * data[3 * k + 2]


def benchmark_stats(times: list[float]) -> dict[str, Any]:
    """The ``stats`` of one pytest-benchmark entry for these round times (seconds).

    Examples
    --------
    >>> s = benchmark_stats([1.0, 2.0, 4.0])
    >>> s["min"], s["median"], s["rounds"], s["outliers"]
    (1.0, 2.0, 3, '1;0')
    """
    data = sorted(float(t) for t in times)
    if not data:
        msg = "The 'times' parameter of benchmark_stats must hold at least one time. Got none."
        raise ValueError(msg)
    n = len(data)
    mean = statistics.mean(data)
    stddev = statistics.stdev(data) if n > 1 else 0.0
    q1, q3 = _quartiles(data)
    iqr = q3 - q1
    low, high = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    iqr_outliers = sum(1 for t in data if t < low or t > high)
    stddev_outliers = sum(1 for t in data if t < mean - stddev or t > mean + stddev)
    return {
        "min": data[0],
        "max": data[-1],
        "mean": mean,
        "stddev": stddev,
        "rounds": n,
        "median": statistics.median(data),
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": iqr_outliers,
        "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": data[0] if n == 1 else data[bisect_left(data, low)],
        "hd15iqr": data[0] if n == 1 else data[bisect_right(data, high) - 1],
        "ops": 1 / mean if mean else 0.0,
        "total": sum(data),
        "data": list(times),
        "iterations": 1,
    }


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _number(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _median_count(rows: Any, column: str) -> float | None:
    """The median instruction count of ``rows`` (None when they were timed, not counted)."""
    counts = [float(c) for c in rows[column] if _number(c) is not None]
    return statistics.median(counts) if counts else None


def _ok_cases(df: Any) -> list[tuple[tuple[Any, ...], Any]]:
    ok = df[df["status"] == "ok"]
    return [(key, rows) for key, rows in ok.groupby(_KEY, sort=True, dropna=False)]


def _case_label(key: tuple[Any, ...]) -> str:
    dataset, pipeline, n_train, n_test = key
    prefix = "" if dataset == "mnist" else f"{dataset}: "
    return f"{prefix}{pipeline} n_train={int(n_train)} n_test={int(n_test)}"


def _single(df: Any, column: str, path: Any) -> str | None:
    values = sorted({v for v in (_text(x) for x in df[column]) if v is not None})
    if len(values) > 1:
        msg = (
            f"{path}: rows from {len(values)} different {column} values ({', '.join(values)}); "
            f"a pytest-benchmark file describes one {column}: export each separately"
        )
        raise ValueError(msg)
    return values[0] if values else None


def to_pytest_benchmark(csv_path: str | os.PathLike[str]) -> dict[str, Any]:
    """A results CSV as a pytest-benchmark JSON document.

    Parameters
    ----------
    csv_path : str or os.PathLike
        A results CSV (read with :func:`mnist_classic.results.read_results`).

    Returns
    -------
    dict
        ``json.dump`` it to a file that ``pytest-benchmark compare`` reads.

    Raises
    ------
    ResultsSchemaError
        If the file is not a results CSV of this schema.
    ValueError
        If its rows come from more than one git commit or machine (CPU model).
    """
    df = read_results(csv_path)
    commit = _single(df, "git_commit", csv_path)
    _single(df, "cpu_model", csv_path)
    first = df.iloc[0] if len(df) else None
    machine_info: dict[str, Any] = {}
    if first is not None:
        machine_info = {
            "node": None,
            "processor": None,
            "machine": None,
            "python_implementation": "CPython",
            "python_version": _text(first["python_version"]),
            "system": _text(first["platform"]),
            "cpu": {"brand_raw": _text(first["cpu_model"]), "count": _number(first["cpu_count"])},
            # mnist-classic's own context, kept alongside pytest-benchmark's keys
            "blas": _text(first["blas"]),
            "blas_threads": _number(first["blas_threads"]),
            "numpy_version": _text(first["numpy_version"]),
            "scipy_version": _text(first["scipy_version"]),
            "sklearn_version": _text(first["sklearn_version"]),
            "suite_version": _text(first["suite_version"]),
        }
    commit_info = {
        "id": (commit or "unknown").removesuffix("-dirty"),
        "time": None,
        "author_time": None,
        "dirty": bool(commit and commit.endswith("-dirty")),
        "project": "mnist-classic",
        "branch": None,
    }
    benchmarks = []
    for key, rows in _ok_cases(df):
        dataset, pipeline, n_train, n_test = key
        for phase, column in _PHASES:
            times = [float(t) for t in rows[column] if _number(t) is not None]
            if not times:
                continue
            name = f"{phase}[{_case_label(key)}]"
            accuracy = [float(a) for a in rows["accuracy"] if _number(a) is not None]
            benchmarks.append(
                {
                    "group": f"{dataset} {phase}",
                    "name": name,
                    "fullname": f"mnist_classic::{name}",
                    "params": {"pipeline": pipeline, "n_train": int(n_train), "n_test": int(n_test)},
                    "param": f"{pipeline}-{int(n_train)}-{int(n_test)}",
                    "extra_info": {
                        "dataset": dataset,
                        "instructions_median": _median_count(rows, f"{phase}_instructions"),
                        "accuracy_median": statistics.median(accuracy) if accuracy else None,
                        "run_ids": sorted({str(r) for r in rows["run_id"]}),
                    },
                    "options": {"disable_gc": False, "timer": "perf_counter", "min_rounds": len(times)},
                    "stats": benchmark_stats(times),
                }
            )
    started = sorted(v for v in (_text(x) for x in df["started_at"]) if v)
    return {
        "machine_info": machine_info,
        "commit_info": commit_info,
        "benchmarks": benchmarks,
        "datetime": started[-1] if started else None,
        "version": PYTEST_BENCHMARK_FORMAT_VERSION,
    }


def to_github_benchmark(csv_path: str | os.PathLike[str]) -> dict[str, list[dict[str, Any]]]:
    """A results CSV as github-action-benchmark's custom tool inputs.

    Returns
    -------
    dict
        ``{"customSmallerIsBetter": [...], "customBiggerIsBetter": [...]}``:
        fit and predict seconds (median over repeats, ``range`` the spread
        min-max), and accuracy in percent. Each list goes in its own file,
        read by its own action step with that ``tool``.

    Raises
    ------
    ResultsSchemaError
        If the file is not a results CSV of this schema.

    Examples
    --------
    The entries look like this (one case, three repeats)::

        {"name": "fit svm n_train=60000 n_test=10000", "unit": "s", "value": 11.0,
         "range": "10.0 - 12.5", "extra": "3 repeats; scikit-learn 1.6.1; commit 0123abc"}
    """
    df = read_results(csv_path)
    smaller: list[dict[str, Any]] = []
    bigger: list[dict[str, Any]] = []
    for key, rows in _ok_cases(df):
        label = _case_label(key)
        versions = sorted({v for v in (_text(x) for x in rows["sklearn_version"]) if v})
        commits = sorted({v for v in (_text(x) for x in rows["git_commit"]) if v})
        context = "; ".join(
            part
            for part in (
                f"scikit-learn {', '.join(versions)}" if versions else "",
                f"commit {', '.join(c[:12] for c in commits)}" if commits else "",
            )
            if part
        )
        for phase, column in _PHASES:
            times = [float(t) for t in rows[column] if _number(t) is not None]
            if times:
                smaller.append(
                    {
                        "name": f"{phase} {label}",
                        "unit": "s",
                        "value": statistics.median(times),
                        "range": f"{min(times):.4g} - {max(times):.4g}",
                        "extra": f"{len(times)} repeats" + (f"; {context}" if context else ""),
                    }
                )
            counts = [float(c) for c in rows[f"{phase}_instructions"] if _number(c) is not None]
            if counts:  # run --measure instructions
                smaller.append(
                    {
                        "name": f"{phase} instructions {label}",
                        "unit": "instructions",
                        "value": statistics.median(counts),
                        "range": f"{min(counts):.0f} - {max(counts):.0f}",
                        "extra": f"{len(counts)} repeats, callgrind" + (f"; {context}" if context else ""),
                    }
                )
        accuracy = [float(a) for a in rows["accuracy"] if _number(a) is not None]
        if accuracy:
            bigger.append(
                {
                    "name": f"accuracy {label}",
                    "unit": "%",
                    "value": round(100 * statistics.median(accuracy), 4),
                    "range": f"{100 * min(accuracy):.2f} - {100 * max(accuracy):.2f}",
                    "extra": f"{len(accuracy)} repeats" + (f"; {context}" if context else ""),
                }
            )
    return {"customSmallerIsBetter": smaller, "customBiggerIsBetter": bigger}


def _dump(obj: Any, path: Path) -> Path:
    from mnist_classic._files import atomic_write

    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)
    return path


def write_pytest_benchmark(csv_path: str | os.PathLike[str], output: str | os.PathLike[str]) -> Path:
    """Write :func:`to_pytest_benchmark` of ``csv_path`` to ``output`` (atomically) and return its path."""
    return _dump(to_pytest_benchmark(csv_path), Path(output))


def write_github_benchmark(csv_path: str | os.PathLike[str], output_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``smaller_is_better.json`` and ``bigger_is_better.json`` in ``output_dir``; return both paths."""
    data = to_github_benchmark(csv_path)
    out = Path(output_dir)
    return (
        _dump(data["customSmallerIsBetter"], out / "smaller_is_better.json"),
        _dump(data["customBiggerIsBetter"], out / "bigger_is_better.json"),
    )
