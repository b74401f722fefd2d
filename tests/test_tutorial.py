"""docs/tutorial.md runs: every ``python`` cell and every ``console`` command, in order, in a fresh folder."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
from pathlib import Path

import pytest

from mnist_classic.cli import main

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
CELL = re.compile(r"^```(?P<lang>python|console)\n(?P<body>.*?)^```$", re.M | re.S)


def cells() -> list[tuple[str, str]]:
    """(language, source) of each executable cell, in the order of the page."""
    return [(m["lang"], m["body"]) for m in CELL.finditer(TUTORIAL.read_text())]


def _frameworks_installed(body: str) -> bool:
    """The frameworks a cell imports are installed (Keras runs on the torch backend here)."""
    needs = {"torch"} if "mnist_classic.torch" in body else set()
    needs |= {"keras", "torch"} if "mnist_classic.keras" in body else set()
    return all(importlib.util.find_spec(name) is not None for name in needs)


def test_the_tutorial_has_every_step():
    langs = [lang for lang, _ in cells()]
    assert langs.count("python") >= 6 and langs.count("console") >= 4
    text = TUTORIAL.read_text()
    headings = ("Load", "Look", "Fit one pipeline", "Run the benchmark", "Compare two runs", "Write a report")
    for heading in (*headings, "Which differences are real"):
        assert re.search(rf"^## \d\. {heading}", text, re.M), heading


@pytest.mark.slow
def test_every_cell_runs_in_order(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__tutorial__"}
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "torch"))  # restored after the cells
    for i, (lang, body) in enumerate(cells()):
        if lang == "python" and not _frameworks_installed(body):
            continue  # a PyTorch or Keras cell: tests/test_frameworks.py runs it where they are installed
        if lang == "python":
            exec(compile(body, f"{TUTORIAL.name}, cell {i}", "exec"), namespace)
            continue
        for line in body.splitlines():
            assert line.startswith("$ mnist-classic "), f"cell {i}: only mnist-classic commands: {line!r}"
            argv = shlex.split(line[2:])
            assert main(argv[1:]) == 0, f"cell {i}: {line}\n{capsys.readouterr().err}"
    out = capsys.readouterr().out
    assert "(2000, 784) float32 (1000, 784)" in out
    assert "pca_svm[pca__n_components=30]" in out
    assert "exit status: 0" in out
    assert (tmp_path / "preview" / "samples-mnist.png").exists()
    assert (tmp_path / "report" / "report.md").exists()
    assert "Cochran's Q = " in out and "vs dummy, Holm p = " in out
