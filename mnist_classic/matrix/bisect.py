"""``mnist-classic bisect GOOD BAD -- [run options]``: the first commit that made a case worse, by ``git bisect run``.

:func:`run_bisect` checks the repository out at GOOD in a temporary worktree
(``git worktree add --detach``: the user's own checkout is never touched),
measures GOOD once (``mnist-classic run`` with the run options, there), then
BAD, and checks with ``mnist-classic compare`` that BAD is worse; then it
starts ``git bisect`` in that worktree and lets ``git bisect run`` call
:func:`main` at each commit it picks. :func:`main` measures the commit the
same way and maps ``compare``'s verdict to git's codes:

- every metric ``same`` (or better): 0, good;
- any ``worse``: 1, bad;
- any ``unknown`` (``compare --fail-on-unknown`` exits 3), or the run failed
  (the commit does not build or import): 125, skip;
- anything else (``compare`` misused, an error of this suite): 128, which
  stops ``git bisect run``.

Instruction counts by default (``run --measure instructions``): they do not
move with the machine, so one run per commit decides. On wall time
(``--measure time``) each commit is run ``runs`` times, so that ``compare``
has the run-to-run spread it needs for a verdict other than ``unknown``.

The run options are ``run``'s, given relative to the repository's root (the
working directory of each run): ``--plugin work.py`` is the checked-out file.
The checkout comes first on ``PYTHONPATH`` (and its ``src/`` where there is
one), so the package measured is the commit's; ``compare`` is this suite's own.
Like the rest of :mod:`mnist_classic.matrix`, this drives the command line and
imports nothing of ``bench`` or ``analysis``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BisectError", "BisectResult", "BisectStep", "format_table", "main", "run_bisect"]

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding this suite's package
GOOD, BAD, SKIP, ABORT = 0, 1, 125, 128


class BisectError(RuntimeError):
    """git refused, a revision is unknown, or GOOD and BAD do not differ by the gate: one line for the user."""


@dataclass
class BisectStep:
    """One commit measured: its verdict (good, bad, skip) and the metric that moved most."""

    commit: str
    subject: str
    verdict: str
    worst: str = ""  # e.g. "work n_train=100 fit_instructions x1.050 (worse)"
    note: str = ""


@dataclass
class BisectResult:
    """The first bad commit (None when skipped commits leave it open), every commit measured, git's last words."""

    first_bad: str | None
    steps: list[BisectStep] = field(default_factory=list)
    message: str = ""


def _git(args: Sequence[str], cwd: Path, *, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise BisectError(f"bisect: git {' '.join(args[:2])} failed: {why}")
    return proc.stdout.strip()


def _environment(tree: Path) -> dict[str, str]:
    paths = [str(tree / "src")] if (tree / "src").is_dir() else []
    paths += [str(tree), str(_PACKAGE_ROOT)]
    old = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, *([old] if old else [])])}


