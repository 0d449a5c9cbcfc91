"""What every model stage of one run shares: splits, classes, shapes, scaler, paths, data.

Frozen-branch outputs (logits or embeddings of the trained CNN, MLP and musicnn probe) are
computed once per set of trained branches and kept in ``<workdir>/models/extracted/``; fusion
heads train on those vectors instead of running the frozen graph every step.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from mgc.cache.store import ShardStore, cache_dir
from mgc.config import VALIDATION, Config
from mgc.contract import (
    BASELINE_FILE,
    BASELINES,
    FEATURES,
    PRETRAINED,
    inputs_of,
    needs_pretrained,
)
from mgc.datasets.manifest import read_manifest
from mgc.errors import UserError
from mgc.features import N_FEATURES
from mgc.input import FeatureScaler, class_names, feature_view, fit_scaler, make_dataset, spectrogram_shape
from mgc.input.pretrained_view import pretrained_view
from mgc.input.vectors import vector_data
from mgc.io import atomic_write_json, file_stamp
from mgc.models import extractors
from mgc.models.baselines import load_baseline
from mgc.models.fusion import SLOTS
from mgc.models.registry import Shapes, build, check_config, standardization
from mgc.training import recipe

FEATURE_STATS = "feature_stats.json"
INFERENCE_BATCH = 256  # frozen-branch outputs: few calls and traces (the demo's 180 tracks in one batch)


def repeat_seeds(config: Config) -> list[int]:
    """The seeds of ``[run] repeats`` runs of the model stages: seed, seed + 1, ..."""
    return [config.run.seed + r for r in range(config.run.repeats)]


def repeat_outputs(config: Config, seed: int) -> Path:
    """Where the model stages of the repeat with ``seed`` write (the run's own seed: the workdir)."""
    workdir = Path(config.run.workdir)
    return workdir if seed == config.run.seed else workdir / "repeats" / f"seed-{seed}"


class Experiment:
    """One run's workdir seen by the model stages."""

    def __init__(self, config: Config, progress: bool = True, outputs: Path | None = None):
        """``outputs``: where models/ and results/ go (default: the workdir; a repeat of the model
        stages with another seed: :func:`repeat_outputs`). Manifest, cache and scaler are the workdir's."""
        from mgc.training.determinism import configure

        check_config(config)
        configure(config)  # deterministic kernels, threads and the seed, before any model is built
        self.config, self.progress = config, progress
        self.workdir = Path(config.run.workdir)
        manifest = read_manifest(config)
        self.classes = class_names(manifest)
        # Tracks whose extraction failed (failures.csv) take no part in folds, slices or scores.
        store = ShardStore(cache_dir(config), N_FEATURES)
        latest, _ = store.latest()
        self.features = feature_view(config)  # the tabular view by track id (the baselines read it)
        ok = set(latest.loc[latest["status"] == "ok", "track_id"]) & set(self.features.index)
        # With a model reading the pretrained view, every model sees only the tracks that have it
        # too: the comparison is on the same test tracks.
        self.pretrained = pretrained_view(config) if needs_pretrained(config.train.models) else None
        if self.pretrained is not None:
            ok &= set(self.pretrained.index)
        self.manifest = manifest[manifest["track_id"].isin(ok)]
        stats = self.workdir / FEATURE_STATS
        if not stats.is_file():
            raise UserError(f"no {stats}; run the extract stage first")
        self.scaler = FeatureScaler.load(stats)
        n_pretrained = 0 if self.pretrained is None else self.pretrained.shape[1]
        self.shapes = Shapes(spectrogram_shape(config), len(self.scaler.mean), len(self.classes), n_pretrained)
        self.models_dir = Path(outputs or self.workdir) / "models"
        self.results_dir = Path(outputs or self.workdir) / "results"

    def early_stopping(self) -> pd.DataFrame | None:
        """A published split's validation tracks (every model stops early on them), else None:
        then each model holds out a slice of its own training tracks."""
        tracks = self.manifest[self.manifest["split"] == VALIDATION]
        return None if tracks.empty else tracks

    def split(self, name: str) -> pd.DataFrame:
        tracks = self.manifest[self.manifest["split"] == name]
        if tracks.empty:
            raise UserError(f"no {name} track has extracted data (check [split] and failures.csv)")
        return tracks

    def model_dir(self, name: str) -> Path:
        return self.models_dir / name

    def model_path(self, name: str) -> Path:
        """The trained model's file: ``model.keras``, or a scikit-learn baseline's ``model.joblib``."""
        return self.model_dir(name) / (BASELINE_FILE if name in BASELINES else "model.keras")

    def load(self, name: str) -> keras.Model:
        """The trained Keras model (a baseline: its fitted scikit-learn pipeline)."""
        path = self.model_path(name)
        if not path.is_file():
            raise UserError(f"model {name!r} is not trained yet ({path}); run the train stage")
        if name in BASELINES:
            return load_baseline(path)
        return keras.saving.load_model(path, compile=False)  # for inference and freezing

    def write_json(self, path: Path, payload) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, payload)

    # -- branch models: data and builders --------------------------------------------------
    def branch_data(self, name: str):
        """``make(tracks, shuffle, batch_size)``: ``name``'s training batches (``shuffle``: the
        recipe's crops, mixup and copies) or its validation batches (every window)."""
        def make(tracks: pd.DataFrame, shuffle: bool, batch_size: int):
            return make_dataset(self.config, tracks, self.classes, views=inputs_of(name), shuffle=shuffle,
                                batch_size=batch_size, **recipe.data_options(self.config, name, shuffle))

        return make

    def model_shapes(self, name: str) -> Shapes:
        """The shapes model ``name`` is built for: its log-mel is a crop's under ``[train] crop_seconds``."""
        return replace(self.shapes, spectrogram=recipe.clip(self.config, name).spectrogram_shape)

    def scaler_of(self, name: str, train_tracks: pd.DataFrame | None = None) -> FeatureScaler:
        """The standardisation model ``name`` builds in: of the features (feature_stats.json, fitted
        on baseline_train) or of the pretrained view (the musicnn probe); of ``train_tracks`` when given."""
        view = PRETRAINED if PRETRAINED in inputs_of(name) else FEATURES
        if view == FEATURES and train_tracks is None:
            return self.scaler
        return fit_scaler(self.config, self.split("baseline_train") if train_tracks is None else train_tracks,
                          view=view)

    def branch_builder(self, name: str):
        def make(params: dict, train_tracks: pd.DataFrame) -> keras.Model:
            scaler = self.scaler_of(name, train_tracks)
            with recipe.precision(self.config):
                return build(name, params, self.model_shapes(name), augment=recipe.augment_layer(self.config, name),
                             **standardization(scaler))

        return make

    def predict_tracks(self, model: keras.Model, name: str, tracks: pd.DataFrame, views=None, batch_size=None):
        """``(track ids, labels, per-track outputs)`` of ``model`` (reading ``name``'s clip) on
        ``tracks``: a crop-trained model's outputs are the mean over each track's windows (of
        its probabilities when ``model`` outputs logits: ``views`` None; else of its outputs)."""
        starts = recipe.windows(self.config, name)
        options = {"crop_frames": recipe.clip(self.config, name).frames, "window_starts": starts} \
            if recipe.cropped(self.config, name) else {}
        ds = make_dataset(self.config, tracks, self.classes, views=views or inputs_of(name), include_track_id=True,
                          batch_size=batch_size or self.config.input.batch_size, **options)
        ids, labels, outputs = [], [], []
        for x, y in ds:
            ids.append(x.pop("track_id").numpy().astype(str)[::len(starts)])
            labels.append(y.numpy()[::len(starts)])
            # numpy in, numpy out: every backend's predict_on_batch takes it (JAX refuses tf tensors)
            out = np.asarray(model.predict_on_batch({k: v.numpy() for k, v in x.items()}), dtype=np.float32)
            if views is None:
                out = np.asarray(keras.ops.convert_to_numpy(keras.ops.softmax(out, axis=-1)))
            outputs.append(out.reshape(-1, len(starts), out.shape[-1]).mean(axis=1))
        return np.concatenate(ids), np.concatenate(labels), np.concatenate(outputs)

    # -- frozen-branch outputs for the fusion heads ----------------------------------------
    def extracted(self, kind: str, branches: dict[str, keras.Model]) -> dict[str, np.ndarray]:
        """``{"track_id", "cnn", "mlp"[, "musicnn"]}`` arrays of the frozen extractors' outputs for
        the fusion_train and test tracks (``branches``: name -> trained model, in
        :func:`mgc.contract.fusion_branches` order), computed once per set of trained branch files."""
        output = "logits" if kind == "logit_fusion" else "embedding"
        names = list(branches)
        stamps = {n: file_stamp(str(self.model_path(n))) for n in names}
        path = self.models_dir / "extracted" / f"{'_'.join(names)}_{output}.npz"
        slots = SLOTS[:len(names)]
        if path.is_file():
            with np.load(path) as z:
                if json.loads(str(z["stamps"])) == stamps:
                    return {k: z[k] for k in ("track_id", *slots)}
        parts = extractors(kind, *branches.values())
        tracks = self.manifest[self.manifest["split"].isin(["fusion_train", VALIDATION, "test"])]
        # Inference only: large batches mean few calls and few traces (most of the time here).
        # A crop-trained CNN's outputs are averaged over each track's windows, as build_fusion does.
        batch = max(self.config.input.batch_size, INFERENCE_BATCH)
        arrays: dict[str, np.ndarray] = {}
        for slot, name, part in zip(slots, names, parts):
            ids, _, vectors = self.predict_tracks(part, name, tracks, views=inputs_of(name), batch_size=batch)
            if "track_id" not in arrays:
                arrays["track_id"] = ids
            arrays[slot] = vectors[pd.Index(ids).get_indexer(arrays["track_id"])]
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, stamps=json.dumps(stamps), **arrays)
        return arrays

    def vector_data(self, arrays: dict[str, np.ndarray]):
        """tf.data of cached extractor outputs ``({"cnn", "mlp"[, "musicnn"]}, label)`` for any tracks."""
        return vector_data(arrays, self.classes, self.config.run.seed)
