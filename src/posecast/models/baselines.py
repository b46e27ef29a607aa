"""Baselines every learned model must beat: zero-velocity, constant-velocity, nearest-neighbour."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from posecast.datasets.windows import slice_windows, window_starts
from posecast.errors import ModelError, SkeletonError, ValueRangeError
from posecast.models.base import Forecaster, check_predict
from posecast.motion import Motion
from posecast.skeletons.base import Skeleton


class ZeroVelocity(Forecaster):
    """Repeat the last observed pose (Martinez et al. 2017: surprisingly hard to beat at short horizons)."""

    name = "zero-velocity"

    def history_frames(self, fps: float) -> int:
        return 1

    def predict(self, history: np.ndarray, frames: int, samples: int = 1, fps: float | None = None) -> np.ndarray:
        # checked as the networks check theirs (QA: a (T, J, 3) history was read as a batch, frames=0 or 2.5 passed)
        last = check_predict(history, frames, samples, fps, self.min_history)[:, -1]  # (B, J, 3)
        return np.broadcast_to(last[:, None, None], (last.shape[0], samples, frames) + last.shape[1:]).copy()


class ConstantVelocity(Forecaster):
    """Extrapolate every joint linearly with the velocity of the last observed frame step."""

    name = "constant-velocity"
    min_history = 2

    def history_frames(self, fps: float) -> int:
        return 2

    def predict(self, history: np.ndarray, frames: int, samples: int = 1, fps: float | None = None) -> np.ndarray:
        h = check_predict(history, frames, samples, fps, self.min_history)
        last, vel = h[:, -1], h[:, -1] - h[:, -2]  # (B, J, 3)
        steps = np.arange(1, frames + 1, dtype=h.dtype)[None, :, None, None]
        out = last[:, None] + steps * vel[:, None]  # (B, F, J, 3)
        return np.repeat(out[:, None], samples, axis=1)


#: the canonical joints of a leg that `NearestNeighbour._plant` bends (each ``left_`` and ``right_``)
_LEG = ("hip", "knee", "ankle")
#: `NearestNeighbour._plant`: a foot whose lowest joint is at most this high above the observed floor (metres) keeps
#: its ankle where the residual forecast has it; from `LIFTED_M` up the ankle is the rebuilt one; linear between
PLANTED_M = 0.05
LIFTED_M = 0.10

#: frames per second at which `NearestNeighbour`'s ``frames`` define its default search interval (``frames / 25`` s)
REFERENCE_FPS = 25.0


class NearestNeighbour(Forecaster):
    """PHD's nearest-neighbour baseline: find the training window closest to the observed frames and
    return its continuation.

    Windows are compared in the canonical frame of their last observed frame (root moved to the
    origin in the ground plane and, with ``canonical="heading"``, the hips turned to face +z, as the
    learned models see them), so global position and heading do not matter, pose and recent motion
    do. With ``residual=True`` (the default) the forecast is the observed last pose plus the
    neighbour's per-joint displacement from its own last observed pose, so it starts where the
    observation ends, with the bone lengths of the last observed frame (the displaced bones' directions
    kept, rebuilt from the root: `posecast.kinematics.fk.set_bone_lengths`; on a skeleton, so not for raw
    arrays fitted without one) and, on a skeleton whose legs the canonical mapping finds, each foot that is down
    where the residual has it (`_plant`: the ankle kept, the knee bent to it with the observed thigh and shin); with
    ``residual=False`` it is the neighbour's continuation itself (PHD's
    literal baseline, which jumps to the neighbour's pose and body at the first frame). Each indexed window
    carries a continuation of ``frames`` frames; longer forecasts are rolled out by searching again from the
    end of the forecast, every ``search_s`` seconds (default ``frames / 25``: every ``frames`` frames at
    `REFERENCE_FPS` = 25 fps, as the benchmarks run it; at 120 fps still once a second, each neighbour's
    continuation read on from its training motion as far as that goes). With ``samples=K`` the K nearest
    windows give K hypotheses.

    A later search's continuation (residual) starts from the forecast's last frame but fades over, by its own
    last frame (smoothstep), to the neighbour's own frames, moved and turned to where the forecast stands, its
    lowest body joint at the height of the neighbour's (so a body larger or smaller than the neighbour's stands
    on the floor as it does); then the observed bone lengths. Each search had instead carried the forecast's
    offset from its neighbour along the whole continuation: what one continuation's end and the next
    neighbour's window did not share stayed in for good, and over repeated searches the offsets added up —
    bones drifting, poses bending beyond the training poses, and heights integrated like the travel along the
    floor, so that a body sank (an HDM05 jog on ten other HDM05 clips: each search found the same 2-s jog
    clip near its middle and added its displacements up to the clip's end, which close no gait cycle: the
    pelvis 1.5 cm and the lowest foot about 7 cm lower, search after search; once sunk, the low pose matched
    a lie-down). The first continuation is the residual as it was but for the bone lengths (and the legs bent to
    the feet that are down), so forecasts up to ``search_s`` change only by those.

    Rebuilding the bones from the root had moved planted feet: the length corrections add up down each leg and
    change from frame to frame (`posecast bench long-horizon`, first second, foot skating: HDM05 test 0.87 -> 1.24 m/s
    when the rebuild came in). With the legs bent so that a foot that is down keeps the residual's ankle
    (`two_bone_reach`), on the validation files scored as that protocol scores (one CPU core of the development
    machine; CMU BVH: the 238 seeds of the 10 validation files, Bandai: 500 seeds of 200 of its 375 validation files):
    foot skating in seconds 1 / 2 CMU BVH 0.319 / 0.367 -> 0.250 / 0.336 m/s, Bandai 0.138 / 0.167 -> 0.078 / 0.139;
    ground penetration in second 1 1.44 -> 1.36 cm and 0.24 -> 0.14 cm (second 2: 3.59 -> 3.55, but Bandai 0.09 ->
    0.12); bone lengths as before (0.05 cm on CMU BVH, the mapping's shoulders; 0 on Bandai); MPJPE at 400 ms / 1 s
    CMU BVH 165.9 / 333.4 -> 166.1 / 333.2 mm, Bandai 56.4 / 118.5 -> 56.5 / 118.5 mm (bending every leg to the
    residual's ankle, feet in the air too, skated a little less but cost 1.4 % at 400 ms on 200 Bandai seeds: in the
    air the rebuilt ankle is the nearer to the recorded one); a 20-s rollout about 5 % (32 seeds) to 15 % (one)
    slower.

    The canonical frame is centred on the skeleton's root, or on the body's pelvis when the root is a world
    root (Bandai's floor-level ``joint_Root``, `posecast.skeletons.canonical.Retarget.static`), which does not
    travel with the body: turning about it would swing the body about a point metres away. Such a root stays
    where it was observed unless it travelled with the body over the window read.
    """

    name = "nearest-neighbour"

    def __init__(
        self,
        window: int = 10,
        frames: int = 25,
        stride: int = 1,
        residual: bool = True,
        canonical: str = "heading",
        search_s: float | None = None,
    ) -> None:
        if window < 1 or frames < 1 or stride < 1:
            raise ValueRangeError("window, frames and stride must be positive")
        if canonical not in ("translation", "heading"):
            raise ValueRangeError(f"canonical must be 'translation' or 'heading', not {canonical!r}")
        if search_s is not None and not search_s > 0:
            raise ValueRangeError(f"search_s must be positive, not {search_s!r}")
        self.window, self.frames, self.stride, self.residual = window, frames, stride, residual
        self.canonical = canonical
        self.search_s = frames / REFERENCE_FPS if search_s is None else float(search_s)
        self.min_history = window
        self._keys: np.ndarray | None = None  # (N, window*J*3) float32
        self._futures: np.ndarray | None = None  # (N, frames, J, 3) in the canonical frame
        self._last: np.ndarray | None = None  # residual: (N, J, 3) float32, each window's last frame, canonical
        self._key_sq: np.ndarray | None = None
        self._every = frames  # frames between searches at the fitted rate (`fit`)
        # only where _every > frames: the training positions (float32), and per window its first frame in them,
        # the frames left after it in its motion and its canonical (origin, rot), to read continuations on
        self._data: np.ndarray | None = None
        self._start: np.ndarray | None = None
        self._left: np.ndarray | None = None
        self._origin: np.ndarray | None = None  # (N, 3)
        self._rot: np.ndarray | None = None  # (N, 3, 3)
        self._centre = 0  # the joint the canonical frame is centred on (`_body`)
        self._world: list[int] = []  # world roots (kept where observed unless they travel)
        self._legs: list[tuple[int, int, int]] = []  # (hip, knee, ankle) of each leg found (`_body`)
        self.fps: float | None = None
        self.skeleton: Skeleton | None = None

    def _body(self) -> tuple[int, list[int], list[tuple[int, int, int]]]:
        """The joint the canonical frame is centred on, the skeleton's world roots and its legs: the root and none,
        but the body's pelvis and the world roots (`Retarget.static`) when the root is one; ``(hip, knee, ankle)``
        of each leg whose three joints the canonical mapping takes 1:1 from joints each below the one before, with
        a joint below the ankle."""
        from posecast.kinematics.fk import ancestor_matrix
        from posecast.skeletons.canonical import retarget

        if self.skeleton is None:
            return 0, [], []
        try:
            r = retarget(self.skeleton)
        except SkeletonError:  # not a body the canonical mapping reads: the root, as before, and no legs
            return 0, [], []
        names = self.skeleton.joint_names
        below = ancestor_matrix(tuple(int(p) for p in self.skeleton.parents))  # (j, k): k is j or above it
        legs = []
        for side in ("left", "right"):
            one = [[n for n, w in r.assignment.get(f"{side}_{j}", {}).items() if w == 1.0] for j in _LEG]
            if all(len(o) == 1 for o in one):
                hip, knee, ankle = (names.index(o[0]) for o in one)
                # a foot below the ankle too: its toes give the side a knee bends to (`two_bone_reach`); an ankle that
                # is a leaf (h36m-17, coco-17, body-17) leaves the bend to a fixed world direction, so no planting
                if hip != knee != ankle and below[knee, hip] and below[ankle, knee] and below[:, ankle].sum() > 1:
                    legs.append((hip, knee, ankle))
        pelvis = [n for n, w in r.assignment.get("pelvis", {}).items() if w == 1.0]
        if names[0] not in r.static or len(pelvis) != 1:
            return 0, [], legs
        return names.index(pelvis[0]), [names.index(n) for n in r.static], legs

    def _frame(self, windows: np.ndarray):
        """Canonical coordinates of ``(n, L, J, 3)`` windows and the ``(origin, rot)`` to undo them."""
        import torch

        from posecast.models.neural import canonical_frame, to_canonical

        mode = self.canonical if self.skeleton is not None and self.skeleton.left_right else "translation"
        w = torch.as_tensor(windows, dtype=torch.float64)
        origin, rot = canonical_frame(w[:, : self.window], self.skeleton, mode)
        if self._centre:  # about the pelvis, not a world root (the heading is the hips' either way)
            origin[..., 0] = w[:, self.window - 1, self._centre, 0][:, None, None]
            origin[..., 2] = w[:, self.window - 1, self._centre, 2][:, None, None]
        return to_canonical(w, origin, rot).numpy(), (origin, rot)

    def _key(self, win: np.ndarray) -> np.ndarray:
        """``(n, window*J*3)`` float32 search keys of canonical windows; world roots count not (their place says
        where the body stands on the floor, metres, not its pose)."""
        w = win[:, : self.window]
        if self._world:
            w = w.copy()
            w[:, :, self._world] = 0.0
        return w.reshape(w.shape[0], -1).astype(np.float32)

    def fit(
        self,
        motions: Sequence[Motion] | Sequence[np.ndarray],
        fps: float | None = None,
        skeleton: str | Skeleton | None = None,
    ) -> NearestNeighbour:
        """Index every ``window + frames`` window (step ``stride``) of the training motions.

        Motions are resampled to ``fps`` (default: the first motion's rate); raw ``(T, J, 3)``
        arrays are taken as they are at ``fps`` (pass ``skeleton`` to canonicalise their heading).
        """
        from posecast import skeletons

        if isinstance(motions, str | bytes | Motion | np.ndarray) or not isinstance(motions, Sequence | Iterable):
            raise ValueRangeError(  # (QA: a string, None or a number ended in numpy's or Python's own errors)
                f"fit takes a list of Motions or (T, J, 3) position arrays, not {type(motions).__name__}"
            )
        keys, futures, lasts, seqs, starts_all, left, origins, rots = [], [], [], [], [], [], [], []
        span = self.window + self.frames
        self.skeleton = None if skeleton is None else skeletons.get(skeleton)
        self._centre, self._world, self._legs = self._body()
        offset = 0
        for m in motions:
            if isinstance(m, Motion):
                if self.skeleton is None:
                    self.skeleton = m.skeleton
                    self._centre, self._world, self._legs = self._body()
                    fps = fps or m.fps
                elif not m.skeleton.same_layout(self.skeleton):
                    raise SkeletonError(
                        f"training motions mix skeletons {self.skeleton.name!r} and {m.skeleton.name!r}"
                    )
                pos = m.resample(fps).positions if fps else m.positions
            else:
                try:
                    pos = np.asarray(m, dtype=np.float64)
                except (TypeError, ValueError):
                    pos = np.zeros(0)
                if pos.ndim != 3 or pos.shape[-1] != 3:
                    raise ValueRangeError(f"a training motion must be a Motion or a (T, J, 3) array, got {m!r:.60}")
            if pos.shape[0] < span:
                continue
            starts = window_starts(pos.shape[0], span, self.stride)
            win, (origin, rot) = self._frame(slice_windows(pos, starts, span))  # (n, span, J, 3)
            keys.append(self._key(win))
            future = win[:, self.window :]
            if self.residual:  # displacement of every joint from the neighbour's last observed pose
                future = future - win[:, self.window - 1 : self.window]
                lasts.append(win[:, self.window - 1].astype(np.float32))
            futures.append(future.astype(np.float32))
            seqs.append(pos.astype(np.float32))
            starts_all.append(offset + starts)
            left.append(pos.shape[0] - starts - self.window)
            origins.append(origin.numpy().reshape(-1, 3))
            rots.append(rot.numpy())
            offset += pos.shape[0]
        if not keys:
            raise ValueRangeError(f"no training motion has the {span} frames a window needs")
        self._keys = np.concatenate(keys)
        self._futures = np.concatenate(futures)
        self._last = np.concatenate(lasts) if self.residual else None
        self._key_sq = np.einsum("nd,nd->n", self._keys, self._keys)
        self.fps = fps
        self._every = max(1, round(self.search_s * fps)) if fps else self.frames
        if self._every > self.frames:  # continuations are read on from the training motions
            self._data, self._start, self._left = np.concatenate(seqs), np.concatenate(starts_all), np.concatenate(left)
            self._origin, self._rot = np.concatenate(origins), np.concatenate(rots)
        else:
            self._data = self._start = self._left = self._origin = self._rot = None
        return self

    @property
    def num_windows(self) -> int:
        return 0 if self._keys is None else self._keys.shape[0]

    def _search(
        self, q: np.ndarray, k: int, need: int | None = None, fade: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(B, k, F, J, 3)`` world-frame continuations of the ``k`` nearest windows to ``q``: ``F`` = ``frames``,
        or, where searches are more than ``frames`` apart and ``need`` frames are wanted, up to the search
        interval, as far as every chosen neighbour's training motion goes; and ``(B, k, F)`` the height of the
        lowest body joint (world roots left out) in each neighbour's own frames.

        With ``residual``, a continuation is ``q``'s last frame plus the neighbour's per-joint displacements from its
        own last observed frame, that is the neighbour's frames plus the offset ``q``'s last frame has from them
        there. ``fade`` (a rollout's later searches): that offset goes over to 0 by the continuation's last frame
        (`_fade`), so that the continuation starts where ``q`` ends and ends on the neighbour's own frames; the
        offsets of successive searches then never add up."""
        import torch

        from posecast.models.neural import from_canonical

        assert self._keys is not None and self._futures is not None and self._key_sq is not None
        qc, (origin, rot) = self._frame(q)
        qk = self._key(qc)
        d2 = self._key_sq[None] - 2.0 * qk @ self._keys.T  # + |q|² is constant per row
        if k < d2.shape[1]:
            nn = np.argpartition(d2, k - 1, axis=1)[:, :k]
        else:
            nn = np.tile(np.arange(d2.shape[1]), (d2.shape[0], 1))
        nn = np.take_along_axis(nn, np.take_along_axis(d2, nn, axis=1).argsort(axis=1), axis=1)  # nearest first
        n = min(self._every, need or self.frames)
        last = None  # residual: each neighbour's last observed frame, canonical (B, k, J, 3)
        if n > self.frames and self._data is not None:  # read the neighbours' continuations on
            assert self._start is not None and self._left is not None
            assert self._origin is not None and self._rot is not None
            n = max(self.frames, min(n, int(self._left[nn].min())))
            pre = 1 if self.residual else 0
            idx = self._start[nn][..., None] + self.window - pre + np.arange(n + pre)  # (B, k, n + pre)
            w = self._data[idx].astype(np.float64) - self._origin[nn][:, :, None, None]
            fut = np.einsum("bktjc,bkdc->bktjd", w, self._rot[nn])  # (B, k, n + pre, J, 3) canonical
            if self.residual:
                last = fut[:, :, 0]
                fut = fut[:, :, 1:] - fut[:, :, :1]
        else:
            fut = self._futures[nn].astype(np.float64)  # (B, k, frames, J, 3) canonical
            if self._every < self.frames:
                fut = fut[:, :, : self._every]
            if self.residual:
                assert self._last is not None
                last = self._last[nn].astype(np.float64)
        body = [j for j in range(fut.shape[-2]) if j not in self._world]
        if self.residual:
            assert last is not None
            low = (fut[..., body, 1] + last[:, :, None, body, 1]).min(-1)  # heights are not turned nor moved
            fut = fut + qc[:, None, -1:]
            if fade:  # minus the offset (B, k, J, 3) of q's last frame from the neighbour's, fully by the last frame
                fut = fut - (1.0 - self._fade(fut.shape[2]))[:, None, None] * (qc[:, None, -1] - last)[:, :, None]
        else:
            low = fut[..., body, 1].min(-1)
        b = q.shape[0]
        flat = torch.as_tensor(fut.reshape(b, -1, fut.shape[-2], 3))
        return from_canonical(flat, origin, rot).numpy().reshape(fut.shape), low

    @staticmethod
    def _fade(n: int) -> np.ndarray:
        """``(n,)`` weights of the offset at frames ``1..n`` of a continuation, from near 1 down to 0 at the last:
        smoothstep, ``1 - u^2 (3 - 2u)`` with ``u = t / n``."""
        u = np.arange(1, n + 1, dtype=np.float64) / n
        return 1.0 - u * u * (3.0 - 2.0 * u)

    def _bones(self, frames: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """``(B, S, F, J, 3)`` forecast frames with the bone lengths of ``observed`` ``(B, J, 3)`` (the last
        observed frame; `posecast.kinematics.fk.set_bone_lengths`, bone directions kept), residual forecasts on
        a skeleton only. Bones out of a world root (Bandai's floor-level ``joint_Root`` -> ``Hips``) keep the
        forecast's own length: it is where the body stands, not a bone. Planted feet: `_plant`."""
        if not self.residual or self.skeleton is None:
            return frames
        import torch

        from posecast.kinematics.fk import bone_lengths, set_bone_lengths

        y = torch.as_tensor(frames, dtype=torch.float64)
        lengths = bone_lengths(torch.as_tensor(observed, dtype=torch.float64), self.skeleton)[:, None, None]
        if self._world:  # (B, 1, 1, bones) -> (B, S, F, bones), the free ones the forecast's
            parents = [int(p) for p in self.skeleton.parents]
            free = [i for i, j in enumerate(j for j, p in enumerate(parents) if p >= 0) if parents[j] in self._world]
            lengths = lengths.expand(*y.shape[:3], -1).clone()
            lengths[..., free] = bone_lengths(y, self.skeleton)[..., free]
        return set_bone_lengths(y, lengths, self.skeleton).numpy()

    def _plant(self, frames: np.ndarray, rebuilt: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """``rebuilt`` ``(B, S, F, J, 3)`` (`_bones` of the residual ``frames``, then `_floor`) with each leg found
        (`_body`) bent at the knee so that a foot that is down keeps its ankle where ``frames`` have it.

        Rebuilt from the root, the bones' length corrections add up down each leg and change from frame to frame,
        so that a planted foot slides. The ankle's target is ``frames``' ankle while the foot's lowest joint is at
        most `PLANTED_M` above the observed floor (the lowest foot joint of ``observed`` ``(B, J, 3)``) and the
        rebuilt ankle from `LIFTED_M` up (in the air it is the nearer to the recorded one; the leg stays as rebuilt),
        linear between; the leg is bent to it with `posecast.kinematics.ik.two_bone_reach` (thigh and shin keep
        their lengths, the foot is moved along unturned). After `_floor`, so that a body larger than the neighbour's
        still stands as tall as the neighbour's floor lets it (bent to the feet first, it would crouch)."""
        if not self._legs or not self.residual or self.skeleton is None:
            return rebuilt
        from posecast.kinematics.fk import ancestor_matrix
        from posecast.kinematics.ik import two_bone_reach

        parents = tuple(int(p) for p in self.skeleton.parents)
        feet = [np.flatnonzero(ancestor_matrix(parents)[:, ankle]) for _, _, ankle in self._legs]  # ankle and below
        floor = observed[:, np.concatenate(feet), 1].min(-1)[:, None, None]  # (B, 1, 1)
        out = rebuilt
        for (hip, knee, ankle), foot in zip(self._legs, feet, strict=True):
            down = np.clip((LIFTED_M - (frames[..., foot, 1].min(-1) - floor)) / (LIFTED_M - PLANTED_M), 0.0, 1.0)
            target = out[..., ankle, :] + down[..., None] * (frames[..., ankle, :] - out[..., ankle, :])
            out = np.where(down[..., None, None] > 0, two_bone_reach(out, parents, hip, knee, ankle, target), out)
        return out

    def _floor(self, frames: np.ndarray, low: np.ndarray) -> np.ndarray:
        """A later search's ``(B, S, F, J, 3)`` frames (`_search` with ``fade``, then `_bones`) moved up or down so
        that, as the offset fades, their lowest body joint goes over to the height of the lowest joint in the
        neighbour's own frame (``low`` ``(B, S, F)``): the body stands on the floor as the neighbour does, whatever
        its own size (a larger body on a neighbour's pelvis height would reach under the floor). World roots stay."""
        if not self.residual:
            return frames
        body = [j for j in range(frames.shape[-2]) if j not in self._world]
        lift = (1.0 - self._fade(frames.shape[2])) * (low - frames[..., body, 1].min(-1))  # (B, S, F)
        out = frames.copy()
        out[..., body, 1] += lift[..., None]
        return out

    def history_frames(self, fps: float) -> int:
        return self.window

    def predict(self, history: np.ndarray, frames: int, samples: int = 1, fps: float | None = None) -> np.ndarray:
        if self._keys is None or self._futures is None:
            raise ModelError("nearest-neighbour has no training windows: call fit(motions) first (CLI: --train-data)")
        h = check_predict(history, frames, samples, fps)
        if h.shape[1] < self.window:
            raise ValueRangeError(f"nearest-neighbour needs {self.window} observed frames, got {h.shape[1]}")
        if h.shape[2:] != self._futures.shape[2:]:
            raise SkeletonError(f"history has {h.shape[2]} joints, the training set {self._futures.shape[2]}")
        if fps is not None and self.fps is not None and abs(fps - self.fps) > 1e-6:
            raise ValueRangeError(f"history is at {fps:g} fps but the training set at {self.fps:g} fps; resample first")
        if samples > self.num_windows:
            raise ValueRangeError(f"asked for {samples} neighbours but only {self.num_windows} windows are indexed")
        b = h.shape[0]
        first = self._search(h[:, -self.window :], samples, frames)[0]
        out = self._plant(first, self._bones(first, h[:, -1]), h[:, -1])  # (B, S, F, J, 3)
        while out.shape[2] < frames:  # roll out: search again from the end of each hypothesis
            ctx = np.concatenate([np.repeat(h[:, None], samples, axis=1), out], axis=2)[:, :, -self.window :]
            more, low = self._search(ctx.reshape((b * samples,) + ctx.shape[2:]), 1, frames - out.shape[2], fade=True)
            more = more.reshape((b, samples) + more.shape[2:])
            rebuilt = self._floor(self._bones(more, h[:, -1]), low.reshape(more.shape[:3]))
            out = np.concatenate([out, self._plant(more, rebuilt, h[:, -1])], axis=2)
        out = out[:, :, :frames]
        if self._world:  # world roots that stayed put over the window read stay where they were observed
            from posecast.skeletons.canonical import STILL_M, history_travel

            travel = history_travel(h[:, :, self._world], self.window)  # (B, W)
            for i, j in enumerate(self._world):
                still = travel[:, i] < STILL_M
                out[still, :, :, j] = h[still, -1, j][:, None, None]
        return out


def corpus_nearest_neighbour(window: int = 25, frames: int = 25, stride: int = 4, residual: bool = True) -> Forecaster:
    """The nearest-neighbour baseline fitted on the training split of the corpus (`posecast.datasets.corpus`:
    canonical body, 25 fps; ``window`` observed frames compared, continuations of ``frames``, a window every
    ``stride`` frames), usable on any skeleton through its ``on_skeleton``
    (`posecast.models.canonical.CanonicalForecaster`). The training sequences are cut at capture glitches
    (`posecast.datasets.training_data.cut_glitches`), so that no retrieved continuation is one."""
    from posecast.datasets.corpus import FPS, SKELETON, training_sequences
    from posecast.datasets.training_data import cut_glitches
    from posecast.models.canonical import CanonicalForecaster

    seqs = [piece for s in training_sequences("train")[0] for piece in cut_glitches(s, FPS)]
    nn = NearestNeighbour(window=window, frames=frames, stride=stride, residual=residual)
    return CanonicalForecaster(nn.fit(seqs, fps=FPS, skeleton=SKELETON))
