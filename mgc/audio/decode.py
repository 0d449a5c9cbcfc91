"""Decode an audio file into samples: the only place that knows which decoder is used.

Two decoders, chosen by ``[audio] decoder``:

- ``soundfile`` (default): libsndfile >= 1.1 reads MP3, Ogg Vorbis, FLAC, WAV and AU with no
  ffmpeg; fast and exact.
- ``tfio``: tensorflow-io's ``tfio.audio.AudioIOTensor`` (WAV, FLAC, Ogg Vorbis, MP3), for
  pipelines that want to decode inside TensorFlow. It needs TensorFlow 2.17.x.

Replacing a decoder means editing this file only: everything else calls :func:`decode` (a
whole file) or :func:`decode_span` (``duration`` seconds from ``offset``: only that span is
read, so a 4 s clip of a 10-minute file costs 4 s of samples, not 10 minutes).
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from mgc.errors import AudioError

DECODERS = ("soundfile", "tfio")


class Span(NamedTuple):
    """Part of a file, as :func:`decode_span` read it."""

    samples: np.ndarray  # float32, shape (frames read, channels); empty when ``start`` is past the end
    rate: int  # the file's own sample rate
    start: int  # the first frame read
    frames: int  # frames in the whole file (the header's count, lowered if the file ends earlier)


def decode(path: str, decoder: str = "soundfile") -> tuple[np.ndarray, int]:
    """Return ``(samples, sample_rate)`` of the whole file, samples float32 of shape (frames, channels).

    Raises :class:`AudioError` with a short reason for missing, empty or undecodable files.
    """
    span = decode_span(path, decoder)
    return span.samples, span.rate


def decode_span(path: str, decoder: str = "soundfile", *, offset: float = 0.0,
                duration: float | None = None, part: tuple[int, int] | None = None) -> Span:
    """Read ``duration`` seconds (default: to the end) from ``offset`` seconds, and nothing else.

    The frames are those ``librosa.load(path, offset=offset, duration=duration)`` reads: from
    ``int(offset * rate)``, ``int(duration * rate)`` of them (fewer at the end of the file);
    ``part=(start, count)`` gives them in the file's own frames instead (predict's parts of a
    long file). The NaN check covers the span read. Raises :class:`AudioError` like
    :func:`decode`; a file without frames is "no audio samples", a span past the end is an
    empty ``samples``.
    """
    if not os.path.exists(path):
        raise AudioError("file not found")
    if os.path.isdir(path):
        raise AudioError("is a directory, not an audio file")
    if os.path.getsize(path) == 0:
        raise AudioError("empty file")
    if decoder == "soundfile":
        read = _read_soundfile
    elif decoder == "tfio":
        read = _read_tfio
    else:
        raise ValueError(f"unknown decoder {decoder!r}; choose one of {DECODERS}")
    samples, rate, start, frames = read(path, offset, duration, part)
    if samples.ndim != 2 or frames <= 0:
        raise AudioError("no audio samples")
    if not np.all(np.isfinite(samples)):
        raise AudioError("audio contains NaN or infinite samples")
    return Span(samples, rate, start, frames)


def _frames_to_read(rate: int, frames: int, offset: float, duration: float | None,
                    span: tuple[int, int] | None = None) -> tuple[int, int]:
    """``(start, count)`` in frames, librosa.load's arithmetic (or ``span`` as given), clipped to the file."""
    if span is not None:
        start, count = max(0, int(span[0])), int(span[1])
    else:
        start = max(0, int(offset * rate))
        count = frames - start if duration is None else int(duration * rate)
    start = min(start, frames)
    return start, max(0, min(count, frames - start))


def info(path: str, decoder: str = "soundfile") -> tuple[int, int]:
    """``(sample rate, frames)`` from the file's header, without decoding it (about a millisecond)."""
    span = decode_span(path, decoder, part=(0, 0)) if decoder != "soundfile" else None
    if span is not None:
        return span.rate, span.frames
    import soundfile as sf

    try:
        found = sf.info(path)
    except Exception as exc:
        raise AudioError(f"cannot decode: {_one_line(exc)}") from None
    return int(found.samplerate), int(found.frames)


def _read_soundfile(path: str, offset: float, duration: float | None, span: tuple[int, int] | None = None):
    import soundfile as sf

    try:
        with sf.SoundFile(path) as f:
            rate, frames, channels = int(f.samplerate), int(f.frames), int(f.channels)
            start, count = _frames_to_read(rate, frames, offset, duration, span)
            if count == 0:
                return np.zeros((0, channels), np.float32), rate, start, frames
            if start:
                f.seek(start)
            samples = f.read(count, dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile reports every decode failure as a RuntimeError/LibsndfileError
        reason = _one_line(exc)
        if "does not exist" in reason or "unknown format" in reason.lower():  # libsndfile's words for junk
            reason = "not a recognised audio format, or the file is corrupt"
        raise AudioError(f"cannot decode: {reason}") from None
    if len(samples) < count:  # the header promised more than the file holds
        frames = start + len(samples)
    return samples, rate, start, frames


def _read_tfio(path: str, offset: float, duration: float | None, span: tuple[int, int] | None = None):
    # The one TensorFlow import outside input/, export/, the cache's TFRecords and the training
    # engines: the audio package owns every decoder (moving this one up into mgc.input would make
    # audio import a higher layer), so TensorFlow stays inside this function, imported only when
    # [audio] decoder = "tfio" is chosen.
    import tensorflow as tf
    import tensorflow_io as tfio

    try:
        audio = tfio.audio.AudioIOTensor(path)
        rate = int(audio.rate.numpy())
        frames, channels = (int(n) for n in audio.shape.numpy())
        start, count = _frames_to_read(rate, frames, offset, duration, span)
        if count == 0:
            return np.zeros((0, channels), np.float32), rate, start, frames
        # the whole file through to_tensor(), a span by slicing (read from the file on its own)
        samples = audio.to_tensor() if (start, count) == (0, frames) else audio[start:start + count]
        if samples.dtype == tf.uint8:  # 8-bit WAV is unsigned, centred on 128
            samples = (tf.cast(samples, tf.float32) - 128.0) / 128.0
        elif samples.dtype != tf.float32:  # signed integer PCM: scale to [-1, 1)
            scale = float(2 ** (samples.dtype.size * 8 - 1))
            samples = tf.cast(samples, tf.float32) / scale
        samples = samples.numpy()
    except Exception as exc:
        raise AudioError(f"cannot decode: {_one_line(exc)}") from None
    if len(samples) < count:
        frames = start + len(samples)
    return samples, rate, start, frames


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
