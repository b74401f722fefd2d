"""``data show`` and ``show_dataset``: the figures, the class names from the registry, the summary, misuse."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import toy_arrays, write_toy_dir

import mnist_classic
from mnist_classic import DATASETS, DatasetSpec, load_dataset, show_dataset
from mnist_classic.cli import main
from mnist_classic.data.datasets import ROLES, FileSpec

STEMS = ("samples", "classes", "means", "pixels")
GARMENTS = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def test_registry_carries_class_names():
    assert DATASETS["fashion-mnist"].class_names == GARMENTS
    assert DATASETS["mnist"].class_names == tuple("0123456789")
    assert DATASETS["emnist-digits"].class_names == tuple("0123456789")
    assert DATASETS["kmnist"].class_names == ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")


def test_class_names_must_match_n_classes():
    files = tuple(FileSpec(role=r, filename=f"{r}.gz") for r in ROLES)
    with pytest.raises(
        ValueError, match=r"'class_names' parameter of DatasetSpec 'x' must hold n_classes=10 names\. Got 2"
    ):
        DatasetSpec(name="x", description="", license="", files=files, class_names=("a", "b"))


@pytest.mark.slow
def test_writes_every_figure_in_every_format(tmp_path):
    toy = tmp_path / "toy"
    write_toy_dir(toy)
    preview = show_dataset(toy, out=tmp_path / "out", per_class=3, data_home=tmp_path / "home")
    assert preview.name == "toy"
    assert preview.class_names == tuple("0123456789")  # an unknown directory: the labels themselves
    assert preview.image_shape == (5, 5)
    assert preview.train_counts == (3,) * 10 and sum(preview.test_counts) == 12
    assert sorted(p.name for p in preview.paths) == sorted(f"{s}-toy.{e}" for s in STEMS for e in ("png", "svg"))
    for p in preview.paths:
        head = p.read_bytes()[:8]
        assert head.startswith(b"\x89PNG") if p.suffix == ".png" else b"<" in head
    assert preview.figures == {}
    assert 0.0 < preview.pixel_mean < 1.0 and 0.0 <= preview.zero_fraction < 0.1


def test_a_directory_identified_by_its_hashes_gets_the_registered_names(tmp_path, monkeypatch):
    toy = tmp_path / "copy"
    write_toy_dir(toy)
    ds = load_dataset(toy, data_home=tmp_path / "home")
    pinned = {f.role: f.payload_sha256 for f in ds.files}
    files = tuple(FileSpec(role=r, filename=f"{r}.gz", payload_sha256=pinned[r]) for r in ROLES)
    names = tuple(f"class {chr(65 + i)}" for i in range(10))
    spec = DatasetSpec(name="toy-registered", description="", license="", files=files, class_names=names)
    monkeypatch.setitem(DATASETS, spec.name, spec)
    preview = show_dataset(toy, data_home=tmp_path / "home", per_class=2)
    assert preview.name == "toy-registered" and preview.class_names == names
    assert sorted(preview.figures) == sorted(f"{s}-toy-registered" for s in STEMS)
    fig = preview.figures["samples-toy-registered"]
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == [f"{i}: class {chr(65 + i)}" for i in range(10)]


def test_more_than_ten_labels_in_an_unknown_directory(tmp_path):
    arrays = toy_arrays(n_train=24, labels_train=np.arange(24, dtype=np.uint8) % 12)
    write_toy_dir(tmp_path / "twelve", arrays)
    preview = show_dataset(tmp_path / "twelve", data_home=tmp_path / "home", per_class=1)
    assert preview.class_names == tuple(str(i) for i in range(12))
    assert preview.train_counts == (2,) * 12


def test_a_loaded_dataset_and_a_seeded_sample(tmp_path):
    write_toy_dir(tmp_path / "toy")
    ds = load_dataset(tmp_path / "toy", data_home=tmp_path / "home")
    a = show_dataset(ds, per_class=2, seed=1)
    b = show_dataset(ds, per_class=2, seed=1)
    img = [ax.images[0].get_array().tolist() for ax in a.figures["samples-toy"].axes if ax.images]
    assert img == [ax.images[0].get_array().tolist() for ax in b.figures["samples-toy"].axes if ax.images]
    assert "random (seed 1)" in a.figures["samples-toy"].get_suptitle()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"per_class": 0}, r"The 'per_class' parameter of show_dataset must be an int in \[1, 50\]\. Got 0 instead\."),
        ({"per_class": 2.5}, r"must be an int in \[1, 50\]\. Got 2\.5 instead\."),
        (
            {"formats": ["gif"]},
            r"The 'formats' parameter of show_dataset must be a non-empty subset of png, svg\. Got gif",
        ),
        ({"formats": []}, r"Got nothing instead\."),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        show_dataset("mnist", **kwargs)


def test_cli_data_show(tmp_path, capsys):
    write_toy_dir(tmp_path / "toy")
    out = tmp_path / "figs"
    code = main(
        ["data", "show", "--data-dir", str(tmp_path / "toy"), "--out", str(out), "--per-class", "2", "--formats", "png"]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}-toy.png" for s in STEMS)
    assert printed.startswith("dataset: toy\n  30 train / 12 test images of 5x5 pixels, 10 classes\n")
    assert f"wrote {out / 'samples-toy.png'}" in printed


def test_cli_data_show_misuse_is_one_line(tmp_path, capsys):
    code = main(["data", "show", "--formats", "png,gif", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("mnist-classic: error: The 'formats' parameter of show_dataset must be")
    assert not (tmp_path / "x").exists()


def test_show_dataset_is_public():
    assert "show_dataset" in mnist_classic.__all__ and "DatasetPreview" in mnist_classic.__all__
