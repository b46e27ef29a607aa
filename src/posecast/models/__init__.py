"""Every model behind one registry, by name: ``posecast.models.get("dct-mlp")``, ``get("phd")``,
``get("charpose")``. `available()` lists the entries (`ModelInfo`), `default_model("motion")` names the
model used when none is given; the weights live in the store (`posecast.models.store`)."""

from posecast.models import catalogue  # noqa: F401  (registers every model)
from posecast.models.base import Forecaster, resolve_frames
from posecast.models.registry import ModelInfo, available, default_model, get, info, register_model

__all__ = ["Forecaster", "ModelInfo", "available", "default_model", "get", "info", "register_model", "resolve_frames"]
