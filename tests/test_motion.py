"""Motion / Forecast / Skeleton behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import posecast
from posecast.errors import SkeletonError, ValueRangeError
from posecast.kinematics import axis_angle_to_matrix, forward_kinematics
from posecast.skeletons.base import Skeleton
from posecast.synthetic import synthetic_walk


def _line_motion(frames=11, fps=10.0):
    """Joints moving at constant velocity: joint j at (t, j, 0) metres at time t seconds."""
    t = np.arange(frames) / fps
    pos = np.zeros((frames, 31, 3))
    pos[..., 0] = t[:, None]
    pos[..., 1] = np.arange(31)[None]
    return posecast.Motion(pos, fps, "cmu-bvh-31")


def test_slicing_by_frames_and_seconds():
    m = _line_motion()
    assert m.duration == pytest.approx(1.0)
    assert m.frames(2, 5).num_frames == 3
    half = m.frames(0, None, 2)
    assert half.fps == 5.0 and half.num_frames == 6
    sec = m.seconds(0.25, 0.55)  # frames at 0.3, 0.4, 0.5
    np.testing.assert_allclose(sec.positions[:, 0, 0], [0.3, 0.4, 0.5])
    assert m[3:].num_frames == 8
    with pytest.raises(ValueRangeError):
        m.frames(20, 30)
    with pytest.raises(ValueRangeError):
        m.seconds(0.5, 0.2)


def test_resample_is_linear_in_time():
    m = _line_motion()
    up = m.resample(40.0)
    assert up.num_frames == 41 and up.fps == 40.0
    np.testing.assert_allclose(up.positions[:, 0, 0], np.arange(41) / 40.0, atol=1e-12)
    down = m.resample(4.0)
    np.testing.assert_allclose(down.positions[:, 5, 0], [0, 0.25, 0.5, 0.75, 1.0], atol=1e-12)


def test_resample_slerps_rotations():
    walk = synthetic_walk(seconds=1.0, fps=10.0)
    up = walk.resample(20.0)
    # halfway between two frames the rotation is the geodesic midpoint
    a, b, mid = walk.rotations[3], walk.rotations[4], up.rotations[7]
    rel_a = np.einsum("jba,jbc->jac", a, mid)  # a^T mid
    rel_b = np.einsum("jba,jbc->jac", mid, b)  # mid^T b
    ang = lambda r: np.arccos(np.clip((np.trace(r, axis1=1, axis2=2) - 1) / 2, -1, 1))  # noqa: E731
    np.testing.assert_allclose(ang(rel_a), ang(rel_b), atol=1e-9)


def test_resample_rigid_keeps_bones_and_agrees_with_forward_kinematics():
    """`Motion.resample_rigid`: positions by FK of the slerped rotations, so every bone keeps its rest length
    exactly (linear positions shorten bones between frames); frames that fall on source frames are the
    source's; a motion without rotations resamples linearly."""
    walk = synthetic_walk(seconds=1.0, fps=30.0)
    skel = walk.skeleton
    rigid, linear = walk.resample_rigid(25.0, anchor="end"), walk.resample(25.0, anchor="end")
    assert rigid.num_frames == linear.num_frames and rigid.fps == 25.0
    np.testing.assert_allclose(rigid.rotations, linear.rotations)
    par = np.array(skel.parents)
    ch = np.nonzero(par >= 0)[0]
    rest = np.linalg.norm(skel.offsets[ch], axis=-1)

    def lengths(m):
        return np.linalg.norm(m.positions[:, ch] - m.positions[:, par[ch]], axis=-1)

    np.testing.assert_allclose(lengths(rigid), np.broadcast_to(rest, lengths(rigid).shape), atol=1e-12)
    assert np.abs(lengths(linear) - rest).max() > 1e-5  # what the linear positions do
    fk, _ = forward_kinematics(rigid.rotations, skel.offsets, skel.parents, rigid.positions[:, 0])
    np.testing.assert_allclose(rigid.positions, np.asarray(fk), atol=1e-12)
    np.testing.assert_allclose(rigid.positions[-1], walk.positions[-1], atol=1e-12)  # anchored at the end
    np.testing.assert_allclose(rigid.positions[-6], walk.positions[-7], atol=1e-12)  # 0.2 s earlier: on a frame
    line = _line_motion()
    np.testing.assert_allclose(line.resample_rigid(40.0).positions, line.resample(40.0).positions)


