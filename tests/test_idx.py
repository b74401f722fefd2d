"""The IDX codec: round trips, the on-disk layout, and every malformed input."""

from __future__ import annotations

import gzip
import re
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mnist_classic.data.idx import (
    IDXError,
    decode_idx,
    encode_idx,
    inflate_idx,
    parse_header,
    read_idx,
    write_idx,
)

# The format's dtype codes, written out independently of the module under test.
CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D, "float64": 0x0E}
BIG_ENDIAN = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
SHAPES = [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 2)]
MB = 1 << 20


def make_array(dtype, shape, seed=0):
    """Values that exercise the whole range of ``dtype`` (signs, extremes, fractions)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size=n, endpoint=True, dtype=dtype)
        values[:2] = [info.min, info.max]
    else:
        values = (rng.standard_normal(n) * 1e3).astype(dtype)
        values[:2] = [np.finfo(dtype).min, -0.0]
    return values.reshape(shape)


def header_bytes(code, shape):
    """An IDX header built by hand: two zero bytes, dtype code, ndim, big-endian uint32 dims."""
    return struct.pack(">BBBB", 0, 0, code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)


def independent_read(data):
    """A reader sharing no code with the module: struct for the header, explicit '>' dtypes."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    zero1, zero2, code, ndim = struct.unpack(">BBBB", data[:4])
    assert (zero1, zero2) == (0, 0)
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dtype = np.dtype(BIG_ENDIAN[code])
    payload = data[4 + 4 * ndim :]
    assert len(payload) == dtype.itemsize * int(np.prod(shape))
    return np.frombuffer(payload, dtype=dtype).reshape(shape)


def same_bits(a, b):
    """Exact equality, NaN payloads and signed zeros included, whatever the byte order."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype.kind != b.dtype.kind or a.dtype.itemsize != b.dtype.itemsize:
        return False
    as_uint = f"u{a.dtype.itemsize}"
    return np.array_equal(
        a.view(a.dtype.byteorder.replace("|", "=") + as_uint).astype(as_uint),
        b.view(b.dtype.byteorder.replace("|", "=") + as_uint).astype(as_uint),
    )


def gzip_stream(chunks):
    """Gzip an iterable of byte chunks without ever holding the whole input."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(comp.compress(c) for c in chunks) + comp.flush()


# --- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"ndim{len(s)}")
@pytest.mark.parametrize("dtype", list(CODES))
def test_encode_decode_round_trip(dtype, shape):
    arr = make_array(dtype, shape)
    data = encode_idx(arr)
    out = decode_idx(data)
    assert out.shape == shape
    assert out.dtype == np.dtype(dtype).newbyteorder(">")
    assert same_bits(out, arr)
    assert not out.flags.writeable


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"ndim{len(s)}")
@pytest.mark.parametrize("dtype", list(CODES))
def test_write_read_round_trip(tmp_path, dtype, shape, suffix):
    arr = make_array(dtype, shape, seed=1)
    path = write_idx(tmp_path / f"a.idx{suffix}", arr)
    assert path == tmp_path / f"a.idx{suffix}"
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    assert same_bits(read_idx(path), arr)
    assert same_bits(read_idx(str(path)), arr)
    # Atomic write: nothing but the file itself is left in the directory.
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", list(CODES))
def test_files_readable_by_an_independent_reader(tmp_path, dtype, compress):
    arr = make_array(dtype, (4, 3, 2), seed=2)
    path = write_idx(tmp_path / "x", arr, compress=compress)
    theirs = independent_read(path.read_bytes())
    assert theirs.dtype == np.dtype(BIG_ENDIAN[CODES[dtype]])
    assert same_bits(theirs, arr)


def test_independent_file_readable_by_read_idx(tmp_path):
    arr = np.array([[1, -2, 300], [-40000, 2**31 - 1, -(2**31)]], dtype=np.int64)
    data = header_bytes(0x0C, arr.shape) + b"".join(struct.pack(">i", int(v)) for v in arr.ravel())
    (tmp_path / "x.idx").write_bytes(data)
    np.testing.assert_array_equal(read_idx(tmp_path / "x.idx"), arr)


