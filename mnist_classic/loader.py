"""Load an MNIST-format dataset as normalized, verified matrices.

``load_dataset`` resolves a dataset (bundled, downloaded or a local directory),
reads its four IDX files, checks each decompressed payload against the pinned
SHA-256, and returns float32 images in [0, 1] of shape (n, pixels) with int64
labels. The decoded matrices are cached as ``.npy`` files keyed by the SHA-256
of the source file's bytes, so a second load is a memory map (milliseconds).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import DATASETS, ROLES, DatasetSpec, get_dataset_spec
from .fetch import fetch_dataset, get_data_home
from .idx import IDXError, decode_idx, inflate_idx

__all__ = [
    "Dataset",
    "DataIntegrityError",
    "FileCheck",
    "IDXFileInfo",
    "find_idx_files",
    "load_dataset",
    "verify_dataset",
]

logger = logging.getLogger(__name__)

_CACHE_VERSION = "v1"  # bump when the decoded layout changes
_FILE_RE = re.compile(
    r"^(?P<prefix>.*?)(?P<split>train|t10k|test)-(?P<kind>images|labels)[-.]"
    r"(?P<idx>idx[13])-ubyte(?P<gz>\.gz)?$"
)
_EXPECTED_NDIM = {"images": 3, "labels": 1}


class DataIntegrityError(ValueError):
    """A payload whose SHA-256 is not the pinned one, or files that disagree."""


@dataclass(frozen=True)
class IDXFileInfo:
    """What was read from one IDX file."""

    role: str
    path: str
    payload_sha256: str
    idx_dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset: matrices, labels and where they came from.

    Attributes
    ----------
    name : str
        Registry name, or the directory's name for an unregistered local set.
    X_train, X_test : numpy.ndarray of shape (n, pixels), float32 in [0, 1]
    y_train, y_test : numpy.ndarray of shape (n,), int64
    files : tuple of IDXFileInfo
        The four source files, in :data:`~mnist_classic.datasets.ROLES` order.
    subset : str
        ``"first"`` (canonical order) or ``"stratified(seed=S)"``.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    files: tuple[IDXFileInfo, ...]
    subset: str = "first"

    @property
    def sha256(self) -> dict[str, str]:
        """Role -> SHA-256 of the decompressed payload."""
        return {f.role: f.payload_sha256 for f in self.files}

    def metadata(self) -> dict[str, Any]:
        """A JSON-ready description: name, files, hashes, shapes, subset."""
        return {
            "name": self.name,
            "files": {f.role: f.path for f in self.files},
            "sha256": self.sha256,
            "shapes": {
                "X_train": list(self.X_train.shape),
                "y_train": list(self.y_train.shape),
                "X_test": list(self.X_test.shape),
                "y_test": list(self.y_test.shape),
            },
            "subset": self.subset,
        }


@dataclass(frozen=True)
class FileCheck:
    """The outcome of verifying one file against its pinned hash."""

    role: str
    path: str
    expected: str | None
    actual: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the payload was read and its hash is the pinned one."""
        return self.error is None and self.expected is not None and self.expected == self.actual


