"""Isolated environments, one per requirement set, to run the suite against other library versions.

``build_env(["scikit-learn==1.6.1"])`` returns an :class:`Env`: a virtual
environment holding this project (installed from its source directory, not
editable) and the requirements, resolved together so the pins and the
project's own dependencies agree. Environments are cached under
``<cache>/<key>``, where the key hashes the Python version, the sorted
requirements, the project's version and a digest of its source files (and of
the files of any requirement that is a local folder), so an edited checkout or
package gets a new environment rather than a stale one.

A build happens in a temporary folder beside the cache entry and is renamed
into place only once the install and an import check passed: a failed or
interrupted build leaves no half-made environment behind (its log is kept in
``<cache>/logs/<key>.log``). The installer is ``uv`` when found (on ``PATH``
or as the ``uv`` Python package), else ``venv`` and ``pip``. Run commands in
an environment as ``env.python -m ...``: console scripts written by pip
record the temporary path and do not survive the rename (uv's environments
are built ``--relocatable``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import __version__

__all__ = [
    "Env",
    "EnvBuildError",
    "build_env",
    "default_cache_dir",
    "env_key",
    "find_uv",
    "local_digest",
    "project_root",
]

logger = logging.getLogger(__name__)

#: Written last into a finished environment: what it holds. Its presence marks the build complete.
MARKER = "mnist-classic-env.json"

_CHECK = (
    "import json, sys, importlib.metadata as m; import mnist_classic, sklearn, numpy; "
    "print(json.dumps({'python': '%d.%d.%d' % sys.version_info[:3], "
    "'mnist-classic': mnist_classic.__version__, "
    "**{d: m.version(d) for d in ('scikit-learn', 'numpy', 'scipy', 'pandas')}}))"
)


class EnvBuildError(RuntimeError):
    """An environment could not be built or does not import; the message is one line."""


@dataclass(frozen=True)
class Env:
    """A built environment.

    Attributes
    ----------
    path : Path
        Its folder.
    key : str
        The cache key (the folder's name).
    requirements : tuple of str
        The requirements it was built for, sorted.
    versions : dict
        Python, mnist-classic, scikit-learn, numpy, scipy and pandas versions found in it.
    """

    path: Path
    key: str
    requirements: tuple[str, ...]
    versions: dict[str, str]

    @property
    def python(self) -> Path:
        """The environment's interpreter."""
        return _venv_python(self.path)


def _venv_python(path: Path) -> Path:
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def default_cache_dir() -> Path:
    """``$MNIST_CLASSIC_ENVS``, else ``<user cache>/mnist-classic/envs``."""
    env = os.environ.get("MNIST_CLASSIC_ENVS")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("mnist-classic")) / "envs"


def project_root() -> Path:
    """The source checkout this package was imported from (the folder holding pyproject.toml).

    Raises
    ------
    FileNotFoundError
        When the package was installed from a wheel, not run from a checkout.
    """
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        msg = f"No pyproject.toml in {root}: environments are built from a source checkout of mnist-classic"
        raise FileNotFoundError(msg)
    return root


def _source_digest(root: Path) -> str:
    """SHA-256 over pyproject.toml and the package's .py files (path and content)."""
    h = hashlib.sha256()
    files = [root / "pyproject.toml", *sorted((root / "mnist_classic").rglob("*.py"))]
    for f in files:
        h.update(f.relative_to(root).as_posix().encode() + b"\0")
        h.update(f.read_bytes() + b"\0")
    return h.hexdigest()


#: Folders of a local package left out of its digest: version control, caches, build output.
_NOT_SOURCE = {".git", ".hg", "__pycache__", "build", "dist", ".venv", ".tox", ".mypy_cache", ".pytest_cache"}


