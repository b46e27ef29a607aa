"""``posecast bench video``: the video models on virtually filmed CMU test motions and on real clips.

(Moved from ``posecast.video.bench``, with the model-card benchmarks of ``posemonet`` / ``hmmr``:
`model_benchmark`, `single_frame_benchmark`.) Data: the CMU BVH test subjects
(`posecast.datasets.cmu_bvh`) and the shared clips (`posecast.datasets.video`); windows:
`posecast.datasets.windows`.

Protocol
--------
**Projected CMU test subjects** (02, 08; BVH → the canonical body → body-17 at 25 fps, as every corpus test
split and the corpus the models were trained on: `corpus_body17`): windows of 75 frames every
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
one held), ``<model>+zero-velocity`` (each video model's own estimated past, held: PHD's
"Constant"; a model whose past equals an earlier model's, such as ``lift+forecast``'s, gets no row of its
own). The corpus 3D forecaster fed with lifted poses is a model of its own, ``lift+forecast``
(`posecast.video.models.lift_forecast`), scored like the video models when named.

The same windows **in 2D** (``cmu_2d``): each model's projected forecast, raw and ``+anchored``
(`posecast.video.models.base.VideoForecast.future_pixels`: started at the last observed keypoints), and
the 2D baselines below from the noisy observed keypoints, scored against the noise-free projections of the
true future (every joint): PCK at α = 0.05 / 0.1 of the longer side of the true keypoints' box, mean over
windows.

**Real clips** (``posecast bench video --clips DIR``; default ``$POSECAST_DATA/video``): every file of
the folder with a video suffix is a clip; its track comes from the pose backend
(`posecast.video.extract.extract_poses`, mapped to body-17). `CLIPS_PROTOCOL` says the rest (printed with
every table): clips of at least 1 s, real timestamps, observe the first half, forecast up to 1 s, scored
at the later detected frames. Rows: each model's raw projection, its ``+anchored`` version, the 2D
``zero-velocity-2d`` and ``constant-velocity-2d`` baselines, and ``landmarks+zero-velocity`` (the
backend's world landmarks fitted to the 2D by the optimal weak-perspective camera, last pose held, camera
extrapolated; `score_landmarks`). A clip that cannot be read or shows no person is reported with its
reason, never fatal. ``pipeline_fps`` = clip frames / seconds from the video file to the forecast (decode
+ pose backend + forecast of the whole clip, single process), summed over the clips that were scored. The backend's own
report (agreement with Google's reference on the squats clip, detection rate, bone-length stability, fps;
shared clips only) comes from `posecast.evaluation.protocols.video_backend`.

**Anchoring constants** (`anchor_validation`): chosen on projected *validation* windows only
(`validation_windows`); the CMU test subjects and the real clips are test data.

**Model cards** (`model_benchmark`, `single_frame_benchmark`): the same projected test windows for one
model, observing 50 frames (the protocol above) and the last 25 of them (1 s, the training
setting), each forecasting 25 frames, with zero velocity from the model's own last estimated frame;
for HMMR also its single-frame protocol (the hallucinated poses at offsets ``-K ... +K`` frames from
frame 50 of each window alone).

JSON layout (``--json``)
------------------------
::

    protocol       {key: text or value}: the protocols above, as printed with the tables
    models         [model names]
    cmu            {method: {past_mpjpe_mm, past_pa_mpjpe_mm, forecast_mpjpe_mm: {"80": mm, ...},
                    forecast_dtw_mpjpe_mm, forecast_dtw_pa_mpjpe_mm, forecast_mean_mpjpe_mm, ...}}
                   or {"skipped": reason}
    cmu_2d         {method: {future_pck, future_pck_10}}   (methods: model, model+anchored, zero-velocity-2d,
                    constant-velocity-2d)
    ignored_files  [every other entry of --clips DIR: files without a video suffix, subfolders (not searched)]
    clips_skipped  why no clip was scored (the folder holds none), when so
    video.clips    {clip file name: {frames, seconds, detected (fraction), observed_s, forecast_s, scored_frames,
                    scored_joints, <method>: ROW, ...}} or {clip: {"error": reason}} / {"skipped": reason}
        ROW        {future_pck (PCK@0.05), future_pck_10 (PCK@0.1), future_pck_ci, future_pck_10_ci ([lo, hi]:
                    bootstrap over the clip's scored frames), zero_velocity_pck, zero_velocity_pck_10,
                    constant_velocity_pck, constant_velocity_pck_10 (the 2D baselines on the same frames),
                    past_pck and forecast_ms (models)}; every PCK a fraction in [0, 1]
    video.mean     {method: {future_pck, future_pck_10, zero_velocity_pck, constant_velocity_pck, past_pck, clips,
                    future_pck_ci, future_pck_10_ci (bootstrap over clips), margin_over_best_baseline (mean
                    future_pck minus the better of the baselines' means), margin_ci (paired, over clips)}}
    video.goal     {best_model, best_future_pck, best_baseline, best_baseline_pck, margin, margin_ci,
                    required_margin, met}
    video.pipeline_fps_by_model, video.forecast_only_fps_by_model, video.extract_fps, video.frames,
    pipeline_fps, pipeline_fps_model, load_average_1min, backend (report or {"skipped": reason})
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from posecast.datasets.cmu_bvh import TEST_SUBJECTS
from posecast.datasets.video import CLIP_SUFFIXES
from posecast.datasets.windows import WindowSet
from posecast.video.models.base import VideoPrediction

FPS = 25.0
OBSERVE = 50
FUTURE = 25
HORIZONS_MS = (80, 160, 320, 400, 560, 1000)
PCK_ALPHA = 0.05
LAYOUT = "body-17"
CLIPS_PROTOCOL = (
    "Every clip of at least 1 s (last minus first timestamp plus one frame interval), pose backend track on "
    "body-17, real timestamps; observe the frames up to half the clip's length, forecast up to 1 s beyond the "
    "last observed frame; scored at the real timestamps of the later frames where a person was detected, joints "
    "with visibility >= 0.5 (forecasts linearly interpolated from their 25 fps clock, starting at the last "
    "observed frame): PCK at alpha = 0.05 and 0.1 of the longer side of the detected keypoints' box, mean over "
    "the scored frames, then over clips. Rows: each model's projected forecast (raw), `+anchored` (started at "
    "the last observed keypoints, adding the predicted motion), `zero-velocity-2d` (last detected keypoints "
    "held), `constant-velocity-2d` (each keypoint's velocity: the slope of a least-squares line through "
    "its positions at the detected frames of the last 0.1 s, at least the last two, real timestamps), "
    "`landmarks+zero-velocity`. Intervals (95 %, percentile bootstrap, 2000 draws, seed 0): per "
    "clip over its scored frames (the joints of a frame share the pose, the camera and the threshold, so the "
    "frame is the unit; frames are correlated in time, so the interval understates the uncertainty); for the "
    "means over clips (the margin paired: the same resampled clips for the model and the baselines)."
)


def horizon_frames(fps: float = FPS) -> dict[str, int]:
    """``{"80": 2, ..., "1000": 25}``: the 1-based future frame of each horizon."""
    return {str(h): max(1, round(h / 1000 * fps)) for h in HORIZONS_MS}


def corpus_body17(positions: np.ndarray, skeleton: Any) -> np.ndarray:
    """``(T, 17, 3)``: positions ``(T, J, 3)`` of a mocap rig ``skeleton`` on body-17 as the corpus has them (the
    rig's automatic mapping onto the canonical body, then `posecast.skeletons.mapping.SMPL_TO_BODY17`): the
    convention the video models were trained in (`posecast.skeletons.mapping.BODY17_TO_CORPUS_CONVENTION`)."""
    from posecast.skeletons.canonical import retarget
    from posecast.skeletons.mapping import map_positions

    return map_positions(retarget(skeleton).to_canonical(positions), LAYOUT, "smplh-22")[0]


def cmu_test_sequences(subjects: tuple[str, ...] = TEST_SUBJECTS, fps: float = FPS) -> list[np.ndarray]:
    """``(N_i, 17, 3)`` body-17 world metres of every BVH file of the CMU test ``subjects`` at ``fps``
    (`posecast.datasets.cmu_bvh.cmu_bvh_motions`), through the canonical body as the corpus's other test splits
    (`corpus_body17`). Until 2026-12-06 these went through the direct CMU table (`Motion.to_layout`: the neck
    about 12 cm higher, the head 5 cm), which the corpus-trained models never saw: the CMU rows measured that
    difference as error (lifter past 55.5 mm, 44.0 through the canonical body; docs/benchmarks.md)."""
    from posecast.datasets.cmu_bvh import cmu_bvh_motions

    motions, _, _ = cmu_bvh_motions(subjects, fps)
    return [corpus_body17(m.positions, m.skeleton) for m in motions]


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


def bench_cmu(models: dict[str, Any], batch: Any, predictions: dict[str, Any] | None = None) -> dict[str, Any]:
    """Scores of each model and of the baselines on the filmed test windows ``batch`` (each model's
    `VideoPrediction` is also put in ``predictions`` when given)."""

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
        if predictions is not None:
            predictions[name] = pred
    out["landmarks+zero-velocity"] = score_windows(
        batch.world[:, :OBSERVE], _zero_velocity(batch.world[:, :OBSERVE]), truth
    )
    held: list[np.ndarray] = []
    for name, past in pasts.items():  # each model's own past held; a past another model already has is not
        if not any(p.shape == past.shape and np.array_equal(p, past) for p in held):  # repeated (lift+forecast)
            out[f"{name}+zero-velocity"] = score_windows(past, _zero_velocity(past), truth)
            held.append(past)
    return out


# ------------------------------------------------------------------------------------ real clips
#: the 2D baselines of the real-clip protocol (rows of its tables; their scores are also copied into every
#: model's row as ``zero_velocity_pck`` / ``constant_velocity_pck``)
ZERO_VELOCITY_2D = "zero-velocity-2d"
CONSTANT_VELOCITY_2D = "constant-velocity-2d"
#: suffix of a model's anchored row (`posecast.video.models.base.VideoForecast.future_pixels`)
ANCHORED = "+anchored"
#: clips shorter than this (seconds) are reported, not scored
MIN_CLIP_SECONDS = 1.0
#: the PCK keys of a row and their α (× the longer side of the detected keypoints' box)
PCK_KEYS = {"future_pck": 0.05, "future_pck_10": 0.1}
#: the visibility a detected keypoint needs to be scored
MIN_VISIBILITY = 0.5
#: bootstrap draws and seed of the 95 % intervals
BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 0
#: the goal of issue 15: the best model's mean future PCK@0.05 this far above the better 2D baseline
GOAL_MARGIN = 0.10


def clips(data_root: Path | None = None) -> list[Path]:
    """The clips of ``$POSECAST_DATA/video`` (`posecast.datasets.video.clips`)."""
    from posecast.datasets.video import clips as shared_clips

    return shared_clips(data_root)


def folder_clips(folder: Path) -> tuple[list[Path], list[str]]:
    """The files of ``folder`` (not its subfolders) with a video suffix (`CLIP_SUFFIXES`), sorted, and every other
    entry, ignored, with why where the name does not say it: other files (provenance notes, reference outputs,
    images, hidden files such as macOS's ``._name`` resource forks), a second link to a clip already listed, and
    subfolders (``"name/ (a folder: not searched)"``, whatever their name). A `DataNotFoundError` when ``folder`` is
    not a folder."""
    from posecast.errors import DataNotFoundError

    folder = Path(folder)
    if folder.is_file():
        raise DataNotFoundError("is a file: --clips takes a folder of clips (put the clip in one)", folder)
    if not folder.is_dir():
        raise DataNotFoundError("no such folder of clips", folder)
    clips_found: list[Path] = []
    ignored: list[str] = []
    seen: dict[Path, str] = {}
    for p in sorted(folder.iterdir()):
        real = p.resolve()
        if not p.is_file():
            ignored.append(f"{p.name}/ (a folder: not searched)" if p.is_dir() else f"{p.name} (not a file)")
        elif p.name.startswith(".") or p.suffix.lower() not in CLIP_SUFFIXES:
            ignored.append(p.name)
        elif real in seen:  # a symbolic link to a clip already listed: scored once
            ignored.append(f"{p.name} (the same file as {seen[real]})")
        else:
            seen[real] = p.name
            clips_found.append(p)
    return clips_found, ignored


def scored_clips(result: dict[str, Any]) -> list[str]:
    """The names of the clips `run_video_bench`'s ``result`` scored (neither an error nor skipped)."""
    per_clip = (result.get("video") or {}).get("clips", {})
    return [name for name, row in per_clip.items() if _scored(row)]


def _scored(row: dict[str, Any]) -> bool:
    """Whether a per-clip row of `bench_clips` holds scores (not an ``error`` or ``skipped`` entry)."""
    return not {"error", "skipped"} & set(row)


def _interp_track(track: Any, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints ``(F, J, 2)``, visibility ``(F, J)`` and detected ``(F,)`` of ``track`` at ``times``."""
    t = track.times
    if len(t) == 1:
        n = len(times)
        return np.repeat(track.keypoints, n, 0), np.repeat(track.visibility, n, 0), np.repeat(track.detected, n)
    i1 = np.clip(np.searchsorted(t, times, side="right"), 1, len(t) - 1)
    i0 = i1 - 1
    w = np.clip((times - t[i0]) / (t[i1] - t[i0]), 0.0, 1.0)
    kp = track.keypoints[i0] * (1 - w)[:, None, None] + track.keypoints[i1] * w[:, None, None]
    vis = np.minimum(track.visibility[i0], track.visibility[i1])
    det = track.detected[i0] & track.detected[i1]
    return kp, vis, det


def interp_pixels(src_times: np.ndarray, pixels: np.ndarray, times: np.ndarray) -> np.ndarray:
    """``pixels (N, J, 2)`` at increasing ``src_times (N,)``, linearly interpolated at ``times (F,)`` (held
    before the first and after the last)."""
    n, j, d = pixels.shape
    flat = pixels.reshape(n, j * d)
    out = np.stack([np.interp(times, src_times, flat[:, k]) for k in range(j * d)], axis=-1)
    return out.reshape(len(times), j, d)


def pck_2d(pred: np.ndarray, gt: np.ndarray, vis: np.ndarray, alpha: float = PCK_ALPHA) -> np.ndarray:
    """``(F,)`` PCK of ``pred (F, J, 2)`` against ``gt`` for joints with ``vis (F, J)`` ≥ 0.5, threshold
    ``alpha ×`` the longer side of the visible true keypoints' box (NaN for frames with none). A joint the
    prediction lacks (NaN) counts as wrong; which joints are scored, and the box, depend on the truth alone
    (a prediction that left out its unsure joints had been scored on the others only, with a smaller box)."""
    from posecast.evaluation.metrics import pck

    mask = (vis >= MIN_VISIBILITY) & np.isfinite(gt).all(-1)
    g = np.nan_to_num(gt)
    # a missing predicted joint: placed beyond any threshold (twice the frame's whole extent away)
    far = g + 2.0 * (np.abs(g).max(axis=(-2, -1), keepdims=True) + 1.0)
    p = np.where(np.isfinite(pred), pred, far)
    return np.asarray(pck(p, g, alpha, relative_to="bbox_max_side", visibility=mask.astype(np.float64)))


def clip_seconds(track: Any) -> float:
    """The length of a clip from its track: last minus first timestamp plus one (median) frame interval."""
    t = np.asarray(track.times, dtype=np.float64)
    return float(t[-1] - t[0] + (np.median(np.diff(t)) if len(t) > 1 else 0.0))


def zero_velocity_2d(observed: Any, times: np.ndarray) -> np.ndarray:
    """``(F, J, 2)``: the keypoints of the last **detected** frame of ``observed`` (a `PoseTrack`) held at
    every time of ``times (F,)``; a joint missing (NaN) there is held where it was last seen (NaN, so scored
    wrong, if never)."""
    det = np.flatnonzero(observed.detected)
    frames = observed.keypoints[det] if len(det) else observed.keypoints[-1:]
    last = frames[-1].copy()
    for j in np.flatnonzero(~np.isfinite(last).all(-1)):
        seen = np.flatnonzero(np.isfinite(frames[:, j]).all(-1))
        if len(seen):
            last[j] = frames[seen[-1], j]
    return np.repeat(last[None], len(times), axis=0)


#: seconds: `constant_velocity_2d` takes each keypoint's velocity from a line fitted over the detected frames of
#: this last stretch of the observation (at least the last two detected frames)
VELOCITY_SPAN_S = 0.1


def constant_velocity_2d(observed: Any, times: np.ndarray, span: float = VELOCITY_SPAN_S) -> np.ndarray:
    """``(F, J, 2)``: each keypoint moved on from the last **detected** frame of ``observed`` with a constant
    velocity: the slope of a least-squares line through its positions at the detected frames of the last ``span``
    seconds (`VELOCITY_SPAN_S`; at least the last two detected frames) on their real timestamps,
    ``x(t) = x_b + v (t - t_b)``. Over a fixed time span rather than between the last two frames, so that the
    detector's jitter between two frames 4 ms apart (240 fps) or a microsecond apart (duplicated stamps) is not
    read as speed. A joint seen (finite) in fewer than two of those frames, or a track with a single detected
    frame, is held (`zero_velocity_2d`)."""
    det = np.flatnonzero(observed.detected)
    held = zero_velocity_2d(observed, times)
    if len(det) < 2:
        return held
    t_det = np.asarray(observed.times, dtype=np.float64)[det]
    b = det[-1]
    use = det[t_det >= t_det[-1] - span - 1e-9]
    if len(use) < 2:
        use = det[-2:]
    t = np.asarray(observed.times, dtype=np.float64)[use]  # (n,)
    x = observed.keypoints[use]  # (n, J, 2)
    ok = np.isfinite(x).all(-1)  # (n, J)
    w = ok.astype(np.float64)
    count = w.sum(0)  # (J,)
    safe = np.where(count > 0, count, 1.0)
    t_mean = (w * t[:, None]).sum(0) / safe  # (J,)
    dt = np.where(ok, t[:, None] - t_mean, 0.0)  # (n, J)
    xz = np.where(ok[..., None], x, 0.0)
    x_mean = xz.sum(0) / safe[:, None]  # (J, 2)
    den = (dt**2).sum(0)  # (J,)
    num = (dt[..., None] * (xz - x_mean)).sum(0)  # (J, 2)
    vel = np.where(((count >= 2) & (den > 0))[:, None], num / np.where(den > 0, den, 1.0)[:, None], np.nan)
    moved = observed.keypoints[b] + (np.asarray(times)[:, None, None] - observed.times[b]) * vel
    return np.where(np.isfinite(moved), moved, held)


def bootstrap_interval(
    values: np.ndarray, draws: int = BOOTSTRAP_DRAWS, seed: int = BOOTSTRAP_SEED
) -> list[float] | None:
    """The 95 % percentile interval ``[lo, hi]`` of the mean of ``values (N,)`` (NaN dropped) over
    ``draws`` resamples with replacement (seeded); None without values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return None
    idx = np.random.default_rng(seed).integers(0, len(v), size=(draws, len(v)))
    means = v[idx].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def _pck_row(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    """Scores of ``pred (F, J, 2)`` against ``gt`` on the joints of ``mask (F, J)``: for each of `PCK_KEYS`
    the mean over frames of the per-frame PCK and its bootstrap interval over the frames (``<key>_ci``)."""
    row: dict[str, Any] = {}
    for key, alpha in PCK_KEYS.items():
        per_frame = pck_2d(pred, gt, mask.astype(np.float64), alpha)
        row[key] = float(np.nanmean(per_frame))
        row[f"{key}_ci"] = bootstrap_interval(per_frame)
    return row


def score_track(models: dict[str, Any], track: Any, seconds: float = 1.0) -> dict[str, Any]:
    """The real-clip protocol (module docstring) on one clip's pose track (any layout that maps to
    ``body-17``): every model (raw and ``+anchored``), the 2D baselines and ``landmarks+zero-velocity``;
    ``{"skipped": reason}`` when the clip cannot be scored."""
    body = track.to_layout(LAYOUT)
    length = clip_seconds(body)
    res: dict[str, Any] = {"frames": int(body.num_frames), "seconds": round(length, 3)}
    res["detected"] = float(body.detected.mean())
    if body.num_frames == 1:
        return {**res, "skipped": "a single frame (an image, not a video)"}
    if length < MIN_CLIP_SECONDS - 1e-9:
        return {**res, "skipped": f"shorter than {MIN_CLIP_SECONDS:g} s ({length:.2f} s)"}
    observed = body.until(length / 2)
    t_obs = float(observed.times[-1])
    h = min(seconds, float(body.times[-1]) - t_obs)
    res.update(observed_s=round(t_obs - float(body.times[0]), 3), forecast_s=round(h, 3))
    if not observed.detected.any():
        return {**res, "skipped": "no person detected in the observed half"}
    future = (body.times > t_obs + 1e-9) & (body.times <= t_obs + h + 1e-9)
    times = body.times[future]
    gt = body.keypoints[future]
    mask = (body.visibility[future] >= MIN_VISIBILITY) & body.detected[future, None] & np.isfinite(gt).all(-1)
    keep = mask.any(axis=1)
    times, gt, mask = times[keep], gt[keep], mask[keep]
    if len(times) == 0:
        return {**res, "skipped": "no detected keypoint to score in the forecast part"}
    res.update(scored_frames=int(len(times)), scored_joints=int(mask.sum()))
    rows: dict[str, dict[str, Any]] = {}
    base: dict[str, Any] = {}
    for name, fn in ((ZERO_VELOCITY_2D, zero_velocity_2d), (CONSTANT_VELOCITY_2D, constant_velocity_2d)):
        rows[name] = _pck_row(fn(observed, times), gt, mask)
    for key in PCK_KEYS:
        suffix = key.removeprefix("future_pck")
        base[f"zero_velocity_pck{suffix}"] = rows[ZERO_VELOCITY_2D][key]
        base[f"constant_velocity_pck{suffix}"] = rows[CONSTANT_VELOCITY_2D][key]
    for name, model in models.items():
        t0 = time.perf_counter()
        fc = model.forecast_track(observed, h + 1.0 / model.fps)  # one frame more: the clocks differ by < 1 frame
        ms = (time.perf_counter() - t0) * 1000
        t = len(fc.past)
        for anchored in (False, True):
            px = np.concatenate([fc.start_pixels(anchored)[None], fc.future_pixels(anchored)])
            row = _pck_row(interp_pixels(fc.times[t - 1 :], px, times), gt, mask)
            rows[name + (ANCHORED if anchored else "")] = {**row, "forecast_ms": ms}
        gtp, visp, detp = _interp_track(observed, fc.times[:t])
        rows[name]["past_pck"] = float(np.nanmean(pck_2d(fc.pixels()[:t], gtp, visp * detp[:, None])))
        rows[name + ANCHORED]["past_pck"] = rows[name]["past_pck"]
    rows["landmarks+zero-velocity"] = score_landmarks(observed, times, gt, mask)
    for row in rows.values():
        if "future_pck" in row:
            row.update(base)
    return {**res, **rows}


def score_landmarks(observed: Any, times: np.ndarray, gt: np.ndarray, mask: np.ndarray, fps: float = FPS) -> dict:
    """The ``landmarks+zero-velocity`` baseline: the backend's world landmarks of the ``observed`` track,
    resampled to ``fps``, fitted to the detected 2D by the optimal weak-perspective camera; the last pose
    held, the camera extrapolated (as the models do), scored at ``times`` against ``gt`` where ``mask``."""
    from posecast.video.models.base import resample_track
    from posecast.video.models.common import extrapolate_camera, fit_weak_perspective_np, project_pixels

    if observed.world is None:
        return {"skipped": "the track has no world landmarks"}
    rs, rs_times = resample_track(observed, fps, align="end")
    world = rs.world - rs.world[:, :1]
    cam = fit_weak_perspective_np(world, rs.keypoints * np.array([1.0, -1.0]), rs.visibility)
    cam[:, 2] *= -1  # y-up fit -> pixel camera (v = -s Y + ty)
    f = max(1, int(np.ceil((times[-1] - rs_times[-1]) * fps - 1e-9)))
    fut_t = rs_times[-1] + np.arange(0, f + 1) / fps
    px = project_pixels(np.repeat(world[-1:], f + 1, 0), np.concatenate([cam[-1:], extrapolate_camera(cam, f)]))
    row = _pck_row(interp_pixels(fut_t, px, times), gt, mask)
    gtp, visp, detp = _interp_track(observed, rs_times)
    row["past_pck"] = float(np.nanmean(pck_2d(project_pixels(world, cam), gtp, visp * detp[:, None])))
    return row


def _clip_means(per_clip: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Mean over the scored clips of every row ``names``, with bootstrap-over-clips intervals, and the margin
    of each row over the better 2D baseline (paired: the same clips resampled)."""
    scored = [c for c in per_clip.values() if ZERO_VELOCITY_2D in c]
    out: dict[str, Any] = {}
    if not scored:
        return out
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    idx = rng.integers(0, len(scored), size=(BOOTSTRAP_DRAWS, len(scored)))

    def col(name: str, key: str) -> np.ndarray:
        return np.array([c[name].get(key, np.nan) if name in c else np.nan for c in scored], dtype=np.float64)

    zv, cv = col(ZERO_VELOCITY_2D, "future_pck"), col(CONSTANT_VELOCITY_2D, "future_pck")
    best_draws = np.maximum(zv[idx].mean(1), cv[idx].mean(1))
    for name in names:
        vals = {k: col(name, k) for k in (*PCK_KEYS, "past_pck", "zero_velocity_pck", "constant_velocity_pck")}
        if not np.isfinite(vals["future_pck"]).any():
            continue
        ok = np.isfinite(vals["future_pck"])
        row: dict[str, Any] = {k: (float(np.nanmean(v)) if np.isfinite(v).any() else None) for k, v in vals.items()}
        row["clips"] = int(ok.sum())
        for key in PCK_KEYS:
            row[f"{key}_ci"] = bootstrap_interval(vals[key][ok]) if ok.all() else None
        if ok.all():
            f = vals["future_pck"]
            row["margin_over_best_baseline"] = float(f.mean() - max(zv.mean(), cv.mean()))
            m = f[idx].mean(1) - best_draws
            row["margin_ci"] = [float(np.percentile(m, 2.5)), float(np.percentile(m, 97.5))]
        out[name] = row
    return out


def bench_clips(models: dict[str, Any], paths: list[Path], seconds: float = 1.0) -> dict[str, Any]:
    """Per-clip and mean 2D scores of each model (raw and anchored) and of the baselines, the goal check and
    ``pipeline_fps`` (module docstring). A clip that cannot be read or shows no person is reported with the
    reason (``{"error": ...}``), one too short or without anything to score with ``{"skipped": ...}``."""
    from posecast.errors import PosecastError
    from posecast.video.extract import extract_poses

    per_clip: dict[str, Any] = {}
    frames, extract_s = 0, 0.0
    forecast_s = dict.fromkeys(models, 0.0)
    for path in paths:
        t0 = time.perf_counter()
        try:
            track = extract_poses(path)
        except PosecastError as exc:  # cannot be read, no person: reported, not fatal
            per_clip[path.name] = {"error": str(exc)}
            continue
        except Exception as exc:  # noqa: BLE001 - a decoder failing on a broken file is reported too
            per_clip[path.name] = {"error": f"{path}: cannot read the clip ({type(exc).__name__}: {exc})"}
            continue
        took = time.perf_counter() - t0
        clip_s = dict.fromkeys(models, 0.0)
        try:
            for name, model in models.items():
                t1 = time.perf_counter()
                model.forecast_track(track, seconds)  # the pipeline's forecast: the whole clip observed
                clip_s[name] = time.perf_counter() - t1
            per_clip[path.name] = score_track(models, track, seconds)
        except PosecastError as exc:  # a track a model cannot take: reported, the other clips go on
            per_clip[path.name] = {"error": str(exc)}
        if _scored(per_clip[path.name]):  # speed over the clips that were scored
            extract_s += took
            frames += track.num_frames
            for name in models:
                forecast_s[name] += clip_s[name]
    names = [*models, *(m + ANCHORED for m in models), ZERO_VELOCITY_2D, CONSTANT_VELOCITY_2D]
    names.append("landmarks+zero-velocity")
    mean = _clip_means(per_clip, names)
    fps = {n: frames / (extract_s + s) if frames else None for n, s in forecast_s.items()}  # scored clips only
    return {
        "clips": per_clip,
        "mean": mean,
        "goal": _goal(mean, [*models, *(m + ANCHORED for m in models)]),
        "pipeline_fps_by_model": fps,
        "forecast_only_fps_by_model": {n: frames / s if s > 0 else None for n, s in forecast_s.items()},
        "extract_fps": frames / extract_s if frames and extract_s > 0 else None,
        "frames": frames,
    }


def _goal(mean: dict[str, Any], candidates: list[str]) -> dict[str, Any]:
    """Issue 15's real-clip goal: the best model row's mean future PCK@0.05 at least `GOAL_MARGIN` above the
    better of the 2D baselines."""
    rows = {n: mean[n] for n in candidates if n in mean and mean[n].get("margin_over_best_baseline") is not None}
    if not rows or ZERO_VELOCITY_2D not in mean or CONSTANT_VELOCITY_2D not in mean:
        return {"met": None, "reason": "no clip scored"}
    best = max(rows, key=lambda n: rows[n]["future_pck"])
    zv, cv = mean[ZERO_VELOCITY_2D]["future_pck"], mean[CONSTANT_VELOCITY_2D]["future_pck"]
    return {
        "best_model": best,
        "best_future_pck": rows[best]["future_pck"],
        "best_baseline": ZERO_VELOCITY_2D if zv >= cv else CONSTANT_VELOCITY_2D,
        "best_baseline_pck": max(zv, cv),
        "margin": rows[best]["margin_over_best_baseline"],
        "margin_ci": rows[best]["margin_ci"],
        "required_margin": GOAL_MARGIN,
        "met": bool(rows[best]["margin_over_best_baseline"] >= GOAL_MARGIN),
    }


# ------------------------------------------------------------------- projected windows in 2D, validation
def window_rows_2d(batch: Any, preds: dict[str, Any], models: dict[str, Any], observe: int = OBSERVE) -> dict:
    """2D future scores on filmed windows ``batch`` (observe ``observe`` frames, the rest is the future),
    against the **noise-free** projections of the true future (every joint scored): each model's raw and
    anchored projections (``preds``: its `VideoPrediction` on the observed frames; scales from ``models``)
    and the 2D hold / constant velocity of the noisy observed keypoints. Means over windows of the per-window
    PCK@0.05 / @0.1 (`PCK_KEYS`)."""
    from posecast.video.models.base import anchor_pixels

    gt = batch.clean[:, observe:]
    fut_times = np.arange(observe, gt.shape[1] + observe) / batch.fps
    mask = np.ones(gt.shape[:-1])

    def score(pred_px: np.ndarray) -> dict[str, float]:
        out = {}
        for key, alpha in PCK_KEYS.items():
            per = [np.nanmean(pck_2d(p, g, m, alpha)) for p, g, m in zip(pred_px, gt, mask, strict=True)]
            out[key] = float(np.mean(per))
        return out

    rows: dict[str, Any] = {}
    tracks = [batch.track(i).frames(0, observe) for i in range(len(batch))]
    rows[ZERO_VELOCITY_2D] = score(np.stack([zero_velocity_2d(t, fut_times) for t in tracks]))
    rows[CONSTANT_VELOCITY_2D] = score(np.stack([constant_velocity_2d(t, fut_times) for t in tracks]))
    anchor = batch.keypoints[:, observe - 1]
    for name, pred in preds.items():
        args = (pred.past[:, -1], pred.future, pred.camera[:, observe - 1], pred.camera[:, observe:])
        rows[name] = score(anchor_pixels(*args, None))
        m = models[name]
        weight = batch.visibility[:, observe - 1] if getattr(m, "anchor_visibility", False) else None
        rows[name + ANCHORED] = score(
            anchor_pixels(*args, anchor, m.anchor_translation_scale, m.anchor_pose_scale, weight)
        )
    return rows


def validation_windows(cmu_stride: int = 2, bandai_every: int = 4, bandai_stride: int = 25) -> dict[str, Any]:
    """The projected **validation** windows (``OBSERVE + FUTURE`` frames at 25 fps on body-17) on which the
    anchoring constants were chosen, filmed by seeded virtual cameras (`posecast.video.cameras.film`, default
    detector noise): ``"cmu"`` the held-out ends of the CMU BVH training sequences that the first (CMU-only) video
    models validated on (as `posecast.training.video.VideoData` carves them, through the canonical body since
    2026-12-06: `corpus_body17`; a window every ``cmu_stride`` frames, camera seed
    `posecast.training.video.VAL_SEED`), ``"bandai"`` every ``bandai_every``-th file of the Bandai Namco
    validation styles (`posecast.datasets.splits`; mapped through the canonical body, a window every
    ``bandai_stride`` frames, seed ``VAL_SEED + 1``). Neither is a test split."""
    from posecast.datasets import splits
    from posecast.datasets.cmu_bvh import TRAIN_SUBJECTS, cmu_bvh_motions
    from posecast.datasets.windows import slice_windows, split_sequences, window_starts
    from posecast.training.video import VAL_FRACTION, VAL_MIN_FRAMES, VAL_SEED
    from posecast.video.cameras import film

    n = OBSERVE + FUTURE
    # the held-out ends VideoData carves, through the canonical body as the corpus (`corpus_body17`; until 2026-12-06
    # through the direct CMU table, which the corpus-trained models never saw)
    motions, _, _ = cmu_bvh_motions(TRAIN_SUBJECTS, FPS)
    _, held_out = split_sequences(
        [corpus_body17(m.positions, m.skeleton) for m in motions], VAL_FRACTION, VAL_MIN_FRAMES
    )
    cmu = [slice_windows(s, window_starts(len(s), n, cmu_stride), n) for s in held_out if len(s) >= n]
    bandai = []
    for path in splits.files("bandai_namco", "validation")[::bandai_every]:
        motion = splits.load_motion("bandai_namco", path).resample(FPS)
        seq = corpus_body17(motion.positions, motion.skeleton)
        if len(seq) >= n:
            bandai.append(slice_windows(seq, window_starts(len(seq), n, bandai_stride), n))
    return {
        "cmu": film(np.concatenate(cmu), LAYOUT, FPS, np.random.default_rng(VAL_SEED)),
        "bandai": film(np.concatenate(bandai), LAYOUT, FPS, np.random.default_rng(VAL_SEED + 1)),
    }


def corpus_validation_windows(cmu_stride: int = 10, bandai_stride: int = 50) -> dict[str, Any]:
    """Projected windows (``OBSERVE + FUTURE`` frames at 25 fps on body-17) of the corpus **validation**
    split (`posecast.datasets.corpus`): ``"cmu_bvh"`` its CMU BVH validation files (a window every
    ``cmu_stride`` frames, camera seed `posecast.training.video.VAL_SEED`), ``"bandai"`` the Bandai Namco
    validation styles (every ``bandai_stride`` frames, seed ``VAL_SEED + 1``), filmed by virtual cameras with
    the default detector noise (as the test windows of `test_windows`). For models trained on the corpus,
    whose training split holds the CMU BVH sequence ends that `validation_windows` uses."""
    from posecast.datasets import corpus
    from posecast.skeletons.mapping import map_positions
    from posecast.training.video import VAL_SEED

    c = corpus.load()
    out = {}
    for k, (name, stride) in enumerate((("cmu_bvh", cmu_stride), ("bandai_namco", bandai_stride))):
        seqs = [
            map_positions(c.positions(i).astype(np.float64), LAYOUT, corpus.SKELETON)[0]
            for i in c.select("validation", [name])
        ]
        out["cmu" if name == "cmu_bvh" else "bandai"] = test_windows(stride, VAL_SEED + k, None, seqs)
    return out


#: the corpus test splits scored besides the CMU BVH test subjects (``corpus`` of the result) and the
#: stride of their windows (frames): Bandai's test styles are long, HDM05's clips short
CORPUS_TEST_STRIDES = {"bandai_namco": 50, "hdm05_cuts": 5}


def corpus_test_windows(dataset: str, stride: int | None = None, seed: int = 0):
    """The filmed test windows of a corpus data set's **test** split (`posecast.evaluation.protocols.corpus.
    load_test_set`: Bandai Namco test styles, HDM05 ``bd``), mapped from each file's own skeleton through the
    canonical body to body-17, a window every ``stride`` frames (default `CORPUS_TEST_STRIDES`), cameras from
    ``seed``."""
    from posecast.evaluation.protocols.corpus import load_test_set

    ts = load_test_set(dataset)
    seqs = [corpus_body17(s.positions, ts.skeleton) for s in ts.sequences]
    return test_windows(stride or CORPUS_TEST_STRIDES.get(dataset, 10), seed, None, seqs)


def anchor_validation(
    models: dict[str, Any],
    translation_scales: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0),
    pose_scales: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0),
    windows: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """How the anchoring constants (`posecast.video.models.base.ANCHOR_TRANSLATION_SCALE`,
    ``ANCHOR_POSE_SCALE``) were chosen: future PCK@0.05 on the projected validation windows
    (`validation_windows`; scored like `window_rows_2d`, pooled over both sets, weighted by windows) of each
    model's anchored forecast for every pair of scales, of the raw projection, of the 2D baselines, and of a
    visibility-weighted anchor (``start = v · keypoint + (1 - v) · projection``) at each model's best pair;
    ``chosen``: the pair with the best mean over the models."""
    from posecast.video.models.base import anchor_pixels
    from posecast.video.models.common import project_pixels

    windows = windows or validation_windows()
    counts = {k: len(b) for k, b in windows.items()}
    total = sum(counts.values())
    preds = {k: {n: _predict(m, b) for n, m in models.items()} for k, b in windows.items()}
    rows = {k: window_rows_2d(b, preds[k], models) for k, b in windows.items()}

    def pooled(per_set: dict[str, float]) -> float:
        return float(sum(per_set[k] * counts[k] for k in windows) / total)

    def anchored(name: str, ts: float, ps: float, blend: bool = False) -> float:
        per_set = {}
        for k, b in windows.items():
            pr = preds[k][name]
            last, last_cam = pr.past[:, -1], pr.camera[:, OBSERVE - 1]
            anchor = b.keypoints[:, OBSERVE - 1]
            if blend:
                est, v = project_pixels(last, last_cam), b.visibility[:, OBSERVE - 1, :, None]
                anchor = np.where(np.isfinite(anchor), v * np.nan_to_num(anchor) + (1 - v) * est, est)
            px = anchor_pixels(last, pr.future, last_cam, pr.camera[:, OBSERVE:], anchor, ts, ps)
            gt = b.clean[:, OBSERVE:]
            ones = np.ones(gt.shape[:-1])
            per_set[k] = float(np.mean([np.nanmean(pck_2d(*a)) for a in zip(px, gt, ones, strict=True)]))
        return pooled(per_set)

    keys = [(ts, ps) for ts in translation_scales for ps in pose_scales]
    out: dict[str, Any] = {
        "protocol": (validation_windows.__doc__ or "").split("\n\n")[0],
        "windows": counts,
        "score": "future PCK@0.05 (25 frames, 1 s) vs the noise-free projections of the true future, all joints, "
        "mean over windows pooled over the sets; grid keys 'translation_scale/pose_scale'",
        "baselines": {
            n: pooled({k: rows[k][n]["future_pck"] for k in windows}) for n in (ZERO_VELOCITY_2D, CONSTANT_VELOCITY_2D)
        },
        "models": {},
    }
    for name in models:
        grid = {f"{ts:g}/{ps:g}": anchored(name, ts, ps) for ts, ps in keys}
        best = max(grid, key=lambda g: grid[g])
        ts, ps = map(float, best.split("/"))
        out["models"][name] = {
            "raw": pooled({k: rows[k][name]["future_pck"] for k in windows}),
            "grid": grid,
            "best": best,
            "visibility_blend_at_best": anchored(name, ts, ps, blend=True),
        }
    if models:
        mean = {g: float(np.mean([out["models"][n]["grid"][g] for n in models])) for g in out["models"][name]["grid"]}
        out["mean_over_models"] = mean
        out["chosen"] = max(mean, key=lambda g: mean[g])
    return out


# ------------------------------------------------------------------------------------------ run
def run_video_bench(
    models: list[str] | None = None,
    json_path: Path | None = None,
    *,
    stride: int = 10,
    max_windows: int | None = None,
    with_cmu: bool = True,
    with_corpus: bool = False,
    with_clips: bool = True,
    clips_dir: Path | None = None,
    clip_names: list[str] | None = None,
    with_backend: bool = True,
    data_root: Path | None = None,
    weights: dict[str, Path] | None = None,
    sequences: list[np.ndarray] | None = None,
) -> dict[str, Any]:
    """Run the benchmark (module docstring) for ``models`` (default: every registered video model
    with shipped weights or composed of shipped models) and write ``json_path`` if given. Returns the results
    (layout: module docstring).

    Args:
        stride, max_windows: which test windows (every ``stride`` frames; at most ``max_windows``,
            evenly spread).
        with_cmu: score the projected CMU test windows (reported as skipped when the data is missing).
        with_corpus: also score the projected test splits of Bandai Namco and HDM05 (`corpus_test_windows`).
        with_clips, clips_dir, clip_names: score the real clips of folder ``clips_dir`` (default
            ``$POSECAST_DATA/video``), or only those named.
        with_backend: include `posecast.evaluation.protocols.video_backend.backend_report` (the shared clips
            only: it compares with Google's reference output; runs the backend on every clip again).
        data_root: the data folder (default ``$POSECAST_DATA``).
        weights: ``{model: weight directory}`` instead of the shipped weights.
        sequences: body-17 test sequences at 25 fps instead of the CMU test subjects (tests).
    """
    from posecast.errors import PosecastError
    from posecast.io.registry import atomic_output
    from posecast.models import available, default_model, get, store
    from posecast.training.loop import git_commit

    # default: every video model that runs here - those with shipped weights, and the ones composed of shipped
    # models (lift+forecast, the default for videos, and lift+forecast+path)
    names = (
        models
        if models is not None
        else [m.name for m in available("video") if store.variants(m.name) or not m.learned]
    )
    loaded = {n: get(n, weights=(weights or {}).get(n)) for n in names}
    result: dict[str, Any] = {"protocol": {}, "models": names, "code_version": git_commit()}
    # which tensors ran (lift+forecast and its path variant compose the lifter and dct-mlp's lifted variants)
    ran = [n for n in dict.fromkeys([*names, "lifter", "dct-mlp"]) if n not in (weights or {})]
    shipped = {n: store.shipped_fingerprints(n) for n in ran}
    result["shipped_weights"] = {n: f for n, f in shipped.items() if f}
    if with_cmu:
        t0 = time.perf_counter()
        try:
            batch = test_windows(stride, 0, max_windows, sequences)
        except PosecastError as exc:  # no CMU data here: the clips still run
            result["cmu"] = {"skipped": str(exc)}
        else:
            result["protocol"].update(
                data="CMU BVH test subjects 02, 08 -> the canonical body -> body-17 (the corpus's body-17, as the "
                "other test splits; until 2026-12-06 the direct CMU table), 25 fps, virtual cameras (seed 0)",
                windows=len(batch),
                stride=stride,
                observe_frames=OBSERVE,
                forecast_frames=FUTURE,
                horizons_ms=list(HORIZONS_MS),
                units="mm (real), pelvis-centred, camera-aligned, mean over 17 joints",
                dtw="posecast.evaluation.metrics.dtw_mpjpe over the 25 future frames, value at the true frame",
                cmu_2d="future PCK@0.05 / @0.1 vs the noise-free projections of the true future (all joints), "
                "mean over windows; 2D baselines from the noisy observed keypoints",
            )
            preds: dict[str, Any] = {}
            result["cmu"] = bench_cmu(loaded, batch, preds)
            result["cmu_2d"] = window_rows_2d(batch, preds, loaded)
            result["cmu_seconds"] = round(time.perf_counter() - t0, 1)
    if with_corpus:
        result["corpus"] = {}
        for dataset, ds_stride in CORPUS_TEST_STRIDES.items():
            try:
                batch = corpus_test_windows(dataset, ds_stride)
            except PosecastError as exc:
                result["corpus"][dataset] = {"skipped": str(exc)}
                continue
            preds = {}
            result["corpus"][dataset] = {
                "windows": len(batch),
                "stride": ds_stride,
                "rows": bench_cmu(loaded, batch, preds),
                "rows_2d": window_rows_2d(batch, preds, loaded),
            }
        result["protocol"]["corpus"] = (
            "the test splits of the corpus's other data sets (Bandai Namco test styles, HDM05 bd), each file mapped "
            "from its own skeleton through the canonical body to body-17 at 25 fps, windows of 50 + 25 frames every "
            + ", ".join(f"{v} frames ({k})" for k, v in CORPUS_TEST_STRIDES.items())
            + ", filmed and scored as the CMU windows (virtual cameras seed 0)"
        )
    paths: list[Path] = []
    if with_clips:
        if clips_dir is not None:
            paths, ignored = folder_clips(Path(clips_dir))
            result["ignored_files"] = ignored
        else:
            paths = clips(data_root)
        if clip_names is not None:
            paths = [p for p in paths if p.name in clip_names]
        result["protocol"]["clips"] = CLIPS_PROTOCOL
        result["protocol"]["clips_folder"] = str(clips_dir if clips_dir is not None else "$POSECAST_DATA/video")
    if with_clips and not paths:
        result["clips_skipped"] = f"no clip ({', '.join(CLIP_SUFFIXES)}) in {result['protocol']['clips_folder']}"
    if paths and loaded:
        result["video"] = bench_clips(loaded, paths)
        fps = result["video"]["pipeline_fps_by_model"]
        default = default_model("video")  # the headline speed is the default video model's when it ran
        headline = default.name if default is not None and default.name in fps else (names[0] if names else None)
        result["pipeline_fps"] = fps.get(headline) if headline else None
        result["pipeline_fps_model"] = headline
        result["load_average_1min"] = os.getloadavg()[0]  # the machine is shared: speed is noisy
    result["backend"] = {"skipped": "not requested" if clips_dir is None else "only for the shared clips"}
    if paths and with_backend and clips_dir is None:
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


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def _ci(v: list[float] | None) -> str:
    return "" if not v else f" [{100 * v[0]:.1f}, {100 * v[1]:.1f}]"


def markdown(result: dict[str, Any]) -> str:
    """The benchmark's tables with their protocol (for ``benchmarks/results/video.md``)."""
    p = result["protocol"]
    lines = ["## Video models: 3D from 2D keypoints and forecasting (`posecast bench video`)", ""]
    cmu = result.get("cmu", {})
    if "past_mpjpe_mm" in next(iter(cmu.values()), {}):
        hz = [str(h) for h in p["horizons_ms"]]
        lines += [
            f"Protocol: {p['data']}; {p['windows']} windows (every {p['stride']} frames), observe "
            f"{p['observe_frames']} frames of detector-like 2D keypoints (2 s), forecast {p['forecast_frames']} "
            f"(1 s). {p['units']}.",
            "",
            "| method | past MPJPE | past PA-MPJPE | " + " | ".join(f"{h} ms" for h in hz) + " |",
            "|---|---|---|" + "---|" * len(hz),
        ]
        for name, row in cmu.items():
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
            "estimated past, last pose held (PHD's 'Constant'); `lifter` = the 2D->3D lifter over the whole observed "
            "window, its last lifted pose held; `lift+forecast` = the lifter's estimated past, smoothed, forecast by "
            "`dct-mlp`'s variant trained on the lifter's estimates of the corpus (a model of its own; its held past "
            "is the `lifter` row); `lift+forecast+path` = the same poses, with the future cameras (the person's path "
            "in the image) from `dct-mlp`'s variant trained on lifted histories that carry the pelvis' motion in the "
            "camera's view, instead of the lifter's extrapolated ones.",
            "",
            "Forecast with DTW alignment (PHD's protocol): MPJPE / PA-MPJPE (mm) of the true frame at each horizon.",
            "",
            "| method | " + " | ".join(f"{h} ms" for h in hz) + " |",
            "|---|" + "---|" * len(hz),
        ]
        for name, row in cmu.items():
            if "past_mpjpe_mm" not in row:
                continue
            a, b = row["forecast_dtw_mpjpe_mm"], row["forecast_dtw_pa_mpjpe_mm"]
            lines.append(f"| {name} | " + " | ".join(f"{a[h]:.1f} / {b[h]:.1f}" for h in hz) + " |")
    elif "skipped" in cmu:
        lines += [f"Projected CMU test windows: skipped ({cmu['skipped']}).", ""]
    if "cmu_2d" in result:
        lines += [
            "",
            f"The same test windows in 2D: {p['cmu_2d']}; `+anchored` = the model's projected forecast started at "
            "the last observed keypoints (`VideoForecast.future_pixels`); PCK in %.",
            "",
            "| method | future PCK@0.05 | future PCK@0.1 |",
            "|---|---|---|",
        ]
        lines += [
            f"| {n} | {_pct(r['future_pck'])} | {_pct(r['future_pck_10'])} |" for n, r in result["cmu_2d"].items()
        ]
    if result.get("corpus"):
        lines += ["", *_corpus_tables(result)]
    if "video" in result:
        lines += ["", *_clip_tables(result)]
    elif "clips_skipped" in result:
        lines += ["", f"Real clips: {result['clips_skipped']}."]
    if result.get("ignored_files"):
        lines += ["", "Ignored: " + "; ".join(result["ignored_files"]) + "."]
    return "\n".join(lines) + "\n"


def _corpus_tables(result: dict[str, Any]) -> list[str]:
    """One table per corpus test split: 3D past and forecast MPJPE, then future PCK@0.05 in 2D."""
    lines = [f"**Projected corpus test splits**: {result['protocol'].get('corpus', '')}."]
    for dataset, d in result["corpus"].items():
        if "skipped" in d:
            lines += ["", f"{dataset}: skipped ({d['skipped']})."]
            continue
        rows, rows_2d = d["rows"], d["rows_2d"]
        lines += [
            "",
            f"{dataset} ({d['windows']} windows, every {d['stride']} frames): mm, pelvis-centred; future "
            "PCK@0.05 in % against the clean projections (raw / anchored).",
            "",
            "| method | past MPJPE | 80 ms | 400 ms | 1000 ms | future PCK@0.05 raw / anchored |",
            "|---|---|---|---|---|---|",
        ]
        for name, row in rows.items():
            if "past_mpjpe_mm" not in row:
                continue
            f = row["forecast_mpjpe_mm"]
            pck = (
                f"{_pct(rows_2d[name]['future_pck'])} / {_pct(rows_2d[name + ANCHORED]['future_pck'])}"
                if name in rows_2d
                else "-"
            )
            lines.append(
                f"| {name} | {row['past_mpjpe_mm']:.1f} | {f['80']:.1f} | {f['400']:.1f} | {f['1000']:.1f} | {pck} |"
            )
        for base in (ZERO_VELOCITY_2D, CONSTANT_VELOCITY_2D):
            lines.append(f"| {base} | - | - | - | - | {_pct(rows_2d[base]['future_pck'])} |")
    return lines


def _clip_tables(result: dict[str, Any]) -> list[str]:
    v = result["video"]
    scored = {c: r for c, r in v["clips"].items() if ZERO_VELOCITY_2D in r}
    lines = [
        f"**Real clips** ({result['protocol'].get('clips_folder')}: {len(v['clips'])} clips, {len(scored)} "
        f"scored). {CLIPS_PROTOCOL}",
        "",
        "| method | future PCK@0.05 [95 % CI] | future PCK@0.1 [95 % CI] | over the better 2D baseline [95 % CI] "
        "| past (re-projection) PCK | clips |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in v["mean"].items():
        margin = row.get("margin_over_best_baseline")
        lines.append(
            f"| {name} | {_pct(row['future_pck'])}{_ci(row.get('future_pck_ci'))} | "
            f"{_pct(row['future_pck_10'])}{_ci(row.get('future_pck_10_ci'))} | "
            f"{'-' if margin is None else f'{100 * margin:+.1f}'}{_ci(row.get('margin_ci'))} | "
            f"{_pct(row.get('past_pck'))} | {row['clips']} |"
        )
    g = v.get("goal", {})
    if g.get("met") is not None:
        lines += [
            "",
            f"Goal (best model at least {100 * g['required_margin']:.0f} points above the better of 2D hold and 2D "
            f"constant velocity): **{'met' if g['met'] else 'not met'}** — best `{g['best_model']}` "
            f"{_pct(g['best_future_pck'])} % vs `{g['best_baseline']}` {_pct(g['best_baseline_pck'])} %: "
            f"{100 * g['margin']:+.1f} points{_ci(g['margin_ci'])}.",
        ]
    if scored:
        methods = list(v["mean"])
        lines += [
            "",
            "Per clip: future PCK@0.05 in % [95 % CI over the clip's scored frames].",
            "",
            "| clip | length (s) | scored frames | " + " | ".join(methods) + " |",
            "|---|---|---|" + "---|" * len(methods),
        ]
        for clip, r in scored.items():
            cells = [
                f"{_pct(r[m]['future_pck'])}{_ci(r[m].get('future_pck_ci'))}" if "future_pck" in r.get(m, {}) else "-"
                for m in methods
            ]
            lines.append(f"| {clip} | {r['seconds']:.1f} | {r['scored_frames']} | " + " | ".join(cells) + " |")
    bad = {c: r.get("error") or r.get("skipped") for c, r in v["clips"].items() if c not in scored}
    if bad:
        lines += ["", "Not scored: " + "; ".join(f"`{c}`: {why}" for c, why in bad.items()) + "."]
    if result.get("pipeline_fps") is not None:
        m = result["pipeline_fps_model"]
        lines += [
            "",
            f"Pipeline speed, video file → forecast (decode + pose backend + forecast, one process): "
            f"**{result['pipeline_fps']:.1f} frames/s** ({m}); backend alone {v['extract_fps']:.1f} frames/s, "
            f"the forecast alone {v['forecast_only_fps_by_model'][m]:.0f} frames/s; {v['frames']} frames; "
            f"1-minute load average {result.get('load_average_1min', float('nan')):.1f} on {os.cpu_count()} cores.",
        ]
    return lines


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
            "data": "CMU BVH test subjects 02 and 08, through the canonical body onto body-17 (the corpus's), "
            "25 fps, filmed by virtual cameras "
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