def test_big_endian_on_disk():
    data = encode_idx(np.array([1, 258, -2], dtype="<i2"))
    assert data == b"\x00\x00\x0b\x01" + struct.pack(">I", 3) + struct.pack(">3h", 1, 258, -2)
    data = encode_idx(np.array([[1.5, -2.0]], dtype="<f4"))
    assert data == b"\x00\x00\x0d\x02" + struct.pack(">II", 1, 2) + struct.pack(">2f", 1.5, -2.0)
    data = encode_idx(np.array([0.1], dtype=">f8"))
    assert data == header_bytes(0x0E, (1,)) + struct.pack(">d", 0.1)


def test_mnist_magic_numbers():
    images = parse_header(encode_idx(np.zeros((2, 28, 28), np.uint8)))
    labels = parse_header(encode_idx(np.zeros(2, np.uint8)))
    assert (images.magic, labels.magic) == (2051, 2049)
    assert (images.code, images.shape, images.header_size, images.payload_size) == (0x08, (2, 28, 28), 16, 1568)


def test_compression_detected_by_magic_not_by_name(tmp_path):
    arr = make_array("int16", (3, 4))
    gz_without_suffix = write_idx(tmp_path / "images-idx3-ubyte", arr, compress=True)
    raw_named_gz = write_idx(tmp_path / "images-idx3-ubyte.gz", arr, compress=False)
    assert gz_without_suffix.read_bytes()[:2] == b"\x1f\x8b"
    assert raw_named_gz.read_bytes()[:2] == b"\x00\x00"
    assert same_bits(read_idx(gz_without_suffix), arr)
    assert same_bits(read_idx(raw_named_gz), arr)


def test_empty_dimension_round_trips():
    out = decode_idx(encode_idx(np.zeros((0, 3), np.uint8)))
    assert out.shape == (0, 3)


def test_inflate_passes_raw_bytes_through_and_accepts_zero_padding():
    data = encode_idx(make_array("uint8", (5,)))
    assert inflate_idx(data) is data
    padded = gzip.compress(data) + b"\x00" * 16
    assert inflate_idx(padded) == data


# --- encoder errors --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int64", "uint16", "uint32", "float16", "bool", "complex64"])
def test_encode_refuses_dtypes_without_idx_code(dtype):
    with pytest.raises(TypeError, match=rf"'array' parameter of encode_idx must have dtype in .*Got {dtype}"):
        encode_idx(np.zeros(3, dtype=dtype))


def test_encode_refuses_bad_ndim_and_huge_dims():
    with pytest.raises(
        ValueError, match=r"'array' parameter of encode_idx must have 1 to 32 dimensions.*Got shape \(\)"
    ):
        encode_idx(np.uint8(3))
    huge = np.broadcast_to(np.uint8(0), (2**32,))  # a view: nothing allocated
    with pytest.raises(ValueError, match=r"each below 2\*\*32\. Got shape \(4294967296,\)"):
        encode_idx(huge)


# --- malformed input -------------------------------------------------------------------

GOOD = encode_idx(np.arange(6, dtype=np.uint8).reshape(2, 3))

