"""Log-mel spectrogram: the image view of a clip (128 x 1292 for 30 s at 22050 Hz by default).

``power_to_db(melspectrogram(|STFT|^2), ref=1.0, top_db)``: absolute dB (so loudness is kept)
floored ``top_db`` below the clip's peak. With the default n_fft 2048 / hop 512 / 128 bands it
is the same mel power spectrogram FMA's extractor computes for its MFCCs, so
:func:`mgc.features.extract_views` computes it once for both views.
"""

from __future__ import annotations

import numpy as np

from mgc.contract import n_frames  # noqa: F401  (re-exported: frames of a centred STFT)


def log_mel_from_power(mel_power: np.ndarray, top_db: float = 80.0) -> np.ndarray:
    """dB-scale a mel power spectrogram (float32, shape n_mels x frames)."""
    import librosa

    return librosa.power_to_db(mel_power, ref=1.0, amin=1e-10, top_db=top_db).astype(np.float32)


def log_mel(
    y: np.ndarray,
    sr: int,
    *,
    n_mels: int = 128,
    n_fft: int = 2048,
    hop_length: int = 512,
    top_db: float = 80.0,
) -> np.ndarray:
    """Log-mel spectrogram of mono ``y`` (float32, shape n_mels x frames)."""
    import librosa

    power = np.abs(librosa.stft(np.asarray(y, dtype=np.float32), n_fft=n_fft, hop_length=hop_length)) ** 2
    mel = librosa.feature.melspectrogram(sr=sr, S=power, n_mels=n_mels)
    return log_mel_from_power(mel, top_db)


