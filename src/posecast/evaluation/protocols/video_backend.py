"""How good and how fast the pose backend is on the shared clips (``$POSECAST_DATA/video``).

A protocol, not part of the pipeline (moved from ``posecast.video.backend_report``): it measures the
backend of `posecast.video.backend` against fixed reference data on a fixed set of clips and reports
the numbers with the protocol that produced them, like every module of `posecast.evaluation.protocols`.

Measured per clip, with the MediaPipe backend (full model, ``smooth_landmarks=False``):

- detection rate in video mode (the tracker carries the pose from frame to frame) and in static mode
  (the person detector on every frame: its recall);
- bone-length stability: the coefficient of variation (std / mean over the detected frames) of the
  world-landmark lengths of the thighs (hip-knee), shins (knee-ankle) and upper arms
  (shoulder-elbow), left and right, averaged over those six bones. A rigid body would give 0;
- speed: frames per second counting only the estimator's ``process`` calls, and counting decoding
  (PyAV, RGB conversion) plus the estimator.

On the squats clip, agreement with Google's reference BlazePose-full output (tensorflow/tfjs-models
test data, made with landmark smoothing on): mean / max 2D distance in pixels and mean 3D distance
of the world landmarks in cm, after turning the reference's world landmarks into PoseCast's frame the
same way as the backend (``(x, y, z) -> (x, -y, -z)``). Reported for video mode without smoothing
(PoseCast's default), video mode with MediaPipe's smoothing on (the reference's own setting) and
static mode.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import DataNotFoundError
from posecast.video.backend import MP_TO_POSECAST, MediaPipePoseBackend, PoseBackend
from posecast.video.decode import iter_frames, probe_video

REFERENCE_CLIP = "squats_pexels_tfjs.mp4"
REFERENCE_2D = "squats_pexels_tfjs.blazepose_full_ref_2d.json"
REFERENCE_WORLD = "squats_pexels_tfjs.blazepose_full_ref_world.json"
STABILITY_BONES = {  # blazepose-33 indices
    "thigh": ((23, 25), (24, 26)),
    "shin": ((25, 27), (26, 28)),
    "upper_arm": ((11, 13), (12, 14)),
}


def bone_length_cv(world: np.ndarray) -> dict[str, float]:
    """Coefficient of variation (std / mean) of bone lengths over frames, ``world`` ``(T, 33, 3)``:
    per bone group (mean of left and right) and ``"mean"`` over all six bones; plus mean thigh length (m)."""
    out: dict[str, float] = {}
    cvs = []
    for name, pairs in STABILITY_BONES.items():
        group = []
        for a, b in pairs:
            length = np.linalg.norm(world[:, a] - world[:, b], axis=-1)
            group.append(float(length.std() / length.mean()))
        out[name] = float(np.mean(group))
        cvs += group
    out["mean"] = float(np.mean(cvs))
    thigh = [np.linalg.norm(world[:, a] - world[:, b], axis=-1).mean() for a, b in STABILITY_BONES["thigh"]]
    out["thigh_length_m"] = float(np.mean(thigh))
    return out


def _run(path: Path, backend: PoseBackend, static: bool) -> dict[str, Any]:
    """Decode and estimate every frame; ``keypoints``/``world`` hold NaN (``visibility`` 0) where no person
    was found."""
    info = probe_video(path)
    kps, worlds, vis, found = [], [], [], []
    t0 = time.perf_counter()
    with backend.session(static=static) as session:
        for _, rgb in iter_frames(path, info=info):
            pose = session.process(rgb)
            found.append(pose is not None)
            kps.append(np.full((33, 2), np.nan) if pose is None else pose.keypoints)
            vis.append(np.zeros(33) if pose is None else pose.visibility)
            worlds.append(np.full((33, 3), np.nan) if pose is None or pose.world is None else pose.world)
        stats = session.stats
    wall = time.perf_counter() - t0
    return {
        "info": info,
        "keypoints": np.stack(kps),
        "world": np.stack(worlds),
        "visibility": np.stack(vis),
        "detected": np.asarray(found),
        "pose_fps": stats.frames / stats.seconds if stats.seconds > 0 else float("nan"),
        "total_fps": stats.frames / wall,
    }


def reference_agreement(run: dict[str, Any], ref_2d: np.ndarray, ref_world: np.ndarray) -> dict[str, float]:
    """Mean/max 2D pixel distance and mean world distance (cm) to the reference, over the frames both have."""
    ok = run["detected"]
    e2 = np.linalg.norm(run["keypoints"][ok] - ref_2d[ok, :, :2], axis=-1)
    ew = np.linalg.norm(run["world"][ok] - ref_world[ok] @ MP_TO_POSECAST.T, axis=-1)
    return {
        "frames": int(ok.sum()),
        "mean_2d_px": float(e2.mean()),
        "max_2d_px": float(e2.max()),
        "mean_world_cm": float(100 * ew.mean()),
    }


def backend_report(data_root: str | Path, clips: list[str] | None = None) -> dict[str, Any]:
    """Run the MediaPipe backend over the clips in ``data_root/video`` (all ``.mp4``/``.avi`` by default)
    and return ``{"protocol", "clips": [...], "reference": [...], "machine"}`` (see the module doc)."""
    import mediapipe as mp

    video_dir = Path(data_root) / "video"
    if not video_dir.is_dir():
        raise DataNotFoundError(f"no video folder under {data_root}")
    names = clips or sorted(p.name for p in video_dir.iterdir() if p.suffix.lower() in (".mp4", ".avi"))
    backend = MediaPipePoseBackend()
    detector_alone = MediaPipePoseBackend(search=False)
    rows = []
    for name in names:
        path = video_dir / name
        vid = _run(path, backend, static=False)
        stat = _run(path, backend, static=True)
        alone = _run(path, detector_alone, static=True)
        info = vid["info"]
        det = vid["detected"]
        cv = bone_length_cv(vid["world"][det]) if det.sum() >= 2 else {}
        rows.append(
            {
                "clip": name,
                "size": f"{info.width}x{info.height}",
                "fps": round(info.fps, 2),
                "frames": info.num_frames,
                "detect_video": float(det.mean()),
                "detect_static": float(stat["detected"].mean()),
                "detect_static_alone": float(alone["detected"].mean()),
                "bone_cv_mean": cv.get("mean"),
                "bone_cv_thigh": cv.get("thigh"),
                "bone_cv_shin": cv.get("shin"),
                "bone_cv_upper_arm": cv.get("upper_arm"),
                "thigh_m": cv.get("thigh_length_m"),
                "pose_fps_video": vid["pose_fps"],
                "total_fps_video": vid["total_fps"],
                "pose_fps_static": stat["pose_fps"],
            }
        )
    reference = []
    if (video_dir / REFERENCE_CLIP).is_file() and (video_dir / REFERENCE_2D).is_file():
        ref_2d = np.asarray(json.loads((video_dir / REFERENCE_2D).read_text()), dtype=np.float64)
        ref_w = np.asarray(json.loads((video_dir / REFERENCE_WORLD).read_text()), dtype=np.float64)
        for label, be, static in (
            ("video, smoothing off (default)", backend, False),
            ("video, smoothing on (as the reference)", MediaPipePoseBackend(smooth_landmarks=True), False),
            ("static (detector every frame)", backend, True),
        ):
            run = _run(video_dir / REFERENCE_CLIP, be, static)
            reference.append({"setting": label, **reference_agreement(run, ref_2d, ref_w)})
    return {
        "protocol": {
            "benchmark": "video pose backend",
            "backend": backend.describe(),
            "mediapipe": mp.__version__,
            "clips": f"$POSECAST_DATA/video ({len(names)} clips, see PROVENANCE.md there)",
            "reference": f"{REFERENCE_2D} / {REFERENCE_WORLD}: Google's BlazePose-full output for {REFERENCE_CLIP} "
            "(tfjs-models test data, smoothing on); world compared after (x, y, z) -> (x, -y, -z)",
            "detection": "fraction of frames with a person; video = tracking, static = detector on every frame "
            "(both with the tile search for people the detector misses, posecast.video.search); static alone = "
            "MediaPipe's detector on every frame without the search",
            "bone_cv": "std/mean over detected frames of world-landmark lengths of thighs, shins, upper arms "
            "(left and right), mean of the six bones",
            "speed": "pose_fps = frames / time inside pose.process(); total_fps = frames / (decode with PyAV "
            "+ RGB conversion + pose), one process, single pass, shared 2-core machine (noisy, +-20%)",
        },
        "machine": {"python": platform.python_version(), "processor": platform.machine(), "cpus": _cpus()},
        "clips": rows,
        "reference": reference,
    }


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def to_markdown(report: dict[str, Any]) -> str:
    """The report as a markdown fragment: two tables and the protocol."""

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    lines = [
        "### Video pose backend (MediaPipe Pose 0.10.21, full model)",
        "",
        "| clip | size | fps | frames | det. video | det. static | det. static alone | bone CV (thigh / shin / "
        "upper arm) | thigh (m) | pose fps video | decode+pose fps | pose fps static |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["clips"]:
        cv = f"{pct(r['bone_cv_mean'])} ({pct(r['bone_cv_thigh'])} / {pct(r['bone_cv_shin'])} / "
        cv += f"{pct(r['bone_cv_upper_arm'])})"
        thigh = "-" if r["thigh_m"] is None else f"{r['thigh_m']:.3f}"
        lines.append(
            f"| {r['clip']} | {r['size']} | {r['fps']:g} | {r['frames']} | {pct(r['detect_video'])} | "
            f"{pct(r['detect_static'])} | {pct(r.get('detect_static_alone'))} | {cv} | {thigh} | "
            f"{r['pose_fps_video']:.0f} | {r['total_fps_video']:.0f} | "
            f"{r['pose_fps_static']:.0f} |"
        )
    if report["reference"]:
        lines += [
            "",
            f"Agreement with Google's reference output on `{REFERENCE_CLIP}` (720x1280, 65 frames):",
            "",
            "| setting | frames | mean 2D (px) | max 2D (px) | mean world (cm) |",
            "|---|---|---|---|---|",
        ]
        for r in report["reference"]:
            lines.append(
                f"| {r['setting']} | {r['frames']} | {r['mean_2d_px']:.1f} | {r['max_2d_px']:.1f} | "
                f"{r['mean_world_cm']:.1f} |"
            )
    p = report["protocol"]
    lines += ["", "Protocol:", ""]
    for key in ("backend", "clips", "reference", "detection", "bone_cv", "speed"):
        value = p[key] if not isinstance(p[key], dict) else ", ".join(f"{k}={v}" for k, v in p[key].items())
        lines.append(f"- {key}: {value}")
    m = report["machine"]
    lines.append(f"- machine: Python {m['python']}, {m['processor']}, {m['cpus']} CPU cores, no GPU")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], json_path: Path | None, md_path: Path | None) -> list[Path]:
    """Write the report as JSON and/or markdown (atomically); returns the paths written."""
    from posecast.io.registry import atomic_output

    written = []
    if json_path is not None:
        with atomic_output(json_path) as tmp:
            tmp.write_text(json.dumps(report, indent=1))
        written.append(Path(json_path))
    if md_path is not None:
        with atomic_output(md_path) as tmp:
            tmp.write_text(to_markdown(report))
        written.append(Path(md_path))
    return written
