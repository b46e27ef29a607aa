"""``phd``: Predicting Human Dynamics from video (Zhang, Felsen, Kanazawa & Malik, ICCV 2019), on
2D keypoint tracks (/work/shared/papers/phd_predicting_human_dynamics_from_video_iccv2019.txt).

The paper's pipeline with its image features replaced by keypoints:

* per-frame features ``φ_t``: the crop-normalised 2D keypoints and their visibility
  (`common.normalise_keypoints`), optionally the backend's world landmarks (``use_world``);
* ``f_movie``: a **causal** temporal encoder, 3 residual blocks of 1D convolutions (kernel 3, edge
  padding, per-frame layer norm), receptive field 13 frames (0.52 s at 25 fps), giving the latent
  "movie strip" ``Φ_t`` (`common.TemporalEncoder`);
* ``f_3D``: a per-frame MLP read-out of the pelvis-centred, camera-aligned 3D joints from ``Φ_t``
  (the paper regresses SMPL; PoseCast's video models output ``body-17`` joints);
* ``f_AR``: an autoregressive predictor in latent space with the same causal architecture,
  ``Φ̃_{t+1} = Φ_t + f_AR(Φ_{t-12..t})``, fed its own outputs at test time.

Training (`training_loss`), all losses at once rather than PHD's two stages:

* 3D loss on the read-out of the observed frames (the mocap truth is known for every frame),
* 2D re-projection loss through the closed-form optimal weak-perspective camera (PHD eq. 6,
  `common.reprojection_loss`), on observed and predicted frames,
* latent distillation ``||Φ_t - Φ̃_t||`` (PHD eq. 5, squared, target detached) and the 3D loss on
  the read-out of predicted strips, both teacher-forced (one step, every frame) and on a self-fed
  rollout whose length follows a curriculum from 1 to 25 steps (PHD Sec. 3.4).

Cameras: observed frames get the optimal weak-perspective camera of their estimated 3D and the
detected 2D; future frames hold the scale and extrapolate the translation, damped
(`common.extrapolate_camera`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from posecast import skeletons
from posecast.video.models.base import VideoForecaster, VideoPrediction, load_network
from posecast.video.models.common import (
    MIN_SCALE,
    TemporalEncoder,
    camera_to_pixels,
    fit_weak_perspective,
    keypoint_features,
    reprojection_loss,
    with_future_cameras,
)


class PHDConfig(BaseModel):
    """Architecture and loss weights (stored in ``config.json`` next to the weights)."""

    model_config = ConfigDict(extra="forbid")

    skeleton: str = "body-17"
    fps: float = Field(default=25.0, gt=0)
    channels: int = 128
    blocks: int = 3
    kernel: int = 3
    hidden: int = 256
    use_world: bool = False
    context: int = Field(default=25, description="observed frames before the self-fed rollout in training")
    ar_max_steps: int = Field(default=25, description="curriculum end: self-fed steps")
    curriculum_fraction: float = Field(default=0.5, description="fraction of training to reach ar_max_steps")
    w_2d: float = 1.0
    w_distill: float = 0.1


class PHDNet(nn.Module):
    """``f_movie``, ``f_3D`` and ``f_AR`` on ``(B, T, D)`` per-frame features."""

    def __init__(self, config: PHDConfig) -> None:
        super().__init__()
        self.config = config
        self.joints = skeletons.get(config.skeleton).num_joints
        d_in = self.joints * (6 if config.use_world else 3)
        c = config.channels
        self.movie = TemporalEncoder(d_in, c, config.blocks, config.kernel, causal=True)
        self.readout = nn.Sequential(nn.Linear(c, config.hidden), nn.ReLU(), nn.Linear(config.hidden, self.joints * 3))
        self.ar = TemporalEncoder(c, c, config.blocks, config.kernel, causal=True)
        nn.init.zeros_(self.ar.out.weight)
        nn.init.zeros_(self.ar.out.bias)

    @property
    def receptive_field(self) -> int:
        return self.movie.receptive_field

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, T, D)`` → movie strip ``(B, T, C)`` (causal)."""
        return self.movie(features)

    def read(self, phi: torch.Tensor) -> torch.Tensor:
        """``(B, T, C)`` → pelvis-centred 3D ``(B, T, J, 3)`` metres."""
        x = self.readout(phi).reshape(*phi.shape[:-1], self.joints, 3)
        return x - x[..., :1, :]

    def next_strips(self, phi: torch.Tensor) -> torch.Tensor:
        """Teacher-forced one-step predictions: output ``t`` is ``Φ̃_{t+1}`` from ``Φ_{<=t}``."""
        return phi + self.ar(phi)

    def rollout(self, phi: torch.Tensor, steps: int) -> torch.Tensor:
        """``steps`` self-fed predictions ``(B, steps, C)`` after the strips ``phi (B, T, C)``."""
        r = self.ar.receptive_field
        seq = phi[:, -r:]
        out = []
        for _ in range(steps):
            nxt = seq[:, -1] + self.ar(seq)[:, -1]
            out.append(nxt)
            seq = torch.cat([seq[:, 1:] if seq.shape[1] >= r else seq, nxt[:, None]], dim=1)
        return torch.stack(out, dim=1)


