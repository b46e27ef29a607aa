"""Benchmarks of characteristic key-pose forecasting (`posecast bench keyposes`; moved from
``posecast.keyposes.bench``), after Diller et al., CVPR 2022, Sec. 6. Two protocols:

Corpus protocol (the default, ``--protocol corpus``; issue 16)
===============================================================

* **Data.** The test splits of `posecast.datasets.splits`: CMU BVH subjects 02 and 08, the Bandai Namco
  test styles, HDM05 actor ``bd`` (`posecast.keyposes.dataset.canonical_motions`), retargeted to the
  canonical body ``smplh-22`` at 25 fps; key poses mined on it with
  `posecast.keyposes.dataset.CORPUS_MINING`; windows of ``O = 10`` frames, hip-centred (root-relative,
  no rotation); per key pose the paper's five evaluation inputs (`posecast.keyposes.evaluation_starts`).
  ``--split validation`` evaluates the corpus validation split instead (for choices such as the
  sampling temperature; the test split is never used for choices).
* **Which key poses** (`select_keys`): every key pose of CMU BVH and HDM05; of Bandai (thousands of
  walk and run strides) at most ``--max-keys-per-class`` (`MAX_KEYS_PER_CLASS` = 40) per action class,
  evenly spread over the class's key poses in (file, key frame) order -- deterministic. The protocol
  block lists per data set and class the key poses available and evaluated.
* **Averaging** (`equal_weight`): per key pose the mean over its five inputs; per data set (and per
  action class, `posecast.datasets.actions`) the mean over its key poses; overall the mean over the
  data sets, each weighing the same.
* **Metrics** (metres), per input over ``K`` hypotheses (`input_metrics`): best-of-10 MPJPE (best-of-50
  too with ``--samples 50``; default 10 draws), root-aligned (every pose root-relative); top-1 MPJPE: the
  most probable of the first 10 hypotheses (`posecast.keyposes.sampling.Hypotheses.probabilities`; a
  deterministic method's top-1 is its pose); diversity: mean pairwise MPJPE of the first 10 hypotheses;
  bone-length error against the last observed frame; quality: inception-style score of the first 10
  hypotheses under the corpus pose classifier (its classes: the corpus action labels;
  ``--classifier``, default the shipped ``keypose-classifier/corpus``; left out when there is none), per
  data set and start point over all its inputs, averaged over start points then data sets
  (`corpus_quality`). Reference next to the diversity: the true key poses' spread for similar
  observations, the mean pairwise MPJPE of the key poses that follow the `SPREAD_NEIGHBOURS` (10)
  training windows, with distinct key poses, nearest to the input (`NearestKeyPose.spread`).
* **Methods.** ``charpose`` (refined; the ablations of the CMU BVH protocol only with ``--ablations``)
  and deterministic competitors trained on the corpus training split: the ``regression head``
  (``--regression-weights``, default the shipped ``charpose/corpus-regression``), ``dct-mlp +
  selector`` (the shipped ``dct-mlp/corpus`` forecaster rolled out 2 s from its own 50-frame history, a
  frame selector trained on `SELECTOR_PAIRS` training pairs; its oracle frame is a reference only), the
  ``nearest training key pose`` (retrieval on the canonicalised observed window, the key pose turned
  back into the input's orientation: `NearestKeyPose`; index of `RETRIEVAL_STARTS_PER_KEY` random
  windows per training key pose), ``zero-velocity`` and the ``average key pose`` (of the same training
  windows, in the heading frame of the last observed frame).
* **Result.** Top-level ``best_of_10_vs_best_deterministic``: charpose's best-of-10 over the lowest
  MPJPE among the deterministic methods (equal-weight means); also ``top1_vs_best_deterministic``,
  ``diversity_vs_true_spread`` and ``goal`` (ratio <= 0.74, top-1 not worse than the best deterministic
  method, diversity within `SPREAD_GOAL` of the true spread, bone-length error under 1 cm);
  ``per_class`` rows (data set, class, key poses, each method's best-of-10 / top-1).

CMU BVH protocol (``--protocol cmu-bvh``; the shipped ``charpose/cmu-bvh`` weights)
================================================================================

* **Data.** CMU BVH test subjects 02 and 08, key poses mined at 120 Hz (`posecast.keyposes.mine_keyposes`,
  default criterion), windows of ``O = 10`` frames at 25 fps, hip-centred (root-relative, no
  rotation); per key pose the paper's five evaluation inputs (`posecast.keyposes.evaluation_starts`:
  start, one-third, middle, two-thirds, latest), every metric averaged over the five.
* **Metrics** (metres unless said), per input over ``K`` hypotheses ``x_k`` (``(J, 3)``) and the true
  key pose ``y``:

  - best-of-K MPJPE: ``min_k mean_j |x_kj - y_j|`` for K = 10 and 50 (the first K of 50 independent
    draws); a deterministic method gives one pose, so its best-of-K is its MPJPE;
  - diversity: mean over the pairs ``k < l`` of the first 10 hypotheses of ``mean_j |x_kj - x_lj|``;
  - bone-length error: mean absolute difference between the hypotheses' bone lengths and those of
    the last observed frame (every bone of the skeleton; the true key poses score ~0: BVH skeletons
    are rigid);
  - quality: inception-style score ``exp(mean KL(p(y|x) || p(y)))`` of the first 10 hypotheses of all
    inputs of one start point under the shipped pose classifier (`posecast.keyposes.classifier`;
    4 coarse classes), averaged over the five start points; the true key poses' score is reported
    as a reference.
* **Methods.** ``charpose`` (K hypotheses, refined), its ablations switched off at evaluation time on
  the same weights (``not refined``: the same draws before refinement; ``no offsets``: joints at voxel
  centres; ``not autoregressive``: every joint drawn in one step with no sampled-joint tokens -- the
  paper retrains for the last two, we do not), and deterministic baselines: ``zero-velocity`` (the
  last observed pose), ``average key pose`` (the mean training key pose in the heading frame of the
  last observed frame), ``regression head`` (the paper's deterministic ablation on the same
  backbone, trained separately: `src/posecast/weights/charpose/cmu-bvh-regression`), and a sequence
  forecaster with a learned time-step selector (the shipped ``dct-mlp`` cmu-bvh forecaster, given
  its own 50-frame history ending at the last observed frame, rolled out 2 s; a small MLP trained on
  the training subjects scores each rolled-out frame and the arg-max frame is the answer, trained
  with cross-entropy on the frame closest to the true key pose). The oracle frame of that rollout
  (picked with the ground truth) is reported as a reference, not as a method.
* The JSON's top-level ``best_of_10_vs_best_deterministic`` is charpose's best-of-10 MPJPE divided by
  the lowest MPJPE of the deterministic methods.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posecast.errors import ModelError, SkeletonError, ValueRangeError
from posecast.keyposes.dataset import EVALUATION_STARTS, KeyPosePairs, build_pairs, pair_history, spread_pick
from posecast.keyposes.model import CharPoseNet, canonicalise
from posecast.keyposes.proposals import (
    FrameSelector,
    TimingProposals,
    canonical_rollout,
    fit_frame_selector,
    frame_times,
)
from posecast.keyposes.proposals import merge as merge_proposals
from posecast.keyposes.refine import bone_length_error
from posecast.keyposes.sampling import refine_hypotheses, sample_hypotheses
from posecast.motion import Motion
from posecast.skeletons.base import Skeleton

DETERMINISTIC = ("zero-velocity", "average key pose", "regression head", "dct-mlp + selector")
"""Deterministic methods, in table order (the best one sets the reference MPJPE)."""
ROLLOUT_S = 2.0
"""Seconds the sequence forecaster rolls out."""


@dataclass(frozen=True, eq=False)
class BenchData:
    """Evaluation (or selector-training) inputs.

    Attributes:
        pairs: the key-pose pairs (``observed (N, O, J, 3)`` root-relative, ``target (N, J, 3)``).
        history: ``(N, H, J, 3)`` world positions of the ``H`` frames ending at each pair's last
            observed frame (the clip's first frame repeated before its start), for sequence
            forecasters.
    """

    pairs: KeyPosePairs
    history: np.ndarray

    @property
    def skeleton(self) -> Skeleton:
        return self.pairs.skeleton

    def __len__(self) -> int:
        return len(self.pairs)


#: how the error and the five inputs are defined: as the paper's released evaluation code, which differs from
#: two lines of the paper's text (printed with every key-pose table)
PROTOCOL_AS_RELEASED = (
    "MPJPE is the mean Euclidean distance over the joints, as the paper's released evaluation code computes it "
    "(its Eq. 3 is printed with a squared norm); the five start points lie at 0, 1/3, 1/2, 2/3 and 1 of the "
    "range of window starts before each key pose, as that code picks them (the text says 'evenly distributed')."
)


def bench_data(
    motions: Sequence[Motion], *, history: int = 50, max_keys: int | None = None, **pair_options
) -> BenchData:
    """`build_pairs` of ``motions`` (options passed on) plus each pair's ``history`` world frames.

    ``max_keys`` keeps the pairs of the first ``max_keys`` key poses (a quick run).
    """
    pairs = build_pairs(motions, **pair_options)
    if max_keys is not None:
        keys = np.unique(np.stack([pairs.motion_index, pairs.key_frame], 1), axis=0)[:max_keys]
        hit = (pairs.motion_index[:, None] == keys[:, 0]) & (pairs.key_frame[:, None] == keys[:, 1])
        pairs = pairs.subset(np.flatnonzero(hit.any(axis=1)))
    return BenchData(pairs, pair_history(pairs, motions, history))


# ------------------------------------------------------------------------------------- metrics
def mpjpe(poses: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``(N, K)`` mean joint distance (m) of ``(N, K, J, 3)`` hypotheses to ``(N, J, 3)`` targets."""
    return (poses - target[:, None]).norm(dim=-1).mean(-1)


def diversity(poses: torch.Tensor) -> torch.Tensor:
    """``(N,)`` mean over hypothesis pairs ``k < l`` of the mean joint distance (0 for one hypothesis)."""
    k = poses.shape[1]
    if k < 2:
        return poses.new_zeros(poses.shape[0])
    d = (poses[:, :, None] - poses[:, None]).norm(dim=-1).mean(-1)  # (N, K, K)
    iu = torch.triu_indices(k, k, 1)
    return d[:, iu[0], iu[1]].mean(-1)


def score(
    poses: torch.Tensor,
    data: BenchData,
    classifier: Any,
    ks: Sequence[int] = (10, 50),
) -> dict[str, Any]:
    """Every metric of the module docstring for ``(N, K, J, 3)`` root-relative hypotheses.

    Per-input values are averaged within each start point, then over the start points present.
    """
    pairs = data.pairs
    target = torch.as_tensor(pairs.target)
    last = torch.as_tensor(pairs.observed[:, -1])
    err = mpjpe(poses, target)  # (N, K)
    first10 = poses[:, : min(10, poses.shape[1])]
    k_all = poses.shape[1]
    per_input = {f"best_of_{k}_mpjpe_m": err[:, :k].amin(-1) for k in ks if k <= k_all or k_all == 1}
    per_input["mean_mpjpe_m"] = err[:, : min(10, err.shape[1])].mean(-1)
    per_input["diversity_m"] = diversity(first10)
    per_input["bone_length_error_m"] = bone_length_error(first10, last[:, None], data.skeleton).mean(-1)
    kinds = [k for k in EVALUATION_STARTS if (pairs.start_kind == k).any()] or sorted(set(pairs.start_kind.tolist()))
    per_start: dict[str, dict[str, float]] = {}
    for kind in kinds:
        sel = torch.as_tensor(pairs.start_kind == kind)
        row = {name: float(v[sel].mean()) for name, v in per_input.items()}
        if classifier is not None:
            from posecast.keyposes.classifier import inception_score

            probs = classifier.probabilities(first10[sel].reshape(-1, *poses.shape[-2:]))
            row["quality_is"] = inception_score(probs)
        per_start[kind] = row
    out = {name: float(np.mean([per_start[k][name] for k in kinds])) for name in per_start[kinds[0]]}
    out["hypotheses"] = int(poses.shape[1])
    out["per_start"] = per_start
    return out


def reference_quality(data: BenchData, classifier: Any) -> float:
    """Inception-style score of the true key poses, averaged over the start points (each start's set
    holds every key pose once)."""
    from posecast.keyposes.classifier import inception_score

    kinds = [k for k in EVALUATION_STARTS if (data.pairs.start_kind == k).any()]
    vals = [
        inception_score(classifier.probabilities(torch.as_tensor(data.pairs.target[data.pairs.start_kind == k])))
        for k in kinds
    ]
    return float(np.mean(vals))


# ------------------------------------------------------------------------------------- charpose
@contextlib.contextmanager
def ablated(net: CharPoseNet, *, offsets: bool = True, autoregressive: bool = True) -> Iterator[CharPoseNet]:
    """Switch parts of a trained network off for evaluation (restored on exit).

    ``offsets=False`` drops the offset head (joints at voxel centres); ``autoregressive=False`` samples
    every joint in one step with no sampled-joint tokens.
    """
    saved_offset, saved_groups = net.offset_out, net.groups
    try:
        if not offsets:
            net.offset_out = None
        if not autoregressive:
            net.groups = [list(range(net.skeleton.num_joints))]
        yield net
    finally:
        net.offset_out, net.groups = saved_offset, saved_groups


@dataclass(frozen=True, eq=False)
class Draws:
    """Hypotheses of `charpose_draws`.

    Attributes:
        raw: ``(N, K, J, 3)`` root-relative poses as drawn (before refinement).
        refined: ``(N, K, J, 3)`` the same draws refined, or None (not asked, or a regression head).
        probabilities: ``(N, K)`` each hypothesis' probability (`posecast.keyposes.sampling`; refinement
            keeps them).
    """

    raw: torch.Tensor
    refined: torch.Tensor | None
    probabilities: torch.Tensor


def charpose_draws(
    net: CharPoseNet,
    observed: np.ndarray,
    samples: int,
    *,
    refine: bool = True,
    temperature: float | None = None,
    seed: int = 0,
    chunk: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> Draws:
    """``samples`` hypotheses of each of the ``(N, O, J, 3)`` inputs, drawn in chunks with one seeded
    generator at ``temperature`` (default: the network's); the refined ones start from the same draws."""
    gen = torch.Generator().manual_seed(seed)
    obs = torch.as_tensor(observed, dtype=torch.float32)
    raw, ref, prob = [], [], []
    for i in range(0, len(obs), chunk):
        h = sample_hypotheses(
            net, obs[i : i + chunk], samples=samples, temperature=temperature, generator=gen, keep_levels=refine
        )
        raw.append(h.poses)
        prob.append(h.probabilities)
        if refine and net.regressor is None:
            ref.append(refine_hypotheses(net, h).poses)
        if progress is not None:
            progress(min(i + chunk, len(obs)), len(obs))
    j = net.skeleton.num_joints
    empty = torch.zeros(0, samples, j, 3)
    refined = (torch.cat(ref) if ref else empty) if refine and net.regressor is None else None
    return Draws(torch.cat(raw) if raw else empty, refined, torch.cat(prob) if prob else torch.zeros(0, samples))


def charpose_hypotheses(
    net: CharPoseNet,
    observed: np.ndarray,
    samples: int,
    *,
    refine: bool = True,
    seed: int = 0,
    chunk: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(unrefined (N, K, J, 3), refined (N, K, J, 3) or None)`` hypotheses of ``(N, O, J, 3)`` inputs
    (`charpose_draws` at the network's temperature; a regression head gives ``(poses, empty)`` when
    ``refine``)."""
    d = charpose_draws(net, observed, samples, refine=refine, seed=seed, chunk=chunk, progress=progress)
    if refine and d.refined is None:
        return d.raw, torch.zeros(0, samples, net.skeleton.num_joints, 3)
    return d.raw, d.refined


# ------------------------------------------------------------------------------------- baselines
def average_keypose(pairs: KeyPosePairs) -> np.ndarray:
    """``(J, 3)`` mean training key pose in the heading frame of each pair's last observed frame."""
    obs = torch.as_tensor(pairs.observed)
    _, tgt_c, _ = canonicalise(obs, pairs.skeleton, "heading", torch.as_tensor(pairs.target))
    assert tgt_c is not None
    return tgt_c.mean(0).numpy()


def average_keypose_forecast(mean_pose: np.ndarray, observed: np.ndarray, skeleton: Skeleton) -> torch.Tensor:
    """``(N, 1, J, 3)``: the canonical mean pose turned into each input's heading."""
    _, _, rot = canonicalise(torch.as_tensor(observed), skeleton, "heading")
    return (torch.as_tensor(mean_pose, dtype=torch.float32)[None] @ rot)[:, None]


Rollout = Callable[[torch.Tensor, int], torch.Tensor]
"""``(N, H, J, 3)`` world history, frames → ``(N, frames, J, 3)`` world forecast."""


@dataclass
class SequenceBaseline:
    """A sequence forecaster plus a learned frame selector."""

    name: str
    rollout: Rollout
    frames: int
    fps: float
    selector: FrameSelector
    training: dict[str, Any]
    history: int = 50
    """World frames of history the rollout is given (`BenchData.history`)."""

    def rolled(self, data: BenchData, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(rollout_c (N, F, J, 3), last_c (N, J, 3), rot (N, 3, 3))``: the rolled-out frames root-relative
        in the heading frame of the last observed frame (`posecast.keyposes.proposals.canonical_rollout`)."""
        hist = torch.as_tensor(data.history)
        with torch.no_grad():
            parts = [self.rollout(hist[i : i + batch], self.frames) for i in range(0, len(hist), batch)]
        roll = torch.cat(parts).float() if parts else torch.zeros(0, self.frames, data.skeleton.num_joints, 3)
        return canonical_rollout(roll, torch.as_tensor(data.pairs.observed), data.skeleton)

    def predict(self, data: BenchData) -> tuple[torch.Tensor, torch.Tensor]:
        """``(selected (N, 1, J, 3), oracle (N, 1, J, 3))`` root-relative poses in the input's orientation
        (the oracle frame is the rolled-out frame closest to the true key pose)."""
        roll_c, last_c, rot = self.rolled(data)
        with torch.no_grad():
            pick = self.selector(roll_c, last_c, frame_times(self.frames, self.fps)).argmax(-1)
        roll = roll_c @ rot[:, None]  # back to the input's orientation (root-relative)
        ar = torch.arange(len(roll))
        target = torch.as_tensor(data.pairs.target)
        oracle = mpjpe(roll, target).argmin(-1)
        return roll[ar, pick][:, None], roll[ar, oracle][:, None]


def fit_sequence_baseline(
    name: str,
    rollout: Rollout,
    train: BenchData,
    *,
    fps: float,
    seconds: float = ROLLOUT_S,
    steps: int = 600,
    seed: int = 0,
    batch_size: int | None = None,
) -> SequenceBaseline:
    """Train the frame selector of ``rollout`` on ``train`` (`posecast.keyposes.proposals.fit_frame_selector`:
    cross-entropy on the frame closest to the true key pose; Adam, ``steps`` steps on the full batch, or on
    ``batch_size`` pairs drawn at random)."""
    frames = max(1, int(round(seconds * fps)))
    base = SequenceBaseline(
        name, rollout, frames, fps, FrameSelector(train.skeleton.num_joints), {}, int(train.history.shape[1])
    )
    roll_c, last_c, _ = base.rolled(train)
    _, tgt_c, _ = canonicalise(
        torch.as_tensor(train.pairs.observed), train.skeleton, "heading", torch.as_tensor(train.pairs.target)
    )
    assert tgt_c is not None
    base.selector, base.training = fit_frame_selector(
        roll_c, last_c, tgt_c, fps, steps=steps, batch_size=batch_size, seed=seed
    )
    return base


def neural_rollout(forecaster: Any) -> Rollout:
    """A `posecast.models.neural.NeuralForecaster` as a `Rollout` (its ``history`` frames are used)."""

    def run(history: torch.Tensor, frames: int) -> torch.Tensor:
        return forecaster.rollout(history[:, -forecaster.config.history :].float(), frames)

    return run


# ------------------------------------------------------------------------------------- the bench
def run_bench(
    data: BenchData,
    *,
    net: CharPoseNet,
    classifier: Any,
    mean_keypose: np.ndarray,
    regression: CharPoseNet | None = None,
    sequence: SequenceBaseline | None = None,
    samples: int = 50,
    ks: Sequence[int] = (10, 50),
    seed: int = 0,
    model_name: str = "charpose",
    ablations: bool = True,
    ablation_samples: int = 10,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Evaluate ``net``, its ablations and the baselines on ``data`` (module docstring); JSON-ready dict."""
    if len(data) == 0:
        raise ValueRangeError("no evaluation pairs (no key pose has a full observed window before it)")
    if samples < max(ks):
        raise ValueRangeError(f"samples ({samples}) must be at least the largest K ({max(ks)})")
    obs = data.pairs.observed
    methods: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}

    def tick(label: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, total: progress(label, done, total))

    def run_charpose(label: str, refined_label: str | None, k: int = samples, **switches: bool) -> None:
        t0 = time.time()
        with ablated(net, **switches):
            raw, ref = charpose_hypotheses(
                net, obs, k, refine=refined_label is not None, seed=seed, progress=tick(refined_label or label)
            )
        timings[refined_label or label] = round(time.time() - t0, 1)
        if refined_label is not None:
            assert ref is not None
            methods[refined_label] = {"kind": "multi-hypothesis", **score(ref, data, classifier, ks)}
        if label:
            methods[label] = {"kind": "multi-hypothesis", **score(raw, data, classifier, ks)}

    run_charpose(f"{model_name}, not refined" if ablations else "", model_name)
    if ablations:
        run_charpose("", f"{model_name}, no offsets", ablation_samples, offsets=False)
        run_charpose("", f"{model_name}, not autoregressive", ablation_samples, autoregressive=False)
    last = torch.as_tensor(obs[:, -1])[:, None]
    methods["zero-velocity"] = {"kind": "deterministic", **score(last, data, classifier, ks)}
    avg = average_keypose_forecast(mean_keypose, obs, data.skeleton)
    methods["average key pose"] = {"kind": "deterministic", **score(avg, data, classifier, ks)}
    if regression is not None:
        t0 = time.time()
        reg, _ = charpose_hypotheses(regression, obs, 1, refine=False, seed=seed)
        timings["regression head"] = round(time.time() - t0, 1)
        methods["regression head"] = {"kind": "deterministic", **score(reg, data, classifier, ks)}
    if sequence is not None:
        t0 = time.time()
        picked, oracle = sequence.predict(data)
        timings[f"{sequence.name} + selector"] = round(time.time() - t0, 1)
        methods[f"{sequence.name} + selector"] = {
            "kind": "deterministic",
            "selector_training": sequence.training,
            **score(picked, data, classifier, ks),
        }
        methods[f"{sequence.name}, oracle frame (reference)"] = {
            "kind": "oracle",
            **score(oracle, data, classifier, ks),
        }
    det = {n: m["best_of_10_mpjpe_m"] for n, m in methods.items() if m["kind"] == "deterministic"}
    best_det = min(det, key=det.__getitem__)
    full = methods[model_name]
    ratio = full["best_of_10_mpjpe_m"] / det[best_det]
    others_div = max(m["diversity_m"] for n, m in methods.items() if m["kind"] == "deterministic")
    bone_ref = min(m["bone_length_error_m"] for m in methods.values() if m["kind"] == "deterministic")
    truth = {"quality_is": reference_quality(data, classifier)} if classifier is not None else {}
    truth["bone_length_error_m"] = float(
        bone_length_error(torch.as_tensor(data.pairs.target), torch.as_tensor(obs[:, -1]), data.skeleton).mean()
    )
    n_keys = len(np.unique(np.stack([data.pairs.motion_index, data.pairs.key_frame], 1), axis=0))
    return {
        "benchmark": "keyposes",
        "model": model_name,
        "best_of_10_vs_best_deterministic": ratio,
        "best_deterministic": best_det,
        "goal": {
            "best_of_10_at_least_26_percent_below_best_deterministic": bool(ratio <= 0.74),
            "more_diverse_than_every_baseline": bool(full["diversity_m"] > others_div),
            "bone_length_error_not_above_best_deterministic": bool(full["bone_length_error_m"] <= bone_ref + 1e-4),
        },
        "protocol": {
            "data": "CMU BVH",
            "subjects": _subjects(data.pairs.files),
            "fps": data.pairs.fps,
            "observed_frames": int(obs.shape[1]),
            "joints": data.skeleton.num_joints,
            "skeleton": data.skeleton.name,
            "positions": "root-relative (hip-centred), no rotation",
            "units": "metres",
            "key_poses": n_keys,
            "inputs": len(data),
            "start_points": [k for k in EVALUATION_STARTS if (data.pairs.start_kind == k).any()],
            "samples_drawn": samples,
            "ablation_samples_drawn": ablation_samples if ablations else None,
            "best_of_k": list(ks),
            "diversity_and_quality_hypotheses": 10,
            "seed": seed,
            "averaging": "mean within each start point, then over the start points",
            "as_released": PROTOCOL_AS_RELEASED,
            "sequence_rollout_s": ROLLOUT_S,
        },
        "methods": methods,
        "ground_truth": truth,
        "seconds": timings,
    }


def _subjects(files: Sequence[str]) -> list[str]:
    """Names of the folders holding the files (the CMU subjects), or the files themselves."""
    parts = [f.replace("\\", "/").split("/") for f in files]
    return sorted({p[-2] if len(p) > 1 else p[-1] for p in parts})


def markdown(result: dict[str, Any]) -> str:
    """The result as a markdown fragment: protocol line and one table (mm, quality unitless)."""
    p = result["protocol"]
    lines = [
        f"Key-pose forecasting on CMU BVH test subjects {', '.join(p['subjects'])}: {p['key_poses']} mined key "
        f"poses x {len(p['start_points'])} start points ({', '.join(p['start_points'])}) = {p['inputs']} inputs; "
        f"{p['observed_frames']} observed frames at {p['fps']:g} fps; {p['joints']} joints, root-relative; "
        f"best-of-K over the first K of {p['samples_drawn']} draws (ablations: {p['ablation_samples_drawn']}; "
        f"seed {p['seed']}); diversity, bone-length "
        "error and quality over the first 10 hypotheses; every number averaged over the start points. "
        "MPJPE, diversity and bone-length error in mm; quality: inception-style score under a 4-class "
        "pose classifier (true key poses: "
        f"{result['ground_truth'].get('quality_is', math.nan):.2f}). " + PROTOCOL_AS_RELEASED,
        "",
        "| method | kind | best-of-10 MPJPE | best-of-50 MPJPE | diversity | bone-length error | quality (IS) |",
        "|---|---|---|---|---|---|---|",
    ]
    keys = ("best_of_10_mpjpe_m", "best_of_50_mpjpe_m", "diversity_m", "bone_length_error_m")
    for name, m in result["methods"].items():
        mm = [f"{1000 * m[k]:.1f}" if k in m else "-" for k in keys]
        lines.append(f"| {name} | {m['kind']} | " + " | ".join(mm) + f" | {m.get('quality_is', math.nan):.2f} |")
    starts = p["start_points"]
    lines += [
        "",
        "Best-of-10 MPJPE (mm) per start point (start: the earliest input, latest: the frame before the key pose):",
        "",
        "| method | " + " | ".join(starts) + " |",
        "|---|" + "---|" * len(starts),
    ]
    for name, m in result["methods"].items():
        row = [f"{1000 * m['per_start'][k]['best_of_10_mpjpe_m']:.1f}" for k in starts]
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    g = result["goal"]
    lines += [
        "",
        f"charpose best-of-10 / best deterministic ({result['best_deterministic']}): "
        f"{result['best_of_10_vs_best_deterministic']:.3f} (goal <= 0.74: "
        f"{'met' if g['best_of_10_at_least_26_percent_below_best_deterministic'] else 'not met'}); more diverse "
        f"than every baseline: {'yes' if g['more_diverse_than_every_baseline'] else 'no'}; bone-length error not "
        "above the best deterministic method's: "
        f"{'yes' if g['bone_length_error_not_above_best_deterministic'] else 'no'}.",
        "",
        "Notes: the ablations are switched off at evaluation time on the trained weights (no retraining); "
        "the regression head is the same backbone trained separately with an L2 loss; the sequence "
        "forecaster gets its own 50-frame (2 s) history and rolls out 2 s, and its selector (an MLP "
        "scoring every rolled-out frame) was trained on the training subjects; the oracle frame uses the "
        "ground truth and is only a reference. The quality classifier knows 4 coarse classes learnt "
        "from the training subjects (locomotion, playground, dance, basketball); the test subjects are "
        "mostly walks plus punches, swordplay, washing and a jump, so the score separates methods only "
        "weakly (compare with the true key poses' score).",
    ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- defaults
REGRESSION_VARIANT = "cmu-bvh-regression"
"""Shipped weights of the regression-head ablation (``weights/charpose/<this>``)."""


def evaluation_data(max_keys: int | None = None, history: int = 50) -> BenchData:
    """The evaluation inputs of the CMU BVH test subjects (02, 08): five start points per key pose."""
    from posecast.datasets.cmu_bvh import TEST_SUBJECTS
    from posecast.keyposes.dataset import cmu_bvh_motions_native

    motions, _ = cmu_bvh_motions_native(TEST_SUBJECTS)
    return bench_data(motions, history=history, max_keys=max_keys, starts="evaluation")


def default_components(
    net: CharPoseNet, *, regression_weights: Any = None, seed: int = 0, sequence_model: str = "dct-mlp"
) -> dict[str, Any]:
    """Everything `run_bench` needs besides the data, from the CMU BVH training subjects and the shipped
    weights: ``net``, ``classifier``, ``mean_keypose``, ``regression``, ``sequence`` (selector trained here)."""
    from posecast.datasets.cmu_bvh import TRAIN_SUBJECTS
    from posecast.keyposes.classifier import NAME as CLASSIFIER
    from posecast.keyposes.classifier import load_classifier
    from posecast.keyposes.dataset import cmu_bvh_motions_native
    from posecast.keyposes.model import load_charpose
    from posecast.models import store
    from posecast.models.neural import load_pretrained

    cfg = net.config
    motions, _ = cmu_bvh_motions_native(TRAIN_SUBJECTS)
    train_mean = build_pairs(motions, fps=cfg.fps, observed=cfg.observed, starts="evaluation")
    regression = load_charpose(regression_weights or store.shipped("charpose", REGRESSION_VARIANT))
    forecaster = load_pretrained(sequence_model, "cmu-bvh")
    sel_train = bench_data(
        motions,
        history=forecaster.config.history,
        fps=cfg.fps,
        observed=cfg.observed,
        starts="random",
        starts_per_key=3,
        seed=seed,
    )
    sequence = fit_sequence_baseline(sequence_model, neural_rollout(forecaster), sel_train, fps=cfg.fps, seed=seed)
    return {
        "net": net,
        "classifier": load_classifier(store.shipped(CLASSIFIER, "cmu-bvh")),
        "mean_keypose": average_keypose(train_mean),
        "regression": regression,
        "sequence": sequence,
    }


# =================================================================================== corpus protocol
CORPUS_SKELETON = "smplh-22"
"""The body the corpus protocol runs on (`posecast.keyposes.dataset.CORPUS_SKELETON`)."""
CAPPED_DATASETS = ("bandai_namco",)
"""Data sets whose key poses are capped per action class (`select_keys`)."""
MAX_KEYS_PER_CLASS = 40
"""Default cap of key poses per action class of a capped data set."""
RETRIEVAL_STARTS_PER_KEY = 5
"""Random training windows per training key pose in the retrieval index (`NearestKeyPose`)."""
VELOCITY_WEIGHT = 5.0
"""Weight of the frame-to-frame differences against the positions in the retrieval feature (looked at on
300 key poses of the corpus validation split: weights 0 to 10 give the same nearest-key-pose MPJPE within
a millimetre, 20 is 5 mm worse)."""
SPREAD_NEIGHBOURS = 10
"""Distinct training key poses whose spread is the reference for the hypotheses' diversity."""
SELECTOR_PAIRS = 4000
"""Training pairs (evenly spread) the frame selector of the sequence forecaster learns from."""
SPREAD_GOAL = (0.5, 2.0)
"""Diversity over the true spread counts as "of the order of" it inside this range."""
BONE_GOAL_M = 0.01
"""Bone-length error goal (m)."""
CORPUS_DETERMINISTIC = (
    "regression head",
    "dct-mlp + selector",
    "nearest training key pose",
    "zero-velocity",
    "average key pose",
)
"""Deterministic methods of the corpus protocol, in table order."""


def key_ids(pairs: KeyPosePairs) -> np.ndarray:
    """``(N,)`` index of each pair's key pose (its motion and key frame) among the distinct key poses of
    ``pairs``, numbered in (motion, key frame) order."""
    if len(pairs) == 0:
        return np.zeros(0, np.int64)
    table = np.stack([pairs.motion_index, pairs.key_frame], 1)
    _, inverse = np.unique(table, axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


def _per_motion(pairs: KeyPosePairs, values: tuple[str, ...]) -> np.ndarray:
    return pairs.pair_values(values) if values else np.full(len(pairs), "", dtype=str)


def select_keys(
    pairs: KeyPosePairs,
    *,
    max_keys_per_class: int | None = MAX_KEYS_PER_CLASS,
    capped: Sequence[str] = CAPPED_DATASETS,
    max_keys: int | None = None,
) -> tuple[np.ndarray, dict[str, dict[str, dict[str, int]]]]:
    """The pairs kept for evaluation, all the starts of a kept key pose together.

    Per data set in ``capped``, at most ``max_keys_per_class`` key poses of each action class, evenly
    spread over the class's key poses in (file, key frame) order (deterministic); the other data sets
    keep every key pose. ``max_keys`` (a quick run): then at most ``ceil(max_keys / data sets)`` key
    poses per data set, evenly spread over those left.

    Returns:
        ``(sorted pair indices, {data set: {class: {"available": n, "evaluated": m}}})``.
    """
    if len(pairs) == 0:
        return np.zeros(0, np.int64), {}
    kid = key_ids(pairs)
    n_keys = int(kid.max()) + 1
    first = np.full(n_keys, len(pairs))
    np.minimum.at(first, kid, np.arange(len(pairs)))
    ds = _per_motion(pairs, pairs.datasets)[first]
    lab = _per_motion(pairs, pairs.labels)[first]
    names = list(dict.fromkeys(ds.tolist()))
    per_set = None if max_keys is None else -(-int(max_keys) // len(names))
    keep = np.zeros(n_keys, bool)
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for d in names:
        in_d = np.flatnonzero(ds == d)
        classes = sorted(set(lab[in_d].tolist()))
        if d in capped and max_keys_per_class is not None:
            chosen = np.sort(np.concatenate([spread_pick(in_d[lab[in_d] == c], max_keys_per_class) for c in classes]))
        else:
            chosen = in_d
        if per_set is not None:
            chosen = spread_pick(chosen, per_set)
        keep[chosen] = True
        counts[d] = {
            c: {"available": int((lab[in_d] == c).sum()), "evaluated": int((lab[chosen] == c).sum())} for c in classes
        }
    return np.flatnonzero(keep[kid]), counts


def corpus_evaluation_data(
    split: str = "test",
    *,
    datasets: Sequence[str] | None = None,
    fps: float = 25.0,
    observed: int = 10,
    history: int = 50,
    max_keys_per_class: int | None = MAX_KEYS_PER_CLASS,
    max_keys: int | None = None,
    max_files: int | None = None,
) -> tuple[BenchData, dict[str, dict[str, dict[str, int]]]]:
    """The evaluation inputs of the corpus protocol: the paper's five starts per key pose of ``split``
    (``"test"``: the test files of CMU BVH, Bandai Namco and HDM05 retargeted to ``smplh-22``;
    ``"validation"``: the corpus validation split), key poses mined with
    `posecast.keyposes.dataset.CORPUS_MINING`, the key poses kept by `select_keys`, and ``history``
    world frames per input (for sequence forecasters).

    Returns:
        ``(data, key-pose counts per data set and class as `select_keys` gives them)``.
    """
    from dataclasses import replace

    from posecast.keyposes.dataset import CORPUS_MINING, canonical_motions

    motions = canonical_motions(split, datasets, fps, max_files)
    if not motions:
        raise ValueRangeError(f"no {split} motions in {', '.join(datasets or ()) or 'the corpus'}")
    pairs = build_pairs(motions, fps=fps, observed=observed, starts="evaluation", mining=CORPUS_MINING)
    pairs = replace(
        pairs,
        datasets=tuple(str(m.metadata["dataset"]) for m in motions),
        labels=tuple(str(m.metadata["label"]) for m in motions),
    )
    keep, counts = select_keys(pairs, max_keys_per_class=max_keys_per_class, max_keys=max_keys)
    pairs = pairs.subset(keep)
    return BenchData(pairs, pair_history(pairs, motions, history)), counts


# ---------------------------------------------------------------------------------------- retrieval
def window_features(
    observed: torch.Tensor, skeleton: Skeleton, velocity_weight: float = VELOCITY_WEIGHT
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(features (N, F), rot (N, 3, 3))`` of ``(N, O, J, 3)`` observed windows: every frame
    root-relative in the heading frame of the last observed frame (`canonicalise`; ``canonical =
    root_relative @ rot.T``), flattened, followed by ``velocity_weight`` times the frame-to-frame
    differences of those positions; float32."""
    obs_c, _, rot = canonicalise(torch.as_tensor(observed, dtype=torch.float32), skeleton, "heading")
    n = obs_c.shape[0]
    vel = obs_c[:, 1:] - obs_c[:, :-1]
    return torch.cat([obs_c.reshape(n, -1), velocity_weight * vel.reshape(n, -1)], dim=1), rot


@dataclass(eq=False)
class NearestKeyPose:
    """The "nearest training key pose" baseline and the spread of similar observations.

    Retrieval on the observed window: every training window is canonicalised (root-relative, turned
    into the heading frame of its last observed frame; `window_features`: positions plus weighted
    velocities), and so is a test window; the training pair nearest in Euclidean feature distance
    answers with its key pose, which is stored in its own canonical frame and turned back into the test
    window's orientation (``pose = canonical @ rot`` of the test window; the canonicalisation undone).

    Attributes:
        features: ``(M, F)`` training window features.
        keyposes: ``(M, J, 3)`` training key poses, root-relative in their windows' canonical frames.
        key: ``(M,)`` key-pose id of each training pair (`key_ids`): windows of one key pose share it.
        skeleton: joint layout.
        velocity_weight: as in `window_features`.
    """

    features: torch.Tensor
    keyposes: torch.Tensor
    key: np.ndarray
    skeleton: Skeleton
    velocity_weight: float = VELOCITY_WEIGHT

    @classmethod
    def fit(cls, pairs: KeyPosePairs, velocity_weight: float = VELOCITY_WEIGHT) -> NearestKeyPose:
        """The index of the training ``pairs``."""
        if len(pairs) == 0:
            raise ValueRangeError("no training pairs to retrieve key poses from")
        feats, _ = window_features(torch.as_tensor(pairs.observed), pairs.skeleton, velocity_weight)
        _, tgt_c, _ = canonicalise(
            torch.as_tensor(pairs.observed), pairs.skeleton, "heading", torch.as_tensor(pairs.target)
        )
        assert tgt_c is not None
        return cls(feats, tgt_c.float(), key_ids(pairs), pairs.skeleton, float(velocity_weight))

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def neighbours(
        self, observed: np.ndarray | torch.Tensor, k: int = 1, chunk: int = 256
    ) -> tuple[np.ndarray, torch.Tensor]:
        """``(indices (N, k), rot (N, 3, 3))``: for each ``(N, O, J, 3)`` window the ``k`` nearest training
        pairs with distinct key poses (nearest first; fewer distinct key poses than ``k`` in the index
        repeat the last), and the window's canonical rotation."""
        feats, rot = window_features(torch.as_tensor(observed), self.skeleton, self.velocity_weight)
        per_key = int(np.bincount(self.key).max())
        m = min(len(self), k * per_key)
        out = np.zeros((len(feats), k), np.int64)
        for i in range(0, len(feats), chunk):
            d = torch.cdist(feats[i : i + chunk], self.features)
            idx = d.topk(m, dim=1, largest=False).indices.numpy()
            for r, row in enumerate(idx):
                _, first = np.unique(self.key[row], return_index=True)
                picked = row[np.sort(first)][:k]
                out[i + r, : len(picked)] = picked
                out[i + r, len(picked) :] = picked[-1]
        return out, rot

    def predict(self, observed: np.ndarray | torch.Tensor) -> torch.Tensor:
        """``(N, 1, J, 3)`` the nearest training key pose of each window, root-relative in the window's
        orientation."""
        idx, rot = self.neighbours(observed, 1)
        return (self.keyposes[torch.as_tensor(idx[:, 0])] @ rot)[:, None]

    def spread(self, observed: np.ndarray | torch.Tensor, k: int = SPREAD_NEIGHBOURS) -> np.ndarray:
        """``(N,)`` mean pairwise MPJPE (m) among the true key poses of the ``k`` training pairs (distinct
        key poses) nearest to each window: how far apart the key poses that follow similar
        observations lie."""
        idx, _ = self.neighbours(observed, k)
        return diversity(self.keyposes[torch.as_tensor(idx)]).numpy()


# ---------------------------------------------------------------------------------------- metrics
def input_metrics(
    poses: torch.Tensor, probabilities: torch.Tensor | None, data: BenchData, ks: Sequence[int] = (10,)
) -> dict[str, np.ndarray]:
    """Per-input ``(N,)`` metrics of ``(N, K, J, 3)`` root-relative hypotheses (metres).

    ``best_of_<k>_mpjpe_m`` for each ``k`` of ``ks`` (the first ``k``; every ``k`` when ``K = 1``, else only
    ``k <= K``); ``top1_mpjpe_m``: the most probable of the first 10 (``probabilities (N, K)``; the first
    one when None); ``mean_mpjpe_m``, ``diversity_m`` and ``bone_length_error_m`` (against the last observed
    frame) over the first 10.
    """
    pairs = data.pairs
    target = torch.as_tensor(pairs.target)
    last = torch.as_tensor(pairs.observed[:, -1])
    k_all = poses.shape[1]
    first = min(10, k_all)
    err = mpjpe(poses, target)  # (N, K)
    out = {f"best_of_{k}_mpjpe_m": err[:, :k].amin(-1) for k in ks if k <= k_all or k_all == 1}
    pick = torch.zeros(len(poses), dtype=torch.long) if probabilities is None else probabilities[:, :first].argmax(-1)
    out["top1_mpjpe_m"] = err[torch.arange(len(poses)), pick]
    out["mean_mpjpe_m"] = err[:, :first].mean(-1)
    out["diversity_m"] = diversity(poses[:, :first])
    out["bone_length_error_m"] = bone_length_error(poses[:, :first], last[:, None], data.skeleton).mean(-1)
    return {name: v.double().numpy() for name, v in out.items()}


def equal_weight(values: np.ndarray, pairs: KeyPosePairs) -> dict[str, Any]:
    """Averages of per-input ``values (N,)``: per key pose the mean over its inputs (the five starts), per
    data set (and per action class within it) the mean over its key poses, overall the mean over the data
    sets (each weighs the same).

    Returns:
        ``{"overall": float, "datasets": {data set: float}, "classes": {data set: {class: float}},
        "key_poses": {data set: {class: count}}}``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(pairs),) or len(pairs) == 0:
        raise ValueRangeError(f"need one value per pair ({len(pairs)} pairs, > 0), got shape {values.shape}")
    kid = key_ids(pairs)
    per_key = np.bincount(kid, values) / np.bincount(kid)
    first = np.full(len(per_key), len(pairs))
    np.minimum.at(first, kid, np.arange(len(pairs)))
    ds = _per_motion(pairs, pairs.datasets)[first]
    lab = _per_motion(pairs, pairs.labels)[first]
    datasets: dict[str, float] = {}
    classes: dict[str, dict[str, float]] = {}
    counts: dict[str, dict[str, int]] = {}
    for d in dict.fromkeys(ds.tolist()):
        in_d = ds == d
        datasets[d] = float(per_key[in_d].mean())
        classes[d] = {c: float(per_key[in_d & (lab == c)].mean()) for c in sorted(set(lab[in_d].tolist()))}
        counts[d] = {c: int((in_d & (lab == c)).sum()) for c in classes[d]}
    return {
        "overall": float(np.mean(list(datasets.values()))),
        "datasets": datasets,
        "classes": classes,
        "key_poses": counts,
    }


def corpus_quality(poses: torch.Tensor, pairs: KeyPosePairs, classifier: Any) -> dict[str, Any]:
    """Inception-style score of ``(N, K, J, 3)`` poses (the first 10 per input): per data set and start
    point over all inputs of that start, averaged over the start points; overall the mean over the data
    sets. ``{"overall": float, "datasets": {data set: float}}``."""
    from posecast.keyposes.classifier import inception_score

    poses = poses[:, : min(10, poses.shape[1])]
    ds = _per_motion(pairs, pairs.datasets)
    per_set: dict[str, float] = {}
    for d in dict.fromkeys(ds.tolist()):
        vals = []
        for kind in dict.fromkeys(pairs.start_kind.tolist()):
            sel = torch.as_tensor((ds == d) & (pairs.start_kind == kind))
            if bool(sel.any()):
                vals.append(inception_score(classifier.probabilities(poses[sel].reshape(-1, *poses.shape[-2:]))))
        per_set[d] = float(np.mean(vals))
    return {"overall": float(np.mean(list(per_set.values()))), "datasets": per_set}


def summarise(per_input: dict[str, np.ndarray], pairs: KeyPosePairs) -> dict[str, Any]:
    """One method's entry: every metric of ``per_input`` averaged by `equal_weight` (overall, ``per_dataset``,
    ``per_class``) and ``per_start`` (the same averaging over the inputs of each start point)."""
    out: dict[str, Any] = {}
    per_dataset: dict[str, dict[str, Any]] = {}
    per_class: dict[str, dict[str, dict[str, Any]]] = {}
    for name, values in per_input.items():
        avg = equal_weight(values, pairs)
        out[name] = avg["overall"]
        for d, v in avg["datasets"].items():
            per_dataset.setdefault(d, {"key_poses": sum(avg["key_poses"][d].values())})[name] = v
            for c, cv in avg["classes"][d].items():
                per_class.setdefault(d, {}).setdefault(c, {"key_poses": avg["key_poses"][d][c]})[name] = cv
    per_start: dict[str, dict[str, float]] = {}
    for kind in [k for k in EVALUATION_STARTS if (pairs.start_kind == k).any()]:
        sel = np.flatnonzero(pairs.start_kind == kind)
        sub = pairs.subset(sel)
        per_start[kind] = {
            name: equal_weight(per_input[name][sel], sub)["overall"]
            for name in per_input
            if name.startswith("best_of_10") or name == "top1_mpjpe_m"
        }
    out.update(per_dataset=per_dataset, per_class=per_class, per_start=per_start)
    return out


# ------------------------------------------------------------------------------------ the corpus bench
def run_corpus_bench(
    data: BenchData,
    *,
    net: CharPoseNet,
    mean_keypose: np.ndarray,
    nearest: NearestKeyPose | None = None,
    classifier: Any = None,
    regression: CharPoseNet | None = None,
    sequence: SequenceBaseline | None = None,
    proposals: TimingProposals | None = None,
    key_counts: dict[str, dict[str, dict[str, int]]] | None = None,
    samples: int = 10,
    temperature: float | None = None,
    seed: int = 0,
    model_name: str = "charpose",
    ablations: bool = False,
    ablation_samples: int = 10,
    spread_neighbours: int = SPREAD_NEIGHBOURS,
    split: str = "test",
    max_keys_per_class: int | None = MAX_KEYS_PER_CLASS,
    notes: Sequence[str] = (),
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Evaluate ``net`` and the deterministic methods on corpus ``data`` (module docstring, corpus
    protocol); a JSON-ready dict whose top-level ``best_of_10_vs_best_deterministic`` is charpose's
    best-of-10 MPJPE over the lowest MPJPE of the deterministic methods (equal-weight means).

    Methods left as None are left out (and named in ``notes``); ``key_counts`` (`select_keys`) go into the
    protocol block; ``nearest`` also gives the true spread of similar observations.
    """
    if len(data) == 0:
        raise ValueRangeError("no evaluation pairs (no key pose has a full observed window before it)")
    if samples < 10:
        raise ValueRangeError(f"samples must be at least 10 (best-of-10), got {samples}")
    if classifier is not None and not classifier.skeleton.same_layout(data.skeleton):
        raise SkeletonError(
            f"the quality classifier is on {classifier.skeleton.name!r}, the benchmark on {data.skeleton.name!r}"
        )
    ks = (10, 50) if samples >= 50 else (10,)
    pairs = data.pairs
    obs = pairs.observed
    methods: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}

    def tick(label: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, total: progress(label, done, total))

    def add(name: str, kind: str, poses: torch.Tensor, prob: torch.Tensor | None = None, **extra: Any) -> None:
        entry = {
            "kind": kind,
            "hypotheses": int(poses.shape[1]),
            **extra,
            **summarise(input_metrics(poses, prob, data, ks), pairs),
        }
        if classifier is not None:
            q = corpus_quality(poses, pairs, classifier)
            entry["quality_is"] = q["overall"]
            for d, v in q["datasets"].items():
                entry["per_dataset"][d]["quality_is"] = v
        methods[name] = entry

    def run_charpose(name: str, k: int, with_raw: bool, merge: bool = False, **switches: bool) -> None:
        t0 = time.time()
        with ablated(net, **switches):
            d = charpose_draws(net, obs, k, refine=True, temperature=temperature, seed=seed, progress=tick(name))
        drawn = d.raw if d.refined is None else d.refined
        if merge and proposals is not None:
            heat = f"{name}, heatmap draws only"
            timings[heat] = round(time.time() - t0, 1)
            add(heat, "multi-hypothesis", drawn, d.probabilities)
            observed = torch.as_tensor(obs)
            frames, scores = proposals.scores(
                proposals.rollout(torch.as_tensor(data.history), pairs.fps), observed, data.skeleton, pairs.fps, net
            )
            last = observed[:, -1].float()
            poses, prob, source = merge_proposals(frames, scores, drawn, last, data.skeleton, proposals.settings)
            timings[name] = round(time.time() - t0, 1)
            add(name, "multi-hypothesis", poses, prob, rollout_share=float(source[:, :10].float().mean()))
            # the same cover over the rollout frames alone (no heatmap draw has belief): what the network adds
            only = proposals.settings.model_copy(update={"weight": 1.0})
            poses, prob, _ = merge_proposals(frames, scores, drawn, last, data.skeleton, only)
            add(f"{name}, rollout frames only", "multi-hypothesis", poses, prob)
        else:
            timings[name] = round(time.time() - t0, 1)
            add(name, "multi-hypothesis", drawn, d.probabilities)
        if with_raw and d.refined is not None:
            add(f"{name}, not refined", "multi-hypothesis", d.raw, d.probabilities)

    run_charpose(model_name, samples, ablations, merge=True)
    if ablations:
        run_charpose(f"{model_name}, no offsets", ablation_samples, False, offsets=False)
        run_charpose(f"{model_name}, not autoregressive", ablation_samples, False, autoregressive=False)
    skipped = list(notes)
    if regression is not None:
        t0 = time.time()
        reg = charpose_draws(regression, obs, 1, refine=False, seed=seed)
        timings["regression head"] = round(time.time() - t0, 1)
        add("regression head", "deterministic", reg.raw)
    if sequence is not None:
        t0 = time.time()
        picked, oracle = sequence.predict(data)
        name = f"{sequence.name} + selector"
        timings[name] = round(time.time() - t0, 1)
        add(name, "deterministic", picked, selector_training=sequence.training)
        add(f"{sequence.name}, oracle frame (reference)", "oracle", oracle)
    truth: dict[str, Any] = {}
    if nearest is not None:
        t0 = time.time()
        add("nearest training key pose", "deterministic", nearest.predict(obs), training_pairs=len(nearest))
        spread = equal_weight(nearest.spread(obs, spread_neighbours), pairs)
        timings["nearest training key pose"] = round(time.time() - t0, 1)
        truth["spread_of_similar_observations_m"] = spread["overall"]
        truth["spread_per_dataset_m"] = spread["datasets"]
        truth["spread_per_class_m"] = spread["classes"]
    add("zero-velocity", "deterministic", torch.as_tensor(obs[:, -1])[:, None])
    add("average key pose", "deterministic", average_keypose_forecast(mean_keypose, obs, data.skeleton))
    det = {n: m["best_of_10_mpjpe_m"] for n, m in methods.items() if m["kind"] == "deterministic"}
    best_det = min(det, key=det.__getitem__)
    full = methods[model_name]
    ratio = full["best_of_10_mpjpe_m"] / det[best_det]
    target = torch.as_tensor(pairs.target)
    truth["bone_length_error_m"] = equal_weight(
        bone_length_error(target, torch.as_tensor(obs[:, -1]), data.skeleton).double().numpy(), pairs
    )["overall"]
    if classifier is not None:
        truth["quality_is"] = corpus_quality(target[:, None], pairs, classifier)["overall"]
    goal: dict[str, Any] = {
        "best_of_10_at_least_26_percent_below_best_deterministic": bool(ratio <= 0.74),
        "top1_not_worse_than_best_deterministic": bool(full["top1_mpjpe_m"] <= det[best_det]),
        "bone_length_error_under_1_cm": bool(full["bone_length_error_m"] < BONE_GOAL_M),
    }
    spread_ratio = None
    if "spread_of_similar_observations_m" in truth and truth["spread_of_similar_observations_m"] > 0:
        spread_ratio = full["diversity_m"] / truth["spread_of_similar_observations_m"]
        goal["diversity_of_the_order_of_true_spread"] = bool(SPREAD_GOAL[0] <= spread_ratio <= SPREAD_GOAL[1])
    n_keys = int(key_ids(pairs).max()) + 1
    counts = equal_weight(np.zeros(len(pairs)), pairs)["key_poses"]
    per_class = [
        {
            "dataset": d,
            "class": c,
            "key_poses": n,
            **(
                {"key_poses_available": key_counts[d][c]["available"]}
                if key_counts and c in key_counts.get(d, {})
                else {}
            ),
            "true_spread_m": truth.get("spread_per_class_m", {}).get(d, {}).get(c),
            "methods": {
                name: {
                    k: m["per_class"][d][c][k]
                    for k in ("best_of_10_mpjpe_m", "top1_mpjpe_m", "diversity_m")
                    if k in m["per_class"][d][c]
                }
                for name, m in methods.items()
            },
        }
        for d, classes in counts.items()
        for c, n in classes.items()
    ]
    return {
        "benchmark": "keyposes-corpus",
        "model": model_name,
        "best_of_10_vs_best_deterministic": ratio,
        "top1_vs_best_deterministic": full["top1_mpjpe_m"] / det[best_det],
        "diversity_vs_true_spread": spread_ratio,
        "best_deterministic": best_det,
        "goal": goal,
        "protocol": {
            "data": "corpus test splits" if split == "test" else f"corpus {split} split",
            "split": split,
            "datasets": list(counts),
            "files": len(pairs.files),
            "fps": pairs.fps,
            "observed_frames": int(obs.shape[1]),
            "joints": data.skeleton.num_joints,
            "skeleton": data.skeleton.name,
            "positions": "root-relative (hip-centred), no rotation",
            "units": "metres",
            "key_poses": n_keys,
            "key_poses_per_dataset": {d: sum(c.values()) for d, c in counts.items()},
            "max_keys_per_class": max_keys_per_class,
            "capped_datasets": list(CAPPED_DATASETS),
            "key_poses_per_class": key_counts if key_counts is not None else counts,
            "inputs": len(data),
            "start_points": [k for k in EVALUATION_STARTS if (pairs.start_kind == k).any()],
            "samples_drawn": samples,
            "temperature": net.config.temperature if temperature is None else float(temperature),
            "ablation_samples_drawn": ablation_samples if ablations else None,
            "best_of_k": list(ks),
            "top1": "the most probable of the first 10 hypotheses (deterministic methods: their pose)",
            "diversity_and_quality_hypotheses": 10,
            "spread_neighbours": spread_neighbours,
            "seed": seed,
            "averaging": "per key pose the mean over its start points, per data set the mean over its key poses, "
            "overall the mean over the data sets (equal weight)",
            "as_released": PROTOCOL_AS_RELEASED,
            "sequence_rollout_s": ROLLOUT_S,
            "timing_proposals": None if proposals is None else proposals.settings.model_dump(),
            "classifier_classes": list(classifier.classes) if classifier is not None else None,
            "notes": skipped,
        },
        "methods": methods,
        "ground_truth": truth,
        "per_class": per_class,
        "seconds": timings,
    }


def corpus_markdown(result: dict[str, Any]) -> str:
    """The corpus result as markdown: protocol paragraph, the method table, the per-data-set and per-class
    best-of-10 / top-1 tables (mm), the goals."""
    p = result["protocol"]
    truth = result["ground_truth"]
    methods = result["methods"]
    mm = lambda v: "-" if v is None else f"{1000 * v:.1f}"  # noqa: E731
    per_set = ", ".join(f"{d} {n}" for d, n in p["key_poses_per_dataset"].items())
    cap = (
        f"at most {p['max_keys_per_class']} key poses per action class of {', '.join(p['capped_datasets'])} "
        "(evenly spread), every key pose of the others"
        if p["max_keys_per_class"] is not None
        else "every key pose"
    )
    lines = [
        f"Key-pose forecasting on the {p['data']} ({per_set} key poses; {cap}) x {len(p['start_points'])} start "
        f"points = {p['inputs']} inputs; {p['observed_frames']} observed frames at {p['fps']:g} fps on "
        f"{p['skeleton']} ({p['joints']} joints), root-relative. Best-of-K over the first K of "
        f"{p['samples_drawn']} draws (temperature {p['temperature']:g}, seed {p['seed']}); top-1: the most "
        "probable of the first 10; diversity, bone-length error and quality over the first 10. Averages: per "
        "key pose over its start points, per data set over its key poses, then the data sets weigh the same. "
        "MPJPE, diversity and bone-length error in mm. " + PROTOCOL_AS_RELEASED,
        "",
        "| method | kind | best-of-10 | "
        + ("best-of-50 | " if 50 in p["best_of_k"] else "")
        + "top-1 | diversity | bone-length error | quality (IS) |",
        "|---|---|---|" + ("---|" if 50 in p["best_of_k"] else "") + "---|---|---|---|",
    ]
    for name, m in methods.items():
        cells = [mm(m.get("best_of_10_mpjpe_m"))]
        if 50 in p["best_of_k"]:
            cells.append(mm(m.get("best_of_50_mpjpe_m")))
        cells += [mm(m["top1_mpjpe_m"]), mm(m["diversity_m"]), mm(m["bone_length_error_m"])]
        q = m.get("quality_is")
        lines.append(f"| {name} | {m['kind']} | " + " | ".join(cells) + f" | {'-' if q is None else f'{q:.2f}'} |")
    q = truth.get("quality_is")
    lines.append(
        "| true key poses | reference | - | "
        + ("- | " if 50 in p["best_of_k"] else "")
        + f"- | {mm(truth.get('spread_of_similar_observations_m'))} (spread of similar observations) | "
        f"{mm(truth['bone_length_error_m'])} | {'-' if q is None else f'{q:.2f}'} |"
    )
    sets = list(p["key_poses_per_dataset"])
    lines += [
        "",
        "Per data set, best-of-10 / top-1 MPJPE (mm):",
        "",
        "| method | " + " | ".join(f"{d} ({p['key_poses_per_dataset'][d]})" for d in sets) + " |",
        "|---|" + "---|" * len(sets),
    ]
    for name, m in methods.items():
        row = [
            f"{mm(m['per_dataset'][d]['best_of_10_mpjpe_m'])} / {mm(m['per_dataset'][d]['top1_mpjpe_m'])}" for d in sets
        ]
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    names = list(methods)
    lines += [
        "",
        "Per action class, best-of-10 / top-1 MPJPE (mm); charpose's diversity next to the true spread of "
        "similar observations (mm):",
        "",
        "| data set | class | key poses | " + " | ".join(names) + " | diversity / true spread |",
        "|---|---|---|" + "---|" * (len(names) + 1),
    ]
    model = result["model"]
    for row in result["per_class"]:
        cells = [
            f"{mm(row['methods'][n].get('best_of_10_mpjpe_m'))} / {mm(row['methods'][n].get('top1_mpjpe_m'))}"
            for n in names
        ]
        avail = row.get("key_poses_available")
        count = f"{row['key_poses']}" + (f" of {avail}" if avail is not None and avail != row["key_poses"] else "")
        spread = f"{mm(row['methods'][model].get('diversity_m'))} / {mm(row['true_spread_m'])}"
        lines.append(f"| {row['dataset']} | {row['class']} | {count} | " + " | ".join(cells) + f" | {spread} |")
    g = result["goal"]
    yes = lambda b: "met" if b else "not met"  # noqa: E731
    best = result["best_deterministic"]
    lines += [
        "",
        f"{model} best-of-10 / best deterministic ({best}): {result['best_of_10_vs_best_deterministic']:.3f} "
        f"(goal <= 0.74: {yes(g['best_of_10_at_least_26_percent_below_best_deterministic'])}); top-1 / best "
        f"deterministic: {result['top1_vs_best_deterministic']:.3f} (goal <= 1: "
        f"{yes(g['top1_not_worse_than_best_deterministic'])}); bone-length error "
        f"{mm(methods[model]['bone_length_error_m'])} mm (goal < 10 mm: {yes(g['bone_length_error_under_1_cm'])})"
        + (
            f"; diversity / true spread of similar observations {result['diversity_vs_true_spread']:.2f} (goal "
            f"{SPREAD_GOAL[0]:g} to {SPREAD_GOAL[1]:g}: {yes(g['diversity_of_the_order_of_true_spread'])})."
            if result.get("diversity_vs_true_spread") is not None
            else "."
        ),
    ]
    notes = [
        "the deterministic methods are trained on the corpus training split: the regression head (the charpose "
        "backbone with an L2 head), the dct-mlp corpus forecaster rolled out 2 s from its own history with a "
        "frame selector trained on training pairs (the oracle frame of that rollout uses the ground truth and "
        "is only a reference), the nearest training key pose (retrieval on the canonicalised observed window), "
        "the average training key pose in the heading of the last observed frame, and zero-velocity",
        "the true spread is the mean pairwise MPJPE of the key poses that follow the "
        f"{p['spread_neighbours']} training windows (distinct key poses) nearest to each input",
        *p["notes"],
    ]
    tp = p.get("timing_proposals")
    if tp:
        share = methods[model].get("rollout_share")
        notes.insert(
            0,
            f"{model}'s hypotheses are its heatmap draws merged with timing proposals (posecast.keyposes.proposals): "
            f"the {tp['forecaster']} {tp['variant']} forecaster rolls out {tp['seconds']:g} s from a 2 s history, "
            "a frame selector trained on corpus training pairs scores the frames, and the ten hypotheses are "
            "picked greedily among the frames (bone lengths of the last observed frame) and the ten draws to "
            f"cover the belief (selector softmax at temperature {tp['selector_temperature']:g} with weight "
            f"{tp['weight']:g}, the draws the rest); "
            + (f"{100 * share:.0f} % of the hypotheses are rollout frames; " if share is not None else "")
            + f"'{model}, heatmap draws only' is the paper's design alone",
        )
    lines += ["", "Notes: " + "; ".join(notes) + "."]
    return "\n".join(lines) + "\n"


def corpus_model_weights(model: str = "charpose") -> Path:
    """The shipped ``corpus`` weights of ``model``; a `ModelError` naming ``--weights`` when none are shipped."""
    from posecast.models import store

    if "corpus" not in store.variants(model):
        raise ModelError(
            f"{model!r} has no shipped corpus weights: pass --weights (a run or weights folder trained on the corpus)"
        )
    return store.shipped(model, "corpus")


def corpus_components(
    net: CharPoseNet,
    *,
    regression_weights: Path | None = None,
    classifier: Path | None = None,
    seed: int = 0,
    sequence_model: str = "dct-mlp",
    starts_per_key: int = RETRIEVAL_STARTS_PER_KEY,
    selector_pairs: int = SELECTOR_PAIRS,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Everything `run_corpus_bench` needs besides the data and the options, from the corpus TRAINING
    split (never the evaluation split) and the weights.

    * ``mean_keypose`` and ``nearest`` (`NearestKeyPose`): ``starts_per_key`` random windows per training
      key pose (`posecast.keyposes.dataset.CORPUS_MINING`).
    * ``regression``: ``regression_weights``, else the shipped ``charpose/corpus-regression``; left out
      (with a note) when neither exists.
    * ``sequence``: the shipped ``<sequence_model>/corpus`` forecaster with a frame selector trained on
      ``selector_pairs`` of those training pairs (evenly spread).
    * ``classifier``: the folder given, else the shipped ``keypose-classifier/corpus``; left out (with a
      note) when neither exists.

    Returns:
        ``{"net", "mean_keypose", "nearest", "regression", "sequence", "classifier", "notes"}``.
    """
    from dataclasses import replace

    from posecast.keyposes.classifier import NAME as CLASSIFIER
    from posecast.keyposes.classifier import load_classifier
    from posecast.keyposes.dataset import CORPUS_MINING, canonical_motions
    from posecast.keyposes.model import load_charpose
    from posecast.models import store
    from posecast.models.neural import load_pretrained

    def say(text: str) -> None:
        if progress is not None:
            progress(text)

    cfg = net.config
    notes: list[str] = []
    say("training corpus")
    motions = canonical_motions("train", fps=cfg.fps)
    train = build_pairs(
        motions,
        fps=cfg.fps,
        observed=cfg.observed,
        starts="random",
        starts_per_key=starts_per_key,
        seed=seed,
        mining=CORPUS_MINING,
    )
    train = replace(
        train,
        datasets=tuple(str(m.metadata["dataset"]) for m in motions),
        labels=tuple(str(m.metadata["label"]) for m in motions),
    )
    say("retrieval index")
    nearest = NearestKeyPose.fit(train)
    regression = None
    if regression_weights is None and "corpus-regression" in store.variants("charpose"):
        regression_weights = store.shipped("charpose", "corpus-regression")
    if regression_weights is not None:
        regression = load_charpose(store.resolve(regression_weights))
        if not regression.skeleton.same_layout(net.skeleton):
            raise SkeletonError(f"regression head on {regression.skeleton.name!r}, charpose on {net.skeleton.name!r}")
    else:
        notes.append("regression head not evaluated (no charpose/corpus-regression weights; pass --regression-weights)")
    cls = None
    if classifier is None and "corpus" in store.variants(CLASSIFIER):
        classifier = store.shipped(CLASSIFIER, "corpus")
    if classifier is not None:
        cls = load_classifier(Path(classifier))
    else:
        notes.append("quality not scored (no keypose-classifier/corpus weights; pass --classifier)")
    say("sequence forecaster and its selector")
    forecaster = load_pretrained(sequence_model, "corpus")
    sub = train.subset(spread_pick(np.arange(len(train)), selector_pairs))
    sel_train = BenchData(sub, pair_history(sub, motions, forecaster.config.history))
    sequence = fit_sequence_baseline(
        sequence_model, neural_rollout(forecaster), sel_train, fps=cfg.fps, seed=seed, batch_size=512
    )
    return {
        "net": net,
        "mean_keypose": average_keypose(train),
        "nearest": nearest,
        "regression": regression,
        "sequence": sequence,
        "classifier": cls,
        "notes": notes,
    }
