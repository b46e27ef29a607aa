"""``posecast bench video``: the video models on virtually filmed CMU test motions and on real clips.

(Moved from ``posecast.video.bench``, with the model-card benchmarks of ``posemonet`` / ``hmmr``:
`model_benchmark`, `single_frame_benchmark`.) Data: the CMU BVH test subjects
(`posecast.datasets.cmu_bvh`) and the shared clips (`posecast.datasets.video`); windows:
`posecast.datasets.windows`.

Protocol
--------
**Projected CMU test subjects** (02, 08; BVH → body-17 at 25 fps): windows of 75 frames every
``stride`` frames (default 10), each filmed by a random virtual camera with simulated detector
noise (`posecast.video.cameras.film`, seed 0, the same cameras for every model). A model observes
the first 50 frames' 2D keypoints (2 s; plus the simulated world landmarks if it uses them) and
forecasts the next 25 (1 s). All 3D errors are pelvis-centred in the camera-aligned frame, real
millimetres, mean over the 17 joints:

* ``past_mpjpe_mm`` / ``past_pa_mpjpe_mm``: the estimated observed frames (all 50), without / with
  per-frame Procrustes alignment (similarity);
* ``forecast_mpjpe_mm[h]``: at-horizon error of the future frame ``h`` ms after the last observed
  one (80 ... 1000 ms = frames 2 ... 25);
* ``forecast_dtw_mpjpe_mm[h]`` and ``forecast_dtw_pa_mpjpe_mm[h]``: PHD's protocol — the 25-frame
  forecast and truth are aligned with dynamic time warping (`posecast.evaluation.metrics.dtw_mpjpe`;
  path on the pelvis-centred pose vectors) and the error of true frame ``h`` is the mean over the
  predicted frames matched to it, without / with Procrustes alignment (PHD's "reconstruction error").

Baselines: ``landmarks+zero-velocity`` (the simulated backend world landmarks as the past, the last
one held), ``<model>+zero-velocity`` (the best video model's estimated past, held: PHD's
"Constant") and ``lifting+dct-mlp`` (that estimated past fed to the body-17 ``dct-mlp`` 3D
forecaster, `posecast.models.get("dct-mlp")`).

**Real clips** (``$POSECAST_DATA/video``): the backend's track (`posecast.video.extract.extract_poses`)
of each clip; the model observes the first half of the clip's duration and forecasts the rest (at
most 1 s); the forecast is projected through the model's future cameras and scored against the 2D
keypoints the backend detected in those later frames (linearly interpolated to the forecast times;
joints with visibility ≥ 0.5 in detected frames): PCK at α = 0.05 of the longer side of the
detected keypoints' box (PHD's Penn Action score), mean over future frames and clips. The same for
the observed frames (re-projection of the estimated past), and for the 2D ``zero-velocity``
baseline (the last observed keypoints held) and ``landmarks+zero-velocity`` (the backend's world
landmarks fitted to the 2D by the optimal weak-perspective camera, last pose held, camera
extrapolated; `score_clip_landmarks`). ``pipeline_fps`` = clip frames / seconds from the
video file to the forecast (decode + pose backend + forecast of the whole clip, single process),
summed over the clips. The backend's own report (agreement with Google's reference on the squats
clip, detection rate, bone-length stability, fps) comes from
`posecast.evaluation.protocols.video_backend`.

**Model cards** (`model_benchmark`, `single_frame_benchmark`): the same projected test windows for one
model, observing 50 frames (the protocol above) and the last 25 of them (1 s, the training
setting), each forecasting 25 frames, with zero velocity from the model's own last estimated frame;
for HMMR also its single-frame protocol (the hallucinated poses at offsets ``-K ... +K`` frames from
frame 50 of each window alone).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from posecast.datasets.cmu_bvh import TEST_SUBJECTS
from posecast.datasets.video import CLIP_SUFFIXES  # noqa: F401  (the protocol's clip formats)
from posecast.datasets.windows import WindowSet
from posecast.video.models.base import VideoPrediction

FPS = 25.0
OBSERVE = 50
FUTURE = 25
HORIZONS_MS = (80, 160, 320, 400, 560, 1000)
PCK_ALPHA = 0.05
LAYOUT = "body-17"


def horizon_frames(fps: float = FPS) -> dict[str, int]:
    """``{"80": 2, ..., "1000": 25}``: the 1-based future frame of each horizon."""
    return {str(h): max(1, round(h / 1000 * fps)) for h in HORIZONS_MS}


def cmu_test_sequences(subjects: tuple[str, ...] = TEST_SUBJECTS, fps: float = FPS) -> list[np.ndarray]:
    """``(N_i, 17, 3)`` body-17 world metres of every BVH file of the CMU test ``subjects`` at ``fps``
    (`posecast.datasets.cmu_bvh.cmu_bvh_motions`, mapped by `posecast.motion.Motion.to_layout`)."""
    from posecast.datasets.cmu_bvh import cmu_bvh_motions

    motions, _, _ = cmu_bvh_motions(subjects, fps)
    return [m.to_layout(LAYOUT).positions for m in motions]


def test_windows(stride: int = 10, seed: int = 0, max_windows: int | None = None, sequences=None):
    """The filmed test windows (`VirtualBatch` of ``OBSERVE + FUTURE`` frames): every window of
    ``sequences`` (default `cmu_test_sequences`) a start every ``stride`` frames (at most ``max_windows``,
    evenly spread), filmed by cameras drawn from ``seed``."""
    from posecast import skeletons
    from posecast.video.cameras import film

    if sequences is None:
        sequences = cmu_test_sequences()
    windows = WindowSet.from_sequences(sequences, OBSERVE + FUTURE, skeletons.get(LAYOUT), FPS, stride, dtype=None)
    idx = np.arange(len(windows))
    if max_windows is not None:
        idx = idx[np.linspace(0, len(idx) - 1, min(max_windows, len(idx))).round().astype(int)]
    return film(windows.batch(idx), LAYOUT, FPS, np.random.default_rng(seed))


def score_windows(past: np.ndarray, future: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """The 3D scores (module docstring) of ``past (B, O, J, 3)`` and ``future (B, F, J, 3)`` against
    ``truth (B, O + F, J, 3)`` (metres in, millimetres out)."""
    from posecast.evaluation.metrics import dtw_mpjpe, mpjpe, pa_mpjpe

    o = past.shape[1]
    gt_past, gt_fut = truth[:, :o], truth[:, o:]
    hz = horizon_frames()
    at = mpjpe(future, gt_fut).mean(axis=0) * 1000
    dtw = dtw_mpjpe(future, gt_fut).mean(axis=0) * 1000
    dtw_pa = dtw_mpjpe(future, gt_fut, procrustes_align=True).mean(axis=0) * 1000
    return {
        "past_mpjpe_mm": float(mpjpe(past, gt_past).mean() * 1000),
        "past_pa_mpjpe_mm": float(pa_mpjpe(past, gt_past).mean() * 1000),
        "forecast_mpjpe_mm": {k: float(at[f - 1]) for k, f in hz.items() if f <= len(at)},
        "forecast_dtw_mpjpe_mm": {k: float(dtw[f - 1]) for k, f in hz.items() if f <= len(dtw)},
        "forecast_dtw_pa_mpjpe_mm": {k: float(dtw_pa[f - 1]) for k, f in hz.items() if f <= len(dtw_pa)},
        "forecast_mean_mpjpe_mm": float(at.mean()),
    }


def _predict(model: Any, batch: Any) -> VideoPrediction:
    world = batch.world[:, :OBSERVE] if getattr(model, "uses_world", False) else None
    return model.predict(batch.keypoints[:, :OBSERVE], batch.visibility[:, :OBSERVE], FUTURE, world=world)


def _zero_velocity(past: np.ndarray) -> np.ndarray:
    return np.repeat(past[:, -1:], FUTURE, axis=1)


def bench_cmu(models: dict[str, Any], batch: Any) -> dict[str, Any]:
    """Scores of each model and of the baselines on the filmed test windows ``batch``."""
    from posecast.errors import ModelError
    from posecast.models import get as get_3d

    truth = batch.points
    out: dict[str, Any] = {}
    pasts: dict[str, np.ndarray] = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        pred = _predict(model, batch)
        sec = time.perf_counter() - t0
        out[name] = score_windows(pred.past, pred.future, truth)
        out[name]["seconds_per_window"] = sec / len(batch)
        pasts[name] = pred.past
    out["landmarks+zero-velocity"] = score_windows(
        batch.world[:, :OBSERVE], _zero_velocity(batch.world[:, :OBSERVE]), truth
    )
    if pasts:
        best = min(pasts, key=lambda n: out[n]["past_mpjpe_mm"])
        past = pasts[best]
        out[f"{best}+zero-velocity"] = score_windows(past, _zero_velocity(past), truth)
        try:
            fc3d = get_3d("dct-mlp")
            fut = fc3d.predict(past, FUTURE, 1, fps=FPS)[:, 0]
            fut = fut - fut[:, :, :1]  # pelvis-centred, like everything here
            out["lifting+dct-mlp"] = score_windows(past, fut, truth)
            out["lifting+dct-mlp"]["lifting"] = best
        except (ModelError, ValueError) as exc:
            out["lifting+dct-mlp"] = {"skipped": str(exc)}
    return out


# ------------------------------------------------------------------------------------ real clips
def clips(data_root: Path | None = None) -> list[Path]:
    """The clips of ``$POSECAST_DATA/video`` (`posecast.datasets.video.clips`)."""
    from posecast.datasets.video import clips as shared_clips

    return shared_clips(data_root)


def _interp_track(track: Any, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints ``(F, J, 2)``, visibility ``(F, J)`` and detected ``(F,)`` of ``track`` at ``times``."""
    t = track.times
    i1 = np.clip(np.searchsorted(t, times, side="right"), 1, len(t) - 1)
    i0 = i1 - 1
    w = np.clip((times - t[i0]) / (t[i1] - t[i0]), 0.0, 1.0)
    kp = track.keypoints[i0] * (1 - w)[:, None, None] + track.keypoints[i1] * w[:, None, None]
    vis = np.minimum(track.visibility[i0], track.visibility[i1])
    det = track.detected[i0] & track.detected[i1]
    return kp, vis, det


