"""Decode an audio file into samples: the only place that knows which decoder is used.

Two decoders, chosen by ``[audio] decoder``:

- ``soundfile`` (default): libsndfile >= 1.1 reads MP3, Ogg Vorbis, FLAC, WAV and AU with no
  ffmpeg; fast and exact.
- ``tfio``: tensorflow-io's ``tfio.audio.AudioIOTensor`` (WAV, FLAC, Ogg Vorbis, MP3), for
  pipelines that want to decode inside TensorFlow. It needs TensorFlow 2.17.x.

Replacing a decoder means editing this file only: everything else calls :func:`decode`.
"""

from __future__ import annotations

import os

import numpy as np

from mgc.errors import AudioError

DECODERS = ("soundfile", "tfio")


def decode(path: str, decoder: str = "soundfile") -> tuple[np.ndarray, int]:
    """Return ``(samples, sample_rate)`` with samples float32 of shape (frames, channels).

    Raises :class:`AudioError` with a short reason for missing, empty or undecodable files.
    """
    if not os.path.exists(path):
        raise AudioError("file not found")
    if os.path.isdir(path):
        raise AudioError("is a directory, not an audio file")
    if os.path.getsize(path) == 0:
        raise AudioError("empty file")
    if decoder == "soundfile":
        samples, rate = _decode_soundfile(path)
    elif decoder == "tfio":
        samples, rate = _decode_tfio(path)
    else:
        raise ValueError(f"unknown decoder {decoder!r}; choose one of {DECODERS}")
    if samples.ndim != 2 or samples.shape[0] == 0:
        raise AudioError("no audio samples")
    if not np.all(np.isfinite(samples)):
        raise AudioError("audio contains NaN or infinite samples")
    return samples, rate


def _decode_soundfile(path: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        samples, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile reports every decode failure as a RuntimeError/LibsndfileError
        reason = _one_line(exc)
        if "does not exist" in reason or "unknown format" in reason.lower():  # libsndfile's words for junk
            reason = "not a recognised audio format, or the file is corrupt"
        raise AudioError(f"cannot decode: {reason}") from None
    return samples, int(rate)


def _decode_tfio(path: str) -> tuple[np.ndarray, int]:
    import tensorflow as tf
    import tensorflow_io as tfio

    try:
        audio = tfio.audio.AudioIOTensor(path)
        samples = audio.to_tensor()
        rate = int(audio.rate.numpy())
        if samples.dtype == tf.uint8:  # 8-bit WAV is unsigned, centred on 128
            samples = (tf.cast(samples, tf.float32) - 128.0) / 128.0
        elif samples.dtype != tf.float32:  # signed integer PCM: scale to [-1, 1)
            scale = float(2 ** (samples.dtype.size * 8 - 1))
            samples = tf.cast(samples, tf.float32) / scale
        return samples.numpy(), rate
    except Exception as exc:
        raise AudioError(f"cannot decode: {_one_line(exc)}") from None


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
