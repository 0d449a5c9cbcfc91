"""What :func:`mgc.predict.predict_files` needs from a model: the :class:`Runner` interface
(:mod:`mgc.predict.runners` and :mod:`mgc.predict.tagger` implement it)."""

from __future__ import annotations

import numpy as np

from mgc.config import AudioConfig, SpectrogramConfig
from mgc.contract import ClipSpec
from mgc.errors import UserError


class Runner:
    """What :func:`mgc.predict.predict_files` needs from a model."""

    labels: list[str]
    inputs: tuple[str, ...]
    clip: ClipSpec  # the clip the model sees (sample_rate, clip_samples, spectrogram below are its)
    sample_rate: int
    clip_samples: int
    spectrogram: SpectrogramConfig
    decoder: str = "soundfile"
    min_duration: float = AudioConfig.min_duration  # seconds; a shorter file is "too short"
    description: str = ""

    def predict_batch(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _check(self, probabilities, n: int) -> np.ndarray:
        probabilities = np.asarray(probabilities, dtype=np.float32)
        if probabilities.shape != (n, len(self.labels)):
            raise UserError(f"{self.description}: model returned probabilities of shape {probabilities.shape}, "
                            f"expected ({n}, {len(self.labels)}) for labels {self.labels}")
        return probabilities
