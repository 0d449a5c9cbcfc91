"""[augment] copies: waveform augmentation (speed, pitch, noise) and the copies cache made at extraction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from mgc.audio import augment_waveform, copy_rng, fit_length
from mgc.cache import COPY_SEP, ShardStore, cache_dir, copies_dir, copy_shards, extract_copies, original_id
from mgc.cache.records import parse
from mgc.config import AugmentConfig, load_config
from mgc.features import N_FEATURES
from mgc.pipelines.extract import run_extract
from mgc.pipelines.prepare import prepare

SR = 22050
COPIES = {"augment.copies": 2, "augment.speed": 0.15, "augment.pitch_semitones": 2.0, "augment.noise_snr_db": 15.0}
SMALL = {"dataset.clips_per_genre": 4, "dataset.clip_seconds": 2.0, "audio.duration": 2.0, "extract.shard_size": 3}


def tone(freq: float = 440.0, seconds: float = 1.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def peak_hz(y: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.argmax(spectrum) * SR / len(y))


def only(**settings) -> AugmentConfig:
    return AugmentConfig(copies=1, **settings)


# --- augment_waveform -------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [{"speed": 0.2}, {"pitch_semitones": 3.0}, {"noise_snr_db": 10.0},
                                      {"speed": 0.2, "pitch_semitones": 3.0, "noise_snr_db": 10.0}])
def test_each_change_alters_the_clip_keeps_its_length_and_is_seeded(settings):
    y, augment = tone(), only(**settings)
    out = augment_waveform(y, SR, augment, copy_rng(0, "track-1", 1))
    assert out.dtype == np.float32 and out.shape == y.shape
    assert not np.allclose(out, y, atol=1e-3)
    np.testing.assert_array_equal(out, augment_waveform(y, SR, augment, copy_rng(0, "track-1", 1)))
    assert not np.allclose(out, augment_waveform(y, SR, augment, copy_rng(0, "track-1", 2)))  # another copy
    assert not np.allclose(out, augment_waveform(y, SR, augment, copy_rng(0, "track-2", 1)))  # another track
    assert not np.allclose(out, augment_waveform(y, SR, augment, copy_rng(1, "track-1", 1)))  # another seed


def test_copy_rng_is_stable_across_processes():
    # CRC-32 of the id, not hash(): the same numbers in every process (hash() of a str is salted)
    assert copy_rng(7, "rock/001", 3).integers(0, 2**31, 3).tolist() == \
        np.random.default_rng(np.random.SeedSequence([7, 3297321489, 3])).integers(0, 2**31, 3).tolist()


def test_speed_is_tape_speed_and_pitch_shift_keeps_speed(monkeypatch):
    import librosa

    calls = {"resample": 0, "pitch_shift": 0}
    real_resample, real_shift = librosa.resample, librosa.effects.pitch_shift

    def resample(*args, **kwargs):
        calls["resample"] += 1
        return real_resample(*args, **kwargs)

    def pitch_shift(*args, **kwargs):
        calls["pitch_shift"] += 1
        return real_shift(*args, **kwargs)

    monkeypatch.setattr(librosa, "resample", resample)
    monkeypatch.setattr(librosa.effects, "pitch_shift", pitch_shift)
    y = tone(440.0)
    for k in (1, 2, 3):
        factor = copy_rng(0, "t", k).uniform(0.8, 1.2)  # the first (and only) draw of a speed-only copy
        rng = copy_rng(0, "t", k)
        out = augment_waveform(y, SR, only(speed=0.2), rng)
        after = copy_rng(0, "t", k)
        after.uniform()
        assert rng.random() == after.random()  # one draw: no pitch, no noise
        np.testing.assert_array_equal(out, fit_length(real_resample(y, orig_sr=SR, target_sr=SR / factor), len(y)))
        head = out[: int(len(y) / 1.2)]  # the part that holds audio whether the clip grew or shrank
        assert peak_hz(head) == pytest.approx(440.0 * factor, rel=0.01)
        if factor > 1:  # faster: the end is padding
            assert not np.any(out[int(len(y) / factor) + 2:])
    assert calls == {"resample": 3, "pitch_shift": 0}

    for k in (1, 2):
        steps = copy_rng(0, "t", k).uniform(-4.0, 4.0)
        out = augment_waveform(y, SR, only(pitch_semitones=4.0), copy_rng(0, "t", k))
        assert peak_hz(out) == pytest.approx(440.0 * 2 ** (steps / 12), rel=0.015)
        assert np.abs(out[-SR // 10:]).max() > 0.1  # same speed: audio to the end, no padding
    assert calls["pitch_shift"] == 2


def test_all_zero_changes_nothing_and_draws_nothing():
    y, rng = tone(), copy_rng(0, "t", 1)
    out = augment_waveform(y, SR, AugmentConfig(), rng)  # not a valid [augment] (copies needs a change) but defined
    np.testing.assert_array_equal(out, y)
    assert rng.random() == copy_rng(0, "t", 1).random()


def test_noise_lies_in_the_drawn_snr_range():
    y = tone(330.0, 2.0)
    measured = []
    for k in range(1, 9):
        drawn = copy_rng(3, "t", k).uniform(12.0, 32.0)
        out = augment_waveform(y, SR, only(noise_snr_db=12.0), copy_rng(3, "t", k))
        noise = out.astype(np.float64) - y
        snr = 10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean(noise ** 2))
        assert 12.0 - 0.2 <= snr <= 32.0 + 0.2
        assert snr == pytest.approx(drawn, abs=0.2)
        assert abs(np.mean(noise)) < 0.05 * np.std(noise)  # zero-mean
        measured.append(snr)
    assert max(measured) - min(measured) > 3  # drawn per copy, not fixed


# --- the copies cache -------------------------------------------------------------------------


def config_for(workdir: Path, **overrides):
    return load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(workdir), **SMALL, **overrides})


def tfrecord_bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("shard-*.tfrecord"))}


def read_records(files) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    import tensorflow as tf

    out = {}
    for path in files:
        for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            record_id, spec, features = parse(raw, N_FEATURES)
            out[record_id] = (spec, features)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two workdirs, same seed: ``a`` extracted with copies by the extract stage (2 workers),
    ``b`` extracted plainly (1 worker), its copies made afterwards by extract_copies alone."""
    root = tmp_path_factory.mktemp("copies")
    a, b = root / "a", root / "b"
    lines: list[str] = []
    prepare(config_for(a, **COPIES), echo=lambda *_: None)
    run_extract(config_for(a, **COPIES), workers=2, progress=False, echo=lines.append)
    prepare(config_for(b), echo=lambda *_: None)
    run_extract(config_for(b), workers=1, progress=False, echo=lambda *_: None)
    manifest = pd.read_csv(b / "manifest.csv", dtype=str, keep_default_na=False)
    train = manifest[manifest["split"] == "baseline_train"]
    fresh = extract_copies(config_for(b, **COPIES), train, workers=1, progress=False)
    return {"a": a, "b": b, "lines": lines, "fresh": fresh,
            "manifest": pd.read_csv(a / "manifest.csv", dtype=str, keep_default_na=False)}


