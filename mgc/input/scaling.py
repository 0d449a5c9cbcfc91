"""Feature standardisation fitted on the training portion only, saved with the run.

A thin wrapper over scikit-learn's ``StandardScaler`` that round-trips through JSON, so the
statistics can travel with a run (and later into an exported model's graph).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler


class FeatureScaler:
    """``(x - mean) / scale`` per feature; constant features get scale 1."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, n_samples: int = 0):
        self.mean = np.asarray(mean, dtype=np.float32)
        self.scale = np.asarray(scale, dtype=np.float32)
        self.n_samples = int(n_samples)

    @classmethod
    def fit(cls, features: np.ndarray) -> "FeatureScaler":
        scaler = StandardScaler().fit(np.asarray(features, dtype=np.float64))
        return cls(scaler.mean_, scaler.scale_, scaler.n_samples_seen_)

    def transform(self, features: np.ndarray) -> np.ndarray:
        return ((np.asarray(features, np.float32) - self.mean) / self.scale).astype(np.float32)

    def save(self, path: str | Path) -> None:
        payload = {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "n_samples": self.n_samples}
        Path(path).write_text(json.dumps(payload) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "FeatureScaler":
        payload = json.loads(Path(path).read_text())
        return cls(payload["mean"], payload["scale"], payload.get("n_samples", 0))
