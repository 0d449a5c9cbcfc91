"""Every model's hyper-parameters and their defaults: the one schema of ``[models.<name>]`` and
``[grid.<name>]``.

One dataclass per model (plus :class:`TrainingParams`, which every Keras model takes; the
scikit-learn baselines, :class:`SklearnParams`, take only their own). The model
builders take their defaults from here, ``load_config`` checks the tables against these fields
(unknown names and keys, wrong types, ranges) before any stage starts, and
:func:`model_params` merges defaults, the config's table and a grid combination.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mgc.config.sections import bounded

PAIR_POOLS = [[2, 6], [2, 6], [2, 4]]  # the GTZAN two-branch study's small CNN: max-pool sizes per conv block
MUSICNN_EMBEDDINGS = ("penultimate", "mean_pool")  # musicnn layers that can make the pretrained view


def _list(values):
    return field(default_factory=lambda: [list(v) if isinstance(v, list) else v for v in values])


def choice(default, choices: tuple[str, ...], **limits):
    """A setting that is one of the strings ``choices`` or a number in the :func:`bounded` range
    ``limits`` (checked by ``check_models`` when a config loads)."""
    return field(default=default, metadata={**bounded(default, **limits).metadata, "choices": tuple(choices)})


@dataclass
class TrainingParams:
    """What every model takes: the optimiser's learning rate, and batch size and epochs
    (0: the config's ``[input] batch_size`` and ``[train] epochs``)."""

    learning_rate: float = bounded(1e-3, gt=0)
    batch_size: int = bounded(0, ge=0)
    epochs: int = bounded(0, ge=0)


class SklearnParams:
    """Marks a scikit-learn model's parameters: no Keras training keys (learning rate, batch
    size, epochs) apply to it (mgc.models.baselines)."""


@dataclass
class SVMParams(SklearnParams):
    """FMA's baseline: an RBF support-vector machine on the standardised features."""

    C: float = bounded(1.0, gt=0)
    gamma: float | str = choice("scale", ("scale", "auto"), gt=0)  # scikit-learn's "scale"/"auto", or > 0


@dataclass
class LogRegParams(SklearnParams):
    """FMA's baseline: multinomial logistic regression on the standardised features."""

    C: float = bounded(1.0, gt=0)
    max_iter: int = bounded(1000, ge=1)


@dataclass
class CNNParams:
    """EfficientNet-B0 on the log-mel (mgc.models.branches.build_cnn)."""

    dropout: float = bounded(0.5, ge=0, lt=1)
    weights: str = "none"  # "none", "imagenet" or a local notop weights file
    image_size: list[int] = _list([])  # [H, W] to resize to inside the model; [] keeps the log-mel's size
    bn_momentum: float = bounded(0.99, ge=0, le=1)


@dataclass
class SmallCNNParams:
    """The GTZAN two-branch study's three-block CNN (mgc.models.branches.build_small_cnn)."""

    filters: list[int] = _list([16, 32, 64])
    pools: list[list[int]] = _list(PAIR_POOLS)
    dense: int = bounded(128, ge=1)
    l2: float = bounded(0.02, ge=0)
    dropout: float = bounded(0.4, ge=0, lt=1)
    bn_momentum: float = bounded(0.99, ge=0, le=1)


@dataclass
class MLPParams:
    """The MLP on the 518 features (mgc.models.branches.build_mlp)."""

    width: int | list[int] = bounded(64, ge=1)  # one width per layer, or a list of widths (sets the depth)
    depth: int = bounded(3, ge=1)
    dropout: float = bounded(0.4, ge=0, lt=1)


@dataclass
class ProbeParams:
    """The head on the pretrained view (musicnn_probe): [standardise] -> (Dense ReLU -> dropout) x depth
    -> logits; a linear probe with depth = 0 (mgc.models.branches.build_mlp)."""

    width: int = bounded(128, ge=1)
    depth: int = bounded(1, ge=0)
    dropout: float = bounded(0.3, ge=0, lt=1)


class PretrainedParams:
    """Marks a pretrained model's settings: it is not trained by a run, it makes a view ("extract")."""


@dataclass
class MusicnnParams(PretrainedParams):
    """The pretrained view's model (mgc.models.musicnn): its weights and the layer whose output,
    averaged over the clip's 3 s patches, is the view."""

    weights: str = "msd"  # "msd", "mtt", or a local .weights.h5 / wheel / checkpoint folder
    embedding: str = field(default="penultimate", metadata={"choices": MUSICNN_EMBEDDINGS})


@dataclass
class JointParams:
    """The GTZAN two-branch study's two-branch model trained end to end (mgc.models.fusion.build_joint)."""

    cnn_filters: list[int] = _list([16, 32, 64])
    cnn_pools: list[list[int]] = _list(PAIR_POOLS)
    cnn_dense: int = bounded(128, ge=1)
    l2: float = bounded(0.02, ge=0)
    dropout: float = bounded(0.4, ge=0, lt=1)
    mlp_widths: list[int] = _list([128, 64, 32])
    bn_momentum: float = bounded(0.99, ge=0, le=1)


@dataclass
class LogitFusionParams:
    """Head over the concatenated branch logits (mgc.models.fusion.build_fusion_head)."""

    width: int = bounded(32, ge=1)
    depth: int = bounded(2, ge=0)
    dropout: float = bounded(0.0, ge=0, lt=1)


@dataclass
class FeatureFusionParams:
    """Head over the concatenated branch embeddings."""

    width: int = bounded(256, ge=1)
    depth: int = bounded(1, ge=0)
    dropout: float = bounded(0.0, ge=0, lt=1)


@dataclass
class AttentionFusionParams:
    """Head weighting the two embeddings by learned attention."""

    width: int = bounded(64, ge=1)
    depth: int = bounded(1, ge=0)
    dropout: float = bounded(0.0, ge=0, lt=1)
    attention_dim: int = bounded(256, ge=1)


MODEL_PARAMS: dict[str, type] = {
    "svm": SVMParams,
    "logreg": LogRegParams,
    "cnn": CNNParams,
    "small_cnn": SmallCNNParams,
    "mlp": MLPParams,
    "musicnn_probe": ProbeParams,
    "musicnn_svm": SVMParams,  # FMA's two baselines on the pretrained view
    "musicnn_logreg": LogRegParams,
    "joint": JointParams,
    "logit_fusion": LogitFusionParams,
    "feature_fusion": FeatureFusionParams,
    "attention_fusion": AttentionFusionParams,
    "feature_fusion3": FeatureFusionParams,  # the same heads over three branches (CNN, MLP, musicnn probe)
    "attention_fusion3": AttentionFusionParams,
    "musicnn": MusicnnParams,
}
# every model a run can train, in the order reports list them (not the pretrained view's model)
MODELS = tuple(name for name, params in MODEL_PARAMS.items() if not issubclass(params, PretrainedParams))


def pretrained(name: str) -> bool:
    """Whether ``[models.<name>]`` configures a pretrained model that makes a view (not trained by a run)."""
    return name in MODEL_PARAMS and issubclass(MODEL_PARAMS[name], PretrainedParams)


def keras_trained(name: str) -> bool:
    """Whether model ``name`` is a Keras model a run trains (it takes :class:`TrainingParams`)."""
    return not issubclass(MODEL_PARAMS[name], (SklearnParams, PretrainedParams))


def training_defaults(name: str) -> dict[str, Any]:
    """The :class:`TrainingParams` defaults model ``name`` takes (none for a scikit-learn model)."""
    return dataclasses.asdict(TrainingParams()) if keras_trained(name) else {}


def param_fields(name: str) -> dict[str, dataclasses.Field]:
    """The hyper-parameters of model ``name`` (its own and, for Keras models, the training ones), by name."""
    fields = {f.name: f for f in dataclasses.fields(TrainingParams)} if keras_trained(name) else {}
    fields.update({f.name: f for f in dataclasses.fields(MODEL_PARAMS[name])})
    return fields


def architecture_defaults(name: str) -> dict[str, Any]:
    """Model ``name``'s own defaults (without the training ones), as plain values."""
    return dataclasses.asdict(MODEL_PARAMS[name]())


def model_params(config, name: str, **overrides) -> dict[str, Any]:
    """Defaults, then ``[models.<name>]``, then ``overrides`` (e.g. one grid combination); a
    batch size or epoch count of 0 becomes the config's ``[input]`` / ``[train]`` value (Keras
    models; a scikit-learn model has its own parameters only)."""
    params = {**training_defaults(name), **architecture_defaults(name),
              **config.models.get(name, {}), **overrides}
    unknown = sorted(set(params) - set(param_fields(name)))
    if unknown:
        from mgc.errors import UserError

        raise UserError(f"unknown key {unknown[0]!r} in [models.{name}]; known keys: "
                        f"{', '.join(sorted(param_fields(name)))}")
    if keras_trained(name):
        params["batch_size"] = params["batch_size"] or config.input.batch_size
        params["epochs"] = params["epochs"] or config.train.epochs
    return params
