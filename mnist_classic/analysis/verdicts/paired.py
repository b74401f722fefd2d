"""Paired statistics on the rounds of ``mnist-classic ab``: one ratio per round, judged together.

The rows of an A/B run carry a ``side`` (``base`` or ``new``) and an
``ab_round``; both sides of a round ran the same case with the same seed, at
nearly the same time (interleaved) or at the same time (duet), so whatever
slowed the machine during that round slowed both. Each round gives one ratio
NEW/BASE per case (dataset, pipeline, n_train, n_test) and metric: fit and
predict seconds, each step's seconds for pipelines of several steps, and the
instruction counts where both sides were counted.

- With several processes per side in a round (``ab --processes P``) and
  several measurements inside each (``--measurements M``, the ``repeat``
  column), a side's value in a round is the geometric mean over its processes
  (told apart by ``run_id``) of each process's geometric mean over its
  measurements: ``exp(mean_p(mean_m(log x)))``; with one of each, the value
  itself. Rounds where a side has fewer processes than the case's others are
  left out (an ab stopped mid-round). The interval is on the rounds, the top
  level (Kalibera & Jones, ISMM 2013): processes and measurements only make
  each round's value steadier; :mod:`.levels` says how the variance splits.
- The ratio shown is the geometric mean of the rounds' ratios, with a
  ``1 - alpha`` confidence interval: a Student t interval on the log ratios,
  mapped back with ``exp`` (the log makes a slowdown and the matching
  speed-up symmetric, and ratios of times are closer to log-normal than to
  normal). It needs two rounds; more make it narrower.
- Three verdicts (:mod:`.decide`). ``worse``: the ratio is beyond the gate
  (above ``max_slowdown``; for counts, ``max_instructions``) and significantly
  above 1 (the test interval's lower bound is above 1); ``better`` the mirror
  image; ``same``: the ``1 - 2 alpha`` interval (two one-sided tests) lies
  inside ``[1/margin, margin]`` (the margin defaults to the gate);
  ``unknown``: neither, with about how many rounds would decide it. A
  difference of the two sides' geometric-mean seconds under
  ``time_resolution`` is ``same``, as in ``compare``, unless the metric is
  longer than the resolution and ``worse`` or ``better`` (:func:`.decide.resolved`).
  A time verdict
  ``worse`` or ``better`` while other processes kept the machine busy
  (``others_cores`` above :data:`~.machine.BUSY_CORES` on either side, the
  median over rounds; :data:`~.machine.DUET_BUSY_CORES` for a duet's rounds,
  where the two sides hold the cores and a neighbour gets half as much) is
  ``unknown``: the machine's speed levels, not the code, may have made it.
- Many metrics are judged at once (fit, predict and steps of every case): by
  default the verdicts are Bonferroni-corrected, each of the ``m`` speed
  metrics tested at ``alpha / m``, so that comparing a version with itself
  flags one with probability at most ``alpha`` however many there are (on a
  busy machine, where the gate alone does not keep noisy metrics out, each
  metric tested at ``alpha`` would raise a false alarm with probability near
  ``alpha / 2``). The intervals shown stay ``1 - alpha`` intervals.
- Accuracy: the exact McNemar test on the paired predictions of the first
  round both sides completed (each side's first process, first measurement),
  with a Wilson interval for each accuracy, as ``compare`` does.
- Wall times of counted runs (timed under valgrind) are shown and not judged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...results import ResultsSchemaError, row_labels
from ..stats import mcnemar_exact, wilson_interval
from .counts import COUNT_METRICS, counted, counts_incomparable, time_note
from .levels import Levels, process_cost, variance_levels
from .machine import busy_line, machine_note
from .ratios import judge_ratios, untested_by_resolution
from .rounds import Side, all_ok, complete_rounds, first_row, paired_values, pairs, side_value, step_values

__all__ = [
    "PairedComparison",
    "PairedRow",
    "compare_paired",
    "judge_ratios",
    "side_value",
]


@dataclass
class PairedRow:
    """One metric of one case over the paired rounds, and its verdict."""

    dataset: str
    pipeline: str
    n_train: int
    n_test: int
    metric: str  # accuracy, status, fit_time_s, predict_time_s, fit/<step>, predict/<step>, *_instructions
    rounds: int = 0
    base: float | None = None  # geometric mean over rounds (accuracy: the fraction in the round paired)
    new: float | None = None
    ratio: float | None = None  # geometric mean of NEW/BASE over rounds; accuracy: the change in points
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    verdict: str = "same"  # worse, better, same, unknown (decide.VERDICTS)
    note: str = ""
    changed_predictions: int | None = None
    base_ci: tuple[float, float] | None = None  # accuracy: Wilson intervals
    new_ci: tuple[float, float] | None = None
    ratios: list[float] = field(default_factory=list)  # one per round

    @property
    def case(self) -> str:
        """``pipeline n_train=N`` (plus the dataset when it is not MNIST)."""
        prefix = "" if self.dataset == "mnist" else f"{self.dataset}: "
        return f"{prefix}{self.pipeline} n_train={self.n_train}"


@dataclass
class PairedComparison:
    """Every metric of every case, the settings, and the exit code."""

    rows: list[PairedRow] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    levels: list[Levels] = field(default_factory=list)  # with several processes or measurements per round

    @property
    def regressions(self) -> list[PairedRow]:
        """Rows whose verdict is ``worse``."""
        return [r for r in self.rows if r.verdict == "worse"]

    @property
    def unknown(self) -> list[PairedRow]:
        """Rows whose verdict is ``unknown``."""
        return [r for r in self.rows if r.verdict == "unknown"]

    @property
    def exit_code(self) -> int:
        """1 when anything regressed, else 0 (``--fail-on-unknown``: :func:`.decide.exit_code`)."""
        return 1 if self.regressions else 0


@dataclass
class _Speed:
    """A speed metric of one case, judged once the number of metrics judged together is known."""

    case: dict[str, Any]
    metric: str
    base: list[float]
    new: list[float]
    gate: float
    resolution: float
    why_not: str = ""  # set: shown, not judged (timed under valgrind, counts not comparable)
    left_out: int = 0
    margin: float | None = None
    busy: str = ""  # set: other processes kept the machine busy (times only)
    alpha: float = 0.05  # the ab's --alpha: its 1 - 2 alpha interval decides "under the resolution"

    @property
    def judged(self) -> bool:
        """Whether its verdict is a test: not shown only, two rounds or more, a difference beyond the resolution."""
        if self.why_not or len(self.base) < 2:
            return False
        untested = untested_by_resolution(self.base, self.new, 1 - self.alpha, self.resolution)  # as judge_ratios
        return not untested and self.base != self.new

    def row(self, confidence: float, family: int) -> PairedRow:
        fields = judge_ratios(self.base, self.new, self.gate, confidence, self.resolution, family, self.margin)
        fields.pop("equivalence_ci")
        row = PairedRow(**self.case, metric=self.metric, **fields)
        if self.why_not:
            row.verdict, row.note = "same", self.why_not
        elif self.busy and row.verdict in ("worse", "better"):
            row.verdict, row.note = "unknown", f"{self.busy}; {row.verdict} on a quiet machine? run again there"
        elif self.left_out and not row.note:
            row.note = f"{self.left_out} round(s) without both sides ok left out"
        return row


def _accuracy(case: dict[str, Any], k: int, rb: pd.Series, rn: pd.Series, alpha: float, max_drop: float) -> PairedRow:
    if rb["truth_sha256"] != rn["truth_sha256"]:
        msg = f"Refusing to pair {case['pipeline']}: the two sides used different test labels (truth_sha256)"
        raise ResultsSchemaError(msg)
    truth = row_labels(rb, "truth_sha256")
    pb, pn = row_labels(rb, "predictions_sha256"), row_labels(rn, "predictions_sha256")
    ok_b, ok_n = pb == truth, pn == truth
    b, c = int(np.sum(ok_b & ~ok_n)), int(np.sum(~ok_b & ok_n))
    p = mcnemar_exact(b, c)
    diff = 100 * (float(ok_n.mean()) - float(ok_b.mean()))
    changed = int(np.sum(pb != pn))
    verdict, note = "same", f"round {k}"
    if changed == 0:
        note += ": identical predictions"
    elif p < alpha and -diff > max_drop:
        verdict = "worse"
    elif p < alpha and diff > max_drop:
        verdict = "better"
    elif p >= alpha:
        note += f": {b} right->wrong, {c} wrong->right, not significant"
    n = len(truth)
    return PairedRow(
        **case,
        metric="accuracy",
        rounds=1,
        base=float(ok_b.mean()),
        new=float(ok_n.mean()),
        ratio=diff,
        ci=None,
        p_value=p,
        verdict=verdict,
        note=note,
        changed_predictions=changed,
        base_ci=wilson_interval(int(ok_b.sum()), n),
        new_ci=wilson_interval(int(ok_n.sum()), n),
    )


def _case_rows(case: dict[str, Any], rounds: dict[int, dict[str, Side]], s: dict[str, Any]) -> list[PairedRow | _Speed]:
    full = complete_rounds(rounds)
    ok = {k: v for k, v in full.items() if all_ok(v["base"]) and all_ok(v["new"])}
    if not ok:
        b_ok = any((v["status"] == "ok").any() for r in rounds.values() for side, v in r.items() if side == "base")
        n_ok = any((v["status"] == "ok").any() for r in rounds.values() for side, v in r.items() if side == "new")
        statuses = {
            side: sorted({str(x) for r in rounds.values() if side in r for x in r[side]["status"]})
            for side in ("base", "new")
        }
        verdict = "worse" if b_ok and not n_ok else "better" if n_ok and not b_ok else "same"
        note = f"base {','.join(statuses['base']) or 'none'}, new {','.join(statuses['new']) or 'none'}"
        return [PairedRow(**case, metric="status", verdict=verdict, note=note)]
    first = min(ok)
    fb, fn = first_row(ok[first]["base"]), first_row(ok[first]["new"])
    out: list[PairedRow | _Speed] = [_accuracy(case, first, fb, fn, s["alpha"], s["max_accuracy_drop"])]
    b_rows = pd.concat([v["base"] for v in ok.values()])
    n_rows = pd.concat([v["new"] for v in ok.values()])
    untimed = time_note(counted(b_rows), counted(n_rows))
    steps = sorted(set(step_values(fb)) & set(step_values(fn)))
    left_out = len(rounds) - len(ok)
    busy = machine_note(b_rows, n_rows, duet=s["mode"] == "duet").replace("not judged: ", "machine busy: ")
    for metric in ("fit_time_s", "predict_time_s", *steps):
        base, new = paired_values(ok, metric)
        if base:
            out.append(
                _Speed(
                    case,
                    metric,
                    base,
                    new,
                    s["max_slowdown"],
                    s["time_resolution"],
                    untimed,
                    left_out,
                    s["margin"],
                    busy,
                    s["alpha"],
                )
            )
    if counted(b_rows) and counted(n_rows):
        why = counts_incomparable(b_rows, n_rows)
        for metric in COUNT_METRICS:
            base, new = paired_values(ok, metric)
            if base:
                out.append(_Speed(case, metric, base, new, s["max_instructions"], 0.0, why, left_out))
    return out


def compare_paired(
    frame: pd.DataFrame,
    *,
    max_slowdown: float = 1.10,
    max_accuracy_drop: float = 0.1,
    alpha: float = 0.05,
    time_resolution: float = 0.05,
    max_instructions: float = 1.01,
    correction: str = "bonferroni",
    margin: float | None = None,
    run_seconds: Sequence[float] | None = None,
    mode: str = "interleave",
) -> PairedComparison:
    """Judge the rounds of an A/B run case by case (see the module's docstring).

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows of ``mnist-classic ab`` (from :func:`~mnist_classic.analysis.runs.load_runs`: with ``_source``).
    max_slowdown : float, default=1.10
        A geometric-mean time ratio NEW/BASE above this, whose interval lies above 1, is ``worse``.
    max_accuracy_drop : float, default=0.1
        Points of accuracy lost beyond which a significant McNemar test is ``worse``.
    alpha : float, default=0.05
        Significance level: the intervals are ``1 - alpha`` intervals.
    time_resolution : float, default=0.05
        Seconds; a smaller difference of the two sides' geometric means is not judged.
    max_instructions : float, default=1.01
        The gate on instruction-count ratios where both sides were counted.
    correction : {"bonferroni", "none"}, default="bonferroni"
        ``bonferroni``: the speed verdicts test each of the ``m`` speed metrics
        tested (times and counts of every case, save those shown only, of one
        round, or whose sides differ by less than the resolution) at
        ``alpha / m``, so that an A/A comparison flags any of them with
        probability at most about ``alpha``; the intervals shown stay
        ``1 - alpha`` intervals. ``none``: each at ``alpha``.
    margin : float or None, default=None
        The equivalence margin of the times (``same`` when the ``1 - 2 alpha``
        interval lies inside ``[1/margin, margin]``); None: ``max_slowdown``.
        Counts use ``max_instructions`` as theirs.
    run_seconds : sequence of float, optional
        The wall seconds of the ab's runs (its ``.ab.json`` log): with several
        processes or measurements per round, the cost of a process beyond its
        measurements, for the optimal measurements per process (:mod:`.levels`).
    mode : {"interleave", "duet"}, default="interleave"
        How the ab ran its rounds (its ``.ab.json`` log): a duet's times are
        judged on the duet's busy line, :data:`~.machine.DUET_BUSY_CORES`.

    Returns
    -------
    PairedComparison

    Raises
    ------
    ResultsSchemaError
        No A/B rows, two rows of one side in one round, different payloads or
        test labels, missing predictions.
    ValueError
        A gate parameter out of range.
    """
    from .compare import validate_gate

    validate_gate(max_slowdown, max_accuracy_drop, alpha, time_resolution, max_instructions, margin)
    if correction not in ("bonferroni", "none"):
        msg = f"The 'correction' parameter must be one of bonferroni, none. Got {correction!r} instead."
        raise ValueError(msg)
    if mode not in ("interleave", "duet"):
        msg = f"The 'mode' parameter must be one of interleave, duet. Got {mode!r} instead."
        raise ValueError(msg)
    settings = {
        "max_slowdown": max_slowdown,
        "max_accuracy_drop": max_accuracy_drop,
        "alpha": alpha,
        "time_resolution": time_resolution,
        "max_instructions": max_instructions,
        "interval": f"{100 * (1 - alpha):g}% t interval on the log ratios of the rounds",
        "correction": correction,
        "margin": max_slowdown if margin is None else margin,
        "equivalence": f"{100 * (1 - 2 * alpha):g}% interval inside [1/margin, margin] (two one-sided tests)",
        "mode": mode,
        "busy_cores": busy_line(duet=mode == "duet"),
    }
    items: list[PairedRow | _Speed] = []
    levels: list[Levels] = []
    cases = sorted(pairs(frame).items(), key=lambda kv: tuple(map(str, kv[0])))
    cost = process_cost(frame[frame["side"].isin(["base", "new"])], run_seconds or [])
    for key, rounds in cases:
        case = {"dataset": str(key[0]), "pipeline": str(key[1]), "n_train": int(key[2]), "n_test": int(key[3])}
        rows = _case_rows(case, rounds, settings)
        items.extend(rows)
        levels.extend(_levels(case, rounds, [i.metric for i in rows if isinstance(i, _Speed)], cost))
    family = sum(1 for i in items if isinstance(i, _Speed) and i.judged) if correction == "bonferroni" else 1
    settings["metrics_judged"] = family
    judged = [i.row(1 - alpha, max(family, 1)) if isinstance(i, _Speed) else i for i in items]
    return PairedComparison(rows=judged, settings=settings, levels=levels)


def _levels(
    case: dict[str, Any], rounds: dict[int, dict[str, Side]], metrics: list[str], cost: float | None
) -> list[Levels]:
    """The variance levels of the case's times, when a round holds more than one value of a side."""
    full = complete_rounds(rounds)
    ok = [v[side] for v in full.values() if all_ok(v["base"]) and all_ok(v["new"]) for side in ("base", "new")]
    if not ok or max(len(rows) for rows in ok) == 1:
        return []
    rows = pd.concat(ok)
    label = PairedRow(**case, metric="").case
    times = [m for m in ("fit_time_s", "predict_time_s") if m in metrics]
    return [variance_levels(rows, m, case=label, process_cost_s=cost) for m in times]
