"""Report figures: the FMA fusion study's grid-search plots (Figures 1-4) and model comparison (Figure 5).

Every function draws on a standalone ``matplotlib.figure.Figure`` (Agg, no pyplot global
state), writes a PNG without a "Software" metadata entry (byte-stable output) and returns the
path it wrote.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import ConfusionMatrixDisplay

from mgc.training.grid_table import NON_PARAMS, param_columns  # noqa: F401  (NON_PARAMS: re-exported)
from mgc.training.grid_table import fold_columns as _fold_columns

_DPI = 120


def _fmt(value) -> str:
    """Compact text for a parameter value: 0.001 -> "0.001", 64.0 -> "64"."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def _save(fig: Figure, path) -> Path:
    """Write ``fig`` as PNG to ``path`` (parents created) without volatile metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=_DPI, metadata={"Software": None})
    return path



def _grid_lines(grid: pd.DataFrame) -> tuple[str, dict[str, pd.DataFrame]]:
    """Choose the x parameter and split ``grid`` into one line per combination of the others.

    x is ``learning_rate`` if it takes several values, else ``width`` or ``C`` if it does, else the
    first numeric parameter that varies, else the first that varies (the FMA fusion study's figures
    plot against learning rate or hidden width). Parameters with a single value are left out of the
    labels. Each line is labelled "name=value, ..." (or "mean CV accuracy" when x is the only
    varying parameter) and sorted by x; lines are ordered by the other parameters' values (text
    values, e.g. an SVM's gamma "scale", in text order).
    """
    params = param_columns(grid)
    if not params:
        raise ValueError("grid has no hyper-parameter columns")
    varying = [p for p in params if grid[p].astype(str).nunique() > 1] or params
    numeric = [p for p in varying if pd.api.types.is_numeric_dtype(grid[p])]
    x_name = next((p for p in ("learning_rate", "width", "C") if p in varying), (numeric or varying)[0])
    others = [p for p in varying if p != x_name]
    by_x = _x_key(grid[x_name])
    if not others:
        return x_name, {"mean CV accuracy": grid.sort_values(x_name, key=by_x, kind="stable")}
    groups = list(grid.groupby(others, sort=False, dropna=False))
    if all(pd.api.types.is_numeric_dtype(grid[p]) for p in others):
        groups.sort(key=lambda item: item[0])
    else:
        groups.sort(key=lambda item: tuple(str(v) for v in (item[0] if isinstance(item[0], tuple) else (item[0],))))
    lines = {}
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{name}={_fmt(v)}" for name, v in zip(others, key))
        lines[label] = part.sort_values(x_name, key=by_x, kind="stable")
    return x_name, lines


LOG_X = ("learning_rate", "C", "gamma")  # grid parameters searched over decades: a log axis


def _x_key(column: pd.Series):
    """Sort key for the x parameter: numbers as numbers, anything else (e.g. gamma "scale") as text."""
    return None if pd.api.types.is_numeric_dtype(column) else (lambda c: c.astype(str))


def plot_grid(grid: pd.DataFrame, model: str, path) -> Path:
    """Mean k-fold CV accuracy against learning rate (or hidden width), one line per other setting.

    Error bars are the fold standard deviation; the best combination gets a star and its value.
    """
    x_name, lines = _grid_lines(grid)
    k = len(_fold_columns(grid))
    if pd.api.types.is_numeric_dtype(grid[x_name]):
        xs = np.sort(grid[x_name].unique())
        positions = {v: float(v) for v in xs}
    else:  # text values (or mixed): evenly spaced, in text order
        xs = np.array(sorted(grid[x_name].unique(), key=str), dtype=object)
        positions = {v: float(i) for i, v in enumerate(xs)}
    ticks = np.array([positions[v] for v in xs])
    log_x = x_name in LOG_X and pd.api.types.is_numeric_dtype(grid[x_name]) and bool((ticks > 0).all())
    span = float(ticks[-1] - ticks[0]) if len(xs) > 1 else 1.0
    fig = Figure(figsize=(8, 4.8), layout="constrained")
    ax = fig.add_subplot()
    n = len(lines)
    best = grid.loc[grid["mean_accuracy"].idxmax()]
    best_xy = None
    for i, (label, part) in enumerate(lines.items()):
        # Dodge lines sideways a little so overlapping error bars stay readable.
        shift = (i - (n - 1) / 2) * min(0.035, 0.25 / n)
        x = np.array([positions[v] for v in part[x_name]])
        x = x * 10**shift if log_x else x + shift * span * 0.5
        std = part["std_accuracy"] if "std_accuracy" in part else None
        ax.errorbar(x, part["mean_accuracy"], yerr=std, marker="o", capsize=3, label=label)
        if best.name in part.index:
            best_xy = (x[list(part.index).index(best.name)], float(best["mean_accuracy"]))
    if log_x:
        ax.set_xscale("log")
        ax.minorticks_off()
    ax.set_xticks(ticks, [_fmt(v) for v in xs])
    bx, by = best_xy
    ax.plot([bx], [by], marker="*", markersize=18, color="gold", markeredgecolor="black",
            linestyle="none", zorder=5, label="best")
    right = len(xs) > 1 and best[x_name] == xs[-1]
    others = [f"{p}={_fmt(best[p])}" for p in param_columns(grid) if p != x_name]
    note = f"best {by:.4f}" + (f"\n({', '.join(others)})" if others else "")
    ax.annotate(note, (bx, by), xytext=(-12 if right else 12, 12), textcoords="offset points",
                ha="right" if right else "left", va="bottom", fontsize=9,
                bbox={"boxstyle": "round", "fc": "white", "alpha": 0.85})
    ax.margins(y=0.25)
    ax.set_xlabel(x_name.replace("_", " ") + (" (log scale)" if log_x else ""))
    ax.set_ylabel("mean CV accuracy")
    ax.set_title(f"{model}: mean {k}-fold CV accuracy" if k else f"{model}: mean CV accuracy")
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda j: labels[j] == "best")  # star entry last
    ax.legend([handles[j] for j in order], [labels[j] for j in order], loc="upper left",
              bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize=9)
    return _save(fig, path)


def plot_confusion_matrix(y_true, y_pred, classes: list[str], path, title: str = "") -> Path:
    """Confusion-matrix counts with genre names on both axes (integer class indices in)."""
    n = len(classes)
    side = max(5.0, 0.6 * n + 2.5)
    fig = Figure(figsize=(side + 1, side), layout="constrained")
    ax = fig.add_subplot()
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=list(range(n)), display_labels=list(classes),
        ax=ax, cmap="Blues", xticks_rotation=45, colorbar=True,
    )
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_learning_curves(history: pd.DataFrame, path, title: str = "") -> Path:
    """Accuracy and loss per epoch, train vs validation (Keras CSVLogger columns)."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    epoch = history["epoch"] if "epoch" in history else pd.Series(range(len(history)))
    for ax, metric in zip(axes, ("accuracy", "loss")):
        if metric in history:
            ax.plot(epoch, history[metric], marker=".", label="train")
        if f"val_{metric}" in history:
            ax.plot(epoch, history[f"val_{metric}"], marker=".", label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_gates(means: pd.DataFrame, path, title: str = "") -> Path:
    """An attention fusion's mean gate weight per genre (rows of ``means``, the overall mean
    last) and modality (columns, summing to 1): one stacked bar per genre."""
    fig = Figure(figsize=(max(6.0, 0.8 * len(means) + 3), 4.5), layout="constrained")
    ax = fig.add_subplot()
    bottom = np.zeros(len(means))
    for column in means.columns:
        ax.bar(means.index, means[column], bottom=bottom, label=str(column).removeprefix("gate_"))
        for x, (base, value) in enumerate(zip(bottom, means[column])):
            if value >= 0.08:
                ax.text(x, base + value / 2, f"{value:.2f}", ha="center", va="center", fontsize=8)
        bottom += means[column].to_numpy()
    ax.set_ylim(0, 1)
    ax.set_ylabel("mean gate weight")
    ax.set_xlabel("true genre of the test tracks")
    ax.tick_params(axis="x", labelrotation=30)
    ax.legend(title="modality", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_comparison(table: pd.DataFrame, path) -> Path:
    """Grouped bars of CV and test accuracy per model, values annotated (the FMA fusion study's Figure 5).

    Error bars: the CV folds' std, and the test accuracy's bootstrap interval where the table has
    ``test_accuracy_low`` / ``test_accuracy_high``.
    """
    models = [str(m) for m in table["model"]]
    x = np.arange(len(models))
    width = 0.38
    fig = Figure(figsize=(max(7.5, 1.6 * len(models) + 3), 4.8), layout="constrained")
    ax = fig.add_subplot()
    series = [("cv_accuracy", "mean CV accuracy", -width / 2),
              ("test_accuracy", "test accuracy", width / 2)]
    top = 0.0
    for column, label, offset in series:
        if column not in table:
            continue
        values = table[column].to_numpy(float)
        keep = ~np.isnan(values)
        if not keep.any():
            continue
        err = None
        if column == "cv_accuracy" and "cv_std" in table:
            err = np.nan_to_num(table["cv_std"].to_numpy(float)[keep])
        elif {f"{column}_low", f"{column}_high"} <= set(table.columns):  # the bootstrap interval
            low, high = (table[f"{column}_{end}"].to_numpy(float)[keep] for end in ("low", "high"))
            err = np.nan_to_num(np.stack([values[keep] - low, high - values[keep]])).clip(min=0)
        bars = ax.bar(x[keep] + offset, values[keep], width, yerr=err, capsize=3, label=label)
        ax.bar_label(bars, labels=[f"{v:.2%}" for v in values[keep]], padding=3, fontsize=8)
        reach = values[keep] + (err[-1] if err is not None else 0)  # bar tops plus error bars
        top = max(top, float(reach.max()))
    ax.set_xticks(x, models, rotation=20 if len(models) > 4 else 0,
                  ha="right" if len(models) > 4 else "center")
    ax.set_ylim(0, min(1.0, top * 1.15) if top > 0 else 1.0)
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy by model")
    ax.grid(True, axis="y", alpha=0.3)
    fig.legend(loc="outside right upper")
    return _save(fig, path)
