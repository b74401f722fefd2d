"""Reports of result CSVs: a table per dataset, as Markdown, LaTeX (booktabs) or one HTML file.

A row is a case summarized over its repeats: accuracy with a 95% CI, error rate, fit and predict
times, peak memory, the closest published figure (:mod:`mnist_classic.analysis.report.published`) and, against a
reference pipeline, an exact McNemar test on paired predictions. Rows of neural networks also get a table of
their own (:mod:`mnist_classic.analysis.report.neural`), and rows with the deployment columns a cost table
(:mod:`mnist_classic.analysis.report.deployment`). Nothing is re-run.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..._files import atomic_write
from ...results import SELECTION_NOTE, ResultsSchemaError, best_on_test, is_tuned, row_labels
from ..stats import accuracy_interval, mcnemar_exact
from .published import published_reference
from .render import _EN, _NONE, Report, render_html, render_latex, render_markdown
from .tables import ReportTable

if TYPE_CHECKING:  # pandas (and compare, which needs it) load on first use: the CLI's parser stays light
    import pandas as pd

__all__ = ["FORMATS", "Report", "ReportTable", "build_report", "summarize", "write_report"]

#: Output formats and the file each writes in ``--out``.
FORMATS: dict[str, str] = {"md": "report.md", "latex": "report.tex", "html": "report.html"}
GROUP = ["dataset", "n_test", "pipeline", "n_train"]
_SHA = ("sha256_train_images", "sha256_train_labels", "sha256_test_images", "sha256_test_labels")


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One row per case (dataset, n_test, pipeline, n_train) over its repeats.

    Columns: the case, ``k`` (ok repeats), ``total``, ``status`` (``ok`` or the
    failing statuses), ``accuracy`` (mean), ``ci_low``, ``ci_high``,
    ``ci_method``, ``fit_median``/``_min``/``_max``, the same for ``predict``,
    and ``peak_memory_mb`` (median). Pipelines keep their order of first
    appearance; training sizes ascend.
    """
    import pandas as pd

    order = {p: i for i, p in enumerate(dict.fromkeys(df["pipeline"]))}
    records = []
    for key, g in df.groupby(GROUP, sort=False):
        ok = g[g["status"] == "ok"]
        rec: dict[str, Any] = dict(zip(GROUP, key, strict=True))
        rec.update(k=len(ok), total=len(g), status=",".join(sorted(set(g["status"]) - {"ok"})) or "ok")
        if len(ok):
            rec["ci_low"], rec["ci_high"], rec["ci_method"] = accuracy_interval(ok["accuracy"], int(rec["n_test"]))
            rec["accuracy"] = float(ok["accuracy"].mean())
            for col, short in (("fit_time_s", "fit"), ("predict_time_s", "predict")):
                t = ok[col].astype(float)
                rec.update({f"{short}_median": t.median(), f"{short}_min": t.min(), f"{short}_max": t.max()})
            rec["peak_memory_mb"] = ok["peak_memory_mb"].astype(float).median()
            for col in ("fit_instructions", "predict_instructions"):  # run --measure instructions
                rec[f"{col}_median"] = ok[col].astype(float).median() if col in ok else math.nan
            tuned = ok[ok.apply(is_tuned, axis=1)] if "tuned_params" in ok else ok.iloc[:0]
            if len(tuned):  # run --tune: the validation accuracy beside the test's
                rec["validation_accuracy"] = float(tuned["validation_accuracy"].astype(float).mean())
                rec["tuned_params"] = str(tuned["tuned_params"].iloc[0])
        records.append(rec)
    times = [f"{s}_{m}" for s in ("fit", "predict") for m in ("median", "min", "max")]
    counts = ["fit_instructions_median", "predict_instructions_median"]
    stats = ["k", "total", "status", "accuracy", "ci_low", "ci_high", "ci_method", "peak_memory_mb", *times, *counts]
    stats += ["validation_accuracy", "tuned_params"]
    out = pd.DataFrame.from_records(records, columns=[*GROUP, *stats])
    out["_order"] = out["pipeline"].map(order)
    return out.sort_values(["dataset", "n_test", "_order", "n_train"], kind="stable").reset_index(drop=True)


