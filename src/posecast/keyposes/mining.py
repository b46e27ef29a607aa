"""Mine characteristic key poses from a motion, without annotations.

Diller et al. (CVPR 2022) call a pose *characteristic* when the action is most articulated, right
before the body starts returning towards another pose: the cusps of the joint trajectories that
separate the smooth movements between action-defining poses (their Fig. 2). They annotate such
frames by hand; `mine_keyposes` finds them with the following criterion.

Criterion (every threshold in seconds or metres, none in frames):

1. **Body frame.** Each frame is made root-relative (root joint at the origin) and turned about the
   vertical y axis so that the hips' left-to-right axis points along +x (heading normalisation; the
   hip pair is `posecast.models.neural.hip_pair`, the mirrored pair nearest the root; skeletons
   without left/right pairs are not turned). Travelling or spinning on the spot is not articulation.
2. **Channels.** The tracked points are the skeleton's end effectors (``Skeleton.end_effectors``:
   head, hands, feet; the leaves of the tree when a skeleton declares none) or the given ``joints``,
   plus one channel for the root's height (world y). The root never moves in the body frame, so
   without that channel crouching, sitting down or the top of a jump would not count.
3. **Smoothing.** Each channel (and the heading angle) is smoothed over time with a Gaussian of
   standard deviation ``smoothing_s``, so that marker jitter creates no extremes.
4. **Moving reference pose.** ``r(t)`` is the Gaussian-weighted mean of the channels around ``t``,
   standard deviation ``reference_s``: the pose the body oscillates about (mid-stance for a walk,
   the guard for punches). It moves with the clip, so a clip that goes from walking to climbing to
   sitting is judged against what the body is doing at the time.
5. **Articulation.** ``a(t) = sqrt(mean_c |x_c(t) - r_c(t)|^2)`` over the channels ``c``: the
   root-mean-square distance in metres of the tracked points from the reference pose.
6. **Key poses** are the local maxima of ``a(t)`` whose topographic prominence
   (`scipy.signal.peak_prominences`) is at least ``prominence`` metres: the body moved at least that
   much further from the reference pose on the way in and comes back at least that much afterwards
   before it articulates more again. That is the paper's "most articulated right before returning
   towards another pose": at such a maximum the pose's velocity away from the reference reverses,
   a cusp of the pose trajectory.
7. **Non-maximum suppression.** Peaks are kept greedily by decreasing prominence; a peak closer than
   ``min_separation_s`` to one already kept is dropped.

The score of a key pose is its prominence (metres). The joints that drove it are the channels whose
distance from the reference at the peak is at least half the largest one, most displaced first (the
root-height channel is reported as the root joint).

The defaults were tuned by eye on CMU BVH clips of walks, runs, jumps, punches, bending and
lifting, ballet, basketball and playground climbing: key poses land on full strides, the tops of
jumps and the crouches before them, fully extended punches, the deepest bend and the highest arm,
arabesques (``tests/test_keyposes.py`` keeps hand-checked frames as a regression test).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from posecast.errors import SkeletonError, ValueRangeError
from posecast.motion import Motion
from posecast.skeletons.base import Skeleton

DEFAULT_SMOOTHING_S = 0.05
"""Gaussian smoothing of the trajectories (s)."""
DEFAULT_REFERENCE_S = 0.75
"""Standard deviation of the moving reference pose (s): about half a gait cycle or more."""
DEFAULT_MIN_SEPARATION_S = 0.3
"""Key poses closer than this are merged (s); a brisk walk has full strides about 0.5 s apart."""
DEFAULT_PROMINENCE_M = 0.05
"""How far (m, RMS over the tracked points) the body must return after a key pose."""


@dataclass(frozen=True)
class KeyPose:
    """A key pose (mined, or read from annotations).

    Attributes:
        frame: frame index in the motion it belongs to.
        time: seconds from the motion's first frame (``frame / fps``).
        score: prominence of the articulation peak in metres; ``nan`` for annotated key poses.
        joints: indices of the joints that drove it, most displaced first.
        joint_names: their names.
    """

    frame: int
    time: float
    score: float = math.nan
    joints: tuple[int, ...] = ()
    joint_names: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``frame``, ``time_s``, ``score_m`` (``None`` when unknown) and ``joints`` (names)."""
        return {
            "frame": self.frame,
            "time_s": self.time,
            "score_m": None if math.isnan(self.score) else self.score,
            "joints": list(self.joint_names),
        }


