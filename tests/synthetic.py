"""Synthetic data shared by the tests: toy IDX datasets, result files with known predictions, hostile copies."""

from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path

import numpy as np

import mnist_classic
from mnist_classic.cli.report import add_report_parser, cmd_report
from mnist_classic.data.idx import write_idx
from mnist_classic.results import ResultWriter, save_labels

BUNDLED = Path(mnist_classic.__file__).parent / "_data" / "mnist"
#: Canonical file names (without .gz) of each role.
STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
#: Made-up payload hashes for synthetic result files.
SHA = {f"sha256_{r}": f"{i}" * 64 for i, r in enumerate(STEMS)}


def toy_arrays(seed=0, n_train=30, n_test=12, side=5, labels_train=None):
    """A tiny MNIST-format dataset: role -> uint8 array."""
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, size=(n_train, side, side), dtype=np.uint8),
        "train_labels": np.arange(n_train, dtype=np.uint8) % 10 if labels_train is None else labels_train,
        "test_images": rng.integers(0, 256, size=(n_test, side, side), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }


def write_toy_dir(folder, arrays=None, names=None):
    """Write ``arrays`` (default :func:`toy_arrays`) as four raw IDX files; return the arrays."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = toy_arrays() if arrays is None else arrays
    names = names or {r: STEMS[r] for r in STEMS}
    for role in STEMS:
        write_idx(folder / names[role], arrays[role])
    return arrays


def flip_a_test_pixel(folder):
    """In a copy of MNIST, replace t10k-images by its raw payload with one bit flipped (a bad copy)."""
    folder = Path(folder)
    raw = bytearray(gzip.decompress((folder / "t10k-images-idx3-ubyte.gz").read_bytes()))
    raw[5000] ^= 0x01
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    (folder / "t10k-images-idx3-ubyte").write_bytes(bytes(raw))
    return folder


def copy_bundled(dest):
    """A copy of the bundled MNIST files in ``dest``."""
    shutil.copytree(BUNDLED, dest)
    return Path(dest)


def predictions(truth, correct=9800, seed=1):
    """Labels right on the first ``correct`` images and wrong on the rest."""
    pred = truth.copy()
    wrong = np.arange(correct, len(truth))
    pred[wrong] = (truth[wrong] + 1 + np.random.default_rng(seed).integers(0, 9, size=len(wrong))) % 10
    return pred


def write_run(path, truth, cases, *, sha=SHA, dataset="mnist", run_id="r1", extra=None):
    """A results CSV (and its predictions sidecar) with known contents.

    Each case is a dict: ``pipeline``; ``pred`` (one label array for every
    repeat) or ``preds`` (one per repeat); optional ``fit``/``predict`` (times
    per repeat), ``fit_instructions``/``predict_instructions`` (counts per
    repeat), ``columns`` (more columns of this case's rows), ``n_train`` and
    ``status`` (a non-ok status writes an error row).
    The number of repeats is the longest of ``preds``, ``fit`` and ``predict``.
    ``extra``: more columns for every row (``sklearn_version``, ``git_commit``, ...); a case's ``columns``:
    more columns for its rows (``device``, ``learning_curves``, ...).
    """
    w = ResultWriter(path)
    truth_sha = save_labels(w.predictions, truth)
    for c in cases:
        repeats = max(len(c.get("preds", [])), len(c.get("fit", [])), len(c.get("predict", [])), 1)
        for rep in range(repeats):
            row = {
                "run_id": run_id,
                "dataset": dataset,
                "pipeline": c["pipeline"],
                "n_train": c.get("n_train", 60000),
                "n_test": len(truth),
                "seed": rep,
                "repeat": rep,
                "status": c.get("status", "ok"),
                "truth_sha256": truth_sha,
                "subset": "first",
                "cpu_model": "Test CPU",
                "cpu_count": 2,
                **sha,
                **(extra or {}),
                **c.get("columns", {}),
            }
            for key in ("fit_instructions", "predict_instructions"):
                if key in c:
                    row[key] = c[key][rep]
            if row["status"] == "ok":
                pred = c["preds"][rep] if "preds" in c else c["pred"]
                row.update(
                    accuracy=float(np.mean(pred == truth)),
                    fit_time_s=c["fit"][rep] if "fit" in c else (10.0, 11.0, 12.5)[rep % 3],
                    predict_time_s=c["predict"][rep] if "predict" in c else 0.5 + rep,
                    peak_memory_mb=100.0 + rep,
                    predictions_sha256=save_labels(w.predictions, pred),
                )
            else:
                row["error"] = "MemoryError: boom"
            w.append(row)
    return path


def report_cli(*argv):
    """``mnist-classic report ARGV...`` through the report module's own parser and command."""
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    add_report_parser(sub)
    return cmd_report(p.parse_args(["report", *map(str, argv)]))


def write_mnist_run(path, n_test, cases, **kwargs):
    """A results CSV on the first ``n_test`` images of the bundled MNIST, with its real payload hashes.

    ``cases`` as in :func:`write_run`; each ``pred`` may be a function of the true labels.
    Returns ``(path, truth, test images as uint8 (n, 28, 28))``.
    """
    ds = mnist_classic.load_dataset("mnist", n_test=n_test)
    sha = {f"sha256_{role}": value for role, value in ds.sha256.items()}
    truth = np.asarray(ds.y_test)
    cases = [{**c, "pred": c["pred"](truth)} if callable(c.get("pred")) else c for c in cases]
    write_run(path, truth, cases, sha=sha, **kwargs)
    images = np.rint(np.asarray(ds.X_test) * 255).astype(np.uint8).reshape(-1, 28, 28)
    return Path(path), truth, images
