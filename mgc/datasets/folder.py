"""Generic sources: a folder tree ``<root>/<genre>/**/<audio>`` or a CSV of ``path,genre``.

Both only list files (the folder kind) or read the table (the CSV kind); audio is opened later
by feature extraction, which reports unreadable files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from mgc.errors import UserError

TRACK_COLUMNS = ["track_id", "path", "genre", "artist"]
AUDIO_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg", ".opus", ".au")


def tracks_frame(rows, *, sort: bool = True) -> pd.DataFrame:
    """Shape rows (dicts or a DataFrame) into the loader contract.

    Columns exactly ``TRACK_COLUMNS`` as strings, ``artist`` "" when missing, unique
    ``track_id`` (duplicates are a ``UserError``), sorted by ``track_id`` unless ``sort=False``
    (the caller already ordered it), index reset.
    """
    frame = pd.DataFrame(rows, columns=TRACK_COLUMNS)
    frame["artist"] = frame["artist"].fillna("")
    frame = frame.astype(str)
    dups = frame["track_id"][frame["track_id"].duplicated()]
    if not dups.empty:
        shown = ", ".join(sorted(set(dups))[:5])
        raise UserError(f"duplicate track id(s): {shown}")
    if sort:
        frame = frame.sort_values("track_id", kind="stable")
    return frame.reset_index(drop=True)


def _abspath(path: str | os.PathLike) -> str:
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def _existing_dir(root: str | os.PathLike, what: str) -> Path:
    path = Path(_abspath(root))
    if not path.is_dir():
        raise UserError(f"{what} folder not found: {path}")
    return path


def load_folder(root: str | os.PathLike) -> pd.DataFrame:
    """List ``<root>/<genre>/**/*.{mp3,wav,flac,ogg,au}`` (any case); genre = top folder.

    ``track_id`` is the path relative to ``root`` without extension, e.g. ``rock/album1/song``.
    Hidden files and folders, files directly under ``root`` and other extensions are ignored.
    """
    base = _existing_dir(root, "dataset")
    rows = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(base)
        if not rel_dir.parts:
            continue  # files directly under root have no genre
        for name in sorted(filenames):
            stem, ext = os.path.splitext(name)
            if name.startswith(".") or ext.lower() not in AUDIO_EXTENSIONS:
                continue
            rows.append(
                {
                    "track_id": (rel_dir / stem).as_posix(),
                    "path": str(Path(dirpath) / name),
                    "genre": rel_dir.parts[0],
                    "artist": "",
                }
            )
    if not rows:
        exts = ", ".join(e.lstrip(".") for e in AUDIO_EXTENSIONS)
        raise UserError(f"no audio files ({exts}) found under {base}/<genre>/")
    try:
        return tracks_frame(rows)
    except UserError as e:  # e.g. rock/song.mp3 next to rock/song.wav
        raise UserError(f"{base}: {e} (two audio files with the same name?)") from None


def load_csv(csv_path: str | os.PathLike) -> pd.DataFrame:
    """Read a track list with columns ``path,genre`` and optional ``artist``, ``track_id``.

    Relative paths are taken relative to the CSV's folder. ``track_id`` defaults to that
    relative path without extension (posix separators).
    """
    path = Path(_abspath(csv_path))
    if not path.is_file():
        raise UserError(f"track list CSV not found: {path}")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot read track list {path}: {msg}") from e
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in ("path", "genre") if c not in table.columns]
    if missing:
        raise UserError(f"{path} lacks column(s) {', '.join(missing)} (needs path,genre)")
    if table.empty:
        raise UserError(f"{path} lists no tracks")

    folder = path.parent
    rows = []
    for line, rec in enumerate(table.to_dict("records"), start=2):
        rel = str(rec["path"]).strip()
        genre = str(rec["genre"]).strip()
        if not rel:
            raise UserError(f"{path} line {line}: empty path")
        if not genre:
            raise UserError(f"{path} line {line}: empty genre for {rel}")
        full = _abspath(folder / Path(rel).expanduser())
        tid = str(rec.get("track_id", "")).strip()
        if not tid:
            tid = Path(os.path.splitext(os.path.relpath(full, folder))[0]).as_posix()
        rows.append(
            {
                "track_id": tid,
                "path": full,
                "genre": genre,
                "artist": str(rec.get("artist", "")).strip(),
            }
        )
    try:
        return tracks_frame(rows)
    except UserError as e:
        raise UserError(f"{path}: {e}") from None