def _check_seconds(name: str, value: float, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueRangeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueRangeError(f"{name} must be a finite {kind} number, got {value!r}")
    return v


def default_joints(skeleton: Skeleton) -> tuple[int, ...]:
    """The joints tracked by default: the skeleton's end effectors, else the leaves of its tree."""
    if skeleton.end_effectors:
        return tuple(skeleton.end_effectors)
    return skeleton.leaves or tuple(range(skeleton.num_joints))


def body_frame(positions: np.ndarray, skeleton: Skeleton, smoothing_frames: float = 0.0) -> np.ndarray:
    """Root-relative, heading-normalised positions (step 1 of the module docstring).

    Args:
        positions: ``(T, J, 3)`` positions in metres, y up.
        skeleton: the layout; its hip pair defines the heading (no turning when it has no
            left/right pairs).
        smoothing_frames: Gaussian standard deviation, in frames, applied to the heading angle.

    Returns:
        ``(T, J, 3)``: each frame minus its root joint, turned about y so that the hips'
        left-to-right axis points along +x.
    """
    from posecast.models.neural import hip_pair

    rel = positions - positions[:, :1]
    try:
        left, right = hip_pair(skeleton)
    except SkeletonError:
        return rel
    lat = positions[:, left] - positions[:, right]
    theta = np.unwrap(np.arctan2(lat[:, 2], lat[:, 0]))
    if smoothing_frames > 0:
        theta = gaussian_filter1d(theta, smoothing_frames, mode="nearest")
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    out = rel.copy()
    out[..., 0] = c * rel[..., 0] + s * rel[..., 2]
    out[..., 2] = -s * rel[..., 0] + c * rel[..., 2]
    return out


def _resolve_joints(skeleton: Skeleton, joints: Sequence[int | str] | None) -> tuple[int, ...]:
    if joints is None:
        return default_joints(skeleton)
    out = []
    for j in joints:
        if isinstance(j, str):
            out.append(skeleton.index(j))
        elif isinstance(j, int | np.integer) and 0 <= int(j) < skeleton.num_joints:
            out.append(int(j))
        else:
            raise SkeletonError(f"{j!r} is not a joint of skeleton {skeleton.name!r} ({skeleton.num_joints} joints)")
    if not out:
        raise SkeletonError("joints must name at least one joint")
    return tuple(dict.fromkeys(out))


def articulation(
    motion: Motion,
    *,
    smoothing_s: float = DEFAULT_SMOOTHING_S,
    reference_s: float = DEFAULT_REFERENCE_S,
    joints: Sequence[int | str] | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """The articulation signal of the module docstring (steps 1-5).

    Returns:
        ``(a, distances, channel_joints)``: ``a (T,)`` the RMS distance in metres of the tracked
        points from the moving reference pose; ``distances (T, C)`` each channel's distance; the
        joint index of each of the ``C`` channels (the last one, the root's height, is joint 0).
    """
    smoothing_s = _check_seconds("smoothing_s", smoothing_s, allow_zero=True)
    reference_s = _check_seconds("reference_s", reference_s)
    skel = motion.skeleton
    chosen = _resolve_joints(skel, joints)
    sm = smoothing_s * motion.fps
    body = body_frame(motion.positions, skel, sm)
    feats = np.zeros((motion.num_frames, len(chosen) + 1, 3))
    feats[:, :-1] = body[:, list(chosen)]
    feats[:, -1, 1] = motion.positions[:, 0, 1]
    if sm > 0:
        feats = gaussian_filter1d(feats, sm, axis=0, mode="nearest")
    ref = gaussian_filter1d(feats, reference_s * motion.fps, axis=0, mode="nearest")
    dist = np.linalg.norm(feats - ref, axis=-1)
    return np.sqrt(np.mean(dist**2, axis=1)), dist, (*chosen, 0)


def mine_keyposes(
    motion: Motion,
    *,
    smoothing_s: float = DEFAULT_SMOOTHING_S,
    min_separation_s: float = DEFAULT_MIN_SEPARATION_S,
    prominence: float = DEFAULT_PROMINENCE_M,
    reference_s: float = DEFAULT_REFERENCE_S,
    joints: Sequence[int | str] | None = None,
) -> list[KeyPose]:
    """Characteristic key poses of ``motion``, by the criterion of the module docstring.

    Args:
        motion: ``(T, J, 3)`` positions in metres, y up, any skeleton and frame rate, mined on its own joints
            (`mine_motion` mines a user's motion as ``posecast keyposes`` does: on the canonical body, turned
            upright, a rest frame left out). Drop synthetic rest frames first (frame 0 of CMU BVH files:
            ``motion[1:]``).
        smoothing_s: Gaussian smoothing of the trajectories (s); 0 switches it off.
        min_separation_s: of two key poses closer than this (s), only the more prominent is kept.
        prominence: how far (m) the articulation must fall after a key pose (and have risen
            before it); 0 keeps every local maximum.
        reference_s: standard deviation (s) of the moving reference pose.
        joints: tracked joints (indices or names); default: the end effectors.

    Returns:
        the key poses in time order (none for a motion of fewer than 3 frames).

    Raises:
        ValueRangeError: a negative or non-finite parameter.
        SkeletonError: an unknown joint.
    """
    min_sep = _check_seconds("min_separation_s", min_separation_s, allow_zero=True)
    prom = _check_seconds("prominence", prominence, allow_zero=True)
    a, dist, channels = articulation(motion, smoothing_s=smoothing_s, reference_s=reference_s, joints=joints)
    if a.shape[0] < 3:
        return []
    peaks, props = find_peaks(a, prominence=(prom, None))
    proms = props["prominences"]
    sep = min_sep * motion.fps
    kept: list[int] = []
    for i in np.argsort(-proms, kind="stable"):
        if all(abs(int(peaks[i]) - int(peaks[k])) >= sep for k in kept):
            kept.append(int(i))
    names = motion.skeleton.joint_names
    out = []
    for i in sorted(kept, key=lambda k: int(peaks[k])):
        f = int(peaks[i])
        d = dist[f]
        drivers = [int(c) for c in np.argsort(-d, kind="stable") if d[c] >= 0.5 * d.max()]
        js = tuple(dict.fromkeys(channels[c] for c in drivers))
        out.append(KeyPose(f, f / motion.fps, float(proms[i]), js, tuple(names[j] for j in js)))
    return out


# ------------------------------------------------------------------------- a user's motion, on the body
#: the body key poses of a user's motion are mined on (`mine_motion`): the corpus' and the benchmark's
BODY = "smplh-22"


@dataclass(frozen=True)
class MinedKeyPoses:
    """The key poses of a user's motion as `mine_motion` found them, and what they were mined on.

    Attributes:
        keyposes: frames and times on the given motion's clock (the skipped leading frames counted); ``joints``
            index the skeleton mined on (``body``); ``joint_names`` are the motion's own joints where a body joint
            is one of them, else the body's joint (an interpolated collar, a foot below a rig without toes).
        body: the skeleton mined on: the canonical body `BODY`, or the motion's own skeleton when it does not map
            onto it.
        up_axis: the axis of the motion's world that was turned to +y before mining (``"+y"``: none turned).
        skipped_frames: leading frames left out (a rest pose written before the motion,
            `posecast.motion.detached_start`, or as many as asked).
        options: the `mine_keyposes` options used.
    """

    keyposes: list[KeyPose]
    body: str
    up_axis: str
    skipped_frames: int
    options: dict[str, Any]

    @property
    def canonical(self) -> bool:
        """Whether the key poses were mined on the canonical body."""
        return self.body == BODY

    def description(self) -> str:
        """What they were mined on, for a printout: ``the canonical body smplh-22 (head, wrists, feet and pelvis
        height), z up turned upright, the first frame left out``."""
        what = (
            f"the canonical body {BODY} (head, wrists, feet and pelvis height)"
            if self.canonical
            else f"the rig's own joints ({self.body}: it does not map onto the canonical body {BODY})"
        )
        if self.up_axis != "+y":
            what += f", {self.up_axis.lstrip('+')} up turned upright"
        if self.skipped_frames:
            what += ", the first " + ("frame" if self.skipped_frames == 1 else f"{self.skipped_frames} frames")
            what += " left out"
        return what


def criterion_text(options: dict[str, Any]) -> str:
    """``reference 1.5 s, prominence 0.03 m`` (the defaults filled in): a mining criterion as a note names it."""
    o = {"reference_s": DEFAULT_REFERENCE_S, "prominence": DEFAULT_PROMINENCE_M} | dict(options)
    return f"reference {o['reference_s']:g} s, prominence {o['prominence']:g} m"


def mine_motion(
    motion: Motion,
    *,
    mapping: Any = None,
    up: str | None = None,
    skip_frames: int | None = None,
    canonical: bool = True,
    **options: Any,
) -> MinedKeyPoses:
    """The key poses of a user's ``motion`` (any rig, any up axis), mined as the corpus and the key-pose benchmark
    mine theirs: on the canonical body ``smplh-22`` (`posecast.skeletons.canonical.retarget`, ``mapping`` as
    there), turned upright, so that every rig of the same motion - with fingers, twist bones, or none - gives the
    same key poses (the rig's leaf joints had been the channels: fingertips and twist leaves drove them).

    Args:
        motion: positions in metres, in any world (the up axis is found as the canonical-body models find it,
            `posecast.skeletons.canonical.up_axes`, over the whole motion).
        mapping: explicit entries for `retarget` (may hold ``up:``).
        up: the up axis of the motion's world (``"z"``, ``"-y"``...; wins over the mapping's and the found one).
        skip_frames: leading frames to leave out; None: the rest pose some exporters write before the motion
            (`posecast.motion.detached_start`, CMU BVH's T-pose frame), as ``posecast forecast`` leaves it out.
        canonical: False mines on the motion's own joints (the criterion of networks trained on their own skeleton).
        options: `mine_keyposes` options.

    A rig that does not map (and no joint ``mapping`` was given) is mined on its own joints (``body`` says so).

    Raises:
        SkeletonError: a ``mapping`` with joint entries that cannot map the skeleton.
        ValueRangeError: bad options, or ``skip_frames`` that leave no frame.
    """
    from posecast import skeletons
    from posecast.motion import detached_start
    from posecast.skeletons.canonical import UP_KEY, UP_ROTATIONS, mapping_with_up, parse_up, retarget, up_axes

    skip = detached_start(motion.positions, motion.fps) if skip_frames is None else int(skip_frames)
    if not 0 <= skip < motion.num_frames:
        raise ValueRangeError(f"skip_frames {skip} must be in [0, {motion.num_frames}) for this motion")
    clip = motion.frames(skip) if skip else motion
    table = mapping_with_up(mapping, up) if up is not None else mapping
    rt = None
    if canonical:
        try:
            rt = retarget(motion.skeleton, table)
        except SkeletonError:
            joints_given = isinstance(mapping, str | Path) or bool({k for k in (mapping or {}) if k != UP_KEY})
            if joints_given:
                raise
    if rt is not None:
        positions = rt.to_canonical(clip.positions.astype(np.float64))
        axis = up_axes(positions[None], rt.up)[0]
        skel = skeletons.get(BODY)
    else:
        positions = clip.positions
        axis = parse_up(up) if up is not None else "+y"
        skel = motion.skeleton
    if axis != "+y":
        positions = positions @ UP_ROTATIONS[axis].T
    found = mine_keyposes(Motion(positions, motion.fps, skel), **options)
    names = skel.joint_names
    if rt is not None:  # a body joint that is one of the rig's joints goes by the rig's name
        own = {c: next(iter(w)) for c, w in rt.assignment.items() if len(w) == 1}
        names = tuple(own.get(n, n) for n in names)
    out = [
        KeyPose(k.frame + skip, (k.frame + skip) / motion.fps, k.score, k.joints, tuple(names[j] for j in k.joints))
        for k in found
    ]
    return MinedKeyPoses(out, skel.name, axis, skip, dict(options))
