"""A/B rounds: the same run in two environments, round after round, paired in one CSV.

:func:`run_ab` builds (or reuses) the environment of each side with
:func:`.envs.build_env`, exactly as ``matrix`` does, then runs ``python -I -m
mnist_classic run ARGS --repeats M --side base|new --ab-round K --output CSV``
in each, ``processes`` times per side in each of ``rounds`` rounds (``M``:
``measurements``, the repeats inside one process). Both sides of a round use the
same seeds, so their rows pair up by case and round (the ``side`` and
``ab_round`` columns; the runs of one side by ``run_id``, the measurements by
``repeat``).

Two ways to run a round:

- ``interleave`` (randomized multiple interleaved trials, Abedi & Brecht,
  ICPE 2017): the ``2 * processes`` runs of a round one after the other, in an
  order drawn at random in each round, so that a drift of the machine's speed
  hits both sides alike;
- ``duet`` (Bulej et al., 2020): both sides at the same time, each pinned to a
  core of its own (``os.sched_setaffinity``, where the platform has it; the
  cores are swapped at random between rounds, and between the ``processes``
  consecutive duets of a round every other duet) and one-threaded
  (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` = 1), so
  that whatever else the machine does meanwhile slows both. Each side's
  ``others_cores`` leaves the other side out (``MNIST_CLASSIC_DUET``, read by
  :class:`~mnist_classic.measure.machine.MachineWatch`): only a third process
  makes a duet's times "machine busy".

The order (or core) of each round is drawn from ``order_seed`` and recorded,
with each run's exit status and wall time, in ``<stem>.ab.json`` beside the
CSV. Both environments are built before any run starts: a build that fails
raises :class:`.envs.EnvBuildError` and nothing is written. A run that stops
with a status other than 0 or 1 (a bad option in one environment, say) stops
the rounds: in the first round the files this call created are removed.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..measure.machine import DUET_ENV
from .envs import Env, build_env
from .run import append_log, collect_run, failure_cause, parse_env_spec, start_run

__all__ = [
    "MODES",
    "ABResult",
    "ABRunError",
    "RoundOutcome",
    "ab_log_path",
    "auto_mode",
    "round_plan",
    "run_ab",
    "run_seconds",
]

logger = logging.getLogger(__name__)

#: How the two sides of a round run: one after the other in random order, or both at once, one per core.
MODES = ("interleave", "duet")
#: Run options that ask for more than one core per side: ``ab --mode auto`` interleaves when they are given.
_PARALLEL_OPTIONS = ("--n-jobs", "--threads", "--scheduler", "--cluster", "--cluster-jobs")
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
    """One round: the order the runs started in (or their cores) and how each run ended.

    Each run has a key: its side with one process per side, ``side#i`` (i = 1, 2, ...,
    the side's i-th run in the round) with several (:meth:`runs`).

    Attributes
    ----------
    round : int
        1, 2, ...
    order : list of str
        The side of each run, in the order they started; ``2 * processes`` of them.
        ``interleave``: drawn at random. ``duet``: base, new, for each duet.
    cores : dict
        ``duet``: run key -> the core it was pinned to (empty when not pinned).
    exit_codes, seconds : dict
        run key -> the run's exit status, and its wall time.
    """

    round: int
    order: list[str]
    cores: dict[str, int] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def processes(self) -> int:
        """Runs per side in this round."""
        return max(1, len(self.order) // 2)

    def runs(self) -> list[tuple[str, str]]:
        """``(side, key)`` of each run in the order they start.

        Examples
        --------
        >>> RoundOutcome(1, ["new", "base"]).runs()
        [('new', 'new'), ('base', 'base')]
        >>> RoundOutcome(1, ["new", "base", "base", "new"]).runs()
        [('new', 'new#1'), ('base', 'base#1'), ('base', 'base#2'), ('new', 'new#2')]
        """
        seen: Counter[str] = Counter()
        out = []
        for side in self.order:
            seen[side] += 1
            out.append((side, _key(side, seen[side], self.processes)))
        return out


def _key(side: str, i: int, processes: int) -> str:
    return side if processes == 1 else f"{side}#{i}"


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


def round_plan(rounds: int, mode: str, order_seed: int, cores: Sequence[int], processes: int = 1) -> list[RoundOutcome]:
    """The order (interleave) or the cores (duet) of every round, drawn from ``order_seed``.

    ``interleave``: the ``2 * processes`` runs of a round (``processes`` per side) in
    a random order. ``duet``: ``processes`` duets, base and new at once; the round's
    two cores are drawn at random and swapped on every other duet, so that with
    an even ``processes`` each side spends as many duets on each core. With one
    process the draws are those of earlier versions (one shuffle per round).

    Examples
    --------
    >>> [r.order for r in round_plan(3, "interleave", 1, [0, 1])]
    [['new', 'base'], ['new', 'base'], ['base', 'new']]
    >>> [r.cores for r in round_plan(3, "duet", 1, [0, 1])]
    [{'base': 1, 'new': 0}, {'base': 1, 'new': 0}, {'base': 0, 'new': 1}]
    >>> round_plan(1, "interleave", 1, [0, 1], processes=2)[0].order
    ['new', 'base', 'new', 'base']
    >>> round_plan(1, "duet", 1, [0, 1], processes=2)[0].cores
    {'base#1': 1, 'new#1': 0, 'base#2': 0, 'new#2': 1}
    """
    rng = random.Random(order_seed)  # noqa: S311 (an order of runs, not a secret)
    plan = []
    for k in range(1, rounds + 1):
        if mode == "interleave":
            order = [s for s in SIDES for _ in range(processes)]
            rng.shuffle(order)
            plan.append(RoundOutcome(k, order))
            continue
        order = list(SIDES)
        rng.shuffle(order)
        pinned = dict(zip(order, cores[:2], strict=False)) if len(cores) >= 2 else {}
        placed: dict[str, int] = {}
        for i in range(1, processes + 1):
            for s, other in zip(SIDES, reversed(SIDES), strict=True):
                core = pinned.get(s if i % 2 else other)
                if core is not None:
                    placed[_key(s, i, processes)] = core
        plan.append(RoundOutcome(k, list(SIDES) * processes, cores=placed))
    return plan


def _check(rounds: int, mode: str, run_args: Sequence[str], processes: int = 1, measurements: int = 1) -> None:
    if mode not in MODES:
        msg = f"The '--mode' option must be one of {', '.join(MODES)}. Got {mode!r} instead."
        raise ValueError(msg)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 2:
        msg = (
            "The '--rounds' option must be an integer >= 2 (a paired interval needs two rounds). "
            f"Got {rounds!r} instead."
        )
        raise ValueError(msg)
    for name, value in (("--processes", processes), ("--measurements", measurements)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            msg = f"The '{name}' option must be an integer >= 1. Got {value!r} instead."
            raise ValueError(msg)
    for a in run_args:
        if a.split("=", 1)[0] in _OWN_OPTIONS:
            msg = (
                f"The run options of ab must not hold {a.split('=', 1)[0]}: ab sets them on each run "
                "(--repeats from --measurements, --side, --ab-round) into its own --output."
            )
            raise ValueError(msg)
        if mode == "duet" and a.split("=", 1)[0] == "--n-jobs":
            msg = "The run options of ab --mode duet must not hold --n-jobs: each side has one core."
            raise ValueError(msg)


def available_cores() -> list[int]:
    """The cores this process may run on (none known where the platform cannot say): a duet pins a side to each."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def auto_mode(run_args: Sequence[str], cores: Sequence[int] | None = None) -> str:
    """The mode ``ab --mode auto`` (the default) runs: ``duet`` where it can, else ``interleave``.

    Duets pair the two sides closest in time: on the 2-core Intel Xeon of docs/speed.md their
    A/A intervals were about six times narrower per minute than interleaved rounds' (on an
    AMD EPYC, as narrow). A duet needs two cores and makes each side one-threaded, so a
    machine with one core available, or run options that ask for more than one core a side
    (``--n-jobs``, ``--threads``, ``--scheduler``, ``--cluster``, ``--cluster-jobs``), get
    ``interleave``, whose runs keep the threads they ask for. ``cores``: default
    :func:`available_cores`.

    Examples
    --------
    >>> auto_mode(["--pipelines", "svm"], [0, 1]), auto_mode(["--threads=all"], [0, 1]), auto_mode([], [3])
    ('duet', 'interleave', 'interleave')
    """
    asks_cores = any(a.split("=", 1)[0] in _PARALLEL_OPTIONS for a in run_args)
    return "duet" if len(available_cores() if cores is None else cores) >= 2 and not asks_cores else "interleave"


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
    """``run_args`` hold ``--repeats M`` already (:func:`run_ab` adds it)."""
    return [*run_args, "--side", side, "--ab-round", str(k)]


