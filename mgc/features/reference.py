"""FMA's original extractor (``fma/features.py:compute_features``), transcribed line for line.

Kept as the reference that :func:`mgc.features.compute_features` is tested against, and as the
"plain loop" baseline of ``benchmarks/extract.py``. Differences from FMA's file: librosa 0.11
names ``rmse`` ``rms`` (the column keeps FMA's name), and the signal is passed in rather than
loaded here. Slower than the library version (it estimates tuning from its own STFT).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mgc.features.fma import feature_columns


def fma_reference_features(x: np.ndarray, sr: int) -> pd.Series:
    """The 518 features exactly as FMA computes them (float64 Series over FMA's columns)."""
    import librosa
    from scipy import stats

    features = pd.Series(index=feature_columns(), dtype=np.float64)

    def feature_stats(name, values):
        features[name, "mean"] = np.mean(values, axis=1)
        features[name, "std"] = np.std(values, axis=1)
        features[name, "skew"] = stats.skew(values, axis=1)
        features[name, "kurtosis"] = stats.kurtosis(values, axis=1)
        features[name, "median"] = np.median(values, axis=1)
        features[name, "min"] = np.min(values, axis=1)
        features[name, "max"] = np.max(values, axis=1)

    f = librosa.feature.zero_crossing_rate(x, frame_length=2048, hop_length=512)
    feature_stats("zcr", f)

    cqt = np.abs(librosa.cqt(x, sr=sr, hop_length=512, bins_per_octave=12, n_bins=7 * 12, tuning=None))
    assert cqt.shape[0] == 7 * 12
    assert np.ceil(len(x) / 512) <= cqt.shape[1] <= np.ceil(len(x) / 512) + 1

    f = librosa.feature.chroma_cqt(C=cqt, n_chroma=12, n_octaves=7)
    feature_stats("chroma_cqt", f)
    f = librosa.feature.chroma_cens(C=cqt, n_chroma=12, n_octaves=7)
    feature_stats("chroma_cens", f)
    f = librosa.feature.tonnetz(chroma=f)
    feature_stats("tonnetz", f)

    del cqt
    stft = np.abs(librosa.stft(x, n_fft=2048, hop_length=512))
    assert stft.shape[0] == 1 + 2048 // 2
    assert np.ceil(len(x) / 512) <= stft.shape[1] <= np.ceil(len(x) / 512) + 1
    del x

    f = librosa.feature.chroma_stft(S=stft**2, n_chroma=12)
    feature_stats("chroma_stft", f)

    f = librosa.feature.rms(S=stft)
    feature_stats("rmse", f)

    f = librosa.feature.spectral_centroid(S=stft)
    feature_stats("spectral_centroid", f)
    f = librosa.feature.spectral_bandwidth(S=stft)
    feature_stats("spectral_bandwidth", f)
    f = librosa.feature.spectral_contrast(S=stft, n_bands=6)
    feature_stats("spectral_contrast", f)
    f = librosa.feature.spectral_rolloff(S=stft)
    feature_stats("spectral_rolloff", f)

    mel = librosa.feature.melspectrogram(sr=sr, S=stft**2)
    del stft
    f = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20)
    feature_stats("mfcc", f)

    return features
