"""Model builders: shapes, frozen branches, cached-extractor equivalence, save/load, weights."""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np
import pytest

from mgc.contract import THREE_MODALITY_FUSIONS
from mgc.errors import UserError
from mgc.models import (
    FROZEN_FUSIONS,
    ModalityGate,
    SpectrogramImage,
    build_cnn,
    build_fusion,
    build_fusion_head,
    build_joint,
    build_mlp,
    build_small_cnn,
    extractors,
)

SPEC = (32, 96)  # a small log-mel (n_mels, frames) keeps CPU tests fast
N_FEATURES, N_CLASSES = 518, 3


def data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    x = {"spectrogram": rng.normal(-30, 10, (n, *SPEC)).astype("float32"),
         "features": rng.normal(0, 1, (n, N_FEATURES)).astype("float32")}
    return x, rng.integers(0, N_CLASSES, n).astype("int32")


def compiled(model, lr=1e-2):
    model.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@pytest.fixture(scope="module")
def branches():
    keras.utils.set_random_seed(0)
    cnn = build_cnn(SPEC, N_CLASSES, image_size=(32, 64))
    mlp = build_mlp(N_FEATURES, N_CLASSES, width=16, depth=2, mean=np.zeros(N_FEATURES), variance=np.ones(N_FEATURES))
    return cnn, mlp


def test_models_use_keras_ops_only():
    for path in Path(__file__).resolve().parent.parent.joinpath("mgc", "models").glob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+tensorflow", path.read_text(), re.M), path


def test_spectrogram_image_range_shape_and_serialization():
    x, _ = data(2)
    image = keras.ops.convert_to_numpy(SpectrogramImage()(x["spectrogram"]))
    assert image.shape == (2, *SPEC, 3)
    np.testing.assert_allclose(image.min(axis=(1, 2, 3)), 0, atol=1e-4)  # per example: 0 .. 255
    np.testing.assert_allclose(image.max(axis=(1, 2, 3)), 255, atol=1e-3)
    np.testing.assert_array_equal(image[..., 0], image[..., 2])
    resized = keras.ops.convert_to_numpy(SpectrogramImage((16, 48))(x["spectrogram"]))
    assert resized.shape == (2, 16, 48, 3) and resized.min() >= 0 and resized.max() <= 255 + 1e-3
    layer = SpectrogramImage.from_config(SpectrogramImage((16, 48), channels=1, scale=1.0).get_config())
    assert (layer.size, layer.channels, layer.scale) == ((16, 48), 1, 1.0)


def test_branch_builders(branches):
    cnn, mlp = branches
    x, _ = data(4)
    assert cnn.predict({"spectrogram": x["spectrogram"]}, verbose=0).shape == (4, N_CLASSES)
    assert cnn.get_layer("embedding").output.shape[-1] == 1280
    assert mlp.predict({"features": x["features"]}, verbose=0).shape == (4, N_CLASSES)
    small = build_small_cnn(SPEC, N_CLASSES)
    assert small.predict({"spectrogram": x["spectrogram"]}, verbose=0).shape == (4, N_CLASSES)
    assert [small.get_layer(f"conv{i}").filters for i in (1, 2, 3)] == [16, 32, 64]
    assert small.get_layer("dense").units == 128 and small.get_layer("embedding").rate == 0.4
    assert [mlp.get_layer(f"hidden{i}").units for i in (1, 2)] == [16, 16]
    seed1 = build_mlp(N_FEATURES, N_CLASSES, width=[128, 64, 32])
    assert [seed1.get_layer(f"hidden{i}").units for i in (1, 2, 3)] == [128, 64, 32]


def test_mlp_standardizes_raw_features_inside():
    mean, variance = np.full(N_FEATURES, 5.0), np.full(N_FEATURES, 4.0)
    mlp = build_mlp(N_FEATURES, N_CLASSES, width=8, depth=1, mean=mean, variance=variance)
    x = np.full((1, N_FEATURES), 7.0, "float32")
    inner = keras.Model(mlp.input, mlp.get_layer("standardize").output)
    np.testing.assert_allclose(inner.predict({"features": x}, verbose=0), 1.0, rtol=1e-6)


