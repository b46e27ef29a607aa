"""Building blocks shared by the learned models (one copy each): DCT bases, residual MLP blocks."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def dct_matrix(n: int) -> np.ndarray:
    """``(n, n)`` orthonormal DCT-II matrix ``C``: ``coeffs = C @ x`` along time, ``x = C.T @ coeffs``."""
    k = np.arange(n)[:, None]
    t = np.arange(n)[None]
    c = np.sqrt(2.0 / n) * np.cos(math.pi * (t + 0.5) * k / n)
    c[0] /= math.sqrt(2.0)
    return c


class DCT(nn.Module):
    """DCT along dimension 1 of ``(B, T, D)`` tensors, keeping the first ``keep`` coefficients."""

    def __init__(self, frames: int, keep: int | None = None) -> None:
        super().__init__()
        c = torch.as_tensor(dct_matrix(frames), dtype=torch.float32)
        keep = keep or frames
        self.register_buffer("fwd", c[:keep].clone(), persistent=False)  # (K, T)
        self.register_buffer("inv", c[:keep].T.clone(), persistent=False)  # (T, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, D)`` → ``(B, K, D)`` coefficients."""
        return self.fwd @ x

    def inverse(self, c: torch.Tensor) -> torch.Tensor:
        """``(B, K, D)`` → ``(B, T, D)``."""
        return self.inv @ c


def pad_last(x: torch.Tensor, frames: int) -> torch.Tensor:
    """``(B, H, D)`` → ``(B, H + frames, D)``, repeating the last frame (the LTD padding)."""
    return torch.cat([x, x[:, -1:].expand(-1, frames, -1)], dim=1)
