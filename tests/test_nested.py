"""Estimators as parameter values: nested selectors, steps, named lists, grids inside, run files' tables."""

from __future__ import annotations

import pytest
from sklearn.ensemble import BaggingClassifier, StackingClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC, LinearSVC

from mnist_classic import read_results
from mnist_classic.cli import main
from mnist_classic.spec.runfile import read_run_file, table_to_selector
from mnist_classic.spec.selectors.parse import expand_selector, parse_selector
from mnist_classic.spec.selectors.steps import slot_kind

OVR = "sklearn.multiclass:OneVsRestClassifier"
LR = "sklearn.linear_model:LogisticRegression"


def test_an_estimator_as_a_value_with_a_required_constructor_argument():
    configured = parse_selector(f"{OVR}[estimator={LR}[solver=liblinear]]")
    assert configured.name == f"{OVR}[estimator={LR}[solver=liblinear]]"
    est = configured.build(random_state=4)
    assert isinstance(est, OneVsRestClassifier) and isinstance(est.estimator, LogisticRegression)
    assert est.estimator.solver == "liblinear" and est.estimator.random_state == 4
    assert configured.user_brought


def test_a_registered_pipeline_and_steps_as_values():
    bag = parse_selector("sklearn.ensemble:BaggingClassifier[estimator=knn,n_estimators=3]").build()
    assert isinstance(bag, BaggingClassifier) and type(bag.estimator).__name__ == "KNeighborsClassifier"
    sel = "sklearn.ensemble:BaggingClassifier[estimator=sklearn.preprocessing:StandardScaler+knn[n_neighbors=3]]"
    inner = parse_selector(sel).build().estimator
    assert isinstance(inner, Pipeline) and inner.steps[1][1].n_neighbors == 3
    # a step of a registered pipeline is a value too
    assert isinstance(parse_selector("pca_svm[svc=sklearn.svm:LinearSVC]").build().steps[1][1], LinearSVC)


def test_named_lists_for_voting_and_stacking_keep_their_order():
    sel = "sklearn.ensemble:VotingClassifier[estimators=(lr=logreg,knn=knn[n_neighbors=3])]"
    c = parse_selector(sel)
    assert c.name == sel
    est = c.build(random_state=2)
    assert isinstance(est, VotingClassifier) and [n for n, _ in est.estimators] == ["lr", "knn"]
    assert est.get_params()["knn__n_neighbors"] == 3 and est.get_params()["lr__logreg__random_state"] == 2
    stack = parse_selector(
        f"sklearn.ensemble:StackingClassifier[estimators=(b=knn,a=logreg),final_estimator={LR}[C=2]]"
    ).build()
    assert isinstance(stack, StackingClassifier) and [n for n, _ in stack.estimators] == ["b", "a"]
    assert stack.final_estimator.C == 2


def test_grids_inside_nested_values_expand_in_order():
    names = [c.name for c in expand_selector(f"{OVR}[estimator=[knn,{LR}[C=[1,10]]]]")]
    assert names == [f"{OVR}[estimator=knn]", f"{OVR}[estimator={LR}[C=1]]", f"{OVR}[estimator={LR}[C=10]]"]
    voting = expand_selector("sklearn.ensemble:VotingClassifier[estimators=(a=knn[n_neighbors=[1,3]],b=logreg)]")
    assert len(voting) == 2


def test_a_string_stays_a_string_where_the_parameter_takes_one():
    # "linear" is a registered pipeline's name too: SVC's kernel defaults to a string, so it is one
    assert "linear" in __import__("mnist_classic").PIPELINES
    est = parse_selector("sklearn.svm:SVC[kernel=linear]").build()
    assert isinstance(est, SVC) and est.kernel == "linear"
    assert parse_selector("svm[kernel=linear]").build().kernel == "linear"
    assert slot_kind("kernel", "rbf") is None and slot_kind("estimator", None) == "one"
    assert slot_kind("estimators", [("a", SVC())]) == "list" and slot_kind("svc", SVC()) == "one"


def test_explicit_nested_seed_wins():
    est = parse_selector(f"sklearn.ensemble:BaggingClassifier[estimator={LR}[random_state=5]]").build(random_state=1)
    assert est.random_state == 1 and est.estimator.random_state == 5


