"""prepare + extract: real clips, FMA-format fixtures, bad files, resume after kill -9, cache keys."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import REAL_AUDIO, ROOT
from fixtures import fma_tracks, write_fma
from mgc.cache import ShardStore, cache_dir, extract
from mgc.cache.records import parse
from mgc.config import load_config
from mgc.features import N_FEATURES, feature_columns
from mgc.pipelines.cli import main


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "mgc.pipelines", *args], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=timeout,
    )


def read_features_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, index_col=0, header=[0, 1, 2])


def write_bad_files(folder: Path) -> dict[str, Path]:
    """One file per kind of failure extraction must survive."""
    folder.mkdir(parents=True, exist_ok=True)
    sr = 22050
    good = REAL_AUDIO / "Kevin_MacLeod_-_Vibe_Ace.ogg"
    files = {
        "empty": folder / "empty.mp3",
        "not_audio": folder / "notes.wav",
        "truncated": folder / "truncated.ogg",
        "missing": folder / "missing.flac",
        "too_short": folder / "short.wav",
        "silent": folder / "silent.wav",
    }
    files["empty"].write_bytes(b"")
    files["not_audio"].write_text("these are not the samples you are looking for\n" * 20)
    files["truncated"].write_bytes(good.read_bytes()[:300])
    sf.write(files["too_short"], 0.3 * np.sin(np.arange(sr // 2) / 5.0), sr)
    sf.write(files["silent"], np.zeros(sr * 5), sr)
    return files


def test_extract_records_every_bad_file_and_keeps_good_ones(tmp_path):
    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(tmp_path / "run"), "audio.duration": 5.0})
    bad = write_bad_files(tmp_path / "bad")
    good = [REAL_AUDIO / "admiralbob77_-_Choice_-_Drum-bass.ogg", REAL_AUDIO / "sorohanro_-_solo-trumpet-06.ogg"]
    tracks = pd.DataFrame(
        {"track_id": [f"good{i}" for i in range(len(good))] + list(bad),
         "path": [str(p) for p in good] + [str(p) for p in bad.values()]}
    )
    result = extract(config, tracks, workers=2, progress=False)
    assert (result.n_ok, result.n_failed) == (2, 6)
    failures = pd.read_csv(result.failures_csv, keep_default_na=False).set_index("track_id")
    assert list(failures.columns) == ["path", "reason"]
    expected = {"empty": "empty", "not_audio": "cannot decode", "missing": "not found",
                "too_short": "too short", "silent": "silent"}
    for name, word in expected.items():
        assert word in failures.loc[name, "reason"], failures.loc[name, "reason"]
    assert failures.loc["truncated", "reason"]  # libsndfile's own words
    features = read_features_csv(result.features_csv)
    assert list(features.index) == ["good0", "good1"]


@pytest.mark.slow
def test_fma_fixture_prepare_and_extract(tmp_path):
    tracks = fma_tracks(per_genre=10)
    meta, audio = write_fma(tmp_path / "fma", tracks, seconds=2.0)
    (audio / "000" / "000003.mp3").write_bytes(b"\x00" * 64)  # like FMA's files with no audio
    workdir = tmp_path / "run"
    args = ["--workdir", str(workdir), "--set", f"dataset.metadata_dir='{meta}'", "--set",
            f"dataset.audio_dir='{audio}'", "--set", "audio.duration=2.0", "--set", "audio.min_duration=1.0",
            "--quiet"]
    assert main(["prepare", str(ROOT / "pipelines/fma_top5.toml"), *args]) == 0
    manifest = pd.read_csv(workdir / "manifest.csv", dtype=str, keep_default_na=False)
    assert list(manifest.columns) == ["track_id", "path", "genre", "artist", "split"]
    assert sorted(manifest["genre"].unique()) == ["Electronic", "Folk", "Hip-Hop", "Pop", "Rock"]
    assert len(manifest) == 50 and manifest["path"].str.endswith("/000/000002.mp3").any()
    assert main(["extract", str(ROOT / "pipelines/fma_top5.toml"), *args, "--workers", "1"]) == 0
    failures = pd.read_csv(workdir / "failures.csv", dtype=str)
    assert list(failures["track_id"]) == ["3"]
    features = read_features_csv(workdir / "features.csv")
    assert len(features) == 49 and features.index.name == "track_id"
    assert features.columns.equals(feature_columns())
    first = (workdir / "features.csv").read_text().splitlines()[:4]
    assert first[0].startswith("feature,chroma_cens,") and first[1].startswith("statistics,kurtosis,")
    assert first[2].startswith("number,01,02,") and first[3].startswith("track_id,,")


@pytest.mark.slow
def test_cli_on_real_clips_reports_failures_and_exits_zero(tmp_path):
    root = tmp_path / "real"
    music = ["Kevin_MacLeod_-_Vibe_Ace.ogg", "admiralbob77_-_Choice_-_Drum-bass.ogg",
             "442789__lena-orsa__happy-music-pistachio-ice-cream-ragtime.ogg",
             "147793__setuniman__sweet-waltz-0i-22mi.ogg", "sorohanro_-_solo-trumpet-06.ogg"]
    other = ["198-209-0000.ogg", "3436-172162-0000.ogg", "5703-47212-0000.ogg",
             "glacier-bay-humpback.ogg", "456440__inspectorj__bird-whistling-robin-single-13.ogg"]
    for genre, names in (("music", music), ("not-music", other)):
        (root / genre).mkdir(parents=True)
        for name in names:
            (root / genre / name).symlink_to(REAL_AUDIO / name)
    args = ["pipelines/smoke.toml", "--workdir", str(tmp_path / "run"), "--set", "dataset.kind=folder",
            "--set", f"dataset.root='{root}'", "--set", "audio.duration=10.0", "--set", "audio.min_duration=3.0",
            "--quiet"]
    assert cli("prepare", *args).returncode == 0
    out = cli("extract", *args)
    assert out.returncode == 0, out.stderr
    assert "1 failed" in out.stdout and "Traceback" not in out.stderr
    failures = pd.read_csv(tmp_path / "run" / "failures.csv")
    assert failures["track_id"].tolist() == ["not-music/456440__inspectorj__bird-whistling-robin-single-13"]
    assert "too short" in failures["reason"][0]
    features = read_features_csv(tmp_path / "run" / "features.csv")
    assert len(features) == 9 and np.isfinite(features.to_numpy()).all()


@pytest.mark.slow
def test_all_failed_exits_nonzero_with_one_line(tmp_path):
    csv = tmp_path / "tracks.csv"
    for i in range(6):
        (tmp_path / f"x{i}.wav").write_bytes(b"")
    pd.DataFrame({"path": [f"x{i}.wav" for i in range(6)], "genre": ["a", "b"] * 3}).to_csv(csv, index=False)
    out = cli("run", "pipelines/smoke.toml", "--workdir", str(tmp_path / "run"), "--set", "dataset.kind=csv",
              "--set", f"dataset.csv='{csv}'", "--quiet")
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: no track could be extracted") and "Traceback" not in out.stderr


def _smoke_args(workdir: Path) -> list[str]:
    return ["pipelines/smoke.toml", "--workdir", str(workdir), "--set", "extract.workers=1", "--set",
            "extract.shard_size=3", "--quiet"]


@pytest.mark.slow
def test_resume_after_kill_9_gives_identical_results(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert cli("prepare", *_smoke_args(reference)).returncode == 0
    assert cli("extract", *_smoke_args(reference)).returncode == 0
    assert cli("prepare", *_smoke_args(killed)).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "mgc.pipelines", "extract", *_smoke_args(killed)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(killed)})
    shards = cache_dir(config)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(shards.glob("shard-*.npz"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(shards.glob("shard-*.npz")))
    assert 2 <= done_before < 10, "the kill should land mid-run (30 tracks in shards of 3)"

    out = cli("extract", *_smoke_args(killed))
    assert out.returncode == 0, out.stderr
    assert f"{done_before * 3} from the cache" in out.stdout
    assert not [p for p in shards.iterdir() if ".tmp" in p.name]
    assert (killed / "features.csv").read_bytes() == (reference / "features.csv").read_bytes()

    def examples(workdir):
        cfg = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(workdir)})
        import tensorflow as tf

        records = {}
        for path in sorted(cache_dir(cfg).glob("*.tfrecord")):
            for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
                track_id, spec, feats = parse(raw, N_FEATURES)
                records[track_id] = (spec, feats)
        return records

    a, b = examples(reference), examples(killed)
    assert sorted(a) == sorted(b) and len(a) == 30
    for track_id in a:
        np.testing.assert_array_equal(a[track_id][0], b[track_id][0])
        np.testing.assert_array_equal(a[track_id][1], b[track_id][1])


@pytest.mark.slow
def test_rerun_skips_everything_and_settings_change_starts_new_cache(tmp_path, smoke_run):
    workdir = tmp_path / "run"
    shutil.copytree(smoke_run, workdir, symlinks=True)
    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(workdir)})
    # copied manifest points at smoke_run's audio: paths are part of the cache key per track
    manifest = pd.read_csv(workdir / "manifest.csv", dtype=str, keep_default_na=False)
    again = extract(config, manifest, progress=False)
    assert again.n_extracted == 0 and again.n_ok == 30
    assert (workdir / "features.csv").read_bytes() == (smoke_run / "features.csv").read_bytes()

    changed = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(workdir), "spectrogram.n_mels": 64})
    assert cache_dir(changed) != cache_dir(config)
    fresh = extract(changed, manifest, workers=2, progress=False)
    assert fresh.n_extracted == 30
    _, matrix = ShardStore(cache_dir(changed), N_FEATURES).latest()
    assert matrix.shape == (30, N_FEATURES)


@pytest.mark.slow
def test_features_csv_round_trips_exactly(smoke_run):
    features = read_features_csv(smoke_run / "features.csv")
    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(smoke_run)})
    latest, matrix = ShardStore(cache_dir(config), N_FEATURES).latest()
    rows = latest.set_index("track_id").loc[features.index, "row"].to_numpy(dtype=int)
    np.testing.assert_array_equal(features.to_numpy(np.float32), matrix[rows])


@pytest.mark.parametrize("args, message", [
    (["prepare", "pipelines/nope.toml"], "config file not found"),
    (["prepare", "pipelines/smoke.toml", "--set", "audio.rate=1"], "unknown key 'rate' in [audio]"),
    (["prepare", "pipelines/smoke.toml", "--set", "dataset.kind=spotify"], "unknown dataset kind 'spotify'"),
    (["prepare", "pipelines/smoke.toml", "--set", "dataset.kind=fma"], "needs metadata_dir"),
    (["prepare", "pipelines/smoke.toml", "--set", "dataset.kind=gtzan", "--set", "dataset.root=/no/such/dir"],
     "/no/such/dir"),
    (["extract", "pipelines/smoke.toml", "--workdir", "/tmp/mgc-never-prepared"], "run the prepare stage first"),
    (["prepare", "pipelines/fma_top5.toml", "--set", "dataset.audio_dir=/no/fma_large"], "audio_dir not found"),
])
def test_user_errors_are_one_line(args, message):
    out = cli(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], out.stderr


def test_help_lists_stages():
    out = cli("--help")
    assert out.returncode == 0
    for stage in ("prepare", "extract", "run"):
        assert stage in out.stdout


def test_prepare_is_byte_for_byte_deterministic(tmp_path):
    for name in ("a", "b"):
        assert main(["prepare", str(ROOT / "pipelines/smoke.toml"), "--workdir", str(tmp_path / name), "--quiet"]) == 0
    a = (tmp_path / "a" / "manifest.csv").read_text().replace(str(tmp_path / "a"), "")
    b = (tmp_path / "b" / "manifest.csv").read_text().replace(str(tmp_path / "b"), "")
    assert a == b
    assert main(["prepare", str(ROOT / "pipelines/smoke.toml"), "--workdir", str(tmp_path / "a"), "--seed", "1",
                 "--quiet"]) == 0
    assert (tmp_path / "a" / "manifest.csv").read_text().replace(str(tmp_path / "a"), "") != a


@pytest.mark.slow
def test_results_do_not_depend_on_worker_count(tmp_path, smoke_run):
    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(tmp_path)})
    manifest = pd.read_csv(smoke_run / "manifest.csv", dtype=str, keep_default_na=False).iloc[:6]
    extract(config, manifest, workers=1, progress=False)
    reference = read_features_csv(smoke_run / "features.csv").loc[manifest["track_id"]]
    np.testing.assert_array_equal(read_features_csv(tmp_path / "features.csv").to_numpy(), reference.to_numpy())


@pytest.mark.slow
def test_a_crashing_worker_costs_only_its_own_track(smoke_run):
    from crashing_worker import crash_on_marked_files
    from mgc.parallel import CRASHED, Done, Failed, run_parallel

    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(smoke_run)})
    manifest = pd.read_csv(smoke_run / "manifest.csv", dtype=str, keep_default_na=False)
    tasks = list(zip(manifest["track_id"][:12], manifest["path"][:12]))
    tasks[5] = (tasks[5][0], tasks[5][1] + ".CRASH")
    results = list(run_parallel(tasks, crash_on_marked_files, workers=2, args=(config.audio, config.spectrogram),
                                preload=("mgc.parallel_preload",)))
    assert [r.task for r in results] == tasks  # every track, in order
    assert results[5] == Failed(tasks[5], CRASHED)
    assert all(isinstance(r, Done) for i, r in enumerate(results) if i != 5)


def test_failures_are_remembered_until_retried(tmp_path):
    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(tmp_path / "run"), "audio.duration": 5.0})
    broken = tmp_path / "broken.ogg"
    broken.write_bytes(b"OggS" + bytes(100))
    tracks = pd.DataFrame({"track_id": ["good", "broken"],
                           "path": [str(REAL_AUDIO / "admiralbob77_-_Choice_-_Drum-bass.ogg"), str(broken)]})
    assert extract(config, tracks, workers=1, progress=False).n_failed == 1
    again = extract(config, tracks, workers=1, progress=False)  # unchanged file: not tried again
    assert (again.n_extracted, again.n_failed) == (0, 1)
    retried = extract(config, tracks, workers=1, progress=False, retry_failures=True)  # e.g. after a decoder upgrade
    assert (retried.n_extracted, retried.n_ok, retried.n_failed) == (1, 1, 1)


def test_a_replaced_or_new_file_is_extracted_again(tmp_path):
    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(tmp_path / "run"), "audio.duration": 5.0})
    song = tmp_path / "song.ogg"
    shutil.copyfile(REAL_AUDIO / "admiralbob77_-_Choice_-_Drum-bass.ogg", song)
    tracks = pd.DataFrame({"track_id": ["song", "later"], "path": [str(song), str(tmp_path / "later.ogg")]})
    first = extract(config, tracks, workers=1, progress=False)
    assert (first.n_ok, first.n_failed) == (1, 1)
    before = read_features_csv(first.features_csv)
    shutil.copyfile(REAL_AUDIO / "Kevin_MacLeod_-_Vibe_Ace.ogg", song)  # same path, new audio
    shutil.copyfile(REAL_AUDIO / "sorohanro_-_solo-trumpet-06.ogg", tmp_path / "later.ogg")  # the missing file arrives
    again = extract(config, tracks, workers=1, progress=False)
    assert (again.n_extracted, again.n_ok, again.n_failed) == (2, 2, 0)
    after = read_features_csv(again.features_csv)
    assert not np.allclose(after.loc["song"].to_numpy(), before.loc["song"].to_numpy())
    assert extract(config, tracks, workers=1, progress=False).n_extracted == 0


@pytest.mark.slow
def test_ctrl_c_saves_work_and_a_second_writer_is_refused(tmp_path):
    workdir = tmp_path / "run"
    args = ["pipelines/smoke.toml", "--workdir", str(workdir), "--set", "extract.shard_size=2",
            "--set", "extract.workers=2", "--set", "dataset.clips_per_genre=30", "--quiet"]
    assert cli("prepare", *args).returncode == 0
    shards = cache_dir(load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(workdir)}))
    proc = subprocess.Popen([sys.executable, "-m", "mgc.pipelines", "extract", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(shards.glob("shard-*.npz"))) < 2:
        time.sleep(0.05)
    # Freeze the run so that it cannot finish before the Ctrl-C arrives, however long the second
    # process takes to start on a busy machine (it used to, and the test then saw exit 0).
    os.killpg(proc.pid, signal.SIGSTOP)
    assert len(list(shards.glob("shard-*.npz"))) < 45, "the run should be frozen mid-way (90 tracks, shards of 2)"
    second = cli("extract", *args)
    assert second.returncode == 2 and "another extract is writing" in second.stderr
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    os.killpg(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted: finished work is kept" in err and "Traceback" not in err
    saved = len(ShardStore(shards, N_FEATURES).latest()[0])  # incl. the partial shard saved on Ctrl-C
    assert 4 <= saved < 90
    resumed = cli("extract", *args)
    assert resumed.returncode == 0
    assert f"90 of 90 tracks ready ({saved} from the cache, {90 - saved} extracted now)" in resumed.stdout


def test_ctrl_c_swallowed_by_a_library_still_exits_130(tmp_path, monkeypatch, capsys):
    """A KeyboardInterrupt raised where a finalizer or library swallows it (simulated: the
    handler runs, its exception is lost) must still stop the run: exit 130, no tables."""
    import mgc.cache.builder as builder
    from mgc import interrupt

    workdir = tmp_path / "run"
    args = ["pipelines/smoke.toml", "--workdir", str(workdir), "--quiet", "--set", "extract.shard_size=2"]
    assert main(["prepare", *args]) == 0
    real = builder.process_track
    calls = []

    def work(task, audio, spec):
        calls.append(task)
        if len(calls) == 3:
            try:
                interrupt._on_sigint(signal.SIGINT, None)  # what Ctrl-C runs ...
            except KeyboardInterrupt:
                pass  # ... and its exception, lost in a library
        return real(task, audio, spec)

    monkeypatch.setattr(builder, "process_track", work)
    assert main(["extract", *args, "--workers", "1"]) == 130
    assert "interrupted: finished work is kept" in capsys.readouterr().err
    assert len(calls) == 3 and not (workdir / "features.csv").exists()
    saved = ShardStore(cache_dir(load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(workdir)})),
                       N_FEATURES).latest()[0]
    assert len(saved) == 3  # finished work kept
    assert main(["extract", *args, "--workers", "1"]) == 0  # and resumed


def _session_processes(sid: int) -> list[int]:
    """Pids of the live processes in session ``sid`` (from /proc), zombies excluded."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux's")
