"""Shipped weights: every model's weights load, forecast, and reproduce the numbers in the docs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import posecast
from posecast.models import store
from posecast.models.neural import PretrainedModel

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
SHIPPED = [(m.name, v) for m in posecast.models.available("motion") if m.learned for v in store.variants(m.name)]


def _history(skeleton_name: str, fps: float, frames: int) -> posecast.Motion:
    """A short synthetic walk on the skeleton (positions only), at the model's rate."""
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=frames / fps + 0.2, fps=fps)
    skel = posecast.skeletons.get(skeleton_name)
    if skeleton_name == "smplh-22":  # the canonical body: through the automatic mapping
        from posecast.skeletons.canonical import retarget

        return posecast.Motion(retarget(walk.skeleton).to_canonical(walk.positions[:frames]), fps, skel)
    if skel.num_joints == walk.num_joints:
        return posecast.Motion(walk.positions[:frames], fps, skel)
    names = list(walk.skeleton.joint_names)
    if not set(skel.joint_names) & set(names):  # another layout (e.g. body-17): through the mapping layer
        from posecast.skeletons.mapping import to_layout

        return posecast.Motion(to_layout(walk.positions[:frames], skel, source=walk.skeleton), fps, skel)
    # cmu-mocap-38: the same joints plus end sites; put each end site on its parent
    idx = [
        names.index(n) if n in names else names.index(skel.joint_names[skel.parents[i]])
        for i, n in enumerate(skel.joint_names)
    ]
    return posecast.Motion(walk.positions[:frames, idx], fps, skel)


@pytest.mark.skipif(not SHIPPED, reason="no shipped weights in this checkout")
@pytest.mark.parametrize(("name", "variant"), SHIPPED)
def test_shipped_configs_use_the_current_keys(name, variant):
    """The shipped network configs store frames per pass as ``frames_per_pass`` (``horizon`` before the
    rename, still accepted on input), in the order `NeuralConfig.model_dump` writes the fields."""
    from posecast.models.neural import NeuralConfig

    cfg = store.read_config(store.shipped(name, variant))["config"]
    assert "horizon" not in cfg and cfg["frames_per_pass"] >= 1
    assert NeuralConfig.model_validate(cfg).model_dump() == cfg
    assert list(NeuralConfig.model_validate(cfg).model_dump()) == list(cfg)


@pytest.mark.skipif(not SHIPPED, reason="no shipped weights in this checkout")
@pytest.mark.parametrize(("name", "variant"), SHIPPED)
def test_shipped_weights_load_and_forecast(name, variant):
    meta = store.read_config(store.shipped(name, variant))
    cfg = meta["config"]
    assert (store.shipped(name, variant) / "MODEL_CARD.md").is_file()
    if name == "st-transformer-rot":
        pytest.skip("the rotation variant needs rotations; covered by its own test")
    model = posecast.models.get(name)
    assert isinstance(model, PretrainedModel)
    history = _history(cfg["skeleton"], cfg["fps"], max(cfg["history"], 12))
    fc = model.forecast(history, seconds=1.0)
    assert fc.samples.shape[1:] == (round(cfg["fps"]), history.num_joints, 3)
    assert np.isfinite(fc.samples).all()
    # a trained forecaster continues from where the observation ends
    assert np.abs(fc.samples[0, 0] - history.positions[-1]).max() < 0.15


def test_unknown_skeleton_is_a_clear_error():
    from posecast.skeletons.base import Skeleton

    chain = Skeleton("chain-6", tuple("abcdef"), (-1, 0, 1, 2, 3, 4), np.tile([0.0, 0.1, 0.0], (6, 1)))
    odd = posecast.Motion(np.zeros((12, 6, 3)), 25.0, chain)
    for name in {n for n, _ in SHIPPED}:
        canonical = any(store.read_config(store.shipped(name, v))["config"]["skeleton"] == "smplh-22"
                        for v in store.variants(name))  # fmt: skip
        # a model with canonical-body weights tries the automatic mapping (a bare chain has no limbs)
        expected = "chain-6' cannot be mapped onto the canonical" if canonical else "no weights for skeleton chain-6"
        with pytest.raises(posecast.PosecastError, match=expected):
            posecast.models.get(name).forecast(odd, seconds=0.5)


