"""The training recipe of one model, from the config: what its data, its build and its compile get.

One place answers, for model ``name``: which clip it reads (a ``[train] crop_seconds`` crop for
the :data:`~mgc.contract.CROPPED` models), what its training and validation batches look like
(random crops / every window, mixup, the ``[augment] copies``), whether its first layer augments
(:class:`mgc.models.augment.SpecAugment`), its labels (one-hot under mixup), its precision
policy, XLA and steps per execution, and its fine-tuning schedule. Augmentation reaches only the
:data:`~mgc.contract.AUGMENTED` models and only their training batches.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import keras

from mgc.config import Config
from mgc.contract import AUGMENTED, CROPPED, ClipSpec
from mgc.models.augment import spec_augment_args
from mgc.models.branches import BACKBONE


def cropped(config: Config, name: str) -> bool:
    """Whether ``name`` trains on random crops (and is scored over windows)."""
    return bool(config.train.crop_seconds) and name in CROPPED


def clip(config: Config, name: str) -> ClipSpec:
    """The clip ``name`` reads (:meth:`ClipSpec.for_model`)."""
    return ClipSpec.for_model(config, name)


def windows(config: Config, name: str) -> list[int]:
    """Start frames of ``name``'s windows over a cached clip ([0] when it reads whole clips)."""
    return ClipSpec.from_config(config).window_frames(clip(config, name)) if cropped(config, name) else [0]


def soft_labels(config: Config, name: str) -> bool:
    """Whether ``name`` trains on one-hot (mixup's soft) labels."""
    return name in AUGMENTED and config.augment.mixup_alpha > 0


def data_options(config: Config, name: str, training: bool) -> dict:
    """:func:`mgc.input.make_dataset` keywords for ``name``'s training (``training``) or
    validation batches (every window of a clip, no augmentation)."""
    options: dict = {}
    if cropped(config, name):
        options["crop_frames"] = clip(config, name).frames
        if not training:
            options["window_starts"] = windows(config, name)
    if soft_labels(config, name):
        options["one_hot"] = True
        if training:
            options["mixup_alpha"] = config.augment.mixup_alpha
    if training and name in AUGMENTED and config.augment.copies:
        options["copies"] = True
    return options


def augment_layer(config: Config, name: str) -> dict | None:
    """The :class:`SpecAugment` arguments ``name``'s first layer takes (None: no such layer)."""
    if name not in AUGMENTED:
        return None
    spec = ClipSpec.from_config(config)
    return spec_augment_args(config.augment, spec.sample_rate / spec.spectrogram.hop_length, config.run.seed)


def compile_options(config: Config) -> dict:
    """``model.compile`` keywords of ``[train]``: XLA and steps per execution."""
    return {"jit_compile": config.train.jit_compile, "steps_per_execution": int(config.train.steps_per_execution)}


@contextlib.contextmanager
def precision(config: Config):
    """Build models under ``[train] mixed_precision``'s dtype policy; float32 again on exit (the
    built layers keep their policy; the exports' own layers are float32)."""
    policy = {"off": "float32"}.get(config.train.mixed_precision, config.train.mixed_precision)
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@dataclass(frozen=True)
class FineTune:
    """Fine-tuning a pretrained backbone: frozen (batch norm in inference mode) for
    ``freeze_epochs``, then trained at ``lr_scale`` times the learning rate."""

    backbone: str
    freeze_epochs: int
    lr_scale: float


def fine_tune(config: Config, name: str, params: dict) -> FineTune | None:
    """The schedule of a CNN built from pretrained weights (None for every other model)."""
    if name != "cnn" or params.get("weights", "none") in ("", "none"):
        return None
    return FineTune(BACKBONE, int(config.train.freeze_epochs), float(config.train.backbone_lr_scale))
