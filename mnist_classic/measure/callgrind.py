"""Instruction counts under callgrind: the client requests, the command line and the counts read back.

``run --measure instructions`` runs each case in a child process under
``valgrind --tool=callgrind --instr-atstart=no``: nothing is counted until the
child switches instrumentation on around a measured call (one pipeline step's
``fit`` or ``predict``), and dumps that region's total under its name when it
switches it off. The parent reads the dumps back (:func:`read_counts`).

The client requests are macros of valgrind's C headers (inline machine code),
which Python cannot issue by itself. We call the compiled ones that
pytest-codspeed ships (``dist_instrument_hooks``, the library CodSpeed's own
Python integration uses for the same purpose), through ctypes on its exported C
symbols: a maintained binary wheel for Linux and macOS, so nothing here is
compiled on the user's machine, and pytest is never imported (the library is
loaded from its file, not its package). Pinned to the 5.x series, whose
symbols we use (``callgrind_zero_stats``, ``callgrind_start_instrumentation``,
``callgrind_stop_instrumentation``, ``callgrind_dump_stats_at``).

What makes two counts of the same code equal, each measured here:

- a fixed environment (:func:`counted_environment`): what a shell adds and
  changes (``PWD``, ``OLDPWD``, ``_``, ``SHLVL``, ...) dropped, its size padded
  to a page; its size alone moved a count by 1.4%;
- one BLAS/OpenMP thread and ``PYTHONHASHSEED=0``;
- glibc's mmap threshold fixed (``GLIBC_TUNABLES``): glibc raises it as large
  blocks are freed, so which later allocations come from the heap depends on
  the process's history. With it free, the same SVC predict (1,000 images)
  counted 2,956.6 or 2,972.8 million instructions from run to run (0.55%
  apart, in libsvm's per-kernel ``malloc``); fixed, four runs agreed within
  200 instructions;
- an empty working directory, off ``sys.path`` (``python -P``): Python lists
  the directories on ``sys.path`` to find modules, and a results folder that
  grows as runs write to it changed the counts of small cases by ~0.1%;
- the cyclic garbage collector run before each measured call and off during it
  (as ``timeit`` does), so that a collection does not fall inside a short
  region in one run and outside it in the next;
- the allocators not counted: glibc's (``malloc``, ``free``, ...) and Python's
  small-object allocator (pymalloc's ``_PyObject_Malloc``, ``_PyObject_Free``, ...),
  :data:`ALLOCATORS`. What an allocation costs depends on the heap's state at the
  region's start (what ran before it), not on the code measured: svm's predict at
  n_train 500, n_test 200 counted 337.7 or 341.5 million instructions (1.1% apart)
  in children whose environments differed by one variable, the difference all in
  ``_int_malloc`` and ``unlink_chunk`` (libsvm allocates per test image); an
  untimed warm-up of the whole case, a lower mmap threshold, ``malloc_trim`` or
  ``PYTHONMALLOC=malloc`` did not remove it. pymalloc's ``_PyObject_Free`` alone
  moved a PCA fit of 145 million instructions by 68,708 between two such children.
  Every call into them from outside them is taken out of its region's count with
  all it called, from callgrind's call graph (:func:`read_counts`); callgrind's
  ``--toggle-collect``, used before, flips collection at each entry and exit, so a
  ``malloc`` called from ``realloc(NULL, n)`` was counted again. The work done on
  what is allocated (copies, fills) is still counted;
- a fixed stream of random bytes in the counted child (``fixed_entropy`` in
  :mod:`mnist_classic.bench.counted`): numpy seeds every new ``RandomState`` from
  the OS before a given seed replaces that state, and the conversions that take
  depend on the bytes drawn (a few thousand instructions in an ``SVC`` or ``PCA``
  fit, from run to run);
- the method cache (``sys._clear_type_cache``) emptied before each region, so that
  which lookups hit it does not depend on what ran before;
- the method cache's misses not counted (:data:`CACHE_MISSES`): a type's attribute
  lookup (``_PyType_Lookup``) walks the MRO only when the cache's slot for the
  (type, name) pair holds another pair, and the slot is a hash of the type's version
  tag and the name's *address*, so which lookups collide follows the heap's layout,
  not the code. Children of the same rf case at n_train 500, n_test 200 counted its
  fit 1,386.96 to 1,388.65 million instructions (0.12% apart) and its predict 41.069
  to 41.117 million (0.12%), the difference in ``find_name_in_mro`` and the dictionary
  lookups it makes; without the miss path, 0.006% and 0.017% (15 children). Each
  lookup's own cost (``_PyType_Lookup``, a hit's) is still counted.

What remains is the part of a miss inside ``_PyType_Lookup`` itself and a little
of the dictionaries' probing: a few hundred to a few thousand instructions a
region, whatever its size
(:data:`~mnist_classic.analysis.verdicts.counts.NOISE_INSTRUCTIONS`).
``benchmarks/instructions.py`` measures it on the default grid (the README's
"Speed you can gate on").
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

__all__ = [
    "ALLOCATORS",
    "CACHE_MISSES",
    "UNCOUNTED",
    "InstructionsUnavailableError",
    "callgrind_command",
    "client_requests",
    "count_basis",
    "counted_environment",
    "read_counts",
    "require_instructions",
    "valgrind_version",
]

_GET_VALGRIND = (
    "install valgrind (Debian/Ubuntu: apt-get install valgrind; Fedora: dnf install valgrind); "
    "it runs on Linux only (macOS and Windows: use a Linux machine, container or CI runner)"
)
_GET_HOOKS = "pip install 'mnist-classic[instructions]' (pytest-codspeed 5.x ships valgrind's client requests compiled)"
#: glibc's mmap threshold, fixed at its default (128 KiB) so that it stops moving (see the module's docstring).
_TUNABLES = "glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=262144"
#: The allocators' entry points, not counted (see the module's docstring): glibc's and Python's small-object
#: allocator (pymalloc). Every call into one of them from a function that is not one of them is taken out of
#: its region's count, with all it called (:func:`read_counts`, from callgrind's call graph), and Python's raw
#: layer (``PyMem_Raw*``), through which pymalloc passes a large block to glibc. Not callgrind's
#: ``--toggle-collect``, which flips collection on each entry and exit: a listed function called from inside
#: another (``malloc`` from ``realloc(NULL, n)``, or from pymalloc for a large object) switched it back on.
ALLOCATORS = (
    "malloc",
    "free",
    "calloc",
    "realloc",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
    "valloc",
    "pvalloc",
    "_PyObject_Malloc",
    "_PyObject_Calloc",
    "_PyObject_Realloc",
    "_PyObject_Free",
    "PyMem_RawMalloc",
    "PyMem_RawCalloc",
    "PyMem_RawRealloc",
    "PyMem_RawFree",
    "_PyMem_RawMalloc",
    "_PyMem_RawCalloc",
    "_PyMem_RawRealloc",
    "_PyMem_RawFree",
)
#: CPython's method cache's miss path (see the module's docstring): called from ``_PyType_Lookup`` when the
#: (type, name) pair is not in its slot, whose index follows the name's address. Not counted, as the allocators.
CACHE_MISSES = ("find_name_in_mro", "assign_version_tag")
#: What no region counts: every call into one of these from a function that is not one of them is taken out of
#: its region's count, with all it called (:func:`read_counts`).
UNCOUNTED = ALLOCATORS + CACHE_MISSES
#: The suffixes GCC gives a function's specialised copies (``assign_version_tag.isra.0``), which callgrind
#: names as it finds them in the symbol table: a copy is the function for :data:`UNCOUNTED`.
_CLONE = re.compile(r"(?:\.(?:isra|constprop|part|cold|lto_priv)(?:\.\d+)?)+$")
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
#: The caller's variables the counted child keeps (the rest change from shell to shell: see counted_environment).
_KEPT = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TMPDIR", "TZ", "PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX"}
)
_KEPT_PREFIXES = ("LC_", "XDG_", "MNIST_CLASSIC_", "SCIPY_", "SKLEARN_", "NUMPY_", "OPENBLAS_", "MKL_", "VALGRIND_")
#: The environment's size is padded to a multiple of this (bytes): a page.
_ENV_BLOCK = 4096
_PAD = "MNIST_CLASSIC_COUNT_PAD"


class InstructionsUnavailableError(OSError):
    """valgrind or the client requests are missing: instruction counts cannot be taken here."""


@cache
def valgrind_version() -> str | None:
    """``3.19.0`` for the valgrind on PATH, or None where there is none (or it does not run)."""
    exe = shutil.which("valgrind")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", out)
    return match.group(1) if match else None


def _hooks_library() -> Path | None:
    spec = importlib.util.find_spec("pytest_codspeed")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "instruments" / "hooks"
    found = sorted(folder.glob("dist_instrument_hooks*.so")) + sorted(folder.glob("dist_instrument_hooks*.dylib"))
    return found[0] if found else None


def require_instructions() -> str:
    """Check that instruction counts can be taken here; return the valgrind version.

    Raises
    ------
    InstructionsUnavailableError
        One line saying what is missing and how to get it.
    """
    version = valgrind_version()
    if version is None:
        msg = f"--measure instructions needs valgrind, which is not on PATH here: {_GET_VALGRIND}"
        raise InstructionsUnavailableError(msg)
    if _hooks_library() is None:
        msg = f"--measure instructions needs valgrind's client requests: {_GET_HOOKS}"
        raise InstructionsUnavailableError(msg)
    return version


class _Requests:
    """The four callgrind client requests, from pytest-codspeed's compiled library."""

    def __init__(self, path: Path) -> None:
        lib = ctypes.CDLL(str(path))
        lib.callgrind_dump_stats_at.argtypes = [ctypes.c_char_p]
        self._lib = lib

    @contextmanager
    def region(self, name: str) -> Iterator[None]:
        """Count the instructions of the block, dumped under ``name`` (instrumentation is off outside)."""
        lib = self._lib
        gc.collect()  # the cyclic collector off inside, as timeit does (see the module's docstring)
        gc.disable()
        sys._clear_type_cache()  # every region starts with an empty method cache (see the module's docstring)
        lib.callgrind_zero_stats()
        lib.callgrind_start_instrumentation()
        try:
            yield
        finally:
            lib.callgrind_stop_instrumentation()
            lib.callgrind_dump_stats_at(name.encode("utf-8"))
            gc.enable()


