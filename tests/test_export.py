"""SavedModel exports of the smoke run: signatures, assets, versions, fresh-process loading."""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import MUSIC, REAL_AUDIO, ROOT
from mgc.config import load_config

pytestmark = pytest.mark.slow  # every test reads the session's smoke run (conftest.smoke_run)

MODELS = ["cnn", "mlp", "logit_fusion", "feature_fusion", "attention_fusion", "joint"]


@pytest.fixture(scope="module")
def exported(smoke_run, tmp_path_factory):
    """The smoke run's exports, plus test-split inputs and Keras probabilities saved to disk."""
    import mgc.models  # noqa: F401  (registers the custom layers)
    from mgc.audio.clip import load_clip
    from mgc.input import make_dataset
    from mgc.models.registry import INPUTS
    from mgc.training.experiment import Experiment

    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(smoke_run)})
    exp = Experiment(config, progress=False)
    tracks = exp.split("test")
    x, _ = next(iter(make_dataset(config, tracks, exp.classes, batch_size=len(tracks), include_track_id=True)))
    inputs = {"spectrogram": x["spectrogram"].numpy().astype("float32"), "features": x["features"].numpy()}
    paths = tracks.set_index("track_id")["path"]
    inputs["waveform"] = np.stack([load_clip(paths[t], sample_rate=config.audio.sample_rate,
                                             duration=config.audio.duration)
                                   for t in x["track_id"].numpy().astype(str)])
    keras_probabilities = {}
    for name in MODELS:
        model = keras.saving.load_model(exp.model_path(name), compile=False)
        uses = INPUTS.get(name, ("spectrogram", "features"))
        keras_probabilities[name] = keras.ops.convert_to_numpy(
            keras.ops.softmax(model.predict({k: inputs[k] for k in uses}, verbose=0)))
    from mgc.export.logmel import LogMel

    spec = config.spectrogram
    graph = LogMel(config.audio.sample_rate, spec.n_mels, spec.n_fft, spec.hop_length, spec.top_db)
    inputs["graph_spectrogram"] = graph(inputs["waveform"]).numpy()
    folder = tmp_path_factory.mktemp("export_check")
    np.savez(folder / "inputs.npz", **inputs)
    return {"dir": smoke_run / "saved_models", "inputs": inputs, "keras": keras_probabilities, "folder": folder,
            "exp": exp}


FRESH = r"""
import json, sys
import numpy as np
import tensorflow as tf
folder, export_dir, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
inputs = dict(np.load(f"{folder}/inputs.npz"))
out = {}
for name in names:
    loaded = tf.saved_model.load(f"{export_dir}/{name}/1")
    for signature in ("serving_default", "serve_waveform"):
        fn = loaded.signatures[signature]
        args = {k: tf.constant(inputs[k]) for k in fn.structured_input_signature[1]}
        result = fn(**args)
        for key, value in result.items():
            value = value.numpy()
            out[f"{name}/{signature}/{key}"] = value.astype(str) if value.dtype == object else value
    if "spectrogram" in loaded.signatures["serving_default"].structured_input_signature[1]:
        args = {k: tf.constant(inputs[k]) for k in ("spectrogram", "features")
                if k in loaded.signatures["serving_default"].structured_input_signature[1]}
        args["spectrogram"] = tf.constant(inputs["graph_spectrogram"])
        out[f"{name}/graph_spectrogram"] = loaded.signatures["serving_default"](**args)["probabilities"].numpy()
assert not any(m == "mgc" or m.startswith("mgc.") for m in sys.modules), "mgc was imported"
np.savez(f"{folder}/outputs.npz", **out)
"""


