"""The seed-000 protocol end to end on pipelines/smoke.toml: grids, frozen fusions, reports."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from conftest import ROOT
from mgc.config import load_config
from mgc.models.registry import BRANCHES
from mgc.pipelines.cli import main

MODELS = ["cnn", "small_cnn", "mlp", "logit_fusion", "feature_fusion", "attention_fusion", "joint"]  # smoke.toml's


def load(workdir, name):
    return keras.saving.load_model(workdir / "models" / name / "model.keras", compile=False)


@pytest.mark.slow
def test_summary_and_comparison_cover_every_model(smoke_run):
    summary = json.loads((smoke_run / "results" / "summary.json").read_text())
    assert list(summary["models"]) == MODELS
    assert summary["classes"] == ["synthetic-electronic", "synthetic-folk", "synthetic-rock"]
    for name, entry in summary["models"].items():
        assert 0 <= entry["test_accuracy"] <= 1 and entry["test_loss"] > 0 and 0 <= entry["macro_f1"] <= 1
        assert entry["trained_on"] == ("baseline_train" if name in BRANCHES else "fusion_train")
        assert entry["best_params"]["learning_rate"] == 0.001
    assert summary["models"]["mlp"]["cv_mean"] is not None and summary["models"]["cnn"]["cv_mean"] is None
    check = summary["fusion_vs_single"]
    single = max(("cnn", "small_cnn", "mlp"), key=lambda n: summary["models"][n]["test_accuracy"])
    assert check["best_single_accuracy"] == summary["models"][single]["test_accuracy"]
    assert set(check["at_least_best_single"]) == set(MODELS) - {"cnn", "small_cnn", "mlp"}
    table = pd.read_csv(smoke_run / "results" / "comparison.csv")
    assert list(table["model"]) == MODELS
    assert list(table.columns[:6]) == ["model", "cv_accuracy", "cv_std", "test_accuracy", "test_loss", "macro_f1"]
    markdown = (smoke_run / "results" / "comparison.md").read_text()
    assert all(f"| {name} |" in markdown for name in MODELS)
    for png in ["comparison.png", "grid_mlp.png", "grid_logit_fusion.png"] + [
        f"{m}/{f}.png" for m in MODELS for f in ("confusion_matrix", "learning_curves")
    ]:
        assert imread(smoke_run / "results" / png).ndim == 3, png
    assert "macro avg" in (smoke_run / "results" / "joint" / "classification_report.txt").read_text()


@pytest.mark.slow
def test_grid_table_and_best_params(smoke_run):
    grid = pd.read_csv(smoke_run / "results" / "grid_mlp.csv")
    assert list(grid.columns) == ["depth", "width", "mean_accuracy", "std_accuracy", "mean_epochs", "fold_1", "fold_2"]
    assert list(grid["width"]) == [16, 32]
    np.testing.assert_allclose(grid["mean_accuracy"], grid[["fold_1", "fold_2"]].mean(axis=1))
    np.testing.assert_allclose(grid["std_accuracy"], grid[["fold_1", "fold_2"]].std(axis=1, ddof=0))
    best = json.loads((smoke_run / "models" / "mlp" / "best_params.json").read_text())
    assert best == grid.loc[grid["mean_accuracy"].idxmax(), ["depth", "width"]].to_dict()
    params = json.loads((smoke_run / "models" / "mlp" / "params.json").read_text())
    assert params["width"] == best["width"] and params["dropout"] == 0.4  # refit uses the best combination


@pytest.mark.slow
def test_saved_fusions_hold_the_trained_branches_unchanged(smoke_run):
    branches = {"small_cnn": load(smoke_run, "small_cnn"), "mlp": load(smoke_run, "mlp")}  # smoke's fusion_cnn
    for kind in ("logit_fusion", "feature_fusion", "attention_fusion"):
        fusion = load(smoke_run, kind)
        compared = 0
        for branch_name, branch in branches.items():
            nested = next(layer for layer in fusion.layers if layer.name.startswith(branch_name))
            for layer in nested.layers:
                for saved, trained in zip(layer.get_weights(), branch.get_layer(layer.name).get_weights()):
                    assert np.array_equal(saved, trained), (kind, layer.name)
                    compared += 1
            assert not nested.trainable
        assert compared > 20, kind  # the small CNN and the MLP, all their weights
        head = fusion.get_layer(f"{kind}_head")
        assert {id(w) for w in fusion.trainable_weights} == {id(w) for w in head.trainable_weights}


@pytest.mark.slow
def test_fusion_graph_equals_head_on_cached_outputs(smoke_run):
    from mgc.datasets.manifest import read_manifest
    from mgc.input import class_names, make_dataset

    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(smoke_run)})
    manifest = read_manifest(config)
    test = manifest[manifest["split"] == "test"]
    with np.load(smoke_run / "models" / "extracted" / "small_cnn_mlp_embedding.npz") as z:
        cached = {k: z[k] for k in ("track_id", "cnn", "mlp")}
    fusion = load(smoke_run, "feature_fusion")
    head = fusion.get_layer("feature_fusion_head")
    ds = make_dataset(config, test, class_names(manifest), include_track_id=True, batch_size=64)
    x, _ = next(iter(ds))
    ids = x.pop("track_id").numpy().astype(str)
    rows = [list(cached["track_id"]).index(t) for t in ids]
    via_graph = fusion.predict_on_batch(x)
    via_cache = head.predict_on_batch({"cnn": cached["cnn"][rows], "mlp": cached["mlp"][rows]})
    np.testing.assert_allclose(via_graph, via_cache, atol=1e-5)


@pytest.mark.slow
def test_predictions_table_and_rerun_resumes(smoke_run, capsys):
    predictions = pd.read_csv(smoke_run / "models" / "joint" / "test_predictions.csv")
    assert list(predictions.columns[:4]) == ["track_id", "genre", "predicted", "confidence"]
    probabilities = predictions.filter(like="p_").to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert main(["run", str(ROOT / "pipelines/smoke.toml"), "--workdir", str(smoke_run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("already trained") == 4  # cnn, small_cnn, mlp, joint; fusions skipped silently
    assert not [line for line in out.splitlines() if line.startswith(("grid ", "train cnn: "))
                and "already trained" not in line]  # no search or training ran again


@pytest.mark.slow
def test_summary_stage_prints_nested_models(smoke_run, capsys):
    assert main(["summary", str(ROOT / "pipelines/smoke.toml"), "--workdir", str(smoke_run),
                 "--models", "logit_fusion"]) == 0
    out = capsys.readouterr().out
    assert "logit_fusion" in out and "small_cnn" in out and "Trainable params" in out  # the fusion's branches


def test_unknown_model_or_grid_key_is_a_user_error(tmp_path):
    from mgc.errors import UserError
    from mgc.models.registry import check_config

    with pytest.raises(UserError, match="unknown key 'widht' in \\[grid.mlp\\]"):
        check_config(load_config(ROOT / "pipelines/smoke.toml", {"grid.mlp": {"widht": [1]}}))
    with pytest.raises(UserError, match="unknown model 'resnet'"):
        check_config(load_config(ROOT / "pipelines/smoke.toml", {"train.models": ["resnet"]}))


@pytest.mark.slow
def test_fusions_built_on_retrained_branches_are_retrained(smoke_run, capsys):
    import os
    import time

    mlp = smoke_run / "models" / "mlp" / "model.keras"
    time.sleep(0.05)
    os.utime(mlp)  # as if the MLP had just been retrained: newer than every fusion
    later = mlp.stat().st_mtime
    assert main(["fuse", str(ROOT / "pipelines/smoke.toml"), "--workdir", str(smoke_run), "--quiet"]) == 0
    out = capsys.readouterr().out
    for kind in ("logit_fusion", "feature_fusion", "attention_fusion"):
        assert f"train {kind}:" in out
        assert (smoke_run / "models" / kind / "model.keras").stat().st_mtime >= later
    assert main(["fuse", str(ROOT / "pipelines/smoke.toml"), "--workdir", str(smoke_run), "--quiet"]) == 0
    assert "train " not in capsys.readouterr().out  # up to date now


@pytest.mark.slow
def test_gtzan_config_runs_end_to_end_with_small_cnn_fusions(tmp_path):
    from fixtures import write_gtzan

    write_gtzan(tmp_path / "genres_original", genres=("blues", "classical", "metal"), per_genre=10, ext="au",
                seconds=4.0)
    args = ["--workdir", str(tmp_path / "run"), "--set", f"dataset.root='{tmp_path / 'genres_original'}'",
            "--set", "audio.duration=4.0", "--set", "audio.min_duration=1.0", "--set", "train.epochs=2",
            "--set", "models.joint.epochs=2", "--set", "search.folds=2", "--set", "split.method=stratified",
            "--export-dir", str(tmp_path / "exports"), "--quiet"]
    assert main(["run", str(ROOT / "pipelines/gtzan.toml"), *args]) == 0
    summary = json.loads((tmp_path / "run" / "results" / "summary.json").read_text())
    assert list(summary["models"]) == ["svm", "logreg", "small_cnn", "mlp", "joint", "logit_fusion",
                                       "feature_fusion", "attention_fusion"]
    assert (tmp_path / "run" / "models" / "extracted" / "small_cnn_mlp_embedding.npz").is_file()
    joint = json.loads((tmp_path / "run" / "models" / "joint" / "params.json").read_text())
    assert joint["mlp_widths"] == [128, 64, 32] and joint["l2"] == 0.02 and joint["batch_size"] == 100
    exported = sorted(p.parent.parent.name for p in (tmp_path / "exports").glob("*/1/saved_model.pb"))
    assert exported == sorted(set(summary["models"]) - {"svm", "logreg"})  # small_cnn included; baselines are not
