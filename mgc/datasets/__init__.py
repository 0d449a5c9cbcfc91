"""Dataset builders: every supported source becomes one table of tracks.

Each loader returns a DataFrame with ``MANIFEST_COLUMNS`` minus ``split`` — ``track_id``
(str, unique), ``path`` (str, absolute), ``genre`` (str), ``artist`` (str, "" when unknown) —
sorted by ``track_id``. With a published split (``[split] method`` "official" or
"fault_filtered"), :func:`load_tracks` adds ``published``: the track's side of it (training /
validation / test, "" when the protocol leaves it out). ``mgc.splits`` turns that into the
``split`` column and ``prepare`` writes it as ``<workdir>/manifest.csv``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mgc.config import Config
from mgc.datasets.fma import load_fma
from mgc.datasets.folder import load_csv, load_folder
from mgc.datasets.gtzan import fault_filtered_sides, load_gtzan
from mgc.datasets.manifest import MANIFEST_COLUMNS, read_manifest
from mgc.datasets.synthetic import synthesize
from mgc.errors import UserError

__all__ = [
    "MANIFEST_COLUMNS",
    "load_tracks",
    "load_fma",
    "load_gtzan",
    "load_folder",
    "load_csv",
    "read_manifest",
    "synthesize",
]


def _required(value: str, key: str, kind: str) -> str:
    if not value:
        raise UserError(f"[dataset] kind = {kind!r} needs {key} = ...")
    return value


def load_tracks(config: Config) -> pd.DataFrame:
    """Read the configured source into the manifest columns (without ``split``)."""
    ds = config.dataset
    if ds.kind == "fma":
        if ds.audio_dir and not Path(ds.audio_dir).expanduser().is_dir():
            raise UserError(f"[dataset] audio_dir not found: {ds.audio_dir} "
                            "(the unzipped fma_large/ or fma_medium/ ...)")
        tracks = load_fma(
            _required(ds.metadata_dir, "metadata_dir", "fma"),
            _required(ds.audio_dir, "audio_dir", "fma"),
            top_k=ds.top_k,
            subset=ds.subset or None,
            label=ds.label,
            official_split=config.split.method == "official",
        )
    elif ds.kind == "gtzan":
        tracks = load_gtzan(_required(ds.root, "root", "gtzan"))
        if config.split.method == "fault_filtered":
            tracks["published"] = fault_filtered_sides(tracks)
    elif ds.kind == "folder":
        tracks = load_folder(_required(ds.root, "root", "folder"))
    elif ds.kind == "csv":
        tracks = load_csv(_required(ds.csv, "csv", "csv"))
    elif ds.kind == "synthetic":
        tracks = synthesize(
            Path(config.run.workdir) / "synthetic",
            genres=ds.genres,
            clips_per_genre=ds.clips_per_genre,
            artists_per_genre=ds.artists_per_genre,
            clip_seconds=ds.clip_seconds,
            sample_rate=config.audio.sample_rate,
            seed=config.run.seed,
        )
    else:  # validated in Config.validate; kept for direct callers
        raise UserError(f"unknown dataset kind {ds.kind!r}")
    if tracks.empty:
        raise UserError(f"the {ds.kind} dataset has no tracks")
    return tracks
