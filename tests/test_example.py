"""The worked example of examples/mnist-classic-example: installed, found through its entry point, walked through."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "mnist-classic-example"


def _walkthrough() -> list[list[str]]:
    """The ``mnist-classic`` commands of the example's README walkthrough, on a subsample."""
    text = (EXAMPLE / "README.md").read_text()
    block = re.search(r"## Walkthrough.*?```bash\n(.*?)```", text, re.S)
    assert block, "the example README lost its walkthrough"
    commands = [shlex.split(line) for line in block.group(1).splitlines() if line.startswith("mnist-classic ")]
    assert len(commands) == 3
    small = {"--n-train": "600", "--n-test": "200", "--repeats": "2"}
    return [[small.get(prev, arg) for prev, arg in zip(["", *cmd[:-1]], cmd, strict=True)] for cmd in commands]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The example installed into a folder of its own (the test environment stays as it was)."""
    target = tmp_path_factory.mktemp("example-site")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(EXAMPLE)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"pip could not install the example:\n{done.stderr[-2000:]}")
    return target


@pytest.mark.slow
def test_the_walkthrough_runs_against_the_baselines(installed, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), os.environ.get("PYTHONPATH", "")])}
    outputs = []
    for cmd in _walkthrough():
        exe = [sys.executable, "-m", "mnist_classic", *cmd[1:]]
        done = subprocess.run(exe, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.append(done.stdout)
    assert "[entry point: mnist-classic-example (mnist_classic.pipelines)]" in outputs[0]
    latex = (tmp_path / "my-report" / "report.tex").read_text()
    assert r"\toprule" in latex and "vs rff" in latex
    first = latex[latex.index(r"\toprule") : latex.index(r"\bottomrule")]  # the results table (the cost table follows)
    rows = [line for line in first.splitlines() if line.startswith(("rff", "svm", "knn", "logreg"))]
    assert len(rows) == 4 and "reference" in rows[0]
    assert all(re.search(r"pt, p = ", row) for row in rows[1:])  # McNemar against the user's method
