"""musicnn's input and the pretrained view computed inside a TensorFlow graph from a waveform.

The exports' ``serve_waveform`` takes raw audio; for a model that reads the pretrained view the
graph must compute what the cache computed (:func:`mgc.features.musicnn_input.clip_patches`):

- :class:`Resample`: the clip from the run's rate to 16 kHz, scipy's ``resample_poly`` (Kaiser
  window, zero padding) as one matrix product per block of ``down`` input samples;
- :class:`MusicnnLogMel`: musicnn's spectrogram (librosa's centred mel, float16, ``log10(10000 x + 1)``);
- :class:`ClipEmbedding`: both, cut into musicnn's non-overlapping patches, through the embedding
  model, averaged over the clip: the ``pretrained`` input of the model.

Agreement with the numpy path is tested on real recordings (tests/test_export_pretrained.py).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mgc.features import musicnn_input


class Resample(tf.Module):
    """``waveform`` float32 (batch, samples at ``sample_rate``) -> (batch, ceil(samples * 16000 / rate)).

    scipy's ``upfirdn`` output ``y[U b + j] = sum_t x[D b + t] h[(j + r) D - t U]`` (up ``U``, down
    ``D``, ``h`` its padded filter, ``r`` the samples it removes at the start) does not depend on the
    block ``b``: the input framed every ``D`` samples times one (taps, U) matrix gives every output."""

    def __init__(self, sample_rate: int, name=None):
        super().__init__(name=name)
        from scipy.signal import firwin

        up, down = musicnn_input.rate_ratio(sample_rate)
        self.up, self.down = up, down
        if up == down:
            return
        half_len = 10 * max(up, down)  # as resample_poly designs its filter
        h = firwin(2 * half_len + 1, 1.0 / max(up, down), window=musicnn_input.RESAMPLE_WINDOW) * up
        pre_pad = down - half_len % down
        h = np.concatenate([np.zeros(pre_pad), h])
        remove = (half_len + pre_pad) // down
        index = (np.arange(up)[None, :] + remove) * down  # (1, U): (j + r) D
        t_min = int(np.ceil((index.min() - len(h) + 1) / up))
        t_max = int(index.max() // up)
        t = np.arange(t_min, t_max + 1)[:, None]  # (taps, 1)
        k = index - t * up
        self.t_min, self.taps = t_min, t_max - t_min + 1
        self.matrix = tf.constant(np.where((k >= 0) & (k < len(h)), h[np.clip(k, 0, len(h) - 1)], 0.0), tf.float32)

    def output_length(self, samples: int) -> int:
        return -(-int(samples) * self.up // self.down)

    def __call__(self, waveform: tf.Tensor) -> tf.Tensor:
        waveform = tf.cast(waveform, tf.float32)
        if self.up == self.down:
            return waveform
        samples = int(waveform.shape[-1])
        n_out = self.output_length(samples)
        blocks = -(-n_out // self.up)
        # x[q + t_min] for q < D (blocks - 1) + taps, zero outside the waveform (upfirdn's padding)
        needed = self.down * (blocks - 1) + self.taps
        x = tf.pad(waveform, [[0, 0], [max(0, -self.t_min), 0]])[:, max(0, self.t_min):]
        x = tf.pad(x, [[0, 0], [0, max(0, needed - (samples - self.t_min))]])
        frames = tf.signal.frame(x, self.taps, self.down)[:, :blocks]  # (batch, blocks, taps)
        y = tf.tensordot(frames, self.matrix, axes=1)  # (batch, blocks, U)
        return tf.reshape(y, [-1, blocks * self.up])[:, :n_out]


class MusicnnLogMel(tf.Module):
    """``waveform`` float32 (batch, samples at 16 kHz) -> musicnn's log-mel (batch, frames, 96).

    librosa 0.11's ``melspectrogram`` defaults as musicnn calls it: centred STFT with zero (``constant``)
    padding of n_fft / 2 at both ends, periodic Hann window, power 2, Slaney mel filters; then rounded to
    float16 and ``log10(10000 x + 1)`` in float32. ``frames`` (None: all, ``1 + samples // 256``) keeps the first."""

    def __init__(self, frames: int | None = musicnn_input.PATCH_FRAMES, name=None):
        super().__init__(name=name)
        import librosa

        self.frames = None if frames is None else int(frames)
        filters = librosa.filters.mel(sr=musicnn_input.SR, n_fft=musicnn_input.N_FFT, n_mels=musicnn_input.N_MELS)
        self.filters = tf.constant(filters.T.astype(np.float32))  # (1 + n_fft // 2, n_mels)

    def __call__(self, waveform: tf.Tensor) -> tf.Tensor:
        n_fft, hop = musicnn_input.N_FFT, musicnn_input.HOP
        x = tf.pad(tf.cast(waveform, tf.float32), [[0, 0], [n_fft // 2, n_fft // 2]])
        stft = tf.signal.stft(x, frame_length=n_fft, frame_step=hop, fft_length=n_fft,
                              window_fn=tf.signal.hann_window, pad_end=False)
        power = tf.math.square(tf.math.abs(stft))
        mel = tf.tensordot(power, self.filters, axes=1)  # (batch, frames, n_mels)
        if self.frames is not None:
            mel = mel[:, :self.frames]
        mel = tf.cast(tf.cast(mel, tf.float16), tf.float32)
        return tf.math.log(10000.0 * mel + 1.0) / tf.math.log(10.0)


class ClipEmbedding(tf.Module):
    """``waveform`` (batch, clip_samples at ``sample_rate``) -> the pretrained view (batch, dim).

    ``embed``: a function of musicnn patches (n, 187, 96) -> (n, dim), e.g. the export archive's
    endpoint of the embedding model. The clip's patches are those of :func:`clip_patches`."""

    def __init__(self, sample_rate: int, clip_samples: int, embed, name=None):
        super().__init__(name=name)
        self.resample = Resample(sample_rate)
        self.log_mel = MusicnnLogMel(frames=None)
        self.embed = embed
        self.n_patches = musicnn_input.n_clip_patches(clip_samples, sample_rate)

    def patches(self, waveform: tf.Tensor) -> tf.Tensor:
        """(batch, n_patches, 187, 96)."""
        frames, n = musicnn_input.PATCH_FRAMES, self.n_patches
        spectrogram = self.log_mel(self.resample(waveform))
        short = frames - int(spectrogram.shape[1])
        if short > 0:  # a clip shorter than one patch: silence after it, as the cache pads it
            spectrogram = tf.pad(spectrogram, [[0, 0], [0, short], [0, 0]])
        return tf.reshape(spectrogram[:, :n * frames], [-1, n, frames, musicnn_input.N_MELS])

    def __call__(self, waveform: tf.Tensor) -> tf.Tensor:
        patches = self.patches(waveform)
        n = self.n_patches
        vectors = tf.cast(self.embed(tf.reshape(patches, [-1, musicnn_input.PATCH_FRAMES, musicnn_input.N_MELS])),
                          tf.float32)
        return tf.reduce_mean(tf.reshape(vectors, [-1, n, vectors.shape[-1]]), axis=1)