def pck_2d(pred: np.ndarray, gt: np.ndarray, vis: np.ndarray, alpha: float = PCK_ALPHA) -> np.ndarray:
    """``(F,)`` PCK of ``pred (F, J, 2)`` against ``gt`` for joints with ``vis (F, J)`` ≥ 0.5, threshold
    ``alpha ×`` the longer side of the visible true keypoints' box (NaN for frames with none)."""
    from posecast.evaluation.metrics import pck

    mask = (vis >= 0.5) & np.isfinite(gt).all(-1) & np.isfinite(pred).all(-1)
    g, p = np.nan_to_num(gt), np.nan_to_num(pred)
    return np.asarray(pck(p, g, alpha, relative_to="bbox_max_side", visibility=mask.astype(np.float64)))


def score_clip(model: Any, track: Any, seconds: float = 1.0) -> dict[str, Any]:
    """Observe the first half of ``track`` (body-17), forecast the rest (≤ ``seconds``), score in 2D."""
    body = track.to_layout("body-17")
    half = body.duration / 2
    observed = body.until(half)
    remaining = body.times[-1] - observed.times[-1]
    h = min(seconds, remaining)
    res: dict[str, Any] = {"observed_s": round(observed.duration, 3), "forecast_s": round(h, 3)}
    if h < 1.0 / model.fps or observed.num_frames < 2:
        res["skipped"] = "clip too short"
        return res
    t0 = time.perf_counter()
    fc = model.forecast_track(observed, h)
    res["forecast_ms"] = (time.perf_counter() - t0) * 1000
    px = fc.pixels()
    t_obs = len(fc.past)
    fut_t = fc.times[t_obs:]
    keep = fut_t <= body.times[-1] + 1e-9
    gt, vis, det = _interp_track(body, fut_t[keep])
    vis = vis * det[:, None]
    res["future_pck"] = float(np.nanmean(pck_2d(px[t_obs:][keep], gt, vis)))
    last = body.keypoints[len(observed.times) - 1]
    res["zero_velocity_pck"] = float(np.nanmean(pck_2d(np.repeat(last[None], keep.sum(), 0), gt, vis)))
    gtp, visp, detp = _interp_track(body, fc.times[:t_obs])
    res["past_pck"] = float(np.nanmean(pck_2d(px[:t_obs], gtp, visp * detp[:, None])))
    res["future_frames"] = int(keep.sum())
    return res


