"""The model inputs of a stack of clips, each clip's views exactly as training computed them.

Predict's windows (:func:`mgc.predict.windows.window_views`) and the serving client's one clip
per file (:func:`mgc.serving.inputs_from_files`) both come through :func:`clip_views`.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from mgc.config import SpectrogramConfig
from mgc.contract import FEATURES, PATCHES, SPECTROGRAM, WAVEFORM
from mgc.errors import AudioError

# What a clip can be turned into here: two views, its raw waveform, or musicnn's patches (the pretrained
# view is a model's output: its runner embeds the patches)
CLIP_VIEWS = (SPECTROGRAM, FEATURES, WAVEFORM, PATCHES)


def check_views(inputs: Iterable[str]) -> tuple[str, ...]:
    """``inputs`` as a tuple, a non-empty subset of :data:`CLIP_VIEWS` (else ``ValueError``)."""
    inputs = tuple(inputs)
    unknown = [name for name in inputs if name not in CLIP_VIEWS]
    if unknown or not inputs:
        raise ValueError(f"inputs must be a non-empty subset of {CLIP_VIEWS}, got {inputs}")
    return inputs


def clip_views(clips: np.ndarray, sample_rate: int, spectrogram: SpectrogramConfig,
               inputs: Iterable[str]) -> dict[str, np.ndarray]:
    """The model inputs of each clip of ``clips`` (mono, at ``sample_rate``), stacked:
    ``{view: (clips, ...)}`` float32 for the views named in ``inputs``: ``spectrogram`` (the
    log-mel), ``features`` (with the log-mel from :func:`mgc.features.extract_views`),
    ``waveform`` (the clip itself) and ``patches`` (musicnn's input patches of the clip,
    :func:`mgc.features.musicnn_input.clip_patches`: what the pretrained view is the mean embedding
    of). A view that is not finite raises :class:`AudioError`."""
    from mgc.features import extract_views, log_mel, musicnn_input

    spec = spectrogram
    columns: dict[str, list[np.ndarray]] = {name: [] for name in inputs}
    for clip in clips:
        if FEATURES in columns:
            features, log_mel_view = extract_views(clip, sample_rate, spec)
            columns[FEATURES].append(features)
        elif SPECTROGRAM in columns:
            log_mel_view = log_mel(clip, sample_rate, n_mels=spec.n_mels, n_fft=spec.n_fft,
                                   hop_length=spec.hop_length, top_db=spec.top_db)
        if SPECTROGRAM in columns:
            columns[SPECTROGRAM].append(log_mel_view)
        if WAVEFORM in columns:
            columns[WAVEFORM].append(clip)
        if PATCHES in columns:
            columns[PATCHES].append(musicnn_input.clip_patches(clip, sample_rate))
    views = {name: np.stack(values).astype(np.float32) for name, values in columns.items()}
    for name, value in views.items():
        if not np.all(np.isfinite(value)):
            raise AudioError(f"{name} of the audio is not finite")
    return views
