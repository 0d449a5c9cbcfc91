"""The manifest: ``<workdir>/manifest.csv``, one row per track, written by ``prepare``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mgc.config import UNUSED, Config
from mgc.errors import UserError

MANIFEST_COLUMNS = ["track_id", "path", "genre", "artist", "split"]


def manifest_path(config: Config) -> Path:
    return Path(config.run.workdir) / "manifest.csv"


def read_manifest(config: Config, *, unused: bool = False) -> pd.DataFrame:
    """The manifest written by ``prepare`` (all columns as strings), without the tracks a
    published split leaves out (split ``unused``) unless ``unused``."""
    path = manifest_path(config)
    if not path.is_file():
        raise UserError(f"no manifest at {path}; run the prepare stage first")
    manifest = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = set(MANIFEST_COLUMNS) - set(manifest.columns)
    if missing:
        raise UserError(f"{path} lacks columns {sorted(missing)}")
    return manifest if unused else manifest[manifest["split"] != UNUSED].reset_index(drop=True)
