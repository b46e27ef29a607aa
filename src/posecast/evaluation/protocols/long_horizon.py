"""Long-horizon rollouts on the test part of every data set, judged per second: the ST-Transformer's
power spectrum (Aksan et al. 2021, supplement H), joint speed, bone lengths, feet and pose plausibility.

Why distributions and not MPJPE: a 20-second forecast cannot be compared frame by frame with the truth
(most test files are far shorter than 2 s + 20 s, and a plausible future need not be the recorded one).
Supplement H therefore compares *every second* of the predictions with the statistics of real
1-second clips; this module does so per data set, each against its own test data (a bow is never
compared with runs), and adds physical and plausibility checks. Every constant below is printed with
every table (`protocol_description`).

Data and seeds
    * data sets: the test split of each data set of the cross-data-set benchmark
      (`posecast.evaluation.protocols.corpus`: ``cmu_bvh`` subjects 02 and 08, ``bandai_namco`` the test
      styles, ``hdm05_cuts`` actor ``bd``), loaded by `corpus.load_test_set` (rest-pose frame dropped where
      synthetic, resampled linearly to `FPS` = 25 fps);
    * seeds: the first `SEED_FRAMES` = 50 frames (2 s) of every `corpus.LONG` window (2 s + 1 s, a start
      every 10 frames), so every seed has 1 s of real continuation in its file (`cmu_bvh`: the 206 seeds
      of the ``cmu-bvh`` protocol); files shorter than 3 s give no seed (listed). ``max_seeds``: that many
      seeds, evenly spread over the data set's seed list (file order, then start; deterministic).

Models
    Each model forecasts ``seconds x 25`` frames on the data set's **own skeleton** (all its joints), with
    one ``predict`` call per batch of seeds: ``model.on_skeleton(skeleton)`` as in ``bench corpus``, so
    canonical-body models map in and out themselves and skeleton-specific weights run where they fit (a
    model that cannot is listed as unavailable). This is the model's own long-horizon behaviour (learned
    models roll out autoregressively; nearest-neighbour searches again once a second from its forecast).

Scoring: on the canonical body, the same way for every model and data set
    Every forecast, seed and test file is mapped by the one fixed affine map of its skeleton onto the
    canonical body ``smplh-22`` (`posecast.skeletons.canonical.retarget(...).to_canonical`; the same map
    for the data and every model, never the model's own). So the features are the same 21 joints x 3 for
    every data set and model, as the paper's SMPL joint positions, and metrics are comparable across
    models (and data sets). Only the bone lengths are measured on the own skeleton (the bones the model
    actually output). Per second ``t`` (frames ``25 (t-1) + 1 .. 25 t`` after the last observed frame):

    * ``entropy``, ``kld`` (and ``kld_pred_gt``, ``kld_gt_pred``): power-spectrum entropy of the set of
      predicted seconds and the symmetric KL divergence to the reference ``G`` (`spectral_stats`, nats,
      mean over the 63 features): root-relative canonical positions (pelvis at the origin, world axes);
      spectra pooled over the set (the released code). ``G`` = every 1-s window (stride 1) of the data
      set's test files that give seeds (the paper: 20 000 random windows of a larger test set); files too short
      for a seed are left out of every test-data reference (on CMU BVH and HDM05 they are short, fast clips: with
      them the seeds' own recorded next second scored 0.76 and 0.56 of the reference speed);
    * ``speed_m_s``: mean joint speed of the same 21 root-relative joints (second 1 includes the step from
      the last observed frame); ``speed_ratio``: over the mean speed of the test files that give seeds (every
      frame pair);
    * ``bone_error_cm``: mean over the skeleton's bones of ``|L_k - L_seed|``, the bone's length in the
      forecast frame against the seed's last observed frame, cm, own skeleton; bones left out: those into a
      joint of constant offset (`corpus.static_joints`: zero-length helpers) and those above the root
      (Bandai's floor-level ``joint_Root`` -> ``Hips``);
    * ``foot_skate_m_s``: foot skating, the height-gated horizontal foot velocity of motion-synthesis
      evaluations (Zhang, Starke, Komura, Saito 2018, "Mode-adaptive neural networks for quadruped motion
      control", foot skating ``v (2 - 2^(h/H))`` with ``H`` = 2.5 cm): a foot is the canonical toe base
      (left/right ``foot``: CMU ``LeftToeBase``, Bandai ``Toes_L``, HDM05 ``ltoes``); a frame step of a foot
      is *in contact* when the foot is at most `FOOT_CONTACT_M` = 2.5 cm above the observed ground in both
      frames; skating = mean horizontal (x, z) speed of the feet over their contact steps, m/s, unweighted
      (MANN's ``(2 - 2^(h/H))`` factor left out so the unit stays m/s); ``None`` when no step is in
      contact. ``foot_contact``: the fraction of foot steps in contact (0: the feet float);
    * the **observed ground** of a seed: the lowest toe-base height (y) over its 2 s (the level of the
      toe joints resting on the floor);
    * ``penetration_cm``: per frame, how far the lower toe base is below the observed ground (0 above it),
      mean over frames, cm;
    * ``nn_mm``: pose plausibility, the distance of predicted poses to the nearest training pose
      (`PoseIndex`): poses root-relative and heading-canonical (turned about y so that the hip vector
      ``left_hip - right_hip`` points along +x), distance = RMS over the 21 non-pelvis joints, mm; the
      training poses are every `POSE_STRIDE`-th frame of the corpus's ``train`` split (canonical body,
      `posecast.datasets.corpus`; ``cmu_bvh`` training subjects, Bandai's training styles, the CMU-Mocap
      extra files); queries are every `QUERY_STRIDE`-th predicted frame (frames 5, 10, ... 25 of each
      second); the search is exact, by brute force with one matrix product per batch (a k-d tree,
      ``scipy.spatial.cKDTree``, measured 2.5-11 ms per query in these 63 dimensions, brute force under
      1 ms), float32 candidates re-ranked in float64;
    * ``bend_out_pct``: pose plausibility joint by joint, the percentage of predicted frames (the same
      queried frames) in which at least one joint bends further than any training pose bends it, by more
      than `BEND_MARGIN_DEG` degrees: the bend at a joint is the angle between its parent's bone and its
      own (`bend_angles`; every joint with a grandparent on the canonical body), the limit of each is its
      maximum over the same training poses as ``nn_mm`` (`PoseIndex.bend_limit`). A bend that varies by
      less than `BEND_FIXED_DEG` over the training poses is set by the skeleton mapping, not by the motion,
      and is not scored: the bend at ``spine1`` is 0 in every training pose (the CMU and Bandai skeletons
      have no joint there, the mapping interpolates it on the line from the pelvis to ``spine2``) while
      HDM05's mapping interpolates ``spine2`` instead (17 bends scored). A distance to the nearest
      training pose averages over 21 joints and hardly moves when a few short bones fold (a spine bent
      back on itself, a collar turned into the neck); this count does.

Reference rows (per data set)
    * ``test_data``: the test data itself: entropy of ``G``, mean speed, ``nn_mm`` and ``bend_out_pct`` of every
      `QUERY_STRIDE`-th frame of the test files (at most `MAX_TEST_POSES`, evenly spread);
    * ``continuation``: the seeds' real next second (the 25 recorded frames after each seed), scored
      exactly like second 1 of a forecast: what real motion scores on every metric;
    * ``train_data`` (optional): the data set's own training split in the corpus (HDM05 has none: the
      whole corpus ``train`` split), 1-s windows every `TRAIN_REFERENCE_STRIDE` frames (at most
      `MAX_REFERENCE_WINDOWS`, evenly spread) against ``G``: the KLD that real, different motion reaches.

Goals (`check_goals`, the ST-Transformer issue's numbers, per data set, for every model): PS KLD at most
`GOAL_KLD` in every second, speed ratio within `GOAL_SPEED` in every second, bone-length error under
`GOAL_BONE_CM` in every second, nearest-training distance in the last second no worse than in second 2;
and for the goal model (default `GOAL_MODEL`), better than every other model run except retrieval
baselines (`RETRIEVAL`) on each of those four (mean KLD, mean ``|speed ratio - 1|``, mean bone error, NN
distance in the last second: strictly lower than the best other model, or the absolute goal reached).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from posecast.datasets import windows as windowing
from posecast.errors import DataNotFoundError, PosecastError, ValueRangeError, listed
from posecast.evaluation.metrics import power_spectrum
from posecast.evaluation.protocols import corpus
from posecast.evaluation.protocols.cmu_bvh import predict_batches
from posecast.kinematics.alignment import heading_canonical
from posecast.kinematics.fk import bone_triples
from posecast.models.base import Forecaster
from posecast.skeletons.base import Skeleton
from posecast.skeletons.canonical import world_up

FPS = corpus.FPS
SEED_FRAMES = corpus.LONG.observed  # 2 s
SEED_STRIDE = corpus.LONG.stride
SECOND = int(round(FPS))  # frames per 1-second window
DEFAULT_SECONDS = 20
MAX_SECONDS = 120
REFERENCE_STRIDE = 1  # every 1-s window of the test files
TRAIN_REFERENCE_STRIDE = 5
MAX_REFERENCE_WINDOWS = 20_000  # the paper's 20 000 windows: a cap on the training reference
POSE_STRIDE = 5  # training poses of the plausibility index: every 5th corpus frame
QUERY_STRIDE = 5  # predicted frames looked up: every 5th (5 per second)
MAX_TEST_POSES = 5_000
BEND_MARGIN_DEG = 5.0  # bend_out_pct: a joint counts as bent too far beyond the training maximum plus this
BEND_FIXED_DEG = 1.0  # bends that vary less than this over the training poses are not scored (set by the mapping)
FOOT_CONTACT_M = 0.025  # MANN's H
SPECTRUM_EPS = 1e-8  # as `power_spectrum`
BATCH_SIZE = 256
SUMMARY_SECONDS = (1, 2, 5, 10, 20)
CM_PER_M, MM_PER_M = 100.0, 1000.0
#: goals (the ST-Transformer issue) and the model they are meant for
GOAL_MODEL = "st-transformer"
GOAL_KLD = 0.10
GOAL_SPEED = (0.8, 1.2)
GOAL_BONE_CM = 1.0
#: models that replay training motion: reported, never the bar of the "better than the others" goal
RETRIEVAL = ("nearest-neighbour",)
METRICS = (
    "entropy",
    "kld_pred_gt",
    "kld_gt_pred",
    "kld",
    "speed_m_s",
    "speed_ratio",
    "bone_error_cm",
    "foot_skate_m_s",
    "foot_contact",
    "penetration_cm",
    "nn_mm",
    "bend_out_pct",
)


def _canonical():
    """The canonical body's joint names and the indices the protocol needs (pelvis, hips, toe bases)."""
    from posecast.skeletons.canonical import CANONICAL, NAMES

    idx = {n: i for i, n in enumerate(NAMES)}
    return CANONICAL, NAMES, idx


