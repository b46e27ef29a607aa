"""Pictures of key poses: mined ones in their clip, forecast ones side by side.

`render_keypose_forecast`: a key-pose forecast (`posecast.keyposes.forecaster`) as panels side by side
(`posecast.viz.poses`): the observed window (playing in real time, then holding its last frame), the
true next key pose when known (green, dashed), then the K hypotheses, most probable first, each
labelled ``#i · p = ...`` (and, under timing proposals, ``rollout`` or ``heatmap``) with the last
observed pose faintly behind it. ``.mp4`` / ``.gif`` / ``.png`` / ``.html``.

`render_keyposes`: a motion with its mined key poses highlighted.

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
from posecast.motion import Forecast, Motion
from posecast.skeletons.canonical import UP_ROTATIONS
from posecast.viz import render, render_video
from posecast.viz import scene as sc
from posecast.viz.poses import Panel, render_panels
from posecast.viz.scene import Scene, build_scene

SUFFIXES = (".mp4", ".gif", ".html")
DEFAULT_HOLD_S = 0.6
FORECAST_SUFFIXES = (".mp4", ".gif", ".png", ".html")
MAX_HYPOTHESES = 12
"""At most this many hypotheses are drawn side by side (the most probable ones)."""


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
    count = f"{len(frames)} key pose{'s' * (len(frames) != 1)}"
    if suffix == ".html":
        head = title or (f"{source}: {count} at t = {times} s" if frames else f"{source}: no key pose")
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
    head = title or f"{source} ({motion.duration:.2f} s): {count}, each held {hold_s:g} s"
    return render_video(scene, p, title=head)


# ------------------------------------------------------------------------------ forecast key poses
def rank_colors(count: int) -> list[str]:
    """``count`` colours from red (rank 1, the most probable) to orange (the last rank)."""
    c0, c1 = (np.array([int(h[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64) for h in sc.SAMPLE_COLORS)
    out = []
    for r in range(count):
        w = r / max(count - 1, 1)
        out.append("#" + "".join(f"{v:02x}" for v in np.rint(c0 * (1 - w) + c1 * w).astype(int)))
    return out


def probability_text(p: float) -> str:
    """``p = 0.42``, ``p = 0.003``, ``p < 0.001``: a probability as a label shows it."""
    if p >= 0.01:
        return f"p = {p:.2f}"
    return f"p = {p:.3f}" if p >= 0.001 else "p < 0.001"


def render_keypose_forecast(
    forecast: Forecast,
    path: str | os.PathLike[str],
    *,
    truth: np.ndarray | None = None,
    truth_time_s: float | None = None,
    errors: np.ndarray | None = None,
    title: str | None = None,
    max_hypotheses: int = MAX_HYPOTHESES,
    hold_s: float = 2.5,
    size: tuple[int, int] | None = None,
    azim: float | None = None,
    elev: float = 12.0,
    note: str | None = None,
) -> Path:
    """Draw a key-pose forecast side by side to ``.mp4``, ``.gif``, ``.png`` or ``.html`` (atomically).

    Args:
        forecast: K hypotheses of one frame each with their ``history`` (the observed window) and
            ``probabilities`` (`posecast.keyposes.forecaster.KeyPoseForecaster.forecast`).
        path: output file; the suffix picks the kind.
        truth: optional ``(J, 3)`` true next key pose, placed where it should be compared (at the
            hypotheses' anchor); drawn green and dashed after the observed panel.
        truth_time_s: when the true key pose happens (clip time, seconds), for its label.
        errors: optional ``(K,)`` per-hypothesis error to the truth (metres), shown under the probability.
        title: first header line (default: the clip, K, the last observed time and the model).
        max_hypotheses: draw at most this many (the most probable).
        hold_s, size, azim, elev: as in `posecast.viz.poses.render_panels`.
        note: a last fact for the header (``no key pose after t = 2.00 s in the file`` when one was looked for).

    Raises:
        FormatError: an unknown suffix or a missing output folder.
        ValueRangeError: no history or no samples, ``max_hypotheses < 1``.
    """
    p = Path(path)
    if p.suffix.lower() not in FORECAST_SUFFIXES:
        what = p.suffix.lower() or "a file without suffix"
        raise FormatError(f"cannot render a key-pose forecast to {what!r}; use {', '.join(FORECAST_SUFFIXES)}", p)
    if forecast.history is None:
        raise ValueRangeError("a key-pose forecast is drawn next to its observed frames: the forecast has no history")
    if max_hypotheses < 1:
        raise ValueRangeError(f"max_hypotheses must be at least 1, got {max_hypotheses}")
    k = forecast.num_samples
    probs = forecast.probabilities
    order = np.arange(k) if probs is None else np.argsort(-np.asarray(probs), kind="stable")
    shown = order[:max_hypotheses]
    history = forecast.history
    obs = (
        history if abs(history.fps - forecast.fps) < 1e-9 else history.resample(forecast.fps, anchor="end")
    ).positions
    meta = forecast.metadata
    up = meta.get("up_axis") if meta.get("up_axis") in UP_ROTATIONS else "+y"
    turn = UP_ROTATIONS[up].T  # the data's up axis up on the screen (row vectors: p @ R^T = R p)
    obs = obs @ turn
    samples = np.asarray(forecast.samples) @ turn
    last = obs[-1]
    t_last = float(meta.get("last_observed_time_s", (obs.shape[0] - 1) / forecast.fps))
    panels = [Panel(f"observed\nt = {t_last:.2f} s", obs, sc.HISTORY_COLOR)]
    when = "" if truth_time_s is None else f" at t = {truth_time_s:.2f} s"
    if truth is not None:
        label = "true next key pose"
        if truth_time_s is not None:
            label += f"\nt = {truth_time_s:.2f} s (+{truth_time_s - t_last:.2f} s)"
        panels.append(Panel(label, np.asarray(truth, dtype=np.float64)[None] @ turn, sc.GROUND_TRUTH_COLOR, True, last))
    for rank, (i, color) in enumerate(zip(shown, rank_colors(len(shown)), strict=True), 1):
        label = f"#{rank} · {probability_text(float(probs[i]))}" if probs is not None else f"#{rank}"
        second = []
        if meta.get("from_rollout") is not None:  # timing proposals: a rollout frame or a heatmap draw
            second.append("rollout" if meta["from_rollout"][i] else "heatmap")
        if errors is not None:
            second.append(f"MPJPE {float(errors[i]):.2f} m")
        if second:
            label += "".join(f"\n{x}" for x in second)
        panels.append(Panel(label, samples[i, :1], color, False, last))
    static = [forecast.skeleton.index(n) for n in meta.get("static_joints") or () if n in forecast.skeleton.joint_names]
    source = str(meta.get("source") or forecast.history.metadata.get("source") or "motion")
    source = source.replace("\\", "/").rsplit("/", 1)[-1]
    what = "key-pose hypothesis" if k == 1 else "key-pose hypotheses"
    head = title or f"{source}: {k} {what} after t = {t_last:.2f} s ({forecast.model or 'model'})"
    skel = forecast.skeleton
    facts = [f"{skel.name} ({skel.num_joints} joints)"]
    if meta.get("canonical_body"):
        facts.append(f"forecast on {meta['canonical_body']}, mapped back")
    facts.append("most probable first" + (f", {len(shown)} of {k} shown" if len(shown) < k else ""))
    facts.append("grey: last observed pose")
    if up != "+y":
        facts.append(sc.up_note(up))
    if truth is not None:
        facts.append(f"green, dashed: true next key pose{when}")
    if note:
        facts.append(note)
    labels = [f"t = {t_last - (obs.shape[0] - 1 - f) / forecast.fps:5.2f} s  observed" for f in range(obs.shape[0])]
    return render_panels(
        panels, skel, p, fps=forecast.fps, title=head, subtitle=" · ".join(facts), frame_labels=labels,
        hidden=static, hold_s=hold_s, size=size, azim=azim, elev=elev,
    )  # fmt: skip
