"""The command line, in-process and as a subprocess; interrupted runs keep their rows."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synthetic import BUNDLED, copy_bundled, flip_a_test_pixel

from mnist_classic import load_labels, read_results
from mnist_classic.cli import main
from mnist_classic.results import predictions_dir


def _one_line_error(capsys, code, expected_code=2, match=None):
    out, err = capsys.readouterr()
    assert code == expected_code
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    if match:
        assert match in err, err
    return out, err


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("svm", "pca_svm", "knn", "rf", "logreg", "dummy", "mnist", "fashion-mnist", "kmnist", "emnist-digits"):
        assert name in out
    assert "SVC(C=10)" in out  # pipelines are shown with their defaults
    assert main(["list", "datasets"]) == 0
    assert "svm" not in capsys.readouterr().out


def test_data_verify_bundled(capsys):
    assert main(["data", "verify"]) == 0
    out = capsys.readouterr().out
    assert out.count("OK ") == 4
    assert "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db" in out


def test_data_info_json(capsys):
    assert main(["data", "info", "mnist", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["dataset"] == "mnist"
    assert info["matrices"]["X_train"] == {"shape": [60000, 784], "dtype": "float32"}
    assert info["label_counts"]["test"]["1"] == 1135
    assert [f["shape"] for f in info["files"]] == [[60000, 28, 28], [60000], [10000, 28, 28], [10000]]


def test_data_info_text(capsys):
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert "train label counts: 0:5923 1:6742" in out
    assert "60000x28x28" in out


@pytest.fixture
def corrupted_copy(tmp_path):
    return flip_a_test_pixel(copy_bundled(tmp_path / "mnist-copy"))


def test_data_verify_corrupted_copy_fails_in_one_line(capsys, corrupted_copy, tmp_path):
    code = main(["data", "verify", "--data-dir", str(corrupted_copy)])
    _, err = _one_line_error(capsys, code, expected_code=1, match="1 of 4 mnist files failed verification")
    assert "expected 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7, got" in err
    code = main(["data", "info", "mnist", "--data-dir", str(corrupted_copy), "--data-home", str(tmp_path / "h")])
    _one_line_error(capsys, code, match="does not match: expected 0fa7898d")


def test_data_verify_intact_copy_passes(capsys, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(BUNDLED, copy)
    (copy / "train-labels-idx1-ubyte").write_bytes(gzip.decompress((copy / "train-labels-idx1-ubyte.gz").read_bytes()))
    (copy / "train-labels-idx1-ubyte.gz").unlink()
    assert main(["data", "verify", "--data-dir", str(copy)]) == 0


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["data", "verify", "--data-dir", "/no/such/dir"], "No such data directory: /no/such/dir"),
        (["data", "info", "nope"], "Unknown dataset 'nope'"),
        (["data", "download", "nope"], "Unknown dataset 'nope'"),
        (["data"], "choose an action"),
        (["run", "--pipelines", "svm[C=", "--n-train", "10"], "Malformed pipeline selector"),
        (["run", "--pipelines", "nope"], "valid pipelines: svm, pca_svm, knn, rf, logreg, linear"),
        (["run", "--n-train", "abc"], "--n-train takes positive integers"),
        (["run", "--n-train", "0"], "'n_train' parameter must be a positive int"),
        (["run", "--n-test", "10001"], "'n_test' parameter of load_dataset must be an int in [1, 10000]"),
        (["run", "--repeats", "x"], "invalid int value"),
        (["frobnicate"], "invalid choice"),
        (["list", "things"], "invalid choice"),
    ],
)
def test_misuse_is_one_line_exit_2(capsys, argv, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(argv)
    _one_line_error(capsys, code, match=match)
    assert not (tmp_path / "mnist_classic_results.csv").exists()


def test_data_dir_missing_a_file(capsys, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(BUNDLED, copy)
    (copy / "train-labels-idx1-ubyte.gz").unlink()
    code = main(["data", "info", "--data-dir", str(copy)])
    _one_line_error(capsys, code, match="missing IDX file(s): train-labels-idx1-ubyte[.gz]")


def test_run_in_process(capsys, tmp_path):
    out = tmp_path / "r.csv"
    code = main(
        ["run", "--pipelines", "dummy", "logreg[C=1]", "--n-train", "300,600", "--n-test", "200", "--output", str(out)]
    )
    stdout, err = capsys.readouterr()
    assert code == 0
    assert "4 of 4 cases written" in stdout
    assert err.count(" start ") == 4 and err.count(" end ") == 4 and "ETA" in err
    df = read_results(out)
    assert df["pipeline"].tolist() == ["dummy", "logreg[logreg__C=1]"] * 2
    assert df["n_train"].tolist() == [300, 300, 600, 600]
    assert df["command"].iloc[0].startswith("mnist-classic run --pipelines dummy")


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "mnist_classic", *args], capture_output=True, text=True, **kw)


@pytest.mark.slow
def test_run_as_subprocess_and_console_script(tmp_path):
    out = tmp_path / "r.csv"
    proc = _cli("run", "--pipelines", "dummy", "--n-train", "100", "--n-test", "100", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "1 of 1 cases written" in proc.stdout
    script = shutil.which("mnist-classic", path=os.path.dirname(sys.executable)) or shutil.which("mnist-classic")
    assert script, "the console script is installed"
    version = subprocess.run([script, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("mnist-classic ")
    bad = _cli("run", "--pipelines", "nope")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def _wait_rows(path: Path, n: int, proc, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= n + 1:
            return
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    raise AssertionError("run did not produce rows in time")


def _default_sigint() -> None:
    """In the child, before exec: take SIGINT as usual (Ctrl-C -> KeyboardInterrupt).

    A shell starts a background job (``nohup python -m pytest &``) with SIGINT
    ignored, children inherit that, and Python then leaves it ignored.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_run_keeps_every_finished_row(tmp_path, sig):
    out = tmp_path / "r.csv"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mnist_classic",
            "run",
            "--pipelines",
            "dummy",
            "rf[n_estimators=5]",
            "--n-train",
            "1000",
            "--n-test",
            "500",
            "--repeats",
            "200",
            "-o",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        _wait_rows(out, 3, proc)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert "interrupted" in err and "Traceback" not in err
    else:
        assert proc.returncode == -signal.SIGKILL
    df = read_results(out)
    assert 3 <= len(df) < 400
    assert (df["status"] == "ok").all()
    assert not df.duplicated(["pipeline", "repeat"]).any()
    folder = predictions_dir(out)
    for sha in df["predictions_sha256"]:
        assert len(load_labels(folder, sha)) == 500