def score_clip_landmarks(track: Any, seconds: float = 1.0, fps: float = FPS) -> dict[str, Any]:
    """The ``landmarks+zero-velocity`` baseline on a real clip (forecast ≤ ``seconds``): the backend's world
    landmarks of the observed half, resampled to ``fps``, fitted to the detected 2D by the optimal weak-perspective
    camera; the last pose held, the camera extrapolated (as the models do), scored like `score_clip`."""
    from posecast.video.models.base import resample_track
    from posecast.video.models.common import extrapolate_camera, fit_weak_perspective_np, project_pixels

    body = track.to_layout("body-17")
    if body.world is None:
        return {"skipped": "the track has no world landmarks"}
    observed = body.until(body.duration / 2)
    h = min(seconds, body.times[-1] - observed.times[-1])
    rs, times = resample_track(observed, fps)
    if h < 1.0 / fps or rs.num_frames < 2:
        return {"skipped": "clip too short"}
    world = rs.world - rs.world[:, :1]
    cam = fit_weak_perspective_np(world, rs.keypoints * np.array([1.0, -1.0]), rs.visibility)
    cam[:, 2] *= -1  # y-up fit -> pixel camera (v = -s Y + ty)
    f = max(1, round(h * fps))
    fut_t = times[-1] + np.arange(1, f + 1) / fps
    fut_px = project_pixels(np.repeat(world[-1:], f, 0), extrapolate_camera(cam, f))
    keep = fut_t <= body.times[-1] + 1e-9
    gt, vis, det = _interp_track(body, fut_t[keep])
    gtp, visp, detp = _interp_track(body, times)
    return {
        "future_pck": float(np.nanmean(pck_2d(fut_px[keep], gt, vis * det[:, None]))),
        "past_pck": float(np.nanmean(pck_2d(project_pixels(world, cam), gtp, visp * detp[:, None]))),
        "future_frames": int(keep.sum()),
    }


