"""The third view, ``pretrained``: musicnn's embedding of every track, cached by weights, and the
musicnn_probe trained on it (mgc.cache.pretrained, mgc.input.pretrained_view, mgc.models.musicnn)."""

from __future__ import annotations

import json
import subprocess
import sys

import joblib
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.signal import resample_poly

from conftest import MUSIC, REAL_AUDIO, ROOT, run_smoke
from mgc.audio import load_clip
from mgc.cache.pretrained import VIEW_FILE, clip_patches, extract_pretrained, pretrained_dir, pretrained_settings
from mgc.config import load_config
from mgc.contract import PRETRAINED, PRETRAINED_BRANCH, needs_pretrained
from mgc.errors import UserError
from mgc.features import musicnn_input
from mgc.input import make_dataset
from mgc.input.pretrained_view import pretrained_view, requested
from mgc.models.musicnn import build_musicnn, embedder
from mgc.models.musicnn_weights import WHEEL_SHA256, weights_id
from mgc.parallel import Done

CLIP_SECONDS = 7.0  # two 3 s patches and a dropped tail


@pytest.fixture(scope="module")
def msd(musicnn_wheel):
    """musicnn MSD's penultimate embedder (the weights from the machine's cache)."""
    return embedder("msd", "penultimate")


def _config(tmp_path, **overrides):
    return load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(tmp_path / "run"),
                                                       "audio.duration": CLIP_SECONDS, **overrides})


def _tracks(names=MUSIC[:3]) -> pd.DataFrame:
    return pd.DataFrame({"track_id": [f"t{i}" for i in range(len(names))],
                         "path": [str(REAL_AUDIO / name) for name in names], "genre": ["a", "b", "a"][:len(names)]})


def _extract(config, tracks, embed, dim, **kwargs):
    wanted = requested(config)
    settings = pretrained_settings(config, "musicnn", weights_id(wanted["weights"]), wanted["embedding"], dim)
    return extract_pretrained(config, tracks, settings, wanted, embed, **kwargs), settings


def test_a_track_s_view_is_the_mean_of_its_clip_patches_through_the_port(tmp_path, msd):
    """On real recordings: the clip of the other views ([audio] rate, offset and duration) resampled to
    16 kHz by scipy's resample_poly, musicnn's patches, the port's penultimate layer, averaged over them."""
    embed, dim = msd
    config = _config(tmp_path, **{"audio.offset": 1.0})
    tracks = _tracks()
    result, _ = _extract(config, tracks, embed, dim, workers=2, progress=False)
    assert (result.n_ok, result.n_failed, result.n_extracted, dim) == (3, 0, 3, 200)
    view = pretrained_view(config)
    assert list(view.index) == list(tracks["track_id"]) and view.shape == (3, 200)
    port = build_musicnn("msd", outputs="penultimate")
    for track_id, path in zip(tracks["track_id"], tracks["path"]):
        y = load_clip(path, sample_rate=config.audio.sample_rate, duration=CLIP_SECONDS, offset=1.0)
        patches = musicnn_input.patches(musicnn_input.log_mel(resample_poly(y, 320, 441)))
        assert patches.shape == (2, 187, 96)
        expected = keras.ops.convert_to_numpy(port.predict_on_batch({"patches": patches})).mean(axis=0)
        np.testing.assert_allclose(view.loc[track_id].to_numpy(), expected, atol=1e-5)


def test_resumes_and_one_worker_gives_the_same_bytes(tmp_path, msd):
    embed, dim = msd
    parallel, serial = _config(tmp_path / "a"), _config(tmp_path / "b")
    tracks = _tracks()
    _extract(parallel, tracks, embed, dim, workers=2, progress=False)
    _extract(serial, tracks, embed, dim, workers=1, progress=False)
    a = (tmp_path / "a" / "run" / VIEW_FILE).read_bytes()
    assert a == (tmp_path / "b" / "run" / VIEW_FILE).read_bytes()

    def no_model(patches):
        raise AssertionError("a cached track must not run the model again")

    again, _ = _extract(parallel, tracks, no_model, dim, progress=False)
    assert (again.n_extracted, again.n_ok) == (0, 3)
    assert (tmp_path / "a" / "run" / VIEW_FILE).read_bytes() == a


def test_a_clip_shorter_than_a_patch_is_padded_with_silence(tmp_path):
    audio = _config(tmp_path, **{"audio.duration": 2.0, "audio.min_duration": 1.0}).audio
    done = clip_patches(("t", str(REAL_AUDIO / MUSIC[0])), audio)
    assert isinstance(done, Done) and done.value.shape == (1, 187, 96)
    frames = musicnn_input.log_mel(np.zeros(32000, np.float32)).shape[0]  # 2 s of frames, then log10(1) = 0
    assert frames < 187 and np.all(done.value[0, frames:] == 0) and np.any(done.value[0, :frames] != 0)


