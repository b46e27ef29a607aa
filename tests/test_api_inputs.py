"""The Python API as a library user calls it (QA of the twenty-second session): models built once, traces
bounded, positions far from the origin, and bad arguments as PoseCast errors."""

from __future__ import annotations

import time

import numpy as np
import pytest

import posecast
from posecast import api
from posecast.errors import FormatError, PosecastError, SkeletonError, ValueRangeError
from posecast.models.tracing import TraceCache
from posecast.motion import Forecast, Motion
from posecast.skeletons.base import Skeleton
from posecast.synthetic import synthetic_walk


@pytest.fixture(scope="module")
def walk() -> Motion:
    return synthetic_walk(seconds=2.0, fps=25.0)


def test_forecast_builds_each_shipped_model_once(walk):
    a = api.built_model("dct-mlp")
    assert api.built_model("dct-mlp") is a
    one = posecast.forecast(walk, seconds=0.4)
    two = posecast.forecast(walk, seconds=0.4)
    np.testing.assert_array_equal(one.samples, two.samples)
    assert api.built_model("nearest-neighbour") is not api.built_model("nearest-neighbour")  # fitted per call


def test_a_full_trace_cache_runs_new_shapes_eagerly():
    import torch

    cache = TraceCache(size=2)
    net = torch.nn.Linear(3, 2).eval()
    with torch.no_grad():
        for n in (1, 2, 3, 4):
            x = torch.ones(n, 3)
            np.testing.assert_allclose(cache(("lin", n), lambda: net, x).numpy(), net(x).numpy(), atol=1e-6)
    assert len(cache) == 2 and ("lin", 1) in cache and ("lin", 3) not in cache  # no copy made past the size


def test_a_body_far_from_the_origin_is_forecast_as_at_the_origin(walk):
    base = posecast.forecast(walk, seconds=1.0).samples
    shift = np.array([1e4, 0.0, -2e4])  # 10 and 20 km away: float32 alone kept only millimetres
    far = posecast.forecast(Motion(walk.positions + shift, walk.fps, walk.skeleton), seconds=1.0).samples - shift
    assert np.abs(far - base).max() < 1e-5


def test_horizons_as_numpy_numbers_and_booleans(walk):
    a = posecast.forecast(walk, seconds=np.float32(0.4)).samples
    np.testing.assert_array_equal(a, posecast.forecast(walk, seconds=0.4).samples)
    assert posecast.forecast(walk, frames=np.int64(5)).num_frames == 5
    for bad in ({"seconds": True}, {"frames": True}, {"frames": 2.0}):
        with pytest.raises(ValueRangeError, match="impossible horizon"):
            posecast.forecast(walk, **bad)
    with pytest.raises(ValueRangeError, match="samples"):
        posecast.models.get("dct-mlp").forecast(walk, seconds=1.0, samples=True)
    with pytest.raises(ValueRangeError, match="at must be a number"):
        posecast.forecast(walk, at="1")


def test_positions_as_an_array_with_their_skeleton_and_rate(walk):
    direct = posecast.forecast(walk, seconds=0.4).samples
    arr = posecast.forecast(walk.positions, skeleton=walk.skeleton.name, fps=walk.fps, seconds=0.4).samples
    np.testing.assert_array_equal(arr, direct)
    with pytest.raises(ValueRangeError, match="skeleton= and fps="):
        posecast.forecast(walk.positions, seconds=0.4)
    with pytest.raises(ValueRangeError, match="fps apply to files"):
        posecast.forecast(walk, fps=60, seconds=0.4)
    with pytest.raises(ValueRangeError, match="takes a Motion"):
        posecast.models.get("dct-mlp").forecast(walk.positions, seconds=0.4)


def test_motions_refuse_what_is_not_real_numbers(walk):
    m = Motion(walk.positions, 25.0, walk.skeleton, metadata=None)
    assert m.metadata == {} and m.positions is walk.positions  # no copy (documented: slices are views)
    j = walk.num_joints
    with pytest.raises(ValueRangeError, match="regular array"):
        Motion([[[0.0, 0.0, 0.0]] * j, [[0.0, 0.0]] * j], 25.0, walk.skeleton)
    with pytest.raises(ValueRangeError, match="real numbers"):
        Motion(walk.positions.astype(complex), 25.0, walk.skeleton)
    with pytest.raises(ValueRangeError, match="real numbers"):
        Motion(np.full((2, j, 3), "1"), 25.0, walk.skeleton)


