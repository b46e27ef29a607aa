"""Finding people the pose backend's detector misses because they are small in the frame.

MediaPipe's person detector sees the whole frame shrunk to 224 x 224 pixels and finds a body only when
it spans a good part of that square: in a 1920 x 1080 frame it found nobody in any frame when the person
was half the frame's height or less (the shared squats and basketball clips pasted at 0.50, 0.35, 0.25 and
0.18 of a 1080-pixel-high frame; `benchmarks/small_people.py`). Once a person is found, its landmark model
works on a crop around the body and is accurate at any size — what fails is only the *finding*.

`SearchingSession` wraps any backend's sessions:

1. every frame goes first to the backend as is (the usual full-frame session: nothing changes for clips
   where the person is found, and nothing is spent);
2. when nobody is found, overlapping square tiles are searched — sides of 1, 1/2 and 1/3 of the frame's
   shorter side, each step overlapping by half, the next size only when the larger found nobody — with the
   backend's static (detector every time) session; of the people found, the largest is kept;
3. that person is then followed in a square crop around the body (`ZOOM` times the body's longer side) by a
   session of its own, and the crop moves with the person (`ZoomWindow.follow`); the crop's keypoints are
   put back in the frame's pixels. The full frame is looked at again every `RECHECK_EVERY` frames (and a
   person found there taken instead: the large person the backend had lost for a frame); when the crop loses
   the person the full frame is tried, then a new search; frames of another size start afresh.

Searches are rate-limited so that a clip (or a live camera) with nobody in it is not slowed down much: the
first frames search at once, after each search that finds nobody the wait doubles (`SEARCH_EVERY` frames
up to `SEARCH_EVERY_MAX`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from posecast.video.poses import FramePose, PoseSession, SessionStats

TILE_FRACTIONS = (1.0, 1 / 2, 1 / 3)
"""Tile sides searched, as fractions of the frame's shorter side (tried in this order; stop at a find)."""
MIN_TILE_PX = 96
"""No tile smaller than this (pixels): smaller frames are searched with fewer sizes."""
ZOOM = 2.0
"""The crop that follows a person found by the search: this many times the body's longer side."""
MIN_CROP_PX = 128
SEARCH_EVERY = 8
"""Frames between searches right after the person was lost (or at the start)."""
SEARCH_EVERY_MAX = 64
"""...doubling after each search that finds nobody, up to this many frames."""
RECHECK_EVERY = 10
"""While a person is followed in a crop, the full frame is looked at again every this many frames (every frame
in static mode): a person the backend finds there (the one it had lost for a frame, who is larger) is taken
instead of the small one."""
MOVE_FRACTION = 0.1
"""The crop moves when the body's centre is this far (fraction of the crop's side) from the crop's centre,
or the body's size asks for a crop 25 % larger or smaller."""


def tiles(width: int, height: int, side: int) -> list[tuple[int, int, int]]:
    """Square tiles ``(x, y, side)`` of ``side`` pixels covering a ``width`` x ``height`` frame, neighbours
    overlapping by at least half a side, the first at the top-left corner and the last at the bottom-right."""
    side = min(side, width, height)

    def starts(extent: int) -> np.ndarray:
        steps = int(np.ceil((extent - side) / (side / 2))) if extent > side else 0
        return np.unique(np.round(np.linspace(0, extent - side, steps + 1)).astype(int))

    return [(int(x), int(y), side) for y in starts(height) for x in starts(width)]


def shifted(pose: FramePose, dx: int, dy: int) -> FramePose:
    """``pose`` found in a crop whose top-left corner is at ``(dx, dy)``, its keypoints in the frame's pixels."""
    return replace(pose, keypoints=pose.keypoints + np.array([dx, dy], dtype=np.float64))


def body_box(pose: FramePose) -> tuple[float, float, float]:
    """Centre ``(x, y)`` and longer side (pixels) of the box around a pose's keypoints (those the backend
    sees, visibility > 0.5, when there are at least four of them)."""
    kp = pose.keypoints
    seen = pose.visibility > 0.5
    if seen.sum() >= 4:
        kp = kp[seen]
    lo, hi = kp.min(axis=0), kp.max(axis=0)
    centre = (lo + hi) / 2
    return float(centre[0]), float(centre[1]), float(max(hi - lo))