def test_a_bad_file_is_a_failed_record_not_a_stop(tmp_path, msd):
    embed, dim = msd
    config = _config(tmp_path)
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(b"not audio at all")
    tracks = pd.concat([_tracks(MUSIC[:1]), pd.DataFrame({"track_id": ["bad"], "path": [str(bad)], "genre": ["a"]})])
    result, settings = _extract(config, tracks, embed, dim, progress=False)
    assert (result.n_ok, result.n_failed) == (1, 1)
    assert list(pretrained_view(config).index) == ["t0"]
    assert result.directory == pretrained_dir(config, settings)


def test_the_cache_is_keyed_by_weights_layer_and_clip(tmp_path):
    config = _config(tmp_path)
    key = pretrained_dir(config, pretrained_settings(config, "musicnn", weights_id("msd"), "penultimate", 200))
    other_weights = pretrained_dir(config, pretrained_settings(config, "musicnn", weights_id("mtt"), "penultimate",
                                                               200))
    other_layer = pretrained_dir(config, pretrained_settings(config, "musicnn", weights_id("msd"), "mean_pool", 753))
    shorter = _config(tmp_path, **{"audio.duration": 5.0})
    other_clip = pretrained_dir(shorter, pretrained_settings(shorter, "musicnn", weights_id("msd"), "penultimate",
                                                             200))
    assert len({key, other_weights, other_layer, other_clip}) == 4
    assert weights_id("msd") == f"msd@{WHEEL_SHA256}"
    local = tmp_path / "mine.weights.h5"
    local.write_bytes(b"weights")
    assert weights_id(str(local)) == "sha256@" + __import__("hashlib").sha256(b"weights").hexdigest()
    with pytest.raises(UserError, match="not found"):
        weights_id(str(tmp_path / "missing.weights.h5"))


def test_a_view_made_for_other_settings_is_refused(tmp_path, msd):
    embed, dim = msd
    config = _config(tmp_path)
    _extract(config, _tracks(MUSIC[:1]), embed, dim, progress=False)
    with pytest.raises(UserError, match="run extract"):
        pretrained_view(_config(tmp_path, **{"models.musicnn.embedding": "mean_pool"}))
    with pytest.raises(UserError, match="no .*pretrained.npz"):
        pretrained_view(_config(tmp_path / "elsewhere"))


def test_make_dataset_serves_the_view_with_the_spectrogram_views_untouched(tmp_path, msd):
    embed, dim = msd
    config = _config(tmp_path)
    tracks = _tracks()
    _extract(config, tracks, embed, dim, progress=False)
    ds = make_dataset(config, tracks, ["a", "b"], views=(PRETRAINED,), include_track_id=True, batch_size=8)
    x, y = next(iter(ds))
    view = pretrained_view(config)
    np.testing.assert_array_equal(x[PRETRAINED].numpy(), view.loc[x["track_id"].numpy().astype(str)].to_numpy())
    assert list(y.numpy()) == [0, 1, 0]


def test_the_config_says_which_runs_need_the_view():
    assert needs_pretrained([PRETRAINED_BRANCH]) and not needs_pretrained(["cnn", "mlp", "joint", "logit_fusion"])
    config = load_config(ROOT / "pipelines/smoke.toml", {"models.musicnn.weights": "mtt"})
    assert requested(config) == {"weights": "mtt", "embedding": "penultimate"}
    with pytest.raises(UserError, match="embedding must be"):
        load_config(ROOT / "pipelines/smoke.toml", {"models.musicnn.embedding": "max_pool"})
    with pytest.raises(UserError, match="pretrained model, not trained by a run"):
        load_config(ROOT / "pipelines/smoke.toml", {"train.models": ["musicnn"]})


THREE = ["small_cnn", "mlp", PRETRAINED_BRANCH, "musicnn_svm", "musicnn_logreg", "attention_fusion", "feature_fusion3",
         "attention_fusion3"]
THREE_RUN = ("--set", "train.models=" + json.dumps(THREE), "--set", 'train.fusion_cnn="small_cnn"')