@pytest.fixture(scope="module")
def fresh_outputs(exported):
    """Both signatures of every export, called in a process that imports only TensorFlow."""
    run = subprocess.run([sys.executable, "-c", FRESH, str(exported["folder"]), str(exported["dir"]), ",".join(MODELS)],
                         capture_output=True, text=True, cwd="/")
    assert run.returncode == 0, run.stderr[-3000:]
    with np.load(exported["folder"] / "outputs.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("name", MODELS)
def test_fresh_process_serving_default_matches_keras(exported, fresh_outputs, name):
    labels = exported["exp"].classes
    probabilities = fresh_outputs[f"{name}/serving_default/probabilities"]
    np.testing.assert_allclose(probabilities, exported["keras"][name], atol=1e-5)
    class_id = fresh_outputs[f"{name}/serving_default/class_id"]
    assert class_id.dtype == np.int64
    np.testing.assert_array_equal(class_id, probabilities.argmax(1))
    assert list(fresh_outputs[f"{name}/serving_default/genre"]) == [labels[i] for i in class_id]
    np.testing.assert_allclose(fresh_outputs[f"{name}/serving_default/logits"].shape, probabilities.shape)


@pytest.mark.parametrize("name", MODELS)
def test_fresh_process_serve_waveform_equals_serving_default_on_its_log_mel(exported, fresh_outputs, name):
    waveform = fresh_outputs[f"{name}/serve_waveform/probabilities"]
    if name == "mlp":  # the MLP reads only the features
        expected = fresh_outputs["mlp/serving_default/probabilities"]
    else:
        expected = fresh_outputs[f"{name}/graph_spectrogram"]
    np.testing.assert_allclose(waveform, expected, atol=1e-6)


def test_in_graph_log_mel_of_the_clips_matches_the_cache(exported):
    """The stated tolerance: half a float16 step (the cache stores float16 log-mels)."""
    difference = np.abs(exported["inputs"]["graph_spectrogram"] - exported["inputs"]["spectrogram"])
    assert difference.max() < 0.035


def test_in_graph_log_mel_matches_librosa_and_the_cache_on_real_clips():
    from mgc.audio.clip import load_clip
    from mgc.export.logmel import LogMel
    from mgc.features import log_mel

    graph = LogMel(22050, 128, 2048, 512, 80.0)
    for name in MUSIC[:3] + ["456440__inspectorj__bird-whistling-robin-single-13.ogg"]:
        y = load_clip(str(REAL_AUDIO / name), sample_rate=22050, duration=10.0)
        reference = log_mel(y, 22050)
        got = graph(tf.constant(y[None]))[0].numpy()
        assert got.shape == reference.shape == (128, 431)
        assert np.abs(got - reference).max() < 5e-3  # dB, against librosa in float32
        cached = reference.astype(np.float16).astype(np.float32)  # what the TFRecord cache stores
        assert np.abs(got - cached).max() < 0.035  # half a float16 step at |x| < 128 dB is 0.031


def test_assets_carry_what_a_client_needs(exported):
    from mgc.export import read_assets
    from mgc.features import feature_columns
    from mgc.io import settings_hash

    exp = exported["exp"]
    for name in MODELS:
        version_dir = exported["dir"] / name / "1"
        assets = read_assets(exported["dir"] / name)
        assert assets["model"] == name and assets["version"] == 1
        assert assets["labels"] == list(exp.classes)
        assert (version_dir / "assets" / "labels.txt").read_text().splitlines() == list(exp.classes)
        assert assets["sample_rate"] == 22050 and assets["clip_samples"] == 4 * 22050
        assert assets["spectrogram"] == {"n_mels": 128, "n_fft": 2048, "hop_length": 512, "top_db": 80.0,
                                         "frames": 173}
        assert assets["feature_columns"] == ["/".join(c) for c in feature_columns()]
        np.testing.assert_allclose(assets["feature_mean"], exp.scaler.mean)
        np.testing.assert_allclose(assets["feature_scale"], exp.scaler.scale)
        assert assets["config_hash"] == settings_hash(exp.config.to_dict())
    assert read_assets(exported["dir"] / "mlp")["inputs"] == ["features"]
    assert read_assets(exported["dir"] / "cnn")["inputs"] == ["spectrogram"]


def test_saved_model_cli_lists_named_inputs_and_outputs(exported):
    cli = ROOT / ".venv" / "bin" / "saved_model_cli"
    command = [str(cli)] if cli.is_file() else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    out = subprocess.run([*command, "show", "--all", "--dir", str(exported["dir"] / "logit_fusion" / "1")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    for signature in ("serving_default", "serve_waveform"):
        assert f"signature_def['{signature}']" in out.stdout
    for text in ("inputs['spectrogram']", "inputs['features']", "inputs['waveform']", "outputs['probabilities']",
                 "outputs['logits']", "outputs['class_id']", "outputs['genre']", "DT_STRING", "DT_INT64"):
        assert text in out.stdout, text


def test_tfsm_layer_reloads_an_export(exported):
    layer = keras.layers.TFSMLayer(str(exported["dir"] / "mlp" / "1"), call_endpoint="serving_default")
    outputs = layer({"features": exported["inputs"]["features"]})
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs["probabilities"]), exported["keras"]["mlp"],
                               atol=1e-5)


def test_wrong_input_shape_or_dtype_is_refused(exported):
    fn = tf.saved_model.load(str(exported["dir"] / "cnn" / "1")).signatures["serving_default"]
    spectrogram = exported["inputs"]["spectrogram"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible with expected shape"):
        fn(spectrogram=tf.constant(spectrogram[:, :, :100]))  # too few frames: the CNN would resize them
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        fn(spectrogram=tf.constant(spectrogram.astype("float64")))
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        fn(features=tf.constant(exported["inputs"]["features"]))  # the CNN takes no features


def test_new_export_takes_the_next_version_and_leaves_old_ones(smoke_run, exported, tmp_path):
    from mgc.pipelines.cli import main

    export_dir = tmp_path / "exports"
    args = [str(ROOT / "pipelines/smoke.toml"), "--workdir", str(smoke_run), "--export-dir", str(export_dir),
            "--models", "mlp", "--quiet"]
    assert main(["export", *args]) == 0
    first = (export_dir / "mlp" / "1" / "saved_model.pb").read_bytes()
    assert main(["export", *args]) == 0
    assert sorted(p.name for p in (export_dir / "mlp").iterdir()) == ["1", "2"]
    assert (export_dir / "mlp" / "1" / "saved_model.pb").read_bytes() == first
    assert json.loads((export_dir / "mlp" / "2" / "assets" / "mgc.json").read_text())["version"] == 2
    config = (export_dir / "models.config").read_text()
    assert f'base_path: "{export_dir}/mlp"' in config and 'model_platform: "tensorflow"' in config
    assert 'base_path: "/models/mlp"' in (export_dir / "models.docker.config").read_text()
    # `run` resuming (export with skip_unchanged) does not export an unchanged model again; the
    # stage is called directly: `run --models mlp` would rewrite the shared smoke run's reports
    import argparse

    from mgc.pipelines.export import export
    from mgc.pipelines.stages import Context

    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(smoke_run), "export.dir": str(export_dir)})
    export(Context(config, argparse.Namespace(models="mlp", quiet=True), echo=lambda *_: None, resuming=True))
    assert sorted(p.name for p in (export_dir / "mlp").iterdir()) == ["1", "2"]


