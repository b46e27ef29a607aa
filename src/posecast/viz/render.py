"""Render motions and forecasts to H.264 ``.mp4``, animated ``.gif`` or interactive ``.html``.

`render` is the one entry point; it picks the output by the file suffix. Videos are drawn with
matplotlib's Agg canvas (no pyplot, no GUI, safe in threads): one 3D line per skeleton (all bones
of a skeleton as a few polylines with gaps), created once and moved every frame with
``set_data_3d``, so a frame costs one canvas draw.

Camera: a fixed box over the whole clip, or, when the body travels far (``camera="auto"``), a box
of constant size whose centre follows the content smoothly (see `posecast.viz.scene.scene_bounds`).
The vertical axis is y, the ground grid lies at the lowest observed joint.
"""

from __future__ import annotations

import math
import os
import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.animation import FFMpegWriter, PillowWriter
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from posecast.errors import FormatError, ValueRangeError
from posecast.io.registry import atomic_output
from posecast.motion import Forecast, Motion
from posecast.viz import scene as sc

SUFFIXES = (".mp4", ".gif", ".html")

DEFAULT_FPS = {".mp4": 30.0, ".gif": 20.0, ".html": 25.0}
"""Output rate when ``fps`` is not given (never above the data's own rate)."""
DEFAULT_SIZE = {".mp4": (960, 720), ".gif": (640, 480)}
"""Output size in pixels (width, height) when ``size`` is not given."""
DEFAULT_MAX_SAMPLES = 50


#: a GIF's default frame limit (`render`): 30 s at its 20 fps; a longer motion plays at a lower frame rate (a GIF
#: holds every frame in memory until it is written: a 5-minute take had needed 3.9 GB; mp4 streams)
GIF_MAX_FRAMES = 600