def bench_clips(models: dict[str, Any], paths: list[Path]) -> dict[str, Any]:
    """Per-clip and mean 2D scores of each model, and ``pipeline_fps`` (module docstring)."""
    from posecast.video.extract import extract_poses

    per_clip: dict[str, Any] = {}
    frames, extract_s = 0, 0.0
    forecast_s = dict.fromkeys(models, 0.0)
    for path in paths:
        t0 = time.perf_counter()
        try:
            track = extract_poses(path)
        except Exception as exc:  # noqa: BLE001 - a clip without a person is reported, not fatal
            per_clip[path.name] = {"error": str(exc)}
            continue
        extract_s += time.perf_counter() - t0
        frames += track.num_frames
        entry: dict[str, Any] = {"frames": track.num_frames, "detected": float(track.detected.mean())}
        for name, model in models.items():
            t1 = time.perf_counter()
            model.forecast_track(track, 1.0)  # the pipeline's forecast: the whole clip observed
            forecast_s[name] += time.perf_counter() - t1
            entry[name] = score_clip(model, track)
        entry["landmarks+zero-velocity"] = score_clip_landmarks(track)
        per_clip[path.name] = entry
    summary: dict[str, Any] = {}
    for name in [*models, "landmarks+zero-velocity"]:
        rows = [c[name] for c in per_clip.values() if name in c and "future_pck" in c[name]]
        summary[name] = {
            k: float(np.mean([r[k] for r in rows])) if rows and k in rows[0] else None
            for k in ("future_pck", "past_pck", "zero_velocity_pck")
        }
        summary[name]["clips"] = len(rows)
    fps = {n: frames / (extract_s + s) if frames else None for n, s in forecast_s.items()}
    return {
        "clips": per_clip,
        "mean": summary,
        "pipeline_fps_by_model": fps,
        "forecast_only_fps_by_model": {n: frames / s if s > 0 else None for n, s in forecast_s.items()},
        "extract_fps": frames / extract_s if frames else None,
        "frames": frames,
    }


