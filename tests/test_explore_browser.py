"""explore in a real browser (Debian's Chromium, Playwright): what the page shows is what is on disk.

The run is the issue's bar: knn and logreg on 2,000 / 1,000 MNIST images. The
page opens from a file:// URL in an offline context; any console error, page
error or request (other than the page itself) fails the test. With
MNIST_CLASSIC_WRITE_SCREENSHOTS=1, ``test_screenshots`` rewrites docs/explore/*.png.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from browser import OpenedPage, biggest_error_cell, chromium, screenshots

import mnist_classic
from mnist_classic.analysis.explore.explorer import explore_payload
from mnist_classic.analysis.runs import load_runs
from mnist_classic.analysis.stats import mcnemar_exact
from mnist_classic.cli import main

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "explore"
REFERENCE = ["results/mnist-default.csv", "results/mnist-extended.csv", "results/mnist-neural.csv"]


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def bar(tmp_path_factory, browser):
    """The run of the issue's bar, its explorer page, and what is on disk: truth, predictions by case, images."""
    folder = tmp_path_factory.mktemp("bar")
    csv = folder / "r.csv"
    argv = ["run", "--pipelines", "knn", "logreg", "--n-train", "2000", "--n-test", "1000", "-o", "r.csv", "-q"]
    here = Path.cwd()
    os.chdir(folder)  # relative paths: the page (and the screenshots) name the CSV as given, r.csv
    try:
        assert main(argv) == 0
        assert main(["explore", "r.csv", "--out", "explore"]) == 0
    finally:
        os.chdir(here)
    df = load_runs([csv])
    sidecar = csv.with_suffix(".predictions")
    truth = mnist_classic.load_labels(sidecar, df["truth_sha256"].iloc[0])
    preds = {r["pipeline"]: mnist_classic.load_labels(sidecar, r["predictions_sha256"]) for _, r in df.iterrows()}
    ds = mnist_classic.load_dataset("mnist", n_test=1000)
    images = np.rint(np.asarray(ds.X_test) * 255).astype(np.uint8)
    return {"page": folder / "explore" / "explore.html", "csv": csv, "truth": truth, "preds": preds, "images": images}


@pytest.fixture
def opened(browser, bar):
    page = OpenedPage(browser, bar["page"])
    yield page
    assert not page.problems, page.problems
    page.close()


def _tiles(page, box="gallery"):
    return page.evaluate(
        """(box) => [...document.querySelectorAll("#" + box + " figure.tile")].map((f) => ({
            index: Number(f.dataset.index), truth: Number(f.dataset.truth), a: Number(f.dataset.a),
            b: Number(f.dataset.b), wrong: Number(f.dataset.wrong), text: f.querySelector("figcaption").innerText}))""",
        box,
    )


def _canvas_pixels(page, nth, box="gallery"):
    """The gray levels drawn on the nth tile's canvas (the page draws ink dark: 255 - pixel)."""
    rgba = page.evaluate(
        """([box, n]) => { const c = document.querySelectorAll("#" + box + " canvas")[n];
            return Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data); }""",
        [box, nth],
    )
    return 255 - np.asarray(rgba, dtype=np.int64).reshape(-1, 4)[:, 0]


def test_the_bar_opens_offline_with_no_console_error(opened, bar):
    page = opened.page
    assert page.title() == "mnist-classic explorer: mnist, 1,000 test images"
    assert page.locator("#case-table tr[data-case]").count() == 2
    timing = opened.timing()
    assert 0 < timing["load"] and 0 < timing["ready"]
    text = bar["page"].read_text()
    assert "http:" not in text and "https:" not in text


def test_a_confusion_cell_opens_its_images_with_what_the_other_case_said(opened, bar):
    page, truth = opened.page, bar["truth"]
    knn, logreg = bar["preds"]["knn"], bar["preds"]["logreg"]
    t, p = biggest_error_cell(page, "confusion-a")  # A is knn, the first case
    expected = np.flatnonzero((truth == t) & (knn == p))
    assert int(page.locator(f'#confusion-a td[data-t="{t}"][data-p="{p}"]').inner_text()) == len(expected) > 1
    page.locator(f'#confusion-a td[data-t="{t}"][data-p="{p}"]').click()
    tiles = _tiles(page)
    assert [x["index"] for x in tiles] == expected.tolist()
    for x in tiles:
        assert (x["truth"], x["a"], x["b"]) == (truth[x["index"]], knn[x["index"]], logreg[x["index"]])
        assert f"A: {knn[x['index']]}" in x["text"] and f"B: {logreg[x['index']]}" in x["text"]
    assert page.locator("#gallery-title").inner_text() == f"A said {p} for true {t} ({len(expected)})"
    for n in (0, len(tiles) - 1):
        assert np.array_equal(_canvas_pixels(page, n), bar["images"][tiles[n]["index"]])


