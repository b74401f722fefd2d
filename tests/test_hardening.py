"""Crash safety, concurrent writers, full disks and hostile downloads."""

from __future__ import annotations

import errno
import gzip
import hashlib
import http.server
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import mnist_classic
from mnist_classic import read_results
from mnist_classic.bench import plan as plan_module
from mnist_classic.bench.runner import RunConfig, run_benchmark
from mnist_classic.data.fetch import FetchError, fetch_url
from mnist_classic.results import ResultWriter, load_labels, predictions_dir
from mnist_classic.results import writer as results_module

GRID = ["--pipelines", "dummy", "rf[n_estimators=10]", "--n-train", "1000,2000", "--n-test", "500", "--repeats", "8"]
GRID_CASES = 2 * 2 * 8


def _run_cli(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mnist_classic", "run", *GRID, "-o", str(out), "-q", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _check_csv(out: Path) -> object:
    df = read_results(out)  # parses, schema checked
    ok = df[df["status"] == "ok"]
    assert not ok.duplicated(["pipeline", "n_train", "seed"]).any(), "a finished case was written twice"
    folder = predictions_dir(out)
    for sha in ok["predictions_sha256"]:
        assert len(load_labels(folder, sha)) == 500
    return df


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_completes_the_grid(tmp_path):
    out = tmp_path / "r.csv"
    rng = random.Random(20261124)
    for _ in range(20):
        proc = _run_cli(out, "--resume")
        time.sleep(rng.uniform(0.0, 2.5))
        proc.kill()
        proc.wait(timeout=30)
        if out.exists() and out.stat().st_size:
            _check_csv(out)
    final = _run_cli(out, "--resume")
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    df = _check_csv(out)
    assert len(df) == GRID_CASES
    assert sorted(zip(df["pipeline"], df["n_train"], df["seed"], strict=True)) == sorted(
        (p, n, s) for p in ("dummy", "rf[n_estimators=10]") for n in (1000, 2000) for s in range(8)
    )


@pytest.mark.slow
def test_two_runs_appending_to_one_csv_at_once(tmp_path):
    out = tmp_path / "shared.csv"
    procs = [_run_cli(out), _run_cli(out)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    df = _check_csv_all(out)
    assert len(df) == 2 * GRID_CASES
    assert df.groupby("run_id").size().tolist() == [GRID_CASES, GRID_CASES]
    assert out.read_text().count("\n") == 2 * GRID_CASES + 1  # one header, whole rows only


def _check_csv_all(out):
    df = read_results(out)
    for _, rows in df.groupby("run_id"):
        assert not rows.duplicated(["pipeline", "n_train", "seed"]).any()
    return df


def test_full_disk_mid_run_keeps_finished_rows(tmp_path, monkeypatch):
    out = tmp_path / "r.csv"
    real = results_module._write_all
    calls = {"n": 0}

    def flaky(fd, data):
        calls["n"] += 1
        if calls["n"] == 4:  # header, row 1, row 2, then half of row 3 and a full disk
            real(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(results_module, "_write_all", flaky)
    config = RunConfig(pipelines=["dummy"], n_train=[100], n_test=100, repeats=5, output=out)
    result = run_benchmark(config)
    assert result.exit_code == 2
    assert "No space left on device" in result.write_error
    assert len(result.rows) == 2
    df = read_results(out)
    assert len(df) == 2 and (df["status"] == "ok").all()
    assert out.read_text().endswith("\n")


def test_too_little_free_space_is_refused_before_any_case(tmp_path, monkeypatch):
    out = tmp_path / "new" / "r.csv"

    class Usage:
        free = 1000

    monkeypatch.setattr(plan_module.shutil, "disk_usage", lambda path: Usage)
    with pytest.raises(OSError, match="KiB free"):
        run_benchmark(RunConfig(pipelines=["dummy"], n_train=[100], n_test=100, output=out))
    assert not out.exists()


def test_torn_header_and_torn_row_are_repaired(tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("run_id,data")  # a crash while the file was being created
    ResultWriter(out).append({"run_id": "a", "status": "ok"})
    with open(out, "a") as f:
        f.write("b,mnist,svm,half a row")  # a crash mid-row
    ResultWriter(out).append({"run_id": "c", "status": "ok"})
    assert read_results(out)["run_id"].tolist() == ["a", "c"]


def test_output_that_is_not_a_regular_file(tmp_path):
    with pytest.raises(results_module.ResultsSchemaError, match="not a regular file"):
        ResultWriter(tmp_path)


# --- downloads ------------------------------------------------------------------------------


GOOD = gzip.compress(np.random.default_rng(0).integers(0, 256, size=50_000, dtype=np.uint8).tobytes())
OTHER = gzip.compress(b"another dataset's file" * 100)
HTML = b"<html><body>Service unavailable, try again</body></html>"


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/error-page/f.gz":
            self._send(200, HTML, "text/html")
        elif self.path == "/redirect/f.gz":
            self.send_response(302)
            self.send_header("Location", "/other/f.gz")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/other/f.gz":
            self._send(200, OTHER)
        elif self.path == "/drop/f.gz":
            self.send_response(200)
            self.send_header("Content-Length", str(len(GOOD)))
            self.end_headers()
            self.wfile.write(GOOD[:100])
            self.wfile.flush()
            self.connection.shutdown(2)  # connection dropped mid-body
        elif self.path == "/good/f.gz":
            self._send(200, GOOD)
        else:
            self._send(404, b"not found")

    def _send(self, code, body, ctype="application/octet-stream"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def mirror():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_bad_mirrors_then_good_one(mirror, tmp_path):
    dest = tmp_path / "cache" / "f.gz"
    sha = hashlib.sha256(GOOD).hexdigest()
    urls = [f"{mirror}/{m}/f.gz" for m in ("error-page", "redirect", "drop", "missing", "good")]
    assert fetch_url(urls, dest, sha256=sha, timeout=5) == dest
    assert dest.read_bytes() == GOOD
    assert [p.name for p in dest.parent.iterdir()] == ["f.gz"]


def test_every_mirror_bad_lists_each_reason_and_caches_nothing(mirror, tmp_path):
    dest = tmp_path / "cache" / "f.gz"
    sha = hashlib.sha256(GOOD).hexdigest()
    urls = [f"{mirror}/{m}/f.gz" for m in ("error-page", "redirect", "drop", "missing")]
    with pytest.raises(FetchError) as info:
        fetch_url(urls, dest, sha256=sha, timeout=5)
    message = str(info.value)
    assert message.count("SHA-256 mismatch") == 2  # the HTML page and the other dataset's bytes
    assert "/drop/f.gz (" in message and "/missing/f.gz (" in message and "404" in message
    assert list(dest.parent.iterdir()) == []


def test_no_code_executing_format_is_ever_loaded():
    source = "\n".join(p.read_text() for p in Path(mnist_classic.__file__).parent.glob("*.py"))
    assert "allow_pickle=True" not in source
    assert not re.search(r"\bpickle\.loads?\(|joblib\.load\(|np\.load\((?![^)]*allow_pickle=False)", source)


def test_decoded_cache_is_loaded_without_pickle(tmp_path):
    ds = mnist_classic.load_dataset("mnist", n_train=10, n_test=10, data_home=tmp_path)
    cached = sorted((tmp_path / "decoded").rglob("*.npy"))
    assert cached
    for path in cached:  # every cache file is plain numeric data
        assert np.load(path, mmap_mode="r", allow_pickle=False).dtype.kind in "fi"
    assert ds.X_train.shape == (10, 784)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_sigterm_keeps_finished_rows(tmp_path, sig):
    out = tmp_path / "r.csv"
    proc = _run_cli(out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 3):
        time.sleep(0.05)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert len(_check_csv(out)) >= 2
