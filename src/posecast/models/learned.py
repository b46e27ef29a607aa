"""Registry entries of the learned models: shipped weights, default training configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from posecast.errors import ModelError
from posecast.models.base import ModelInfo, register_model

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

#: registry name -> one-line summary (its network family and defaults are in configs/<name>/<data>.yaml)
LEARNED = {
    "dct-mlp": "siMLPe-class: DCT over time, deep temporal MLP, residual",
    "dct-mlp-ens": "PoseCast's most accurate: the mean of independently trained dct-mlp networks",
    "st-transformer": "ST-Transformer (Aksan et al. 2021): causal temporal + spatial attention, next frame",
    "traj-gcn": "LTD (Mao et al. 2019): DCT trajectories, GCN with learnable adjacency, residual",
    "res-gru": "residual seq2seq GRU (Martinez et al. 2017), sampling-based training",
}


def default_config_path(name: str, data: str = "cmu-mocap") -> Path:
    """The shipped training config of model ``name`` on ``data`` (``configs/<name>/<data>.yaml``)."""
    path = CONFIG_DIR / name / f"{data}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (CONFIG_DIR / name).glob("*.yaml")) if (CONFIG_DIR / name).is_dir() else []
        raise ModelError(f"no default training config for {name!r} on {data!r}; have: {', '.join(known) or 'none'}")
    return path


def _weights_info(name: str) -> list[dict[str, Any]] | None:
    from posecast.models.neural import WEIGHTS_DIR, shipped_variants

    out = []
    for variant in shipped_variants(name):
        meta = json.loads((WEIGHTS_DIR / name / variant / "config.json").read_text())
        cfg = meta.get("config", {})
        out.append(
            {
                "variant": variant,
                "skeleton": cfg.get("skeleton"),
                "fps": cfg.get("fps"),
                "history": cfg.get("history"),
                "card": f"weights/{name}/{variant}/MODEL_CARD.md",
            }
        )
    return out or None


def _factory(name: str):
    def build(pretrained: bool = True, variant: str | None = None, data: str = "cmu-mocap", **_: Any):
        from posecast.models.neural import NeuralConfig, NeuralForecaster, load_pretrained
        from posecast.training.loop import load_config

        if pretrained:
            return load_pretrained(name, variant)
        cfg = load_config(default_config_path(name, data))
        fps = cfg.fps or {"cmu-mocap": 60.0, "cmu-mocap+bvh": 60.0, "cmu-bvh": 25.0}.get(data, 25.0)
        skeleton = {"cmu-mocap": "cmu-mocap-38", "cmu-mocap+bvh": "cmu-mocap-38"}.get(data, "cmu-bvh-31")
        ncfg = NeuralConfig(
            net=cfg.net,
            skeleton=skeleton,
            fps=fps,
            history=cfg.history,
            horizon=cfg.horizon,
            joints=cfg.joints,
            canonical=cfg.canonical,
            params=cfg.params,
        )  # type: ignore[arg-type]
        return NeuralForecaster(ncfg, name=name)

    return build


ROTATION_MODEL = "st-transformer-rot"


def _rotation_factory(**kwargs: Any):
    from posecast.models.st_transformer import build_rotation_variant

    return build_rotation_variant(**kwargs)


def register_learned() -> None:
    for name, summary in LEARNED.items():
        register_model(
            ModelInfo(name, _factory(name), summary, kind="learned", pretrained=lambda n=name: _weights_info(n))
        )
    register_model(
        ModelInfo(
            ROTATION_MODEL,
            _rotation_factory,
            "ST-Transformer rotation variant: joint rotation matrices in, SVD onto SO(3), FK out; "
            "needs a history with rotations",
            kind="learned",
            pretrained=lambda: _weights_info(ROTATION_MODEL),
        )
    )
