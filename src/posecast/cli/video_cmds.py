"""CLI commands of the video work; `register` adds them to the app (see `posecast.cli.app`).

- ``posecast poses VIDEO --out poses.npz`` (or ``.json``): the 2D/3D pose track of the person in a
  clip (or an image), from the MediaPipe backend;
- ``posecast forecast VIDEO|IMAGE ...`` calls `forecast_media` here (see app.py);
- ``posecast bench video``: the video forecasting benchmark (`posecast.video.bench`);
- ``posecast bench video-backend``: the pose backend report on the shared clips.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from posecast.errors import ModelError, ValueRangeError

POSE_OUTPUTS = (".npz", ".json")
MEDIA_OUTPUTS = (".mp4", ".npz", ".json", ".html", ".gif")
DEFAULT_HORIZON_S = 1.0


def _console():
    from posecast.cli.app import console

    return console


def _check_input(file: Path) -> str:
    """``"video"`` or ``"image"`` by suffix; a missing file or another suffix is a one-line error."""
    from posecast.errors import FormatError
    from posecast.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    suffix = file.suffix.lower()
    if suffix not in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
        raise FormatError(
            f"not a video or image suffix {suffix or '(none)'}; use {', '.join(VIDEO_SUFFIXES + IMAGE_SUFFIXES)}", file
        )
    if not file.is_file():
        raise FormatError("no such file", file)
    return "image" if suffix in IMAGE_SUFFIXES else "video"


def track_to_json(track: Any) -> dict[str, Any]:
    """A `PoseTrack` as a JSON-ready dict (pixels, seconds, metres; NaN written as null)."""
    from posecast import skeletons

    def arr(a: np.ndarray) -> Any:
        out = np.round(a, 6).astype(object)
        out[~np.isfinite(a)] = None
        return out.tolist()

    d: dict[str, Any] = {
        "kind": "posecast.PoseTrack",
        "skeleton": track.skeleton,
        "joint_names": list(skeletons.get(track.skeleton).joint_names),
        "image_size": list(track.image_size),
        "times": np.round(track.times, 6).tolist(),
        "detected": track.detected.tolist(),
        "keypoints": arr(track.keypoints),
        "visibility": arr(track.visibility),
        "world": None if track.world is None else arr(track.world),
        "metadata": {k: v for k, v in track.metadata.items() if isinstance(v, str | int | float | bool)},
    }
    return d


def _save_track(track: Any, out: Path) -> None:
    if out.suffix.lower() == ".npz":
        track.save(out)
        return
    from posecast.io.registry import atomic_output

    with atomic_output(out) as tmp:
        tmp.write_text(json.dumps(track_to_json(track)), encoding="utf-8")


def _extract(file: Path, kind: str, at: float | None = None, static: bool = False):
    from posecast.video import extract_image_pose, extract_poses

    if kind == "image":
        return extract_image_pose(file)
    return extract_poses(file, max_time=at, static=static)


# ------------------------------------------------------------------------------------ poses
def poses(
    file: Annotated[Path, typer.Argument(help="A video (.mp4 .avi .mov ...) or an image (.jpg .png ...).")],
    out: Annotated[list[Path] | None, typer.Option(help="Output: .npz (PoseTrack) or .json (repeatable).")] = None,
    static: Annotated[
        bool, typer.Option(help="Run the person detector on every frame instead of tracking (slower).")
    ] = False,
    at: Annotated[float | None, typer.Option(help="Only the first AT seconds of the clip.")] = None,
) -> None:
    """Estimate the 2D keypoints (and 3D world landmarks) of the person in a video or image (MediaPipe Pose)."""
    from posecast.cli.app import _check_outputs

    outs = out or []
    _check_outputs(outs, POSE_OUTPUTS)
    kind = _check_input(file)
    if at is not None and not at > 0:
        raise ValueRangeError(f"--at must be positive, got {at}")
    track = _extract(file, kind, at=at, static=static)
    console = _console()
    n, det = track.num_frames, int(track.detected.sum())
    console.print(
        f"{file.name}: {n} frames, person found in {det} ({100 * det / n:.0f}%), {track.fps:.2f} frames/s, "
        f"{track.image_size[0]}x{track.image_size[1]} px, skeleton {track.skeleton}",
        highlight=False,
    )
    for o in outs:
        _save_track(track, o)
        console.print(f"wrote {o}", highlight=False)


# --------------------------------------------------------------------------------- forecast
def _video_model(model: str, weights: Path | None):
    try:
        from posecast.video.models import get
    except ImportError as exc:
        raise ModelError(f"video forecasting models are not available ({exc})") from exc
    return get(model, weights) if weights is not None else get(model)


def forecast_media(
    file: Path,
    *,
    model: str,
    horizon: float | None,
    frames: int | None,
    at: float | None,
    outs: list[Path],
    weights: Path | None,
) -> None:
    """``posecast forecast VIDEO|IMAGE``: extract the pose track (up to ``at`` s), forecast ``horizon`` s
    (or ``frames`` at the clip's frame rate; default 1 s) with a video model and write every output:
    ``.mp4`` = the clip with the observed and forecast skeleton drawn on it plus a 3D view;
    ``.npz`` / ``.json`` / ``.html`` / ``.gif`` = the 3D forecast through `VideoForecast.to_forecast`."""
    from posecast.cli.app import _check_outputs, _write

    _check_outputs(outs, MEDIA_OUTPUTS)
    kind = _check_input(file)
    if horizon is not None and frames is not None:
        raise ValueRangeError("give only one of --horizon and --frames")
    if horizon is not None and not (np.isfinite(horizon) and horizon > 0):
        raise ValueRangeError(f"impossible horizon {horizon!r} s (must be a positive number of seconds)")
    if frames is not None and frames < 1:
        raise ValueRangeError(f"impossible horizon {frames!r} frames (must be at least 1)")
    if at is not None:
        if kind == "image":
            raise ValueRangeError("--at applies to videos, not to an image", file)
        from posecast.video.decode import probe_video

        info = probe_video(file)
        if not 0 < at <= info.duration:
            raise ValueRangeError(f"--at {at} s is outside the clip (0 to {info.duration:.2f} s)", file)
    forecaster = _video_model(model, weights)  # fail on an unknown model before the slow extraction
    track = _extract(file, kind, at=at)
    seconds = horizon if horizon is not None else (frames / track.fps if frames is not None else DEFAULT_HORIZON_S)
    result = forecaster.forecast(track, seconds)
    console = _console()
    console.print(
        f"{file.name}: observed {track.num_frames} frames ({track.duration:.2f} s), "
        f"forecast {len(result.future)} frames ({seconds:.2f} s) with {result.model}",
        highlight=False,
    )
    motion_forecast = None
    for o in outs:
        if o.suffix.lower() == ".mp4":
            from posecast.video.overlay import render_forecast_video

            render_forecast_video(o, file, track, result)
        else:
            motion_forecast = motion_forecast or result.to_forecast()
            _write(motion_forecast, o)
        console.print(f"wrote {o}", highlight=False)


# ------------------------------------------------------------------------------------ bench
def _print_tables(result: dict[str, Any]) -> None:
    """Print a result dict: lists of flat dicts become tables, the rest ``key: value`` lines."""
    from rich.table import Table

    console = _console()

    def show(name: str, value: Any) -> None:
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            cols = list(dict.fromkeys(k for r in value for k in r if not isinstance(r[k], dict | list)))
            table = Table(title=name, title_justify="left")
            for c in cols:
                table.add_column(str(c), justify="left" if isinstance(value[0].get(c), str) else "right")
            for r in value:
                table.add_row(*(_fmt(r.get(c)) for c in cols))
            console.print(table)
        elif isinstance(value, dict):
            for k, v in value.items():
                show(f"{name}.{k}" if name else str(k), v)
        else:
            console.print(f"[bold]{name}[/bold]: {value}", highlight=False)

    show("", result)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1e-2 and v != 0 else f"{v:.2f}"
    return str(v)


def bench_video(
    model: Annotated[list[str] | None, typer.Option("--model", help="Video model name (repeatable).")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON.")] = None,
) -> None:
    """Video forecasting benchmark: the video models on the shared clips and the virtual-camera test data."""
    if json_path is not None and not json_path.parent.exists():
        raise ValueRangeError(f"{json_path}: output directory does not exist")
    try:
        from posecast.video.bench import run_video_bench
    except ImportError as exc:
        raise ModelError(f"the video benchmark is not available ({exc})") from exc
    result = run_video_bench(model or None, json_path)
    _print_tables(result)
    if json_path is not None:
        _console().print(f"wrote {json_path}", highlight=False)


def bench_video_backend(
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON.")] = None,
    md: Annotated[Path | None, typer.Option(help="Write the report as a markdown table with its protocol.")] = None,
) -> None:
    """Pose backend on the shared clips: agreement with Google's reference, detection, bone stability, speed."""
    from posecast.data import dataset_dir
    from posecast.video.backend_report import backend_report, write_report

    for p in (json_path, md):
        if p is not None and not p.parent.exists():
            raise ValueRangeError(f"{p}: output directory does not exist")
    report = backend_report(dataset_dir("video").parent)
    _print_tables({"clips": report["clips"], "reference": report["reference"]})
    written = write_report(report, json_path, md)
    for p in written:
        _console().print(f"wrote {p}", highlight=False)


def register(app: Any, bench_app: Any) -> None:
    """Add this module's commands to `app` and its benchmarks to `bench_app`."""
    app.command(name="poses")(poses)
    bench_app.command(name="video")(bench_video)
    bench_app.command(name="video-backend")(bench_video_backend)
