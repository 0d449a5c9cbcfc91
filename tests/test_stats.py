"""mgc.reports.stats: bootstrap intervals, exact McNemar tests, the across-seeds aggregation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest, bootstrap
from sklearn.metrics import accuracy_score, f1_score
from statsmodels.stats.contingency_tables import mcnemar

from mgc.reports.stats import (
    aggregate_repeats,
    bootstrap_interval,
    confidence_threshold,
    mcnemar_exact,
    resampled_scores,
)
from mgc.reports.tables import repeats_markdown, repeats_table

K = 4


def example(n: int = 120, seed: int = 7, hit: float = 0.65) -> tuple[np.ndarray, np.ndarray]:
    """Labels over K classes and predictions right about ``hit`` of the time; class 3 is never
    predicted (its F1 is 0: zero_division)."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, K, n)
    y_pred = np.where(rng.random(n) < hit, y_true, rng.integers(0, K, n))
    return y_true, np.where(y_pred == 3, 2, y_pred)


def score(metric: str, y_true, y_pred) -> float:
    if metric == "accuracy":
        return accuracy_score(y_true, y_pred)
    return f1_score(y_true, y_pred, average="macro", labels=list(range(K)), zero_division=0)


@pytest.mark.parametrize("metric", ["accuracy", "macro_f1"])
def test_bootstrap_interval_equals_a_direct_computation(metric):
    y_true, y_pred = example()
    # Independently: the same draws, one scikit-learn score per resample, the 2.5/97.5 % quantiles.
    idx = np.random.default_rng(5).integers(0, len(y_true), (300, len(y_true)))
    direct = np.array([score(metric, y_true[i], y_pred[i]) for i in idx])
    np.testing.assert_allclose(resampled_scores(y_true, y_pred, metric, n_classes=K, resamples=300, seed=5),
                               direct, rtol=0, atol=1e-12)
    low, high = bootstrap_interval(y_true, y_pred, metric, n_classes=K, resamples=300, seed=5)
    assert (low, high) == pytest.approx(tuple(np.quantile(direct, [0.025, 0.975])), abs=1e-12)
    assert low < high
    # scipy's own percentile bootstrap over the paired tracks, same seed: the same interval.
    ref = bootstrap((np.arange(len(y_true)),), lambda i, axis=-1: np.array(
        [score(metric, y_true[j], y_pred[j]) for j in np.atleast_2d(i)]),
        paired=True, vectorized=True, method="percentile", n_resamples=300,
        rng=np.random.default_rng(5)).confidence_interval
    assert (low, high) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_macro_f1_counts_every_class():
    # Class 3 is never true nor predicted: its F1 is 0 (zero_division) and still counts in the mean.
    y_true, y_pred = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 1, 2, 0])
    scores = resampled_scores(y_true, y_pred, "macro_f1", n_classes=K, resamples=50, seed=1)
    idx = np.random.default_rng(1).integers(0, 6, (50, 6))
    assert scores.tolist() == pytest.approx([score("macro_f1", y_true[i], y_pred[i]) for i in idx], abs=1e-12)
    assert scores.max() <= 0.75  # class 3's F1 is 0 in every resample


def test_bootstrap_interval_is_seeded():
    y_true, y_pred = example()
    for metric in ("accuracy", "macro_f1"):
        a = bootstrap_interval(y_true, y_pred, metric, n_classes=K, seed=3)
        assert a == bootstrap_interval(y_true, y_pred, metric, n_classes=K, seed=3)
        assert a != bootstrap_interval(y_true, y_pred, metric, n_classes=K, seed=4)
        assert all(type(v) is float for v in a)


