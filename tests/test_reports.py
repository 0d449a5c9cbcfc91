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
    classification_report_text,
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
    "models": {
        "cnn": {"test_accuracy": 0.6846, "test_loss": 0.95, "macro_f1": 0.68,
                "cv_mean": 0.6781, "cv_std": 0.0048,
                "best_params": {"learning_rate": 0.001, "dropout": 0.5}},
        "mlp": {"test_accuracy": 0.6854, "test_loss": 0.93, "macro_f1": 0.681,
                "cv_mean": 0.67, "cv_std": 0.01, "best_params": {"width": 256}},
        "feature_fusion": {"test_accuracy": 0.7046, "test_loss": 0.9, "macro_f1": 0.70,
                           "cv_mean": None, "cv_std": None, "best_params": {}},
    },
}


def test_comparison_table():
    table = comparison_table(SUMMARY)
    assert list(table.columns) == ["model", "cv_accuracy", "cv_std", "test_accuracy",
                                   "test_loss", "macro_f1", "best_params"]
    assert table["model"].tolist() == ["cnn", "mlp", "feature_fusion"]
    assert table.loc[0, "best_params"] == "dropout=0.5, learning_rate=0.001"
    assert math.isnan(table.loc[2, "cv_accuracy"])


def test_write_comparison(tmp_path):
    paths = write_comparison(SUMMARY, tmp_path / "results")
    assert set(paths) == {"csv", "md", "png"}
    md = paths["md"].read_text()
    assert md.startswith("# Model comparison\n")
    assert "fma_small" in md and "seed=42" in md
    assert "70.46 %" in md and "67.81 % ± 0.48" in md
    fusion_row = next(line for line in md.splitlines() if line.startswith("| feature_fusion"))
    assert "| – |" in fusion_row
    back = pd.read_csv(paths["csv"])
    assert list(back.columns) == list(comparison_table(SUMMARY).columns)
    assert back["test_accuracy"].tolist() == [0.6846, 0.6854, 0.7046]
    assert math.isnan(back.loc[2, "cv_accuracy"])
    assert_png(paths["png"])


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
