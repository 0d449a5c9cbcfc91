"""Extraction speed: mgc's ``extract`` stage vs a plain one-clip-at-a-time librosa loop.

Both produce the same two views per clip (FMA's 518 features + a 128-band log-mel) from
FMA-like inputs: 30 s, 44.1 kHz stereo MP3s cut from the real recordings in
``../shared/data/real-audio`` (13 segments, each copied ``--repeat`` times: extraction pays a
few seconds of start-up, TensorFlow import and worker warm-up, once per run, so the default
208 clips stand for a real collection better than a handful would). The plain loop is FMA's way:
``librosa.load`` then the features, then the log-mel from the signal. Both are timed in this run (machines are noisy,
so only the ratio means much) and their features are compared.

Then the third view, ``pretrained`` (musicnn MSD's 200-d embedding, mgc.cache.pretrained), of the
same clips, timed the same way: its cost per track against the two views' (issue 14's target:
at most 30 % more). The model is built (and its weights loaded) before the clock starts; that
one-off time is printed on its own. ``--no-pretrained`` skips it (it needs musicnn's weights:
downloaded with pip once, docs/pretrained.md).

    python benchmarks/extract.py [--repeat 16] [--workers N] [--no-pretrained]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REAL_AUDIO = ROOT.parent / "shared" / "data" / "real-audio"
MUSIC = [
    "Kevin_MacLeod_-_Vibe_Ace.ogg",
    "Karissa_Hobbs_-_Lets_Go_Fishin.ogg",
    "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg",
    "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy.ogg",
    "442789__lena-orsa__happy-music-pistachio-ice-cream-ragtime.ogg",
    "147793__setuniman__sweet-waltz-0i-22mi.ogg",
]


def make_clips(folder: Path, repeat: int) -> list[Path]:
    """Every whole 30 s segment of the real music, as 44.1 kHz stereo MP3 (like FMA's clips)."""
    import librosa
    import soundfile as sf

    paths = []
    for name in MUSIC:
        y, _ = librosa.load(REAL_AUDIO / name, sr=44100, mono=True)
        for k in range(len(y) // (30 * 44100)):
            segment = y[k * 30 * 44100 : (k + 1) * 30 * 44100]
            first = folder / f"{Path(name).stem[:20]}-{k}-0.mp3"
            sf.write(first, np.stack([segment, np.roll(segment, 11)], axis=1), 44100, format="MP3")
            paths.append(first)
            for r in range(1, repeat):  # copies: as much work per clip, none of the encoding time
                paths.append(Path(shutil.copyfile(first, folder / f"{first.stem[:-2]}-{r}.mp3")))
    return paths


def plain_loop(paths: list[Path]) -> np.ndarray:
    """FMA's way, one clip at a time: load, 518 features, then the log-mel from the signal."""
    import librosa

    from mgc.features.reference import fma_reference_features

    rows = []
    for path in paths:
        y, sr = librosa.load(path, sr=22050, mono=True)  # whole clip, as FMA loads it
        y = np.pad(y[: 30 * 22050], (0, max(0, 30 * 22050 - len(y))))
        rows.append(fma_reference_features(y, sr).to_numpy(np.float32))
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=512, n_mels=128)
        librosa.power_to_db(mel, ref=1.0, top_db=80.0).astype(np.float16)
    return np.stack(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=16, help="copies of each 30 s segment (more clips)")
    parser.add_argument("--workers", type=int, default=None, help="extract processes (default: all cores)")
    parser.add_argument("--no-pretrained", action="store_true", help="skip the third view (musicnn's embedding)")
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    from mgc.cache import extract
    from mgc.config import load_config

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = make_clips(tmp, args.repeat)
        tracks = pd.DataFrame({"track_id": [p.stem for p in paths], "path": [str(p) for p in paths]})
        plain_loop(paths[:1])  # warm librosa's numba code, as a long-running loop would be

        start = time.perf_counter()
        with threadpool_limits(1):  # extract's BLAS setting, so features can be compared bit for bit
            plain = plain_loop(paths)
        plain_s = time.perf_counter() - start

        config = load_config(ROOT / "pipelines/fma_top5.toml", {"run.workdir": str(tmp / "run")})
        start = time.perf_counter()
        result = extract(config, tracks, workers=args.workers, progress=False)
        extract_s = time.perf_counter() - start

        ours = pd.read_csv(result.features_csv, index_col=0, header=[0, 1, 2]).loc[tracks["track_id"]]
        ours = ours.to_numpy(np.float32)  # the CSV holds float32 values (exact round trip)
        rel = np.max(np.abs(ours - plain) / np.maximum(np.abs(plain), 1e-6))
        identical = np.array_equal(ours, plain)
        n = len(paths)
        print(f"clips: {n} x 30 s, 44.1 kHz stereo MP3; cores: {os.cpu_count()}; workers: {args.workers or 'all'}")
        print(f"plain librosa loop : {n / plain_s:6.2f} clips/s ({plain_s:.1f} s)")
        print(f"mgc extract        : {n / extract_s:6.2f} clips/s ({extract_s:.1f} s, incl. worker start-up, "
              "TFRecord + features.csv)")
        print(f"speed-up           : {plain_s / extract_s:.2f}x")
        print(f"features           : {result.n_ok}/{n} extracted; "
              + ("identical to the plain loop" if identical else f"max relative difference {rel:.1e}"))
        if not args.no_pretrained:
            third_view(config, tracks, args.workers, extract_s)


def third_view(config, tracks: pd.DataFrame, workers, two_views_s: float) -> None:
    """Time the pretrained view of ``tracks`` after the two others (same clips, same workers)."""
    from mgc.cache.pretrained import extract_pretrained
    from mgc.errors import UserError
    from mgc.pipelines.extract import pretrained_job

    start = time.perf_counter()
    try:
        wanted, settings, embed = pretrained_job(config)
        dim = settings["dim"]
    except UserError as exc:
        print(f"third view         : skipped ({exc})")
        return
    build_s = time.perf_counter() - start
    patches = np.random.default_rng(0).normal(0, 1, (64, 187, 96)).astype(np.float32)
    embed(patches)  # traced once, as in the extraction
    start = time.perf_counter()
    for _ in range(3):
        embed(patches)
    model_s = (time.perf_counter() - start) / 3
    start = time.perf_counter()
    result = extract_pretrained(config, tracks, settings, wanted, embed, workers=workers, progress=False)
    third_s = time.perf_counter() - start
    n = len(tracks)
    print(f"third view         : {n / third_s:6.2f} clips/s ({third_s:.1f} s; musicnn {wanted['weights']} "
          f"{wanted['embedding']} {dim}-d, {result.n_ok}/{n} ok; the model's build and weights {build_s:.1f} s once)")
    print(f"musicnn alone      : {64 / model_s:6.1f} patches/s, {6.4 / model_s:.2f} clips/s of 30 s (10 patches "
          f"each): +{100 * (10 / (64 / model_s)) / (two_views_s / n):.0f} % of the two views' time per track")
    print(f"third view cost    : +{100 * third_s / two_views_s:.0f} % of the two views' time per track "
          "(target: at most +30 %)")


if __name__ == "__main__":
    main()
