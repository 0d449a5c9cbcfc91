"""A seeded, labelled dataset of synthetic music-like clips, for tests, demos and smoke runs.

``synthesize`` writes ``<out_dir>/synthetic-<genre>/synthetic-<genre>-NNNN.wav`` (mono 16-bit
PCM) and returns the track table. Every label, id and artist name says "synthetic", so the clips
can never be mistaken for real music.

Each genre has a style: tempo range, 16-step drum patterns, bass line, chord progressions and
comping rhythm, instruments, brightness, distortion, reverb and noise. Unknown genre names get
a style mixed from the presets by a hash of the name. To keep classification non-trivial, each
clip draws its own tempo, key, pattern mutations, instruments and mix, may borrow a whole
component from a neighbouring style, and inherits its artist's preferred key, tempo and
brightness (so artist-grouped splits matter). "experimental" is "electronic" played backwards:
the same summary features, a different spectrogram (the demo's complementary pair). Synthesis
is vectorised numpy/scipy: a 30 s clip at 22050 Hz takes well under 0.1 s.

Clip ``i`` of genre ``g`` depends only on (seed, g, i), never on the other clips, so output is
reproducible byte for byte. Files are written atomically and ``synthetic.json`` (written last)
records the settings, so a re-run with the same settings only fills in missing files.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy import signal

from mgc.errors import UserError
from mgc.io import atomic_path, atomic_write_text

FORMAT_VERSION = 2  # bump whenever the generated audio changes
COLUMNS = ["track_id", "path", "genre", "artist"]
BORROW_P = 0.15  # chance that each style component of a clip comes from a neighbouring style
FOUR, BACK, OFFB = "x...x...x...x...", "....x.......x...", "..x...x...x...x."
EIGHTHS, SIXT, NONE = "x.x.x.x.x.x.x.x.", "x" * 16, "." * 16

# Drums and comping: x = hit, o = ghost note, . = rest (16 steps per 4/4 bar). Bass: x root,
# 5 fifth, 3 third, 7 seventh, O octave, w walking (random chord tone). Progressions are roman
# numerals relative to the key (lower case = minor chord), one chord per bar.
STYLES: dict[str, dict] = {
    "rock": dict(bpm=(100, 145), swing=0.0, kick="x.......x.x.....", snare=BACK, hat=EIGHTHS,
                 drums=1.0, bass=EIGHTHS, boct=2, progs=("I V vi IV", "I IV V IV", "I bVII IV I"),
                 comp=EIGHTHS, voicing="power", waves=("saw", "square", "pluck"), lead=0.25,
                 bright=3500, dist=0.6, noise=0.01, verb=0.15, near=("pop", "metal", "country")),
    "metal": dict(bpm=(140, 190), swing=0.0, kick=SIXT, snare=BACK, hat=FOUR, drums=1.0,
                  bass=SIXT, boct=1, progs=("i bVI bVII i", "i bII i bVII", "i iv bVI v"),
                  comp=SIXT, voicing="power", waves=("saw", "square"), lead=0.35, bright=5000,
                  dist=0.9, noise=0.01, verb=0.1, near=("rock",)),
    "pop": dict(bpm=(95, 125), swing=0.0, kick="x.......x.......", snare=BACK, hat=EIGHTHS,
                drums=0.8, bass="x..x..x.x..x..x.", boct=2, progs=("I V vi IV", "vi IV I V"),
                comp="x..x..x...x.x...", voicing="triad", waves=("square", "tri", "pluck", "ep"),
                lead=0.3, bright=4000, dist=0.0, noise=0.005, verb=0.2,
                near=("rock", "disco", "electronic")),
    "electronic": dict(bpm=(120, 132), swing=0.0, kick=FOUR, snare=BACK, hat=OFFB, drums=1.0,
                       bass=OFFB, boct=1, progs=("i bVI bIII bVII", "i iv bVI v", "i i bVI bVII"),
                       comp="x.......x.......", voicing="seventh", waves=("saw", "square"),
                       lead=0.4, bright=6000, dist=0.1, noise=0.003, verb=0.25, riser=0.8,
                       near=("hiphop", "disco", "pop")),
    "hiphop": dict(bpm=(80, 98), swing=0.25, kick="x......x..x.....", snare=BACK, hat=EIGHTHS,
                   drums=1.2, bass="x......x..x.....", boct=1, progs=("i iv", "i bVI", "i v iv i"),
                   comp="x.......x.......", voicing="seventh", waves=("ep", "sine", "tri"),
                   lead=0.15, bright=2000, dist=0.05, noise=0.03, verb=0.1,
                   near=("electronic", "reggae", "jazz")),
    "folk": dict(bpm=(80, 120), swing=0.1, kick=NONE, snare=NONE, hat=NONE, drums=0.0,
                 bass="x.......5.......", boct=2, progs=("I IV I V", "I V IV I", "I vi IV V"),
                 comp=EIGHTHS, arp=True, voicing="triad", waves=("pluck", "tri"), lead=0.2,
                 bright=2500, dist=0.0, noise=0.015, verb=0.2, near=("country", "classical")),
    "classical": dict(bpm=(60, 100), swing=0.0, kick=NONE, snare=NONE, hat=NONE, drums=0.0,
                      bass="x.......x.......", boct=2, progs=("I IV V I", "I vi ii V", "i iv V i"),
                      comp="x...............", voicing="open", waves=("tri", "sine", "saw"),
                      lead=0.3, bright=1800, dist=0.0, noise=0.004, verb=0.5,
                      near=("folk", "jazz")),
    "jazz": dict(bpm=(100, 180), swing=0.33, kick="x.........x.....", snare="..o....o..o...o.",
                 hat="x...x.xx..x.x..x", drums=0.5, bass="w...w...w...w...", boct=2,
                 progs=("ii V I vi", "ii V I I", "I vi ii V"), comp="x.....x.....x...",
                 voicing="seventh", waves=("ep", "sine", "tri"), lead=0.4, bright=2200, dist=0.0,
                 noise=0.01, verb=0.3, near=("blues", "classical", "hiphop")),
    "blues": dict(bpm=(70, 120), swing=0.33, kick="x.......x.......", snare=BACK,
                  hat="x..x..x..x..x...", drums=0.7, bass="x.3.5.O.7.5.3.5.", boct=2,
                  progs=("I I I I IV IV I I V IV I V",), comp=EIGHTHS, voicing="dom",
                  waves=("saw", "organ", "pluck"), lead=0.3, bright=2500, dist=0.3, noise=0.02,
                  verb=0.2, near=("jazz", "rock", "country")),
    "disco": dict(bpm=(110, 130), swing=0.0, kick=FOUR, snare=BACK, hat="..x.x.x...x.x.x.",
                  drums=1.0, bass="x.O.x.O.x.O.x.O.", boct=1, progs=("i iv", "ii V I vi"),
                  comp=OFFB, voicing="seventh", waves=("square", "saw", "organ"), lead=0.3,
                  bright=5000, dist=0.0, noise=0.005, verb=0.25, near=("electronic", "pop")),
    "reggae": dict(bpm=(70, 90), swing=0.1, kick="........x.......", snare="........x.......",
                   hat=EIGHTHS, drums=0.8, bass="x..x....x.x.....", boct=1,
                   progs=("I IV", "i iv", "I V IV I"), comp="....x.......x...", voicing="triad",
                   waves=("organ", "square", "pluck"), lead=0.15, bright=2500, dist=0.0,
                   noise=0.015, verb=0.3, near=("hiphop", "pop")),
    "country": dict(bpm=(90, 130), swing=0.05, kick="x.......x.......", snare=BACK, hat=EIGHTHS,
                    drums=0.6, bass="x...5...x...5...", boct=2, progs=("I IV V I", "I V vi IV"),
                    comp=EIGHTHS, arp=True, voicing="triad", waves=("pluck", "tri", "saw"),
                    lead=0.25, bright=3000, dist=0.0, noise=0.01, verb=0.15,
                    near=("folk", "rock", "blues")),
}
# Electronic material played backwards (reversed notes, drums and reverb: a studio effect of
# experimental music). Frame-wise summary statistics, hence all 518 FMA features, are unchanged
# by time reversal, so only a view that keeps time order (the spectrogram) tells it from
# "electronic": in a dataset holding both, the two views are complementary by design.
STYLES["experimental"] = {**STYLES["electronic"], "reverse": True}
COMPONENTS = {  # what a clip borrows as a unit from a neighbouring style
    "rhythm": ("bpm", "swing", "kick", "snare", "hat", "drums"),
    "bass": ("bass", "boct"),
    "harmony": ("progs", "comp", "arp", "voicing"),
    "timbre": ("waves", "lead", "bright", "dist"),
    "space": ("noise", "verb"),
}
DECAY = {"sine": 3.0, "tri": 3.0, "saw": 3.0, "square": 3.0, "organ": 9.0, "pluck": 0.3, "ep": 0.8}
NUMERALS = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}
F32 = np.float32


def _name_int(text: str) -> int:
    """A stable 64-bit integer from a string (Python's hash() is randomised per process)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def style_for(genre: str) -> dict:
    """The genre's preset ("Hip-Hop" -> "hiphop"), or one mixed from presets by a name hash."""
    key = re.sub(r"[^a-z0-9]", "", genre.lower())
    if key in STYLES:
        return {"arp": False, "reverse": False, **STYLES[key]}
    rng = np.random.default_rng(_name_int(key))
    names = sorted(STYLES)
    picks = {comp: names[rng.integers(len(names))] for comp in COMPONENTS}
    style = {f: STYLES[picks[c]].get(f, False) for c, fields in COMPONENTS.items() for f in fields}
    lo = float(rng.uniform(70, 160))
    style.update(reverse=False, bpm=(lo, lo + float(rng.uniform(10, 30))), near=tuple(sorted(set(picks.values()))),
                 bright=float(style["bright"] * rng.uniform(0.7, 1.4)))
    return style


def _clip_style(style: dict, rng: np.random.Generator) -> dict:
    """Per-clip style: each component may be borrowed from a neighbouring style."""
    out = dict(style)
    for fields in COMPONENTS.values():
        if rng.random() < BORROW_P:
            other = STYLES[style["near"][rng.integers(len(style["near"]))]]
            out.update({f: other.get(f, False) for f in fields})
    return out


def _chord(numeral: str, voicing: str) -> tuple[int, list[int]]:
    """Root (semitones above the key) and voiced intervals of a roman-numeral chord."""
    core = numeral.lstrip("b")
    root, minor = NUMERALS[core.upper()] - numeral.startswith("b"), core.islower()
    third = 3 if minor else 4
    simple = {"power": [0, 7, 12], "open": [0, 7, 12 + third], "triad": [0, third, 7]}
    if voicing in simple:
        return root, simple[voicing]
    seventh = 10 if (minor or voicing == "dom" or root not in (0, 5)) else 11
    return root, [0, third, 7, seventh]


def _pattern(text: str, flip_p: float, n_steps: int, rng: np.random.Generator) -> np.ndarray:
    """Per-step velocities of a looped x/o/. bar; each step flips on/off with probability flip_p."""
    vel = np.array([{"x": 1.0, "o": 0.4}.get(c, 0.0) for c in text])
    vel = np.where(rng.random(16) < flip_p, np.where(vel > 0, 0.0, rng.uniform(0.3, 0.8, 16)), vel)
    return np.tile(vel, n_steps // 16 + 1)[:n_steps]


def _wave(phase: np.ndarray, kind: str) -> np.ndarray:
    """A float32 waveform of the given kind at ``phase`` (in cycles, float64)."""
    frac = (phase - np.floor(phase)).astype(F32)
    if kind == "tri":
        return 2 * np.abs(2 * frac - 1) - 1
    if kind == "square":
        return np.where(frac < 0.5, F32(1), F32(-1))
    if kind in ("saw", "pluck"):
        return 2 * frac - 1
    w = F32(2 * np.pi) * frac
    harmonics = {"sine": [], "ep": [(2, 0.3)], "organ": [(2, 0.5), (3, 0.3)]}[kind]
    return np.sin(w) + sum(F32(a) * np.sin(h * w) for h, a in harmonics)


def _voice(n: int, sr: int, onsets, midi, lengths, vel, attack: float, decay: float,
           kinds: list[str]) -> np.ndarray:
    """A note sequence (one row of ``midi`` per simultaneous voice) with an attack/decay envelope.

    Each note sounds from its onset until the next onset or until it is ``lengths`` s long.
    """
    onsets = np.asarray(onsets, dtype=np.int64)
    k = np.cumsum(np.bincount(onsets, minlength=n)[:n]) - 1  # the latest onset at each sample
    valid = k >= 0
    k = np.maximum(k, 0)
    t = (np.arange(n, dtype=F32) - onsets.astype(F32)[k]) * F32(1 / sr)
    env = np.minimum(t * F32(1 / attack), F32(1)) * np.exp(t * F32(-1 / decay))
    env *= np.clip((np.asarray(lengths, dtype=F32)[k] - t) * F32(100), 0, 1)
    env *= np.asarray(vel, dtype=F32)[k] * valid
    out = np.zeros(n, dtype=F32)
    for row, kind in zip(np.atleast_2d(midi), kinds):
        step = 440.0 * 2.0 ** ((row - 69.0) / 12.0) / sr  # cycles per sample
        out += _wave(np.cumsum(step[k]), kind) * env
    return out


def _drums(n: int, sr: int, st: dict, pos: np.ndarray, flip_p: float, rng) -> np.ndarray:
    """Kick, snare and hi-hat one-shots (tuned per clip) placed on the step grid."""
    t = np.arange(int(0.3 * sr)) / sr
    noise = rng.standard_normal(t.size)
    f0, sweep, tau = rng.uniform(45, 70), rng.uniform(60, 200), rng.uniform(0.02, 0.05)
    kick = np.sin(2 * np.pi * (f0 * t + sweep * tau * (1 - np.exp(-t / tau))))
    kick *= np.exp(-t / rng.uniform(0.06, 0.2))
    snare = (rng.uniform(0.4, 0.9) * noise * np.exp(-t / rng.uniform(0.04, 0.12))
             + 0.5 * np.sin(2 * np.pi * rng.uniform(150, 250) * t) * np.exp(-t / 0.05))
    hat = 0.5 * np.diff(noise, prepend=0.0) * np.exp(-t / rng.uniform(0.01, 0.06))
    out = np.zeros(n + t.size, dtype=F32)
    for text, hit in zip((st["kick"], st["snare"], st["hat"]), (kick, snare, hat)):
        vel = _pattern(text, flip_p if st["drums"] else 0.0, pos.size, rng)
        vel *= rng.uniform(0.7, 1.0, pos.size)
        for p, v in zip(pos.tolist(), vel.tolist()):  # one vector add per hit
            if v > 0 and p < n:
                out[p : p + t.size] += F32(v) * hit.astype(F32)
    return out[:n]


def _risers(n: int, sr: int, pos: np.ndarray, level: float, rng) -> np.ndarray:
    """Build-ups: a saw sweep rising in pitch and loudness over the last bar(s) of each phrase."""
    out = np.zeros(n, dtype=F32)
    bars, span = int(rng.choice([2, 4])), int(rng.choice([12, 16, 24]))  # phrase bars, riser steps
    f0, f1 = rng.uniform(150, 400), rng.uniform(3000, 8000)
    for end in range(16 * bars, pos.size, 16 * bars):
        a, b = int(pos[end - span]), min(int(pos[end]), n)
        if a >= n:
            break
        frac = np.arange(b - a) / max(int(pos[end]) - a, 1)
        phase = np.cumsum(f0 * (f1 / f0) ** frac) / sr
        out[a:b] = _wave(phase, "saw") * (frac**2).astype(F32)
    return _unit(out) * F32(level * rng.lognormal(0, 0.3))


def _reverb(x: np.ndarray, sr: int, t60: float, rng: np.random.Generator) -> np.ndarray:
    """A cheap diffuse tail: 24 delayed copies with random signs, decaying 60 dB over ``t60`` s."""
    wet = np.zeros_like(x)
    for d in np.sort(rng.uniform(0.02, t60 / 2, 24)):
        lag = int(d * sr)
        if lag < x.size:
            gain = rng.choice([-1, 1]) * 10 ** (-3 * d / t60) / 4
            wet[lag:] += x.dtype.type(gain) * x[: x.size - lag]
    return wet


def _unit(x: np.ndarray) -> np.ndarray:
    """Scale to unit RMS (silence stays silence)."""
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return x / rms if rms > 1e-9 else x


def render_clip(style: dict, artist: dict, rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """One mono float64 clip of ``n`` samples in a per-clip variation of ``style``."""
    st = _clip_style(style, rng)
    bpm = float(np.clip(rng.uniform(*st["bpm"]) * artist["tempo"], 50, 220))
    step = 60.0 * sr / bpm / 4.0  # samples per 16th note
    idx = np.arange(int(n / step) + 2)
    swing = float(np.clip(st["swing"] + rng.normal(0, 0.05), 0, 0.4))
    pos = np.round((idx + swing * (idx % 2) + rng.normal(0, 0.02, idx.size)) * step)
    pos = np.maximum.accumulate(np.maximum(pos.astype(np.int64), 0))  # onset sample of each step
    key = artist["key"] if rng.random() < 0.5 else int(rng.integers(12))
    key -= 12 if key > 6 else 0
    prog = st["progs"][rng.integers(len(st["progs"]))].split()
    chords = [_chord(c, st["voicing"]) for c in prog]
    step_chord = [chords[(i // 16) % len(chords)] for i in idx]
    flip_p = rng.uniform(0.03, 0.15)
    drums = _drums(n, sr, st, pos, flip_p, rng)

    # Bass line: pattern characters pick chord degrees; flipped-on steps play the root.
    bvel = _pattern(re.sub(r"[^.]", "x", st["bass"]), flip_p, idx.size, rng)
    bvel[0] = max(bvel[0], 1.0)
    on = np.flatnonzero(bvel > 0)
    walk = rng.choice([0, 3, 4, 7, 9, 10, 12], on.size)
    degree = {"x": 0, "5": 7, "O": 12, "7": 10, ".": 0}
    bmidi = [12 * (st["boct"] + 1) + key + step_chord[i][0]
             + (step_chord[i][1][1] if c == "3" else w if c == "w" else degree[c])
             for i, c, w in zip(on, (st["bass"][i % 16] for i in on), walk)]
    blen = np.diff(pos[on], append=n) / sr * rng.uniform(0.5, 0.95)
    bass = _voice(n, sr, pos[on], np.array(bmidi, float), blen, bvel[on], 0.005,
                  rng.uniform(0.3, 1.5), [str(rng.choice(["sine", "tri", "saw", "square"]))])

    # Comping chords (block or arpeggiated), with the artist's or a random instrument.
    waves = list(st["waves"])
    wave = waves[artist["wave"] % len(waves)] if rng.random() < 0.5 else rng.choice(waves)
    cvel = _pattern(st["comp"], flip_p / 2, idx.size, rng)
    cvel[::16] = np.maximum(cvel[::16], 0.8)
    con = np.flatnonzero(cvel > 0)
    clen = np.diff(pos[con], append=n) / sr * rng.uniform(0.6, 1.0)
    attack = rng.uniform(0.05, 0.4) if st["comp"].count("x") <= 2 else 0.004
    nv = 1 if st["arp"] else max(len(c[1]) for c in chords)
    cmidi = [[48.0 + key + step_chord[i][0] + step_chord[i][1][(j if st["arp"] else v)
              % len(step_chord[i][1])] for j, i in enumerate(con)] for v in range(nv)]
    comp = _voice(n, sr, pos[con], np.array(cmidi), clen, cvel[con], attack,
                  DECAY[wave] * rng.uniform(0.5, 1.5), [wave] * nv)

    # An occasional lead melody: a random walk on the scale, in phrases of whole bars.
    lead = np.zeros(n, dtype=F32)
    phrase = np.repeat(rng.random(idx.size // 16 + 1) < 0.6, 16)[: idx.size]
    lon = np.flatnonzero((rng.random(idx.size) < st["lead"] * (1 + (idx % 2 == 0))) & phrase)
    if rng.random() < 0.7 and lon.size:
        scale = [0, 2, 3, 5, 7, 8, 10] if "i" in prog else [0, 2, 4, 5, 7, 9, 11]
        deg = np.clip(np.cumsum(rng.integers(-2, 3, lon.size)) + 7, 0, 13)
        lmidi = 60.0 + key + np.array([12 * (d // 7) + scale[d % 7] for d in deg])
        llen = np.diff(pos[lon], append=n) / sr * rng.uniform(0.5, 0.95)
        lead = _voice(n, sr, pos[lon], lmidi, llen, rng.uniform(0.6, 1.0, lon.size), 0.01,
                      DECAY[wave] * rng.uniform(0.5, 1.5), [rng.choice(waves)])

    # Timbre: distortion, then a low-pass whose cutoff sets the brightness; then the mix.
    tonal = _unit(comp) * rng.lognormal(0, 0.3) + _unit(lead) * rng.lognormal(-0.3, 0.4)
    if st["dist"] > 0:
        tonal = np.tanh((1 + 20 * st["dist"] * rng.uniform(0.5, 1.5)) * tonal / 3)
    cutoff = np.clip(st["bright"] * artist["bright"] * rng.lognormal(0, 0.3), 300, 0.45 * sr)
    tonal = signal.sosfilt(signal.butter(2, cutoff, fs=sr, output="sos"), tonal).astype(F32)
    if st.get("riser"):
        tonal = tonal + _risers(n, sr, pos, st["riser"], rng)
    mix = (tonal + _unit(bass) * rng.lognormal(-0.2, 0.3)
           + _unit(drums) * st["drums"] * artist["drums"] * rng.lognormal(0, 0.3))

    # Space: reverb and background noise (coloured hiss plus vinyl-like crackle).
    mix = mix + st["verb"] * rng.uniform(0.5, 1.5) * _reverb(mix, sr, rng.uniform(0.5, 2.5), rng)
    a = rng.uniform(0.0, 0.98)
    hiss = _unit(signal.lfilter([1 - a], [1, -a], rng.standard_normal(n)))
    clicks = rng.integers(0, n, rng.poisson(n / sr * 40 * st["noise"] / 0.01))
    hiss[clicks] += rng.standard_normal(clicks.size) * 10
    y = _unit(mix) + st["noise"] * rng.lognormal(1.0, 0.8) * hiss
    y = y[::-1] if style.get("reverse") else y
    return y / max(float(np.max(np.abs(y))), 1e-9) * rng.uniform(0.5, 0.9)


def _artist(seed: int, genre_id: int, index: int) -> dict:
    """An artist's signature: preferred key, tempo factor, brightness, instrument, drum level."""
    rng = np.random.default_rng([seed, genre_id, index, 1])
    return dict(key=int(rng.integers(12)), tempo=float(rng.uniform(0.92, 1.08)),
                bright=float(rng.lognormal(0, 0.3)), wave=int(rng.integers(100)),
                drums=float(rng.lognormal(0, 0.25)))


def _check(genres, clips_per_genre, artists_per_genre, clip_seconds, sample_rate) -> list[str]:
    """Validate the arguments; return the genre names as a list of str."""
    genres = [str(g) for g in genres]
    bad = [g for g in genres if not g.strip() or g in (".", "..") or "/" in g or "\\" in g]
    if not genres or bad or len(set(genres)) != len(genres):
        raise UserError(f"synthetic genres must be distinct, non-empty folder names: {genres}")
    if clips_per_genre < 1 or artists_per_genre < 1 or round(clip_seconds * sample_rate) < 1:
        raise UserError("synthetic dataset: clips_per_genre and artists_per_genre must be >= 1 "
                        "and clip_seconds * sample_rate must be at least one sample")
    return genres


def synthesize(out_dir, *, genres, clips_per_genre, artists_per_genre, clip_seconds, sample_rate,
               seed) -> pd.DataFrame:
    """Write the synthetic dataset under ``out_dir`` (unless already there) and return its table.

    Columns ``track_id, path, genre, artist`` (str, path absolute), sorted by track_id. Clip i
    of a genre belongs to artist ``i % artists_per_genre``. When ``out_dir/synthetic.json``
    holds the same settings, existing files are trusted and only missing ones are written.
    """
    genres = _check(genres, clips_per_genre, artists_per_genre, clip_seconds, sample_rate)
    out_dir = Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = dict(version=FORMAT_VERSION, genres=genres, clips_per_genre=int(clips_per_genre),
                    artists_per_genre=int(artists_per_genre), clip_seconds=float(clip_seconds),
                    sample_rate=int(sample_rate), seed=int(seed))
    clips, n_art = settings["clips_per_genre"], settings["artists_per_genre"]
    sr = settings["sample_rate"]
    rows = [(f"synthetic-{g}-{ci:04d}", out_dir / f"synthetic-{g}" / f"synthetic-{g}-{ci:04d}.wav",
             f"synthetic-{g}", f"synthetic-{g}-artist-{ci % n_art}", g, ci)
            for g in genres for ci in range(clips)]
    table = pd.DataFrame([(r[0], str(r[1]), r[2], r[3]) for r in rows], columns=COLUMNS)
    table = table.sort_values("track_id", kind="stable").reset_index(drop=True)
    meta = out_dir / "synthetic.json"
    try:
        trusted = json.loads(meta.read_text()) == settings
    except (OSError, ValueError):
        trusted = False
    if trusted and all(r[1].exists() for r in rows):
        return table
    if not trusted:
        meta.unlink(missing_ok=True)  # files written from here on match no recorded settings
    seed64, n = int(seed) % (1 << 64), int(round(clip_seconds * sr))
    artists = {g: [_artist(seed64, _name_int(g), a) for a in range(n_art)] for g in genres}
    for _, path, _, _, g, ci in rows:
        if trusted and path.exists():
            continue
        rng = np.random.default_rng([seed64, _name_int(g), ci, 0])
        y = render_clip(style_for(g), artists[g][ci % n_art], rng, n, sr)
        path.parent.mkdir(exist_ok=True)
        with atomic_path(path) as tmp:
            sf.write(tmp, y, sr, subtype="PCM_16", format="WAV")
    atomic_write_text(meta, json.dumps(settings, indent=2) + "\n")
    return table
