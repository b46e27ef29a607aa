"""Baselines every learned model must beat: zero-velocity, constant-velocity, nearest-neighbour."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posecast.errors import ModelError, SkeletonError, ValueRangeError
from posecast.models.base import Forecaster, ModelInfo, register_model
from posecast.motion import Motion


class ZeroVelocity(Forecaster):
    """Repeat the last observed pose (Martinez et al. 2017: surprisingly hard to beat at short horizons)."""

    name = "zero-velocity"

    def predict(self, history: np.ndarray, frames: int, samples: int = 1, fps: float | None = None) -> np.ndarray:
        last = np.asarray(history)[:, -1]  # (B, J, 3)
        return np.broadcast_to(last[:, None, None], (last.shape[0], samples, frames) + last.shape[1:]).copy()


class ConstantVelocity(Forecaster):
    """Extrapolate every joint linearly with the velocity of the last observed frame step."""

    name = "constant-velocity"
    min_history = 2

    def predict(self, history: np.ndarray, frames: int, samples: int = 1, fps: float | None = None) -> np.ndarray:
        h = np.asarray(history)
        if h.shape[1] < 2:
            raise ValueRangeError("constant-velocity needs at least 2 observed frames")
        last, vel = h[:, -1], h[:, -1] - h[:, -2]  # (B, J, 3)
        steps = np.arange(1, frames + 1, dtype=h.dtype)[None, :, None, None]
        out = last[:, None] + steps * vel[:, None]  # (B, F, J, 3)
        return np.repeat(out[:, None], samples, axis=1)


class NearestNeighbour(Forecaster):
    """PHD's nearest-neighbour baseline: find the training window closest to the observed frames and
    return its continuation.

    Windows are compared after moving both so that the root of their last frame is at the origin
    (so global position does not matter, pose and recent motion do). With ``residual=True`` (the
    default) the forecast is the observed last pose plus the neighbour's per-joint displacement from
    its own last observed pose, so it starts where the observation ends; with ``residual=False`` it is
    the neighbour's continuation itself, moved to the observed root (PHD's literal baseline, which
    jumps to the neighbour's pose at the first frame). With ``samples=K`` the K nearest windows give K
    hypotheses.
    """

    name = "nearest-neighbour"
    deterministic = True

    def __init__(self, window: int = 10, horizon: int = 25, stride: int = 1, residual: bool = True) -> None:
        if window < 1 or horizon < 1 or stride < 1:
            raise ValueRangeError("window, horizon and stride must be positive")
        self.window, self.horizon, self.stride, self.residual = window, horizon, stride, residual
        self.min_history = window
        self._keys: np.ndarray | None = None  # (N, window*J*3) float32
        self._futures: np.ndarray | None = None  # (N, horizon, J, 3), relative to the last root
        self._key_sq: np.ndarray | None = None
        self.fps: float | None = None
        self.skeleton_name: str | None = None

    def fit(self, motions: Sequence[Motion] | Sequence[np.ndarray], fps: float | None = None) -> NearestNeighbour:
        """Index every ``window + horizon`` window (step ``stride``) of the training motions.

        Motions are resampled to ``fps`` (default: the first motion's rate); raw ``(T, J, 3)``
        arrays are taken as they are at ``fps``.
        """
        keys, futures = [], []
        span = self.window + self.horizon
        for m in motions:
            if isinstance(m, Motion):
                if self.skeleton_name is None:
                    self.skeleton_name = m.skeleton.name
                    fps = fps or m.fps
                elif m.skeleton.name != self.skeleton_name:
                    raise SkeletonError(
                        f"training motions mix skeletons {self.skeleton_name!r} and {m.skeleton.name!r}"
                    )
                pos = m.resample(fps).positions if fps else m.positions
            else:
                pos = np.asarray(m, dtype=np.float64)
            if pos.shape[0] < span:
                continue
            starts = np.arange(0, pos.shape[0] - span + 1, self.stride)
            idx = starts[:, None] + np.arange(span)[None]
            win = pos[idx]  # (n, span, J, 3)
            win = win - win[:, self.window - 1 : self.window, :1]  # last observed root at origin
            keys.append(win[:, : self.window].reshape(len(starts), -1).astype(np.float32))
            future = win[:, self.window :]
            if self.residual:  # displacement of every joint from the neighbour's last observed pose
                future = future - win[:, self.window - 1 : self.window]
            futures.append(future.astype(np.float32))
        if not keys:
            raise ValueRangeError(f"no training motion has the {span} frames a window needs")
        self._keys = np.concatenate(keys)
        self._futures = np.concatenate(futures)
        self._key_sq = np.einsum("nd,nd->n", self._keys, self._keys)
        self.fps = fps
        return self

    @property
    def num_windows(self) -> int:
        return 0 if self._keys is None else self._keys.shape[0]

    def predict(self, history: np.ndarray, frames: int, samples: int = 1, fps: float | None = None) -> np.ndarray:
        if self._keys is None or self._futures is None or self._key_sq is None:
            raise ModelError("nearest-neighbour has no training windows: call fit(motions) first (CLI: --train-data)")
        h = np.asarray(history, dtype=np.float64)
        if h.shape[1] < self.window:
            raise ValueRangeError(f"nearest-neighbour needs {self.window} observed frames, got {h.shape[1]}")
        if h.shape[2:] != self._futures.shape[2:]:
            raise SkeletonError(f"history has {h.shape[2]} joints, the training set {self._futures.shape[2]}")
        if fps is not None and self.fps is not None and abs(fps - self.fps) > 1e-6:
            raise ValueRangeError(f"history is at {fps:g} fps but the training set at {self.fps:g} fps; resample first")
        if samples > self.num_windows:
            raise ValueRangeError(f"asked for {samples} neighbours but only {self.num_windows} windows are indexed")
        q = h[:, -self.window :]
        origin = q[:, -1:, :1]  # (B, 1, 1, 3)
        qk = (q - origin).reshape(q.shape[0], -1).astype(np.float32)
        d2 = self._key_sq[None] - 2.0 * qk @ self._keys.T  # + |q|² is constant per row
        nn = (
            np.argpartition(d2, samples - 1, axis=1)[:, :samples]
            if samples < d2.shape[1]
            else np.tile(np.arange(d2.shape[1]), (d2.shape[0], 1))
        )
        order = np.take_along_axis(d2, nn, axis=1).argsort(axis=1)
        nn = np.take_along_axis(nn, order, axis=1)  # (B, S) nearest first
        fut = self._futures[nn].astype(np.float64)  # (B, S, horizon, J, 3)
        if frames > self.horizon:  # hold the last continuation frame
            pad = np.repeat(fut[:, :, -1:], frames - self.horizon, axis=2)
            fut = np.concatenate([fut, pad], axis=2)
        anchor = q[:, -1:] if self.residual else origin  # (B, 1, J or 1, 3)
        return fut[:, :, :frames] + anchor[:, None]


register_model(ModelInfo("zero-velocity", ZeroVelocity, "repeat the last observed pose"))
register_model(ModelInfo("constant-velocity", ConstantVelocity, "extrapolate each joint with its last velocity"))
register_model(
    ModelInfo(
        "nearest-neighbour",
        NearestNeighbour,
        "continuation of the closest training window (PHD's baseline); needs training motions",
        needs_training_data=True,
    )
)