@dataclass
class ZoomWindow:
    """A square crop ``(x, y, side)`` inside a ``width`` x ``height`` frame that follows one body."""

    width: int
    height: int
    x: int = 0
    y: int = 0
    side: int = 0

    def side_for(self, body: float) -> float:
        """The crop's side for a body of ``body`` pixels: ``ZOOM`` x ``body``, at least `MIN_CROP_PX`, at most
        the frame's shorter side."""
        return min(max(ZOOM * body, MIN_CROP_PX), self.width, self.height)

    def place(self, cx: float, cy: float, body: float) -> None:
        """Centre the crop on ``(cx, cy)`` with `side_for` ``body`` pixels a side, kept inside the frame."""
        side = int(round(self.side_for(body)))
        self.side = side
        self.x = int(round(min(max(cx - side / 2, 0), self.width - side)))
        self.y = int(round(min(max(cy - side / 2, 0), self.height - side)))

    def follow(self, pose: FramePose) -> bool:
        """Move the crop to the body of ``pose`` (frame pixels) when it has moved or changed size enough;
        True when the crop moved."""
        cx, cy, body = body_box(pose)
        want = self.side_for(body)
        off = max(abs(cx - (self.x + self.side / 2)), abs(cy - (self.y + self.side / 2)))
        if off > MOVE_FRACTION * self.side or not 0.8 <= want / self.side <= 1.25:
            before = (self.x, self.y, self.side)
            self.place(cx, cy, body)
            return (self.x, self.y, self.side) != before
        return False

    def cut(self, rgb: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(rgb[self.y : self.y + self.side, self.x : self.x + self.side])

    def to_frame(self, pose: FramePose) -> FramePose:
        return shifted(pose, self.x, self.y)


@dataclass
class SearchStats(SessionStats):
    """`SessionStats` plus the frames on which tiles were searched and the frames whose pose came from a crop."""

    searched: int = 0
    zoomed: int = 0


@dataclass
class SearchingSession:
    """A `PoseSession` that searches tiles for people too small for the backend's detector (module doc).

    ``make(static)`` starts one of the backend's own sessions; the full-frame one is started at once, the
    search and crop sessions only when first needed. ``static=True`` (the detector on every frame): the full
    frame is looked at first in every frame, then the crop, with the detector too (a person found there is
    found afresh in each frame); searches are
    spaced out as in video mode (a clip's frames with nobody in them would otherwise each cost a whole
    search: 0.5-0.65 s a frame). One image is one session (`posecast.video.extract.extract_image_pose`), so an
    image is always searched when the backend misses.
    """

    make: Callable[[bool], PoseSession]
    static: bool = False
    stats: SearchStats = field(default_factory=SearchStats)
    _full: PoseSession | None = None
    _finder: PoseSession | None = None
    _crop: PoseSession | None = None
    _window: ZoomWindow | None = None
    _wait: int = 0
    _every: int = SEARCH_EVERY
    _since_full: int = 0

    def __post_init__(self) -> None:
        self._full = self.make(self.static)

    def process(self, rgb: np.ndarray) -> FramePose | None:
        t0 = time.perf_counter()
        pose = self._process(np.asarray(rgb))
        self.stats.seconds += time.perf_counter() - t0
        self.stats.frames += 1
        self.stats.detected += pose is not None
        return pose

    def _process(self, rgb: np.ndarray) -> FramePose | None:
        h, w = rgb.shape[:2]
        if self._window is not None and (self._window.width, self._window.height) != (w, h):
            self._window = None  # the frames changed size (a live camera switched resolution): start afresh
        if self._window is not None:
            self._since_full += 1
            if self.static or self._since_full >= RECHECK_EVERY:  # a person the full frame finds comes first
                self._since_full = 0
                assert self._full is not None
                pose = self._full.process(rgb)
                if pose is not None:
                    self._window = None
                    return pose
            pose = self._zoomed(rgb)
            if pose is not None:
                return pose
            self._window = None  # lost in the crop: the full frame, then a search
            self._every, self._wait = SEARCH_EVERY, 0
        assert self._full is not None
        pose = self._full.process(rgb)
        if pose is not None:
            return pose
        if self._wait > 0:
            self._wait -= 1
            return None
        self.stats.searched += 1
        found = self._search(rgb)
        if found is not None:
            self._window = ZoomWindow(w, h)
            self._window.place(*body_box(found))
            self._since_full = 0
            pose = self._zoomed(rgb)  # the crop's own session confirms (a false find in a tile is dropped here)
            if pose is not None:
                self._every = SEARCH_EVERY
                return pose
            self._window = None
        self._wait = self._every  # nobody found, or a find the crop did not confirm: wait longer next time
        self._every = min(2 * self._every, SEARCH_EVERY_MAX)
        return None

    def _zoomed(self, rgb: np.ndarray) -> FramePose | None:
        window = self._window
        assert window is not None
        if self._crop is None:
            self._crop = self.make(self.static)
        pose = self._crop.process(window.cut(rgb))
        if pose is None:
            return None
        pose = window.to_frame(pose)
        self.stats.zoomed += 1
        window.follow(pose)
        return pose

    def _search(self, rgb: np.ndarray) -> FramePose | None:
        """The largest person found in the tiles of the first size that finds anyone (frame pixels)."""
        if self._finder is None:
            self._finder = self.make(True)
        h, w = rgb.shape[:2]
        short = min(w, h)
        for fraction in TILE_FRACTIONS:
            side = int(round(short * fraction))
            if side < MIN_TILE_PX and fraction < 1.0:
                break
            best: FramePose | None = None
            best_size = 0.0
            for x, y, s in tiles(w, h, side):
                pose = self._finder.process(np.ascontiguousarray(rgb[y : y + s, x : x + s]))
                if pose is None:
                    continue
                pose = shifted(pose, x, y)
                size = body_box(pose)[2]
                if size > best_size:
                    best, best_size = pose, size
            if best is not None:
                return best
        return None

    def close(self) -> None:
        for session in (self._full, self._finder, self._crop):
            if session is not None:
                session.close()

    def __enter__(self) -> SearchingSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
