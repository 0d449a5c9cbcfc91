"""musicnn's input: 96-band log-compressed mel patches of 3 s at 16 kHz, as musicnn 0.1.0 computes them.

A copy of ``musicnn/extractor.py``'s ``batch_data`` (ISC licence, MTG/UPF) that gives the same arrays:
``librosa.load`` at 16 kHz (mono, librosa's default resampler), ``melspectrogram(n_fft=512, hop=256,
n_mels=96)`` of the power STFT, rounded to float16 (the pretrained models were trained on float16
spectrograms), then ``log10(10000 x + 1)`` in float32, cut into 187-frame patches starting every ``hop``
frames (187 by default: no overlap; a tail shorter than a patch is dropped).

A clip of the other views (any ``[audio] sample_rate``) becomes musicnn's input with
:func:`clip_patches`: resampled to 16 kHz by scipy's polyphase filter (:func:`to_musicnn_rate`; the
exports' graph computes the same filter, :mod:`mgc.export.musicnn_graph`), so the pretrained view of a
track is a function of the very clip the spectrogram and the features come from.

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
RESAMPLE_WINDOW = ("kaiser", 5.0)  # scipy.signal.resample_poly's default FIR window (its filter: 20 taps per phase)


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


def rate_ratio(sample_rate: int) -> tuple[int, int]:
    """``(up, down)``: 16 kHz / ``sample_rate`` as a reduced fraction (22050 Hz: 320 / 441)."""
    from math import gcd

    g = gcd(SR, int(sample_rate))
    return SR // g, int(sample_rate) // g


def to_musicnn_rate(y: np.ndarray, sample_rate: int) -> np.ndarray:
    """A mono waveform at ``sample_rate`` resampled to 16 kHz (float32): ``scipy.signal.resample_poly``
    with its default Kaiser-windowed filter; ``ceil(len(y) * 16000 / sample_rate)`` samples."""
    from scipy.signal import resample_poly

    y = np.asarray(y, dtype=np.float32)
    up, down = rate_ratio(sample_rate)
    return y.copy() if up == down else resample_poly(y, up, down, window=RESAMPLE_WINDOW).astype(np.float32)


def n_clip_patches(clip_samples: int, sample_rate: int) -> int:
    """How many patches :func:`clip_patches` cuts from a clip of ``clip_samples`` at ``sample_rate``."""
    up, down = rate_ratio(sample_rate)
    frames = 1 + -(-int(clip_samples) * up // down) // HOP  # centred frames of the 16 kHz clip
    return max(1, (frames - PATCH_FRAMES) // PATCH_FRAMES + 1)


def clip_patches(y: np.ndarray, sample_rate: int) -> np.ndarray:
    """musicnn's non-overlapping patches of a clip at ``sample_rate``: float32 ``(n, 187, 96)``.

    The pretrained view's input (the mean of the patches' embeddings is the track's vector): the
    clip at 16 kHz (:func:`to_musicnn_rate`), its log-mel, cut into patches with the tail shorter
    than a patch dropped; a clip shorter than one patch is padded with silence (0 is the log-mel of
    silence: ``log10(10000 * 0 + 1)``)."""
    spectrogram = log_mel(to_musicnn_rate(y, sample_rate))
    short = PATCH_FRAMES - spectrogram.shape[0]
    if short > 0:
        spectrogram = np.pad(spectrogram, ((0, short), (0, 0)))
    return patches(spectrogram)
