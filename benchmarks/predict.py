"""``predict`` on a real library's shapes: a very long file, thousands of files killed half way, tags written.

1. **A long file** (default 120 minutes, a WAV tiled from the real recordings): the peak memory of
   the whole ``predict`` process tree (the parent and its workers, proportional set sizes summed,
   sampled every 0.1 s from /proc; split into predict's own and its workers') and the time, against
   a 30 s file's (the fixed part) and a file a quarter as long (time should be linear: ratio about 4
   above the start-up; memory flat: about the same peak).
2. **A library** (default 2,000 files: hard links to the real recordings, each its own file, and the
   five kinds of bad file the extraction tests use, each a failed row): an uninterrupted run, then
   the same command killed with SIGKILL when about half the rows are in the table and run again;
   it prints the rows (exactly one per file), how many the rerun computed (none twice: the rows
   kept plus the rows computed equal the files), and the interrupted pair's time against the
   uninterrupted run's.
3. **Tags** (default 20 files per format, excerpts of the real recordings, half already tagged with a
   title and a genre): ``predict --write-tags`` on MP3, Ogg Vorbis, Opus, FLAC and WAV, then
   ``--undo-tags``; MP4 (which predict cannot decode) through the same tag writer directly. Per
   format: the genre read back with mutagen equals the table's (files below ``--min-confidence``
   untouched, byte for byte), the decoded samples and the audio bytes are unchanged, a rerun
   changes nothing, and undo restores every tag exactly (and the very bytes of an untagged file).
4. **Patches per call**: musicnn's patches/s and peak memory when it runs 1, 4, ... 32 patches a call
   (``mgc.models.musicnn.PATCH_BATCH``: predict's batches of windows are fed to it that many at a time).
5. **Imports**: the resident memory of a fresh interpreter after importing TensorFlow, Keras on JAX,
   the workers' preload and LiteRT's interpreter: the floor under the long file's peak.

The peak has a fixed part, measured on a 30 s file first: the framework and the model in the
parent (TensorFlow alone is about 650 MiB resident here, JAX about 300), the model's scratch memory
for a batch of windows (grows with ``--batch-size``), and the decoding workers (librosa, numba:
about 250 MiB, shared by the workers forked from one server). What matters for long files is the
growth above it, which is printed too. The model is ``--model`` (default
``musicnn-msd``, which needs no trained run; its weights come from pip once, docs/pretrained.md).
Machines are noisy: only ratios measured in the same run mean much.

    python benchmarks/predict.py [--minutes 120] [--files 2000] [--tag-files 20] [--model MODEL]
                                 [--workers N] [--batch-size N] [--only long|library|tags|patches|imports]

The backend is the environment's (``KERAS_BACKEND=jax python benchmarks/predict.py --only long``).
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


def tree_memory(pid: int) -> tuple[int, int]:
    """Memory (bytes) of ``pid`` and of every process below it (its workers and their fork server):
    proportional set sizes (PSS, from /proc/<pid>/smaps_rollup: pages shared by forked workers counted
    once, split between them)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    own = below = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    if p == pid:
                        own = int(line.split()[1]) * 1024
                    else:
                        below += int(line.split()[1]) * 1024
        except OSError:
            pass
    return own, below


def run_measured(command: list[str]) -> tuple[float, tuple[int, int], subprocess.CompletedProcess]:
    """``(seconds, (peak memory of the process tree, of the command's own process at that peak) in
    bytes, result)`` of a command."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [(0, 0)]

    def sample():
        while child.poll() is None:
            own, below = tree_memory(child.pid)
            if own + below > peak[0][0]:
                peak[0] = (own + below, own)
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


def predict(args, paths: list[str], output: Path, *more: str) -> list[str]:
    """The ``predict`` command line of this benchmark's settings."""
    return [sys.executable, "-m", "mgc.pipelines", "predict", "--model", args.model, *paths, "--output", str(output),
            "--quiet", *(["--workers", str(args.workers)] if args.workers else []),
            *(["--batch-size", str(args.batch_size)] if args.batch_size else []), *more]


