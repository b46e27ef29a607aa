"""What every renderer needs, computed once: the clip's timeline, colours, bones and camera.

A `Scene` is the validated content of one picture: an observed history, forecast samples and the
true future, all on one skeleton and one frame rate. The timeline runs through the history frames
first and then through the forecast frames (frame ``T + k`` shows forecast frame ``k``).

Geometry helpers work in PoseCast's data frame (metres, y up, right-handed). Matplotlib's 3D
axes put their third axis up, so `to_mpl` cycles the coordinates ``(x, y, z) -> (z, x, y)``: a cyclic
permutation keeps the handedness (the body is not mirrored) and puts y on the vertical axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.ndimage import gaussian_filter1d

from posecast.errors import SkeletonError, ValueRangeError
from posecast.motion import Forecast, Motion
from posecast.skeletons.base import Skeleton
from posecast.skeletons.canonical import UP_ROTATIONS, motion_up_axis

# ------------------------------------------------------------------------------------ colours
HISTORY_COLOR = "#1f3b73"
"""Observed motion: dark blue."""
HISTORY_LEFT_COLOR = "#5b8ed6"
"""Bones of the observed body's left side: a lighter blue, so left and right can be told apart."""
LAST_POSE_COLOR = "#7f7f7f"
"""The last observed pose, shown faintly while the forecast plays: grey."""
GROUND_TRUTH_COLOR = "#1a9641"
"""The true future: green (drawn dashed)."""
SAMPLE_COLORS = ("#d62728", "#ff7f0e")
"""Forecast samples run from red (most probable) to orange (least probable)."""
FLOOR_COLOR = "#b0b0b0"
SHADOW_COLOR = "#9a9a9a"

ZERO_BONE_M = 1e-4
"""Bones shorter than this (metres) in every frame are not drawn (CMU's LHipJoint, end-site stubs)."""
#: a "bone" from a top joint whose length varies by more than this over the clip is a translation, not a bone
#: (Bandai's ``joint_Root`` under a ``Hips`` that walks away): it is not drawn and the child starts a new tree.
#: Only top joints' bones are judged so: estimated skeletons (a video model's body-17) stretch real bones by
#: up to ~16 cm, and those are drawn
TRANSLATING_BONE_M = 0.25
#: a top joint on the floor (at most this above the lowest other joint, median over the frames) with a bone
#: longer than `WORLD_ROOT_BONE_M` is a world root (Bandai's ``joint_Root`` or Unreal's ``root`` under a person
#: standing in place): its bone is not drawn either — a pelvis is never that low below its child
FLOOR_TOLERANCE_M = 0.03
WORLD_ROOT_BONE_M = 0.3

Camera = Literal["auto", "fixed", "follow"]

#: seconds of history drawn before a forecast (the newest): a forecast from a 30-minute take is not preceded by
#: 30 minutes of video; the title says how much was observed in all
FORECAST_HISTORY_S = 10.0


