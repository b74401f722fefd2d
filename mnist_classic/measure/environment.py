"""The context that makes a timing trustworthy: versions, BLAS, CPU, commit.

Collected once per run and written into every CSV row, so a row read on its
own still says where its numbers came from.
"""

from __future__ import annotations

import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["collect_environment", "cpu_model", "git_commit"]


def cpu_model(cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo") -> str:
    """The CPU's model name.

    ``platform.processor()`` is empty on most Linux systems, so the model name
    is read from ``/proc/cpuinfo`` there (no well-kept library does this
    without a compiled dependency). Where that file does not exist (macOS,
    Windows), ``platform.processor()`` (e.g. ``Intel64 Family 6 Model 158
    Stepping 10, GenuineIntel``, ``arm``), else the machine type
    (``platform.uname().machine``, e.g. ``AMD64``, ``arm64``).

    Parameters
    ----------
    cpuinfo : str or os.PathLike, default="/proc/cpuinfo"
        The file to read first (a parameter so that its absence can be tested).

    Returns
    -------
    str
        The model name, or ``"unknown"``.
    """
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.uname().machine or "unknown"


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The suite's git commit (``<sha>`` or ``<sha>-dirty``), or ``unknown``.

    Known when the package runs from a git checkout (an editable install or
    the source tree); a wheel installed into site-packages has no commit.
    """
    here = Path(__file__).resolve().parents[1]  # the package: mnist_classic/measure/environment.py
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        if (Path(top) / "mnist_classic").resolve() != here:
            return "unknown"  # e.g. installed into a virtual environment that lives inside some checkout
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def _threadpools() -> dict[str, Any]:
    from threadpoolctl import threadpool_info

    pools = threadpool_info()
    # Several BLAS may be loaded (NumPy's and SciPy's wheels each bring one), listed in the order
    # they were loaded: NumPy's is recorded, whatever was imported first, so that two runs on one
    # machine record the same BLAS.
    blas = sorted(
        (p for p in pools if p.get("user_api") == "blas"),
        key=lambda p: ("numpy" not in str(p.get("filepath", "")).lower(), str(p.get("filepath", ""))),
    )
    omp = [p for p in pools if p.get("user_api") == "openmp"]
    out: dict[str, Any] = {"blas": "none", "blas_threads": "", "openmp_threads": ""}
    if blas:
        b = blas[0]
        arch = b.get("architecture")
        out["blas"] = " ".join(str(x) for x in (b.get("internal_api"), b.get("version"), arch) if x)
        out["blas_threads"] = b.get("num_threads", "")
    if omp:
        out["openmp_threads"] = omp[0].get("num_threads", "")
    return out


def collect_environment() -> dict[str, Any]:
    """Versions, BLAS library and threads, CPU, platform, suite version and commit.

    Returns
    -------
    dict
        Keys are CSV column names (see :data:`mnist_classic.results.COLUMNS`).
    """
    import numpy
    import scipy
    import sklearn

    from .._version import __version__

    env: dict[str, Any] = {
        "python_version": platform.python_version(),
        "numpy_version": numpy.__version__,
        "scipy_version": scipy.__version__,
        "sklearn_version": sklearn.__version__,
    }
    env.update(_threadpools())
    env.update(
        {
            "cpu_model": cpu_model(),
            "cpu_count": os.cpu_count() or "",
            "platform": platform.platform(),
            "suite_version": __version__,
            "git_commit": git_commit(),
        }
    )
    return env
