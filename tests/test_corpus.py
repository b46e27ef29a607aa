"""The fixed splits, the training corpus and forecasting on any skeleton through the canonical body."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.datasets import splits
from posecast.models.baselines import ConstantVelocity, ZeroVelocity
from posecast.models.canonical import CanonicalForecaster
from posecast.skeletons.base import Skeleton, get

needs_data = pytest.mark.usefixtures("posecast_data")


# ------------------------------------------------------------------------------------- splits
@needs_data
def test_splits_are_disjoint_and_follow_the_readme():
    by_split = {s: {d: splits.files(d, s) for d in splits.DATASETS} for s in splits.SPLITS}
    seen: set = set()
    for s in splits.SPLITS:
        for files in by_split[s].values():
            assert not seen & set(files)
            seen |= set(files)
    cmu_test = {p.parent.name for p in by_split["test"]["cmu_bvh"]}
    assert cmu_test == {"02", "08"}
    assert {p.parent.name for p in by_split["train"]["cmu_bvh"] + by_split["validation"]["cmu_bvh"]} == {
        "01", "05", "06", "07"
    }  # fmt: skip
    styles = {s: {p.name.split("_")[2] for p in by_split[s]["bandai_namco"]} for s in splits.SPLITS}
    assert styles["test"] == {"feminine", "giant", "sad"}
    assert styles["validation"] == {"exhausted", "proud", "tired"}
    # dataset-1 has a "feminine" style too: it trains (only dataset-2's feminine is test)
    assert any(p.name.startswith("dataset-1_") and "_feminine_" in p.name for p in by_split["train"]["bandai_namco"])
    train_bandai = by_split["train"]["bandai_namco"]
    assert not any(p.name.startswith("dataset-2_") and "_feminine_" in p.name for p in train_bandai)
    assert len(by_split["test"]["hdm05_cuts"]) == 62
    assert not by_split["train"]["hdm05_cuts"] and not by_split["validation"]["hdm05_cuts"]
    extra = {p.name for p in by_split["train"]["cmu_mocap"]}
    # walking_1 is made from 02_01 (a BVH test file), basketball_1..5 from subject 06: all left out
    assert "walking_1.txt" not in extra and "basketball_1.txt" not in extra and "walking_13.txt" not in extra
    assert {"soccer_1.txt", "jumping_2.txt", "walking_18.txt", "directing_traffic_1.txt"} <= extra


def test_unknown_split_and_data_set_are_refused():
    from posecast.errors import ValueRangeError

    with pytest.raises(ValueRangeError, match="unknown split"):
        splits.files("cmu_bvh", "dev")
    with pytest.raises(ValueRangeError, match="unknown data set"):
        splits.files("mystery", "train")


# ------------------------------------------------------------------------ canonical forecaster
def _walk(skel: Skeleton, frames: int = 40, fps: float = 25.0) -> np.ndarray:
    """``(frames, J, 3)``: the rest pose moving forward at 1.2 m/s with swinging limbs (deterministic)."""
    rest = skel.rest_positions()
    t = np.arange(frames)[:, None, None] / fps
    pos = rest[None] + np.array([0.0, 0.0, 1.2])[None, None] * t
    swing = 0.05 * np.sin(2 * np.pi * 1.0 * t) * (rest[None, :, 1:2] < 0.6)  # legs sway along z
    return pos + np.concatenate([np.zeros_like(swing), np.zeros_like(swing), swing], axis=-1)


def test_canonical_wrapper_with_zero_velocity_returns_the_last_pose_on_the_own_skeleton(bandai_like_rig):
    skel = bandai_like_rig
    hist = _walk(skel)[None]
    model = CanonicalForecaster(ZeroVelocity()).on_skeleton(skel)
    out = model.predict(hist, 5, 2, fps=25.0)
    assert out.shape == (1, 2, 5, skel.num_joints, 3)
    np.testing.assert_allclose(out, np.broadcast_to(hist[:, None, None, -1], out.shape), atol=1e-6)


def test_canonical_wrapper_with_constant_velocity_moves_mapped_joints_like_constant_velocity(bandai_like_rig):
    skel = bandai_like_rig
    hist = _walk(skel)[None]
    direct = ConstantVelocity().predict(hist, 4)[0, 0]
    mapped = CanonicalForecaster(ConstantVelocity()).on_skeleton(skel).predict(hist, 4)[0, 0]
    # the translation of the whole body is reproduced exactly (root path), and the hands and feet,
    # which map one to one, move as constant velocity moves them
    for name in ("Hips", "Hand_L", "Foot_R", "Head"):
        j = skel.index(name)
        np.testing.assert_allclose(mapped[:, j], direct[:, j], atol=1e-6)


def test_unbound_canonical_wrapper_refuses_another_layout():
    from posecast.errors import SkeletonError

    with pytest.raises(SkeletonError, match="on_skeleton"):
        CanonicalForecaster(ZeroVelocity()).predict(np.zeros((1, 5, 31, 3)), 3)
    canon = get("smplh-22")
    out = CanonicalForecaster(ZeroVelocity()).predict(np.zeros((1, 5, canon.num_joints, 3)), 3)
    assert out.shape == (1, 1, 3, canon.num_joints, 3)


# -------------------------------------------------------------------------------------- corpus
@pytest.fixture(scope="module")
def corpus(posecast_data):
    from posecast.datasets import corpus as c

    return c.read(c.build())


@needs_data
def test_corpus_holds_the_training_splits_in_metres_at_25_fps(corpus):
    info = corpus.describe()
    minutes = info["minutes"]
    assert set(minutes) == {"cmu_bvh", "bandai_namco", "cmu_mocap"}
    total_train = sum(v.get("train", 0.0) for v in minutes.values())
    assert 150 < total_train < 240  # about 3 hours of training motion
    assert minutes["bandai_namco"]["validation"] > 10
    test_files = {p.as_posix() for d in splits.DATASETS for p in splits.files(d, "test")}
    assert not any(any(t.endswith(row["file"]) for t in test_files) for row in corpus.table)
    assert corpus.rel.dtype == np.float16 and corpus.root.dtype == np.float32
    assert corpus.rel.shape[1:] == (22, 3)
    # a body is 1.4-2.1 m tall and stands on the ground: the head is above the pelvis, the feet below
    seq = corpus.positions(0)
    assert 0.3 < np.median(seq[:, 15, 1] - seq[:, 0, 1]) < 0.9
    assert np.median(seq[:, 10, 1] - seq[:, 0, 1]) < -0.6


@needs_data
def test_corpus_rows_keep_their_source_so_runs_can_drop_them(corpus):
    rows = corpus.select("train", exclude=lambda r: r["file"].startswith("cmu_bvh/06/"))
    assert rows and not any(corpus.table[i]["file"].startswith("cmu_bvh/06/") for i in rows)
    assert any(r["file"].startswith("cmu_bvh/06/") for r in corpus.table)


def _tiny_corpus_file(path):
    """A corpus file in `build`'s format with hand-made arrays: two sequences, values that cross float16
    exponents and signs (the packer's differences wrap around)."""
    import json

    rng = np.random.default_rng(0)
    rel = (np.cumsum(rng.normal(0, 0.05, (37, 22, 3)), axis=0) + rng.normal(0, 0.5, (1, 22, 3))).astype(np.float16)
    rel[3, 0, 0], rel[4, 0, 0] = np.float16(-0.0), np.float16(6.1e-5)  # signed zero, a subnormal
    root = np.cumsum(rng.normal(0, 0.02, (37, 3)), axis=0).astype(np.float32) + np.float32(1e3)
    table = [
        {"dataset": "bandai_namco", "split": "train", "file": "a.bvh.gz", "frames": 20, "source_fps": 30.0},
        {"dataset": "cmu_bvh", "split": "validation", "file": "b.bvh", "frames": 17, "source_fps": 120.0},
    ]
    meta = {"key": "0123456789abcdef", "skeleton": "smplh-22", "fps": 25.0}
    np.savez(path, rel=rel, root=root, offsets=np.array([0, 20, 37], dtype=np.int64),
             table=np.frombuffer(json.dumps(table).encode(), dtype=np.uint8),
             meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))  # fmt: skip
    return path


