"""The training recipe's config, input pipeline and weights (the model-side parts run under every
backend in tests/backends/test_recipe_backend.py; a whole recipe run in tests/test_recipe_run.py)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ROOT
from mgc.config import load_config
from mgc.datasets.manifest import read_manifest
from mgc.errors import UserError
from mgc.input import class_names, make_dataset
from mgc.training import recipe


@pytest.mark.parametrize("overrides, message", [
    ({"train.crop_seconds": 4.0}, "shorter than [audio] duration"),
    ({"train.crop_seconds": 0.05}, "shorter than one FFT window"),
    ({"train.mixed_precision": "float16"}, "mixed_precision must be one of"),
    ({"train.jit_compile": "yes"}, "jit_compile must be"),
    ({"train.jit_compile": True}, "needs [run] deterministic = false under TensorFlow"),
    ({"train.freeze_epochs": 2}, "freeze_epochs fine-tunes a pretrained CNN"),
    ({"augment.copies": 2}, "copies needs a change"),
    ({"augment.speed": 0.1}, "set copies >= 1"),
    ({"augment.freq_masks": 1, "augment.freq_mask_bands": 200}, "cannot exceed [spectrogram] n_mels"),
    ({"augment.time_masks": -1}, "time_masks must be >= 0"),
    ({"train.backbone_lr_scale": 0.0}, "backbone_lr_scale must be > 0"),
])
def test_recipe_settings_are_checked_when_the_config_loads(overrides, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(ROOT / "pipelines/smoke.toml", overrides)


def test_the_recipe_reaches_only_the_spectrogram_models_and_their_training_batches():
    config = load_config(ROOT / "pipelines/smoke.toml", {
        "train.crop_seconds": 2.0, "augment.mixup_alpha": 0.3, "augment.time_masks": 1, "augment.copies": 1,
        "augment.noise_snr_db": 10.0})
    frames = recipe.clip(config, "cnn").frames
    assert recipe.data_options(config, "cnn", True) == {"crop_frames": frames, "one_hot": True,
                                                        "mixup_alpha": 0.3, "copies": True}
    assert recipe.data_options(config, "cnn", False) == {"crop_frames": frames, "one_hot": True,
                                                         "window_starts": [0, frames - 1]}
    assert recipe.data_options(config, "joint", True) == {"one_hot": True, "mixup_alpha": 0.3, "copies": True}
    assert recipe.data_options(config, "joint", False) == {"one_hot": True}  # joint reads whole clips
    for name in ("mlp", "logit_fusion", "attention_fusion", "svm"):
        assert recipe.data_options(config, name, True) == {} and recipe.augment_layer(config, name) is None
    assert recipe.augment_layer(config, "small_cnn")["time_masks"] == 1
    assert recipe.clip(config, "mlp").clip_samples == 4 * 22050  # whole clips
    assert recipe.clip(config, "small_cnn").clip_samples == 2 * 22050
    assert recipe.fine_tune(config, "cnn", {"weights": "none"}) is None
    assert recipe.fine_tune(config, "cnn", {"weights": "imagenet"}).backbone == "efficientnetb0"


# -- the input pipeline on a real cache (the session's smoke run) -------------------------------
@pytest.fixture(scope="module")
def run(smoke_run):
    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(smoke_run)})
    manifest = read_manifest(config)
    return config, manifest[manifest["split"] == "baseline_train"], class_names(manifest)


def batches(ds, epochs: int = 1):
    out = []
    for _ in range(epochs):
        for x, y in ds:
            out.append(({k: v.numpy() for k, v in x.items()}, y.numpy()))
    return out


def whole(config, tracks, classes):
    x, _ = batches(make_dataset(config, tracks, classes, include_track_id=True, batch_size=64))[0]
    return {track_id.decode(): spectrogram for track_id, spectrogram in zip(x["track_id"], x["spectrogram"])}


@pytest.mark.slow
def test_random_crops_are_slices_of_the_clip_seeded_and_new_each_epoch(run):
    config, tracks, classes = run
    clips = whole(config, tracks, classes)

    def crops(seed):
        ds = make_dataset(config, tracks, classes, shuffle=True, seed=seed, include_track_id=True, crop_frames=40)
        return batches(ds, epochs=2)

    first, again, other = crops(0), crops(0), crops(1)
    offsets = []
    for x, _ in first:
        assert x["spectrogram"].shape[1:] == (128, 40)
        for track_id, crop in zip(x["track_id"], x["spectrogram"]):
            clip = clips[track_id.decode()]
            found = [t for t in range(clip.shape[1] - 39) if np.array_equal(clip[:, t:t + 40], crop)]
            assert found, "a crop is a contiguous slice of its clip"
            offsets.append(found[0])
    assert len(set(offsets)) > 3
    for (a, _), (b, _) in zip(first, again):  # same seed, same crops
        np.testing.assert_array_equal(a["spectrogram"], b["spectrogram"])
    assert any(not np.array_equal(a["spectrogram"], b["spectrogram"]) for (a, _), (b, _) in zip(first, other))
    half = len(first) // 2  # epoch 2 crops again (and reshuffles)
    assert any(not np.array_equal(a["spectrogram"], b["spectrogram"]) for (a, _), (b, _) in
               zip(first[:half], first[half:]))


@pytest.mark.slow
def test_windows_are_every_window_of_each_clip_in_order(run):
    config, tracks, classes = run
    clips = whole(config, tracks, classes)
    starts = [0, 60, 120]  # 173 frames: the last window runs past the clip and is padded with its floor
    ds = make_dataset(config, tracks, classes, include_track_id=True, crop_frames=60, window_starts=starts,
                      batch_size=5)
    n = 0
    for x, y in batches(ds):
        assert len(x["spectrogram"]) == len(y) == len(x["track_id"])
        for i, (track_id, window) in enumerate(zip(x["track_id"], x["spectrogram"])):
            clip, start = clips[track_id.decode()], starts[i % 3]
            np.testing.assert_array_equal(window[:, :min(60, 173 - start)], clip[:, start:start + 60])
            if start + 60 > 173:
                np.testing.assert_array_equal(window[:, 173 - start:], clip.min())
        assert (x["track_id"][::3] == x["track_id"][1::3]).all() and (y[::3] == y[2::3]).all()
        n += len(y)
    assert n == 3 * len(tracks)


@pytest.mark.slow
def test_mixup_mixes_inputs_and_labels_alike_and_only_when_asked(run):
    config, tracks, classes = run
    plain = batches(make_dataset(config, tracks, classes, shuffle=True, include_track_id=True, batch_size=8))
    mixed = batches(make_dataset(config, tracks, classes, shuffle=True, include_track_id=True, batch_size=8,
                                 mixup_alpha=0.4))
    again = batches(make_dataset(config, tracks, classes, shuffle=True, include_track_id=True, batch_size=8,
                                 mixup_alpha=0.4))
    for (a, ya), (b, yb) in zip(mixed, again):  # the same seed mixes the same way
        np.testing.assert_array_equal(a["spectrogram"], b["spectrogram"])
        np.testing.assert_array_equal(ya, yb)
    hot = batches(make_dataset(config, tracks, classes, batch_size=8, one_hot=True))
    assert all(set(np.unique(y)) <= {0.0, 1.0} and (y.sum(1) == 1).all() for _, y in hot)
    mixes = 0
    for (x, y), (mx, my) in zip(plain, mixed):
        np.testing.assert_array_equal(x["track_id"], mx["track_id"])  # same order: the mix is on top
        np.testing.assert_allclose(my.sum(1), 1.0, rtol=1e-5)
        f, mf = x["features"].astype(np.float64), mx["features"].astype(np.float64)
        for i in range(len(y)):
            # the mixed example lies on the line from its own to one other example of the batch (j), at
            # lam; its label is mixed by the same lam (visible when j is of another class)
            fits = []
            for j in range(len(y)):
                d = f[i] - f[j]
                lam = 1.0 if i == j or not d.any() else float((mf[i] - f[j]) @ d / (d @ d))
                fits.append((np.abs(mf[i] - (lam * f[i] + (1 - lam) * f[j])).max(), lam, j))
            residual, lam, j = min(fits)
            assert residual < 1e-3 * (1 + np.abs(f).max())
            if y[j] != y[i]:
                np.testing.assert_allclose(my[i, y[i]], lam, atol=1e-3)
                mixes += 1
    assert mixes > 0


@pytest.mark.slow
def test_the_recipe_never_touches_validation_batches(run):
    config, tracks, classes = run
    recipe_config = load_config(ROOT / "pipelines/smoke.toml", {
        "run.workdir": config.run.workdir, "train.crop_seconds": 2.0, "augment.mixup_alpha": 0.3})
    options = recipe.data_options(recipe_config, "small_cnn", False)
    first = batches(make_dataset(recipe_config, tracks, classes, **options))
    again = batches(make_dataset(recipe_config, tracks, classes, **options), epochs=1)
    for (a, ya), (b, yb) in zip(first, again):
        np.testing.assert_array_equal(a["spectrogram"], b["spectrogram"])
        assert set(np.unique(ya)) <= {0.0, 1.0} and np.array_equal(ya, yb)  # one-hot, never mixed


# -- ImageNet weights from a local file ----------------------------------------------------------
@pytest.mark.parametrize("suffix", [".h5", ".weights.h5"])
def test_local_notop_weights_are_loaded_into_every_backbone_tensor(tmp_path, suffix):
    import keras

    from mgc.models.registry import Shapes, build, model_params

    keras.utils.set_random_seed(1)
    source = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(32, 64, 3),
                                               pooling="avg")
    path = tmp_path / f"efficientnetb0_notop{suffix}"
    if suffix == ".weights.h5":
        source.save_weights(path)
    else:  # the format keras-applications publishes (Keras 2's HDF5 weights file)
        import h5py
        from keras.src.legacy.saving import legacy_h5_format

        with h5py.File(path, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, source)
    config = load_config(ROOT / "pipelines/smoke.toml", {"models.cnn.weights": str(path)})
    keras.utils.set_random_seed(2)  # another initialisation: only the file can make them equal
    model = build("cnn", model_params(config, "cnn"), Shapes((128, 173), 518, 3))
    backbone = model.get_layer("efficientnetb0")
    assert len(backbone.weights) == len(source.weights) > 300
    for mine, theirs in zip(backbone.weights, source.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(mine), keras.ops.convert_to_numpy(theirs),
                                      err_msg=mine.path)


def test_a_missing_weights_file_is_a_user_error(tmp_path):
    from mgc.models.registry import Shapes, build, model_params

    config = load_config(ROOT / "pipelines/smoke.toml", {"models.cnn.weights": str(tmp_path / "absent.h5")})
    with pytest.raises(UserError, match="weights file not found"):
        build("cnn", model_params(config, "cnn"), Shapes((128, 173), 518, 3))