def client_requests() -> _Requests:
    """The client requests (outside valgrind they do nothing); raises :class:`InstructionsUnavailableError`."""
    path = _hooks_library()
    if path is None:
        raise InstructionsUnavailableError(f"valgrind's client requests are not installed: {_GET_HOOKS}")
    return _Requests(path)


def _kept(name: str) -> bool:
    return name in _KEPT or name.startswith(_KEPT_PREFIXES)


def counted_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: a fixed one, whatever the caller's shell holds.

    Only the variables a child needs are kept (:data:`_KEPT`: paths, locale,
    caches, the suite's own and the libraries' settings), never those that
    change from shell to shell (``PWD``, ``OLDPWD``, ``_``, ``SHLVL``, terminal
    and session variables); then one thread everywhere, a fixed hash seed and a
    fixed mmap threshold; and a padding variable that brings the environment's
    size (bytes of ``NAME=value`` strings) to a multiple of :data:`_ENV_BLOCK`.
    The environment is copied onto the child's stack and into its heap at start,
    so its size moves the addresses of everything after it: an environment 700
    or 3,001 bytes longer moved svm's predict count (500 training images, 200
    test images) from 338.6 to 336.3 or 341.1 million instructions.
    """
    source = os.environ if base is None else base
    env = {k: v for k, v in sorted(source.items()) if _kept(k) and k != _PAD}
    env.update(dict.fromkeys(_THREAD_VARIABLES, "1"))
    env["PYTHONHASHSEED"] = "0"
    env["GLIBC_TUNABLES"] = _TUNABLES
    size = sum(len(os.fsencode(k)) + len(os.fsencode(v)) + 2 for k, v in env.items()) + len(_PAD) + 2
    env[_PAD] = "x" * (-size % _ENV_BLOCK)
    return env


def callgrind_command(out_dir: Path, argv: list[str]) -> list[str]:
    """``valgrind --tool=callgrind ...`` around ``python argv`` (this interpreter), dumps into ``out_dir``."""
    return [
        *_no_aslr(),
        shutil.which("valgrind") or "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",  # nothing counted outside the measured regions
        "--dump-instr=no",
        "--dump-line=no",  # totals and the call graph are all we read: smaller dumps
        f"--callgrind-out-file={out_dir / 'callgrind.out'}",
        sys.executable,
        "-P",  # the working directory (whose listing changes as results are written) is not on sys.path
        *argv,
    ]


@cache
def _no_aslr() -> list[str]:
    """``setarch <arch> -R`` (address-space randomization off for the child) where it works here, else nothing."""
    exe = shutil.which("setarch")
    if exe is None or not sys.platform.startswith("linux"):
        return []
    cmd = [exe, os.uname().machine, "-R"]
    try:
        ok = subprocess.run([*cmd, "true"], capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return cmd if ok else []


_TRIGGER = re.compile(r"^desc: Trigger: Client Request: (.*)$")


_NAMED = re.compile(r"^\((\d+)\)(?: (.*))?$")


def read_counts(out_dir: Path) -> dict[str, int]:
    """Region name -> instructions, from the dumps callgrind wrote into ``out_dir``, :data:`UNCOUNTED` left out.

    A region's count is its total less the inclusive cost of every call from a function not in
    :data:`UNCOUNTED` into one that is (callgrind's call graph: a ``calls=`` line, then the
    call's inclusive cost). A region counted twice under one name (the determinism check's second
    fit does not dump) keeps the sum.
    """
    counts: dict[str, int] = {}
    for path in sorted(out_dir.glob("callgrind.out.*")):
        name, count = _region_count(path)
        if name is not None and count is not None:
            counts[name] = counts.get(name, 0) + count
    return counts


def _inside_shares(edges: dict[tuple[str, str], int]) -> dict[str, float]:
    """For each function, the share of its calls' cost that ran inside a call into :data:`UNCOUNTED`.

    ``edges``: (caller, callee) -> the calls' inclusive cost. A function of :data:`UNCOUNTED` is all inside;
    a function called from them and from other code (a PLT stub, Python's raw layer) is inside in the
    proportion of the cost of the calls it received from inside. Callgrind's call graph has no
    stacks (each edge is summed over every context), so this share is what apportions a nested
    call: pymalloc's ``_PyObject_Malloc`` passes a large block on to ``malloc`` through a stub that
    is not an allocator, and without the share that ``malloc`` was taken out twice, once in the
    outer call's inclusive cost and once as a call of its own, so the region's count moved with
    what glibc's allocator cost (a work plugin's predict counted 9.41 or 9.54 million instructions
    from run to run, 1.3% apart). Written by hand: callgrind_annotate has no such reckoning.
    """
    into: dict[str, list[tuple[str, int]]] = {}
    for (caller, callee), cost in edges.items():
        into.setdefault(callee, []).append((caller, cost))
    share = {f: 1.0 for f in UNCOUNTED}
    for _ in range(100):  # a fixed point: shares only grow, and chains of stubs are short
        changed = False
        for f, calls in into.items():
            if f in UNCOUNTED:
                continue
            total = sum(c for _, c in calls)
            new = sum(c * share.get(g, 0.0) for g, c in calls) / total if total else 0.0
            if abs(new - share.get(f, 0.0)) > 1e-12:
                share[f], changed = new, True
        if not changed:
            break
    return share


def _region_count(path: Path) -> tuple[str | None, int | None]:
    """One dump's region name and count (its total less the calls into :data:`UNCOUNTED`), as :func:`read_counts`.

    A call into an allocator is taken out with all it called, once: in the share of its caller's
    cost that did not itself run inside an allocator call (:func:`_inside_shares`).
    """
    name, total = None, None
    edges: dict[tuple[str, str], int] = {}
    names: dict[str, str] = {}  # callgrind's name compression: "(12) malloc" once, then "(12)"

    def resolve(text: str) -> str:  # a specialised copy (foo.isra.0) under its function's name
        match = _NAMED.match(text)
        if match is None:
            return _CLONE.sub("", text)
        if match.group(2) is not None:
            names[match.group(1)] = _CLONE.sub("", match.group(2))
        return names.get(match.group(1), text)

    fn = callee = ""
    call_cost_next = False
    with path.open(encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if call_cost_next:  # the line after calls=: position(s), then the call's inclusive cost
                call_cost_next = False
                edges[(fn, callee)] = edges.get((fn, callee), 0) + int(line.split()[-1])
            elif line.startswith("fn="):
                fn = resolve(line[3:])
            elif line.startswith("cfn="):
                callee = resolve(line[4:])
            elif line.startswith("calls="):
                call_cost_next = True
            elif name is None and (match := _TRIGGER.match(line)):
                name = match.group(1)
            elif line.startswith("totals:"):
                total = int(line.split()[1])
    if total is None:
        return name, None
    share = _inside_shares(edges)
    uncounted = sum(
        cost * (1.0 - share.get(caller, 0.0))
        for (caller, callee), cost in edges.items()
        if callee in UNCOUNTED and caller not in UNCOUNTED
    )
    return name, total - round(uncounted)


def count_basis() -> dict[str, str]:
    """What the counts depend on besides the code: this CPU (model and flags) and the BLAS kernel.

    Called inside the counted child, so the BLAS kernel is the one OpenBLAS
    picked on the CPU valgrind presents (which lacks some of the real one's
    instruction sets), under one thread.
    """
    from threadpoolctl import threadpool_info

    from .environment import cpu_model

    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = " ".join(sorted(line.split(":", 1)[1].split()))
                break
    except OSError:
        pass
    kernels = sorted(
        {f"{p.get('internal_api')}:{p.get('architecture')}" for p in threadpool_info() if p.get("architecture")}
    )
    return {
        "cpu_model": cpu_model(),
        "cpu_flags_sha256": hashlib.sha256(flags.encode()).hexdigest()[:16] if flags else "",
        "blas_kernels": ",".join(kernels),
        "threads": "1",
        "uncounted": ",".join(UNCOUNTED),
    }
