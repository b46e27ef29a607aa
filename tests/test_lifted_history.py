"""Training a forecaster on lifted histories (`TrainConfig.lifted_history`, the forecaster of ``lift+forecast``):
the windows it sees, the refusal of a skeleton the lifter does not read, and a tiny run end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import posecast
from posecast import skeletons
from posecast.errors import ValueRangeError
from posecast.synthetic import synthetic_walk


@pytest.fixture(scope="module")
def body17_walks() -> list[np.ndarray]:
    """Three synthetic walks at 25 fps on body-17, ``(N, 17, 3)`` metres."""
    out = []
    for speed, cadence in [(1.0, 0.8), (1.3, 0.9), (1.6, 1.0)]:
        out.append(synthetic_walk(seconds=4.0, fps=25.0, speed=speed, cadence=cadence).to_layout("body-17").positions)
    return out


def _bones(x: np.ndarray, parents: tuple[int, ...]) -> np.ndarray:
    kids = [j for j, p in enumerate(parents) if p >= 0]
    return np.linalg.norm(x[..., kids, :] - x[..., [parents[j] for j in kids], :], axis=-1)


def test_lifted_windows_hold_the_lifted_past_and_the_true_camera_frame_future(body17_walks):
    from posecast.training.motion import LiftedHistory
    from posecast.video.cameras import CameraConfig, film

    skel = skeletons.get("body-17")
    windows = np.stack([w[i : i + 40] for w in body17_walks for i in (0, 30, 55)])  # (9, 40, 17, 3)
    lifted = LiftedHistory("lifter", skel, 25.0)
    out = lifted(windows, 30, np.random.default_rng(5))
    assert out.shape == windows.shape and out.dtype == np.float32
    # the same cameras and detector noise again: the truth the lifter saw
    truth = film(windows, skel, 25.0, np.random.default_rng(5), CameraConfig.measured()).points
    np.testing.assert_allclose(out[:, 30:], truth[:, 30:], atol=1e-6)  # the future: the true one, camera frame
    np.testing.assert_allclose(out[..., 0, :], 0.0, atol=1e-6)  # pelvis-centred in every frame
    # camera frame = world turned (and some windows mirrored, left and right swapped): the future keeps the
    # world's bone lengths
    np.testing.assert_allclose(
        np.sort(_bones(out[:, 30:], skel.parents), -1), np.sort(_bones(windows[:, 30:], skel.parents), -1), atol=1e-5
    )
    # the past is an estimate: near the truth (a walk is easy), not equal to it
    err = np.linalg.norm(out[:, :30] - truth[:, :30], axis=-1).mean()
    assert 0.002 < err < 0.08


def test_with_the_root_the_windows_carry_the_pelvis_motion_in_the_camera_view(body17_walks):
    """`TrainConfig.lifted_root`: the future is the true camera-frame future moved by the pelvis' offsets from the
    last observed frame in the true cameras' view; the history moves by the lifter's cameras' offsets."""
    from posecast.training.motion import LiftedHistory
    from posecast.video.cameras import CameraConfig, film
    from posecast.video.models.common import camera_offsets

    skel = skeletons.get("body-17")
    windows = np.stack([w[i : i + 40] for w in body17_walks for i in (0, 30, 55)])
    out = LiftedHistory("lifter", skel, 25.0, root=True)(windows, 30, np.random.default_rng(5))
    plain = LiftedHistory("lifter", skel, 25.0)(windows, 30, np.random.default_rng(5))
    truth = film(windows, skel, 25.0, np.random.default_rng(5), CameraConfig.measured())
    offsets = camera_offsets(truth.camera[:, 30:], truth.camera[:, 29])
    np.testing.assert_allclose(out[:, 30:, 0], offsets, atol=1e-5)
    np.testing.assert_allclose(out[:, 30:] - out[:, 30:, :1], truth.points[:, 30:], atol=1e-5)
    np.testing.assert_allclose(out[:, :30] - out[:, :30, :1], plain[:, :30], atol=1e-5)  # the same lifted poses
    # walkers move: about 1-1.6 m/s, so a second's walk is metres in the camera's view, not zero
    moved = np.linalg.norm(out[:, 39, 0, :2] - out[:, 30, 0, :2], axis=-1)
    assert moved.max() > 0.2
    # the history's pelvis track ends near the last observed frame (smoothed: not exactly at it) and follows
    # the true one within the lifter's error
    true_past = camera_offsets(truth.camera[:, :30], truth.camera[:, 29])
    assert np.abs(out[:, 29, 0]).max() < 0.1
    assert np.median(np.abs(out[:, :30, 0, :2] - true_past[..., :2])) < 0.1