# ------------------------------------------------------------------------------------------ run
def run_video_bench(
    models: list[str] | None = None,
    json_path: Path | None = None,
    *,
    stride: int = 10,
    max_windows: int | None = None,
    with_clips: bool = True,
    clip_names: list[str] | None = None,
    with_backend: bool = True,
    data_root: Path | None = None,
    weights: dict[str, Path] | None = None,
    sequences: list[np.ndarray] | None = None,
) -> dict[str, Any]:
    """Run the benchmark (module docstring) for ``models`` (default: every registered video model
    with shipped weights) and write ``json_path`` if given. Returns the results.

    Args:
        stride, max_windows: which test windows (every ``stride`` frames; at most ``max_windows``,
            evenly spread).
        with_clips, clip_names: score the real clips (all of ``$POSECAST_DATA/video``, or these names).
        with_backend: include `posecast.evaluation.protocols.video_backend.backend_report` (runs the backend on
            every clip again, about a minute).
        data_root: the data folder (default ``$POSECAST_DATA``).
        weights: ``{model: weight directory}`` instead of the shipped weights.
        sequences: body-17 test sequences at 25 fps instead of the CMU test subjects (tests).
    """
    from posecast.io.registry import atomic_output
    from posecast.models import available, get, store
    from posecast.training.loop import git_commit

    names = models if models is not None else [m.name for m in available("video") if store.variants(m.name)]
    loaded = {n: get(n, weights=(weights or {}).get(n)) for n in names}
    t0 = time.perf_counter()
    batch = test_windows(stride, 0, max_windows, sequences)
    result: dict[str, Any] = {
        "protocol": {
            "data": "CMU BVH test subjects 02, 08 -> body-17, 25 fps, virtual cameras (seed 0)",
            "windows": len(batch),
            "stride": stride,
            "observe_frames": OBSERVE,
            "forecast_frames": FUTURE,
            "horizons_ms": list(HORIZONS_MS),
            "units": "mm (real), pelvis-centred, camera-aligned, mean over 17 joints",
            "dtw": "posecast.evaluation.metrics.dtw_mpjpe over the 25 future frames, value at the true frame",
            "clips": "observe first half, forecast the rest (<= 1 s), PCK@0.05 x longer box side vs detected 2D",
        },
        "models": names,
        "code_version": git_commit(),
    }
    result["cmu"] = bench_cmu(loaded, batch)
    result["cmu_seconds"] = round(time.perf_counter() - t0, 1)
    paths = clips(data_root) if with_clips else []
    if clip_names is not None:
        paths = [p for p in paths if p.name in clip_names]
    if paths and loaded:
        result["video"] = bench_clips(loaded, paths)
        fps = result["video"]["pipeline_fps_by_model"]
        result["pipeline_fps"] = fps[names[0]] if names else None
        result["pipeline_fps_model"] = names[0] if names else None
        result["load_average_1min"] = os.getloadavg()[0]  # the machine is shared: speed is noisy
    result["backend"] = {"skipped": "not requested"}
    if paths and with_backend:
        try:
            from posecast.evaluation.protocols.video_backend import backend_report

            result["backend"] = backend_report(data_root or _data_root(), [p.name for p in paths])
        except ImportError as exc:
            result["backend"] = {"skipped": f"backend report not available ({exc})"}
    if json_path is not None:
        with atomic_output(Path(json_path)) as tmp:
            Path(tmp).write_text(json.dumps(result, indent=1))
    return result


