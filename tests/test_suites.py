"""Suites: named sets of registered pipelines, on the command line, in run files and in summaries."""

from __future__ import annotations

import pytest

from mnist_classic import read_results
from mnist_classic.cli import main
from mnist_classic.spec.pipelines import PIPELINES, SUITES, suite_pipelines


def test_every_suite_names_registered_pipelines():
    assert {"default", "extended", "lecun", "neural", "cnn"} <= set(SUITES)
    for suite in SUITES.values():
        assert all(p in PIPELINES for p in suite.pipelines), suite.name
    extended = set(SUITES["extended"].pipelines)
    classical = {n for n in PIPELINES if n not in ("dummy", *SUITES["cnn"].pipelines)}
    assert extended == classical  # "every classical pipeline"
    assert suite_pipelines(["default", "neural"])[:5] == list(SUITES["default"].pipelines)


@pytest.mark.slow
def test_run_with_a_suite_and_more_pipelines(tmp_path, capsys):
    out = tmp_path / "r.csv"
    argv = ["run", "--suite", "default", "--pipelines", "dummy", "--n-train", "100", "--n-test", "50", "-o", str(out)]
    assert main([*argv, "-q"]) == 0
    assert read_results(out)["pipeline"].tolist() == [*SUITES["default"].pipelines, "dummy"]
    assert main(["summary", str(out), "--suite", "default", "--total"]) == 0
    text = capsys.readouterr().out
    assert "dummy" not in text.split("cases written")[-1] and "over 5 cases" in text


def test_unknown_suite_is_one_line(tmp_path, capsys):
    assert main(["run", "--suite", "defalt", "-o", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "The '--suite' option must be one of default, extended" in err
    with pytest.raises(ValueError, match="must be one of"):
        suite_pipelines(["nope"])


def test_list_shows_the_suites(capsys):
    assert main(["list", "suites"]) == 0
    out = capsys.readouterr().out
    for name in ("default", "extended", "lecun", "neural"):
        assert f"   {name}" in out
