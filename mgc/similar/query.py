"""Queries of an index: the k tracks nearest (cosine) to a track or to a genre's centroid, and their table.

The neighbours come from scikit-learn's ``NearestNeighbors(metric="cosine", algorithm="brute")``:
an exact search, one pass over the matrix per query, which is enough at 100k tracks
(``benchmarks/similar.py`` measures it). Similarity is ``1 - cosine distance``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass

import numpy as np

from mgc.errors import UserError
from mgc.similar.embedder import unit
from mgc.similar.index import Entries

OUTPUT_EXTENSIONS = (".csv", ".json")
COLUMNS = ("rank", "similarity", "genre", "confidence", "path")


@dataclass
class Match:
    rank: int
    similarity: float
    genre: str
    confidence: float
    path: str


def nearest(vectors: np.ndarray, query: np.ndarray, k: int, exclude: int | None = None) -> list[tuple[int, float]]:
    """``[(row, similarity)]`` of the ``k`` rows of ``vectors`` nearest ``query`` by cosine, nearest first,
    row ``exclude`` (the query's own) left out."""
    from sklearn.neighbors import NearestNeighbors

    n = len(vectors) - (exclude is not None)
    want = min(k, n) + (exclude is not None)
    if k < 1 or n < 1:
        return []
    search = NearestNeighbors(n_neighbors=want, metric="cosine", algorithm="brute").fit(vectors)
    distances, rows = search.kneighbors(np.asarray(query, np.float32).reshape(1, -1), n_neighbors=want)
    found = [(int(row), float(1.0 - distance)) for row, distance in zip(rows[0], distances[0]) if row != exclude]
    return found[:k]


def centroid(entries: Entries, genre: str) -> np.ndarray:
    """The unit mean of the embeddings of the tracks predicted as ``genre``."""
    chosen = [i for i, g in enumerate(entries.genres) if g == genre]
    if not chosen:
        raise UserError(f"no track of the index is predicted as {genre!r}; its genres: "
                        f"{', '.join(sorted(set(entries.genres))) or 'none'}")
    return unit(entries.vectors[chosen].mean(axis=0))


def genre_named(name: str, genres: list[str]) -> str | None:
    """``name`` as one of the model's ``genres`` (exactly, else ignoring case), or None."""
    if name in genres:
        return name
    folded = [genre for genre in genres if genre.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


def matches(entries: Entries, found: list[tuple[int, float]], library: str) -> list[Match]:
    """The table's rows: each found track's path as seen from the library folder given."""
    return [Match(rank, similarity, entries.genres[i], float(entries.confidences[i]),
                  os.path.join(library, entries.paths[i])) for rank, (i, similarity) in enumerate(found, 1)]


def _cells(match: Match) -> list[str]:
    return [str(match.rank), f"{match.similarity:.4f}", match.genre, f"{100 * match.confidence:.1f}%", match.path]


def to_text(rows: list[Match]) -> str:
    """An aligned table: rank, similarity, genre, confidence, path."""
    lines = [list(COLUMNS)] + [_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    right = (True, True, False, True, False)
    return "".join("  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(line, widths, right)).rstrip() + "\n"
                   for line in lines)


def check_output(path: str) -> None:
    if os.path.splitext(path)[1].lower() not in OUTPUT_EXTENSIONS:
        raise UserError(f"--output must end in .csv or .json, got {path!r}")


def write_matches(rows: list[Match], path: str) -> None:
    """``rows`` as CSV or JSON (by ``path``'s extension), atomically."""
    from mgc.io import atomic_write_text

    records = [{"rank": r.rank, "similarity": round(r.similarity, 6), "genre": r.genre,
                "confidence": round(r.confidence, 6), "path": r.path} for r in rows]
    if path.lower().endswith(".json"):
        text = json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        text = buffer.getvalue()
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise UserError(f"cannot write --output {path}: {exc.strerror or exc}") from None
