"""Anchored video forecasts (`posecast.video.models.base.VideoForecast.future_pixels`, `anchor_pixels`) and
the 2D pieces of the real-clip protocol (`posecast.evaluation.protocols.video`): PCK@0.05 / @0.1, 2D hold and
2D constant velocity on real timestamps, bootstrap intervals, per-clip scoring and the goal check - all on
hand-made forecasts and tracks (no pose backend, no data)."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.errors import ModelError
from posecast.evaluation.protocols import video as bench
from posecast.video.models.base import (
    ANCHOR_POSE_SCALE,
    ANCHOR_TRANSLATION_SCALE,
    VideoForecast,
    VideoForecaster,
    VideoPrediction,
    anchor_pixels,
    start_of,
)
from posecast.video.track import PoseTrack

S, TX, TY = 100.0, 50.0, 60.0  # the past camera: u = 100 X + 50, v = -100 Y + 60
CAM_STEP = np.array([10.0, -5.0])  # the future camera's translation moves by this per frame (pixels)
JOINT_STEP = np.array([0.01, 0.02, 0.0])  # every joint moves by this per future frame (metres)


def _forecast(anchor: np.ndarray | None, **scales: float) -> VideoForecast:
    """3 past frames and 4 future frames of 3 joints whose raw projection moves by k (11, -7) px at frame k:
    k (10, -5) from the camera translation plus 100 k (0.01, -0.02) from the joints' own motion."""
    rng = np.random.default_rng(0)
    past = rng.normal(scale=0.3, size=(3, 3, 3))
    k = np.arange(1, 5)[:, None, None]
    future = past[-1] + k * JOINT_STEP
    camera = np.tile([S, TX, TY], (7, 1))
    camera[3:, 1:] += np.arange(1, 5)[:, None] * CAM_STEP
    return VideoForecast(past, future, 25.0, np.arange(7) / 25.0, camera, anchor=anchor, **scales)


def _project(points: np.ndarray, cam: np.ndarray) -> np.ndarray:
    return np.stack([cam[0] * points[..., 0] + cam[1], -cam[0] * points[..., 1] + cam[2]], axis=-1)


def test_anchored_forecast_starts_at_the_keypoints_and_moves_by_the_predicted_offsets() -> None:
    keypoints = np.array([[200.0, 300.0], [np.nan, np.nan], [-40.0, 12.5]])  # joint 1 not seen
    fc = _forecast(keypoints, translation_scale=1.0, pose_scale=1.0)
    est = _project(fc.past[-1], fc.camera[2])  # the model's own last frame, in pixels
    raw = fc.future_pixels(anchored=False)
    k = np.arange(1, 5)[:, None, None]
    np.testing.assert_allclose(raw, est + k * np.array([11.0, -7.0]))  # by hand, see _forecast
    start = fc.start_pixels()
    np.testing.assert_allclose(start[[0, 2]], keypoints[[0, 2]])
    np.testing.assert_allclose(start[1], est[1])  # unseen joint: the model's projection
    anchored = fc.future_pixels()
    np.testing.assert_allclose(anchored, start + k * np.array([11.0, -7.0]))
    np.testing.assert_allclose(anchored[:, 1], raw[:, 1])  # the unseen joint keeps the raw projection
    # pixels(): the re-projected past, then the anchored future (the raw one on request)
    np.testing.assert_allclose(fc.pixels()[:3], np.stack([_project(fc.past[i], fc.camera[i]) for i in range(3)]))
    np.testing.assert_allclose(fc.pixels()[3:], anchored)
    np.testing.assert_allclose(fc.pixels(anchored=False)[3:], raw)


def test_anchored_forecast_scales_translation_and_pose_motion_separately() -> None:
    keypoints = np.array([[200.0, 300.0], [0.0, 0.0], [-40.0, 12.5]])
    fc = _forecast(keypoints, translation_scale=0.5, pose_scale=0.25)
    k = np.arange(1, 5)[:, None, None]
    # pelvis (camera) motion k (10, -5) halved, the joints' own motion k (1, -2) quartered
    expect = keypoints + k * (0.5 * CAM_STEP + 0.25 * np.array([1.0, -2.0]))
    np.testing.assert_allclose(fc.future_pixels(), expect)
    # no anchor: the raw projection whatever the scales
    np.testing.assert_allclose(_forecast(None, pose_scale=0.0).future_pixels(), fc.future_pixels(anchored=False))
    default = _forecast(keypoints)
    assert (default.translation_scale, default.pose_scale) == (ANCHOR_TRANSLATION_SCALE, ANCHOR_POSE_SCALE)


