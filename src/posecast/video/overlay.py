"""Forecast overlays: the clip with the observed 2D skeleton and the projected forecast, next to a 3D view.

`render_forecast_video` writes an H.264 mp4 (through the ffmpeg binary bundled with imageio-ffmpeg).
Its timeline is the forecast's: one output frame per entry of ``forecast.times`` (the observed frames
first, then the forecast frames) at ``forecast.fps``. Each output frame shows

- left: the latest clip frame shown at that time (frozen on the last frame once the clip has ended),
  with the observed 2D skeleton (``body-17`` bones, light blue; the subject's left side lighter)
  while the observation lasts, and afterwards the forecast in the image (red): anchored at the last
  observed keypoints, adding the motion of its projection through the model's weak-perspective camera
  ``u = s X + tx``, ``v = -s Y + ty`` (`VideoForecast.future_pixels`; ``anchored=False``: the raw projection);
- right (``panel=True``): a 3D view of the observed past (blue) and the forecast (red, with the last
  observed pose in grey), rendered with matplotlib's Agg backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import ValueRangeError
from posecast.video.track import PoseTrack

BODY17 = "body-17"
OBSERVED_RGB = (64, 190, 255)
"""Observed 2D skeleton drawn on the video: light blue (the subject's left bones lighter still)."""
OBSERVED_LEFT_RGB = (170, 225, 255)
FORECAST_RGB = (214, 39, 40)
"""Projected forecast: the red of the forecast in PoseCast's 3D renders (``SAMPLE_COLORS[0]``)."""
FORECAST_LEFT_RGB = (255, 140, 120)


# --------------------------------------------------------------------------------- cameras
def project(points: np.ndarray, camera: np.ndarray) -> np.ndarray:
    """Weak-perspective projection: ``points`` ``(..., J, 3)`` metres (y up), ``camera`` ``(..., 3)`` =
    ``(s px/m, tx px, ty px)`` → ``(..., J, 2)`` pixels with ``u = s X + tx``, ``v = -s Y + ty``."""
    p = np.asarray(points, dtype=np.float64)
    c = np.asarray(camera, dtype=np.float64)[..., None, :]
    return np.stack([c[..., 0] * p[..., 0] + c[..., 1], -c[..., 0] * p[..., 1] + c[..., 2]], axis=-1)


def fit_weak_perspective(points: np.ndarray, keypoints: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares weak-perspective camera per frame: ``points`` ``(..., J, 3)``, ``keypoints``
    ``(..., J, 2)`` pixels, optional ``weights`` ``(..., J)`` → ``(..., 3)`` ``(s, tx, ty)`` minimising
    ``sum_j w_j |project(points_j) - keypoints_j|^2``."""
    p = np.asarray(points, dtype=np.float64)
    k = np.asarray(keypoints, dtype=np.float64)
    w = np.ones(p.shape[:-1]) if weights is None else np.asarray(weights, dtype=np.float64)
    w = np.where(np.isfinite(k).all(-1), w, 0.0)
    k = np.nan_to_num(k)
    sw = w.sum(-1, keepdims=True)
    sw = np.where(sw > 0, sw, 1.0)
    # centre with the weights: then s = sum w (X' u' - Y' v') / sum w (X'^2 + Y'^2)
    xm = (w * p[..., 0]).sum(-1, keepdims=True) / sw
    ym = (w * p[..., 1]).sum(-1, keepdims=True) / sw
    um = (w * k[..., 0]).sum(-1, keepdims=True) / sw
    vm = (w * k[..., 1]).sum(-1, keepdims=True) / sw
    xc, yc, uc, vc = p[..., 0] - xm, p[..., 1] - ym, k[..., 0] - um, k[..., 1] - vm
    den = (w * (xc**2 + yc**2)).sum(-1)
    s = (w * (xc * uc - yc * vc)).sum(-1) / np.where(den > 0, den, 1.0)
    tx = um[..., 0] - s * xm[..., 0]
    ty = vm[..., 0] + s * ym[..., 0]
    return np.stack([s, tx, ty], axis=-1)


# --------------------------------------------------------------------------------- drawing
def _bones(parents: tuple[int, ...], names: tuple[str, ...]) -> list[tuple[int, int, bool]]:
    return [(j, p, names[j].startswith("left_")) for j, p in enumerate(parents) if p >= 0]


def draw_skeleton_2d(
    image: np.ndarray,
    points: np.ndarray,
    bones: list[tuple[int, int, bool]],
    color: tuple[int, int, int],
    left_color: tuple[int, int, int],
    thickness: int | None = None,
    radius: int | None = None,
) -> None:
    """Draw ``points`` ``(J, 2)`` pixels and their bones onto the RGB ``image`` in place. Lines and dots
    are 3 and 5 pixels for a body of 180 pixels or more, thinner for smaller bodies (a person far away
    stays visible under the skeleton)."""
    import cv2

    if not np.isfinite(points).all():
        return
    body = float(np.ptp(points, axis=0).max()) if len(points) else 0.0
    thickness = thickness if thickness is not None else int(np.clip(round(body / 60), 1, 3))
    radius = radius if radius is not None else int(np.clip(round(body / 36), 1, 5))
    pts = np.round(points).astype(np.int64)
    for j, p, left in bones:
        cv2.line(image, tuple(int(v) for v in pts[j]), tuple(int(v) for v in pts[p]), left_color if left else color,
                 thickness, cv2.LINE_AA)  # fmt: skip
    for q in pts:
        cv2.circle(image, (int(q[0]), int(q[1])), radius, color, -1, cv2.LINE_AA)


#: pixels from one label row to the next at a 900-pixel-high frame (scaled with the frame): each label's dark plate
#: ends before the next row's begins
LABEL_LINE = 42


LABEL_MIN_SHRINK = 0.75
"""A label with a ``short`` form that would shrink below this factor to fit the frame is drawn in that form."""


def _label(image: np.ndarray, text: str, color: tuple[int, int, int], row: int = 0, short: str | None = None) -> None:
    """``text`` on a dark plate in row ``row``, scaled with the frame and shrunk to fit it; ``short``: what to draw
    instead where ``text`` would shrink below `LABEL_MIN_SHRINK` (portrait clips: the row above stays legible, the
    long caption had shrunk to about 6-pixel letters)."""
    import cv2

    base_scale = max(image.shape[0] / 900.0, 0.4)
    scale = base_scale
    width = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, max(int(2 * scale), 1))[0][0]
    if short is not None and (image.shape[1] - 24) / width < LABEL_MIN_SHRINK:
        text = short
        width = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, max(int(2 * scale), 1))[0][0]
    if width > image.shape[1] - 24:  # narrow (portrait) clips: shrink the text to fit
        scale *= (image.shape[1] - 24) / width
    thick = max(int(2 * scale), 1)
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    # rows sit at the unshrunk line height, so that a shrunk label keeps its row (a long row 2 had landed on row 1)
    y = int(LABEL_LINE * base_scale * (row + 1)) + 4
    # a dark, translucent plate under the text: legible over any footage (a busy background swallowed it)
    y0, y1, x1 = (
        max(y - h - int(6 * scale), 0),
        min(y + base + int(4 * scale), image.shape[0]),
        min(12 + w + 8, image.shape[1]),
    )
    plate = image[y0:y1, 4:x1]
    plate[:] = (plate.astype(np.float32) * 0.3).astype(image.dtype)
    light = tuple(int(0.45 * c + 0.55 * 255) for c in color)  # the colour, lightened to read on the dark plate
    cv2.putText(image, text, (12, y), cv2.FONT_HERSHEY_SIMPLEX, scale, light, thick, cv2.LINE_AA)


class _Panel:
    """A matplotlib 3D axes drawn into an RGB array, its artists updated in place each frame."""

    def __init__(self, size: int, past: np.ndarray, future: np.ndarray, bones: list[tuple[int, int, bool]]) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from posecast.viz.scene import HISTORY_COLOR, HISTORY_LEFT_COLOR, LAST_POSE_COLOR, SAMPLE_COLORS, to_mpl

        self.to_mpl = to_mpl
        self.size = size
        self.bones = bones
        self.fig = Figure(figsize=(size / 100, size / 100), dpi=100)
        self.canvas = FigureCanvasAgg(self.fig)
        ax = self.fig.add_axes((0.0, 0.0, 1.0, 0.92), projection="3d")
        allp = to_mpl(np.concatenate([past.reshape(-1, 3), future.reshape(-1, 3)]))
        allp = allp[np.isfinite(allp).all(-1)]
        lo, hi = allp.min(0), allp.max(0)
        centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2 * 1.1, 0.5)
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_zlim(centre[2] - half, centre[2] + half)
        ax.set_box_aspect((1, 1, 1))
        ax.view_init(elev=12, azim=25)  # in front of the camera (data +z = matplotlib +x), a little to the side
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        ax.set_zticklabels([])
        floor = lo[2]
        # a round grid step (about four cells across), the axes' own ticks and pane grids on it: the scale note
        # below is then true of every grid line drawn
        step = min((0.1, 0.2, 0.25, 0.5, 1.0, 2.0), key=lambda x: abs(x - half / 2))
        g = np.arange(-np.floor(half / step), np.floor(half / step) + 1) * step
        ax.set_xticks(centre[0] + g)
        ax.set_yticks(centre[1] + g)
        ax.set_zticks(floor + np.arange(0.0, 2 * half + 1e-9, step))
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        ax.set_zticklabels([])
        for v in g:
            ax.plot([centre[0] + v] * 2, [centre[1] - half, centre[1] + half], [floor] * 2, color="#d0d0d0", lw=0.6)
            ax.plot([centre[0] - half, centre[0] + half], [centre[1] + v] * 2, [floor] * 2, color="#d0d0d0", lw=0.6)

        def lines(color: str, left: str, lw: float, alpha: float = 1.0) -> list[Any]:
            return [ax.plot([], [], [], color=left if lf else color, lw=lw, alpha=alpha)[0] for _, _, lf in bones]

        self.ghost = lines(LAST_POSE_COLOR, LAST_POSE_COLOR, 1.5, 0.6)
        self.past = lines(HISTORY_COLOR, HISTORY_LEFT_COLOR, 2.5)
        self.fut = lines(SAMPLE_COLORS[0], "#ff9a8a", 2.5)
        self.title = self.fig.text(0.5, 0.955, "", ha="center", va="center", fontsize=max(size / 55, 7))
        small = max(size / 70, 6)  # a legend and the scale, as the motion renders have
        for k, (word, colour) in enumerate(
            (("observed", HISTORY_COLOR), ("forecast", SAMPLE_COLORS[0]), ("last observed pose", LAST_POSE_COLOR))
        ):
            self.fig.text(0.03, 0.09 - 0.035 * k, word, color=colour, fontsize=small, ha="left", va="center")
        self.fig.text(0.97, 0.02, f"grid {step:g} m", color="#707070", fontsize=small, ha="right", va="bottom")

    def _set(self, artists: list[Any], pose: np.ndarray | None) -> None:
        for line, (j, p, _) in zip(artists, self.bones, strict=True):
            if pose is None:
                line.set_data_3d([], [], [])
            else:
                seg = self.to_mpl(pose[[j, p]])
                line.set_data_3d(seg[:, 0], seg[:, 1], seg[:, 2])

    def draw(self, past: np.ndarray | None, future: np.ndarray | None, ghost: np.ndarray | None, title: str):
        self._set(self.past, past)
        self._set(self.fut, future)
        self._set(self.ghost, ghost)
        self.title.set_text(title)
        self.canvas.draw()
        rgb = np.asarray(self.canvas.buffer_rgba())[..., :3]
        if rgb.shape[:2] != (self.size, self.size):
            import cv2

            rgb = cv2.resize(rgb, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(rgb)


#: the clip's side of an overlay is at least this share of the output's height wide: a narrower clip (a 200 x 576
#: crop) is centred between black bars, so that its labels keep the size of a 9:16 portrait clip's (about 10 pixels
#: at 720; the crop's 250 pixels had shrunk "last keypoints seen, ..." to about 6)
MIN_VIDEO_WIDTH = 0.55


def _even(n: float) -> int:
    return max(2, int(round(n / 2)) * 2)


def render_forecast_video(
    path_out: str | Path,
    video_path: str | Path,
    track: PoseTrack,
    forecast: Any,
    *,
    height: int = 720,
    panel: bool = True,
    title: str | None = None,
) -> Path:
    """Write an mp4 of the clip with the observed 2D skeleton and the projected forecast (see module doc).

    ``forecast`` is a `VideoForecast` (``past (T, J, 3)``, ``future (H, J, 3)``, ``times (T + H,)``,
    ``camera (T + H, 3)``, ``fps``, ``skeleton``, ``model``). ``height`` is the output height in
    pixels (the clip is scaled to it, between black bars when it is narrower than `MIN_VIDEO_WIDTH` of it; the 3D
    panel is a square of that size next to it). The output has ``T + H`` frames at ``forecast.fps``, and before
    them, on the same grid, the frames of the clip from ``track.times[0]`` (its first frame) that the model did not
    read (a late entry: it reads from the first detection): the keypoints seen there, no 3D pose. Its labels count
    from the clip's first frame, as ``--at``, the notes and ``start_time`` do.
    """
    import cv2
    import imageio_ffmpeg

    from posecast import skeletons
    from posecast.io.registry import atomic_output
    from posecast.motion import check_fps
    from posecast.video import IMAGE_SUFFIXES
    from posecast.video.decode import iter_frames, probe_video, read_image

    path_out, video_path = Path(path_out), Path(video_path)
    fps = check_fps(forecast.fps, str(path_out))
    past = np.asarray(forecast.past, dtype=np.float64)
    future = np.asarray(forecast.future, dtype=np.float64)
    if future.ndim == 4:  # (S, H, J, 3): draw the first (most probable) hypothesis
        future = future[0]
    times = np.asarray(forecast.times, dtype=np.float64)
    camera = np.asarray(forecast.camera, dtype=np.float64)
    n_past, n_fut = past.shape[0], future.shape[0]
    if times.shape != (n_past + n_fut,) or camera.shape != (n_past + n_fut, 3):
        raise ValueRangeError(
            f"forecast times {times.shape} / camera {camera.shape} do not match {n_past} past + {n_fut} future frames",
            path_out,
        )
    skel = skeletons.get(forecast.skeleton)
    if past.shape[1:] != (skel.num_joints, 3) or future.shape[1:] != past.shape[1:]:
        raise ValueRangeError(f"forecast poses {past.shape} / {future.shape} do not fit {skel.name}", path_out)
    bones = _bones(skel.parents, skel.joint_names)
    obs = track.to_layout(skel.name)
    if height < 64:
        raise ValueRangeError(f"overlay height {height} px is too small", path_out)

    still = video_path.suffix.lower() in IMAGE_SUFFIXES
    if still:  # a single image: one frame at time 0, then frozen
        rgb = read_image(video_path)
        src_w, src_h, src_end = rgb.shape[1], rgb.shape[0], 0.0
        frames = iter([(0.0, rgb)])
    else:
        info = probe_video(video_path)
        src_w, src_h, src_end = info.width, info.height, float(info.times[-1])
        frames = iter_frames(video_path, info=info)
    out_h, clip_w = _even(height), _even(src_w * height / src_h)
    vid_w = max(clip_w, _even(MIN_VIDEO_WIDTH * out_h))  # a narrow clip between black bars (`MIN_VIDEO_WIDTH`)
    ox = (vid_w - clip_w) // 2
    sx, sy = clip_w / src_w, out_h / src_h
    shift = np.array([ox, 0.0])  # clip pixels (scaled) -> the video side's pixels
    panel_w = out_h if panel else 0
    size = (vid_w + panel_w, out_h)
    drawer = _Panel(out_h, past, future, bones) if panel else None

    tol = 0.5 / fps
    single = bool((getattr(forecast, "metadata", None) or {}).get("single_frame"))  # hmmr on one frame
    # the clip's clock (that of --at, the notes and start_time) starts at its first frame; a model reads a clip from
    # its first detection (or the last change of person), so the frames before that are shown too, on the
    # forecast's grid, with the keypoints seen there but no 3D pose
    t_clip = float(track.times[0]) if track.num_frames else float(times[0])
    n_pre = max(0, int(np.floor((float(times[0]) - t_clip) * fps + 1e-6))) if n_past else 0  # none before t_clip
    times = np.concatenate([float(times[0]) - np.arange(n_pre, 0, -1) / fps, times])
    t_next, img_next = next(frames)
    current = img_next
    t_obs_end = float(track.times[-1])
    t_split = float(times[n_pre + n_past - 1]) if n_past else float(times[0])

    with atomic_output(path_out) as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp),
            size,
            fps=fps,
            codec="libx264",
            quality=None,
            macro_block_size=2,
            ffmpeg_log_level="error",
            output_params=["-crf", "18", "-preset", "veryfast", "-f", "mp4"],
        )
        writer.send(None)
        try:
            for i, t in enumerate(times, start=-n_pre):  # i < 0: before the frames the model read
                while img_next is not None and t_next <= t + tol:  # the frame on screen at time t
                    current = img_next
                    try:
                        t_next, img_next = next(frames)
                    except StopIteration:
                        img_next = None
                img = cv2.resize(current, (clip_w, out_h), interpolation=cv2.INTER_AREA)
                if vid_w != clip_w:
                    bars = np.zeros((out_h, vid_w, 3), dtype=img.dtype)
                    bars[:, ox : ox + clip_w] = img
                    img = bars
                clock = round(float(t) - t_clip, 6) + 0.0  # seconds from the clip's first frame (+0.0: no "-0.00")
                is_past = i < n_past
                made_up = single and 0 <= i < n_past - 1  # hmmr's past before its one frame
                seen = True  # a person detected at this past frame (the 3D panel draws no held pose either)
                if is_past and t <= t_obs_end + tol:
                    k = max(min(int(np.searchsorted(obs.times, t + tol, side="right")) - 1, obs.num_frames - 1), 0)
                    seen = bool(obs.detected[k])
                    if seen:
                        at = obs.keypoints[k] * (sx, sy) + shift
                        draw_skeleton_2d(img, at, bones, OBSERVED_RGB, OBSERVED_LEFT_RGB)
                    if made_up:
                        _label(img, f"hallucinated past  {clock:.2f} s", OBSERVED_RGB)
                    elif seen:
                        _label(img, f"observed  {clock:.2f} s", OBSERVED_RGB)
                    else:  # the track bridges or holds these keypoints; on the picture they would float
                        _label(img, f"observed  {clock:.2f} s: no person detected", OBSERVED_RGB)
                elif not is_past:
                    anchored = getattr(forecast, "future_pixels", None)  # VideoForecast: anchored at the keypoints
                    pts = anchored()[i - n_past] if anchored else project(future[i - n_past], camera[i])
                    pts = pts * (sx, sy) + shift
                    draw_skeleton_2d(img, pts, bones, FORECAST_RGB, FORECAST_LEFT_RGB)
                    _label(img, f"forecast ({forecast.model})  +{t - t_split:.2f} s", FORECAST_RGB)
                    if anchored:  # the picture's skeleton is not the 3D panel's pose projected: say what it is
                        _label(
                            img,
                            "last keypoints seen, moved as the 3D forecast moves",
                            FORECAST_RGB,
                            row=2,
                            short="keypoints moved by forecast",
                        )
                    if img_next is None and t > src_end + tol and not still:  # (a photo has no end to mark)
                        _label(img, "clip ended: last frame", (230, 230, 230), row=1)
                if drawer is not None:
                    name = title or f"{video_path.name}: {forecast.model}"
                    if made_up:
                        side = drawer.draw(past[i], None, None, f"{name}\nhallucinated past {clock:.2f} s")
                    elif is_past:
                        note = ": no person detected" if not seen else ": not read by the model" if i < 0 else ""
                        side = drawer.draw(
                            past[i] if seen and i >= 0 else None,
                            None,
                            None,
                            f"{name}\nobserved {clock:.2f} s{note}",
                        )
                    else:
                        side = drawer.draw(
                            None,
                            future[i - n_past],
                            past[-1] if n_past else None,
                            f"{name}\nforecast +{t - t_split:.2f} s",
                        )
                    img = np.concatenate([img, side], axis=1)
                writer.send(np.ascontiguousarray(img))
        finally:
            writer.close()
            if hasattr(frames, "close"):
                frames.close()
    return path_out
