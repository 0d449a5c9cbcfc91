"""Predict many files: windows computed in parallel, model calls batched across files.

Worker processes (:mod:`mgc.parallel`, as for extraction: a warm fork server,
one BLAS thread each, a crashing decoder isolated to its file) decode the files and compute
every window's views, returning them in input order. The parent queues the windows of all files
and calls the model once per ``batch_size`` windows (the last call takes the rest), so a folder
of 1000 clips costs about 1000 / batch_size calls. A file's probabilities are the mean of its
windows' probabilities; its row is complete when its last window has been through the model.
A tagger (a runner with ``tags``, :mod:`mgc.predict.tagger`) returns tag probabilities: the file's
are the mean of its windows', and its genres' are ``runner.genre_probabilities`` of that mean.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from mgc.audio.clip import SILENT
from mgc.contract import UNKNOWN_GENRE
from mgc.errors import UserError
from mgc.parallel import Failed, run_parallel
from mgc.predict.windows import WindowSettings, plan_tasks, process_file


@dataclass
class Row:
    """One file's result: ``status`` "ok" with averaged ``probabilities``, or "failed" with ``reason``."""

    path: str
    index: int = 0  # its place in the paths predicted
    status: str = "ok"
    reason: str = ""
    genre: str = ""
    confidence: float | None = None
    probabilities: np.ndarray | None = None
    windows: int = 0
    tags: np.ndarray | None = None  # a tagger's mean tag probabilities (runner.tags order)
    destination: str = ""  # where --organize put it
    # with segments: each window's (start, end) in seconds and its probabilities (labels order)
    spans: np.ndarray | None = None
    window_probabilities: np.ndarray | None = None


@dataclass
class _Pending:
    index: int
    views: dict[str, np.ndarray]
    offset: int = 0  # windows already sent to the model


@dataclass
class _Batcher:
    """Queues windows of many files; one model call per ``batch_size`` windows."""

    runner: object
    batch_size: int
    on_done: object  # called with (index, mean probabilities, n_windows, each window's or None)
    keep_windows: bool = False  # pass each window's probabilities to on_done (segments)
    queue: list = field(default_factory=list)
    windows: dict = field(default_factory=dict)
    queued: int = 0
    sums: dict = field(default_factory=dict)
    left: dict = field(default_factory=dict)
    total: dict = field(default_factory=dict)
    open_files: set = field(default_factory=set)  # files whose last part has not come yet
    calls: int = 0

    def add(self, index: int, views: dict[str, np.ndarray] | None, last: bool = True) -> None:
        """Queue a file's windows (``views``; None: none), all of them or one part (``last``: its final one)."""
        n = 0 if views is None else len(next(iter(views.values())))
        if n:
            self.queue.append(_Pending(index, views))
            self.queued += n
        self.left[index] = self.left.get(index, 0) + n
        self.total[index] = self.total.get(index, 0) + n
        if last:
            self.open_files.discard(index)
            if self.left[index] == 0:  # nothing of it waits for the model any more
                self._finish(index)
        else:
            self.open_files.add(index)
        while self.queued >= self.batch_size:
            self._call(self.batch_size)

    def drop(self, index: int) -> None:
        """Forget a file (a part of it failed): its queued windows are not sent to the model."""
        for item in [item for item in self.queue if item.index == index]:
            self.queued -= len(next(iter(item.views.values()))) - item.offset
            self.queue.remove(item)
        for table in (self.left, self.total, self.sums, self.windows):
            table.pop(index, None)
        self.open_files.discard(index)

    def _finish(self, index: int) -> None:
        n = self.total.pop(index)
        del self.left[index]
        each = np.concatenate(self.windows.pop(index)) if self.keep_windows and n else None
        self.on_done(index, self.sums.pop(index) / n if n else None, n, each)

    def flush(self) -> None:
        while self.queued:
            self._call(min(self.queued, self.batch_size))

    def _call(self, size: int) -> None:
        parts: list[tuple[_Pending, int, int]] = []
        need = size
        while need:
            item = self.queue[0]
            n = len(next(iter(item.views.values())))
            take = min(need, n - item.offset)
            parts.append((item, item.offset, item.offset + take))
            item.offset += take
            need -= take
            if item.offset == n:
                self.queue.pop(0)
        names = parts[0][0].views.keys()
        batch = {name: np.concatenate([p.views[name][a:b] for p, a, b in parts]) if len(parts) > 1
                 else parts[0][0].views[name][parts[0][1]:parts[0][2]] for name in names}
        probabilities = self.runner.predict_batch(batch)
        self.calls += 1
        self.queued -= size
        row = 0
        for item, a, b in parts:
            chunk = probabilities[row:row + b - a].astype(np.float64)
            row += b - a
            i = item.index
            self.sums[i] = self.sums.get(i, 0.0) + chunk.sum(axis=0)
            if self.keep_windows:
                self.windows.setdefault(i, []).append(chunk)
            self.left[i] -= b - a
            if self.left[i] == 0 and i not in self.open_files:
                self._finish(i)


def check_min_confidence(min_confidence: float, labels) -> None:
    """``--min-confidence`` must be a probability, and ``unknown`` must not already be a genre of the model."""
    if not 0.0 <= min_confidence <= 1.0:
        raise UserError(f"--min-confidence must be between 0 and 1, got {min_confidence:g}")
    if min_confidence > 0 and UNKNOWN_GENRE in labels:
        raise UserError(f"the model has a genre named {UNKNOWN_GENRE!r}: --min-confidence could not tell it from "
                        "the files it is unsure of")


