"""Trained Keras models as TensorFlow SavedModels in TensorFlow Serving's layout.

``<export_dir>/<name>/<version>/`` with integer versions: a new export takes the next version
and never touches an old one (it is written under a hidden name and renamed into place, so a
server watching the folder never sees half an export). Two signatures, named in and out:

- ``serving_default``: ``spectrogram`` (batch, n_mels, frames), ``features`` (batch, F) and/or
  ``pretrained`` (batch, dim), the views the model reads, raw values (standardisation is inside
  the model);
- ``serve_waveform``: ``waveform`` (batch, clip samples, mono at the model's rate) and, for
  models that use them, ``features``; the log-mel is computed in the graph (:mod:`.logmel`), and
  for a model reading the pretrained view, musicnn's embedding of the same clip too
  (:mod:`.musicnn_graph`, with the embedding model inside the SavedModel).

Both return ``probabilities``, ``logits``, ``class_id`` (int64) and ``genre`` (string, looked
up in the graph from a constant of the genre names; ``assets/labels.txt`` lists them too).
``assets/mgc.json`` carries what a client needs: labels, sample rate, clip length, spectrogram
settings, feature columns and statistics, and the training run's config hash.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from mgc.contract import (
    ASSETS_JSON,
    FEATURES,
    LABELS_TXT,
    OUTPUTS,
    PATCHES,
    PRETRAINED,
    SERVE_WAVEFORM,
    SERVING_DEFAULT,
    SIGNATURES,
    SPECTROGRAM,
    WAVEFORM,
    signature_inputs,
)
from mgc.export.logmel import LogMel

__all__ = ["ASSETS_JSON", "LABELS_TXT", "SIGNATURES", "build_archive", "check_labels", "export_model",
           "latest_version", "read_assets", "versions", "write_models_config"]


def versions(base: str | Path) -> list[int]:
    """The integer versions exported under a model's base folder, ascending."""
    base = Path(base)
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit())


def latest_version(path: str | Path) -> Path:
    """A version folder as given, or the highest version under a model's base folder."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    found = versions(path)
    if not found:
        raise FileNotFoundError(f"no exported model at {path} (expected {path}/<version>/saved_model.pb)")
    return path / str(found[-1])


def read_assets(path: str | Path) -> dict[str, Any]:
    """``assets/mgc.json`` of an export (a version folder or a model's base folder)."""
    version_dir = latest_version(path)
    return json.loads((version_dir / "assets" / ASSETS_JSON).read_text())


def check_labels(labels) -> list[str]:
    """The genre names, refused (ValueError) if one holds a control character or a line break,
    which would split ``assets/labels.txt`` (``prepare`` refuses such names first)."""
    labels = [str(label) for label in labels]
    for label in labels:
        if not label or any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in label) or label != label.strip():
            raise ValueError(f"genre name {label!r} is empty, padded or holds a control character or line break")
    return labels


