"""Where a dataset's four files are: a registered name (bundled or downloaded) or any directory.

Also the payload hashes they must match: published ones from the registry, or
those pinned in ``SHA256SUMS`` on the first verified download.
"""

from __future__ import annotations

import logging
import os
import re
from importlib import resources
from pathlib import Path

from .._files import atomic_write
from .datasets import DATASETS, ROLES, DatasetSpec, get_dataset_spec
from .fetch import FetchError, fetch_dataset, get_data_home

__all__ = ["find_idx_files", "identify", "identify_spec", "resolve_files", "write_pins"]

logger = logging.getLogger(__name__)

_FILE_RE = re.compile(
    r"^(?P<prefix>.*?)(?P<split>train|t10k|test)-(?P<kind>images|labels)[-.]"
    r"(?P<idx>idx[13])-ubyte(?P<gz>\.gz)?$"
)


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


def bundled_dir(name: str) -> Path:
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


def resolve_files(
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
        return spec, find_idx_files(bundled_dir(spec.name)), pins, None
    folder = get_data_home(data_home) / spec.name
    if download:
        try:
            paths = fetch_dataset(spec, data_home=data_home)
        except FetchError as exc:  # offline, say: the other way in, as when not downloaded
            msg = f"{exc}; a copy of {spec.name} already on disk reads with --data-dir DIR (data_dir=DIR in Python)"
            raise FetchError(msg) from None
    else:
        paths = {f.role: folder / f.filename for f in spec.files}
        if not all(p.exists() for p in paths.values()):
            # Both ways, since a dataset is often on disk elsewhere already (Debian's /usr/share/datasets/...).
            msg = (
                f"{spec.name} is not downloaded to {folder}: pass the folder of its IDX files "
                f"(--data-dir DIR, data_dir=DIR in Python), or run 'mnist-classic data download {spec.name}'"
            )
            raise FileNotFoundError(msg)
    return spec, paths, {**_read_pins(folder), **pins}, folder


def write_pins(folder: Path, hashes: dict[str, str]) -> None:
    """Pin payload hashes after the first verified download of a dataset."""
    text = "".join(f"{sha}  {role}\n" for role, sha in hashes.items())
    try:
        atomic_write(_pins_file(folder), lambda tmp: Path(tmp).write_text(text))
    except OSError as exc:
        logger.warning("could not pin payload hashes in %s: %s", folder, exc)


def identify_spec(hashes: dict[str, str]) -> DatasetSpec | None:
    """The registered dataset whose published payload hash of every role in ``hashes`` is the one given, else None.

    ``hashes`` may name all four roles (a whole dataset) or some (one split).
    """
    if not hashes:
        return None
    return next((s for s in DATASETS.values() if all(s.pinned.get(r) == h for r, h in hashes.items())), None)


def identify(hashes: dict[str, str], directory: Path) -> str:
    """The registered dataset whose pinned hashes all match, else the directory's name."""
    spec = identify_spec(hashes)
    return spec.name if spec is not None else directory.resolve().name
