"""The two views of a clip: FMA's 518 summary features and the log-mel spectrogram."""

from __future__ import annotations

import warnings

import numpy as np

from mgc.config import SpectrogramConfig
from mgc.contract import n_frames
from mgc.features.fma import (
    FEATURE_SIZES,
    HOP_LENGTH,
    N_FEATURES,
    N_FFT,
    N_MELS,
    STATISTICS,
    compute_features,
    feature_columns,
    frame_features,
    summarize,
)
from mgc.features.spectrogram import log_mel, log_mel_from_power

__all__ = [
    "FEATURE_SIZES",
    "N_FEATURES",
    "STATISTICS",
    "compute_features",
    "extract_views",
    "feature_columns",
    "log_mel",
    "n_frames",
]


def extract_views(y: np.ndarray, sr: int, spec: SpectrogramConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(features[518] float32, log_mel[n_mels, frames] float32)`` of one clip.

    When the spectrogram settings equal FMA's (n_fft 2048, hop 512, 128 mels) the mel power
    spectrogram already computed for the MFCCs is reused instead of a second STFT.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frames, mel = frame_features(y, sr)
        features = summarize(frames)
        if (spec.n_fft, spec.hop_length, spec.n_mels) == (N_FFT, HOP_LENGTH, N_MELS):
            spectrogram = log_mel_from_power(mel, spec.top_db)
        else:
            spectrogram = log_mel(
                y, sr, n_mels=spec.n_mels, n_fft=spec.n_fft, hop_length=spec.hop_length, top_db=spec.top_db
            )
    return features, spectrogram
