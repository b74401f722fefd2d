"""Downloads against a local HTTP server: mirror fallback, hash checks, archives, the data home."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import re
import socket
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from platformdirs import user_cache_dir
from synthetic import STEMS, toy_arrays

from mnist_classic.data import DataIntegrityError, load_dataset
from mnist_classic.data.datasets import DATASETS, ROLES, ArchiveSpec, DatasetSpec, FileSpec, register_dataset
from mnist_classic.data.fetch import DATA_ENV, FetchError, fetch_dataset, fetch_url, get_data_home
from mnist_classic.data.idx import encode_idx

PROXY_VARS = (
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def all_files(root):
    return sorted(p.relative_to(root).as_posix() for p in Path(root).rglob("*") if p.is_file())


# --- a local HTTP server ---------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.routes``: path -> (body, announced length or None for raw bytes)."""

    def do_GET(self):
        self.server.hits.append(self.path)
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        body, announced = route
        if announced is None:  # raw bytes, not even an HTTP status line
            self.wfile.write(body)
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format, *args):
        pass


class LocalServer:
    def __init__(self, httpd):
        self.httpd = httpd
        self.base = f"http://127.0.0.1:{httpd.server_address[1]}"

    @property
    def hits(self):
        return self.httpd.hits

    def url(self, path):
        return self.base + path

    def serve(self, path, body, *, announce=None):
        """Serve ``body`` at ``path``, announcing ``announce`` bytes (default: the true length)."""
        self.httpd.routes[path] = (body, len(body) if announce is None else announce)
        return self.url(path)

    def serve_raw(self, path, data):
        """Answer ``path`` with ``data`` verbatim (a broken or non-HTTP server)."""
        self.httpd.routes[path] = (data, None)
        return self.url(path)


