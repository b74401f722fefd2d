"""bisect: git bisect run over a small repository of a plugin whose fit gets 5% more work at one commit."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap

import pytest

from mnist_classic.cli import main
from mnist_classic.matrix.bisect import BisectResult, BisectStep, format_table
from mnist_classic.measure import callgrind

_PLUGIN = """
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.neighbors import NearestCentroid

EXTRA = {extra}  # this fraction more units of work in fit


class Work(ClassifierMixin, BaseEstimator):
    def __init__(self, units=40):
        self.units = units

    def fit(self, X, y):
        W = np.random.default_rng(0).standard_normal((X.shape[1], 64)).astype(X.dtype)
        self.acc_ = sum(float(np.abs(X @ W).sum()) for _ in range(self.units + round(self.units * EXTRA)))
        self.nc_ = NearestCentroid().fit(X, y)
        self.classes_ = self.nc_.classes_
        return self

    def predict(self, X):
        return self.nc_.predict(X)


from mnist_classic import register_pipeline

register_pipeline("work", "known work in fit")(Work)
"""


def _git(repo, *args):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def _repo(tmp_path, extras):
    """A git repository with one commit per entry of ``extras``: (EXTRA of work.py, commit subject)."""
    repo = tmp_path / "plugin"
    repo.mkdir()
    _git(repo, "init", "-q")
    commits = []
    for extra, subject in extras:
        (repo / "work.py").write_text(textwrap.dedent(_PLUGIN).format(extra=extra))
        (repo / "NOTES").write_text(subject + "\n")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", subject)
        commits.append(_git(repo, "rev-parse", "HEAD"))
    return repo, commits


def test_misuse_is_one_line_exit_2(tmp_path, capsys):
    assert main(["bisect", "HEAD~1", "HEAD", "--repo", str(tmp_path), "--", "--pipelines", "work"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "git rev-parse" in err
    repo, _ = _repo(tmp_path, [(0.0, "first")])
    assert main(["bisect", "nope", "HEAD", "--repo", str(repo), "--", "--pipelines", "work"]) == 2
    assert "GOOD is not a commit of" in capsys.readouterr().err
    assert main(["bisect", "HEAD", "HEAD", "--repo", str(repo)]) == 2
    assert "give run options after '--'" in capsys.readouterr().err
    assert main(["bisect", "HEAD", "HEAD", "--runs", "0", "--", "--pipelines", "work"]) == 2
    assert main(["bisect", "HEAD", "HEAD", "--", "--pipelines", "work", "--n-train", "x"]) == 2
    assert "bisect (run options)" in capsys.readouterr().err


def test_the_table_names_the_first_bad_commit():
    steps = [BisectStep("a" * 40, "base", "good", note="the baseline"), BisectStep("b" * 40, "more work", "bad", "x")]
    text = format_table(BisectResult("b" * 40, steps))
    assert text.splitlines()[0].split() == ["commit", "verdict", "moved", "most", "subject"]
    assert text.splitlines()[-1] == f"first bad commit: {'b' * 40} more work"
    assert format_table(BisectResult(None, steps, "could be any of")).endswith(
        "no single first bad commit: could be any of\n"
    )


@pytest.mark.slow
@pytest.mark.skipif(
    bool(callgrind.valgrind_version() is None or callgrind._hooks_library() is None) or shutil.which("git") is None,
    reason="needs valgrind, pytest-codspeed's client requests and git",
)
def test_bisect_names_the_commit_that_added_5_percent_of_work(tmp_path, capsys):
    history = [(0.0, "start"), (0.0, "docs"), (0.05, "five percent more work"), (0.05, "tidy"), (0.05, "more docs")]
    repo, commits = _repo(tmp_path, history)
    run = ["--pipelines", "work", "--plugin", "work.py", "--n-train", "100", "--n-test", "100"]
    code = main(["bisect", commits[0], commits[-1], "--repo", str(repo), "--phase", "fit", "--", *run])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert out.splitlines()[-1] == f"first bad commit: {commits[2]} five percent more work"
    table = {line.split()[0]: line for line in out.splitlines()[2:-1]}
    assert table[commits[0][:12]].split()[1] == "good" and table[commits[-1][:12]].split()[1] == "bad"
    assert "fit_instructions x1.0" in table[commits[-1][:12]]
    assert _git(repo, "worktree", "list").count("\n") == 0  # the temporary worktree is gone
    assert _git(repo, "rev-parse", "HEAD") == commits[-1]  # the user's checkout never moved
