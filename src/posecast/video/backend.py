"""2D/3D pose backends: from an RGB frame to one person's keypoints.

`PoseBackend` is the protocol every estimator follows (so another one can be added later);
`MediaPipePoseBackend` is the one shipped: MediaPipe 0.10.21's legacy Pose solution with the
"full" landmark model (``model_complexity=1``, the only one inside the wheel, so it runs offline).

World landmarks
---------------
MediaPipe's world landmarks are metres, hip-centred, in the camera's axes: x to the right of the
image, y **down**, z away from the camera. PoseCast's frame is y up and right-handed, so the
backend turns them by 180 degrees about x: ``(x, y, z) -> (x, -y, -z)`` (x right in the image, y up,
z toward the camera). Flipping y alone would mirror the body. Checked on the squats clip (a woman
facing the camera): after the turn her left shoulder is at +x (PoseCast: a subject facing +z has the
left side at +x), her nose is in front of her hips (+z) and her head is up (+y).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from posecast.errors import ModelError, ValueRangeError
from posecast.video.poses import FramePose, PoseBackend, PoseSession, SessionStats
from posecast.video.search import SearchingSession

__all__ = [
    "MP_TO_POSECAST",
    "FramePose",
    "MediaPipePoseBackend",
    "PoseBackend",
    "PoseSession",
    "SessionStats",
    "default_backend",
]

MP_TO_POSECAST = np.diag([1.0, -1.0, -1.0])
"""MediaPipe world axes (x right, y down, z away from the camera) to PoseCast's (y up, z toward the camera)."""


@dataclass
class _MediaPipeSession:
    pose: object
    stats: SessionStats = field(default_factory=SessionStats)

    def process(self, rgb: np.ndarray) -> FramePose | None:
        rgb = np.asarray(rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueRangeError(f"pose backend needs an RGB uint8 (H, W, 3) image, got {rgb.dtype} {rgb.shape}")
        h, w = rgb.shape[:2]
        t0 = time.perf_counter()
        result = self.pose.process(np.ascontiguousarray(rgb))
        self.stats.seconds += time.perf_counter() - t0
        self.stats.frames += 1
        if result.pose_landmarks is None:
            return None
        self.stats.detected += 1
        lm = result.pose_landmarks.landmark
        kp = np.array([[p.x * w, p.y * h] for p in lm], dtype=np.float64)
        vis = np.clip(np.array([p.visibility for p in lm], dtype=np.float64), 0.0, 1.0)
        world = None
        if result.pose_world_landmarks is not None:
            wl = result.pose_world_landmarks.landmark
            world = np.array([[p.x, p.y, p.z] for p in wl], dtype=np.float64) @ MP_TO_POSECAST.T
        return FramePose(keypoints=kp, visibility=vis, world=world)

    def close(self) -> None:
        self.pose.close()

    def __enter__(self) -> _MediaPipeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class MediaPipePoseBackend:
    """MediaPipe Pose (BlazePose, legacy ``mp.solutions.pose`` API of mediapipe 0.10.21) on ``blazepose-33``.

    ``model_complexity=1`` is the "full" landmark model shipped in the wheel (0 and 2 would be
    downloaded at construction, which fails offline). Landmark smoothing is off by default: the legacy
    solution assumes 30 fps whatever the clip's real rate, and PoseCast keeps the real timestamps
    instead (``smooth_landmarks=True`` exists to reproduce Google's reference output, made with it on).
    """

    model_complexity: int = 1
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    smooth_landmarks: bool = False
    search: bool = True
    min_side: int = 64
    """Images and videos whose shorter side is below this (pixels) are refused (`posecast.video.extract`): on a
    person filling a 48-pixel image MediaPipe's keypoints were off by 3.8 % of the body's height (median) and
    up to 23 %, reported as found (64: 2.0 / 3.0 %, 96: 1.2 / 1.9 %; frames of the shared dance and squats
    clips shrunk, against the same frames at full size; measured once in the twenty-second session)."""
    name: str = "mediapipe-pose"
    skeleton: str = "blazepose-33"

    def session(self, static: bool = False) -> PoseSession:
        """A session on whole frames; with ``search`` (the default) people too small for MediaPipe's
        detector are searched for in tiles and followed in a crop (`posecast.video.search`)."""
        if not self.search:
            return self.raw_session(static)
        return SearchingSession(self.raw_session, static=static)

    def raw_session(self, static: bool = False) -> _MediaPipeSession:
        """MediaPipe's own session on the frames as given."""
        try:
            import mediapipe as mp
        except ImportError as exc:
            raise ModelError("the MediaPipe pose backend needs mediapipe: pip install 'posecast[video]'") from exc
        try:
            pose = mp.solutions.pose.Pose(
                static_image_mode=static,
                model_complexity=self.model_complexity,
                smooth_landmarks=self.smooth_landmarks and not static,
                enable_segmentation=False,
                min_detection_confidence=self.min_detection_confidence,
                min_tracking_confidence=self.min_tracking_confidence,
            )
        except OSError as exc:  # URLError for complexities whose model file is not installed
            raise ModelError(
                f"MediaPipe pose model of complexity {self.model_complexity} is not installed ({exc}); use 1"
            ) from exc
        return _MediaPipeSession(pose)

    def describe(self) -> dict[str, object]:
        import mediapipe as mp

        return {
            "backend": self.name,
            "mediapipe": mp.__version__,
            "model_complexity": self.model_complexity,
            "smooth_landmarks": self.smooth_landmarks,
            "search": self.search,
            "skeleton": self.skeleton,
        }


def default_backend() -> PoseBackend:
    """The backend used when none is given: MediaPipe Pose, full model."""
    return MediaPipePoseBackend()
