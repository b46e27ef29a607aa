"""Procrustes alignment of point sets (the alignment behind PA-MPJPE), and the heading turn of a pose; numpy
or torch.

Built on ``roma.rigid_points_registration`` (Umeyama, optional scale, proper rotations only);
numpy inputs run through it on float64 tensors.
"""

from __future__ import annotations

import numpy as np

from posecast.kinematics.rotations import _is_torch, _roma


def procrustes(source, target, scale: bool = True):
    """Best similarity (or rigid) transform mapping ``source`` onto ``target``.

    Args:
        source, target: ``(..., N, 3)`` matching point sets.
        scale: also fit a uniform scale (PA-MPJPE does).

    Returns:
        ``(aligned (..., N, 3), R (..., 3, 3), t (..., 3), s (...))`` with
        ``aligned = s * source @ R.T + t``.
    """
    import torch

    was_numpy = not _is_torch(source)
    src = torch.as_tensor(np.asarray(source, dtype=np.float64)) if was_numpy else source
    tgt = torch.as_tensor(np.asarray(target, dtype=np.float64)) if was_numpy else target.to(src.dtype)
    out = _roma().rigid_points_registration(src, tgt, compute_scaling=scale)
    if scale:
        rot, trans, s = out
    else:
        rot, trans = out
        s = torch.ones(src.shape[:-2], dtype=src.dtype, device=src.device)
    aligned = s[..., None, None] * (src @ rot.transpose(-1, -2)) + trans[..., None, :]
    if was_numpy:
        return tuple(x.numpy() for x in (aligned, rot, trans, s))
    return aligned, rot, trans, s


def heading_turn(x, left_hip: int, right_hip: int):
    """Torch poses ``(..., J, 3)`` → ``(c, s)``, each ``(..., 1)``: the cosine and sine of the turn about y that
    `heading_canonical` applies (``x' = c x + s z``, ``z' = c z - s x``; ``(1, 0)`` where the hip vector is
    vertical). Its inverse is ``(c, -s)``."""
    import torch

    across = x[..., left_hip, :] - x[..., right_hip, :]
    ax, az = across[..., 0], across[..., 2]
    norm = torch.hypot(ax, az)
    ok = norm > 1e-12
    safe = torch.where(ok, norm, torch.ones_like(norm))
    c = torch.where(ok, ax / safe, torch.ones_like(norm))[..., None]
    s = torch.where(ok, az / safe, torch.zeros_like(norm))[..., None]
    return c, s


def turn_about_y(x, c, s):
    """``(..., J, 3)`` turned by the `heading_turn` ``(c, s)`` (torch)."""
    import torch

    px, py, pz = x[..., 0], x[..., 1], x[..., 2]
    return torch.stack([c * px + s * pz, py, c * pz - s * px], dim=-1)


def heading_canonical(rel, left_hip: int, right_hip: int):
    """Root-relative poses ``(..., J, 3)`` (y up; numpy or torch, differentiable) turned about y so that
    ``left_hip - right_hip`` points along +x (its horizontal part; a pose whose hip vector is vertical is left as
    it is). Numpy inputs run through torch in float64 and come back as numpy."""
    import torch

    was_numpy = not _is_torch(rel)
    x = torch.as_tensor(np.asarray(rel, dtype=np.float64)) if was_numpy else rel
    out = turn_about_y(x, *heading_turn(x, left_hip, right_hip))
    return out.numpy() if was_numpy else out
