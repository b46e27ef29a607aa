"""Bodies of one standard build: every bone set to a standard length, bone directions kept, and back.

A network trained mostly on one lab's rig learns that rig's proportions along with the motion. On the canonical
body the labs' rigs differ far more than people do, because each rig places its joints differently: the training
corpus's Bandai Namco rig (91 % of it) has its hips 6.8 cm from the pelvis and a 6.5 cm head bone, CMU's 14 cm
and 17.6 cm, HDM05's 13 cm and 19 cm. `to_standard` gives a history the standard lengths (the training poses'
medians, `standard_lengths`) before the network reads it and `from_standard` gives the forecast the history's own
lengths back; the network then sees one build of body whatever the rig (`NeuralConfig.standard_bones`; its
training data is given the same build, `TrainConfig.standard_bones`).

The root's path is scaled with the body (about the world origin: the networks' canonical frames take translations
out, and the canonical body's floor is at y = 0), by the ratio of the standard's summed bone length to the
history's, so that a step stays the same length relative to the legs.

Arrays are numpy, ``(..., J, 3)`` positions in metres; lengths ``(..., B)``, one per non-root joint in joint order
(the bone from its parent to it), as `posecast.kinematics.fk.bone_lengths` orders them. ``parents`` has one root.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from posecast.errors import ValueRangeError
from posecast.kinematics.fk import ancestor_matrix


class Build(NamedTuple):
    """What `to_standard` took away from each history, for `from_standard`."""

    lengths: np.ndarray  # (B, bones): the last frame's bone lengths
    scale: np.ndarray  # (B,): standard summed length / the history's (median over its frames)


@lru_cache(maxsize=64)
def _layout(parents: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """``(children, their parents, root, ancestor matrix)`` of a one-root skeleton (cached: every call of a model)."""
    roots = [j for j, p in enumerate(parents) if p < 0]
    if len(roots) != 1:
        raise ValueRangeError(f"standard bone lengths need a skeleton with one root (it has {len(roots)})")
    children = np.array([j for j, p in enumerate(parents) if p >= 0], dtype=np.int64)
    of = np.array([parents[j] for j in children], dtype=np.int64)
    return children, of, roots[0], ancestor_matrix(parents)


def _bones(parents: Sequence[int]) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    return _layout(tuple(int(p) for p in parents))


def bone_lengths(positions: np.ndarray, parents: Sequence[int]) -> np.ndarray:
    """``(..., J, 3)`` → ``(..., B)`` bone lengths (non-root joints in joint order)."""
    children, of, _, _ = _bones(parents)
    d = positions[..., children, :] - positions[..., of, :]
    return np.sqrt((d * d).sum(axis=-1))


def set_lengths(positions: np.ndarray, lengths: np.ndarray, parents: Sequence[int]) -> np.ndarray:
    """``(..., J, 3)`` positions with every bone ``lengths`` long (broadcast to ``(..., B)``), directions kept, rebuilt
    from the root (root unchanged; a bone of zero length points along +y), as `posecast.kinematics.fk.set_bone_lengths`
    does for torch tensors. In numpy because it runs twice in every forecast of a model with standard bones, on arrays:
    0.21 ms against 0.38 ms through the torch one and back for a ``(1, 51, 22, 3)`` history (same values to 1e-15)."""
    children, of, root, ancestors = _bones(parents)
    joints = positions.shape[-2]
    p = np.moveaxis(np.asarray(positions, dtype=np.float64), -2, 0)  # (J, ..., 3): one 2-D product below
    d = p[children] - p[of]
    norm = np.sqrt((d * d).sum(axis=-1, keepdims=True))
    unit = np.where(norm > 1e-9, d / np.maximum(norm, 1e-9), np.array([0.0, 1.0, 0.0]))
    steps = np.empty(p.shape)
    steps[children] = (
        unit * np.moveaxis(np.broadcast_to(lengths, positions.shape[:-2] + (len(children),)), -1, 0)[..., None]
    )
    steps[root] = p[root]
    out = ancestors @ steps.reshape(joints, -1)  # each joint: its root plus the bones on its path
    return np.moveaxis(out.reshape(p.shape), 0, -2)


#: a bone whose length spread over the observed frames stays within this (metres) or `RIGID_SHARE` of its length is
#: rigid and `keep_rigid_bones` keeps it; BVH and ASF rigs spread by float rounding only
RIGID_M = 1e-3
RIGID_SHARE = 0.01
#: `keep_rigid_bones` judges a bone's spread on at most this many of the seen frames, evenly spread back from the
#: newest (always included; a rig's bones do not change at all, a tracker's change from frame to frame): 0.11 ->
#: 0.03 ms for 51 frames of a 31-joint rig
RIGID_FRAMES = 10


def keep_rigid_bones(
    poses: np.ndarray, seen: np.ndarray, parents: Sequence[int], bones: np.ndarray | None = None
) -> np.ndarray:
    """``poses (B, ..., J, 3)`` with each bone that kept its length over ``seen (B, T, J, 3)`` (its spread within
    `RIGID_M` or `RIGID_SHARE` of its length, over `RIGID_FRAMES` of the frames) at its length in the last seen
    frame, directions kept, rebuilt from the root (`set_lengths`); ``bones (bones,)`` bool, one per non-root joint
    in joint order: only those bones (default: every bone). Bones that stretched over ``seen`` (a tracker's
    positions, a joint that translates) keep the poses' own lengths; ``poses`` come back as they are where no bone
    changes (same array, same dtype otherwise)."""
    seen = np.asarray(seen)
    if seen.ndim < 2 or not seen.shape[1]:  # nothing seen: nothing to keep
        return poses
    step = max(1, -(-(seen.shape[1] - 1) // (RIGID_FRAMES - 1)))  # at most RIGID_FRAMES frames, the last included
    lengths = bone_lengths(np.asarray(seen[:, ::-1][:, ::step], dtype=np.float64), parents)  # (B, <= 10, bones)
    last = lengths[:, 0]
    rigid = (lengths.max(axis=1) - lengths.min(axis=1)) <= np.maximum(RIGID_M, RIGID_SHARE * last)  # (B, bones)
    if bones is not None:
        rigid &= bones
    if not rigid.any():
        return poses
    now = bone_lengths(np.asarray(poses, dtype=np.float64), parents)  # (B, ..., bones)
    extra = (slice(None),) + (None,) * (now.ndim - 2)
    kept = np.where(rigid[extra], last[extra], now)
    if np.abs(kept - now).max() < 1e-7:  # nothing to change (a rig whose bones the model keeps already)
        return poses
    return set_lengths(poses, kept, parents).astype(np.asarray(poses).dtype, copy=False)


def standard_lengths(sequences: Sequence[np.ndarray], parents: Sequence[int], stride: int = 10) -> np.ndarray:
    """``(B,)`` median bone lengths over every ``stride``-th frame of the ``(T, J, 3)`` ``sequences``."""
    frames = [np.asarray(s, dtype=np.float64)[::stride] for s in sequences]
    if not frames or not sum(len(f) for f in frames):
        raise ValueRangeError("standard bone lengths: no frames")
    return np.median(np.concatenate([bone_lengths(f, parents) for f in frames]), axis=0)


def to_standard(history: np.ndarray, standard: np.ndarray, parents: Sequence[int]) -> tuple[np.ndarray, Build]:
    """Histories ``(B, T, J, 3)`` with the ``standard`` ``(B_bones,)`` lengths in every frame and the root path scaled
    by the ratio of summed lengths (module doc), and what `from_standard` needs to give them back."""
    h = np.asarray(history, dtype=np.float64)
    standard = np.asarray(standard, dtype=np.float64)
    root = _bones(parents)[2]
    own = bone_lengths(h, parents)  # (B, T, bones)
    if own.shape[-1] != standard.shape[-1]:
        raise ValueRangeError(f"{standard.shape[-1]} standard bone lengths for a skeleton of {own.shape[-1]} bones")
    total = np.median(own.sum(axis=-1), axis=-1)  # (B,)
    scale = np.where(total > 1e-6, standard.sum() / np.maximum(total, 1e-6), 1.0)
    out = set_lengths(h, standard, parents)
    out += (h[..., root, :] * (scale[:, None, None] - 1.0))[..., None, :]  # the root path scaled, the body with it
    return out, Build(own[:, -1], scale)


def from_standard(prediction: np.ndarray, build: Build, parents: Sequence[int]) -> np.ndarray:
    """Forecasts ``(B, ..., J, 3)`` of standard-build histories back on the histories' own build: the root path
    unscaled, every bone at its length in the history's last frame."""
    p = np.asarray(prediction, dtype=np.float64)
    root = _bones(parents)[2]
    extra = (1,) * (p.ndim - 3)  # the axes between the batch and the joints
    out = set_lengths(p, build.lengths.reshape((build.lengths.shape[0], *extra, -1)), parents)
    out += (p[..., root, :] * (1.0 / build.scale.reshape((-1, *extra, 1)) - 1.0))[..., None, :]
    return out