def find_idx_files(directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Find the four IDX files of an MNIST-format dataset in ``directory``.

    Accepts raw or ``.gz`` files, ``-idx3-ubyte`` or ``.idx3-ubyte`` spellings,
    ``t10k`` or ``test``, and one common prefix (``emnist-digits-``). Where a
    raw and a ``.gz`` file hold the same role, the raw one is used.

    Parameters
    ----------
    directory : str or os.PathLike

    Returns
    -------
    dict of str to pathlib.Path
        Role -> file.

    Raises
    ------
    FileNotFoundError
        If the directory does not exist or lacks a file; the message names
        the directory and the files expected.
    ValueError
        If several datasets (prefixes) are found for one role.
    """
    directory = Path(directory)
    if not directory.is_dir():
        msg = f"No such data directory: {directory}"
        raise FileNotFoundError(msg)
    found: dict[str, list[Path]] = {role: [] for role in ROLES}
    for p in sorted(directory.iterdir()):
        m = _FILE_RE.match(p.name)
        if not m or not p.is_file():
            continue
        split = "train" if m["split"] == "train" else "test"
        role = f"{split}_{m['kind']}"
        if (m["kind"] == "images") != (m["idx"] == "idx3"):
            continue
        found[role].append(p)
    result = {}
    for role, paths in found.items():
        raw = [p for p in paths if not p.name.endswith(".gz")]
        gz_of_raw = {p.name + ".gz" for p in raw}
        paths = raw + [p for p in paths if p.name.endswith(".gz") and p.name not in gz_of_raw]
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            msg = f"{directory}: several files for {role.replace('_', ' ')}: {names}; keep one dataset per directory"
            raise ValueError(msg)
        if paths:
            result[role] = paths[0]
    prefixes = sorted({m["prefix"] for p in result.values() if (m := _FILE_RE.match(p.name))})
    if len(prefixes) > 1:
        names = ", ".join(p.name for p in result.values())
        msg = f"{directory}: the IDX files do not share one prefix ({names}); keep one dataset per directory"
        raise ValueError(msg)
    missing = [r for r in ROLES if r not in result]
    if missing:
        expected = ", ".join(
            {
                "train_images": "train-images-idx3-ubyte[.gz]",
                "train_labels": "train-labels-idx1-ubyte[.gz]",
                "test_images": "t10k-images-idx3-ubyte[.gz]",
                "test_labels": "t10k-labels-idx1-ubyte[.gz]",
            }[r]
            for r in missing
        )
        msg = f"{directory}: missing IDX file(s): {expected}"
        raise FileNotFoundError(msg)
    return result


def _bundled_dir(name: str) -> Path:
    return Path(str(resources.files("mnist_classic") / "_data" / name))


def _pins_file(folder: Path) -> Path:
    return folder / "SHA256SUMS"


def _read_pins(folder: Path) -> dict[str, str]:
    """Payload hashes pinned on the first verified download (``SHA256SUMS``)."""
    pins: dict[str, str] = {}
    try:
        text = _pins_file(folder).read_text()
    except OSError:
        return pins
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] in ROLES:
            pins[parts[1]] = parts[0]
    return pins


def _resolve(
    dataset: str | os.PathLike[str],
    data_dir: str | os.PathLike[str] | None,
    data_home: str | os.PathLike[str] | None,
    download: bool,
) -> tuple[DatasetSpec | None, dict[str, Path], dict[str, str], Path | None]:
    """Return (spec, role -> path, role -> pinned payload hash, folder to pin into)."""
    name = os.fspath(dataset)
    if name not in DATASETS and (os.sep in name or Path(name).is_dir()):
        return None, find_idx_files(name), {}, None
    spec = get_dataset_spec(name)
    pins = dict(spec.pinned)
    if data_dir is not None:
        return spec, find_idx_files(data_dir), pins, None
    if spec.bundled:
        return spec, find_idx_files(_bundled_dir(spec.name)), pins, None
    folder = get_data_home(data_home) / spec.name
    if download:
        paths = fetch_dataset(spec, data_home=data_home)
    else:
        paths = {f.role: folder / f.filename for f in spec.files}
        if not all(p.exists() for p in paths.values()):
            msg = f"{spec.name} is not downloaded to {folder}: run 'mnist-classic data download {spec.name}'"
            raise FileNotFoundError(msg)
    return spec, paths, {**_read_pins(folder), **pins}, folder


def _check_kind(arr: np.ndarray, role: str, source: str) -> None:
    kind = role.split("_")[1]
    if arr.dtype != np.dtype(">u1") or arr.ndim != _EXPECTED_NDIM[kind]:
        magic = 0x800 | _EXPECTED_NDIM[kind]
        msg = (
            f"{source}: expected MNIST {kind} (IDX magic {magic}: ubyte, {_EXPECTED_NDIM[kind]} dims), "
            f"got dtype {arr.dtype.str} with shape {arr.shape}"
        )
        raise IDXError(msg)


def _atomic_save(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _normalize(arr: np.ndarray, role: str, transpose: bool, out: np.ndarray | None = None) -> np.ndarray:
    """uint8 IDX array -> float32 (n, pixels) in [0, 1], or int64 labels."""
    if role.endswith("labels"):
        return arr.astype(np.int64)
    if transpose:
        arr = arr.transpose(0, 2, 1)
    flat = arr.reshape(arr.shape[0], -1)
    return np.divide(flat, np.float32(255), out=out, dtype=np.float32)


def _decode(path: Path, raw: bytes, role: str, expected: str | None) -> tuple[np.ndarray, str]:
    source = str(path)
    payload = inflate_idx(raw, source=source)
    actual = hashlib.sha256(payload).hexdigest()
    if expected is not None and actual != expected:
        msg = f"{source}: SHA-256 of the payload does not match: expected {expected}, got {actual}"
        raise DataIntegrityError(msg)
    arr = decode_idx(payload, source=source)
    _check_kind(arr, role, source)
    return arr, actual


def _load_file(
    path: Path, role: str, expected: str | None, transpose: bool, cache_dir: Path | None
) -> tuple[np.ndarray, IDXFileInfo]:
    """Read one file, through the decoded cache when there is one."""
    raw = path.read_bytes()
    variant = "labels-i64" if role.endswith("labels") else ("f32t" if transpose else "f32")
    meta_path = npy_path = None
    if cache_dir is not None:
        key = hashlib.sha256(raw).hexdigest()
        meta_path = cache_dir / f"src-{key}.json"
        try:
            meta = json.loads(meta_path.read_text())
            npy_path = cache_dir / f"{meta['payload_sha256']}-{variant}.npy"
            if (expected is None or meta["payload_sha256"] == expected) and npy_path.exists():
                arr = np.load(npy_path, mmap_mode="r", allow_pickle=False)
                info = IDXFileInfo(role, str(path), meta["payload_sha256"], meta["idx_dtype"], tuple(meta["shape"]))
                return arr, info
        except (OSError, ValueError, KeyError):
            pass  # no or unusable cache entry: decode
    arr, actual = _decode(path, raw, role, expected)
    info = IDXFileInfo(role, str(path), actual, "ubyte", tuple(int(d) for d in arr.shape))
    if cache_dir is not None and meta_path is not None:
        try:
            return _write_cache(cache_dir, meta_path, arr, info, variant, transpose), info
        except OSError as exc:
            logger.warning("decoded cache not written (%s): %s", cache_dir, exc)
    return _normalize(arr, role, transpose), info


def _write_cache(
    cache_dir: Path, meta_path: Path, arr: np.ndarray, info: IDXFileInfo, variant: str, transpose: bool
) -> np.ndarray:
    """Normalize ``arr`` straight into a new ``.npy`` file, then memory-map it read-only."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    npy_path = cache_dir / f"{info.payload_sha256}-{variant}.npy"
    if not npy_path.exists():
        if info.role.endswith("labels"):
            shape: tuple[int, ...] = (arr.shape[0],)
            dtype: type = np.int64
        else:
            shape, dtype = (arr.shape[0], int(np.prod(arr.shape[1:]))), np.float32

        def write(tmp: str) -> None:
            # Normalizing into the memory map writes the file in the same pass.
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape)
            if info.role.endswith("labels"):
                out[:] = arr
            else:
                _normalize(arr, info.role, transpose, out=out)
            del out  # unmapped; the page cache writes it back (no msync: a cache need not be durable)

        _atomic_save(npy_path, write)
    meta = {"payload_sha256": info.payload_sha256, "idx_dtype": info.idx_dtype, "shape": list(info.shape)}
    _atomic_save(meta_path, lambda tmp: Path(tmp).write_text(json.dumps(meta)))
    return np.load(npy_path, mmap_mode="r", allow_pickle=False)


