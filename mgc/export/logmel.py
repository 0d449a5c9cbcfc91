"""The cached log-mel spectrogram, computed inside a TensorFlow graph from a waveform.

:func:`mgc.features.log_mel` uses librosa: a centred STFT (zero padding of n_fft / 2 at each end,
periodic Hann window), librosa's Slaney mel filter bank, then ``power_to_db`` (ref 1, amin
1e-10, floored ``top_db`` below each clip's peak). Here the same steps run on ``tf.signal``
with librosa's filter bank as a constant, so a served model can take raw audio
(``serve_waveform``) and see what training saw. Agreement with the cache is tested on real
recordings (about 1e-3 dB typical; the cache itself is float16).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class LogMel(tf.Module):
    """``waveform`` float32 (batch, samples) -> log-mel float32 (batch, n_mels, frames)."""

    def __init__(self, sample_rate: int, n_mels: int, n_fft: int, hop_length: int, top_db: float, name=None):
        super().__init__(name=name)
        import librosa

        self.n_fft, self.hop_length, self.top_db = int(n_fft), int(hop_length), float(top_db)
        filters = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels).astype(np.float32)
        self.filters = tf.constant(filters.T)  # (1 + n_fft // 2, n_mels)

    def __call__(self, waveform: tf.Tensor) -> tf.Tensor:
        pad = self.n_fft // 2
        x = tf.pad(tf.cast(waveform, tf.float32), [[0, 0], [pad, pad]])
        stft = tf.signal.stft(x, frame_length=self.n_fft, frame_step=self.hop_length, fft_length=self.n_fft,
                              window_fn=tf.signal.hann_window, pad_end=False)
        power = tf.math.square(tf.math.abs(stft))
        mel = tf.tensordot(power, self.filters, axes=1)  # (batch, frames, n_mels)
        db = 10.0 * tf.math.log(tf.maximum(mel, 1e-10)) / tf.math.log(10.0)
        db = tf.maximum(db, tf.reduce_max(db, axis=[1, 2], keepdims=True) - self.top_db)
        return tf.transpose(db, [0, 2, 1])
