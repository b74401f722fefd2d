"""Hostile inputs for the documented error cases (docs/errors.md), built in a temporary folder."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
from synthetic import BUNDLED, STEMS, copy_bundled, flip_a_test_pixel, toy_arrays, write_run, write_toy_dir

from mnist_classic.results import COLUMNS


def _toy(folder: Path, **kwargs) -> Path:
    write_toy_dir(folder, toy_arrays(n_test=10, side=4, **kwargs))
    return folder


def build(tmp: Path) -> dict[str, str]:
    """Create every fixture under ``tmp``; return placeholder name -> path."""
    paths: dict[str, Path] = {"tmp": tmp}
    paths["missing_dir"] = tmp / "no-such-dir"
    one = tmp / "missing-one"
    one.mkdir()
    for role in ("train_images", "test_images", "test_labels"):
        shutil.copy(BUNDLED / f"{STEMS[role]}.gz", one)
    paths["missing_one"] = one
    corrupt = copy_bundled(tmp / "corrupt-gzip")
    blob = bytearray((corrupt / "t10k-labels-idx1-ubyte.gz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (corrupt / "t10k-labels-idx1-ubyte.gz").write_bytes(bytes(blob))
    paths["corrupt_gzip"] = corrupt
    paths["bit_flip"] = flip_a_test_pixel(copy_bundled(tmp / "bit-flip"))
    truncated = _toy(tmp / "truncated")
    data = (truncated / STEMS["test_images"]).read_bytes()
    (truncated / STEMS["test_images"]).write_bytes(data[: len(data) - 7])
    paths["truncated"] = truncated
    swapped = _toy(tmp / "swapped")
    (swapped / STEMS["train_labels"]).rename(tmp / "labels.tmp")
    (swapped / STEMS["train_images"]).rename(swapped / STEMS["train_labels"])
    (tmp / "labels.tmp").rename(swapped / STEMS["train_images"])
    paths["swapped"] = swapped
    paths["count_mismatch"] = _toy(tmp / "count-mismatch", labels_train=np.zeros(29, dtype=np.uint8))
    paths["label_range"] = _toy(tmp / "label-range", labels_train=np.full(30, 10, dtype=np.uint8))
    foreign = tmp / "foreign.csv"
    foreign.write_text("name,score\nsvm,0.98\n")
    paths["foreign_csv"] = foreign
    run_file = tmp / "bench.toml"
    run_file.write_text('pipeline = ["svm"]\nn_train = 1000\n')
    paths["run_file_typo"] = run_file
    truth = np.arange(20) % 10
    lonely = write_run(tmp / "lonely.csv", truth, [{"pipeline": "svm", "pred": truth}])
    shutil.rmtree(tmp / "lonely.predictions")  # a CSV copied without its predictions folder
    paths["lonely_csv"] = lonely
    paths["run_20"] = write_run(tmp / "run-20.csv", truth, [{"pipeline": "knn", "pred": truth}])
    paths["run_10"] = write_run(tmp / "run-10.csv", truth[:10], [{"pipeline": "rf", "pred": truth[:10]}])
    # A run on Fashion-MNIST read from a directory (Debian's, say): explore finds no download of it.
    fashion = [{"pipeline": "svm", "pred": truth}]
    paths["fashion_run"] = write_run(tmp / "fashion.csv", truth, fashion, dataset="fashion-mnist")
    crafted = tmp / "crafted.csv"  # a results CSV from elsewhere whose row names a callable with arguments
    row = dict.fromkeys(COLUMNS, "") | {"run_id": "x", "dataset": "mnist", "status": "ok", "n_train": "100"}
    row |= {"pipeline": "os:system[command='touch pwned']", "n_test": "100", "seed": "0"}
    with crafted.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerow(row)
    paths["crafted_csv"] = crafted
    return {k: str(v) for k, v in paths.items()}
