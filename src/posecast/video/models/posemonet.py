"""``posemonet``: joint 3D pose estimation and motion prediction from a 2D keypoint sequence
(PoseMoNet, "Pose Estimation and Motion Prediction", /work/shared/papers/posemonet_*.txt).

Four parts, as in the paper (Sec. 3.2), sized down for CPU training:

* **Pose Lifting Network (PLN)** - a two-layer feed-forward net per frame on the normalised 2D
  keypoints and their visibility, a 2-layer bidirectional GRU and a *self-projection* head. It
  estimates the observed frames in 3D and hands its final GRU states on as the latent ``z_T``.
* **Self-projection (SP) head** - a mixture of experts with soft parameter sharing: a shared dense
  layer, ``N`` ReLU experts, and one softmax gate per output path, the *coordinate* path
  ``(J, 3)`` (joint positions, pelvis at the origin) and the *Lie* path ``(J, 6)`` (one se(3)
  twist per joint, see below). ``Ω = |p_coord - FK(p_Lie)|`` ties the two together.
* **Motion Generation Network (MGN)** - the same feed-forward / GRU / SP stack, unidirectional,
  started from ``z_T``; it reads the last estimated pose (coordinates and twists) and predicts
  their change, added residually (``p_t = p_{t-1} + f(p_{t-1}, z_{t-1})``), for every future frame.
* **Global Refinement (GR)** - over past and future together (the ``(J, N, 9)`` grid of both
  representations), a GRU residual path and a convolutional encoder-decoder residual path, mixed
  per joint coordinate by a learned ``α = sigmoid(a) ∈ (0, 1)``:
  ``GR(P) = α ⊙ GRU-R(P) + (1 - α) ⊙ ConvED(P)``.

Lie representation (generalising the paper's 5 chains to any skeleton tree): joint ``j`` carries a
twist ``ξ_j = [ρ, φ]`` (``posecast.kinematics.lie`` layout) and a global frame
``G_j = G_parent(j) · exp(ξ_j)`` (``G_root = exp(ξ_root)``); the joint sits at the translation of
``G_j``. Targets are built from joint positions (`positions_to_lie`): the root frame is the
rotation that best aligns the rest offsets of the root's children with the observed ones, and each
bone frame is the parent frame turned by the smallest rotation taking the bone's rest direction
onto its observed direction (the paper's "x-axis along the bone" frames, with the rest pose as the
reference so that the twists are small near the rest pose). FK of the targets reproduces the joints
exactly. The Lie path is supervised on the transforms ``exp(ξ)`` (3 x 4 ``[R | t]``, Frobenius
distance) rather than on the raw twists, which wrap at rotations of π.

Loss (paper Sec. 3.2, "Loss Function"): ``L = L_PLN + L_MGN + β L_GR + λ Ω`` with β = 0.2 and
λ = 0.01; ``L_PLN`` / ``L_MGN`` are the mean per-joint Euclidean errors of the coordinate path
(metres) plus ``lie_weight`` (0.25, ours) times those of the Lie transforms over the observed /
predicted frames, ``L_GR`` the
mean per-joint error of the refined trajectory over all frames, ``Ω`` the mean per-joint distance
between the two paths after FK over all frames of PLN and MGN. (The paper's prose says β weights
motion generation; its formula puts β on ``L_GR``; we follow the formula.)

Output frame: metres, pelvis at the origin, camera-aligned axes (x right in the image, y up,
z toward the camera), as `VideoForecast` wants.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from torch import nn

from posecast.kinematics.fk import forward_kinematics
from posecast.kinematics.lie import se3_exp, se3_log
from posecast.video.models.base import VideoForecaster, VideoPrediction, load_network

# ----------------------------------------------------------------------------------------- config


class PoseMoNetConfig(BaseModel):
    """Architecture and loss weights (stored as JSON next to the weights).

    ``future_frames`` was called ``horizon`` in weights written before the rename; such configs still
    load (the old key is accepted on input) and `model_dump` writes the new key.
    """

    model_config = ConfigDict(extra="forbid")

    skeleton: str = "body-17"
    fps: float = Field(default=25.0, gt=0)
    history: int = Field(default=25, ge=2, description="observed frames per training window")
    future_frames: int = Field(
        default=25,
        ge=1,
        validation_alias=AliasChoices("future_frames", "horizon"),  # "horizon": configs written before the rename
        description="predicted frames per training window",
    )
    in_channels: int = Field(default=3, description="per-joint input features (x, y normalised, visibility)")
    hidden: int = Field(default=128, description="FFNN width and GRU state size per direction (paper: 512)")
    layers: int = Field(default=2, description="GRU layers (paper: 2)")
    experts: int = Field(default=5, description="self-projection experts (paper: 5)")
    expert_width: int = 128
    refine_hidden: int = 128
    conv_channels: int = 32
    dropout: float = Field(default=0.1, description="after every non-linearity (paper: 0.25)")
    beta: float = Field(default=0.2, description="weight of L_GR (paper: 0.2)")
    lam: float = Field(default=0.01, description="weight of Ω (paper: 0.01)")
    lie_weight: float = Field(default=0.25, description="weight of the Lie path inside L_PLN / L_MGN (ours)")
    rest_from: str = Field(default="smpl", description="skeleton whose rest pose, mapped, defines the bone frames")


# ------------------------------------------------------------------------------------ Lie algebra


@lru_cache(maxsize=8)
def rest_pose(layout: str, source: str = "smpl") -> np.ndarray:
    """``(J, 3)`` rest positions of ``layout`` (metres, root at the origin, facing +z) from the rest
    offsets of ``source`` mapped through the mapping layer (``layout`` itself when it has offsets)."""
    from posecast import skeletons
    from posecast.skeletons.mapping import to_layout

    skel = skeletons.get(layout)
    if skel.has_offsets:
        rest = skel.rest_positions()
    else:
        rest = to_layout(skeletons.get(source).rest_positions()[None], layout, source=source)[0]
    return rest - rest[0]


def _min_rotvec(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(..., 3)`` rotation vectors of the smallest rotations taking unit vectors ``a`` onto ``b``
    (a rotation by π about an axis perpendicular to ``a`` when they are opposite)."""
    cross = torch.linalg.cross(a, b)
    sin = cross.norm(dim=-1)
    cos = (a * b).sum(-1)
    angle = torch.atan2(sin, cos)
    axis = cross / sin.clamp_min(1e-12)[..., None]
    # opposite vectors: any axis perpendicular to a (a x e_z, or a x e_x when a is along z)
    ez = torch.zeros_like(a)
    ez[..., 2] = 1.0
    ex = torch.zeros_like(a)
    ex[..., 0] = 1.0
    perp = torch.linalg.cross(a, ez)
    perp = torch.where((perp.norm(dim=-1) < 1e-6)[..., None], torch.linalg.cross(a, ex), perp)
    perp = perp / perp.norm(dim=-1, keepdim=True)
    axis = torch.where((sin < 1e-9)[..., None], perp, axis)
    return axis * angle[..., None]


