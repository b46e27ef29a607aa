"""``posecast keyposes FILE [--out PATH.{json,html,mp4,gif} ...]``: mine and list the key poses of a motion.

(Forecasting the next key pose is ``posecast forecast FILE --model charpose``: `posecast.cli.forecast`;
its benchmark is ``posecast bench keyposes``: `posecast.cli.bench`.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from posecast.cli.common import (
    AsfOpt,
    FpsOpt,
    MappingOpt,
    SkeletonOpt,
    UnitsOpt,
    UpOpt,
    check_outputs,
    console,
    load_motion,
    naming,
)
from posecast.errors import ValueRangeError

KEYPOSE_OUTPUTS = (".json", ".html", ".mp4", ".gif")


def keyposes(
    file: Annotated[Path, typer.Argument(help="A motion file.")],
    out: Annotated[
        list[Path] | None,
        typer.Option(help="Write .json (key poses with positions), or .html / .mp4 / .gif (rendered); repeatable."),
    ] = None,
    skip_frames: Annotated[
        int | None,
        typer.Option(
            help="Ignore this many frames at the start (default: a rest pose written before the motion, found by "
            "its speed as `posecast forecast` finds it: frame 0 of CMU BVH files, a T-pose; 0 keeps every frame)."
        ),
    ] = None,
    smoothing: Annotated[float | None, typer.Option(help="Trajectory smoothing in seconds (default 0.05).")] = None,
    min_separation: Annotated[
        float | None, typer.Option(help="Minimum seconds between key poses (default 0.3).")
    ] = None,
    prominence: Annotated[
        float | None, typer.Option(help="Metres the body must return after a key pose (default 0.05).")
    ] = None,
    reference: Annotated[
        float | None, typer.Option(help="Width in seconds of the moving reference pose (default 0.75).")
    ] = None,
    preset: Annotated[
        str,
        typer.Option(
            help="default (tuned on long CMU clips), or corpus: the criterion of the corpus key poses charpose "
            "is trained on (1.5 s reference, 3 cm prominence), which also finds the one action of a short clip "
            "that starts and ends at rest (a bow, a raised hand); the options above override it."
        ),
    ] = "default",
    skeleton: SkeletonOpt = None,
    fps: FpsOpt = None,
    asf: AsfOpt = None,
    units: UnitsOpt = None,
    mapping: MappingOpt = None,
    up: UpOpt = None,
) -> None:
    """Mine the characteristic key poses of a motion (moments of most articulation before returning), on the
    canonical body turned upright, as the corpus charpose learnt from (the same key poses on every rig)."""
    from rich.table import Table

    from posecast.keyposes.dataset import CORPUS_MINING
    from posecast.keyposes.mining import mine_motion

    presets = {"default": {}, "corpus": dict(CORPUS_MINING)}
    if preset not in presets:
        raise ValueRangeError(f"--preset must be one of {', '.join(presets)}, not {preset!r}")
    outs = list(out or [])
    if outs:
        check_outputs(outs, KEYPOSE_OUTPUTS, inputs=(file,))
    joint_map = None
    if mapping is not None:
        from posecast.skeletons.canonical import load_mapping_file

        joint_map = load_mapping_file(mapping)  # an unreadable or bad file: one line naming it
    motion = load_motion(file, skeleton, fps, asf, units)
    if skip_frames is not None and not 0 <= skip_frames < motion.num_frames:
        raise ValueRangeError(f"--skip-frames {skip_frames} must be in [0, {motion.num_frames}) for this motion")
    seconds = motion.num_frames / motion.fps
    for option, value in (("--smoothing", smoothing), ("--min-separation", min_separation), ("--reference", reference)):
        if value is not None and not 0 <= value <= seconds:  # (QA: --reference 1e5 ran for ever; the CLI's names)
            raise ValueRangeError(f"{option} {value:g}: give seconds from 0 to the motion's length ({seconds:.2f} s)")
    if prominence is not None and not 0 <= prominence < math.inf:
        raise ValueRangeError(f"--prominence {prominence:g}: give metres, zero or more")
    options = presets[preset] | {
        k: v
        for k, v in (
            ("smoothing_s", smoothing),
            ("min_separation_s", min_separation),
            ("prominence", prominence),
            ("reference_s", reference),
        )
        if v is not None
    }
    where = {"mapping": joint_map, "up": up, "skip_frames": skip_frames}
    with naming(file):
        mined = mine_motion(motion, **where, **options)
    found = mined.keyposes
    count = f"{len(found)} key pose{'s' * (len(found) != 1)}"
    table = Table(title=f"{file.name}: {count}", title_justify="left")
    for col in ("frame", "time (s)", "score (m)", "driven by"):
        table.add_column(col, justify="left" if col == "driven by" else "right")
    for k in found:
        table.add_row(str(k.frame), f"{k.time:.3f}", f"{k.score:.3f}", ", ".join(k.joint_names))
    console.print(table)
    console.print(f"mined on {mined.description()}", highlight=False, soft_wrap=True)
    if skip_frames is None and mined.skipped_frames:
        n = mined.skipped_frames
        console.print(
            f"note: {file.name}: the frame{'s' * (n != 1)} left out {'are' if n != 1 else 'is'} a rest pose written "
            f"before the motion (found by {'their' if n != 1 else 'its'} speed); --skip-frames 0 keeps "
            f"{'them' if n != 1 else 'it'}",
            highlight=False,
        )
    if not found and preset == "default":  # short acted gestures often miss the default criterion's prominence
        with naming(file):
            others = mine_motion(motion, **where, **(presets["corpus"] | options)).keyposes
        if others:
            console.print(
                f"note: --preset corpus (the criterion the corpus key poses use) finds {len(others)}", highlight=False
            )
    for path in outs:
        _write(path, file, motion, mined)


def _write(out: Path, file: Path, motion: Any, mined: Any) -> None:
    """One ``--out`` of `keyposes`: the key poses as JSON, or rendered by `posecast.keyposes.render`."""
    found = mined.keyposes
    if out.suffix.lower() == ".json":
        from posecast.io import atomic_output

        doc = {
            "file": str(file),
            "fps": motion.fps,
            "skeleton": motion.skeleton.name,
            "joint_names": list(motion.skeleton.joint_names),
            "skipped_frames": mined.skipped_frames,
            "options": mined.options,
            "mined_on": mined.body,
            "up_axis": mined.up_axis,
            "keyposes": [{**k.to_dict(), "positions": np.round(motion.positions[k.frame], 6).tolist()} for k in found],
        }
        with atomic_output(out) as tmp:
            tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    else:
        import dataclasses

        from posecast.keyposes.render import render_keyposes

        skip = mined.skipped_frames
        clip = motion.frames(skip) if skip else motion
        render_keyposes(clip, [dataclasses.replace(k, frame=k.frame - skip) for k in found], out)
    console.print(f"wrote {out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``keyposes`` to ``app``."""
    app.command(name="keyposes")(keyposes)
