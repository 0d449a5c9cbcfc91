"""Fusion of the modalities: logit-, feature- and attention-level on frozen branches (the CNN
and the MLP; the three-modality ones also the musicnn probe), and the GTZAN two-branch study's
jointly trained two-branch model.

A fusion over frozen branches is two parts: the frozen *extractors* (the trained CNN and MLP,
cut at their logits or embeddings) and a trainable *head* that maps the two vectors to logits.
:func:`build_fusion_head` builds the head alone, so a grid search can train it on extractor
outputs computed once; :func:`build_fusion` wires extractors and that same head (shared weights)
into one ``{"spectrogram", "features"} -> logits`` model for evaluation and export.
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import layers

from mgc.config.models import MODEL_PARAMS, JointParams
from mgc.contract import FEATURES, FROZEN_FUSIONS, SPECTROGRAM, THREE_MODALITY_FUSIONS
from mgc.models.augment import ClipWindows, WindowMean, augmented
from mgc.models.branches import LOGITS, build_mlp, build_small_cnn, embedding_model
from mgc.models.layers import ModalityGate

_JOINT = JointParams()  # the defaults (mgc.config.models)


def _dense_stack(x, width: int, depth: int, dropout: float, prefix: str):
    for i in range(depth):
        x = layers.Dense(width, activation="relu", name=f"{prefix}{i + 1}")(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    return x


SLOTS = ("cnn", "mlp", "musicnn")  # a fusion head's inputs: the frozen branches' vectors, in this order
HEADS = {  # fusion -> how its head joins the vectors
    "logit_fusion": "logit", "feature_fusion": "feature", "attention_fusion": "attention",
    "feature_fusion3": "feature", "attention_fusion3": "attention",
}


def extractors(kind: str, cnn: keras.Model, mlp: keras.Model, probe: keras.Model | None = None) -> tuple:
    """The frozen parts a fusion reads: the branches' logits (logit fusion) or embeddings; the
    three-modality fusions also the musicnn probe's (``probe``)."""
    if kind not in FROZEN_FUSIONS:
        raise ValueError(f"unknown fusion {kind!r}; choose one of {FROZEN_FUSIONS}")
    branches = (cnn, mlp, probe) if kind in THREE_MODALITY_FUSIONS else (cnn, mlp)
    if any(branch is None for branch in branches):
        raise ValueError(f"{kind} fuses three branches: give the musicnn probe")
    parts = branches if kind == "logit_fusion" else tuple(embedding_model(b) for b in branches)
    for part in parts:
        part.trainable = False  # also puts batch norm in inference mode (Keras 3)
    return parts


def build_fusion_head(
    kind: str,
    cnn_dim: int,
    mlp_dim: int,
    n_classes: int,
    probe_dim: int | None = None,
    *,
    width: int | None = None,
    depth: int | None = None,
    dropout: float | None = None,
    attention_dim: int | None = None,
) -> keras.Model:
    """The trainable head ``{"cnn": (cnn_dim,), "mlp": (mlp_dim,)[, "musicnn": (probe_dim,)]} -> logits``.

    - ``logit_fusion``: concatenated logits (2 x n_classes) -> MLP (width x depth) -> logits.
    - ``feature_fusion``: the MLP embedding linearly projected to ``cnn_dim`` (1280 for
      EfficientNet-B0) so neither modality dominates by size, concatenated (2560) -> MLP.
    - ``attention_fusion``: both projected to ``attention_dim``, a per-example softmax gate
      (:class:`ModalityGate`) weights and sums them -> MLP.
    - ``feature_fusion3`` / ``attention_fusion3``: the same over three branches, the musicnn
      probe's embedding (``probe_dim``) projected like the MLP's.

    Arguments left at None take ``kind``'s defaults (mgc.config.models).
    """
    if kind not in FROZEN_FUSIONS:
        raise ValueError(f"unknown fusion {kind!r}; choose one of {FROZEN_FUSIONS}")
    dims = (cnn_dim, mlp_dim, probe_dim) if kind in THREE_MODALITY_FUSIONS else (cnn_dim, mlp_dim)
    if any(dim is None for dim in dims):
        raise ValueError(f"{kind} fuses three branches: give probe_dim")
    defaults = MODEL_PARAMS[kind]()
    width = defaults.width if width is None else width
    depth = defaults.depth if depth is None else depth
    dropout = defaults.dropout if dropout is None else dropout
    attention_dim = getattr(defaults, "attention_dim", None) if attention_dim is None else attention_dim
    inputs = {slot: keras.Input(shape=(dim,), name=slot) for slot, dim in zip(SLOTS, dims)}
    vectors = list(inputs.values())
    how = HEADS[kind]
    if how == "logit":
        x = layers.Concatenate(name="concat")(vectors)
    elif how == "feature":
        projected = [layers.Dense(cnn_dim, name=f"project_{slot}")(inputs[slot]) for slot in SLOTS[1:len(dims)]]
        x = layers.Concatenate(name="concat")([inputs["cnn"], *projected])
    else:
        projected = [layers.Dense(attention_dim, name=f"project_{slot}")(v) for slot, v in inputs.items()]
        x = ModalityGate(name="modality_gate")(projected)
    x = _dense_stack(x, width, depth, dropout, "head")
    logits = layers.Dense(n_classes, **LOGITS)(x)
    return keras.Model(inputs, logits, name=f"{kind}_head")


