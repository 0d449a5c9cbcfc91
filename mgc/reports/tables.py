"""Report tables: per-class reports, test metrics, the FMA fusion study's Table 9 model comparison
(with bootstrap intervals and McNemar p-values, :mod:`mgc.reports.stats`) and the seed repeats.

Metrics come from scikit-learn; writers produce deterministic text (CSV, Markdown, JSON) so
reruns of a pipeline give byte-identical reports.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import classification_report

from mgc.reports.plots import _fmt, plot_comparison
from mgc.training.metrics import evaluation_metrics  # noqa: F401  (re-exported: the report's metrics)

# The first six as before the intervals came (readers index them); the test set's 95 % bootstrap
# intervals and the McNemar p against the best single-modality model (empty for those) follow.
COMPARISON_COLUMNS = ("model", "cv_accuracy", "cv_std", "test_accuracy", "test_loss", "macro_f1",
                      "test_accuracy_low", "test_accuracy_high", "macro_f1_low", "macro_f1_high",
                      "p_vs_best_single", "best_params")
REPEATS_COLUMNS = ("model", "repeats", "test_accuracy_mean", "test_accuracy_std", "macro_f1_mean",
                   "macro_f1_std")  # then test_accuracy_seed<s>, one per seed
_DASH = "–"  # en dash: "no value" in Markdown tables


def _report_kwargs(classes) -> dict:
    return {"labels": list(range(len(classes))), "target_names": list(classes),
            "zero_division": 0}


def classification_report_text(y_true, y_pred, classes) -> str:
    """scikit-learn's per-class precision / recall / F1 text report (4 digits)."""
    return classification_report(y_true, y_pred, digits=4, **_report_kwargs(classes))


