"""The CMU-Mocap motion-prediction benchmark, exactly as LTD / MSR-GCN / PGBIG evaluate it.

Protocol (``$POSECAST_DATA/cmu_mocap/PROTOCOL.md``):

* test file ``test/<action>/<action>_1.txt`` per action (only those present in ``MANIFEST.csv``);
* every second line kept (120 Hz → 60 Hz), line 0 (a synthetic rest pose) included;
* windows of 10 observed + 25 predicted frames: ``ltd8`` = 8 windows per file drawn with
  ``numpy.random.RandomState(1234567890)`` re-seeded per file (start ``randint(0, N - 75) + 40``),
  ``all`` = every window with stride 1;
* positions by the benchmark FK (fixed skeleton, offsets = raw ASF x 70, root rotation and
  translation ignored); joints 0, 1, 2, 7, 8, 13 taken from ground truth, joints 16, 20, 29 ← 15,
  24, 27 ← 23, 33, 36 ← 32 copied in the prediction;
* MPJPE over all 38 joints, in benchmark "mm" (= ASF units x 70, about 24 % larger than real mm),
  at predicted frames 2, 4, 8, 10, 14, 25, labelled 80 / 160 / 320 / 400 / 560 / 1000 "ms" (the
  labels assume 25 fps; at 60 Hz the real horizons are 33...417 ms);
* per-action means over windows; the average is the unweighted mean over the actions evaluated.

Models see metres: windows are converted from benchmark units before `Forecaster.predict` and
back afterwards. Nothing of these conventions leaks out of this module; the data (files, split,
loaders, the 60 Hz rate) come from `posecast.datasets.cmu_mocap`, the windows from
`posecast.datasets.windows`. `evaluate_rotations` runs the same protocol for a model that reads joint
rotations (``st-transformer-rot``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posecast.datasets import cmu_mocap as data
from posecast.datasets import windows as windowing
from posecast.datasets.cmu_mocap import ACTIONS, FPS, STRIDE, benchmark_dir, files  # noqa: F401  (protocol names)
from posecast.errors import DataNotFoundError, ValueRangeError
from posecast.io.expmap_txt import CMU_FPS
from posecast.skeletons.cmu import ASF_UNIT_M

UNIT_SCALE = 70.0  # benchmark "mm" per ASF unit
BENCH_MM_PER_M = UNIT_SCALE / ASF_UNIT_M
INPUT_N = 10
OUTPUT_N = 25
LTD_SEED = 1234567890
LTD_DRAWS = 8
LTD_OFFSET = 40  # window start = idx + 40, idx ~ randint(0, N - 75)
LTD_SPAN = 75  # the reference code's hard-coded 50 + 25
REPORT_FRAMES = {"80": 1, "160": 3, "320": 7, "400": 9, "560": 13, "1000": 24}  # label → 0-based index
GT_JOINTS = (0, 1, 2, 7, 8, 13)
COPIED_JOINTS = {16: 15, 20: 15, 29: 15, 24: 23, 27: 23, 33: 32, 36: 32}
PROTOCOLS = ("ltd8", "all")


def protocol_description(protocol: str) -> dict[str, Any]:
    """The protocol as data, printed with every table and stored in every JSON."""
    windows = {
        "ltd8": f"8 per test file, numpy RandomState({LTD_SEED}) re-seeded per file, start = randint(0, N-75) + 40",
        "all": "every 35-frame window, stride 1 (N - 34 per file)",
    }[protocol]
    return {
        "benchmark": "cmu-mocap",
        "name": protocol,
        "windows": windows,
        "observed_frames": INPUT_N,
        "predicted_frames": OUTPUT_N,
        "frame_rate": f"{CMU_FPS:g} Hz files, stride {STRIDE} -> {FPS:g} Hz",
        "horizon_labels_ms": list(REPORT_FRAMES),
        "horizon_label_note": "labels assume 40 ms/frame (25 fps); real horizons at 60 Hz are "
        + " / ".join(f"{(k + 1) / FPS * 1000:.0f}" for k in REPORT_FRAMES.values())
        + " ms",
        "joints": "MPJPE over all 38 joints; 0,1,2,7,8,13 from ground truth; 16,20,29<-15, 24,27<-23, 33,36<-32",
        "units": 'benchmark "mm" = CMU ASF units x 70 (about 1.24 x real millimetres)',
        "average": "unweighted mean over the actions evaluated",
    }


# ------------------------------------------------------------------------------------------ data
def load_positions(path: Path, unit: str = "bench") -> np.ndarray:
    """``(N, 38, 3)`` downsampled (60 Hz) benchmark positions of one file (`posecast.datasets.cmu_mocap`).

    ``unit="bench"`` gives benchmark "mm" (ASF x 70, as the reference code); ``"m"`` metres.
    """
    if unit == "bench":
        return data.load_positions(path, UNIT_SCALE)
    if unit == "m":
        return data.load_positions(path, ASF_UNIT_M)
    raise ValueRangeError(f"unit must be 'bench' or 'm', got {unit!r}")


def window_starts(num_frames: int, protocol: str) -> np.ndarray:
    """Start frames of the 35-frame test windows of a downsampled file of ``num_frames`` frames."""
    span = INPUT_N + OUTPUT_N
    if protocol == "ltd8":
        if num_frames - LTD_SPAN <= 0:
            raise ValueRangeError(f"file too short for the ltd8 protocol ({num_frames} frames)")
        rng = np.random.RandomState(LTD_SEED)
        idx = np.array([rng.randint(0, num_frames - LTD_SPAN) for _ in range(LTD_DRAWS)])
        return idx + LTD_OFFSET
    if protocol == "all":
        return windowing.window_starts(num_frames, span)
    raise ValueRangeError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")


def apply_protocol_fill(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The reference code's joint handling on ``(..., 38, 3)`` predictions: constant joints from the
    ground truth, zero-length children copied from their coinciding joint."""
    out = pred.copy()
    out[..., list(GT_JOINTS), :] = truth[..., list(GT_JOINTS), :]
    for dst, src in COPIED_JOINTS.items():
        out[..., dst, :] = out[..., src, :]
    return out


