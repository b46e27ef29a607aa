"""Windows: fixed-length slices of motion sequences, batched without per-sample objects.

The one windowing implementation of PoseCast, for training and for the benchmark protocols:
`window_starts` (the start frames of every window of a sequence, one every ``stride`` frames from
frame 0) and `slice_windows` (those windows of one sequence as one array). A `WindowSet` keeps many
sequences concatenated in one ``(N_total, J, 3)`` array (float32 by default) and an index of window
start rows; `WindowSet.batch` gathers ``(B, L, J, 3)`` windows with one fancy-indexing operation.
`dataset_shares` draws training windows data set by data set (``dataset_weights`` of the motion and video
trainings). Augmentations (`mirror`, `reverse`, `yaw`) act on torch batches; `rescale_bones`, `random_proportions` and
`tilt` (other bodies, bodies off the vertical) on numpy world windows, drawn at random by `BodyAugment`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from posecast.errors import ValueRangeError
from posecast.skeletons.base import Skeleton


def window_starts(num_frames: int, length: int, stride: int = 1) -> np.ndarray:
    """Start frames of every ``length``-frame window of a ``num_frames``-frame sequence, one every
    ``stride`` frames from frame 0 (empty when the sequence is shorter than a window)."""
    if length < 1 or stride < 1:
        raise ValueRangeError("window length and stride must be positive")
    return np.arange(0, max(num_frames - length + 1, 0), stride)


def slice_windows(sequence: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """``(W, length, ...)`` windows of ``sequence (N, ...)`` starting at frames ``starts (W,)`` (one
    fancy-indexing copy, the sequence's dtype kept)."""
    starts = np.asarray(starts, dtype=np.int64)
    return sequence[starts[:, None] + np.arange(length)[None]]


@dataclass
class WindowSet:
    """All windows of ``length`` frames (step ``stride``) of some sequences.

    Attributes:
        data: ``(N_total, J, 3)`` float32 frames of all sequences, back to back.
        starts: ``(W,)`` row of ``data`` where each window starts.
        length: frames per window.
        skeleton: joint layout.
        fps: frame rate.
    """

    data: np.ndarray
    starts: np.ndarray
    length: int
    skeleton: Skeleton
    fps: float
    #: ``(W,)`` index of the sequence each window comes from (`from_sequences`; None when not known)
    sequence: np.ndarray | None = None

    @classmethod
    def from_sequences(
        cls,
        sequences: Sequence[np.ndarray],
        length: int,
        skeleton: Skeleton,
        fps: float,
        stride: int = 1,
        dtype: type | np.dtype | None = np.float32,
    ) -> WindowSet:
        """Index every ``length``-frame window (one every ``stride`` frames, `window_starts`) of each
        ``(N_i, J, 3)`` sequence (shorter ones are skipped); ``dtype=None`` keeps the sequences' dtype."""
        if length < 1 or stride < 1:
            raise ValueRangeError("window length and stride must be positive")
        chunks, starts, owner, offset = [], [], [], 0
        for i, seq in enumerate(sequences):
            seq = np.asarray(seq, dtype=dtype)
            if seq.ndim != 3 or seq.shape[1:] != (skeleton.num_joints, 3):
                raise ValueRangeError(f"sequence of shape {seq.shape} does not fit skeleton {skeleton.name!r}")
            if seq.shape[0] >= length:
                mine = window_starts(seq.shape[0], length, stride)
                starts.append(offset + mine)
                owner.append(np.full(len(mine), i, dtype=np.int64))
            chunks.append(seq)
            offset += seq.shape[0]
        if not starts:
            longest = max((c.shape[0] for c in chunks), default=0)
            raise ValueRangeError(
                f"no sequence has the {length} frames ({length / fps:.2f} s) a window needs; the longest has "
                f"{longest} ({longest / fps:.2f} s at {fps:g} fps): give longer files or a shorter history"
            )
        return cls(np.concatenate(chunks), np.concatenate(starts), length, skeleton, fps, np.concatenate(owner))

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def batch(self, index: np.ndarray) -> np.ndarray:
        """``(B, length, J, 3)`` windows number ``index``."""
        return slice_windows(self.data, self.starts[np.asarray(index)], self.length)


def dataset_shares(
    counts: np.ndarray, datasets: Sequence[str], weights: Mapping[str, float] | None, what: str = "a window"
) -> np.ndarray:
    """Probability ``(S,)`` of drawing a training window from each of S sequences that hold ``counts (S,)``
    windows each: every window equally likely (``weights`` None or empty), or (``weights``: data set ->
    relative weight, every data set of ``datasets`` named, ``datasets`` one name per sequence) the data set drawn
    by its weight, then a window within it, every window equally likely. Clear errors name what is wrong with
    ``weights``; ``what`` says what a window needs in them."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.sum() == 0:
        raise ValueRangeError(f"no training sequence has {what}")
    if not weights:
        return counts / counts.sum()
    if len(datasets) != len(counts):
        raise ValueRangeError("dataset_weights need the data set of every training sequence (data: corpus)")
    names = np.asarray(datasets)
    present = sorted(set(datasets))
    problems = []
    if unknown := sorted(set(weights) - set(present)):
        problems.append(f"unknown {', '.join(unknown)}")
    if missing := [d for d in present if d not in weights]:
        problems.append(f"missing {', '.join(missing)}")
    if problems:
        raise ValueRangeError(
            f"dataset_weights must name exactly the training data sets ({', '.join(present)}): " + "; ".join(problems)
        )
    if any(not np.isfinite(w) or w < 0 for w in weights.values()) or not sum(weights.values()) > 0:
        raise ValueRangeError(f"dataset_weights must be finite, >= 0 and not all 0, got {dict(weights)}")
    p = np.zeros(len(counts))
    for d, w in weights.items():
        if w == 0:
            continue
        mine = names == d
        if counts[mine].sum() == 0:
            raise ValueRangeError(f"dataset_weights: no {d} training sequence has {what}")
        p[mine] = w * counts[mine] / counts[mine].sum()
    return p / p.sum()


def split_sequences(sequences: Sequence[np.ndarray], val_fraction: float, min_frames: int) -> tuple[list, list]:
    """Carve validation from the end of every sequence: ``(train parts, validation parts)``.

    The last ``val_fraction`` of each sequence (if at least ``min_frames`` long) goes to validation;
    a gap is not needed because windows never cross the cut.
    """
    train, val = [], []
    for seq in sequences:
        n_val = int(round(seq.shape[0] * val_fraction))
        if val_fraction > 0 and n_val >= min_frames and seq.shape[0] - n_val >= min_frames:
            train.append(seq[:-n_val])
            val.append(seq[-n_val:])
        else:
            train.append(seq)
    return train, val


# --------------------------------------------------------------------------------- augmentation
def mirror(batch, skeleton: Skeleton, axis: int = 0):
    """Left/right mirror of a ``(..., J, 3)`` torch batch (reflect ``axis``, swap twins)."""
    import torch

    perm = torch.as_tensor(skeleton.mirror_permutation, device=batch.device)
    sign = torch.ones(3, dtype=batch.dtype, device=batch.device)
    sign[axis] = -1
    return batch.index_select(-2, perm) * sign


def reverse(batch):
    """Time reversal of a ``(B, L, J, 3)`` batch."""
    return batch.flip(1)


def yaw(batch, angles, centre=None):
    """Rotate a ``(B, L, J, 3)`` batch about the vertical (y) axis by ``angles (B,)`` radians around
    ``centre (B, 3)`` (default: the root of each window's first frame)."""
    import torch

    c, s = torch.cos(angles), torch.sin(angles)
    zero, one = torch.zeros_like(c), torch.ones_like(c)
    rot = torch.stack([c, zero, s, zero, one, zero, -s, zero, c], dim=-1).reshape(-1, 1, 1, 3, 3)
    if centre is None:
        centre = batch[:, 0, 0]
    centre = centre.reshape(-1, 1, 1, 3)
    return ((batch - centre).unsqueeze(-2) @ rot.transpose(-1, -2)).squeeze(-2) + centre


def rescale_bones(windows: np.ndarray, skeleton: Skeleton, factors: np.ndarray) -> np.ndarray:
    """World windows ``(B, L, J, 3)`` with every bone (joint ``j`` to its parent) scaled by ``factors (B, J)``
    (entry 0, the root's, unused): the root trajectory and every bone's direction stay, only the lengths
    change (`posecast.kinematics.fk.set_bone_lengths`)."""
    import torch

    from posecast.kinematics.fk import bone_lengths, set_bone_lengths

    w = torch.as_tensor(np.asarray(windows, dtype=np.float64))
    f = np.asarray(factors, dtype=np.float64)
    if w.ndim != 4 or w.shape[2] != skeleton.num_joints or f.shape != (w.shape[0], skeleton.num_joints):
        raise ValueRangeError(
            f"rescale_bones needs windows (B, L, {skeleton.num_joints}, 3) and factors (B, {skeleton.num_joints}), "
            f"got {tuple(w.shape)} and {f.shape}"
        )
    children = [j for j, p in enumerate(skeleton.parents) if p >= 0]
    lengths = bone_lengths(w, skeleton) * torch.as_tensor(f[:, None, children])
    return set_bone_lengths(w, lengths, skeleton).numpy()


def random_proportions(
    rng: np.random.Generator, skeleton: Skeleton, count: int, bones: float, scale: float
) -> np.ndarray:
    """``(count, J)`` bone factors for `rescale_bones`: another person's body, a whole-body factor uniform in
    ``[1 - scale, 1 + scale]`` times a factor per bone uniform in ``[1 - bones, 1 + bones]``, the same for a bone
    and its left/right twin (people are symmetric)."""
    per_bone = rng.uniform(1 - bones, 1 + bones, size=(count, skeleton.num_joints))
    twin = np.asarray(skeleton.mirror_permutation)
    per_bone = np.where(twin[None] < np.arange(skeleton.num_joints)[None], per_bone[:, twin], per_bone)
    return per_bone * rng.uniform(1 - scale, 1 + scale, size=(count, 1))


def tilt(windows: np.ndarray, angles: np.ndarray, azimuths: np.ndarray, root: int = 0) -> np.ndarray:
    """World windows ``(B, L, J, 3)`` (y up) rotated by ``angles`` radians — ``(B,)``, one per window, or ``(B, L)``,
    one per frame (a body going down or getting up) — about a horizontal axis at ``azimuths (B,)`` radians from x
    in the ground plane, through each window's mean ``root`` position: a body leaning, bending over or lying
    instead of upright."""
    from scipy.spatial.transform import Rotation

    w = np.asarray(windows, dtype=np.float64)
    b, length = w.shape[:2]
    a, z = np.asarray(angles, dtype=np.float64), np.asarray(azimuths, dtype=np.float64)
    if a.shape not in ((b,), (b, length)) or z.shape != (b,):
        raise ValueRangeError(f"tilt needs angles ({b},) or ({b}, {length}) and azimuths ({b},) for {w.shape} windows")
    a = np.broadcast_to(a.reshape(b, -1), (b, length))
    axis = np.stack([np.cos(z), np.zeros_like(z), np.sin(z)], axis=-1)  # (B, 3) unit, horizontal
    rot = Rotation.from_rotvec((axis[:, None] * a[..., None]).reshape(-1, 3)).as_matrix().reshape(b, length, 3, 3)
    centre = w[:, :, root].mean(axis=1)[:, None, None]
    return np.einsum("blik,bljk->blji", rot, w - centre) + centre


def tilt_ramps(rng: np.random.Generator, angles: np.ndarray, length: int) -> np.ndarray:
    """``(B, L)`` per-frame tilts going from upright to ``angles (B,)`` (radians) over a random span of the window
    (start and end uniform, a smoothstep between) — or, for half of the windows drawn at random, back from it: a
    person lying down or getting up (`tilt`)."""
    a = np.asarray(angles, dtype=np.float64)
    b = len(a)
    ends = np.sort(rng.uniform(0.0, length - 1.0, size=(b, 2)), axis=1)
    t = np.arange(length, dtype=np.float64)[None]
    u = np.clip((t - ends[:, :1]) / np.maximum(ends[:, 1:] - ends[:, :1], 1.0), 0.0, 1.0)
    u = u * u * (3.0 - 2.0 * u)
    u = np.where(rng.random(b)[:, None] < 0.5, u, 1.0 - u)
    return a[:, None] * u


@dataclass(frozen=True)
class BodyAugment:
    """Other people and other postures than the training corpus's: each window's bones rescaled
    (`random_proportions`: a whole-body factor in ``1 +- scale`` times a factor per bone in ``1 +- bones``, twins
    alike) and, with probability ``tilt_probability``, the whole window tilted off the vertical by up to
    ``tilt_degrees`` about a random horizontal axis (`tilt`: leaning, bending, lying); of the tilted windows, the
    fraction ``tilt_ramp`` goes down to (or up from) that tilt within the window instead (`tilt_ramps`: lying down,
    getting up); numpy world windows ``(B, L, J, 3)`` on ``skeleton``. Why (validation only,
    ``benchmarks/lifter_bodies.py``): the lifter trained without it lost 4-16 mm past MPJPE on other bodies and
    18-30 mm on bodies tilted by 30 degrees."""

    skeleton: Skeleton
    bones: float = 0.0
    scale: float = 0.0
    tilt_degrees: float = 0.0
    tilt_probability: float = 0.0
    tilt_ramp: float = 0.0

    def __call__(self, windows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        b = len(windows)
        if self.bones > 0 or self.scale > 0:
            windows = rescale_bones(
                windows, self.skeleton, random_proportions(rng, self.skeleton, b, self.bones, self.scale)
            )
        if self.tilt_degrees > 0 and self.tilt_probability > 0:
            on = rng.random(b) < self.tilt_probability
            angles = np.where(on, np.deg2rad(rng.uniform(0.0, self.tilt_degrees, b)), 0.0)
            azimuths = rng.uniform(0.0, 2 * np.pi, b)
            if self.tilt_ramp > 0:  # drawn only when asked for, so that other runs keep their random streams
                ramp = rng.random(b) < self.tilt_ramp
                angles = np.where(ramp[:, None], tilt_ramps(rng, angles, windows.shape[1]), angles[:, None])
            windows = tilt(windows, angles, azimuths)
        return windows
