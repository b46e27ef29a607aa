"""``traj-gcn``: LTD, "Learning Trajectory Dependencies for Human Motion Prediction" (Mao et al.,
ICCV 2019).

The history (``H`` frames) is padded with its last frame to ``H + F`` frames and every coordinate's
trajectory is encoded by its first ``dct_n`` DCT coefficients. Each coordinate is a graph node
(``D = 3 x modelled joints`` nodes) whose features are its coefficients; a graph convolution with a
learnable dense ``D x D`` adjacency (`~posecast.models.blocks.GraphConv`) lifts them to ``hidden``
features, residual blocks of two graph convolutions (each followed by a norm, tanh and dropout)
refine them, and a last graph convolution maps them back to coefficients, added to the input
coefficients. The inverse DCT gives the whole padded sequence; its last ``F`` frames are the forecast.

As in LTD the residual is taken in the DCT domain: with all ``H + F`` coefficients (the default) that
is the padded input itself; with fewer, its low-pass reconstruction. The last graph convolution starts
at zero, so an untrained network with all coefficients predicts zero velocity. The paper
uses 12 blocks of 256 features with batch norm and dropout 0.5; the shipped configs use fewer
blocks (CPU training budget) and layer norm over each node's features (``norm: batch`` gives the
paper's batch norm over every node-feature pair).
"""

from __future__ import annotations

import torch
from torch import nn

from posecast.errors import ModelError
from posecast.models.blocks import DCT, GraphConv, pad_last
from posecast.models.neural import NeuralConfig, register_net


class _NodeNorm(nn.Module):
    """Normalisation of ``(B, N, C)`` node features: layer norm over ``C`` or batch norm per ``(N, C)``."""

    def __init__(self, nodes: int, features: int, kind: str) -> None:
        super().__init__()
        if kind not in ("layer", "batch"):
            raise ModelError(f"traj-gcn: norm must be 'layer' or 'batch', got {kind!r}")
        self.kind = kind
        self.norm = nn.LayerNorm(features) if kind == "layer" else nn.BatchNorm1d(nodes * features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "layer":
            return self.norm(x)
        return self.norm(x.flatten(1)).reshape(x.shape)


class GCLayer(nn.Module):
    """Graph convolution → norm → tanh → dropout on ``(B, N, in)`` → ``(B, N, out)``."""

    def __init__(self, nodes: int, in_features: int, out_features: int, norm: str, dropout: float) -> None:
        super().__init__()
        self.gc = GraphConv(nodes, in_features, out_features)
        self.norm = _NodeNorm(nodes, out_features, norm)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(torch.tanh(self.norm(self.gc(x))))


class GCBlock(nn.Module):
    """``x + layer2(layer1(x))`` with two `GCLayer` of equal width."""

    def __init__(self, nodes: int, features: int, norm: str, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            GCLayer(nodes, features, features, norm, dropout), GCLayer(nodes, features, features, norm, dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class TrajGCN(nn.Module):
    """``(B, H, D)`` → ``(B, F, D)``."""

    def __init__(
        self,
        features: int,
        history: int,
        frames: int,
        hidden: int = 256,
        blocks: int = 12,
        dct_n: int | None = None,
        dropout: float = 0.5,
        norm: str = "layer",
    ) -> None:
        super().__init__()
        span = history + frames
        keep = dct_n or span
        if not 1 <= keep <= span:
            raise ModelError(f"traj-gcn: dct_n must be in 1..{span} (history + frames per pass), got {dct_n}")
        self.history, self.frames = history, frames
        self.dct = DCT(span, keep)
        self.inp = GCLayer(features, keep, hidden, norm, dropout)
        self.blocks = nn.Sequential(*(GCBlock(features, hidden, norm, dropout) for _ in range(blocks)))
        self.out = GraphConv(features, hidden, keep)
        nn.init.zeros_(self.out.weight)  # residual init: zero velocity before training
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = pad_last(x, self.frames)  # (B, H + F, D)
        coeffs = self.dct(padded).transpose(1, 2)  # (B, D, K): one node per coordinate
        y = coeffs + self.out(self.blocks(self.inp(coeffs)))
        return self.dct.inverse(y.transpose(1, 2))[:, self.history :]


@register_net("traj-gcn")
def _build(config: NeuralConfig, features: int) -> TrajGCN:
    p = config.params
    return TrajGCN(
        features,
        config.history,
        config.frames_per_pass,
        hidden=int(p.get("hidden", 256)),
        blocks=int(p.get("blocks", 12)),
        dct_n=p.get("dct_n"),
        dropout=float(p.get("dropout", 0.5)),
        norm=str(p.get("norm", "layer")),
    )
