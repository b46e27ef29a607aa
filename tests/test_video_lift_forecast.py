"""``lift+forecast``: a lifter's lifted past, smoothed, forecast by a 3D motion model, continuous."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.errors import ModelError
from posecast.video.models.base import VideoForecaster, VideoPrediction
from posecast.video.models.lift_forecast import SMOOTH_FRAMES, LiftForecast


class _Lifter(VideoForecaster):
    """Returns a fixed past and cameras, whatever the keypoints."""

    name = "fixed"

    def __init__(self, past: np.ndarray) -> None:
        self.past = past

    def predict(self, keypoints, visibility, frames, world=None):
        b, t = self.past.shape[:2]
        return VideoPrediction(past=self.past, future=np.zeros((b, frames, 17, 3)), camera=np.ones((b, t + frames, 3)))


class _Recorder:
    """A 3D forecaster that records what it read and continues it at a constant velocity of 1 cm/frame in x,
    offset by 5 cm from the last frame it read."""

    def predict(self, history, frames, samples, fps):
        self.seen = history.copy()
        step = np.arange(1, frames + 1)[None, :, None, None] * np.array([0.01, 0.0, 0.0])
        fut = history[:, -1:] + np.array([0.05, 0.0, 0.0]) + step
        return fut[:, None]


def _quadratic_past(b: int = 2, t: int = 50) -> np.ndarray:
    rng = np.random.default_rng(0)
    time = np.arange(t)[None, :, None, None] / 25.0
    a, v, x0 = (rng.standard_normal((b, 1, 17, 3)) * s for s in (0.2, 0.5, 0.3))
    past = x0 + v * time + a * time**2
    return past - past[:, :, :1]  # pelvis-centred, as a lifter writes it


def test_a_quadratic_past_is_read_unchanged_and_the_forecast_starts_at_the_last_estimate():
    past = _quadratic_past()
    rec = _Recorder()
    model = LiftForecast(_Lifter(past), rec)
    pred = model.predict(np.zeros((2, 50, 17, 2)), np.ones((2, 50, 17)), 10)
    # a quadratic Savitzky-Golay filter leaves a quadratic track as it is
    np.testing.assert_allclose(rec.seen, past, atol=1e-9)
    assert pred.future.shape == (2, 10, 17, 3) and pred.camera.shape == (2, 60, 3)
    np.testing.assert_allclose(pred.future[:, 0], past[:, -1], atol=1e-12)  # continuity: no 5 cm jump
    np.testing.assert_allclose(pred.future[:, :, 0], 0.0, atol=1e-12)  # pelvis-centred per frame
    np.testing.assert_array_equal(pred.past, past)


def test_the_forecaster_reads_a_smoothed_past():
    rng = np.random.default_rng(1)
    clean = _quadratic_past()
    noisy = clean + 0.02 * rng.standard_normal(clean.shape)
    rec = _Recorder()
    LiftForecast(_Lifter(noisy), rec).predict(np.zeros((2, 50, 17, 2)), np.ones((2, 50, 17)), 5)
    err_in = np.abs(noisy - clean)[:, :, 1:].mean()
    err_read = np.abs(rec.seen - clean)[:, :, 1:].mean()
    # white noise through a 9-frame quadratic smoother: its centre weight is 59/231 = 0.255, the sum of its
    # squared weights, so the noise std left inside the window is sqrt(0.255) = 0.505 of it (the window ends,
    # fitted one-sidedly, keep more: 0.511 over 50 frames, measured on 2000 rows of white noise)
    assert SMOOTH_FRAMES == 9 and err_read < 0.58 * err_in


def test_short_pasts_are_forecast_unsmoothed_and_a_non_video_lifter_is_refused():
    past = _quadratic_past(t=3) + 0.01
    rec = _Recorder()
    LiftForecast(_Lifter(past), rec).predict(np.zeros((2, 3, 17, 2)), np.ones((2, 3, 17)), 4)
    np.testing.assert_array_equal(rec.seen, past)
    from posecast.video.models.lift_forecast import build

    with pytest.raises(ModelError, match="not a video model"):
        build(lifter="zero-velocity")


class _Bent:
    """A 3D forecaster that holds the last frame it read with joint 3 moved 5 cm in x (the pelvis stays)."""

    def predict(self, history, frames, samples, fps):
        fut = np.repeat(history[:, -1:], frames, axis=1).copy()
        fut[:, :, 3, 0] += 0.05
        return fut[:, None]


def test_continuity_shifts_the_forecast_to_the_last_estimate_only_when_asked():
    past = _quadratic_past()
    kp, vis = np.zeros((2, 50, 17, 2)), np.ones((2, 50, 17))
    shifted = LiftForecast(_Lifter(past), _Bent()).predict(kp, vis, 6).future
    np.testing.assert_allclose(shifted, np.repeat(past[:, -1:], 6, axis=1), atol=1e-12)
    left = LiftForecast(_Lifter(past), _Bent(), continuity=False).predict(kp, vis, 6).future
    expected = np.repeat(past[:, -1:], 6, axis=1).copy()
    expected[:, :, 3, 0] += 0.05
    np.testing.assert_allclose(left, expected, atol=1e-12)


def test_the_default_route_is_the_forecaster_trained_on_lifted_histories():
    import posecast
    from posecast.video.models.lift_forecast import LIFTED_VARIANT, build

    model = build()
    assert not model.continuity and model.forecaster.config.skeleton == "body-17"
    assert model.forecaster.config == posecast.models.get("dct-mlp").variant(LIFTED_VARIANT).config
    assert build(route="canonical").continuity
    with pytest.raises(ModelError, match="no variant"):
        build(forecaster="traj-gcn")
    with pytest.raises(ModelError, match="route is"):
        build(route="sideways")


def test_registry_builds_it_from_shipped_models_and_it_forecasts_a_track():
    import posecast
    from posecast.video.track import PoseTrack

    info = posecast.models.info("lift+forecast")
    assert info.kind == "video" and not info.learned
    model = posecast.models.get("lift+forecast")
    rng = np.random.default_rng(2)
    base = rng.uniform(200, 400, size=(1, 17, 2))
    kp = base + rng.normal(0, 1.0, size=(40, 17, 2))
    track = PoseTrack(keypoints=kp, visibility=np.ones((40, 17)), times=np.arange(40) / 25.0,
                      image_size=(640, 480), skeleton="body-17")  # fmt: skip
    video = model.forecast_track(track, 1.0)
    assert video.future.shape == (25, 17, 3) and np.isfinite(video.future).all()
    np.testing.assert_allclose(video.future_pixels()[0], video.anchor, atol=20.0)  # starts at what was seen


def test_camera_offsets_by_hand_and_their_inverse():
    from posecast.video.models.common import NOMINAL_DEPTH, camera_offsets, offsets_to_cameras

    ref = np.array([100.0, 320.0, 240.0])  # 100 px per metre, pelvis at (320, 240)
    cams = np.array([[100.0, 370.0, 240.0], [100.0, 320.0, 190.0], [125.0, 320.0, 240.0], [80.0, 300.0, 260.0]])
    off = camera_offsets(cams, ref)
    # 50 px right at 100 px/m: 0.5 m right; 50 px up: 0.5 m up; scale x1.25: the distance times 0.8, so
    # 0.2 x the nominal depth nearer (z toward the camera); scale x0.8: 0.25 x the depth further away
    np.testing.assert_allclose(off[0], [0.5, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(off[1], [0.0, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(off[2], [0.0, 0.0, 0.2 * NOMINAL_DEPTH], atol=1e-12)
    np.testing.assert_allclose(off[3], [-0.2, -0.2, -0.25 * NOMINAL_DEPTH], atol=1e-12)
    np.testing.assert_allclose(offsets_to_cameras(ref, off), cams, atol=1e-9)
    # batched over windows, and the reference's own offset is zero
    batch = np.stack([cams, cams * 1.1])
    off_b = camera_offsets(batch, batch[:, -1])
    np.testing.assert_allclose(off_b[:, -1], 0.0, atol=1e-12)
    np.testing.assert_allclose(offsets_to_cameras(batch[:, -1], off_b), batch, atol=1e-9)
    # nobody comes closer than MIN_DEPTH_RATIO of the reference's distance
    near = offsets_to_cameras(ref, np.array([[0.0, 0.0, 10 * NOMINAL_DEPTH]]))
    assert np.isfinite(near).all() and near[0, 0] == pytest.approx(100.0 / 0.2)


def test_cameras_of_frames_where_nothing_was_seen_are_interpolated():
    from posecast.video.models.common import fill_unseen_cameras

    cams = np.array([[[1.0, 10, 20], [0.001, 0, 0], [0.001, 0, 0], [4.0, 40, 50], [0.001, 0, 0]]])
    vis = np.ones((1, 5, 17))
    vis[0, [1, 2, 4]] = 0.0
    out = fill_unseen_cameras(cams, vis)
    np.testing.assert_allclose(out[0, 1], [2.0, 20, 30])
    np.testing.assert_allclose(out[0, 2], [3.0, 30, 40])
    np.testing.assert_allclose(out[0, 4], [4.0, 40, 50])  # held at the end
    np.testing.assert_array_equal(out[0, [0, 3]], cams[0, [0, 3]])
    nothing = fill_unseen_cameras(cams, np.zeros((1, 5, 17)))  # no frame seen: left as it is
    np.testing.assert_array_equal(nothing, cams)


class _Mover:
    """A 3D forecaster that records what it read and moves the whole body by 2 cm/frame in x and 1 cm/frame
    toward the camera from the last frame it read."""

    def predict(self, history, frames, samples, fps):
        self.seen = history.copy()
        step = np.arange(1, frames + 1)[None, :, None, None] * np.array([0.02, 0.0, 0.01])
        return (history[:, -1:] + step)[:, None]


class _CameraLifter(_Lifter):
    """A fixed past and fixed pixel cameras."""

    def __init__(self, past: np.ndarray, cameras: np.ndarray) -> None:
        self.past, self.cameras = past, cameras

    def predict(self, keypoints, visibility, frames, world=None):
        b, t = self.past.shape[:2]
        ext = np.repeat(self.cameras[:, -1:], frames, axis=1)
        return VideoPrediction(
            past=self.past, future=np.zeros((b, frames, 17, 3)), camera=np.concatenate([self.cameras, ext], axis=1)
        )


def test_a_root_forecaster_reads_the_pelvis_track_and_its_forecast_gives_the_future_cameras():
    from posecast.video.models.common import camera_offsets, offsets_to_cameras

    past = _quadratic_past(t=20)
    t = np.arange(20.0)
    # the person walks right at 3 px/frame, 100 px/m at the end (a quadratic track, unchanged by smoothing)
    cams = np.stack([np.full(20, 100.0), 300 + 3 * t, np.full(20, 240.0)], -1)[None].repeat(2, 0)
    mover, rec = _Mover(), _Recorder()
    model = LiftForecast(_CameraLifter(past, cams), rec, continuity=False, root_forecaster=mover)
    pred = model.predict(np.zeros((2, 20, 17, 2)), np.ones((2, 20, 17)), 5)
    np.testing.assert_allclose(rec.seen, past, atol=1e-9)  # the pose forecaster reads the pelvis-centred past
    # the history: the lifted past moved by the pelvis' offsets from the last frame (3 cm per frame)
    np.testing.assert_allclose(mover.seen[:, :, 0, 0], np.broadcast_to(0.03 * (t - 19), (2, 20)), atol=1e-9)
    np.testing.assert_allclose(mover.seen - mover.seen[:, :, :1], past, atol=1e-9)
    # the future cameras: the forecast root turned back into cameras; the future stays pelvis-centred
    root = np.arange(1, 6)[:, None] * np.array([0.02, 0.0, 0.01])
    np.testing.assert_allclose(pred.camera[:, 20:], offsets_to_cameras(cams[:, -1], root[None].repeat(2, 0)), atol=1e-9)
    assert pred.camera[0, 24, 1] == pytest.approx(357.0 + 10.0)  # 10 cm right of the last (357 px) at 100 px/m
    assert pred.camera[0, 24, 0] > 100.0  # nearer: bigger
    np.testing.assert_array_equal(pred.camera[:, :20], cams)
    # the poses are the pose forecaster's (its 5 cm jump and 1 cm/frame in x: pelvis-centred, the same pose)
    np.testing.assert_allclose(pred.future, np.repeat(past[:, -1:], 5, axis=1), atol=1e-9)
    np.testing.assert_allclose(camera_offsets(pred.camera[:, 20:], cams[:, -1]), root[None].repeat(2, 0), atol=1e-9)
    # without the root: pelvis-centred history, the lifter's cameras kept
    plain = LiftForecast(_CameraLifter(past, cams), mover, continuity=False)
    pred2 = plain.predict(np.zeros((2, 20, 17, 2)), np.ones((2, 20, 17)), 5)
    np.testing.assert_allclose(mover.seen[:, :, 0], 0.0, atol=1e-12)  # it read the pelvis-centred past
    np.testing.assert_array_equal(pred2.camera[:, 20:], np.repeat(cams[:, -1:], 5, axis=1))


def test_only_windows_that_travel_take_the_path_forecasters_cameras():
    from posecast.video.models.common import camera_offsets
    from posecast.video.models.lift_forecast import PATH_GATE_M, travelled

    past = _quadratic_past(t=40)
    t = np.arange(40.0)
    # 100 px/m: window 0 walks right at 2 px/frame (0.5 m over the last second), window 1 squats in place
    # (its pelvis 40 cm up and down, no sideways motion), window 2 drifts right by 0.4 px/frame (10 cm/s)
    cams = np.stack(
        [
            np.stack([np.full(40, 100.0), 300 + 2 * t, np.full(40, 240.0)], -1),
            np.stack([np.full(40, 100.0), np.full(40, 300.0), 240 + 40 * np.sin(t / 3)], -1),
            np.stack([np.full(40, 100.0), 300 + 0.4 * t, np.full(40, 240.0)], -1),
        ]
    )
    moved = travelled(camera_offsets(cams, cams[:, -1]), 25.0)
    np.testing.assert_allclose(moved, [0.5, 0.0, 0.1], atol=1e-9)  # up and down does not count
    mover = _Mover()
    model = LiftForecast(_CameraLifter(past[[0, 1, 0]], cams), _Recorder(), continuity=False, root_forecaster=mover)
    assert model.path_gate == PATH_GATE_M == 0.3
    pred = model.predict(np.zeros((3, 40, 17, 2)), np.ones((3, 40, 17)), 5)
    assert mover.seen.shape[0] == 1  # only the walking window was read by the path forecaster
    assert pred.camera[0, 44, 1] == pytest.approx(378.0 + 10.0)  # its cameras follow the forecast path
    for b in (1, 2):  # the others keep the lifter's cameras
        np.testing.assert_array_equal(pred.camera[b, 40:], np.repeat(cams[b, -1:], 5, axis=0))
    model.path_gate = 0.0  # no gate: every window takes the path
    model.predict(np.zeros((3, 40, 17, 2)), np.ones((3, 40, 17)), 5)
    assert mover.seen.shape[0] == 3


def test_the_path_variant_is_registered_and_not_the_default():
    import posecast
    from posecast.video.models.lift_forecast import (
        ANCHOR_POSE_SCALE,
        PATH_ANCHOR_POSE_SCALE,
        PATH_NAME,
        ROOT_VARIANT,
        build,
    )

    plain = posecast.models.get("lift+forecast")
    assert plain.root_forecaster is None and plain.anchor_pose_scale == ANCHOR_POSE_SCALE
    path = posecast.models.get(PATH_NAME)
    assert path.name == PATH_NAME and path.anchor_pose_scale == PATH_ANCHOR_POSE_SCALE
    assert path.root_forecaster.config == posecast.models.get("dct-mlp").variant(ROOT_VARIANT).config
    assert path.forecaster.config == plain.forecaster.config  # the same poses
    assert posecast.models.default_model("video").name == "lift+forecast"
    with pytest.raises(ModelError, match="route 'lifted'"):
        build(route="canonical", path=True)
    with pytest.raises(ModelError, match="no variant"):
        build(forecaster="st-transformer", path=True)
