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
