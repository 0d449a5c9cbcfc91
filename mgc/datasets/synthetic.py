"""A seeded, labelled dataset of synthetic music-like clips, for tests, demos and smoke runs.

``synthesize`` writes ``<out_dir>/synthetic-<genre>/synthetic-<genre>-NNNN.wav`` (mono 16-bit
PCM) and returns the track table. Every label, id and artist name says "synthetic" so the clips
can never be mistaken for real music.

Each genre has a style (tempo range, 16-step drum pattern, bass line, chord progression and
comping rhythm, instrument timbres, distortion, noise and reverb); unknown genre names get a
style mixed from the presets by a hash of the name. To keep classification non-trivial, every
clip draws its own tempo, key, pattern mutations, instruments and mix, sometimes borrows a whole
component from a neighbouring style, and inherits its artist's preferred key, tempo and
brightness (so artist-grouped splits matter). Synthesis is vectorised numpy/scipy: a 30 s clip
at 22050 Hz takes a few tens of milliseconds.

Clip ``i`` of genre ``g`` depends only on (seed, g, i), never on the other clips, so results
are reproducible byte for byte. Files are written atomically and ``synthetic.json`` (written
last) records the settings, so a re-run with the same settings only fills in missing files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy import signal

from mgc.errors import UserError

FORMAT_VERSION = 1  # bump whenever the generated audio changes
COLUMNS = ["track_id", "path", "genre", "artist"]
BORROW_P = 0.15  # chance that each style component comes from a neighbouring style
FOUR, BACK, EIGHTHS, SIXT = "x...x...x...x...", "....x.......x...", "x.x.x.x.x.x.x.x.", "x" * 16
OFFB, NONE = "..x...x...x...x.", "." * 16

# Drum patterns: x = hit, o = ghost note, . = rest (16 steps per 4/4 bar). Bass: x root,
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
                drums=0.8, bass="x..x..x.x..x..x.", boct=2, progs=("I V vi IV", "vi IV I V", "I vi IV V"),
                comp="x..x..x...x.x...", voicing="triad", waves=("square", "tri", "pluck", "ep"),
                lead=0.3, bright=4000, dist=0.0, noise=0.005, verb=0.2, near=("rock", "disco", "electronic")),
    "electronic": dict(bpm=(120, 132), swing=0.0, kick=FOUR, snare=BACK, hat=OFFB, drums=1.0,
                       bass=OFFB, boct=1, progs=("i bVI bIII bVII", "i iv bVI v", "i i bVI bVII"),
                       comp="x.......x.......", voicing="seventh", waves=("saw", "square"), lead=0.4,
                       bright=6000, dist=0.1, noise=0.003, verb=0.25, near=("hiphop", "disco", "pop")),
    "hiphop": dict(bpm=(80, 98), swing=0.25, kick="x......x..x.....", snare=BACK, hat=EIGHTHS,
                   drums=1.2, bass="x......x..x.....", boct=1, progs=("i iv", "i bVI", "i v iv i"),
                   comp="x.......x.......", voicing="seventh", waves=("ep", "sine", "tri"), lead=0.15,
                   bright=2000, dist=0.05, noise=0.03, verb=0.1, near=("electronic", "reggae", "jazz")),
    "folk": dict(bpm=(80, 120), swing=0.1, kick=NONE, snare=NONE, hat=NONE, drums=0.0,
                 bass="x.......5.......", boct=2, progs=("I IV I V", "I V IV I", "I vi IV V"),
                 comp=EIGHTHS, arp=True, voicing="triad", waves=("pluck", "tri"), lead=0.2,
                 bright=2500, dist=0.0, noise=0.015, verb=0.2, near=("country", "classical", "blues")),
    "classical": dict(bpm=(60, 100), swing=0.0, kick=NONE, snare=NONE, hat=NONE, drums=0.0,
                      bass="x.......x.......", boct=2, progs=("I IV V I", "I vi ii V", "i iv V i"),
                      comp="x...............", voicing="open", waves=("tri", "sine", "saw"),
                      lead=0.3, bright=1800, dist=0.0, noise=0.004, verb=0.5, near=("folk", "jazz")),
    "jazz": dict(bpm=(100, 180), swing=0.33, kick="x.........x.....", snare="..o....o..o...o.",
                 hat="x...x.xx..x.x..x", drums=0.5, bass=FOUR.replace("x", "w"), boct=2,
                 progs=("ii V I vi", "ii V I I", "I vi ii V"), comp="x.....x.....x...",
                 voicing="seventh", waves=("ep", "sine", "tri"), lead=0.4, bright=2200, dist=0.0,
                 noise=0.01, verb=0.3, near=("blues", "classical", "hiphop")),
    "blues": dict(bpm=(70, 120), swing=0.33, kick="x.......x.......", snare=BACK, hat="x..x..x..x..x...",
                  drums=0.7, bass="x.3.5.O.7.5.3.5.", boct=2, progs=("I I I I IV IV I I V IV I V",),
                  comp="x.x.x.x.x.x.x.x.", voicing="dom", waves=("saw", "organ", "pluck"), lead=0.3,
                  bright=2500, dist=0.3, noise=0.02, verb=0.2, near=("jazz", "rock", "country")),
    "disco": dict(bpm=(110, 130), swing=0.0, kick=FOUR, snare=BACK, hat="..x.x.x...x.x.x.", drums=1.0,
                  bass="x.O.x.O.x.O.x.O.", boct=1, progs=("i iv", "ii V I vi", "i bVII bVI V"),
                  comp="..x...x...x...x.", voicing="seventh", waves=("square", "saw", "organ"),
                  lead=0.3, bright=5000, dist=0.0, noise=0.005, verb=0.25, near=("electronic", "pop")),
    "reggae": dict(bpm=(70, 90), swing=0.1, kick="........x.......", snare="........x.......",
                   hat=EIGHTHS, drums=0.8, bass="x..x....x.x.....", boct=1, progs=("I IV", "i iv", "I V IV I"),
                   comp="....x.......x...", voicing="triad", waves=("organ", "square", "pluck"),
                   lead=0.15, bright=2500, dist=0.0, noise=0.015, verb=0.3, near=("hiphop", "pop")),
    "country": dict(bpm=(90, 130), swing=0.05, kick="x.......x.......", snare=BACK, hat=EIGHTHS,
                    drums=0.6, bass="x...5...x...5...", boct=2, progs=("I IV V I", "I I IV V", "I V vi IV"),
                    comp=EIGHTHS, arp=True, voicing="triad", waves=("pluck", "tri", "saw"), lead=0.25,
                    bright=3000, dist=0.0, noise=0.01, verb=0.15, near=("folk", "rock", "blues")),
}
COMPONENTS = {
    "rhythm": ("bpm", "swing", "kick", "snare", "hat", "drums"),
    "bass": ("bass", "boct"),
    "harmony": ("progs", "comp", "arp", "voicing"),
    "timbre": ("waves", "lead", "bright", "dist"),
    "space": ("noise", "verb"),
}
WAVE_DECAY = {"sine": 3.0, "tri": 3.0, "saw": 3.0, "square": 3.0, "organ": 9.0, "pluck": 0.3, "ep": 0.8}
NUMERALS = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}


def _name_int(text: str) -> int:
    """A stable 64-bit integer from a string (Python's hash() is randomised per process)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def _style_key(genre: str) -> str:
    """The preset name a genre maps to: "Hip-Hop" -> "hiphop"."""
    return re.sub(r"[^a-z0-9]", "", genre.lower())


def style_for(genre: str) -> dict:
    """The genre's preset, or a style mixed deterministically from presets by a hash of the name."""
    key = _style_key(genre)
    if key in STYLES:
        return dict(STYLES[key], arp=STYLES[key].get("arp", False))
    rng = np.random.default_rng(_name_int(key))
    names = sorted(STYLES)
    picks = {comp: names[rng.integers(len(names))] for comp in COMPONENTS}
    style = {"arp": False}
    for comp, fields in COMPONENTS.items():
        style.update({f: STYLES[picks[comp]].get(f, False) for f in fields})
    lo = float(rng.uniform(70, 160))
    style["bpm"] = (lo, lo + float(rng.uniform(10, 30)))
    style["bright"] = float(style["bright"] * rng.uniform(0.7, 1.4))
    style["near"] = tuple(sorted(set(picks.values())))
    return style


def _clip_style(style: dict, rng: np.random.Generator) -> dict:
    """Per-clip style: each component may be borrowed from a neighbouring style."""
    out = dict(style)
    for fields in COMPONENTS.values():
        if style["near"] and rng.random() < BORROW_P:
            other = STYLES[style["near"][rng.integers(len(style["near"]))]]
            out.update({f: other.get(f, False) for f in fields})
    return out


def _chord(numeral: str, voicing: str) -> tuple[int, list[int]]:
    """Root (semitones above the key) and voiced intervals of a roman-numeral chord."""
    flat = numeral.startswith("b")
    core = numeral.lstrip("b")
    root = NUMERALS[core.upper()] - flat
    minor = core.islower()
    third = 3 if minor else 4
    if voicing == "power":
        return root, [0, 7, 12]
    if voicing == "open":
        return root, [0, 7, 12 + third]
    if voicing == "triad":
        return root, [0, third, 7]
    seventh = 10 if (minor or voicing == "dom" or root not in (0, 5)) else 11
    return root, [0, third, 7, seventh]


def _pattern(text: str, flip_p: float, rng: np.random.Generator) -> np.ndarray:
    """Step velocities from an x/o/. pattern, each step flipped on/off with probability flip_p."""
    vel = np.array([{"x": 1.0, "o": 0.4}.get(c, 0.0) for c in text])
    flip = rng.random(16) < flip_p
    return np.where(flip, np.where(vel > 0, 0.0, rng.uniform(0.3, 0.8, 16)), vel)


def _wave(phase: np.ndarray, kind: str) -> np.ndarray:
    """A float32 waveform of the given kind at ``phase`` (in cycles, float64)."""
    frac = (phase - np.floor(phase)).astype(np.float32)
    if kind in ("sine", "ep", "organ"):
        w = np.float32(2 * np.pi) * frac
        y = np.sin(w)
        if kind == "ep":
            y += np.float32(0.3) * np.sin(2 * w)
        if kind == "organ":
            y += np.float32(0.5) * np.sin(2 * w) + np.float32(0.3) * np.sin(3 * w)
        return y
    if kind == "tri":
        return 2 * np.abs(2 * frac - 1) - 1
    if kind == "square":
        return np.where(frac < 0.5, np.float32(1), np.float32(-1))
    return 2 * frac - 1  # saw, pluck


def _notes(n: int, sr: int, onsets: np.ndarray, lengths: np.ndarray, vel: np.ndarray,
           attack: float, decay: float):
    """Per-sample (index of the sounding note, float32 envelope) of a monophonic note sequence."""
    onsets = onsets.astype(np.int64)
    k = np.cumsum(np.bincount(onsets, minlength=n)[:n]) - 1  # last onset at or before each sample
    valid = k >= 0
    k = np.maximum(k, 0)
    t = (np.arange(n, dtype=np.float32) - onsets.astype(np.float32)[k]) * np.float32(1 / sr)
    env = np.minimum(t * np.float32(1 / attack), np.float32(1)) * np.exp(t * np.float32(-1 / decay))
    env *= np.clip((lengths.astype(np.float32)[k] - t) * np.float32(100), 0, 1)
    env *= vel.astype(np.float32)[k] * valid
    return k, env


def _tone(midi: np.ndarray, k: np.ndarray, env: np.ndarray, sr: int, kind: str) -> np.ndarray:
    """Render note pitches ``midi[k]`` with envelope ``env`` using a continuous-phase oscillator."""
    freq = 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0) / sr
    return _wave(np.cumsum(freq[k]), kind) * env


