"""Extraction in parts: ``extract --part i/N`` workers + ``--merge`` give what one extract gives."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from mgc.cache import ShardStore, cache_dir, parse_part, part_of
from mgc.cache.store import Shard
from mgc.config import load_config
from mgc.datasets.manifest import read_manifest
from mgc.errors import UserError
from mgc.features import N_FEATURES
from mgc.input import class_names, make_dataset
from mgc.pipelines.cli import main

N = 3
TABLES = ("features.csv", "failures.csv", "feature_stats.json")


def args(workdir: Path, *extra: str) -> list[str]:
    return ["pipelines/smoke.toml", "--workdir", str(workdir), "--set", "extract.shard_size=4", "--quiet", *extra]


def extract(workdir: Path, *extra: str) -> str:
    """Run ``extract`` in this process (one TensorFlow import for the module); its stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["extract", *args(workdir, "--workers", "1", *extra)]) == 0
    return out.getvalue()


def config_of(workdir: Path):
    return load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(workdir), "extract.shard_size": 4})


def with_manifest(workdir: Path, reference: Path) -> Path:
    """A workdir holding ``reference``'s manifest: same audio files, empty cache."""
    workdir.mkdir()
    shutil.copyfile(reference / "manifest.csv", workdir / "manifest.csv")
    return workdir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``reference``: prepare + one plain extract. ``workers``: the N ``--part`` runs only (a
    pristine copy for each test to continue from). ``sharded``: those runs + ``--merge``."""
    root = tmp_path_factory.mktemp("shard")
    reference = root / "reference"
    assert main(["prepare", *args(reference)]) == 0
    extract(reference)
    workers = with_manifest(root / "workers", reference)
    outputs = [extract(workers, "--part", f"{i}/{N}") for i in range(N)]
    assert not [name for name in TABLES if (workers / name).exists()], "a worker has only part of the data"
    for i, out in enumerate(outputs):
        assert f"extract --part {i}/{N}:" in out and "extract --merge" in out
    sharded = root / "sharded"
    shutil.copytree(workers, sharded)
    merged = extract(sharded, "--merge")
    assert "0 extracted now" in merged and "merged" in merged
    return reference, workers, sharded


def copy_of(workdir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(workdir, tmp_path / "copy"))


def records(workdir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Spectrogram and features per track id, as the model stages' tf.data input yields them."""
    config = config_of(workdir)
    manifest = read_manifest(config)
    ds = make_dataset(config, manifest, class_names(manifest), batch_size=7, include_track_id=True)
    out = {}
    for x, _ in ds:
        for track_id, spectrogram, features in zip(x["track_id"].numpy(), x["spectrogram"].numpy(),
                                                   x["features"].numpy()):
            out[track_id.decode()] = (spectrogram, features)
    return out


def assert_same_outputs(workdir: Path, reference: Path) -> None:
    for name in ("features.csv", "failures.csv"):
        assert (workdir / name).read_bytes() == (reference / name).read_bytes(), name
    stats = [json.loads((w / "feature_stats.json").read_text()) for w in (workdir, reference)]
    assert stats[0] == stats[1]


def test_n_shards_then_merge_equal_one_extract(runs):
    reference, _, sharded = runs
    assert_same_outputs(sharded, reference)
    a, b = records(reference), records(sharded)
    assert sorted(a) == sorted(b) and len(a) == 30
    for track_id in a:
        np.testing.assert_array_equal(a[track_id][0], b[track_id][0])
        np.testing.assert_array_equal(a[track_id][1], b[track_id][1])
    # the model stages read the workers' own shard files through the merged index
    latest, _ = ShardStore(cache_dir(config_of(sharded)), N_FEATURES).latest()
    assert latest["shard"].str.match(rf"part-\d-of-{N}/shard-\d{{5}}\.tfrecord").all()


