"""Virtual cameras: 3D motions → detector-like 2D keypoint tracks with their 3D truth.

Training data for the video models without any video ground truth: windows of 3D motion (the CMU
BVH training subjects on ``body-17``) are filmed by random static cameras — perspective or weak
perspective, at varied distance, height, azimuth and focal length — and the ideal projections are
spoiled like a pose detector's output: per-joint pixel noise proportional to the person's size,
temporally correlated jitter, rare gross outliers, dropped joints (NaN, visibility 0), dropped
frames (``detected`` False, keypoints bridged by interpolation as `PoseTrack` requires) and
visibility scores that drop for outliers and self-occluded joints. Simulated "world landmarks" (what
MediaPipe reports: metric, hip-centred, camera-oriented, y up) come with their own noise: a
per-window constant error per joint plus correlated jitter, twice as large in depth — a guess at a
monocular 3D estimator's errors, not a measurement of MediaPipe's.

Frames and conventions
----------------------
- World: PoseCast's frame (metres, y up, right-handed).
- **Camera-aligned frame**: x to the right in the image, y up, z toward the camera (the camera looks
  along -z). The 3D truth ``points`` is expressed in it, **pelvis-centred per frame** (joint 0 of
  ``body-17`` at the origin), which is what the video models estimate.
- Pixels: x right, y down, origin top-left, ``image_size = (W, H)``.
- Perspective: ``u = cx + f X / d``, ``v = cy - f Y / d`` with ``d = -Z`` the depth in front of the
  camera. Weak perspective: the same with ``d`` replaced by the pelvis depth of the frame.
- The true per-frame weak-perspective camera ``(s, tx, ty)`` maps the pelvis-centred truth to
  pixels as ``u = s X + tx``, ``v = -s Y + ty`` with ``s = f / d_pelvis`` (exact for weak-perspective
  windows, the usual approximation for perspective ones).

All functions are batched over windows ``(B, T, J, 3)`` and vectorised (no per-frame Python loops
except the short bridging of dropped frames).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posecast import skeletons
from posecast.errors import ValueRangeError
from posecast.skeletons.base import Skeleton
from posecast.video.track import PoseTrack

#: the detector noise measured on real clips (`CameraConfig.measured`)
NOISE_FILE = Path(__file__).with_name("detector_noise.json")
ROOT = 0  #: the pelvis, joint 0 of body-17 (and the root of every PoseCast skeleton)


@dataclass(frozen=True)
class CameraConfig:
    """Ranges of the random cameras and of the detector noise (each ``(low, high)``, uniform).

    Distances and heights are metres, focal lengths a multiple of the image's longer side, noise a
    fraction of the person's height in pixels, probabilities per joint-frame or per frame.
    """

    image_sizes: tuple[tuple[int, int], ...] = ((1280, 720), (720, 1280), (640, 480), (1920, 1080), (480, 640))
    distance: tuple[float, float] = (3.0, 9.0)
    height: tuple[float, float] = (0.3, 2.5)
    focal: tuple[float, float] = (0.6, 2.0)
    weak_probability: float = 0.3
    roll_degrees: float = 3.0
    noise: tuple[float, float] = (0.002, 0.015)
    jitter_correlation: tuple[float, float] = (0.0, 0.7)
    leaf_noise_gain: float = 1.5
    outlier_probability: tuple[float, float] = (0.0, 0.01)
    outlier_size: float = 0.08
    drop_joint_probability: tuple[float, float] = (0.0, 0.03)
    drop_frame_probability: tuple[float, float] = (0.0, 0.04)
    occlusion_depth: float = 0.12
    world_noise: tuple[float, float] = (0.01, 0.03)
    world_bias: tuple[float, float] = (0.01, 0.05)
    mirror: bool = True
    fill_fraction: float = 0.85

    @classmethod
    def measured(cls, path: str | Path | None = None) -> CameraConfig:
        """The detector-noise ranges measured on real clips (``video/detector_noise.json``, written by
        ``posecast bench detector-noise``: `posecast.evaluation.protocols.detector_noise`), the camera
        ranges of the defaults. The defaults' noise fields are the earlier guess."""
        import json

        model = json.loads(Path(path or NOISE_FILE).read_text())
        fields = ("noise", "leaf_noise_gain", "jitter_correlation", "drop_frame_probability", "drop_joint_probability")
        values = {k: (tuple(model[k]) if isinstance(model[k], list) else model[k]) for k in fields}
        return cls(**values)

    @classmethod
    def clean(cls) -> CameraConfig:
        """Noise-free projections (tests, ablations)."""
        zero = (0.0, 0.0)
        return cls(
            noise=zero,
            outlier_probability=zero,
            drop_joint_probability=zero,
            drop_frame_probability=zero,
            world_noise=zero,
            world_bias=zero,
            occlusion_depth=1e9,
            roll_degrees=0.0,
            mirror=False,
        )


