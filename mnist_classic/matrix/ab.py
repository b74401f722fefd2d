"""A/B rounds: the same run in two environments, round after round, paired in one CSV.

:func:`run_ab` builds (or reuses) the environment of each side with
:func:`.envs.build_env`, exactly as ``matrix`` does, then runs ``python -I -m
mnist_classic run ARGS --repeats 1 --side base|new --ab-round K --output CSV``
in each, ``rounds`` times. Both sides of a round use the same seed, so their
rows pair up by case and round (the ``side`` and ``ab_round`` columns).

Two ways to run a round:

- ``interleave`` (randomized multiple interleaved trials, Abedi & Brecht,
  ICPE 2017): the two sides one after the other, in an order drawn at random
  in each round, so that a drift of the machine's speed hits both sides alike;
- ``duet`` (Bulej et al., 2020): both sides at the same time, each pinned to a
  core of its own (``os.sched_setaffinity``, where the platform has it; the
  cores are swapped at random between rounds) and one-threaded
  (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` = 1), so
  that whatever else the machine does meanwhile slows both.

The order (or core) of each round is drawn from ``order_seed`` and recorded,
with each run's exit status and wall time, in ``<stem>.ab.json`` beside the
CSV. Both environments are built before any run starts: a build that fails
raises :class:`.envs.EnvBuildError` and nothing is written. A run that stops
with a status other than 0 or 1 (a bad option in one environment, say) stops
the rounds: in the first round the files this call created are removed.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .envs import Env, build_env
from .run import append_log, collect_run, failure_cause, parse_env_spec, start_run

__all__ = ["MODES", "ABResult", "ABRunError", "RoundOutcome", "ab_log_path", "round_plan", "run_ab"]

logger = logging.getLogger(__name__)

#: How the two sides of a round run: one after the other in random order, or both at once, one per core.
MODES = ("interleave", "duet")
SIDES = ("base", "new")
#: Run options that ``ab`` sets itself (or that would break the pairing of rounds).
_OWN_OPTIONS = ("--output", "-o", "--repeats", "--side", "--ab-round", "--resume")
#: Exit statuses of a run stopped by Ctrl-C: its own (130), or killed by SIGINT.
_INTERRUPTED = (130, -signal.SIGINT)
_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


class ABRunError(RuntimeError):
    """A side's run stopped with a status other than 0 or 1; the message is one line (the run's cause)."""


@dataclass
class RoundOutcome:
    """One round: the order the sides started in (or their cores) and how each run ended.

    Attributes
    ----------
    round : int
        1, 2, ...
    order : list of str
        ``interleave``: the sides in the order they ran. ``duet``: base first, new second.
    cores : dict
        ``duet``: side -> the core it was pinned to (empty when not pinned).
    exit_codes, seconds : dict
        side -> the run's exit status, and its wall time.
    """

    round: int
    order: list[str]
    cores: dict[str, int] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class ABResult:
    """The rounds that ran, the environments, and where the rows and the log went."""

    rounds: list[RoundOutcome]
    envs: dict[str, Env]
    output: Path
    log: Path
    order_seed: int


def ab_log_path(output: str | os.PathLike[str]) -> Path:
    """``results/x.csv`` -> ``results/x.ab.json``."""
    return Path(output).with_suffix(".ab.json")


def round_plan(rounds: int, mode: str, order_seed: int, cores: Sequence[int]) -> list[RoundOutcome]:
    """The order (interleave) or the cores (duet) of every round, drawn from ``order_seed``.

    Examples
    --------
    >>> [r.order for r in round_plan(3, "interleave", 1, [0, 1])]
    [['new', 'base'], ['new', 'base'], ['base', 'new']]
    >>> [r.cores for r in round_plan(3, "duet", 1, [0, 1])]
    [{'base': 1, 'new': 0}, {'base': 1, 'new': 0}, {'base': 0, 'new': 1}]
    """
    rng = random.Random(order_seed)  # noqa: S311 (an order of runs, not a secret)
    plan = []
    for k in range(1, rounds + 1):
        order = list(SIDES)
        rng.shuffle(order)
        if mode == "interleave":
            plan.append(RoundOutcome(k, order))
        else:
            pinned = dict(zip(order, cores[:2], strict=False)) if len(cores) >= 2 else {}
            plan.append(RoundOutcome(k, list(SIDES), cores={s: pinned[s] for s in SIDES if s in pinned}))
    return plan


def _check(rounds: int, mode: str, run_args: Sequence[str]) -> None:
    if mode not in MODES:
        msg = f"The '--mode' option must be one of {', '.join(MODES)}. Got {mode!r} instead."
        raise ValueError(msg)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 2:
        msg = (
            "The '--rounds' option must be an integer >= 2 (a paired interval needs two rounds). "
            f"Got {rounds!r} instead."
        )
        raise ValueError(msg)
    for a in run_args:
        if a.split("=", 1)[0] in _OWN_OPTIONS:
            msg = (
                f"The run options of ab must not hold {a.split('=', 1)[0]}: ab runs each side once per round "
                "(--repeats 1, --side, --ab-round) into its own --output."
            )
            raise ValueError(msg)
        if mode == "duet" and a.split("=", 1)[0] == "--n-jobs":
            msg = "The run options of ab --mode duet must not hold --n-jobs: each side has one core."
            raise ValueError(msg)


def _created(output: Path) -> list[Path]:
    """The files and folders a run writes for ``output``: the CSV, its lock and its sidecars."""
    return [
        output,
        Path(f"{output}.lock"),
        output.with_suffix(".predictions"),
        output.with_suffix(".configs"),
        ab_log_path(output),
    ]


def _remove(paths: Sequence[Path]) -> None:
    for p in paths:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif p.exists():
            p.unlink()


def _side_args(run_args: Sequence[str], side: str, k: int) -> list[str]:
    return [*run_args, "--repeats", "1", "--side", side, "--ab-round", str(k)]


def _one_thread_env() -> dict[str, str]:
    return {**os.environ, **dict.fromkeys(_ONE_THREAD, "1")}


def _pin(proc: subprocess.Popen[str], core: int | None) -> None:
    if core is None or not hasattr(os, "sched_setaffinity"):
        return
    try:  # pinned as it starts: the threads it makes later inherit the mask
        os.sched_setaffinity(proc.pid, {core})
    except OSError as exc:  # it ended already, or the core was taken away
        logger.warning("Could not pin run %d to core %d: %s", proc.pid, core, exc)


def _rounds(
    plan: list[RoundOutcome],
    envs: dict[str, Env],
    run_args: Sequence[str],
    output: Path,
    mode: str,
    run_timeout: float | None,
    on_output: Callable[[str, str], None] | None,
    on_round: Callable[[RoundOutcome], None] | None,
    done: list[RoundOutcome],
) -> None:
    def echo(side: str) -> Callable[[str], None] | None:
        return None if on_output is None else (lambda line: on_output(side, line))

    for r in plan:
        lines: dict[str, list[str]] = {}
        if mode == "interleave":
            for side in r.order:
                t0 = time.perf_counter()
                proc = start_run(envs[side].python, _side_args(run_args, side, r.round), output)
                try:
                    r.exit_codes[side], lines[side] = collect_run(proc, echo(side), run_timeout)
                except BaseException:  # Ctrl-C: stop the run too (its finished cases are written)
                    _stop([proc])
                    raise
                r.seconds[side] = round(time.perf_counter() - t0, 3)
                if r.exit_codes[side] in _INTERRUPTED:
                    raise KeyboardInterrupt  # Ctrl-C reached the run first
                if r.exit_codes[side] not in (0, 1):
                    break  # the other side need not run: this round stops here
        else:
            _duet(r, envs, run_args, output, run_timeout, echo, lines)
        if any(r.exit_codes.get(s) in _INTERRUPTED for s in SIDES):
            raise KeyboardInterrupt  # Ctrl-C reached the runs first: the round is not complete
        failed = [s for s in SIDES if s in r.exit_codes and r.exit_codes[s] not in (0, 1)]
        if failed:
            side = failed[0]
            msg = f"the {side} side's run of round {r.round} exited with {r.exit_codes[side]}: "
            msg += failure_cause(lines[side])
            done.append(r)
            raise ABRunError(msg)
        done.append(r)
        if on_round is not None:
            on_round(r)


def _duet(
    r: RoundOutcome,
    envs: dict[str, Env],
    run_args: Sequence[str],
    output: Path,
    run_timeout: float | None,
    echo: Callable[[str], Callable[[str], None] | None],
    lines: dict[str, list[str]],
) -> None:
    """Both sides at once, each on its core; their outputs read by one thread each (a pipe left unread blocks)."""
    procs, threads = {}, []
    t0 = time.perf_counter()
    try:
        for side in SIDES:
            procs[side] = start_run(
                envs[side].python, _side_args(run_args, side, r.round), output, env=_one_thread_env()
            )
            _pin(procs[side], r.cores.get(side))

        def read(side: str) -> None:
            r.exit_codes[side], lines[side] = collect_run(procs[side], echo(side), run_timeout)
            r.seconds[side] = round(time.perf_counter() - t0, 3)

        for side in SIDES:
            threads.append(threading.Thread(target=read, args=(side,), daemon=True))
            threads[-1].start()
        for t in threads:
            t.join()
    except BaseException:  # Ctrl-C: stop both sides; the rows they wrote stay
        _stop(list(procs.values()))
        raise


def _stop(procs: list[subprocess.Popen[str]]) -> None:
    """Terminate runs still going (killed if they do not end within 10 s)."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_ab(
    base: str | Sequence[str],
    new: str | Sequence[str],
    run_args: Sequence[str],
    output: str | os.PathLike[str],
    *,
    rounds: int = 10,
    mode: str = "interleave",
    order_seed: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    project: str | os.PathLike[str] | None = None,
    installer: str = "auto",
    build_timeout: float | None = 1800,
    run_timeout: float | None = None,
    command: str = "",
    on_round: Callable[[RoundOutcome], None] | None = None,
    on_output: Callable[[str, str], None] | None = None,
    max_rounds: int | None = None,
    max_time: float | None = None,
    more: Callable[[int], bool] | None = None,
) -> ABResult:
    """Run ``mnist-classic run RUN_ARGS`` in the base and the new environment, ``rounds`` times, into one CSV.

    Sequential rounds: with ``max_rounds`` (and ``more``), after the first
    ``rounds`` rounds and after each further batch of ``rounds``, ``more(look)``
    (look 1, 2, ...) says whether to run another batch; none starts past
    ``max_rounds`` rounds in all or once ``max_time`` seconds have passed.

    Parameters
    ----------
    base, new : str or sequence of str
        Requirement sets, as ``matrix --env`` takes them: ``"scikit-learn==1.7.2"``,
        a local path to a package, a git URL; several separated by spaces.
    run_args : sequence of str
        Options of ``mnist-classic run``, the same on both sides; not ``--output``,
        ``--repeats``, ``--resume`` (nor ``--n-jobs`` in ``duet``).
    output : path
        A CSV that does not exist yet: both sides' rows go there.
    rounds : int, default=10
        Rounds (at least 2); each runs both sides once.
    mode : {"interleave", "duet"}, default="interleave"
    order_seed : int or None, default=None
        Seed of the order (interleave) or the cores (duet) of the rounds; None
        draws one. Recorded in the log.
    cache_dir, project, installer, build_timeout
        Passed to :func:`.envs.build_env`, as ``matrix`` does.
    run_timeout : float or None, default=None
        Seconds allowed for each side's run.
    command : str, default=""
        The command line, recorded in the log.
    on_round : callable (RoundOutcome) -> None, optional
        Called as each round ends.
    on_output : callable (side, line) -> None, optional
        Called with each line the runs print.
    max_rounds : int or None, default=None
        Rounds in all at most (>= ``rounds``); None: ``rounds``, no further batch.
    max_time : float or None, default=None
        Seconds after which no further batch starts (the batch running ends).
    more : callable (look) -> bool, optional
        Asked after each batch whether another is needed (``ab`` judges the rows so far).

    Returns
    -------
    ABResult

    Raises
    ------
    ValueError
        A bad option, or ``output`` exists already.
    EnvBuildError
        An environment could not be built (nothing was written).
    ABRunError
        A run stopped with a status other than 0 or 1 (in the first round,
        the files written are removed).
    """
    sets = {"base": parse_env_spec(base), "new": parse_env_spec(new)}
    _check(rounds, mode, run_args)
    if max_rounds is not None and (
        isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < rounds
    ):
        msg = f"The '--max-rounds' option must be an integer >= --rounds ({rounds}). Got {max_rounds!r} instead."
        raise ValueError(msg)
    if max_time is not None and not max_time > 0:
        msg = f"The '--max-time' option must be a number of seconds > 0. Got {max_time!r} instead."
        raise ValueError(msg)
    out = Path(output)
    if out.exists() or ab_log_path(out).exists():
        msg = (
            f"The '--output' option of ab must name a new CSV (the rounds of one ab pair up in it). "
            f"{out} exists: judge it with 'mnist-classic ab --results {out}' or choose another."
        )
        raise ValueError(msg)
    seed = random.SystemRandom().randrange(2**31) if order_seed is None else int(order_seed)
    envs: dict[str, Env] = {}
    for side in SIDES:  # both built before anything is written
        envs[side] = build_env(
            sets[side], cache_dir=cache_dir, project=project, installer=installer, timeout=build_timeout
        )
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    # Every round that may run is drawn at once: the first ``rounds`` are the same as without more.
    plan = round_plan(max_rounds or rounds, mode, seed, cores)
    created = [p for p in _created(out) if not p.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    done: list[RoundOutcome] = []
    log = ab_log_path(out)
    try:
        t0, ran, look = time.perf_counter(), 0, 0
        while ran < len(plan):
            if ran:  # a further batch: only while asked for and within the budgets
                look += 1
                late = max_time is not None and time.perf_counter() - t0 >= max_time
                if more is None or late or not more(look):
                    break
            batch = plan[ran : ran + rounds]
            _rounds(batch, envs, run_args, out, mode, run_timeout, on_output, on_round, done)
            ran += len(batch)
    except BaseException as exc:
        if isinstance(exc, ABRunError) and len(done) == 1:
            _remove(created)  # nothing worth keeping: one round, half of it
            raise
        _write_log(log, started, command, run_args, out, mode, seed, sets, envs, done)
        raise
    _write_log(log, started, command, run_args, out, mode, seed, sets, envs, done)
    return ABResult(done, envs, out, log, seed)


def _write_log(
    log: Path,
    started: str,
    command: str,
    run_args: Sequence[str],
    out: Path,
    mode: str,
    seed: int,
    sets: dict[str, list[str]],
    envs: dict[str, Env],
    done: list[RoundOutcome],
) -> None:
    entry: dict[str, Any] = {
        "started_at": started,
        "command": command,
        "run_args": list(run_args),
        "output": str(out),
        "mode": mode,
        "order_seed": seed,
        "sides": {
            s: {"requirements": sets[s], "env": str(envs[s].path), "versions": dict(envs[s].versions)} for s in SIDES
        },
        "rounds": [asdict(r) for r in done],
    }
    append_log(log, entry, key="ab_runs")
