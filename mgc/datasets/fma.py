"""FMA (Free Music Archive) loader: the FMA fusion study's single-genre, top-k-roots selection, or
FMA's own benchmark selection (``track.genre_top``), with FMA's official ``set.split`` beside it.

Reads the official ``fma_metadata/`` files (``tracks.csv`` with two header rows, ``genres.csv``)
and never opens audio: a missing or broken MP3 is reported later, by feature extraction.
"""

from __future__ import annotations

import ast
import math
import os
from pathlib import Path

import pandas as pd

from mgc.datasets.folder import tracks_frame
from mgc.errors import UserError

# set.subset holds the smallest subset a track belongs to; small ⊂ medium ⊂ large.
SUBSETS = ("small", "medium", "large")
GENRES_COL = ("track", "genres")
GENRE_TOP_COL = ("track", "genre_top")
SUBSET_COL = ("set", "subset")
SPLIT_COL = ("set", "split")
ARTIST_COL = ("artist", "id")
LABELS = ("root", "genre_top")
OFFICIAL_SIDES = ("training", "validation", "test")  # set.split's values (artist-filtered, 80/10/10)


def _metadata_file(metadata_dir: str | os.PathLike, name: str) -> Path:
    path = Path(metadata_dir).expanduser() / name
    if not path.is_file():
        raise UserError(f"FMA metadata file not found: {path} (expected fma_metadata/{name})")
    return path


def read_tracks(metadata_dir: str | os.PathLike) -> pd.DataFrame:
    """Read ``tracks.csv`` as FMA ships it: index ``track_id``, two-level column names."""
    path = _metadata_file(metadata_dir, "tracks.csv")
    try:
        tracks = pd.read_csv(path, index_col=0, header=[0, 1], low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"cannot read {path} as FMA tracks.csv: {str(e).splitlines()[0]}") from e
    if not isinstance(tracks.columns, pd.MultiIndex):
        raise UserError(f"{path} does not have FMA's two header rows (e.g. track,genres)")
    if tracks.index.has_duplicates:
        dup = tracks.index[tracks.index.duplicated()][0]
        raise UserError(f"{path}: duplicate track_id {dup}")
    return tracks


def read_genres(metadata_dir: str | os.PathLike) -> pd.DataFrame:
    """Read ``genres.csv``: index ``genre_id``; ``#tracks``, parent, title, top_level."""
    path = _metadata_file(metadata_dir, "genres.csv")
    try:
        genres = pd.read_csv(path, index_col=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"cannot read {path} as FMA genres.csv: {str(e).splitlines()[0]}") from e
    missing = [c for c in ("title", "top_level") if c not in genres.columns]
    if missing:
        raise UserError(f"{path} lacks column(s) {', '.join(missing)}")
    return genres


def root_titles(genres: pd.DataFrame) -> dict[int, str]:
    """Map every genre id to the title of its root genre (via ``top_level``).

    Genres whose ``top_level`` is not itself a row of the table are left out.
    """
    titles = {int(gid): str(t) for gid, t in genres["title"].items()}
    out = {}
    for gid, top in genres["top_level"].items():
        if pd.notna(top) and int(top) in titles:
            out[int(gid)] = titles[int(top)]
    return out


def _parse_ids(value, cache: dict) -> tuple[int, ...]:
    """Parse a list literal such as ``"[21, 58]"``; NaN or ``"[]"`` gives ()."""
    if not isinstance(value, str):
        return ()
    if value not in cache:
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError) as e:
            raise UserError(f"tracks.csv: cannot parse track.genres value {value!r}") from e
        if isinstance(parsed, int):
            parsed = [parsed]
        cache[value] = tuple(int(g) for g in parsed)
    return cache[value]