# ------------------------------------------------------------------------------------ evaluation
@dataclass
class BenchmarkResult:
    """Per-action and average errors at the reported horizons, with the protocol that produced them."""

    model: str
    protocol: dict[str, Any]
    actions: dict[str, dict[str, float]]
    average: dict[str, float]
    windows: dict[str, int] = field(default_factory=dict)
    per_frame: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "protocol": self.protocol,
            "actions": self.actions,
            "average": self.average,
            "windows": self.windows,
            "per_frame": self.per_frame,
        }


Predictor = Callable[[np.ndarray, int], np.ndarray]


def evaluate(
    predict: Predictor | Any,
    protocol: str = "ltd8",
    data_dir: str | Path | None = None,
    model_name: str | None = None,
    batch_size: int = 512,
    progress: Callable[[str, int, int], None] | None = None,
) -> BenchmarkResult:
    """Run the benchmark.

    Args:
        predict: a `Forecaster` (its ``predict`` is called with metres at 60 fps) or a function
            ``(history (B, 10, 38, 3) metres, frames) -> (B, frames, 38, 3) metres``.
        protocol: ``"ltd8"`` or ``"all"``.
        data_dir: the ``cmu_mocap`` folder (default ``$POSECAST_DATA/cmu_mocap``).
        batch_size: windows per model call.
        progress: optional callback ``(action, done, total)``.
    """
    if protocol not in PROTOCOLS:
        raise ValueRangeError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    name = model_name or getattr(predict, "name", None) or getattr(predict, "__name__", "model")
    if hasattr(predict, "predict"):
        model = predict

        def predict(h: np.ndarray, f: int) -> np.ndarray:
            return np.asarray(model.predict(h, f, 1, fps=FPS))[:, 0]

    test = files("test", data_dir)
    if not test:
        raise DataNotFoundError("no CMU-Mocap test files present", benchmark_dir(data_dir))
    errors: dict[str, np.ndarray] = {}
    for action, paths in test.items():
        errs = []
        for path in paths:
            pos = load_positions(path, "bench")
            starts = window_starts(pos.shape[0], protocol)
            windows = windowing.slice_windows(pos, starts, INPUT_N + OUTPUT_N)  # (W, 35, 38, 3) benchmark units
            for b in range(0, len(windows), batch_size):
                w = windows[b : b + batch_size]
                hist_m = w[:, :INPUT_N] / BENCH_MM_PER_M
                pred = np.asarray(predict(hist_m, OUTPUT_N)) * BENCH_MM_PER_M
                if pred.shape != w[:, INPUT_N:].shape:
                    raise ValueRangeError(f"model returned {pred.shape}, expected {w[:, INPUT_N:].shape}")
                truth = w[:, INPUT_N:]
                pred = apply_protocol_fill(pred, truth)
                errs.append(np.linalg.norm(pred - truth, axis=-1).mean(axis=-1))  # (b, 25)
                if progress:
                    progress(action, min(b + batch_size, len(windows)), len(windows))
        errors[action] = np.concatenate(errs)
    return _result(name, protocol_description(protocol), errors)


