"""From a file to the mono, fixed-rate, fixed-length clip every model sees.

Resampling uses librosa's default (soxr "high quality"), so a clip equals
``librosa.load(path, sr=rate, mono=True)`` cut or padded to the clip length.
"""

from __future__ import annotations

import numpy as np

from mgc.audio.decode import decode
from mgc.errors import AudioError

SILENCE_PEAK = 1e-4  # about -80 dBFS: quieter than this everywhere counts as silent


def load_audio(path: str, sample_rate: int, decoder: str = "soundfile") -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate`` (whole track)."""
    import librosa

    samples, rate = decode(str(path), decoder)
    y = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    y = np.ascontiguousarray(y, dtype=np.float32)
    if rate != sample_rate:
        y = librosa.resample(y, orig_sr=rate, target_sr=sample_rate)
    return y


def fit_length(y: np.ndarray, n_samples: int) -> np.ndarray:
    """Crop to ``n_samples`` or zero-pad at the end."""
    if len(y) >= n_samples:
        return y[:n_samples]
    return np.pad(y, (0, n_samples - len(y)))


def load_clip(
    path: str,
    *,
    sample_rate: int = 22050,
    duration: float = 30.0,
    offset: float = 0.0,
    min_duration: float = 0.0,
    decoder: str = "soundfile",
) -> np.ndarray:
    """The clip used for training: ``duration`` seconds from ``offset``, mono at ``sample_rate``.

    Raises :class:`AudioError` when the file is unusable: undecodable, shorter than
    ``min_duration`` seconds after ``offset``, or silent.
    """
    y = load_audio(path, sample_rate, decoder)
    start = int(round(offset * sample_rate))
    y = y[start:]
    seconds = len(y) / sample_rate
    if seconds < min_duration or len(y) == 0:
        raise AudioError(f"too short: {seconds:.2f} s of audio, need at least {min_duration:g} s")
    y = fit_length(y, int(round(duration * sample_rate)))
    if float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise AudioError("silent: peak amplitude below -80 dBFS")
    return y