def _measure(state: dict[str, Any], tree: Path, out: Path) -> str:
    """Run the case(s) ``state['runs']`` times in ``tree`` into ``out``; "" or why it failed."""
    cmd = [sys.executable, "-m", "mnist_classic", "run", *state["run_args"], "--measure", state["measure"]]
    cmd += ["--output", str(out), "--quiet"]
    for _ in range(state["runs"]):
        proc = subprocess.run(cmd, cwd=tree, env=_environment(tree), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            return lines[-1] if lines else f"run exited with {proc.returncode}"
    return ""


def _judge(state: dict[str, Any], new: Path) -> tuple[int, str]:
    """compare BASELINE NEW: (good/bad/skip/abort, the metric that moved most)."""
    cmd = [sys.executable, "-m", "mnist_classic", "compare", state["baseline"], str(new), "--format", "json"]
    cmd += ["--fail-on-unknown", *state["gate_args"]]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    code = {0: GOOD, 1: BAD, 3: SKIP}.get(proc.returncode, ABORT)
    if code == ABORT:
        return code, (proc.stderr.strip().splitlines() or ["compare failed"])[-1]
    rows = [r for r in json.loads(proc.stdout)["rows"] if r["metric"] not in ("accuracy", "status")]
    judged = [r for r in rows if (r["metric"].endswith("instructions")) == (state["measure"] == "instructions")]
    if state.get("phase", "all") != "all":  # only fit or only predict is judged: the verdict is theirs
        judged = [r for r in judged if r["metric"].startswith(state["phase"])]
        verdicts = {r["verdict"] for r in judged}
        code = BAD if "worse" in verdicts else SKIP if "unknown" in verdicts else GOOD
    if not judged:
        return code, ""
    order = {"worse": 0, "unknown": 1, "better": 2, "same": 3}
    r = min(judged, key=lambda r: (order.get(r["verdict"], 4), -abs((r["change"] or 1) - 1)))
    return code, f"{r['case']} {r['metric']} x{r['change']:.4f} ({r['verdict']})"


def _step(state: dict[str, Any], tree: Path, commit: str) -> BisectStep:
    out = Path(state["folder"]) / f"{commit}.csv"
    subject = _git(["log", "-1", "--format=%s", commit], tree)
    failed = _measure(state, tree, out)
    if failed:
        return BisectStep(commit, subject, "skip", note=f"run failed: {failed}")
    code, worst = _judge(state, out)
    verdict = {GOOD: "good", BAD: "bad", SKIP: "skip"}.get(code, "error")
    return BisectStep(commit, subject, verdict, worst)


def _log(state: dict[str, Any], step: BisectStep) -> None:
    with open(Path(state["folder"]) / "steps.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(step.__dict__) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """The command ``git bisect run`` calls at each commit: measure, judge, return 0, 1, 125 or 128."""
    (state_path,) = argv if argv is not None else sys.argv[1:]
    state = json.loads(Path(state_path).read_text(encoding="utf-8"))
    tree = Path(state["tree"])
    step = _step(state, tree, _git(["rev-parse", "HEAD"], tree))
    _log(state, step)
    if step.verdict == "error":
        print(f"mnist-classic bisect: {step.worst}", file=sys.stderr)
    return {"good": GOOD, "bad": BAD, "skip": SKIP}.get(step.verdict, ABORT)


def run_bisect(
    good: str,
    bad: str,
    run_args: Sequence[str],
    *,
    repo: str | os.PathLike[str] = ".",
    measure: str = "instructions",
    runs: int | None = None,
    gate_args: Sequence[str] = (),
    on_step: Callable[[BisectStep], None] | None = None,
    phase: str = "all",
) -> BisectResult:
    """Find the first commit between GOOD and BAD whose case(s) ``compare`` calls worse than GOOD's.

    Parameters
    ----------
    good, bad : str
        Revisions of ``repo`` (anything ``git rev-parse`` takes); GOOD an ancestor of BAD.
    run_args : sequence of str
        Options of ``mnist-classic run`` (pipelines, sizes, plugins), paths relative to the repository's root.
    repo : path-like, default="."
        Any folder inside the git repository.
    measure : {"instructions", "time"}, default="instructions"
    runs : int or None, default=None
        Runs per commit; None: 1 on instructions, 3 on time.
    gate_args : sequence of str
        ``compare``'s gate options (``--max-instructions 1.005``, ...).
    on_step : callable or None
        Called with each commit's :class:`BisectStep` as it is known (GOOD and BAD first).
    phase : {"all", "fit", "predict"}, default="all"
        What is judged: ``compare``'s whole verdict (accuracy included), or the
        speed of ``fit`` only, or of ``predict`` only.

    Returns
    -------
    BisectResult

    Raises
    ------
    BisectError
        Not a git repository, an unknown revision, GOOD's or BAD's run failed,
        or BAD is not worse than GOOD.
    ValueError
        ``measure`` or ``runs`` out of range.
    """
    if phase not in ("all", "fit", "predict"):
        msg = f"The 'phase' parameter must be one of all, fit, predict. Got {phase!r} instead."
        raise ValueError(msg)
    if measure not in ("instructions", "time"):
        msg = f"The 'measure' parameter must be one of instructions, time. Got {measure!r} instead."
        raise ValueError(msg)
    runs = (1 if measure == "instructions" else 3) if runs is None else runs
    if runs < 1:
        msg = f"The 'runs' parameter must be an int >= 1. Got {runs!r} instead."
        raise ValueError(msg)
    root = Path(_git(["rev-parse", "--show-toplevel"], Path(repo)))
    good_sha = _git(["rev-parse", "--verify", "--quiet", f"{good}^{{commit}}"], root, check=False)
    bad_sha = _git(["rev-parse", "--verify", "--quiet", f"{bad}^{{commit}}"], root, check=False)
    for name, sha in (("GOOD", good_sha), ("BAD", bad_sha)):
        if not sha:
            raise BisectError(f"bisect: {name} is not a commit of {root}: {good if name == 'GOOD' else bad!r}")
    folder = Path(tempfile.mkdtemp(prefix="mnist-classic-bisect-"))
    tree = folder / "tree"
    state: dict[str, Any] = {
        "tree": str(tree),
        "folder": str(folder),
        "run_args": list(run_args),
        "measure": measure,
        "runs": runs,
        "gate_args": list(gate_args),
        "phase": phase,
        "baseline": str(folder / f"{good_sha}.csv"),
    }
    steps: list[BisectStep] = []

    def note(step: BisectStep) -> None:
        steps.append(step)
        if on_step is not None:
            on_step(step)

    _git(["worktree", "add", "--detach", str(tree), good_sha], root)
    try:
        failed = _measure(state, tree, Path(state["baseline"]))
        if failed:
            raise BisectError(f"bisect: the run at GOOD ({good_sha[:12]}) failed: {failed}")
        note(BisectStep(good_sha, _git(["log", "-1", "--format=%s", good_sha], tree), "good", note="the baseline"))
        _git(["checkout", "--quiet", "--detach", bad_sha], tree)
        last = _step(state, tree, bad_sha)
        note(last)
        if last.verdict != "bad":
            why = last.note or last.worst or last.verdict
            raise BisectError(f"bisect: BAD ({bad_sha[:12]}) is not worse than GOOD by compare's gate: {why}")
        state_path = folder / "state.json"
        state_path.write_text(json.dumps(state), encoding="utf-8")
        _git(["bisect", "start", bad_sha, good_sha], tree)
        proc = subprocess.run(
            ["git", "bisect", "run", sys.executable, "-m", "mnist_classic.matrix.bisect", str(state_path)],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(_PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")])},
            capture_output=True,
            text=True,
            check=False,
        )
        log = folder / "steps.jsonl"
        for line in log.read_text(encoding="utf-8").splitlines() if log.is_file() else []:
            note(BisectStep(**json.loads(line)))
        text = proc.stdout + proc.stderr
        match = re.search(r"^([0-9a-f]{40}) is the first bad commit", text, re.MULTILINE)
        message = next((ln for ln in text.splitlines() if "first bad commit" in ln or "could be any of" in ln), "")
        if match is None and not message:
            message = (text.strip().splitlines() or [f"git bisect run exited with {proc.returncode}"])[-1]
        return BisectResult(match.group(1) if match else None, steps, message)
    finally:
        _git(["bisect", "reset", "--quiet"], tree, check=False)
        _git(["worktree", "remove", "--force", str(tree)], root, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def format_table(result: BisectResult) -> str:
    """The commits measured, in the order measured, and the first bad commit."""
    rows = [["commit", "verdict", "moved most", "subject"]]
    for s in result.steps:
        rows.append([s.commit[:12], s.verdict, s.worst or s.note, s.subject[:60]])
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if result.first_bad:
        subject = next((s.subject for s in result.steps if s.commit == result.first_bad), "")
        lines.append(f"first bad commit: {result.first_bad} {subject}".rstrip())
    else:
        lines.append(f"no single first bad commit: {result.message}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
