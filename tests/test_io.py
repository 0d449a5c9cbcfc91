"""mgc.io (atomic commits, stamps, the one-writer lock) and mgc.parallel's typed results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from conftest import ROOT
from mgc.errors import UserError
from mgc.io import (
    MISSING,
    atomic_path,
    atomic_write_bytes,
    atomic_write_csv,
    atomic_write_json,
    atomic_write_text,
    exclusive,
    file_stamp,
    settings_hash,
)
from mgc.parallel import CRASHED, Done, Failed, run_parallel


def _names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- atomic writes


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".table.csv.tmp")
            with open(tmp, "w") as fh:
                fh.write("half of the new ")
            raise RuntimeError("disk full")  # the writer dies after writing part of the file
    assert target.read_text() == "old\n"
    assert _names(tmp_path) == ["table.csv"]


def test_a_failed_rename_or_flush_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")

    def no_space(*_):
        raise OSError(28, "No space left on device")

    for name in ("fsync", "replace"):
        with monkeypatch.context() as patch:
            patch.setattr(os, name, no_space)
            with pytest.raises(OSError, match="No space left"):
                atomic_write_bytes(target, b"new")
        assert target.read_bytes() == b"old"
        assert _names(tmp_path) == ["data.bin"]
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C midway, too
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"ne")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old" and _names(tmp_path) == ["data.bin"]


def test_a_writer_that_never_creates_its_file_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_path(tmp_path / "never.npz"):
            pass
    assert _names(tmp_path) == []


def test_two_writers_get_their_own_temporaries_and_the_last_rename_wins_whole(tmp_path):
    target = tmp_path / "shared.txt"
    with atomic_path(target) as first:
        first.write_text("first writer, " * 1000)
        with atomic_path(target) as second:  # same pid: the random suffix keeps them apart
            assert second != first
            second.write_text("second writer")
        assert target.read_text() == "second writer"
    assert target.read_text() == "first writer, " * 1000
    assert _names(tmp_path) == ["shared.txt"]


def test_two_processes_writing_one_file_never_show_a_part(tmp_path):
    target = tmp_path / "shared.json"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from mgc.io import atomic_write_json
        for i in range(150):
            atomic_write_json({str(target)!r}, {{"writer": sys.argv[1], "i": i, "pad": "x" * 20000}})
    """)
    writers = [subprocess.Popen([sys.executable, "-c", script, name]) for name in ("a", "b")]
    while any(w.poll() is None for w in writers):
        if target.exists():
            payload = json.loads(target.read_text())  # a part would not parse
            assert payload["writer"] in ("a", "b") and len(payload["pad"]) == 20000
        time.sleep(0.001)
    assert [w.returncode for w in writers] == [0, 0]
    assert json.loads(target.read_text())["i"] == 149
    assert _names(tmp_path) == ["shared.json"]


def test_the_formats_written(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "é\n")
    assert (tmp_path / "a.txt").read_bytes() == "é\n".encode()
    payload = {"b": [1, 2], "a": {"y": 1.5, "x": None}}
    atomic_write_json(tmp_path / "a.json", payload)
    assert (tmp_path / "a.json").read_text() == json.dumps(payload, indent=2, sort_keys=True) + "\n"
    frame = pd.DataFrame({"track_id": ["1", "2"], "genre": ["rock", "jazz"]})
    atomic_write_csv(tmp_path / "a.csv", frame, index=False, lineterminator="\n")
    assert (tmp_path / "a.csv").read_text() == "track_id,genre\n1,rock\n2,jazz\n"
    atomic_write_csv(tmp_path / "b.csv", frame)
    assert (tmp_path / "b.csv").read_bytes() == frame.to_csv().encode()


def test_a_file_stamp_changes_when_the_file_is_replaced(tmp_path):
    path = tmp_path / "song.ogg"
    assert file_stamp(path) == MISSING == "missing"
    path.write_bytes(b"12345")
    stamp = file_stamp(str(path))
    assert stamp == f"5:{os.stat(path).st_mtime_ns}"
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 1))
    assert file_stamp(path) != stamp


def test_settings_hash_is_stable_and_order_independent():
    a = {"sample_rate": 22050, "n_mels": 128, "nested": {"x": 1, "y": [1, 2]}}
    b = {"nested": {"y": [1, 2], "x": 1}, "n_mels": 128, "sample_rate": 22050}
    assert settings_hash(a) == settings_hash(b) and len(settings_hash(a)) == 12
    assert settings_hash(a, length=20).startswith(settings_hash(a))
    assert settings_hash({"a": 1, "b": [1.5, "x"]}) == "253252306831"  # cache keys never change
    assert settings_hash({"y": [2, 1]}) != settings_hash({"y": [1, 2]})


# ---------------------------------------------------------------- the lock


def test_the_lock_refuses_a_second_holder_until_the_first_lets_go(tmp_path):
    with exclusive(tmp_path, "busy: try later"):
        with pytest.raises(UserError, match="^busy: try later$"):
            with exclusive(tmp_path, "busy: try later"):
                pass
    with exclusive(tmp_path, "busy"):  # released
        pass


def test_the_lock_of_a_killed_holder_is_free(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from mgc.io import exclusive
        with exclusive({str(tmp_path)!r}, "x"):
            print("held", flush=True)
            time.sleep(600)
    """)
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(UserError, match="another process has it"):
            with exclusive(tmp_path, "another process has it"):
                pass
    finally:
        holder.kill()  # kill -9: the OS drops the lock
        holder.wait()
    with exclusive(tmp_path, "x"):
        pass


def test_the_cache_lock_keeps_its_message(tmp_path):
    from mgc.cache import ShardStore

    store = ShardStore(tmp_path, 518)
    with store.lock():
        with pytest.raises(UserError) as caught:
            with ShardStore(tmp_path, 518).lock():
                pass
    assert str(caught.value) == f"another extract is writing {tmp_path}; wait for it to finish or stop it"


# ---------------------------------------------------------------- mgc.parallel


def test_in_process_results_are_typed_and_in_order():
    from crashing_worker import square_unless_odd

    results = list(run_parallel([4, 1, 2, 3, 0], square_unless_odd, workers=1))
    assert results == [Done(4, 16), Failed(1, "odd"), Done(2, 4), Failed(3, "odd"), Done(0, 0)]


def test_a_killed_worker_costs_only_its_own_task():
    from crashing_worker import square_unless_odd

    tasks = list(range(0, 40, 2)) + [7]  # even: Done; 7: Failed "odd"
    tasks.insert(9, 100)  # kills its process
    results = list(run_parallel(tasks, square_unless_odd, workers=2, args=(100,),
                                preload=("mgc.parallel_preload",)))
    assert [r.task for r in results] == tasks  # every task, in order
    assert results[9] == Failed(100, CRASHED)
    assert results[-1] == Failed(7, "odd")
    assert all(r == Done(t, t * t) for t, r in zip(tasks, results) if t not in (7, 100))
