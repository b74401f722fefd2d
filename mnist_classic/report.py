"""Reports of result CSVs: a table per dataset, as Markdown, LaTeX (booktabs) or one HTML file.

A row is a case summarized over its repeats: accuracy with a 95% CI, error rate, fit and predict
times, peak memory, the closest published figure (:mod:`mnist_classic.published`) and, against a
reference pipeline, an exact McNemar test on paired predictions. Nothing is re-run.
"""

from __future__ import annotations

import argparse
import base64
import html
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike

from .published import published_reference
from .results import ResultsSchemaError

if TYPE_CHECKING:  # pandas (and compare, which needs it) load on first use: the CLI's parser stays light
    import pandas as pd

__all__ = ["FORMATS", "Report", "ReportTable", "accuracy_interval", "build_report", "summarize"]
__all__ += ["add_report_parser", "cmd_report", "latex_escape", "render_html", "render_latex", "render_markdown"]

#: Output formats and the file each writes in ``--out``.
FORMATS: dict[str, str] = {"md": "report.md", "latex": "report.tex", "html": "report.html"}
GROUP = ["dataset", "n_test", "pipeline", "n_train"]
_SHA = ("sha256_train_images", "sha256_train_labels", "sha256_test_images", "sha256_test_labels")
_EN, _NONE = "\N{EN DASH}", "\N{EM DASH}"  # ranges; empty cells


def accuracy_interval(accuracies: ArrayLike, n_test: int, confidence: float = 0.95) -> tuple[float, float, str]:
    """A confidence interval for the mean accuracy of one case's repeats.

    Parameters
    ----------
    accuracies : array-like of float
        The accuracy (fraction) of each repeat; at least one.
    n_test : int
        Test images each accuracy was measured on.
    confidence : float, default=0.95

    Returns
    -------
    low, high : float
    method : {"Wilson", "t"}
        ``Wilson`` (score interval on ``n_test`` images) for one repeat or
        repeats with equal accuracies, else ``t`` (Student, across repeats).

    Examples
    --------
    >>> lo, hi, how = accuracy_interval([0.9837], 10000)
    >>> f"{100 * lo:.2f} {100 * hi:.2f} {how}"
    '98.10 98.60 Wilson'
    """
    acc = np.asarray(accuracies, dtype=float)
    if acc.size == 0 or n_test < 1:
        msg = f"The 'accuracies' parameter must hold at least one value and 'n_test' be >= 1. Got {acc.size}, {n_test}."
        raise ValueError(msg)
    mean = float(acc.mean())
    if acc.size == 1 or float(np.ptp(acc)) == 0.0:
        from .compare import wilson_interval

        return (*wilson_interval(round(mean * n_test), n_test, confidence), "Wilson")
    from scipy.stats import t

    half = float(t.ppf(0.5 + confidence / 2, acc.size - 1)) * float(acc.std(ddof=1)) / math.sqrt(acc.size)
    return max(0.0, mean - half), min(1.0, mean + half), "t"


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
        records.append(rec)
    times = [f"{s}_{m}" for s in ("fit", "predict") for m in ("median", "min", "max")]
    stats = ["k", "total", "status", "accuracy", "ci_low", "ci_high", "ci_method", "peak_memory_mb", *times]
    out = pd.DataFrame.from_records(records, columns=[*GROUP, *stats])
    out["_order"] = out["pipeline"].map(order)
    return out.sort_values(["dataset", "n_test", "_order", "n_train"], kind="stable").reset_index(drop=True)


@dataclass
class ReportTable:
    """One dataset and test size: the summary rows, and the same as text cells with notes, ready to render."""

    title: str  # mnist: 10,000 test images
    data: list[dict[str, Any]]
    head: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def left(self) -> set[int]:
        """Left-aligned columns: pipeline, CI method and the McNemar column; numbers align right."""
        return {0, 4} | ({len(self.head) - 1} if self.head[-1].startswith("vs ") else set())


