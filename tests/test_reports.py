"""mgc.reports: grid / confusion / learning-curve / comparison PNGs, metrics and tables."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.image import imread
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from mgc.reports import (
    COMPARISON_COLUMNS,
    classification_report_text,
    comparison_markdown,
    comparison_table,
    evaluation_metrics,
    plot_comparison,
    plot_confusion_matrix,
    plot_grid,
    plot_learning_curves,
    write_classification_report,
    write_comparison,
    write_summary_json,
)
from mgc.reports.plots import _grid_lines

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GENRES = ["Electronic", "Experimental", "Folk", "Hip-Hop",
          "Instrumental", "International", "Pop", "Rock"]


def make_grid(params: dict[str, list], k: int = 3, seed: int = 0) -> pd.DataFrame:
    """A fake CV grid: one row per combination, fold scores, mean/std, mean_epochs."""
    rng = np.random.default_rng(seed)
    rows = []
    for combo in itertools.product(*params.values()):
        folds = rng.uniform(0.55, 0.7, size=k)
        row = dict(zip(params, combo))
        row.update({f"fold_{i + 1}": f for i, f in enumerate(folds)})
        row.update(mean_accuracy=folds.mean(), std_accuracy=folds.std(), mean_epochs=12.0)
        rows.append(row)
    return pd.DataFrame(rows)


CNN = {"dropout": [0.3, 0.4, 0.5], "learning_rate": [1e-4, 1e-3, 1e-2]}
MLP = {"width": [128, 256, 512], "depth": [1, 2, 3], "learning_rate": [1e-4, 1e-3, 1e-2]}
FUSION = {"width": [64, 128, 256], "depth": [1, 2, 3]}


def assert_png(path, min_bytes: int = 1024) -> np.ndarray:
    """A real, non-blank PNG; returns its RGB pixels (floats in [0, 1])."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > min_bytes
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    rgb = image[..., :3]
    assert rgb.std() > 0.02, f"{path.name} is (nearly) one flat colour"
    return rgb


def pixels_of(rgb: np.ndarray, colour, tolerance: float = 0.08) -> int:
    """How many pixels are within ``tolerance`` of a matplotlib colour ("C0", "gold", an RGB tuple)."""
    return int((np.abs(rgb - np.array(to_rgb(colour))).max(axis=-1) < tolerance).sum())


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plot functions save, in order (each is still written to its PNG)."""
    import mgc.reports.plots as plots

    figures, save = [], plots._save

    def keep(fig, path):
        figures.append(fig)
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", keep)
    return figures


def assert_grid_figure(fig, grid: pd.DataFrame, rgb: np.ndarray) -> None:
    """One error-bar line per ``_grid_lines`` entry with the grid's mean accuracies, a star on the
    best combination, its note, and a legend naming every line; the lines' colours are in the PNG."""
    x_name, lines = _grid_lines(grid)
    [ax] = fig.axes
    drawn_lines = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert [c.get_label() for c in drawn_lines] == list(lines)
    for container, part in zip(drawn_lines, lines.values()):
        data_line, caps, bars = container.lines
        np.testing.assert_allclose(np.asarray(data_line.get_ydata(), float), part["mean_accuracy"].to_numpy(float))
        assert len(data_line.get_xdata()) == len(part) and len(caps) == 2 and len(bars) == 1
    [star] = [line for line in ax.lines if line.get_marker() == "*"]
    assert list(star.get_ydata()) == [grid["mean_accuracy"].max()]
    [note] = [t for t in ax.texts if t.get_text().startswith("best ")]
    assert note.get_text().startswith(f"best {grid['mean_accuracy'].max():.4f}")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [*lines, "best"]
    assert ax.get_xlabel().startswith(x_name.replace("_", " "))
    for i in range(min(len(lines), 10)):  # the default colour cycle, one colour per line
        assert pixels_of(rgb, f"C{i}") > 30, f"line {i} (C{i}) is not in the PNG"
    assert pixels_of(rgb, "gold") > 30  # the star


