"""``lifter``: a 2D→3D lifter over the whole observed window (dilated temporal convolutions, VideoPose3D class).

The video models each lift as part of their forecasting network: ``phd`` with a *causal* encoder of 13
frames (its latent strips must be predictable one frame ahead), ``hmmr`` and ``posemonet`` likewise
tied to their forecasting heads. A lifter has no such constraint: every observed frame is known when the
forecast is made, so each frame's estimate may read the frames after it as well as before it. This
module is that lifter, shared by the 3D forecasting path ``lift+forecast``
(`posecast.video.models.lift_forecast`) and usable on its own:

* **Input**: ``body-17`` keypoints, normalised per frame by the person's crop (`normalise_keypoints`:
  ``(x, y, visibility)`` per joint), so it sees what any 2D detector gives.
* **Network** (`LifterNet`): a per-frame linear map to ``channels``, ``blocks`` centred residual blocks of
  kernel 3 with growing dilations (default 1, 2, 4, 8: a receptive field of 61 frames, 2.4 s at 25 fps;
  edge padding at the ends of the window), then a per-frame read-out of the pelvis-centred 3D joints in
  the camera-aligned frame (metres, x right, y up, z toward the camera).
* **Losses** (`training_loss`): 3D MPJPE against the filmed truth, PHD's reprojection loss through the
  optimal weak-perspective camera, a velocity loss (the frame-to-frame motion of the estimate against the
  truth's; smooth pasts are what a forecaster reads) and a bone-length consistency loss (each bone's
  length over the window against its window mean).
* **Inference** (`Lifter`): the estimate of every observed frame; with ``flip_average`` the mean of that
  estimate and the mirrored estimate of the mirrored keypoints (x flipped, left and right swapped; VideoPose3D's
  test-time flip augmentation: corpus validation windows past MPJPE 36.6 -> 35.4 mm CMU BVH, 23.8 -> 23.1
  Bandai; the lifted forecast's mean over the second 116.4 -> 115.6 / 36.4 -> 36.0); with ``keep_bones``
  each bone is set to its median length over the window (directions kept), so the lifted body does not
  change size from frame to frame; a weak-perspective camera per frame, as the other video models fit it
  (a frame where no joint was seen, whose fit is degenerate, gets the camera interpolated from the frames
  around it). Its own "forecast" holds the last lifted pose (a lifter does not forecast: ``lift+forecast``
  does).

Trained like the other video models (`posecast.training.video`): the corpus's train split on ``body-17``
filmed by random virtual cameras with the detector noise measured on real clips, validation on the corpus
validation split (``configs/lifter/corpus.yaml``), then trained on with other bodies and postures
(``configs/lifter/corpus-bodies.yaml``: `posecast.datasets.windows.BodyAugment`), then with people lying down and
getting up (``configs/lifter/corpus-lying.yaml``: tilts that change within a window, `tilt_ramps`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from posecast import skeletons
from posecast.datasets.windows import mirror
from posecast.kinematics.fk import bone_lengths, set_bone_lengths
from posecast.video.models.base import VideoForecaster, VideoPrediction, load_network
from posecast.video.models.common import (
    MIN_SCALE,
    TemporalEncoder,
    camera_to_pixels,
    fill_unseen_cameras,
    fit_weak_perspective,
    keypoint_features,
    reprojection_loss,
    with_future_cameras,
)


class LifterConfig(BaseModel):
    """Architecture, loss weights and inference options (stored in ``config.json`` next to the weights)."""

    model_config = ConfigDict(extra="forbid")

    skeleton: str = "body-17"
    fps: float = Field(default=25.0, gt=0)
    channels: int = Field(default=256, ge=8)
    kernel: int = Field(default=3, ge=3, description="odd: the blocks are centred")
    dilations: tuple[int, ...] = Field(default=(1, 2, 4, 8), description="one per residual block")
    hidden: int = Field(default=256, ge=8)
    w_2d: float = Field(default=1.0, ge=0, description="weight of the reprojection loss")
    w_velocity: float = Field(default=1.0, ge=0, description="weight of the frame-to-frame motion loss")
    w_bone: float = Field(default=1.0, ge=0, description="weight of the bone-length consistency loss")
    keep_bones: bool = Field(default=True, description="inference: every bone at its median length over the window")
    flip_average: bool = Field(
        default=False,
        description="inference: also lift the mirrored keypoints (x flipped, left and right swapped), mirror that "
        "estimate back and average the two (VideoPose3D's test-time flip augmentation)",
    )

    @model_validator(mode="after")
    def _check(self) -> LifterConfig:
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (centred blocks), not {self.kernel}")
        if not self.dilations or min(self.dilations) < 1:
            raise ValueError(f"dilations must be at least one positive integer, not {self.dilations}")
        return self


class LifterNet(nn.Module):
    """``(B, T, J * 3)`` normalised keypoint features → ``(B, T, J, 3)`` pelvis-centred 3D (metres)."""

    def __init__(self, config: LifterConfig) -> None:
        super().__init__()
        self.config = config
        self.skeleton = skeletons.get(config.skeleton)
        self.joints = self.skeleton.num_joints
        c = config.channels
        self.encoder = TemporalEncoder(
            self.joints * 3, c, len(config.dilations), config.kernel, causal=False, dilations=config.dilations
        )
        self.readout = nn.Sequential(nn.Linear(c, config.hidden), nn.ReLU(), nn.Linear(config.hidden, self.joints * 3))

    @property
    def receptive_field(self) -> int:
        return self.encoder.receptive_field

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.readout(self.encoder(x)).reshape(*x.shape[:-1], self.joints, 3)
        return y - y[..., :1, :]


def training_loss(net: LifterNet, batch: Any, progress: float) -> tuple[torch.Tensor, dict[str, float]]:
    """The lifter's losses on a `VirtualBatch` (module docstring); ``progress`` is not used."""
    cfg = net.config
    x, feats, _, _ = keypoint_features(batch.keypoints, batch.visibility)
    f2d = torch.as_tensor(feats, dtype=torch.float32)
    truth = torch.as_tensor(batch.points, dtype=torch.float32)
    est = net(x)
    l3d = (est - truth).norm(dim=-1).mean()
    l2d = reprojection_loss(est, f2d[..., :2], f2d[..., 2])
    lvel = ((est[:, 1:] - est[:, :-1]) - (truth[:, 1:] - truth[:, :-1])).norm(dim=-1).mean()
    lengths = bone_lengths(est, net.skeleton)  # (B, T, Bn)
    lbone = (lengths - lengths.mean(dim=1, keepdim=True)).abs().mean()
    loss = l3d + cfg.w_2d * l2d + cfg.w_velocity * lvel + cfg.w_bone * lbone
    logs = {
        "past_mm": float(l3d.detach()) * 1000,
        "velocity_mm": float(lvel.detach()) * 1000,
        "bone_mm": float(lbone.detach()) * 1000,
    }
    return loss, logs