def test_resample_rigid_takes_the_nearer_frame_where_rotations_flip_between_frames():
    """An exporter's joint rotation flipped by 180 degrees about z on every other frame (its child's offset, in the
    flipped frame, flips too, so the recorded positions stay smooth): slerping across the flip swung the chain
    tens of centimetres off, so those frames take the nearer source frame, positions and rotations together (a
    BVH written from linear positions and slerped rotations still swung), and say how many; the walk's consistent
    rotations keep their rigid positions."""
    from posecast.kinematics.rotations import axis_angle_to_matrix as aa

    skel = Skeleton("flip", ("root", "A", "B", "C"), (-1, 0, 1, 2), np.array(
        [[0, 0, 0], [0.1, 0, 0], [0.3, 0, 0], [0, -0.4, 0]], dtype=float))  # fmt: skip
    t = np.arange(31) / 30.0
    local = np.broadcast_to(np.eye(3), (31, 4, 3, 3)).copy()
    local[:, 1] = aa(torch.as_tensor(np.outer(0.3 * t, [0.0, 1.0, 0.0]))).numpy()  # A turns slowly about y
    local[:, 2] = aa(torch.as_tensor(np.outer(1.0 * t, [0.0, 0.0, 1.0]))).numpy()  # B about z
    root = np.column_stack([np.zeros(31), np.ones(31), 0.3 * t])
    positions, _ = forward_kinematics(local, skel.offsets, skel.parents, root)
    flipped = local.copy()
    flipped[1::2, 1] = local[1::2, 1] @ np.diag([-1.0, -1.0, 1.0])  # A's rotation, and so B's offset, flipped
    motion = posecast.Motion(np.asarray(positions), 30.0, skel, rotations=flipped, root_translation=root)
    rigid = motion.resample_rigid(25.0, anchor="end")
    assert rigid.metadata["nearest_frames"] == 20  # every new frame between a flipped and an unflipped one
    # each such frame is its nearer source frame, positions and rotations together (the chain had swung 0.5 m)
    pos_d = np.abs(rigid.positions[:, None] - motion.positions[None]).max(axis=(2, 3))  # (new, source)
    rot_d = np.abs(rigid.rotations[:, None] - motion.rotations[None]).max(axis=(2, 3, 4))
    copies = ((pos_d < 1e-12) & (rot_d < 1e-12)).any(axis=1)
    assert copies.all()  # the 20 repaired, and the 6 new frames that fall on a source frame (30 -> 25 fps)
    walk = synthetic_walk(seconds=1.0, fps=30.0)
    assert "nearest_frames" not in walk.resample_rigid(25.0, anchor="end").metadata


def test_root_relative_and_mirror():
    walk = synthetic_walk(seconds=1.0, fps=10.0)
    rr = walk.root_relative()
    np.testing.assert_allclose(rr.positions[:, 0], 0.0)
    mir = walk.mirror()
    skel = walk.skeleton
    left, right = skel.index("LeftHand"), skel.index("RightHand")
    np.testing.assert_allclose(mir.positions[:, left], walk.positions[:, right] * [-1, 1, 1])
    np.testing.assert_allclose(mir.mirror().positions, walk.positions)
    # mirrored rotations are consistent with mirrored positions through FK
    pos, _ = forward_kinematics(
        mir.rotations, skel.offsets[skel.mirror_permutation] * [-1, 1, 1], skel.parents, mir.root_translation
    )
    np.testing.assert_allclose(pos, mir.positions, atol=1e-9)


def test_torch_round_trip():
    m = _line_motion()
    t = m.to_torch()
    assert t.dtype == torch.float32 and tuple(t.shape) == (11, 31, 3)
    back = posecast.Motion.from_torch(t, m.fps, m.skeleton)
    np.testing.assert_allclose(back.positions, m.positions, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"positions": np.zeros((0, 31, 3))}, ValueRangeError, "no frames"),
        ({"positions": np.zeros((4, 30, 3))}, SkeletonError, "do not match"),
        ({"positions": np.full((4, 31, 3), np.nan)}, ValueRangeError, "NaN"),
        ({"fps": 0}, ValueRangeError, "frame rate"),
        ({"fps": float("inf")}, ValueRangeError, "frame rate"),
        ({"skeleton": "no-such-skeleton"}, SkeletonError, "unknown skeleton"),
    ],
)
def test_invalid_motions(kwargs, error, message):
    args = {"positions": np.zeros((4, 31, 3)), "fps": 30.0, "skeleton": "cmu-bvh-31", **kwargs}
    with pytest.raises(error, match=message):
        posecast.Motion(**args)