def _check_int(value: Any, name: str, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= high:
        msg = f"The '{name}' parameter of load_dataset must be an int in [1, {high}] or None. Got {value!r} instead."
        raise ValueError(msg)


def _subset(X: np.ndarray, y: np.ndarray, n: int | None, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    if n is None or n == len(y):
        return X, y
    if seed is None:
        return X[:n], y[:n]
    # Deferred import: scikit-learn is only needed for stratified samples.
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    if n < np.count_nonzero(counts):
        msg = f"A stratified sample needs at least one image per class ({np.count_nonzero(counts)}). Got {n}."
        raise ValueError(msg)
    try:
        idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    except ValueError as exc:
        msg = f"A stratified sample of {n} of {len(y)} images is not possible ({exc}); use seed=None for the first n."
        raise ValueError(msg) from None
    idx = np.sort(idx)
    return X[idx], y[idx]


def load_dataset(
    dataset: str | os.PathLike[str] = "mnist",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int | None = None,
    data_home: str | os.PathLike[str] | None = None,
    download: bool = True,
    cache: bool = True,
) -> Dataset:
    """Load an MNIST-format dataset as normalized, verified matrices.

    Parameters
    ----------
    dataset : str or os.PathLike, default="mnist"
        A registered name (``mnist list datasets``) or a directory holding the
        four IDX files (raw or .gz).
    data_dir : str or os.PathLike or None, default=None
        Read the registered ``dataset`` from this directory instead of the
        bundled or downloaded copy; its payloads are checked against the
        dataset's pinned hashes.
    n_train, n_test : int or None, default=None
        Keep only this many training / test images; ``None`` keeps all.
    seed : int or None, default=None
        ``None`` keeps the first ``n`` images in canonical order; an int draws
        a stratified sample with this seed instead.
    data_home : str or os.PathLike or None, default=None
        Where downloads and the decoded cache live (see
        :func:`~mnist_classic.fetch.get_data_home`).
    download : bool, default=True
        Fetch a registered dataset that is not in ``data_home`` yet.
    cache : bool, default=True
        Use and fill the decoded cache (``<data_home>/decoded``).

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        Unknown dataset or bad ``n_train``/``n_test``/``seed``.
    FileNotFoundError
        Missing directory or IDX file.
    IDXError
        A file that is not valid MNIST-format IDX (the message names it).
    DataIntegrityError
        A payload whose SHA-256 differs from the pinned one, or files that
        disagree with each other.

    Examples
    --------
    >>> ds = load_dataset("mnist", n_train=1000, n_test=500)
    >>> ds.X_train.shape, ds.X_train.dtype.name, ds.y_train[:5].tolist()
    ((1000, 784), 'float32', [5, 0, 4, 1, 9])
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        msg = f"The 'seed' parameter of load_dataset must be a non-negative int or None. Got {seed!r} instead."
        raise ValueError(msg)
    spec, paths, pins, pin_folder = _resolve(dataset, data_dir, data_home, download)
    transpose = spec.transpose if spec else False
    cache_dir = get_data_home(data_home) / "decoded" / _CACHE_VERSION if cache else None
    # Inflating, hashing and normalizing release the GIL: the four files load in parallel.
    with ThreadPoolExecutor(max_workers=len(ROLES)) as pool:
        loaded = list(pool.map(lambda r: _load_file(paths[r], r, pins.get(r), transpose, cache_dir), ROLES))
    arrays = {info.role: arr for arr, info in loaded}
    infos = [info for _, info in loaded]
    _check_consistent(arrays, infos, spec)
    if pin_folder is not None and spec is not None and any(r not in pins for r in ROLES):
        _write_pins(pin_folder, infos)
    name = spec.name if spec else _identify(infos, Path(os.fspath(dataset)))
    _check_int(n_train, "n_train", len(arrays["train_labels"]))
    _check_int(n_test, "n_test", len(arrays["test_labels"]))
    X_train, y_train = _subset(arrays["train_images"], arrays["train_labels"], n_train, seed)
    X_test, y_test = _subset(arrays["test_images"], arrays["test_labels"], n_test, seed)
    subset = "first" if seed is None else f"stratified(seed={seed})"
    return Dataset(name, X_train, y_train, X_test, y_test, tuple(infos), subset)


def _check_consistent(arrays: dict[str, np.ndarray], infos: list[IDXFileInfo], spec: DatasetSpec | None) -> None:
    by_role = {i.role: i for i in infos}
    for split in ("train", "test"):
        n_img, n_lab = by_role[f"{split}_images"].shape[0], by_role[f"{split}_labels"].shape[0]
        if n_img != n_lab:
            msg = f"{by_role[f'{split}_labels'].path}: {n_lab} labels for {n_img} {split} images"
            raise DataIntegrityError(msg)
    if by_role["train_images"].shape[1:] != by_role["test_images"].shape[1:]:
        msg = (
            f"{by_role['test_images'].path}: test images are {by_role['test_images'].shape[1:]}, "
            f"train images {by_role['train_images'].shape[1:]}"
        )
        raise DataIntegrityError(msg)
    if spec is not None:
        for role in ("train_labels", "test_labels"):
            y = arrays[role]
            if y.size and int(y.max()) >= spec.n_classes:
                top = spec.n_classes - 1
                msg = f"{by_role[role].path}: label {int(y.max())} out of range [0, {top}] for {spec.name}"
                raise DataIntegrityError(msg)


def _write_pins(folder: Path, infos: list[IDXFileInfo]) -> None:
    """Pin payload hashes after the first verified download of a dataset."""
    text = "".join(f"{i.payload_sha256}  {i.role}\n" for i in infos)
    try:
        _atomic_save(_pins_file(folder), lambda tmp: Path(tmp).write_text(text))
    except OSError as exc:
        logger.warning("could not pin payload hashes in %s: %s", folder, exc)


def _identify(infos: list[IDXFileInfo], directory: Path) -> str:
    """The registered dataset whose pinned hashes all match, else the directory's name."""
    hashes = {i.role: i.payload_sha256 for i in infos}
    for spec in DATASETS.values():
        if spec.pinned == hashes:
            return spec.name
    return directory.resolve().name


def verify_dataset(
    dataset: str = "mnist",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    data_home: str | os.PathLike[str] | None = None,
) -> list[FileCheck]:
    """Decode every file of ``dataset`` afresh and compare it with the pinned hashes.

    Parameters
    ----------
    dataset : str, default="mnist"
        Registered name whose pinned hashes are the reference.
    data_dir : str or os.PathLike or None, default=None
        Check the files in this directory instead of the dataset's own copy.
    data_home : str or os.PathLike or None, default=None
        Where downloaded datasets live.

    Returns
    -------
    list of FileCheck
        One per role; all ``ok`` only when every payload matches.

    Raises
    ------
    ValueError
        Unknown dataset, or one with no pinned hashes yet.
    FileNotFoundError
        Missing directory or file.
    """
    spec, paths, pins, _ = _resolve(dataset, data_dir, data_home, download=False)
    if spec is None:
        msg = f"The 'dataset' parameter of verify_dataset must be a registered name. Got {dataset!r} instead."
        raise ValueError(msg)
    if not pins:
        msg = f"{spec.name} has no pinned payload hashes yet: run 'mnist-classic data download {spec.name}' first"
        raise ValueError(msg)
    checks = []
    for role in ROLES:
        path = paths[role]
        try:
            _, actual = _decode(path, path.read_bytes(), role, None)
        except (OSError, IDXError) as exc:
            checks.append(FileCheck(role, str(path), pins.get(role), None, str(exc)))
            continue
        checks.append(FileCheck(role, str(path), pins.get(role), actual))
    return checks