def _artist(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def audio_path(audio_dir: str | os.PathLike, track_id: int) -> str:
    """FMA's layout: track 2 -> ``<audio_dir>/000/000002.mp3``."""
    name = "{:06d}".format(int(track_id))
    return os.path.join(os.path.abspath(os.path.expanduser(audio_dir)), name[:3], name + ".mp3")


def load_fma(
    metadata_dir: str | os.PathLike,
    audio_dir: str | os.PathLike,
    *,
    top_k: int = 5,
    subset: str | None = None,
    label: str = "root",
    official_split: bool = False,
) -> pd.DataFrame:
    """An FMA selection as a track table (track_id, path, genre, artist).

    ``label = "root"`` (the FMA fusion study): tracks whose ``track.genres`` holds exactly one
    genre id, labelled with its root genre's title. ``label = "genre_top"`` (FMA's benchmark):
    every track with a ``track.genre_top``, labelled with it. Optionally restricted to an FMA
    subset (nested: ``medium`` includes ``small``; applied before counting), then the ``top_k``
    most frequent genres are kept (ties: title A-Z; 0 keeps all). Tracks whose genre id is not
    in ``genres.csv`` are dropped. Sorted by integer track id. With ``official_split`` the table
    gains a ``published`` column: FMA's ``set.split`` (training / validation / test; "" if none).
    """
    if subset is not None and str(subset).strip() == "":
        subset = None
    if subset is not None:
        subset = str(subset).strip().lower()
        if subset not in SUBSETS:
            raise UserError(f"FMA subset must be one of {', '.join(SUBSETS)}, got {subset!r}")
    if int(top_k) < 0:
        raise UserError(f"FMA top_k must be at least 0 (0: every genre), got {top_k}")
    if label not in LABELS:
        raise UserError(f"FMA label must be one of {', '.join(LABELS)}, got {label!r}")

    tracks = read_tracks(metadata_dir)
    label_col = GENRES_COL if label == "root" else GENRE_TOP_COL
    needed = [label_col, ARTIST_COL] + ([SUBSET_COL] if subset else []) + ([SPLIT_COL] if official_split else [])
    missing = [".".join(c) for c in needed if c not in tracks.columns]
    if missing:
        raise UserError(f"FMA tracks.csv lacks column(s) {', '.join(missing)}")

    if subset is not None:
        allowed = set(SUBSETS[: SUBSETS.index(subset) + 1])
        tracks = tracks[tracks[SUBSET_COL].astype(str).str.strip().str.lower().isin(allowed)]

    if label == "root":
        roots = root_titles(read_genres(metadata_dir))
        cache: dict = {}
        ids = [_parse_ids(v, cache) for v in tracks[GENRES_COL]]
        genre = pd.Series([roots.get(g[0]) if len(g) == 1 else None for g in ids], index=tracks.index, dtype=object)
    else:
        genre = tracks[GENRE_TOP_COL].map(lambda v: str(v).strip() if isinstance(v, str) and v.strip() else None)
    keep = genre.notna()
    tracks, genre = tracks[keep], genre[keep]
    if genre.empty:
        where = f" in subset {subset!r}" if subset else ""
        what = "single-genre tracks" if label == "root" else "tracks with a track.genre_top"
        raise UserError(f"FMA: no {what}{where} in {metadata_dir}")

    counts = genre.value_counts()
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    chosen = {title for title, _ in (ranked[: int(top_k)] if int(top_k) else ranked)}
    keep = genre.isin(chosen)
    tracks, genre = tracks[keep], genre[keep]

    try:
        tids = [int(t) for t in tracks.index]
    except (TypeError, ValueError) as e:
        raise UserError(f"FMA tracks.csv: track ids must be integers ({e})") from e
    frame = pd.DataFrame(
        {
            "track_id": [str(t) for t in tids],
            "path": [audio_path(audio_dir, t) for t in tids],
            "genre": list(genre),
            "artist": [_artist(a) for a in tracks[ARTIST_COL]],
            "_order": tids,
        }
    )
    order = frame["_order"].argsort(kind="stable").to_numpy()
    out = tracks_frame(frame.iloc[order].drop(columns="_order"), sort=False)
    if official_split:
        out["published"] = _official_sides(tracks[SPLIT_COL].iloc[order])
    return out


def _official_sides(values: pd.Series) -> list[str]:
    """FMA's ``set.split`` values, checked: training / validation / test, or "" when empty."""
    sides = [str(v).strip().lower() if isinstance(v, str) else "" for v in values]
    odd = sorted(set(sides) - set(OFFICIAL_SIDES) - {""})
    if odd:
        raise UserError(f"FMA tracks.csv: set.split holds {odd[0]!r}; FMA's values are {', '.join(OFFICIAL_SIDES)}")
    return sides