def _versus(df: pd.DataFrame, reference: str, alpha: float) -> dict[tuple[Any, ...], str]:
    """The McNemar cell of every case that has a reference case of the same dataset, n_test and n_train."""

    ok = df[df["status"] == "ok"]
    cells: dict[tuple[Any, ...], str] = {}
    for key, g in ok.groupby(GROUP, sort=False):
        dataset, n_test, pipeline, n_train = key
        ref = ok[(ok["dataset"] == dataset) & (ok["n_test"] == n_test) & (ok["n_train"] == n_train)]
        ref = ref[ref["pipeline"] == reference]
        if ref.empty or pipeline == reference:
            cells[key] = "" if ref.empty else "reference"
            continue
        seeds = sorted(set(g["seed"]) & set(ref["seed"]))
        a = g[g["seed"] == seeds[0]].iloc[0] if seeds else g.iloc[0]
        b = ref[ref["seed"] == seeds[0]].iloc[0] if seeds else ref.iloc[0]
        if a["truth_sha256"] != b["truth_sha256"]:
            msg = f"Cannot test {pipeline} against {reference}: the runs used different test labels (truth_sha256)"
            raise ResultsSchemaError(msg)
        truth = row_labels(a, "truth_sha256")
        right_a, right_b = row_labels(a, "predictions_sha256") == truth, row_labels(b, "predictions_sha256") == truth
        p = mcnemar_exact(int(np.sum(right_b & ~right_a)), int(np.sum(~right_b & right_a)))
        diff = 100 * (float(right_a.mean()) - float(right_b.mean()))
        cells[key] = f"{diff:+.2f} pt, p = {p:.2g}" + (" *" if p < alpha else "")
    return cells


_ENV = (
    "mnist-classic {suite_version} (commit {git_commit}); Python {python_version}, NumPy {numpy_version}, "
    "SciPy {scipy_version}, scikit-learn {sklearn_version}; engine {engine} {engine_version}; "
    "{blas}, {blas_threads} BLAS threads; "
    "{cpu_model}, {cpu_count} CPUs; {platform}; command: {command}"
)


def _environment(df: pd.DataFrame) -> list[str]:
    """One line per run: its cases, code, library versions, BLAS, CPU and command (``?`` where missing)."""
    lines = []
    for run_id, g in df.groupby("run_id", sort=False):
        fields = {
            str(k): ("?" if math.isnan(v) else int(v)) if isinstance(v, float) else v for k, v in g.iloc[0].items()
        }
        lines.append(f"run {run_id}: {len(g)} cases; " + _ENV.format_map(defaultdict(lambda: "?", fields)))
    return lines


def build_report(df: pd.DataFrame, *, reference: str | None = None, alpha: float = 0.05) -> Report:
    """Summarize result rows (from :func:`~mnist_classic.analysis.runs.load_runs`) into report tables.

    Parameters
    ----------
    df : pandas.DataFrame
        Result rows with a ``_source`` column (the CSV each came from).
    reference : str or None, default=None
        A configured pipeline name; every other case of the same dataset,
        n_test and n_train is tested against it (exact McNemar).
    alpha : float, default=0.05
        Significance level of that test's marker.

    Raises
    ------
    ValueError
        Unknown ``reference`` or ``alpha`` outside (0, 1).
    ResultsSchemaError
        Runs of one dataset on different payloads, or missing predictions.
    """
    if not 0 < alpha < 1:
        msg = f"The 'alpha' parameter must be in (0, 1). Got {alpha!r} instead."
        raise ValueError(msg)
    if reference is not None and reference not in set(df.loc[df["status"] == "ok", "pipeline"]):
        names = ", ".join(dict.fromkeys(df["pipeline"]))
        msg = f"The 'reference' parameter must name a pipeline with ok rows: one of {names}. Got {reference!r} instead."
        raise ValueError(msg)
    for dataset, g in df.groupby("dataset"):
        if len(g[list(_SHA)].drop_duplicates()) > 1:
            msg = f"The runs of {dataset} used different dataset payloads (sha256_* columns); report them separately"
            raise ResultsSchemaError(msg)
    from ..significance import canonical_rows

    everything, df = df, canonical_rows(df)  # rows of run --splits: in the significance section only
    versus = _versus(df, reference, alpha) if reference else {}
    keys: Any
    sources = list(dict.fromkeys(map(str, everything["_source"])))
    report = Report([], reference, alpha, sources, _environment(everything))
    for keys, s in summarize(df).groupby(["dataset", "n_test"], sort=False):
        table = ReportTable(f"{keys[0]}: {keys[1]:,} test images", cast(list[dict[str, Any]], s.to_dict("records")))
        for rec in table.data:
            rec["published"] = published_reference(rec["pipeline"], rec["dataset"], rec["n_train"], rec["n_test"])
            rec["versus"] = versus.get(tuple(rec[c] for c in GROUP), "")
        _fill_cells(table, report)
        report.tables.append(table)
    # matplotlib stays unimported: neural and deployment import figures, which imports it lazily
    from .deployment import cost_tables
    from .neural import neural_tables
    from .significant import significance_tables

    report.tables += cost_tables(df)
    report.tables += neural_tables(df)
    report.significance = significance_tables(everything, alpha)

    from .tuning import tuning_tables

    report.tables += tuning_tables(df)
    return report


