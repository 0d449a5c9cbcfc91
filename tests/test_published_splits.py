"""Published protocols: FMA's official split (set.split) on genre_top, GTZAN's fault-filtered lists.

Fixtures are in the real formats (FMA's tracks.csv with its two header rows; a GTZAN tree with all
1,000 real clip names), and the expected memberships are read from them independently of mgc.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import ROOT
from fixtures import GTZAN_GENRES, ROOT_IDS, write_fma_audio, write_fma_metadata
from mgc.config import Config, load_config
from mgc.datasets import read_manifest
from mgc.errors import UserError
from mgc.pipelines.prepare import prepare

ROOTS = ("Rock", "Electronic", "Hip-Hop", "Folk", "Pop", "Jazz")
SIDES = ("training", "validation", "test")


def official_tracks() -> list[dict]:
    """Six roots; each artist's tracks all on one side of set.split (as FMA's split is), several
    artists per side and genre, mixed subsets, some multi-genre tracks within one root (they have a
    genre_top) and some across roots (they have none)."""
    out, tid, artist = [], 2, 1000
    for g, root in enumerate(ROOTS):
        for side, n_artists in zip(SIDES, (6, 2, 2)):
            for _ in range(n_artists):
                artist += 1
                for k in range(3):
                    child = {"Rock": 25, "Folk": 49}.get(root, ROOT_IDS[root])  # same root: has a genre_top
                    genres = [ROOT_IDS[root]] if k else [ROOT_IDS[root], child]
                    out.append({"track_id": tid, "genres": sorted(set(genres)), "split": side, "artist_id": artist,
                                "subset": ("small", "medium", "large")[(tid + g) % 3]})
                    tid += 1
    out.append({"track_id": tid, "genres": [ROOT_IDS["Rock"], ROOT_IDS["Pop"]], "split": "test", "artist_id": 1})
    return out


def _fma_overrides(tmp_path) -> dict:
    return {"dataset.kind": "fma", "dataset.metadata_dir": str(tmp_path / "fma_metadata"),
            "dataset.audio_dir": str(tmp_path / "fma_large"), "dataset.label": "genre_top", "dataset.top_k": 0,
            "split.method": "official"}


def fma_config(tmp_path, workdir="run", **overrides) -> Config:
    """An official-split, genre_top config over the fixture (written once per test)."""
    if not (tmp_path / "fma_metadata").is_dir():
        write_fma_metadata(tmp_path / "fma_metadata", official_tracks())
        (tmp_path / "fma_large").mkdir()  # prepare never opens audio
    return load_config(None, {"run.workdir": str(tmp_path / workdir), **_fma_overrides(tmp_path),
                              **{(k if "." in k else f"dataset.{k}"): v for k, v in overrides.items()}})


def expected_sides(meta, subsets, top_k=0) -> pd.DataFrame:
    """FMA's own selection and sides, read straight from tracks.csv with pandas."""
    raw = pd.read_csv(meta / "tracks.csv", index_col=0, header=[0, 1])
    keep = raw[("set", "subset")].isin(subsets) & raw[("track", "genre_top")].notna()
    sel = pd.DataFrame({"genre": raw.loc[keep, ("track", "genre_top")], "side": raw.loc[keep, ("set", "split")],
                        "artist": raw.loc[keep, ("artist", "id")].astype(str)})
    if top_k:
        counts = sel["genre"].value_counts()
        top = sorted(counts.index, key=lambda g: (-counts[g], g))[:top_k]
        sel = sel[sel["genre"].isin(top)]
    sel.index = sel.index.astype(str)
    return sel


def ids(manifest, *splits) -> set[str]:
    return set(manifest.loc[manifest["split"].isin(splits), "track_id"])


@pytest.mark.parametrize("subset, subsets, top_k", [("medium", ("small", "medium"), 0),
                                                     ("small", ("small",), 3), ("", ("small", "medium", "large"), 0)])
