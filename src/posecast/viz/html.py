"""A self-contained interactive viewer: one ``.html`` file with plotly.js embedded (works offline).

The page shows the same timeline as the videos (observed frames, then forecast samples, ground
truth and the faint last observed pose) with a time slider, play/pause buttons, a legend whose
entries toggle what is shown, and hover labels naming each joint. The camera turns about the
vertical y axis, with equal scale on all axes; the axis ranges are fixed over the whole clip, unless the body
walks or runs away (`posecast.viz.scene.scene_bounds`, ``auto``): then a box of constant size follows it
horizontally, frame by frame, and the faint last observed pose is hidden while it is left behind.

Size: plotly.js is about 4.8 MB; each frame adds the coordinates of every drawn skeleton rounded to
the millimetre (about 1 kB per skeleton per frame). Frames are therefore picked at 25 fps at most
and capped at ``max_frames`` (300 by default: a longer clip plays at a lower frame rate, still in
real time), and at most ``max_samples`` samples are drawn (20 by default, the most probable).
"""

from __future__ import annotations

import math
import os
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import plotly.io as pio

from posecast.errors import FormatError
from posecast.io.registry import atomic_output
from posecast.motion import Forecast, Motion
from posecast.viz import scene as sc

DEFAULT_FPS = 25.0
DEFAULT_MAX_FRAMES = 300
DEFAULT_MAX_SAMPLES = 20


def _coords(points: np.ndarray | None, index: np.ndarray) -> dict[str, list[float | None]]:
    """Plotly ``x``, ``y``, ``z`` lists of one skeleton's polylines (``None`` at the gaps), in mm precision.

    ``points=None`` gives one ``None`` point: an invisible trace that still has a legend entry.
    """
    if points is None:
        return {"x": [None], "y": [None], "z": [None]}
    p = np.round(sc.gather(points, index), 3)
    gap = np.isnan(p[:, 0])
    out = {}
    for axis, name in enumerate("xyz"):
        col: list[float | None] = p[:, axis].tolist()
        for i in np.flatnonzero(gap):
            col[i] = None
        out[name] = col
    return out


def _hex_rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:.3f})"


def render_html(
    obj: Motion | Forecast,
    path: str | os.PathLike[str],
    *,
    forecast: Forecast | None = None,
    ground_truth: Motion | np.ndarray | None = None,
    fps: float | None = None,
    title: str | None = None,
    max_frames: int | None = DEFAULT_MAX_FRAMES,
    max_samples: int | None = DEFAULT_MAX_SAMPLES,
    azim: float | None = None,
    elev: float = 15.0,
    height_px: int = 800,
    up: str | None = None,
) -> Path:
    """Write an interactive plotly viewer of a motion or forecast to ``path`` (atomically).

    Arguments as in `posecast.viz.render`; ``fps`` defaults to 25 and ``max_frames`` to 300.
    ``height_px`` is the height of the plot in the page (the width follows the window).

    Returns:
        ``path`` as a `Path`.
    """
    p = Path(path)
    if p.suffix.lower() not in (".html", ".htm"):
        raise FormatError(f"render_html writes .html files, not {p.suffix or 'a file without suffix'!r}", p)
    scene = sc.build_scene(obj, forecast, ground_truth, max_samples, up=up)
    frames, fps_out = sc.output_frames(scene, DEFAULT_FPS if fps is None else fps, max_frames)
    fig = _figure(scene, frames, fps_out, title, azim, elev, height_px)
    html = pio.to_html(
        fig,
        include_plotlyjs=True,
        full_html=True,
        auto_play=False,
        validate=False,
        default_height=f"{height_px}px",
        config={"displaylogo": False, "responsive": True},
    )
    with atomic_output(p) as tmp:
        tmp.write_text(with_page_title(html, title or scene.source or "motion"), encoding="utf-8")
    return p