@dataclass(frozen=True, eq=False)
class Scene:
    """Validated content of one rendering.

    Attributes:
        skeleton: joint layout shared by everything drawn.
        fps: frame rate of the timeline (the forecast's rate when there is one).
        history: ``(T, J, 3)`` observed positions, or ``None``.
        samples: ``(S, F, J, 3)`` forecast hypotheses, or ``None``.
        ground_truth: ``(F, J, 3)`` true future, or ``None``.
        probabilities: ``(S,)`` weights of the samples, or ``None``.
        total_samples: how many samples the forecast had before any were left out.
        model: name of the forecasting model ("" when unknown).
        source: short name of the clip (file name) or "".
        up: the data's up axis (``"+y"``, ``"+z"``...): the positions above are turned so that it points up on
            the screen (`posecast.skeletons.canonical.up_axes`; the forecast's own ``metadata["up_axis"]``
            when it has one), so a z-up recording is drawn standing.
        history_start_s: time of the first drawn history frame in the whole history (the clock starts there);
            ``observed_s``: the whole history's span (more than drawn when only its newest seconds are).
    """

    skeleton: Skeleton
    fps: float
    history: np.ndarray | None
    samples: np.ndarray | None
    ground_truth: np.ndarray | None
    probabilities: np.ndarray | None
    total_samples: int
    model: str
    source: str
    up: str = "+y"
    history_start_s: float = 0.0
    observed_s: float | None = None

    @property
    def num_history(self) -> int:
        """``T``: observed frames (0 without a history)."""
        return 0 if self.history is None else self.history.shape[0]

    @property
    def num_future(self) -> int:
        """``F``: future frames (forecast samples or ground truth; 0 for a plain motion)."""
        if self.samples is not None:
            return self.samples.shape[1]
        return 0 if self.ground_truth is None else self.ground_truth.shape[0]

    @property
    def num_frames(self) -> int:
        """Frames on the timeline: ``T + F``."""
        return self.num_history + self.num_future

    @property
    def num_samples(self) -> int:
        return 0 if self.samples is None else self.samples.shape[0]

    @property
    def duration(self) -> float:
        """Seconds from the first to the last frame of the timeline."""
        return (self.num_frames - 1) / self.fps

    def is_future(self, frame: int) -> bool:
        """True when timeline ``frame`` lies in the forecast part."""
        return frame >= self.num_history

    def frame_label(self, frame: int) -> str:
        """``"t = 1.20 s  observed"`` or ``"t = 1.60 s  forecast +0.40 s"`` for timeline ``frame``."""
        t = self.history_start_s + frame / self.fps
        if not self.is_future(frame):
            return f"t = {t:5.2f} s  observed"
        ahead = (frame - self.num_history + 1) / self.fps
        return f"t = {t:5.2f} s  forecast +{ahead:.2f} s"

    def all_points(self, joints: np.ndarray | None = None) -> np.ndarray:
        """``(N, 3)`` every position of ``joints`` (default: all) anywhere on the timeline."""
        sel = slice(None) if joints is None else joints
        arrays = (self.history, self.samples, self.ground_truth)
        return np.concatenate([a[..., sel, :].reshape(-1, 3) for a in arrays if a is not None])

    def frame_points(self, frame: int, last_observed: bool = True, joints: np.ndarray | None = None) -> np.ndarray:
        """``(N, 3)`` the positions of ``joints`` (default: all) at timeline ``frame`` (with ``last_observed``, the
        faint last observed pose during the forecast)."""
        sel = slice(None) if joints is None else joints
        t = self.num_history
        if frame < t:
            return self.history[frame][sel]
        k = frame - t
        parts = [] if self.history is None or not last_observed else [self.history[-1][sel]]
        if self.samples is not None:
            parts.append(self.samples[:, k][:, sel].reshape(-1, 3))
        if self.ground_truth is not None:
            parts.append(self.ground_truth[k][sel])
        return np.concatenate(parts)

    def reference_positions(self) -> np.ndarray:
        """``(T', J, 3)`` real (observed or true) positions, the forecast samples when there are none."""
        real = [a for a in (self.history, self.ground_truth) if a is not None]
        if real:
            return np.concatenate(real)
        return self.samples.reshape(-1, *self.samples.shape[2:])


# ------------------------------------------------------------------------------- building
def _as_future(value: Motion | np.ndarray, skeleton: Skeleton, what: str, fps: float) -> np.ndarray:
    if isinstance(value, Motion):
        if not value.skeleton.same_layout(skeleton):
            raise SkeletonError(
                f"{what} is on skeleton {value.skeleton.name!r} but the history is on {skeleton.name!r}"
            )
        if abs(value.fps - fps) > 1e-6:
            value = value.resample(fps)
        arr = value.positions
    else:
        arr = np.asarray(value, dtype=np.float64)
    j = skeleton.num_joints
    if arr.ndim != 3 or arr.shape[1:] != (j, 3):
        raise SkeletonError(f"{what} of shape {arr.shape} does not match (F, {j}, 3) for skeleton {skeleton.name!r}")
    if arr.shape[0] == 0:
        raise ValueRangeError(f"{what} has no frames")
    if not np.isfinite(arr).all():
        raise ValueRangeError(f"{what} contains NaN or inf")
    return arr