def test_forecast_container():
    f = posecast.Forecast(np.ones((3, 5, 31, 3)), 25.0, "cmu-bvh-31", probabilities=[1, 1, 2])
    assert f.horizon == pytest.approx(0.2)
    np.testing.assert_allclose(f.probabilities, [0.25, 0.25, 0.5])
    np.testing.assert_allclose(f.mean, 1.0)
    with pytest.raises(SkeletonError):
        posecast.Forecast(np.ones((3, 5, 30, 3)), 25.0, "cmu-bvh-31")
    with pytest.raises(ValueRangeError):
        posecast.Forecast(np.ones((2, 5, 31, 3)), 25.0, "cmu-bvh-31", probabilities=[1, -1])


def test_skeleton_registry_and_tree():
    names = posecast.skeletons.names()
    assert {"cmu-mocap-38", "cmu-bvh-31"} <= set(names)
    s38 = posecast.skeletons.get("cmu-mocap-38")
    assert s38.num_joints == 38 and s38.parents[25] == 24
    # femur of the benchmark skeleton: 7.594 ASF units
    femur = np.linalg.norm(s38.offsets[s38.index("LeftLeg")])
    assert femur / (0.0254 / 0.45) == pytest.approx(7.594, abs=1e-3)
    perm = s38.mirror_permutation
    np.testing.assert_array_equal(perm[perm], np.arange(38))
    assert s38.joint_names[perm[s38.index("LThumb")]] == "RThumb"
    with pytest.raises(SkeletonError):
        Skeleton("bad", ("a", "b"), (-1, 5))
    with pytest.raises(SkeletonError):
        Skeleton("bad", ("a", "a"), (-1, 0))
    assert Skeleton.from_dict(s38.to_dict()).same_layout(s38)


def test_subset_reparents_and_keeps_rest_positions():
    s38 = posecast.skeletons.get("cmu-mocap-38")
    s31 = posecast.skeletons.get("cmu-bvh-31")
    assert s31.num_joints == 31 and "Head_end" not in s31.joint_names
    sub = s38.subset(["Hips", "LeftUpLeg", "LeftFoot", "Head"])
    assert sub.parents == (-1, 0, 1, 0)
    rest = s38.rest_positions()
    np.testing.assert_allclose(sub.rest_positions()[2], rest[s38.index("LeftFoot")])


def test_fk_of_skeleton_rest_pose_matches_rest_positions():
    s = posecast.skeletons.get("cmu-mocap-38")
    rot = np.broadcast_to(np.eye(3), (1, 38, 3, 3))
    pos, _ = forward_kinematics(rot, s.offsets, s.parents)
    np.testing.assert_allclose(pos[0], s.rest_positions(), atol=1e-15)
    tilt = rot.copy()
    tilt[0, 0] = axis_angle_to_matrix(np.array([0.0, np.pi, 0.0]))  # turn around: x -> -x
    pos2, _ = forward_kinematics(tilt, s.offsets, s.parents)
    np.testing.assert_allclose(pos2[0] * [-1, 1, -1], s.rest_positions(), atol=1e-12)


def test_synthetic_walk_is_a_plausible_walk():
    walk = synthetic_walk(seconds=4.0, fps=30.0, speed=1.2)
    assert walk.metadata["synthetic"] is True
    root = walk.positions[:, 0]
    speed = np.linalg.norm(root[-1, [0, 2]] - root[0, [0, 2]]) / walk.duration
    assert speed == pytest.approx(1.2, rel=1e-6)
    head_height = walk.positions[:, walk.skeleton.index("Head"), 1]
    assert (head_height > 1.2).all()  # upright
    assert walk.positions[..., 1].min() > -0.05  # on the ground


def test_end_anchored_resampling_keeps_the_last_frame():
    """A history a forecast continues is resampled from its last frame back (``anchor="end"``): the last observed
    pose is kept exactly, whatever the clip's length; the default keeps the first frame."""
    x = np.arange(240, dtype=float)[:, None] / 120.0  # 240 frames at 120 Hz: t = frame / 120, last 1.9917 s
    start = posecast.motion.resample_positions(x, 120.0, 25.0)
    end = posecast.motion.resample_positions(x, 120.0, 25.0, anchor="end")
    assert start.shape == end.shape == (50, 1)
    np.testing.assert_allclose(start[:, 0], np.arange(50) / 25.0)  # ends at 1.96 s: the last 32 ms are lost
    np.testing.assert_allclose(end[:, 0], x[-1, 0] - np.arange(49, -1, -1) / 25.0)
    walk = synthetic_walk(seconds=2.0, fps=120.0)
    back = walk.resample(25.0, anchor="end")
    np.testing.assert_allclose(back.positions[-1], walk.positions[-1])
    with pytest.raises(ValueRangeError, match="anchor"):
        posecast.motion.resample_positions(x, 120.0, 25.0, anchor="middle")


