"""The IDX codec: MNIST's binary format, read and written with validation.

An IDX file is a 4-byte magic number (two zero bytes, a dtype code, the number
of dimensions), then one big-endian ``uint32`` per dimension, then the payload:
the product of the dimensions times the item size, big-endian, row-major.
Files may be gzip-compressed; compression is detected by the gzip magic bytes,
never by the file name.

``decode_idx`` and ``encode_idx`` are pure (``bytes -> ndarray`` and back);
``read_idx``/``write_idx`` are the only functions that touch the file system.
Every header field is checked before anything is allocated, and a gzip stream
is inflated at most to the size its header claims plus one byte, so a lying
header or a gzip bomb costs no more memory than the bytes actually present.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .._files import atomic_write

__all__ = [
    "IDX_DTYPES",
    "IDXError",
    "IDXHeader",
    "decode_idx",
    "encode_idx",
    "inflate_idx",
    "parse_header",
    "read_idx",
    "read_idx_payload",
    "write_idx",
]

#: IDX dtype code -> big-endian numpy dtype, as the format defines them.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_NDIM = 32  # numpy's own limit on array dimensions (NPY_MAXDIMS before numpy 2)


class IDXError(ValueError):
    """A byte string or file that is not valid IDX (the message names the source)."""


class IDXHeader:
    """The parsed header of an IDX payload.

    Parameters
    ----------
    dtype : numpy.dtype
        Big-endian item type.
    shape : tuple of int
        The dimensions, outermost first.
    """

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype: np.dtype, shape: tuple[int, ...]) -> None:
        self.dtype = dtype
        self.shape = shape

    @property
    def code(self) -> int:
        """The IDX dtype code (0x08 ... 0x0E)."""
        return next(c for c, d in IDX_DTYPES.items() if d == self.dtype)

    @property
    def magic(self) -> int:
        """The magic number as a big-endian int (2051 for MNIST images, 2049 for labels)."""
        return (self.code << 8) | len(self.shape)

    @property
    def header_size(self) -> int:
        """Bytes taken by the header: 4 plus 4 per dimension."""
        return 4 + 4 * len(self.shape)

    @property
    def payload_size(self) -> int:
        """Bytes the header says follow it: product of dims times item size."""
        n = self.dtype.itemsize
        for d in self.shape:
            n *= d  # Python ints: a product of dims cannot overflow
        return n

    def __repr__(self) -> str:
        return f"IDXHeader(dtype={self.dtype.str!r}, shape={self.shape})"


def parse_header(data: bytes, *, source: str = "<bytes>") -> IDXHeader:
    """Parse and validate the header at the start of ``data``.

    Parameters
    ----------
    data : bytes
        At least the header's bytes (extra bytes are ignored).
    source : str, default="<bytes>"
        Name of the data's origin, used in error messages.

    Returns
    -------
    IDXHeader

    Raises
    ------
    IDXError
        If the zero bytes, dtype code or ndim are wrong, or the data ends
        inside the header.
    """
    if len(data) < 4:
        msg = f"{source}: not an IDX file: {len(data)} bytes, shorter than the 4-byte magic number"
        raise IDXError(msg)
    zero, code, ndim = data[0:2], data[2], data[3]
    if zero != b"\x00\x00":
        msg = f"{source}: not an IDX file: the magic number must start with two zero bytes, got {zero.hex()}"
        raise IDXError(msg)
    if code not in IDX_DTYPES:
        accepted = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        msg = f"{source}: unknown IDX dtype code 0x{code:02X}; accepted: {accepted}"
        raise IDXError(msg)
    if not 1 <= ndim <= _MAX_NDIM:
        msg = f"{source}: IDX ndim must be in [1, {_MAX_NDIM}], got {ndim}"
        raise IDXError(msg)
    end = 4 + 4 * ndim
    if len(data) < end:
        msg = f"{source}: truncated IDX header: {ndim} dimensions need {end} header bytes, got {len(data)}"
        raise IDXError(msg)
    shape = struct.unpack(f">{ndim}I", data[4:end])
    return IDXHeader(IDX_DTYPES[code], tuple(int(d) for d in shape))


def decode_idx(data: bytes, *, source: str = "<bytes>") -> np.ndarray:
    """Decode an uncompressed IDX byte string into an array.

    Parameters
    ----------
    data : bytes
        The whole IDX payload: header then items.
    source : str, default="<bytes>"
        Name of the data's origin, used in error messages.

    Returns
    -------
    numpy.ndarray
        A read-only array viewing ``data``, in the file's big-endian dtype
        and shape; no copy is made.

    Raises
    ------
    IDXError
        If the header is invalid or the payload length is not exactly what the
        header claims.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    >>> decode_idx(encode_idx(a)).tolist()
    [[0, 1, 2], [3, 4, 5]]
    """
    header = parse_header(data, source=source)
    expected = header.payload_size
    actual = len(data) - header.header_size
    if actual != expected:
        dims = "x".join(str(d) for d in header.shape)
        what = "truncated" if actual < expected else "trailing bytes"
        msg = (
            f"{source}: {what}: header claims {dims} items of {header.dtype.itemsize} byte(s) "
            f"= {expected} payload bytes, file holds {actual}"
        )
        raise IDXError(msg)
    try:
        return np.frombuffer(data, dtype=header.dtype, offset=header.header_size).reshape(header.shape)
    except ValueError as exc:  # an empty payload whose other dims are too large for numpy
        msg = f"{source}: IDX shape {header.shape} cannot be represented: {exc}"
        raise IDXError(msg) from None


def inflate_idx(data: bytes, *, source: str = "<bytes>") -> bytes:
    """Return the IDX bytes of ``data``, inflating it first if it is gzip.

    The stream is inflated incrementally: first the header, then at most the
    number of bytes the header claims plus one. A stream that inflates past
    that claim, or ends short of it, is refused; memory never exceeds what the
    stream really holds.

    Parameters
    ----------
    data : bytes
        Raw or gzip-compressed IDX.
    source : str, default="<bytes>"
        Name of the data's origin, used in error messages.

    Returns
    -------
    bytes
        The uncompressed IDX bytes (``data`` itself when it is not gzip).

    Raises
    ------
    IDXError
        On a corrupt gzip stream or a size that disagrees with the header.
    """
    if data[:2] != _GZIP_MAGIC:
        return data
    # Two passes: the header alone (at most 132 bytes), then exactly what it claims plus one byte.
    header = parse_header(_inflate_bounded(data, 4 + 4 * _MAX_NDIM, source), source=source)
    claim = header.header_size + header.payload_size  # Python ints: no overflow, nothing allocated
    payload = _inflate_bounded(data, claim + 1, source, header=header)
    if len(payload) > claim:
        msg = f"{source}: gzip stream inflates past the header's claim of {header.payload_size} payload bytes"
        raise IDXError(msg)
    return payload


def _inflate_bounded(data: bytes, limit: int, source: str, header: IDXHeader | None = None) -> bytes:
    """Inflate the gzip members of ``data`` (several are allowed), stopping after ``limit`` bytes.

    Memory is bounded by ``limit`` and by what the stream really holds, never
    by a size field. A stream that ends before its end marker is an error.
    """
    out: list[bytes] = []
    got = 0
    rest = data
    try:
        while rest:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            tail = rest
            while got < limit and not inflater.eof:
                chunk = inflater.decompress(tail, min(limit - got, 1 << 24))
                tail = inflater.unconsumed_tail
                if not chunk and not tail:
                    break  # input exhausted before the end of the stream
                out.append(chunk)
                got += len(chunk)
            if got >= limit:
                break
            if not inflater.eof:
                msg = f"{source}: truncated gzip stream: it ends after {got} decompressed bytes"
                if header is not None:
                    msg = (
                        f"{source}: truncated gzip stream: it ends after {max(got - header.header_size, 0)} "
                        f"of the {header.payload_size} payload bytes its header claims"
                    )
                raise IDXError(msg)
            rest = inflater.unused_data
            if not rest.strip(b"\x00"):
                break  # zero padding after the last member is allowed
            if rest[:2] != _GZIP_MAGIC:
                msg = f"{source}: unexpected data after the end of the gzip stream"
                raise IDXError(msg)
    except zlib.error as exc:
        msg = f"{source}: corrupt gzip stream: {exc}"
        raise IDXError(msg) from None
    return b"".join(out)


def read_idx_payload(path: str | os.PathLike[str]) -> bytes:
    """Read a raw or gzip IDX file and return its uncompressed bytes.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.

    Returns
    -------
    bytes
        The decompressed IDX bytes (header and items), not yet validated
        beyond what inflating needs.
    """
    path = Path(path)
    return inflate_idx(path.read_bytes(), source=str(path))


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a raw or gzip IDX file into an array.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read; gzip is detected from its first bytes.

    Returns
    -------
    numpy.ndarray
        Big-endian array with the file's shape (read-only).

    Raises
    ------
    IDXError
        If the file is not valid IDX; the message names the file.
    OSError
        If the file cannot be read.
    """
    return decode_idx(read_idx_payload(path), source=str(path))


