"""DCT-domain MLP forecasters.

``dct-mlp``: a siMLPe-class forecaster (Guo et al. 2023): DCT over time, a deep stack of
temporal fully-connected layers with layer norm and residuals, spatial FC layers at both ends, and a
residual connection to the padded input, so an untrained network predicts zero velocity.

The history (``H`` frames) is padded with its last frame to ``H + F`` frames (as LTD does), so one
pass predicts the ``F`` future frames; no activation functions, as in siMLPe.

``dct-mixer`` (PoseCast's own): the same DCT framing with MLP-Mixer blocks — pre-norm GELU MLPs
that mix the DCT coefficients of each coordinate (temporal mixing) and then the coordinates of each
coefficient (spatial mixing, a learned dense "graph" over all joints and axes, as LTD's learnable
adjacency) — with dropout, and the same residual to the padded input.
"""

from __future__ import annotations

import torch
from torch import nn

from posecast.models.blocks import DCT, pad_last
from posecast.models.neural import NeuralConfig, register_net


class TemporalBlock(nn.Module):
    """``x + LN(FC_time(x))`` on ``(B, D, K)`` tensors (the FC mixes the K temporal coefficients)."""

    def __init__(self, frames: int, features: int) -> None:
        super().__init__()
        self.fc = nn.Linear(frames, frames)
        self.norm = nn.LayerNorm(features)
        nn.init.xavier_uniform_(self.fc.weight, gain=1e-8)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)  # (B, D, K)
        return x + self.norm(y.transpose(1, 2)).transpose(1, 2)


class DCTMLP(nn.Module):
    """``(B, H, D)`` → ``(B, F, D)``."""

    def __init__(
        self, features: int, history: int, horizon: int, blocks: int = 48, dct_keep: int | None = None
    ) -> None:
        super().__init__()
        self.history, self.horizon = history, horizon
        frames = history + horizon
        self.dct = DCT(frames, dct_keep)
        keep = dct_keep or frames
        self.spatial_in = nn.Linear(features, features)
        self.blocks = nn.Sequential(*(TemporalBlock(keep, features) for _ in range(blocks)))
        self.spatial_out = nn.Linear(features, features)
        nn.init.xavier_uniform_(self.spatial_out.weight, gain=1e-8)
        nn.init.zeros_(self.spatial_out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = pad_last(x, self.horizon)  # (B, T, D)
        c = self.spatial_in(self.dct(padded))  # (B, K, D)
        c = self.blocks(c.transpose(1, 2)).transpose(1, 2)
        delta = self.dct.inverse(self.spatial_out(c))  # (B, T, D)
        return (padded + delta)[:, self.history :]


class MLP(nn.Module):
    """Pre-norm residual MLP over the last dimension: ``x + W2 GELU(W1 LN(x))``."""

    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop(self.fc2(self.drop(nn.functional.gelu(self.fc1(self.norm(x))))))


class DCTMixer(nn.Module):
    """``(B, H, D)`` → ``(B, F, D)`` with temporal and spatial mixing MLPs on DCT coefficients."""

    def __init__(
        self,
        features: int,
        history: int,
        horizon: int,
        blocks: int = 8,
        hidden_time: int = 128,
        hidden_space: int = 256,
        width: int | None = None,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.history, self.horizon = history, horizon
        frames = history + horizon
        self.dct = DCT(frames)
        width = width or features
        self.lift = nn.Linear(features, width)
        self.time = nn.ModuleList(MLP(frames, hidden_time, dropout) for _ in range(blocks))
        self.space = nn.ModuleList(MLP(width, hidden_space, dropout) for _ in range(blocks))
        self.head = nn.Linear(width, features)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = pad_last(x, self.horizon)  # (B, T, D)
        c = self.lift(self.dct(padded))  # (B, K, W)
        for time, space in zip(self.time, self.space, strict=True):
            c = time(c.transpose(1, 2)).transpose(1, 2)  # mix coefficients of each feature
            c = space(c)  # mix features of each coefficient
        return (padded + self.dct.inverse(self.head(c)))[:, self.history :]


@register_net("dct-mixer")
def _build_mixer(config: NeuralConfig, features: int) -> DCTMixer:
    p = config.params
    return DCTMixer(
        features,
        config.history,
        config.horizon,
        blocks=int(p.get("blocks", 8)),
        hidden_time=int(p.get("hidden_time", 128)),
        hidden_space=int(p.get("hidden_space", 256)),
        width=p.get("width"),
        dropout=float(p.get("dropout", 0.1)),
    )


@register_net("dct-mlp")
def _build(config: NeuralConfig, features: int) -> DCTMLP:
    p = config.params
    return DCTMLP(features, config.history, config.horizon, blocks=int(p.get("blocks", 48)), dct_keep=p.get("dct_keep"))
