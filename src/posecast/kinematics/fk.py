"""Forward kinematics on any skeleton tree, numpy or torch, batched over leading dimensions.

Convention (column vectors, as everywhere in PoseCast): the global rotation of joint ``j`` is
``G_j = G_parent(j) @ R_j`` and its position ``p_j = p_parent(j) + G_parent(j) @ offset_j``; the
root sits at ``root_translation`` (or the origin) with ``G_0 = R_0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from posecast.errors import SkeletonError
from posecast.kinematics.rotations import _is_torch


@lru_cache(maxsize=64)
def _levels(parents: tuple[int, ...]) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Joints grouped by depth (root excluded): ``((joints, their parents), ...)`` per level."""
    depth = [0] * len(parents)
    for j in range(1, len(parents)):
        depth[j] = depth[parents[j]] + 1
    out = []
    for d in range(1, max(depth, default=0) + 1):
        js = np.array([j for j in range(len(parents)) if depth[j] == d], dtype=np.int64)
        out.append((js, np.array([parents[j] for j in js], dtype=np.int64)))
    return tuple(out)


def forward_kinematics(
    local_rotations,
    offsets,
    parents: Sequence[int],
    root_translation=None,
):
    """Joint positions and global rotations from local rotations.

    Args:
        local_rotations: ``(..., J, 3, 3)`` rotation of each joint relative to its parent.
        offsets: ``(J, 3)`` or ``(..., J, 3)`` rest offsets of each joint from its parent.
        parents: ``J`` parent indices, ``-1`` for the root, parents before children.
        root_translation: ``(..., 3)`` root position, or ``None`` for the origin.

    Returns:
        ``(positions (..., J, 3), global_rotations (..., J, 3, 3))`` of the same kind as the input.
    """
    parents = tuple(int(p) for p in parents)
    j = len(parents)
    if local_rotations.shape[-3:] != (j, 3, 3):
        raise SkeletonError(f"local rotations of shape {tuple(local_rotations.shape)} do not fit {j} joints")
    if offsets.shape[-2:] != (j, 3):
        raise SkeletonError(f"offsets of shape {tuple(offsets.shape)} do not fit {j} joints")
    if _is_torch(local_rotations):
        return _fk_torch(local_rotations, offsets, parents, root_translation)
    return _fk_numpy(np.asarray(local_rotations), np.asarray(offsets), parents, root_translation)


def _fk_numpy(rot: np.ndarray, offsets: np.ndarray, parents: tuple[int, ...], root_translation):
    lead = rot.shape[:-3]
    dtype = np.result_type(rot.dtype, offsets.dtype, np.float32)
    glob = np.empty(rot.shape, dtype=dtype)
    pos = np.zeros(lead + (len(parents), 3), dtype=dtype)
    off = np.broadcast_to(offsets, lead + offsets.shape[-2:])
    glob[..., 0, :, :] = rot[..., 0, :, :]
    if root_translation is not None:
        pos[..., 0, :] = root_translation
    for js, ps in _levels(parents):
        gp = glob[..., ps, :, :]
        glob[..., js, :, :] = gp @ rot[..., js, :, :]
        pos[..., js, :] = pos[..., ps, :] + (gp @ off[..., js, :, None])[..., 0]
    return pos, glob


def _fk_torch(rot, offsets, parents: tuple[int, ...], root_translation):
    import torch

    off = offsets.to(rot.dtype).expand(*rot.shape[:-3], *offsets.shape[-2:])
    glob = [rot[..., 0, :, :]]
    if root_translation is None:
        pos = [rot.new_zeros(*rot.shape[:-3], 3)]
    else:
        pos = [root_translation.to(rot.dtype).expand(*rot.shape[:-3], 3)]
    for i in range(1, len(parents)):
        gp = glob[parents[i]]
        glob.append(gp @ rot[..., i, :, :])
        pos.append(pos[parents[i]] + (gp @ off[..., i, :, None])[..., 0])
    return torch.stack(pos, dim=-2), torch.stack(glob, dim=-3)


