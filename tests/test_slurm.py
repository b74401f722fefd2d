"""``run --cluster slurm`` against a real SLURM cluster (``.ci/slurm-up`` starts a one-node one).

Each test runs ``mnist-classic run`` in a subprocess, as a user does, and
checks the CSV, ``sacct`` and ``squeue`` afterwards. Without dask-jobqueue,
``sbatch`` or an answering ``slurmctld`` the tests skip with the reason, unless
``MNIST_CLASSIC_REQUIRE_SLURM=1`` (as ``.ci/run`` sets it), which makes that a failure.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnist_classic.results import read_results

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
JOB_NAME = "mnist-classic"
FOUR = ["knn", "logreg", "rf", "pca_svm"]


def _unavailable() -> str | None:
    if importlib.util.find_spec("dask_jobqueue") is None:
        return 'dask-jobqueue is not installed (pip install -e ".[slurm]")'
    if shutil.which("sbatch") is None:
        return "no sbatch on the PATH (.ci/slurm-up installs SLURM and starts a one-node cluster)"
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo did not answer: {exc}"
    if done.returncode != 0 or ("idle" not in done.stdout.split() and "mixed" not in done.stdout.split()):
        return f"no idle SLURM node answers (sinfo: {(done.stdout + done.stderr).strip()[:200]})"
    return None


@pytest.fixture(scope="module")
def slurm() -> None:
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("MNIST_CLASSIC_REQUIRE_SLURM") == "1":
            pytest.fail(f"{reason} (MNIST_CLASSIC_REQUIRE_SLURM=1)")
        pytest.skip(reason)
    assert _our_jobs() == [], "jobs of an earlier run are still in squeue"


def _our_jobs(states: str | None = None) -> list[str]:
    cmd = ["squeue", "-h", "-n", JOB_NAME, "-o", "%i"] + (["-t", states] if states else [])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True)
    return done.stdout.split()


def _sacct(ids: set[str]) -> dict[str, tuple[str, str]]:
    done = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-o", "JobID,JobName,State", "-j", ",".join(sorted(ids))],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    rows = [line.split("|") for line in done.stdout.splitlines() if line.strip()]
    return {job: (name, state) for job, name, state in rows}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mnist_classic", "run", "--quiet", *args]


def _run(cwd: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        _command(*args), cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def _rows(path: Path):
    return read_results(path)


def _assert_unique(df) -> None:
    keys = list(zip(df["pipeline"], df["n_train"], df["seed"], strict=True))
    assert len(keys) == len(set(keys)), f"a case written twice: {keys}"


def test_grid_over_two_jobs(slurm, tmp_path):
    """The issue's check: four pipelines at n_train 1,000 on 2 SLURM jobs."""
    out = tmp_path / "slurm.csv"
    done = _run(tmp_path, "--cluster", "slurm", "--cluster-jobs", "2", "--pipelines", *FOUR, "--n-train", "1000",
                "-o", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    df = _rows(out)
    assert sorted(df["pipeline"]) == sorted(FOUR)
    assert (df["status"] == "ok").all()
    _assert_unique(df)
    assert set(df["execution"]) == {"dask-slurm"}
    assert set(df["n_jobs"]) == {2}
    ids = {str(int(float(i))) for i in df["cluster_job_id"]}
    assert 1 <= len(ids) <= 2
    accounted = _sacct(ids)
    assert set(accounted) == ids, f"sacct does not show the jobs {ids}: {accounted}"
    assert {name for name, _ in accounted.values()} == {JOB_NAME}
    assert _our_jobs() == [], "a job of the run is still in squeue"


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ('queue = "nope"', "invalid partition specified: nope"),
        ('walltime = "2-00:00:00"', "'cluster.walltime' parameter must be at most partition debug's time limit"),
        ('memory = "100000GB"', "Requested node configuration is not available"),
        (f"cores = {4 * (os.cpu_count() or 1)}", "Requested node configuration is not available"),
    ],
)
def test_bad_cluster_one_line_exit_2(slurm, tmp_path, table, match):
    run_file = tmp_path / "run.toml"
    run_file.write_text(f'pipelines = ["knn"]\nn_train = 100\nn_test = 50\n[cluster]\nkind = "slurm"\n{table}\n')
    done = _run(tmp_path, "--config", str(run_file), "-o", str(tmp_path / "r.csv"), timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], done.stderr
    assert not (tmp_path / "r.csv").exists()
    assert _our_jobs() == []