def build_fusion(kind: str, cnn: keras.Model, mlp: keras.Model, head: keras.Model,
                 clip_shape: Sequence[int] | None = None, window_starts: Sequence[int] = (0,),
                 probe: keras.Model | None = None) -> keras.Model:
    """``{"spectrogram", "features"[, "pretrained"]} -> logits``: frozen ``cnn``, ``mlp`` (and, for
    the three-modality fusions, ``probe``) feeding ``head``.

    A crop-trained ``cnn`` (its input shorter than the clip, ``clip_shape`` = the clip's
    (n_mels, frames)) reads the clip's windows at ``window_starts`` (:class:`ClipWindows`); its
    per-window logits or embeddings are averaged over the clip (:class:`WindowMean`) before the
    head joins them with the clip's vectors: one clip in, one prediction out, like every model.
    """
    parts = extractors(kind, cnn, mlp, probe)
    cnn_part, vector_parts = parts[0], parts[1:]
    window_shape = tuple(cnn.input[SPECTROGRAM].shape[1:])
    clip_shape = tuple(clip_shape) if clip_shape else window_shape
    spectrogram = keras.Input(shape=clip_shape, name=SPECTROGRAM)
    inputs = {SPECTROGRAM: spectrogram}
    if clip_shape == window_shape:
        vectors = [cnn_part({SPECTROGRAM: spectrogram}, training=False)]
    else:
        windows = ClipWindows(window_starts, window_shape[1], name="clip_windows")(spectrogram)
        vectors = [WindowMean(len(window_starts), name="window_mean")(cnn_part({SPECTROGRAM: windows},
                                                                               training=False))]
    for branch, part in zip((mlp, probe), vector_parts):
        (view,) = branch.input  # the MLP's features, the probe's pretrained view
        inputs[view] = keras.Input(shape=branch.input[view].shape[1:], name=view)
        vectors.append(part({view: inputs[view]}, training=False))
    logits = head(dict(zip(SLOTS, vectors)))
    return keras.Model(inputs, logits, name=kind)


def build_joint(
    input_shape: Sequence[int],
    n_features: int,
    n_classes: int,
    *,
    cnn_filters: Sequence[int] = tuple(_JOINT.cnn_filters),
    cnn_pools: Sequence[Sequence[int]] = tuple(map(tuple, _JOINT.cnn_pools)),
    cnn_dense: int = _JOINT.cnn_dense,
    l2: float = _JOINT.l2,
    dropout: float = _JOINT.dropout,
    mlp_widths: Sequence[int] = tuple(_JOINT.mlp_widths),
    bn_momentum: float = _JOINT.bn_momentum,
    mean=None,
    variance=None,
    augment: dict | None = None,
    name: str = "joint",
) -> keras.Model:
    """The GTZAN two-branch study's two-branch model, trained end to end: small CNN (Dense 128 output) and MLP
    (128/64/32) concatenated -> softmax layer (logits here). ``augment``: the spectrogram's
    :class:`mgc.models.augment.SpecAugment` (training steps only), or None."""
    cnn = build_small_cnn(input_shape, n_classes, filters=cnn_filters, pools=cnn_pools, dense=cnn_dense,
                          l2=l2, dropout=dropout, bn_momentum=bn_momentum, name="joint_cnn")
    mlp = build_mlp(n_features, n_classes, width=list(mlp_widths), dropout=dropout, mean=mean,
                    variance=variance, name="joint_mlp")
    spectrogram = keras.Input(shape=tuple(input_shape), name=SPECTROGRAM)
    features = keras.Input(shape=(n_features,), name=FEATURES)
    a = embedding_model(cnn)({SPECTROGRAM: augmented(spectrogram, augment)})
    b = embedding_model(mlp)({FEATURES: features})
    x = layers.Concatenate(name="concat")([a, b])
    logits = layers.Dense(n_classes, **LOGITS)(x)
    return keras.Model({SPECTROGRAM: spectrogram, FEATURES: features}, logits, name=name)
