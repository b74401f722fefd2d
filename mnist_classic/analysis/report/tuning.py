"""The tuned rows of a report (``run --tune``): budgets and protocols, and expected validation accuracy against budget.

A tuned row chose its candidate on validation data (``tuning_scores`` holds every
candidate's validation score). Per case (dataset, test size, pipeline, training
size) the row of the lowest seed is shown:

- a line per tuned case with its search, budget (candidates scored, of the grid)
  and protocol, and one line when the cases of one table were tuned with
  different budgets or protocols;
- Dodge et al.'s (EMNLP 2019) expected best validation accuracy after n
  candidates drawn at random, n = 1..N, as a table and a figure (one line per
  method): whether a method's lead would survive a smaller or larger budget.
  Halving's scores are on subsamples of different sizes and are left out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...results import is_tuned
from ..plotting import FigureFile, new_figure, palette, save_figure, slug
from ..stats import expected_max
from .tables import ReportTable

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["budget_notes", "expected_max_figure", "tuned_cases", "tuning_figures", "tuning_tables"]

_CASE = ["dataset", "n_test", "pipeline", "n_train"]


def _record(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def tuned_cases(df: pd.DataFrame) -> list[dict[str, Any]]:
    """One record per tuned case (ok rows with ``tuned_params``; the lowest seed), with its search read back.

    Keys: the case, ``seed``, ``accuracy``, ``validation_accuracy``,
    ``candidates`` (scored), ``grid``, ``search``, ``budget`` (a label),
    ``protocol`` (``validation`` without its seed), ``chosen`` and ``scores``
    (the validation scores of the candidates at full size; empty for halving).
    """
    if "tuned_params" not in df or df.empty:
        return []
    rows = df[(df["status"] == "ok") & df.apply(is_tuned, axis=1)]
    out = []
    for _, g in rows.sort_values("seed", kind="stable").groupby(_CASE, sort=False):
        r = g.iloc[0]
        record = _record(r.get("tuning_scores"))
        entries = record.get("candidates", [])
        halving = "n_resources" in (entries[0] if entries else {})
        scored = int(r["tuning_candidates"]) if not math.isnan(float(r["tuning_candidates"])) else len(entries)
        budget = f"{scored} of {record.get('grid', scored)} candidates"
        if halving:
            budget = (
                f"{record.get('full_fits', '?')} full-size fits ({scored} of {record.get('grid', scored)} candidates)"
            )
        out.append(
            {
                **{c: r[c] for c in _CASE},
                "seed": int(r["seed"]),
                "accuracy": float(r["accuracy"]),
                "validation_accuracy": float(r["validation_accuracy"]),
                "candidates": scored,
                "grid": record.get("grid", scored),
                "search": str(record.get("search", "?")),
                "budget": budget,
                "protocol": str(r.get("validation", "")).rpartition(":seed=")[0] or str(r.get("validation", "")),
                "chosen": str(record.get("chosen", r["tuned_params"])),
                "scores": [] if halving else [e["score"] for e in entries if e.get("score") is not None],
            }
        )
    return out


def budget_notes(cases: Sequence[dict[str, Any]]) -> list[str]:
    """A line per tuned case (search, budget, protocol), and one saying when they differ within a table's cases."""
    lines = [
        f"tuned {c['pipeline']} (n_train {c['n_train']:,}): {c['search']}, {c['budget']}, validation {c['protocol']}, "
        f"chose {c['chosen']}"
        for c in cases
    ]
    by_size: dict[Any, set[tuple[str, str]]] = {}
    for c in cases:
        by_size.setdefault(c["n_train"], set()).add((c["budget"].split(" of ")[0] + " " + c["search"], c["protocol"]))
    differ = [n for n, s in by_size.items() if len(s) > 1]
    if differ:
        lines.append(
            "Not an equal footing: the tuned methods compared at n_train "
            + ", ".join(f"{n:,}" for n in differ)
            + " were tuned with different budgets or protocols (above); give them one --budget and one --validation "
            "or --cv to compare them fairly."
        )
    return lines


