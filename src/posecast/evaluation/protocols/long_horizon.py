"""Long-horizon rollouts judged by their power spectrum, in the style of the ST-Transformer's
supplement H (Aksan et al. 2021), on the raw CMU BVH test subjects.

Why distributions and not MPJPE: a 20-second forecast cannot be compared frame by frame with the
truth (the test files are mostly far shorter than 2 s + 20 s, and a plausible future need not be
the recorded one). Supplement H therefore compares *every second* of the predictions with the
statistics of real 1-second clips. This module follows it:

* seeds: 2 s (50 frames at 25 fps) observed, the first 50 frames of every `cmu_bvh` test window
  (a start every 10 frames; each seed has at least 1 s of real continuation in its file);
* the model forecasts ``seconds`` × 25 frames with one ``predict`` call per batch of seeds — the
  model's own long-horizon behaviour (learned models roll out autoregressively; nearest-neighbour
  holds its last continuation frame after its 1 s horizon; constant-velocity extrapolates);
* features: root-relative positions (Hips at the origin in every frame, world axes), as the
  paper's AMASS positions carry no global translation; joints that sit on the root in every test
  frame (zero-length LHipJoint, RHipJoint, LowerBack) are left out — their features are constant 0;
* reference ``G``: **every** 1-second window (25 frames, stride 1) of every test file; the paper
  draws 20 000 random 1-second windows from AMASS, but our whole test set holds fewer windows than
  that, so all of them are used and the result has no random seed;
* per second ``t`` of prediction, the non-overlapping window ``P_t`` of every seed:
  power-spectrum entropy of ``P_t`` and the KL divergences ``KL(P_t||G)``, ``KL(G||P_t)`` and their
  mean (the paper's symmetric PS KLD), spectra pooled over the set as the released code does
  (`posecast.evaluation.metrics.ps_entropy` / `ps_kld`);
* a collapse indicator the spectra alone can hide: mean joint speed (m/s) of the same root-relative
  joints in that second (second 1 includes the step from the last observed frame) and its ratio to
  the test data's mean speed; a model that freezes into a static pose shows ~0.
* reference rows: the test data itself (entropy, speed) and the training subjects' 1-second windows
  (every 5th start) against ``G`` — the level of KLD that real, different motion reaches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from posecast.datasets import windows as windowing
from posecast.errors import DataNotFoundError, ValueRangeError
from posecast.evaluation.metrics import power_spectrum
from posecast.evaluation.protocols import cmu_bvh
from posecast.models.base import Forecaster

FPS = cmu_bvh.FPS
SEED_FRAMES = cmu_bvh.INPUT_N  # 2 s
SECOND = int(round(FPS))  # frames per 1-second window
DEFAULT_SECONDS = 20
MAX_SECONDS = 120
REFERENCE_STRIDE = 1  # every 1-s window of the test files
TRAIN_REFERENCE_STRIDE = 5
STATIC_TOL_M = 1e-6  # a joint closer than this to the root in every test frame is "on the root"


def check_seconds(seconds: float) -> int:
    """``seconds`` as a whole number of seconds in ``1..MAX_SECONDS``, or a `ValueRangeError`."""
    ok = isinstance(seconds, int | float) and math.isfinite(seconds) and float(seconds).is_integer()
    if not ok or not 1 <= seconds <= MAX_SECONDS:
        raise ValueRangeError(f"--seconds must be a whole number of seconds from 1 to {MAX_SECONDS}, got {seconds!r}")
    return int(seconds)


def protocol_description(seconds: int, train_reference: bool = False) -> dict[str, Any]:
    """The protocol as data, printed with every table and stored in every JSON."""
    out: dict[str, Any] = {
        "benchmark": "long-horizon",
        "style": "ST-Transformer supplement H (Aksan et al. 2021): every second of prediction vs real 1-s clips",
        "data": f"CMU BVH test subjects {', '.join(cmu_bvh.SUBJECTS)}, frame 0 dropped, resampled to {FPS:g} fps",
        "seeds": f"{SEED_FRAMES} observed frames ({SEED_FRAMES / FPS:g} s): the first {SEED_FRAMES} frames of every "
        f"cmu-bvh test window (a start every {cmu_bvh.STRIDE} frames, each with >= 1 s of real continuation)",
        "rollout": f"{seconds} s = {seconds * SECOND} frames, one predict() call per batch of seeds (the model's own "
        "long-horizon behaviour)",
        "features": "root-relative positions (Hips at the origin every frame, world axes) of every joint that "
        "leaves the root in some test frame, x/y/z each one feature",
        "reference": f"G = every 1-s window ({SECOND} frames, stride {REFERENCE_STRIDE}) of every test file "
        "(the paper: 20 000 random 1-s windows of a larger test set)",
        "spectrum": "|FFT|^2 of each feature over a 1-s window, summed over the set, + 1e-8, normalised",
        "entropy": "power-spectrum entropy of the set of predicted seconds P_t, nats, mean over features",
        "kld": "KL(P_t||G), KL(G||P_t) and their mean (the paper's symmetric PS KLD), nats, mean over features",
        "speed": f"mean |x_k - x_(k-1)| x {FPS:g} fps over seeds, frames of that second and the joints above, m/s, "
        "root-relative; second 1 includes the step from the last observed frame",
        "speed_ratio": "speed / the test data's mean speed (every consecutive frame pair of the test files)",
        "seconds": seconds,
    }
    if train_reference:
        out["train_reference"] = (
            f"1-s windows of training subjects {', '.join(cmu_bvh.TRAIN_SUBJECTS)} "
            f"(a start every {TRAIN_REFERENCE_STRIDE} frames) against G"
        )
    return out


# --------------------------------------------------------------------------------------- helpers
def root_relative(positions: np.ndarray) -> np.ndarray:
    """``(..., J, 3)`` positions with the root (joint 0) of each frame moved to the origin."""
    return positions - positions[..., :1, :]


def moving_joints(sequences: Sequence[np.ndarray], tol: float = STATIC_TOL_M) -> list[int]:
    """Joints (never the root) whose root-relative position leaves ``tol`` metres in some frame."""
    reach = np.max([np.abs(root_relative(s)).max(axis=(0, 2)) for s in sequences], axis=0)  # (J,)
    return [int(j) for j in np.flatnonzero(reach > tol)]


def one_second_windows(sequences: Sequence[np.ndarray], stride: int = REFERENCE_STRIDE) -> np.ndarray:
    """Every `SECOND`-frame window (a start every ``stride`` frames) of ``(T, J, 3)`` sequences.

    Returns:
        ``(N, SECOND, J, 3)`` windows; sequences shorter than a second give none.
    """
    wins = [
        windowing.slice_windows(s, windowing.window_starts(s.shape[0], SECOND, stride), SECOND)
        for s in sequences
        if s.shape[0] >= SECOND
    ]
    if not wins:
        raise DataNotFoundError(f"no sequence has the {SECOND} frames of a 1-second window")
    return np.concatenate(wins)


def joint_speed(positions: np.ndarray, fps: float = FPS) -> np.ndarray:
    """Mean joint speed (m/s) of every frame step of ``(..., T, J, 3)`` positions → ``(..., T - 1)``."""
    return np.linalg.norm(np.diff(positions, axis=-3), axis=-1).mean(axis=-1) * fps


def spectral_stats(windows: np.ndarray, reference_spectrum: np.ndarray) -> dict[str, float]:
    """Entropy and KL divergences of a set of windows against a precomputed reference spectrum.

    The same numbers as `ps_entropy` (``windows``) and `ps_kld` (``windows`` vs the set whose pooled
    `power_spectrum` is ``reference_spectrum``), with the reference's FFT done once instead of at
    every call (it dominates the cost: thousands of windows against a few hundred predictions).

    Args:
        windows: ``(N, T, J, D)`` predicted (or real) windows.
        reference_spectrum: ``(T, J, D)`` pooled, normalised spectrum (`power_spectrum` of ``G``).

    Returns:
        ``{"entropy", "kld_pred_gt", "kld_gt_pred", "kld"}`` in nats, means over the ``J x D`` features.
    """
    p = np.asarray(power_spectrum(windows))  # (T, J, D), sums to 1 over T
    g = np.asarray(reference_spectrum)
    pred_gt = float((p * np.log(p / g)).sum(axis=0).mean())
    gt_pred = float((g * np.log(g / p)).sum(axis=0).mean())
    return {
        "entropy": float(-(p * np.log(p)).sum(axis=0).mean()),
        "kld_pred_gt": pred_gt,
        "kld_gt_pred": gt_pred,
        "kld": 0.5 * (pred_gt + gt_pred),
    }


# ------------------------------------------------------------------------------------ evaluation
def evaluate(
    models: Mapping[str, Forecaster],
    seconds: int = DEFAULT_SECONDS,
    sequences: Sequence[cmu_bvh.TestSequence] | None = None,
    train_sequences: Sequence[np.ndarray] | None = None,
    batch_size: int = 256,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Roll every model out for ``seconds`` from the same seeds and score every second.

    Args:
        models: ``{name: forecaster}`` (nearest-neighbour fitted: `cmu_bvh.prepare_models`).
        seconds: whole seconds to forecast (1..`MAX_SECONDS`).
        sequences: test files (default: the CMU BVH test subjects, `cmu_bvh.load_sequences`).
        train_sequences: ``(T, J, 3)`` training motions at `FPS` for the train-vs-test reference row
            (``None``: no such row).
        batch_size: seeds per ``predict`` call.
        progress: optional callback ``(model name, seeds done, seeds total)``.

    Returns:
        ``{"protocol", "test_data", "train_data" (when given), "models": {name: {"per_second": [{"second",
        "entropy", "kld_pred_gt", "kld_gt_pred", "kld", "speed_m_s", "speed_ratio"}, ...], "test_data"}}}``.
    """
    seconds = check_seconds(seconds)
    sequences = list(sequences) if sequences is not None else cmu_bvh.load_sequences()
    test = [s.positions for s in sequences]
    windows, _ = cmu_bvh.make_windows(sequences)
    seeds = windows[:, :SEED_FRAMES]
    joints = moving_joints(test)
    if not joints:
        raise DataNotFoundError("every joint of the test data sits on the root: nothing moves")
    reference = root_relative(one_second_windows(test))[..., joints, :]  # G: (N, SECOND, J', 3)
    test_speed = float(np.concatenate([joint_speed(root_relative(s)[:, joints]) for s in test]).mean())
    ref_spectrum = np.asarray(power_spectrum(reference))  # (SECOND, J', 3)
    test_data = {"entropy": spectral_stats(reference, ref_spectrum)["entropy"], "speed_m_s": test_speed}
    protocol = protocol_description(seconds, train_sequences is not None)
    protocol["seed_count"] = int(seeds.shape[0])
    protocol["reference_windows"] = int(reference.shape[0])
    protocol["joints_used"] = len(joints)
    out: dict[str, Any] = {"protocol": protocol, "test_data": test_data}
    if train_sequences is not None:
        train = root_relative(one_second_windows(train_sequences, TRAIN_REFERENCE_STRIDE))[..., joints, :]
        speed = float(np.concatenate([joint_speed(root_relative(s)[:, joints]) for s in train_sequences]).mean())
        out["train_data"] = {
            **spectral_stats(train, ref_spectrum),
            "speed_m_s": speed,
            "speed_ratio": speed / test_speed,
            "windows": int(train.shape[0]),
        }
    out["models"] = {}
    frames = seconds * SECOND
    for name, model in models.items():
        tick = (lambda done, total, n=name: progress(n, done, total)) if progress else None
        bound = model.on_skeleton(cmu_bvh.SKELETON)  # canonical-body models map onto their body and back
        pred = cmu_bvh.predict_batches(bound, seeds, frames, batch_size, tick)  # (S, frames, J, 3)
        rel = root_relative(np.concatenate([seeds[:, -1:], pred], axis=1))[:, :, joints]
        speed = joint_speed(rel).mean(axis=0)  # (frames,): step k-1 -> k for predicted frame k
        rows = []
        for t in range(seconds):
            p_t = rel[:, 1 + t * SECOND : 1 + (t + 1) * SECOND]
            s = float(speed[t * SECOND : (t + 1) * SECOND].mean())
            rows.append(
                {"second": t + 1, **spectral_stats(p_t, ref_spectrum), "speed_m_s": s, "speed_ratio": s / test_speed}
            )
        out["models"][name] = {"per_second": rows, "test_data": test_data}
    return out