def with_page_title(page: str, text: str) -> str:
    """``page`` (plotly's full HTML) with a ``<title>`` naming what it shows (browser tabs, bookmarks)."""
    head = "<head>"
    at = page.find(head)
    if at < 0:
        return page
    at += len(head)
    clip = str(text).replace("\\", "/").rsplit("/", 1)[-1]
    return f"{page[:at]}<title>{escape(clip)} · PoseCast</title>{page[at:]}"


def _figure(
    scene: sc.Scene,
    frames: np.ndarray,
    fps_out: float,
    title: str | None,
    azim: float | None,
    elev: float,
    height_px: int,
) -> dict[str, Any]:
    """The plotly figure as a plain dict (data, layout, frames)."""
    index, left_index, other_index = sc.skeleton_index(scene)
    names = scene.skeleton.joint_names

    def labels(idx: np.ndarray) -> list[str | None]:
        return [None if i < 0 else names[i] for i in idx]

    text = labels(index)
    # one box for the whole clip, unless the body walks away: then the box follows it (as the videos' "auto"),
    # each frame moving the axes' ranges, and the last observed pose is hidden while it is out of the box
    bounds = sc.scene_bounds(scene, "auto")
    drawn = sc.drawn_joints(scene)

    hover = "%{text}<br>x %{x:.3f} · y %{y:.3f} · z %{z:.3f} m<extra>%{fullData.name}</extra>"

    def trace(name: str, color: str, width: float, dash: str = "solid", markers: bool = False, **kw: Any) -> dict:
        t = {
            "type": "scatter3d",
            "mode": "lines+markers" if markers else "lines",
            "name": name,
            "line": {"color": color, "width": width, "dash": dash},
            "text": text,
            "hovertemplate": hover,
            "connectgaps": False,
            "x": [],
            "y": [],
            "z": [],
        }
        if markers:
            t["marker"] = {"size": 3, "color": color}
        t.update({k: v for k, v in kw.items() if v is not None})
        return t

    data: list[dict] = []
    dynamic: list[tuple[int, str, int]] = []  # (trace index, kind, sample index)
    if scene.history is not None and scene.num_future:
        dynamic.append((len(data), "last", 0))
        data.append(trace("last observed pose", "#b4b4b4", 4, legendrank=4))
    if scene.ground_truth is not None:
        dynamic.append((len(data), "truth", 0))
        data.append(trace("ground truth", sc.GROUND_TRUTH_COLOR, 5, dash="dash", legendrank=3))
    probs = scene.probabilities
    for i, (color, alpha) in enumerate(sc.sample_styles(scene)):
        label = "forecast" if scene.num_samples == 1 else f"sample {i}"
        if probs is not None:
            label += f" (p={probs[i]:.2f})"
        dynamic.append((len(data), "sample", i))
        data.append(
            trace(
                label,
                _hex_rgba(color, alpha),
                5,
                legendgroup="forecast",
                legendgrouptitle={"text": "forecast"} if scene.num_samples > 1 else None,
                legendrank=2,
            )
        )
    history_parts = [(0, left_index, sc.HISTORY_LEFT_COLOR), (1, other_index, sc.HISTORY_COLOR)]
    if scene.history is not None:
        for part, idx, color in history_parts:
            if not idx.size:
                continue
            dynamic.append((len(data), "history", part))
            data.append(
                trace(
                    "observed (light = left)",
                    color,
                    6,
                    markers=True,
                    text=labels(idx),
                    legendgroup="observed",
                    legendrank=1,
                    showlegend=part == 1 or not left_index.size,
                )  # fmt: skip
            )

    def frame_data(f: int) -> list[dict]:
        future = scene.is_future(f)
        k = f - scene.num_history
        out = []
        for _, kind, i in dynamic:
            idx = index
            if kind == "history":
                pts = None if future else scene.history[f]
                idx = history_parts[i][1]
            elif kind == "last":
                pts = scene.history[-1] if future and sc.last_pose_in_view(scene, bounds, f, drawn) else None
            elif kind == "truth":
                pts = scene.ground_truth[k] if future else None
            else:
                pts = scene.samples[i, k] if future else None
            out.append(_coords(pts, idx))
        return out

    trace_ids = [t for t, _, _ in dynamic]
    plotly_frames = [{"name": str(n), "data": frame_data(int(f)), "traces": trace_ids} for n, f in enumerate(frames)]
    if bounds.centres is not None:  # the following box: horizontal ranges per frame (the vertical never moves)
        for frame, f in zip(plotly_frames, frames, strict=True):
            f_lo, f_hi = bounds.limits(int(f))
            frame["layout"] = {
                "scene": {
                    "xaxis": {"range": [float(f_lo[0]), float(f_hi[0])]},
                    "zaxis": {"range": [float(f_lo[2]), float(f_hi[2])]},
                }
            }
    for (t, _, _), d in zip(dynamic, plotly_frames[0]["data"], strict=True):
        data[t].update(d)

    step_ms = 1000.0 / fps_out
    play = {"frame": {"duration": step_ms, "redraw": True}, "fromcurrent": True, "transition": {"duration": 0}}
    jump = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}
    steps = [
        {"label": " ".join(scene.frame_label(int(f)).split()), "method": "animate", "args": [[str(n)], jump]}
        for n, f in enumerate(frames)
    ]
    lo, hi = bounds.limits(int(frames[0]))
    view = sc.view_direction(scene, azim)
    size = bounds.size / bounds.size.max()
    dist = 1.9  # the whole box in view (at 1.5 its near bottom corner and the floor's axis labels were cut)
    e = math.radians(elev)
    eye = {"x": view[0] * dist * math.cos(e), "y": dist * math.sin(e) + 0.1, "z": view[1] * dist * math.cos(e)}
    title_lines = [escape(line) for line in sc.title_text(scene, title, fps_out).split("\n")]
    axis = {"showbackground": False, "gridcolor": "#dddddd", "zerolinecolor": "#bbbbbb", "ticksuffix": " m"}
    layout = {
        "title": {
            "text": f"{title_lines[0]}<br><span style='font-size:13px;color:#555'>{title_lines[1]}</span>",
            "x": 0.5,
            "xanchor": "center",
        },
        "height": height_px,
        "margin": {"l": 0, "r": 0, "t": 80, "b": 0},
        "paper_bgcolor": "white",
        "legend": {"x": 0.01, "y": 0.98, "bgcolor": "rgba(255,255,255,0.7)", "groupclick": "toggleitem"},
        "scene": {
            "xaxis": {**axis, "title": {"text": "x"}, "range": [lo[0], hi[0]]},
            "yaxis": {
                **axis,
                "title": {"text": "y (up)"},
                "range": [lo[1], hi[1]],
                "showbackground": True,
                "backgroundcolor": "#f3f3f0",
            },  # fmt: skip
            "zaxis": {**axis, "title": {"text": "z"}, "range": [lo[2], hi[2]]},
            "aspectmode": "manual",
            "aspectratio": {"x": size[0], "y": size[1], "z": size[2]},
            "camera": {"up": {"x": 0, "y": 1, "z": 0}, "eye": eye, "center": {"x": 0, "y": 0, "z": 0}},
        },
        "updatemenus": [
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.01,
                "y": 0.0,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"t": 40, "r": 10},
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
        ],
        "sliders": [
            {
                "active": 0,
                "x": 0.16,
                "len": 0.82,
                "y": 0.0,
                "yanchor": "top",
                "pad": {"t": 30},
                "currentvalue": {"prefix": "", "font": {"size": 14, "color": "#222222"}},
                "font": {"color": "rgba(0,0,0,0)"},  # per-step labels are long: show only the current one
                "steps": steps,
            }
        ],
        "meta": {"posecast": {"frames": len(frames), "fps": fps_out}},
    }
    return {"data": data, "layout": layout, "frames": plotly_frames}
