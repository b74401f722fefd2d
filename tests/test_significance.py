"""Which differences are real: rank's tests against Demšar (2006)'s worked example, mlxtend's 5x2cv, and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from synthetic import write_run

from mnist_classic.analysis.significance import (
    compare_one_test_set,
    corrected_resampled_t,
    five_by_two_f,
    five_by_two_t,
    nemenyi_q,
    probability_better,
    splits_needed,
)
from mnist_classic.cli import main

#: Demšar (2006)'s worked example with every figure he prints (tests/data/oracles/README.md).
ORACLES = Path(__file__).resolve().parent / "data" / "oracles"
AUC = ORACLES / "demsar2006_auc.csv"


def _rank_json(capsys, *argv):
    code = main(["rank", *map(str, argv), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _statistics():
    return pd.read_csv(ORACLES / "demsar2006_statistics.csv", index_col="id")


@pytest.fixture
def demsar(capsys):
    return _rank_json(capsys, "--table", AUC, "--control", "C4.5")["datasets"]


def test_demsar_average_ranks_friedman_and_iman_davenport(demsar):
    printed = pd.read_csv(ORACLES / "demsar2006_ranks_as_printed.csv", index_col="dataset")
    average = printed.loc["average rank"]
    for method, rank in demsar["average_ranks"].items():
        assert round(rank, 3) == pytest.approx(float(average[method]))  # 3.143, 2.000, 2.893, 1.964
    ranks = pd.DataFrame(demsar["ranks"], index=demsar["datasets"])
    pd.testing.assert_frame_equal(ranks, printed.drop(index="average rank").astype(float), check_names=False)
    s = _statistics()
    assert round(demsar["friedman"]["chi2"], 2) == float(s.loc["F2", "published_value"])  # 9.28
    assert demsar["friedman"]["chi2"] == pytest.approx(9.278571428571437, abs=1e-9)
    assert demsar["friedman"]["df"] == 3
    assert demsar["friedman"]["p"] == pytest.approx(float(s.loc["F6", "recomputed"].split()[0]), rel=1e-6)
    # scipy's tie-corrected statistic stands beside it, and differs (mushroom's four-way tie)
    scores = pd.read_csv(AUC, index_col="dataset")
    tie = stats.friedmanchisquare(*(scores[c] for c in scores.columns)).statistic
    assert demsar["friedman"]["chi2_tie_corrected"] == pytest.approx(tie) and tie > 9.28
    assert round(demsar["iman_davenport"]["f"], 2) == float(s.loc["F3", "published_value"])  # 3.69
    assert demsar["iman_davenport"]["df"] == [3, 39]
    assert demsar["iman_davenport"]["p"] == pytest.approx(float(s.loc["F7", "recomputed"].split()[0]), rel=1e-6)
    assert stats.f.isf(0.05, 3, 39) == pytest.approx(float(s.loc["F5", "recomputed"]))  # 2.85: the F rejects


def test_demsar_nemenyi_cd_and_groups(demsar, capsys):
    s = _statistics()
    assert round(demsar["nemenyi"]["cd"], 2) == float(s.loc["N2", "published_value"])  # 1.25
    assert demsar["nemenyi"]["q_alpha"] == pytest.approx(2.569, abs=5e-4)
    # 3.143 - 1.964 = 1.179 < 1.25: no pair differs at 0.05, one group
    assert not any(p["significant"] for p in demsar["nemenyi"]["pairs"])
    assert len(demsar["nemenyi"]["groups"]) == 1
    at10 = _rank_json(capsys, "--table", AUC, "--alpha", "0.10")["datasets"]
    assert round(at10["nemenyi"]["cd"], 2) == float(s.loc["N3", "published_value"])  # 1.12
    beyond = {frozenset((p["a"], p["b"])) for p in at10["nemenyi"]["pairs"] if p["significant"]}
    assert beyond == {frozenset(("C4.5", "C4.5+m")), frozenset(("C4.5", "C4.5+m+cf"))}  # C4.5+cf undecided


def test_demsar_critical_values_table():
    table = pd.read_csv(ORACLES / "demsar2006_critical_values.csv")
    for _, row in table.iterrows():
        k = int(row["k"])
        assert nemenyi_q(k, 0.05) == pytest.approx(row["nemenyi_q0.05_printed"], abs=1e-3)
        assert nemenyi_q(k, 0.10) == pytest.approx(row["nemenyi_q0.10_printed"], abs=1e-3)


def test_demsar_holm_against_the_control(demsar):
    holm = pd.read_csv(ORACLES / "demsar2006_holm_example.csv")
    got = demsar["versus_control"]
    assert [d["method"] for d in got] == holm["classifier"].tolist()
    for d, (_, row) in zip(got, holm.iterrows(), strict=True):
        assert d["z"] == pytest.approx(row["z_published"], abs=2e-3)
        assert d["p"] == pytest.approx(row["p_published"], abs=2e-3)  # the last computes to 0.6084 (printed 0.607)
        assert d["significant"] == (row["holm_decision_published"] == "reject")
    s = _statistics()
    # printed 1.16 (2.394 x 0.488 = 1.168, cut rather than rounded); recomputed from the rounded q 1.16815
    assert demsar["bonferroni_dunn_cd"] == pytest.approx(float(s.loc["B2", "recomputed"]), abs=1e-4)
    assert demsar["bonferroni_dunn_cd"] == pytest.approx(float(s.loc["B2", "published_value"]), abs=0.01)


def test_demsar_wilcoxon_and_sign_test(demsar):
    s = _statistics()
    pair = next(p for p in demsar["wilcoxon"]["pairs"] if {p["a"], p["b"]} == {"C4.5", "C4.5+m"})
    assert pair["a"] == "C4.5+m"  # the better first: R+ counts its wins
    assert pair["r_plus"] == float(s.loc["W2", "published_value"])  # 93
    assert pair["r_minus"] == float(s.loc["W3", "published_value"])  # 12
    assert pair["statistic"] == 12
    assert pair["p"] == pytest.approx(0.01096849656422473, rel=1e-9)  # scipy zsplit, as the oracle computes
    # sign test: 10 wins, 2 losses, 2 ties -> 11 of 14 with the ties split
    assert (pair["wins_a"], pair["losses_a"], pair["ties"]) == (10, 2, 2)
    assert pair["wins_a"] + pair["ties"] / 2 == 11


def test_rank_table_text_prints_the_figures(capsys):
    assert main(["rank", "--table", str(AUC)]) == 0
    out = capsys.readouterr().out
    for figure in ("3.143", "2.000", "2.893", "1.964", "chi-square = 9.28", "F = 3.69 (df 3, 39)", "CD = 1.25"):
        assert figure in out
    assert "too few datasets" not in out


def test_too_few_datasets_says_what_is_needed(tmp_path, capsys):
    table = pd.read_csv(AUC, index_col="dataset").iloc[:4]
    path = tmp_path / "four.csv"
    table.to_csv(path)
    assert main(["rank", "--table", str(path)]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("too few datasets"))
    assert "(needs 6 datasets for alpha 0.05)" in line and "p = 0.125" in line
    assert "Friedman chi-square" in out  # the figures are still printed


@pytest.mark.slow
def test_cd_diagram_is_written(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    for ext in ("png", "svg"):
        fig = tmp_path / f"cd.{ext}"
        assert main(["rank", "--table", str(AUC), "--figure", str(fig)]) == 0
        assert fig.stat().st_size > 1000
    assert "critical-difference diagram" in capsys.readouterr().out


def test_markdown_output(capsys):
    assert main(["rank", "--table", str(AUC), "--format", "md", "--correction", "bonferroni"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## 4 methods over 14 datasets") and "| 3.143 | C4.5 |" in out and "bonferroni p" in out


# --- the 5x2cv statistics against mlxtend (an independent implementation) ---------------------------------------


@pytest.mark.slow
def test_five_by_two_matches_mlxtend():
    mlxtend = pytest.importorskip("mlxtend.evaluate")
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier

    X, y = make_classification(n_samples=300, n_features=10, random_state=0)
    a, b = LogisticRegression(max_iter=500), DecisionTreeClassifier(random_state=0)
    t_ml, p_ml = mlxtend.paired_ttest_5x2cv(a, b, X, y, random_seed=1)
    f_ml, pf_ml = mlxtend.combined_ftest_5x2cv(a, b, X, y, random_seed=1)
    # the same splits as mlxtend draws them, scored here, then our statistics on the differences
    rng = np.random.RandomState(1)
    d = np.empty((5, 2))
    for i in range(5):
        X1, X2, y1, y2 = train_test_split(X, y, test_size=0.5, random_state=rng.randint(low=0, high=32767))
        for j, (Xa, ya, Xb, yb) in enumerate(((X1, y1, X2, y2), (X2, y2, X1, y1))):
            d[i, j] = a.fit(Xa, ya).score(Xb, yb) - b.fit(Xa, ya).score(Xb, yb)
    assert five_by_two_t(d) == pytest.approx((t_ml, p_ml), rel=1e-9)
    # mlxtend's combined F draws its own splits from the same seed: same rng sequence, same splits
    assert five_by_two_f(d) == pytest.approx((f_ml, pf_ml), rel=1e-9)


def test_five_by_two_by_the_formulas():
    d = np.random.default_rng(3).normal(0.01, 0.01, size=(5, 2))
    s2 = ((d - d.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    t = d[0, 0] / math.sqrt(s2.mean())
    f = (d**2).sum() / (2 * s2.sum())
    assert five_by_two_t(d) == pytest.approx((t, 2 * stats.t.sf(abs(t), 5)))
    assert five_by_two_f(d) == pytest.approx((f, stats.f.sf(f, 10, 5)))
    with pytest.raises(ValueError, match=r"5 x 2 array .* Got shape \(10,\)"):
        five_by_two_t(d.ravel())


def test_corrected_resampled_t_and_p_better():
    d = np.array([0.01, 0.02, 0.015, 0.005, 0.012])
    t, p = corrected_resampled_t(d, 6000, 1000)
    expected = d.mean() / math.sqrt((1 / 5 + 1000 / 6000) * d.var(ddof=1))
    assert t == pytest.approx(expected) and p == pytest.approx(2 * stats.t.sf(expected, 4))
    # the plain resampled t (no correction) is larger: the correction is what keeps its type I error
    assert stats.ttest_1samp(d, 0).statistic > t
    pb, lo, hi = probability_better([1, 2, 3, 4], [0, 1, 2, 5])
    assert pb == 0.75 and 0 <= lo <= pb <= hi <= 1
    assert splits_needed(0.05, 0.95) == 29  # Bouthillier et al. (2021): 29 for alpha = beta = 0.05, gamma 0.75


# --- one test set -------------------------------------------------------------------------------------------------


def test_cochran_q_matches_its_formula_and_mcnemar_pairs():
    rng = np.random.default_rng(0)
    u = rng.random(400)
    correct = {"a": u < 0.9, "b": u < 0.85, "c": (u < 0.8) | (rng.random(400) < 0.05)}
    r = compare_one_test_set(correct)
    x = np.column_stack([correct[c] for c in r.cases]).astype(int)
    k, col, row = x.shape[1], x.sum(axis=0), x.sum(axis=1)
    q = (k - 1) * (k * (col**2).sum() - col.sum() ** 2) / (k * row.sum() - (row**2).sum())
    assert r.cochran_q == pytest.approx(q) and r.cochran_p == pytest.approx(stats.chi2.sf(q, k - 1))
    ab = next(p for p in r.pairs if (p["a"], p["b"]) == ("a", "b"))
    assert (ab["a_only"], ab["b_only"]) == (int(np.sum(correct["a"] & ~correct["b"])), 0)
    assert ab["p"] == pytest.approx(stats.binomtest(0, ab["a_only"], 0.5).pvalue)
    assert len(r.pairs) == 3 and all(p["p_adjusted"] >= p["p"] for p in r.pairs)


def _one_test_set_csv(tmp_path, name="one.csv", n=400, **kwargs):
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 10, n)
    u = rng.random(n)

    def wrong(where):
        pred = truth.copy()
        pred[where] = (pred[where] + 1) % 10
        return pred

    cases = [
        {"pipeline": "good", "pred": wrong(u > 0.97)},
        {"pipeline": "fair", "pred": wrong(u > 0.9)},
        {"pipeline": "dummy", "pred": np.zeros(n, dtype=int)},
    ]
    return write_run(tmp_path / name, truth, cases, **kwargs)


def test_rank_rows_on_one_test_set(tmp_path, capsys):
    path = _one_test_set_csv(tmp_path)
    doc = _rank_json(capsys, path)
    one = doc["one_test_set"]
    assert one["cases"] == ["good", "fair", "dummy"] and one["cochran_q"]["p"] < 1e-6
    assert all(p["significant"] for p in one["pairs"]) and one["groups"] == [["good"], ["fair"], ["dummy"]]
    ctl = _rank_json(capsys, path, "--control", "dummy")["one_test_set"]
    assert [(p["a"], p["b"]) for p in ctl["pairs"]] == [("dummy", "good"), ("dummy", "fair")]
    assert main(["rank", str(path)]) == 0
    assert "Cochran's Q" in capsys.readouterr().out


# --- bad input: one line, exit 2 ----------------------------------------------------------------------------------


def _fails(capsys, argv, match):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert match in err, err


def test_bad_tables(tmp_path, capsys):
    text = tmp_path / "text.csv"
    text.write_text("dataset,a,b\nd1,0.9,0.8\nd2,0.7,n/a\n")
    _fails(capsys, ["rank", "--table", str(text)], "line 3: the cell of 'b' on 'd2' must be a number, got 'n/a'")
    empty = tmp_path / "empty.csv"
    empty.write_text("dataset,a,b\nd1,0.9,0.8\nd2,0.7,\n")
    _fails(capsys, ["rank", "--table", str(empty)], "(complete blocks); missing: b on d2")
    one = tmp_path / "one.csv"
    one.write_text("dataset,a\nd1,0.9\n")
    _fails(capsys, ["rank", "--table", str(one)], "at least two method columns")
    _fails(capsys, ["rank", "--table", str(tmp_path / "nope.csv")], "No such file")
    _fails(capsys, ["rank", "--table", str(AUC), "--control", "C5"], "'control' parameter must be one of the methods")
    _fails(capsys, ["rank", "--table", str(AUC), "--figure", "cd.pdf"], "must name a .png or .svg file")
    _fails(capsys, ["rank", "--table", str(AUC), "--alpha", "1.5"], "must be in (0, 1)")
    _fails(capsys, ["rank"], "give results CSVs or --table FILE.csv, not neither")


def test_bad_rows(tmp_path, capsys):
    path = _one_test_set_csv(tmp_path)
    _fails(capsys, ["rank", str(path), "--metric", "nope"], "The '--metric' option must name a numeric column")
    _fails(capsys, ["rank", str(path), "--control", "svm"], "The '--control' option must name one of the cases")
    _fails(capsys, ["rank", str(path), "--figure", str(tmp_path / "cd.png")], "draws the critical-difference")
    truth = np.arange(50) % 10
    lone = write_run(tmp_path / "lone.csv", truth, [{"pipeline": "svm", "pred": truth}])
    _fails(capsys, ["rank", str(lone)], "Ranking needs at least two cases. Got 1: svm")
    # one dataset, two test sets
    shifted = np.roll(truth, 1)  # other test labels
    other = write_run(tmp_path / "other.csv", shifted, [{"pipeline": "knn", "pred": shifted}])
    _fails(capsys, ["rank", str(lone), str(other)], "need every case on the same test set")
    # several datasets, a case missing on one
    a = _one_test_set_csv(tmp_path / "a", dataset="mnist")
    b = write_run(tmp_path / "b.csv", truth, [{"pipeline": "good", "pred": truth}], dataset="kmnist")
    _fails(capsys, ["rank", str(a), str(b)], "missing: dummy on kmnist, fair on kmnist")


def test_several_datasets_from_rows(tmp_path, capsys):
    paths = []
    for i, name in enumerate(("mnist", "kmnist", "fashion-mnist")):
        folder = tmp_path / name
        folder.mkdir()
        paths.append(_one_test_set_csv(folder, f"{i}.csv", dataset=name))
    doc = _rank_json(capsys, *paths)
    d = doc["datasets"]
    assert d["average_ranks"] == {"dummy": 3.0, "fair": 2.0, "good": 1.0}
    assert d["too_few"].startswith("too few datasets (3 for 3 methods)")
    assert doc["one_test_set"] is None


def test_run_file_key_splits(tmp_path):
    from mnist_classic.spec.runfile import read_run_file

    path = tmp_path / "run.toml"
    path.write_text('pipelines = ["dummy"]\nsplits = "5x2"\n')
    assert read_run_file(path)[0]["splits"] == "5x2"
    path.write_text("splits = 30\n")
    assert read_run_file(path)[0]["splits"] == 30


def test_run_splits_options_are_checked(tmp_path, capsys):
    out = tmp_path / "r.csv"
    base = ["run", "--pipelines", "dummy", "--n-train", "100", "-o", str(out), "-q"]
    _fails(capsys, [*base, "--splits", "5x3"], "The 'splits' parameter must be '5x2' or a number of resplits K >= 2")
    _fails(capsys, [*base, "--splits", "1"], "Got '1' instead")
    _fails(capsys, [*base, "--splits", "5x2", "--repeats", "3"], "replaces repeats")
    _fails(capsys, [*base, "--splits", "5x2", "--n-jobs", "2"], "one at a time in this process")
    assert not out.exists()


# --- the "Done when" checks, end to end (real MNIST, real pipelines) -------------------------------------


@pytest.mark.slow
def test_four_pipelines_on_one_test_set_dummy_is_worse_than_each(tmp_path, capsys):
    out = tmp_path / "four.csv"
    run = ["run", "--pipelines", "dummy", "logreg", "knn", "rf", "--n-train", "2000", "--n-test", "2000"]
    assert main([*run, "-o", str(out), "-q", "--warmup", "none"]) == 0
    capsys.readouterr()
    one = _rank_json(capsys, out)["one_test_set"]
    assert one["cases"][-1] == "dummy" and one["cochran_q"]["p"] < 0.05
    against_dummy = [p for p in one["pairs"] if "dummy" in (p["a"], p["b"])]
    assert len(against_dummy) == 3
    assert all(p["significant"] and p["b"] == "dummy" and p["difference"] > 0 for p in against_dummy)


@pytest.mark.slow
def test_run_splits_5x2_then_rank_and_compare(tmp_path, capsys):
    out = tmp_path / "5x2.csv"
    run = ["run", "--pipelines", "dummy", "logreg", "--n-train", "1000", "--splits", "5x2"]
    assert main([*run, "-o", str(out), "-q", "--warmup", "none"]) == 0
    capsys.readouterr()
    rows = pd.read_csv(out, dtype={"split": str})
    assert len(rows) == 20 and set(rows["n_train"]) == {500} and set(rows["n_test"]) == {500}
    labels = [f"5x2:rep={i}:fold={j}" for i in range(1, 6) for j in (1, 2)]
    assert sorted(set(rows["split"])) == sorted(labels)
    # paired: the two pipelines of a split trained and tested on the same images
    per_split = rows.groupby("split")[["split_train_sha256", "split_test_sha256", "truth_sha256"]].nunique()
    assert (per_split == 1).all().all()
    assert rows.groupby("split")["split_train_sha256"].first().nunique() == 10
    # Dietterich's t and Alpaydin's F, computed here from the rows
    acc = rows.pivot(index="split", columns="pipeline", values="accuracy").loc[labels]
    p = (acc["logreg"] - acc["dummy"]).to_numpy().reshape(5, 2)
    s2 = ((p - p.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    t = p[0, 0] / math.sqrt(s2.mean())
    f = (p**2).sum() / (2 * s2.sum())
    split = _rank_json(capsys, out)["splits"][0]
    assert split["scheme"] == "5x2" and split["n_splits"] == 10
    pair = split["pairs"][0]
    assert (pair["a"], pair["b"]) == ("logreg", "dummy")
    assert pair["t"] == pytest.approx(t, rel=1e-8) and pair["p_t"] == pytest.approx(2 * stats.t.sf(abs(t), 5), rel=1e-6)
    assert pair["f"] == pytest.approx(f, rel=1e-8) and pair["p_f"] == pytest.approx(stats.f.sf(f, 10, 5), rel=1e-6)
    assert main(["rank", str(out)]) == 0
    text = capsys.readouterr().out
    assert "5x2cv t" in text and f"{t:.3f}" in text and "splits needed" in text
    # compare on split rows: each case against itself, split by split; no regression
    assert main(["compare", str(out), str(out)]) == 0
    assert "logreg (baseline)" in capsys.readouterr().out
    # report: the split rows go to the significance section, not to the tables and figures of the test set
    rep = tmp_path / "report"
    assert main(["report", str(out), "--out", str(rep), "--format", "md", "--figure-formats", "png"]) == 0
    text = (rep / "report.md").read_text()
    assert "Which differences are significant (resampled splits): mnist: 5x2cv" in text


@pytest.mark.slow
def test_run_resplits_pair_by_seed(tmp_path, capsys):
    out = tmp_path / "k.csv"
    run = ["run", "--pipelines", "dummy", "logreg", "--n-train", "800", "--n-test", "400", "--splits", "3"]
    assert main([*run, "-o", str(out), "-q", "--warmup", "none"]) == 0
    capsys.readouterr()
    rows = pd.read_csv(out, dtype={"split": str})
    assert sorted(set(rows["split"])) == ["resplit:1", "resplit:2", "resplit:3"]
    assert set(rows["n_train"]) == {800} and set(rows["n_test"]) == {400}
    assert (rows.groupby("split")["split_test_sha256"].nunique() == 1).all()
    pair = _rank_json(capsys, out)["splits"][0]["pairs"][0]
    d = (
        rows.pivot(index="split", columns="pipeline", values="accuracy")
        .pipe(lambda w: w["logreg"] - w["dummy"])
        .to_numpy()
    )
    assert pair["t"] == pytest.approx(corrected_resampled_t(d, 800, 400)[0]) and pair["p_a_better"] == 1.0


# --- report -------------------------------------------------------------------------------------------------------


def test_report_has_the_significance_section(tmp_path):
    from synthetic import report_cli

    one = _one_test_set_csv(tmp_path)
    assert report_cli(one, "--no-figures", "--format", "md", "--out", tmp_path / "rep") == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "Which differences are significant (mnist, 400 test images)" in text and "Cochran's Q" in text
    two = write_run(
        tmp_path / "two.csv", np.arange(20) % 10, [{"pipeline": p, "pred": np.arange(20) % 10} for p in "ab"]
    )
    assert report_cli(two, "--no-figures", "--format", "md", "--out", tmp_path / "rep2") == 0
    assert "Which differences" not in (tmp_path / "rep2" / "report.md").read_text()  # fewer than three cases


@pytest.mark.slow
def test_report_over_datasets_draws_the_cd_diagram(tmp_path):
    pytest.importorskip("matplotlib")
    from mnist_classic.analysis.report.significant import significance_figures, significance_tables
    from mnist_classic.analysis.runs import load_runs

    paths = []
    for name in ("mnist", "kmnist", "fashion-mnist", "emnist-digits"):
        (tmp_path / name).mkdir()
        paths.append(_one_test_set_csv(tmp_path / name, "r.csv", dataset=name))
    df = load_runs(paths)
    titles = [t.title for t in significance_tables(df)]
    assert any("over datasets" in t and "4 methods" not in t and "3 methods over 4 datasets" in t for t in titles)
    figs = significance_figures(df, tmp_path / "figs", ["png"])
    assert len(figs) == 1 and figs[0].path("png").stat().st_size > 1000