@pytest.mark.parametrize("name", MODELS)
def test_predict_runs_every_export_on_real_recordings(exported, name, tmp_path):
    import pandas as pd

    from mgc.pipelines.cli import main

    clips = [str(REAL_AUDIO / MUSIC[0]), str(REAL_AUDIO / "456440__inspectorj__bird-whistling-robin-single-13.ogg")]
    out = tmp_path / "genres.csv"
    assert main(["predict", "--model", str(exported["dir"] / name), *clips, "--output", str(out), "--quiet",
                 "--workers", "1"]) == 0
    table = pd.read_csv(out)
    labels = list(exported["exp"].classes)
    assert list(table.columns) == ["path", "genre", "confidence", "status", "reason", *[f"p_{g}" for g in labels],
                                   "file_stamp"]
    assert list(table["status"]) == ["ok", "ok"] and set(table["genre"]) <= set(labels)
    np.testing.assert_allclose(table[[f"p_{g}" for g in labels]].sum(axis=1), 1.0, atol=1e-4)


def test_a_genre_name_with_a_line_break_is_refused_at_prepare(tmp_path, capsys):
    """A CSV dataset can hold "Rock\\nPop" as a genre; it would split labels.txt and shift every
    genre after it. prepare refuses it in one line; the export refuses it too."""
    import csv

    import soundfile as sf

    from mgc.export import export_model
    from mgc.pipelines.cli import main

    rows = []
    for i in range(6):
        sf.write(tmp_path / f"t{i}.wav", np.zeros(100, np.float32), 22050)
        rows.append([f"t{i}.wav", "Rock\nPop" if i % 2 else "Jazz"])
    with open(tmp_path / "tracks.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["path", "genre"], *rows])
    assert "Rock\nPop" in (tmp_path / "tracks.csv").read_text()  # quoted, as CSV allows
    code = main(["prepare", "smoke", "--workdir", str(tmp_path / "run"), "--set", "dataset.kind=csv",
                 "--set", f"dataset.csv='{tmp_path / 'tracks.csv'}'"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: genre name 'Rock\\nPop'")
    assert not (tmp_path / "run" / "manifest.csv").exists()
    with pytest.raises(ValueError, match="line break"):
        export_model(None, "m", {"labels": ["Jazz", "Rock\nPop"]}, tmp_path / "exports")
    assert not list((tmp_path / "exports" / "m").glob("[0-9]*"))


def test_the_genre_output_is_a_graph_constant_not_a_file(exported, tmp_path):
    """Removing or editing labels.txt after export cannot change the genre the model answers."""
    import shutil

    source = exported["dir"] / "mlp" / "1"
    copy = tmp_path / "mlp" / "1"
    shutil.copytree(source, copy)
    (copy / "assets" / "labels.txt").write_text("wrong\nnames\nhere\n")
    code = (
        "import sys, json, numpy as np, tensorflow as tf\n"
        f"m = tf.saved_model.load({str(copy)!r})\n"
        "out = m.signatures['serving_default'](features=tf.zeros([1, 518]))\n"
        "print(json.dumps([out['genre'].numpy()[0].decode(), int(out['class_id'].numpy()[0])]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    genre, class_id = json.loads(done.stdout.strip().splitlines()[-1])
    assert genre == list(exported["exp"].classes)[class_id]


def test_predict_refuses_a_savedmodel_that_is_not_an_mgc_export(smoke_run, tmp_path, monkeypatch, capsys):
    """A SavedModel is a program: without mgc's assets/mgc.json it is refused before TensorFlow loads it."""
    import shutil

    import mgc.serving
    from mgc.pipelines.cli import main

    def never(*args, **kwargs):
        raise AssertionError("the SavedModel was loaded")

    monkeypatch.setattr(tf.saved_model, "load", never)
    monkeypatch.setattr(mgc.serving, "Client", never)
    copy = tmp_path / "mlp"
    shutil.copytree(smoke_run / "saved_models" / "mlp", copy)
    (copy / "1" / "assets" / "mgc.json").unlink()
    clip = str(REAL_AUDIO / MUSIC[0])
    for model, server in ((copy, []), (copy / "1", []), (copy, ["--server", "http://serving:8501"])):
        assert main(["predict", "--model", str(model), clip, "--quiet", *server]) == 2
        err = capsys.readouterr().err.splitlines()
        assert err == [f"error: {copy / '1'} is not an mgc export (no assets/mgc.json); predict only runs models "
                       f"exported by mgc \u2014 load SavedModels only from sources you trust"], (model, server, err)
