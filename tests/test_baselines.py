"""FMA's scikit-learn baselines (svm, logreg) through the protocol, against scikit-learn called by
hand on the features the MLP's input pipeline gives: training, test metrics, the grid search's
folds, config checks, export, report, summary, predict's refusal and byte-identical reruns."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from conftest import ROOT
from mgc.config import load_config
from mgc.errors import UserError
from mgc.pipelines.cli import main

SMOKE = str(ROOT / "pipelines" / "smoke.toml")
SETTINGS = {"dataset.clips_per_genre": 20}  # 24 / 24 / 12 tracks of 3 genres: 4 s clips, seconds to extract
BASELINES = ("svm", "logreg")
# scikit-learn 1.9 deprecates SVC(probability=True), which the baseline (and this test's hand-made copy) uses
pytestmark = pytest.mark.filterwarnings("ignore:The `probability` parameter was deprecated:FutureWarning")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A prepared and extracted smoke workdir (no model trained) and the CLI arguments for it."""
    workdir = tmp_path_factory.mktemp("baselines") / "run"
    args = ["--workdir", str(workdir), "--quiet", *[a for k, v in SETTINGS.items() for a in ("--set", f"{k}={v}")]]
    for stage in ("prepare", "extract"):
        assert main([stage, SMOKE, *args]) == 0
    return workdir, args


def config_of(workdir, **overrides):
    return load_config(SMOKE, {"run.workdir": str(workdir), **SETTINGS, **overrides})


def mlp_view(config, split):
    """``(ids, x float64, y)`` of a split exactly as the MLP's tf.data pipeline gives its features."""
    from mgc.datasets.manifest import read_manifest
    from mgc.input import class_names, make_dataset

    manifest = read_manifest(config)
    tracks = manifest[manifest["split"] == split]
    ids, xs, ys = [], [], []
    for x, y in make_dataset(config, tracks, class_names(manifest), views=("features",), include_track_id=True):
        ids += [t.decode() for t in x["track_id"].numpy()]
        xs.append(x["features"].numpy())
        ys.append(y.numpy())
    return tracks, np.array(ids), np.concatenate(xs).astype(np.float64), np.concatenate(ys)


def by_hand(name, **params):
    classifier = (SVC(kernel="rbf", probability=True, random_state=0, **params) if name == "svm"
                  else LogisticRegression(max_iter=1000, random_state=0, **params))
    return make_pipeline(StandardScaler(), classifier)


@pytest.mark.parametrize("override, message", [
    ({"models.svm": {"learning_rate": 0.01}}, "unknown key 'learning_rate' in [models.svm]; known keys: C, gamma"),
    ({"grid.logreg": {"epochs": [3]}}, "unknown key 'epochs' in [grid.logreg]; known keys: C, max_iter"),
    ({"models.svm": {"C": 0}}, "[models.svm] C must be > 0, got 0"),
    ({"grid.svm": {"C": [1.0, -1.0]}}, "[grid.svm] C must be > 0, got -1.0"),
    ({"models.svm": {"gamma": "wide"}}, "[models.svm] gamma must be 'scale', 'auto' or a number, got 'wide'"),
    ({"models.svm": {"gamma": 0.0}}, "[models.svm] gamma must be > 0, got 0.0"),
    ({"models.logreg": {"max_iter": 0}}, "[models.logreg] max_iter must be >= 1, got 0"),
])
def test_baseline_tables_are_checked_when_the_config_loads(override, message):
    import re

    with pytest.raises(UserError, match=re.escape(message)):
        load_config(SMOKE, override)


def test_baseline_settings_scikit_learn_takes_are_accepted():
    from mgc.config.models import model_params

    for gamma in ("scale", "auto", 0.01, 2):
        config = load_config(SMOKE, {"models.svm": {"gamma": gamma, "C": 10}, "grid.svm": {"gamma": ["scale", 0.01]},
                                     "train.models": ["svm", "logreg", "mlp"]})
        assert model_params(config, "svm") == {"C": 10, "gamma": gamma}  # no Keras training keys
    assert model_params(config, "logreg") == {"C": 1.0, "max_iter": 1000}
    assert model_params(config, "mlp")["batch_size"] == 8  # a Keras model still gets [input] batch_size


def test_accuracy_and_macro_f1_grade_the_models_own_decisions():
    from mgc.training.metrics import evaluation_metrics

    proba = np.array([[0.6, 0.4], [0.3, 0.7], [0.55, 0.45]])
    y = [0, 1, 1]
    assert evaluation_metrics(y, proba)["accuracy"] == pytest.approx(2 / 3)
    graded = evaluation_metrics(y, proba, y_pred=[0, 1, 1])  # e.g. an SVM's decision function disagreeing
    assert graded["accuracy"] == 1.0 and graded["macro_f1"] == 1.0
    assert graded["loss"] == evaluation_metrics(y, proba)["loss"]  # the loss stays the probabilities'


