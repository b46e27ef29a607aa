"""Camera sessions of `posecast serve` (``/v1/video``): image bytes in, 2D keypoints and a forecast out.

Each session owns a pose-backend session in video (tracking) mode and the poses it found in the last
`HISTORY_SECONDS`. A frame goes through two stages, each off the event loop on the ``pose`` thread pool
and each one frame at a time, so that the pose of frame n+1 is estimated while frame n is forecast:

1. `VideoSession.pose_step`: decode the JPEG/PNG, estimate the pose, add it to the track;
2. `VideoSession.forecast_step`: the video model on the track up to that frame, the reply.

Between them, and before the first, one-frame slots where the newest frame replaces an older one
(counted in ``skipped``): a client that sends faster than the pipeline runs gets the newest frames answered.
"""

from __future__ import annotations

import math
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from posecast.errors import FormatError, ValueRangeError
from posecast.serve.engine import dumps, error_text, from_y_up, rounded

#: seconds of the track a video model sees (the shipped models read a 1 s context)
HISTORY_SECONDS = 2.0
#: the largest camera frame taken (pixels; two 4K frames' worth): a small PNG can hold a huge blank image
MAX_FRAME_PIXELS = 2 * 3840 * 2160

#: the header of a binary frame: little-endian float64 timestamp (seconds)
HEADER = struct.Struct("<d")


def split_frame(message: bytes) -> tuple[float, bytes]:
    """``(t, image bytes)`` of one binary frame message; a `FormatError` when it cannot be one."""
    if len(message) <= HEADER.size:
        raise FormatError(
            f"a video frame is an 8-byte little-endian float64 timestamp then JPEG/PNG bytes; got {len(message)} bytes",
            "frame",
        )
    (t,) = HEADER.unpack_from(message)
    if not np.isfinite(t):
        raise FormatError("the frame's timestamp is not a finite number", "frame")
    return float(t), message[HEADER.size :]


@dataclass(eq=False)
class VideoSession:
    """One camera: the pose session, the recent ``(t, FramePose | None)`` and the one-frame slot."""

    id: str
    model: str
    forecaster: Any  # a VideoForecaster
    pose: Any  # a PoseSession (video mode)
    backend_skeleton: str
    seconds: float
    up: str
    min_side: int = 0  # frames smaller than this on a side are refused (the backend's ``min_side``)
    times: list[float] = field(default_factory=list)
    poses: list[Any] = field(default_factory=list)
    image_size: tuple[int, int] | None = None
    slot: tuple[float, bytes, float] | None = None  # (t, image bytes, arrival perf_counter)
    posed: dict[str, Any] | None = None  # the pose part of a reply waiting for its forecast
    skipped: int = 0
    posing: bool = False
    forecasting: bool = False
    closed: bool = False  # the session is over: its loops stop (set by the app before `close`)
    released: bool = False  # the pose session's resources are freed (`close`)
    last_message: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ready(self) -> dict[str, Any]:
        from posecast import skeletons

        skel = skeletons.get(self.forecaster.skeleton)
        kp = skeletons.get(self.backend_skeleton)
        return {
            "type": "ready",
            "session": self.id,
            "model": self.model,
            "fps": float(self.forecaster.fps),
            "seconds": self.seconds,
            "skeleton": skel.name,
            "joints": list(skel.joint_names),
            "parents": list(skel.parents),
            "keypoint_skeleton": kp.name,
            "keypoint_joints": list(kp.joint_names),
            "keypoint_parents": list(kp.parents),
            "up": self.up,
        }

    def offer(self, t: float, image: bytes) -> None:
        """Put a raw frame in the first slot (an older one waiting there is skipped)."""
        if self.slot is not None:
            self.skipped += 1
        self.slot = (t, image, time.perf_counter())

    def pose_step(self, t: float, image: bytes, arrival: float) -> dict[str, Any] | str:
        """On a worker thread: decode and estimate the pose of one frame, keep it; the pose part of the
        reply, or an error text."""
        from posecast.video.decode import decode_image
        from posecast.video.extract import check_image_size

        with self.lock:
            last = self.times[-1] if self.times else -math.inf
        if t <= last:
            return error_text(f"frame time {t:g} s does not come after the previous frame ({last:g} s)")
        try:
            rgb = decode_image(image, "frame", max_pixels=MAX_FRAME_PIXELS, known_size=True)
        except FormatError as exc:
            return error_text(str(exc))
        size = (rgb.shape[1], rgb.shape[0])
        try:
            check_image_size(*size, "frame", self.min_side)
        except ValueRangeError as exc:
            return error_text(str(exc))
        pose = self.pose.process(rgb)
        with self.lock:
            if self.image_size is not None and size != self.image_size:  # the camera changed: start over
                self.times.clear()
                self.poses.clear()
            self.image_size = size
            self.times.append(t)
            self.poses.append(pose)
            while self.times and self.times[0] < t - HISTORY_SECONDS:
                self.times.pop(0)
                self.poses.pop(0)
        return {
            "type": "forecast",
            "t": t,
            "detected": pose is not None,
            "keypoints": None if pose is None else rounded(pose.keypoints),
            "visibility": None if pose is None else rounded(pose.visibility),
            "fps": float(self.forecaster.fps),
            "model": self.model,
            "forecast": None,
            "forecast_pixels": None,
            "arrival": arrival,
        }

    def forecast_step(self, part: dict[str, Any]) -> str:
        """On a worker thread: the video model on the track up to the frame of ``part`` (from `pose_step`);
        the reply text."""
        from posecast.video.extract import track_from_poses

        t = part["t"]
        with self.lock:
            keep = [i for i, ti in enumerate(self.times) if ti <= t]
            times = [self.times[i] for i in keep]
            poses = [self.poses[i] for i in keep]
            size = self.image_size
        reply = dict(part)
        arrival = reply.pop("arrival")
        if size is not None and any(p is not None for p in poses):
            try:
                track = track_from_poses(poses, times, size, self.backend_skeleton)
                video = self.forecaster.forecast_track(track.since_last_change(), self.seconds)  # one person
            except ValueRangeError as exc:
                return error_text(str(exc))
            n = video.future.shape[0]
            reply["forecast"] = rounded(from_y_up(video.future, self.up))
            reply["forecast_pixels"] = rounded(video.future_pixels()[-n:])  # anchored at the last keypoints
        reply["skipped"], self.skipped = self.skipped, 0
        reply["compute_ms"] = round((time.perf_counter() - arrival) * 1e3, 3)
        return dumps(reply)

    def close(self) -> None:
        """End the session and free the pose backend's graph (threads, buffers) once, whoever set ``closed``."""
        self.closed = True
        if not self.released:
            self.released = True
            self.pose.close()