def test_skeletons_forecasts_save_and_predict_refuse_bad_values(walk, tmp_path):
    with pytest.raises(SkeletonError, match="offsets must be 2×3"):
        Skeleton("a", ("a", "b"), (-1, 0), offsets=np.zeros((3, 3)))
    with pytest.raises(SkeletonError, match="NaN"):
        Skeleton("a", ("a", "b"), (-1, 0), offsets=np.full((2, 3), np.nan))
    with pytest.raises(SkeletonError, match="parents a list of joint indices"):
        Skeleton("a", ("a", "b"), (-1, "x"))
    with pytest.raises(SkeletonError, match="left_right"):
        Skeleton("a", ("a", "b", "c"), (-1, 0, 0), left_right=[("b", "c")])
    with pytest.raises(ValueRangeError, match="not all zero"):
        Forecast(np.ones((2, 3, walk.num_joints, 3)), 25.0, walk.skeleton, probabilities=[0, 0])
    with pytest.raises(FormatError, match="Motion or a Forecast"):
        posecast.save({"a": 1}, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()
    bound = posecast.models.get("dct-mlp").on_skeleton(walk.skeleton)
    with pytest.raises(ValueRangeError, match="B = 0"):
        bound.predict(np.zeros((0, 50, walk.num_joints, 3)), 25, 1, 25.0)
    with pytest.raises(SkeletonError, match="on_skeleton"):
        posecast.models.get("dct-mlp").predict(walk.positions[None, :50, :], 25, 1, fps=25.0)
    assert issubclass(SkeletonError, PosecastError)


def test_a_key_pose_forecast_at_a_time_carries_the_true_next_key_pose(walk):
    fc = posecast.forecast(walk, model="charpose", samples=3, at=1.0)
    truth = fc.metadata["true_keypose"]
    assert fc.ground_truth.shape == (1, walk.num_joints, 3) and len(truth["mpjpe_m"]) == 3
    assert truth["time_s"] > fc.metadata["last_observed_time_s"]
    np.testing.assert_allclose(fc.ground_truth[0], walk.positions[truth["frame"]])
    assert posecast.forecast(walk, model="charpose", samples=3).ground_truth is None  # no `at`: nothing known


def test_a_mapping_file_edited_between_calls_is_read_again(walk, tmp_path):
    path = tmp_path / "map.yaml"
    z = Motion(walk.positions @ np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]), walk.fps, walk.skeleton)
    path.write_text("up: z\n")
    as_z = posecast.forecast(z, seconds=0.4, mapping=path).samples
    path.write_text("up: y\n")
    as_y = posecast.forecast(z, seconds=0.4, mapping=path).samples
    assert np.abs(as_z - as_y).max() > 0.05  # the second call read the edited file (a cached binding had not)


def test_a_long_take_is_forecast_from_its_tail_with_the_same_result():
    """`api.forecast_tail`: a 40 s take recorded z up (lying down in its last 3 s would not fool it: the axis is
    judged over the whole take) gives the same forecast as the model reading the whole take, and the forecast keeps
    the whole history."""
    walk = synthetic_walk(seconds=40.0, fps=30.0)
    turn = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # y -> z
    take = Motion(walk.positions @ turn.T, walk.fps, walk.skeleton)
    model = posecast.models.get("dct-mlp")
    fast = posecast.forecast(take, model="dct-mlp", seconds=1.0)
    whole = model.forecast(take, seconds=1.0)
    np.testing.assert_allclose(fast.samples, whole.samples, atol=1e-9)
    assert fast.history.num_frames == take.num_frames and fast.metadata["up_axis"] == "+z"
    # the model told the axis judged over the whole take, not over its tail: a take lying down at its end only
    lying = take.positions.copy()
    lying[-60:] = lying[-60:] @ turn.T  # the last 2 s turned once more: the trunk along -y there
    tail_only = Motion(lying, take.fps, take.skeleton)
    fc = posecast.forecast(tail_only, model="dct-mlp", seconds=1.0)
    ref = model.forecast(tail_only, seconds=1.0)
    assert fc.metadata["up_axis"] == ref.metadata["up_axis"]
    np.testing.assert_allclose(fc.samples, ref.samples, atol=1e-9)


