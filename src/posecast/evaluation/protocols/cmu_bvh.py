"""Forecasting on the raw CMU BVH test subjects, in real units (PoseCast's own protocol).

Protocol (every number below is a module constant and is printed with every table):

* test data: **every** BVH file of subjects 02 and 08 (the subject split of
  ``$POSECAST_DATA/README.md``; training subjects are 01, 05, 06, 07);
* frame 0 of each file dropped (the converter's synthetic rest pose), then resampled linearly from
  120 Hz to 25 fps (`Motion.resample`);
* windows of 50 observed (2 s) + 25 predicted (1 s) frames, start every 10 frames (0.4 s) from the
  first frame of a file; a file shorter than 75 frames gives no window (it is listed as such);
* global positions of all 31 joints of ``cmu-bvh-31`` in the world frame, as the BVH stores them
  (metres inside PoseCast, reported in real millimetres: 1 ASF unit = 25.4 / 0.45 mm); the
  zero-length helper joints (LHipJoint, RHipJoint, LowerBack at the hips, ...) are counted as
  stored;
* MPJPE at predicted frames 2, 4, 8, 10, 14, 25, i.e. 80 / 160 / 320 / 400 / 560 / 1000 ms of
  *real* time at 25 fps (the labels mean what they say here, unlike the CMU-Mocap benchmark's);
* the same MPJPE after moving the root (Hips) of every frame, predicted and true, to the origin
  ("root-relative": pose only, the trajectory error removed);
* the average is the mean over **all windows** pooled; the groups are subject 02 / subject 08 and
  an activity read from the ``INDEX.csv`` description (`activity`: walk, run, jump, other), each
  the mean over its windows (empty groups are left out; the window counts say how many each has);
* the nearest-neighbour baseline is fitted on the training subjects at 25 fps with window 50,
  continuations of 25 frames, one window every 2 frames (`prepare_models`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posecast.datasets import cmu_bvh as data
from posecast.datasets import windows as windowing
from posecast.datasets.cmu_bvh import SKELETON, SOURCE_FPS
from posecast.errors import DataNotFoundError, ModelError, SkeletonError
from posecast.evaluation.metrics import mpjpe
from posecast.models.base import Forecaster
from posecast.skeletons.canonical import world_up
from posecast.skeletons.cmu import ASF_UNIT_M

SUBJECTS = data.TEST_SUBJECTS
TRAIN_SUBJECTS = data.TRAIN_SUBJECTS
FPS = 25.0
INPUT_N = 50  # 2 s observed
OUTPUT_N = 25  # 1 s predicted
SPAN = INPUT_N + OUTPUT_N
STRIDE = 10  # frames between window starts (0.4 s)
MM_PER_M = 1000.0
REPORT_FRAMES = {"80": 1, "160": 3, "320": 7, "400": 9, "560": 13, "1000": 24}  # label (ms) -> 0-based frame
ACTIVITIES = ("walk", "run", "jump", "other")
NN_STRIDE = 2  # window step of the nearest-neighbour index (memory: ~9k windows of 50 x 31 x 3 floats)


def protocol_description() -> dict[str, Any]:
    """The protocol as data, printed with every table and stored in every JSON."""
    return {
        "benchmark": "cmu-bvh",
        "subjects": list(SUBJECTS),
        "files": f"every BVH file of subjects {', '.join(SUBJECTS)}; frame 0 (synthetic rest pose) dropped",
        "frame_rate": f"{SOURCE_FPS:g} Hz BVH resampled linearly to {FPS:g} fps",
        "windows": f"{INPUT_N} observed + {OUTPUT_N} predicted frames ({INPUT_N / FPS:g} s + {OUTPUT_N / FPS:g} s), "
        f"a start every {STRIDE} frames from frame 0; files shorter than {SPAN} frames give none",
        "joints": f"all 31 joints of {SKELETON} (zero-length helper joints counted as stored)",
        "positions": "global (world frame as the BVH stores it); root_relative: Hips of every frame at the origin",
        "units": f"real millimetres (BVH length unit = {ASF_UNIT_M * MM_PER_M:.4f} mm)",
        "horizon_labels_ms": list(REPORT_FRAMES),
        "horizon_frames": [k + 1 for k in REPORT_FRAMES.values()],
        "horizon_label_note": f"real time at {FPS:g} fps (at-horizon error of that predicted frame)",
        "average": "mean over all windows pooled; groups: mean over their windows",
        "groups": "subject NN; activity from the INDEX.csv description: walk ('walk'), run ('run' or 'jog'), "
        "jump ('jump'), other",
        "nearest_neighbour": f"fitted on subjects {', '.join(TRAIN_SUBJECTS)} at {FPS:g} fps, window {INPUT_N}, "
        f"continuations of {OUTPUT_N} frames, a window every {NN_STRIDE} frames",
    }


# ------------------------------------------------------------------------------------------ data
def activity(description: str) -> str:
    """Activity group of an ``INDEX.csv`` description: ``walk``, ``run``, ``jump`` or ``other``.

    The first rule that matches wins: "walk" anywhere (walk, slow walk, walk/stride), then "run" or
    "jog", then "jump"; everything else (punches, swordplay, dance, climbing...) is ``other``.
    """
    d = description.lower()
    if "walk" in d:
        return "walk"
    if "run" in d or "jog" in d:
        return "run"
    if "jump" in d:
        return "jump"
    return "other"


@dataclass(frozen=True)
class TestSequence:
    """One test file, ready for windowing.

    Attributes:
        name: file path relative to the data folder (``"02/02_05.bvh"``).
        positions: ``(T, J, 3)`` global positions in metres at `FPS`, rest-pose frame dropped.
        groups: the groups the file's windows count towards (``("subject 02", "other")``).
        description: the ``INDEX.csv`` description.
    """

    name: str
    positions: np.ndarray
    groups: tuple[str, ...]
    description: str = ""


def load_sequences(
    subjects: Sequence[str] = SUBJECTS, data_dir: str | Path | None = None, fps: float = FPS
) -> list[TestSequence]:
    """Every BVH file of ``subjects`` as a `TestSequence` (frame 0 dropped, resampled to ``fps``;
    `posecast.datasets.cmu_bvh.cmu_bvh_motions`), grouped by subject and `activity`."""
    root = data.bvh_dir(data_dir)
    index = data.read_index(root)
    motions, paths, _ = data.cmu_bvh_motions(subjects, fps, root)
    out = []
    for p, motion in zip(paths, motions, strict=True):
        rel = p.relative_to(root).as_posix()
        if motion.skeleton.name != SKELETON:
            raise SkeletonError(f"expected the {SKELETON} skeleton, got {motion.skeleton.name!r}", p)
        desc = index.get(rel, {}).get("description", "")
        subject = index.get(rel, {}).get("subject", p.parent.name)
        out.append(TestSequence(rel, motion.positions, (f"subject {subject}", activity(desc)), desc))
    return out


def window_starts(num_frames: int) -> np.ndarray:
    """Start frames of the `SPAN`-frame windows of a ``num_frames``-frame sequence (may be empty)."""
    return windowing.window_starts(num_frames, SPAN, STRIDE)


def make_windows(sequences: Sequence[TestSequence]) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """All windows ``(W, SPAN, J, 3)`` and, per window, ``(sequence name, start frame)``."""
    wins, where = [], []
    for seq in sequences:
        starts = window_starts(seq.positions.shape[0])
        if len(starts):
            wins.append(windowing.slice_windows(seq.positions, starts, SPAN))
            where += [(seq.name, int(s)) for s in starts]
    if not wins:
        raise DataNotFoundError(f"no test sequence has the {SPAN} frames a window needs")
    return np.concatenate(wins), where


# ---------------------------------------------------------------------------------------- models
def prepare_models(
    models: Mapping[str, Forecaster], train_sequences: Sequence[np.ndarray] | None = None
) -> dict[str, Forecaster]:
    """Fit the baselines that need training data for this protocol.

    A nearest-neighbour model without training windows is replaced by one with window `INPUT_N`,
    continuations of `OUTPUT_N` frames and index stride `NN_STRIDE`, fitted on ``train_sequences`` (``(T, J, 3)``
    metres at `FPS`; default: the BVH training subjects). Other models are returned as they are.
    """
    from posecast.models.baselines import NearestNeighbour

    out = dict(models)
    for name, model in models.items():
        if isinstance(model, NearestNeighbour) and model.num_windows == 0:
            if train_sequences is None:
                train_sequences = [s.positions for s in load_sequences(TRAIN_SUBJECTS)]
            nn = NearestNeighbour(window=INPUT_N, frames=OUTPUT_N, stride=NN_STRIDE, residual=model.residual)
            out[name] = nn.fit(list(train_sequences), fps=FPS, skeleton="cmu-bvh-31")
    return out


def predict_batches(
    model: Forecaster,
    history: np.ndarray,
    frames: int,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
    fps: float = FPS,
) -> np.ndarray:
    """``model.predict`` over ``(W, T, J, 3)`` histories at ``fps`` in batches → ``(W, frames, J, 3)`` (sample 0)."""
    out = []
    for b in range(0, history.shape[0], batch_size):
        h = history[b : b + batch_size]
        pred = np.asarray(model.predict(h, frames, 1, fps=fps))
        expected = (h.shape[0], 1, frames) + h.shape[2:]
        if pred.shape != expected:
            raise ModelError(
                f"model {getattr(model, 'name', model)!r} returned shape {pred.shape}, expected {expected}"
            )
        out.append(pred[:, 0])
        if progress:
            progress(min(b + batch_size, history.shape[0]), history.shape[0])
    return np.concatenate(out)


# ------------------------------------------------------------------------------------ evaluation
def _at_horizons(per_frame: np.ndarray) -> dict[str, float]:
    return {label: float(per_frame[k]) for label, k in REPORT_FRAMES.items()}


@world_up("+y")  # the data sets are recorded y up: score the windows as they are
def evaluate(
    models: Mapping[str, Forecaster],
    sequences: Sequence[TestSequence] | None = None,
    batch_size: int = 256,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the protocol for several models on the same windows.

    Args:
        models: ``{name: forecaster}``; nearest-neighbour must be fitted already (`prepare_models`).
        sequences: the test files (default: `load_sequences` of the test subjects).
        batch_size: windows per ``predict`` call.
        progress: optional callback ``(model name, windows done, windows total)``.

    Returns:
        ``{"protocol": {...}, "models": {name: {"average", "root_relative", "groups",
        "groups_root_relative", "windows", "per_frame", "per_frame_root_relative"}}}``: errors in
        real millimetres by horizon label; ``windows`` counts windows per group (``"all"`` too).
    """
    sequences = list(sequences) if sequences is not None else load_sequences()
    windows, where = make_windows(sequences)
    groups_of = {s.name: s.groups for s in sequences}
    named = {g for s in sequences for g in s.groups}  # subjects first, then the activities in ACTIVITIES order
    group_names = sorted(g for g in named if g not in ACTIVITIES) + [a for a in ACTIVITIES if a in named]
    members = {g: np.array([g in groups_of[name] for name, _ in where]) for g in group_names}
    members = {g: m for g, m in members.items() if m.any()}
    truth = windows[:, INPUT_N:] * MM_PER_M  # (W, OUTPUT_N, J, 3)
    truth_rr = truth - truth[..., :1, :]
    protocol = protocol_description()
    protocol["window_count"] = len(where)
    protocol["files_without_windows"] = [s.name for s in sequences if not len(window_starts(s.positions.shape[0]))]
    result: dict[str, Any] = {"protocol": protocol, "models": {}}
    for name, model in models.items():
        tick = (lambda done, total, n=name: progress(n, done, total)) if progress else None
        bound = model.on_skeleton(SKELETON)  # canonical-body models map onto their body and back
        pred = predict_batches(bound, windows[:, :INPUT_N], OUTPUT_N, batch_size, tick) * MM_PER_M
        err = mpjpe(pred, truth)  # (W, OUTPUT_N)
        err_rr = mpjpe(pred - pred[..., :1, :], truth_rr)
        result["models"][name] = {
            "average": _at_horizons(err.mean(axis=0)),
            "root_relative": _at_horizons(err_rr.mean(axis=0)),
            "groups": {g: _at_horizons(err[m].mean(axis=0)) for g, m in members.items()},
            "groups_root_relative": {g: _at_horizons(err_rr[m].mean(axis=0)) for g, m in members.items()},
            "windows": {"all": len(where), **{g: int(m.sum()) for g, m in members.items()}},
            "per_frame": [float(x) for x in err.mean(axis=0)],
            "per_frame_root_relative": [float(x) for x in err_rr.mean(axis=0)],
        }
    return result


def print_result(result: Mapping[str, Any], console: Any = None) -> None:
    """Print the protocol and the tables (models side by side; then per group) of an `evaluate` result."""
    from rich.console import Console

    from posecast.evaluation.report import horizon_table, protocol_lines

    console = console or Console()
    console.print(f"[bold]{', '.join(result['models'])}[/bold] on {result['protocol']['benchmark']}")
    for line in protocol_lines(result["protocol"]):
        console.print(f"  {line}", highlight=False)
    models = result["models"]
    for title, key in (("MPJPE, global positions", "average"), ("MPJPE, root-relative (pose only)", "root_relative")):
        console.print(horizon_table(title, {m: r[key] for m, r in models.items()}, unit=" ms", first_column="mm at"))
    counts = next(iter(models.values()))["windows"]
    console.print("windows: " + ", ".join(f"{g} {n}" for g, n in counts.items()), highlight=False)
    rows = {f"{g} · {m}": r["groups"][g] for g in counts if g != "all" for m, r in models.items()}
    console.print(
        horizon_table("MPJPE per group, global (root-relative: see the JSON)", rows, unit=" ms", first_column="mm at")
    )
