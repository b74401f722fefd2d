"""Decoding one IDX file of a dataset, through a cache of normalized ``.npy`` matrices.

A file is inflated, its payload hashed and checked against the pinned SHA-256,
decoded and checked to be MNIST images or labels, then normalized (float32 in
[0, 1], shape (n, pixels); labels int64) straight into a ``.npy`` file. The
cache is keyed by the SHA-256 of the source file's bytes, so a changed file is
decoded again, and a later load is a read-only memory map.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._files import atomic_write
from .idx import IDXError, decode_idx, inflate_idx

__all__ = ["CACHE_VERSION", "DataIntegrityError", "IDXFileInfo", "decode_file", "load_file"]

logger = logging.getLogger(__name__)

CACHE_VERSION = "v1"  # bump when the decoded layout changes
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


# numpy parses a .npy header with ast.literal_eval, and CPython 3.11's AST constructor is not
# thread-safe ("SystemError: AST constructor recursion depth mismatch" when the loader's threads
# open the four files at once): the header read is serialized; the memory map itself is not.
_NPY_HEADER_LOCK = threading.Lock()


def _load_npy(path: Path) -> np.ndarray:
    with _NPY_HEADER_LOCK:
        return np.load(path, mmap_mode="r", allow_pickle=False)


def _check_kind(arr: np.ndarray, role: str, source: str) -> None:
    kind = role.split("_")[1]
    if arr.dtype != np.dtype(">u1") or arr.ndim != _EXPECTED_NDIM[kind]:
        magic = 0x800 | _EXPECTED_NDIM[kind]
        msg = (
            f"{source}: expected MNIST {kind} (IDX magic {magic}: ubyte, {_EXPECTED_NDIM[kind]} dims), "
            f"got dtype {arr.dtype.str} with shape {arr.shape}"
        )
        raise IDXError(msg)


def _normalize(arr: np.ndarray, role: str, transpose: bool, out: np.ndarray | None = None) -> np.ndarray:
    """uint8 IDX array -> float32 (n, pixels) in [0, 1], or int64 labels."""
    if role.endswith("labels"):
        return arr.astype(np.int64)
    if transpose:
        arr = arr.transpose(0, 2, 1)
    flat = arr.reshape(arr.shape[0], -1)
    return np.divide(flat, np.float32(255), out=out, dtype=np.float32)


def decode_file(path: Path, raw: bytes, role: str, expected: str | None) -> tuple[np.ndarray, str]:
    source = str(path)
    payload = inflate_idx(raw, source=source)
    actual = hashlib.sha256(payload).hexdigest()
    if expected is not None and actual != expected:
        msg = f"{source}: SHA-256 of the payload does not match: expected {expected}, got {actual}"
        raise DataIntegrityError(msg)
    arr = decode_idx(payload, source=source)
    _check_kind(arr, role, source)
    return arr, actual


def load_file(
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
                arr = _load_npy(npy_path)
                info = IDXFileInfo(role, str(path), meta["payload_sha256"], meta["idx_dtype"], tuple(meta["shape"]))
                return arr, info
        except (OSError, ValueError, KeyError):
            pass  # no or unusable cache entry: decode
    arr, actual = decode_file(path, raw, role, expected)
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

        atomic_write(npy_path, write)
    meta = {"payload_sha256": info.payload_sha256, "idx_dtype": info.idx_dtype, "shape": list(info.shape)}
    atomic_write(meta_path, lambda tmp: Path(tmp).write_text(json.dumps(meta)))
    return _load_npy(npy_path)
