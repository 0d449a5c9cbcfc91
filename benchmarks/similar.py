"""``similar`` at library scale: an index of synthetic unit embeddings (default 100k tracks x 200 float32,
musicnn's embedding size), its on-disk cache, and the time and memory of a query.

1. **The index on disk** (in a child process, its own peak memory): every track added through
   :class:`mgc.similar.Index` as a build adds them (a shard and a table commit every 256 tracks), then
   ``finish`` merges the shards into one ``.npy``.
2. **Loading it**: ``open`` + ``load``, as each ``similar`` command does before its query.
3. **A query**: :func:`mgc.similar.nearest` (scikit-learn's ``NearestNeighbors(metric="cosine",
   algorithm="brute")`` fitted on the matrix, the k nearest of one vector, its own row left out), as the
   command runs it, ``--queries`` times: the median and 90th percentile of the milliseconds per query, the
   fit's share, and the same search by hand in numpy (a check of the results, and a reference time).
4. **Memory**: the matrix's bytes, and the querying process's peak resident set (``resource.getrusage``;
   the shard's memory-mapped pages count while it is read) after the imports, with the index loaded and
   after the queries.

    python benchmarks/similar.py [--tracks 100000] [--dim 200] [--queries 100] [-k 10]

No model and no audio: the embeddings are random unit vectors (a query's cost does not depend on their values).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def peak_rss_mib(who=None) -> float:
    """The peak resident set so far of this process (or of its finished children): Linux reports KiB."""
    return resource.getrusage(resource.RUSAGE_SELF if who is None else who).ru_maxrss / 1024


def build(folder: str, tracks: int, dim: int, seed: int) -> None:
    """Add ``tracks`` random unit vectors to a new index in ``folder`` as a build would, and finish it."""
    import numpy as np

    from mgc.similar import Index, unit

    rng = np.random.default_rng(seed)
    genres = [f"genre-{i}" for i in range(8)]
    index = Index(folder, {"benchmark": True}, dim).open()
    start = time.perf_counter()
    chunk = 10_000  # random vectors made a chunk at a time: the build holds only its buffer
    for first in range(0, tracks, chunk):
        vectors = unit(rng.standard_normal((min(chunk, tracks - first), dim)))
        for i, vector in enumerate(vectors, first):
            index.add(f"artist-{i % 997}/track-{i:06d}.mp3", f"{i}:0", vector, genres[i % len(genres)], 0.5)
    index.finish()
    print(f"build (add + commit every 256 tracks + merge into one shard): {time.perf_counter() - start:.1f} s, "
          f"peak RSS {peak_rss_mib():.0f} MiB (its process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=200)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import multiprocessing

    import numpy as np
    import sklearn
    from sklearn.neighbors import NearestNeighbors

    from mgc.similar import Index, nearest

    base = peak_rss_mib()
    with tempfile.TemporaryDirectory(prefix="similar-bench-") as folder:
        child = multiprocessing.get_context("fork").Process(target=build, args=(folder, args.tracks, args.dim,
                                                                                  args.seed))
        child.start()
        child.join()
        assert child.exitcode == 0, child.exitcode
        disk = sum(p.stat().st_size for p in Path(folder).iterdir())

        start = time.perf_counter()
        entries = Index(folder, {"benchmark": True}, args.dim).open().load()
        load_s = time.perf_counter() - start
        loaded = peak_rss_mib()
    matrix = entries.vectors
    assert matrix.shape == (args.tracks, args.dim), matrix.shape

    rng = np.random.default_rng(args.seed + 1)
    times, fits, numpy_times, checked = [], [], [], 0
    for row in rng.integers(0, args.tracks, args.queries):
        start = time.perf_counter()
        found = nearest(matrix, matrix[row], args.k, exclude=int(row))
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
        NearestNeighbors(n_neighbors=args.k + 1, metric="cosine", algorithm="brute").fit(matrix)
        fits.append(time.perf_counter() - start)
        start = time.perf_counter()
        scores = matrix @ matrix[row]  # the same search by hand: unit vectors, so cosine is the dot product
        scores[row] = -np.inf
        best = np.sort(scores[np.argpartition(-scores, args.k)[:args.k]])[::-1]
        numpy_times.append(time.perf_counter() - start)
        checked += np.allclose([s for _, s in found], best, atol=1e-5)
    after = peak_rss_mib()

    ms, fit_ms, numpy_ms = (np.array(t) * 1000 for t in (times, fits, numpy_times))
    print(f"index: {args.tracks} tracks x {args.dim} float32 = {matrix.nbytes / 2**20:.1f} MiB matrix; "
          f"{disk / 2**20:.1f} MiB on disk (one shard + the table)")
    print(f"open + load (what each similar command does before its query): {load_s:.2f} s")
    print(f"query (mgc.similar.nearest: NearestNeighbors cosine brute, fit + k={args.k}), {args.queries} queries: "
          f"median {np.median(ms):.1f} ms (fit {np.median(fit_ms):.1f} ms), p90 {np.percentile(ms, 90):.1f} ms; "
          f"{checked}/{args.queries} match numpy's (a dot product + argpartition: {np.median(numpy_ms):.1f} ms)")
    print(f"peak RSS of the querying process: {base:.0f} MiB after imports, {loaded:.0f} MiB with the index loaded, "
          f"{after:.0f} MiB after the queries (+{after - base:.0f} MiB)")
    print(f"cores: {os.cpu_count()}; numpy {np.__version__}, scikit-learn {sklearn.__version__}")


if __name__ == "__main__":
    main()
