"""The pretrained view by track id: the musicnn embeddings ``extract`` wrote to ``<workdir>/pretrained.npz``.

The file records the ``[models.musicnn]`` settings it was made with; a config asking for other
weights or another layer gets one error saying to run ``extract`` again (which reuses every
vector already cached for those settings).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mgc.cache.pretrained import VIEW_FILE
from mgc.config import Config
from mgc.config.models import architecture_defaults
from mgc.contract import PRETRAINED_MODEL
from mgc.errors import UserError


def requested(config: Config) -> dict:
    """The config's ``[models.musicnn]`` with its defaults: what the view must have been made with."""
    return musicnn_settings(config.models)


def musicnn_settings(models: dict) -> dict:
    """A ``[models]`` table's ``musicnn`` entry with its defaults (a config's, or a saved config.json's)."""
    return {**architecture_defaults(PRETRAINED_MODEL), **(models or {}).get(PRETRAINED_MODEL, {})}


def pretrained_view(config: Config) -> pd.DataFrame:
    """Embeddings by track id (index ``track_id``; float32 columns ``0..dim-1``)."""
    path = Path(config.run.workdir) / VIEW_FILE
    if not path.is_file():
        raise UserError(f"no {path}: run extract with a model that reads the pretrained view "
                        "(musicnn_probe) in [train] models")
    with np.load(path) as z:
        made_with = json.loads(str(z["requested"]))
        if made_with != requested(config):
            raise UserError(f"{path} was made with [models.{PRETRAINED_MODEL}] {made_with}, the config asks for "
                            f"{requested(config)}; run extract")
        return pd.DataFrame(z["values"], index=pd.Index(z["track_id"], name="track_id"))
