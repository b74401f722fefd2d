"""docs/errors.md is true: every documented misuse gives exactly the documented line and exit status."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from errors_fixtures import build

from mnist_classic.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
ROW = re.compile(r"^\| (?P<case>[^|]+) \| `(?P<command>[^`]+)` \| (?P<code>\d) \| `(?P<message>.*)` \|$")


def _rows():
    rows = [m.groupdict() for line in DOC.read_text().splitlines() if (m := ROW.match(line))]
    assert len(rows) >= 20, "the table of docs/errors.md was not found"
    return rows


@pytest.fixture(scope="module")
def placeholders(tmp_path_factory):
    return build(tmp_path_factory.mktemp("hostile"))


def _run(command: str, placeholders: dict[str, str], capsys) -> tuple[int, str, str]:
    argv = shlex.split(command.format(**placeholders))
    assert argv[0] == "mnist-classic"
    code = main(argv[1:])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["case"])
def test_documented_error(row, placeholders, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a run that wrongly went ahead would write here
    code, _, err = _run(row["command"], placeholders, capsys)
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert code == int(row["code"])
    assert err.strip() == row["message"].format(**placeholders)
    if code == 2:
        assert not (tmp_path / "mnist_classic_results.csv").exists()


def test_regenerate(placeholders, capsys):
    """With MNIST_CLASSIC_WRITE_ERRORS_DOC=1, rewrite the table from what the commands print."""
    if not os.environ.get("MNIST_CLASSIC_WRITE_ERRORS_DOC"):
        pytest.skip("set MNIST_CLASSIC_WRITE_ERRORS_DOC=1 to regenerate docs/errors.md")
    lines = DOC.read_text().splitlines()
    out = []
    for line in lines:
        m = ROW.match(line)
        if m:
            code, _, err = _run(m["command"], placeholders, capsys)
            message = err.strip()
            for key in sorted(placeholders, key=lambda k: -len(placeholders[k])):
                message = message.replace(placeholders[key], "{" + key + "}")
            line = f"| {m['case']} | `{m['command']}` | {code} | `{message}` |"
        out.append(line)
    DOC.write_text("\n".join(out) + "\n")