def training_loss(net: PHDNet, batch: Any, progress: float) -> tuple[torch.Tensor, dict[str, float]]:
    """The PHD losses on a `VirtualBatch` (see the module docstring); ``progress`` in ``[0, 1]``
    drives the self-fed curriculum ``1 → ar_max_steps``."""
    cfg = net.config
    x, feats, _, _ = keypoint_features(batch.keypoints, batch.visibility, batch.world, cfg.use_world)
    f2d = torch.as_tensor(feats, dtype=torch.float32)
    target2d, vis = f2d[..., :2], f2d[..., 2]
    truth = torch.as_tensor(batch.points, dtype=torch.float32)
    t = truth.shape[1]
    phi = net.encode(x)
    est = net.read(phi)
    l3d = (est - truth).norm(dim=-1).mean()
    l2d = reprojection_loss(est, target2d, vis)
    # teacher-forced latent prediction, every frame
    nxt = net.next_strips(phi[:, :-1])
    ltf3d = (net.read(nxt) - truth[:, 1:]).norm(dim=-1).mean()
    ltf_dist = ((nxt - phi[:, 1:].detach()) ** 2).mean()
    # self-fed rollout with the curriculum
    steps = 1 + round((cfg.ar_max_steps - 1) * min(1.0, progress / max(cfg.curriculum_fraction, 1e-6)))
    c = min(cfg.context, t - 1)
    steps = max(1, min(steps, t - c))
    pred = net.rollout(phi[:, :c], steps)
    pest = net.read(pred)
    lar3d = (pest - truth[:, c : c + steps]).norm(dim=-1).mean()
    lar2d = reprojection_loss(pest, target2d[:, c : c + steps], vis[:, c : c + steps])
    lar_dist = ((pred - phi[:, c : c + steps].detach()) ** 2).mean()
    loss = l3d + ltf3d + lar3d + cfg.w_2d * (l2d + lar2d) + cfg.w_distill * (ltf_dist + lar_dist)
    logs = {
        "past_mm": float(l3d.detach()) * 1000,
        "ar_mm": float(lar3d.detach()) * 1000,
        "reproj": float(l2d.detach()),
        "distill": float(lar_dist.detach()),
        "ar_steps": float(steps),
    }
    return loss, logs