@pytest.mark.slow
def test_a_run_with_the_probe_and_the_three_modality_fusions(tmp_path, musicnn_wheel):
    """The smoke job with the probe and the fusions over three frozen branches: extract makes the
    view, every model is graded on the same test tracks, the gated fusions' gate weights are
    written per test track and drawn per genre; the models are exported and predict runs them."""
    workdir = tmp_path / "run"
    output = run_smoke(workdir, *THREE_RUN)
    assert "extract: pretrained view (musicnn msd, penultimate, 200-d) of 30 of 30 tracks" in output
    summary = json.loads((workdir / "results" / "summary.json").read_text())
    assert sorted(summary["models"]) == sorted(THREE)
    ids = {name: sorted(pd.read_csv(workdir / "models" / name / "test_predictions.csv", dtype={"track_id": str})
                        ["track_id"]) for name in THREE}
    assert all(v == ids["mlp"] for v in ids.values()) and len(ids["mlp"]) == 6
    # the baselines on the view: scikit-learn called directly on the run's pretrained.npz rows
    with np.load(workdir / VIEW_FILE) as z:
        view = pd.DataFrame(z["values"], index=z["track_id"])
    for name in ("musicnn_svm", "musicnn_logreg"):
        predictions = pd.read_csv(workdir / "models" / name / "test_predictions.csv", dtype={"track_id": str})
        pipeline = joblib.load(workdir / "models" / name / "model.joblib")
        x = view.loc[predictions["track_id"]].to_numpy(np.float64)
        np.testing.assert_allclose(predictions.filter(like="p_").to_numpy(), pipeline.predict_proba(x), atol=1e-6)
    model = keras.saving.load_model(workdir / "models" / PRETRAINED_BRANCH / "model.keras", compile=False)
    assert list(model.input) == [PRETRAINED] and tuple(model.input[PRETRAINED].shape) == (None, 200)
    fusion = keras.saving.load_model(workdir / "models" / "attention_fusion3" / "model.keras", compile=False)
    assert list(fusion.input) == ["spectrogram", "features", PRETRAINED]
    for kind, views in (("attention_fusion", ["spectrogram", "features"]),
                        ("attention_fusion3", ["spectrogram", "features", PRETRAINED])):
        gates = pd.read_csv(workdir / "models" / kind / "test_gates.csv", dtype={"track_id": str})
        assert sorted(gates["track_id"]) == ids["mlp"] and list(gates.columns[2:]) == [f"gate_{v}" for v in views]
        np.testing.assert_allclose(gates.iloc[:, 2:].sum(axis=1), 1.0, atol=1e-5)
        means = summary["models"][kind]["gates"]
        assert list(means) == ["synthetic-electronic", "synthetic-folk", "synthetic-rock", "all"]
        for genre, row in gates.groupby("genre"):
            np.testing.assert_allclose([means[genre][v] for v in views], row.iloc[:, 2:].mean().to_numpy(), atol=1e-6)
        image = plt.imread(workdir / "results" / kind / "gates.png")
        assert image.shape[0] > 200 and image[..., :3].std() > 0.05  # drawn, not blank
    assert "gates" not in summary["models"]["feature_fusion3"]
    check_exports_and_predict(workdir, tmp_path)


# In a fresh process: each export's serve_waveform on the test tracks' clips (the pretrained view computed
# in its graph from the waveform), as JSON {model: probabilities}
FRESH = """
import json, sys
import numpy as np, pandas as pd, tensorflow as tf
from mgc.audio import load_clip
from mgc.features.views import clip_views
from mgc.contract import ClipSpec
workdir, names = sys.argv[1], sys.argv[2].split(",")
out = {}
for name in names:
    folder = f"{workdir}/saved_models/{name}/1"
    assets = json.load(open(f"{folder}/assets/mgc.json"))
    clip = ClipSpec.from_assets(assets)
    tracks = pd.read_csv(f"{workdir}/models/{name}/test_predictions.csv", dtype=str).merge(
        pd.read_csv(f"{workdir}/manifest.csv", dtype=str), on="track_id")
    waves = np.stack([load_clip(p, sample_rate=clip.sample_rate, duration=clip.clip_seconds, min_duration=1.0)
                      for p in tracks["path"]])
    inputs = {"waveform": waves}
    if "features" in assets["inputs"]:
        inputs.update(clip_views(waves, clip.sample_rate, clip.spectrogram, ["features"]))
    signature = tf.saved_model.load(folder).signatures["serve_waveform"]
    out[name] = signature(**{k: tf.constant(v) for k, v in inputs.items()})["probabilities"].numpy().tolist()
print(json.dumps(out))
"""


def check_exports_and_predict(workdir, tmp_path):
    """The probe and the three-modality fusions are exported: serve_waveform, loaded in a fresh process,
    computes the pretrained view from the clip as extract did (the probabilities of the run's own
    test predictions, made from the cached views); predict gives the same from the .keras file (the
    patches embedded by the runner) and from the export, on real recordings."""
    names = [PRETRAINED_BRANCH, "feature_fusion3", "attention_fusion3"]
    for name in names:
        assets = json.loads((workdir / "saved_models" / name / "1" / "assets" / "mgc.json").read_text())
        assert assets["pretrained"]["weights_id"] == f"msd@{WHEEL_SHA256}" and assets["pretrained"]["dim"] == 200
    done = subprocess.run([sys.executable, "-c", FRESH, str(workdir), ",".join(names)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])
    for name in names:
        run = pd.read_csv(workdir / "models" / name / "test_predictions.csv")
        np.testing.assert_allclose(served[name], run.filter(like="p_").to_numpy(), atol=1e-4)
    files = [str(REAL_AUDIO / name) for name in MUSIC[:2]]
    for name in ("attention_fusion3",):  # the probe's export is checked above (serve_waveform)
        tables = []
        for model in (workdir / "models" / name, workdir / "saved_models" / name):
            out = tmp_path / f"{name}-{model.parent.name}.csv"
            done = subprocess.run([sys.executable, "-m", "mgc.pipelines", "predict", "--model", str(model), *files,
                                   "--output", str(out), "--hop", "2.0"], cwd=ROOT, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr[-3000:]
            tables.append(pd.read_csv(out))
        assert list(tables[0]["status"]) == ["ok", "ok"]  # overlapping windows, each with its own embedding
        np.testing.assert_allclose(tables[0].filter(like="p_").to_numpy(), tables[1].filter(like="p_").to_numpy(),
                                   atol=1e-4)
