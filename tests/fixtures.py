"""Writers of tiny datasets in the real on-disk formats (FMA, GTZAN, Kaggle CSV) for tests.

FMA's ``tracks.csv`` is written the way FMA wrote it (pandas, two-level columns, named index),
so loaders are exercised against the real shape; audio files are real, short MP3/AU/WAV.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

# Real rows of FMA's genres.csv: (genre_id, #tracks, parent, title, top_level).
# All 16 roots plus children (some two levels deep, e.g. Chiptune -> Chip Music -> Electronic).
FMA_GENRES = [
    (1, 8693, 38, "Avant-Garde", 38),
    (2, 5271, 0, "International", 2),
    (3, 1752, 0, "Blues", 3),
    (4, 4126, 0, "Jazz", 4),
    (5, 4106, 0, "Classical", 5),
    (8, 868, 0, "Old-Time / Historic", 8),
    (9, 1987, 0, "Country", 9),
    (10, 13845, 0, "Pop", 10),
    (12, 32923, 0, "Rock", 12),
    (13, 730, 0, "Easy Listening", 13),
    (14, 1499, 0, "Soul-RnB", 14),
    (15, 34413, 0, "Electronic", 15),
    (17, 12706, 0, "Folk", 17),
    (20, 1876, 0, "Spoken", 20),
    (21, 8389, 0, "Hip-Hop", 21),
    (25, 9261, 12, "Punk", 12),
    (33, 2267, 17, "Psych-Folk", 17),
    (38, 38154, 0, "Experimental", 38),
    (45, 2469, 12, "Loud-Rock", 12),
    (46, 573, 2, "Latin America", 2),
    (49, 753, 17, "Free-Folk", 17),
    (53, 2071, 45, "Noise-Rock", 12),
    (58, 2502, 12, "Psych-Rock", 12),
    (66, 5432, 12, "Indie-Rock", 12),
    (100, 740, 21, "Alternative Hip-Hop", 21),
    (103, 4162, 17, "Singer-Songwriter", 17),
    (107, 7206, 1235, "Ambient", 1235),
    (181, 2140, 15, "Techno", 15),
    (236, 3472, 15, "IDM", 15),
    (240, 1231, 297, "Chiptune", 15),
    (297, 2208, 15, "Chip Music", 15),
    (362, 1835, 10, "Synth Pop", 10),
    (539, 638, 21, "Rap", 21),
    (1235, 14938, 0, "Instrumental", 1235),
]
ROOT_IDS = {title: gid for gid, _, parent, title, _ in FMA_GENRES if parent == 0}
# A child genre for each of the FMA fusion study's five roots, to check child -> root mapping.
CHILD_IDS = {"Rock": 25, "Electronic": 181, "Hip-Hop": 539, "Folk": 49, "Pop": 362}
GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop",
                "jazz", "metal", "pop", "reggae", "rock")


def _genre_tables():
    parent = {g: p for g, _, p, _, _ in FMA_GENRES}
    top = {g: t for g, _, _, _, t in FMA_GENRES}
    title = {g: t for g, _, _, t, _ in FMA_GENRES}
    return parent, top, title


def write_fma_metadata(directory, tracks) -> Path:
    """Write ``tracks.csv`` and ``genres.csv`` as in ``fma_metadata/``; returns the folder.

    ``tracks``: dicts with ``track_id`` (int) and ``genres`` (list of genre ids), optional
    ``subset`` ("small"), ``split`` ("training"), ``artist_id`` (1; None writes an empty cell),
    ``album_id``, ``title``, ``duration``. ``genres_all`` and ``genre_top`` are derived as FMA
    does (ancestors included; top genre only when all genres share one root).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    parent, top, title = _genre_tables()
    rows, index = [], []
    for t in tracks:
        tid = int(t["track_id"])
        genres = [int(g) for g in t["genres"]]
        all_ids = set()
        for g in genres:
            while g and g not in all_ids:
                all_ids.add(g)
                g = parent.get(g, 0)
        roots = {top[g] for g in genres if g in top}
        index.append(tid)
        rows.append({
            ("album", "comments"): 0,
            ("album", "date_created"): "2008-11-26 01:44:45",
            ("album", "id"): t.get("album_id", tid // 10 + 1),
            ("album", "title"): f"Album {tid // 10 + 1}",
            ("album", "tracks"): 10,
            ("album", "type"): "Album",
            ("artist", "id"): t.get("artist_id", 1),
            ("artist", "name"): f"Artist {t.get('artist_id', 1)}",
            ("set", "split"): t.get("split", "training"),
            ("set", "subset"): t.get("subset", "small"),
            ("track", "bit_rate"): 256000,
            ("track", "date_created"): "2008-11-26 01:48:12",
            ("track", "duration"): t.get("duration", 168),
            ("track", "genre_top"): title[roots.pop()] if len(roots) == 1 else np.nan,
            ("track", "genres"): str(genres),
            ("track", "genres_all"): str(sorted(all_ids)),
            ("track", "interest"): 4656,
            ("track", "listens"): 1293,
            ("track", "tags"): "[]",
            # Real titles contain commas, quotes and non-ASCII text.
            ("track", "title"): t.get("title", f'Track {tid}, "take" é'),
        })
    frame = pd.DataFrame(rows, index=pd.Index(index, name="track_id"))
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    frame["artist", "id"] = frame["artist", "id"].astype("Int64")
    frame.to_csv(directory / "tracks.csv")
    genres = pd.DataFrame(FMA_GENRES, columns=["genre_id", "#tracks", "parent", "title",
                                               "top_level"]).set_index("genre_id")
    genres.to_csv(directory / "genres.csv")
    return directory


def fma_tracks(per_genre: int = 4, roots=("Rock", "Electronic", "Hip-Hop", "Folk", "Pop"),
               artists_per_genre: int = 2, first_id: int = 2) -> list[dict]:
    """A small, clean seed-000 style track list: ``per_genre`` single-genre tracks per root
    (every other one tagged with a child genre), splits cycling training/validation/test,
    plus one multi-genre and one genre-less track (both dropped by the loader)."""
    splits = ("training", "validation", "test")
    out, tid = [], first_id
    for r, root in enumerate(roots):
        for i in range(per_genre):
            gid = CHILD_IDS.get(root, ROOT_IDS[root]) if i % 2 else ROOT_IDS[root]
            out.append({"track_id": tid, "genres": [gid], "split": splits[i % 3],
                        "artist_id": 100 + r * artists_per_genre + i % artists_per_genre})
            tid += 1
    out.append({"track_id": tid, "genres": [ROOT_IDS["Rock"], ROOT_IDS["Pop"]], "artist_id": 99})
    out.append({"track_id": tid + 1, "genres": [], "artist_id": 99})
    return out


def _tone(seconds: float, sr: int, freq: float, rng, channels: int) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    mono = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)
    if channels == 1:
        return mono.astype(np.float32)
    return np.stack([mono, np.roll(mono, 7) * 0.8], axis=1).astype(np.float32)


