"""Stage ``prepare``: any dataset source -> ``<workdir>/manifest.csv`` with seeded splits."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pandas as pd

from mgc.config import SPLITS, UNUSED, Config
from mgc.datasets import load_tracks
from mgc.datasets.manifest import MANIFEST_COLUMNS, manifest_path
from mgc.errors import UserError
from mgc.io import atomic_write_text
from mgc.splits import assign_splits


def prepare(config: Config, echo=print) -> pd.DataFrame:
    """Build, split and write the manifest; same config and seed give the same bytes."""
    workdir = Path(config.run.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    tracks = load_tracks(config).reset_index(drop=True)
    check_genres(tracks["genre"])
    if tracks["track_id"].duplicated().any():
        raise UserError(f"duplicate track id {tracks['track_id'][tracks['track_id'].duplicated()].iloc[0]!r}")
    tracks["split"] = assign_splits(tracks, config.split, config.run.seed)
    manifest = tracks[MANIFEST_COLUMNS]
    atomic_write_text(manifest_path(config), manifest.to_csv(index=False, lineterminator="\n"))
    atomic_write_text(workdir / "config.json", json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n")
    echo(f"prepare: {len(manifest)} tracks, {manifest['genre'].nunique()} genres ({config.dataset.kind}) "
         f"-> {manifest_path(config)}")
    echo(split_table(manifest).to_string())
    if (manifest["split"] == UNUSED).any():
        echo(f"prepare: {int((manifest['split'] == UNUSED).sum())} tracks are outside the {config.split.method} "
             f"split (split = {UNUSED} in the manifest): not extracted, trained on or scored")
    return manifest


def check_genres(genres: pd.Series) -> None:
    """Refuse genre names that cannot travel safely through labels files, CSVs and exports: empty
    or padded names and names holding control characters or line breaks (possible in a CSV)."""
    for genre in pd.unique(genres):
        text = str(genre)
        bad = [c for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp")]
        if bad or not text.strip() or text != text.strip():
            why = f"holds the control character {bad[0]!r}" if bad else "is empty or starts/ends with spaces"
            raise UserError(f"genre name {text!r} {why}; fix the dataset's genre labels")


def split_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """Tracks per genre and split, with totals."""
    table = pd.crosstab(manifest["genre"], manifest["split"], margins=True, margins_name="total")
    return table.reindex(columns=[s for s in (*SPLITS, UNUSED, "total") if s in table.columns])