def test_official_split_is_fmas_own(tmp_path, subset, subsets, top_k):
    config = fma_config(tmp_path, subset=subset, top_k=top_k)
    manifest = prepare(config, echo=lambda *_: None)
    sel = expected_sides(tmp_path / "fma_metadata", subsets, top_k)
    assert set(manifest["track_id"]) == set(sel.index)  # genre_top selection (multi-root tracks dropped)
    assert ids(manifest, "test") == set(sel.index[sel["side"] == "test"])
    assert ids(manifest, "validation") == set(sel.index[sel["side"] == "validation"])
    assert ids(manifest, "baseline_train", "fusion_train") == set(sel.index[sel["side"] == "training"])
    assert ids(manifest, "baseline_train") and ids(manifest, "fusion_train")
    assert manifest.set_index("track_id").loc[list(sel.index), "genre"].tolist() == sel["genre"].tolist()
    # No artist on two sides, the baseline / fusion cut included.
    sides = manifest.groupby("artist")["split"].nunique()
    assert (sides == 1).all(), sides[sides > 1]
    for genre in manifest["genre"].unique():  # the cut is stratified: every genre on both training sides
        assert set(manifest.loc[manifest["genre"] == genre, "split"]) >= {"baseline_train", "fusion_train"}


def test_official_split_keeps_the_root_rule_and_is_deterministic(tmp_path):
    config = fma_config(tmp_path, label="root")
    manifest = prepare(config, echo=lambda *_: None)
    text = (tmp_path / "run" / "manifest.csv").read_bytes()
    prepare(config, echo=lambda *_: None)
    assert (tmp_path / "run" / "manifest.csv").read_bytes() == text
    sel = expected_sides(tmp_path / "fma_metadata", ("small", "medium", "large"))
    raw = pd.read_csv(tmp_path / "fma_metadata" / "tracks.csv", index_col=0, header=[0, 1])
    single = {str(t) for t, g in raw[("track", "genres")].items() if len(eval(g)) == 1}
    assert set(manifest["track_id"]) == set(sel.index) & single  # the root rule: single-genre tracks only
    assert ids(manifest, "test") == set(sel.index[sel["side"] == "test"]) & single


def test_the_cut_of_the_training_side_follows_the_seed_and_fractions(tmp_path):
    a = prepare(fma_config(tmp_path), echo=lambda *_: None)
    b = prepare(fma_config(tmp_path, "b", **{"run.seed": 1}), echo=lambda *_: None)
    assert ids(a, "test") == ids(b, "test") and ids(a, "validation") == ids(b, "validation")
    assert ids(a, "fusion_train") != ids(b, "fusion_train")
    none = prepare(fma_config(tmp_path, "c", **{"split.fusion_train": 0.0, "split.baseline_train": 1.0,
                                                "split.test": 0.0}), echo=lambda *_: None)
    assert ids(none, "baseline_train") == ids(a, "baseline_train", "fusion_train") and not ids(none, "fusion_train")


def test_the_bundled_fma_medium_config_is_fmas_benchmark(tmp_path):
    """pipelines/fma_medium.toml pointed at the fixture: genre_top on fma_medium, every genre, the
    official split, the baselines first."""
    fma_config(tmp_path)  # writes the fixture
    config = load_config("fma_medium", {"run.workdir": str(tmp_path / "run"),
                                        "dataset.metadata_dir": str(tmp_path / "fma_metadata"),
                                        "dataset.audio_dir": str(tmp_path / "fma_large")})
    assert (config.dataset.subset, config.dataset.label, config.dataset.top_k) == ("medium", "genre_top", 0)
    assert config.train.models[:2] == ["svm", "logreg"]
    manifest = prepare(config, echo=lambda *_: None)
    sel = expected_sides(tmp_path / "fma_metadata", ("small", "medium"))
    assert ids(manifest, "test") == set(sel.index[sel["side"] == "test"])
    assert ids(manifest, "baseline_train", "fusion_train") == set(sel.index[sel["side"] == "training"])


