"""`Motion` and `Forecast`: the two data types everything in PoseCast passes around.

Both are plain containers of arrays (never per-frame objects). Units: metres, seconds, y up.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from posecast import skeletons
from posecast.errors import PosecastError, SkeletonError, ValueRangeError
from posecast.skeletons.base import Skeleton
from posecast.skeletons.mapping import map_positions

MAX_FPS = 10_000.0
#: the most frames `resample_indices` makes (about 28 h at 100 fps)
MAX_RESAMPLED_FRAMES = 10_000_000
#: metres: a joint further than this from the origin is not a body's (corrupt channels, wrong units by 1e6...):
#: motions, requests and files with one are refused, naming the frame (no capture volume is this large, and such
#: values overflow in the models)
MAX_POSITION_M = 1e5
#: joint speed (m/s, from one frame to the next) above which a step is taken for a capture glitch
#: (`posecast.datasets.training_data.cut_glitches`) or for leaving a first frame that is not part of the motion
#: (`detached_start`): Bandai Namco's fastest real motion, the feet of runs and kicks, reaches 10.2 m/s at 25 fps,
#: CMU BVH's 11.4; not a clean separator — a few glitch steps stay below it (12.0 m/s in CMU-Mocap
#: ``directing_traffic_1``)
GLITCH_SPEED = 12.5


def step_speeds(positions: np.ndarray, fps: float) -> np.ndarray:
    """``(T, J, 3)`` positions in metres at ``fps`` → ``(T - 1,)`` the fastest joint's speed (m/s) from each frame to
    the next."""
    if positions.shape[0] < 2:
        return np.zeros(0)
    return np.linalg.norm(np.diff(positions, axis=0), axis=-1).max(axis=-1) * fps


#: the most leading frames `detached_start` leaves out
MAX_DETACHED = 3


def detached_start(positions: np.ndarray, fps: float, limit: float = GLITCH_SPEED) -> int:
    """How many leading frames of ``positions (T, J, 3)`` (metres, at ``fps``) are not part of the motion: a rest
    pose written before it (the CMU BVH release's T-pose; other exporters do the same), maybe twice, maybe followed
    by a glitch. Some step among the first `MAX_DETACHED` moves a joint faster than ``limit`` m/s, which no body
    does: the frames up to the last such step go, provided the step after it is slower (else 0: too short or too
    glitchy to tell). At low frame rates a rest pose is not found this way (leaving it takes less speed)."""
    steps = step_speeds(positions[: MAX_DETACHED + 2], fps)
    fast = np.flatnonzero(steps[:MAX_DETACHED] > limit)
    if not fast.size:
        return 0
    last = int(fast[-1])
    if last + 1 >= steps.size or steps[last + 1] > limit:
        return 0
    return last + 1


#: a bone whose length is off its usual length (its median) by more than this (metres, plus 4 times the spread of
#: its length) and by more than `BROKEN_BONE_SHARE` of it is broken: its joint is not where the body is
BROKEN_BONE_M = 0.05
BROKEN_BONE_SHARE = 0.25
#: metres: a BVH written from a forecast (`Forecast.to_motion`) whose joints depart from the forecast's positions by
#: more than this is a visibly different motion, and ``posecast forecast`` says so. The shipped networks keep the rig's
#: body bones (`posecast.models.canonical.CanonicalForecaster._keep_rig_bones`), so their BVHs depart only where the
#: bones leaving one joint change their angles to each other: at 1 s 0.001 mm on CMU 02_01 and HDM05 depositFloorR, 11
#: mm on a Bandai walk (its Hips carries the spine and both thighs), for dct-mlp and st-transformer alike (2026-12-07;
#: before the rig's bones were kept, 8-31 mm for dct-mlp and 11-70 mm for st-transformer); a baseline extrapolating each
#: joint on its own (constant-velocity) departs by 0.9-2 m within 1 s. 5 cm is about a joint's own size: a shift a
#: viewer sees
BVH_DEPARTURE_NOTE_M = 0.05
#: bones shorter than this (metres) are helpers (CMU's hip joints): not judged
MIN_BONE_M = 0.01
#: metres: a joint this close to the origin is where trackers put what they lost (unless it usually is there)
ORIGIN_M = 1e-3
#: share of the frames a joint must sit at the origin in to be at home there (a world root), not lost
HOME_SHARE = 0.95
#: frames `Bones.measure` reads at most (evenly spread over a longer take)
MAX_MEASURED_FRAMES = 4000


@dataclass(frozen=True)
class Glitch:
    """Frames ``first..last`` (inclusive) where a tracker lost ``joint``: it jumped (faster than a body moves,
    `GLITCH_SPEED`, or it was lost from the first frame) to where its bones broke (`Bones.broken`) or to the
    origin; ``trailing``: still lost in the last frame. ``jump_m``: how far the jump was (0 from the first frame)."""

    joint: int
    first: int
    last: int
    trailing: bool
    jump_m: float


def sorted_median(values: np.ndarray) -> np.ndarray:
    """``np.median(values, axis=0)`` of finite ``values`` by a sort: the same numbers (the middle value, or the mean
    of the middle two) without ``np.median``'s checks, which cost more than the sort on the small arrays of a live
    stream's per-frame judging (about 35 us a call)."""
    if not len(values):  # as np.median: NaN
        return np.median(values, axis=0)
    s = np.sort(values, axis=0)
    n = s.shape[0]
    return 0.5 * (s[(n - 1) // 2] + s[n // 2])


@dataclass(frozen=True)
class Bones:
    """A skeleton's judged bones with their usual lengths, measured on some frames (`Bones.measure`): ``child``,
    ``parent`` ``(B,)`` joint indices (a joint and its nearest ancestor past zero-length helpers), ``usual``
    ``(B,)`` median lengths, ``spread`` ``(B,)`` robust spreads (metres), and ``home`` ``(J,)``: True for top
    joints that usually sit at the origin (a world root, or the root of root-relative data) and their zero-length
    helpers; ``strays`` ``(J,)``: joints at the origin only when lost (not at home there, and not a top joint: a
    world root may start at the origin and then carry root motion)."""

    child: np.ndarray
    parent: np.ndarray
    usual: np.ndarray
    spread: np.ndarray
    home: np.ndarray
    strays: np.ndarray

    @staticmethod
    def measure(positions: np.ndarray, parents: Sequence[int], rigid: bool = True) -> Bones:
        """The bones of ``positions (T, J, 3)`` on a skeleton with ``parents``; helpers (`MIN_BONE_M`) left out, and
        with ``rigid`` those whose length varies by more than `BROKEN_BONE_SHARE` of it."""
        pos = np.asarray(positions, dtype=np.float64)
        if pos.shape[0] > MAX_MEASURED_FRAMES:  # a long take: evenly spread frames tell the usual lengths as well
            pos = pos[np.linspace(0, pos.shape[0] - 1, MAX_MEASURED_FRAMES).round().astype(np.int64)]
        par = np.asarray(parents, dtype=np.int64)
        at_origin = np.linalg.norm(pos, axis=-1) < ORIGIN_M  # (T, J): where trackers put what they lost
        home = (par < 0) & (at_origin.mean(axis=0) >= HOME_SHARE)  # a world root kept at the origin

        def usual_lengths(child: np.ndarray, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # measured on the frames where neither end sits at the origin (a joint lost for most of them does not
            # make its broken length the usual one), all frames where there are none
            lengths = np.linalg.norm(pos[:, child] - pos[:, parent], axis=-1)  # (T, B)
            mask = at_origin[:, child] | at_origin[:, parent]
            if not mask.any() and np.isfinite(lengths).all():  # the usual case: the same numbers, 20x faster than
                med = sorted_median(lengths)  # masked arrays (a live stream measures its bones twice a second)
                return med, 1.4826 * sorted_median(np.abs(lengths - med))
            seen = np.ma.masked_array(lengths, mask=mask)
            some = seen.count(axis=0) > 0
            med = np.where(some, np.ma.median(seen, axis=0).filled(0.0), np.median(lengths, axis=0))
            dev = np.where(
                some, np.ma.median(np.abs(seen - med), axis=0).filled(0.0), np.median(np.abs(lengths - med), axis=0)
            )
            return med, 1.4826 * dev

        child = np.flatnonzero(par >= 0)
        direct, _ = usual_lengths(child, par[child])
        helper = np.zeros(len(par), dtype=bool)
        helper[child] = direct < MIN_BONE_M  # a zero-length helper: judged through the joints past it
        for c in child:  # (parents come first) helpers of a world root share its home: root-relative data's hips
            home[c] = helper[c] and home[par[c]]
        anchor = par.copy()
        for c in child:
            while anchor[c] >= 0 and helper[anchor[c]]:
                anchor[c] = par[anchor[c]]
        child = np.flatnonzero((anchor >= 0) & ~helper)
        usual, spread = usual_lengths(child, anchor[child])
        # judged: real bones that keep their length (a world root's or a floor root's "bone" is a translation whose
        # length varies; so is an estimated body's stretching one: none of them tells a lost joint)
        keep = (usual >= MIN_BONE_M) & ~home[anchor[child]]
        if rigid:
            keep &= spread <= BROKEN_BONE_SHARE * usual
        return Bones(child[keep], anchor[child[keep]], usual[keep], spread[keep], home, (par >= 0) & ~home)

    def lost(self, positions: np.ndarray, bone_broken: np.ndarray | None = None) -> np.ndarray:
        """``(..., J)`` True where a joint of ``positions (..., J, 3)`` is not with its body: every judged bone it
        has (to its parent and its children) is broken (`broken`), or it sits at the origin where it usually does
        not. ``bone_broken``: `bone_broken` of ``positions`` when the caller has it already."""
        pos = np.asarray(positions, dtype=np.float64)
        origin = (np.linalg.norm(pos, axis=-1) < ORIGIN_M) & self.strays
        return self.broken(pos, bone_broken) | origin

    def bone_broken(self, positions: np.ndarray) -> np.ndarray:
        """``(..., B)`` True where a judged bone of ``positions (..., J, 3)`` is off its usual length by more than
        `BROKEN_BONE_M` plus 4 spreads and `BROKEN_BONE_SHARE`."""
        pos = np.asarray(positions, dtype=np.float64)
        length = np.linalg.norm(pos[..., self.child, :] - pos[..., self.parent, :], axis=-1)  # (..., B)
        return np.abs(length - self.usual) > np.maximum(BROKEN_BONE_M + 4 * self.spread, BROKEN_BONE_SHARE * self.usual)

    def broken(self, positions: np.ndarray, bone_broken: np.ndarray | None = None) -> np.ndarray:
        """``(..., J)`` True where every judged bone a joint of ``positions (..., J, 3)`` has (to its parent and its
        children) is broken (`bone_broken`, or the ``bone_broken`` given)."""
        pos = np.asarray(positions, dtype=np.float64)
        broken = self.bone_broken(pos) if bone_broken is None else bone_broken
        ends, bones = self._ends
        return (bones > 0) & (broken.astype(np.int64) @ ends == bones)

    @functools.cached_property
    def _ends(self) -> tuple[np.ndarray, np.ndarray]:
        """``(B, J)`` int64, 1 where joint ``j`` is the child or the parent of bone ``b``, and ``(J,)`` its column
        sums, the judged bones of each joint (a live stream judges every frame: one product per frame instead of
        ``np.add.at`` over the bones)."""
        ends = np.zeros((len(self.child), len(self.home)), dtype=np.int64)
        np.add.at(ends, (np.arange(len(self.child)), self.child), 1)
        np.add.at(ends, (np.arange(len(self.parent)), self.parent), 1)
        return ends, ends.sum(axis=0)


def rigid_off_origin(positions: np.ndarray, parents: Sequence[int]) -> bool:
    """True when no joint of ``positions (T, J, 3)`` can be lost to a tracker (`Bones.lost`, `tracking_glitches`)
    or have a stretched bone (`stretched_bones`): every bone `Bones` could judge — a joint to its parent, and to
    each ancestor above a chain of joints that come within `MIN_BONE_M` of their parents (zero-length helpers, which
    `Bones` looks past) — keeps its length within a range narrower than `BROKEN_BONE_M` over all frames (so no
    length is ever that far from its usual one, whatever frames the usual one is measured on), and no joint with a
    parent comes within `ORIGIN_M` of the origin. Cheap (lengths only): motion capture replayed through its
    skeleton (BVH, ASF/AMC, also resampled) skips the tracking checks with the same answer."""
    pos = np.asarray(positions, dtype=np.float64)
    par = np.asarray(parents, dtype=np.int64)
    child = np.flatnonzero(par >= 0)
    if pos.shape[0] == 0 or not child.size:
        return True

    def ranges(c: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = pos[:, c] - pos[:, a]
        length = np.sqrt(np.einsum("tbk,tbk->tb", d, d))  # (T, B)
        return length.max(axis=0) - length.min(axis=0), length.min(axis=0)

    spread, shortest = ranges(child, par[child])
    if float(spread.max()) >= BROKEN_BONE_M:
        return False
    helper = np.zeros(len(par), dtype=bool)
    helper[child] = shortest < MIN_BONE_M  # may be a zero-length helper in some frames: `Bones` may look past it
    pairs = []
    for c in child:
        a = int(par[c])
        while a >= 0 and helper[a] and par[a] >= 0:
            a = int(par[a])
            pairs.append((int(c), a))
    if pairs:
        c, a = np.asarray(pairs).T
        if float(ranges(c, a)[0].max()) >= BROKEN_BONE_M:
            return False
    near = np.einsum("tjk,tjk->tj", pos[:, child], pos[:, child]) < ORIGIN_M**2
    return not bool(near.any())


#: how many times a joint's jitter (`jitter`) a step may exceed the fastest body speed before it is a jump
JITTER_STEPS = 8.0


#: second differences a jitter estimate needs: fewer (a 3-frame history) and one loss would be all there is
MIN_JITTER_STEPS = 5


def jitter(positions: np.ndarray) -> np.ndarray:
    """``(T, J, 3)`` positions → ``(J,)`` each joint's jitter (metres, the standard deviation of white noise on each
    coordinate that would explain it): from the median absolute second difference over frames and coordinates
    (noise of deviation s gives second differences of deviation s * sqrt(6); the median leaves the glitches out).
    Clean motion capture gives a fraction of a millimetre at 120 fps and up to about 6 mm at 25 fps (fast motion's
    own second differences); at lower rates motion itself reads as jitter."""
    pos = np.asarray(positions, dtype=np.float64)
    if pos.shape[0] < MIN_JITTER_STEPS + 2:
        return np.zeros(pos.shape[1])
    second = np.abs(np.diff(pos, n=2, axis=0)).reshape(-1, pos.shape[1], 3)
    per_joint = second.transpose(0, 2, 1).reshape(-1, pos.shape[1])  # (steps * 3, J)
    median = sorted_median(per_joint) if np.isfinite(per_joint).all() else np.median(per_joint, axis=0)
    return median / 0.6745 / np.sqrt(6.0)


def tracking_glitches(
    positions: np.ndarray,
    fps: float,
    parents: Sequence[int],
    start: int = 0,
    limit: float = GLITCH_SPEED,
    bones: Bones | None = None,
) -> list[Glitch]:
    """The tracking glitches of ``positions (T, J, 3)`` (metres, ``fps``, a skeleton with ``parents``) from frame
    ``start`` on (frames before it are not motion: `detached_start`): runs of frames where a joint is not with its
    body (`Bones.lost`, bones measured on those frames) that it entered by a jump faster than ``limit`` m/s (plus
    `JITTER_STEPS` times its jitter) or at the origin (where trackers put what they lost; a world root is at home
    there), or that start at frame ``start`` and end by such a jump. A body that jumps whole (a capture pop, a root
    teleport) keeps its bones: no glitch; a BVH file's joints never leave their bones. ``bones``: those frames'
    `Bones.measure`, when the caller has it. Sorted by first frame."""
    pos = np.asarray(positions, dtype=np.float64)[start:]
    if pos.shape[0] < 2 or rigid_off_origin(pos, parents):  # motion capture: nothing can be lost (same answer)
        return []
    bones = Bones.measure(pos, parents) if bones is None else bones
    lost = bones.lost(pos)  # (T, J)
    broken = bones.bone_broken(pos)  # (T, B)
    if not lost.any() and not broken.any():
        return []
    jumps = np.linalg.norm(np.diff(pos, axis=0), axis=-1)  # (T - 1, J): step k goes from frame k to k + 1
    allowed = limit / fps + JITTER_STEPS * jitter(pos)  # (J,) metres a step
    at_origin = (np.linalg.norm(pos, axis=-1) < ORIGIN_M) & bones.strays  # (T, J)
    last = pos.shape[0] - 1
    out = []
    for j in np.flatnonzero(lost.any(axis=0)):
        flags = np.concatenate([[False], lost[:, j], [False]])
        edges = np.flatnonzero(np.diff(flags.astype(np.int8)))
        for a, b in zip(edges[::2], edges[1::2] - 1, strict=True):
            jump = 0.0 if a == 0 else float(jumps[a - 1, j])
            back = b < last and jumps[b, j] > allowed[j]
            if jump > allowed[j] or at_origin[a, j] or (a == 0 and back):
                out.append(Glitch(int(j), start + int(a), start + int(b), bool(b == last), jump))
    # chains moved whole (`swapped_chain`): lost while the bone above them stays broken; judged only on bones whole
    # in most frames (`CHAIN_WHOLE_SHARE`: otherwise the usual length may be the swapped one, and the true frames
    # would be taken for the swap)
    starts = broken[1:] & ~broken[:-1]  # (T - 1, B): bones that break from frame k to k + 1
    starts &= broken.mean(axis=0) <= 1.0 - CHAIN_WHOLE_SHARE
    covered = np.zeros(lost.shape, dtype=bool)  # (T, J) frames of each joint in a glitch found so far
    for g in out:
        covered[g.first - start : g.last - start + 1, g.joint] = True
    below = _children_lists(parents)
    for k in np.flatnonzero(starts.any(axis=1)) + 1:
        for j, top in swapped_chain(bones, parents, starts[k - 1], jumps[k - 1] > allowed, below).items():
            run = broken[k:, top]
            b = k + (int(np.argmin(run)) - 1 if not run.all() else len(run) - 1)
            mine = [g for g in out if g.joint == j and g.first - start <= b and k <= g.last - start]
            if mine:  # its own bones broke too: one glitch over both runs (a hand lost inside a swapped arm)
                out = [g for g in out if g not in mine]
                first = min(start + int(k), *(g.first for g in mine))
                end = max(start + int(b), *(g.last for g in mine))
                out.append(
                    Glitch(j, first, end, end == start + last, max([float(jumps[k - 1, j])] + [g.jump_m for g in mine]))
                )
            elif not covered[k, j]:
                out.append(Glitch(j, start + int(k), start + int(b), bool(b == last), float(jumps[k - 1, j])))
            covered[k : b + 1, j] = True
    return sorted(out, key=lambda g: (g.first, g.joint))


#: a chain moved whole (`swapped_chain`) is judged only on bones whole in at least this share of the frames
CHAIN_WHOLE_SHARE = 0.75


def _children_lists(parents: Sequence[int]) -> list[list[int]]:
    kids: list[list[int]] = [[] for _ in parents]
    for c, p in enumerate(parents):
        if p >= 0:
            kids[p].append(c)
    return kids


def descendants(parents: Sequence[int], joint: int, children: list[list[int]] | None = None) -> list[int]:
    """Every joint below ``joint`` in the tree of ``parents`` (children first; ``children``: each joint's children,
    when known)."""
    kids = _children_lists(parents) if children is None else children
    out, queue = [], [joint]
    while queue:
        below = kids[queue.pop(0)]
        out += below
        queue += below
    return out


def swapped_chain(
    bones: Bones, parents: Sequence[int], broken: np.ndarray, jumped: np.ndarray, children: Any = None
) -> dict[int, int]:
    """The joints of chains a tracker moved whole onto someone else (a forearm with its hand and fingers, an arm
    swapped with the other one) in one step, each with the index of the bone above its chain: the top of a chain
    is the child of a bone that broke in the step (``broken (B,)``) while the child jumped and its parent did not
    (``jumped (J,)``); with it go its descendants that jumped too. Their own bones are intact, so `Bones.lost`
    does not see them."""
    out: dict[int, int] = {}
    for b in np.flatnonzero(broken):
        c, p = int(bones.child[b]), int(bones.parent[b])
        if jumped[c] and not jumped[p]:
            for j in [c, *(d for d in descendants(parents, c, children) if jumped[d])]:
                out.setdefault(j, int(b))
    return out


def named_joints(names: Sequence[str], joints: Sequence[int]) -> str:
    """``joints`` (indices into ``names``) for a message: ``"every joint"``, or up to four names in skeleton order."""
    chosen = sorted({int(j) for j in joints})
    if len(chosen) == len(names):
        return "every joint"
    return ", ".join(names[j] for j in chosen[:4]) + (" ..." if len(chosen) > 4 else "")


def fill_glitches(positions: np.ndarray, glitches: Sequence[Glitch]) -> np.ndarray:
    """A copy of ``positions (T, J, 3)`` with each glitch that is not ``trailing`` filled in: the joint moves in a
    straight line, at constant speed, from its last tracked frame before to its first tracked frame after (held at
    the latter for a glitch from the first frame)."""
    out = np.array(positions, dtype=np.float64, copy=True)
    for g in glitches:
        if g.trailing:
            continue
        a, b = g.first - 1, g.last + 1
        if a < 0:
            out[:b, g.joint] = out[b, g.joint]
            continue
        w = (np.arange(g.first, b) - a)[:, None] / (b - a)
        out[g.first : b, g.joint] = (1 - w) * out[a, g.joint] + w * out[b, g.joint]
    return out


def carrier(joint: int, parents: Sequence[int], unusable: set[int] | np.ndarray) -> int:
    """The joint a lost ``joint`` is carried with (`carry_lost`): its nearest ancestor not ``unusable`` (lost, or a
    world root that does not move with the body), else the nearest such joint through the skeleton's tree (breadth
    first over parents and children: lost hips and legs go with the spine); -1 when there is none."""
    par = list(parents)
    bad = {int(j) for j in (np.flatnonzero(unusable) if isinstance(unusable, np.ndarray) else unusable)}
    anchor = par[joint]
    while anchor >= 0 and anchor in bad:
        anchor = par[anchor]
    if anchor >= 0:
        return anchor
    seen, queue = {joint}, [joint]
    while queue:
        j = queue.pop(0)
        for k in [par[j], *(c for c, p in enumerate(par) if p == j)]:
            if k >= 0 and k not in seen:
                if k not in bad:
                    return k
                seen.add(k)
                queue.append(k)
    return -1


def carry_lost(
    positions: np.ndarray, parents: Sequence[int], lost: Sequence[Glitch], start: int = 0, home: Any = None
) -> np.ndarray | None:
    """A copy of ``positions (T, J, 3)`` with each joint of the ``trailing`` glitches ``lost`` carried with its body
    from its last tracked frame on: at its offset then from its `carrier` (nearest ancestor that is neither lost nor
    a world root in ``home``, a ``(J,)`` mask; else the nearest such joint through the tree), so that the forecast
    starts from where the body puts it. None when nothing is left to carry it (every joint lost) or a joint was lost
    from frame ``start`` on (no tracked offset)."""
    out = np.array(positions, dtype=np.float64, copy=True)
    unusable = {g.joint for g in lost if g.trailing}
    if home is not None:
        unusable |= {int(j) for j in np.flatnonzero(home)}
    for g in lost:
        if not g.trailing:
            continue
        anchor = carrier(g.joint, parents, unusable)
        if g.first <= start or anchor < 0:
            return None
        keep = out[g.first - 1, g.joint] - out[g.first - 1, anchor]
        out[g.first :, g.joint] = out[g.first :, anchor] + keep
    return out


def stretched_bones(positions: np.ndarray, skeleton: Skeleton, carried: Sequence[int] = ()) -> list[dict[str, Any]]:
    """The bones of ``positions (T, J, 3)`` whose length in the last frame is off their median over the frames by
    more than `BROKEN_BONE_M` plus 4 times its spread (a tracker's noise) and by more than `BROKEN_BONE_SHARE` —
    a joint a tracker froze while the body moved on, which no glitch test sees (it never jumps): ``[{"joint",
    "length_m", "usual_m"}]`` (the bone into ``joint``). Helpers (`MIN_BONE_M`), world roots' translations and
    bones of the ``carried`` joints (`carry_lost`) are left out; rigid skeletons (BVH) never have any."""
    pos = np.asarray(positions, dtype=np.float64)
    if pos.shape[0] < 2:
        return []
    bones = Bones.measure(pos, skeleton.parents, rigid=False)
    last = np.linalg.norm(pos[-1, bones.child] - pos[-1, bones.parent], axis=-1)
    skip = np.isin(bones.child, list(carried)) | np.isin(bones.parent, list(carried))
    off = bones.bone_broken(pos[-1]) & ~skip
    return [
        {"joint": skeleton.joint_names[int(bones.child[b])], "length_m": round(float(last[b]), 4),
         "usual_m": round(float(bones.usual[b]), 4)}
        for b in np.flatnonzero(off)
    ]  # fmt: skip


#: the fewest frames a smoothing window spans (`smoothed`): a quadratic fit needs more than three
MIN_SMOOTH_FRAMES = 5


def smoothed(positions: np.ndarray, fps: float, seconds: float) -> np.ndarray:
    """``(T, J, 3)`` positions with a tracker's jitter smoothed out: a Savitzky-Golay filter (a quadratic fitted over
    a window of ``seconds``, at least `MIN_SMOOTH_FRAMES` frames; scipy), which keeps a motion's speed and bends
    better than a moving average; at the ends the window's own fit is used (the last frame is not held back by
    frames that do not exist yet). Fewer frames than the window: the longest odd window they allow."""
    from scipy.signal import savgol_filter

    pos = np.asarray(positions, dtype=np.float64)
    window = max(MIN_SMOOTH_FRAMES, int(round(seconds * fps)) | 1)
    window = min(window, pos.shape[0] if pos.shape[0] % 2 else pos.shape[0] - 1)
    if window < MIN_SMOOTH_FRAMES:
        return pos.copy()
    return savgol_filter(pos, window, 2, axis=0, mode="interp")


def check_at(at: float, duration: float, fps: float, start_ok: bool = False) -> None:
    """A `ValueRangeError` unless ``at`` (seconds: the last observed moment) lies in a motion of ``duration`` s at
    ``fps``: after its first frame (at it too with ``start_ok``), and up to its last, half a frame or 5 ms past it
    taken (a duration printed to the hundredth of a second names the last frame)."""
    if (at >= 0 if start_ok else at > 0) and at <= duration + max(0.5 / fps, 0.005):
        return
    where = "from its first frame" if start_ok else "after its first frame"
    raise ValueRangeError(f"at {at:g} s (--at) is outside the motion: give a time {where} up to {duration:.3f} s")


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (Python or numpy; a boolean is not one, though Python counts it)."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


def check_fps(fps: float, where: str | None = None) -> float:
    """``fps`` as a float, or a `ValueRangeError` if it is not a finite positive rate."""
    try:
        if isinstance(fps, bool | str | bytes):  # True is not a frame rate, though Python counts it as 1; a string
            raise TypeError  # is refused as the horizon's is (QA: fps="25" was taken, then failed deep in a model)
        value = float(fps)
    except (TypeError, ValueError):
        kind = " (a string)" if isinstance(fps, str | bytes) else ""
        raise ValueRangeError(f"frame rate {fps!r} is not a number{kind}", where) from None
    if not math.isfinite(value) or value <= 0 or value > MAX_FPS:
        raise ValueRangeError(f"impossible frame rate {fps!r} (must be in (0, {MAX_FPS:g}] frames/s)", where)
    return value


def _real_array(what: str, value: Any, where: str | None) -> np.ndarray:
    """``value`` as a float64 array (not a copy when it is one already: a motion made from an array shares it,
    and its slices share the motion's); a `ValueRangeError` naming ``what`` for ragged lists, strings, complex or
    other non-real values."""
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):
        raise ValueRangeError(f"{what} must be a regular array of numbers (ragged lists are not)", where) from None
    if raw.dtype.kind not in "iuf":  # (booleans too: QA, True/False taken as positions 1/0)
        raise ValueRangeError(f"{what} must be real numbers, got an array of {raw.dtype}", where)
    return np.asarray(raw, dtype=np.float64)


def _check_finite(name: str, arr: np.ndarray, where: str | None) -> None:
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueRangeError(f"{name} contain NaN or inf (first at index {tuple(int(i) for i in bad)})", where)


def check_magnitude(positions: np.ndarray, where: Any = None, error: type[PosecastError] = ValueRangeError) -> None:
    """``error`` naming the first frame (index of the leading axis) where a joint of ``positions (T, ..., 3)``
    (metres) lies more than `MAX_POSITION_M` from the origin."""
    arr = np.asarray(positions)
    if arr.size == 0:
        return
    far = np.abs(arr).reshape(arr.shape[0], -1).max(axis=1) > MAX_POSITION_M
    if far.any():
        raise error(
            f"frame {int(np.argmax(far))}: a joint lies more than {MAX_POSITION_M:g} m from the origin; "
            "these values are not a body's (positions are metres)",
            where,
        )


#: metres: `Motion.resample_rigid` takes the linear positions of a new frame where a joint lands further than this
#: (plus half the joint's step between the source frames) from them: its rotations disagree with its positions
RIGID_CHECK_M = 0.01


def resample_indices(
    num_frames: int, fps_in: float, fps_out: float, anchor: str = "start"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear resampling over the same time span: ``(i0, i1, frac)`` so that the new frame ``k`` is
    ``x[i0[k]] * (1 - frac[k]) + x[i1[k]] * frac[k]``. ``anchor="start"``: the new frames sit at ``k / fps_out``
    seconds from the first frame; ``"end"``: they end exactly at the last frame and are counted back from it
    (what a forecast needs: its history must end at the last observed pose, not up to a new frame earlier)."""
    if anchor not in ("start", "end"):
        raise ValueRangeError(f"resampling anchor must be 'start' or 'end', not {anchor!r}")
    duration = (num_frames - 1) / fps_in
    n_new = int(math.floor(duration * fps_out + 1e-9)) + 1
    if n_new > MAX_RESAMPLED_FRAMES:  # (QA: 75 frames at 1e-9 fps resampled to 25 fps asked for 13.6 TiB)
        raise ValueRangeError(
            f"resampling {num_frames} frames at {fps_in:g} fps ({duration:.4g} s) to {fps_out:g} fps would make "
            f"{n_new:.3g} frames (at most {MAX_RESAMPLED_FRAMES:g}): is the frame rate right?"
        )
    t_new = np.arange(n_new) / fps_out * fps_in  # in source frame units
    if anchor == "end":
        t_new = (num_frames - 1) - t_new[::-1]
    i0 = np.clip(np.floor(t_new + 1e-9).astype(np.int64), 0, num_frames - 1)
    i1 = np.clip(i0 + 1, 0, num_frames - 1)
    return i0, i1, np.clip(t_new - i0, 0.0, 1.0)


def resample_positions(
    positions: np.ndarray, fps_in: float, fps_out: float, axis: int = 0, anchor: str = "start"
) -> np.ndarray:
    """Linearly resample an array of frames along ``axis`` (e.g. ``(B, T, J, 3)`` with ``axis=1``); ``anchor``
    as in `resample_indices` (``"end"`` for a history that a forecast continues)."""
    if abs(fps_in - fps_out) < 1e-9:
        return positions
    x = np.moveaxis(np.asarray(positions), axis, 0)
    i0, i1, frac = resample_indices(x.shape[0], fps_in, fps_out, anchor)
    w = frac.reshape((-1,) + (1,) * (x.ndim - 1))
    return np.moveaxis(x[i0] * (1 - w) + x[i1] * w, 0, axis)


@dataclass(frozen=True, eq=False)
class Motion:
    """A motion: joint positions over time on a skeleton.

    Attributes:
        positions: ``(T, J, 3)`` global joint positions in metres (y up as PoseCast writes them; models on the
            canonical body also take other up axes, `posecast.skeletons.canonical.up_axes`).
        fps: frames per second.
        skeleton: the joint layout (``J`` joints).
        rotations: optional ``(T, J, 3, 3)`` local joint rotations (relative to the parent).
        root_translation: optional ``(T, 3)`` root position in metres.
        metadata: free-form, JSON-serialisable facts (source file, units, subject, ...).
    """

    positions: np.ndarray
    fps: float
    skeleton: Skeleton
    rotations: np.ndarray | None = None
    root_translation: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.metadata is None:
            object.__setattr__(self, "metadata", {})
        if not isinstance(self.metadata, dict):
            raise ValueRangeError(f"metadata must be a dict, got {type(self.metadata).__name__}")
        where = self.metadata.get("source")
        object.__setattr__(self, "skeleton", skeletons.get(self.skeleton))
        object.__setattr__(self, "fps", check_fps(self.fps, where))
        pos = _real_array("positions", self.positions, where)
        j = self.skeleton.num_joints
        if pos.ndim != 3 or pos.shape[1:] != (j, 3):
            raise SkeletonError(
                f"positions of shape {pos.shape} do not match (T, {j}, 3) for skeleton {self.skeleton.name!r}",
                where,
            )
        if pos.shape[0] == 0:
            raise ValueRangeError("motion has no frames", where)
        _check_finite("positions", pos, where)
        check_magnitude(pos, where)
        object.__setattr__(self, "positions", pos)
        if self.rotations is not None:
            rot = _real_array("rotations", self.rotations, where)
            if rot.shape != (pos.shape[0], j, 3, 3):
                raise SkeletonError(f"rotations of shape {rot.shape} do not match positions {pos.shape}", where)
            _check_finite("rotations", rot, where)
            object.__setattr__(self, "rotations", rot)
        if self.root_translation is not None:
            tr = _real_array("root translation", self.root_translation, where)
            if tr.shape != (pos.shape[0], 3):
                raise SkeletonError(f"root translation of shape {tr.shape} does not match {pos.shape[0]} frames", where)
            _check_finite("root translation", tr, where)
            object.__setattr__(self, "root_translation", tr)
        object.__setattr__(self, "metadata", dict(self.metadata))

    # ---------------------------------------------------------------------------------- basics
    @property
    def num_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def num_joints(self) -> int:
        return self.positions.shape[1]

    @property
    def duration(self) -> float:
        """Seconds spanned by the frames: ``(T - 1) / fps``."""
        return (self.num_frames - 1) / self.fps

    @property
    def times(self) -> np.ndarray:
        """``(T,)`` frame times in seconds, starting at 0."""
        return np.arange(self.num_frames) / self.fps

    def __len__(self) -> int:
        return self.num_frames

    def __repr__(self) -> str:
        extra = " +rotations" if self.rotations is not None else ""
        return (
            f"Motion({self.num_frames} frames @ {self.fps:g} fps = {self.duration:.2f} s, "
            f"skeleton {self.skeleton.name!r} ({self.num_joints} joints){extra})"
        )

    def _take(self, index: np.ndarray | slice, fps: float | None = None, **meta: Any) -> Motion:
        return Motion(
            positions=self.positions[index],
            fps=self.fps if fps is None else fps,
            skeleton=self.skeleton,
            rotations=None if self.rotations is None else self.rotations[index],
            root_translation=None if self.root_translation is None else self.root_translation[index],
            metadata={**self.metadata, **meta},
        )

    # -------------------------------------------------------------------------------- slicing
    def frames(self, start: int | None = None, stop: int | None = None, step: int | None = None) -> Motion:
        """Frames ``[start:stop:step]`` (Python slice semantics); a step changes the fps accordingly."""
        for name, v in (("start", start), ("stop", stop), ("step", step)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | np.integer)):
                raise ValueRangeError(f"frame {name} must be a whole number, got {v!r} (use .seconds() for times)")
        if step is not None and step <= 0:
            raise ValueRangeError("frame step must be positive")
        sl = slice(start, stop, step)
        n = len(range(*sl.indices(self.num_frames)))
        if n == 0:
            raise ValueRangeError(f"frame range {start}:{stop}:{step} of a {self.num_frames}-frame motion is empty")
        return self._take(sl, fps=self.fps / (step or 1))

    def __getitem__(self, index: slice) -> Motion:
        if not isinstance(index, slice):
            raise TypeError("Motion supports slicing by frames (motion[a:b]); use .positions for arrays")
        return self.frames(index.start, index.stop, index.step)

    def until(self, at: float) -> Motion:
        """The frames up to the one nearest time ``at`` seconds, included: what a forecast "at" that time observes
        (the later frames are its future)."""
        if isinstance(at, bool) or not isinstance(at, int | float | np.number) or math.isnan(at):
            raise ValueRangeError(f"times are numbers of seconds, got {at!r}")  # (QA: "1", None, True had passed on)
        if at < 0:
            raise ValueRangeError(f"time {at:g} s is before the motion's start (0 s)")
        return self.seconds(0, at + 0.5 / self.fps)

    def seconds(self, start: float = 0.0, stop: float | None = None) -> Motion:
        """Frames whose times lie in ``[start, stop)`` seconds (``stop=None``: to the end)."""
        for v in (start, stop):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float | np.number) or math.isnan(v)):
                raise ValueRangeError(f"times are numbers of seconds, got {v!r}")
        if start < 0 or math.isinf(start) or (stop is not None and stop <= start):
            raise ValueRangeError(f"invalid time range [{start:g}, {stop if stop is None else f'{stop:g}'}) s")
        if start > self.duration:  # (QA: "frame range 250:75:None ... is empty")
            raise ValueRangeError(f"time {start:g} s is after the motion's end ({self.duration:.3f} s)")
        if stop is not None and stop > self.duration + 1.0 / self.fps:
            stop = None  # past the end: to the end (a huge or infinite stop clamps)
        a = int(math.ceil(start * self.fps - 1e-9))
        b = self.num_frames if stop is None else int(math.ceil(stop * self.fps - 1e-9))
        return self.frames(a, b)

    # ------------------------------------------------------------------------------ resampling
    def resample(self, fps: float, anchor: str = "start") -> Motion:
        """The motion at another frame rate over the same time span.

        Positions and root translation are interpolated linearly; rotations by slerp (and the
        positions are *not* recomputed from them, so both stay consistent with the source).
        ``anchor="end"`` keeps the last frame exactly (the new frames are counted back from it: a history a
        forecast continues); ``"start"`` keeps the first one.
        """
        fps = check_fps(fps)
        if anchor not in ("start", "end"):  # (also when nothing is resampled: QA, a bad anchor went unnoticed)
            raise ValueRangeError(f"resampling anchor must be 'start' or 'end', not {anchor!r}")
        if abs(fps - self.fps) < 1e-9:
            return self
        i0, i1, frac = resample_indices(self.num_frames, self.fps, fps, anchor)
        n_new = i0.shape[0]

        def lerp(a: np.ndarray) -> np.ndarray:
            ww = frac.reshape((-1,) + (1,) * (a.ndim - 1))
            return a[i0] * (1 - ww) + a[i1] * ww

        rotations = None
        if self.rotations is not None:
            from posecast.kinematics.rotations import slerp_matrices

            j = self.num_joints
            rotations = slerp_matrices(
                self.rotations[i0].reshape(-1, 3, 3), self.rotations[i1].reshape(-1, 3, 3), np.repeat(frac, j)
            ).reshape(n_new, j, 3, 3)
        return Motion(
            positions=lerp(self.positions),
            fps=fps,
            skeleton=self.skeleton,
            rotations=rotations,
            root_translation=None if self.root_translation is None else lerp(self.root_translation),
            metadata={**self.metadata, "resampled_from_fps": self.fps},
        )

    def resample_rigid(self, fps: float, anchor: str = "start") -> Motion:
        """`resample`, but a motion with rotations gets its positions by forward kinematics from the slerped
        rotations and the linearly resampled bone vectors (each joint's offset from its parent, in the parent's
        frame: the rest offsets for rigid bones), so rotations and positions stay consistent and rigid bones
        keep their lengths exactly (`resample`'s linear positions shorten a bone a little between frames, which
        a BVH writer then has to store as position channels). Without rotations: `resample`.

        The rotations are checked against the recorded positions: a new frame where some joint lands further than
        `RIGID_CHECK_M` plus half its own step between the two source frames from where linear resampling puts
        it (rotations that flip between frames while the positions are smooth: an exporter's 180-degree twist
        flip swung a toe 1.22 m off) takes the positions and rotations of the nearer source frame instead, which
        agree with each other (``metadata["nearest_frames"]``: how many; linear positions with the slerped
        rotations had left a BVH written from them swinging the chain by up to 1.27 m);
        consistent rotations stay well within it (a bone turning by an angle a between frames departs from the
        chord by at most a / 8 of the joint's step)."""
        if self.rotations is None or self.skeleton.offsets is None or abs(check_fps(fps) - self.fps) < 1e-9:
            return self.resample(fps, anchor)
        from posecast.kinematics.fk import forward_kinematics
        from posecast.kinematics.ik import local_translations

        parents = self.skeleton.parents
        _, glob = forward_kinematics(self.rotations, self.skeleton.offsets, parents, self.positions[:, 0])
        moves = resample_positions(local_translations(self.positions, glob, parents), self.fps, fps, anchor=anchor)
        out = self.resample(fps, anchor)
        positions, _ = forward_kinematics(out.rotations, moves, parents, moves[:, 0])
        i0, i1, frac = resample_indices(self.num_frames, self.fps, fps, anchor)
        step = np.linalg.norm(self.positions[i1] - self.positions[i0], axis=-1)  # (N, J) each joint's source step
        off = np.linalg.norm(positions - out.positions, axis=-1)
        bad = (off > RIGID_CHECK_M + 0.5 * step).any(axis=-1)  # (N,) frames the rotations disagree with
        meta, rotations = out.metadata, out.rotations
        if bad.any():  # the nearer source frame, positions and rotations together (they agree with each other)
            near = np.where(frac < 0.5, i0, i1)[bad]
            positions, rotations = positions.copy(), rotations.copy()
            positions[bad], rotations[bad] = self.positions[near], self.rotations[near]
            meta = {**meta, "nearest_frames": int(bad.sum())}
        return replace(out, positions=positions, rotations=rotations, root_translation=positions[:, 0], metadata=meta)

    # ------------------------------------------------------------------------------ transforms
    def root_relative(self) -> Motion:
        """Positions relative to the root joint of each frame (root at the origin; a root translation, when the motion
        has one, is zero too: QA, the old one had stayed and an exp-map writer, which prefers it, put the root back)."""
        root = None if self.root_translation is None else np.zeros_like(self.root_translation)
        return replace(
            self,
            positions=self.positions - self.positions[:, :1],
            root_translation=root,
            metadata={**self.metadata, "root_relative": True},
        )

    def mirror(self, axis: int = 0) -> Motion:
        """Left/right mirror image: reflect across the plane ``axis = 0`` (x by default) and swap
        every left joint with its right twin (rotations are reflected as ``M R M``)."""
        if isinstance(axis, bool) or not isinstance(axis, int | np.integer) or axis not in (0, 1, 2):
            raise ValueRangeError(f"mirror axis must be 0, 1 or 2 (x, y, z), got {axis!r}")
        perm = self.skeleton.mirror_permutation
        sign = np.ones(3)
        sign[axis] = -1.0
        rotations = None
        if self.rotations is not None:
            m = np.diag(sign)
            rotations = (m @ self.rotations @ m)[:, perm]
        return Motion(
            positions=(self.positions * sign)[:, perm],
            fps=self.fps,
            skeleton=self.skeleton,
            rotations=rotations,
            root_translation=None if self.root_translation is None else self.root_translation * sign,
            metadata={**self.metadata, "mirrored": not self.metadata.get("mirrored", False)},
        )

    def to_torch(self, dtype: Any = None, device: Any = None):
        """``(T, J, 3)`` positions as a torch tensor (float32 by default)."""
        import torch

        return torch.as_tensor(self.positions, dtype=dtype or torch.float32, device=device)

    @classmethod
    def from_torch(cls, positions: Any, fps: float, skeleton: str | Skeleton, **kwargs: Any) -> Motion:
        """A motion from a ``(T, J, 3)`` tensor of positions in metres."""
        import torch

        if not isinstance(positions, torch.Tensor):  # (QA: an array raised "has no attribute 'detach'")
            raise ValueRangeError(f"from_torch takes a torch tensor, not {type(positions).__name__}: use Motion(...)")
        return cls(positions=positions.detach().cpu().double().numpy(), fps=fps, skeleton=skeleton, **kwargs)

    def to_layout(self, target: str | Skeleton, source: str | Skeleton | None = None) -> Motion:
        """This motion on another joint layout (`posecast.skeletons.mapping.map_positions`): same fps, no
        rotations, ``metadata["layout_mapping"] = {"from", "to", "route"}``; the motion itself when the
        layouts are the same. ``source``, if given, must be the motion's own layout.

        Raises:
            SkeletonError: no mapping exists, or ``source`` is not the motion's layout.
        """
        src = self.skeleton
        if source is not None and not skeletons.get(source).same_layout(src):
            raise SkeletonError(f"motion is on {src.name!r}, not on the given source {skeletons.get(source).name!r}")
        positions, route = map_positions(self.positions, target, src)
        if route == "identity":
            return self
        tgt = skeletons.get(target)
        return Motion(
            positions=positions,
            fps=self.fps,
            skeleton=tgt,
            metadata={**self.metadata, "layout_mapping": {"from": src.name, "to": tgt.name, "route": route}},
        )

    def with_positions(self, positions: np.ndarray, **meta: Any) -> Motion:
        """Same skeleton and fps, new ``(T', J, 3)`` positions (rotations are dropped)."""
        return Motion(positions=positions, fps=self.fps, skeleton=self.skeleton, metadata={**self.metadata, **meta})


@dataclass(frozen=True, eq=False)
class Forecast:
    """Future motion predicted from a history.

    Attributes:
        samples: ``(S, F, J, 3)`` predicted positions in metres: ``S`` hypotheses of ``F`` frames
            each, starting one frame after the last observed frame.
        fps: frames per second of the prediction.
        skeleton: joint layout.
        probabilities: optional ``(S,)`` weights of the hypotheses (summing to 1).
        history: the observed motion the forecast continues (optional).
        ground_truth: optional ``(F, J, 3)`` true future, when known.
        model: name of the model that made it.
        metadata: free-form facts.
    """

    samples: np.ndarray
    fps: float
    skeleton: Skeleton
    probabilities: np.ndarray | None = None
    history: Motion | None = None
    ground_truth: np.ndarray | None = None
    model: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.metadata is None:
            object.__setattr__(self, "metadata", {})
        if not isinstance(self.metadata, dict):  # checked as Motion checks its own (QA: a list was taken)
            raise ValueRangeError(f"metadata must be a dict, got {type(self.metadata).__name__}")
        if self.history is not None and not isinstance(self.history, Motion):
            raise ValueRangeError(f"history must be a Motion (its skeleton and fps), got {type(self.history).__name__}")
        object.__setattr__(self, "skeleton", skeletons.get(self.skeleton))
        object.__setattr__(self, "fps", check_fps(self.fps))
        s = _real_array("forecast samples", self.samples, None)
        j = self.skeleton.num_joints
        if s.ndim != 4 or s.shape[2:] != (j, 3) or s.shape[0] == 0 or s.shape[1] == 0:
            raise SkeletonError(f"forecast samples of shape {s.shape} do not match (S, F, {j}, 3)")
        _check_finite("forecast samples", s, None)
        check_magnitude(s.reshape((-1,) + s.shape[2:]))  # as a Motion's (QA: 1e9 m passed, then fc.sample failed)
        object.__setattr__(self, "samples", s)
        if self.probabilities is not None:
            p = _real_array("probabilities", self.probabilities, None).reshape(-1)
            if p.shape != (s.shape[0],) or (p < 0).any() or not np.isfinite(p).all() or not p.max() > 0:
                raise ValueRangeError(f"probabilities must be {s.shape[0]} non-negative numbers, not all zero")
            p = p / p.max()  # first: weights near the float limit had summed to inf, and every one became 0 (QA)
            object.__setattr__(self, "probabilities", p / p.sum())
        if self.ground_truth is not None:
            gt = _real_array("ground truth positions", self.ground_truth, None)
            if gt.shape != s.shape[1:]:
                raise SkeletonError(f"ground truth of shape {gt.shape} does not match forecast frames {s.shape[1:]}")
            _check_finite("ground truth positions", gt, None)  # as a Motion's (QA: NaN was taken, errors became NaN)
            check_magnitude(gt)
            object.__setattr__(self, "ground_truth", gt)
        if self.history is not None and not self.history.skeleton.same_layout(self.skeleton):
            raise SkeletonError("forecast and history have different skeletons")

    @property
    def num_samples(self) -> int:
        return self.samples.shape[0]

    @property
    def num_frames(self) -> int:
        return self.samples.shape[1]

    @property
    def horizon(self) -> float:
        """Seconds from the last observed frame to the last predicted frame: ``F / fps``."""
        return self.num_frames / self.fps

    @property
    def mean(self) -> np.ndarray:
        """``(F, J, 3)`` probability-weighted mean of the samples."""
        if self.probabilities is None:
            return self.samples.mean(axis=0)
        return np.tensordot(self.probabilities, self.samples, axes=1)

    def _index(self, i: Any) -> int:
        """Sample index ``i`` (negative counts from the end, as in Python) checked: a `ValueRangeError` otherwise."""
        n = self.num_samples
        if isinstance(i, bool) or not isinstance(i, int | np.integer) or not -n <= i < n:
            raise ValueRangeError(f"sample {i!r} does not exist: the forecast has {n} (0 to {n - 1})")
        return int(i) % self.num_samples

    def sample(self, i: int = 0) -> Motion:
        """Hypothesis ``i`` as a `Motion`."""
        return Motion(
            positions=self.samples[self._index(i)], fps=self.fps, skeleton=self.skeleton, metadata={"model": self.model}
        )

    def to_motion(self, sample: int = 0, include_history: bool = True) -> Motion:
        """The observed history followed by hypothesis ``sample``, with joint rotations, on the history's
        own skeleton (its offsets): a motion `posecast.io.bvh.write_bvh` can write.

        History frames keep the rotations read from their file (else they are recovered from the
        positions, on the skeleton with rest offsets fitted to the history, `posecast.kinematics.ik.fit_offsets`:
        the template's bone lengths and joint angles would move the joints by centimetres); forecast frames
        get theirs from `posecast.kinematics.ik.extend_rotations`: bone
        directions from the forecast, bone lengths from the skeleton, twists carried on from the last
        observed frame, the root at the forecast's root. A history at another frame rate is resampled
        to the forecast's first (`Motion.resample`, positions recomputed from the slerped rotations).
        The history's BVH facts (``metres_per_unit``, ``bvh_end_sites``, ``bvh_joint_channels``, ``bvh_root_offset``,
        ``units``, ``source``) are kept so that a written file looks like the input; ``metadata["observed_frames"]`` and
        ``["forecast_frames"]`` say where the forecast starts (``observed_frames`` is 0 and only the forecast frames are
        returned with ``include_history=False``). The rig keeps its bone lengths and a forecast need not (each joint
        extrapolated on its own, a network's few millimetres): ``["departure_m"]`` and ``["departure_mean_m"]`` are the
        largest and the mean distance of a forecast frame's joint from hypothesis
        ``sample``'s position, ``["departure_observed_m"]`` and ``["departure_observed_mean_m"]`` the same for the
        observed frames against the history's positions (a rig whose fixed offsets cannot follow the history departs
        there too); `BVH_DEPARTURE_NOTE_M`: where ``posecast forecast`` says so. What the departure comes from, as
        far as it is measured (`_departure_causes`): ``["bone_change_m"]`` / ``["bone_change_joint"]``, the largest
        change of a bone's length in the forecast from its observed length, over the bones whose length holds
        (within `BVH_DEPARTURE_NOTE_M`) in the observed frames, and ``["observed_bone_range_m"]`` /
        ``["observed_bone_range_joint"]``, the joint whose distance from its parent varies most in the observed
        frames by more than that (a ``Hips`` carrying the translation under a root that stays put).

        Raises:
            SkeletonError: no history, or its skeleton has no rest offsets.
        """
        from posecast.kinematics.ik import extend_rotations, fit_offsets

        history = self.history
        if history is None:
            raise SkeletonError("the forecast has no history: joint rotations need the observed motion")
        skel = history.skeleton
        if skel.offsets is None:
            raise SkeletonError(f"skeleton {skel.name!r} has no rest offsets: the forecast cannot be given rotations")
        sample = self._index(sample)
        if abs(history.fps - self.fps) > 1e-9:  # bones may carry translations: resampled with the rest
            history = history.resample_rigid(self.fps, anchor="end")
        if history.rotations is None:  # positions only: the skeleton's rest pose with the person's proportions
            skel = replace(skel, offsets=fit_offsets(history.positions, skel))
        rotations, positions = extend_rotations(history.positions, history.rotations, self.samples[sample], skel)
        t = 0 if not include_history else history.num_frames
        n = history.num_frames
        gap = np.linalg.norm(positions[n:] - self.samples[sample], axis=-1)  # (F, J) metres
        gap_observed = np.linalg.norm(positions[:n] - history.positions, axis=-1)  # (T, J): the frames read
        why = _departure_causes(history.positions, self.samples[sample], skel)
        if not include_history:
            rotations, positions = rotations[history.num_frames :], positions[history.num_frames :]
        kept = (
            "source",
            "format",
            "units",
            "metres_per_unit",
            "bvh_end_sites",
            "bvh_translated_joints",
            "bvh_rotation_order",
            "bvh_joint_channels",
            "bvh_root_offset",
            "frame",  # an exp-map file's root columns: body-frame increments or world positions (`io.expmap_txt`)
        )
        return Motion(
            positions=positions,
            fps=self.fps,
            skeleton=skel,
            rotations=rotations,
            root_translation=positions[:, 0],
            metadata={
                **{k: history.metadata[k] for k in kept if k in history.metadata},
                "model": self.model,
                "forecast_sample": sample,
                "observed_frames": t,
                "forecast_frames": self.num_frames,
                "departure_m": float(gap.max()),
                "departure_mean_m": float(gap.mean()),
                "departure_observed_m": float(gap_observed.max()),
                "departure_observed_mean_m": float(gap_observed.mean()),
                **why,
            },
        )

    def __repr__(self) -> str:
        return (
            f"Forecast({self.num_samples} sample(s) x {self.num_frames} frames @ {self.fps:g} fps = "
            f"{self.horizon:.2f} s, skeleton {self.skeleton.name!r}, model {self.model!r})"
        )


def _departure_causes(observed: np.ndarray, future: np.ndarray, skeleton: Skeleton) -> dict[str, Any]:
    """What can make a BVH written by `Forecast.to_motion` depart from the positions (metres, ``(T, J, 3)`` observed
    and ``(F, J, 3)`` forecast, on ``skeleton``): ``bone_change_m`` / ``bone_change_joint``, the largest change of a
    bone's length (named by its child joint) in the forecast from its mean observed length, over the bones whose
    length holds within `BVH_DEPARTURE_NOTE_M` in the observed frames; ``observed_bone_range_m`` /
    ``observed_bone_range_joint`` (and ``_parent``), the joint whose distance from its parent varies most in the
    observed frames, present only when that is more than `BVH_DEPARTURE_NOTE_M` (a joint that moves against its
    parent, which a BVH bone of one length does not). Bones under `MIN_BONE_M` in the observed frames are left out."""
    parents = np.asarray(skeleton.parents[1:], dtype=np.int64)
    out: dict[str, Any] = {"bone_change_m": 0.0, "bone_change_joint": None}
    if parents.size == 0 or observed.shape[0] == 0:
        return out
    seen = np.linalg.norm(observed[:, 1:] - observed[:, parents], axis=-1)  # (T, J - 1)
    ahead = np.linalg.norm(future[:, 1:] - future[:, parents], axis=-1)  # (F, J - 1)
    judged = seen.mean(axis=0) >= MIN_BONE_M
    spread = np.where(judged, np.ptp(seen, axis=0), 0.0)
    rigid = judged & (spread <= BVH_DEPARTURE_NOTE_M)
    change = np.where(rigid, np.abs(ahead - seen.mean(axis=0)).max(axis=0, initial=0.0), 0.0)
    if change.max() > 0:
        b = int(np.argmax(change))
        out.update(bone_change_m=float(change[b]), bone_change_joint=skeleton.joint_names[b + 1])
    if spread.max() > BVH_DEPARTURE_NOTE_M:
        b = int(np.argmax(spread))
        out.update(
            observed_bone_range_m=float(spread[b]),
            observed_bone_range_joint=skeleton.joint_names[b + 1],
            observed_bone_range_parent=skeleton.joint_names[int(parents[b])],
        )
    return out
