"""``run --cluster``'s settings checked without a cluster: the spec, the run file's table, the command line.

The runs on a real SLURM cluster are in ``tests/test_slurm.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mnist_classic.cli import main
from mnist_classic.spec.cluster import ClusterSpec, cluster_spec, walltime_seconds
from mnist_classic.spec.runconfig import RunConfig, resolve
from mnist_classic.spec.runfile import read_run_file


def test_spec_defaults_and_values():
    assert cluster_spec(None) is None
    assert cluster_spec("slurm") == ClusterSpec()
    spec = cluster_spec(
        {"kind": "slurm", "jobs": 3, "cores": 4, "memory": "8gb", "walltime": "1-00:00", "extra": ["--qos=x"]}
    )
    assert (spec.jobs, spec.cores, spec.memory, spec.walltime, spec.extra) == (3, 4, "8GB", "1-00:00", ("--qos=x",))
    assert cluster_spec(spec) == spec


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ({"kind": "pbs"}, r"'cluster.kind' parameter must be one of slurm. Got 'pbs'"),
        ({"jobs": 2}, r"'cluster.kind' parameter must be one of slurm. Got None"),
        ({"kind": "slurm", "jobs": 0}, r"'cluster.jobs' parameter must be a positive int. Got 0"),
        ({"kind": "slurm", "jobs": True}, r"'cluster.jobs' parameter must be a positive int. Got True"),
        ({"kind": "slurm", "cores": -1}, r"'cluster.cores' parameter must be a positive int. Got -1"),
        ({"kind": "slurm", "memory": "0GB"}, r"'cluster.memory' parameter must be a positive size .* Got '0GB'"),
        ({"kind": "slurm", "memory": "lots"}, r"'cluster.memory' parameter must be a positive size .* Got 'lots'"),
        ({"kind": "slurm", "memory": 4}, r"'cluster.memory' parameter .* Got 4 instead"),
        ({"kind": "slurm", "walltime": "soon"}, r"'cluster.walltime' parameter .* Got 'soon'"),
        ({"kind": "slurm", "walltime": "00:00:00"}, r"'cluster.walltime' parameter must be a positive"),
        ({"kind": "slurm", "queue": "two words"}, r"'cluster.queue' parameter must be a name without spaces"),
        ({"kind": "slurm", "extra": ["qos=x"]}, r"'cluster.extra' parameter must be a list of sbatch options"),
        ({"kind": "slurm", "nodes": 2}, r"no key 'nodes'; valid keys: kind, jobs, cores"),
    ],
)
def test_spec_refuses(table, match):
    with pytest.raises(ValueError, match=match):
        cluster_spec(table)


def test_walltime_seconds():
    assert walltime_seconds("1-00:00:00") == 86400
    assert walltime_seconds("02:00:00") == 7200
    assert walltime_seconds("30") == 1800
    assert walltime_seconds("infinite") is None


def test_resolve_refuses_what_a_cluster_does_not_take():
    with pytest.raises(ValueError, match="give 'cluster' or 'scheduler', not both"):
        resolve(RunConfig(pipelines=["knn"], cluster="slurm", backend="dask", scheduler="tcp://1.2.3.4:8786"))
    with pytest.raises(ValueError, match=r"'n_jobs' parameter is not used with a cluster.*Got n_jobs=4"):
        resolve(RunConfig(pipelines=["knn"], cluster="slurm", n_jobs=4))
    with pytest.raises(ValueError, match="'timeout' parameter works with cases run one at a time"):
        resolve(RunConfig(pipelines=["knn"], cluster="slurm", timeout=10))
    with pytest.raises(ValueError, match="'cluster' parameter is not used with measure='instructions'"):
        resolve(RunConfig(pipelines=["knn"], cluster="slurm", measure="instructions"))


def test_run_file_table(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        'pipelines = ["knn"]\n[cluster]\nkind = "slurm"\njobs = 4\ncores = 2\nqueue = "cpu"\n'
        'python = "venv/bin/python"\n'
    )
    values, _ = read_run_file(path)
    assert values["cluster"] == {
        "kind": "slurm",
        "jobs": 4,
        "cores": 2,
        "queue": "cpu",
        "python": str(tmp_path / "venv/bin/python"),
    }
    path.write_text('[cluster]\nkind = "slurm"\nwalltme = "01:00:00"\n')
    with pytest.raises(ValueError, match=r"unknown key 'walltme' in \[cluster\] \(did you mean 'walltime'\?\)"):
        read_run_file(path)


def _run(capsys, tmp_path: Path, *args: str) -> tuple[int, str]:
    out = tmp_path / "r.csv"
    code = main(["run", "--pipelines", "knn", "--n-train", "100", "--n-test", "50", "-o", str(out), *args])
    err = capsys.readouterr().err.strip()
    assert not out.exists(), "nothing is written on a bad input"
    return code, err


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--cluster", "slurm", "--cluster-jobs", "0"], "The 'cluster.jobs' parameter must be a positive int. Got 0"),
        (["--cluster-jobs", "2"], "The '--cluster-jobs' option needs a cluster: --cluster slurm"),
        (["--cluster", "pbs"], "argument --cluster: invalid choice: 'pbs'"),
    ],
)
def test_cli_bad_input_one_line_exit_2(capsys, tmp_path, args, match):
    code, err = _run(capsys, tmp_path, *args)
    assert code == 2
    assert match in err
    assert len(err.splitlines()) == 1


def test_cli_without_dask_jobqueue(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)  # import fails as when it is not installed
    code, err = _run(capsys, tmp_path, "--cluster", "slurm")
    assert code == 2
    assert (
        err
        == "mnist-classic: error: "
        + 'The \'cluster\' parameter "slurm" needs dask-jobqueue: pip install "mnist-classic[slurm]"'
    )


def test_cli_without_sbatch(capsys, tmp_path, monkeypatch):
    pytest.importorskip("dask_jobqueue")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, err = _run(capsys, tmp_path, "--cluster", "slurm")
    assert code == 2
    assert err.endswith("The 'cluster' parameter \"slurm\" needs SLURM's sbatch on the PATH; no sbatch was found")
