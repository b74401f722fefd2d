"""Downloads: mirrors in order, to a temporary file, hash-checked, moved atomically.

Nothing here runs unless a dataset that is not bundled is asked for and is not
in the cache yet. A file is only ever moved into the cache after its SHA-256
matched, so the cache never holds a bad download.

Written with the standard library rather than pooch. Weighed against pooch 1.9
(issue #14), which would serve one URL of the mirror loop at a time:

- pooch fetches one URL per call: the ordered mirror fallback with every
  failure reported, archive members and payload (decompressed) hashes pinned
  on first download stay ours whatever does the transfer;
- its ``HTTPDownloader`` (requests) reads the whole body before anything is
  checked, so a body over the announced size cannot be cut off early (a
  mirror serving gigabytes), which :func:`_download_once` does;
- its failures are requests' exceptions and pooch's own hash message, while the
  messages here ("SHA-256 mismatch: expected X, got Y", "HTTP 404 Not Found",
  "truncated body: the server announced N bytes, sent M") are part of the API
  (docs/errors.md, tests/test_fetch.py): keeping them would mean parsing
  requests' and pooch's messages;
- it would add requests (and its dependencies) to a core that otherwise
  downloads nothing unless asked.

Not reproduced from pooch: its progress bar. A download logs one line per
mirror tried (``mnist-classic -v``).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from platformdirs import user_cache_dir

from .datasets import DatasetSpec

__all__ = ["FetchError", "fetch_dataset", "fetch_url", "file_sha256", "get_data_home"]

logger = logging.getLogger(__name__)

#: Environment variable naming the data directory (downloads and decoded cache).
DATA_ENV = "MNIST_CLASSIC_DATA"
_CHUNK = 1 << 20
_MAX_UNKNOWN_SIZE = 1 << 31  # refuse bodies over 2 GiB when the size is not known


class FetchError(OSError):
    """No mirror delivered a file whose hash matched."""


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the data directory: argument, then ``$MNIST_CLASSIC_DATA``, then the user cache dir.

    Parameters
    ----------
    data_home : str or os.PathLike or None, default=None
        Explicit directory; wins over everything else.

    Returns
    -------
    pathlib.Path
        The directory (not created).
    """
    if data_home is not None:
        return Path(data_home).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path(user_cache_dir("mnist-classic", appauthor=False))


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _download_once(url: str, dest: Path, *, sha256: str | None, size: int | None, timeout: float) -> None:
    """Stream ``url`` into a temporary file beside ``dest``, check it, then rename."""
    limit = size if size is not None else _MAX_UNKNOWN_SIZE
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        got = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310
            while chunk := resp.read(_CHUNK):
                got += len(chunk)
                if got > limit:
                    msg = f"body exceeds the expected {limit} bytes"
                    raise FetchError(msg)
                h.update(chunk)
                out.write(chunk)
            # http.client returns a short body silently when the connection drops early.
            announced = resp.headers.get("Content-Length")
        if announced is not None and announced.isdigit() and got != int(announced):
            msg = f"truncated body: the server announced {announced} bytes, sent {got}"
            raise FetchError(msg)
        if size is not None and got != size:
            msg = f"size mismatch: expected {size} bytes, got {got}"
            raise FetchError(msg)
        actual = h.hexdigest()
        if sha256 is not None and actual != sha256:
            msg = f"SHA-256 mismatch: expected {sha256}, got {actual}"
            raise FetchError(msg)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def fetch_url(
    urls: list[str] | tuple[str, ...],
    dest: str | os.PathLike[str],
    *,
    sha256: str | None,
    size: int | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download the first of ``urls`` whose bytes match ``sha256`` to ``dest``.

    Parameters
    ----------
    urls : sequence of str
        Mirrors, tried in order.
    dest : str or os.PathLike
        Final path; its directory is created. It appears only once verified.
    sha256 : str or None
        Expected SHA-256 of the body (``None`` skips the check; avoid).
    size : int or None, default=None
        Expected size in bytes; larger bodies are cut off early.
    timeout : float, default=60.0
        Socket timeout in seconds, per mirror.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    FetchError
        When every mirror failed; the message lists each mirror and why.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        logger.info("downloading %s", url)
        try:
            _download_once(url, dest, sha256=sha256, size=size, timeout=timeout)
        except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                reason: object = f"HTTP {exc.code} {exc.reason}"
            else:
                reason = getattr(exc, "reason", None) or exc
            failures.append(f"{url} ({reason})")
            logger.info("mirror failed: %s: %s", url, reason)
            continue
        return dest
    msg = f"could not fetch {dest.name}: every mirror failed: " + "; ".join(failures)
    raise FetchError(msg)


def _extract_member(archive: Path, member: str, dest: Path, *, max_size: int) -> None:
    """Copy the archive member whose base name is ``member`` to ``dest`` atomically.

    The member is looked up by base name and written to a path of our own
    choosing, so no name inside the archive can steer where it is written.
    """
    with zipfile.ZipFile(archive) as zf:
        matches = [i for i in zf.infolist() if not i.is_dir() and i.filename.rsplit("/", 1)[-1] == member]
        if len(matches) != 1:
            msg = f"{archive}: expected one member named {member!r}, found {len(matches)}"
            raise FetchError(msg)
        info = matches[0]
        if info.file_size > max_size:
            msg = f"{archive}: member {member!r} claims {info.file_size} bytes, over the {max_size}-byte limit"
            raise FetchError(msg)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, zf.open(info) as src:
                # Copy at most max_size + 1 bytes, whatever the header claimed.
                copied = 0
                while chunk := src.read(_CHUNK):
                    copied += len(chunk)
                    if copied > max_size:
                        msg = f"{archive}: member {member!r} inflates past the {max_size}-byte limit"
                        raise FetchError(msg)
                    out.write(chunk)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)


def fetch_dataset(
    spec: DatasetSpec,
    *,
    data_home: str | os.PathLike[str] | None = None,
    timeout: float = 60.0,
) -> dict[str, Path]:
    """Download the files of ``spec`` that are not in the cache yet.

    Parameters
    ----------
    spec : DatasetSpec
        A registered, non-bundled dataset.
    data_home : str or os.PathLike or None, default=None
        See :func:`get_data_home`.
    timeout : float, default=60.0
        Socket timeout per mirror.

    Returns
    -------
    dict of str to pathlib.Path
        Role -> verified file in ``<data_home>/<spec.name>/``.

    Raises
    ------
    FetchError
        When a file could not be fetched from any mirror.
    """
    folder = get_data_home(data_home) / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    paths = {f.role: folder / f.filename for f in spec.files}
    missing = [f for f in spec.files if not paths[f.role].exists()]
    if not missing:
        return paths
    if spec.archive is not None:
        archive = folder / spec.archive.filename
        if not archive.exists():
            urls = [m + spec.archive.filename for m in spec.mirrors]
            fetch_url(urls, archive, sha256=spec.archive.sha256, size=spec.archive.size, timeout=timeout)
        for f in missing:
            _extract_member(archive, f.member or f.filename, paths[f.role], max_size=spec.archive.size)
        archive.unlink()
        return paths
    for f in missing:
        urls = [m + f.filename for m in spec.mirrors]
        fetch_url(urls, paths[f.role], sha256=f.download_sha256, size=f.download_size, timeout=timeout)
    return paths
