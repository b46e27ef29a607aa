"""``res-gru``: the residual sequence-to-sequence GRU of Martinez et al. ("On human motion prediction
using recurrent neural networks", CVPR 2017).

An encoder GRU reads the observed frames except the last; a decoder GRU cell, started from the
encoder's state, reads the last observed frame and predicts a velocity that is added to it (the
residual connection), then reads its own prediction for the next step, and so on for all ``F``
frames of one pass. Because the decoder always consumes its own outputs, training on all the frames
of a pass is the paper's sampling-based training (no teacher forcing) and training matches inference.

The read-out starts at zero, so an untrained network predicts zero velocity. The paper uses one layer
of 1024 units (on exp-maps); the shipped configs use a smaller state for CPU training.
"""

from __future__ import annotations

import torch
from torch import nn

from posecast.models.neural import NeuralConfig, register_net


class ResGRU(nn.Module):
    """``(B, H, D)`` → ``(B, F, D)``."""

    def __init__(self, features: int, frames: int, hidden: int = 1024, dropout: float = 0.0) -> None:
        super().__init__()
        self.frames = frames
        self.encoder = nn.GRU(features, hidden, batch_first=True)
        self.decoder = nn.GRUCell(features, hidden)
        self.drop = nn.Dropout(dropout)
        self.readout = nn.Linear(hidden, features)
        nn.init.zeros_(self.readout.weight)  # residual init: zero velocity before training
        nn.init.zeros_(self.readout.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = x.new_zeros(x.shape[0], self.decoder.hidden_size)
        if x.shape[1] > 1:
            _, last = self.encoder(x[:, :-1])
            state = last[0]
        frame, out = x[:, -1], []
        for _ in range(self.frames):
            state = self.decoder(frame, state)
            frame = frame + self.readout(self.drop(state))
            out.append(frame)
        return torch.stack(out, dim=1)


@register_net("res-gru")
def _build(config: NeuralConfig, features: int) -> ResGRU:
    p = config.params
    return ResGRU(
        features, config.frames_per_pass, hidden=int(p.get("hidden", 1024)), dropout=float(p.get("dropout", 0.0))
    )
