"""The pretrained view's cache: one embedding per track from a pretrained music model (musicnn).

Each track's clip (the clip the other views are computed from: ``[audio]`` rate, offset and
duration) is resampled to musicnn's 16 kHz and cut into its 3 s log-mel patches
(:func:`mgc.features.musicnn_input.clip_patches`; a clip shorter than one patch is padded with
silence; an export's ``serve_waveform`` computes the same from the same clip) by
the worker processes, the same workers as the main cache's (:mod:`mgc.parallel`). The parent runs
the model on the patches, batched (``embed``: patches -> one vector per patch, given by the
caller, which owns the model), and keeps their mean over the clip: the track's view.

The vectors live in ``<workdir>/cache/pretrained-<key>/`` as :class:`ShardStore` shards (index
only: the vectors are the index's feature rows), ``key`` hashing the clip's settings, the
model, its weights' identity (a sha256) and the layer, so other weights never reuse stale
vectors. Every committed shard is kept by the next run: an interrupted extraction resumes, a
bad file becomes a failed record, and :func:`write_view` then writes the run's view file
``<workdir>/pretrained.npz`` that the input pipeline reads (mgc.input.pretrained_view).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from mgc import interrupt
from mgc.cache.builder import Task, pending, track_status
from mgc.cache.store import Shard, ShardStore
from mgc.config import AudioConfig, Config
from mgc.errors import AudioError, UserError
from mgc.features import musicnn_input
from mgc.io import atomic_path, file_stamp, settings_hash
from mgc.parallel import Done, Failed, run_parallel, start_server

PRETRAINED_FORMAT = 2  # bump whenever a track's vector changes for the same settings
VIEW_FILE = "pretrained.npz"  # <workdir>/: the run's pretrained view (ids, vectors, settings)
PRELOAD = ("mgc.parallel_preload",)
PATCHES_PER_CALL = 64  # patches per model call: few calls, a fixed shape (no retracing)


@dataclass
class PretrainedResult:
    directory: Path
    view_file: Path
    n_tracks: int
    n_ok: int
    n_failed: int
    n_extracted: int  # done by this run (the rest came from the cache)


def pretrained_settings(config: Config, model: str, weights_id: str, embedding: str, dim: int) -> dict:
    """Everything that changes a track's pretrained vector."""
    a = config.audio
    return {
        "format": PRETRAINED_FORMAT,
        "model": model,
        "weights": weights_id,  # "msd@<wheel sha256>" or "sha256@<file digest>"
        "embedding": embedding,
        "dim": int(dim),
        "audio": {"sample_rate": a.sample_rate, "duration": a.duration, "offset": a.offset,
                  "min_duration": a.min_duration, "decoder": a.decoder},
        "input": {"sample_rate": musicnn_input.SR, "resample": ["resample_poly", *musicnn_input.RESAMPLE_WINDOW],
                  "n_mels": musicnn_input.N_MELS, "n_fft": musicnn_input.N_FFT,
                  "hop_length": musicnn_input.HOP, "patch_frames": musicnn_input.PATCH_FRAMES},
    }


def pretrained_dir(config: Config, settings: dict) -> Path:
    return Path(config.run.workdir) / "cache" / f"pretrained-{settings_hash(settings)}"


def clip_patches(task: Task, audio: AudioConfig) -> Done | Failed:
    """One track's clip as musicnn's patches: ``Done(task, (n, 187, 96) float32)``."""
    from mgc.audio import load_clip

    _, path = task
    try:
        y = load_clip(path, sample_rate=audio.sample_rate, duration=audio.duration, offset=audio.offset,
                      min_duration=audio.min_duration, decoder=audio.decoder)
        patches = musicnn_input.clip_patches(y, audio.sample_rate)
    except AudioError as exc:
        return Failed(task, str(exc))
    except Exception as exc:  # never stop the run for one file
        return Failed(task, f"musicnn input failed: {type(exc).__name__}: {exc}"[:300])
    if not np.all(np.isfinite(patches)):
        return Failed(task, "musicnn input is not finite")
    return Done(task, patches.astype(np.float32))