@pytest.mark.parametrize(("name", "variant"), [s for s in SHIPPED if s[1] == "cmu-mocap"])
def test_shipped_weights_reproduce_the_documented_ltd8_table(cmu_mocap_dir, name, variant):
    documented = RESULTS / f"cmu-mocap_ltd8_{name}.json"
    if not documented.is_file():
        pytest.skip(f"no documented result {documented.name}")
    want = json.loads(documented.read_text())
    from posecast.evaluation.protocols import cmu_mocap

    model = posecast.models.get(name)
    if name == "st-transformer-rot":
        got = cmu_mocap.evaluate_rotations(model.variant(variant) if hasattr(model, "variant") else model, "ltd8")
    else:
        got = cmu_mocap.evaluate(model, "ltd8", cmu_mocap_dir)
    for action, row in want["actions"].items():
        for label, value in row.items():
            assert got.actions[action][label] == pytest.approx(value, abs=0.01), (action, label)


def test_a_forecast_made_with_other_weights_says_which():
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=2.0, fps=25.0)
    fc = posecast.forecast(walk, model="dct-mlp", weights="dct-mlp/corpus", seconds=0.2)
    assert fc.metadata["weights"] == "dct-mlp/corpus"
    assert "weights" not in posecast.forecast(walk, model="dct-mlp", seconds=0.2).metadata


def test_weights_of_another_network_are_refused_naming_the_model_to_use():
    """QA: ``--model dct-mlp --weights RUN`` of an st-transformer run forecast with the st-transformer under the
    dct-mlp label (and `bench files` printed its numbers in a dct-mlp row); ``--model charpose`` with them failed
    with 3 KB of pydantic errors. Weights of another network family are refused, saying which model they are for."""
    from posecast.errors import ModelError
    from posecast.models import get

    for model in ("dct-mlp", "traj-gcn", "charpose"):
        with pytest.raises(ModelError, match=r"st-transformer weights, not weights of .*--model st-transformer"):
            get(model, weights="st-transformer/corpus")
    with pytest.raises(ModelError, match=r"charpose weights, not weights of st-transformer.*--model charpose"):
        get("st-transformer", weights="charpose/corpus")
    assert get("dct-mlp", weights="dct-mlp/cmu-bvh") is not None  # same family: as before
    assert get("charpose", weights="charpose/corpus-regression") is not None
    # QA: video weights say their network too (phd weights given to dct-mlp printed 40 lines of pydantic errors;
    # dct-mlp weights given to phd a 2 KB line), and lift+forecast, which combines shipped models, takes none
    with pytest.raises(ModelError, match=r"phd weights, not weights of dct-mlp.*--model phd"):
        get("dct-mlp", weights="phd/corpus")
    with pytest.raises(ModelError, match=r"dct-mlp weights, not weights of phd.*--model dct-mlp"):
        get("phd", weights="dct-mlp/corpus")
    with pytest.raises(ModelError, match=r"'lift\+forecast' takes no weights of its own \(built from shipped models"):
        get("lift+forecast", weights="dct-mlp/corpus")


def test_a_weights_folder_that_does_not_fit_the_network_is_one_short_line(tmp_path):
    """Weights written before their config named the network (a video run of an older release) reach the network's
    config check: one line with the first problems, not pydantic's dump of every field with links."""
    import json
    import shutil

    from posecast.errors import ModelError
    from posecast.models import get, store

    old = tmp_path / "old-phd"
    shutil.copytree(store.shipped("phd"), old)
    meta = json.loads((old / "config.json").read_text())
    del meta["net"]
    (old / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError) as err:
        get("dct-mlp", weights=old)
    text = str(err.value)
    assert "invalid model config: " in text and "problems: " in text and "and " in text and "more" in text
    assert "\n" not in text and "errors.pydantic.dev" not in text and len(text) < 400, text
