"""Cases counted in instructions (``run --measure instructions``), each in a child process under callgrind.

The parent (:func:`run_counted`) writes what the child needs into a private
temporary folder, runs ``valgrind --tool=callgrind ... python -m
mnist_classic.bench.counted SPEC OUT`` there (:mod:`mnist_classic.measure.callgrind`), and reads
back the child's row values (``OUT``) and callgrind's dumps. The child
(:func:`main`) loads the plugins and the data with instrumentation off, then
runs the case through :func:`~.case.run_case` exactly as a timed run does,
counting each step's ``fit`` and ``predict`` (the wall times it measures,
under valgrind, are kept as such in ``fit_time_s``/``predict_time_s`` and
never judged against native ones).

Counts do not depend on what else the machine runs, so cases may run side by
side on every core: joblib's threading backend starts one child per case
(``n_jobs`` at a time) and yields each as it ends.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from ..measure.callgrind import callgrind_command, counted_environment, read_counts, valgrind_version
from .case import Case

__all__ = ["counted_values", "main", "run_counted", "run_counted_cases"]


def _error(message: str) -> dict[str, Any]:
    return {"status": "error", "error": message.replace("\n", " "), "predictions": None, "measure": "instructions"}


def counted_values(counts: dict[str, int]) -> dict[str, Any]:
    """Row values from the regions' counts: fit and predict totals, and per step (pipelines)."""
    fit = sum(n for k, n in counts.items() if k.startswith("fit/"))
    predict = sum(n for k, n in counts.items() if k.startswith("predict/"))
    steps: dict[str, dict[str, int | None]] = {}
    for key, n in counts.items():
        phase, _, step = key.partition("/")
        if step:
            steps.setdefault(step, {"fit": None, "predict": None})[phase] = n
    return {
        "fit_instructions": fit,
        "predict_instructions": predict,
        "step_instructions": json.dumps(steps, sort_keys=True) if steps else "",
    }


def run_counted(spec: dict[str, Any], case: Case, *, timeout: float | None = None) -> dict[str, Any]:
    """Run one case under callgrind in a child process; return its row values (as :func:`~.case.run_case`).

    Parameters
    ----------
    spec : dict
        What the child loads: ``dataset``, ``data_dir``, ``n_test``,
        ``data_home`` and ``plugins`` (paths of ``.py`` plugins absolute).
    case : Case
    timeout : float or None
        Seconds for the whole child (start-up under valgrind included).
    """
    with tempfile.TemporaryDirectory(prefix="mnist-classic-count-") as tmp:
        folder = Path(tmp)
        spec_path, out_path = folder / "case.pkl", folder / "out.pkl"
        cwd = folder / "cwd"  # an empty working directory: nothing in the child depends on the caller's
        cwd.mkdir()
        # Written and read back by this process only, in its own private folder (mode 0700).
        # The case apart, unpickled once the plugins its pipeline may come from are loaded.
        spec_path.write_bytes(pickle.dumps({**spec, "case": pickle.dumps(case)}))
        # Paths relative to the child's working directory: the folder's random name stays out of its argv.
        cmd = callgrind_command(folder, ["-m", "mnist_classic.bench.counted", "../case.pkl", "../out.pkl"])
        try:
            proc = subprocess.run(
                cmd, cwd=cwd, env=counted_environment(), capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            timed_out = _error(f"case exceeded the {timeout:g} s timeout (under valgrind)")
            timed_out["status"] = "timeout"
            return timed_out
        if not out_path.is_file():
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("==")]
            why = lines[-1] if lines else f"exit status {proc.returncode}"
            return _error(f"the counted child failed under valgrind: {why}")
        out: dict[str, Any] = pickle.loads(out_path.read_bytes())  # noqa: S301 - this process's own file
        if out.get("status") == "ok":
            out.update(counted_values(read_counts(folder)))
    out.update(measure="instructions", valgrind_version=valgrind_version())
    return out


def run_counted_cases(
    cases: Sequence[Case], spec: dict[str, Any], *, n_jobs: int = 1, timeout: float | None = None
) -> Generator[tuple[Case, dict[str, Any]], None, None]:
    """Count cases ``n_jobs`` at a time (joblib's threading backend: each thread waits on its child)."""
    from joblib import Parallel, delayed

    def one(case: Case) -> tuple[Case, dict[str, Any]]:
        return case, run_counted(spec, case, timeout=timeout)

    jobs = Parallel(n_jobs=n_jobs, backend="threading", return_as="generator_unordered")
    yield from jobs(delayed(one)(c) for c in cases)


def fixed_entropy() -> None:
    """The operating system's random bytes, replaced in this child by a fixed stream (seeded, reproducible).

    numpy seeds every new ``RandomState`` from the OS first (``SeedSequence()``, even when a seed
    is given and then replaces that state), and the instructions that take depend on the bytes
    drawn (624 words converted to Python ints of one or two digits): an ``SVC`` or ``PCA`` fit with
    ``random_state=0`` counted up to a few thousand instructions more or less from run to run.
    Only this counted child is affected; an unseeded generator is then the same in every counted run.
    """
    import random

    stream = random.Random(0)  # noqa: S311 - reproducible bytes for counting, not for secrets

    def urandom(n: int) -> bytes:
        return stream.randbytes(n)

    os.urandom = urandom
    random._urandom = urandom  # type: ignore[attr-defined]  # SystemRandom (secrets.randbits, numpy) reads it


def main(argv: Sequence[str] | None = None) -> int:
    """The child: load plugins and data uncounted, then run the case counting each measured call."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from ..data.loader import load_dataset
    from ..measure.callgrind import client_requests, count_basis
    from ..spec.plugins import load_entry_points, load_plugins
    from .case import run_case

    fixed_entropy()
    spec_path, out_path = argv if argv is not None else sys.argv[1:]
    spec = pickle.loads(Path(spec_path).read_bytes())  # noqa: S301 - written by the parent, see run_counted
    load_entry_points()
    load_plugins(spec["plugins"])
    case: Case = pickle.loads(spec["case"])  # noqa: S301 - as above
    ds = load_dataset(
        spec["dataset"], data_dir=spec["data_dir"], n_test=spec["n_test"], data_home=spec["data_home"], download=False
    )
    X_train = np.ascontiguousarray(ds.X_train[: case.n_train])
    y_train = np.asarray(ds.y_train[: case.n_train])
    X_test, y_test = np.ascontiguousarray(ds.X_test), np.asarray(ds.y_test)
    requests = client_requests()
    with threadpool_limits(limits=1):
        # No one-image latency (a wall time) and no predict_proba (under valgrind it would cost as much as the
        # counted predict again): counted rows keep model_bytes, n_params and macs, and empty probability columns.
        warmup = spec.get("warmup", "none")
        out = run_case(
            case, X_train, y_train, X_test, y_test, region=requests.region, probabilities=False, warmup=warmup
        )
        out["count_basis"] = json.dumps(count_basis(), sort_keys=True)
    tmp = Path(f"{out_path}.part")
    tmp.write_bytes(pickle.dumps(out))
    os.replace(tmp, out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