def check_seconds(seconds: float) -> int:
    """``seconds`` as a whole number of seconds in ``1..MAX_SECONDS``, or a `ValueRangeError`."""
    ok = isinstance(seconds, int | float) and math.isfinite(seconds) and float(seconds).is_integer()
    if not ok or not 1 <= seconds <= MAX_SECONDS:
        raise ValueRangeError(f"--seconds must be a whole number of seconds from 1 to {MAX_SECONDS}, got {seconds!r}")
    return int(seconds)


def check_max_seeds(max_seeds: int | None) -> int | None:
    """``None`` (every seed) or a positive number of seeds per data set, else a `ValueRangeError`."""
    if max_seeds is None:
        return None
    if isinstance(max_seeds, bool) or not isinstance(max_seeds, int | np.integer) or max_seeds < 1:
        raise ValueRangeError(f"--max-seeds must be a positive whole number, got {max_seeds!r}")
    return int(max_seeds)


def protocol_description(
    seconds: int,
    max_seeds: int | None = None,
    train_reference: bool = False,
    plausibility: bool = True,
    datasets: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The protocol as data, printed with every table and stored in every JSON (module docstring); ``datasets``: the
    data sets run, of `corpus.DATASETS` (default all of them), the only ones its ``datasets`` line names."""
    names = [d for d in (corpus.DATASETS if datasets is None else datasets) if d in corpus.DROP_FIRST_FRAME]
    canonical, _, _ = _canonical()
    out: dict[str, Any] = {
        "benchmark": "long-horizon",
        "style": "ST-Transformer supplement H (Aksan et al. 2021): every second of prediction vs real 1-s clips, "
        "per data set against its own test data",
        "datasets": "the test split of each data set (bench corpus): "
        + "; ".join(f"{d} ({'frame 0 dropped' if corpus.DROP_FIRST_FRAME[d] else 'frame 0 kept'})" for d in names)
        + f"; resampled linearly to {FPS:g} fps",
        "seeds": f"{SEED_FRAMES} observed frames ({SEED_FRAMES / FPS:g} s): the first {SEED_FRAMES} of every "
        f"{corpus.LONG.span}-frame window (a start every {SEED_STRIDE} frames, so >= 1 s of real continuation); "
        + ("every seed" if max_seeds is None else f"at most {max_seeds} per data set, evenly spread over its seeds"),
        "rollout": f"{seconds} s = {seconds * SECOND} frames on the data set's own skeleton (model.on_skeleton), one "
        "predict() call per batch of seeds (the model's own long-horizon behaviour)",
        "scored_on": f"the canonical body {canonical}: forecasts, seeds and test data mapped by the skeleton's one "
        "fixed affine map (retarget(skeleton).to_canonical), the same for every model; bone lengths on the own "
        "skeleton",
        "features": "root-relative canonical positions (pelvis at the origin every frame, world axes) of the 21 "
        "other joints, x/y/z each one feature",
        "reference": f"G = every 1-s window ({SECOND} frames, stride {REFERENCE_STRIDE}) of the data set's test files "
        f"that give seeds (at least {SEED_FRAMES + SECOND} frames; the paper: 20 000 random 1-s windows)",
        "spectrum": f"|FFT|^2 of each feature over a 1-s window, summed over the set, + {SPECTRUM_EPS:g}, normalised",
        "entropy": "power-spectrum entropy of the set of predicted seconds, nats, mean over features",
        "kld": "KL(P||G), KL(G||P) and their mean (the paper's symmetric PS KLD), nats, mean over features",
        "scale": "spectra pooled over the set before normalising, as the paper's released code (its formula read per "
        "sequence gives far larger KLDs), "
        f"1-s windows of {SECOND} frames (entropy at most ln {SECOND}): not on the scale of the paper's figures "
        "(60 frames at 60 fps)",
        "speed": f"mean |x_k - x_(k-1)| x {FPS:g} fps of the 21 root-relative joints, m/s (second 1 includes the step "
        "from the last observed frame); ratio: over the mean speed of the test files that give seeds (every frame "
        "pair)",
        "bone_error": "mean over bones of |L_k - L_seed| (length in the forecast frame vs the seed's last frame), cm, "
        "own skeleton, bones into zero-length helpers and above the root left out",
        "ground": "per seed, the lowest toe-base (canonical left/right foot) height over its observed frames",
        "foot_skating": "mean horizontal (x, z) speed of the toe bases over the frame steps where the foot is at most "
        f"{FOOT_CONTACT_M * CM_PER_M:g} cm above the ground in both frames (MANN, Zhang et al. 2018: H = 2.5 cm, "
        "unweighted), m/s; contact: the fraction of foot steps in contact",
        "penetration": "per frame, depth of the lower toe base below the ground (0 above), mean, cm",
        "seconds": seconds,
    }
    if plausibility:
        out["plausibility"] = (
            "distance to the nearest training pose: root-relative, heading-canonical (hip vector along +x), RMS "
            f"over the 21 non-pelvis joints, mm; training poses: every {POSE_STRIDE}th frame of the corpus train "
            f"split (canonical body); every {QUERY_STRIDE}th predicted frame; exact search (brute force); test data "
            f"row: every {QUERY_STRIDE}th test frame (at most {MAX_TEST_POSES}, evenly spread); bends: percentage of "
            "those frames where some joint (every canonical joint with a grandparent whose bend varies by at least "
            f"{BEND_FIXED_DEG:g} degree over the training poses) bends, between its parent's bone and its own, more "
            f"than {BEND_MARGIN_DEG:g} degrees beyond the largest bend of that joint in the same training poses"
        )
    out["continuation"] = "reference row: the seeds' recorded next second, scored as second 1 of a forecast"
    if train_reference:
        out["train_reference"] = (
            f"1-s windows (a start every {TRAIN_REFERENCE_STRIDE} frames, at most {MAX_REFERENCE_WINDOWS}, evenly "
            "spread) of the data set's training split in the corpus (none: the whole corpus train split) against G"
        )
    lo, hi = GOAL_SPEED
    out["goals"] = (
        f"every second: PS KLD <= {GOAL_KLD:g}, speed ratio in {lo:g}-{hi:g}, bone-length error < {GOAL_BONE_CM:g} cm; "
        "nearest-training distance in the last second <= second 2; the goal model better than every other model run "
        f"({', '.join(RETRIEVAL)} excluded) on each (mean over seconds; NN: last second), or that goal reached"
    )
    return out


# --------------------------------------------------------------------------------------- helpers
def root_relative(positions: np.ndarray, root: int = 0) -> np.ndarray:
    """``(..., J, 3)`` positions with joint ``root`` of each frame moved to the origin."""
    return positions - positions[..., root : root + 1, :]


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


def power_sum(windows: np.ndarray) -> np.ndarray:
    """``sum_n |FFT_t(x_n)|^2`` of ``(N, T, J, D)`` windows → ``(T, J, D)`` (the pooled spectrum before ``eps``
    and normalisation, so sets can be summed chunk by chunk)."""
    return (np.abs(np.fft.fft(windows, axis=1)) ** 2).sum(axis=0)


def normalise_spectrum(power: np.ndarray, eps: float = SPECTRUM_EPS) -> np.ndarray:
    """A pooled `power_sum` as a distribution over frequency, exactly as `power_spectrum` (``+ eps``, sum 1)."""
    p = power + eps
    return p / p.sum(axis=0, keepdims=True)


def spectrum_stats(p: np.ndarray, g: np.ndarray) -> dict[str, float]:
    """Entropy of spectrum ``p`` and its KL divergences with ``g`` (both ``(T, J, D)``, normalised), nats,
    means over the ``J x D`` features: ``{"entropy", "kld_pred_gt", "kld_gt_pred", "kld"}``."""
    pred_gt = float((p * np.log(p / g)).sum(axis=0).mean())
    gt_pred = float((g * np.log(g / p)).sum(axis=0).mean())
    return {
        "entropy": float(-(p * np.log(p)).sum(axis=0).mean()),
        "kld_pred_gt": pred_gt,
        "kld_gt_pred": gt_pred,
        "kld": 0.5 * (pred_gt + gt_pred),
    }


def spectral_stats(windows: np.ndarray, reference_spectrum: np.ndarray) -> dict[str, float]:
    """Entropy and KL divergences of a set of windows against a precomputed reference spectrum.

    The same numbers as `ps_entropy` (``windows``) and `ps_kld` (``windows`` vs the set whose pooled
    `power_spectrum` is ``reference_spectrum``), with the reference's FFT done once.

    Args:
        windows: ``(N, T, J, D)`` predicted (or real) windows.
        reference_spectrum: ``(T, J, D)`` pooled, normalised spectrum (`power_spectrum` of ``G``).

    Returns:
        ``{"entropy", "kld_pred_gt", "kld_gt_pred", "kld"}`` in nats, means over the ``J x D`` features.
    """
    return spectrum_stats(np.asarray(power_spectrum(windows)), np.asarray(reference_spectrum))


def bone_length_error(positions: np.ndarray, reference: np.ndarray, bones: np.ndarray) -> np.ndarray:
    """Mean over ``bones`` of ``|L - L_ref|``: ``positions (..., T, J, 3)``, ``reference (..., J, 3)`` (one frame
    per sequence), ``bones (B, 2)`` parent/child pairs → ``(..., T)`` in the unit of the positions (0 without
    bones)."""
    if len(bones) == 0:
        return np.zeros(positions.shape[:-2])
    par, chi = bones[:, 0], bones[:, 1]
    length = np.linalg.norm(positions[..., chi, :] - positions[..., par, :], axis=-1)  # (..., T, B)
    ref = np.linalg.norm(reference[..., chi, :] - reference[..., par, :], axis=-1)[..., None, :]  # (..., 1, B)
    return np.abs(length - ref).mean(axis=-1)


def observed_ground(seed: np.ndarray, feet: Sequence[int], up: int = 1) -> np.ndarray:
    """The observed ground of ``(..., T, J, 3)`` seeds: the lowest height of any of ``feet`` over the ``T``
    frames → ``(...)``."""
    return seed[..., list(feet), up].min(axis=(-2, -1))


def foot_steps(
    positions: np.ndarray,
    feet: Sequence[int],
    ground: np.ndarray | float,
    fps: float = FPS,
    contact_height: float = FOOT_CONTACT_M,
    up: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal speed and contact of every foot over every frame step.

    Args:
        positions: ``(..., T, J, 3)`` (metres, axis ``up`` vertical).
        feet: the foot joints.
        ground: ``(...)`` or a number: the ground height of each sequence.
        fps: frame rate.
        contact_height: a foot is in contact in a step when it is at most this far above the ground in both
            frames.
        up: the vertical axis.

    Returns:
        ``(speed, contact)``, each ``(..., T - 1, F)``: speed (m/s) of the foot's horizontal position (the two
        other axes) from frame ``k - 1`` to ``k``, and whether that step is in contact.
    """
    feet = list(feet)
    p = positions[..., feet, :]  # (..., T, F, 3)
    flat = [a for a in range(3) if a != up]
    step = np.diff(p[..., flat], axis=-3)
    speed = np.linalg.norm(step, axis=-1) * fps
    h = p[..., up] - np.asarray(ground, dtype=np.float64)[..., None, None]
    near = h <= contact_height
    return speed, near[..., 1:, :] & near[..., :-1, :]


def foot_skating(speed: np.ndarray, contact: np.ndarray) -> float | None:
    """Mean of ``speed`` over the steps in ``contact`` (`foot_steps`); ``None`` when no step is in contact."""
    n = int(contact.sum())
    return float(speed[contact].sum() / n) if n else None


def ground_penetration(
    positions: np.ndarray, feet: Sequence[int], ground: np.ndarray | float, up: int = 1
) -> np.ndarray:
    """Per frame, how far the lowest of ``feet`` is below ``ground`` (0 when above): ``(..., T, J, 3)``,
    ground ``(...)`` → ``(..., T)`` in the unit of the positions."""
    low = positions[..., list(feet), up].min(axis=-1)
    return np.maximum(np.asarray(ground, dtype=np.float64)[..., None] - low, 0.0)


# ---------------------------------------------------------------------------------- plausibility
class PoseIndex:
    """Exact nearest-neighbour search among training poses on the canonical body.

    Poses are made root-relative (joint ``root``) and heading-canonical (`heading_canonical`); the root is
    then dropped and each pose is one vector of the other joints' coordinates. `distance` returns the RMS
    over those joints of the difference to the nearest training pose (the nearest in that same metric).
    The search is brute force, one float32 matrix product per batch of queries (centred features, the
    ``-|x|^2 / 2`` term folded into the product); every training pose whose float32 score lies within a
    rounding-error bound of the best is re-ranked in float64, so the result is the exact nearest.

    Args:
        poses: ``(N, J, 3)`` training poses (global or root-relative, metres).
        root, left_hip, right_hip: joint indices.
        source: a description (printed with the protocol).
        parents: the skeleton's parent indices; given, the index also keeps each joint's largest bend over
            the training poses (`bend_limit`, for `bend_outside`) for the bends that vary over them by at
            least `BEND_FIXED_DEG` (`posecast.kinematics.fk.bone_triples`).
    """

    QUERY_BATCH = 256

    def __init__(
        self,
        poses: np.ndarray,
        root: int,
        left_hip: int,
        right_hip: int,
        source: str = "",
        parents: Sequence[int] | None = None,
    ) -> None:
        poses = np.asarray(poses, dtype=np.float64)
        if poses.ndim != 3 or poses.shape[0] == 0 or poses.shape[-1] != 3:
            raise ValueRangeError(f"training poses must be (N, J, 3) with N > 0, got shape {poses.shape}")
        self.root, self.left_hip, self.right_hip, self.source = root, left_hip, right_hip, source
        self.num_joints = poses.shape[1]
        #: ``(K, 3)`` (grandparent, parent, joint) of every bend scored, and each one's largest training bend (degrees)
        self.bend_triples = np.zeros((0, 3), dtype=np.int64)
        self.bend_limit: np.ndarray | None = None
        if parents is not None:
            if len(parents) != self.num_joints:
                raise ValueRangeError(f"{len(parents)} parents for poses of {self.num_joints} joints")
            triples = bone_triples(parents)
            angles = bend_angles(poses, triples)  # (N, K)
            varies = angles.max(axis=0) - angles.min(axis=0) >= BEND_FIXED_DEG  # not fixed by a mapping
            self.bend_triples, self.bend_limit = triples[varies], angles.max(axis=0)[varies]
        self.features = self._features(poses)  # (N, D) float64
        self._mean = self.features.mean(axis=0)
        centred = self.features - self._mean
        half_sq = 0.5 * (centred**2).sum(axis=1)
        # (D + 1, N): [x; -|x|^2 / 2], so that [q, 1] @ it = q.x - |x|^2 / 2 (larger = nearer)
        self._x32 = np.ascontiguousarray(np.concatenate([centred.T, -half_sq[None]]).astype(np.float32))
        self._x_norm = float(np.sqrt((centred**2).sum(axis=1).max()))
        self._h_max = float(half_sq.max())

    def __len__(self) -> int:
        return self.features.shape[0]

    def _features(self, poses: np.ndarray) -> np.ndarray:
        if poses.shape[-2:] != (self.num_joints, 3):
            raise ValueRangeError(f"poses of shape {poses.shape} do not fit (..., {self.num_joints}, 3)")
        rel = heading_canonical(root_relative(poses, self.root), self.left_hip, self.right_hip)
        keep = [j for j in range(self.num_joints) if j != self.root]
        return rel[..., keep, :].reshape(poses.shape[:-2] + (-1,))

    def nearest(self, poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(..., J, 3)`` poses → (RMS joint distance in metres ``(...)``, index of the training pose ``(...)``)."""
        poses = np.asarray(poses, dtype=np.float64)
        q = self._features(poses)
        lead = q.shape[:-1]
        q = q.reshape(-1, q.shape[-1])
        dist = np.empty(q.shape[0])
        index = np.empty(q.shape[0], dtype=np.int64)
        dim = q.shape[1] + 1
        for a in range(0, q.shape[0], self.QUERY_BATCH):
            qb = q[a : a + self.QUERY_BATCH]
            qc = qb - self._mean
            q32 = np.concatenate([qc, np.ones((qc.shape[0], 1))], axis=1).astype(np.float32)
            score = q32 @ self._x32  # (B, N) float32
            best = score.max(axis=1)
            # float32 rounding of a dim-term dot product: |error| <= dim * eps * sum |q_i x_i| (x 4 for margin)
            tol = 4 * dim * np.finfo(np.float32).eps * (np.linalg.norm(qc, axis=1) * self._x_norm + self._h_max + 1)
            rows, cols = np.nonzero(score >= (best - tol.astype(np.float32))[:, None])
            d2 = ((self.features[cols] - qb[rows]) ** 2).sum(axis=1)  # exact, float64
            order = np.lexsort((d2, rows))  # by row, then distance
            first = order[np.r_[0, np.flatnonzero(np.diff(rows[order])) + 1]]
            dist[a + rows[first]] = d2[first]
            index[a + rows[first]] = cols[first]
        rms = np.sqrt(dist / (self.num_joints - 1))
        return rms.reshape(lead), index.reshape(lead)

    def distance(self, poses: np.ndarray) -> np.ndarray:
        """RMS joint distance (metres) of ``(..., J, 3)`` poses to their nearest training pose → ``(...)``."""
        return self.nearest(poses)[0]

    def bend_outside(self, poses: np.ndarray, margin_deg: float = BEND_MARGIN_DEG) -> np.ndarray:
        """``(...)`` bool: whether some joint of the ``(..., J, 3)`` poses bends more than ``margin_deg`` beyond its
        largest bend in the training poses (needs ``parents`` at construction)."""
        if self.bend_limit is None:
            raise ValueRangeError("this pose index was built without parents: it has no bend limits")
        return (bend_angles(np.asarray(poses, dtype=np.float64), self.bend_triples) > self.bend_limit + margin_deg).any(
            axis=-1
        )

    @classmethod
    def from_corpus(cls, stride: int = POSE_STRIDE, split: str = "train") -> PoseIndex:
        """Every ``stride``-th frame of the corpus's ``split`` (canonical body, `posecast.datasets.corpus`) but those
        of capture glitches (`posecast.datasets.training_data.glitch_frames`, the frames training cuts out; the
        short pieces training also drops between two glitches are kept here)."""
        from posecast.datasets import corpus as corpus_data
        from posecast.datasets.training_data import glitch_frames

        c = corpus_data.load()
        rows = c.select(split)
        if not rows:
            raise DataNotFoundError(f"the corpus has no {split!r} sequences")
        parts, cut = [], 0
        for i in rows:
            frames = np.arange(c.offsets[i], c.offsets[i + 1], stride)
            bad = glitch_frames(c.positions(i), corpus_data.FPS)[frames - c.offsets[i]]
            parts.append(c.rel[frames[~bad]])
            cut += int(bad.sum())
        rel = np.concatenate(parts)
        _, _, idx = _canonical()
        minutes = sum(c.table[i]["frames"] for i in rows) / corpus_data.FPS / 60
        source = (
            f"corpus {c.key} {split} split: {len(rows)} sequences, {minutes:.1f} min, every {stride}th frame "
            f"= {rel.shape[0]} poses ({cut} at capture glitches left out)"
        )
        from posecast.skeletons.canonical import PARENTS

        return cls(rel.astype(np.float64), idx["pelvis"], idx["left_hip"], idx["right_hip"], source, parents=PARENTS)


def bend_angles(poses: np.ndarray, triples: np.ndarray) -> np.ndarray:
    """``(..., J, 3)`` poses → ``(..., K)`` bend at each triple's middle joint, degrees: the angle between the
    bones ``parent - grandparent`` and ``joint - parent`` (0 straight on, 180 folded back); a bone of zero length
    bends 0."""
    g, p, j = triples[:, 0], triples[:, 1], triples[:, 2]
    u = poses[..., p, :] - poses[..., g, :]
    v = poses[..., j, :] - poses[..., p, :]
    norms = np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1)
    cos = np.where(norms > 1e-12, (u * v).sum(-1) / np.maximum(norms, 1e-12), 1.0)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def train_reference_sequences(dataset: str) -> tuple[list[np.ndarray], str]:
    """Canonical training sequences for the ``train_data`` reference row of ``dataset``: its own training split
    in the corpus, or (HDM05, a data set without one) the whole corpus ``train`` split; and a description."""
    from posecast.datasets import corpus as corpus_data
    from posecast.datasets.training_data import cut_glitches

    def clean(seqs: list[np.ndarray]) -> list[np.ndarray]:  # capture glitches left out, as training does
        return [piece for s in seqs for piece in cut_glitches(s, corpus_data.FPS)]

    seqs, rows, _ = corpus_data.training_sequences("train", [dataset])
    if seqs:
        return clean(seqs), f"corpus train split of {dataset} ({len(seqs)} sequences, cut at capture glitches)"
    seqs, rows, _ = corpus_data.training_sequences("train")
    return clean(seqs), (
        f"whole corpus train split ({len(seqs)} sequences, cut at capture glitches; {dataset} has no training part)"
    )


# ------------------------------------------------------------------------------------ the scoring
@dataclass
class Scorer:
    """What scoring one data set needs: its skeleton's map onto the canonical body, its bones and feet, the
    test data's reference spectrum and speed, and the plausibility index (optional)."""

    skeleton: Skeleton
    to_canonical: Callable[[np.ndarray], np.ndarray]
    bones: np.ndarray  # (B, 2) own-skeleton parent/child pairs scored
    reference_spectrum: np.ndarray  # (SECOND, 21, 3)
    test_speed: float
    pose_index: PoseIndex | None = None
    root: int = 0  # canonical
    feet: tuple[int, ...] = ()  # canonical toe bases
    features: tuple[int, ...] = ()  # canonical joints of the spectra and speeds


@dataclass
class Sums:
    """Per-second sums over batches of seeds (see `Scorer`), turned into rows by `rows`."""

    seconds: int
    power: np.ndarray = field(init=False)
    windows: int = 0
    speed: np.ndarray = field(init=False)
    steps: np.ndarray = field(init=False)
    bone: np.ndarray = field(init=False)
    skate: np.ndarray = field(init=False)
    contact: np.ndarray = field(init=False)
    foot_steps: np.ndarray = field(init=False)
    penetration: np.ndarray = field(init=False)
    nn: np.ndarray = field(init=False)
    nn_count: np.ndarray = field(init=False)
    bent: np.ndarray = field(init=False)
    bent_count: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        s = self.seconds
        self.power = np.zeros((s, 0))
        for name in (
            "speed",
            "steps",
            "bone",
            "skate",
            "contact",
            "foot_steps",
            "penetration",
            "nn",
            "nn_count",
            "bent",
            "bent_count",
        ):
            setattr(self, name, np.zeros(s))

    def add(self, scorer: Scorer, seeds: np.ndarray, forecast: np.ndarray) -> None:
        """Score ``forecast (S, seconds x SECOND, J, 3)`` from ``seeds (S, T, J, 3)`` (own skeleton, metres)."""
        s_count, frames = forecast.shape[:2]
        if frames != self.seconds * SECOND:
            raise ValueRangeError(f"expected {self.seconds * SECOND} forecast frames, got {frames}")
        seed_c = scorer.to_canonical(seeds)  # (S, T, 22, 3)
        pred_c = scorer.to_canonical(forecast)  # (S, F, 22, 3)
        seq = np.concatenate([seed_c[:, -1:], pred_c], axis=1)  # (S, F + 1, 22, 3)
        rel = root_relative(seq, scorer.root)[:, :, list(scorer.features)]
        speed = joint_speed(rel)  # (S, F)
        bone = bone_length_error(forecast, seeds[:, -1], scorer.bones)  # (S, F)
        ground = observed_ground(seed_c, scorer.feet)  # (S,)
        fspeed, contact = foot_steps(seq, scorer.feet, ground)  # (S, F, 2)
        pen = ground_penetration(pred_c, scorer.feet, ground)  # (S, F)
        if self.power.shape[1:] != (SECOND,) + rel.shape[2:]:
            self.power = np.zeros((self.seconds, SECOND) + rel.shape[2:])
        for t in range(self.seconds):
            sl = slice(t * SECOND, (t + 1) * SECOND)
            self.power[t] += power_sum(rel[:, 1 + t * SECOND : 1 + (t + 1) * SECOND])
            self.speed[t] += speed[:, sl].sum()
            self.steps[t] += speed[:, sl].size
            self.bone[t] += bone[:, sl].sum()
            self.skate[t] += fspeed[:, sl][contact[:, sl]].sum()
            self.contact[t] += contact[:, sl].sum()
            self.foot_steps[t] += contact[:, sl].size
            self.penetration[t] += pen[:, sl].sum()
        self.windows += s_count
        if scorer.pose_index is not None:
            query = np.arange(QUERY_STRIDE - 1, frames, QUERY_STRIDE)  # frames 5, 10, ... of each second
            dist = scorer.pose_index.distance(pred_c[:, query])  # (S, Q)
            bent = (
                scorer.pose_index.bend_outside(pred_c[:, query]) if scorer.pose_index.bend_limit is not None else None
            )
            second = query // SECOND
            for t in range(self.seconds):
                d = dist[:, second == t]
                self.nn[t] += d.sum()
                self.nn_count[t] += d.size
                if bent is not None:
                    self.bent[t] += bent[:, second == t].sum()
                    self.bent_count[t] += d.size

    def rows(self, scorer: Scorer) -> list[dict[str, Any]]:
        """One dict per second with every key of `METRICS` (``None`` where undefined)."""
        out = []
        g = scorer.reference_spectrum
        for t in range(self.seconds):
            speed = float(self.speed[t] / self.steps[t])
            row: dict[str, Any] = {"second": t + 1, **spectrum_stats(normalise_spectrum(self.power[t]), g)}
            row["speed_m_s"] = speed
            row["speed_ratio"] = speed / scorer.test_speed
            row["bone_error_cm"] = float(self.bone[t] / self.steps[t] * CM_PER_M)
            row["foot_skate_m_s"] = float(self.skate[t] / self.contact[t]) if self.contact[t] else None
            row["foot_contact"] = float(self.contact[t] / self.foot_steps[t])
            row["penetration_cm"] = float(self.penetration[t] / self.steps[t] * CM_PER_M)
            row["nn_mm"] = float(self.nn[t] / self.nn_count[t] * MM_PER_M) if self.nn_count[t] else None
            row["bend_out_pct"] = float(100.0 * self.bent[t] / self.bent_count[t]) if self.bent_count[t] else None
            out.append(row)
        return out


def scored_bones(skeleton: Skeleton, static: Sequence[int], root: int) -> np.ndarray:
    """``(B, 2)`` parent/child bones of ``skeleton`` scored for bone lengths: every bone except those into a
    ``static`` joint (zero-length helpers) and those whose parent is an ancestor of ``root`` (a world root)."""
    parents = np.asarray(skeleton.parents)
    above, j = set(), int(parents[root])
    while j >= 0:
        above.add(j)
        j = int(parents[j])
    skip = set(int(s) for s in static)
    bones = [(int(parents[c]), c) for c in range(len(parents)) if parents[c] >= 0 and c not in skip]
    return np.array([b for b in bones if b[0] not in above], dtype=np.int64).reshape(-1, 2)


def make_seeds(
    test_set: corpus.TestSet, max_seeds: int | None = None
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, int]]]:
    """The seeds of a data set: ``(S, SEED_FRAMES, J, 3)`` seeds, ``(S, SECOND, J, 3)`` their recorded next
    second and ``(file name, start frame)`` of each, in file order (module docstring; ``max_seeds``: evenly
    spread)."""
    span = SEED_FRAMES + SECOND
    where = [
        (i, int(s))
        for i, seq in enumerate(test_set.sequences)
        for s in windowing.window_starts(seq.positions.shape[0], span, SEED_STRIDE)
    ]
    if not where:
        raise DataNotFoundError(
            f"{test_set.name}: no test file has the {span} frames ({span / FPS:g} s) of a long-horizon seed"
        )
    if max_seeds is not None and max_seeds < len(where):
        pick = np.unique(np.linspace(0, len(where) - 1, max_seeds).round().astype(int))
        where = [where[k] for k in pick]
    wins = np.stack([test_set.sequences[i].positions[s : s + span] for i, s in where]).astype(np.float64)
    return wins[:, :SEED_FRAMES], wins[:, SEED_FRAMES:], [(test_set.sequences[i].name, s) for i, s in where]


