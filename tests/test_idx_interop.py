"""Interoperability: files written here are read by an independent IDX reader (idx2numpy), and back."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_classic import read_idx, write_idx

idx2numpy = pytest.importorskip("idx2numpy", reason="idx2numpy is in the [test] extra")

DTYPES = ["uint8", "int8", ">i2", ">i4", ">f4", ">f8"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 2)])
def test_written_files_read_by_idx2numpy(tmp_path, dtype, shape):
    rng = np.random.default_rng(0)
    a = (
        rng.uniform(-100, 100, size=shape)
        if dtype[-1] not in "81" or dtype == "int8"
        else rng.integers(0, 255, size=shape)
    ).astype(dtype)
    if dtype == "uint8":
        a = rng.integers(0, 256, size=shape).astype(np.uint8)
    path = write_idx(tmp_path / "a.idx", a)
    b = idx2numpy.convert_from_file(str(path))
    assert b.shape == a.shape
    np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("dtype", DTYPES)
def test_idx2numpy_files_read_here(tmp_path, dtype):
    a = (
        (np.arange(60).reshape(3, 4, 5) - 20).astype(dtype)
        if dtype != "uint8"
        else np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    )
    path = tmp_path / "b.idx"
    idx2numpy.convert_to_file(str(path), a.astype(a.dtype.newbyteorder("=")))  # it takes native dtypes
    np.testing.assert_array_equal(read_idx(path), a)
