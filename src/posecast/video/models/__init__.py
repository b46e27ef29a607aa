"""Video forecasters: 2D keypoint tracks (from a clip or an image) in, 3D past and future out.

Each model module (``phd``, ``posemonet``, ``hmmr``, and the lifter ``lifter``) defines ``build(config)``
(an untrained network), ``FORECASTER`` (its `VideoForecaster` class) and ``load(weights)`` (a
`VideoForecaster` from a weights folder; default: shipped). They are entries of the one model registry
(`posecast.models.catalogue`), which reaches them through `build` here: ``posecast.models.get("phd")``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from posecast.errors import ModelError
from posecast.video.models.base import VideoForecast, VideoForecaster, VideoPrediction

#: registry name -> module defining ``build(config)`` and ``load(weights)``
MODULES: dict[str, str] = {
    "phd": "posecast.video.models.phd",
    "posemonet": "posecast.video.models.posemonet",
    "hmmr": "posecast.video.models.hmmr",
    "lifter": "posecast.video.models.lifter",
}


def module(name: str) -> Any:
    """The module of video model ``name``."""
    if name not in MODULES:
        raise ModelError(f"unknown video model {name!r}; available: {', '.join(MODULES)}")
    try:
        return importlib.import_module(MODULES[name])
    except ImportError as exc:
        raise ModelError(f"video model {name!r} cannot be imported ({exc})") from None


def build(
    name: str, variant: str | None = None, pretrained: bool = True, weights: Path | None = None, **options: Any
) -> VideoForecaster:
    """Registry builder: video model ``name`` with weights folder ``weights``, else its shipped weights
    (``variant`` or the default one); ``pretrained=False``: an untrained network (``options``: its config)."""
    from posecast.models import store

    mod = module(name)
    if weights is None and not pretrained:
        net = mod.build(type(mod.build().config)(**options) if options else None)
        return mod.FORECASTER(net)
    return mod.load(weights if weights is not None else store.shipped(name, variant))


__all__ = ["MODULES", "VideoForecast", "VideoForecaster", "VideoPrediction", "build", "module"]