def write_classification_report(y_true, y_pred, classes, path) -> dict:
    """Write the text report to ``path``; return scikit-learn's ``output_dict`` form."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(classification_report_text(y_true, y_pred, classes), encoding="utf-8")
    return classification_report(y_true, y_pred, output_dict=True, **_report_kwargs(classes))


def _params_text(params) -> str:
    """{"lr": 0.001, "dropout": 0.5} -> "dropout=0.5, lr=0.001" (sorted by key)."""
    return ", ".join(f"{k}={_fmt(v)}" for k, v in sorted((params or {}).items()))


def _num(value) -> float:
    return float("nan") if value is None else float(value)


def _bounds(interval) -> tuple[float, float]:
    return (_num(interval[0]), _num(interval[1])) if interval else (math.nan, math.nan)


def comparison_table(summary: dict) -> pd.DataFrame:
    """The FMA fusion study's Table 9: one row per model, in the summary's order, with the test
    metrics' bootstrap intervals and each fusion's McNemar p against the best single modality."""
    tests = (summary.get("fusion_vs_single") or {}).get("mcnemar") or {}
    rows = []
    for name, m in summary.get("models", {}).items():
        acc_low, acc_high = _bounds(m.get("test_accuracy_ci"))
        f1_low, f1_high = _bounds(m.get("macro_f1_ci"))
        rows.append({
            "model": name,
            "cv_accuracy": _num(m.get("cv_mean")),
            "cv_std": _num(m.get("cv_std")),
            "test_accuracy": _num(m.get("test_accuracy")),
            "test_loss": _num(m.get("test_loss")),
            "macro_f1": _num(m.get("macro_f1")),
            "test_accuracy_low": acc_low, "test_accuracy_high": acc_high,
            "macro_f1_low": f1_low, "macro_f1_high": f1_high,
            "p_vs_best_single": _num(tests.get(name, {}).get("p_value")),
            "best_params": _params_text(m.get("best_params")),
        })
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))


def _pct(value, std=None) -> str:
    if value is None or math.isnan(value):
        return _DASH
    text = f"{value * 100:.2f} %"
    if std is not None and not math.isnan(std):
        text += f" ± {std * 100:.2f}"
    return text


def _dec(value) -> str:
    return _DASH if value is None or math.isnan(value) else f"{value:.4f}"


def _with_interval(text: str, low, high, percent: bool = False) -> str:
    """"76.67 %" -> "76.67 % [65.00, 86.67]", "0.7500" -> "0.7500 [0.6100, 0.8600]" (as is without one)."""
    if text == _DASH or math.isnan(low) or math.isnan(high):
        return text
    if percent:
        return f"{text} [{low * 100:.2f}, {high * 100:.2f}]"
    return f"{text} [{low:.4f}, {high:.4f}]"


def _p(value) -> str:
    if value is None or math.isnan(value):
        return _DASH
    return "< 0.0001" if value < 0.0001 else f"{value:.4f}"


def _note(summary: dict, table: pd.DataFrame) -> str:
    """The line under the table saying what the brackets and p are ("" when neither is shown)."""
    parts = []
    if table[["test_accuracy_low", "macro_f1_low"]].notna().to_numpy().any():
        boot = summary.get("bootstrap") or {}
        how = (f" ({boot['resamples']} resamples, seed {boot['seed']})"
               if {"resamples", "seed"} <= set(boot) else "")
        level = f"{boot['level'] * 100:g} %" if "level" in boot else "95 %"
        parts.append(f"[low, high]: {level} percentile bootstrap interval over the test tracks{how}")
    best = (summary.get("fusion_vs_single") or {}).get("best_single")
    if table["p_vs_best_single"].notna().any() and best:
        parts.append(f"p: two-sided exact McNemar test against {best}, the best single-modality "
                     "model, on the same test tracks")
    return "; ".join(parts) + "." if parts else ""


def _describe(value) -> str:
    if isinstance(value, dict):
        return _params_text(value)
    return str(value)


def comparison_markdown(summary: dict, table: pd.DataFrame | None = None) -> str:
    """The comparison as a Markdown document: title, dataset/split line, table."""
    table = comparison_table(summary) if table is None else table
    lines = ["# Model comparison", ""]
    info = [f"{label}: {_describe(summary[key])}" for key, label in
            (("dataset", "Dataset"), ("protocol", "Split method"), ("split", "Split")) if summary.get(key) is not None]
    if info:
        lines += ["; ".join(info), ""]
    lines += ["| Model | CV accuracy | Test accuracy | Test loss | Macro-F1 | p vs best single | Best parameters |",
              "|---|---|---|---|---|---|---|"]
    for row in table.itertuples(index=False):
        cells = [str(row.model), _pct(row.cv_accuracy, row.cv_std),
                 _with_interval(_pct(row.test_accuracy), row.test_accuracy_low, row.test_accuracy_high, True),
                 _dec(row.test_loss), _with_interval(_dec(row.macro_f1), row.macro_f1_low, row.macro_f1_high),
                 _p(row.p_vs_best_single), row.best_params or _DASH]
        lines.append(_row(cells))
    note = _note(summary, table)
    if note:
        lines += ["", note]
    if summary.get("repeats"):
        lines += ["", repeats_markdown(summary["repeats"]).rstrip("\n")]
    return "\n".join(lines) + "\n"


def _row(cells) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def repeats_table(repeats: dict) -> pd.DataFrame:
    """repeats.csv from summary.json's ``"repeats"`` entry (:func:`mgc.reports.stats.aggregate_repeats`):
    one row per model, mean and sample std across seeds, then one test accuracy column per seed."""
    seeds = list(repeats.get("seeds", []))
    columns = [*REPEATS_COLUMNS, *(f"test_accuracy_seed{s}" for s in seeds)]
    rows = []
    for name, m in repeats.get("models", {}).items():
        row = {"model": name, "repeats": int(m["repeats"]),
               **{key: _num(m.get(key)) for key in REPEATS_COLUMNS[2:]}}
        row.update({f"test_accuracy_seed{s}": _num(v) for s, v in zip(m["seeds"], m["test_accuracy"])})
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def repeats_markdown(repeats: dict) -> str:
    """The "## Across N seeds (s0, s1, ...)" section: mean ± std per model, then each seed's accuracy."""
    seeds = list(repeats.get("seeds", []))
    table = repeats_table(repeats)
    lines = [f"## Across {len(seeds)} seeds ({', '.join(map(str, seeds))})", "",
             _row(["Model", "Seeds", "Test accuracy", "Macro-F1", *(f"Seed {s}" for s in seeds)]),
             "|" + "---|" * (4 + len(seeds))]
    for row in table.to_dict("records"):
        f1 = _dec(row["macro_f1_mean"])
        if f1 != _DASH and not math.isnan(row["macro_f1_std"]):
            f1 += f" ± {row['macro_f1_std']:.4f}"
        lines.append(_row([row["model"], row["repeats"], _pct(row["test_accuracy_mean"], row["test_accuracy_std"]),
                           f1, *(_pct(row[f"test_accuracy_seed{s}"]) for s in seeds)]))
    lines += ["", "Mean ± sample standard deviation (ddof = 1) over the seeds that have the model "
                  "(Seeds: how many); Seed s: that run's test accuracy."]
    return "\n".join(lines) + "\n"


def write_comparison(summary: dict, results_dir) -> dict[str, Path]:
    """Write comparison.csv, comparison.md and comparison.png under ``results_dir`` (and repeats.csv
    when the summary has a ``"repeats"`` entry)."""
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = comparison_table(summary)
    paths = {"csv": out / "comparison.csv", "md": out / "comparison.md",
             "png": out / "comparison.png"}
    table.to_csv(paths["csv"], index=False, float_format="%.4f", lineterminator="\n")
    paths["md"].write_text(comparison_markdown(summary, table), encoding="utf-8")
    plot_comparison(table, paths["png"])
    if summary.get("repeats"):
        paths["repeats"] = out / "repeats.csv"
        repeats_table(summary["repeats"]).to_csv(paths["repeats"], index=False, float_format="%.4f",
                                                 lineterminator="\n")
    else:
        (out / "repeats.csv").unlink(missing_ok=True)  # a stale one would contradict summary.json
    return paths


def to_jsonable(obj):
    """Plain-JSON copy of ``obj``: numpy scalars/arrays to Python, NaN/inf to None, Path to str."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (set, frozenset)):
        obj = sorted(obj, key=str)
    if isinstance(obj, (list, tuple, np.ndarray, pd.Series)):
        return [to_jsonable(v) for v in (obj.tolist() if hasattr(obj, "tolist") else obj)]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_summary_json(summary: dict, path) -> Path:
    """Write ``summary`` as indented JSON (key order kept, NaN -> null, trailing newline)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_jsonable(summary), indent=2, sort_keys=False, allow_nan=False,
                      ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path
