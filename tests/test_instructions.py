"""run --measure instructions: counts under callgrind, and compare's verdicts on them.

The verdict logic runs on synthetic result files everywhere; the runs under
valgrind need valgrind (Linux) and pytest-codspeed's client requests, and are
skipped with that reason elsewhere (CI installs both and runs them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from synthetic import predictions, write_run

from mnist_classic.analysis.runs import load_runs
from mnist_classic.analysis.verdicts.compare import compare_runs
from mnist_classic.analysis.verdicts.counts import NOISE_FLOOR, NOISE_INSTRUCTIONS, count_noise
from mnist_classic.bench.counted import counted_values
from mnist_classic.cli import main
from mnist_classic.measure import callgrind

N = 2_000
BASIS = json.dumps({"cpu_model": "Test CPU", "cpu_flags_sha256": "abc", "blas_kernels": "openblas:Haswell"})
COUNTED = {"measure": "instructions", "valgrind_version": "3.19.0", "count_basis": BASIS}


def _have_instructions() -> str:
    try:
        callgrind.require_instructions()
    except callgrind.InstructionsUnavailableError as exc:
        return str(exc)
    return ""


# CI sets MNIST_CLASSIC_REQUIRE_VALGRIND=1 (.ci/run installs valgrind): there a missing valgrind fails, never skips.
_REQUIRED = os.environ.get("MNIST_CLASSIC_REQUIRE_VALGRIND") == "1"
needs_valgrind = pytest.mark.skipif(
    bool(_have_instructions()) and not _REQUIRED, reason=_have_instructions() or "valgrind is here"
)


@pytest.fixture(scope="module")
def truth():
    return np.random.default_rng(0).integers(0, 10, size=N)


def _run(tmp_path, truth, name, fit, predict, *, columns=COUNTED, pipeline="svm"):
    case = {
        "pipeline": pipeline,
        "pred": predictions(truth, 1900),
        "fit_instructions": fit,
        "predict_instructions": predict,
        "fit": [5.0 * (1 + i) for i in range(len(fit))],  # valgrind's wall times: wildly different, never judged
        "columns": columns,
    }
    return load_runs([write_run(tmp_path / f"{name}.csv", truth, [case])])


def _rows(cmp, metric):
    return [r for r in cmp.rows if r.metric == metric]


def test_counts_judged_instead_of_times(tmp_path, truth):
    base = _run(tmp_path, truth, "base", [1_000_000_000] * 3, [500_000_000] * 3)
    new = _run(tmp_path, truth, "new", [1_030_000_000] * 3, [500_100_000] * 3)
    cmp = compare_runs(base, new)
    (fit,) = _rows(cmp, "fit_instructions")
    (pred,) = _rows(cmp, "predict_instructions")
    assert fit.verdict == "worse" and fit.change == pytest.approx(1.03)
    assert pred.verdict == "same" and "inside the noise" in pred.note
    for t in _rows(cmp, "fit_time_s") + _rows(cmp, "predict_time_s"):
        assert t.verdict == "same" and t.note == "timed under valgrind: shown, not judged"
    assert [r.metric for r in cmp.regressions] == ["fit_instructions"]


def test_six_tenths_of_a_percent_pass_the_default_gate_and_fail_a_tighter_one(tmp_path, truth):
    base = _run(tmp_path, truth, "base", [1_000_000_000], [10**9])
    new = _run(tmp_path, truth, "new", [1_006_000_000], [10**9])
    assert not compare_runs(base, new).regressions
    assert [r.metric for r in compare_runs(base, new, max_instructions=1.002).regressions] == ["fit_instructions"]


def test_fewer_instructions_are_better(tmp_path, truth):
    cmp = compare_runs(
        _run(tmp_path, truth, "base", [10**9], [10**9]), _run(tmp_path, truth, "new", [9 * 10**8], [10**9])
    )
    assert _rows(cmp, "fit_instructions")[0].verdict == "better"


def test_noise_floor_is_the_measured_one_or_the_seed_spread(tmp_path, truth):
    # Two runs with the same seeds on the baseline side whose counts differ by 2%: that spread is the noise.
    a = write_run(tmp_path / "a.csv", truth, [_case(truth, [1.00e9])], run_id="a")
    b = write_run(tmp_path / "b.csv", truth, [_case(truth, [1.02e9])], run_id="b")
    new = write_run(tmp_path / "n.csv", truth, [_case(truth, [1.025e9])], run_id="n")
    cmp = compare_runs(load_runs([a, b]), load_runs([new]))
    (fit,) = _rows(cmp, "fit_instructions")
    assert fit.noise == pytest.approx(0.02 / 1.01)
    assert fit.verdict == "unknown"  # x1.015: past the gate, but inside the noise: neither worse nor the same
    assert "within the noise" in fit.note
    alone = compare_runs(load_runs([a]), load_runs([new]))
    assert _rows(alone, "fit_instructions")[0].noise == count_noise(1.00e9) == NOISE_FLOOR + NOISE_INSTRUCTIONS / 1e9
    assert _rows(alone, "fit_instructions")[0].verdict == "worse"


def test_the_noise_of_a_small_region_is_its_fixed_part(tmp_path, truth):
    # 1.5% more of a 1-million-instruction region is within the fixed noise (20,000 instructions: 2%): not
    # judged worse; 1% more of 300 million is found at a gate of 1.005 (noise 0.057%).
    assert count_noise(1_000_000) > 0.015 and count_noise(300_000_000) < 0.005  # the premises above
    base = _run(tmp_path, truth, "base", [1_000_000], [300_000_000])
    new = _run(tmp_path, truth, "new", [1_015_000], [303_000_000])
    cmp = compare_runs(base, new, max_instructions=1.005)
    assert _rows(cmp, "fit_instructions")[0].verdict == "unknown"
    assert "too small to judge" in _rows(cmp, "fit_instructions")[0].note
    assert [r.metric for r in cmp.regressions] == ["predict_instructions"]


def _case(truth, fit):
    return {
        "pipeline": "svm",
        "pred": predictions(truth, 1900),
        "fit_instructions": fit,
        "predict_instructions": fit,
        "columns": COUNTED,
    }


@pytest.mark.parametrize(
    ("other", "why"),
    [
        ({"valgrind_version": "3.22.0"}, "not compared: valgrind 3.19.0 vs 3.22.0"),
        ({"count_basis": BASIS.replace("Test CPU", "Other CPU")}, "not compared: CPU 'Test CPU' vs 'Other CPU'"),
        ({"count_basis": BASIS.replace('"abc"', '"def"')}, "instruction-set flags differ"),
        ({"count_basis": BASIS[:-1] + ', "uncounted": "malloc,free"}'}, "left different allocators out"),
    ],
)
def test_counts_of_another_valgrind_or_cpu_are_not_compared(tmp_path, truth, other, why):
    base = _run(tmp_path, truth, "base", [10**9], [10**9])
    new = _run(tmp_path, truth, "new", [2 * 10**9], [10**9], columns={**COUNTED, **other})
    cmp = compare_runs(base, new)
    (fit,) = _rows(cmp, "fit_instructions")
    assert fit.verdict == "same" and why in fit.note
    assert not cmp.regressions


def test_times_of_one_counted_side_are_not_compared_with_native_ones(tmp_path, truth):
    base = _run(tmp_path, truth, "base", [10**9], [10**9])
    native = load_runs([write_run(tmp_path / "n.csv", truth, [{"pipeline": "svm", "pred": predictions(truth, 1900)}])])
    cmp = compare_runs(base, native)
    assert not _rows(cmp, "fit_instructions")
    for t in _rows(cmp, "fit_time_s"):
        assert t.verdict == "same" and t.note == "not compared: the baseline side was timed under valgrind"


def test_counts_shown_by_compare_history_report_and_export(tmp_path, truth, capsys):
    base = write_run(tmp_path / "base.csv", truth, [_case(truth, [1e9])], extra={"sklearn_version": "1.5"})
    new = write_run(tmp_path / "new.csv", truth, [_case(truth, [1.05e9])], extra={"sklearn_version": "1.6"})
    assert main(["compare", str(base), str(new)]) == 1
    out = capsys.readouterr().out
    assert "fit instr" in out and "1,000.00 M" in out and "x1.0500" in out
    assert "REGRESSION in 2 metric(s): svm n_train=60000 (fit_instructions), svm n_train=60000 (predict" in out
    assert main(["history", str(base), str(new), "--out", str(tmp_path / "h")]) == 1
    md = (tmp_path / "h" / "history.md").read_text()
    assert "fit instructions" in md and "1,050.00 M instructions" in md
    assert main(["report", str(new), "--format", "md", "--no-figures", "--out", str(tmp_path / "r")]) == 0
    report = (tmp_path / "r" / "report.md").read_text()
    assert "fit M instr" in report and "1,050.0" in report
    assert main(["export", str(new), "--format", "github-action", "--output", str(tmp_path / "gh")]) == 0
    smaller = json.loads((tmp_path / "gh" / "smaller_is_better.json").read_text())
    (entry,) = [e for e in smaller if e["unit"] == "instructions" and e["name"].startswith("fit")]
    assert entry["value"] == 1.05e9


def test_read_counts_and_row_values(tmp_path):
    for i, (name, total) in enumerate([("fit/pca", 10), ("fit/svc", 32), ("predict/pca", 3), ("predict/svc", 4)]):
        text = f"version: 1\ncreator: callgrind-3.19.0\ndesc: Trigger: Client Request: {name}\n\nevents: Ir\n"
        (tmp_path / f"callgrind.out.{i + 1}").write_text(text + f"summary: 0\ntotals: {total}\n")
    (tmp_path / "callgrind.out").write_text("desc: Trigger: Program termination\ntotals: 0\n")
    counts = callgrind.read_counts(tmp_path)
    assert counts == {"fit/pca": 10, "fit/svc": 32, "predict/pca": 3, "predict/svc": 4}
    values = counted_values(counts)
    assert values["fit_instructions"] == 42 and values["predict_instructions"] == 7
    assert json.loads(values["step_instructions"]) == {
        "pca": {"fit": 10, "predict": 3},
        "svc": {"fit": 32, "predict": 4},
    }
    assert counted_values({"fit/": 5, "predict/": 6}) == {
        "fit_instructions": 5,
        "predict_instructions": 6,
        "step_instructions": "",
    }


def _write_dump(folder, region, total, graph):
    """A callgrind dump of one region (``total`` instructions) whose call graph is ``graph``, as callgrind writes it."""
    head = (
        f"version: 1\ncreator: callgrind-3.19.0\ndesc: Trigger: Client Request: {region}\npositions: line\nevents: Ir\n"
    )
    (folder / "callgrind.out.1").write_text(f"{head}{graph}summary: {total}\ntotals: {total}\n")


def test_read_counts_leaves_out_calls_into_the_allocators(tmp_path):
    # A region of 1,000 instructions: fn calls malloc (300 with all it called), then realloc, which calls
    # malloc inside (200 in all: counted once, as realloc's); _PyObject_Free (50) from another function.
    _write_dump(
        tmp_path,
        "predict/svc",
        1000,
        """\
