"""The characteristic-pose network (Diller, Funkhouser, Dai, CVPR 2022): heatmaps of the next key pose.

Input: ``O`` observed frames ``(B, O, J, 3)`` (10 in the paper), each made root-relative and turned
about the vertical axis into the heading frame of the last observed frame (`canonicalise`; the
hip pair of `posecast.models.neural.hip_pair` points along +x). Output, per joint to predict: a
heatmap over a ``G^3`` voxel grid (``G = 16``) spanning a cube of ``cube_size`` metres (2 m) centred
on the hip, plus a per-voxel 3D offset field.

Network (`CharPoseNet`):

1. **Per-joint trajectory encoder.** One single-layer GRU (``3 -> embed_dim``) shared by all
   joints runs over each joint's ``O`` positions; the sinusoidal code of the joint index is added.
2. **Attention.** One scaled dot-product attention layer (``heads`` heads, dropout): queries are the
   embeddings of the joints to predict, keys/values all ``J`` joint embeddings plus one token per
   already-sampled joint (an MLP embedding of its sampled 3D position plus its joint code) -- the
   autoregressive conditioning. Residual, layer norm and a small feed-forward block follow.
3. **Volumetric decoder,** shared by all joints (each joint's feature vector decoded on its own, so
   a heatmap depends only on its own query): a linear map to a ``decoder_channels[0] x s^3`` cube
   (``s = decoder_start``), then per stage a stride-2, size-2 transposed 3D convolution (written
   as a per-voxel matrix product, `SubVoxelUpsample`), with ``decoder_convs[i]`` 3x3x3
   convolutions at each resolution, up to ``G^3``; per-voxel linear maps give ``bins`` class
   logits and a 3D offset. The paper uses nine 3D convolutions per branch and a separate offset
   branch (its code also supervises an intermediate ``8^3`` heatmap and feeds the offset branch
   with offset volumes of the last observed pose; neither is done here). Decoding every joint on
   its own (needed so that no heatmap sees the tokens of joints sampled after it) costs ``J``
   times the paper's joints-as-channels decoder, so the default trunk is shared and has no 3x3x3
   convolution at the full resolution. All sizes are configuration.

Heatmap target and loss (paper Sec. 4.1, checked against the released code):

* The target voxel is the one containing the joint (positions outside the cube are clamped to the
  border voxel). A Gaussian "kernel of size 5, sigma = 2" is placed on it: per axis
  ``w(d) = exp(-d^2 / (2 sigma^2))`` for voxel distance ``|d| <= kernel_size // 2`` and 0 beyond,
  the 3D kernel the product of the three axes (a ``5^3`` block), so the value is 1 at the target
  voxel. ``gaussian="reference"`` uses the released code's ``exp(-(d / (2 sigma))^2)`` instead
  (effective standard deviation ``sqrt(2) sigma``).
* Values are quantised into ``bins = 10`` classes: ``class = min(floor(10 * value), 9)``; the
  target voxel is class 9, every voxel outside the block class 0.
* Loss: per-voxel cross-entropy over the classes, weighted per target class by
  ``1 / log(1.2 + n_c)`` with ``n_c`` the number of voxels of class ``c`` in one target (the
  released code's weighting, ``class_weighting``), averaged over all voxels.
* A voxel's heatmap value is the expected normalised class ``h = sum_c p_c c / (bins - 1)`` in
  ``[0, 1]`` (`heatmap_levels`); sampling draws voxels from ``softmax(h / T)`` (paper: T = 0.025).
* Offsets: a voxel's offset is ``offset_clamp`` voxels times ``tanh`` of its raw output (a smooth
  clamp; paper: "move the joint at most one voxel length"); its target is the joint minus the voxel
  centre, clamped to the same bound. It is supervised with L1 (or L2), in voxel units, on the
  voxels whose target class is at least ``offset_min_bin`` (the target voxel and its neighbours: a
  sample drawn near the target then still gets a good offset; the released code uses class >= 5 in
  both prediction and target and trains offsets in a second phase, here both train together with
  weight ``offset_weight``).

Autoregressive order (Sec. 5): ``lead_joints`` (right hand, then left hand) are sampled one at a
time, each conditioned on those before it; the remaining joints follow in tree (index) order, all in
one step conditioned on the lead joints (the released code), or one at a time with
``sequential_rest``. Training uses teacher forcing in a single pass: the ground-truth positions of
the conditioning joints are the tokens, and an attention mask lets a query see only the tokens of
joints sampled before it.

Ablations (paper Tab. 3): ``head="regression"`` (the deterministic baseline: an MLP on the same
backbone regresses each joint's offset from its last observed position, L2 loss; no tokens),
``use_offsets=False``, ``autoregressive=False`` (every joint in one step, no tokens) and
``refine=False`` (sampling without `posecast.keyposes.refine`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from posecast import skeletons
from posecast.errors import ModelError, SkeletonError, ValueRangeError
from posecast.keyposes.refine import RefineConfig
from posecast.models.blocks import sinusoidal_encoding
from posecast.models.neural import canonical_frame
from posecast.skeletons.base import Skeleton


class CharPoseConfig(BaseModel):
    """Everything that defines a characteristic-pose network (stored next to its weights)."""

    model_config = ConfigDict(extra="forbid")

    skeleton: str = Field(description="registered skeleton name, e.g. 'cmu-bvh-31'")
    fps: float = Field(default=25.0, gt=0, description="frame rate of the observed window")
    observed: int = Field(default=10, ge=2, description="observed frames (paper: 10)")
    canonical: Literal["none", "heading"] = Field(
        default="heading", description="turn inputs into the heading frame of the last observed frame"
    )
    # voxel grid and heatmap target
    grid_size: int = Field(default=16, ge=2, description="voxels per axis G")
    cube_size: float = Field(default=2.0, gt=0, description="edge of the hip-centred cube (m)")
    bins: int = Field(default=10, ge=2, description="classes a voxel's heatmap value is quantised into")
    sigma: float = Field(default=2.0, gt=0, description="Gaussian of the target, in voxels")
    kernel_size: int = Field(default=5, ge=1, description="extent of the Gaussian block, voxels per axis (odd)")
    gaussian: Literal["paper", "reference"] = "paper"
    class_weighting: bool = True
    # backbone
    embed_dim: int = Field(default=64, ge=4)
    heads: int = Field(default=1, ge=1)
    dropout: float = Field(default=0.25, ge=0, lt=1)
    feedforward: int = Field(default=128, ge=1, description="hidden width of the feed-forward block")
    # decoder
    decoder_start: int = Field(default=4, ge=1, description="edge of the latent cube the decoder starts from")
    decoder_channels: list[int] = Field(
        default_factory=lambda: [32, 32, 16],
        description="channels of the latent cube, then after each x2 upsampling stage",
    )
    decoder_convs: list[int] = Field(
        default_factory=lambda: [1, 1, 0],
        description="3x3x3 convolutions at each resolution of decoder_channels (one count per entry)",
    )
    # output head and ablations
    head: Literal["heatmap", "regression"] = "heatmap"
    use_offsets: bool = True
    offset_clamp: float = Field(default=1.0, gt=0, description="largest offset per axis, in voxels")
    offset_min_bin: int = Field(default=5, ge=1, description="offsets are trained where the target class >= this")
    offset_loss: Literal["l1", "l2"] = "l1"
    offset_weight: float = Field(default=1.0, ge=0)
    autoregressive: bool = True
    lead_joints: list[str] = Field(
        default_factory=lambda: ["RightHand", "LeftHand"], description="joints sampled first, one at a time"
    )
    sequential_rest: bool = Field(default=False, description="sample the remaining joints one at a time too")
    # inference
    temperature: float = Field(default=0.025, ge=0, description="softmax temperature of sampling (0: argmax)")
    samples: int = Field(default=10, ge=1, description="hypotheses K")
    refine: bool = True
    refinement: RefineConfig = Field(default_factory=RefineConfig)

    @model_validator(mode="after")
    def _check(self) -> CharPoseConfig:
        if not self.decoder_channels or any(c < 1 for c in self.decoder_channels):
            raise ValueError("decoder_channels must be positive channel counts, at least one")
        reached = self.decoder_start * 2 ** (len(self.decoder_channels) - 1)
        if reached != self.grid_size:
            raise ValueError(
                f"decoder reaches {reached}^3 voxels (decoder_start {self.decoder_start} doubled "
                f"{len(self.decoder_channels) - 1} times) but grid_size is {self.grid_size}"
            )
        if len(self.decoder_convs) != len(self.decoder_channels) or any(c < 0 for c in self.decoder_convs):
            raise ValueError(
                f"decoder_convs needs one count >= 0 per entry of decoder_channels ({len(self.decoder_channels)}), "
                f"got {self.decoder_convs}"
            )
        if self.kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        if self.offset_min_bin >= self.bins:
            raise ValueError(f"offset_min_bin ({self.offset_min_bin}) must be below bins ({self.bins})")
        if self.embed_dim % self.heads:
            raise ValueError(f"embed_dim ({self.embed_dim}) must be divisible by heads ({self.heads})")
        if len(set(self.lead_joints)) != len(self.lead_joints):
            raise ValueError(f"lead_joints has duplicates: {self.lead_joints}")
        return self

    @property
    def voxel_size(self) -> float:
        """Edge of one voxel in metres."""
        return self.cube_size / self.grid_size


# ------------------------------------------------------------------------------------ voxel grid
def voxel_centres(grid_size: int, cube_size: float) -> torch.Tensor:
    """``(G^3, 3)`` centres (m) of the voxels of a ``G^3`` grid over ``[-cube/2, cube/2]^3``, flat index
    ``(ix * G + iy) * G + iz``."""
    axis = (torch.arange(grid_size, dtype=torch.float32) + 0.5) * (cube_size / grid_size) - cube_size / 2
    gx, gy, gz = torch.meshgrid(axis, axis, axis, indexing="ij")
    return torch.stack([gx, gy, gz], dim=-1).reshape(-1, 3)


def voxel_index(points: torch.Tensor, grid_size: int, cube_size: float) -> torch.Tensor:
    """``(..., 3)`` integer voxel coordinates of ``(..., 3)`` positions (clamped into the grid)."""
    idx = torch.floor((points + cube_size / 2) / (cube_size / grid_size)).long()
    return idx.clamp(0, grid_size - 1)


def flat_index(voxels: torch.Tensor, grid_size: int) -> torch.Tensor:
    """``(...)`` flat indices of ``(..., 3)`` voxel coordinates."""
    return (voxels[..., 0] * grid_size + voxels[..., 1]) * grid_size + voxels[..., 2]


def _axis_kernel(distance: torch.Tensor, sigma: float, radius: int, gaussian: str) -> torch.Tensor:
    d = distance.float()
    if gaussian == "paper":
        w = torch.exp(-(d**2) / (2 * sigma**2))
    else:
        w = torch.exp(-((d / (2 * sigma)) ** 2))
    return torch.where(d.abs() <= radius, w, torch.zeros_like(w))


def heatmap_target(points: torch.Tensor, config: CharPoseConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Target heatmaps of ``(..., 3)`` joint positions (module docstring).

    Returns:
        ``(values (..., G, G, G) in [0, 1], classes (..., G, G, G) long in [0, bins))``.
    """
    g = config.grid_size
    vox = voxel_index(points, g, config.cube_size)  # (..., 3)
    r = torch.arange(g, device=points.device)
    radius = config.kernel_size // 2
    w = [_axis_kernel(r - vox[..., a, None], config.sigma, radius, config.gaussian) for a in range(3)]  # (..., G)
    values = w[0][..., :, None, None] * w[1][..., None, :, None] * w[2][..., None, None, :]
    values = values.to(points.dtype)
    classes = torch.clamp(torch.floor(values * config.bins).long(), 0, config.bins - 1)
    return values, classes