def build_scene(
    obj: Motion | Forecast,
    forecast: Forecast | None = None,
    ground_truth: Motion | np.ndarray | None = None,
    max_samples: int | None = None,
    up: str | None = None,
    max_history_s: float | None = FORECAST_HISTORY_S,
) -> Scene:
    """Check and gather what to draw.

    Args:
        obj: a `Motion` (the observed history, or the whole clip) or a `Forecast` (with its own
            ``history``, ``samples`` and optional ``ground_truth``).
        forecast: a forecast continuing ``obj`` when ``obj`` is a `Motion`.
        ground_truth: the true future, ``(F, J, 3)`` or a `Motion`; overrides the forecast's own.
            With a plain `Motion` and no forecast it is drawn as the continuation of the motion.
        max_samples: keep at most this many samples (the most probable ones, else the first ones).
        up: the data's up axis (``x``, ``y``, ``z``, ``-x``...; `data_up_axis` finds it when None).
        max_history_s: before a forecast, draw only this many seconds of the newest history (None: all); a motion
            alone is drawn whole.

    Raises:
        ValueRangeError: empty inputs, a wrong object type, ``max_samples < 1``, an unknown ``up``.
        SkeletonError: history, samples and ground truth on different skeletons or of wrong shapes.
    """
    if isinstance(obj, Forecast):
        if forecast is not None:
            raise ValueRangeError("give either a Forecast or a Motion plus forecast=, not both")
        forecast, history = obj, obj.history
    elif isinstance(obj, Motion):
        history = obj
    else:
        raise ValueRangeError(f"can only render a Motion or a Forecast, not {type(obj).__name__}")
    if forecast is not None and not isinstance(forecast, Forecast):
        raise ValueRangeError(f"forecast= must be a Forecast, not {type(forecast).__name__}")
    if max_samples is not None and (not isinstance(max_samples, int | np.integer) or max_samples < 1):
        raise ValueRangeError(f"max_samples must be a positive integer, got {max_samples!r}")

    skeleton = forecast.skeleton if forecast is not None else history.skeleton
    fps = forecast.fps if forecast is not None else history.fps
    hist = None
    history_start_s, observed_s = 0.0, None
    if history is not None:
        if not history.skeleton.same_layout(skeleton):
            raise SkeletonError(
                f"history is on skeleton {history.skeleton.name!r} ({history.num_joints} joints) but the "
                f"forecast samples are on {skeleton.name!r} ({skeleton.num_joints} joints)"
            )
        if history.num_frames == 0:
            raise ValueRangeError("history has no frames")
        observed_s = history.duration
        if forecast is not None and max_history_s is not None:  # only the newest seconds before a forecast
            start = max(0, history.num_frames - 1 - int(round(max_history_s * history.fps)))
            if start:
                history, history_start_s = history.frames(start), start / history.fps
        if forecast is not None and (
            forecast.metadata.get("history_seconds") is not None or "clip_start_s" in forecast.metadata
        ):
            # a forecast that kept only the newest seconds (history=), or a video's past from its first detection:
            # its clock is the take's or the clip's (start_time)
            history_start_s += float(forecast.metadata.get("start_time") or 0.0)
        # A forecast made at another rate: bring the history to the forecast's rate.
        hist = (history if abs(history.fps - fps) < 1e-6 else history.resample(fps, anchor="end")).positions

    samples = probs = None
    total = 0
    model = ""
    gt = None
    if forecast is not None:
        samples, probs, model = forecast.samples, forecast.probabilities, forecast.model
        total = samples.shape[0]
        if max_samples is not None and total > max_samples:
            keep = np.arange(max_samples) if probs is None else np.sort(np.argsort(-probs, kind="stable")[:max_samples])
            samples = samples[keep]
            probs = None if probs is None else probs[keep]
        gt = forecast.ground_truth
    if ground_truth is not None:
        gt = _as_future(ground_truth, skeleton, "ground truth", fps)
        if samples is not None and gt.shape[0] != samples.shape[1]:
            raise SkeletonError(f"ground truth has {gt.shape[0]} frames but the forecast has {samples.shape[1]}")
    if hist is None and samples is None:
        raise ValueRangeError("nothing to draw: the forecast has no samples and there is no history")

    meta = (history.metadata if history is not None else {}) or (forecast.metadata if forecast is not None else {})
    source = str(meta.get("source") or "")
    source = source.replace("\\", "/").rsplit("/", 1)[-1]
    up = data_up_axis(forecast, hist, samples, skeleton) if up is None else given_up_axis(up)
    if up != "+y":  # turned so the data's up axis points up on the screen
        rot = UP_ROTATIONS[up].T  # row vectors: p @ R^T = R p
        hist, samples, gt = (None if a is None else np.asarray(a) @ rot for a in (hist, samples, gt))
    return Scene(
        skeleton=skeleton,
        fps=float(fps),
        history=hist,
        samples=samples,
        ground_truth=gt,
        probabilities=probs,
        total_samples=total,
        model=model,
        source=source,
        up=up,
        history_start_s=history_start_s,
        observed_s=observed_s,
    )


