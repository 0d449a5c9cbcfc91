"""A whole track as the model's fixed-length clips ("windows") and their input views.

A track is decoded once (mono, the model's sample rate) and cut into windows of the clip length
the model was trained on, starting every ``hop`` samples. A track shorter than one clip gives one
zero-padded window (at least one window, always). A trailing window is zero-padded too, but left
out when it would hold less than half a clip of audio (unless it is the only one), so the tail of
a track never weighs as much as a full clip of music. Silent windows (an intro, a gap) are left
out. A long track (over :data:`LONG_SECONDS`) is never decoded whole: it becomes parts of about
:data:`PART_SECONDS` of windows, each decoded on its own (:func:`mgc.audio.clip.load_part`, the
whole file's samples to float precision), so memory stays flat however long the file is.
A track is usable by the rule training's clips follow (:func:`mgc.audio.clip.check_usable`):
shorter than ``min_duration`` seconds is a failure "too short: ...", silent everywhere (or in
every window) a failure "silent: ...". Each window gets exactly the views training computed
for a clip: :func:`mgc.features.extract_views` (or only the log-mel when the model
reads no features).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mgc.config import SpectrogramConfig
from mgc.contract import window_starts  # (re-exported: predict's windowing is the contract's)
from mgc.errors import AudioError
from mgc.features.views import check_views
from mgc.parallel import Done, Failed

LONG_SECONDS = 600.0  # a file longer than this is predicted in parts (its length from the header)
PART_SECONDS = 120.0  # about this much audio of windows per part
LONG_BYTES = 2_000_000  # smaller files are never that long in any format predict reads: no header read


@dataclass(frozen=True)
class WindowSettings:
    """How a track becomes model inputs: the model's audio settings plus the hop."""

    sample_rate: int
    clip_samples: int
    hop_samples: int
    spectrogram: SpectrogramConfig
    inputs: tuple[str, ...]  # the views to compute: "spectrogram", "features", "waveform"
    decoder: str = "soundfile"
    min_duration: float = 0.0  # seconds: a shorter track is "too short" (predict: the model's training minimum)

    def __post_init__(self):
        check_views(self.inputs)  # a non-empty subset of spectrogram, features, waveform
        if self.clip_samples < 1 or self.hop_samples < 1:
            raise ValueError("clip_samples and hop_samples must be >= 1")
        if not self.min_duration >= 0:
            raise ValueError(f"min_duration must be >= 0 seconds, got {self.min_duration}")


def cut_windows(y: np.ndarray, clip_samples: int, hop_samples: int) -> np.ndarray:
    """``(windows, clip_samples)`` float32: ``y`` cut at :func:`window_starts`, zero-padded."""
    return cut_at(y, window_starts(len(y), clip_samples, hop_samples), clip_samples)


def cut_at(y: np.ndarray, starts, clip_samples: int) -> np.ndarray:
    """``(len(starts), clip_samples)`` float32: ``y`` cut at ``starts``, zero-padded."""
    from mgc.audio.clip import fit_length

    return np.stack([fit_length(y[s:s + clip_samples], clip_samples) for s in starts]).astype(np.float32)


def loud_views(y: np.ndarray, starts, offset: int, settings: WindowSettings):
    """``(views, starts)`` of the non-silent windows of ``y`` at ``starts`` (samples of the track; ``y``
    begins at its sample ``offset``): views None when every window is silent."""
    from mgc.audio.clip import SILENCE_PEAK

    starts = np.asarray(starts, np.int64)
    windows = cut_at(y, starts - offset, settings.clip_samples)
    loud = np.max(np.abs(windows), axis=1) >= SILENCE_PEAK
    return (window_views(windows[loud], settings) if loud.any() else None), starts[loud]


def window_views(windows: np.ndarray, settings: WindowSettings) -> dict[str, np.ndarray]:
    """The model inputs of each window, stacked: ``{view: (windows, ...)}`` float32."""
    from mgc.features.views import clip_views

    return clip_views(windows, settings.sample_rate, settings.spectrogram, settings.inputs)


