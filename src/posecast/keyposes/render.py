"""Pictures of mined key poses: the motion played in real time, pausing on each key pose.

* ``.mp4`` / ``.gif``: the clip plays and holds every key pose for ``hold_s`` seconds; the clock
  keeps showing clip time and reads ``◆ key pose i/K`` while a key pose is held.
* ``.html``: the interactive viewer of the clip (`posecast.viz.render_html`); its title lists the
  key poses' times, and the time slider jumps to them.

Importing this module loads matplotlib (through `posecast.viz`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from posecast.errors import FormatError, ValueRangeError
from posecast.keyposes.mining import KeyPose
from posecast.motion import Motion
from posecast.viz import render, render_video
from posecast.viz.scene import Scene, build_scene

SUFFIXES = (".mp4", ".gif", ".html")
DEFAULT_HOLD_S = 0.6


@dataclass(frozen=True, eq=False)
class KeyPoseScene(Scene):
    """A `Scene` whose timeline repeats key frames (held key poses), with the clip's own clock.

    Attributes:
        clip_times: ``(N,)`` clip time in seconds of each timeline frame.
        key_index: ``(N,)`` 1-based number of the key pose held at each timeline frame, 0 elsewhere.
        num_keys: how many key poses there are.
    """

    clip_times: np.ndarray = None  # type: ignore[assignment]
    key_index: np.ndarray = None  # type: ignore[assignment]
    num_keys: int = 0

    def frame_label(self, frame: int) -> str:
        label = f"t = {self.clip_times[frame]:5.2f} s"
        k = int(self.key_index[frame])
        return label + (f"  ◆ key pose {k}/{self.num_keys}" if k else "")


def keypose_timeline(num_frames: int, key_frames: Sequence[int], hold_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Timeline of a clip that pauses on key frames.

    Returns:
        ``(frames, key_index)``: ``frames (N,)`` clip frame shown at each timeline step (every key
        frame appears ``1 + hold_frames`` times), ``key_index (N,)`` 1-based key number during a
        held key frame, else 0.
    """
    repeats = np.ones(num_frames, dtype=np.int64)
    mark = np.zeros(num_frames, dtype=np.int64)
    for i, f in enumerate(key_frames, 1):
        repeats[f] += hold_frames
        mark[f] = i
    frames = np.repeat(np.arange(num_frames), repeats)
    return frames, mark[frames]


def render_keyposes(
    motion: Motion,
    keyposes: Sequence[KeyPose],
    path: str | os.PathLike[str],
    *,
    hold_s: float = DEFAULT_HOLD_S,
    title: str | None = None,
) -> Path:
    """Render ``motion`` with its key poses highlighted to ``.mp4``, ``.gif`` or ``.html`` (atomically).

    Args:
        motion: the clip the key poses were found in (their ``frame`` indexes it).
        keyposes: the key poses.
        path: output file; the suffix picks the kind.
        hold_s: seconds each key pose is held in videos.
        title: first title line (default: the clip's file name and the number of key poses).

    Raises:
        FormatError: an unknown suffix or a missing output folder.
        ValueRangeError: a key frame outside the motion or a negative ``hold_s``.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        what = suffix or "a file without suffix"
        raise FormatError(f"cannot render key poses to {what!r}; use {', '.join(SUFFIXES)}", p)
    if not np.isfinite(hold_s) or hold_s < 0:
        raise ValueRangeError(f"hold_s must be a non-negative number of seconds, got {hold_s!r}")
    frames = [int(k.frame) for k in keyposes]
    bad = [f for f in frames if not 0 <= f < motion.num_frames]
    if bad:
        raise ValueRangeError(f"key frame {bad[0]} is outside the motion's {motion.num_frames} frames")
    source = str(motion.metadata.get("source") or "motion").replace("\\", "/").rsplit("/", 1)[-1]
    times = ", ".join(f"{f / motion.fps:.2f}" for f in frames) or "none"
    if suffix == ".html":
        head = title or f"{source}: {len(frames)} key poses at t = {times} s"
        return render(motion, p, title=head)
    hold = int(round(hold_s * motion.fps))
    timeline, key_index = keypose_timeline(motion.num_frames, frames, hold)
    base = build_scene(motion.with_positions(motion.positions[timeline]))
    scene = KeyPoseScene(
        **{f.name: getattr(base, f.name) for f in fields(Scene)},
        clip_times=timeline / motion.fps,
        key_index=key_index,
        num_keys=len(frames),
    )
    head = title or f"{source} ({motion.duration:.2f} s): {len(frames)} key poses, each held {hold_s:g} s"
    return render_video(scene, p, title=head)