def test_discordant_pairs_both_ways_with_mcnemar(opened, bar):
    page, truth = opened.page, bar["truth"]
    page.select_option("#case-a", label="logreg")  # A becomes logreg; B, which was logreg, takes knn's place
    page.select_option("#case-b", label="knn")
    a, b = bar["preds"]["logreg"], bar["preds"]["knn"]
    ra, rb = a == truth, b == truth
    only_a, only_b = np.flatnonzero(ra & ~rb), np.flatnonzero(~ra & rb)
    assert page.locator("#count-a-only").inner_text() == str(len(only_a))
    assert page.locator("#count-b-only").inner_text() == str(len(only_b))
    p = mcnemar_exact(len(only_a), len(only_b))
    assert float(page.locator("#mcnemar-p").inner_text()) == pytest.approx(p, rel=5e-3)
    page.locator("#show-b-only").click()
    tiles = _tiles(page)
    assert [x["index"] for x in tiles] == only_b[:120].tolist()
    assert all(x["a"] == a[x["index"]] != truth[x["index"]] == x["b"] == b[x["index"]] for x in tiles)
    page.locator("#show-a-only").click()
    assert [x["index"] for x in _tiles(page)] == only_a[:120].tolist()
    page.locator("#show-both").click()
    both = np.flatnonzero(~ra & ~rb)
    shown = [x["index"] for x in _tiles(page)]
    while page.locator("#gallery-more").is_visible():
        page.locator("#gallery-more").click()
        shown = [x["index"] for x in _tiles(page)]
    assert shown == both.tolist()


def test_hardest_first_and_a_class_opens_its_images(opened, bar):
    page, truth = opened.page, bar["truth"]
    wrong = sum((p != truth).astype(int) for p in bar["preds"].values())
    order = sorted(np.flatnonzero(wrong).tolist(), key=lambda i: (-wrong[i], i))
    tiles = _tiles(page, "hardest")
    assert [x["index"] for x in tiles] == order[:120]
    assert all(x["wrong"] == wrong[x["index"]] for x in tiles)
    assert np.array_equal(_canvas_pixels(page, 5, "hardest"), bar["images"][tiles[5]["index"]])
    page.locator('#class-table tr[data-class="8"]').click()
    members = sorted(np.flatnonzero(truth == 8).tolist(), key=lambda i: (-wrong[i], i))
    assert [x["index"] for x in _tiles(page)] == members[:120]
    cells = page.locator('#class-table tr[data-class="8"] td').all_inner_texts()
    assert cells[1] == str(len(members))
    assert cells[2] == f"{100 * np.mean(bar['preds']['knn'][truth == 8] == 8):.2f}%"


def test_class_names_of_fashion_mnist_are_shown(browser, bar, tmp_path, monkeypatch):
    from mnist_classic.analysis.explore import explorer as explore_module
    from mnist_classic.analysis.explore.page import render_explorer

    fashion = mnist_classic.DATASETS["fashion-mnist"].class_names
    payload = explore_payload(load_runs([bar["csv"]]))
    payload["class_names"] = list(fashion)  # the same labels, named as Fashion-MNIST's
    page_path = tmp_path / "fashion.html"
    page_path.write_text(render_explorer(payload))
    opened = OpenedPage(browser, page_path)
    assert opened.page.locator('#class-table tr[data-class="9"] td').nth(1).inner_text() == "Ankle boot"
    assert opened.page.locator('#confusion-a tr th[title="9 Ankle boot"]').count() == 2  # column and row
    assert "true: " + fashion[int(bar["truth"][_tiles(opened.page)[0]["index"]])] in _tiles(opened.page)[0]["text"]
    assert not opened.problems, opened.problems
    opened.close()
    assert explore_module.EXPLORE_FILE == "explore.html"


@pytest.fixture(scope="module")
def reference(tmp_path_factory, browser):
    """The explorer of the committed reference runs: 14 cases on the 10,000 MNIST test images."""
    out = tmp_path_factory.mktemp("reference")
    here = Path.cwd()
    os.chdir(ROOT)  # the page names the CSVs as given: results/mnist-default.csv, ...
    try:
        assert main(["explore", *REFERENCE, "--out", str(out)]) == 0
    finally:
        os.chdir(here)
    return out / "explore.html"


def test_the_reference_runs_fourteen_cases_on_10000_images(browser, reference):
    opened = OpenedPage(browser, reference)
    page = opened.page
    assert page.locator("#case-table tr[data-case]").count() == 14
    assert page.locator("#title").inner_text() == "Where the cases differ: mnist, 10,000 test images"
    assert page.locator("#hardest figure.tile").count() == 120  # the first page of the hardest images
    total = page.locator("#confusion-a td.n").evaluate_all("(t) => t.reduce((s, x) => s + Number(x.textContent), 0)")
    assert total == 10_000
    assert not opened.problems, opened.problems
    opened.close()


def test_screenshots(browser, reference, tmp_path):
    """The docs' pictures, by this code: MNIST_CLASSIC_WRITE_SCREENSHOTS=1 writes them into docs/explore."""
    folder = DOCS if os.environ.get("MNIST_CLASSIC_WRITE_SCREENSHOTS") == "1" else tmp_path
    shots = screenshots(browser, reference, folder)
    assert all(s.stat().st_size > 10_000 for s in shots)
