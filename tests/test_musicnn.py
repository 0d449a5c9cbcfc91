"""musicnn's Keras port against the original TF1 graphs (tests/reference/make_musicnn_reference.py's output).

The checkpoints come from the musicnn 0.1.0 wheel: $MGC_MUSICNN_WHEEL, else ~/.cache/mgc/, else
``pip download`` into that cache once; the tests skip only when that download fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import REAL_AUDIO
from mgc.errors import AudioError, UserError
from mgc.features import musicnn_input
from mgc.models import musicnn, musicnn_weights
from mgc.models.musicnn import MIDEND_SIZE, OUTPUT_NAMES, build_musicnn

REFERENCE = Path(__file__).resolve().parent / "reference"
ATOL = 1e-4
# max_pool (and so pooled) takes one frame's value behind batch norms that scale by up to 78: float32
# noise is not averaged away there. Measured against the port run in float64, the original graph itself
# is off by up to 3.3e-4 (MSD) / 5.3e-4 (MTT) and the port by <= 5.0e-4 (TF) / 1.7e-4 (JAX), so the two
# can differ by more than 1e-4 (port vs original: 1.7e-4 TF, 5.0e-4 JAX). Everything else is within ATOL.
ATOL_MAX_POOL = 1e-3


@pytest.fixture(scope="module")
def reference_input() -> dict:
    data = np.load(REFERENCE / "musicnn_input.npz")
    # The reference stores the float16 mel stage h of its patches log10(10000 h + 1) (lossless: checked there).
    patches = np.log10(10000 * data["mel16"].astype(np.float32) + 1)
    return {"patches": patches, "clip": data["clip"], "start": data["start"], "meta": json.loads(str(data["meta"]))}


@pytest.mark.parametrize("key", ["msd", "mtt"])
def test_port_matches_original_graph(musicnn_wheel, reference_input, key, monkeypatch):
    monkeypatch.setenv(musicnn_weights.WHEEL_ENV, str(musicnn_wheel))
    reference = np.load(REFERENCE / f"musicnn_{key}.npz")
    model = build_musicnn(key, outputs=OUTPUT_NAMES)
    out = model.predict({"patches": reference_input["patches"]}, batch_size=32, verbose=0)
    reference = {k: reference[k] for k in ("tags", "logits", "penultimate", "max_pool", "mean_pool")}
    reference["pooled"] = np.concatenate([reference["max_pool"], reference["mean_pool"]], axis=1)
    assert out["pooled"].shape == (len(reference_input["patches"]), 2 * MIDEND_SIZE)
    for name, expected in reference.items():
        assert out[name].shape == expected.shape, name
        atol = ATOL_MAX_POOL if name in ("max_pool", "pooled") else ATOL
        np.testing.assert_allclose(out[name], expected, rtol=0, atol=atol, err_msg=f"{key} {name}")


def test_spectrogram_matches_extractor_copy(reference_input):
    """mgc.features.musicnn_input gives the reference script's copy of extractor.py's patches bit for bit."""
    if not REAL_AUDIO.is_dir():
        pytest.skip(f"no real recordings at {REAL_AUDIO}")
    clips, starts, expected = reference_input["clip"], reference_input["start"], reference_input["patches"]
    for name in dict.fromkeys(clips):
        rows = np.flatnonzero(clips == name)
        ours = musicnn_input.extract(REAL_AUDIO / name)
        assert ours.dtype == np.float32 and ours.shape[1:] == (musicnn_input.PATCH_FRAMES, musicnn_input.N_MELS)
        np.testing.assert_array_equal(ours[starts[rows] // musicnn_input.PATCH_FRAMES], expected[rows], err_msg=name)
    for name in reference_input["meta"]["skipped_short_clips"]:  # extractor.py fails there (batch unbound)
        with pytest.raises(AudioError, match="too short"):
            musicnn_input.extract(REAL_AUDIO / name)


def test_patches_hop_and_length():
    spectrogram = np.arange(400 * 96, dtype=np.float32).reshape(400, 96)
    assert musicnn_input.patches(spectrogram).shape == (2, 187, 96)  # the 26-frame tail is dropped
    overlapped = musicnn_input.patches(spectrogram, hop=musicnn_input.seconds_to_frames(1.0))
    assert overlapped.shape == (4, 187, 96) and overlapped[1, 0, 0] == 61 * 96  # time_to_frames(1 s) = 61
    assert musicnn_input.seconds_to_frames(3) + 1 == musicnn_input.PATCH_FRAMES


@pytest.fixture(scope="module")
def checkpoint(musicnn_wheel) -> dict:
    return musicnn_weights.read_checkpoint(musicnn_wheel, "msd")


def test_checkpoint_is_read_whole(checkpoint, musicnn_wheel):
    assert len(checkpoint) == 64 and sum(v.size for v in checkpoint.values()) == 792_079
    assert set(musicnn_weights.read_checkpoint(musicnn_wheel, "mtt")) == set(checkpoint)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda t: t.update({"dense/kernel": t["dense/kernel"][:, :100]}), r"dense/kernel is \(1506, 100\)"),
        (lambda t: t.update({"conv2d_8/kernel": np.zeros((7, 64, 1, 64), np.float32)}), "unmapped .*conv2d_8/kernel"),
        (lambda t: t.pop("batch_normalization_10/moving_variance"), "missing .*batch_normalization_10/moving_var"),
    ],
    ids=["mis-shaped", "unmapped", "missing"],
)
def test_loader_fails_loudly(checkpoint, change, match):
    model = build_musicnn(None, outputs=OUTPUT_NAMES)
    before = [np.asarray(w) for w in model.weights]
    tensors = dict(checkpoint)
    change(tensors)
    with pytest.raises(musicnn_weights.CheckpointError, match=match):
        musicnn_weights.assign(model, tensors)
    assert all(np.array_equal(a, np.asarray(w)) for a, w in zip(before, model.weights))  # nothing half-loaded
    tensors = dict(checkpoint, **{"dense/kernel/Adam": np.zeros(1), "beta1_power": np.zeros(())})
    musicnn_weights.assign(model, tensors)  # optimizer state is skipped


def test_converted_weights_and_outputs(checkpoint, musicnn_wheel, reference_input, tmp_path):
    h5 = musicnn.convert(musicnn_wheel, "mtt", tmp_path / "musicnn_mtt.weights.h5")
    embed = build_musicnn(str(h5), outputs=("penultimate", "pooled"))
    x = reference_input["patches"][:4]
    out = embed.predict({"patches": x}, verbose=0)
    assert set(out) == {"penultimate", "pooled"}
    np.testing.assert_allclose(out["penultimate"], np.load(REFERENCE / "musicnn_mtt.npz")["penultimate"][:4], atol=ATOL)
    tags = build_musicnn(None, outputs="tags", frames=None)
    assert tuple(tags.output.shape) == (None, 50)
    assert tags.predict({"patches": np.zeros((1, 300, 96), np.float32)}, verbose=0).shape == (1, 50)
    with pytest.raises(UserError, match="not in"):
        build_musicnn(None, outputs=("tags", "timbral"))