def window_settings(runner, hop_seconds: float | None = None, min_duration: float | None = None) -> WindowSettings:
    """The runner's audio settings with a hop of ``hop_seconds`` (default: one clip, no overlap)
    and a shortest usable track of ``min_duration`` seconds (default: the runner's, the model's
    training minimum)."""
    from mgc.config import AudioConfig

    if hop_seconds is not None and not hop_seconds > 0:
        raise UserError(f"--hop must be > 0 seconds, got {hop_seconds:g}")
    if min_duration is None:
        min_duration = getattr(runner, "min_duration", AudioConfig.min_duration)
    if not min_duration >= 0:
        raise UserError(f"--min-duration must be >= 0 seconds, got {min_duration:g}")
    hop = runner.clip_samples if hop_seconds is None else max(1, int(round(hop_seconds * runner.sample_rate)))
    return WindowSettings(runner.sample_rate, runner.clip_samples, hop, runner.spectrogram, tuple(runner.inputs),
                          getattr(runner, "decoder", "soundfile"), float(min_duration))


def predict_files(paths: list[str], runner, **options) -> list[Row]:
    """One :class:`Row` per path, in order (:func:`iter_predictions`, collected)."""
    rows = {row.index: row for row in iter_predictions(paths, runner, **options)}
    return [rows[i] for i in range(len(paths))]


def iter_predictions(
    paths: list[str],
    runner,
    *,
    hop_seconds: float | None = None,
    batch_size: int = 32,
    workers: int | None = None,
    progress: bool = True,
    min_duration: float | None = None,
    min_confidence: float = 0.0,
    segments: bool = False,
) -> Iterator[Row]:
    """Each path's :class:`Row` as soon as it is complete (its ``index`` is its place in ``paths``);
    bad files become failed rows, never errors. Only the rows still waiting for the model are held.

    A file whose top probability is below ``min_confidence`` gets the genre ``unknown``
    (:data:`mgc.contract.UNKNOWN_GENRE`; its probabilities and confidence are kept). With
    ``segments`` each ok row also has its windows' spans (seconds) and probabilities (a tagger's:
    each window's genre probabilities from its tags).

    A file shorter than ``min_duration`` seconds (default: ``runner.min_duration``, the model's
    training minimum) is a failed row "too short: ...", a silent one "silent: ...": the rule
    the ``extract`` stage applies to training clips (:func:`mgc.audio.clip.check_usable`).
    """
    from tqdm import tqdm

    if batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {batch_size}")
    if workers is not None and workers < 0:
        raise UserError(f"--workers must be >= 0 (0: all cores), got {workers}")
    settings = window_settings(runner, hop_seconds, min_duration)
    labels = list(runner.labels)
    check_min_confidence(min_confidence, labels)
    if not paths:
        return
    tagger = runner.tagger
    waiting: dict[int, Row] = {}  # rows whose windows are queued for the model
    finished: list[Row] = []
    bar = tqdm(total=len(paths), desc="predict", unit="file", disable=not progress or len(paths) < 2)

    def done(index: int, probabilities: np.ndarray | None, n_windows: int, each: np.ndarray | None) -> None:
        row = waiting.pop(index)
        if probabilities is None:  # a long file whose every part was silent
            row.status, row.reason, row.spans = "failed", SILENT, None
            finished.append(row)
            bar.update()
            return
        if each is not None:
            row.window_probabilities = np.asarray(runner.genre_probabilities(each) if tagger else each, np.float64)
        if tagger:  # the windows' mean tag probabilities -> the genres'
            row.tags = probabilities.astype(np.float64)
            probabilities = np.asarray(runner.genre_probabilities(row.tags), np.float64)
        best = int(np.argmax(probabilities))
        row.probabilities = probabilities.astype(np.float64)
        row.genre, row.confidence, row.windows = labels[best], float(probabilities[best]), n_windows
        if row.confidence < min_confidence:
            row.genre = UNKNOWN_GENRE
        finished.append(row)
        bar.update()

    batcher = _Batcher(runner, batch_size, done, keep_windows=segments)
    rate, clip = settings.sample_rate, settings.clip_samples
    tasks = plan_tasks(paths, settings)
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))  # a long file's parts run in parallel
    dropped: set[int] = set()  # long files a part of which failed
    try:
        for result in run_parallel(tasks, process_file, workers=n_workers, args=(settings,),
                                   preload=("mgc.parallel_preload",)):  # warm librosa in the workers
            index, last = int(result.task[0]), len(result.task) == 2 or result.task[2]
            row = waiting.get(index) or Row(paths[index], index=index)
            if index in dropped:  # an earlier part of this file failed: the rest is skipped
                pass
            elif isinstance(result, Failed):
                row.status, row.reason = "failed", " ".join(str(result.reason).split())
                if not last:  # a part of a long file: its other parts and queued windows go with it
                    dropped.add(index)
                if index in waiting:
                    batcher.drop(index)
                    del waiting[index]
                finished.append(row)
                bar.update()
            else:
                views, starts, n_samples = result.value
                if segments:
                    spans = np.stack([starts / rate, np.minimum(starts + clip, n_samples) / rate], axis=1)
                    row.spans = spans if row.spans is None else np.concatenate([row.spans, spans])
                waiting[index] = row
                batcher.add(index, views, last)
            yield from finished
            finished.clear()
        batcher.flush()
        yield from finished
    finally:
        bar.close()