fn=(1) predict
0 300
cfn=(2) malloc
calls=2 0
0 300
cfn=(3) realloc
calls=1 0
0 200
cfn=(4) _PyObject_Free
calls=5 0
0 50
fn=(3)
0 120
cfn=(2)
calls=1 0
0 80
fn=(2)
0 380
""",
    )
    assert callgrind.read_counts(tmp_path) == {"predict/svc": 1000 - 300 - 200 - 50}


def test_read_counts_takes_a_nested_allocator_call_out_once(tmp_path):
    # pymalloc passes a large block to malloc through a stub that is not an allocator (a PLT entry, 0x...730);
    # the region also calls the stub itself once. The region's own work: predict's 400 and a third of the
    # stub's 30 (its share of the calls from outside the allocators: 100 of 300). Reading the stub's malloc
    # as a call of its own took it out twice (800 - 300 - 270 = 230), and the count moved with malloc's cost.
    _write_dump(
        tmp_path,
        "predict/work",
        800,
        """\
fn=(1) predict
0 400
cfn=(2) _PyObject_Malloc
calls=1 0
0 300
cfn=(3) 0x0000000004936730
calls=1 0
0 100
fn=(2)
0 100
cfn=(3)
calls=3 0
0 200
fn=(3)
0 30
cfn=(4) malloc
calls=4 0
0 270
fn=(4)
0 270
""",
    )
    assert callgrind.read_counts(tmp_path) == {"predict/work": 800 - 300 - 90}


def test_read_counts_takes_the_method_caches_misses_out(tmp_path):
    # A region whose attribute lookups missed the method cache: _PyType_Lookup (its own 90 counted, as a hit's
    # cost is) walked the MRO (find_name_in_mro, 150 with the dictionary lookups it made) and checked the
    # type's version tag through GCC's specialised copy (assign_version_tag.isra.0, 20). Which lookups miss
    # follows the names' addresses, not the code: the misses are not counted; the dictionary lookup the
    # region made itself (40) is.
    _write_dump(
        tmp_path,
        "fit/rf",
        800,
        """\
