"""``ensemble``: the mean forecast of several networks of one family, as one network.

The members share the wrapper's settings (skeleton, frame rate, history, horizon, modelled joints,
canonical frame) and differ only in their weights — typically independent training runs with
different seeds or learning rates. Averaging their outputs in the canonical frame is the classic
variance-reducing ensemble; the result is an ordinary network ``(B, H, D) → (B, F, D)``, so it runs
through `NeuralForecaster` (mirror averaging, autoregressive rollout, the traced inference path)
like any other.

Config ``params``: ``{"net": "<member family>", "members": N, "params": {<member params>}}``.
Weights: the members' state dicts under ``members.<i>.``; `assemble` builds one from trained runs.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from posecast.errors import ModelError
from posecast.models.blocks import pad_last
from posecast.models.dct_mlp import DCTMLP
from posecast.models.neural import NeuralConfig, NeuralForecaster, build_net, register_net


class Ensemble(nn.Module):
    """``(B, H, D)`` → ``(B, F, D)``: the mean of the members' outputs.

    At inference (eval mode, no autograd) an ensemble of `DCTMLP` members runs as one stacked network
    (`StackedDCTMLP`): each block is one batched matrix product over all members instead of one small
    product per member, so at batch 1 — where every operation costs mostly its dispatch — M members
    cost little more than one."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ModelError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self._stacked: tuple[int, StackedDCTMLP] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training and not torch.is_grad_enabled():
            stacked = self.stacked()
            if stacked is not None:
                return stacked(x)
        out = self.members[0](x)
        for m in self.members[1:]:
            out = out + m(x)
        return out / len(self.members)

    def stacked(self) -> StackedDCTMLP | None:
        """The members stacked into one network (None unless they are all `DCTMLP` of one shape);
        rebuilt whenever a parameter was updated in place."""
        if not all(isinstance(m, DCTMLP) for m in self.members):
            return None
        version = sum(p._version for p in self.parameters())
        if self._stacked is None or self._stacked[0] != version:
            with torch.no_grad():
                self._stacked = (version, StackedDCTMLP(list(self.members)))  # type: ignore[arg-type]
        return self._stacked[1]


class StackedDCTMLP(nn.Module):
    """M `DCTMLP` networks of one shape evaluated together, averaged: ``(B, H, D)`` → ``(B, F, D)``.

    Activations are ``(M, K, B, D)``; a block is ``z + LN(W_m z + b_m) * g_m + beta_m`` computed as one
    ``baddbmm`` over the members, one layer norm without affine, one ``addcmul`` and one add. The
    spatial output layer and the inverse DCT are linear, so the members' mean is taken before them.
    Inference only: the stacked tensors are copies of the members' weights (see `Ensemble.stacked`).
    """

    def __init__(self, members: list[DCTMLP]) -> None:
        super().__init__()
        first = members[0]
        shapes = {(m.history, m.horizon, tuple(m.dct.fwd.shape), len(m.blocks)) for m in members}
        if len(shapes) != 1:
            raise ModelError("stacked ensemble members must have one shape")
        self.history, self.horizon, self.dct = first.history, first.horizon, first.dct
        self.eps = first.blocks[0].norm.eps

        def stack(get) -> torch.Tensor:
            return torch.stack([get(m) for m in members]).detach().clone()

        self.register_buffer("w_in", stack(lambda m: m.spatial_in.weight.T))  # (M, D, D)
        self.register_buffer("b_in", stack(lambda m: m.spatial_in.bias)[:, None, None])  # (M, 1, 1, D)
        blocks = len(first.blocks)
        self.register_buffer("w", torch.stack([stack(lambda m, i=i: m.blocks[i].fc.weight) for i in range(blocks)]))
        self.register_buffer(
            "b", torch.stack([stack(lambda m, i=i: m.blocks[i].fc.bias)[:, :, None] for i in range(blocks)])
        )  # (L, M, K, 1)
        self.register_buffer(
            "g", torch.stack([stack(lambda m, i=i: m.blocks[i].norm.weight)[:, None, None] for i in range(blocks)])
        )  # (L, M, 1, 1, D)
        self.register_buffer(
            "beta", torch.stack([stack(lambda m, i=i: m.blocks[i].norm.bias)[:, None, None] for i in range(blocks)])
        )
        self.register_buffer("w_out", stack(lambda m: m.spatial_out.weight.T))  # (M, D, D)
        self.register_buffer("b_out", stack(lambda m: m.spatial_out.bias).mean(0))  # (D,): the members' mean
        self.members = len(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = pad_last(x, self.horizon)  # (B, T, D)
        c = self.dct(padded).transpose(0, 1)  # (K, B, D)
        z = torch.matmul(c, self.w_in[:, None]) + self.b_in  # (M, K, B, D)
        d = z.shape[-1]
        for w, b, g, beta in zip(self.w, self.b, self.g, self.beta, strict=True):
            y = torch.baddbmm(b, w, z.flatten(2)).view_as(z)
            z = z + torch.addcmul(beta, torch.nn.functional.layer_norm(y, (d,), eps=self.eps), g)
        # mean over members of (z_m @ W_out_m + b_out_m): linear, so average the products
        out = torch.einsum("mkbd,mde->kbe", z, self.w_out) / self.members + self.b_out
        delta = self.dct.inverse(out.transpose(0, 1))  # (B, T, D)
        return (padded + delta)[:, self.history :]


def member_config(config: NeuralConfig) -> NeuralConfig:
    """The `NeuralConfig` of one member of an ``ensemble`` config."""
    p = config.params
    if "net" not in p or p["net"] == "ensemble":
        raise ModelError("an ensemble config needs params.net: the members' network family (not 'ensemble')")
    return config.model_copy(update={"net": p["net"], "params": dict(p.get("params", {})), "mirror_average": False})


@register_net("ensemble")
def _build(config: NeuralConfig, features: int) -> Ensemble:
    count = int(config.params.get("members", 2))
    if count < 1:
        raise ModelError(f"an ensemble needs at least one member, got {count}")
    sub = member_config(config)
    return Ensemble([build_net(sub) for _ in range(count)])


def assemble(members: list[NeuralForecaster], name: str, mirror_average: bool = True) -> NeuralForecaster:
    """One forecaster averaging trained ``members`` (same family, skeleton, rate, windows, joints)."""
    if not members:
        raise ModelError("no members to assemble")
    first = members[0].config
    for m in members[1:]:
        c = m.config
        same = (c.net, c.skeleton, c.fps, c.history, c.horizon, c.joints, c.canonical, c.params)
        if same != (
            first.net,
            first.skeleton,
            first.fps,
            first.history,
            first.horizon,
            first.joints,
            first.canonical,
            first.params,
        ):
            raise ModelError(f"ensemble members differ: {m.name!r} has a different network or windows")
    config = first.model_copy(
        update={
            "net": "ensemble",
            "params": {"net": first.net, "members": len(members), "params": dict(first.params)},
            "mirror_average": mirror_average,
        }
    )
    net = Ensemble([m.net for m in members]).eval()
    return NeuralForecaster(config, net=net, name=name)


def load_members(directories: list[Path]) -> list[NeuralForecaster]:
    """Trained forecasters from run sub-directories written by ``NeuralForecaster.save``."""
    return [NeuralForecaster.load(Path(d)) for d in directories]
