"""``st-transformer``: the spatio-temporal transformer of Aksan et al. (3DV 2021), an autoregressive
next-frame model with decoupled temporal and spatial self-attention.

Network (`STTransformer`, on ``C`` numbers per joint: 3 for positions, 9 for rotation matrices):

* every joint gets its own linear embedding (`~posecast.models.blocks.JointLinear`), plus the
  sinusoidal encoding of the frame index, then dropout;
* ``L`` blocks; in each, two attentions read the same input in parallel and their outputs are summed:
  *temporal* attention over the past frames of the same joint (causal mask; query, key, value and
  output projections separate per joint) and *spatial* attention over the joints of the same frame
  (queries per joint, keys, values and output projection shared by all joints); each has its own
  residual connection and layer norm. A feed-forward layer (shared by the joints) with residual and
  layer norm follows. Dropout acts on the embeddings and on every residual branch, not on the
  attention weights (on a CPU that costs more than it is worth);
* a per-joint linear read-out, added to the input frame: the output at frame ``t`` predicts frame
  ``t + 1`` as an offset from frame ``t`` (zero-initialised, so an untrained network predicts zero
  velocity). With tokens of ``P`` frames (below), read "token" for "frame" and "the next ``P`` frames"
  for "frame ``t + 1``".

Tokens of several frames (config ``frames_per_pass: P``, default 1, the paper's one frame per token): a
token holds ``P`` consecutive frames of one joint (``P * C`` numbers), the positional encoding counts
tokens, and the read-out predicts the ``P`` frames after the token as offsets from its last frame. A 1 s
forecast at 25 fps is then 5 passes of 10 tokens (2 s history, ``P = 5``) instead of 25 passes of 50
frames: the attention still runs over time and over joints separately, the autoregression steps by 0.2 s.
This is our departure from the paper, made for speed (the benchmark goal is a 1 s forecast within 4x of
`dct-mlp` on one CPU thread); the shipped corpus weights use it (their model card has the numbers).

Shared projections (``params.shared_temporal`` / ``params.shared_spatial``, default off: the paper's per-joint
projections): one temporal query/key/value and output projection for all joints, and one spatial query
projection, instead of one per joint; joint identity then comes from the per-joint embedding and read-out.
Made for batch-1 speed: the per-joint projections are most of the parameters (22 joints x 64 x 256 numbers
per block for the temporal ones), and a cached step must read all of them, so at batch 1 it is bound by
memory traffic (a per-joint product takes 11 µs with its weights in cache, about 40 µs when a rollout's
other weights have pushed them out); shared, the whole network fits in a core's cache. The shipped corpus
weights share the temporal projections (2 layers; their model card compares them on validation with the per-joint
network they replace).

Causality makes every token a training example: `training_loss` (picked up by the training loop's
motion plug-in, `posecast.training.motion`) feeds a window of ``context`` frames (``params.context``,
default ``history``) and scores the ``P`` frames predicted after every token (teacher forcing). The
windows are cut at a random offset inside each training window and put in the canonical frame of their
frame ``history - 1``, the frame a rollout canonicalises on, so the positional encodings and the
canonical frame seen in training are the ones of inference: the prefixes up to ``history`` frames are
the reference rollout's passes, the longer ones (up to ``context``) those of a cached rollout that lets
the window grow before it restarts (the paper, too, trains on windows longer than its test-time window).

Rollouts. The wrapper (`~posecast.models.neural.NeuralForecaster`) forecasts one frame per pass
(config ``frames_per_pass: 1``). Its reference rollout runs a *full pass* per frame over a sliding
window of the last ``history`` frames, re-canonicalised at every pass. No cache can reproduce that
exactly: the positional encodings are absolute within the window and the canonical frame follows
the newest frame, so when the window slides or the canonical frame moves, every past frame's keys
and values change. What a cache does reproduce exactly is a *growing* window in a *fixed*
canonical frame: `STTransformer.init_cache` runs the full pass on a window and keeps every block's
temporal keys and values (`DecodeCache`); each `STTransformer.step_cached` then feeds one frame,
computes only that frame through every block (its own spatial attention, feed-forward and layer
norms; its temporal attention against the cached keys and values) and predicts what a full pass on
the longer window would (max abs difference of the order of 1e-6, float32). The forecaster's
rollout (`cached_rollout`) uses it with a restart every ``refresh`` frames (config
``params.rollout_refresh``, default `DEFAULT_REFRESH`; ``R`` below, at most ``history``):

* the first frame comes from a full pass on the given window (its last ``history`` frames, in the
  canonical frame of its newest frame): exactly the reference's first frame;
* while the window is shorter than ``history``, cached steps extend it (canonical frame held);
* then, every ``R`` frames, a full pass on the newest ``history - R + 1`` frames, in the canonical
  frame of the newest one, restarts the cache and ``R - 1`` cached steps follow, so the window the
  network reads grows from ``history - R + 1`` to ``history`` frames (a length it was trained on:
  the teacher-forced loss scores every prefix) and the canonical frame is at most ``R - 1`` frames
  old.

``R = 1`` is the reference (a full pass per frame, no cache) and the default: the shipped weights
were trained and benchmarked with it. For ``R > 1`` a rollout equals, to float rounding, full passes
on the same schedule (tested), and differs from the reference by the shorter windows and the held
canonical frame. Measured on the shipped weights (validation windows of the fixed splits, float32):
``cmu-mocap`` (60 fps, 10 frames, body frame, where the canonical frame does not move) 1 s mean
MPJPE 74.09 mm with ``R = 1``, 74.17 / 74.24 / 74.58 / 75.69 mm with ``R = 2 / 3 / 5 / 10`` (largest
coordinate difference from the reference 10 / 14 / 29 / 78 mm); ``cmu-bvh`` (25 fps, 50 frames,
global) 289.9 mm, then 290.7 / 293.5 / 310.6 / 355.4 mm with ``R = 2 / 5 / 10 / 25``, and its 20 s
rollouts move 5-30 % slower with ``R = 2`` (rollouts are not chaotic: a 1 µm change of the history
moves a 20 s rollout by at most 1 mm, so these are systematic differences). A network meant for
cached rollouts would rather be trained so that the cache is exact at any length: attention over
a band of the last ``history`` frames with relative positions, and inputs that need no moving
canonical frame. The cache is inference-only: with autograd on, rollouts take full passes.
Opting in: ``params: {rollout_refresh: R}`` in a network config, or ``forecaster.net.refresh = R``
on a built forecaster. Speed (1 s forecast, batch 1, one thread, a busy 2-core machine): the
``cmu-mocap`` weights take 0.70 / 0.44 / 0.39 of the reference's time with ``R = 2 / 5 / 10``,
the ``cmu-bvh`` weights 0.64 / 0.34 / 0.19 with ``R = 2 / 5 / 25``; a cached step costs about
a third of a full pass on 10 frames, because at batch 1 it is bound by reading the per-joint
weights (about 9 MB for the ``cmu-mocap`` network) rather than by arithmetic.

Token networks with a context (``P > 1``, ``params.context`` longer than ``history``; in tokens ``H`` =
``history / P``, ``C`` = ``context / P``): the schedule above runs on tokens, and the window grows from
``H`` to ``C`` tokens before each restart, which keeps the newest ``min(H, C - R + 1)`` tokens (the shipped
corpus weights: ``H = 10``, ``C = 16``, ``R = 7``: a full pass on the newest 2 s, then six cached 0.2 s
steps in its canonical frame). They are trained on windows of ``C`` tokens canonicalised at token ``H``
(see `training_loss`), so every window such a rollout reads, with its held canonical frame, is one of
training: for them the cached rollout is the intended procedure, not an approximation of the reference.

Short-term read-out (``params.short_frames: F``, ``params.short_context: K``; our addition, off by default). The
read-out above starts each token's next frames from the token's damped *mean* velocity, which keeps long rollouts
moving but lags in the first few hundred milliseconds (model card ``st-transformer/corpus``: every attempt to
sharpen that start inside the network cost the 20 s behaviour). With ``F > 0`` the rollout's *first* full pass, on
the observed frames, returns ``F`` frames from a second, linear read-out instead (`STTransformer.short_read_out`):
the last observed frame plus one linear map of the last block's output on the last token, every joint together
(``J x d`` numbers), and the ``K - 1`` observed frames before the last one relative to it (cached rollouts only:
``rollout_refresh`` above 1). The cache is then fed those
frames token by token, as if the network had predicted them, and the network's own read-out continues from frame
``F + 1`` (`cached_rollout`); everything after the first ``F`` frames works as before. The read-out is fitted on the
frozen network by ridge regression (`posecast.training.readout`, a ``posecast train`` run at learning rate 0 with
``params.short_ridge``), so it costs no retraining and cannot disturb what the network learned.

Rotation variant (``st-transformer-rot``, the paper's own setting). The wrapper of the position
models, `~posecast.models.neural.NeuralForecaster`, sees only positions, so the rotation variant is
its own `Forecaster`, `STTransformerRot`:

* it reads ``Motion.rotations`` (local joint rotations) and raises a `ModelError` on a history
  without them (`predict`, the position-only entry point, always does);
* the same network runs on the 9 entries of each modelled joint's local rotation matrix; the root is
  not modelled (the CMU-Mocap benchmark ignores it), so local rotations need no canonical frame;
* raw outputs are projected onto SO(3) (`~posecast.kinematics.project_to_so3`, roma's special
  Procrustes) before they are fed back, and turned into positions by forward kinematics on the
  skeleton's rest offsets; joints that are not modelled keep their last observed rotation;
* `STTransformerRot.forecast` places the body where the last observed frame is: the body-frame FK of
  the last observed rotations is fitted rigidly onto the observed positions, and the root motion is
  held there (zero velocity for the root), so body-frame (benchmark) and global (BVH) motions both
  work;
* training lives in the training loop's rotation plug-in (`posecast.training.rotation`,
  ``posecast train --model st-transformer-rot``): teacher-forced next-frame prediction as above on the
  CMU-Mocap benchmark exp-maps, with a position loss through SVD projection and FK plus a weighted loss
  on the raw matrices (the paper's loss);
* `posecast.evaluation.protocols.cmu_mocap.evaluate_rotations` runs the CMU-Mocap benchmark exactly
  like `posecast.evaluation.protocols.cmu_mocap.evaluate`, but feeds the windows' rotations;
* it is not in ``models.learned.LEARNED`` (whose factory builds position models);
  `build_rotation_variant` is a factory with the registry's signature.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from posecast import skeletons
from posecast.errors import ModelError, SkeletonError, ValueRangeError, problems
from posecast.kinematics.fk import keep_bone_lengths
from posecast.models import store
from posecast.models.base import Forecaster, resolve_frames
from posecast.models.blocks import JointLinear, sinusoidal_encoding, velocity_gain
from posecast.models.neural import (
    NeuralConfig,
    canonical_frame,
    follow_parents,
    from_canonical,
    register_net,
    register_rollout,
    to_canonical,
)
from posecast.motion import Forecast, Motion
from posecast.skeletons.base import Skeleton


# ------------------------------------------------------------------------------------- network
class DecodeCache(NamedTuple):
    """What `STTransformer.step_cached` needs of the frames already seen: per block, the temporal
    attention's keys and values of every cached frame (they never change once computed: the attention
    is causal and a frame keeps its position, its slot, while the cache lives).

    ``keys[l]``, ``values[l]``: ``(J, B, heads, capacity, d / heads)`` buffers (joint-major: one batched
    product per joint in a step), slots ``0 .. length - 1`` filled, slot ``t`` holding the frame at
    window position ``t``; ``length``: ``(1,)`` int64, frames held; ``encoding``: ``(capacity, d)``
    positional encodings of the slots. `STTransformer.step_cached` writes the buffers in place (clone
    them to branch a rollout); streams are independent along ``B`` (concatenate along dimension 1 to
    batch caches of equal length).
    """

    keys: tuple[torch.Tensor, ...]
    values: tuple[torch.Tensor, ...]
    length: torch.Tensor
    encoding: torch.Tensor

    @property
    def capacity(self) -> int:
        return self.encoding.shape[0]


def _joint_major(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A `JointLinear` (one batched product over the joints) or a shared ``nn.Linear`` on joint-major inputs
    ``x (J, B, in)`` → ``(J, B, out)``: the one-step form of the layers a cached step runs."""
    if isinstance(layer, JointLinear):
        return torch.baddbmm(layer.bias[:, None], x, layer.weight)
    return layer(x)


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """`F.scaled_dot_product_attention` on ``(..., H, L, E)`` queries and ``(..., H, S, E)`` keys and values with
    the leading dimensions flattened into one: PyTorch's fused CPU kernel takes 4-dimensional inputs only and
    falls back to a slower unfused one otherwise (a third of a batch-1 full pass). Returns ``(..., H, L, E)``."""
    lead = q.shape[:-3]
    y = F.scaled_dot_product_attention(
        q.reshape(-1, *q.shape[-3:]), k.reshape(-1, *k.shape[-3:]), v.reshape(-1, *v.shape[-3:]), is_causal=causal
    )
    return y.reshape(*lead, *y.shape[-3:])


