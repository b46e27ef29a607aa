"""`PoseTrack`: a person's 2D keypoints over the frames of a clip (and, optionally, 3D world landmarks).

This is the one exchange format of the video work: the pose backends produce it from a video, the
virtual-camera projection of 3D motions produces it for training, and the video models consume it.

Conventions
-----------
- ``keypoints`` are image pixels, x to the right and y down, origin at the top-left corner of the
  image; ``image_size`` is ``(width, height)`` in pixels.
- ``visibility`` is the backend's confidence in ``[0, 1]``; a joint that was never seen is NaN in
  ``keypoints`` and 0 in ``visibility``.
- ``detected[t]`` is False where the backend returned no person in frame ``t``; those frames are
  bridged (interpolated) in ``keypoints`` so that models always see a complete sequence, and
  models/metrics can mask them.
- ``times`` are real presentation timestamps in seconds (variable frame rate allowed), increasing.
- ``world``, when present, is metric 3D ``(T, J, 3)`` in PoseCast's frame (metres, y up, right-handed,
  hip-centred per frame as MediaPipe reports it; it carries no root translation).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import FormatError, PosecastError, ValueRangeError


def bridge_missing(values: np.ndarray, times: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """Fill the frames where ``detected`` is False by linear interpolation over ``times``.

    ``values`` is ``(T, ...)``; returns a copy with the undetected frames replaced. Frames before
    the first (after the last) detected frame hold the first (last) detected value. Needs at least
    one detected frame.
    """
    values = np.asarray(values, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)
    detected = np.asarray(detected, dtype=bool)
    if not detected.any():
        raise ValueRangeError("cannot bridge a track with no detected frame")
    if detected.all():
        return values.copy()
    flat = values.reshape(values.shape[0], -1)
    out = flat.copy()
    src_t = times[detected]
    for c in range(flat.shape[1]):
        out[~detected, c] = np.interp(times[~detected], src_t, flat[detected, c])
    return out.reshape(values.shape)


MIN_FRAME_GAP_S = 1e-4
"""Seconds: gaps between timestamps below this are not frame intervals (duplicated stamps made unique) and are
left out of a frame rate (`frame_rate`)."""


def frame_rate(times: np.ndarray, default: float = 30.0) -> float:
    """Frames per second from increasing timestamps ``times`` (s): frames per second over the clip when its gaps
    are nearly even (Matroska stores milliseconds, so a 30 fps clip's gaps alternate 33 / 34 ms, whose median
    would read 30.3), else the rate of the median gap (variable frame rate), gaps under `MIN_FRAME_GAP_S` left
    out (a file whose frames share timestamps had read 1,000,000 frames/s, or infinity); ``default`` with fewer
    than two frames or no real gap."""
    times = np.asarray(times, dtype=np.float64)
    if len(times) < 2:
        return float(default)
    gaps = np.diff(times)
    real = gaps[gaps > MIN_FRAME_GAP_S]
    if not len(real):
        return float(default)
    if len(real) == len(gaps) and gaps.max() <= 1.5 * gaps.min():
        return float((len(times) - 1) / (times[-1] - times[0]))
    return float(1.0 / np.median(real))


def box_size(points: np.ndarray) -> float:
    """The longer side (pixels) of the axis-aligned box around ``(N, 2)`` points; 0 with no point."""
    return float(np.ptp(points, axis=0).max()) if len(points) else 0.0


SIDEWAYS_DEG = 60.0
"""`PoseTrack.sideways`: a trunk further than this from the image's up is lying or turned."""
PERSON_JUMP = 0.5
"""Body sizes the body's centre may move between two detected frames (plus `PERSON_SPEED` per second between
them) before the track is taken to have changed person (`PoseTrack.person_changes`)."""
PERSON_SPEED = 3.0
"""Body sizes per second: a sprinter covers about 3 body heights a second."""
PERSON_GROWTH = 1.6
"""A body that grows or shrinks by more than this factor within `PERSON_GROWTH_SECONDS` is another person (or
the camera cut to another shot)."""
PERSON_GROWTH_SECONDS = 0.2
LEAVING_SECONDS = 1.0
"""Seconds: how long the last detection kept stays the reference of `PoseTrack.leaving` across frames without a
detection."""
PERSON_EDGE = 0.1
"""A detection whose joints (every joint placed, seen or not) come within this share of the body's size (that of
the last detection kept) of the image's edge, or beyond it, is at the edge of the frame (`PoseTrack.leaving`)."""
PERSON_LOST_JOINTS = 0.5
"""A detection that sees fewer than this share of the joints the last detection kept saw has lost most of them."""
PERSON_LEAVING_SHRINK = 3.0
"""A body at the edge whose box shrank by more than this factor since the last detection kept is what a backend
returns for a person almost out of the frame (MediaPipe: 234 -> 31 px); a person crouching or squatting at the
edge shrinks by about 2 (kept)."""