def test_anchor_pixels_is_batched_and_the_anchor_shape_is_checked() -> None:
    fcs = [_forecast(np.full((3, 2), float(i))) for i in range(3)]
    batched = anchor_pixels(
        np.stack([f.past[-1] for f in fcs]),
        np.stack([f.future for f in fcs]),
        np.stack([f.camera[2] for f in fcs]),
        np.stack([f.camera[3:] for f in fcs]),
        np.stack([f.anchor for f in fcs]),
    )
    np.testing.assert_allclose(batched, np.stack([f.future_pixels() for f in fcs]))
    with pytest.raises(ModelError, match="anchor"):
        _forecast(np.zeros((4, 2)))


class Still(VideoForecaster):
    """Every joint at the pelvis, the camera at the image origin: the raw projection sits at (0, 0)."""

    name = "still"
    fps = 25.0

    def predict(self, keypoints, visibility, frames, world=None) -> VideoPrediction:
        b, t, j, _ = keypoints.shape
        cam = np.tile([100.0, 0.0, 0.0], (b, t + frames, 1))
        return VideoPrediction(np.zeros((b, t, j, 3)), np.zeros((b, frames, j, 3)), cam)


def _track(n: int = 50, fps: float = 25.0, speed: float = 0.0) -> PoseTrack:
    """A body-17 track: a fixed figure (box 100 x 200 px) sliding right at ``speed`` px/s."""
    rng = np.random.default_rng(1)
    base = np.column_stack([rng.uniform(100, 200, 17), rng.uniform(100, 300, 17)])
    base[0], base[1] = (100.0, 100.0), (200.0, 300.0)  # the box: 100 x 200 px, longer side 200 px
    times = np.arange(n) / fps
    kp = base[None] + times[:, None, None] * np.array([speed, 0.0])
    return PoseTrack(kp, np.ones((n, 17)), times, (640, 480), "body-17")


def test_a_visibility_weight_starts_barely_seen_joints_nearer_the_models_estimate() -> None:
    keypoints = np.array([[200.0, 300.0], [np.nan, np.nan], [-40.0, 12.5]])
    fc = _forecast(keypoints, translation_scale=1.0, pose_scale=1.0)
    est = _project(fc.past[-1], fc.camera[2])
    weighted = VideoForecast(**{**fc.__dict__, "anchor_weight": np.array([1.0, 0.9, 0.25])})
    start = weighted.start_pixels()
    np.testing.assert_allclose(start[0], keypoints[0])  # fully visible: the keypoint
    np.testing.assert_allclose(start[1], est[1])  # not seen: the estimate, whatever its weight
    np.testing.assert_allclose(start[2], 0.25 * keypoints[2] + 0.75 * est[2])
    np.testing.assert_allclose(start_of(keypoints, est, np.array([1.0, 0.9, 0.25])), start)
    k = np.arange(1, 5)[:, None, None]
    np.testing.assert_allclose(weighted.future_pixels(), start + k * np.array([11.0, -7.0]))  # the same motion
    np.testing.assert_allclose(start_of(keypoints, est), fc.start_pixels())  # no weight: full anchors


def test_only_models_that_ask_for_it_weight_their_anchors_by_visibility() -> None:
    import posecast

    moving = _track(20, fps=30.0, speed=100.0)
    vis = np.linspace(0.2, 1.0, 17)  # the same in every frame, so resampling keeps it
    track = PoseTrack(moving.keypoints, np.repeat(vis[None], 20, axis=0), moving.times, (640, 480), "body-17")
    plain = Still().forecast_track(track, 0.4)
    assert not Still.anchor_visibility and plain.anchor_weight is None
    lf = posecast.models.get("lift+forecast")
    assert lf.anchor_visibility and posecast.models.get("lift+forecast+path").anchor_visibility
    fc = lf.forecast_track(track, 0.4)
    np.testing.assert_allclose(fc.anchor_weight, vis)
    est = fc.start_pixels(anchored=False)
    np.testing.assert_allclose(fc.start_pixels(), vis[:, None] * track.keypoints[-1] + (1 - vis[:, None]) * est)