def test_a_forecast_at_another_rate_starts_from_the_last_observed_frame():
    """The network reads a history whose last frame is the last observed one (resampled from the end), so a
    120 Hz clip of any length is forecast from its newest pose, not from up to 40 ms before it."""
    from posecast.models.neural import NeuralForecaster
    from posecast.models.store import shipped

    model = NeuralForecaster.load(shipped("dct-mlp", "corpus"))
    walk = synthetic_walk(seconds=3.0, fps=120.0)
    seen = {}
    rollout = model.rollout

    def spy(window, frames):
        seen["last"] = window[:, -1].numpy()
        return rollout(window, frames)

    model.rollout = spy
    skel = posecast.skeletons.get(model.config.skeleton)
    history = np.repeat(walk.positions[None, :, :1], skel.num_joints, axis=2)  # any (1, T, 22, 3) history
    history = history + np.linspace(0, 1, skel.num_joints)[None, None, :, None]
    for t in (240, 239, 217):  # off and on the 25 fps grid
        model.predict(history[:, :t], 12, fps=120.0)
        shift = history[:, t - 1, :1] * np.array([1.0, 0.0, 1.0])  # taken out in float64 (far from the origin)
        np.testing.assert_allclose(seen["last"], history[:, t - 1] - shift, atol=1e-5)


def test_bad_predict_arguments_and_sample_indices_are_posecast_errors():
    """``predict`` checks its arguments (a silent empty or NaN forecast, or an IndexError deep inside, before);
    ``Forecast.sample`` and ``to_motion`` take the same indices (negative from the end) and refuse others alike."""
    from posecast.errors import PosecastError

    walk = synthetic_walk(seconds=3.0, fps=25.0)
    model = posecast.models.get("constant-velocity")
    fc = model.forecast(walk, seconds=0.4, samples=3)
    assert fc.sample(-1).num_frames == 10 and fc.to_motion(-1).num_frames == walk.num_frames + 10
    for bad in (3, -4, 1.0, None, True):
        for call in (fc.sample, fc.to_motion):
            with pytest.raises(ValueRangeError, match="does not exist"):
                call(bad)
    dct = posecast.models.get("dct-mlp").variant("corpus")
    h = np.zeros((1, 50, dct.skeleton.num_joints, 3))
    nan = h.copy()
    nan[0, 3, 0, 0] = np.nan
    for args, words in (
        ((h, 10, 0, 25.0), "samples"),
        ((h, 0, 1, 25.0), "frames"),
        ((h, 2.5, 1, 25.0), "frames"),
        ((h, 10, 1, 0.0), "frame rate"),
        ((h, 10, 1, "x"), "frame rate"),
        ((nan, 10, 1, 25.0), "NaN"),
        ((h[:, :0], 10, 1, 25.0), "0 frames"),
        ((h[0], 10, 1, 25.0), "(B, T, J, 3)"),
    ):
        with pytest.raises(PosecastError, match=words.replace("(", r"\(").replace(")", r"\)")):
            dct.predict(*args)
    with pytest.raises(ValueRangeError, match="samples"):
        posecast.forecast(walk, seconds=0.4, samples=0)
    assert posecast.viz.render  # reachable after `import posecast`, as the README shows it


def test_motion_methods_refuse_impossible_arguments_with_posecast_errors():
    walk = synthetic_walk(seconds=2.0, fps=25.0)
    for call in (
        lambda: walk.seconds(float("nan")),
        lambda: walk.seconds("0", "1"),
        lambda: walk.frames(1.5),
        lambda: walk.frames(0, 10, 2.0),
        lambda: walk.frames(0, 10, 0),
        lambda: walk[0:10:0],
        lambda: walk.mirror(3),
        lambda: walk.resample(True),
    ):
        with pytest.raises(ValueRangeError):
            call()
    assert walk.seconds(0, float("inf")).num_frames == walk.seconds(0, 1e9).num_frames == walk.num_frames
    assert walk.frames(np.int64(2)).num_frames == walk.num_frames - 2