class _Embedder:
    """Track patches in, one mean vector per track out, the model called on full batches only."""

    def __init__(self, embed: Callable[[np.ndarray], np.ndarray], dim: int):
        self.embed, self.dim = embed, dim
        self.waiting: list[tuple[Task, np.ndarray]] = []

    def add(self, task: Task, patches: np.ndarray) -> list[tuple[Task, np.ndarray]]:
        self.waiting.append((task, patches))
        if sum(len(p) for _, p in self.waiting) >= PATCHES_PER_CALL:
            return self.flush()
        return []

    def flush(self) -> list[tuple[Task, np.ndarray]]:
        if not self.waiting:
            return []
        stacked = np.concatenate([p for _, p in self.waiting])
        n = len(stacked)
        padded = -(-n // PATCHES_PER_CALL) * PATCHES_PER_CALL
        stacked = np.concatenate([stacked, np.zeros((padded - n, *stacked.shape[1:]), stacked.dtype)])
        vectors = np.concatenate([np.asarray(self.embed(stacked[i:i + PATCHES_PER_CALL]), np.float32)
                                  for i in range(0, padded, PATCHES_PER_CALL)])[:n]
        if vectors.shape != (n, self.dim):
            raise ValueError(f"the pretrained model gave {vectors.shape}, expected ({n}, {self.dim})")
        out, start = [], 0
        for task, patches in self.waiting:
            out.append((task, vectors[start:start + len(patches)].mean(axis=0)))
            start += len(patches)
        self.waiting = []
        return out


def extract_pretrained(config: Config, tracks: pd.DataFrame, settings: dict, requested: dict,
                       embed: Callable[[np.ndarray], np.ndarray], *, workers: int | None = None,
                       progress: bool = True, retry_failures: bool = False) -> PretrainedResult:
    """Fill the pretrained cache for ``tracks`` (columns track_id, path; the tracks whose other
    views extracted), then write :data:`VIEW_FILE`. ``embed``: (n, 187, 96) patches -> (n, dim);
    ``settings``: :func:`pretrained_settings`; ``requested``: the config's ``[models.<model>]``
    as the view file records it (the input pipeline refuses a view made for other settings)."""
    from tqdm import tqdm

    dim = int(settings["dim"])
    store = ShardStore(pretrained_dir(config, settings), dim)
    store.directory.mkdir(parents=True, exist_ok=True)
    with store.lock():
        store.open(settings)
        latest, _ = store.latest()
        stamps = {path: file_stamp(path) for path in tracks["path"]}
        tasks = pending(latest, tracks, stamps, retry_failures)
        n_workers = workers if workers is not None else (config.extract.workers or os.cpu_count() or 1)
        n_workers = max(1, min(n_workers, len(tasks)))
        if n_workers > 1:
            start_server(PRELOAD)
        numbers = store.shard_numbers()
        number, shard = (numbers[-1] + 1 if numbers else 0), Shard()
        embedder = _Embedder(embed, dim)
        bar = tqdm(total=len(tasks), desc="extract pretrained", unit="track", disable=not progress or not tasks)

        def record(finished: list[tuple[Task, np.ndarray]]) -> None:
            nonlocal number, shard
            for (track_id, path), vector in finished:
                shard.track_ids.append(track_id)
                shard.paths.append(path)
                shard.stamps.append(stamps[path])
                shard.features.append(vector)
            bar.update(len(finished))
            if len(shard) >= config.extract.shard_size:
                store.write(number, shard)
                number, shard = number + 1, Shard()

        try:
            for result in run_parallel(tasks, clip_patches, workers=n_workers, args=(config.audio,),
                                       preload=PRELOAD):
                if isinstance(result, Failed):
                    track_id, path = result.task
                    shard.failed.append((track_id, path, stamps[path], result.reason))
                    bar.update()
                else:
                    record(embedder.add(result.task, result.value))
                interrupt.check()
            record(embedder.flush())
        finally:
            if len(shard):  # finished tracks are kept on Ctrl-C or a crash (patches still waiting are not)
                store.write(number, shard)
            bar.close()
        return write_view(config, store, tracks, stamps, settings, requested, extracted=len(tasks))


def write_view(config: Config, store: ShardStore, tracks: pd.DataFrame, stamps: dict, settings: dict,
               requested: dict, extracted: int = 0) -> PretrainedResult:
    """Write ``<workdir>/pretrained.npz``: the latest ok vector of each of ``tracks`` (manifest
    order) and the settings they were made with. UserError when no track has one."""
    merged, matrix = track_status(store, tracks, stamps)
    ok = merged[merged["status"] == "ok"]
    if ok.empty:
        reasons = merged["reason"].fillna("no record").value_counts().head(3)
        raise UserError("no track has a pretrained view: " + "; ".join(f"{r[:120]} ({n})" for r, n in reasons.items()))
    interrupt.check()
    path = Path(config.run.workdir) / VIEW_FILE
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, track_id=ok["track_id"].to_numpy(dtype=str),
                 values=matrix[ok["row"].to_numpy(dtype=int)].astype(np.float32), settings=json.dumps(settings),
                 requested=json.dumps(requested, sort_keys=True))
    n_failed = int((merged["status"] != "ok").sum())
    return PretrainedResult(store.directory, path, len(tracks), len(ok), n_failed, extracted)