@pytest.mark.parametrize("params, rows", [(CNN, 9), (MLP, 27), (FUSION, 9),
                                          ({"learning_rate": [1e-3]}, 1)],
                         ids=["cnn", "mlp", "fusion", "single"])
def test_plot_grid_writes_png(tmp_path, params, rows, drawn):
    grid = make_grid(params)
    assert len(grid) == rows
    path = plot_grid(grid, "model", tmp_path / "sub" / "grid.png")
    assert path == tmp_path / "sub" / "grid.png"
    [fig] = drawn
    assert_grid_figure(fig, grid, assert_png(path))
    assert fig.axes[0].get_title() == "model: mean 3-fold CV accuracy"


def test_plot_grid_single_row_with_other_params(tmp_path, drawn):
    grid = make_grid({"width": [64], "depth": [2]})
    rgb = assert_png(plot_grid(grid, "fusion", tmp_path / "one.png"))
    [fig] = drawn
    assert_grid_figure(fig, grid, rgb)  # one line of one point: "depth=2" against width
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["64"]
    [note] = [t for t in fig.axes[0].texts if t.get_text().startswith("best ")]
    assert note.get_text().endswith("\n(depth=2)")


def test_plot_grid_takes_text_values_and_puts_c_on_a_log_axis(tmp_path, drawn):
    """An SVM grid: C (decades) on a log x axis, one line per gamma, "scale" beside numbers."""
    grid = make_grid({"gamma": ["scale", 0.01], "C": [0.1, 1.0, 10.0]})
    path = plot_grid(grid, "svm", tmp_path / "svm.png")
    assert_grid_figure(drawn[-1], grid, assert_png(path))
    ax = drawn[-1].axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel().startswith("C")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["gamma=0.01", "gamma=scale", "best"]
    plot_grid(make_grid({"gamma": ["scale", "auto", 0.01]}), "svm", tmp_path / "gamma.png")  # text on x
    assert [t.get_text() for t in drawn[-1].axes[0].get_xticklabels()] == ["0.01", "auto", "scale"]


def test_plot_grid_is_deterministic(tmp_path):
    grid = make_grid(CNN)
    a = plot_grid(grid, "cnn", tmp_path / "a.png").read_bytes()
    b = plot_grid(grid, "cnn", tmp_path / "b.png").read_bytes()
    assert a == b


def test_grid_lines_cnn():
    x_name, lines = _grid_lines(make_grid(CNN))
    assert x_name == "learning_rate"
    assert list(lines) == ["dropout=0.3", "dropout=0.4", "dropout=0.5"]
    for part in lines.values():
        assert part["learning_rate"].tolist() == [1e-4, 1e-3, 1e-2]


def test_grid_lines_mlp_and_fusion():
    x_name, lines = _grid_lines(make_grid(MLP))
    assert x_name == "learning_rate"
    assert len(lines) == 9 and "width=64, depth=2" not in lines
    assert "width=128, depth=2" in lines
    x_name, lines = _grid_lines(make_grid(FUSION))
    assert x_name == "width"
    assert list(lines) == ["depth=1", "depth=2", "depth=3"]


def test_grid_lines_falls_back_to_first_param():
    x_name, lines = _grid_lines(make_grid({"dropout": [0.2, 0.5], "depth": [1, 2]}))
    assert x_name == "dropout"
    assert list(lines) == ["depth=1", "depth=2"]