def test_extract_makes_copies_of_baseline_train_tracks_only(runs):
    config, manifest = config_for(runs["a"], **COPIES), runs["manifest"]
    train = manifest.loc[manifest["split"] == "baseline_train", "track_id"].tolist()
    assert 0 < len(train) < len(manifest) and set(manifest["split"]) > {"baseline_train"}
    latest, matrix = ShardStore(copies_dir(config), N_FEATURES).latest()
    assert (latest["status"] == "ok").all() and matrix.shape == (2 * len(train), N_FEATURES)
    assert sorted(latest["track_id"]) == sorted(f"{t}{COPY_SEP}{k}" for t in train for k in (1, 2))
    assert set(latest["track_id"].map(original_id)) == set(train)  # never fusion_train, validation or test
    assert runs["lines"][-1] == (f"extract: {2 * len(train)} augmented copies of {len(train)} baseline_train "
                                 f"tracks ready ({2 * len(train)} made now) -> {copies_dir(config)}")
    assert copies_dir(config).parent == cache_dir(config)
    settings = json.loads((copies_dir(config) / "settings.json").read_text())
    assert settings["copies"] == 2 and settings["seed"] == 0
    # the tables and statistics are the plain run's, byte for byte
    for name in ("features.csv", "failures.csv", "feature_stats.json"):
        assert (runs["a"] / name).read_bytes() == (runs["b"] / name).read_bytes(), name
    assert COPY_SEP not in (runs["a"] / "features.csv").read_text()


def test_copies_are_deterministic_resumable_and_seeded(runs):
    config = config_for(runs["a"], **COPIES)
    before = tfrecord_bytes(copies_dir(config))
    assert len(before) >= 2  # shards of 3
    # same seed, another workdir, another worker count: the same bytes
    assert tfrecord_bytes(copies_dir(config_for(runs["b"], **COPIES))) == before
    assert runs["fresh"].n_extracted == runs["fresh"].n_copies > 0 and runs["fresh"].n_failed == 0
    manifest = runs["manifest"]
    train = manifest[manifest["split"] == "baseline_train"]
    again = extract_copies(config, train, workers=2, progress=False)
    assert (again.n_extracted, again.n_copies, again.n_tracks) == (0, 2 * len(train), len(train))
    assert tfrecord_bytes(copies_dir(config)) == before

    reseeded = config_for(runs["a"], **COPIES, **{"run.seed": 1})
    assert copies_dir(reseeded) != copies_dir(config) and cache_dir(reseeded) == cache_dir(config)
    one = train.iloc[:1]
    assert extract_copies(reseeded, one, workers=1, progress=False).n_extracted == 2
    seed0 = read_records(sorted(copies_dir(config).glob("*.tfrecord")))
    seed1 = read_records(sorted(copies_dir(reseeded).glob("*.tfrecord")))
    originals = read_records(sorted(cache_dir(config).glob("*.tfrecord")))
    track = one["track_id"].iloc[0]
    assert sorted(seed1) == [f"{track}{COPY_SEP}1", f"{track}{COPY_SEP}2"]
    for copy in seed1:
        assert seed0[copy][0].shape == seed1[copy][0].shape == originals[track][0].shape
        assert not np.array_equal(seed0[copy][0], seed1[copy][0])
        assert not np.array_equal(seed0[copy][0], originals[track][0])
    assert not np.array_equal(seed0[f"{track}{COPY_SEP}1"][0], seed0[f"{track}{COPY_SEP}2"][0])


