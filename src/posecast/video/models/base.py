"""The video-forecaster contract: a `PoseTrack` (or a clip / image path) in, a forecast out.

A video model implements one batched array method, `VideoForecaster.predict`, on 2D keypoints at
its own fixed frame rate; the base class's `VideoForecaster.forecast_track` does the rest: maps the
track to ``body-17``, resamples it to the model's rate by its real timestamps (variable frame rate
allowed), calls ``predict`` and builds the `VideoForecast` with the times on the clip's clock.
`VideoForecaster.forecast` is the registry's common call: it also takes a video or image path (the
pose backend extracts the track) and returns a `posecast.motion.Forecast` whose ``metadata`` holds
the 2D track (``"track"``) and the `VideoForecast` (``"video"``, for overlays).
Benchmarks call ``predict`` directly on batches of virtual-camera windows
(`posecast.video.cameras.film`).

3D outputs are in the **camera-aligned frame**, pelvis-centred per frame (metres; x right in the
image, y up, z toward the camera); the per-frame weak-perspective camera ``(s, tx, ty)`` places them
in the image: ``u = s X + tx``, ``v = -s Y + ty`` (pixels).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import ModelError, ValueRangeError
from posecast.motion import Forecast, Motion
from posecast.video.track import PoseTrack

LAYOUT = "body-17"


@dataclass
class VideoForecast:
    """What a video model returns for one track.

    Attributes:
        past: ``(T, J, 3)`` estimated 3D of the observed frames (metres, camera-aligned, pelvis-centred).
        future: ``(H, J, 3)`` forecast, same frame.
        fps: the model's frame rate (of ``past`` and ``future``).
        times: ``(T + H,)`` seconds on the clip's clock (past frames, then future frames).
        camera: ``(T + H, 3)`` weak perspective per frame ``(s px/m, tx px, ty px)``:
            ``u = s X + tx``, ``v = -s Y + ty`` (future frames: scale held, translation extrapolated).
        skeleton: joint layout (``"body-17"``).
        model: name of the model.
    """

    past: np.ndarray
    future: np.ndarray
    fps: float
    times: np.ndarray
    camera: np.ndarray
    skeleton: str = LAYOUT
    model: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t, h = len(self.past), len(self.future)
        if self.past.ndim != 3 or self.future.ndim != 3 or self.past.shape[1:] != self.future.shape[1:]:
            raise ModelError(f"video forecast shapes do not match: past {self.past.shape}, future {self.future.shape}")
        if self.times.shape != (t + h,) or self.camera.shape != (t + h, 3):
            raise ModelError(
                f"video forecast of {t} + {h} frames has times {self.times.shape} and camera {self.camera.shape}"
            )

    def pixels(self) -> np.ndarray:
        """``(T + H, J, 2)`` image positions of past and future joints through ``camera``."""
        from posecast.video.models.common import project_pixels

        return project_pixels(np.concatenate([self.past, self.future]), self.camera)

    def to_forecast(self) -> Forecast:
        """A `posecast.motion.Forecast` (one sample) with the past as its history, for the writers."""
        history = Motion(self.past, self.fps, self.skeleton, metadata={"source": self.metadata.get("source")})
        return Forecast(
            samples=self.future[None],
            fps=self.fps,
            skeleton=self.skeleton,
            history=history,
            model=self.model,
            metadata={
                "source": self.metadata.get("source"),
                "frame": "camera-aligned (x right in the image, y up, z toward the camera), pelvis-centred",
                "start_time": float(self.times[0]),
            },
        )


@dataclass
class VideoPrediction:
    """Batched output of `VideoForecaster.predict`: ``past (B, T, J, 3)``, ``future (B, F, J, 3)``
    (metres, camera-aligned, pelvis-centred) and ``camera (B, T + F, 3)`` pixel cameras."""

    past: np.ndarray
    future: np.ndarray
    camera: np.ndarray


def resample_track(track: PoseTrack, fps: float) -> tuple[PoseTrack, np.ndarray]:
    """``track`` resampled at ``fps`` by linear interpolation on its real timestamps, and the new
    ``(T',)`` times (``times[0] + k / fps`` up to the last frame; a single frame stays one frame).
    NaN keypoints stay NaN where their neighbours are NaN; ``detected`` takes the nearer source frame."""
    times = track.times
    if track.num_frames < 2:
        return track, times.copy()
    n = int(math.floor((times[-1] - times[0]) * fps + 1e-6)) + 1
    new = times[0] + np.arange(n) / fps
    i1 = np.clip(np.searchsorted(times, new, side="right"), 1, len(times) - 1)
    i0 = i1 - 1
    frac = np.clip((new - times[i0]) / (times[i1] - times[i0]), 0.0, 1.0)

    def lerp(a: np.ndarray) -> np.ndarray:
        w = frac.reshape(-1, *([1] * (a.ndim - 1)))
        return a[i0] * (1 - w) + a[i1] * w

    nearest = np.where(frac < 0.5, i0, i1)
    out = PoseTrack(
        keypoints=lerp(track.keypoints),
        visibility=lerp(track.visibility),
        times=new,
        image_size=track.image_size,
        skeleton=track.skeleton,
        detected=track.detected[nearest],
        world=None if track.world is None else lerp(track.world),
        metadata={**track.metadata, "resampled_fps": fps},
    )
    return out, new


class VideoForecaster(ABC):
    """Base class of the video models.

    Class attributes:
        name: registry name.
        fps: the fixed frame rate the model runs at.
        skeleton: the layout it reads and writes (``body-17``).
        uses_world: True when ``predict`` uses the backend's world landmarks when given.
    """

    name: str = ""
    fps: float = 25.0
    skeleton: str = LAYOUT
    uses_world: bool = False

    @abstractmethod
    def predict(
        self,
        keypoints: np.ndarray,
        visibility: np.ndarray,
        frames: int,
        world: np.ndarray | None = None,
    ) -> VideoPrediction:
        """Batched estimation of the observed frames and forecast of the next ``frames``.

        Args:
            keypoints: ``(B, T, J, 2)`` pixels at ``self.fps`` (x right, y down; NaN for unseen joints).
            visibility: ``(B, T, J)`` scores in ``[0, 1]``.
            frames: future frames ``F`` to predict.
            world: optional ``(B, T, J, 3)`` backend world landmarks (metres, y up, hip-centred).
        """

    def forecast(
        self,
        source: PoseTrack | str | Path,
        frames: int | None = None,
        seconds: float | None = None,
        samples: int = 1,
    ) -> Forecast:
        """Forecast the person in ``source`` (a `PoseTrack`, or a video / image file whose track the pose
        backend extracts): ``seconds`` (default 1) or ``frames`` at the model's rate beyond the last
        observed frame. Returns a one-sample `Forecast` (camera-aligned 3D, the estimated past as its
        history) with ``metadata["track"]`` (the 2D track) and ``metadata["video"]`` (`VideoForecast`)."""
        if samples != 1:
            raise ValueRangeError(f"video model {self.name!r} gives one forecast, not {samples} samples")
        if frames is not None and seconds is not None:
            raise ValueRangeError("give only one of frames and seconds")
        if frames is not None and (not isinstance(frames, int) or frames < 1):
            raise ValueRangeError(f"impossible horizon {frames!r} frames (must be at least 1)")
        track = source if isinstance(source, PoseTrack) else extract_track(Path(source))
        duration = frames / self.fps if frames is not None else (1.0 if seconds is None else seconds)
        video = self.forecast_track(track, duration)
        fc = video.to_forecast()
        fc.metadata.update(track=track, video=video)
        return fc

    def warm(self, seconds: float) -> None:
        """Prepare for a live camera forecasting ``seconds`` ahead on every frame (e.g. trace what a steady
        stream runs, so that its first frames do not wait for it). Models with nothing to prepare do nothing."""
        return None

    def forecast_track(self, track: PoseTrack, seconds: float) -> VideoForecast:
        """Estimate the past of ``track`` in 3D and forecast ``seconds`` beyond its last frame.

        The track may be on any layout that maps to ``body-17``; it is resampled to ``self.fps`` using
        ``track.times``. Returned times continue the resampled clock by ``1 / fps`` per future frame.
        """
        if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds <= 0:
            raise ValueRangeError(f"impossible horizon {seconds!r} s (must be a positive number of seconds)")
        if track.num_frames == 0:
            raise ValueRangeError("the pose track has no frames")
        body = track.to_layout(self.skeleton)
        rs, times = resample_track(body, self.fps)
        f = max(1, round(seconds * self.fps))
        world = None if (rs.world is None or not self.uses_world) else rs.world[None]
        pred = self.predict(rs.keypoints[None], rs.visibility[None], f, world=world)
        t = rs.num_frames
        if pred.past.shape[:2] != (1, t) or pred.future.shape[:2] != (1, f) or pred.camera.shape != (1, t + f, 3):
            raise ModelError(f"model {self.name!r} returned inconsistent shapes for {t} observed + {f} future frames")
        all_times = np.concatenate([times, times[-1] + np.arange(1, f + 1) / self.fps])
        return VideoForecast(
            past=pred.past[0],
            future=pred.future[0],
            fps=self.fps,
            times=all_times,
            camera=pred.camera[0],
            skeleton=self.skeleton,
            model=self.name,
            metadata={"source": track.metadata.get("source")},
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, fps={self.fps:g})"


def extract_track(path: Path, max_time: float | None = None, static: bool = False) -> PoseTrack:
    """The pose track of the person in a video (its first ``max_time`` seconds; ``static``: detect on
    every frame) or an image file (MediaPipe backend); a one-line `FormatError` for anything else."""
    from posecast.errors import FormatError
    from posecast.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, extract_image_pose, extract_poses

    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
        raise FormatError(f"not a video or image: use {', '.join(VIDEO_SUFFIXES + IMAGE_SUFFIXES)}", path)
    if not path.is_file():
        raise FormatError("no such file", path)
    if suffix in IMAGE_SUFFIXES:
        if max_time is not None:
            raise ValueRangeError("--at applies to videos, not to an image", path)
        return extract_image_pose(path)
    return extract_poses(path, max_time=max_time, static=static)
