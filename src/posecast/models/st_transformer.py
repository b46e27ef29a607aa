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
  velocity).

Causality makes every time step a training example: `training_loss` (picked up by the training
loop's motion plug-in, `posecast.training.motion`) feeds a window of ``history`` frames and scores the next
frame predicted at every step (teacher forcing). The windows are cut at a random offset inside each
training window and put in the canonical frame of their last frame, so the positional encodings and
the canonical frame seen in training are the ones of inference. (The paper trains on windows longer
than its test-time attention window; here both are ``history`` frames.) At inference the wrapper
rolls the network out one frame per pass over a sliding window of ``history`` frames (config
``frames_per_pass: 1``), re-canonicalising at every step.

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
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from posecast import skeletons
from posecast.errors import ModelError, SkeletonError, ValueRangeError
from posecast.models import store
from posecast.models.base import Forecaster, resolve_frames
from posecast.models.blocks import JointLinear, sinusoidal_encoding
from posecast.models.neural import NeuralConfig, canonical_frame, register_net, to_canonical
from posecast.motion import Forecast, Motion
from posecast.skeletons.base import Skeleton


# ------------------------------------------------------------------------------------- network
class TemporalAttention(nn.Module):
    """Causal multi-head attention over the frames of each joint, projections separate per joint.

    ``(B, T, J, d)`` → ``(B, T, J, d)``; the output at frame ``t`` depends on frames ``<= t`` only.
    With ``last_only`` only the last frame's output ``(B, 1, J, d)`` is computed.
    """

    def __init__(self, joints: int, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = JointLinear(joints, dim, 3 * dim)
        self.out = JointLinear(joints, dim, dim)

    def forward(self, e: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        b, t, j, d = e.shape
        h = self.heads
        if last_only:  # the last frame may look at every frame: no mask needed
            w, bias = self.qkv.weight, self.qkv.bias
            q = torch.einsum("bji,jio->bjo", e[:, -1], w[..., :d]) + bias[:, :d]  # (B, J, d)
            kv = torch.einsum("btji,jio->btjo", e, w[..., d:]) + bias[:, d:]  # (B, T, J, 2d)
            q = q.reshape(b, j, h, 1, d // h)
            k, v = kv.reshape(b, t, j, 2, h, d // h).permute(3, 0, 2, 4, 1, 5)
            y = F.scaled_dot_product_attention(q, k, v)  # (B, J, H, 1, d / H)
            return self.out(y.permute(0, 3, 1, 2, 4).reshape(b, 1, j, d))
        # (B, T, J, 3d) -> 3 x (B, J, H, T, d / H)
        q, k, v = self.qkv(e).reshape(b, t, j, 3, h, d // h).permute(3, 0, 2, 4, 1, 5)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(y.permute(0, 3, 1, 2, 4).reshape(b, t, j, d))


class SpatialAttention(nn.Module):
    """Multi-head attention over the joints of each frame: a query projection per joint, key, value
    and output projections shared by all joints. ``(B, T, J, d)`` → ``(B, T, J, d)``."""

    def __init__(self, joints: int, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = JointLinear(joints, dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        b, t, j, d = e.shape
        h = self.heads
        q = self.query(e).reshape(b, t, j, h, d // h).transpose(2, 3)  # (B, T, H, J, d / H)
        k, v = self.key_value(e).reshape(b, t, j, 2, h, d // h).permute(3, 0, 1, 4, 2, 5)
        y = F.scaled_dot_product_attention(q, k, v)
        return self.out(y.transpose(2, 3).reshape(b, t, j, d))


class STBlock(nn.Module):
    """Temporal and spatial attention in parallel (each with residual + layer norm), summed, then a
    feed-forward layer with residual + layer norm. ``(B, T, J, d)`` → same (``(B, 1, J, d)``, the last
    frame only, with ``last_only``)."""

    def __init__(self, joints: int, dim: int, heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.temporal = TemporalAttention(joints, dim, heads)
        self.spatial = SpatialAttention(joints, dim, heads)
        self.norm_t, self.norm_s, self.norm_f = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ff), nn.ReLU(), nn.Linear(ff, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, e: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        now = e[:, -1:] if last_only else e
        a = self.norm_t(now + self.drop(self.temporal(e, last_only))) + self.norm_s(now + self.drop(self.spatial(now)))
        return self.norm_f(a + self.drop(self.ffn(a)))


class STTransformer(nn.Module):
    """``(B, T, J * C)`` → next frames ``(B, 1, J * C)`` (or ``(B, T, J * C)``, one per input frame,
    with ``all_steps=True``), ``C`` numbers per joint."""

    def __init__(
        self,
        joints: int,
        channels: int = 3,
        dim: int = 64,
        heads: int = 4,
        layers: int = 4,
        ff: int = 128,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ModelError(f"st-transformer: d_model {dim} is not divisible by {heads} heads")
        self.joints, self.channels, self.dim = joints, channels, dim
        self.embed = JointLinear(joints, channels, dim)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(STBlock(joints, dim, heads, ff, dropout) for _ in range(layers))
        self.head = JointLinear(joints, dim, channels)
        nn.init.zeros_(self.head.weight)  # residual init: an untrained network predicts zero velocity

    def forward(self, x: torch.Tensor, all_steps: bool = False) -> torch.Tensor:
        b, t, _ = x.shape
        xj = x.reshape(b, t, self.joints, self.channels)
        e = self.embed(xj) + sinusoidal_encoding(t, self.dim).to(x)[:, None]
        e = self.drop(e)
        for i, block in enumerate(self.blocks):  # without all_steps the last block works on the last frame only
            e = block(e, last_only=not all_steps and i == len(self.blocks) - 1)
        if not all_steps:
            xj = xj[:, -1:]
        return (xj + self.head(e)).reshape(b, xj.shape[1], -1)


def _net_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "dim": int(params.get("d_model", 64)),
        "heads": int(params.get("heads", 4)),
        "layers": int(params.get("layers", 4)),
        "ff": int(params.get("ff", 2 * int(params.get("d_model", 64)))),
        "dropout": float(params.get("dropout", 0.1)),
    }


@register_net("st-transformer")
def _build(config: NeuralConfig, features: int) -> STTransformer:
    if config.frames_per_pass != 1:
        raise ModelError(
            f"st-transformer predicts one frame per pass: set frames_per_pass to 1 (got {config.frames_per_pass})"
        )
    return STTransformer(features // 3, 3, **_net_kwargs(config.params))


def training_loss(model, batch: torch.Tensor, history: int, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Teacher-forced next-frame loss (mean per-joint error, metres), the loss the training loop's motion
    plug-in (`posecast.training.motion`) uses for this network family.

    Args:
        model: the `NeuralForecaster` being trained (its ``net`` may be wrapped in DDP).
        batch: ``(B, L, J, 3)`` world-frame training windows, ``L > history``.
        history: frames the network reads.
        weights: ``(Jm,)`` loss weight per modelled joint (default: uniform).

    A sub-window of ``history + 1`` frames starts at a random offset in each window; the network reads
    its first ``history`` frames (in the canonical frame of the last of them, as at inference) and
    every step's output is scored against the frame that follows it.
    """
    h = history
    b, length = batch.shape[:2]
    if length <= h:
        raise ValueRangeError(f"st-transformer training windows need more than {h} frames, got {length}")
    offset = torch.randint(0, length - h, (b,), device=batch.device)
    rows = offset[:, None] + torch.arange(h + 1, device=batch.device)
    win = batch[torch.arange(b, device=batch.device)[:, None], rows]  # (B, h + 1, J, 3)
    origin, rot = canonical_frame(win[:, :h], model.skeleton, model.config.canonical)
    x = to_canonical(win, origin, rot)[:, :, model.joints]  # (B, h + 1, Jm, 3)
    pred = model.net(x[:, :h].reshape(b, h, -1), all_steps=True).reshape(x[:, 1:].shape)
    err = (pred - x[:, 1:]).norm(dim=-1)
    return (err if weights is None else err * weights).mean()


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

    deterministic = True
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
        hist = history.resample(fps)
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
    def load(cls, directory: Path) -> STTransformerRot:
        """Rebuild from a weights folder written by `save` (no pickles)."""
        state, meta = store.load_folder(directory)
        try:
            model = cls(NeuralConfig(**meta["config"]), name=meta.get("name", "st-transformer-rot"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"invalid rotation-model config: {exc}".replace("\n", "; "), directory) from None
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
