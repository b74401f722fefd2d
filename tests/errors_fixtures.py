"""Hostile inputs for the documented error cases (docs/errors.md), built in a temporary folder."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np

import mnist_classic
from mnist_classic.idx import write_idx

BUNDLED = Path(mnist_classic.__file__).parent / "_data" / "mnist"
STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _toy(folder: Path, *, n_train: int = 30, n_test: int = 10, labels_train=None, side: int = 4) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    write_idx(folder / STEMS[0], rng.integers(0, 256, size=(n_train, side, side), dtype=np.uint8))
    write_idx(folder / STEMS[1], np.arange(n_train, dtype=np.uint8) % 10 if labels_train is None else labels_train)
    write_idx(folder / STEMS[2], rng.integers(0, 256, size=(n_test, side, side), dtype=np.uint8))
    write_idx(folder / STEMS[3], np.arange(n_test, dtype=np.uint8) % 10)
    return folder


def build(tmp: Path) -> dict[str, str]:
    """Create every fixture under ``tmp``; return placeholder name -> path."""
    paths: dict[str, Path] = {"tmp": tmp}
    paths["missing_dir"] = tmp / "no-such-dir"
    one = tmp / "missing-one"
    one.mkdir()
    for stem in STEMS[:1] + STEMS[2:]:
        shutil.copy(BUNDLED / f"{stem}.gz", one)
    paths["missing_one"] = one
    corrupt = tmp / "corrupt-gzip"
    shutil.copytree(BUNDLED, corrupt)
    blob = bytearray((corrupt / "t10k-labels-idx1-ubyte.gz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (corrupt / "t10k-labels-idx1-ubyte.gz").write_bytes(bytes(blob))
    paths["corrupt_gzip"] = corrupt
    flipped = tmp / "bit-flip"
    shutil.copytree(BUNDLED, flipped)
    raw = bytearray(gzip.decompress((flipped / "t10k-images-idx3-ubyte.gz").read_bytes()))
    raw[5000] ^= 1
    (flipped / "t10k-images-idx3-ubyte.gz").unlink()
    (flipped / "t10k-images-idx3-ubyte").write_bytes(bytes(raw))
    paths["bit_flip"] = flipped
    truncated = _toy(tmp / "truncated")
    data = (truncated / STEMS[2]).read_bytes()
    (truncated / STEMS[2]).write_bytes(data[: len(data) - 7])
    paths["truncated"] = truncated
    swapped = _toy(tmp / "swapped")
    (swapped / STEMS[1]).rename(tmp / "labels.tmp")
    (swapped / STEMS[0]).rename(swapped / STEMS[1])
    (tmp / "labels.tmp").rename(swapped / STEMS[0])
    paths["swapped"] = swapped
    paths["count_mismatch"] = _toy(tmp / "count-mismatch", labels_train=np.zeros(29, dtype=np.uint8))
    paths["label_range"] = _toy(tmp / "label-range", labels_train=np.full(30, 10, dtype=np.uint8))
    foreign = tmp / "foreign.csv"
    foreign.write_text("name,score\nsvm,0.98\n")
    paths["foreign_csv"] = foreign
    return {k: str(v) for k, v in paths.items()}