def _duet_env() -> dict[str, str]:
    """A duet side's environment: one thread, and told that the other side runs beside it (not a neighbour's load)."""
    return {**os.environ, **dict.fromkeys(_ONE_THREAD, "1"), DUET_ENV: "1"}


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
    def echo(key: str) -> Callable[[str], None] | None:
        return None if on_output is None else (lambda line: on_output(key, line))

    for r in plan:
        lines: dict[str, list[str]] = {}
        runs = r.runs()
        if mode == "interleave":
            for side, key in runs:
                t0 = time.perf_counter()
                proc = start_run(envs[side].python, _side_args(run_args, side, r.round), output)
                try:
                    r.exit_codes[key], lines[key] = collect_run(proc, echo(key), run_timeout)
                except BaseException:  # Ctrl-C: stop the run too (its finished cases are written)
                    _stop([proc])
                    raise
                r.seconds[key] = round(time.perf_counter() - t0, 3)
                if r.exit_codes[key] in _INTERRUPTED:
                    raise KeyboardInterrupt  # Ctrl-C reached the run first
                if r.exit_codes[key] not in (0, 1):
                    break  # the other runs need not run: this round stops here
        else:
            for pair in _pairs_of(runs):
                _duet(r, pair, envs, run_args, output, run_timeout, echo, lines)
                if any(r.exit_codes.get(key) not in (0, 1) for _, key in pair):
                    break  # a failed (or interrupted) duet: the round stops here
        if any(r.exit_codes.get(key) in _INTERRUPTED for _, key in runs):
            raise KeyboardInterrupt  # Ctrl-C reached the runs first: the round is not complete
        failed = [(side, key) for side, key in runs if key in r.exit_codes and r.exit_codes[key] not in (0, 1)]
        if failed:
            side, key = failed[0]
            which = "" if r.processes == 1 else f" (process {key.split('#')[1]} of {r.processes})"
            msg = f"the {side} side's run of round {r.round}{which} exited with {r.exit_codes[key]}: "
            msg += failure_cause(lines[key])
            done.append(r)
            raise ABRunError(msg)
        done.append(r)
        if on_round is not None:
            on_round(r)


