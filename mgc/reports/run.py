"""The ``report`` stage: a run's results as summary.json, the FMA fusion study's comparison table and
figure, and per model a classification report, confusion matrix and learning curves."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mgc.contract import SINGLE_MODALITY, trained_on
from mgc.reports.plots import plot_confusion_matrix, plot_learning_curves
from mgc.reports.tables import write_classification_report, write_comparison, write_summary_json


def _cv(results_dir: Path, name: str) -> tuple[float | None, float | None]:
    """Mean and std of the best grid row's fold accuracy (None without a grid)."""
    path = results_dir / f"grid_{name}.csv"
    if not path.is_file():
        return None, None
    grid = pd.read_csv(path)
    best = grid.loc[grid["mean_accuracy"].idxmax()]
    return float(best["mean_accuracy"]), float(best["std_accuracy"])


def fusion_check(models: dict[str, dict]) -> dict:
    """Does each fusion (and the joint model) match or beat the best single-modality model?"""
    singles = {n: m["test_accuracy"] for n, m in models.items() if n in SINGLE_MODALITY}
    if not singles:
        return {}
    best = max(singles, key=singles.get)
    return {"best_single": best, "best_single_accuracy": singles[best],
            "at_least_best_single": {n: m["test_accuracy"] >= singles[best] for n, m in models.items()
                                     if n not in SINGLE_MODALITY}}


def write_report(exp, metrics: dict[str, dict], echo=print) -> Path:
    """Everything under ``<workdir>/results/``; returns the summary.json path."""
    results = exp.results_dir
    results.mkdir(parents=True, exist_ok=True)
    summary = {
        "run": exp.config.run.name,
        "dataset": exp.config.dataset.kind + (" (synthetic)" if exp.config.dataset.kind == "synthetic" else ""),
        "split": {k: int(v) for k, v in exp.manifest["split"].value_counts().sort_index().items()},
        "classes": exp.classes,
        "models": {},
    }
    lookup = {genre: i for i, genre in enumerate(exp.classes)}
    for name, m in metrics.items():
        model_dir, out = exp.model_dir(name), results / name
        cv_mean, cv_std = _cv(results, name)
        params = json.loads((model_dir / "params.json").read_text()) if (model_dir / "params.json").is_file() else {}
        summary["models"][name] = {
            "test_accuracy": m["accuracy"], "test_loss": m["loss"], "macro_f1": m["macro_f1"],
            "cv_mean": cv_mean, "cv_std": cv_std, "best_params": params,
            "trained_on": trained_on(name),
        }
        predictions = pd.read_csv(model_dir / "test_predictions.csv", dtype={"track_id": str})
        y_true = predictions["genre"].map(lookup).to_numpy()
        y_pred = predictions["predicted"].map(lookup).to_numpy()
        write_classification_report(y_true, y_pred, exp.classes, out / "classification_report.txt")
        plot_confusion_matrix(y_true, y_pred, exp.classes, out / "confusion_matrix.png", title=f"{name}: test")
        if (model_dir / "history.csv").is_file():
            plot_learning_curves(pd.read_csv(model_dir / "history.csv"), out / "learning_curves.png", title=name)
    summary["fusion_vs_single"] = fusion_check(summary["models"])
    path = write_summary_json(summary, results / "summary.json")
    paths = write_comparison(summary, results)
    echo((results / "comparison.md").read_text().strip() if (results / "comparison.md").is_file() else "")
    check = summary["fusion_vs_single"]
    if check.get("at_least_best_single"):
        verdict = ", ".join(f"{n} {'>=' if ok else '<'}" for n, ok in check["at_least_best_single"].items())
        echo(f"report: against the best single modality ({check['best_single']}, "
             f"{check['best_single_accuracy']:.2%} test accuracy): {verdict}")
    echo(f"report: {path}, {paths.get('md', results / 'comparison.md')}")
    return path
