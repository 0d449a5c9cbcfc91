"""The predict stage on the smoke run's trained models and the real recordings.

The smoke run's clips are 4 s at 22050 Hz, so the real recordings give several windows each:
2.70 s (the robin) is one zero-padded window, 13.91 s (speech) three, 5.33 s (the trumpet) one
(its 1.33 s tail is less than half a clip).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import REAL_AUDIO
from mgc.errors import UserError
from mgc.pipelines.cli import main

BIRD = "456440__inspectorj__bird-whistling-robin-single-13.ogg"  # 2.70 s
TRUMPET = "sorohanro_-_solo-trumpet-06.ogg"  # 5.33 s
SPEECH = "198-209-0000.ogg"  # 13.91 s
SR, CLIP = 22050, 4 * 22050


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    """A folder of good, bad and ignored files (plus a nested folder)."""
    root = tmp_path_factory.mktemp("inbox")
    (root / "sub").mkdir()
    shutil.copy(REAL_AUDIO / BIRD, root / BIRD)
    shutil.copy(REAL_AUDIO / TRUMPET, root / "sub" / TRUMPET)
    (root / "notaudio.wav").write_text("this is text, not a WAV file\n")
    (root / "empty.wav").write_bytes(b"")
    sf.write(root / "silent.wav", np.zeros(3 * SR, np.float32), SR)
    (root / "readme.txt").write_text("ignored: not an audio extension\n")
    shutil.copy(REAL_AUDIO / BIRD, root / ".hidden.ogg")  # ignored: hidden
    return root


@pytest.fixture(scope="module")
def joint(smoke_run):
    from mgc.predict import KerasRunner

    return KerasRunner(smoke_run / "models" / "joint" / "model.keras")


class Counting:
    """A runner wrapper that records the batch size of every model call."""

    def __init__(self, runner):
        self.runner, self.sizes = runner, []

    def __getattr__(self, name):
        return getattr(self.runner, name)

    def predict_batch(self, inputs):
        self.sizes.append(len(next(iter(inputs.values()))))
        return self.runner.predict_batch(inputs)


def _inbox_files(inbox) -> list[str]:
    return [str(inbox / n) for n in (BIRD, "empty.wav", "notaudio.wav", "silent.wav")] + [str(inbox / "sub" / TRUMPET)]


# -- windows and files -------------------------------------------------------------------------
def test_window_starts_cover_the_track_with_at_least_one_window():
    from mgc.predict import window_starts

    assert window_starts(3, 4, 4) == [0]  # short: one (padded) window
    assert window_starts(4, 4, 4) == [0]
    assert window_starts(9, 4, 4) == [0, 4]  # a 1-sample tail is less than half a clip: left out
    assert window_starts(10, 4, 4) == [0, 4, 8]  # a half-clip tail is kept, zero-padded
    assert window_starts(6, 4, 1) == [0, 1, 2]  # overlap; stops once a window reaches the end
    assert window_starts(20, 4, 8) == [0, 8, 16]  # hop longer than the clip skips audio


@pytest.mark.slow
def test_track_windows_on_real_audio(joint):
    from mgc.audio.clip import load_audio
    from mgc.predict import WindowSettings, track_windows, window_settings, window_starts

    settings = window_settings(joint)
    assert (settings.clip_samples, settings.hop_samples) == (CLIP, CLIP)
    frames = 1 + CLIP // 512
    long = track_windows(str(REAL_AUDIO / SPEECH), settings)
    assert long["spectrogram"].shape == (3, 128, frames) and long["features"].shape == (3, 518)
    short = track_windows(str(REAL_AUDIO / BIRD), settings)
    assert short["spectrogram"].shape == (1, 128, frames) and short["features"].shape == (1, 518)
    # the short track's window is the track, zero-padded to the clip length
    y = load_audio(str(REAL_AUDIO / BIRD), SR)
    wave = WindowSettings(SR, CLIP, CLIP, settings.spectrogram, ("waveform",))
    padded = track_windows(str(REAL_AUDIO / BIRD), wave)["waveform"]
    assert padded.shape == (1, CLIP) and len(y) < CLIP
    np.testing.assert_array_equal(padded[0, :len(y)], y)
    assert not padded[0, len(y):].any()
    # a 2 s hop: overlapping windows, as many as window_starts says
    half = window_settings(joint, hop_seconds=2.0)
    n = len(window_starts(len(load_audio(str(REAL_AUDIO / SPEECH), SR)), CLIP, 2 * SR))
    assert n == 6 and track_windows(str(REAL_AUDIO / SPEECH), half)["features"].shape == (n, 518)


def test_expand_paths_folders_globs_and_duplicates(inbox):
    from mgc.predict import expand_paths

    found = expand_paths([str(inbox)])
    names = [os.path.relpath(p, inbox) for p in found]
    assert names == [BIRD, "empty.wav", "notaudio.wav", "silent.wav", f"sub/{TRUMPET}"]  # sorted, recursive
    again = expand_paths([str(inbox / "sub" / TRUMPET), str(inbox), str(inbox / "**" / "*.ogg")])
    assert [os.path.relpath(p, inbox) for p in again] == [f"sub/{TRUMPET}", BIRD, "empty.wav", "notaudio.wav",
                                                          "silent.wav"]  # each file once, first mention first
    assert expand_paths([str(inbox / "*.wav")]) == [str(inbox / n) for n in ("empty.wav", "notaudio.wav",
                                                                              "silent.wav")]
    assert expand_paths([str(inbox / BIRD), str(inbox / "gone.ogg")])[1] == str(inbox / "gone.ogg")
    with pytest.raises(UserError, match="no audio files"):
        expand_paths([str(inbox / "*.mp3"), str(inbox / "readme.txt").replace("readme", "nothing")])


def test_expand_paths_follows_each_real_folder_and_file_once(tmp_path):
    from mgc.predict import expand_paths

    loop = tmp_path / "loop"
    (loop / "album").mkdir(parents=True)
    shutil.copy(REAL_AUDIO / BIRD, loop / "album" / BIRD)
    (loop / "album" / "up").symlink_to(loop)  # a link to its own parent: a loop
    (loop / "album" / "again.ogg").symlink_to(loop / "album" / BIRD)  # a symlinked file: the same file
    assert expand_paths([str(loop)]) == [str(loop / "album" / BIRD)]  # one real file, one row
    (loop / "album" / "0.ogg").symlink_to(loop / "album" / BIRD)  # sorts first: its path is the one kept
    assert expand_paths([str(loop / "album"), str(loop / "album" / "up" / "album" / BIRD)]) == [
        str(loop / "album" / "0.ogg")]  # the first path in sorted order; a later mention is the same file
    # a link to a sibling folder (not a loop) is still followed, and its distinct files found
    (tmp_path / "other").mkdir()
    shutil.copy(REAL_AUDIO / TRUMPET, tmp_path / "other" / TRUMPET)
    (loop / "album" / "more").symlink_to(tmp_path / "other")
    assert expand_paths([str(loop)]) == [str(loop / "album" / "0.ogg"), str(loop / "album" / "more" / TRUMPET)]


# -- the stage ---------------------------------------------------------------------------------
def _check_rows(rows: list[dict], labels: list[str]) -> None:
    by_name = {Path(r["path"]).name: r for r in rows}
    for name in (BIRD, TRUMPET, SPEECH):
        row = by_name[name]
        p = np.array([float(row[f"p_{label}"]) for label in labels])
        assert row["status"] == "ok" and row["reason"] == ""
        assert abs(p.sum() - 1) < 1e-4
        assert row["genre"] == labels[int(np.argmax(p))] and float(row["confidence"]) == pytest.approx(p.max())
    reasons = {"empty.wav": "empty file", "notaudio.wav": "cannot decode", "silent.wav": "silent",
               "gone.ogg": "file not found"}
    for name, reason in reasons.items():
        row = by_name[name]
        assert row["status"] == "failed" and reason in row["reason"] and "\n" not in row["reason"]
        assert row["genre"] == "" and row["confidence"] in ("", None)
        assert all(row[f"p_{label}"] in ("", None) for label in labels)


@pytest.mark.slow
def test_predict_keras_checkpoint_csv_and_json(smoke_run, inbox, joint, tmp_path):
    model = str(smoke_run / "models" / "joint")  # a run's model folder: the run's config.json gives settings
    args = [str(inbox), str(REAL_AUDIO / "198-*.ogg"), str(tmp_path / "gone.ogg"), "--model", model, "--quiet"]
    assert main(["predict", *args, "--output", str(tmp_path / "out.csv"), "--workers", "2", "--batch-size", "3"]) == 0
    with open(tmp_path / "out.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        header, table = reader.fieldnames, list(reader)
    labels = joint.labels
    assert header == ["path", "genre", "confidence", "status", "reason", *(f"p_{label}" for label in labels),
                      "file_stamp"]  # a CSV grows and resumes: each row ends with its file's size and time
    assert [Path(r["path"]).name for r in table] == [BIRD, "empty.wav", "notaudio.wav", "silent.wav", TRUMPET,
                                                      SPEECH, "gone.ogg"]
    _check_rows(table, labels)

    # JSON: a list of row objects, same columns and values (one worker, another batch size)
    assert main(["predict", *args, "--output", str(tmp_path / "out.json"), "--workers", "1"]) == 0
    rows = json.loads((tmp_path / "out.json").read_text())
    assert [list(r) for r in rows] == [header[:-1]] * len(table)  # a JSON array is written once: no file_stamp
    _check_rows(rows, labels)
    for a, b in zip(table, rows):
        for label in labels:
            if a["status"] == "ok":
                assert float(a[f"p_{label}"]) == pytest.approx(b[f"p_{label}"], abs=2e-6)


@pytest.mark.slow
def test_windows_are_batched_across_files(inbox, joint):
    from mgc.predict import predict_files

    files = [str(REAL_AUDIO / SPEECH), *_inbox_files(inbox), str(REAL_AUDIO / "admiralbob77_-_Choice_-_Drum-bass.ogg")]
    results = {}
    for batch_size in (4, 64):
        runner = Counting(joint)
        rows = predict_files(files, runner, batch_size=batch_size, workers=2, progress=False)
        total = sum(row.windows for row in rows)
        assert [row.windows for row in rows] == [3, 1, 0, 0, 0, 1, 6]
        assert len(runner.sizes) == math.ceil(total / batch_size)
        assert runner.sizes[:-1] == [batch_size] * (len(runner.sizes) - 1)  # full batches, then the rest
        results[batch_size] = np.stack([row.probabilities for row in rows if row.status == "ok"])
    np.testing.assert_allclose(results[4], results[64], atol=1e-5)  # batching does not change results


@pytest.mark.slow
def test_organize_links_by_genre_never_overwrites_and_is_idempotent(smoke_run, inbox, tmp_path, capsys):
    model = str(smoke_run / "models" / "joint" / "model.keras")
    base = ["predict", "--model", model, str(inbox), "--quiet", "--workers", "1"]
    out = tmp_path / "sorted"
    assert main([*base, "--organize", str(out), "--output", str(tmp_path / "rows.json")]) == 0
    assert f"organize: 2 files linked into {out}/<genre>/\n" in capsys.readouterr().err
    rows = json.loads((tmp_path / "rows.json").read_text())
    ok = {Path(r["path"]).name: r["genre"] for r in rows if r["status"] == "ok"}
    assert sorted(ok) == sorted([BIRD, TRUMPET])
    placed = sorted(p for p in out.rglob("*") if not p.is_dir())
    assert sorted(p.relative_to(out).as_posix() for p in placed) == sorted(f"{g}/{n}" for n, g in ok.items())
    for link in placed:  # ok files only, each linked (absolute target) into its predicted genre's folder
        assert link.is_symlink() and os.path.isabs(os.readlink(link))
        assert link.resolve() == (inbox / BIRD if link.name == BIRD else inbox / "sub" / TRUMPET).resolve()

    assert main([*base, "--organize", str(out)]) == 0  # the same command again: the links are already there
    captured = capsys.readouterr()
    table = captured.out
    assert table.splitlines()[0].split()[:3] == ["path", "genre", "confidence"]
    assert "failed: empty file" in table and BIRD in table
    assert f"organize: 0 files linked into {out}/<genre>/, 2 already there" in captured.err
    assert sorted(p for p in out.rglob("*") if not p.is_dir()) == placed  # nothing new

    copies = tmp_path / "copies"
    for already in ("", ", 2 already there"):  # twice: the second run finds the same copies
        assert main([*base, "--organize", str(copies), "--copy"]) == 0
        assert f"organize: {2 if not already else 0} files copied into {copies}/<genre>/{already}\n" in \
            capsys.readouterr().err
        copied = sorted(p for p in copies.rglob("*") if not p.is_dir())
        assert len(copied) == 2 and not any(p.is_symlink() for p in copied)
        assert (copies / ok[BIRD] / BIRD).read_bytes() == (inbox / BIRD).read_bytes()


@pytest.mark.slow
def test_min_confidence_sends_unsure_files_to_unknown_keeping_their_probabilities(smoke_run, inbox, tmp_path, capsys):
    model = str(smoke_run / "models" / "joint" / "model.keras")
    base = ["predict", "--model", model, str(inbox), "--quiet", "--workers", "1"]
    assert main([*base, "--output", str(tmp_path / "all.json")]) == 0
    rows = {r["path"]: r for r in json.loads((tmp_path / "all.json").read_text())}
    ok = [r for r in rows.values() if r["status"] == "ok"]
    cut = (min(r["confidence"] for r in ok) + max(r["confidence"] for r in ok)) / 2
    assert min(r["confidence"] for r in ok) < cut  # one file on each side
    out = tmp_path / "sorted"
    assert main([*base, "--min-confidence", str(cut), "--output", str(tmp_path / "cut.json"),
                 "--organize", str(out)]) == 0
    for row in json.loads((tmp_path / "cut.json").read_text()):
        before = rows[row["path"]]
        sure = row["status"] == "ok" and before["confidence"] >= cut
        assert row["genre"] == (before["genre"] if sure or row["status"] != "ok" else "unknown")
        assert {k: v for k, v in row.items() if k != "genre"} == {k: v for k, v in before.items() if k != "genre"}
        if row["status"] == "ok":
            assert (out / row["genre"] / Path(row["path"]).name).is_symlink()
    assert main([*base, "--min-confidence", "1.5"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == "error: --min-confidence must be between 0 and 1, got 1.5"


@pytest.mark.slow
def test_segments_give_each_window_and_top_k_the_runners_up(smoke_run, inbox, tmp_path, capsys):
    """--segments: one row per (non-silent) window, whose mean is the file's row; --top-k: the
    next genres by probability. The trumpet (5.33 s) with a 2 s hop: windows at 0 and 2 s (one
    more at 4 s holds only 1.33 s of audio, less than half a clip: left out)."""
    import pandas as pd

    model = str(smoke_run / "models" / "joint" / "model.keras")
    base = ["predict", "--model", model, str(inbox), "--quiet", "--workers", "1", "--hop", "2"]
    assert main([*base, "--output", str(tmp_path / "files.csv"), "--segments", str(tmp_path / "seg.csv"),
                 "--top-k", "3"]) == 0
    files, segments = pd.read_csv(tmp_path / "files.csv"), pd.read_csv(tmp_path / "seg.csv")
    p = [c for c in files.columns if c.startswith("p_")]
    assert list(files.columns[:11]) == ["path", "genre", "confidence", "status", "reason", "genre_2", "confidence_2",
                                        "genre_3", "confidence_3", *p[:2]]
    assert list(segments.columns) == ["path", "start", "end", "genre", "confidence", *p, "file_stamp"]
    ok = files[files["status"] == "ok"].set_index("path")
    assert sorted(set(segments["path"])) == sorted(ok.index)  # failed files have no segments
    trumpet = segments[segments["path"].str.endswith(TRUMPET)]
    np.testing.assert_allclose(trumpet[["start", "end"]].to_numpy(), [[0, 4], [2, 5.333]], atol=1e-3)
    bird = segments[segments["path"].str.endswith(BIRD)]
    np.testing.assert_allclose(bird[["start", "end"]].to_numpy(), [[0, 2.699]], atol=1e-3)
    np.testing.assert_allclose(segments.groupby("path")[p].mean().loc[ok.index].to_numpy(), ok[p].to_numpy(),
                               atol=2e-6)
    for _, row in ok.iterrows():
        ranked = sorted(p, key=lambda c: -row[c])
        assert [row["genre"], row["genre_2"], row["genre_3"]] == [c.removeprefix("p_") for c in ranked]
        assert row["confidence_2"] == row[ranked[1]] and row["confidence_3"] == row[ranked[2]]
    assert main([*base, "--top-k", "0"]) == 2
    assert "error: --top-k must be between 1 and the model's 3 genres, got 0" in capsys.readouterr().err
    assert main([*base, "--segments", str(tmp_path / "seg.txt")]) == 2
    assert "error: --segments must end in .csv, .json or .jsonl" in capsys.readouterr().err


@pytest.mark.slow
def test_a_long_file_is_predicted_in_parts_with_the_whole_file_s_results(joint, tmp_path, monkeypatch):
    """Parts decoded on their own (memory flat in the file's length) give the windows, spans and
    probabilities of the whole file decoded at once; a silent part's windows are left out, and a
    file silent in every part is "silent"."""
    import mgc.predict.windows as windows
    from mgc.predict import predict_files

    y, rate = sf.read(REAL_AUDIO / "Kevin_MacLeod_-_Vibe_Ace.ogg", dtype="float32")
    long = np.concatenate([y[:40 * rate], np.zeros(25 * rate, np.float32), y[:35 * rate]])  # 100 s, a gap
    sf.write(tmp_path / "long.flac", np.stack([long, long[::-1]], axis=1), rate)
    sf.write(tmp_path / "silent.wav", np.zeros(90 * rate, np.float32), rate)
    paths = [str(tmp_path / "long.flac"), str(tmp_path / "silent.wav"), str(REAL_AUDIO / TRUMPET)]
    monkeypatch.setattr(windows, "LONG_BYTES", 0)
    results = {}
    for name, long_seconds in (("whole", 1e9), ("parts", 30.0)):
        monkeypatch.setattr(windows, "LONG_SECONDS", long_seconds)
        monkeypatch.setattr(windows, "PART_SECONDS", 20.0)
        if name == "parts":
            settings = __import__("mgc.predict.batch", fromlist=["window_settings"]).window_settings(joint, 2.0)
            n_long = len(windows.window_starts(100 * SR, CLIP, 2 * SR))
            assert len(windows.plan_tasks(paths, settings)) == -(-n_long // 10) + 5 + 1  # 10 windows a part
        results[name] = predict_files(paths, joint, hop_seconds=2.0, progress=False, segments=True, workers=2)
    whole, parts = results["whole"], results["parts"]
    assert [r.status for r in parts] == ["ok", "failed", "ok"] and parts[1].reason.startswith("silent")
    assert parts[0].windows == whole[0].windows <= n_long - 8  # the windows inside the 25 s gap are left out
    for a, b in ((whole[0], parts[0]), (whole[2], parts[2])):
        np.testing.assert_array_equal(a.spans, b.spans)
        np.testing.assert_allclose(a.window_probabilities, b.window_probabilities, atol=1e-5)
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-5)


@pytest.mark.slow
def test_a_killed_predict_keeps_its_rows_and_the_same_command_finishes_the_rest(smoke_run, tmp_path):
    """SIGKILL part way: every finished row is on disk (a line cut short is dropped); the same
    command again predicts only the other files and ends with one row per file, equal to an
    uninterrupted run's."""
    import signal
    import subprocess
    import sys
    import time

    import pandas as pd

    library = tmp_path / "library"
    library.mkdir()
    for i in range(30):
        shutil.copy(REAL_AUDIO / (BIRD if i % 2 else TRUMPET), library / f"{i:02d}.ogg")
    (library / "bad.wav").write_text("not audio")
    model = str(smoke_run / "models" / "mlp")

    def command(out, *extra):
        return [sys.executable, "-m", "mgc.pipelines", "predict", "--model", model, str(library), "--quiet",
                "--workers", "1", "--batch-size", "1", "--output", str(out), *extra]

    def table(path):
        return pd.read_csv(path, keep_default_na=False)

    whole = tmp_path / "whole.csv"
    subprocess.run(command(whole), check=True, capture_output=True)
    out = tmp_path / "killed.csv"
    child = subprocess.Popen(command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while (not out.exists() or out.read_text().count("\n") < 6) and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    first = len(table(out))
    assert 5 <= first < 31
    with open(out, "a") as fh:
        fh.write('/a/row/cut/short,synth')  # what a kill in the middle of a write would leave
    done = subprocess.run(command(out), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"predict: {first} of 31 files already in {out} (unchanged since); {31 - first} to go" in done.stderr
    assert f"predict: {31 - first} files ({first} more already there)" in done.stderr
    got, expected = table(out), table(whole)
    assert len(got) == 31 and got["path"].is_unique
    columns = [c for c in expected.columns if c != "file_stamp"]
    pd.testing.assert_frame_equal(got.sort_values("path")[columns].reset_index(drop=True),
                                  expected.sort_values("path")[columns].reset_index(drop=True))
    # (a file changed since its row is predicted again: test_a_growing_table_resumes_... below)
    done = subprocess.run(command(out, "--hop", "2"), capture_output=True, text=True)  # other settings: refused
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith(
        f"error: --output {out} was made with other settings (hop: None, now 2.0)")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_growing_table_resumes_drops_a_cut_line_and_replaces_changed_files(tmp_path, fmt):
    from mgc.io import file_stamp
    from mgc.predict.output import GrowingTable, resume

    files = []
    for name in "abc":
        (tmp_path / name).write_text(name)
        files.append(str(tmp_path / name))
    path, columns = tmp_path / f"out.{fmt}", ["path", "genre", "confidence", "file_stamp"]
    table = GrowingTable(path, fmt, columns)
    table.add([{"path": files[0], "genre": "rock", "confidence": 0.5, "file_stamp": file_stamp(files[0])}])
    table.add([{"path": files[1], "genre": "jazz", "confidence": None, "file_stamp": file_stamp(files[1])}])
    table.add([{"path": "/elsewhere", "genre": "pop", "confidence": 1.0, "file_stamp": "1:2"}])
    with open(path, "a") as fh:
        fh.write('{"path": "/cut' if fmt == "jsonl" else "/cut,ro")
    (tmp_path / "b").write_text("bb")  # b changed since its row
    todo, kept = resume(GrowingTable(path, fmt, columns), files)
    assert (todo, kept) == (files[1:], 1)
    rows = GrowingTable(path, fmt, columns).existing()
    assert [row["path"] for row in rows] == [files[0], "/elsewhere"]  # b's old row gone; another file's kept
    assert path.read_text().endswith("\n")  # the line cut short is gone
    with pytest.raises(UserError, match="is not this command's table"):
        GrowingTable(path, fmt, ["path", "genre", "p_rock", "file_stamp"]).existing()


def test_a_growing_segments_table_beside_a_json_output_replaces_a_rerun_s_rows(tmp_path):
    """Without a growing --output every file is predicted again: its old segments go, never doubled."""
    from mgc.predict import Row
    from mgc.predict.output import RowSink

    song = tmp_path / "song.wav"
    song.write_bytes(b"x")
    row = Row(str(song), genre="a", confidence=0.75, probabilities=np.array([0.75, 0.25]),
              spans=np.array([[0.0, 4.0], [4.0, 8.0]]), window_probabilities=np.array([[0.7, 0.3], [0.8, 0.2]]))
    for _ in range(2):
        sink = RowSink(["a", "b"], [], output=str(tmp_path / "out.json"), segments=str(tmp_path / "seg.csv"))
        assert sink.resume([str(song)]) == ([str(song)], 0)
        sink.add(row)
        sink.finish([str(song)])
    lines = (tmp_path / "seg.csv").read_text().splitlines()
    assert len(lines) == 3 and lines[1].startswith(f"{song},0.000000,4.000000,a,0.700000")


def test_organize_tells_a_file_already_there_from_another_with_its_name(tmp_path):
    from mgc.predict import Row, organize

    songs = tmp_path / "songs"
    songs.mkdir()
    shutil.copy(REAL_AUDIO / BIRD, songs / BIRD)
    rows = [Row(str(songs / BIRD), genre="Rock")]
    for copy in (False, True):
        out = tmp_path / ("copies" if copy else "links")
        (out / "Rock").mkdir(parents=True)
        # a different file under the same name: not this one, so this one gets a numbered name
        if copy:
            shutil.copy(REAL_AUDIO / TRUMPET, out / "Rock" / BIRD)
        else:
            (out / "Rock" / BIRD).symlink_to(REAL_AUDIO / TRUMPET)
        stem, ext = os.path.splitext(BIRD)
        assert organize(rows, out, copy=copy) == (1, 1, 0, [])
        assert rows[0].destination == str(out / "Rock" / f"{stem} (1){ext}")
        assert organize(rows, out, copy=copy) == (0, 0, 1, [])  # again: found under its numbered name
        assert {p.name for p in (out / "Rock").iterdir()} == {BIRD, f"{stem} (1){ext}"}
        if copy:  # same name and size is not enough: the bytes must match
            (songs / "same size.ogg").write_bytes(b"x" * (songs / BIRD).stat().st_size)
            os.rename(out / "Rock" / BIRD, out / "Rock" / "same size.ogg")
            assert organize([Row(str(songs / "same size.ogg"), genre="Rock")], out, copy=True) == (1, 1, 0, [])
    # predict run on the organized folder itself: its files are already in their genre's folder
    inside = [Row(str(tmp_path / "links" / "Rock" / BIRD), genre="Rock"),
              Row(str(tmp_path / "links" / "Rock" / f"{stem} (1){ext}"), genre="Rock")]
    assert organize(inside, tmp_path / "links") == (0, 0, 2, [])
    assert len(list((tmp_path / "links" / "Rock").iterdir())) == 2


@pytest.mark.slow
def test_too_short_and_silent_files_fail_like_extract(smoke_run, joint, tmp_path):
    """One rule (mgc.audio.clip.check_usable) for extract's clips and predict's files: the smoke
    run's models were trained with [audio] min_duration = 1.0, so predict's default is 1 s."""
    from mgc.audio.clip import load_clip
    from mgc.errors import AudioError
    from mgc.predict import SavedModelRunner
    from mgc.predict.runners import _ExportSettings, export_assets

    t = np.arange(int(0.3 * SR)) / SR
    short = tmp_path / "short.wav"
    sf.write(short, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), SR)  # 0.3 s of a tone
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(3 * SR, np.float32), SR)
    extract_reasons = {}
    for path in (short, silent):  # what extract writes to failures.csv for these files
        with pytest.raises(AudioError) as info:
            load_clip(str(path), sample_rate=SR, duration=4.0, min_duration=1.0)
        extract_reasons[path.name] = str(info.value)
    assert extract_reasons == {"short.wav": "too short: 0.30 s of audio, need at least 1 s",
                               "silent.wav": "silent: peak amplitude below -80 dBFS"}

    assert joint.min_duration == 1.0  # the checkpoint's run config
    version_dir, assets = export_assets(_export(smoke_run, tmp_path))
    assert assets["min_duration"] == 1.0 and SavedModelRunner(version_dir).min_duration == 1.0  # the export's assets
    assert _ExportSettings(version_dir, {k: v for k, v in assets.items() if k != "min_duration"}).min_duration == 3.0

    model = str(smoke_run / "models" / "joint")
    files = [str(short), str(silent), str(REAL_AUDIO / BIRD)]
    for extra, short_ok in (([], False), (["--min-duration", "0.1"], True)):
        out = tmp_path / f"rows{len(extra)}.csv"
        assert main(["predict", "--model", model, *files, "--output", str(out), "--quiet", "--workers", "1",
                     *extra]) == 0
        with open(out, newline="") as fh:
            rows = {Path(r["path"]).name: r for r in csv.DictReader(fh)}
        assert rows["silent.wav"]["status"] == "failed"
        assert rows["silent.wav"]["reason"] == extract_reasons["silent.wav"]
        assert rows[BIRD]["status"] == "ok"  # 2.7 s: more than the 1 s minimum, less than one 4 s clip
        if short_ok:
            assert rows["short.wav"]["status"] == "ok" and rows["short.wav"]["reason"] == ""
        else:
            assert rows["short.wav"]["status"] == "failed" and rows["short.wav"]["genre"] == ""
            assert rows["short.wav"]["reason"] == extract_reasons["short.wav"]
    # the minimum applies to the whole file, not per window; a longer minimum fails the 2.7 s robin too
    from mgc.predict import predict_files

    rows = predict_files([str(REAL_AUDIO / BIRD)], joint, workers=1, progress=False, min_duration=3.0)
    assert rows[0].status == "failed" and rows[0].reason == "too short: 2.70 s of audio, need at least 3 s"
    with pytest.raises(UserError, match="--min-duration must be >= 0"):
        predict_files([str(short)], joint, workers=1, progress=False, min_duration=-1.0)


def _export(smoke_run, tmp_path, name="joint") -> Path:
    """The smoke run's export of ``name``."""
    return smoke_run / "saved_models" / name  # the run stage exports every model


@pytest.mark.slow
def test_savedmodel_and_serving_backends_agree_with_the_checkpoint(smoke_run, joint, tmp_path, monkeypatch):
    import mgc.serving
    from mgc.predict import SavedModelRunner, predict_files

    base = _export(smoke_run, tmp_path)
    saved = SavedModelRunner(base)  # the base folder: its highest version
    assert saved.labels == joint.labels and saved.inputs == ("spectrogram", "features")
    files = [str(REAL_AUDIO / SPEECH), str(REAL_AUDIO / BIRD)]
    expected = np.stack([r.probabilities for r in predict_files(files, joint, workers=1, progress=False)])
    got = np.stack([r.probabilities for r in predict_files(files, saved, workers=1, progress=False)])
    np.testing.assert_allclose(got, expected, atol=1e-4)

    calls = []

    class FakeClient:  # TensorFlow Serving stand-in: the same SavedModel, behind Client's API
        def __init__(self, target, model_name, version=None, timeout=30.0):
            calls.append((target, model_name, version))

        def predict(self, inputs, signature="serving_default"):
            assert signature == "serving_default" and set(inputs) == {"spectrogram", "features"}
            outputs = saved._serve(**{k: v for k, v in inputs.items()})
            return {k: v.numpy() for k, v in outputs.items()}

    monkeypatch.setattr(mgc.serving, "Client", FakeClient)
    out = tmp_path / "served.json"
    assert main(["predict", "--model", str(base), "--server", "http://serving:8501", *files, "--output", str(out),
                 "--quiet", "--workers", "1"]) == 0
    version = int(saved.version_dir.name)
    assert calls == [("http://serving:8501", "joint", version)]
    rows = json.loads(out.read_text())
    served = np.array([[row[f"p_{label}"] for label in joint.labels] for row in rows])
    np.testing.assert_allclose(served, got, atol=2e-6)


@pytest.mark.slow
def test_user_mistakes_are_one_line_errors(smoke_run, inbox, tmp_path, capsys):
    keras_model = str(smoke_run / "models" / "mlp" / "model.keras")
    cases = [
        (["--model", str(tmp_path / "nope"), str(inbox)], "model not found"),
        (["--model", keras_model, str(tmp_path)], "no audio files"),
        (["--model", keras_model, str(inbox), "--output", str(tmp_path / "out.xlsx")], "must end in .csv, .json or"),
        (["--model", keras_model, str(inbox), "--server", "http://x:8501"], "local export"),
        (["--model", keras_model, str(inbox), "--hop", "0"], "--hop must be > 0"),
        (["--model", str(inbox / BIRD), str(inbox)], "neither an exported model"),
    ]
    for args, message in cases:
        assert main(["predict", *args, "--quiet"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: ") and message in err[-1], (args, err)
    # a .keras checkpoint with the config of another run's settings
    from conftest import ROOT
    from mgc.predict import KerasRunner

    toml = (ROOT / "pipelines" / "smoke.toml").read_text()
    assert KerasRunner(keras_model, str(ROOT / "pipelines" / "smoke.toml")).labels == KerasRunner(keras_model).labels
    (tmp_path / "other.toml").write_text(toml.replace("duration = 4.0", "duration = 5.0"))
    joint_model = str(smoke_run / "models" / "joint" / "model.keras")
    assert main(["predict", "--model", joint_model, "--config", str(tmp_path / "other.toml"), str(inbox)]) == 2
    assert "expects spectrogram of shape" in capsys.readouterr().err
    # every file failing is not a user error, but the exit status says so
    out = tmp_path / "failed.csv"
    assert main(["predict", "--model", keras_model, str(inbox / "empty.wav"), "--output", str(out), "--quiet"]) == 1
    assert out.read_text().splitlines()[1].rsplit(",", 1)[0].endswith("failed,empty file,,,")


def test_an_unwritable_output_fails_before_any_work(tmp_path, capsys, monkeypatch):
    import mgc.predict

    def never(*args, **kwargs):
        raise AssertionError("the work started")

    monkeypatch.setattr(mgc.predict, "open_runner", never)
    monkeypatch.setattr(mgc.predict, "predict_files", never)
    (tmp_path / "file.txt").write_text("a file, not a folder\n")
    (tmp_path / "folder.csv").mkdir()
    cases = [(tmp_path / "file.txt" / "out.csv", f"{tmp_path / 'file.txt'} is not a directory"),
             (tmp_path / "file.txt" / "new" / "out.json", f"{tmp_path / 'file.txt'} is not a directory"),
             (tmp_path / "folder.csv", "it is a directory")]
    for out, reason in cases:
        assert main(["predict", "--model", str(tmp_path / "model"), str(REAL_AUDIO / BIRD), "--output", str(out),
                     "--quiet"]) == 2
        captured = capsys.readouterr()
        assert captured.err.splitlines() == [f"error: cannot write --output {out}: {reason}"]
        assert captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "folder.csv"]  # no probe file left
    assert list((tmp_path / "folder.csv").iterdir()) == []


def test_an_output_that_fails_at_the_end_names_it_and_keeps_the_results(tmp_path, capsys, monkeypatch):
    import errno

    import mgc.predict
    from mgc.predict import Row

    class Fake:
        labels = ["Rock", "Pop"]

    monkeypatch.setattr(mgc.predict, "open_runner", lambda *args, **kwargs: Fake())
    monkeypatch.setattr(mgc.predict.batch, "iter_predictions", lambda paths, runner, **kwargs: iter([
        Row(paths[0], genre="Pop", confidence=0.75, probabilities=np.array([0.25, 0.75]))]))
    real_replace = os.replace

    def full_disk(src, dst, **kwargs):  # the disk fills up after the check, while the table is written
        if str(dst).endswith("out.json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))
        return real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", full_disk)
    out = tmp_path / "results" / "out.json"  # a JSON array: written at the end
    assert main(["predict", "--model", "m", str(REAL_AUDIO / BIRD), "--output", str(out), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"error: cannot write --output {out}: No space left on device; "
                                         f"the table is printed on stdout instead"]
    assert json.loads(captured.out) == [{"path": str(REAL_AUDIO / BIRD), "genre": "Pop", "confidence": 0.75,
                                         "status": "ok", "reason": "", "p_Rock": 0.25, "p_Pop": 0.75}]
    assert list((tmp_path / "results").iterdir()) == []  # no temporary file left behind

    real_fsync = os.fsync

    def no_space(fd):  # a growing table: the disk fills up at its first append
        if os.readlink(f"/proc/self/fd/{fd}").endswith("grown.csv"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", no_space)
    grown = tmp_path / "grown.csv"
    assert main(["predict", "--model", "m", str(REAL_AUDIO / BIRD), "--output", str(grown), "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: cannot write --output {grown}: No space left on device (0 rows kept; run the same command again "
        "to go on)"]
