"""Metrics for motion forecasting, numpy or torch, batched over leading dimensions.

Every metric accepts numpy arrays or torch tensors and returns the same kind: torch when any position
input is a tensor (differentiable where the metric is, on that tensor's device and dtype), numpy
otherwise (computed in float64; a 0-d result comes back as a numpy scalar). Shapes are written with
``...`` for any leading batch dimensions (windows, samples, actions...), ``F`` frames, ``J`` joints,
``D`` coordinates (3, or 2 for image keypoints), ``K`` samples of a stochastic forecaster.

**Units.** Metrics are unit-agnostic: an error comes back in the unit of the positions it was given
(PoseCast's own data is in metres; a benchmark protocol may convert to its "mm" before calling).
Only the default thresholds of `pck_auc` assume metres, and say so.

**Which frames.** `mpjpe` is *at-horizon*: one value per predicted frame, the error of that frame only
(the LTD / HisRepItself / PGBIG tables). `mpjpe_cumulative` is the *average up to frame k* that
STSGCN-style papers report (FraLuca/STSGCN#12); it is always lower for growing errors and the two must
never share a table column.

Errors with shapes or arguments that make no sense raise `ValueRangeError` (or `SkeletonError` when
positions do not fit a skeleton), naming the argument and the shapes involved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np

from posecast.errors import SkeletonError, ValueRangeError
from posecast.kinematics.alignment import procrustes
from posecast.kinematics.rotations import _is_torch, axis_angle_to_matrix, geodesic_angle
from posecast.skeletons.base import Skeleton

Array = TypeVar("Array")  # numpy.ndarray or torch.Tensor: a metric returns the kind it was given

RotationRep = Literal["matrix", "expmap"]

#: Default 3DPCK thresholds of `pck_auc`: 0 to 150 mm in 31 steps of 5 mm, **in metres**.
PCK_AUC_THRESHOLDS_M = np.linspace(0.0, 0.150, 31)

__all__ = [
    "PCK_AUC_THRESHOLDS_M",
    "BoneLengthConsistency",
    "acceleration_error",
    "apd",
    "best_of_k_ade",
    "best_of_k_fde",
    "bone_length_consistency",
    "bone_lengths",
    "dtw_mpjpe",
    "dtw_path",
    "euler_angle_error",
    "geodesic_error",
    "gather_multimodal_futures",
    "matrix_to_h36m_euler",
    "mm_ade",
    "mm_fde",
    "mpjpe",
    "mpjpe_cumulative",
    "multimodal_indices",
    "pa_mpjpe",
    "pck",
    "pck_auc",
    "power_spectrum",
    "ps_entropy",
    "ps_kld",
    "reference_size",
]


# ------------------------------------------------------------------------------------ plumbing
def _torch():
    import torch

    return torch


class _Kind:
    """Remembers whether the caller passed numpy, and converts to / from torch tensors."""

    def __init__(self, *arrays: Any) -> None:
        torch = _torch()
        ref = next((a for a in arrays if _is_torch(a) and a.is_floating_point()), None)
        if ref is None:
            ref = next((a for a in arrays if _is_torch(a)), None)
        self.numpy = ref is None
        if self.numpy:
            self.dtype, self.device = torch.float64, torch.device("cpu")
        else:
            self.dtype = ref.dtype if ref.is_floating_point() else torch.get_default_dtype()
            self.device = ref.device

    def tensor(self, x: Any, name: str):
        """``x`` as a floating tensor of the common dtype and device (``None`` passes through)."""
        if x is None:
            return None
        torch = _torch()
        if _is_torch(x):
            return x.to(device=self.device, dtype=self.dtype)
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueRangeError(f"{name} must be a numeric array, got {type(x).__name__}") from None
        return torch.as_tensor(arr, device=self.device).to(self.dtype)

    def out(self, x):
        if not self.numpy:
            return x
        arr = x.detach().cpu().numpy()
        return arr[()] if arr.ndim == 0 else arr


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(x.shape) if hasattr(x, "shape") else tuple(np.shape(x))


def _check_pair(pred, gt, min_ndim: int = 2, what: str = "positions (..., J, D)") -> None:
    ps, gs = _shape(pred), _shape(gt)
    if ps != gs:
        raise ValueRangeError(f"prediction of shape {ps} and ground truth of shape {gs} differ; both must be {what}")
    if len(ps) < min_ndim:
        raise ValueRangeError(f"expected {what} with at least {min_ndim} dimensions, got shape {ps}")
    if 0 in ps[-2:]:
        raise ValueRangeError(f"expected {what} with at least one joint and one coordinate, got shape {ps}")


def _weights(kind: _Kind, weights, err_shape: tuple[int, ...], name: str = "weights"):
    """Joint weights/mask as a tensor broadcastable to ``err_shape`` ``(..., J)``, or ``None``."""
    if weights is None:
        return None
    w = kind.tensor(weights, name)
    try:
        if tuple(_torch().broadcast_shapes(tuple(w.shape), err_shape)) != err_shape:
            raise RuntimeError
    except RuntimeError:
        raise ValueRangeError(
            f"{name} of shape {tuple(w.shape)} do not broadcast to the per-joint errors {err_shape} "
            f"(use (J,) = ({err_shape[-1]},) or the full (..., F, J))"
        ) from None
    if bool((w < 0).any()):
        raise ValueRangeError(f"{name} must be non-negative")
    if w.ndim == 1 and float(w.sum()) == 0.0:
        raise ValueRangeError(f"{name} are all zero: no joint would be evaluated")
    return w


def _joint_mean(err, w):
    """Mean over the last (joint) axis, weighted when ``w`` is given (0/0 → NaN for empty frames). A joint of
    weight 0 is left out whatever its error, NaN included (a keypoint stored as NaN where it was not seen)."""
    if w is None:
        return err.mean(dim=-1)
    w = w.expand(err.shape)
    return _torch().where(w > 0, err * w, _torch().zeros_like(err)).sum(dim=-1) / w.sum(dim=-1)


def _joint_errors(pred, gt):
    return _torch().linalg.vector_norm(pred - gt, dim=-1)


# ------------------------------------------------------------------------------ position errors
def mpjpe(pred: Array, gt: Array, weights: Any = None) -> Array:
    """Mean per-joint position error of each frame (the *at-horizon* error).

    ``mpjpe[..., k]`` is the mean over joints of the Euclidean distance between predicted and true
    joint ``j`` at frame ``k`` -- frame ``k`` only, not an average over earlier frames (see
    `mpjpe_cumulative`). In the unit of the inputs.

    Args:
        pred, gt: ``(..., F, J, D)`` positions (any ``D``; a single pose ``(J, D)`` gives a scalar).
        weights: optional non-negative joint weights or a boolean mask, ``(J,)`` or broadcastable to
            ``(..., F, J)``: the result is ``sum_j w_j e_j / sum_j w_j`` (e.g. a 0/1 mask to average over
            a subset of joints; frames whose weights are all zero give NaN).

    Returns:
        ``(..., F)`` errors.
    """
    _check_pair(pred, gt)
    kind = _Kind(pred, gt)
    p, g = kind.tensor(pred, "pred"), kind.tensor(gt, "gt")
    err = _joint_errors(p, g)
    return kind.out(_joint_mean(err, _weights(kind, weights, tuple(err.shape))))


def mpjpe_cumulative(pred: Array, gt: Array, weights: Any = None) -> Array:
    """MPJPE *averaged over all predicted frames up to and including* frame ``k`` (STSGCN-style).

    ``mpjpe_cumulative[..., k] = mean(mpjpe[..., 0:k+1])``. STSGCN (FraLuca/STSGCN#12) and papers
    that copied its evaluation report this number under the same "ms" headings that LTD, HisRepItself,
    PGBIG and siMLPe use for the at-horizon `mpjpe`; the cumulative value is much lower for the same
    predictions, so always label which one a table holds.

    Args:
        pred, gt: ``(..., F, J, D)`` positions; ``F`` is the predicted-frame axis.
        weights: as in `mpjpe`.

    Returns:
        ``(..., F)`` running means of the per-frame errors.
    """
    _check_pair(pred, gt, min_ndim=3, what="positions (..., F, J, D)")
    kind = _Kind(pred, gt)
    p, g = kind.tensor(pred, "pred"), kind.tensor(gt, "gt")
    err = _joint_errors(p, g)
    per_frame = _joint_mean(err, _weights(kind, weights, tuple(err.shape)))
    torch = _torch()
    counts = torch.arange(1, per_frame.shape[-1] + 1, dtype=per_frame.dtype, device=per_frame.device)
    return kind.out(per_frame.cumsum(dim=-1) / counts)


def pa_mpjpe(pred: Array, gt: Array, weights: Any = None, scale: bool = True) -> Array:
    """Procrustes-aligned MPJPE of each frame ("reconstruction error" in HMMR/PHD).

    Each predicted pose is aligned to its ground truth with the best similarity transform (rotation,
    translation and, by default, uniform scale; `posecast.kinematics.procrustes`, all joints take
    part in the fit) before the per-joint errors are averaged.

    Args:
        pred, gt: ``(..., F, J, 3)`` positions.
        weights: joint weights/mask applied to the averaging only, as in `mpjpe` (the alignment is fitted on every
            joint: leave joints that were not seen, e.g. stored as NaN, out of ``pred`` and ``gt`` instead).
        scale: also fit a scale (standard PA-MPJPE); ``False`` gives a rigid alignment.

    Returns:
        ``(..., F)`` errors in the unit of the inputs.
    """
    _check_pair(pred, gt, what="positions (..., J, 3)")
    if _shape(pred)[-1] != 3:
        raise ValueRangeError(f"PA-MPJPE needs 3D positions (..., J, 3), got shape {_shape(pred)}")
    kind = _Kind(pred, gt)
    p, g = kind.tensor(pred, "pred"), kind.tensor(gt, "gt")
    aligned = procrustes(p, g, scale=scale)[0]
    err = _joint_errors(aligned, g)
    return kind.out(_joint_mean(err, _weights(kind, weights, tuple(err.shape))))


def acceleration_error(pred: Array, gt: Array, weights: Any = None, fps: float | None = None) -> Array:
    """Acceleration error (HMMR): mean over joints of ``|Δ²pred - Δ²gt|`` at each inner frame.

    ``Δ²x[t] = x[t] - 2 x[t+1] + x[t+2]`` (second finite difference, centred on frame ``t+1``).

    Args:
        pred, gt: ``(..., F, J, D)`` positions with ``F >= 3``.
        weights: joint weights or a visibility mask broadcastable to the *input* ``(..., F, J)``;
            the weight of an acceleration is the smallest weight of its three frames (a joint must be
            visible in all three, as in HMMR's evaluation).
        fps: if given, results are in units/s² (multiplied by ``fps**2``); otherwise units/frame².

    Returns:
        ``(..., F - 2)`` errors; entry ``t`` belongs to frame ``t + 1``.
    """
    _check_pair(pred, gt, min_ndim=3, what="positions (..., F, J, D)")
    if _shape(pred)[-3] < 3:
        raise ValueRangeError(f"acceleration error needs at least 3 frames, got shape {_shape(pred)}")
    kind = _Kind(pred, gt)
    p, g = kind.tensor(pred, "pred"), kind.tensor(gt, "gt")

    def accel(x):
        return x[..., :-2, :, :] - 2.0 * x[..., 1:-1, :, :] + x[..., 2:, :, :]

    err = _joint_errors(accel(p), accel(g))
    w = _weights(kind, weights, tuple(p.shape[:-1]))
    if w is not None:
        torch = _torch()
        w = w.expand(p.shape[:-1])
        w = torch.minimum(torch.minimum(w[..., :-2, :], w[..., 1:-1, :]), w[..., 2:, :])
    out = _joint_mean(err, w)
    if fps is not None:
        try:
            rate = float(fps)
        except (TypeError, ValueError):
            raise ValueRangeError(f"fps must be a positive number, got {fps!r}") from None
        if not (math.isfinite(rate) and rate > 0):
            raise ValueRangeError(f"fps must be a positive number, got {fps!r}")
        out = out * rate**2
    return kind.out(out)


# ----------------------------------------------------------------------------------- rotations
def matrix_to_h36m_euler(matrix: Array) -> Array:
    """Euler angles of rotation matrices in the H3.6M / CMU benchmark convention (Martinez et al., LTD).

    This is the decomposition the Euler-angle error of the motion-prediction literature uses
    (``rotmat2euler`` of the S-RNN / Martinez / LTD code, read here and re-implemented):
    ``E2 = -asin(R[0,2])``, ``E1 = atan2(R[1,2], R[2,2])``, ``E3 = atan2(R[0,1], R[0,0])``, i.e. the
    negated intrinsic ``XYZ`` angles of ``R`` (``R = Rx(-E1) @ Ry(-E2) @ Rz(-E3)``), with ``E2`` in
    ``[-π/2, π/2]`` and ``E1, E3`` in ``(-π, π]``.

    Gimbal lock (``|R[0,2]| >= 1``): ``E3 = 0``, ``E2 = ∓π/2`` and ``E1`` carries the whole remaining
    rotation, so the angles still reproduce ``R``. The reference code fills ``E1`` with
    ``atan2(R[0,1], R[0,2])`` there instead (a value that is 0 or ±π whatever the rotation); the two
    differ only for exactly locked matrices, which real data does not produce.

    Args:
        matrix: ``(..., 3, 3)`` rotation matrices.

    Returns:
        ``(..., 3)`` angles ``(E1, E2, E3)`` in radians.
    """
    shp = _shape(matrix)
    if len(shp) < 2 or shp[-2:] != (3, 3):
        raise ValueRangeError(f"expected rotation matrices (..., 3, 3), got shape {shp}")
    kind = _Kind(matrix)
    m = kind.tensor(matrix, "matrix")
    return kind.out(_h36m_euler(m))


def _h36m_euler(m):
    torch = _torch()
    r02 = m[..., 0, 2]
    lock = r02.abs() >= 1.0
    sign = torch.where(r02 >= 0, torch.ones_like(r02), -torch.ones_like(r02))
    safe = torch.where(lock, torch.zeros_like(r02), r02)  # keeps asin's gradient finite
    e2 = torch.where(lock, -sign * (math.pi / 2), -torch.asin(safe))
    e1 = torch.where(lock, torch.atan2(-sign * m[..., 1, 0], m[..., 1, 1]), torch.atan2(m[..., 1, 2], m[..., 2, 2]))
    e3 = torch.where(lock, torch.zeros_like(r02), torch.atan2(m[..., 0, 1], m[..., 0, 0]))
    return torch.stack([e1, e2, e3], dim=-1)


def _all_rotations(t) -> bool:
    """Whether every trailing 3x3 block of tensor ``t`` is a rotation matrix (orthonormal, determinant 1, 1e-4)."""
    torch = _torch()
    eye = torch.eye(3, dtype=t.dtype, device=t.device)
    ortho = (t @ t.transpose(-1, -2) - eye).abs().amax() < 1e-4
    return bool(ortho and (torch.linalg.det(t) - 1.0).abs().amax() < 1e-4)


def _rotations(kind: _Kind, x, rep: str, name: str):
    """``(..., J, 3, 3)`` matrices from matrices or exp-maps."""
    shp = _shape(x)
    if rep == "matrix":
        if len(shp) < 3 or shp[-2:] != (3, 3):
            raise ValueRangeError(f"{name}: expected rotation matrices (..., J, 3, 3) for rep='matrix', got {shp}")
        return kind.tensor(x, name)
    if rep == "expmap":
        if len(shp) < 2 or shp[-1] != 3:
            raise ValueRangeError(f"{name}: expected exp-maps (..., J, 3) for rep='expmap', got {shp}")
        t = kind.tensor(x, name)
        if len(shp) >= 3 and shp[-2:] == (3, 3) and _all_rotations(t):  # matrices read as 3 joints' exp-maps
            raise ValueRangeError(
                f"{name}: {shp} holds rotation matrices (every 3x3 block is one), read as exp-maps of 3 joints "
                "under rep='expmap': pass rep='matrix'"
            )
        return axis_angle_to_matrix(t)
    raise ValueRangeError(f"unknown rotation representation {rep!r}: use 'matrix' or 'expmap'")


def euler_angle_error(
    pred: Array,
    gt: Array,
    rep: RotationRep = "expmap",
    exclude_root: bool = True,
    mask: Any = None,
) -> Array:
    """Euler-angle error of the H3.6M / CMU-Mocap angle benchmarks (Martinez et al. 2017, LTD).

    Both rotation sets are converted with `matrix_to_h36m_euler`; the result of a frame is the L2
    norm of the whole Euler difference vector (all joints' three angles stacked, radians). As in the
    reference code the raw angle differences are used (no wrapping to ``(-π, π]``), and the root
    (joint 0: global orientation; global translation is not part of this input) is zeroed when
    ``exclude_root``. LTD keeps every dimension (unused ones are zero on both sides); Martinez et
    al. only the dimensions whose ground-truth std exceeds 1e-4 -- pass that as ``mask``.

    Args:
        pred, gt: ``(..., F, J, 3)`` exp-maps (axis-angle) for ``rep="expmap"``, or
            ``(..., F, J, 3, 3)`` local rotation matrices for ``rep="matrix"``.
        rep: ``"expmap"`` or ``"matrix"``.
        exclude_root: zero joint 0 (global rotation) before the norm, as both references do.
        mask: optional boolean ``(J,)`` or ``(J, 3)`` selection of the Euler components to include.

    Returns:
        ``(..., F)`` errors in radians.
    """
    what = "rotations (..., J, 3, 3)" if rep == "matrix" else "exp-maps (..., J, 3)"
    _check_pair(pred, gt, what=what)
    kind = _Kind(pred, gt)
    rp, rg = _rotations(kind, pred, rep, "pred"), _rotations(kind, gt, rep, "gt")
    diff = _h36m_euler(rg) - _h36m_euler(rp)  # (..., J, 3)
    j = diff.shape[-2]
    keep = _torch().ones((j, 3), dtype=diff.dtype, device=diff.device)
    if mask is not None:
        mk = np.asarray(mask.detach().cpu() if _is_torch(mask) else mask, dtype=bool)
        if mk.shape == (j,):
            mk = np.repeat(mk[:, None], 3, axis=1)
        if mk.shape != (j, 3):
            raise ValueRangeError(f"mask of shape {mk.shape} does not fit {j} joints: use ({j},) or ({j}, 3)")
        keep = keep * kind.tensor(mk.astype(np.float64), "mask")
    if exclude_root:
        keep[0] = 0.0
    return kind.out(_torch().linalg.vector_norm(diff * keep, dim=(-2, -1)))


def geodesic_error(
    pred: Array,
    gt: Array,
    rep: RotationRep = "matrix",
    weights: Any = None,
    per_joint: bool = False,
) -> Array:
    """Geodesic (angle-of-the-relative-rotation) error between joint rotations, in radians.

    ``angle(R_pred^T R_gt)`` in ``[0, π]`` per joint and frame (roma underneath,
    `posecast.kinematics.geodesic_angle`); unlike Euler differences it has no wrap-around or
    gimbal-lock artefacts.

    Args:
        pred, gt: ``(..., F, J, 3, 3)`` rotations (``rep="matrix"``) or ``(..., F, J, 3)`` exp-maps.
        rep: ``"matrix"`` or ``"expmap"``.
        weights: joint weights/mask for the mean over joints, as in `mpjpe`.
        per_joint: return the ``(..., F, J)`` angles instead of their mean over joints.

    Returns:
        ``(..., F)`` mean angle over joints, or ``(..., F, J)`` with ``per_joint``.
    """
    what = "rotations (..., J, 3, 3)" if rep == "matrix" else "exp-maps (..., J, 3)"
    _check_pair(pred, gt, what=what)
    kind = _Kind(pred, gt)
    rp, rg = _rotations(kind, pred, rep, "pred"), _rotations(kind, gt, rep, "gt")
    ang = geodesic_angle(rp, rg)
    if per_joint:
        return kind.out(ang)
    return kind.out(_joint_mean(ang, _weights(kind, weights, tuple(ang.shape))))


# ------------------------------------------------------------------------------------------ PCK
def reference_size(
    gt: Array,
    kind: Literal["bbox_diagonal", "bbox_max_side", "torso"] = "bbox_diagonal",
    torso_joints: tuple[int, int] | None = None,
    visibility: Any = None,
) -> Array:
    """Per-frame reference size of the true pose, for relative PCK thresholds (``α × size``).

    * ``"bbox_diagonal"``: diagonal of the axis-aligned box around the (visible) true joints;
    * ``"bbox_max_side"``: its longest side (the Penn Action / Yang-Ramanan normalisation);
    * ``"torso"``: distance between the two ``torso_joints`` (e.g. left shoulder and right hip).

    Note that HMMR/PHD's released evaluation uses ``α × the 224-pixel crop size`` instead of a
    per-person size (their crops scale the person to about 150 px); pass such a constant directly to
    `pck` as the threshold.

    Args:
        gt: ``(..., F, J, D)`` true positions.
        kind: which size.
        torso_joints: the two joint indices for ``"torso"``.
        visibility: optional ``(..., F, J)`` mask; invisible joints are left out of the box.

    Returns:
        ``(..., F)`` sizes (NaN for frames without visible joints).
    """
    shp = _shape(gt)
    if len(shp) < 2 or 0 in shp[-2:]:
        raise ValueRangeError(f"expected positions (..., J, D), got shape {shp}")
    k = _Kind(gt)
    g = k.tensor(gt, "gt")
    torch = _torch()
    if kind == "torso":
        if torso_joints is None or len(torso_joints) != 2:
            raise ValueRangeError("reference_size(kind='torso') needs torso_joints=(a, b)")
        a, b = (int(i) for i in torso_joints)
        if not (-shp[-2] <= a < shp[-2] and -shp[-2] <= b < shp[-2]):
            raise ValueRangeError(f"torso_joints {torso_joints} out of range for {shp[-2]} joints")
        return k.out(torch.linalg.vector_norm(g[..., a, :] - g[..., b, :], dim=-1))
    if kind not in ("bbox_diagonal", "bbox_max_side"):
        raise ValueRangeError(f"unknown reference size {kind!r}: use 'bbox_diagonal', 'bbox_max_side' or 'torso'")
    if visibility is None:
        ext = g.amax(dim=-2) - g.amin(dim=-2)
    else:
        vis = _weights(k, visibility, tuple(g.shape[:-1]), "visibility").expand(g.shape[:-1]) > 0
        inf = torch.tensor(float("inf"), dtype=g.dtype, device=g.device)
        hi = torch.where(vis[..., None], g, -inf).amax(dim=-2)
        lo = torch.where(vis[..., None], g, inf).amin(dim=-2)
        ext = torch.where(torch.isfinite(hi - lo), hi - lo, torch.full_like(hi, float("nan")))
    size = torch.linalg.vector_norm(ext, dim=-1) if kind == "bbox_diagonal" else ext.amax(dim=-1)
    return k.out(size)


def pck(
    pred: Array,
    gt: Array,
    threshold: Any,
    relative_to: Any = None,
    torso_joints: tuple[int, int] | None = None,
    visibility: Any = None,
) -> Array:
    """Percentage of correct keypoints of each frame, as a fraction in ``[0, 1]``.

    A joint is correct when its distance to the truth is **strictly below** the threshold (as in the
    HMMR and mmpose evaluations).

    * Absolute: ``pck(pred, gt, 0.15)`` -- threshold in the unit of the positions (3DPCK at 150 mm
      with metres).
    * Relative: ``pck(pred, gt, 0.05, relative_to="bbox_max_side")`` -- the threshold is
      ``α × reference_size(gt, relative_to)`` per frame (PHD/Penn Action use α = 0.05); ``relative_to``
      may also be a ``(..., F)`` array of sizes you computed yourself.

    Args:
        pred, gt: ``(..., F, J, D)`` positions (``D`` = 2 for image keypoints, 3 for 3D).
        threshold: a scalar, or ``(..., F)`` per-frame thresholds; α when ``relative_to`` is given.
        relative_to: ``None`` (absolute), a `reference_size` kind, or ``(..., F)`` sizes.
        torso_joints: for ``relative_to="torso"``.
        visibility: optional ``(J,)`` or ``(..., F, J)`` 0/1 mask: only visible joints count (frames
            with none visible give NaN).

    Returns:
        ``(..., F)`` fractions of correct joints.
    """
    _check_pair(pred, gt)
    kind = _Kind(pred, gt)
    p, g = kind.tensor(pred, "pred"), kind.tensor(gt, "gt")
    err = _joint_errors(p, g)
    thr = kind.tensor(threshold, "threshold")
    if relative_to is not None:
        size = (
            reference_size(g, relative_to, torso_joints, visibility)
            if isinstance(relative_to, str)
            else kind.tensor(relative_to, "relative_to")
        )
        thr = thr * size
    try:
        thr = thr.expand(err.shape[:-1]) if thr.ndim else thr
    except RuntimeError:
        raise ValueRangeError(
            f"threshold of shape {tuple(thr.shape)} does not broadcast to the frames {tuple(err.shape[:-1])}"
        ) from None
    correct = (err < thr[..., None] if thr.ndim else err < thr).to(err.dtype)
    return kind.out(_joint_mean(correct, _weights(kind, visibility, tuple(err.shape), "visibility")))


def pck_auc(pred: Array, gt: Array, thresholds: Any = None, visibility: Any = None) -> Array:
    """Area under the PCK curve (3DPCK AUC): the mean of `pck` over a range of absolute thresholds.

    The default thresholds are ``0, 5, 10, ..., 150 mm`` (31 values, MPI-INF-3DHP / mmpose
    convention) **given in metres** (`PCK_AUC_THRESHOLDS_M`); pass ``np.linspace(0, 150, 31)`` for
    positions in millimetres. The threshold 0 always scores 0 (strict inequality), as in the
    references.

    Args:
        pred, gt: ``(..., F, J, D)`` positions.
        thresholds: ``(N,)`` absolute thresholds in the unit of the positions.
        visibility: as in `pck`.

    Returns:
        ``(..., F)`` AUC values in ``[0, 1]``.
    """
    _check_pair(pred, gt)
    ths = (
        PCK_AUC_THRESHOLDS_M
        if thresholds is None
        else np.asarray(thresholds.detach().cpu() if _is_torch(thresholds) else thresholds, dtype=np.float64)
    )
    if ths.ndim != 1 or ths.size == 0:
        raise ValueRangeError(f"thresholds must be a non-empty 1-D sequence, got shape {ths.shape}")
    kind = _Kind(pred, gt)
    p, g = kind.tensor(pred, "pred"), kind.tensor(gt, "gt")
    vals = [pck(p, g, float(t), visibility=visibility) for t in ths]
    return kind.out(_torch().stack(vals, dim=0).mean(dim=0))


# ------------------------------------------------------------------------------------------ DTW
def _dtw_numpy(cost: np.ndarray) -> list[tuple[int, int]]:
    """Optimal DTW path for a ``(n, m)`` local cost matrix (sum of costs along the path).

    Steps (1, 1), (1, 0), (0, 1); the back-tracking prefers the diagonal, then ``(i, j-1)``, then
    ``(i-1, j)`` on ties, as dtaidistance's C ``warping_path`` does (its pure-Python one prefers ``(i-1, j)``
    to ``(i, j-1)``: on integer keypoints the two chose different paths in 29 of 300 random pairs, the C rule
    and this one in none). The accumulation runs over anti-diagonals so that each step is one vectorised
    numpy operation.
    """
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for s in range(2, n + m + 1):  # cells (i, j), 1-based, with i + j = s
        i = np.arange(max(1, s - m), min(n, s - 1) + 1)
        j = s - i
        best = np.minimum(np.minimum(acc[i - 1, j - 1], acc[i - 1, j]), acc[i, j - 1])
        acc[i, j] = cost[i - 1, j - 1] + best
    path = [(n - 1, m - 1)]
    i, j = n, m
    while i > 1 or j > 1:
        steps = ((i - 1, j - 1), (i, j - 1), (i - 1, j))
        i, j = min(steps, key=lambda ij: acc[ij])  # min() keeps the first of equal values
        path.append((i - 1, j - 1))
    path.reverse()
    return path


def _dtaidistance_available() -> bool:
    try:
        from dtaidistance import dtw

        return bool(dtw.try_import_c(verbose=False))
    except Exception:  # noqa: BLE001 - any import problem means: use the numpy fallback
        return False


def dtw_path(pred: Array, gt: Array, backend: Literal["auto", "dtaidistance", "numpy"] = "auto") -> np.ndarray:
    """Dynamic-time-warping alignment of a predicted and a true pose sequence.

    Each frame is one pose vector (all joints' coordinates); the local cost is the squared Euclidean
    distance between pose vectors and the path minimises its sum (dtaidistance's ``dtw_ndim``
    definition). The path starts at ``(0, 0)``, ends at ``(F_pred-1, F_gt-1)``, never goes back in
    time, and every frame of each sequence is matched to at least one frame of the other -- the
    constraints PHD states for its evaluation.

    Args:
        pred: ``(F_pred, J, D)`` predicted sequence.
        gt: ``(F_gt, J, D)`` true sequence (the lengths may differ).
        backend: ``"dtaidistance"`` (its C ``dtw_ndim.warping_path``; the built-in programme when the C
            library does not load), ``"numpy"`` (the built-in dynamic programme, the same path: ties broken
            as the C code breaks them) or ``"auto"`` (dtaidistance when its C library loads).

    Returns:
        ``(L, 2)`` int array of ``(pred_frame, gt_frame)`` pairs in time order.
    """
    ps, gs = _shape(pred), _shape(gt)
    if len(ps) != 3 or len(gs) != 3 or ps[1:] != gs[1:]:
        raise ValueRangeError(f"dtw_path needs two sequences (F, J, D) with the same J and D, got {ps} and {gs}")
    if ps[0] == 0 or gs[0] == 0:
        raise ValueRangeError(f"dtw_path needs non-empty sequences, got {ps} and {gs}")
    a = np.ascontiguousarray(np.asarray(pred.detach().cpu() if _is_torch(pred) else pred, dtype=np.float64))
    b = np.ascontiguousarray(np.asarray(gt.detach().cpu() if _is_torch(gt) else gt, dtype=np.float64))
    a, b = a.reshape(ps[0], -1), b.reshape(gs[0], -1)
    if backend in ("auto", "dtaidistance"):  # its pure-Python path breaks ties otherwise: never used
        backend = "dtaidistance" if _dtaidistance_available() else "numpy"
    if backend == "dtaidistance":
        from dtaidistance import dtw, dtw_ndim

        if a.shape[1] == 1:  # one feature: dtaidistance's n-dim C routine wants >= 2, the 1-D one is the same
            path = dtw.warping_path(a[:, 0].copy(), b[:, 0].copy(), use_c=True)
        else:
            path = dtw_ndim.warping_path(a, b, use_c=True)
    elif backend == "numpy":
        cost = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1)
        path = _dtw_numpy(cost)
    else:
        raise ValueRangeError(f"unknown DTW backend {backend!r}: use 'auto', 'dtaidistance' or 'numpy'")
    return np.asarray(path, dtype=np.int64).reshape(-1, 2)


def dtw_mpjpe(
    pred: Array,
    gt: Array,
    procrustes_align: bool = False,
    backend: Literal["auto", "dtaidistance", "numpy"] = "auto",
) -> Array:
    """MPJPE after dynamic time warping, one value per ground-truth frame (PHD, Zhang et al. 2019).

    PHD evaluates future predictions "after applying the optimal non-linear warping to both
    sequences": the predicted and true future are aligned with DTW (`dtw_path`: monotone, every
    frame of each sequence matched at least once), so a forecast that has the right motion at the
    wrong tempo is not penalised for the timing. Here the error of true frame ``t`` is the mean, over
    the predicted frames the path matches to ``t``, of their (PA-)MPJPE against frame ``t``; PHD
    reports the value at given future frames (1, 5, 10, 20, 30), i.e. it indexes by true frame. The
    paper does not say how a true frame matched to several predicted frames is scored; averaging
    them is our reading. PHD's Human3.6M numbers use Procrustes-aligned errors
    (``procrustes_align=True``). The warping path is computed on the pose vectors as given (centre
    them first if a global offset should not drive the warp; Procrustes alignment only enters the
    matched errors) and is treated as a constant (torch gradients flow through the matched errors).

    Args:
        pred: ``(..., F_pred, J, D)`` predicted sequences.
        gt: ``(..., F_gt, J, D)`` true sequences, same leading dimensions.
        procrustes_align: use PA-MPJPE (``D`` = 3) for each matched pair instead of MPJPE.
        backend: DTW implementation, see `dtw_path`.

    Returns:
        ``(..., F_gt)`` errors.
    """
    ps, gs = _shape(pred), _shape(gt)
    if len(ps) < 3 or len(ps) != len(gs) or ps[:-3] != gs[:-3] or ps[-2:] != gs[-2:]:
        raise ValueRangeError(
            f"dtw_mpjpe needs (..., F, J, D) sequences with the same leading dims, J and D; got {ps} and {gs}"
        )
    if 0 in ps[-3:] or 0 in gs[-3:]:
        raise ValueRangeError(f"dtw_mpjpe needs non-empty sequences, got {ps} and {gs}")
    kind = _Kind(pred, gt)
    p, g = kind.tensor(pred, "pred"), kind.tensor(gt, "gt")
    torch = _torch()
    fp, fg = ps[-3], gs[-3]
    lead = ps[:-3]
    pf, gf = p.reshape(-1, fp, *ps[-2:]), g.reshape(-1, fg, *gs[-2:])
    pi, gi, bi = [], [], []
    for b in range(pf.shape[0]):
        path = dtw_path(pf[b], gf[b], backend=backend)
        pi.append(path[:, 0])
        gi.append(path[:, 1])
        bi.append(np.full(len(path), b))
    pidx = torch.as_tensor(np.concatenate(pi), device=p.device)
    gidx = torch.as_tensor(np.concatenate(gi), device=p.device)
    bidx = torch.as_tensor(np.concatenate(bi), device=p.device)
    a, t = pf[bidx, pidx], gf[bidx, gidx]  # (L_total, J, D)
    if procrustes_align:
        if ps[-1] != 3:
            raise ValueRangeError(f"procrustes_align needs 3D positions, got shape {ps}")
        a = procrustes(a, t, scale=True)[0]
    err = _joint_errors(a, t).mean(dim=-1)
    slot = bidx * fg + gidx
    total = torch.zeros(pf.shape[0] * fg, dtype=err.dtype, device=err.device).index_add(0, slot, err)
    count = torch.zeros_like(total).index_add(0, slot, torch.ones_like(err))
    return kind.out((total / count).reshape(*lead, fg))


# ------------------------------------------------------------------------- power-spectrum metrics
def _check_sequences(x, name: str) -> tuple[int, ...]:
    shp = _shape(x)
    if len(shp) < 4 or 0 in shp[-4:]:
        raise ValueRangeError(
            f"{name} must be a set of sequences (..., N, T, J, D) (N sequences of T frames), got shape {shp}"
        )
    return shp


def _spectrum(x, pooled: bool, eps: float):
    """``(..., [N,] T, J, D)`` normalised power spectra (frequency axis -3)."""
    torch = _torch()
    power = torch.fft.fft(x, dim=-3).abs() ** 2  # (..., N, T, J, D)
    if pooled:
        power = power.sum(dim=-4)
    power = power + eps
    return power / power.sum(dim=-3, keepdim=True)


def power_spectrum(sequences: Array, pooled: bool = True, eps: float = 1e-8) -> Array:
    """Normalised power spectrum of every feature (joint coordinate) over time.

    As in Hernandez et al. 2019 and the ST-Transformer's evaluation (Aksan et al. 2021, supplement
    H): ``|FFT_t(x)|²`` over the full two-sided FFT of length ``T`` (the DC term included, no mean
    removal), summed over the ``N`` sequences of the set when ``pooled``, plus ``eps``, normalised to
    sum to one over the ``T`` frequencies. A real signal's spectrum is symmetric, so a pure tone puts
    half of its power on each of its two bins.

    Args:
        sequences: ``(..., N, T, J, D)`` a set of ``N`` sequences of ``T`` frames.
        pooled: one spectrum for the whole set (the reference code) instead of one per sequence.
        eps: added to the un-normalised power before normalising (reference value 1e-8).

    Returns:
        ``(..., T, J, D)`` distributions over frequency (``(..., N, T, J, D)`` when not pooled).
    """
    _check_sequences(sequences, "sequences")
    kind = _Kind(sequences)
    return kind.out(_spectrum(kind.tensor(sequences, "sequences"), pooled, eps))


def _entropy(ps):
    return -(ps * ps.log()).sum(dim=-3)


def _kld(p, q):
    return (p * (p / q).log()).sum(dim=-3)


def ps_entropy(sequences: Array, pooled: bool = True, per_feature: bool = False, eps: float = 1e-8) -> Array:
    """Power-spectrum entropy of a set of sequences (higher = more varied motion; ST-Transformer).

    The Shannon entropy (natural log) of each feature's normalised spectrum (`power_spectrum`),
    averaged over the ``J × D`` features. With ``pooled`` (default, as the released evaluation code
    computes it) the spectra of the ``N`` sequences are summed before normalising; with
    ``pooled=False`` each sequence gets its own entropy and those are averaged over the set, which is
    how the supplement's formula reads. A constant nonzero signal scores 0, a pure tone ``ln 2`` (two
    symmetric bins), white noise close to ``ln T``; a feature that is exactly zero throughout (a root left at the
    origin in root-relative poses, a zero-length helper joint) has a flat spectrum of the ``eps`` floor and scores
    ``ln T``: leave such features out, as the released code does (it keeps features whose standard deviation is
    at least 1e-4) and as the long-horizon protocol does (the 21 non-pelvis joints).

    Args:
        sequences: ``(..., N, T, J, D)``.
        pooled: see above.
        per_feature: return ``(..., J, D)`` entropies instead of their mean.
        eps: see `power_spectrum`.

    Returns:
        ``(...)`` mean entropy in nats (``(..., J, D)`` with ``per_feature``).
    """
    _check_sequences(sequences, "sequences")
    kind = _Kind(sequences)
    ent = _entropy(_spectrum(kind.tensor(sequences, "sequences"), pooled, eps))  # (..., [N,] J, D)
    if not pooled:
        ent = ent.mean(dim=-3)
    return kind.out(ent if per_feature else ent.mean(dim=(-2, -1)))


def ps_kld(
    pred: Array,
    gt: Array,
    direction: Literal["both", "pred_gt", "gt_pred"] = "both",
    pooled: bool = True,
    per_feature: bool = False,
    eps: float = 1e-8,
) -> Array:
    """Power-spectrum KL divergence between predicted and real motion (lower = closer; ST-Transformer).

    ``KL(P || G) = sum_f P_f log(P_f / G_f)`` per feature between the normalised spectra of the
    predictions ``P`` and of the ground-truth set ``G`` (`power_spectrum`), averaged over the
    ``J × D`` features. The ST-Transformer reports the symmetric value
    ``(KL(G || P) + KL(P || G)) / 2`` (``direction="both"``, the default; its code computes both
    directions and averages them). ``G`` is always pooled over its set; with ``pooled=False`` each
    predicted sequence gets its own spectrum and the divergences are averaged over the predictions
    (the supplement's formula). The two sets may hold different numbers of sequences but need the
    same length ``T`` (the ST-Transformer compares each non-overlapping 1-second window of the
    predictions with 1-second real windows: slice before calling).

    Args:
        pred: ``(..., N, T, J, D)`` predicted sequences.
        gt: ``(..., M, T, J, D)`` real sequences.
        direction: ``"both"`` (symmetric mean), ``"pred_gt"`` = KL(P||G) or ``"gt_pred"`` = KL(G||P).
        pooled: pool the predictions' spectra over their set (reference code) or not.
        per_feature: return ``(..., J, D)`` instead of the mean over features.
        eps: see `power_spectrum`.

    Returns:
        ``(...)`` divergence in nats (``(..., J, D)`` with ``per_feature``).
    """
    ps, gs = _check_sequences(pred, "pred"), _check_sequences(gt, "gt")
    if ps[-3:] != gs[-3:] or len(ps) != len(gs) or ps[:-4] != gs[:-4]:
        raise ValueRangeError(
            f"pred {ps} and gt {gs} must share leading dims, length T and features (J, D) (N may differ)"
        )
    if direction not in ("both", "pred_gt", "gt_pred"):
        raise ValueRangeError(f"unknown KLD direction {direction!r}: use 'both', 'pred_gt' or 'gt_pred'")
    kind = _Kind(pred, gt)
    sp = _spectrum(kind.tensor(pred, "pred"), pooled, eps)
    sg = _spectrum(kind.tensor(gt, "gt"), True, eps)
    if not pooled:
        sg = sg.unsqueeze(-4)
    if direction == "pred_gt":
        kl = _kld(sp, sg)
    elif direction == "gt_pred":
        kl = _kld(sg, sp)
    else:
        kl = 0.5 * (_kld(sp, sg) + _kld(sg, sp))
    if not pooled:
        kl = kl.mean(dim=-3)
    return kind.out(kl if per_feature else kl.mean(dim=(-2, -1)))


# ------------------------------------------------------------------------- stochastic forecasts
def _check_samples(samples, gt_like=None, gt_name: str = "gt", extra_gt_axis: bool = False) -> tuple[int, ...]:
    """Validate ``(..., K, T, J, D)`` samples against ``(..., T, J, D)`` (or ``(..., M, T, J, D)``) truths."""
    ss = _shape(samples)
    if len(ss) < 4 or 0 in ss[-4:]:
        raise ValueRangeError(f"samples must be (..., K, T, J, D) (K samples of T frames), got shape {ss}")
    if gt_like is None:
        return ss
    gs = _shape(gt_like)
    if extra_gt_axis:
        if len(gs) != len(ss) or gs[:-4] != ss[:-4] or gs[-3:] != ss[-3:] or gs[-4] == 0:
            raise ValueRangeError(f"{gt_name} of shape {gs} must be (..., M, T, J, D) matching samples {ss} except M")
    elif gs != ss[:-4] + ss[-3:]:
        raise ValueRangeError(f"{gt_name} of shape {gs} must be (..., T, J, D) = {ss[:-4] + ss[-3:]} for samples {ss}")
    return ss


def _pose_distance(a, b):
    """L2 norm of the whole flattened pose difference, ``(..., T, J, D)`` → ``(..., T)``."""
    return _torch().linalg.vector_norm(a - b, dim=(-2, -1))


def apd(samples: Array) -> Array:
    """Average pairwise distance among the ``K`` samples of one input (diversity; DLow, GSPS...).

    The DLow-lineage definition: every sample's whole future is flattened into one ``T·J·D`` vector;
    APD is the mean of the L2 distances over all ordered pairs ``i ≠ j`` (equivalently all unordered
    pairs, ``K(K-1)/2`` of them, as ``scipy.spatial.distance.pdist`` gives). Note the distance is the
    norm of the whole sequence difference, not a per-joint mean, so APD grows with ``sqrt(T·J)``.
    ``K = 1`` gives 0.

    Args:
        samples: ``(..., K, T, J, D)``.

    Returns:
        ``(...)`` APD in the unit of the positions.
    """
    ss = _check_samples(samples)
    kind = _Kind(samples)
    x = kind.tensor(samples, "samples")
    k = ss[-4]
    if k == 1:
        return kind.out(x.new_zeros(ss[:-4]))
    flat = x.reshape(*ss[:-4], k, -1)
    d = _torch().cdist(flat, flat, compute_mode="donot_use_mm_for_euclid_dist")  # (..., K, K), zero diagonal
    return kind.out(d.sum(dim=(-2, -1)) / (k * (k - 1)))


def best_of_k_ade(samples: Array, gt: Array) -> Array:
    """Best-of-K average displacement error (DLow convention).

    For each sample: the mean over the ``T`` future frames of the L2 norm of the **whole flattened
    pose** difference (all ``J·D`` coordinates at once -- not the per-joint mean of MPJPE); then the
    minimum over the ``K`` samples.

    Args:
        samples: ``(..., K, T, J, D)`` sampled futures.
        gt: ``(..., T, J, D)`` the true future.

    Returns:
        ``(...)`` errors.
    """
    _check_samples(samples, gt)
    kind = _Kind(samples, gt)
    s, g = kind.tensor(samples, "samples"), kind.tensor(gt, "gt")
    return kind.out(_pose_distance(s, g.unsqueeze(-4)).mean(dim=-1).amin(dim=-1))


def best_of_k_fde(samples: Array, gt: Array) -> Array:
    """Best-of-K final displacement error: as `best_of_k_ade` on the last frame only.

    Args:
        samples: ``(..., K, T, J, D)``.
        gt: ``(..., T, J, D)``.

    Returns:
        ``(...)`` errors.
    """
    _check_samples(samples, gt)
    kind = _Kind(samples, gt)
    s, g = kind.tensor(samples, "samples"), kind.tensor(gt, "gt")
    return kind.out(_pose_distance(s[..., -1, :, :], g[..., None, -1, :, :]).amin(dim=-1))


def multimodal_indices(last_poses: Any, threshold: float = 0.5, chunk: int = 1024) -> list[np.ndarray]:
    """For each test window, the windows whose last observed pose is close to its own (DLow lineage).

    Window ``j`` belongs to window ``i``'s group when the L2 distance between their flattened last
    observed poses is **strictly below** ``threshold`` (the DLow / GSPS / BeLFusion rule; DLow's
    default and H3.6M/HumanEva value is 0.5 in metres, on root-relative poses without the root joint).
    Every window belongs to its own group. The futures of a group are the pseudo ground truths of
    `mm_ade` / `mm_fde`.

    Args:
        last_poses: ``(N, J, D)`` last observed pose of each of the ``N`` windows (numpy or torch).
        threshold: distance threshold in the unit of the poses.
        chunk: rows of the distance matrix computed at once (memory bound).

    Returns:
        ``N`` sorted int arrays of window indices.
    """
    from scipy.spatial.distance import cdist

    x = np.asarray(last_poses.detach().cpu() if _is_torch(last_poses) else last_poses, dtype=np.float64)
    if x.ndim != 3 or 0 in x.shape:
        raise ValueRangeError(f"last_poses must be (N, J, D), got shape {x.shape}")
    try:
        threshold = float(threshold)
    except (TypeError, ValueError):
        raise ValueRangeError(f"threshold must be a positive distance, got {threshold!r}") from None
    if not (math.isfinite(threshold) and threshold > 0):
        raise ValueRangeError(f"threshold must be a positive distance, got {threshold!r}")
    flat = x.reshape(x.shape[0], -1)
    out: list[np.ndarray] = []
    for start in range(0, len(flat), max(1, int(chunk))):
        d = cdist(flat[start : start + chunk], flat)
        out.extend(np.flatnonzero(row < threshold) for row in d)
    return out


def gather_multimodal_futures(futures: Array, indices: Sequence[np.ndarray]) -> tuple[Array, Array]:
    """Pad each window's group of pseudo-ground-truth futures into one batch for `mm_ade` / `mm_fde`.

    Args:
        futures: ``(N, T, J, D)`` true future of each window.
        indices: ``N`` index arrays, as returned by `multimodal_indices`.

    Returns:
        ``(pseudo (N, M, T, J, D), valid (N, M))`` with ``M`` the largest group; padded slots repeat
        the window's own future and are marked invalid. Same kind as ``futures`` (``valid`` is bool).
    """
    fs = _shape(futures)
    if len(fs) != 4 or len(indices) != fs[0]:
        raise ValueRangeError(f"futures must be (N, T, J, D) with one index array per window; got {fs}, {len(indices)}")
    m = max(len(ix) for ix in indices)
    if m == 0:
        raise ValueRangeError("every group is empty: each window should at least contain itself")
    idx = np.empty((fs[0], m), dtype=np.int64)
    valid = np.zeros((fs[0], m), dtype=bool)
    for i, ix in enumerate(indices):
        ix = np.asarray(ix, dtype=np.int64)
        if ix.size and (ix.min() < 0 or ix.max() >= fs[0]):
            raise ValueRangeError(f"indices of window {i} are out of range for {fs[0]} windows")
        idx[i] = i
        idx[i, : ix.size] = ix
        valid[i, : ix.size] = True
    if _is_torch(futures):
        torch = _torch()
        return futures[torch.as_tensor(idx, device=futures.device)], torch.as_tensor(valid, device=futures.device)
    return np.asarray(futures)[idx], valid


def _mm(samples, pseudo, valid, final: bool):
    _check_samples(samples, pseudo, "pseudo_futures", extra_gt_axis=True)
    kind = _Kind(samples, pseudo)
    s, g = kind.tensor(samples, "samples"), kind.tensor(pseudo, "pseudo_futures")
    if final:
        s, g = s[..., -1:, :, :], g[..., -1:, :, :]
    # (..., K, 1, T, J, D) against (..., 1, M, T, J, D) -> best over K for each pseudo future: (..., M)
    best = _pose_distance(s.unsqueeze(-4), g.unsqueeze(-5)).mean(dim=-1).amin(dim=-2)
    w = None
    if valid is not None:
        w = _weights(kind, valid, tuple(best.shape), "valid")
    return kind.out(_joint_mean(best, w))


def mm_ade(samples: Array, pseudo_futures: Array, valid: Any = None) -> Array:
    """Multi-modal ADE (DLow): mean over the pseudo-ground-truth futures of the best-of-K ADE.

    Args:
        samples: ``(..., K, T, J, D)`` sampled futures of one window (or a batch of windows).
        pseudo_futures: ``(..., M, T, J, D)`` futures of the windows with a similar last observed pose
            (`multimodal_indices`, `gather_multimodal_futures`).
        valid: optional ``(..., M)`` mask of the real (non-padding) pseudo futures. Pass the mask that
            `gather_multimodal_futures` returns: without it its padding (copies of the window's own future) is
            averaged in as if it were more pseudo futures.

    Returns:
        ``(...)`` errors (whole-pose L2 distance, as `best_of_k_ade`).

    Memory: the distances of every sample to every pseudo future are formed at once, ``(..., K, M, T, J, D)``
    numbers (100 windows x 50 samples x 50 futures x 100 frames x 16 joints x 3 in float64: 9.6 GB): batch the
    windows accordingly.
    """
    return _mm(samples, pseudo_futures, valid, final=False)


def mm_fde(samples: Array, pseudo_futures: Array, valid: Any = None) -> Array:
    """Multi-modal FDE: as `mm_ade` on the last frame (mean over pseudo futures of best-of-K FDE).

    Args:
        samples: ``(..., K, T, J, D)``.
        pseudo_futures: ``(..., M, T, J, D)``.
        valid: optional ``(..., M)`` mask.

    Returns:
        ``(...)`` errors.
    """
    return _mm(samples, pseudo_futures, valid, final=True)


# ---------------------------------------------------------------------------------- bone lengths
def _bones(skeleton: Skeleton | Sequence[int], num_joints: int) -> np.ndarray:
    if isinstance(skeleton, Skeleton):
        if skeleton.num_joints != num_joints:
            raise SkeletonError(
                f"positions have {num_joints} joints but skeleton {skeleton.name!r} has {skeleton.num_joints}"
            )
        return skeleton.bones
    parents = np.asarray(skeleton, dtype=np.int64).reshape(-1)
    if len(parents) != num_joints:
        raise SkeletonError(f"positions have {num_joints} joints but the parent array has {len(parents)} entries")
    child = np.flatnonzero(parents >= 0)
    if np.any(parents[child] >= num_joints):
        raise SkeletonError("parent array refers to joints that do not exist")
    return np.stack([parents[child], child], axis=1)


def bone_lengths(positions: Array, skeleton: Skeleton | Sequence[int]) -> Array:
    """Length of every bone (parent → child) in every frame.

    Args:
        positions: ``(..., T, J, D)`` joint positions.
        skeleton: a `Skeleton` or its ``J`` parent indices (``-1`` for roots).

    Returns:
        ``(..., T, B)`` lengths, one per non-root joint in joint order (``B = J - 1`` for a tree).
    """
    shp = _shape(positions)
    if len(shp) < 2 or 0 in shp[-2:]:
        raise ValueRangeError(f"expected positions (..., J, D), got shape {shp}")
    bones = _bones(skeleton, shp[-2])
    kind = _Kind(positions)
    x = kind.tensor(positions, "positions")
    torch = _torch()
    par = torch.as_tensor(bones[:, 0], device=x.device)
    chi = torch.as_tensor(bones[:, 1], device=x.device)
    return kind.out(torch.linalg.vector_norm(x[..., chi, :] - x[..., par, :], dim=-1))


@dataclass(frozen=True)
class BoneLengthConsistency:
    """How much bone lengths drift over a sequence (all ``(..., B)``, one value per bone).

    Attributes:
        mean_length: the sequence's own mean length of each bone.
        deviation_from_reference: mean over frames of ``|L_t - L_ref|`` against the reference (rest)
            lengths, or ``None`` when no reference was given.
        deviation_from_mean: mean over frames of ``|L_t - mean_length|`` (no reference needed).
        coefficient_of_variation: ``std_t(L) / mean_t(L)`` (population std; NaN for bones whose mean
            length is below ``min_length``, e.g. the zero-length helper bones of CMU skeletons).
    """

    mean_length: Any
    deviation_from_reference: Any
    deviation_from_mean: Any
    coefficient_of_variation: Any

    def summary(self) -> dict[str, float]:
        """Means over bones (and batch), NaN-aware: ``{"deviation_from_reference", ...}``."""
        out: dict[str, float] = {}
        for name in ("deviation_from_reference", "deviation_from_mean", "coefficient_of_variation"):
            v = getattr(self, name)
            if v is None:
                continue
            arr = np.asarray(v.detach().cpu() if _is_torch(v) else v, dtype=np.float64)
            out[name] = float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")
        return out


def bone_length_consistency(
    positions: Array,
    skeleton: Skeleton | Sequence[int],
    reference_lengths: Any = None,
    min_length: float = 1e-6,
) -> BoneLengthConsistency:
    """Bone-length consistency of a sequence: deviation from reference lengths and from itself.

    Forecasts of joint positions are free to stretch limbs (SkeletonDiffusion argues APD rewards
    exactly that); report these next to any diversity number.

    Args:
        positions: ``(..., T, J, D)`` joint positions over ``T`` frames.
        skeleton: a `Skeleton` or its parent indices.
        reference_lengths: ``None``, ``"rest"`` (the skeleton's rest bone lengths, which needs a
            `Skeleton` with offsets) or lengths ``(B,)`` / ``(..., B)`` in the unit of the positions.
        min_length: bones with a shorter mean length get a NaN coefficient of variation.

    Returns:
        A `BoneLengthConsistency` of ``(..., B)`` arrays (same kind as ``positions``).
    """
    shp = _shape(positions)
    if len(shp) < 3:
        raise ValueRangeError(f"expected positions over time (..., T, J, D), got shape {shp}")
    kind = _Kind(positions)
    lengths = bone_lengths(kind.tensor(positions, "positions"), skeleton)  # (..., T, B)
    mean = lengths.mean(dim=-2)
    dev_mean = (lengths - mean.unsqueeze(-2)).abs().mean(dim=-2)
    std = lengths.std(dim=-2, unbiased=False)
    torch = _torch()
    cv = torch.where(mean >= min_length, std / mean.clamp_min(min_length), torch.full_like(mean, float("nan")))
    dev_ref = None
    if reference_lengths is not None:
        if isinstance(reference_lengths, str):
            if reference_lengths != "rest" or not isinstance(skeleton, Skeleton):
                raise ValueRangeError("reference_lengths='rest' needs a Skeleton (with rest offsets)")
            reference_lengths = skeleton.bone_lengths()
        ref = kind.tensor(reference_lengths, "reference_lengths")
        try:
            torch.broadcast_shapes(tuple(ref.shape), tuple(mean.shape))
        except RuntimeError:
            raise SkeletonError(
                f"reference lengths of shape {tuple(ref.shape)} do not fit {mean.shape[-1]} bones"
            ) from None
        if ref.shape[-1] != mean.shape[-1]:
            raise SkeletonError(f"reference lengths of shape {tuple(ref.shape)} do not fit {mean.shape[-1]} bones")
        dev_ref = (lengths - ref.unsqueeze(-2)).abs().mean(dim=-2)
    return BoneLengthConsistency(
        mean_length=kind.out(mean),
        deviation_from_reference=None if dev_ref is None else kind.out(dev_ref),
        deviation_from_mean=kind.out(dev_mean),
        coefficient_of_variation=kind.out(cv),
    )
