"""FMA's 518 librosa summary features, computed exactly as FMA's own extractor does.

11 features x 7 statistics (mean, std, skew, kurtosis, median, min, max) over frames. One CQT
magnitude (hop 512, 84 bins, 12 per octave) feeds chroma_cqt, chroma_cens and tonnetz (from
the CENS chroma); one STFT magnitude (n_fft 2048, hop 512) feeds chroma_stft (from power),
rmse, spectral centroid/bandwidth/rolloff/contrast and the 128-band mel power spectrogram whose
dB version gives the 20 MFCCs. Columns follow FMA's ``features.csv``: sorted, ``rmse`` kept.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

FEATURE_SIZES = {
    "chroma_stft": 12,
    "chroma_cqt": 12,
    "chroma_cens": 12,
    "tonnetz": 6,
    "mfcc": 20,
    "rmse": 1,
    "zcr": 1,
    "spectral_centroid": 1,
    "spectral_bandwidth": 1,
    "spectral_contrast": 7,
    "spectral_rolloff": 1,
}
STATISTICS = ("mean", "std", "skew", "kurtosis", "median", "min", "max")
N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128  # the mel bands of the MFCCs' mel spectrogram
N_FEATURES = sum(FEATURE_SIZES.values()) * len(STATISTICS)  # 518


def feature_columns() -> pd.MultiIndex:
    """The ``(feature, statistics, number)`` columns of FMA's ``features.csv``, in its order."""
    tuples = [
        (name, stat, f"{i + 1:02d}")
        for name, size in FEATURE_SIZES.items()
        for stat in STATISTICS
        for i in range(size)
    ]
    columns = pd.MultiIndex.from_tuples(tuples, names=("feature", "statistics", "number"))
    return columns.sort_values()


def _statistics(values: np.ndarray) -> dict[str, np.ndarray]:
    """FMA's seven statistics over frames (axis 1); skew/kurtosis are scipy's (Fisher, biased).

    Computed on librosa's float32 output as FMA does, so values match its features.csv
    bit for bit rather than being "more accurate" in float64.
    """
    from scipy import stats

    # A constant row (a pure tone's chroma, say) has no defined skew/kurtosis: scipy >= 1.9
    # returns NaN, the scipy FMA used returned 0 and -3 (Fisher). Keep FMA's values.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        skew = np.nan_to_num(stats.skew(values, axis=1), nan=0.0)
        kurtosis = np.nan_to_num(stats.kurtosis(values, axis=1), nan=-3.0)
    return {
        "mean": np.mean(values, axis=1),
        "std": np.std(values, axis=1),
        "skew": skew,
        "kurtosis": kurtosis,
        "median": np.median(values, axis=1),
        "min": np.min(values, axis=1),
        "max": np.max(values, axis=1),
    }


def frame_features(y: np.ndarray, sr: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-frame values of the 11 features, plus the 128-band mel power spectrogram (n_fft 2048,
    hop 512) that the MFCCs came from, so callers can reuse it."""
    import librosa

    y = np.asarray(y, dtype=np.float32)
    out: dict[str, np.ndarray] = {}
    out["zcr"] = librosa.feature.zero_crossing_rate(y, frame_length=2048, hop_length=HOP_LENGTH)

    stft = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH))
    # FMA calls cqt(tuning=None), which estimates tuning with piptrack on |STFT(y)| at
    # n_fft 2048 / hop 512: exactly ``stft``, so estimating from it gives the same value
    # without a second STFT.
    tuning = librosa.estimate_tuning(S=stft, sr=sr, bins_per_octave=12)
    cqt = np.abs(
        librosa.cqt(y, sr=sr, hop_length=HOP_LENGTH, bins_per_octave=12, n_bins=7 * 12, tuning=tuning)
    )
    out["chroma_cqt"] = librosa.feature.chroma_cqt(C=cqt, n_chroma=12, n_octaves=7)
    out["chroma_cens"] = librosa.feature.chroma_cens(C=cqt, n_chroma=12, n_octaves=7)
    out["tonnetz"] = librosa.feature.tonnetz(chroma=out["chroma_cens"])
    del cqt

    power = stft**2
    out["chroma_stft"] = librosa.feature.chroma_stft(S=power, n_chroma=12)
    out["rmse"] = librosa.feature.rms(S=stft)
    out["spectral_centroid"] = librosa.feature.spectral_centroid(S=stft)
    out["spectral_bandwidth"] = librosa.feature.spectral_bandwidth(S=stft)
    out["spectral_contrast"] = librosa.feature.spectral_contrast(S=stft, n_bands=6)
    out["spectral_rolloff"] = librosa.feature.spectral_rolloff(S=stft)
    mel = librosa.feature.melspectrogram(sr=sr, S=power)
    out["mfcc"] = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20)
    return out, mel


def summarize(frames: dict[str, np.ndarray]) -> np.ndarray:
    """Turn per-frame features into the 518-vector in :func:`feature_columns` order."""
    columns = feature_columns()
    position = {key: i for i, key in enumerate(columns)}
    vector = np.empty(len(columns), dtype=np.float32)
    for name, values in frames.items():
        for stat, result in _statistics(values).items():
            for i, value in enumerate(result):
                vector[position[(name, stat, f"{i + 1:02d}")]] = value
    return vector


def compute_features(y: np.ndarray, sr: int) -> np.ndarray:
    """The 518 FMA features of mono signal ``y`` at rate ``sr`` (float32, FMA's column order)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frames, _ = frame_features(y, sr)
        return summarize(frames)