def data_up_axis(
    forecast: Forecast | None, history: np.ndarray | None, samples: np.ndarray | None, skeleton: Skeleton
) -> str:
    """The data's up axis: the forecast's ``metadata["up_axis"]``, else found from the history (the samples
    without one) when the skeleton maps onto the canonical body, else ``"+y"``."""
    if forecast is not None and forecast.metadata.get("up_axis") in UP_ROTATIONS:
        return str(forecast.metadata["up_axis"])
    data = history if history is not None else (None if samples is None else samples[0])
    if data is None:
        return "+y"
    return motion_up_axis(data, skeleton) or "+y"


def given_up_axis(up: str) -> str:
    """A user's up axis (``"z"``, ``"+z"``, ``"-y"``...) as a key of ``UP_ROTATIONS``; a `ValueRangeError` else."""
    key = str(up).strip().lower()
    key = key if key[:1] in "+-" else "+" + key
    if key not in UP_ROTATIONS:
        raise ValueRangeError(f"up axis {up!r}: use x, y, z, -x, -y or -z")
    return key


def up_note(up: str) -> str:
    """The footer's word on the vertical: ``"y up"``, or ``"z up in the data, drawn upright"``."""
    return "y up" if up == "+y" else f"{up.lstrip('+')} up in the data, drawn upright"