def test_forecast_track_anchors_at_the_last_observed_keypoints() -> None:
    track = _track(20, fps=30.0, speed=100.0)  # 30 fps: the model's 25 fps clock is laid to end on the last frame
    fc = Still().forecast_track(track, 0.4)
    t = len(fc.past)
    assert fc.times[t - 1] == track.times[-1]
    np.testing.assert_allclose(np.diff(fc.times), 0.04)
    np.testing.assert_allclose(fc.anchor, track.keypoints[-1])
    np.testing.assert_allclose(fc.future_pixels(), np.repeat(track.keypoints[-1:], 10, axis=0))
    np.testing.assert_allclose(fc.future_pixels(anchored=False), 0.0)


def test_resample_track_aligned_to_the_end() -> None:
    from posecast.video.models.base import resample_track

    track = _track(20, fps=30.0, speed=100.0)  # x moves 100 px/s: interpolation is exact
    rs, times = resample_track(track, 25.0, align="end")
    np.testing.assert_allclose(times, track.times[-1] - np.arange(16)[::-1] / 25.0)
    np.testing.assert_allclose(rs.keypoints, track.keypoints[:1] + times[:, None, None] * np.array([100.0, 0.0]))
    _, start = resample_track(track, 25.0)
    assert start[0] == track.times[0] and len(start) == len(times)


def test_pck_at_both_thresholds_by_hand() -> None:
    gt = np.array([[[0.0, 0.0], [0.0, 200.0], [100.0, 0.0], [50.0, 50.0]]])  # longer box side 200 px
    off = np.array([[[3.0, 0.0], [0.0, 9.0], [0.0, 15.0], [25.0, 0.0]]])  # 3, 9, 15, 25 px off
    vis = np.ones((1, 4))
    assert bench.pck_2d(gt + off, gt, vis, 0.05)[0] == pytest.approx(2 / 4)  # < 10 px: 3, 9
    assert bench.pck_2d(gt + off, gt, vis, 0.1)[0] == pytest.approx(3 / 4)  # < 20 px: 3, 9, 15
    vis[0, 1] = 0.3  # below 0.5: not scored (the box is still the visible joints': 100 x 50, so 5 px / 10 px)
    assert bench.pck_2d(gt + off, gt, vis, 0.05)[0] == pytest.approx(1 / 3)
    assert bench.pck_2d(gt + off, gt, vis, 0.1)[0] == pytest.approx(1 / 3)
    # a joint the prediction lacks counts as wrong, and the box stays the truth's (a NaN had been left out of
    # both: the prediction with its one wrong joint dropped scored 1.0 instead of 0.75)
    vis[0, 1] = 1.0
    missing = gt + off
    missing[0, 3] = np.nan
    assert bench.pck_2d(missing, gt, vis, 0.05)[0] == pytest.approx(2 / 4)
    missing[0, 1] = np.nan  # the joint that spans the true box: the threshold is still 10 px
    assert bench.pck_2d(missing, gt, vis, 0.05)[0] == pytest.approx(1 / 4)


def test_2d_hold_and_constant_velocity_use_the_last_two_detected_frames_and_real_times() -> None:
    kp = np.array([[[0.0, 0.0], [10.0, 10.0]], [[2.0, 1.0], [np.nan, np.nan]], [[9.0, 9.0], [9.0, 9.0]]])
    times = np.array([0.0, 0.1, 0.25])  # uneven clock
    track = PoseTrack(kp, np.ones((3, 2)), times, (64, 64), "k2", detected=np.array([True, True, False]))
    at = np.array([0.3, 0.6])
    hold = bench.zero_velocity_2d(track, at)
    np.testing.assert_allclose(hold[:, 0], [[2.0, 1.0], [2.0, 1.0]])  # frame 1, the last detected one
    cv = bench.constant_velocity_2d(track, at)
    # joint 0: velocity (2, 1) / 0.1 s = (20, 10) px/s from frame 1 at t = 0.1
    np.testing.assert_allclose(cv[:, 0], [[2.0 + 20 * 0.2, 1.0 + 10 * 0.2], [2.0 + 20 * 0.5, 1.0 + 10 * 0.5]])
    # joint 1, missing in the last detected frame: held where it was last seen (frame 0), by both
    np.testing.assert_allclose(hold[:, 1], [[10.0, 10.0], [10.0, 10.0]])
    np.testing.assert_allclose(cv[:, 1], hold[:, 1])
    never = PoseTrack(kp[1:2], np.ones((1, 2)), times[:1], (64, 64), "k2")
    assert np.isnan(bench.zero_velocity_2d(never, at)[:, 1]).all()  # never seen: missing (scored wrong)
    one = PoseTrack(kp[:1], np.ones((1, 2)), times[:1], (64, 64), "k2")
    np.testing.assert_allclose(bench.constant_velocity_2d(one, at), bench.zero_velocity_2d(one, at))


