"""Every laptop: the package works where ``resource``, ``fcntl``, ``os.pread`` and ``/proc`` do not exist.

Windows has none of them and macOS has no ``/proc``. Their absence is simulated
in a fresh interpreter (a prelude blocks the modules, removes ``os.pread`` and
makes the ``/proc`` files this package reads missing) that then imports the
package and runs ``run``, ``compare`` and ``report`` for real.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

from mnist_classic.measure.environment import cpu_model
from mnist_classic.measure.timing import PeakMemory
from mnist_classic.results import ResultWriter, read_results
from mnist_classic.results import writer as writer_module

PRELUDE = textwrap.dedent(
    """
    import builtins, io, os, sys
    import psutil  # first: its Linux backend needs resource (on Windows and macOS psutil has its own)
    sys.modules["resource"] = None  # import resource -> ImportError, as on Windows
    sys.modules["fcntl"] = None
    del os.pread
    _open = io.open

    _GONE = ("/proc/self/clear_refs", "/proc/self/status", "/proc/cpuinfo")

    def _no_proc(file, *args, **kwargs):
        # The /proc files this package reads. psutil's and threadpoolctl's own /proc reads
        # stay: they are their Linux backends, which on Windows and macOS are system calls.
        name = os.fspath(file) if not isinstance(file, int) else ""
        if name in _GONE:
            raise FileNotFoundError(2, "No such file or directory", name)
        return _open(file, *args, **kwargs)

    builtins.open = io.open = _no_proc
    """
)

SCENARIO = textwrap.dedent(
    """
    import platform, sys
    from pathlib import Path

    import filelock
    import mnist_classic
    from mnist_classic.measure.environment import cpu_model
    from mnist_classic.measure.timing import PeakMemory
    from mnist_classic.cli import main

    assert sys.modules["resource"] is None and sys.modules["fcntl"] is None
    assert filelock.FileLock is filelock.SoftFileLock  # no fcntl (nor msvcrt): filelock's portable fallback
    with PeakMemory() as mem:
        pass
    assert mem.method == "rss" and mem.peak_mb > 10, (mem.method, mem.peak_mb)
    assert cpu_model() == (platform.processor() or platform.uname().machine or "unknown")

    tmp = Path(sys.argv[1])
    run = ["run", "--pipelines", "dummy", "knn", "--n-train", "500", "--n-test", "200", "-q"]
    assert main([*run, "-o", str(tmp / "a.csv")]) == 0
    assert main([*run, "-o", str(tmp / "b.csv")]) == 0
    assert main(["compare", str(tmp / "a.csv"), str(tmp / "b.csv")]) == 0
    assert main(["report", str(tmp / "a.csv"), "--out", str(tmp / "report")]) == 0
    print("PORTABLE-OK")
    """
)


@pytest.mark.slow
def test_run_compare_report_without_resource_fcntl_pread_and_proc(tmp_path):
    script = tmp_path / "scenario.py"
    script.write_text(PRELUDE + SCENARIO)
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PORTABLE-OK" in proc.stdout
    df = read_results(tmp_path / "a.csv")
    assert (df["status"] == "ok").all() and len(df) == 2
    assert (df["peak_memory_mb"] > 10).all()  # psutil's resident set size
    assert df["cpu_model"].iloc[0] == (platform.processor() or platform.uname().machine or "unknown")
    assert (tmp_path / "report" / "report.md").exists()
    assert not (tmp_path / "a.csv.lock").exists()  # the fallback lock file is removed on release


def test_cpu_model_without_proc(tmp_path):
    assert cpu_model(tmp_path / "no-cpuinfo") == (platform.processor() or platform.uname().machine or "unknown")


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="needs /proc")
def test_cpu_model_from_proc():
    assert cpu_model() and cpu_model() != "unknown"


def test_peak_memory_is_measured():
    with PeakMemory() as mem:
        block = bytearray(64 << 20)
    assert mem.method in ("vmhwm", "ru_maxrss")
    assert mem.peak_mb is not None and mem.peak_mb >= 64
    del block


def test_writer_locks_a_lock_file_beside_the_csv(tmp_path):
    out = tmp_path / "r.csv"
    ResultWriter(out).append({"run_id": "a", "status": "ok"})
    assert writer_module.lock_path(out) == tmp_path / "r.csv.lock"
    assert writer_module.lock_path(out).exists()  # filelock leaves it (deleting a lock file is racy)
    assert read_results(out)["run_id"].tolist() == ["a"]


def test_writer_without_pread_repairs_a_torn_row(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "pread", raising=False)
    out = tmp_path / "r.csv"
    ResultWriter(out).append({"run_id": "a", "status": "ok"})
    with open(out, "a") as f:
        f.write("b,mnist,svm,half a row")
    ResultWriter(out).append({"run_id": "c", "status": "ok"})
    assert read_results(out)["run_id"].tolist() == ["a", "c"]
