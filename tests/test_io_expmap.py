"""Exp-map text formats: CMU-Mocap benchmark (117 columns) and Human3.6M (99 columns)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import posecast
from posecast.errors import FormatError, PosecastError
from posecast.io.expmap_txt import CMU_COLUMNS, H36M_COLUMNS
from posecast.skeletons.cmu import ASF_UNIT_M, CMU_BENCHMARK_OFFSETS_ASF


def _write_rows(path, rows):
    np.savetxt(path, np.atleast_2d(rows), fmt="%.9g", delimiter=",")
    return path


def _rz(theta):
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_cmu_row_vector_convention_by_hand(tmp_path):
    theta = 0.7
    row = np.zeros(CMU_COLUMNS)
    row[0:3] = [10.0, 20.0, 30.0]  # root position: ignored by the benchmark FK
    row[3:6] = [0.3, 0.2, 0.1]  # root rotation: ignored too
    row[3 + 3 * 2 + 2] = theta  # LeftUpLeg exp-map (0, 0, theta)
    motion = posecast.load(_write_rows(tmp_path / "one.txt", row))
    assert motion.skeleton.name == "cmu-mocap-38" and motion.fps == 120
    off = CMU_BENCHMARK_OFFSETS_ASF * ASF_UNIT_M
    # reference: p_LeftLeg = offset_LeftLeg @ expmap(r) + p_LeftUpLeg (row vectors), hips at the origin
    p_upleg = off[1] + off[2]
    p_leg = off[3] @ _rz(theta) + p_upleg
    np.testing.assert_allclose(motion.positions[0, 2], p_upleg, atol=1e-12)
    np.testing.assert_allclose(motion.positions[0, 3], p_leg, atol=1e-12)
    np.testing.assert_allclose(motion.positions[0, 0], 0.0)
    np.testing.assert_allclose(motion.root_translation[0], np.array([10, 20, 30]) * ASF_UNIT_M)
    # global motion applies the root rotation and translation
    glob = posecast.load(tmp_path / "one.txt", global_motion=True)
    np.testing.assert_allclose(glob.positions[0, 0], np.array([10, 20, 30]) * ASF_UNIT_M)


def test_real_benchmark_file_keeps_bone_lengths(cmu_mocap_dir):
    motion = posecast.load(cmu_mocap_dir / "test" / "walking" / "walking_1.txt")
    assert motion.num_frames == 359 and motion.metadata["first_frame_is_rest_pose"]
    skel = motion.skeleton
    child = np.arange(1, skel.num_joints)
    lengths = np.linalg.norm(motion.positions[:, child] - motion.positions[:, skel.parent_array[1:]], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(skel.bone_lengths(), lengths.shape), atol=1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_cmu_write_read_round_trip(tmp_path, frames, seed):
    rng = np.random.default_rng(seed)
    rows = np.zeros((frames, CMU_COLUMNS))
    rows[:, :3] = rng.normal(scale=20, size=(frames, 3))
    rows[:, 3:] = rng.uniform(-1.0, 1.0, size=(frames, CMU_COLUMNS - 3))
    src = posecast.load(_write_rows(tmp_path / "src.txt", rows), global_motion=True)
    out = posecast.save(src, tmp_path / "out.txt", format="cmu-expmap")
    back = posecast.load(out, global_motion=True)
    np.testing.assert_allclose(back.positions, src.positions, atol=1e-7)
    np.testing.assert_allclose(back.rotations, src.rotations, atol=1e-7)


def test_h36m_file_reads_on_its_skeleton(tmp_path):
    rng = np.random.default_rng(3)
    rows = np.zeros((4, H36M_COLUMNS))
    rows[:, :3] = [[100.0, 900.0, -50.0]] * 4  # millimetres
    rows[:, 3:] = rng.uniform(-0.5, 0.5, size=(4, H36M_COLUMNS - 3))
    body = posecast.load(_write_rows(tmp_path / "h36m.txt", rows))
    assert body.skeleton.name == "h36m-32" and body.fps == 50
    np.testing.assert_allclose(body.positions[:, 0], 0.0, atol=1e-12)  # root increments ignored, as benchmarks do
    # global motion integrates the per-frame root increments (here a pure translation per frame)
    rows[:, 3:6] = 0.0
    motion = posecast.load(_write_rows(tmp_path / "h36m.txt", rows), global_motion=True)
    np.testing.assert_allclose(motion.positions[:, 0], np.arange(1, 5)[:, None] * [0.1, 0.9, -0.05], atol=1e-12)
    skel = motion.skeleton
    lengths = np.linalg.norm(motion.positions[:, 1:] - motion.positions[:, skel.parent_array[1:]], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(skel.bone_lengths(), lengths.shape), atol=1e-9)
    back = posecast.load(posecast.save(body, tmp_path / "back.txt", format="h36m-expmap"))
    np.testing.assert_allclose(back.positions, body.positions, atol=1e-7)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1,2,3\n", "line 1 has 3 values"),
        (",".join(["0"] * CMU_COLUMNS) + "\n" + ",".join(["0"] * 50) + "\n", "line 2 has 50 values"),
        ("1,2,3\n" * 2, r"expected 117 \(the CMU-Mocap benchmark's layout; Human3.6M's has 99\)"),
        (",".join(["0"] * (CMU_COLUMNS - 1) + ["nan"]) + "\n", "NaN or inf at line 1"),
        (",".join(["0"] * (CMU_COLUMNS - 1) + ["abc"]) + "\n", "non-numeric"),
        ("\n\n", "no frames"),
    ],
)
def test_bad_expmap_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(FormatError, match=message) as info:
        posecast.load(path, format="cmu-expmap")
    assert str(path) in str(info.value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400), st.sampled_from(["cmu-expmap", "h36m-expmap", None]))
def test_garbage_never_escapes_as_another_exception(tmp_path, blob, fmt):
    path = tmp_path / "garbage.txt"
    path.write_bytes(blob)
    try:
        posecast.load(path, format=fmt)
    except PosecastError:
        pass
