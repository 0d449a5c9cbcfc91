"""The 518 features match FMA's extractor (its code: direct librosa calls) on real recordings."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import REAL_AUDIO
from mgc.audio import load_clip
from mgc.config import SpectrogramConfig
from mgc.features import compute_features, extract_views, feature_columns, log_mel
from mgc.features.reference import fma_reference_features


def test_columns_are_fmas():
    columns = feature_columns()
    assert len(columns) == 518
    assert columns.names == ["feature", "statistics", "number"]
    assert list(columns) == sorted(columns)
    assert columns[0] == ("chroma_cens", "kurtosis", "01")
    assert columns[-1] == ("zcr", "std", "01")
    assert ("rmse", "mean", "01") in columns and ("mfcc", "max", "20") in columns
    per_feature = columns.get_level_values("feature").value_counts()
    assert per_feature["mfcc"] == 140 and per_feature["tonnetz"] == 42 and per_feature["zcr"] == 7


@pytest.mark.parametrize(
    "name",
    [
        "Kevin_MacLeod_-_Vibe_Ace.ogg",
        "admiralbob77_-_Choice_-_Drum-bass.ogg",
        "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg",
        "198-209-0000.ogg",  # speech: not music, still must match
    ],
)
def test_features_match_fma_extractor_on_real_audio(name):
    y = load_clip(str(REAL_AUDIO / name), sample_rate=22050, duration=30.0)
    ours = compute_features(y, 22050)
    reference = fma_reference_features(y, 22050).to_numpy()
    assert ours.dtype == np.float32 and ours.shape == (518,)
    assert np.all(np.isfinite(ours))
    # 1e-4 relative; the tiny absolute floor only covers statistics that are ~0 (e.g. skew of
    # a symmetric feature), where float32 round-off dominates.
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-6)


def test_spectrogram_reuses_fma_mel_and_matches_direct_log_mel():
    y = load_clip(str(REAL_AUDIO / "Kevin_MacLeod_-_Vibe_Ace.ogg"), sample_rate=22050, duration=30.0)
    features, spectrogram = extract_views(y, 22050, SpectrogramConfig())
    assert spectrogram.shape == (128, 1292)
    np.testing.assert_allclose(spectrogram, log_mel(y, 22050), atol=1e-3)
    np.testing.assert_array_equal(features, compute_features(y, 22050))
    # A non-FMA setting computes its own STFT.
    small = extract_views(y, 22050, SpectrogramConfig(n_mels=64, hop_length=1024))[1]
    assert small.shape == (64, 1 + len(y) // 1024)
    assert spectrogram.max() - spectrogram.min() <= 80.0 + 1e-3


def test_constant_rows_get_fmas_skew_and_kurtosis():
    from mgc.features.fma import _statistics

    values = np.vstack([np.full(50, 0.25, np.float32), np.linspace(0, 1, 50, dtype=np.float32)])
    result = _statistics(values)
    assert result["skew"][0] == 0.0 and result["kurtosis"][0] == -3.0  # scipy < 1.9, as FMA ran
    assert abs(result["skew"][1]) < 1e-6 and np.isfinite(result["kurtosis"][1])
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(22050 * 3) / 22050)).astype(np.float32)
    assert np.isfinite(compute_features(tone, 22050)).all()
