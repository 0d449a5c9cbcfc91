"""The training recipe's model-side parts under the backend this process runs (``KERAS_BACKEND``):
SpecAugment, the clip windows of a crop-trained CNN, the fine-tuning schedule and its scaled
Adam, and mixed precision. ``tests/test_backends.py`` runs this file once per backend."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from mgc.models import build_fusion, extractors
from mgc.models.augment import AUGMENT_LAYER, ClipWindows, SpecAugment, WindowMean
from mgc.models.registry import ARCHITECTURE, Shapes, build
from mgc.training.fit import ScaledAdam, fit
from mgc.training.recipe import FineTune

BACKEND = keras.backend.backend()
SHAPES = Shapes(spectrogram=(16, 48), n_features=518, n_classes=3)
AUGMENTS = {  # each augmentation alone, then all together
    "time_masks": {"time_masks": 2, "time_mask_frames": 10},
    "freq_masks": {"freq_masks": 2, "freq_mask_bands": 4},
    "shift": {"shift_frames": 12},
    "gain": {"gain_db": 10.0},
    "all": {"time_masks": 2, "time_mask_frames": 10, "freq_masks": 1, "freq_mask_bands": 4, "shift_frames": 12,
            "gain_db": 10.0},
}


def spectrograms(n: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(-40, 10, (n, *SHAPES.spectrogram)).astype("float32")


def numpy(x) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.mark.parametrize("kind", sorted(AUGMENTS))
def test_spec_augment_is_the_identity_at_inference(kind):
    x = spectrograms()
    layer = SpecAugment(**AUGMENTS[kind], seed=3)
    np.testing.assert_array_equal(numpy(layer(x, training=False)), x)
    np.testing.assert_array_equal(numpy(layer(x)), x)  # training unset: inference


@pytest.mark.parametrize("kind", sorted(AUGMENTS))
def test_spec_augment_changes_training_batches_the_same_way_for_a_seed(kind):
    x = spectrograms()
    first = [numpy(SpecAugment(**AUGMENTS[kind], seed=3)(x, training=True)) for _ in range(2)]
    other = numpy(SpecAugment(**AUGMENTS[kind], seed=4)(x, training=True))
    layer = SpecAugment(**AUGMENTS[kind], seed=3)
    calls = [numpy(layer(x, training=True)) for _ in range(2)]
    assert not np.allclose(first[0], x)
    np.testing.assert_array_equal(first[0], first[1])  # same seed, same draws
    assert not np.allclose(first[0], other)  # another seed, other draws
    assert not np.allclose(calls[0], calls[1])  # a new batch, new draws
    if kind == "shift":  # a roll: each row keeps its values
        np.testing.assert_allclose(np.sort(first[0], axis=2), np.sort(x, axis=2), rtol=1e-6)
    if kind == "gain":  # within the example's own range, and really shifted
        low, high = x.min(axis=(1, 2)), x.max(axis=(1, 2))
        assert np.all(first[0].min(axis=(1, 2)) >= low - 1e-4) and np.all(first[0].max(axis=(1, 2)) <= high + 1e-4)
    if kind in ("time_masks", "freq_masks"):  # masked spans hold the example's mean
        changed = ~np.isclose(first[0], x)
        means = x.mean(axis=(1, 2))
        for i in range(len(x)):
            np.testing.assert_allclose(first[0][i][changed[i]], means[i], rtol=1e-5)


@pytest.mark.parametrize("name", ["cnn", "small_cnn", "joint"])
def test_a_model_with_augmentation_predicts_like_the_same_model_without(name):
    params = {**ARCHITECTURE[name], "image_size": [32, 32]} if name == "cnn" else dict(ARCHITECTURE[name])
    if name == "joint":
        params.update(cnn_filters=[4, 8, 8], cnn_dense=16, mlp_widths=[16, 8])
    keras.utils.set_random_seed(0)
    augmented = build(name, params, SHAPES, augment={**AUGMENTS["all"], "seed": 1})
    plain = build(name, params, SHAPES)
    augmented.get_layer(AUGMENT_LAYER)  # it is there
    weighted = [layer for layer in plain.layers if layer.weights]
    for layer in weighted:
        layer.set_weights(augmented.get_layer(layer.name).get_weights())
    x = {"spectrogram": spectrograms(4), "features": np.random.default_rng(1).normal(size=(4, 518)).astype("float32")}
    x = {k: v for k, v in x.items() if k in plain.input}
    np.testing.assert_allclose(numpy(augmented(x, training=False)), numpy(plain(x, training=False)), rtol=1e-5,
                               atol=1e-5)
    assert not np.allclose(numpy(augmented(x, training=True)), numpy(augmented(x, training=False)))


def test_clip_windows_and_their_mean():
    x = spectrograms(2)
    starts = [0, 20, 40]  # the last one runs 12 frames past the clip: padded with its floor
    windows = numpy(ClipWindows(starts, 20)(x))
    assert windows.shape == (6, 16, 20)
    np.testing.assert_array_equal(windows[1], x[0][:, 20:40])
    np.testing.assert_array_equal(windows[5][:, :8], x[1][:, 40:48])
    np.testing.assert_array_equal(windows[5][:, 8:], np.full((16, 12), x[1].min()))
    rows = np.arange(12, dtype="float32").reshape(6, 2)
    np.testing.assert_allclose(numpy(WindowMean(3)(rows)), [rows[:3].mean(0), rows[3:].mean(0)])


def test_a_fusion_runs_a_crop_trained_cnn_over_the_clip_windows():
    keras.utils.set_random_seed(0)
    crop = Shapes((16, 24), 518, 3)
    cnn = build("small_cnn", {**ARCHITECTURE["small_cnn"], "filters": [4, 4, 4], "dense": 8}, crop)
    mlp = build("mlp", {**ARCHITECTURE["mlp"], "width": 8, "depth": 1}, crop)
    cnn_part, mlp_part = extractors("feature_fusion", cnn, mlp)
    head = build("feature_fusion", {**ARCHITECTURE["feature_fusion"], "width": 8}, crop,
                 branch_dims=(cnn_part.output.shape[-1], mlp_part.output.shape[-1]))
    fusion = build_fusion("feature_fusion", cnn, mlp, head, clip_shape=SHAPES.spectrogram, window_starts=[0, 24])
    x = spectrograms(2)
    features = np.zeros((2, 518), "float32")
    embedding = np.mean([numpy(cnn_part({"spectrogram": x[:, :, s:s + 24]})) for s in (0, 24)], axis=0)
    expected = numpy(head({"cnn": embedding, "mlp": numpy(mlp_part({"features": features}))}))
    np.testing.assert_allclose(numpy(fusion({"spectrogram": x, "features": features})), expected, rtol=1e-4,
                               atol=1e-5)


def test_scaled_adam_scales_the_learning_rate_of_the_chosen_variables():
    a, b = keras.Variable(np.ones(3, "float32")), keras.Variable(np.ones(3, "float32"))
    optimizer = ScaledAdam(0.01, scale=0.1, scaled=[b])
    optimizer.apply([keras.ops.ones(3), keras.ops.ones(3)], [a, b])
    step_a, step_b = 1 - numpy(a), 1 - numpy(b)
    np.testing.assert_allclose(step_a, 0.01, rtol=1e-3)  # Adam's first step is the learning rate
    np.testing.assert_allclose(step_b, 0.001, rtol=1e-3)


def tiny_cnn():
    keras.utils.set_random_seed(0)
    return build("cnn", {**ARCHITECTURE["cnn"], "image_size": [32, 32]}, SHAPES)


def data(n: int = 12):
    y = np.arange(n, dtype="int32") % 3
    x = spectrograms(n)
    x[:, :4] += 20 * y[:, None, None]
    return tf.data.Dataset.from_tensor_slices(({"spectrogram": x}, y)).batch(6)


def test_fine_tuning_freezes_the_backbone_then_trains_it_slower():
    model = tiny_cnn()
    backbone = model.get_layer("efficientnetb0")
    before = [numpy(v).copy() for v in backbone.weights]  # moving statistics included
    top = numpy(model.get_layer("logits").kernel).copy()
    fit(model, data(), data(), learning_rate=1e-3, epochs=1, patience=1, fine_tune=FineTune("efficientnetb0", 1, 0.1))
    for old, new in zip(before, backbone.weights):  # frozen: weights and batch-norm statistics unchanged
        np.testing.assert_array_equal(old, numpy(new))
    assert not np.allclose(top, numpy(model.get_layer("logits").kernel))
    assert backbone.trainable  # unfrozen for what follows
    history = fit(model, data(), data(), learning_rate=1e-3, epochs=1, patience=5,
                  fine_tune=FineTune("efficientnetb0", 0, 0.1))  # the unfrozen phase alone
    assert len(history) == 1
    assert isinstance(model.optimizer, ScaledAdam) and model.optimizer.scale == 0.1
    assert any(not np.allclose(old, numpy(new)) for old, new in zip(before, backbone.weights))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_mixed_bfloat16_trains_with_float32_logits(jit_compile):
    if jit_compile and BACKEND != "jax":  # JAX compiles with XLA anyway; TensorFlow's XLA (minutes to compile on
        # a CPU) is tested end to end in tests/test_recipe_run.py; torch's jit_compile is torch.compile
        pytest.skip("XLA is tested under JAX here and end to end under TensorFlow in tests/test_recipe_run.py")
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        model = build("small_cnn", {**ARCHITECTURE["small_cnn"], "filters": [4, 8, 8], "dense": 16}, SHAPES)
    finally:
        keras.config.set_dtype_policy("float32")
    assert model.get_layer("conv1").compute_dtype == "bfloat16"
    assert model.get_layer("logits").compute_dtype == "float32"
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    history = fit(model, data(), data(), learning_rate=1e-3, epochs=2, patience=5,
                  compile_options={"jit_compile": jit_compile,  # torch: one batch per call (Keras's rule)
                                   "steps_per_execution": 1 if BACKEND == "torch" else 2})
    assert np.isfinite(history["loss"]).all()
    out = model.predict_on_batch({"spectrogram": spectrograms(2)})
    assert str(out.dtype) == "float32"

