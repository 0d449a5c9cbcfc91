"""A pretrained tagger (``musicnn-msd`` / ``musicnn-mtt``) as a SavedModel for TensorFlow Serving.

The layout, versioning and assets are every export's (:func:`mgc.export.savedmodel.export_model`'s staging
and atomic rename, ``assets/mgc.json`` and ``assets/labels.txt``); the signatures take musicnn's input:

- ``serving_default``: ``patches`` float32 (batch, 187, 96), musicnn's log-mel patches
  (:mod:`mgc.features.musicnn_input`), time first as musicnn has them;
- ``serve_waveform``: ``waveform`` float32 (batch, 47872): mono 16 kHz windows of one patch
  (:data:`mgc.features.musicnn_tags.CLIP_SAMPLES`); musicnn's spectrogram is computed in the graph
  (:class:`mgc.export.musicnn_graph.MusicnnLogMel`).

Both return the contract's outputs over the mapped genres (:data:`mgc.features.musicnn_tags.GENRE_TAGS`):
``logits`` (a genre's: the largest logit of its tags), ``probabilities`` (their sigmoid: the largest of the
tags' probabilities, not renormalised), ``class_id``, ``genre``; and ``tags``: the 50 tag probabilities.
The assets add ``tags`` and ``genre_tags``; ``inputs`` is ``["waveform"]``, so ``predict --model <export>``
(:class:`mgc.predict.SavedModelRunner`) cuts waveform windows and calls ``serve_waveform``, like
``predict --model musicnn-msd``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from mgc.contract import OUTPUTS, PATCHES, SERVE_WAVEFORM, SERVING_DEFAULT, WAVEFORM
from mgc.export.musicnn_graph import MusicnnLogMel
from mgc.features import musicnn_input
from mgc.features.musicnn_tags import CLIP_SAMPLES, GENRE_TAGS, TAGGERS, genre_index, tagger_clip

TAGS_OUTPUT = "tags"  # the extra output: the 50 tag probabilities


def tagger_assets(name: str) -> dict[str, Any]:
    """The ``assets/mgc.json`` of tagger ``name`` (``musicnn-msd`` / ``musicnn-mtt``)."""
    from mgc.models.musicnn import TAGS
    from mgc.models.musicnn_weights import WHEEL_NAME, WHEEL_SHA256

    key = TAGGERS[name]
    clip = tagger_clip()
    assets = {
        "labels": list(GENRE_TAGS[key]),
        "inputs": [WAVEFORM],
        **clip.to_assets(),
        "tags": list(TAGS[key]),
        "genre_tags": {genre: list(tags) for genre, tags in GENRE_TAGS[key].items()},
        "genre_rule": "a genre's probability is the largest of its tags' (not renormalised)",
        "patch": {"frames": musicnn_input.PATCH_FRAMES, "n_mels": musicnn_input.N_MELS,
                  "log": "log10(10000 * float16(mel power) + 1)"},
        "source": {"model": f"musicnn 0.1.0 {key.upper()}_musicnn (Pons & Serra 2019, ISC licence, MTG/UPF)",
                   "wheel": WHEEL_NAME, "sha256": WHEEL_SHA256},
    }
    assets["spectrogram"]["frames"] = musicnn_input.PATCH_FRAMES  # the patch's, not 1 + samples // hop
    return assets


def build_tagger_archive(model, assets: dict[str, Any]):
    """An ExportArchive of ``model`` (``build_musicnn(outputs="logits")``) with both signatures."""
    import keras

    from mgc.export.savedmodel import check_labels

    patch_spec = tf.TensorSpec([None, musicnn_input.PATCH_FRAMES, musicnn_input.N_MELS], tf.float32, name=PATCHES)
    wave_spec = tf.TensorSpec([None, CLIP_SAMPLES], tf.float32, name=WAVEFORM)
    genres = tf.constant(check_labels(assets["labels"]), dtype=tf.string)
    index = genre_index(assets["genre_tags"], assets["tags"])
    # (n_tags, n_genres) one-hot columns; a genre's logit is the largest of its tags': max over a masked copy
    mask = np.zeros((len(assets["tags"]), len(index)), bool)
    for g, group in enumerate(index):
        mask[group, g] = True
    mask = tf.constant(mask)
    log_mel = MusicnnLogMel()
    archive = keras.export.ExportArchive()
    backend = {"jax2tf_kwargs": {"native_serialization": False}} if keras.backend.backend() == "jax" else {}
    model_fn = archive.track_and_add_endpoint("logits", model, [{PATCHES: patch_spec}], **backend)
    archive.track(log_mel)

    def outputs(patches) -> dict[str, tf.Tensor]:
        tag_logits = tf.cast(model_fn({PATCHES: patches}), tf.float32)  # (n, n_tags)
        masked = tf.where(mask[None], tag_logits[:, :, None], tf.float32.min)  # (n, n_tags, n_genres)
        logits = tf.reduce_max(masked, axis=1)
        class_id = tf.argmax(logits, axis=-1, output_type=tf.int64)
        values = (tf.sigmoid(logits), logits, class_id, tf.gather(genres, class_id))
        return {**dict(zip(OUTPUTS, values)), TAGS_OUTPUT: tf.sigmoid(tag_logits)}

    @tf.function(input_signature=[{PATCHES: patch_spec}])
    def serve_patches(tensors):
        return outputs(tf.ensure_shape(tensors[PATCHES], patch_spec.shape, name=f"check_{PATCHES}"))

    @tf.function(input_signature=[{WAVEFORM: wave_spec}])
    def serve_waveform(tensors):
        return outputs(log_mel(tf.ensure_shape(tensors[WAVEFORM], wave_spec.shape, name=f"check_{WAVEFORM}")))

    for signature, function in ((SERVING_DEFAULT, serve_patches), (SERVE_WAVEFORM, serve_waveform)):
        function.get_concrete_function()
        archive.add_endpoint(signature, function)
    return archive


def export_tagger(name: str, export_dir: str | Path) -> Path:
    """Write tagger ``name`` as the next version under ``<export_dir>/<name>/``; returns its folder
    (:func:`mgc.export.savedmodel.write_version`, as every export)."""
    from mgc.export.savedmodel import write_version
    from mgc.models.musicnn import build_musicnn

    assets = tagger_assets(name)
    model = build_musicnn(TAGGERS[name], outputs="logits")
    return write_version(build_tagger_archive(model, assets), name, assets, export_dir)


def main(argv: list[str] | None = None) -> int:
    """``python -m mgc.export.tagger NAME [--export-dir DIR]``: no experiment config needed."""
    import argparse
    import sys

    from mgc.errors import UserError

    parser = argparse.ArgumentParser(prog="python -m mgc.export.tagger",
                                     description="export a pretrained tagger as a SavedModel for TensorFlow Serving")
    parser.add_argument("name", choices=sorted(TAGGERS))
    parser.add_argument("--export-dir", default="saved_models", metavar="DIR",
                        help="write <DIR>/<name>/<next version>/ (default: saved_models)")
    args = parser.parse_args(argv)
    try:
        print(f"export {args.name}: {export_tagger(args.name, args.export_dir)}")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
