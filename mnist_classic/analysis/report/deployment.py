"""What a deployment asks of each case: a cost table, accuracy against one-image latency, reliability diagrams.

From the deployment columns of ok rows (``model_bytes``, ``latency_ms_p50``,
``latency_ms_p99``, ``macs``, ``n_params``, ``log_loss``, ``ece``, ``brier``)
and the probabilities in the predictions sidecar; nothing is re-run:

- a cost table per dataset and test size: accuracy, model size, one-image
  latency (median and 99th percentile), multiply-adds, parameters and the
  quality of the probabilities, each the median over a case's ok repeats;
- accuracy against one-image median latency (log axis, bars to the 99th
  percentile) with the Pareto front (:func:`~.figures.pareto_front`);
- a reliability diagram per case with probabilities (top-label accuracy
  against confidence in 15 equal-width bins, the row of the lowest seed).

Rows written before these columns existed have none of them: no table or
figure is made from them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ...measure.calibration import ECE_BINS, reliability
from ...results import ResultsSchemaError, row_labels, row_probabilities
from ..plotting import FigureFile, new_figure, palette, save_figure, test_sets
from .figures import pareto_front
from .tables import ReportTable

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COST_COLUMNS",
    "cost_cases",
    "cost_tables",
    "deployment_figures",
    "latency_pareto_figure",
    "reliability_figure",
]

logger = logging.getLogger(__name__)

#: The columns of the cost table, each summarized by its median over a case's ok repeats.
COST_COLUMNS: tuple[str, ...] = (
    "model_bytes",
    "latency_ms_p50",
    "latency_ms_p99",
    "macs",
    "n_params",
    "log_loss",
    "ece",
    "brier",
)
_CASE = ["dataset", "n_test", "pipeline", "n_train"]
_DASH = "\N{EM DASH}"


def cost_cases(df: pd.DataFrame) -> pd.DataFrame:
    """One row per case with any deployment figure: mean ``accuracy``, ``k`` ok repeats and the median of each
    of :data:`COST_COLUMNS`; ``row`` is the ok row of the lowest seed (for its probabilities). Empty without any."""
    import pandas as pd

    present = [c for c in COST_COLUMNS if c in df.columns]
    if not present:
        return pd.DataFrame()
    ok = df[df["status"] == "ok"]
    ok = ok[ok[[c for c in present if c != "n_params"]].notna().any(axis=1)] if len(present) > 1 else ok.iloc[:0]
    records = []
    for key, g in ok.groupby(_CASE, sort=False):
        rec: dict[str, Any] = dict(zip(_CASE, key, strict=True))
        rec.update(k=len(g), accuracy=float(g["accuracy"].mean()))
        for col in COST_COLUMNS:
            values = g[col].astype(float) if col in g else pd.Series(dtype=float)
            rec[col] = float(values.median()) if values.notna().any() else math.nan
        rec["row"] = g.sort_values("seed", kind="stable").iloc[0].to_dict()
        records.append(rec)
    return pd.DataFrame.from_records(records, columns=[*_CASE, "k", "accuracy", *COST_COLUMNS, "row"])


def _scaled(n: float, units: tuple[str, str, str, str]) -> str:
    """``n`` to 3 significant digits in the largest unit it reaches once rounded (999,550 is ``1 M``, not ``1e+03 k``).

    ``units``: the names of 1, 10^3, 10^6 and 10^9.
    """
    if math.isnan(n):
        return _DASH
    rounded = float(f"{n:.3g}")
    for unit, size in zip(units[:0:-1], (1e9, 1e6, 1e3), strict=True):
        if rounded >= size:
            return f"{rounded / size:.3g} {unit}"
    return f"{n:.0f} {units[0]}".rstrip()


def _bytes(n: float) -> str:
    """Examples: ``_bytes(51362)`` is ``'51.4 kB'``, ``_bytes(999_999)`` is ``'1 MB'``."""
    return _scaled(n, ("B", "kB", "MB", "GB"))


def _count(n: float) -> str:
    """Examples: ``_count(999_550)`` is ``'1 M'``, ``_count(9418)`` is ``'9.42 k'``, ``_count(512)`` is ``'512'``."""
    return _scaled(n, ("", "k", "M", "G"))


def _num(x: float, fmt: str) -> str:
    return _DASH if math.isnan(x) else format(x, fmt)


def cost_tables(df: pd.DataFrame) -> list[ReportTable]:
    """The cost table of each dataset and test size with deployment figures (none for older rows)."""
    cases = cost_cases(df)
    tables: list[ReportTable] = []
    if cases.empty:
        return tables
    keys: Any
    for keys, g in cases.groupby(["dataset", "n_test"], sort=False):
        records = cast(list[dict[str, Any]], g.drop(columns="row").to_dict("records"))
        table = ReportTable(f"{keys[0]}: what a deployment costs, {keys[1]:,} test images", records)
        table.head = ["pipeline", "n_train", "k", "accuracy %", "model size", "p50 ms", "p99 ms", "MACs", "params"]
        table.head += ["log-loss", "ECE", "Brier"]
        table.left_columns = {0}
        for r in table.data:
            table.rows.append(
                [
                    r["pipeline"],
                    f"{r['n_train']:,}",
                    str(r["k"]),
                    f"{100 * r['accuracy']:.2f}",
                    _bytes(r["model_bytes"]),
                    _num(r["latency_ms_p50"], ".3g"),
                    _num(r["latency_ms_p99"], ".3g"),
                    _count(r["macs"]),
                    _count(r["n_params"]),
                    _num(r["log_loss"], ".4f"),
                    _num(r["ece"], ".4f"),
                    _num(r["brier"], ".4f"),
                ]
            )
        table.notes = [
            "model size: the fitted estimator pickled (protocol 5), or a network's state dict saved by torch.save; "
            "p50 ms, p99 ms: median and 99th percentile of predict on one test image at a time, on one thread, over "
            "the run's --latency sample (a fixed seeded sample of test images, after 10 untimed calls).",
            "MACs: multiply-accumulates of one forward pass of a network on one image (torch's FlopCounterMode, "
            "matrix products, convolutions and attention; FLOPs / 2); params: a network's trainable parameters, or "
            "a classical model's learned numbers where meaningful (coefficients, support vectors x features, tree "
            "nodes).",
            f"log-loss (natural log), ECE (top-label, {ECE_BINS} equal-width bins) and Brier (sum over classes): "
            "from predict_proba on the test set; empty for estimators without it. Each column: the median over the "
            "k ok repeats; accuracy: their mean.",
        ]
        tables.append(table)
    return tables


def latency_pareto_figure(cases: pd.DataFrame, title: str = "") -> Any:
    """Accuracy against one-image median latency (log axis, bars to p99); the Pareto front as a dashed step line."""
    s = cases[cases["latency_ms_p50"].astype(float) > 0]
    fig = new_figure(8.5, 4.8)
    ax = fig.add_subplot()
    colors = palette(list(dict.fromkeys(s["pipeline"])))
    several = s["n_train"].nunique() > 1
    for _, r in s.iterrows():
        x, y = float(r["latency_ms_p50"]), 100 * float(r["accuracy"])
        p99 = float(r["latency_ms_p99"]) if not math.isnan(r["latency_ms_p99"]) else x
        ax.errorbar([x], [y], xerr=[[0.0], [max(p99 - x, 0.0)]], fmt="none", ecolor=colors[r["pipeline"]], alpha=0.5)
        ax.scatter([x], [y], s=40, color=colors[r["pipeline"]], zorder=3)
        label = f"{r['pipeline']}" + (f" ({r['n_train']:,})" if several else "")
        ax.annotate(label, (x, y), xytext=(5, 4), textcoords="offset points", fontsize=8)
    front = s[pareto_front(s["latency_ms_p50"], s["accuracy"])].sort_values("latency_ms_p50")
    fx, fy = front["latency_ms_p50"].to_numpy(dtype=float), 100 * front["accuracy"].to_numpy(dtype=float)
    if len(fx):
        ax.step(np.append(fx, fx[-1] * 3), np.append(fy, fy[-1]), where="post", color="black", ls="--", lw=1.2)
        ax.scatter(fx, fy, s=160, facecolors="none", edgecolors="black", lw=1.2, zorder=4, label="Pareto front")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xscale("log")
    ax.set_xlabel("one-image latency (ms, log scale; median, bar to the 99th percentile)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(f"{title}{': ' if title else ''}accuracy versus one-image latency", fontsize=10)
    return fig


def reliability_figure(panels: Sequence[tuple[str, Any]], title: str = "") -> Any:
    """One reliability diagram per ``(label, Reliability)``: accuracy per confidence bin against the diagonal."""
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = new_figure(3.4 * cols, 3.3 * rows + 0.4)
    for i, (label, rel) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        width = np.diff(rel.edges)
        used = rel.count > 0
        mids = rel.edges[:-1] + width / 2
        ax.bar(mids[used], rel.accuracy[used], width=width[used], color="tab:blue", alpha=0.75, edgecolor="white",
               label="accuracy")  # fmt: skip
        ax.vlines(mids[used], rel.accuracy[used], rel.confidence[used], color="firebrick", lw=1.5)
        ax.plot(mids[used], rel.confidence[used], "o", ms=3, color="firebrick", label="mean confidence")
        ax.plot([0, 1], [0, 1], color="black", ls="--", lw=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (top-label probability)", fontsize=8)
        ax.set_ylabel("accuracy", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title(f"{label}\nECE {rel.ece:.4f}", fontsize=8)
        if i == 0:
            ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{title}{': ' if title else ''}reliability ({ECE_BINS} equal-width bins)", fontsize=10)
    return fig


def deployment_figures(
    df: pd.DataFrame, folder: str | Path, formats: Sequence[str] = ("png", "svg")
) -> list[FigureFile]:
    """Per dataset and test size: accuracy against latency with its Pareto front, and the reliability diagrams."""
    cases = cost_cases(df)
    out: list[FigureFile] = []
    if cases.empty:
        return out
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for _dataset, _n_test, stem, where, g in test_sets(cases):
        if (g["latency_ms_p50"].astype(float) > 0).any():
            cap = (
                "Each case's test accuracy against the median milliseconds of predict on one image (bar to the 99th "
                "percentile); circled points, joined by the dashed step line, are the Pareto front: no other case "
                "answers one image faster and is more accurate."
            )
            fig = latency_pareto_figure(g, where)
            out.append(save_figure(fig, folder, f"latency-{stem}", formats, "Accuracy versus one-image latency", cap))
        panels = []
        for _, r in g.iterrows():
            try:
                stored = row_probabilities(r["row"])
                if stored is None:
                    continue
                truth = row_labels(r["row"], "truth_sha256")
            except ResultsSchemaError as exc:
                logger.warning("no reliability diagram for %s: %s", r["pipeline"], exc)
                continue
            label = f"{r['pipeline']} (n_train={r['n_train']:,})"
            panels.append((label, reliability(stored[0], stored[1], truth)))
        if panels:
            cap = (
                "Per case with probabilities (the row of the lowest seed): the accuracy of the test images whose top "
                f"probability falls in each of {ECE_BINS} equal-width bins; the dashed diagonal is perfect "
                "calibration; a red point is the bin's mean confidence, joined to its bar: bars below their point are "
                "over-confident, above under-confident."
            )
            fig = reliability_figure(panels, where)
            out.append(save_figure(fig, folder, f"reliability-{stem}", formats, "Reliability diagrams", cap))
    return out