def test_pack_unpack_restores_the_corpus_bit_for_bit_and_the_file_override_uses_it(tmp_path, monkeypatch):
    from posecast.datasets import corpus as c
    from posecast.datasets import corpus_pack
    from posecast.errors import DataNotFoundError, FormatError

    src = _tiny_corpus_file(tmp_path / "corpus-x.npz")
    corpus_pack.pack(src, tmp_path / "c.pack")
    back = corpus_pack.unpack(tmp_path / "c.pack", tmp_path / "back" / "corpus.npz")
    with np.load(src) as a, np.load(back) as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
            assert a[k].tobytes() == b[k].tobytes(), k  # bit for bit (signed zero and subnormal included)
    # POSECAST_CORPUS_FILE: the corpus without a data folder or key check
    monkeypatch.delenv("POSECAST_DATA", raising=False)
    monkeypatch.setenv(c.FILE_ENV, str(back))
    loaded = c.load(build_if_missing=False)
    assert loaded.key == "0123456789abcdef" and loaded.table[1]["file"] == "b.bvh"
    want = loaded.rel[20:].astype(np.float64) + loaded.root[20:, None]
    np.testing.assert_allclose(loaded.positions(1), want, atol=1e-4)
    monkeypatch.setenv(c.FILE_ENV, str(tmp_path / "none.npz"))
    with pytest.raises(DataNotFoundError, match="POSECAST_CORPUS_FILE"):
        c.load()
    # anything else is one clear error naming the file
    (tmp_path / "bad.pack").write_bytes(b"not lzma")
    with pytest.raises(FormatError, match="bad.pack.*not a packed"):
        corpus_pack.unpack(tmp_path / "bad.pack", tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_the_packer_planes_by_hand():
    from posecast.datasets.corpus_pack import _planes, _unplanes

    v = np.array([[1, 300], [3, 2], [2, 65535]], dtype=np.uint16)  # columns (1, 3, 2) and (300, 2, 65535)
    # differences per column: (1, 2, 65535) and (300, 65238, 65533); little-endian low bytes then high bytes
    diffs = np.array([1, 2, 65535, 300, 65238, 65533], dtype=np.uint16)
    want = np.concatenate([diffs & 0xFF, diffs >> 8]).astype(np.uint8)
    np.testing.assert_array_equal(_planes(v), want)
    np.testing.assert_array_equal(_unplanes(_planes(v), 3, np.uint16), v)


def test_without_the_data_sets_the_refusal_names_the_data_set_and_the_way_on(monkeypatch, tmp_path):
    from posecast.datasets.paths import ENV_VAR, dataset_dir
    from posecast.errors import DataNotFoundError

    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(DataNotFoundError) as err:
        dataset_dir("cmu_bvh")
    text = str(err.value)
    assert "the data set 'cmu_bvh'" in text and "POSECAST_DATA is not set" in text
    assert "posecast bench files DIR" in text and "posecast train --data FOLDER" in text
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError, match="which is not a directory"):
        dataset_dir("bandai_namco")
