"""The learned motion forecasters: their registry builder and their default training configs.

`build` is the registry builder of every learned motion model (``dct-mlp``, ``st-transformer``...):
a weights folder, the shipped weights (all variants behind a `~posecast.models.neural.PretrainedModel`
that picks by the history's skeleton, or one ``variant``), or an untrained network from the model's
default training config ``configs/<name>/<data>.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from posecast.errors import ModelError, ValueRangeError, problems

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

#: registry name -> one-line summary (its network family and defaults are in configs/<name>/<data>.yaml)
LEARNED = {
    "dct-mlp": "siMLPe-class: DCT over time, deep temporal MLP, residual",
    "dct-mlp-ens": "PoseCast's most accurate: the mean of independently trained dct-mlp networks",
    "st-transformer": "ST-Transformer (Aksan et al. 2021): causal temporal + spatial attention, next frame",
    "traj-gcn": "LTD (Mao et al. 2019): DCT trajectories, GCN with learnable adjacency, residual",
    "res-gru": "residual seq2seq GRU (Martinez et al. 2017), sampling-based training",
}
ROTATION_MODEL = "st-transformer-rot"
#: the model ``posecast forecast FILE`` uses for motions when none is named: its ``corpus`` weights (canonical
#: body, trained on the corpus) serve every skeleton it has no specific weights for
DEFAULT_MOTION_MODEL = "dct-mlp"

#: training data source -> (skeleton, frame rate) of the networks trained on it
DATA_LAYOUTS = {
    "cmu-mocap": ("cmu-mocap-38", 60.0),
    "cmu-mocap+bvh": ("cmu-mocap-38", 60.0),
    "cmu-bvh": ("cmu-bvh-31", 25.0),
    "corpus": ("smplh-22", 25.0),
}


def default_config_path(name: str, data: str = "cmu-mocap") -> Path:
    """The shipped training config of model ``name`` on ``data`` (``configs/<name>/<data>.yaml``)."""
    path = CONFIG_DIR / name / f"{data}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (CONFIG_DIR / name).glob("*.yaml")) if (CONFIG_DIR / name).is_dir() else []
        raise ModelError(f"no default training config for {name!r} on {data!r}; have: {', '.join(known) or 'none'}")
    return path


def network_config(name: str, data: str = "cmu-mocap"):
    """The `~posecast.models.neural.NeuralConfig` of an untrained ``name`` network, from the network
    fields of its default training config on ``data``."""
    from posecast.models.neural import NeuralConfig

    path = default_config_path(name, data)
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueRangeError(f"cannot read config: {exc}", path) from None
    skeleton, fps = DATA_LAYOUTS.get(data, ("cmu-bvh-31", 25.0))
    fields = ("net", "history", "frames_per_pass", "joints", "canonical", "params")
    try:
        return NeuralConfig(
            skeleton=skeleton, fps=cfg.get("fps") or fps, **{k: cfg[k] for k in fields if cfg.get(k) is not None}
        )
    except (TypeError, ValueError) as exc:
        raise ValueRangeError(f"invalid network config: {problems(exc)}", path) from None


def build(
    name: str,
    variant: str | None = None,
    pretrained: bool = True,
    weights: Path | None = None,
    data: str = "cmu-mocap",
    **_: Any,
):
    """Registry builder of the learned motion models (module docstring)."""
    from posecast.models.neural import NeuralForecaster, load_pretrained

    if weights is not None:
        return NeuralForecaster.load(weights)
    if pretrained:
        return load_pretrained(name, variant)
    return NeuralForecaster(network_config(name, data), name=name)