@dataclass
class Report:
    """The tables, the options they were built with, the result files and one line per run's environment."""

    tables: list[ReportTable]
    reference: str | None = None
    alpha: float = 0.05
    sources: list[str] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)


def _versus(df: pd.DataFrame, reference: str, alpha: float) -> dict[tuple[Any, ...], str]:
    """The McNemar cell of every case that has a reference case of the same dataset, n_test and n_train."""
    from .compare import mcnemar_exact
    from .results import row_labels

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
    "SciPy {scipy_version}, scikit-learn {sklearn_version}; {blas}, {blas_threads} BLAS threads; "
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
    """Summarize result rows (from :func:`~mnist_classic.compare.load_runs`) into report tables.

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
    versus = _versus(df, reference, alpha) if reference else {}
    keys: Any
    report = Report([], reference, alpha, list(dict.fromkeys(map(str, df["_source"]))), _environment(df))
    for keys, s in summarize(df).groupby(["dataset", "n_test"], sort=False):
        table = ReportTable(f"{keys[0]}: {keys[1]:,} test images", cast(list[dict[str, Any]], s.to_dict("records")))
        for rec in table.data:
            rec["published"] = published_reference(rec["pipeline"], rec["dataset"], rec["n_train"], rec["n_test"])
            rec["versus"] = versus.get(tuple(rec[c] for c in GROUP), "")
        _fill_cells(table, report)
        report.tables.append(table)
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
    table.head = ["pipeline", "n_train", "k", "accuracy % [95% CI]", "CI", "error %", "fit s", "predict s", "peak MiB"]
    table.head += ["published error %"] * bool(refs) + [f"vs {report.reference}"] * bool(report.reference)
    for r in table.data:
        cells = [r["pipeline"], f"{r['n_train']:,}", f"{r['k']}" + (f"/{r['total']}" if r["k"] < r["total"] else "")]
        if r["k"]:
            acc = f"{100 * r['accuracy']:.2f} [{100 * r['ci_low']:.2f}, {100 * r['ci_high']:.2f}]"
            cells += [acc, r["ci_method"], f"{100 * (1 - r['accuracy']):.2f}"]
            for s in ("fit", "predict"):
                spread = f" ({_seconds(r[f'{s}_min'])}{_EN}{_seconds(r[f'{s}_max'])})" if r["k"] > 1 else ""
                cells.append(_seconds(r[f"{s}_median"]) + spread)
            cells.append(_NONE if math.isnan(r["peak_memory_mb"]) else f"{r['peak_memory_mb']:.0f}")
        else:
            cells += [r["status"], *[_NONE] * 5]
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
    table.notes += [_PUBLISHED_NOTE] * bool(refs) + [f"[{i}] {p.footnote}" for i, p in enumerate(refs, 1)]
    table.notes += [
        f"vs {report.reference}: accuracy difference in points and exact McNemar p-value on the paired per-image "
        f"predictions (same n_train; lowest common seed); * marks p < {report.alpha:g}."
    ] * bool(report.reference)


def render_markdown(report: Report, figures: Sequence[tuple[str, str, str]] = ()) -> str:
    """GitHub-flavoured Markdown: a table per dataset, notes, figures ``(title, caption, relative path)``."""

    def esc(s: str) -> str:
        return s.replace("|", "\\|").replace("*", "\\*")

    out = ["# mnist-classic report", "", *(f"- results: `{s}`" for s in report.sources)]
    for table in report.tables:
        out += ["", f"## {table.title}", "", "| " + " | ".join(table.head) + " |"]
        out.append("|" + "|".join("---" if i in table.left else "---:" for i in range(len(table.head))) + "|")
        out += ["| " + " | ".join([f"`{r[0]}`", *map(esc, r[1:])]) + " |" for r in table.rows]
        out += ["", *(f"{'  - ' if n.startswith('[') else '- '}{esc(n)}" for n in table.notes)]
    for title, caption, path in figures:
        out += ["", f"### {title}", "", f"![{title}]({path})", "", caption]
    out += ["", "## Environment", "", *(f"- {esc(e)}" for e in report.environments)]
    return "\n".join(out) + "\n"


_LATEX = {c: "\\" + c for c in "&%$#_{}"} | {"\\": r"\textbackslash{}", "~": r"\textasciitilde{}", "^": r"\^{}"}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters; dashes become ``--`` and ``---``, a leading minus ``$-$``."""
    out = "".join(_LATEX.get(c, c) for c in text)
    out = out.replace(_EN, "--").replace(_NONE, "---").replace("→", r"$\rightarrow$")
    return re.sub(r"(?<![\w.])-(?=\d)", "$-$", out)  # a minus sign, not a hyphen


