"""Building a library's index with an :class:`~mgc.similar.embedder.EmbeddingRunner`, and embedding one file.

:func:`build_index` lists the library's audio files (:func:`mgc.predict.expand_paths`), stats them once,
lets the index say which are new or changed (:meth:`~mgc.similar.index.Index.update`) and embeds only
those with :func:`mgc.predict.batch.iter_predictions`, adding each track to the index as it finishes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from mgc.errors import UserError
from mgc.similar.index import Index


@dataclass
class Built:
    """What a build did: ``tracks`` in the library, ``embedded`` now (``failed`` of them), ``kept``
    unchanged, ``dropped`` rows (files changed or gone), and model calls."""

    tracks: int = 0
    embedded: int = 0
    failed: int = 0
    kept: int = 0
    dropped: int = 0
    calls: int = 0


def library_files(library: str) -> dict[str, str]:
    """``{relative path: path}`` of the audio files under the folder ``library``, sorted as
    :func:`mgc.predict.expand_paths` lists them."""
    from mgc.predict import expand_paths

    if not os.path.isdir(library):
        raise UserError(f"--index must be a folder of audio files, got {library!r}")
    return {os.path.relpath(path, library): path for path in expand_paths([library])}


def embed_rows(paths: list[str], embedder, **options):
    """``(index in paths, unit vector or None, genre, confidence, reason)`` as each file finishes."""
    from mgc.predict.batch import iter_predictions

    for row in iter_predictions(paths, embedder, progress=False, **options):
        if row.status != "ok":
            yield row.index, None, "", None, row.reason
            continue
        vector, probabilities = embedder.split(row.probabilities)
        best = int(np.argmax(probabilities))
        yield row.index, vector, embedder.genres[best], float(probabilities[best]), ""


def build_index(library: str, embedder, index: Index, *, progress: bool = True, **options) -> Built:
    """Bring ``index`` up to date with the folder ``library`` (``options``: ``iter_predictions``'s
    ``hop_seconds``, ``batch_size``, ``workers``, ``min_duration``). On Ctrl-C the finished tracks are
    committed before the interrupt goes on."""
    from tqdm import tqdm

    from mgc import interrupt
    from mgc.predict.output import stamps_of

    files = library_files(library)
    stamps = stamps_of(list(files.values()))
    todo, kept, dropped = index.update({key: stamps[path] for key, path in files.items()})
    built = Built(tracks=len(files), kept=kept, dropped=dropped)
    calls = embedder.calls
    bar = tqdm(total=len(todo), desc="similar: embedding", unit="file", disable=not progress or len(todo) < 2)
    try:
        for i, vector, genre, confidence, reason in embed_rows([files[key] for key in todo], embedder, **options):
            key = todo[i]
            index.add(key, stamps[files[key]] or "", vector, genre, confidence, reason)
            built.embedded += 1
            built.failed += vector is None
            bar.update()
            interrupt.check()  # a Ctrl-C whose KeyboardInterrupt a library swallowed still stops here
    except KeyboardInterrupt:
        index.flush()
        raise
    finally:
        bar.close()
        built.calls = embedder.calls - calls
    index.finish(list(files))
    return built


def embed_file(path: str, embedder, **options) -> tuple[np.ndarray, str, float]:
    """``(unit vector, genre, confidence)`` of one file outside the index; a UserError if it cannot be used."""
    for _, vector, genre, confidence, reason in embed_rows([path], embedder, **options):
        if vector is None:
            raise UserError(f"--like {path}: cannot embed it: {reason}")
        return vector, genre, confidence
    raise UserError(f"--like {path}: cannot embed it")
