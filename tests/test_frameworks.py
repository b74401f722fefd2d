"""The verified data in PyTorch, Keras and TensorFlow: mnist_classic.torch, mnist_classic.keras, Dataset.to_torch/to_tf.

The tests that need torch or keras skip without them (the default CI run has neither); .ci/run runs this file
again after installing the [cnn] and [keras] extras. Keras runs on the torch backend (KERAS_BACKEND=torch).
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mnist_classic
from mnist_classic import keras as mkeras
from mnist_classic import load_dataset, load_split, write_idx
from mnist_classic.cli import main
from mnist_classic.data import DATASETS, DataIntegrityError
from mnist_classic.data.idx import read_idx_payload

ROOT = Path(__file__).resolve().parents[1]
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")  # apt-get install dataset-fashion-mnist
needs_debian_fashion = pytest.mark.skipif(
    not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
)
FASHION = DATASETS["fashion-mnist"].class_names


def _payload(path: str) -> bytes:
    """The bytes after the IDX header of a raw or gzip file: what the arrays must equal."""
    data = read_idx_payload(path)
    return data[4 + 4 * data[3] :]


def _idx_dir(folder: Path, seed: int = 0, n_train: int = 60, n_test: int = 20, top: int = 9) -> Path:
    """A small MNIST-format dataset written with the package's own writer (.gz, as Debian ships them)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        labels = np.arange(n, dtype=np.uint8) % (top + 1)
        write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", labels)
    return folder


# --- the arrays, without any framework --------------------------------------------------------------------------


def test_keras_load_data_has_keras_shapes_dtypes_and_the_idx_bytes():
    (x_train, y_train), (x_test, y_test) = mkeras.load_data()
    assert (x_train.shape, x_test.shape, y_train.shape, y_test.shape) == (
        (60000, 28, 28),
        (10000, 28, 28),
        (60000,),
        (10000,),
    )
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    files = {f.role: f.path for f in load_dataset("mnist", n_train=1, n_test=1).files}
    for array, role in ((x_train, "train_images"), (y_train, "train_labels"), (x_test, "test_images")):
        assert array.tobytes() == _payload(files[role]), role
    assert y_test.tobytes() == _payload(files["test_labels"])
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]


def test_load_split_is_the_loaders_data_unscaled():
    split = load_split("mnist", train=False)
    ds = load_dataset("mnist", n_train=1)
    assert split.name == "mnist" and not split.train and split.images.flags.writeable
    np.testing.assert_array_equal(split.images.reshape(10000, -1) / np.float32(255), ds.X_test)
    np.testing.assert_array_equal(split.labels, ds.y_test)
    assert {f.role: f.payload_sha256 for f in split.files} == {
        r: h for r, h in ds.sha256.items() if r.startswith("test")
    }


def test_a_directory_through_keras_gets_its_bytes_and_class_names(tmp_path):
    folder = _idx_dir(tmp_path / "toy")
    (x_train, _), (x_test, y_test) = mkeras.load_data(folder)
    assert x_train.shape == (60, 28, 28) and y_test.shape == (20,) and x_test.dtype == np.uint8
    assert x_train.tobytes() == _payload(str(folder / "train-images-idx3-ubyte.gz"))
    split = load_split(folder, train=False)
    assert split.name == "toy" and split.class_names == tuple(str(i) for i in range(10))


def test_bad_input_gives_the_loaders_errors(tmp_path):
    for call in (lambda d: load_dataset(d), lambda d: mkeras.load_data(d)):
        with pytest.raises(ValueError, match="Unknown dataset 'nope'"):
            call("nope")
        (tmp_path / "empty").mkdir(exist_ok=True)
        with pytest.raises(FileNotFoundError, match=r"empty: missing IDX file\(s\): train-images-idx3-ubyte"):
            call(tmp_path / "empty")
    # A registered dataset's directory whose payloads are not the pinned ones.
    with pytest.raises(DataIntegrityError, match="SHA-256 of the payload does not match"):
        mkeras.load_data("fashion-mnist", data_dir=_idx_dir(tmp_path / "fake"))
    with pytest.raises(ValueError, match=r"The 'train' parameter of load_split must be a bool\. Got 'test' instead\."):
        load_split("mnist", train="test")  # type: ignore[arg-type]
    ds = load_dataset("mnist", n_train=10, n_test=10)
    with pytest.raises(ValueError, match=r"Dataset\.to_torch must be 'train' or 'test'\. Got 'val'"):
        ds.to_torch("val")


