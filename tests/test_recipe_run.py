"""The whole training recipe end to end on the smoke data: random crops with windowed evaluation,
SpecAugment, mixup, waveform copies and mixed_bfloat16 (XLA off, then on), then exports loaded
in a fresh process and predict on a real recording."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import REAL_AUDIO, ROOT
from mgc.config import load_config, parse_override
from mgc.datasets.manifest import read_manifest
from mgc.input import class_names, make_dataset

pytestmark = pytest.mark.slow

RECIPE = {
    "train.crop_seconds": "2", "train.mixed_precision": "mixed_bfloat16", "train.jit_compile": "false",
    "train.steps_per_execution": "2", "train.epochs": "2",
    "augment.time_masks": "1", "augment.freq_masks": "1", "augment.shift_seconds": "0.5", "augment.gain_db": "6",
    "augment.mixup_alpha": "0.3", "augment.copies": "1", "augment.noise_snr_db": "20", "augment.speed": "0.05",
    "train.models": '["small_cnn", "mlp", "logit_fusion", "joint"]',
}


def mgc(*args, cwd=ROOT) -> str:
    done = subprocess.run([sys.executable, "-m", "mgc.pipelines", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    return done.stdout + done.stderr


def settings(recipe: dict) -> list[str]:
    return [part for key, value in recipe.items() for part in ("--set", f"{key}={value}")]


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("recipe")
    output = mgc("run", ROOT / "pipelines/smoke.toml", "--workdir", workdir, "--quiet", *settings(RECIPE))
    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(workdir), **dict(
        parse_override(f"{k}={v}") for k, v in RECIPE.items())})
    return workdir, config, output


def test_a_crop_trained_cnn_is_graded_on_whole_tracks_by_its_windows(recipe_run):
    workdir, config, _ = recipe_run
    manifest = read_manifest(config)
    classes = class_names(manifest)
    test = manifest[manifest["split"] == "test"]
    model = keras.saving.load_model(workdir / "models/small_cnn/model.keras", compile=False)
    assert tuple(model.input["spectrogram"].shape[1:]) == (128, 87)  # 2 s crops of the 4 s clips
    ds = make_dataset(config, test, classes, views=("spectrogram",), include_track_id=True, crop_frames=87,
                      window_starts=[0, 86])
    expected = {}
    for x, _ in ds:
        p = keras.ops.convert_to_numpy(keras.ops.softmax(model.predict_on_batch(
            {"spectrogram": x["spectrogram"].numpy()}), axis=-1))
        ids = x["track_id"].numpy().astype(str)
        for i in range(0, len(ids), 2):
            assert ids[i] == ids[i + 1]
            expected[ids[i]] = p[i:i + 2].mean(axis=0)
    table = pd.read_csv(workdir / "models/small_cnn/test_predictions.csv", dtype={"track_id": str})
    assert sorted(table["track_id"]) == sorted(test["track_id"])
    for _, row in table.iterrows():
        np.testing.assert_allclose([row[f"p_{g}"] for g in classes], expected[row["track_id"]], atol=2e-5)


def test_the_fusion_reads_whole_clips_and_the_cnn_inside_reads_windows(recipe_run):
    workdir, _, _ = recipe_run
    fusion = keras.saving.load_model(workdir / "models/logit_fusion/model.keras", compile=False)
    assert tuple(fusion.input["spectrogram"].shape[1:]) == (128, 173)
    assert fusion.get_layer("clip_windows").starts == [0, 86]
    joint = keras.saving.load_model(workdir / "models/joint/model.keras", compile=False)
    assert tuple(joint.input["spectrogram"].shape[1:]) == (128, 173)  # joint trains on whole clips
    assert joint.get_layer("spec_augment").freq_masks == 1
    convs = [layer for layer in joint._flatten_layers() if isinstance(layer, keras.layers.Conv2D)]
    assert convs and {layer.compute_dtype for layer in convs} == {"bfloat16"}  # mixed_bfloat16 was on
    assert joint.get_layer("logits").compute_dtype == "float32"


def test_copies_of_baseline_train_tracks_were_made_and_trained_on(recipe_run):
    workdir, config, output = recipe_run
    from mgc.cache.copies import copy_shards

    manifest = read_manifest(config)
    train = manifest[manifest["split"] == "baseline_train"]["track_id"].tolist()
    _, copy_ids, originals = copy_shards(config, manifest["track_id"].tolist())
    assert sorted(originals) == sorted(train) and len(copy_ids) == len(train)
    assert "augmented copies" in output


def test_exports_are_float32_and_load_in_a_fresh_process(recipe_run):
    workdir, _, _ = recipe_run
    script = """
import json, sys
import numpy as np, tensorflow as tf
base = sys.argv[1]
out = {}
for name, shape in (("small_cnn", (1, 128, 87)), ("logit_fusion", (1, 128, 173))):
    loaded = tf.saved_model.load(f"{base}/{name}/1")
    inputs = {"spectrogram": tf.constant(np.random.default_rng(0).normal(-40, 10, shape), tf.float32)}
    if name == "logit_fusion":
        inputs["features"] = tf.zeros((1, 518), tf.float32)
    result = loaded.signatures["serving_default"](**inputs)
    wave = {"waveform": tf.zeros((1, {"small_cnn": 44100, "logit_fusion": 88200}[name]), tf.float32)}
    if name == "logit_fusion":
        wave["features"] = tf.zeros((1, 518), tf.float32)
    loaded.signatures["serve_waveform"](**wave)
    out[name] = {k: v.dtype.name for k, v in result.items()}
    out[name]["sum"] = float(result["probabilities"].numpy().sum())
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", script, str(workdir / "saved_models")], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("small_cnn", "logit_fusion"):
        assert result[name]["probabilities"] == result[name]["logits"] == "float32"
        assert abs(result[name]["sum"] - 1.0) < 1e-4


def test_predict_takes_the_crop_trained_export_unchanged(recipe_run, tmp_path):
    workdir, _, _ = recipe_run
    music = sorted(REAL_AUDIO.glob("*.ogg"))[0]
    out = tmp_path / "predictions.csv"
    mgc("predict", "--model", workdir / "saved_models/small_cnn", music, "--output", out)
    table = pd.read_csv(out)
    assert len(table) == 1 and table["status"].iloc[0] == "ok"


def test_with_xla_the_same_recipe_trains_and_exports(recipe_run, tmp_path):
    workdir, _, _ = recipe_run
    copy = tmp_path / "xla"
    shutil.copytree(workdir, copy, ignore=shutil.ignore_patterns("models", "results", "saved_models", "repeats"))
    # Keras runs XLA only without TensorFlow's deterministic kernels (the config refuses the pair);
    # one model: XLA's compile on a CPU takes minutes
    recipe = {**RECIPE, "train.jit_compile": "true", "run.deterministic": "false", "train.models": '["small_cnn"]'}
    mgc("run", ROOT / "pipelines/smoke.toml", "--workdir", copy, "--quiet", *settings(recipe))
    assert (copy / "models/small_cnn/model.keras").is_file()
    assert (copy / "saved_models/small_cnn/1/saved_model.pb").is_file()
