"""Virtual cameras and detector noise (`posecast.video.cameras`) and the shared video-model helpers
(`posecast.video.models.common`): hand-computed projections, exact camera recovery, noise bounds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posecast.skeletons.mapping import to_layout
from posecast.synthetic import synthetic_walk
from posecast.video.cameras import CameraConfig, Cameras, bridge, film, look_at
from posecast.video.models.common import (
    camera_to_pixels,
    extrapolate_camera,
    fit_weak_perspective,
    fit_weak_perspective_np,
    normalise_keypoints,
    project_pixels,
    reprojection_loss,
    with_future_cameras,
)
from posecast.video.track import PoseTrack


def _camera(weak: bool) -> Cameras:
    """A camera at (0, 1, 5) looking at (0, 1, 0) along -z: world and camera axes coincide."""
    pos = np.array([[0.0, 1.0, 5.0]])
    return Cameras(
        rotation=look_at(pos, np.array([[0.0, 1.0, 0.0]])),
        position=pos,
        focal=np.array([1000.0]),
        centre=np.array([[640.0, 360.0]]),
        image_size=np.array([[1280, 720]]),
        weak=np.array([weak]),
    )


@pytest.fixture(scope="module")
def walk_windows() -> np.ndarray:
    """``(4, 30, 17, 3)`` body-17 windows of the synthetic walk (no data needed)."""
    pos = to_layout(synthetic_walk(seconds=5.0, fps=25.0), "body-17").positions
    return np.stack([pos[i : i + 30] for i in (0, 20, 40, 60)])


def test_look_at_identity() -> None:
    np.testing.assert_allclose(_camera(False).rotation[0], np.eye(3), atol=1e-12)


@pytest.mark.parametrize("weak", [False, True])
def test_projection_of_known_points(weak: bool) -> None:
    # joint 0 (pelvis) at (0, 1, 0): depth 5; joint 1 at (0.5, 1.5, -1): depth 6
    pts = np.zeros((1, 1, 2, 3))
    pts[0, 0, 0] = [0.0, 1.0, 0.0]
    pts[0, 0, 1] = [0.5, 1.5, -1.0]
    px, depth = _camera(weak).project(pts)
    np.testing.assert_allclose(depth[0, 0], [5.0, 6.0])
    np.testing.assert_allclose(px[0, 0, 0], [640.0, 360.0])
    d = 5.0 if weak else 6.0  # weak perspective uses the pelvis depth for every joint
    np.testing.assert_allclose(px[0, 0, 1], [640.0 + 1000.0 * 0.5 / d, 360.0 - 1000.0 * 0.5 / d])


def test_weak_perspective_fit_recovers_camera_exactly() -> None:
    rng = np.random.default_rng(3)
    pts = rng.normal(size=(5, 17, 3))
    cam = np.stack([rng.uniform(0.5, 4, 5), rng.normal(size=5), rng.normal(size=5)], axis=-1)
    target = cam[:, None, :1] * pts[..., :2] + cam[:, None, 1:]
    w = rng.uniform(0.2, 1.0, size=(5, 17))
    # corrupt joints with zero weight: they must not matter
    w[:, :3] = 0.0
    target[:, :3] += 100.0
    np.testing.assert_allclose(fit_weak_perspective_np(pts, target, w), cam, atol=1e-9)
    t = fit_weak_perspective(torch.as_tensor(pts), torch.as_tensor(target), torch.as_tensor(w))
    np.testing.assert_allclose(t.numpy(), cam, atol=1e-9)
    # NaN targets count as weight zero in the numpy version
    target[:, 3] = np.nan
    np.testing.assert_allclose(fit_weak_perspective_np(pts, target, w), cam, atol=1e-9)


def test_reprojection_loss_zero_on_exact_and_positive_otherwise() -> None:
    rng = np.random.default_rng(4)
    pts = torch.as_tensor(rng.normal(size=(3, 17, 3)))
    target = 2.0 * pts[..., :2] + torch.tensor([0.3, -0.2])
    w = torch.ones(3, 17)
    assert float(reprojection_loss(pts, target, w)) < 1e-9
    assert float(reprojection_loss(pts, target + 0.1 * torch.randn_like(target), w)) > 1e-3


def test_clean_film_matches_true_weak_camera(walk_windows: np.ndarray) -> None:
    cfg = CameraConfig(**{**CameraConfig.clean().__dict__, "weak_probability": 1.0})
    b = film(walk_windows, "body-17", 25.0, np.random.default_rng(0), cfg)
    n, t, j = walk_windows.shape[:3]
    assert b.keypoints.shape == (n, t, j, 2) and b.visibility.shape == (n, t, j)
    assert b.points.shape == (n, t, j, 3) and b.camera.shape == (n, t, 3) and b.world.shape == (n, t, j, 3)
    assert b.image_size.shape == (n, 2) and b.detected.all()
    np.testing.assert_allclose(b.points[:, :, 0], 0.0, atol=1e-12)  # pelvis-centred
    np.testing.assert_allclose(b.keypoints, b.clean, atol=1e-9)  # noise-free
    np.testing.assert_allclose(project_pixels(b.points, b.camera), b.keypoints, atol=1e-9)
    # the pelvis-centred truth is a rotation of the world pose: bone lengths are preserved
    bones = np.linalg.norm(walk_windows[:, :, 2] - walk_windows[:, :, 1], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(b.points[:, :, 2] - b.points[:, :, 1], axis=-1), bones, atol=1e-9)
    # camera recovered from clean 2D by the closed-form fit (pixels -> y up)
    up = b.keypoints * np.array([1.0, -1.0])
    cam = fit_weak_perspective_np(b.points, up, np.ones((n, t, j)))
    np.testing.assert_allclose(cam[..., 0], b.camera[..., 0], rtol=1e-9)
    np.testing.assert_allclose(cam[..., 2], -b.camera[..., 2], rtol=1e-9)


def test_whole_window_inside_image(walk_windows: np.ndarray) -> None:
    b = film(walk_windows, "body-17", 25.0, np.random.default_rng(1), CameraConfig.clean())
    w, h = b.image_size[:, None, None, 0], b.image_size[:, None, None, 1]
    u, v = b.clean[..., 0], b.clean[..., 1]
    assert ((u >= 0) & (u <= w) & (v >= 0) & (v <= h)).all()


def test_noise_statistics_bounded(walk_windows: np.ndarray) -> None:
    windows = np.repeat(walk_windows, 50, axis=0)  # 200 windows
    cfg = CameraConfig(drop_joint_probability=(0.02, 0.02), drop_frame_probability=(0.0, 0.0))
    b = film(windows, "body-17", 25.0, np.random.default_rng(2), cfg)
    height = np.median(b.clean[..., 1].max(2) - b.clean[..., 1].min(2), axis=1)
    err = np.linalg.norm(b.keypoints - b.clean, axis=-1) / height[:, None, None]
    med = np.nanmedian(err)
    assert cfg.noise[0] < med < 2 * cfg.noise[1]  # median noise within the configured range
    assert np.nanpercentile(err, 99) < 0.25  # outliers are rare and bounded
    dropped = np.isnan(b.keypoints).any(-1)
    assert 0.015 < dropped.mean() < 0.025
    assert (b.visibility[dropped] == 0).all()
    assert ((b.visibility >= 0) & (b.visibility <= 1)).all()
    werr = np.linalg.norm(b.world - b.points, axis=-1)[:, :, 1:]
    assert 0.01 < werr.mean() < 0.2


def test_dropped_frames_are_bridged(walk_windows: np.ndarray) -> None:
    cfg = CameraConfig(drop_frame_probability=(0.3, 0.3), drop_joint_probability=(0.0, 0.0))
    b = film(walk_windows, "body-17", 25.0, np.random.default_rng(5), cfg)
    assert (~b.detected).any()
    assert np.isfinite(b.keypoints).all()
    assert (b.visibility[~b.detected] == 0).all()
    track = b.track(0)
    assert isinstance(track, PoseTrack) and track.num_frames == walk_windows.shape[1]
    kp = np.arange(10.0).reshape(5, 1, 2)
    det = np.array([True, False, False, True, True])
    out = bridge(kp.copy() * np.where(det, 1.0, np.nan)[:, None, None], det)
    np.testing.assert_allclose(out, kp)


def test_normalise_keypoints_hand_computed() -> None:
    kp = np.array([[[100.0, 200.0], [300.0, 600.0], [np.nan, np.nan]]])  # (T=1, J=3, 2)
    vis = np.array([[0.9, 0.8, 0.7]])
    f, centre, half = normalise_keypoints(kp, vis)
    np.testing.assert_allclose(centre[0], [200.0, 400.0])
    np.testing.assert_allclose(half[0], 200.0 * 1.1)
    np.testing.assert_allclose(f[0, 0], [-100 / 220, 200 / 220, 0.9])
    np.testing.assert_allclose(f[0, 2], [0.0, 0.0, 0.0])
    # a camera fitted in normalised coordinates maps to the pixel camera
    cam_n = np.array([[2.0, 0.1, -0.2]])
    pts = np.array([[[0.3, 0.4, 0.0]]])
    pix = camera_to_pixels(cam_n, centre, half)
    u_n = cam_n[0, 0] * 0.3 + cam_n[0, 1]
    v_n = cam_n[0, 0] * 0.4 + cam_n[0, 2]
    np.testing.assert_allclose(project_pixels(pts, pix)[0, 0], [200 + 220 * u_n, 400 - 220 * v_n])


def test_extrapolate_camera() -> None:
    cam = np.array([[2.0, 10.0, 20.0], [2.5, 12.0, 19.0], [3.0, 14.0, 18.0]])
    fut = extrapolate_camera(cam, 2, fit_frames=2, decay=None)  # velocity (2, -1) px per frame
    np.testing.assert_allclose(fut, [[3.0, 16.0, 17.0], [3.0, 18.0, 16.0]])
    damped = extrapolate_camera(cam, 200, fit_frames=2, decay=4.0)
    d1 = 4.0 * (1 - np.exp(-1 / 4.0))
    np.testing.assert_allclose(damped[0], [3.0, 14.0 + 2 * d1, 18.0 - d1])
    np.testing.assert_allclose(damped[-1], [3.0, 14.0 + 8.0, 18.0 - 4.0], atol=1e-6)  # at most v * decay
    # a batch: the observed cameras, then each window's own default extrapolation
    both = np.stack([cam, cam[::-1]])
    out = with_future_cameras(both, 3)
    assert out.shape == (2, 6, 3)
    np.testing.assert_array_equal(out[:, :3], both)
    np.testing.assert_allclose(out[1, 3:], extrapolate_camera(cam[::-1], 3))
    d5 = 5.0 * (1 - np.exp(-1 / 5.0))  # the defaults: velocity over the last (up to 5) steps, decay 5
    np.testing.assert_allclose(out[0, 3], [3.0, 14.0 + 2 * d5, 18.0 - d5])
    assert with_future_cameras(both, 0) is both
