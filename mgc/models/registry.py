"""One ``build`` entry point for every model a run can train.

The defaults live in :mod:`mgc.config.models` (``[models.<name>]`` tables override them,
``[grid.<name>]`` tables list values to search; both are checked when the config loads), the
inputs and groups in :mod:`mgc.contract`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from mgc.config import check_models
from mgc.config.models import MODELS, TrainingParams, architecture_defaults, model_params
from mgc.contract import BASELINES, BRANCHES, FROZEN_FUSIONS, INPUTS, PRETRAINED, PRETRAINED_BRANCH
from mgc.errors import UserError
from mgc.models.branches import build_cnn, build_mlp, build_small_cnn
from mgc.models.fusion import build_fusion_head, build_joint

TRAINING = tuple(f.name for f in dataclasses.fields(TrainingParams))  # keys every model takes, not the builders
__all__ = ["ARCHITECTURE", "BRANCHES", "INPUTS", "MODELS", "Shapes", "build", "check_config", "model_params",
           "standardization"]

# each Keras model's own defaults (the scikit-learn baselines: mgc.models.baselines.build_baseline)
ARCHITECTURE = {name: architecture_defaults(name) for name in MODELS if name not in BASELINES}


@dataclass
class Shapes:
    """What a model must fit: the log-mel (n_mels, frames), the feature width, the classes, the
    pretrained view's width (0: the run has no pretrained view)."""

    spectrogram: tuple[int, int]
    n_features: int
    n_classes: int
    n_pretrained: int = 0


check_config = check_models  # [train]/[models.*]/[grid.*] checks (load_config runs them; for configs built in code)


def build(name: str, params: dict[str, Any], shapes: Shapes, *, mean=None, variance=None,
          branch_dims: tuple[int, ...] | None = None, augment: dict | None = None) -> keras.Model:
    """Build model ``name`` with ``params``. Fusions get their head only (inputs of widths
    ``branch_dims``, one per branch of :func:`mgc.contract.fusion_branches`); :func:`mgc.models.build_fusion`
    joins it to the frozen branches.
    ``augment``: the spectrogram models' :class:`mgc.models.augment.SpecAugment` arguments."""
    p = {k: v for k, v in params.items() if k not in TRAINING}
    if name == "cnn":
        return build_cnn(shapes.spectrogram, shapes.n_classes, dropout=p["dropout"], weights=p["weights"],
                         image_size=p["image_size"] or None, bn_momentum=p["bn_momentum"], augment=augment)
    if name == "small_cnn":
        return build_small_cnn(shapes.spectrogram, shapes.n_classes, augment=augment, **p)
    if name == "mlp":
        return build_mlp(shapes.n_features, shapes.n_classes, mean=mean, variance=variance, **p)
    if name == PRETRAINED_BRANCH:
        if not shapes.n_pretrained:
            raise UserError(f"{name} reads the pretrained view; this run has none (run extract with {name} in "
                            "[train] models)")
        return build_mlp(shapes.n_pretrained, shapes.n_classes, mean=mean, variance=variance, view=PRETRAINED,
                         name=name, **p)
    if name == "joint":
        return build_joint(shapes.spectrogram, shapes.n_features, shapes.n_classes, mean=mean, variance=variance,
                           augment=augment, **p)
    if name in FROZEN_FUSIONS:
        if branch_dims is None:
            raise ValueError("fusion heads need branch_dims")
        cnn_dim, mlp_dim, *probe_dim = branch_dims  # the three-modality fusions: the probe's too
        return build_fusion_head(name, cnn_dim, mlp_dim, shapes.n_classes, *probe_dim, **p)
    if name in BASELINES:
        raise ValueError(f"{name} is a scikit-learn baseline, not a Keras model: mgc.models.baselines.build_baseline")
    raise UserError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


def standardization(scaler) -> dict[str, np.ndarray]:
    """``mean``/``variance`` keyword arguments for :func:`build` from a FeatureScaler."""
    return {"mean": scaler.mean, "variance": np.square(scaler.scale)}
