"""Lie-algebra maps for SO(3) and SE(3) (PoseMoNet's pose representation).

``so3`` vectors are axis-angle ``(..., 3)``; ``se3`` twists are ``(..., 6)`` laid out as
``[rho (translation part), phi (rotation part)]`` and map to ``(..., 4, 4)`` homogeneous matrices.
Functions take numpy or torch and return the same kind; the torch path is differentiable (the
numpy path runs the same code on float64 tensors). SO(3) exp/log come from roma; the SE(3) left
Jacobian ``V`` is written out with Taylor expansions near zero, which roma does not provide.
"""

from __future__ import annotations

import numpy as np

from posecast.kinematics.rotations import _is_torch, _roma


def _as_torch(x):
    import torch

    if _is_torch(x):
        return x, False
    return torch.as_tensor(np.asarray(x, dtype=np.float64)), True


def _back(x, was_numpy: bool):
    return x.detach().cpu().numpy() if was_numpy else x


def hat(v):
    """``(..., 3)`` → ``(..., 3, 3)`` skew-symmetric matrices with ``hat(v) @ x == cross(v, x)``."""
    import torch

    t, np_in = _as_torch(v)
    z = torch.zeros_like(t[..., 0])
    x, y, w = t[..., 0], t[..., 1], t[..., 2]
    m = torch.stack([z, -w, y, w, z, -x, -y, x, z], dim=-1).reshape(*t.shape[:-1], 3, 3)
    return _back(m, np_in)


def vee(m):
    """``(..., 3, 3)`` skew-symmetric → ``(..., 3)`` (antisymmetric part, inverse of `hat`)."""
    import torch

    t, np_in = _as_torch(m)
    v = 0.5 * torch.stack(
        [t[..., 2, 1] - t[..., 1, 2], t[..., 0, 2] - t[..., 2, 0], t[..., 1, 0] - t[..., 0, 1]], dim=-1
    )
    return _back(v, np_in)


def so3_exp(phi):
    """``(..., 3)`` so(3) vectors → ``(..., 3, 3)`` rotations."""
    t, np_in = _as_torch(phi)
    return _back(_roma().rotvec_to_rotmat(t), np_in)


def so3_log(rot):
    """``(..., 3, 3)`` rotations → ``(..., 3)`` so(3) vectors with norm in ``[0, π]``."""
    t, np_in = _as_torch(rot)
    return _back(_roma().rotmat_to_rotvec(t), np_in)


def _left_jacobian_terms(phi):
    """Coefficients ``a = (1 - cos θ)/θ²`` and ``b = (θ - sin θ)/θ³`` with small-angle series."""
    import torch

    theta2 = (phi * phi).sum(-1)
    theta = theta2.clamp_min(1e-24).sqrt()
    small = theta2 < 1e-6
    safe_t = torch.where(small, torch.ones_like(theta), theta)
    a = torch.where(small, 0.5 - theta2 / 24.0, (1 - torch.cos(safe_t)) / safe_t**2)
    b = torch.where(small, 1.0 / 6.0 - theta2 / 120.0, (safe_t - torch.sin(safe_t)) / safe_t**3)
    return a, b, theta, small


def so3_left_jacobian(phi):
    """``(..., 3)`` → ``(..., 3, 3)`` left Jacobian ``V = I + a K + b K²`` of SO(3)."""
    import torch

    t, np_in = _as_torch(phi)
    a, b, _, _ = _left_jacobian_terms(t)
    k = hat(t)
    eye = torch.eye(3, dtype=t.dtype, device=t.device).expand_as(k)
    v = eye + a[..., None, None] * k + b[..., None, None] * (k @ k)
    return _back(v, np_in)


def se3_exp(xi):
    """``(..., 6)`` twists ``[rho, phi]`` → ``(..., 4, 4)`` rigid transforms."""
    import torch

    t, np_in = _as_torch(xi)
    rho, phi = t[..., :3], t[..., 3:]
    rot = _roma().rotvec_to_rotmat(phi)
    trans = (so3_left_jacobian(phi) @ rho[..., None])[..., 0]
    out = torch.zeros(*t.shape[:-1], 4, 4, dtype=t.dtype, device=t.device)
    out = out.clone()
    out[..., :3, :3] = rot
    out[..., :3, 3] = trans
    out[..., 3, 3] = 1.0
    return _back(out, np_in)


def se3_log(transform):
    """``(..., 4, 4)`` rigid transforms → ``(..., 6)`` twists ``[rho, phi]``."""
    import torch

    t, np_in = _as_torch(transform)
    phi = _roma().rotmat_to_rotvec(t[..., :3, :3])
    a, b, theta, small = _left_jacobian_terms(phi)
    k = hat(phi)
    eye = torch.eye(3, dtype=t.dtype, device=t.device).expand_as(k)
    # V^-1 = I - K/2 + c K², c = (1 - θ sin θ / (2 (1 - cos θ))) / θ² = (1 - (1 - b θ²) / (2 a)) / θ²
    safe = torch.where(small, torch.ones_like(theta), theta)
    c = torch.where(small, 1.0 / 12.0 + theta**2 / 720.0, (1 - (1 - b * safe**2) / (2 * a)) / safe**2)
    v_inv = eye - 0.5 * k + c[..., None, None] * (k @ k)
    rho = (v_inv @ t[..., :3, 3:4])[..., 0]
    return _back(torch.cat([rho, phi], dim=-1), np_in)