@pytest.fixture
def server(monkeypatch):
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.routes = {}
    httpd.hits = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield LocalServer(httpd)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def dead_mirror():
    """A base URL on a loopback port where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def register():
    """Register temporary datasets; they leave the registry after the test."""
    before = set(DATASETS)
    added = []

    def _register(spec):
        assert spec.name not in before
        added.append(spec.name)
        return register_dataset(spec)

    yield _register
    for name in added:
        DATASETS.pop(name, None)
    assert set(DATASETS) == before


# --- synthetic datasets ----------------------------------------------------------------


def idx_blobs(arrays):
    """Role -> (raw IDX bytes, gzip bytes)."""
    out = {}
    for role, arr in arrays.items():
        raw = encode_idx(arr)
        out[role] = (raw, gzip.compress(raw, mtime=0))
    return out


def toy_spec(name, blobs, mirrors, *, pin_payload=True, filenames=None, **kwargs):
    filenames = filenames or {r: STEMS[r] + ".gz" for r in ROLES}
    in_archive = kwargs.get("archive") is not None  # then only the archive's hash is known
    files = tuple(
        FileSpec(
            role=r,
            filename=filenames[r],
            payload_sha256=sha256(blobs[r][0]) if pin_payload else None,
            download_sha256=None if in_archive else sha256(blobs[r][1]),
            download_size=None if in_archive else len(blobs[r][1]),
            member=filenames[r] if in_archive else None,
        )
        for r in ROLES
    )
    return DatasetSpec(name=name, description="toy", license="none", files=files, mirrors=tuple(mirrors), **kwargs)


def assert_matches(ds, arrays, *, transposed=False):
    for split in ("train", "test"):
        images = arrays[f"{split}_images"]
        if transposed:
            images = images.transpose(0, 2, 1)
        X, y = getattr(ds, f"X_{split}"), getattr(ds, f"y_{split}")
        np.testing.assert_array_equal(X, images.reshape(len(images), -1).astype(np.float32) / np.float32(255))
        np.testing.assert_array_equal(y, arrays[f"{split}_labels"].astype(np.int64))
        assert X.dtype == np.float32 and y.dtype == np.int64


# --- fetch_url -------------------------------------------------------------------------

BODY = b"the good bytes\n" * 100


def test_dead_mirror_then_good_one(server, dead_mirror, tmp_path, caplog):
    good = server.serve("/good/f.bin", BODY)
    dest = tmp_path / "new" / "dir" / "f.bin"
    with caplog.at_level("INFO", logger="mnist_classic.data.fetch"):
        out = fetch_url([dead_mirror + "f.bin", good], dest, sha256=sha256(BODY), size=len(BODY), timeout=5)
    assert out == dest
    assert dest.read_bytes() == BODY
    assert all_files(tmp_path) == ["new/dir/f.bin"]
    assert server.hits == ["/good/f.bin"]
    assert any(dead_mirror in r.getMessage() for r in caplog.records)


def test_404_then_good_one(server, tmp_path):
    good = server.serve("/good/f.bin", BODY)
    dest = fetch_url([server.url("/missing/f.bin"), good], tmp_path / "f.bin", sha256=sha256(BODY), timeout=5)
    assert dest.read_bytes() == BODY
    assert server.hits == ["/missing/f.bin", "/good/f.bin"]
    assert all_files(tmp_path) == ["f.bin"]


def test_every_mirror_failing_lists_each_and_leaves_nothing(server, dead_mirror, tmp_path):
    bad_bytes = b"these are not the bytes you are looking for"
    bad = server.serve("/bad/f.bin", bad_bytes)
    missing = server.url("/missing/f.bin")
    dead = dead_mirror + "f.bin"
    expected = sha256(BODY)
    with pytest.raises(FetchError, match=r"could not fetch f\.bin: every mirror failed: ") as excinfo:
        fetch_url([dead, missing, bad], tmp_path / "f.bin", sha256=expected, timeout=5)
    msg = str(excinfo.value)
    assert re.search(rf"{re.escape(bad)} \(SHA-256 mismatch: expected {expected}, got {sha256(bad_bytes)}\)", msg)
    assert re.search(rf"{re.escape(missing)} \(HTTP 404 Not Found\)", msg)
    assert re.search(rf"{re.escape(dead)} \(.*[Cc]onnection refused.*\)", msg)
    assert msg.index(dead) < msg.index(missing) < msg.index(bad)  # in the order tried
    assert all_files(tmp_path) == []
    assert isinstance(excinfo.value, OSError)


def test_no_mirrors(tmp_path):
    with pytest.raises(FetchError, match=r"could not fetch f: every mirror failed: $"):
        fetch_url([], tmp_path / "f", sha256=None)


def test_failure_keeps_an_existing_destination(server, tmp_path):
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"old")
    bad = server.serve("/bad/f.bin", b"wrong")
    with pytest.raises(FetchError, match="SHA-256 mismatch"):
        fetch_url([bad], dest, sha256=sha256(BODY), timeout=5)
    assert dest.read_bytes() == b"old"
    assert all_files(tmp_path) == ["f.bin"]


@pytest.mark.parametrize("checks", ["none", "sha256", "size"])
def test_truncated_body_is_refused(server, tmp_path, checks):
    cut = server.serve("/cut/f.bin", BODY[:500], announce=len(BODY))
    kwargs = {"sha256": sha256(BODY) if checks == "sha256" else None, "size": len(BODY) if checks == "size" else None}
    with pytest.raises(
        FetchError, match=rf"{re.escape(cut)} \(truncated body: the server announced {len(BODY)} bytes, sent 500\)"
    ):
        fetch_url([cut], tmp_path / "f.bin", timeout=5, **kwargs)
    assert all_files(tmp_path) == []


def test_truncated_body_then_good_mirror(server, tmp_path):
    cut = server.serve("/cut/f.bin", BODY[:10], announce=len(BODY))
    good = server.serve("/good/f.bin", BODY)
    dest = fetch_url([cut, good], tmp_path / "f.bin", sha256=sha256(BODY), timeout=5)
    assert dest.read_bytes() == BODY
    assert all_files(tmp_path) == ["f.bin"]


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage, not HTTP\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nonly a few bytes",
    ],
    ids=["bad-status-line", "truncated-chunked"],
)
def test_broken_http_mirror_falls_back(server, tmp_path, raw):
    broken = server.serve_raw("/broken/f.bin", raw)
    good = server.serve("/good/f.bin", BODY)
    dest = fetch_url([broken, good], tmp_path / "f.bin", sha256=sha256(BODY), timeout=5)
    assert dest.read_bytes() == BODY
    with pytest.raises(FetchError, match=rf"every mirror failed: {re.escape(broken)} \("):
        fetch_url([broken], tmp_path / "g.bin", sha256=None, timeout=5)
    assert all_files(tmp_path) == ["f.bin"]


def test_size_limits(server, tmp_path):
    url = server.serve("/good/f.bin", BODY)
    with pytest.raises(FetchError, match=r"body exceeds the expected 10 bytes"):
        fetch_url([url], tmp_path / "f.bin", sha256=None, size=10, timeout=5)
    with pytest.raises(FetchError, match=rf"size mismatch: expected {len(BODY) + 1} bytes, got {len(BODY)}"):
        fetch_url([url], tmp_path / "f.bin", sha256=None, size=len(BODY) + 1, timeout=5)
    assert all_files(tmp_path) == []


# --- fetch_dataset and load_dataset ----------------------------------------------------


def serve_files(server, prefix, blobs):
    for role in ROLES:
        server.serve(f"{prefix}{STEMS[role]}.gz", blobs[role][1])
    return server.url(prefix)


def test_fetch_dataset_end_to_end(server, dead_mirror, register, tmp_path):
    arrays = toy_arrays(seed=1)
    blobs = idx_blobs(arrays)
    good = serve_files(server, "/good/", blobs)
    spec = register(toy_spec("toy-fetch", blobs, [dead_mirror, server.url("/missing/"), good]))
    paths = fetch_dataset(spec, data_home=tmp_path, timeout=5)
    assert paths == {r: tmp_path / "toy-fetch" / f"{STEMS[r]}.gz" for r in ROLES}
    for role, path in paths.items():
        assert path.read_bytes() == blobs[role][1]
    assert all_files(tmp_path) == sorted(f"toy-fetch/{STEMS[r]}.gz" for r in ROLES)

    hits = len(server.hits)
    assert fetch_dataset(spec, data_home=tmp_path) == paths  # already there: no request
    ds = load_dataset("toy-fetch", data_home=tmp_path)
    assert len(server.hits) == hits
    assert ds.name == "toy-fetch"
    assert ds.sha256 == {r: sha256(blobs[r][0]) for r in ROLES}
    assert_matches(ds, arrays)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith((".part", ".tmp"))]


def test_load_dataset_downloads_into_env_data_home(server, register, tmp_path, monkeypatch):
    arrays = toy_arrays(seed=2)
    blobs = idx_blobs(arrays)
    register(toy_spec("toy-env", blobs, [serve_files(server, "/d/", blobs)]))
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env-home"))
    with pytest.raises(
        FileNotFoundError, match=r"toy-env is not downloaded to .*env-home.*mnist-classic data download toy-env"
    ):
        load_dataset("toy-env", download=False)
    ds = load_dataset("toy-env")
    assert_matches(ds, arrays)
    assert (tmp_path / "env-home" / "toy-env" / "train-images-idx3-ubyte.gz").is_file()
    assert list((tmp_path / "env-home" / "decoded").rglob("*.npy"))


def test_fetch_dataset_bad_download_leaves_nothing(server, register, tmp_path):
    blobs = idx_blobs(toy_arrays(seed=3))
    wrong = idx_blobs(toy_arrays(seed=4))
    spec = register(toy_spec("toy-wrong", blobs, [serve_files(server, "/other/", wrong)]))
    expected = sha256(blobs["train_images"][1])
    actual = sha256(wrong["train_images"][1])
    message = rf"could not fetch train-images-idx3-ubyte\.gz: .*expected {expected}, got {actual}"
    with pytest.raises(FetchError, match=message):
        fetch_dataset(spec, data_home=tmp_path, timeout=5)
    with pytest.raises(FetchError, match=message):
        load_dataset("toy-wrong", data_home=tmp_path)
    assert all_files(tmp_path) == []


def test_unpinned_payloads_are_pinned_on_first_download(server, register, tmp_path):
    arrays = toy_arrays(seed=5)
    blobs = idx_blobs(arrays)
    register(toy_spec("toy-pin", blobs, [serve_files(server, "/p/", blobs)], pin_payload=False))
    assert_matches(load_dataset("toy-pin", data_home=tmp_path), arrays)
    pins = (tmp_path / "toy-pin" / "SHA256SUMS").read_text().split("\n")
    assert pins == [f"{sha256(blobs[r][0])}  {r}" for r in ROLES] + [""]
    # A later change to a downloaded file (valid IDX all the same) is caught against the pins.
    other = encode_idx((arrays["test_labels"] + 1) % 10)
    (tmp_path / "toy-pin" / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(other))
    expected, actual = sha256(blobs["test_labels"][0]), sha256(other)
    with pytest.raises(DataIntegrityError, match=rf"t10k-labels-idx1-ubyte\.gz: .*expected {expected}, got {actual}"):
        load_dataset("toy-pin", data_home=tmp_path)


def make_zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def archive_spec(name, blobs, zip_bytes, mirrors, prefix="emnist-toy-", **kwargs):
    filenames = {r: prefix + STEMS[r].replace("t10k", "test") + ".gz" for r in ROLES}
    archive = ArchiveSpec(filename="gzip.zip", sha256=sha256(zip_bytes), size=len(zip_bytes))
    return toy_spec(name, blobs, mirrors, filenames=filenames, archive=archive, **kwargs), filenames


def test_archive_dataset_transposed(server, dead_mirror, register, tmp_path):
    arrays = toy_arrays(seed=6)
    # EMNIST stores each image transposed; the loader must turn it back.
    stored = {r: (a.transpose(0, 2, 1).copy() if r.endswith("images") else a) for r, a in arrays.items()}
    assert not np.array_equal(stored["train_images"], arrays["train_images"])
    blobs = idx_blobs(stored)
    prefix = "emnist-toy-"
    members = [(f"gzip/{prefix}{STEMS[r].replace('t10k', 'test')}.gz", blobs[r][1]) for r in ROLES]
    zip_bytes = make_zip([("gzip/README", b"hello"), *members])
    server.serve("/nist/gzip.zip", zip_bytes)
    spec, filenames = archive_spec("toy-emnist", blobs, zip_bytes, [dead_mirror, server.url("/nist/")], transpose=True)
    register(spec)
    ds = load_dataset("toy-emnist", data_home=tmp_path)
    assert_matches(ds, arrays)
    assert_matches(ds, stored, transposed=True)
    # The archive is removed once its members are out; only the members remain.
    assert all_files(tmp_path / "toy-emnist") == sorted(filenames.values())
    assert server.hits == ["/nist/gzip.zip"]


def test_archive_member_names_cannot_escape(server, register, tmp_path):
    blobs = idx_blobs(toy_arrays(seed=7))
    prefix = "toy-"
    members = [
        ("../evil", b"outside"),
        ("../../evil2", b"outside"),
        ("/abs-evil", b"outside"),
        *[(f"../../{prefix}{STEMS[r].replace('t10k', 'test')}.gz", blobs[r][1]) for r in ROLES],
    ]
    zip_bytes = make_zip(members)
    server.serve("/z/gzip.zip", zip_bytes)
    spec, filenames = archive_spec("toy-escape", blobs, zip_bytes, [server.url("/z/")], prefix=prefix)
    register(spec)
    home = tmp_path / "a" / "b"
    paths = fetch_dataset(spec, data_home=home, timeout=5)
    assert all_files(tmp_path) == sorted(f"a/b/toy-escape/{n}" for n in filenames.values())
    assert not (tmp_path.parent / "evil").exists() and not (tmp_path.parent / "evil2").exists()
    for role, path in paths.items():
        assert path.read_bytes() == blobs[role][1]


def test_archive_missing_duplicate_or_oversized_member(server, register, tmp_path):
    blobs = idx_blobs(toy_arrays(seed=8))
    name = "toy-" + STEMS["train_images"] + ".gz"
    cases = {
        "dup": (
            make_zip([("a/" + name, b"1"), ("b/" + name, b"2")]),
            rf"expected one member named '{re.escape(name)}', found 2",
        ),
        "none": (make_zip([("other", b"1")]), rf"expected one member named '{re.escape(name)}', found 0"),
        "big": (
            make_zip([(name, bytes(1 << 20))]),
            rf"member '{re.escape(name)}' claims 1048576 bytes, over the \d+-byte limit",
        ),
    }
    for case, (zip_bytes, message) in cases.items():
        server.serve(f"/{case}/gzip.zip", zip_bytes)
        spec, _ = archive_spec(f"toy-{case}", blobs, zip_bytes, [server.url(f"/{case}/")], prefix="toy-")
        register(spec)
        with pytest.raises(FetchError, match=message):
            fetch_dataset(spec, data_home=tmp_path, timeout=5)
        # The verified archive may stay for a retry, but no member or partial file appears.
        assert all_files(tmp_path / f"toy-{case}") == ["gzip.zip"]


# --- the data home ---------------------------------------------------------------------


def test_data_home_argument_wins(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home(str(tmp_path / "arg")) == tmp_path / "arg"
    assert get_data_home("~/somewhere") == Path.home() / "somewhere"


def test_data_home_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    monkeypatch.setenv(DATA_ENV, "~/from-env")
    assert get_data_home(None) == Path.home() / "from-env"


@pytest.mark.parametrize("env", [None, ""])
def test_data_home_platform_default(tmp_path, monkeypatch, env):
    if env is None:
        monkeypatch.delenv(DATA_ENV, raising=False)
    else:
        monkeypatch.setenv(DATA_ENV, env)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    home = get_data_home()
    assert home == Path(user_cache_dir("mnist-classic", appauthor=False))
    if sys.platform.startswith("linux"):
        assert home == tmp_path / "xdg" / "mnist-classic"
    assert not home.exists()  # resolved, not created