_PREAMBLE = r"""\documentclass{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage[landscape,margin=1.5cm]{geometry}
\usepackage{booktabs}
\usepackage{graphicx}
\begin{document}"""


def render_latex(report: Report, figures: Sequence[tuple[str, str, str]] = ()) -> str:
    """A LaTeX document: a booktabs ``tabular`` per dataset (each pastable alone), then the figures (PNG paths)."""
    out = [_PREAMBLE]
    for i, table in enumerate(report.tables):
        spec = "".join("l" if j in table.left else "r" for j in range(len(table.head)))
        out += [f"% --- table {i + 1}: {table.title} (needs \\usepackage{{booktabs}}) ---", r"\begin{table}[htbp]"]
        out += [r"\centering", r"\small", f"\\caption{{{latex_escape(table.title)}}}", f"\\label{{tab:report-{i}}}"]
        rows = [" & ".join(map(latex_escape, r)) + r" \\" for r in [table.head, *table.rows]]
        out += [f"\\begin{{tabular}}{{@{{}}{spec}@{{}}}}", r"\toprule", rows[0], r"\midrule", *rows[1:], r"\bottomrule"]
        out += [r"\end{tabular}", r"\par\smallskip", r"\begin{minipage}{\linewidth}\footnotesize"]
        out += [latex_escape(n) + r"\par" for n in table.notes]
        out += [r"\end{minipage}", r"\end{table}", ""]
    for title, caption, path in figures:
        size = r"width=0.9\linewidth,height=0.75\textheight,keepaspectratio"
        out += [r"\begin{figure}[htbp]", r"\centering", f"\\includegraphics[{size}]{{{path}}}"]
        out += [f"\\caption{{{latex_escape(title)}: {latex_escape(caption)}}}", r"\end{figure}", ""]
    out += [r"\section*{Environment}", r"\begin{itemize}", *(r"\item " + latex_escape(e) for e in report.environments)]
    out += [r"\end{itemize}", r"\end{document}"]
    return "\n".join(out) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{padding:.25em .7em;text-align:right}