# ---------------------------------------------------------------------------------- bones
def drawn_parents(parents: tuple[int, ...] | np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Parent of each joint in the drawing, ``-2`` for joints left out.

    A joint whose bone to its parent has zero length in every frame (``< ZERO_BONE_M``) is not
    drawn; its children hang from its nearest drawn ancestor, which sits at the same place. A child of
    the top joint is joined to it by a translation, not a bone, and drawn as the root of its own tree
    (``-1``) when their distance changes by more than `TRANSLATING_BONE_M` over the frames, or when the
    top joint is a world root on the floor (`FLOOR_TOLERANCE_M`, `WORLD_ROOT_BONE_M`); the top joint is
    then drawn by no bone.

    Args:
        parents: ``(J,)`` parent indices (``-1`` for the root).
        positions: ``(T, J, 3)`` positions used to measure bone lengths, y up.

    Returns:
        ``(J,)`` int array: ``-1`` for the root, ``-2`` for skipped joints, else the drawn parent.
    """
    par = np.asarray(parents, dtype=np.int64)
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, par.shape[0], 3)
    out = par.copy()
    child = np.arange(1, par.shape[0])
    lengths = np.linalg.norm(pos[:, child] - pos[:, par[1:]], axis=-1)  # (T, J-1)
    length = lengths.max(axis=0)
    skip = np.zeros(par.shape[0], dtype=bool)
    skip[1:] = length < ZERO_BONE_M
    translating = np.zeros(par.shape[0], dtype=bool)
    top = par[1:] == 0  # children of the top joint
    translating[1:] = top & (length - lengths.min(axis=0) > TRANSLATING_BONE_M)
    if par.shape[0] > 2:  # a world root on the floor under the body
        above = np.median(pos[:, 0, 1] - pos[:, 1:, 1].min(axis=1))
        if above <= FLOOR_TOLERANCE_M:
            translating[1:] |= top & (np.median(lengths, axis=0) > WORLD_ROOT_BONE_M)
    for j in range(1, par.shape[0]):
        p = par[j]
        while p > 0 and skip[p]:
            p = par[p]
        out[j] = -2 if skip[j] else (-1 if translating[j] else p)
    return out


def bone_chains(parents: tuple[int, ...] | np.ndarray, positions: np.ndarray) -> list[list[int]]:
    """The drawn bones cut into chains (polylines of joint indices), one chain per branch.

    Each joint continues its parent's chain through its first drawn child; other children start a
    new chain at the parent. The 38-joint CMU benchmark skeleton has 10 zero-length bones; its 27
    real ones become 7 chains of 34 vertices in all. Zero-length bones are left out (see
    `drawn_parents`).

    Args:
        parents: ``(J,)`` parent indices.
        positions: ``(T, J, 3)`` positions used to find zero-length bones.

    Returns:
        chains of joint indices, each at least two long; ``[[0]]`` when there is no bone to draw.
    """
    drawn = drawn_parents(parents, positions)
    children: dict[int, list[int]] = {}
    for j, p in enumerate(drawn):
        if p >= 0:
            children.setdefault(int(p), []).append(j)
    chains: list[list[int]] = []
    roots = [j for j, p in enumerate(drawn) if p == -1]
    starts = [(r, c) for r in roots for c in children.get(r, [])]
    while starts:
        parent, first = starts.pop(0)
        chain = [parent, first]
        node = first
        while children.get(node):
            kids = children[node]
            starts.extend((node, k) for k in kids[1:])
            node = kids[0]
            chain.append(node)
        chains.append(chain)
    return chains or [[0]]


def is_left_chain(chain: list[int], skeleton: Skeleton) -> bool:
    """True when most joints of ``chain`` after its first (the branching parent) are left joints."""
    left = {a for a, _ in skeleton.left_right}
    tail = chain[1:] or chain
    return 2 * sum(j in left for j in tail) > len(tail)


def polyline_index(chains: list[list[int]]) -> np.ndarray:
    """``(N,)`` joint indices of ``chains`` one after the other with ``-1`` between chains.

    Renderers draw one line per skeleton: ``positions[index]`` with a gap (NaN / None) wherever the
    index is ``-1``. An empty list gives an empty index.
    """
    out: list[int] = []
    for chain in chains:
        if out:
            out.append(-1)
        out.extend(chain)
    return np.asarray(out, dtype=np.int64)


def skeleton_index(scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Polyline indices of the scene's skeleton: ``(all bones, left-side bones, other bones)``."""
    chains = bone_chains(scene.skeleton.parents, scene.reference_positions())
    left = [c for c in chains if is_left_chain(c, scene.skeleton)]
    other = [c for c in chains if not is_left_chain(c, scene.skeleton)]
    return polyline_index(chains), polyline_index(left), polyline_index(other)


def drawn_joints(scene: Scene) -> np.ndarray:
    """``(N,)`` sorted indices of the joints some bone is drawn to (`skeleton_index`): what the view must show.
    A world root the drawing leaves out (Bandai's ``joint_Root`` at the origin) is not among them."""
    index = skeleton_index(scene)[0]
    return np.unique(index[index >= 0])


def gather(points: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``(..., N, 3)`` positions ``points[..., index, :]`` with NaN rows where ``index == -1``."""
    out = np.take(points, np.where(index < 0, 0, index), axis=-2)
    out[..., index < 0, :] = np.nan
    return out


# ------------------------------------------------------------------------------- geometry
def to_mpl(points: np.ndarray) -> np.ndarray:
    """``(..., 3)`` data coordinates ``(x, y, z)`` → matplotlib coordinates ``(z, x, y)`` (y vertical)."""
    return points[..., [2, 0, 1]]


def floor_height(scene: Scene) -> float:
    """Height (y, metres) of the ground plane: the lowest real (observed or true) joint position."""
    return float(scene.reference_positions()[..., 1].min())


def facing_direction(scene: Scene) -> np.ndarray:
    """``(2,)`` unit ``(x, z)`` direction the body faces at the last observed frame.

    From the skeleton's left/right pairs: forward = (left - right) x up. ``(0, 1)`` (+z) when the
    skeleton has no pairs.
    """
    ref = scene.history[-1] if scene.history is not None else scene.reference_positions()[0]
    pairs = np.asarray(scene.skeleton.left_right, dtype=np.int64).reshape(-1, 2)
    if pairs.shape[0]:
        across = (ref[pairs[:, 0]] - ref[pairs[:, 1]]).mean(axis=0)
        fwd = np.array([-across[2], across[0]])  # (left - right) x (0, 1, 0), in (x, z)
        n = float(np.linalg.norm(fwd))
        if n > 1e-6:
            return fwd / n
    return np.array([0.0, 1.0])


def view_direction(scene: Scene, azim: float | None = None) -> np.ndarray:
    """``(2,)`` unit ``(x, z)`` direction from the body towards the viewer.

    By default the camera stands 35 degrees to the side of the body's front, which shows both depth
    and the face side; ``azim`` (degrees, about the vertical axis from +z towards +x) overrides it.
    """
    if azim is not None:
        a = math.radians(azim)
        return np.array([math.sin(a), math.cos(a)])
    f = facing_direction(scene)
    a = math.radians(35.0)
    return np.array([f[0] * math.cos(a) + f[1] * math.sin(a), -f[0] * math.sin(a) + f[1] * math.cos(a)])


@dataclass(frozen=True)
class Bounds:
    """Axis limits in data coordinates.

    Attributes:
        lo, hi: ``(3,)`` fixed limits over the whole clip (equal scale on all axes).
        centres: ``(N, 3)`` per timeline frame centre for a following camera, or ``None`` (fixed).
        half: ``(3,)`` half-sizes of the following window (used with ``centres``).
        floor: ground height.
    """

    lo: np.ndarray
    hi: np.ndarray
    centres: np.ndarray | None
    half: np.ndarray
    floor: float

    def limits(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """``(lo, hi)`` limits for timeline ``frame``."""
        if self.centres is None:
            return self.lo, self.hi
        c = self.centres[frame]
        return c - self.half, c + self.half

    def contains(self, frame: int, points: np.ndarray) -> bool:
        """Whether every ``(N, 3)`` point lies inside the box at timeline ``frame`` (horizontally)."""
        lo, hi = self.limits(frame)
        xz = np.asarray(points)[:, [0, 2]]
        return bool(((xz >= lo[[0, 2]]) & (xz <= hi[[0, 2]])).all())

    @property
    def size(self) -> np.ndarray:
        """``(3,)`` extent of the view box (fixed or following)."""
        return 2 * self.half


#: a following box holds the faint last observed pose too unless that makes it more than this many times as wide
#: as the one that follows the body alone (a 1 s forecast keeps it in view; a 20 s walk leaves it behind)
GHOST_FOLLOW_RATIO = 2.0


def last_pose_in_view(scene: Scene, bounds: Bounds, frame: int, drawn: np.ndarray | None = None) -> bool:
    """Whether the faint last observed pose is inside the view box at timeline ``frame`` (a following camera may
    leave it behind: it is hidden then); its ``drawn`` joints (default `drawn_joints`). False without a history."""
    if scene.history is None:
        return False
    joints = drawn_joints(scene) if drawn is None else drawn
    return bounds.contains(frame, scene.history[-1][joints])


def scene_bounds(scene: Scene, camera: Camera = "auto", margin: float = 0.15) -> Bounds:
    """Axis limits that keep every drawn point in view without ever jumping.

    * ``fixed``: one box containing everything on the whole timeline (plus the floor).
    * ``follow``: a box of constant size whose horizontal centre follows the content, smoothed
      with a Gaussian of 0.5 s; its size is chosen so each frame's content stays inside — the faint last
      observed pose included, unless that would make the box more than `GHOST_FOLLOW_RATIO` times as wide
      (the forecast walks far away from it): then it is hidden while it is out of the box (`Bounds.contains`).
    * ``auto``: ``fixed`` unless that box would be more than 1.6 times as wide as the following
      one (the body walks or runs away), then ``follow``.

    Horizontal extents are at least as large as the vertical one, so a person standing still is
    not drawn in a thin slab. Vertical limits never move.
    """
    if camera not in ("auto", "fixed", "follow"):
        raise ValueRangeError(f"camera must be 'auto', 'fixed' or 'follow', not {camera!r}")
    floor = floor_height(scene)
    # only joints a bone is drawn to: a world root that the drawing leaves out (Bandai's ``joint_Root`` at the
    # origin while a 20 s forecast walks 15 m away) would otherwise size the box and shrink the body to a speck
    drawn = drawn_joints(scene)
    pts = scene.all_points(drawn)
    y_lo = min(floor, float(pts[:, 1].min())) - 0.02
    y_hi = float(pts[:, 1].max()) + margin
    height = y_hi - y_lo

    lo = pts.min(axis=0) - margin
    hi = pts.max(axis=0) + margin
    lo[1], hi[1] = y_lo, y_hi
    half = (hi - lo) / 2
    mid = (hi + lo) / 2
    half[[0, 2]] = max(half[0], half[2], height / 2)
    fixed = Bounds(lo=mid - half, hi=mid + half, centres=None, half=half, floor=floor)
    if camera == "fixed" or scene.num_frames < 2:
        return fixed

    def following(last_observed: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(centres (N, 3), half-sizes (3,))`` of a box following each frame's content."""
        n = scene.num_frames
        frame_lo, frame_hi = np.empty((n, 3)), np.empty((n, 3))
        for f in range(n):
            p = scene.frame_points(f, last_observed=last_observed, joints=drawn)
            frame_lo[f], frame_hi[f] = p.min(axis=0), p.max(axis=0)
        centre = gaussian_filter1d((frame_lo + frame_hi) / 2, sigma=0.5 * scene.fps, axis=0, mode="nearest")
        reach = np.maximum(np.abs(frame_hi - centre), np.abs(frame_lo - centre)).max(axis=0) + margin
        fhalf = np.array([max(reach[0], reach[2], height / 2), height / 2, 0.0])
        fhalf[2] = fhalf[0]
        centre[:, 1] = (y_lo + y_hi) / 2
        return centre, fhalf

    centre, fhalf = following(last_observed=True)
    if scene.history is not None and scene.num_future:
        body_centre, body_half = following(last_observed=False)
        if fhalf[0] > GHOST_FOLLOW_RATIO * body_half[0]:  # the forecast leaves the last observed pose far behind
            centre, fhalf = body_centre, body_half
    if camera == "auto" and max(half[0], half[2]) <= 1.6 * fhalf[0]:
        return fixed
    return Bounds(lo=fixed.lo, hi=fixed.hi, centres=centre, half=fhalf, floor=floor)


def grid_step(extent: float) -> float:
    """A round grid spacing (0.25, 0.5, 1, 2 or 5 m) giving at most about 12 lines over ``extent``."""
    for step in (0.25, 0.5, 1.0, 2.0, 5.0):
        if extent / step <= 12:
            return step
    return 10.0


def floor_grid(lo: np.ndarray, hi: np.ndarray, floor: float, step: float) -> np.ndarray:
    """``(N, 3)`` polyline vertices of a ground grid over ``[lo, hi]`` in x and z, NaN between lines."""
    xs = np.arange(math.ceil(lo[0] / step), math.floor(hi[0] / step) + 1) * step
    zs = np.arange(math.ceil(lo[2] / step), math.floor(hi[2] / step) + 1) * step
    segs = []
    for x in xs:
        segs.append([[x, floor, lo[2]], [x, floor, hi[2]], [np.nan] * 3])
    for z in zs:
        segs.append([[lo[0], floor, z], [hi[0], floor, z], [np.nan] * 3])
    if not segs:
        return np.full((1, 3), np.nan)
    return np.asarray(segs, dtype=np.float64).reshape(-1, 3)


# ------------------------------------------------------------------------------- timeline
def output_frames(scene: Scene, fps: float, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """Timeline frames to show so that playback at the returned rate runs in real time.

    Args:
        scene: the content.
        fps: wanted output rate; frames are picked by nearest time (120 Hz data at 30 fps: every
            4th frame).
        max_frames: at most this many frames; a longer clip is shown at a lower rate instead.

    Returns:
        ``(indices (N,), fps_out)``: timeline frame indices (the first and last always included)
        and the playback rate.
    """
    if not math.isfinite(fps) or fps <= 0:
        raise ValueRangeError(f"output frame rate must be positive, got {fps!r}")
    if max_frames is not None and (not isinstance(max_frames, int | np.integer) or max_frames < 1):
        raise ValueRangeError(f"max_frames must be a positive integer, got {max_frames!r}")
    fps = min(float(fps), scene.fps)
    last = scene.num_frames - 1
    n = int(math.floor(scene.duration * fps + 1e-9)) + 1
    if max_frames is not None and n > max_frames:
        fps = (max_frames - 1) / scene.duration if max_frames > 1 else fps
        n = max_frames
    idx = np.rint(np.arange(n) / fps * scene.fps).astype(np.int64)
    idx = np.unique(np.clip(idx, 0, last))
    if idx[-1] != last and (max_frames is None or idx.shape[0] < max_frames):
        idx = np.append(idx, last)
    return idx, fps


def sample_styles(scene: Scene, alpha_range: tuple[float, float] = (0.2, 0.95)) -> list[tuple[str, float]]:
    """``(hex colour, alpha)`` for each kept forecast sample.

    Colours run from red (most probable, or first) to orange; with probabilities the opacity is
    proportional to ``p / max(p)`` within ``alpha_range``, without them it is the same for all
    samples and lower the more samples there are (``1.5 / sqrt(S)``, clipped to ``alpha_range``).
    """
    s = scene.num_samples
    if s == 0:
        return []
    a_lo, a_hi = alpha_range
    if scene.probabilities is not None and scene.probabilities.max() > 0:
        rel = scene.probabilities / scene.probabilities.max()
        alphas = a_lo + (a_hi - a_lo) * rel
        rank = np.argsort(np.argsort(-scene.probabilities, kind="stable"))
    else:
        alphas = np.full(s, float(np.clip(1.5 / math.sqrt(s), a_lo, a_hi)))
        rank = np.arange(s)
    c0, c1 = (np.array([int(h[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64) for h in SAMPLE_COLORS)
    out = []
    for i in range(s):
        w = rank[i] / max(s - 1, 1)
        rgb = np.rint(c0 * (1 - w) + c1 * w).astype(int)
        out.append(("#" + "".join(f"{v:02x}" for v in rgb), float(alphas[i])))
    return out


def title_text(scene: Scene, title: str | None = None, shown_fps: float | None = None) -> str:
    """Two-line title: the user's title (or the clip name), then skeleton, rates, horizon, model."""
    first = title or scene.source or "motion"
    facts = [f"{scene.skeleton.name} ({scene.skeleton.num_joints} joints)", f"{scene.fps:g} fps"]
    if shown_fps is not None and abs(shown_fps - scene.fps) > 1e-6:
        facts[-1] += f" (shown at {shown_fps:.3g} fps)"
    if scene.num_history and not scene.num_future:
        n = scene.num_history
        facts.append(f"{n} frame{'s' if n != 1 else ''} = {scene.duration:.2f} s")
    elif scene.num_history:
        shown = max(scene.num_history - 1, 0) / scene.fps  # as Motion.duration
        if scene.observed_s is not None and scene.observed_s > shown + 0.5 / scene.fps:
            facts.append(f"observed {scene.observed_s:.2f} s (the last {shown:.2f} s shown)")
        else:
            facts.append(f"observed {shown:.2f} s")
    if scene.num_future:
        facts.append(f"horizon {scene.num_future / scene.fps:.2f} s")
    if scene.samples is not None:
        facts.append(f"model {scene.model or 'unknown'}")
        shown = scene.num_samples
        facts.append(
            f"{shown} sample{'s' if shown != 1 else ''}"
            + (f" of {scene.total_samples}" if scene.total_samples != shown else "")
        )
    return first + "\n" + " · ".join(facts)


def legend_entries(scene: Scene) -> list[tuple[str, str, str, float]]:
    """``(label, colour, line style, alpha)`` for each kind of thing drawn, in drawing order."""
    out = []
    if scene.history is not None:
        out.append(("observed (light = left)", HISTORY_COLOR, "-", 1.0))
    if scene.samples is not None:
        label = "forecast" if scene.num_samples == 1 else f"forecast × {scene.num_samples}"
        if scene.num_samples > 1 and scene.probabilities is not None:
            label += " (opacity ∝ p)"
        out.append((label, SAMPLE_COLORS[0], "-", 0.9))
    if scene.ground_truth is not None:
        out.append(("ground truth", GROUND_TRUTH_COLOR, "--", 1.0))
    if scene.history is not None and scene.num_future:
        out.append(("last observed", LAST_POSE_COLOR, "-", 0.5))
    return out