def test_constant_velocity_is_fitted_over_the_last_tenth_of_a_second() -> None:
    n = 240  # 1 s at 240 fps, moving right at 100 px/s with +-1 px of detector jitter
    times = np.arange(n) / 240.0
    x = 100.0 * times + np.where(np.arange(n) % 2, 1.0, -1.0)
    kp = np.stack([np.stack([x, np.full(n, 50.0)], -1)] * 2, axis=1)
    kp[-1, 1] = np.nan  # a joint missing in the last frame: held
    track = PoseTrack(kp, np.ones((n, 2)), times, (640, 480), "k2")
    at = np.array([times[-1] + 1.0])
    cv = bench.constant_velocity_2d(track, at)
    speed = cv[0, 0, 0] - kp[-1, 0, 0]  # px moved in 1 s from the last frame
    assert abs(speed - 100.0) < 15.0  # the last two frames alone: 580 px/s
    assert abs(bench.constant_velocity_2d(track, at, span=0.0)[0, 0, 0] - kp[-1, 0, 0] - 100.0) > 400.0
    np.testing.assert_allclose(cv[0, 1], bench.zero_velocity_2d(track, at)[0, 1])
    dup = PoseTrack(kp[::8], np.ones((30, 2)), np.sort(np.r_[times[::16], times[::16] + 1e-6]), (640, 480), "k2")
    assert abs(bench.constant_velocity_2d(dup, at)[0, 0, 0] - kp[::8][-1, 0, 0] - 100.0) < 30.0  # stamps 1 us apart
    slow = PoseTrack(kp[::48], np.ones((5, 2)), times[::48], (640, 480), "k2")  # 5 fps: the last two frames
    v = (kp[::48][-1, 0] - kp[::48][-2, 0]) / 0.2
    np.testing.assert_allclose(bench.constant_velocity_2d(slow, at)[0, 0], kp[::48][-1, 0] + v * (at[0] - times[192]))


def test_bootstrap_interval() -> None:
    assert bench.bootstrap_interval(np.full(7, 0.4)) == pytest.approx([0.4, 0.4])
    lo, hi = bench.bootstrap_interval(np.array([0.0, 1.0, 0.0, 1.0, np.nan]))
    assert 0.0 <= lo < 0.5 < hi <= 1.0
    assert bench.bootstrap_interval(np.array([np.nan])) is None


def test_score_track_rows_and_keys() -> None:
    track = _track(50, speed=100.0)  # 2 s at 25 fps, sliding right at 100 px/s
    r = bench.score_track({"still": Still()}, track)
    # the clip lasts 2 s (1.96 s + one frame): observe up to t = 1.0 s, score the 24 frames after it
    assert r["seconds"] == pytest.approx(2.0) and r["observed_s"] == pytest.approx(1.0)
    assert r["forecast_s"] == pytest.approx(0.96) and r["scored_frames"] == 24 and r["scored_joints"] == 24 * 17
    for name in ("still", "still+anchored", bench.ZERO_VELOCITY_2D, bench.CONSTANT_VELOCITY_2D):
        for key in ("future_pck", "future_pck_10", "zero_velocity_pck", "constant_velocity_pck"):
            assert 0.0 <= r[name][key] <= 1.0, (name, key)
    # constant velocity is exact on a uniform slide; holding is right while the slide (4 px per frame) stays
    # under 10 px / 20 px (the box's longer side is 200 px): 2 frames at α = 0.05, 4 at α = 0.1
    assert r[bench.CONSTANT_VELOCITY_2D]["future_pck"] == 1.0
    assert r["still"]["constant_velocity_pck"] == 1.0
    assert r["still"]["zero_velocity_pck"] == pytest.approx(2 / 24)
    assert r["still"]["zero_velocity_pck_10"] == pytest.approx(4 / 24)
    assert r[bench.ZERO_VELOCITY_2D]["future_pck_10"] == pytest.approx(4 / 24)
    assert r["still+anchored"]["future_pck"] == pytest.approx(r["still"]["zero_velocity_pck"])  # it never moves
    assert r["still"]["future_pck"] == 0.0  # the raw projection sits at the image origin
    assert "skipped" in bench.score_track({"still": Still()}, _track(20))  # 0.8 s: too short