@dataclass(frozen=True)
class Cameras:
    """``B`` static cameras.

    Attributes:
        rotation: ``(B, 3, 3)`` world → camera-aligned rotation (rows: camera x right, y up, z back).
        position: ``(B, 3)`` camera centres in the world (metres).
        focal: ``(B,)`` focal lengths in pixels.
        centre: ``(B, 2)`` principal points in pixels.
        image_size: ``(B, 2)`` (W, H) in pixels.
        weak: ``(B,)`` True for weak-perspective cameras.
    """

    rotation: np.ndarray
    position: np.ndarray
    focal: np.ndarray
    centre: np.ndarray
    image_size: np.ndarray
    weak: np.ndarray

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points ``(B, ..., 3)`` → camera-aligned coordinates ``(B, ..., 3)``."""
        b = self.position.shape[0]
        p = points - self.position.reshape(b, *([1] * (points.ndim - 2)), 3)
        return np.einsum("b...k,bik->b...i", p, self.rotation)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels ``(B, T, J, 2)`` and depths ``(B, T, J)`` of world windows ``(B, T, J, 3)``
        (weak-perspective cameras use the pelvis depth of each frame for every joint)."""
        pc = self.to_camera(points)
        depth = -pc[..., 2]
        if np.any(depth <= 0.05):
            raise ValueRangeError("a point lies behind or at a virtual camera")
        d = np.where(self.weak[:, None, None], depth[..., ROOT : ROOT + 1], depth)
        f = self.focal[:, None, None]
        u = self.centre[:, None, None, 0] + f * pc[..., 0] / d
        v = self.centre[:, None, None, 1] - f * pc[..., 1] / d
        return np.stack([u, v], axis=-1), depth


def look_at(position: np.ndarray, target: np.ndarray, roll: np.ndarray | None = None) -> np.ndarray:
    """``(B, 3, 3)`` world → camera-aligned rotations of cameras at ``position (B, 3)`` looking at
    ``target (B, 3)`` with the world's y axis up in the image (then rolled by ``roll (B,)`` radians)."""
    fwd = target - position
    fwd = fwd / np.linalg.norm(fwd, axis=-1, keepdims=True)
    z = -fwd
    up = np.broadcast_to(np.array([0.0, 1.0, 0.0]), z.shape)
    x = np.cross(up, z)
    x = x / np.linalg.norm(x, axis=-1, keepdims=True)
    y = np.cross(z, x)
    rot = np.stack([x, y, z], axis=1)  # rows
    if roll is not None:
        c, s = np.cos(roll), np.sin(roll)
        zero, one = np.zeros_like(c), np.ones_like(c)
        rz = np.stack([c, -s, zero, s, c, zero, zero, zero, one], axis=-1).reshape(-1, 3, 3)
        rot = rz @ rot
    return rot


def random_cameras(windows: np.ndarray, rng: np.random.Generator, config: CameraConfig) -> Cameras:
    """Random static cameras filming world windows ``(B, T, J, 3)``: each looks at the mean pelvis of
    its window from a random azimuth, distance and height, pulled back when needed so that the whole
    window fits in ``fill_fraction`` of the image."""
    b = windows.shape[0]
    sizes = np.asarray(config.image_sizes, dtype=np.float64)[rng.integers(len(config.image_sizes), size=b)]
    focal = rng.uniform(*config.focal, size=b) * sizes.max(axis=1)
    root = windows[:, :, ROOT]  # (B, T, 3)
    target = root.mean(axis=1)
    az = rng.uniform(-np.pi, np.pi, size=b)
    dist = rng.uniform(*config.distance, size=b)
    # the whole window must fit: horizontal spread around the target and the body's vertical extent
    spread = np.linalg.norm((windows - target[:, None, None])[..., [0, 2]], axis=-1).max(axis=(1, 2))
    vertical = np.abs(windows[..., 1] - target[:, None, None, 1]).max(axis=(1, 2))
    half_image = 0.5 * config.fill_fraction * sizes.min(axis=1)
    needed = focal * np.maximum(spread, vertical) / half_image + spread
    dist = np.maximum(dist, needed)
    height = rng.uniform(*config.height, size=b)
    position = target + np.stack([dist * np.sin(az), np.zeros(b), dist * np.cos(az)], axis=-1)
    position[:, 1] = height
    roll = np.deg2rad(rng.uniform(-config.roll_degrees, config.roll_degrees, size=b))
    return Cameras(
        rotation=look_at(position, target, roll),
        position=position,
        focal=focal,
        centre=sizes / 2.0,
        image_size=sizes.astype(np.int64),
        weak=rng.random(b) < config.weak_probability,
    )