def test_motion_capture_skips_the_tracking_checks_with_the_same_answer(walk):
    from posecast.motion import BROKEN_BONE_M, rigid_off_origin

    parents = walk.skeleton.parents
    assert rigid_off_origin(walk.positions, parents)
    assert rigid_off_origin(walk.resample(25.0).positions, parents)  # resampling bends bones by far less than 5 cm
    lost = walk.positions.copy()
    lost[-5:, walk.skeleton.index("LeftHand")] = 0.0  # a tracker's lost hand at the origin
    assert not rigid_off_origin(lost, parents)
    stretched = walk.positions.copy()
    hand = walk.skeleton.index("LeftHand")
    arm = stretched[-1, hand] - stretched[-1, parents[hand]]
    stretched[-1, hand] += arm / np.linalg.norm(arm) * BROKEN_BONE_M  # the bone 5 cm longer in one frame
    assert not rigid_off_origin(stretched, parents)
    fc = posecast.forecast(Motion(lost, walk.fps, walk.skeleton), model="zero-velocity", seconds=0.2)
    assert fc.metadata["carried_joints"][0]["joint"] == "LeftHand"


def test_charpose_observes_nothing_after_at_and_reads_a_long_take_from_its_end():
    """A 120 fps take that starts with a rest pose (dropped): with ``at`` = 0.4 s the key-pose model's last observed
    frame is the one at 0.4 s on the take's clock, as for the motion models (it had been one source frame later: its
    25 fps grid started at the first frame after the rest pose); a 30 s take gives the hypotheses of its last 4 s."""
    walk = synthetic_walk(seconds=30.0, fps=120.0)
    rest = walk.positions[:1] + np.array([0.0, 0.0, 1.0])  # a pose the body leaves at 120 m/s: not motion
    take = Motion(np.concatenate([rest, walk.positions]), walk.fps, walk.skeleton)
    fc = posecast.forecast(take, model="charpose", at=0.4)
    assert fc.metadata["history_starts_at_frame"] == 1
    assert fc.metadata["last_observed_time_s"] == pytest.approx(0.4, abs=1e-9)
    whole = posecast.forecast(walk, model="charpose")
    end = posecast.forecast(walk.frames(walk.num_frames - 480), model="charpose")  # the last 4 s
    np.testing.assert_allclose(whole.samples, end.samples, atol=1e-6)
    np.testing.assert_allclose(whole.probabilities, end.probabilities, atol=1e-6)


def test_a_horizon_too_long_at_a_high_rate_is_refused_in_seconds():
    from posecast.models.base import MAX_FORECAST_FRAMES, resolve_frames

    message = r"20 s horizon at 10000 frames/s is 2e\+05 frames; at most 100000 \(10 s"
    with pytest.raises(ValueRangeError, match=message):
        resolve_frames(10000.0, None, 20.0)
    assert resolve_frames(10000.0, None, MAX_FORECAST_FRAMES / 10000.0) == MAX_FORECAST_FRAMES
    with pytest.raises(ValueRangeError, match="1e\\+308 s horizon"):  # no overflow to an integer first
        resolve_frames(120.0, None, 1e308)


def test_a_rig_with_a_helper_joint_is_judged_through_it():
    """A positions-only rig root -> spine -> chest -> helper (0 cm) -> hand (30 cm): the helper drifting 4.5 cm and
    the hand 9 cm in the last frames keeps every direct bone within 5 cm, but the bone `Bones` judges (hand to chest,
    past the helper) breaks: not taken for rigid motion capture, and the hand is found lost."""
    from posecast.motion import rigid_off_origin, tracking_glitches

    rig = Skeleton("helper-rig", ("root", "spine", "chest", "helper", "hand"), (-1, 0, 1, 2, 3))
    t = np.arange(480) / 240.0
    pos = np.zeros((480, 5, 3))
    pos[:, 0] = np.stack([0.5 * t, np.full_like(t, 1.0), np.zeros_like(t)], axis=-1)  # walking along x
    pos[:, 1] = pos[:, 0] + [0.0, 0.2, 0.0]
    pos[:, 2] = pos[:, 1] + [0.0, 0.3, 0.0]
    pos[:, 3] = pos[:, 2]
    pos[:, 4] = pos[:, 3] + [0.3, 0.0, 0.0]
    assert rigid_off_origin(pos, rig.parents)
    pos[-5:, 3] += [0.045, 0.0, 0.0]
    pos[-5:, 4] += [0.09, 0.0, 0.0]
    assert not rigid_off_origin(pos, rig.parents)
    lost = tracking_glitches(pos, 240.0, rig.parents)
    assert [(g.joint, g.first, g.trailing) for g in lost] == [(4, 475, True)]
    fc = posecast.forecast(Motion(pos, 240.0, rig), model="zero-velocity", seconds=0.1)
    assert fc.metadata["carried_joints"] == [{"joint": "hand", "lost_from_frame": 475}]