def test_parts_cover_every_track_once(runs):
    _, workers, _ = runs
    manifest = read_manifest(config_of(workers))
    directory = cache_dir(config_of(workers))
    seen = []
    for i in range(N):
        table, _ = ShardStore(directory / f"part-{i}-of-{N}", N_FEATURES).read_index()
        assert set(table["track_id"]) == set(manifest["track_id"][part_of(manifest["track_id"], N) == i])
        seen += list(table["track_id"])
    assert sorted(seen) == sorted(manifest["track_id"])  # every track once, no overlap


def test_partition_is_a_stable_hash():
    # the same on every machine and Python (no salted hash()), and independent of manifest order
    assert part_of(["000002", "000005", "blues/blues.00000", "x"], 3).tolist() == [2, 2, 2, 0]
    ids = [f"{i:06d}" for i in range(3000)]
    parts = part_of(ids, 7)
    assert parts.min() == 0 and parts.max() == 6 and np.bincount(parts).min() > 350
    assert (part_of(ids[::-1], 7)[::-1] == parts).all()


def test_rerunning_a_worker_extracts_nothing(runs, tmp_path):
    workdir = copy_of(runs[1], tmp_path)
    part = cache_dir(config_of(workdir)) / f"part-1-of-{N}"
    before = sorted(p.name for p in part.iterdir())
    assert "0 extracted now" in extract(workdir, "--part", f"1/{N}")
    assert sorted(p.name for p in part.iterdir()) == before


def test_a_killed_worker_resumes_its_own_part(runs, tmp_path):
    workdir = copy_of(runs[1], tmp_path)
    part = cache_dir(config_of(workdir)) / f"part-0-of-{N}"
    last = max(part.glob("shard-*.npz"))
    lost = len(ShardStore(part, N_FEATURES).read_index()[0]) - len(np.load(last)["track_id"])
    last.unlink()  # killed before committing its last shard: an orphan .tfrecord is left
    assert f"{lost} from the cache" in extract(workdir, "--part", f"0/{N}")
    extract(workdir, "--merge")
    assert_same_outputs(workdir, runs[0])


def test_plain_extract_after_the_workers_reuses_their_shards(runs, tmp_path):
    workdir = copy_of(runs[1], tmp_path)
    out = extract(workdir)  # no --merge: a plain extract finds the workers' shards itself
    assert "30 from the cache, 0 extracted now" in out and "merged" in out
    assert_same_outputs(workdir, runs[0])
    again = extract(workdir)
    assert "0 extracted now" in again and "merged" not in again


