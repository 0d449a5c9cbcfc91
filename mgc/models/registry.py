"""Every model a run can train: its defaults, its inputs, and one ``build`` entry point.

``[models.<name>]`` tables override the defaults below and ``[grid.<name>]`` tables list values
to search; both are checked here, so a typo in a hyper-parameter name is a one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from mgc.config import Config
from mgc.errors import UserError
from mgc.models.branches import build_cnn, build_mlp, build_small_cnn
from mgc.models.fusion import FROZEN_FUSIONS, build_fusion_head, build_joint

TRAINING = {"learning_rate": 1e-3, "batch_size": 0, "epochs": 0}  # 0: use [input]/[train]
ARCHITECTURE: dict[str, dict[str, Any]] = {
    "cnn": {"dropout": 0.5, "weights": "none", "image_size": [], "bn_momentum": 0.99},
    "small_cnn": {"filters": [16, 32, 64], "pools": [[2, 6], [2, 6], [2, 4]], "dense": 128, "l2": 0.02,
                  "dropout": 0.4, "bn_momentum": 0.99},
    "mlp": {"width": 64, "depth": 3, "dropout": 0.4},
    "joint": {"cnn_filters": [16, 32, 64], "cnn_pools": [[2, 6], [2, 6], [2, 4]], "cnn_dense": 128, "l2": 0.02,
              "dropout": 0.4, "mlp_widths": [128, 64, 32], "bn_momentum": 0.99},
    "logit_fusion": {"width": 32, "depth": 2, "dropout": 0.0},
    "feature_fusion": {"width": 256, "depth": 1, "dropout": 0.0},
    "attention_fusion": {"width": 64, "depth": 1, "dropout": 0.0, "attention_dim": 256},
}
MODELS = tuple(ARCHITECTURE)
BRANCHES = ("cnn", "small_cnn", "mlp", "joint")  # trained from the cached inputs on baseline_train
INPUTS = {"cnn": ("spectrogram",), "small_cnn": ("spectrogram",), "mlp": ("features",),
          "joint": ("spectrogram", "features")}


@dataclass
class Shapes:
    """What a model must fit: the log-mel (n_mels, frames), the feature width, the classes."""

    spectrogram: tuple[int, int]
    n_features: int
    n_classes: int


def _check_keys(name: str, keys, where: str) -> None:
    known = set(ARCHITECTURE[name]) | set(TRAINING)
    unknown = sorted(set(keys) - known)
    if unknown:
        raise UserError(f"unknown key {unknown[0]!r} in [{where}.{name}]; known keys: {', '.join(sorted(known))}")


def check_config(config: Config) -> None:
    """Model names in [train], [models.*] and [grid.*] exist; their keys are real parameters."""
    for name in list(config.train.models) + list(config.models) + list(config.grid):
        if name not in ARCHITECTURE:
            raise UserError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    for name, table in config.models.items():
        _check_keys(name, table, "models")
    for name, table in config.grid.items():
        _check_keys(name, table, "grid")
        for key, values in table.items():
            if not isinstance(values, list) or not values:
                raise UserError(f"[grid.{name}] {key} must be a non-empty list of values")


def model_params(config: Config, name: str, **overrides) -> dict[str, Any]:
    """Defaults, then ``[models.<name>]``, then ``overrides`` (e.g. one grid combination)."""
    params = {**TRAINING, **ARCHITECTURE[name], **config.models.get(name, {}), **overrides}
    _check_keys(name, params, "models")
    params["batch_size"] = params["batch_size"] or config.input.batch_size
    params["epochs"] = params["epochs"] or config.train.epochs
    return params


def build(name: str, params: dict[str, Any], shapes: Shapes, *, mean=None, variance=None,
          branch_dims: tuple[int, int] | None = None) -> keras.Model:
    """Build model ``name`` with ``params``. Fusions get their head only (inputs of widths
    ``branch_dims``); :func:`mgc.models.build_fusion` joins it to the frozen branches."""
    p = {k: v for k, v in params.items() if k not in TRAINING}
    if name == "cnn":
        return build_cnn(shapes.spectrogram, shapes.n_classes, dropout=p["dropout"], weights=p["weights"],
                         image_size=p["image_size"] or None, bn_momentum=p["bn_momentum"])
    if name == "small_cnn":
        return build_small_cnn(shapes.spectrogram, shapes.n_classes, **p)
    if name == "mlp":
        return build_mlp(shapes.n_features, shapes.n_classes, mean=mean, variance=variance, **p)
    if name == "joint":
        return build_joint(shapes.spectrogram, shapes.n_features, shapes.n_classes, mean=mean, variance=variance, **p)
    if name in FROZEN_FUSIONS:
        if branch_dims is None:
            raise ValueError("fusion heads need branch_dims")
        return build_fusion_head(name, *branch_dims, shapes.n_classes, **p)
    raise UserError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


def standardization(scaler) -> dict[str, np.ndarray]:
    """``mean``/``variance`` keyword arguments for :func:`build` from a FeatureScaler."""
    return {"mean": scaler.mean, "variance": np.square(scaler.scale)}
