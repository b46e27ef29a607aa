"""``ensemble``: the mean forecast of several networks of one family, as one network.

The members share the wrapper's settings (skeleton, frame rate, history, frames per pass, modelled joints,
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
from posecast.models.neural import NeuralConfig, NeuralForecaster, build_net, register_net


class Ensemble(nn.Module):
    """``(B, H, D)`` → ``(B, F, D)``: the mean of the members' outputs.

    The members run one after the other. (Stacking `DCTMLP` members into one batched network — one
    ``baddbmm`` per block over all members — was measured slower at batch 2 than the traced member
    loop, 2.1 vs 1.7 ms for two members, so it is not done.)"""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ModelError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.members[0](x)
        for m in self.members[1:]:
            out = out + m(x)
        return out / len(self.members)


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
        if m.config.model_dump(exclude={"mirror_average"}) != first.model_dump(exclude={"mirror_average"}):
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
