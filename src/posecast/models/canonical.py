"""Forecasting on any skeleton through the canonical body (``smplh-22``).

A model trained on the canonical body (the training corpus, `posecast.datasets.corpus`) runs on a user's skeleton
through `CanonicalForecaster`: the history ``(B, T, J, 3)`` on the user's joints is mapped onto the canonical body
(`posecast.skeletons.canonical.retarget`: an affine joint mapping found from joint names and topology, or given
explicitly), the inner model forecasts there at its own frame rate, and the forecast goes back onto the user's
joints (mapped joints take their canonical forecast, the others follow their nearest mapped neighbours rigidly; a
model that keeps bone lengths keeps the rig's own body bones too, those that kept their length over the history:
`CanonicalForecaster._keep_rig_bones`). Histories recorded with another up axis than PoseCast's y (z-up BVH rigs,
ROS and Human3.6M world coordinates) are turned upright for the inner model and the forecast turned back
(`posecast.skeletons.canonical.up_axes`). Histories whose floor is clearly not at y = 0 (a camera-space tracker, an
export with the hips at the origin: `posecast.skeletons.canonical.floor_offsets`) are moved to the training data's
floor height for the inner model and the forecast moved back. `Forecaster.on_skeleton` binds a model to a skeleton
once; `Forecaster.forecast` does it for every `Motion`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from posecast import skeletons
from posecast.errors import SkeletonError
from posecast.models.base import Forecaster, check_predict
from posecast.skeletons.base import Skeleton
from posecast.skeletons.canonical import body_checks, floor_offsets, history_travel, up_axes, up_rotations

CANONICAL = "smplh-22"
#: how `CanonicalForecaster.encode_reading` read histories ``(B, ...)``: their up axes and ``(B,)`` floor offsets
Reading = tuple[list[str], np.ndarray]


class CanonicalForecaster(Forecaster):
    """``inner`` (a forecaster on the canonical body) used on ``skeleton``.

    Unbound (``skeleton=None``), `predict` takes canonical-body histories as they are; `on_skeleton`
    returns a bound copy (cached per skeleton and mapping) whose `predict` maps in and out.
    """

    def __init__(self, inner: Forecaster, skeleton: Skeleton | str | None = None, mapping: Any = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.min_history = inner.min_history
        self.skeleton = None if skeleton is None else skeletons.get(skeleton)
        self._canonical = skeletons.get(CANONICAL)
        self.retarget = None
        if self.skeleton is not None and not (mapping is None and self.skeleton.same_layout(self._canonical)):
            from posecast.skeletons.canonical import retarget

            self.retarget = retarget(self.skeleton, mapping)
        self._bound: dict[Any, CanonicalForecaster] = {}
        self._body: tuple[np.ndarray, tuple[int, ...]] | None = None  # `_keep_rig_bones`: body bones, parents

    @property
    def forecast_metadata(self) -> dict[str, Any]:
        """What `Forecaster.forecast` records about the mapping."""
        if self.retarget is None:
            return {}
        return {"canonical_body": CANONICAL, "mapping": self.retarget.assignment}

    def body_checks(self, history: np.ndarray, up: str | None = None) -> dict[str, Any]:
        """`posecast.skeletons.canonical.body_checks` of ``history (T, J, 3)`` on the bound skeleton (``up``: the axis
        the history was read with, `reading`)."""
        return body_checks(self.retarget, history, up)

    def on_skeleton(self, skeleton: Skeleton | str, mapping: Any = None) -> Forecaster:
        skel = skeletons.get(skeleton)
        if mapping is None and self.skeleton is not None and skel.same_rig(self.skeleton):
            return self  # already bound (perhaps with an explicit mapping): keep it
        # rest offsets are part of the key: the mapping measures bone lengths on them
        offsets = None if skel.offsets is None else skel.offsets.tobytes()
        key = (skel.joint_names, skel.parents, offsets, repr(mapping))
        bound = self._bound.get(key)  # one lookup: another thread may clear the dict between two
        if bound is None:
            bound = CanonicalForecaster(self.inner, skel, mapping)
            if len(self._bound) >= 64:
                self._bound.clear()
            self._bound[key] = bound
        return bound

    def history_frames(self, fps: float) -> int | None:
        return self.inner.history_frames(fps)

    def encode(self, history: np.ndarray, fps: float | None = None) -> np.ndarray:
        """Histories ``(B, T, J, 3)`` on the bound skeleton → ``(B, T, 22, 3)`` on the canonical body, y up, checked.

        ``decode(inner.predict(encode(h), ...), h)`` is `predict`; a server batches the inner call of
        sessions on different skeletons (`posecast.serve`). Histories whose world has another up axis
        (`up_axes`: z-up files and streams) are turned to y up here and back in `decode`, and histories whose floor
        is far from y = 0 moved to it (`floor_offsets`, judged on the frames the model reads at ``fps``; None: all
        of ``history``, as a server's window)."""
        return self.encode_reading(history, fps)[0]

    def encode_reading(self, history: np.ndarray, fps: float | None = None) -> tuple[np.ndarray, Reading]:
        """`encode` and how it read the histories (`reading`'s up axes and floor offsets), for `decode`'s
        ``reading``: the mapping onto the canonical body, the up axes and the floors are then worked out once per
        forecast, not twice (about 0.4 ms of a 4 ms batch-1 forecast)."""
        upright, axes, floor = self._upright(history, fps)
        if floor.any():
            upright = upright.copy()
            upright[..., 1] -= floor[:, None, None]
        return upright, (axes, floor)

    def _upright(self, history: np.ndarray, fps: float | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
        """``(B, T, 22, 3)`` canonical-body histories turned y up, their up axes and their floor offsets
        (`posecast.skeletons.canonical.floor_offsets` over the frames the inner model reads at ``fps``; ``(B,)``
        metres)."""
        canonical = self._canonical_world(history)
        axes = self._up(canonical)
        if any(a != "+y" for a in axes):
            canonical = canonical @ np.swapaxes(up_rotations(axes), -1, -2)[:, None]  # y = R x, row vectors
        return canonical, axes, floor_offsets(canonical, self._window(fps))

    def _window(self, fps: float | None) -> int | None:
        """Frames of a history at ``fps`` the inner model reads (None: unknown, all of it)."""
        frames = getattr(self.inner, "history_frames", None)
        window = None if fps is None or frames is None else frames(fps)
        return int(window) if isinstance(window, int | np.integer) and window > 0 else None

    def reading(self, history: np.ndarray, fps: float | None = None) -> tuple[list[str], np.ndarray]:
        """How `encode` reads each history ``(B, T, J, 3)``: its up axis (`posecast.skeletons.canonical.up_axes`)
        and the ``(B,)`` metres it is lowered by (`floor_offsets`, at ``fps``)."""
        _, axes, floor = self._upright(np.asarray(history, dtype=np.float64), fps)
        return axes, floor

    def _canonical_world(self, history: np.ndarray) -> np.ndarray:
        """``(B, T, 22, 3)`` on the canonical body in the history's own world (its up axis kept)."""
        h = np.asarray(history, dtype=np.float64)
        if self.retarget is None:
            if h.ndim != 4 or h.shape[2] != self._canonical.num_joints:
                raise SkeletonError(
                    f"model {self.name!r} works on the {CANONICAL} body; bind it to the history's skeleton with "
                    f"on_skeleton(skeleton) (got {h.shape[2] if h.ndim == 4 else '?'} joints)"
                )
            return h
        if h.ndim != 4 or h.shape[2] != self.skeleton.num_joints:
            raise SkeletonError(f"history of shape {h.shape} does not fit (B, T, {self.skeleton.num_joints}, 3)")
        return self.retarget.to_canonical(h)  # (B, T, 22, 3)

    def _up(self, canonical: np.ndarray) -> list[str]:
        if self.skeleton is None:  # unbound: canonical-body histories, y up by definition
            return ["+y"] * len(canonical)
        return up_axes(canonical, None if self.retarget is None else self.retarget.up)

    def decode(
        self, prediction: np.ndarray, history: np.ndarray, fps: float | None = None, reading: Reading | None = None
    ) -> np.ndarray:
        """The inner model's ``(B, S, F, 22, 3)`` forecast back onto the bound skeleton ``(B, S, F, J, 3)``,
        in the history's world (``fps`` as given to `encode`; ``reading``: `encode_reading`'s, else worked out
        again)."""
        pred = np.asarray(prediction)
        h = np.asarray(history, dtype=np.float64)
        axes, floor = self._upright(h, fps)[1:] if reading is None else reading
        if floor.any():
            pred = pred.copy()
            pred[..., 1] += floor.astype(pred.dtype)[:, None, None, None]
        if any(a != "+y" for a in axes):
            pred = pred @ up_rotations(axes)[:, None, None].astype(pred.dtype)  # y = R x  =>  x = R^T y
        if self.retarget is None:
            return pred
        last = np.broadcast_to(h[:, None, -1], (h.shape[0], pred.shape[1]) + h.shape[2:])  # (B, S, J, 3)
        read = None if fps is None else self.history_frames(fps)  # the frames the model reads, not a whole take
        travel = np.broadcast_to(history_travel(h, read)[:, None], last.shape[:-1])  # (B, S, J)
        up = np.broadcast_to(up_rotations(axes)[:, None, 1], last.shape[:2] + (3,))  # (B, S, 3): each world's up
        out = self.retarget.from_canonical(pred, last, travel, up)
        return self._keep_rig_bones(out, h if read is None else h[:, -read:]) if self.inner_keeps_bones else out

    @property
    def inner_keeps_bones(self) -> bool:
        """Whether the inner model keeps the last observed frame's bone lengths (``NeuralConfig.keep_bones``); then
        the forecast on the user's rig keeps the rig's own body bones too (`_keep_rig_bones`)."""
        return bool(getattr(getattr(self.inner, "config", None), "keep_bones", False))

    def _keep_rig_bones(self, forecast: np.ndarray, seen: np.ndarray) -> np.ndarray:
        """``forecast (B, S, F, J, 3)`` on the bound rig with each of its body bones (`Retarget.body_bones`) that kept
        its length over the ``seen (B, T, J, 3)`` history at its length in the last seen frame
        (`posecast.kinematics.proportions.keep_rigid_bones`).

        Why: the canonical body keeps its own bones, but a rig bone whose end maps onto a joint the mapping made up
        (CMU's and HDM05's collars sit on the neck point, so their ``LeftShoulder -> LeftArm`` spans the canonical
        collar, interpolated) is not one of them, and changed by up to 20-30 % within 1 s (a shoulder 20 cm long
        changing 45 mm, CMU BVH validation)."""
        from posecast.kinematics.proportions import keep_rigid_bones

        if self._body is None:  # once per bound skeleton
            self._body = (self.retarget.body_bones(), tuple(int(q) for q in self.skeleton.parents))
        body, parents = self._body
        return keep_rigid_bones(forecast, seen, parents, body) if body.any() else forecast

    def predict(self, history: np.ndarray, frames: int, samples: int = 1, fps: float | None = None) -> np.ndarray:
        history = check_predict(history, frames, samples, fps)
        encoded, reading = self.encode_reading(history, fps)
        return self.decode(self.inner.predict(encoded, frames, samples, fps), history, fps, reading)