@dataclass
class VirtualBatch:
    """Detector-like tracks of ``B`` windows of ``T`` frames and their truth.

    Attributes:
        keypoints: ``(B, T, J, 2)`` noisy pixels (NaN where a joint was dropped).
        visibility: ``(B, T, J)`` scores in ``[0, 1]`` (0 for dropped joints and dropped frames).
        detected: ``(B, T)`` False for dropped frames (their keypoints are bridged).
        image_size: ``(B, 2)`` (W, H) pixels.
        world: ``(B, T, J, 3)`` simulated backend world landmarks (metres, camera-aligned, y up,
            pelvis-centred, noisy).
        points: ``(B, T, J, 3)`` true 3D, camera-aligned and pelvis-centred (metres).
        root: ``(B, T, 3)`` true pelvis in camera coordinates (metres).
        camera: ``(B, T, 3)`` true weak-perspective camera ``(s, tx, ty)`` in pixels (module docstring).
        clean: ``(B, T, J, 2)`` noise-free projections (pixels).
        cameras: the `Cameras`.
        fps: frame rate of the windows.
        skeleton: joint layout name.
    """

    keypoints: np.ndarray
    visibility: np.ndarray
    detected: np.ndarray
    image_size: np.ndarray
    world: np.ndarray
    points: np.ndarray
    root: np.ndarray
    camera: np.ndarray
    clean: np.ndarray
    cameras: Cameras
    fps: float
    skeleton: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    def track(self, i: int, start_time: float = 0.0) -> PoseTrack:
        """Window ``i`` as a `PoseTrack` (with its simulated world landmarks)."""
        t = self.keypoints.shape[1]
        return PoseTrack(
            keypoints=self.keypoints[i],
            visibility=self.visibility[i],
            times=start_time + np.arange(t) / self.fps,
            image_size=(int(self.image_size[i, 0]), int(self.image_size[i, 1])),
            skeleton=self.skeleton,
            detected=self.detected[i],
            world=self.world[i],
            metadata={"source": "virtual camera", "fps": self.fps},
        )


def batch_slice(batch: VirtualBatch, sl: slice) -> VirtualBatch:
    """Windows ``sl`` of a `VirtualBatch` (for evaluating large validation sets in chunks)."""
    from dataclasses import replace

    c = batch.cameras
    cams = Cameras(c.rotation[sl], c.position[sl], c.focal[sl], c.centre[sl], c.image_size[sl], c.weak[sl])
    return replace(
        batch,
        keypoints=batch.keypoints[sl],
        visibility=batch.visibility[sl],
        detected=batch.detected[sl],
        image_size=batch.image_size[sl],
        world=batch.world[sl],
        points=batch.points[sl],
        root=batch.root[sl],
        camera=batch.camera[sl],
        clean=batch.clean[sl],
        cameras=cams,
    )


