"""Camera sessions of `posecast serve` (``/v1/video``): image bytes in, 2D keypoints and a forecast out.

Each session owns a pose-backend session in video (tracking) mode and the recent poses it found. A frame
is decoded, its pose estimated and the video model run on the last `HISTORY_SECONDS` of the track, all off
the event loop on the ``pose`` thread pool, one frame of a session at a time: frames that arrive while one
is being processed wait in a one-frame slot where the newest replaces the older (``skipped``).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from posecast.errors import FormatError, ValueRangeError
from posecast.serve.engine import dumps, error_text, from_y_up, rounded

#: seconds of the track a video model sees (the shipped models read a 1 s context)
HISTORY_SECONDS = 2.0

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
    times: list[float] = field(default_factory=list)
    poses: list[Any] = field(default_factory=list)
    image_size: tuple[int, int] | None = None
    slot: tuple[float, bytes, float] | None = None  # (t, image bytes, arrival perf_counter)
    skipped: int = 0
    busy: bool = False
    closed: bool = False
    replies: int = 0
    last_message: float = field(default_factory=time.monotonic)

    def ready(self) -> dict[str, Any]:
        from posecast import skeletons

        skel = skeletons.get(self.forecaster.skeleton)
        return {
            "type": "ready",
            "session": self.id,
            "model": self.model,
            "fps": float(self.forecaster.fps),
            "seconds": self.seconds,
            "skeleton": skel.name,
            "joints": list(skel.joint_names),
            "parents": list(skel.parents),
            "up": self.up,
        }

    def offer(self, t: float, image: bytes) -> bool:
        """Put a frame in the slot; True when the slot held one already (it is skipped)."""
        replaced = self.slot is not None
        if replaced:
            self.skipped += 1
        self.slot = (t, image, time.perf_counter())
        return replaced

    def process(self, t: float, image: bytes, arrival: float) -> str:
        """On a worker thread: decode, estimate the pose, forecast; the reply text (or an error)."""
        from posecast.video.decode import decode_image
        from posecast.video.extract import track_from_poses

        if self.times and t <= self.times[-1]:
            return error_text(f"frame time {t:g} s does not come after the previous frame ({self.times[-1]:g} s)")
        try:
            rgb = decode_image(image, "frame")
        except FormatError as exc:
            return error_text(str(exc))
        size = (rgb.shape[1], rgb.shape[0])
        if self.image_size is not None and size != self.image_size:  # the camera changed: start over
            self.times.clear()
            self.poses.clear()
        self.image_size = size
        pose = self.pose.process(rgb)
        self.times.append(t)
        self.poses.append(pose)
        while self.times and self.times[0] < t - HISTORY_SECONDS:
            self.times.pop(0)
            self.poses.pop(0)
        skipped, self.skipped = self.skipped, 0
        reply: dict[str, Any] = {
            "type": "forecast",
            "t": t,
            "detected": pose is not None,
            "keypoints": None,
            "visibility": None,
            "fps": float(self.forecaster.fps),
            "model": self.model,
            "forecast": None,
            "forecast_pixels": None,
            "skipped": skipped,
        }
        if pose is not None:
            reply["keypoints"] = rounded(pose.keypoints)
            reply["visibility"] = rounded(pose.visibility)
        if any(p is not None for p in self.poses):
            try:
                track = track_from_poses(self.poses, self.times, size, self.backend_skeleton)
                video = self.forecaster.forecast_track(track, self.seconds)
            except ValueRangeError as exc:
                return error_text(str(exc))
            n = video.future.shape[0]
            reply["forecast"] = rounded(from_y_up(video.future, self.up))
            reply["forecast_pixels"] = rounded(video.pixels()[-n:])
        reply["compute_ms"] = round((time.perf_counter() - arrival) * 1e3, 3)
        self.replies += 1
        return dumps(reply)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.pose.close()