def local_digest(requirements: Iterable[str]) -> str:
    """SHA-256 over the files of the requirements that are local folders ("" when none is).

    A package given by its path is installed as a copy, so the environment's key
    must change when its files do: an edited package then gets a new environment
    rather than the stale one.
    """
    h = hashlib.sha256()
    found = False
    for r in sorted(requirements):
        root = Path(r)
        if not root.is_dir():
            continue
        found = True
        h.update(str(root.resolve()).encode() + b"\0")
        for f in sorted(root.rglob("*")):
            rel = f.relative_to(root)
            if f.is_file() and not any(part in _NOT_SOURCE or part.endswith(".egg-info") for part in rel.parts):
                h.update(rel.as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest() if found else ""


def _normalize(requirements: Iterable[str]) -> tuple[str, ...]:
    if isinstance(requirements, str):
        msg = f"The 'requirements' parameter must be a list of requirement strings. Got the string {requirements!r}."
        raise TypeError(msg)
    out = set()
    for r in requirements:
        text = r.strip() if isinstance(r, str) else None
        if not text or text.startswith("-") or any(c in text for c in "\n\r\0"):
            msg = (
                "The 'requirements' parameter must hold requirement strings such as 'scikit-learn==1.6.1' "
                f"(no options, no blank). Got {r!r} instead."
            )
            raise ValueError(msg)
        out.add(text)
    return tuple(sorted(out))


def _python_version(python: str) -> str:
    if Path(python).resolve() == Path(sys.executable).resolve():
        return ".".join(map(str, sys.version_info[:3]))
    code = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        msg = f"The 'python' parameter must name a working Python interpreter. Got {python!r} ({exc})."
        raise ValueError(msg) from None
    return out.stdout.strip()


def env_key(requirements: Iterable[str], *, python_version: str, project_version: str, source_digest: str = "") -> str:
    """The cache key of an environment: 16 hex digits of a SHA-256.

    Examples
    --------
    >>> a = env_key(["numpy<2", "scikit-learn==1.6.1"], python_version="3.11.7", project_version="0.1.0")
    >>> a == env_key([" scikit-learn==1.6.1", "numpy<2"], python_version="3.11.7", project_version="0.1.0")
    True
    >>> a == env_key(["scikit-learn==1.6.1"], python_version="3.11.7", project_version="0.1.0")
    False
    """
    payload = {
        "python": python_version,
        "requirements": list(_normalize(requirements)),
        "project": project_version,
        "source": source_digest,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def find_uv() -> str | None:
    """Path of the ``uv`` executable: on ``PATH``, else from the ``uv`` Python package; None if absent."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def _run(cmd: Sequence[str | os.PathLike[str]], log: Any, timeout: float | None) -> None:
    """Run ``cmd``, appending its output to ``log``; raise EnvBuildError with its last error line."""
    log.write(f"$ {' '.join(map(str, cmd))}\n")
    log.flush()
    try:
        proc = subprocess.run(
            list(map(str, cmd)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        msg = f"`{Path(cmd[0]).name} {cmd[1]}` did not finish in {timeout} s"
        raise EnvBuildError(msg) from None
    except OSError as exc:
        msg = f"cannot run {cmd[0]}: {exc.strerror or exc}"
        raise EnvBuildError(msg) from None
    log.write(proc.stdout)
    if proc.returncode != 0:
        raise EnvBuildError(_last_error_line(proc.stdout) or f"{Path(cmd[0]).name} exited with {proc.returncode}")


def _last_error_line(output: str) -> str:
    """One line saying why an installer failed: uv's cause, else pip's first error, else the last line."""
    lines = output.splitlines()
    for i, line in enumerate(lines):  # uv: "error: No solution found ..." then "  cause: ..." + indented lines
        if line.strip().startswith("cause:"):
            parts = [line.strip().removeprefix("cause:").strip()]
            for more in lines[i + 1 :]:
                if not more.strip() or not more[:1].isspace() or more.strip().startswith(("hint:", "cause:")):
                    break
                parts.append(more.strip())
            return " ".join(parts)
    stripped = [line.strip() for line in lines if line.strip()]
    arrows = [line for line in stripped if line.startswith("\u2570\u2500\u25b6")]  # uv on a terminal
    if arrows:
        return arrows[-1].lstrip("\u2570\u2500\u25b6 ").strip()
    errors = [line for line in stripped if line.startswith(("ERROR:", "error:"))]
    if errors:  # pip: the first says what, the later ones point to docs
        return errors[0]
    return stripped[-1] if stripped else ""


def build_env(
    requirements: Iterable[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    project: str | os.PathLike[str] | None = None,
    python: str | None = None,
    installer: str = "auto",
    timeout: float | None = 1800,
) -> Env:
    """Build (or reuse) the environment for ``requirements``, with this project installed in it.

    Parameters
    ----------
    requirements : iterable of str
        Requirement strings, e.g. ``["scikit-learn==1.6.1", "numpy<2"]``.
    cache_dir : path or None, default=None
        Where environments live; None: :func:`default_cache_dir`.
    project : path or None, default=None
        The mnist-classic source directory to install; None: :func:`project_root`.
    python : str or None, default=None
        The interpreter to base the environment on; None: the running one.
    installer : {"auto", "uv", "pip"}, default="auto"
        ``auto`` uses uv when :func:`find_uv` finds it.
    timeout : float or None, default=1800
        Seconds allowed for each installer command.

    Returns
    -------
    Env

    Raises
    ------
    ValueError, TypeError
        For a bad parameter (the message names it).
    EnvBuildError
        When the installer fails, or the built environment cannot import
        mnist_classic and scikit-learn. One line, naming the requirements,
        the cause and the log file.
    """
    reqs = _normalize(requirements)
    if installer not in {"auto", "uv", "pip"}:
        msg = f"The 'installer' parameter must be one of auto, uv, pip. Got {installer!r} instead."
        raise ValueError(msg)
    uv = find_uv() if installer in {"auto", "uv"} else None
    if installer == "uv" and uv is None:
        msg = "The 'installer' parameter is 'uv' but uv is not installed (pip install uv)"
        raise ValueError(msg)
    python = python or sys.executable
    root = Path(project) if project is not None else project_root()
    if not (root / "pyproject.toml").is_file():
        msg = f"The 'project' parameter must be a source directory holding pyproject.toml. Got {str(root)!r}."
        raise ValueError(msg)
    digest = _source_digest(root)
    local = local_digest(reqs)  # a local package's files, so that an edit of it is not served a stale copy
    key = env_key(
        reqs,
        python_version=_python_version(python),
        project_version=__version__,
        source_digest=f"{digest}:{local}" if local else digest,
    )
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    final = cache / key
    cached = _load(final, key, reqs)
    if cached is not None:
        logger.info("Reusing environment %s for %s", final, ", ".join(reqs) or "(no pins)")
        return cached

    cache.mkdir(parents=True, exist_ok=True)
    (cache / "logs").mkdir(exist_ok=True)
    log_path = cache / "logs" / f"{key}.log"
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".building", dir=cache))
    what = ", ".join(reqs) or "no pins"
    logger.info("Building environment %s for %s with %s", final, what, "uv" if uv else "venv + pip")
    try:
        with open(log_path, "w", encoding="utf-8") as log:
            try:
                tpy = _venv_python(tmp)
                if uv:
                    _run([uv, "venv", "--relocatable", "--allow-existing", "--python", python, tmp], log, timeout)
                    _run([uv, "pip", "install", "--python", tpy, root, *reqs], log, timeout)
                else:
                    _run([python, "-m", "venv", tmp], log, timeout)
                    _run([tpy, "-m", "pip", "install", "--disable-pip-version-check", root, *reqs], log, timeout)
                check = subprocess.run(
                    [str(tpy), "-I", "-c", _CHECK], capture_output=True, text=True, timeout=300, cwd=tmp
                )
                log.write(check.stdout + check.stderr)
                if check.returncode != 0:
                    cause = _last_error_line(check.stderr) or f"exit status {check.returncode}"
                    raise EnvBuildError(f"built, but importing mnist_classic and scikit-learn fails: {cause}")
                versions = json.loads(check.stdout.strip().splitlines()[-1])
            except EnvBuildError as exc:
                msg = f"Could not build the environment for {what}: {exc} (log: {log_path})"
                raise EnvBuildError(msg) from None
        info = {"key": key, "requirements": list(reqs), "versions": versions, "installer": "uv" if uv else "pip"}
        (tmp / MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, final)
        except OSError:
            if _load(final, key, reqs) is None:  # not another build's result
                msg = (
                    f"Could not build the environment for {what}: "
                    f"{final} exists and is not a finished environment; remove it"
                )
                raise EnvBuildError(msg) from None
            logger.info("Another process built %s meanwhile; using it", final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    env = _load(final, key, reqs)
    assert env is not None
    return env


def _load(path: Path, key: str, reqs: tuple[str, ...]) -> Env | None:
    try:
        info = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not _venv_python(path).exists():
        return None
    return Env(path=path, key=key, requirements=reqs, versions=dict(info.get("versions", {})))