fn=(1) fit
0 500
cfn=(2) _PyType_Lookup
calls=6 0
0 260
cfn=(5) _Py_dict_lookup
calls=1 0
0 40
fn=(2)
0 90
cfn=(3) find_name_in_mro
calls=3 0
0 150
cfn=(4) assign_version_tag.isra.0
calls=3 0
0 20
fn=(3)
0 60
cfn=(5)
calls=9 0
0 90
fn=(4)
0 20
fn=(5)
0 130
""",
    )
    assert callgrind.read_counts(tmp_path) == {"fit/rf": 800 - 150 - 20}
    assert set(callgrind.CACHE_MISSES) <= set(callgrind.UNCOUNTED)


def test_counted_environment_is_one_thread_and_fixed():
    env = callgrind.counted_environment({"OMP_NUM_THREADS": "8", "HOME": "/h"})
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
    assert env["PYTHONHASHSEED"] == "0" and "mmap_threshold" in env["GLIBC_TUNABLES"] and env["HOME"] == "/h"


@pytest.mark.slow
def test_missing_valgrind_is_one_line_and_exit_2(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no valgrind on this PATH
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_classic", "run", "--measure", "instructions", "--pipelines", "dummy"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "needs valgrind, which is not on PATH" in proc.stderr
    assert "apt-get install valgrind" in proc.stderr
    assert not list(tmp_path.glob("*.csv"))


def test_missing_client_requests_say_how_to_get_them(monkeypatch):
    monkeypatch.setattr(callgrind, "valgrind_version", lambda: "3.19.0")
    monkeypatch.setattr(callgrind, "_hooks_library", lambda: None)
    with pytest.raises(callgrind.InstructionsUnavailableError, match=r"mnist-classic\[instructions\]"):
        callgrind.require_instructions()


def test_measure_is_validated(tmp_path, capsys):
    assert main(["run", "--measure", "cycles", "--pipelines", "dummy", "-o", str(tmp_path / "x.csv")]) == 2
    assert "invalid choice: 'cycles'" in capsys.readouterr().err


PLUGIN = textwrap.dedent(
    """
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.neighbors import NearestCentroid

    from mnist_classic import register_pipeline

    EXTRA = {extra}


    class Work(ClassifierMixin, BaseEstimator):
        def __init__(self, units=40):
            self.units = units

        def fit(self, X, y):
            W = np.random.default_rng(0).standard_normal((X.shape[1], 16)).astype(X.dtype)
            self.acc_ = sum(float(np.abs(X @ W).sum()) for _ in range(self.units + round(self.units * EXTRA)))
            self.nc_ = NearestCentroid().fit(X, y)
            self.classes_ = self.nc_.classes_
            return self

        def predict(self, X):
            return self.nc_.predict(X)


    @register_pipeline("work", "fixed deterministic work, then nearest centroid")
    def work():
        return Work()
    """
)


@needs_valgrind
@pytest.mark.slow
def test_counted_runs_gate_a_change_of_known_size(tmp_path):
    """Two counted runs of the same code agree; 5% more work in one fit is the only regression."""
    for name, extra in (("same", 0.0), ("more", 0.05)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "work_plugin.py").write_text(PLUGIN.format(extra=extra))
    common = ["--measure", "instructions", "--n-train", "300", "--n-test", "300", "--n-jobs", "2", "-q"]
    pipelines = ["--pipelines", "knn", "sklearn.preprocessing:StandardScaler+dummy", "work"]

    def run(plugin, out):  # each in its own process, as a user runs them (a plugin registers once per process)
        argv = [sys.executable, "-m", "mnist_classic", "run", *common, *pipelines, "--plugin", str(plugin), "-o", out]
        subprocess.run(argv, check=True, capture_output=True)

    run(tmp_path / "same" / "work_plugin.py", tmp_path / "a.csv")
    run(tmp_path / "same" / "work_plugin.py", tmp_path / "b.csv")
    run(tmp_path / "more" / "work_plugin.py", tmp_path / "c.csv")
    a = pd.read_csv(tmp_path / "a.csv")
    assert set(a["measure"]) == {"instructions"} and set(a["execution"]) == {"callgrind"}
    assert (a["fit_instructions"] > 0).all() and (a["predict_instructions"] > 0).all()
    assert a["valgrind_version"].iloc[0] == callgrind.valgrind_version()
    steps = json.loads(a.loc[a["pipeline"] != "knn", "step_instructions"].dropna().iloc[0])
    assert set(steps) == {"standardscaler", "dummyclassifier"}
    assert all(v["fit"] > 0 and v["predict"] > 0 for v in steps.values())
    basis = json.loads(a["count_basis"].iloc[0])
    assert basis["threads"] == "1" and basis["cpu_model"]
    assert basis["uncounted"].split(",") == list(callgrind.UNCOUNTED)  # glibc's and pymalloc's allocators not counted

    same = compare_runs(load_runs([tmp_path / "a.csv"]), load_runs([tmp_path / "b.csv"]))
    assert not same.regressions
    more = compare_runs(load_runs([tmp_path / "a.csv"]), load_runs([tmp_path / "c.csv"]))
    assert [(r.pipeline, r.metric) for r in more.regressions] == [("work", "fit_instructions")]


def test_the_counted_child_draws_the_same_entropy_every_time():
    code = (
        "from mnist_classic.bench.counted import fixed_entropy; fixed_entropy(); import os, numpy as np; "
        "print(np.random.SeedSequence().entropy, os.urandom(4).hex())"
    )
    draws = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    assert len(draws) == 1  # without it, numpy's entropy differs in every process
    plain = "import numpy as np; print(np.random.SeedSequence().entropy)"
    unfixed = {subprocess.run([sys.executable, "-c", plain], capture_output=True, text=True).stdout for _ in range(2)}
    assert len(unfixed) == 2