# --- rendering: cells as plain text, escaped by each format -------------------------------------------------------


_PUBLISHED_NOTE = (
    "published error %: the closest published result for the pipeline's family, on the standard 60,000 / 10,000 "
    "split, shown on the rows that use that split:"
)


def _seconds(x: float) -> str:
    return f"{x:.0f}" if x >= 100 else f"{x:.3g}" if x >= 0.01 else f"{x:.2g}"


def _fill_cells(table: ReportTable, report: Report) -> None:
    """Header, rows and notes as plain text (Unicode dashes; each renderer escapes)."""
    refs = list(dict.fromkeys(r["published"] for r in table.data if r["published"] is not None))
    counted = any(r["k"] and not math.isnan(r.get("fit_instructions_median", math.nan)) for r in table.data)
    tuned = any(is_tuned(r) for r in table.data)
    best = best_on_test(table.data)
    table.head = ["pipeline", "n_train", "k", "accuracy % [95% CI]", "CI", "error %", "fit s", "predict s", "peak MiB"]
    table.head[4:4] = ["validation %"] * tuned
    table.head += ["fit M instr", "predict M instr"] * counted
    table.head += ["published error %"] * bool(refs) + [f"vs {report.reference}"] * bool(report.reference)
    for i, r in enumerate(table.data):
        name = r["pipeline"] + (f" (best of {best[i]} on the test set)" if i in best else "")
        cells = [name, f"{r['n_train']:,}", f"{r['k']}" + (f"/{r['total']}" if r["k"] < r["total"] else "")]
        if r["k"]:
            acc = f"{100 * r['accuracy']:.2f} [{100 * r['ci_low']:.2f}, {100 * r['ci_high']:.2f}]"
            cells.append(acc)
            if tuned:
                cells.append(f"{100 * r['validation_accuracy']:.2f}" if is_tuned(r) else _NONE)
            cells += [r["ci_method"], f"{100 * (1 - r['accuracy']):.2f}"]
            for s in ("fit", "predict"):
                spread = f" ({_seconds(r[f'{s}_min'])}{_EN}{_seconds(r[f'{s}_max'])})" if r["k"] > 1 else ""
                cells.append(_seconds(r[f"{s}_median"]) + spread)
            cells.append(_NONE if math.isnan(r["peak_memory_mb"]) else f"{r['peak_memory_mb']:.0f}")
            if counted:
                for col in ("fit_instructions_median", "predict_instructions_median"):
                    cells.append(_NONE if math.isnan(r[col]) else f"{r[col] / 1e6:,.1f}")
        else:
            cells += [r["status"], *[_NONE] * (5 + 2 * counted + tuned)]
        if refs:
            pub = r["published"]
            cells.append(_NONE if pub is None else f"{pub.test_error_pct:g} [{refs.index(pub) + 1}]")
        table.rows.append(cells + [r["versus"] or _NONE] * bool(report.reference))
    table.notes = [
        f"accuracy: mean over the k ok repeats, with a 95% confidence interval: Wilson score interval on the "
        f"{table.data[0]['n_test']:,} test images (CI = Wilson) for one repeat or repeats of equal accuracy, otherwise "
        "Student's t-interval across the k seeds (CI = t).",
        f"fit s, predict s: wall-clock seconds, median over repeats, (min{_EN}max) when k > 1; "
        "peak MiB: median peak resident memory.",
    ]
    table.notes += [
        "fit M instr, predict M instr: millions of instructions counted under valgrind's callgrind on one thread "
        "(run --measure instructions), median over repeats; the seconds of those rows were measured under valgrind, "
        "many times slower than native."
    ] * counted
    table.notes += [
        "validation %: a tuned case's (run --tune) chosen candidate scored on validation data carved from the "
        "training set; its accuracy is the test set's, predicted once (see the tuned cases' table for budgets)."
    ] * tuned
    table.notes += [SELECTION_NOTE] * bool(best)
    table.notes += [_PUBLISHED_NOTE] * bool(refs) + [f"[{i}] {p.footnote}" for i, p in enumerate(refs, 1)]
    table.notes += [
        f"vs {report.reference}: accuracy difference in points and exact McNemar p-value on the paired per-image "
        f"predictions (same n_train; lowest common seed); * marks p < {report.alpha:g}."
    ] * bool(report.reference)