def with_seeds(test_sets: Sequence[corpus.TestSet]) -> tuple[list[corpus.TestSet], dict[str, str]]:
    """The test sets with at least one file long enough for a seed and its second of continuation, and the others,
    left out, with the reason: ``{name: reason}`` (files of your own: one group of short clips does not stop the rest;
    `evaluate` records them as ``left_out``). The files skipped as not motion (`corpus.TestSet.skipped`, held by the
    first set) move to the first set kept. None left is a `DataNotFoundError`."""
    span = SEED_FRAMES + SECOND
    kept, left_out = [], {}
    for t in test_sets:
        if any(s.positions.shape[0] >= span for s in t.sequences):
            kept.append(t)
        else:
            frames = ", ".join(f"{s.name} {s.positions.shape[0]}" for s in t.sequences)
            left_out[t.name] = (
                f"no file has the {span} frames ({span / FPS:g} s at {FPS:g} fps) of a seed and its next second "
                f"({len(t.sequences)} files, frames at {FPS:g} fps: {frames})"
            )
    if not kept:  # every file named with its length (QA: the error named none of them)
        frames = [f"{s.name} {s.positions.shape[0]}" for t in test_sets for s in t.sequences]
        raise DataNotFoundError(
            f"no file has the {span} frames ({span / FPS:g} s at {FPS:g} fps) of a long-horizon seed and its next "
            f"second; frames at {FPS:g} fps: {listed(frames, ', ')}"
        )
    skipped = [x for t in test_sets for x in t.skipped]
    for t in test_sets:
        t.skipped = skipped if t is kept[0] else []
    return kept, left_out