def test_protocol_equals_scikit_learn_by_hand(run):
    workdir, args = run
    assert main(["train", SMOKE, *args, "--models", "svm,logreg"]) == 0
    assert main(["evaluate", SMOKE, *args, "--models", "svm,logreg"]) == 0
    config = config_of(workdir)
    _, _, x_train, y_train = mlp_view(config, "baseline_train")
    _, test_ids, x_test, y_test = mlp_view(config, "test")
    assert x_train.shape == (24, 518) and len(x_test) == 12
    for name in BASELINES:
        model = by_hand(name).fit(x_train, y_train)
        predicted, proba = model.predict(x_test), model.predict_proba(x_test)
        table = pd.read_csv(workdir / "models" / name / "test_predictions.csv", dtype={"track_id": str})
        assert list(table.columns[:4]) == ["track_id", "genre", "predicted", "confidence"]
        table = table.set_index("track_id").loc[test_ids]
        classes = sorted(table["genre"].unique())
        assert list(table["predicted"]) == [classes[i] for i in predicted], name
        np.testing.assert_allclose(table.filter(like="p_").to_numpy(), proba, atol=1e-6)
        np.testing.assert_allclose(table["confidence"], proba[np.arange(12), predicted], atol=1e-6)
        metrics = json.loads((workdir / "models" / name / "test_metrics.json").read_text())
        assert metrics["accuracy"] == accuracy_score(y_test, predicted) and metrics["n"] == 12
        params = json.loads((workdir / "models" / name / "params.json").read_text())
        assert params == ({"C": 1.0, "gamma": "scale"} if name == "svm" else {"C": 1.0, "max_iter": 1000})
        assert (workdir / "models" / name / "model.joblib").is_file()
        assert not (workdir / "models" / name / "model.keras").exists()


class Contrary:
    """A fitted baseline whose ``predict`` disagrees with the argmax of its ``predict_proba`` (as an
    SVM's decision function can): the next class. Module level, so joblib can pickle it."""

    def __init__(self, model):
        self.model, self.classes_ = model, model.classes_

    def predict_proba(self, x):
        return self.model.predict_proba(x)

    def predict(self, x):
        return (self.model.predict_proba(x).argmax(1) + 1) % len(self.classes_)


def test_predicted_and_accuracy_are_the_estimators_own_predict(run, tmp_path):
    from mgc.models.baselines import load_baseline, save_baseline

    workdir, args = run
    copy = tmp_path / "run"
    shutil.copytree(workdir, copy)
    path = copy / "models" / "svm" / "model.joblib"
    save_baseline(Contrary(load_baseline(path)), path)
    assert main(["evaluate", SMOKE, *args, "--workdir", str(copy), "--models", "svm"]) == 0  # the newer model
    table = pd.read_csv(copy / "models" / "svm" / "test_predictions.csv")
    proba = table.filter(like="p_").to_numpy()
    classes = [c[2:] for c in table.filter(like="p_").columns]
    shifted = (proba.argmax(1) + 1) % 3
    assert list(table["predicted"]) == [classes[i] for i in shifted]
    np.testing.assert_allclose(table["confidence"], proba[np.arange(len(table)), shifted], atol=1e-6)
    metrics = json.loads((copy / "models" / "svm" / "test_metrics.json").read_text())
    assert metrics["accuracy"] == float(np.mean(table["predicted"] == table["genre"]))
    original = json.loads((workdir / "models" / "svm" / "test_metrics.json").read_text())
    assert metrics["loss"] == original["loss"] and metrics["accuracy"] != original["accuracy"]


def test_a_rerun_gives_byte_identical_files(run, capsys):
    workdir, args = run
    files = ("test_predictions.csv", "test_metrics.json", "params.json")
    before = {(n, f): (workdir / "models" / n / f).read_bytes() for n in BASELINES for f in files}
    assert main(["train", SMOKE, *args, "--models", "svm,logreg"]) == 0
    assert capsys.readouterr().out.count("already trained") == 2  # resumes: nothing refitted
    for name in BASELINES:
        shutil.rmtree(workdir / "models" / name)
    assert main(["train", SMOKE, *args, "--models", "svm,logreg"]) == 0
    assert main(["evaluate", SMOKE, *args, "--models", "svm,logreg"]) == 0
    after = {(n, f): (workdir / "models" / n / f).read_bytes() for n in BASELINES for f in files}
    assert after == before


