"""The pose backend's detector noise, measured on real clips, and the virtual-camera noise model made from it.

The video models learn from 3D motion filmed by virtual cameras (`posecast.video.cameras.film`), whose 2D
keypoints are spoiled like a detector's. This protocol measures what the real backend (MediaPipe Pose, the
default of `posecast.video.backend`, video mode, smoothing off) does, on ``body-17`` (what the video models
read), in units of the person's height in the image (the median over frames of the vertical extent of the
17 keypoints) so that clips of any resolution compare:

- **error against Google's reference** on the squats clip (``squats_pexels_tfjs``, the one clip with
  reference output): per coordinate, the root mean square of backend minus reference over the frames and
  joints both have, for inner joints and for leaf joints (wrists, ankles, head: no child in ``body-17``);
  and the lag-1 autocorrelation of that error over frames, turned into the per-frame correlation at 25 fps
  under a first-order (AR(1)) error process: ``rho_25 = rho_clip ** (clip_fps / 25)``. The reference is
  another BlazePose run (smoothing on), not the truth: this is a lower bound of the detector's error.
- **jitter on every clip**: the residual of each keypoint track about a local quadratic fit over about
  0.5 s (Savitzky-Golay, at least 5 frames), per coordinate, divided by ``sqrt(1 - h0)`` (``h0`` the
  filter's centre weight: what a white error keeps after subtracting its own smoothing), inner and leaf
  joints apart. Real motion faster than a quadratic also lands in it, so fast clips read high.
- **dropouts**: the fraction of frames without a person (video mode) and of joint-frames the backend
  reports with visibility below 0.5.

`noise_model` turns the measurements into the ranges of a `posecast.video.cameras.CameraConfig`:
per-window noise between the smallest jitter of any clip and the largest of the reference error and any
clip's jitter; the leaf gain as the median leaf / inner ratio; the jitter correlation between 0 and the
measured ``rho_25``; frame dropouts up to the largest measured rate, plus `DROPOUT_MARGIN` (other clips
and cameras lose the person more often than six short clips show); joints dropped outright up to the
measured low-visibility rate. The result is stored next to the cameras (``video/detector_noise.json``)
and read by ``CameraConfig.measured()``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import DataNotFoundError

LAYOUT = "body-17"
TARGET_FPS = 25.0
JITTER_SECONDS = 0.5
VISIBLE = 0.5
#: added to the largest measured rate of frames without a person (frames per frame)
DROPOUT_MARGIN = 0.02


def _body17(keypoints: np.ndarray) -> np.ndarray:
    from posecast.skeletons.mapping import to_layout

    return np.asarray(to_layout(keypoints, LAYOUT, source="blazepose-33"), dtype=np.float64)


def _leaves() -> np.ndarray:
    from posecast import skeletons

    skel = skeletons.get(LAYOUT)
    leaf = np.zeros(skel.num_joints, bool)
    leaf[list(skel.leaves)] = True
    return leaf


def person_height(keypoints: np.ndarray) -> float:
    """Median over frames of the vertical extent (pixels) of ``(T, J, 2)`` keypoints (NaN frames skipped)."""
    extent = np.nanmax(keypoints[..., 1], axis=1) - np.nanmin(keypoints[..., 1], axis=1)
    return float(np.nanmedian(extent))


def savgol_window(fps: float, seconds: float = JITTER_SECONDS) -> int:
    """Odd window length (frames) of about ``seconds``, at least 5."""
    n = max(5, int(round(seconds * fps)))
    return n if n % 2 else n + 1


def jitter(keypoints: np.ndarray, fps: float) -> dict[str, float] | None:
    """Per-coordinate jitter (pixels) of ``(T, J, 2)`` keypoint tracks about a local quadratic: the RMS of
    the residual over frames, joints and both coordinates, corrected for the smoother's centre weight;
    ``{"inner", "leaf"}``, or None when the track is shorter than the window."""
    from scipy.signal import savgol_coeffs, savgol_filter

    n = savgol_window(fps)
    if len(keypoints) < n or np.isnan(keypoints).any():
        return None
    smooth = savgol_filter(keypoints, n, 2, axis=0, mode="interp")
    h0 = float(savgol_coeffs(n, 2)[n // 2])
    res = (keypoints - smooth) / math.sqrt(1.0 - h0)
    leaf = _leaves()
    return {
        "inner": float(np.sqrt(np.mean(res[:, ~leaf] ** 2))),
        "leaf": float(np.sqrt(np.mean(res[:, leaf] ** 2))),
    }


def lag1(error: np.ndarray) -> float:
    """Lag-1 autocorrelation over frames of ``(T, J, 2)`` errors, pooled over joints and coordinates
    (each series centred on its own mean)."""
    e = error - error.mean(axis=0, keepdims=True)
    return float(np.sum(e[1:] * e[:-1]) / np.sum(e * e))


def reference_error(keypoints: np.ndarray, reference: np.ndarray, fps: float) -> dict[str, float]:
    """Backend minus reference (``(T, J, 2)`` pixels each, on ``body-17``) over the frames both have:
    per-coordinate RMS (pixels) for inner and leaf joints, the lag-1 autocorrelation and its 25 fps value."""
    ok = ~(np.isnan(keypoints).any(axis=(1, 2)) | np.isnan(reference).any(axis=(1, 2)))
    err = keypoints[ok] - reference[ok]
    leaf = _leaves()
    rho = lag1(err)
    return {
        "frames": int(ok.sum()),
        "inner": float(np.sqrt(np.mean(err[:, ~leaf] ** 2))),
        "leaf": float(np.sqrt(np.mean(err[:, leaf] ** 2))),
        "lag1": rho,
        "rho_25fps": float(max(rho, 0.0) ** (fps / TARGET_FPS)),
    }


def measure(data_root: str | Path, clips: list[str] | None = None) -> dict[str, Any]:
    """Run the backend over the clips of ``data_root/video`` and measure its noise (module docstring).

    Returns ``{"protocol", "clips": [...], "reference": {...} | None}``; pixel values are also given as a
    fraction of the person's height (keys ending in ``_h``).
    """
    from posecast.evaluation.protocols.video_backend import REFERENCE_2D, REFERENCE_CLIP, _run
    from posecast.video.backend import MediaPipePoseBackend

    video_dir = Path(data_root) / "video"
    if not video_dir.is_dir():
        raise DataNotFoundError(f"no video folder under {data_root}")
    names = clips or sorted(p.name for p in video_dir.iterdir() if p.suffix.lower() in (".mp4", ".avi"))
    backend = MediaPipePoseBackend()
    rows, reference = [], None
    for name in names:
        run = _run(video_dir / name, backend, static=False)
        fps = float(run["info"].fps)
        kp = _body17(run["keypoints"])
        height = person_height(kp)
        det = run["detected"]
        row: dict[str, Any] = {
            "clip": name,
            "fps": fps,
            "frames": int(len(kp)),
            "height_px": height,
            "no_person": float(1.0 - det.mean()),
        }
        v17 = _body17(np.repeat(run["visibility"][..., None], 2, axis=-1))[..., 0]
        row["low_visibility"] = float(np.mean(v17[det] < VISIBLE))
        jit = jitter(kp[det], fps)
        if jit is not None:
            row.update({f"jitter_{k}_px": v for k, v in jit.items()})
            row.update({f"jitter_{k}_h": v / height for k, v in jit.items()})
        rows.append(row)
        if name == REFERENCE_CLIP and (video_dir / REFERENCE_2D).is_file():
            ref = np.asarray(json.loads((video_dir / REFERENCE_2D).read_text()), dtype=np.float64)[..., :2]
            r = reference_error(kp, _body17(ref), fps)
            reference = {
                "clip": name,
                "fps": fps,
                **r,
                "inner_h": r["inner"] / height,
                "leaf_h": r["leaf"] / height,
            }
    return {
        "protocol": {
            "benchmark": "detector noise of the pose backend",
            "backend": backend.describe(),
            "layout": LAYOUT,
            "clips": f"$POSECAST_DATA/video ({len(names)} clips)",
            "units": "pixels per coordinate (RMS); _h: fraction of the person's height in the image (median "
            "vertical extent of the 17 keypoints)",
            "jitter": f"residual about a Savitzky-Golay quadratic over ~{JITTER_SECONDS:g} s (at least 5 frames), "
            "divided by sqrt(1 - centre weight)",
            "reference": f"{REFERENCE_2D} (Google's BlazePose-full, smoothing on): backend minus reference; "
            f"lag-1 autocorrelation turned into {TARGET_FPS:g} fps as rho ** (clip fps / {TARGET_FPS:g})",
            "dropouts": f"frames without a person (video mode); joint-frames with visibility < {VISIBLE:g}",
        },
        "clips": rows,
        "reference": reference,
    }


def noise_model(measured: dict[str, Any]) -> dict[str, Any]:
    """`CameraConfig` noise fields from `measure`'s result (module docstring), with the measurement they
    come from under ``"measured"``."""
    rows = measured["clips"]
    ref = measured.get("reference")
    inner = [r["jitter_inner_h"] for r in rows if "jitter_inner_h" in r]
    ratios = [r["jitter_leaf_h"] / r["jitter_inner_h"] for r in rows if r.get("jitter_inner_h", 0) > 0]
    if not inner:
        raise DataNotFoundError("no clip was long enough to measure the detector's jitter")
    high = max(inner + ([ref["inner_h"]] if ref else []))
    no_person = max(r["no_person"] for r in rows)
    low_vis = max((r.get("low_visibility", 0.0) for r in rows), default=0.0)
    return {
        "noise": [round(min(inner), 5), round(high, 5)],
        "leaf_noise_gain": round(float(np.median(ratios)), 3),
        "jitter_correlation": [0.0, round(ref["rho_25fps"], 3) if ref else 0.7],
        "drop_frame_probability": [0.0, round(no_person + DROPOUT_MARGIN, 4)],
        "drop_joint_probability": [0.0, round(low_vis, 4)],
        "measured": measured,
    }


def save_noise_model(model: dict[str, Any], path: Path | None = None) -> Path:
    """Write the noise model where ``CameraConfig.measured()`` reads it (or to ``path``)."""
    from posecast.video.cameras import NOISE_FILE

    path = Path(path or NOISE_FILE)
    path.write_text(json.dumps(model, indent=1) + "\n")
    return path


def markdown(model: dict[str, Any]) -> str:
    """The measurement and the resulting noise model as Markdown."""
    m = model["measured"]
    p = m["protocol"]
    lines = [
        "### Detector noise of the pose backend (`posecast bench detector-noise`)",
        "",
        f"Protocol: {p['backend'].get('backend', '')} on {p['layout']}, {p['clips']}; {p['units']}; jitter: "
        f"{p['jitter']}; reference: {p['reference']}; dropouts: {p['dropouts']}.",
        "",
        "| clip | fps | frames | person height (px) | jitter inner (% h) | jitter leaf (% h) | no person | "
        "visibility < 0.5 |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def pct(v: float | None, digits: int = 2) -> str:
        return "-" if v is None else f"{100 * v:.{digits}f}"

    for r in m["clips"]:
        lines.append(
            f"| {r['clip']} | {r['fps']:.3g} | {r['frames']} | {r['height_px']:.0f} | {pct(r.get('jitter_inner_h'))} | "
            f"{pct(r.get('jitter_leaf_h'))} | {pct(r['no_person'], 1)} % | {pct(r.get('low_visibility'), 1)} % |"
        )
    ref = m.get("reference")
    if ref:
        lines += [
            "",
            f"Against the reference on `{ref['clip']}` ({ref['frames']} frames at {ref['fps']:.3g} fps): RMS error "
            f"inner {ref['inner']:.1f} px ({pct(ref['inner_h'])} % h), leaf {ref['leaf']:.1f} px "
            f"({pct(ref['leaf_h'])} % h); lag-1 autocorrelation {ref['lag1']:.2f} "
            f"(= {ref['rho_25fps']:.2f} per frame at {TARGET_FPS:g} fps).",
        ]
    lines += [
        "",
        "Virtual-camera noise model made from it (`CameraConfig.measured()`, the ranges each training window "
        "draws from): "
        f"noise {pct(model['noise'][0])}-{pct(model['noise'][1])} % of the height per coordinate, leaf gain "
        f"{model['leaf_noise_gain']:.2f}, jitter correlation {model['jitter_correlation'][0]:.2f}-"
        f"{model['jitter_correlation'][1]:.2f}, frames without a person up to "
        f"{pct(model['drop_frame_probability'][1], 1)} % (measured maximum + {100 * DROPOUT_MARGIN:g} points), "
        f"joints dropped up to {pct(model['drop_joint_probability'][1], 1)} %.",
    ]
    return "\n".join(lines) + "\n"