def test_standardize_equals_keras_normalization_and_is_saved(tmp_path):
    from mgc.models.layers import Standardize

    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (16, 5)).astype("float32")
    mean, variance = x.mean(0), x.var(0)
    variance[0] = 0.0  # a constant feature: both divide by epsilon
    expected = keras.layers.Normalization(mean=mean, variance=variance)(x)
    inputs = keras.Input((5,))
    model = keras.Model(inputs, Standardize(mean, variance)(inputs))
    np.testing.assert_allclose(model(x), expected, rtol=1e-6)
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "m.keras")(x), expected, rtol=1e-6)


# Each kind trains EfficientNetB0 through the full graph (about 20 s on two busy cores): one kind in the
# fast loop (pytest -m "not slow"), the other two in the full run.
@pytest.mark.parametrize("kind", [k if k == "logit_fusion" else pytest.param(k, marks=pytest.mark.slow)
                                  for k in FROZEN_FUSIONS if k not in THREE_MODALITY_FUSIONS])
def test_fusion_keeps_branches_bit_identical_and_matches_cached_head(branches, kind):
    cnn, mlp = branches
    before = [w.copy() for w in cnn.get_weights() + mlp.get_weights()]
    x, y = data(12)
    cnn_part, mlp_part = extractors(kind, cnn, mlp)
    cached = {"cnn": cnn_part.predict({"spectrogram": x["spectrogram"]}, verbose=0),
              "mlp": mlp_part.predict({"features": x["features"]}, verbose=0)}
    head = build_fusion_head(kind, cached["cnn"].shape[1], cached["mlp"].shape[1], N_CLASSES, width=8, depth=2)
    fusion = compiled(build_fusion(kind, cnn, mlp, head))
    head_before = [w.copy() for w in head.get_weights()]
    fusion.fit(x, y, batch_size=4, epochs=2, verbose=0)  # trains through the full graph
    after = cnn.get_weights() + mlp.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after)), "a frozen branch changed"
    assert any(not np.array_equal(a, b) for a, b in zip(head_before, head.get_weights()))
    # The head on cached extractor outputs is the same function as the whole graph.
    np.testing.assert_allclose(fusion.predict(x, verbose=0), head.predict(cached, verbose=0), atol=1e-5)
    # ... and training the head alone on cached vectors also leaves the branches alone.
    compiled(head).fit(cached, y, batch_size=4, epochs=1, verbose=0)
    np.testing.assert_allclose(fusion.predict(x, verbose=0), head.predict(cached, verbose=0), atol=1e-5)
    assert fusion.count_params() > head.count_params()
    assert sum(int(np.prod(w.shape)) for w in fusion.trainable_weights) == sum(
        int(np.prod(w.shape)) for w in head.trainable_weights)


@pytest.mark.parametrize("kind", THREE_MODALITY_FUSIONS)
def test_three_modality_fusions_freeze_all_three_branches(kind):
    """The CNN, the MLP and the musicnn probe (on the 200-d pretrained view) stay bit-identical while
    the whole graph trains; the head alone on the three cached vectors is the same function."""
    keras.utils.set_random_seed(0)
    cnn = build_small_cnn(SPEC, N_CLASSES, filters=(4, 4, 4), dense=8)
    mlp = build_mlp(N_FEATURES, N_CLASSES, width=16, depth=1)
    probe = build_mlp(200, N_CLASSES, width=12, depth=1, view="pretrained", name="musicnn_probe")
    x, y = data(12)
    x["pretrained"] = np.random.default_rng(1).normal(0, 1, (12, 200)).astype("float32")
    before = [w.copy() for m in (cnn, mlp, probe) for w in m.get_weights()]
    parts = extractors(kind, cnn, mlp, probe)
    cached = {slot: part.predict({view: x[view]}, verbose=0)
              for slot, view, part in zip(("cnn", "mlp", "musicnn"), ("spectrogram", "features", "pretrained"), parts)}
    dims = [cached[slot].shape[1] for slot in ("cnn", "mlp", "musicnn")]
    head = build_fusion_head(kind, dims[0], dims[1], N_CLASSES, dims[2], width=8, depth=1)
    fusion = compiled(build_fusion(kind, cnn, mlp, head, probe=probe))
    assert list(fusion.input) == ["spectrogram", "features", "pretrained"]
    fusion.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, [w for m in (cnn, mlp, probe) for w in m.get_weights()]))
    np.testing.assert_allclose(fusion.predict(x, verbose=0), head.predict(cached, verbose=0), atol=1e-5)
    if kind == "feature_fusion3":  # both vector branches projected to the CNN's width
        assert head.get_layer("concat").output.shape[-1] == 3 * cached["cnn"].shape[1]
    else:  # the gate: three weights per clip, summing to 1, that weight the projected vectors
        from mgc.training.gates import gate_model

        weights = keras.ops.convert_to_numpy(gate_model(fusion, kind).predict_on_batch(cached))
        assert weights.shape == (12, 3)
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
        projected = [keras.Model(head.input, head.get_layer(f"project_{s}").output).predict_on_batch(cached)
                     for s in ("cnn", "mlp", "musicnn")]
        gated = keras.Model(head.input, head.get_layer("modality_gate").output).predict_on_batch(cached)
        np.testing.assert_allclose(gated, sum(w[:, None] * v for w, v in zip(weights.T, projected)), atol=1e-5)
    with pytest.raises(ValueError, match="give the musicnn probe"):
        extractors(kind, cnn, mlp)


