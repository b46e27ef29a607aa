"""``posecast demo``: forecast one second of motion and render it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posecast.cli.common import check_out_dir, console, write


def demo(
    out_dir: Annotated[Path, typer.Option(help="Where to write the demo files.")] = Path("posecast-demo"),
) -> None:
    """Forecast one second of motion and render it (a CMU clip when POSECAST_DATA is set, else a synthetic walk)."""
    from posecast.datasets import dataset_dir
    from posecast.io import load
    from posecast.models import default_model, get
    from posecast.synthetic import synthetic_walk

    check_out_dir(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bvh_dir = dataset_dir("cmu_bvh", required=False)
    clip = bvh_dir / "02" / "02_01.bvh" if bvh_dir else None
    if clip is not None and clip.is_file():
        motion = load(clip).resample(25.0).frames(1)  # drop the synthetic rest pose of frame 0
        label = f"CMU motion capture {clip.name} (subject 02, walk)"
    else:
        motion = synthetic_walk(seconds=6.0, fps=25.0)
        label = "SYNTHETIC procedurally generated walk (no POSECAST_DATA found)"
    at_frame = min(motion.num_frames - 25, int(3 * motion.fps))
    history = motion.frames(0, at_frame)
    truth = motion.positions[at_frame : at_frame + 25]
    # the default model for motions (`posecast models`: the learned dct-mlp on the canonical body)
    entry = default_model("motion")
    model_name = entry.name if entry is not None else "constant-velocity"
    result = get(model_name).forecast(history, frames=25, ground_truth=truth)
    console.print(f"input: {label}", highlight=False)
    console.print(
        f"model: {model_name}; observed {history.duration:.1f} s, forecast {result.horizon:.1f} s", highlight=False
    )
    for name in ("forecast.mp4", "forecast.html", "forecast.npz"):
        write(result, out_dir / name)
        console.print(f"wrote {out_dir / name}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.command()(demo)