def long_file(args, tmp: Path) -> None:
    results = {}
    for minutes in (0.5, args.minutes / 4, args.minutes):
        path = tmp / f"long-{minutes:g}min.wav"
        write_long_wav(path, minutes)
        table = tmp / "long.csv"
        table.unlink(missing_ok=True)  # a table already holding the file would make predict skip it
        seconds, (peak, own), done = run_measured(predict(args, [str(path)], table))
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        results[minutes] = (seconds, peak)
        print(f"long file {minutes:6.1f} min ({path.stat().st_size / 2**20:4.0f} MiB WAV): {seconds:7.1f} s, "
              f"peak memory {peak / 2**20:5.0f} MiB (predict {own / 2**20:.0f}, its decoding workers and their "
              f"server {(peak - own) / 2**20:.0f})", flush=True)
        path.unlink()
    (start_s, fixed), (short_s, short_peak), (long_s, long_peak) = results.values()
    print(f"long file: time x{long_s / short_s:.2f} for x4 the audio, x{(long_s - start_s) / (short_s - start_s):.2f} "
          f"above the 30 s file's {start_s:.1f} s of start-up (linear: 4); peak memory "
          f"x{long_peak / short_peak:.2f} (flat: 1), {(long_peak - fixed) / 2**20:+.0f} MiB above the 30 s file's "
          f"{fixed / 2**20:.0f} MiB; target <= 500 MiB at {args.minutes:g} min: "
          f"{'met' if long_peak <= 500 * 2**20 else 'missed'}", flush=True)


