"""Rotation conversions, batched over any leading dimensions.

Every function takes a numpy array or a torch tensor and returns the same kind: numpy goes through
``scipy.spatial.transform`` (float64, fast for data preparation), torch through ``roma``
(differentiable, any device). Conventions:

* axis-angle = exponential map = rotation vector, ``(..., 3)``, angle = norm, in radians;
* quaternions are ``(..., 4)`` in **XYZW** order (scalar last), as in scipy and roma;
* rotation matrices are ``(..., 3, 3)`` and act on column vectors (``x' = R @ x``);
* 6D = the first two columns of the matrix, ``(..., 6)`` laid out as ``[R[:,0], R[:,1]]``
  (Zhou et al. 2019), mapped back by Gram-Schmidt;
* Euler orders follow scipy: uppercase letters (``"ZYX"``) are intrinsic rotations about the moving
  axes (the BVH convention, ``R = Rz @ Ry @ Rx``), lowercase (``"zyx"``) extrinsic, any of the 12
  sequences.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from scipy.spatial.transform import Rotation

from posecast.errors import ValueRangeError

Array = TypeVar("Array")  # numpy.ndarray or torch.Tensor: each function returns what it was given


def _is_torch(x: object) -> bool:
    return type(x).__module__.startswith("torch")


def _roma():  # imported lazily: roma pulls in torch._dynamo (~1 s)
    import roma

    return roma


def _flat(x: np.ndarray, tail: int) -> tuple[np.ndarray, tuple[int, ...]]:
    x = np.asarray(x, dtype=np.float64)
    lead = x.shape[: x.ndim - tail]
    return x.reshape((-1,) + x.shape[x.ndim - tail :]), lead


def axis_angle_to_matrix(rotvec: Array) -> Array:
    """``(..., 3)`` axis-angle → ``(..., 3, 3)`` rotation matrices (Rodrigues)."""
    if _is_torch(rotvec):
        return _roma().rotvec_to_rotmat(rotvec)
    flat, lead = _flat(rotvec, 1)
    return Rotation.from_rotvec(flat).as_matrix().reshape(lead + (3, 3))


def matrix_to_axis_angle(matrix: Array) -> Array:
    """``(..., 3, 3)`` rotation matrices → ``(..., 3)`` axis-angle with angle in ``[0, π]``."""
    if _is_torch(matrix):
        return _roma().rotmat_to_rotvec(matrix)
    flat, lead = _flat(matrix, 2)
    return Rotation.from_matrix(flat).as_rotvec().reshape(lead + (3,))


def quat_to_matrix(quat: Array) -> Array:
    """``(..., 4)`` XYZW quaternions (normalised here) → ``(..., 3, 3)``."""
    if _is_torch(quat):
        roma = _roma()
        return roma.unitquat_to_rotmat(quat / quat.norm(dim=-1, keepdim=True))
    flat, lead = _flat(quat, 1)
    return Rotation.from_quat(flat).as_matrix().reshape(lead + (3, 3))


def matrix_to_quat(matrix: Array) -> Array:
    """``(..., 3, 3)`` → ``(..., 4)`` unit XYZW quaternions with non-negative W."""
    if _is_torch(matrix):
        q = _roma().rotmat_to_unitquat(matrix)
        return q * (q[..., 3:] >= 0).to(q.dtype).mul(2).sub(1)
    flat, lead = _flat(matrix, 2)
    q = Rotation.from_matrix(flat).as_quat()
    q *= np.where(q[:, 3:] < 0, -1.0, 1.0)
    return q.reshape(lead + (4,))


def axis_angle_to_quat(rotvec: Array) -> Array:
    """``(..., 3)`` axis-angle → ``(..., 4)`` XYZW quaternions."""
    if _is_torch(rotvec):
        return _roma().rotvec_to_unitquat(rotvec)
    flat, lead = _flat(rotvec, 1)
    return Rotation.from_rotvec(flat).as_quat().reshape(lead + (4,))


def quat_to_axis_angle(quat: Array) -> Array:
    """``(..., 4)`` XYZW quaternions → ``(..., 3)`` axis-angle."""
    if _is_torch(quat):
        return _roma().unitquat_to_rotvec(quat / quat.norm(dim=-1, keepdim=True))
    flat, lead = _flat(quat, 1)
    return Rotation.from_quat(flat).as_rotvec().reshape(lead + (3,))


def _check_order(order: str) -> str:
    if len(order) != 3 or not (order.isupper() or order.islower()) or set(order.lower()) - set("xyz"):
        raise ValueRangeError(f"invalid Euler order {order!r}: use three of x/y/z, all upper or all lower case")
    if order[0].lower() == order[1].lower() or order[1].lower() == order[2].lower():
        raise ValueRangeError(f"invalid Euler order {order!r}: consecutive axes must differ")
    return order


def euler_to_matrix(angles: Array, order: str, degrees: bool = False) -> Array:
    """``(..., 3)`` Euler angles in the given order → ``(..., 3, 3)``.

    ``order="ZYX"`` (intrinsic) gives ``R = Rz(a0) @ Ry(a1) @ Rx(a2)``, the BVH convention for
    ``CHANNELS Zrotation Yrotation Xrotation``.
    """
    order = _check_order(order)
    if _is_torch(angles):
        return _roma().euler_to_rotmat(order, angles, degrees=degrees)
    flat, lead = _flat(angles, 1)
    return Rotation.from_euler(order, flat, degrees=degrees).as_matrix().reshape(lead + (3, 3))


def matrix_to_euler(matrix: Array, order: str, degrees: bool = False) -> Array:
    """``(..., 3, 3)`` → ``(..., 3)`` Euler angles in the given order (inverse of `euler_to_matrix`)."""
    order = _check_order(order)
    if _is_torch(matrix):
        out = _roma().rotmat_to_euler(order, matrix, degrees=degrees)
        return out
    flat, lead = _flat(matrix, 2)
    from posecast.errors import quiet

    with quiet(UserWarning, wait=False):  # gimbal lock: scipy warns and sets the third angle to zero
        out = Rotation.from_matrix(flat).as_euler(order, degrees=degrees)
    return out.reshape(lead + (3,))


def matrix_to_6d(matrix: Array) -> Array:
    """``(..., 3, 3)`` → ``(..., 6)``: the first two columns, column after column."""
    cols = matrix[..., :, :2]
    if _is_torch(matrix):
        return cols.transpose(-1, -2).reshape(*matrix.shape[:-2], 6)
    return np.swapaxes(cols, -1, -2).reshape(matrix.shape[:-2] + (6,))


def sixd_to_matrix(sixd: Array) -> Array:
    """``(..., 6)`` → ``(..., 3, 3)`` by Gram-Schmidt (differentiable for torch)."""
    if _is_torch(sixd):
        cols = sixd.reshape(*sixd.shape[:-1], 2, 3).transpose(-1, -2)
        return _roma().special_gramschmidt(cols)
    x = np.asarray(sixd, dtype=np.float64).reshape(sixd.shape[:-1] + (2, 3))
    a, b = x[..., 0, :], x[..., 1, :]
    e1 = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b - np.sum(e1 * b, axis=-1, keepdims=True) * e1
    e2 = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=-1)


def project_to_so3(matrix: Array) -> Array:
    """Nearest rotation (Frobenius norm) to each ``(..., 3, 3)`` matrix, via SVD with det = +1.

    The ST-Transformer's rotation variant projects its raw 3x3 outputs back onto SO(3) this way.
    """
    if _is_torch(matrix):
        return _roma().special_procrustes(matrix)
    m = np.asarray(matrix, dtype=np.float64)
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    u = u.copy()
    u[..., :, -1] *= d[..., None]
    return u @ vt


def geodesic_angle(a: Array, b: Array) -> Array:
    """``(...)`` angle in radians of the rotation taking ``a`` to ``b`` (both ``(..., 3, 3)``)."""
    if _is_torch(a):
        return _roma().rotmat_geodesic_distance(a, b)
    rel = np.swapaxes(a, -1, -2) @ b
    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.arccos(np.clip(cos, -1.0, 1.0))


def slerp_matrices(m0: np.ndarray, m1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation between matching rotation matrices ``(N, 3, 3)`` at fractions ``t (N,)``."""
    r0 = Rotation.from_matrix(np.asarray(m0).reshape(-1, 3, 3))
    r1 = Rotation.from_matrix(np.asarray(m1).reshape(-1, 3, 3))
    delta = (r0.inv() * r1).as_rotvec() * np.asarray(t, dtype=np.float64).reshape(-1, 1)
    return (r0 * Rotation.from_rotvec(delta)).as_matrix().reshape(np.shape(m0))
