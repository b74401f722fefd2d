"""The runner: a grid of cases, each fitted, timed and recorded as it ends.

A run is dataset x configured pipeline x n_train x repeat; repeat ``r`` uses
seed ``seed + r``. Each case builds a fresh estimator, times ``fit`` and
``predict`` separately (and each step of a multi-step pipeline), scores
accuracy outside the timed regions, and its row is appended to the CSV the
moment it ends. A case that raises is recorded with status ``error`` and the
run goes on; with a timeout, cases run in a child process that is killed when
the time is up (status ``timeout``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_write
from ..data.loader import Dataset
from ..measure.environment import collect_environment
from ..measure.machine import FreeCoresMonitor
from ..results import ResultWriter, read_results, save_labels
from ..spec.engines import get_engine
from ..spec.runconfig import RunConfig
from ..spec.selectors import ConfiguredPipeline, effective_params
from .case import Case, forget_warmups, plan_cases, run_case
from .counted import run_counted, run_counted_cases
from .isolation import ChildRunner
from .parallel.backends import DataRef, run_parallel, thread_budget
from .parallel.order import PROBE_SIZE, ProbeTimes, longest_first, probe_times
from .plan import check_free_space, finished_cases, prepare

__all__ = ["RunConfig", "RunResult", "run_benchmark"]  # RunConfig lives in spec.runconfig

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a run wrote: its id, the rows in order, and whether it was interrupted."""

    run_id: str
    output: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    planned: int = 0
    interrupted: bool = False
    skipped: int = 0
    write_error: str | None = None

    @property
    def nondeterministic(self) -> list[str]:
        """Pipelines whose predictions differed between two fits with the same seed."""
        return sorted({r["pipeline"] for r in self.rows if r.get("deterministic") is False})

    @property
    def exit_code(self) -> int:
        """0 when every planned case ran, is ok and (if checked) deterministic; else 1.

        130 when interrupted; 2 when results could not be written.
        """
        if self.write_error:
            return 2
        if self.interrupted:
            return 130
        ok = all(r["status"] == "ok" for r in self.rows) and len(self.rows) == self.planned
        return 0 if ok and not self.nondeterministic else 1


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus 6 random hex digits."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _save_config(writer: ResultWriter, text: str) -> str:
    """Store a run file's text beside the CSV as ``<stem>.configs/<sha256>.toml``; return the hash."""
    data = text.encode("utf-8")
    sha = hashlib.sha256(data).hexdigest()
    folder = writer.path.with_suffix(".configs")
    path = folder / f"{sha}.toml"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return sha


def run_benchmark(
    config: RunConfig,
    *,
    on_start: Callable[[Case, int], None] | None = None,
    on_end: Callable[[Case, dict[str, Any], int], None] | None = None,
    on_check: Callable[[list[str], float], None] | None = None,
) -> RunResult:
    """Run the grid of ``config``, appending a CSV row as each case ends.

    Parameters
    ----------
    config : RunConfig
    on_start, on_end : callable or None
        Progress hooks: ``on_start(case, total)`` and ``on_end(case, row, total)``.
    on_check : callable or None
        Called as ``on_check(names, limit)`` when the contract check of users'
        estimators starts (see :mod:`.contract`).

    Returns
    -------
    RunResult
        Interrupted (Ctrl-C) runs return with ``interrupted=True`` and every
        finished row already on disk.

    Raises
    ------
    ValueError, OSError
        On a bad config, data, output or estimator (the contract check),
        before any case runs.
    """
    plan = prepare(config, on_check)
    output = Path(config.output)
    counting = config.measure == "instructions"
    parallel = (config.n_jobs > 1 or config.backend == "dask") and not counting
    # Earlier rows of the output, read once: the cases --resume skips, and the history that orders parallel cases.
    earlier = None
    if (config.resume or parallel) and output.is_file():
        ResultWriter(output)  # checks the header and removes a row cut short by a crash
        earlier = read_results(output)
    several = len(plan.datasets) > 1
    groups: list[tuple[str, Dataset, list[Case]]] = []
    skipped = start = 0
    for name, ds, sizes in plan.datasets:
        cases = plan_cases(plan.pipelines, sizes, config.repeats, config.seed, dataset=ds.name if several else "")
        if config.resume and earlier is not None:
            done = finished_cases(earlier, ds.sha256, len(ds.y_test))
            todo = [c for c in cases if (c.pipeline.name, c.n_train, c.seed) not in done]
            skipped += len(cases) - len(todo)
            cases = todo
        cases = [replace(c, index=start + i) for i, c in enumerate(cases)]
        start += len(cases)
        groups.append((name, ds, cases))
    total = start
    check_free_space(output, total)
    writer = ResultWriter(output)
    result = RunResult(new_run_id(), writer.path, planned=total, skipped=skipped)
    config_sha = _save_config(writer, config.config_text) if config.config_text is not None else None
    environment = collect_environment()
    for name, ds, cases in groups:
        if not cases or result.interrupted or result.write_error:
            continue
        common = {
            "run_id": result.run_id,
            "dataset": ds.name,
            "n_test": len(ds.y_test),
            "truth_sha256": save_labels(writer.predictions, np.asarray(ds.y_test)),
            "subset": ds.subset,
            "execution": _execution(config, parallel),
            "n_jobs": config.n_jobs,
            "thread_budget": thread_budget(config.n_jobs) if parallel and config.scheduler is None else None,
            "command": config.command,
            "config_sha256": config_sha,
            "engine": config.engine,
            "engine_version": get_engine(config.engine).version(),
            "measure": config.measure,
            "side": config.side,
            "ab_round": config.ab_round,
            **{f"sha256_{role}": sha for role, sha in ds.sha256.items()},
            **environment,
        }
        data_dir = config.data_dir if not several else None
        if parallel:
            n_max = max(c.n_train for c in cases)
            ref = DataRef(
                name, data_dir, config.data_home, config.n_test, n_max, tuple(ds.sha256.items()), tuple(config.plugins)
            )
            # Cases without earlier rows are ordered by a probe on the first images (one thread:
            # 2.5 s for the five defaults).
            probe_data = tuple(np.ascontiguousarray(a[:PROBE_SIZE]) for a in (ds.X_train, ds.y_train, ds.X_test))

            def probe(p: ConfiguredPipeline, data: tuple[np.ndarray, ...] = probe_data) -> ProbeTimes | None:
                return probe_times(p, *data)

            order = longest_first(cases, earlier, probe, n_test=len(ds.X_test))
            outcomes = run_parallel(
                order, ref, n_jobs=config.n_jobs, backend=config.backend, scheduler=config.scheduler
            )
        elif counting and config.n_jobs > 1:
            spec = _counted_spec(name, data_dir, config)
            outcomes = run_counted_cases(cases, spec, n_jobs=config.n_jobs, timeout=config.timeout)
        else:
            outcomes = _run_sequential(cases, ds, name, data_dir, config, on_start, total)
        _record(outcomes, common, writer, result, on_end, total)
    return result