def fma_audio_path(audio_dir, track_id: int) -> Path:
    name = "{:06d}".format(int(track_id))
    return Path(audio_dir) / name[:3] / f"{name}.mp3"


def write_fma_audio(audio_dir, track_ids, seconds: float = 2.0, sr: int = 44100,
                    stereo: bool = True, seed: int = 0, broken=()) -> list[Path]:
    """Write real MP3s at ``audio_dir/ddd/dddddd.mp3`` (tone + noise, 44.1 kHz stereo like FMA).

    Ids in ``broken`` get a few bytes of garbage instead, like FMA's files without audio.
    """
    rng = np.random.default_rng(seed)
    paths = []
    for tid in track_ids:
        path = fma_audio_path(audio_dir, tid)
        path.parent.mkdir(parents=True, exist_ok=True)
        if tid in broken:
            path.write_bytes(b"\x00" * 64)
        else:
            freq = 110.0 * 2 ** ((int(tid) % 24) / 12)
            sf.write(path, _tone(seconds, sr, freq, rng, 2 if stereo else 1), sr, format="MP3")
        paths.append(path)
    return paths


def write_fma(root, tracks=None, *, audio: bool = True, seconds: float = 2.0,
              subset_dir: str = "fma_small") -> tuple[Path, Path]:
    """``root/fma_metadata`` + ``root/<subset_dir>`` MP3s; returns (metadata_dir, audio_dir)."""
    tracks = fma_tracks() if tracks is None else tracks
    meta = write_fma_metadata(Path(root) / "fma_metadata", tracks)
    audio_dir = Path(root) / subset_dir
    audio_dir.mkdir(parents=True, exist_ok=True)
    if audio:
        write_fma_audio(audio_dir, [t["track_id"] for t in tracks], seconds=seconds)
    return meta, audio_dir


def write_gtzan(root, genres=GTZAN_GENRES[:3], per_genre: int = 2, ext: str = "au",
                seconds: float = 1.0, sr: int = 22050, seed: int = 0) -> list[Path]:
    """Write ``<root>/<genre>/<genre>.000NN.<ext>``: 22050 Hz mono 16-bit like GTZAN.

    Each genre gets its own tone so a classifier can tell them apart.
    """
    fmt = {"au": "AU", "wav": "WAV"}[ext]
    rng = np.random.default_rng(seed)
    paths = []
    for g, genre in enumerate(genres):
        folder = Path(root) / genre
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_genre):
            path = folder / f"{genre}.{i:05d}.{ext}"
            y = _tone(seconds, sr, 220.0 * 2 ** (g / 4), rng, 1)
            sf.write(path, y, sr, format=fmt, subtype="PCM_16")
            paths.append(path)
    return paths


def gtzan_feature_columns() -> list[str]:
    """Kaggle ``features_30_sec.csv`` column names, in order (60 columns)."""
    cols = ["filename", "length"]
    for name in ("chroma_stft", "rms", "spectral_centroid", "spectral_bandwidth", "rolloff",
                 "zero_crossing_rate", "harmony", "perceptr"):
        cols += [f"{name}_mean", f"{name}_var"]
    cols.append("tempo")
    for k in range(1, 21):
        cols += [f"mfcc{k}_mean", f"mfcc{k}_var"]
    return cols + ["label"]


def write_gtzan_features_csv(path, track_ids, seed: int = 0) -> Path:
    """Write a Kaggle-layout feature CSV for ``track_ids`` like ``blues.00000``."""
    rng = np.random.default_rng(seed)
    cols = gtzan_feature_columns()
    rows = []
    for tid in track_ids:
        values = rng.normal(size=len(cols) - 3).round(6).tolist()
        rows.append([f"{tid}.wav", 661794, *values, str(tid).split(".")[0]])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=cols).to_csv(path, index=False)
    return path


def first_lines(path, n: int = 3) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [next(f).rstrip("\n") for _ in range(n)]

