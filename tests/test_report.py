"""report: tables from small synthetic result files, in every format, and the published-reference data."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from scipy import stats
from synthetic import SHA, predictions, report_cli, write_run

from mnist_classic.analysis.report.published import load_published, pipeline_family, published_reference
from mnist_classic.analysis.report.render import latex_escape
from mnist_classic.analysis.report.summary import build_report
from mnist_classic.analysis.runs import load_runs
from mnist_classic.analysis.stats import accuracy_interval
from mnist_classic.results import ResultsSchemaError

N = 10_000


@pytest.fixture(scope="module")
def truth():
    return np.random.default_rng(0).integers(0, 10, size=N)


@pytest.fixture(scope="module")
def run_csv(tmp_path_factory, truth):
    rf = [predictions(truth, n, seed=s) for s, n in enumerate((9600, 9650, 9700))]
    cases = [
        {"pipeline": "svm", "preds": [predictions(truth, 9837)]},
        {"pipeline": "rf", "preds": rf},
        {"pipeline": "knn", "n_train": 1000, "preds": [predictions(truth, 9000)]},
        {"pipeline": "pca_svm[pca__n_components=30]", "preds": [predictions(truth, 9800)]},
        {"pipeline": "logreg", "status": "timeout"},
    ]
    return write_run(tmp_path_factory.mktemp("runs") / "run.csv", truth, cases)


def test_wilson_interval_of_9837_of_10000():
    lo, hi, how = accuracy_interval([0.9837], 10_000)
    assert how == "Wilson"
    assert (round(100 * lo, 2), round(100 * hi, 2)) == (98.10, 98.60)
    assert lo == pytest.approx(0.98103, abs=1e-5) and hi == pytest.approx(0.98600, abs=1e-5)


def test_t_interval_across_three_seeds_matches_scipy():
    accs = [0.9600, 0.9650, 0.9700]
    lo, hi, how = accuracy_interval(accs, 10_000)
    expected = stats.t.interval(0.95, df=2, loc=np.mean(accs), scale=stats.sem(accs))
    assert how == "t"
    assert (lo, hi) == pytest.approx(expected, abs=1e-12)
    assert hi - lo == pytest.approx(2 * 4.302653 * 0.005 / np.sqrt(3), rel=1e-5)


def test_equal_repeats_fall_back_to_wilson_and_empty_is_an_error():
    assert accuracy_interval([0.9837, 0.9837], 10_000) == accuracy_interval([0.9837], 10_000)
    with pytest.raises(ValueError, match="'accuracies' parameter must hold at least one value"):
        accuracy_interval([], 10_000)


def _md_cells(line):
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def test_markdown_is_a_valid_github_table(tmp_path, run_csv, capsys):
    assert report_cli(run_csv, "--format", "md", "--no-figures", "--out", tmp_path / "rep") == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "rep" / "report.md")]
    text = (tmp_path / "rep" / "report.md").read_text()
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| pipeline"))
    table = lines[start : lines.index("", start)]
    assert len(table) == 2 + 5
    assert all(line.endswith("|") for line in table)
    assert re.fullmatch(r"\|(---:?\|)+", table[1])
    assert {len(_md_cells(line)) for line in table} == {len(_md_cells(table[0]))} == {10}
    rows = {c[0]: c for c in map(_md_cells, table[2:])}
    svm = rows["`svm`"]
    assert svm[1:6] == ["60,000", "1", "98.37 [98.10, 98.60]", "Wilson", "1.63"]
    assert svm[9] == "1.4 [1]"  # LeCun's SVM, Gaussian kernel
    rf = rows["`rf`"]
    assert rf[4] == "t" and rf[3].startswith("96.50 [")
    assert rf[6] == "11 (10\N{EN DASH}12.5)"  # median (min-max) over 3 repeats
    assert rows["`knn`"][9] == "\N{EM DASH}"  # no published figure off the standard split
    assert rows["`logreg`"][3] == "timeout"
    assert "`pca_svm[pca__n_components=30]`" in rows
    assert "The MNIST database of handwritten digits" in text and "Géron" in text


def test_latex_table_is_balanced_escaped_and_booktabs(tmp_path, run_csv):
    report_cli(run_csv, "--format", "latex", "--no-figures", "--out", tmp_path)
    tex = (tmp_path / "report.tex").read_text()
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+)\}", tex):
        if kind == "begin":
            stack.append(env)
        else:
            assert stack.pop() == env
    assert stack == []
    body = tex[tex.index(r"\begin{tabular}") : tex.index(r"\end{tabular}")]
    assert body.count(r"\toprule") == body.count(r"\midrule") == body.count(r"\bottomrule") == 1
    code = "\n".join(line for line in tex.splitlines() if not line.startswith("%"))
    assert not re.search(r"(?<!\\)[_%#$]", code.replace("$-$", "")), "unescaped special character"
    assert r"pca\_svm[pca\_\_n\_components=30]" in code
    assert r"95\% CI" in code and r"error \%" in code
    assert latex_escape("a_b 5% -1.2") == r"a\_b 5\% $-$1.2"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_compiles(tmp_path, run_csv):
    report_cli(run_csv, "--format", "latex", "--no-figures", "--reference", "svm", "--out", tmp_path)
    cmd = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "report.tex"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "report.pdf").stat().st_size > 1000


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [v for k, v in attrs if k in ("src", "href") and v is not None]


def test_html_is_one_offline_file(tmp_path, run_csv):
    report_cli(run_csv, "--format", "html", "--no-figures", "--out", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    text = (tmp_path / "report.html").read_text()
    parser = _Refs()
    parser.feed(text)
    assert "table" in parser.tags and "style" in parser.tags
    assert not {"script", "link", "iframe"} & set(parser.tags)
    assert parser.refs == []
    assert not re.search(r"https?:", text)
    assert "<td>98.37 [98.10, 98.60]</td>" in text


def test_reference_marks_significant_differences(tmp_path, truth):
    base = predictions(truth, 9800)
    close = base.copy()
    close[0] = (truth[0] + 1) % 10  # one image flipped: not significant
    far = base.copy()
    far[:60] = (truth[:60] + 1) % 10  # 60 flipped right -> wrong: p ~ 1.7e-18
    cases = [{"pipeline": n, "preds": [p]} for n, p in (("svm", base), ("close", close), ("far", far))]
    df = load_runs([write_run(tmp_path / "r.csv", truth, cases)])
    report = build_report(df, reference="svm", alpha=0.05)
    (table,) = report.tables
    assert table.head[-1] == "vs svm"
    cells = {r[0]: r[-1] for r in table.rows}
    assert cells["svm"] == "reference"
    assert cells["close"] == "-0.01 pt, p = 1"
    assert cells["far"].startswith("-0.60 pt, p = 1.7e-18") and cells["far"].endswith(" *")
    with pytest.raises(ValueError, match="'reference' parameter must name a pipeline with ok rows"):
        build_report(df, reference="nope")


def test_bad_inputs_are_one_line_errors(tmp_path, run_csv, truth):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match="'--out' option must be a folder"):
        report_cli(run_csv, "--out", tmp_path / "afile", "--no-figures")
    with pytest.raises(ValueError, match=r"'alpha' parameter must be in \(0, 1\)"):
        build_report(load_runs([run_csv]), alpha=2)
    with pytest.raises(SystemExit):
        report_cli(run_csv, "--format", "pdf")
    other = write_run(
        tmp_path / "o.csv",
        truth,
        [{"pipeline": "svm", "preds": [truth]}, {"pipeline": "knn", "preds": [truth]}],
        sha={**SHA, **{k: "f" * 64 for k in list(SHA)[:1]}},
    )
    with pytest.raises(ResultsSchemaError, match="different dataset payloads"):
        build_report(load_runs([run_csv, other]))
    shutil.rmtree(tmp_path / "o.predictions")
    with pytest.raises(ResultsSchemaError, match=r"keep the \.predictions folder beside its CSV"):
        build_report(load_runs([other]), reference="svm")


def test_published_table_loads_and_names_its_sources():
    rows = load_published()
    assert len(rows) >= 30 and all(r.source and r.classifier for r in rows)
    sources = {r.source.split(",")[0] for r in rows}
    assert sources == {"Y. LeCun", "scikit-learn", "A. Géron"}
    for r in rows:  # the error stored agrees with the figure as published
        kind, value = r.as_published.rsplit(" ", 1)
        number = float(value.rstrip("%"))
        expected = {"accuracy": 100 * (1 - number), "error": 100 * number, "test error": number}[kind]
        assert r.test_error_pct == pytest.approx(expected, abs=1e-9), r
    for family in sorted({r.pipeline for r in rows if r.pipeline}):
        ranks = sorted(r.rank for r in rows if r.pipeline == family)
        assert ranks == list(range(1, len(ranks) + 1)), family
    assert published_reference("svm").test_error_pct == 1.4
    assert published_reference("svm").citation.startswith("Y. LeCun, C. Cortes, C. J. C. Burges")
    assert published_reference("knn[n_neighbors=3]").as_published == "accuracy 0.9714"
    assert published_reference("dummy").test_error_pct == 89.73
    assert published_reference("knn", n_train=1000) is None
    assert published_reference("knn", dataset="fashion-mnist") is None
    assert published_reference("mlp").test_error_pct == 2.24  # the baselines beyond the five have theirs
    assert published_reference("sklearn.ensemble:ExtraTreesClassifier") is None
    assert pipeline_family("pca_svm[pca__n_components=30]") == "pca_svm"