MALFORMED = {
    "empty": (b"", r"0 bytes, shorter than the 4-byte magic number"),
    "three-bytes": (b"\x00\x00\x08", r"3 bytes, shorter than the 4-byte magic number"),
    "nonzero-first-bytes": (b"\x01\x00" + GOOD[2:], r"must start with two zero bytes, got 0100"),
    "nonzero-second-byte": (b"\x00\x07" + GOOD[2:], r"must start with two zero bytes, got 0007"),
    "unknown-dtype": (b"\x00\x00\x0a\x02" + GOOD[4:], r"unknown IDX dtype code 0x0A; accepted: 0x08, 0x09"),
    "ndim-0": (b"\x00\x00\x08\x00", r"ndim must be in \[1, 32\], got 0"),
    "ndim-too-large": (b"\x00\x00\x08\x21" + b"\x00" * 200, r"ndim must be in \[1, 32\], got 33"),
    "truncated-dims": (b"\x00\x00\x08\x03" + struct.pack(">2I", 2, 3), r"truncated IDX header: 3 dimensions need 16"),
    "short-payload": (GOOD[:-1], r"truncated: header claims 2x3 items of 1 byte\(s\) = 6 payload bytes, file holds 5"),
    "trailing-bytes": (GOOD + b"\x00", r"trailing bytes: header claims 2x3 .* file holds 7"),
    "short-float-payload": (
        header_bytes(0x0D, (2,)) + b"\x00" * 7,
        r"2 items of 4 byte\(s\) = 8 payload bytes, file holds 7",
    ),
    "lying-dims": (
        header_bytes(0x08, (2**32 - 1, 2**32 - 1)) + b"\x00" * 10,
        r"truncated: header claims 4294967295x4294967295",
    ),
    "empty-with-huge-dims": (header_bytes(0x08, (0, 2**32 - 1, 2**32 - 1)), r"cannot be represented"),
}

# Inflating stops one byte past the header's claim, so trailing bytes are caught there.
GZIP_MESSAGES = {"trailing-bytes": r"gzip stream inflates past the header's claim of 6 payload bytes"}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_decode_refuses_malformed(case):
    data, message = MALFORMED[case]
    with pytest.raises(IDXError, match=r"^<mem>: .*" + message):
        decode_idx(data, source="<mem>")


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("case", list(MALFORMED))
def test_read_idx_error_names_the_file(tmp_path, case, compress):
    data, message = MALFORMED[case]
    if compress:
        message = GZIP_MESSAGES.get(case, message)
    path = tmp_path / f"bad-{case}.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(IDXError, match=re.escape(str(path)) + ".*" + message):
        read_idx(path)


def test_idx_error_is_a_value_error():
    assert issubclass(IDXError, ValueError)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


def assert_refused_with_small_peak(path, message, limit=10 * MB):
    tracemalloc.start()
    try:
        with pytest.raises(IDXError, match=re.escape(str(path)) + ".*" + message):
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit, f"peak allocation {peak / MB:.1f} MB"


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_lying_header_refused_without_allocating(tmp_path, compress):
    data = header_bytes(0x0E, (2**32 - 1, 2**32 - 1)) + b"\x00" * 80  # claims 2**67 bytes of float64
    path = tmp_path / "liar.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    assert_refused_with_small_peak(path, r"truncated.*4294967295x4294967295 items of 8 byte\(s\)")


def test_gzip_bomb_refused_with_bounded_memory(tmp_path):
    zeros = bytes(MB)
    bomb = gzip_stream([header_bytes(0x08, (10,)), *([zeros] * 50)])  # 50 MB of zeros after a 10-byte claim
    assert len(bomb) < MB
    path = tmp_path / "bomb.idx.gz"
    path.write_bytes(bomb)
    assert_refused_with_small_peak(path, r"gzip stream inflates past the header's claim of 10 payload bytes")


def test_gzip_stream_shorter_than_its_header_claims():
    # A header that claims more than a small stream holds is refused as truncated, not by inflating.
    data = gzip_stream([header_bytes(0x08, (64 * MB,)), bytes(MB)])
    with pytest.raises(IDXError, match=r"<z>: truncated.*file holds 1048576"):
        decode_idx(inflate_idx(data, source="<z>"), source="<z>")


