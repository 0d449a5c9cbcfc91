"""Uncertainty for the report: bootstrap intervals, paired McNemar tests, and seed repeats.

A test set of a few hundred tracks gives accuracies a few points wide, so the report puts a
95 % percentile bootstrap interval beside each score and an exact McNemar p-value beside each
"fusion beats the best single modality" claim. Everything is seeded and deterministic (same
inputs, same numbers); numpy and scipy only, no TensorFlow or Keras.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binomtest

METRICS = ("accuracy", "macro_f1")
RESAMPLES = 1000
LEVEL = 0.95


def _labels(y, n_classes: int) -> np.ndarray:
    """``y`` as int64 class indices, checked: 1-D, whole numbers (no NaN), in [0, n_classes)."""
    y = np.asarray(y)
    whole = np.issubdtype(y.dtype, np.integer) or (
        np.issubdtype(y.dtype, np.floating) and bool(np.all(np.isfinite(y) & (y == np.round(y)))))
    if y.ndim != 1 or not whole:
        raise ValueError("labels must be a 1-D array of integer class indices")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes})")
    return y


def resampled_scores(y_true, y_pred, metric: str, *, n_classes: int, resamples: int = RESAMPLES,
                     seed: int = 0) -> np.ndarray:
    """``metric`` on each of ``resamples`` bootstrap resamples of the tracks, vectorised.

    Resample r draws ``rng.integers(0, n, (resamples, n))[r]`` with ``rng =
    np.random.default_rng(seed)`` (the draw ``scipy.stats.bootstrap(paired=True)`` makes), so one
    seed gives the same resampled tracks for every metric and every model of a test set.
    Macro-F1 is per class 2 TP / (true + predicted), 0 where both are 0, averaged over all
    ``n_classes`` labels: ``f1_score(average="macro", labels=range(n_classes), zero_division=0)``.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {METRICS}")
    y_true, y_pred = _labels(y_true, n_classes), _labels(y_pred, n_classes)
    n = len(y_true)
    if n == 0 or len(y_pred) != n:
        raise ValueError(f"need as many predictions as labels, at least one ({n} vs {len(y_pred)})")
    idx = np.random.default_rng(seed).integers(0, n, (resamples, n))
    # counts[r, t]: how often resample r drew track t; every score is then a matrix product of
    # whole numbers (exact in float64, whatever the BLAS's summation order: bit-reproducible).
    idx += (np.arange(resamples, dtype=np.int64) * n)[:, None]
    counts = np.bincount(idx.ravel(), minlength=resamples * n).reshape(resamples, n).astype(float)
    correct = (y_true == y_pred).astype(float)
    if metric == "accuracy":
        return counts @ correct / n
    eye = np.eye(n_classes)
    tp = counts @ (eye[y_true] * correct[:, None])  # per resample and class: true positives
    total = counts @ (eye[y_true] + eye[y_pred])  # true + predicted = 2 TP + FP + FN
    f1 = np.divide(2.0 * tp, total, out=np.zeros(total.shape), where=total > 0)
    return f1.mean(axis=1)


def bootstrap_interval(y_true, y_pred, metric: str, *, n_classes: int, resamples: int = RESAMPLES,
                       level: float = LEVEL, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` ("accuracy" or "macro_f1") over the test tracks.

    The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles (linear interpolation) of
    :func:`resampled_scores`; equal to ``scipy.stats.bootstrap((indices,), ..., paired=True,
    method="percentile", rng=np.random.default_rng(seed))`` on the same data.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), not {level}")
    scores = resampled_scores(y_true, y_pred, metric, n_classes=n_classes, resamples=resamples, seed=seed)
    alpha = (1 - level) / 2
    low, high = np.quantile(scores, [alpha, 1 - alpha])
    return float(low), float(high)


def mcnemar_exact(correct_a, correct_b) -> dict:
    """Exact McNemar test of two classifiers on the same tracks (``correct_*``: per track, right?).

    Only discordant tracks count: ``a_only`` (a right, b wrong) and ``b_only``. Under "equally
    accurate" each discordant track is a fair coin, so the two-sided p-value is the binomial
    test of ``a_only`` out of ``a_only + b_only`` at p = 0.5 (1.0 with no discordant track).
    """
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"need two 1-D arrays of the same length, got {a.shape} and {b.shape}")
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = a_only + b_only
    p = float(binomtest(a_only, n, 0.5).pvalue) if n else 1.0
    return {"a_only": a_only, "b_only": b_only, "p_value": min(p, 1.0)}


def _mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample std (ddof=1; NaN for fewer than two values)."""
    values = np.asarray(values, dtype=float)
    std = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
    return float(np.mean(values)), std


def aggregate_repeats(summaries: dict) -> dict:
    """Test accuracy and macro-F1 of each model across runs with different seeds.

    ``summaries`` maps seed -> a run's summary.json dict. Returns summary.json's ``"repeats"``
    entry: ``{"seeds": [...], "models": {name: {"repeats", "seeds", "test_accuracy_mean",
    "test_accuracy_std", "macro_f1_mean", "macro_f1_std", "test_accuracy": [...], "macro_f1":
    [...]}}}``, seeds ascending, models in order of first appearance; a model missing from some
    runs is aggregated over the seeds that have it (``repeats`` says how many). Std is the
    sample std (ddof=1), NaN with one seed.
    """
    seeds = sorted(int(s) for s in summaries)
    by_seed = {int(s): summary for s, summary in summaries.items()}
    models: dict[str, dict] = {}
    for seed in seeds:
        for name, m in by_seed[seed].get("models", {}).items():
            entry = models.setdefault(name, {"seeds": [], "test_accuracy": [], "macro_f1": []})
            entry["seeds"].append(seed)
            entry["test_accuracy"].append(m.get("test_accuracy"))
            entry["macro_f1"].append(m.get("macro_f1"))
    out = {}
    for name, entry in models.items():
        acc_mean, acc_std = _mean_std(entry["test_accuracy"])
        f1_mean, f1_std = _mean_std(entry["macro_f1"])
        out[name] = {"repeats": len(entry["seeds"]), "seeds": entry["seeds"],
                     "test_accuracy_mean": acc_mean, "test_accuracy_std": acc_std,
                     "macro_f1_mean": f1_mean, "macro_f1_std": f1_std,
                     "test_accuracy": entry["test_accuracy"], "macro_f1": entry["macro_f1"]}
    return {"seeds": seeds, "models": out}


def confidence_threshold(confidence, correct, precision: float = 0.95) -> dict | None:
    """The ``predict --min-confidence`` that keeps ``precision`` on a run's test tracks.

    Files below the threshold become ``unknown``; among those kept, the fraction predicted right
    is at least ``precision``. The lowest such threshold (the most files kept) of the test tracks'
    own confidences: ``{"precision", "min_confidence", "kept", "kept_precision"}``, or None when no
    threshold reaches it (not even the single most confident track)."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, bool)
    if len(confidence) == 0:
        return None
    order = np.argsort(-confidence, kind="stable")
    conf, hits = confidence[order], np.cumsum(correct[order])
    # a threshold keeps every track at or above it: the last index of each run of equal confidences
    last = np.r_[np.flatnonzero(np.diff(conf) != 0), len(conf) - 1]
    kept_precision = hits[last] / (last + 1)
    good = np.flatnonzero(kept_precision >= precision - 1e-12)
    if not len(good):
        return None
    best = last[good[-1]]
    return {"precision": float(precision), "min_confidence": round(float(conf[best]), 6),
            "kept": round(float((best + 1) / len(conf)), 6), "kept_precision": round(float(hits[best] / (best + 1)), 6)}
