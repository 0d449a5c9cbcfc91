"""A whole track as the model's fixed-length clips ("windows") and their input views.

A track is decoded once (mono, the model's sample rate) and cut into windows of the clip length
the model was trained on, starting every ``hop`` samples. A track shorter than one clip gives one
zero-padded window (at least one window, always). A trailing window is zero-padded too, but left
out when it would hold less than half a clip of audio (unless it is the only one), so the tail of
a track never weighs as much as a full clip of music. Silent windows (an intro, a gap) are left
out. A track is usable by the rule training's clips follow (:func:`mgc.audio.clip.check_usable`):
shorter than ``min_duration`` seconds is a failure "too short: ...", silent everywhere (or in
every window) a failure "silent: ...". Each window gets exactly the views training computed
for a clip: :func:`mgc.features.extract_views` (or only the log-mel when the model
reads no features).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mgc.config import SpectrogramConfig
from mgc.contract import window_starts  # noqa: F401  (re-exported: predict's windowing is the contract's)
from mgc.errors import AudioError
from mgc.features.views import check_views
from mgc.parallel import Done, Failed


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
    from mgc.audio.clip import fit_length

    return np.stack([fit_length(y[s:s + clip_samples], clip_samples)
                     for s in window_starts(len(y), clip_samples, hop_samples)]).astype(np.float32)


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
    from mgc.audio.clip import SILENCE_PEAK, SILENT, check_usable, load_audio

    y = load_audio(path, settings.sample_rate, settings.decoder)
    if len(y) == 0:
        raise AudioError("no audio samples")
    check_usable(y, settings.sample_rate, settings.min_duration)
    starts = np.asarray(window_starts(len(y), settings.clip_samples, settings.hop_samples), np.int64)
    windows = cut_windows(y, settings.clip_samples, settings.hop_samples)
    loud = np.max(np.abs(windows), axis=1) >= SILENCE_PEAK
    if not loud.any():  # sound only where no window reaches (a hop longer than the clip)
        raise AudioError(SILENT)
    return window_views(windows[loud], settings), starts[loud], len(y)


def process_file(task: tuple[str, str], settings: WindowSettings) -> Done | Failed:
    """Worker entry point (for :func:`mgc.parallel.run_parallel`): ``Done(task, (views, starts,
    n_samples))`` (:func:`track_segments`), or ``Failed(task, reason)`` when the file is unusable."""
    _, path = task
    try:
        segments = track_segments(path, settings)
    except AudioError as exc:
        return Failed(task, str(exc))
    except MemoryError:
        return Failed(task, "out of memory while decoding or computing the windows")
    except Exception as exc:  # librosa on pathological audio: one failed row, never a stopped batch
        first = (str(exc).strip().splitlines() or [""])[0]
        return Failed(task, f"feature extraction failed: {type(exc).__name__}: {first}"[:300])
    return Done(task, segments)
