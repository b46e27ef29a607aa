"""Video forecasters by name: ``posecast.video.models.get("phd")`` → a `VideoForecaster` with its
shipped weights (``src/posecast/weights/<name>/<variant>/``).

Adding a model is one entry in `MODELS`: ``name: (module, summary)``. The module is imported only
when the model is asked for, and must define::

    def load(weights: Path | None = None) -> VideoForecaster

where ``weights`` is a directory holding ``model.safetensors`` + ``config.json`` (or the
``model.safetensors`` file itself); ``None`` means the shipped weights (`default_weights`).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from posecast.errors import ModelError
from posecast.video.models.base import VideoForecast, VideoForecaster, VideoPrediction

#: name -> (module defining ``load(weights)``, one-line summary)
MODELS: dict[str, tuple[str, str]] = {
    "phd": ("posecast.video.models.phd", "PHD (Zhang et al. 2019): causal temporal encoder, latent autoregression"),
    "posemonet": ("posecast.video.models.posemonet", "PoseMoNet: pose lifting + motion generation + refinement"),
    "hmmr": ("posecast.video.models.hmmr", "HMMR (Kanazawa et al. 2019): temporal encoder, past/future hallucinator"),
}

WEIGHTS_DIR = Path(__file__).resolve().parent.parent.parent / "weights"


def available() -> list[str]:
    """Names of the registered video models (whether or not they have weights)."""
    return list(MODELS)


def default_weights(name: str) -> Path | None:
    """The shipped weight directory of ``name`` (the first variant, sorted by name), or None."""
    root = WEIGHTS_DIR / name
    if (root / "model.safetensors").is_file():
        return root
    variants = sorted(p for p in root.glob("*") if (p / "model.safetensors").is_file()) if root.is_dir() else []
    return variants[0] if variants else None


def has_weights(name: str) -> bool:
    """True when ``name`` is registered and has shipped weights."""
    return name in MODELS and default_weights(name) is not None


def with_weights() -> list[str]:
    """The registered models that have shipped weights (what the video benchmark runs)."""
    return [n for n in MODELS if has_weights(n)]


def get(name: str, weights: Path | None = None) -> VideoForecaster:
    """Build video model ``name`` with ``weights`` (a directory or ``model.safetensors``; default: shipped)."""
    if name not in MODELS:
        raise ModelError(f"unknown video model {name!r}; available: {', '.join(MODELS)}")
    module_name, _ = MODELS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"video model {name!r} cannot be imported ({exc})") from None
    if weights is None:
        weights = default_weights(name)
        if weights is None:
            raise ModelError(f"video model {name!r} has no shipped weights under {WEIGHTS_DIR / name}")
    weights = Path(weights)
    if weights.is_file():
        weights = weights.parent
    if not (weights / "model.safetensors").is_file():
        raise ModelError(f"no model.safetensors in {weights}")
    return module.load(weights)


__all__ = [
    "MODELS",
    "VideoForecast",
    "VideoForecaster",
    "VideoPrediction",
    "available",
    "default_weights",
    "get",
    "has_weights",
    "with_weights",
]
