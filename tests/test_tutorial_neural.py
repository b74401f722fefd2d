"""docs/neural.md runs: every ``python`` cell and every ``console`` command, in order, in a fresh folder."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from mnist_classic.cli import main

CHAPTER = Path(__file__).resolve().parents[1] / "docs" / "neural.md"
CELL = re.compile(r"^```(?P<lang>python|console)\n(?P<body>.*?)^```$", re.M | re.S)


def cells() -> list[tuple[str, str]]:
    """(language, source) of each executable cell, in the order of the page."""
    return [(m["lang"], m["body"]) for m in CELL.finditer(CHAPTER.read_text())]


def test_the_chapter_has_every_step():
    text = CHAPTER.read_text()
    for heading in ("An MLP across activations and optimizers", "The CNN line", "Reading the learning curves"):
        assert re.search(rf"^## \d\. {heading}", text, re.M), heading
    commands = " ".join(body for lang, body in cells() if lang == "console")
    assert "mlp[activation=[relu,tanh],solver=[adam,sgd]" in commands
    assert all(f"{name}[max_epochs=" in commands for name in ("lenet5", "resnet", "mobilenet", "vit"))


@pytest.mark.slow
def test_every_cell_runs_in_order(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__tutorial__"}
    for i, (lang, body) in enumerate(cells()):
        if lang == "python":
            exec(compile(body, f"{CHAPTER.name}, cell {i}", "exec"), namespace)
            continue
        for line in body.splitlines():
            assert line.startswith("$ mnist-classic "), f"cell {i}: only mnist-classic commands: {line!r}"
            assert main(shlex.split(line[2:])[1:]) == 0, f"cell {i}: {line}\n{capsys.readouterr().err}"
    out = capsys.readouterr().out
    assert "adam" in out and "sgd" in out and "loss by epoch" in out
    cnn = namespace["cnn"]
    assert list(cnn["pipeline"]) == [f"{n}[max_epochs=2]" for n in ("lenet5", "resnet", "mobilenet", "vit")]
    assert (cnn["status"] == "ok").all() and (cnn["accuracy"] > 0.2).all()  # two epochs: above chance
    assert len(namespace["mlp"]) == 4
    report = (tmp_path / "cnn-report" / "report.md").read_text()
    assert "neural networks" in report and (tmp_path / "cnn-report" / "figures" / "neural-years-mnist.png").exists()
