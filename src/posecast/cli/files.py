"""``posecast info``, ``posecast formats`` and ``posecast render``: look at motion and forecast files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from posecast.cli.common import (
    RENDER_OUTPUTS,
    AsfOpt,
    FpsOpt,
    SkeletonOpt,
    UnitsOpt,
    check_outputs,
    console,
    parse_units,
    write,
)
from posecast.errors import ValueRangeError


def info(
    file: Annotated[Path, typer.Argument(help="A motion or forecast file.")],
    skeleton: SkeletonOpt = None,
    fps: FpsOpt = None,
    asf: AsfOpt = None,
    units: UnitsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Describe a motion file: format, frames, rate, skeleton, extent (read as `posecast forecast` reads it)."""
    from posecast.api import load_file, sniff_kind
    from posecast.io import detect_format
    from posecast.motion import Forecast

    kind = sniff_kind(file)
    if kind in ("video", "image"):  # not a motion: say what to run on it instead
        raise ValueRangeError(
            f"{file}: a {kind}, not a motion file; `posecast poses` estimates its keypoints and "
            "`posecast forecast` forecasts from it"
        )
    fmt = detect_format(file)
    obj = load_file(file, skeleton, fps, asf=asf, units=parse_units(units))
    d: dict[str, Any] = {
        "file": str(file),
        "format": fmt.name,
        "skeleton": obj.skeleton.name,
        "joints": obj.skeleton.num_joints,
        "fps": obj.fps,
    }
    if isinstance(obj, Forecast):
        d.update(
            kind="forecast",
            model=obj.model,
            samples=obj.num_samples,
            frames=obj.num_frames,
            horizon_s=obj.horizon,
            has_history=obj.history is not None,
            has_ground_truth=obj.ground_truth is not None,  # what posecast.load(file).ground_truth holds
        )
        if obj.metadata.get("kind") == "keyposes":  # a key-pose forecast keeps its truth in the metadata
            d["has_true_keypose"] = obj.metadata.get("true_keypose_root_relative") is not None
            if d["has_true_keypose"]:
                d["true_keypose"] = (
                    f"at {obj.metadata.get('true_keypose_time_s', float('nan')):.3f} s: metadata "
                    "true_keypose_root_relative (placed as drawn: posecast.keyposes.forecaster.shown_truth)"
                )
    else:
        from posecast.motion import detached_start, jitter, tracking_glitches
        from posecast.skeletons.canonical import UP_ROTATIONS, motion_up_axis

        pos = obj.positions
        up = motion_up_axis(pos, obj.skeleton)
        height = pos @ UP_ROTATIONS[up or "+y"][1]  # (T, J) along the up axis
        skip = detached_start(pos, obj.fps)
        glitches = tracking_glitches(pos, obj.fps, obj.skeleton.parents, skip)
        names = obj.skeleton.joint_names
        d.update(
            kind="motion",
            frames=obj.num_frames,
            duration_s=round(obj.duration, 4),
            has_rotations=obj.rotations is not None,
            extent_m=[round(float(x), 3) for x in (pos.max(axis=(0, 1)) - pos.min(axis=(0, 1)))],
            up_axis=up or "+y (not found: the skeleton does not map onto the canonical body)",
            height_m=round(float(np.median(height.max(axis=1) - height.min(axis=1))), 3),
            rest_pose_frames=skip,
            # what a forecast would meet (guide, "Imperfect tracking"): joints a tracker lost and found, or not
            tracking_glitches=[
                f"{names[g.joint]} frames {g.first}-{g.last}" + (" (not back by the end)" if g.trailing else "")
                for g in glitches[:10]
            ]
            + ([f"... {len(glitches) - 10} more"] if len(glitches) > 10 else []),
            jitter_mm=round(1000 * float(np.median(jitter(pos[skip:]))), 2),
            metadata={k: v for k, v in obj.metadata.items() if k != "source"},
        )
    if as_json:
        console.print_json(json.dumps(d, default=str))
        return
    for k, v in d.items():
        if k == "metadata" and isinstance(v, dict):
            v = {m: short_value(x) for m, x in v.items()}
        console.print(f"[bold]{k}[/bold]: {v}", highlight=False)
    if any(short_value(x) is not x for x in d.get("metadata", {}).values()):
        console.print("(long metadata entries counted: --json prints them whole)", highlight=False)


#: characters of a metadata entry ``posecast info`` prints as it is; longer tables and lists are counted
INFO_VALUE_CHARS = 120


def short_value(value: Any) -> Any:
    """``value`` for ``posecast info``'s text view: a table or list whose text is over `INFO_VALUE_CHARS` as
    ``"<N entries>"`` (QA: a BVH's per-joint channels filled 2.4 KB of the screen), anything else as it is."""
    if isinstance(value, dict | list | tuple) and len(str(value)) > INFO_VALUE_CHARS:
        return f"<{len(value)} entries>"
    return value


def formats() -> None:
    """List the file formats PoseCast reads and writes."""
    from posecast.io import formats as all_formats

    for f in all_formats():
        mode = "read/write" if f.write else "read"
        console.print(f"[bold]{f.name:12}[/bold] {', '.join(f.suffixes):18} {mode:10} {f.description}", highlight=False)
    console.print(
        "Every format is also read (and written) gzip-compressed by its inner suffix: walk.bvh.gz, clip.amc.gz."
    )


def render(
    file: Annotated[Path, typer.Argument(help="A motion or forecast file.")],
    out: Annotated[
        list[Path] | None,
        typer.Option(help="Output: .mp4 .gif .html, and .png for key-pose forecasts (repeatable)."),
    ] = None,
    skeleton: SkeletonOpt = None,
    fps: FpsOpt = None,
    up: Annotated[
        str | None,
        typer.Option(
            help="Which axis points up in the file's world: x, y, z, -x, -y, -z (drawn upright; default: a "
            "forecast's own, else found from the motion, which a person lying down all along can fool)."
        ),
    ] = None,
    asf: AsfOpt = None,
    units: UnitsOpt = None,
) -> None:
    """Render a motion or a saved forecast to video, GIF or an interactive HTML viewer (files read as
    `posecast forecast` reads them: the same --skeleton, --fps, --asf and --units)."""
    from posecast.api import load_file
    from posecast.viz.scene import given_up_axis

    outs = out or []
    check_outputs(outs, RENDER_OUTPUTS + (".png",), inputs=(file,))
    if up is not None:
        given_up_axis(up)  # a bad value fails before the file is read
    obj = load_file(file, skeleton, fps, asf=asf, units=parse_units(units))
    pictures = [o for o in outs if o.suffix.lower() == ".png"]
    if pictures and getattr(obj, "metadata", {}).get("kind") != "keyposes":  # before anything is written
        raise ValueRangeError(
            "cannot write .png of a motion or a motion forecast (a .png draws key-pose hypotheses side by side); use "
            ".mp4, .gif or .html",
            pictures[0],
        )
    for o in outs:
        write(obj, o, up=up)
        console.print(f"wrote {o}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``info``, ``formats`` and ``render`` to ``app``."""
    app.command()(info)
    app.command()(formats)
    app.command()(render)