def test_kill_9_of_extract_leaves_no_worker_behind(tmp_path):
    """Workers and the fork server exit when the parent dies, so `extract | tee log` ends."""
    workdir = tmp_path / "run"
    args = ["pipelines/smoke.toml", "--workdir", str(workdir), "--set", "extract.shard_size=2",
            "--set", "dataset.clips_per_genre=30", "--quiet"]
    assert cli("prepare", *args).returncode == 0
    shards = cache_dir(load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(workdir)}))
    proc = subprocess.Popen([sys.executable, "-m", "mgc.pipelines", "extract", *args, "--workers", "2"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(shards.glob("shard-*.npz"))) < 1:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGSTOP)  # hold the parent while we look at its workers
    assert len(_session_processes(proc.pid)) >= 4, "parent, fork server and two workers"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 60
    while _session_processes(proc.pid) and time.time() < deadline:
        time.sleep(0.1)
    left = _session_processes(proc.pid)
    for pid in left:  # orphans (the defect): clean up before failing
        os.kill(pid, signal.SIGKILL)
    assert left == [], "worker processes outlived the killed extract"
    proc.stdout.read()  # every holder of the pipe is gone: it is at its end, as `| tee log` needs


def test_a_failed_extract_never_replaces_good_tables(tmp_path):
    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(tmp_path / "run"), "audio.duration": 5.0})
    songs = tmp_path / "share"
    songs.mkdir()
    for name in ("admiralbob77_-_Choice_-_Drum-bass.ogg", "sorohanro_-_solo-trumpet-06.ogg"):
        shutil.copyfile(REAL_AUDIO / name, songs / name)
    tracks = pd.DataFrame({"track_id": ["a", "b"], "path": sorted(str(p) for p in songs.iterdir())})
    first = extract(config, tracks, workers=1, progress=False)
    tables = {p: p.read_bytes() for p in (first.features_csv, first.failures_csv)}

    # Every track fails under other settings: the error says why, the tables stay.
    strict = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(tmp_path / "run"), "audio.duration": 5.0,
                                                         "audio.offset": 3600.0})
    from mgc.errors import UserError

    with pytest.raises(UserError, match=r"no track could be extracted: 2 of 2 failed: too short"):
        extract(strict, tracks, workers=1, progress=False)
    assert {p: p.read_bytes() for p in tables} == tables

    # The share is unmounted: every file is missing. Nothing is recorded or rewritten ...
    songs.rename(tmp_path / "away")
    with pytest.raises(UserError, match=r"2 of 2 failed: file not found \(2\) \(is the dataset folder"):
        extract(config, tracks, workers=1, progress=False)
    assert {p: p.read_bytes() for p in tables} == tables
    # ... and when it comes back unchanged, the cached records are used again.
    (tmp_path / "away").rename(songs)
    back = extract(config, tracks, workers=1, progress=False)
    assert (back.n_extracted, back.n_ok) == (0, 2)
    assert {p: p.read_bytes() for p in tables} == tables

    # One file missing: a failure row, and its record is reused when it reappears.
    Path(tracks["path"][1]).rename(tmp_path / "b.ogg")
    partial = extract(config, tracks, workers=1, progress=False)
    assert (partial.n_extracted, partial.n_ok, partial.n_failed) == (0, 1, 1)
    assert "file not found" in partial.failures_csv.read_text()
    (tmp_path / "b.ogg").rename(tracks["path"][1])
    again = extract(config, tracks, workers=1, progress=False)
    assert (again.n_extracted, again.n_ok, again.n_failed) == (0, 2, 0)
    assert {p: p.read_bytes() for p in tables} == tables
