"""An export run in-process: a version folder's ``serving_default`` signature, numpy in,
probabilities out (:class:`mgc.predict.SavedModelRunner`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from mgc.contract import SERVE_WAVEFORM, SERVING_DEFAULT, WAVEFORM
from mgc.errors import UserError


class ServingDefault:
    """The ``serving_default`` signature of the SavedModel in ``version_dir``.

    Load only exports you trust (a SavedModel is a program); :func:`mgc.predict.runners.export_assets`
    checks that a folder is an mgc export before this loads it."""

    def __init__(self, version_dir: str | Path):
        try:
            self.loaded = tf.saved_model.load(str(version_dir))
            self.signature = self.loaded.signatures[SERVING_DEFAULT]
        except (OSError, KeyError, ValueError) as exc:
            raise UserError(f"cannot load the SavedModel {version_dir}: {str(exc).splitlines()[0]}") from None

    def probabilities(self, inputs: dict[str, np.ndarray], signature: str = SERVING_DEFAULT) -> np.ndarray:
        """``probabilities`` for a batch of named inputs (each sent as float32) through ``signature``."""
        function = self.signature if signature == SERVING_DEFAULT else self.loaded.signatures[signature]
        outputs = function(**{name: tf.constant(value, tf.float32) for name, value in inputs.items()})
        return outputs["probabilities"].numpy()

    def tags(self, waveform: np.ndarray) -> np.ndarray:
        """A pretrained tagger's export: its ``serve_waveform`` signature's ``tags`` for a batch of
        waveform windows."""
        outputs = self.loaded.signatures[SERVE_WAVEFORM](**{WAVEFORM: tf.constant(waveform, tf.float32)})
        return outputs["tags"].numpy()