def render(
    obj: Motion | Forecast,
    path: str | os.PathLike[str],
    *,
    forecast: Forecast | None = None,
    ground_truth: Motion | np.ndarray | None = None,
    fps: float | None = None,
    title: str | None = None,
    max_frames: int | None = None,
    max_samples: int | None = None,
    size: tuple[int, int] | None = None,
    camera: sc.Camera = "auto",
    azim: float | None = None,
    elev: float = 15.0,
    up: str | None = None,
) -> Path:
    """Draw a motion, or a forecast with its history and true future, to ``path``.

    The suffix picks the output: ``.mp4`` (H.264, yuv420p), ``.gif`` or ``.html`` (a self-contained
    plotly viewer with a time slider; see `posecast.viz.html.render_html`). The timeline plays the
    observed frames first (dark blue), then the forecast: every sample (red to orange, opacity by
    probability), the ground truth (green, dashed) and the last observed pose (faint grey).
    Playback is in real time: frames are picked from the data at the output rate.

    Args:
        obj: a `Motion`, or a `Forecast` (drawn with its ``history`` and ``ground_truth``).
        path: output file; the write is atomic (nothing is left behind on error).
        forecast: a `Forecast` continuing ``obj`` when ``obj`` is a `Motion`.
        ground_truth: the true future, ``(F, J, 3)`` or a `Motion`; overrides the forecast's own.
        fps: output frame rate; default 30 (mp4), 20 (gif), 25 (html), at most the data rate.
        title: first title line (default: the clip's file name); the second line always lists
            skeleton, fps, horizon, model and samples.
        max_frames: at most this many output frames; longer clips are shown at a lower frame rate
            (still in real time). Default: no limit for mp4, `GIF_MAX_FRAMES` for gif (a GIF is written from
            every frame held in memory: 0.3 MB each at 640x480), 300 for html.
        max_samples: draw at most this many samples (the most probable); default 50 (20 for html).
        size: ``(width, height)`` in pixels, even numbers for mp4; default 960x720 (mp4), 640x480 (gif).
            Videos only: the html viewer fills the browser window.
        camera: ``"auto"``, ``"fixed"`` or ``"follow"`` (see `posecast.viz.scene.scene_bounds`).
            Videos only: the html viewer always uses ``"auto"`` (zoom and turn it in the browser).
        azim: camera direction in degrees about the vertical axis (0 = looking from +z towards -z);
            default: 35 degrees off the body's front at the last observed frame.
        elev: camera elevation in degrees.
        up: the data's up axis (``"z"``, ``"-y"``...), drawn upright; default: a forecast's
            ``metadata["up_axis"]``, else found from the motion (`posecast.viz.scene.data_up_axis`).

    Returns:
        ``path`` as a `Path`.

    Raises:
        FormatError: an unknown suffix, or the output folder does not exist.
        SkeletonError: history, samples and ground truth on different skeletons.
        ValueRangeError: an impossible argument (non-positive fps or sizes, a wrong object type).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        what = suffix or "a file without suffix"
        raise FormatError(f"cannot render to {what!r}; use one of {', '.join(SUFFIXES)}", p)
    if camera not in ("auto", "fixed", "follow"):
        raise ValueRangeError(f"camera must be 'auto', 'fixed' or 'follow', not {camera!r}")
    if suffix == ".html":
        from posecast.viz import html

        return html.render_html(
            obj,
            p,
            forecast=forecast,
            ground_truth=ground_truth,
            fps=fps,
            title=title,
            max_frames=html.DEFAULT_MAX_FRAMES if max_frames is None else max_frames,
            max_samples=html.DEFAULT_MAX_SAMPLES if max_samples is None else max_samples,
            azim=azim,
            elev=elev,
            up=up,
        )
    scene = sc.build_scene(
        obj, forecast, ground_truth, DEFAULT_MAX_SAMPLES if max_samples is None else max_samples, up=up
    )
    if suffix == ".gif" and max_frames is None:
        max_frames = GIF_MAX_FRAMES
    return render_video(
        scene,
        p,
        fps=DEFAULT_FPS[suffix] if fps is None else fps,
        title=title,
        max_frames=max_frames,
        size=DEFAULT_SIZE[suffix] if size is None else size,
        camera=camera,
        azim=azim,
        elev=elev,
    )


class _H264Writer(FFMpegWriter):
    """matplotlib's `FFMpegWriter` running the ffmpeg bundled with imageio-ffmpeg.

    (Overriding `bin_path` instead of setting ``rcParams["animation.ffmpeg_path"]`` keeps global
    matplotlib state untouched, so renders in several threads do not interfere.)
    """

    @classmethod
    def bin_path(cls) -> str:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()


class _GifWriter(PillowWriter):
    """matplotlib's `PillowWriter`, quantising each frame with Pillow's fast octree as it comes.

    Pillow's default (median cut, at save time) took 30 ms per 640x480 frame, more than drawing
    it; the octree takes 5 ms and is exact for these flat-coloured pictures up to anti-aliasing.
    """

    def setup(self, fig: Any, outfile: Any, dpi: float | None = None) -> None:
        super().setup(fig, outfile, dpi=dpi)
        self.images: list[Image.Image] = []

    def grab_frame(self, **savefig_kwargs: Any) -> None:
        buf = BytesIO()
        self.fig.savefig(buf, **{**savefig_kwargs, "format": "rgba", "dpi": self.dpi})
        rgba = Image.frombuffer("RGBA", self.frame_size, buf.getbuffer(), "raw", "RGBA", 0, 1)
        self.images.append(rgba.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE))

    def finish(self) -> None:
        self.images[0].save(
            self.outfile, save_all=True, append_images=self.images[1:], duration=round(1000 / self.fps), loop=0
        )


class _Backdrop(Artist):
    """A pre-rendered RGBA picture of the whole figure, drawn pixel for pixel behind everything.

    (``Figure.figimage`` would resample and colour-map the array on every frame, which costs more
    than the text it replaces.)
    """

    def __init__(self, rgba: np.ndarray) -> None:
        super().__init__()
        self._rgba = np.ascontiguousarray(rgba[::-1])  # Agg's draw_image takes rows bottom-up
        self.set_zorder(-10)

    def draw(self, renderer: Any) -> None:
        if not self.get_visible():
            return
        gc = renderer.new_gc()
        renderer.draw_image(gc, 0, 0, self._rgba)
        gc.restore()


class _Animator:
    """A matplotlib figure for one scene whose artists are moved frame by frame."""

    def __init__(
        self,
        scene: sc.Scene,
        size: tuple[int, int],
        title: str | None,
        shown_fps: float,
        camera: sc.Camera,
        azim: float | None,
        elev: float,
    ) -> None:
        self.scene = scene
        w, h = size
        dpi = 100
        self.fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi, facecolor="white")
        FigureCanvasAgg(self.fig)
        scale = min(w / 960, h / 720)  # fonts and lines are designed for 960x720
        self.scale = scale
        self.ax = self.fig.add_axes((0.0, 0.05, 1.0, 0.80), projection="3d", proj_type="ortho")
        ax = self.ax
        ax.set_axis_off()
        ax.computed_zorder = False
        self.bounds = sc.scene_bounds(scene, camera)
        self.box = tuple(sc.to_mpl(self.bounds.size))
        ax.set_box_aspect(self.box, zoom=1.0)
        view = sc.view_direction(scene, azim)
        ax.view_init(elev=elev, azim=math.degrees(math.atan2(view[0], view[1])), roll=0)

        self.index, left_index, other_index = sc.skeleton_index(scene)
        self.drawn = sc.drawn_joints(scene)  # the joints on screen (the view and the hiding follow them)
        self.history_parts = [(left_index, sc.HISTORY_LEFT_COLOR), (other_index, sc.HISTORY_COLOR)]
        self.grid_step = sc.grid_step(float(max(self.bounds.size[0], self.bounds.size[2])))
        lw = 2.6 * max(scale, 0.6)  # lines stay legible in small videos

        def line(color: str, alpha: float, width: float, style: str = "-", z: float = 2, marker: str = "") -> Any:
            (artist,) = ax.plot(
                [], [], [], color=color, alpha=alpha, lw=width, ls=style, zorder=z, marker=marker,
                markersize=3.2 * scale, solid_capstyle="round", dash_capstyle="round", clip_on=False,
            )  # fmt: skip
            return artist

        self.grid = line(sc.FLOOR_COLOR, 0.7, 0.8 * scale, z=0)
        self.shadow = line(sc.SHADOW_COLOR, 0.35, 3.0 * scale, z=1)
        self.last_pose = line(sc.LAST_POSE_COLOR, 0.45, 0.75 * lw, z=2) if scene.history is not None else None
        self.samples = [line(c, a, 0.9 * lw, z=3 + a) for c, a in sc.sample_styles(scene)]
        self.truth = line(sc.GROUND_TRUTH_COLOR, 0.95, 0.9 * lw, "--", z=5) if scene.ground_truth is not None else None
        self.history = []
        if scene.history is not None:
            self.history = [(line(c, 1.0, lw, z=6, marker="o"), idx) for idx, c in self.history_parts if idx.size]
        self._set_limits(0)
        if self.bounds.centres is None:
            self._set_grid(self.bounds.lo, self.bounds.hi)
        if self.last_pose is not None:
            self._set(self.last_pose, sc.gather(scene.history[-1], self.index))

        self.clock = self.fig.text(0.02, 0.02, "", ha="left", va="bottom", fontsize=12 * scale, family="monospace")
        self.fig.text(
            0.98, 0.02, f"grid {self.grid_step:g} m · {sc.up_note(scene.up)}", ha="right", va="bottom",
            fontsize=10 * scale,
            color="#777777",
        )  # fmt: skip
        self._layout_header(sc.title_text(scene, title, shown_fps), lw)
        self._freeze_static_text()

    def _layout_header(self, title: str, lw: float) -> None:
        """Title (facts wrapped to the width), legend below it, and the 3D axes filling the rest."""
        fig, scale = self.fig, self.scale
        w, h = fig.bbox.width, fig.bbox.height
        renderer = fig.canvas.get_renderer()
        first, facts = title.split("\n", 1)
        text = fig.text(0.5, 1 - 8 / h, "", ha="center", va="top", fontsize=13 * scale, linespacing=1.5, color="#222")

        def width(s: str) -> float:
            text.set_text(s)
            return text.get_window_extent(renderer).width

        rows: list[str] = []
        for fact in facts.split(" · "):
            if rows and width(rows[-1] + " · " + fact) <= 0.96 * w:
                rows[-1] += " · " + fact
            else:
                rows.append(fact)
        text.set_text("\n".join([first, *rows]))
        top = text.get_window_extent(renderer).y0 - 4 * scale
        handles = [
            Line2D([], [], color=c, ls=ls, alpha=a, lw=lw, label=label)
            for label, c, ls, a in sc.legend_entries(self.scene)
        ]
        if handles:
            for ncols in (len(handles), math.ceil(len(handles) / 2), 1):
                legend = fig.legend(
                    handles=handles, loc="upper center", bbox_to_anchor=(0.5, top / h), ncols=ncols, frameon=False,
                    fontsize=11 * scale, handlelength=2.4, borderaxespad=0.0,
                )  # fmt: skip
                box = legend.get_window_extent(renderer)
                if box.width <= 0.98 * w or ncols == 1:
                    break
                legend.remove()
            top = box.y0 - 6 * scale
        bottom = 0.05
        self.ax.set_position((0.0, bottom, 1.0, max(top / h - bottom, 0.2)))

    def _freeze_static_text(self) -> None:
        """Rasterise the title, legend and notes once and show them as a background image.

        Text is the most expensive thing Agg draws (it was half of each frame's time); only the
        clock changes from frame to frame.
        """
        fig = self.fig
        static = [t for t in fig.texts if t is not self.clock] + list(fig.legends)
        self.ax.set_visible(False)
        self.clock.set_visible(False)
        fig.canvas.draw()
        background = np.asarray(fig.canvas.buffer_rgba()).copy()
        for artist in static:
            artist.set_visible(False)
        self.ax.set_visible(True)
        self.clock.set_visible(True)
        fig.add_artist(_Backdrop(background))

    def fit(self, frames: np.ndarray, fill: float = 0.94, max_checked: int = 60) -> float:
        """Zoom so that everything drawn at ``frames`` fills ``fill`` of the axes; returns the zoom.

        With an orthographic camera the picture scales linearly with the zoom about the centre of
        the box, so one measurement at zoom 1 gives the exact factor.
        """
        from mpl_toolkits.mplot3d import proj3d

        ax, s = self.ax, self.scene
        picked = frames[np.unique(np.linspace(0, len(frames) - 1, min(len(frames), max_checked)).astype(int))]
        drawn = self.drawn
        ax.set_box_aspect(self.box, zoom=1.0)
        ax.apply_aspect()  # the 3D axes draw in a centred square; artists are not clipped to it
        box = ax.get_position(original=True).transformed(self.fig.transFigure)
        lo_px = np.full(2, np.inf)
        hi_px = np.full(2, -np.inf)
        centre_px = np.zeros(2)
        for f in picked:
            self._set_limits(int(f))
            m = ax.get_proj()
            lo, hi = self.bounds.limits(int(f))
            # the joints bones are drawn to (not a world root left out of the drawing), and the last observed
            # pose where it is drawn (a following camera may leave it behind: hidden then)
            shown = sc.last_pose_in_view(s, self.bounds, int(f), drawn)
            seen = s.frame_points(int(f), last_observed=shown, joints=drawn)
            pts = sc.to_mpl(np.vstack([seen, (lo + hi)[None] / 2]))
            xs, ys, _ = proj3d.proj_transform(pts[:, 0], pts[:, 1], pts[:, 2], m)
            px = ax.transData.transform(np.column_stack([xs, ys]))
            centre_px = px[-1]  # the look-at point: the same pixel in every frame
            rel = px[:-1] - centre_px
            lo_px, hi_px = np.minimum(lo_px, rel.min(axis=0)), np.maximum(hi_px, rel.max(axis=0))
        room_lo = (centre_px - [box.x0, box.y0]) * fill
        room_hi = (np.array([box.x1, box.y1]) - centre_px) * fill
        with np.errstate(divide="ignore"):
            factors = np.concatenate([room_lo / np.maximum(-lo_px, 1e-9), room_hi / np.maximum(hi_px, 1e-9)])
        zoom = float(np.clip(factors.min(), 0.3, 8.0))
        ax.set_box_aspect(self.box, zoom=zoom)
        self._set_limits(int(frames[0]))
        return zoom

    @staticmethod
    def _set(artist: Any, pts: np.ndarray) -> None:
        p = sc.to_mpl(pts)
        artist.set_data_3d(p[:, 0], p[:, 1], p[:, 2])

    @staticmethod
    def _clear(artist: Any) -> None:
        artist.set_data_3d([], [], [])

    def _set_limits(self, frame: int) -> None:
        lo, hi = self.bounds.limits(frame)
        lo, hi = sc.to_mpl(lo), sc.to_mpl(hi)
        self.ax.set_xlim(lo[0], hi[0])
        self.ax.set_ylim(lo[1], hi[1])
        self.ax.set_zlim(lo[2], hi[2])

    def _set_grid(self, lo: np.ndarray, hi: np.ndarray) -> None:
        self._set(self.grid, sc.floor_grid(lo, hi, self.bounds.floor, self.grid_step))

    def _shadow(self, pose: np.ndarray) -> None:
        flat = pose.copy()
        flat[:, 1] = self.bounds.floor
        self._set(self.shadow, sc.gather(flat, self.index))

    def update(self, frame: int) -> None:
        """Move every artist to timeline ``frame``."""
        s = self.scene
        if self.bounds.centres is not None:
            self._set_limits(frame)
            self._set_grid(*self.bounds.limits(frame))
        future = s.is_future(frame)
        k = frame - s.num_history
        for artist, idx in self.history:
            if future:
                self._clear(artist)
            else:
                self._set(artist, sc.gather(s.history[frame], idx))
        if not future and s.history is not None:
            self._shadow(s.history[frame])
        if self.last_pose is not None:  # a following camera leaves it behind: drawn only while in the box
            self.last_pose.set_visible(future and sc.last_pose_in_view(s, self.bounds, frame, self.drawn))
        for i, artist in enumerate(self.samples):
            if future:
                self._set(artist, sc.gather(s.samples[i, k], self.index))
            else:
                self._clear(artist)
        if self.truth is not None:
            if future:
                self._set(self.truth, sc.gather(s.ground_truth[k], self.index))
            else:
                self._clear(self.truth)
        if future:
            shadow_pose = s.ground_truth[k] if s.ground_truth is not None else s.samples[:, k].mean(axis=0)
            self._shadow(shadow_pose)
        self.clock.set_text(s.frame_label(frame))
        self.clock.set_color(sc.SAMPLE_COLORS[0] if future and s.samples is not None else "#222222")


def _check_size(size: tuple[int, int], even: bool) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueRangeError(f"size must be (width, height) in pixels, got {size!r}") from None
    if not (64 <= w <= 7680 and 64 <= h <= 4320):
        raise ValueRangeError(f"size {w}x{h} pixels is out of range (64..7680 x 64..4320)")
    if even and (w % 2 or h % 2):
        raise ValueRangeError(f"H.264 needs even frame sizes, got {w}x{h}")
    return w, h


def render_video(
    scene: sc.Scene,
    path: str | os.PathLike[str],
    *,
    fps: float = 30.0,
    title: str | None = None,
    max_frames: int | None = None,
    size: tuple[int, int] = (960, 720),
    camera: sc.Camera = "auto",
    azim: float | None = None,
    elev: float = 15.0,
) -> Path:
    """Write ``scene`` as an ``.mp4`` (libx264, yuv420p, crf 20) or ``.gif`` (Pillow), atomically.

    Arguments as in `render`; ``scene`` comes from `posecast.viz.scene.build_scene`.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise FormatError(f"render_video writes .mp4 or .gif, not {suffix or 'a file without suffix'!r}", p)
    w, h = _check_size(size, even=suffix == ".mp4")
    frames, fps_out = sc.output_frames(scene, fps, max_frames)
    anim = _Animator(scene, (w, h), title, fps_out, camera, azim, elev)
    anim.fit(frames)
    if suffix == ".mp4":
        writer: Any = _H264Writer(
            fps=fps_out,
            codec="libx264",
            extra_args=["-pix_fmt", "yuv420p", "-preset", "veryfast", "-crf", "20", "-movflags", "+faststart"],
        )
    else:
        writer = _GifWriter(fps=fps_out)
    with atomic_output(p) as tmp:
        try:
            with writer.saving(anim.fig, str(tmp), dpi=anim.fig.dpi):
                for f in frames:
                    anim.update(int(f))
                    writer.grab_frame()
        except (OSError, subprocess.CalledProcessError) as exc:  # ffmpeg missing or failing, disk full
            raise FormatError(f"could not write the {suffix[1:]} ({type(exc).__name__}: {exc})", p) from None
    return p