def median_bones(poses: torch.Tensor, skeleton: Any) -> torch.Tensor:
    """``(B, T, J, 3)`` poses with every bone at its median length over the ``T`` frames of its window
    (directions kept; rebuilt from the pelvis, `posecast.kinematics.fk.set_bone_lengths`)."""
    lengths = bone_lengths(poses, skeleton).median(dim=-2, keepdim=True).values
    return set_bone_lengths(poses, lengths, skeleton)


class Lifter(VideoForecaster):
    """The `VideoForecaster` around a trained `LifterNet`: the lifted past, and the last lifted pose held as
    its forecast (``lift+forecast`` forecasts what this lifts)."""

    name = "lifter"

    def __init__(self, net: LifterNet) -> None:
        self.net = net.eval()
        self.config = net.config
        self.fps = float(net.config.fps)
        self.skeleton = net.config.skeleton
        self.uses_world = False

    @torch.no_grad()
    def lift(self, keypoints: np.ndarray, visibility: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Past 3D ``(B, T, J, 3)`` (metres, camera-aligned, pelvis-centred) and pixel cameras ``(B, T, 3)`` of
        keypoints ``(B, T, J, 2)`` with visibility ``(B, T, J)``."""
        x, feats, centre, half = keypoint_features(keypoints, visibility)
        past = self.net(x).double()
        if self.config.flip_average:
            perm = self.net.skeleton.mirror_permutation
            flipped = keypoints[..., perm, :].copy()
            flipped[..., 0] = -flipped[..., 0]
            mirrored = self.net(keypoint_features(flipped, visibility[..., perm])[0]).double()
            past = 0.5 * (past + mirror(mirrored, self.net.skeleton))  # back to the seen side
        if self.config.keep_bones and past.shape[1] > 1:
            past = median_bones(past, self.net.skeleton)
        cam = fit_weak_perspective(past, torch.as_tensor(feats[..., :2]), torch.as_tensor(feats[..., 2])).numpy()
        cam[..., 0] = np.maximum(cam[..., 0], MIN_SCALE)
        return past.numpy(), fill_unseen_cameras(camera_to_pixels(cam, centre, half), visibility)

    def predict(
        self, keypoints: np.ndarray, visibility: np.ndarray, frames: int, world: np.ndarray | None = None
    ) -> VideoPrediction:
        past, cam = self.lift(keypoints, visibility)
        future = np.repeat(past[:, -1:], frames, axis=1)
        return VideoPrediction(past=past, future=future, camera=with_future_cameras(cam, frames))


def build(config: LifterConfig | None = None) -> LifterNet:
    """An untrained network."""
    return LifterNet(config or LifterConfig())


FORECASTER = Lifter
"""The forecaster class around the network (`posecast.video.models.build`)."""


def load(weights: Path | None = None) -> Lifter:
    """The model from weights folder ``weights`` (default: the shipped one; `posecast.models.store`)."""
    return Lifter(load_network("lifter", weights, LifterConfig, LifterNet))


@torch.no_grad()
def evaluate(net: LifterNet, val: Any, chunk: int = 128) -> dict[str, float]:
    """Validation numbers on a `VirtualBatch` of windows: past MPJPE (mm, every frame; as trained and with the
    bones at their window medians) and the MPJPE of the window's last frame (mm: where a forecast starts)."""
    from posecast.video.cameras import batch_slice

    was = net.training
    net.eval()
    past, kept, last, n = 0.0, 0.0, 0.0, 0
    for i in range(0, len(val), chunk):
        b = batch_slice(val, slice(i, i + chunk))
        x, _, _, _ = keypoint_features(b.keypoints, b.visibility)
        truth = torch.as_tensor(b.points, dtype=torch.float32)
        est = net(x)
        past += float((est - truth).norm(dim=-1).mean()) * len(b)
        kept += float((median_bones(est, net.skeleton) - truth).norm(dim=-1).mean()) * len(b)
        last += float((est[:, -1] - truth[:, -1]).norm(dim=-1).mean()) * len(b)
        n += len(b)
    net.train(was)
    return {"val_past_mm": 1000 * past / n, "val_past_bones_mm": 1000 * kept / n, "val_last_mm": 1000 * last / n}