def _grid(out: Path) -> list[str]:
    return ["--cluster", "slurm", "--cluster-jobs", "2", "--pipelines", "svm", "rf", "knn", "logreg", "pca_svm",
            "--n-train", "2000", "--n-test", "2000", "--repeats", "2", "-o", str(out)]  # fmt: skip


def _start(cwd: Path, args: list[str]) -> subprocess.Popen:
    # SIGINT as a terminal's Ctrl-C gives it: restored, since a shell's background job (CI) starts with it ignored
    return subprocess.Popen(
        _command(*args),
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for_rows(proc: subprocess.Popen, out: Path, n: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.is_file() and len(out.read_text().splitlines()) > n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {n} rows: {proc.communicate()[1]}")
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"no {n} rows in {timeout} s")


def test_cancelled_job_loses_no_case(slurm, tmp_path):
    """scancel one worker's job mid-run: its cases run elsewhere or are recorded failed; --resume completes."""
    out = tmp_path / "cancel.csv"
    proc = _start(tmp_path, _grid(out))
    _wait_for_rows(proc, out, 1)
    running = _our_jobs("R")
    assert running, "no job of the run is running"
    subprocess.run(["scancel", running[0]], check=True, timeout=30)
    _, err = proc.communicate(timeout=900)
    df = _rows(out)
    assert len(df) == 10, err  # every case recorded, none lost
    _assert_unique(df)
    failed = df[df["status"] != "ok"]
    assert failed["error"].str.len().gt(0).all(), "a failed case without its reason"
    assert re.search(r"WARNING: SLURM job (\d+|of a lost worker) \(Dask worker \S+\) ended", err), err
    assert _sacct({running[0]})[running[0]][1].startswith("CANCELLED")
    assert _our_jobs() == []

    done = _run(tmp_path, *_grid(out), "--resume")
    assert done.returncode == 0, done.stderr
    ok = _rows(out)
    ok = ok[ok["status"] == "ok"]
    assert len(ok) == 10
    _assert_unique(ok)
    assert _our_jobs() == []


def test_ctrl_c_leaves_no_job_and_an_intact_csv(slurm, tmp_path):
    out = tmp_path / "interrupted.csv"
    proc = _start(tmp_path, _grid(out))
    _wait_for_rows(proc, out, 1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert _our_jobs() == [], "Ctrl-C left a job in squeue"
    df = _rows(out)  # the CSV reads back: header and whole rows only
    assert 1 <= len(df) < 10
    assert (df["status"] == "ok").all()
    _assert_unique(df)


def test_data_a_worker_cannot_read(slurm, tmp_path):
    """A dataset directory the workers do not see: one line before any case, naming the path."""
    data = tmp_path / "data"
    shutil.copytree(ROOT / "mnist_classic" / "_data" / "mnist", data)
    # The workers' Python hides the directory under an empty tmpfs (a node that does not mount it).
    wrapper = tmp_path / "python-without-data"
    wrapper.write_text(
        f'#!/bin/sh\nexec unshare --mount sh -c \'mount -t tmpfs tmpfs {data} && exec {sys.executable} "$@"\' sh "$@"\n'
    )
    wrapper.chmod(0o755)
    run_file = tmp_path / "run.toml"
    run_file.write_text(
        f'pipelines = ["knn"]\nn_train = 100\nn_test = 50\n[cluster]\nkind = "slurm"\npython = "{wrapper}"\n'
    )
    out = tmp_path / "r.csv"
    done = _run(tmp_path, "--config", str(run_file), "--data-dir", str(data), "-o", str(out), timeout=300)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"cannot read {data}/" in lines[0] and "the data must be on a path the workers share" in lines[0]
    assert len(_rows(out)) == 0  # no case ran
    assert _our_jobs() == []