def make_scorer(test_set: corpus.TestSet, pose_index: PoseIndex | None = None) -> tuple[Scorer, dict[str, Any]]:
    """The `Scorer` of a data set and its test-data reference row (``entropy``, ``speed_m_s``, ``windows``,
    ``nn_mm`` and ``nn_poses`` with an index)."""
    from posecast.skeletons.canonical import retarget

    _, names, idx = _canonical()
    rt = retarget(test_set.skeleton, test_set.mapping)
    root = idx["pelvis"]
    features = tuple(j for j in range(len(names)) if j != root)
    span = SEED_FRAMES + SECOND
    every = [rt.to_canonical(s.positions.astype(np.float64)) for s in test_set.sequences]
    # the reference is the motion the seeds come from: files too short for a seed left out (on CMU BVH they are
    # the short, fast clips: all 21 files moved at 0.361 m/s, the 9 that give seeds at 0.284, so that the seeds'
    # own recorded continuation scored 0.76 of "real" speed); none long enough: every file
    canon = [c for c in every if c.shape[0] >= span] or every
    power, count = np.zeros((SECOND, len(features), 3)), 0
    for c in canon:
        rel = root_relative(c, root)[:, list(features)]
        if rel.shape[0] >= SECOND:
            wins = one_second_windows([rel])
            power += power_sum(wins)
            count += wins.shape[0]
    test_speed = _mean_speed(canon, root, features)
    if count == 0 or test_speed is None:
        raise DataNotFoundError(f"{test_set.name}: no test file has the {SECOND} frames of a 1-second window")
    spectrum = normalise_spectrum(power)
    scorer = Scorer(
        skeleton=test_set.skeleton,
        to_canonical=rt.to_canonical,
        bones=scored_bones(test_set.skeleton, test_set.static, test_set.root),
        reference_spectrum=spectrum,
        test_speed=test_speed,
        pose_index=pose_index,
        root=root,
        feet=(idx["left_foot"], idx["right_foot"]),
        features=features,
    )
    test_data: dict[str, Any] = {
        "entropy": spectrum_stats(spectrum, spectrum)["entropy"],
        "speed_m_s": test_speed,
        "windows": count,
        "files": len(canon),
        # every test file, the short ones too (the reference until 2026-12-07): for comparison
        "all_files": {"files": len(every), "speed_m_s": _mean_speed(every, root, features)},
    }
    if pose_index is not None:
        poses = np.concatenate([c[QUERY_STRIDE - 1 :: QUERY_STRIDE] for c in canon])
        if poses.shape[0] > MAX_TEST_POSES:
            poses = poses[np.unique(np.linspace(0, poses.shape[0] - 1, MAX_TEST_POSES).round().astype(int))]
        test_data["nn_mm"] = float(pose_index.distance(poses).mean() * MM_PER_M)
        if pose_index.bend_limit is not None:
            test_data["bend_out_pct"] = float(100.0 * pose_index.bend_outside(poses).mean())
        test_data["nn_poses"] = int(poses.shape[0])
    return scorer, test_data


