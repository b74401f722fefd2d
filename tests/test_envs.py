"""Isolated environments: keys, caching, atomic builds and one-line errors (installer faked); one real build."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_classic.matrix import envs
from mnist_classic.matrix.envs import EnvBuildError, build_env, env_key

KEY_ARGS = {"python_version": "3.11.7", "project_version": "0.1.0"}


def test_key_ignores_order_and_whitespace():
    assert env_key(["b==1", "a==2"], **KEY_ARGS) == env_key([" a==2", "b==1 ", "a==2"], **KEY_ARGS)


@pytest.mark.parametrize(
    "change",
    [
        {"requirements": ["a==3"]},
        {"python_version": "3.12.1"},
        {"project_version": "0.2.0"},
        {"source_digest": "edited"},
    ],
)
def test_key_changes_with_each_input(change):
    base = {"requirements": ["a==2"], **KEY_ARGS}
    assert env_key(**base) != env_key(**{**base, **change})


@pytest.mark.parametrize("bad", [[""], ["  "], ["--index-url=http://x"], ["a==1\nb"], [None]])
def test_bad_requirements_name_the_parameter(bad):
    with pytest.raises(ValueError, match="The 'requirements' parameter must hold requirement strings"):
        env_key(bad, **KEY_ARGS)


def test_a_string_is_not_a_list_of_requirements():
    with pytest.raises(TypeError, match="The 'requirements' parameter must be a list"):
        build_env("scikit-learn==1.6.1")


def test_bad_installer(tmp_path):
    with pytest.raises(ValueError, match=r"The 'installer' parameter must be one of auto, uv, pip\. Got 'conda'"):
        build_env([], installer="conda", cache_dir=tmp_path)


def test_project_must_be_a_source_dir(tmp_path):
    with pytest.raises(ValueError, match="The 'project' parameter must be a source directory"):
        build_env([], project=tmp_path, cache_dir=tmp_path / "cache", installer="pip")


class FakeInstaller:
    """Stands in for venv/uv/pip: makes bin/python a copy-free wrapper of this interpreter, or fails."""

    def __init__(self, fail_on: str | None = None):
        self.fail_on = fail_on
        self.calls: list[list[str]] = []

    def __call__(self, cmd, log, timeout):
        cmd = [str(c) for c in cmd]
        self.calls.append(cmd)
        log.write("fake output\n")
        if self.fail_on and self.fail_on in " ".join(cmd):
            raise EnvBuildError("ERROR: No matching distribution found for scikit-learn==0.0")
        if "venv" in cmd:
            target = Path(cmd[-1])
            (target / "bin").mkdir(parents=True, exist_ok=True)
            python = target / "bin" / "python"
            # a stand-in interpreter: this test's Python, which imports mnist_classic and sklearn
            python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
            python.chmod(0o755)


@pytest.fixture
def fake(monkeypatch):
    installer = FakeInstaller()
    monkeypatch.setattr(envs, "_run", installer)
    monkeypatch.setenv("PYTHONPATH", str(Path(envs.__file__).resolve().parents[2]))
    return installer


def test_build_then_reuse(tmp_path, fake):
    env = build_env(["scikit-learn"], cache_dir=tmp_path, installer="pip")
    assert env.path == tmp_path / env.key
    assert env.python.exists()
    assert env.versions["mnist-classic"]
    assert set(env.versions) >= {"python", "scikit-learn", "numpy", "scipy", "pandas"}
    assert json.loads((env.path / envs.MARKER).read_text())["requirements"] == ["scikit-learn"]
    n = len(fake.calls)
    again = build_env(["scikit-learn"], cache_dir=tmp_path, installer="pip")
    assert again == env
    assert len(fake.calls) == n  # cached: no installer call
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".building")] == []


def test_pip_installs_the_project_and_pins_together(tmp_path, fake):
    build_env(["scikit-learn==1.6.1", "numpy<2"], cache_dir=tmp_path, installer="pip")
    install = fake.calls[-1]
    assert install[1:4] == ["-m", "pip", "install"]
    assert Path(install[-3]) == envs.project_root()
    assert install[-2:] == ["numpy<2", "scikit-learn==1.6.1"]
    assert "-e" not in install


def test_failed_build_leaves_nothing_and_says_why_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(envs, "_run", FakeInstaller(fail_on="pip install"))
    with pytest.raises(EnvBuildError) as info:
        build_env(["scikit-learn==0.0"], cache_dir=tmp_path, installer="pip")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("Could not build the environment for scikit-learn==0.0: ERROR: No matching distribution")
    assert "log: " in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]  # no env, no temporary folder


def test_env_that_does_not_import_is_refused(tmp_path, monkeypatch, fake):
    monkeypatch.setenv("PYTHONPATH", "")
    monkeypatch.setattr(envs, "_CHECK", "import no_such_module_xyz")
    with pytest.raises(EnvBuildError, match=r"built, but importing mnist_classic .* fails: .*no_such_module_xyz"):
        build_env([], cache_dir=tmp_path, installer="pip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]


@pytest.mark.slow
def test_junk_in_the_cache_is_not_taken_for_an_env(tmp_path, fake):
    key_env = build_env([], cache_dir=tmp_path / "a", installer="pip")
    junk = tmp_path / "b" / key_env.key
    (junk / "half").mkdir(parents=True)
    with pytest.raises(EnvBuildError, match="exists and is not a finished environment; remove it"):
        build_env([], cache_dir=tmp_path / "b", installer="pip")


def test_last_error_line():
    uv = (
        "Using Python 3.11.7 environment at: /x\n"
        "error: No solution found when resolving dependencies\n"
        "  cause: Because mnist-classic==0.1.0 depends on scikit-learn>=1.3,\n"
        "         and you require scikit-learn==1.2.2, your requirements are unsatisfiable.\n"
        "  hint: something\n"
    )
    assert envs._last_error_line(uv) == (
        "Because mnist-classic==0.1.0 depends on scikit-learn>=1.3, "
        "and you require scikit-learn==1.2.2, your requirements are unsatisfiable."
    )
    tty = "Collecting x\n  \u00d7 No solution found:\n  \u2570\u2500\u25b6 Because numpy==9 ...\n"
    assert envs._last_error_line(tty) == "Because numpy==9 ..."
    pip = "a\nERROR: Cannot install x and y: conflicting dependencies.\nERROR: ResolutionImpossible: see docs\n"
    assert envs._last_error_line(pip) == "ERROR: Cannot install x and y: conflicting dependencies."
    assert envs._last_error_line("a\nlast\n") == "last"


@pytest.mark.slow
def test_real_build_runs_the_suite(tmp_path):
    """One real environment (the scikit-learn already installed here, so the installer's cache serves it)."""
    import sklearn

    env = build_env([f"scikit-learn=={sklearn.__version__}"], cache_dir=tmp_path)
    assert env.versions["scikit-learn"] == sklearn.__version__
    out = tmp_path / "x.csv"
    cmd = [env.python, "-m", "mnist_classic", "run", "--n-train", "200", "--n-test", "100", "--pipelines", "dummy"]
    proc = subprocess.run([*map(str, cmd), "--output", str(out)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().count("\n") == 2
