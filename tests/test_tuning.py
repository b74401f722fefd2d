"""``run --tune``: a grid as ONE case chosen on validation data; the test set used once; bad input refused."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnist_classic.analysis.report.summary import build_report
from mnist_classic.analysis.runs import load_runs
from mnist_classic.analysis.stats import expected_max
from mnist_classic.bench.reproduce import reproduce_rows
from mnist_classic.bench.tuning import candidate_grid, halving_cost, validation_split
from mnist_classic.cli import main
from mnist_classic.results import best_on_test, read_results
from mnist_classic.spec.runconfig import RunConfig, resolve
from mnist_classic.spec.runfile import read_run_file
from mnist_classic.spec.selectors.parse import Tuning, expand_selector, tuned_grid

KNN = "knn[n_neighbors=[1,3,5,7]]"
DUMMY = "sklearn.dummy:DummyClassifier[random_state=[" + ",".join(map(str, range(20))) + "],strategy=uniform]"


def _run(tmp_path: Path, name: str, *args: str) -> pd.DataFrame:
    out = tmp_path / f"{name}.csv"
    assert main(["run", *args, "-o", str(out), "-q"]) == 0
    return read_results(out)


@pytest.mark.slow
def test_done_when_check_of_the_issue_at_n_train_5000(tmp_path, capsys):
    """The issue's check: one row, 4 candidates, the same candidate with another n_test, the untuned twin, budget 2,
    and 'best of 20 on the test set' on an untuned Dummy grid."""
    common = ["--n-train", "5000"]
    tuned = _run(tmp_path, "tuned", "--pipelines", KNN, "--tune", "--n-test", "1000", *common)
    assert len(tuned) == 1
    row = tuned.iloc[0]
    assert row["pipeline"] == KNN and row["status"] == "ok"
    chosen = json.loads(row["tuned_params"])
    assert set(chosen) == {"n_neighbors"} and chosen["n_neighbors"] in (1, 3, 5, 7)
    assert 0.5 < row["validation_accuracy"] <= 1 and row["tuning_candidates"] == 4
    assert row["validation"] == "holdout:0.1667:seed=0" and row["tuning_time_s"] > 0
    assert len(json.loads(row["tuning_scores"])["candidates"]) == 4

    other = _run(tmp_path, "other", "--pipelines", KNN, "--tune", "--n-test", "500", *common).iloc[0]
    assert other["tuned_params"] == row["tuned_params"]  # the test set plays no part in the choice
    assert other["validation_accuracy"] == row["validation_accuracy"]

    twin = f"knn[n_neighbors={chosen['n_neighbors']}]"
    untuned = _run(tmp_path, "untuned", "--pipelines", twin, "--n-test", "1000", *common).iloc[0]
    assert untuned["predictions_sha256"] == row["predictions_sha256"]
    assert pd.isna(untuned["tuned_params"]) and pd.isna(untuned["validation_accuracy"])

    budget = _run(tmp_path, "budget", "--pipelines", KNN, "--tune", "--budget", "2", "--n-test", "1000", *common)
    assert budget.iloc[0]["tuning_candidates"] == 2
    assert len(json.loads(budget.iloc[0]["tuning_scores"])["candidates"]) == 2

    _run(tmp_path, "dummy", "--pipelines", DUMMY, "--n-test", "1000", *common)
    report = tmp_path / "report"
    assert main(["report", str(tmp_path / "dummy.csv"), "--out", str(report), "--no-figures", "--format", "md"]) == 0
    text = (report / "report.md").read_text()
    assert text.count("(best of 20 on the test set)") == 1
    assert "it was selected on the test set, so it is optimistic" in text


@pytest.mark.slow
def test_a_tuned_case_is_one_row_whose_winner_is_an_untuned_case(tmp_path):
    rows = _run(tmp_path, "t", "--pipelines", "knn[n_neighbors=[1,15]]", "logreg", "--tune", "--n-train", "600",
                "--n-test", "100", "--cv", "3", "--seed", "4")  # fmt: skip
    assert list(rows["pipeline"]) == ["knn[n_neighbors=[1,15]]", "logreg"]
    tuned, plain = rows.iloc[0], rows.iloc[1]
    assert tuned["validation"] == "cv:3:seed=4" and tuned["tuning_candidates"] == 2
    assert pd.isna(plain["tuned_params"]) and pd.isna(plain["validation"])
    record = json.loads(tuned["tuning_scores"])
    assert record["tuning"] == {"search": "grid", "validation": None, "cv": 3, "budget": None}
    assert all("std" in e for e in record["candidates"])
    twin = _run(tmp_path, "twin", "--pipelines", record["chosen"], "--n-train", "600", "--n-test", "100", "--seed", "4")
    assert twin.iloc[0]["predictions_sha256"] == tuned["predictions_sha256"]


@pytest.mark.slow
def test_reproduce_runs_the_search_again_and_checks_the_winner(tmp_path):
    _run(tmp_path, "r", "--pipelines", "knn[n_neighbors=[1,9]]", "--tune", "--search", "halving", "--n-train", "600",
         "--n-test", "100")  # fmt: skip
    [outcome] = reproduce_rows(tmp_path / "r.csv")
    assert outcome.same and outcome.new["tuned_params"] == outcome.old["tuned_params"]
    df = read_results(tmp_path / "r.csv")
    df.loc[0, "tuned_params"] = '{"n_neighbors": 42}'  # a recorded winner the search no longer picks
    df.to_csv(tmp_path / "r.csv", index=False)
    assert not reproduce_rows(tmp_path / "r.csv")[0].same


@pytest.mark.slow
def test_a_grid_inside_a_step_or_a_nested_estimator_is_searched(tmp_path):
    nested = "sklearn.ensemble:BaggingClassifier[estimator=knn[n_neighbors=[1,5]],n_estimators=2]"
    steps = "sklearn.preprocessing:StandardScaler[with_mean=[True,False]]+sklearn.linear_model:LogisticRegression"
    for selector in (nested, steps):
        configs = expand_selector(selector)
        _, grid = candidate_grid(tuple(configs), seed=0)
        assert len(grid) == 2 and all(len(one) == 1 for one in grid)
    rows = _run(tmp_path, "n", "--pipelines", nested, "--tune", "--n-train", "400", "--n-test", "50")
    assert rows.iloc[0]["status"] == "ok" and rows.iloc[0]["tuning_candidates"] == 2
    assert "estimator" in json.loads(rows.iloc[0]["tuned_params"])


def test_the_grid_name_is_canonical_and_reads_back_as_the_same_grid():
    configs = expand_selector("svm[gamma=[0.01, 0.1], C=[1, 10]]")
    tuned = tuned_grid("svm[gamma=[0.01, 0.1], C=[1, 10]]", configs, Tuning())
    assert tuned.name == "svm[C=[1,10],gamma=[0.01,0.1]]"
    assert [c.name for c in expand_selector(tuned.name)] == [c.name for c in tuned.candidates]


def test_the_holdout_is_stratified_seeded_and_from_the_training_set_only():
    y = np.repeat(np.arange(10), 60)
    split = validation_split(Tuning(), y, seed=3)
    held = np.flatnonzero(split.test_fold == 0)
    assert len(held) == 100 and np.all(np.bincount(y[held]) == 10)
    again = validation_split(Tuning(), y, seed=3)
    other = validation_split(Tuning(), y, seed=4)
    assert np.array_equal(again.test_fold, split.test_fold) and not np.array_equal(other.test_fold, split.test_fold)


def test_halving_cost_counts_full_size_fits():
    assert halving_cost(1, 1000, 20) == 1.0
    assert halving_cost(9, 900, 20) == pytest.approx(9 * 100 / 900 + 3 * 300 / 900 + 1)


def test_expected_max_rises_to_the_best_score():
    curve = expected_max([0.1, 0.2, 0.9])
    assert curve[0] == pytest.approx(0.4) and np.all(np.diff(curve) > 0) and curve[-1] < 0.9
    assert expected_max([0.1, 0.2, 0.9], 200)[-1] == pytest.approx(0.9)


def test_best_on_test_marks_the_best_untuned_row_and_never_a_tuned_one():
    rows = [
        dict(dataset="m", n_test=10, n_train=5, pipeline="knn[k=1]", accuracy=0.5, status="ok"),
        dict(dataset="m", n_test=10, n_train=5, pipeline="knn[k=3]", accuracy=0.7, status="ok"),
        dict(dataset="m", n_test=10, n_train=5, pipeline="knn[k=[1,3]]", accuracy=0.9, status="ok", tuned_params="{}"),
        dict(dataset="m", n_test=10, n_train=9, pipeline="knn[k=3]", accuracy=0.9, status="ok"),
        dict(dataset="m", n_test=10, n_train=5, pipeline="svm", accuracy=0.99, status="ok"),
    ]
    assert best_on_test(rows) == {1: 2}


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--pipelines", "knn", "svm", "--tune"], "The 'tune' parameter needs a selector with a grid"),
        (["--tune", "--validation", "0"], r"The 'validation' parameter must be a fraction in \(0, 1\)"),
        (["--tune", "--validation", "1"], r"The 'validation' parameter must be a fraction in \(0, 1\)"),
        (["--tune", "--validation", "0.001"], "must leave at least one image per class on either side"),
        (["--tune", "--validation", "0.999"], "must leave at least one image per class on either side"),
        (["--tune", "--cv", "1"], r"The 'cv' parameter must be an int >= 2"),
        (["--tune", "--cv", "40"], "The 'cv' parameter must not exceed the smallest class's count"),
        (["--tune", "--budget", "0"], r"The 'budget' parameter must be an int >= 1"),
        (["--tune", "--cv", "3", "--validation", "0.2"], "two protocols: give one"),
        (["--budget", "2"], "The 'budget' parameter works with tune"),
        (["--tune", "--search", "grid", "--budget", "2"], "which search 'grid' scores whole"),
        (["--tune", "--measure", "instructions"], "does not work with measure='instructions'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_any_row(tmp_path, capsys, args, match):
    out = tmp_path / "bad.csv"
    argv = ["run", "--pipelines", KNN, "--n-train", "300", "--n-test", "50", "-o", str(out), "-q", *args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(match, err), err
    assert not out.exists()


def test_a_budget_larger_than_the_grid_is_a_warning_and_scores_them_all(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        rows = _run(tmp_path, "w", "--pipelines", KNN, "--tune", "--budget", "9", "--n-train", "300", "--n-test", "50")
    assert "the budget 9 is larger than the grid" in caplog.text
    assert rows.iloc[0]["tuning_candidates"] == 4


def test_run_files_set_tuning_globally_and_per_pipeline(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        'budget = 2\npipelines = [ { selector = "knn[n_neighbors=[1,3,5]]", tune = true, cv = 3 }, '
        '{ pipeline = "svm", params = { C = [1, 10] } } ]\n'
    )
    values, _ = read_run_file(path)
    assert values["pipeline_tuning"] == {"knn[n_neighbors=[1,3,5]]": {"tune": True, "cv": 3}}
    pipelines = resolve(RunConfig(**values))
    assert [p.name for p in pipelines] == ["knn[n_neighbors=[1,3,5]]", "svm[C=1]", "svm[C=10]"]
    assert pipelines[0].tuning == Tuning(search="random", cv=3, budget=2)


@pytest.mark.slow
def test_compare_and_report_treat_a_tuned_case_as_one_case(tmp_path, capsys):
    for name in ("a", "b"):
        _run(tmp_path, name, "--pipelines", "knn[n_neighbors=[1,3]]", "--tune", "--n-train", "300", "--n-test", "50")
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--format", "json"]) in (0, 1)
    verdicts = json.loads(capsys.readouterr().out)
    assert [r["pipeline"] for r in verdicts["rows"] if r["metric"] == "accuracy"] == ["knn[n_neighbors=[1,3]]"]
    df = load_runs([str(tmp_path / "a.csv")])
    report = build_report(df)
    main_table = report.tables[0]
    assert len(main_table.rows) == 1 and "validation %" in main_table.head
    tuned_table = report.tables[-1]
    assert tuned_table.title.endswith("tuned cases, 50 test images") and "E[max val %] n=2" in tuned_table.head


def test_halving_with_a_budget_searches_as_many_candidates_as_fit_in_it():
    from sklearn.model_selection import HalvingGridSearchCV, HalvingRandomSearchCV

    from mnist_classic.bench.tuning import _search

    configs = expand_selector("knn[n_neighbors=[1,3,5,7,9,11,13,15,17]]")
    base, grid = candidate_grid(tuple(configs), seed=0)
    y = np.repeat(np.arange(10), 90)
    search, settings = _search(Tuning("halving", budget=2), base, grid, y, seed=0, n_jobs=1)
    assert isinstance(search, HalvingRandomSearchCV) and search.n_candidates == 3 and settings["full_fits"] <= 2
    search, settings = _search(Tuning("halving"), base, grid, y, seed=0, n_jobs=1)
    assert isinstance(search, HalvingGridSearchCV) and settings["full_fits"] == pytest.approx(3.0)
