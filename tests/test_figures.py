"""figures: written from synthetic runs as valid PNG and SVG; Pareto front, exponents, gallery data checks."""

from __future__ import annotations

import base64
import logging
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from synthetic import report_cli

import mnist_classic
from mnist_classic import load_dataset
from mnist_classic.analysis.report.figures import (
    new_figure,
    pareto_front,
    scaling_exponent,
    time_scaling_figure,
    write_figures,
)
from mnist_classic.analysis.report.summary import summarize
from mnist_classic.analysis.runs import load_runs
from mnist_classic.data import DataIntegrityError
from mnist_classic.results import ResultWriter, save_labels

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"
N_TEST = 200
SIZES = (100, 200, 400)


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist", n_test=N_TEST)


def write_sweep(path, mnist, dataset="mnist", sha=None):
    """Two pipelines x three sizes x two repeats on MNIST's first 200 test images, times t = c * n^b."""
    truth = np.asarray(mnist.y_test)
    w = ResultWriter(path)
    truth_sha = save_labels(w.predictions, truth)
    rng = np.random.default_rng(0)
    for name, c, b in (("fast", 1e-4, 1.0), ("slow", 1e-6, 2.0)):
        for n in SIZES:
            for rep in range(2):
                pred = truth.copy()
                wrong = rng.choice(N_TEST, size=40 - n // 20 - 5 * (name == "slow"), replace=False)
                pred[wrong] = (truth[wrong] + 1) % 10
                w.append(
                    {
                        "run_id": "sweep",
                        "dataset": dataset,
                        "pipeline": name,
                        "n_train": n,
                        "n_test": N_TEST,
                        "seed": rep,
                        "repeat": rep,
                        "status": "ok",
                        "accuracy": float(np.mean(pred == truth)),
                        "fit_time_s": c * n**b * (1 + 0.01 * rep),
                        "predict_time_s": 0.01 * (1 + 0.01 * rep),
                        "peak_memory_mb": 100.0,
                        "predictions_sha256": save_labels(w.predictions, pred),
                        "truth_sha256": truth_sha,
                        "subset": "first",
                        **{f"sha256_{role}": h for role, h in (sha or mnist.sha256).items()},
                    }
                )
    return path


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, mnist):
    return write_sweep(tmp_path_factory.mktemp("sweep") / "sweep.csv", mnist)


def test_pareto_front_and_scaling_exponent():
    assert pareto_front([1, 2, 3, 4, 5], [0.90, 0.80, 0.95, 0.95, 0.99]).tolist() == [True, False, True, False, True]
    n = np.array([1000, 2000, 5000, 10000])
    assert scaling_exponent(n, 3e-7 * n**2.0) == pytest.approx(2.0)
    assert scaling_exponent(n, 0.5 * n**0.5) == pytest.approx(0.5)
    assert np.isnan(scaling_exponent([1000, 1000], [1.0, 2.0]))


def test_legend_gives_the_fitted_exponent(sweep):
    fig = time_scaling_figure(summarize(load_runs([sweep])))
    fit_legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert fit_legend == ["fast  ($b$ = 1.00)", "slow  ($b$ = 2.00)"]
    assert fig.axes[0].get_xscale() == fig.axes[0].get_yscale() == "log"


@pytest.mark.slow
def test_report_with_figures_in_every_format(tmp_path, sweep, capsys):
    out = tmp_path / "rep"
    assert report_cli(sweep, "--out", out, "--reference", "fast") == 0
    printed = capsys.readouterr().out.split()
    names = ["pareto", "learning", "scaling", "confusion", "misclassified"]
    pngs = [out / "figures" / f"{n}-mnist.png" for n in names]
    svgs = [p.with_suffix(".svg") for p in pngs]
    figures = [str(p) for pair in zip(pngs, svgs, strict=True) for p in pair]
    assert printed == [*figures, *(str(out / f) for f in ("report.md", "report.tex", "report.html"))]
    for png in pngs:
        assert png.read_bytes().startswith(PNG)
        assert png.stat().st_size < 200_000
    for svg in svgs:
        assert ET.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    md = (out / "report.md").read_text()
    assert "![Accuracy versus fit time](figures/pareto-mnist.png)" in md
    html = (out / "report.html").read_text()
    uris = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(uris) == len(names)
    assert all(base64.b64decode(u).startswith(PNG) for u in uris)
    assert not re.search(r"https?:", html)
    assert (
        r"\includegraphics[width=0.9\linewidth,height=0.75\textheight,keepaspectratio]{figures/pareto-mnist.png}"
        in (out / "report.tex").read_text()
    )


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_with_figures_compiles(tmp_path, sweep):
    report_cli(sweep, "--out", tmp_path, "--format", "latex", "--figure-formats", "png")
    cmd = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "report.tex"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]


def test_images_of_another_payload_are_refused(tmp_path, mnist):
    other = {**mnist.sha256, "test_images": "0" * 64}
    csv = write_sweep(tmp_path / "s.csv", mnist, sha=other)
    df = load_runs([csv])
    with pytest.raises(DataIntegrityError, match=r"sha256_test_images is 000000000000\.\.\. in the CSV"):
        write_figures(df, summarize(df), tmp_path / "f", formats=("png",))


@pytest.mark.slow
def test_unregistered_dataset_skips_the_gallery_with_a_warning(tmp_path, mnist, caplog):
    df = load_runs([write_sweep(tmp_path / "s.csv", mnist, dataset="mydigits")])
    with caplog.at_level(logging.WARNING, logger="mnist_classic.analysis.report.figures"):
        figs = write_figures(df, summarize(df), tmp_path / "f", formats=("svg",))
    assert [f.name for f in figs] == ["pareto-mydigits", "learning-mydigits", "scaling-mydigits", "confusion-mydigits"]
    assert "mydigits is not a registered dataset: pass --data-dir" in caplog.text
    assert sorted(p.suffix for p in (tmp_path / "f").iterdir()) == [".svg"] * 4
    bundled = Path(mnist_classic.__file__).parent / "_data" / "mnist"  # the same payloads, as a local directory
    figs = write_figures(df, summarize(df), tmp_path / "g", formats=("png",), data_dir=str(bundled))
    assert figs[-1].name == "misclassified-mydigits" and figs[-1].paths[0].read_bytes().startswith(PNG)


def test_missing_matplotlib_names_the_extra(monkeypatch, sweep, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "mnist-classic\[report\]"'):
        new_figure(1, 1)
    with pytest.raises(ValueError, match=r"mnist-classic\[report\].*or pass --no-figures"):
        report_cli(sweep, "--out", tmp_path)
    assert report_cli(sweep, "--out", tmp_path, "--no-figures") == 0


def test_import_does_not_need_matplotlib():
    modules = "mnist_classic.analysis.report.summary, mnist_classic.analysis.report.figures"
    code = f"import sys, {modules}; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"