@pytest.mark.parametrize("metric", ["accuracy", "macro_f1"])
def test_bootstrap_interval_contains_the_estimate_and_narrows_with_more_tracks(metric):
    y_true, y_pred = example(n=100)
    low, high = bootstrap_interval(y_true, y_pred, metric, n_classes=K)
    assert low < score(metric, y_true, y_pred) < high
    # The same tracks 100 times over: the same estimate, about a tenth of the width.
    big_true, big_pred = np.tile(y_true, 100), np.tile(y_pred, 100)
    big_low, big_high = bootstrap_interval(big_true, big_pred, metric, n_classes=K)
    assert big_low < score(metric, big_true, big_pred) < big_high
    assert big_high - big_low < (high - low) / 5
    # A lower level, a narrower interval inside the 95 % one.
    half = bootstrap_interval(y_true, y_pred, metric, n_classes=K, level=0.5)
    assert low < half[0] < half[1] < high


def test_bootstrap_interval_of_a_perfect_classifier():
    y = np.arange(40) % K
    assert bootstrap_interval(y, y, "accuracy", n_classes=K) == (1.0, 1.0)


@pytest.mark.parametrize("y_true, y_pred, metric, message", [
    ([0, 1], [0, 1], "auc", "unknown metric"),
    ([0, 4], [0, 1], "accuracy", r"\[0, 4\)"),
    ([0.0, np.nan], [0, 1], "accuracy", "integer class indices"),
    ([0, 1], [0], "accuracy", "as many predictions"),
    ([], [], "accuracy", "at least one"),
])
def test_bootstrap_interval_rejects_bad_input(y_true, y_pred, metric, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_interval(y_true, y_pred, metric, n_classes=K)


def correctness(both: int, a_only: int, b_only: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-track correctness of two classifiers with the given 2x2 table, tracks shuffled."""
    a = np.array([1] * both + [1] * a_only + [0] * b_only + [0] * neither, dtype=bool)
    b = np.array([1] * both + [0] * a_only + [1] * b_only + [0] * neither, dtype=bool)
    order = np.random.default_rng(0).permutation(len(a))
    return a[order], b[order]


def test_mcnemar_hand_checked():
    # 1 vs 9 discordant tracks: p = 2 * P(X <= 1), X ~ Bin(10, 1/2) = 2 * 11 / 1024.
    result = mcnemar_exact(*correctness(40, 1, 9, 10))
    assert result == {"a_only": 1, "b_only": 9, "p_value": 0.021484375}
    assert mcnemar_exact(*correctness(40, 9, 1, 10))["p_value"] == 0.021484375


@pytest.mark.parametrize("table", [(40, 1, 9, 10), (5, 12, 30, 3), (0, 7, 0, 2), (8, 5, 5, 8), (100, 61, 39, 0)])
def test_mcnemar_matches_statsmodels_and_binomtest(table):
    both, a_only, b_only, neither = table
    result = mcnemar_exact(*correctness(*table))
    assert (result["a_only"], result["b_only"]) == (a_only, b_only)
    expected = mcnemar([[both, a_only], [b_only, neither]], exact=True).pvalue
    assert result["p_value"] == pytest.approx(expected, rel=1e-12)
    assert result["p_value"] == pytest.approx(binomtest(a_only, a_only + b_only, 0.5).pvalue, rel=1e-12)


def test_mcnemar_without_discordant_tracks():
    assert mcnemar_exact(*correctness(30, 0, 0, 5)) == {"a_only": 0, "b_only": 0, "p_value": 1.0}
    with pytest.raises(ValueError):
        mcnemar_exact([True, False], [True])


def summary(models: dict[str, tuple[float, float]]) -> dict:
    return {"models": {name: {"test_accuracy": acc, "macro_f1": f1} for name, (acc, f1) in models.items()}}


SUMMARIES = {  # seed -> summary; the joint model is missing from seed 2; keys in no order
    2: summary({"cnn": (0.60, 0.58), "mlp": (0.70, 0.69)}),
    0: summary({"cnn": (0.65, 0.61), "mlp": (0.72, 0.70), "joint": (0.75, 0.74)}),
    1: summary({"cnn": (0.62, 0.60), "mlp": (0.68, 0.66), "joint": (0.71, 0.70)}),
}


def test_aggregate_repeats():
    repeats = aggregate_repeats(SUMMARIES)
    assert repeats["seeds"] == [0, 1, 2]
    assert list(repeats["models"]) == ["cnn", "mlp", "joint"]
    cnn, joint = repeats["models"]["cnn"], repeats["models"]["joint"]
    assert cnn["test_accuracy"] == [0.65, 0.62, 0.60] and cnn["repeats"] == 3 and cnn["seeds"] == [0, 1, 2]
    assert cnn["test_accuracy_mean"] == pytest.approx(np.mean([0.65, 0.62, 0.60]))
    assert cnn["test_accuracy_std"] == pytest.approx(np.std([0.65, 0.62, 0.60], ddof=1))
    assert cnn["macro_f1_mean"] == pytest.approx(np.mean([0.61, 0.60, 0.58]))
    assert cnn["macro_f1_std"] == pytest.approx(np.std([0.61, 0.60, 0.58], ddof=1))
    assert joint["repeats"] == 2 and joint["seeds"] == [0, 1] and joint["test_accuracy"] == [0.75, 0.71]
    assert joint["test_accuracy_std"] == pytest.approx(np.std([0.75, 0.71], ddof=1))
    one = aggregate_repeats({5: SUMMARIES[0]})["models"]["cnn"]
    assert one["test_accuracy_mean"] == 0.65 and math.isnan(one["test_accuracy_std"])


def test_repeats_table_and_markdown():
    repeats = aggregate_repeats(SUMMARIES)
    table = repeats_table(repeats)
    assert list(table.columns) == ["model", "repeats", "test_accuracy_mean", "test_accuracy_std",
                                   "macro_f1_mean", "macro_f1_std", "test_accuracy_seed0",
                                   "test_accuracy_seed1", "test_accuracy_seed2"]
    assert table["repeats"].tolist() == [3, 3, 2]
    np.testing.assert_allclose(table["test_accuracy_std"], [np.std(v, ddof=1) for v in
                                                            ([0.65, 0.62, 0.60], [0.72, 0.68, 0.70], [0.75, 0.71])])
    assert math.isnan(table.loc[2, "test_accuracy_seed2"])
    md = repeats_markdown(repeats)
    assert md.startswith("## Across 3 seeds (0, 1, 2)\n")
    joint = next(line for line in md.splitlines() if line.startswith("| joint"))
    assert joint == (f"| joint | 2 | 73.00 % ± {np.std([0.75, 0.71], ddof=1) * 100:.2f} | "
                     f"0.7200 ± {np.std([0.74, 0.70], ddof=1):.4f} | 75.00 % | 71.00 % | – |")


@pytest.mark.parametrize("seed", range(5))
def test_the_suggested_min_confidence_is_the_lowest_threshold_keeping_the_precision(seed):
    """Against every candidate threshold tried directly (ties included: confidences rounded to 2 digits)."""
    rng = np.random.default_rng(seed)
    confidence = np.round(rng.uniform(0.3, 1.0, 200), 2)
    correct = rng.uniform(size=200) < confidence  # confident tracks are more often right
    for precision in (0.8, 0.9, 0.95):
        found = confidence_threshold(confidence, correct, precision)
        candidates = [t for t in np.unique(confidence) if correct[confidence >= t].mean() >= precision]
        if not candidates:
            assert found is None
            continue
        t = min(candidates)
        kept = confidence >= t
        assert found == {"precision": precision, "min_confidence": round(float(t), 6),
                         "kept": round(float(kept.mean()), 6), "kept_precision": round(float(correct[kept].mean()), 6)}


def test_no_threshold_reaches_the_precision_when_even_the_surest_track_is_wrong():
    assert confidence_threshold([0.9, 0.5], [False, True], 0.95) is None
    assert confidence_threshold([], [], 0.95) is None
    assert confidence_threshold([0.4, 0.4], [True, True], 0.95)["kept"] == 1.0
