"""The tabular view the MLP branch sees: computed features, or a published table.

By default it is FMA's 518 features computed by ``extract``. ``[dataset] features_csv`` swaps in
an external table instead — FMA's own ``fma_metadata/features.csv`` (computed on full-length
tracks; what the FMA fusion study used) or Kaggle GTZAN's ``features_30_sec.csv`` (the GTZAN
two-branch study's). Either is parsed once and kept as ``<workdir>/feature_view.npz`` until the file changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mgc.config import Config
from mgc.contract import column_names
from mgc.errors import UserError
from mgc.features import feature_columns
from mgc.io import atomic_path


def _read_external(path: Path) -> pd.DataFrame:
    """FMA's features.csv (three header rows) or Kaggle GTZAN's CSV, as float32 by track id."""
    from mgc.datasets.gtzan import load_gtzan_features

    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    if not first.startswith("feature,"):
        return load_gtzan_features(path)
    try:
        table = pd.read_csv(path, index_col=0, header=[0, 1, 2], low_memory=False)
    except (pd.errors.ParserError, ValueError) as exc:
        raise UserError(f"cannot read FMA features {path}: {exc}") from None
    missing = feature_columns().difference(table.columns)
    if len(missing):
        raise UserError(f"{path} lacks FMA feature column {missing[0]}")
    table = table[feature_columns()].astype(np.float32)
    table.index = table.index.astype(str).rename("track_id")
    return table


def feature_view(config: Config) -> pd.DataFrame:
    """Features by track id (index ``track_id``; float32 columns) for this config."""
    source = config.dataset.features_csv
    if not source:
        from mgc.cache import feature_table

        return feature_table(config)
    path = Path(source).expanduser().resolve()
    if not path.is_file():
        raise UserError(f"[dataset] features_csv not found: {path}")
    stat = path.stat()
    signature = json.dumps({"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    cached = Path(config.run.workdir) / "feature_view.npz"
    if cached.is_file():
        with np.load(cached) as z:
            if str(z["signature"]) == signature:
                return pd.DataFrame(z["values"], index=pd.Index(z["ids"], name="track_id"), columns=list(z["columns"]))
    table = _read_external(path)
    cached.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(cached) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, signature=signature, ids=table.index.to_numpy(dtype=str),
                 columns=np.array(column_names(table.columns)),
                 values=table.to_numpy(np.float32))
    return table