def test_clip_means_margin_and_goal() -> None:
    def clip(model: float, zv: float, cv: float) -> dict:
        rows = {"m": model, bench.ZERO_VELOCITY_2D: zv, bench.CONSTANT_VELOCITY_2D: cv}
        return {n: {"future_pck": v, "future_pck_10": v} for n, v in rows.items()}

    per_clip = {"a": clip(0.9, 0.6, 0.2), "b": clip(0.7, 0.4, 0.5), "bad": {"error": "cannot read"}}
    mean = bench._clip_means(per_clip, ["m", bench.ZERO_VELOCITY_2D, bench.CONSTANT_VELOCITY_2D])
    assert mean["m"]["future_pck"] == pytest.approx(0.8) and mean["m"]["clips"] == 2
    # the better baseline on average is hold (0.5 vs 0.35): margin 0.3
    assert mean["m"]["margin_over_best_baseline"] == pytest.approx(0.3)
    goal = bench._goal(mean, ["m"])
    assert goal["met"] and goal["best_baseline"] == bench.ZERO_VELOCITY_2D and goal["margin"] == pytest.approx(0.3)


def test_overlay_draws_the_anchored_forecast(tmp_path) -> None:
    """`posecast forecast CLIP --out f.mp4` draws `VideoForecast.future_pixels` (anchored), not the raw projection."""
    import imageio_ffmpeg

    from posecast.video.decode import read_video
    from posecast.video.overlay import FORECAST_RGB, render_forecast_video

    clip = tmp_path / "black.mp4"
    gen = imageio_ffmpeg.write_frames(str(clip), (160, 120), fps=10.0, codec="libx264", macro_block_size=2,
                                      ffmpeg_log_level="error", output_params=["-crf", "0"])  # fmt: skip
    gen.send(None)
    for _ in range(8):
        gen.send(np.zeros((120, 160, 3), np.uint8))
    gen.close()
    rng = np.random.default_rng(1)
    pose = rng.uniform(-0.3, 0.3, size=(17, 3))
    pose[:, 1] = np.clip(pose[:, 1], -0.3, 0.1)
    past, future = np.repeat(pose[None], 6, axis=0), np.repeat(pose[None], 6, axis=0)
    camera = np.tile([100.0, 60.0, 80.0], (12, 1))  # the body below the label rows (their plates darken it)
    est = _project(pose, camera[0])
    fc = VideoForecast(past, future, 10.0, np.arange(12) / 10.0, camera, anchor=est + [60.0, 0.0])
    track = PoseTrack(np.repeat(est[None], 6, axis=0), np.ones((6, 17)), np.arange(6) / 10.0, (160, 120), "body-17")
    _, frames = read_video(render_forecast_video(tmp_path / "o.mp4", clip, track, fc, height=120, panel=False))

    def around(img: np.ndarray, uv: np.ndarray) -> np.ndarray:
        u, v = int(round(uv[0])), int(round(uv[1]))
        return img[v - 1 : v + 2, u - 1 : u + 2].reshape(-1, 3).mean(axis=0)

    moved = fc.future_pixels()[2]
    left = np.flatnonzero(est[:, 0] < 55)[:3]  # joints on the left: the raw projection stays far from the drawing
    assert len(left) == 3
    for j in left:
        np.testing.assert_allclose(around(frames[8], moved[j]), FORECAST_RGB, atol=40)
        assert around(frames[8], est[j]).max() < 40


