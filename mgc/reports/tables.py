"""Report tables: per-class reports, test metrics, and the FMA fusion study's Table 9 model comparison.

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

COMPARISON_COLUMNS = ("model", "cv_accuracy", "cv_std", "test_accuracy", "test_loss",
                      "macro_f1", "best_params")
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


def comparison_table(summary: dict) -> pd.DataFrame:
    """The FMA fusion study's Table 9: one row per model, in the summary's order."""
    rows = []
    for name, m in summary.get("models", {}).items():
        rows.append({
            "model": name,
            "cv_accuracy": _num(m.get("cv_mean")),
            "cv_std": _num(m.get("cv_std")),
            "test_accuracy": _num(m.get("test_accuracy")),
            "test_loss": _num(m.get("test_loss")),
            "macro_f1": _num(m.get("macro_f1")),
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


def _describe(value) -> str:
    if isinstance(value, dict):
        return _params_text(value)
    return str(value)


def comparison_markdown(summary: dict, table: pd.DataFrame | None = None) -> str:
    """The comparison as a Markdown document: title, dataset/split line, table."""
    table = comparison_table(summary) if table is None else table
    lines = ["# Model comparison", ""]
    info = [f"{label}: {_describe(summary[key])}" for key, label in
            (("dataset", "Dataset"), ("split", "Split")) if summary.get(key) is not None]
    if info:
        lines += ["; ".join(info), ""]
    lines += ["| Model | CV accuracy | Test accuracy | Test loss | Macro-F1 | Best parameters |",
              "|---|---|---|---|---|---|"]
    for row in table.itertuples(index=False):
        cells = [str(row.model), _pct(row.cv_accuracy, row.cv_std), _pct(row.test_accuracy),
                 _dec(row.test_loss), _dec(row.macro_f1), row.best_params or _DASH]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_comparison(summary: dict, results_dir) -> dict[str, Path]:
    """Write comparison.csv, comparison.md and comparison.png under ``results_dir``."""
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = comparison_table(summary)
    paths = {"csv": out / "comparison.csv", "md": out / "comparison.md",
             "png": out / "comparison.png"}
    table.to_csv(paths["csv"], index=False, float_format="%.4f", lineterminator="\n")
    paths["md"].write_text(comparison_markdown(summary, table), encoding="utf-8")
    plot_comparison(table, paths["png"])
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
