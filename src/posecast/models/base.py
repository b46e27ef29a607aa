"""The forecaster contract (the registry is `posecast.models.registry`).

A forecaster turns an observed `Motion` into a `Forecast`. Subclasses implement one batched array
method, `Forecaster.predict`, on positions in metres; the base class handles `Motion` in /
`Forecast` out, argument checks and seconds → frames. Benchmarks call `predict` directly on
batches of windows.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from posecast.errors import ModelError, ValueRangeError
from posecast.motion import Forecast, Motion, check_fps, is_number
from posecast.skeletons.base import Skeleton

MAX_FORECAST_FRAMES = 100_000


class Forecaster(ABC):
    """Base class of every model.

    Class attributes:
        name: registry name.
        min_history: fewest observed frames the model needs.

    Whether ``samples=K`` gives K different forecasts is the registry's to say
    (`posecast.models.registry.ModelInfo.distinct_samples`), not the forecaster's.
    """

    name: str = ""
    min_history: int = 1

    @abstractmethod
    def predict(self, history: np.ndarray, frames: int, samples: int = 1, fps: float | None = None) -> np.ndarray:
        """Batched prediction on arrays.

        Args:
            history: ``(B, T, J, 3)`` observed positions in metres.
            frames: number of future frames ``F`` to predict.
            samples: hypotheses per history ``S``.
            fps: frame rate of the history (models trained at a fixed rate may need it).

        Returns:
            ``(B, S, F, J, 3)`` predicted positions in metres.
        """

    def history_frames(self, fps: float) -> int | None:
        """How many of the newest observed frames at ``fps`` `predict` looks at (None: it may use them all).
        A live stream keeps only these (`posecast.serve`)."""
        return None

    def on_skeleton(self, skeleton: Skeleton | str, mapping: Any = None) -> Forecaster:
        """This model for histories on ``skeleton`` (`predict` then takes ``(B, T, J, 3)`` arrays on it).

        Models that work on any joint layout as it is (the baselines) return themselves; models that
        work on the canonical body (`posecast.models.canonical`) return a copy bound to ``skeleton`` that
        maps histories onto the canonical body and forecasts back (``mapping``: an explicit joint
        mapping, `posecast.skeletons.canonical.retarget`)."""
        return self

    def forecast(
        self,
        history: Motion,
        frames: int | None = None,
        seconds: float | None = None,
        samples: int = 1,
        ground_truth: np.ndarray | None = None,
    ) -> Forecast:
        """Forecast the future of ``history``.

        Give exactly one of ``frames`` (future frames at the history's fps) or ``seconds``
        (rounded to whole frames, at least one).
        """
        if not isinstance(history, Motion):
            raise ValueRangeError(
                f"{type(self).__name__}.forecast takes a Motion, not a {type(history).__name__}: wrap positions as "
                "posecast.Motion(positions, fps, skeleton), or call posecast.forecast(...) with a file"
            )
        n = resolve_frames(history.fps, frames, seconds)
        check_samples_count(samples)
        if history.num_frames < self.min_history:
            raise ValueRangeError(
                f"model {self.name!r} needs at least {self.min_history} observed frames, got {history.num_frames}"
            )
        bound = self.on_skeleton(history.skeleton)
        out = np.asarray(bound.predict(history.positions[None], n, int(samples), fps=history.fps))
        expected = (1, samples, n, history.num_joints, 3)
        if out.shape != expected:
            raise ModelError(f"model {self.name!r} returned shape {out.shape}, expected {expected}")
        return Forecast(
            samples=out[0],
            fps=history.fps,
            skeleton=history.skeleton,
            history=history,
            ground_truth=ground_truth,
            model=self.name,
            metadata={"source": history.metadata.get("source"), **_bound_metadata(bound, history)},
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _bound_metadata(bound: Any, history: Motion) -> dict[str, Any]:
    """What a bound model records about how it read ``history`` (canonical-body models: the mapping, the up axis
    of the history's world — also when it is y, so that a renderer does not guess again from a person lying down
    — and how far its floor was moved when it was)."""
    meta = dict(getattr(bound, "forecast_metadata", {}))
    up = None
    if hasattr(bound, "reading"):  # one pass over the history for both
        axes, floors = bound.reading(history.positions[None], history.fps)
        meta["up_axis"] = up = axes[0]
        if floors[0] != 0.0:
            meta["floor_offset_m"] = float(floors[0])  # the history was moved down by this for the model (and back)
    if hasattr(bound, "body_checks"):  # not built like a person, its left and right swapped, lying, ...: said so
        meta.update(bound.body_checks(history.positions, up))
    return meta


#: the most hypotheses one forecast draws (a million had run for ever: QA; `posecast.forecast` and the CLI say so too)
MAX_SAMPLES = 1000


def check_samples_count(samples: Any) -> None:
    """A `ValueRangeError` unless ``samples`` is a whole number from 1 to `MAX_SAMPLES`."""
    if isinstance(samples, bool | np.bool_) or not isinstance(samples, int | np.integer) or not 1 <= samples:
        raise ValueRangeError(f"samples must be a positive integer, got {samples!r}")
    if samples > MAX_SAMPLES:
        raise ValueRangeError(f"samples must be at most {MAX_SAMPLES}, got {samples}")


def check_predict(history: Any, frames: Any, samples: Any, fps: Any, min_history: int = 1) -> np.ndarray:
    """The arguments of ``Forecaster.predict`` checked: ``history`` ``(B, T, J, 3)`` finite numbers with at least
    ``min_history`` frames (returned as float64), ``frames`` and ``samples`` whole numbers from 1, ``fps`` None or
    a positive finite number; a `ValueRangeError` saying which one is wrong otherwise."""
    h = np.asarray(history)
    if h.ndim != 4 or h.shape[-1] != 3 or not np.issubdtype(h.dtype, np.number) or np.iscomplexobj(h):
        raise ValueRangeError(f"history must be real numbers of shape (B, T, J, 3), got {h.dtype} {h.shape}")
    if h.shape[0] < 1:
        raise ValueRangeError("history holds no windows (B = 0): give at least one, shape (B, T, J, 3)")
    if h.shape[1] < max(1, min_history):
        raise ValueRangeError(f"history has {h.shape[1]} frames; the model needs at least {max(1, min_history)}")
    h = h.astype(np.float64, copy=False)
    if not np.isfinite(h).all():
        raise ValueRangeError("history contains NaN or infinite positions")
    if fps is not None:
        check_fps(fps)
    resolve_frames(1.0, frames, None)  # the horizon's own checks
    check_samples_count(samples)
    return h


def resolve_frames(fps: float, frames: int | None, seconds: float | None) -> int:
    """Number of future frames from exactly one of ``frames`` or ``seconds`` (``seconds * fps`` rounded to the
    nearest whole frame, at least 1; exact halves to the even number, as Python's ``round``: 0.5 s at 25 fps is 12
    frames, 1.5 s is 38)."""
    if (frames is None) == (seconds is None):
        raise ValueRangeError("give exactly one of frames or seconds")
    if seconds is not None:
        if not is_number(seconds) or not math.isfinite(seconds) or seconds <= 0:
            raise ValueRangeError(f"impossible horizon {seconds!r} s (must be a positive number of seconds)")
        if float(seconds) * fps > MAX_FORECAST_FRAMES + 0.5:  # say it in the seconds the caller gave (before rounding)
            raise ValueRangeError(
                f"a {float(seconds):g} s horizon at {fps:g} frames/s is {float(seconds) * fps:.3g} frames; at most "
                f"{MAX_FORECAST_FRAMES} ({MAX_FORECAST_FRAMES / fps:g} s at this rate): ask for less, or resample the "
                "motion to a lower rate"
            )
        frames = max(1, round(float(seconds) * fps))
    if isinstance(frames, bool | np.bool_) or not isinstance(frames, int | np.integer):
        raise ValueRangeError(f"impossible horizon {frames!r} frames (must be a whole number 1..{MAX_FORECAST_FRAMES})")
    if frames < 1 or frames > MAX_FORECAST_FRAMES:
        raise ValueRangeError(f"impossible horizon {frames!r} frames (must be 1..{MAX_FORECAST_FRAMES})")
    return int(frames)