def test_charpose_at_hints_and_the_true_key_pose_right_after_the_window():
    """At 120 fps the key-pose window needs its 0.36 s in source frames: the hint names a time that works; a key pose
    one source frame after the last observed one is the true next key pose (half a 25 fps frame had hidden it)."""
    walk = synthetic_walk(seconds=4.0, fps=120.0)
    with pytest.raises(ValueRangeError, match=r"use --at 0\.37 or later"):
        posecast.forecast(walk, model="charpose", at=0.36)
    assert posecast.forecast(walk, model="charpose", at=0.37).metadata["last_observed_time_s"] == pytest.approx(
        44 / 120.0
    )
    from posecast.keyposes.mining import mine_motion

    fc0 = posecast.forecast(walk, model="charpose", at=1.0)
    first = next(k for k in mine_motion(walk, **fc0.metadata["mining"]).keyposes if k.frame > 120)
    at = (first.frame - 1) / 120.0  # the key pose is the frame right after the last observed one
    fc = posecast.forecast(walk, model="charpose", at=at)
    assert fc.metadata["true_keypose"]["frame"] == first.frame


def test_a_trace_cache_called_from_several_threads_traces_a_shape_once(monkeypatch):
    """The server's stream lanes and REST thread share a model: a new shape is traced by one thread only,
    the others run it eagerly meanwhile, and every answer is the module's."""
    import threading

    import torch

    traces = []
    real = torch.jit.trace

    def counting(*args, **kwargs):
        traces.append(threading.current_thread().name)
        time.sleep(0.05)  # let the other threads arrive while this one traces
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.jit, "trace", counting)
    cache = TraceCache(size=4)
    net = torch.nn.Linear(3, 2).eval()
    x = torch.arange(6.0).reshape(2, 3)
    start = threading.Barrier(6)
    out = []

    def call():
        start.wait()
        with torch.no_grad():
            for _ in range(5):
                out.append(cache(("lin", 2), lambda: net, x).numpy())

    workers = [threading.Thread(target=call) for _ in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(traces) == 1 and len(cache) == 1 and len(out) == 30
    with torch.no_grad():
        want = net(x).numpy()
    for o in out:
        np.testing.assert_allclose(o, want, atol=1e-6)


def test_positions_as_an_array_must_be_metres_or_say_their_unit(walk):
    """An array in centimetres is refused as a .npy file of them is (it had been forecast as a body 133 m tall);
    units= scales it, and the forecast is the metres array's, in metres."""
    cm = walk.positions * 100.0
    with pytest.raises(ValueRangeError, match=r"a body spanning .* m: positions must be metres \(cm"):
        posecast.forecast(cm, skeleton=walk.skeleton.name, fps=walk.fps, seconds=0.4)
    got = posecast.forecast(cm, skeleton=walk.skeleton.name, fps=walk.fps, seconds=0.4, units="cm").samples
    want = posecast.forecast(walk.positions, skeleton=walk.skeleton.name, fps=walk.fps, seconds=0.4).samples
    np.testing.assert_allclose(got, want, atol=1e-6)
    with pytest.raises(ValueRangeError, match="a Motion is in metres already"):
        posecast.forecast(walk, seconds=0.4, units="cm")


def test_several_samples_of_a_deterministic_model_are_refused_in_the_api(walk):
    """posecast.forecast refuses samples > 1 on a model whose samples would all be one forecast, as the CLI and
    the server do (one check, `api.check_samples`); a model that gives several takes them."""
    with pytest.raises(ValueRangeError, match="'dct-mlp' is deterministic: its 3 samples would be one forecast"):
        posecast.forecast(walk, seconds=0.4, samples=3)
    assert posecast.forecast(walk, seconds=0.4, samples=1).samples.shape[0] == 1
    nn = posecast.forecast(walk, model="nearest-neighbour", seconds=0.4, samples=2, fit_data=[walk])
    assert nn.samples.shape[0] == 2