def test_copy_shards_filters_by_original_and_copy_count(runs, monkeypatch):
    import mgc.cache.copies as copies_module

    config, manifest = config_for(runs["a"], **COPIES), runs["manifest"]
    train = manifest.loc[manifest["split"] == "baseline_train", "track_id"].tolist()
    other = manifest.loc[manifest["split"] != "baseline_train", "track_id"].tolist()
    wanted = [train[2], train[0]]
    files, ids, originals = copy_shards(config, wanted + other[:2])
    assert ids.tolist() == [f"{t}{COPY_SEP}{k}" for t in wanted for k in (1, 2)]
    assert originals.tolist() == [t for t in wanted for _ in (1, 2)]
    assert files == sorted(files) and all(Path(f).is_file() and Path(f).parent == copies_dir(config) for f in files)
    records = read_records(files)
    assert set(ids) <= set(records)
    holding = {f for f in files if set(read_records([f])) & set(ids)}
    assert holding == set(files)  # no shard without a wanted copy

    all_files, all_ids, _ = copy_shards(config, train)
    assert len(all_ids) == 2 * len(train) and all_files == sorted(str(p) for p in copies_dir(config).glob("*.tfrecord"))
    for result in (copy_shards(config, other), copy_shards(config, []),
                   copy_shards(config_for(runs["a"]), train),  # copies = 0
                   copy_shards(config_for(runs["a"], **{**COPIES, "augment.speed": 0.1}), train)):  # not made
        assert result[0] == [] and len(result[1]) == len(result[2]) == 0 and result[1].dtype.kind == "U"
    # fewer copies than a cache holds (a cache keyed without the count): only k <= copies count
    one = config_for(runs["a"], **{**COPIES, "augment.copies": 1})
    monkeypatch.setattr(copies_module, "copies_dir", lambda _: copies_dir(config))
    _, ids, originals = copy_shards(one, train)
    assert ids.tolist() == [f"{t}{COPY_SEP}1" for t in train] and originals.tolist() == train


def test_a_failed_copy_is_recorded_and_never_stops_the_run(runs, monkeypatch):
    import mgc.audio.augment as augment_module

    config = config_for(runs["a"], **COPIES, **{"run.seed": 2})
    manifest = runs["manifest"]
    train = manifest[manifest["split"] == "baseline_train"].iloc[:2]
    bad = train["track_id"].iloc[0]
    real = augment_module.augment_waveform

    def fragile(y, sample_rate, augment, rng):
        if np.array_equal(y, fragile.bad_clip):
            raise ValueError("boom")
        return real(y, sample_rate, augment, rng)

    from mgc.audio import load_clip

    fragile.bad_clip = load_clip(train["path"].iloc[0], sample_rate=SR, duration=2.0, min_duration=1.0)
    monkeypatch.setattr(augment_module, "augment_waveform", fragile)
    result = extract_copies(config, train, workers=1, progress=False)  # in this process: the patch applies
    assert (result.n_tracks, result.n_copies, result.n_failed, result.n_extracted) == (2, 2, 2, 4)
    latest, _ = ShardStore(copies_dir(config), N_FEATURES).latest()
    failed = latest[latest["status"] == "failed"]
    assert sorted(failed["track_id"]) == [f"{bad}{COPY_SEP}1", f"{bad}{COPY_SEP}2"]
    assert failed["reason"].str.contains("ValueError: boom").all()
    assert copy_shards(config, [bad])[1].size == 0
    assert extract_copies(config, train, workers=1, progress=False).n_extracted == 0  # remembered
    monkeypatch.setattr(augment_module, "augment_waveform", real)
    retried = extract_copies(config, train, workers=1, progress=False, retry_failures=True)
    assert (retried.n_extracted, retried.n_copies, retried.n_failed) == (2, 4, 0)


def test_part_workers_make_no_copies_and_merge_does(runs):
    config = config_for(runs["a"], **COPIES, **{"run.seed": 3})  # the same main cache, new copies
    tables = {name: (runs["a"] / name).read_bytes() for name in ("features.csv", "failures.csv", "feature_stats.json")}
    lines: list[str] = []
    run_extract(config, part="0/2", workers=1, progress=False, echo=lines.append)
    assert not copies_dir(config).exists() and "augmented copies" not in " ".join(lines)
    run_extract(config, merge=True, workers=2, progress=False, echo=lines.append)
    n_train = int((runs["manifest"]["split"] == "baseline_train").sum())
    assert lines[-1].startswith(f"extract: {2 * n_train} augmented copies of {n_train} baseline_train tracks ready "
                                f"({2 * n_train} made now)")
    assert {name: (runs["a"] / name).read_bytes() for name in tables} == tables
