"""Property-based fuzzing of the IDX parser: 10,000 generated inputs per run, in four families.

Every input either decodes to an array that agrees with its header, or raises IDXError (a
ValueError) naming the source; and the memory used is bounded by the bytes really present
(the input, and what a gzip stream really inflates to), never by what a header claims.
"""

from __future__ import annotations

import gzip
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist_classic.data.idx import IDX_DTYPES, IDXError, decode_idx, encode_idx, inflate_idx

EXAMPLES = 2_500  # per family; four families -> 10,000 inputs per test run
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLACK = 1 << 20  # interpreter and numpy bookkeeping


def _inflated_size(data: bytes) -> int:
    """What the gzip members really hold (bounded: inputs here are small)."""
    total, rest = 0, data
    while rest[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(wbits=31)
        try:
            total += len(d.decompress(rest, 64 << 20))
        except zlib.error:
            break
        rest = d.unused_data
    return total


def _parse(data: bytes) -> None:
    """Decode ``data`` with bounded memory; it must decode consistently or raise IDXError."""
    bound = 3 * (len(data) + _inflated_size(data)) + SLACK
    tracemalloc.start()
    try:
        arr = decode_idx(inflate_idx(data, source="fuzz"), source="fuzz")
    except IDXError as exc:
        assert str(exc).startswith("fuzz: ")
        arr = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak <= bound, f"peak {peak} bytes for a {len(data)}-byte input"
    if arr is not None:
        raw = inflate_idx(data)
        assert arr.dtype in IDX_DTYPES.values()
        assert arr.nbytes == len(raw) - 4 - 4 * arr.ndim


headers = st.builds(
    lambda z, code, ndim, dims: z + bytes([code, ndim]) + struct.pack(f">{len(dims)}I", *dims),
    st.sampled_from([b"\x00\x00", b"\x00\x01", b"\x08\x00"]),
    st.one_of(st.sampled_from(sorted(IDX_DTYPES)), st.integers(0, 255)),
    st.one_of(st.integers(0, 4), st.sampled_from([0, 33, 255])),
    st.lists(st.one_of(st.integers(0, 8), st.sampled_from([2**31, 2**32 - 1, 60000, 65536])), max_size=6),
)


@pytest.mark.slow
@FUZZ
@given(st.binary(max_size=512), st.booleans())
def test_random_bytes(data, compress):
    _parse(gzip.compress(data, mtime=0) if compress else data)


@pytest.mark.slow
@FUZZ
@given(headers, st.binary(max_size=256), st.booleans())
def test_lying_headers(header, body, compress):
    # Dims whose product overflows 64 bits, claims far beyond the file, wrong codes, ndim 0 or 255.
    data = header + body
    _parse(gzip.compress(data, mtime=0) if compress else data)


arrays = st.builds(
    lambda dtype, shape, seed: np.random.default_rng(seed).integers(0, 100, size=shape).astype(dtype),
    st.sampled_from(["u1", "i1", ">i2", ">i4", ">f4", ">f8"]),
    st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple),
    st.integers(0, 2**16),
)


@pytest.mark.slow
@FUZZ
@given(arrays, st.data(), st.booleans())
def test_truncations_and_bit_flips(arr, data, compress):
    blob = encode_idx(arr)
    if compress:
        blob = gzip.compress(blob, mtime=0)
    cut = data.draw(st.integers(0, len(blob)))
    flip = data.draw(st.integers(0, len(blob) - 1))
    mutated = bytearray(blob[:cut] if data.draw(st.booleans()) else blob)
    if mutated and data.draw(st.booleans()):
        mutated[min(flip, len(mutated) - 1)] ^= 1 << data.draw(st.integers(0, 7))
    _parse(bytes(mutated))


@pytest.mark.slow
@FUZZ
@given(st.sampled_from(sorted(IDX_DTYPES)), st.integers(1, 4), st.integers(1, 1 << 16), st.integers(0, 4096))
def test_gzip_bombs(code, ndim, claim, extra):
    # A header claiming `claim` items followed by far more zeros than it claims.
    dims = (claim,) + (1,) * (ndim - 1)
    header = bytes([0, 0, code, ndim]) + struct.pack(f">{ndim}I", *dims)
    itemsize = IDX_DTYPES[code].itemsize
    data = gzip.compress(header + bytes(claim * itemsize + extra), mtime=0)
    _parse(data)