def positions_to_lie(positions, parents, rest: np.ndarray) -> torch.Tensor:
    """Twists ``(..., J, 6)`` whose `lie_fk` reproduces ``positions (..., J, 3)`` exactly: the se(3)
    logarithms of `positions_to_transforms`."""
    return se3_log(positions_to_transforms(torch.as_tensor(positions, dtype=torch.float64), parents, rest))


def positions_to_transforms(positions: torch.Tensor, parents, rest: np.ndarray) -> torch.Tensor:
    """Local transforms ``(..., J, 4, 4)`` (``exp(ξ_j)``, in the dtype of ``positions``) that chain to
    ``positions (..., J, 3)`` exactly.

    Root frame: the rotation that best aligns the rest offsets of the root's children with their
    observed offsets (Kabsch); root twist = (root position, that rotation). Every other joint: its
    frame is its parent's turned by the smallest rotation taking the bone's rest direction onto its
    observed direction (both in the parent's frame); its translation is the bone in the parent's frame.
    Bones of zero length keep their parent's frame.
    """
    import roma

    pos = positions
    rest_t = torch.as_tensor(rest, dtype=pos.dtype)
    parents = tuple(int(p) for p in parents)
    j = len(parents)
    root = parents.index(-1)
    kids = [c for c in range(j) if parents[c] == root]
    src = (rest_t[kids] - rest_t[root]).expand(*pos.shape[:-2], len(kids), 3)
    tgt = pos[..., kids, :] - pos[..., root : root + 1, :]
    # rotation only, about the root (no centring): R = argmin |R src - tgt|
    rot_root = roma.special_procrustes(tgt.transpose(-1, -2) @ src)
    frames: list[torch.Tensor | None] = [None] * j
    frames[root] = rot_root
    mats = torch.zeros(*pos.shape[:-2], j, 4, 4, dtype=pos.dtype)
    mats[..., :, 3, 3] = 1.0
    mats[..., root, :3, :3] = rot_root
    mats[..., root, :3, 3] = pos[..., root, :]
    for c in range(j):
        p = parents[c]
        if p < 0:
            continue
        gp = frames[p]
        assert gp is not None, "parents must come before their children"
        t_local = (gp.transpose(-1, -2) @ (pos[..., c, :] - pos[..., p, :])[..., None])[..., 0]
        rd = rest_t[c] - rest_t[p]
        length = t_local.norm(dim=-1, keepdim=True)
        if float(rd.norm()) < 1e-9:
            q = torch.zeros_like(t_local)
        else:
            a = (rd / rd.norm()).expand_as(t_local)
            b = torch.where(length > 1e-9, t_local / length.clamp_min(1e-12), a)
            q = _min_rotvec(a, b)
        rq = roma.rotvec_to_rotmat(q)
        frames[c] = gp @ rq
        mats[..., c, :3, :3] = rq
        mats[..., c, :3, 3] = t_local
    return mats


