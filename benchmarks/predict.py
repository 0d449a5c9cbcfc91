"""``predict`` on a real library's shapes: one very long file, and thousands of files killed half way.

1. **A long file** (default 120 minutes, a WAV tiled from the real recordings): the peak memory of
   the whole ``predict`` process tree (the parent and its workers, proportional set sizes summed,
   sampled every 0.1 s from /proc) and the time, against a file a quarter as long (time should be linear:
   ratio about 4; memory flat: about the same peak).
2. **A library** (default 2,000 files: hard links to the real recordings, each its own file): an uninterrupted run, then
   the same command killed with SIGKILL when about half the rows are in the table and run again;
   it prints the rows (exactly one per file), how many the rerun computed (none twice: the rows
   kept plus the rows computed equal the files), and the interrupted pair's time against the
   uninterrupted run's.

The fixed part of the peak is the model's: TensorFlow itself (about 600 MiB resident here) and its
scratch memory for a batch of windows (musicnn at ``--batch-size 32``: about 1 GiB); what matters
for long files is that the peak does not grow with the length. The model is ``--model`` (default
``musicnn-msd``, which needs no trained run; its weights come from pip once, docs/pretrained.md).
Machines are noisy: only ratios measured in the same run mean much.

    python benchmarks/predict.py [--minutes 120] [--files 2000] [--model MODEL] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL_AUDIO = ROOT.parent / "shared" / "data" / "real-audio"
MUSIC = "Kevin_MacLeod_-_Vibe_Ace.ogg"


def tree_memory(pid: int) -> int:
    """Memory (bytes) of ``pid`` and every process below it: their proportional set sizes (PSS, from
    /proc/<pid>/smaps_rollup: pages shared by forked workers counted once, split between them)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def run_measured(command: list[str]) -> tuple[float, int, subprocess.CompletedProcess]:
    """``(seconds, peak memory of the process tree in bytes, result)`` of a command."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample():
        while child.poll() is None:
            peak[0] = max(peak[0], tree_memory(child.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    sampler.join()
    return time.perf_counter() - start, peak[0], subprocess.CompletedProcess(command, child.returncode, out, err)


def write_long_wav(path: Path, minutes: float) -> None:
    """A mono 22.05 kHz WAV of ``minutes`` tiled from a real recording, written in blocks."""
    import soundfile as sf

    y, rate = sf.read(REAL_AUDIO / MUSIC, dtype="float32")
    y = y if y.ndim == 1 else y.mean(axis=1)
    total = int(minutes * 60 * rate)
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16") as out:
        written = 0
        while written < total:
            block = y[: total - written]
            out.write(block)
            written += len(block)


def predict(model: str, paths: list[str], output: Path, workers: int | None) -> list[str]:
    return [sys.executable, "-m", "mgc.pipelines", "predict", "--model", model, *paths, "--output", str(output),
            "--quiet", *(["--workers", str(workers)] if workers else [])]


def long_file(args, tmp: Path) -> None:
    results = {}
    for minutes in (args.minutes / 4, args.minutes):
        path = tmp / f"long-{minutes:g}min.wav"
        write_long_wav(path, minutes)
        seconds, peak, done = run_measured(predict(args.model, [str(path)], tmp / "long.csv", args.workers))
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        results[minutes] = (seconds, peak)
        print(f"long file {minutes:6.1f} min ({path.stat().st_size / 2**20:.0f} MiB WAV): {seconds:7.1f} s, "
              f"peak memory {peak / 2**20:.0f} MiB (predict and its workers)")
        path.unlink()
    (short_s, short_peak), (long_s, long_peak) = results.values()
    print(f"long file: time x{long_s / short_s:.2f} for x4 the audio (linear: 4); "
          f"peak memory x{long_peak / short_peak:.2f} (flat: 1); target <= 500 MiB at {args.minutes:g} min: "
          f"{'met' if long_peak <= 500 * 2**20 else 'missed'}")


def library(args, tmp: Path) -> None:
    import pandas as pd

    folder = tmp / "library"
    folder.mkdir()
    sources = sorted(p for p in REAL_AUDIO.glob("*.ogg"))
    for i in range(args.files):
        source = sources[i % len(sources)]
        try:  # another name for the same bytes (a symlink would be the same file to predict: one row)
            os.link(source, folder / f"{i:05d}-{source.name}")
        except OSError:  # another file system
            shutil.copy(source, folder / f"{i:05d}-{source.name}")
    whole_s, _, done = run_measured(predict(args.model, [str(folder)], tmp / "whole.csv", args.workers))
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    out = tmp / "killed.csv"
    start = time.perf_counter()
    child = subprocess.Popen(predict(args.model, [str(folder)], out, args.workers), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    while child.poll() is None and (not out.exists() or out.read_text().count("\n") - 1 < args.files // 2):
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    killed_s = time.perf_counter() - start
    kept = len(pd.read_csv(out))
    again_s, _, again = run_measured(predict(args.model, [str(folder)], out, args.workers))
    if again.returncode != 0:
        raise SystemExit(again.stderr[-2000:])
    table = pd.read_csv(out)
    line = next((x for x in again.stderr.splitlines() if "to go" in x), "")
    computed = int(line.rsplit(";", 1)[1].split()[0]) if line else args.files
    print(f"library {args.files} files: uninterrupted {whole_s:.1f} s; killed at {kept} rows after {killed_s:.1f} s, "
          f"rerun {again_s:.1f} s computing {computed} ({line.strip()})")
    print(f"library: {len(table)} rows, {table['path'].nunique()} files (one row each: "
          f"{len(table) == table['path'].nunique() == args.files}); kept + computed = {kept + computed} "
          f"(none twice: {kept + computed == args.files}); interrupted + rerun time "
          f"x{(killed_s + again_s) / whole_s:.2f} of the uninterrupted run (target <= 1.10)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=120.0, help="length of the long file (default 120)")
    parser.add_argument("--files", type=int, default=2000, help="files in the library (default 2000)")
    parser.add_argument("--model", default="musicnn-msd", help="any predict --model (default musicnn-msd)")
    parser.add_argument("--workers", type=int, help="predict --workers (default: all cores)")
    parser.add_argument("--skip", choices=("long", "library"), help="leave one part out")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mgc-bench-predict-"))
    try:
        if args.skip != "long":
            long_file(args, tmp)
        if args.skip != "library":
            library(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
