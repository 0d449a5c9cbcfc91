"""The ``report`` stage: a run's results as summary.json, the FMA fusion study's comparison table and
figure (with bootstrap intervals, McNemar p-values and, given runs of other seeds, the spread
across seeds), and per model a classification report, confusion matrix and learning curves (an
attention fusion also its mean gate weights per genre: ``gates.png``, summary.json's ``gates``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mgc.contract import GATES_CSV, SINGLE_MODALITY, UNKNOWN_GENRE, UNKNOWN_PRECISION, trained_on
from mgc.errors import UserError
from mgc.reports.plots import plot_confusion_matrix, plot_gates, plot_learning_curves
from mgc.reports.stats import (
    LEVEL,
    METRICS,
    RESAMPLES,
    aggregate_repeats,
    bootstrap_interval,
    confidence_threshold,
    mcnemar_exact,
)
from mgc.reports.tables import write_classification_report, write_comparison, write_summary_json


def _cv(results_dir: Path, name: str) -> tuple[float | None, float | None]:
    """Mean and std of the best grid row's fold accuracy (None without a grid)."""
    path = results_dir / f"grid_{name}.csv"
    if not path.is_file():
        return None, None
    grid = pd.read_csv(path)
    best = grid.loc[grid["mean_accuracy"].idxmax()]
    return float(best["mean_accuracy"]), float(best["std_accuracy"])


