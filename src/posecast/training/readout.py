"""Ridge-regression fit of the ST-Transformer's short-term read-out (``params.short_frames``).

Why
---
The ST-Transformer's own read-out predicts each token's next frames from a start that lags (the token's
mean velocity continued, `posecast.models.st_transformer.STTransformer._base`), which keeps its 20 s
rollouts moving but costs it the first 400 ms against `dct-mlp` (model card ``st-transformer/corpus``).
Learning a sharper start inside the network lost the 20 s behaviour in every run tried. The short-term
read-out leaves the network as it is: one linear map from the last observed token's features of every
joint (the frozen network's last block) and the last observed frames to the first ``short_frames``
frames of a rollout, after which the network continues with its own read-out. Being linear in
features of a frozen network, its least-squares fit is exact and fast (one pass over the training
windows), so it needs no training loop: `fit_short_head` accumulates the normal equations and solves
them with a ridge term chosen on the validation split.

Still windows (``params.short_still``). Fitted on moving people only, the read-out learned that a window goes
on moving: a person standing perfectly still was forecast drifting 3 cm (validation poses held) to 10 cm (a QA
run's still Mixamo clip) within 0.4 s, more than the network's own drift. Windows whose last observed frame is
held through history and future, weighing a share of the real ones, teach it that stillness continues; chosen
on the validation split (model card ``st-transformer/corpus``), where they also help the short term of the
data set with people standing between gestures (Bandai Namco).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from posecast.datasets import windows as W
from posecast.errors import ModelError
from posecast.models.neural import NeuralForecaster, canonical_frame, to_canonical


def short_head_pairs(
    model: NeuralForecaster, batch: np.ndarray, mirror: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """World windows ``(B, history + F, J, 3)`` → the short read-out's inputs ``(B', D)`` and targets ``(B',
    F * Jm * 3)`` (the ``F`` frames after the history relative to its last frame, in the canonical frame of that
    last frame, modelled joints; float64), as the rollout's first pass sees them; with ``mirror`` the windows'
    left/right mirror images are appended (augmentation, ``B' = 2B``)."""
    net, h = model.net, model.config.history
    f = net.short_frames
    win = torch.as_tensor(batch, dtype=torch.float32)
    if mirror:
        win = torch.cat([win, W.mirror(win, model.skeleton)], dim=0)
    origin, rot = canonical_frame(win[:, :h], model.skeleton, model.config.canonical)
    x = to_canonical(win, origin, rot)[:, :, list(model.joints)]
    b = x.shape[0]
    inputs = x[:, :h].reshape(b, h, -1)
    with torch.no_grad():
        feats = net.short_inputs(inputs, net.last_features(inputs))
    target = (x[:, h : h + f] - x[:, h - 1 : h]).reshape(b, -1)
    return feats.double(), target.double()


class NormalEquations(NamedTuple):
    """Sums of a least-squares fit with a bias: ``xtx (D + 1, D + 1)``, ``xty (D + 1, O)`` (inputs with a
    trailing one), ``yty`` and ``total`` (the number of input rows, mirror images included), and the number of
    windows."""

    xtx: torch.Tensor
    xty: torch.Tensor
    yty: float
    total: float
    windows: int


def short_head_equations(
    model: NeuralForecaster,
    sequences: Sequence[np.ndarray],
    stride: int = 2,
    batch_size: int = 512,
    mirror: bool = True,
    still: float = 0.0,
) -> NormalEquations:
    """The normal equations of the short read-out's fit on every ``stride``-th window of ``sequences`` (world
    frames ``(T, J, 3)`` on the model's skeleton), with their mirror images (``mirror``, `short_head_pairs`),
    every window weighted the same. ``still > 0``: also *still* windows — a window's last observed frame held
    through history and future — weighing ``still`` times the real ones in all (made from every ``round(1 /
    still)``-th window, each weighted to make up the share; module docs). The network is run in eval mode and
    left as it was."""
    net = model.net
    if not getattr(net, "short_frames", 0):
        raise ModelError("fit_short_head: the network has no short-term read-out (params.short_frames)")
    span = model.config.history + net.short_frames
    ws = W.WindowSet.from_sequences(sequences, span, model.skeleton, model.config.fps, stride)
    was_training = net.training
    net.eval()
    d = net.short_head.in_features
    xtx = torch.zeros(d + 1, d + 1, dtype=torch.float64)
    xty = torch.zeros(d + 1, net.short_head.out_features, dtype=torch.float64)
    yty, total = 0.0, 0.0
    h = model.config.history
    every = max(1, round(1.0 / still)) if still > 0 else 0
    for start in range(0, len(ws), batch_size):
        idx = np.arange(start, min(start + batch_size, len(ws)))
        batch = ws.batch(idx)
        parts = [(batch, 1.0)]
        if every:  # windows number 0, every, 2 every... of the whole set, each held at its last observed frame
            chosen = batch[(idx % every) == 0]
            parts.append((np.repeat(chosen[:, h - 1 : h], span, axis=1), still * every))
        for windows, weight in parts:
            if not len(windows):
                continue
            feats, target = short_head_pairs(model, windows, mirror)
            xa = torch.cat([feats, torch.ones_like(feats[:, :1])], dim=1)
            xtx += weight * (xa.T @ xa)
            xty += weight * (xa.T @ target)
            yty += weight * float((target * target).sum())
            total += weight * float(feats.shape[0])
    net.train(was_training)
    return NormalEquations(xtx, xty, yty, total, len(ws))


def solve_short_head(model: NeuralForecaster, eq: NormalEquations, ridge: float) -> dict[str, float | int]:
    """Set ``model.net.short_head`` to the ridge solution of ``eq``: each input's penalty is ``ridge`` times its
    variance (ridge regression on standardised inputs; the bias is not penalised). Returns the fit's training
    RMS error (metres per coordinate) and the window count."""
    net = model.net
    d = eq.xtx.shape[0] - 1
    mean = eq.xtx[:d, d] / eq.total
    var = (torch.diagonal(eq.xtx)[:d] / eq.total - mean**2).clamp_min(1e-12)
    penalty = torch.cat([ridge * var * eq.total, var.new_zeros(1)])
    sol = torch.linalg.solve(eq.xtx + torch.diag(penalty), eq.xty)
    sse = eq.yty - 2 * float((sol * eq.xty).sum()) + float((sol * (eq.xtx @ sol)).sum())
    with torch.no_grad():
        net.short_head.weight.copy_(sol[:d].T.to(net.short_head.weight.dtype))
        net.short_head.bias.copy_(sol[d].to(net.short_head.bias.dtype))
    coords = net.short_head.out_features
    return {"windows": eq.windows, "train_rms_m": float(np.sqrt(max(sse, 0.0) / eq.total / coords))}


def fit_short_head(
    model: NeuralForecaster,
    sequences: Sequence[np.ndarray],
    ridge: float,
    stride: int = 2,
    batch_size: int = 512,
    mirror: bool = True,
    still: float = 0.0,
) -> dict[str, float | int]:
    """Fit ``model.net.short_head`` (a `NeuralForecaster` whose network has ``short_frames``) by ridge regression
    on every ``stride``-th window of ``sequences`` and their mirror images (`short_head_equations`,
    `solve_short_head`); the rest of the network is not changed. Returns the fit's training RMS error (metres)
    and the window count."""
    eq = short_head_equations(model, sequences, stride, batch_size, mirror, still)
    return solve_short_head(model, eq, ridge)