def class_weights(config: CharPoseConfig) -> torch.Tensor:
    """``(bins,)`` cross-entropy weights ``1 / log(1.2 + n_c)``, ``n_c`` the voxels of class ``c`` in the
    target of a joint in the middle of the grid (ones when ``class_weighting`` is off)."""
    if not config.class_weighting:
        return torch.ones(config.bins)
    _, classes = heatmap_target(torch.zeros(3), config)
    counts = torch.bincount(classes.reshape(-1), minlength=config.bins).float()
    return 1.0 / torch.log(1.2 + counts)


def heatmap_levels(logits: torch.Tensor) -> torch.Tensor:
    """Voxel heatmap values in ``[0, 1]``: the expected normalised class of ``(..., G, G, G, bins)`` logits
    → ``(..., G, G, G)``."""
    bins = logits.shape[-1]
    level = torch.arange(bins, dtype=logits.dtype, device=logits.device) / (bins - 1)
    return torch.softmax(logits, dim=-1) @ level


# ------------------------------------------------------------------------------- canonical frame
def canonicalise(
    observed: torch.Tensor, skeleton: Skeleton, mode: str, target: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Root-relative, heading-normalised observed frames (and target).

    Args:
        observed: ``(B, O, J, 3)`` positions (each frame is made relative to its own root).
        skeleton: layout (its hip pair defines the heading).
        mode: ``"heading"`` (turn about y so the last frame's hips point along +x) or ``"none"``.
        target: optional ``(B, J, 3)`` key pose, made relative to its own root.

    Returns:
        ``(observed (B, O, J, 3), target (B, J, 3) or None, rot (B, 3, 3))`` with
        ``canonical = root_relative @ rot.T``.
    """
    obs = observed - observed[..., :1, :]
    _, rot = canonical_frame(obs, skeleton, "heading" if mode == "heading" else "none")
    rt = rot.transpose(-1, -2)
    obs_c = obs @ rt[:, None]
    tgt_c = None if target is None else (target - target[..., :1, :]) @ rt
    return obs_c, tgt_c, rot


def sampling_groups(config: CharPoseConfig, skeleton: Skeleton) -> list[list[int]]:
    """Joint indices sampled together, step by step (module docstring): ``[[RightHand], [LeftHand],
    [the rest in tree order]]`` by default; one group of all joints when not autoregressive."""
    j = skeleton.num_joints
    if config.head == "regression" or not config.autoregressive:
        return [list(range(j))]
    lead = skeleton.indices(config.lead_joints)
    rest = [i for i in range(j) if i not in lead]
    groups = [[i] for i in lead]
    if rest:
        groups += [[i] for i in rest] if config.sequential_rest else [rest]
    return groups


# ----------------------------------------------------------------------------------------- network
class SubVoxelUpsample(nn.Module):
    """Channels-last ``(N, s, s, s, C)`` → ``(N, 2s, 2s, 2s, C')``: every voxel's feature is mapped to its
    eight children's features (the stride-2, size-2 transposed 3D convolution, written as one matrix
    product: several times faster than ``ConvTranspose3d`` on CPU)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.linear = nn.Linear(in_channels, 8 * out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, a, b, c, _ = x.shape
        y = self.linear(x).reshape(n, a, b, c, 2, 2, 2, self.out_channels)
        return y.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(n, 2 * a, 2 * b, 2 * c, self.out_channels)


class VolumeDecoder(nn.Module):
    """Feature vector ``(..., D)`` → channels-last ``(..., G, G, G, C)`` feature volume (one decode per
    vector; module docstring), ``C = channels[-1]``."""

    def __init__(self, dim: int, start: int, channels: list[int], convs: list[int]) -> None:
        super().__init__()
        self.start, self.c0 = start, channels[0]
        self.fc = nn.Linear(dim, channels[0] * start**3)
        self.ups = nn.ModuleList([SubVoxelUpsample(a, b) for a, b in zip(channels[:-1], channels[1:], strict=True)])
        self.convs = nn.ModuleList(
            [
                nn.ModuleList([nn.Conv3d(c, c, 3, padding=1) for _ in range(n)])
                for c, n in zip(channels, convs, strict=True)
            ]
        )
        self.act = nn.LeakyReLU(0.1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        lead = features.shape[:-1]
        s = self.start
        x = self.act(self.fc(features).reshape(-1, s, s, s, self.c0))
        for i, convs in enumerate(self.convs):
            if i > 0:
                x = self.act(self.ups[i - 1](x))
            for conv in convs:
                x = self.act(conv(x.permute(0, 4, 1, 2, 3))).permute(0, 2, 3, 4, 1)
        return x.reshape(*lead, *x.shape[1:])


class CharPoseNet(nn.Module):
    """GRU joint encoder + joint attention + volumetric heatmap/offset decoder (or regression head).

    Tensors in and out are in the canonical frame (`canonicalise`); see the module docstring.
    """

    def __init__(self, config: CharPoseConfig, skeleton: Skeleton | None = None) -> None:
        super().__init__()
        skel = skeleton if skeleton is not None else skeletons.get(config.skeleton)
        if skeleton is not None and skel.name != config.skeleton:
            if not skel.same_layout(skeletons.get(config.skeleton)):
                raise SkeletonError(f"skeleton {skel.name!r} given for a config on {config.skeleton!r}")
        self.config = config
        self.skeleton = skel
        j, d = skel.num_joints, config.embed_dim
        self.groups = sampling_groups(config, skel)
        group_of = torch.empty(j, dtype=torch.long)
        for gi, members in enumerate(self.groups):
            group_of[members] = gi
        self.register_buffer("group_of", group_of, persistent=False)
        #: joints whose sampled positions condition later ones (teacher-forced tokens in training)
        self.token_joints = [i for members in self.groups[:-1] for i in members]
        self.encoder = nn.GRU(3, d, batch_first=True)
        self.register_buffer("joint_code", sinusoidal_encoding(j, d), persistent=False)
        self.token_embed = nn.Sequential(nn.Linear(3, d), nn.GELU(), nn.Linear(d, d)) if self.token_joints else None
        self.attention = nn.MultiheadAttention(d, config.heads, dropout=config.dropout, batch_first=True)
        self.drop = nn.Dropout(config.dropout)
        self.norm1 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, config.feedforward), nn.GELU(), nn.Linear(config.feedforward, d))
        self.norm2 = nn.LayerNorm(d)
        self.decoder: VolumeDecoder | None = None
        self.heatmap_out: nn.Linear | None = None
        self.offset_out: nn.Linear | None = None
        self.regressor: nn.Module | None = None
        if config.head == "heatmap":
            c = config.decoder_channels[-1]
            self.decoder = VolumeDecoder(
                d, config.decoder_start, list(config.decoder_channels), list(config.decoder_convs)
            )
            self.heatmap_out = nn.Linear(c, config.bins)
            self.offset_out = nn.Linear(c, 3) if config.use_offsets else None
        else:
            self.regressor = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, 3))
        self.register_buffer("class_weights", class_weights(config), persistent=False)
        self.register_buffer("centres", voxel_centres(config.grid_size, config.cube_size), persistent=False)

    # ------------------------------------------------------------------------------- pieces
    def encode(self, observed: torch.Tensor) -> torch.Tensor:
        """``(B, O, J, 3)`` canonical observed frames → ``(B, J, D)`` joint embeddings."""
        b, o, j, _ = observed.shape
        if j != self.skeleton.num_joints:
            raise SkeletonError(
                f"observed frames have {j} joints; the network is on {self.skeleton.name!r} "
                f"({self.skeleton.num_joints} joints)"
            )
        seq = observed.permute(0, 2, 1, 3).reshape(b * j, o, 3)
        _, h = self.encoder(seq)
        return h[-1].reshape(b, j, -1) + self.joint_code

    def attend(
        self,
        memory: torch.Tensor,
        queries: torch.Tensor,
        token_positions: torch.Tensor | None = None,
        token_joints: torch.Tensor | None = None,
        allowed: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Features of the joints to predict.

        Args:
            memory: ``(B, J, D)`` joint embeddings from `encode`.
            queries: ``(Q,)`` joint indices to predict.
            token_positions: ``(B, P, 3)`` canonical positions of already-sampled joints (or None).
            token_joints: ``(P,)`` their joint indices.
            allowed: ``(Q, P)`` bool, which tokens each query may see (default: all).

        Returns:
            ``(B, Q, D)`` features.
        """
        q = memory[:, queries]
        kv = memory
        mask = None
        if token_positions is not None and token_positions.shape[1] > 0:
            if self.token_embed is None or token_joints is None:
                raise ModelError("this network takes no sampled-joint tokens (not autoregressive)")
            tok = self.token_embed(token_positions) + self.joint_code[token_joints]
            kv = torch.cat([memory, tok], dim=1)
            if allowed is not None:
                mask = torch.cat(
                    [torch.zeros(len(queries), memory.shape[1], dtype=torch.bool, device=q.device), ~allowed], dim=1
                )
        a, _ = self.attention(q, kv, kv, attn_mask=mask, need_weights=False)
        x = self.norm1(q + self.drop(a))
        return self.norm2(x + self.drop(self.ff(x)))

    def decode(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(B, Q, D)`` → ``(logits (B, Q, G, G, G, bins), offsets (B, Q, G, G, G, 3) in metres or None)``."""
        if self.decoder is None or self.heatmap_out is None:
            raise ModelError("a regression network has no heatmap decoder")
        volume = self.decoder(features)
        logits = self.heatmap_out(volume)
        offsets = None
        if self.offset_out is not None:
            offsets = self.config.offset_clamp * self.config.voxel_size * torch.tanh(self.offset_out(volume))
        return logits, offsets

    def regress(self, memory: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        """Deterministic head: ``(B, J, 3)`` key pose = last observed positions + regressed offsets."""
        if self.regressor is None:
            raise ModelError("a heatmap network has no regression head")
        j = memory.shape[1]
        feats = self.attend(memory, torch.arange(j, device=memory.device))
        return observed[:, -1] + self.regressor(feats)

    def forward(self, observed: torch.Tensor, target: torch.Tensor, queries: torch.Tensor | None = None):
        """Teacher-forced pass on canonical tensors.

        Args:
            observed: ``(B, O, J, 3)`` canonical observed frames.
            target: ``(B, J, 3)`` canonical key poses (their conditioning joints are the tokens).
            queries: ``(Q,)`` joints to predict (default: all).

        Returns:
            heatmap head: ``(logits (B, Q, G, G, G, bins), offsets (B, Q, G, G, G, 3) or None)``;
            regression head: ``(B, J, 3)`` poses.
        """
        memory = self.encode(observed)
        if self.regressor is not None:
            return self.regress(memory, observed)
        j = memory.shape[1]
        if queries is None:
            queries = torch.arange(j, device=memory.device)
        tokens = torch.as_tensor(self.token_joints, dtype=torch.long, device=memory.device)
        allowed = self.group_of[tokens][None, :] < self.group_of[queries][:, None]
        feats = self.attend(memory, queries, target[:, tokens], tokens, allowed)
        return self.decode(feats)

    def num_parameters(self) -> int:
        return int(sum(p.numel() for p in self.parameters()))


# --------------------------------------------------------------------------------------------- loss
def charpose_loss(
    net: CharPoseNet, observed: torch.Tensor, target: torch.Tensor, queries: torch.Tensor | None = None
) -> tuple[torch.Tensor, dict[str, float]]:
    """Training loss of a batch of pairs (module docstring).

    Args:
        net: the network.
        observed: ``(B, O, J, 3)`` observed frames (any root and heading; canonicalised here).
        target: ``(B, J, 3)`` the next key poses, same frame as ``observed``.
        queries: ``(Q,)`` joints to score (default: all; a random subset makes a step cheaper).

    Returns:
        ``(loss, parts)`` with ``parts`` the float values of ``heatmap``, ``offset`` (heatmap head) or
        ``regression``.
    """
    cfg = net.config
    obs_c, tgt_c, _ = canonicalise(observed, net.skeleton, cfg.canonical, target)
    assert tgt_c is not None
    if net.regressor is not None:
        pred = net(obs_c, tgt_c)
        loss = ((pred - tgt_c) ** 2).sum(-1).mean()
        return loss, {"regression": float(loss.detach()), "total": float(loss.detach())}
    j = obs_c.shape[2]
    if queries is None:
        queries = torch.arange(j, device=obs_c.device)
    logits, offsets = net(obs_c, tgt_c, queries)
    points = tgt_c[:, queries]  # (B, Q, 3)
    _, classes = heatmap_target(points, cfg)
    bins = cfg.bins
    ce = F.cross_entropy(
        logits.reshape(-1, bins), classes.reshape(-1), weight=net.class_weights.to(logits.dtype), reduction="none"
    ).mean()
    parts = {"heatmap": float(ce.detach())}
    loss = ce
    if offsets is not None and cfg.offset_weight > 0:
        bi, qi, vi = torch.nonzero(classes.flatten(-3) >= cfg.offset_min_bin, as_tuple=True)  # region voxels
        bound = cfg.offset_clamp * cfg.voxel_size
        want = (points[bi, qi] - net.centres[vi]).clamp(-bound, bound)  # (M, 3)
        got = offsets.flatten(-4, -2)[bi, qi, vi]  # (M, 3)
        diff = (got - want) / cfg.voxel_size
        off = diff.abs().mean() if cfg.offset_loss == "l1" else (diff**2).mean()
        parts["offset"] = float(off.detach())
        loss = loss + cfg.offset_weight * off
    parts["total"] = float(loss.detach())
    return loss, parts


# ------------------------------------------------------------------------------------------ weights
def save_charpose(
    net: CharPoseNet,
    directory: Path,
    name: str = "charpose",
    metadata: dict[str, Any] | None = None,
    half: bool = False,
) -> None:
    """Write the network into weights folder ``directory`` (`posecast.models.store.save_folder`): its
    config.json holds the name, config, skeleton and ``metadata``."""
    from posecast.models import store

    cfg = {
        "name": name,
        "net": "charpose",
        "config": net.config.model_dump(),
        "skeleton": net.skeleton.to_dict(),
        "parameters": net.num_parameters(),
        **(metadata or {}),
    }
    store.save_folder(directory, net.state_dict(), cfg, half=half, tensor_metadata={"net": "charpose"})


def parse_config(meta: dict[str, Any], where: Path) -> tuple[CharPoseConfig, Skeleton | None]:
    """The config and stored skeleton (if any) of a charpose ``config.json`` document."""
    try:
        config = CharPoseConfig(**meta["config"])
        skel = Skeleton.from_dict(meta["skeleton"]) if meta.get("skeleton") else None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"invalid charpose config: {exc}".replace("\n", "; "), where) from None
    return config, skel


def load_charpose(directory: Path) -> CharPoseNet:
    """Rebuild a network written by `save_charpose` (no pickles), in eval mode."""
    from posecast.models import store

    directory = Path(directory)
    state, meta = store.load_folder(directory)
    config, skel = parse_config(meta, directory / store.CONFIG_FILE)
    with store.keeps_rng():
        net = CharPoseNet(config, skel)
    store.load_state(net, state, directory)
    return net.eval()


def check_window(observed: torch.Tensor, net: CharPoseNet) -> None:
    """Raise a `ValueRangeError` unless ``observed`` is ``(B, O, J, 3)`` for this network."""
    j = net.skeleton.num_joints
    o = net.config.observed
    if observed.ndim != 4 or observed.shape[1:] != (o, j, 3):
        raise ValueRangeError(f"observed frames must be (B, {o}, {j}, 3), got {tuple(observed.shape)}")