def print_result(result: Mapping[str, Any], console: Any = None) -> None:
    """Print the protocol and one table: a row per second, entropy / KLD / speed ratio per model."""
    from rich.console import Console
    from rich.table import Table

    from posecast.evaluation.report import protocol_lines

    console = console or Console()
    models = result["models"]
    console.print(f"[bold]{', '.join(models)}[/bold] on {result['protocol']['benchmark']}")
    for line in protocol_lines(result["protocol"]):
        console.print(f"  {line}", highlight=False)
    td = result["test_data"]
    console.print(
        f"test data: entropy {td['entropy']:.4f}, mean joint speed {td['speed_m_s']:.3f} m/s", highlight=False
    )
    if "train_data" in result:
        tr = result["train_data"]
        console.print(
            f"training data vs test: entropy {tr['entropy']:.4f}, KLD {tr['kld']:.4f} "
            f"(P||G {tr['kld_pred_gt']:.4f}, G||P {tr['kld_gt_pred']:.4f}), speed ratio {tr['speed_ratio']:.2f}",
            highlight=False,
        )
    table = Table(title="per second of prediction: PS entropy / symmetric PS KLD / speed ratio", title_justify="left")
    table.add_column("s", justify="right")
    for m in models:
        for what in ("entropy", "KLD", "speed"):
            table.add_column(f"{m} {what}", justify="right")
    seconds = len(next(iter(models.values()))["per_second"])
    for t in range(seconds):
        cells = []
        for r in models.values():
            row = r["per_second"][t]
            cells += [f"{row['entropy']:.3f}", f"{row['kld']:.3f}", f"{row['speed_ratio']:.2f}"]
        table.add_row(str(t + 1), *cells)
    console.print(table)