def track_windows(path: str, settings: WindowSettings) -> dict[str, np.ndarray]:
    """Decode ``path`` and return the stacked views of its (non-silent) windows (:func:`track_segments`)."""
    return track_segments(path, settings)[0]


def track_segments(path: str, settings: WindowSettings) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """``(views, starts, n_samples)``: the stacked views of the (non-silent) windows of ``path``, each
    window's first sample and the track's length in samples (at ``settings.sample_rate``).

    Raises :class:`AudioError` (a one-line reason) for a file that cannot be used: missing,
    empty, undecodable, no samples, shorter than ``settings.min_duration`` ("too short: ...")
    or silent ("silent: ..."), by :func:`mgc.audio.clip.check_usable` like training's clips.
    """
    from mgc.audio.clip import SILENT, check_usable, load_audio

    y = load_audio(path, settings.sample_rate, settings.decoder)
    if len(y) == 0:
        raise AudioError("no audio samples")
    check_usable(y, settings.sample_rate, settings.min_duration)
    views, starts = loud_views(y, window_starts(len(y), settings.clip_samples, settings.hop_samples), 0, settings)
    if views is None:  # sound only where no window reaches (a hop longer than the clip)
        raise AudioError(SILENT)
    return views, starts, len(y)


def plan_tasks(paths: list[str], settings: WindowSettings) -> list[tuple]:
    """The workers' tasks: ``(index, path)`` for a file decoded whole, and for a long file one
    ``(index, path, last, starts, n_samples)`` per part (``starts``: its windows' first samples)."""
    import os

    from mgc.audio.clip import audio_length

    tasks = []
    for i, path in enumerate(paths):
        n_samples = 0
        try:
            if os.path.getsize(path) > LONG_BYTES:
                n_samples = audio_length(path, settings.sample_rate, settings.decoder)
        except (OSError, AudioError):
            pass  # the worker decodes it and says what is wrong
        if n_samples <= LONG_SECONDS * settings.sample_rate:
            tasks.append((str(i), path))
            continue
        starts = window_starts(n_samples, settings.clip_samples, settings.hop_samples)
        step = max(1, int(PART_SECONDS * settings.sample_rate) // settings.hop_samples)
        for k in range(0, len(starts), step):
            part = tuple(starts[k:k + step])
            tasks.append((str(i), path, k + step >= len(starts), part, n_samples))
    return tasks


def part_segments(path: str, starts: tuple[int, ...], n_samples: int,
                  settings: WindowSettings) -> tuple[dict[str, np.ndarray] | None, np.ndarray, int]:
    """:func:`track_segments` of the windows at ``starts`` only (a part of a long file): views None
    when they are all silent (the file is silent only if every part is)."""
    from mgc.audio.clip import load_part

    first, end = starts[0], starts[-1] + settings.clip_samples
    y = load_part(path, settings.sample_rate, first, min(end, n_samples) - first, settings.decoder)
    return (*loud_views(y, starts, first, settings), n_samples)


def process_file(task: tuple, settings: WindowSettings) -> Done | Failed:
    """Worker entry point (for :func:`mgc.parallel.run_parallel`): ``Done(task, (views, starts,
    n_samples))`` (:func:`track_segments`, or :func:`part_segments` for a part of a long file), or
    ``Failed(task, reason)`` when the file is unusable."""
    path = task[1]
    try:
        segments = track_segments(path, settings) if len(task) == 2 else part_segments(path, *task[3:], settings)
    except AudioError as exc:
        return Failed(task, str(exc))
    except MemoryError:
        return Failed(task, "out of memory while decoding or computing the windows")
    except Exception as exc:  # librosa on pathological audio: one failed row, never a stopped batch
        first = (str(exc).strip().splitlines() or [""])[0]
        return Failed(task, f"feature extraction failed: {type(exc).__name__}: {first}"[:300])
    return Done(task, segments)
