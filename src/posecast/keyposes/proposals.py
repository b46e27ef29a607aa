"""Timing proposals: key-pose hypotheses from a trajectory forecaster's rollout, merged with charpose's draws.

Why
---
Where an action will be when it reaches its characteristic pose is uncertain mostly in *when*: a
forecaster that continues the observed motion passes close to the key pose (on the corpus validation
split the closest frame of a 2 s ``dct-mlp`` rollout is 58.2 mm from it, against 78.9 mm for the frame a
learned selector picks and 76.3 mm for charpose's best of ten heatmap draws). Hypotheses spread over the
rollout's *times*, mixed with the heatmap draws, cover the key pose better than either.

How
---
1. The default forecaster (``settings.forecaster``, shipped ``corpus`` weights on the canonical body)
   rolls out ``settings.seconds`` from the last ``H`` frames of the history (``H``: the forecaster's
   history; a shorter history is padded with its first frame).
2. A `FrameSelector` (a small MLP on each rolled-out frame, the last observed pose and the frame's time,
   trained on corpus training pairs to pick the frame closest to the true key pose, `fit_frame_selector`)
   scores the frames; with ``likelihood_weight`` > 0 the charpose network's own log-likelihood of each frame
   as the key pose (`frame_likelihood`: its heatmaps teacher-forced on the frame, every
   ``likelihood_stride``-th frame, linear in between) is added; ``softmax(selector / selector_temperature +
   likelihood_weight x log-likelihood)`` is the belief over the frames.
3. The candidates are the rolled-out frames (bone lengths set to those of the last observed frame,
   `keep_bone_lengths`) and charpose's ``K`` draws; the belief is ``weight x`` the frames' softmax and
   ``(1 - weight) / K`` per draw. `facility_pick` chooses ``K`` of them greedily to minimise the expected
   distance of a candidate to its nearest chosen one (the belief-weighted k-medoids objective that
   best-of-K rewards), the selector's arg-max frame first.
4. A hypothesis' probability is the belief *near* it: every candidate's belief weighted by
   ``exp(-MPJPE(hypothesis, candidate) / probability_scale)``, summed, normalised over the ``K`` chosen
   (``probability_scale`` 0: its own belief alone, so the selector's arg-max frame is the most probable).
   A frame in a dense stretch of believed frames then outranks an isolated frame of slightly higher
   belief; the most probable hypothesis is the top-1 answer.

The settings (``selector_temperature`` 2, ``weight`` 0.85, ``likelihood_weight`` 0.1 in the shipped weights;
the field's default 0 leaves the selector alone; ``probability_scale`` 0.05 m) were chosen on the corpus
validation split (`posecast bench keyposes` notes and the charpose model card); the test splits were not
read.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from posecast.errors import ModelError, ValueRangeError
from posecast.keyposes.model import canonicalise
from posecast.kinematics.fk import keep_bone_lengths
from posecast.skeletons.base import Skeleton

WEIGHTS_FILE = "proposals.safetensors"
"""The selector's weights next to charpose's ``model.safetensors``; its settings are ``config.json``'s
``proposals`` entry."""


class ProposalSettings(BaseModel):
    """Timing proposals of a charpose network (module docstring); ``proposals:`` in a charpose config."""

    model_config = ConfigDict(extra="forbid")

    forecaster: str = Field(default="dct-mlp", description="registry name of the trajectory forecaster")
    variant: str = Field(default="corpus", description="its shipped weights (on the network's skeleton)")
    seconds: float = Field(default=2.0, gt=0, description="rollout length (s)")
    selector_temperature: float = Field(default=2.0, gt=0, description="softmax temperature of the frame scores")
    weight: float = Field(default=0.85, ge=0, le=1, description="belief share of the rolled-out frames")
    keep_bones: bool = Field(default=True, description="set the frames' bone lengths to the last observed ones")
    likelihood_weight: float = Field(
        default=0.0,
        ge=0,
        description="weight of the charpose network's own log-likelihood of a rolled-out frame (its heatmaps, "
        "teacher-forced on the frame) added to the frame's tempered selector score (0: the selector alone)",
    )
    likelihood_stride: int = Field(
        default=5, ge=1, description="frames between the rolled-out frames the network scores (linear in between)"
    )
    probability_scale: float = Field(
        default=0.05,
        ge=0,
        description="metres: a hypothesis' probability sums every candidate's belief weighted by exp(-MPJPE / "
        "scale) (0: its own belief alone)",
    )
    hidden: int = Field(default=64, ge=1, description="selector hidden width")
    selector_pairs: int = Field(default=4000, ge=1, description="training pairs the selector learns from")
    starts_per_key: int = Field(default=5, ge=1, description="random training windows per key pose")
    steps: int = Field(default=600, ge=1, description="Adam steps of the selector")
    batch_size: int = Field(default=512, ge=1)
    seed: int = 0


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


def frame_times(frames: int, fps: float) -> torch.Tensor:
    """``(F,)`` seconds after the last observed frame of each rolled-out frame."""
    return (torch.arange(frames) + 1) / fps


def canonical_rollout(
    rollout: torch.Tensor, observed: torch.Tensor, skeleton: Skeleton
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(rollout_c (N, F, J, 3), last_c (N, J, 3), rot (N, 3, 3))``: world ``rollout (N, F, J, 3)`` made
    root-relative per frame and turned into the heading frame of the last of the ``observed (N, O, J, 3)``
    frames (`posecast.keyposes.model.canonicalise`); ``rollout_c @ rot`` is back in the input's orientation."""
    obs_c, _, rot = canonicalise(observed.float(), skeleton, "heading")
    roll_c = (rollout.float() - rollout[..., :1, :].float()) @ rot.transpose(-1, -2)[:, None]
    return roll_c, obs_c[:, -1], rot


