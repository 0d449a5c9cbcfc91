"""What :func:`mgc.predict.predict_files` needs from a model: the :class:`Runner` interface
(:mod:`mgc.predict.runners` and :mod:`mgc.predict.tagger` implement it)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mgc.config import AudioConfig, SpectrogramConfig
from mgc.contract import ClipSpec
from mgc.errors import UserError
from mgc.features.musicnn_tags import genre_index, genre_scores


class Runner:
    """What :func:`mgc.predict.predict_files` needs from a model.

    A genre classifier's ``predict_batch`` returns probabilities over ``labels``; a tagger's (``tags``
    not empty, set by :meth:`_set_tags`) returns tag probabilities, which :meth:`genre_probabilities`
    turns into its genres' (``labels``: the mapping's genres)."""

    labels: list[str]
    inputs: tuple[str, ...]
    clip: ClipSpec  # the clip the model sees (sample_rate, clip_samples, spectrogram below are its)
    sample_rate: int
    clip_samples: int
    spectrogram: SpectrogramConfig
    decoder: str = "soundfile"
    min_duration: float = AudioConfig.min_duration  # seconds; a shorter file is "too short"
    description: str = ""
    tags: list[str] = []  # a tagger's tags, in its output's order; empty for a genre classifier
    identity: tuple[str, str] = ("", "")  # (model name, version): what --write-tags records in the MGC tag

    def predict_batch(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    @property
    def tagger(self) -> bool:
        return bool(self.tags)

    def _set_tags(self, tags: Sequence[str], genre_tags: dict[str, Sequence[str]]) -> None:
        """Make this a tagger of ``tags`` whose genres (``labels``) are ``genre_tags``'s keys."""
        self.tags = [str(tag) for tag in tags]
        self.labels = [str(genre) for genre in genre_tags]
        self._genre_index = genre_index(genre_tags, self.tags)

    def genre_probabilities(self, tag_probabilities: np.ndarray) -> np.ndarray:
        """A tagger's genre probabilities: each genre's largest tag probability."""
        return genre_scores(tag_probabilities, self._genre_index)

    def _check(self, probabilities, n: int) -> np.ndarray:
        """``probabilities`` as float32 ``(n, len(tags or labels))``, else a UserError saying what came."""
        names, what = (self.tags, "tags") if self.tagger else (self.labels, "labels")
        probabilities = np.asarray(probabilities, dtype=np.float32)
        if probabilities.shape != (n, len(names)):
            raise UserError(f"{self.description}: model returned probabilities of shape {probabilities.shape}, "
                            f"expected ({n}, {len(names)}) for {what} {names}")
        return probabilities