@pytest.mark.parametrize(
    ("selector", "match"),
    [
        (OVR, r"'sklearn.multiclass:OneVsRestClassifier' needs the parameter 'estimator'"),
        (f"{OVR}[estimator=svx]", r"Unknown pipeline 'svx'"),
        ("sklearn.ensemble:VotingClassifier[estimators=knn]", r"takes a named list of estimators, \(name=selector"),
        ("sklearn.ensemble:VotingClassifier[estimators=(knn)]", r"Malformed item 'knn'.*expected name=selector"),
        ("sklearn.ensemble:VotingClassifier[estimators=(a=knn,a=rf)]", r"distinct names"),
        (f"{OVR}[estimator=[]]", r"empty grid"),
    ],
)
def test_nested_errors_are_one_line(selector, match, tmp_path, capsys):
    with pytest.raises(ValueError, match=match):
        expand_selector(selector)
    out = tmp_path / "r.csv"
    assert main(["run", "--pipelines", selector, "--n-train", "100", "--n-test", "50", "-o", str(out), "-q"]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not out.exists()


def test_run_file_tables_and_named_lists_become_the_same_selectors():
    table = {
        "estimator": OVR,
        "params": {"estimator": {"estimator": LR, "params": {"solver": "liblinear", "C": [1, 10]}}},
    }
    assert table_to_selector(table) == f"{OVR}[estimator={LR}[solver=liblinear,C=[1, 10]]]"
    voting = {
        "estimator": "sklearn.ensemble:VotingClassifier",
        "params": {"estimators": [["lr", {"pipeline": "logreg"}], ["knn", "knn[n_neighbors=3]"]]},
    }
    sel = table_to_selector(voting)
    assert (
        parse_selector(sel).name == "sklearn.ensemble:VotingClassifier[estimators=(lr=logreg,knn=knn[n_neighbors=3])]"
    )
    steps = {"estimator": "sklearn.ensemble:BaggingClassifier", "params": {"estimator": {"steps": ["knn"]}}}
    assert table_to_selector(steps) == "sklearn.ensemble:BaggingClassifier[estimator=knn]"


@pytest.mark.slow
def test_a_run_file_with_nested_tables_and_a_named_list_runs(tmp_path, capsys):
    run_file = tmp_path / "nested.toml"
    bagging = (
        '{ estimator = "sklearn.ensemble:BaggingClassifier", params = { n_estimators = 2, '
        'estimator = { steps = ["sklearn.preprocessing:StandardScaler", { pipeline = "knn" }] } } }'
    )
    voting = (
        '{ estimator = "sklearn.ensemble:VotingClassifier", params = { estimators = '
        f'[["lr", {{ estimator = "{LR}", params = {{ C = 0.5 }} }}], ["knn", "knn"]] }} }}'
    )
    lines = [
        "n_train = 300",
        "n_test = 100",
        'output = "nested.csv"',
        "pipelines = [",
        f'    "{OVR}[estimator={LR}[solver=liblinear]]",',
        '    "sklearn.svm:SVC[kernel=linear]",',
        f"    {bagging},",
        f"    {voting},",
        "]",
    ]
    run_file.write_text("\n".join(lines) + "\n")
    values, _ = read_run_file(run_file)
    assert len(values["pipelines"]) == 4
    assert main(["run", "--config", str(run_file), "-q"]) == 0, capsys.readouterr().err
    df = read_results(tmp_path / "nested.csv")
    assert list(df["status"]) == ["ok"] * 4
    assert list(df["pipeline"]) == [
        f"{OVR}[estimator={LR}[solver=liblinear]]",
        "sklearn.svm:SVC[kernel=linear]",
        "sklearn.ensemble:BaggingClassifier[estimator=sklearn.preprocessing:StandardScaler+knn,n_estimators=2]",
        f"sklearn.ensemble:VotingClassifier[estimators=(lr={LR}[C=0.5],knn=knn)]",
    ]


def test_the_docs_run_file_and_selectors_parse(tmp_path):
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "bring-your-own.md").read_text()
    (toml,) = re.findall(r"```toml\n(.*?)```", page, re.S)
    (tmp_path / "bench.toml").write_text(toml)
    values, _ = read_run_file(tmp_path / "bench.toml")
    names = [c.name for sel in values["pipelines"] for c in expand_selector(sel)]
    assert f"{OVR}[estimator={LR}[solver=liblinear]]" in names
    assert "sklearn.ensemble:VotingClassifier[estimators=(lr=logreg,knn=knn)]" in names
    bash = re.findall(r"```bash\n(.*?)```", page, re.S)[1]
    selectors = re.findall(r'"([^"]+)"', bash)
    assert len(selectors) == 8 and all(expand_selector(s) for s in selectors)
