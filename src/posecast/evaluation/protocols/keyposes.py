"""Benchmark of characteristic key-pose forecasting (`posecast bench keyposes`; moved from
``posecast.keyposes.bench``). Data: the CMU BVH subject split of `posecast.datasets.cmu_bvh`.

Protocol (Diller et al., CVPR 2022, Sec. 6, on our data):

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
from typing import Any

import numpy as np
import torch
from torch import nn

from posecast.errors import ValueRangeError
from posecast.keyposes.dataset import EVALUATION_STARTS, KeyPosePairs, build_pairs
from posecast.keyposes.model import CharPoseNet, canonicalise
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
        pairs = _subset(pairs, np.flatnonzero(hit.any(axis=1)))
    resampled = [m.resample(pairs.fps).positions.astype(np.float32) for m in motions]
    o = pairs.observed.shape[1]
    out = np.zeros((len(pairs), history, pairs.skeleton.num_joints, 3), np.float32)
    for n in range(len(pairs)):
        pos = resampled[int(pairs.motion_index[n])]
        last = int(pairs.start_frame[n]) + o - 1
        idx = np.clip(np.arange(last - history + 1, last + 1), 0, None)
        out[n] = pos[idx]
    return BenchData(pairs, out)


def _subset(pairs: KeyPosePairs, idx: np.ndarray) -> KeyPosePairs:
    from dataclasses import replace

    return replace(
        pairs,
        observed=pairs.observed[idx],
        target=pairs.target[idx],
        motion_index=pairs.motion_index[idx],
        start_frame=pairs.start_frame[idx],
        key_frame=pairs.key_frame[idx],
        time_to_key=pairs.time_to_key[idx],
        start_kind=pairs.start_kind[idx],
    )


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
    """``(unrefined (N, K, J, 3), refined (N, K, J, 3) or None)`` hypotheses of ``(N, O, J, 3)`` inputs,
    drawn in chunks with one seeded generator; the refined ones start from the same draws."""
    gen = torch.Generator().manual_seed(seed)
    obs = torch.as_tensor(observed, dtype=torch.float32)
    raw, ref = [], []
    for i in range(0, len(obs), chunk):
        h = sample_hypotheses(net, obs[i : i + chunk], samples=samples, generator=gen, keep_levels=refine)
        raw.append(h.poses)
        if refine and net.regressor is None:
            ref.append(refine_hypotheses(net, h).poses)
        if progress is not None:
            progress(min(i + chunk, len(obs)), len(obs))
    j = net.skeleton.num_joints
    empty = torch.zeros(0, samples, j, 3)
    return (torch.cat(raw) if raw else empty), ((torch.cat(ref) if ref else empty) if refine else None)


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


class FrameSelector(nn.Module):
    """Scores each frame of a rolled-out sequence; the arg-max frame is the predicted key pose.

    Per frame the input is the frame (root-relative, in the heading frame of the last observed frame),
    the last observed pose (same frame) and the frame's time in seconds; a shared MLP gives a score.
    """

    def __init__(self, num_joints: int, hidden: int = 64) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(6 * num_joints + 1, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, rollout_c: torch.Tensor, last_c: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """``(N, F, J, 3)``, ``(N, J, 3)``, ``(F,)`` → ``(N, F)`` scores."""
        n, f = rollout_c.shape[:2]
        feats = torch.cat(
            [rollout_c.reshape(n, f, -1), last_c.reshape(n, 1, -1).expand(n, f, -1), times.expand(n, f)[..., None]],
            dim=-1,
        )
        return self.mlp(feats)[..., 0]


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

    def rolled(self, data: BenchData, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(rollout_c (N, F, J, 3), last_c (N, J, 3), rot (N, 3, 3))``: the rolled-out frames root-relative
        in the heading frame of the last observed frame."""
        hist = torch.as_tensor(data.history)
        with torch.no_grad():
            parts = [self.rollout(hist[i : i + batch], self.frames) for i in range(0, len(hist), batch)]
        roll = torch.cat(parts).float() if parts else torch.zeros(0, self.frames, data.skeleton.num_joints, 3)
        obs_c, _, rot = canonicalise(torch.as_tensor(data.pairs.observed), data.skeleton, "heading")
        roll_c = (roll - roll[..., :1, :]) @ rot.transpose(-1, -2)[:, None]
        return roll_c, obs_c[:, -1], rot

    def predict(self, data: BenchData) -> tuple[torch.Tensor, torch.Tensor]:
        """``(selected (N, 1, J, 3), oracle (N, 1, J, 3))`` root-relative poses in the input's orientation
        (the oracle frame is the rolled-out frame closest to the true key pose)."""
        roll_c, last_c, rot = self.rolled(data)
        times = (torch.arange(self.frames) + 1) / self.fps
        with torch.no_grad():
            pick = self.selector(roll_c, last_c, times).argmax(-1)
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
) -> SequenceBaseline:
    """Train the frame selector of ``rollout`` on ``train`` (cross-entropy on the frame closest to the
    true key pose; Adam, ``steps`` full-batch steps)."""
    frames = max(1, int(round(seconds * fps)))
    torch.manual_seed(seed)
    base = SequenceBaseline(name, rollout, frames, fps, FrameSelector(train.skeleton.num_joints), {})
    t0 = time.time()
    roll_c, last_c, rot = base.rolled(train)
    _, tgt_c, _ = canonicalise(
        torch.as_tensor(train.pairs.observed), train.skeleton, "heading", torch.as_tensor(train.pairs.target)
    )
    assert tgt_c is not None
    best = mpjpe(roll_c, tgt_c).argmin(-1)
    times = (torch.arange(frames) + 1) / fps
    opt = torch.optim.Adam(base.selector.parameters(), lr=3e-3)
    for _ in range(steps):
        loss = nn.functional.cross_entropy(base.selector(roll_c, last_c, times), best)
        opt.zero_grad()
        loss.backward()
        opt.step()
    base.selector.eval()
    with torch.no_grad():
        acc = float((base.selector(roll_c, last_c, times).argmax(-1) == best).float().mean())
    base.training = {
        "pairs": len(train),
        "steps": steps,
        "final_loss": float(loss.detach()),
        "train_exact_frame_accuracy": acc,
        "seconds": round(time.time() - t0, 1),
    }
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
        f"{result['ground_truth'].get('quality_is', math.nan):.2f}).",
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
        "classifier": load_classifier(),
        "mean_keypose": average_keypose(train_mean),
        "regression": regression,
        "sequence": sequence,
    }