def encode_idx(array: np.ndarray) -> bytes:
    """Encode an array as IDX bytes (big-endian, uncompressed).

    Parameters
    ----------
    array : numpy.ndarray
        Of an integer or float dtype that IDX defines (uint8, int8, int16,
        int32, float32, float64), with 1 to 32 dimensions, each below 2**32.

    Returns
    -------
    bytes

    Raises
    ------
    TypeError
        If the dtype has no IDX code.
    ValueError
        If ndim or a dimension is out of range.
    """
    arr = np.asarray(array)
    matches = [(c, d) for c, d in IDX_DTYPES.items() if (arr.dtype.kind, arr.dtype.itemsize) == (d.kind, d.itemsize)]
    if not matches:
        accepted = "uint8, int8, int16, int32, float32, float64"
        msg = f"The 'array' parameter of encode_idx must have dtype in {{{accepted}}}. Got {arr.dtype} instead."
        raise TypeError(msg)
    code, dtype = matches[0]
    if not 1 <= arr.ndim <= _MAX_NDIM or any(d >= 2**32 for d in arr.shape):
        msg = (
            f"The 'array' parameter of encode_idx must have 1 to {_MAX_NDIM} dimensions, "
            f"each below 2**32. Got shape {arr.shape} instead."
        )
        raise ValueError(msg)
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=dtype).tobytes()


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write an array as an IDX file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination.
    array : numpy.ndarray
        See :func:`encode_idx`.
    compress : bool or None, default=None
        Gzip the file; ``None`` means "when the name ends in ``.gz``".

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    data = encode_idx(array)
    if compress is None:
        compress = path.name.endswith(".gz")
    if compress:
        data = gzip.compress(data, mtime=0)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return path