def _record(
    outcomes: Generator[tuple[Case, dict[str, Any]], None, None],
    common: dict[str, Any],
    writer: ResultWriter,
    result: RunResult,
    on_end: Callable[[Case, dict[str, Any], int], None] | None,
    total: int,
) -> None:
    """Append a row per finished case, as it finishes; stop on a write error or Ctrl-C."""
    try:
        for case, out in outcomes:
            pred = out.pop("predictions")
            row = {
                **common,
                **out,
                "pipeline": case.pipeline.name,
                "n_train": case.n_train,
                "seed": case.seed,
                "repeat": case.repeat,
            }
            if "params" not in row:
                row["params"] = effective_params(case.pipeline.build(random_state=case.seed))
            try:
                if pred is not None:
                    row["predictions_sha256"] = save_labels(writer.predictions, pred)
                writer.append(row)
            except OSError as exc:  # disk full, file removed...: stop, keeping what was written
                result.write_error = str(exc)
                break
            result.rows.append(row)
            if on_end:
                on_end(case, row, total)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        outcomes.close()  # stops workers or the child process


def _execution(config: RunConfig, parallel: bool) -> str:
    if config.measure == "instructions":
        return "callgrind"
    return config.backend if parallel else "subprocess" if config.timeout else "inprocess"


def _counted_spec(name: str, data_dir: str | None, config: RunConfig) -> dict[str, Any]:
    """What a counted child loads (:mod:`.counted`); ``.py`` plugins by absolute path (its cwd may differ)."""
    plugins = [str(Path(p).resolve()) if str(p).endswith(".py") else p for p in config.plugins]
    return {
        "dataset": name,
        "data_dir": data_dir,
        "n_test": config.n_test,
        "data_home": config.data_home,
        "plugins": plugins,
    }


def _run_sequential(
    cases: Sequence[Case],
    ds: Dataset,
    name: str,
    data_dir: str | None,
    config: RunConfig,
    on_start: Callable[[Case, int], None] | None,
    total: int,
) -> Generator[tuple[Case, dict[str, Any]], None, None]:
    """One case at a time, in this process (or in a child process with a timeout)."""
    counting = config.measure == "instructions"
    spec = _counted_spec(name, data_dir, config) if counting else {}
    forget_warmups()  # each run warms up its pipelines, whatever this process ran before
    child = ChildRunner(config.timeout) if config.timeout and not counting else None
    n_max = max(c.n_train for c in cases)
    # Materialize the data in memory once, outside every timed region.
    X_train, y_train = np.ascontiguousarray(ds.X_train[:n_max]), np.asarray(ds.y_train[:n_max])
    X_test, y_test = np.ascontiguousarray(ds.X_test), np.asarray(ds.y_test)
    free_cores = FreeCoresMonitor()  # one sleep to sample per run, not per case (see its docstring)

    def execute(case: Case) -> dict[str, Any]:
        if counting:
            return run_counted(spec, case, timeout=config.timeout)
        # Threads follow the free cores: no more BLAS/OpenMP threads than other processes leave free.
        budget = None
        if config.threads == "free" and (free := free_cores()) < (os.cpu_count() or 1):
            budget = free
        timing: dict[str, Any] = {"thread_budget": budget, "warmup": config.warmup, "machine": True}
        if child is None:
            return run_case(case, X_train, y_train, X_test, y_test, **timing)
        args = (
            name,
            data_dir,
            config.n_test,
            config.data_home,
            tuple(config.plugins),
            case.pipeline,
            case.n_train,
            case.repeat,
            case.seed,
            timing,
        )
        return child.run(args)

    try:
        for case in cases:
            if on_start:
                on_start(case, total)
            out = execute(case)
            if config.check_determinism and out["predictions"] is not None:
                again = execute(case)["predictions"]
                out["deterministic"] = again is not None and bool(np.array_equal(out["predictions"], again))
            yield case, out
    finally:
        if child is not None:
            child.close()