def write_bad_files(folder: Path) -> list[Path]:
    """The kinds of bad file the extraction tests use (tests/test_extract.py), each a failed row."""
    import numpy as np
    import soundfile as sf

    rate = 22050
    empty, text, cut, short, silent = (folder / name for name in
                                       ("empty.mp3", "notes.wav", "truncated.ogg", "short.wav", "silent.wav"))
    empty.write_bytes(b"")
    text.write_text("these are not the samples you are looking for\n" * 20)
    cut.write_bytes((REAL_AUDIO / MUSIC).read_bytes()[:300])
    sf.write(short, 0.3 * np.sin(np.arange(rate // 2) / 5.0), rate)
    sf.write(silent, np.zeros(rate * 5), rate)
    return [empty, text, cut, short, silent]


def library(args, tmp: Path) -> None:
    import pandas as pd

    folder = tmp / "library"
    folder.mkdir()
    bad = write_bad_files(folder)
    sources = sorted(p for p in REAL_AUDIO.glob("*.ogg"))
    for i in range(args.files - len(bad)):
        source = sources[i % len(sources)]
        try:  # another name for the same bytes (a symlink would be the same file to predict: one row)
            os.link(source, folder / f"{i:05d}-{source.name}")
        except OSError:  # another file system
            shutil.copy(source, folder / f"{i:05d}-{source.name}")
    whole_s, _, done = run_measured(predict(args, [str(folder)], tmp / "whole.csv"))
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    out = tmp / "killed.csv"
    start = time.perf_counter()
    child = subprocess.Popen(predict(args, [str(folder)], out), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    while child.poll() is None and (not out.exists() or out.read_text().count("\n") - 1 < args.files // 2):
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    killed_s = time.perf_counter() - start
    kept = len(pd.read_csv(out))
    again_s, _, again = run_measured(predict(args, [str(folder)], out))
    if again.returncode != 0:
        raise SystemExit(again.stderr[-2000:])
    table = pd.read_csv(out, keep_default_na=False)
    failed = {Path(p).name for p in table.loc[table["status"] == "failed", "path"]}
    line = next((x for x in again.stderr.splitlines() if "to go" in x), "")
    computed = int(line.rsplit(";", 1)[1].split()[0]) if line else args.files
    print(f"library {args.files} files: uninterrupted {whole_s:.1f} s; killed at {kept} rows after {killed_s:.1f} s, "
          f"rerun {again_s:.1f} s computing {computed} ({line.strip()})")
    print(f"library: {len(table)} rows, {table['path'].nunique()} files (one row each: "
          f"{len(table) == table['path'].nunique() == args.files}); kept + computed = {kept + computed} "
          f"(none twice: {kept + computed == args.files}); interrupted + rerun time "
          f"x{(killed_s + again_s) / whole_s:.2f} of the uninterrupted run (target <= 1.10); the rerun's "
          f"{computed / again_s:.2f} files/s against the uninterrupted {args.files / whole_s:.2f} (start-up included)")
    whole = pd.read_csv(tmp / "whole.csv", keep_default_na=False).set_index("path")["genre"]
    same = int((table.set_index("path")["genre"].reindex(whole.index) == whole).sum())
    print(f"library: {len(failed)} failed rows, the bad files among them: "
          f"{all(path.name in failed for path in bad)}; genres as the uninterrupted run's: {same} of {len(whole)}",
          flush=True)


TAG_FORMATS = (".mp3", ".ogg", ".opus", ".flac", ".wav")  # the formats predict decodes and tags
M4A = ROOT / "tests" / "reference" / "tone.m4a"  # AAC, which predict cannot decode: tagged directly


def tagged_copy(source: Path, path: Path, tag: bool) -> None:
    """A 10 s excerpt of ``source`` in ``path``'s format; with ``tag``, a title and the genre "Jazz"."""
    import librosa
    import soundfile as sf

    from mgc.predict import file_tags

    rate = 48000 if path.suffix == ".opus" else 44100  # Opus has no 44.1 kHz
    y, _ = librosa.load(source, sr=rate, mono=True, duration=10.0)
    sf.write(path, y, rate, **({"format": "OGG", "subtype": "OPUS"} if path.suffix == ".opus" else {}))
    if tag:
        audio = file_tags.open_file(path)
        if audio.tags is None:
            audio.add_tags()
        if path.suffix in (".mp3", ".wav"):
            from mutagen import id3

            audio.tags.add(id3.TIT2(encoding=3, text=[source.stem]))
            audio.tags.add(id3.TCON(encoding=3, text=["Jazz"]))
        else:
            audio.tags["TITLE"], audio.tags["GENRE"] = [source.stem], ["Jazz"]
        audio.save()


def snapshot(path: Path) -> dict:
    """What tagging must keep or restore: every tag's value, the decoded samples, the audio bytes, the bytes."""
    import hashlib

    import mutagen
    import soundfile as sf

    from mgc.audio.payload import audio_digest

    tags = mutagen.File(path).tags
    decoded = None if path.suffix == ".m4a" else hashlib.sha256(sf.read(path, dtype="float32")[0].tobytes()).digest()
    return {"tags": {str(k): repr(v) for k, v in (tags.items() if hasattr(tags, "items") else tags)} if tags else {},
            "decoded": decoded, "audio": audio_digest(path), "bytes": hashlib.sha256(path.read_bytes()).digest()}


def genre_tag(path: Path) -> list[str]:
    from mgc.predict import file_tags

    audio = file_tags.open_file(path)
    value = file_tags.read(audio).get(file_tags.keys(audio)[0])
    return [] if value is None else list(value["text"] if isinstance(value, dict) else value)


def tags(args, tmp: Path) -> None:
    import pandas as pd

    from mgc.predict.tag_writer import TagWriter, undo

    folder = tmp / "tags"
    folder.mkdir()
    sources = [p for p in sorted(REAL_AUDIO.glob("*.ogg")) if p.stat().st_size > 50_000]  # >= 3 s each
    for ext in TAG_FORMATS:
        for i in range(args.tag_files):
            tagged_copy(sources[i % len(sources)], folder / f"{ext[1:]}-{i:03d}{ext}", tag=i % 2 == 0)
    for i in range(args.tag_files):
        shutil.copy(M4A, folder / f"m4a-{i:03d}.m4a")  # ffmpeg's AAC, tagged "Jazz"
    files = sorted(folder.iterdir())
    before = {path: snapshot(path) for path in files}
    table, journal = tmp / "tags.csv", tmp / "tags-undo.json"
    command = predict(args, [str(folder)], table, "--write-tags", "--undo-file", str(journal),
                      "--min-confidence", str(args.min_confidence))
    seconds, _, done = run_measured(command)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    rows = pd.read_csv(table, keep_default_na=False).set_index("path")
    start = time.perf_counter()
    writer = TagWriter("benchmark", "1", undo=journal)  # MP4: the writer predict uses, on files it cannot decode
    for path in files:
        if path.suffix == ".m4a":
            writer.tag(str(path), "Rock", 0.9)
    m4a_s = time.perf_counter() - start
    after = {path: snapshot(path) for path in files}
    genres = {path: genre_tag(path) for path in files}  # read back with mutagen
    again_s, _, again = run_measured(command)
    unchanged_by_rerun = all(snapshot(path) == after[path] for path in files)
    restored, already, problems = undo(journal, echo=lambda *_: None)
    undone = {path: snapshot(path) for path in files}
    print(f"tags: predict --write-tags on {len(files) - args.tag_files} files in {seconds:.1f} s, "
          f"rerun {again_s:.1f} s "
          f"({'no file changed' if unchanged_by_rerun else 'FILES CHANGED'}); MP4 via the tag writer "
          f"{1000 * m4a_s / args.tag_files:.0f} ms a file; undo: {restored} restored, {already} already, "
          f"{len(problems)} problems", flush=True)
    for ext in (*TAG_FORMATS, ".m4a"):
        mine = [path for path in files if path.suffix == ext]
        expected = {path: ["Rock"] if ext == ".m4a" else [rows.loc[str(path), "genre"]] for path in mine}
        skipped = [path for path in mine if expected[path] == ["unknown"]]
        written = [path for path in mine if path not in skipped]
        read_back = sum(genres[path] == expected[path] for path in written)
        print(f"tags {ext:5} {len(mine)} files: {len(written)} tagged, read back equal {read_back} of "
              f"{len(written)}; {len(skipped)} below --min-confidence "
              f"left byte-identical: {all(after[p]['bytes'] == before[p]['bytes'] for p in skipped)}; "
              f"samples unchanged: {all(after[p]['decoded'] == before[p]['decoded'] for p in mine)}, "
              f"audio bytes unchanged: {all(after[p]['audio'] == before[p]['audio'] for p in mine)}; "
              f"undo restored every tag exactly: {all(undone[p]['tags'] == before[p]['tags'] for p in mine)} "
              f"(and every byte: {sum(undone[p]['bytes'] == before[p]['bytes'] for p in mine)} of {len(mine)})",
              flush=True)


def patch_calls(args, tmp: Path) -> None:
    """musicnn's speed and memory by patches per model call (mgc.models.musicnn.PATCH_BATCH's choice)."""
    for size in (1, 4, 8, 16, 32):
        done = subprocess.run([sys.executable, __file__, "--patch-child", str(size)], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        print(done.stdout.strip(), flush=True)


def patch_child(size: int) -> None:
    import resource

    import numpy as np

    import mgc.models.musicnn as musicnn

    model = musicnn.build_musicnn("msd", outputs="tags")
    musicnn.PATCH_BATCH = size
    patches = np.random.default_rng(0).normal(size=(256, 187, 96)).astype(np.float32)
    musicnn.predict_patches(model, patches[:64])  # warm-up: tracing
    start = time.perf_counter()
    musicnn.predict_patches(model, patches)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"musicnn {size:2d} patches a call: {256 / seconds:5.1f} patches/s, peak memory {peak:.0f} MiB (one process)")


IMPORTS = {  # what the fixed part of predict's memory is made of
    "TensorFlow (predict's default backend)": ("tensorflow", {}),
    "Keras on JAX": ("keras", {"KERAS_BACKEND": "jax"}),
    "the decoding workers' preload (librosa, numba)": ("mgc.parallel_preload", {}),
    "LiteRT's interpreter (ai-edge-litert, where installed)": ("ai_edge_litert.interpreter", {}),
}


def imports(args, tmp: Path) -> None:
    """The resident memory of a fresh interpreter after importing each of :data:`IMPORTS`."""
    code = "import importlib, resource, sys; importlib.import_module(sys.argv[1]); " \
           "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)"
    for what, (module, env) in IMPORTS.items():
        done = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True,
                              env={**os.environ, **env})
        print(f"import {what}: " + (f"{done.stdout.strip()} MiB resident" if done.returncode == 0 else "not installed"),
              flush=True)


PARTS = ("long", "library", "tags", "patches", "imports")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=120.0, help="length of the long file (default 120)")
    parser.add_argument("--files", type=int, default=2000, help="files in the library (default 2000)")
    parser.add_argument("--model", default="musicnn-msd", help="any predict --model (default musicnn-msd)")
    parser.add_argument("--tag-files", type=int, default=20, help="files per format for the tags (default 20)")
    parser.add_argument("--min-confidence", type=float, default=0.2,
                        help="predict --min-confidence for the tags: some files are left untouched (default 0.2)")
    parser.add_argument("--workers", type=int, help="predict --workers (default: all cores)")
    parser.add_argument("--batch-size", type=int, help="predict --batch-size (default: predict's)")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    parser.add_argument("--patch-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.patch_child:
        return patch_child(args.patch_child)
    tmp = Path(tempfile.mkdtemp(prefix="mgc-bench-predict-"))
    try:
        for name in args.only or PARTS:
            {"long": long_file, "library": library, "tags": tags, "patches": patch_calls,
             "imports": imports}[name](args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
