"""musicnn's input: 96-band log-compressed mel patches of 3 s at 16 kHz, as musicnn 0.1.0 computes them.

A copy of ``musicnn/extractor.py``'s ``batch_data`` (ISC licence, MTG/UPF) that gives the same arrays:
``librosa.load`` at 16 kHz (mono, librosa's default resampler), ``melspectrogram(n_fft=512, hop=256,
n_mels=96)`` of the power STFT, rounded to float16 (the pretrained models were trained on float16
spectrograms), then ``log10(10000 x + 1)`` in float32, cut into 187-frame patches starting every ``hop``
frames (187 by default: no overlap; a tail shorter than a patch is dropped).

float32 because numpy 1.x promotes ``10000 * float16`` to float32 (the int does not fit float16); numpy 2
keeps float16 there, where mel powers above 6.55 overflow to inf, so the cast is written out here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mgc.errors import AudioError

SR = 16000
N_MELS = 96
N_FFT = 512
HOP = 256
PATCH_FRAMES = 187  # librosa.time_to_frames(3 s, sr=SR, n_fft=N_FFT, hop_length=HOP) + 1, as extractor.py


def load(path: str | Path) -> np.ndarray:
    """The mono 16 kHz waveform of ``path`` (float32), as ``librosa.load(path, sr=SR)``."""
    import librosa

    y, _ = librosa.load(str(path), sr=SR)
    return y


def log_mel(y: np.ndarray) -> np.ndarray:
    """musicnn's log-compressed mel spectrogram of a mono 16 kHz waveform: float32, (frames, N_MELS)."""
    import librosa

    mel = librosa.feature.melspectrogram(y=np.asarray(y, dtype=np.float32), sr=SR, hop_length=HOP, n_fft=N_FFT,
                                         n_mels=N_MELS).T
    return np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1)


def seconds_to_frames(seconds: float) -> int:
    """A duration in frames as extractor.py converts ``input_overlap`` (its patch hop; ``+ 1`` for a length)."""
    import librosa

    return int(librosa.time_to_frames(seconds, sr=SR, n_fft=N_FFT, hop_length=HOP))


def patches(spectrogram: np.ndarray, hop: int = PATCH_FRAMES, frames: int = PATCH_FRAMES) -> np.ndarray:
    """``frames``-long patches of ``spectrogram`` (frames, N_MELS) starting every ``hop`` frames: (n, frames, N_MELS).

    Raises :class:`AudioError` when it is shorter than one patch (extractor.py fails there too)."""
    starts = range(0, spectrogram.shape[0] - frames + 1, hop)
    if not starts:
        seconds = spectrogram.shape[0] * HOP / SR
        raise AudioError(f"too short for musicnn: {seconds:.1f} s, one patch needs {frames} frames (3 s)")
    return np.stack([spectrogram[t:t + frames] for t in starts])


def extract(path: str | Path, hop: int = PATCH_FRAMES) -> np.ndarray:
    """musicnn's input patches of an audio file: float32, (n, PATCH_FRAMES, N_MELS)."""
    return patches(log_mel(load(path)), hop)