class PHD(VideoForecaster):
    """The `VideoForecaster` around a trained `PHDNet`."""

    name = "phd"

    def __init__(self, net: PHDNet) -> None:
        from posecast.models.tracing import TraceCache

        self.net = net.eval()
        self.config = net.config
        self.fps = float(net.config.fps)
        self.skeleton = net.config.skeleton
        self.uses_world = net.config.use_world
        self._traces = TraceCache()

    @torch.no_grad()
    def warm(self, seconds: float) -> None:
        """Trace the rollout a steady camera stream runs (a full receptive field, ``seconds`` ahead)."""
        seq = torch.zeros(1, self.net.ar.receptive_field, self.config.channels)
        for _ in range(2):
            self._rollout(seq, max(1, round(seconds * self.fps)))

    def _rollout(self, phi: torch.Tensor, steps: int) -> torch.Tensor:
        """`PHDNet.rollout`; a shape asked for a second time (a live camera: every frame) runs as one traced
        graph (`posecast.models.tracing`; about 1.5x faster: 26 self-fed steps of ~30 small modules)."""
        seq = phi[:, -self.net.ar.receptive_field :]  # all the rollout reads
        if self.net.training or seq.shape[0] > 16:
            return self.net.rollout(seq, steps)
        version = sum(p._version for p in self.net.parameters())
        key = (tuple(seq.shape), steps, version)
        return self._traces(key, lambda: _Rollout(self.net, steps), seq, after=2)

    @torch.no_grad()
    def estimate(self, keypoints: np.ndarray, visibility: np.ndarray, world: np.ndarray | None = None):
        """Movie strips ``(B, T, C)``, past 3D ``(B, T, J, 3)`` and pixel cameras ``(B, T, 3)``."""
        x, feats, centre, half = keypoint_features(keypoints, visibility, world, self.uses_world)
        phi = self.net.encode(x)
        past = self.net.read(phi)
        cam = fit_weak_perspective(past.double(), torch.as_tensor(feats[..., :2]), torch.as_tensor(feats[..., 2]))
        cam = cam.numpy()
        cam[..., 0] = np.maximum(cam[..., 0], MIN_SCALE)
        return phi, past.double().numpy(), camera_to_pixels(cam, centre, half)

    @torch.no_grad()
    def predict(
        self, keypoints: np.ndarray, visibility: np.ndarray, frames: int, world: np.ndarray | None = None
    ) -> VideoPrediction:
        phi, past, cam = self.estimate(keypoints, visibility, world)
        future = self.net.read(self._rollout(phi, frames)).double().numpy()
        return VideoPrediction(past=past, future=future, camera=with_future_cameras(cam, frames))


class _Rollout(torch.nn.Module):
    """``net.rollout(seq, steps)`` as a module (what `TraceCache` traces), the network as a sub-module."""

    def __init__(self, net: PHDNet, steps: int) -> None:
        super().__init__()
        self.net, self.steps = net, steps

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        return self.net.rollout(seq, self.steps)


def build(config: PHDConfig | None = None) -> PHDNet:
    """An untrained network."""
    return PHDNet(config or PHDConfig())


FORECASTER = PHD
"""The forecaster class around the network (`posecast.video.models.build`)."""


def load(weights: Path | None = None) -> PHD:
    """The model from weights folder ``weights`` (default: the shipped one; `posecast.models.store`)."""
    return PHD(load_network("phd", weights, PHDConfig, PHDNet))


def evaluate(net: PHDNet, val: Any, observe: int = 25, chunk: int = 128) -> dict[str, float]:
    """Validation numbers on a `VirtualBatch` of windows: past MPJPE (mm, all frames) and the mean
    forecast MPJPE (mm) of the frames after the first ``observe`` (self-fed from there)."""
    from posecast.video.cameras import batch_slice

    past, fut, n = 0.0, 0.0, 0
    for i in range(0, len(val), chunk):
        b = batch_slice(val, slice(i, i + chunk))
        x, _, _, _ = keypoint_features(b.keypoints, b.visibility, b.world, net.config.use_world)
        truth = torch.as_tensor(b.points, dtype=torch.float32)
        phi = net.encode(x)
        past += float((net.read(phi) - truth).norm(dim=-1).mean()) * len(b)
        steps = truth.shape[1] - observe
        pred = net.read(net.rollout(phi[:, :observe], steps))
        fut += float((pred - truth[:, observe:]).norm(dim=-1).mean()) * len(b)
        n += len(b)
    return {"val_past_mm": 1000 * past / n, "val_future_mm": 1000 * fut / n}