def test_a_detached_start_is_found_by_its_speed():
    from posecast.motion import GLITCH_SPEED, MAX_DETACHED, detached_start

    m = _line_motion(frames=11, fps=10.0)  # every joint at 1 m/s
    assert detached_start(m.positions, m.fps) == 0
    pos = m.positions.copy()
    pos[0, 5, 2] += 1.3  # one joint 1.3 m off in frame 0: 13 m/s to reach frame 1, above 12.5
    assert detached_start(pos, m.fps) == 1
    assert detached_start(pos, m.fps, limit=14.0) == 0
    assert detached_start(pos[:2], m.fps) == 0  # too short to tell
    assert detached_start(pos[:3], m.fps) == 1
    twice = m.positions.copy()
    twice[:2, 5, 2] += 1.3  # the rest pose written twice: the jump is 1 -> 2
    assert detached_start(twice, m.fps) == 2
    glitch = pos.copy()
    glitch[1, 7, 0] -= 2.0  # and frame 1 a glitch as well (CMU BVH 07_12): 0 -> 1 and 1 -> 2 both too fast
    assert detached_start(glitch, m.fps) == 2
    late = m.positions.copy()
    late[MAX_DETACHED + 1 :, 3, 1] += 1.3  # a jump after the first MAX_DETACHED steps is not a detached start
    assert detached_start(late, m.fps) == 0
    storm = m.positions.copy()
    storm[::2, 2, 0] += 2.0  # every step too fast: nothing can be told
    assert detached_start(storm, m.fps) == 0
    assert GLITCH_SPEED == 12.5


def test_forecast_leaves_a_rest_pose_in_frame_0_out_of_the_history():
    m = _line_motion(frames=30, fps=10.0)
    pos = m.positions.copy()
    pos[0] = pos[0] * 0.0  # frame 0: every joint at the origin (a rest pose written before the motion)
    fc = posecast.forecast(posecast.Motion(pos, 10.0, "cmu-bvh-31"), model="constant-velocity", frames=3)
    assert fc.history.num_frames == 29 and fc.history.metadata["history_starts_at_frame"] == 1
    assert fc.metadata["history_starts_at_frame"] == 1
    np.testing.assert_allclose(fc.history.positions, pos[1:])
    # the forecast continues the motion: 1 m/s along x
    np.testing.assert_allclose(fc.samples[0][:, :, 0], pos[-1, None, :, 0] + 0.1 * np.arange(1, 4)[:, None], atol=1e-9)
    whole = posecast.forecast(m, model="constant-velocity", frames=3)
    assert whole.history.num_frames == 30 and "history_starts_at_frame" not in whole.history.metadata
    assert whole.metadata["history_starts_at_frame"] == 0
    # --at: found on the whole motion, so a history of the rest pose and two frames keeps those two
    early = posecast.forecast(posecast.Motion(pos, 10.0, "cmu-bvh-31"), model="constant-velocity", frames=3, at=0.2)
    np.testing.assert_allclose(early.history.positions, pos[1:3])
    for at in (0.01, 0.1):  # nothing left, or one frame where the model needs two
        with pytest.raises(ValueRangeError, match="rest pose.*needs 2"):
            posecast.forecast(posecast.Motion(pos, 10.0, "cmu-bvh-31"), model="constant-velocity", frames=3, at=at)


def test_qa_of_the_data_api_root_relative_until_and_forecast_checks(tmp_path):
    """QA (property tests of the data API): a root-relative motion kept its root translation (an exp-map file written
    from it put the root back, 1.8 m off); ``until`` took "1", None and True; huge probabilities all became 0;
    samples 1e9 m away were taken; probabilities of text raised a bare ValueError."""
    import posecast
    from posecast.errors import ValueRangeError
    from posecast.kinematics.fk import forward_kinematics
    from posecast.motion import Forecast, Motion

    sk = posecast.skeletons.get("cmu-mocap-38")
    rot = np.tile(np.eye(3), (2, 38, 1, 1))
    root = np.array([[1.0, 0.9, 0.5], [1.1, 0.9, 0.5]])
    pos, _ = forward_kinematics(rot, sk.offsets, sk.parents, root)
    rr = Motion(pos, 120.0, sk, rotations=rot, root_translation=root).root_relative()
    assert np.allclose(rr.root_translation, 0.0) and np.allclose(rr.positions[:, 0], 0.0)
    back = posecast.load(posecast.save(rr, tmp_path / "r.txt"), global_motion=True)
    np.testing.assert_allclose(back.positions[:, 0], 0.0, atol=1e-9)
    walk = Motion(pos, 120.0, sk)
    for bad in ("1", None, True, float("nan")):
        with pytest.raises(ValueRangeError, match="times are numbers of seconds"):
            walk.until(bad)
    assert walk.until(0.0).num_frames == 1
    samples = np.zeros((2, 3, 38, 3))
    fc = Forecast(samples, 10.0, sk, probabilities=[1e308, 1e308])
    np.testing.assert_allclose(fc.probabilities, [0.5, 0.5])
    with pytest.raises(ValueRangeError, match="probabilities"):
        Forecast(samples, 10.0, sk, probabilities=["a", "b"])
    with pytest.raises(ValueRangeError, match="more than"):
        Forecast(samples + 1e9, 10.0, sk)
