"""Training data sources on the real CMU data: BVH files replayed as CMU-Mocap benchmark data."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.datasets.cmu_bvh import CMU_MOCAP_EXTRA_SUBJECTS, bvh_as_benchmark, cmu_bvh_as_benchmark
from posecast.datasets.training_data import load_training_data
from posecast.errors import ValueRangeError
from posecast.evaluation.protocols import cmu_mocap


def test_a_bvh_file_replayed_on_the_benchmark_skeleton_is_the_benchmark_file(cmu_bvh_dir, cmu_mocap_dir):
    # INDEX.csv: 06_02.bvh is the source of train/basketball/basketball_1, 05_01.bvh of walking_2
    for bvh, txt in (("06/06_02.bvh", "basketball/basketball_1.txt"), ("05/05_01.bvh", "walking/walking_2.txt")):
        ours = bvh_as_benchmark(cmu_bvh_dir / bvh)
        bench = cmu_mocap.load_positions(cmu_mocap_dir / "train" / txt, "m")[1:]
        assert ours.shape == bench.shape and ours.shape[1:] == (38, 3)
        assert np.abs(ours - bench).max() < 1e-5  # metres; float32 storage, exact up to rounding


def test_extra_benchmark_data_refuses_test_subjects_and_skips_benchmark_files(cmu_bvh_dir):
    assert CMU_MOCAP_EXTRA_SUBJECTS == ("01", "05", "07")
    for subjects in (("06",), ("01", "02"), ("08",)):
        with pytest.raises(ValueRangeError, match="hold test data"):
            cmu_bvh_as_benchmark(subjects)
    seqs, paths, root = cmu_bvh_as_benchmark(("05", "07"))
    names = [p.relative_to(root).as_posix() for p in paths]
    # 05_01, 07_01 and 07_02 already are benchmark training files (walking_2, _4, _5)
    assert "05/05_01.bvh" not in names and "07/07_01.bvh" not in names and "07/07_02.bvh" not in names
    assert len(names) == 19 + 10 and all(s.shape[1:] == (38, 3) and s.dtype == np.float32 for s in seqs)


def test_cmu_mocap_plus_bvh_adds_training_windows_and_keeps_validation(cmu_bvh_dir, cmu_mocap_dir):
    base = load_training_data("cmu-mocap", min_frames=35)
    plus = load_training_data("cmu-mocap+bvh", min_frames=35)
    assert plus.skeleton.name == base.skeleton.name == "cmu-mocap-38" and plus.fps == 60.0
    assert len(plus.val) == len(base.val) and all(np.array_equal(a, b) for a, b in zip(plus.val, base.val, strict=True))
    assert all(
        np.array_equal(a, b) for a, b in zip(plus.train[: len(base.train)], base.train, strict=True)
    )  # benchmark parts first, unchanged
    extra_frames = sum(len(s) for s in plus.train[len(base.train) :])
    assert extra_frames > sum(len(s) for s in base.train)  # CMU subjects 01, 05, 07 more than double it
    assert plus.description["source"] == "cmu-mocap+bvh"
    assert plus.description["extra_subjects"] == ["01", "05", "07"]
    files = plus.description["files"]
    assert set(base.description["files"]) < set(files) and "cmu_bvh/01/01_01.bvh" in files


def test_no_added_pose_copies_a_benchmark_test_pose(cmu_bvh_dir, cmu_mocap_dir):
    from scipy.spatial import cKDTree

    from posecast.datasets.cmu_mocap import cmu_mocap_sequences

    extra, _, _ = cmu_bvh_as_benchmark()
    tree = cKDTree(np.concatenate([s.reshape(len(s), -1) for s in extra]))
    tests, paths, _ = cmu_mocap_sequences("test")
    assert len(tests) == 6
    for seq, path in zip(tests, paths, strict=True):
        dist, _ = tree.query(seq[::5].reshape(-1, 38 * 3))
        rms_mm = dist.min() / np.sqrt(38) * 1000
        assert rms_mm > 20, f"{path.name}: a test pose is within {rms_mm:.1f} mm of an added training pose"
