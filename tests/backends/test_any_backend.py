"""Every model builder under the backend this process runs (``KERAS_BACKEND``), fed by tf.data.

``tests/test_backends.py`` runs this file once per backend, each in its own process (Keras fixes
the backend at import). Each model builds, trains, evaluates, saves and reloads a ``.keras``
file; the files and their predictions on fixed inputs are left in ``$MGC_BACKEND_OUT/<backend>/``
for the cross-backend check (``check_loads.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from mgc.models import FROZEN_FUSIONS, build_fusion, extractors
from mgc.models.registry import ARCHITECTURE, BRANCHES, INPUTS, Shapes, build
from mgc.training.fit import fit

BACKEND = keras.backend.backend()
SHAPES = Shapes(spectrogram=(32, 96), n_features=518, n_classes=3, n_pretrained=200)
SMALL = {  # tiny but real architectures: the checks are about the backend, not accuracy
    "cnn": {"image_size": [32, 64]},
    "small_cnn": {"filters": [4, 8, 8], "dense": 16},
    "mlp": {"width": 16, "depth": 2},
    "musicnn_probe": {"width": 16, "depth": 1},
    "joint": {"cnn_filters": [4, 8, 8], "cnn_dense": 16, "mlp_widths": [16, 8]},
    "logit_fusion": {"width": 8, "depth": 1},
    "feature_fusion": {"width": 8, "depth": 1},
    "attention_fusion": {"width": 8, "depth": 1, "attention_dim": 16},
    "feature_fusion3": {"width": 8, "depth": 1},
    "attention_fusion3": {"width": 8, "depth": 1, "attention_dim": 16},
}
MEAN, VARIANCE = np.full(518, 0.5, "float32"), np.full(518, 4.0, "float32")
STATS = {"features": (MEAN, VARIANCE), "pretrained": (np.full(200, 0.1, "float32"), np.full(200, 0.5, "float32"))}


@pytest.fixture(scope="module")
def out_dir() -> Path:
    root = os.environ.get("MGC_BACKEND_OUT")
    if not root:
        pytest.skip("run through tests/test_backends.py (sets MGC_BACKEND_OUT)")
    path = Path(root) / BACKEND
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_backend_is_the_requested_one():
    assert BACKEND == os.environ["KERAS_BACKEND"]


def examples(n: int = 24, seed: int = 0):
    """Inputs whose class shows in both views (learnable in a few steps), labels 0..2."""
    rng = np.random.default_rng(seed)
    y = np.arange(n, dtype="int32") % SHAPES.n_classes
    spectrogram = rng.normal(-40, 5, (n, *SHAPES.spectrogram)).astype("float32")
    spectrogram[:, :, :32] += 20 * y[:, None, None]
    features = rng.normal(0.5, 2, (n, SHAPES.n_features)).astype("float32")
    features[:, :50] += 3 * y[:, None]
    pretrained = rng.normal(0.1, 0.7, (n, SHAPES.n_pretrained)).astype("float32")
    pretrained[:, :20] += y[:, None]
    return {"spectrogram": spectrogram, "features": features, "pretrained": pretrained}, y


def dataset(x: dict, y, names, batch: int = 8, shuffle: bool = False):
    ds = tf.data.Dataset.from_tensor_slices(({k: x[k] for k in names}, y))
    return (ds.shuffle(len(y), seed=0) if shuffle else ds).batch(batch)


_BRANCHES: dict[str, keras.Model] = {}


def model_for(name: str) -> keras.Model:
    params = {**ARCHITECTURE[name], **SMALL[name]}
    if name not in FROZEN_FUSIONS:
        mean, variance = STATS["pretrained" if INPUTS.get(name) == ("pretrained",) else "features"]
        return build(name, params, SHAPES, mean=mean, variance=variance)
    if not _BRANCHES:  # one (untrained) set of branches, frozen inside every fusion; the CNN branch
        # is small_cnn ([train] fusion_cnn): EfficientNet under fusions is covered in test_models.py
        _BRANCHES.update(cnn=model_for("small_cnn"), mlp=model_for("mlp"), probe=model_for("musicnn_probe"))
    cnn, mlp, probe = _BRANCHES["cnn"], _BRANCHES["mlp"], _BRANCHES["probe"]
    parts = extractors(name, cnn, mlp, probe)
    head = build(name, params, SHAPES, branch_dims=tuple(part.output.shape[-1] for part in parts))
    return build_fusion(name, cnn, mlp, head, probe=probe)


@pytest.mark.parametrize("name", list(ARCHITECTURE))
def test_builds_trains_evaluates_saves_and_reloads(name, out_dir):
    keras.utils.set_random_seed(0)
    model = model_for(name)
    views = INPUTS.get(name, ("spectrogram", "features"))
    x, y = examples()
    train, validation = dataset(x, y, views, shuffle=True), dataset(x, y, views)
    trainable = [np.array(v) for v in model.trainable_weights]
    frozen = [np.array(v) for v in model.non_trainable_weights] if name in FROZEN_FUSIONS else []
    history = fit(model, train, validation, learning_rate=3e-3, epochs=2, patience=2)  # the tool's own fit
    assert len(history) == 2 and np.all(np.isfinite(history[["loss", "val_loss"]].to_numpy()))
    changed = [not np.array_equal(a, np.array(v)) for a, v in zip(trainable, model.trainable_weights)]
    assert all(changed), f"{name}: {changed.count(False)} of {len(changed)} trainable weights did not move"
    # fusions: the frozen branches (every non-trainable weight) are bit-identical after training
    assert all(np.array_equal(a, np.array(v)) for a, v in zip(frozen, model.non_trainable_weights))
    loss, accuracy = model.evaluate(validation, verbose=0)
    assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0

    inputs = {k: x[k][:6] for k in views}
    expected = np.asarray(model.predict_on_batch(inputs))
    path = out_dir / f"{name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(reloaded.predict_on_batch(inputs)), expected, atol=1e-6)
    np.savez(out_dir / f"{name}.npz", expected=expected, **inputs)


def test_branch_names_are_covered():
    assert set(BRANCHES) | set(FROZEN_FUSIONS) == set(ARCHITECTURE) == set(SMALL)


@pytest.mark.skipif(BACKEND == "torch", reason="Keras writes SavedModels from TensorFlow and JAX (PyTorch's runs "
                                               "export their .keras files from a TensorFlow process)")
def test_a_model_reading_the_pretrained_view_exports_with_musicnn_in_its_graph(tmp_path):
    """serve_waveform computes the pretrained view in the graph (resample, musicnn's patches, the
    embedding model through this backend's export path, mean): the numpy path's probabilities."""
    from mgc.export.savedmodel import build_archive
    from mgc.features import musicnn_input
    from mgc.models.musicnn import INPUT, build_musicnn

    keras.utils.set_random_seed(0)
    probe, embedding = model_for("musicnn_probe"), build_musicnn(None, outputs="penultimate")  # random weights
    rate, samples = 22050, 22050 * 4
    assets = {"labels": ["a", "b", "c"], "inputs": ["pretrained"], "sample_rate": rate, "clip_samples": samples,
              "feature_columns": [], "pretrained": {"dim": 200},
              "spectrogram": {"n_mels": 32, "n_fft": 512, "hop_length": 256, "top_db": 80.0, "frames": 345}}
    build_archive(probe, assets, embedding).write_out(str(tmp_path / "probe"), verbose=False)
    clips = np.random.default_rng(1).normal(0, 0.1, (2, samples)).astype("float32")
    served = tf.saved_model.load(str(tmp_path / "probe")).signatures["serve_waveform"](waveform=tf.constant(clips))
    vectors = np.stack([np.asarray(embedding.predict_on_batch({INPUT: musicnn_input.clip_patches(clip, rate)}))
                        .mean(axis=0) for clip in clips])
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(probe.predict_on_batch({"pretrained": vectors})))
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)