def _track_notes(monkeypatch, track: PoseTrack, name: str) -> list[str]:
    """The notes `posecast.cli.common.print_track_notes` prints for ``track`` read from a file ``name``."""
    from pathlib import Path

    from posecast.cli import common

    printed: list[str] = []
    monkeypatch.setattr(common.console, "print", lambda text, **_: printed.append(text))
    common.print_track_notes(track, Path(name))
    return printed


def test_a_body_cut_off_by_the_frame_for_the_whole_clip_is_noted(monkeypatch):
    """QA (unseen clips): a person filmed from the waist up for the whole clip passed every check (`leaving` looks for
    a body that shrinks), and its folded 3D legs were forecast without a word. `PoseTrack.lower_body_out` counts the
    frames whose hips, knees and ankles are mostly unseen or outside the image; the CLI notes it above one half."""
    from posecast import skeletons

    track = _track()
    assert track.lower_body_out() == 0.0
    names = skeletons.get("body-17").joint_names
    legs = [j for j, n in enumerate(names) if any(w in n for w in ("hip", "knee", "ankle"))]
    assert len(legs) == 6
    below = track.keypoints.copy()
    below[:30, legs, 1] = 500.0  # under the 480-pixel frame in 30 of 50 frames
    cut = PoseTrack(below, track.visibility, track.times, track.image_size, "body-17")
    assert cut.lower_body_out() == pytest.approx(0.6)
    hidden = track.visibility.copy()
    hidden[:, legs[:4]] = 0.1  # four of six unseen in every frame, inside the image
    assert PoseTrack(track.keypoints, hidden, track.times, track.image_size, "body-17").lower_body_out() == 1.0
    printed = _track_notes(monkeypatch, cut, "waist_up.mp4")
    assert len(printed) == 1 and "waist_up.mp4" in printed[0] and "60% of the frames" in printed[0]
    assert _track_notes(monkeypatch, track, "whole.mp4") == []


def test_a_body_lying_sideways_in_the_image_is_noted(monkeypatch):
    """QA (unseen clips): a clip filmed turned a quarter, without a rotation tag, was forecast as a person lying on
    their side, without a hint. `PoseTrack.sideways` is the share of frames whose trunk (hips to shoulders) points more
    than 60 degrees from the image's up; the CLI asks about it above 0.8."""
    from posecast import skeletons

    names = skeletons.get("body-17").joint_names
    n = 20
    kp = np.zeros((n, 17, 2)) + [320.0, 240.0]
    for name, (x, y) in {"left_hip": (330, 300), "right_hip": (310, 300), "left_shoulder": (335, 180),
                         "right_shoulder": (305, 180)}.items():  # fmt: skip
        kp[:, names.index(name)] = (x, y)
    upright = PoseTrack(kp, np.ones((n, 17)), np.arange(n) / 25.0, (640, 480), "body-17")
    assert upright.sideways() == 0.0
    turned = kp.copy()
    turned[..., 0], turned[..., 1] = 240.0 + (kp[..., 1] - 240.0), 320.0 - (kp[..., 0] - 320.0)  # a quarter turn
    lying = PoseTrack(turned, np.ones((n, 17)), upright.times, (480, 640), "body-17")
    assert lying.sideways() == pytest.approx(1.0)
    tilted = kp.copy()  # leaning 45 degrees: not sideways
    for name in ("left_shoulder", "right_shoulder"):
        tilted[:, names.index(name), 0] += 120.0
    assert PoseTrack(tilted, np.ones((n, 17)), upright.times, (640, 480), "body-17").sideways() == 0.0
    printed = _track_notes(monkeypatch, lying, "turned.mp4")
    assert len(printed) == 1 and "turned.mp4" in printed[0] and "sideways" in printed[0]
    assert _track_notes(monkeypatch, upright, "upright.mp4") == []
    # QA: a clip turned 180 degrees was told its trunk "lies sideways": it is upside down (and a quarter turn is not)
    flipped = PoseTrack(np.array([640.0, 480.0]) - kp, np.ones((n, 17)), upright.times, (640, 480), "body-17")
    assert flipped.upside_down() == pytest.approx(1.0) and flipped.sideways() == pytest.approx(1.0)
    assert lying.upside_down() == 0.0 and upright.upside_down() == 0.0
    printed = _track_notes(monkeypatch, flipped, "flipped.mp4")
    assert len(printed) == 1 and "upside down" in printed[0] and "sideways" not in printed[0]