def test_confusion_learning_curves_comparison_pngs(tmp_path, drawn):
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, len(GENRES), 200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, len(GENRES), 200))
    rgb = assert_png(plot_confusion_matrix(y_true, y_pred, GENRES, tmp_path / "cm.png", "CNN"))
    ax, _colorbar = drawn[-1].axes
    [image] = ax.images  # the counts, one cell per (true, predicted) pair, each written in its cell
    np.testing.assert_array_equal(image.get_array(), confusion_matrix(y_true, y_pred, labels=range(len(GENRES))))
    assert sorted(int(t.get_text()) for t in ax.texts) == sorted(confusion_matrix(y_true, y_pred).ravel())
    assert [t.get_text() for t in ax.get_xticklabels()] == [t.get_text() for t in ax.get_yticklabels()] == GENRES
    assert ax.get_title() == "CNN"
    assert pixels_of(rgb, image.cmap(1.0)[:3]) > 500  # the darkest blue: the diagonal's cells

    epochs = np.arange(10)
    history = pd.DataFrame({"epoch": epochs, "accuracy": 0.4 + 0.03 * epochs,
                            "loss": 1.8 - 0.1 * epochs})
    rgb = assert_png(plot_learning_curves(history, tmp_path / "train_only.png"))
    assert [len(ax.lines) for ax in drawn[-1].axes] == [1, 1]
    assert pixels_of(rgb, "C0") > 200
    history["val_accuracy"] = 0.38 + 0.025 * epochs
    history["val_loss"] = 1.9 - 0.08 * epochs
    rgb = assert_png(plot_learning_curves(history, tmp_path / "curves.png", title="MLP"))
    fig = drawn[-1]
    assert [ax.get_title() for ax in fig.axes] == ["accuracy", "loss"]
    for ax, metric in zip(fig.axes, ("accuracy", "loss")):
        train, validation = ax.lines
        np.testing.assert_array_equal(train.get_xdata(), epochs)
        np.testing.assert_allclose(train.get_ydata(), history[metric])
        np.testing.assert_allclose(validation.get_ydata(), history[f"val_{metric}"])
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]
    assert fig.get_suptitle() == "MLP"
    assert pixels_of(rgb, "C0") > 200 and pixels_of(rgb, "C1") > 200

    table = comparison_table(SUMMARY)
    rgb = assert_png(plot_comparison(table, tmp_path / "cmp.png"))
    [ax] = drawn[-1].axes
    cv, test = [c for c in ax.containers if isinstance(c, BarContainer)]
    # feature_fusion has no CV score: 2 CV bars, 3 test bars, each bar labelled with its value
    np.testing.assert_allclose([bar.get_height() for bar in cv], [0.6781, 0.67])
    np.testing.assert_allclose([bar.get_height() for bar in test], [0.6846, 0.6854, 0.7046])
    assert sorted(t.get_text() for t in ax.texts) == ["67.00%", "67.81%", "68.46%", "68.54%", "70.46%"]
    assert [t.get_text() for t in ax.get_xticklabels()] == table["model"].tolist()
    assert [t.get_text() for t in drawn[-1].legends[0].get_texts()] == ["mean CV accuracy", "test accuracy"]
    assert pixels_of(rgb, "C0") > 1000 and pixels_of(rgb, "C1") > 1000
    # the test bars' error bars span the bootstrap interval (cnn has none: a zero-length bar)
    [segments] = [c.get_segments() for c in test.errorbar.lines[2]]
    spans = np.array([(seg[0][1], seg[1][1]) for seg in segments], float)
    np.testing.assert_allclose(spans, [(0.6846, 0.6846), (0.62, 0.75), (0.65, 0.76)])


def test_classification_report():
    y_true = [0, 1, 2, 2, 3, 4, 5, 6, 7, 7]
    y_pred = [0, 1, 2, 1, 3, 4, 5, 6, 7, 0]
    text = classification_report_text(y_true, y_pred, GENRES)
    for genre in GENRES:
        assert genre in text
    assert "macro avg" in text


