"""Waveform augmentation for the extra training copies of ``[augment] copies``.

Changes that a spectrogram cannot be given on the fly (speed, pitch, additive noise) are made to
the decoded clip before its views are computed, once per copy at extraction (mgc.cache.copies).
Each copy draws from its own generator (:func:`copy_rng`), seeded by the run's seed, the track id
and the copy number only, so a copy is the same whichever worker makes it, in whatever order,
and whatever else the run extracts.
"""

from __future__ import annotations

import zlib

import numpy as np

from mgc.audio.clip import fit_length
from mgc.config import AugmentConfig


def copy_rng(seed: int, track_id: str, k: int) -> np.random.Generator:
    """The generator of copy ``k`` (1..N) of ``track_id`` in a run seeded ``seed``.

    The id enters through CRC-32 of its UTF-8 bytes: stable across processes and Python versions
    (``hash()`` of a string is salted per process)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(str(track_id).encode("utf-8")), int(k)]))


def augment_waveform(y: np.ndarray, sample_rate: int, augment: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """``y`` changed by ``augment``'s waveform settings, float32 and as long as ``y``.

    In order, each only when its setting is > 0 (so it draws nothing from ``rng`` otherwise):

    - speed: a factor ``f`` uniform in ``1 +- speed``, applied by resampling, so speed and pitch
      change together like tape played at ``f`` times its speed; the result is cropped or
      zero-padded back to ``len(y)``;
    - pitch: ``librosa.effects.pitch_shift`` by a number of semitones uniform in ``+- pitch_semitones``;
    - noise: white Gaussian noise at an SNR uniform in ``[noise_snr_db, noise_snr_db + 20]`` dB,
      relative to the power of the clip as it is at that point.
    """
    import librosa

    y = np.ascontiguousarray(y, dtype=np.float32)
    n = len(y)
    out = y
    if augment.speed > 0:
        factor = rng.uniform(1.0 - augment.speed, 1.0 + augment.speed)
        # n samples become about n / factor: played at sample_rate, factor times as fast (and high)
        out = librosa.resample(out, orig_sr=sample_rate, target_sr=sample_rate / factor)
        out = fit_length(out, n)
    if augment.pitch_semitones > 0:
        steps = rng.uniform(-augment.pitch_semitones, augment.pitch_semitones)
        out = librosa.effects.pitch_shift(out, sr=sample_rate, n_steps=steps)
        out = fit_length(out, n)
    if augment.noise_snr_db > 0:
        snr_db = rng.uniform(augment.noise_snr_db, augment.noise_snr_db + 20.0)
        power = float(np.mean(np.square(out, dtype=np.float64))) if n else 0.0
        scale = np.sqrt(power / 10.0 ** (snr_db / 10.0))
        out = out + (scale * rng.standard_normal(n)).astype(np.float32)
    return np.ascontiguousarray(out, dtype=np.float32)
