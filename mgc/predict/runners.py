"""The three ways to run a model on a batch of windows, behind one interface.

Every runner has ``labels`` (class order), ``inputs`` (the views the model reads), the audio
settings its windows need (``sample_rate``, ``clip_samples``, ``spectrogram``, ``decoder``), the
shortest usable track ``min_duration`` (seconds: the ``[audio] min_duration`` the model was
trained with; an export written before it was recorded: :class:`AudioConfig`'s default, 3 s) and
``predict_batch(inputs) -> probabilities`` (float32, one row per window):

- :class:`SavedModelRunner`: an export (``<export_dir>/<model>/<version>/``, or the model's base
  folder: the highest version), through its ``serving_default`` signature; settings and labels
  come from the export's ``assets/mgc.json``;
- :class:`KerasRunner`: a run's ``.keras`` checkpoint; labels are the run's classes (its
  manifest's genres, sorted, as training used them) and settings come from the run's config
  (``--config``, or the ``config.json`` that ``prepare`` wrote into the run's workdir);
- :class:`ServerRunner`: the same export served by TensorFlow Serving (REST or gRPC, via
  :class:`mgc.serving.Client`); the local export gives the model name, version and settings.

A model that reads the pretrained view gets musicnn's embedding of each window: an export computes it
in its graph (``serve_waveform``, the runner sends waveform windows), a ``.keras`` checkpoint's runner
embeds each window's musicnn patches with the run's ``[models.musicnn]`` weights and layer, as
``extract`` did for the training clips.

A pretrained tagger (:mod:`mgc.predict.tagger`: ``musicnn-msd``, ``musicnn-mtt``, or its export, whose
assets list ``tags``) reads waveform windows and returns tag probabilities (``tags``); its
``genre_probabilities`` turns a file's mean tags into its genres' (the export through ``serve_waveform``).

:func:`open_runner` picks one from the command line's ``--model``/``--server``/``--config``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from mgc.config import AudioConfig, SpectrogramConfig
from mgc.contract import (
    ASSETS_JSON,
    BASELINE_FILE,
    BASELINES,
    FEATURES,
    PATCHES,
    PRETRAINED,
    SERVE_WAVEFORM,
    SERVING_DEFAULT,
    SPECTROGRAM,
    VIEWS,
    WAVEFORM,
    ClipSpec,
    column_names,
    signature_inputs,
)
from mgc.errors import UserError
from mgc.predict.base import Runner

SERVER_TIMEOUT = 120.0  # seconds per batch: a REST body of 32 full-length spectrograms is large


# -- exports --------------------------------------------------------------------------------
def is_export(path: Path) -> bool:
    """A SavedModel version folder, or a model base folder holding integer versions."""
    from mgc.export import versions

    return path.is_dir() and ((path / "saved_model.pb").is_file()
                              or any((path / str(v) / "saved_model.pb").is_file() for v in versions(path)))


def export_assets(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """``(version_dir, assets)`` of an export (a version folder or a model's base folder).

    A SavedModel is a program (any TensorFlow ops, file reads and writes included), so only an
    export with mgc's ``assets/mgc.json`` is accepted, and this is checked before TensorFlow
    loads anything. A guard against mistakes (a foreign or half-copied SavedModel), not a
    security boundary: anyone can write that file; load exports only from sources you trust."""
    from mgc.export import latest_version, read_assets

    path = Path(path)
    try:
        version_dir = latest_version(path)
    except FileNotFoundError as exc:
        raise UserError(f"{exc}") from None
    if not (version_dir / "assets" / ASSETS_JSON).is_file():
        raise UserError(f"{version_dir} is not an mgc export (no assets/mgc.json); predict only runs models "
                        f"exported by mgc \u2014 load SavedModels only from sources you trust")
    try:
        assets = read_assets(version_dir)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the export's assets/mgc.json under {path}: {exc}") from None
    if not isinstance(assets, dict):
        raise UserError(f"{version_dir}/assets/mgc.json is not mgc's assets (a JSON object)")
    missing = [k for k in ("labels", "inputs", "sample_rate", "clip_samples", "spectrogram") if k not in assets]
    if missing:
        raise UserError(f"{version_dir}/assets/mgc.json lacks {', '.join(missing)}")
    return version_dir, assets


def _check_feature_columns(columns, where: str) -> None:
    """The model's features must be the ones predict computes: FMA's 518, in FMA's order."""
    from mgc.features import feature_columns

    ours = column_names(feature_columns())
    if list(columns) != ours:
        raise UserError(f"{where} reads features other than FMA's {len(ours)} computed ones "
                        f"(e.g. an external features_csv table); predict can only compute FMA's features")


class _ExportSettings(Runner):
    def __init__(self, version_dir: Path, assets: dict[str, Any]):
        self.version_dir, self.assets = version_dir, assets
        version = assets.get("version")
        if version is None and version_dir.name.isdigit():
            version = int(version_dir.name)
        self.identity = (str(assets.get("model") or version_dir.parent.name), str(version))
        self.labels = [str(label) for label in assets["labels"]]
        if assets.get("tags"):  # a pretrained tagger's export: waveform windows -> serve_waveform's tags
            if list(assets.get("genre_tags") or {}) != self.labels:
                raise UserError(f"{version_dir}: assets' genre_tags do not match its labels")
            self._set_tags(assets["tags"], assets["genre_tags"])
        self.model_inputs = (WAVEFORM,) if self.tagger else tuple(name for name in VIEWS if name in assets["inputs"])
        if not self.model_inputs:
            raise UserError(f"{version_dir}: assets list no known inputs ({assets['inputs']})")
        # the pretrained view is computed in the graph: such a model is sent waveform windows (serve_waveform)
        self.signature = SERVE_WAVEFORM if PRETRAINED in self.model_inputs else SERVING_DEFAULT
        self.inputs = self.model_inputs if self.tagger else signature_inputs(self.signature, self.model_inputs)
        self.clip = ClipSpec.from_assets(assets)  # older exports lack min_duration: AudioConfig's default
        self.sample_rate, self.clip_samples = self.clip.sample_rate, self.clip.clip_samples
        self.min_duration, self.spectrogram = self.clip.min_duration, self.clip.spectrogram
        if FEATURES in self.inputs and "feature_columns" in assets:
            _check_feature_columns(assets["feature_columns"], f"model {version_dir}")


class SavedModelRunner(_ExportSettings):
    """An exported SavedModel, run in-process through ``serving_default``."""

    def __init__(self, path: str | Path):
        super().__init__(*export_assets(path))
        from mgc.export.load import ServingDefault

        self.description = f"SavedModel {self.version_dir}"
        self._export = ServingDefault(self.version_dir)
        self._loaded, self._serve = self._export.loaded, self._export.signature

    def predict_batch(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        n = len(next(iter(inputs.values())))
        if self.tagger:
            return self._check(self._export.tags(inputs[WAVEFORM]), n)
        probabilities = self._export.probabilities({name: inputs[name] for name in self.inputs}, self.signature)
        return self._check(probabilities, n)


class ServerRunner(_ExportSettings):
    """The local export's model, served by TensorFlow Serving at ``target`` (same version)."""

    def __init__(self, target: str, path: str | Path, timeout: float = SERVER_TIMEOUT):
        from mgc.serving import Client

        super().__init__(*export_assets(path))
        name, version = self.identity
        version = int(version) if version.isdigit() else None
        self.client = Client(target, name, version=version, timeout=timeout)
        self.description = f"model {name} version {version} at {target}"

    def predict_batch(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        n = len(next(iter(inputs.values())))
        if self.tagger:
            outputs = self.client.predict({WAVEFORM: inputs[WAVEFORM]}, signature=SERVE_WAVEFORM)
            return self._check(outputs["tags"], n)
        outputs = self.client.predict({name: inputs[name] for name in self.inputs}, signature=self.signature)
        return self._check(outputs["probabilities"], n)


# -- .keras checkpoints ---------------------------------------------------------------------
def _run_settings(model_path: Path, config_file: str | None):
    """``(audio, spectrogram, workdir, crop_seconds, musicnn)`` of the run that trained ``model_path``
    (``musicnn``: its ``[models.musicnn]`` table, the pretrained view's weights and layer).

    Settings come from ``config_file`` when given, else from the run's ``config.json``; the
    classes from the manifest of the run folder holding the checkpoint (the config's workdir
    when the checkpoint is not inside one).

    (A run whose features came from an external ``features_csv`` table: FMA's own features.csv
    has the same 518 columns predict computes; any other table fails the input shape check.)"""
    from mgc.input.pretrained_view import musicnn_settings

    # <workdir>/models/<name>/model.keras, with <workdir>/config.json written by prepare
    workdir = model_path.parent.parent.parent
    if config_file:
        from mgc.config import load_config

        config = load_config(config_file)
        if model_path.parent.parent.name != "models" or not (workdir / "manifest.csv").is_file():
            workdir = Path(config.run.workdir)  # the checkpoint was moved: the config's workdir has the classes
        return config.audio, config.spectrogram, workdir, config.train.crop_seconds, musicnn_settings(config.models)
    saved = workdir / "config.json"
    if model_path.parent.parent.name != "models" or not saved.is_file():
        raise UserError(f"cannot tell which run trained {model_path}; give its config: --config CONFIG")
    try:
        data = json.loads(saved.read_text())
        audio, spec = _section(AudioConfig, data["audio"]), _section(SpectrogramConfig, data["spectrogram"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"cannot read the run's settings from {saved}: {exc}; give --config CONFIG") from None
    return audio, spec, workdir, float(data.get("train", {}).get("crop_seconds", 0.0)), musicnn_settings(
        data.get("models"))


def _section(cls, table: dict):
    """Config section ``cls`` from its table in a saved config.json: the keys it knows (an
    older run's file may lack newer ones: their defaults)."""
    return cls(**{f.name: table[f.name] for f in dataclasses.fields(cls) if f.name in table})


class KerasRunner(Runner):
    """A run's ``.keras`` checkpoint (logits out; softmax applied here), run in-process."""

    def __init__(self, path: str | Path, config_file: str | None = None):
        import keras
        import pandas as pd

        import mgc.models  # noqa: F401  (registers the custom layers the checkpoint refers to)
        from mgc.features import N_FEATURES
        from mgc.input import class_names
        from mgc.training.engines import engine

        path = Path(path)
        if path.is_dir():  # a run's model folder
            path = path / "model.keras"
        if not path.is_file():
            raise UserError(f"model not found: {path}")
        audio, spec, workdir, crop_seconds, musicnn = _run_settings(path, config_file)
        manifest = workdir / "manifest.csv"
        if not manifest.is_file():
            raise UserError(f"no manifest at {manifest} (the run's classes); give the run's config with --config")
        self.labels = [str(c) for c in class_names(pd.read_csv(manifest, dtype=str, keep_default_na=False))]
        self.clip = ClipSpec.from_audio(audio, spec)
        self.sample_rate, self.clip_samples = self.clip.sample_rate, self.clip.clip_samples
        self.spectrogram, self.decoder, self.min_duration = spec, audio.decoder, float(audio.min_duration)
        self.description = f"checkpoint {path}"
        self.identity = (path.parent.name if path.name == "model.keras" else path.stem, "checkpoint")
        try:
            self.model = keras.saving.load_model(path, compile=False)
        except Exception as exc:  # a corrupt or foreign file: keras raises many kinds
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserError(f"cannot load {path}: {first}") from None
        model_inputs = self.model.input if isinstance(self.model.input, dict) else {}
        self.inputs = tuple(name for name in VIEWS if name in model_inputs)
        if not self.inputs or set(model_inputs) - set(self.inputs):
            raise UserError(f"{path}: inputs {sorted(model_inputs)} are not mgc's views ({', '.join(VIEWS)})")
        shapes = {name: tuple(model_inputs[name].shape[1:]) for name in self.inputs}
        if crop_seconds and SPECTROGRAM in shapes and shapes[SPECTROGRAM] == self.clip.cropped(
                crop_seconds).spectrogram_shape:  # a crop-trained CNN ([train] crop_seconds): crop-length windows
            self.clip = self.clip.cropped(crop_seconds)
            self.clip_samples, self.min_duration = self.clip.clip_samples, self.clip.min_duration
        expected = {SPECTROGRAM: self.clip.spectrogram_shape, FEATURES: (N_FEATURES,)}
        self._embed = None
        if PRETRAINED in shapes:  # each window's musicnn patches, embedded here with the run's weights and layer
            from mgc.models.musicnn import embedder

            self._embed, dim = embedder(musicnn["weights"], musicnn["embedding"])
            expected[PRETRAINED] = (dim,)
            self.inputs = (*(name for name in self.inputs if name != PRETRAINED), PATCHES)
        for name, shape in shapes.items():
            if shape != expected[name]:
                raise UserError(f"{path} expects {name} of shape {shape}, but the run's settings give "
                                f"{expected[name]}; is --config the config of the run that trained it?")
        n_out = self.model.output.shape[-1]
        if n_out != len(self.labels):
            raise UserError(f"{path} has {n_out} outputs but the run has {len(self.labels)} classes {self.labels}")
        # TensorFlow: one traced function for every batch size; JAX, PyTorch: the backend's own
        # compiled predict step; numpy in and out either way
        self._probabilities = engine().predictor(self.model, shapes)

    def model_inputs(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The Keras model's inputs for a batch of windows' views: float32, and each window's musicnn
        patches (windows, patches, 187, 96) turned into the mean of their embeddings (the pretrained view)."""
        x = {name: np.asarray(inputs[name], np.float32) for name in self.inputs if name != PATCHES}
        if self._embed is not None:
            patches = np.asarray(inputs[PATCHES], np.float32)
            vectors = self._embed(patches.reshape(-1, *patches.shape[2:]))
            x[PRETRAINED] = vectors.reshape(len(patches), patches.shape[1], -1).mean(axis=1)
        return x

    def predict_batch(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self._check(np.asarray(self._probabilities(self.model_inputs(inputs))),
                           len(next(iter(inputs.values()))))


def open_runner(model: str, *, server: str | None = None, config: str | None = None) -> Runner:
    """The runner for ``--model`` (an export, a ``.keras`` file, a run's model folder, or the name of a
    pretrained tagger: ``musicnn-msd``, ``musicnn-mtt``, :mod:`mgc.predict.tagger`)."""
    from mgc.predict.tagger import TAGGERS, open_tagger

    if model in TAGGERS:  # the name, as given (./musicnn-msd is a path)
        if server:
            raise UserError(f"--server needs --model to be the local export of the served model, not {model}; "
                            f"export {model} first (docs/pretrained.md)")
        return open_tagger(model)
    path = Path(model).expanduser()
    if not path.exists():
        raise UserError(f"model not found: {path}")
    if path.name == BASELINE_FILE or (path.is_dir() and (path / BASELINE_FILE).is_file()):
        raise UserError(f"{path} is a scikit-learn baseline ({', '.join(BASELINES)}): it has no SavedModel, so "
                        f"predict and TensorFlow Serving cannot run it; use a Keras model or its export")
    if server:
        if not is_export(path):
            raise UserError(f"--server needs --model to be the local export of the served model "
                            f"(<export_dir>/<model>[/<version>]), got {path}")
        return ServerRunner(server, path)
    if is_export(path):
        return SavedModelRunner(path)
    if path.is_dir() and (path / "model.keras").is_file():
        path = path / "model.keras"
    if path.is_file() and path.suffix == ".keras":
        return KerasRunner(path, config)
    raise UserError(f"{path} is neither an exported model (<export_dir>/<model>[/<version>] with saved_model.pb) "
                    f"nor a .keras checkpoint")
