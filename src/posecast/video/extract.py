"""From a video file (or one image) to a `PoseTrack`: decode, run the pose backend, bridge the gaps.

Frames where the backend finds no person, or only a body going out through the edge of the frame
(`PoseTrack.leaving`), are marked ``detected[t] = False`` and filled by linear
interpolation over time (on the real timestamps) between the nearest detected frames; frames before
the first or after the last detection hold that detection. Keypoints, visibility and world
landmarks are all bridged the same way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import ValueRangeError
from posecast.video.backend import FramePose, PoseBackend, default_backend
from posecast.video.decode import iter_frames, prefetch, probe_video, read_image
from posecast.video.track import PoseTrack

POSE_MAX_SIDE = 1920
"""Frames with a longer side (4K phone clips) reach the pose backend scaled down to it, and their keypoints
are scaled back to the clip's pixels. MediaPipe runs its landmark model on a 256-pixel crop of the person
either way; what a 4K frame costs is its colour conversion and its size in memory (four frames prefetched).
Measured on the basketball clip scaled to 2160 x 3840 (4 s): 31.5-32.5 frames/s at full size, 33.1-34.2
scaled (after a first run), keypoints 0.30 / 0.34 % of the person's box from those of the 1080 x 1920 original
(doubled). The shared clips are all at most 1920 pixels on each side, so they are unchanged."""


TRUNCATED_SHARE = 0.95
"""A clip that decodes to fewer than this share of the frames its container's header lists gets a note."""


def truncation_note(info: Any, decoded: int, times: Sequence[float]) -> str | None:
    """A note when a whole clip (``info``: its `posecast.video.decode.VideoInfo`) decoded to fewer frames than its
    header lists (`TRUNCATED_SHARE`), or — a header listing no frame count, as Matroska's and WebM's — ended
    before the time its header states (QA: such files cut in half were read partly without a word)."""
    declared, stated = info.declared_frames, info.declared_end
    if declared:
        if decoded < TRUNCATED_SHARE * declared:
            return f"decoded {decoded} of the {declared} frames its header lists: the file looks truncated or damaged"
        return None
    ends = float(times[-1]) + (1.0 / info.fps if info.fps > 0 else 0.0) if len(times) else 0.0
    if stated and ends < TRUNCATED_SHARE * stated:
        return (
            f"decoded up to {ends:.2f} s of the {stated:.2f} s its header states: the file looks truncated or damaged"
        )
    return None


def min_side(backend: object) -> int:
    """The shortest image side ``backend`` places joints on (`MediaPipePoseBackend.min_side`; 0 when it says
    nothing)."""
    return int(getattr(backend, "min_side", 0) or 0)


def check_image_size(width: int, height: int, source: str | Path, least: int) -> None:
    """A `ValueRangeError` naming ``source`` when ``width`` x ``height`` is below ``least`` pixels on a side
    (`min_side` of the backend)."""
    if min(width, height) < least:
        raise ValueRangeError(
            f"{width} x {height} pixels is too small to place a person's joints: at least {least} pixels "
            "on the shorter side",
            source,
        )


def _full_size(pose: FramePose | None, scale: float) -> FramePose | None:
    """``pose`` found on a frame scaled by ``1 / scale``, its keypoints back in the clip's pixels."""
    if pose is None or scale == 1.0:
        return pose
    return replace(pose, keypoints=pose.keypoints * scale)