th{border-bottom:1px solid #222}thead tr:first-child th{border-top:2px solid #222}
tbody tr:last-child td{border-bottom:2px solid #222}td.l,th.l{text-align:left}code{font-size:.95em}
.note{font-size:.85em;color:#444;margin:.2em 0}figure{margin:1.5em 0}img{max-width:100%;height:auto}
figcaption{font-size:.9em;color:#444}"""


def render_html(report: Report, figures: Sequence[tuple[str, str, str | Path]] = ()) -> str:
    """One self-contained HTML file: inline CSS, figures ``(title, caption, image file)`` embedded as data: URIs."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', '<head><meta charset="utf-8">', "<title>mnist-classic report</title>"]
    out += [f"<style>{_CSS}</style></head>", "<body>", "<h1>mnist-classic report</h1>"]
    out += [f'<p class="note">results: {", ".join(f"<code>{e(s)}</code>" for s in report.sources)}</p>']
    for table in report.tables:
        cls = [' class="l"' if i in table.left else "" for i in range(len(table.head))]
        out += [f"<h2>{e(table.title)}</h2>", "<table>", "<thead><tr>"]
        out += [f"<th{c}>{e(h)}</th>" for c, h in zip(cls, table.head, strict=True)] + ["</tr></thead>", "<tbody>"]
        for r in table.rows:
            cells = [f"<code>{e(r[0])}</code>", *map(e, r[1:])]
            out.append("<tr>" + "".join(f"<td{c}>{v}</td>" for c, v in zip(cls, cells, strict=True)) + "</tr>")
        out += ["</tbody>", "</table>", *(f'<p class="note">{e(n)}</p>' for n in table.notes)]
    for title, caption, path in figures:
        mime = "image/svg+xml" if Path(path).suffix == ".svg" else "image/png"
        data = f"data:{mime};base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")
        img = f'<img src="{data}" alt="{e(title)}">'
        out.append(f"<figure><h3>{e(title)}</h3>{img}<figcaption>{e(caption)}</figcaption></figure>")
    out += ["<h2>Environment</h2>", "<ul>", *(f"<li>{e(x)}</li>" for x in report.environments), "</ul>"]
    return "\n".join([*out, "</body>", "</html>"]) + "\n"


# --- command line --------------------------------------------------------------------------------------------------


def _choices(allowed: Sequence[str], option: str) -> Any:
    def parse(text: str) -> list[str]:
        got = [t.strip() for t in text.split(",") if t.strip()]
        if not got or any(t not in allowed for t in got):
            msg = f"{option} takes {', '.join(allowed)} (comma-separated); got {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return list(dict.fromkeys(got))

    return parse


def add_report_parser(subparsers: Any) -> None:
    """Add the ``report`` subcommand and its options to an argparse subparsers object."""
    p = subparsers.add_parser("report", help="tables (Markdown, LaTeX, HTML) and figures of result CSVs")
    p.add_argument("results", nargs="+", metavar="RESULTS", help="results CSVs, or folders of them")
    fmt = _choices(tuple(FORMATS), "--format")
    p.add_argument(
        "--format", type=fmt, default=list(FORMATS), metavar="FMT[,FMT]", help="md, latex, html (default all)"
    )
    p.add_argument("--out", default="report", metavar="DIR", help="output folder (default: report)")
    p.add_argument("--reference", default=None, metavar="PIPELINE", help="mark cases that differ from it (McNemar)")
    p.add_argument(
        "--alpha", type=float, default=0.05, metavar="A", help="significance level of that marker (default 0.05)"
    )
    p.add_argument("--no-figures", action="store_true", help="tables only (no matplotlib needed)")
    figs = _choices(("png", "svg"), "--figure-formats")
    p.add_argument(
        "--figure-formats", type=figs, default=["png", "svg"], metavar="EXT[,EXT]", help="png, svg (default both)"
    )
    p.add_argument(
        "--data-dir", default=None, metavar="DIR", help="IDX files of the dataset, for the misclassified-digit gallery"
    )
    p.add_argument("--data-home", default=None, metavar="DIR", help="downloads and decoded cache")


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report files (and figures) into ``args.out`` and print their paths; return 0."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        msg = f"The '--out' option must be a folder (created if absent). Got the file {out} instead."
        raise ValueError(msg)
    from .compare import load_runs

    df = load_runs(args.results)
    report = build_report(df, reference=args.reference, alpha=args.alpha)
    figs: list[Any] = []  # FigureFile
    if not args.no_figures:
        from .figures import write_figures

        where = {"data_dir": args.data_dir, "data_home": args.data_home}
        try:
            figs = write_figures(df, summarize(df), out / "figures", formats=args.figure_formats, **where)
        except ImportError as exc:
            raise ValueError(f"{exc}, or pass --no-figures") from None
    written = [p for f in figs for p in f.paths]
    out.mkdir(parents=True, exist_ok=True)
    for name in args.format:
        path = out / FORMATS[name]
        exts = ("png",) if name == "latex" else ("png", "svg")  # pdflatex includes PNG, not SVG
        items = [(f.title, f.caption, p) for f in figs if (p := next(filter(None, map(f.path, exts)), None))]
        if name == "html":
            text = render_html(report, items)
        else:
            rel = [(t, c, p.relative_to(out).as_posix()) for t, c, p in items]
            text = render_markdown(report, rel) if name == "md" else render_latex(report, rel)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    print("\n".join(map(str, written)))
    return 0
