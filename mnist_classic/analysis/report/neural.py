"""The neural rows of a report: a table and three figures, from the ``device`` and ``learning_curves`` columns.

A neural row is an ok row with a ``device`` (the suite's torch models write
one; see :func:`mnist_classic.bench.case.neural_fields`). Per case (dataset,
test size, pipeline, training size) the row of the lowest seed is shown:

- a table of the architecture and its year, device, parameters, multiply-adds of one image, epochs,
  training seconds per epoch (median over the epochs), inference images per
  second (test images over ``predict`` seconds) and test accuracy;
- accuracy against inference cost (milliseconds per 1,000 images, log axis);
- accuracy by the year of the architecture (1998 LeNet-5 to 2020 ViT): the
  "technological evolution" view;
- learning curves: training loss and accuracy on the training batches per
  epoch (no test data is seen during training, so there is no per-epoch test
  accuracy).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..plotting import FigureFile, new_figure, palette, save_figure, test_sets
from .tables import ReportTable

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ARCHITECTURES",
    "accuracy_by_year_figure",
    "inference_figure",
    "neural_cases",
    "neural_figures",
    "neural_tables",
    "training_curves_figure",
]

#: Registered neural pipelines: name -> (architecture, year of its paper, the paper).
ARCHITECTURES: dict[str, tuple[str, int, str]] = {
    "lenet5": ("LeNet-5", 1998, "LeCun, Bottou, Bengio and Haffner, Proc. IEEE 1998"),
    "resnet": ("ResNet", 2015, "He, Zhang, Ren and Sun, arXiv:1512.03385 (CVPR 2016)"),
    "mobilenet": ("MobileNetV2", 2018, "Sandler, Howard, Zhu, Zhmoginov and Chen, CVPR 2018"),
    "vit": ("ViT", 2020, "Dosovitskiy et al., arXiv:2010.11929 (ICLR 2021)"),
}

_CASE = ["dataset", "n_test", "pipeline", "n_train"]


def _base(pipeline: str) -> str:
    """The registered name under a configured one: ``resnet[max_epochs=1]`` -> ``resnet``."""
    return re.split(r"[\[+]", pipeline, maxsplit=1)[0]


def _curves(text: Any) -> dict[str, list[float]]:
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def neural_cases(df: pd.DataFrame) -> pd.DataFrame:
    """One ok neural row per case (the lowest seed), with ``architecture``, ``year``, ``epochs``,
    ``epoch_s`` (median seconds per epoch), ``images_per_s`` (inference) and ``curves`` (dict) added;
    by the architecture's year (unknown years last), then in the order of the rows."""
    import pandas as pd

    if "device" not in df.columns:
        return pd.DataFrame()
    ok = df[(df["status"] == "ok") & df["device"].notna() & (df["device"].astype(str) != "")]
    if ok.empty:
        return pd.DataFrame()
    rows = ok.sort_values("seed", kind="stable").drop_duplicates(_CASE).copy()
    rows["curves"] = rows["learning_curves"].map(_curves)
    rows["architecture"] = [ARCHITECTURES.get(_base(p), (_base(p), None, ""))[0] for p in rows["pipeline"]]
    rows["year"] = [ARCHITECTURES.get(_base(p), ("", math.nan, ""))[1] for p in rows["pipeline"]]
    rows["epochs"] = [len(c.get("epoch_s", [])) or math.nan for c in rows["curves"]]
    rows["epoch_s"] = [_median(c.get("epoch_s", [])) for c in rows["curves"]]
    rows["images_per_s"] = rows["n_test"].astype(float) / rows["predict_time_s"].astype(float)
    return rows.sort_values("year", kind="stable", na_position="last").reset_index(drop=True)