def _budgets(n_max: int) -> list[int]:
    """The budgets shown: every n up to 8, else powers of two and N."""
    if n_max <= 8:
        return list(range(1, n_max + 1))
    return sorted({*(2**i for i in range(int(math.log2(n_max)) + 1)), n_max})


def tuning_tables(df: pd.DataFrame) -> list[ReportTable]:
    """Per dataset and test size, the tuned cases: validation and test side by side, and E[max validation] by budget."""
    cases = tuned_cases(df)
    tables: list[ReportTable] = []
    groups: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for c in cases:
        groups.setdefault((c["dataset"], c["n_test"]), []).append(c)
    for (dataset, n_test), group in groups.items():
        n_max = max([len(c["scores"]) for c in group] + [1])
        budgets = _budgets(n_max)
        table = ReportTable(f"{dataset}: tuned cases, {int(n_test):,} test images", group)
        table.head = ["pipeline", "n_train", "search", "budget", "validation", "validation %", "test %"]
        table.head += [f"E[max val %] n={n}" for n in budgets]
        table.left_columns = {0, 2, 3, 4}
        for c in group:
            curve = expected_max(c["scores"]) if c["scores"] else np.array([])
            cells = [c["pipeline"], f"{c['n_train']:,}", c["search"], c["budget"], c["protocol"]]
            cells += [f"{100 * c['validation_accuracy']:.2f}", f"{100 * c['accuracy']:.2f}"]
            cells += [f"{100 * curve[n - 1]:.2f}" if n <= len(curve) else "\u2014" for n in budgets]
            table.rows.append(cells)
        table.notes = [
            "validation %: the chosen candidate's score on validation data carved from the training set only; test %: "
            "the chosen candidate, refitted on the whole training set, scored once on the test set.",
            "E[max val %] n=k: the expected best validation accuracy after k candidates drawn at random from those "
            "scored (Dodge et al., EMNLP 2019, with replacement from their empirical distribution): if a method leads "
            "only at large k, its lead comes from a larger tuning budget. \u2014: more than the candidates scored; "
            "halving's scores, on subsamples, are left out.",
            *budget_notes(group),
        ]
        tables.append(table)
    return tables


def expected_max_figure(cases: Sequence[dict[str, Any]], title: str = "") -> Any:
    """Expected best validation accuracy against the number of candidates, one line per tuned case."""
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    names = [f"{c['pipeline']} (n_train {c['n_train']:,})" for c in cases]
    colors = palette(names)
    for name, c in zip(names, cases, strict=True):
        curve = expected_max(c["scores"])
        ax.plot(range(1, len(curve) + 1), 100 * curve, marker="o", ms=3, color=colors[name], label=name)
    ax.set_xlabel("candidates drawn at random (budget)")
    ax.set_ylabel("expected best validation accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"{title}{': ' if title else ''}expected validation accuracy against budget", fontsize=10)
    return fig


def tuning_figures(df: pd.DataFrame, folder: str | Path, formats: Sequence[str] = ("png", "svg")) -> list[FigureFile]:
    """The expected-max figure per dataset and test size (none without tuned rows that have scores)."""
    cases = [c for c in tuned_cases(df) if c["scores"]]
    out: list[FigureFile] = []
    if not cases:
        return out
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    groups: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for c in cases:
        groups.setdefault((str(c["dataset"]), int(c["n_test"])), []).append(c)
    for (dataset, n_test), group in groups.items():
        several = len({k for k in groups if k[0] == dataset}) > 1
        stem = slug(dataset) + (f"-test{n_test}" if several else "")
        cap = (
            "Expected best validation accuracy after n candidates drawn at random from those each tuned case scored "
            "(Dodge et al., EMNLP 2019): a method whose line is above the others at every budget leads however much "
            "tuning it gets."
        )
        fig = expected_max_figure(group, f"{dataset}, {n_test:,} test images")
        out.append(
            save_figure(fig, folder, f"tuning-budget-{stem}", formats, "Validation accuracy against budget", cap)
        )
    return out
