"""``posecast poses VIDEO|IMAGE --out poses.npz`` (or ``.json``): the 2D/3D pose track of the person in a
clip or an image, from the MediaPipe backend.

(Forecasting from a video is ``posecast forecast VIDEO``: `posecast.cli.forecast`; the video benchmarks
are ``posecast bench video`` and ``bench video-backend``: `posecast.cli.bench`.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from posecast.cli.common import check_media, check_outputs, console, media_kind, print_track_notes
from posecast.errors import ValueRangeError

POSE_OUTPUTS = (".npz", ".json")


def track_to_json(track: Any) -> dict[str, Any]:
    """A `PoseTrack` as a JSON-ready dict (pixels, seconds, metres; NaN written as null)."""
    from posecast import skeletons

    def arr(a: np.ndarray) -> Any:
        out = np.round(a, 6).astype(object)
        out[~np.isfinite(a)] = None
        return out.tolist()

    return {
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


def save_track(track: Any, out: Path) -> None:
    """``.npz`` through `PoseTrack.save`, ``.json`` through `track_to_json` (atomically)."""
    if out.suffix.lower() == ".npz":
        track.save(out)
        return
    from posecast.io import atomic_output

    with atomic_output(out) as tmp:
        tmp.write_text(json.dumps(track_to_json(track)), encoding="utf-8")


def poses(
    file: Annotated[Path, typer.Argument(help="A video (.mp4 .avi .mov ...) or an image (.jpg .png ...).")],
    out: Annotated[list[Path] | None, typer.Option(help="Output: .npz (PoseTrack) or .json (repeatable).")] = None,
    static: Annotated[
        bool, typer.Option(help="Run the person detector on every frame instead of tracking (slower).")
    ] = False,
    at: Annotated[float | None, typer.Option(help="Only the first AT seconds of the clip.")] = None,
) -> None:
    """Estimate the 2D keypoints (and 3D world landmarks) of the person in a video or image (MediaPipe Pose)."""
    from posecast.video.models.base import extract_track

    outs = out or []
    check_outputs(outs, POSE_OUTPUTS, inputs=(file,))
    kind = media_kind(file)
    if at is not None and not at > 0:
        raise ValueRangeError(f"--at must be positive, got {at}")
    check_media(file, at)  # as `posecast forecast` checks it: inside the clip, not on an image
    track = extract_track(file, max_time=at if kind == "video" else None, static=static)
    n, det = track.num_frames, int(track.detected.sum())
    console.print(
        f"{file.name}: {n} frames, person found in {det} ({100 * det / n:.0f}%), {track.fps:.2f} frames/s, "
        f"{track.image_size[0]}x{track.image_size[1]} px, skeleton {track.skeleton}",
        highlight=False,
    )
    print_track_notes(track, file)
    for o in outs:
        save_track(track, o)
        console.print(f"wrote {o}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``poses`` to ``app``."""
    app.command(name="poses")(poses)