def test_write_classification_report(tmp_path):
    y_true = [0, 1, 2, 2, 3, 4, 5, 6, 7, 7]
    y_pred = [0, 1, 2, 1, 3, 4, 5, 6, 0, 0]  # class 7 never predicted: zero_division=0
    report = write_classification_report(y_true, y_pred, GENRES, tmp_path / "r" / "report.txt")
    text = (tmp_path / "r" / "report.txt").read_text()
    assert all(genre in text for genre in GENRES) and "macro avg" in text
    assert report["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert report["Rock"]["precision"] == 0.0


def test_evaluation_metrics():
    y_true = np.array([0, 1])
    proba = np.array([[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]], dtype=np.float32)
    metrics = evaluation_metrics(y_true, proba)
    y_pred = proba.argmax(axis=1)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred)) == 0.5
    assert metrics["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, labels=[0, 1, 2], average="macro", zero_division=0))
    assert metrics["loss"] == pytest.approx((math.log(2) + math.log(4)) / 2, rel=1e-6)
    assert metrics["n"] == 2
    assert all(type(metrics[k]) is float for k in ("accuracy", "loss", "macro_f1"))
    assert type(metrics["n"]) is int


def test_evaluation_metrics_clips_zero_probability():
    metrics = evaluation_metrics([1], [[1.0, 0.0]])
    assert metrics["loss"] == pytest.approx(-math.log(1e-7), rel=1e-6)


SUMMARY = {
    "dataset": "fma_small",
    "split": {"test": 0.2, "seed": 42},
    "bootstrap": {"resamples": 1000, "level": 0.95, "seed": 42},
    "models": {  # cnn: a summary from before the intervals
        "cnn": {"test_accuracy": 0.6846, "test_loss": 0.95, "macro_f1": 0.68,
                "cv_mean": 0.6781, "cv_std": 0.0048,
                "best_params": {"learning_rate": 0.001, "dropout": 0.5}},
        "mlp": {"test_accuracy": 0.6854, "test_accuracy_ci": [0.62, 0.75], "test_loss": 0.93,
                "macro_f1": 0.681, "macro_f1_ci": [0.61, 0.74],
                "cv_mean": 0.67, "cv_std": 0.01, "best_params": {"width": 256}},
        "feature_fusion": {"test_accuracy": 0.7046, "test_accuracy_ci": [0.65, 0.76], "test_loss": 0.9,
                           "macro_f1": 0.70, "macro_f1_ci": [0.64, 0.7512],
                           "cv_mean": None, "cv_std": None, "best_params": {}},
    },
    "fusion_vs_single": {"best_single": "mlp", "best_single_accuracy": 0.6854,
                         "at_least_best_single": {"feature_fusion": True},
                         "mcnemar": {"feature_fusion": {"a_only": 9, "b_only": 1, "p_value": 0.021484375}}},
}


def test_comparison_table():
    table = comparison_table(SUMMARY)
    assert list(table.columns) == ["model", "cv_accuracy", "cv_std", "test_accuracy", "test_loss", "macro_f1",
                                   "test_accuracy_low", "test_accuracy_high", "macro_f1_low", "macro_f1_high",
                                   "p_vs_best_single", "best_params"]
    assert list(table.columns) == list(COMPARISON_COLUMNS)
    assert table["model"].tolist() == ["cnn", "mlp", "feature_fusion"]
    assert table.loc[0, "best_params"] == "dropout=0.5, learning_rate=0.001"
    assert math.isnan(table.loc[2, "cv_accuracy"])
    assert table.loc[1, ["test_accuracy_low", "test_accuracy_high", "macro_f1_low", "macro_f1_high"]].tolist() \
        == [0.62, 0.75, 0.61, 0.74]
    assert table[["test_accuracy_low", "macro_f1_high"]].iloc[0].isna().all()  # no interval: empty
    assert table["p_vs_best_single"].tolist()[2] == 0.021484375
    assert table["p_vs_best_single"].iloc[:2].isna().all()  # single-modality models: no p


def test_write_comparison(tmp_path):
    paths = write_comparison(SUMMARY, tmp_path / "results")
    assert set(paths) == {"csv", "md", "png"}
    md = paths["md"].read_text()
    assert md.startswith("# Model comparison\n")
    assert "fma_small" in md and "seed=42" in md
    assert "70.46 %" in md and "67.81 % ± 0.48" in md
    rows = {line.split(" | ")[0][2:]: line for line in md.splitlines() if line.startswith("| ")}
    assert rows["Model"] == ("| Model | CV accuracy | Test accuracy | Test loss | Macro-F1 | p vs best single "
                             "| Best parameters |")
    assert rows["feature_fusion"] == ("| feature_fusion | – | 70.46 % [65.00, 76.00] | 0.9000 "
                                      "| 0.7000 [0.6400, 0.7512] | 0.0215 | – |")
    assert rows["mlp"] == "| mlp | 67.00 % ± 1.00 | 68.54 % [62.00, 75.00] | 0.9300 | 0.6810 [0.6100, 0.7400] " \
                          "| – | width=256 |"
    assert rows["cnn"].startswith("| cnn | 67.81 % ± 0.48 | 68.46 % | 0.9500 | 0.6800 | – |")
    assert ("[low, high]: 95 % percentile bootstrap interval over the test tracks (1000 resamples, seed 42); "
            "p: two-sided exact McNemar test against mlp, the best single-modality model, on the same test "
            "tracks.") in md
    assert "## Across" not in md and "repeats" not in paths
    back = pd.read_csv(paths["csv"])
    assert list(back.columns) == list(comparison_table(SUMMARY).columns)
    assert back["test_accuracy"].tolist() == [0.6846, 0.6854, 0.7046]
    assert back["test_accuracy_low"].tolist()[1:] == [0.62, 0.65]
    assert back["p_vs_best_single"].tolist()[2] == 0.0215  # "%.4f"
    assert math.isnan(back.loc[2, "cv_accuracy"]) and back["p_vs_best_single"].iloc[:2].isna().all()
    assert_png(paths["png"])
    old = {**SUMMARY, "models": {"cnn": SUMMARY["models"]["cnn"]}, "fusion_vs_single": {}}
    assert "[low, high]" not in comparison_markdown(old)  # nothing to explain: no note


def test_write_summary_json(tmp_path):
    summary = {"b": np.float32(0.5), "a": np.int64(3), "nan": float("nan"),
               "np_nan": np.float64("nan"), "arr": np.array([1.0, np.nan]),
               "nested": {"x": [np.int32(1), None]}}
    path = write_summary_json(summary, tmp_path / "s" / "summary.json")
    text = path.read_text()
    assert text.endswith("}\n")
    data = json.loads(text)
    assert list(data) == ["b", "a", "nan", "np_nan", "arr", "nested"]
    assert data == {"b": 0.5, "a": 3, "nan": None, "np_nan": None, "arr": [1.0, None],
                    "nested": {"x": [1, None]}}


def test_grid_x_axis_is_a_parameter_that_varies():
    from mgc.reports.plots import _grid_lines

    grid = pd.DataFrame({"depth": [2, 2, 3, 3], "learning_rate": [1e-3] * 4, "width": [64, 128, 64, 128],
                         "mean_accuracy": [0.7, 0.8, 0.75, 0.79], "std_accuracy": [0.01] * 4})
    x_name, lines = _grid_lines(grid)
    assert x_name == "width" and list(lines) == ["depth=2", "depth=3"]  # a single learning rate is no axis


REPORT_CLASSES = GENRES[:4]


def fake_experiment(workdir, seed: int = 0, hits: dict[str, float] | None = None, n: int = 60):
    """What write_report reads of an Experiment, and test_predictions.csv per model (each model
    right about ``hits[name]`` of the time on the same tracks, rows in its own order)."""
    from types import SimpleNamespace

    hits = hits or {"cnn": 0.55, "mlp": 0.6, "feature_fusion": 0.75, "joint": 0.7}
    rng = np.random.default_rng(seed)
    tracks = [f"{i:06d}" for i in rng.choice(100_000, n, replace=False)]
    truth = rng.integers(0, len(REPORT_CLASSES), n)
    metrics = {}
    for name, hit in hits.items():
        predicted = np.where(rng.random(n) < hit, truth, rng.integers(0, len(REPORT_CLASSES), n))
        frame = pd.DataFrame({"track_id": tracks, "genre": np.array(REPORT_CLASSES)[truth],
                              "predicted": np.array(REPORT_CLASSES)[predicted], "confidence": 0.5,
                              **{f"p_{g}": 0.25 for g in REPORT_CLASSES}})
        frame = frame.sample(frac=1, random_state=len(name))  # each file in its own row order
        (workdir / "models" / name).mkdir(parents=True, exist_ok=True)
        frame.to_csv(workdir / "models" / name / "test_predictions.csv", index=False)
        metrics[name] = {"accuracy": accuracy_score(truth, predicted), "loss": 1.0,
                         "macro_f1": f1_score(truth, predicted, average="macro", zero_division=0,
                                              labels=list(range(len(REPORT_CLASSES))))}
    exp = SimpleNamespace(
        config=SimpleNamespace(run=SimpleNamespace(name="demo", seed=seed), dataset=SimpleNamespace(kind="synthetic"),
                                  split=SimpleNamespace(method="stratified")),
        manifest=pd.DataFrame({"split": ["test"] * n + ["train"] * 2 * n}), classes=list(REPORT_CLASSES),
        results_dir=workdir / "results", model_dir=lambda name: workdir / "models" / name)
    return exp, metrics


def read_predictions(exp, name):
    frame = pd.read_csv(exp.model_dir(name) / "test_predictions.csv", dtype={"track_id": str})
    return frame.sort_values("track_id").set_index("track_id")


def test_write_report_intervals_and_mcnemar(tmp_path):
    from mgc.reports.run import write_report
    from mgc.reports.stats import bootstrap_interval, mcnemar_exact

    exp, metrics = fake_experiment(tmp_path, seed=3)
    printed = []
    path = write_report(exp, metrics, echo=printed.append)
    summary = json.loads(path.read_text())
    assert summary["bootstrap"] == {"resamples": 1000, "level": 0.95, "seed": 3}
    lookup = {g: i for i, g in enumerate(REPORT_CLASSES)}
    for name, entry in summary["models"].items():
        frame = read_predictions(exp, name)
        y_true, y_pred = frame["genre"].map(lookup).to_numpy(), frame["predicted"].map(lookup).to_numpy()
        for key, metric in (("test_accuracy_ci", "accuracy"), ("macro_f1_ci", "macro_f1")):
            assert entry[key] == list(bootstrap_interval(y_true, y_pred, metric, n_classes=4, seed=3))
        assert entry["test_accuracy_ci"][0] <= entry["test_accuracy"] <= entry["test_accuracy_ci"][1]
    check = summary["fusion_vs_single"]
    single = max(("cnn", "mlp"), key=lambda n: metrics[n]["accuracy"])
    assert check["best_single"] == single and set(check["at_least_best_single"]) == {"feature_fusion", "joint"}
    assert list(check["mcnemar"]) == ["feature_fusion", "joint"]
    best = read_predictions(exp, single)
    for name, result in check["mcnemar"].items():
        frame = read_predictions(exp, name)  # the same tracks, rows aligned by track id
        assert result == mcnemar_exact(frame["genre"] == frame["predicted"], best["genre"] == best["predicted"])
    table = pd.read_csv(tmp_path / "results" / "comparison.csv")
    assert list(table.columns) == list(COMPARISON_COLUMNS)
    assert table["p_vs_best_single"].isna().tolist() == [True, True, False, False]
    lows = [m["test_accuracy_ci"][0] for m in summary["models"].values()]
    np.testing.assert_allclose(table["test_accuracy_low"], lows, atol=5e-5)  # "%.4f"
    md = (tmp_path / "results" / "comparison.md").read_text()
    assert printed[0] == md.strip()  # the stage prints the table, intervals and p-values included
    fusion = next(line for line in md.splitlines() if line.startswith("| feature_fusion"))
    low, high = summary["models"]["feature_fusion"]["test_accuracy_ci"]
    assert f"{summary['models']['feature_fusion']['test_accuracy']:.2%}"[:-1] + f" % [{low:.2%}"[:-1] in fusion
    assert f"| {check['mcnemar']['feature_fusion']['p_value']:.4f} |" in fusion
    assert f"exact McNemar test against {single}," in md and "(1000 resamples, seed 3)" in md
    assert "McNemar p = " in printed[1]
    assert not (tmp_path / "results" / "repeats.csv").exists()


def test_write_report_is_deterministic_and_checks_tracks(tmp_path):
    from mgc.errors import UserError
    from mgc.reports.run import write_report

    exp, metrics = fake_experiment(tmp_path)
    files = ["summary.json", "comparison.csv", "comparison.md"]
    write_report(exp, metrics, echo=lambda *_: None)
    first = {f: (tmp_path / "results" / f).read_bytes() for f in files}
    write_report(exp, metrics, echo=lambda *_: None)
    assert {f: (tmp_path / "results" / f).read_bytes() for f in files} == first
    frame = pd.read_csv(exp.model_dir("joint") / "test_predictions.csv", dtype={"track_id": str})
    frame.iloc[1:].to_csv(exp.model_dir("joint") / "test_predictions.csv", index=False)
    with pytest.raises(UserError, match="joint and (cnn|mlp) were tested on different tracks"):
        write_report(exp, metrics, echo=lambda *_: None)


def test_write_report_across_seeds(tmp_path):
    from mgc.reports.run import write_report

    hits = {"cnn": 0.55, "mlp": 0.6, "feature_fusion": 0.75}
    other = json.loads(write_report(*fake_experiment(tmp_path / "seed1", 1, hits), echo=lambda *_: None).read_text())
    exp, metrics = fake_experiment(tmp_path / "seed0", 0)  # the joint model only in this run
    printed = []
    stale = {"models": {"cnn": {"test_accuracy": 0.0, "macro_f1": 0.0}}}  # replaced by this run's own
    summary = json.loads(write_report(exp, metrics, echo=printed.append, repeats={"1": other, 0: stale}).read_text())
    repeats = summary["repeats"]
    assert repeats["seeds"] == [0, 1] and list(repeats["models"]) == ["cnn", "mlp", "feature_fusion", "joint"]
    for name, entry in repeats["models"].items():
        accs = [s["models"][name]["test_accuracy"] for s in (summary, other) if name in s["models"]]
        f1s = [s["models"][name]["macro_f1"] for s in (summary, other) if name in s["models"]]
        assert entry["test_accuracy"] == accs and entry["macro_f1"] == f1s and entry["repeats"] == len(accs)
        assert entry["test_accuracy_mean"] == pytest.approx(np.mean(accs))
        assert entry["macro_f1_mean"] == pytest.approx(np.mean(f1s))
        if len(accs) > 1:
            assert entry["test_accuracy_std"] == pytest.approx(np.std(accs, ddof=1))
            assert entry["macro_f1_std"] == pytest.approx(np.std(f1s, ddof=1))
    assert repeats["models"]["joint"]["test_accuracy_std"] is None  # one seed: no spread
    table = pd.read_csv(tmp_path / "seed0" / "results" / "repeats.csv")
    assert list(table.columns) == ["model", "repeats", "test_accuracy_mean", "test_accuracy_std", "macro_f1_mean",
                                   "macro_f1_std", "test_accuracy_seed0", "test_accuracy_seed1"]
    assert table["repeats"].tolist() == [2, 2, 2, 1] and math.isnan(table.loc[3, "test_accuracy_seed1"])
    md = (tmp_path / "seed0" / "results" / "comparison.md").read_text()
    assert "\n## Across 2 seeds (0, 1)\n" in md and printed[0] == md.strip()
    joint = [line for line in md.splitlines() if line.startswith("| joint")][-1]
    assert joint.startswith(f"| joint | 1 | {summary['models']['joint']['test_accuracy']:.2%}"[:-1] + " % | ")
    assert joint.endswith(" | – |")
    write_report(exp, metrics, echo=lambda *_: None)  # one seed again: no stale repeats.csv
    assert not (tmp_path / "seed0" / "results" / "repeats.csv").exists()
