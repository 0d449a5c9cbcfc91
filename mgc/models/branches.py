"""The single-modality models: EfficientNet-B0 CNN (the FMA fusion study), small CNN (the GTZAN two-branch study),
MLP (on the features, or on the pretrained view: the musicnn probe).

Each builder returns a functional ``keras.Model`` from a dict input (``{"spectrogram"}`` or
``{"features"}``) to class logits, with a named layer ``embedding`` whose output is what the
fusion models reuse: the CNN's 1280-d pooled features, the MLP's last hidden activations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import keras
import numpy as np
from keras import layers

from mgc.config.models import CNNParams, MLPParams, SmallCNNParams
from mgc.contract import FEATURES, SPECTROGRAM
from mgc.errors import UserError
from mgc.models.augment import augmented
from mgc.models.layers import SpectrogramImage, Standardize

EMBEDDING = "embedding"
BACKBONE = "efficientnetb0"  # the CNN's keras.applications backbone (fine-tuning freezes it)
LOGITS = {"name": "logits", "dtype": "float32"}  # logits (and so the loss) in float32 under mixed precision too
_CNN, _SMALL_CNN, _MLP = CNNParams(), SmallCNNParams(), MLPParams()  # the defaults (mgc.config.models)
WEIGHTS_HELP = (
    "download efficientnetb0_notop.h5 on a machine with network access "
    "(https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5) and set "
    "[models.cnn] weights = \"/path/to/efficientnetb0_notop.h5\", or weights = \"none\""
)


def _backbone_weights(weights: str | None):
    """``none`` / ``imagenet`` / a local notop weights file, as keras.applications wants it."""
    if weights in (None, "", "none"):
        return None
    if weights == "imagenet":
        return "imagenet"
    path = Path(weights).expanduser()
    if not path.is_file():
        raise UserError(f"[models.cnn] weights file not found: {path}")
    return str(path)


def build_cnn(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    dropout: float = _CNN.dropout,
    weights: str | None = _CNN.weights,
    image_size: Sequence[int] | None = None,
    bn_momentum: float = _CNN.bn_momentum,
    augment: dict | None = None,
    name: str = "cnn",
) -> keras.Model:
    """The FMA fusion study's CNN: EfficientNet-B0 (no top, average pooling) -> dropout -> logits.

    ``input_shape`` is the cached log-mel's (n_mels, frames); ``image_size`` (H, W) resizes it
    inside the model (None keeps it). ``weights``: ``"none"``, ``"imagenet"`` (downloaded by
    Keras) or the path of a local ImageNet "notop" weights file. ``bn_momentum`` sets the
    backbone's batch-norm momentum: Keras's 0.99 suits long runs and fine-tuning; a short run from
    scratch on little data needs ~0.9, or the moving statistics (used for validation and
    inference) are still near their initial values when training stops. ``augment``:
    :class:`mgc.models.augment.SpecAugment`'s arguments (training steps only), or None.
    """
    spectrogram = keras.Input(shape=tuple(input_shape), name=SPECTROGRAM)
    image = SpectrogramImage(image_size, channels=3, scale=255.0, name="to_image")(augmented(spectrogram, augment))
    height, width = image_size if image_size else input_shape
    try:
        backbone = keras.applications.EfficientNetB0(
            include_top=False, weights=_backbone_weights(weights), input_shape=(height, width, 3), pooling="avg",
            name=BACKBONE,
        )
    except Exception as exc:
        if weights == "imagenet" and "fetch" in str(exc).lower():
            first = str(exc).splitlines()[0][:80]
            raise UserError(f"cannot download ImageNet weights ({first}...); {WEIGHTS_HELP}") from None
        raise
    for layer in backbone.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = bn_momentum
    embedding = layers.Identity(name=EMBEDDING)(backbone(image))
    logits = layers.Dense(n_classes, **LOGITS)(layers.Dropout(dropout)(embedding))
    return keras.Model({SPECTROGRAM: spectrogram}, logits, name=name)


def build_small_cnn(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    filters: Sequence[int] = tuple(_SMALL_CNN.filters),
    pools: Sequence[Sequence[int]] = tuple(map(tuple, _SMALL_CNN.pools)),
    dense: int = _SMALL_CNN.dense,
    l2: float = _SMALL_CNN.l2,
    dropout: float = _SMALL_CNN.dropout,
    bn_momentum: float = _SMALL_CNN.bn_momentum,
    augment: dict | None = None,
    name: str = "small_cnn",
) -> keras.Model:
    """The GTZAN two-branch study's CNN branch: Conv 16/32/64 3x3 (batch norm, ReLU) with max-pool (2,6), (2,6),
    (2,4) -> flatten -> Dense 128 ReLU (L2 0.02) -> dropout 0.4 -> logits. The spectrogram is
    min-max scaled to [0, 1] per example, as the GTZAN two-branch study normalises it. ``bn_momentum``
    and ``augment``: see :func:`build_cnn`."""
    if len(filters) != len(pools):
        raise UserError("[models.small_cnn] filters and pools must have the same length")
    spectrogram = keras.Input(shape=tuple(input_shape), name=SPECTROGRAM)
    x = SpectrogramImage(None, channels=1, scale=1.0, name="to_image")(augmented(spectrogram, augment))
    for i, (n, pool) in enumerate(zip(filters, pools)):
        x = layers.Conv2D(n, 3, padding="same", name=f"conv{i + 1}")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"bn{i + 1}")(x)
        x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(tuple(pool), padding="same", name=f"pool{i + 1}")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense, activation="relu", kernel_regularizer=keras.regularizers.L2(l2), name="dense")(x)
    embedding = layers.Dropout(dropout, name=EMBEDDING)(x)
    logits = layers.Dense(n_classes, **LOGITS)(embedding)
    return keras.Model({SPECTROGRAM: spectrogram}, logits, name=name)


def build_mlp(
    n_features: int,
    n_classes: int,
    *,
    width: int | Sequence[int] = _MLP.width,
    depth: int = _MLP.depth,
    dropout: float = _MLP.dropout,
    mean: np.ndarray | None = None,
    variance: np.ndarray | None = None,
    view: str = FEATURES,
    name: str = "mlp",
) -> keras.Model:
    """An MLP on a vector view: [standardise] -> (Dense ReLU -> dropout) x depth -> logits.

    ``width`` is one width for every layer (the FMA fusion study's grid) or a list of widths (the
    GTZAN two-branch study's 128/64/32, which then sets the depth). ``mean``/``variance`` put the training portion's
    standardisation inside the model, so it takes raw values. ``view``: its input, the features (the
    MLP) or the pretrained embedding (the musicnn probe; with depth 0 a linear probe, whose
    ``embedding`` is the standardised input).
    """
    widths = list(width) if isinstance(width, (list, tuple)) else [int(width)] * int(depth)
    vector = keras.Input(shape=(n_features,), name=view)
    x = vector
    if mean is not None:
        x = Standardize(mean, variance, name="standardize")(x)
    for i, units in enumerate(widths):
        x = layers.Dense(units, activation="relu", name=f"hidden{i + 1}")(x)
        x = layers.Dropout(dropout, name=EMBEDDING if i == len(widths) - 1 else None)(x)
    if not widths:
        x = layers.Identity(name=EMBEDDING)(x)
    logits = layers.Dense(n_classes, **LOGITS)(x)
    return keras.Model({view: vector}, logits, name=name)


def embedding_model(model: keras.Model) -> keras.Model:
    """The sub-model from ``model``'s inputs to its ``embedding`` layer (weights shared)."""
    return keras.Model(model.input, model.get_layer(EMBEDDING).output, name=f"{model.name}_embedding")
