"""The pretrained view inside an export's graph (mgc.export.musicnn_graph): the clip resampled as
scipy resamples it, musicnn's patches and the mean embedding computed from the same waveform as the
cache computes them (mgc.features.musicnn_input.clip_patches), on real recordings."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from conftest import MUSIC, REAL_AUDIO
from mgc.audio import load_clip
from mgc.export.musicnn_graph import ClipEmbedding, MusicnnLogMel, Resample
from mgc.features import musicnn_input


@pytest.mark.parametrize("rate,samples", [(22050, 22050 * 7), (44100, 44100 * 3 + 17), (8000, 40003),
                                          (48000, 96000), (22050, 1000), (16000, 1600)])
def test_resample_in_the_graph_is_scipy_s_resample_poly(rate, samples):
    y = np.random.default_rng(rate + samples).standard_normal((2, samples)).astype(np.float32) * 0.1
    expected = np.stack([musicnn_input.to_musicnn_rate(row, rate) for row in y])
    from scipy.signal import resample_poly

    up, down = musicnn_input.rate_ratio(rate)
    if up != down:  # to_musicnn_rate is scipy's, with its default window
        np.testing.assert_allclose(expected[0], resample_poly(y[0], up, down), atol=1e-6)
    got = Resample(rate)(tf.constant(y)).numpy()
    assert got.shape == expected.shape == (2, -(-samples * up // down))
    np.testing.assert_allclose(got, expected, atol=2e-7)


def test_musicnn_log_mel_in_the_graph_matches_librosa_on_real_audio():
    y = musicnn_input.to_musicnn_rate(load_clip(str(REAL_AUDIO / MUSIC[0]), sample_rate=22050, duration=7.0), 22050)
    expected = musicnn_input.log_mel(y)
    got = MusicnnLogMel(frames=None)(tf.constant(y[None])).numpy()[0]
    assert got.shape == expected.shape == (1 + len(y) // musicnn_input.HOP, musicnn_input.N_MELS)
    # float16 rounding of the mel power: one float16 step where float32 STFTs differ by an ulp
    assert np.mean(np.abs(got - expected) < 1e-5) > 0.999 and np.abs(got - expected).max() < 2e-3


@pytest.mark.parametrize("seconds", [7.0, 2.0])  # two patches and a dropped tail; shorter than one patch: padded
def test_the_graph_s_clip_embedding_is_the_cache_s(musicnn_wheel, seconds):
    """A 22.05 kHz clip -> (graph) 16 kHz, log-mel, patches, musicnn's penultimate layer, mean; against the
    cache's path on the same clips: clip_patches (scipy, librosa) through the same port."""
    from mgc.models.musicnn import INPUT, embedding_model

    model = embedding_model("msd", "penultimate")
    clips = np.stack([load_clip(str(REAL_AUDIO / name), sample_rate=22050, duration=seconds, min_duration=1.0)
                      for name in MUSIC[:3]])
    graph = ClipEmbedding(22050, clips.shape[1], lambda patches: model({INPUT: patches}))
    assert graph.n_patches == musicnn_input.n_clip_patches(clips.shape[1], 22050) == (2 if seconds == 7.0 else 1)
    got = graph(tf.constant(clips)).numpy()
    for clip, vector in zip(clips, got):
        patches = musicnn_input.clip_patches(clip, 22050)
        assert len(patches) == graph.n_patches
        expected = np.asarray(model.predict_on_batch({INPUT: patches})).mean(axis=0)
        np.testing.assert_allclose(vector, expected, atol=1e-4)