def _paired(a: pd.Series, b: pd.Series, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Two models' per-track correctness (Series indexed by track_id), aligned on the track ids."""
    for series, name in zip((a, b), names):
        if series.index.has_duplicates:
            raise UserError(f"report: {name}'s test_predictions.csv lists a track more than once")
    if set(a.index) != set(b.index):
        raise UserError(f"report: {names[0]} and {names[1]} were tested on different tracks "
                        f"({len(set(a.index) - set(b.index))} only in {names[0]}, "
                        f"{len(set(b.index) - set(a.index))} only in {names[1]}); evaluate both again")
    return a.to_numpy(bool), b.reindex(a.index).to_numpy(bool)


def fusion_check(models: dict[str, dict], correct: dict[str, pd.Series] | None = None) -> dict:
    """Does each fusion (and the joint model) match or beat the best single-modality model?

    With ``correct`` (per model, per track_id: right or wrong) each of them also gets an exact
    McNemar test against that model on the same tracks (``"mcnemar"``: ``a_only`` counts the tracks
    only it gets right, ``b_only`` those only the best single model gets right).
    """
    singles = {n: m["test_accuracy"] for n, m in models.items() if n in SINGLE_MODALITY}
    if not singles:
        return {}
    best = max(singles, key=singles.get)
    others = [n for n in models if n not in SINGLE_MODALITY]
    check = {"best_single": best, "best_single_accuracy": singles[best],
             "at_least_best_single": {n: models[n]["test_accuracy"] >= singles[best] for n in others}}
    if correct is not None:
        check["mcnemar"] = {n: mcnemar_exact(*_paired(correct[n], correct[best], (n, best))) for n in others}
    return check


def _class_indices(predictions: pd.DataFrame, lookup: dict[str, int], name: str) -> tuple[np.ndarray, np.ndarray]:
    """test_predictions.csv's genre and predicted columns as class indices."""
    out = []
    for column in ("genre", "predicted"):
        indices = predictions[column].map(lookup)
        if indices.isna().any():
            unknown = sorted(set(predictions.loc[indices.isna(), column].astype(str)))
            raise UserError(f"report: {name}'s test_predictions.csv has {column} values that are no "
                            f"class of this run: {', '.join(unknown[:5])}")
        out.append(indices.to_numpy(np.int64))
    return out[0], out[1]


def _dataset(ds) -> str:
    """The dataset in a few words, for the comparison's header (which FMA selection it was)."""
    if ds.kind == "fma":
        genres = f"top {ds.top_k} genres" if ds.top_k else "every genre"
        return f"fma ({ds.subset or 'all subsets'}, label {ds.label}, {genres})"
    return "synthetic (generated clips, not real music)" if ds.kind == "synthetic" else ds.kind


def gate_means(gates: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """Mean gate weight per true genre (``classes`` order, genres without test tracks left out)
    and over every test track (``all``, last); columns ``gate_<view>``."""
    columns = [c for c in gates.columns if c.startswith("gate_")]
    per_genre = gates.groupby("genre")[columns].mean().reindex([c for c in classes if c in set(gates["genre"])])
    return pd.concat([per_genre, gates[columns].mean().to_frame("all").T])


def write_report(exp, metrics: dict[str, dict], echo=print, repeats: dict | None = None) -> Path:
    """Everything under ``<workdir>/results/``; returns the summary.json path.

    Each model's test accuracy and macro-F1 get a 95 % bootstrap interval over the test tracks
    (seeded by the run's seed), each fusion an exact McNemar p against the best single modality.
    ``repeats`` ({seed: summary.json dict} of the same models run with other seeds; this run's own
    summary is put in, or replaces, its seed's entry) adds results/repeats.csv, the "repeats"
    entry and a comparison.md section when it makes two seeds or more.
    """
    results = exp.results_dir
    results.mkdir(parents=True, exist_ok=True)
    seed = int(exp.config.run.seed)
    summary = {
        "run": exp.config.run.name,
        "dataset": _dataset(exp.config.dataset),
        "protocol": exp.config.split.method,  # stratified, official (FMA) or fault_filtered (GTZAN)
        "split": {k: int(v) for k, v in exp.manifest["split"].value_counts().sort_index().items()},
        "classes": exp.classes,
        "bootstrap": {"resamples": RESAMPLES, "level": LEVEL, "seed": seed},
        "models": {},
    }
    lookup = {genre: i for i, genre in enumerate(exp.classes)}
    correct = {}
    for name, m in metrics.items():
        model_dir, out = exp.model_dir(name), results / name
        cv_mean, cv_std = _cv(results, name)
        params = json.loads((model_dir / "params.json").read_text()) if (model_dir / "params.json").is_file() else {}
        predictions = pd.read_csv(model_dir / "test_predictions.csv", dtype={"track_id": str})
        # In track order: the interval does not depend on the file's row order, and models tested
        # on the same tracks share the resampled tracks of one seed.
        predictions = predictions.sort_values("track_id", kind="stable", ignore_index=True)
        y_true, y_pred = _class_indices(predictions, lookup, name)
        ci = {metric: list(bootstrap_interval(y_true, y_pred, metric, n_classes=len(exp.classes),
                                              resamples=RESAMPLES, level=LEVEL, seed=seed))
              for metric in METRICS}
        summary["models"][name] = {
            "test_accuracy": m["accuracy"], "test_accuracy_ci": ci["accuracy"], "test_loss": m["loss"],
            "macro_f1": m["macro_f1"], "macro_f1_ci": ci["macro_f1"],
            "cv_mean": cv_mean, "cv_std": cv_std, "best_params": params,
            "trained_on": trained_on(name),
            # predict --min-confidence for this model: the threshold keeping 95 % precision on its test tracks
            "min_confidence": confidence_threshold(predictions["confidence"], y_true == y_pred, UNKNOWN_PRECISION),
        }
        correct[name] = pd.Series(y_true == y_pred, index=predictions["track_id"].to_numpy())
        write_classification_report(y_true, y_pred, exp.classes, out / "classification_report.txt")
        plot_confusion_matrix(y_true, y_pred, exp.classes, out / "confusion_matrix.png", title=f"{name}: test")
        if (model_dir / "history.csv").is_file():
            plot_learning_curves(pd.read_csv(model_dir / "history.csv"), out / "learning_curves.png", title=name)
        if (model_dir / GATES_CSV).is_file():  # an attention fusion: which modality its gate favours per genre
            means = gate_means(pd.read_csv(model_dir / GATES_CSV, dtype={"track_id": str}), exp.classes)
            summary["models"][name]["gates"] = {genre: {c.removeprefix("gate_"): round(float(v), 6)
                                                        for c, v in row.items()} for genre, row in means.iterrows()}
            plot_gates(means, out / "gates.png", title=f"{name}: mean gate weight per genre (test)")
    summary["fusion_vs_single"] = fusion_check(summary["models"], correct)
    runs = {**{int(s): run for s, run in (repeats or {}).items()}, seed: summary}
    if len(runs) >= 2:
        summary["repeats"] = aggregate_repeats(runs)
    path = write_summary_json(summary, results / "summary.json")
    paths = write_comparison(summary, results)
    echo((results / "comparison.md").read_text().strip() if (results / "comparison.md").is_file() else "")
    check = summary["fusion_vs_single"]
    if check.get("at_least_best_single"):
        tests = check.get("mcnemar", {})
        verdict = ", ".join(f"{n} {'>=' if ok else '<'}"
                            + (f" (McNemar p = {tests[n]['p_value']:.4f})" if n in tests else "")
                            for n, ok in check["at_least_best_single"].items())
        echo(f"report: against the best single modality ({check['best_single']}, "
             f"{check['best_single_accuracy']:.2%} test accuracy): {verdict}")
    best = max(summary["models"], key=lambda n: summary["models"][n]["test_accuracy"], default=None)
    suggestion = summary["models"][best]["min_confidence"] if best else None
    if suggestion:
        echo(f"report: predict --min-confidence {suggestion['min_confidence']:g} keeps "
             f"{suggestion['precision']:.0%} precision with {best} on its test tracks ({suggestion['kept']:.0%} of "
             f"them get a genre, the rest '{UNKNOWN_GENRE}'; summary.json models.<name>.min_confidence)")
    echo(f"report: {path}, {paths.get('md', results / 'comparison.md')}"
         + (f", {paths['repeats']}" if "repeats" in paths else ""))
    return path
