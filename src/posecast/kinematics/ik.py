"""Inverse kinematics from joint positions: local joint rotations whose forward kinematics, with a
skeleton's own rest offsets, point every bone where the positions point it.

This is how a forecast made as joint positions goes back to a rotation format (a BVH on the user's own
skeleton): `rotations_from_positions` recovers the rotations of one motion, `extend_rotations` those of
an observed motion followed by its forecast, the twist of every bone carried on from the last observed
frame.

Conventions as in `posecast.kinematics.fk` (column vectors, ``G_j = G_parent(j) @ R_j``, ``p_c = p_j +
G_j @ offset_c``). What positions determine and what they do not:

* a joint with one child bone: the bone's direction, not the twist about it. The rotation is the
  smallest one (the swing) that turns the reference rotation's bone onto the target direction, so the
  direction is reproduced exactly and the twist is the reference's;
* a joint with several child bones that are not collinear: the whole rotation, as the least-squares
  fit (Wahba's problem, solved by SVD as in Kabsch) of the children's rest directions onto their target
  directions, each weighted by its bone length. Children whose directions lie within a few degrees of
  one line (singular values of the fit in a ratio below ``COLLINEAR_RATIO``) are treated as one bone;
* a zero-length bone (a helper joint at its parent, as CMU's ``LHipJoint``): it has no direction. A
  parent whose child bones all sit behind helpers (CMU's ``Hips``) looks through them to their
  children (with the helpers' reference rotations); the helpers then fit their children like any
  joint, so every bone still gets its direction;
* a leaf (an end effector, an End Site joint), a joint whose child bones all have zero-length targets:
  the reference rotation (relative to the parent), i.e. identity without a reference.

The reference is ``reference_rotations``: local rotations of one frame carried over all frames (the
last observed frame when continuing a motion: the forecast then keeps its twists and changes each bone
by the smallest rotation), or of every frame; without one, the rest pose (identity). Bone lengths are
the skeleton's: positions whose bones stretch come back with the skeleton's lengths along the same
directions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from posecast.errors import SkeletonError
from posecast.kinematics.fk import forward_kinematics

if TYPE_CHECKING:
    from posecast.skeletons.base import Skeleton

__all__ = [
    "COLLINEAR_RATIO",
    "extend_rotations",
    "fit_offsets",
    "local_translations",
    "rotations_from_positions",
    "swing",
    "two_bone_reach",
]

#: Child bones whose least-squares fit has singular values ``s[1] / s[0]`` below this are treated as
#: collinear (two bones within about 3.6 degrees of one line): their twist comes from the reference.
COLLINEAR_RATIO = 1e-3
#: Bones (rest offsets or target vectors) shorter than this, in metres, have no direction.
MIN_BONE_M = 1e-9
#: `two_bone_reach`: a knee that must bend further moves to the side of its offset from the hip -> ankle line plus
#: this many times the further bend towards the toes (a straight or overstretched knee that must bend a good deal
#: bends forward, not further back)
FURTHER_BEND = 2.0
#: ``1 + cos(angle)`` below which two directions count as opposite (`swing` turns by 180 degrees).
_OPPOSITE = 1e-9
#: `extend_rotations`: a joint whose translation from its parent moves by more than this (metres) over
#: the observed frames is free; one whose constant translation differs from its rest offset by more
#: keeps that translation (BVH position channels). Float32 round-off of metre-scale data stays below.
_TRANSLATION_TOL_M = 1e-6


def _cross_matrix(k: np.ndarray) -> np.ndarray:
    z = np.zeros(k.shape[:-1])
    x, y, w = k[..., 0], k[..., 1], k[..., 2]
    return np.stack([z, -w, y, w, z, -x, -y, x, z], axis=-1).reshape(k.shape[:-1] + (3, 3))


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` smallest rotations taking the directions ``a`` to ``b`` (both ``(..., 3)``, any
    non-zero length): the rotation about ``a x b`` by the angle between them. Opposite directions get a
    half turn about an axis perpendicular to ``a`` (any such axis is as small)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    a, b = np.broadcast_arrays(a, b)
    c = np.sum(a * b, axis=-1)
    k = _cross_matrix(np.cross(a, b))
    opposite = 1.0 + c < _OPPOSITE
    denom = np.where(opposite, 1.0, 1.0 + c)[..., None, None]
    out = np.eye(3) + k + (k @ k) / denom
    if opposite.any():
        ao = a[opposite]
        helper = np.eye(3)[np.argmin(np.abs(ao), axis=-1)]  # the axis least aligned with a
        n = np.cross(ao, helper)
        n /= np.linalg.norm(n, axis=-1, keepdims=True)
        out[opposite] = 2.0 * n[..., :, None] * n[..., None, :] - np.eye(3)
    return out


def two_bone_reach(
    poses: np.ndarray, parents: Sequence[int], hip: int, knee: int, ankle: int, target: np.ndarray
) -> np.ndarray:
    """``(..., J, 3)`` poses with the limb ``hip -> knee -> ankle`` bent so that the ankle reaches ``target``
    ``(..., 3)`` (two-bone IK), every bone keeping its length.

    The hip stays; its distance to the knee ``l1`` and the knee's to the ankle ``l2`` are those of ``poses``. The
    limb is turned about the hip so that it points at the target (the smallest turn), then bent at the knee so
    that the ankle is on the target, the knee on the side it bent to; a knee that must bend further goes to the side
    of its offset plus `FURTHER_BEND` times the further bend towards the joints below the ankle (the toes), so that a
    straight limb bends towards them and an overstretched one bends forward once it must bend a good deal (not
    ever further back). A target out of reach (farther than
    ``l1 + l2`` or nearer than ``|l1 - l2|``) is met as nearly as the lengths allow, on the hip -> target line.
    The joints from the hip down to the knee (and what hangs off them) turn rigidly about the hip, those from the
    knee to the ankle turn with the lower bone, and the ankle's subtree (the foot) is moved without turning.
    Vectorised over the leading dimensions; ``knee`` must lie below ``hip`` and ``ankle`` below ``knee``
    (``parents``: parents before children)."""
    from posecast.kinematics.fk import ancestor_matrix

    p = np.asarray(poses, dtype=np.float64)
    below = ancestor_matrix(tuple(int(x) for x in parents))  # (j, k): k is j or above it
    foot = below[:, ankle] > 0
    shin = (below[:, knee] > 0) & ~foot
    thigh = (below[:, hip] > 0) & ~foot & ~shin
    h, k, a = p[..., hip, :], p[..., knee, :], p[..., ankle, :]
    l1 = np.linalg.norm(k - h, axis=-1)
    l2 = np.linalg.norm(a - k, axis=-1)

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), MIN_BONE_M)

    def across(v: np.ndarray, axis: np.ndarray) -> np.ndarray:  # the part of v across the unit axis
        return v - np.sum(v * axis, axis=-1, keepdims=True) * axis

    w = unit(a - h)
    line = np.asarray(target, dtype=np.float64) - h
    d = np.linalg.norm(line, axis=-1)
    u = np.where((d > MIN_BONE_M)[..., None], unit(line), w)
    d = np.clip(d, np.abs(l1 - l2), l1 + l2)
    x = (d * d + l1 * l1 - l2 * l2) / (2.0 * np.maximum(d, MIN_BONE_M))  # along the line from the hip
    out_by = np.sqrt(np.maximum(l1 * l1 - x * x, 0.0))  # the knee's distance from the line
    toes = unit(across(p[..., foot, :].mean(axis=-2) - a, w))  # where the foot points (0 without joints below it)
    bend = across(k - h, w)  # the knee's offset from the limb's line
    further = np.maximum(out_by - np.linalg.norm(bend, axis=-1), 0.0)
    bend = bend + (FURTHER_BEND * further)[..., None] * toes
    with np.errstate(invalid="ignore", divide="ignore"):  # zero-length bones: kept below
        side = unit((swing(w, u) @ bend[..., None])[..., 0])  # turned with the limb
    straight = np.linalg.norm(side, axis=-1, keepdims=True) < 0.5  # no side (nor toes) to bend to: any
    side = np.where(straight, unit(np.cross(u, np.eye(3)[np.argmin(np.abs(u), axis=-1)])), side)
    k2 = h + x[..., None] * u + out_by[..., None] * side
    a2 = h + d[..., None] * u
    with np.errstate(invalid="ignore", divide="ignore"):
        r1, r2 = swing(k - h, k2 - h), swing(a - k, a2 - k2)  # (..., 3, 3)
    out = p.copy()
    out[..., thigh, :] = h[..., None, :] + np.einsum("...ij,...nj->...ni", r1, p[..., thigh, :] - h[..., None, :])
    out[..., shin, :] = k2[..., None, :] + np.einsum("...ij,...nj->...ni", r2, p[..., shin, :] - k[..., None, :])
    out[..., foot, :] = p[..., foot, :] + (a2 - a)[..., None, :]
    return np.where(((l1 > MIN_BONE_M) & (l2 > MIN_BONE_M))[..., None, None], out, p)  # a limb without a bend: kept


def _fit(h: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """``(N, 3, 3)`` rotations ``G`` maximising ``trace(G^T h)`` (Wahba's problem, by SVD as in Kabsch);
    where the bones are collinear, the smallest rotation of ``cand`` onto their common direction."""
    uu, s, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(uu @ vt))
    d[d == 0] = 1.0
    rot = uu * np.stack([np.ones_like(d), np.ones_like(d), d], axis=-1)[:, None, :] @ vt
    collinear = s[:, 1] <= COLLINEAR_RATIO * s[:, 0]
    if collinear.any():
        cc = cand[collinear]
        a_world = (cc @ vt[collinear, 0, :, None])[..., 0]
        rot[collinear] = swing(a_world, uu[collinear, :, 0]) @ cc
    return rot


def _offsets(skeleton: Skeleton, offsets: np.ndarray | None) -> np.ndarray:
    if offsets is not None:
        off = np.asarray(offsets, dtype=np.float64)
        if off.shape != (skeleton.num_joints, 3):
            raise SkeletonError(f"offsets of shape {off.shape} do not fit {skeleton.num_joints} joints")
        return off
    if skeleton.offsets is None:
        raise SkeletonError(
            f"skeleton {skeleton.name!r} has no rest offsets: joint rotations cannot be recovered from positions"
        )
    return np.asarray(skeleton.offsets, dtype=np.float64)


def rotations_from_positions(
    positions: np.ndarray,
    skeleton: Skeleton,
    reference_rotations: np.ndarray | None = None,
    *,
    offsets: np.ndarray | None = None,
    free: Sequence[int] = (),
) -> np.ndarray:
    """Local joint rotations that point the skeleton's bones along the bones of ``positions``.

    Args:
        positions: ``(..., J, 3)`` joint positions in metres (global; the root's position is the root
            translation and does not enter the rotations).
        skeleton: the joint tree with rest ``offsets`` (metres).
        reference_rotations: ``(J, 3, 3)`` local rotations of one frame, used for every frame (the
            last observed frame, to carry twists into a forecast), or ``(..., J, 3, 3)`` one per
            frame; ``None``: the rest pose. They give what positions leave open (module docstring).
        offsets: ``(J, 3)`` rest offsets to use instead of the skeleton's.
        free: joints whose translation from their parent is free (BVH position channels that move,
            like the ``Hips`` under a ground-level ``joint_Root``): their direction says nothing about
            their parent's rotation and is left out of its fit.

    Returns:
        ``(..., J, 3, 3)`` local rotations. ``forward_kinematics(rotations, offsets, parents,
        positions[..., 0, :])`` puts every joint with one child bone (or non-collinear child bones)
        so that its bones have the directions of ``positions`` and the skeleton's lengths, and
        reproduces ``positions`` exactly when their bones have the skeleton's lengths and the joints
        are determined (several non-collinear children, or a reference with the true twists).

    Raises:
        SkeletonError: the skeleton has no offsets, or the arrays do not fit it.
    """
    off = _offsets(skeleton, offsets)
    parents = skeleton.parents
    n_joints = len(parents)
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim < 2 or pos.shape[-2:] != (n_joints, 3):
        raise SkeletonError(f"positions of shape {pos.shape} do not fit (..., {n_joints}, 3) of {skeleton.name!r}")
    lead = pos.shape[:-2]
    pos = pos.reshape((-1, n_joints, 3))
    n = pos.shape[0]
    if reference_rotations is None:
        base = np.broadcast_to(np.eye(3), (n, n_joints, 3, 3))
    else:
        ref = np.asarray(reference_rotations, dtype=np.float64)
        if ref.shape == (n_joints, 3, 3):
            base = np.broadcast_to(ref, (n, n_joints, 3, 3))
        elif ref.shape == lead + (n_joints, 3, 3):
            base = ref.reshape((n, n_joints, 3, 3))
        else:
            raise SkeletonError(
                f"reference rotations of shape {ref.shape} fit neither ({n_joints}, 3, 3) nor {lead + (n_joints, 3, 3)}"
            )
    children: list[list[int]] = [[] for _ in range(n_joints)]
    for j in range(1, n_joints):
        children[parents[j]].append(j)
    has_length = np.linalg.norm(off, axis=-1) > MIN_BONE_M
    is_free = np.zeros(n_joints, dtype=bool)
    is_free[list(free)] = True

    glob = np.empty((n, n_joints, 3, 3))
    local = np.empty((n, n_joints, 3, 3))
    eye = np.broadcast_to(np.eye(3), (n, 3, 3))
    for j in range(n_joints):
        gp = eye if j == 0 else glob[:, parents[j]]
        cand = gp @ base[:, j]
        # child bones (u in j's frame, target v, weight), direct ones first, then those seen through
        # zero-length helpers: (joint, rotation from j's frame to the helper's, None for direct)
        bones: tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], ...] = ([], [])
        stack: list[tuple[int, np.ndarray | None]] = [(c, None) for c in children[j]]
        while stack:
            c, chain = stack.pop()
            if is_free[c]:
                continue
            if not has_length[c]:
                step = base[:, c]
                stack += [(k, step if chain is None else chain @ step) for k in children[c]]
                continue
            u = np.broadcast_to(off[c], (n, 3)) if chain is None else (chain @ off[c])
            v = pos[:, c] - pos[:, j]
            w = np.where(np.linalg.norm(v, axis=-1) > MIN_BONE_M, np.linalg.norm(u, axis=-1), 0.0)  # no target: 0
            bones[chain is not None].append((u, v, w))
        g = cand.copy()
        todo = np.ones(n, dtype=bool)
        # direct bones decide where they can (their joints hang on this rotation alone); bones behind a
        # helper only where there are none (the helper's own rotation puts its children in place)
        for group in bones:
            if not group or not todo.any():
                continue
            if len(group) == 1:  # one bone: the smallest rotation from the reference onto its direction
                u, v, w = group[0]
                ok = todo & (w > 0)
                if ok.any():
                    g[ok] = swing((cand[ok] @ u[ok, :, None])[..., 0], v[ok]) @ cand[ok]
            else:
                h = np.zeros((n, 3, 3))
                for u, v, w in group:
                    u_hat = u / np.linalg.norm(u, axis=-1, keepdims=True)
                    v_hat = v / np.maximum(np.linalg.norm(v, axis=-1), MIN_BONE_M)[:, None]
                    h += w[:, None, None] * v_hat[:, :, None] * u_hat[:, None, :]
                ok = todo & (np.abs(h).max(axis=(1, 2)) > 0)
                if ok.any():
                    g[ok] = _fit(h[ok], cand[ok])
            todo &= ~ok
        glob[:, j] = g
        local[:, j] = np.swapaxes(gp, -1, -2) @ g
    return local.reshape(lead + (n_joints, 3, 3))


#: `fit_offsets`: frames it reads at most (evenly spread) and its refits
FIT_MAX_FRAMES = 500
FIT_ROUNDS = 1


def fit_offsets(positions: np.ndarray, skeleton: Skeleton, rounds: int = FIT_ROUNDS) -> np.ndarray:
    """``(J, 3)`` rest offsets that fit a motion given as positions only: the skeleton's rest pose with the
    motion's own proportions, so that `rotations_from_positions` and forward kinematics give back its poses.

    Each bone gets its mean length over the ``(T, J, 3)`` frames (metres). Directions: a bone that is its
    parent's only child keeps the skeleton's rest direction (any direction is reached by the parent's
    rotation); where a joint has several child bones (a pelvis with hips and spine, a chest with neck and
    collars) their angles to each other are the person's, not the template's, and no rotation points all of
    the template's onto them. So, ``rounds`` times: rotations are fitted with the current offsets, and every
    bone takes its mean direction in its parent's fitted frame. Measured on the corpus validation sequences
    (canonical ``smplh-22``, 16 sequences): forward kinematics misses the poses by 32.6 mm with the SMPL
    template's directions and 0.5 mm after one refit (a second changes nothing). A bone of (mean) zero length
    keeps the rest offset. At most `FIT_MAX_FRAMES` frames, evenly spread, are read.
    """
    pos = np.asarray(positions, dtype=np.float64)
    off = _offsets(skeleton, None).copy()
    j = skeleton.num_joints
    if pos.ndim != 3 or pos.shape[1:] != (j, 3) or pos.shape[0] == 0:
        raise SkeletonError(f"positions of shape {pos.shape} do not fit (T, {j}, 3) of {skeleton.name!r}")
    if pos.shape[0] > FIT_MAX_FRAMES:
        pos = pos[np.unique(np.linspace(0, pos.shape[0] - 1, FIT_MAX_FRAMES).round().astype(int))]
    par = np.asarray(skeleton.parents, dtype=np.int64)
    vec = pos[:, 1:] - pos[:, par[1:]]  # (T, J - 1, 3) world bone vectors
    length = np.linalg.norm(vec, axis=-1).mean(axis=0)
    rest = np.linalg.norm(off[1:], axis=-1)
    keep = (length > MIN_BONE_M) & (rest > MIN_BONE_M)
    off[1:][keep] *= (length[keep] / rest[keep])[:, None]
    for _ in range(rounds):
        _, glob = forward_kinematics(rotations_from_positions(pos, skeleton, offsets=off), off, skeleton.parents)
        local = np.einsum("tjba,tjb->tja", glob[:, par[1:]], vec).mean(axis=0)  # in the parent's frame
        norm = np.linalg.norm(local, axis=-1)
        ok = keep & (norm > MIN_BONE_M)
        off[1:][ok] = local[ok] / norm[ok, None] * length[ok, None]
    return off


def local_translations(positions: np.ndarray, global_rotations: np.ndarray, parents: Sequence[int]) -> np.ndarray:
    """``(..., J, 3)`` each joint's translation from its parent in the parent's frame (the root's: its
    global position), from global ``positions (..., J, 3)`` and ``global_rotations (..., J, 3, 3)``:
    the rest offsets wherever the positions follow the skeleton."""
    pos = np.asarray(positions, dtype=np.float64)
    par = np.asarray(parents, dtype=np.int64)
    out = pos.copy()
    if len(par) > 1:
        d = pos[..., 1:, :] - pos[..., par[1:], :]
        out[..., 1:, :] = np.einsum("...jki,...jk->...ji", global_rotations[..., par[1:], :, :], d)
    return out


def extend_rotations(
    observed_positions: np.ndarray,
    observed_rotations: np.ndarray | None,
    future_positions: np.ndarray,
    skeleton: Skeleton,
) -> tuple[np.ndarray, np.ndarray]:
    """Rotations and positions of an observed motion followed by its forecast, on the observed skeleton.

    Args:
        observed_positions: ``(T, J, 3)`` observed joint positions in metres.
        observed_rotations: ``(T, J, 3, 3)`` their local rotations (from the file), or ``None``: then
            recovered by `rotations_from_positions` from the rest pose.
        future_positions: ``(F, J, 3)`` forecast positions continuing the observed frames.
        skeleton: the observed skeleton with rest offsets.

    Returns:
        ``(rotations (T + F, J, 3, 3), positions (T + F, J, 3))``. Observed frames with rotations are
        returned as given; otherwise positions come from forward kinematics with the skeleton's bone
        lengths, the root at the given root positions. Forecast frames take their rotations from
        `rotations_from_positions` with the last observed frame as reference (twists carried on,
        each bone turned by the smallest rotation), the root at ``future_positions[:, 0]``, every bone
        with its observed length. Joints with BVH position channels: those whose translation from
        their parent moves over the observed frames (a ``Hips`` under a ground-level root) are free
        and follow the forecast's bone vector; those whose translation is constant keep it.
    """
    obs = np.asarray(observed_positions, dtype=np.float64)
    fut = np.asarray(future_positions, dtype=np.float64)
    off = _offsets(skeleton, None)
    parents = skeleton.parents
    if obs.ndim != 3 or fut.ndim != 3 or obs.shape[1:] != off.shape or fut.shape[1:] != off.shape:
        raise SkeletonError(
            f"observed {obs.shape} and future {fut.shape} positions do not fit (T, {off.shape[0]}, 3) of "
            f"{skeleton.name!r}"
        )
    free = np.zeros(off.shape[0], dtype=bool)
    fut_off = off
    if observed_rotations is None:
        obs_rot = rotations_from_positions(obs, skeleton)
        obs, _ = forward_kinematics(obs_rot, off, parents, obs[:, 0])
    else:
        obs_rot = np.asarray(observed_rotations, dtype=np.float64)
        if obs_rot.shape != obs.shape[:2] + (3, 3):
            raise SkeletonError(f"observed rotations of shape {obs_rot.shape} do not match positions {obs.shape}")
        _, glob = forward_kinematics(obs_rot, off, parents, obs[:, 0])
        moves = local_translations(obs, glob, parents)
        free = (moves.max(axis=0) - moves.min(axis=0)).max(axis=-1) > _TRANSLATION_TOL_M
        free[0] = False
        fixed = ~free & (np.abs(moves[-1] - off).max(axis=-1) > _TRANSLATION_TOL_M)  # constant, not the rest
        fixed[0] = False
        fut_off = np.where(fixed[:, None], moves[-1], off)
    fut_rot = rotations_from_positions(fut, skeleton, obs_rot[-1], offsets=fut_off, free=np.flatnonzero(free))
    fut_moves = np.broadcast_to(fut_off, fut.shape).copy()
    if free.any():
        _, glob = forward_kinematics(fut_rot, fut_off, parents, fut[:, 0])
        fut_moves[:, free] = local_translations(fut, glob, parents)[:, free]
    fut_pos, _ = forward_kinematics(fut_rot, fut_moves, parents, fut[:, 0])
    return np.concatenate([obs_rot, fut_rot]), np.concatenate([obs, fut_pos])
