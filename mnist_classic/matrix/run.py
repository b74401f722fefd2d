"""The same run in one isolated environment per requirement set, every row into one CSV.

:func:`run_matrix` builds (or reuses) an environment per requirement set with
:func:`.envs.build_env`, then runs ``python -I -m mnist_classic run ARGS
--output CSV`` in each, one after the other (side by side they would time each
other). The rows already say which versions made them (``sklearn_version``,
``numpy_version``, ...), so one CSV holds the whole matrix.

An environment that cannot be built, or whose run fails, is recorded and the
next one goes on. What happened to each is returned, and logged as JSON beside
the CSV in ``<stem>.matrix.json``: one entry per ``matrix`` invocation, with
the requirements, the status, the cause in one line, the versions found in the
environment, the run's exit status and the wall time of each environment.

``-I`` (isolated mode) keeps the caller's working directory off ``sys.path``:
run from a source checkout, ``-m mnist_classic`` would otherwise import the
checkout instead of the package installed in the environment.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._files import atomic_write
from .envs import EnvBuildError, build_env

__all__ = [
    "EnvOutcome",
    "MatrixResult",
    "append_log",
    "collect_run",
    "failure_cause",
    "matrix_log_path",
    "parse_env_spec",
    "run_command",
    "run_matrix",
    "start_run",
]

logger = logging.getLogger(__name__)

#: Statuses of one environment: its run exited 0; its run exited 1 (some cases failed, their rows are
#: written); its run could not start or stopped (another exit status); it could not be built.
STATUSES = ("ok", "cases-failed", "run-failed", "build-failed")


@dataclass
class EnvOutcome:
    """What happened in one environment of a matrix.

    Attributes
    ----------
    requirements : list of str
    status : {"ok", "cases-failed", "run-failed", "build-failed"}
    message : str
        One line: the cause of a failure, else empty.
    exit_code : int or None
        The run's exit status (None when it never ran).
    env : str
        The environment's folder ("" when it could not be built).
    versions : dict
        Python and library versions found in the environment.
    seconds : float
        Wall time of building and running.
    """

    requirements: list[str]
    status: str
    message: str = ""
    exit_code: int | None = None
    env: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """Whether this environment did not give a complete run."""
        return self.status != "ok"

    @property
    def line(self) -> str:
        """One line for a summary: status, requirements, versions or cause."""
        what = " ".join(self.requirements) or "(no pins)"
        if self.status == "build-failed":
            return f"FAILED  {what}: {self.message}"
        versions = ", ".join(f"{k} {v}" for k, v in self.versions.items() if k in ("scikit-learn", "numpy"))
        tail = f" ({versions}; {self.seconds:.0f} s)"
        if self.status == "ok":
            return f"ok      {what}{tail}"
        return f"FAILED  {what}{tail}: run exited with {self.exit_code}: {self.message}"


@dataclass
class MatrixResult:
    """The outcome of every environment, in the order given, and where the log went."""

    outcomes: list[EnvOutcome]
    output: Path
    log: Path

    @property
    def exit_code(self) -> int:
        """0 when every environment ran every case, else 1."""
        return 1 if any(o.failed for o in self.outcomes) else 0


def parse_env_spec(spec: str | Sequence[str]) -> list[str]:
    """A requirement set from one ``--env`` value: requirements separated by spaces (shell quoting allowed).

    Raises
    ------
    ValueError
        An empty set, or text that does not split (unbalanced quotes).

    Examples
    --------
    >>> parse_env_spec("scikit-learn==1.7.2 'numpy<2.3'")
    ['scikit-learn==1.7.2', 'numpy<2.3']
    """
    if isinstance(spec, str):
        try:
            reqs = shlex.split(spec)
        except ValueError as exc:
            msg = f"The '--env' option takes requirements separated by spaces. Got {spec!r} ({exc})."
            raise ValueError(msg) from None
    else:
        reqs = [str(r) for r in spec]
    if not reqs:
        msg = (
            "The '--env' option takes requirements separated by spaces, e.g. 'scikit-learn==1.6.1'. "
            f"Got {spec!r} instead."
        )
        raise ValueError(msg)
    return reqs


def matrix_log_path(output: str | os.PathLike[str]) -> Path:
    """``results/x.csv`` -> ``results/x.matrix.json``."""
    return Path(output).with_suffix(".matrix.json")


def failure_cause(lines: Sequence[str]) -> str:
    """The line that says why a run failed: its last error line, else its last line."""
    stripped = [line.strip() for line in lines if line.strip()]
    errors = [line for line in stripped if "error" in line.lower() or "interrupted" in line.lower()]
    return (errors or stripped or [""])[-1]


def run_command(python: Path, run_args: Sequence[str], output: Path) -> list[str]:
    """The command line of one environment's run: ``PYTHON -I -m mnist_classic run ARGS --output OUTPUT``."""
    return [str(python), "-I", "-m", "mnist_classic", "run", *run_args, "--output", str(output)]


def start_run(
    python: Path, run_args: Sequence[str], output: Path, *, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start one environment's run, its output (stdout and stderr) on one pipe; ``env``: its environment variables."""
    cmd = run_command(python, run_args, output)
    logger.info("Running %s", shlex.join(cmd))
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=env)


