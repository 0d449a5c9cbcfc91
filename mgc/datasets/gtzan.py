"""GTZAN loader: ``<root>/<genre>/<genre>.000NN.{au,wav}`` plus Kaggle's feature CSV.

Works with the original ``genres/`` (.au) and Kaggle's ``genres_original/`` (.wav) copies.
Files are only listed; unreadable clips (Kaggle's ``jazz.00054.wav``) surface at extraction.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from mgc.datasets.folder import _existing_dir, tracks_frame
from mgc.errors import UserError

FAULT_FILTERED_CSV = Path(__file__).with_name("gtzan_fault_filtered.csv")  # shipped in the package
FAULT_FILTERED_SPLITS = ("train", "valid", "test")
# When one folder holds both copies of a clip, the original .au wins.
EXTENSION_PREFERENCE = (".au", ".wav")
KNOWN_SUBDIRS = ("genres", "genres_original")


def _genre_dirs(base: Path) -> list[Path]:
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))


def _clips(folder: Path) -> dict[str, Path]:
    """Audio clips in one genre folder by stem, preferring .au over .wav."""
    found: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        ext = p.suffix.lower()
        if p.name.startswith(".") or ext not in EXTENSION_PREFERENCE or not p.is_file():
            continue
        old = found.get(p.stem)
        if old is None or EXTENSION_PREFERENCE.index(ext) < EXTENSION_PREFERENCE.index(
            old.suffix.lower()
        ):
            found[p.stem] = p
    return found


def load_gtzan(root: str | os.PathLike) -> pd.DataFrame:
    """List GTZAN clips: track_id = file stem (``blues.00000``), genre = folder, artist "".

    ``root`` is the folder holding the genre folders; a parent folder containing ``genres/``
    or ``genres_original/`` is accepted too. A stem found in two genre folders is an error.
    """
    base = _existing_dir(root, "GTZAN")
    by_genre = {d.name: _clips(d) for d in _genre_dirs(base)}
    if not any(by_genre.values()):
        for sub in KNOWN_SUBDIRS:
            if (base / sub).is_dir():
                base = base / sub
                by_genre = {d.name: _clips(d) for d in _genre_dirs(base)}
                break
    rows, seen = [], {}
    for genre, clips in by_genre.items():
        for stem, path in clips.items():
            if stem in seen:
                raise UserError(
                    f"GTZAN clip {stem} appears in both {seen[stem]}/ and {genre}/ under {base}"
                )
            seen[stem] = genre
            rows.append({"track_id": stem, "path": str(path), "genre": genre, "artist": ""})
    if not rows:
        raise UserError(f"no GTZAN clips (<genre>/<genre>.000NN.au or .wav) found under {base}")
    return tracks_frame(rows)


def load_gtzan_features(csv_path: str | os.PathLike) -> pd.DataFrame:
    """Read Kaggle's ``features_30_sec.csv`` (or ``_3_sec``) as float32 features by track id.

    The index (``track_id``) is the filename without its extension (``blues.00000.wav`` ->
    ``blues.00000``); ``filename``, ``length`` and ``label`` are dropped, column order is kept.
    """
    path = Path(os.path.abspath(os.path.expanduser(os.fspath(csv_path))))
    if not path.is_file():
        raise UserError(f"GTZAN features CSV not found: {path}")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot read GTZAN features {path}: {msg}") from e
    missing = [c for c in ("filename", "label") if c not in table.columns]
    if missing:
        raise UserError(f"{path} lacks column(s) {', '.join(missing)} (Kaggle GTZAN layout)")
    ids = [os.path.splitext(str(f).strip())[0] for f in table["filename"]]
    features = table.drop(columns=[c for c in ("filename", "length", "label") if c in table])
    if features.shape[1] == 0:
        raise UserError(f"{path} has no feature columns")
    try:
        values = features.to_numpy(dtype=np.float32)
    except (ValueError, TypeError) as e:
        raise UserError(f"{path}: non-numeric feature values ({e})") from e
    index = pd.Index(ids, name="track_id")
    out = pd.DataFrame(values, columns=[str(c) for c in features.columns], index=index)
    if out.index.has_duplicates:
        dup = out.index[out.index.duplicated()][0]
        raise UserError(f"{path}: duplicate filename {dup}")
    return out


def fault_filtered_split() -> pd.DataFrame:
    """The GTZAN fault-filtered split (``clip``, ``genre``, ``split`` in train / valid / test;
    443 / 197 / 290 clips), as shipped in the package with its provenance
    (``gtzan_fault_filtered.csv``): the partition the literature reports GTZAN results on."""
    table = pd.read_csv(FAULT_FILTERED_CSV, comment="#", dtype=str, keep_default_na=False)
    unknown = sorted(set(table["split"]) - set(FAULT_FILTERED_SPLITS))
    if list(table.columns) != ["clip", "genre", "split"] or unknown:
        raise ValueError(f"{FAULT_FILTERED_CSV} is not the fault-filtered list (columns {list(table.columns)})")
    return table


# The list's side names -> FMA's set.split names, which mgc.splits reads for every published split.
_SIDES = {"train": "training", "valid": "validation", "test": "test"}


def fault_filtered_sides(tracks: pd.DataFrame) -> list[str]:
    """Each GTZAN track's side of the fault-filtered split (training / validation / test), or ""
    for the clips the list leaves out. Every listed clip must be in ``tracks`` with the list's
    genre: a partial or relabelled copy would not give numbers comparable with the literature."""
    table = fault_filtered_split()
    listed = dict(zip(table["clip"], zip(table["genre"], table["split"])))
    ids = tracks["track_id"].astype(str)
    absent = sorted(set(listed) - set(ids))
    if absent:
        raise UserError(f"GTZAN fault-filtered split: {len(absent)} of its {len(listed)} clips are not under "
                        f"[dataset] root (e.g. {absent[0]}); it needs the whole of GTZAN, or use "
                        'split.method = "stratified"')
    for track_id, genre in zip(ids, tracks["genre"]):
        if track_id in listed and listed[track_id][0] != genre:
            raise UserError(f"GTZAN clip {track_id} is in folder {genre}/, the fault-filtered list says "
                            f"{listed[track_id][0]}")
    return [_SIDES[listed[t][1]] if t in listed else "" for t in ids]
