"""Custom layers, written with ``keras.ops`` only so every backend runs them."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="mgc")
class SpectrogramImage(keras.layers.Layer):
    """A log-mel spectrogram (batch, n_mels, frames) as an image (batch, H, W, channels).

    Each example is min-max scaled to ``[0, scale]`` (loudness differences between tracks do
    not shift the image), optionally resized to ``size`` = (H, W) so a CPU run can use a small
    image, and repeated to ``channels``. With ``scale=255, channels=3`` it is what
    ``keras.applications`` EfficientNet expects (it rescales and normalises internally).
    """

    def __init__(self, size=None, channels: int = 3, scale: float = 255.0, **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(size) if size else None
        self.channels = int(channels)
        self.scale = float(scale)

    def call(self, spectrogram):
        x = ops.expand_dims(ops.cast(spectrogram, "float32"), -1)
        low = ops.min(x, axis=(1, 2, 3), keepdims=True)
        high = ops.max(x, axis=(1, 2, 3), keepdims=True)
        x = (x - low) / ops.maximum(high - low, 1e-6) * self.scale
        if self.size:
            x = ops.image.resize(x, self.size, interpolation="bilinear")
        if self.channels > 1:
            x = ops.repeat(x, self.channels, axis=-1)
        return x

    def compute_output_shape(self, input_shape):
        height, width = self.size if self.size else (input_shape[1], input_shape[2])
        return (input_shape[0], height, width, self.channels)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "channels": self.channels, "scale": self.scale}


@keras.saving.register_keras_serializable(package="mgc")
class ModalityGate(keras.layers.Layer):
    """Attention over modalities: a learned, per-example softmax weight for each input vector.

    Inputs: a list of (batch, d) vectors of one width; output: their weighted sum (batch, d).
    The weights come from a dense layer over the concatenated inputs; :meth:`gates` exposes them
    so reports can show which modality each prediction leaned on.
    """

    def build(self, input_shapes):
        total = sum(int(shape[-1]) for shape in input_shapes)
        self.n = len(input_shapes)
        self.score = keras.layers.Dense(self.n, name="score")
        self.score.build((None, total))

    def gates(self, inputs):
        return ops.softmax(self.score(ops.concatenate(inputs, axis=-1)), axis=-1)

    def call(self, inputs):
        weights = self.gates(inputs)
        stacked = ops.stack(inputs, axis=1)  # (batch, n, d)
        return ops.sum(stacked * ops.expand_dims(weights, -1), axis=1)

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]


@keras.saving.register_keras_serializable(package="mgc")
class Standardize(keras.layers.Layer):
    """``(x - mean) / sqrt(variance)`` per feature, as ``keras.layers.Normalization`` computes it.

    The statistics are non-trainable weights, so they are saved with the model and read when the
    model runs, never frozen into a traced function as constants: a compiled model whose weights
    are reset to another fold's fresh build (``mgc.training.fit.reset_like``) uses the new ones.
    """

    def __init__(self, mean=None, variance=None, epsilon: float = 1e-7, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self._initial = (mean, variance)  # applied once built; the saved weights restore them

    def build(self, input_shape):
        shape = (input_shape[-1],)
        self.mean = self.add_weight(shape=shape, initializer="zeros", trainable=False, name="mean")
        self.variance = self.add_weight(shape=shape, initializer="ones", trainable=False, name="variance")
        mean, variance = self._initial
        if mean is not None:
            self.mean.assign(np.broadcast_to(np.asarray(mean, "float32"), shape))
            self.variance.assign(np.broadcast_to(np.asarray(variance, "float32"), shape))

    def call(self, x):
        scale = ops.maximum(ops.sqrt(self.variance), self.epsilon)
        return (ops.cast(x, self.compute_dtype) - self.mean) / scale

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