@dataclass(frozen=True)
class PoseTrack:
    """2D keypoints ``(T, J, 2)`` (pixels) of one person, with visibility ``(T, J)``, timestamps
    ``(T,)`` (s), the image size ``(W, H)``, the joint layout name, per-frame detection flags
    ``(T,)`` and optional world landmarks ``(T, J, 3)`` (metres, y up)."""

    keypoints: np.ndarray
    visibility: np.ndarray
    times: np.ndarray
    image_size: tuple[int, int]
    skeleton: str
    detected: np.ndarray | None = None
    world: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        k = np.asarray(self.keypoints, dtype=np.float64)
        if k.ndim != 3 or k.shape[-1] != 2:
            raise ValueRangeError(f"PoseTrack keypoints must be (T, J, 2), got {k.shape}")
        t_, j_ = k.shape[:2]
        v = np.asarray(self.visibility, dtype=np.float64)
        if v.shape != (t_, j_):
            raise ValueRangeError(f"PoseTrack visibility must be {(t_, j_)}, got {v.shape}")
        times = np.asarray(self.times, dtype=np.float64)
        if times.shape != (t_,):
            raise ValueRangeError(f"PoseTrack times must be ({t_},), got {times.shape}")
        if t_ > 1 and not np.all(np.diff(times) > 0):
            raise ValueRangeError("PoseTrack times must increase strictly")
        det = np.ones(t_, bool) if self.detected is None else np.asarray(self.detected, dtype=bool)
        if det.shape != (t_,):
            raise ValueRangeError(f"PoseTrack detected must be ({t_},), got {det.shape}")
        w = None if self.world is None else np.asarray(self.world, dtype=np.float64)
        if w is not None and w.shape != (t_, j_, 3):
            raise ValueRangeError(f"PoseTrack world must be {(t_, j_, 3)}, got {w.shape}")
        object.__setattr__(self, "keypoints", k)
        object.__setattr__(self, "visibility", v)
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "detected", det)
        object.__setattr__(self, "world", w)
        object.__setattr__(self, "image_size", (int(self.image_size[0]), int(self.image_size[1])))

    # ------------------------------------------------------------------ basic views
    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.keypoints.shape[1])

    @property
    def fps(self) -> float:
        """The frame rate (frames per second) from the timestamps (`frame_rate`; a single frame: its metadata's
        ``fps``, else 30)."""
        return frame_rate(self.times, float(self.metadata.get("fps", 30.0)))

    @property
    def duration(self) -> float:
        return float(self.times[-1] - self.times[0]) if self.num_frames else 0.0

    def coverage(self) -> dict[str, Any]:
        """How much of the clip shows the person (seconds from the first frame): the detected share of frames, the
        times of the first and last detection and how long after the clip's start and before its end they are, and
        per frame its time and whether a person was detected there (``frame_times_s``, ``frame_detected``: the
        frames without a detection hold or bridge the detected ones in the track, so the history written over them
        was not observed; the history starts at the first detection). JSON-ready: what a forecast file keeps of
        its track (``metadata["detection"]``, `posecast.save`)."""
        det = np.asarray(self.detected, dtype=bool)
        t = np.asarray(self.times, dtype=np.float64) - float(self.times[0])
        seen = np.flatnonzero(det)
        first = float(t[seen[0]]) if det.any() else 0.0
        last = float(t[seen[-1]]) if det.any() else 0.0
        return {
            "detected_fraction": round(float(det.mean()), 4),
            "first_detection_s": round(first, 4),
            "last_detection_s": round(last, 4),
            "undetected_head_s": round(first, 4),
            "undetected_tail_s": round(float(t[-1]) - last, 4),
            "frame_times_s": np.round(t, 6).tolist(),
            "frame_detected": det.tolist(),
        }

    def frames(self, start: int, stop: int | None = None) -> PoseTrack:
        """Frames ``start:stop``."""
        sl = slice(start, stop)
        return replace(
            self,
            keypoints=self.keypoints[sl],
            visibility=self.visibility[sl],
            times=self.times[sl],
            detected=self.detected[sl],
            world=None if self.world is None else self.world[sl],
        )

    def seen(self) -> np.ndarray:
        """``(T, J)`` bool: the joints the backend saw in each frame (visibility > 0.5 and placed), those `leaving`
        and `person_changes` measure a body on."""
        return (self.visibility > 0.5) & np.isfinite(self.keypoints).all(-1)

    def _joint_names(self) -> tuple[str, ...]:
        """The joint names of the track's layout; none for a layout not registered (tests' toy tracks), which the
        measures below then judge nothing by."""
        from posecast import skeletons

        try:
            return tuple(skeletons.get(self.skeleton).joint_names)
        except PosecastError:
            return ()

    def lower_body_out(self) -> float:
        """The share of the detected frames in which fewer than half of the body's hips, knees and ankles are seen
        inside the image (`seen`, and within ``image_size``): a person filmed from the waist up, whose lower body the
        models can only guess (for the whole clip, a body cut off by the frame passes `leaving`, which looks for a
        body that shrinks); 0 without detections or when the layout names no such joints."""
        names = self._joint_names()
        legs = [j for j, n in enumerate(names) if any(w in n.lower() for w in ("hip", "knee", "ankle"))]
        det = np.flatnonzero(self.detected)
        if not legs or not len(det):
            return 0.0
        k = self.keypoints[det][:, legs]
        w, h = self.image_size
        inside = (k[..., 0] >= 0) & (k[..., 0] < w) & (k[..., 1] >= 0) & (k[..., 1] < h)
        ok = (self.seen()[det][:, legs] & inside).sum(axis=1)
        return float(np.mean(ok < len(legs) / 2))

    def _trunk_up(self) -> tuple[np.ndarray, float]:
        """The cosine between the body's trunk (the hips' midpoint to the shoulders'), as seen, and the image's up in
        each detected frame where all four joints are seen ``(N,)``, and the share of detected frames those are
        (empty, 0 without detections or when the layout names no hips and shoulders)."""
        names = self._joint_names()
        want = ("left_hip", "right_hip", "left_shoulder", "right_shoulder")
        det = np.flatnonzero(self.detected)
        if not set(want) <= set(names) or not len(det):
            return np.zeros(0), 0.0
        k = self.keypoints[det][:, [names.index(n) for n in want]]
        ok = self.seen()[det][:, [names.index(n) for n in want]].all(axis=1)
        trunk = (k[ok, 2:] - k[ok, :2]).mean(axis=1)  # hips -> shoulders, pixels (y grows downwards)
        return -trunk[:, 1] / np.maximum(np.linalg.norm(trunk, axis=1), 1e-9), float(ok.mean())

    def sideways(self) -> float:
        """The share of the detected frames in which the body's trunk (the hips' midpoint to the shoulders'), as seen,
        points more than `SIDEWAYS_DEG` away from the image's up: a person lying down, or a clip turned a quarter
        without a rotation tag to say so (players show such a clip turned; the pipeline honours the tag, but cannot
        know an untagged clip was filmed turned). 0 without detections or when the layout names no hips and
        shoulders. Upside down counts too (`upside_down` tells it apart)."""
        up, share = self._trunk_up()
        return float(np.mean(up < np.cos(np.radians(SIDEWAYS_DEG))) * share) if len(up) else 0.0

    def upside_down(self) -> float:
        """The share of the detected frames in which the trunk, as seen, points more than 180 - `SIDEWAYS_DEG`
        degrees from the image's up: a clip turned upside down (or a handstand). Part of `sideways`."""
        up, share = self._trunk_up()
        return float(np.mean(up < -np.cos(np.radians(SIDEWAYS_DEG))) * share) if len(up) else 0.0

    def from_first_detection(self) -> PoseTrack:
        """The frames from the first detected one on; itself when the first frame is detected or none is. The frames
        before the first detection show no one: bridged, they hold the first pose seen, which a model would read
        as a person standing still (`posecast.video.models.base.VideoForecaster.forecast_track` cuts them off).
        The frames kept are the same as in this track (bridging holds the first detection before it and uses only
        detections after it)."""
        if self.num_frames == 0 or self.detected[0] or not self.detected.any():
            return self
        return self.frames(int(np.argmax(self.detected)))

    def until(self, seconds: float) -> PoseTrack:
        """The track as it was known ``seconds`` after its first frame: the frames with ``times <= times[0] +
        seconds``, their undetected frames bridged again from the detected frames among them (`bridged`), so
        that nothing of a later detection leaks into them (a track is bridged over all its frames when
        extracted). Without any detection among them the frames are returned as they are: mask them with
        ``detected`` (the real-clip bench skips such a cut)."""
        n = int(np.searchsorted(self.times, self.times[0] + seconds + 1e-9, side="right"))
        return self.frames(0, n).bridged()

    def leaving(self) -> np.ndarray:
        """Indices of the detected frames that show a body going out through the edge of the frame rather than a
        person: at the edge of the image (`PERSON_EDGE`), the box of the joints it sees (visibility > 0.5) shrank
        by more than `PERSON_LEAVING_SHRINK` since the last detection kept, or it sees less than
        `PERSON_LOST_JOINTS` of the joints that one saw (or fewer than four in common with it). What
        a pose backend returns for a person half out of the frame: MediaPipe places a body of 31 pixels at the edge
        the frame after one of 234 walked out of it (the test `PoseTrack.person_changes` makes of the growth would
        take it for another person). "At the edge" is judged on every joint placed. The last detection kept is the
        reference for at most `LEAVING_SECONDS`; a detection later than that is kept and becomes the reference
        (a run of left-out detections ends there). The first detection is always kept; a body that shrinks away
        from the edge, slowly, or by a crouch's factor of about 2 is kept (a person crouching at the border of
        the image after a gap in the detections had been left out for the whole crouch)."""
        kp, det = self.keypoints, np.flatnonzero(self.detected)
        seen = self.seen()
        width, height = self.image_size
        out: list[int] = []
        ref = None
        for b in det:
            if ref is None or self.times[b] - self.times[ref] > LEAVING_SECONDS + 1e-6:
                ref = b  # (also ends a run of dropped detections: what stays is a body)
                continue
            both = seen[ref] & seen[b]
            lost = seen[b].sum() < PERSON_LOST_JOINTS * seen[ref].sum() or both.sum() < 4
            ref_size = box_size(kp[ref, seen[ref]])
            # the boxes of all the joints each sees (MediaPipe's vanishing body: 234 -> 31 px, 7.5x; on the joints
            # both see only 1.7x, as little as a crouch's 2x)
            size_b = box_size(kp[b, seen[b]])
            shrunk = max(ref_size, 1.0) / max(size_b, 1.0) > PERSON_LEAVING_SHRINK
            placed = kp[b][np.isfinite(kp[b]).all(-1)]  # every joint placed (a vanishing body's seen ones may not be)
            margin = PERSON_EDGE * ref_size
            at_edge = bool(len(placed)) and bool(
                placed[:, 0].min() <= margin
                or placed[:, 1].min() <= margin
                or placed[:, 0].max() >= width - margin
                or placed[:, 1].max() >= height - margin
            )
            if at_edge and (shrunk or lost):
                out.append(int(b))
            else:
                ref = b
        return np.asarray(out, dtype=int)

    def without_leaving(self) -> PoseTrack:
        """This track with the detections of a body leaving the frame (`leaving`) counted as not detected and
        bridged again, their times in ``metadata["left_out_s"]`` (seconds from the first frame); itself when there
        are none. `posecast.video.extract.track_from_poses` makes every track so."""
        gone = self.leaving()
        if not len(gone):
            return self
        detected = self.detected.copy()
        detected[gone] = False
        left = [round(float(self.times[k] - self.times[0]), 4) for k in gone]
        return replace(self, detected=detected, metadata={**self.metadata, "left_out_s": left}).bridged()

    def person_changes(self) -> np.ndarray:
        """Indices of the detected frames whose person is, by all appearances, not the one of the detected
        frame before: measured on the joints seen (visibility > 0.5) in both frames (at least four; a pair with
        fewer says nothing), the centre of those joints jumped further than a person moves (`PERSON_JUMP` body
        sizes plus `PERSON_SPEED` per second between the two frames) or the box around them changed size by
        more than `PERSON_GROWTH` within `PERSON_GROWTH_SECONDS` (the tracker moved to another person, or the
        clip cut to another shot). Legs hidden for a few frames change neither (the same joints are compared);
        a person who comes back after a long gap far from where another left is not told apart from one who
        ran there."""
        idx = np.flatnonzero(self.detected)
        out = []
        kp = self.keypoints
        seen = self.seen()
        for a, b in zip(idx[:-1], idx[1:], strict=True):
            both = seen[a] & seen[b]
            if both.sum() < 4:
                continue
            pa, pb = kp[a, both], kp[b, both]
            size_a, size_b = box_size(pa), box_size(pb)
            ref = max(size_a, size_b, 1.0)
            dt = float(self.times[b] - self.times[a])
            jump = float(np.linalg.norm(pb.mean(0) - pa.mean(0))) / ref
            growth = max(size_a, 1.0) / max(size_b, 1.0)
            grew = max(growth, 1 / growth) > PERSON_GROWTH and dt <= PERSON_GROWTH_SECONDS + 1e-6
            if jump > PERSON_JUMP + PERSON_SPEED * dt or grew:
                out.append(b)
        return np.asarray(out, dtype=int)

    def since_last_change(self) -> PoseTrack:
        """This track with the frames before its last change of person (`person_changes`) marked as not
        detected and bridged again, so that a forecast reads one person; itself when there is no change."""
        changes = self.person_changes()
        if not len(changes):
            return self
        detected = self.detected.copy()
        detected[: changes[-1]] = False
        return replace(self, detected=detected).bridged()

    def bridged(self) -> PoseTrack:
        """This track with its undetected frames filled from its own detected ones (`bridge_missing`: linear
        over time between detections, the last detection held after it); itself when every frame or none
        was detected."""
        if self.detected.all() or not self.detected.any():
            return self
        return replace(
            self,
            keypoints=bridge_missing(self.keypoints, self.times, self.detected),
            visibility=bridge_missing(self.visibility, self.times, self.detected),
            world=None if self.world is None else bridge_missing(self.world, self.times, self.detected),
        )

    def to_layout(self, target: str) -> PoseTrack:
        """The same track on another joint layout (for example ``body-17``), through the mapping layer.
        Visibility of a mapped joint is the minimum over the source joints it is made from."""
        from posecast.skeletons.mapping import mapped_visibility, mapping_matrix, to_layout

        if target == self.skeleton:
            return self
        vis = mapped_visibility(mapping_matrix(self.skeleton, target), self.visibility)
        kp = to_layout(self.keypoints, target, source=self.skeleton)
        world = None if self.world is None else to_layout(self.world, target, source=self.skeleton)
        return replace(self, keypoints=kp, visibility=vis, world=world, skeleton=target)

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write ``.npz`` (plain arrays, no pickles)."""
        from posecast.io.registry import atomic_output

        path = Path(path)
        arrays: dict[str, np.ndarray] = {
            "keypoints": self.keypoints,
            "visibility": self.visibility,
            "times": self.times,
            "detected": self.detected,
            "image_size": np.array(self.image_size, dtype=np.int64),
            "skeleton": np.array(self.skeleton),
            "kind": np.array("posecast.PoseTrack"),
        }
        if self.world is not None:
            arrays["world"] = self.world
        with atomic_output(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> PoseTrack:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                if "kind" not in z or str(z["kind"]) != "posecast.PoseTrack":
                    raise FormatError(f"{path}: not a PoseCast pose track (.npz written by `posecast poses`)")
                return cls(
                    keypoints=z["keypoints"],
                    visibility=z["visibility"],
                    times=z["times"],
                    detected=z["detected"],
                    image_size=tuple(int(x) for x in z["image_size"]),
                    skeleton=str(z["skeleton"]),
                    world=z["world"] if "world" in z else None,
                    metadata={"source": str(path)},
                )
        except (OSError, ValueError, KeyError) as exc:
            raise FormatError(f"{path}: cannot read pose track ({exc})") from exc
