"""From a file to the mono, fixed-rate, fixed-length clip every model sees.

Resampling uses librosa's default (soxr "high quality"). A clip is read like
``librosa.load(path, sr=rate, mono=True, offset=offset, duration=duration)``: only its span of
the file is decoded (the same frames librosa reads), mixed to mono and resampled, then
zero-padded to the clip length; so memory does not grow with the length of the file.

:func:`check_usable` is the one rule for whether audio is usable, for training clips
(:func:`load_clip`, the ``extract`` stage) and for the tracks ``predict`` classifies alike.
"""

from __future__ import annotations

import numpy as np

from mgc.audio.decode import decode, decode_span
from mgc.contract import clip_samples
from mgc.errors import AudioError

SILENCE_PEAK = 1e-4  # about -80 dBFS: quieter than this everywhere counts as silent
SILENT = "silent: peak amplitude below -80 dBFS"


def mono_at(samples: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    """``(frames, channels)`` samples at ``rate`` -> mono float32 at ``sample_rate`` (librosa's way)."""
    import librosa

    y = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    y = np.ascontiguousarray(y, dtype=np.float32)
    if rate != sample_rate and len(y):
        y = librosa.resample(y, orig_sr=rate, target_sr=sample_rate)
    return y


def load_audio(path: str, sample_rate: int, decoder: str = "soundfile") -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate`` (whole track)."""
    samples, rate = decode(str(path), decoder)
    return mono_at(samples, rate, sample_rate)


def audio_length(path: str, sample_rate: int, decoder: str = "soundfile") -> int:
    """How many samples :func:`load_audio` gives for ``path`` at ``sample_rate``, from the header alone."""
    from mgc.audio.decode import info

    rate, frames = info(str(path), decoder)
    return frames if rate == sample_rate else -(-frames * sample_rate // rate)  # soxr: ceil(frames * ratio)


PART_MARGIN = 0.05  # seconds decoded beyond each end of a part: the resampler's edges fall outside it


def load_part(path: str, sample_rate: int, start: int, count: int, decoder: str = "soundfile") -> np.ndarray:
    """Samples ``[start, start + count)`` of :func:`load_audio`'s output (zero past the end), decoding
    only that part of the file (and a short margin): memory does not grow with the file's length.

    The part is decoded from a frame where the file's rate and ``sample_rate`` meet on whole samples
    (a multiple of ``rate / gcd``), with :data:`PART_MARGIN` on each side, so its resampled samples
    are the whole file's to float precision (measured 2.4e-7: soxr's filter is shorter than the margin)."""
    from math import gcd

    from mgc.audio.decode import info

    rate, _ = info(str(path), decoder)
    g = gcd(rate, sample_rate)
    step_in, step_out = rate // g, sample_rate // g  # step_in file frames = step_out output samples
    margin = -(-int(PART_MARGIN * rate) // step_in) * step_in
    first = max(0, (start * rate // sample_rate) // step_in * step_in - margin)  # a file frame on the grid
    last = -(-(start + count) * rate // sample_rate) + margin + step_in
    span = decode_span(str(path), decoder, part=(first, last - first))
    y = mono_at(span.samples, rate, sample_rate) if len(span.samples) else np.zeros(0, np.float32)
    offset = first // step_in * step_out  # the output sample the decoded part starts at
    return fit_length(y[start - offset:], count)


def fit_length(y: np.ndarray, n_samples: int) -> np.ndarray:
    """Crop to ``n_samples`` or zero-pad at the end."""
    if len(y) >= n_samples:
        return y[:n_samples]
    return np.pad(y, (0, n_samples - len(y)))


def check_usable(y: np.ndarray, sample_rate: int, min_duration: float, *, seconds: float | None = None) -> None:
    """Raise :class:`AudioError` unless ``y`` is usable audio: the rule extract and predict share.

    - ``too short: ...`` when there are fewer than ``min_duration`` seconds of audio (or none);
      ``seconds`` is how much there is when ``y`` is only part of it (a clip cut from a longer
      file), by default ``len(y) / sample_rate``;
    - ``silent: ...`` when the peak of ``y`` is below :data:`SILENCE_PEAK` (about -80 dBFS).
    """
    if seconds is None:
        seconds = len(y) / sample_rate
    if seconds < min_duration or seconds <= 0 or len(y) == 0:
        raise AudioError(f"too short: {max(seconds, 0.0):.2f} s of audio, need at least {min_duration:g} s")
    if float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise AudioError(SILENT)


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

    Only that span of the file is decoded. Raises :class:`AudioError` when the file is unusable
    (:func:`check_usable`): undecodable, shorter than ``min_duration`` seconds after ``offset``
    (counted from the file's frame count, not by decoding it all), or a silent clip.
    """
    span = decode_span(str(path), decoder, offset=offset, duration=duration)
    seconds = (span.frames - span.start) / span.rate  # audio after offset, to the end of the file
    y = fit_length(mono_at(span.samples, span.rate, sample_rate), clip_samples(duration, sample_rate))
    check_usable(y, sample_rate, min_duration, seconds=seconds)
    return y
