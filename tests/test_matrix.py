"""matrix: run options checked before any build, one line per environment, the log beside the CSV, a real build."""

from __future__ import annotations

import json

import pytest

from mnist_classic.cli import main
from mnist_classic.matrix import run as matrix_run
from mnist_classic.matrix.envs import EnvBuildError
from mnist_classic.matrix.run import parse_env_spec, run_matrix


def test_env_spec_splits_like_a_shell():
    assert parse_env_spec("scikit-learn==1.6.1  'numpy<2'") == ["scikit-learn==1.6.1", "numpy<2"]
    with pytest.raises(ValueError, match="The '--env' option takes requirements separated by spaces"):
        parse_env_spec("  ")
    with pytest.raises(ValueError, match="The '--env' option takes requirements separated by spaces"):
        parse_env_spec("'unbalanced")


def test_run_options_are_checked_before_anything_is_built(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(matrix_run, "build_env", lambda *a, **k: pytest.fail("built an environment"))
    code = main(["matrix", "--env", "scikit-learn==1.6.1", "--n-train", "1k", "-o", str(tmp_path / "x.csv")])
    assert code == 2
    assert capsys.readouterr().err.startswith("mnist-classic matrix (run options): argument --n-train:")
    assert main(["matrix", "--env", "x", "--no-such-option", "-o", str(tmp_path / "x.csv")]) == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_a_failed_build_is_one_line_and_logged_and_the_others_go_on(tmp_path, monkeypatch, capsys):
    """The failure path with the real installer: a requirement that cannot resolve (rejected before any download)."""
    ran = []

    def fake_run(python, run_args, output, on_output, timeout):
        ran.append(list(run_args))
        return 0, ["done"]

    monkeypatch.setattr(matrix_run, "_run_in", fake_run)
    real_build = matrix_run.build_env

    def build(reqs, **kwargs):
        if reqs == ["scikit-learn==1.6.1"]:
            raise EnvBuildError("Could not build the environment for scikit-learn==1.6.1: stand-in")
        return real_build(reqs, **kwargs)

    monkeypatch.setattr(matrix_run, "build_env", build)
    out = tmp_path / "m.csv"
    argv = ["matrix", "--env", "scikit-learn==0.0.1nope", "--env", "scikit-learn==1.6.1", "--envs-dir", str(tmp_path)]
    code = main([*argv, "--pipelines", "dummy", "-o", str(out)])
    printed = capsys.readouterr().out.splitlines()
    assert code == 1
    assert printed[0].startswith("FAILED  scikit-learn==0.0.1nope: Could not build the environment for ")
    cause = "Could not build the environment for scikit-learn==1.6.1: stand-in"
    assert printed[1] == f"FAILED  scikit-learn==1.6.1: {cause}"
    assert printed[-1].endswith("m.matrix.json") and "0 of 2 environments" in printed[-1]
    assert ran == []
    (entry,) = json.loads((tmp_path / "m.matrix.json").read_text())["matrix_runs"]
    assert [e["status"] for e in entry["envs"]] == ["build-failed", "build-failed"]
    assert entry["run_args"] == ["--pipelines", "dummy"]


def test_a_failed_run_is_recorded_with_its_cause(tmp_path, monkeypatch):
    from mnist_classic.matrix.envs import Env

    def build(reqs, **kwargs):
        return Env(tmp_path, "k", tuple(reqs), {"scikit-learn": reqs[0].split("==")[1], "numpy": "2"})

    codes = iter([(0, ["ok"]), (2, ["mnist-classic: error: The 'engine' parameter must ...", ""])])
    monkeypatch.setattr(matrix_run, "build_env", build)
    monkeypatch.setattr(matrix_run, "_run_in", lambda *a: next(codes))
    result = run_matrix(["scikit-learn==1.7.2", "scikit-learn==1.6.1"], ["-q"], tmp_path / "r.csv")
    assert [o.status for o in result.outcomes] == ["ok", "run-failed"]
    assert result.outcomes[1].message == "mnist-classic: error: The 'engine' parameter must ..."
    assert result.exit_code == 1
    assert "run exited with 2" in result.outcomes[1].line
    # a second matrix into the same CSV adds an entry to the log
    codes = iter([(0, [])])
    run_matrix(["scikit-learn==1.7.2"], [], tmp_path / "r.csv")
    assert len(json.loads(result.log.read_text())["matrix_runs"]) == 2


@pytest.mark.slow
def test_a_real_matrix_of_one_environment(tmp_path, capsys):
    """One real environment (this scikit-learn, so the installer's cache serves it), run through the command."""
    import sklearn

    out = tmp_path / "m.csv"
    argv = ["matrix", "--env", f"scikit-learn=={sklearn.__version__}", "--envs-dir", str(tmp_path / "envs")]
    code = main([*argv, "--pipelines", "dummy", "--n-train", "200", "--n-test", "100", "-q", "-o", str(out)])
    assert code == 0, capsys.readouterr()
    assert out.read_text().count("\n") == 2
    assert f"scikit-learn {sklearn.__version__}" in capsys.readouterr().out
