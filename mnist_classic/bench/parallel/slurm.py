"""Cases on SLURM batch jobs: a ``dask_jobqueue.SLURMCluster`` checked, started, watched and always cancelled.

``run --cluster slurm --cluster-jobs N`` asks for ``N`` jobs, each one Dask
worker with one thread (one case at a time) on the job's ``cores`` CPUs: the
case's thread budget. The Dask backend (:mod:`.backends`) then runs the cases
on them as it runs them on any Dask cluster. This module holds what SLURM adds:

- :func:`check_slurm`: before any job, dask-jobqueue importable, ``sbatch`` on
  the PATH, and the job's directives accepted by SLURM itself
  (``sbatch --test-only``: the partition exists, the walltime is one it takes);
- :func:`start_cluster`: the cluster, scaled to the jobs asked for;
- :class:`JobWatch`: a job that ended (``scancel``, walltime, node failure) is
  replaced, up to a limit, so that the cases Dask moved off it find a worker;
- :func:`unreadable`: run on a worker before any case, the first data path it
  cannot read;
- :func:`stop_cluster`: the cluster closed, then any job of it still in
  ``squeue`` cancelled (at the end, on Ctrl-C and on errors).

dask-jobqueue is the well-kept way to put Dask workers on batch jobs (the job
script, its submission and cancellation are its own); only the checks and the
replacement of dead jobs are written here.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...spec.cluster import ClusterSpec, walltime_seconds

__all__ = ["JOB_ID_ENV", "JobWatch", "check_slurm", "start_cluster", "stop_cluster", "unreadable"]

logger = logging.getLogger(__name__)

#: The environment variable holding a worker's SLURM job id (recorded in each row's ``cluster_job_id``).
JOB_ID_ENV = "SLURM_JOB_ID"
_JOB_NAME = "mnist-classic"


def _directives(spec: ClusterSpec) -> list[str]:
    """The sbatch options a job of ``spec`` is submitted with (as dask-jobqueue writes them)."""
    out = [f"--cpus-per-task={spec.cores}", f"--mem={_slurm_memory(spec.memory)}", f"--time={spec.walltime}"]
    if spec.queue:
        out.append(f"--partition={spec.queue}")
    if spec.account:
        out.append(f"--account={spec.account}")
    return out + list(spec.extra)


def _slurm_memory(memory: str) -> str:
    """``memory`` in whole megabytes, as dask-jobqueue gives it to ``--mem``."""
    from dask.utils import parse_bytes

    return f"{max(1, round(parse_bytes(memory) / 2**20))}M"


def _jobqueue() -> Any:
    """dask_jobqueue, imported keeping this process's Ctrl-C.

    Importing it sets a SIGINT handler that calls ``sys.exit()`` (for its own
    runner scripts): in a run, Ctrl-C would then end the process with status 0
    instead of stopping the run (KeyboardInterrupt: rows kept, jobs
    cancelled, status 130). The handler found before the import is put back.
    """
    previous = signal.getsignal(signal.SIGINT)
    try:
        import dask_jobqueue
    except ImportError:
        msg = 'The \'cluster\' parameter "slurm" needs dask-jobqueue: pip install "mnist-classic[slurm]"'
        raise ValueError(msg) from None
    finally:
        if previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, previous)
    return dask_jobqueue


def check_slurm(spec: ClusterSpec) -> None:
    """Check that jobs of ``spec`` can be submitted here, before any is.

    Raises
    ------
    ValueError
        dask-jobqueue is not installed (how to install it), ``sbatch`` is not
        on the PATH, or SLURM refuses the job's directives (``sbatch
        --test-only``: an unknown partition or account, a walltime it does
        not take, more CPUs or memory than a node has), in one line.
    """
    _jobqueue()
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        msg = "The 'cluster' parameter \"slurm\" needs SLURM's sbatch on the PATH; no sbatch was found"
        raise ValueError(msg)
    cmd = [sbatch, "--test-only", f"--job-name={_JOB_NAME}", *_directives(spec), "--wrap=true"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"sbatch --test-only did not answer ({exc}): is slurmctld running?"
        raise ValueError(msg) from None
    if done.returncode != 0:
        lines = [line.strip().removeprefix("sbatch: error: ") for line in done.stderr.splitlines() if line.strip()]
        reason = "; ".join(lines) if lines else f"exit {done.returncode}"
        msg = f"SLURM refuses the cluster's jobs ({' '.join(_directives(spec))}): {reason}"
        raise ValueError(msg)
    _check_time_limit(spec)


def _check_time_limit(spec: ClusterSpec) -> None:
    """A walltime past the partition's limit: sbatch accepts the job, which then waits for ever; refuse it here."""
    sinfo = shutil.which("sinfo")
    if sinfo is None:
        return
    try:
        done = subprocess.run([sinfo, "-h", "-o", "%P %l"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return
    limits: dict[str | None, tuple[str | None, str]] = {}
    for line in done.stdout.splitlines():
        name, _, limit = line.strip().partition(" ")
        if name.endswith("*"):
            limits[None] = (name[:-1], limit)
            name = name[:-1]
        limits[name] = (name, limit)
    partition, limit = limits.get(spec.queue, (spec.queue, ""))
    allowed = walltime_seconds(limit)
    asked = walltime_seconds(spec.walltime)
    if allowed is not None and asked is not None and asked > allowed:
        msg = (
            f"The 'cluster.walltime' parameter must be at most partition {partition}'s time limit {limit}. "
            f"Got {spec.walltime!r} instead."
        )
        raise ValueError(msg)


def start_cluster(spec: ClusterSpec, log_dir: Path | None = None) -> Any:
    """A ``SLURMCluster`` of ``spec``, scaled to ``spec.jobs`` jobs (submitted, not waited for).

    Each job is one Dask worker with one thread on ``spec.cores`` CPUs (SLURM's
    ``--cpus-per-task``), so a case runs alone on its job's cores. The jobs
    inherit this process's environment (sbatch's default ``--export=ALL``).
    """
    SLURMCluster = _jobqueue().SLURMCluster

    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
    cluster = SLURMCluster(
        cores=1,  # the worker's threads: one case at a time
        processes=1,
        job_cpu=spec.cores,
        memory=spec.memory,
        walltime=spec.walltime,
        queue=spec.queue,
        job_name=_JOB_NAME,
        account=spec.account,
        job_extra_directives=list(spec.extra),
        python=spec.python or sys.executable,
        log_directory=str(log_dir) if log_dir is not None else None,
        scheduler_options={"dashboard_address": ":0"},  # any free port: never a clash with 8787
    )
    cluster.scale(jobs=spec.jobs)
    logger.info("submitted %d SLURM jobs (%s)", spec.jobs, " ".join(_directives(spec)))
    return cluster


def job_ids(cluster: Any) -> set[str]:
    """The SLURM job ids of the cluster's jobs (submitted so far)."""
    return {str(job.job_id) for job in list(cluster.workers.values()) if getattr(job, "job_id", None)}


def queued(ids: Sequence[str] | set[str]) -> set[str] | None:
    """Which of ``ids`` are still in ``squeue`` (pending, running or completing); None if squeue did not answer."""
    if not ids:
        return set()
    squeue = shutil.which("squeue")
    if squeue is None:
        return None
    try:
        done = subprocess.run(
            [squeue, "-h", "-o", "%i", "-j", ",".join(sorted(ids))],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    # squeue exits 1 ("Invalid job id specified") when every id has left the queue
    if done.returncode != 0 and "Invalid job id" not in done.stderr:
        return None
    return {line.strip() for line in done.stdout.splitlines() if line.strip()} & set(ids)


class JobWatch:
    """Keeps ``jobs`` SLURM jobs: a job that left the queue is replaced, at most ``limit`` times in a run.

    Dask moves the cases of a worker that died to the other workers (and gives
    up on a case after its third dead worker: ``KilledWorker``, recorded as a
    failed case with that reason). A replacement job keeps the run at the
    jobs asked for; when the limit is spent and no job is left, :meth:`check`
    says so, and the run records its remaining cases as failed with the reason.
    """

    def __init__(self, cluster: Any, jobs: int, limit: int | None = None) -> None:
        self.cluster = cluster
        self.jobs = jobs
        self.limit = 2 * jobs + 2 if limit is None else limit
        self.replaced = 0
        self.seen: set[str] = set()  # workers whose job was submitted (a name scale() just added is not gone)

    def check(self) -> str | None:
        """Replace the jobs that ended; the reason the run cannot go on, or None."""
        cluster = self.cluster
        submitted = {
            name: str(job.job_id) for name, job in list(cluster.workers.items()) if getattr(job, "job_id", None)
        }
        alive = queued(set(submitted.values()))
        if alive is None:
            return None  # squeue did not answer: ask again later
        self.seen |= set(submitted)
        gone = [name for name, job_id in submitted.items() if job_id not in alive]
        # A worker the cluster already dropped (its job ended) is in worker_spec and no longer in workers.
        gone += [name for name in list(cluster.worker_spec) if name not in cluster.workers and name in self.seen]
        gone = list(dict.fromkeys(gone))
        for name in gone:
            logger.warning("SLURM job %s (Dask worker %s) ended", submitted.get(name, "of a lost worker"), name)
            cluster.worker_spec.pop(name, None)  # a fresh name for its replacement (a late close never hits it)
            cluster.workers.pop(name, None)
        if gone and self.replaced < self.limit:
            self.replaced += len(gone)
            cluster.scale(jobs=self.jobs)
            logger.warning("submitted %d replacement SLURM job(s)", len(gone))
        elif not cluster.workers and self.replaced >= self.limit:
            return (
                f"the run's SLURM jobs ended (cancelled, failed or past their walltime) and {self.replaced} "
                "replacements were used up; see squeue, sacct and the job logs"
            )
        return None


def stop_cluster(cluster: Any, wait: float = 30.0) -> None:
    """Close ``cluster`` (dask-jobqueue cancels its jobs), then make sure none of them is left in ``squeue``.

    Waits up to ``wait`` seconds for the cancelled jobs to leave the queue
    (SLURM keeps a job "completing" while its processes end), cancelling
    again any still pending or running.
    """
    ids = job_ids(cluster)
    try:
        cluster.close(timeout=60)
    except Exception as exc:
        logger.warning("closing the SLURM cluster: %s: %s", type(exc).__name__, exc)
    scancel = shutil.which("scancel")
    deadline = time.monotonic() + wait
    cancelled_again = False
    while (left := queued(ids)) and time.monotonic() < deadline:
        if not cancelled_again and scancel is not None:
            subprocess.run([scancel, *sorted(left)], capture_output=True, timeout=60, check=False)
            cancelled_again = True
        time.sleep(0.5)
    if left:
        logger.warning("SLURM jobs of this run still in the queue after %.0f s: %s", wait, ", ".join(sorted(left)))


def unreadable(paths: Sequence[str]) -> str | None:
    """On a worker: the first of ``paths`` this process cannot read, with why, or None."""
    for path in paths:
        try:
            with open(path, "rb") as f:
                f.read(1)
        except OSError as exc:
            return f"{path} ({exc.strerror or type(exc).__name__})"
    return None


def worker_host() -> str:
    """On a worker: where it runs (host and SLURM job), for messages."""
    return f"{os.uname().nodename} (SLURM job {os.environ.get(JOB_ID_ENV, '?')})"