def write_report(
    df: pd.DataFrame,
    out: str | os.PathLike[str],
    *,
    formats: Sequence[str] = tuple(FORMATS),
    reference: str | None = None,
    alpha: float = 0.05,
    figures: bool = True,
    figure_formats: Sequence[str] = ("png", "svg"),
    data_dir: str | None = None,
    data_home: str | None = None,
    explore: bool = False,
) -> list[Path]:
    """Write the report files (and figures) of result rows into the folder ``out``.

    Parameters
    ----------
    df : pandas.DataFrame
        Result rows from :func:`~mnist_classic.analysis.runs.load_runs`.
    out : path-like
        Output folder, created if absent.
    formats : sequence of {"md", "latex", "html"}, default=all
    reference, alpha
        See :func:`build_report`.
    figures : bool, default=True
        Also draw the figures (needs matplotlib) into ``out/figures``.
    figure_formats : sequence of {"png", "svg"}, default=("png", "svg")
    data_dir, data_home : str or None
        Where the dataset's images are, for the misclassified-digit gallery
        (and the explorer).
    explore : bool, default=False
        Also write the explorer of predictions (:func:`~mnist_classic.explore`),
        one page per test set, beside the report. The Markdown and HTML
        reports link every ``explore*.html`` page in ``out``, written now or before.

    Returns
    -------
    list of pathlib.Path
        Every file written: explorer pages, figures, then the reports.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        msg = f"The '--out' option must be a folder (created if absent). Got the file {out} instead."
        raise ValueError(msg)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        msg = f"The 'formats' parameter takes {', '.join(FORMATS)}. Got {unknown[0]!r} instead."
        raise ValueError(msg)
    report = build_report(df, reference=reference, alpha=alpha)
    pages: list[Any] = []  # (file name, payload) of each explorer page, built (and checked) before writing
    if explore:
        from ..explore.explorer import explore_pages
        from ..significance import canonical_rows as canonical_only

        pages = explore_pages(canonical_only(df), data_dir=data_dir, data_home=data_home)
    figs: list[Any] = []  # FigureFile
    if figures:
        from ..significance import canonical_rows
        from .deployment import deployment_figures
        from .figures import write_figures
        from .neural import neural_figures
        from .significant import significance_figures

        canonical = canonical_rows(df)  # a resampled split's test images are not the dataset's test set
        try:
            figs = write_figures(
                canonical,
                summarize(canonical),
                out / "figures",
                formats=figure_formats,
                data_dir=data_dir,
                data_home=data_home,
            )
            figs += deployment_figures(canonical, out / "figures", formats=figure_formats)
            figs += neural_figures(canonical, out / "figures", formats=figure_formats)
            figs += significance_figures(df, out / "figures", figure_formats, alpha)
            from .tuning import tuning_figures

            figs += tuning_figures(canonical, out / "figures", formats=figure_formats)
        except ImportError as exc:
            raise ValueError(f"{exc}, or pass --no-figures") from None
    written = [p for f in figs for p in f.paths]
    if pages:
        from ..explore.explorer import write_pages

        written = write_pages(pages, out) + written
    out.mkdir(parents=True, exist_ok=True)
    report.explorers = sorted(p.name for p in out.glob("explore*.html"))
    for name in formats:
        path = out / FORMATS[name]
        exts = ("png",) if name == "latex" else ("png", "svg")  # pdflatex includes PNG, not SVG
        items = [(f.title, f.caption, p) for f in figs if (p := next(filter(None, map(f.path, exts)), None))]
        if name == "html":
            text = render_html(report, items)
        else:
            rel = [(t, c, p.relative_to(out).as_posix()) for t, c, p in items]
            text = render_markdown(report, rel) if name == "md" else render_latex(report, rel)
        _write_text(path, text)
        written.append(path)
    return written


def _write_text(path: Path, text: str) -> None:
    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    atomic_write(path, write)