def test_a_directory_is_pinned_on_first_use_per_split(tmp_path, monkeypatch):
    """A registered dataset without published hashes is pinned by the split read first, the other kept."""
    from mnist_classic.data.datasets import _mnist_layout  # the registry's own file layout

    folder = _idx_dir(tmp_path / "home" / "toy-pin")
    spec = mnist_classic.DatasetSpec("toy-pin", "toy", "none", _mnist_layout(), mirrors=("http://127.0.0.1:9/",))
    monkeypatch.setitem(DATASETS, "toy-pin", spec)
    files = {p.name: p for p in folder.iterdir()}
    for role in mnist_classic.ROLES:  # the registry's names (<stem>.gz) for the files written above
        assert spec.file(role).filename in files
    test = load_split("toy-pin", train=False, data_home=tmp_path / "home", download=False)
    pins = (folder / "SHA256SUMS").read_text()
    assert test.files[0].payload_sha256 in pins and len(pins.splitlines()) == 2
    load_split("toy-pin", train=True, data_home=tmp_path / "home", download=False)
    assert len((folder / "SHA256SUMS").read_text().splitlines()) == 4
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(20, dtype=np.uint8))
    with pytest.raises(DataIntegrityError, match="does not match"):
        load_split("toy-pin", train=False, data_home=tmp_path / "home", download=False)


def test_to_tf_says_how_to_get_tensorflow_or_gives_a_tf_dataset():
    ds = load_dataset("mnist", n_train=64, n_test=10)
    if importlib.util.find_spec("tensorflow") is None:
        with pytest.raises(
            ImportError, match=r"^Dataset.to_tf needs TensorFlow.*pip install 'mnist-classic\[tensorflow\]'$"
        ):
            ds.to_tf()
        pytest.skip("TensorFlow is not installed: to_tf's tf.data.Dataset is tested where it is")
    tf_ds = ds.to_tf()
    image, label = next(iter(tf_ds))
    assert tuple(image.shape) == (28, 28, 1) and image.dtype.name == "float32" and int(label) == 5
    assert int(tf_ds.cardinality()) == 64


# --- the data that no command found: both ways named -------------------------------------------------------------