def mirror_windows(windows: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Left/right mirror image of world windows ``(..., J, 3)`` (reflect x, swap twin joints)."""
    out = windows[..., list(skeleton.mirror_permutation), :].copy()
    out[..., 0] *= -1
    return out


def _ar_noise(rng: np.random.Generator, shape: tuple[int, ...], rho: np.ndarray) -> np.ndarray:
    """Unit-variance AR(1) noise along axis 1 of ``shape = (B, T, ...)`` with correlation ``rho (B,)``."""
    e = rng.standard_normal(shape)
    r = rho.reshape(-1, *([1] * (len(shape) - 2)))
    k = np.sqrt(1.0 - r**2)
    out = np.empty(shape)
    out[:, 0] = e[:, 0]
    for t in range(1, shape[1]):
        out[:, t] = r * out[:, t - 1] + k * e[:, t]
    return out


def bridge(keypoints: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """Fill the frames of ``keypoints (T, J, C)`` where ``detected (T,)`` is False by linear
    interpolation between detected frames (held at the ends); all-undetected tracks are unchanged."""
    if detected.all() or not detected.any():
        return keypoints
    t = np.arange(len(detected))
    good = np.flatnonzero(detected)
    flat = keypoints.reshape(len(t), -1).copy()
    for c in range(flat.shape[1]):
        col = flat[good, c]
        ok = np.isfinite(col)
        if ok.any():
            flat[~detected, c] = np.interp(t[~detected], good[ok], col[ok])
    return flat.reshape(keypoints.shape)


def weak_perspective_truth(cameras: Cameras, root_cam: np.ndarray) -> np.ndarray:
    """``(B, T, 3)`` true weak-perspective cameras ``(s, tx, ty)`` (pixels) from the pelvis in camera
    coordinates ``root_cam (B, T, 3)``: ``s = f / d``, ``(tx, ty)`` = the pelvis's image position."""
    d = -root_cam[..., 2]
    s = cameras.focal[:, None] / d
    tx = cameras.centre[:, None, 0] + s * root_cam[..., 0]
    ty = cameras.centre[:, None, 1] - s * root_cam[..., 1]
    return np.stack([s, tx, ty], axis=-1)


def film(
    windows: np.ndarray,
    skeleton: str | Skeleton,
    fps: float,
    rng: np.random.Generator,
    config: CameraConfig | None = None,
    cameras: Cameras | None = None,
) -> VirtualBatch:
    """Film world windows ``(B, T, J, 3)`` (metres, y up) with random virtual cameras and a simulated
    detector; see the module docstring for what is randomised.

    Args:
        windows: ``(B, T, J, 3)`` world positions; joint 0 must be the pelvis (root).
        skeleton: their joint layout (``body-17`` for the video models).
        fps: their frame rate.
        rng: the random generator (seed it for reproducible validation sets).
        config: ranges (default `CameraConfig()`; `CameraConfig.clean()` for noise-free data).
        cameras: fixed cameras instead of random ones.
    """
    config = config or CameraConfig()
    skel = skeletons.get(skeleton)
    w = np.asarray(windows, dtype=np.float64)
    if w.ndim != 4 or w.shape[2:] != (skel.num_joints, 3):
        raise ValueRangeError(f"windows must be (B, T, {skel.num_joints}, 3) on {skel.name!r}, got {w.shape}")
    b, t, j, _ = w.shape
    if config.mirror:
        flip = rng.random(b) < 0.5
        w = np.where(flip[:, None, None, None], mirror_windows(w, skel), w)
    cams = cameras or random_cameras(w, rng, config)
    clean, depth = cams.project(w)
    pc = cams.to_camera(w)
    root_cam = pc[:, :, ROOT]
    points = pc - root_cam[:, :, None]
    camera = weak_perspective_truth(cams, root_cam)

    # detector noise, in pixels proportional to the person's height in the image
    height_px = np.nanmedian(clean[..., 1].max(axis=2) - clean[..., 1].min(axis=2), axis=1)  # (B,)
    sigma = rng.uniform(*config.noise, size=b) * height_px
    leaves = np.ones(j)
    leaves[list(skel.leaves)] = config.leaf_noise_gain
    rho = rng.uniform(*config.jitter_correlation, size=b)
    noise = _ar_noise(rng, (b, t, j, 2), rho) * (sigma[:, None, None, None] * leaves[None, None, :, None])
    kp = clean + noise
    p_out = rng.uniform(*config.outlier_probability, size=b)
    outlier = rng.random((b, t, j)) < p_out[:, None, None]
    kp = (
        kp
        + outlier[..., None]
        * rng.standard_normal((b, t, j, 2))
        * (config.outlier_size * height_px)[:, None, None, None]
    )

    # visibility: high where clean, lower for outliers and joints hidden behind the pelvis
    vis = rng.uniform(0.75, 1.0, size=(b, t, j))
    behind = depth - depth[..., ROOT : ROOT + 1] > config.occlusion_depth
    vis = np.where(behind, vis * rng.uniform(0.3, 0.8, size=(b, t, j)), vis)
    vis = np.where(outlier, rng.uniform(0.05, 0.5, size=(b, t, j)), vis)
    p_drop = rng.uniform(*config.drop_joint_probability, size=b)
    dropped = rng.random((b, t, j)) < p_drop[:, None, None]
    kp[dropped] = np.nan
    vis[dropped] = 0.0

    # dropped frames: no person; keypoints bridged from the detected neighbours
    p_frame = rng.uniform(*config.drop_frame_probability, size=b)
    detected = rng.random((b, t)) >= p_frame[:, None]
    detected[:, 0] |= ~detected.any(axis=1)
    for i in np.flatnonzero(~detected.all(axis=1)):
        kp[i] = bridge(kp[i], detected[i])
        vis[i, ~detected[i]] = 0.0

    # simulated backend world landmarks: pelvis-centred truth with correlated noise (depth worse)
    sw = rng.uniform(*config.world_noise, size=b)
    depth_gain = np.array([1.0, 1.0, 2.0])
    wn = _ar_noise(rng, (b, t, j, 3), np.full(b, 0.5)) * sw[:, None, None, None] * depth_gain
    sb = rng.uniform(*config.world_bias, size=b)
    bias = rng.standard_normal((b, 1, j, 3)) * sb[:, None, None, None] * depth_gain  # per-window pose error
    world = points + wn + bias
    world = world - world[:, :, ROOT : ROOT + 1]
    return VirtualBatch(
        keypoints=kp,
        visibility=vis,
        detected=detected,
        image_size=cams.image_size,
        world=world,
        points=points,
        root=root_cam,
        camera=camera,
        clean=clean,
        cameras=cams,
        fps=float(fps),
        skeleton=skel.name,
    )