@pytest.mark.parametrize("overrides, match", [
    ({"split.method": "official", "dataset.kind": "gtzan"}, 'needs \\[dataset\\] kind = "fma"'),
    ({"split.method": "fault_filtered", "dataset.kind": "fma"}, 'needs \\[dataset\\] kind = "gtzan"'),
    ({"split.method": "random"}, "method must be one of stratified, official, fault_filtered"),
    ({"dataset.label": "genre_top"}, "FMA column"),
    ({"dataset.kind": "fma", "dataset.label": "genres"}, "label must be one of root, genre_top"),
    ({"split.test": 0.0, "split.baseline_train": 0.6}, "test must be > 0"),
])
def test_protocol_settings_are_checked_when_the_config_loads(overrides, match):
    with pytest.raises(UserError, match=match):
        load_config(None, overrides)


# -- GTZAN ---------------------------------------------------------------------------------------------
def write_full_gtzan(root, skip=(), ext="au"):
    """All 1,000 real GTZAN clip names (silent 0.05 s clips: prepare never decodes audio)."""
    silence = np.zeros(1102, dtype=np.float32)
    for genre in GTZAN_GENRES:
        (root / genre).mkdir(parents=True, exist_ok=True)
        for i in range(100):
            name = f"{genre}.{i:05d}"
            if name not in skip:
                sf.write(root / genre / f"{name}.{ext}", silence, 22050, format=ext.upper(), subtype="PCM_16")
    return root


@pytest.fixture(scope="module")
def gtzan_root(tmp_path_factory):
    return write_full_gtzan(tmp_path_factory.mktemp("gtzan") / "genres")


def gtzan_config(root, workdir, **split) -> Config:
    return load_config(None, {"run.workdir": str(workdir), "dataset.kind": "gtzan", "dataset.root": str(root),
                              "split.method": "fault_filtered", **{f"split.{k}": v for k, v in split.items()}})


def test_fault_filtered_split_has_the_published_membership(gtzan_root, tmp_path):
    from mgc.datasets.gtzan import fault_filtered_split

    lists = fault_filtered_split()
    listed = {side: set(lists.loc[lists["split"] == side, "clip"]) for side in ("train", "valid", "test")}
    lines = []
    config = gtzan_config(gtzan_root, tmp_path / "run", baseline_train=0.6, fusion_train=0.2, test=0.2)
    manifest = prepare(config, echo=lines.append)
    assert len(manifest) == 1000
    assert ids(manifest, "test") == listed["test"] and len(listed["test"]) == 290
    assert ids(manifest, "validation") == listed["valid"] and len(listed["valid"]) == 197
    assert ids(manifest, "baseline_train", "fusion_train") == listed["train"] and len(listed["train"]) == 443
    unused = ids(manifest, "unused")
    assert len(unused) == 70 and unused.isdisjoint(set(lists["clip"]))  # the manifest says which are left out
    assert any("70 tracks are outside the fault_filtered split" in line for line in lines)
    # The cut of the training clips: 3:1 (0.6 : 0.2), stratified.
    assert len(ids(manifest, "fusion_train")) == pytest.approx(443 / 4, abs=10)
    # Later stages never see the unused clips.
    used = read_manifest(gtzan_config(gtzan_root, tmp_path / "run"))
    assert len(used) == 930 and "unused" not in set(used["split"])
    assert len(read_manifest(gtzan_config(gtzan_root, tmp_path / "run"), unused=True)) == 1000


