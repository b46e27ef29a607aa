"""What every pose backend gives and takes: one person's keypoints in one frame (`FramePose`), the
protocols of a backend and of its running sessions, and a session's counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class FramePose:
    """One person in one frame: ``keypoints`` ``(J, 2)`` image pixels (x right, y down), ``visibility``
    ``(J,)`` in ``[0, 1]``, and ``world`` ``(J, 3)`` metres in PoseCast's frame (hip-centred) or None."""

    keypoints: np.ndarray
    visibility: np.ndarray
    world: np.ndarray | None = None


@dataclass
class SessionStats:
    """Counts and time spent inside the estimator (``process`` calls only, seconds)."""

    frames: int = 0
    detected: int = 0
    seconds: float = 0.0


@runtime_checkable
class PoseSession(Protocol):
    """A running estimator: frames of one clip go in, in order (video mode), or unrelated images."""

    stats: SessionStats

    def process(self, rgb: np.ndarray) -> FramePose | None:
        """The pose in ``rgb`` (``(H, W, 3)`` ``uint8``), or None when no person is found."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> PoseSession: ...

    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class PoseBackend(Protocol):
    """A pose estimator. ``skeleton`` names the joint layout it outputs (registered in `posecast.skeletons`)."""

    name: str
    skeleton: str

    def session(self, static: bool = False) -> PoseSession:
        """Start an estimator: ``static=False`` tracks through the frames of one clip (video mode);
        ``static=True`` runs the person detector on every frame (images, or detector recall)."""
        ...
