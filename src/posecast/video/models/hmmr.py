"""``hmmr``: 3D human dynamics from video and from a single frame (Kanazawa et al., "Learning 3D Human
Dynamics from Video", CVPR 2019, /work/shared/papers/hmmr_*.txt), on 2D keypoints.

Parts (paper Sec. 3 and appendix 8.1), with our per-frame features being the crop-normalised
body-17 keypoints and their visibility from the pose backend instead of ResNet image features:

* **frame encoder** - a per-frame MLP, keypoints ``(J, 3)`` → feature ``φ_t`` (stands in for the
  paper's pretrained image features, trained jointly here).
* **temporal encoder** ``f_movie`` - a *centred* 1D convolutional ResNet (`TemporalEncoder`, three
  residual blocks of two kernel-3 convolutions with per-frame group norm): ``Φ_t`` depends on frames
  ``t - 6 … t + 6``, a receptive field of **13 frames** (0.52 s at 25 fps), as in the paper.
* **hallucinator** ``h`` - two fully connected layers whose output is added to ``φ_t``
  (skip connection): ``Φ̃_t = φ_t + MLP(φ_t)``, trained to match ``Φ_t`` (``L_hal``).
* **3D regressor** ``f_3D`` - iterative error feedback (3 iterations, shared weights, learned mean
  start): ``Θ^{(k+1)} = Θ^{(k)} + f([Φ_t, Θ^{(k)}])``, here ``Θ`` = the 3D joints ``(J, 3)``
  (pelvis-centred, camera-aligned, metres) instead of SMPL parameters.
* **dynamics predictors** ``f_Δt`` - one IEF regressor per offset ``Δt`` (separate weights, run
  together as per-offset affine maps), started from the current pose ``Θ_t``, predicting the pose at
  frame ``t + Δt``. Default offsets ``Δt = ±1 … ±5`` frames at 25 fps, i.e. **up to ±0.2 s**, the
  paper's ``Δt = ±5`` frames; every intermediate frame gets its own predictor so that past and future
  come out as dense 25-fps sequences.

Loss (paper eqs. 1, 2, 5, 7), per frame: the 3D loss (mean per-joint error, metres) and the 2D
reprojection loss on visible keypoints through the closed-form optimal weak-perspective camera
(`reprojection_loss`, as the paper does for the ``±Δt`` frames), for ``Θ_t`` and for every
``Θ_{t+Δt}`` whose target frame lies in the training window, from both ``Φ_t`` and ``Φ̃_t``,
the ``±Δt`` terms averaged over the offsets, plus ``L_hal`` = the mean squared difference of
``Φ_t`` and ``Φ̃_t`` (``Φ_t`` detached: the hallucinator learns from the encoder).
Not carried over: the SMPL shape / constant-shape loss (no mesh) and the adversarial pose prior
(our training data has 3D truth for every frame).

Forecasting:

* **one frame** (an image): ``Φ̃`` from the hallucinator; ``past`` = the poses at
  ``t - 5 … t - 1`` (``f_Δt`` for the negative offsets) and the current pose ``t`` (6 frames);
  ``future`` = the poses at ``t + 1 … t + min(F, 5)`` from the positive offsets, then held
  (zero velocity) up to the ``F = round(seconds · fps)`` frames asked for. Times are the frame's
  time ``± k / fps``.
* **a video**: ``past`` = ``f_3D(Φ_t)`` for every observed frame (temporal encoder, edge-padded at
  the ends); ``future`` = the positive-offset predictions from the last frame's ``Φ``, then held.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from posecast.errors import ModelError
from posecast.models.base import resolve_frames
from posecast.models.blocks import JointLinear
from posecast.video.models.base import VideoForecast, VideoForecaster, VideoPrediction, load_network
from posecast.video.models.common import TemporalEncoder, reprojection_loss
from posecast.video.track import PoseTrack


class HMMRConfig(BaseModel):
    """Architecture and loss weights (stored as JSON next to the weights)."""

    model_config = ConfigDict(extra="forbid")

    skeleton: str = "body-17"
    fps: float = Field(default=25.0, gt=0)
    window: int = Field(default=33, ge=1, description="informational only: the training window is the loop's --length")
    in_channels: int = 3
    feature: int = Field(default=128, description="φ and Φ channels (paper: 2048)")
    blocks: int = Field(default=3, description="temporal residual blocks (paper: 3 → 13-frame field)")
    kernel: int = 3
    regressor: int = Field(default=256, description="width of the IEF regressors (paper: 1024)")
    iterations: int = Field(default=3, description="IEF iterations (paper: 3)")
    hallucinator: int = Field(default=256, description="hallucinator hidden width (paper: 2048)")
    deltas: list[int] = Field(default_factory=lambda: [-5, -4, -3, -2, -1, 1, 2, 3, 4, 5])
    dropout: float = Field(default=0.0, description="between the regressor layers (paper: dropout, rate not given)")
    w2d: float = Field(default=0.5, description="weight of the reprojection losses")
    whal: float = Field(default=1.0, description="weight of L_hal")
    train_frames: int = Field(default=4, description="frames per window for the dynamics / hallucinator losses")


class IEF(nn.Module):
    """Iterative error feedback for ``D`` separate regressors at once: ``Φ (..., F)`` and start poses
    ``(..., D, J, 3)`` → poses ``(..., D, J, 3)`` after ``iterations`` residual updates, each
    ``Θ += W3 relu(W2 drop(relu(W1 [Φ, Θ])))`` with per-regressor weights (`JointLinear`)."""

    def __init__(self, heads: int, feature: int, joints: int, width: int, iterations: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.iterations = heads, iterations
        self.l1 = JointLinear(heads, feature + joints * 3, width)
        self.l2 = JointLinear(heads, width, width)
        self.l3 = JointLinear(heads, width, joints * 3, gain=0.01)
        self.drop = nn.Dropout(dropout)

    def _linear(self, layer: JointLinear, x: torch.Tensor) -> torch.Tensor:
        if self.heads == 1:  # one regressor: a plain matrix product is much faster than the einsum
            return x @ layer.weight[0] + layer.bias[0]
        return layer(x)

    def forward(self, phi: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        theta = start
        f = phi[..., None, :].expand(*phi.shape[:-1], self.heads, phi.shape[-1])
        for _ in range(self.iterations):
            h = torch.relu(self._linear(self.l1, torch.cat([f, theta.flatten(-2)], dim=-1)))
            h = torch.relu(self._linear(self.l2, self.drop(h)))
            theta = theta + self._linear(self.l3, h).unflatten(-1, theta.shape[-2:])
        return theta


class HMMR(nn.Module):
    """``x (B, T, J, C)`` normalised keypoint features → dict of ``phi (B, T, F)``, ``movie (B, T, F)``
    (``Φ``), ``hal (B, T, F)`` (``Φ̃``), and for each of ``movie`` / ``hal``: ``pose (B, T, J, 3)`` and
    ``deltas (B, T, D, J, 3)`` (the poses at ``t + Δt`` for the configured offsets)."""

    def __init__(self, cfg: HMMRConfig) -> None:
        super().__init__()
        from posecast import skeletons

        self.config = cfg
        j = skeletons.get(cfg.skeleton).num_joints
        f = cfg.feature
        self.joints = j
        self.frame = nn.Sequential(
            nn.Linear(j * cfg.in_channels, f), nn.ReLU(), nn.Linear(f, f), nn.ReLU(), nn.Linear(f, f)
        )  # fmt: skip
        self.movie = TemporalEncoder(f, f, blocks=cfg.blocks, kernel=cfg.kernel, causal=False)
        self.hal = nn.Sequential(nn.Linear(f, cfg.hallucinator), nn.ReLU(), nn.Linear(cfg.hallucinator, f))
        # IEF starts from a learned mean pose, initialised at the rest pose (a zero start makes the
        # closed-form camera of the reprojection loss ill-conditioned)
        from posecast.video.models.posemonet import rest_pose

        self.mean_pose = nn.Parameter(torch.as_tensor(rest_pose(cfg.skeleton), dtype=torch.float32)[None].clone())
        self.f3d = IEF(1, f, j, cfg.regressor, cfg.iterations, cfg.dropout)
        self.fdt = IEF(len(cfg.deltas), f, j, cfg.regressor, cfg.iterations, cfg.dropout)

    @property
    def receptive_field(self) -> int:
        """Frames of input that one output ``Φ_t`` depends on (centred on ``t``)."""
        return self.movie.receptive_field

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., J, C)`` → ``φ (..., F)``."""
        return self.frame(x.flatten(-2))

    def hallucinate(self, phi: torch.Tensor) -> torch.Tensor:
        """``φ (..., F)`` → ``Φ̃ (..., F)``: one frame's feature to its temporal representation."""
        return phi + self.hal(phi)

    def heads(self, rep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``Φ (..., F)`` → current pose ``(..., J, 3)`` and poses at ``t + Δt`` ``(..., D, J, 3)``."""
        start = self.mean_pose.expand(*rep.shape[:-1], 1, self.joints, 3)
        pose = self.f3d(rep, start)  # (..., 1, J, 3)
        d = len(self.config.deltas)
        deltas = self.fdt(rep, pose.expand(*rep.shape[:-1], d, self.joints, 3))
        return pose[..., 0, :, :], deltas

    def forward(self, x: torch.Tensor, at: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """All outputs; the dynamics predictions and the hallucinated branch only at frames ``at``
        (``(K,)`` indices; default: every frame), ``deltas`` then being ``(B, K, D, J, 3)``."""
        phi = self.features(x)
        movie = self.movie(phi)
        pose = self.f3d(movie, self.mean_pose.expand(*movie.shape[:-1], 1, self.joints, 3))[..., 0, :, :]
        if at is not None:
            phi, movie = phi[:, at], movie[:, at]
        d = len(self.config.deltas)
        current = pose if at is None else pose[:, at]
        deltas = self.fdt(movie, current[..., None, :, :].expand(*current.shape[:-2], d, self.joints, 3))
        hal = self.hallucinate(phi)
        hpose, hdeltas = self.heads(hal)
        return {
            "phi": phi,
            "movie": movie,
            "hal": hal,
            "pose": pose,
            "deltas": deltas,
            "hal_pose": hpose,
            "hal_deltas": hdeltas,
        }

    def loss(
        self, out: dict[str, torch.Tensor], target: torch.Tensor, x: torch.Tensor, at: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 7 for targets ``(B, T, J, 3)`` (metres) and the input features ``x (B, T, J, C)`` (their
        first two channels are the 2D targets, the third the visibility weights); ``at`` as in
        `forward`. Offsets whose target frame ``t + Δt`` falls outside the window are skipped."""
        cfg = self.config
        t = target.shape[1]
        at = torch.arange(t) if at is None else at
        kp, vis = x[..., :2], x[..., 2]

        def frame_loss(pose: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
            return (pose - target[:, idx]).norm(dim=-1).mean() + cfg.w2d * reprojection_loss(
                pose, kp[:, idx], vis[:, idx]
            )

        def dynamics(deltas: torch.Tensor) -> torch.Tensor:
            total = deltas.new_zeros(())
            for i, dt in enumerate(cfg.deltas):
                ok = (at + dt >= 0) & (at + dt < t)
                if ok.any():
                    total = total + frame_loss(deltas[:, ok, i], at[ok] + dt) / len(cfg.deltas)
            return total

        l_temporal = frame_loss(out["pose"], torch.arange(t)) + dynamics(out["deltas"])
        l_single = frame_loss(out["hal_pose"], at) + dynamics(out["hal_deltas"])
        l_hal = (out["movie"].detach() - out["hal"]).pow(2).mean()
        total = l_temporal + l_single + cfg.whal * l_hal
        parts = {
            "temporal": float(l_temporal.detach()),
            "single": float(l_single.detach()),
            "hal": float(l_hal.detach()),
        }
        return total, parts


# ------------------------------------------------------------------------------- forecaster


class HMMRForecaster(VideoForecaster):
    """`VideoForecaster` around a trained `HMMR` (see the module docstring for what past and future
    hold for one frame and for a video)."""

    name = "hmmr"

    def __init__(self, net: HMMR) -> None:
        self.net = net.eval()
        self.fps = net.config.fps
        self.skeleton = net.config.skeleton
        deltas = list(net.config.deltas)
        self.future_heads = [i for i, d in sorted(enumerate(deltas), key=lambda e: e[1]) if d > 0]
        self.past_heads = [i for i, d in sorted(enumerate(deltas), key=lambda e: e[1]) if d < 0]
        fut, past = sorted(d for d in deltas if d > 0), sorted(d for d in deltas if d < 0)
        if fut != list(range(1, len(fut) + 1)) or past != list(range(-len(past), 0)):
            raise ModelError(f"hmmr forecasting needs offsets ±1..±K frames, got {deltas}")

    @property
    def past_frames(self) -> int:
        """Frames hallucinated before a single input frame (``K``)."""
        return len(self.past_heads)

    @property
    def future_frames(self) -> int:
        """Frames predicted after the last input frame before the pose is held (``K``)."""
        return len(self.future_heads)

    def _future(self, deltas: torch.Tensor, frames: int) -> torch.Tensor:
        """``(B, D, J, 3)`` → ``(B, frames, J, 3)``: positive offsets in order, the last one held."""
        fut = deltas[:, self.future_heads]
        if frames > fut.shape[1]:
            fut = torch.cat([fut, fut[:, -1:].expand(-1, frames - fut.shape[1], -1, -1)], dim=1)
        return fut[:, :frames]

    @torch.no_grad()
    def run(self, feats: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
        """``feats (B, T, J, 3)`` → ``past (B, T, J, 3)``, ``future (B, frames, J, 3)``; one frame goes
        through the hallucinator, longer tracks through the temporal encoder."""
        x = torch.as_tensor(feats, dtype=torch.float32)
        phi = self.net.features(x)
        rep = self.net.hallucinate(phi) if x.shape[1] == 1 else self.net.movie(phi)
        pose, deltas = self.net.heads(rep)
        return pose.double().numpy(), self._future(deltas[:, -1], frames).double().numpy()

    def predict(self, keypoints, visibility, frames, world=None) -> VideoPrediction:
        from posecast.video.models.common import normalise_keypoints

        feats, centre, half = normalise_keypoints(keypoints, visibility)
        past, future = self.run(feats, frames)
        return VideoPrediction(past=past, future=future, camera=_cameras(past, feats, centre, half, frames))

    @torch.no_grad()
    def single(self, keypoints: np.ndarray, visibility: np.ndarray, frames: int) -> VideoPrediction:
        """One frame ``(B, 1, J, 2)``: ``past (B, K + 1, J, 3)`` (hallucinated ``t - K … t``) and
        ``future (B, frames, J, 3)``; cameras: the frame's fit for all past frames, held after."""
        from posecast.video.models.common import normalise_keypoints

        feats, centre, half = normalise_keypoints(keypoints, visibility)
        x = torch.as_tensor(feats, dtype=torch.float32)
        pose, deltas = self.net.heads(self.net.hallucinate(self.net.features(x)))  # (B, 1, ...)
        past = torch.cat([deltas[:, 0, self.past_heads], pose], dim=1).double().numpy()
        future = self._future(deltas[:, 0], frames).double().numpy()
        cam = _cameras(past[:, -1:], feats, centre, half, 0)  # (B, 1, 3)
        camera = np.repeat(cam, past.shape[1] + frames, axis=1)
        return VideoPrediction(past=past, future=future, camera=camera)

    def forecast_track(self, track: PoseTrack, seconds: float) -> VideoForecast:
        """A video track goes through `VideoForecaster.forecast_track`; a single frame (an image) returns the
        hallucinated past ``t - K … t`` (``K + 1`` frames) and ``round(seconds · fps)`` future frames
        (the first ``K`` predicted, then held), on times ``t ± k / fps``, anchored at the frame's keypoints. A
        track whose person is seen in its last frame only is that frame (`PoseTrack.from_first_detection`). Its
        ``metadata["detected"]`` (the written ``history_detected``) is False for the ``K`` hallucinated frames
        before it and the frame's own detection for it; ``metadata["hallucinated_s"]`` is ``K / fps``, the past
        before the frame (``start_time`` lies that much before it)."""
        track = track.from_first_detection()
        if track.num_frames != 1:
            return super().forecast_track(track, seconds)
        resolve_frames(1.0, None, seconds)  # a positive number of seconds, as every model checks it
        body = track.to_layout(self.skeleton)
        f = max(1, round(float(seconds) * self.fps))
        seen = self.model_input(body)
        pred = self.single(seen.keypoints[None], seen.visibility[None], f)
        k = self.past_frames
        t0 = float(body.times[0])
        times = t0 + np.arange(-k, f + 1) / self.fps
        video = VideoForecast(
            past=self.model_output(pred.past[0]),
            future=self.model_output(pred.future[0]),
            fps=self.fps,
            times=times,
            camera=pred.camera[0],
            skeleton=self.skeleton,
            model=self.name,
            metadata={
                "source": track.metadata.get("source"),
                "single_frame": True,
                "detected": np.append(np.zeros(k, dtype=bool), bool(track.detected[-1])),  # the past: t - K .. t
                "hallucinated_s": k / self.fps,
            },
        )
        return self.anchored(video, body.keypoints[-1], body.visibility[-1])


def _cameras(past: np.ndarray, feats: np.ndarray, centre: np.ndarray, half: np.ndarray, frames: int) -> np.ndarray:
    """Pixel cameras ``(B, T + frames, 3)``: the weak-perspective fit of each estimated frame to its
    keypoints, then `extrapolate_camera` for the future."""
    from posecast.video.models.common import camera_to_pixels, fit_weak_perspective_np, with_future_cameras

    cam = camera_to_pixels(fit_weak_perspective_np(past, feats[..., :2], feats[..., 2]), centre, half)
    return with_future_cameras(cam, frames)


FORECASTER = HMMRForecaster
"""The forecaster class around the network (`posecast.video.models.build`)."""


def load(weights: Path | None = None) -> HMMRForecaster:
    """The model from weights folder ``weights`` (default: the shipped one; `posecast.models.store`)."""
    return HMMRForecaster(load_network("hmmr", weights, HMMRConfig, HMMR))


def build(config: HMMRConfig | None = None) -> HMMR:
    """An untrained network (the hook of ``posecast train --model hmmr``)."""
    return HMMR(config or HMMRConfig())


# --------------------------------------------------------------------------------- training
def training_loss(net: HMMR, batch: Any, progress: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 7 (module docstring) on a `VirtualBatch` of windows: the current pose from ``Φ`` on every
    frame; the dynamics predictors and the hallucinated branch on ``config.train_frames`` random
    frames per batch whose ``t ± Δt`` all lie inside the window (for speed)."""
    from posecast.video.models.common import normalise_keypoints

    cfg = net.config
    feats, _, _ = normalise_keypoints(batch.keypoints, batch.visibility)
    x = torch.as_tensor(feats, dtype=torch.float32)
    target = torch.as_tensor(batch.points, dtype=torch.float32)
    t = target.shape[1]
    lo, hi = max(0, -min(cfg.deltas)), t - max(0, max(cfg.deltas))
    at = None
    if cfg.train_frames and hi > lo:
        at = torch.randperm(hi - lo)[: cfg.train_frames].sort().values + lo
    out = net(x, at)
    loss, parts = net.loss(out, target, x, at)
    parts["current_mm"] = float((out["pose"] - target).norm(dim=-1).mean().detach()) * 1000
    return loss, parts


def evaluate(net: HMMR, val: Any, chunk: int = 128) -> dict[str, float]:
    """Validation numbers on a `VirtualBatch`, in mm: MPJPE of every frame from the temporal encoder
    (``val_video_mm``); from single frames through the hallucinator, MPJPE of the current pose
    (``val_single_mm``) and of the predicted poses at ``t ± Δt`` for the largest offsets
    (``val_single_past_mm``, ``val_single_future_mm``)."""
    from posecast.video.cameras import batch_slice
    from posecast.video.models.common import normalise_keypoints

    deltas = list(net.config.deltas)
    i_past, i_fut = deltas.index(min(deltas)), deltas.index(max(deltas))
    sums = dict.fromkeys(("val_video_mm", "val_single_mm", "val_single_past_mm", "val_single_future_mm"), 0.0)
    n = 0
    net.eval()
    for i in range(0, len(val), chunk):
        b = batch_slice(val, slice(i, i + chunk))
        feats, _, _ = normalise_keypoints(b.keypoints, b.visibility)
        x = torch.as_tensor(feats, dtype=torch.float32)
        truth = torch.as_tensor(b.points, dtype=torch.float32)
        t = truth.shape[1]
        c = t // 2  # the middle frame: its ±Δt targets are inside every window
        out = net(x, torch.tensor([c]))
        err = lambda p, g: float((p - g).norm(dim=-1).mean())  # noqa: E731
        sums["val_video_mm"] += err(out["pose"], truth) * len(b)
        sums["val_single_mm"] += err(out["hal_pose"][:, 0], truth[:, c]) * len(b)
        sums["val_single_past_mm"] += err(out["hal_deltas"][:, 0, i_past], truth[:, c + deltas[i_past]]) * len(b)
        sums["val_single_future_mm"] += err(out["hal_deltas"][:, 0, i_fut], truth[:, c + deltas[i_fut]]) * len(b)
        n += len(b)
    return {k: 1000 * v / n for k, v in sums.items()}