class TemporalAttention(nn.Module):
    """Causal multi-head attention over the frames of each joint, projections separate per joint (the
    paper's design) or, with ``shared``, one query/key/value and one output projection for all joints
    (joint identity then comes from the per-joint embedding and spatial queries).

    ``(B, T, J, d)`` → ``(B, T, J, d)``; the output at frame ``t`` depends on frames ``<= t`` only.
    With ``last_only`` only the last frame's output ``(B, 1, J, d)`` is computed.
    """

    def __init__(self, joints: int, dim: int, heads: int, shared: bool = False) -> None:
        super().__init__()
        self.heads, self.joints, self.dim = heads, joints, dim
        if shared:
            self.qkv, self.out = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        else:
            self.qkv, self.out = JointLinear(joints, dim, 3 * dim), JointLinear(joints, dim, dim)

    def forward(self, e: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        return self.attend(e, last_only)[0]

    def attend(self, e: torch.Tensor, last_only: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`forward` that also returns the keys and values of every frame, ``(B, J, H, T, d / H)`` each."""
        b, t, j, d = e.shape
        h = self.heads
        if last_only:  # the last frame may look at every frame: no mask needed
            w, bias = self.qkv.weight, self.qkv.bias
            if isinstance(self.qkv, nn.Linear):  # shared: weight (3d, d)
                q = F.linear(e[:, -1], w[:d], bias[:d])  # (B, J, d)
                kv = F.linear(e, w[d:], bias[d:])  # (B, T, J, 2d)
            else:  # JointLinear: weight (J, d, 3d)
                q = torch.einsum("bji,jio->bjo", e[:, -1], w[..., :d]) + bias[:, :d]  # (B, J, d)
                kv = torch.einsum("btji,jio->btjo", e, w[..., d:]) + bias[:, d:]  # (B, T, J, 2d)
            q = q.reshape(b, j, h, 1, d // h)
            k, v = kv.reshape(b, t, j, 2, h, d // h).permute(3, 0, 2, 4, 1, 5)
            y = _attention(q, k, v)  # (B, J, H, 1, d / H)
            return self.out(y.permute(0, 3, 1, 2, 4).reshape(b, 1, j, d)), k, v
        # (B, T, J, 3d) -> 3 x (B, J, H, T, d / H)
        q, k, v = self.qkv(e).reshape(b, t, j, 3, h, d // h).permute(3, 0, 2, 4, 1, 5)
        y = _attention(q, k, v, causal=True)
        return self.out(y.permute(0, 3, 1, 2, 4).reshape(b, t, j, d)), k, v

    def step(
        self, qkv: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, slot: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """One new frame, joint-major, from its projections ``qkv (J, B, 3d)`` (``self.qkv``): writes its key
        and value into slot ``slot`` (``(1,)`` int64) of ``keys`` / ``values`` (``(J, B, H, S, d / H)``, in
        place), attends to the slots with additive ``mask`` (``(S,)``: 0 or -inf). Returns ``(J, B, d)``."""
        j, h, s, d = self.joints, self.heads, keys.shape[3], self.dim  # Python ints: no shape arithmetic traced
        qkv = qkv.view(j, -1, 3, h, 1, d // h)
        keys.index_copy_(3, slot, qkv[:, :, 1])
        values.index_copy_(3, slot, qkv[:, :, 2])
        q = qkv[:, :, 0].reshape(-1, 1, d // h)  # (J * B * H, 1, d / H)
        scores = torch.baddbmm(
            mask.expand(q.shape[0], 1, s), q, keys.view(-1, s, d // h).transpose(1, 2), alpha=1.0 / math.sqrt(d // h)
        )
        y = torch.bmm(scores.softmax(-1), values.view(-1, s, d // h)).view(j, -1, d)
        return _joint_major(self.out, y)


class SpatialAttention(nn.Module):
    """Multi-head attention over the joints of each frame: a query projection per joint (one for all
    joints with ``shared``), key, value and output projections shared by all joints. ``(B, T, J, d)`` →
    ``(B, T, J, d)``."""

    def __init__(self, joints: int, dim: int, heads: int, shared: bool = False) -> None:
        super().__init__()
        self.heads, self.joints, self.dim = heads, joints, dim
        self.query = nn.Linear(dim, dim) if shared else JointLinear(joints, dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        b, t, j, d = e.shape
        h = self.heads
        q = self.query(e).reshape(b, t, j, h, d // h).transpose(2, 3)  # (B, T, H, J, d / H)
        k, v = self.key_value(e).reshape(b, t, j, 2, h, d // h).permute(3, 0, 1, 4, 2, 5)
        y = _attention(q, k, v)
        return self.out(y.transpose(2, 3).reshape(b, t, j, d))

    def step(self, q: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """One frame, joint-major: queries ``q (J, B, d)`` (``self.query``) and input ``e (J, B, d)`` →
        ``(J, B, d)`` (the numbers of `forward`)."""
        j, d, h = self.joints, self.dim, self.heads
        q = q.view(j, -1, h, d // h).permute(1, 2, 0, 3)  # (B, H, J, d / H)
        k, v = self.key_value(e).view(j, -1, 2, h, d // h).permute(2, 1, 3, 0, 4)  # (B, H, J, d / H) each
        y = F.scaled_dot_product_attention(q, k, v)
        return self.out(y.permute(2, 0, 1, 3).reshape(j, -1, d))


class STBlock(nn.Module):
    """Temporal and spatial attention in parallel (each with residual + layer norm), summed, then a
    feed-forward layer with residual + layer norm. ``(B, T, J, d)`` → same (``(B, 1, J, d)``, the last
    frame only, with ``last_only``)."""

    def __init__(
        self,
        joints: int,
        dim: int,
        heads: int,
        ff: int,
        dropout: float,
        shared_temporal: bool = False,
        shared_spatial: bool = False,
    ) -> None:
        super().__init__()
        self.temporal = TemporalAttention(joints, dim, heads, shared_temporal)
        self.spatial = SpatialAttention(joints, dim, heads, shared_spatial)
        self.norm_t, self.norm_s, self.norm_f = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ff), nn.ReLU(), nn.Linear(ff, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, e: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        return self.attend(e, last_only)[0]

    def attend(self, e: torch.Tensor, last_only: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`forward`, plus the temporal attention's keys and values ``(B, J, H, T, d / H)`` of every frame."""
        now = e[:, -1:] if last_only else e
        temporal, k, v = self.temporal.attend(e, last_only)
        return self._mix(now, temporal), k, v

    def step(
        self, e: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, slot: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """One new frame, joint-major ``(J, B, d)``, against the cached frames (see `TemporalAttention.step`)."""
        # the per-joint projections of the two attentions as two products: concatenating their weights into
        # one is not folded away by freezing a traced rollout and copied 1.4 MB per step
        qkv = _joint_major(self.temporal.qkv, e)  # (J, B, 3d)
        query = _joint_major(self.spatial.query, e)  # (J, B, d)
        temporal = self.temporal.step(qkv, keys, values, slot, mask)
        return self._mix(e, temporal, self.spatial.step(query, e))

    def _mix(self, now: torch.Tensor, temporal: torch.Tensor, spatial: torch.Tensor | None = None) -> torch.Tensor:
        spatial = self.spatial(now) if spatial is None else spatial
        a = self.norm_t(now + self.drop(temporal)) + self.norm_s(now + self.drop(spatial))
        return self.norm_f(a + self.drop(self.ffn(a)))


class STTransformer(nn.Module):
    """``(B, T, J * C)`` → next frames ``(B, 1, J * C)`` (or ``(B, T, J * C)``, one per input frame,
    with ``all_steps=True``), ``C`` numbers per joint.

    Incremental decoding (inference): `init_cache` runs the full pass on a window and keeps every
    block's temporal keys and values, then each `step_cached` call feeds one more frame and costs one
    frame's worth of computation; the next frames it predicts are those of full passes over the
    growing window (to float rounding). ``refresh`` is how the forecaster's rollout uses it (see the
    module docstring, "Rollouts").
    """

    def __init__(
        self,
        joints: int,
        channels: int = 3,
        dim: int = 64,
        heads: int = 4,
        layers: int = 4,
        ff: int = 128,
        dropout: float = 0.1,
        refresh: int = 1,
        patch: int = 1,
        context: int | None = None,
        velocity_decay: float = 0.0,
        shared_temporal: bool = False,
        shared_spatial: bool = False,
        linear_base: bool = False,
        short_frames: int = 0,
        short_context: int | None = None,
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ModelError(f"st-transformer: d_model {dim} is not divisible by {heads} heads")
        if refresh < 1:
            raise ModelError(f"st-transformer: rollout_refresh must be at least 1, got {refresh}")
        if patch < 1:
            raise ModelError(f"st-transformer: frames per token must be at least 1, got {patch}")
        self.joints, self.channels, self.dim, self.heads = joints, channels, dim, heads
        #: frames per token (``P``): a token holds ``P`` consecutive frames of one joint and predicts the next ``P``
        self.patch = patch
        #: tokens a cached rollout lets the window grow to (None: the forecaster's ``history``; see "Rollouts")
        self.context = context
        #: the read-out's starting point for the ``P`` frames after a token: its last frame (0) or, with
        #: ``d > 0``, the token's mean velocity continued and damped by ``d`` per frame (`_base`)
        self.velocity_decay = float(velocity_decay)
        if self.velocity_decay and patch < 2:
            raise ModelError("st-transformer: velocity_decay needs tokens of at least 2 frames (frames_per_pass)")
        gain = velocity_gain(patch, self.velocity_decay).repeat_interleave(channels)  # per predicted number
        self.register_buffer("gain", gain if self.velocity_decay else torch.zeros(0), persistent=False)
        #: with ``linear_base``, the read-out starts from a learned linear extrapolation of the token instead
        #: (`_base`): ``(P, P)`` weights and ``(P,)`` biases shared by every joint and coordinate, starting as the
        #: last step's velocity continued and damped by ``velocity_decay`` per frame
        self.linear_base = bool(linear_base)
        if self.linear_base:
            if patch < 2:
                raise ModelError("st-transformer: linear_base needs tokens of at least 2 frames (frames_per_pass)")
            w = torch.zeros(patch, patch)
            w[:, patch - 2] = -velocity_gain(patch, self.velocity_decay if self.velocity_decay else 1.0)
            self.base = nn.Linear(patch, patch)
            with torch.no_grad():
                self.base.weight.copy_(w)
                self.base.bias.zero_()
        #: tokens a rollout predicts per full pass (1: a full pass per token; see the module docstring)
        self.refresh = refresh
        #: the short-term read-out (``params.short_frames``, `short_read_out`): the first ``short_frames`` frames of
        #: a cached rollout from the last observed token's features of every joint and the last ``short_context``
        #: observed frames (default ``short_frames``), one linear map fitted by ridge regression on the frozen
        #: network (0: none)
        self.short_frames = int(short_frames)
        self.short_context = self.short_frames if short_context is None else int(short_context)
        if self.short_frames:
            if self.short_frames % patch or self.short_context < 1:
                raise ModelError(
                    f"st-transformer: short_frames ({self.short_frames}) must be a multiple of frames_per_pass "
                    f"({patch}) and short_context at least 1"
                )
            if refresh <= 1:
                raise ModelError(
                    "st-transformer: the short-term read-out (short_frames) works in the cached rollout; set "
                    "rollout_refresh above 1"
                )
            inputs = joints * dim + joints * channels * (self.short_context - 1)
            self.short_head = nn.Linear(inputs, self.short_frames * joints * channels)
            nn.init.zeros_(self.short_head.weight)
            nn.init.zeros_(self.short_head.bias)
        self.embed = JointLinear(joints, channels * patch, dim)
        self.drop = nn.Dropout(dropout)
        #: one temporal projection for all joints instead of one per joint (see `TemporalAttention`)
        self.shared_temporal = bool(shared_temporal)
        self.blocks = nn.ModuleList(
            STBlock(joints, dim, heads, ff, dropout, self.shared_temporal, bool(shared_spatial)) for _ in range(layers)
        )
        self.head = JointLinear(joints, dim, channels * patch)
        nn.init.zeros_(self.head.weight)  # residual init: an untrained network predicts zero velocity

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Frames ``(B, T, J * C)`` → tokens ``(B, T / P, J, P * C)`` (``T`` a multiple of ``P``): token ``n`` of
        joint ``j`` holds frames ``nP .. nP + P - 1`` of that joint, oldest first."""
        b, t, _ = x.shape
        p, j, c = self.patch, self.joints, self.channels
        if t % p:
            raise ValueRangeError(f"st-transformer: {t} frames do not split into tokens of {p} frames")
        if p == 1:
            return x.reshape(b, t, j, c)
        return x.reshape(b, t // p, p, j, c).transpose(2, 3).reshape(b, t // p, j, p * c)

    def _base(self, xj: torch.Tensor) -> torch.Tensor:
        """Tokens ``(..., P * C)`` → where the read-out starts for the ``P`` frames after each, ``(..., P * C)``:
        the token's last frame, plus with ``velocity_decay = d > 0`` its mean velocity over the token
        ``v = (x_last - x_first) / (P - 1)`` times ``d + d^2 + ... + d^k`` at the ``k``-th frame (the mean, not
        the last step, so the training input noise is not amplified into a velocity); with ``linear_base``,
        the last frame plus a learned linear map of the token's frames relative to it (`linear_base`)."""
        p, c = self.patch, self.channels
        last = xj[..., (p - 1) * c :].unsqueeze(-2)  # (..., 1, C)
        if self.linear_base:  # frames relative to the last one, (..., C, P) -> next P frames' offsets
            rel = (xj.unflatten(-1, (p, c)) - last).transpose(-1, -2)
            return (last + self.base(rel).transpose(-1, -2)).reshape(*xj.shape)
        if not self.velocity_decay:
            return last.expand(*last.shape[:-2], p, c).reshape(*xj.shape)
        v = (last - xj[..., None, :c]) / (p - 1)
        return (last + v * self.gain.view(p, c)).reshape(*xj.shape)

    def _read_out(self, xj: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """Tokens ``xj (B, N, J, P * C)`` and their last block's output ``e (B, N, J, d)`` → the ``P`` frames
        that follow each token, ``(B, N * P, J * C)``: `_base` plus the head's offsets."""
        b, n = xj.shape[:2]
        p, j, c = self.patch, self.joints, self.channels
        y = self._base(xj) + self.head(e)
        if p == 1:
            return y.reshape(b, n, j * c)
        return y.reshape(b, n, j, p, c).transpose(2, 3).reshape(b, n * p, j * c)

    def short_inputs(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """The short-term read-out's inputs: the window ``x (B, T, J * C)`` and the last block's output on its
        last token ``e (B, J, d)`` → ``(B, J * d + (K - 1) * J * C)``, the features followed by the last ``K =
        short_context`` frames relative to the last one (the last itself, zero, left out)."""
        k = self.short_context
        rel = x[:, -k:-1] - x[:, -1:]
        return torch.cat([e.reshape(e.shape[0], -1), rel.reshape(rel.shape[0], -1)], dim=1)

    def short_read_out(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """Window ``x (B, T, J * C)`` and ``e (B, J, d)`` (`short_inputs`) → the next ``short_frames`` frames ``(B,
        F, J * C)``: the last frame plus one linear map of the inputs (``short_head``)."""
        y = self.short_head(self.short_inputs(x, e)).view(x.shape[0], self.short_frames, -1)
        return x[:, -1:] + y

    def _encode(self, xj: torch.Tensor, all_steps: bool) -> torch.Tensor:
        """Tokens ``(B, N, J, P * C)`` → the last block's output ``(B, N, J, d)``, or ``(B, 1, J, d)`` on the last
        token only without ``all_steps`` (the last block then works on that token alone)."""
        e = self.embed(xj) + sinusoidal_encoding(xj.shape[1], self.dim).to(xj)[:, None]
        e = self.drop(e)
        for i, block in enumerate(self.blocks):
            e = block(e, last_only=not all_steps and i == len(self.blocks) - 1)
        return e

    def last_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, J * C)`` → the last block's output on the last token, ``(B, J, d)`` (what the read-outs of
        `forward` and `short_read_out` see)."""
        return self._encode(self.tokens(x), all_steps=False)[:, -1]

    def forward(self, x: torch.Tensor, all_steps: bool = False, base_from: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, J * C)`` → the ``P`` frames after the window ``(B, P, J * C)``; with ``all_steps``, the ``P``
        frames after every token ``(B, T, J * C)`` (frames ``P .. T + P - 1``). ``base_from`` (training): frames
        of ``x``'s shape the read-out's starting point is computed from instead of ``x`` (the clean frames
        when the network reads noisy ones, ``params.clean_base``)."""
        xj = self.tokens(x)
        xb = xj if base_from is None else self.tokens(base_from)
        e = self._encode(xj, all_steps)
        if not all_steps:
            xb = xb[:, -1:]
        return self._read_out(xb, e)

    def init_cache(self, x: torch.Tensor, capacity: int, short: bool = False) -> tuple[torch.Tensor, DecodeCache]:
        """The full pass on ``x (B, T, J * C)`` (the same next frames as ``forward(x)``), keeping what
        `step_cached` needs: returns ``(next (B, P, J * C), cache)`` with room for ``capacity >= T / P``
        tokens at positions ``0 .. capacity - 1`` (the network was trained on windows of up to its
        context, so that is the sensible capacity). ``short``: the next ``short_frames`` frames of
        `short_read_out` instead of ``P``."""
        xj = self.tokens(x)
        b, t = xj.shape[:2]
        if not 1 <= t <= capacity:
            raise ValueRangeError(f"st-transformer: a decode cache for {capacity} tokens cannot start from {t} tokens")
        encoding = sinusoidal_encoding(capacity, self.dim).to(x)
        e = self.drop(self.embed(xj) + encoding[:t, None])
        shape = (self.joints, b, self.heads, capacity, self.dim // self.heads)
        keys, values = [], []
        for i, block in enumerate(self.blocks):
            e, k, v = block.attend(e, last_only=i == len(self.blocks) - 1)  # k, v: (B, J, H, T, d / H)
            keys.append(torch.cat([k.transpose(0, 1), k.new_zeros(shape[:3] + (capacity - t,) + shape[4:])], 3))
            values.append(torch.cat([v.transpose(0, 1), v.new_zeros(shape[:3] + (capacity - t,) + shape[4:])], 3))
        length = torch.full((1,), t, dtype=torch.int64, device=x.device)
        cache = DecodeCache(tuple(keys), tuple(values), length, encoding)
        if short:
            return self.short_read_out(x, e[:, -1]), cache
        return self._read_out(xj[:, -1:], e), cache

    def step_cached(self, frame: torch.Tensor, cache: DecodeCache) -> tuple[torch.Tensor, DecodeCache]:
        """Append one token's frames ``(B, P, J * C)`` to the window held by ``cache``: returns ``(next (B, P, J *
        C), cache)``, the next frames a full pass over the longer window predicts (to float rounding), and the
        cache holding one more token (its buffers are written in place; the returned cache shares them).
        Raises `ValueRangeError` when the cache is full."""
        if not torch.jit.is_tracing() and int(cache.length) >= cache.capacity:
            raise ValueRangeError(
                f"st-transformer: the decode cache is full ({cache.capacity} tokens); start a new one with init_cache"
            )
        slot = cache.length
        p, c = self.patch, self.channels
        xj = self.tokens(frame)[:, 0].transpose(0, 1)  # joint-major (J, B, P * C)
        e = _joint_major(self.embed, xj) + cache.encoding.index_select(0, slot)
        e = self.drop(e)
        positions = torch.arange(cache.capacity, device=frame.device)
        mask = torch.zeros(cache.capacity, dtype=frame.dtype, device=frame.device).masked_fill(
            positions > slot, -math.inf
        )
        for block, k, v in zip(self.blocks, cache.keys, cache.values, strict=True):
            e = block.step(e, k, v, slot, mask)
        y = self._base(xj) + _joint_major(self.head, e)  # (J, B, P * C)
        y = y.view(self.joints, -1, p, c).permute(1, 2, 0, 3).reshape(-1, p, self.joints * c)
        return y, cache._replace(length=slot + 1)


#: frames a rollout predicts per full pass (``params.rollout_refresh`` of a config that does not set it;
#: see the module docstring, "Rollouts")
DEFAULT_REFRESH = 1


def _net_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "dim": int(params.get("d_model", 64)),
        "heads": int(params.get("heads", 4)),
        "layers": int(params.get("layers", 4)),
        "ff": int(params.get("ff", 2 * int(params.get("d_model", 64)))),
        "dropout": float(params.get("dropout", 0.1)),
        "shared_temporal": bool(params.get("shared_temporal", False)),
        "shared_spatial": bool(params.get("shared_spatial", False)),
        "linear_base": bool(params.get("linear_base", False)),
        "short_frames": int(params.get("short_frames", 0)),
        "short_context": int(params["short_context"]) if "short_context" in params else None,
    }


def context_frames(config: NeuralConfig) -> int:
    """Frames the network's window may grow to (``params.context``, default ``history``): the length of its
    training windows and the most a cached rollout lets the window grow to (see "Rollouts")."""
    context = int(config.params.get("context", config.history))
    p = config.frames_per_pass
    if context < config.history or context % p:
        raise ModelError(
            f"st-transformer: params.context ({context} frames) must be at least history ({config.history}) "
            f"and a multiple of frames_per_pass ({p})"
        )
    return context


@register_net("st-transformer")
def _build(config: NeuralConfig, features: int) -> STTransformer:
    p = config.frames_per_pass
    if config.history % p:
        raise ModelError(
            f"st-transformer reads tokens of frames_per_pass ({p}) frames: history ({config.history}) must be a "
            "multiple of it"
        )
    refresh = int(config.params.get("rollout_refresh", DEFAULT_REFRESH))
    context = context_frames(config) // p
    decay = float(config.params.get("velocity_decay", 0.0))
    net = STTransformer(
        features // 3, 3, **_net_kwargs(config.params), refresh=refresh, patch=p, context=context, velocity_decay=decay
    )
    if net.short_frames and net.short_context > config.history:
        raise ModelError(
            f"st-transformer: params.short_context ({net.short_context} frames) must be at most history "
            f"({config.history})"
        )
    if config.params.get("project_prior") is not None:
        attach_projection(net, config)
    return net


def attach_projection(net: STTransformer, config: NeuralConfig) -> None:
    """``params.project_prior: Q`` (a quantile, e.g. 0.95): ``net.pose_prior``, a Gaussian mixture of
    ``params.project_components`` (default 32) components over the training poses (its buffers are part of
    the weights; the training plug-in fits them, `posecast.training.motion.fit_pose_prior`, with its
    threshold at the quantile ``Q`` of the training poses' NLL), and ``net.project_from``: the first token,
    ``params.project_after`` seconds (default 1) after the last observed frame, from which `cached_rollout`
    moves every predicted pose less likely than that threshold onto it
    (`posecast.models.pose_prior.PosePrior.project_poses`) before it is fed back. A long-horizon
    stabiliser: on the validation split it keeps 20 s rollouts nearer the training poses and cuts the
    joints bent beyond them, while in the first second, where it only costs accuracy (1-3 % at 400 ms),
    nothing is moved (model card ``st-transformer/corpus``). ``params.project_normalise: true``: the mixture
    judges every pose at the training poses' median bone lengths and gives the moved pose its own back
    (`PosePrior` with ``parents``), so a body or rig of other proportions is not pushed into odd poses.
    ``params.project_ramp`` (seconds, default 0: at once): over that long from ``project_from`` each frame moves
    only a growing share (1 / frames, 2 / frames, ... 1) of the way to its projection, so that a pose far from
    the training poses is not pulled there in one step (``net.project_ramp``, frames)."""
    from posecast import skeletons
    from posecast.models.neural import hip_pair
    from posecast.models.pose_prior import PosePrior

    if net.refresh <= 1:
        raise ModelError("st-transformer: project_prior works in the cached rollout; set rollout_refresh above 1")
    skel = skeletons.get(config.skeleton)
    joints = config.joints if config.joints is not None else list(range(skel.num_joints))
    if len(joints) != skel.num_joints:
        raise ModelError("st-transformer: project_prior needs every joint of the skeleton modelled (joints: null)")
    root = int(np.flatnonzero(np.asarray(skel.parents) < 0)[0])
    k, d = int(config.params.get("project_components", 32)), 3 * (skel.num_joints - 1)
    eye = torch.eye(d, dtype=torch.float64).expand(k, d, d).clone()
    parents = skel.parents if config.params.get("project_normalise") else None  # judge poses, not bodies
    net.pose_prior = PosePrior(torch.zeros(k, d), eye, torch.full((k,), 1.0 / k), (root, *hip_pair(skel)), parents)
    after = float(config.params.get("project_after", 1.0))
    net.project_from = math.ceil(after * config.fps / net.patch - 1e-9)
    net.project_ramp = max(0, round(float(config.params.get("project_ramp", 0.0)) * config.fps))


def training_loss(model, batch: torch.Tensor, history: int, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Teacher-forced next-frame loss (mean per-joint error, metres), the loss the training loop's motion
    plug-in (`posecast.training.motion`) uses for this network family.

    Args:
        model: the `NeuralForecaster` being trained (its ``net`` may be wrapped in DDP).
        batch: ``(B, L, J, 3)`` world-frame training windows, ``L >= context + P``.
        history: frames the network reads at inference.
        weights: ``(Jm,)`` loss weight per modelled joint (default: uniform).

    A sub-window of ``context + P`` frames (``P`` = ``frames_per_pass``, the frames per token; ``context``
    = `context_frames`, ``history`` unless ``params.context`` says more) starts at a random offset in each
    window; the network reads its first ``context`` frames (in the canonical frame of frame ``history - 1``,
    the last observed frame of inference) and every token's output is scored against the ``P`` frames that
    follow it. With ``P = 1`` and no context: ``history + 1`` frames, every step scored against the next.

    ``params.input_noise`` (metres, default 0): while training, the frames the network reads get
    independent Gaussian noise of that standard deviation per coordinate, the targets stay clean, so
    the network learns to pull a slightly wrong history back towards real motion (the situation of
    its own rollouts) instead of continuing it. The prediction is still scored against the clean next
    frame; being residual, the network must then also undo the noise of the frame it starts from.
    With ``params.clean_base`` the read-out's starting point (`STTransformer._base`) is computed from the
    clean frames instead: only the network's offsets see the noise (a linear base trained on noisy frames
    learns to smooth, which costs accuracy on the clean histories of inference).

    ``params.rollout_frames`` (``K``, default 0) and ``params.rollout_weight`` (``w``, default 1): adds ``w``
    times the mean per-joint error of a ``K``-frame autoregressive rollout (`NeuralForecaster.rollout`,
    exactly the inference procedure: a full pass per frame over the newest ``history`` frames,
    re-canonicalised at every pass, gradients through every pass) from the first ``history`` frames
    of a sub-window that starts at another random offset. The teacher-forced loss alone never shows
    the network its own outputs; this term does (the "sampling" side of the paper's teacher forcing
    vs. sampling question), at ``K`` full passes per step.

    ``params.prior_weight`` (``u``, default 0) and ``params.prior_frames`` (``E``, default 0): the rollout goes
    on for ``E`` more frames, for which no recorded future is compared, and ``u`` times the mean
    `~posecast.models.pose_prior.PosePrior.pose_excess` of all ``K + E`` rolled-out frames (how far their
    poses lie beyond the training poses' 99 % NLL under a Gaussian mixture fitted on the training poses,
    ``model.pose_prior``, attached by the training plug-in) is added: a plausibility term for the stretch of
    a rollout where poses leave the training poses (the long-horizon benchmark's nearest-training-pose
    distance and out-of-range bends), which the error against one recorded future does not see.
    ``params.prior_warmup`` (``W``, default 0) adds the same term on ``E`` frames rolled out (with gradients)
    after ``w`` frames (``1 <= w <= W``, drawn per step) of the inference rollout (no gradients) from the same
    history: the network then also learns to come back from the histories of its own long rollouts, which a
    ``K + E``-frame rollout from real motion never reaches. ``params.prior_speed`` (default 0) adds that weight
    times `speed_mismatch` of those ``E`` frames against the real windows of the batch, so that coming back to
    plausible poses is not done by slowing down.
    """
    h = history
    b, length = batch.shape[:2]
    loss = _teacher_forced(model, batch, h, weights)  # checks the windows' length
    params = model.config.params
    k = int(params.get("rollout_frames", 0))
    u = float(params.get("prior_weight", 0.0))
    extra = int(params.get("prior_frames", 0)) if u > 0 else 0
    if k <= 0 and extra <= 0:
        return loss
    if length < h + k:
        raise ValueRangeError(f"st-transformer rollout_frames {k} needs windows of {h + k} frames, got {length}")
    prior = getattr(model, "pose_prior", None)
    if u > 0 and prior is None:
        raise ValueRangeError("st-transformer prior_weight > 0 needs a pose prior (model.pose_prior) to score with")
    start = torch.randint(0, length - h - k + 1, (b,), device=batch.device)
    rows = start[:, None] + torch.arange(h + k, device=batch.device)
    win = batch[torch.arange(b, device=batch.device)[:, None], rows]  # (B, h + K, J, 3)
    full = model.rollout(win[:, :h], k + extra)  # (B, K + E, J, 3)
    if k > 0:
        err = (full[:, :k, model.joints] - win[:, h:, model.joints]).norm(dim=-1)
        rolled = (err if weights is None else err * weights).mean()
        loss = loss + float(params.get("rollout_weight", 1.0)) * rolled
    if u > 0:
        loss = loss + u * prior.pose_excess(full).mean()
    warm = int(params.get("prior_warmup", 0)) if u > 0 else 0
    if warm > 0 and extra > 0:
        # a stretch of a long rollout: W frames (1..warmup, one draw per step) rolled out without gradients
        # (the inference rollout), then E frames with gradients from its newest history, scored by the prior
        w = int(torch.randint(1, warm + 1, ()).item())
        with torch.no_grad():
            far = model.rollout(win[:, :h], w)
        late = model.rollout(torch.cat([win[:, :h], far], dim=1)[:, -h:], extra)
        loss = loss + u * prior.pose_excess(late).mean()
        speed_weight = float(params.get("prior_speed", 0.0))
        if speed_weight > 0:
            loss = loss + speed_weight * speed_mismatch(late, win, prior.joints[0])
    return loss


SPEED_MARGIN = 0.1
"""`speed_mismatch` leaves ratios within 1 / 1.1 to 1.1 alone."""


def speed_mismatch(rolled: torch.Tensor, real: torch.Tensor, root: int, margin: float = SPEED_MARGIN) -> torch.Tensor:
    """How far the mean speed of each joint over a batch of rolled-out frames ``(B, T, J, 3)`` is from its mean
    speed over real windows ``(B, T', J, 3)`` (root-relative, per frame step; a population moment, not per
    window: single motions do slow down and stop): the mean over joints of ``max(0, |log(rolled / real)| -
    log(1 + margin))``. The root (its speed relative to itself is 0) is left out."""
    keep = [j for j in range(rolled.shape[-2]) if j != root]

    def speeds(x: torch.Tensor) -> torch.Tensor:
        rel = x - x[..., root : root + 1, :]
        return (rel[:, 1:] - rel[:, :-1]).norm(dim=-1).mean(dim=(0, 1))[keep]  # (J - 1,)

    ratio = speeds(rolled).clamp_min(1e-6) / speeds(real).clamp_min(1e-6)
    return torch.relu(torch.log(ratio).abs() - math.log(1.0 + margin)).mean()


def _teacher_forced(model, batch: torch.Tensor, h: int, weights: torch.Tensor | None) -> torch.Tensor:
    """`training_loss`'s teacher-forced term: a sub-window of ``context + P`` frames (``P`` frames per token,
    ``context`` = `context_frames`, ``history`` unless set) at a random offset, in the canonical frame of its
    frame ``h - 1`` (the frame a rollout canonicalises on: its last observed one); the network reads the first
    ``context`` frames and each token's output is scored against the ``P`` frames that follow it."""
    b, length = batch.shape[:2]
    p = model.config.frames_per_pass
    context = context_frames(model.config)
    if length < context + p:
        raise ValueRangeError(
            f"st-transformer training windows need {context + p} frames (context + frames_per_pass), got {length}"
        )
    offset = torch.randint(0, length - context - p + 1, (b,), device=batch.device)
    rows = offset[:, None] + torch.arange(context + p, device=batch.device)
    win = batch[torch.arange(b, device=batch.device)[:, None], rows]  # (B, context + P, J, 3)
    origin, rot = canonical_frame(win[:, :h], model.skeleton, model.config.canonical)
    x = to_canonical(win, origin, rot)[:, :, model.joints]  # (B, context + P, Jm, 3)
    inputs = x[:, :context]
    noise = float(model.config.params.get("input_noise", 0.0))
    if noise > 0 and model.net.training:
        inputs = inputs + noise * torch.randn_like(inputs)
    clean = x[:, :context].reshape(b, context, -1) if model.config.params.get("clean_base") else None
    pred = model.net(inputs.reshape(b, context, -1), all_steps=True, base_from=clean).reshape(x[:, p:].shape)
    err = (pred - x[:, p:]).norm(dim=-1)
    return (err if weights is None else err * weights).mean()


# ------------------------------------------------------------------------------ cached rollouts
class _CachedPass(nn.Module):
    """The wrapper's pass (`NeuralForecaster.step`: canonical frame, network, joint filling, mirror
    averaging) as two traceable halves around the decode cache. ``start``: world window ``(B, T, J, 3)``
    → ``(next (B, P, J, 3), origin, rot, length, *keys, *values)`` (`STTransformer.init_cache` on the
    window in the canonical frame of its last frame; with ``short``, the next ``short_frames`` frames of the
    network's short-term read-out instead of ``P``); ``forward``: ``(frames (B, P, J, 3), origin, rot,
    length, encoding, *keys, *values)`` → next ``(B, P, J, 3)`` (`STTransformer.step_cached` in that same
    canonical frame; the buffers are written in place)."""

    def __init__(self, model, net: STTransformer, capacity: int, start: bool, short: bool = False) -> None:
        super().__init__()
        self.net, self.capacity, self.is_start, self.short = net, capacity, start, short
        self.skeleton, self.joints, self.config = model.skeleton, list(model.joints), model.config

    def _both(self, x: torch.Tensor) -> torch.Tensor:  # the input and its mirror image along the batch
        from posecast.datasets.windows import mirror

        return torch.cat([x, mirror(x, self.skeleton)], dim=0) if self.config.mirror_average else x

    def _finish(self, y: torch.Tensor, last: torch.Tensor, origin: torch.Tensor, rot: torch.Tensor, b: int):
        """Network output ``y (B', F, Jm * 3)`` (canonical; ``F`` = ``P``, or ``short_frames`` for the short read-out)
        → next world frames ``(B, F, J, 3)``."""
        from posecast.datasets.windows import mirror

        full = y.new_zeros(y.shape[0], y.shape[1], self.skeleton.num_joints, 3)
        full[:, :, self.joints] = y.reshape(y.shape[0], y.shape[1], len(self.joints), 3)
        out = from_canonical(follow_parents(full, last, self.joints, self.skeleton), origin, rot)
        return 0.5 * (out[:b] + mirror(out[b:], self.skeleton)) if self.config.mirror_average else out

    def forward(self, x: torch.Tensor, *state: torch.Tensor):
        b = x.shape[0]
        x = self._both(x)
        if self.is_start:
            origin, rot = canonical_frame(x, self.skeleton, self.config.canonical)
            xc = to_canonical(x, origin, rot)
            y, cache = self.net.init_cache(
                xc[:, :, self.joints].reshape(*xc.shape[:2], -1), self.capacity, short=self.short
            )
            return self._finish(y, xc[:, -1], origin, rot, b), origin, rot, cache.length, *cache.keys, *cache.values
        origin, rot, length, encoding = state[:4]
        n = len(self.net.blocks)
        cache = DecodeCache(tuple(state[4 : 4 + n]), tuple(state[4 + n :]), length, encoding)
        xc = to_canonical(x, origin, rot)
        y, _ = self.net.step_cached(xc[:, :, self.joints].reshape(*xc.shape[:2], -1), cache)
        return self._finish(y, xc[:, -1], origin, rot, b)


def _run(model, key: tuple[Any, ...], build, *inputs: torch.Tensor):
    """``build()(*inputs)``, through a traced and frozen copy at inference (the forecaster's
    `posecast.models.tracing.TraceCache`): Python's per-operation overhead is most of a batch-1 step. A
    step writes the same cache slot again when checked, with the same numbers."""
    if not model._inference(inputs[0].shape[0]):
        return build()(*inputs)
    return model._traced_call((*key, model._weights_version()), build, *inputs)


@register_rollout("st-transformer")
def cached_rollout(model, window: torch.Tensor, frames: int) -> torch.Tensor | None:
    """`NeuralForecaster`'s rollout for the ST-Transformer with the decode cache: ``window (B, T, J, 3)``
    world frames → ``(B, frames, J, 3)``; None (use the full pass per token) when the network's
    ``refresh`` is 1 or autograd is on (training: the cache is written in place).

    Schedule, in tokens of ``P`` frames (see the module docstring, "Rollouts"; ``H`` = ``history / P``, ``C`` =
    the network's context in tokens, ``R`` = ``refresh``): a full pass on the given window (its last ``H``
    tokens) predicts the first token; cached steps follow while the window is shorter than ``C``; then,
    every ``R`` tokens, a full pass on the newest ``min(H, C - R + 1)`` tokens in the canonical frame of the
    newest frame restarts the cache, and ``R - 1`` cached steps in that canonical frame follow. With a
    short-term read-out (``params.short_frames``: ``F`` frames, see the module docstring) the first full pass
    gives ``F / P`` tokens; the cached steps are fed them first, and their predictions are used from the token
    after them on.
    """
    net = getattr(model.net, "module", model.net)  # DDP
    if not isinstance(net, STTransformer) or net.refresh <= 1 or torch.is_grad_enabled():
        return None
    p = net.patch
    h = model.config.history // p  # tokens
    capacity = net.context or h
    keep = max(1, min(h, capacity - net.refresh + 1))  # tokens a restart keeps
    settings = (model.config.mirror_average, model.config.canonical, tuple(model.joints), h, capacity, p)
    encoding = sinusoidal_encoding(capacity, net.dim).to(window)
    chunks: list[torch.Tensor] = []  # (B, P, J, 3) each
    win = window[:, -h * p :]
    reference = window[:, -1:]
    tokens = -(-frames // p)

    prior = getattr(net, "pose_prior", None)

    ramp = int(getattr(net, "project_ramp", 0))

    def bones(y: torch.Tensor, token: int) -> torch.Tensor:  # NeuralConfig.keep_bones, as `NeuralForecaster.step`
        if prior is not None and token >= net.project_from:  # params.project_prior (`attach_projection`)
            projected = prior.project_poses(y).to(y.dtype)
            if ramp > 0:  # params.project_ramp: each frame a growing share of the way, reaching 1 after the ramp
                done = (token - net.project_from) * p + torch.arange(1, y.shape[1] + 1, device=y.device)
                share = (done.to(y.dtype) / ramp).clamp(max=1.0)[None, :, None, None]
                y = y + share * (projected - y)
            else:
                y = projected
        return keep_bone_lengths(y, reference, model.skeleton) if model.config.keep_bones else y

    while len(chunks) < tokens:
        short = not chunks and net.short_frames > 0  # the rollout's first frames: the short-term read-out
        y, origin, rot, length, *kv = _run(
            model,
            ("st-start", short, *win.shape, settings),
            lambda short=short: _CachedPass(model, net, capacity, True, short),
            win,
        )
        # one token, or short_frames / P of them (each projected or not by its own index, as the network's)
        segment = [bones(t, len(chunks) + i) for i, t in enumerate(y.split(p, dim=1))]
        fed, room = 0, capacity - win.shape[1] // p
        if len(segment) > room:  # the cache cannot hold them all: restart from them
            room = 0
        while len(chunks) + len(segment) < tokens and fed < room:
            state = (origin, rot, length, encoding, *kv)
            y = _run(
                model,
                ("st-step", *segment[fed].shape, settings),
                lambda: _CachedPass(model, net, capacity, False),
                segment[fed],
                *state,
            )
            length, fed = length + 1, fed + 1
            if fed == len(segment):  # else the short read-out has given that token already
                segment.append(bones(y, len(chunks) + len(segment)))
        chunks += segment
        win = torch.cat([win, *segment], dim=1)[:, -keep * p :]
    return torch.cat(chunks, dim=1)[:, :frames]


# ---------------------------------------------------------------------------- rotation variant
def rotating_joints(skeleton: Skeleton) -> list[int]:
    """Non-root joints whose local rotation moves some joint (a descendant sits at a non-zero offset)."""
    if skeleton.offsets is None:
        raise SkeletonError(f"skeleton {skeleton.name!r} has no rest offsets for forward kinematics")
    moves = [False] * skeleton.num_joints
    for j in range(skeleton.num_joints - 1, 0, -1):  # children come after their parents
        if moves[j] or np.linalg.norm(skeleton.offsets[j]) > 0:
            moves[skeleton.parents[j]] = True
    return [j for j in range(1, skeleton.num_joints) if moves[j]]


class STTransformerRot(Forecaster):
    """The ST-Transformer on local joint rotations (see the module docstring).

    Rotations are ``(..., J, 3, 3)`` local rotations (column-vector convention, relative to the
    parent), positions come from `forward_kinematics` on the skeleton's rest offsets with the root
    rotation set to identity (body frame) unless `forecast` places them.
    """

    min_history = 1

    def __init__(self, config: NeuralConfig, net: STTransformer | None = None, name: str = "st-transformer-rot"):
        if config.frames_per_pass != 1:
            raise ModelError(
                f"{name} predicts one frame per pass: set frames_per_pass to 1 (got {config.frames_per_pass})"
            )
        self.config, self.name = config, name
        self.skeleton = skeletons.get(config.skeleton)
        self.joints = list(config.joints) if config.joints is not None else rotating_joints(self.skeleton)
        if 0 in self.joints or not self.joints or max(self.joints) >= self.skeleton.num_joints:
            raise ModelError(f"{name}: modelled joints must be non-root joints of {self.skeleton.name!r}")
        if self.skeleton.offsets is None:
            raise SkeletonError(f"{name} needs a skeleton with rest offsets; {self.skeleton.name!r} has none")
        self.net = net if net is not None else STTransformer(len(self.joints), 9, **_net_kwargs(config.params))
        self.net.eval()

    # --------------------------------------------------------------------------- tensor level
    def step(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One pass on ``(B, T, J, 3, 3)`` rotations → ``(next (B, 1, J, 3, 3) proper rotations,
        raw (B, 1, Jm, 3, 3) network outputs of the modelled joints)``; other joints keep their last value."""
        from posecast.kinematics import project_to_so3

        b, t = window.shape[:2]
        raw = self.net(window[:, :, self.joints].reshape(b, t, -1)).reshape(b, 1, len(self.joints), 3, 3)
        nxt = window[:, -1:].clone()
        nxt[:, :, self.joints] = project_to_so3(raw)
        return nxt, raw

    def rollout(self, window: torch.Tensor, frames: int) -> torch.Tensor:
        """``(B, T, J, 3, 3)`` → ``(B, frames, J, 3, 3)``, one frame per pass over a sliding window."""
        out = []
        window = window[:, -self.config.history :]
        for _ in range(frames):
            nxt, _ = self.step(window)
            out.append(nxt)
            window = torch.cat([window, nxt], dim=1)[:, -self.config.history :]
        return torch.cat(out, dim=1)

    def body_positions(self, rotations, offsets: np.ndarray | None = None):
        """``(..., J, 3, 3)`` local rotations (numpy or torch) → ``(..., J, 3)`` body-frame positions in
        metres: FK with the root at the origin and its rotation ignored (as the CMU-Mocap benchmark)."""
        from posecast.kinematics import forward_kinematics

        off = self.skeleton.offsets if offsets is None else offsets
        if isinstance(rotations, torch.Tensor):
            rot = rotations.clone()
            rot[..., 0, :, :] = torch.eye(3, dtype=rot.dtype, device=rot.device)
            return forward_kinematics(
                rot, torch.tensor(np.asarray(off), dtype=rot.dtype, device=rot.device), self.skeleton.parents
            )[0]
        rot = np.array(rotations, dtype=np.float64)
        rot[..., 0, :, :] = np.eye(3)
        return forward_kinematics(rot, np.asarray(off, dtype=np.float64), self.skeleton.parents)[0]

    # ---------------------------------------------------------------------------- array level
    def predict_rotations(self, rotations: np.ndarray, frames: int) -> np.ndarray:
        """``(B, T, J, 3, 3)`` observed local rotations at the model's rate → ``(B, frames, J, 3, 3)``."""
        rot = np.asarray(rotations, dtype=np.float64)
        j = self.skeleton.num_joints
        if rot.ndim != 5 or rot.shape[2:] != (j, 3, 3) or rot.shape[1] < 1:
            raise ValueRangeError(f"{self.name} needs rotations of shape (B, T, {j}, 3, 3), got {rot.shape}")
        need = self.config.history
        if rot.shape[1] < need:
            rot = np.concatenate([np.repeat(rot[:, :1], need - rot.shape[1], axis=1), rot], axis=1)
        with torch.no_grad():
            out = self.rollout(torch.as_tensor(rot[:, -need:], dtype=torch.float32), frames)
        return out.double().numpy()

    def predict(self, history: np.ndarray, frames: int, samples: int = 1, fps: float | None = None) -> np.ndarray:
        raise ModelError(
            f"model {self.name!r} forecasts joint rotations and cannot work from positions alone: call "
            "forecast() with a Motion that has rotations (a BVH or exp-map file), or predict_rotations()"
        )

    def forecast(
        self,
        history: Motion,
        frames: int | None = None,
        seconds: float | None = None,
        samples: int = 1,
        ground_truth: np.ndarray | None = None,
    ) -> Forecast:
        """Forecast a `Motion` that carries rotations; returns positions (metadata notes the root is held)."""
        from posecast.kinematics import procrustes
        from posecast.motion import resample_positions

        where = history.metadata.get("source")
        if history.rotations is None:
            raise ModelError(
                f"model {self.name!r} needs joint rotations, but this motion has positions only "
                "(load a BVH or exp-map file, or use a position model such as 'st-transformer')",
                where,
            )
        if not history.skeleton.same_layout(self.skeleton):
            raise SkeletonError(
                f"model {self.name!r} was trained on skeleton {self.skeleton.name!r}; the motion is on "
                f"{history.skeleton.name!r}",
                where,
            )
        n = resolve_frames(history.fps, frames, seconds)
        if not isinstance(samples, int | np.integer) or samples < 1:
            raise ValueRangeError(f"samples must be a positive integer, got {samples!r}")
        fps = self.config.fps
        hist = history.resample(fps, anchor="end")
        n_model = int(math.ceil(n * fps / history.fps)) + 1
        rot = self.predict_rotations(hist.rotations[None], n_model)[0]  # (n_model, J, 3, 3)
        offsets = history.skeleton.offsets if history.skeleton.offsets is not None else self.skeleton.offsets
        body = self.body_positions(rot, offsets)
        # rigid placement: the body-frame FK of the last observed frame fitted onto its observed positions
        last_body = self.body_positions(hist.rotations[-1], offsets)
        _, r, t, _ = procrustes(last_body, hist.positions[-1], scale=False)
        pos = body @ r.T + t
        if abs(history.fps - fps) > 1e-9:
            pos = resample_positions(np.concatenate([hist.positions[-1:], pos]), fps, history.fps)[1:]
        pos = pos[:n]
        return Forecast(
            samples=np.repeat(pos[None], samples, axis=0),
            fps=history.fps,
            skeleton=history.skeleton,
            history=history,
            ground_truth=ground_truth,
            model=self.name,
            metadata={"source": where, "root": "held at the last observed frame (the network models the body pose)"},
        )

    # -------------------------------------------------------------------------------- weights
    def save(self, directory: Path, metadata: dict[str, Any] | None = None, half: bool = False) -> None:
        """Write the network into weights folder ``directory`` (`posecast.models.store.save_folder`)."""
        cfg = {"name": self.name, "config": self.config.model_dump(), **(metadata or {})}
        store.save_folder(directory, self.net.state_dict(), cfg, half=half, tensor_metadata={"net": self.config.net})

    @classmethod
    @store.keeps_rng()
    def load(cls, directory: Path) -> STTransformerRot:
        """Rebuild from a weights folder written by `save` (no pickles)."""
        state, meta = store.load_folder(directory)
        try:
            model = cls(NeuralConfig(**meta["config"]), name=meta.get("name", "st-transformer-rot"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"invalid rotation-model config: {problems(exc)}", directory) from None
        store.load_state(model.net, state, Path(directory))
        model.net.eval()
        return model


def build_rotation_variant(
    name: str = "st-transformer-rot",
    variant: str | None = None,
    pretrained: bool = True,
    weights: Path | None = None,
    data: str = "cmu-mocap",
) -> STTransformerRot:
    """Registry builder of ``st-transformer-rot``: weights folder ``weights``, else its shipped weights
    (``variant`` or the default one), or with ``pretrained=False`` an untrained model from
    ``configs/st-transformer-rot/<data>.yaml``."""
    from posecast.models.learned import network_config

    if weights is not None:
        return STTransformerRot.load(weights)
    if pretrained:
        return STTransformerRot.load(store.shipped(name, variant))
    if data != "cmu-mocap":
        raise ModelError(f"{name} is configured for cmu-mocap only, not {data!r}")
    ncfg = network_config(name, data).model_copy(update={"canonical": "none"})
    return STTransformerRot(ncfg, name=name)
