"""Poses side by side: one small 3D view ("panel") per pose, all at one scale, each labelled.

Made for key-pose hypotheses (`posecast.keyposes.render.render_keypose_forecast`): the observed motion
in the first panel, then one panel per hypothesis, most probable first, each with its label
(``#1 · p = 0.42``) above it and, faintly, a reference pose (the last observed one) behind it. Any
panel may hold several frames: it plays them in real time and then holds its last one; the others
stand still.

* ``.mp4`` / ``.gif``: the playing panels play, then everything is held for ``hold_s`` seconds.
* ``.png``: the last frame of every panel.
* ``.html``: a self-contained plotly page with one 3D scene per panel (turning or zooming one turns
  them all) and a time slider for the playing panels.

Every panel shows the same box (the same centre, extent and camera): a pose that stands further
forward, higher or wider than another is drawn so. Joints in ``hidden`` are not drawn nor counted
in the box (a world root such as Bandai's ``joint_Root`` that sits at the origin, metres away).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from posecast.errors import FormatError, SkeletonError, ValueRangeError
from posecast.io.registry import atomic_output
from posecast.skeletons.base import Skeleton
from posecast.viz import scene as sc

SUFFIXES = (".mp4", ".gif", ".png", ".html")
DEFAULT_SIZE = {".mp4": (1280, 720), ".gif": (960, 540), ".png": (1600, 900)}
"""Output size in pixels (width, height) of the pictures when ``size`` is not given."""
MAX_PANELS = 16
"""At most this many panels (a browser gives a page about 16 WebGL contexts, one per 3D scene)."""
GHOST_COLOR = "#9a9a9a"
GHOST_HTML_COLOR = "#d4d4d4"
"""The reference pose in the html viewer: opaque (WebGL draws translucent lines unreliably)."""


@dataclass(frozen=True, eq=False)
class Panel:
    """One pose (or a short motion) in its own view.

    Attributes:
        label: text above the panel (``\\n`` for a second line).
        positions: ``(F, J, 3)`` metres; ``F > 1`` plays and then holds the last frame.
        color: colour of the bones (the body's left side is drawn lighter).
        dashed: draw the bones dashed (a true pose, as the videos draw ground truth).
        ghost: optional ``(J, 3)`` reference pose drawn faintly behind.
    """

    label: str
    positions: np.ndarray
    color: str = sc.HISTORY_COLOR
    dashed: bool = False
    ghost: np.ndarray | None = None


def lighter(color: str, amount: float = 0.45) -> str:
    """``color`` (``#rrggbb``) mixed with ``amount`` of white."""
    rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)
    mixed = np.rint(rgb + (255.0 - rgb) * amount).astype(int)
    return "#" + "".join(f"{v:02x}" for v in mixed)


# ------------------------------------------------------------------------------------ geometry
@dataclass(frozen=True)
class Layout:
    """What every renderer of a set of panels shares.

    Attributes:
        panels: the checked panels, positions as float64 ``(F, J, 3)``.
        frames: timeline length: the longest panel's frames.
        left, other: polyline indices (`posecast.viz.scene.polyline_index`) of the left-side bones and
            of the others, hidden joints cut out.
        lo, hi: ``(3,)`` the common box (data coordinates, y up, equal scale).
        floor: ground height (m).
        view: ``(2,)`` unit ``(x, z)`` direction towards the viewer.
        cols, rows: the grid of panels.
    """

    panels: tuple[Panel, ...]
    frames: int
    left: np.ndarray
    other: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    floor: float
    view: np.ndarray
    cols: int
    rows: int

    def pose(self, panel: int, frame: int) -> np.ndarray:
        """``(J, 3)`` panel ``panel`` at timeline ``frame`` (its last frame once it has played)."""
        pos = self.panels[panel].positions
        return pos[min(frame, pos.shape[0] - 1)]

    def floor_square(self, half: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
        """``(lo, hi)`` of the floor patch drawn under each pose: ``half`` metres around the box centre."""
        c = (self.lo + self.hi) / 2
        r = min(half, (self.hi[0] - self.lo[0]) / 2)
        return c - [r, 0, r], c + [r, 0, r]

    def cell(self, panel: int, top: float, bottom: float = 0.0) -> tuple[float, float, float, float]:
        """``(x0, y0, width, height)`` in figure fractions of ``panel``'s cell, rows filling ``bottom..top``."""
        r, c = divmod(panel, self.cols)
        w = 1.0 / self.cols
        h = (top - bottom) / self.rows
        return c * w, top - (r + 1) * h, w, h


def _cut(chains: list[list[int]], hidden: set[int]) -> list[list[int]]:
    out = []
    for chain in chains:
        part: list[int] = []
        for j in chain + [-1]:
            if j in hidden or j < 0:
                if len(part) > 1:
                    out.append(part)
                part = []
            else:
                part.append(j)
    return out


def layout(
    panels: Sequence[Panel],
    skeleton: Skeleton,
    hidden: Sequence[int] = (),
    aspect: float = 16 / 9,
    azim: float | None = None,
    margin: float = 0.08,
) -> Layout:
    """Check the panels and compute the shared box, bones, camera and grid.

    Args:
        panels: 1 to `MAX_PANELS` panels on ``skeleton``; the first one is the reference (its last frame
            gives the camera's side view and the box centre, its lowest joint the floor).
        skeleton: their joint layout.
        hidden: joints not drawn.
        aspect: width / height of the area the panels fill (picks the grid).
        azim: camera direction in degrees about the vertical (default: 35 degrees off the reference pose's
            front).
        margin: metres around the content.

    Raises:
        ValueRangeError: no panel, too many, empty or non-finite positions.
        SkeletonError: positions that do not fit the skeleton.
    """
    if not panels:
        raise ValueRangeError("nothing to draw: no panels")
    if len(panels) > MAX_PANELS:
        raise ValueRangeError(f"{len(panels)} panels; at most {MAX_PANELS} fit side by side")
    j = skeleton.num_joints
    checked = []
    for p in panels:
        pos = np.asarray(p.positions, dtype=np.float64)
        if pos.ndim == 2:
            pos = pos[None]
        if pos.ndim != 3 or pos.shape[1:] != (j, 3) or pos.shape[0] == 0:
            raise SkeletonError(f"panel {p.label!r}: positions of shape {pos.shape} do not fit (F, {j}, 3)")
        ghost = None if p.ghost is None else np.asarray(p.ghost, dtype=np.float64)
        if ghost is not None and ghost.shape != (j, 3):
            raise SkeletonError(f"panel {p.label!r}: reference pose of shape {ghost.shape} does not fit ({j}, 3)")
        if not np.isfinite(pos).all() or (ghost is not None and not np.isfinite(ghost).all()):
            raise ValueRangeError(f"panel {p.label!r} contains NaN or inf")
        checked.append(Panel(p.label, pos, p.color, p.dashed, ghost))
    hide = {int(h) for h in hidden}
    shown = np.array([i for i in range(j) if i not in hide], dtype=np.int64)
    if shown.size == 0:
        raise ValueRangeError("every joint is hidden")
    every = np.concatenate([p.positions for p in checked] + [p.ghost[None] for p in checked if p.ghost is not None])
    chains = _cut(sc.bone_chains(skeleton.parents, checked[0].positions), hide)
    left = [c for c in chains if sc.is_left_chain(c, skeleton)]
    other = [c for c in chains if not sc.is_left_chain(c, skeleton)]

    ref = checked[0].positions[-1]
    pts = every[:, shown].reshape(-1, 3)
    floor = float(checked[0].positions[:, shown, 1].min())
    centre = (ref[shown].min(axis=0) + ref[shown].max(axis=0)) / 2
    reach = np.abs(pts[:, [0, 2]] - centre[[0, 2]]).max() + margin
    y_lo = min(floor, float(pts[:, 1].min())) - 0.02
    y_hi = float(pts[:, 1].max()) + margin
    lo = np.array([centre[0] - reach, y_lo, centre[2] - reach])
    hi = np.array([centre[0] + reach, y_hi, centre[2] + reach])

    scene = sc.Scene(skeleton, 1.0, ref[None], None, None, None, 0, "", "")
    view = sc.view_direction(scene, azim)
    # the grid: the columns that give each pose the largest picture (a pose is about as wide as its
    # horizontal reach and as tall as the box)
    width = min(2 * reach, float(np.ptp(pts[:, [0, 2]], axis=0).max()) + 2 * margin)
    height = y_hi - y_lo
    n = len(checked)
    best = max(
        range(1, n + 1),
        key=lambda c: min(aspect / c / width, 1.0 / math.ceil(n / c) / height) - 1e-9 * c,
    )
    return Layout(
        panels=tuple(checked),
        frames=max(p.positions.shape[0] for p in checked),
        left=sc.polyline_index(left),
        other=sc.polyline_index(other),
        lo=lo,
        hi=hi,
        floor=floor,
        view=view,
        cols=best,
        rows=math.ceil(n / best),
    )


# --------------------------------------------------------------------------------------- render
def render_panels(
    panels: Sequence[Panel],
    skeleton: Skeleton,
    path: str | os.PathLike[str],
    *,
    fps: float,
    title: str = "",
    subtitle: str = "",
    frame_labels: Sequence[str] | None = None,
    hidden: Sequence[int] = (),
    hold_s: float = 2.5,
    size: tuple[int, int] | None = None,
    azim: float | None = None,
    elev: float = 12.0,
) -> Path:
    """Draw ``panels`` side by side to ``path`` (``.mp4``, ``.gif``, ``.png`` or ``.html``), atomically.

    Args:
        panels: what to draw (`Panel`); the first one is the reference (camera side, box centre, floor).
        skeleton: their joint layout.
        path: output file; the suffix picks the kind.
        fps: frame rate of the panels' frames (playback is in real time).
        title, subtitle: the two header lines.
        frame_labels: text of the clock at each timeline frame (as many as the longest panel's frames).
        hidden: joints not drawn.
        hold_s: seconds everything is held after the playing panels end (videos).
        size: ``(width, height)`` pixels of the pictures (default 1280x720 mp4, 960x540 gif, 1600x900 png).
        azim: camera direction in degrees about the vertical (default: 35 degrees off the first panel's
            front).
        elev: camera elevation in degrees.

    Raises:
        FormatError: an unknown suffix or a failing encoder.
        ValueRangeError / SkeletonError: see `layout`; a bad fps, hold or size.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise FormatError(
            f"cannot draw poses side by side to {suffix or 'a file without suffix'!r}; use {', '.join(SUFFIXES)}", p
        )
    if not (math.isfinite(fps) and fps > 0):
        raise ValueRangeError(f"fps must be positive, got {fps!r}")
    if not (math.isfinite(hold_s) and hold_s >= 0):
        raise ValueRangeError(f"hold_s must be a non-negative number of seconds, got {hold_s!r}")
    if not p.parent.is_dir():
        raise FormatError(f"output folder {p.parent} does not exist", p)
    if suffix == ".html":
        lay = layout(panels, skeleton, hidden, aspect=16 / 9, azim=azim)
        labels = _labels(lay, frame_labels)
        return _write_html(lay, skeleton, p, fps, title, subtitle, labels, elev)
    from posecast.viz.render import _check_size

    w, h = _check_size(size or DEFAULT_SIZE[suffix], even=suffix == ".mp4")
    lay = layout(panels, skeleton, hidden, aspect=w / max(h - 110 * min(w / 1280, h / 720), 1), azim=azim)
    labels = _labels(lay, frame_labels)
    fig = _Figure(lay, (w, h), title, subtitle, elev)
    if suffix == ".png":
        fig.update(lay.frames - 1, labels[-1])
        with atomic_output(p) as tmp:
            fig.fig.savefig(str(tmp), format="png", dpi=fig.fig.dpi)
        return p
    return fig.write_video(p, fps, lay.frames + int(round(hold_s * fps)), labels)


def _labels(lay: Layout, frame_labels: Sequence[str] | None) -> list[str]:
    if frame_labels is None:
        return [""] * lay.frames
    labels = [str(s) for s in frame_labels]
    if len(labels) != lay.frames:
        raise ValueRangeError(f"{len(labels)} frame labels for {lay.frames} frames")
    return labels


#: share of the figure's width a header line may take
HEADER_WIDTH = 0.96
#: a header line too wide even on rows of its own is drawn smaller, down to this share of its size (smaller cannot
#: be read in a 960 x 540 gif), then shortened in the middle with an ellipsis
HEADER_MIN_SHRINK = 0.8


def _fit_header(item: Any, text: str, sep: str, limit: float, renderer: Any) -> list[str]:
    """Set ``text`` on the matplotlib ``item`` as rows no wider than ``limit`` pixels: its ``sep``-separated parts
    joined greedily; a part wider than ``limit`` alone makes the font smaller (to `HEADER_MIN_SHRINK`), then loses
    characters from its middle (``…``). Returns the rows."""

    def width(line: str) -> float:
        item.set_text(line)
        return float(item.get_window_extent(renderer=renderer).width)

    rows: list[str] = []
    for part in text.split(sep):
        if rows and width(rows[-1] + sep + part) <= limit:
            rows[-1] += sep + part
        else:
            rows.append(part)
    smallest = item.get_fontsize() * HEADER_MIN_SHRINK
    for _ in range(8):  # text width is not linear in the font size (hinting): shrink until it fits
        widest = max(width(r) for r in rows)
        size = item.get_fontsize()
        if widest <= limit or size <= smallest:
            break
        item.set_fontsize(max(smallest, size * limit / widest * 0.99))
    for i, row in enumerate(rows):
        while width(row) > limit and len(row) > 12:
            cut = max(1, int(len(row) * (1 - limit / width(row)))) + 1
            mid = len(row) // 2
            row = row[: mid - (cut + 1) // 2] + "…" + row[mid + cut // 2 + 1 :]
            row = row.replace("……", "…")
        rows[i] = row
    item.set_text("\n".join(rows))
    return rows


class _Figure:
    """The matplotlib figure: header, one orthographic 3D axes per panel, the clock."""

    def __init__(self, lay: Layout, size: tuple[int, int], title: str, subtitle: str, elev: float) -> None:
        self.lay = lay
        w, h = size
        dpi = 100
        self.fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi, facecolor="white")
        FigureCanvasAgg(self.fig)
        scale = min(w / 1280, h / 720)
        self.scale = scale
        fig = self.fig
        # the header wraps to the figure's width (the subtitle between its facts, the title between words), so
        # that a long file or skeleton name neither runs off the edges nor shrinks out of reading
        renderer = fig.canvas.get_renderer()
        y = 10.0  # pixels from the top
        for text, points, color, sep, gap in (
            (title, 15, "#222", " ", 14 + 24 * scale),
            (subtitle, 11, "#555", " · ", 0),
        ):
            item = fig.text(0.5, 1 - y / h, "", ha="center", va="top", fontsize=points * scale, color=color)
            _fit_header(item, text, sep, HEADER_WIDTH * w, renderer)
            y = max(gap, h - item.get_window_extent(renderer=renderer).y0 + 2 * scale)
        top = 1 - max(22 + 48 * scale, y + 8 * scale) / h
        bottom = (40 * scale) / h  # room for the clock
        azim = math.degrees(math.atan2(lay.view[0], lay.view[1]))
        box = tuple(sc.to_mpl(lay.hi - lay.lo))
        label_h = (48 * scale) / h  # two lines of 12 pt
        self.axes = []
        self.moving: list[tuple[int, list[tuple[Any, np.ndarray]]]] = []
        lw = 2.4 * max(scale, 0.6)
        flo, fhi = lay.floor_square()
        step = 0.25
        grid = sc.floor_grid(flo, fhi, lay.floor, step)
        index = np.concatenate([lay.left, [-1], lay.other])
        for i, panel in enumerate(lay.panels):
            x0, y0, cw, ch = lay.cell(i, top, bottom)
            ax = fig.add_axes((x0, y0, cw, ch - label_h), projection="3d", proj_type="ortho")
            ax.set_axis_off()
            ax.set_facecolor((1.0, 1.0, 1.0, 0.0))  # see-through: labels and the backdrop stay visible
            ax.computed_zorder = False
            lo, hi = sc.to_mpl(lay.lo), sc.to_mpl(lay.hi)
            ax.set_xlim(lo[0], hi[0])
            ax.set_ylim(lo[1], hi[1])
            ax.set_zlim(lo[2], hi[2])
            ax.set_box_aspect(box, zoom=1.0)
            ax.view_init(elev=elev, azim=azim, roll=0)
            g = sc.to_mpl(grid)
            # (not clipped: a 3D axes clips to the square it draws in, and a tall cell reaches past it)
            ax.plot(g[:, 0], g[:, 1], g[:, 2], color=sc.FLOOR_COLOR, alpha=0.6, lw=0.7 * scale, zorder=0, clip_on=False)
            (shadow,) = ax.plot([], [], [], color=sc.SHADOW_COLOR, alpha=0.3, lw=2.4 * scale, zorder=1, clip_on=False)
            if panel.ghost is not None:
                gp = sc.to_mpl(sc.gather(panel.ghost, index))
                ax.plot(
                    gp[:, 0], gp[:, 1], gp[:, 2], color=GHOST_COLOR, alpha=0.4, lw=0.7 * lw, zorder=2, clip_on=False
                )
            style = (0, (2.2, 1.4)) if panel.dashed else "-"
            lines = []
            for idx, color in ((lay.left, lighter(panel.color)), (lay.other, panel.color)):
                if not idx.size:
                    continue
                (art,) = ax.plot(
                    [],
                    [],
                    [],
                    color=color,
                    lw=lw,
                    ls=style,
                    zorder=3,
                    marker="o",
                    markersize=2.6 * scale,
                    solid_capstyle="round",
                    clip_on=False,
                )
                lines.append((art, idx))
            lines.append((shadow, index))
            self.axes.append((ax, lines))
            if panel.positions.shape[0] > 1:
                self.moving.append((i, lines))
            fig.text(
                x0 + cw / 2,
                y0 + ch - 4 / h,
                panel.label,
                ha="center",
                va="top",
                fontsize=12 * scale,
                color=panel.color,
                linespacing=1.25,
                fontweight="bold",
            )
            self._pose(lines, lay.pose(i, lay.frames - 1))
        self.clock = fig.text(0.01, 6 / h, "", ha="left", va="bottom", fontsize=11 * scale, family="monospace")
        footer = f"grid {step:g} m · drawn upright"
        fig.text(0.99, 6 / h, footer, ha="right", va="bottom", fontsize=10 * scale, color="#777")
        self._fit()

    def _pose(self, lines: list[tuple[Any, np.ndarray]], pose: np.ndarray) -> None:
        """Move a panel's bones to ``pose``; its last line is the shadow (the pose flattened onto the floor)."""
        for n, (art, idx) in enumerate(lines):
            q = sc.gather(pose, idx)
            if n == len(lines) - 1:
                q[:, 1] = self.lay.floor
            q = sc.to_mpl(q)
            art.set_data_3d(q[:, 0], q[:, 1], q[:, 2])

    def _fit(self, fill: float = 0.95) -> None:
        """One zoom for every panel: the largest at which every panel's content (all its frames, its
        reference pose and the floor patch) stays inside its own cell (an orthographic picture scales
        linearly with the zoom about the box centre)."""
        from mpl_toolkits.mplot3d import proj3d

        lay = self.lay
        keep = np.unique(np.concatenate([lay.left[lay.left >= 0], lay.other[lay.other >= 0]]))
        flo, fhi = lay.floor_square()
        corners = np.array([[x, lay.floor, z] for x in (flo[0], fhi[0]) for z in (flo[2], fhi[2])])
        centre = (lay.lo + lay.hi) / 2
        zooms = []
        for i, (ax, _) in enumerate(self.axes):
            panel = lay.panels[i]
            poses = panel.positions if panel.ghost is None else np.concatenate([panel.positions, panel.ghost[None]])
            q = sc.to_mpl(np.vstack([poses[:, keep].reshape(-1, 3), corners, centre[None]]))
            ax.apply_aspect()
            box = ax.get_position(original=True).transformed(self.fig.transFigure)
            xs, ys, _ = proj3d.proj_transform(q[:, 0], q[:, 1], q[:, 2], ax.get_proj())
            px = ax.transData.transform(np.column_stack([xs, ys]))
            rel = px[:-1] - px[-1]
            room_lo = (px[-1] - [box.x0, box.y0]) * fill
            room_hi = (np.array([box.x1, box.y1]) - px[-1]) * fill
            with np.errstate(divide="ignore"):
                f = np.concatenate(
                    [room_lo / np.maximum(-rel.min(axis=0), 1e-9), room_hi / np.maximum(rel.max(axis=0), 1e-9)]
                )
            zooms.append(float(f.min()))
        zoom = float(np.clip(min(zooms), 0.2, 8.0))
        box = tuple(sc.to_mpl(lay.hi - lay.lo))
        for ax, _ in self.axes:
            ax.set_box_aspect(box, zoom=zoom)

    def update(self, frame: int, label: str) -> None:
        for i, lines in self.moving:
            self._pose(lines, self.lay.pose(i, frame))
        self.clock.set_text(label)

    def write_video(self, p: Path, fps: float, total: int, labels: list[str]) -> Path:
        """Play the moving panels over a still backdrop of everything else, then hold (``total`` frames)."""
        from posecast.viz.render import _Backdrop, _GifWriter, _H264Writer

        fig = self.fig
        moving = {i for i, _ in self.moving}
        for i, (ax, _) in enumerate(self.axes):
            ax.set_visible(i not in moving)
        self.clock.set_visible(False)
        fig.canvas.draw()
        background = np.asarray(fig.canvas.buffer_rgba()).copy()
        for artist in list(fig.texts):
            if artist is not self.clock:
                artist.set_visible(False)
        for i, (ax, _) in enumerate(self.axes):
            ax.set_visible(i in moving)
        self.clock.set_visible(True)
        fig.add_artist(_Backdrop(background))
        suffix = p.suffix.lower()
        if suffix == ".mp4":
            writer: Any = _H264Writer(
                fps=fps,
                codec="libx264",
                extra_args=["-pix_fmt", "yuv420p", "-preset", "veryfast", "-crf", "20", "-movflags", "+faststart"],
            )
        else:
            writer = _GifWriter(fps=fps)
        with atomic_output(p) as tmp:
            try:
                with writer.saving(fig, str(tmp), dpi=fig.dpi):
                    for f in range(total):
                        k = min(f, self.lay.frames - 1)
                        self.update(k, labels[k])
                        writer.grab_frame()
            except (OSError, subprocess.CalledProcessError) as exc:
                raise FormatError(f"could not write the {suffix[1:]} ({type(exc).__name__}: {exc})", p) from None
        return p


# ----------------------------------------------------------------------------------------- html
_SYNC_CAMERAS = """
var gd = document.getElementById('{plot_id}');
var scenes = %s;
var busy = false;
gd.on('plotly_relayout', function (ev) {
  if (busy) { return; }
  var cam = null;
  for (var key in ev) {
    var m = key.match(/^(scene[0-9]*)\\.camera$/);
    if (m) { cam = ev[key]; break; }
  }
  if (!cam) { return; }
  var upd = {};
  scenes.forEach(function (s) { upd[s + '.camera'] = cam; });
  busy = true;
  Plotly.relayout(gd, upd).then(function () { busy = false; }, function () { busy = false; });
});
"""


def _coords(points: np.ndarray, index: np.ndarray) -> dict[str, list[float | None]]:
    """Plotly ``x``, ``y``, ``z`` lists of one skeleton's polylines (``None`` at the gaps), in mm precision."""
    if not index.size:
        return {"x": [None], "y": [None], "z": [None]}
    q = np.round(sc.gather(points, index), 3)
    out: dict[str, list[float | None]] = {}
    for axis, name in enumerate("xyz"):
        col: list[float | None] = q[:, axis].tolist()
        for i in np.flatnonzero(np.isnan(q[:, 0])):
            col[i] = None
        out[name] = col
    return out


def _write_html(
    lay: Layout,
    skeleton: Skeleton,
    p: Path,
    fps: float,
    title: str,
    subtitle: str,
    labels: list[str],
    elev: float,
    height_px: int = 820,
) -> Path:
    import plotly.io as pio

    names = skeleton.joint_names
    hover = "%{text}<br>x %{x:.3f} · y %{y:.3f} · z %{z:.3f} m<extra></extra>"
    top, bottom = 0.93, 0.08 if lay.frames > 1 else 0.0
    label_h = 0.05
    size = (lay.hi - lay.lo) / (lay.hi - lay.lo).max()
    e = math.radians(elev)
    dist = 1.6
    eye = {"x": lay.view[0] * dist * math.cos(e), "y": dist * math.sin(e), "z": lay.view[1] * dist * math.cos(e)}
    axis = {
        "showticklabels": False,
        "title": {"text": ""},
        "gridcolor": "#e4e4e4",
        "zeroline": False,
        "showspikes": False,
    }
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {}
    annotations = []
    moving: list[tuple[int, int, np.ndarray]] = []  # (trace, panel, index)
    scenes = []
    for i, panel in enumerate(lay.panels):
        key = "scene" if i == 0 else f"scene{i + 1}"
        scenes.append(key)
        x0, y0, cw, ch = lay.cell(i, top, bottom)
        layout[key] = {
            "domain": {"x": [x0, x0 + cw], "y": [y0, y0 + ch - label_h]},
            "xaxis": {**axis, "range": [lay.lo[0], lay.hi[0]], "showbackground": False},
            "yaxis": {**axis, "range": [lay.lo[1], lay.hi[1]], "showbackground": True, "backgroundcolor": "#f3f3f0"},
            "zaxis": {**axis, "range": [lay.lo[2], lay.hi[2]], "showbackground": False},
            "aspectmode": "manual",
            "aspectratio": {"x": size[0], "y": size[1], "z": size[2]},
            "camera": {"up": {"x": 0, "y": 1, "z": 0}, "eye": eye, "center": {"x": 0, "y": 0, "z": 0}},
        }
        text = "<br>".join(
            f"<b>{escape(s)}</b>" if k == 0 else escape(s) for k, s in enumerate(panel.label.split("\n"))
        )
        annotations.append(
            {
                "text": text,
                "x": x0 + cw / 2,
                "y": y0 + ch,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "top",
                "showarrow": False,
                "font": {"size": 13, "color": panel.color},
            }
        )
        parts = [(lay.left, lighter(panel.color)), (lay.other, panel.color)]
        if panel.ghost is not None:
            idx = np.concatenate([lay.left, [-1], lay.other])
            data.append(
                {
                    "type": "scatter3d",
                    "mode": "lines",
                    "scene": key,
                    "showlegend": False,
                    "line": {"color": GHOST_HTML_COLOR, "width": 4},
                    "hoverinfo": "skip",
                    **_coords(panel.ghost, idx),
                }
            )
        for idx, color in parts:
            if not idx.size:
                continue
            if panel.positions.shape[0] > 1:
                moving.append((len(data), i, idx))
            data.append(
                {
                    "type": "scatter3d",
                    "mode": "lines+markers",
                    "scene": key,
                    "showlegend": False,
                    "line": {"color": color, "width": 6, "dash": "dash" if panel.dashed else "solid"},
                    "marker": {"size": 2.5, "color": color},
                    "connectgaps": False,
                    "text": [None if j < 0 else names[j] for j in idx],
                    "hovertemplate": hover,
                    **_coords(lay.pose(i, lay.frames - 1), idx),
                }
            )
    head = f"{escape(title)}<br><span style='font-size:13px;color:#555'>{escape(subtitle)}</span>"
    layout.update(
        {
            "title": {"text": head, "x": 0.5, "xanchor": "center"},
            "height": height_px,
            "margin": {"l": 0, "r": 0, "t": 70, "b": 0},
            "paper_bgcolor": "white",
            "annotations": annotations,
            "meta": {"posecast": {"panels": [pn.label for pn in lay.panels], "frames": lay.frames, "fps": fps}},
        }
    )
    frames = []
    if moving and lay.frames > 1:
        for f in range(lay.frames):
            frames.append(
                {
                    "name": str(f),
                    "traces": [t for t, _, _ in moving],
                    "data": [{"type": "scatter3d", **_coords(lay.pose(i, f), idx)} for _, i, idx in moving],
                }
            )
        play = {"frame": {"duration": 1000.0 / fps, "redraw": True}, "fromcurrent": True, "transition": {"duration": 0}}
        jump = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}
        layout["updatemenus"] = [
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.01,
                "y": 0.07,
                "xanchor": "left",
                "yanchor": "top",
                "showactive": False,
                "buttons": [
                    {"label": "▶ play", "method": "animate", "args": [None, play]},
                    {
                        "label": "❚❚ pause",
                        "method": "animate",
                        "args": [[None], {"mode": "immediate", "frame": {"duration": 0, "redraw": False}}],
                    },
                ],
            }
        ]
        layout["sliders"] = [
            {
                "active": lay.frames - 1,
                "x": 0.16,
                "len": 0.82,
                "y": 0.07,
                "yanchor": "top",
                "currentvalue": {"prefix": "", "font": {"size": 13, "color": "#222222"}},
                "font": {"color": "rgba(0,0,0,0)"},
                "steps": [
                    {"label": labels[f] or str(f), "method": "animate", "args": [[str(f)], jump]}
                    for f in range(lay.frames)
                ],
            }
        ]
    fig = {"data": data, "layout": layout, "frames": frames}
    html = pio.to_html(
        fig,
        include_plotlyjs=True,
        full_html=True,
        auto_play=False,
        validate=False,
        default_height=f"{height_px}px",
        config={"displaylogo": False, "responsive": True},
        post_script=_SYNC_CAMERAS % json.dumps(scenes),
    )
    from posecast.viz.html import with_page_title

    with atomic_output(p) as tmp:
        tmp.write_text(with_page_title(html, title or "poses"), encoding="utf-8")
    return p