def test_fault_filtered_split_needs_every_listed_clip_with_its_genre(tmp_path):
    from mgc.datasets.gtzan import fault_filtered_split

    listed = fault_filtered_split()["clip"].iloc[0]
    root = write_full_gtzan(tmp_path / "partial", skip={listed, "jazz.00054"})
    with pytest.raises(UserError, match="clips are not under"):
        prepare(gtzan_config(root, tmp_path / "run"), echo=lambda *_: None)
    # A clip in the wrong genre folder is refused, not silently relabelled.
    root = write_full_gtzan(tmp_path / "moved")
    genre = listed.split(".")[0]
    other = next(g for g in GTZAN_GENRES if g != genre)
    (root / genre / f"{listed}.au").rename(root / other / f"{listed}.au")
    with pytest.raises(UserError, match=f"is in folder {other}/"):
        prepare(gtzan_config(root, tmp_path / "run2"), echo=lambda *_: None)


def test_extract_skips_the_unused_tracks(tmp_path):
    """Tracks a published split leaves out are not decoded, cached or scaled."""
    from fixtures import write_gtzan
    from mgc.pipelines.extract import run_extract

    write_gtzan(tmp_path / "g", genres=("blues", "rock"), per_genre=3, seconds=1.0)
    config = load_config(None, {"run.workdir": str(tmp_path / "run"), "dataset.kind": "gtzan",
                                "dataset.root": str(tmp_path / "g"), "audio.duration": 1.0,
                                "audio.min_duration": 0.5, "extract.workers": 1,
                                "split.baseline_train": 0.5, "split.fusion_train": 0.0, "split.test": 0.5})
    manifest = prepare(config, echo=lambda *_: None)
    gone = manifest["track_id"].iloc[[0, 3]].tolist()
    manifest.loc[manifest["track_id"].isin(gone), "split"] = "unused"
    manifest.to_csv(tmp_path / "run" / "manifest.csv", index=False)
    result = run_extract(config, progress=False, echo=lambda *_: None)
    assert result.n_tracks == 4
    features = pd.read_csv(result.features_csv, dtype={"track_id": str}, index_col=0, header=[0, 1, 2])
    assert set(gone).isdisjoint(set(features.index.astype(str)))
    assert json.loads((tmp_path / "run" / "feature_stats.json").read_text())


@pytest.mark.slow
def test_a_run_on_the_official_split_stops_early_on_fmas_validation_tracks(tmp_path):
    """prepare -> extract -> train -> fuse -> evaluate -> report on the official split: FMA's
    validation tracks are the early-stopping data of branches and fusion heads, never scored."""
    from mgc.pipelines.cli import main

    config = fma_config(tmp_path, top_k=3)
    write_fma_audio(tmp_path / "fma_large", [int(t) for t in prepare(config, echo=lambda *_: None)["track_id"]])
    args = ["--workdir", str(tmp_path / "run"), "--quiet"]
    for key, value in {**_fma_overrides(tmp_path), "dataset.top_k": 3, "audio.duration": 2.0,
                       "audio.min_duration": 1.0, "train.epochs": 3, "train.patience": 2,
                       "train.models": ["small_cnn", "mlp", "logit_fusion"], "train.fusion_cnn": "small_cnn",
                       "input.batch_size": 16, "extract.workers": 2}.items():
        args += ["--set", f"{key}={json.dumps(value)}"]
    assert main(["run", str(ROOT / "pipelines/smoke.toml"), *args]) == 0  # smoke's grids and model sizes
    run = tmp_path / "run"
    manifest = pd.read_csv(run / "manifest.csv", dtype=str)
    summary = json.loads((run / "results" / "summary.json").read_text())
    assert summary["split"]["validation"] == int((manifest["split"] == "validation").sum()) > 0
    with np.load(run / "models" / "extracted" / "small_cnn_mlp_logits.npz") as z:
        assert ids(manifest, "validation") <= set(z["track_id"])  # the heads' early-stopping data
    scored = pd.read_csv(run / "models" / "logit_fusion" / "test_predictions.csv", dtype={"track_id": str})
    assert set(scored["track_id"]) == ids(manifest, "test")