def _assemble(
    poses: list[FramePose | None], times: list[float], num_joints: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Per-frame arrays of the backend's results, missed frames still empty."""
    t_ = len(poses)
    detected = np.array([p is not None for p in poses], dtype=bool)
    kp = np.zeros((t_, num_joints, 2))
    vis = np.zeros((t_, num_joints))
    has_world = any(p is not None and p.world is not None for p in poses)
    world = np.zeros((t_, num_joints, 3)) if has_world else None
    for i, p in enumerate(poses):
        if p is None:
            continue
        kp[i], vis[i] = p.keypoints, p.visibility
        if world is not None:
            if p.world is None:
                detected[i] = False  # keep the arrays consistent: a pose without world counts as missed
            else:
                world[i] = p.world
    if not detected.any():
        raise ValueRangeError("cannot bridge a track with no detected frame")
    return kp, vis, detected, world  # missed frames are filled by `PoseTrack.bridged`


def track_from_poses(
    poses: list[FramePose | None],
    times: list[float] | np.ndarray,
    image_size: tuple[int, int],
    skeleton: str,
    metadata: dict | None = None,
) -> PoseTrack:
    """A `PoseTrack` from the backend's per-frame results (None: nobody found; bridged by interpolation)
    at ``times`` (s, increasing) on images of ``image_size`` ``(W, H)`` pixels, layout ``skeleton``. Detections
    of a body going out through the edge of the frame count as not detected (`PoseTrack.without_leaving`:
    their times in ``metadata["left_out_s"]``)."""
    from posecast import skeletons

    if not any(p is not None for p in poses):
        raise ValueRangeError(f"no person found in any of the {len(poses)} frames")
    kp, vis, detected, world = _assemble(poses, list(times), skeletons.get(skeleton).num_joints)
    track = PoseTrack(
        keypoints=kp,
        visibility=vis,
        times=np.asarray(times, dtype=np.float64),
        image_size=image_size,
        skeleton=skeleton,
        detected=detected,
        world=world,
        metadata=dict(metadata or {}),
    )
    return track.bridged().without_leaving()


def extract_poses(
    path: str | Path,
    backend: PoseBackend | None = None,
    *,
    max_time: float | None = None,
    static: bool = False,
) -> PoseTrack:
    """The pose track of the (most prominent) person in a video, on the backend's layout (``blazepose-33``).

    ``max_time`` keeps the frames up to ``max_time`` seconds after the first one. ``static=True``
    runs the person detector on every frame instead of tracking. Raises `FormatError` for files that
    cannot be decoded and `ValueRangeError` when no person is found in any frame.
    """
    path = Path(path)
    backend = backend or default_backend()
    info = probe_video(path)
    check_image_size(info.width, info.height, path, min_side(backend))
    poses: list[FramePose | None] = []
    times: list[float] = []
    t0 = time.perf_counter()
    with backend.session(static=static) as session:
        for t, rgb in prefetch(iter_frames(path, max_time=max_time, info=info, max_side=POSE_MAX_SIDE)):
            times.append(t)
            poses.append(_full_size(session.process(rgb), info.width / rgb.shape[1]))
        stats = session.stats
    wall = time.perf_counter() - t0
    if not any(p is not None for p in poses):
        raise ValueRangeError(
            f"no person found in any of the {len(poses)} frames (a person must be seen whole enough and at least "
            "about 60 pixels tall)",
            path,
        )
    track = track_from_poses(poses, times, (info.width, info.height), backend.skeleton)
    metadata = {
        "source": str(path),
        "backend": backend.name,
        "mode": "static" if static else "video",
        "frames_detected": int(track.detected.sum()),
        "video_fps": info.fps,
        "video_frames": info.num_frames,
        "codec": info.codec,
        "pose_seconds": stats.seconds,
        "wall_seconds": wall,
    }
    if max_time is None and (note := truncation_note(info, len(poses), times)):
        metadata["note"] = note
    if info.shared_stamps:
        metadata["timestamps_note"] = (
            f"{info.shared_stamps} frame{'s' * (info.shared_stamps != 1)} share a timestamp with the frame before "
            "(the file's timestamps are broken): their times are spread evenly up to the next frame's"
        )
    if track.metadata.get("left_out_s"):
        metadata["left_out_s"] = track.metadata["left_out_s"]
    changes = track.person_changes()
    if len(changes):
        metadata["person_changes_s"] = [round(float(track.times[k] - track.times[0]), 4) for k in changes]
    for key in ("searched", "zoomed"):  # a searching session's counts (`posecast.video.search`)
        if hasattr(stats, key):
            metadata[f"frames_{key}"] = int(getattr(stats, key))
    return replace(track, metadata=metadata)


def extract_image_pose(path: str | Path, backend: PoseBackend | None = None) -> PoseTrack:
    """The pose of the person in one image as a one-frame track (time 0), detector run on the image.

    Raises `FormatError` for unreadable files and `ValueRangeError` when no person is found.
    """
    from posecast import skeletons

    path = Path(path)
    backend = backend or default_backend()
    rgb = read_image(path)
    check_image_size(rgb.shape[1], rgb.shape[0], path, min_side(backend))
    with backend.session(static=True) as session:
        pose = session.process(rgb)
    if pose is None:
        raise ValueRangeError("no person found in the image", path)
    j = skeletons.get(backend.skeleton).num_joints
    world = None if pose.world is None else pose.world[None]
    return PoseTrack(
        keypoints=pose.keypoints.reshape(1, j, 2),
        visibility=pose.visibility.reshape(1, j),
        times=np.zeros(1),
        image_size=(rgb.shape[1], rgb.shape[0]),
        skeleton=backend.skeleton,
        detected=np.ones(1, bool),
        world=world,
        metadata={"source": str(path), "backend": backend.name, "mode": "static", "fps": 30.0},
    )
