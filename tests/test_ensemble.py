"""The ``ensemble`` network: the mean of its members, saved and loaded like any network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posecast.errors import ModelError
from posecast.models.ensemble import Ensemble, assemble
from posecast.models.neural import NeuralConfig, NeuralForecaster
from posecast.synthetic import synthetic_walk


def _member(seed: int, mirror: bool) -> NeuralForecaster:
    cfg = NeuralConfig(
        net="dct-mlp",
        skeleton="cmu-bvh-31",
        fps=25.0,
        history=8,
        frames_per_pass=6,
        params={"blocks": 3},
        mirror_average=mirror,
    )
    model = NeuralForecaster(cfg, name=f"m{seed}")
    g = torch.Generator().manual_seed(seed)
    for p in model.net.parameters():  # random weights everywhere, so that the members differ
        p.data = torch.randn(p.shape, generator=g) * 0.05
    return model


@pytest.mark.parametrize("mirror", [False, True])
def test_ensemble_forecast_is_the_mean_of_its_members(mirror):
    """Everything after the network (joint filling, leaving the canonical frame, mirroring back) is
    affine in the network output, so over one pass (5 frames + 1 to interpolate = the 6 frames of a pass)
    the ensemble's forecast is exactly the members' mean forecast. (Longer rollouts differ: the
    ensemble feeds its mean back, each member its own output.)"""
    members = [_member(s, mirror) for s in (1, 2, 3)]
    ens = assemble(members, "ens", mirror_average=mirror)
    history = synthetic_walk(seconds=1.0, fps=25.0).positions[None, -8:]
    want = np.mean([m.predict(history, 5) for m in members], axis=0)
    got = ens.predict(history, 5)
    assert np.abs(members[0].predict(history, 5) - want).max() > 1e-3  # the members do differ
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_ensemble_saves_and_loads_as_one_network(tmp_path):
    ens = assemble([_member(1, True), _member(2, True)], "ens")
    ens.save(tmp_path / "ens")
    back = NeuralForecaster.load(tmp_path / "ens")
    assert isinstance(back.net, Ensemble) and len(back.net.members) == 2
    assert back.config.params == {"net": "dct-mlp", "members": 2, "params": {"blocks": 3}}
    history = synthetic_walk(seconds=1.0, fps=25.0).positions[None, -8:]
    np.testing.assert_allclose(back.predict(history, 10), ens.predict(history, 10), atol=1e-6)


def test_ensemble_refuses_members_that_differ():
    a = _member(1, False)
    b = NeuralForecaster(a.config.model_copy(update={"history": 9}), name="other")
    with pytest.raises(ModelError, match="differ"):
        assemble([a, b], "ens")
    with pytest.raises(ModelError, match="params.net"):
        NeuralForecaster(a.config.model_copy(update={"net": "ensemble", "params": {"members": 2}}))