def _mean_speed(sequences: Sequence[np.ndarray], root: int, features: Sequence[int]) -> float | None:
    """Mean joint speed (m/s) of the ``features`` joints, root-relative, over every frame pair of the canonical
    ``(T, 22, 3)`` sequences; None without a pair."""
    total, steps = 0.0, 0
    for c in sequences:
        if c.shape[0] >= 2:
            sp = joint_speed(root_relative(c, root)[:, list(features)])
            total += float(sp.sum())
            steps += sp.size
    return total / steps if steps else None


def train_reference(scorer: Scorer, sequences: Sequence[np.ndarray], source: str = "") -> dict[str, Any]:
    """The ``train_data`` row: canonical ``(T, 22, 3)`` training sequences' 1-s windows (every
    `TRAIN_REFERENCE_STRIDE` frames, at most `MAX_REFERENCE_WINDOWS` evenly spread) against the test data."""
    where = [
        (i, int(s))
        for i, seq in enumerate(sequences)
        for s in windowing.window_starts(seq.shape[0], SECOND, TRAIN_REFERENCE_STRIDE)
    ]
    if not where:
        raise DataNotFoundError("no training sequence has the frames of a 1-second window")
    if len(where) > MAX_REFERENCE_WINDOWS:
        pick = np.unique(np.linspace(0, len(where) - 1, MAX_REFERENCE_WINDOWS).round().astype(int))
        where = [where[k] for k in pick]
    power = np.zeros_like(scorer.reference_spectrum)
    speed_sum, steps = 0.0, 0
    feats = list(scorer.features)
    for a in range(0, len(where), 2048):
        wins = np.stack([sequences[i][s : s + SECOND] for i, s in where[a : a + 2048]]).astype(np.float64)
        rel = root_relative(wins, scorer.root)[..., feats, :]
        power += power_sum(rel)
    for seq in sequences:
        if seq.shape[0] >= 2:
            sp = joint_speed(root_relative(np.asarray(seq, dtype=np.float64), scorer.root)[:, feats])
            speed_sum += float(sp.sum())
            steps += sp.size
    speed = speed_sum / max(steps, 1)
    out: dict[str, Any] = {
        **spectrum_stats(normalise_spectrum(power), scorer.reference_spectrum),
        "speed_m_s": speed,
        "speed_ratio": speed / scorer.test_speed,
        "windows": len(where),
    }
    if source:
        out["source"] = source
    return out