def _place(n: int, pos: np.ndarray, vel: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """Mix copies of a one-shot ``sample`` starting at ``pos`` with gains ``vel`` (loop over hits)."""
    out = np.zeros(n + sample.size, dtype=np.float32)
    sample = sample.astype(np.float32)
    for p, v in zip(pos.tolist(), vel.tolist()):
        if v > 0 and p < n:
            out[p : p + sample.size] += np.float32(v) * sample
    return out[:n]


def _reverb(x: np.ndarray, sr: int, t60: float) -> np.ndarray:
    """The wet signal of four parallel feedback combs (each one lfilter over delay-sized rows)."""
    wet = np.zeros_like(x)
    for delay_s in (0.0297, 0.0371, 0.0411, 0.0437):
        d = int(delay_s * sr)
        rows = -(-x.size // d)
        xx = np.zeros(rows * d)
        xx[: x.size] = x
        g = 10.0 ** (-3.0 * delay_s / t60)
        y = signal.lfilter([0.0, g], [1.0, -g], xx.reshape(rows, d), axis=0)
        wet += y.reshape(-1)[: x.size].astype(np.float32) / 4
    return wet


def _drum_kit(sr: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Kick, snare and hi-hat one-shots with per-clip random tuning and decay."""
    t = np.arange(int(0.3 * sr)) / sr
    noise = rng.standard_normal(t.size)
    f0, sweep, tau = rng.uniform(45, 70), rng.uniform(60, 200), rng.uniform(0.02, 0.05)
    kick = np.sin(2 * np.pi * (f0 * t + sweep * tau * (1 - np.exp(-t / tau)))) * np.exp(-t / rng.uniform(0.06, 0.2))
    snare = (rng.uniform(0.4, 0.9) * noise * np.exp(-t / rng.uniform(0.04, 0.12))
             + 0.5 * np.sin(2 * np.pi * rng.uniform(150, 250) * t) * np.exp(-t / 0.05))
    hat = 0.5 * np.diff(noise, prepend=0.0) * np.exp(-t / rng.uniform(0.01, 0.06))
    return [kick, snare[: int(0.2 * sr)], hat[: int(0.1 * sr)]]


def _unit(x: np.ndarray) -> np.ndarray:
    """Scale to unit RMS (silence stays silence)."""
    rms = float(np.sqrt(np.mean(x * x)))
    return x / rms if rms > 1e-9 else x


def render_clip(style: dict, artist: dict, rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """One mono clip of ``n`` samples in (a per-clip variation of) ``style``; peak in [0.5, 0.9]."""
    st = _clip_style(style, rng)
    bpm = float(np.clip(rng.uniform(*st["bpm"]) * artist["tempo"], 50, 220))
    step = 60.0 * sr / bpm / 4.0
    n_steps = int(n / step) + 2
    idx = np.arange(n_steps)
    swing = float(np.clip(st["swing"] + rng.normal(0, 0.05), 0, 0.4))
    pos = np.round((idx + swing * (idx % 2) + rng.normal(0, 0.02, n_steps)) * step).astype(np.int64)
    pos = np.maximum.accumulate(np.maximum(pos, 0))
    key = artist["key"] if rng.random() < 0.5 else int(rng.integers(12))
    key = key - 12 if key > 6 else key
    prog = st["progs"][rng.integers(len(st["progs"]))].split()
    chords = [_chord(c, st["voicing"]) for c in prog]
    bar_chord = [chords[b % len(chords)] for b in range(n_steps // 16 + 1)]
    roots = np.array([bar_chord[i // 16][0] for i in idx])
    flip_p = rng.uniform(0.03, 0.15)

    # Drums: impulse trains convolved with the clip's kit.
    drums = np.zeros(n, dtype=np.float32)
    for pattern, sample in zip((st["kick"], st["snare"], st["hat"]), _drum_kit(sr, rng)):
        vel = np.tile(_pattern(pattern, flip_p * (st["drums"] > 0), rng), n_steps // 16 + 1)[:n_steps]
        vel = vel * rng.uniform(0.7, 1.0, n_steps)
        drums += _place(n, pos, vel, sample)

    # Bass line.
    degrees = {"x": 0, "5": 7, "O": 12}
    bvel = _pattern(re.sub(r"[^.]", "x", st["bass"]), flip_p, rng)
    bvel = np.tile(bvel, n_steps // 16 + 1)[:n_steps]
    on = np.flatnonzero(bvel > 0)
    if on.size == 0:
        on = np.array([0])
        bvel[0] = 1.0
    chars = [st["bass"][i % 16] for i in on]
    thirds = [bar_chord[i // 16][1][1] for i in on]
    walk = rng.choice([0, 3, 4, 7, 9, 10, 12], on.size)
    bdeg = np.array([degrees.get(c, {"3": th, "7": 10, "w": w}.get(c, 0)) for c, th, w in zip(chars, thirds, walk)])
    bmidi = 12 * (st["boct"] + 1) + key + roots[on] + bdeg
    bon = pos[on].astype(np.float64)
    blen = np.diff(bon, append=n) / sr * rng.uniform(0.5, 0.95)
    k, env = _notes(n, sr, bon, blen, bvel[on], 0.005, rng.uniform(0.3, 1.5))
    bass = _tone(bmidi.astype(float), k, env, sr, str(rng.choice(["sine", "tri", "saw", "square"])))

    # Comping chords (block or arpeggiated) and an occasional lead melody.
    waves = list(st["waves"])
    wave = waves[artist["wave"] % len(waves)] if rng.random() < 0.5 else waves[rng.integers(len(waves))]
    cvel = np.tile(_pattern(st["comp"], flip_p / 2, rng), n_steps // 16 + 1)[:n_steps]
    cvel[::16] = np.maximum(cvel[::16], 0.8)
    con = np.flatnonzero(cvel > 0)
    clen = np.diff(pos[con].astype(float), append=n) / sr * rng.uniform(0.6, 1.0)
    sparse = (np.array(list(st["comp"])) == "x").sum() <= 2
    attack = rng.uniform(0.05, 0.4) if sparse else 0.004
    decay = WAVE_DECAY[wave] * rng.uniform(0.5, 1.5)
    k, env = _notes(n, sr, pos[con].astype(float), clen, cvel[con], attack, decay)
    comp = np.zeros(n, dtype=np.float32)
    nvoice = max(len(c[1]) for c in chords)
    for v in range(1 if st["arp"] else nvoice):
        tones = [bar_chord[i // 16][1] for i in con]
        iv = [t[(j if st["arp"] else v) % len(t)] for j, t in enumerate(tones)]
        cmidi = 48.0 + key + roots[con] + np.array(iv)
        comp += _tone(cmidi, k, env, sr, wave)
    lead = np.zeros(n, dtype=np.float32)
    if rng.random() < 0.7:
        scale = [0, 2, 3, 5, 7, 8, 10] if "i" in prog else [0, 2, 4, 5, 7, 9, 11]
        phrase = np.repeat(rng.random(n_steps // 16 + 1) < 0.6, 16)[:n_steps]
        lon = np.flatnonzero((rng.random(n_steps) < st["lead"] * (1 + (idx % 2 == 0))) & phrase)
        if lon.size:
            deg = np.clip(np.cumsum(rng.integers(-2, 3, lon.size)) + 7, 0, 13)
            lmidi = 60.0 + key + np.array([12 * (d // 7) + scale[d % 7] for d in deg])
            llen = np.diff(pos[lon].astype(float), append=n) / sr * rng.uniform(0.5, 0.95)
            k, env = _notes(n, sr, pos[lon].astype(float), llen, rng.uniform(0.6, 1.0, lon.size),
                            0.01, WAVE_DECAY[wave] * rng.uniform(0.5, 1.5))
            lead = _tone(lmidi, k, env, sr, waves[rng.integers(len(waves))])

    # Timbre: distortion, then a low-pass whose cutoff sets the brightness.
    tonal = _unit(comp) * rng.lognormal(0, 0.3) + _unit(lead) * rng.lognormal(-0.3, 0.4)
    if st["dist"] > 0:
        drive = 1 + 20 * st["dist"] * rng.uniform(0.5, 1.5)
        tonal = np.tanh(drive * tonal / 3) * 3 / np.tanh(drive)
    cutoff = np.clip(st["bright"] * artist["bright"] * rng.lognormal(0, 0.3), 300, 0.45 * sr)
    tonal = signal.sosfilt(signal.butter(2, cutoff, fs=sr, output="sos"), tonal)
    mix = (tonal + _unit(bass) * rng.lognormal(-0.2, 0.3)
           + _unit(drums) * st["drums"] * artist["drums"] * rng.lognormal(0, 0.3))

    # Space: comb reverb and background noise (coloured hiss plus vinyl-like crackle).
    mix = mix + st["verb"] * rng.uniform(0.5, 1.5) * _reverb(mix, sr, rng.uniform(0.5, 2.5))
    a = rng.uniform(0.0, 0.98)
    hiss = _unit(signal.lfilter([1 - a], [1, -a], rng.standard_normal(n, dtype=np.float32)))
    clicks = rng.integers(0, n, rng.poisson(n / sr * 40 * st["noise"] / 0.01))
    hiss[clicks] += rng.standard_normal(clicks.size) * 10
    y = _unit(mix) + st["noise"] * rng.lognormal(1.0, 0.8) * hiss
    y = y / max(float(np.max(np.abs(y))), 1e-9) * rng.uniform(0.5, 0.9)
    return y.astype(np.float64)


def _artist(seed: int, genre_id: int, index: int) -> dict:
    """An artist's signature: preferred key, tempo factor, brightness, instrument and drum level."""
    rng = np.random.default_rng([seed, genre_id, index, 1])
    return dict(key=int(rng.integers(12)), tempo=float(rng.uniform(0.92, 1.08)),
                bright=float(rng.lognormal(0, 0.3)), wave=int(rng.integers(100)),
                drums=float(rng.lognormal(0, 0.25)))


def _table(out_dir: Path, genres: list[str], clips: int, artists: int) -> pd.DataFrame:
    """The track table (track_id, absolute path, genre, artist), sorted by track_id."""
    rows = []
    for g in genres:
        for ci in range(clips):
            tid = f"synthetic-{g}-{ci:04d}"
            path = out_dir / f"synthetic-{g}" / f"{tid}.wav"
            rows.append((tid, str(path), f"synthetic-{g}", f"synthetic-{g}-artist-{ci % artists}"))
    table = pd.DataFrame(rows, columns=COLUMNS, dtype=object)
    return table.sort_values("track_id", kind="stable").reset_index(drop=True)


def _check(genres, clips_per_genre, artists_per_genre, clip_seconds, sample_rate) -> list[str]:
    """Validate the arguments; return the genre names as a list of str."""
    genres = [str(g) for g in genres]
    if not genres:
        raise UserError("the synthetic dataset needs at least one genre")
    for g in genres:
        if not g.strip() or g in (".", "..") or "/" in g or "\\" in g:
            raise UserError(f"bad synthetic genre name {g!r}")
    if len(set(genres)) != len(genres):
        raise UserError(f"duplicate synthetic genres in {genres}")
    if clips_per_genre < 1 or artists_per_genre < 1 or clip_seconds <= 0 or sample_rate < 1000:
        raise UserError("synthetic dataset: clips_per_genre and artists_per_genre must be >= 1, "
                        "clip_seconds > 0 and sample_rate >= 1000")
    return genres


def synthesize(out_dir, *, genres, clips_per_genre, artists_per_genre, clip_seconds, sample_rate,
               seed) -> pd.DataFrame:
    """Write the synthetic dataset under ``out_dir`` (if not already there) and return its table.

    Artists are assigned round-robin (clip i -> artist i % artists_per_genre). With settings
    identical to ``out_dir/synthetic.json`` only missing files are generated.
    """
    genres = _check(genres, clips_per_genre, artists_per_genre, clip_seconds, sample_rate)
    out_dir = Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = dict(version=FORMAT_VERSION, genres=genres, clips_per_genre=int(clips_per_genre),
                    artists_per_genre=int(artists_per_genre), clip_seconds=float(clip_seconds),
                    sample_rate=int(sample_rate), seed=int(seed))
    meta = out_dir / "synthetic.json"
    try:
        trusted = json.loads(meta.read_text()) == settings
    except (OSError, ValueError):
        trusted = False
    table = _table(out_dir, genres, settings["clips_per_genre"], settings["artists_per_genre"])
    if trusted and all(os.path.exists(p) for p in table["path"]):
        return table
    if not trusted:
        meta.unlink(missing_ok=True)  # files from here on may not match any recorded settings
    seed64 = int(seed) % (1 << 64)
    n = int(round(clip_seconds * sample_rate))
    for g in genres:
        style, gid = style_for(g), _name_int(g)
        (out_dir / f"synthetic-{g}").mkdir(exist_ok=True)
        artists = [_artist(seed64, gid, a) for a in range(settings["artists_per_genre"])]
        for ci in range(settings["clips_per_genre"]):
            path = out_dir / f"synthetic-{g}" / f"synthetic-{g}-{ci:04d}.wav"
            if trusted and path.exists():
                continue
            rng = np.random.default_rng([seed64, gid, ci, 0])
            y = render_clip(style, artists[ci % len(artists)], rng, n, settings["sample_rate"])
            tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
            try:
                sf.write(tmp, y, settings["sample_rate"], subtype="PCM_16", format="WAV")
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
    meta.write_text(json.dumps(settings, indent=2) + "\n")
    return table
