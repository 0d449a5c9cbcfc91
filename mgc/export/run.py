"""Export a run's trained models: the client metadata (assets) a run implies, then SavedModels.

A model that reads the pretrained view is exported with musicnn's embedding model inside
(``serve_waveform`` computes the view from the clip; the assets' ``pretrained`` names the weights).

FMA's scikit-learn baselines (``svm``, ``logreg``: :mod:`mgc.models.baselines`) are not exported:
an RBF SVM is not a Keras graph and TensorFlow Serving cannot run it. :func:`skip_baselines`
names their ``model.joblib`` instead, in one line each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import keras

from mgc.config import Config
from mgc.contract import BASELINES, PRETRAINED_MODEL, ClipSpec, column_names, inputs_of, needs_pretrained
from mgc.errors import UserError
from mgc.input import feature_view
from mgc.io import file_stamp, settings_hash


def run_assets(exp, name: str, embedding_dim: int | None = None) -> dict[str, Any]:
    """Everything a client of model ``name`` of this run needs, as JSON-able values
    (``embedding_dim``: the pretrained view's size, for a model that reads it)."""
    config = exp.config
    assets = {
        "labels": list(exp.classes),
        "inputs": list(inputs_of(name)),
        # sample rate, clip length (a crop-trained CNN's: the crop), min_duration, spectrogram
        **ClipSpec.for_model(config, name).to_assets(),
        "feature_columns": column_names(feature_view(config).columns),
        "feature_mean": [float(v) for v in exp.scaler.mean],
        "feature_scale": [float(v) for v in exp.scaler.scale],
        "config_hash": settings_hash(config.to_dict()),
        "run": config.run.name,
    }
    if needs_pretrained([name]):
        assets["pretrained"] = pretrained_assets(config, embedding_dim)
    return assets


def pretrained_assets(config: Config, dim: int | None) -> dict[str, Any]:
    """The pretrained view an export computes: musicnn's weights and layer, size and patches per clip."""
    from mgc.features import musicnn_input
    from mgc.input.pretrained_view import requested
    from mgc.models.musicnn_weights import weights_id

    wanted = requested(config)
    clip = ClipSpec.from_config(config)
    return {"model": PRETRAINED_MODEL, "weights": str(wanted["weights"]), "weights_id": weights_id(wanted["weights"]),
            "embedding": wanted["embedding"], "dim": int(dim),
            "patches": musicnn_input.n_clip_patches(clip.clip_samples, clip.sample_rate),
            "resample": {"to": musicnn_input.SR, "method": "scipy.signal.resample_poly",
                         "window": list(musicnn_input.RESAMPLE_WINDOW)}}


def skip_baselines(exp, names: list[str], echo=print) -> list[str]:
    """``names`` without the scikit-learn baselines, each skipped with a line naming its joblib file."""
    for name in [n for n in names if n in BASELINES]:
        echo(f"export {name}: skipped, a scikit-learn model is not exported as a SavedModel (not a Keras graph; "
             f"TensorFlow Serving cannot run it); its fitted pipeline is {exp.model_path(name)}")
    return [n for n in names if n not in BASELINES]


def export_run(exp, names: list[str], export_dir: str | Path, *, skip_unchanged: bool = False,
               echo=print) -> dict[str, Path]:
    """Export each named trained model of ``exp`` as its next version; returns name -> folder.

    With ``skip_unchanged`` (the ``run`` stage resuming) a model whose latest export came from
    the same trained file of the same run is not exported again.
    """
    from mgc.export.savedmodel import export_model, read_assets, versions, write_models_config

    written = {}
    embedding = None  # musicnn's embedding model, built once for the models reading the pretrained view
    for name in skip_baselines(exp, names, echo):
        reads_view = needs_pretrained([name])
        if reads_view and embedding is None:
            from mgc.input.pretrained_view import requested
            from mgc.models.musicnn import embedding_model

            wanted = requested(exp.config)
            embedding = embedding_model(wanted["weights"], wanted["embedding"])
        assets = run_assets(exp, name, int(embedding.output.shape[-1]) if reads_view else None)
        assets["source"] = {"model": str(exp.model_path(name).absolute()),
                            "stamp": file_stamp(str(exp.model_path(name)))}
        base = Path(export_dir) / name
        if skip_unchanged and versions(base):
            old = read_assets(base)
            if old.get("source") == assets["source"] and old.get("config_hash") == assets["config_hash"]:
                echo(f"export {name}: unchanged since {base / str(old['version'])}")
                written[name] = base / str(old["version"])
                continue
        written[name] = export_model(exp.load(name), name, assets, export_dir, embedding if reads_view else None)
        echo(f"export {name}: {written[name]}")
    if written:
        configs = write_models_config(export_dir)
        echo(f"export: TensorFlow Serving config for all models -> {configs[0]}")
    return written


# Keras writes SavedModels from these backends; under torch it needs torch_xla (not installable here).
EXPORT_BACKENDS = ("tensorflow", "jax")


def exports_here() -> bool:
    """Whether this process's Keras backend can write SavedModels itself."""
    return keras.backend.backend() in EXPORT_BACKENDS


def _dotted(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"run": {"seed": 0}}`` -> ``{"run.seed": 0}``: a config as ``load_config`` overrides."""
    flat = {}
    for key, value in table.items():
        if isinstance(value, dict) and value:
            flat.update(_dotted(value, f"{prefix}{key}."))
        elif prefix:  # top-level scalars (the informational ``source``) are not settings
            flat[f"{prefix}{key}"] = value
    return flat


def export_with_tensorflow(config: Config, names: list[str], *, skip_unchanged: bool = False, echo=print) -> None:
    """Export in a child process on the TensorFlow backend: ``.keras`` files load under any
    backend, so models trained under PyTorch are exported from their saved files unchanged."""
    echo(f"export: the {keras.backend.backend()} backend cannot write SavedModels (Keras needs the TensorFlow "
         "or JAX backend); exporting the saved .keras models in a TensorFlow-backend process")
    with tempfile.TemporaryDirectory(prefix="mgc-export-") as tmp:
        settings = Path(tmp) / "config.json"
        settings.write_text(json.dumps(_dotted(config.to_dict())))
        command = [sys.executable, "-m", "mgc.export", str(settings), ",".join(names)]
        env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
        done = subprocess.run(command + (["--skip-unchanged"] if skip_unchanged else []), env=env)
    if done.returncode != 0:
        raise UserError(f"export under the TensorFlow backend failed (exit code {done.returncode}); see above")