def fit_frame_selector(
    rollout_c: torch.Tensor,
    last_c: torch.Tensor,
    target_c: torch.Tensor,
    fps: float,
    *,
    hidden: int = 64,
    steps: int = 600,
    batch_size: int | None = 512,
    seed: int = 0,
) -> tuple[FrameSelector, dict[str, Any]]:
    """Train a `FrameSelector` on canonical rollouts ``(N, F, J, 3)``, last observed poses ``(N, J, 3)`` and
    true key poses ``(N, J, 3)``: cross-entropy on the frame closest (MPJPE) to the key pose; Adam (lr 3e-3),
    ``steps`` steps on ``batch_size`` pairs drawn at random (the full batch when None or larger).

    Returns:
        ``(selector in eval mode, training record)``.
    """
    if len(rollout_c) == 0:
        raise ValueRangeError("no training pairs for the frame selector")
    torch.manual_seed(seed)
    t0 = time.time()
    selector = FrameSelector(rollout_c.shape[2], hidden)
    best = (rollout_c - target_c[:, None]).norm(dim=-1).mean(-1).argmin(-1)
    times = frame_times(rollout_c.shape[1], fps)
    opt = torch.optim.Adam(selector.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    loss = torch.zeros(())
    for _ in range(steps):
        if batch_size is not None and batch_size < len(best):
            b = torch.randint(len(best), (batch_size,), generator=gen)
            loss = nn.functional.cross_entropy(selector(rollout_c[b], last_c[b], times), best[b])
        else:
            loss = nn.functional.cross_entropy(selector(rollout_c, last_c, times), best)
        opt.zero_grad()
        loss.backward()
        opt.step()
    selector.eval()
    with torch.no_grad():
        acc = float((selector(rollout_c, last_c, times).argmax(-1) == best).float().mean())
    return selector, {
        "pairs": len(best),
        "steps": steps,
        "batch_size": batch_size,
        "final_loss": float(loss.detach()),
        "train_exact_frame_accuracy": acc,
        "seconds": round(time.time() - t0, 1),
    }


def frame_likelihood(
    net: Any, observed: torch.Tensor, frames: torch.Tensor, stride: int = 5, chunk: int = 8
) -> torch.Tensor:
    """``(N, F)`` the charpose network's log-likelihood of each rolled-out frame as the next key pose: for
    every ``stride``-th frame (the last of each stride), the sum over joints of the log-probability, under
    ``softmax(heatmap / T)`` at the network's temperature ``T``, of the voxel the frame's joint lies in, the
    heatmaps teacher-forced on the frame's own lead joints (as training scores a key pose); frames in
    between are interpolated linearly, those before the first scored one take its value.

    Args:
        net: a heatmap `posecast.keyposes.model.CharPoseNet`.
        observed: ``(N, O, J, 3)`` observed windows.
        frames: ``(N, F, J, 3)`` rolled-out frames, root-relative, in the input's orientation.
    """
    from posecast.keyposes.model import flat_index, heatmap_levels, voxel_index

    cfg = net.config
    n, f = frames.shape[:2]
    scored = torch.arange(min(stride, f) - 1, f, stride)
    out = torch.zeros(n, len(scored))
    net.eval()
    with torch.no_grad():
        for i in range(0, n, chunk):
            obs_c, _, rot = canonicalise(observed[i : i + chunk].float(), net.skeleton, cfg.canonical)
            b = len(obs_c)
            cand = (frames[i : i + chunk, scored].float() @ rot.transpose(-1, -2)[:, None]).reshape(
                b * len(scored), -1, 3
            )
            logits, _ = net(obs_c.repeat_interleave(len(scored), 0), cand)
            levels = heatmap_levels(logits).flatten(-3)  # (b * S, J, V)
            vox = flat_index(voxel_index(cand, cfg.grid_size, cfg.cube_size), cfg.grid_size)
            logp = torch.log_softmax(levels / cfg.temperature, -1).gather(-1, vox[..., None])[..., 0]
            out[i : i + chunk] = logp.sum(-1).reshape(b, len(scored))
    at = np.arange(f)
    return torch.as_tensor(
        np.stack([np.interp(at, scored.numpy(), row) for row in out.numpy()]) if n else np.zeros((0, f))
    )


def facility_pick(
    candidates: torch.Tensor, belief: torch.Tensor, k: int, first: torch.Tensor | None = None
) -> torch.Tensor:
    """``(N, k)`` indices of ``k`` of the ``C`` candidates ``(N, C, J, 3)`` chosen greedily to minimise
    ``sum_c belief_c * min_s MPJPE(c, s)`` (``belief (N, C)``), starting from ``first (N,)`` when given.

    The greedy rule of facility location (started empty it reaches at least ``1 - 1/e`` of the best possible
    reduction of this objective)."""
    n, c = belief.shape
    if not 1 <= k <= c:
        raise ValueRangeError(f"cannot pick {k} of {c} candidates")
    # (N, C, C) pairwise MPJPE, one row of candidates at a time (memory N * C * J * 3, not N * C^2 * J * 3)
    d = torch.stack([(candidates[:, i : i + 1] - candidates).norm(dim=-1).mean(-1) for i in range(c)], 1)
    rows = torch.arange(n)
    cur = torch.full((n, c), float("inf"), dtype=d.dtype)
    taken = torch.zeros(n, c, dtype=torch.bool)
    chosen = []
    for step in range(k):
        if step == 0 and first is not None:
            j = first
        else:
            cost = (belief[:, :, None] * torch.minimum(cur[:, :, None], d)).sum(1)  # (N, C options)
            j = cost.masked_fill(taken, float("inf")).argmin(-1)
        chosen.append(j)
        taken[rows, j] = True
        cur = torch.minimum(cur, d[rows, :, j])
    return torch.stack(chosen, 1)


def hypothesis_belief(candidates: torch.Tensor, belief: torch.Tensor, pick: torch.Tensor, scale: float) -> torch.Tensor:
    """``(N, K)`` unnormalised probability of each picked candidate (``pick (N, K)`` indices into ``candidates
    (N, C, J, 3)``, ``belief (N, C)``): ``sum_c belief_c * exp(-MPJPE(pick, c) / scale)``; ``scale`` 0 (metres):
    the picked candidate's own belief."""
    rows = torch.arange(pick.shape[0])[:, None]
    if scale <= 0:
        return belief[rows, pick]
    chosen = candidates[rows, pick]  # (N, K, J, 3)
    # (N, K, C) MPJPEs, 64 picked candidates at a time (all at once: N * K * C * J * 3 doubles, 550 MB at K = 1000)
    d = torch.cat(
        [
            (chosen[:, i : i + 64, None] - candidates[:, None]).norm(dim=-1).mean(-1)
            for i in range(0, chosen.shape[1], 64)
        ],
        1,
    )
    return (belief[:, None] * torch.exp(-d / scale)).sum(-1)


def merge(
    rollout: torch.Tensor,
    scores: torch.Tensor,
    draws: torch.Tensor,
    last_observed: torch.Tensor,
    skeleton: Skeleton,
    settings: ProposalSettings,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Merge rolled-out frames with charpose's draws (module docstring, steps 3-4).

    Args:
        rollout: ``(N, F, J, 3)`` rolled-out frames, root-relative, in the input's orientation.
        scores: ``(N, F)`` the selector's frame scores.
        draws: ``(N, K, J, 3)`` charpose's hypotheses (same frame).
        last_observed: ``(N, J, 3)`` the last observed pose (its bone lengths are kept).
        skeleton: their layout.
        settings: the proposal settings.

    Returns:
        ``(poses (N, K, J, 3), probabilities (N, K), from_rollout (N, K) bool)``, most probable first.
    """
    n, f = scores.shape
    k = draws.shape[1]
    frames = keep_bone_lengths(rollout, last_observed[:, None], skeleton) if settings.keep_bones else rollout
    cands = torch.cat([frames.to(draws.dtype), draws], 1)
    frame_belief = settings.weight * torch.softmax(scores.double() / settings.selector_temperature, -1)
    draw_belief = torch.full((n, k), (1.0 - settings.weight) / k, dtype=torch.float64)
    belief = torch.cat([frame_belief, draw_belief], 1)
    pick = facility_pick(cands.double(), belief, k, first=scores.argmax(-1))
    rows = torch.arange(n)[:, None]
    prob = hypothesis_belief(cands.double(), belief, pick, settings.probability_scale)
    prob = prob / prob.sum(-1, keepdim=True).clamp_min(1e-300)
    order = torch.sort(prob, dim=-1, descending=True, stable=True).indices
    pick, prob = pick[rows, order], prob[rows, order]
    return cands[rows, pick], prob.to(draws.dtype), pick < f


class TimingProposals:
    """A trained frame selector with its trajectory forecaster (module docstring).

    Attributes:
        settings: `ProposalSettings`.
        selector: the `FrameSelector`.
        training: the selector's training record.
    """

    def __init__(
        self,
        settings: ProposalSettings,
        selector: FrameSelector,
        training: dict[str, Any] | None = None,
        forecaster: Any = None,
    ) -> None:
        """``forecaster``: anything with ``config.fps``, ``config.history`` and ``rollout(window (B, H, J, 3), frames)``
        (default: the shipped ``settings.forecaster`` / ``settings.variant`` weights, loaded on first use)."""
        self.settings = settings
        self.selector = selector.eval()
        self.training = dict(training or {})
        self._forecaster: Any = forecaster

    @property
    def forecaster(self) -> Any:
        """The shipped trajectory forecaster (loaded on first use)."""
        if self._forecaster is None:
            from posecast.models.neural import load_pretrained

            fc = load_pretrained(self.settings.forecaster, self.settings.variant)  # its own copy
            # the network's own frames, as the selector was trained on them: `merge` keeps the bone lengths
            # itself (``settings.keep_bones``), after the selector has scored the frames
            fc.config.keep_bones = False
            self._forecaster = fc
        return self._forecaster

    def check_body(self, skeleton: Skeleton) -> None:
        """A `ModelError` when the forecaster works on another body than ``skeleton`` (the key-pose network's)."""
        own = getattr(self.forecaster, "skeleton", None)
        if own is not None and not own.same_layout(skeleton):
            st = self.settings
            raise ModelError(
                f"the proposals' forecaster {st.forecaster}/{st.variant} is on {own.name!r}, "
                f"the key-pose network on {skeleton.name!r}"
            )

    @property
    def history(self) -> int:
        """Frames of history the forecaster reads."""
        return int(self.forecaster.config.history)

    def frames(self, fps: float) -> int:
        """Rolled-out frames at ``fps``."""
        return max(1, int(round(self.settings.seconds * fps)))

    def rollout(self, history: torch.Tensor, fps: float, batch: int = 256) -> torch.Tensor:
        """``(N, F, J, 3)`` world frames rolled out from ``(N, T, J, 3)`` world histories at ``fps`` (the last
        `history` frames; a shorter one padded with its first frame)."""
        fc = self.forecaster
        if abs(float(fc.config.fps) - fps) > 1e-6:
            raise ModelError(
                f"the proposals' forecaster runs at {fc.config.fps:g} fps, the key-pose network at {fps:g}"
            )
        h = self.history
        hist = history.float()
        if hist.shape[1] < h:
            hist = torch.cat([hist[:, :1].expand(-1, h - hist.shape[1], -1, -1), hist], 1)
        hist = hist[:, -h:]
        frames = self.frames(fps)
        with torch.no_grad():
            parts = [fc.rollout(hist[i : i + batch], frames).float() for i in range(0, len(hist), batch)]
        return torch.cat(parts) if parts else hist.new_zeros(0, frames, *hist.shape[2:])

    def scores(
        self, rollout: torch.Tensor, observed: torch.Tensor, skeleton: Skeleton, fps: float, net: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(frames root-relative in the input's orientation (N, F, J, 3), frame scores (N, F))``: the selector's
        scores plus, with a charpose ``net`` and ``likelihood_weight`` > 0, ``selector_temperature x
        likelihood_weight x`` the network's `frame_likelihood` (so the belief is ``softmax(selector / t +
        weight x log-likelihood)``)."""
        roll_c, last_c, rot = canonical_rollout(rollout, observed, skeleton)
        with torch.no_grad():
            s = self.selector(roll_c, last_c, frame_times(roll_c.shape[1], fps))
        frames = roll_c @ rot[:, None]
        st = self.settings
        if net is not None and st.likelihood_weight > 0 and getattr(net, "regressor", None) is None:
            ll = frame_likelihood(net, observed, frames, st.likelihood_stride)
            s = s + st.selector_temperature * st.likelihood_weight * ll.to(s.dtype)
        return frames, s

    def hypotheses(
        self,
        history: torch.Tensor,
        observed: torch.Tensor,
        draws: torch.Tensor,
        skeleton: Skeleton,
        fps: float,
        net: Any = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`merge` of the rollout of ``history (N, T, J, 3)`` with charpose's ``draws (N, K, J, 3)`` for the
        ``observed (N, O, J, 3)`` windows (the last ``O`` frames of the histories); ``net`` scores the frames
        too (`scores`)."""
        frames, s = self.scores(self.rollout(history, fps), observed, skeleton, fps, net)
        return merge(frames, s, draws, observed[:, -1].float(), skeleton, self.settings)

    def save(self, directory: Path) -> dict[str, Any]:
        """Write `WEIGHTS_FILE` into ``directory``; returns the ``proposals`` entry for its config.json."""
        from safetensors.torch import save_file

        state = {k: v.detach().contiguous() for k, v in self.selector.state_dict().items()}
        save_file(state, str(Path(directory) / WEIGHTS_FILE))
        return {"settings": self.settings.model_dump(), "training": self.training}


def load_proposals(directory: Path, meta: dict[str, Any], num_joints: int) -> TimingProposals | None:
    """The proposals of a charpose weights folder (None when its config.json has no ``proposals``)."""
    entry = meta.get("proposals")
    if not entry:
        return None
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    where = Path(directory) / WEIGHTS_FILE
    try:
        settings = ProposalSettings(**entry["settings"])
        selector = FrameSelector(num_joints, settings.hidden)
        selector.load_state_dict(load_file(str(where)))
    except (OSError, KeyError, TypeError, ValueError, RuntimeError, SafetensorError) as exc:
        raise ModelError(f"cannot load the timing proposals: {exc}", where) from None
    return TimingProposals(settings, selector, entry.get("training"))


def training_pairs(
    settings: ProposalSettings, fps: float, observed: int, history: int, motions: Any = None
) -> tuple[Any, np.ndarray]:
    """``(pairs, histories (N, history, J, 3))``: ``settings.selector_pairs`` TRAINING pairs (evenly spread over
    ``settings.starts_per_key`` random windows per key pose, `CORPUS_MINING`) with their world histories, from
    ``motions`` (canonical-body motions at ``fps``: a training folder of one's own) or the corpus's training split
    (its validation and test splits are not read)."""
    from posecast.keyposes.dataset import CORPUS_MINING, build_pairs, canonical_motions, pair_history, spread_pick

    motions = canonical_motions("train", fps=fps) if motions is None else list(motions)
    pairs = build_pairs(
        motions,
        fps=fps,
        observed=observed,
        starts="random",
        starts_per_key=settings.starts_per_key,
        seed=settings.seed,
        mining=CORPUS_MINING,
    )
    pairs = pairs.subset(spread_pick(np.arange(len(pairs)), settings.selector_pairs))
    return pairs, pair_history(pairs, motions, history)


def fit_proposals(
    settings: ProposalSettings,
    skeleton: Skeleton,
    fps: float,
    observed: int,
    pairs: Any = None,
    histories: np.ndarray | None = None,
    forecaster: Any = None,
) -> TimingProposals:
    """Train the frame selector of ``settings`` on ``pairs`` with their world ``histories`` (default:
    `training_pairs`, the corpus training split); ``forecaster`` as in `TimingProposals`."""
    proposals = TimingProposals(settings, FrameSelector(skeleton.num_joints, settings.hidden), forecaster=forecaster)
    proposals.check_body(skeleton)
    if pairs is None:
        pairs, histories = training_pairs(settings, fps, observed, proposals.history)
    if not pairs.skeleton.same_layout(skeleton):
        raise ValueRangeError(f"selector pairs on {pairs.skeleton.name!r}, the network on {skeleton.name!r}")
    obs = torch.as_tensor(pairs.observed)
    roll_c, last_c, _ = canonical_rollout(proposals.rollout(torch.as_tensor(histories), fps), obs, skeleton)
    _, tgt_c, _ = canonicalise(obs, skeleton, "heading", torch.as_tensor(pairs.target))
    assert tgt_c is not None
    selector, record = fit_frame_selector(
        roll_c,
        last_c,
        tgt_c,
        fps,
        hidden=settings.hidden,
        steps=settings.steps,
        batch_size=settings.batch_size,
        seed=settings.seed,
    )
    return TimingProposals(settings, selector, record, forecaster=proposals._forecaster)


def proposals_of(directory: Path, num_joints: int) -> TimingProposals | None:
    """The timing proposals stored in charpose weights folder ``directory`` (None when it has none)."""
    import json

    from posecast.models import store

    where = Path(directory) / store.CONFIG_FILE
    try:
        meta = json.loads(where.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the weights' config: {exc}", where) from None
    return load_proposals(directory, meta, num_joints)


def attach(directory: Path, proposals: TimingProposals) -> None:
    """Store ``proposals`` in the charpose weights folder ``directory`` (`WEIGHTS_FILE` and the ``proposals``
    entry of its config.json, written through a temporary file)."""
    import json

    from posecast.models import store

    where = Path(directory) / store.CONFIG_FILE
    meta = json.loads(where.read_text())
    meta["proposals"] = proposals.save(Path(directory))
    tmp = where.with_name(f".{where.name}.tmp")
    tmp.write_text(json.dumps(meta, indent=1))
    tmp.replace(where)