def lie_fk(xi: torch.Tensor, parents) -> torch.Tensor:
    """``(..., J, 6)`` twists → ``(..., J, 3)`` joint positions: ``G_j = G_parent(j) exp(ξ_j)``,
    ``G_root = exp(ξ_root)``, joint ``j`` at the translation of ``G_j`` (through `forward_kinematics`
    with local rotations ``R(ξ_j)`` and per-frame offsets ``t(ξ_j)``)."""
    mats = se3_exp(xi)
    parents = tuple(int(p) for p in parents)
    root = parents.index(-1)
    pos, _ = forward_kinematics(mats[..., :3, :3], mats[..., :3, 3], parents, root_translation=mats[..., root, :3, 3])
    return pos


# --------------------------------------------------------------------------------------- networks


class SelfProjection(nn.Module):
    """Mixture-of-experts output layer: ``(..., F)`` → coordinates ``(..., J, 3)`` and twists
    ``(..., J, 6)``. A shared dense layer feeds ``N`` ReLU experts; each output path mixes the
    experts with its own softmax gate and regresses its representation with a linear layer."""

    def __init__(self, in_features: int, joints: int, width: int, experts: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.joints, self.num_experts, self.width = joints, experts, width
        self.shared = nn.Sequential(nn.Linear(in_features, width), nn.ReLU(), nn.Dropout(dropout))
        self.experts = nn.Linear(width, experts * width)  # all N experts in one product
        self.gates = nn.Linear(width, 2 * experts)  # one softmax gate per path
        self.drop = nn.Dropout(dropout)
        self.coord = nn.Linear(width, joints * 3)
        self.lie = nn.Linear(width, joints * 6)

    def gate_weights(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., 2, N)`` softmax gates (coordinate path, Lie path)."""
        return torch.softmax(self.gates(self.shared(x)).unflatten(-1, (2, self.num_experts)), dim=-1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.shared(x)
        e = self.drop(torch.relu(self.experts(h))).unflatten(-1, (self.num_experts, self.width))  # (..., N, W)
        g = torch.softmax(self.gates(h).unflatten(-1, (2, self.num_experts)), dim=-1)  # (..., 2, N)
        mix = g @ e  # (..., 2, W)
        coord = self.coord(mix[..., 0, :]).unflatten(-1, (self.joints, 3))
        lie = self.lie(mix[..., 1, :]).unflatten(-1, (self.joints, 6))
        return coord, lie


def _ffnn(in_features: int, width: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_features, width), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout),
    )  # fmt: skip


class PoseLifting(nn.Module):
    """PLN: ``(B, T, J, C)`` 2D features → coordinates ``(B, T, J, 3)``, twists ``(B, T, J, 6)`` and
    the latent ``z (layers * 2, B, hidden)`` (final states of the bidirectional GRU)."""

    def __init__(self, cfg: PoseMoNetConfig, joints: int) -> None:
        super().__init__()
        self.ffnn = _ffnn(joints * cfg.in_channels, cfg.hidden, cfg.dropout)
        self.gru = nn.GRU(
            cfg.hidden, cfg.hidden, num_layers=cfg.layers, batch_first=True, bidirectional=True,
            dropout=cfg.dropout if cfg.layers > 1 else 0.0,
        )  # fmt: skip
        self.sp = SelfProjection(2 * cfg.hidden, joints, cfg.expert_width, cfg.experts, cfg.dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out, z = self.gru(self.ffnn(x.flatten(-2)))
        coord, lie = self.sp(out)
        return coord, lie, z


class MotionGenerator(nn.Module):
    """MGN: from the last estimated pose (``(B, J, 3)`` + ``(B, J, 6)``) and ``z``, ``steps`` future
    poses, each the previous one plus a predicted change. The read-out starts at zero, so an
    untrained MGN holds the last estimated pose (zero velocity)."""

    def __init__(self, cfg: PoseMoNetConfig, joints: int) -> None:
        super().__init__()
        self.layers, width = cfg.layers, 2 * cfg.hidden
        self.ffnn = _ffnn(joints * 9, width, cfg.dropout)
        self.gru = nn.GRU(width, width, num_layers=cfg.layers, batch_first=True)
        self.sp = SelfProjection(width, joints, cfg.expert_width, cfg.experts, cfg.dropout)
        for lin in (self.sp.coord, self.sp.lie):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(
        self, coord: torch.Tensor, lie: torch.Tensor, z: torch.Tensor, steps: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b = coord.shape[0]
        # (layers * 2, B, H) bidirectional states -> (layers, B, 2H): both directions side by side
        h = z.view(self.layers, 2, b, -1).permute(0, 2, 1, 3).reshape(self.layers, b, -1).contiguous()
        coords, lies = [], []
        for _ in range(steps):
            x = self.ffnn(torch.cat([coord.flatten(-2), lie.flatten(-2)], dim=-1))
            out, h = self.gru(x[:, None], h)
            dc, dl = self.sp(out[:, 0])
            coord, lie = coord + dc, lie + dl
            coords.append(coord)
            lies.append(lie)
        return torch.stack(coords, 1), torch.stack(lies, 1)


class GlobalRefinement(nn.Module):
    """GR over a whole trajectory: coordinates ``(B, N, J, 3)`` and twists ``(B, N, J, 6)`` → refined
    coordinates ``(B, N, J, 3)`` = ``α ⊙ GRU-R + (1 - α) ⊙ ConvED``, both residual paths, with a learned
    ``α = sigmoid(alpha_logit) ∈ (0, 1)`` per joint coordinate (``(J, 3)``)."""

    def __init__(self, cfg: PoseMoNetConfig, joints: int) -> None:
        super().__init__()
        c = cfg.conv_channels
        self.gru = nn.GRU(joints * 9, cfg.refine_hidden, batch_first=True)
        self.gru_out = nn.Linear(cfg.refine_hidden, joints * 3)
        # ConvED on the (channels=9, height=J, width=N) grid; time is halved once and restored
        self.enc = nn.Sequential(
            nn.Conv2d(9, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, 2 * c, 3, stride=(1, 2), padding=1), nn.ReLU(),
        )  # fmt: skip
        self.dec = nn.Sequential(nn.ConvTranspose2d(2 * c, c, (3, 4), stride=(1, 2), padding=(1, 1)), nn.ReLU())
        self.conv_out = nn.Conv2d(c + 9, 3, 3, padding=1)
        for layer in (self.gru_out, self.conv_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.alpha_logit = nn.Parameter(torch.zeros(joints, 3))

    @property
    def alpha(self) -> torch.Tensor:
        """``(J, 3)`` mixing weights in ``(0, 1)`` (weight of the GRU path)."""
        return torch.sigmoid(self.alpha_logit)

    def paths(self, coord: torch.Tensor, lie: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The two refined trajectories ``(GRU-R, ConvED)``, each ``(B, N, J, 3)``."""
        grid = torch.cat([coord, lie], dim=-1)  # (B, N, J, 9)
        out, _ = self.gru(grid.flatten(-2))
        gru_r = coord + self.gru_out(out).unflatten(-1, coord.shape[-2:])
        img = grid.permute(0, 3, 2, 1)  # (B, 9, J, N)
        dec = self.dec(self.enc(img))[..., : img.shape[-1]]
        conv = self.conv_out(torch.cat([dec, img], dim=1)).permute(0, 3, 2, 1)  # (B, N, J, 3)
        return gru_r, coord + conv

    def forward(self, coord: torch.Tensor, lie: torch.Tensor) -> torch.Tensor:
        gru_r, conv = self.paths(coord, lie)
        a = self.alpha
        return a * gru_r + (1 - a) * conv


class PoseMoNet(nn.Module):
    """The whole network: ``x (B, T, J, C)`` normalised 2D features → dict of
    ``past_coord (B, T, J, 3)``, ``past_lie (B, T, J, 6)``, ``future_coord (B, M, J, 3)``,
    ``future_lie (B, M, J, 6)`` and ``refined (B, T + M, J, 3)`` (the model's answer)."""

    def __init__(self, cfg: PoseMoNetConfig) -> None:
        super().__init__()
        from posecast import skeletons

        self.config = cfg
        skel = skeletons.get(cfg.skeleton)
        self.parents = tuple(int(p) for p in skel.parents)
        j = len(self.parents)
        self.pln = PoseLifting(cfg, j)
        self.mgn = MotionGenerator(cfg, j)
        self.gr = GlobalRefinement(cfg, j)
        self.register_buffer("rest", torch.as_tensor(rest_pose(cfg.skeleton, cfg.rest_from), dtype=torch.float32))

    def forward(self, x: torch.Tensor, steps: int | None = None) -> dict[str, torch.Tensor]:
        steps = self.config.future_frames if steps is None else steps
        coord, lie, z = self.pln(x)
        fc, fl = self.mgn(coord[:, -1], lie[:, -1], z, steps)
        refined = self.gr(torch.cat([coord, fc], 1), torch.cat([lie, fl], 1))
        return {"past_coord": coord, "past_lie": lie, "future_coord": fc, "future_lie": fl, "refined": refined}

    def lie_targets(self, positions: torch.Tensor) -> torch.Tensor:
        """``(..., J, 3)`` target positions → ``(..., J, 3, 4)`` target transforms ``exp(ξ)[:3]``."""
        with torch.no_grad():
            return positions_to_transforms(positions, self.parents, self.rest.cpu().numpy())[..., :3, :]

    def loss(
        self, out: dict[str, torch.Tensor], target: torch.Tensor, lie_target: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The paper's ``L = L_PLN + L_MGN + β L_GR + λ Ω`` for targets ``(B, T + M, J, 3)`` (metres,
        pelvis-centred); ``lie_target (B, T + M, J, 3, 4)`` is computed from them when not given."""
        cfg = self.config
        t = out["past_coord"].shape[1]
        if lie_target is None:
            lie_target = self.lie_targets(target)

        def pose_loss(coord, lie, tgt, lie_tgt):
            mats = se3_exp(lie)[..., :3, :]
            lie_err = (mats - lie_tgt).flatten(-2).norm(dim=-1).mean()
            return (coord - tgt).norm(dim=-1).mean() + cfg.lie_weight * lie_err

        l_pln = pose_loss(out["past_coord"], out["past_lie"], target[:, :t], lie_target[:, :t])
        l_mgn = pose_loss(out["future_coord"], out["future_lie"], target[:, t:], lie_target[:, t:])
        l_gr = (out["refined"] - target).norm(dim=-1).mean()
        coord = torch.cat([out["past_coord"], out["future_coord"]], 1)
        lie = torch.cat([out["past_lie"], out["future_lie"]], 1)
        omega = (coord - lie_fk(lie, self.parents)).norm(dim=-1).mean()
        total = l_pln + l_mgn + cfg.beta * l_gr + cfg.lam * omega
        parts = {k: float(v.detach()) for k, v in (("pln", l_pln), ("mgn", l_mgn), ("gr", l_gr), ("omega", omega))}
        return total, parts


# ------------------------------------------------------------------------------- forecaster


class PoseMoNetForecaster(VideoForecaster):
    """`VideoForecaster` around a trained `PoseMoNet`.

    ``predict`` lifts the observed frames in windows of ``history`` frames (the last window ends at
    the last frame; a shorter track is padded at the start by repeating its first frame) and forecasts
    from the last window with the MGN run for the requested number of frames; past and future of the
    last window are refined together by the GR module. Cameras: the closed-form weak-perspective fit
    of each estimated past frame to its keypoints; future cameras hold the scale and extrapolate the
    translation (`extrapolate_camera`).
    """

    name = "posemonet"

    def __init__(self, net: PoseMoNet) -> None:
        self.net = net.eval()
        self.fps = net.config.fps
        self.skeleton = net.config.skeleton

    @torch.no_grad()
    def run(self, feats: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
        """``feats (B, T, J, 3)`` normalised features → ``past (B, T, J, 3)``, ``future (B, F, J, 3)``."""
        hist = self.net.config.history
        b, t = feats.shape[:2]
        x = torch.as_tensor(feats, dtype=torch.float32)
        if t < hist:
            x = torch.cat([x[:, :1].expand(b, hist - t, *x.shape[2:]), x], dim=1)
        n = x.shape[1]
        past = torch.zeros(b, n, *x.shape[2:])
        starts = list(range(0, n - hist, hist)) + [n - hist]
        for s in starts[:-1]:
            out = self.net(x[:, s : s + hist], steps=1)
            past[:, s : s + hist] = out["refined"][:, :hist]
        out = self.net(x[:, n - hist :], steps=frames)
        past[:, n - hist :] = out["refined"][:, :hist]
        return past[:, n - t :].numpy().astype(np.float64), out["refined"][:, hist:].numpy().astype(np.float64)

    def predict(self, keypoints, visibility, frames, world=None) -> VideoPrediction:
        from posecast.video.models.common import (
            MIN_SCALE,
            camera_to_pixels,
            fit_weak_perspective_np,
            normalise_keypoints,
            with_future_cameras,
        )

        feats, centre, half = normalise_keypoints(keypoints, visibility)
        past, future = self.run(feats, frames)
        cam = fit_weak_perspective_np(past, feats[..., :2], feats[..., 2])
        cam[..., 0] = np.maximum(cam[..., 0], MIN_SCALE)
        cam = camera_to_pixels(cam, centre, half)
        return VideoPrediction(past=past, future=future, camera=with_future_cameras(cam, frames))


def build(config: PoseMoNetConfig | None = None) -> PoseMoNet:
    """An untrained network (the hook of ``posecast train --model posemonet``)."""
    return PoseMoNet(config or PoseMoNetConfig())


FORECASTER = PoseMoNetForecaster
"""The forecaster class around the network (`posecast.video.models.build`)."""


def load(weights: Path | None = None) -> PoseMoNetForecaster:
    """The model from weights folder ``weights`` (default: the shipped one; `posecast.models.store`)."""
    return PoseMoNetForecaster(load_network("posemonet", weights, PoseMoNetConfig, PoseMoNet))


# --------------------------------------------------------------------------------- training
def training_loss(net: PoseMoNet, batch: Any, progress: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """The paper's loss on a `VirtualBatch` of at least ``history + future_frames`` frames: the network
    sees the 2D of the first ``history`` frames and is scored on the 3D truth of the first
    ``history + future_frames``."""
    from posecast.video.models.common import normalise_keypoints

    cfg = net.config
    n = cfg.history + cfg.future_frames
    feats, _, _ = normalise_keypoints(batch.keypoints[:, : cfg.history], batch.visibility[:, : cfg.history])
    x = torch.as_tensor(feats, dtype=torch.float32)
    target = torch.as_tensor(batch.points[:, :n], dtype=torch.float32)
    loss, parts = net.loss(net(x), target)
    return loss, {**parts, "alpha_mean": float(net.gr.alpha.mean().detach())}


def evaluate(net: PoseMoNet, val: Any, chunk: int = 128) -> dict[str, float]:
    """Validation numbers on a `VirtualBatch`: MPJPE (mm) of the refined past (the first ``history``
    frames) and the mean MPJPE (mm) of the ``future_frames`` forecast frames."""
    from posecast.video.cameras import batch_slice

    cfg, model = net.config, PoseMoNetForecaster(net)
    past, fut, n = 0.0, 0.0, 0
    for i in range(0, len(val), chunk):
        b = batch_slice(val, slice(i, i + chunk))
        pred = model.predict(b.keypoints[:, : cfg.history], b.visibility[:, : cfg.history], cfg.future_frames)
        truth = b.points[:, : cfg.history + cfg.future_frames]
        past += float(np.linalg.norm(pred.past - truth[:, : cfg.history], axis=-1).mean()) * len(b)
        fut += float(np.linalg.norm(pred.future - truth[:, cfg.history :], axis=-1).mean()) * len(b)
        n += len(b)
    net.train()
    return {"val_past_mm": 1000 * past / n, "val_future_mm": 1000 * fut / n}


__all__ = [
    "GlobalRefinement",
    "MotionGenerator",
    "PoseLifting",
    "PoseMoNet",
    "PoseMoNetConfig",
    "PoseMoNetForecaster",
    "SelfProjection",
    "build",
    "evaluate",
    "lie_fk",
    "load",
    "positions_to_lie",
    "positions_to_transforms",
    "rest_pose",
    "training_loss",
]
