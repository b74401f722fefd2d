"""Rendering a report: Markdown, LaTeX (booktabs) and one self-contained HTML file.

Cells arrive as plain text (Unicode dashes); each renderer escapes for its format. What is
rendered, :class:`Report` (defined here) and its :class:`~.tables.ReportTable` s, is built by
:mod:`.summary`, which imports this module (never the other way round).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .tables import ReportTable

__all__ = ["Report", "ReportTable", "latex_escape", "render_html", "render_latex", "render_markdown"]

_EN, _NONE = "\N{EN DASH}", "\N{EM DASH}"  # ranges; empty cells


@dataclass
class Report:
    """The tables, the options they were built with, the result files and one line per run's environment."""

    tables: list[ReportTable]
    reference: str | None = None
    alpha: float = 0.05
    sources: list[str] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)
    explorers: list[str] = field(default_factory=list)  # explore*.html pages beside the report, linked from it
    significance: list[ReportTable] = field(default_factory=list)  # "which differences are significant"

    @property
    def all_tables(self) -> list[ReportTable]:
        """The summary tables, then the section "which differences are significant"."""
        return [*self.tables, *self.significance]


def render_markdown(report: Report, figures: Sequence[tuple[str, str, str]] = ()) -> str:
    """GitHub-flavoured Markdown: a table per dataset, notes, figures ``(title, caption, relative path)``."""

    def esc(s: str) -> str:
        return s.replace("|", "\\|").replace("*", "\\*")

    out = ["# mnist-classic report", "", *(f"- results: `{s}`" for s in report.sources)]
    out += [f"- the predictions, image by image: [{x}]({x})" for x in report.explorers]
    for table in report.all_tables:
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
    for i, table in enumerate(report.all_tables):
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
    link = '<p class="note">the predictions, image by image: <a href="{0}">{0}</a></p>'
    out += [link.format(e(x)) for x in report.explorers]
    for table in report.all_tables:
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