def _median(values: Sequence[float]) -> float:
    return float(sorted(values)[len(values) // 2]) if values else math.nan


def neural_tables(df: pd.DataFrame) -> list[ReportTable]:
    """A table of the neural rows per dataset and test size (none without neural rows)."""
    cases = neural_cases(df)
    tables: list[ReportTable] = []
    if cases.empty:
        return tables
    keys: Any
    for keys, g in cases.groupby(["dataset", "n_test"], sort=False):
        records = cast(list[dict[str, Any]], g.to_dict("records"))
        table = ReportTable(f"{keys[0]}: neural networks, {keys[1]:,} test images", records)
        table.head = ["pipeline", "architecture", "year", "n_train", "device", "parameters", "MACs", "epochs"]
        table.head += ["s / epoch", "images / s", "accuracy %"]
        table.left_columns = {0, 1, 4}
        for r in table.data:
            table.rows.append(
                [
                    r["pipeline"],
                    r["architecture"],
                    _int(r["year"]),
                    f"{r['n_train']:,}",
                    r["device"],
                    _int(r["n_params"], ","),
                    _int(r.get("macs"), ","),
                    _int(r["epochs"]),
                    _number(r["epoch_s"]),
                    _int(r["images_per_s"], ","),
                    f"{100 * r['accuracy']:.2f}",
                ]
            )
        table.notes = [
            "s / epoch: median wall-clock seconds of a training epoch (learning_curves column); images / s: test "
            "images over predict seconds; year: the architecture's paper; parameters: trainable parameters; MACs: "
            "multiply-accumulates of one forward pass on one image (torch's FlopCounterMode; empty for rows written "
            "before the macs column).",
            "A neural row is a row with a device (cpu, cuda or mps); the row of the lowest seed is shown per case.",
        ]
        tables.append(table)
    return tables


def _int(value: Any, sep: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\N{EM DASH}"
    return f"{round(float(value)):{sep}}"


def _number(value: float) -> str:
    return "\N{EM DASH}" if math.isnan(value) else f"{value:.3g}" if value < 100 else f"{value:.0f}"


def inference_figure(cases: pd.DataFrame, title: str = "") -> Any:
    """Test accuracy against inference milliseconds per 1,000 images (log axis); marker area grows with parameters."""
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    colors = palette(list(cases["pipeline"]))
    size = cases["n_params"].astype(float).fillna(1e4)
    for (_, r), s in zip(cases.iterrows(), size, strict=True):
        ms = 1000 * 1000 / r["images_per_s"]
        area = 20 + 180 * math.sqrt(s / max(size.max(), 1))
        ax.scatter(ms, 100 * r["accuracy"], s=area, color=colors[r["pipeline"]], alpha=0.8, label=r["pipeline"])
        ax.annotate(f"{r['pipeline']} ({_int(r['n_params'], ',')} p.)", (ms, 100 * r["accuracy"]), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("inference: milliseconds per 1,000 test images (log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(f"{title}{': ' if title else ''}accuracy versus inference cost", fontsize=10)
    return fig


def accuracy_by_year_figure(cases: pd.DataFrame, title: str = "") -> Any:
    """Test accuracy (as error %, log axis) by the year of each architecture's paper."""
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    dated = cases[cases["year"].notna()].sort_values("year", kind="stable")
    colors = palette(list(dated["pipeline"]))
    for _, r in dated.iterrows():
        err = 100 * (1 - r["accuracy"])
        ax.scatter(r["year"], err, s=50, color=colors[r["pipeline"]])
        ax.annotate(f"{r['architecture']} ({r['pipeline']})", (r["year"], err), fontsize=7, xytext=(4, 4),
                    textcoords="offset points")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("year of the architecture's paper")
    ax.set_ylabel("test error % (log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(f"{title}{': ' if title else ''}error by architecture year", fontsize=10)
    return fig


def training_curves_figure(cases: pd.DataFrame, title: str = "") -> Any:
    """Per epoch: mean training loss (log axis) and accuracy on the training batches, one line per case."""
    fig = new_figure(9.5, 3.8)
    loss_ax, acc_ax = fig.subplots(1, 2)
    colors = palette(list(cases["pipeline"]))
    for _, r in cases.iterrows():
        c = r["curves"]
        label = f"{r['pipeline']} (n_train={r['n_train']:,})"
        for ax, key in ((loss_ax, "loss"), (acc_ax, "train_accuracy")):
            values = c.get(key, [])
            if values:
                scale = 100 if key == "train_accuracy" else 1
                epochs = range(1, len(values) + 1)
                ax.plot(epochs, [scale * v for v in values], marker="o", ms=3, color=colors[r["pipeline"]], label=label)
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("mean training loss (log scale)")
    acc_ax.set_ylabel("accuracy on the training batches (%)")
    from matplotlib.ticker import MaxNLocator

    for ax in (loss_ax, acc_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.grid(True, which="both", alpha=0.3)
    acc_ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{title}{': ' if title else ''}learning curves per epoch", fontsize=10)
    return fig


def neural_figures(df: pd.DataFrame, folder: str | Path, formats: Sequence[str] = ("png", "svg")) -> list[FigureFile]:
    """Draw the three neural figures per dataset and test size into ``folder`` (none without neural rows)."""
    cases = neural_cases(df)
    out: list[FigureFile] = []
    if cases.empty:
        return out
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for _dataset, _n_test, stem, where, g in test_sets(cases):
        cap = "Each network's test accuracy against its predict time per 1,000 images; larger markers, more parameters."
        fig = inference_figure(g, where)
        out.append(save_figure(fig, folder, f"neural-inference-{stem}", formats, "Accuracy versus inference cost", cap))
        if g["year"].notna().any():
            cap = "Test error of each registered architecture, placed at the year of its paper (1998 to 2020)."
            fig = accuracy_by_year_figure(g, where)
            out.append(save_figure(fig, folder, f"neural-years-{stem}", formats, "Error by architecture year", cap))
        if any(c.get("loss") for c in g["curves"]):
            cap = "Mean training loss and accuracy on the training batches per epoch (no test data during training)."
            fig = training_curves_figure(g, where)
            out.append(save_figure(fig, folder, f"neural-curves-{stem}", formats, "Neural learning curves", cap))
    return out