def test_a_dataset_not_on_this_machine_names_data_dir_and_the_download(tmp_path, monkeypatch, capsys):
    from synthetic import write_run

    monkeypatch.setenv("MNIST_CLASSIC_DATA", str(tmp_path / "empty-home"))
    truth = np.arange(30) % 10
    path = write_run(tmp_path / "fashion.csv", truth, [{"pipeline": "svm", "pred": truth}], dataset="fashion-mnist")
    code = main(["explore", str(path), "--out", str(tmp_path / "ex")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "fashion-mnist is not downloaded to" in err
    assert "--data-dir DIR" in err and "mnist-classic data download fashion-mnist" in err
    with pytest.raises(FileNotFoundError, match=r"data_dir=DIR in Python\), or run 'mnist-classic data download"):
        load_split("fashion-mnist", download=False)


def test_a_failed_download_names_data_dir(tmp_path, monkeypatch):
    from mnist_classic.data.datasets import _mnist_layout
    from mnist_classic.data.fetch import FetchError

    spec = mnist_classic.DatasetSpec("toy-offline", "toy", "none", _mnist_layout(), mirrors=("http://127.0.0.1:9/",))
    monkeypatch.setitem(DATASETS, "toy-offline", spec)
    with pytest.raises(FetchError, match=r"mirror failed: .*toy-offline already on disk reads with --data-dir DIR"):
        load_split("toy-offline", data_home=tmp_path)


@needs_debian_fashion
@pytest.mark.slow
def test_explore_finds_debian_fashion_with_data_dir(tmp_path, monkeypatch, capsys):
    from synthetic import write_run

    monkeypatch.setenv("MNIST_CLASSIC_DATA", str(tmp_path / "empty-home"))
    ds = load_dataset("fashion-mnist", data_dir=DEBIAN_FASHION, n_train=1, n_test=40, download=False)
    sha = {f"sha256_{r}": h for r, h in ds.sha256.items()}
    truth = np.asarray(ds.y_test)
    path = write_run(tmp_path / "f.csv", truth, [{"pipeline": "svm", "pred": truth}], sha=sha, dataset="fashion-mnist")
    assert main(["explore", str(path), "--out", str(tmp_path / "ex"), "--data-dir", str(DEBIAN_FASHION)]) == 0
    assert (tmp_path / "ex" / "explore.html").is_file()
    assert main(["explore", str(path), "--out", str(tmp_path / "ex2")]) == 2
    assert "--data-dir DIR" in capsys.readouterr().err


# --- PyTorch ----------------------------------------------------------------------------------------------------


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def test_torch_mnist_has_torchvisions_interface(torch):
    from mnist_classic.torch import MNIST

    d = MNIST(train=False)
    assert isinstance(d, torch.utils.data.Dataset)
    assert len(d) == 10000 and tuple(d.data.shape) == (10000, 28, 28)
    assert d.data.dtype == torch.uint8 and d.targets.dtype == torch.int64
    assert d.classes == [str(i) for i in range(10)] and d.class_to_idx["7"] == 7
    assert d.data.numpy().tobytes() == _payload(d_path := load_split("mnist", train=False).files[0].path), d_path
    assert d.targets[:5].tolist() == [7, 2, 1, 0, 4]
    image, label = d[0]
    assert type(image).__module__.startswith("PIL") and image.mode == "L" and image.size == (28, 28)
    assert label == 7 and isinstance(label, int)
    assert np.asarray(image).tobytes() == d.data[0].numpy().tobytes()
    assert "Split: Test" in repr(d) and "Number of datapoints: 10000" in repr(d)
    assert "torchvision" not in sys.modules
    twin = pickle.loads(pickle.dumps(d))  # DataLoader workers started by spawn get it pickled
    assert torch.equal(twin.data, d.data)


def test_torch_transforms_and_the_tensor_without_pillow(torch, monkeypatch):
    from mnist_classic.torch import MNIST, to_tensor

    d = MNIST(train=False, transform=to_tensor, target_transform=lambda t: t + 100)
    image, label = d[1]
    assert tuple(image.shape) == (1, 28, 28) and image.dtype == torch.float32 and label == 102
    assert torch.equal(image[0], d.data[1].float() / 255)
    monkeypatch.setitem(sys.modules, "PIL", None)  # Pillow not installed
    bare = MNIST(train=False)
    image, label = bare[1]
    assert isinstance(image, torch.Tensor) and tuple(image.shape) == (1, 28, 28) and image.dtype == torch.float32
    assert torch.equal(image, to_tensor(d.data[1])) and label == 2


@pytest.mark.slow
def test_torch_is_pytorch_inside_the_package(torch):
    """mnist_classic/torch.py never shadows PyTorch: the package's own `import torch` lines get the real one."""
    import mnist_classic.estimators.torch_trainer as trainer
    import mnist_classic.torch as adapter

    assert adapter.torch is torch and hasattr(adapter.torch, "nn")
    code = "import mnist_classic.torch, mnist_classic.estimators.lenet as l, torch; print(torch.__file__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert "mnist_classic" not in out and out.strip() == torch.__file__
    assert trainer is not None


@pytest.mark.slow
def test_the_module_imports_without_torch():
    """Documentation and doctest collection import it where torch is missing; using it names the extra."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import mnist_classic.torch as m\n"
        "try:\n    m.MNIST(train=False)\nexcept ImportError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out == "mnist_classic.torch needs PyTorch, which is not installed: pip install 'mnist-classic[cnn]'\n"


def test_without_torch_one_line_names_the_extra(monkeypatch):
    import mnist_classic.torch as adapter

    monkeypatch.setattr(adapter, "torch", None)
    with pytest.raises(ImportError, match=r"^mnist_classic.torch needs PyTorch.*pip install 'mnist-classic\[cnn\]'$"):
        adapter.MNIST(train=False)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"^Dataset.to_torch needs PyTorch.*'mnist-classic\[cnn\]'$"):
        load_dataset("mnist", n_train=10, n_test=10).to_torch()


def test_to_torch_gives_channels_first_float_images(torch):
    ds = load_dataset("mnist", n_train=100, n_test=50)
    train, test = ds.to_torch(), ds.to_torch("test")
    assert isinstance(train, torch.utils.data.TensorDataset) and len(train) == 100 and len(test) == 50
    images, labels = train.tensors
    assert tuple(images.shape) == (100, 1, 28, 28) and images.dtype == torch.float32 and labels.dtype == torch.int64
    np.testing.assert_array_equal(images.numpy().reshape(100, -1), ds.X_train)
    np.testing.assert_array_equal(test.tensors[1].numpy(), ds.y_test)


def _lenet5(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.Tanh(),
        nn.Linear(120, 84),
        nn.Tanh(),
        nn.Linear(84, 10),
    )


@pytest.mark.slow
def test_lenet5_trains_one_epoch_through_a_dataloader(torch):
    from mnist_classic.torch import MNIST, to_tensor

    torch.manual_seed(0)
    train = torch.utils.data.Subset(MNIST(transform=to_tensor), range(2000))
    test = torch.utils.data.Subset(MNIST(train=False, transform=to_tensor), range(1000))
    model = _lenet5(torch)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for images, labels in torch.utils.data.DataLoader(train, batch_size=64, shuffle=True):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    model.eval()
    right = 0
    with torch.no_grad():
        for images, labels in torch.utils.data.DataLoader(test, batch_size=500):
            right += int((model(images).argmax(1) == labels).sum())
    assert right / 1000 > 0.5  # chance is 0.1; one epoch on 2,000 images reaches ~0.8


def test_fashion_mnist_from_a_directory_through_torch(torch, tmp_path):
    from mnist_classic.torch import MNIST

    folder = _idx_dir(tmp_path / "toy", seed=3)
    d = MNIST(dataset=folder)
    assert (
        len(d) == 60
        and d.name == "toy"
        and d.data.numpy().tobytes() == _payload(str(folder / "train-images-idx3-ubyte.gz"))
    )
    with pytest.raises(ValueError, match="Unknown dataset 'nope'"):
        MNIST(dataset="nope")
    with pytest.raises(FileNotFoundError, match="missing IDX file"):
        MNIST(dataset=tmp_path)


@needs_debian_fashion
@pytest.mark.slow
def test_debian_fashion_mnist_through_torch_and_keras(torch):
    from mnist_classic.torch import MNIST

    by_dir = MNIST(train=False, dataset=DEBIAN_FASHION)  # named by its hashes
    by_name = MNIST(train=False, dataset="fashion-mnist", data_dir=DEBIAN_FASHION)  # checked against its pins
    assert by_dir.name == by_name.name == "fashion-mnist" and by_dir.classes == list(FASHION)
    assert torch.equal(by_dir.data, by_name.data) and by_dir.sha256 == by_name.sha256
    assert by_dir.data.numpy().tobytes() == _payload(str(DEBIAN_FASHION / "t10k-images-idx3-ubyte.gz"))
    (x_train, y_train), (x_test, y_test) = mkeras.load_data("fashion-mnist", data_dir=DEBIAN_FASHION)
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert x_test.tobytes() == by_dir.data.numpy().tobytes() and y_test.tolist() == by_dir.targets.tolist()
    assert y_train.tobytes() == _payload(str(DEBIAN_FASHION / "train-labels-idx1-ubyte.gz"))


# --- Keras 3 on the torch backend -------------------------------------------------------------------------------


@pytest.fixture
def keras(monkeypatch):
    if "keras" not in sys.modules:
        monkeypatch.setenv("KERAS_BACKEND", "torch")  # Keras reads it once, at import: no TensorFlow needed
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"keras was imported on the {keras.backend.backend()} backend before this test")
    return keras


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")  # Keras's torch backend and numpy 2's copy keyword
def test_a_keras_model_fits_one_epoch_from_load_data(keras):
    (x_train, y_train), (x_test, y_test) = mkeras.load_data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train[:2000], y_train[:2000], epochs=1, batch_size=64, verbose=0)
    assert len(history.history["loss"]) == 1 and np.isfinite(history.history["loss"][0])
    _, accuracy = model.evaluate(x_test[:1000], y_test[:1000], verbose=0)
    assert accuracy > 0.5  # chance is 0.1


# --- the documents' framework examples --------------------------------------------------------------------------

FRAMEWORK_CELL = re.compile(r"^```python\n(?P<body>(?:(?!^```).)*?mnist_classic\.(?:torch|keras).*?)^```$", re.M | re.S)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")
def test_the_tutorials_and_readmes_framework_cells_run(torch, keras, tmp_path, monkeypatch, capsys):
    """The cells that tests/test_tutorial.py and tests/test_readme.py leave out without torch or keras."""
    monkeypatch.chdir(tmp_path)
    for page in ("docs/tutorial.md", "README.md"):
        bodies = [m["body"] for m in FRAMEWORK_CELL.finditer((ROOT / page).read_text())]
        assert bodies, page
        for i, body in enumerate(bodies):
            exec(compile(body, f"{page}, framework cell {i}", "exec"), {"__name__": "__doc__"})
    out = capsys.readouterr().out
    assert "PyTorch LeNet-5" in out and "Keras" in out
    assert os.environ.get("KERAS_BACKEND", "torch") == "torch"