def test_lifted_history_refuses_a_skeleton_the_lifter_does_not_read():
    from posecast.training.motion import LiftedHistory

    with pytest.raises(ValueRangeError, match="body-17.*smplh-22"):
        LiftedHistory("lifter", skeletons.get("smplh-22"), 25.0)
    with pytest.raises(ValueRangeError, match="not a video model"):
        LiftedHistory("dct-mlp", skeletons.get("body-17"), 25.0)


def test_smooth_past_is_the_quadratic_savitzky_golay_filter():
    from scipy.signal import savgol_filter

    from posecast.video.models.lift_forecast import smooth_past

    x = np.random.default_rng(0).normal(size=(2, 20, 3, 3))
    np.testing.assert_allclose(smooth_past(x, 9), savgol_filter(x, 9, 2, axis=1))
    np.testing.assert_allclose(smooth_past(x[:, :6], 9), savgol_filter(x[:, :6], 5, 2, axis=1))  # 6 frames: 5
    np.testing.assert_array_equal(smooth_past(x[:, :4], 9), x[:, :4])  # too short to smooth
    # a quadratic in time passes unchanged
    t = np.arange(20.0)[None, :, None, None]
    q = 0.3 * t**2 - t + 2 + np.zeros((1, 20, 2, 3))
    np.testing.assert_allclose(smooth_past(q), q, atol=1e-9)


def test_a_tiny_run_on_lifted_histories(body17_walks, tmp_path):
    from posecast.training import load_config, train
    from posecast.training.loop import _Dist
    from posecast.training.motion import MotionTask

    folder = tmp_path / "walks"
    folder.mkdir()
    for i, w in enumerate(body17_walks):
        posecast.save(posecast.Motion(positions=w, fps=25.0, skeleton="body-17"), folder / f"walk{i}.npz")
    cfg = load_config(
        None,
        model="dct-mlp",
        net="dct-mlp",
        data=str(folder),
        history=20,
        frames_per_pass=5,
        params={"blocks": 2},
        epochs=1,
        batch_size=8,
        max_steps_per_epoch=2,
        threads=1,
        val_fraction=0.25,
        lifted_history="lifter",
    )
    task = MotionTask(cfg)
    task.prepare(_Dist("cpu"))
    val = task.val_ws.batch(np.arange(len(task.val_ws)))
    assert val.shape[1:] == (25, 17, 3) and len(val) > 0
    np.testing.assert_allclose(val[..., 0, :], 0.0, atol=1e-6)  # filmed and lifted once: camera frame
    batch = next(iter(task.batches(0)))
    np.testing.assert_allclose(batch[..., 0, :].numpy(), 0.0, atol=1e-6)
    run = train(cfg, tmp_path / "run", resume=False)
    assert (Path(run) / "best" / "model.safetensors").is_file()


def test_motion_training_windows_get_other_bodies(body17_walks, tmp_path):
    """augment_bones / augment_tilt (BodyAugment) on motion training windows: every window's bones rescaled
    within the range, twins alike; with probability 1 every window tilted off the vertical."""
    from posecast.training import load_config
    from posecast.training.loop import _Dist
    from posecast.training.motion import MotionTask

    folder = tmp_path / "walks"
    folder.mkdir()
    for i, w in enumerate(body17_walks):
        posecast.save(posecast.Motion(positions=w, fps=25.0, skeleton="body-17"), folder / f"walk{i}.npz")
    common = dict(
        model="dct-mlp", net="dct-mlp", data=str(folder), history=20, frames_per_pass=5, params={"blocks": 2},
        epochs=1, batch_size=64, max_steps_per_epoch=1, threads=1, val_fraction=0.25, augment_mirror=False,
    )  # fmt: skip
    parents = skeletons.get("body-17").parents
    plain = MotionTask(load_config(None, **common))
    plain.prepare(_Dist("cpu"))
    other = MotionTask(load_config(None, **common, augment_bones=0.1, augment_tilt=60, augment_tilt_probability=1.0))
    other.prepare(_Dist("cpu"))
    a = next(iter(plain.batches(0))).numpy()
    b = next(iter(other.batches(0))).numpy()
    ratio = _bones(b, parents) / _bones(a, parents)  # the same windows (same seed), other bodies
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:, :1], ratio.shape), rtol=1e-4)
    assert ratio.min() > 0.9 - 1e-4 and ratio.max() < 1.1 + 1e-4 and ratio.std() > 0.02
    thorax = skeletons.get("body-17").joint_names.index("thorax")
    up = lambda x: (x[:, :, thorax] - x[:, :, 0])[..., 1] / np.linalg.norm(x[:, :, thorax] - x[:, :, 0], axis=-1)  # noqa: E731
    # the walks' trunks lean about 10 degrees; tilts uniform in 0-60 degrees: cos below 0.9 (beyond 26 degrees)
    # for about half of the windows, never beyond 70 degrees (cos 0.34)
    assert up(a).min() > 0.9 and (up(b)[:, 0] < 0.9).mean() > 0.3 and up(b).min() > 0.33