def rollout_rows(
    model: Forecaster,
    scorer: Scorer,
    seeds: np.ndarray,
    seconds: int,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Roll ``model`` (bound to the data set's skeleton) out for ``seconds`` from every seed, in batches of
    ``batch_size`` seeds, and score every second (`Sums.rows`)."""
    sums = Sums(seconds)
    frames = seconds * SECOND
    n = seeds.shape[0]
    for a in range(0, n, batch_size):
        batch = seeds[a : a + batch_size]
        pred = predict_batches(model, batch, frames, batch_size, fps=FPS).astype(np.float64)
        sums.add(scorer, batch, pred)
        if progress:
            progress(min(a + batch_size, n), n)
    return sums.rows(scorer)


# ------------------------------------------------------------------------------------ evaluation
@world_up("+y")  # the data sets are recorded y up: score the windows as they are
def evaluate_test_set(
    models: Mapping[str, Forecaster],
    test_set: corpus.TestSet,
    seconds: int = DEFAULT_SECONDS,
    pose_index: PoseIndex | None = None,
    train_sequences: Sequence[np.ndarray] | None = None,
    train_source: str = "",
    max_seeds: int | None = None,
    goal_model: str | None = GOAL_MODEL,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """The protocol on one data set.

    Args:
        models: ``{name: forecaster}`` (a nearest-neighbour model must be fitted: `corpus.prepare_models`).
        test_set: the loaded test part (`corpus.load_test_set`).
        seconds: whole seconds to forecast.
        pose_index: training poses for ``nn_mm`` (None: no plausibility numbers).
        train_sequences: canonical ``(T, 22, 3)`` training sequences for the ``train_data`` row (None: none).
        train_source: their description.
        max_seeds: at most that many seeds, evenly spread (None: all).
        goal_model: the model the "better than the others" goal is checked for.
        batch_size: seeds per ``predict`` call.
        progress: optional ``(description, done, total)``.

    Returns:
        ``{"info", "test_data", "continuation", "train_data" (when given), "models": {name: {"per_second":
        [row, ...]}}, "unavailable": {name: reason}, "goals"}``; a row has ``second`` and every key of
        `METRICS` (``None`` where undefined); ``continuation`` is one such row (the recorded next second).
    """
    seconds = check_seconds(seconds)
    max_seeds = check_max_seeds(max_seeds)
    seeds, future, where = make_seeds(test_set, max_seeds)
    scorer, test_data = make_scorer(test_set, pose_index)
    names = test_set.skeleton.joint_names
    info: dict[str, Any] = {
        "files": len(test_set.sequences),
        "seed_files": len({w[0] for w in where}),
        "seeds": int(seeds.shape[0]),
        "skeleton": test_set.skeleton.name,
        "bones_scored": int(len(scorer.bones)),
        "feet": [names[int(b)] for b in _own_feet(test_set.skeleton, test_set.mapping)],
        "reference_windows": test_data["windows"],
    }
    if test_set.note:
        info["note"] = test_set.note
    if test_set.skipped:
        info["skipped_files"] = test_set.skipped
    if pose_index is not None:
        info["training_poses"] = len(pose_index)
    cont = Sums(1)
    cont.add(scorer, seeds, future)
    out: dict[str, Any] = {"info": info, "test_data": test_data, "continuation": cont.rows(scorer)[0]}
    if train_sequences is not None:
        out["train_data"] = train_reference(scorer, train_sequences, train_source)
    out["models"], out["unavailable"] = {}, {}
    for name, model in models.items():
        tick = (lambda d, t, n=name: progress(f"{test_set.name} · {n}", d, t)) if progress else None
        try:
            bound = corpus.bind(model, test_set.skeleton, test_set.mapping)
            rows = rollout_rows(bound, scorer, seeds, seconds, batch_size, tick)
        except PosecastError as exc:
            out["unavailable"][name] = str(exc)
            continue
        out["models"][name] = {"per_second": rows}
    out["goals"] = check_goals(out["models"], goal_model)
    return out


def _own_feet(skeleton: Skeleton, mapping: Any = None) -> list[int]:
    """The own-skeleton joints behind the canonical toe bases (their heaviest source joint; ``mapping``: an explicit
    joint mapping onto the canonical body)."""
    from posecast.skeletons.canonical import retarget

    rt = retarget(skeleton, mapping)
    out = []
    for c in ("left_foot", "right_foot"):
        src = rt.assignment[c]
        out.append(skeleton.index(max(src, key=src.get)))
    return out


def evaluate(
    models: Mapping[str, Forecaster],
    seconds: int = DEFAULT_SECONDS,
    test_sets: Sequence[corpus.TestSet] | None = None,
    pose_index: PoseIndex | None = None,
    train_sequences: Mapping[str, tuple[Sequence[np.ndarray], str]] | None = None,
    max_seeds: int | None = None,
    goal_model: str | None = GOAL_MODEL,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[str, int, int], None] | None = None,
    datasets_line: str | None = None,
    left_out: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Roll every model out for ``seconds`` on every data set and score every second (`evaluate_test_set`).

    Args:
        models: ``{name: forecaster}``.
        seconds: whole seconds (1..`MAX_SECONDS`).
        test_sets: loaded test parts (default: `corpus.load_test_set` of every data set of `corpus.DATASETS`;
            files of your own: `corpus.load_files`).
        pose_index: plausibility index (default None: no ``nn_mm``; `PoseIndex.from_corpus` for the protocol).
        train_sequences: ``{data set: (canonical training sequences, description)}`` for the ``train_data``
            rows (`train_reference_sequences`); data sets left out get no such row.
        max_seeds, goal_model, batch_size, progress: see `evaluate_test_set`.
        datasets_line: the protocol's ``datasets`` entry when ``test_sets`` are not the data sets' test splits.
        left_out: groups left out before (`with_seeds`), ``{name: reason}``: recorded as ``left_out``.

    Returns:
        ``{"protocol": {...}, "datasets": {name: ...}}`` (`evaluate_test_set` for each data set), ``left_out`` when
        given, and ``in_corpus`` (`corpus.corpus_notes`) when files of your own are files of the training corpus.
    """
    seconds = check_seconds(seconds)
    max_seeds = check_max_seeds(max_seeds)
    if test_sets is None:
        test_sets = [corpus.load_test_set(d) for d in corpus.DATASETS]
    names = [ts.name for ts in test_sets]
    protocol = protocol_description(seconds, max_seeds, bool(train_sequences), pose_index is not None, names)
    if datasets_line is not None:  # files of your own (`corpus.files_protocol_description`)
        protocol["datasets"] = datasets_line
    if pose_index is not None and pose_index.source:
        protocol["training_poses"] = pose_index.source
    protocol["goal_model"] = goal_model
    result: dict[str, Any] = {"protocol": protocol, "datasets": {}}
    for ts in test_sets:
        train, source = (train_sequences or {}).get(ts.name, (None, ""))
        result["datasets"][ts.name] = evaluate_test_set(
            models, ts, seconds, pose_index, train, source, max_seeds, goal_model, batch_size, progress
        )
    if left_out:
        result["left_out"] = dict(left_out)
    notes = corpus.corpus_notes(test_sets)
    if notes:
        result["in_corpus"] = notes
    return result


def pick_goal_model(models: Iterable[str]) -> str | None:
    """The goal model of a run of ``models`` when none is named: `GOAL_MODEL` when it runs, else the registry's
    default motion model when it runs (the one the default models are built around), else the first model run that
    is not a retrieval baseline (`RETRIEVAL`), so that the "better than the others" goal is checked for a model of
    the run instead of reported not checked; None when only retrieval baselines run."""
    from posecast.models import default_model

    run = [m for m in models if m not in RETRIEVAL]
    if GOAL_MODEL in run:
        return GOAL_MODEL
    default = default_model("motion")
    if default is not None and default.name in run:
        return default.name
    return run[0] if run else None  # the first model run (retrieval baselines are not the bar); none: not checked


# ----------------------------------------------------------------------------------------- goals
def check_goals(models: Mapping[str, Mapping[str, Any]], goal_model: str | None = GOAL_MODEL) -> dict[str, Any]:
    """The issue's goals (module docstring) for every model of one data set.

    Args:
        models: ``{name: {"per_second": rows}}`` of one data set.
        goal_model: the model that should beat the others (`RETRIEVAL` models are not the bar).

    Returns:
        ``{"models": {name: {"met": bool, "checks": [{"goal", "value", "limit", "met"}]}}, "goal_model",
        "better": {"met": bool | None, "checks": [{"goal", "value", "best_other", "other", "goal_reached",
        "met"}], "reason"}}``. "Better" compares, per goal, a summary (mean PS KLD over the seconds, mean
        ``|speed ratio - 1|``, mean bone-length error, NN distance in the last second) with the best other
        non-retrieval model: met when strictly lower, or when the goal model reaches that absolute goal itself
        (so zero-velocity's bone error of 0 or its frozen NN distance do not make a goal unreachable).
    """
    lo, hi = GOAL_SPEED
    per_model: dict[str, Any] = {}
    summary: dict[str, dict[str, float | None]] = {}
    for name, r in models.items():
        rows = r["per_second"]
        kld = max(x["kld"] for x in rows)
        speeds = [x["speed_ratio"] for x in rows]
        bone = max(x["bone_error_cm"] for x in rows)
        checks = [
            {"goal": f"PS KLD <= {GOAL_KLD:g} every second", "value": kld, "limit": GOAL_KLD, "met": kld <= GOAL_KLD},
            {
                "goal": f"speed ratio {lo:g}-{hi:g} every second",
                "value": [min(speeds), max(speeds)],
                "limit": [lo, hi],
                "met": lo <= min(speeds) and max(speeds) <= hi,
            },
            {
                "goal": f"bone-length error < {GOAL_BONE_CM:g} cm every second",
                "value": bone,
                "limit": GOAL_BONE_CM,
                "met": bone < GOAL_BONE_CM,
            },
        ]
        nn_last = rows[-1].get("nn_mm")
        nn_2 = rows[1].get("nn_mm") if len(rows) >= 2 else None
        if nn_last is not None and nn_2 is not None:
            checks.append(
                {
                    "goal": f"NN distance at {len(rows)} s <= at 2 s",
                    "value": nn_last,
                    "limit": nn_2,
                    "met": nn_last <= nn_2,
                }
            )
        per_model[name] = {"met": all(c["met"] for c in checks), "checks": checks}
        summary[name] = {
            "PS KLD, mean over seconds": float(np.mean([x["kld"] for x in rows])),
            "|speed ratio - 1|, mean over seconds": float(np.mean([abs(s - 1.0) for s in speeds])),
            "bone-length error, mean over seconds": float(np.mean([x["bone_error_cm"] for x in rows])),
            "NN distance, last second": nn_last,
        }
    better: dict[str, Any] = {"met": None, "checks": [], "reason": ""}
    others = [m for m in models if m != goal_model and m not in RETRIEVAL]
    if goal_model is None or goal_model not in models:
        better["reason"] = f"{goal_model or 'no goal model'} not run here"
    elif not others:
        better["reason"] = "no other (non-retrieval) model run"
    else:
        own = per_model[goal_model]["checks"]
        for k, (key, value) in enumerate(summary[goal_model].items()):
            rivals = {m: summary[m][key] for m in others if summary[m][key] is not None}
            if value is None or not rivals:
                continue
            other = min(rivals, key=lambda m: rivals[m])
            reached = k < len(own) and own[k]["met"]  # the absolute goal itself (a frozen pose has bone error 0)
            better["checks"].append(
                {
                    "goal": key,
                    "value": value,
                    "best_other": rivals[other],
                    "other": other,
                    "goal_reached": bool(reached),
                    "met": bool(value < rivals[other] or reached),
                }
            )
        better["met"] = all(c["met"] for c in better["checks"]) if better["checks"] else None
    return {"goal_model": goal_model, "models": per_model, "better": better}


# ------------------------------------------------------------------------------------- reporting
def summary_seconds(seconds: int) -> list[int]:
    """The seconds shown in tables: `SUMMARY_SECONDS` up to ``seconds``, and the last one."""
    return sorted({s for s in SUMMARY_SECONDS if s <= seconds} | {seconds})


def _fmt(v: Any, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


COLUMNS = (
    ("entropy", "entropy", 3),
    ("kld", "PS KLD", 3),
    ("speed_ratio", "speed ratio", 2),
    ("bone_error_cm", "bone err cm", 2),
    ("foot_skate_m_s", "skate m/s", 3),
    ("foot_contact", "contact", 2),
    ("penetration_cm", "penetr. cm", 2),
    ("nn_mm", "NN mm", 1),
    ("bend_out_pct", "bent %", 1),
)


def table_rows(d: Mapping[str, Any], seconds: Iterable[int]) -> list[tuple[str, str, list[str]]]:
    """``(row name, second, cells)`` of one data set's table: the reference rows, then every model at ``seconds``."""
    rows: list[tuple[str, str, list[str]]] = []
    td = d["test_data"]
    ref = {
        "entropy": td["entropy"],
        "speed_ratio": 1.0,
        "nn_mm": td.get("nn_mm"),
        "bend_out_pct": td.get("bend_out_pct"),
    }
    rows.append(("test data", "all", [_fmt(ref.get(k), n) if k in ref else "" for k, _, n in COLUMNS]))
    rows.append(("real next second", "1", [_fmt(d["continuation"].get(k), n) for k, _, n in COLUMNS]))
    if "train_data" in d:
        tr = d["train_data"]
        rows.append(("training data", "all", [_fmt(tr.get(k), n) if k in tr else "" for k, _, n in COLUMNS]))
    for m, r in d["models"].items():
        per = {x["second"]: x for x in r["per_second"]}
        for s in seconds:
            if s in per:
                rows.append((m, str(s), [_fmt(per[s].get(k), n) for k, _, n in COLUMNS]))
    return rows


GOAL_COLUMNS = (
    "PS KLD <= {kld:g}, worst second",
    "speed ratio {lo:g}-{hi:g}, range",
    "bone error < {bone:g} cm, worst",
    "NN last s <= 2 s (last / 2 s)",
)


def goal_table(d: Mapping[str, Any]) -> tuple[list[str], list[list[str]], str]:
    """The goals of one data set as a table: (column titles, one row of cells per model, the line on the goal
    model against the others)."""
    lo, hi = GOAL_SPEED
    titles = ["model", *(c.format(kld=GOAL_KLD, lo=lo, hi=hi, bone=GOAL_BONE_CM) for c in GOAL_COLUMNS), "all met"]
    goals = d["goals"]
    rows = []
    for m, g in goals["models"].items():
        cells = [m]
        for k, c in enumerate(g["checks"]):
            v, mark = c["value"], "yes" if c["met"] else "no"
            if k == 1:
                cells.append(f"{v[0]:.2f}-{v[1]:.2f} {mark}")
            elif k == 3:
                cells.append(f"{v:.1f} / {c['limit']:.1f} {mark}")
            else:
                cells.append(f"{v:.3f} {mark}" if k == 0 else f"{v:.2f} {mark}")
        cells += ["-"] * (len(titles) - 1 - len(cells))
        cells.append("yes" if g["met"] else "no")
        rows.append(cells)
    b, gm = goals["better"], goals["goal_model"]
    if b["met"] is None:
        line = f"{gm} better than every other model: not checked ({b['reason'] or 'nothing to compare'})"
    else:
        parts = [
            f"{c['goal']} {c['value']:.3g} vs {c['best_other']:.3g} ({c['other']})"
            f"{' goal reached' if c['goal_reached'] else ''} {'yes' if c['met'] else 'no'}"
            for c in b["checks"]
        ]
        line = (
            f"{gm} better than every other model ({', '.join(RETRIEVAL)} excluded): {'yes' if b['met'] else 'no'}: "
            + "; ".join(parts)
        )
    return titles, rows, line


def _reference_files(test_data: Mapping[str, Any]) -> str:
    """ "the 9 of 21 files that give seeds (all 21: 0.361 m/s); " for the facts line (results before 2026-12-07,
    whose reference was every file, say nothing)."""
    every = test_data.get("all_files")
    if not every or "files" not in test_data:
        return ""
    if every["files"] == test_data["files"]:
        return f"the {test_data['files']} files, "
    speed = every.get("speed_m_s")
    return (
        f"the {test_data['files']} of {every['files']} files that give seeds"
        + (f" (all {every['files']}: {speed:.3f} m/s)" if speed is not None else "")
        + ", "
    )


def _facts(name: str, d: Mapping[str, Any]) -> list[str]:
    info = d["info"]
    facts = [
        f"seeds: {info['seeds']} from {info['seed_files']} of {info['files']} files"
        + (f" ({info['note']})" if info.get("note") else ""),
        f"skeleton: {info['skeleton']}, {info['bones_scored']} bones scored, feet {', '.join(info['feet'])}",
        f"test data: {_reference_files(d['test_data'])}{info['reference_windows']} 1-s windows, mean joint speed "
        f"{d['test_data']['speed_m_s']:.3f} m/s"
        + (
            f", nearest-training distance {d['test_data']['nn_mm']:.1f} mm ({d['test_data']['nn_poses']} poses)"
            if "nn_mm" in d["test_data"]
            else ""
        ),
    ]
    if "train_data" in d:
        tr = d["train_data"]
        facts.append(f"training data: {tr.get('source', '')}, {tr['windows']} 1-s windows")
    if info.get("skipped_files"):
        rest = f"all in the JSON: datasets.{name}.info.skipped_files"
        facts.append(f"skipped (not motion): {listed(info['skipped_files'], rest=rest)}")
    return facts


def print_result(result: Mapping[str, Any], console: Any = None) -> None:
    """Print the protocol, then per data set its facts, one table (reference rows, then every model at the
    summary seconds) and the goals."""
    from rich.console import Console
    from rich.table import Table

    from posecast.evaluation.report import protocol_lines

    console = console or Console()
    models = list(dict.fromkeys(m for d in result["datasets"].values() for m in (*d["models"], *d["unavailable"])))
    console.print(f"[bold]{', '.join(models)}[/bold] on {result['protocol']['benchmark']}")
    for line in protocol_lines(result["protocol"]):
        console.print(f"  {line}", highlight=False)
    seconds = summary_seconds(result["protocol"]["seconds"])
    for name, d in result["datasets"].items():
        console.print(f"\n[bold]{name}[/bold]", highlight=False)
        for line in _facts(name, d):
            console.print(f"  {line}", highlight=False)
        table = Table(title=f"{name} · per second of prediction", title_justify="left")
        table.add_column("model")
        table.add_column("s", justify="right")
        for _, title, _ in COLUMNS:
            table.add_column(title, justify="right")
        for row, sec, cells in table_rows(d, seconds):
            table.add_row(row, sec, *cells)
        console.print(table)
        for m, why in d["unavailable"].items():
            console.print(f"[yellow]{m} not available on {name}: {why}[/yellow]", highlight=False)
        titles, rows, line = goal_table(d)
        goals = Table(title=f"{name} · goals", title_justify="left")
        for k, t in enumerate(titles):
            goals.add_column(t, justify="left" if k == 0 else "right")
        for cells in rows:
            goals.add_row(*cells)
        console.print(goals)
        console.print(line, highlight=False)
    for name, why in result.get("left_out", {}).items():
        console.print(f"\n{name}: left out, {why}", style="yellow", highlight=False, markup=False)
    for line in corpus.corpus_note_lines(result.get("in_corpus", {})):
        console.print(f"\n{line}", style="yellow", highlight=False, markup=False)


def markdown(result: Mapping[str, Any], title: str = "### Long horizons (`posecast bench long-horizon`)") -> list[str]:
    """The docs section of a result: the protocol, then per data set its facts, table and goals (markdown lines)."""
    from posecast.evaluation.report import protocol_lines

    out = [title, "", *(f"- {line}" for line in protocol_lines(result["protocol"])), ""]
    seconds = summary_seconds(result["protocol"]["seconds"])
    head = "| model | s | " + " | ".join(t for _, t, _ in COLUMNS) + " |"
    for name, d in result["datasets"].items():
        out += [f"#### {name}", "", *(f"- {x}" for x in _facts(name, d)), ""]
        out += [head, "|---|---|" + "---|" * len(COLUMNS)]
        out += [f"| {row} | {sec} | " + " | ".join(cells) + " |" for row, sec, cells in table_rows(d, seconds)]
        out.append("")
        for m, why in d["unavailable"].items():
            out.append(f"- {m} not available: {why}")
        titles, rows, line = goal_table(d)
        out += ["Goals:", "", "| " + " | ".join(titles) + " |", "|---" * len(titles) + "|"]
        out += ["| " + " | ".join(cells) + " |" for cells in rows]
        out += ["", line, ""]
    return out