def _data_root() -> Path | None:
    from posecast.datasets.paths import data_root

    return data_root()


def markdown(result: dict[str, Any]) -> str:
    """The benchmark's tables with their protocol (for ``benchmarks/results/video.md``)."""
    p = result["protocol"]
    hz = [str(h) for h in p["horizons_ms"]]
    lines = [
        "## Video models: 3D from 2D keypoints and forecasting (`posecast bench video`)",
        "",
        f"Protocol: {p['data']}; {p['windows']} windows (every {p['stride']} frames), observe {p['observe_frames']}"
        f" frames of detector-like 2D keypoints (2 s), forecast {p['forecast_frames']} (1 s). {p['units']}.",
        "",
        "| method | past MPJPE | past PA-MPJPE | " + " | ".join(f"{h} ms" for h in hz) + " |",
        "|---|---|---|" + "---|" * len(hz),
    ]
    for name, row in result["cmu"].items():
        if "past_mpjpe_mm" not in row:
            continue
        f = row["forecast_mpjpe_mm"]
        lines.append(
            f"| {name} | {row['past_mpjpe_mm']:.1f} | {row['past_pa_mpjpe_mm']:.1f} | "
            + " | ".join(f"{f[h]:.1f}" for h in hz)
            + " |"
        )
    lines += [
        "",
        "Baselines: `landmarks+zero-velocity` = simulated backend world landmarks (pelvis-centred truth plus a "
        "per-window error of 1-5 cm per joint and 1-3 cm correlated jitter, doubled in depth: a guess, not a "
        "measurement of MediaPipe) with the last pose held; `<model>+zero-velocity` = that video model's "
        "estimated past, last pose held (PHD's 'Constant'); `lifting+dct-mlp` = the same estimated past fed to "
        "the body-17 `dct-mlp` 3D forecaster (trained on the CMU BVH training subjects).",
        "",
        "Forecast with DTW alignment (PHD's protocol): MPJPE / PA-MPJPE (mm) of the true frame at each horizon.",
        "",
        "| method | " + " | ".join(f"{h} ms" for h in hz) + " |",
        "|---|" + "---|" * len(hz),
    ]
    for name, row in result["cmu"].items():
        if "past_mpjpe_mm" not in row:
            continue
        a, b = row["forecast_dtw_mpjpe_mm"], row["forecast_dtw_pa_mpjpe_mm"]
        lines.append(f"| {name} | " + " | ".join(f"{a[h]:.1f} / {b[h]:.1f}" for h in hz) + " |")
    if "video" in result:
        v = result["video"]
        lines += [
            "",
            f"Real clips ({len(v['clips'])}): {p['clips']}; PCK in %.",
            "",
            "| model | future PCK | 2D zero-velocity PCK | past (re-projection) PCK | clips |",
            "|---|---|---|---|---|",
        ]
        for name, row in v["mean"].items():
            if row["future_pck"] is None:
                continue
            zv = row["zero_velocity_pck"]
            lines.append(
                f"| {name} | {100 * row['future_pck']:.1f} | {'-' if zv is None else f'{100 * zv:.1f}'} | "
                f"{100 * row['past_pck']:.1f} | {row['clips']} |"
            )
        lines += [
            "",
            f"Pipeline speed, video file → forecast (decode + pose backend + forecast, one process): "
            f"**{result['pipeline_fps']:.1f} frames/s** ({result['pipeline_fps_model']}); backend alone "
            f"{v['extract_fps']:.1f} frames/s, the forecast alone "
            f"{v['forecast_only_fps_by_model'][result['pipeline_fps_model']]:.0f} frames/s; {v['frames']} frames; "
            "1-minute load average "
            f"{result.get('load_average_1min', float('nan')):.1f} on {os.cpu_count()} cores.",
        ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------- model cards
def model_benchmark(model: Any, stride: int = 10, seed: int = 0) -> dict[str, Any]:
    """Model-card numbers on the projected CMU test subjects with the protocol of
    `run_video_bench` (75-frame windows every ``stride`` frames of subjects 02 and 08 at 25 fps,
    filmed by seeded random virtual cameras with detector noise; 3D pelvis-centred, camera-aligned,
    mm, mean over the 17 joints): observing 50 frames (the bench protocol) and observing the last 25
    of them (1 s, the training setting), each forecasting 25 frames, and zero velocity from the
    model's own last estimated frame."""
    batch = test_windows(stride=stride, seed=seed)
    truth = batch.points
    out: dict[str, Any] = {
        "protocol": {
            "data": "CMU BVH test subjects 02 and 08, body-17, 25 fps, filmed by virtual cameras "
            f"(posecast.video.cameras.film, default noise, seed {seed})",
            "windows": int(len(batch)),
            "window_stride_frames": stride,
            "units": "mm, pelvis-centred, camera-aligned, mean over 17 joints; forecast errors at horizon",
        }
    }
    for observe in (OBSERVE, 25):
        lo = OBSERVE - observe
        t0 = time.perf_counter()
        pred = model.predict(batch.keypoints[:, lo:OBSERVE], batch.visibility[:, lo:OBSERVE], FUTURE)
        sec = time.perf_counter() - t0
        gt = truth[:, lo:]
        res = score_windows(pred.past, pred.future, gt)
        res["seconds_per_window"] = sec / len(batch)
        out[f"observe_{observe}"] = {
            model.name: res,
            f"{model.name}+zero-velocity": score_windows(pred.past, np.repeat(pred.past[:, -1:], FUTURE, axis=1), gt),
        }
    return out


def single_frame_benchmark(model: Any, stride: int = 10, seed: int = 0) -> dict[str, Any]:
    """Model-card numbers of HMMR on the projected CMU test subjects (`model_benchmark` for video input)
    plus the **single-frame** protocol: from the keypoints of frame 50 of each test
    window alone, MPJPE (mm) of the hallucinated / predicted pose at every offset ``-K … +K`` frames
    against the truth at that frame, PA-MPJPE of the current pose, and the *static* baseline (the
    current estimate held at every offset)."""
    from posecast.evaluation.metrics import mpjpe, pa_mpjpe

    out = model_benchmark(model, stride=stride, seed=seed)
    batch = test_windows(stride=stride, seed=seed)
    t = OBSERVE - 1
    k, kf = model.past_frames, model.future_frames
    pred = model.single(batch.keypoints[:, t : t + 1], batch.visibility[:, t : t + 1], kf)
    seq = np.concatenate([pred.past, pred.future], axis=1)  # frames t - K ... t + K
    truth = batch.points[:, t - k : t + kf + 1]
    static = np.repeat(pred.past[:, -1:], k + kf + 1, axis=1)
    offsets = range(-k, kf + 1)
    ms = [f"{round(1000 * o / model.fps):+d}" for o in offsets]
    err = mpjpe(seq, truth).mean(0) * 1000
    err_static = mpjpe(static, truth).mean(0) * 1000
    out["single_frame"] = {
        "protocol": "frame 50 of each test window alone; offsets in ms from it (25 fps); mm, pelvis-centred, "
        "camera-aligned, mean over 17 joints",
        "current_mpjpe_mm": float(err[k]),
        "current_pa_mpjpe_mm": float(pa_mpjpe(pred.past[:, -1], batch.points[:, t]).mean() * 1000),
        "mpjpe_mm": dict(zip(ms, map(float, err), strict=True)),
        "static_mpjpe_mm": dict(zip(ms, map(float, err_static), strict=True)),
    }
    return out
