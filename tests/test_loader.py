"""The loader: the bundled MNIST against known facts, subsets, the decoded cache, integrity checks."""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from synthetic import STEMS, toy_arrays, write_toy_dir

import mnist_classic
from mnist_classic.data import DataIntegrityError, decoded, find_idx_files, load_dataset, verify_dataset
from mnist_classic.data.datasets import DATASETS, ROLES, DatasetSpec, FileSpec
from mnist_classic.data.idx import IDXError, encode_idx, write_idx

BUNDLED = Path(mnist_classic.__file__).parent / "_data" / "mnist"
# The canonical SHA-256 of the decompressed MNIST files, as published by many projects.
MNIST_SHA256 = {
    "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --- the bundled MNIST, loaded once for the module -------------------------------------


@pytest.fixture(scope="module")
def data_home(tmp_path_factory):
    """A data home of the module's own, so the decoded cache starts cold and stays isolated."""
    return tmp_path_factory.mktemp("mnist-data-home")


@pytest.fixture(scope="module")
def mnist(data_home):
    return load_dataset("mnist", data_home=data_home)


def copy_bundled(directory):
    directory.mkdir()
    for role in ROLES:
        shutil.copy(BUNDLED / f"{STEMS[role]}.gz", directory)
    return directory


def test_shapes_dtypes_and_range(mnist):
    assert mnist.name == "mnist"
    assert mnist.X_train.shape == (60000, 784) and mnist.X_test.shape == (10000, 784)
    assert mnist.y_train.shape == (60000,) and mnist.y_test.shape == (10000,)
    assert mnist.X_train.dtype == np.float32 and mnist.X_test.dtype == np.float32
    assert mnist.y_train.dtype == np.int64 and mnist.y_test.dtype == np.int64
    for X in (mnist.X_train, mnist.X_test):
        assert X.min() == 0.0 and X.max() == 1.0
    # Every value is an exact multiple of 1/255: a uint8 divided by 255, nothing else.
    levels = np.unique(mnist.X_test)
    np.testing.assert_allclose(levels * 255, np.round(levels * 255), atol=1e-4)
    assert len(levels) == 256


def test_label_counts(mnist):
    assert np.bincount(mnist.y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.y_test).tolist() == TEST_COUNTS


def test_first_labels(mnist):
    assert mnist.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_pixel_statistics(mnist):
    X = mnist.X_train
    assert float(X.mean(dtype=np.float64)) * 255 == pytest.approx(33.318, abs=1e-3)
    assert float(X.std(dtype=np.float64)) * 255 == pytest.approx(78.567, abs=1e-3)
    assert float(X.mean(dtype=np.float64)) == pytest.approx(0.1307, abs=1e-4)
    assert float(X.std(dtype=np.float64)) == pytest.approx(0.3081, abs=1e-4)


def test_metadata_hashes_are_the_pinned_ones(mnist):
    meta = mnist.metadata()
    assert meta["sha256"] == MNIST_SHA256
    assert DATASETS["mnist"].pinned == MNIST_SHA256
    assert meta["shapes"] == {"X_train": [60000, 784], "y_train": [60000], "X_test": [10000, 784], "y_test": [10000]}
    assert meta["subset"] == "first"
    assert {r: Path(p) for r, p in meta["files"].items()} == {r: BUNDLED / f"{STEMS[r]}.gz" for r in ROLES}
    assert [f.shape for f in mnist.files] == [(60000, 28, 28), (60000,), (10000, 28, 28), (10000,)]
    # The bundled SHA256SUMS says the same.
    sums = dict(line.split()[::-1] for line in (BUNDLED / "SHA256SUMS").read_text().splitlines()[1:5])
    assert {r: sums[STEMS[r]] for r in ROLES} == MNIST_SHA256


def test_verify_bundled():
    checks = verify_dataset("mnist")
    assert [c.role for c in checks] == list(ROLES)
    assert all(c.ok for c in checks)
    assert {c.role: c.actual for c in checks} == MNIST_SHA256


# --- subsets ---------------------------------------------------------------------------


def test_first_n(mnist, data_home):
    ds = load_dataset("mnist", n_train=1000, n_test=100, data_home=data_home)
    assert ds.X_train.shape == (1000, 784) and ds.X_test.shape == (100, 784)
    np.testing.assert_array_equal(ds.X_train, mnist.X_train[:1000])
    np.testing.assert_array_equal(ds.y_train, mnist.y_train[:1000])
    np.testing.assert_array_equal(ds.X_test, mnist.X_test[:100])
    np.testing.assert_array_equal(ds.y_test, mnist.y_test[:100])
    assert ds.subset == "first"
    assert ds.sha256 == MNIST_SHA256  # the hashes describe the source files, not the subset


def test_stratified_sample(mnist, data_home):
    n, m = 2000, 500
    a = load_dataset("mnist", n_train=n, n_test=m, seed=0, data_home=data_home)
    again = load_dataset("mnist", n_train=n, n_test=m, seed=0, data_home=data_home)
    other = load_dataset("mnist", n_train=n, n_test=m, seed=1, data_home=data_home)
    assert a.subset == "stratified(seed=0)" and other.subset == "stratified(seed=1)"
    assert a.X_train.shape == (n, 784) and a.y_test.shape == (m,)
    # Class proportions follow the full set's, within one image per class.
    for y, counts, size in ((a.y_train, TRAIN_COUNTS, n), (a.y_test, TEST_COUNTS, m)):
        expected = np.array(counts) * size / sum(counts)
        assert np.abs(np.bincount(y, minlength=10) - expected).max() <= 1
    # Not simply the first n images.
    assert not np.array_equal(a.y_train, mnist.y_train[:n])
    # Deterministic for a seed, different for another.
    np.testing.assert_array_equal(a.X_train, again.X_train)
    np.testing.assert_array_equal(a.y_test, again.y_test)
    assert not np.array_equal(a.y_train, other.y_train) or not np.array_equal(a.X_train, other.X_train)
    # Each sampled image is a real MNIST image with its own label, in canonical order.
    full = np.asarray(mnist.X_train)
    found = []
    for i in range(0, n, 400):
        (where,) = np.nonzero((full == a.X_train[i]).all(axis=1))
        assert where.size >= 1 and mnist.y_train[where[0]] == a.y_train[i]
        found.append(where[0])
    assert found == sorted(found)


@pytest.mark.parametrize("value", [0, 60001, -5, True, 1.5, "10"])
def test_bad_n_train(data_home, value):
    message = (
        r"The 'n_train' parameter of load_dataset must be an int in \[1, 60000\] or None\. "
        rf"Got {re.escape(repr(value))} instead\."
    )
    with pytest.raises(ValueError, match=message):
        load_dataset("mnist", n_train=value, data_home=data_home)


@pytest.mark.parametrize("value", [0, 10001, False])
def test_bad_n_test(data_home, value):
    with pytest.raises(
        ValueError, match=rf"'n_test' parameter of load_dataset must be an int in \[1, 10000\] or None\. Got {value!r}"
    ):
        load_dataset("mnist", n_test=value, data_home=data_home)


@pytest.mark.parametrize("value", [-1, True, 1.5])
def test_bad_seed(tmp_path, value):
    with pytest.raises(
        ValueError, match=rf"'seed' parameter of load_dataset must be a non-negative int or None\. Got {value!r}"
    ):
        load_dataset("mnist", seed=value, data_home=tmp_path)


def test_n_equal_to_the_whole_set(mnist, data_home):
    ds = load_dataset("mnist", n_train=60000, n_test=10000, data_home=data_home)
    np.testing.assert_array_equal(ds.y_train, mnist.y_train)


# --- the decoded cache -----------------------------------------------------------------


def test_warm_load_served_from_the_cache(mnist, data_home, monkeypatch):
    cache = data_home / "decoded" / "v1"
    npy = sorted(p.name for p in cache.glob("*.npy"))
    assert npy == sorted(
        [f"{MNIST_SHA256[r]}-f32.npy" for r in ("train_images", "test_images")]
        + [f"{MNIST_SHA256[r]}-labels-i64.npy" for r in ("train_labels", "test_labels")]
    )
    assert len(list(cache.glob("src-*.json"))) == 4

    def no_decoding(*args, **kwargs):
        raise AssertionError("a warm load must not decode")

    monkeypatch.setattr(decoded, "decode_file", no_decoding)
    warm = load_dataset("mnist", data_home=data_home)
    for attr in ("X_train", "y_train", "X_test", "y_test"):
        assert isinstance(getattr(warm, attr), np.memmap)
        np.testing.assert_array_equal(getattr(warm, attr), getattr(mnist, attr))
    assert warm.sha256 == MNIST_SHA256
    assert not warm.X_train.flags.writeable


# --- integrity of the real data --------------------------------------------------------


def test_bit_flip_in_a_copy(tmp_path, data_home):
    copy = copy_bundled(tmp_path / "copy")
    gz = copy / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(gz.read_bytes()))
    assert sha256(raw) == MNIST_SHA256["test_images"]
    raw[16 + 784 * 3 + 400] ^= 0x01  # one pixel of the fourth test image
    flipped = copy / "t10k-images-idx3-ubyte"
    flipped.write_bytes(raw)
    gz.unlink()
    actual = sha256(raw)

    checks = {c.role: c for c in verify_dataset("mnist", data_dir=copy)}
    bad = checks["test_images"]
    assert not bad.ok
    assert (bad.path, bad.expected, bad.actual, bad.error) == (str(flipped), MNIST_SHA256["test_images"], actual, None)
    assert all(checks[r].ok for r in ROLES if r != "test_images")

    expected = MNIST_SHA256["test_images"]
    message = rf"{re.escape(str(flipped))}: SHA-256 of the payload does not match: expected {expected}, got {actual}"
    with pytest.raises(DataIntegrityError, match=message):
        load_dataset("mnist", data_dir=copy, data_home=data_home)
    with pytest.raises(DataIntegrityError, match=message):
        load_dataset("mnist", data_dir=copy, data_home=data_home, cache=False)