def test_merge_with_missing_parts_fails_in_one_line(runs, tmp_path, capsys):
    workdir = copy_of(runs[1], tmp_path)
    directory = cache_dir(config_of(workdir))
    manifest = read_manifest(config_of(workdir))
    shutil.rmtree(directory / f"part-1-of-{N}")  # never started
    last = max((directory / f"part-2-of-{N}").glob("shard-*.npz"))
    with np.load(last) as z:
        missing = int((part_of(manifest["track_id"], N) == 1).sum()) + len(z["track_id"]) + len(z["failed_track_id"])
    last.unlink()  # unfinished
    capsys.readouterr()
    assert main(["extract", *args(workdir, "--merge")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: extract --merge: ")
    assert f"1/{N} (not started), 2/{N} unfinished" in err[0] and "0/3" not in err[0]
    assert f"{missing} of 30 tracks have no record" in err[0]
    assert not [name for name in TABLES if (workdir / name).exists()]
    # finishing the parts makes the merge succeed
    extract(workdir, "--part", f"1/{N}")
    extract(workdir, "--part", f"2/{N}")
    extract(workdir, "--merge")
    assert_same_outputs(workdir, runs[0])


def test_merge_of_nothing_says_what_to_run(tmp_path, runs, capsys):
    workdir = with_manifest(tmp_path / "empty", runs[0])
    assert main(["extract", *args(workdir, "--merge")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: extract --merge: 30 of 30 tracks") and "--part i/N" in err


@pytest.mark.parametrize("value", ["3/3", "x/2", "0/0", "-1/3", "1", "1/2/3", ""])
def test_bad_shard_values_are_one_line_errors(value, capsys):
    assert main(["extract", "pipelines/smoke.toml", "--workdir", "/tmp/mgc-never-prepared", f"--part={value}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --part"), err


def test_parse_part():
    assert (parse_part("0/1").index, parse_part("0/1").count) == (0, 1)
    assert str(parse_part(" 7 / 8 ")) == "7/8"
    with pytest.raises(UserError, match="0/3 to 2/3"):
        parse_part("3/3")


def test_part_and_merge_are_extract_options_only(capsys):
    assert main(["extract", "pipelines/smoke.toml", "--part", "0/2", "--merge"]) == 2
    assert "separate runs" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "pipelines/smoke.toml", "--part", "0/2"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["extract", "--help"])
    help_text = capsys.readouterr().out
    assert "--part I/N" in help_text and "--merge" in help_text and "JOB_COMPLETION_INDEX" in help_text
    assert "--shard" in help_text  # named in --part's help as its old name, itself hidden


def test_the_old_shard_option_still_works_for_one_release(tmp_path, runs, capsys):
    """``--shard I/N`` (renamed ``--part``: a shard is a TFRecord file) runs the same part, with
    a one-line deprecation warning."""
    workdir = with_manifest(tmp_path / "old", runs[0])
    assert main(["extract", *args(workdir, "--shard", f"1/{N}")]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("warning: --shard is deprecated") and len(captured.err.splitlines()) == 1
    assert f"extract --part 1/{N}:" in captured.out
    assert main(["extract", *args(workdir, "--shard", "0/2", "--part", "0/2")]) == 2
    assert "give --part only" in capsys.readouterr().err


@pytest.mark.slow
def test_concurrent_workers_and_a_killed_one(runs, tmp_path):
    """N worker processes at once on one cache (as N machines on shared storage); worker 0 is
    killed with SIGKILL mid-run, rerun, and resumes from its committed shards."""
    workdir = with_manifest(tmp_path / "concurrent", runs[0])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-m", "mgc.pipelines", "extract", "pipelines/smoke.toml", "--workdir", str(workdir),
               "--set", "extract.shard_size=2", "--workers", "1", "--quiet"]
    procs = [subprocess.Popen([*command, "--part", f"{i}/{N}"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(N)]
    part0 = cache_dir(config_of(workdir)) / f"part-0-of-{N}"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(part0.glob("shard-*.npz"))) < 1:
        time.sleep(0.05)
    procs[0].send_signal(signal.SIGKILL)
    procs[0].communicate()
    for proc in procs[1:]:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    committed = len(ShardStore(part0, N_FEATURES).read_index()[0])
    part_size = int((part_of(read_manifest(config_of(workdir))["track_id"], N) == 0).sum())
    assert 0 < committed < part_size, "the kill should land mid-run"
    resumed = subprocess.run([*command, "--part", f"0/{N}"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"({committed} from the cache, {part_size - committed} extracted now)" in resumed.stdout
    extract(workdir, "--merge")
    assert_same_outputs(workdir, runs[0])


def _shard(track_id: str, stamp: str) -> Shard:
    features = np.full(N_FEATURES, float(len(stamp)), np.float32)
    return Shard([track_id], ["a.wav"], [stamp], [features], [b""])


def test_the_latest_record_wins_across_adoption(tmp_path):
    """A part shard adopted after a main shard supersedes it, and a later main shard supersedes both."""
    store = ShardStore(tmp_path, N_FEATURES)
    part = ShardStore(tmp_path / "part-0-of-2", N_FEATURES)
    part.directory.mkdir()
    store.write(0, _shard("t", "old"))
    part.write(0, _shard("t", "newer"))
    assert store.latest()[0]["stamp"].tolist() == ["old"]  # not adopted: unseen by readers
    store.adopt(["part-0-of-2/shard-00000"])
    latest, _ = store.latest()
    assert latest[["stamp", "shard"]].values.tolist() == [["newer", "part-0-of-2/shard-00000.tfrecord"]]
    store.write(2, _shard("t", "newest"))
    assert store.latest()[0]["stamp"].tolist() == ["newest"]
    assert store.entries() == ["shard-00000", "part-0-of-2/shard-00000", "shard-00002"]