def test_grid_search_uses_the_same_folds_and_table(run):
    from mgc.splits import kfold
    from mgc.training.experiment import Experiment

    workdir, args = run
    grid = ["--set", "grid.svm.C=[0.1, 10.0]", "--set", "search.folds=3"]  # fold scores that tell folds apart
    assert main(["grid", SMOKE, *args, *grid, "--models", "svm"]) == 0
    table = pd.read_csv(workdir / "results" / "grid_svm.csv")
    folds = ["fold_1", "fold_2", "fold_3"]
    assert list(table.columns) == ["C", "mean_accuracy", "std_accuracy", "mean_epochs", *folds]
    assert list(table["C"]) == [0.1, 10.0] and list(table["mean_epochs"]) == [0.0, 0.0]
    assert (workdir / "results" / "grid_svm.png").is_file()

    config = config_of(workdir, **{"grid.svm": {"C": [0.1, 10.0]}, "search.folds": 3})
    tracks = Experiment(config, progress=False).split("baseline_train")  # the tracks the Keras search folds
    _, ids, x, y = mlp_view(config, "baseline_train")
    assert list(ids) == list(tracks["track_id"])
    for row, c in enumerate((0.1, 10.0)):
        scores = [accuracy_score(y[val], by_hand("svm", C=c).fit(x[train], y[train]).predict(x[val]))
                  for train, val in kfold(tracks, config.search.folds, config.run.seed, config.search.group_by_artist)]
        assert list(table.loc[row, folds]) == scores
    best = json.loads((workdir / "models" / "svm" / "best_params.json").read_text())
    assert best == {"C": float(table.loc[table["mean_accuracy"].idxmax(), "C"])}

    # Resumable as the Keras search: a finished combination in the .partial file is not refitted.
    (workdir / "models" / "svm" / "best_params.json").unlink()
    (workdir / "results" / "grid_svm.csv").unlink()
    partial = workdir / "results" / "grid_svm.csv.partial"
    partial.write_text(json.dumps({"params": {"C": 10.0}, "scores": [0.25, 0.5, 0.5], "epochs": [0, 0, 0]}) + "\n")
    assert main(["grid", SMOKE, *args, *grid, "--models", "svm"]) == 0
    resumed = pd.read_csv(workdir / "results" / "grid_svm.csv")
    assert list(resumed.loc[1, folds]) == [0.25, 0.5, 0.5] and not partial.exists()
    assert resumed.loc[0].equals(table.loc[0])

    # train refits on every baseline_train track with the best combination
    (workdir / "models" / "svm" / "model.joblib").unlink()
    assert main(["train", SMOKE, *args, *grid, "--models", "svm"]) == 0
    params = json.loads((workdir / "models" / "svm" / "params.json").read_text())
    assert params == {"C": json.loads((workdir / "models" / "svm" / "best_params.json").read_text())["C"],
                      "gamma": "scale"}


def test_export_skips_them_report_grades_them_predict_refuses_them(run, tmp_path, capsys):
    workdir, args = run
    exports = tmp_path / "exports"
    capsys.readouterr()
    assert main(["export", SMOKE, *args, "--models", "svm,logreg", "--export-dir", str(exports)]) == 0
    out = capsys.readouterr().out.splitlines()
    joblib = {n: workdir / "models" / n / "model.joblib" for n in BASELINES}
    assert out == [f"export {n}: skipped, a scikit-learn model is not exported as a SavedModel (not a Keras graph; "
                   f"TensorFlow Serving cannot run it); its fitted pipeline is {joblib[n]}" for n in BASELINES]
    assert not exports.exists()

    assert main(["report", SMOKE, *args, "--models", "svm,logreg"]) == 0
    comparison = pd.read_csv(workdir / "results" / "comparison.csv")
    assert list(comparison["model"]) == ["svm", "logreg"]
    summary = json.loads((workdir / "results" / "summary.json").read_text())
    for name in BASELINES:
        metrics = json.loads((workdir / "models" / name / "test_metrics.json").read_text())
        assert summary["models"][name]["test_accuracy"] == metrics["accuracy"]
        assert summary["models"][name]["trained_on"] == "baseline_train"
    assert summary["models"]["svm"]["cv_mean"] is not None  # the grid of the test before
    assert summary["fusion_vs_single"]["best_single"] in BASELINES  # the line a fusion must beat

    assert main(["summary", SMOKE, *args, "--models", "svm,logreg"]) == 0
    out = capsys.readouterr().out
    assert "SVC(" in out and "LogisticRegression(" in out and "StandardScaler()" in out

    for model in (workdir / "models" / "svm", workdir / "models" / "svm" / "model.joblib"):
        assert main(["predict", "--model", str(model), str(tmp_path / "song.wav"), "--quiet"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and "scikit-learn baseline" in err[0]