def test_truncated_gzip(tmp_path):
    gz = gzip.compress(encode_idx(make_array("uint8", (50, 20))))
    path = tmp_path / "cut.gz"
    for cut in (len(gz) // 2, len(gz) - 4):
        path.write_bytes(gz[:cut])
        with pytest.raises(
            IDXError, match=re.escape(str(path)) + r": truncated gzip stream: it ends after \d+ of the 1000"
        ):
            read_idx(path)


def test_corrupt_gzip(tmp_path):
    gz = bytearray(gzip.compress(encode_idx(make_array("uint8", (50, 20)))))
    gz[-8] ^= 0xFF  # the CRC-32 in the trailer
    path = tmp_path / "crc.gz"
    path.write_bytes(gz)
    with pytest.raises(IDXError, match=re.escape(str(path)) + r": corrupt gzip stream: .*incorrect data check"):
        read_idx(path)
    path.write_bytes(b"\x1f\x8b" + b"not a deflate stream at all")
    with pytest.raises(IDXError, match=re.escape(str(path)) + r": corrupt gzip stream"):
        read_idx(path)


def test_data_after_gzip_stream(tmp_path):
    path = tmp_path / "tail.gz"
    path.write_bytes(gzip.compress(GOOD) + b"junk")
    with pytest.raises(IDXError, match=re.escape(str(path)) + r": unexpected data after the end of the gzip stream"):
        read_idx(path)


def test_gzip_shorter_than_header():
    with pytest.raises(IDXError, match=r"<g>: not an IDX file: 2 bytes"):
        inflate_idx(gzip.compress(b"\x00\x00"), source="<g>")
    with pytest.raises(IDXError, match=r"<g>: truncated IDX header"):
        inflate_idx(gzip.compress(b"\x00\x00\x08\x02\x00\x00\x00\x01"), source="<g>")


# --- properties ------------------------------------------------------------------------

dtypes = st.builds(
    lambda dt, order: np.dtype(dt).newbyteorder(order), st.sampled_from(list(CODES)), st.sampled_from("<>")
)
arrays = dtypes.flatmap(
    lambda dt: hnp.arrays(dtype=dt, shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5))
)

PROPERTY = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(arr=arrays, compress=st.booleans())
def test_property_round_trip(arr, compress):
    data = encode_idx(arr)
    if compress:
        data = gzip.compress(data)
    out = decode_idx(inflate_idx(data))
    assert same_bits(out, arr)
    assert same_bits(independent_read(data), arr)


# Header fields from the edges of their ranges, so that the checks' boundaries are reached.
dims = st.lists(st.sampled_from([0, 1, 3, 2**16, 2**31, 2**32 - 1]), min_size=0, max_size=4)
headed = st.builds(
    lambda code, shape, ndim_delta, body: (
        struct.pack(">BBBB", 0, 0, code, max(0, len(shape) + ndim_delta))
        + struct.pack(f">{len(shape)}I", *shape)
        + body
    ),
    st.sampled_from([*BIG_ENDIAN, 0x00, 0x0A, 0xFF]),
    dims,
    st.sampled_from([0, 0, 0, -1, 1]),
    st.one_of(st.just(b""), st.binary(max_size=40)),
)
any_bytes = st.one_of(st.binary(max_size=64), headed)


@PROPERTY
@given(data=any_bytes, compress=st.booleans())
def test_property_random_bytes_decode_or_raise_idx_error(data, compress):
    if compress:
        data = gzip.compress(data)
    try:
        out = decode_idx(inflate_idx(data))
    except IDXError:
        return
    # Whatever decodes agrees with the independent reader.
    assert same_bits(out, independent_read(data))


@PROPERTY
@given(data=st.binary(min_size=2, max_size=64))
def test_property_garbage_after_gzip_magic(data):
    try:
        inflate_idx(b"\x1f\x8b" + data)
    except IDXError:
        pass


def test_multi_member_gzip_is_read(tmp_path):
    # gzip allows several members in one file (``cat a.gz b.gz``); the bytes are their concatenation.
    a = np.arange(4 * 6 * 6, dtype=np.uint8).reshape(4, 6, 6)
    raw = encode_idx(a)
    path = tmp_path / "multi.gz"
    path.write_bytes(gzip.compress(raw[:10]) + gzip.compress(raw[10:100]) + gzip.compress(raw[100:]))
    np.testing.assert_array_equal(read_idx(path), a)
    path.write_bytes(gzip.compress(raw[:10]) + gzip.compress(raw[10:] + b"\x00"))
    with pytest.raises(IDXError, match="inflates past the header's claim"):
        read_idx(path)