def evaluate_rotations(
    model: Any,
    protocol: str = "ltd8",
    data_dir: str | Path | None = None,
    batch_size: int = 512,
) -> BenchmarkResult:
    """The benchmark for a rotation model (`posecast.models.st_transformer.STTransformerRot`), exactly as
    `evaluate` (same files, windows, joint handling, units and averaging) except that the model reads the
    windows' local rotations (`posecast.datasets.cmu_mocap.load_rotations`): ``model.predict_rotations``
    forecasts them and ``model.body_positions`` turns them into body-frame metres.

    Returns a `BenchmarkResult` whose protocol notes the rotation input.
    """
    if protocol not in PROTOCOLS:
        raise ValueRangeError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    test = files("test", data_dir)
    if not test:
        raise DataNotFoundError("no CMU-Mocap test files present", benchmark_dir(data_dir))
    errors: dict[str, np.ndarray] = {}
    for action, paths in test.items():
        errs = []
        for path in paths:
            rot = data.load_rotations(path)
            pos = load_positions(path, "bench")
            starts = window_starts(pos.shape[0], protocol)
            for b in range(0, len(starts), batch_size):
                chunk = starts[b : b + batch_size]
                pred_rot = model.predict_rotations(windowing.slice_windows(rot, chunk, INPUT_N), OUTPUT_N)
                pred = model.body_positions(pred_rot) * BENCH_MM_PER_M
                truth = windowing.slice_windows(pos, chunk + INPUT_N, OUTPUT_N)
                pred = apply_protocol_fill(pred, truth)
                errs.append(np.linalg.norm(pred - truth, axis=-1).mean(axis=-1))
        errors[action] = np.concatenate(errs)
    desc = {**protocol_description(protocol), "input": "joint rotations of the observed frames (exp-maps of the files)"}
    name = getattr(model, "name", "model")
    return _result(name, desc, errors)


def _result(name: str, protocol: dict[str, Any], errors: dict[str, np.ndarray]) -> BenchmarkResult:
    """A `BenchmarkResult` from the per-window errors ``(W, 25)`` of each action: the mean per frame,
    the reported frames per action, and their average over the actions."""
    actions: dict[str, dict[str, float]] = {}
    per_frame: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for action, e in errors.items():
        counts[action] = int(e.shape[0])
        frame_mean = e.mean(axis=0)
        per_frame[action] = [float(x) for x in frame_mean]
        actions[action] = {label: float(frame_mean[k]) for label, k in REPORT_FRAMES.items()}
    average = {label: float(np.mean([a[label] for a in actions.values()])) for label in REPORT_FRAMES}
    missing = [a for a in data.ACTIONS if a not in actions]
    protocol = {
        **protocol,
        "average": f"unweighted mean over the {len(actions)} actions evaluated ({', '.join(actions)})"
        + (f"; the benchmark's {' and '.join(missing)} have no test file here" if missing else ""),
    }
    return BenchmarkResult(name, protocol, actions, average, counts, per_frame)