def keep_bone_lengths(poses: Any, reference: Any, skeleton: Any) -> Any:
    """``(..., J, 3)`` poses with every bone's direction kept and its length set to that of ``reference``
    (broadcast to ``poses``), rebuilt from the root down the hierarchy (root positions unchanged; a bone
    of zero length keeps its reference length along +y). Torch tensors; ``skeleton``: anything with
    ``parents``.

    Vectorised: every bone at once, then each joint is its root plus the sum of the rescaled bones on its
    path, one product with the skeleton's ``(J, J)`` ancestor matrix (`ancestor_matrix`). A loop down the
    hierarchy traces into about ten small operations per joint, which made up a third of a traced batch-1
    ST-Transformer rollout."""
    return set_bone_lengths(poses, bone_lengths(reference.expand_as(poses), skeleton), skeleton)


def bone_lengths(poses: Any, skeleton: Any) -> Any:
    """``(..., J, 3)`` torch poses → ``(..., B)`` lengths of the bones from each non-root joint's parent to it,
    in joint order (the order `set_bone_lengths` reads). ``skeleton``: anything with ``parents``. (The
    checked metric for arrays of any kind is `posecast.evaluation.metrics.bone_lengths`.)"""
    parents = tuple(int(p) for p in skeleton.parents)
    children = [j for j, p in enumerate(parents) if p >= 0]
    return (poses[..., children, :] - poses[..., [parents[j] for j in children], :]).norm(dim=-1)


def set_bone_lengths(poses: Any, lengths: Any, skeleton: Any) -> Any:
    """`keep_bone_lengths` with the lengths given: ``lengths (..., B)``, one per non-root joint in joint order
    (the bone from its parent to it; broadcast to ``poses (..., J, 3)``). Torch tensors."""
    import torch

    parents = tuple(int(p) for p in skeleton.parents)
    children = [j for j, p in enumerate(parents) if p >= 0]
    roots = [j for j, p in enumerate(parents) if p < 0]
    of = [parents[j] for j in children]
    d = poses[..., children, :] - poses[..., of, :]  # (..., J - roots, 3)
    norm = d.norm(dim=-1, keepdim=True)
    up = poses.new_tensor([0.0, 1.0, 0.0])
    unit = torch.where(norm > 1e-9, d / norm.clamp_min(1e-9), up)
    steps = poses.new_zeros(poses.shape)  # each joint's own step from its parent; a root: its position
    steps[..., children, :] = unit * lengths.to(poses.dtype).expand(norm.shape[:-1])[..., None]
    steps[..., roots, :] = poses[..., roots, :]
    return torch.einsum("jk,...kc->...jc", poses.new_tensor(ancestor_matrix(parents)), steps)


def bone_triples(parents: Sequence[int], away: Sequence[bool] | None = None) -> np.ndarray:
    """``(K, 3)`` int64 rows ``(a, c, g)``, consecutive bones ``a -> c`` then ``c -> g``: where a joint bends.

    One row per joint ``g`` that has a grandparent, in joint order (``c`` its parent, ``a`` the grandparent).
    With ``away`` (``away[j]``: joint ``j`` sits away from its parent; zero-length helper bones do not), only
    joints away from their parent get a row, and ``c`` walks up past helpers to the first ancestor away from
    its own parent (the same place), ``a`` being that ancestor's parent; a joint whose walk reaches a root
    gets none. Used to score bends (long-horizon protocol) and to keep them in range (charpose refinement).
    """
    par = [int(p) for p in parents]
    if away is not None and len(away) != len(par):
        raise ValueError(f"away has {len(away)} entries for {len(par)} joints")
    rows = []
    for g, c in enumerate(par):
        if c < 0 or (away is not None and not away[g]):
            continue
        while away is not None and par[c] >= 0 and not away[c]:
            c = par[c]
        if par[c] >= 0:
            rows.append((par[c], c, g))
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


@lru_cache(maxsize=64)
def ancestor_matrix(parents: tuple[int, ...]) -> np.ndarray:
    """``(J, J)`` with entry ``(j, k)`` 1 where joint ``k`` is ``j`` or one of its ancestors, else 0."""
    n = len(parents)
    out = np.zeros((n, n))
    for j in range(n):
        k = j
        while k >= 0:
            out[j, k] = 1.0
            k = parents[k]
    return out
