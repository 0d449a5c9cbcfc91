"""Spectrogram augmentation inside the model, and the clip windows a crop-trained CNN is read over.

:class:`SpecAugment` is the first layer of a spectrogram model when ``[augment]`` asks for it:
SpecAugment's time and frequency masks, a random circular time shift and a random gain. It acts
only in training steps (``training=True``: ``fit``'s batches); validation, ``evaluate``, grid
validation folds, the exports and ``predict`` call the model with ``training=False``, where it
is the identity. Its draws come from a :class:`keras.random.SeedGenerator` seeded with the run's
seed, so a run's augmented batches are the same every time. ``keras.ops`` only: every backend.

:class:`ClipWindows` and :class:`WindowMean` let a model that reads a whole clip (a frozen
fusion) run a crop-trained CNN over the clip's windows and average its outputs per clip.
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

AUGMENT_LAYER = "spec_augment"


@keras.saving.register_keras_serializable(package="mgc")
class SpecAugment(keras.layers.Layer):
    """Random masks, shift and gain of a log-mel batch ``(batch, n_mels, frames)``, in training only.

    - ``time_masks`` masks of up to ``time_mask_frames`` frames and ``freq_masks`` masks of up to
      ``freq_mask_bands`` mel bands, each of a random width and place, filled with the example's
      mean (SpecAugment fills with the normalised mean, zero);
    - ``shift_frames``: a circular roll by a random amount in ``[-shift_frames, shift_frames]``;
    - ``gain_db``: a random gain in ``[-gain_db, gain_db]`` dB kept within the example's own dB
      range (a louder take saturates the loudest bins, a quieter one sinks the quietest into the
      floor). A plain dB offset would change nothing: the CNNs min-max scale every example.
    """

    def __init__(self, time_masks: int = 0, time_mask_frames: int = 20, freq_masks: int = 0,
                 freq_mask_bands: int = 8, shift_frames: int = 0, gain_db: float = 0.0, seed: int | None = None,
                 **kwargs):
        kwargs.setdefault("dtype", "float32")  # augment in float32 under a mixed-precision policy too
        super().__init__(**kwargs)
        self.time_masks, self.time_mask_frames = int(time_masks), int(time_mask_frames)
        self.freq_masks, self.freq_mask_bands = int(freq_masks), int(freq_mask_bands)
        self.shift_frames, self.gain_db, self.seed = int(shift_frames), float(gain_db), seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")

    def call(self, x, training=None):
        if not training:
            return x
        x = ops.cast(x, "float32")
        batch, bands, frames = ops.shape(x)[0], x.shape[1], x.shape[2]
        if self.shift_frames:
            shift = keras.random.randint((batch, 1), -self.shift_frames, self.shift_frames + 1,
                                         seed=self.seed_generator)
            index = ops.mod(ops.arange(frames)[None, :] - shift, frames)  # (batch, frames)
            x = ops.take_along_axis(x, ops.broadcast_to(index[:, None, :], ops.shape(x)), axis=2)
        if self.gain_db:
            low = ops.min(x, axis=(1, 2), keepdims=True)
            high = ops.max(x, axis=(1, 2), keepdims=True)
            gain = keras.random.uniform((batch, 1, 1), -self.gain_db, self.gain_db, seed=self.seed_generator)
            x = ops.minimum(ops.maximum(x + gain, low), high)
        if self.freq_masks or self.time_masks:
            fill = ops.mean(x, axis=(1, 2), keepdims=True)
            keep = ops.ones_like(x)
            for _ in range(self.freq_masks):
                band_mask = self._mask(batch, bands, min(self.freq_mask_bands, bands))  # (batch, bands)
                keep = keep * (1.0 - band_mask[:, :, None])
            for _ in range(self.time_masks):
                frame_mask = self._mask(batch, frames, min(self.time_mask_frames, frames))  # (batch, frames)
                keep = keep * (1.0 - frame_mask[:, None, :])
            x = x * keep + fill * (1.0 - keep)
        return x

    def _mask(self, batch, size: int, widest: int):
        """``(batch, size)`` float: 1 on one random span of 0..``widest`` positions per example."""
        width = ops.floor(keras.random.uniform((batch, 1), 0.0, widest + 1.0, seed=self.seed_generator))
        start = ops.floor(keras.random.uniform((batch, 1), seed=self.seed_generator) * (size - width + 1.0))
        position = ops.cast(ops.arange(size), "float32")[None, :]
        return ops.cast(ops.logical_and(position >= start, position < start + width), "float32")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "time_masks": self.time_masks, "time_mask_frames": self.time_mask_frames,
                "freq_masks": self.freq_masks, "freq_mask_bands": self.freq_mask_bands,
                "shift_frames": self.shift_frames, "gain_db": self.gain_db, "seed": self.seed}


def spec_augment_args(augment, frames_per_second: float, seed: int) -> dict | None:
    """:class:`SpecAugment`'s arguments from ``[augment]`` (None when no spectrogram augmentation is set)."""
    if not augment.spectrogram_active():
        return None
    return {"time_masks": augment.time_masks, "time_mask_frames": augment.time_mask_frames,
            "freq_masks": augment.freq_masks, "freq_mask_bands": augment.freq_mask_bands,
            "shift_frames": int(round(augment.shift_seconds * frames_per_second)), "gain_db": augment.gain_db,
            "seed": int(seed)}


def augmented(spectrogram, augment: dict | None):
    """``spectrogram`` (a Keras tensor) through :class:`SpecAugment` when ``augment`` is given."""
    return spectrogram if not augment else SpecAugment(**augment, name=AUGMENT_LAYER)(spectrogram)


@keras.saving.register_keras_serializable(package="mgc")
class ClipWindows(keras.layers.Layer):
    """A clip's log-mel ``(batch, n_mels, frames)`` as its windows ``(batch * len(starts), n_mels,
    window)``, clip-major: the frames a crop-trained CNN reads. A window that runs past the clip is
    padded with the clip's lowest value (its floor), as predict zero-pads audio."""

    def __init__(self, starts: Sequence[int], window: int, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.starts, self.window = [int(s) for s in starts], int(window)

    def call(self, x):
        x = ops.cast(x, "float32")
        frames = x.shape[2]
        need = max(self.starts) + self.window - frames
        if need > 0:
            floor = ops.min(x, axis=(1, 2), keepdims=True)
            x = ops.concatenate([x, ops.broadcast_to(floor, (ops.shape(x)[0], x.shape[1], need))], axis=2)
        windows = ops.stack([x[:, :, s:s + self.window] for s in self.starts], axis=1)
        return ops.reshape(windows, (-1, x.shape[1], self.window))

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] * len(self.starts)
        return (batch, input_shape[1], self.window)

    def get_config(self):
        return {**super().get_config(), "starts": self.starts, "window": self.window}


@keras.saving.register_keras_serializable(package="mgc")
class WindowMean(keras.layers.Layer):
    """The mean over each clip's ``windows`` consecutive rows: ``(batch * windows, d) -> (batch, d)``."""

    def __init__(self, windows: int, **kwargs):
        super().__init__(**kwargs)
        self.windows = int(windows)

    def call(self, x):
        return ops.mean(ops.reshape(x, (-1, self.windows, x.shape[-1])), axis=1)

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] // self.windows
        return (batch, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "windows": self.windows}