def build_archive(model: keras.Model, assets: dict[str, Any],
                  embedding: keras.Model | None = None) -> keras.export.ExportArchive:
    """An ExportArchive with both signatures for ``model`` (inputs named as in ``assets``).

    ``embedding``: for a model reading the pretrained view, the pretrained model's embedding
    (:func:`mgc.models.musicnn.embedding_model`, the one the run's view came from; ``assets``
    has its ``pretrained`` settings), which ``serve_waveform`` runs on the clip's patches.

    The Keras model itself is the endpoint ``logits`` (a dict of the model's inputs -> logits;
    under the JAX backend Keras converts it with jax2tf); ``serving_default`` and
    ``serve_waveform`` are TensorFlow functions around it, so the log-mel, the label lookup and the
    shape checks are TensorFlow ops whatever the backend.
    """
    spec = assets["spectrogram"]
    inputs = tuple(assets["inputs"])
    specs = {
        SPECTROGRAM: tf.TensorSpec([None, spec["n_mels"], spec["frames"]], tf.float32, name=SPECTROGRAM),
        FEATURES: tf.TensorSpec([None, len(assets["feature_columns"])], tf.float32, name=FEATURES),
        WAVEFORM: tf.TensorSpec([None, assets["clip_samples"]], tf.float32, name=WAVEFORM),
    }
    if PRETRAINED in inputs:
        if embedding is None:
            raise ValueError("a model reading the pretrained view is exported with its embedding model")
        specs[PRETRAINED] = tf.TensorSpec([None, assets["pretrained"]["dim"]], tf.float32, name=PRETRAINED)
    # The genre names are a constant of the graph, not lines of a file: a name can never be split.
    genres = tf.constant(check_labels(assets["labels"]), dtype=tf.string)
    log_mel = LogMel(assets["sample_rate"], spec["n_mels"], spec["n_fft"], spec["hop_length"], spec["top_db"])
    archive = keras.export.ExportArchive()
    # Under JAX, jax2tf's graph serialization: TensorFlow 2.17's XlaCallModule cannot deserialize the
    # StableHLO that jax 0.4.38 writes natively ("Cannot deserialize computation", measured).
    backend = {"jax2tf_kwargs": {"native_serialization": False}} if keras.backend.backend() == "jax" else {}
    # Every model tracked before any endpoint is added: under JAX an endpoint's function takes all the
    # archive's variables, so a model tracked after another's endpoint would break that one's trace.
    archive.track(model)
    if embedding is not None:
        archive.track(embedding)
    model_fn = archive.add_endpoint("logits", model.__call__, [{n: specs[n] for n in inputs}], **backend)
    computed = {}  # what serve_waveform computes from the waveform: the views not sent
    if SPECTROGRAM in inputs:
        computed[SPECTROGRAM] = log_mel
    if PRETRAINED in inputs:
        from mgc.export.musicnn_graph import ClipEmbedding

        patch_spec = tf.TensorSpec([None, *embedding.input[PATCHES].shape[1:]], tf.float32, name=PATCHES)
        embed_fn = archive.add_endpoint("embed", embedding.__call__, [{PATCHES: patch_spec}], **backend)
        computed[PRETRAINED] = ClipEmbedding(assets["sample_rate"], assets["clip_samples"],
                                             lambda patches: embed_fn({PATCHES: patches}))

    def outputs(tensors: dict) -> dict[str, tf.Tensor]:
        logits = tf.cast(model_fn({k: tensors[k] for k in inputs}), tf.float32)
        class_id = tf.argmax(logits, axis=-1, output_type=tf.int64)
        values = (tf.nn.softmax(logits, axis=-1), logits, class_id, tf.gather(genres, class_id))
        return dict(zip(OUTPUTS, values))  # probabilities, logits, class_id, genre

    def from_waveform(tensors: dict) -> dict[str, tf.Tensor]:
        return outputs({**tensors, **{name: view(tensors[WAVEFORM]) for name, view in computed.items()}})

    def add(name: str, names: tuple[str, ...], run) -> None:
        # One dict argument: a signature takes the tensors as keyword arguments (TF Serving's named
        # inputs); the restored function (``loaded.serving_default``, ``keras.layers.TFSMLayer``)
        # takes the dict. Shapes are checked when called: a signature call does not check them,
        # and a resizing model would otherwise answer silently for a spectrogram of the wrong length.
        @tf.function(input_signature=[{n: specs[n] for n in names}])
        def serve(tensors):
            return run({n: tf.ensure_shape(tensors[n], specs[n].shape, name=f"check_{n}") for n in names})

        serve.get_concrete_function()  # traced: Keras takes a traced tf.function as it is
        archive.add_endpoint(name, serve)

    add(SERVING_DEFAULT, signature_inputs(SERVING_DEFAULT, inputs), outputs)
    add(SERVE_WAVEFORM, signature_inputs(SERVE_WAVEFORM, inputs), from_waveform)
    return archive


def export_model(model: keras.Model, name: str, assets: dict[str, Any], export_dir: str | Path,
                 embedding: keras.Model | None = None) -> Path:
    """Write ``model`` as the next version under ``<export_dir>/<name>/``; returns its folder
    (``embedding``: :func:`build_archive`'s)."""
    check_labels(assets["labels"])  # before the (slow) build: a bad label fails at once
    return write_version(build_archive(model, assets, embedding), name, assets, export_dir)


def write_version(archive, name: str, assets: dict[str, Any], export_dir: str | Path) -> Path:
    """Write ``archive`` (a ``keras.export.ExportArchive``) with its ``assets/`` (``mgc.json`` and
    ``labels.txt``) as the next version under ``<export_dir>/<name>/``; returns its folder. Staged
    under a hidden name and renamed into place, so a reader never sees half a version."""
    base = Path(export_dir) / name
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=base) as staging:
        staging = Path(staging)
        labels_file = staging / LABELS_TXT  # for people and tools; the graph holds its own copy
        labels_file.write_text("".join(f"{label}\n" for label in check_labels(assets["labels"])))
        out = staging / "model"
        while True:
            version = (versions(base) or [0])[-1] + 1
            meta = {**assets, "model": name, "version": version}
            (staging / ASSETS_JSON).write_text(json.dumps(meta, indent=2) + "\n")
            if not out.exists():
                archive.write_out(str(out), verbose=False)
            (out / "assets").mkdir(exist_ok=True)
            shutil.copy2(staging / ASSETS_JSON, out / "assets" / ASSETS_JSON)
            shutil.copy2(labels_file, out / "assets" / LABELS_TXT)
            try:
                os.rename(out, base / str(version))  # atomic; fails if that version appeared meanwhile
                return base / str(version)
            except OSError:
                if not (base / str(version)).exists():
                    raise


def write_models_config(export_dir: str | Path) -> list[Path]:
    """TensorFlow Serving ``--model_config_file`` files serving every model under ``export_dir``.

    ``models.config`` points at this folder's absolute path (``tensorflow_model_server``);
    ``models.docker.config`` at ``/models/<name>`` (the ``tensorflow/serving`` image with the
    folder mounted on ``/models``).
    """
    export_dir = Path(export_dir).absolute()
    names = sorted(p.name for p in export_dir.iterdir() if p.is_dir() and versions(p))
    written = []
    for filename, root in (("models.config", str(export_dir)), ("models.docker.config", "/models")):
        entries = "".join(
            f'  config {{\n    name: "{n}"\n    base_path: "{root}/{n}"\n    model_platform: "tensorflow"\n  }}\n'
            for n in names)
        path = export_dir / filename
        path.write_text(f"model_config_list {{\n{entries}}}\n")
        written.append(path)
    return written