@pytest.mark.parametrize("where", ["middle", "crc"])
def test_flipped_byte_inside_a_gz(tmp_path, data_home, where):
    copy = copy_bundled(tmp_path / "copy")
    gz = copy / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(gz.read_bytes())
    data[len(data) // 2 if where == "middle" else -8] ^= 0x10
    gz.write_bytes(data)
    with pytest.raises((IDXError, DataIntegrityError), match=re.escape(str(gz))):
        load_dataset("mnist", data_dir=copy, data_home=data_home)
    check = verify_dataset("mnist", data_dir=copy)[3]
    assert check.role == "test_labels" and not check.ok
    assert check.error is not None or check.actual != check.expected


def test_gzip_wrapper_changes_do_not_matter(tmp_path, data_home):
    # The hashes are over the payload: a different gzip header (here the mtime) is fine.
    copy = copy_bundled(tmp_path / "copy")
    gz = copy / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(gz.read_bytes())
    data[4] ^= 0x01
    gz.write_bytes(data)
    ds = load_dataset("mnist", data_dir=copy, data_home=data_home, n_train=10)
    assert ds.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert all(c.ok for c in verify_dataset("mnist", data_dir=copy))


def test_local_copy_of_mnist_is_identified(tmp_path, data_home, mnist):
    copy = copy_bundled(tmp_path / "my-digits")
    # A raw file instead of a .gz holds the same payload.
    raw = gzip.decompress((copy / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (copy / "t10k-labels-idx1-ubyte.gz").unlink()
    (copy / "t10k-labels-idx1-ubyte").write_bytes(raw)
    ds = load_dataset(copy, data_home=data_home, n_train=5)
    assert ds.name == "mnist"
    assert ds.sha256 == MNIST_SHA256
    np.testing.assert_array_equal(ds.y_test, mnist.y_test)


# --- synthetic directories: find_idx_files and the checks between files ----------------


def file_names(sep="-", test="t10k", gz=True, prefix=""):
    suffix = ".gz" if gz else ""
    return {
        "train_images": f"{prefix}train-images{sep}idx3-ubyte{suffix}",
        "train_labels": f"{prefix}train-labels{sep}idx1-ubyte{suffix}",
        "test_images": f"{prefix}{test}-images{sep}idx3-ubyte{suffix}",
        "test_labels": f"{prefix}{test}-labels{sep}idx1-ubyte{suffix}",
    }


def write_toy(directory, arrays=None, names=None):
    return write_toy_dir(directory, arrays, names or file_names())


def assert_matches(ds, arrays):
    for split in ("train", "test"):
        images = arrays[f"{split}_images"]
        np.testing.assert_array_equal(
            getattr(ds, f"X_{split}"), images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
        )
        np.testing.assert_array_equal(getattr(ds, f"y_{split}"), arrays[f"{split}_labels"])
        assert getattr(ds, f"y_{split}").dtype == np.int64


@pytest.mark.parametrize("test", ["t10k", "test"])
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("sep", ["-", "."])
def test_find_idx_files_spellings(tmp_path, sep, gz, test):
    names = file_names(sep=sep, test=test, gz=gz)
    arrays = write_toy(tmp_path / "toy-set", names=names)
    (tmp_path / "toy-set" / "README").write_text("not an IDX file")
    assert find_idx_files(tmp_path / "toy-set") == {r: tmp_path / "toy-set" / names[r] for r in ROLES}
    ds = load_dataset(tmp_path / "toy-set", data_home=tmp_path / "home")
    assert ds.name == "toy-set"
    assert_matches(ds, arrays)


def test_find_idx_files_with_prefix_and_mixed_compression(tmp_path):
    names = file_names(prefix="emnist-digits-", test="test")
    names["train_labels"] = names["train_labels"][: -len(".gz")]
    write_toy(tmp_path, names=names)
    assert find_idx_files(str(tmp_path)) == {r: tmp_path / names[r] for r in ROLES}


def test_raw_file_wins_over_its_gz(tmp_path):
    arrays = write_toy(tmp_path / "d", toy_arrays(seed=1), names=file_names(gz=False))
    write_toy(tmp_path / "d", toy_arrays(seed=2), names=file_names(gz=True))
    assert find_idx_files(tmp_path / "d") == {r: tmp_path / "d" / file_names(gz=False)[r] for r in ROLES}
    assert_matches(load_dataset(tmp_path / "d", data_home=tmp_path / "home"), arrays)


def test_two_datasets_in_one_directory(tmp_path):
    write_toy(tmp_path, names=file_names(prefix="a-"))
    write_toy(tmp_path, names=file_names(prefix="b-"))
    with pytest.raises(
        ValueError, match=r"several files for train images: a-train-images-idx3-ubyte\.gz, b-train-images"
    ):
        find_idx_files(tmp_path)


def test_missing_file_names_directory_and_file(tmp_path):
    names = file_names()
    write_toy(tmp_path / "d", names=names)
    (tmp_path / "d" / names["test_labels"]).unlink()
    # Look-alikes that are not the missing file: a directory, and a labels name with the images' idx3.
    (tmp_path / "d" / "t10k-labels-idx1-ubyte").mkdir()
    (tmp_path / "d" / "t10k-labels-idx3-ubyte.gz").write_bytes(b"")
    message = rf"{re.escape(str(tmp_path / 'd'))}: missing IDX file\(s\): t10k-labels-idx1-ubyte\[\.gz\]$"
    with pytest.raises(FileNotFoundError, match=message):
        find_idx_files(tmp_path / "d")
    with pytest.raises(FileNotFoundError, match=message):
        load_dataset(tmp_path / "d", data_home=tmp_path / "home")


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"No such data directory: {re.escape(str(tmp_path / 'nope'))}"):
        find_idx_files(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"No such data directory: .*nope"):
        load_dataset("mnist", data_dir=tmp_path / "nope", data_home=tmp_path)


def test_unregistered_directory_by_relative_name(tmp_path, monkeypatch):
    arrays = write_toy(tmp_path / "toy-relative")
    monkeypatch.chdir(tmp_path)
    ds = load_dataset("toy-relative", data_home=tmp_path / "home")
    assert ds.name == "toy-relative"
    assert_matches(ds, arrays)
    assert ds.metadata()["files"]["train_images"] == "toy-relative/train-images-idx3-ubyte.gz"


def test_unknown_dataset_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        ValueError, match=r"Unknown dataset 'no-such-set': accepted names are .*\bmnist\b.*or a directory"
    ):
        load_dataset("no-such-set", data_home=tmp_path)


def test_synthetic_cache_round_trip(tmp_path, monkeypatch):
    arrays = write_toy(tmp_path / "toy")
    home = tmp_path / "home"
    cold = load_dataset(tmp_path / "toy", data_home=home)
    assert len(list((home / "decoded" / "v1").glob("*.npy"))) == 4
    monkeypatch.setattr(decoded, "decode_file", lambda *a, **k: pytest.fail("decoded again"))
    warm = load_dataset(tmp_path / "toy", data_home=home)
    assert isinstance(warm.X_train, np.memmap)
    assert_matches(cold, arrays)
    assert_matches(warm, arrays)


def test_without_cache(tmp_path):
    arrays = write_toy(tmp_path / "toy")
    ds = load_dataset(tmp_path / "toy", data_home=tmp_path / "home", cache=False)
    assert not isinstance(ds.X_train, np.memmap)
    assert_matches(ds, arrays)
    assert not (tmp_path / "home").exists()


def test_unusable_cache_entry_is_decoded_again(tmp_path):
    arrays = write_toy(tmp_path / "toy")
    home = tmp_path / "home"
    load_dataset(tmp_path / "toy", data_home=home)
    for meta in (home / "decoded" / "v1").glob("src-*.json"):
        meta.write_text("{not json")
    assert_matches(load_dataset(tmp_path / "toy", data_home=home), arrays)


def test_label_count_differs_from_image_count(tmp_path):
    arrays = toy_arrays()
    arrays["train_labels"] = arrays["train_labels"][:29]
    write_toy(tmp_path / "d", arrays)
    path = tmp_path / "d" / "train-labels-idx1-ubyte.gz"
    with pytest.raises(DataIntegrityError, match=rf"{re.escape(str(path))}: 29 labels for 30 train images"):
        load_dataset(tmp_path / "d", data_home=tmp_path / "home")


def test_train_and_test_image_shapes_differ(tmp_path):
    arrays = toy_arrays()
    arrays["test_images"] = np.zeros((12, 4, 4), np.uint8)
    write_toy(tmp_path / "d", arrays)
    with pytest.raises(
        DataIntegrityError, match=r"t10k-images-idx3-ubyte\.gz: test images are \(4, 4\), train images \(5, 5\)"
    ):
        load_dataset(tmp_path / "d", data_home=tmp_path / "home")


@pytest.fixture
def unpinned_spec(monkeypatch):
    """A registered dataset without pinned hashes (removed from the registry afterwards)."""
    files = tuple(FileSpec(role=r, filename=f"{STEMS[r]}.gz") for r in ROLES)
    spec = DatasetSpec(name="toy-unpinned", description="toy", license="none", files=files, n_classes=10)
    monkeypatch.setitem(DATASETS, spec.name, spec)
    return spec


def test_labels_out_of_range(tmp_path, unpinned_spec, data_home):
    arrays = toy_arrays()
    arrays["test_labels"][3] = 12
    write_toy(tmp_path / "d", arrays)
    path = tmp_path / "d" / "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(
        DataIntegrityError, match=rf"{re.escape(str(path))}: label 12 out of range \[0, 9\] for toy-unpinned"
    ):
        load_dataset("toy-unpinned", data_dir=tmp_path / "d", data_home=tmp_path / "home")
    # For mnist itself such files are refused (their hashes are not MNIST's).
    with pytest.raises(DataIntegrityError, match=r"SHA-256 of the payload does not match: expected [0-9a-f]{64}, got"):
        load_dataset("mnist", data_dir=tmp_path / "d", data_home=tmp_path / "home")
    arrays["test_labels"][3] = 9
    write_toy(tmp_path / "d", arrays)
    ds = load_dataset("toy-unpinned", data_dir=tmp_path / "d", data_home=tmp_path / "home")
    assert ds.name == "toy-unpinned"


