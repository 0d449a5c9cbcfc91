"""musicnn as a genre tagger: the facts its predict runner (:mod:`mgc.predict.tagger`) and its export
(:mod:`mgc.export.tagger`) share, without Keras: the tagger names, the window, the tag -> genre mapping.

A window is one musicnn patch at 16 kHz: 187 frames of 256 samples (:data:`CLIP_SAMPLES` = 47,872
samples, 2.992 s); its input is the first 187 frames of its own musicnn log-mel (:func:`window_patches`).
A genre's probability is the largest of its tags' probabilities (:func:`genre_scores`), not renormalised.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mgc.config import SpectrogramConfig
from mgc.contract import ClipSpec
from mgc.errors import UserError
from mgc.features import musicnn_input

TAGGERS = {"musicnn-msd": "msd", "musicnn-mtt": "mtt"}  # --model names -> build_musicnn's weights
CLIP_SAMPLES = musicnn_input.PATCH_FRAMES * musicnn_input.HOP  # 47872: one patch of 187 frames at 16 kHz
CLIP_SECONDS = CLIP_SAMPLES / musicnn_input.SR  # 2.992

# The tags that name a genre, by genre (in this order: the table's p_<genre> columns). MSD's tags are
# last.fm's 50 most used on the Million Song Dataset, MTT's MagnaTagATune's 50.
GENRE_TAGS: dict[str, dict[str, tuple[str, ...]]] = {
    "msd": {
        "rock": ("rock", "alternative rock", "classic rock", "hard rock", "indie rock", "Progressive rock",
                 "alternative", "indie"),  # last.fm's "alternative" and "indie" are mostly rock
        "pop": ("pop", "indie pop"),
        "electronic": ("electronic", "electronica", "electro", "dance", "House"),
        "hip-hop": ("Hip-Hop",),
        "jazz": ("jazz",),
        "blues": ("blues",),
        "country": ("country",),
        "folk": ("folk",),
        "metal": ("metal", "heavy metal"),
        "punk": ("punk",),
        "soul": ("soul", "rnb"),
        "funk": ("funk",),
        "ambient": ("ambient", "chillout"),
        "experimental": ("experimental",),
    },
    "mtt": {
        "classical": ("classical", "classic", "opera", "choral", "choir"),  # MTT's "classic" is classical music
        "electronic": ("electronic", "techno", "dance"),
        "rock": ("rock",),
        "pop": ("pop",),
        "metal": ("metal",),
        "country": ("country",),
        "indian": ("indian", "sitar"),
        "new-age": ("new age",),
        "ambient": ("ambient",),
    },
}
# (every mapped tag is one of the model's, used once: tests/test_tagger.py)


def genre_index(mapping: dict[str, Sequence[str]], tags: Sequence[str]) -> list[list[int]]:
    """For each genre of ``mapping`` (in order), the positions of its tags in ``tags``."""
    position = {tag: i for i, tag in enumerate(tags)}
    missing = [tag for group in mapping.values() for tag in group if tag not in position]
    if missing:
        raise UserError(f"genre mapping names tags the model does not have: {', '.join(missing)}")
    return [[position[tag] for tag in group] for group in mapping.values()]


def genre_scores(tag_probabilities: np.ndarray, index: list[list[int]]) -> np.ndarray:
    """Each genre's probability: the largest of its tags' (``(..., n_tags)`` -> ``(..., n_genres)``)."""
    tag_probabilities = np.asarray(tag_probabilities)
    return np.stack([tag_probabilities[..., group].max(axis=-1) for group in index], axis=-1)


def window_patches(windows: np.ndarray) -> np.ndarray:
    """musicnn's patch of each 16 kHz waveform window: ``(n, samples)`` -> float32 ``(n, 187, 96)``.

    The first 187 frames of the window's centred log-mel (a window of :data:`CLIP_SAMPLES` has 188;
    the last is centred on the next window's first sample)."""
    frames = musicnn_input.PATCH_FRAMES
    out = np.zeros((len(windows), frames, musicnn_input.N_MELS), np.float32)
    for i, window in enumerate(windows):
        spectrogram = musicnn_input.log_mel(window)[:frames]
        out[i, :len(spectrogram)] = spectrogram
    return out


def tagger_clip() -> ClipSpec:
    """The window a musicnn tagger sees: one patch at 16 kHz (its shortest usable file too)."""
    spec = SpectrogramConfig(n_mels=musicnn_input.N_MELS, n_fft=musicnn_input.N_FFT, hop_length=musicnn_input.HOP)
    return ClipSpec(musicnn_input.SR, CLIP_SECONDS, CLIP_SAMPLES, spec, CLIP_SECONDS)
