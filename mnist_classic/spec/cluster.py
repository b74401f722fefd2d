"""A batch cluster to run the cases on: :class:`ClusterSpec`, the ``[cluster]`` table of a run file, checked.

``run --cluster slurm --cluster-jobs N`` (or a run file's ``[cluster]`` table)
asks for ``N`` SLURM jobs, each one Dask worker running one case at a time on
the job's ``cores``. Here the values are checked for what they are (a known
kind, positive counts, a memory size and a walltime SLURM writes); whether the
cluster accepts them (the partition exists, the walltime fits it) is asked of
SLURM itself before any job is submitted (:mod:`mnist_classic.bench.parallel.slurm`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["CLUSTERS", "CLUSTER_KEYS", "ClusterSpec", "cluster_spec", "walltime_seconds"]

#: What ``run --cluster`` accepts.
CLUSTERS: tuple[str, ...] = ("slurm",)

#: The keys of a run file's ``[cluster]`` table, with what each holds.
CLUSTER_KEYS: dict[str, str] = {
    "kind": "the scheduler: slurm",
    "jobs": "batch jobs (one Dask worker each, one case at a time); default 2",
    "cores": "CPUs per job, the threads of each case; default 1",
    "memory": "memory per job, as SLURM's --mem writes it with a unit: 4GB, 4000MB, 16G; default 2GB",
    "walltime": "time limit per job, as SLURM's --time: MM, HH:MM:SS, D-HH:MM; default 01:00:00",
    "queue": "the partition (sbatch --partition); default: the cluster's default partition",
    "account": "the account charged (sbatch --account)",
    "extra": "more #SBATCH directives, a list: ['--qos=short', '--constraint=avx2']",
    "python": "the Python of the workers (default: this one); it must import this version of mnist_classic",
}

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?)\s*$", re.IGNORECASE)
# sbatch --time: "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours",
# "days-hours:minutes", "days-hours:minutes:seconds".
_WALLTIME = re.compile(
    r"^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d{1,2}|\d+-\d{1,2}:\d{1,2}|\d+-\d{1,2}:\d{1,2}:\d{1,2})$"
)


@dataclass(frozen=True)
class ClusterSpec:
    """The batch jobs a run asks for (see :data:`CLUSTER_KEYS`)."""

    kind: str = "slurm"
    jobs: int = 2
    cores: int = 1
    memory: str = "2GB"
    walltime: str = "01:00:00"
    queue: str | None = None
    account: str | None = None
    extra: tuple[str, ...] = ()
    python: str | None = None


def _positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"The 'cluster.{name}' parameter must be a positive int. Got {value!r} instead."
        raise ValueError(msg)
    return value


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        msg = f"The 'cluster.{name}' parameter must be a name without spaces. Got {value!r} instead."
        raise ValueError(msg)
    return value.strip()


def cluster_spec(value: ClusterSpec | Mapping[str, Any] | str | None) -> ClusterSpec | None:
    """``value`` as a checked :class:`ClusterSpec` (``None`` stays ``None``: no cluster).

    Parameters
    ----------
    value : ClusterSpec, mapping, str or None
        A spec, a run file's ``[cluster]`` table (keys of :data:`CLUSTER_KEYS`),
        or a kind alone (``"slurm"``, with the defaults).

    Raises
    ------
    ValueError
        An unknown key or kind, or a value out of what it accepts, naming the
        key, what it accepts and what was given.

    Examples
    --------
    >>> cluster_spec({"kind": "slurm", "jobs": 4, "memory": "8GB"}).jobs
    4
    >>> cluster_spec({"kind": "slurm", "jobs": 0})
    Traceback (most recent call last):
    ...
    ValueError: The 'cluster.jobs' parameter must be a positive int. Got 0 instead.
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = {"kind": value}
    if isinstance(value, ClusterSpec):
        value = {f.name: getattr(value, f.name) for f in fields(ClusterSpec)}
    if not isinstance(value, Mapping):
        msg = f"The 'cluster' parameter must be a kind ({', '.join(CLUSTERS)}) or a table. Got {value!r} instead."
        raise ValueError(msg)
    for key in value:
        if key not in CLUSTER_KEYS:
            msg = f"The 'cluster' table has no key {key!r}; valid keys: {', '.join(CLUSTER_KEYS)}"
            raise ValueError(msg)
    kind = value.get("kind")
    if kind not in CLUSTERS:
        msg = f"The 'cluster.kind' parameter must be one of {', '.join(CLUSTERS)}. Got {kind!r} instead."
        raise ValueError(msg)
    defaults = ClusterSpec()
    memory = value.get("memory", defaults.memory)
    match = _MEMORY.match(memory) if isinstance(memory, str) else None
    if match is None or not float(match.group(1)) > 0:
        msg = (
            "The 'cluster.memory' parameter must be a positive size with a unit, as 4GB, 4000MB or 16G. "
            f"Got {memory!r} instead."
        )
        raise ValueError(msg)
    walltime = value.get("walltime", defaults.walltime)
    if not isinstance(walltime, str) or not _WALLTIME.match(walltime.strip()) or not re.search(r"[1-9]", walltime):
        msg = (
            "The 'cluster.walltime' parameter must be a positive time limit as sbatch --time writes it "
            f"(MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS). Got {walltime!r} instead."
        )
        raise ValueError(msg)
    extra = value.get("extra", ())
    if isinstance(extra, str):
        extra = (extra,)
    if not isinstance(extra, (list, tuple)) or not all(isinstance(e, str) and e.startswith("-") for e in extra):
        msg = f"The 'cluster.extra' parameter must be a list of sbatch options ('--qos=short'). Got {extra!r} instead."
        raise ValueError(msg)
    python = value.get("python")
    if python is not None and (not isinstance(python, str) or not python.strip()):
        msg = f"The 'cluster.python' parameter must be the path of a Python executable. Got {python!r} instead."
        raise ValueError(msg)
    return ClusterSpec(
        kind=kind,
        jobs=_positive(value.get("jobs", defaults.jobs), "jobs"),
        cores=_positive(value.get("cores", defaults.cores), "cores"),
        memory=memory.strip().upper().replace("IB", "iB"),
        walltime=walltime.strip(),
        queue=_text(value.get("queue"), "queue"),
        account=_text(value.get("account"), "account"),
        extra=tuple(extra),
        python=python,
    )


def walltime_seconds(text: str) -> int | None:
    """Seconds of a time limit as SLURM writes it (``--time``, ``sinfo %l``); None for "infinite" or unreadable.

    Examples
    --------
    >>> walltime_seconds("1-02:03:04"), walltime_seconds("90"), walltime_seconds("05:30"), walltime_seconds("2-3")
    (93784, 5400, 330, 183600)
    """
    text = text.strip()
    if not _WALLTIME.match(text):
        return None
    days, _, rest = text.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if days:  # D-HH, D-HH:MM, D-HH:MM:SS
        hours, minutes, seconds = [*parts, 0, 0][:3]
    elif len(parts) == 3:  # HH:MM:SS
        hours, minutes, seconds = parts
    else:  # MM, MM:SS
        hours, (minutes, seconds) = 0, [*parts, 0][:2]
    return ((int(days or 0) * 24 + hours) * 60 + minutes) * 60 + seconds
