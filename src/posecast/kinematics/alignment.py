"""Procrustes alignment of point sets (the alignment behind PA-MPJPE), numpy or torch.

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
