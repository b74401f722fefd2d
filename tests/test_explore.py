"""explore: the payload against the files on disk, case names, bad input, the link from report (no browser here)."""

from __future__ import annotations

import base64
import os
import re
import zlib
from html.parser import HTMLParser

import numpy as np
import pytest
from synthetic import predictions, report_cli, write_mnist_run, write_run

import mnist_classic
from mnist_classic.analysis.explore import explorer as explore_module
from mnist_classic.analysis.explore.explorer import EXPLORE_FILE, explore, explore_payload, select_cases
from mnist_classic.analysis.runs import load_runs
from mnist_classic.analysis.stats import mcnemar_exact
from mnist_classic.cli import main
from mnist_classic.data import DATASETS, DataIntegrityError
from mnist_classic.results import ResultsSchemaError

N = 300


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Three cases on the first 300 MNIST test images: right on the first 280, 270 and 250."""
    cases = [
        {"pipeline": "svm", "pred": lambda t: predictions(t, 280, seed=1)},
        {"pipeline": "knn", "pred": lambda t: predictions(t, 270, seed=2)},
        {"pipeline": "rf", "pred": lambda t: predictions(t, 250, seed=3)},
        {"pipeline": "logreg", "status": "timeout"},
    ]
    return write_mnist_run(tmp_path_factory.mktemp("explore") / "r.csv", N, cases)


def _unpack(b64):
    return np.frombuffer(zlib.decompress(base64.b64decode(b64)), dtype=np.uint8)


def test_payload_holds_the_images_and_labels_on_disk(run):
    path, truth, images = run
    df = load_runs([path])
    payload = explore_payload(df)
    assert [c["name"] for c in payload["cases"]] == ["svm", "knn", "rf"]  # the timeout has no predictions
    assert payload["dataset"] == "mnist" and payload["n_test"] == N and payload["shape"] == [28, 28]
    assert payload["class_names"] == [str(k) for k in range(10)]
    assert np.array_equal(_unpack(payload["pixels"]).reshape(N, 28, 28), images)
    labels = _unpack(payload["labels"]).reshape(4, N)
    ok = df[df["status"] == "ok"]
    on_disk = [mnist_classic.load_labels(path.with_suffix(".predictions"), s) for s in ok["predictions_sha256"]]
    assert np.array_equal(labels[0], truth)
    for k, pred in enumerate(on_disk):
        assert np.array_equal(labels[k + 1], pred)
        assert payload["cases"][k]["accuracy"] == pytest.approx(np.mean(pred == truth))
    right = [p == truth for p in on_disk]
    for i in range(3):
        assert payload["mcnemar"][i][i] is None
        for j in range(3):
            if i != j:
                b, c = int(np.sum(right[i] & ~right[j])), int(np.sum(~right[i] & right[j]))
                assert payload["mcnemar"][i][j] == mcnemar_exact(b, c)
    assert payload["mcnemar"][0][2] < 0.001  # 280 vs 250 right: the page must show a real difference


class _Attrs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_the_page_names_no_external_url(run, tmp_path):
    page = explore([run[0]], out=tmp_path / "ex")
    assert page == tmp_path / "ex" / EXPLORE_FILE
    umask = os.umask(0)
    os.umask(umask)
    assert page.stat().st_mode & 0o777 == 0o666 & ~umask  # readable by others as any file the user writes
    text = page.read_text()
    assert not re.search(r"(?i)\b(https?|ftp|wss?):|//[a-z0-9.-]+\.[a-z]{2,}", text)
    parser = _Attrs()
    parser.feed(text)
    assert not [(t, a) for t, a in parser.tags for k in a if k in ("src", "href", "action", "srcset", "poster")]
    assert not re.search(r"(?i)url\(|@import|fetch\(|XMLHttpRequest|import\(", text)
    assert [t for t, _ in parser.tags].count("script") == 2  # the data and the code, both inline
    csp = next(a for t, a in parser.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert csp["content"].startswith("default-src 'none'")


def test_case_names_tell_rows_of_one_pipeline_apart(tmp_path):
    truth = np.arange(20) % 10
    cases = [
        {"pipeline": "knn", "n_train": 1000, "preds": [truth, truth]},
        {"pipeline": "knn", "n_train": 2000, "pred": truth},
        {"pipeline": "svm", "pred": truth},
        {"pipeline": "svm", "pred": truth},
    ]
    df = load_runs([write_run(tmp_path / "r.csv", truth, cases)])
    names = [n for n, _ in select_cases(df)]
    assert names == [
        "knn n_train=1000 seed=0",
        "knn n_train=1000 seed=1",
        "knn n_train=2000 seed=0",
        "svm #1",
        "svm #2",
    ]
    assert [n for n, _ in select_cases(df, ["knn"])] == names[:3]  # a pipeline: all its rows
    assert [n for n, _ in select_cases(df, ["svm #2", "knn n_train=2000 seed=0"])] == [names[2], names[4]]
    with pytest.raises(ValueError, match=r"must name cases with status ok: one of knn n_train=1000 seed=0, .*'rf'"):
        select_cases(df, ["rf"])
    with pytest.raises(ValueError, match="non-empty list of case names"):
        select_cases(df, "knn")


def test_cases_on_two_test_sets_are_refused(run, tmp_path):
    other, _, _ = write_mnist_run(tmp_path / "o.csv", 200, [{"pipeline": "svm", "pred": lambda t: t}], run_id="r2")
    df = load_runs([run[0], other])
    expected = r"on 2 different test sets \(mnist, 300 test images: svm n_test=300, knn, rf; mnist, 200 test images: "
    with pytest.raises(ValueError, match=expected):
        select_cases(df)
    assert [n for n, _ in select_cases(df, ["knn", "rf"])] == ["knn", "rf"]


def _cli(capsys, *argv):
    code = main(["explore", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_the_page_and_refuses_bad_input_in_one_line(run, tmp_path, capsys):
    path = run[0]
    code, out, err = _cli(capsys, path, "--out", tmp_path / "ex", "--cases", "rf", "svm")
    assert (code, err) == (0, "")
    assert out.split() == [str(tmp_path / "ex" / "explore.html")]
    bad = [
        ((path, "--cases", "nope"), "must name cases with status ok: one of svm, knn, rf. Got 'nope' instead."),
        ((path, "--cases", "logreg"), "Got 'logreg' instead."),  # a timeout has no predictions
        ((tmp_path / "none.csv",), f"No such results file or folder: {tmp_path / 'none.csv'}"),
        ((path, "--out", path), f"The 'out' parameter must be a folder (created if absent). Got the file {path}"),
    ]
    for argv, message in bad:
        code, out, err = _cli(capsys, *argv, *(() if "--out" in argv else ("--out", tmp_path / "bad")))
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith("mnist-classic: error: ") and message in err
    assert not (tmp_path / "bad").exists()


def test_a_csv_without_its_predictions_folder_is_one_line(run, tmp_path, capsys):
    lonely = tmp_path / "lonely.csv"
    lonely.write_bytes(run[0].read_bytes())
    code, _, err = _cli(capsys, lonely, "--out", tmp_path / "ex")
    assert code == 2 and err.count("\n") == 1
    assert "predictions of svm" in err and "keep the .predictions folder beside its CSV" in err
    assert not (tmp_path / "ex").exists()
    with pytest.raises(ResultsSchemaError, match="not found in"):
        explore([lonely], out=tmp_path / "ex")


def test_images_that_are_not_the_runs_are_refused(tmp_path, capsys):
    truth = mnist_classic.load_dataset("mnist", n_test=50).y_test
    path = write_run(tmp_path / "fake.csv", truth, [{"pipeline": "svm", "pred": truth}])  # made-up payload hashes
    with pytest.raises(DataIntegrityError, match=r"not the run's: sha256_test_images is 222222222222\.\.\. in the CSV"):
        explore([path], out=tmp_path / "ex")
    code, _, err = _cli(capsys, path, "--out", tmp_path / "ex")
    assert code == 2 and "not the run's" in err and err.count("\n") == 1


def test_class_names_come_from_the_dataset(run, monkeypatch):
    fashion = DATASETS["fashion-mnist"].class_names
    real = explore_module.load_image_set

    def as_fashion(row, **kwargs):
        images = real(row, **kwargs)
        return type(images)("fashion-mnist", images.images, images.labels, fashion)

    monkeypatch.setattr(explore_module, "load_image_set", as_fashion)
    payload = explore_payload(load_runs([run[0]]))
    assert payload["class_names"] == list(fashion) and payload["dataset"] == "fashion-mnist"


def test_public_api_and_report_link(run, tmp_path):
    assert mnist_classic.explore is explore
    out = tmp_path / "rep"
    assert report_cli(run[0], "--no-figures", "--format", "md,html", "--out", out) == 0
    assert "explore.html" not in (out / "report.md").read_text()  # no page, no link
    assert report_cli(run[0], "--no-figures", "--format", "md,html", "--explore", "--out", out) == 0
    assert (out / "explore.html").is_file()
    assert "[explore.html](explore.html)" in (out / "report.md").read_text()
    assert '<a href="explore.html">explore.html</a>' in (out / "report.html").read_text()


def test_report_writes_one_page_per_test_set_and_nothing_on_bad_input(run, tmp_path):
    other, _, _ = write_mnist_run(tmp_path / "o.csv", 200, [{"pipeline": "svm", "pred": lambda t: t}], run_id="r2")
    out = tmp_path / "rep"
    assert report_cli(run[0], other, "--no-figures", "--format", "md", "--explore", "--out", out) == 0
    assert sorted(p.name for p in out.iterdir()) == ["explore-mnist-200.html", "explore-mnist-300.html", "report.md"]
    text = (out / "report.md").read_text()
    assert "[explore-mnist-200.html](explore-mnist-200.html)" in text and "explore-mnist-300.html" in text
    lonely = tmp_path / "lonely" / "o.csv"
    lonely.parent.mkdir()
    lonely.write_bytes(other.read_bytes())  # without its predictions folder
    with pytest.raises(ResultsSchemaError, match=r"keep the \.predictions folder beside its CSV"):
        report_cli(run[0], lonely, "--no-figures", "--format", "md", "--explore", "--out", tmp_path / "none")
    assert not (tmp_path / "none").exists()  # the first test set's page was not written either