def test_feature_fusion_projects_mlp_to_cnn_width(branches):
    head = build_fusion_head("feature_fusion", 1280, 16, N_CLASSES, width=8, depth=1)
    assert head.get_layer("project_mlp").units == 1280
    assert head.get_layer("concat").output.shape[-1] == 2560


def test_modality_gate_weights_sum_to_one():
    gate = ModalityGate()
    a, b = np.ones((5, 4), "float32"), np.zeros((5, 4), "float32")
    out = keras.ops.convert_to_numpy(gate([a, b]))
    weights = keras.ops.convert_to_numpy(gate.gates([a, b]))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out, np.repeat(weights[:, :1], 4, axis=1), rtol=1e-6)


def test_joint_trains_end_to_end():
    x, y = data(8)
    joint = compiled(build_joint(SPEC, N_FEATURES, N_CLASSES, mean=np.zeros(N_FEATURES), variance=np.ones(N_FEATURES)))
    before = [w.copy() for w in joint.get_weights()]
    joint.fit(x, y, batch_size=4, epochs=1, verbose=0)
    changed = [not np.array_equal(a, b) for a, b in zip(before, joint.get_weights())]
    assert sum(changed) > len(changed) // 2  # both branches learn
    assert joint.get_layer("concat").output.shape[-1] == 128 + 32


def test_every_model_round_trips_through_a_keras_file(branches, tmp_path):
    cnn, mlp = branches
    x, _ = data(3)
    models = {
        "cnn": cnn, "mlp": mlp, "small_cnn": build_small_cnn(SPEC, N_CLASSES),
        "joint": build_joint(SPEC, N_FEATURES, N_CLASSES),
        "attention_fusion": build_fusion("attention_fusion", cnn, mlp,
                                         build_fusion_head("attention_fusion", 1280, 16, N_CLASSES, width=8, depth=1)),
    }
    for name, model in models.items():
        inputs = {k: v for k, v in x.items() if k in model.input}
        path = tmp_path / f"{name}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_allclose(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0), atol=1e-6)


def test_cnn_weights_from_a_local_file_and_clear_errors(tmp_path, monkeypatch):
    source = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(32, 64, 3), pooling="avg")
    path = tmp_path / "efficientnetb0_notop.weights.h5"
    source.save_weights(path)
    cnn = build_cnn(SPEC, N_CLASSES, image_size=(32, 64), weights=str(path))
    backbone = cnn.get_layer("efficientnetb0")
    assert all(np.array_equal(a, b) for a, b in zip(backbone.get_weights(), source.get_weights()))
    with pytest.raises(UserError, match="weights file not found"):
        build_cnn(SPEC, N_CLASSES, weights=str(tmp_path / "nope.h5"))

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    monkeypatch.setattr("keras.src.applications.efficientnet.file_utils.get_file", offline, raising=False)
    with pytest.raises(UserError, match=r"efficientnetb0_notop\.h5.*weights = "):
        build_cnn(SPEC, N_CLASSES, weights="imagenet")
