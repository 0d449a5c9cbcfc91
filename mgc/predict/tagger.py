"""Pretrained taggers as genre classifiers that need no training: ``predict --model musicnn-msd`` (or ``musicnn-mtt``).

musicnn (Pons & Serra, 2019; :mod:`mgc.models.musicnn`) gives 50 tag probabilities (sigmoids, independent)
for each 3 s patch. :class:`MusicnnRunner` runs it in predict's machinery (:mod:`mgc.predict.batch`):

* **windows**: a file is decoded at 16 kHz (mono, predict's decoder and resampler) and cut into windows of
  musicnn's patch, 187 frames of 256 samples (:data:`CLIP_SAMPLES` = 47,872 samples, 2.992 s), every
  ``--hop`` seconds (default: one window, no overlap), with predict's rules (a short file: one zero-padded
  window; a tail window only when it holds half a window of audio; silent windows left out);
* **input**: each window's musicnn log-mel (:func:`mgc.features.musicnn_input.log_mel`: librosa's
  centred mel, float16, ``log10(10000 x + 1)``), its first 187 frames: musicnn's own patch (it differs from
  musicnn's extractor, which takes one spectrogram of the whole track, only in the first frame of each
  window after the first, whose left half is zero padding here);
* **tags**: a file's tag probabilities are the mean of its windows' (as predict averages probabilities);
  the table has them as ``tag_<name>`` columns (:func:`tag_column`);
* **genre**: :data:`GENRE_TAGS` maps the tags that name a genre (a genre may have several: ``metal`` is
  ``metal`` and ``heavy metal``) to a genre; a genre's probability is the **largest** probability of its
  tags (not a sum: "rock" and "classic rock" are the same evidence twice, and a sum would favour genres
  with many tags), computed on the file's mean tag probabilities, and **not renormalised**: the ``p_<genre>``
  columns are tag probabilities, each in [0, 1], and need not sum to 1 (all of them low means no genre
  tag fits, e.g. speech). ``genre`` is the one with the largest; ``confidence`` its probability.

The mood, era, instrument and voice tags (``happy``, ``80s``, ``guitar``, ``female vocalists``, ...) belong
to no genre: they are only in the ``tag_`` columns. The same mapping is the export's (:mod:`mgc.export.tagger`):
there a window's genre ``logits`` are the largest logit of its tags, so ``probabilities = sigmoid(logits)``.
"""

from __future__ import annotations

import numpy as np

from mgc.contract import WAVEFORM
from mgc.errors import UserError
from mgc.features.musicnn_tags import (  # noqa: F401  (re-exported)
    CLIP_SAMPLES,
    CLIP_SECONDS,
    GENRE_TAGS,
    TAGGERS,
    tagger_clip,
    window_patches,
)
from mgc.predict.base import Runner
from mgc.predict.table import tag_column  # noqa: F401  (re-exported: tag_<name>, spaces as _, case kept)


class MusicnnRunner(Runner):
    """musicnn's pretrained MSD or MTT model (``key``), run in-process on waveform windows."""

    def __init__(self, key: str = "msd"):
        from mgc.models.musicnn import TAGS, build_musicnn

        if key not in GENRE_TAGS:
            raise UserError(f"no musicnn model {key!r}; choose one of {', '.join(GENRE_TAGS)}")
        self.key = key
        self._set_tags(TAGS[key], GENRE_TAGS[key])
        self.inputs = (WAVEFORM,)
        self.clip = tagger_clip()
        self.sample_rate, self.clip_samples = self.clip.sample_rate, self.clip.clip_samples
        self.spectrogram, self.min_duration = self.clip.spectrogram, self.clip.min_duration
        self.description = f"musicnn-{key}"
        self.identity = (self.description, "pretrained")
        self.model = build_musicnn(key, outputs="tags")

    def tag_batch(self, patches: np.ndarray) -> np.ndarray:
        """Tag probabilities of musicnn patches ``(n, 187, 96)``."""
        from mgc.models.musicnn import predict_patches

        return predict_patches(self.model, patches)

    def model_inputs(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The Keras model's inputs for a batch of waveform windows: their musicnn patches."""
        return {"patches": window_patches(inputs[WAVEFORM])}

    def predict_batch(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        windows = inputs[WAVEFORM]
        return self._check(self.tag_batch(window_patches(windows)), len(windows))


def open_tagger(name: str) -> MusicnnRunner:
    return MusicnnRunner(TAGGERS[name])
