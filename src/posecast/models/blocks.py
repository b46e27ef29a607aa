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


def pad_velocity(x: torch.Tensor, frames: int, decay: float) -> torch.Tensor:
    """``(B, H, D)`` → ``(B, H + frames, D)``, continuing the last observed velocity with a per-frame
    ``decay``: future frame ``k`` (1-based) is ``x_last + v (decay + decay^2 + ... + decay^k)`` with
    ``v = x_last - x_prev``. ``decay = 0`` is `pad_last`; ``decay = 1`` is constant velocity."""
    gain = velocity_gain(frames, decay, x.dtype).to(x.device)
    v = x[:, -1:] - x[:, -2:-1]
    return torch.cat([x, x[:, -1:] + gain[None, :, None] * v], dim=1)


def velocity_gain(frames: int, decay: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(frames,)`` velocities travelled by future frame ``k`` (1-based) when the velocity is damped by
    ``decay`` per frame: ``decay + decay^2 + ... + decay^k`` (``k`` for ``decay = 1``, 0 for ``decay = 0``)."""
    k = torch.arange(1, frames + 1, dtype=dtype)
    return k if decay == 1.0 else decay * (1.0 - decay**k) / (1.0 - decay)


def sinusoidal_encoding(length: int, dim: int) -> torch.Tensor:
    """``(length, dim)`` fixed positional encoding of Vaswani et al.: channel pair ``(2i, 2i + 1)`` holds
    ``sin`` and ``cos`` of ``t / 10000^(2i / dim)`` for frame ``t`` (an odd last channel gets the ``sin``)."""
    t = torch.arange(length, dtype=torch.float32)[:, None]
    rate = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)  # (ceil(dim/2),)
    enc = torch.zeros(length, dim)
    enc[:, 0::2] = torch.sin(t * rate)
    enc[:, 1::2] = torch.cos(t * rate[: dim // 2])
    return enc


class JointLinear(nn.Module):
    """A separate affine map per joint: ``(..., J, in)`` → ``(..., J, out)`` with weights ``(J, in, out)``
    and biases ``(J, out)``, applied to all joints in one batched product (no loop over joints)."""

    def __init__(self, joints: int, in_features: int, out_features: int, gain: float = 1.0) -> None:
        super().__init__()
        bound = gain * math.sqrt(6.0 / (in_features + out_features))  # Xavier-uniform per joint
        self.weight = nn.Parameter(torch.empty(joints, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(joints, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("...ji,jio->...jo", x, self.weight) + self.bias


class GraphConv(nn.Module):
    """Graph convolution with a learnable dense adjacency (LTD): ``(B, N, in)`` → ``A @ x @ W + b``,
    ``A (N, N)``, ``W (in, out)``, ``b (out,)``; every parameter starts uniform in ``±1 / sqrt(out)``."""

    def __init__(self, nodes: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(out_features)
        self.adjacency = nn.Parameter(torch.empty(nodes, nodes).uniform_(-bound, bound))
        self.weight = nn.Parameter(torch.empty(in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adjacency @ (x @ self.weight) + self.bias