def _pairs_of(runs: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """The duets of a round: its runs two by two (``itertools.batched``, before Python 3.12)."""
    return [runs[i : i + 2] for i in range(0, len(runs), 2)]


def _duet(
    r: RoundOutcome,
    pair: list[tuple[str, str]],
    envs: dict[str, Env],
    run_args: Sequence[str],
    output: Path,
    run_timeout: float | None,
    echo: Callable[[str], Callable[[str], None] | None],
    lines: dict[str, list[str]],
) -> None:
    """One duet: both sides' runs ``pair`` at once, each on its core; their outputs read by one thread each."""
    procs, threads = {}, []
    t0 = time.perf_counter()
    try:
        for side, key in pair:
            procs[key] = start_run(envs[side].python, _side_args(run_args, side, r.round), output, env=_duet_env())
            _pin(procs[key], r.cores.get(key))

        def read(key: str) -> None:  # a pipe left unread blocks its run
            r.exit_codes[key], lines[key] = collect_run(procs[key], echo(key), run_timeout)
            r.seconds[key] = round(time.perf_counter() - t0, 3)

        for _, key in pair:
            threads.append(threading.Thread(target=read, args=(key,), daemon=True))
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
    processes: int = 1,
    measurements: int = 1,
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
        Rounds (at least 2); each runs both sides ``processes`` times.
    mode : {"interleave", "duet"}, default="interleave"
    processes : int, default=1
        Runs (processes) per side in each round: ``interleave``, the ``2 * processes``
        runs of a round in a random order; ``duet``, ``processes`` consecutive duets.
    measurements : int, default=1
        Measurements inside each run: passed to it as ``--repeats``.
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
    on_output : callable (key, line) -> None, optional
        Called with each line the runs print; ``key`` is the run's side (``side#i``
        with several processes, :meth:`RoundOutcome.runs`).
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
    _check(rounds, mode, run_args, processes, measurements)
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
    cores = available_cores()
    # Every round that may run is drawn at once: the first ``rounds`` are the same as without more.
    n_looks = looks(rounds, max_rounds)
    plan = round_plan(max_rounds or rounds, mode, seed, cores, processes)
    args = [*run_args, "--repeats", str(measurements)]
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
            _rounds(batch, envs, args, out, mode, run_timeout, on_output, on_round, done)
            ran += len(batch)
    except BaseException as exc:
        if isinstance(exc, ABRunError) and len(done) == 1:
            _remove(created)  # nothing worth keeping: one round, half of it
            raise
        _write_log(
            log, started, command, run_args, out, mode, (processes, measurements), seed, sets, envs, done, n_looks
        )
        raise
    _write_log(log, started, command, run_args, out, mode, (processes, measurements), seed, sets, envs, done, n_looks)
    return ABResult(done, envs, out, log, seed)