def collect_run(
    proc: subprocess.Popen[str], on_output: Callable[[str], None] | None, timeout: float | None
) -> tuple[int, list[str]]:
    """Read a started run's lines until it ends (killed past ``timeout`` seconds); return its exit status and lines."""
    lines: list[str] = []
    with proc:
        assert proc.stdout is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if on_output is not None:
                on_output(line.rstrip("\n"))
            if deadline is not None and time.monotonic() > deadline:
                proc.kill()
                lines.append(f"error: the run did not finish in {timeout:g} s")
                break
        code = proc.wait()
    return code, lines


def _run_in(
    python: Path, run_args: Sequence[str], output: Path, on_output: Callable[[str], None] | None, timeout: float | None
) -> tuple[int, list[str]]:
    return collect_run(start_run(python, run_args, output), on_output, timeout)


def append_log(path: Path, entry: dict[str, Any], key: str = "matrix_runs") -> None:
    """Add ``entry`` to the list ``key`` of the JSON log at ``path`` (created if absent), atomically."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        runs = doc[key] if isinstance(doc, dict) and isinstance(doc.get(key), list) else []
    except (OSError, ValueError):
        runs = []
    runs.append(entry)
    text = json.dumps({key: runs}, indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def run_matrix(
    envs: Sequence[str | Sequence[str]],
    run_args: Sequence[str],
    output: str | os.PathLike[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    project: str | os.PathLike[str] | None = None,
    installer: str = "auto",
    build_timeout: float | None = 1800,
    run_timeout: float | None = None,
    command: str = "",
    on_env: Callable[[EnvOutcome], None] | None = None,
    on_output: Callable[[str], None] | None = None,
) -> MatrixResult:
    """Run ``mnist-classic run RUN_ARGS --output OUTPUT`` in one environment per requirement set.

    Parameters
    ----------
    envs : sequence of str or of sequences of str
        Requirement sets: ``"scikit-learn==1.7.2 numpy<2.3"`` or
        ``["scikit-learn==1.7.2", "numpy<2.3"]``.
    run_args : sequence of str
        Options of ``mnist-classic run`` (not ``--output``), the same in every environment.
    output : path
        The one CSV every environment appends to.
    cache_dir, project, installer, build_timeout
        Passed to :func:`.envs.build_env` (``build_timeout`` as its ``timeout``).
    run_timeout : float or None, default=None
        Seconds allowed for each environment's run.
    command : str, default=""
        The command line, recorded in the log.
    on_env : callable (EnvOutcome) -> None, optional
        Called as each environment ends.
    on_output : callable (str) -> None, optional
        Called with each line the runs print.

    Returns
    -------
    MatrixResult

    Raises
    ------
    ValueError
        No environment, a malformed requirement set, or ``--output`` among ``run_args``.
    """
    sets = [parse_env_spec(e) for e in envs]
    if not sets:
        msg = "The '--env' option must be given at least once, e.g. --env 'scikit-learn==1.6.1'. Got none."
        raise ValueError(msg)
    if any(a in ("--output", "-o") or a.startswith("--output=") for a in run_args):
        msg = "The run options of a matrix must not hold --output: give it to the matrix itself."
        raise ValueError(msg)
    out = Path(output)
    log = matrix_log_path(out)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    outcomes: list[EnvOutcome] = []
    try:
        _run_each(
            sets, run_args, out, outcomes, cache_dir, project, installer, build_timeout, run_timeout, on_env, on_output
        )
    finally:  # an interrupted matrix still records the environments that ended
        entry = {
            "started_at": started,
            "command": command,
            "run_args": list(run_args),
            "output": str(out),
            "envs": [asdict(o) for o in outcomes],
        }
        append_log(log, entry)
    return MatrixResult(outcomes, out, log)


def _run_each(
    sets: list[list[str]],
    run_args: Sequence[str],
    out: Path,
    outcomes: list[EnvOutcome],
    cache_dir: str | os.PathLike[str] | None,
    project: str | os.PathLike[str] | None,
    installer: str,
    build_timeout: float | None,
    run_timeout: float | None,
    on_env: Callable[[EnvOutcome], None] | None,
    on_output: Callable[[str], None] | None,
) -> None:
    for reqs in sets:
        t0 = time.perf_counter()
        try:
            env = build_env(reqs, cache_dir=cache_dir, project=project, installer=installer, timeout=build_timeout)
        except (EnvBuildError, ValueError) as exc:
            outcome = EnvOutcome(reqs, "build-failed", str(exc).splitlines()[0], seconds=time.perf_counter() - t0)
        else:
            code, lines = _run_in(env.python, run_args, out, on_output, run_timeout)
            status = {0: "ok", 1: "cases-failed"}.get(code, "run-failed")
            outcome = EnvOutcome(
                reqs,
                status,
                "" if code == 0 else failure_cause(lines),
                exit_code=code,
                env=str(env.path),
                versions=dict(env.versions),
                seconds=time.perf_counter() - t0,
            )
        outcomes.append(outcome)
        if on_env is not None:
            on_env(outcome)
