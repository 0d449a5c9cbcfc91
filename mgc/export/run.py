"""Export a run's trained models: the client metadata (assets) a run implies, then SavedModels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mgc.cache.store import file_stamp
from mgc.config import settings_hash
from mgc.features import n_frames
from mgc.input import feature_view
from mgc.models.registry import INPUTS


def run_assets(exp, name: str) -> dict[str, Any]:
    """Everything a client of model ``name`` of this run needs, as JSON-able values."""
    config = exp.config
    sr = int(config.audio.sample_rate)
    clip_samples = int(round(config.audio.duration * sr))
    spec = config.spectrogram
    columns = ["/".join(str(part) for part in (c if isinstance(c, tuple) else (c,)))
               for c in feature_view(config).columns]
    return {
        "labels": list(exp.classes),
        "inputs": list(INPUTS.get(name, ("spectrogram", "features"))),
        "sample_rate": sr,
        "clip_seconds": float(config.audio.duration),
        "clip_samples": clip_samples,
        "spectrogram": {"n_mels": int(spec.n_mels), "n_fft": int(spec.n_fft), "hop_length": int(spec.hop_length),
                        "top_db": float(spec.top_db), "frames": n_frames(clip_samples, spec.hop_length)},
        "feature_columns": columns,
        "feature_mean": [float(v) for v in exp.scaler.mean],
        "feature_scale": [float(v) for v in exp.scaler.scale],
        "config_hash": settings_hash(config.to_dict()),
        "run": config.run.name,
    }


def export_run(exp, names: list[str], export_dir: str | Path, *, skip_unchanged: bool = False,
               echo=print) -> dict[str, Path]:
    """Export each named trained model of ``exp`` as its next version; returns name -> folder.

    With ``skip_unchanged`` (the ``run`` stage resuming) a model whose latest export came from
    the same trained file of the same run is not exported again.
    """
    from mgc.export.savedmodel import export_model, read_assets, versions, write_models_config

    written = {}
    for name in names:
        assets = run_assets(exp, name)
        assets["source"] = {"model": str(exp.model_path(name).absolute()),
                            "stamp": file_stamp(str(exp.model_path(name)))}
        base = Path(export_dir) / name
        if skip_unchanged and versions(base):
            old = read_assets(base)
            if old.get("source") == assets["source"] and old.get("config_hash") == assets["config_hash"]:
                echo(f"export {name}: unchanged since {base / str(old['version'])}")
                written[name] = base / str(old["version"])
                continue
        written[name] = export_model(exp.load(name), name, assets, export_dir)
        echo(f"export {name}: {written[name]}")
    if written:
        configs = write_models_config(export_dir)
        echo(f"export: TensorFlow Serving config for all models -> {configs[0]}")
    return written