def looks(rounds: int, max_rounds: int | None) -> int:
    """How many times sequential rounds may look at the data: after the first batch and each further one.

    Examples
    --------
    >>> looks(10, None), looks(10, 10), looks(5, 20), looks(5, 22)
    (1, 1, 4, 5)
    """
    return 1 if max_rounds is None else -(-max_rounds // rounds)


def _write_log(
    log: Path,
    started: str,
    command: str,
    run_args: Sequence[str],
    out: Path,
    mode: str,
    repetition: tuple[int, int],
    seed: int,
    sets: dict[str, list[str]],
    envs: dict[str, Env],
    done: list[RoundOutcome],
    n_looks: int = 1,
) -> None:
    entry: dict[str, Any] = {
        "started_at": started,
        "command": command,
        "run_args": list(run_args),
        "output": str(out),
        "mode": mode,
        "processes": repetition[0],
        "measurements": repetition[1],
        "order_seed": seed,
        "looks": n_looks,  # alpha is split over them: ab --results judges at the same alpha
        "sides": {
            s: {"requirements": sets[s], "env": str(envs[s].path), "versions": dict(envs[s].versions)} for s in SIDES
        },
        "rounds": [asdict(r) for r in done],
    }
    append_log(log, entry, key="ab_runs")


def _log_entries(output: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The entries an ab logged for ``output`` (none when there is no readable log)."""
    try:
        doc = json.loads(ab_log_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    entries = doc.get("ab_runs", []) if isinstance(doc, dict) else []
    return [e for e in entries if isinstance(e, dict)]


def ab_mode(output: str | os.PathLike[str]) -> str:
    """How the ab logged for ``output`` ran its rounds: ``duet`` if any of its runs did, else ``interleave``.

    A file some of whose rounds ran as duets is judged on the duet's stricter
    busy line throughout; with no readable log, ``interleave``.

    Examples
    --------
    >>> ab_mode("no/such/ab.csv")
    'interleave'
    """
    return "duet" if any(e.get("mode") == "duet" for e in _log_entries(output)) else "interleave"


def logged_looks(output: str | os.PathLike[str]) -> int:
    """The most looks any ab logged for ``output`` planned (1 with no readable log, or a log from before they were).

    ``ab --results`` splits alpha over them, as the ab did when it printed its verdicts.

    Examples
    --------
    >>> logged_looks("no/such/ab.csv")
    1
    """
    found = [e.get("looks") for e in _log_entries(output)]
    return max([int(n) for n in found if isinstance(n, int) and not isinstance(n, bool) and n >= 1], default=1)


def run_seconds(output: str | os.PathLike[str]) -> list[float]:
    """The wall seconds of every run an ab logged for ``output`` (none when there is no readable log).

    Examples
    --------
    >>> run_seconds("no/such/ab.csv")
    []
    """
    return [
        float(v)
        for e in _log_entries(output)
        for r in e.get("rounds", [])
        if isinstance(r, dict) and isinstance(r.get("seconds"), dict)
        for v in r["seconds"].values()
        if isinstance(v, (int, float))
    ]