def test_verify_needs_pins_and_a_registered_name(tmp_path, unpinned_spec):
    write_toy(tmp_path / "d")
    with pytest.raises(ValueError, match=r"toy-unpinned has no pinned payload hashes yet"):
        verify_dataset("toy-unpinned", data_dir=tmp_path / "d")
    with pytest.raises(ValueError, match=r"'dataset' parameter of verify_dataset must be a registered name\. Got"):
        verify_dataset(str(tmp_path / "d"))


def test_verify_reports_unreadable_files(tmp_path):
    names = file_names()
    write_toy(tmp_path / "d", names=names)
    (tmp_path / "d" / names["train_labels"]).write_bytes(b"plain text, not IDX")
    checks = verify_dataset("mnist", data_dir=tmp_path / "d")
    assert not any(c.ok for c in checks)
    bad = checks[1]
    assert bad.role == "train_labels" and bad.actual is None
    assert bad.expected == MNIST_SHA256["train_labels"]
    assert re.search(r"train-labels-idx1-ubyte\.gz: not an IDX file", bad.error)


@pytest.mark.parametrize(
    ("role", "replacement", "message"),
    [
        (
            "train_images",
            "train_labels",
            r"expected MNIST images \(IDX magic 2051: ubyte, 3 dims\), got dtype \|u1 with shape \(30,\)",
        ),
        (
            "test_labels",
            "test_images",
            r"expected MNIST labels \(IDX magic 2049: ubyte, 1 dims\), got dtype \|u1 with shape \(12, 5, 5\)",
        ),
        ("test_images", "int16", r"expected MNIST images \(IDX magic 2051.*got dtype >i2 with shape \(12, 5, 5\)"),
        ("train_labels", "text", r"not an IDX file: the magic number must start with two zero bytes"),
    ],
    ids=["labels-as-images", "images-as-labels", "int16-images", "text-as-labels"],
)
def test_wrong_kind_of_file_in_a_role(tmp_path, role, replacement, message):
    arrays = toy_arrays()
    names = file_names()
    write_toy(tmp_path / "d", arrays, names)
    path = tmp_path / "d" / names[role]
    if replacement == "int16":
        write_idx(path, arrays[role].astype(np.int16))
    elif replacement == "text":
        path.write_bytes(b"label,value\n0,5\n")
    else:
        path.write_bytes(gzip.compress(encode_idx(arrays[replacement])))
    with pytest.raises(IDXError, match=re.escape(str(path)) + ": " + message):
        load_dataset(tmp_path / "d", data_home=tmp_path / "home")


def test_files_of_two_prefixes_are_refused(tmp_path):
    names = file_names()
    write_toy(tmp_path / "mixed", names=names)
    (tmp_path / "mixed" / names["train_images"]).rename(tmp_path / "mixed" / ("other-" + names["train_images"]))
    with pytest.raises(ValueError, match="do not share one prefix"):
        find_idx_files(tmp_path / "mixed")


def test_stratified_sample_too_close_to_the_whole_set(data_home):
    with pytest.raises(ValueError, match="stratified sample of 59995 of 60000 images is not possible"):
        load_dataset("mnist", n_train=59995, seed=0, data_home=data_home)
